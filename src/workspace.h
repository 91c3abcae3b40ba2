/* The workspace: a folder holding the datastore registry (datastores.json),
 * stored secrets (secrets/, mode 0700, files 0600), the default local
 * datastore's data and the runs' records. */
#ifndef FERRY_WORKSPACE_H
#define FERRY_WORKSPACE_H

#include <cjson/cJSON.h>

#include "datastore.h"
#include "doc.h"
#include "error.h"

#define WS_DEFAULT_DATASTORE "workspaceblobstore"

typedef struct workspace workspace_t;

/* Which folder: flag, else $FERRY_WORKSPACE, else the nearest .ferry/ upward
 * from the current directory, else $XDG_DATA_HOME/ferry. */
int workspace_locate(char **out, const char *flag, ferr_t *err);
/* Opens (creating on first use). for_write holds a lock until workspace_close. */
int workspace_open(workspace_t **out, const char *dir, int for_write, ferr_t *err);
void workspace_close(workspace_t *ws);
const char *workspace_dir(const workspace_t *ws);

size_t workspace_count(const workspace_t *ws);
const datastore_t *workspace_at(const workspace_t *ws, size_t i);
const datastore_t *workspace_find(const workspace_t *ws, const char *name);
const char *workspace_default(const workspace_t *ws);

/* The registry takes ownership of ds on success. */
int workspace_add(workspace_t *ws, datastore_t *ds, int overwrite, ferr_t *err);
/* FERR_EXISTS when name is taken and overwrite is not set: asked before
 * anything (a stored secret) is written for a new datastore. */
int workspace_name_free(const workspace_t *ws, const char *name, int overwrite, ferr_t *err);
int workspace_remove(workspace_t *ws, const char *name, ferr_t *err);
int workspace_set_default(workspace_t *ws, const char *name, ferr_t *err);
/* Copies a secret into secrets/<name>.<kind> (0600); sets ds->cred_ref. */
int workspace_store_secret(workspace_t *ws, datastore_t *ds, const char *secret, ferr_t *err);

/* Azure ML datastore YAML (plus type: local). *secret_out gets an inline secret, if any. */
int datastore_from_doc(datastore_t **out, char **secret_out, const doc_t *d, const char *base_dir,
                       ferr_t *err);
/* JSON view; never contains a secret value. */
cJSON *datastore_to_json(const datastore_t *ds);

#endif
