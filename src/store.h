/* Storage, as the rest of ferry sees it: an opaque store_t opened on a
 * datastore, the operations every backend offers (list, stat, read a range,
 * write a whole file, remove) and those some do (blocks, clones, access
 * checks), and the table of backends (src/store/registry.c) that says
 * which exist, what they are called, which URLs they own and what they can
 * do. Nothing outside src/store/ asks which backend it has: it asks what
 * the store can do (store_caps).
 * Names are '/'-separated, relative to the datastore's root, never starting
 * with '/'. */
#ifndef FERRY_STORE_H
#define FERRY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "datastore.h"
#include "digest.h"
#include "error.h"

typedef struct store_entry {
    const char *name;
    uint64_t size;
    int64_t mtime;    /* seconds since the epoch, 0 if unknown */
    const char *etag; /* NULL if the backend has none */
    const char *md5;  /* base64 Content-MD5, NULL if none */
    int is_prefix;    /* with a delimiter: a "folder" (name ends with it) */
    int is_dir;       /* STORE_LIST_DIRS: an empty folder (name ends with '/') */
} store_entry_t;

/* One file going up in blocks (STORE_CAP_PARALLEL_BLOCKS). */
typedef struct store_upload {
    const char *name;  /* in the store */
    uint64_t size;     /* the whole file's */
    uint64_t block;    /* every block's size but the last's */
    const char *stamp; /* the local file as it is (size, times, inode): what an
                        * earlier try with the same stamp left holds the same bytes */
} store_upload_t;

/* What a write stored: the object's new ETag and MD5 (empty if none). */
typedef struct store_put {
    char etag[128];
    char md5[64];
} store_put_t;

/* Return non-zero to stop the listing (that value is returned by list). */
typedef int (*store_list_fn)(void *ud, const store_entry_t *e);
/* Called as bytes move, for progress. */
typedef void (*store_bytes_fn)(void *ud, uint64_t n);
typedef int (*store_block_fn)(void *ud, const char *id, size_t len, int committed);
/* A block the store holds already for an upload: by its id (index -1), or,
 * for a store that keeps no ids, by its index alone (id NULL). */
typedef int (*store_held_fn)(void *ud, long index, const char *id, size_t len, int committed);

typedef struct store store_t;

/* What a store can do; the engine asks these, never the backend's name. */
enum store_cap {
    STORE_CAP_REMOTE = 1u << 0,          /* across a network: worth caching, many in flight */
    STORE_CAP_PARALLEL_BLOCKS = 1u << 1, /* put_block/commit_blocks; ranged reads in parallel */
    STORE_CAP_BLOCK_LIST = 1u << 2,      /* upload_begin: blocks left staged are reused */
    STORE_CAP_CLONE = 1u << 3,           /* clone(): one handle (connection) per worker */
    STORE_CAP_CHECK = 1u << 4,           /* check(): access can be tested at registration */
    STORE_CAP_HNS = 1u << 5,             /* a hierarchical namespace: real folders */
    STORE_CAP_MD5 = 1u << 6,             /* the server keeps each object's MD5 */
    STORE_CAP_CREDENTIAL = 1u << 7,      /* it takes a credential (key, SAS, ...) */
    STORE_CAP_FOLD_CASE = 1u << 8,       /* names differing only in case are one */
    STORE_CAP_OPEN_SIZE = 1u << 9,       /* blocks go up before the object's size is known */
    STORE_CAP_RANGED_READS = 1u << 10,   /* a large file is read in ranges, in parallel */
    STORE_CAP_LIST = 1u << 11,           /* it can be listed (a folder of it named) */
    STORE_CAP_RANGE_MD5 = 1u << 12,      /* a range read can come with the service's MD5 of it */
};

/* A block's id comes from where it is and what it holds ("ferry-<index>-<CRC64
 * in hex>", Azure's CRC64, see digest.h, which Put Block also sends for the
 * service to check): the same bytes in the same place get the same id, so
 * blocks an earlier, interrupted upload staged, or those the blob is already
 * made of, are used again instead of sent again; and a download checks each
 * block by the CRC64 in its id, at ten times MD5's speed. Every id has this
 * length. (Earlier ferry wrote "ferry-<index>-<MD5 in hex>",
 * STORE_BLOCK_ID_LEN_MD5 long: still read.) */
#define STORE_BLOCK_ID_LEN 28
#define STORE_BLOCK_ID_LEN_MD5 44
/* Azure's limit, and room for the ids used beside another tool's blocks */
#define STORE_BLOCK_ID_MAX 64
typedef char store_block_id_t[STORE_BLOCK_ID_MAX + 1];
/* The id of block index, whose CRC64 is crc */
void store_block_id(store_block_id_t out, uint32_t index, const digest_t crc);

/* What a block goes with: its CRC64 (which names it), and its MD5 where the
 * caller took it on the way (the engine does, in the pass that feeds the
 * whole file's MD5); without it, a store that sends the MD5 takes it. */
typedef struct store_block_sums {
    digest_t crc64;
    digest_t md5;
    int has_md5;
} store_block_sums_t;

/* --- checking what is read: azcopy's --check-md5 policy, process-wide --- */

typedef enum {
    CHECK_FAIL_IF_DIFFERENT,            /* the default: a file whose MD5 differs is not kept */
    CHECK_FAIL_IF_DIFFERENT_OR_MISSING, /* ... and one the store keeps no MD5 for is refused */
    CHECK_LOG_ONLY,                     /* a difference is a warning; the file is kept */
    CHECK_NONE,                         /* not hashed at all */
} check_md5_t;
void store_set_check_md5(check_md5_t c);
check_md5_t store_check_md5(void);
const char *store_check_md5_name(check_md5_t c);
/* 0 when s names a policy (azcopy's names, any case) */
int store_check_md5_parse(const char *s, check_md5_t *out);
/* What a backend does with a whole object's MD5 that differs (want: the
 * store's, got: the bytes'; want NULL or "": none kept): 0 to keep the file,
 * or -1 with err set. */
int store_md5_verdict(const char *name, const char *noun, const char *want, const char *got,
                      ferr_t *err);
/* The same, for another digest than MD5 (digest: its name) */
int store_digest_verdict(const char *name, const char *noun, const char *digest, const char *want,
                         const char *got, ferr_t *err);

/* --- opening --- */

/* Opens the backend of ds; FERR_UNSUPPORTED for a backend that cannot move
 * data yet. ds must outlive the store. */
int store_open(store_t **out, const datastore_t *ds, ferr_t *err);
/* A local folder as a store (outputs hashed for the manifest, and such). */
int store_open_folder(store_t **out, const char *label, const char *dir, ferr_t *err);
/* A second handle on the same store with its own connection; without
 * STORE_CAP_CLONE, FERR_UNSUPPORTED. */
int store_clone(store_t *s, store_t **out, ferr_t *err);
void store_close(store_t *s);

unsigned store_caps(const store_t *s);
const datastore_t *store_datastore(const store_t *s);

/* --- operations: each error names the datastore; an optional operation the
 * backend lacks answers FERR_UNSUPPORTED --- */

/* Every file whose name starts with prefix (a string prefix, as in Azure),
 * in byte order. With delim ("/"), names are cut after the first delim past
 * the prefix and given once, as is_prefix entries. */
int store_list(store_t *s, const char *prefix, const char *delim, store_list_fn fn, void *ud,
               ferr_t *err);
/* store_list without a delimiter; with STORE_LIST_DIRS, a store with real
 * folders (STORE_CAP_HNS) also gives each empty folder under prefix, as an
 * is_dir entry ("a/empty/"), so that a download carries it. */
enum { STORE_LIST_DIRS = 1 };
int store_walk(store_t *s, const char *prefix, unsigned flags, store_list_fn fn, void *ud,
               ferr_t *err);
/* STORE_CAP_HNS: makes the folder name (and those above it); one that
 * exists is not an error. */
int store_mkdir(store_t *s, const char *name, ferr_t *err);
/* Can name be a name in this store? NULL, or why not (static text). */
const char *store_name_problem(const store_t *s, const char *name);
/* FERR_NOTFOUND when absent. e->name points into s until the next call. */
int store_stat(store_t *s, const char *name, store_entry_t *e, ferr_t *err);
/* One read: [off, off+len) of name into fd at fd_off. With etag, only from
 * that version: a file read in several ranges is never a mix of two. */
typedef struct store_read {
    const char *name, *etag;
    uint64_t off, len;
    int fd;
    uint64_t fd_off;
    store_bytes_fn on_bytes;
    void *ud;
    /* Only from stores with STORE_CAP_RANGED_READS: md5 gets the MD5 of the
     * bytes read, taken from memory as they arrive; with keep (len bytes),
     * the bytes are also left there (written to fd from there). */
    unsigned char *md5;
    char *keep;
    /* ... or, instead of md5, segs gets the digest (seg_kind) of every seg
     * bytes of the range (the last may be shorter): ceil(len / seg) of them */
    digest_t *segs;
    uint64_t seg;
    digest_kind_t seg_kind;
    /* Only from stores with STORE_CAP_RANGE_MD5, with md5, len at most
     * STORE_RANGE_MD5_MAX: the service is asked for the MD5 of the range as
     * it holds it, given here (md5 gets the bytes' own, to compare);
     * FERR_UNSUPPORTED when it gives none. */
    unsigned char *range_md5;
    /* With direct: direct_fd is fd's file opened O_DIRECT; whole pages may
     * be written through it, bypassing the page cache */
    int direct, direct_fd;
} store_read_t;
/* Azure's limit on a range whose MD5 is asked for */
#define STORE_RANGE_MD5_MAX (4u << 20)
int store_read_ex(store_t *s, const store_read_t *r, ferr_t *err);
/* The common case: no digest, nothing kept. */
int store_read(store_t *s, const char *name, const char *etag, uint64_t off, uint64_t len, int fd,
               uint64_t fd_off, store_bytes_fn on_bytes, void *ud, ferr_t *err);
/* A part of an object and the digest of its bytes, as the store keeps it. */
typedef struct store_digest {
    uint64_t len;
    digest_kind_t kind;
    digest_t sum;
} store_digest_t;
/* The digest of each part of version etag of name (size bytes), where the
 * store keeps one per part that the uploader computed (Azure Blob: the ids
 * ferry gives the blocks it uploads): *out, malloc'd, the parts in order,
 * covering the object. 0 with *n = 0 when it keeps none, or none it can
 * vouch for; the caller then checks the whole object, if anything. */
int store_digests(store_t *s, const char *name, const char *etag, uint64_t size,
                  store_digest_t **out, uint32_t *n, ferr_t *err);
/* Creates or replaces name with the first size bytes of fd; a reader never
 * sees a partial object under name. */
int store_write(store_t *s, const char *name, int fd, uint64_t size, store_bytes_fn on_bytes,
                void *ud, store_put_t *put, ferr_t *err);
/* Removes name; a missing name is not an error. */
int store_remove(store_t *s, const char *name, ferr_t *err);
/* STORE_CAP_PARALLEL_BLOCKS: an upload in blocks. begin prepares it and
 * tells held which blocks the store holds already (an interrupted upload's,
 * or the object's own), which need not be sent again; then each block is
 * put (with its digests), in any order and in parallel, each under
 * its id; commit makes the n blocks, in order, the object's content, with
 * the whole file's MD5 (base64). Until the commit, readers see the old
 * object or none. */
int store_upload_begin(store_t *s, const store_upload_t *u, store_held_fn held, void *ud,
                       ferr_t *err);
int store_put_block(store_t *s, const store_upload_t *u, uint32_t index, const char *id,
                    const void *buf, size_t len, const store_block_sums_t *sums, ferr_t *err);
int store_commit_blocks(store_t *s, const store_upload_t *u, const store_block_id_t *ids,
                        uint32_t n, const char *md5, store_put_t *put, ferr_t *err);
/* STORE_CAP_CHECK: reaches the store with its credential, creating the
 * container first when create is set. */
int store_check(store_t *s, int create, ferr_t *err);

/* --- the table of backends --- */

typedef struct store_backend store_backend_t;

size_t store_backend_count(void);
const store_backend_t *store_backend_at(size_t i);
/* By its registry / Azure ML YAML name (azure_blob) or its CLI name
 * (azure-blob); NULL if none. */
const store_backend_t *store_backend_find(const char *name);
/* The backend of plain local folders: the workspace's default datastore,
 * local paths in job files. */
const store_backend_t *store_backend_folder(void);
const char *store_backend_type(const store_backend_t *b);     /* azure_blob */
const char *store_backend_cli_name(const store_backend_t *b); /* azure-blob */
unsigned store_backend_caps(const store_backend_t *b);
/* The datastore's container, by the backend's own word ("container", "file
 * share", "filesystem") and the key it has in Azure ML YAML; NULL for a
 * backend without one. */
const char *store_backend_container_word(const store_backend_t *b);
const char *store_backend_container_key(const store_backend_t *b);
/* Does this backend take the `datastore register` option (without "--")? */
int store_backend_takes(const store_backend_t *b, const char *option);
/* The table's own spelling of option when some backend takes it (all take a
 * value), else NULL: the command line accepts what any backend takes. */
const char *store_backend_option(const char *option);
/* Its register options as a usage line: "--account A --container C" */
const char *store_backend_usage(const store_backend_t *b);
/* The register options it takes, for messages: "--account, --container, ..." */
const char *store_backend_options(const store_backend_t *b);
/* `datastore register` options, as get(ud, "account") gives them (NULL: not
 * given; a flag given: non-NULL). from_options fills ds (its backend is b)
 * with them and the backend's defaults; misused names the first option that
 * another backend takes and b does not, or NULL. */
typedef const char *(*store_option_fn)(void *ud, const char *name);
int store_backend_from_options(const store_backend_t *b, datastore_t *ds, store_option_fn get,
                               void *ud, ferr_t *err);
const char *store_backend_misused(const store_backend_t *b, store_option_fn get, void *ud);
/* Where a datastore's data is, for listings: a folder or a URL; malloc'd. */
char *store_location(const datastore_t *ds);
/* Can it move data, or only be registered (for a later version)? */
int store_backend_can_open(const store_backend_t *b);
/* "local, azure_blob, azure_file, azure_data_lake_gen2" (static) */
const char *store_backend_names(int cli);

/* The backend's rules for a datastore's fields; the message says what is
 * expected. */
int store_validate(const datastore_t *ds, ferr_t *err);
/* Where a store's data lives, as a key for the node cache; malloc'd. */
char *store_identity(const datastore_t *ds);

/* A URL in a job file that names data on some backend's service (https://
 * blob URLs, wasbs://, an emulator's path-style URL): 0 with *adhoc a new
 * datastore (named name) that reaches it without a credential and *path
 * the path within it (malloc'd, percent-decoded). -1 with *why when a
 * backend owns the URL's form but the URL is wrong; -2 when no backend
 * knows the form. */
int store_url_parse(const char *url, const char *name, datastore_t **adhoc, char **path,
                    const char **why);
/* Do a and b (a registered datastore, an ad-hoc one) reach the same place,
 * so that a's credential serves b's URL? */
int store_same_place(const datastore_t *a, const datastore_t *b);
/* url as a plain web file (read-only, not listed): for an https URL taken
 * by its form alone (ad hoc by_form) that no registered datastore claims. */
int store_url_parse_plain(const char *url, const char *name, datastore_t **adhoc, char **path,
                          const char **why);
/* "https://<account>.blob.<suffix>/<container>/<path>, wasbs://..." */
const char *store_url_forms(void);

#endif
