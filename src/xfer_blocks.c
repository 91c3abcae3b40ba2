/* One file's blocks: moved, hashed in order, the file put in place and
 * recorded (an xattr with its ETag and MD5) so a rerun moves nothing. */
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

#define XATTR_NAME "user.ferry"

/* One attribute, "stamp\netag\nmd5": one system call to write, one to read. */
static void record_value(const struct stat *st, const char *etag, const char *md5, char *val,
                         size_t n)
{
    path_stamp(st, val, n);
    size_t l = strlen(val);
    snprintf(val + l, n - l, "\n%s\n%s", etag ? etag : "", md5 ? md5 : "");
}

/* By path, or (path NULL) on the open file fd: no path walked, and the file
 * may have no name yet. Best effort: a filesystem without user xattrs just
 * forgoes the shortcut. */
static void record(const char *path, int fd, const char *etag, const char *md5)
{
    struct stat st;
    char val[400];
    if (path ? stat(path, &st) : fstat(fd, &st))
        return;
    record_value(&st, etag, md5, val, sizeof val);
    if (path)
        setxattr(path, XATTR_NAME, val, strlen(val), 0);
    else
        fsetxattr(fd, XATTR_NAME, val, strlen(val), 0);
}

void xf_xattr_record(const char *path, const char *etag, const char *md5)
{
    record(path, -1, etag, md5);
}

/* The recorded etag or md5 (which: 1 or 2), if the file has not changed since. */
int xf_xattr_get(const char *path, const struct stat *st, int which, char *out, size_t n)
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
char *xf_file_md5_b64(const char *path)
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

/* A download that went into the cache: mark the object whole, put it in place. */
static int place_from_cache(xf_file_t *f, ferr_t *err)
{
    if (!f->place)
        return 0;
    cache_commit(&f->obj);
    if (cache_place(&f->obj, f->place, err))
        return -1;
    xf_xattr_record(f->place, f->etag, f->want_md5);
    return 0;
}

static char *b64_final(md5_t *m)
{
    unsigned char md[16];
    md5_final(m, md);
    return base64_encode(md, sizeof md);
}

/* --- the work itself --- */

/* A download whole (ok) in its temporary file (path_tmp_open: f->tmp, or
 * nameless): gives the file its final name, closes fd; or, when anything
 * failed, removes it. Returns ok. */
static int rename_into_place(xf_file_t *f, int fd, int ok, ferr_t *err)
{
    if (!ok) {
        close(fd);
        if (f->tmp)
            unlink(f->tmp);
        return 0;
    }
    if (path_tmp_place(fd, f->tmp, f->local) != 0)
        return ferr_errno(err, FERR_IO, errno, "cannot put %s in place", f->local) == 0;
    return 1;
}

/* A download under its final name: placed from the cache into the target,
 * or recorded as what it is (ETag, MD5) for the next run. */
static int place_or_record(xf_file_t *f, ferr_t *err)
{
    if (f->place)
        return place_from_cache(f, err) == 0;
    xf_xattr_record(f->local, f->etag, f->want_md5);
    return 1;
}

/* An upload of a file that the target may hold already (want_md5: the
 * target's MD5): with md5, the file's, taken by the worker that would send
 * it, 1 when they are the same: the file is recorded as unchanged. */
static int upload_unchanged(engine_t *e, xf_file_t *f, const char *md5)
{
    if (!f->want_md5 || !md5 || strcmp(md5, f->want_md5))
        return 0;
    xf_xattr_record(f->local, NULL, md5);
    xf_set_item_meta(e, f->item, f->etag, md5);
    pthread_mutex_lock(&e->mu);
    xf_account_skip_locked(e, f->item, 1);
    pthread_mutex_unlock(&e->mu);
    return 1;
}

/* Everything about a chunked file is settled: rename or commit, or clean up. */
static void finalize(engine_t *e, store_t *s, xf_file_t *f)
{
    ferr_t err = FERR_INIT;
    int ok = !f->failed;
    if (!f->upload) {
        int bad = f->bad; /* the bytes are wrong: nothing of them is worth keeping */
        if (ok && f->in_order) {
            char *got = b64_final(&f->md5);
            if (store_md5_verdict(f->name, "blob", f->want_md5, got, &err)) {
                ok = 0;
                bad = 1;
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
        if (f->unchanged) { /* (accounted for by the block that found it) */
            xf_file_free(f);
            return;
        }
        if (ok) {
            char *md5 = b64_final(&f->md5);
            store_put_t put = {0};
            store_upload_t u = xf_upload_of(f);
            ok = store_commit_blocks(s, &u, f->ids, f->nchunks, md5 ? md5 : "", &put, &err) == 0;
            if (ok) {
                xf_set_item_meta(e, f->item, put.etag, put.md5);
                xf_xattr_record(f->local, NULL, md5);
            }
            free(md5);
        }
    }
    if (ok && f->resumed) {
        pthread_mutex_lock(&e->mu);
        e->res->resumed += f->resumed;
        pthread_mutex_unlock(&e->mu);
    }
    xf_account(e, f->item, ok, err.msg ? err.msg : f->error);
    ferr_clear(&err);
    xf_file_free(f);
}

/* A download chunk has landed (rc 0) or failed: record progress now and
 * then, finalize when all is done. One thread at a time saves a partial's
 * record, outside the file's lock ("saving"). */
static void download_chunk_done(engine_t *e, store_t *s, xf_file_t *f, uint32_t i, int rc,
                                const char *msg)
{
    pthread_mutex_lock(&f->mu);
    if (rc) {
        f->failed = 1;
        if (!f->error)
            f->error = xstrdup(msg ? msg : "failed");
        pthread_cond_broadcast(&f->cv); /* blocks waiting for their turn to be hashed */
    }
    f->done[i] = rc ? 2 : 1;
    f->finished++;
    while (f->contig < f->nchunks && f->done[f->contig] == 1)
        f->contig++;
    while (!f->saving && f->resumable && f->contig > f->saved && f->finished < f->nchunks &&
           progress_now() - f->saved_at >= SAVE_EVERY) {
        f->saving = 1;
        uint32_t n = f->contig;
        pthread_mutex_unlock(&f->mu);
        int r = partial_save(f->fd, &(partial_key_t){f->local, f->etag, f->size, f->block}, n);
        pthread_mutex_lock(&f->mu);
        f->saving = 0;
        f->saved_at = progress_now();
        if (r == 0)
            f->saved = n;
    }
    int last = f->finished == f->nchunks && !f->saving && !f->finalized;
    if (last)
        f->finalized = 1;
    pthread_mutex_unlock(&f->mu);
    if (last)
        finalize(e, s, f);
}

/* A whole file's MD5 is taken in order: this block, in memory, waits for
 * the blocks before it to be hashed (they are all in flight or done, as
 * blocks are handed out in order), then goes into it; with sums, the
 * same pass takes the block's own MD5 (md5two.h). -1 when the file failed
 * meanwhile (in a block before this one). */
static int hash_block_in_turn(xf_file_t *f, uint32_t chunk, const char *buf, size_t len,
                              store_block_sums_t *sums)
{
    pthread_mutex_lock(&f->mu);
    while (!f->failed && f->hashed != chunk)
        pthread_cond_wait(&f->cv, &f->mu);
    int failed = f->failed;
    pthread_mutex_unlock(&f->mu);
    if (failed)
        return -1;
    /* only the block whose turn it is gets here */
    if (sums) {
        md5_t own;
        md5_init(&own);
        md5_update2(&f->md5, &own, buf, len);
        md5_final(&own, sums->md5);
        sums->has_md5 = 1;
    } else {
        md5_update(&f->md5, buf, len);
    }
    pthread_mutex_lock(&f->mu);
    f->hashed++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return 0;
}

void xf_run_download(engine_t *e, store_t *s, xf_file_t *f, uint32_t chunk, char *buf)
{
    ferr_t err = FERR_INIT;
    if (f->nchunks == 1) {
        /* a whole file, nameless until whole, checked by the store as it streams */
        int fd = path_tmp_open(f->local, &f->tmp);
        int ok = fd >= 0 ||
                 ferr_errno(&err, FERR_IO, errno, "cannot create a file beside %s", f->local) == 0;
        if (ok)
            ok = store_read(s, f->name, NULL, 0, f->size, fd, 0, xf_on_bytes, e, &err) == 0;
        if (ok && !f->place)
            record(NULL, fd, f->etag, f->want_md5); /* (naming it changes no stamp) */
        if (fd >= 0)
            ok = rename_into_place(f, fd, ok, &err);
        if (ok && f->place)
            ok = place_from_cache(f, &err) == 0;
        xf_account(e, f->item, ok, err.msg);
        ferr_clear(&err);
        xf_file_free(f);
        return;
    }
    uint64_t off = (uint64_t)chunk * f->block;
    uint64_t len = f->size - off < f->block ? f->size - off : f->block;
    pthread_mutex_lock(&f->mu);
    int skip = f->failed; /* another block failed: no point in moving this one */
    pthread_mutex_unlock(&f->mu);
    /* a block not fetched is not on disk: it must never count as done */
    int bad = 0;
    int rc = skip ? -1 : xf_fetch_checked(e, s, f, chunk, buf, &bad, &err);
    /* start writing the block to disk now, while the others travel: the
     * syncs that make a partial's record and the final file durable then
     * find little left to do */
    if (rc == 0 && f->resumable)
        sync_file_range(f->fd, (off64_t)off, (off64_t)len, SYNC_FILE_RANGE_WRITE);
    xf_chunk_out(e, f, NULL); /* (buf is hashed below, in turn) */
    if (bad) {
        pthread_mutex_lock(&f->mu);
        f->bad = 1;
        pthread_mutex_unlock(&f->mu);
    }
    if (rc == 0 && f->in_order && hash_block_in_turn(f, chunk, buf, (size_t)len, NULL))
        rc = -1; /* (the block that failed says why) */
    download_chunk_done(e, s, f, chunk, rc, err.msg);
    ferr_clear(&err);
}

store_upload_t xf_upload_of(const xf_file_t *f)
{
    return (store_upload_t){f->name, f->size, f->block, f->stamp};
}

static int held_add(void *ud, long index, const char *id, size_t len, int committed)
{
    xf_file_t *f = ud;
    if (!id) {
        if (index >= 0 && index < (long)f->nchunks) {
            if (!f->held_at)
                f->held_at = xcalloc(f->nchunks, 1);
            f->held_at[index] = 1;
        }
        return 0;
    }
    if (len != STORE_BLOCK_ID_LEN || memchr(id, 0, len)) {
        /* Azure takes a block only with an id as long as those already
         * staged: beside another tool's (or an earlier ferry's, whose ids
         * held no CRC64), ids of their length are used */
        if (!committed)
            f->foreign_len = len;
        return 0;
    }
    if (ARRAY_ROOM(f->held, f->nheld, f->held_cap, 64))
        return 0; /* fewer blocks reused, nothing worse */
    if ((f->held[f->nheld] = xstrdup(id)))
        f->nheld++;
    return 0;
}

static int held_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The id of block chunk: from its place and content, or, beside blocks
 * another tool staged, its number written out to their length. */
static int block_id(xf_file_t *f, uint32_t chunk, const digest_t crc, ferr_t *err)
{
    size_t l = f->foreign_len;
    if (!l) {
        store_block_id(f->ids[chunk], chunk, crc);
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

void xf_run_upload(engine_t *e, store_t *s, xf_file_t *f, uint32_t chunk, xbuf_t *xb)
{
    char *buf = xb->p;
    ferr_t err = FERR_INIT;
    if (f->nchunks == 1 && f->want_md5) {
        /* compared here, in parallel, not by the scan (a changed file is
         * then read again to be sent: from the page cache, at most 8 MiB) */
        char *md5 = xf_file_md5_b64(f->local);
        int same = upload_unchanged(e, f, md5);
        free(md5);
        if (same) {
            xf_file_free(f);
            return;
        }
    }
    if (f->nchunks == 1) {
        int fd = open(f->local, O_RDONLY | O_CLOEXEC | (e->o->follow_symlinks ? 0 : O_NOFOLLOW));
        int rc = fd < 0 ? ferr_errno(&err, FERR_IO, errno, "cannot read %s", f->local) : 0;
        store_put_t put = {0};
        if (rc == 0)
            rc = store_write(s, f->name, fd, f->size, xf_on_bytes, e, &put, &err);
        if (fd >= 0)
            close(fd);
        if (rc == 0) {
            xf_set_item_meta(e, f->item, put.etag, put.md5);
            if (put.md5[0])
                xf_xattr_record(f->local, NULL, put.md5);
        }
        xf_account(e, f->item, rc == 0, err.msg);
        ferr_clear(&err);
        xf_file_free(f);
        return;
    }
    if (chunk == 0 && f->want_md5) {
        /* compared before anything is staged: an unchanged file leaves no
         * blocks or temporary object behind (a changed one is read twice) */
        char *md5 = xf_file_md5_b64(f->local);
        int same = upload_unchanged(e, f, md5);
        free(md5);
        pthread_mutex_lock(&f->mu);
        if (same)
            f->unchanged = f->failed = 1; /* the other blocks stop */
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
    }
    uint64_t off = (uint64_t)chunk * f->block;
    size_t len = (size_t)(f->size - off < f->block ? f->size - off : f->block);
    pthread_mutex_lock(&f->mu);
    int stop = f->failed;
    pthread_mutex_unlock(&f->mu);
    int rc = stop ? 0 : path_pread_full(f->fd, buf, len, off);
    if (rc)
        ferr_errno(&err, FERR_IO, errno ? errno : EIO, "cannot read %s", f->local);
    store_block_sums_t sums = {0}; /* (the service checks one of them) */
    if (rc == 0 && !stop)
        digest_of(DIGEST_CRC64, buf, len, sums.crc64);
    /* the first block asks what the store holds already (an interrupted
     * upload's blocks, or the blob's own): the others wait for it below */
    pthread_mutex_lock(&f->mu);
    int ask = chunk == 0 && !f->failed;
    pthread_mutex_unlock(&f->mu);
    store_upload_t u = xf_upload_of(f);
    if (ask && rc == 0) {
        rc = store_upload_begin(s, &u, held_add, f, &err);
        if (f->nheld)
            qsort(f->held, f->nheld, sizeof *f->held, held_cmp);
    }
    /* the whole file's MD5 is taken in order, while blocks travel in parallel */
    int skip = rc == 0 ? hash_block_in_turn(f, chunk, buf, len, &sums) : 1;
    if (!skip)
        rc = block_id(f, chunk, sums.crc64, &err);
    const char *id = f->ids[chunk];
    int held = !skip && rc == 0 &&
               ((f->held_at && f->held_at[chunk]) ||
                (f->nheld && bsearch(&id, f->held, f->nheld, sizeof *f->held, held_cmp)));
    if (held) {
        pthread_mutex_lock(&f->mu);
        f->resumed += len;
        pthread_mutex_unlock(&f->mu);
        xf_on_bytes(e, len);
    } else if (!skip && rc == 0) {
        rc = store_put_block(s, &u, chunk, id, buf, len, &sums, &err);
        if (rc == 0)
            xf_on_bytes(e, len);
    }
    xf_chunk_out(e, f, xb); /* the buffer goes back with the block's place in flight */
    pthread_mutex_lock(&f->mu);
    if (rc || skip) {
        f->failed = 1;
        if (rc && !f->error)
            f->error = xstrdup(err.msg ? err.msg : "failed");
        pthread_cond_broadcast(&f->cv);
    }
    f->finished++;
    int last = f->finished == f->nchunks;
    pthread_mutex_unlock(&f->mu);
    ferr_clear(&err);
    if (last)
        finalize(e, s, f);
}
