/* Inside the store folder only: what a backend fills in. Each backend is one
 * row of the table in registry.c (a store_backend_t) and an ops table for
 * the stores it opens; the rest of ferry meets both only through store.h.
 * An optional operation left NULL is simply not offered (FERR_UNSUPPORTED
 * from its wrapper), as with libfuse's operations. */
#ifndef FERRY_STORE_BACKEND_H
#define FERRY_STORE_BACKEND_H

#include "store.h"

struct store_ops {
    /* flags: STORE_LIST_DIRS (only without delim) */
    int (*list)(store_t *s, const char *prefix, const char *delim, unsigned flags, store_list_fn fn,
                void *ud, ferr_t *err);
    int (*stat)(store_t *s, const char *name, store_entry_t *e, ferr_t *err);
    /* r->md5 and r->keep only where caps has STORE_CAP_RANGED_READS */
    int (*read)(store_t *s, const store_read_t *r, ferr_t *err);
    int (*digests)(store_t *s, const char *name, const char *etag, uint64_t size,
                   store_digest_t **out, uint32_t *n, ferr_t *err);
    int (*write)(store_t *s, const char *name, int fd, uint64_t size, store_bytes_fn on_bytes,
                 void *ud, store_put_t *put, ferr_t *err);
    int (*remove)(store_t *s, const char *name, ferr_t *err);
    int (*clone)(store_t *s, store_t **out, ferr_t *err);
    int (*upload_begin)(store_t *s, const store_upload_t *u, store_held_fn held, void *ud,
                        ferr_t *err);
    int (*put_block)(store_t *s, const store_upload_t *u, uint32_t index, const char *id,
                     const void *buf, size_t len, const store_block_sums_t *sums, ferr_t *err);
    int (*commit_blocks)(store_t *s, const store_upload_t *u, const store_block_id_t *ids,
                         uint32_t n, const char *md5, store_put_t *put, ferr_t *err);
    int (*mkdir)(store_t *s, const char *name, ferr_t *err);
    /* NULL: any name the rest of ferry allows */
    const char *(*name_problem)(const store_t *s, const char *name);
    int (*check)(store_t *s, int create, ferr_t *err);
    void (*close)(store_t *s);
};

/* Every backend's store begins with this. */
struct store {
    const struct store_ops *ops;
    const store_backend_t *backend;
    const datastore_t *ds;
};

/* One row of the table. */
struct store_backend {
    const char *type;           /* in datastores.json and Azure ML YAML: azure_blob */
    const char *cli_name;       /* on the command line: azure-blob */
    const char *service;        /* Azure's service in host names: blob, file, dfs */
    const char *container_word; /* "container", "file share", ...; NULL: none */
    const char *container_key;  /* its key in Azure ML YAML: container_name, ... */
    unsigned caps;              /* enum store_cap */
    /* `datastore register` options it takes, without "--"; NULL-terminated;
     * and how its help shows them */
    const char *const *options;
    const char *usage;
    /* Fills ds from `datastore register` options (get returns NULL for an
     * option not given); the backend's defaults too. */
    int (*from_options)(datastore_t *ds, store_option_fn get, void *ud, ferr_t *err);
    /* Its rules for the fields (the name is checked before). */
    int (*validate)(const datastore_t *ds, ferr_t *err);
    /* Optional: URLs it owns (store_url_parse), and whether two datastores
     * reach the same place (store_same_place). */
    int (*url_parse)(const store_backend_t *self, const char *url, const char *name,
                     datastore_t **adhoc, char **path, const char **why);
    int (*same_place)(const datastore_t *a, const datastore_t *b);
    const char *url_forms;
    /* NULL: can be registered, cannot move data yet */
    int (*open)(store_t **out, const datastore_t *ds, ferr_t *err);
};

extern const store_backend_t store_backend_local;
extern const store_backend_t store_backend_azure_blob;
extern const store_backend_t store_backend_azure_file;
extern const store_backend_t store_backend_adls_gen2;
extern const store_backend_t store_backend_https;

/* Shared by backends: the fields every Azure storage datastore has. */
int azure_from_options(datastore_t *ds, store_option_fn get, void *ud, ferr_t *err);
int azure_validate(const datastore_t *ds, ferr_t *err);

#endif
