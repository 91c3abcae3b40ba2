/* Inside the Azure Files backend (file.c, file_list.c). */
#ifndef FERRY_STORE_AZURE_FILE_INT_H
#define FERRY_STORE_AZURE_FILE_INT_H

#include <pthread.h>

#include "store/azure/rest.h"
#include "store/backend.h"

/* The REST API version ferry speaks to the File service: Rename File needs
 * 2021-04-10; from 2021-06-08 the SMB properties are optional. */
#define FILE_API_VERSION "2023-11-03"
/* The service's largest Put Range */
#define FILE_RANGE_MAX (4u << 20)

/* What a store and its clones share: the folders known to exist, so each
 * is made once however many workers write beside it. */
typedef struct file_shared {
    pthread_mutex_t mu;
    int refs;
    char **dirs; /* an open-addressing set of lowercased names */
    size_t ndirs, cap;
} file_shared_t;

typedef struct file_store {
    store_t base;
    az_conn_t c;
    file_shared_t *sh;
} file_store_t;

/* The walk (file_list.c): the ops' list. */
int file_list(store_t *s, const char *prefix, const char *delim, unsigned flags, store_list_fn fn,
              void *ud, ferr_t *err);
/* The blocks of u that tmp holds whole (List Ranges), to held by index. */
int file_held_ranges(file_store_t *fs, const store_upload_t *u, const char *tmp, store_held_fn held,
                     void *ud, ferr_t *err);
/* "<url of dir>?restype=directory&comp=list&..." for one page; malloc'd */
char *file_list_url(const az_conn_t *c, const char *dir, const char *leaf, const char *marker,
                    long page);

#endif
