/* The workspace's data assets, as Azure ML keeps them per workspace: a name
 * and an immutable version pointing at data (a datastore path or a storage
 * URL), with a type, a description and an id. Kept in
 * <workspace>/data-assets.json, written whole under its own lock (a run
 * registering an output does not hold the workspace's). */
#ifndef FERRY_ASSET_H
#define FERRY_ASSET_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "error.h"

typedef struct asset {
    char *name, *version;
    char *type; /* uri_folder, uri_file, mltable (or a model type, from a job's output) */
    char *path; /* azureml://datastores/<ds>/paths/<p>, or a storage URL */
    char *description;
    char *id;      /* a UUID, what a v1 runconfig's dataset id names */
    char *created; /* ISO 8601, UTC */
    char *job;     /* the run whose output it is, if one */
    int archived;
} asset_t;

typedef struct asset_list {
    asset_t *v;
    size_t n;
} asset_list_t;

/* Every version of every asset (none: an empty list). */
int asset_load(const char *ws_dir, asset_list_t *out, ferr_t *err);
void asset_list_free(asset_list_t *l);
/* name at version, or its latest (the highest version not archived) when
 * version is NULL. */
const asset_t *asset_find(const asset_list_t *l, const char *name, const char *version);
const asset_t *asset_find_id(const asset_list_t *l, const char *id);
/* "1, 2, 10" (the versions name has, archived ones too), or NULL if none. */
char *asset_versions(const asset_list_t *l, const char *name);
/* Azure ML's order: each dot-separated part by number where both are
 * numbers, else as text. */
int asset_version_cmp(const char *a, const char *b);

/* Adds a (copied; a->version NULL: the next whole number; id and created
 * are made here); *version_out gets the version made. FERR_EXISTS when that
 * version exists: a version never changes. */
int asset_create(const char *ws_dir, const asset_t *a, char **version_out, ferr_t *err);
/* Archives (or restores) name at version, or every version of it (NULL). */
int asset_set_archived(const char *ws_dir, const char *name, const char *version, int archived,
                       ferr_t *err);
/* Is this a name an asset may have (Azure ML's rule)? */
int asset_name_ok(const char *s);
int asset_version_ok(const char *s);

cJSON *asset_to_json(const asset_t *a);

/* --- what a job file names: assets, and earlier runs' outputs (asset_ref.c) --- */

struct uri;
/* What an asset (URI_ASSET, or id when not NULL) or an earlier run's output
 * (URI_JOB) points at: *path (a datastore URI or a URL), *type (the asset's
 * or the output's, NULL when not known) and *label (what to call it in a
 * plan: "azureml:iris:2"). Errors name what exists instead. */
int asset_resolve(const char *ws_dir, const struct uri *u, const char *id, char **path, char **type,
                  char **label, ferr_t *err);
/* <workspace>/jobs/<run id>.json: the run's outputs (name -> type, path,
 * uploaded), so that later jobs can name them. Takes outputs. */
int asset_record_job(const char *ws_dir, const char *run_id, const char *status, cJSON *outputs,
                     ferr_t *err);
struct plan;
struct stage_rec;
/* Before a run: no output would register a data asset version that exists. */
int asset_check_outputs(const char *ws_dir, const struct plan *p, ferr_t *err);
/* After a run (code: its exit code): the run's record, and its outputs with
 * name: registered as data assets when it succeeded. Failures are warnings. */
void asset_after_run(const char *ws_dir, const struct plan *p, const struct stage_rec *out,
                     int code);

#endif
