/* What a job file names by reference: data assets (azureml:<name>:<version>,
 * @latest, the long forms, a v1 dataset id) and earlier runs' outputs
 * (azureml://jobs/<run>/outputs/<name>, runs:/<run>/<name>), each resolved
 * to the datastore path or URL it stands for. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asset.h"
#include "path.h"
#include "log.h"
#include "plan.h"
#include "stage.h"
#include "uri.h"
#include "xalloc.h"

/* A run's record is small; a bigger file is not one. */
#define JOB_RECORD_MAX (4u << 20)

static int resolve_asset(const char *ws_dir, const uri_t *u, const char *id, char **path,
                         char **type, char **label, ferr_t *err)
{
    asset_list_t l;
    if (asset_load(ws_dir, &l, err))
        return -1;
    const asset_t *a = id ? asset_find_id(&l, id) : asset_find(&l, u->name, u->version);
    int rc = 0;
    if (a) {
        *path = xstrdup(a->path);
        *type = xstrdup(a->type);
        *label = xasprintf("azureml:%s:%s", a->name, a->version);
    } else if (id) {
        rc = ferr_set(err, FERR_NOTFOUND,
                      "no data asset has the id %s in this workspace ('ferry data list --json' "
                      "shows each one's id)",
                      id);
    } else {
        char *vs = asset_versions(&l, u->name);
        if (vs && u->version)
            rc = ferr_set(err, FERR_NOTFOUND, "data asset %s has no version %s (its versions: %s)",
                          u->name, u->version, vs);
        else if (vs)
            rc = ferr_set(err, FERR_NOTFOUND,
                          "every version of data asset %s is archived (%s); name one, or "
                          "'ferry data restore %s'",
                          u->name, vs, u->name);
        else
            rc = ferr_set(err, FERR_NOTFOUND,
                          "no data asset named %s in this workspace ('ferry data create' makes "
                          "one; 'ferry data list' shows them)",
                          u->name);
        free(vs);
    }
    asset_list_free(&l);
    return rc;
}

static int load_record(const char *ws_dir, const char *run_id, cJSON **out, ferr_t *err)
{
    *out = NULL;
    if (!plan_run_id_ok(run_id))
        return ferr_set(err, FERR_USAGE, "'%s' is not a run id", run_id);
    char *dir = path_join(ws_dir, "jobs"), *name = xasprintf("%s.json", run_id);
    char *p = path_join(dir, name), *text = NULL;
    size_t len = 0;
    int rc = 0;
    if (access(p, F_OK) != 0)
        rc = ferr_set(err, FERR_NOTFOUND,
                      "no run %s in this workspace (a run's outputs can be named once 'ferry "
                      "run' has ended; see %s)",
                      run_id, dir);
    else if (path_read_all(p, &text, &len, err) == 0 && len < JOB_RECORD_MAX)
        *out = cJSON_ParseWithLength(text, len);
    if (rc == 0 && !*out)
        rc = err->msg ? -1 : ferr_set(err, FERR_CONFIG, "%s: not a run's record", p);
    free(text);
    free(p);
    free(name);
    free(dir);
    return rc;
}

static int resolve_job(const char *ws_dir, const uri_t *u, char **path, char **type, char **label,
                       ferr_t *err)
{
    cJSON *rec;
    if (load_record(ws_dir, u->run_id, &rec, err))
        return -1;
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(rec, "outputs");
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(outs, u->name);
    const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "path"));
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "type"));
    int rc = 0;
    if (!o || !p) {
        size_t cap = 1, len = 0;
        char *names = xcalloc(1, cap);
        const cJSON *it;
        cJSON_ArrayForEach(it, outs)
        {
            size_t need = len + strlen(it->string) + 3;
            if (need > cap)
                names = xrealloc(names, cap = need * 2);
            len += (size_t)sprintf(names + len, "%s%s", len ? ", " : "", it->string);
        }
        rc = ferr_set(err, FERR_NOTFOUND, "run %s has no output %s (its outputs: %s)", u->run_id,
                      u->name, len ? names : "none");
        free(names);
    } else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "uploaded"))) {
        rc = ferr_set(err, FERR_NOTFOUND,
                      "run %s's output %s was not uploaded (the run %s); it cannot be an input",
                      u->run_id, u->name,
                      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "status"))
                          ?: "did not end");
    } else {
        size_t pl = strlen(p);
        *path = !*u->path ? xstrdup(p)
                          : xasprintf("%s%s%s", p, pl && p[pl - 1] == '/' ? "" : "/", u->path);
        /* a path inside it: the input's own type says what it is */
        *type = !*u->path && t ? xstrdup(t) : NULL;
        *label = *u->path ? xasprintf("azureml://jobs/%s/outputs/%s/paths/%s", u->run_id, u->name,
                                      u->path)
                          : xasprintf("azureml://jobs/%s/outputs/%s", u->run_id, u->name);
    }
    cJSON_Delete(rec);
    return rc;
}

int asset_resolve(const char *ws_dir, const uri_t *u, const char *id, char **path, char **type,
                  char **label, ferr_t *err)
{
    *path = *type = *label = NULL;
    if (id || u->kind == URI_ASSET)
        return resolve_asset(ws_dir, u, id, path, type, label, err);
    if (u->kind == URI_JOB)
        return resolve_job(ws_dir, u, path, type, label, err);
    return ferr_set(err, FERR_INTERNAL, "not a reference");
}

int asset_record_job(const char *ws_dir, const char *run_id, const char *status, cJSON *outputs,
                     ferr_t *err)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "run_id", run_id);
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddItemToObject(o, "outputs", outputs);
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    char *dir = path_join(ws_dir, "jobs"), *name = xasprintf("%s.json", run_id);
    char *p = path_join(dir, name);
    int rc = !text                         ? ferr_set(err, FERR_INTERNAL, "out of memory")
             : path_mkdirs(dir, 0755, err) ? -1
                                           : path_write_atomic(p, text, strlen(text), 0644, err);
    free(text);
    free(p);
    free(name);
    free(dir);
    return rc;
}

/* Where an output went, as a job file would name it. */
static char *output_uri(const plan_io_t *io)
{
    if (!io->ds || io->adhoc || !io->remote)
        return xstrdup(io->uri ? io->uri : "");
    size_t rl = strlen(io->remote);
    int folder = io->type != IO_URI_FILE && rl && io->remote[rl - 1] != '/';
    return xasprintf("azureml://datastores/%s/paths/%s%s", io->ds->name, io->remote,
                     folder ? "/" : "");
}

int asset_check_outputs(const char *ws_dir, const plan_t *p, ferr_t *err)
{
    asset_list_t l;
    if (asset_load(ws_dir, &l, err))
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < p->noutputs; i++) {
        const plan_io_t *io = &p->outputs[i];
        if (io->asset_name && io->asset_version &&
            asset_find(&l, io->asset_name, io->asset_version))
            rc = ferr_set(err, FERR_EXISTS,
                          "output %s: data asset %s version %s exists, and a version never "
                          "changes (leave version out for the next one)",
                          io->name, io->asset_name, io->asset_version);
    }
    asset_list_free(&l);
    return rc;
}

void asset_after_run(const char *ws_dir, const plan_t *p, const stage_rec_t *out, int code)
{
    cJSON *outs = cJSON_CreateObject();
    for (size_t i = 0; i < p->noutputs; i++) {
        const plan_io_t *io = &p->outputs[i];
        cJSON *o = cJSON_AddObjectToObject(outs, io->name);
        char *uri = output_uri(io);
        cJSON_AddStringToObject(o, "type", plan_io_type(io));
        cJSON_AddStringToObject(o, "path", uri);
        cJSON_AddBoolToObject(o, "uploaded", out && out[i].done && !out[i].error);
        ferr_t e = FERR_INIT;
        char *made = NULL;
        if (io->asset_name && code == 0 && out && out[i].done && !out[i].error) {
            asset_t a = {.name = (char *)io->asset_name,
                         .version = (char *)io->asset_version,
                         .type = (char *)plan_io_type(io),
                         .path = uri,
                         .job = p->run_id};
            if (asset_create(ws_dir, &a, &made, &e) == 0) {
                log_info("output %s is data asset azureml:%s:%s", io->name, io->asset_name, made);
                cJSON_AddStringToObject(o, "asset", made);
            } else {
                log_warn("output %s: not registered as a data asset: %s", io->name, e.msg);
            }
        } else if (io->asset_name) {
            log_warn("output %s: not registered as data asset %s: the run did not succeed",
                     io->name, io->asset_name);
        }
        free(made);
        ferr_clear(&e);
        free(uri);
    }
    ferr_t e = FERR_INIT;
    if (asset_record_job(ws_dir, p->run_id, code == 0 ? "completed" : "failed", outs, &e))
        log_warn("the run's outputs cannot be named by later jobs: %s", e.msg);
    ferr_clear(&e);
}
