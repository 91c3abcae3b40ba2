/* The node-local cache of job inputs: a blob already fetched with the same
 * ETag is linked (or copied) from the cache instead of downloaded again.
 * Several ferry processes on one node (one per GPU rank, say) fetch each
 * blob once: a lock file per object serialises them, and an object only
 * appears under its name when whole. Least recently used objects go when
 * the cache outgrows its limit. */
#ifndef FERRY_CACHE_H
#define FERRY_CACHE_H

#include <stdint.h>

#include "error.h"

typedef struct cache cache_t;

int cache_open(cache_t **out, const char *dir, uint64_t limit, ferr_t *err);
void cache_close(cache_t *c);
const char *cache_dir(const cache_t *c);
/* Its size limit, bytes */
uint64_t cache_limit(const cache_t *c);

/* The object for (store identity, name, etag): its path, and a lock held
 * until cache_release. *valid says whether it is there, whole and unchanged. */
typedef struct cache_obj {
    char *path;
    int lock_fd;
    int valid;
} cache_obj_t;

int cache_acquire(cache_t *c, const char *store_id, const char *name, const char *etag,
                  cache_obj_t *out, ferr_t *err);
/* The same without waiting: FERR_EXISTS when another holds the object (is
 * filling it). For callers that hold locks of their own (a mount's). */
int cache_try_acquire(cache_t *c, const char *store_id, const char *name, const char *etag,
                      cache_obj_t *out, ferr_t *err);
/* Marks a freshly written object as whole (records its stamp). */
void cache_commit(cache_obj_t *o);
void cache_release(cache_obj_t *o);
/* Puts the object at dest (a hard link when it can, else a copy), through a
 * temporary name. */
int cache_place(const cache_obj_t *o, const char *dest, ferr_t *err);
/* Evicts least recently used objects until the cache is within its limit;
 * objects in use by any process are kept. Returns bytes freed. */
uint64_t cache_trim(cache_t *c);
/* "10G", "500M", "1024": bytes; -1 on error. */
int cache_parse_size(const char *s, uint64_t *out);

#endif
