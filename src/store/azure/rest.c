/* The Azure backends' common ground (rest.h): signed requests, errors in
 * words, ranged reads hashed as they stream. */
#define _GNU_SOURCE
#include "store/azure/rest.h"
#include "store/azure/blob_xml.h"
#include "store/backend.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base64.h"
#include "log.h"
#include "xalloc.h"

int az_conn_open(az_conn_t *c, const datastore_t *ds, const char *service, const char *version,
                 const char *noun, ferr_t *err)
{
    memset(c, 0, sizeof *c);
    c->version = version;
    c->noun = noun;
    c->file = !strcmp(service, "file");
    c->word = ds->backend->container_word;
    int rc;
    if (ds->account_url) {
        size_t l = strlen(ds->account_url);
        while (l && ds->account_url[l - 1] == '/')
            l--;
        rc = asprintf(&c->url, "%.*s/%s", (int)l, ds->account_url, ds->container);
    } else {
        rc = asprintf(&c->url, "%s://%s.%s.%s/%s", ds->protocol ? ds->protocol : "https",
                      ds->account, service, ds->endpoint ? ds->endpoint : "core.windows.net",
                      ds->container);
    }
    if (rc < 0 || asprintf(&c->where, "%s/%s", ds->account, ds->container) < 0) {
        az_conn_close(c);
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    }
    if (auth_new(&c->auth, ds, err) || http_client_new(&c->http, ds->ca_file, err)) {
        az_conn_close(c);
        return -1;
    }
    return 0;
}

void az_conn_close(az_conn_t *c)
{
    http_client_free(c->http);
    auth_free(c->auth);
    free(c->url);
    free(c->where);
    free(c->stat_name);
    memset(c, 0, sizeof *c);
}

char *az_url(const az_conn_t *c, const char *name, const char *query)
{
    char *esc = http_escape(name ? name : "", 1);
    char *u = NULL;
    if (!esc || asprintf(&u, "%s%s%s%s%s", c->url, name ? "/" : "", esc, query ? "?" : "",
                         query ? query : "") < 0)
        u = NULL;
    free(esc);
    return u;
}

struct curl_slist *az_headers(const az_conn_t *c, struct curl_slist *h)
{
    char v[64];
    snprintf(v, sizeof v, "x-ms-version: %s", c->version);
    return curl_slist_append(h, v);
}

typedef struct signer {
    const az_conn_t *c;
    const char *method, *url;
    size_t len;
} signer_t;

static int sign(void *ud, const struct curl_slist *headers, struct curl_slist **extra, ferr_t *err)
{
    signer_t *s = ud;
    return auth_sign(s->c->auth, s->method, s->url, headers, s->len, extra, err);
}

int az_request(az_conn_t *c, const char *method, const char *url, struct curl_slist *h,
               const void *body, size_t len, int has_body, const http_req_t *tmpl,
               http_resp_t *resp, ferr_t *err)
{
    if (!url)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    char *full = auth_url(c->auth, url);
    if (!full)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    if (c->file && auth_bearer(c->auth))
        /* Azure Files takes a token only for this intent, with admin-level access */
        h = curl_slist_append(h, "x-ms-file-request-intent: backup");
    signer_t sg = {c, method, full, has_body ? len : 0};
    http_req_t r = tmpl ? *tmpl : (http_req_t){0};
    r.method = method;
    r.url = full;
    r.headers = h;
    r.body = body;
    r.body_len = len;
    r.has_body = has_body;
    r.prepare = sign;
    r.prepare_ud = &sg;
    int rc = http_do(c->http, &r, resp, err);
    /* a token the service finds expired (clocks differ) or revoked: once
     * more with a new one */
    int refused = resp->status == 401 ||
                  (resp->status == 403 && !strcmp(resp->error_code, "AuthenticationFailed"));
    if (rc == 0 && refused && auth_refused(c->auth)) {
        log_debug("%s %s: the token was refused (%ld %s); once more with a new one", method,
                  c->where, resp->status, resp->error_code);
        http_resp_dispose(resp);
        rc = http_do(c->http, &r, resp, err);
    }
    free(full);
    return rc;
}

/* The service's own words from an error body: <Message>...</Message>. */
static void service_message(const http_resp_t *resp, char *out, size_t n)
{
    out[0] = 0;
    if (!resp->body)
        return;
    if (resp->body[0] == '{') {
        /* the dfs endpoint's: {"error":{"code":"...","message":"..."}} */
        cJSON *o = cJSON_ParseWithLength(resp->body, resp->body_len);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(o, "error"), "message");
        if (cJSON_IsString(m))
            snprintf(out, n, "%.*s", (int)strcspn(m->valuestring, "\r\n"), m->valuestring);
        cJSON_Delete(o);
        return;
    }
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

static int is_container_missing(const char *code)
{
    return !strcmp(code, "ContainerNotFound") || !strcmp(code, "ShareNotFound") ||
           !strcmp(code, "FilesystemNotFound");
}

int az_fail(const az_conn_t *c, const http_resp_t *resp, const char *what, const char *name,
            ferr_t *err)
{
    char msg[512];
    service_message(resp, msg, sizeof msg);
    const char *code = resp->error_code[0] ? resp->error_code : "";
    if (resp->status == 403 || resp->status == 401) {
        cred_kind_t k = auth_kind(c->auth);
        const char *hint =
            k == CRED_SAS_TOKEN     ? "the SAS token may be wrong, expired, or lack this permission"
            : k == CRED_ACCOUNT_KEY ? "the account key may be wrong"
            : k >= CRED_CLIENT_SECRET
                ? "the identity may lack a data role on the account (such as Storage Blob Data "
                  "Contributor), or the service refused its token"
                : "it may not allow anonymous access; give a key or SAS token";
        return ferr_set(err, FERR_TRANSFER, "%s %s: access denied by %s (%ld %s) with %s: %s", what,
                        name ? name : c->where, c->where, resp->status, code,
                        auth_describe(c->auth), hint);
    }
    if (resp->status == 404) {
        if (is_container_missing(code))
            return ferr_set(err, FERR_NOTFOUND,
                            "%s %s does not exist (register the datastore with "
                            "--create-if-not-exists to create it)",
                            c->word, c->where);
        return ferr_set(err, FERR_NOTFOUND, "%s: no %s '%s' in %s", what, c->noun, name ? name : "",
                        c->where);
    }
    return ferr_set(err, FERR_TRANSFER, "%s %s in %s: HTTP %ld %s%s%s", what, name ? name : "",
                    c->where, resp->status, code, msg[0] ? ": " : "", msg);
}

/* The whole object was read: it must match the MD5 it carries. got: the
 * bytes' MD5, or NULL when they were not hashed. */
static int check_whole(const az_conn_t *c, const store_read_t *r, const http_resp_t *resp,
                       const unsigned char *got, ferr_t *err)
{
    const char *want = resp->whole_md5[0] ? resp->whole_md5 : resp->content_md5;
    int whole = r->off == 0 && (!resp->has_range || resp->range_total == r->len);
    if (!whole || !got || store_check_md5() == CHECK_NONE)
        return 0;
    if (!*want) /* (FailIfDifferentOrMissing refuses it) */
        return store_md5_verdict(r->name, c->noun, NULL, NULL, err);
    char *b64 = base64_encode(got, 16);
    int rc = store_md5_verdict(r->name, c->noun, want, b64, err);
    if (rc == 0 && b64 && !strcmp(b64, want))
        log_trace("%s: MD5 %s verified", r->name, want);
    free(b64);
    return rc;
}

/* The MD5 the service gave for the range read (Content-MD5), as 16 bytes */
static int range_md5_of(const http_resp_t *resp, unsigned char out[16])
{
    unsigned char md[24];
    size_t n = 0;
    if (!resp->content_md5[0] || base64_decode(resp->content_md5, md, sizeof md, &n) || n != 16)
        return -1;
    memcpy(out, md, 16);
    return 0;
}

static int read_outcome(const az_conn_t *c, const store_read_t *r, int if_match,
                        const http_resp_t *resp, http_fdsink_t *rs, int rc, ferr_t *err)
{
    if (rs->werr)
        return ferr_errno(err, FERR_IO, rs->werr, "writing %s", r->name);
    if (rs->over)
        return ferr_set(err, FERR_TRANSFER,
                        "downloading %s: the service sent more than the %llu bytes asked for",
                        r->name, (unsigned long long)r->len);
    if (rc)
        return rc;
    int changed = resp->status == 412 ||
                  (r->etag && *r->etag && !if_match && resp->etag[0] &&
                   strcmp(resp->etag, r->etag) && (resp->status == 200 || resp->status == 206));
    if (changed)
        return ferr_set(err, FERR_TRANSFER,
                        "'%s' changed in the datastore while it was being read (it is no longer "
                        "ETag %s); run again to fetch the new content",
                        r->name, r->etag);
    if (resp->status != 200 && resp->status != 206)
        return az_fail(c, resp, "downloading", r->name, err);
    if (rs->off - r->fd_off != r->len)
        return ferr_set(err, FERR_TRANSFER, "downloading %s: got %llu bytes of %llu", r->name,
                        (unsigned long long)(rs->off - r->fd_off), (unsigned long long)r->len);
    unsigned char got[16];
    if (r->segs)
        http_fdsink_segments_end(rs);
    int hashed = !r->segs && http_fdsink_md5(rs, got) == 0;
    if (hashed && r->md5)
        memcpy(r->md5, got, 16);
    if (r->range_md5 && range_md5_of(resp, r->range_md5) != 0)
        return ferr_set(err, FERR_UNSUPPORTED,
                        "downloading %s: the service sent no MD5 for bytes %llu-%llu, though "
                        "asked (x-ms-range-get-content-md5)",
                        r->name, (unsigned long long)r->off,
                        (unsigned long long)(r->off + r->len - 1));
    return check_whole(c, r, resp, hashed ? got : NULL, err);
}

int az_stat(az_conn_t *c, const char *name, store_entry_t *e, ferr_t *err)
{
    http_resp_t resp = {0};
    int rc = az_simple(c, "HEAD", name, NULL, NULL, NULL, 0, 0, &resp, err);
    if (rc == 0 && resp.status == 404) {
        rc = ferr_set(err, FERR_NOTFOUND, "no %s '%s' in %s", c->noun, name, c->where);
    } else if (rc == 0 && resp.status != 200) {
        rc = az_fail(c, &resp, "reading properties of", name, err);
    } else if (rc == 0 && !strcmp(resp.resource_type, "directory")) {
        rc = ferr_set(err, FERR_NOTFOUND, "'%s' in %s is a folder, not a file", name, c->where);
    } else if (rc == 0) {
        free(c->stat_name);
        c->stat_name = xstrdup(name);
        snprintf(c->stat_etag, sizeof c->stat_etag, "%s", resp.etag);
        snprintf(c->stat_md5, sizeof c->stat_md5, "%s", resp.content_md5);
        *e = (store_entry_t){.name = c->stat_name,
                             .size = resp.content_length,
                             .mtime = parse_http_date(resp.last_modified),
                             .etag = c->stat_etag,
                             .md5 = c->stat_md5[0] ? c->stat_md5 : NULL};
    }
    http_resp_dispose(&resp);
    return rc;
}

int az_read(az_conn_t *c, const store_read_t *r, int if_match, ferr_t *err)
{
    if (r->len == 0)
        return 0;
    struct curl_slist *h = az_headers(c, NULL);
    if (r->etag && *r->etag && if_match) {
        char im[160];
        /* quoted, as RFC 9110 has it (the ETag header is kept without quotes) */
        snprintf(im, sizeof im, r->etag[0] == '"' ? "If-Match: %s" : "If-Match: \"%s\"", r->etag);
        h = curl_slist_append(h, im);
    }
    if (r->range_md5)
        h = curl_slist_append(h, "x-ms-range-get-content-md5: true");
    http_fdsink_t rs;
    /* hashed as it arrives: when asked, or when a read from the start can be
     * the whole object (the engine checks a large file's blocks itself) */
    int md5 = r->md5 || (!r->segs && r->off == 0 && store_check_md5() != CHECK_NONE);
    http_fdsink_init(&rs, r->fd, r->fd_off, r->len, md5, r->keep, r->on_bytes, r->ud);
    if (r->segs)
        http_fdsink_segments(&rs, r->seg, r->seg_kind, r->segs);
    if (r->direct)
        http_fdsink_direct(&rs, r->direct_fd);
    /* a connection cut part-way resumes where the bytes stopped, when an ETag
     * pins the version (else two versions could be joined), except where the
     * service's MD5 of the whole range is asked for */
    http_req_t t = {.sink = http_fdsink_write,
                    .sink_reset = http_fdsink_reset,
                    .sink_ud = &rs,
                    .range_header = "x-ms-range",
                    .range_from = r->off,
                    .range_to = r->off + r->len - 1,
                    .sink_kept = r->range_md5 || !r->etag || !*r->etag ? NULL : http_fdsink_kept};
    http_resp_t resp = {0};
    char *url = az_url(c, r->name, NULL);
    int rc = url ? az_request(c, "GET", url, h, NULL, 0, 0, &t, &resp, err)
                 : ferr_set(err, FERR_INTERNAL, "out of memory");
    free(url);
    curl_slist_free_all(h);
    if (rc == 0)
        http_fdsink_flush(&rs);
    rc = read_outcome(c, r, if_match, &resp, &rs, rc, err);
    http_fdsink_dispose(&rs);
    http_resp_dispose(&resp);
    return rc;
}

char *az_md5_b64(const void *p, size_t n)
{
    unsigned char md[16];
    unsigned int ml = 0;
    EVP_Digest(p, n, md, &ml, EVP_md5(), NULL);
    return base64_encode(md, ml);
}

char *az_block_md5_b64(const store_block_sums_t *sums, const void *p, size_t n)
{
    return sums->has_md5 ? base64_encode(sums->md5, digest_size(DIGEST_MD5)) : az_md5_b64(p, n);
}

/* --- temporary names --- */

char *az_tmp_name(const char *name, const char *key)
{
    unsigned char d[32];
    if (key) {
        EVP_Digest(key, strlen(key), d, NULL, EVP_sha256(), NULL);
    } else if (getrandom(d, 8, 0) != 8) {
        for (int i = 0; i < 8; i++)
            d[i] = (unsigned char)(rand() ^ getpid() >> i);
    }
    const char *slash = strrchr(name, '/');
    int dl = slash ? (int)(slash - name + 1) : 0;
    char *t = NULL;
    if (asprintf(&t, "%.*s" AZ_TMP_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x", dl, name, d[0], d[1],
                 d[2], d[3], d[4], d[5], d[6], d[7]) < 0)
        return NULL;
    return t;
}

char *az_upload_tmp(const store_upload_t *u)
{
    char *key = NULL;
    if (asprintf(&key, "%s\n%s\n%llu\n%llu", u->name, u->stamp ? u->stamp : "",
                 (unsigned long long)u->size, (unsigned long long)u->block) < 0)
        return NULL;
    char *t = az_tmp_name(u->name, key);
    free(key);
    return t;
}

int az_is_tmp(const char *base)
{
    size_t pl = strlen(AZ_TMP_PREFIX);
    if (strncmp(base, AZ_TMP_PREFIX, pl) || strlen(base) != pl + 16)
        return 0;
    return strspn(base + pl, "0123456789abcdef") == 16;
}

long az_page_size(void)
{
    /* FERRY_LIST_PAGE_SIZE: entries per listing page (the services' maximum by default) */
    const char *ps = getenv("FERRY_LIST_PAGE_SIZE");
    long n = ps ? atol(ps) : 0;
    return n > 0 && n <= 5000 ? n : 5000;
}

int az_simple(az_conn_t *c, const char *method, const char *name, const char *query,
              struct curl_slist *h, const void *body, size_t len, int has_body, http_resp_t *resp,
              ferr_t *err)
{
    char *url = az_url(c, name, query);
    h = az_headers(c, h);
    int rc = az_request(c, method, url, h, body, len, has_body, NULL, resp, err);
    curl_slist_free_all(h);
    free(url);
    return rc;
}

struct curl_slist *az_header(struct curl_slist *h, const char *name, const char *value)
{
    char *line = xasprintf("%s: %s", name, value);
    h = curl_slist_append(h, line);
    free(line);
    return h;
}
