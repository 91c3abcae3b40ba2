/* ferry upload, upload-files, download, ls: the data plane by hand. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_int.h"
#include "log.h"
#include "path.h"
#include "store.h"
#include "workspace.h"
#include "xalloc.h"
#include "progress.h"
#include "xfer.h"
#include "pack.h"
#include "unpack.h"
#include "cache.h"

static int finish_transfer(const char *verb, xfer_result_t *r, int rc)
{
    char *sum = xfer_summary(verb, r);
    if (sum && log_level() >= LOG_INFO) /* -q: errors only */
        puts(sum);
    free(sum);
    xfer_result_free(r);
    return rc;
}

/* --archive FORMAT: the folder as one object <target>/<folder name>.<ext>. */
static int upload_archive(store_t *s, args_t *a, const char *target, xfer_result_t *r, ferr_t *err)
{
    const char *ext = pack_extension(opt(a, "archive"));
    if (!ext)
        return ferr_set(err, FERR_USAGE, "--archive: expected tar.gz, tar.zst or zip");
    char *abs = path_absolute(a->pos[1], NULL);
    const char *base = strrchr(abs, '/') + 1;
    struct stat st;
    int rc = stat(abs, &st) != 0 || !S_ISDIR(st.st_mode)
                 ? ferr_set(err, FERR_NOTFOUND, "%s is not a folder", a->pos[1])
                 : 0;
    char *name = xasprintf("%s%s%s.%s", target, *target ? "/" : "", *base ? base : "root", ext);
    if (rc == 0)
        rc = pack_upload(s, abs, name, ext, a->pos[1], r, err);
    free(name);
    free(abs);
    return rc;
}

/* upload and upload-files differ only in what they send: a folder, or files. */
static int upload(ctx_t *c, args_t *a, int files, ferr_t *err)
{
    int conc;
    if (cli_concurrency_arg(a, &conc, err))
        return -1;
    store_t *s;
    char *target = cli_remote_arg(opt(a, "target-path"), "--target-path", err);
    if (!target)
        return -1;
    if (cli_open_store(c, a->pos[0], &s, err)) {
        free(target);
        return -1;
    }
    xfer_opts_t o = {.overwrite = flag(a, "overwrite"),
                     .follow_symlinks = flag(a, "follow-symlinks"),
                     .concurrency = conc};
    xfer_result_t r = {0};
    int rc = !files && opt(a, "archive") ? upload_archive(s, a, target, &r, err)
             : files                     ? xfer_upload_files(s, a->pos + 1, (size_t)(a->npos - 1),
                                                             opt(a, "relative-root"), target, &o, &r, err)
                                         : xfer_upload_dir(s, a->pos[1], target, &o, &r, err);
    store_close(s);
    free(target);
    if (rc && err->code != FERR_TRANSFER) {
        xfer_result_free(&r);
        return rc;
    }
    return finish_transfer("uploaded", &r, rc);
}

static int cmd_upload(ctx_t *c, args_t *a, ferr_t *err)
{
    return upload(c, a, 0, err);
}

static int cmd_upload_files(ctx_t *c, args_t *a, ferr_t *err)
{
    return upload(c, a, 1, err);
}

/* A prefix keeps a trailing '/', which matters for string-prefix listing. */
static char *prefix_arg(const char *v, ferr_t *err)
{
    char *p = cli_remote_arg(v, "--prefix", err);
    size_t vl = v ? strlen(v) : 0;
    if (p && *p && vl && v[vl - 1] == '/') {
        char *q = NULL;
        if (asprintf(&q, "%s/", p) < 0)
            q = NULL;
        free(p);
        p = q;
    }
    return p;
}

/* --unpack: the prefix names one archive, extracted into TARGET_DIR. */
static int download_unpack(store_t *s, args_t *a, const char *name, xfer_result_t *r, ferr_t *err)
{
    store_entry_t e;
    if (!*name)
        return ferr_set(err, FERR_USAGE, "--unpack: --prefix names the archive");
    if (store_stat(s, name, &e, err))
        return err->code == FERR_NOTFOUND
                   ? ferr_set(err, FERR_NOTFOUND, "--unpack: no file %s in datastore %s", name,
                              a->pos[0])
                   : -1;
    char *etag = e.etag ? xstrdup(e.etag) : NULL;
    uint64_t limit = unpack_limit_from_env();
    if (opt(a, "unpack-limit") && cache_parse_size(opt(a, "unpack-limit"), &limit)) {
        free(etag);
        return ferr_set(err, FERR_USAGE, "--unpack-limit: expected a size such as 10G");
    }
    unpack_opts_t o = {.label = name, .limit = limit, .overwrite = flag(a, "overwrite")};
    char *dest = path_absolute(a->pos[1], NULL);
    int rc = unpack_store_file(s, name, etag, e.size, dest, &o, r, err);
    free(dest);
    free(etag);
    return rc;
}

/* A URL's one file into TARGET_DIR/<its base name>. */
static int download_one(store_t *s, const char *name, const char *dir, const xfer_opts_t *o,
                        xfer_result_t *r, ferr_t *err)
{
    const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    char *abs = path_absolute(dir, NULL), *dest = path_join(abs, base);
    int rc = xfer_download_file(s, name, dest, o, r, err);
    free(dest);
    free(abs);
    return rc;
}

/* NAME may be a URL (a plain https file, or a storage URL read without a
 * credential): *prefix is then the file's name in it. */
static int open_source(ctx_t *c, args_t *a, datastore_t **adhoc, char **prefix, store_t **s,
                       ferr_t *err)
{
    *adhoc = NULL;
    if (strncmp(a->pos[0], "https://", 8) != 0)
        return cli_open_store(c, a->pos[0], s, err);
    if (**prefix)
        return ferr_set(err, FERR_USAGE, "--prefix: a URL names the file already");
    const char *why = NULL;
    char *path = NULL;
    int rc = store_url_parse(a->pos[0], "url", adhoc, &path, &why);
    for (size_t i = 0; rc == 0 && i < workspace_count(c->ws); i++)
        if (store_same_place(workspace_at(c->ws, i), *adhoc)) { /* its credential */
            datastore_free(*adhoc);
            *adhoc = NULL;
            rc = store_open(s, workspace_at(c->ws, i), err);
            free(*prefix);
            *prefix = path;
            return rc;
        }
    if (rc == 0 && (*adhoc)->by_form) {
        datastore_free(*adhoc);
        free(path);
        rc = store_url_parse_plain(a->pos[0], "url", adhoc, &path, &why);
    }
    if (rc) {
        free(path);
        return ferr_set(err, FERR_USAGE, "%s: %s", a->pos[0], why ? why : "not a URL ferry reads");
    }
    free(*prefix);
    *prefix = path;
    return store_open(s, *adhoc, err);
}

static int cmd_download(ctx_t *c, args_t *a, ferr_t *err)
{
    int conc;
    if (cli_concurrency_arg(a, &conc, err) || cli_check_md5_arg(a, err))
        return -1;
    store_t *s = NULL;
    datastore_t *adhoc = NULL;
    char *prefix = prefix_arg(opt(a, "prefix"), err);
    if (!prefix)
        return -1;
    if (open_source(c, a, &adhoc, &prefix, &s, err)) {
        free(prefix);
        datastore_free(adhoc);
        return -1;
    }
    xfer_opts_t o = {.overwrite = flag(a, "overwrite"), .concurrency = conc};
    xfer_result_t r = {0};
    int rc = flag(a, "unpack") ? download_unpack(s, a, prefix, &r, err)
             : adhoc           ? download_one(s, prefix, a->pos[1], &o, &r, err)
                               : xfer_download_prefix(s, prefix, 0, a->pos[1], &o, &r, err);
    store_close(s);
    datastore_free(adhoc);
    if (rc == 0 && r.n == 0) /* asked for data, got none: a script should know */
        rc = *prefix ? ferr_set(err, FERR_NOTFOUND, "no file in datastore %s starts with '%s'",
                                a->pos[0], prefix)
                     : ferr_set(err, FERR_NOTFOUND, "datastore %s holds no files", a->pos[0]);
    free(prefix);
    if (rc && err->code != FERR_TRANSFER) {
        xfer_result_free(&r);
        return rc;
    }
    return finish_transfer("downloaded", &r, rc);
}

typedef struct ls_ctx {
    cJSON *arr;
    uint64_t n, bytes;
} ls_ctx_t;

static int ls_one(void *ud, const store_entry_t *e)
{
    ls_ctx_t *l = ud;
    l->n++;
    l->bytes += e->size;
    char t[32] = "-";
    if (e->mtime) {
        time_t tt = (time_t)e->mtime;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    if (e->is_prefix) {
        if (l->arr) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", e->name);
            cJSON_AddBoolToObject(o, "prefix", 1);
            cJSON_AddItemToArray(l->arr, o);
        } else {
            printf("%12s  %-20s  %s\n", "-", "(folder)", e->name);
        }
        return 0;
    }
    if (l->arr) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", e->name);
        cJSON_AddNumberToObject(o, "size", (double)e->size);
        cJSON_AddStringToObject(o, "modified", t);
        if (e->etag)
            cJSON_AddStringToObject(o, "etag", e->etag);
        cJSON_AddItemToArray(l->arr, o);
    } else {
        printf("%12llu  %s  %s\n", (unsigned long long)e->size, t, e->name);
    }
    return 0;
}

static int cmd_ls(ctx_t *c, args_t *a, ferr_t *err)
{
    char *prefix = prefix_arg(a->npos > 1 ? a->pos[1] : NULL, err);
    if (!prefix)
        return -1;
    store_t *s;
    if (cli_open_store(c, a->pos[0], &s, err)) {
        free(prefix);
        return -1;
    }
    ls_ctx_t l = {flag(a, "json") ? cJSON_CreateArray() : NULL, 0, 0};
    int rc = store_list(s, prefix, opt(a, "delimiter"), ls_one, &l, err);
    store_close(s);
    free(prefix);
    if (l.arr) {
        if (rc == 0)
            cli_print_json(l.arr);
        else
            cJSON_Delete(l.arr);
    } else if (rc == 0) {
        char b[32];
        log_debug("%llu files, %s", (unsigned long long)l.n, progress_human(l.bytes, b, sizeof b));
    }
    return rc;
}

static const opt_spec_t ls_opts[] = {{"json", 0, 0}, {"delimiter", 'd', 1}, HELP_OPT, {NULL, 0, 0}};
static const opt_spec_t upload_opts[] = {
    {"target-path", 0, 1},   {"archive", 0, 1}, {"overwrite", 0, 0}, {"follow-symlinks", 0, 0},
    {"concurrency", 'j', 1}, HELP_OPT,          {NULL, 0, 0}};
static const opt_spec_t upload_files_opts[] = {{"target-path", 0, 1},
                                               {"relative-root", 0, 1},
                                               {"overwrite", 0, 0},
                                               {"concurrency", 'j', 1},
                                               HELP_OPT,
                                               {NULL, 0, 0}};
static const opt_spec_t download_opts[] = {{"prefix", 0, 1},
                                           {"overwrite", 0, 0},
                                           {"concurrency", 'j', 1},
                                           {"unpack", 0, 0},
                                           {"unpack-limit", 0, 1},
                                           {"check-md5", 0, 1},
                                           HELP_OPT,
                                           {NULL, 0, 0}};

const command_t cli_transfer_commands[] = {
    {"upload", cmd_upload, upload_opts, 2, 2, 1,
     "ferry upload NAME SRC_DIR [--target-path P] [--overwrite] [--follow-symlinks] [-j N] "
     "[--archive tar.gz|tar.zst|zip]",
     "Uploads every file under SRC_DIR to P/<relative path> in datastore NAME. Without\n"
     "--overwrite an existing file is skipped; with it, only files that differ are sent.\n"
     "Symlinks are skipped (with a warning) unless --follow-symlinks; devices and pipes\n"
     "always are; empty folders are carried where folders are real (file shares, ADLS\n"
     "Gen2), not to blob containers. A large\n"
     "file goes in blocks; those the blob already holds (staged by an interrupted upload,\n"
     "or unchanged) are not sent again. -j/--concurrency N: transfers at once.\n"
     "\n"
     "With --archive, SRC_DIR goes up as one archive object P/<folder name>.<format>,\n"
     "packed as it is sent, in 8 MiB blocks (a file share or ADLS Gen2 is told the size\n"
     "first, from a pass that only counts; a local datastore gets it through a nameless\n"
     "file), with a last entry _ferry_manifest.json listing every file and its SHA-256.",
     NULL},
    {"upload-files", cmd_upload_files, upload_files_opts, 2, -1, 1,
     "ferry upload-files NAME FILE... [--target-path P] [--relative-root DIR] [--overwrite]\n"
     "                   [-j N]",
     "Uploads files to P/<path below the files' common folder> (one file: P/<its name>),\n"
     "as the v1 SDK's upload_files does, or with --relative-root to P/<path below DIR>.\n"
     "Two files that would land on one name are refused before anything is uploaded.",
     NULL},
    {"download", cmd_download, download_opts, 2, 2, 1,
     "ferry download NAME TARGET_DIR [--prefix P] [--overwrite] [-j N] [--unpack "
     "[--unpack-limit S]]",
     "Downloads every file whose name starts with P to TARGET_DIR/<full name>. Without\n"
     "--overwrite an existing file is skipped; with it, a file ferry downloaded before and\n"
     "that is unchanged on both sides is still skipped. A name that would land outside\n"
     "TARGET_DIR is refused and nothing is written for it. A large file interrupted\n"
     "part-way (killed, or the network gone) is resumed by the next download of the same\n"
     "blob. -j/--concurrency N: transfers at once (default 16 for a remote store, 2 per\n"
     "core for a local one). A prefix that matches nothing is an error (exit 1).\n"
     "\n"
     "With --unpack, P names one archive (tar: plain, gz, bz2, xz or zstd; or zip; known\n"
     "from its bytes), extracted into TARGET_DIR as it is read. An entry that would land\n"
     "outside TARGET_DIR (absolute, '..', through a symlink), a symlink out of it or a\n"
     "hard link to outside is refused, and then nothing is extracted; device nodes and\n"
     "FIFOs are not made; setuid bits are dropped. It stops at S bytes (default: the free\n"
     "disk; also $FERRY_UNPACK_LIMIT). A zip is read whole first (its index is at its end).\n"
     "\n"
     "--check-md5 FailIfDifferent (the default) | FailIfDifferentOrMissing | LogOnly |\n"
     "NoCheck: what a file whose bytes do not match the MD5 the store keeps does\n"
     "(azcopy's names); with NoCheck nothing is hashed. Bytes are hashed as they arrive,\n"
     "never read back. A blob uploaded by ferry is checked block by block (its block\n"
     "ids carry each block's CRC64, Azure's; an earlier ferry's, its MD5), under the\n"
     "same policy: a block damaged on the way is fetched again alone.",
     NULL},
    {"ls", cmd_ls, ls_opts, 1, 2, 1, "ferry ls NAME [PREFIX] [--json] [--delimiter /]",
     "Lists files (size, modified time, name) whose name starts with PREFIX. With\n"
     "--delimiter /, lists one level: the files there and each folder once.",
     NULL},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL}};
