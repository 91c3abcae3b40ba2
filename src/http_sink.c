/* A response body into a file at an offset (http.h: http_fdsink_t). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "xalloc.h"

#define FDSINK_BUF (1u << 20)
#define PAGE_ALIGN 4096u /* what O_DIRECT asks of buffers, offsets and lengths */

void http_fdsink_init(http_fdsink_t *s, int fd, uint64_t fd_off, uint64_t len, int md5, char *keep,
                      void (*on_bytes)(void *ud, uint64_t n), void *ud)
{
    *s = (http_fdsink_t){.fd = fd,
                         .start = fd_off,
                         .off = fd_off,
                         .len = len,
                         .on_bytes = on_bytes,
                         .ud = ud,
                         .dfd = -1};
    if (md5) {
        s->md5 = EVP_MD_CTX_new();
        EVP_DigestInit_ex(s->md5, EVP_md5(), NULL);
    }
    if (keep) {
        s->buf = keep;
        s->cap = (size_t)len;
    } else {
        s->cap = len < FDSINK_BUF ? (size_t)(len ? len : 1) : FDSINK_BUF;
        void *p = NULL;
        s->buf = posix_memalign(&p, PAGE_ALIGN, s->cap) == 0 ? p : xmalloc(s->cap);
        s->own = 1;
    }
}

void http_fdsink_dispose(http_fdsink_t *s)
{
    if (s->md5)
        EVP_MD_CTX_free(s->md5);
    if (s->segs)
        digest_dispose(&s->segd);
    if (s->own)
        free(s->buf);
    s->md5 = NULL;
    s->buf = NULL;
}

void http_fdsink_reset(void *ud)
{
    http_fdsink_t *s = ud;
    s->off = s->start;
    s->used = s->flushed = 0;
    s->over = 0;
    if (s->md5)
        EVP_DigestInit_ex(s->md5, EVP_md5(), NULL);
    if (s->segs) { /* (a piece's digest may be part-taken) */
        digest_t ignored;
        digest_final(&s->segd, ignored);
        s->nsegs = 0;
    }
}

uint64_t http_fdsink_kept(void *ud)
{
    http_fdsink_t *s = ud;
    /* (bytes past what was asked for, or a failed write: nothing to build on) */
    return s->over || s->werr ? 0 : s->off - s->start;
}

void http_fdsink_segments(http_fdsink_t *s, uint64_t seg, digest_kind_t kind, digest_t *out)
{
    s->seg = seg ? seg : 1;
    s->segs = out;
    s->nsegs = 0;
    digest_init(&s->segd, kind);
}

void http_fdsink_segments_end(http_fdsink_t *s)
{
    if (s->segs && (s->off - s->start) % s->seg)
        digest_final(&s->segd, s->segs[s->nsegs++]);
}

/* n bytes at p, the next of the body: into each segment's digest */
static void hash_segments(http_fdsink_t *s, const char *p, size_t n)
{
    uint64_t at = s->off - s->start;
    while (n) {
        uint64_t room = s->seg - at % s->seg;
        size_t k = room < n ? (size_t)room : n;
        digest_update(&s->segd, p, k);
        at += k, p += k, n -= k;
        if (at % s->seg == 0)
            digest_final(&s->segd, s->segs[s->nsegs++]);
    }
}

void http_fdsink_direct(http_fdsink_t *s, int dfd)
{
    if (s->own && !((uintptr_t)s->buf % PAGE_ALIGN))
        s->dfd = dfd;
}

/* The whole pages of what is to be written, through dfd; when the file
 * refuses an O_DIRECT write, dfd is dropped and the rest goes buffered. */
static void flush_direct(http_fdsink_t *s, uint64_t *at)
{
    size_t n = (s->used - s->flushed) & ~(size_t)(PAGE_ALIGN - 1);
    if (s->dfd < 0 || *at % PAGE_ALIGN || s->flushed % PAGE_ALIGN)
        return;
    while (n) {
        ssize_t w = pwrite(s->dfd, s->buf + s->flushed, n, (off_t)*at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0 || (size_t)w % PAGE_ALIGN) {
            if (w > 0) { /* (a short write: the rest goes the usual way) */
                s->flushed += (size_t)w;
                *at += (uint64_t)w;
            }
            s->dfd = -1;
            return;
        }
        s->flushed += (size_t)w;
        *at += (uint64_t)w;
        n -= (size_t)w;
    }
}

int http_fdsink_flush(http_fdsink_t *s)
{
    uint64_t at = s->off - (s->used - s->flushed);
    flush_direct(s, &at);
    while (s->flushed < s->used) {
        ssize_t w = pwrite(s->fd, s->buf + s->flushed, s->used - s->flushed, (off_t)at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            s->werr = errno;
            return -1;
        }
        s->flushed += (size_t)w;
        at += (uint64_t)w;
    }
    if (s->own)
        s->used = s->flushed = 0; /* the buffer is used again; a caller's keeps it all */
    return 0;
}

size_t http_fdsink_write(void *ud, const char *p, size_t n)
{
    http_fdsink_t *s = ud;
    if (s->off - s->start + n > s->len) {
        s->over = 1; /* a range ignored: never write past what was asked */
        return 0;
    }
    if (s->segs)
        hash_segments(s, p, n);
    else if (s->md5)
        EVP_DigestUpdate(s->md5, p, n);
    size_t taken = 0;
    while (taken < n) {
        size_t k = s->cap - s->used < n - taken ? s->cap - s->used : n - taken;
        memcpy(s->buf + s->used, p + taken, k);
        s->used += k;
        s->off += k;
        taken += k;
        if ((s->used == s->cap || s->used - s->flushed >= FDSINK_BUF) && http_fdsink_flush(s))
            return 0;
    }
    uint64_t got = s->off - s->start;
    if (got > s->reported && s->on_bytes) {
        s->on_bytes(s->ud, got - s->reported);
        s->reported = got;
    }
    return n;
}

int http_fdsink_md5(http_fdsink_t *s, unsigned char out[16])
{
    unsigned int ml = 0;
    if (!s->md5 || !EVP_DigestFinal_ex(s->md5, out, &ml) || ml != 16)
        return -1;
    EVP_MD_CTX_free(s->md5);
    s->md5 = NULL;
    return 0;
}
