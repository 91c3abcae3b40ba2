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
static int record_set(int fd, const partial_key_t *k, uint32_t n)
{
    char *v = NULL;
    int l = asprintf(&v, "1 %llu %llu %u\n%s\n%s", (unsigned long long)k->size,
                     (unsigned long long)k->block, n, k->etag, base_of(k->final));
    if (l < 0)
        return -1;
    int rc = fsetxattr(fd, RECORD, v, (size_t)l, 0);
    free(v);
    return rc;
}

/* Leading blocks recorded for this key, or -1 when the record is missing,
 * unreadable or for another object. With k NULL: any readable record. */
static long record_get(int fd, const partial_key_t *k)
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
    if (k &&
        (size != k->size || !block || strcmp(etag, k->etag) || strcmp(nl + 1, base_of(k->final))))
        return -1;
    if (k && block != k->block && k->block) {
        /* moved in blocks of another size (another version, other checks):
         * the bytes on disk count, in whole blocks of this size */
        uint64_t bytes = (uint64_t)n * block < size ? (uint64_t)n * block : size;
        n = (unsigned)(bytes / k->block);
    }
    return (long)n;
}

/* Is fd still the file under the name p? (Between an open and an flock,
 * its writer may have renamed it into place, or a sweep removed it.) */
static int still_named(int fd, const char *p)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && stat(p, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

int partial_open(const partial_key_t *k, char **path, uint32_t *have)
{
    *have = 0;
    *path = NULL;
    char *p = k->etag && k->block ? partial_name(k->final) : NULL;
    if (!p) {
        errno = EINVAL;
        return -1;
    }
    long n = 0;
    int locked = 0, fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0)
        goto fail;
    locked = 1;
    struct stat st;
    if (!still_named(fd, p)) {
        locked = 0; /* not ours to remove */
        errno = EWOULDBLOCK;
        goto fail;
    }
    /* in a folder others can write to, only a file of ours is trusted */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1) {
        locked = 0;
        errno = EPERM;
        goto fail;
    }
    uint64_t nblocks = (k->size + k->block - 1) / k->block;
    n = record_get(fd, k);
    if (n < 0)
        n = 0;
    if ((uint64_t)n >= nblocks)
        n = nblocks ? (long)nblocks - 1 : 0;
    if (n == 0 && st.st_size && ftruncate(fd, 0) != 0)
        goto fail;
    int e = posix_fallocate(fd, 0, (off_t)k->size);
    if (e) {
        errno = e;
        goto fail;
    }
    /* without user xattrs (some filesystems) there is no resuming, but the
     * file still serves as the temporary it is */
    if (record_set(fd, k, (uint32_t)n) != 0)
        log_debug("%s: cannot record progress (%s); a later run will start it again", p,
                  strerror(errno));
    *have = (uint32_t)n;
    *path = p;
    return fd;
fail:;
    int en = errno;
    if (locked && n == 0)
        unlink(p); /* ours, and holding nothing of use */
    if (fd >= 0)
        close(fd);
    free(p);
    errno = en;
    return -1;
}

int partial_save(int fd, const partial_key_t *k, uint32_t n)
{
    /* data first: a record must never claim blocks that a power loss could take back */
    if (fdatasync(fd) != 0)
        return -1;
    return record_set(fd, k, n);
}

int partial_finish(int fd, const char *path, const char *final)
{
    int rc = fdatasync(fd);
    if (rc == 0) {
        fremovexattr(fd, RECORD);
        rc = rename(path, final);
    }
    int e = errno;
    if (rc)
        unlink(path);
    if (close(fd) != 0 && rc == 0) {
        e = errno;
        rc = -1;
    }
    errno = e;
    return rc;
}

void partial_drop(int fd, const char *path)
{
    unlink(path);
    close(fd);
}

static int is_partial(const char *base)
{
    size_t l = strlen(base), s = strlen(SUFFIX);
    return base[0] == '.' && l > s && !strcmp(base + l - s, SUFFIX);
}

/* ".<name>.ferry-<pid>-<n>.part": its pid, or 0 when it is not one */
static long temp_pid(const char *base)
{
    const char *m = strstr(base, ".ferry-");
    size_t l = strlen(base);
    if (base[0] != '.' || !m || l < 5 || strcmp(base + l - 5, ".part"))
        return 0;
    char *end;
    long pid = strtol(m + 7, &end, 10);
    return pid > 0 && *end == '-' ? pid : 0;
}

int partial_is_ours(const char *base)
{
    return is_partial(base) || temp_pid(base) > 0;
}

/* A partial nobody holds, with no usable record or too old to be worth it. */
static void sweep_partial(const char *p)
{
    int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return;
    struct stat st;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && still_named(fd, p) && fstat(fd, &st) == 0 &&
        (record_get(fd, NULL) < 0 || time(NULL) - st.st_mtime > MAX_AGE) && unlink(p) == 0)
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
        long pid = temp_pid(n);
        if (pid) {
            if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
                char *p = path_join(dir, n);
                if (p && unlink(p) == 0)
                    log_debug("removed %s, left by a ferry that did not finish", p);
                free(p);
            }
            continue;
        }
        if (is_partial(n)) {
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
