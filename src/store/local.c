/* The local backend: a datastore is a folder. Symlinks and special files in
 * it are not followed or listed, so a name can never lead outside root. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "log.h"
#include "partial.h"
#include "path.h"
#include "store/backend.h"
#include "xalloc.h"

typedef struct local_store {
    store_t base;
    char *root;
    char *made; /* the last folder made by a write */
    char *stat_name;
    char stat_etag[64];
    datastore_t *own_ds; /* store_open_folder's */
} local_store_t;

/* A local file's ETag: it changes whenever the file is replaced or written. */
static void local_etag(const struct stat *st, char *buf, size_t n)
{
    snprintf(buf, n, "%llx-%llx-%lx.%09lx", (unsigned long long)st->st_ino,
             (unsigned long long)st->st_size, (long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec);
}

/* A folder's entry, with what lstat said. Sorted by name as a listing
 * names it: a folder's name with its '/', so that "a/b.txt" comes before
 * "a/b/x" as in Azure ('.' < '/'). */
typedef struct dentry {
    char *key; /* the name, plus '/' for a folder */
    struct stat st;
} dentry_t;

static int dentry_cmp(const void *a, const void *b)
{
    return strcmp(((const dentry_t *)a)->key, ((const dentry_t *)b)->key);
}

/* Deeper than this is refused rather than followed (a bound on recursion). */
#define WALK_MAX_DEPTH 256

/* The entries of folder abs, sorted; *n of them. */
static int read_folder(const char *abs, const char *rel, dentry_t **out, size_t *n, ferr_t *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(abs);
    if (!d) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return 0;
        return ferr_errno(err, FERR_IO, e, "cannot list %s", *rel ? rel : "its root");
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || partial_is_ours(de->d_name))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* gone since readdir */
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *out = xreallocarray(*out, cap, sizeof **out);
        }
        (*out)[*n].key = xasprintf("%s%s", de->d_name, S_ISDIR(st.st_mode) ? "/" : "");
        (*out)[(*n)++].st = st;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, dentry_cmp);
    return 0;
}

/* Lists dir (relative name rel) recursively in byte order. */
static int walk(local_store_t *ls, const char *rel, int depth, const char *prefix, int delim,
                store_list_fn fn, void *ud, ferr_t *err)
{
    if (depth > WALK_MAX_DEPTH)
        return ferr_set(err, FERR_UNSAFE, "%s: folders nested deeper than %d levels", rel,
                        WALK_MAX_DEPTH);
    char *abs = path_join(ls->root, rel);
    dentry_t *v;
    size_t n;
    if (read_folder(abs, rel, &v, &n, err)) {
        free(abs);
        return -1;
    }
    int rc = 0;
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct stat *st = &v[i].st;
        if (S_ISDIR(st->st_mode))
            v[i].key[strlen(v[i].key) - 1] = 0;
        char *name = *rel ? path_join(rel, v[i].key) : xstrdup(v[i].key);
        size_t nl = strlen(name);
        /* descend only where the prefix can still match */
        size_t m = nl < pl ? nl : pl;
        if (strncmp(name, prefix, m) != 0) {
            free(name);
            continue;
        }
        if (S_ISDIR(st->st_mode) && delim && nl >= pl) {
            /* past the prefix: one "folder" entry, not its contents */
            char *dir = xasprintf("%s/", name);
            store_entry_t e = {.name = dir, .is_prefix = 1};
            rc = fn(ud, &e);
            free(dir);
        } else if (S_ISDIR(st->st_mode)) {
            rc = walk(ls, name, depth + 1, prefix, delim, fn, ud, err);
        } else if (S_ISREG(st->st_mode)) {
            if (nl >= pl) {
                char etag[64];
                local_etag(st, etag, sizeof etag);
                store_entry_t e = {.name = name,
                                   .size = (uint64_t)st->st_size,
                                   .mtime = st->st_mtim.tv_sec,
                                   .etag = etag};
                rc = fn(ud, &e);
            }
        } else {
            log_warn("datastore %s: skipping %s: %s", ls->base.ds->name, name,
                     S_ISLNK(st->st_mode) ? "a symlink (not followed in a datastore)"
                                          : "not a regular file");
        }
        free(name);
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].key);
    free(v);
    free(abs);
    return rc;
}

static int local_list(store_t *s, const char *prefix, const char *delim, unsigned flags,
                      store_list_fn fn, void *ud, ferr_t *err)
{
    local_store_t *ls = (local_store_t *)s;
    (void)flags; /* not STORE_CAP_HNS: folders are not carried */
    if (delim && strcmp(delim, "/"))
        return ferr_set(err, FERR_UNSUPPORTED,
                        "a local datastore lists with the delimiter '/' only");
    return walk(ls, "", 0, prefix ? prefix : "", delim != NULL, fn, ud, err);
}

static int local_stat(store_t *s, const char *name, store_entry_t *e, ferr_t *err)
{
    local_store_t *ls = (local_store_t *)s;
    const char *why;
    if (!path_name_safe(name, &why))
        return ferr_set(err, FERR_UNSAFE, "name '%s' refused: %s", name, why);
    char *full = path_join(ls->root, name);
    struct stat st;
    int r = lstat(full, &st), e0 = errno;
    free(full);
    if (r != 0 && e0 != ENOENT && e0 != ENOTDIR)
        return ferr_errno(err, FERR_IO, e0, "%s", name);
    if (r != 0 || !S_ISREG(st.st_mode))
        return ferr_set(err, FERR_NOTFOUND, "%s: no such file in datastore %s", name, s->ds->name);
    free(ls->stat_name);
    ls->stat_name = xstrdup(name);
    e->name = ls->stat_name;
    e->size = (uint64_t)st.st_size;
    e->mtime = st.st_mtim.tv_sec;
    local_etag(&st, ls->stat_etag, sizeof ls->stat_etag);
    e->etag = ls->stat_etag;
    e->md5 = NULL;
    return 0;
}

static int local_read(store_t *s, const store_read_t *r, ferr_t *err)
{
    /* (r->etag: a local file is read whole, at once) */
    const char *name = r->name;
    local_store_t *ls = (local_store_t *)s;
    const char *why;
    if (!path_name_safe(name, &why))
        return ferr_set(err, FERR_UNSAFE, "name '%s' refused: %s", name, why);
    char *full = path_join(ls->root, name);
    int in = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    free(full);
    if (in < 0)
        return ferr_errno(err, errno == ENOENT ? FERR_NOTFOUND : FERR_IO, errno, "cannot read %s",
                          name);
    int rc = path_copy_range(in, r->off, r->fd, r->fd_off, r->len, r->on_bytes, r->ud);
    int e = errno;
    close(in);
    if (rc)
        return ferr_errno(err, FERR_IO, e, "copying %s", name);
    return 0;
}

static int local_write(store_t *s, const char *name, int fd, uint64_t size, store_bytes_fn on_bytes,
                       void *ud, store_put_t *put, ferr_t *err)
{
    put->etag[0] = put->md5[0] = 0;
    local_store_t *ls = (local_store_t *)s;
    const char *why;
    if (!path_name_safe(name, &why))
        return ferr_set(err, FERR_UNSAFE, "name '%s' refused: %s", name, why);
    char *full = path_join(ls->root, name);
    char *dir = path_dirname(name);
    int rc = 0;
    if (!ls->made || strcmp(ls->made, dir)) {
        /* never through a symlinked folder: a name cannot lead outside root */
        rc = path_mkdirs_under(ls->root, strcmp(dir, ".") ? dir : "", NULL, err);
        free(ls->made);
        ls->made = rc ? NULL : dir;
    }
    if (ls->made != dir)
        free(dir);
    if (rc) {
        free(full);
        return -1;
    }
    /* never half-written under its name */
    char *tmp = NULL;
    int out = path_tmp_open(full, &tmp);
    if (out < 0) {
        rc = ferr_errno(err, FERR_IO, errno, "cannot write %s", name);
    } else if (path_copy_range(fd, 0, out, 0, size, on_bytes, ud) != 0) {
        rc = ferr_errno(err, FERR_IO, errno, "writing %s", name);
        close(out);
        if (tmp)
            unlink(tmp);
    } else if (path_tmp_place(out, tmp, full) != 0) { /* (it closes out) */
        rc = errno == EISDIR ? ferr_set(err, FERR_IO, "%s is a folder there", name)
                             : ferr_errno(err, FERR_IO, errno, "cannot write %s", name);
    }
    free(tmp);
    free(full);
    return rc;
}

static void local_close(store_t *s)
{
    local_store_t *ls = (local_store_t *)s;
    free(ls->root);
    free(ls->stat_name);
    free(ls->made);
    datastore_free(ls->own_ds);
    free(ls);
}

static int local_open(store_t **out, const datastore_t *ds, ferr_t *err);

static int local_clone(store_t *s, store_t **out, ferr_t *err)
{
    return local_open(out, s->ds, err);
}

static int local_remove(store_t *s, const char *name, ferr_t *err)
{
    local_store_t *ls = (local_store_t *)s;
    const char *why;
    if (!path_name_safe(name, &why))
        return ferr_set(err, FERR_UNSAFE, "name '%s' refused: %s", name, why);
    char *full = path_join(ls->root, name);
    int rc = unlink(full) != 0 && errno != ENOENT
                 ? ferr_errno(err, FERR_IO, errno, "cannot remove %s", name)
                 : 0;
    free(full);
    return rc;
}

static const struct store_ops local_ops = {
    .clone = local_clone,
    .list = local_list,
    .stat = local_stat,
    .read = local_read,
    .write = local_write,
    .remove = local_remove,
    .close = local_close,
};

static int local_open(store_t **out, const datastore_t *ds, ferr_t *err)
{
    struct stat st;
    if (!ds->root || stat(ds->root, &st) != 0 || !S_ISDIR(st.st_mode))
        return ferr_set(err, FERR_NOTFOUND,
                        "datastore %s: its root folder %s does not exist (create it, or register "
                        "again with --create-if-not-exists)",
                        ds->name, ds->root ? ds->root : "(none)");
    local_store_t *ls = xcalloc(1, sizeof *ls);
    ls->base.ops = &local_ops;
    ls->base.ds = ds;
    ls->root = xstrdup(ds->root);
    *out = &ls->base;
    return 0;
}

static int local_from_options(datastore_t *ds, store_option_fn get, void *ud, ferr_t *err)
{
    const char *root = get(ud, "root");
    if (!root)
        return ferr_set(err, FERR_USAGE, "a local datastore needs --root DIR");
    ds->root = path_absolute(root, NULL);
    struct stat st;
    if (stat(ds->root, &st) != 0) {
        if (!get(ud, "create-if-not-exists"))
            return ferr_set(err, FERR_NOTFOUND,
                            "%s does not exist (pass --create-if-not-exists to create it)",
                            ds->root);
        return path_mkdirs(ds->root, 0755, err);
    }
    if (!S_ISDIR(st.st_mode))
        return ferr_set(err, FERR_USAGE, "%s is not a folder", ds->root);
    return 0;
}

static int local_validate(const datastore_t *ds, ferr_t *err)
{
    if (!ds->root || ds->root[0] != '/')
        return ferr_set(err, FERR_USAGE, "datastore %s: a local datastore needs --root DIR",
                        ds->name);
    if (ds->cred_kind != CRED_NONE)
        return ferr_set(err, FERR_USAGE, "a local datastore takes no credential");
    return 0;
}

int store_open_folder(store_t **out, const char *label, const char *dir, ferr_t *err)
{
    /* a datastore of its own, freed with the store */
    datastore_t *ds = datastore_new(label, &store_backend_local);
    ds->root = xstrdup(dir);
    if (local_open(out, ds, err)) {
        datastore_free(ds);
        return -1;
    }
    local_store_t *ls = (local_store_t *)*out;
    ls->own_ds = ds;
    ls->base.backend = &store_backend_local;
    return 0;
}

static const char *const local_options[] = {"root", NULL};

const store_backend_t store_backend_local = {
    .type = "local",
    .cli_name = "local",
    .caps = STORE_CAP_CLONE | STORE_CAP_LIST,
    .options = local_options,
    .usage = "--root DIR [--create-if-not-exists]",
    .from_options = local_from_options,
    .validate = local_validate,
    .open = local_open,
};
