#define _GNU_SOURCE
#include "digest.h"
#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "array.h"
#include "log.h"
#include "partial.h"
#include "path.h"
#include "xalloc.h"

struct cache {
    char *dir;
    uint64_t limit;
};

int cache_parse_size(const char *s, uint64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    uint64_t mul = 1;
    switch (*end) {
    case 'k':
    case 'K':
        mul = 1ull << 10;
        end++;
        break;
    case 'm':
    case 'M':
        mul = 1ull << 20;
        end++;
        break;
    case 'g':
    case 'G':
        mul = 1ull << 30;
        end++;
        break;
    case 't':
    case 'T':
        mul = 1ull << 40;
        end++;
        break;
    default:
        break;
    }
    if (*end == 'i' || *end == 'B' || *end == 'b')
        end += (*end == 'i' && (end[1] == 'B' || end[1] == 'b')) ? 2 : 1;
    if (*end)
        return -1;
    *out = (uint64_t)(v * (double)mul);
    return 0;
}

uint64_t cache_limit(const cache_t *c)
{
    return c->limit;
}

int cache_open(cache_t **out, const char *dir, uint64_t limit, ferr_t *err)
{
    *out = NULL;
    char *objs = path_join(dir, "objects");
    int rc = path_mkdirs(objs, 0755, err);
    free(objs);
    if (rc)
        return ferr_wrap(err, "cache");
    cache_t *c = xcalloc(1, sizeof *c);
    c->dir = path_absolute(dir, NULL);
    c->limit = limit;
    *out = c;
    return 0;
}

void cache_close(cache_t *c)
{
    if (!c)
        return;
    free(c->dir);
    free(c);
}

const char *cache_dir(const cache_t *c)
{
    return c->dir;
}

static int acquire(cache_t *c, const char *store_id, const char *name, const char *etag,
                   cache_obj_t *out, int wait, ferr_t *err);

int cache_acquire(cache_t *c, const char *store_id, const char *name, const char *etag,
                  cache_obj_t *out, ferr_t *err)
{
    return acquire(c, store_id, name, etag, out, 1, err);
}

int cache_try_acquire(cache_t *c, const char *store_id, const char *name, const char *etag,
                      cache_obj_t *out, ferr_t *err)
{
    return acquire(c, store_id, name, etag, out, 0, err);
}

static int acquire(cache_t *c, const char *store_id, const char *name, const char *etag,
                   cache_obj_t *out, int wait, ferr_t *err)
{
    memset(out, 0, sizeof *out);
    out->lock_fd = -1;
    /* the key names the exact content: where it came from and its ETag */
    unsigned char md[32];
    unsigned int ml = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, store_id, strlen(store_id) + 1);
    EVP_DigestUpdate(ctx, name, strlen(name) + 1);
    EVP_DigestUpdate(ctx, etag, strlen(etag));
    EVP_DigestFinal_ex(ctx, md, &ml);
    EVP_MD_CTX_free(ctx);
    char hex[65];
    hex_encode(md, 32, hex);
    char *sub = NULL;
    if (asprintf(&sub, "%s/objects/%.2s", c->dir, hex) < 0)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    int rc = path_mkdirs(sub, 0755, err);
    char *lock = NULL;
    if (rc == 0 && (asprintf(&out->path, "%s/%s", sub, hex + 2) < 0 ||
                    asprintf(&lock, "%s/%s.lock", sub, hex + 2) < 0))
        rc = ferr_set(err, FERR_INTERNAL, "out of memory");
    free(sub);
    if (rc == 0) {
        out->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (out->lock_fd < 0 || flock(out->lock_fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0)
            rc = !wait && errno == EWOULDBLOCK
                     ? ferr_set(err, FERR_EXISTS, "cache: %s is being filled", lock)
                     : ferr_errno(err, FERR_IO, errno, "cache: cannot lock %s", lock);
    }
    free(lock);
    if (rc) {
        cache_release(out);
        return -1;
    }
    struct stat st;
    char want[64], got[64];
    if (stat(out->path, &st) == 0) {
        path_stamp(&st, want, sizeof want);
        ssize_t l = getxattr(out->path, "user.ferry.cache", got, sizeof got - 1);
        if (l > 0) {
            got[l] = 0;
            out->valid = !strcmp(got, want);
        }
        if (!out->valid) {
            /* changed since it was cached (written through a link?): not to be trusted */
            log_warn("cache: %s changed since it was cached; fetching it again", out->path);
            unlink(out->path);
        } else {
            /* recently used: eviction goes by access time, which ferry sets itself
             * (mounts with noatime would not) */
            struct timespec t[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
            utimensat(AT_FDCWD, out->path, t, 0);
        }
    }
    return 0;
}

void cache_commit(cache_obj_t *o)
{
    struct stat st;
    char val[64];
    chmod(o->path, 0444); /* a linked input is read-only, as a mounted one would be */
    if (stat(o->path, &st) != 0)
        return;
    path_stamp(&st, val, sizeof val);
    if (setxattr(o->path, "user.ferry.cache", val, strlen(val), 0) == 0)
        o->valid = 1;
}

void cache_release(cache_obj_t *o)
{
    if (o->lock_fd >= 0)
        close(o->lock_fd); /* drops the flock */
    o->lock_fd = -1;
    free(o->path);
    o->path = NULL;
}

int cache_place(const cache_obj_t *o, const char *dest, ferr_t *err)
{
    char *tmp = path_temp_beside(dest);
    if (!tmp)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    int rc = 0;
    if (link(o->path, tmp) != 0) {
        /* another filesystem: a copy, made whole before it gets its name */
        int in = open(o->path, O_RDONLY | O_CLOEXEC);
        int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        struct stat st;
        rc = in < 0 || out < 0 || fstat(in, &st) != 0 ||
                     path_copy_range(in, 0, out, 0, (uint64_t)st.st_size, NULL, NULL) != 0
                 ? -1
                 : 0;
        int e = errno;
        if (in >= 0)
            close(in);
        if (out >= 0 && close(out) != 0 && rc == 0) {
            e = errno;
            rc = -1;
        }
        if (rc) {
            unlink(tmp);
            ferr_errno(err, FERR_IO, e ? e : EIO, "cache: cannot copy into %s", dest);
        }
    }
    if (rc == 0 && rename(tmp, dest) != 0) {
        rc = ferr_errno(err, FERR_IO, errno, "cannot rename into %s", dest);
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

typedef struct entry {
    char *path;
    int64_t used;
    uint64_t size;
} entry_t;

static int by_use(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    return x->used < y->used ? -1 : x->used > y->used;
}

uint64_t cache_trim(cache_t *c)
{
    char *objs = path_join(c->dir, "objects");
    /* what killed downloads left: dead temporaries go; partial downloads
     * stay for a week, for the next run to resume */
    partial_sweep(objs, 1);
    DIR *top = opendir(objs);
    entry_t *v = NULL;
    size_t n = 0, cap = 0;
    uint64_t total = 0, freed = 0;
    struct dirent *d1;
    while (top && (d1 = readdir(top))) {
        if (d1->d_name[0] == '.')
            continue;
        char *sub = path_join(objs, d1->d_name);
        DIR *dd = opendir(sub);
        struct dirent *d2;
        while (dd && (d2 = readdir(dd))) {
            size_t l = strlen(d2->d_name);
            if (d2->d_name[0] == '.' || (l > 5 && !strcmp(d2->d_name + l - 5, ".lock")))
                continue;
            char *p = path_join(sub, d2->d_name);
            struct stat st;
            if (stat(p, &st) != 0) {
                free(p);
                continue;
            }
            if (ARRAY_ROOM(v, n, cap, 256)) {
                free(p);
                break;
            }
            v[n].path = p;
            /* last use is the access time ferry sets on every hit */
            v[n].used = (int64_t)st.st_atim.tv_sec * 1000000000 + st.st_atim.tv_nsec;
            v[n].size = (uint64_t)st.st_size;
            total += v[n].size;
            n++;
        }
        if (dd)
            closedir(dd);
        free(sub);
    }
    if (top)
        closedir(top);
    if (n)
        qsort(v, n, sizeof *v, by_use);
    for (size_t i = 0; i < n && total > c->limit; i++) {
        char *lock = NULL;
        if (asprintf(&lock, "%s.lock", v[i].path) < 0)
            continue;
        int fd = open(lock, O_RDWR | O_CLOEXEC);
        /* an object another process holds is kept */
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
            /* the lock file stays: removing it could let two processes hold
             * locks on different files of the same name */
            if (unlink(v[i].path) == 0) {
                total -= v[i].size;
                freed += v[i].size;
            }
        }
        if (fd >= 0)
            close(fd);
        free(lock);
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].path);
    free(v);
    free(objs);
    if (freed)
        log_info("cache: evicted %llu bytes to stay within %llu", (unsigned long long)freed,
                 (unsigned long long)c->limit);
    return freed;
}
