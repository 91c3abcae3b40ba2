/* How a download's blocks are checked on the way (xfer_int.h): each
 * against the digest in its id (CRC64, or MD5), several to a request; each range against the
 * MD5 the service gives for it; and a resumed file's blocks, read back once
 * before they are trusted. */
#define _GNU_SOURCE
#include "xfer_int.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "log.h"
#include "path.h"
#include "xalloc.h"

/* Blocks not kept in memory for the file's MD5 are written to it with
 * O_DIRECT where the filesystem takes it: straight from the buffer they
 * arrived in, with no copy into the page cache (on this project's test VM,
 * 1 GiB took 5.1 s of CPU buffered and 0.1 s direct). Opened by the first
 * block to run, not when the file is queued (two descriptors a file). */
static int direct_fd(xf_file_t *f)
{
    pthread_mutex_lock(&f->mu);
    if (f->dfd == XF_DFD_UNOPENED) {
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", f->fd);
        f->dfd = f->in_order || f->fd < 0 ? -1 : open(p, O_WRONLY | O_DIRECT | O_CLOEXEC);
    }
    int fd = f->dfd;
    pthread_mutex_unlock(&f->mu);
    return fd;
}

/* A service that gives no MD5 for a range (an emulator, a proxy that drops
 * it): the file's bytes are then not checked on the way, as before there
 * was the range check; said once. The range that found out is kept: its
 * bytes arrived whole, only unchecked. */
static void no_range_md5(xf_file_t *f, ferr_t *err)
{
    pthread_mutex_lock(&f->mu);
    if (f->range_md5)
        log_warn("%s: %s; its bytes are not checked", f->name, err->msg);
    f->range_md5 = 0;
    pthread_mutex_unlock(&f->mu);
    ferr_clear(err);
}

/* Bytes [off, off + len) of f into its file, counted as they come: one
 * version only, across all the ranges (and the runs) that make the file. */
static store_read_t read_of(engine_t *e, xf_file_t *f, uint64_t off, uint64_t len)
{
    int dfd = direct_fd(f);
    return (store_read_t){.name = f->name,
                          .etag = f->etag,
                          .off = off,
                          .len = len,
                          .fd = f->fd,
                          .fd_off = off,
                          .on_bytes = xf_on_bytes,
                          .ud = e,
                          .direct = dfd >= 0,
                          .direct_fd = dfd};
}

/* What a corrupted part gets (want, got: digests of kind k): a warning
 * while it is fetched again (try < 3: 0), then the --check-md5 verdict: -1,
 * *bad (its bytes are not worth keeping), or 1 (kept). */
static int mismatch(xf_file_t *f, uint32_t idx, uint64_t off, uint64_t len, digest_kind_t k,
                    const unsigned char *want, const unsigned char *got, int try, int *bad,
                    ferr_t *err)
{
    if (try < 3) {
        char want_hex[2 * DIGEST_MAX + 1], got_hex[2 * DIGEST_MAX + 1];
        log_warn("%s: block %u (bytes %llu-%llu) arrived with %s %s, not the %s %s; "
                 "fetching that block again",
                 f->name, idx, (unsigned long long)off, (unsigned long long)(off + len - 1),
                 digest_name(k), digest_hex(k, got, got_hex), digest_hex(k, want, want_hex),
                 f->digests ? "it was uploaded with" : "the service gives for it");
        return 0;
    }
    char *what = NULL, *want64 = base64_encode(want, digest_size(k));
    char *got64 = base64_encode(got, digest_size(k));
    if (asprintf(&what, "%s (block %u, bytes %llu-%llu, read 3 times)", f->name, idx,
                 (unsigned long long)off, (unsigned long long)(off + len - 1)) < 0)
        what = NULL;
    int rc =
        store_digest_verdict(what ? what : f->name, "block", digest_name(k), want64, got64, err);
    free(what);
    free(want64);
    free(got64);
    *bad = rc != 0;
    return rc ? rc : 1;
}

/* Part idx of f (bytes off, len: one of its digests' blocks, or one chunk)
 * checked against its digest, or the MD5 the service gives for it: one that
 * arrives corrupted is fetched again alone. try: the first try's number (2
 * when the part came corrupted within a larger read). */
static int fetch_part(engine_t *e, store_t *s, xf_file_t *f, uint32_t idx, uint64_t off,
                      uint64_t len, int try, char *buf, int *bad, ferr_t *err)
{
    digest_t got, svc;
    pthread_mutex_lock(&f->mu);
    int ranged = f->range_md5; /* (never with digests: dl_checks takes one or the other) */
    pthread_mutex_unlock(&f->mu);
    digest_kind_t k = f->digests ? f->digests[0].kind : DIGEST_MD5;
    const unsigned char *want = f->digests ? f->digests[idx].sum : ranged ? svc : NULL;
    store_read_t r = read_of(e, f, off, len);
    r.on_bytes = try == 1 ? xf_on_bytes : NULL; /* (each byte counted once) */
    r.keep = f->in_order ? buf : NULL;
    if (f->digests) { /* its one block's digest, of the kind its id gives */
        r.segs = &got;
        r.seg = len;
        r.seg_kind = k;
    } else {
        r.md5 = want ? got : NULL;
        r.range_md5 = ranged ? svc : NULL;
    }
    for (;; try++) {
        if (store_read_ex(s, &r, err) && !(r.range_md5 && err->code == FERR_UNSUPPORTED))
            return -1;
        if (err->code == FERR_UNSUPPORTED) { /* the bytes came whole, with no MD5 */
            no_range_md5(f, err);
            return 0;
        }
        if (!want || !memcmp(got, want, digest_size(k)))
            return 0;
        r.on_bytes = NULL;
        int rc = mismatch(f, idx, off, len, k, want, got, try, bad, err);
        if (rc)
            return rc < 0 ? rc : 0;
    }
}

/* Chunk of a file whose chunks span several of its digests' blocks: read
 * in one request, each block's digest taken as it passes; a block that
 * came corrupted is fetched again alone. */
static int fetch_span(engine_t *e, store_t *s, xf_file_t *f, uint64_t off, uint64_t len, int *bad,
                      ferr_t *err)
{
    uint64_t unit = f->digests[0].len;
    digest_kind_t k = f->digests[0].kind;
    uint32_t first = (uint32_t)(off / unit), n = (uint32_t)((len + unit - 1) / unit);
    digest_t *segs = xcalloc(n, sizeof *segs);
    store_read_t r = read_of(e, f, off, len);
    r.segs = segs;
    r.seg = unit;
    r.seg_kind = k;
    int rc = store_read_ex(s, &r, err);
    for (uint32_t j = 0; rc == 0 && j < n; j++) {
        uint64_t o = off + (uint64_t)j * unit, l = off + len - o < unit ? off + len - o : unit;
        const unsigned char *want = f->digests[first + j].sum;
        if (memcmp(segs[j], want, digest_size(k))) {
            /* (the first of its three reads: only warned of) */
            mismatch(f, first + j, o, l, k, want, segs[j], 1, bad, err);
            rc = fetch_part(e, s, f, first + j, o, l, 2, NULL, bad, err);
        }
    }
    free(segs);
    return rc;
}

/* Chunk, checked as the file's checks say (*bad: its bytes are wrong in
 * the store too, and not worth keeping). */
int xf_fetch_checked(engine_t *e, store_t *s, xf_file_t *f, uint32_t chunk, char *buf, int *bad,
                     ferr_t *err)
{
    uint64_t off = (uint64_t)chunk * f->block;
    uint64_t len = f->size - off < f->block ? f->size - off : f->block;
    if (f->digests && f->block > f->digests[0].len)
        return fetch_span(e, s, f, off, len, bad, err);
    return fetch_part(e, s, f, chunk, off, len, 1, buf, bad, err);
}

int xf_reblock(xf_file_t *f, uint64_t b)
{
    if (!b || f->size / b >= 50000)
        return -1;
    uint32_t n = (uint32_t)((f->size + b - 1) / b);
    free(f->done);
    f->done = xcalloc(n, 1);
    f->block = b;
    f->nchunks = n;
    return 0;
}

/* Blocks fetched in one request: up to 32 MiB (fewer, larger requests cost
 * the server less: Azurite spent 2.4-2.9 s of CPU serving 1 GiB in 8 MiB
 * ranges, 1.7-2.0 s in 32 MiB ones and no less in 64 MiB ones), but at
 * least 8 requests a file, so that its blocks still travel side by side. */
#define SPAN_MAX (32u << 20)
#define SPANS_MIN 8

static uint32_t blocks_per_span(uint64_t b, uint32_t n)
{
    uint32_t k = b >= SPAN_MAX ? 1 : (uint32_t)(SPAN_MAX / b);
    while (k > 1 && (n + k - 1) / k < SPANS_MIN)
        k /= 2;
    return k;
}

int xf_use_digests(xf_file_t *f, store_digest_t *d, uint32_t n)
{
    uint64_t b = n ? d[0].len : 0;
    /* (one block is a whole file: that path checks the blob's MD5) */
    int uniform = n >= 2 && b >= (1u << 20);
    for (uint32_t i = 1; uniform && i < n; i++)
        uniform = i + 1 < n ? d[i].len == b : d[i].len <= b;
    /* (checked before f is touched: a list that does not cover the file
     * leaves f as it was, for the whole-file path) */
    if (!uniform || (f->size + b - 1) / b != n || xf_reblock(f, b * blocks_per_span(b, n)))
        return -1;
    f->digests = d;
    return 0;
}

/* Chunk k of a file resumed, read back and checked block by block against
 * its digests (or hashed into the whole file's MD5): 0 when it holds. */
static int resumed_chunk_holds(xf_file_t *f, uint32_t k, char *buf, uint64_t unit)
{
    uint64_t start = (uint64_t)k * f->block;
    uint64_t end = f->size - start < f->block ? f->size : start + f->block;
    for (uint64_t off = start; off < end; off += unit) {
        size_t n = (size_t)(end - off < unit ? end - off : unit);
        if (path_pread_full(f->fd, buf, n, off))
            return -1;
        if (f->in_order) {
            md5_update(&f->md5, buf, n);
            continue;
        }
        const store_digest_t *want = &f->digests[off / unit];
        digest_t got;
        digest_of(want->kind, buf, n, got);
        if (memcmp(got, want->sum, digest_size(want->kind))) {
            log_warn("%s: block %llu left by an earlier attempt does not match its %s; "
                     "fetching again from block %llu on",
                     f->name, (unsigned long long)(off / unit), digest_name(want->kind),
                     (unsigned long long)(start / unit));
            return -1;
        }
    }
    return 0;
}

uint32_t xf_resumed_blocks(xf_file_t *f, uint32_t have)
{
    /* (range_md5: nothing here to check them by without fetching them
     * again; each was checked against the service's MD5 when fetched) */
    if (!have || (!f->digests && !f->in_order))
        return have;
    uint64_t unit = f->digests ? f->digests[0].len : f->block;
    char *buf = xmalloc((size_t)unit);
    uint32_t k = 0;
    while (k < have && resumed_chunk_holds(f, k, buf, unit) == 0)
        k++;
    free(buf);
    if (f->in_order && k < have) {
        /* the whole file's MD5 must start again from the first block */
        md5_init(&f->md5);
        k = 0;
    }
    if (f->in_order)
        f->hashed = k;
    return k;
}
