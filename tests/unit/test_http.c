/* The HTTP layer's decisions, apart from the network: which answers are
 * worth another try, and how long to wait before it. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "tap.h"

static void transient(void)
{
    OK(http_transient(503, NULL) && http_transient(500, "") && http_transient(429, NULL) &&
           http_transient(408, NULL) && http_transient(502, NULL) && http_transient(504, NULL),
       "408, 429, 500, 502, 503, 504 are retried");
    OK(!http_transient(403, "AuthenticationFailed") && !http_transient(404, "BlobNotFound") &&
           !http_transient(409, "BlobAlreadyExists") && !http_transient(400, NULL),
       "403, 404, 409, 400 are not");
    OK(http_transient(400, "OperationTimedOut") && http_transient(409, "ServerBusy"),
       "Azure's ServerBusy and OperationTimedOut are, whatever the status");
    OK(http_transient(400, "Md5Mismatch") && http_transient(400, "Crc64Mismatch") &&
           !http_transient(400, "InvalidBlobOrBlock"),
       "a body the service found damaged (Md5Mismatch, Crc64Mismatch) is sent again");
    OK(!http_transient(500, "FeatureNotSupported"),
       "a feature the service lacks is not, even on a 500");
}

static void waits(void)
{
    const http_policy_t p = {.tries = 5, .deadline = 300, .first_backoff = 0.1};
    http_try_t t = {.attempt = 1, .transient = 1, .jitter = 0.5, .now = 1000};
    OK(http_retry_wait(&p, &t) == 0.1,
       "the first wait is the first backoff (jitter in the middle)");
    t.jitter = 0;
    OK(http_retry_wait(&p, &t) == 0.05, "jitter takes it down to half");
    t.attempt = 3, t.jitter = 0.5;
    OK(http_retry_wait(&p, &t) > 1.59 && http_retry_wait(&p, &t) < 1.61,
       "the backoff grows four times a try (1.6 s before the fourth)");
    t.attempt = 5;
    OK(http_retry_wait(&p, &t) < 0, "no wait after the last try: the answer stands");
    t.attempt = 2, t.transient = 0;
    OK(http_retry_wait(&p, &t) < 0, "an answer that will not change is not tried again");
    t.transient = 1, t.retry_after = 7;
    OK(http_retry_wait(&p, &t) == 7, "the server's Retry-After is honoured");
    t.retry_after = 600;
    OK(http_retry_wait(&p, &t) == 60, "but never more than a minute");
    t.retry_after = 0, t.spent = 299.9;
    OK(http_retry_wait(&p, &t) < 0, "no try starts past the deadline");
    t.spent = 1, t.budget_end = 1000.2;
    OK(http_retry_wait(&p, &t) < 0, "nor past the final upload's budget");
    t.budget_end = 2000;
    OK(http_retry_wait(&p, &t) > 0, "a budget far off does not stop it");
}

static void policy(void)
{
    http_policy_t p;
    setenv("FERRY_RETRIES", "2", 1);
    setenv("FERRY_RETRY_DEADLINE", "9", 1);
    http_policy_from_env(&p);
    OK(p.tries == 2 && p.deadline == 9, "FERRY_RETRIES and FERRY_RETRY_DEADLINE set the policy");
    setenv("FERRY_RETRIES", "zero", 1);
    unsetenv("FERRY_RETRY_DEADLINE");
    http_policy_from_env(&p);
    OK(p.tries == 5 && p.deadline == 300,
       "nonsense or nothing gives the defaults (5 tries, 300 s)");
}

static char body[5 * 65536 + 777];

static unsigned char *want_of(digest_kind_t k, const char *p, size_t n, digest_t want)
{
    memset(want, 0, DIGEST_MAX);
    if (k == DIGEST_MD5)
        EVP_Digest(p, n, want, NULL, EVP_md5(), NULL);
    for (int i = 0; k == DIGEST_CRC64 && i < 8; i++)
        want[i] = (unsigned char)(crc64_tables(0, p, n) >> (8 * i));
    return want;
}

/* body[0, len) into a sink of seg-byte digests (k), in pieces of odd sizes
 * (after `junk` bytes of a try that was then reset): how many digests, each
 * compared with OpenSSL's MD5 (or the tables' CRC64) of its segment (*same). */
static size_t segmented(int fd, size_t len, size_t junk, digest_kind_t kind, int *same)
{
    enum { SEG = 65536 };
    digest_t segs[8], want;
    memset(segs, 0, sizeof segs);
    http_fdsink_t s;
    http_fdsink_init(&s, fd, 0, len, 0, NULL, NULL, NULL);
    http_fdsink_segments(&s, SEG, kind, segs);
    if (junk) { /* a try cut off part-way: what it hashed must not count */
        http_fdsink_write(&s, body + 1, junk);
        http_fdsink_reset(&s);
    }
    for (size_t at = 0, k = 1; at < len; at += k, k = k * 7 % 40000 + 1)
        http_fdsink_write(&s, body + at, at + k > len ? len - at : k);
    http_fdsink_flush(&s);
    http_fdsink_segments_end(&s);
    size_t n = s.nsegs;
    *same = n <= 7;
    for (size_t i = 0; i < n && *same; i++) {
        size_t l = len - i * SEG < SEG ? len - i * SEG : SEG;
        *same = !memcmp(want_of(kind, body + i * SEG, l, want), segs[i], DIGEST_MAX);
    }
    http_fdsink_dispose(&s);
    return n;
}

/* A body taken in pieces of odd sizes: each segment's MD5 is that of its
 * bytes, the last (shorter) one included, and the file holds them all. */
static void segments(void)
{
    static char back[sizeof body];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)(i * 2654435761u >> 13);
    FILE *tf = tmpfile();
    int fd = fileno(tf), same = 0;
    for (digest_kind_t k = DIGEST_MD5; k <= DIGEST_CRC64; k++) {
        const char *kn = digest_name(k);
        size_t n = segmented(fd, sizeof body, 0, k, &same);
        OK(n == 6 && same, "%s: 5 segments and a bit: 6 digests, each of its segment's (got %zu)",
           kn, n);
        OK(pread(fd, back, sizeof body, 0) == (ssize_t)sizeof body &&
               !memcmp(back, body, sizeof body),
           "%s: and the file holds the body", kn);
        n = segmented(fd, 5 * 65536, 0, k, &same);
        OK(n == 5 && same, "%s: exactly 5 segments: 5 digests, no empty sixth (got %zu)", kn, n);
        n = segmented(fd, sizeof body, 65536 + 32768, k, &same);
        OK(n == 6 && same, "%s: after a try reset a segment and a half in: the same 6 (got %zu)",
           kn, n);
    }
    http_fdsink_t k;
    http_fdsink_init(&k, fd, 0, 100, 0, NULL, NULL, NULL);
    http_fdsink_write(&k, body, 60);
    OK(http_fdsink_kept(&k) == 60, "a sink cut off after 60 bytes keeps them, for a resumed try");
    OK(http_fdsink_write(&k, body, 41) == 0 && http_fdsink_kept(&k) == 0,
       "one that got more than was asked keeps nothing: the try starts again");
    http_fdsink_dispose(&k);
    fclose(tf);
}

int main(void)
{
    segments();
    transient();
    waits();
    policy();
    TAP_DONE();
}
