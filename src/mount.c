/* Mounts (mount.h): the input's listing becomes a tree in memory, served
 * to the kernel through libfuse3's high-level API by a thread of its own;
 * reads go to mount_blocks.c. Everything that would write fails with
 * EROFS. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mount_int.h"
#include "path.h"
#include "xalloc.h"

extern char **environ;

/* --- the tree --- */

static uint32_t add_node(mount_t *m, const char *name, uint32_t parent, int dir)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->nodes = xrealloc(m->nodes, m->cap * sizeof *m->nodes);
    }
    uint32_t i = m->n++;
    m->nodes[i] = (node_t){.name = xstrdup(name), .parent = parent, .dir = dir};
    if (dir)
        m->nodes[i].mtime = (int64_t)time(NULL); /* folders have no time of their own */
    if (i != parent) {
        node_t *p = &m->nodes[parent];
        if (p->nkids == p->capkids) {
            p->capkids = p->capkids ? p->capkids * 2 : 8;
            p->kids = xrealloc(p->kids, p->capkids * sizeof *p->kids);
        }
        p->kids[p->nkids++] = i;
    }
    return i;
}

static const mount_t *cmp_mount; /* for the sort below, while building only */

static int kid_cmp(const void *a, const void *b)
{
    return strcmp(cmp_mount->nodes[*(const uint32_t *)a].name,
                  cmp_mount->nodes[*(const uint32_t *)b].name);
}

static uint32_t find_kid(const mount_t *m, uint32_t dir, const char *name, size_t n)
{
    const node_t *d = &m->nodes[dir];
    size_t lo = 0, hi = d->nkids;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *k = m->nodes[d->kids[mid]].name;
        int c = strncmp(k, name, n);
        if (c == 0)
            c = k[n] ? 1 : 0;
        if (c == 0)
            return d->kids[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return UINT32_MAX;
}

/* The node at a FUSE path ("/a/b"), or UINT32_MAX. */
static uint32_t lookup(const mount_t *m, const char *path)
{
    uint32_t at = 0;
    while (*path == '/')
        path++;
    while (*path && at != UINT32_MAX) {
        size_t n = strcspn(path, "/");
        at = m->nodes[at].dir ? find_kid(m, at, path, n) : UINT32_MAX;
        path += n;
        while (*path == '/')
            path++;
    }
    return at;
}

typedef struct builder {
    mount_t *m;
    size_t strip;
    uint32_t *stack; /* the folders of the last name, by depth */
    size_t depth, cap;
    char *last; /* the last name, to reuse its folders */
    int refused;
} builder_t;

/* A listed file (names come in byte order): its folders, then itself. */
static int add_listed(void *ud, const store_entry_t *e)
{
    builder_t *b = ud;
    const char *rel = e->name + (b->strip <= strlen(e->name) ? b->strip : strlen(e->name));
    const char *why;
    size_t rl = strlen(rel);
    if (e->is_dir || !rl || rel[rl - 1] == '/')
        return 0; /* a folder marker ("a/b/", as the Portal writes them) is no file */
    if (!path_name_safe(rel, &why)) {
        if (!b->refused++)
            log_warn("%s: '%s' cannot be a local name (%s); such names are not shown", b->m->label,
                     e->name, why);
        return 0;
    }
    /* folders shared with the last name are reused */
    size_t d = 0;
    const char *p = rel, *q = b->last;
    while (q && d < b->depth) {
        size_t n = strcspn(p, "/"), k = strcspn(q, "/");
        if (!p[n] || n != k || strncmp(p, q, n))
            break;
        p += n + 1, q += k + 1, d++;
    }
    b->depth = d;
    uint32_t at = d ? b->stack[d - 1] : 0;
    for (size_t n; (n = strcspn(p, "/")), p[n] == '/'; p += n + 1) {
        char *nm = xstrndup(p, n);
        /* in byte order, a folder of this name would be the last child */
        uint32_t k = UINT32_MAX;
        node_t *dn = &b->m->nodes[at];
        if (dn->nkids && !strcmp(b->m->nodes[dn->kids[dn->nkids - 1]].name, nm))
            k = dn->kids[dn->nkids - 1];
        if (k != UINT32_MAX && !b->m->nodes[k].dir) {
            /* a file and a folder of one name (a zero-byte folder blob, say):
             * the folder wins, the file is not shown */
            if (b->m->nodes[k].size)
                log_warn("%s: '%s' is both a file and a folder; the file is not shown", b->m->label,
                         b->m->nodes[k].remote);
            b->m->files--;
            b->m->bytes -= b->m->nodes[k].size;
            dn->nkids--;
            k = UINT32_MAX;
        }
        at = k != UINT32_MAX ? k : add_node(b->m, nm, at, 1);
        free(nm);
        if (b->depth == b->cap) {
            b->cap = b->cap ? b->cap * 2 : 16;
            b->stack = xrealloc(b->stack, b->cap * sizeof *b->stack);
        }
        b->stack[b->depth++] = at;
    }
    uint32_t f = add_node(b->m, p, at, 0);
    node_t *fn = &b->m->nodes[f];
    fn->size = e->size;
    fn->mtime = e->mtime;
    fn->remote = xstrdup(e->name);
    fn->etag = e->etag ? xstrdup(e->etag) : NULL;
    b->m->files++;
    b->m->bytes += e->size;
    free(b->last);
    b->last = xstrdup(rel);
    return 0;
}

static void sort_tree(mount_t *m)
{
    cmp_mount = m;
    for (uint32_t i = 0; i < m->n; i++)
        if (m->nodes[i].nkids > 1)
            qsort(m->nodes[i].kids, m->nodes[i].nkids, sizeof *m->nodes[i].kids, kid_cmp);
    cmp_mount = NULL;
}

/* --- FUSE --- */

static mount_t *self(void)
{
    return fuse_get_context()->private_data;
}

static void fill_stat(const node_t *nd, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_mode = nd->dir ? S_IFDIR | 0555 : S_IFREG | 0444;
    st->st_nlink = nd->dir ? 2 : 1;
    st->st_size = (off_t)nd->size;
    st->st_blocks = (blkcnt_t)((nd->size + 511) / 512);
    st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = (time_t)nd->mtime;
    st->st_uid = getuid();
    st->st_gid = getgid();
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    (void)fi;
    mount_t *m = self();
    uint32_t i = lookup(m, path);
    if (i == UINT32_MAX)
        return -ENOENT;
    fill_stat(&m->nodes[i], st);
    return 0;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)off, (void)fi, (void)flags;
    mount_t *m = self();
    uint32_t i = lookup(m, path);
    if (i == UINT32_MAX)
        return -ENOENT;
    if (!m->nodes[i].dir)
        return -ENOTDIR;
    fill(buf, ".", NULL, 0, 0);
    fill(buf, "..", NULL, 0, 0);
    for (uint32_t k = 0; k < m->nodes[i].nkids; k++) {
        struct stat st;
        const node_t *kid = &m->nodes[m->nodes[i].kids[k]];
        fill_stat(kid, &st);
        if (fill(buf, kid->name, &st, 0, FUSE_FILL_DIR_PLUS))
            break;
    }
    return 0;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
    mount_t *m = self();
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
        return -EROFS;
    uint32_t i = lookup(m, path);
    if (i == UINT32_MAX)
        return -ENOENT;
    if (m->nodes[i].dir)
        return -EISDIR;
    fi->fh = i;
    fi->keep_cache = 1; /* the listed version never changes under the mount */
    return 0;
}

static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)path;
    return mb_read(self(), (uint32_t)fi->fh, buf, size, (uint64_t)off);
}

static int op_statfs(const char *path, struct statvfs *st)
{
    (void)path;
    mount_t *m = self();
    memset(st, 0, sizeof *st);
    st->f_bsize = st->f_frsize = 4096;
    st->f_blocks = (fsblkcnt_t)((m->bytes + 4095) / 4096);
    st->f_files = m->n;
    st->f_namemax = 255;
    st->f_flag = ST_RDONLY;
    return 0;
}

static int op_access(const char *path, int mask)
{
    if (mask & W_OK)
        return -EROFS;
    return lookup(self(), path) == UINT32_MAX ? -ENOENT : 0;
}

static int ro_path(const char *path, mode_t mode)
{
    (void)path, (void)mode;
    return -EROFS;
}

static int ro_create_node(const char *path, mode_t mode, dev_t dev)
{
    (void)dev;
    return ro_path(path, mode);
}

static int ro_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    (void)fi;
    return ro_path(path, mode);
}

static int ro_unlink(const char *path)
{
    return ro_path(path, 0);
}

static int ro_rename(const char *from, const char *to, unsigned flags)
{
    (void)to, (void)flags;
    return ro_path(from, 0);
}

static int ro_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    (void)size, (void)fi;
    return ro_path(path, 0);
}

static int ro_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    (void)fi;
    return ro_path(path, mode);
}

static int ro_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)buf, (void)size, (void)off, (void)fi;
    return ro_path(path, 0);
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    (void)conn;
    /* a snapshot: the kernel may keep what it has read, and every name */
    cfg->kernel_cache = 1;
    cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 3600;
    return fuse_get_context()->private_data;
}

static const struct fuse_operations ops = {
    .init = op_init,
    .getattr = op_getattr,
    .readdir = op_readdir,
    .open = op_open,
    .read = op_read,
    .statfs = op_statfs,
    .access = op_access,
    .mknod = ro_create_node,
    .mkdir = ro_path,
    .create = ro_create,
    .unlink = ro_unlink,
    .rmdir = ro_unlink,
    .rename = ro_rename,
    .truncate = ro_truncate,
    .chmod = ro_chmod,
    .write = ro_write,
};

/* --- life cycle --- */

int mount_available(const char **why)
{
    const char *no = getenv("FERRY_NO_FUSE");
    if (no && *no && strcmp(no, "0")) {
        *why = "FERRY_NO_FUSE is set";
        return 0;
    }
    if (access("/dev/fuse", F_OK) != 0) {
        *why = "this machine has no /dev/fuse";
        return 0;
    }
    if (access("/dev/fuse", R_OK | W_OK) != 0 && access("/usr/bin/fusermount3", X_OK) != 0) {
        *why = "/dev/fuse is not open to this user and fusermount3 is not installed";
        return 0;
    }
    return 1;
}

/* Is there a fuse.ferry mount at dir (/proc/self/mountinfo)? */
static int ferry_mounted_at(const char *dir)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return 0;
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        /* id parent major:minor root mountpoint opts... - fstype source ... */
        char mp[4096], *sep = strstr(line, " - ");
        if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
            strncmp(sep + 3, "fuse.ferry ", 11))
            continue;
        /* the kernel writes space, tab, newline and backslash as \ooo */
        char *o = mp;
        for (char *i = mp; *i; o++) {
            if (i[0] == '\\' && i[1] && i[2] && i[3]) {
                *o = (char)((i[1] - '0') * 64 + (i[2] - '0') * 8 + (i[3] - '0'));
                i += 4;
            } else {
                *o = *i++;
            }
        }
        *o = 0;
        found = !strcmp(mp, dir);
    }
    fclose(f);
    return found;
}

int mount_clear_stale(const char *dir, ferr_t *err)
{
    if (!ferry_mounted_at(dir))
        return 0;
    log_warn("%s: a ferry mount left by an earlier run is there; unmounting it", dir);
    if (umount2(dir, MNT_DETACH) == 0)
        return 1;
    /* not root: the setuid helper does it */
    char *argv[] = {(char *)"fusermount3", (char *)"-u", (char *)"-z", (char *)dir, NULL};
    pid_t pid;
    int st = -1;
    if (posix_spawnp(&pid, "fusermount3", NULL, NULL, argv, environ) == 0)
        waitpid(pid, &st, 0);
    if (st == 0 && !ferry_mounted_at(dir))
        return 1;
    return ferr_set(err, FERR_IO, "%s: cannot unmount the ferry mount an earlier run left there",
                    dir);
}

void mount_abort_connection(dev_t dev)
{
    /* a process that still holds the mount (a child left running) would
     * keep the connection, and the loop, alive: ended here (fusectl) */
    char path[96];
    snprintf(path, sizeof path, "/sys/fs/fuse/connections/%lu/abort", (unsigned long)dev);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, "1", 1) != 1)
            log_debug("cannot abort the FUSE connection %lu", (unsigned long)dev);
        close(fd);
    }
}

void *mount_loop(void *fuse)
{
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(cfg, 16);
    fuse_loop_mt(fuse, cfg);
    fuse_loop_cfg_destroy(cfg);
    return NULL;
}

static void free_tree(mount_t *m)
{
    for (uint32_t i = 0; i < m->n; i++) {
        node_t *nd = &m->nodes[i];
        free(nd->name);
        free(nd->remote);
        free(nd->etag);
        free(nd->kids);
        if (nd->f) {
            if (nd->f->fd >= 0)
                close(nd->f->fd);
            free(nd->f->state);
            free(nd->f->pins);
            free(nd->f);
        }
    }
    free(m->nodes);
}

static void mount_free(mount_t *m)
{
    free_tree(m);
    if (m->blocks_dir)
        rmdir(m->blocks_dir);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->work);
    pthread_cond_destroy(&m->landed);
    free(m->dir);
    free(m->label);
    free(m->blocks_dir);
    free(m->store_id);
    free(m);
}

/* The listing, taken once. */
static int build_tree(mount_t *m, const char *prefix, int as_file, ferr_t *err)
{
    store_t *s;
    if (store_open(&s, m->ds, err))
        return -1;
    add_node(m, "", 0, 1);
    builder_t b = {.m = m, .strip = strlen(prefix)};
    int rc;
    if (as_file) {
        store_entry_t e = {0};
        rc = store_stat(s, prefix, &e, err);
        const char *base = strrchr(prefix, '/');
        b.strip = base ? (size_t)(base - prefix + 1) : 0;
        store_entry_t one = e;
        one.name = prefix;
        if (rc == 0)
            rc = add_listed(&b, &one);
    } else {
        rc = store_list(s, prefix, NULL, add_listed, &b, err);
    }
    store_close(s);
    free(b.stack);
    free(b.last);
    sort_tree(m);
    return rc;
}

int mount_start(mount_t **out, const datastore_t *ds, const char *prefix, int as_file,
                const char *dir, const mount_opts_t *o, ferr_t *err)
{
    *out = NULL;
    if (mount_clear_stale(dir, err) < 0 || path_mkdirs(dir, 0755, err))
        return -1;
    mount_t *m = xcalloc(1, sizeof *m);
    m->dir = xstrdup(dir);
    m->label = xstrdup(o->label ? o->label : ds->name);
    m->ds = ds;
    m->cache = o->cache;
    m->disk_limit = o->disk_limit;
    m->store_id = store_identity(ds);
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->work, NULL);
    pthread_cond_init(&m->landed, NULL);
    char *tmpl = xasprintf("%s/ferry-mount-XXXXXX", o->cache_dir ? o->cache_dir : "/tmp");
    if (o->cache_dir)
        path_mkdirs(o->cache_dir, 0700, err);
    m->blocks_dir = mkdtemp(tmpl);
    if (!m->blocks_dir) {
        ferr_errno(err, FERR_IO, errno, "cannot make a folder for the mount's blocks in %s",
                   o->cache_dir ? o->cache_dir : "/tmp");
        free(tmpl);
        mount_free(m);
        return -1;
    }
    if (build_tree(m, prefix, as_file, err) || mb_start(m, o->concurrency, err)) {
        mb_stop(m);
        mount_free(m);
        return -1;
    }
    char *argv[] = {(char *)"ferry", (char *)"-o",
                    (char *)"ro,fsname=ferry,subtype=ferry,default_permissions", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    m->fuse = fuse_new(&args, &ops, sizeof ops, m);
    fuse_opt_free_args(&args);
    int rc = m->fuse ? fuse_mount(m->fuse, dir) : -1;
    if (rc == 0 && pthread_create(&m->loop, NULL, mount_loop, m->fuse) == 0)
        m->looping = 1;
    if (!m->looping) {
        ferr_set(err, FERR_IO,
                 "%s: cannot mount at %s (libfuse3 said why above); set FERRY_NO_FUSE=1 to "
                 "download instead",
                 m->label, dir);
        if (rc == 0)
            fuse_unmount(m->fuse);
        if (m->fuse)
            fuse_destroy(m->fuse);
        mb_stop(m);
        mount_free(m);
        return -1;
    }
    struct stat st; /* the connection's device, asked while the loop answers */
    if (stat(dir, &st) == 0)
        m->dev = st.st_dev;
    log_info("%s: mounted %llu file%s at %s, read-only", m->label, (unsigned long long)m->files,
             m->files == 1 ? "" : "s", dir);
    *out = m;
    return 0;
}

void mount_size(const mount_t *m, uint64_t *files, uint64_t *bytes)
{
    *files = m->files;
    *bytes = m->bytes;
}

void mount_stop(mount_t *m, uint64_t *files, uint64_t *bytes)
{
    if (!m)
        return;
    /* reads waiting for blocks give up, so the loop can end */
    pthread_mutex_lock(&m->mu);
    m->stopping = 1;
    pthread_cond_broadcast(&m->landed);
    pthread_cond_broadcast(&m->work);
    pthread_mutex_unlock(&m->mu);
    fuse_exit(m->fuse);
    /* lazily: a process still in the folder does not keep it mounted */
    if (umount2(m->dir, MNT_DETACH) != 0)
        fuse_unmount(m->fuse);
    if (m->dev)
        mount_abort_connection(m->dev);
    pthread_join(m->loop, NULL);
    fuse_unmount(m->fuse);
    fuse_destroy(m->fuse);
    mb_stop(m);
    if (files)
        *files = m->fetched_blocks;
    if (bytes)
        *bytes = m->fetched_bytes;
    log_info("%s: unmounted %s; %llu bytes were read from the datastore, at most %llu kept on "
             "disk at once",
             m->label, m->dir, (unsigned long long)m->fetched_bytes,
             (unsigned long long)m->peak_held);
    mount_free(m);
}
