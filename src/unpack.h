/* Archives as a way of staging: an input that is an archive (tar, plain or
 * gz/bz2/xz/zstd, or zip; known from its bytes, not its name) extracted into
 * a folder as it is read from the datastore, safely whatever it holds. */
#ifndef FERRY_UNPACK_H
#define FERRY_UNPACK_H

#include <stdint.h>

#include "error.h"
#include "store.h"
#include "xfer.h"

typedef struct unpack_opts {
    const char *label; /* for log lines */
    uint64_t limit;    /* bytes it may expand to; 0: the free disk there (less 1%) */
    int overwrite;     /* an entry may replace a file already in dest */
} unpack_opts_t;

/* Extracts name (size bytes; only version etag when not NULL) of s into the
 * folder dest. It is extracted into a new folder beside dest and moved into
 * place at the end: a failure (a hostile entry, a read error, the limit)
 * leaves nothing under dest. Refused: an entry that would land outside dest
 * (absolute, '..', through a symlink), a symlink pointing out of it, a hard
 * link to outside. Device nodes and FIFOs are not made (a warning says so);
 * setuid, setgid and sticky bits are dropped. res gets each file extracted
 * (local: its path under dest; remote: "<name>!<entry>"). A zip, which needs
 * random access, is first read whole into a nameless file beside dest. */
int unpack_store_file(store_t *s, const char *name, const char *etag, uint64_t size,
                      const char *dest, const unpack_opts_t *o, xfer_result_t *res, ferr_t *err);

/* The limit from $FERRY_UNPACK_LIMIT ("10G"), or 0. */
uint64_t unpack_limit_from_env(void);

#endif
