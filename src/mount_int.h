/* Inside the mounts (mount.c: the tree, FUSE and the life cycle;
 * mount_blocks.c: fetching blocks). */
#ifndef FERRY_MOUNT_INT_H
#define FERRY_MOUNT_INT_H

#define FUSE_USE_VERSION 312
#include <fuse.h>
#include <pthread.h>
#include <stdint.h>

#include "mount.h"
#include "store.h"

/* Blocks are fetched in this size, aligned: 8 MiB, as ferry uploads them (a
 * range the size of the blob's own blocks costs the service least; Azurite
 * spent twice the CPU per byte on 4 MiB ranges). FERRY_MOUNT_BLOCK_MIB (1 to
 * 64) changes it, for tests of the disk bound with small files. */
uint64_t mount_block_size(void);
#define MOUNT_BLOCK mount_block_size()

enum { B_ABSENT, B_FETCHING, B_HERE, B_FAILED };

/* A file's blocks on local disk: a sparse file, and which blocks are in it. */
typedef struct mfile {
    int fd;
    uint32_t nblocks;
    uint8_t *state;
    uint64_t next;    /* where a sequential reader would read next */
    int changed;      /* the datastore's file is no longer the listed version */
    uint32_t here;    /* blocks here */
    int cached;       /* the node cache's object (whole), or given to it */
    int linking;      /* being given to it now: its fd must stay open */
    uint8_t *pins;    /* per block: reads copying from it now (it stays) */
    uint32_t readers; /* reads copying from the file now: its fd stays open */
    uint64_t used;    /* when it was last read (a tick of the mount's) */
    uint64_t held;    /* bytes of its blocks on disk, not the cache's */
} mfile_t;

typedef struct node {
    char *name; /* the last component; "" for the root */
    uint32_t parent;
    int dir;
    uint64_t size;
    int64_t mtime;
    char *remote, *etag; /* files */
    uint32_t *kids;      /* folders: children, sorted by name once built */
    uint32_t nkids, capkids;
    mfile_t *f; /* files: made at the first read */
} node_t;

typedef struct job {
    uint32_t node, block;
} job_t;

struct mount {
    char *dir, *label, *blocks_dir;
    struct cache *cache; /* the node cache, or NULL */
    char *store_id;      /* the datastore's identity in it */
    const datastore_t *ds;
    node_t *nodes;
    uint32_t n, cap;
    uint64_t files, bytes;
    /* fetching: one lock for the blocks' states, workers with a store each */
    pthread_mutex_t mu;
    pthread_cond_t work, landed;
    job_t *queue; /* a ring: demand at the front, read-ahead at the back */
    size_t qhead, qlen, qcap;
    pthread_t *workers;
    store_t **handles;
    int nworkers, stopping;
    uint64_t fetched_bytes, fetched_blocks;
    uint64_t disk_limit, held, tick; /* blocks on disk, bounded by disk_limit */
    uint64_t cached_open;            /* bytes of the node cache's files the mount holds open:
                                      * they count against disk_limit too (an open file's
                                      * blocks stay on disk, whatever the cache drops) */
    uint64_t linked;                 /* bytes given to the cache since it was last trimmed */
    uint64_t peak_held;
    /* FUSE */
    struct fuse *fuse;
    pthread_t loop;
    int looping;
    dev_t dev; /* the mount's device: its connection in fusectl */
};

/* A thread's body: serves the mount's requests until it is unmounted */
void *mount_loop(void *fuse);
/* Ends a FUSE connection by its device (after a lazy unmount) */
void mount_abort_connection(dev_t dev);

/* mount_blocks.c */
int mb_start(mount_t *m, int concurrency, ferr_t *err);
void mb_stop(mount_t *m);
/* Copies [off, off+size) of file node into buf, fetching what is missing;
 * bytes copied, or -errno. */
int mb_read(mount_t *m, uint32_t node, char *buf, size_t size, uint64_t off);

#endif
