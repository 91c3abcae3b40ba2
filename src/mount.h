/* Read-only mounts of a datastore's files (libfuse3): the input's listing
 * is taken once when the mount starts and served from memory; reads are
 * ranged reads pinned to the listed version (a file replaced meanwhile
 * gives EIO and a log line, never a mix of two versions), fetched in
 * blocks into a sparse file on local disk, ahead of a sequential reader.
 * A mount is a consumer of the store interface: any backend can be
 * mounted. */
#ifndef FERRY_MOUNT_H
#define FERRY_MOUNT_H

#include <stdint.h>

#include "datastore.h"
#include "error.h"

typedef struct mount mount_t;

typedef struct mount_opts {
    const char *label;     /* for log lines: the input's name, or the datastore's */
    const char *cache_dir; /* the blocks' files go below it; NULL: a temporary folder */
    struct cache *cache;   /* the node cache: its whole objects are read from, and a file
                            * read whole through the mount becomes one; NULL: none */
    int concurrency;       /* block fetches at once; 0: the default (8) */
    uint64_t disk_limit;   /* bytes of blocks kept on disk at once; 0: no limit */
} mount_opts_t;

/* Can this process mount? 1, or 0 with *why (no /dev/fuse, no permission,
 * FERRY_NO_FUSE set). */
int mount_available(const char **why);

/* Mounts, read-only at dir, the files of ds under prefix (a folder: "" or
 * ending with '/'), or, with prefix naming a file and as_file set, that
 * file alone under its base name. Returns once the mount answers. */
int mount_start(mount_t **out, const datastore_t *ds, const char *prefix, int as_file,
                const char *dir, const mount_opts_t *o, ferr_t *err);
/* Unmounts (lazily if still busy) and frees; what it fetched is reported
 * in *files / *bytes when not NULL. */
void mount_stop(mount_t *m, uint64_t *files, uint64_t *bytes);
/* Files and bytes the mount shows. */
void mount_size(const mount_t *m, uint64_t *files, uint64_t *bytes);

/* rw_mount: dir (an output's folder) becomes a writable mount of itself
 * (mount_rw.c); a file closed after a write goes up to remote/<its path> in
 * ds at once, in the background. After mount_rw_stop the files are in dir,
 * for the final upload. */
typedef struct rw_mount rw_mount_t;
int mount_rw_start(rw_mount_t **out, const datastore_t *ds, const char *remote, const char *dir,
                   const char *label, ferr_t *err);
void mount_rw_stop(rw_mount_t *m);

/* A ferry mount at dir left by a killed run: lazily unmounted. 1 if one was
 * found, 0 if none, -1 if it could not be undone (err says why). */
int mount_clear_stale(const char *dir, ferr_t *err);

#endif
