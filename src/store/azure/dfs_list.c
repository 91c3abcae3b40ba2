/* Listing an ADLS Gen2 filesystem: List Paths under the prefix's folder,
 * recursive (or one level, with a delimiter), continued page by page; the
 * paths are sorted and handed out in byte order as from any store, with
 * the empty folders when asked. ferry's temporary files are hidden. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "store/azure/blob_xml.h"
#include "store/azure/dfs_int.h"
#include "xalloc.h"

typedef struct plist {
    lentry_t *v;
    size_t n, cap;
} plist_t;

static void plist_add(plist_t *l, char *name, uint64_t size, int64_t mtime, const char *etag,
                      int is_prefix)
{
    if (ARRAY_ROOM(l->v, l->n, l->cap, 1024))
        xalloc_die();
    l->v[l->n++] = (lentry_t){.name = name,
                              .size = size,
                              .mtime = mtime,
                              .etag = etag ? xstrdup(etag) : NULL,
                              .is_prefix = is_prefix};
}

static uint64_t num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsNumber(v))
        return v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
    return cJSON_IsString(v) ? strtoull(v->valuestring, NULL, 10) : 0;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

typedef struct walk {
    const char *prefix;
    int delim, dirs;
    plist_t files, folders; /* folders: every one seen, for finding the empty ones */
} walk_t;

/* One page of paths; 0, or -1 if it is not List Paths' JSON. */
static int take_page(walk_t *w, const char *body, size_t len)
{
    cJSON *o = cJSON_ParseWithLength(body, len);
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(o, "paths");
    if (!cJSON_IsArray(paths)) {
        cJSON_Delete(o);
        return -1;
    }
    size_t pl = strlen(w->prefix);
    const cJSON *p;
    cJSON_ArrayForEach(p, paths)
    {
        const char *name = str(p, "name"), *isdir = str(p, "isDirectory");
        const cJSON *bdir = cJSON_GetObjectItemCaseSensitive(p, "isDirectory");
        int dir = (isdir && !strcmp(isdir, "true")) || cJSON_IsTrue(bdir);
        if (!name || !*name || strncmp(name, w->prefix, pl))
            continue;
        const char *base = strrchr(name, '/');
        if (!dir && az_is_tmp(base ? base + 1 : name))
            continue; /* ferry's own unfinished upload */
        int64_t mtime = parse_http_date(str(p, "lastModified"));
        const char *etag = str(p, "etag");
        if (dir && w->delim)
            plist_add(&w->files, xasprintf("%s/", name), 0, mtime, NULL, 1);
        else if (dir && w->dirs)
            plist_add(&w->folders, xasprintf("%s/", name), 0, mtime, NULL, 0);
        else if (!dir)
            plist_add(&w->files, xstrdup(name), num(p, "contentLength"), mtime, etag, 0);
    }
    cJSON_Delete(o);
    return 0;
}

static char *page_query(const char *dir, int recursive, const char *cont)
{
    char *ed = http_escape(dir, 0), *ec = cont ? http_escape(cont, 0) : NULL;
    char *q = xasprintf("resource=filesystem&recursive=%s&maxResults=%ld%s%s%s%s",
                        recursive ? "true" : "false", az_page_size(), *dir ? "&directory=" : "", ed,
                        ec ? "&continuation=" : "", ec ? ec : "");
    free(ed);
    free(ec);
    return q;
}

static int walk_pages(dfs_store_t *ds, walk_t *w, const char *dir, ferr_t *err)
{
    char *cont = NULL;
    int rc = 0;
    do {
        char *q = page_query(dir, !w->delim, cont);
        http_resp_t resp = {0};
        rc = az_simple(&ds->c, "GET", NULL, q, NULL, NULL, 0, 0, &resp, err);
        free(q);
        free(cont);
        cont = NULL;
        int gone = rc == 0 && resp.status == 404 && strcmp(resp.error_code, "FilesystemNotFound");
        if (rc == 0 && resp.status != 200 && !gone)
            rc = az_fail(&ds->c, &resp, "listing", *dir ? dir : "/", err);
        else if (rc == 0 && !gone && take_page(w, resp.body ? resp.body : "", resp.body_len))
            rc = ferr_set(err, FERR_TRANSFER, "listing %s: the service's reply is not List Paths",
                          ds->c.where);
        else if (rc == 0 && strlen(resp.continuation) == sizeof resp.continuation - 1)
            rc = ferr_set(err, FERR_TRANSFER, "listing %s: a continuation token too long to keep",
                          ds->c.where);
        if (rc == 0 && !gone && resp.continuation[0])
            cont = xstrdup(resp.continuation);
        http_resp_dispose(&resp);
    } while (rc == 0 && cont);
    free(cont);
    return rc;
}

static int lentry_cmp(const void *a, const void *b)
{
    return strcmp(((const lentry_t *)a)->name, ((const lentry_t *)b)->name);
}

/* The folders nothing is below, as entries of their own. */
static void add_empty_folders(walk_t *w)
{
    plist_t *f = &w->folders;
    if (!f->n)
        return;
    qsort(f->v, f->n, sizeof *f->v, lentry_cmp);
    if (w->files.n)
        qsort(w->files.v, w->files.n, sizeof *w->files.v, lentry_cmp);
    size_t j = 0, nfiles = w->files.n; /* those added here come after, unsorted */
    for (size_t i = 0; i < f->n; i++) {
        const char *d = f->v[i].name;
        size_t dl = strlen(d);
        int below = i + 1 < f->n && !strncmp(f->v[i + 1].name, d, dl);
        while (!below && j < nfiles && strcmp(w->files.v[j].name, d) < 0)
            j++;
        below = below || (j < nfiles && !strncmp(w->files.v[j].name, d, dl));
        if (!below) {
            plist_add(&w->files, f->v[i].name, 0, f->v[i].mtime, NULL, 0);
            f->v[i].name = NULL;
        }
    }
}

int dfs_list(store_t *s, const char *prefix, const char *delim, unsigned flags, store_list_fn fn,
             void *ud, ferr_t *err)
{
    if (delim && strcmp(delim, "/"))
        return ferr_set(err, FERR_USAGE,
                        "an ADLS Gen2 filesystem is listed folder by folder: the only delimiter "
                        "is '/'");
    prefix = prefix ? prefix : "";
    const char *slash = strrchr(prefix, '/');
    char *dir = xstrndup(prefix, slash ? (size_t)(slash - prefix) : 0);
    walk_t w = {
        .prefix = prefix, .delim = delim != NULL, .dirs = !delim && (flags & STORE_LIST_DIRS)};
    int rc = walk_pages((dfs_store_t *)s, &w, dir, err);
    free(dir);
    if (rc == 0 && w.dirs)
        add_empty_folders(&w);
    if (rc == 0 && w.files.n)
        qsort(w.files.v, w.files.n, sizeof *w.files.v, lentry_cmp);
    for (size_t i = 0; i < w.files.n; i++) {
        lentry_t *e = &w.files.v[i];
        size_t l = strlen(e->name);
        store_entry_t en = {.name = e->name,
                            .size = e->size,
                            .mtime = e->mtime,
                            .etag = e->etag,
                            .is_prefix = e->is_prefix,
                            .is_dir = !e->is_prefix && l && e->name[l - 1] == '/'};
        if (rc == 0)
            rc = fn(ud, &en);
        free(e->name);
        free(e->etag);
    }
    for (size_t i = 0; i < w.folders.n; i++)
        free(w.folders.v[i].name);
    free(w.files.v);
    free(w.folders.v);
    return rc;
}
