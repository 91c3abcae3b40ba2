/* Staging among ranks: the first rank on a node stages the inputs the
 * node's ranks share and says so in <node dir>/.staged; the others wait for
 * it (bounded) and use the same local paths. A sharded input is each rank's
 * own: its part of the listing, the same split on every rank. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "path.h"
#include "stage_int.h"
#include "xalloc.h"

#define MARKER ".staged"

static char *marker_path(const plan_t *p)
{
    return path_join(p->node_dir, MARKER);
}

void stage_node_done(const plan_t *p, const char *error)
{
    if (!p->node_dir || p->rank.local_rank != 0)
        return;
    char *m = marker_path(p), *text = xasprintf("%s\n", error ? error : "ok");
    ferr_t e = FERR_INIT;
    if (path_mkdirs(p->node_dir, 0755, &e) || path_write_atomic(m, text, strlen(text), 0644, &e))
        log_error("cannot tell this node's other ranks that staging %s: %s",
                  error ? "failed" : "is done", e.msg);
    ferr_clear(&e);
    free(text);
    free(m);
}

int stage_node_wait(const plan_t *p, ferr_t *err)
{
    if (!p->node_dir || p->rank.local_rank == 0)
        return 0;
    const char *w = getenv("FERRY_STAGE_WAIT");
    long limit = w && atol(w) > 0 ? atol(w) : 3600;
    char *m = marker_path(p);
    log_info("rank %d: waiting for local rank 0 to stage this node's inputs (at most %ld s)",
             p->rank.rank, limit);
    int rc = 0;
    for (long tenths = 0;; tenths++) {
        char *text = NULL;
        size_t len = 0;
        ferr_t e = FERR_INIT;
        if (access(m, F_OK) == 0 && path_read_all(m, &text, &len, &e) == 0) {
            if (len >= 2 && !strncmp(text, "ok", 2))
                rc = 0;
            else
                rc = ferr_set(err, FERR_TRANSFER,
                              "local rank 0 could not stage this node's inputs: %.*s", (int)len,
                              text);
            free(text);
            ferr_clear(&e);
            break;
        }
        ferr_clear(&e);
        if (tenths >= limit * 10) {
            rc = ferr_set(err, FERR_TRANSFER,
                          "local rank 0 did not stage this node's inputs within %ld s "
                          "(FERRY_STAGE_WAIT); is it running?",
                          limit);
            break;
        }
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    free(m);
    return rc;
}

/* --- shards --- */

typedef struct shard_list {
    char **names;
    unsigned long long *sizes;
    size_t n, cap;
} shard_list_t;

static int gather(void *ud, const store_entry_t *e)
{
    shard_list_t *l = ud;
    if (e->is_dir || e->is_prefix)
        return 0;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->names = xrealloc(l->names, l->cap * sizeof *l->names);
        l->sizes = xrealloc(l->sizes, l->cap * sizeof *l->sizes);
    }
    l->names[l->n] = xstrdup(e->name);
    l->sizes[l->n++] = e->size;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int stage_shard_select(store_t *s, const char *prefix, const plan_t *p, const plan_io_t *io,
                       shard_sel_t *sel, ferr_t *err)
{
    memset(sel, 0, sizeof *sel);
    shard_list_t l = {0};
    if (store_walk(s, prefix, 0, gather, &l, err)) {
        for (size_t i = 0; i < l.n; i++)
            free(l.names[i]);
        free(l.names);
        free(l.sizes);
        return -1;
    }
    /* (a listing comes sorted by name: every rank sees the same order) */
    unsigned char *keep = xcalloc(l.n + 1, 1);
    rank_shard((shard_t)io->shard, p->rank.rank, p->rank.world, l.sizes, l.n, keep);
    sel->names = xcalloc(l.n + 1, sizeof *sel->names);
    for (size_t i = 0; i < l.n; i++) {
        sel->total_files++;
        sel->total_bytes += l.sizes[i];
        if (keep[i]) {
            sel->names[sel->n++] = l.names[i];
            sel->bytes += l.sizes[i];
        } else {
            free(l.names[i]);
        }
    }
    qsort(sel->names, sel->n, sizeof *sel->names, by_name);
    free(keep);
    free(l.names);
    free(l.sizes);
    log_info("input %s: shard %s for rank %d of %d: %zu of %llu files (%llu of %llu bytes)",
             io->name, io->shard == SHARD_BY_BYTES ? "by_bytes" : "by_files", p->rank.rank,
             p->rank.world, sel->n, (unsigned long long)sel->total_files,
             (unsigned long long)sel->bytes, (unsigned long long)sel->total_bytes);
    return 0;
}

int stage_shard_want(void *ud, const char *name, uint64_t size)
{
    (void)size;
    const shard_sel_t *sel = ud;
    return bsearch(&name, sel->names, sel->n, sizeof *sel->names, by_name) != NULL;
}

void stage_shard_free(shard_sel_t *sel)
{
    for (size_t i = 0; i < sel->n; i++)
        free(sel->names[i]);
    free(sel->names);
    memset(sel, 0, sizeof *sel);
}
