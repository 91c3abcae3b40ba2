#define _GNU_SOURCE
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

#define DEFAULT_TRIES 5
#define DEFAULT_DEADLINE 300.0
#define KEEP_BODY_MAX (4u << 20)

struct http_client {
    CURL *curl;
    char *ca_file;
    struct curl_slist *connect_to; /* $FERRY_CONNECT_TO, as curl's --connect-to */
    http_policy_t policy;          /* read once, when the client is made */
    long stall;
};

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* FERRY_CONNECT_TO="HOST:PORT:TO-HOST:TO-PORT[,...]": requests for HOST:PORT
 * go to TO-HOST:TO-PORT, the name and certificate checks unchanged (a
 * private endpoint without DNS, or a test's loopback server). */
static struct curl_slist *connect_to_from_env(void)
{
    const char *v = getenv("FERRY_CONNECT_TO");
    struct curl_slist *l = NULL;
    while (v && *v) {
        size_t n = strcspn(v, ",");
        char *one = xstrndup(v, n);
        if (*one)
            l = curl_slist_append(l, one);
        free(one);
        v += n + (v[n] == ',');
    }
    return l;
}

int http_client_new(http_client_t **out, const char *ca_file, ferr_t *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    http_client_t *c = xcalloc(1, sizeof *c);
    if (!c || !(c->curl = curl_easy_init())) {
        free(c);
        return ferr_set(err, FERR_INTERNAL, "cannot start libcurl");
    }
    /* like curl's own tool: an explicit CA file, else the usual variables */
    const char *ca = ca_file;
    if (!ca || !*ca)
        ca = getenv("CURL_CA_BUNDLE");
    if (!ca || !*ca)
        ca = getenv("SSL_CERT_FILE");
    if (ca && *ca)
        c->ca_file = xstrdup(ca);
    http_policy_from_env(&c->policy);
    c->connect_to = connect_to_from_env();
    /* a stalled transfer: no bytes for $FERRY_STALL_SECONDS (default 60) */
    const char *st_env = getenv("FERRY_STALL_SECONDS");
    c->stall = st_env && atol(st_env) > 0 ? atol(st_env) : 60L;
    *out = c;
    return 0;
}

void http_client_free(http_client_t *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->connect_to);
    free(c->ca_file);
    free(c);
}

void http_resp_dispose(http_resp_t *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

int http_transient(long status, const char *error_code)
{
    /* Azure names its transient conditions too, whatever the status; and a
     * body whose digest the service found wrong was damaged on the way (the
     * digest is taken from the very buffer that is sent again) */
    if (error_code &&
        (!strcmp(error_code, "ServerBusy") || !strcmp(error_code, "OperationTimedOut") ||
         !strcmp(error_code, "InternalError") || !strcmp(error_code, "Md5Mismatch") ||
         !strcmp(error_code, "Crc64Mismatch")))
        return 1;
    if (error_code && !strcmp(error_code, "FeatureNotSupported"))
        return 0; /* (Azurite answers so with a 500: no retry will change it) */
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504;
}

char *http_unescape(const char *s, size_t n)
{
    int len = 0;
    char *c = curl_easy_unescape(NULL, s, (int)n, &len);
    if (!c)
        return NULL;
    /* a NUL cannot live in a C string: it becomes a control character,
     * which every name check refuses, instead of cutting the name short */
    for (int i = 0; i < len; i++)
        if (!c[i])
            c[i] = '\x01';
    char *out = xstrndup(c, (size_t)len);
    curl_free(c);
    return out;
}

char *http_escape(const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = xmalloc(n * 3 + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
            (keep_slash && *p == '/')) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = 0;
    return out;
}

typedef struct io_state {
    const http_req_t *req;
    http_resp_t *resp;
    size_t sent;
    int aborted;
    int resumed;    /* the rest of a range: only a 206 fits after what the sink kept */
    int unfit;      /* ... and the answer was not one: the next try starts again */
    uint64_t first; /* a ranged read: the first byte asked for on this try */
    int elsewhere;  /* a 206 whose Content-Range is not the range asked for */
    long fed;       /* the status whose body went to the sink, if any */
} io_state_t;

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    io_state_t *s = ud;
    size_t want = size * n, left = s->req->body_len - s->sent;
    if (want > left)
        want = left;
    memcpy(buf, (const char *)s->req->body + s->sent, want);
    s->sent += want;
    return want;
}

/* A 206 is used only if it starts where this try asked and ends within the
 * range: bytes written at the wrong offset would make a file that is
 * complete in size and wrong in content. */
static int span_fits(const io_state_t *s)
{
    const http_resp_t *r = s->resp;
    return r->has_span && r->range_first == s->first && r->range_last >= r->range_first &&
           r->range_last <= s->req->range_to;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    io_state_t *s = ud;
    size_t len = size * n;
    /* an error response is kept whole for its message, never sent to the sink */
    if (s->req->sink && s->resp->status < 300) {
        if (s->resumed && s->resp->status != 206) {
            s->unfit = 1; /* (a server that ignored the range, or a changed file) */
            return 0;
        }
        if (s->req->range_header && s->resp->status == 206 && !s->fed && !span_fits(s)) {
            s->unfit = s->elsewhere = 1; /* its bytes belong elsewhere in the file */
            return 0;
        }
        s->fed = s->resp->status;
        if (s->req->sink(s->req->sink_ud, p, len) != len) {
            s->aborted = 1;
            return 0;
        }
        return len;
    }
    if (s->resp->body_len + len > KEEP_BODY_MAX)
        return len; /* keep the start; enough for any error message */
    char *nb = xrealloc(s->resp->body, s->resp->body_len + len + 1);
    s->resp->body = nb;
    memcpy(nb + s->resp->body_len, p, len);
    s->resp->body_len += len;
    nb[s->resp->body_len] = 0;
    return len;
}

static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
    while (n && isspace((unsigned char)*v))
        v++, n--;
    while (n && isspace((unsigned char)v[n - 1]))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

/* "bytes a-b/..." (the unit in any case): its a and b */
static int span_of(const char *v, uint64_t *a, uint64_t *b)
{
    if (strncasecmp(v, "bytes", 5))
        return 0;
    char *end;
    errno = 0;
    *a = strtoull(v + 5, &end, 10);
    if (end == v + 5 || *end != '-' || errno)
        return 0;
    const char *at = end + 1;
    *b = strtoull(at, &end, 10);
    return end != at && !errno && (*end == '/' || !*end);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    io_state_t *s = ud;
    size_t len = size * n;
    http_resp_t *r = s->resp;
    if (len > 5 && !strncmp(p, "HTTP/", 5)) {
        /* a new response (after a 100 Continue, say): start over */
        long st = 0;
        const char *sp = memchr(p, ' ', len);
        if (sp)
            st = strtol(sp + 1, NULL, 10);
        r->status = st;
        r->etag[0] = r->content_md5[0] = r->whole_md5[0] = r->error_code[0] = 0;
        r->resource_type[0] = r->continuation[0] = 0;
        r->has_length = r->has_range = r->has_span = 0;
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return len;
    size_t kl = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vl = len - kl - 1;
#define IS(name) (kl == sizeof(name) - 1 && !strncasecmp(p, name, kl))
    if (IS("ETag")) {
        /* the header quotes it, listings do not: keep one form */
        copy_value(r->etag, sizeof r->etag, v, vl);
        size_t el = strlen(r->etag);
        if (el >= 2 && r->etag[0] == '"' && r->etag[el - 1] == '"') {
            memmove(r->etag, r->etag + 1, el - 2);
            r->etag[el - 2] = 0;
        }
    } else if (IS("Content-MD5"))
        copy_value(r->content_md5, sizeof r->content_md5, v, vl);
    else if (IS("x-ms-blob-content-md5") || IS("x-ms-content-md5"))
        copy_value(r->whole_md5, sizeof r->whole_md5, v, vl);
    else if (IS("x-ms-error-code"))
        copy_value(r->error_code, sizeof r->error_code, v, vl);
    else if (IS("Last-Modified"))
        copy_value(r->last_modified, sizeof r->last_modified, v, vl);
    else if (IS("Content-Type"))
        copy_value(r->content_type, sizeof r->content_type, v, vl);
    else if (IS("x-ms-resource-type"))
        copy_value(r->resource_type, sizeof r->resource_type, v, vl);
    else if (IS("x-ms-continuation"))
        copy_value(r->continuation, sizeof r->continuation, v, vl);
    else if (IS("Retry-After")) {
        char tmp[64];
        copy_value(tmp, sizeof tmp, v, vl);
        r->retry_after = atof(tmp); /* seconds; an HTTP date reads as 0: the backoff applies */
    } else if (IS("Content-Range")) {
        char tmp[96];
        copy_value(tmp, sizeof tmp, v, vl);
        const char *slash = strchr(tmp, '/');
        if (slash && slash[1] != '*') {
            r->range_total = strtoull(slash + 1, NULL, 10);
            r->has_range = 1;
        }
        r->has_span = span_of(tmp, &r->range_first, &r->range_last);
    } else if (IS("Content-Length")) {
        char tmp[32];
        copy_value(tmp, sizeof tmp, v, vl);
        r->content_length = strtoull(tmp, NULL, 10);
        r->has_length = 1;
    }
#undef IS
    return len;
}

static double budget_end;

void http_set_budget_end(double t)
{
    __atomic_store(&budget_end, &t, __ATOMIC_RELAXED);
}

double http_budget_end(void)
{
    double t;
    __atomic_load(&budget_end, &t, __ATOMIC_RELAXED);
    return t;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static int transient_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

static const char *host_of(const char *url, char *buf, size_t n)
{
    const char *s = strstr(url, "://");
    s = s ? s + 3 : url;
    size_t i = 0;
    while (s[i] && s[i] != '/' && s[i] != '?' && i + 1 < n) {
        buf[i] = s[i];
        i++;
    }
    buf[i] = 0;
    return buf;
}

void http_policy_from_env(http_policy_t *p)
{
    const char *te = getenv("FERRY_RETRIES"), *de = getenv("FERRY_RETRY_DEADLINE");
    p->tries = te && atoi(te) > 0 ? atoi(te) : DEFAULT_TRIES;
    p->deadline = de && atof(de) > 0 ? atof(de) : DEFAULT_DEADLINE;
    p->first_backoff = 0.1;
}

double http_retry_wait(const http_policy_t *p, const http_try_t *t)
{
    if (!t->transient || t->attempt >= p->tries)
        return -1;
    double backoff = p->first_backoff;
    for (int i = 1; i < t->attempt; i++)
        backoff *= 4;
    /* the server's Retry-After (60 s at most), else the backoff with jitter */
    double wait = backoff * (0.5 + t->jitter);
    if (t->retry_after > 0)
        wait = t->retry_after > 60 ? 60 : t->retry_after;
    if (t->budget_end > 0 && t->now + wait > t->budget_end)
        return -1; /* the final upload's budget is spent */
    if (t->spent + wait > p->deadline)
        return -1;
    return wait;
}

/* The caller's headers and the range (from kept bytes on), then those
 * signed for this try. */
static int try_headers(const http_req_t *r, uint64_t kept, struct curl_slist **out, ferr_t *err)
{
    struct curl_slist *extra = NULL, *all = NULL;
    for (struct curl_slist *l = r->headers; l; l = l->next)
        all = curl_slist_append(all, l->data);
    if (r->range_header) {
        char range[128];
        snprintf(range, sizeof range, "%s: bytes=%llu-%llu", r->range_header,
                 (unsigned long long)(r->range_from + kept), (unsigned long long)r->range_to);
        all = curl_slist_append(all, range);
    }
    if (r->prepare && r->prepare(r->prepare_ud, all, &extra, err)) {
        curl_slist_free_all(extra);
        curl_slist_free_all(all);
        return err->msg ? -1 : ferr_set(err, FERR_INTERNAL, "cannot sign the request");
    }
    for (struct curl_slist *l = extra; l; l = l->next)
        all = curl_slist_append(all, l->data);
    curl_slist_free_all(extra);
    if (!r->has_body || !r->body_len)
        all = curl_slist_append(all, "Expect:");
    /* a body sent as POST fields would get curl's form type, which the
     * request's signature does not cover: none unless the caller says */
    int typed = 0;
    for (struct curl_slist *l = all; l; l = l->next)
        typed |= !strncasecmp(l->data, "Content-Type:", 13);
    if (r->has_body && strcmp(r->method, "PUT") && !typed)
        all = curl_slist_append(all, "Content-Type:");
    *out = all;
    return 0;
}

static void try_setup(http_client_t *c, const http_req_t *r, struct curl_slist *headers,
                      io_state_t *st, char *errbuf)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    errbuf[0] = 0;
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 20L);
    /* a stalled transfer: no bytes for stall seconds is aborted and tried again */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->stall);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L); /* the path is signed as sent */
    if (r->follow) { /* a plain web server's redirects, never to plain http */
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    }
    /* large reads: fewer callbacks, fewer writes to the file */
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
    if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->connect_to)
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->connect_to);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, st);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, st);
    if (!strcmp(r->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(r->method, "PUT")) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, st);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
    } else if (strcmp(r->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
        if (r->has_body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        }
    }
}

/* A transport failure that outlasted the retries, said the way a user can act on. */
static int transport_error(CURLcode rc, const char *url, const char *errbuf, ferr_t *err)
{
    char host[256];
    host_of(url, host, sizeof host);
    const char *what = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (rc == CURLE_COULDNT_RESOLVE_HOST)
        return ferr_set(err, FERR_TRANSFER, "cannot resolve host %s (%s)", host, what);
    if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_TOO_MANY_REDIRECTS)
        return ferr_set(err, FERR_TRANSFER,
                        "%s redirected ferry to a URL that is not https, or too many times: "
                        "refused (%s)",
                        host, what);
    if (rc == CURLE_COULDNT_CONNECT)
        return ferr_set(err, FERR_TRANSFER, "cannot connect to %s (%s)", host, what);
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
        rc == CURLE_SSL_CONNECT_ERROR)
        return ferr_set(err, FERR_TRANSFER,
                        "TLS with %s failed: %s (a private CA? pass --ca-file PEM, or set "
                        "CURL_CA_BUNDLE)",
                        host, what);
    return ferr_set(err, FERR_TRANSFER, "%s: %s", host, what);
}

/* A try whose answer was not the range asked for: said, and tried again
 * from the start of the range (1 when no try is left: an error). */
static int unfit_range(const http_req_t *r, const http_resp_t *resp, const io_state_t *st,
                       int again, ferr_t *err)
{
    char got[96];
    if (st->elsewhere && resp->has_span)
        snprintf(got, sizeof got, "HTTP 206 with bytes %llu-%llu",
                 (unsigned long long)resp->range_first, (unsigned long long)resp->range_last);
    else
        snprintf(got, sizeof got, "HTTP %ld%s", resp->status,
                 st->elsewhere ? " with no byte range" : ", not 206");
    if (again) {
        log_debug("%s %s: bytes %llu-%llu came as %s; from the start of the range", r->method,
                  r->url, (unsigned long long)st->first, (unsigned long long)r->range_to, got);
        return 0;
    }
    char host[256];
    host_of(r->url, host, sizeof host);
    return ferr_set(
        err, FERR_TRANSFER, "%s from %s: bytes %llu-%llu were asked for and came as %s; %s",
        r->method, host, (unsigned long long)st->first, (unsigned long long)r->range_to, got,
        st->elsewhere ? "the server does not keep to byte ranges (a proxy or cache in the way?)"
                      : "the file changed on the server, or the server ignores byte ranges");
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int http_do(http_client_t *c, const http_req_t *r, http_resp_t *resp, ferr_t *err)
{
    char errbuf[CURL_ERROR_SIZE];
    double t0 = mono_now();
    long fed = 0; /* the status of the last try whose body the sink took */
    for (int attempt = 1;; attempt++) {
        http_resp_dispose(resp);
        /* What the sink holds is built on only when it came as the range
         * asked for: a 206, or a 200 for a range from 0 (the whole object
         * answered). A try that got every byte and then failed starts again. */
        uint64_t kept =
            attempt > 1 && r->sink_kept && (fed == 206 || (fed == 200 && !r->range_from))
                ? r->sink_kept(r->sink_ud)
                : 0;
        if (kept > r->range_to - r->range_from)
            kept = 0;
        if (kept)
            log_debug("%s %s: resuming after the %llu bytes that arrived", r->method, r->url,
                      (unsigned long long)kept);
        struct curl_slist *all = NULL;
        if (try_headers(r, kept, &all, err))
            return -1;
        if (r->sink_reset && !kept)
            r->sink_reset(r->sink_ud);
        io_state_t st = {
            .req = r, .resp = resp, .resumed = kept > 0, .first = r->range_from + kept};
        try_setup(c, r, all, &st, errbuf);
        CURLcode rc = curl_easy_perform(c->curl);
        curl_slist_free_all(all);
        if (st.fed)
            fed = st.fed;
        if (st.unfit) { /* at once, from the start of the range */
            if (unfit_range(r, resp, &st, attempt < c->policy.tries, err))
                return -1;
            fed = 0;
            continue;
        }
        if (rc == CURLE_OK)
            curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
        log_trace("%s %s -> %ld%s%s", r->method, r->url, rc == CURLE_OK ? resp->status : 0L,
                  resp->error_code[0] ? " " : "", resp->error_code);
        if (st.aborted) {
            char host[256];
            host_of(r->url, host, sizeof host);
            return ferr_set(err, FERR_TRANSFER, "%s from %s: the transfer was stopped", r->method,
                            host);
        }
        unsigned rnd = 0;
        if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != sizeof rnd)
            rnd = (unsigned)attempt * 2654435761u;
        double now = mono_now();
        http_try_t t = {
            .attempt = attempt,
            .transient = rc != CURLE_OK ? transient_curl(rc)
                                        : http_transient(resp->status, resp->error_code),
            .retry_after = rc == CURLE_OK ? resp->retry_after : 0,
            .jitter = (double)(rnd % 1000) / 1000.0,
            .spent = now - t0,
            .now = now,
            .budget_end = http_budget_end(),
        };
        double wait = http_retry_wait(&c->policy, &t);
        if (wait < 0) {
            if (t.transient && attempt < c->policy.tries)
                log_debug("%s %s: no time left to retry (%.0f s spent)", r->method, r->url,
                          t.spent);
            return rc == CURLE_OK ? 0 : transport_error(rc, r->url, errbuf, err);
        }
        if (rc == CURLE_OK)
            log_debug("%s %s: HTTP %ld %s; try %d of %d again in %.2f s", r->method, r->url,
                      resp->status, resp->error_code, attempt + 1, c->policy.tries, wait);
        else
            log_debug("%s %s: %s; try %d of %d again in %.2f s", r->method, r->url,
                      curl_easy_strerror(rc), attempt + 1, c->policy.tries, wait);
        sleep_s(wait);
    }
}
