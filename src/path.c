#define _GNU_SOURCE
#include "path.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

char *path_join(const char *a, const char *b)
{
    if (!b || !*b)
        return xstrdup(a);
    if (!a || !*a)
        return xstrdup(b);
    size_t la = strlen(a);
    while (la > 1 && a[la - 1] == '/')
        la--;
    while (*b == '/')
        b++;
    char *s = NULL;
    if (asprintf(&s, "%.*s%s%s", (int)la, a, (la == 1 && a[0] == '/') ? "" : "/", b) < 0)
        return NULL;
    return s;
}

char *path_absolute(const char *p, const char *base)
{
    char *joined;
    if (p[0] == '/') {
        joined = xstrdup(p);
    } else {
        char cwd[PATH_MAX];
        if (!base) {
            if (!getcwd(cwd, sizeof cwd))
                return NULL;
            base = cwd;
        }
        joined = path_join(base, p);
    }
    if (!joined)
        return NULL;
    /* lexical clean-up: split on '/', drop "." and "", pop on ".." */
    size_t n = strlen(joined);
    char *out = xmalloc(n + 2);
    size_t ol = 0;
    char *save = NULL;
    for (char *seg = strtok_r(joined, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        if (!strcmp(seg, "."))
            continue;
        if (!strcmp(seg, "..")) {
            while (ol > 0 && out[ol - 1] != '/')
                ol--;
            if (ol > 0)
                ol--;
            continue;
        }
        out[ol++] = '/';
        size_t sl = strlen(seg);
        memcpy(out + ol, seg, sl);
        ol += sl;
    }
    if (ol == 0)
        out[ol++] = '/';
    out[ol] = 0;
    free(joined);
    return out;
}

char *path_dirname(const char *p)
{
    const char *s = strrchr(p, '/');
    if (!s)
        return xstrdup(".");
    if (s == p)
        return xstrdup("/");
    return xstrndup(p, (size_t)(s - p));
}

int path_mkdirs(const char *dir, int mode, ferr_t *err)
{
    char *d = xstrdup(dir);
    size_t n = strlen(d);
    for (size_t i = 1; i <= n; i++) {
        if (d[i] != '/' && d[i] != 0)
            continue;
        char c = d[i];
        d[i] = 0;
        if (mkdir(d, (mode_t)mode) != 0 && errno != EEXIST) {
            int e = errno;
            ferr_errno(err, FERR_IO, e, "cannot create folder %s", d);
            free(d);
            return -1;
        }
        d[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        free(d);
        return ferr_set(err, FERR_IO, "%s exists and is not a folder", dir);
    }
    free(d);
    return 0;
}

size_t path_utf8_char(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (p[0] < 0x80)
        return p[0] ? 1 : 0;
    size_t n = p[0] >= 0xc2 && p[0] <= 0xdf   ? 2
               : p[0] >= 0xe0 && p[0] <= 0xef ? 3
               : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
                                              : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    /* no overlong forms, no surrogates, nothing above U+10FFFF */
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
        (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
        return 0;
    return n;
}

int path_name_safe(const char *name, const char **why)
{
    const char *w = NULL;
    if (!name || !*name)
        w = "empty name";
    else if (name[0] == '/')
        w = "absolute path";
    else if (strchr(name, '\\'))
        w = "contains a backslash";
    for (const unsigned char *p = (const unsigned char *)name; !w && *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            w = "contains a control character";
    /* datastore names are Unicode (Azure's are UTF-8 in its URLs and listings) */
    for (const char *p = name; !w && p && *p;) {
        size_t l = path_utf8_char(p);
        if (!l)
            w = "not valid UTF-8";
        p += l;
    }
    const char *seg = name;
    while (!w && seg) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0 && end)
            w = "contains an empty path segment (//)";
        else if (len == 1 && seg[0] == '.')
            w = "contains a '.' segment";
        else if (len == 2 && seg[0] == '.' && seg[1] == '.')
            w = "contains '..'";
        else if (len > 255)
            w = "a path segment is longer than 255 bytes";
        seg = end ? end + 1 : NULL;
    }
    if (why)
        *why = w;
    return w == NULL;
}

char *path_remote_normalize(const char *p, const char **why)
{
    *why = NULL;
    if (!p)
        return xstrdup("");
    if (strchr(p, '\\')) {
        *why = "contains a backslash";
        return NULL;
    }
    size_t n = strlen(p);
    char *out = xmalloc(n + 1);
    size_t ol = 0;
    const char *seg = p;
    while (seg) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            *why = "contains '..'";
            free(out);
            return NULL;
        }
        if (len > 0 && !(len == 1 && seg[0] == '.')) {
            if (ol)
                out[ol++] = '/';
            memcpy(out + ol, seg, len);
            ol += len;
        }
        seg = end ? end + 1 : NULL;
    }
    out[ol] = 0;
    if (ol && !path_name_safe(out, why)) {
        free(out);
        return NULL;
    }
    return out;
}

char *path_temp_beside(const char *path)
{
    static unsigned counter; /* shared by the transfer workers */
    unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    char *dir = path_dirname(path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *t = NULL;
    /* keep the temporary name within NAME_MAX */
    if (asprintf(&t, "%s/.%.200s.ferry-%ld-%u.part", dir, base, (long)getpid(), n) < 0)
        t = NULL;
    free(dir);
    return t;
}

/* A nameless file is named through /proc/self/fd: without /proc (some
 * chroots and sandboxes), temporaries have names. */
static int have_proc(void)
{
    static int known; /* 0 unknown, 1 yes, 2 no; a race only asks twice */
    int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (!k) {
        k = access("/proc/self/fd", X_OK) == 0 ? 1 : 2;
        __atomic_store_n(&known, k, __ATOMIC_RELAXED);
    }
    return k == 1;
}

int path_tmp_open(const char *final, char **tmp)
{
    *tmp = NULL;
    char *dir = have_proc() ? path_dirname(final) : NULL;
    int fd = dir ? open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644) : -1;
    free(dir);
    if (fd >= 0)
        return fd;
    if (!(*tmp = path_temp_beside(final))) {
        errno = ENOMEM;
        return -1;
    }
    fd = open(*tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        free(*tmp);
        *tmp = NULL;
        errno = e;
    }
    return fd;
}

/* A nameless file given a name: by its descriptor where the kernel allows
 * it (Linux 6.10 and later for the file's opener; CAP_DAC_READ_SEARCH
 * before), else through /proc, whose path walk costs more than the link. */
static int link_fd(int fd, const char *path)
{
    static int by_fd = 1; /* (atomic: cleared once, by whichever thread learns it) */
    if (__atomic_load_n(&by_fd, __ATOMIC_RELAXED)) {
        if (linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == 0)
            return 0;
        if (errno != ENOENT && errno != EPERM && errno != EINVAL)
            return -1;
        __atomic_store_n(&by_fd, 0, __ATOMIC_RELAXED);
    }
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}

int path_tmp_place(int fd, const char *tmp, const char *final)
{
    char *own = NULL;
    int rc = 0, e = 0;
    if (!tmp) {
        if (link_fd(fd, final) == 0) {
            if (close(fd) == 0)
                return 0;
            e = errno; /* not whole after all */
            unlink(final);
            errno = e;
            return -1;
        }
        /* a name taken: replaced by a rename, from a name of its own */
        e = errno;
        if (e == EEXIST && (own = path_temp_beside(final)) && link_fd(fd, own) != 0)
            e = errno;
        else if (e == EEXIST)
            e = own ? 0 : ENOMEM;
        if (e) {
            free(own);
            close(fd);
            errno = e;
            return -1;
        }
        tmp = own;
    }
    /* closed before it is named: a filesystem that reports a failed write
     * only at close (NFS) never puts a bad file in place */
    if (close(fd) != 0) {
        rc = -1;
        e = errno;
    } else {
        struct stat st;
        rc = lstat(final, &st) == 0 && S_ISDIR(st.st_mode) ? (errno = EISDIR, -1)
                                                           : rename(tmp, final);
        e = errno;
    }
    if (rc)
        unlink(tmp);
    free(own);
    errno = e;
    return rc;
}

int path_write_atomic(const char *path, const void *data, size_t len, int mode, ferr_t *err)
{
    char *tmp = path_temp_beside(path);
    if (!tmp)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        ferr_errno(err, FERR_IO, errno, "cannot write %s", tmp);
        free(tmp);
        return -1;
    }
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            ferr_errno(err, FERR_IO, e, "cannot write %s", path);
            free(tmp);
            return -1;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        ferr_errno(err, FERR_IO, e, "cannot write %s", path);
        free(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        ferr_errno(err, FERR_IO, e, "cannot rename into %s", path);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int path_read_all(const char *path, char **out, size_t *len, ferr_t *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ferr_errno(err, errno == ENOENT ? FERR_NOTFOUND : FERR_IO, errno, "%s", path);
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (!buf) {
            close(fd);
            return ferr_set(err, FERR_INTERNAL, "out of memory");
        }
        if (n + 1 >= cap) {
            char *nb = xrealloc(buf, cap *= 2);
            buf = nb;
            continue;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return ferr_errno(err, FERR_IO, e, "%s", path);
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

int path_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = ENODATA; /* the file shrank */
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

int path_digest(const char *path, const EVP_MD *md, unsigned char *out, unsigned int *len,
                ferr_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ferr_errno(err, FERR_IO, errno, "cannot read %s", path);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    static __thread unsigned char buf[1 << 16];
    int rc = ctx && EVP_DigestInit_ex(ctx, md, NULL) ? 0 : -1;
    ssize_t n;
    while (rc == 0 && (n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = ferr_errno(err, FERR_IO, errno, "cannot read %s", path);
        else
            EVP_DigestUpdate(ctx, buf, (size_t)n);
    }
    close(fd);
    if (rc == 0 && !EVP_DigestFinal_ex(ctx, out, len))
        rc = ferr_set(err, FERR_INTERNAL, "cannot hash %s", path);
    EVP_MD_CTX_free(ctx);
    return rc;
}

int path_mkdirs_under(const char *dest, const char *rel_dir, int *made, ferr_t *err)
{
    if (made)
        *made = 0;
    if (path_mkdirs(dest, 0755, err))
        return -1;
    char *cur = xstrdup(dest);
    const char *seg = rel_dir;
    while (seg && *seg) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        char *part = xstrndup(seg, len);
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
        } else if (mkdir(cur, 0755) == 0) {
            if (made)
                *made = !end || !end[1];
        } else if (errno != EEXIST) {
            ferr_errno(err, FERR_IO, errno, "cannot create folder %s", cur);
            free(cur);
            return -1;
        }
        seg = end ? end + 1 : NULL;
    }
    free(cur);
    return 0;
}

#define COPY_CHUNK (8u << 20)
#define CLONE_MIN (64u << 10)

int path_copy_range(int in, uint64_t off, int out, uint64_t out_off, uint64_t len,
                    void (*on_bytes)(void *ud, uint64_t n), void *ud)
{
    /* a small file is copied: a clone would save nothing, and asking costs two calls */
    struct stat st;
    if (off == 0 && out_off == 0 && len >= CLONE_MIN && fstat(in, &st) == 0 &&
        (uint64_t)st.st_size == len && ioctl(out, FICLONE, in) == 0) {
        if (on_bytes)
            on_bytes(ud, len);
        return 0;
    }
    int fast = 1;
    char *buf = NULL;
    while (len) {
        size_t want = len > COPY_CHUNK ? COPY_CHUNK : (size_t)len;
        ssize_t n = -1;
        if (fast) {
            loff_t io = (loff_t)off, oo = (loff_t)out_off;
            n = copy_file_range(in, &io, out, &oo, want, 0);
            if (n < 0 &&
                (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
                fast = 0;
                continue;
            }
        } else {
            if (!buf && !(buf = xmalloc(COPY_CHUNK)))
                return -1;
            n = pread(in, buf, want, (off_t)off);
            if (n > 0) {
                ssize_t w = 0;
                while (w < n) {
                    ssize_t k =
                        pwrite(out, buf + w, (size_t)(n - w), (off_t)(out_off + (uint64_t)w));
                    if (k < 0 && errno == EINTR)
                        continue;
                    if (k < 0) {
                        free(buf);
                        return -1;
                    }
                    w += k;
                }
            }
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            errno = e;
            return -1;
        }
        if (n == 0) { /* the source shrank under us */
            free(buf);
            errno = ENODATA;
            return -1;
        }
        off += (uint64_t)n;
        out_off += (uint64_t)n;
        len -= (uint64_t)n;
        if (on_bytes)
            on_bytes(ud, (uint64_t)n);
    }
    free(buf);
    return 0;
}

void path_stamp(const struct stat *st, char *buf, size_t n)
{
    snprintf(buf, n, "%llu:%ld.%09ld", (unsigned long long)st->st_size, (long)st->st_mtim.tv_sec,
             st->st_mtim.tv_nsec);
}

int path_check_under(const char *base, const char *path, ferr_t *err)
{
    size_t bl = strlen(base);
    while (bl > 1 && base[bl - 1] == '/')
        bl--;
    if (strncmp(path, base, bl) != 0 || (path[bl] != '/' && path[bl] != 0))
        return ferr_set(err, FERR_UNSAFE, "%s is not inside %s", path, base);
    int dfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOENT ? 0 : ferr_errno(err, FERR_IO, errno, "%s", base);
    int rc = 0;
    const char *seg = path + bl;
    while (rc == 0 && seg && *seg) {
        while (*seg == '/')
            seg++;
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 0)
            break;
        char *part = xstrndup(seg, len);
        char *shown = xstrndup(path, (size_t)(seg - path) + len);
        struct stat st;
        if (!part || !shown) {
            rc = ferr_set(err, FERR_INTERNAL, "out of memory");
        } else if (fstatat(dfd, part, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT)
                rc = ferr_errno(err, FERR_IO, errno, "%s", shown);
            seg = NULL; /* nothing there: nothing to follow */
        } else if (S_ISLNK(st.st_mode)) {
            char to[PATH_MAX];
            ssize_t tl = readlinkat(dfd, part, to, sizeof to - 1);
            to[tl > 0 ? tl : 0] = 0;
            rc = ferr_set(err, FERR_UNSAFE,
                          "%s is a symlink (to %s); refusing to follow it out of %s", shown,
                          tl > 0 ? to : "?", base);
        } else if (end && end[1]) {
            int nfd = openat(dfd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (nfd < 0)
                rc = ferr_errno(err, errno == ELOOP ? FERR_UNSAFE : FERR_IO, errno, "%s", shown);
            close(dfd);
            dfd = nfd;
            seg = end + 1;
        } else {
            seg = NULL;
        }
        free(part);
        free(shown);
    }
    if (dfd >= 0)
        close(dfd);
    return rc;
}
