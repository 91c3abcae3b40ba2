#define _GNU_SOURCE
#include "datastore.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "store.h"
#include "xalloc.h"

static const char *const cred_names[] = {"none",          "account_key",        "sas_token",
                                         "client_secret", "client_certificate", "identity"};
static const char *const source_names[] = {"env", "file", "stored"};

datastore_t *datastore_new(const char *name, const struct store_backend *backend)
{
    datastore_t *ds = xcalloc(1, sizeof *ds);
    ds->name = xstrdup(name);
    ds->backend = backend;
    return ds;
}

void datastore_free(datastore_t *ds)
{
    if (!ds)
        return;
    free(ds->name);
    free(ds->description);
    free(ds->root);
    free(ds->account);
    free(ds->container);
    free(ds->endpoint);
    free(ds->account_url);
    free(ds->protocol);
    free(ds->ca_file);
    free(ds->tenant_id);
    free(ds->client_id);
    free(ds->cred_ref);
    free(ds);
}

const char *datastore_type_name(const datastore_t *ds)
{
    return store_backend_type(ds->backend);
}

const char *cred_kind_name(cred_kind_t k)
{
    return cred_names[k];
}

const char *cred_source_name(cred_source_t s)
{
    return source_names[s];
}

static int lookup(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(names[i], s))
            return (int)i;
    return -1;
}

int cred_kind_parse(const char *s, cred_kind_t *out)
{
    int i = lookup(cred_names, sizeof cred_names / sizeof *cred_names, s);
    if (i < 0)
        return -1;
    *out = (cred_kind_t)i;
    return 0;
}

int cred_source_parse(const char *s, cred_source_t *out)
{
    int i = lookup(source_names, sizeof source_names / sizeof *source_names, s);
    if (i < 0)
        return -1;
    *out = (cred_source_t)i;
    return 0;
}

int datastore_name_ok(const char *name)
{
    if (!name || !*name || strlen(name) > DATASTORE_NAME_MAX)
        return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return 0;
    return 1;
}

int datastore_validate(const datastore_t *ds, ferr_t *err)
{
    if (ds->name && strlen(ds->name) > DATASTORE_NAME_MAX)
        return ferr_set(err, FERR_USAGE,
                        "datastore name is %zu characters long; the limit is %d (as Azure ML's)",
                        strlen(ds->name), DATASTORE_NAME_MAX);
    if (!datastore_name_ok(ds->name))
        return ferr_set(err, FERR_USAGE,
                        "datastore name '%s': use letters, digits and '_' only (as Azure ML does)",
                        ds->name ? ds->name : "");
    return store_validate(ds, err);
}
