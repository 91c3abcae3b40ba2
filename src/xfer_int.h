/* Inside the transfer engine (xfer.c): the file and task records its
 * workers share, and the pieces the download (xfer_down.c) and upload
 * (xfer_up.c) sides and the per-block work (xfer_blocks.c) call. */
#ifndef FERRY_XFER_INT_H
#define FERRY_XFER_INT_H

#include <openssl/evp.h>
#include <pthread.h>
#include <sys/stat.h>

#include "cache.h"
#include "md5two.h"
#include "progress.h"
#include "store.h"
#include "xfer.h"

typedef struct xf_file xf_file_t;
/* The store's view of a file going up in blocks */
store_upload_t xf_upload_of(const xf_file_t *f);

struct xf_file {
    size_t item; /* index in res->items */
    int upload;
    char *name;  /* in the store */
    char *local; /* final local path */
    char *tmp;   /* downloads: the temporary name */
    uint64_t size, block;
    char *want_md5; /* downloads: the blob's MD5 from the listing; uploads: the
                     * target's, when the file is sent only if it differs */
    /* downloads, how the bytes are checked: each block against the digest
     * the store keeps for it (digests, one per block: a chunk spans one or
     * more of them, f->block / digests[0].len), or the whole file's
     * MD5 taken in order from the blocks in memory (in_order) */
    store_digest_t *digests;
    int in_order, bad;
    int range_md5; /* ... or each range against the MD5 the service gives for it */
    int dfd;       /* fd's file opened O_DIRECT (blocks not kept in memory), -1 none,
                    * XF_DFD_UNOPENED until its first block asks */
    int unchanged; /* uploads: found the same as the target's: nothing is sent */
    char *etag;
    int fd;
    uint32_t nchunks, finished, hashed;
    int inflight;  /* blocks being moved now (under the engine's lock) */
    uint8_t *done; /* per block: 1 moved, 2 failed */
    int failed, saving, finalized;
    /* downloads into a partial file (partial.h): blocks on disk in one run
     * from the start, how many of them are recorded, and when */
    int resumable;
    uint32_t contig, saved;
    double saved_at;
    uint64_t resumed; /* bytes taken over from an earlier attempt */
    /* uploads in blocks: each block's id, and the ids the store already
     * holds for the name (sorted), so those blocks are not sent again */
    store_block_id_t *ids;
    char **held;
    size_t nheld, held_cap;
    size_t foreign_len; /* ids of blocks another tool staged for the name */
    uint8_t *held_at;   /* or, from a store that keeps no ids, by index */
    char stamp[64];     /* the local file's, as the upload began (path_stamp) */
    char *error;
    md5_t md5; /* of the whole file, taken in order (uploads, in_order downloads) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    cache_obj_t obj; /* downloads through the cache: local is the object */
    char *place;     /* ... and this is where it goes once whole */
};

typedef struct xf_task {
    struct xf_task *next;
    xf_file_t *f;
    uint32_t chunk;
} xf_task_t;

/* A block's buffer. The engine keeps the spare ones: a worker takes one for
 * a block and gives it back after, so a run holds as many as blocks move at
 * once (PER_FILE_MAX for one large file), not one per worker. */
typedef struct xbuf {
    char *p;
    size_t n;
} xbuf_t;

typedef struct engine {
    pthread_mutex_t mu;
    pthread_cond_t work, space;
    xf_task_t *head, *tail;
    size_t queued;
    int pushers_waiting; /* producers waiting for the queue to drain */
    int closing;
    store_t *main;
    int nthreads;
    pthread_t th[XFER_MAX_CONCURRENCY];
    store_t *handles[XFER_MAX_CONCURRENCY];
    const xfer_opts_t *o;
    xfer_result_t *res;
    progress_t *pg;
    uint64_t files_total, bytes_total;
    size_t next_handle;
    /* block buffers not in use (under mu): one a worker at most, or the producer's */
    xbuf_t spare[XFER_MAX_CONCURRENCY + 1];
    int nspare;
    int nbufs;         /* block buffers made in this run (each kept for reuse) */
    size_t bufs_bytes; /* ... and their bytes */
} engine_t;

#define QUEUE_MAX 1024
/* Blocks of one file in flight at once: more only contend for the file's
 * inode lock and the server; the other workers take other files. */
#define PER_FILE_MAX 4
/* How often a partial download records its progress (partial.h): a
 * fdatasync each time, so not for every block. */
#define SAVE_EVERY 1.0

/* the engine (xfer.c) */
xfer_item_t *xf_add_item(xfer_result_t *r, const char *local, const char *remote, uint64_t size);
void xf_on_bytes(void *ud, uint64_t n);
void xf_account_locked(engine_t *e, size_t idx, int ok, const char *error);
void xf_account_skip_locked(engine_t *e, size_t idx, int unchanged);
void xf_account(engine_t *e, size_t idx, int ok, const char *error);
void xf_set_item_meta(engine_t *e, size_t idx, const char *etag, const char *md5);
void xf_file_free(xf_file_t *f);
/* A block of f is off the wire: its place in flight is free for the next
 * (and buf, when given, back among the engine's spares). */
void xf_chunk_out(engine_t *e, xf_file_t *f, xbuf_t *buf);
void engine_start(engine_t *e, store_t *s, const xfer_opts_t *o, xfer_result_t *res,
                  const char *label);
void engine_push(engine_t *e, xf_file_t *f);
void engine_finish(engine_t *e);
size_t engine_item(engine_t *e, const char *local, const char *remote, uint64_t size,
                   const char *etag, const char *md5);
xf_file_t *xf_file_new(size_t idx, int upload, const char *name, const char *local, uint64_t size,
                       int chunked);

/* one file's blocks and records (xfer_blocks.c) */
void xf_xattr_record(const char *path, const char *etag, const char *md5);
int xf_xattr_get(const char *path, const struct stat *st, int which, char *out, size_t n);
char *xf_file_md5_b64(const char *path);
void xf_run_download(engine_t *e, store_t *s, xf_file_t *f, uint32_t chunk, char *buf);
/* A chunked download's checks: per block when the store keeps digests the
 * file's blocks can follow (0: taken, f's geometry set), else none taken. */
int xf_use_digests(xf_file_t *f, store_digest_t *d, uint32_t n);
/* Chunk of f fetched and checked as f's checks say (*bad: its bytes are
 * wrong in the store too, and not worth keeping) */
int xf_fetch_checked(engine_t *e, store_t *s, xf_file_t *f, uint32_t chunk, char *buf, int *bad,
                     ferr_t *err);
#define XF_DFD_UNOPENED (-2)
/* f in blocks of b bytes instead (0; -1 when that would be too many) */
int xf_reblock(xf_file_t *f, uint64_t b);
/* Blocks an earlier attempt left (have of them) are checked and hashed
 * from disk, once; returns how many of them can stay. */
uint32_t xf_resumed_blocks(xf_file_t *f, uint32_t have);
void xf_run_upload(engine_t *e, store_t *s, xf_file_t *f, uint32_t chunk, xbuf_t *xb);

/* downloads (xfer_down.c) */
int xf_finish(xfer_result_t *res, double t0, const char *verb, ferr_t *err);

#endif
