#define _GNU_SOURCE
#include "xfer.h"

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

static xfer_item_t *add_item(xfer_result_t *r, const char *local, const char *remote, uint64_t size)
{
    if (ARRAY_ROOM(r->items, r->n, r->cap, 64))
        return NULL;
    xfer_item_t *it = &r->items[r->n++];
    it->local = local ? strdup(local) : NULL;
    it->remote = remote ? strdup(remote) : NULL;
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

typedef struct xf_file {
    size_t item; /* index in res->items */
    int upload;
    char *name;  /* in the store */
    char *local; /* final local path */
    char *tmp;   /* downloads: the temporary name */
    uint64_t size, block;
    char *want_md5; /* downloads: the blob's MD5 from the listing */
    char *etag;
    int fd;
    uint32_t nchunks, finished, hashed;
    int inflight;  /* blocks being moved now (under the engine's lock) */
    uint8_t *done; /* per block: 1 moved, 2 failed */
    int failed, hashing, finalized;
    /* downloads into a partial file (partial.h): blocks on disk in one run
     * from the start, how many of them are recorded, and when */
    int resumable;
    uint32_t contig, saved;
    double saved_at;
    uint64_t resumed; /* bytes taken over from an earlier attempt */
    /* uploads in blocks: each block's id, and the ids the store already
     * holds for the name (sorted), so those blocks are not sent again */
    store_block_id_t *ids;
    char **held;
    size_t nheld, held_cap;
    size_t foreign_len; /* ids of blocks another tool staged for the name */
    char *error;
    EVP_MD_CTX *md5;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cache_obj_t obj; /* downloads through the cache: local is the object */
    char *place;     /* ... and this is where it goes once whole */
} xf_file_t;

typedef struct xf_task {
    struct xf_task *next;
    xf_file_t *f;
    uint32_t chunk;
} xf_task_t;

/* A worker's block buffer, as large as the largest block it has moved. */
typedef struct xbuf {
    char *p;
    size_t n;
} xbuf_t;

typedef struct engine {
    pthread_mutex_t mu;
    pthread_cond_t work, space;
    xf_task_t *head, *tail;
    size_t queued;
    int closing;
    store_t *main;
    int nthreads;
    pthread_t th[XFER_MAX_CONCURRENCY];
    store_t *handles[XFER_MAX_CONCURRENCY];
    const xfer_opts_t *o;
    xfer_result_t *res;
    progress_t *pg;
    uint64_t files_total, bytes_total;
    size_t next_handle;
    xbuf_t inline_buf; /* for work done by the producer itself */
} engine_t;

#define QUEUE_MAX 1024
/* Blocks of one file in flight at once: more only contend for the file's
 * inode lock and the server; the other workers take other files. */
#define PER_FILE_MAX 4
/* How often a partial download records its progress (partial.h): a
 * fdatasync each time, so not for every block. */
#define SAVE_EVERY 1.0

static void chunk_out(engine_t *e, xf_file_t *f);

static void on_bytes(void *ud, uint64_t n)
{
    engine_t *e = ud;
    pthread_mutex_lock(&e->mu);
    progress_bytes(e->pg, n);
    pthread_mutex_unlock(&e->mu);
}

/* --- xattrs: what ferry knows about a local file, valid while it is unchanged --- */

#define XATTR_NAME "user.ferry"

/* One attribute, "stamp\netag\nmd5": one system call to write, one to read. */
static void xattr_record(const char *path, const char *etag, const char *md5)
{
    struct stat st;
    char val[400];
    if (stat(path, &st) != 0)
        return;
    path_stamp(&st, val, sizeof val);
    size_t l = strlen(val);
    snprintf(val + l, sizeof val - l, "\n%s\n%s", etag ? etag : "", md5 ? md5 : "");
    /* best effort: a filesystem without user xattrs just forgoes the shortcut */
    setxattr(path, XATTR_NAME, val, strlen(val), 0);
}

/* The recorded etag or md5 (which: 1 or 2), if the file has not changed since. */
static int xattr_get(const char *path, const struct stat *st, int which, char *out, size_t n)
{
    char val[400], stamp[64];
    ssize_t l = getxattr(path, XATTR_NAME, val, sizeof val - 1);
    if (l <= 0)
        return -1;
    val[l] = 0;
    path_stamp(st, stamp, sizeof stamp);
    char *f1 = strchr(val, '\n');
    char *f2 = f1 ? strchr(f1 + 1, '\n') : NULL;
    if (!f2)
        return -1;
    *f1 = *f2 = 0;
    if (strcmp(val, stamp))
        return -1;
    const char *v = which == 1 ? f1 + 1 : f2 + 1;
    if (!*v || strlen(v) >= n)
        return -1;
    strcpy(out, v);
    return 0;
}

/* NULL when the file cannot be read whole */
static char *file_md5_b64(const char *path)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    ferr_t err = FERR_INIT;
    int rc = path_digest(path, EVP_md5(), md, &n, &err);
    if (rc)
        log_debug("%s", err.msg);
    ferr_clear(&err);
    return rc ? NULL : base64_encode(md, n);
}

/* --- accounting --- */

static void account_locked(engine_t *e, size_t idx, int ok, const char *error)
{
    xfer_item_t *it = &e->res->items[idx];
    if (!ok) {
        it->status = XFER_FAILED;
        e->res->failed++;
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
static void account_skip_locked(engine_t *e, size_t idx, int unchanged)
{
    xfer_item_t *it = &e->res->items[idx];
    it->status = XFER_SKIPPED;
    if (unchanged) {
        e->res->unchanged++;
        log_debug("unchanged %s", it->local);
    } else {
        log_debug("skipped %s (exists; --overwrite replaces it)", it->local);
    }
    account_locked(e, idx, 1, NULL);
}

static void account(engine_t *e, size_t idx, int ok, const char *error)
{
    pthread_mutex_lock(&e->mu);
    account_locked(e, idx, ok, error);
    pthread_mutex_unlock(&e->mu);
}

static void set_item_meta(engine_t *e, size_t idx, const char *etag, const char *md5)
{
    pthread_mutex_lock(&e->mu);
    xfer_item_t *it = &e->res->items[idx];
    free(it->etag);
    free(it->md5);
    it->etag = etag && *etag ? strdup(etag) : NULL;
    it->md5 = md5 && *md5 ? strdup(md5) : NULL;
    pthread_mutex_unlock(&e->mu);
}

static void file_free(xf_file_t *f)
{
    if (!f)
        return;
    free(f->name);
    free(f->local);
    free(f->tmp);
    free(f->want_md5);
    free(f->etag);
    free(f->done);
    free(f->error);
    free(f->ids);
    for (size_t i = 0; i < f->nheld; i++)
        free(f->held[i]);
    free(f->held);
    if (f->md5)
        EVP_MD_CTX_free(f->md5);
    cache_release(&f->obj);
    free(f->place);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}

/* A download that went into the cache: mark the object whole, put it in place. */
static int place_from_cache(xf_file_t *f, ferr_t *err)
{
    if (!f->place)
        return 0;
    cache_commit(&f->obj);
    if (cache_place(&f->obj, f->place, err))
        return -1;
    xattr_record(f->place, f->etag, f->want_md5);
    return 0;
}

static char *b64_final(EVP_MD_CTX *c)
{
    unsigned char md[16];
    unsigned int ml = 0;
    EVP_DigestFinal_ex(c, md, &ml);
    return base64_encode(md, ml);
}

/* --- the work itself --- */

/* A download whole (ok) in its temporary file: closes fd, gives the file
 * its final name; or, when anything failed, removes it. Returns ok. */
static int rename_into_place(xf_file_t *f, int fd, int ok, ferr_t *err)
{
    if (close(fd) != 0 && ok)
        ok = ferr_errno(err, FERR_IO, errno, "writing %s", f->local) == 0;
    if (ok && rename(f->tmp, f->local) != 0)
        ok = ferr_errno(err, FERR_IO, errno, "cannot rename into %s", f->local) == 0;
    if (!ok)
        unlink(f->tmp);
    return ok;
}

/* A download under its final name: placed from the cache into the target,
 * or recorded as what it is (ETag, MD5) for the next run. */
static int place_or_record(xf_file_t *f, ferr_t *err)
{
    if (f->place)
        return place_from_cache(f, err) == 0;
    xattr_record(f->local, f->etag, f->want_md5);
    return 1;
}

/* Everything about a chunked file is settled: rename or commit, or clean up. */
static void finalize(engine_t *e, store_t *s, xf_file_t *f)
{
    ferr_t err = FERR_INIT;
    int ok = !f->failed;
    if (!f->upload) {
        int bad = 0; /* the bytes are wrong: nothing of them is worth keeping */
        if (ok && f->want_md5) {
            char *got = b64_final(f->md5);
            if (got && strcmp(got, f->want_md5)) {
                ok = 0;
                bad = 1;
                ferr_set(&err, FERR_TRANSFER,
                         "content does not match the blob's MD5 (%s, got %s); the file was not "
                         "kept",
                         f->want_md5, got);
            }
            free(got);
        }
        partial_key_t key = {f->local, f->etag, f->size, f->block};
        if (f->resumable && ok) {
            if (partial_finish(f->fd, f->tmp, f->local) != 0) {
                ok = 0;
                ferr_errno(&err, FERR_IO, errno, "cannot put %s in place", f->local);
            }
        } else if (f->resumable && !bad && f->contig > 0 &&
                   partial_save(f->fd, &key, f->contig) == 0) {
            /* a network that stayed down, a budget that ran out: what arrived stays */
            close(f->fd);
            char kept[32];
            progress_human((uint64_t)f->contig * f->block, kept, sizeof kept);
            ferr_set(&err, FERR_TRANSFER,
                     "%s; the %s that arrived are kept in %s, and the next run "
                     "resumes from there",
                     f->error ? f->error : "failed", kept, f->tmp);
        } else if (f->resumable) {
            partial_drop(f->fd, f->tmp); /* while still locked: no one else can have taken it */
        } else {
            ok = rename_into_place(f, f->fd, ok, &err);
        }
        if (ok)
            ok = place_or_record(f, &err);
    } else {
        close(f->fd);
        if (ok) {
            char *md5 = b64_final(f->md5);
            store_put_t put = {0};
            ok = store_commit_blocks(s, f->name, f->ids, f->nchunks, md5 ? md5 : "", &put,
                                       &err) == 0;
            if (ok) {
                set_item_meta(e, f->item, put.etag, put.md5);
                xattr_record(f->local, NULL, md5);
            }
            free(md5);
        }
    }
    if (ok && f->resumed) {
        pthread_mutex_lock(&e->mu);
        e->res->resumed += f->resumed;
        pthread_mutex_unlock(&e->mu);
    }
    account(e, f->item, ok, err.msg ? err.msg : f->error);
    ferr_clear(&err);
    file_free(f);
}

/* A download chunk has landed: hash what is now contiguous, record progress
 * now and then, finalize when all is done. One thread at a time does that
 * work outside the file's lock ("hashing"); it loops until nothing is left. */
static void download_chunk_done(engine_t *e, store_t *s, xf_file_t *f, uint32_t i, int rc,
                                const char *msg, char *hbuf)
{
    pthread_mutex_lock(&f->mu);
    if (rc) {
        f->failed = 1;
        if (!f->error)
            f->error = strdup(msg ? msg : "failed");
    }
    f->done[i] = rc ? 2 : 1;
    f->finished++;
    while (f->contig < f->nchunks && f->done[f->contig] == 1)
        f->contig++;
    if (!f->hashing) {
        f->hashing = 1;
        for (;;) {
            if (f->want_md5 && !f->failed && f->hashed < f->nchunks && f->done[f->hashed] == 1) {
                uint32_t k = f->hashed;
                uint64_t off = (uint64_t)k * f->block;
                size_t n = (size_t)(f->size - off < f->block ? f->size - off : f->block);
                pthread_mutex_unlock(&f->mu);
                int r = path_pread_full(f->fd, hbuf, n, off);
                pthread_mutex_lock(&f->mu);
                if (r) {
                    f->failed = 1;
                    if (!f->error)
                        f->error = strdup("cannot read back a block to check the MD5");
                    break;
                }
                EVP_DigestUpdate(f->md5, hbuf, n);
                f->hashed++;
                continue;
            }
            if (f->resumable && f->contig > f->saved && f->finished < f->nchunks &&
                progress_now() - f->saved_at >= SAVE_EVERY) {
                uint32_t n = f->contig;
                pthread_mutex_unlock(&f->mu);
                int r =
                    partial_save(f->fd, &(partial_key_t){f->local, f->etag, f->size, f->block}, n);
                pthread_mutex_lock(&f->mu);
                f->saved_at = progress_now();
                if (r == 0)
                    f->saved = n;
                continue;
            }
            break;
        }
        f->hashing = 0;
    }
    int last = f->finished == f->nchunks && !f->hashing && !f->finalized &&
               (!f->want_md5 || f->failed || f->hashed == f->nchunks);
    if (last)
        f->finalized = 1;
    pthread_mutex_unlock(&f->mu);
    if (last)
        finalize(e, s, f);
}

static void run_download(engine_t *e, store_t *s, xf_file_t *f, uint32_t chunk, char *buf)
{
    ferr_t err = FERR_INIT;
    if (f->nchunks == 1) {
        /* a whole file: its own temporary name, checked by the store as it streams */
        int fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        int ok = fd >= 0 || ferr_errno(&err, FERR_IO, errno, "cannot create %s", f->tmp) == 0;
        if (ok)
            ok = store_read(s, f->name, NULL, 0, f->size, fd, 0, on_bytes, e, &err) == 0;
        if (fd >= 0)
            ok = rename_into_place(f, fd, ok, &err);
        if (ok)
            ok = place_or_record(f, &err);
        account(e, f->item, ok, err.msg);
        ferr_clear(&err);
        file_free(f);
        return;
    }
    uint64_t off = (uint64_t)chunk * f->block;
    uint64_t len = f->size - off < f->block ? f->size - off : f->block;
    pthread_mutex_lock(&f->mu);
    int skip = f->failed; /* another block failed: no point in moving this one */
    pthread_mutex_unlock(&f->mu);
    /* a block not fetched is not on disk: it must never count as done */
    /* one version only, across all the ranges (and the runs) that make the file */
    int rc = skip ? -1 : store_read(s, f->name, f->etag, off, len, f->fd, off, on_bytes, e, &err);
    /* start writing the block to disk now, while the others travel: the
     * syncs that make a partial's record and the final file durable then
     * find little left to do */
    if (rc == 0 && f->resumable)
        sync_file_range(f->fd, (off64_t)off, (off64_t)len, SYNC_FILE_RANGE_WRITE);
    chunk_out(e, f);
    download_chunk_done(e, s, f, chunk, rc, err.msg, buf);
    ferr_clear(&err);
}

static int held_add(void *ud, const char *id, size_t len, int committed)
{
    xf_file_t *f = ud;
    if (len != STORE_BLOCK_ID_LEN || memchr(id, 0, len)) {
        /* Azure takes a block only with an id as long as those already
         * staged: beside another tool's, ids of their length are used */
        if (!committed)
            f->foreign_len = len;
        return 0;
    }
    if (ARRAY_ROOM(f->held, f->nheld, f->held_cap, 64))
        return 0; /* fewer blocks reused, nothing worse */
    if ((f->held[f->nheld] = strdup(id)))
        f->nheld++;
    return 0;
}

static int held_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The id of block chunk: from its place and content, or, beside blocks
 * another tool staged, its number written out to their length. */
static int block_id(xf_file_t *f, uint32_t chunk, const unsigned char md5[16], ferr_t *err)
{
    size_t l = f->foreign_len;
    if (!l) {
        store_block_id(f->ids[chunk], chunk, md5);
        return 0;
    }
    uint64_t room = 1;
    for (size_t i = 0; i < l && room <= f->nchunks; i++)
        room *= 10;
    if (l > STORE_BLOCK_ID_MAX || room < f->nchunks)
        return ferr_set(err, FERR_TRANSFER,
                        "another tool left blocks staged for this blob with %zu-byte ids, too "
                        "short to number this file's %u blocks; Azure drops them a week after "
                        "they were staged, or when the blob is deleted or written whole",
                        l, f->nchunks);
    snprintf(f->ids[chunk], sizeof f->ids[chunk], "%0*u", (int)l, chunk);
    return 0;
}

static void run_upload(engine_t *e, store_t *s, xf_file_t *f, uint32_t chunk, char *buf)
{
    ferr_t err = FERR_INIT;
    if (f->nchunks == 1) {
        int fd = open(f->local, O_RDONLY | O_CLOEXEC | (e->o->follow_symlinks ? 0 : O_NOFOLLOW));
        int rc = fd < 0 ? ferr_errno(&err, FERR_IO, errno, "cannot read %s", f->local) : 0;
        store_put_t put = {0};
        if (rc == 0)
            rc = store_write(s, f->name, fd, f->size, on_bytes, e, &put, &err);
        if (fd >= 0)
            close(fd);
        if (rc == 0) {
            set_item_meta(e, f->item, put.etag, put.md5);
            if (put.md5[0])
                xattr_record(f->local, NULL, put.md5);
        }
        account(e, f->item, rc == 0, err.msg);
        ferr_clear(&err);
        file_free(f);
        return;
    }
    uint64_t off = (uint64_t)chunk * f->block;
    size_t len = (size_t)(f->size - off < f->block ? f->size - off : f->block);
    int rc = path_pread_full(f->fd, buf, len, off);
    if (rc)
        ferr_errno(&err, FERR_IO, errno ? errno : EIO, "cannot read %s", f->local);
    unsigned char bmd[16];
    if (rc == 0)
        EVP_Digest(buf, len, bmd, NULL, EVP_md5(), NULL);
    /* the first block asks what the store holds already (an interrupted
     * upload's blocks, or the blob's own): the others wait for it below */
    pthread_mutex_lock(&f->mu);
    int ask = chunk == 0 && (store_caps(s) & STORE_CAP_BLOCK_LIST) && !f->failed;
    pthread_mutex_unlock(&f->mu);
    if (ask) {
        ferr_t berr = FERR_INIT;
        if (store_blocks(s, f->name, held_add, f, &berr) != 0)
            log_debug("%s: cannot list its blocks (%s); sending them all", f->name, berr.msg);
        ferr_clear(&berr);
        if (f->nheld)
            qsort(f->held, f->nheld, sizeof *f->held, held_cmp);
    }
    /* the whole file's MD5 is taken in order, while blocks travel in parallel */
    pthread_mutex_lock(&f->mu);
    while (!f->failed && f->hashed != chunk)
        pthread_cond_wait(&f->cv, &f->mu);
    int skip = f->failed;
    if (!skip && rc == 0) {
        EVP_DigestUpdate(f->md5, buf, len);
        f->hashed++;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    if (!skip && rc == 0)
        rc = block_id(f, chunk, bmd, &err);
    const char *id = f->ids[chunk];
    int held =
        !skip && rc == 0 && f->nheld && bsearch(&id, f->held, f->nheld, sizeof *f->held, held_cmp);
    if (held) {
        pthread_mutex_lock(&f->mu);
        f->resumed += len;
        pthread_mutex_unlock(&f->mu);
        on_bytes(e, len);
    } else if (!skip && rc == 0) {
        rc = store_put_block(s, f->name, id, buf, len, bmd, &err);
        if (rc == 0)
            on_bytes(e, len);
    }
    chunk_out(e, f);
    pthread_mutex_lock(&f->mu);
    if (rc || skip) {
        f->failed = 1;
        if (rc && !f->error)
            f->error = strdup(err.msg ? err.msg : "failed");
        pthread_cond_broadcast(&f->cv);
    }
    f->finished++;
    int last = f->finished == f->nchunks;
    pthread_mutex_unlock(&f->mu);
    ferr_clear(&err);
    if (last)
        finalize(e, s, f);
}

static void run_task(engine_t *e, store_t *s, xf_task_t *t, xbuf_t *buf)
{
    double end = http_budget_end();
    if (end > 0 && progress_now() > end) {
        /* out of time: the file fails whole, as any failed block would fail it */
        pthread_mutex_lock(&t->f->mu);
        t->f->failed = 1;
        if (!t->f->error)
            t->f->error = strdup("the upload budget ran out before this file was sent");
        pthread_mutex_unlock(&t->f->mu);
        if (t->f->nchunks == 1) {
            account(e, t->f->item, 0, t->f->error);
            file_free(t->f);
            return;
        }
    }
    /* blocks grow for very large files: the buffer grows with them */
    if (t->f->nchunks > 1 && buf->n < t->f->block) {
        char *p = realloc(buf->p, t->f->block);
        if (p) {
            buf->p = p;
            buf->n = t->f->block;
        }
    }
    if (t->f->nchunks > 1 && buf->n < t->f->block) {
        pthread_mutex_lock(&t->f->mu);
        t->f->failed = 1;
        pthread_mutex_unlock(&t->f->mu);
    }
    if (t->f->upload)
        run_upload(e, s, t->f, t->chunk, buf->p);
    else
        run_download(e, s, t->f, t->chunk, buf->p);
}

static void chunk_out(engine_t *e, xf_file_t *f)
{
    if (f->nchunks == 1)
        return;
    pthread_mutex_lock(&e->mu);
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
    xbuf_t buf = {0};
    for (;;) {
        pthread_mutex_lock(&e->mu);
        xf_task_t *t;
        while (!(t = take_task(e)) && !(e->closing && !e->head))
            pthread_cond_wait(&e->work, &e->mu);
        if (!t) {
            pthread_mutex_unlock(&e->mu);
            break;
        }
        pthread_cond_signal(&e->space);
        pthread_mutex_unlock(&e->mu);
        run_task(e, s, t, &buf);
        free(t);
    }
    free(buf.p);
    return NULL;
}

static void engine_start(engine_t *e, store_t *s, const xfer_opts_t *o, xfer_result_t *res,
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

static void engine_push(engine_t *e, xf_file_t *f)
{
    /* f is gone once its last chunk is done; a resumed download starts
     * after the blocks already there */
    uint32_t n = f->nchunks, first = f->upload ? 0 : f->contig;
    for (uint32_t c = first; c < n; c++) {
        xf_task_t *t = calloc(1, sizeof *t);
        t->f = f;
        t->chunk = c;
        if (!e->nthreads) {
            run_task(e, e->main, t, &e->inline_buf);
            free(t);
            continue;
        }
        pthread_mutex_lock(&e->mu);
        while (e->queued >= QUEUE_MAX)
            pthread_cond_wait(&e->space, &e->mu);
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

static void engine_finish(engine_t *e)
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
    free(e->inline_buf.p);
    progress_end(e->pg);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->work);
    pthread_cond_destroy(&e->space);
}

/* Adds a result row and counts it in the totals; returns its index. */
static size_t engine_item(engine_t *e, const char *local, const char *remote, uint64_t size,
                          const char *etag, const char *md5)
{
    pthread_mutex_lock(&e->mu);
    xfer_item_t *it = add_item(e->res, local, remote, size);
    size_t idx = (size_t)-1;
    if (it) {
        it->etag = etag ? strdup(etag) : NULL;
        it->md5 = md5 ? strdup(md5) : NULL;
        idx = e->res->n - 1;
        e->files_total++;
        e->bytes_total += size;
        progress_total(e->pg, e->files_total, e->bytes_total);
    }
    pthread_mutex_unlock(&e->mu);
    return idx;
}

static xf_file_t *file_new(size_t idx, int upload, const char *name, const char *local,
                           uint64_t size, int chunked)
{
    xf_file_t *f = calloc(1, sizeof *f);
    f->item = idx;
    f->upload = upload;
    f->name = strdup(name);
    f->local = strdup(local);
    f->size = size;
    f->fd = -1;
    f->obj.lock_fd = -1; /* not 0: that is stdin, and closing it would free its number */
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->block = XFER_BLOCK;
    if (chunked) {
        /* grown so a file needs at most 50,000 blocks, as Azure allows */
        if (size / f->block >= 50000)
            f->block = ((size / 50000 + (1u << 20)) >> 20) << 20;
        f->nchunks = (uint32_t)((size + f->block - 1) / f->block);
        f->md5 = EVP_MD_CTX_new();
        EVP_DigestInit_ex(f->md5, EVP_md5(), NULL);
        if (upload)
            f->ids = calloc(f->nchunks, sizeof *f->ids);
    } else {
        f->nchunks = 1;
    }
    f->done = calloc(f->nchunks, 1);
    return f;
}

/* --- downloads --- */

typedef struct held {
    char *name, *etag, *md5;
    uint64_t size;
    int folder;
} held_t;

typedef struct dl {
    engine_t *e;
    store_t *s;
    const char *dest;
    size_t strip;
    char *made; /* the last folder made (listings come grouped by folder) */
    held_t *stack;
    size_t n, cap;
} dl_t;

/* A large download goes into its partial file, taking over what an earlier
 * attempt left there (partial.h); when another process is fetching the same
 * file right now, or the partial cannot be had, into a temporary of its own. */
static int open_chunked(engine_t *e, xf_file_t *f, const char *shown, ferr_t *err)
{
    uint32_t have = 0;
    partial_key_t k = {f->local, f->etag, f->size, f->block};
    f->fd = f->etag ? partial_open(&k, &f->tmp, &have) : -1;
    if (f->fd >= 0) {
        f->resumable = 1;
        memset(f->done, 1, have);
        f->finished = f->contig = f->saved = have;
        f->saved_at = progress_now();
        if (have) {
            f->resumed = (uint64_t)have * f->block;
            char b[32], t[32];
            progress_human(f->resumed, b, sizeof b);
            progress_human(f->size, t, sizeof t);
            log_info("%s: resuming; %s of %s are here from an earlier attempt", shown, b, t);
            pthread_mutex_lock(&e->mu);
            progress_bytes(e->pg, f->resumed);
            pthread_mutex_unlock(&e->mu);
        }
        return 0;
    }
    int en = f->etag ? errno : 0;
    if (en == ENOSPC || en == EDQUOT || en == EROFS || en == EACCES)
        return ferr_errno(err, FERR_IO, en, "cannot make room for %s", shown);
    f->tmp = path_temp_beside(f->local);
    f->fd = f->tmp ? open(f->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644) : -1;
    if (f->fd < 0)
        return ferr_errno(err, FERR_IO, errno ? errno : ENOMEM, "cannot make room for %s", shown);
    en = posix_fallocate(f->fd, 0, (off_t)f->size);
    if (en) {
        close(f->fd);
        f->fd = -1;
        unlink(f->tmp);
        return ferr_errno(err, FERR_IO, en, "cannot make room for %s", shown);
    }
    return 0;
}

static void dl_file(dl_t *d, const char *name, const char *rel_as, uint64_t size, const char *etag,
                    const char *md5, int folder)
{
    engine_t *e = d->e;
    size_t nl = strlen(name);
    if (nl && name[nl - 1] == '/' && size == 0)
        return; /* a folder marker, as ADLS and some tools write */
    if (folder && size == 0)
        return; /* an empty marker beside its folder: nothing to keep */
    size_t idx = engine_item(e, NULL, name, size, etag, md5);
    if (idx == (size_t)-1)
        return;
    ferr_t err = FERR_INIT;
    if (folder) {
        ferr_set(&err, FERR_IO,
                 "'%s' is both a file (%llu bytes) and a folder in the datastore; the file was "
                 "not downloaded",
                 name, (unsigned long long)size);
        account(e, idx, 0, err.msg);
        ferr_clear(&err);
        return;
    }
    const char *rel = rel_as ? rel_as : name + (d->strip <= nl ? d->strip : nl);
    const char *why;
    if (!path_name_safe(rel, &why)) {
        ferr_set(&err, FERR_UNSAFE, "refusing '%s': %s; nothing written", name, why);
        account(e, idx, 0, err.msg);
        ferr_clear(&err);
        return;
    }
    char *local = path_join(d->dest, rel);
    pthread_mutex_lock(&e->mu);
    e->res->items[idx].local = strdup(local);
    pthread_mutex_unlock(&e->mu);
    struct stat st;
    if (lstat(local, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            ferr_set(&err, FERR_IO, "%s: a folder of that name exists", local);
            account(e, idx, 0, err.msg);
            goto out;
        }
        char rec[160];
        int same = S_ISREG(st.st_mode) && etag && (uint64_t)st.st_size == size &&
                   xattr_get(local, &st, 1, rec, sizeof rec) == 0 && !strcmp(rec, etag);
        if (same || !e->o->overwrite) {
            pthread_mutex_lock(&e->mu);
            account_skip_locked(e, idx, same);
            pthread_mutex_unlock(&e->mu);
            goto out;
        }
    }
    char *reldir = path_dirname(rel);
    int rc = 0;
    if (!d->made || strcmp(d->made, reldir)) {
        const char *sub = strcmp(reldir, ".") ? reldir : "";
        rc = path_mkdirs_under(d->dest, sub, &err);
        if (rc == 0) {
            /* what a killed download left in this folder (only the folders
             * this download writes to are read, not the whole target) */
            char *abs = path_join(d->dest, sub);
            if (abs)
                partial_sweep(abs, 0);
            free(abs);
        }
        free(d->made);
        d->made = rc ? NULL : reldir;
    }
    if (d->made != reldir)
        free(reldir);
    if (rc) {
        account(e, idx, 0, err.msg);
        goto out;
    }
    cache_obj_t obj = {.lock_fd = -1};
    if (e->o->cache && etag && (store_caps(d->s) & STORE_CAP_REMOTE)) {
        char *id = store_identity(store_datastore(d->s));
        rc = cache_acquire(e->o->cache, id, name, etag, &obj, &err);
        free(id);
        if (rc) {
            account(e, idx, 0, err.msg);
            goto out;
        }
        if (obj.valid) {
            rc = cache_place(&obj, local, &err);
            if (rc == 0)
                xattr_record(local, etag, md5);
            cache_release(&obj);
            pthread_mutex_lock(&e->mu);
            if (rc == 0) {
                /* a file from the cache is placed, not moved: no bytes count */
                e->res->items[idx].status = XFER_DONE;
                e->res->files++;
                e->res->cached++;
                progress_file_done(e->pg, size);
            } else {
                account_locked(e, idx, 0, err.msg);
            }
            pthread_mutex_unlock(&e->mu);
            goto out;
        }
    }
    int chunked = (store_caps(d->s) & (STORE_CAP_CLONE | STORE_CAP_PARALLEL_BLOCKS)) ==
                      (STORE_CAP_CLONE | STORE_CAP_PARALLEL_BLOCKS) &&
                  size > 2 * (uint64_t)XFER_BLOCK;
    xf_file_t *f = file_new(idx, 0, name, obj.path ? obj.path : local, size, chunked);
    if (obj.path) {
        f->obj = obj; /* the lock is held until the object is whole and placed */
        f->place = strdup(local);
    }
    f->etag = etag ? strdup(etag) : NULL;
    f->want_md5 = md5 ? strdup(md5) : NULL;
    if (chunked ? open_chunked(e, f, local, &err) : !(f->tmp = path_temp_beside(f->local))) {
        account(e, idx, 0, err.msg ? err.msg : "out of memory");
        file_free(f);
        goto out;
    }
    engine_push(e, f);
out:
    ferr_clear(&err);
    free(local);
}

static void held_release(dl_t *d, held_t *h)
{
    dl_file(d, h->name, NULL, h->size, h->etag, h->md5, h->folder);
    free(h->name);
    free(h->etag);
    free(h->md5);
}

/* Entries come in byte order. One is held back while a later name could
 * still show it is also a folder ("a/b" then "a/b/c"). */
static int dl_entry(void *ud, const store_entry_t *en)
{
    dl_t *d = ud;
    while (d->n) {
        held_t *top = &d->stack[d->n - 1];
        size_t tl = strlen(top->name);
        if (!strncmp(en->name, top->name, tl) && (unsigned char)en->name[tl] <= '/' &&
            en->name[tl]) {
            if (en->name[tl] == '/')
                top->folder = 1;
            break;
        }
        held_release(d, top);
        d->n--;
    }
    if (ARRAY_ROOM(d->stack, d->n, d->cap, 8))
        return -1;
    held_t *h = &d->stack[d->n++];
    h->name = strdup(en->name);
    h->etag = en->etag ? strdup(en->etag) : NULL;
    h->md5 = en->md5 ? strdup(en->md5) : NULL;
    h->size = en->size;
    h->folder = 0;
    return 0;
}

static int finish(xfer_result_t *res, double t0, const char *verb, ferr_t *err)
{
    res->seconds += progress_now() - t0;
    if (res->failed)
        return ferr_set(err, FERR_TRANSFER, "%llu file%s failed to %s",
                        (unsigned long long)res->failed, res->failed == 1 ? "" : "s", verb);
    return 0;
}

int xfer_download_prefix(store_t *s, const char *prefix, size_t strip, const char *dest,
                         const xfer_opts_t *o, xfer_result_t *res, ferr_t *err)
{
    double t0 = progress_now();
    if (path_mkdirs(dest, 0755, err))
        return -1;
    engine_t e;
    engine_start(&e, s, o, res, o->label ? o->label : "download");
    dl_t d = {.e = &e, .s = s, .dest = dest, .strip = strip};
    int rc = store_list(s, prefix, NULL, dl_entry, &d, err);
    while (d.n)
        held_release(&d, &d.stack[--d.n]);
    free(d.stack);
    free(d.made);
    engine_finish(&e);
    if (rc)
        return ferr_wrap(err, "listing %s", *prefix ? prefix : "/");
    return finish(res, t0, "download", err);
}

int xfer_download_file(store_t *s, const char *name, const char *dest_file, const xfer_opts_t *o,
                       xfer_result_t *res, ferr_t *err)
{
    double t0 = progress_now();
    store_entry_t en;
    if (store_stat(s, name, &en, err))
        return -1;
    char *dir = path_dirname(dest_file);
    const char *base = strrchr(dest_file, '/');
    base = base ? base + 1 : dest_file;
    if (path_mkdirs(dir, 0755, err)) {
        free(dir);
        return -1;
    }
    partial_sweep(dir, 0);
    engine_t e;
    engine_start(&e, s, o, res, o->label ? o->label : "download");
    dl_t d = {.e = &e, .s = s, .dest = dir, .strip = 0};
    /* the file keeps the local name asked for, whatever its name in the store */
    char *etag = en.etag ? strdup(en.etag) : NULL, *md5 = en.md5 ? strdup(en.md5) : NULL;
    char *name_copy = strdup(name); /* en.name may point into the store handle */
    dl_file(&d, name_copy, base, en.size, etag, md5, 0);
    engine_finish(&e);
    free(d.made);
    free(name_copy);
    free(etag);
    free(md5);
    free(dir);
    return finish(res, t0, "download", err);
}

typedef struct visit {
    dev_t dev;
    ino_t ino;
    struct visit *up;
} visit_t;

static int scan_dir(const char *abs, const char *rel, const char *target, const xfer_opts_t *o,
                    visit_t *up, xfer_result_t *res, ferr_t *err);

/* What a scan cannot read fails alone, named and counted; the rest goes up. */
static int scan_failed(xfer_result_t *res, int en, const char *what, const char *abs)
{
    log_error("%s %s: %s; the rest is uploaded", what, abs, strerror(en));
    res->failed++;
    return 0;
}

static int scan_entry(const char *abs, const char *rel, const char *target, const xfer_opts_t *o,
                      visit_t *up, xfer_result_t *res, ferr_t *err)
{
    struct stat st;
    if (lstat(abs, &st) != 0)
        return scan_failed(res, errno, "cannot read", abs);
    if (S_ISLNK(st.st_mode)) {
        if (!o->follow_symlinks) {
            log_warn("skipping symlink %s (pass --follow-symlinks to follow it)", abs);
            res->skipped++;
            return 0;
        }
        if (stat(abs, &st) != 0) {
            log_warn("skipping broken symlink %s", abs);
            res->skipped++;
            return 0;
        }
    }
    if (S_ISDIR(st.st_mode)) {
        for (visit_t *v = up; v; v = v->up)
            if (v->dev == st.st_dev && v->ino == st.st_ino) {
                log_warn("skipping %s: a symlink loop", abs);
                return 0;
            }
        visit_t here = {st.st_dev, st.st_ino, up};
        return scan_dir(abs, rel, target, o, &here, res, err);
    }
    if (!S_ISREG(st.st_mode)) {
        log_warn("skipping %s: not a regular file", abs);
        res->skipped++;
        return 0;
    }
    char *remote = path_join(target, rel);
    xfer_item_t *it = remote ? add_item(res, abs, remote, (uint64_t)st.st_size) : NULL;
    free(remote);
    return it ? 0 : ferr_set(err, FERR_INTERNAL, "out of memory");
}

static int scan_dir(const char *abs, const char *rel, const char *target, const xfer_opts_t *o,
                    visit_t *up, xfer_result_t *res, ferr_t *err)
{
    struct dirent **list = NULL;
    int n = scandir(abs, &list, NULL, alphasort);
    if (n < 0 && errno == ENOMEM)
        return ferr_errno(err, FERR_INTERNAL, errno, "cannot read folder %s", abs);
    if (n < 0)
        return scan_failed(res, errno, "cannot read folder", abs);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = list[i]->d_name;
        if (partial_is_ours(nm)) /* a download under way, or one a later run resumes */
            log_debug("not uploading %s/%s: ferry's own unfinished file", abs, nm);
        else if (rc == 0 && strcmp(nm, ".") && strcmp(nm, "..")) {
            char *a = path_join(abs, nm), *r = *rel ? path_join(rel, nm) : strdup(nm);
            rc = scan_entry(a, r, target, o, up, res, err);
            free(a);
            free(r);
        }
        free(list[i]);
    }
    free(list);
    return rc;
}

/* --- uploads --- */

/* What the target already holds: one listing, sorted by name. */
typedef struct rentry {
    char *name, *md5, *etag;
    uint64_t size;
    int64_t mtime;
} rentry_t;

typedef struct rindex {
    rentry_t *v;
    size_t n, cap;
} rindex_t;

static int rindex_add(void *ud, const store_entry_t *en)
{
    rindex_t *r = ud;
    if (ARRAY_ROOM(r->v, r->n, r->cap, 256))
        return -1;
    r->v[r->n++] = (rentry_t){.name = strdup(en->name),
                              .md5 = en->md5 ? strdup(en->md5) : NULL,
                              .etag = en->etag ? strdup(en->etag) : NULL,
                              .size = en->size,
                              .mtime = en->mtime};
    return 0;
}

static int rentry_cmp(const void *a, const void *b)
{
    return strcmp(((const rentry_t *)a)->name, ((const rentry_t *)b)->name);
}

static const rentry_t *rindex_find(const rindex_t *r, const char *name)
{
    rentry_t key = {.name = (char *)name};
    return r->n ? bsearch(&key, r->v, r->n, sizeof *r->v, rentry_cmp) : NULL;
}

static void rindex_free(rindex_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].name);
        free(r->v[i].md5);
        free(r->v[i].etag);
    }
    free(r->v);
}

/* pending: what the scan found; each goes to the store unless it is there already. */
static int upload_items(store_t *s, xfer_result_t *pending, const char *target,
                        const xfer_opts_t *o, xfer_result_t *res, double t0, ferr_t *err)
{
    /* one listing tells what exists, instead of a request per file: of the
     * longest prefix all the names share */
    rindex_t r = {0};
    size_t pl = pending->n ? strlen(pending->items[0].remote) : 0;
    for (size_t i = 1; i < pending->n && pl; i++) {
        size_t k = 0;
        while (k < pl && pending->items[i].remote[k] == pending->items[0].remote[k])
            k++;
        pl = k;
    }
    char *prefix = pending->n ? strndup(pending->items[0].remote, pl) : NULL;
    if (prefix && store_list(s, prefix, NULL, rindex_add, &r, err)) {
        free(prefix);
        rindex_free(&r);
        return ferr_wrap(err, "listing %s", target && *target ? target : "/");
    }
    free(prefix);
    /* looked up by binary search: stores list in byte order, but one that
     * does not must not make a file look absent */
    if (r.n)
        qsort(r.v, r.n, sizeof *r.v, rentry_cmp);
    engine_t e;
    engine_start(&e, s, o, res, o->label ? o->label : "upload");
    res->skipped += pending->skipped;
    res->failed += pending->failed; /* what the scan could not read */
    for (size_t i = 0; i < pending->n; i++) {
        xfer_item_t *p = &pending->items[i];
        size_t idx = engine_item(&e, p->local, p->remote, p->size, NULL, NULL);
        if (idx == (size_t)-1)
            continue;
        ferr_t e1 = FERR_INIT;
        const char *why;
        if (!path_name_safe(p->remote, &why)) {
            ferr_set(&e1, FERR_UNSAFE, "refusing datastore name '%s': %s", p->remote, why);
            account(&e, idx, 0, e1.msg);
            ferr_clear(&e1);
            continue;
        }
        const rentry_t *at = rindex_find(&r, p->remote);
        if (at) {
            int same = 0;
            struct stat qs;
            if (o->quick && at->size == p->size && stat(p->local, &qs) == 0 &&
                at->mtime >= qs.st_mtim.tv_sec + (qs.st_mtim.tv_nsec ? 1 : 0))
                same = 1; /* a sync pass: sent after it was last written */
            else if (o->overwrite && at->md5 && at->size == p->size) {
                struct stat st;
                char rec[64];
                char *md5 = NULL;
                if (stat(p->local, &st) == 0 && xattr_get(p->local, &st, 2, rec, sizeof rec) == 0)
                    md5 = strdup(rec);
                else if ((md5 = file_md5_b64(p->local)))
                    xattr_record(p->local, NULL, md5);
                same = md5 && !strcmp(md5, at->md5);
                free(md5);
            }
            if (same || !o->overwrite) {
                pthread_mutex_lock(&e.mu);
                res->items[idx].md5 = at->md5 ? strdup(at->md5) : NULL;
                res->items[idx].etag = at->etag ? strdup(at->etag) : NULL;
                account_skip_locked(&e, idx, same);
                pthread_mutex_unlock(&e.mu);
                continue;
            }
        }
        int chunked = (store_caps(s) & (STORE_CAP_CLONE | STORE_CAP_PARALLEL_BLOCKS)) ==
                          (STORE_CAP_CLONE | STORE_CAP_PARALLEL_BLOCKS) &&
                      p->size > XFER_BLOCK;
        xf_file_t *f = file_new(idx, 1, p->remote, p->local, p->size, chunked);
        if (chunked) {
            f->fd = f->ids ? open(p->local,
                                  O_RDONLY | O_CLOEXEC | (o->follow_symlinks ? 0 : O_NOFOLLOW))
                           : -1;
            if (f->fd < 0) {
                ferr_errno(&e1, FERR_IO, f->ids ? errno : ENOMEM, "cannot read %s", p->local);
                account(&e, idx, 0, e1.msg);
                ferr_clear(&e1);
                file_free(f);
                continue;
            }
        }
        engine_push(&e, f);
    }
    engine_finish(&e);
    rindex_free(&r);
    return finish(res, t0, "upload", err);
}

int xfer_upload_dir(store_t *s, const char *src_dir, const char *target, const xfer_opts_t *o,
                    xfer_result_t *res, ferr_t *err)
{
    double t0 = progress_now();
    struct stat st;
    if (stat(src_dir, &st) != 0)
        return ferr_errno(err, errno == ENOENT ? FERR_NOTFOUND : FERR_IO, errno, "%s", src_dir);
    if (!S_ISDIR(st.st_mode))
        return ferr_set(err, FERR_USAGE, "%s is not a folder (use upload-files for files)",
                        src_dir);
    xfer_result_t pending = {0};
    visit_t root = {st.st_dev, st.st_ino, NULL};
    char *abs = path_absolute(src_dir, NULL);
    int rc = scan_dir(abs, "", target ? target : "", o, &root, &pending, err);
    free(abs);
    if (rc == 0)
        rc = upload_items(s, &pending, target, o, res, t0, err);
    xfer_result_free(&pending);
    return rc;
}

/* The folder all of abs[0..n) are in (as the v1 SDK's upload_files takes
 * when no relative_root is given): malloc'd, "/" at the least. */
static char *common_folder(char **abs, size_t n)
{
    char *root = n ? path_dirname(abs[0]) : strdup("/");
    for (size_t i = 1; root && i < n; i++) {
        size_t rl = strlen(root);
        while (strcmp(root, "/") && (strncmp(abs[i], root, rl) || abs[i][rl] != '/')) {
            char *up = path_dirname(root);
            free(root);
            if (!(root = up))
                return NULL;
            rl = strlen(root);
        }
    }
    return root;
}

static int cmp_remote(const void *a, const void *b)
{
    const xfer_item_t *x = *(xfer_item_t *const *)a, *y = *(xfer_item_t *const *)b;
    int c = strcmp(x->remote, y->remote);
    return c ? c : (x < y ? -1 : x > y);
}

/* Two sources that would land on one name: refused before anything moves,
 * or one would silently replace the other. p->items[i] is files[i]. */
static int refuse_same_target(const xfer_result_t *p, char *const *files, ferr_t *err)
{
    xfer_item_t **v = p->n ? malloc(p->n * sizeof *v) : NULL;
    if (p->n && !v)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < p->n; i++)
        v[i] = &p->items[i];
    if (p->n)
        qsort(v, p->n, sizeof *v, cmp_remote);
    int rc = 0;
    for (size_t i = 1; i < p->n && rc == 0; i++)
        if (!strcmp(v[i - 1]->remote, v[i]->remote))
            rc = ferr_set(err, FERR_USAGE,
                          "%s and %s would both be uploaded as %s; nothing was uploaded (give "
                          "--relative-root, or upload them apart)",
                          files[v[i - 1] - p->items], files[v[i] - p->items], v[i]->remote);
    free(v);
    return rc;
}

int xfer_upload_files(store_t *s, char *const *files, size_t n, const char *relative_root,
                      const char *target, const xfer_opts_t *o, xfer_result_t *res, ferr_t *err)
{
    double t0 = progress_now();
    xfer_result_t pending = {0};
    char **abs = calloc(n ? n : 1, sizeof *abs);
    int rc = abs ? 0 : ferr_set(err, FERR_INTERNAL, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!(abs[i] = path_absolute(files[i], NULL)))
            rc = ferr_set(err, FERR_INTERNAL, "out of memory");
    char *root = rc              ? NULL
                 : relative_root ? path_absolute(relative_root, NULL)
                                 : common_folder(abs, n);
    if (rc == 0 && !root)
        rc = ferr_set(err, FERR_INTERNAL, "out of memory");
    size_t rl = root ? strlen(root) : 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (strncmp(abs[i], root, rl) != 0 || (abs[i][rl] != '/' && strcmp(root, "/"))) {
            rc = ferr_set(err, FERR_USAGE, "%s is not under --relative-root %s", files[i], root);
            break;
        }
        const char *rel = abs[i] + rl + (strcmp(root, "/") ? 1 : 0);
        struct stat st;
        if (stat(abs[i], &st) != 0) {
            rc = ferr_errno(err, errno == ENOENT ? FERR_NOTFOUND : FERR_IO, errno, "%s", files[i]);
        } else if (!S_ISREG(st.st_mode)) {
            rc = ferr_set(err, FERR_USAGE, "%s is not a regular file", files[i]);
        } else {
            char *remote = path_join(target ? target : "", rel);
            if (!add_item(&pending, abs[i], remote, (uint64_t)st.st_size))
                rc = ferr_set(err, FERR_INTERNAL, "out of memory");
            free(remote);
        }
    }
    for (size_t i = 0; abs && i < n; i++)
        free(abs[i]);
    free(abs);
    free(root);
    if (rc == 0)
        rc = refuse_same_target(&pending, files, err);
    xfer_opts_t o2 = *o;
    o2.follow_symlinks = 1; /* files named on the command line are meant as given */
    if (rc == 0)
        rc = upload_items(s, &pending, target, &o2, res, t0, err);
    xfer_result_free(&pending);
    return rc;
}
