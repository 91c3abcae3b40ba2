/* Azure Blob Storage, spoken directly: List Blobs (expat, page by page),
 * Get Blob (ranged), Put Blob, Put Block + Put Block List, Get Blob
 * Properties, Create Container. Every upload carries its MD5; a whole-blob
 * download is checked against the blob's MD5. */
#define _GNU_SOURCE
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "base64.h"
#include "store/azure/rest.h"
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
#define BLOB_BLOCK_MAX (4000ull << 20) /* the service's largest block */

typedef struct blob_store {
    store_t base;
    az_conn_t c;
} blob_store_t;

static int blob_list(store_t *s, const char *prefix, const char *delim, unsigned flags,
                     store_list_fn fn, void *ud, ferr_t *err)
{
    (void)flags; /* no folders of its own */
    blob_store_t *bs = (blob_store_t *)s;
    blob_listing_t p = {0};
    char *marker = NULL;
    int rc = 0;
    long page = az_page_size();
    do {
        char *ep = http_escape(prefix ? prefix : "", 0);
        char *em = marker ? http_escape(marker, 0) : NULL;
        char *ed = delim ? http_escape(delim, 0) : NULL;
        char *url = NULL;
        if (asprintf(&url, "%s?restype=container&comp=list&maxresults=%ld%s%s%s%s%s%s", bs->c.url,
                     page, *ep ? "&prefix=" : "", ep, ed ? "&delimiter=" : "", ed ? ed : "",
                     em ? "&marker=" : "", em ? em : "") < 0)
            url = NULL;
        free(ep);
        free(em);
        free(ed);
        struct curl_slist *h = az_headers(&bs->c, NULL);
        http_req_t t = {.sink = blob_xml_feed, .sink_reset = blob_listing_reset, .sink_ud = &p};
        http_resp_t resp = {0};
        rc = url ? az_request(&bs->c, "GET", url, h, NULL, 0, 0, &t, &resp, err) : -1;
        curl_slist_free_all(h);
        free(url);
        if (rc == 0 && resp.status != 200)
            rc = az_fail(&bs->c, &resp, "listing", NULL, err);
        if (rc == 0 && blob_xml_end(&p.x))
            rc = ferr_set(err, FERR_TRANSFER, "listing %s: the service's reply is not valid XML",
                          bs->c.where);
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
    return az_stat(&((blob_store_t *)s)->c, name, e, err);
}

/* --- Get Blob --- */

static int blob_read(store_t *s, const store_read_t *r, ferr_t *err)
{
    return az_read(&((blob_store_t *)s)->c, r, 1, err);
}

/* --- Put Blob, Put Block, Put Block List --- */

static int put(blob_store_t *bs, const char *url, struct curl_slist *h, const void *body,
               size_t len, const char *what, const char *name, store_put_t *out, ferr_t *err)
{
    http_resp_t resp = {0};
    int rc = az_request(&bs->c, "PUT", url, h, body, len, 1, NULL, &resp, err);
    if (rc == 0 && resp.status != 201)
        rc = az_fail(&bs->c, &resp, what, name, err);
    if (rc == 0 && out)
        snprintf(out->etag, sizeof out->etag, "%s", resp.etag);
    http_resp_dispose(&resp);
    return rc;
}

static int put_block(blob_store_t *bs, const char *name, const char *id, const void *buf,
                     size_t len, const store_block_sums_t *sums, ferr_t *err);
static int commit_blocks(blob_store_t *bs, const char *name, const store_block_id_t *ids,
                         uint32_t n, const char *md5, store_put_t *out, ferr_t *err);

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
        char *md5 = az_md5_b64(buf, (size_t)size);
        struct curl_slist *h = az_headers(&bs->c, NULL);
        h = curl_slist_append(h, "x-ms-blob-type: BlockBlob");
        h = curl_slist_append(h, "Content-Type: application/octet-stream");
        snprintf(hdr, sizeof hdr, "Content-MD5: %s", md5);
        h = curl_slist_append(h, hdr);
        url = az_url(&bs->c, name, NULL);
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
        store_block_sums_t sums = {0};
        digest_of(DIGEST_CRC64, buf, n, sums.crc64);
        store_block_id(ids[i], i, sums.crc64);
        rc = put_block(bs, name, ids[i], buf, n, &sums, err);
        if (rc == 0 && on_bytes)
            on_bytes(ud, n);
    }
    if (rc == 0) {
        unsigned char md[16];
        unsigned int ml = 0;
        EVP_DigestFinal_ex(whole, md, &ml);
        char *b64 = base64_encode(md, ml);
        rc = commit_blocks(bs, name, ids, nblocks, b64 ? b64 : "", out, err);
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

/* What each service said to x-ms-content-crc64 in this run, known by its
 * container's URL (each worker opens a store of its own). The first block
 * to a service asks with its CRC64; until the answer comes, the blocks of
 * the other workers go with their MD5, which every service takes, rather
 * than each be refused and sent twice (as all four 1 MiB blocks of a test
 * were, on strict Azurite). */
enum { CRC64_UNASKED, CRC64_ASKING, CRC64_TAKEN, CRC64_REFUSED };
typedef struct crc64_said {
    char *url;
    int state;
} crc64_said_t;
static pthread_mutex_t said_mu = PTHREAD_MUTEX_INITIALIZER;
static crc64_said_t *said;
static size_t nsaid;

static crc64_said_t *said_of(const char *url) /* with said_mu held */
{
    for (size_t i = 0; i < nsaid; i++)
        if (!strcmp(said[i].url, url))
            return &said[i];
    said = xrealloc(said, (nsaid + 1) * sizeof *said);
    said[nsaid] = (crc64_said_t){xstrdup(url), CRC64_UNASKED};
    return &said[nsaid++];
}

/* Whether the next block to url goes with its CRC64: once taken, or to ask */
static int crc64_send(const char *url)
{
    pthread_mutex_lock(&said_mu);
    crc64_said_t *s = said_of(url);
    int asking = s->state == CRC64_UNASKED;
    if (asking)
        s->state = CRC64_ASKING;
    int send = asking || s->state == CRC64_TAKEN;
    pthread_mutex_unlock(&said_mu);
    return send;
}

/* The answer to a block sent with its CRC64 (an answer that said neither
 * lets the next block ask again); 1 if it is the first refusal */
static int crc64_answer(const char *url, int state)
{
    pthread_mutex_lock(&said_mu);
    crc64_said_t *s = said_of(url);
    int news = state == CRC64_REFUSED && s->state != CRC64_REFUSED;
    if (s->state != CRC64_REFUSED)
        s->state = state;
    pthread_mutex_unlock(&said_mu);
    return news;
}

/* One Put Block with that digest; *refused: the service takes no CRC64 */
static int put_block_once(blob_store_t *bs, const char *name, const char *url, const void *buf,
                          size_t len, const char *hdr, int crc64, int *refused, ferr_t *err)
{
    struct curl_slist *h = curl_slist_append(az_headers(&bs->c, NULL), hdr);
    http_resp_t resp = {0};
    int rc = az_request(&bs->c, "PUT", url, h, buf, len, 1, NULL, &resp, err);
    *refused =
        rc == 0 && crc64 && resp.status >= 400 && !strcmp(resp.error_code, "FeatureNotSupported");
    int state = *refused                        ? CRC64_REFUSED
                : rc == 0 && resp.status == 201 ? CRC64_TAKEN
                                                : CRC64_UNASKED;
    if (crc64 && crc64_answer(bs->c.url, state))
        log_debug("%s takes no x-ms-content-crc64: blocks carry their MD5 instead", bs->c.where);
    if (!*refused && rc == 0 && resp.status != 201)
        rc = az_fail(&bs->c, &resp, "uploading a block of", name, err);
    http_resp_dispose(&resp);
    curl_slist_free_all(h);
    return rc;
}

/* The block's digest goes with it for the service to check: its CRC64
 * (x-ms-content-crc64, what Microsoft's SDKs send by choice today; the same
 * CRC64 names the block, for downloads to check), or its MD5 (Content-MD5)
 * where the service takes no CRC64 (Azurite, unless started --loose,
 * answers 500 FeatureNotSupported: the block goes again with its MD5, and
 * so do the later blocks to it). A block that arrives otherwise is refused
 * (Crc64Mismatch, Md5Mismatch) and sent again. */
static int put_block(blob_store_t *bs, const char *name, const char *id, const void *buf,
                     size_t len, const store_block_sums_t *sums, ferr_t *err)
{
    char *bid = block_id_b64(id);
    char *eid = bid ? http_escape(bid, 0) : NULL;
    char q[160], hdr[128];
    snprintf(q, sizeof q, "comp=block&blockid=%s", eid ? eid : "");
    char *url = az_url(&bs->c, name, q);
    int crc64 = url && eid ? crc64_send(bs->c.url) : 0, rc = -1;
    for (int refused = 1; refused; crc64 = 0) {
        char *sum = crc64 ? base64_encode(sums->crc64, digest_size(DIGEST_CRC64))
                          : az_block_md5_b64(sums, buf, len);
        if (!sum && crc64)
            crc64_answer(bs->c.url, CRC64_UNASKED); /* (not asked after all) */
        snprintf(hdr, sizeof hdr, "%s: %s", crc64 ? "x-ms-content-crc64" : "Content-MD5",
                 sum ? sum : "");
        refused = 0;
        rc = url && eid && sum ? put_block_once(bs, name, url, buf, len, hdr, crc64, &refused, err)
                               : ferr_set(err, FERR_INTERNAL, "out of memory");
        free(sum);
    }
    free(url);
    free(bid);
    free(eid);
    return rc;
}

static int commit_blocks(blob_store_t *bs, const char *name, const store_block_id_t *ids,
                         uint32_t n, const char *md5, store_put_t *out, ferr_t *err)
{
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
    struct curl_slist *h = az_headers(&bs->c, NULL);
    snprintf(hdr, sizeof hdr, "x-ms-blob-content-md5: %s", md5);
    h = curl_slist_append(h, hdr);
    h = curl_slist_append(h, "x-ms-blob-content-type: application/octet-stream");
    h = curl_slist_append(h, "Content-Type: application/xml");
    char *url = az_url(&bs->c, name, "comp=blocklist");
    int rc = put(bs, url, h, list, list_len, "committing the blocks of", name, out, err);
    if (rc == 0)
        snprintf(out->md5, sizeof out->md5, "%s", md5);
    curl_slist_free_all(h);
    free(url);
    free(list);
    return rc;
}

/* Get Block List of name (which: "all" or "committed") into p (reset
 * here; blob_blocklist_done frees it); 0 when the answer is a list, or none
 * (404: *found 0), with the answer's ETag in etag. */
static int get_blocklist(blob_store_t *bs, const char *name, const char *which, blob_blocklist_t *p,
                         int *found, char *etag, size_t etag_n, ferr_t *err)
{
    blob_blocklist_reset(p);
    char q[64];
    snprintf(q, sizeof q, "comp=blocklist&blocklisttype=%s", which);
    char *url = az_url(&bs->c, name, q);
    struct curl_slist *h = az_headers(&bs->c, NULL);
    http_req_t t = {.sink = blob_xml_feed, .sink_reset = blob_blocklist_reset, .sink_ud = p};
    http_resp_t resp = {0};
    int rc = url ? az_request(&bs->c, "GET", url, h, NULL, 0, 0, &t, &resp, err)
                 : ferr_set(err, FERR_INTERNAL, "out of memory");
    curl_slist_free_all(h);
    free(url);
    *found = rc == 0 && resp.status != 404;
    if (rc == 0 && !*found)
        p->n = 0; /* no blob and nothing staged: no blocks */
    else if (rc == 0 && resp.status != 200)
        rc = az_fail(&bs->c, &resp, "listing the blocks of", name, err);
    else if (rc == 0 && blob_xml_end(&p->x))
        rc = ferr_set(err, FERR_TRANSFER, "the block list of %s is not valid XML", name);
    snprintf(etag, etag_n, "%s", rc == 0 ? resp.etag : "");
    http_resp_dispose(&resp);
    return rc;
}

static int blocks(blob_store_t *bs, const char *name, store_block_fn fn, void *ud, ferr_t *err)
{
    blob_blocklist_t p = {0};
    char etag[128];
    int found;
    int rc = get_blocklist(bs, name, "all", &p, &found, etag, sizeof etag, err);
    return blob_blocklist_done(&p, rc, fn, ud);
}

/* --- the blocks' digests, for a download's checks --- */

/* hex: 2 * size hex digits into d */
static int unhex(const char *hex, size_t size, digest_t d)
{
    size_t got = 0;
    memset(d, 0, DIGEST_MAX);
    if (strlen(hex) != 2 * size || OPENSSL_hexstr2buf_ex(d, DIGEST_MAX, &got, hex, '\0') != 1) {
        ERR_clear_error(); /* (not ferry's id: nothing to report) */
        return -1;
    }
    return got == size ? 0 : -1;
}

/* ferry's block ids carry each block's digest ("ferry-<index>-<CRC64>", an
 * earlier ferry's "ferry-<index>-<MD5>", in hex), taken by the uploader from
 * the bytes it sent and checked by the service as the block arrived (Put
 * Block's x-ms-content-crc64, or Content-MD5). Into d. 0 when id is that of
 * block index. */
static int ferry_block_digest(const bentry_t *b, uint32_t index, store_digest_t *d)
{
    char head[16];
    int hl = snprintf(head, sizeof head, "ferry-%05u-", index % 100000);
    if (!b->size || b->len < (size_t)hl || strncmp(b->id, head, (size_t)hl))
        return -1;
    d->kind = b->len == STORE_BLOCK_ID_LEN ? DIGEST_CRC64 : DIGEST_MD5;
    if (b->len != STORE_BLOCK_ID_LEN && b->len != STORE_BLOCK_ID_LEN_MD5)
        return -1;
    return unhex(b->id + hl, digest_size(d->kind), d->sum);
}

/* The committed blocks of version etag, when every one is ferry's, in
 * order, and together they are the blob; else none (n = 0). */
static void digests_of(const blob_blocklist_t *p, uint64_t size, store_digest_t **out, uint32_t *n)
{
    store_digest_t *d = p->n && p->n <= BLOB_MAX_BLOCKS ? xcalloc(p->n, sizeof *d) : NULL;
    uint64_t sum = 0;
    size_t i = 0;
    for (; d && i < p->n; i++) {
        if (!p->v[i].committed || ferry_block_digest(&p->v[i], (uint32_t)i, &d[i]) ||
            d[i].kind != d[0].kind || p->v[i].size > size - sum || p->v[i].size > BLOB_BLOCK_MAX)
            break; /* (sizes that cannot be this blob's: trusted for nothing) */
        d[i].len = p->v[i].size;
        sum += d[i].len;
    }
    if (!d || i < p->n || sum != size) {
        free(d);
        return;
    }
    *out = d;
    *n = (uint32_t)p->n;
}

static int blob_digests(store_t *s, const char *name, const char *etag, uint64_t size,
                        store_digest_t **out, uint32_t *n, ferr_t *err)
{
    (void)err; /* not knowing them costs a check of the whole file instead */
    blob_blocklist_t p = {0};
    char listed[128];
    int found;
    ferr_t e = FERR_INIT;
    int rc =
        get_blocklist((blob_store_t *)s, name, "committed", &p, &found, listed, sizeof listed, &e);
    /* the blocks of the version being read: its ETag comes with the list */
    if (rc == 0 && found && etag && listed[0] && !strcmp(listed, etag))
        digests_of(&p, size, out, n);
    else
        log_debug("%s: no block digests (%s)", name, e.msg ? e.msg : "another version, or none");
    ferr_clear(&e);
    blob_blocklist_done(&p, 0, NULL, NULL);
    return 0;
}

static int blob_put_block(store_t *s, const store_upload_t *u, uint32_t index, const char *id,
                          const void *buf, size_t len, const store_block_sums_t *sums, ferr_t *err)
{
    (void)index; /* the id says where it goes */
    return put_block((blob_store_t *)s, u->name, id, buf, len, sums, err);
}

static int blob_commit_blocks(store_t *s, const store_upload_t *u, const store_block_id_t *ids,
                              uint32_t n, const char *md5, store_put_t *out, ferr_t *err)
{
    return commit_blocks((blob_store_t *)s, u->name, ids, n, md5, out, err);
}

typedef struct held_by_id {
    store_held_fn fn;
    void *ud;
} held_by_id_t;

static int held_by_id(void *ud, const char *id, size_t len, int committed)
{
    held_by_id_t *h = ud;
    return h->fn(h->ud, -1, id, len, committed);
}

/* The blocks the blob holds, committed or staged: an upload reuses them.
 * Not knowing them only costs sending them again. */
static int blob_upload_begin(store_t *s, const store_upload_t *u, store_held_fn fn, void *ud,
                             ferr_t *err)
{
    (void)err;
    held_by_id_t h = {fn, ud};
    ferr_t e = FERR_INIT;
    if (blocks((blob_store_t *)s, u->name, held_by_id, &h, &e) != 0)
        log_debug("%s: cannot list its blocks (%s); sending them all", u->name, e.msg);
    ferr_clear(&e);
    return 0;
}

/* --- Delete Blob --- */

static int blob_remove(store_t *s, const char *name, ferr_t *err)
{
    blob_store_t *bs = (blob_store_t *)s;
    char *url = az_url(&bs->c, name, NULL);
    struct curl_slist *h = az_headers(&bs->c, NULL);
    http_resp_t resp = {0};
    int rc = url ? az_request(&bs->c, "DELETE", url, h, NULL, 0, 0, NULL, &resp, err)
                 : ferr_set(err, FERR_INTERNAL, "out of memory");
    if (rc == 0 && resp.status != 202 && resp.status != 404)
        rc = az_fail(&bs->c, &resp, "removing", name, err);
    curl_slist_free_all(h);
    free(url);
    http_resp_dispose(&resp);
    return rc;
}

/* --- Create Container, access check --- */

static int blob_check(store_t *s, int create, ferr_t *err)
{
    blob_store_t *bs = (blob_store_t *)s;
    struct curl_slist *h = az_headers(&bs->c, NULL);
    char *url = NULL;
    int rc = 0;
    if (create) {
        if (asprintf(&url, "%s?restype=container", bs->c.url) < 0)
            url = NULL;
        http_resp_t resp = {0};
        rc = url ? az_request(&bs->c, "PUT", url, h, "", 0, 1, NULL, &resp, err) : -1;
        if (rc == 0 && resp.status == 201)
            log_info("created container %s", bs->c.where);
        else if (rc == 0 && resp.status != 409)
            rc = az_fail(&bs->c, &resp, "creating the container", bs->c.where, err);
        http_resp_dispose(&resp);
        free(url);
    }
    if (rc == 0) {
        /* one listing entry proves the container exists and the credential can read it */
        if (asprintf(&url, "%s?restype=container&comp=list&maxresults=1", bs->c.url) < 0)
            url = NULL;
        http_resp_t resp = {0};
        rc = url ? az_request(&bs->c, "GET", url, h, NULL, 0, 0, NULL, &resp, err) : -1;
        if (rc == 0 && resp.status != 200)
            rc = az_fail(&bs->c, &resp, "checking access to", bs->c.where, err);
        http_resp_dispose(&resp);
        free(url);
    }
    curl_slist_free_all(h);
    return rc;
}

static void blob_close(store_t *s)
{
    blob_store_t *bs = (blob_store_t *)s;
    az_conn_close(&bs->c);
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
    .upload_begin = blob_upload_begin,
    .list = blob_list,
    .stat = blob_stat,
    .read = blob_read,
    .digests = blob_digests,
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
    if (az_conn_open(&bs->c, ds, "blob", BLOB_API_VERSION, "blob", err)) {
        free(bs);
        return -1;
    }
    *out = &bs->base;
    return 0;
}

static const char *const blob_options[] = {"account",     "container", "endpoint",
                                           "account-url", "protocol",  "ca-file",
                                           "tenant-id",   "client-id", NULL};

const store_backend_t store_backend_azure_blob = {
    .type = "azure_blob",
    .cli_name = "azure-blob",
    .service = "blob",
    .container_word = "container",
    .container_key = "container_name",
    .caps = STORE_CAP_REMOTE | STORE_CAP_LIST | STORE_CAP_RANGED_READS | STORE_CAP_RANGE_MD5 |
            STORE_CAP_PARALLEL_BLOCKS | STORE_CAP_BLOCK_LIST | STORE_CAP_CLONE | STORE_CAP_CHECK |
            STORE_CAP_MD5 | STORE_CAP_CREDENTIAL | STORE_CAP_OPEN_SIZE,
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
