/* Azure Files, spoken directly (the File service REST API): a share holds
 * real directories, made level by level; a file is created at its size
 * and written in ranges of at most 4 MiB, in parallel, under a temporary
 * name beside its final one, given its MD5 (Content-MD5) and renamed into
 * place, so that no reader sees half a file under its name. Names are
 * case-insensitive and some characters are not allowed: such names are
 * refused before any request (name_problem, STORE_CAP_FOLD_CASE). */
#define _GNU_SOURCE
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "array.h"
#include "base64.h"
#include "log.h"
#include "path.h"
#include "store/azure/blob_xml.h"
#include "store/azure/file_int.h"
#include "store/azure/url.h"
#include "xalloc.h"

/* --- the folders known to exist, shared by a store and its clones --- */

static file_shared_t *shared_new(void)
{
    file_shared_t *sh = xcalloc(1, sizeof *sh);
    pthread_mutex_init(&sh->mu, NULL);
    sh->refs = 1;
    return sh;
}

static void shared_unref(file_shared_t *sh)
{
    pthread_mutex_lock(&sh->mu);
    int last = --sh->refs == 0;
    pthread_mutex_unlock(&sh->mu);
    if (!last)
        return;
    for (size_t i = 0; i < sh->cap; i++)
        free(sh->dirs[i]);
    free(sh->dirs);
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

static size_t fold_hash(const char *s)
{
    size_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s)) * 1099511628211u;
    return h;
}

/* With sh->mu held: the slot of dir, or the empty one where it would go. */
static size_t shared_slot(const file_shared_t *sh, const char *dir)
{
    size_t i = fold_hash(dir) & (sh->cap - 1);
    while (sh->dirs[i] && strcasecmp(sh->dirs[i], dir))
        i = (i + 1) & (sh->cap - 1);
    return i;
}

static int shared_has(file_shared_t *sh, const char *dir)
{
    pthread_mutex_lock(&sh->mu);
    int has = sh->cap && sh->dirs[shared_slot(sh, dir)];
    pthread_mutex_unlock(&sh->mu);
    return has;
}

static void shared_add(file_shared_t *sh, const char *dir)
{
    pthread_mutex_lock(&sh->mu);
    if ((sh->ndirs + 1) * 2 > sh->cap) {
        file_shared_t grown = {.cap = sh->cap ? sh->cap * 2 : 64};
        grown.dirs = xcalloc(grown.cap, sizeof *grown.dirs);
        for (size_t i = 0; i < sh->cap; i++)
            if (sh->dirs[i])
                grown.dirs[shared_slot(&grown, sh->dirs[i])] = sh->dirs[i];
        free(sh->dirs);
        sh->dirs = grown.dirs;
        sh->cap = grown.cap;
    }
    size_t i = shared_slot(sh, dir);
    if (!sh->dirs[i]) {
        sh->dirs[i] = xstrdup(dir);
        sh->ndirs++;
    }
    pthread_mutex_unlock(&sh->mu);
}

/* --- requests --- */

/* Makes the folder dir (each level above it first); one that exists is
 * no error, and one made once is not asked for again. */
static int make_dir(file_store_t *fs, const char *dir, ferr_t *err)
{
    if (!*dir || shared_has(fs->sh, dir))
        return 0;
    const char *slash = strrchr(dir, '/');
    if (slash) {
        char *up = xstrndup(dir, (size_t)(slash - dir));
        int rc = make_dir(fs, up, err);
        free(up);
        if (rc)
            return rc;
    }
    http_resp_t resp = {0};
    int rc = az_simple(&fs->c, "PUT", dir, "restype=directory", NULL, "", 0, 1, &resp, err);
    if (rc == 0 && resp.status != 201 && strcmp(resp.error_code, "ResourceAlreadyExists"))
        rc = az_fail(&fs->c, &resp, "making the folder", dir, err);
    http_resp_dispose(&resp);
    if (rc == 0)
        shared_add(fs->sh, dir);
    return rc;
}

/* The folder name is in, made. */
static int make_parent(file_store_t *fs, const char *name, ferr_t *err)
{
    const char *slash = strrchr(name, '/');
    if (!slash)
        return 0;
    char *dir = xstrndup(name, (size_t)(slash - name));
    int rc = make_dir(fs, dir, err);
    free(dir);
    return rc;
}

/* Create File: name at size bytes (zeros), with its MD5 when known. */
static int create_file(file_store_t *fs, const char *name, uint64_t size, const char *md5,
                       ferr_t *err)
{
    char len[32];
    snprintf(len, sizeof len, "%llu", (unsigned long long)size);
    struct curl_slist *h = az_header(NULL, "x-ms-type", "file");
    h = az_header(h, "x-ms-content-length", len);
    h = az_header(h, "x-ms-content-type", "application/octet-stream");
    if (md5)
        h = az_header(h, "x-ms-content-md5", md5);
    http_resp_t resp = {0};
    int rc = az_simple(&fs->c, "PUT", name, NULL, h, "", 0, 1, &resp, err);
    if (rc == 0 && resp.status != 201)
        rc = az_fail(&fs->c, &resp, "creating", name, err);
    http_resp_dispose(&resp);
    return rc;
}

/* Put Range: len bytes at off, in pieces the service takes, each with its MD5. */
static int put_ranges(file_store_t *fs, const char *name, uint64_t off, const char *buf, size_t len,
                      ferr_t *err)
{
    for (size_t done = 0; done < len;) {
        size_t n = len - done < FILE_RANGE_MAX ? len - done : FILE_RANGE_MAX;
        char range[80];
        snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)(off + done),
                 (unsigned long long)(off + done + n - 1));
        char *md5 = az_md5_b64(buf + done, n);
        struct curl_slist *h = az_header(NULL, "x-ms-range", range);
        h = az_header(h, "x-ms-write", "update");
        h = az_header(h, "Content-MD5", md5 ? md5 : "");
        h = az_header(h, "Content-Type", "application/octet-stream");
        http_resp_t resp = {0};
        int rc = az_simple(&fs->c, "PUT", name, "comp=range", h, buf + done, n, 1, &resp, err);
        if (rc == 0 && resp.status != 201)
            rc = az_fail(&fs->c, &resp, "writing a range of", name, err);
        http_resp_dispose(&resp);
        free(md5);
        if (rc)
            return rc;
        done += n;
    }
    return 0;
}

/* Set File Properties: the whole file's MD5 (content headers not given are
 * cleared, so its type is given again). */
static int set_md5(file_store_t *fs, const char *name, const char *md5, ferr_t *err)
{
    struct curl_slist *h = az_header(NULL, "x-ms-content-md5", md5);
    h = az_header(h, "x-ms-content-type", "application/octet-stream");
    http_resp_t resp = {0};
    int rc = az_simple(&fs->c, "PUT", name, "comp=properties", h, "", 0, 1, &resp, err);
    if (rc == 0 && resp.status != 200)
        rc = az_fail(&fs->c, &resp, "setting the MD5 of", name, err);
    http_resp_dispose(&resp);
    return rc;
}

static int file_stat(store_t *s, const char *name, store_entry_t *e, ferr_t *err);

/* Rename File: tmp becomes name, replacing what was there, at once. */
static int rename_into(file_store_t *fs, const char *tmp, const char *name, const char *md5,
                       store_put_t *put, ferr_t *err)
{
    char *src = az_url(&fs->c, tmp, NULL);
    char *full = src ? auth_url(fs->c.auth, src) : NULL; /* a SAS authorizes the source too */
    struct curl_slist *h = az_header(NULL, "x-ms-file-rename-source", full ? full : "");
    h = az_header(h, "x-ms-file-rename-replace-if-exists", "true");
    http_resp_t resp = {0};
    int rc = full ? az_simple(&fs->c, "PUT", name, "comp=rename", h, "", 0, 1, &resp, err)
                  : (curl_slist_free_all(h), ferr_set(err, FERR_INTERNAL, "out of memory"));
    free(src);
    free(full);
    store_entry_t e;
    ferr_t e2 = FERR_INIT;
    if (rc == 0 && resp.status == 200) {
        snprintf(put->etag, sizeof put->etag, "%s", resp.etag);
    } else if (rc == 0 && resp.status == 404 && file_stat(&fs->base, name, &e, &e2) == 0 && e.md5 &&
               !strcmp(e.md5, md5)) {
        /* a retried rename whose first try landed: the source is gone, the file is there */
        snprintf(put->etag, sizeof put->etag, "%s", e.etag ? e.etag : "");
    } else if (rc == 0) {
        rc = az_fail(&fs->c, &resp, "renaming into place", name, err);
    }
    ferr_clear(&e2);
    http_resp_dispose(&resp);
    if (rc == 0)
        snprintf(put->md5, sizeof put->md5, "%s", md5);
    return rc;
}

static void remove_quietly(file_store_t *fs, const char *name)
{
    http_resp_t resp = {0};
    ferr_t err = FERR_INIT;
    if (az_simple(&fs->c, "DELETE", name, NULL, NULL, NULL, 0, 0, &resp, &err) == 0 &&
        resp.status != 202 && resp.status != 404)
        log_debug("%s: could not remove %s (HTTP %ld)", fs->c.where, name, resp.status);
    ferr_clear(&err);
    http_resp_dispose(&resp);
}

/* --- writes --- */

static int file_upload_begin(store_t *s, const store_upload_t *u, store_held_fn held, void *ud,
                             ferr_t *err)
{
    file_store_t *fs = (file_store_t *)s;
    char *tmp = az_upload_tmp(u);
    if (!tmp)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    int rc = make_parent(fs, u->name, err);
    store_entry_t e;
    ferr_t e2 = FERR_INIT;
    int again =
        rc == 0 && u->stamp && *u->stamp && file_stat(s, tmp, &e, &e2) == 0 && e.size == u->size;
    ferr_clear(&e2);
    if (again) {
        ferr_t e3 = FERR_INIT;
        if (file_held_ranges(fs, u, tmp, held, ud, &e3))
            log_debug("%s: cannot list what an earlier try wrote (%s)", u->name, e3.msg);
        ferr_clear(&e3);
    } else if (rc == 0) {
        rc = create_file(fs, tmp, u->size, NULL, err);
    }
    free(tmp);
    return rc;
}

static int file_put_block(store_t *s, const store_upload_t *u, uint32_t index, const char *id,
                          const void *buf, size_t len, const store_block_sums_t *sums, ferr_t *err)
{
    (void)id, (void)sums; /* ranges are placed by offset and checked piece by piece (4 MiB) */
    char *tmp = az_upload_tmp(u);
    int rc = tmp ? put_ranges((file_store_t *)s, tmp, (uint64_t)index * u->block, buf, len, err)
                 : ferr_set(err, FERR_INTERNAL, "out of memory");
    free(tmp);
    return rc;
}

static int file_commit_blocks(store_t *s, const store_upload_t *u, const store_block_id_t *ids,
                              uint32_t n, const char *md5, store_put_t *put, ferr_t *err)
{
    (void)ids, (void)n;
    file_store_t *fs = (file_store_t *)s;
    char *tmp = az_upload_tmp(u);
    if (!tmp)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    int rc = set_md5(fs, tmp, md5, err);
    if (rc == 0)
        rc = rename_into(fs, tmp, u->name, md5, put, err);
    free(tmp);
    return rc;
}

/* A whole file from fd, read in ranges and hashed as it goes; its MD5 is
 * set before it takes its name. */
static int write_ranges(file_store_t *fs, const char *tmp, int fd, uint64_t size, char *buf,
                        size_t bufsz, store_bytes_fn on_bytes, void *ud, char **md5, ferr_t *err)
{
    EVP_MD_CTX *whole = EVP_MD_CTX_new();
    EVP_DigestInit_ex(whole, EVP_md5(), NULL);
    int rc = 0;
    for (uint64_t off = 0; rc == 0 && off < size;) {
        size_t n = (size_t)(size - off < bufsz ? size - off : bufsz);
        if (path_pread_full(fd, buf, n, off)) {
            rc = ferr_errno(err, FERR_IO, errno ? errno : EIO, "reading the file for %s", tmp);
            break;
        }
        EVP_DigestUpdate(whole, buf, n);
        rc = put_ranges(fs, tmp, off, buf, n, err);
        if (rc == 0 && on_bytes)
            on_bytes(ud, n);
        off += n;
    }
    unsigned char md[16];
    unsigned int ml = 0;
    EVP_DigestFinal_ex(whole, md, &ml);
    EVP_MD_CTX_free(whole);
    *md5 = rc == 0 ? base64_encode(md, ml) : NULL;
    return rc;
}

static int file_write(store_t *s, const char *name, int fd, uint64_t size, store_bytes_fn on_bytes,
                      void *ud, store_put_t *out, ferr_t *err)
{
    file_store_t *fs = (file_store_t *)s;
    out->etag[0] = out->md5[0] = 0;
    int rc = make_parent(fs, name, err);
    if (rc)
        return rc;
    size_t bufsz = (size_t)(size < 8u << 20 ? size : 8u << 20);
    char *buf = xmalloc(bufsz ? bufsz : 1), *md5 = NULL;
    char *tmp = az_tmp_name(name, NULL);
    /* a small file is read first, so that its MD5 goes with its creation */
    int small = size == bufsz;
    if (small && size && path_pread_full(fd, buf, (size_t)size, 0))
        rc = ferr_errno(err, FERR_IO, errno ? errno : EIO, "reading the file for %s", name);
    if (rc == 0 && small)
        md5 = az_md5_b64(buf, (size_t)size);
    if (rc == 0 && size == 0) {
        /* nothing to write: made whole under its name at once */
        rc = create_file(fs, name, 0, md5, err);
        if (rc == 0)
            snprintf(out->md5, sizeof out->md5, "%s", md5);
        goto done;
    }
    int created = rc == 0 && (rc = create_file(fs, tmp, size, md5, err)) == 0;
    if (rc == 0 && small) {
        rc = put_ranges(fs, tmp, 0, buf, (size_t)size, err);
        if (rc == 0 && on_bytes)
            on_bytes(ud, size);
    } else if (rc == 0) {
        rc = write_ranges(fs, tmp, fd, size, buf, bufsz, on_bytes, ud, &md5, err);
        if (rc == 0)
            rc = set_md5(fs, tmp, md5, err);
    }
    if (rc == 0)
        rc = rename_into(fs, tmp, name, md5, out, err);
    if (rc && created)
        remove_quietly(fs, tmp); /* nothing half-written is left behind */
done:
    free(tmp);
    free(md5);
    free(buf);
    return rc;
}

/* --- reads, properties, removal --- */

static int file_stat(store_t *s, const char *name, store_entry_t *e, ferr_t *err)
{
    return az_stat(&((file_store_t *)s)->c, name, e, err);
}

/* The File service takes no If-Match on reads: a reply of another ETag
 * than the one pinned fails instead (az_read). */
static int file_read(store_t *s, const store_read_t *r, ferr_t *err)
{
    return az_read(&((file_store_t *)s)->c, r, 0, err);
}

static int file_remove(store_t *s, const char *name, ferr_t *err)
{
    file_store_t *fs = (file_store_t *)s;
    http_resp_t resp = {0};
    int rc = az_simple(&fs->c, "DELETE", name, NULL, NULL, NULL, 0, 0, &resp, err);
    if (rc == 0 && resp.status != 202 && resp.status != 404)
        rc = az_fail(&fs->c, &resp, "removing", name, err);
    http_resp_dispose(&resp);
    return rc;
}

static int file_mkdir(store_t *s, const char *name, ferr_t *err)
{
    size_t l = strlen(name);
    while (l && name[l - 1] == '/')
        l--;
    char *dir = xstrndup(name, l);
    int rc = make_dir((file_store_t *)s, dir, err);
    free(dir);
    return rc;
}

/* Create Share when asked, then one listing entry of its root: the share
 * exists and the credential reads it. */
static int file_check(store_t *s, int create, ferr_t *err)
{
    file_store_t *fs = (file_store_t *)s;
    int rc = 0;
    if (create) {
        http_resp_t resp = {0};
        rc = az_simple(&fs->c, "PUT", NULL, "restype=share", NULL, "", 0, 1, &resp, err);
        if (rc == 0 && resp.status == 201)
            log_info("created file share %s", fs->c.where);
        else if (rc == 0 && resp.status != 409)
            rc = az_fail(&fs->c, &resp, "creating the file share", fs->c.where, err);
        http_resp_dispose(&resp);
    }
    if (rc == 0) {
        char *url = file_list_url(&fs->c, "", "", NULL, 1);
        struct curl_slist *h = az_headers(&fs->c, NULL);
        http_resp_t resp = {0};
        rc = az_request(&fs->c, "GET", url, h, NULL, 0, 0, NULL, &resp, err);
        if (rc == 0 && resp.status != 200)
            rc = az_fail(&fs->c, &resp, "checking access to", fs->c.where, err);
        http_resp_dispose(&resp);
        curl_slist_free_all(h);
        free(url);
    }
    return rc;
}

/* Azure Files' naming rules, as far as they are not ferry's own. */
static const char *file_name_problem(const store_t *s, const char *name)
{
    (void)s;
    if (strlen(name) > 2048)
        return "longer than the 2,048 characters Azure Files allows in a path";
    for (const char *c = name; *c;) {
        size_t n = strcspn(c, "/");
        if (n > 255)
            return "a part longer than the 255 characters Azure Files allows";
        if (n && (c[n - 1] == '.' || c[n - 1] == ' '))
            return "a part ending with a dot or a space, which Azure Files would drop";
        for (size_t i = 0; i < n; i++)
            if (strchr("\"\\:|<>*?", c[i]) || (unsigned char)c[i] < 0x20)
                return "a character Azure Files does not allow in names (\" \\ : | < > * ? or a "
                       "control character)";
        c += n + (c[n] == '/');
    }
    return NULL;
}

/* --- opening --- */

static void file_close(store_t *s)
{
    file_store_t *fs = (file_store_t *)s;
    az_conn_close(&fs->c);
    if (fs->sh)
        shared_unref(fs->sh);
    free(fs);
}

static const struct store_ops file_ops;

static int open_with(store_t **out, const datastore_t *ds, file_shared_t *sh, ferr_t *err)
{
    *out = NULL;
    file_store_t *fs = xcalloc(1, sizeof *fs);
    fs->base.ops = &file_ops;
    fs->base.ds = ds;
    if (az_conn_open(&fs->c, ds, "file", FILE_API_VERSION, "file", err)) {
        free(fs);
        if (sh)
            shared_unref(sh);
        return -1;
    }
    fs->sh = sh ? sh : shared_new();
    *out = &fs->base;
    return 0;
}

static int file_open(store_t **out, const datastore_t *ds, ferr_t *err)
{
    return open_with(out, ds, NULL, err);
}

static int file_clone(store_t *s, store_t **out, ferr_t *err)
{
    file_shared_t *sh = ((file_store_t *)s)->sh;
    pthread_mutex_lock(&sh->mu);
    sh->refs++;
    pthread_mutex_unlock(&sh->mu);
    return open_with(out, s->ds, sh, err);
}

static const struct store_ops file_ops = {
    .clone = file_clone,
    .upload_begin = file_upload_begin,
    .put_block = file_put_block,
    .commit_blocks = file_commit_blocks,
    .list = file_list,
    .stat = file_stat,
    .read = file_read,
    .write = file_write,
    .check = file_check,
    .remove = file_remove,
    .mkdir = file_mkdir,
    .name_problem = file_name_problem,
    .close = file_close,
};

/* Azure ML's azure_file datastores take a key or a SAS, not a service
 * principal; the File service takes a token only with the backup intent
 * (--identity, where the identity holds that role). */
static int file_validate(const datastore_t *ds, ferr_t *err)
{
    if (azure_validate(ds, err))
        return -1;
    if (ds->cred_kind == CRED_CLIENT_SECRET || ds->cred_kind == CRED_CLIENT_CERT)
        return ferr_set(err, FERR_USAGE,
                        "datastore %s: an azure_file datastore takes an account key or a SAS "
                        "token, as in Azure ML, not a service principal (for Entra ID, "
                        "--identity)",
                        ds->name);
    return 0;
}

static const char *const file_options[] = {"account",     "share",     "endpoint",
                                           "account-url", "protocol",  "ca-file",
                                           "tenant-id",   "client-id", NULL};

const store_backend_t store_backend_azure_file = {
    .type = "azure_file",
    .cli_name = "azure-file",
    .service = "file",
    .container_word = "file share",
    .container_key = "file_share_name",
    .caps = STORE_CAP_REMOTE | STORE_CAP_LIST | STORE_CAP_RANGED_READS | STORE_CAP_RANGE_MD5 |
            STORE_CAP_PARALLEL_BLOCKS | STORE_CAP_BLOCK_LIST | STORE_CAP_CLONE | STORE_CAP_CHECK |
            STORE_CAP_HNS | STORE_CAP_MD5 | STORE_CAP_CREDENTIAL | STORE_CAP_FOLD_CASE,
    .options = file_options,
    .usage = "--account A --share S",
    .from_options = azure_from_options,
    .validate = file_validate,
    .url_parse = azure_url_parse_ds,
    .same_place = azure_same_place,
    .url_forms = "Azure Files URLs (https://<account>.file.core.windows.net/<share>/<path>)",
    .open = file_open,
};
