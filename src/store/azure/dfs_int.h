/* Inside the ADLS Gen2 backend (dfs.c, dfs_list.c). */
#ifndef FERRY_STORE_AZURE_DFS_INT_H
#define FERRY_STORE_AZURE_DFS_INT_H

#include <pthread.h>

#include "store/azure/rest.h"
#include "store/backend.h"

/* The REST API version ferry speaks to the dfs endpoint */
#define DFS_API_VERSION "2023-11-03"

/* An upload in blocks under way in this process: which blocks are in, and
 * how much of its start is flushed (committed), so that a later try
 * resumes from there. */
typedef struct dfs_upload {
    char *tmp;
    uint64_t size, block, flushed;
    uint32_t n;
    uint8_t *done;
    int flushing;
} dfs_upload_t;

/* What a store and its clones share. */
typedef struct dfs_shared {
    pthread_mutex_t mu;
    int refs;
    dfs_upload_t *ups;
    size_t nups, cap;
} dfs_shared_t;

typedef struct dfs_store {
    store_t base;
    az_conn_t c;
    dfs_shared_t *sh;
} dfs_store_t;

/* List Paths, recursive, continued page by page (dfs_list.c). */
int dfs_list(store_t *s, const char *prefix, const char *delim, unsigned flags, store_list_fn fn,
             void *ud, ferr_t *err);

#endif
