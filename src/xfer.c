#define _GNU_SOURCE
#include "xfer.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "path.h"
#include "progress.h"

static xfer_item_t *add_item(xfer_result_t *r, const char *local, const char *remote,
                             uint64_t size)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        xfer_item_t *n = realloc(r->items, cap * sizeof *n);
        if (!n)
            return NULL;
        r->items = n;
        r->cap = cap;
    }
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
    progress_human((uint64_t)((double)r->bytes / s), rate, sizeof rate);
    char *out = NULL;
    if (asprintf(&out, "%s %llu file%s (%s), %llu skipped, %llu failed, in %.2f s (%s/s)", verb,
                 (unsigned long long)r->files, r->files == 1 ? "" : "s", b,
                 (unsigned long long)r->skipped, (unsigned long long)r->failed, r->seconds,
                 rate) < 0)
        return NULL;
    return out;
}

static void on_bytes(void *ud, uint64_t n)
{
    progress_bytes(ud, n);
}

/* Creates dest/rel_dir one component at a time, refusing any component
 * that exists as a symlink or a file: nothing is written outside dest. */
static int mkdirs_under(const char *dest, const char *rel_dir, ferr_t *err)
{
    if (path_mkdirs(dest, 0755, err))
        return -1;
    char *cur = strdup(dest);
    const char *seg = rel_dir;
    while (seg && *seg) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        char *part = strndup(seg, len);
        char *next = path_join(cur, part);
        free(part);
        free(cur);
        cur = next;
        struct stat st;
        if (lstat(cur, &st) == 0) {
            if (S_ISLNK(st.st_mode)) {
                ferr_set(err, FERR_UNSAFE, "%s is a symlink; refusing to write through it", cur);
                free(cur);
                return -1;
            }
            if (!S_ISDIR(st.st_mode)) {
                ferr_set(err, FERR_IO, "%s is a file, so it cannot also be a folder", cur);
                free(cur);
                return -1;
            }
        } else if (mkdir(cur, 0755) != 0 && errno != EEXIST) {
            ferr_errno(err, FERR_IO, errno, "cannot create folder %s", cur);
            free(cur);
            return -1;
        }
        seg = end ? end + 1 : NULL;
    }
    free(cur);
    return 0;
}

/* One file from the store to dest/rel, through a temporary name. */
static int fetch_one(store_t *s, const char *name, uint64_t size, const char *dest,
                     const char *rel, const xfer_opts_t *o, progress_t *pg, xfer_item_t *it,
                     ferr_t *err)
{
    const char *why;
    if (!path_name_safe(rel, &why))
        return ferr_set(err, FERR_UNSAFE, "refusing '%s': %s; nothing written", name, why);
    char *local = path_join(dest, rel);
    free(it->local);
    it->local = local;
    struct stat st;
    if (lstat(local, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return ferr_set(err, FERR_IO, "%s: a folder of that name exists", local);
        if (!o->overwrite) {
            it->status = XFER_SKIPPED;
            return 0;
        }
    }
    char *reldir = path_dirname(rel);
    int rc = mkdirs_under(dest, strcmp(reldir, ".") ? reldir : "", err);
    free(reldir);
    if (rc)
        return -1;
    char *tmp = path_temp_beside(local);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        ferr_errno(err, FERR_IO, errno, "cannot create %s", tmp);
        free(tmp);
        return -1;
    }
    rc = s->ops->read(s, name, 0, size, fd, 0, on_bytes, pg, err);
    if (rc == 0 && close(fd) != 0)
        rc = ferr_errno(err, FERR_IO, errno, "writing %s", local);
    else if (rc != 0)
        close(fd);
    if (rc == 0 && rename(tmp, local) != 0)
        rc = ferr_errno(err, FERR_IO, errno, "cannot rename into %s", local);
    if (rc)
        unlink(tmp);
    free(tmp);
    if (rc == 0)
        it->status = XFER_DONE;
    return rc;
}

typedef struct listing {
    char **names;
    char **etags, **md5s;
    uint64_t *sizes;
    size_t n, cap;
    uint64_t bytes;
} listing_t;

static int collect(void *ud, const store_entry_t *e)
{
    listing_t *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        char **nn = realloc(l->names, cap * sizeof *nn);
        if (nn)
            l->names = nn;
        uint64_t *ns = realloc(l->sizes, cap * sizeof *ns);
        if (ns)
            l->sizes = ns;
        char **ne = realloc(l->etags, cap * sizeof *ne);
        if (ne)
            l->etags = ne;
        char **nm = realloc(l->md5s, cap * sizeof *nm);
        if (nm)
            l->md5s = nm;
        if (!nn || !ns || !ne || !nm)
            return -1;
        l->cap = cap;
    }
    l->names[l->n] = strdup(e->name);
    l->etags[l->n] = e->etag ? strdup(e->etag) : NULL;
    l->md5s[l->n] = e->md5 ? strdup(e->md5) : NULL;
    l->sizes[l->n++] = e->size;
    l->bytes += e->size;
    return 0;
}

static void listing_free(listing_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->names[i]);
        free(l->etags[i]);
        free(l->md5s[i]);
    }
    free(l->names);
    free(l->etags);
    free(l->md5s);
    free(l->sizes);
}

/* Is names[i] also a folder, i.e. does some name start with "names[i]/"?
 * The listing is sorted, so such names follow it closely. */
static int is_also_folder(const listing_t *l, size_t i)
{
    size_t len = strlen(l->names[i]);
    for (size_t j = i + 1; j < l->n; j++) {
        int c = strncmp(l->names[j], l->names[i], len);
        if (c != 0)
            return 0;
        if (l->names[j][len] == '/')
            return 1;
    }
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

static void account(xfer_result_t *res, xfer_item_t *it, progress_t *pg, int rc, ferr_t *e1,
                    const char *what)
{
    if (rc) {
        it->status = XFER_FAILED;
        res->failed++;
        log_error("%s %s: %s", what, it->remote, e1->msg ? e1->msg : "failed");
        ferr_clear(e1);
        progress_file_done(pg, 0);
    } else if (it->status == XFER_SKIPPED) {
        res->skipped++;
        log_debug("skipped %s (exists; --overwrite replaces it)", it->local);
        progress_file_done(pg, it->size);
    } else {
        res->files++;
        res->bytes += it->size;
        if (!strcmp(what, "upload"))
            log_debug("upload %s -> %s", it->local, it->remote);
        else
            log_debug("download %s -> %s", it->remote, it->local);
        progress_file_done(pg, 0);
    }
}

int xfer_download_prefix(store_t *s, const char *prefix, size_t strip, const char *dest,
                         const xfer_opts_t *o, xfer_result_t *res, ferr_t *err)
{
    double t0 = progress_now();
    listing_t l = {0};
    if (s->ops->list(s, prefix, NULL, collect, &l, err)) {
        listing_free(&l);
        return ferr_wrap(err, "listing %s:%s", s->ds->name, *prefix ? prefix : "/");
    }
    if (path_mkdirs(dest, 0755, err)) {
        listing_free(&l);
        return -1;
    }
    progress_t *pg = progress_start(o->label ? o->label : "download");
    progress_total(pg, l.n, l.bytes);
    for (size_t i = 0; i < l.n; i++) {
        const char *name = l.names[i];
        size_t nl = strlen(name);
        if (nl && name[nl - 1] == '/' && l.sizes[i] == 0)
            continue; /* a folder marker, as ADLS and some tools write */
        ferr_t e1 = FERR_INIT;
        int rc;
        xfer_item_t *it = add_item(res, NULL, name, l.sizes[i]);
        if (!it) {
            rc = ferr_set(err, FERR_INTERNAL, "out of memory");
            break;
        }
        if (is_also_folder(&l, i)) {
            if (l.sizes[i] == 0) { /* an empty marker beside its folder: nothing to keep */
                res->n--;
                free(it->remote);
                continue;
            }
            rc = ferr_set(&e1, FERR_IO,
                          "'%s' is both a file (%llu bytes) and a folder in the datastore; the "
                          "file was not downloaded",
                          name, (unsigned long long)l.sizes[i]);
        } else {
            it->etag = l.etags[i] ? strdup(l.etags[i]) : NULL;
            it->md5 = l.md5s[i] ? strdup(l.md5s[i]) : NULL;
            rc = fetch_one(s, name, l.sizes[i], dest, name + (strip <= nl ? strip : nl), o, pg,
                           it, &e1);
        }
        account(res, it, pg, rc, &e1, "download");
    }
    progress_end(pg);
    listing_free(&l);
    return finish(res, t0, "download", err);
}

int xfer_download_file(store_t *s, const char *name, const char *dest_file, const xfer_opts_t *o,
                       xfer_result_t *res, ferr_t *err)
{
    double t0 = progress_now();
    store_entry_t e;
    if (s->ops->stat(s, name, &e, err))
        return -1;
    uint64_t size = e.size;
    char *etag = e.etag ? strdup(e.etag) : NULL, *md5 = e.md5 ? strdup(e.md5) : NULL;
    char *dir = path_dirname(dest_file);
    const char *base = strrchr(dest_file, '/');
    base = base ? base + 1 : dest_file;
    progress_t *pg = progress_start(o->label ? o->label : "download");
    progress_total(pg, 1, size);
    xfer_item_t *it = add_item(res, NULL, name, size);
    if (it) {
        it->etag = etag;
        it->md5 = md5;
    } else {
        free(etag);
        free(md5);
    }
    ferr_t e1 = FERR_INIT;
    int rc = it ? fetch_one(s, name, size, dir, base, o, pg, it, &e1) : -1;
    if (it)
        account(res, it, pg, rc, &e1, "download");
    progress_end(pg);
    free(dir);
    return finish(res, t0, "download", err);
}

/* --- uploads --- */

typedef struct visit {
    dev_t dev;
    ino_t ino;
    struct visit *up;
} visit_t;

static int scan_dir(const char *abs, const char *rel, const char *target, const xfer_opts_t *o,
                    visit_t *up, xfer_result_t *res, ferr_t *err);

static int scan_entry(const char *abs, const char *rel, const char *target, const xfer_opts_t *o,
                      visit_t *up, xfer_result_t *res, ferr_t *err)
{
    struct stat st;
    if (lstat(abs, &st) != 0)
        return ferr_errno(err, FERR_IO, errno, "%s", abs);
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
    if (n < 0)
        return ferr_errno(err, FERR_IO, errno, "cannot read folder %s", abs);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = list[i]->d_name;
        if (rc == 0 && strcmp(nm, ".") && strcmp(nm, "..")) {
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

static int put_one(store_t *s, xfer_item_t *it, const xfer_opts_t *o, progress_t *pg,
                   ferr_t *err)
{
    const char *why;
    if (!path_name_safe(it->remote, &why))
        return ferr_set(err, FERR_UNSAFE, "refusing datastore name '%s': %s", it->remote, why);
    if (!o->overwrite) {
        store_entry_t e;
        ferr_t e2 = FERR_INIT;
        if (s->ops->stat(s, it->remote, &e, &e2) == 0) {
            it->status = XFER_SKIPPED;
            it->etag = e.etag ? strdup(e.etag) : NULL;
            it->md5 = e.md5 ? strdup(e.md5) : NULL;
            return 0;
        }
        int notfound = e2.code == FERR_NOTFOUND;
        if (!notfound) {
            ferr_set(err, e2.code, "%s", e2.msg);
            ferr_clear(&e2);
            return -1;
        }
        ferr_clear(&e2);
    }
    int fd = open(it->local, O_RDONLY | O_CLOEXEC | (o->follow_symlinks ? 0 : O_NOFOLLOW));
    if (fd < 0)
        return ferr_errno(err, FERR_IO, errno, "cannot read %s", it->local);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ferr_set(err, FERR_IO, "%s: not a regular file", it->local);
    }
    it->size = (uint64_t)st.st_size;
    store_put_t put;
    int rc = s->ops->write(s, it->remote, fd, it->size, on_bytes, pg, &put, err);
    close(fd);
    if (rc == 0) {
        it->status = XFER_DONE;
        it->etag = put.etag[0] ? strdup(put.etag) : NULL;
        it->md5 = put.md5[0] ? strdup(put.md5) : NULL;
    }
    return rc;
}

static int upload_items(store_t *s, size_t first, const xfer_opts_t *o, xfer_result_t *res,
                        double t0, ferr_t *err)
{
    uint64_t bytes = 0;
    for (size_t i = first; i < res->n; i++)
        bytes += res->items[i].size;
    progress_t *pg = progress_start(o->label ? o->label : "upload");
    progress_total(pg, res->n - first, bytes);
    for (size_t i = first; i < res->n; i++) {
        ferr_t e1 = FERR_INIT;
        int rc = put_one(s, &res->items[i], o, pg, &e1);
        account(res, &res->items[i], pg, rc, &e1, "upload");
    }
    progress_end(pg);
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
    size_t first = res->n;
    visit_t root = {st.st_dev, st.st_ino, NULL};
    char *abs = path_absolute(src_dir, NULL);
    int rc = scan_dir(abs, "", target ? target : "", o, &root, res, err);
    free(abs);
    if (rc)
        return -1;
    return upload_items(s, first, o, res, t0, err);
}

int xfer_upload_files(store_t *s, char *const *files, size_t n, const char *relative_root,
                      const char *target, const xfer_opts_t *o, xfer_result_t *res, ferr_t *err)
{
    double t0 = progress_now();
    size_t first = res->n;
    char *root = relative_root ? path_absolute(relative_root, NULL) : NULL;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *abs = path_absolute(files[i], NULL);
        const char *rel;
        size_t rl = root ? strlen(root) : 0;
        if (root) {
            if (strncmp(abs, root, rl) != 0 || (abs[rl] != '/' && strcmp(root, "/"))) {
                rc = ferr_set(err, FERR_USAGE, "%s is not under --relative-root %s", files[i],
                              root);
                free(abs);
                break;
            }
            rel = abs + rl + (strcmp(root, "/") ? 1 : 0);
        } else {
            rel = strrchr(abs, '/') + 1;
        }
        struct stat st;
        if (stat(abs, &st) != 0) {
            rc = ferr_errno(err, errno == ENOENT ? FERR_NOTFOUND : FERR_IO, errno, "%s", files[i]);
        } else if (!S_ISREG(st.st_mode)) {
            rc = ferr_set(err, FERR_USAGE, "%s is not a regular file", files[i]);
        } else {
            char *remote = path_join(target ? target : "", rel);
            if (!add_item(res, abs, remote, (uint64_t)st.st_size))
                rc = ferr_set(err, FERR_INTERNAL, "out of memory");
            free(remote);
        }
        free(abs);
    }
    free(root);
    if (rc)
        return -1;
    xfer_opts_t o2 = *o;
    o2.follow_symlinks = 1; /* files named on the command line are meant as given */
    return upload_items(s, first, &o2, res, t0, err);
}
