/* A datastore: a name, the backend that reaches it (src/store/) and the
 * fields backends read: a local root, or an account, container, endpoint
 * and credential reference. A secret is never held here, only where it is
 * read from (an environment variable, a file, the workspace's store). */
#ifndef FERRY_DATASTORE_H
#define FERRY_DATASTORE_H

#include "error.h"

/* CRED_CLIENT_CERT: a PEM file with a service principal's certificate and
 * key; CRED_IDENTITY: no secret, the environment's Entra ID identity. */
typedef enum {
    CRED_NONE,
    CRED_ACCOUNT_KEY,
    CRED_SAS_TOKEN,
    CRED_CLIENT_SECRET,
    CRED_CLIENT_CERT,
    CRED_IDENTITY
} cred_kind_t;
typedef enum { CRED_FROM_ENV, CRED_FROM_FILE, CRED_STORED } cred_source_t;

struct store_backend;

typedef struct datastore {
    char *name;
    const struct store_backend *backend;
    char *description;
    char *root;        /* local: absolute folder */
    char *account;     /* azure: storage account */
    char *container;   /* blob container, file share or ADLS filesystem */
    char *endpoint;    /* e.g. core.windows.net */
    char *account_url; /* overrides account+endpoint (emulators, private endpoints) */
    char *protocol;    /* https or http */
    char *ca_file;
    char *tenant_id, *client_id;
    cred_kind_t cred_kind;
    cred_source_t cred_source;
    char *cred_ref;            /* env var name or file path */
    const char *inline_secret; /* transient, never saved: a secret not yet stored */
    int by_form;               /* made from a URL whose form alone said which service (an
                                * emulator's path-style URL): a registered datastore must
                                * confirm it, else it is a plain https file */
} datastore_t;

/* Azure ML's limit on a datastore name's length */
#define DATASTORE_NAME_MAX 255

datastore_t *datastore_new(const char *name, const struct store_backend *backend);
void datastore_free(datastore_t *ds);
/* azure_blob, local, ...: the backend's name */
const char *datastore_type_name(const datastore_t *ds);
const char *cred_kind_name(cred_kind_t k);
/* 0 when kind is a credential kind's name (account_key, ...) */
int cred_kind_parse(const char *s, cred_kind_t *out);
const char *cred_source_name(cred_source_t s);
int cred_source_parse(const char *s, cred_source_t *out);
int datastore_name_ok(const char *name);
/* Is name a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)? */
int datastore_env_name_ok(const char *name);
/* The name, then the backend's rules; the message says what is expected. */
int datastore_validate(const datastore_t *ds, ferr_t *err);
/* Reads the secret now (env or file); *out NULL when the datastore has none. */
int datastore_secret(const datastore_t *ds, char **out, ferr_t *err);

#endif
