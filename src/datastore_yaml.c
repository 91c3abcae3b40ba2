/* A datastore from Azure ML's datastore YAML (`ferry datastore create
 * --file`), plus `type: local` with a root. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "datastore.h"
#include "doc.h"
#include "path.h"
#include "store.h"
#include "workspace.h"
#include "xalloc.h"

static int opt_str(const doc_t *d, const doc_node_t *m, const char *key, char **out, ferr_t *err)
{
    doc_node_t *v = doc_get(m, key);
    if (!v || doc_is_null(v))
        return 0;
    if (v->kind != DOC_SCALAR)
        return doc_error(err, d, v, key, "expected a string, got %s", doc_kind_name(v));
    *out = xstrdup(v->str);
    return 0;
}

/* The keys a datastore file may have, and its name and type. */
static int ds_header(const doc_t *d, const doc_node_t *r, const char **name,
                     const store_backend_t **b, ferr_t *err)
{
    static const char *known[] = {"$schema",
                                  "name",
                                  "type",
                                  "description",
                                  "tags",
                                  "properties",
                                  "account_name",
                                  "container_name",
                                  "file_share_name",
                                  "filesystem",
                                  "endpoint",
                                  "protocol",
                                  "credentials",
                                  "root",
                                  "account_url",
                                  "ca_file",
                                  NULL};
    for (size_t i = 0; i < r->n; i++) {
        const char **k = known;
        while (*k && strcmp(*k, r->pairs[i].key->str))
            k++;
        if (!*k)
            return doc_error(err, d, r->pairs[i].key, r->pairs[i].key->str,
                             "unknown key for a datastore (expected name, type, account_name, "
                             "container_name, file_share_name, filesystem, endpoint, protocol, "
                             "credentials, root, account_url)");
    }
    doc_node_t *n = doc_get(r, "name"), *type = doc_get(r, "type");
    if (!n || !doc_is_string(n))
        return doc_error(err, d, n ? n : r, "name", "expected the datastore's name");
    if (strlen(n->str) > DATASTORE_NAME_MAX)
        return doc_error(err, d, n, "name", "%zu characters long; the limit is %d", strlen(n->str),
                         DATASTORE_NAME_MAX);
    if (!datastore_name_ok(n->str))
        return doc_error(err, d, n, "name", "'%s': use letters, digits and '_' only", n->str);
    *b = type && type->kind == DOC_SCALAR ? store_backend_find(type->str) : NULL;
    if (!*b || strcmp(type->str, store_backend_type(*b)))
        return doc_error(err, d, type ? type : r, "type", "expected one of %s",
                         store_backend_names(0));
    *name = n->str;
    return 0;
}

/* The fields, and a root for a backend that has one. */
static int ds_fields(const doc_t *d, const doc_node_t *r, datastore_t *ds, const char *base_dir,
                     ferr_t *err)
{
    const char *ckey = store_backend_container_key(ds->backend);
    char *root = NULL;
    int rc = opt_str(d, r, "description", &ds->description, err) ||
                     opt_str(d, r, "account_name", &ds->account, err) ||
                     (ckey && opt_str(d, r, ckey, &ds->container, err)) ||
                     opt_str(d, r, "endpoint", &ds->endpoint, err) ||
                     opt_str(d, r, "protocol", &ds->protocol, err) ||
                     opt_str(d, r, "account_url", &ds->account_url, err) ||
                     opt_str(d, r, "ca_file", &ds->ca_file, err) ||
                     opt_str(d, r, "root", &root, err)
                 ? -1
                 : 0;
    if (rc == 0 && store_backend_takes(ds->backend, "root")) {
        if (root)
            ds->root = path_absolute(root, base_dir);
        else
            rc = doc_error(err, d, r, "root", "a %s datastore needs root: FOLDER",
                           datastore_type_name(ds));
    } else if (rc == 0 && root) {
        rc = doc_error(err, d, doc_get(r, "root"), "root", "only a local datastore has a root");
    }
    free(root);
    return rc;
}

/* credentials: one secret (handed back in *secret), and a service
 * principal's tenant and client. */
static int ds_credentials(const doc_t *d, const doc_node_t *creds, datastore_t *ds, char **secret,
                          ferr_t *err)
{
    if (!creds || doc_is_null(creds)) {
        /* no credentials: as in Azure ML, the identity of where it runs */
        if (store_backend_caps(ds->backend) & STORE_CAP_CREDENTIAL)
            ds->cred_kind = CRED_IDENTITY;
        return 0;
    }
    if (creds->kind != DOC_MAP)
        return doc_error(err, d, creds, "credentials", "expected a mapping");
    for (size_t i = 0; i < creds->n; i++) {
        const char *k = creds->pairs[i].key->str;
        if (strcmp(k, "account_key") && strcmp(k, "sas_token") && strcmp(k, "client_secret") &&
            strcmp(k, "tenant_id") && strcmp(k, "client_id") && strcmp(k, "authority_url") &&
            strcmp(k, "resource_url"))
            return doc_error(err, d, creds->pairs[i].key, "credentials",
                             "unknown key '%s' (expected account_key, sas_token, or tenant_id, "
                             "client_id and client_secret)",
                             k);
    }
    char *key = NULL, *sas = NULL, *sp = NULL;
    int rc = opt_str(d, creds, "account_key", &key, err) ||
                     opt_str(d, creds, "sas_token", &sas, err) ||
                     opt_str(d, creds, "client_secret", &sp, err) ||
                     opt_str(d, creds, "tenant_id", &ds->tenant_id, err) ||
                     opt_str(d, creds, "client_id", &ds->client_id, err)
                 ? -1
                 : 0;
    if (rc == 0 && !!key + !!sas + !!sp > 1)
        rc = doc_error(err, d, creds, "credentials",
                       "give one of account_key, sas_token or client_secret");
    if (rc) {
        free(key), free(sas), free(sp);
        return -1;
    }
    ds->cred_kind = key   ? CRED_ACCOUNT_KEY
                    : sas ? CRED_SAS_TOKEN
                    : sp  ? CRED_CLIENT_SECRET
                          : CRED_IDENTITY; /* a user-assigned identity's client_id, or none */
    *secret = key ? key : sas ? sas : sp;
    return 0;
}

int datastore_from_doc(datastore_t **out, char **secret_out, const doc_t *d, const char *base_dir,
                       ferr_t *err)
{
    *out = NULL;
    *secret_out = NULL;
    const doc_node_t *r = doc_root(d);
    if (r->kind != DOC_MAP)
        return doc_error(err, d, r, NULL, "expected a mapping with name and type");
    const char *name = NULL;
    const store_backend_t *b = NULL;
    if (ds_header(d, r, &name, &b, err))
        return -1;
    datastore_t *ds = datastore_new(name, b);
    int rc = ds_fields(d, r, ds, base_dir, err) ||
                     ds_credentials(d, doc_get(r, "credentials"), ds, secret_out, err)
                 ? -1
                 : 0;
    if (rc == 0 && datastore_validate(ds, err)) {
        ferr_wrap(err, "%s", doc_name(d));
        rc = -1;
    }
    if (rc) {
        free(*secret_out);
        *secret_out = NULL;
        datastore_free(ds);
        return -1;
    }
    *out = ds;
    return 0;
}
