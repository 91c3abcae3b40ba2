/* Azure Data Lake Storage Gen2, spoken directly (the dfs endpoint): a
 * filesystem with real directories. A file is created under a temporary
 * name beside its final one, appended to at its positions (blocks in
 * parallel), flushed with the whole file's MD5 and renamed into place,
 * which is atomic here: no reader sees half a file under its name. A long
 * upload flushes its contiguous start every eighth of the file (16 MiB at
 * least), so that a later try of the same local file resumes from there. */
#define _GNU_SOURCE
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "log.h"
#include "path.h"
#include "store/azure/blob_xml.h"
#include "store/azure/dfs_int.h"
#include "store/azure/url.h"
#include "xalloc.h"

/* A long upload commits its contiguous start about every eighth of the
 * file, 16 MiB at least */
#define DFS_FLUSH_MIN (16u << 20)

/* --- requests --- */

/* Create Path: a file (or a directory) at name, replacing a file there. */
static int create_path(dfs_store_t *ds, const char *name, const char *kind, ferr_t *err)
{
    char q[32];
    snprintf(q, sizeof q, "resource=%s", kind);
    struct curl_slist *h = NULL;
    if (!strcmp(kind, "file"))
        h = az_header(h, "x-ms-content-type", "application/octet-stream");
    http_resp_t resp = {0};
    int rc = az_simple(&ds->c, "PUT", name, q, h, "", 0, 1, &resp, err);
    if (rc == 0 && resp.status != 201 &&
        !(!strcmp(kind, "directory") && resp.status == 409 &&
          !strcmp(resp.error_code, "PathAlreadyExists")))
        rc = az_fail(&ds->c, &resp, !strcmp(kind, "file") ? "creating" : "making the folder", name,
                     err);
    http_resp_dispose(&resp);
    return rc;
}

/* Append: len bytes at off, with their MD5. */
static int append(dfs_store_t *ds, const char *name, uint64_t off, const void *buf, size_t len,
                  const char *md5, ferr_t *err)
{
    char q[64];
    snprintf(q, sizeof q, "action=append&position=%llu", (unsigned long long)off);
    struct curl_slist *h = az_header(NULL, "Content-MD5", md5);
    h = az_header(h, "Content-Type", "application/octet-stream");
    http_resp_t resp = {0};
    int rc = az_simple(&ds->c, "PATCH", name, q, h, buf, len, 1, &resp, err);
    if (rc == 0 && resp.status != 202)
        rc = az_fail(&ds->c, &resp, "appending to", name, err);
    http_resp_dispose(&resp);
    return rc;
}

/* Flush: the first pos bytes become the file's content; with md5 the
 * upload is whole and closed, without it the rest stays appended. */
static int flush(dfs_store_t *ds, const char *name, uint64_t pos, const char *md5, ferr_t *err)
{
    char q[96];
    snprintf(q, sizeof q, "action=flush&position=%llu&%s", (unsigned long long)pos,
             md5 ? "close=true" : "retainUncommittedData=true");
    struct curl_slist *h = NULL;
    if (md5)
        h = az_header(h, "x-ms-content-md5", md5);
    h = az_header(h, "x-ms-content-type", "application/octet-stream");
    http_resp_t resp = {0};
    int rc = az_simple(&ds->c, "PATCH", name, q, h, "", 0, 1, &resp, err);
    if (rc == 0 && resp.status != 200)
        rc = az_fail(&ds->c, &resp, "flushing", name, err);
    http_resp_dispose(&resp);
    return rc;
}

static int dfs_stat(store_t *s, const char *name, store_entry_t *e, ferr_t *err);

/* Rename Path: tmp becomes name, replacing a file there, at once. */
static int rename_into(dfs_store_t *ds, const char *tmp, const char *name, const char *md5,
                       store_put_t *put, ferr_t *err)
{
    char *esc = http_escape(tmp, 1);
    char *src = xasprintf("/%s/%s", ds->base.ds->container, esc);
    char *full = auth_url(ds->c.auth, src); /* a SAS authorizes the source too */
    free(esc);
    free(src);
    struct curl_slist *h = az_header(NULL, "x-ms-rename-source", full);
    free(full);
    http_resp_t resp = {0};
    int rc = az_simple(&ds->c, "PUT", name, "mode=legacy", h, "", 0, 1, &resp, err);
    store_entry_t e;
    ferr_t e2 = FERR_INIT;
    if (rc == 0 && resp.status == 201) {
        snprintf(put->etag, sizeof put->etag, "%s", resp.etag);
    } else if (rc == 0 && resp.status == 404 && dfs_stat(&ds->base, name, &e, &e2) == 0 && e.md5 &&
               !strcmp(e.md5, md5)) {
        /* a retried rename whose first try landed */
        snprintf(put->etag, sizeof put->etag, "%s", e.etag ? e.etag : "");
    } else if (rc == 0) {
        rc = az_fail(&ds->c, &resp, "renaming into place", name, err);
    }
    ferr_clear(&e2);
    http_resp_dispose(&resp);
    if (rc == 0)
        snprintf(put->md5, sizeof put->md5, "%s", md5);
    return rc;
}

static int remove_path(dfs_store_t *ds, const char *name, ferr_t *err)
{
    http_resp_t resp = {0};
    int rc = az_simple(&ds->c, "DELETE", name, "recursive=false", NULL, NULL, 0, 0, &resp, err);
    if (rc == 0 && resp.status != 200 && resp.status != 202 && resp.status != 404)
        rc = az_fail(&ds->c, &resp, "removing", name, err);
    http_resp_dispose(&resp);
    return rc;
}

/* --- uploads under way, shared by a store and its clones --- */

static dfs_shared_t *shared_new(void)
{
    dfs_shared_t *sh = xcalloc(1, sizeof *sh);
    pthread_mutex_init(&sh->mu, NULL);
    sh->refs = 1;
    return sh;
}

static void upload_forget_locked(dfs_shared_t *sh, size_t i)
{
    free(sh->ups[i].tmp);
    free(sh->ups[i].done);
    sh->ups[i] = sh->ups[--sh->nups];
}

static void shared_unref(dfs_shared_t *sh)
{
    pthread_mutex_lock(&sh->mu);
    int last = --sh->refs == 0;
    pthread_mutex_unlock(&sh->mu);
    if (!last)
        return;
    while (sh->nups)
        upload_forget_locked(sh, sh->nups - 1);
    free(sh->ups);
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

/* With sh->mu held: the upload into tmp, or -1. */
static long upload_find_locked(dfs_shared_t *sh, const char *tmp)
{
    for (size_t i = 0; i < sh->nups; i++)
        if (!strcmp(sh->ups[i].tmp, tmp))
            return (long)i;
    return -1;
}

static void upload_track(dfs_shared_t *sh, const store_upload_t *u, const char *tmp,
                         uint64_t flushed)
{
    pthread_mutex_lock(&sh->mu);
    long i = upload_find_locked(sh, tmp);
    if (i >= 0)
        upload_forget_locked(sh, (size_t)i);
    if (sh->nups == sh->cap) {
        sh->cap = sh->cap ? sh->cap * 2 : 8;
        sh->ups = xrealloc(sh->ups, sh->cap * sizeof *sh->ups);
    }
    uint32_t n = (uint32_t)((u->size + u->block - 1) / u->block);
    dfs_upload_t *up = &sh->ups[sh->nups++];
    *up = (dfs_upload_t){.tmp = xstrdup(tmp),
                         .size = u->size,
                         .block = u->block,
                         .flushed = flushed,
                         .n = n,
                         .done = xcalloc(n ? n : 1, 1)};
    for (uint32_t b = 0; b < n && (uint64_t)b * u->block < flushed; b++)
        up->done[b] = 1;
    pthread_mutex_unlock(&sh->mu);
}

/* Block index is in: when the contiguous start has grown enough since the
 * last flush (and no one flushes now), this worker flushes it. */
static void upload_block_in(dfs_store_t *ds, const char *tmp, uint32_t index)
{
    dfs_shared_t *sh = ds->sh;
    pthread_mutex_lock(&sh->mu);
    long i = upload_find_locked(sh, tmp);
    uint64_t pos = 0;
    if (i >= 0 && index < sh->ups[i].n) {
        dfs_upload_t *up = &sh->ups[i];
        up->done[index] = 1;
        uint32_t c = 0;
        while (c < up->n && up->done[c])
            c++;
        pos = c == up->n ? up->size : (uint64_t)c * up->block;
        uint64_t every = up->size / 8 > DFS_FLUSH_MIN ? up->size / 8 : DFS_FLUSH_MIN;
        if (up->flushing || pos >= up->size || pos < up->flushed + every)
            pos = 0;
        else
            up->flushing = 1;
    }
    pthread_mutex_unlock(&sh->mu);
    if (!pos)
        return;
    ferr_t err = FERR_INIT;
    int rc = flush(ds, tmp, pos, NULL, &err);
    if (rc)
        log_debug("%s: an interim flush failed (%s); the upload goes on", tmp, err.msg);
    ferr_clear(&err);
    pthread_mutex_lock(&sh->mu);
    i = upload_find_locked(sh, tmp);
    if (i >= 0) {
        sh->ups[i].flushing = 0;
        if (rc == 0)
            sh->ups[i].flushed = pos;
    }
    pthread_mutex_unlock(&sh->mu);
}

static void upload_done(dfs_shared_t *sh, const char *tmp)
{
    pthread_mutex_lock(&sh->mu);
    long i = upload_find_locked(sh, tmp);
    if (i >= 0)
        upload_forget_locked(sh, (size_t)i);
    pthread_mutex_unlock(&sh->mu);
}

/* --- writes --- */

static int dfs_upload_begin(store_t *s, const store_upload_t *u, store_held_fn held, void *ud,
                            ferr_t *err)
{
    dfs_store_t *ds = (dfs_store_t *)s;
    char *tmp = az_upload_tmp(u);
    store_entry_t e;
    ferr_t e2 = FERR_INIT;
    uint64_t flushed = 0;
    /* an earlier try of the same local file left its start flushed */
    if (u->stamp && *u->stamp && dfs_stat(s, tmp, &e, &e2) == 0 && e.size <= u->size)
        flushed = e.size == u->size ? e.size : e.size - e.size % u->block;
    ferr_clear(&e2);
    int rc = 0;
    if (flushed) {
        for (uint64_t b = 0; b * u->block < flushed; b++)
            held(ud, (long)b, NULL,
                 (size_t)(flushed - b * u->block < u->block ? flushed - b * u->block : u->block),
                 0);
        log_info("%s: resuming its upload, %llu bytes of %llu already in the filesystem", u->name,
                 (unsigned long long)flushed, (unsigned long long)u->size);
    } else {
        rc = create_path(ds, tmp, "file", err);
    }
    if (rc == 0)
        upload_track(ds->sh, u, tmp, flushed);
    free(tmp);
    return rc;
}

static int dfs_put_block(store_t *s, const store_upload_t *u, uint32_t index, const char *id,
                         const void *buf, size_t len, const store_block_sums_t *sums, ferr_t *err)
{
    (void)id; /* the position says where it goes; the append carries its MD5 */
    dfs_store_t *ds = (dfs_store_t *)s;
    char *tmp = az_upload_tmp(u), *m = az_block_md5_b64(sums, buf, len);
    int rc = append(ds, tmp, (uint64_t)index * u->block, buf, len, m, err);
    if (rc == 0)
        upload_block_in(ds, tmp, index);
    free(m);
    free(tmp);
    return rc;
}

static int dfs_commit_blocks(store_t *s, const store_upload_t *u, const store_block_id_t *ids,
                             uint32_t n, const char *md5, store_put_t *put, ferr_t *err)
{
    (void)ids, (void)n;
    dfs_store_t *ds = (dfs_store_t *)s;
    char *tmp = az_upload_tmp(u);
    int rc = flush(ds, tmp, u->size, md5, err);
    if (rc == 0)
        rc = rename_into(ds, tmp, u->name, md5, put, err);
    upload_done(ds->sh, tmp);
    free(tmp);
    return rc;
}

/* A whole file from fd: appended in pieces as it is read and hashed,
 * flushed with its MD5, renamed into place. */
static int dfs_write(store_t *s, const char *name, int fd, uint64_t size, store_bytes_fn on_bytes,
                     void *ud, store_put_t *out, ferr_t *err)
{
    dfs_store_t *ds = (dfs_store_t *)s;
    out->etag[0] = out->md5[0] = 0;
    size_t bufsz = (size_t)(size < 8u << 20 ? size : 8u << 20);
    char *buf = xmalloc(bufsz ? bufsz : 1), *tmp = az_tmp_name(name, NULL);
    EVP_MD_CTX *whole = EVP_MD_CTX_new();
    EVP_DigestInit_ex(whole, EVP_md5(), NULL);
    int rc = create_path(ds, tmp, "file", err), created = rc == 0;
    for (uint64_t off = 0; rc == 0 && off < size;) {
        size_t n = (size_t)(size - off < bufsz ? size - off : bufsz);
        if (path_pread_full(fd, buf, n, off)) {
            rc = ferr_errno(err, FERR_IO, errno ? errno : EIO, "reading the file for %s", name);
            break;
        }
        EVP_DigestUpdate(whole, buf, n);
        char *m = az_md5_b64(buf, n);
        rc = append(ds, tmp, off, buf, n, m, err);
        free(m);
        if (rc == 0 && on_bytes)
            on_bytes(ud, n);
        off += n;
    }
    unsigned char md[16];
    unsigned int ml = 0;
    EVP_DigestFinal_ex(whole, md, &ml);
    EVP_MD_CTX_free(whole);
    char *md5 = base64_encode(md, ml);
    if (rc == 0)
        rc = flush(ds, tmp, size, md5, err);
    if (rc == 0)
        rc = rename_into(ds, tmp, name, md5, out, err);
    if (rc && created) {
        ferr_t e2 = FERR_INIT;
        remove_path(ds, tmp, &e2); /* nothing half-written is left behind */
        ferr_clear(&e2);
    }
    free(md5);
    free(tmp);
    free(buf);
    return rc;
}

/* --- reads, properties, folders --- */

static int dfs_stat(store_t *s, const char *name, store_entry_t *e, ferr_t *err)
{
    return az_stat(&((dfs_store_t *)s)->c, name, e, err);
}

static int dfs_read(store_t *s, const store_read_t *r, ferr_t *err)
{
    return az_read(&((dfs_store_t *)s)->c, r, 1, err);
}

static int dfs_remove(store_t *s, const char *name, ferr_t *err)
{
    return remove_path((dfs_store_t *)s, name, err);
}

static int dfs_mkdir(store_t *s, const char *name, ferr_t *err)
{
    size_t l = strlen(name);
    while (l && name[l - 1] == '/')
        l--;
    char *dir = xstrndup(name, l);
    int rc = create_path((dfs_store_t *)s, dir, "directory", err); /* parents come with it */
    free(dir);
    return rc;
}

/* Create Filesystem when asked, then one entry of its listing. */
static int dfs_check(store_t *s, int create, ferr_t *err)
{
    dfs_store_t *ds = (dfs_store_t *)s;
    int rc = 0;
    if (create) {
        http_resp_t resp = {0};
        rc = az_simple(&ds->c, "PUT", NULL, "resource=filesystem", NULL, "", 0, 1, &resp, err);
        if (rc == 0 && resp.status == 201)
            log_info("created filesystem %s", ds->c.where);
        else if (rc == 0 && resp.status != 409)
            rc = az_fail(&ds->c, &resp, "creating the filesystem", ds->c.where, err);
        http_resp_dispose(&resp);
    }
    if (rc == 0) {
        http_resp_t resp = {0};
        rc = az_simple(&ds->c, "GET", NULL, "resource=filesystem&recursive=false&maxResults=1",
                       NULL, NULL, 0, 0, &resp, err);
        if (rc == 0 && resp.status != 200)
            rc = az_fail(&ds->c, &resp, "checking access to", ds->c.where, err);
        http_resp_dispose(&resp);
    }
    return rc;
}

static const char *dfs_name_problem(const store_t *s, const char *name)
{
    (void)s;
    if (strlen(name) > 1024)
        return "longer than the 1,024 characters ADLS Gen2 allows in a path";
    for (const char *c = name; *c;) {
        size_t n = strcspn(c, "/");
        if (n > 255)
            return "a part longer than the 255 characters ADLS Gen2 allows";
        if (n && c[n - 1] == '.')
            return "a part ending with a dot, which ADLS Gen2 would drop";
        c += n + (c[n] == '/');
    }
    return NULL;
}

/* --- opening --- */

static void dfs_close(store_t *s)
{
    dfs_store_t *ds = (dfs_store_t *)s;
    az_conn_close(&ds->c);
    if (ds->sh)
        shared_unref(ds->sh);
    free(ds);
}

static const struct store_ops dfs_ops;

static int open_with(store_t **out, const datastore_t *d, dfs_shared_t *sh, ferr_t *err)
{
    *out = NULL;
    dfs_store_t *ds = xcalloc(1, sizeof *ds);
    ds->base.ops = &dfs_ops;
    ds->base.ds = d;
    if (az_conn_open(&ds->c, d, "dfs", DFS_API_VERSION, "file", err)) {
        free(ds);
        if (sh)
            shared_unref(sh);
        return -1;
    }
    ds->sh = sh ? sh : shared_new();
    *out = &ds->base;
    return 0;
}

static int dfs_open(store_t **out, const datastore_t *d, ferr_t *err)
{
    return open_with(out, d, NULL, err);
}

static int dfs_clone(store_t *s, store_t **out, ferr_t *err)
{
    dfs_shared_t *sh = ((dfs_store_t *)s)->sh;
    pthread_mutex_lock(&sh->mu);
    sh->refs++;
    pthread_mutex_unlock(&sh->mu);
    return open_with(out, s->ds, sh, err);
}

static const struct store_ops dfs_ops = {
    .clone = dfs_clone,
    .upload_begin = dfs_upload_begin,
    .put_block = dfs_put_block,
    .commit_blocks = dfs_commit_blocks,
    .list = dfs_list,
    .stat = dfs_stat,
    .read = dfs_read,
    .write = dfs_write,
    .check = dfs_check,
    .remove = dfs_remove,
    .mkdir = dfs_mkdir,
    .name_problem = dfs_name_problem,
    .close = dfs_close,
};

static const char *const adls_options[] = {"account",     "filesystem", "endpoint",
                                           "account-url", "protocol",   "ca-file",
                                           "tenant-id",   "client-id",  NULL};

const store_backend_t store_backend_adls_gen2 = {
    .type = "azure_data_lake_gen2",
    .cli_name = "azure-data-lake-gen2",
    .service = "dfs",
    .container_word = "filesystem",
    .container_key = "filesystem",
    .caps = STORE_CAP_REMOTE | STORE_CAP_LIST | STORE_CAP_RANGED_READS | STORE_CAP_RANGE_MD5 |
            STORE_CAP_PARALLEL_BLOCKS | STORE_CAP_BLOCK_LIST | STORE_CAP_CLONE | STORE_CAP_CHECK |
            STORE_CAP_HNS | STORE_CAP_MD5 | STORE_CAP_CREDENTIAL,
    .options = adls_options,
    .usage = "--account A --filesystem F",
    .from_options = azure_from_options,
    .validate = azure_validate,
    .url_parse = azure_url_parse_ds,
    .same_place = azure_same_place,
    .url_forms = "ADLS Gen2 URLs (abfss://<filesystem>@<account>.dfs.core.windows.net/<path>, "
                 "https://<account>.dfs.core.windows.net/<filesystem>/<path>)",
    .open = dfs_open,
};
