/* The transfer engine every backend shares: turns "this prefix into that
 * folder" or "these files to that prefix" into store calls, with skip and
 * overwrite rules, name checks, temporary files and progress. */
#ifndef FERRY_XFER_H
#define FERRY_XFER_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"

typedef struct xfer_opts {
    int overwrite;       /* replace targets that differ; otherwise skip existing ones */
    int follow_symlinks; /* uploads: follow symlinks in the source */
    const char *label;   /* for progress */
    int concurrency;     /* transfers at once; 0: chosen from the store and the machine */
    struct cache *cache; /* downloads from remote stores go through it, when set */
    int quick;           /* uploads: a target of the same size, not older, counts as same */
    /* downloads of a prefix: only the files this says yes to (a shard); NULL: all */
    int (*want)(void *ud, const char *name, uint64_t size);
    void *want_ud;
} xfer_opts_t;

/* Large files move in blocks of at least this size, in parallel. */
#define XFER_BLOCK (8u << 20)
/* A file uploaded in more than XFER_BLOCKS_GROW blocks goes in blocks of
 * XFER_BLOCK_LARGE instead: it has more blocks than can be in flight at
 * once anyway (PER_FILE_MAX), so larger ones lose no parallelism and
 * halve the requests (each a round trip and the service's dispatch).
 * Not when $FERRY_BLOCK_MIB chose the size. */
#define XFER_BLOCKS_GROW 64
#define XFER_BLOCK_LARGE (16u << 20)
/* The block size of this run: $FERRY_BLOCK_MIB (1 to 64) MiB, else
 * XFER_BLOCK; *set (if given): 1 when the variable chose it. */
uint64_t xfer_block(int *set);
/* The default number of transfers at once, and the ceiling of --concurrency. */
int xfer_default_concurrency(const store_t *s);
#define XFER_MAX_CONCURRENCY 128

typedef enum { XFER_DONE, XFER_SKIPPED, XFER_FAILED } xfer_status_t;

typedef struct xfer_item {
    char *local;  /* absolute local path */
    char *remote; /* name in the datastore */
    uint64_t size;
    xfer_status_t status;
    char *etag; /* the remote object's, when the backend has them */
    char *md5;  /* base64 */
} xfer_item_t;

typedef struct xfer_result {
    xfer_item_t *items;
    size_t n, cap;
    uint64_t files, bytes, skipped, failed;
    uint64_t unchanged; /* of skipped: identical to the source, known without moving data */
    uint64_t cached;    /* of files: placed from the node-local cache, not downloaded */
    uint64_t resumed;   /* of bytes: already moved by an earlier, interrupted attempt */
    double seconds;
} xfer_result_t;

/* Every file under prefix (a string prefix) into dest/<name without its
 * first strip bytes>. */
int xfer_download_prefix(store_t *s, const char *prefix, size_t strip, const char *dest,
                         const xfer_opts_t *o, xfer_result_t *res, ferr_t *err);
/* One file to dest_file. */
int xfer_download_file(store_t *s, const char *name, const char *dest_file, const xfer_opts_t *o,
                       xfer_result_t *res, ferr_t *err);
/* Every file under src_dir to target/<relative path>. */
int xfer_upload_dir(store_t *s, const char *src_dir, const char *target, const xfer_opts_t *o,
                    xfer_result_t *res, ferr_t *err);
/* Files to target/<basename>, or target/<path relative to relative_root>. */
int xfer_upload_files(store_t *s, char *const *files, size_t n, const char *relative_root,
                      const char *target, const xfer_opts_t *o, xfer_result_t *res, ferr_t *err);

void xfer_result_free(xfer_result_t *r);
/* One more item (copies of local and remote), or NULL when out of memory. */
xfer_item_t *xfer_result_add(xfer_result_t *r, const char *local, const char *remote,
                             uint64_t size);
/* "downloaded 3 files (1.2 MiB), 1 skipped, 0 failed, in 0.01 s (120.0 MiB/s)" */
char *xfer_summary(const char *verb, const xfer_result_t *r);

#endif
