/* A mount's reads: each file's blocks (MOUNT_BLOCK bytes) are fetched once,
 * by a pool of workers (each with its own store handle), into a sparse file
 * on local disk, pinned to the listed ETag; a reader waits for the blocks
 * it needs, which go to the front of the queue, while a sequential reader's
 * next blocks are fetched ahead at the back. Memory: the queue and one
 * byte per block; the bytes themselves live in the page cache and on disk. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "log.h"
#include "mount_int.h"
#include "path.h"
#include "xalloc.h"

/* The node cache holds the listed version whole (a download of an earlier
 * run, say): the file is read from it, with no request. */
static int from_cache(mount_t *m, const node_t *nd, mfile_t *f)
{
    if (!m->cache || !nd->etag)
        return 0;
    cache_obj_t obj = {.lock_fd = -1};
    ferr_t err = FERR_INIT;
    /* (not waiting: m->mu is held; one being filled elsewhere is fetched here) */
    if (cache_try_acquire(m->cache, m->store_id, nd->remote, nd->etag, &obj, &err) == 0 &&
        obj.valid)
        f->fd = open(obj.path, O_RDONLY | O_CLOEXEC);
    cache_release(&obj);
    ferr_clear(&err);
    if (f->fd < 0)
        return 0;
    memset(f->state, B_HERE, f->nblocks);
    f->here = f->nblocks;
    f->cached = 1;
    m->cached_open += nd->size;
    log_debug("%s: %s is read from the node cache", m->label, nd->remote);
    return 1;
}

/* A file now whole on local disk goes into the node cache (linked, not
 * copied), so a later download or mount of it moves nothing. */
static int to_cache(mount_t *m, const node_t *nd, int fd)
{
    int linked = 0;
    cache_obj_t obj = {.lock_fd = -1};
    ferr_t err = FERR_INIT;
    if (cache_try_acquire(m->cache, m->store_id, nd->remote, nd->etag, &obj, &err) == 0 &&
        !obj.valid) {
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        unlink(obj.path);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, obj.path, AT_SYMLINK_FOLLOW) == 0) {
            cache_commit(&obj);
            linked = 1;
        } else {
            log_debug("%s: %s not kept in the node cache: %s", m->label, nd->remote,
                      strerror(errno));
        }
    }
    cache_release(&obj);
    ferr_clear(&err);
    return linked;
}

/* With m->mu held: the file's block state, made at the first need. */
static mfile_t *file_of(mount_t *m, uint32_t idx)
{
    node_t *nd = &m->nodes[idx];
    if (nd->f)
        return nd->f;
    mfile_t *f = xcalloc(1, sizeof *f);
    f->fd = -1;
    f->nblocks = (uint32_t)((nd->size + MOUNT_BLOCK - 1) / MOUNT_BLOCK);
    f->state = xcalloc(f->nblocks ? f->nblocks : 1, 1);
    f->pins = xcalloc(f->nblocks ? f->nblocks : 1, 1);
    if (from_cache(m, nd, f)) {
        nd->f = f;
        return f;
    }
    /* nameless: nothing is left on disk when the mount ends, however it ends */
    f->fd = open(m->blocks_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (f->fd < 0) {
        char *path = xasprintf("%s/%u", m->blocks_dir, idx);
        f->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        unlink(path);
        free(path);
    }
    if (f->fd < 0)
        log_error("%s: cannot make a file in %s: %s", m->label, m->blocks_dir, strerror(errno));
    else if (ftruncate(f->fd, (off_t)nd->size) != 0)
        log_error("%s: cannot size a file in %s: %s", m->label, m->blocks_dir, strerror(errno));
    nd->f = f;
    return f;
}

/* With m->mu held: queue block b of idx unless it is here or on its way. */
static void enqueue(mount_t *m, uint32_t idx, uint32_t b, int front)
{
    mfile_t *f = file_of(m, idx);
    if (b >= f->nblocks || f->state[b] == B_HERE || f->state[b] == B_FETCHING)
        return;
    if (f->state[b] == B_FAILED && !front)
        return; /* read ahead does not try a failed block again; a reader does */
    if (m->qlen == m->qcap) {
        if (!front)
            return; /* the read-ahead queue is full: that is its bound */
        size_t cap = m->qcap * 2;
        job_t *q = xcalloc(cap, sizeof *q);
        for (size_t i = 0; i < m->qlen; i++)
            q[i] = m->queue[(m->qhead + i) % m->qcap];
        free(m->queue);
        m->queue = q;
        m->qhead = 0;
        m->qcap = cap;
    }
    f->state[b] = B_FETCHING;
    if (front) {
        m->qhead = (m->qhead + m->qcap - 1) % m->qcap;
        m->queue[m->qhead] = (job_t){idx, b};
    } else {
        m->queue[(m->qhead + m->qlen) % m->qcap] = (job_t){idx, b};
    }
    m->qlen++;
    pthread_cond_signal(&m->work);
}

/* With m->mu held: the bytes of file f's blocks that may go (those behind
 * block `before` for the file being fetched into; all of another's), punched
 * out of its file. */
static uint64_t drop_blocks(mount_t *m, node_t *nd, uint32_t before)
{
    mfile_t *f = nd->f;
    uint64_t freed = 0;
    for (uint32_t b = 0; b < f->nblocks && b < before; b++) {
        if (f->state[b] != B_HERE || f->pins[b])
            continue;
        uint64_t off = (uint64_t)b * MOUNT_BLOCK;
        uint64_t len = nd->size - off < MOUNT_BLOCK ? nd->size - off : MOUNT_BLOCK;
        if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) !=
            0)
            continue; /* a filesystem that cannot punch: the block stays, and counts */
        f->state[b] = B_ABSENT;
        f->here--;
        f->held -= len;
        freed += len;
    }
    m->held -= freed;
    return freed;
}

/* With m->mu held: a file the node cache holds whole is closed; a later
 * read opens it from the cache again (or fetches it, if the cache let it go). */
static void close_cached(mount_t *m, node_t *nd)
{
    mfile_t *f = nd->f;
    close(f->fd);
    f->fd = -1;
    m->cached_open -= m->cached_open < nd->size ? m->cached_open : nd->size;
}

/* With m->mu held: f was closed by close_cached: open it again, from the
 * cache, or as a new file of absent blocks. */
static void reopen(mount_t *m, uint32_t idx, mfile_t *f)
{
    node_t *nd = &m->nodes[idx];
    f->cached = 0;
    f->here = 0;
    memset(f->state, B_ABSENT, f->nblocks);
    if (from_cache(m, nd, f))
        return;
    f->fd = open(m->blocks_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (f->fd >= 0 && ftruncate(f->fd, (off_t)nd->size) != 0) {
        close(f->fd);
        f->fd = -1;
    }
}

/* With m->mu held: room for len more bytes of blocks, made by dropping the
 * blocks of the files read longest ago (and those a sequential reader has
 * left behind); a file being copied from keeps its blocks. */
static void make_room(mount_t *m, uint32_t keep, uint32_t keep_block, uint64_t len)
{
    /* files in the order they were last read, each looked at once */
    uint64_t after = 0;
    int first = 1;
    while (m->disk_limit && m->held + m->cached_open + len > m->disk_limit) {
        uint32_t victim = UINT32_MAX;
        for (uint32_t i = 0; i < m->n; i++) {
            mfile_t *f = m->nodes[i].f;
            int may = f && ((f->held && !f->cached) ||
                            (f->cached && !f->linking && f->fd >= 0 && i != keep && !f->readers));
            if (may && (first || f->used > after) &&
                (victim == UINT32_MAX || f->used < m->nodes[victim].f->used))
                victim = i;
        }
        if (victim == UINT32_MAX)
            return; /* nothing may go now: over the bound for a while */
        first = 0;
        after = m->nodes[victim].f->used;
        if (m->nodes[victim].f->cached) { /* the cache keeps it; the mount lets go */
            close_cached(m, &m->nodes[victim]);
            continue;
        }
        drop_blocks(m, &m->nodes[victim], victim == keep ? keep_block : UINT32_MAX);
    }
}

static int fetch(mount_t *m, store_t *s, job_t j)
{
    pthread_mutex_lock(&m->mu);
    node_t *nd = &m->nodes[j.node];
    int fd = nd->f->fd;
    int changed = nd->f->changed;
    uint64_t off0 = (uint64_t)j.block * MOUNT_BLOCK;
    uint64_t want = nd->size - off0 < MOUNT_BLOCK ? nd->size - off0 : MOUNT_BLOCK;
    make_room(m, j.node, j.block, want);
    m->held += want; /* reserved while it travels: workers together stay within the bound */
    if (m->held + m->cached_open > m->peak_held) /* (the cache's files it holds open too) */
        m->peak_held = m->held + m->cached_open;
    pthread_mutex_unlock(&m->mu);
    if (fd < 0 || changed)
        return -1;
    uint64_t off = (uint64_t)j.block * MOUNT_BLOCK;
    uint64_t len = nd->size - off < MOUNT_BLOCK ? nd->size - off : MOUNT_BLOCK;
    ferr_t err = FERR_INIT;
    int rc = store_read(s, nd->remote, nd->etag, off, len, fd, off, NULL, NULL, &err);
    if (rc) {
        int gone = err.msg && strstr(err.msg, "changed in the datastore");
        log_error("%s: reading %s: %s", m->label, nd->remote, err.msg ? err.msg : "failed");
        pthread_mutex_lock(&m->mu);
        if (gone)
            nd->f->changed = 1;
        pthread_mutex_unlock(&m->mu);
    }
    ferr_clear(&err);
    return rc;
}

typedef struct wctx {
    mount_t *m;
    int i;
} wctx_t;

static void *worker(void *arg)
{
    wctx_t *w = arg;
    mount_t *m = w->m;
    store_t *s = m->handles[w->i];
    free(w);
    pthread_mutex_lock(&m->mu);
    for (;;) {
        while (!m->qlen && !m->stopping)
            pthread_cond_wait(&m->work, &m->mu);
        if (m->stopping)
            break;
        job_t j = m->queue[m->qhead];
        m->qhead = (m->qhead + 1) % m->qcap;
        m->qlen--;
        pthread_mutex_unlock(&m->mu);
        int rc = fetch(m, s, j);
        pthread_mutex_lock(&m->mu);
        mfile_t *f = m->nodes[j.node].f;
        f->state[j.block] = rc ? B_FAILED : B_HERE;
        if (rc) {
            uint64_t off = (uint64_t)j.block * MOUNT_BLOCK, size = m->nodes[j.node].size;
            m->held -= size - off < MOUNT_BLOCK ? size - off : MOUNT_BLOCK;
        }
        if (rc == 0) {
            uint64_t off = (uint64_t)j.block * MOUNT_BLOCK, size = m->nodes[j.node].size;
            uint64_t got = size - off < MOUNT_BLOCK ? size - off : MOUNT_BLOCK;
            m->fetched_bytes += got;
            m->fetched_blocks++;
            f->held += got; /* m->held has it since fetch reserved it */
            if (++f->here == f->nblocks && m->cache && !f->cached && m->nodes[j.node].etag) {
                /* handed to the cache: never punched again (it is the cache's
                 * object now), and counted by the cache, not here */
                f->cached = 1;
                f->linking = 1; /* its fd stays open until it is linked */
                int fd = f->fd;
                pthread_mutex_unlock(&m->mu);
                int linked = to_cache(m, &m->nodes[j.node], fd);
                pthread_mutex_lock(&m->mu);
                f->linking = 0;
                f->cached = linked;
                if (linked) {
                    m->held -= f->held;
                    f->held = 0;
                    m->cached_open += m->nodes[j.node].size;
                    m->linked += m->nodes[j.node].size;
                }
                /* what the mount gives the cache is trimmed to its limit as it goes */
                if (m->disk_limit && m->linked > m->disk_limit / 4) {
                    m->linked = 0;
                    pthread_mutex_unlock(&m->mu);
                    cache_trim(m->cache);
                    pthread_mutex_lock(&m->mu);
                }
            }
        }
        pthread_cond_broadcast(&m->landed);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

static uint64_t block_size = 8u << 20;
static pthread_once_t block_once = PTHREAD_ONCE_INIT;

static void block_init(void)
{
    const char *v = getenv("FERRY_MOUNT_BLOCK_MIB");
    long mib = v ? strtol(v, NULL, 10) : 0;
    if (mib >= 1 && mib <= 64)
        block_size = (uint64_t)mib << 20;
}

uint64_t mount_block_size(void)
{
    pthread_once(&block_once, block_init);
    return block_size;
}

int mb_start(mount_t *m, int concurrency, ferr_t *err)
{
    int n = concurrency > 0 ? concurrency : 8;
    m->qcap = (size_t)n * 4;
    m->queue = xcalloc(m->qcap, sizeof *m->queue);
    m->workers = xcalloc((size_t)n, sizeof *m->workers);
    m->handles = xcalloc((size_t)n, sizeof *m->handles);
    for (int i = 0; i < n; i++) {
        if (store_open(&m->handles[i], m->ds, err))
            return -1;
        wctx_t *w = xcalloc(1, sizeof *w);
        *w = (wctx_t){m, i};
        if (pthread_create(&m->workers[i], NULL, worker, w) != 0) {
            free(w);
            store_close(m->handles[i]);
            m->handles[i] = NULL;
            return ferr_set(err, FERR_INTERNAL, "cannot start the mount's workers");
        }
        m->nworkers++;
    }
    return 0;
}

void mb_stop(mount_t *m)
{
    pthread_mutex_lock(&m->mu);
    m->stopping = 1;
    pthread_cond_broadcast(&m->work);
    pthread_cond_broadcast(&m->landed);
    pthread_mutex_unlock(&m->mu);
    for (int i = 0; i < m->nworkers; i++)
        pthread_join(m->workers[i], NULL);
    for (int i = 0; m->handles && i < m->nworkers; i++)
        store_close(m->handles[i]);
    free(m->workers);
    free(m->handles);
    free(m->queue);
}

/* With m->mu held: waits until blocks [first, last] are here; -errno if one
 * cannot be had. */
static int wait_blocks(mount_t *m, uint32_t idx, uint32_t first, uint32_t last)
{
    mfile_t *f = m->nodes[idx].f;
    for (uint32_t b = first; b <= last; b++)
        if (f->state[b] != B_HERE)
            enqueue(m, idx, b, 1);
    for (uint32_t b = first; b <= last;) {
        if (f->changed || m->stopping)
            return -EIO;
        if (f->state[b] == B_HERE) {
            b++;
            continue;
        }
        if (f->state[b] == B_FAILED)
            return -EIO;
        if (f->state[b] == B_ABSENT) {
            enqueue(m, idx, b, 1); /* dropped for room since it was asked for */
            continue;
        }
        pthread_cond_wait(&m->landed, &m->mu);
        /* while this waited, a block seen here may have been dropped for
         * room: all of them are looked at again */
        b = first;
    }
    return 0;
}

int mb_read(mount_t *m, uint32_t idx, char *buf, size_t size, uint64_t off)
{
    node_t *nd = &m->nodes[idx];
    if (off >= nd->size || size == 0)
        return 0;
    if (size > nd->size - off)
        size = (size_t)(nd->size - off);
    uint32_t first = (uint32_t)(off / MOUNT_BLOCK);
    uint32_t last = (uint32_t)((off + size - 1) / MOUNT_BLOCK);
    pthread_mutex_lock(&m->mu);
    mfile_t *f = file_of(m, idx);
    if (f->fd < 0 && f->cached)
        reopen(m, idx, f);
    int rc = f->fd < 0 ? -EIO : wait_blocks(m, idx, first, last);
    /* a sequential reader: the next blocks are fetched ahead, as many as
     * there are workers */
    if (rc == 0 && (off == 0 || off == f->next))
        for (uint32_t b = last + 1; b <= last + (uint32_t)m->nworkers && b < f->nblocks; b++)
            enqueue(m, idx, b, 0);
    f->next = off + size;
    f->used = ++m->tick;
    int fd = f->fd;
    for (uint32_t b = first; rc == 0 && b <= last; b++)
        f->pins[b]++; /* the blocks stay while they are copied */
    f->readers += rc == 0;
    pthread_mutex_unlock(&m->mu);
    if (rc)
        return rc;
    rc = path_pread_full(fd, buf, size, off) != 0 ? -EIO : (int)size;
    pthread_mutex_lock(&m->mu);
    for (uint32_t b = first; b <= last; b++)
        f->pins[b]--;
    f->readers--;
    pthread_mutex_unlock(&m->mu);
    return rc;
}
