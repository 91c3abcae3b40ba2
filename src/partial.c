#define _GNU_SOURCE
#include "partial.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "path.h"

#define RECORD "user.ferry.partial"
#define SUFFIX ".ferry-partial"
#define MAX_AGE (7 * 24 * 3600)

static const char *base_of(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

static char *partial_name(const char *final)
{
    char *dir = path_dirname(final), *p = NULL;
    /* within NAME_MAX; the record keeps the whole name, so two long names
     * that share their first 200 bytes never take each other's file */
    if (dir && asprintf(&p, "%s/.%.200s" SUFFIX, dir, base_of(final)) < 0)
        p = NULL;
    free(dir);
    return p;
}

/* "1 <size> <block> <blocks>\n<etag>\n<final name>" */
static int record_set(int fd, const partial_key_t *k, const char *base, uint32_t n)
{
    char *v = NULL;
    int l = asprintf(&v, "1 %llu %llu %u\n%s\n%s", (unsigned long long)k->size,
                     (unsigned long long)k->block, n, k->etag, base);
    if (l < 0)
        return -1;
    int rc = fsetxattr(fd, RECORD, v, (size_t)l, 0);
    free(v);
    return rc;
}

/* Leading blocks recorded for this key, or -1 when the record is missing,
 * unreadable or for another object. With k NULL: any readable record. */
static long record_get(int fd, const partial_key_t *k, const char *base)
{
    char v[1024];
    ssize_t l = fgetxattr(fd, RECORD, v, sizeof v - 1);
    if (l <= 0)
        return -1;
    v[l] = 0;
    unsigned long long size, block;
    unsigned n;
    int used = 0;
    if (sscanf(v, "1 %llu %llu %u\n%n", &size, &block, &n, &used) != 3 || !used)
        return -1;
    char *etag = v + used, *nl = strchr(etag, '\n');
    if (!nl)
        return -1;
    *nl = 0;
    if (k && (size != k->size || block != k->block || strcmp(etag, k->etag) ||
              strcmp(nl + 1, base)))
        return -1;
    return (long)n;
}

int partial_open(const char *final, const partial_key_t *k, char **path, uint32_t *have)
{
    *have = 0;
    *path = NULL;
    char *p = partial_name(final);
    if (!p || !k->etag || !k->block) {
        free(p);
        errno = EINVAL;
        return -1;
    }
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0)
        goto fail;
    /* between open and flock, its writer may have renamed it into place, or
     * a sweep removed it: only the file still under the name will do */
    struct stat a, b;
    if (fstat(fd, &a) || stat(p, &b) || a.st_ino != b.st_ino || a.st_dev != b.st_dev ||
        !S_ISREG(a.st_mode)) {
        errno = EWOULDBLOCK;
        goto fail;
    }
    uint64_t nblocks = (k->size + k->block - 1) / k->block;
    long n = record_get(fd, k, base_of(final));
    if (n < 0)
        n = 0;
    if ((uint64_t)n >= nblocks)
        n = nblocks ? (long)nblocks - 1 : 0;
    if (n == 0 && a.st_size && ftruncate(fd, 0) != 0)
        goto fail;
    int e = posix_fallocate(fd, 0, (off_t)k->size);
    if (e) {
        errno = e;
        goto fail;
    }
    /* without user xattrs (some filesystems) there is no resuming, but the
     * file still serves as the temporary it is */
    if (record_set(fd, k, base_of(final), (uint32_t)n) != 0)
        log_debug("%s: cannot record progress (%s); a later run will start it again", p,
                  strerror(errno));
    *have = (uint32_t)n;
    *path = p;
    return fd;
fail:;
    int en = errno;
    if (fd >= 0)
        close(fd);
    free(p);
    errno = en;
    return -1;
}

int partial_save(int fd, const partial_key_t *k, uint32_t n)
{
    char v[1024], *nl;
    ssize_t l = fgetxattr(fd, RECORD, v, sizeof v - 1);
    if (l <= 0)
        return -1;
    v[l] = 0;
    nl = strrchr(v, '\n');
    if (!nl)
        return -1;
    /* data first: a record must never claim blocks that a power loss could take back */
    if (fdatasync(fd) != 0)
        return -1;
    return record_set(fd, k, nl + 1, n);
}

int partial_finish(int fd, const char *path, const char *final)
{
    fremovexattr(fd, RECORD);
    int rc = rename(path, final);
    int e = errno;
    if (close(fd) != 0 && rc == 0)
        return -1;
    errno = e;
    return rc;
}

int partial_is_name(const char *base)
{
    size_t l = strlen(base), s = strlen(SUFFIX);
    return base[0] == '.' && l > s && !strcmp(base + l - s, SUFFIX);
}

/* A partial nobody holds, with no usable record or too old to be worth it. */
static void sweep_partial(const char *p)
{
    int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return;
    struct stat st;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 &&
        (record_get(fd, NULL, NULL) < 0 || time(NULL) - st.st_mtime > MAX_AGE) &&
        unlink(p) == 0)
        log_debug("removed %s, an unfinished download that cannot be resumed", p);
    close(fd);
}

void partial_sweep(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, ".."))
            continue;
        const char *m = strstr(n, ".ferry-");
        size_t l = strlen(n);
        if (n[0] == '.' && m && l > 5 && !strcmp(n + l - 5, ".part")) {
            long pid = strtol(m + 7, NULL, 10);
            if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
                char *p = path_join(dir, n);
                if (p && unlink(p) == 0)
                    log_debug("removed %s, left by a ferry that did not finish", p);
                free(p);
            }
            continue;
        }
        if (partial_is_name(n)) {
            char *p = path_join(dir, n);
            if (p)
                sweep_partial(p);
            free(p);
            continue;
        }
        if (de->d_type == DT_DIR && depth > 0) {
            char *p = path_join(dir, n);
            if (p)
                partial_sweep(p, depth - 1);
            free(p);
        }
    }
    if (d)
        closedir(d);
}
