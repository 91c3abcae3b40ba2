#define _GNU_SOURCE
#include "stage.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "log.h"
#include "mount.h"
#include "path.h"
#include "pack.h"
#include "stage_int.h"
#include "unpack.h"
#include "xalloc.h"

static int concurrency;
static struct cache *input_cache;

void stage_set_cache(struct cache *c)
{
    input_cache = c;
}

void stage_set_concurrency(int n)
{
    concurrency = n;
}

void stage_unmount(stage_rec_t *r)
{
    if (r->mount)
        mount_stop(r->mount, NULL, NULL);
    if (r->rw)
        mount_rw_stop(r->rw);
    r->mount = NULL;
    r->rw = NULL;
}

void stage_rec_dispose(stage_rec_t *r)
{
    stage_unmount(r);
    xfer_result_free(&r->res);
    free(r->error);
    r->error = NULL;
}

static int moves_data(const plan_io_t *io)
{
    return io->ds &&
           (io->mode == MODE_DOWNLOAD || io->mode == MODE_UPLOAD || io->mode == MODE_RO_MOUNT);
}

int stage_check(const plan_t *p, ferr_t *err)
{
    for (int out = 0; out < 2; out++) {
        const plan_io_t *ios = out ? p->outputs : p->inputs;
        size_t n = out ? p->noutputs : p->ninputs;
        for (size_t i = 0; i < n; i++) {
            if (!moves_data(&ios[i]))
                continue;
            store_t *s;
            if (store_open(&s, ios[i].ds, err))
                return ferr_wrap(err, "%s %s", out ? "output" : "input", ios[i].name);
            store_close(s);
        }
    }
    return 0;
}

/* A local path ferry writes to or uploads from: it must not lead out of the
 * work dir through a symlink (one a command made, or an earlier run left). */
static int inside_work_dir(const plan_t *p, const plan_io_t *io, ferr_t *err)
{
    return path_check_under(io->node_shared ? p->node_dir : p->work_dir, io->local, err);
}

/* ro_mount: the input's folder (or the folder of its one file) is a
 * read-only mount of what the datastore holds there. */
static int mount_input(const plan_io_t *io, stage_rec_t *rec, ferr_t *err)
{
    int file = io->type == IO_URI_FILE;
    char *dir = file ? path_dirname(io->local) : xstrdup(io->local);
    char *prefix = file || !*io->remote || io->remote[strlen(io->remote) - 1] == '/'
                       ? xstrdup(io->remote)
                       : xasprintf("%s/", io->remote);
    /* the blocks' files beside the cache's objects, so that a file read
     * whole becomes one by a link */
    mount_opts_t o = {.label = io->name,
                      .concurrency = concurrency,
                      .cache = input_cache,
                      .disk_limit = input_cache ? cache_limit(input_cache) : 0,
                      .cache_dir = input_cache ? cache_dir(input_cache) : NULL};
    int rc = mount_start(&rec->mount, io->ds, prefix, file, dir, &o, err);
    if (rc == 0) {
        uint64_t files, bytes;
        mount_size(rec->mount, &files, &bytes);
        if (files == 0) {
            stage_unmount(rec);
            rc = ferr_set(err, FERR_NOTFOUND, "nothing found at %s (is the path right?)", io->uri);
        } else {
            rec->res.files = files;
            rec->done = 1;
        }
    }
    free(prefix);
    free(dir);
    return rc;
}

/* unpack: true: the archive extracted into the input's folder. */
static int unpack_input(store_t *s, const plan_io_t *io, xfer_result_t *res, ferr_t *err)
{
    store_entry_t e;
    if (store_stat(s, io->remote, &e, err))
        return -1;
    char *etag = e.etag ? xstrdup(e.etag) : NULL;
    unpack_opts_t o = {
        .label = io->name, .limit = unpack_limit_from_env(), .overwrite = io->overwrite};
    int rc = unpack_store_file(s, io->remote, etag, e.size, io->local, &o, res, err);
    if (rc == 0)
        log_info("input %s: unpacked %s: %llu files", io->name, io->remote,
                 (unsigned long long)res->files);
    free(etag);
    return rc;
}

static int stage_input(const plan_t *p, const plan_io_t *io, stage_rec_t *rec, int *warned,
                       ferr_t *err)
{
    if (!moves_data(io)) {
        rec->done = 1;
        return 0;
    }
    /* a mount a killed run left where this input goes: gone first (the
     * path cannot even be looked at while it is there) */
    char *where = io->type == IO_URI_FILE ? path_dirname(io->local) : xstrdup(io->local);
    int stale = mount_clear_stale(where, err);
    free(where);
    if (stale < 0 || inside_work_dir(p, io, err))
        return -1;
    if (io->asked == MODE_RO_MOUNT && io->mode == MODE_DOWNLOAD && !*warned) {
        const char *why = "";
        mount_available(&why);
        log_warn("ro_mount asked, but %s: inputs to be mounted are downloaded", why);
        *warned = 1;
    }
    if (io->mode == MODE_RO_MOUNT)
        return mount_input(io, rec, err);
    store_t *s;
    if (store_open(&s, io->ds, err))
        return -1;
    xfer_opts_t o = {.overwrite = io->overwrite,
                     .label = io->name,
                     .concurrency = concurrency,
                     .cache = input_cache};
    int rc = 0;
    if (io->unpack) {
        rc = unpack_input(s, io, &rec->res, err);
    } else if (io->type == IO_URI_FILE) {
        rc = xfer_download_file(s, io->remote, io->local, &o, &rec->res, err);
    } else {
        /* a folder: the contents of "<remote>/" land in local */
        char *prefix = *io->remote ? path_join(io->remote, "") : xstrdup("");
        size_t pl = strlen(prefix);
        if (pl && prefix[pl - 1] != '/') {
            char *p2 = NULL;
            if (asprintf(&p2, "%s/", prefix) < 0)
                p2 = NULL;
            free(prefix);
            prefix = p2;
            pl++;
        }
        shard_sel_t sel = {0};
        if (io->shard && (rc = stage_shard_select(s, prefix, p, io, &sel, err)) == 0) {
            o.want = stage_shard_want;
            o.want_ud = &sel;
            rec->shard_files = sel.n;
            rec->shard_of = sel.total_files;
        }
        if (!io->shard || rc == 0)
            rc = xfer_download_prefix(s, prefix, pl, io->local, &o, &rec->res, err);
        stage_shard_free(&sel);
        if (io->shard && rc == 0 && rec->shard_of) {
            rec->done = 1; /* a rank's part may be empty: more ranks than files */
        } else if (rc == 0 && rec->res.n == 0 && *io->remote) {
            /* v1 references may name a single file: bring it into the folder */
            store_entry_t e;
            ferr_t e2 = FERR_INIT;
            if (store_stat(s, io->remote, &e, &e2) == 0) {
                const char *b = strrchr(io->remote, '/');
                char *dest = path_join(io->local, b ? b + 1 : io->remote);
                rc = xfer_download_file(s, io->remote, dest, &o, &rec->res, err);
                free(dest);
            } else if (e2.code != FERR_NOTFOUND) {
                /* a timeout or a refusal is not "nothing there": say what it was */
                rc = ferr_set(err, e2.code, "%s", e2.msg ? e2.msg : "cannot look it up");
            }
            ferr_clear(&e2);
        }
        if (rc == 0 && rec->res.n == 0)
            rc = ferr_set(err, FERR_NOTFOUND, "nothing found at %s (is the path right?)", io->uri);
        free(prefix);
    }
    store_close(s);
    if (rc == 0) {
        char *sum = xfer_summary("downloaded", &rec->res);
        log_info("input %s: %s", io->name, sum ? sum : "");
        free(sum);
        rec->done = 1;
    }
    return rc;
}

int stage_inputs(const plan_t *p, stage_rec_t *recs, ferr_t *err)
{
    int warned = 0, leader = !p->node_dir || p->rank.local_rank == 0;
    if (!leader && stage_node_wait(p, err))
        return -1;
    for (size_t i = 0; i < p->ninputs; i++) {
        if (!leader && p->inputs[i].node_shared) {
            recs[i].done = 1; /* staged by local rank 0, in the node's folder */
            continue;
        }
        if (stage_input(p, &p->inputs[i], &recs[i], &warned, err)) {
            recs[i].error = err->msg ? xstrdup(err->msg) : NULL;
            ferr_wrap(err, "input %s", p->inputs[i].name);
            stage_node_done(p, err->msg);
            return -1;
        }
    }
    stage_node_done(p, NULL);
    return 0;
}

int stage_mount_outputs(const plan_t *p, stage_rec_t *recs, ferr_t *err)
{
    const char *why;
    for (size_t i = 0; i < p->noutputs; i++) {
        const plan_io_t *io = &p->outputs[i];
        /* asked for in so many words: an output's default stays an upload at the end */
        if (io->asked != MODE_RW_MOUNT || !io->mode_given || io->mode != MODE_UPLOAD || !io->ds ||
            io->archive || io->type != IO_URI_FOLDER)
            continue;
        if (!mount_available(&why)) {
            log_warn("output %s: rw_mount asked, but %s: it is uploaded at the end", io->name, why);
            continue;
        }
        if (mount_rw_start(&recs[i].rw, io->ds, io->remote, io->local, io->name, err))
            return ferr_wrap(err, "output %s", io->name);
    }
    return 0;
}

int stage_prepare_outputs(const plan_t *p, ferr_t *err)
{
    for (size_t i = 0; i < p->noutputs; i++) {
        const plan_io_t *io = &p->outputs[i];
        char *dir = io->type == IO_URI_FILE ? path_dirname(io->local) : xstrdup(io->local);
        int rc = inside_work_dir(p, io, err) ? -1 : path_mkdirs(dir, 0755, err);
        free(dir);
        if (rc)
            return ferr_wrap(err, "output %s", io->name);
    }
    return 0;
}

#define MANIFEST_NAME "_ferry_manifest.json"
/* In a folder every rank writes: one per rank, _ferry_manifest.rank-<N>.json. */
static char *manifest_name(const plan_io_t *io)
{
    if (io->shared >= 2) {
        char *b = xasprintf("_ferry_manifest.rank-%d.json", io->shared - 2);
        char *n = path_join(io->remote, b);
        free(b);
        return n;
    }
    return path_join(io->remote, MANIFEST_NAME);
}
static int put_output_manifest(store_t *s, const plan_io_t *io, const stage_rec_t *rec,
                               ferr_t *err);
static int drop_output_manifest(store_t *s, const plan_io_t *io, ferr_t *err);

/* How an output goes up, in a sync or the final upload alike: its own
 * overwrite rule; files a sync already sent, unchanged since, are not sent
 * again. */
static xfer_opts_t output_opts(const plan_io_t *io)
{
    /* a folder all ranks share: a name another rank wrote first is not replaced */
    int ow = io->shared >= 2 ? 0 : io->overwrite;
    return (xfer_opts_t){
        .overwrite = ow, .quick = ow, .label = io->name, .concurrency = concurrency};
}

static int stage_output(const plan_t *p, const plan_io_t *io, stage_rec_t *rec, ferr_t *err)
{
    /* the command may have swapped its output (or a folder above it) for a
     * symlink: an output is never followed out of the work dir */
    if (inside_work_dir(p, io, err))
        return -1;
    store_t *s;
    if (store_open(&s, io->ds, err))
        return -1;
    xfer_opts_t o = output_opts(io);
    int rc;
    struct stat st;
    if (io->type == IO_URI_FILE) {
        if (stat(io->local, &st) != 0) {
            rc = ferr_set(err, FERR_NOTFOUND, "the command did not write %s", io->local);
        } else {
            char *f = io->local;
            char *root = path_dirname(io->local);
            char *target = path_dirname(io->remote);
            rc = xfer_upload_files(s, &f, 1, root, strcmp(target, ".") ? target : "", &o, &rec->res,
                                   err);
            free(root);
            free(target);
        }
    } else if (io->archive) {
        char *name = xasprintf("%s%s%s.%s", io->remote, *io->remote ? "/" : "", io->name,
                               pack_extension(io->archive));
        rc = pack_upload(s, io->local, name, io->archive, io->name, &rec->res, err);
        free(name);
    } else {
        rc = drop_output_manifest(s, io, err);
        if (rc == 0)
            rc = xfer_upload_dir(s, io->local, io->remote, &o, &rec->res, err);
        if (rc == 0 && rec->res.n == 0)
            log_warn("output %s: the command wrote nothing to %s", io->name, io->local);
        if (rc == 0 && io->shared >= 2 && rec->res.skipped > rec->res.unchanged)
            rc = ferr_set(err, FERR_TRANSFER,
                          "output %s: %llu of this rank's files have names another rank wrote "
                          "first (in a shared output every rank's names must differ); they were "
                          "not uploaded",
                          io->name, (unsigned long long)(rec->res.skipped - rec->res.unchanged));
        if (rc == 0)
            rc = put_output_manifest(s, io, rec, err);
    }
    store_close(s);
    if (rc == 0) {
        char *sum = xfer_summary("uploaded", &rec->res);
        log_info("output %s: %s to %s", io->name, sum ? sum : "", io->uri);
        free(sum);
        rec->done = 1;
    }
    return rc;
}

double stage_sync_outputs(const plan_t *p, long sync_every, double now, double *last)
{
    double next = 3600;
    for (size_t i = 0; i < p->noutputs; i++) {
        const plan_io_t *io = &p->outputs[i];
        long every = io->sync_interval ? io->sync_interval : sync_every;
        if (!every || io->type != IO_URI_FOLDER || io->archive)
            continue;
        double due = last[i] + (double)every;
        if (now >= due) {
            store_t *s;
            ferr_t err = FERR_INIT;
            xfer_opts_t o = output_opts(io);
            xfer_result_t res = {0};
            if (inside_work_dir(p, io, &err)) {
                log_warn("output %s: not synced: %s", io->name, err.msg);
            } else if (store_open(&s, io->ds, &err) == 0) {
                if (drop_output_manifest(s, io, &err) == 0 &&
                    xfer_upload_dir(s, io->local, io->remote, &o, &res, &err) == 0) {
                    if (res.files)
                        log_info("output %s: synced %llu changed file%s", io->name,
                                 (unsigned long long)res.files, res.files == 1 ? "" : "s");
                } else {
                    log_warn("output %s: a sync failed (%s); the final upload will try again",
                             io->name, err.msg);
                }
                store_close(s);
            }
            ferr_clear(&err);
            xfer_result_free(&res);
            last[i] = now;
            due = now + (double)every;
        }
        if (due - now < next)
            next = due - now;
    }
    return next;
}

/* _ferry_manifest.json: every file of the output with its size and MD5, put
 * after them all. (Made in memory: a temporary in the output folder could be
 * uploaded as data by a later sync.) */
static int put_output_manifest(store_t *s, const plan_io_t *io, const stage_rec_t *rec, ferr_t *err)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "output", io->name);
    cJSON_AddStringToObject(m, "status", "complete");
    cJSON *files = cJSON_AddArrayToObject(m, "files");
    size_t pl = strlen(io->remote);
    for (size_t i = 0; i < rec->res.n; i++) {
        const xfer_item_t *it = &rec->res.items[i];
        if (it->status == XFER_FAILED)
            continue;
        cJSON *f = cJSON_CreateObject();
        const char *rel = it->remote + (pl && !strncmp(it->remote, io->remote, pl) ? pl + 1 : 0);
        cJSON_AddStringToObject(f, "path", rel);
        cJSON_AddNumberToObject(f, "size", (double)it->size);
        if (it->md5)
            cJSON_AddStringToObject(f, "md5", it->md5);
        cJSON_AddItemToArray(files, f);
    }
    char *text = cJSON_Print(m);
    cJSON_Delete(m);
    size_t len = text ? strlen(text) : 0;
    int fd = text ? memfd_create("ferry-output-manifest", MFD_CLOEXEC) : -1;
    int rc =
        fd < 0 || write(fd, text, len) != (ssize_t)len
            ? ferr_errno(err, FERR_IO, errno ? errno : ENOMEM, "output %s: the manifest", io->name)
            : 0;
    char *name = manifest_name(io);
    store_put_t put;
    if (rc == 0)
        rc = store_write(s, name, fd, len, NULL, NULL, &put, err);
    if (fd >= 0)
        close(fd);
    free(name);
    free(text);
    return rc;
}

/* An output is about to change: a manifest an earlier run left must not
 * vouch for it while it is incomplete. */
static int drop_output_manifest(store_t *s, const plan_io_t *io, ferr_t *err)
{
    char *name = manifest_name(io);
    int rc = store_remove(s, name, err);
    free(name);
    return rc;
}

int stage_outputs(const plan_t *p, stage_rec_t *recs, ferr_t *err)
{
    size_t failed = 0;
    for (size_t i = 0; i < p->noutputs; i++) {
        ferr_t e1 = FERR_INIT;
        if (stage_output(p, &p->outputs[i], &recs[i], &e1)) {
            failed++;
            recs[i].error = e1.msg ? xstrdup(e1.msg) : NULL;
            log_error("output %s: %s", p->outputs[i].name, e1.msg ? e1.msg : "failed");
        }
        ferr_clear(&e1);
    }
    if (failed)
        return ferr_set(err, FERR_TRANSFER, "%zu of %zu outputs could not be uploaded", failed,
                        p->noutputs);
    return 0;
}
