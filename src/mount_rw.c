/* Writable mounts (rw_mount outputs): a FUSE passthrough over the output's
 * own folder, so ferry sees every close. The folder is opened before the
 * mount, and every operation goes to it through that descriptor (openat and
 * friends, never following a symlink at the last step); once unmounted,
 * the files are simply there. A file closed after being written is
 * uploaded at once, in the background; the final upload after the command
 * then finds it unchanged. Not a cloud file system: a file rewritten after
 * its upload goes up again whole; removing or renaming one acts on the
 * local copy and removes what was uploaded under the old name. */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 312
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"
#include "mount_int.h"
#include "path.h"
#include "store.h"
#include "xalloc.h"

struct rw_mount {
    char *dir, *label, *remote;
    int dirfd;
    const datastore_t *ds;
    store_t *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **queue; /* names (relative) closed after a write, to go up */
    size_t nq, capq;
    int stopping, busy;
    pthread_t uploader;
    uint64_t uploaded;
    struct fuse *fuse;
    pthread_t loop;
    dev_t dev;           /* the mount's device: its connection in fusectl */
    struct handle *open; /* open files: those still open when the mount ends are closed here */
};

typedef struct handle {
    int fd, written;
    char *rel;
    struct handle *prev, *next;
} handle_t;

static rw_mount_t *self(void)
{
    return fuse_get_context()->private_data;
}

/* "/a/b" -> "a/b"; "/" -> "." */
static const char *rel(const char *path)
{
    while (*path == '/')
        path++;
    return *path ? path : ".";
}

static char *remote_of(const rw_mount_t *m, const char *r)
{
    return *m->remote ? path_join(m->remote, r) : xstrdup(r);
}

/* --- background uploads --- */

/* r prefixed: '+' to upload, '-' to remove what was uploaded */
static void queue_op(rw_mount_t *m, char op, const char *name)
{
    char *r = xasprintf("%c%s", op, name);
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->nq; i++)
        if (!strcmp(m->queue[i], r)) {
            pthread_mutex_unlock(&m->mu);
            free(r);
            return; /* already waiting */
        }
    if (m->nq == m->capq) {
        m->capq = m->capq ? m->capq * 2 : 16;
        m->queue = xrealloc(m->queue, m->capq * sizeof *m->queue);
    }
    m->queue[m->nq++] = r;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

static void remove_one(rw_mount_t *m, const char *r)
{
    char *name = remote_of(m, r);
    ferr_t err = FERR_INIT;
    if (store_remove(m->s, name, &err))
        log_warn("%s: could not remove %s from the datastore: %s", m->label, name, err.msg);
    ferr_clear(&err);
    free(name);
}

static void upload_one(rw_mount_t *m, const char *r)
{
    int fd = openat(m->dirfd, r, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return; /* gone, or not a file: the final upload decides */
    }
    char *name = remote_of(m, r);
    store_put_t put = {0};
    ferr_t err = FERR_INIT;
    if (store_write(m->s, name, fd, (uint64_t)st.st_size, NULL, NULL, &put, &err) == 0) {
        log_debug("%s: %s went up as it was closed", m->label, r);
        m->uploaded++;
    } else {
        log_warn("%s: %s could not go up when closed (%s); the final upload tries again", m->label,
                 r, err.msg);
    }
    ferr_clear(&err);
    free(name);
    close(fd);
}

static void *uploader_main(void *arg)
{
    rw_mount_t *m = arg;
    pthread_mutex_lock(&m->mu);
    for (;;) {
        while (!m->nq && !m->stopping)
            pthread_cond_wait(&m->cv, &m->mu);
        if (!m->nq)
            break;
        char *r = m->queue[0];
        memmove(m->queue, m->queue + 1, --m->nq * sizeof *m->queue);
        m->busy = 1;
        pthread_mutex_unlock(&m->mu);
        if (r[0] == '+')
            upload_one(m, r + 1);
        else
            remove_one(m, r + 1);
        free(r);
        pthread_mutex_lock(&m->mu);
        m->busy = 0;
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* --- FUSE: the folder, through its descriptor --- */

static int rw_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    if (fi && fi->fh)
        return fstat(((handle_t *)(uintptr_t)fi->fh)->fd, st) ? -errno : 0;
    return fstatat(self()->dirfd, rel(path), st, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int rw_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)off, (void)fi, (void)flags;
    int fd = openat(self()->dirfd, rel(path), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return -e;
    }
    for (struct dirent *e; (e = readdir(d));)
        if (fill(buf, e->d_name, NULL, 0, 0))
            break;
    closedir(d);
    return 0;
}

static int open_handle(const char *path, int flags, mode_t mode, struct fuse_file_info *fi)
{
    int fd = openat(self()->dirfd, rel(path), flags | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    rw_mount_t *m = self();
    handle_t *h = xcalloc(1, sizeof *h);
    h->fd = fd;
    h->rel = xstrdup(rel(path));
    h->written = (flags & (O_CREAT | O_TRUNC)) != 0;
    pthread_mutex_lock(&m->mu);
    h->next = m->open;
    if (m->open)
        m->open->prev = h;
    m->open = h;
    pthread_mutex_unlock(&m->mu);
    fi->fh = (uint64_t)(uintptr_t)h;
    return 0;
}

static int rw_open(const char *path, struct fuse_file_info *fi)
{
    return open_handle(path, fi->flags, 0, fi);
}

static int rw_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    return open_handle(path, fi->flags | O_CREAT, mode, fi);
}

static int rw_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)path;
    ssize_t n = pread(((handle_t *)(uintptr_t)fi->fh)->fd, buf, size, off);
    return n < 0 ? -errno : (int)n;
}

static int rw_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)path;
    handle_t *h = (handle_t *)(uintptr_t)fi->fh;
    ssize_t n = pwrite(h->fd, buf, size, off);
    if (n < 0)
        return -errno;
    h->written = 1;
    return (int)n;
}

static int rw_release(const char *path, struct fuse_file_info *fi)
{
    (void)path;
    rw_mount_t *m = self();
    handle_t *h = (handle_t *)(uintptr_t)fi->fh;
    pthread_mutex_lock(&m->mu);
    if (h->prev)
        h->prev->next = h->next;
    else
        m->open = h->next;
    if (h->next)
        h->next->prev = h->prev;
    pthread_mutex_unlock(&m->mu);
    close(h->fd);
    if (h->written)
        queue_op(m, '+', h->rel);
    free(h->rel);
    free(h);
    return 0;
}

static int rw_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    if (fi && fi->fh) {
        handle_t *h = (handle_t *)(uintptr_t)fi->fh;
        h->written = 1;
        return ftruncate(h->fd, size) ? -errno : 0;
    }
    int fd = openat(self()->dirfd, rel(path), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = ftruncate(fd, size) ? -errno : 0;
    close(fd);
    if (rc == 0)
        queue_op(self(), '+', rel(path));
    return rc;
}

static int rw_mkdir(const char *path, mode_t mode)
{
    return mkdirat(self()->dirfd, rel(path), mode) ? -errno : 0;
}

static int rw_unlink(const char *path)
{
    if (unlinkat(self()->dirfd, rel(path), 0))
        return -errno;
    queue_op(self(), '-', rel(path));
    return 0;
}

static int rw_rmdir(const char *path)
{
    return unlinkat(self()->dirfd, rel(path), AT_REMOVEDIR) ? -errno : 0;
}

/* A folder renamed: each file under it (now at to/<p>) goes up under its
 * new name and what went up under from/<p> is removed. Depth is bounded as
 * a path's length bounds it. */
static void requeue_folder(rw_mount_t *m, int dfd, const char *from, const char *to, int depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *f = xasprintf("%s/%s", from, e->d_name), *t = xasprintf("%s/%s", to, e->d_name);
        struct stat st;
        int ok = fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (ok && S_ISREG(st.st_mode)) {
            queue_op(m, '-', f);
            queue_op(m, '+', t);
        } else if (ok && S_ISDIR(st.st_mode) && depth < 256) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                requeue_folder(m, sub, f, t, depth + 1);
        }
        free(f);
        free(t);
    }
    closedir(d);
}

static int rw_rename(const char *from, const char *to, unsigned flags)
{
    rw_mount_t *m = self();
    struct stat st;
    int known = fstatat(m->dirfd, rel(from), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (renameat2(m->dirfd, rel(from), m->dirfd, rel(to), flags))
        return -errno;
    if (known && S_ISREG(st.st_mode)) {
        queue_op(m, '-', rel(from));
        queue_op(m, '+', rel(to));
    } else if (known && S_ISDIR(st.st_mode)) {
        int dfd = openat(m->dirfd, rel(to), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd >= 0)
            requeue_folder(m, dfd, rel(from), rel(to), 0);
    }
    return 0;
}

static int rw_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    if (fi && fi->fh)
        return futimens(((handle_t *)(uintptr_t)fi->fh)->fd, tv) ? -errno : 0;
    return utimensat(self()->dirfd, rel(path), tv, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int rw_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    if (fi && fi->fh)
        return fchmod(((handle_t *)(uintptr_t)fi->fh)->fd, mode) ? -errno : 0;
    return fchmodat(self()->dirfd, rel(path), mode, 0) ? -errno : 0;
}

/* An output holds files and folders; a link would point out of it. */
static int rw_symlink(const char *target, const char *path)
{
    (void)target, (void)path;
    return -EPERM;
}

static int rw_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path;
    int fd = ((handle_t *)(uintptr_t)fi->fh)->fd;
    return (datasync ? fdatasync(fd) : fsync(fd)) ? -errno : 0;
}

static int rw_statfs(const char *path, struct statvfs *st)
{
    (void)path;
    return fstatvfs(self()->dirfd, st) ? -errno : 0;
}

static void *rw_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    cfg->use_ino = 1;
    cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 0;
    return fuse_get_context()->private_data;
}

static const struct fuse_operations rw_ops = {
    .init = rw_init,
    .getattr = rw_getattr,
    .readdir = rw_readdir,
    .open = rw_open,
    .create = rw_create,
    .read = rw_read,
    .write = rw_write,
    .release = rw_release,
    .truncate = rw_truncate,
    .mkdir = rw_mkdir,
    .unlink = rw_unlink,
    .rmdir = rw_rmdir,
    .rename = rw_rename,
    .utimens = rw_utimens,
    .chmod = rw_chmod,
    .symlink = rw_symlink,
    .fsync = rw_fsync,
    .statfs = rw_statfs,
};

static void rw_free(rw_mount_t *m)
{
    for (handle_t *h = m->open, *next; h; h = next) { /* (the final upload sends them) */
        next = h->next;
        close(h->fd);
        free(h->rel);
        free(h);
    }
    if (m->dirfd >= 0)
        close(m->dirfd);
    if (m->s)
        store_close(m->s);
    for (size_t i = 0; i < m->nq; i++)
        free(m->queue[i]);
    free(m->queue);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m->dir);
    free(m->label);
    free(m->remote);
    free(m);
}

int mount_rw_start(rw_mount_t **out, const datastore_t *ds, const char *remote, const char *dir,
                   const char *label, ferr_t *err)
{
    *out = NULL;
    if (mount_clear_stale(dir, err) < 0 || path_mkdirs(dir, 0755, err))
        return -1;
    rw_mount_t *m = xcalloc(1, sizeof *m);
    m->dir = xstrdup(dir);
    m->label = xstrdup(label);
    m->remote = xstrdup(remote);
    m->ds = ds;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    /* the folder itself, under where the mount will be */
    m->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (m->dirfd < 0) {
        ferr_errno(err, FERR_IO, errno, "cannot open %s", dir);
        rw_free(m);
        return -1;
    }
    if (store_open(&m->s, ds, err)) {
        rw_free(m);
        return -1;
    }
    char *argv[] = {(char *)"ferry", (char *)"-o", (char *)"fsname=ferry,subtype=ferry", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    m->fuse = fuse_new(&args, &rw_ops, sizeof rw_ops, m);
    fuse_opt_free_args(&args);
    int ok = m->fuse && fuse_mount(m->fuse, dir) == 0;
    if (ok && pthread_create(&m->uploader, NULL, uploader_main, m) != 0) {
        fuse_unmount(m->fuse);
        ok = 0;
    }
    if (ok && pthread_create(&m->loop, NULL, mount_loop, m->fuse) != 0) {
        pthread_mutex_lock(&m->mu);
        m->stopping = 1;
        pthread_cond_broadcast(&m->cv);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->uploader, NULL);
        fuse_unmount(m->fuse);
        ok = 0;
    }
    if (!ok) {
        if (m->fuse)
            fuse_destroy(m->fuse);
        rw_free(m);
        return ferr_set(err, FERR_IO,
                        "%s: cannot mount at %s; set FERRY_NO_FUSE=1 to upload "
                        "at the end instead",
                        label, dir);
    }
    struct stat st; /* the connection's device, asked while the loop answers */
    if (stat(dir, &st) == 0)
        m->dev = st.st_dev;
    log_info("%s: %s is a writable mount; files go up as they are closed", label, dir);
    *out = m;
    return 0;
}

void mount_rw_stop(rw_mount_t *m)
{
    if (!m)
        return;
    fuse_exit(m->fuse);
    if (umount2(m->dir, MNT_DETACH) != 0)
        fuse_unmount(m->fuse);
    if (m->dev)
        mount_abort_connection(m->dev);
    pthread_join(m->loop, NULL);
    fuse_unmount(m->fuse);
    fuse_destroy(m->fuse);
    /* what was closed before the end goes up; the final upload does the rest */
    pthread_mutex_lock(&m->mu);
    m->stopping = 1;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->uploader, NULL);
    log_info("%s: unmounted %s; %llu files went up as they were closed", m->label, m->dir,
             (unsigned long long)m->uploaded);
    rw_free(m);
}
