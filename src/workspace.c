#define _GNU_SOURCE
#include "workspace.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"

#define REGISTRY "datastores.json"

struct workspace {
    char *dir;
    int lockfd;
    char *default_name;
    datastore_t **ds;
    size_t n;
};

static const char *type_names[] = {"local", "azure_blob", "azure_file", "azure_data_lake_gen2"};
static const char *cred_names[] = {"none", "account_key", "sas_token", "client_secret"};
static const char *source_names[] = {"env", "file", "stored"};

const char *datastore_type_name(ds_type_t t)
{
    return type_names[t];
}

int datastore_type_parse(const char *s, ds_type_t *out)
{
    for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
        if (!strcmp(s, type_names[i])) {
            *out = (ds_type_t)i;
            return 0;
        }
    /* CLI spellings use hyphens */
    static const char *cli[] = {"local", "azure-blob", "azure-file", "azure-data-lake-gen2"};
    for (size_t i = 0; i < sizeof cli / sizeof *cli; i++)
        if (!strcmp(s, cli[i])) {
            *out = (ds_type_t)i;
            return 0;
        }
    return -1;
}

const char *cred_kind_name(cred_kind_t k)
{
    return cred_names[k];
}

datastore_t *datastore_new(const char *name, ds_type_t type)
{
    datastore_t *ds = calloc(1, sizeof *ds);
    if (!ds)
        return NULL;
    ds->name = strdup(name);
    ds->type = type;
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

int datastore_name_ok(const char *name)
{
    if (!name || !*name || strlen(name) > 255)
        return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return 0;
    return 1;
}

/* Azure's rules for containers, shares and filesystems: 3-63 of [a-z0-9-],
 * starting and ending with a letter or digit, no "--". */
static int container_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 63 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--"))
        return 0;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
            return 0;
    return 1;
}

static int account_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 24)
        return 0;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p)))
            return 0;
    return 1;
}

int datastore_validate(const datastore_t *ds, ferr_t *err)
{
    if (!datastore_name_ok(ds->name))
        return ferr_set(err, FERR_USAGE,
                        "datastore name '%s': use letters, digits and '_' only (as Azure ML does)",
                        ds->name ? ds->name : "");
    if (ds->type == DS_LOCAL) {
        if (!ds->root || ds->root[0] != '/')
            return ferr_set(err, FERR_USAGE, "datastore %s: a local datastore needs --root DIR",
                            ds->name);
        return 0;
    }
    const char *what = ds->type == DS_AZURE_BLOB   ? "container"
                       : ds->type == DS_AZURE_FILE ? "file share"
                                                   : "filesystem";
    if (!ds->account || !account_ok(ds->account))
        return ferr_set(err, FERR_USAGE,
                        "datastore %s: account name '%s': expected 3-24 lowercase letters and "
                        "digits",
                        ds->name, ds->account ? ds->account : "");
    if (!ds->container || !container_ok(ds->container))
        return ferr_set(err, FERR_USAGE,
                        "datastore %s: %s name '%s': expected 3-63 lowercase letters, digits and "
                        "single hyphens, starting and ending with a letter or digit",
                        ds->name, what, ds->container ? ds->container : "");
    if (ds->protocol && strcmp(ds->protocol, "https") && strcmp(ds->protocol, "http"))
        return ferr_set(err, FERR_USAGE, "datastore %s: protocol '%s': expected https or http",
                        ds->name, ds->protocol);
    if (ds->account_url && strncmp(ds->account_url, "https://", 8) &&
        strncmp(ds->account_url, "http://", 7))
        return ferr_set(err, FERR_USAGE,
                        "datastore %s: account URL '%s': expected http:// or https://", ds->name,
                        ds->account_url);
    if (ds->endpoint && (strchr(ds->endpoint, '/') || !strchr(ds->endpoint, '.')))
        return ferr_set(err, FERR_USAGE,
                        "datastore %s: endpoint '%s': expected a DNS suffix such as "
                        "core.windows.net",
                        ds->name, ds->endpoint);
    if (ds->cred_kind == CRED_CLIENT_SECRET && (!ds->tenant_id || !ds->client_id))
        return ferr_set(err, FERR_USAGE,
                        "datastore %s: a client secret needs --tenant-id and --client-id",
                        ds->name);
    if (ds->cred_kind == CRED_ACCOUNT_KEY && ds->type == DS_ADLS_GEN2)
        return 0;
    if (ds->cred_kind == CRED_CLIENT_SECRET && ds->type != DS_ADLS_GEN2 &&
        ds->type != DS_AZURE_BLOB)
        return ferr_set(err, FERR_USAGE,
                        "datastore %s: a service principal is not supported for %s", ds->name,
                        datastore_type_name(ds->type));
    return 0;
}

/* --- registry file --- */

static void set_str(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
}

cJSON *datastore_to_json(const datastore_t *ds)
{
    cJSON *o = cJSON_CreateObject();
    set_str(o, "name", ds->name);
    set_str(o, "type", datastore_type_name(ds->type));
    set_str(o, "description", ds->description);
    set_str(o, "root", ds->root);
    set_str(o, "account_name", ds->account);
    const char *ck = ds->type == DS_AZURE_BLOB   ? "container_name"
                     : ds->type == DS_AZURE_FILE ? "file_share_name"
                                                 : "filesystem";
    set_str(o, ck, ds->container);
    set_str(o, "endpoint", ds->endpoint);
    set_str(o, "account_url", ds->account_url);
    set_str(o, "protocol", ds->protocol);
    set_str(o, "ca_file", ds->ca_file);
    set_str(o, "tenant_id", ds->tenant_id);
    set_str(o, "client_id", ds->client_id);
    if (ds->cred_kind != CRED_NONE) {
        cJSON *c = cJSON_AddObjectToObject(o, "credential");
        cJSON_AddStringToObject(c, "kind", cred_names[ds->cred_kind]);
        cJSON_AddStringToObject(c, "source", source_names[ds->cred_source]);
        /* The reference (a variable name or a file path) is not a secret. */
        set_str(c, "ref", ds->cred_ref);
    }
    return o;
}

static char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

static int lookup(const char **names, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (!strcmp(names[i], s))
            return (int)i;
    return -1;
}

static datastore_t *datastore_from_json(const cJSON *o, const char *wsdir)
{
    char *name = jstr(o, "name"), *type = jstr(o, "type");
    ds_type_t t;
    datastore_t *ds = NULL;
    if (name && type && datastore_type_parse(type, &t) == 0)
        ds = datastore_new(name, t);
    free(name);
    free(type);
    if (!ds)
        return NULL;
    ds->description = jstr(o, "description");
    char *root = jstr(o, "root");
    if (root) {
        ds->root = path_absolute(root, wsdir); /* relative roots live in the workspace */
        free(root);
    }
    ds->account = jstr(o, "account_name");
    ds->container = jstr(o, t == DS_AZURE_BLOB   ? "container_name"
                            : t == DS_AZURE_FILE ? "file_share_name"
                                                 : "filesystem");
    ds->endpoint = jstr(o, "endpoint");
    ds->account_url = jstr(o, "account_url");
    ds->protocol = jstr(o, "protocol");
    ds->ca_file = jstr(o, "ca_file");
    ds->tenant_id = jstr(o, "tenant_id");
    ds->client_id = jstr(o, "client_id");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "credential");
    if (cJSON_IsObject(c)) {
        char *k = jstr(c, "kind"), *s = jstr(c, "source");
        int ki = lookup(cred_names, 4, k), si = lookup(source_names, 3, s);
        free(k);
        free(s);
        if (ki < 0 || si < 0) {
            datastore_free(ds);
            return NULL;
        }
        ds->cred_kind = (cred_kind_t)ki;
        ds->cred_source = (cred_source_t)si;
        char *ref = jstr(c, "ref");
        ds->cred_ref = ref && ds->cred_source == CRED_STORED ? path_absolute(ref, wsdir) : ref;
        if (ref && ds->cred_ref != ref)
            free(ref);
    }
    return ds;
}

static int registry_path(const workspace_t *ws, char **out)
{
    *out = path_join(ws->dir, REGISTRY);
    return *out ? 0 : -1;
}

/* "dir/x" becomes "x" when it lies inside the workspace (so the folder can move). */
static void relative_to_ws(cJSON *v, const char *dir, size_t dl)
{
    if (!cJSON_IsString(v) || strncmp(v->valuestring, dir, dl) || v->valuestring[dl] != '/')
        return;
    char *rel = strdup(v->valuestring + dl + 1); /* cJSON cannot take a pointer into itself */
    if (rel)
        cJSON_SetValuestring(v, rel);
    free(rel);
}

static int ws_save(workspace_t *ws, ferr_t *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddNumberToObject(root, "version", 1);
    set_str(root, "default", ws->default_name);
    cJSON *arr = cJSON_AddArrayToObject(root, "datastores");
    size_t dl = strlen(ws->dir);
    for (size_t i = 0; i < ws->n; i++) {
        cJSON *o = datastore_to_json(ws->ds[i]);
        relative_to_ws(cJSON_GetObjectItemCaseSensitive(o, "root"), ws->dir, dl);
        cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "credential");
        if (c && ws->ds[i]->cred_source == CRED_STORED)
            relative_to_ws(cJSON_GetObjectItemCaseSensitive(c, "ref"), ws->dir, dl);
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    char *path = NULL;
    registry_path(ws, &path);
    int rc = -1;
    if (text && path) {
        size_t len = strlen(text);
        text[len] = '\n';
        rc = path_write_atomic(path, text, len + 1, 0600, err);
    } else {
        ferr_set(err, FERR_INTERNAL, "out of memory");
    }
    free(text);
    free(path);
    return rc;
}

static int ws_load(workspace_t *ws, ferr_t *err)
{
    char *path = NULL, *text = NULL;
    registry_path(ws, &path);
    if (path_read_all(path, &text, NULL, err)) {
        free(path);
        return -1;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    int rc = -1;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "datastores");
    if (!root || !cJSON_IsArray(arr)) {
        ferr_set(err, FERR_CONFIG, "%s: not a ferry datastore registry (damaged?)", path);
        goto out;
    }
    ws->default_name = jstr(root, "default");
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        datastore_t *ds = datastore_from_json(it, ws->dir);
        if (!ds) {
            ferr_set(err, FERR_CONFIG, "%s: a datastore entry is damaged", path);
            goto out;
        }
        datastore_t **n = realloc(ws->ds, (ws->n + 1) * sizeof *n);
        if (!n) {
            datastore_free(ds);
            ferr_set(err, FERR_INTERNAL, "out of memory");
            goto out;
        }
        ws->ds = n;
        ws->ds[ws->n++] = ds;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    free(path);
    return rc;
}

int workspace_locate(char **out, const char *flag, ferr_t *err)
{
    *out = NULL;
    const char *env = getenv("FERRY_WORKSPACE");
    if (flag && *flag)
        *out = path_absolute(flag, NULL);
    else if (env && *env)
        *out = path_absolute(env, NULL);
    else {
        char *cur = path_absolute(".", NULL);
        while (cur) {
            char *cand = path_join(cur, ".ferry");
            struct stat st;
            if (cand && stat(cand, &st) == 0 && S_ISDIR(st.st_mode)) {
                free(cur);
                *out = cand;
                break;
            }
            free(cand);
            if (!strcmp(cur, "/")) {
                free(cur);
                break;
            }
            char *up = path_dirname(cur);
            free(cur);
            cur = up;
        }
        if (!*out) {
            const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
            if (xdg && xdg[0] == '/')
                *out = path_join(xdg, "ferry");
            else if (home && *home) {
                char *base = path_join(home, ".local/share");
                *out = base ? path_join(base, "ferry") : NULL;
                free(base);
            } else
                return ferr_set(err, FERR_USAGE,
                                "no workspace: set --workspace, FERRY_WORKSPACE or HOME");
        }
    }
    return *out ? 0 : ferr_set(err, FERR_INTERNAL, "out of memory");
}

static int ws_create(workspace_t *ws, ferr_t *err)
{
    char *data = path_join(ws->dir, "datastores/" WS_DEFAULT_DATASTORE);
    int rc = path_mkdirs(data, 0755, err);
    if (rc == 0) {
        datastore_t *ds = datastore_new(WS_DEFAULT_DATASTORE, DS_LOCAL);
        ds->root = data;
        ds->description = strdup("the workspace's default datastore, a local folder");
        data = NULL;
        ws->ds = malloc(sizeof *ws->ds);
        ws->ds[0] = ds;
        ws->n = 1;
        ws->default_name = strdup(WS_DEFAULT_DATASTORE);
        rc = ws_save(ws, err);
    }
    free(data);
    return rc;
}

int workspace_open(workspace_t **out, const char *dir, int for_write, ferr_t *err)
{
    *out = NULL;
    workspace_t *ws = calloc(1, sizeof *ws);
    if (!ws)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    ws->lockfd = -1;
    ws->dir = path_absolute(dir, NULL);
    if (path_mkdirs(ws->dir, 0755, err))
        goto fail;
    /* One lock file serialises writers (and creation) across processes. */
    char *lockp = path_join(ws->dir, ".lock");
    ws->lockfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(lockp);
    if (ws->lockfd < 0) {
        ferr_errno(err, FERR_IO, errno, "cannot open workspace %s", ws->dir);
        goto fail;
    }
    if (flock(ws->lockfd, LOCK_EX) != 0) {
        ferr_errno(err, FERR_IO, errno, "cannot lock workspace %s", ws->dir);
        goto fail;
    }
    char *reg = path_join(ws->dir, REGISTRY);
    int exists = access(reg, F_OK) == 0;
    free(reg);
    if (!exists && ws_create(ws, err))
        goto fail;
    if (exists && ws_load(ws, err))
        goto fail;
    if (!for_write) {
        close(ws->lockfd);
        ws->lockfd = -1;
    }
    *out = ws;
    return 0;
fail:
    ferr_wrap(err, "workspace %s", ws->dir ? ws->dir : dir);
    workspace_close(ws);
    return -1;
}

void workspace_close(workspace_t *ws)
{
    if (!ws)
        return;
    if (ws->lockfd >= 0)
        close(ws->lockfd);
    for (size_t i = 0; i < ws->n; i++)
        datastore_free(ws->ds[i]);
    free(ws->ds);
    free(ws->default_name);
    free(ws->dir);
    free(ws);
}

const char *workspace_dir(const workspace_t *ws)
{
    return ws->dir;
}

size_t workspace_count(const workspace_t *ws)
{
    return ws->n;
}

const datastore_t *workspace_at(const workspace_t *ws, size_t i)
{
    return i < ws->n ? ws->ds[i] : NULL;
}

const datastore_t *workspace_find(const workspace_t *ws, const char *name)
{
    for (size_t i = 0; i < ws->n; i++)
        if (!strcmp(ws->ds[i]->name, name))
            return ws->ds[i];
    return NULL;
}

const char *workspace_default(const workspace_t *ws)
{
    return ws->default_name;
}

static void require_writer(const workspace_t *ws)
{
    if (ws->lockfd < 0)
        abort(); /* a programming error: opened read-only */
}

int workspace_name_free(const workspace_t *ws, const char *name, int overwrite, ferr_t *err)
{
    if (!overwrite && workspace_find(ws, name))
        return ferr_set(err, FERR_EXISTS,
                        "datastore %s exists already; pass --overwrite to replace it", name);
    return 0;
}

int workspace_add(workspace_t *ws, datastore_t *ds, int overwrite, ferr_t *err)
{
    require_writer(ws);
    if (datastore_validate(ds, err) || workspace_name_free(ws, ds->name, overwrite, err))
        return -1;
    for (size_t i = 0; i < ws->n; i++) {
        if (strcmp(ws->ds[i]->name, ds->name))
            continue;
        datastore_t *old = ws->ds[i];
        ws->ds[i] = ds;
        if (ws_save(ws, err)) {
            ws->ds[i] = old;
            return -1;
        }
        datastore_free(old);
        return 0;
    }
    datastore_t **n = realloc(ws->ds, (ws->n + 1) * sizeof *n);
    if (!n)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    ws->ds = n;
    ws->ds[ws->n++] = ds;
    if (ws_save(ws, err)) {
        ws->n--;
        return -1;
    }
    return 0;
}

int workspace_remove(workspace_t *ws, const char *name, ferr_t *err)
{
    require_writer(ws);
    for (size_t i = 0; i < ws->n; i++) {
        if (strcmp(ws->ds[i]->name, name))
            continue;
        datastore_t *gone = ws->ds[i];
        memmove(&ws->ds[i], &ws->ds[i + 1], (ws->n - i - 1) * sizeof *ws->ds);
        ws->n--;
        char *olddef = ws->default_name;
        if (olddef && !strcmp(olddef, name))
            ws->default_name = NULL;
        if (ws_save(ws, err)) {
            memmove(&ws->ds[i + 1], &ws->ds[i], (ws->n - i) * sizeof *ws->ds);
            ws->ds[i] = gone;
            ws->n++;
            ws->default_name = olddef;
            return -1;
        }
        if (olddef != ws->default_name)
            free(olddef);
        /* A secret ferry stored for it goes with it; data in a local root stays. */
        if (gone->cred_source == CRED_STORED && gone->cred_ref)
            unlink(gone->cred_ref);
        datastore_free(gone);
        return 0;
    }
    return ferr_set(err, FERR_NOTFOUND, "no datastore named %s (see 'ferry datastore list')",
                    name);
}

int workspace_set_default(workspace_t *ws, const char *name, ferr_t *err)
{
    require_writer(ws);
    if (!workspace_find(ws, name))
        return ferr_set(err, FERR_NOTFOUND, "no datastore named %s (see 'ferry datastore list')",
                        name);
    char *old = ws->default_name;
    ws->default_name = strdup(name);
    if (ws_save(ws, err)) {
        free(ws->default_name);
        ws->default_name = old;
        return -1;
    }
    free(old);
    return 0;
}

int workspace_store_secret(workspace_t *ws, datastore_t *ds, const char *secret, ferr_t *err)
{
    char *dir = path_join(ws->dir, "secrets");
    if (path_mkdirs(dir, 0700, err)) {
        free(dir);
        return -1;
    }
    chmod(dir, 0700);
    char *file = NULL;
    if (asprintf(&file, "%s/%s.%s", dir, ds->name, cred_names[ds->cred_kind]) < 0)
        file = NULL;
    free(dir);
    if (!file)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    if (path_write_atomic(file, secret, strlen(secret), 0600, err)) {
        free(file);
        return -1;
    }
    free(ds->cred_ref);
    ds->cred_ref = file;
    ds->cred_source = CRED_STORED;
    return 0;
}

int datastore_secret(const datastore_t *ds, char **out, ferr_t *err)
{
    *out = NULL;
    if (ds->cred_kind == CRED_NONE)
        return 0;
    const char *what = cred_names[ds->cred_kind];
    if (ds->inline_secret) {
        *out = strdup(ds->inline_secret);
    } else if (ds->cred_source == CRED_FROM_ENV) {
        const char *v = getenv(ds->cred_ref);
        if (!v || !*v)
            return ferr_set(err, FERR_CONFIG,
                            "datastore %s: its %s is read from $%s, which is not set", ds->name,
                            what, ds->cred_ref);
        *out = strdup(v);
    } else {
        size_t len;
        if (path_read_all(ds->cred_ref, out, &len, err))
            return ferr_wrap(err, "datastore %s: cannot read its %s", ds->name, what);
        while (len && ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r'))
            (*out)[--len] = 0;
    }
    return 0;
}

/* --- Azure ML datastore YAML --- */

static int opt_str(const doc_t *d, const doc_node_t *m, const char *key, char **out, ferr_t *err)
{
    doc_node_t *v = doc_get(m, key);
    if (!v || doc_is_null(v))
        return 0;
    if (v->kind != DOC_SCALAR)
        return doc_error(err, d, v, key, "expected a string, got %s", doc_kind_name(v));
    *out = strdup(v->str);
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
    static const char *known[] = {
        "$schema",   "name",       "type",         "description",     "tags",
        "properties", "account_name", "container_name", "file_share_name", "filesystem",
        "endpoint",  "protocol",   "credentials",  "root",            "account_url",
        "ca_file",   NULL};
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
    doc_node_t *name = doc_get(r, "name"), *type = doc_get(r, "type");
    if (!name || !doc_is_string(name))
        return doc_error(err, d, name ? name : r, "name", "expected the datastore's name");
    if (!datastore_name_ok(name->str))
        return doc_error(err, d, name, "name", "'%s': use letters, digits and '_' only",
                         name->str);
    ds_type_t t;
    if (!type || type->kind != DOC_SCALAR || datastore_type_parse(type->str, &t) ||
        strchr(type->str, '-'))
        return doc_error(err, d, type ? type : r, "type",
                         "expected one of azure_blob, azure_file, azure_data_lake_gen2, local");
    datastore_t *ds = datastore_new(name->str, t);
    char *root = NULL;
    doc_node_t *creds = doc_get(r, "credentials");
    if (opt_str(d, r, "description", &ds->description, err) ||
        opt_str(d, r, "account_name", &ds->account, err) ||
        opt_str(d, r, t == DS_AZURE_BLOB   ? "container_name"
                      : t == DS_AZURE_FILE ? "file_share_name"
                                           : "filesystem",
                &ds->container, err) ||
        opt_str(d, r, "endpoint", &ds->endpoint, err) ||
        opt_str(d, r, "protocol", &ds->protocol, err) ||
        opt_str(d, r, "account_url", &ds->account_url, err) ||
        opt_str(d, r, "ca_file", &ds->ca_file, err) || opt_str(d, r, "root", &root, err))
        goto fail;
    if (t == DS_LOCAL) {
        if (!root) {
            doc_error(err, d, r, "root", "a local datastore needs root: FOLDER");
            goto fail;
        }
        ds->root = path_absolute(root, base_dir);
    } else if (root) {
        doc_error(err, d, doc_get(r, "root"), "root", "only a local datastore has a root");
        goto fail;
    }
    if (creds && !doc_is_null(creds)) {
        if (creds->kind != DOC_MAP) {
            doc_error(err, d, creds, "credentials", "expected a mapping");
            goto fail;
        }
        char *key = NULL, *sas = NULL, *secret = NULL;
        if (opt_str(d, creds, "account_key", &key, err) ||
            opt_str(d, creds, "sas_token", &sas, err) ||
            opt_str(d, creds, "client_secret", &secret, err) ||
            opt_str(d, creds, "tenant_id", &ds->tenant_id, err) ||
            opt_str(d, creds, "client_id", &ds->client_id, err)) {
            free(key), free(sas), free(secret);
            goto fail;
        }
        int nset = !!key + !!sas + !!secret;
        if (nset > 1) {
            free(key), free(sas), free(secret);
            doc_error(err, d, creds, "credentials",
                      "give one of account_key, sas_token or client_secret");
            goto fail;
        }
        ds->cred_kind = key ? CRED_ACCOUNT_KEY : sas ? CRED_SAS_TOKEN : secret ? CRED_CLIENT_SECRET
                                                                         : CRED_NONE;
        *secret_out = key ? key : sas ? sas : secret;
        for (size_t i = 0; i < creds->n; i++) {
            const char *k = creds->pairs[i].key->str;
            if (strcmp(k, "account_key") && strcmp(k, "sas_token") &&
                strcmp(k, "client_secret") && strcmp(k, "tenant_id") && strcmp(k, "client_id") &&
                strcmp(k, "authority_url") && strcmp(k, "resource_url")) {
                doc_error(err, d, creds->pairs[i].key, "credentials",
                          "unknown key '%s' (expected account_key, sas_token, or tenant_id, "
                          "client_id and client_secret)",
                          k);
                goto fail;
            }
        }
    }
    free(root);
    if (datastore_validate(ds, err)) {
        ferr_wrap(err, "%s", doc_name(d));
        free(*secret_out);
        *secret_out = NULL;
        datastore_free(ds);
        return -1;
    }
    *out = ds;
    return 0;
fail:
    free(root);
    free(*secret_out);
    *secret_out = NULL;
    datastore_free(ds);
    return -1;
}
