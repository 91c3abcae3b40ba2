#define _GNU_SOURCE
#include "xfer_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "array.h"
#include "base64.h"
#include "cache.h"
#include "http.h"
#include "log.h"
#include "partial.h"
#include "path.h"
#include "progress.h"
#include "xalloc.h"

xfer_item_t *xfer_result_add(xfer_result_t *r, const char *local, const char *remote, uint64_t size)
{
    return xf_add_item(r, local, remote, size);
}

xfer_item_t *xf_add_item(xfer_result_t *r, const char *local, const char *remote, uint64_t size)
{
    if (ARRAY_ROOM(r->items, r->n, r->cap, 64))
        return NULL;
    xfer_item_t *it = &r->items[r->n++];
    it->local = local ? xstrdup(local) : NULL;
    it->remote = remote ? xstrdup(remote) : NULL;
    it->size = size;
    it->status = XFER_FAILED;
    it->etag = it->md5 = NULL;
    return it;
}

void xfer_result_free(xfer_result_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].local);
        free(r->items[i].remote);
        free(r->items[i].etag);
        free(r->items[i].md5);
    }
    free(r->items);
    memset(r, 0, sizeof *r);
}

char *xfer_summary(const char *verb, const xfer_result_t *r)
{
    char b[32], rate[32];
    double s = r->seconds > 0 ? r->seconds : 1e-9;
    progress_human(r->bytes, b, sizeof b);
    /* the rate counts what moved now, not what an earlier attempt left */
    uint64_t moved = r->bytes > r->resumed ? r->bytes - r->resumed : 0;
    progress_human((uint64_t)((double)moved / s), rate, sizeof rate);
    char *out = NULL;
    char unchanged[48] = "", cached[48] = "", resumed[64] = "";
    if (r->unchanged)
        snprintf(unchanged, sizeof unchanged, " (%llu unchanged)",
                 (unsigned long long)r->unchanged);
    if (r->cached)
        snprintf(cached, sizeof cached, ", %llu from the cache", (unsigned long long)r->cached);
    if (r->resumed) {
        char rb[32];
        progress_human(r->resumed, rb, sizeof rb);
        snprintf(resumed, sizeof resumed, ", %s of it already there", rb);
    }
    if (asprintf(&out, "%s %llu file%s (%s%s%s), %llu skipped%s, %llu failed, in %.2f s (%s/s)",
                 verb, (unsigned long long)r->files, r->files == 1 ? "" : "s", b, cached, resumed,
                 (unsigned long long)r->skipped, unchanged, (unsigned long long)r->failed,
                 r->seconds, rate) < 0)
        return NULL;
    return out;
}

/* ===================================================================== *
 * The engine: a bounded pool of workers, each with its own handle on the
 * store (its own connection), fed from a queue while the listing or the
 * folder scan is still producing. Large files move as blocks in parallel:
 * downloads are written in place (pwrite) into a preallocated temporary
 * file renamed when whole; uploads are staged blocks committed at the end.
 * Memory: about one block per worker for uploads, nothing per block for
 * downloads beyond libcurl's buffers.
 * ===================================================================== */

int xfer_default_concurrency(const store_t *s)
{
    const char *env = getenv("FERRY_CONCURRENCY");
    if (env && atoi(env) > 0)
        return atoi(env) > XFER_MAX_CONCURRENCY ? XFER_MAX_CONCURRENCY : atoi(env);
    if (!(store_caps(s) & STORE_CAP_CLONE))
        return 1;
    /* a remote store waits on the network: many at once; a local one on the disk */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (!(store_caps(s) & STORE_CAP_REMOTE))
        return cpus > 1 ? (int)(cpus * 2) : 2;
    return 16;
}

uint64_t xfer_block(int *set)
{
    /* read once (it is asked per file): 0 unset, else the MiB asked for */
    static long mib = -1;
    long m = __atomic_load_n(&mib, __ATOMIC_RELAXED);
    if (m < 0) {
        const char *v = getenv("FERRY_BLOCK_MIB");
        m = v ? strtol(v, NULL, 10) : 0;
        m = m >= 1 && m <= 64 ? m : 0;
        __atomic_store_n(&mib, m, __ATOMIC_RELAXED);
    }
    if (set)
        *set = m != 0;
    return m ? (uint64_t)m << 20 : XFER_BLOCK;
}

void xf_on_bytes(void *ud, uint64_t n)
{
    engine_t *e = ud;
    pthread_mutex_lock(&e->mu);
    progress_bytes(e->pg, n);
    pthread_mutex_unlock(&e->mu);
}

/* --- xattrs: what ferry knows about a local file, valid while it is unchanged --- */

void xf_account_locked(engine_t *e, size_t idx, int ok, const char *error)
{
    xfer_item_t *it = &e->res->items[idx];
    if (!ok) {
        it->status = XFER_FAILED;
        e->res->failed++;
        size_t rl = strlen(it->remote);
        if (error && !strncmp(error, it->remote, rl) && error[rl] == ':')
            log_error("%s", error); /* (it names the file already) */
        else
            log_error("%s: %s", it->remote, error ? error : "failed");
        progress_file_failed(e->pg);
    } else if (it->status == XFER_SKIPPED) {
        e->res->skipped++;
        progress_file_done(e->pg, it->size);
    } else {
        it->status = XFER_DONE;
        e->res->files++;
        e->res->bytes += it->size;
        log_debug("%s -> %s", it->remote, it->local);
        progress_file_done(e->pg, 0);
    }
}

/* A target left as it is: the same as the source (unchanged), or there
 * already and not to be replaced. Under e->mu. */
void xf_account_skip_locked(engine_t *e, size_t idx, int unchanged)
{
    xfer_item_t *it = &e->res->items[idx];
    it->status = XFER_SKIPPED;
    if (unchanged) {
        e->res->unchanged++;
        log_debug("unchanged %s", it->local);
    } else {
        log_debug("skipped %s (exists; --overwrite replaces it)", it->local);
    }
    xf_account_locked(e, idx, 1, NULL);
}

void xf_account(engine_t *e, size_t idx, int ok, const char *error)
{
    pthread_mutex_lock(&e->mu);
    xf_account_locked(e, idx, ok, error);
    pthread_mutex_unlock(&e->mu);
}

void xf_set_item_meta(engine_t *e, size_t idx, const char *etag, const char *md5)
{
    pthread_mutex_lock(&e->mu);
    xfer_item_t *it = &e->res->items[idx];
    free(it->etag);
    free(it->md5);
    it->etag = etag && *etag ? xstrdup(etag) : NULL;
    it->md5 = md5 && *md5 ? xstrdup(md5) : NULL;
    pthread_mutex_unlock(&e->mu);
}

void xf_file_free(xf_file_t *f)
{
    if (!f)
        return;
    if (f->dfd >= 0)
        close(f->dfd);
    free(f->name);
    free(f->local);
    free(f->tmp);
    free(f->want_md5);
    free(f->digests);
    free(f->etag);
    free(f->done);
    free(f->error);
    free(f->ids);
    for (size_t i = 0; i < f->nheld; i++)
        free(f->held[i]);
    free(f->held);
    free(f->held_at);
    cache_release(&f->obj);
    free(f->place);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

/* A buffer of at least n bytes for a block: a spare one if there is (out
 * of memory, ferry stops, as everywhere: xalloc.h). */
static xbuf_t buf_take(engine_t *e, size_t n)
{
    xbuf_t b = {0};
    pthread_mutex_lock(&e->mu);
    if (e->nspare)
        b = e->spare[--e->nspare];
    if (b.n < n) { /* blocks grow for very large files: the buffer grows with them */
        e->nbufs += !b.p;
        e->bufs_bytes += n - b.n;
    }
    pthread_mutex_unlock(&e->mu);
    if (b.n < n) {
        free(b.p); /* (its bytes are of no use) */
        b = (xbuf_t){xmalloc(n), n};
    }
    return b;
}

static void buf_give_locked(engine_t *e, xbuf_t *b)
{
    if (e->nspare < (int)(sizeof e->spare / sizeof e->spare[0]))
        e->spare[e->nspare++] = *b;
    else
        free(b->p);
    *b = (xbuf_t){0};
}

static void run_task(engine_t *e, store_t *s, xf_task_t *t)
{
    double end = http_budget_end();
    if (end > 0 && progress_now() > end) {
        /* out of time: the file fails whole, as any failed block would fail it */
        pthread_mutex_lock(&t->f->mu);
        t->f->failed = 1;
        if (!t->f->error)
            t->f->error = xstrdup("the upload budget ran out before this file was sent");
        pthread_mutex_unlock(&t->f->mu);
        if (t->f->nchunks == 1) {
            xf_account(e, t->f->item, 0, t->f->error);
            xf_file_free(t->f);
            return;
        }
    }
    int buffered = t->f->upload || t->f->in_order; /* (others stream through the store's) */
    xbuf_t buf = t->f->nchunks > 1 && buffered ? buf_take(e, t->f->block) : (xbuf_t){0};
    if (t->f->upload)
        xf_run_upload(e, s, t->f, t->chunk, &buf);
    else
        xf_run_download(e, s, t->f, t->chunk, buf.p);
    if (buf.p) {
        pthread_mutex_lock(&e->mu);
        buf_give_locked(e, &buf);
        pthread_mutex_unlock(&e->mu);
    }
}

void xf_chunk_out(engine_t *e, xf_file_t *f, xbuf_t *buf)
{
    if (f->nchunks == 1)
        return;
    pthread_mutex_lock(&e->mu);
    if (buf && buf->p)
        buf_give_locked(e, buf);
    f->inflight--;
    pthread_cond_broadcast(&e->work);
    pthread_mutex_unlock(&e->mu);
}

/* The first queued task whose file may take another worker; unlinked. */
static xf_task_t *take_task(engine_t *e)
{
    xf_task_t *prev = NULL;
    for (xf_task_t *t = e->head; t; prev = t, t = t->next) {
        if (t->f->nchunks > 1 && t->f->inflight >= PER_FILE_MAX)
            continue;
        if (prev)
            prev->next = t->next;
        else
            e->head = t->next;
        if (e->tail == t)
            e->tail = prev;
        e->queued--;
        if (t->f->nchunks > 1)
            t->f->inflight++;
        return t;
    }
    return NULL;
}

static void *worker(void *arg)
{
    engine_t *e = arg;
    pthread_mutex_lock(&e->mu);
    store_t *s = e->handles[e->next_handle++];
    pthread_mutex_unlock(&e->mu);
    for (;;) {
        pthread_mutex_lock(&e->mu);
        xf_task_t *t;
        while (!(t = take_task(e)) && !(e->closing && !e->head))
            pthread_cond_wait(&e->work, &e->mu);
        if (!t) {
            pthread_mutex_unlock(&e->mu);
            break;
        }
        /* a waiting producer is woken when half the queue is free, not per
         * task: a wake-up for every small file costs more than the file */
        if (e->pushers_waiting && e->queued <= QUEUE_MAX / 2)
            pthread_cond_broadcast(&e->space);
        pthread_mutex_unlock(&e->mu);
        run_task(e, s, t);
        free(t);
    }
    return NULL;
}

void engine_start(engine_t *e, store_t *s, const xfer_opts_t *o, xfer_result_t *res,
                  const char *label)
{
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->work, NULL);
    pthread_cond_init(&e->space, NULL);
    e->main = s;
    e->o = o;
    e->res = res;
    e->pg = progress_start(label);
    int want = o->concurrency > 0 ? o->concurrency : xfer_default_concurrency(s);
    if (want > XFER_MAX_CONCURRENCY)
        want = XFER_MAX_CONCURRENCY;
    /* without a second handle, the producer does the work itself */
    for (int i = 0; (store_caps(s) & STORE_CAP_CLONE) && i < want; i++) {
        ferr_t err = FERR_INIT;
        if (store_clone(s, &e->handles[i], &err)) {
            log_debug("a transfer worker could not start: %s", err.msg);
            ferr_clear(&err);
            break;
        }
        e->nthreads++;
    }
    for (int i = 0; i < e->nthreads; i++)
        if (pthread_create(&e->th[i], NULL, worker, e) != 0) {
            store_close(e->handles[i]);
            e->handles[i] = NULL;
            /* the handles after a failed start are closed at the end */
            for (int j = i + 1; j < e->nthreads; j++) {
                store_close(e->handles[j]);
                e->handles[j] = NULL;
            }
            e->nthreads = i;
            break;
        }
    log_debug("%s: %d worker%s", label, e->nthreads, e->nthreads == 1 ? "" : "s");
}

void engine_push(engine_t *e, xf_file_t *f)
{
    /* f is gone once its last chunk is done; a resumed download starts
     * after the blocks already there */
    uint32_t n = f->nchunks, first = f->upload ? 0 : f->contig;
    for (uint32_t c = first; c < n; c++) {
        xf_task_t *t = xcalloc(1, sizeof *t);
        t->f = f;
        t->chunk = c;
        if (!e->nthreads) {
            run_task(e, e->main, t);
            free(t);
            continue;
        }
        pthread_mutex_lock(&e->mu);
        while (e->queued >= QUEUE_MAX) {
            e->pushers_waiting++;
            pthread_cond_wait(&e->space, &e->mu);
            e->pushers_waiting--;
        }
        if (e->tail)
            e->tail->next = t;
        else
            e->head = t;
        e->tail = t;
        e->queued++;
        pthread_cond_signal(&e->work);
        pthread_mutex_unlock(&e->mu);
    }
}

void engine_finish(engine_t *e)
{
    pthread_mutex_lock(&e->mu);
    e->closing = 1;
    pthread_cond_broadcast(&e->work);
    pthread_mutex_unlock(&e->mu);
    for (int i = 0; i < e->nthreads; i++)
        pthread_join(e->th[i], NULL);
    for (int i = 0; i < XFER_MAX_CONCURRENCY; i++)
        if (e->handles[i])
            store_close(e->handles[i]);
    if (e->nbufs)
        log_debug("%d block buffer%s, %.1f MiB in all", e->nbufs, e->nbufs == 1 ? "" : "s",
                  (double)e->bufs_bytes / (1 << 20));
    for (int i = 0; i < e->nspare; i++)
        free(e->spare[i].p);
    progress_end(e->pg);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->work);
    pthread_cond_destroy(&e->space);
}

/* Adds a result row and counts it in the totals; returns its index. */
size_t engine_item(engine_t *e, const char *local, const char *remote, uint64_t size,
                   const char *etag, const char *md5)
{
    pthread_mutex_lock(&e->mu);
    xfer_item_t *it = xf_add_item(e->res, local, remote, size);
    size_t idx = (size_t)-1;
    if (it) {
        it->etag = etag ? xstrdup(etag) : NULL;
        it->md5 = md5 ? xstrdup(md5) : NULL;
        idx = e->res->n - 1;
        e->files_total++;
        e->bytes_total += size;
        progress_total(e->pg, e->files_total, e->bytes_total);
    }
    pthread_mutex_unlock(&e->mu);
    return idx;
}

xf_file_t *xf_file_new(size_t idx, int upload, const char *name, const char *local, uint64_t size,
                       int chunked)
{
    xf_file_t *f = xcalloc(1, sizeof *f);
    f->item = idx;
    f->upload = upload;
    f->name = xstrdup(name);
    f->local = xstrdup(local);
    f->size = size;
    f->fd = -1;
    f->dfd = XF_DFD_UNOPENED;
    f->obj.lock_fd = -1; /* not 0: that is stdin, and closing it would free its number */
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    int set = 0;
    f->block = xfer_block(&set);
    if (chunked && upload && !set && size > (uint64_t)XFER_BLOCKS_GROW * f->block)
        f->block = XFER_BLOCK_LARGE;
    if (chunked) {
        /* grown so a file needs at most 50,000 blocks, as Azure allows */
        if (size / f->block >= 50000)
            f->block = ((size / 50000 + (1u << 20)) >> 20) << 20;
        f->nchunks = (uint32_t)((size + f->block - 1) / f->block);
        md5_init(&f->md5);
        if (upload)
            f->ids = xcalloc(f->nchunks, sizeof *f->ids);
    } else {
        f->nchunks = 1;
    }
    f->done = xcalloc(f->nchunks, 1);
    return f;
}

/* --- downloads --- */
