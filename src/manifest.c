#define _GNU_SOURCE
#include "digest.h"
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "path.h"
#include "store.h"

#define SHA_RECORD "user.ferry.sha256"

/* A run writes its manifest up to five times, and a rerun hashes the same
 * inputs again: a file's SHA-256 is kept beside it (an xattr, with the
 * size:mtime it was true of) and read back while the file is unchanged. */
int manifest_sha256(const char *path, char hex[65], ferr_t *err)
{
    struct stat before, after;
    char stamp[64], rec[160];
    int have = stat(path, &before) == 0;
    if (have) {
        path_stamp(&before, stamp, sizeof stamp);
        ssize_t l = getxattr(path, SHA_RECORD, rec, sizeof rec - 1);
        size_t sl = strlen(stamp);
        if (l == (ssize_t)(sl + 1 + 64)) {
            rec[l] = 0;
            if (!strncmp(rec, stamp, sl) && rec[sl] == '\n') {
                memcpy(hex, rec + sl + 1, 65);
                return 0;
            }
        }
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (path_digest(path, EVP_sha256(), md, &n, err))
        return -1;
    hex_encode(md, n < 32 ? n : 32, hex);
    /* recorded only when the file did not change while it was read
     * (best effort: a read-only file or filesystem just goes without) */
    if (have && stat(path, &after) == 0) {
        char stamp2[64];
        path_stamp(&after, stamp2, sizeof stamp2);
        if (!strcmp(stamp, stamp2)) {
            int l = snprintf(rec, sizeof rec, "%s\n%s", stamp, hex);
            setxattr(path, SHA_RECORD, rec, (size_t)l, 0);
        }
    }
    return 0;
}

static void iso_time(double t, char *buf, size_t n)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static cJSON *file_entry(const char *rel, const char *local, uint64_t size, const char *remote,
                         const char *etag, const char *md5)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "path", rel);
    if (remote)
        cJSON_AddStringToObject(f, "path_on_datastore", remote);
    if (etag)
        cJSON_AddStringToObject(f, "etag", etag);
    if (md5)
        cJSON_AddStringToObject(f, "md5", md5);
    cJSON_AddNumberToObject(f, "size", (double)size);
    char hex[65];
    ferr_t e = FERR_INIT;
    if (manifest_sha256(local, hex, &e) == 0)
        cJSON_AddStringToObject(f, "sha256", hex);
    else
        cJSON_AddStringToObject(f, "sha256_error", e.msg ? e.msg : "unreadable");
    ferr_clear(&e);
    return f;
}

/* An output file that was not sent (overwrite is false and the datastore
 * had one): the record says what the datastore holds, the remote's ETag and
 * MD5; the local file's SHA-256 only when its MD5 is the remote's. */
static cJSON *skipped_entry(const char *rel, const xfer_item_t *it, int *same)
{
    *same = 0;
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "path", rel);
    cJSON_AddStringToObject(f, "path_on_datastore", it->remote);
    cJSON_AddBoolToObject(f, "skipped", 1);
    if (it->etag)
        cJSON_AddStringToObject(f, "etag", it->etag);
    if (it->md5)
        cJSON_AddStringToObject(f, "md5", it->md5);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char b64[64] = "";
    ferr_t e = FERR_INIT;
    if (it->md5 && path_digest(it->local, EVP_md5(), md, &n, &e) == 0)
        EVP_EncodeBlock((unsigned char *)b64, md, (int)n);
    ferr_clear(&e);
    if (*b64 && !strcmp(b64, it->md5)) {
        cJSON_Delete(f);
        f = file_entry(rel, it->local, it->size, it->remote, it->etag, it->md5);
        cJSON_AddBoolToObject(f, "skipped", 1);
        cJSON_AddStringToObject(f, "reason", "the datastore holds the same file");
        *same = 1;
        return f;
    }
    cJSON_AddStringToObject(f, "reason",
                            "the datastore had a file of this name and overwrite is false: it "
                            "was kept, and this run's file was not uploaded");
    return f;
}

typedef struct walk_ctx {
    cJSON *files;
    const char *root;
    uint64_t bytes;
} walk_ctx_t;

static int add_local(void *ud, const store_entry_t *e)
{
    walk_ctx_t *w = ud;
    char *abs = path_join(w->root, e->name);
    cJSON_AddItemToArray(w->files, file_entry(e->name, abs, e->size, NULL, NULL, NULL));
    w->bytes += e->size;
    free(abs);
    return 0;
}

static cJSON *io_entry(const plan_io_t *io, const stage_rec_t *rec, int input, const rank_t *rank)
{
    cJSON *o = plan_io_json_head(io);
    if (io->type == IO_LITERAL)
        return o;
    cJSON_AddStringToObject(o, "uri", io->uri ? io->uri : "");
    if (io->unpack) /* its files below are the archive's entries, as extracted */
        cJSON_AddStringToObject(o, "archive", io->remote ? io->remote : "");
    if (io->ds && !io->adhoc)
        cJSON_AddStringToObject(o, "datastore", io->ds->name);
    if (io->remote && !io->adhoc)
        cJSON_AddStringToObject(o, "path_on_datastore", io->remote);
    if (io->local)
        cJSON_AddStringToObject(o, "local_path", io->local);
    cJSON_AddBoolToObject(o, "staged", rec && rec->done);
    if (rec && rec->shard_of) {
        cJSON *sh = cJSON_AddObjectToObject(o, "shard");
        cJSON_AddStringToObject(sh, "by", io->shard == SHARD_BY_BYTES ? "by_bytes" : "by_files");
        cJSON_AddNumberToObject(sh, "rank", rank->rank);
        cJSON_AddNumberToObject(sh, "of", rank->world);
        cJSON_AddNumberToObject(sh, "files", (double)rec->shard_files);
        cJSON_AddNumberToObject(sh, "files_in_input", (double)rec->shard_of);
    }
    if (input && io->node_shared)
        cJSON_AddStringToObject(o, "staged_for", "every rank on this node (by local rank 0)");
    if (io->archive && rec && rec->res.n) { /* the object the folder was packed into */
        const xfer_item_t *it = &rec->res.items[0];
        cJSON *a = cJSON_AddObjectToObject(o, "archive");
        cJSON_AddStringToObject(a, "format", io->archive);
        cJSON_AddStringToObject(a, "path_on_datastore", it->remote);
        cJSON_AddNumberToObject(a, "size", (double)it->size);
        if (it->md5)
            cJSON_AddStringToObject(a, "md5", it->md5);
        if (it->etag)
            cJSON_AddStringToObject(a, "etag", it->etag);
    }
    if (rec && rec->error)
        cJSON_AddStringToObject(o, "error", rec->error);
    cJSON *files = cJSON_AddArrayToObject(o, "files");
    uint64_t bytes = 0, count = 0;
    if (rec && rec->res.n) {
        const char *base = io->local;
        size_t bl = strlen(base);
        for (size_t i = 0; i < rec->res.n; i++) {
            const xfer_item_t *it = &rec->res.items[i];
            if (it->status == XFER_FAILED || !it->local)
                continue;
            const char *rel = it->local;
            if ((io->type == IO_URI_FOLDER || io->unpack) && !strncmp(rel, base, bl) &&
                rel[bl] == '/')
                rel += bl + 1;
            else if (strrchr(rel, '/'))
                rel = strrchr(rel, '/') + 1;
            /* (with overwrite, a skipped file is one the datastore holds already) */
            if (!input && !io->overwrite && it->status == XFER_SKIPPED) {
                int same;
                cJSON_AddItemToArray(files, skipped_entry(rel, it, &same));
                if (!same)
                    continue; /* not counted: not this run's file */
            } else {
                cJSON_AddItemToArray(
                    files, file_entry(rel, it->local, it->size, it->remote, it->etag, it->md5));
            }
            bytes += it->size;
            count++;
        }
    } else if (input && io->in_place && io->local) {
        /* data used where it lies: record what it was */
        struct stat st;
        if (io->type == IO_URI_FILE) {
            if (stat(io->local, &st) == 0) {
                cJSON_AddItemToArray(files, file_entry(strrchr(io->local, '/') + 1, io->local,
                                                       (uint64_t)st.st_size, NULL, NULL, NULL));
                bytes = (uint64_t)st.st_size;
                count = 1;
            }
        } else {
            store_t *s;
            ferr_t e = FERR_INIT;
            walk_ctx_t w = {files, io->local, 0};
            /* a folder that cannot be read is said so, not recorded as empty */
            if (store_open_folder(&s, io->name, io->local, &e) == 0) {
                if (store_list(s, "", NULL, add_local, &w, &e) < 0)
                    cJSON_AddStringToObject(o, "error", e.msg ? e.msg : "cannot list it");
                store_close(s);
                bytes = w.bytes;
                count = (uint64_t)cJSON_GetArraySize(files);
            } else {
                cJSON_AddStringToObject(o, "error", e.msg ? e.msg : "cannot open it");
            }
            ferr_clear(&e);
        }
    }
    cJSON_AddNumberToObject(o, "file_count", (double)count);
    cJSON_AddNumberToObject(o, "bytes", (double)bytes);
    return o;
}

int manifest_write(const plan_t *p, const stage_rec_t *in, const stage_rec_t *out,
                   const manifest_run_t *run, ferr_t *err)
{
    cJSON *o = cJSON_CreateObject();
    char t[40];
    cJSON_AddNumberToObject(o, "manifest_version", 1);
    cJSON_AddStringToObject(o, "run_id", p->run_id);
    cJSON_AddStringToObject(o, "status", run->status);
    cJSON_AddStringToObject(o, "job_file", p->job->file);
    cJSON_AddStringToObject(o, "format", job_format_name(p->job->format));
    cJSON_AddStringToObject(o, "cwd", p->cwd);
    if (p->command)
        cJSON_AddStringToObject(o, "command", p->command);
    if (p->argv)
        cJSON_AddItemToObject(o, "argv",
                              cJSON_CreateStringArray((const char *const *)p->argv, (int)p->argc));
    if (run->started) {
        iso_time(run->started, t, sizeof t);
        cJSON_AddStringToObject(o, "started", t);
    }
    if (run->ended) {
        iso_time(run->ended, t, sizeof t);
        cJSON_AddStringToObject(o, "ended", t);
        cJSON_AddNumberToObject(o, "exit_code", run->exit_code);
    }
    if (run->exec) {
        cJSON *c = cJSON_AddObjectToObject(o, "command_result");
        cJSON_AddNumberToObject(c, "status", run->exec->status);
        if (run->exec->signal)
            cJSON_AddNumberToObject(c, "signal", run->exec->signal);
        cJSON_AddBoolToObject(c, "timed_out", run->exec->timed_out);
        cJSON_AddNumberToObject(c, "seconds", run->exec->seconds);
    }
    if (run->error)
        cJSON_AddStringToObject(o, "error", run->error);
    if (p->rank.known)
        cJSON_AddItemToObject(o, "rank", rank_to_json(&p->rank));
    cJSON_AddStringToObject(o, "check_md5", store_check_md5_name(store_check_md5()));
    cJSON *ins = cJSON_AddArrayToObject(o, "inputs");
    for (size_t i = 0; i < p->ninputs; i++)
        cJSON_AddItemToArray(ins, io_entry(&p->inputs[i], in ? &in[i] : NULL, 1, &p->rank));
    cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
    for (size_t i = 0; i < p->noutputs; i++)
        cJSON_AddItemToArray(outs, io_entry(&p->outputs[i], out ? &out[i] : NULL, 0, &p->rank));
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (!text)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    char *path = path_join(p->work_dir, "manifest.json");
    size_t len = strlen(text);
    text[len] = '\n';
    int rc = path_write_atomic(path, text, len + 1, 0644, err);
    free(text);
    free(path);
    return rc;
}
