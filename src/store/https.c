/* Plain web resources: an https:// URL that is not a storage service's
 * (nor a registered datastore's) is read as a file on a web server. It can
 * be stat'ed (HEAD) and read in ranges (GET with Range and If-Range, pinned
 * to the ETag, or to Last-Modified where the server gives no ETag), never
 * listed or written. Redirects are followed, to https only. It is not a
 * datastore one registers: a job or `ferry download` names the URL. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "log.h"
#include "store/backend.h"
#include "xalloc.h"

typedef struct web_store {
    store_t base;
    http_client_t *http;
    char *stat_name;
    char stat_etag[192];
} web_store_t;

/* The version pin of a response: its ETag, else its Last-Modified (which
 * If-Range takes too), marked so the two are never confused. */
static void pin_of(const http_resp_t *r, char *buf, size_t n)
{
    if (r->etag[0] && strncmp(r->etag, "W/", 2) != 0) /* If-Range takes only a strong one */
        snprintf(buf, n, "%s", r->etag);
    else if (r->last_modified[0])
        snprintf(buf, n, "lm:%s", r->last_modified);
    else
        buf[0] = 0;
}

static char *url_of(const web_store_t *w, const char *name)
{
    char *esc = http_escape(name, 1);
    char *u = xasprintf("%s/%s", w->base.ds->account_url, esc ? esc : "");
    free(esc);
    return u;
}

static int web_fail(const char *what, const char *url, const http_resp_t *r, ferr_t *err)
{
    if (r->status == 404 || r->status == 410)
        return ferr_set(err, FERR_NOTFOUND, "%s: no such file on the server (HTTP %ld)", url,
                        r->status);
    if (r->status == 401 || r->status == 403)
        return ferr_set(err, FERR_TRANSFER,
                        "%s: the server refused access (HTTP %ld); a plain https URL is read "
                        "without a credential",
                        url, r->status);
    return ferr_set(err, FERR_TRANSFER, "%s %s: HTTP %ld", what, url, r->status);
}

static time_t http_date(const char *s)
{
    struct tm tm = {0};
    if (!s || !*s || !strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm))
        return 0;
    return timegm(&tm);
}

static int web_stat(store_t *s, const char *name, store_entry_t *e, ferr_t *err)
{
    web_store_t *w = (web_store_t *)s;
    char *url = url_of(w, name);
    http_req_t r = {.method = "HEAD", .url = url, .follow = 1};
    http_resp_t resp = {0};
    int rc = http_do(w->http, &r, &resp, err);
    if (rc == 0 && resp.status != 200)
        rc = web_fail("reading", url, &resp, err);
    else if (rc == 0 && !resp.has_length)
        rc = ferr_set(err, FERR_UNSUPPORTED,
                      "%s: the server does not say the file's size (no Content-Length)", url);
    if (rc == 0) {
        free(w->stat_name);
        w->stat_name = xstrdup(name);
        pin_of(&resp, w->stat_etag, sizeof w->stat_etag);
        *e = (store_entry_t){.name = w->stat_name,
                             .size = resp.content_length,
                             .mtime = (int64_t)http_date(resp.last_modified),
                             .etag = w->stat_etag[0] ? w->stat_etag : NULL};
    }
    http_resp_dispose(&resp);
    free(url);
    return rc;
}

static int web_read(store_t *s, const store_read_t *rd, ferr_t *err)
{
    const char *name = rd->name, *etag = rd->etag;
    uint64_t off = rd->off, len = rd->len, fd_off = rd->fd_off;
    if (!len)
        return 0;
    web_store_t *w = (web_store_t *)s;
    char *url = url_of(w, name), ifr[224];
    struct curl_slist *h = NULL;
    if (etag && *etag) { /* a changed file answers whole (200), not the range */
        /* an ETag quoted, as RFC 9110 has it (http.c keeps it without quotes) */
        snprintf(ifr, sizeof ifr,
                 !strncmp(etag, "lm:", 3) || etag[0] == '"' ? "If-Range: %s" : "If-Range: \"%s\"",
                 !strncmp(etag, "lm:", 3) ? etag + 3 : etag);
        h = curl_slist_append(h, ifr);
    }
    http_fdsink_t sink;
    http_fdsink_init(&sink, rd->fd, fd_off, len, rd->md5 != NULL, rd->keep, rd->on_bytes, rd->ud);
    if (rd->segs)
        http_fdsink_segments(&sink, rd->seg, rd->seg_kind, rd->segs);
    if (rd->direct)
        http_fdsink_direct(&sink, rd->direct_fd);
    http_req_t r = {.method = "GET",
                    .url = url,
                    .headers = h,
                    .follow = 1,
                    .sink = http_fdsink_write,
                    .sink_reset = http_fdsink_reset,
                    .sink_ud = &sink,
                    .range_header = "Range",
                    .range_from = off,
                    .range_to = off + len - 1,
                    /* a cut read goes on from where it stopped, when If-Range
                     * pins the version (else two versions could be joined) */
                    .sink_kept = etag && *etag ? http_fdsink_kept : NULL};
    http_resp_t resp = {0};
    int rc = http_do(w->http, &r, &resp, err);
    if (rc == 0)
        http_fdsink_flush(&sink);
    char pin[192];
    pin_of(&resp, pin, sizeof pin);
    int ranged = resp.status == 206;
    if (rc == 0 && sink.werr)
        rc = ferr_errno(err, FERR_IO, sink.werr, "writing %s", name);
    else if (rc == 0 && (resp.status == 200 || resp.status == 206) &&
             ((etag && *etag && *pin && strcmp(pin, etag)) || (!ranged && (off || sink.over))))
        rc = ferr_set(err, FERR_TRANSFER,
                      "'%s' changed on the server while it was being read (it is no longer %s); "
                      "run again to fetch the new content",
                      url, etag && *etag ? etag : "the version first read");
    else if (rc == 0 && resp.status != 200 && resp.status != 206)
        rc = web_fail("downloading", url, &resp, err);
    else if (rc == 0 && sink.off - fd_off != len)
        rc = ferr_set(err, FERR_TRANSFER, "downloading %s: got %llu bytes of %llu", url,
                      (unsigned long long)(sink.off - fd_off), (unsigned long long)len);
    if (rc == 0 && rd->segs)
        http_fdsink_segments_end(&sink);
    if (rc == 0 && rd->md5 && http_fdsink_md5(&sink, rd->md5))
        rc = ferr_set(err, FERR_INTERNAL, "downloading %s: no digest", url);
    http_fdsink_dispose(&sink);
    http_resp_dispose(&resp);
    curl_slist_free_all(h);
    free(url);
    return rc;
}

static void web_close(store_t *s)
{
    web_store_t *w = (web_store_t *)s;
    http_client_free(w->http);
    free(w->stat_name);
    free(w);
}

static const struct store_ops web_ops;

static int web_open(store_t **out, const datastore_t *ds, ferr_t *err)
{
    web_store_t *w = xcalloc(1, sizeof *w);
    w->base = (store_t){.ops = &web_ops, .backend = ds->backend, .ds = ds};
    if (http_client_new(&w->http, ds->ca_file, err)) {
        free(w);
        return -1;
    }
    *out = &w->base;
    return 0;
}

static int web_clone(store_t *s, store_t **out, ferr_t *err)
{
    return web_open(out, s->ds, err);
}

static const struct store_ops web_ops = {
    .stat = web_stat,
    .read = web_read,
    .clone = web_clone,
    .close = web_close,
};

/* https://<host>[:port]/<path>: the folder part of the URL is the
 * "account URL", the rest the file's name. */
static int web_url_parse(const store_backend_t *self, const char *url, const char *name,
                         datastore_t **adhoc, char **path, const char **why)
{
    if (strncmp(url, "https://", 8) != 0)
        return -2;
    const char *host = url + 8, *slash = strchr(host, '/');
    if (strpbrk(url, "?#")) {
        *why = "a query string in a plain https URL is not supported";
        return -1;
    }
    if (!slash || slash == host || !slash[1] || url[strlen(url) - 1] == '/') {
        *why = "a plain https URL names one file (https://<host>/<path to a file>)";
        return -1;
    }
    datastore_t *ds = datastore_new(name, self);
    ds->account_url = xstrndup(url, (size_t)(slash - url));
    ds->protocol = xstrdup("https");
    *path = http_unescape(slash + 1, strlen(slash + 1));
    *adhoc = ds;
    return 0;
}

static int web_validate(const datastore_t *ds, ferr_t *err)
{
    (void)ds;
    return ferr_set(err, FERR_USAGE,
                    "a plain https URL is not a datastore to register: name it in a job "
                    "(type: uri_file) or in 'ferry download'");
}

const store_backend_t store_backend_https = {
    .type = "https",
    .cli_name = NULL, /* not registered: named by URL */
    .caps = STORE_CAP_REMOTE | STORE_CAP_CLONE | STORE_CAP_RANGED_READS,
    .validate = web_validate,
    .url_parse = web_url_parse,
    .url_forms = "plain https URLs of files (https://<host>/<path>, read-only)",
    .open = web_open,
};
