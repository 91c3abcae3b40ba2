/* HTTP over libcurl: one reusable connection per client, TLS verification
 * always on, transient failures retried with backoff, every request traced
 * at -vv with secrets redacted. */
#ifndef FERRY_HTTP_H
#define FERRY_HTTP_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"

typedef struct http_client http_client_t;

typedef struct http_req {
    const char *method;
    const char *url;
    struct curl_slist *headers; /* the caller's; not freed here */
    /* request body: memory, or nothing */
    const void *body;
    size_t body_len;
    int has_body;
    /* response body: to sink (reset before every try), or kept in resp->body */
    size_t (*sink)(void *ud, const char *p, size_t n); /* returns n, or 0 to abort */
    void (*sink_reset)(void *ud);
    void *sink_ud;
    /* A ranged read: bytes [range_from, range_to], asked for with the header
     * range_header ("x-ms-range", "Range"), written here for each try. With
     * sink_kept, a try cut off part-way is resumed, not repeated: the sink
     * keeps the bytes it holds (sink_kept says how many; 0: it starts again)
     * and only the rest is asked for, and must come as a 206. */
    const char *range_header;
    uint64_t range_from, range_to;
    uint64_t (*sink_kept)(void *ud);
    /* called before every try, with that try's headers (e.g. to sign them
     * with a fresh date); adds its own to *extra */
    int (*prepare)(void *ud, const struct curl_slist *headers, struct curl_slist **extra,
                   ferr_t *err);
    void *prepare_ud;
    int follow; /* follow redirects (to https only) */
} http_req_t;

typedef struct http_resp {
    long status;
    char etag[128];
    char content_md5[64];
    char whole_md5[64]; /* the whole object's, on a ranged read: x-ms-blob-content-md5 or
                         * x-ms-content-md5 (files) */
    char error_code[128];
    char last_modified[64];
    char content_type[128];
    char resource_type[16];  /* x-ms-resource-type (ADLS): file or directory */
    char continuation[1024]; /* x-ms-continuation (ADLS listings) */
    uint64_t content_length;
    int has_length;
    uint64_t range_total; /* from Content-Range: bytes a-b/total */
    int has_range;
    uint64_t range_first, range_last; /* its a-b */
    int has_span;
    double retry_after; /* seconds, from Retry-After; 0 if none */
    char *body;         /* kept when the request has no sink (capped) */
    size_t body_len;
} http_resp_t;

/* When to try a request again: a pure function of the policy and of what
 * the last try gave, apart from the clock and the network (unit-tested). */
typedef struct http_policy {
    int tries;            /* $FERRY_RETRIES, default 5 */
    double deadline;      /* seconds spent retrying one request; $FERRY_RETRY_DEADLINE, 300 */
    double first_backoff; /* 0.1 s, times 4 each try */
} http_policy_t;
typedef struct http_try {
    int attempt;        /* 1 for the first */
    int transient;      /* the failure is worth another try */
    double retry_after; /* the server's Retry-After, seconds; 0 if none */
    double jitter;      /* in [0, 1) */
    double spent;       /* seconds since the first try */
    double now;         /* progress_now() */
    double budget_end;  /* http_budget_end() */
} http_try_t;
void http_policy_from_env(http_policy_t *p);
/* Seconds to wait before the next try, or -1: no next try. */
double http_retry_wait(const http_policy_t *p, const http_try_t *t);

/* Retry policy: $FERRY_RETRIES tries per request (default 5), backoff from
 * 0.1 s times 4 with jitter, at most $FERRY_RETRY_DEADLINE seconds (default 300)
 * spent retrying one request; Retry-After is honoured within that. */
int http_client_new(http_client_t **out, const char *ca_file, ferr_t *err);
void http_client_free(http_client_t *c);
/* Performs the request. A transport failure that outlasts the retries is
 * an error (FERR_TRANSFER, naming the host); any HTTP status is not: the
 * caller reads resp->status. */
int http_do(http_client_t *c, const http_req_t *r, http_resp_t *resp, ferr_t *err);
void http_resp_dispose(http_resp_t *resp);
/* Percent-encodes s; '/' is kept when keep_slash. */
char *http_escape(const char *s, int keep_slash);
/* A time (progress_now() clock) after which no request is tried again and
 * the transfer engine starts no new work; 0: none. For the final upload's
 * budget after a SIGTERM. */
void http_set_budget_end(double t);
double http_budget_end(void);
/* Percent-decoded copy of the n bytes at s (libcurl's decoder), malloc'd. */
char *http_unescape(const char *s, size_t n);
/* Is the answer one worth retrying: 408, 429, 500, 502, 503, 504, or an
 * x-ms-error-code of ServerBusy, OperationTimedOut, InternalError, or
 * Md5Mismatch or Crc64Mismatch (a body damaged on the way)? 403, 404 and
 * 409 will not change and are not. */
int http_transient(long status, const char *error_code);

/* A response body written into fd from fd_off, gathered into 1 MiB writes
 * (many threads writing one file contend on its inode lock: fewer, larger
 * writes contend less); never more than len bytes (a server ignoring a
 * range is refused: over is set). With md5, the bytes are hashed as they
 * come, from memory (http_fdsink_md5 gives the digest). With keep (len
 * bytes), the bytes are gathered there and written from there, so the
 * caller has them in memory afterwards. on_bytes counts each byte once,
 * also when a try is repeated. */
typedef struct http_fdsink {
    int fd;
    uint64_t start, off; /* off: bytes received so far end here */
    uint64_t len;
    int over;
    char *buf;
    size_t cap, used, flushed; /* buf[flushed, used) is not written yet */
    int own;                   /* buf is the sink's (not the caller's keep) */
    struct evp_md_ctx_st *md5;
    void (*on_bytes)(void *ud, uint64_t n);
    void *ud;
    int werr; /* errno of a failed write */
    uint64_t reported;
    int dfd;      /* the same file opened O_DIRECT, for whole pages; -1: none */
    uint64_t seg; /* with segs: a digest every seg bytes instead of one */
    digest_t *segs;
    size_t nsegs; /* digests taken */
    digest_ctx_t segd;
} http_fdsink_t;
void http_fdsink_init(http_fdsink_t *s, int fd, uint64_t fd_off, uint64_t len, int md5, char *keep,
                      void (*on_bytes)(void *ud, uint64_t n), void *ud);
size_t http_fdsink_write(void *ud, const char *p, size_t n); /* for http_req_t.sink */
/* Whole pages from the sink's own buffer go to the file through dfd (the
 * same file opened O_DIRECT): no copy into the page cache. */
void http_fdsink_direct(http_fdsink_t *s, int dfd);
/* The digest (kind) of every seg bytes (the last piece may be shorter) into
 * out, instead of one MD5 of them all: http_fdsink_segments_end takes the
 * last. */
void http_fdsink_segments(http_fdsink_t *s, uint64_t seg, digest_kind_t kind, digest_t *out);
void http_fdsink_segments_end(http_fdsink_t *s);
void http_fdsink_reset(void *ud);    /* for http_req_t.sink_reset */
uint64_t http_fdsink_kept(void *ud); /* for http_req_t.sink_kept */
int http_fdsink_flush(http_fdsink_t *s);
/* The MD5 of the bytes taken (once, after the last write); -1 without md5 */
int http_fdsink_md5(http_fdsink_t *s, unsigned char out[16]);
void http_fdsink_dispose(http_fdsink_t *s);

#endif
