/* Extracting an archive from a datastore (libarchive reads it; the entries
 * are written here, every path opened relative to the extraction folder
 * with O_NOFOLLOW, so that nothing in the archive can make a write land
 * outside it: archive_write_disk works relative to the process's current
 * folder, which a multi-threaded ferry cannot change). */
#define _GNU_SOURCE
#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "array.h"
#include "cache.h"
#include "log.h"
#include "path.h"
#include "xalloc.h"

/* The archive is read from the datastore in ranges of this size. */
#define CHUNK (8u << 20)
/* Each entry counts this much against the limit besides its data (an
 * archive of a million empty files fills a disk's inodes). */
#define ENTRY_COST 512u
/* Folders deeper than this in an archive are refused (and bound the
 * removal's recursion). */
#define MAX_DEPTH 256

/* --- reading: the archive's bytes, range by range --- */

typedef struct src {
    store_t *s;
    const char *name, *etag;
    uint64_t size, off;
    int memfd;
    char *buf;
    size_t have; /* bytes of buf not yet handed out (the first range, peeked at) */
    ferr_t *err;
} src_t;

static int fetch_range(src_t *r, size_t *len)
{
    uint64_t left = r->size - r->off;
    *len = left < CHUNK ? (size_t)left : CHUNK;
    if (ftruncate(r->memfd, 0) != 0)
        return ferr_errno(r->err, FERR_IO, errno, "cannot reuse a buffer file");
    if (store_read(r->s, r->name, r->etag, r->off, *len, r->memfd, 0, NULL, NULL, r->err))
        return -1;
    if (path_pread_full(r->memfd, r->buf, *len, 0) != 0)
        return ferr_errno(r->err, FERR_IO, errno, "cannot read a buffer file");
    r->off += *len;
    return 0;
}

static la_ssize_t src_read(struct archive *a, void *ud, const void **out)
{
    src_t *r = ud;
    *out = r->buf;
    if (r->have) {
        size_t n = r->have;
        r->have = 0;
        return (la_ssize_t)n;
    }
    if (r->off >= r->size)
        return 0;
    size_t len;
    if (fetch_range(r, &len)) {
        archive_set_error(a, EIO, "%s", r->err->msg ? r->err->msg : "read failed");
        return -1;
    }
    return (la_ssize_t)len;
}

/* A zip's directory is at its end: the whole archive into a nameless file. */
static int whole_to_file(src_t *r, const char *dir, int *fd, ferr_t *err)
{
    *fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (*fd < 0)
        return ferr_errno(err, FERR_IO, errno, "cannot make a file in %s for the zip", dir);
    if (store_read(r->s, r->name, r->etag, 0, r->size, *fd, 0, NULL, NULL, err)) {
        close(*fd);
        *fd = -1;
        return -1;
    }
    return 0;
}

/* --- writing: every path relative to the extraction folder --- */

typedef struct dst {
    int root; /* the extraction folder */
    const char *label, *archive, *final;
    uint64_t used, limit;
    unsigned skipped; /* device nodes, FIFOs, sockets */
    struct dirmode {
        char *rel;
        mode_t mode;
    } * dirs; /* folders whose mode is set at the end (writable meanwhile) */
    size_t ndirs, capdirs;
    xfer_result_t *res;
    ferr_t *err;
} dst_t;

/* A relative path with no '..' or empty segment ("./" and a trailing '/'
 * are dropped); NULL with *why otherwise. malloc'd. */
static char *entry_path(const char *p, const char **why)
{
    if (!p || !*p) {
        *why = "has no name";
        return NULL;
    }
    if (p[0] == '/') {
        *why = "is an absolute path";
        return NULL;
    }
    char *out = xcalloc(1, strlen(p) + 1);
    size_t o = 0;
    int depth = 0;
    for (const char *seg = p; *seg;) {
        size_t len = strcspn(seg, "/");
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            free(out);
            *why = "contains '..'";
            return NULL;
        }
        if (len && !(len == 1 && seg[0] == '.')) {
            if (++depth > MAX_DEPTH) {
                free(out);
                *why = "is nested too deep";
                return NULL;
            }
            if (o)
                out[o++] = '/';
            memcpy(out + o, seg, len);
            o += len;
        }
        seg += len;
        while (*seg == '/')
            seg++;
    }
    return out; /* "" for the folder itself ("./") */
}

/* Opens (making them when create is set) the folders of rel but its last
 * part, never following a symlink; *base points at the last part. */
static int open_parent(int root, const char *rel, int create, const char **base)
{
    int fd = dup(root);
    const char *seg = rel;
    for (const char *slash; fd >= 0 && (slash = strchr(seg, '/')); seg = slash + 1) {
        char part[NAME_MAX + 1];
        size_t len = (size_t)(slash - seg);
        if (len > NAME_MAX) {
            close(fd);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(part, seg, len);
        part[len] = 0;
        if (create && mkdirat(fd, part, 0755) != 0 && errno != EEXIST) {
            close(fd);
            return -1;
        }
        int next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = next;
    }
    *base = seg;
    return fd;
}

static int refuse(dst_t *d, const char *entry, const char *why)
{
    return ferr_set(d->err, FERR_UNSAFE,
                    "%s: archive %s: entry '%s' %s; refused, and nothing was extracted", d->label,
                    d->archive, entry, why);
}

/* A symlink's target stays inside the folder: relative, and its '..'s never
 * climb above the folder from where the link is. */
static int link_target_ok(const char *rel, const char *target)
{
    if (!*target || target[0] == '/')
        return 0;
    int depth = 0;
    for (const char *c = rel; *c; c++)
        depth += *c == '/';
    for (const char *seg = target; *seg;) {
        size_t len = strcspn(seg, "/");
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            if (--depth < 0)
                return 0;
        } else if (len && !(len == 1 && seg[0] == '.')) {
            depth++;
        }
        seg += len;
        while (*seg == '/')
            seg++;
    }
    return 1;
}

static int write_data(dst_t *d, struct archive *a, int fd, const char *entry)
{
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
        d->used += len;
        if (d->limit && d->used > d->limit)
            return ferr_set(d->err, FERR_IO,
                            "%s: archive %s expands past %llu bytes (at '%s'): stopped, and "
                            "nothing was extracted (FERRY_UNPACK_LIMIT sets the limit)",
                            d->label, d->archive, (unsigned long long)d->limit, entry);
        if (len && pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
            return ferr_errno(d->err, FERR_IO, errno, "%s: writing '%s'", d->label, entry);
    }
    if (r != ARCHIVE_EOF)
        return ferr_set(d->err, FERR_TRANSFER, "%s: archive %s: reading '%s': %s", d->label,
                        d->archive, entry, archive_error_string(a));
    return 0;
}

static int write_file(dst_t *d, struct archive *a, struct archive_entry *e, int parent,
                      const char *base, const char *rel)
{
    mode_t mode = (archive_entry_perm(e) & 0777) | 0600;
    int fd = openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0 && errno == EEXIST) { /* a later entry of the same name wins, as in tar */
        struct stat st;
        if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            return refuse(d, rel, "is a file where the archive made a folder");
        unlinkat(parent, base, 0);
        fd = openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    }
    if (fd < 0)
        return ferr_errno(d->err, FERR_IO, errno, "%s: cannot make '%s'", d->label, rel);
    int rc = write_data(d, a, fd, rel);
    int64_t size = archive_entry_size(e);
    if (rc == 0 && size > 0 && ftruncate(fd, (off_t)size) != 0) /* a sparse file's tail */
        rc = ferr_errno(d->err, FERR_IO, errno, "%s: '%s'", d->label, rel);
    if (rc == 0 && fchmod(fd, mode) == 0 && archive_entry_mtime_is_set(e)) {
        struct timespec t[2] = {{0, UTIME_OMIT},
                                {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
        futimens(fd, t);
    }
    close(fd);
    if (rc == 0) {
        char *local = xasprintf("%s/%s", d->final, rel);
        char *remote = xasprintf("%s!%s", d->archive, rel);
        xfer_item_t *it = xfer_result_add(d->res, local, remote, (uint64_t)(size > 0 ? size : 0));
        if (it)
            it->status = XFER_DONE;
        d->res->files++;
        d->res->bytes += (uint64_t)(size > 0 ? size : 0);
        free(local);
        free(remote);
    }
    return rc;
}

static int write_entry(dst_t *d, struct archive *a, struct archive_entry *e)
{
    const char *why = NULL, *name = archive_entry_pathname(e);
    char *rel = entry_path(name, &why);
    if (!rel)
        return refuse(d, name ? name : "", why);
    d->used += ENTRY_COST;
    mode_t type = archive_entry_filetype(e);
    if (!*rel) { /* "./": the folder itself */
        free(rel);
        return type == AE_IFDIR ? 0 : refuse(d, name, "names the folder itself");
    }
    const char *hard = archive_entry_hardlink(e), *base;
    int rc = 0;
    if (!hard && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
        d->skipped++;
        log_warn("%s: archive %s: '%s' is a device node, FIFO or socket: not made", d->label,
                 d->archive, rel);
        free(rel);
        return 0;
    }
    int parent = open_parent(d->root, rel, 1, &base);
    if (parent < 0) {
        rc = errno == ELOOP || errno == ENOTDIR
                 ? refuse(d, rel, "goes through a symlink or a file")
                 : ferr_errno(d->err, FERR_IO, errno, "%s: cannot make the folders of '%s'",
                              d->label, rel);
    } else if (hard) {
        char *target = entry_path(hard, &why);
        const char *tbase;
        int tparent = target && *target ? open_parent(d->root, target, 0, &tbase) : -1;
        if (!target || !*target)
            rc = refuse(d, rel, "is a hard link to a path outside the archive");
        else if (tparent < 0 || linkat(tparent, tbase, parent, base, 0) != 0)
            rc = refuse(d, rel, "is a hard link to nothing the archive made before it");
        if (tparent >= 0)
            close(tparent);
        free(target);
    } else if (type == AE_IFDIR) {
        if (mkdirat(parent, base, 0755) != 0 && errno != EEXIST)
            rc = ferr_errno(d->err, FERR_IO, errno, "%s: cannot make '%s'", d->label, rel);
        else if (ARRAY_ROOM(d->dirs, d->ndirs, d->capdirs, 64) == 0)
            d->dirs[d->ndirs++] =
                (struct dirmode){xstrdup(rel), (archive_entry_perm(e) & 0777) | 0700};
    } else if (type == AE_IFLNK) {
        const char *target = archive_entry_symlink(e);
        if (!target || !link_target_ok(rel, target))
            rc = refuse(d, rel, "is a symlink pointing out of the folder");
        else if (symlinkat(target, parent, base) != 0)
            rc = errno == EEXIST ? refuse(d, rel, "is a symlink where something already is")
                                 : ferr_errno(d->err, FERR_IO, errno, "%s: '%s'", d->label, rel);
    } else {
        rc = write_file(d, a, e, parent, base, rel);
    }
    if (parent >= 0)
        close(parent);
    free(rel);
    return rc;
}

/* --- the folder: made beside dest, moved into place at the end --- */

static void remove_tree_at(int dirfd_, const char *name, int depth)
{
    int fd = openat(dirfd_, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno == EISDIR && depth < MAX_DEPTH + 2)
                remove_tree_at(dirfd(d), e->d_name, depth + 1);
        }
        closedir(d);
    } else if (fd >= 0) {
        close(fd);
    }
    unlinkat(dirfd_, name, AT_REMOVEDIR);
}

/* Moves the entries of folder sfd into folder dfd: a folder already there
 * is merged into, a file already there is replaced only with overwrite. */
static int merge_into(int sfd, int dfd, const char *dest, int overwrite, int depth, ferr_t *err)
{
    DIR *d = fdopendir(sfd);
    if (!d) {
        close(sfd);
        return ferr_errno(err, FERR_IO, errno, "cannot read the extracted files");
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (renameat2(dirfd(d), e->d_name, dfd, e->d_name, RENAME_NOREPLACE) == 0)
            continue;
        if (errno != EEXIST)
            rc = ferr_errno(err, FERR_IO, errno, "%s/%s", dest, e->d_name);
        struct stat a, b;
        int dirs = rc == 0 && fstatat(dirfd(d), e->d_name, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
                   fstatat(dfd, e->d_name, &b, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(a.st_mode) &&
                   S_ISDIR(b.st_mode);
        if (rc == 0 && dirs && depth < MAX_DEPTH) {
            int s2 = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int d2 = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            char *sub = xasprintf("%s/%s", dest, e->d_name);
            rc = s2 < 0 || d2 < 0 ? ferr_errno(err, FERR_IO, errno, "%s", sub)
                                  : merge_into(s2, d2, sub, overwrite, depth + 1, err);
            if (s2 < 0 && d2 >= 0)
                close(d2);
            else if (d2 >= 0)
                close(d2);
            free(sub);
        } else if (rc == 0 && (!overwrite || S_ISDIR(b.st_mode) ||
                               renameat2(dirfd(d), e->d_name, dfd, e->d_name, 0) != 0)) {
            rc = ferr_set(err, FERR_EXISTS, "%s/%s is there already%s", dest, e->d_name,
                          overwrite ? " (a folder)" : " (--overwrite replaces it)");
        }
    }
    closedir(d);
    return rc;
}

/* The extracted entries into dest: the folder itself when dest is not
 * there, else merged into it. */
static int move_into_place(const char *tmp, const char *dest, int overwrite, ferr_t *err)
{
    if (rename(tmp, dest) == 0)
        return 0;
    if (errno != EEXIST && errno != ENOTEMPTY)
        return ferr_errno(err, FERR_IO, errno, "cannot move the extracted files to %s", dest);
    int sfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int dfd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int rc = sfd < 0 || dfd < 0
                 ? ferr_errno(err, FERR_IO, errno, "cannot move the extracted files to %s", dest)
                 : merge_into(sfd, dfd, dest, overwrite, 0, err);
    if (sfd >= 0 && dfd < 0)
        close(sfd);
    if (dfd >= 0)
        close(dfd);
    return rc;
}

static uint64_t free_bytes(const char *dir)
{
    struct statvfs v;
    if (statvfs(dir, &v) != 0)
        return 0;
    uint64_t b = (uint64_t)v.f_bavail * v.f_frsize;
    return b - b / 100;
}

uint64_t unpack_limit_from_env(void)
{
    const char *v = getenv("FERRY_UNPACK_LIMIT");
    uint64_t n = 0;
    if (v && *v && cache_parse_size(v, &n) != 0)
        n = 0;
    return n;
}

/* The folders' modes, the deepest last made first. */
static void set_dir_modes(dst_t *d)
{
    for (size_t i = d->ndirs; i-- > 0;) {
        const char *base;
        int parent = open_parent(d->root, d->dirs[i].rel, 0, &base);
        int fd = parent >= 0 ? openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                             : -1;
        if (fd >= 0) {
            fchmod(fd, d->dirs[i].mode);
            close(fd);
        }
        if (parent >= 0)
            close(parent);
        free(d->dirs[i].rel);
    }
    free(d->dirs);
}

/* Reads every entry of an opened archive into d. */
static int extract(struct archive *a, dst_t *d)
{
    struct archive_entry *e;
    int r, rc = 0;
    while (rc == 0 && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK)
        rc = write_entry(d, a, e);
    set_dir_modes(d);
    if (rc == 0 && r != ARCHIVE_EOF)
        rc = d->err->msg ? -1
                         : ferr_set(d->err, FERR_TRANSFER, "%s: archive %s: %s", d->label,
                                    d->archive, archive_error_string(a));
    return rc;
}

static int open_and_extract(src_t *r, const char *parent, dst_t *d, ferr_t *err)
{
    size_t first = 0;
    if (r->size && fetch_range(r, &first))
        return -1;
    r->have = first;
    int zip = first >= 4 && !memcmp(r->buf, "PK", 2) &&
              (!memcmp(r->buf + 2, "\3\4", 2) || !memcmp(r->buf + 2, "\5\6", 2));
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_zip(a);
    int zfd = -1, rc = 0;
    if (zip) {
        rc = whole_to_file(r, parent, &zfd, err);
        if (rc == 0 && archive_read_open_fd(a, zfd, 1 << 20) != ARCHIVE_OK)
            rc = ferr_set(err, FERR_CONFIG, "%s: %s: %s", d->label, d->archive,
                          archive_error_string(a));
    } else if (archive_read_open(a, r, NULL, src_read, NULL) != ARCHIVE_OK) {
        rc = err->msg ? -1
                      : ferr_set(err, FERR_UNSUPPORTED,
                                 "%s: %s is not an archive ferry can unpack (tar, plain or "
                                 "gz, bz2, xz, zstd; or zip): %s",
                                 d->label, d->archive, archive_error_string(a));
    }
    if (rc == 0)
        rc = extract(a, d);
    archive_read_free(a);
    if (zfd >= 0)
        close(zfd);
    return rc;
}

int unpack_store_file(store_t *s, const char *name, const char *etag, uint64_t size,
                      const char *dest, const unpack_opts_t *o, xfer_result_t *res, ferr_t *err)
{
    char *parent = path_dirname(dest);
    if (path_mkdirs(parent, 0755, err)) {
        free(parent);
        return -1;
    }
    char *tmp = xasprintf("%s/.ferry-unpack-XXXXXX", parent);
    src_t r = {.s = s, .name = name, .etag = etag, .size = size, .err = err, .memfd = -1};
    dst_t d = {.root = -1,
               .label = o->label ? o->label : name,
               .archive = name,
               .final = dest,
               .limit = o->limit ? o->limit : free_bytes(parent),
               .res = res,
               .err = err};
    int rc = 0;
    if (!mkdtemp(tmp))
        rc = ferr_errno(err, FERR_IO, errno, "cannot make a folder in %s", parent);
    mode_t um = umask(0);
    umask(um);
    if (rc == 0 && chmod(tmp, 0777 & ~um) != 0) /* mkdtemp made it 0700 */
        rc = ferr_errno(err, FERR_IO, errno, "cannot set the mode of %s", tmp);
    if (rc == 0 && ((d.root = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
                    (r.memfd = memfd_create("ferry-unpack", MFD_CLOEXEC)) < 0))
        rc = ferr_errno(err, FERR_IO, errno, "cannot make the buffers to unpack with");
    r.buf = rc == 0 ? xmalloc(CHUNK) : NULL;
    if (rc == 0)
        rc = open_and_extract(&r, parent, &d, err);
    if (d.root >= 0)
        close(d.root);
    if (rc == 0)
        rc = move_into_place(tmp, dest, o->overwrite, err);
    if (rc == 0 && d.skipped)
        log_warn("%s: %u device nodes, FIFOs or sockets in %s were not made", d.label, d.skipped,
                 name);
    const char *slash = strrchr(tmp, '/');
    int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd >= 0) { /* what is left: all of it after a failure, an empty folder after a merge */
        remove_tree_at(pfd, slash + 1, 0);
        close(pfd);
    }
    if (r.memfd >= 0)
        close(r.memfd);
    free(r.buf);
    free(tmp);
    free(parent);
    return rc;
}
