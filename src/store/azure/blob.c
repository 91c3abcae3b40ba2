/* Azure Blob Storage, spoken directly: List Blobs (expat, page by page),
 * Get Blob (ranged), Put Blob, Put Block + Put Block List, Get Blob
 * Properties, Create Container. Every upload carries its MD5; a whole-blob
 * download is checked against the blob's MD5. */
#define _GNU_SOURCE
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "base64.h"
#include "store/azure/auth.h"
#include "store/azure/url.h"
#include "store/azure/blob_xml.h"
#include "http.h"
#include "log.h"
#include "path.h"
#include "store/backend.h"
#include "xalloc.h"

/* The REST API version ferry speaks; Azurite 3.35 and Azure accept it. */
#define BLOB_API_VERSION "2023-11-03"
/* Files up to this size go in one Put Blob; larger ones in blocks of at
 * least this size (grown so that a file needs at most 50,000 blocks). */
#define BLOB_SINGLE_MAX (8u << 20)
#define BLOB_MAX_BLOCKS 50000u

typedef struct blob_store {
    store_t base;
    http_client_t *http;
    auth_t *auth;
    char *url;       /* "<scheme>://<host>[/<account>]/<container>" */
    char *where;     /* "account/container", for messages */
    char *stat_name; /* owns store_entry_t.name from stat */
    char stat_etag[128];
    char stat_md5[64];
} blob_store_t;

/* --- requests --- */

typedef struct signer {
    blob_store_t *bs;
    const char *method, *url;
    const struct curl_slist *headers;
    size_t len;
} signer_t;

static int sign(void *ud, struct curl_slist **extra)
{
    signer_t *s = ud;
    return auth_sign(s->bs->auth, s->method, s->url, s->headers, s->len, extra);
}

static struct curl_slist *std_headers(struct curl_slist *h)
{
    h = curl_slist_append(h, "x-ms-version: " BLOB_API_VERSION);
    return h;
}

/* url: without the SAS; the SAS is added here, the signature covers the rest */
static int request(blob_store_t *bs, const char *method, const char *url, struct curl_slist *h,
                   const void *body, size_t len, int has_body, http_req_t *tmpl, http_resp_t *resp,
                   ferr_t *err)
{
    char *full = auth_url(bs->auth, url);
    if (!full)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    signer_t sg = {bs, method, full, h, has_body ? len : 0};
    http_req_t r = tmpl ? *tmpl : (http_req_t){0};
    r.method = method;
    r.url = full;
    r.headers = h;
    r.body = body;
    r.body_len = len;
    r.has_body = has_body;
    r.prepare = sign;
    r.prepare_ud = &sg;
    int rc = http_do(bs->http, &r, resp, err);
    free(full);
    return rc;
}

static char *blob_url(const blob_store_t *bs, const char *name, const char *query)
{
    char *esc = http_escape(name, 1);
    char *u = NULL;
    if (!esc || asprintf(&u, "%s/%s%s%s", bs->url, esc, query ? "?" : "", query ? query : "") < 0)
        u = NULL;
    free(esc);
    return u;
}

/* The service's own words from an error body: <Message>...</Message>. */
static void service_message(const http_resp_t *resp, char *out, size_t n)
{
    out[0] = 0;
    if (!resp->body)
        return;
    const char *m = strstr(resp->body, "<Message>");
    if (!m)
        return;
    m += 9;
    const char *e = strstr(m, "</Message>");
    const char *nl = strchr(m, '\n');
    if (nl && (!e || nl < e))
        e = nl;
    size_t l = e ? (size_t)(e - m) : strlen(m);
    if (l >= n)
        l = n - 1;
    memcpy(out, m, l);
    out[l] = 0;
}

static int fail_status(blob_store_t *bs, const http_resp_t *resp, const char *what,
                       const char *name, ferr_t *err)
{
    char msg[512];
    service_message(resp, msg, sizeof msg);
    const char *code = resp->error_code[0] ? resp->error_code : "";
    if (resp->status == 403 || resp->status == 401) {
        const char *hint = auth_kind(bs->auth) == CRED_SAS_TOKEN
                               ? "the SAS token may be wrong, expired, or lack this permission"
                           : auth_kind(bs->auth) == CRED_ACCOUNT_KEY
                               ? "the account key may be wrong"
                               : "the container may not allow anonymous access; give a key or "
                                 "SAS token";
        return ferr_set(err, FERR_TRANSFER, "%s %s: access denied by %s (%ld %s) with %s: %s", what,
                        name ? name : bs->where, bs->where, resp->status, code,
                        auth_describe(bs->auth), hint);
    }
    if (resp->status == 404) {
        if (!strcmp(code, "ContainerNotFound"))
            return ferr_set(err, FERR_NOTFOUND,
                            "container %s does not exist (register the datastore with "
                            "--create-if-not-exists to create it)",
                            bs->where);
        return ferr_set(err, FERR_NOTFOUND, "%s: no blob '%s' in %s", what, name ? name : "",
                        bs->where);
    }
    return ferr_set(err, FERR_TRANSFER, "%s %s in %s: HTTP %ld %s%s%s", what, name ? name : "",
                    bs->where, resp->status, code, msg[0] ? ": " : "", msg);
}

static int blob_list(store_t *s, const char *prefix, const char *delim, store_list_fn fn, void *ud,
                     ferr_t *err)
{
    blob_store_t *bs = (blob_store_t *)s;
    blob_listing_t p = {0};
    char *marker = NULL;
    int rc = 0;
    /* FERRY_LIST_PAGE_SIZE: entries per List Blobs page (the service's maximum by default) */
    const char *ps = getenv("FERRY_LIST_PAGE_SIZE");
    long page = ps && atol(ps) > 0 && atol(ps) <= 5000 ? atol(ps) : 5000;
    do {
        char *ep = http_escape(prefix ? prefix : "", 0);
        char *em = marker ? http_escape(marker, 0) : NULL;
        char *ed = delim ? http_escape(delim, 0) : NULL;
        char *url = NULL;
        if (asprintf(&url, "%s?restype=container&comp=list&maxresults=%ld%s%s%s%s%s%s", bs->url,
                     page, *ep ? "&prefix=" : "", ep, ed ? "&delimiter=" : "", ed ? ed : "",
                     em ? "&marker=" : "", em ? em : "") < 0)
            url = NULL;
        free(ep);
        free(em);
        free(ed);
        struct curl_slist *h = std_headers(NULL);
        http_req_t t = {.sink = blob_xml_feed, .sink_reset = blob_listing_reset, .sink_ud = &p};
        http_resp_t resp = {0};
        rc = url ? request(bs, "GET", url, h, NULL, 0, 0, &t, &resp, err) : -1;
        curl_slist_free_all(h);
        free(url);
        if (rc == 0 && resp.status != 200)
            rc = fail_status(bs, &resp, "listing", NULL, err);
        if (rc == 0 && blob_xml_end(&p.x))
            rc = ferr_set(err, FERR_TRANSFER, "listing %s: the service's reply is not valid XML",
                          bs->where);
        http_resp_dispose(&resp);
        /* hand out the page only once it is whole (a retried page is not repeated) */
        if (rc == 0)
            rc = blob_listing_hand_out(&p, fn, ud);
        free(marker);
        marker = p.next_marker && *p.next_marker ? xstrdup(p.next_marker) : NULL;
    } while (rc == 0 && marker);
    free(marker);
    blob_listing_free(&p);
    return rc;
}

/* --- Get Blob Properties --- */

static int blob_stat(store_t *s, const char *name, store_entry_t *e, ferr_t *err)
{
    blob_store_t *bs = (blob_store_t *)s;
    char *url = blob_url(bs, name, NULL);
    struct curl_slist *h = std_headers(NULL);
    http_resp_t resp = {0};
    int rc = url ? request(bs, "HEAD", url, h, NULL, 0, 0, NULL, &resp, err) : -1;
    curl_slist_free_all(h);
    free(url);
    if (rc == 0 && resp.status == 404) {
        rc = ferr_set(err, FERR_NOTFOUND, "no blob '%s' in %s", name, bs->where);
    } else if (rc == 0 && resp.status != 200) {
        rc = fail_status(bs, &resp, "reading properties of", name, err);
    } else if (rc == 0) {
        free(bs->stat_name);
        bs->stat_name = xstrdup(name);
        snprintf(bs->stat_etag, sizeof bs->stat_etag, "%s", resp.etag);
        snprintf(bs->stat_md5, sizeof bs->stat_md5, "%s", resp.content_md5);
        e->name = bs->stat_name;
        e->size = resp.content_length;
        e->mtime = parse_http_date(resp.last_modified);
        e->etag = bs->stat_etag;
        e->md5 = bs->stat_md5[0] ? bs->stat_md5 : NULL;
    }
    http_resp_dispose(&resp);
    return rc;
}

/* --- Get Blob --- */

#define RSINK_BUF (1u << 20)

/* Bytes are gathered into 1 MiB writes: many threads writing one file
 * contend on its inode lock, fewer and larger writes contend less. */
typedef struct rsink {
    int fd;
    uint64_t start, off; /* off: bytes received so far end here */
    uint64_t len;        /* bytes asked for: a server sending more is refused */
    int over;
    char *buf;
    size_t used;
    EVP_MD_CTX *md5;
    store_bytes_fn on_bytes;
    void *ud;
    int werr;
    uint64_t reported;
} rsink_t;

static void rsink_reset(void *ud)
{
    rsink_t *r = ud;
    r->off = r->start;
    r->used = 0;
    r->over = 0;
    if (r->md5)
        EVP_DigestInit_ex(r->md5, EVP_md5(), NULL);
}

static int rsink_flush(rsink_t *r)
{
    size_t done = 0;
    uint64_t at = r->off - r->used;
    while (done < r->used) {
        ssize_t w = pwrite(r->fd, r->buf + done, r->used - done, (off_t)(at + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            r->werr = errno;
            return -1;
        }
        done += (size_t)w;
    }
    r->used = 0;
    return 0;
}

static size_t rsink_write(void *ud, const char *p, size_t n)
{
    rsink_t *r = ud;
    if (r->off - r->start + n > r->len) {
        r->over = 1; /* a range ignored: never write past what was asked */
        return 0;
    }
    if (r->md5)
        EVP_DigestUpdate(r->md5, p, n);
    size_t taken = 0;
    while (taken < n) {
        size_t k = RSINK_BUF - r->used < n - taken ? RSINK_BUF - r->used : n - taken;
        memcpy(r->buf + r->used, p + taken, k);
        r->used += k;
        r->off += k;
        taken += k;
        if (r->used == RSINK_BUF && rsink_flush(r))
            return 0;
    }
    /* progress counts bytes once, even when a try is repeated */
    uint64_t got = r->off - r->start;
    if (got > r->reported && r->on_bytes) {
        r->on_bytes(r->ud, got - r->reported);
        r->reported = got;
    }
    return n;
}

static int blob_read(store_t *s, const char *name, const char *etag, uint64_t off, uint64_t len,
                     int fd, uint64_t fd_off, store_bytes_fn on_bytes, void *ud, ferr_t *err)
{
    blob_store_t *bs = (blob_store_t *)s;
    if (len == 0)
        return 0;
    char *url = blob_url(bs, name, NULL);
    char range[96];
    snprintf(range, sizeof range, "x-ms-range: bytes=%llu-%llu", (unsigned long long)off,
             (unsigned long long)(off + len - 1));
    struct curl_slist *h = std_headers(NULL);
    h = curl_slist_append(h, range);
    if (etag && *etag) {
        char im[160];
        snprintf(im, sizeof im, "If-Match: %s", etag);
        h = curl_slist_append(h, im);
    }
    rsink_t rs = {
        .fd = fd, .start = fd_off, .off = fd_off, .len = len, .on_bytes = on_bytes, .ud = ud};
    /* only a read from the start can be the whole blob, worth hashing here;
     * the engine checks the blocks of a large file itself */
    if (off == 0)
        rs.md5 = EVP_MD_CTX_new();
    rs.buf = xmalloc(len < RSINK_BUF ? (size_t)len : RSINK_BUF);
    if (!rs.buf) {
        curl_slist_free_all(h);
        free(url);
        if (rs.md5)
            EVP_MD_CTX_free(rs.md5);
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    }
    http_req_t t = {.sink = rsink_write, .sink_reset = rsink_reset, .sink_ud = &rs};
    http_resp_t resp = {0};
    int rc = url ? request(bs, "GET", url, h, NULL, 0, 0, &t, &resp, err) : -1;
    curl_slist_free_all(h);
    free(url);
    if (rc == 0 && rs.used)
        rsink_flush(&rs);
    free(rs.buf);
    if (rs.werr)
        rc = ferr_errno(err, FERR_IO, rs.werr, "writing %s", name);
    else if (rs.over)
        rc = ferr_set(err, FERR_TRANSFER,
                      "downloading %s: the service sent more than the %llu bytes asked for", name,
                      (unsigned long long)len);
    else if (rc == 0 && resp.status == 412)
        rc = ferr_set(err, FERR_TRANSFER,
                      "'%s' changed in the datastore while it was being read (it is no longer "
                      "ETag %s); run again to fetch the new content",
                      name, etag);
    else if (rc == 0 && resp.status != 200 && resp.status != 206)
        rc = fail_status(bs, &resp, "downloading", name, err);
    else if (rc == 0 && rs.off - fd_off != len)
        rc = ferr_set(err, FERR_TRANSFER, "downloading %s: got %llu bytes of %llu", name,
                      (unsigned long long)(rs.off - fd_off), (unsigned long long)len);
    /* the whole blob was read: it must match the MD5 the blob carries */
    const char *want = resp.blob_md5[0] ? resp.blob_md5 : resp.content_md5;
    int whole = off == 0 && (!resp.has_range || resp.range_total == len);
    if (rc == 0 && whole && *want && rs.md5) {
        unsigned char md[16];
        unsigned int ml = 0;
        EVP_DigestFinal_ex(rs.md5, md, &ml);
        char *got = base64_encode(md, ml);
        if (got && strcmp(got, want))
            rc = ferr_set(err, FERR_TRANSFER,
                          "content does not match the blob's MD5 (%s, got %s); the file was not "
                          "kept",
                          want, got);
        else
            log_trace("%s: MD5 %s verified", name, want);
        free(got);
    }
    if (rs.md5)
        EVP_MD_CTX_free(rs.md5);
    http_resp_dispose(&resp);
    return rc;
}

/* --- Put Blob, Put Block, Put Block List --- */

static char *md5_b64(const void *p, size_t n)
{
    unsigned char md[16];
    unsigned int ml = 0;
    EVP_Digest(p, n, md, &ml, EVP_md5(), NULL);
    return base64_encode(md, ml);
}

static int put(blob_store_t *bs, const char *url, struct curl_slist *h, const void *body,
               size_t len, const char *what, const char *name, store_put_t *out, ferr_t *err)
{
    http_resp_t resp = {0};
    int rc = request(bs, "PUT", url, h, body, len, 1, NULL, &resp, err);
    if (rc == 0 && resp.status != 201)
        rc = fail_status(bs, &resp, what, name, err);
    if (rc == 0 && out)
        snprintf(out->etag, sizeof out->etag, "%s", resp.etag);
    http_resp_dispose(&resp);
    return rc;
}

static int blob_put_block(store_t *s, const char *name, const char *id, const void *buf, size_t len,
                          const unsigned char md5[16], ferr_t *err);
static int blob_commit_blocks(store_t *s, const char *name, const store_block_id_t *ids, uint32_t n,
                              const char *md5, store_put_t *out, ferr_t *err);

static int blob_write(store_t *s, const char *name, int fd, uint64_t size, store_bytes_fn on_bytes,
                      void *ud, store_put_t *out, ferr_t *err)
{
    out->etag[0] = out->md5[0] = 0;
    blob_store_t *bs = (blob_store_t *)s;
    uint64_t block = BLOB_SINGLE_MAX;
    if (size > (uint64_t)block * BLOB_MAX_BLOCKS) {
        block = (size + BLOB_MAX_BLOCKS - 1) / BLOB_MAX_BLOCKS;
        block = (block + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
    }
    size_t bufsz = (size_t)(size < block ? size : block);
    char *buf = xmalloc(bufsz ? bufsz : 1);
    char *url = NULL, hdr[128];
    int rc = -1;
    if (!buf)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    if (size <= BLOB_SINGLE_MAX) {
        if (size && path_pread_full(fd, buf, (size_t)size, 0)) {
            rc = ferr_errno(err, FERR_IO, errno ? errno : EIO, "reading the file for %s", name);
            goto out;
        }
        char *md5 = md5_b64(buf, (size_t)size);
        struct curl_slist *h = std_headers(NULL);
        h = curl_slist_append(h, "x-ms-blob-type: BlockBlob");
        h = curl_slist_append(h, "Content-Type: application/octet-stream");
        snprintf(hdr, sizeof hdr, "Content-MD5: %s", md5);
        h = curl_slist_append(h, hdr);
        url = blob_url(bs, name, NULL);
        rc = put(bs, url, h, buf, (size_t)size, "uploading", name, out, err);
        curl_slist_free_all(h);
        if (rc == 0)
            snprintf(out->md5, sizeof out->md5, "%s", md5);
        free(md5);
        if (rc == 0 && on_bytes)
            on_bytes(ud, size);
        goto out;
    }
    /* blocks, one after another (the engine does them in parallel through
     * put_block/commit_blocks; this is for callers without it) */
    EVP_MD_CTX *whole = EVP_MD_CTX_new();
    EVP_DigestInit_ex(whole, EVP_md5(), NULL);
    uint32_t nblocks = (uint32_t)((size + block - 1) / block);
    store_block_id_t *ids = xcalloc(nblocks, sizeof *ids);
    rc = ids ? 0 : ferr_set(err, FERR_INTERNAL, "out of memory");
    for (uint32_t i = 0; i < nblocks && rc == 0; i++) {
        uint64_t off = (uint64_t)i * block;
        size_t n = (size_t)(size - off < block ? size - off : block);
        if (path_pread_full(fd, buf, n, off)) {
            rc = ferr_errno(err, FERR_IO, errno ? errno : EIO, "reading the file for %s", name);
            break;
        }
        EVP_DigestUpdate(whole, buf, n);
        unsigned char bmd[16];
        EVP_Digest(buf, n, bmd, NULL, EVP_md5(), NULL);
        store_block_id(ids[i], i, bmd);
        rc = blob_put_block(s, name, ids[i], buf, n, bmd, err);
        if (rc == 0 && on_bytes)
            on_bytes(ud, n);
    }
    if (rc == 0) {
        unsigned char md[16];
        unsigned int ml = 0;
        EVP_DigestFinal_ex(whole, md, &ml);
        char *b64 = base64_encode(md, ml);
        rc = blob_commit_blocks(s, name, ids, nblocks, b64 ? b64 : "", out, err);
        free(b64);
    }
    free(ids);
    EVP_MD_CTX_free(whole);
out:
    free(url);
    free(buf);
    return rc;
}

/* --- blocks, for the engine's parallel uploads --- */

static char *block_id_b64(const char *id)
{
    return base64_encode((const unsigned char *)id, strlen(id));
}

static int blob_put_block(store_t *s, const char *name, const char *id, const void *buf, size_t len,
                          const unsigned char md5[16], ferr_t *err)
{
    blob_store_t *bs = (blob_store_t *)s;
    char *bid = block_id_b64(id);
    char *eid = bid ? http_escape(bid, 0) : NULL;
    char *md5b = base64_encode(md5, 16);
    char q[160], hdr[128];
    snprintf(q, sizeof q, "comp=block&blockid=%s", eid ? eid : "");
    char *url = blob_url(bs, name, q);
    struct curl_slist *h = std_headers(NULL);
    snprintf(hdr, sizeof hdr, "Content-MD5: %s", md5b ? md5b : "");
    h = curl_slist_append(h, hdr);
    int rc = url && md5b && eid ? put(bs, url, h, buf, len, "uploading a block of", name, NULL, err)
                                : ferr_set(err, FERR_INTERNAL, "out of memory");
    curl_slist_free_all(h);
    free(md5b);
    free(url);
    free(bid);
    free(eid);
    return rc;
}

static int blob_commit_blocks(store_t *s, const char *name, const store_block_id_t *ids, uint32_t n,
                              const char *md5, store_put_t *out, ferr_t *err)
{
    blob_store_t *bs = (blob_store_t *)s;
    char *list = NULL, hdr[128];
    size_t list_len = 0;
    FILE *lf = open_memstream(&list, &list_len);
    if (!lf)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    fputs("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>", lf);
    for (uint32_t i = 0; i < n; i++) {
        char *id = block_id_b64(ids[i]);
        /* Latest: the block staged now, or, when this upload used one the
         * blob already holds, that one */
        fprintf(lf, "<Latest>%s</Latest>", id ? id : "");
        free(id);
    }
    fputs("</BlockList>", lf);
    fclose(lf);
    struct curl_slist *h = std_headers(NULL);
    snprintf(hdr, sizeof hdr, "x-ms-blob-content-md5: %s", md5);
    h = curl_slist_append(h, hdr);
    h = curl_slist_append(h, "x-ms-blob-content-type: application/octet-stream");
    h = curl_slist_append(h, "Content-Type: application/xml");
    char *url = blob_url(bs, name, "comp=blocklist");
    int rc = put(bs, url, h, list, list_len, "committing the blocks of", name, out, err);
    if (rc == 0)
        snprintf(out->md5, sizeof out->md5, "%s", md5);
    curl_slist_free_all(h);
    free(url);
    free(list);
    return rc;
}

static int blob_blocks(store_t *s, const char *name, store_block_fn fn, void *ud, ferr_t *err)
{
    blob_store_t *bs = (blob_store_t *)s;
    blob_blocklist_t p = {0};
    blob_blocklist_reset(&p);
    char *url = blob_url(bs, name, "comp=blocklist&blocklisttype=all");
    struct curl_slist *h = std_headers(NULL);
    http_req_t t = {.sink = blob_xml_feed, .sink_reset = blob_blocklist_reset, .sink_ud = &p};
    http_resp_t resp = {0};
    int rc = url ? request(bs, "GET", url, h, NULL, 0, 0, &t, &resp, err)
                 : ferr_set(err, FERR_INTERNAL, "out of memory");
    curl_slist_free_all(h);
    free(url);
    if (rc == 0 && resp.status == 404)
        p.n = 0; /* no blob and nothing staged: no blocks */
    else if (rc == 0 && resp.status != 200)
        rc = fail_status(bs, &resp, "listing the blocks of", name, err);
    else if (rc == 0 && blob_xml_end(&p.x))
        rc = ferr_set(err, FERR_TRANSFER, "the block list of %s is not valid XML", name);
    http_resp_dispose(&resp);
    return blob_blocklist_done(&p, rc, fn, ud);
}

/* --- Delete Blob --- */

static int blob_remove(store_t *s, const char *name, ferr_t *err)
{
    blob_store_t *bs = (blob_store_t *)s;
    char *url = blob_url(bs, name, NULL);
    struct curl_slist *h = std_headers(NULL);
    http_resp_t resp = {0};
    int rc = url ? request(bs, "DELETE", url, h, NULL, 0, 0, NULL, &resp, err)
                 : ferr_set(err, FERR_INTERNAL, "out of memory");
    if (rc == 0 && resp.status != 202 && resp.status != 404)
        rc = fail_status(bs, &resp, "removing", name, err);
    curl_slist_free_all(h);
    free(url);
    http_resp_dispose(&resp);
    return rc;
}

/* --- Create Container, access check --- */

static int blob_check(store_t *s, int create, ferr_t *err)
{
    blob_store_t *bs = (blob_store_t *)s;
    struct curl_slist *h = std_headers(NULL);
    char *url = NULL;
    int rc = 0;
    if (create) {
        if (asprintf(&url, "%s?restype=container", bs->url) < 0)
            url = NULL;
        http_resp_t resp = {0};
        rc = url ? request(bs, "PUT", url, h, "", 0, 1, NULL, &resp, err) : -1;
        if (rc == 0 && resp.status == 201)
            log_info("created container %s", bs->where);
        else if (rc == 0 && resp.status != 409)
            rc = fail_status(bs, &resp, "creating the container", bs->where, err);
        http_resp_dispose(&resp);
        free(url);
    }
    if (rc == 0) {
        /* one listing entry proves the container exists and the credential can read it */
        if (asprintf(&url, "%s?restype=container&comp=list&maxresults=1", bs->url) < 0)
            url = NULL;
        http_resp_t resp = {0};
        rc = url ? request(bs, "GET", url, h, NULL, 0, 0, NULL, &resp, err) : -1;
        if (rc == 0 && resp.status != 200)
            rc = fail_status(bs, &resp, "checking access to", bs->where, err);
        http_resp_dispose(&resp);
        free(url);
    }
    curl_slist_free_all(h);
    return rc;
}

static void blob_close(store_t *s)
{
    blob_store_t *bs = (blob_store_t *)s;
    http_client_free(bs->http);
    auth_free(bs->auth);
    free(bs->url);
    free(bs->where);
    free(bs->stat_name);
    free(bs);
}

static int blob_open(store_t **out, const datastore_t *ds, ferr_t *err);

static int blob_clone(store_t *s, store_t **out, ferr_t *err)
{
    return blob_open(out, s->ds, err);
}

static const struct store_ops blob_ops = {
    .clone = blob_clone,
    .put_block = blob_put_block,
    .commit_blocks = blob_commit_blocks,
    .blocks = blob_blocks,
    .list = blob_list,
    .stat = blob_stat,
    .read = blob_read,
    .write = blob_write,
    .check = blob_check,
    .remove = blob_remove,
    .close = blob_close,
};

static int blob_open(store_t **out, const datastore_t *ds, ferr_t *err)
{
    *out = NULL;
    blob_store_t *bs = xcalloc(1, sizeof *bs);
    bs->base.ops = &blob_ops;
    bs->base.ds = ds;
    int rc;
    if (ds->account_url) {
        size_t l = strlen(ds->account_url);
        while (l && ds->account_url[l - 1] == '/')
            l--;
        rc = asprintf(&bs->url, "%.*s/%s", (int)l, ds->account_url, ds->container);
    } else {
        rc = asprintf(&bs->url, "%s://%s.blob.%s/%s", ds->protocol ? ds->protocol : "https",
                      ds->account, ds->endpoint ? ds->endpoint : "core.windows.net", ds->container);
    }
    if (rc < 0 || asprintf(&bs->where, "%s/%s", ds->account, ds->container) < 0) {
        blob_close(&bs->base);
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    }
    if (auth_new(&bs->auth, ds, err) || http_client_new(&bs->http, ds->ca_file, err)) {
        blob_close(&bs->base);
        return -1;
    }
    *out = &bs->base;
    return 0;
}

static const char *const blob_options[] = {"account",  "container", "endpoint", "account-url",
                                           "protocol", "ca-file",   NULL};

const store_backend_t store_backend_azure_blob = {
    .type = "azure_blob",
    .cli_name = "azure-blob",
    .service = "blob",
    .container_word = "container",
    .container_key = "container_name",
    .caps = STORE_CAP_REMOTE | STORE_CAP_PARALLEL_BLOCKS | STORE_CAP_BLOCK_LIST | STORE_CAP_CLONE |
            STORE_CAP_CHECK | STORE_CAP_MD5 | STORE_CAP_CREDENTIAL,
    .options = blob_options,
    .usage = "--account A --container C",
    .from_options = azure_from_options,
    .validate = azure_validate,
    .url_parse = azure_url_parse_ds,
    .same_place = azure_same_place,
    .url_forms = "Azure Blob URLs (https://<account>.blob.core.windows.net/<container>/<path>, "
                 "wasbs://...)",
    .open = blob_open,
};
