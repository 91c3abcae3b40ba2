#define _GNU_SOURCE
#include "workspace.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "path.h"
#include "store.h"
#include "xalloc.h"

#define REGISTRY "datastores.json"

struct workspace {
    char *dir;
    int lockfd;
    char *default_name;
    datastore_t **ds;
    size_t n;
};

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
    set_str(o, "type", datastore_type_name(ds));
    set_str(o, "description", ds->description);
    set_str(o, "root", ds->root);
    set_str(o, "account_name", ds->account);
    const char *ck = store_backend_container_key(ds->backend);
    if (ck)
        set_str(o, ck, ds->container);
    set_str(o, "endpoint", ds->endpoint);
    set_str(o, "account_url", ds->account_url);
    set_str(o, "protocol", ds->protocol);
    set_str(o, "ca_file", ds->ca_file);
    set_str(o, "tenant_id", ds->tenant_id);
    set_str(o, "client_id", ds->client_id);
    if (ds->cred_kind != CRED_NONE) {
        cJSON *c = cJSON_AddObjectToObject(o, "credential");
        cJSON_AddStringToObject(c, "kind", cred_kind_name(ds->cred_kind));
        cJSON_AddStringToObject(c, "source", cred_source_name(ds->cred_source));
        /* The reference (a variable name or a file path) is not a secret. */
        set_str(c, "ref", ds->cred_ref);
    }
    return o;
}

static char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

static datastore_t *datastore_from_json(const cJSON *o, const char *wsdir)
{
    char *name = jstr(o, "name"), *type = jstr(o, "type");
    const store_backend_t *b = store_backend_find(type);
    datastore_t *ds = NULL;
    if (name && b && !strcmp(type, store_backend_type(b)))
        ds = datastore_new(name, b);
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
    const char *ck = store_backend_container_key(ds->backend);
    ds->container = ck ? jstr(o, ck) : NULL;
    ds->endpoint = jstr(o, "endpoint");
    ds->account_url = jstr(o, "account_url");
    ds->protocol = jstr(o, "protocol");
    ds->ca_file = jstr(o, "ca_file");
    ds->tenant_id = jstr(o, "tenant_id");
    ds->client_id = jstr(o, "client_id");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "credential");
    if (cJSON_IsObject(c)) {
        char *k = jstr(c, "kind"), *s = jstr(c, "source");
        int bad = !k || !s || cred_kind_parse(k, &ds->cred_kind) ||
                  cred_source_parse(s, &ds->cred_source);
        free(k);
        free(s);
        if (bad) {
            datastore_free(ds);
            return NULL;
        }
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
    char *rel = xstrdup(v->valuestring + dl + 1); /* cJSON cannot take a pointer into itself */
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
        datastore_t **n = xrealloc(ws->ds, (ws->n + 1) * sizeof *n);
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
        datastore_t *ds = datastore_new(WS_DEFAULT_DATASTORE, store_backend_folder());
        ds->root = data;
        ds->description = xstrdup("the workspace's default datastore, a local folder");
        data = NULL;
        ws->ds = xmalloc(sizeof *ws->ds);
        ws->ds[0] = ds;
        ws->n = 1;
        ws->default_name = xstrdup(WS_DEFAULT_DATASTORE);
        rc = ws_save(ws, err);
    }
    free(data);
    return rc;
}

int workspace_open(workspace_t **out, const char *dir, int for_write, ferr_t *err)
{
    *out = NULL;
    workspace_t *ws = xcalloc(1, sizeof *ws);
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
    /* Azure ML's names are case-insensitive: "Data" and "data" are one datastore */
    for (size_t i = 0; i < ws->n; i++)
        if (!strcasecmp(ws->ds[i]->name, name))
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
    const datastore_t *ds = workspace_find(ws, name);
    if (!overwrite && ds && !strcmp(ds->name, name))
        return ferr_set(err, FERR_EXISTS,
                        "datastore %s exists already; pass --overwrite to replace it", name);
    if (!overwrite && ds)
        return ferr_set(err, FERR_EXISTS,
                        "datastore %s exists already as %s (names are case-insensitive, as in "
                        "Azure ML); pass --overwrite to replace it",
                        name, ds->name);
    return 0;
}

int workspace_add(workspace_t *ws, datastore_t *ds, int overwrite, ferr_t *err)
{
    require_writer(ws);
    if (datastore_validate(ds, err) || workspace_name_free(ws, ds->name, overwrite, err))
        return -1;
    for (size_t i = 0; i < ws->n; i++) {
        if (strcasecmp(ws->ds[i]->name, ds->name))
            continue;
        datastore_t *old = ws->ds[i];
        if (ws->default_name && !strcasecmp(ws->default_name, old->name) &&
            strcmp(old->name, ds->name)) {
            /* the default follows its datastore's new spelling */
            char *nd = xstrdup(ds->name);
            free(ws->default_name);
            ws->default_name = nd;
        }
        ws->ds[i] = ds;
        if (ws_save(ws, err)) {
            ws->ds[i] = old;
            return -1;
        }
        datastore_free(old);
        return 0;
    }
    datastore_t **n = xrealloc(ws->ds, (ws->n + 1) * sizeof *n);
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
        if (strcasecmp(ws->ds[i]->name, name))
            continue;
        datastore_t *gone = ws->ds[i];
        memmove(&ws->ds[i], &ws->ds[i + 1], (ws->n - i - 1) * sizeof *ws->ds);
        ws->n--;
        char *olddef = ws->default_name;
        if (olddef && !strcasecmp(olddef, gone->name))
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
    return ferr_set(err, FERR_NOTFOUND, "no datastore named %s (see 'ferry datastore list')", name);
}

int workspace_set_default(workspace_t *ws, const char *name, ferr_t *err)
{
    require_writer(ws);
    const datastore_t *ds = workspace_find(ws, name);
    if (!ds)
        return ferr_set(err, FERR_NOTFOUND, "no datastore named %s (see 'ferry datastore list')",
                        name);
    char *old = ws->default_name;
    ws->default_name = xstrdup(ds->name); /* as registered, whatever the case asked */
    if (ws_save(ws, err)) {
        free(ws->default_name);
        ws->default_name = old;
        return -1;
    }
    free(old);
    return 0;
}
