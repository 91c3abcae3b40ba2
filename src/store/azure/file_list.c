/* Listing a file share: List Directories and Files answers for one folder
 * at a time, so a listing under a prefix is a walk of its folders, done by
 * several workers at once, each with its own connection; the names are
 * then sorted and handed out in byte order as from any store. Also List
 * Ranges, for an upload that resumes. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "log.h"
#include "store/azure/blob_xml.h"
#include "store/azure/file_int.h"
#include "xalloc.h"

/* Workers of one walk, and how deep it goes */
#define WALK_WORKERS 8
#define WALK_MAX_DEPTH 256

char *file_list_url(const az_conn_t *c, const char *dir, const char *leaf, const char *marker,
                    long page)
{
    char *el = http_escape(leaf ? leaf : "", 0);
    char *em = marker ? http_escape(marker, 0) : NULL;
    char *q = NULL, *url = NULL;
    if (asprintf(&q, "restype=directory&comp=list&include=Timestamps,ETag&maxresults=%ld%s%s%s%s",
                 page, *el ? "&prefix=" : "", el, em ? "&marker=" : "", em ? em : "") >= 0)
        url = az_url(c, *dir ? dir : NULL, q);
    free(q);
    free(el);
    free(em);
    return url;
}

typedef struct walk_dir {
    char *path; /* "" for the share's root, else "a/b" */
    int depth;
} walk_dir_t;

typedef struct walk {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const datastore_t *ds;
    const char *leaf; /* the prefix's last part, for the first folder only */
    int delim, dirs;  /* one level, folders as prefixes; empty folders too */
    walk_dir_t *queue;
    size_t nq, qcap;
    int busy; /* workers listing a folder now */
    lentry_t *out;
    size_t n, cap;
    int failed;
    ferr_t err;
} walk_t;

static void add_out(walk_t *w, lentry_t *e)
{
    pthread_mutex_lock(&w->mu);
    if (ARRAY_ROOM(w->out, w->n, w->cap, 1024)) {
        w->failed = 1;
        if (!w->err.msg)
            ferr_set(&w->err, FERR_INTERNAL, "out of memory");
    } else {
        w->out[w->n++] = *e;
        memset(e, 0, sizeof *e);
    }
    pthread_mutex_unlock(&w->mu);
}

static void add_dir(walk_t *w, char *path, int depth)
{
    pthread_mutex_lock(&w->mu);
    if (ARRAY_ROOM(w->queue, w->nq, w->qcap, 64)) {
        w->failed = 1;
        free(path);
    } else {
        w->queue[w->nq++] = (walk_dir_t){path, depth};
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
}

static char *join(const char *dir, const char *name, const char *tail)
{
    char *p = NULL;
    if (asprintf(&p, "%s%s%s%s", dir, *dir ? "/" : "", name, tail) < 0)
        return NULL;
    return p;
}

static char *unquote(char *etag)
{
    size_t l = etag ? strlen(etag) : 0;
    if (l >= 2 && etag[0] == '"' && etag[l - 1] == '"') {
        memmove(etag, etag + 1, l - 2);
        etag[l - 2] = 0;
    }
    return etag;
}

/* One page's entries: files out, folders walked (or out, as prefixes). */
static size_t take_page(walk_t *w, const walk_dir_t *d, blob_listing_t *p)
{
    size_t kept = 0;
    for (size_t i = 0; i < p->n; i++) {
        lentry_t *e = &p->page[i];
        if (!e->name || !*e->name || strchr(e->name, '/'))
            continue; /* not a name of this folder */
        kept++;
        if (!e->is_prefix && az_is_tmp(e->name))
            continue; /* ferry's own unfinished upload */
        char *full = join(d->path, e->name, e->is_prefix && w->delim ? "/" : "");
        if (!full)
            continue;
        free(e->name);
        e->name = full;
        unquote(e->etag);
        if (!e->is_prefix || w->delim)
            add_out(w, e);
        else if (d->depth + 1 < WALK_MAX_DEPTH)
            add_dir(w, xstrdup(full), d->depth + 1);
        else
            log_warn("%s: deeper than %d folders; not listed", full, WALK_MAX_DEPTH);
    }
    return kept;
}

/* Lists folder d, page by page. A folder gone since its parent was
 * listed is empty. */
static int list_dir(walk_t *w, az_conn_t *c, const walk_dir_t *d, ferr_t *err)
{
    blob_listing_t p = {0};
    char *marker = NULL;
    size_t kept = 0;
    int rc = 0;
    do {
        char *url = file_list_url(c, d->path, d->depth ? NULL : w->leaf, marker, az_page_size());
        struct curl_slist *h = az_headers(c, NULL);
        h = curl_slist_append(h, "x-ms-file-extended-info: true");
        http_req_t t = {.sink = blob_xml_feed, .sink_reset = blob_listing_reset, .sink_ud = &p};
        http_resp_t resp = {0};
        rc = az_request(c, "GET", url, h, NULL, 0, 0, &t, &resp, err);
        curl_slist_free_all(h);
        free(url);
        free(marker);
        marker = NULL;
        int gone = rc == 0 && resp.status == 404 && strcmp(resp.error_code, "ShareNotFound");
        if (rc == 0 && resp.status != 200 && !gone)
            rc = az_fail(c, &resp, "listing", *d->path ? d->path : "/", err);
        else if (rc == 0 && !gone && blob_xml_end(&p.x))
            rc = ferr_set(err, FERR_TRANSFER, "listing %s: the service's reply is not valid XML",
                          c->where);
        http_resp_dispose(&resp);
        if (rc || gone)
            break;
        kept += take_page(w, d, &p);
        marker = p.next_marker && *p.next_marker ? xstrdup(p.next_marker) : NULL;
    } while (marker);
    free(marker);
    blob_listing_free(&p);
    if (rc == 0 && kept == 0 && w->dirs && d->depth > 0) {
        lentry_t e = {.name = join(d->path, "", "/"), .is_prefix = 0};
        add_out(w, &e); /* an empty folder, carried as one */
    }
    return rc;
}

typedef struct worker {
    walk_t *w;
    store_t *s; /* the first worker uses the store's own connection */
    az_conn_t *c;
} worker_t;

static void *walker(void *arg)
{
    worker_t *k = arg;
    walk_t *w = k->w;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->nq && w->busy && !w->failed)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->failed || (!w->nq && !w->busy))
            break;
        walk_dir_t d = w->queue[--w->nq];
        w->busy++;
        pthread_mutex_unlock(&w->mu);
        ferr_t err = FERR_INIT;
        int rc = list_dir(w, k->c, &d, &err);
        free(d.path);
        pthread_mutex_lock(&w->mu);
        w->busy--;
        if (rc && !w->failed) {
            w->failed = 1;
            w->err = err;
        } else {
            ferr_clear(&err);
        }
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static int lentry_cmp(const void *a, const void *b)
{
    return strcmp(((const lentry_t *)a)->name, ((const lentry_t *)b)->name);
}

/* Runs the walk from root with up to WALK_WORKERS workers. */
static void walk_run(walk_t *w, file_store_t *fs, walk_dir_t root)
{
    worker_t k[WALK_WORKERS] = {{w, &fs->base, &fs->c}};
    az_conn_t conns[WALK_WORKERS];
    pthread_t tid[WALK_WORKERS];
    int started[WALK_WORKERS] = {0};
    add_dir(w, root.path, root.depth);
    int n = w->delim ? 1 : WALK_WORKERS;
    for (int i = 1; i < n; i++) {
        ferr_t e = FERR_INIT;
        if (az_conn_open(&conns[i], fs->base.ds, "file", FILE_API_VERSION, "file", &e)) {
            ferr_clear(&e);
            break; /* fewer workers, the same walk */
        }
        k[i] = (worker_t){w, NULL, &conns[i]};
        started[i] = pthread_create(&tid[i], NULL, walker, &k[i]) == 0;
        if (!started[i]) {
            az_conn_close(&conns[i]);
            break;
        }
    }
    walker(&k[0]);
    for (int i = 1; i < n; i++)
        if (started[i]) {
            pthread_join(tid[i], NULL);
            az_conn_close(&conns[i]);
        }
    while (w->nq)
        free(w->queue[--w->nq].path); /* left by a failure */
}

int file_list(store_t *s, const char *prefix, const char *delim, unsigned flags, store_list_fn fn,
              void *ud, ferr_t *err)
{
    if (delim && strcmp(delim, "/"))
        return ferr_set(err, FERR_USAGE,
                        "a file share is listed folder by folder: the only delimiter is '/'");
    prefix = prefix ? prefix : "";
    const char *slash = strrchr(prefix, '/');
    walk_t w = {.ds = s->ds,
                .leaf = slash ? slash + 1 : prefix,
                .delim = delim != NULL,
                .dirs = !delim && (flags & STORE_LIST_DIRS),
                .err = FERR_INIT};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    walk_run(&w, (file_store_t *)s,
             (walk_dir_t){xstrndup(prefix, slash ? (size_t)(slash - prefix) : 0), 0});
    int rc = 0;
    if (w.failed) {
        rc = ferr_set(err, w.err.code ? w.err.code : FERR_INTERNAL, "%s",
                      w.err.msg ? w.err.msg : "out of memory");
    } else if (w.n) {
        qsort(w.out, w.n, sizeof *w.out, lentry_cmp);
    }
    for (size_t i = 0; i < w.n; i++) {
        size_t l = strlen(w.out[i].name);
        store_entry_t e = {.name = w.out[i].name,
                           .size = w.out[i].size,
                           .mtime = w.out[i].mtime,
                           .etag = w.out[i].etag,
                           .is_prefix = w.out[i].is_prefix,
                           .is_dir = !w.out[i].is_prefix && l && w.out[i].name[l - 1] == '/'};
        if (rc == 0)
            rc = fn(ud, &e);
        free(w.out[i].name);
        free(w.out[i].etag);
        free(w.out[i].md5);
    }
    free(w.out);
    free(w.queue);
    ferr_clear(&w.err);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

/* --- List Ranges: what an interrupted upload wrote --- */

typedef struct ranges {
    xsink_t x; /* first */
    char text[32];
    size_t tlen;
    uint64_t start;
    struct range {
        uint64_t start, end; /* inclusive */
    } * v;
    size_t n, cap;
} ranges_t;

static void XMLCALL r_start(void *ud, const XML_Char *el, const XML_Char **attr)
{
    (void)el, (void)attr;
    ((ranges_t *)ud)->tlen = 0;
}

static void XMLCALL r_text(void *ud, const XML_Char *s, int len)
{
    ranges_t *r = ud;
    size_t n =
        (size_t)len < sizeof r->text - 1 - r->tlen ? (size_t)len : sizeof r->text - 1 - r->tlen;
    memcpy(r->text + r->tlen, s, n);
    r->tlen += n;
    r->text[r->tlen] = 0;
}

static void XMLCALL r_end(void *ud, const XML_Char *el)
{
    ranges_t *r = ud;
    r->text[r->tlen] = 0;
    if (!strcmp(el, "Start")) {
        r->start = strtoull(r->text, NULL, 10);
    } else if (!strcmp(el, "End")) {
        if (ARRAY_ROOM(r->v, r->n, r->cap, 64)) {
            r->x.failed = 1;
            return;
        }
        r->v[r->n++] = (struct range){r->start, strtoull(r->text, NULL, 10)};
    }
    r->tlen = 0;
}

static void ranges_reset(void *ud)
{
    ranges_t *r = ud;
    if (r->x.xp)
        XML_ParserFree(r->x.xp);
    r->x.xp = XML_ParserCreate("UTF-8");
    XML_SetUserData(r->x.xp, r);
    XML_SetElementHandler(r->x.xp, r_start, r_end);
    XML_SetCharacterDataHandler(r->x.xp, r_text);
    r->x.failed = 0;
    r->n = r->tlen = 0;
}

/* Is [a, b) written, by the (sorted, merged) ranges? */
static int covered(const ranges_t *r, uint64_t a, uint64_t b)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].start <= a && r->v[i].end + 1 >= b)
            return 1;
    return 0;
}

/* The blocks of u that tmp holds whole, to held by index. */
int file_held_ranges(file_store_t *fs, const store_upload_t *u, const char *tmp, store_held_fn held,
                     void *ud, ferr_t *err)
{
    ranges_t r = {0};
    ranges_reset(&r);
    char *url = az_url(&fs->c, tmp, "comp=rangelist");
    struct curl_slist *h = az_headers(&fs->c, NULL);
    http_req_t t = {.sink = blob_xml_feed, .sink_reset = ranges_reset, .sink_ud = &r};
    http_resp_t resp = {0};
    int rc = az_request(&fs->c, "GET", url, h, NULL, 0, 0, &t, &resp, err);
    curl_slist_free_all(h);
    free(url);
    if (rc == 0 && resp.status == 200 && blob_xml_end(&r.x) == 0) {
        uint64_t resumed = 0;
        for (uint64_t i = 0; u->block && i * u->block < u->size; i++) {
            uint64_t a = i * u->block, b = a + u->block < u->size ? a + u->block : u->size;
            if (covered(&r, a, b)) {
                held(ud, (long)i, NULL, (size_t)(b - a), 0);
                resumed += b - a;
            }
        }
        if (resumed)
            log_info("%s: resuming its upload, %llu bytes of %llu already in the share", u->name,
                     (unsigned long long)resumed, (unsigned long long)u->size);
    }
    http_resp_dispose(&resp);
    XML_ParserFree(r.x.xp);
    free(r.v);
    return rc;
}
