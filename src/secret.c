/* Secrets: never held in a datastore's record, only where they are read
 * from (an environment variable, a file, the workspace's secrets/ folder,
 * mode 0700, files 0600); read when a store opens. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datastore.h"
#include "path.h"
#include "workspace.h"
#include "xalloc.h"

int datastore_env_name_ok(const char *name)
{
    if (!name || !(isalpha((unsigned char)*name) || *name == '_'))
        return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return 0;
    return 1;
}

int datastore_secret(const datastore_t *ds, char **out, ferr_t *err)
{
    *out = NULL;
    if (ds->cred_kind == CRED_NONE || ds->cred_kind == CRED_IDENTITY)
        return 0;
    const char *what = cred_kind_name(ds->cred_kind);
    if (ds->inline_secret) {
        *out = xstrdup(ds->inline_secret);
    } else if (ds->cred_source == CRED_FROM_ENV) {
        if (!datastore_env_name_ok(ds->cred_ref))
            return ferr_set(err, FERR_CONFIG,
                            "datastore %s: its %s is to be read from an environment variable, "
                            "but what is recorded is no variable name (not shown); register it "
                            "again with the variable's name",
                            ds->name, what);
        const char *v = getenv(ds->cred_ref);
        if (!v || !*v)
            return ferr_set(err, FERR_CONFIG,
                            "datastore %s: its %s is read from $%s, which is not set", ds->name,
                            what, ds->cred_ref);
        *out = xstrdup(v);
    } else {
        size_t len;
        if (path_read_all(ds->cred_ref, out, &len, err))
            return ferr_wrap(err, "datastore %s: cannot read its %s", ds->name, what);
        while (len && ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r'))
            (*out)[--len] = 0;
    }
    return 0;
}

int workspace_store_secret(workspace_t *ws, datastore_t *ds, const char *secret, ferr_t *err)
{
    char *dir = path_join(workspace_dir(ws), "secrets");
    if (path_mkdirs(dir, 0700, err)) {
        free(dir);
        return -1;
    }
    chmod(dir, 0700);
    char *file = NULL;
    if (asprintf(&file, "%s/%s.%s", dir, ds->name, cred_kind_name(ds->cred_kind)) < 0)
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
