/* The one interface every storage backend implements: list, stat, read a
 * range, write a whole file. Names are '/'-separated, relative to the
 * datastore's root, never starting with '/'. */
#ifndef FERRY_STORE_H
#define FERRY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "workspace.h"

typedef struct store_entry {
    const char *name;
    uint64_t size;
    int64_t mtime;    /* seconds since the epoch, 0 if unknown */
    const char *etag; /* NULL if the backend has none */
    const char *md5;  /* base64 Content-MD5, NULL if none */
    int is_prefix;    /* with a delimiter: a "folder" (name ends with it) */
} store_entry_t;

/* What a write stored: the object's new ETag and MD5 (empty if none). */
typedef struct store_put {
    char etag[128];
    char md5[64];
} store_put_t;

/* Return non-zero to stop the listing (that value is returned by list). */
typedef int (*store_list_fn)(void *ud, const store_entry_t *e);
/* Called as bytes move, for progress. */
typedef void (*store_bytes_fn)(void *ud, uint64_t n);

typedef struct store store_t;
typedef int (*store_block_fn)(void *ud, const char *id, size_t len, int committed);

/* A block's id comes from where it is and what it holds ("ferry-<index>-<MD5
 * in hex>"): the same bytes in the same place get the same id, so blocks an
 * earlier, interrupted upload staged, or those the blob is already made of,
 * are used again instead of sent again. Every id has this length. */
#define STORE_BLOCK_ID_LEN 44
/* Azure's limit, and room for the ids used beside another tool's blocks */
#define STORE_BLOCK_ID_MAX 64
typedef char store_block_id_t[STORE_BLOCK_ID_MAX + 1];
void store_block_id(store_block_id_t out, uint32_t index, const unsigned char md5[16]);

struct store_ops {
    const char *name;
    /* Moving a large file as blocks in parallel pays off (remote stores);
     * a local copy is fastest whole. */
    int parallel_blocks;
    /* Every file whose name starts with prefix (a string prefix, as in Azure),
     * in byte order. With delim ("/"), names are cut after the first delim
     * past the prefix and given once, as is_prefix entries. */
    int (*list)(store_t *s, const char *prefix, const char *delim, store_list_fn fn, void *ud,
                ferr_t *err);
    /* FERR_NOTFOUND when absent. e->name points into s until the next call. */
    int (*stat)(store_t *s, const char *name, store_entry_t *e, ferr_t *err);
    /* Copies [off, off+len) of name into fd at fd_off. With etag, only
     * from that version: a file read in several ranges is never a mix of
     * two (an error saying so when the object has changed since). */
    int (*read)(store_t *s, const char *name, const char *etag, uint64_t off, uint64_t len, int fd,
                uint64_t fd_off, store_bytes_fn on_bytes, void *ud, ferr_t *err);
    /* Creates or replaces name with the first size bytes of fd; a reader
     * never sees a partial object under name. */
    int (*write)(store_t *s, const char *name, int fd, uint64_t size, store_bytes_fn on_bytes,
                 void *ud, store_put_t *put, ferr_t *err);
    /* Optional (for parallel work): a second handle on the same store, with
     * its own connection. Without it, the engine works with one handle. */
    int (*clone)(store_t *s, store_t **out, ferr_t *err);
    /* Optional (large uploads in parallel): stage a block of name under id
     * (store_block_id; md5 is the block's, binary), then commit n blocks, in
     * order, as the object's content, with the whole file's MD5 (base64).
     * Until the commit, readers see the old object or none. */
    int (*put_block)(store_t *s, const char *name, const char *id, const void *buf, size_t len,
                     const unsigned char md5[16], ferr_t *err);
    int (*commit_blocks)(store_t *s, const char *name, const store_block_id_t *ids, uint32_t n,
                         const char *md5, store_put_t *put, ferr_t *err);
    /* Optional: the blocks the store holds for name, committed or staged by
     * an earlier attempt: each id (len bytes, NUL-terminated; another tool's
     * may hold any bytes) to fn. None for a missing name. */
    int (*blocks)(store_t *s, const char *name, store_block_fn fn, void *ud, ferr_t *err);
    /* Removes name; a missing name is not an error. */
    int (*remove)(store_t *s, const char *name, ferr_t *err);
    /* Optional: checks that the store can be reached with its credential,
     * creating the container first when create is set. */
    int (*check)(store_t *s, int create, ferr_t *err);
    void (*close)(store_t *s);
};

struct store {
    const struct store_ops *ops;
    const datastore_t *ds;
};

/* Opens the backend for ds; FERR_UNSUPPORTED for types not built yet. */
int store_open(store_t **out, const datastore_t *ds, ferr_t *err);
void store_close(store_t *s);

int store_local_open(store_t **out, const datastore_t *ds, ferr_t *err);
int store_blob_open(store_t **out, const datastore_t *ds, ferr_t *err);
/* One List Blobs page: entries to fn; -1 if it is not a listing. (For tests
 * and fuzzing; blob_list streams pages through the same parser.) */
int blob_listing_parse(const char *xml, size_t n, store_list_fn fn, void *ud, char **next_marker);
/* One Get Block List answer: each block to fn; -1 if it is not XML. (For
 * tests and fuzzing, as above.) */
int blob_blocklist_parse(const char *xml, size_t n, store_block_fn fn, void *ud);

#endif
