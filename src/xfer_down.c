/* Downloads: a listing (or one name) becomes files for the engine, each
 * into its partial, the cache or a temporary, skipped when unchanged. */
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
    int fresh;  /* ... and made by this run: nothing in it to look for */
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
        have = xf_resumed_blocks(f, have);
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
    f->fd = path_tmp_open(f->local, &f->tmp);
    if (f->fd < 0)
        return ferr_errno(err, FERR_IO, errno, "cannot make room for %s", shown);
    en = posix_fallocate(f->fd, 0, (off_t)f->size);
    if (en) {
        close(f->fd);
        f->fd = -1;
        if (f->tmp)
            unlink(f->tmp);
        return ferr_errno(err, FERR_IO, en, "cannot make room for %s", shown);
    }
    return 0;
}

/* What is there already: a folder in the way (a failure), or the same file
 * or one not to be replaced (skipped). 1 when the file is dealt with. */
static int dl_existing(dl_t *d, size_t idx, const char *local, uint64_t size, const char *etag)
{
    engine_t *e = d->e;
    struct stat st;
    if (lstat(local, &st) != 0)
        return 0;
    if (S_ISDIR(st.st_mode)) {
        ferr_t err = FERR_INIT;
        ferr_set(&err, FERR_IO, "%s: a folder of that name exists", local);
        xf_account(e, idx, 0, err.msg);
        ferr_clear(&err);
        return 1;
    }
    char rec[160];
    int same = S_ISREG(st.st_mode) && etag && (uint64_t)st.st_size == size &&
               xf_xattr_get(local, &st, 1, rec, sizeof rec) == 0 && !strcmp(rec, etag);
    if (!same && e->o->overwrite)
        return 0;
    pthread_mutex_lock(&e->mu);
    xf_account_skip_locked(e, idx, same);
    pthread_mutex_unlock(&e->mu);
    return 1;
}

/* The file's folder, made under the target once for a run of files in it. */
static int dl_folder(dl_t *d, const char *rel, ferr_t *err)
{
    char *reldir = path_dirname(rel);
    if (d->made && !strcmp(d->made, reldir)) {
        free(reldir);
        return 0;
    }
    const char *sub = strcmp(reldir, ".") ? reldir : "";
    int rc = path_mkdirs_under(d->dest, sub, &d->fresh, err);
    if (rc == 0 && !d->fresh) {
        /* what a killed download left in this folder (only the folders this
         * download writes to are read, not the whole target) */
        char *abs = path_join(d->dest, sub);
        partial_sweep(abs, 0);
        free(abs);
    }
    free(d->made);
    d->made = rc ? NULL : reldir;
    if (rc)
        free(reldir);
    return rc;
}

/* Through the node cache: an object already there is placed (1: dealt
 * with); otherwise *obj holds the object's lock, to be filled. */
static int dl_cached(dl_t *d, size_t idx, const char *name, const char *local, uint64_t size,
                     const char *etag, const char *md5, cache_obj_t *obj)
{
    engine_t *e = d->e;
    ferr_t err = FERR_INIT;
    char *id = store_identity(store_datastore(d->s));
    int rc = cache_acquire(e->o->cache, id, name, etag, obj, &err);
    free(id);
    if (rc || !obj->valid) {
        if (rc)
            xf_account(e, idx, 0, err.msg);
        ferr_clear(&err);
        return rc ? 1 : 0;
    }
    rc = cache_place(obj, local, &err);
    if (rc == 0)
        xf_xattr_record(local, etag, md5);
    cache_release(obj);
    pthread_mutex_lock(&e->mu);
    if (rc == 0) {
        /* a file from the cache is placed, not moved: no bytes count */
        e->res->items[idx].status = XFER_DONE;
        e->res->files++;
        e->res->cached++;
        progress_file_done(e->pg, size);
    } else {
        xf_account_locked(e, idx, 0, err.msg);
    }
    pthread_mutex_unlock(&e->mu);
    ferr_clear(&err);
    return 1;
}

/* The MD5 of name, when it is still the version listed. */
static char *stat_md5(store_t *s, const char *name, const char *etag)
{
    store_entry_t en;
    ferr_t e = FERR_INIT;
    char *md5 = NULL;
    if (store_stat(s, name, &en, &e) == 0 && en.md5 &&
        (!etag || !en.etag || !strcmp(etag, en.etag)))
        md5 = xstrdup(en.md5);
    ferr_clear(&e);
    return md5;
}

/* How a large download is checked: by the digests the store keeps for its
 * blocks, or else by the whole file's MD5 (asked for when the listing has
 * none). Refused (-1, err) when --check-md5 wants an MD5 and there is none. */
static int dl_checks(dl_t *d, xf_file_t *f, const char *md5, ferr_t *err)
{
    check_md5_t check = store_check_md5();
    if (check == CHECK_NONE)
        return 0; /* not hashed at all */
    store_digest_t *dg = NULL;
    uint32_t n = 0;
    ferr_t e = FERR_INIT;
    if (f->etag && store_digests(d->s, f->name, f->etag, f->size, &dg, &n, &e) == 0 &&
        xf_use_digests(f, dg, n) == 0) {
        log_debug("%s: each of its %u blocks is checked against its %s (%llu MiB a request)",
                  f->name, n, digest_name(dg[0].kind), (unsigned long long)(f->block >> 20));
        f->want_md5 = md5 ? xstrdup(md5) : NULL; /* (recorded with the file, not checked) */
        return 0;
    }
    free(dg);
    ferr_clear(&e);
    char *asked = NULL;
    if (!md5 && (store_caps(d->s) & STORE_CAP_MD5))
        md5 = asked =
            stat_md5(d->s, f->name, f->etag); /* a listing without MD5s (a file share's) */
    f->want_md5 = md5 ? xstrdup(md5) : NULL;
    free(asked);
    if (!f->want_md5 && (store_caps(d->s) & STORE_CAP_MD5) &&
        check == CHECK_FAIL_IF_DIFFERENT_OR_MISSING)
        return ferr_set(err, FERR_TRANSFER,
                        "%s: the blob has no MD5 to check it by, and --check-md5 is "
                        "FailIfDifferentOrMissing; not downloaded",
                        f->name);
    if (f->want_md5) {
        /* the bytes must be the ones uploaded: the whole file's MD5, taken in
         * order (a range's MD5 from the service would vouch only for the way) */
        f->in_order = 1;
        return 0;
    }
    /* nothing stored to check by (blobs put in blocks by most tools): each
     * range is checked, in parallel, against the MD5 the service computes
     * for it, so no byte goes unchecked on the way (ranges of at most 4 MiB;
     * a FERRY_BLOCK_MIB above that gives this up) */
    int set = 0;
    uint64_t b = xfer_block(&set);
    if ((store_caps(d->s) & STORE_CAP_RANGE_MD5) && (!set || b <= STORE_RANGE_MD5_MAX) &&
        xf_reblock(f, b < STORE_RANGE_MD5_MAX ? b : STORE_RANGE_MD5_MAX) == 0) {
        f->range_md5 = 1;
        log_debug("%s: each of its %u ranges is checked against the MD5 the service gives for it",
                  f->name, f->nchunks);
        return 0;
    }
    return 0;
}

/* Hands the file to the workers: in blocks into its partial, or whole into
 * a temporary (into the cache's object when there is one). */
static void dl_queue(dl_t *d, size_t idx, const char *name, const char *local, uint64_t size,
                     const char *etag, const char *md5, cache_obj_t *obj)
{
    engine_t *e = d->e;
    ferr_t err = FERR_INIT;
    unsigned both = STORE_CAP_CLONE | STORE_CAP_RANGED_READS;
    int chunked = (store_caps(d->s) & both) == both && size > 2 * xfer_block(NULL);
    xf_file_t *f = xf_file_new(idx, 0, name, obj->path ? obj->path : local, size, chunked);
    if (obj->path) {
        f->obj = *obj; /* the lock is held until the object is whole and placed */
        f->place = xstrdup(local);
    }
    f->etag = etag ? xstrdup(etag) : NULL;
    if (!chunked && md5 && store_check_md5() != CHECK_NONE)
        f->want_md5 = xstrdup(md5); /* (the store checks a whole file as it streams) */
    int rc = chunked ? dl_checks(d, f, md5, &err) : 0;
    if (rc == 0 && chunked)
        rc = open_chunked(e, f, local, &err);
    if (rc) {
        xf_account(e, idx, 0, err.msg ? err.msg : "out of memory");
        xf_file_free(f);
    } else {
        engine_push(e, f);
    }
    ferr_clear(&err);
}

/* One listed file: refused, skipped, placed from the cache, or queued. */
static void dl_file(dl_t *d, const char *name, const char *rel_as, uint64_t size, const char *etag,
                    const char *md5, int folder)
{
    engine_t *e = d->e;
    size_t nl = strlen(name);
    if ((nl && name[nl - 1] == '/' && size == 0) || (folder && size == 0))
        return; /* a folder marker (as ADLS and some tools write), or one beside its folder */
    size_t idx = engine_item(e, NULL, name, size, etag, md5);
    if (idx == (size_t)-1)
        return;
    ferr_t err = FERR_INIT;
    const char *rel = rel_as ? rel_as : name + (d->strip <= nl ? d->strip : nl);
    const char *why;
    if (folder)
        ferr_set(&err, FERR_IO,
                 "'%s' is both a file (%llu bytes) and a folder in the datastore; the file was "
                 "not downloaded",
                 name, (unsigned long long)size);
    else if (!path_name_safe(rel, &why))
        ferr_set(&err, FERR_UNSAFE, "refusing '%s': %s; nothing written", name, why);
    if (err.msg) {
        xf_account(e, idx, 0, err.msg);
        ferr_clear(&err);
        return;
    }
    char *local = path_join(d->dest, rel);
    pthread_mutex_lock(&e->mu);
    e->res->items[idx].local = xstrdup(local);
    pthread_mutex_unlock(&e->mu);
    cache_obj_t obj = {.lock_fd = -1};
    if (dl_folder(d, rel, &err)) {
        xf_account(e, idx, 0, err.msg);
    } else if (!d->fresh && dl_existing(d, idx, local, size, etag)) {
    } else if (!(e->o->cache && etag && (store_caps(d->s) & STORE_CAP_REMOTE)) ||
               !dl_cached(d, idx, name, local, size, etag, md5, &obj)) {
        dl_queue(d, idx, name, local, size, etag, md5, &obj);
    }
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

/* An empty folder of the store, made in the target (safe names only). */
static void dl_empty_folder(dl_t *d, const char *name)
{
    size_t nl = strlen(name);
    if (d->strip >= nl)
        return; /* the folder asked for is the target itself */
    char *rel = xstrndup(name + d->strip, nl - d->strip - 1);
    const char *why;
    ferr_t err = FERR_INIT;
    if (!path_name_safe(rel, &why))
        log_error("refusing folder '%s': %s; not made", name, why);
    else if (path_mkdirs_under(d->dest, rel, NULL, &err))
        log_error("%s", err.msg);
    ferr_clear(&err);
    free(rel);
}

/* Entries come in byte order. One is held back while a later name could
 * still show it is also a folder ("a/b" then "a/b/c"). */
static int dl_entry(void *ud, const store_entry_t *en)
{
    dl_t *d = ud;
    if (en->is_dir) {
        if (!d->e->o->want) /* (a shard has the folders of its files only) */
            dl_empty_folder(d, en->name);
        return 0;
    }
    if (d->e->o->want && !d->e->o->want(d->e->o->want_ud, en->name, en->size))
        return 0;
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
    h->name = xstrdup(en->name);
    h->etag = en->etag ? xstrdup(en->etag) : NULL;
    h->md5 = en->md5 ? xstrdup(en->md5) : NULL;
    h->size = en->size;
    h->folder = 0;
    return 0;
}

int xf_finish(xfer_result_t *res, double t0, const char *verb, ferr_t *err)
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
    int rc = store_walk(s, prefix, STORE_LIST_DIRS, dl_entry, &d, err);
    while (d.n)
        held_release(&d, &d.stack[--d.n]);
    free(d.stack);
    free(d.made);
    engine_finish(&e);
    if (rc)
        return ferr_wrap(err, "listing %s", *prefix ? prefix : "/");
    return xf_finish(res, t0, "download", err);
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
    char *etag = en.etag ? xstrdup(en.etag) : NULL, *md5 = en.md5 ? xstrdup(en.md5) : NULL;
    char *name_copy = xstrdup(name); /* en.name may point into the store handle */
    dl_file(&d, name_copy, base, en.size, etag, md5, 0);
    engine_finish(&e);
    free(d.made);
    free(name_copy);
    free(etag);
    free(md5);
    free(dir);
    return xf_finish(res, t0, "download", err);
}
