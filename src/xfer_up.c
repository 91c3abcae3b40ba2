/* Uploads: a folder scan or a list of files becomes files for the engine,
 * compared with one listing of the target, skipped when the same. */
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
    xfer_item_t *it = remote ? xf_add_item(res, abs, remote, (uint64_t)st.st_size) : NULL;
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
    if (n <= 2 && *rel) {
        /* an empty folder: carried to a store with folders (upload_items) */
        char *r = path_join(target, rel), *remote = NULL;
        if (r && asprintf(&remote, "%s/", r) > 0 && !xf_add_item(res, abs, remote, 0))
            rc = ferr_set(err, FERR_INTERNAL, "out of memory");
        free(r);
        free(remote);
    }
    for (int i = 0; i < n; i++) {
        const char *nm = list[i]->d_name;
        if (partial_is_ours(nm)) /* a download under way, or one a later run resumes */
            log_debug("not uploading %s/%s: ferry's own unfinished file", abs, nm);
        else if (rc == 0 && strcmp(nm, ".") && strcmp(nm, "..")) {
            char *a = path_join(abs, nm), *r = *rel ? path_join(rel, nm) : xstrdup(nm);
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
    r->v[r->n++] = (rentry_t){.name = xstrdup(en->name),
                              .md5 = en->md5 ? xstrdup(en->md5) : NULL,
                              .etag = en->etag ? xstrdup(en->etag) : NULL,
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

static int fold_cmp(const void *a, const void *b)
{
    const xfer_item_t *x = *(const xfer_item_t *const *)a, *y = *(const xfer_item_t *const *)b;
    int c = strcasecmp(x->remote, y->remote);
    return c ? c : strcmp(x->remote, y->remote);
}

/* Names the store cannot hold, or two that it would take for one (a store
 * that folds case), refuse the upload before any request. */
static int check_names(store_t *s, const xfer_result_t *pending, ferr_t *err)
{
    for (size_t i = 0; i < pending->n; i++) {
        const char *why = store_name_problem(s, pending->items[i].remote);
        if (why)
            return ferr_set(
                err, FERR_USAGE, "cannot upload %s as '%s' to datastore %s: %s; nothing was sent",
                pending->items[i].local, pending->items[i].remote, store_datastore(s)->name, why);
    }
    if (!(store_caps(s) & STORE_CAP_FOLD_CASE) || pending->n < 2)
        return 0;
    const xfer_item_t **v = xcalloc(pending->n, sizeof *v);
    for (size_t i = 0; i < pending->n; i++)
        v[i] = &pending->items[i];
    qsort(v, pending->n, sizeof *v, fold_cmp);
    int rc = 0;
    for (size_t i = 1; i < pending->n && rc == 0; i++)
        if (!strcasecmp(v[i - 1]->remote, v[i]->remote))
            rc = ferr_set(err, FERR_USAGE,
                          "%s and %s would both be '%s' in datastore %s, whose names ignore "
                          "case; rename one (nothing was sent)",
                          v[i - 1]->local, v[i]->local, v[i]->remote, store_datastore(s)->name);
    free(v);
    return rc;
}

static int is_folder(const char *remote)
{
    size_t l = strlen(remote);
    return l && remote[l - 1] == '/';
}

/* An empty folder of the source: made in a store with folders, where a
 * download brings it back; elsewhere there is nothing to hold it. */
static void make_folder(store_t *s, const xfer_item_t *p, xfer_result_t *res)
{
    if (!(store_caps(s) & STORE_CAP_HNS))
        return;
    ferr_t e = FERR_INIT;
    if (store_mkdir(s, p->remote, &e)) {
        log_error("%s: %s", p->local, e.msg);
        res->failed++;
    } else {
        log_debug("made the empty folder %s", p->remote);
    }
    ferr_clear(&e);
}

/* A listing without MD5s (a file share's): the one file that may be the
 * same is asked for its own. */
static char *remote_md5(store_t *s, const rentry_t *at)
{
    if (at->md5 || !(store_caps(s) & STORE_CAP_MD5))
        return at->md5 ? xstrdup(at->md5) : NULL;
    store_entry_t en;
    ferr_t e = FERR_INIT;
    char *md5 = store_stat(s, at->name, &en, &e) == 0 && en.md5 ? xstrdup(en.md5) : NULL;
    ferr_clear(&e);
    return md5;
}

/* pending: what the scan found; each goes to the store unless it is there already. */
static int upload_items(store_t *s, xfer_result_t *pending, const char *target,
                        const xfer_opts_t *o, xfer_result_t *res, double t0, ferr_t *err)
{
    /* one listing tells what exists, instead of a request per file: of the
     * longest prefix all the names share */
    if (check_names(s, pending, err))
        return -1;
    rindex_t r = {0};
    size_t pl = pending->n ? strlen(pending->items[0].remote) : 0;
    for (size_t i = 1; i < pending->n && pl; i++) {
        size_t k = 0;
        while (k < pl && pending->items[i].remote[k] == pending->items[0].remote[k])
            k++;
        pl = k;
    }
    char *prefix = pending->n ? xstrndup(pending->items[0].remote, pl) : NULL;
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
        if (is_folder(p->remote)) {
            make_folder(s, p, res);
            continue;
        }
        size_t idx = engine_item(&e, p->local, p->remote, p->size, NULL, NULL);
        if (idx == (size_t)-1)
            continue;
        ferr_t e1 = FERR_INIT;
        const char *why;
        if (!path_name_safe(p->remote, &why)) {
            ferr_set(&e1, FERR_UNSAFE, "refusing datastore name '%s': %s", p->remote, why);
            xf_account(&e, idx, 0, e1.msg);
            ferr_clear(&e1);
            continue;
        }
        const rentry_t *at = rindex_find(&r, p->remote);
        int compare = 0;
        char *at_md5 = NULL;
        if (at) {
            int same = 0;
            struct stat qs;
            if (o->quick && at->size == p->size && stat(p->local, &qs) == 0 &&
                at->mtime >= qs.st_mtim.tv_sec + (qs.st_mtim.tv_nsec ? 1 : 0))
                same = 1; /* a sync pass: sent after it was last written */
            else if (o->overwrite && at->size == p->size && (at_md5 = remote_md5(s, at))) {
                /* the local file's MD5 as recorded when it was last sent or
                 * fetched, if it has not changed since; else the worker that
                 * would send it hashes it (once) and compares there */
                struct stat st;
                char rec[64];
                if (stat(p->local, &st) == 0 &&
                    xf_xattr_get(p->local, &st, 2, rec, sizeof rec) == 0)
                    same = !strcmp(rec, at_md5);
                else
                    compare = 1;
            }
            if (same || !o->overwrite) {
                pthread_mutex_lock(&e.mu);
                res->items[idx].md5 = at_md5 ? xstrdup(at_md5) : at->md5 ? xstrdup(at->md5) : NULL;
                res->items[idx].etag = at->etag ? xstrdup(at->etag) : NULL;
                xf_account_skip_locked(&e, idx, same);
                pthread_mutex_unlock(&e.mu);
                free(at_md5);
                continue;
            }
            if (!compare) {
                free(at_md5);
                at_md5 = NULL;
            }
        }
        int chunked = (store_caps(s) & (STORE_CAP_CLONE | STORE_CAP_PARALLEL_BLOCKS)) ==
                          (STORE_CAP_CLONE | STORE_CAP_PARALLEL_BLOCKS) &&
                      p->size > xfer_block(NULL);
        xf_file_t *f = xf_file_new(idx, 1, p->remote, p->local, p->size, chunked);
        if (at_md5) { /* sent only if it differs */
            f->want_md5 = at_md5;
            f->etag = at->etag ? xstrdup(at->etag) : NULL;
        }
        if (chunked) {
            f->fd = f->ids ? open(p->local,
                                  O_RDONLY | O_CLOEXEC | (o->follow_symlinks ? 0 : O_NOFOLLOW))
                           : -1;
            struct stat fst;
            if (f->fd >= 0 && fstat(f->fd, &fst) == 0)
                path_stamp(&fst, f->stamp, sizeof f->stamp);
            if (f->fd < 0) {
                ferr_errno(&e1, FERR_IO, f->ids ? errno : ENOMEM, "cannot read %s", p->local);
                xf_account(&e, idx, 0, e1.msg);
                ferr_clear(&e1);
                xf_file_free(f);
                continue;
            }
        }
        engine_push(&e, f);
    }
    engine_finish(&e);
    rindex_free(&r);
    return xf_finish(res, t0, "upload", err);
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
    char *root = n ? path_dirname(abs[0]) : xstrdup("/");
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
    xfer_item_t **v = p->n ? xmalloc(p->n * sizeof *v) : NULL;
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
    char **abs = xcalloc(n ? n : 1, sizeof *abs);
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
            if (!xf_add_item(&pending, abs[i], remote, (uint64_t)st.st_size))
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
