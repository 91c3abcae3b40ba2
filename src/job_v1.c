/* The v1 front-end: Azure ML runconfigs (script, arguments, dataReferences). */
#define _GNU_SOURCE
#include "job_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "path.h"
#include "store.h"
#include "uri.h"

#include "xalloc.h"

/* Keys of a v1 runconfig ferry does not act on: every other key azureml-core's
 * RunConfiguration writes (1.0 to 1.5x), those its contrib packages add, and
 * those of the service's run definitions. Listed by plan as ignored. */
static const char *v1_service_keys[] = {
    "target", "framework", "communicator", "nodeCount", "priority", "history", "spark", "docker",
    "hdi", "tensorflow", "mpi", "pytorch", "paralleltask", "datacaches", "sourceDirectoryDataStore",
    "amlcompute", "kubernetescompute", "credentialPassthrough", "applicationEndpoints",
    "autoPrepareEnvironment",
    /* contrib packages */
    "aisupercomputer", "amlK8sCompute", "cmk8scompute", "cmakscompute", "globalJobDispatcher",
    /* the service's run definitions */
    "useAbsolutePath", "jobName", "instanceTypes", "identity", "containerInstance", "exposedPorts",
    "commandReturnCodeConfig", "parameters", "batchAi", "prepareEnvironment", "parallelTask",
    "amlCompute", "kubernetesCompute", "pyTorch", "aiSuperComputer", "cmk8sCompute",
    "autoClusterComputeSpecification", "services", "name", "$schema", NULL};
/* The keys ferry acts on. */
static const char *v1_keys[] = {
    "script",         "arguments", "command",    "environment",           "environmentVariables",
    "dataReferences", "data",      "outputData", "maxRunDurationSeconds", NULL};

/* --- v1 --- */

static const char *dataref_known(void *ud, const char *key)
{
    const job_t *j = ud;
    for (size_t i = 0; i < j->ninputs; i++)
        if (!strcmp(j->inputs[i].name, key))
            return "";
    for (size_t i = 0; i < j->noutputs; i++)
        if (!strcmp(j->outputs[i].name, key))
            return "";
    return NULL;
}

static int argv_add(job_t *j, const char *s)
{
    job_grow_one(&j->argv, j->argc, 1, sizeof *j->argv);
    j->argv[j->argc++] = xstrdup(s);
    j->argv[j->argc] = NULL;
    return 0;
}

/* Why a pathOnCompute would leave the run's work dir, or NULL. "./" and
 * "//" are fine (path_absolute removes them); ".." never is. */
const char *job_poc_why(const char *s)
{
    if (s[0] == '/')
        return "is an absolute path";
    for (const char *seg = s; seg;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        if (len == 2 && seg[0] == '.' && seg[1] == '.')
            return "contains '..'";
        seg = end ? end + 1 : NULL;
    }
    if (strchr(s, '\\'))
        return "contains a backslash";
    return NULL;
}

static int parse_dataref(job_t *j, const char *key, const doc_node_t *v, ferr_t *err)
{
    char *f = job_fieldf("dataReferences.%s", key);
    int rc = -1;
    static const char *keys[] = {"dataStoreName", "pathOnDataStore", "mode", "pathOnCompute",
                                 "overwrite",     "dataStoreType",   NULL};
    if (!f)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    if (v->kind != DOC_MAP) {
        doc_error(err, j->doc, v, f,
                  "expected a mapping with dataStoreName, pathOnDataStore "
                  "and mode");
        goto out;
    }
    job_v1_check_keys(j, v, f, keys);
    const doc_node_t *ds = job_v1_get(v, "dataStoreName"), *p = job_v1_get(v, "pathOnDataStore"),
                     *mode = job_v1_get(v, "mode"), *poc = job_v1_get(v, "pathOnCompute"),
                     *ow = job_v1_get(v, "overwrite");
    if (!ds) {
        doc_error(err, j->doc, v, f, "dataStoreName is required");
        goto out;
    }
    if (job_want_string(j, ds, f, err) || (p && !doc_is_null(p) && job_want_string(j, p, f, err)) ||
        (mode && job_want_string(j, mode, f, err)) ||
        (poc && !doc_is_null(poc) && job_want_string(j, poc, f, err)))
        goto out;
    int overwrite = 0;
    if (ow && !doc_is_null(ow) && !doc_is_bool(ow, &overwrite)) {
        doc_error(err, j->doc, ow, f, "overwrite: expected true or false");
        goto out;
    }
    int upload = 0;
    io_mode_t m = MODE_RO_MOUNT;
    if (mode) {
        if (!strcasecmp(mode->str, "upload"))
            upload = 1, m = MODE_UPLOAD;
        else if (!strcasecmp(mode->str, "mount"))
            m = MODE_RO_MOUNT;
        else if (!strcasecmp(mode->str, "download"))
            m = MODE_DOWNLOAD;
        else {
            doc_error(err, j->doc, mode, f, "mode: expected mount, download or upload, got '%s'",
                      mode->str);
            goto out;
        }
    }
    job_io_t *io = upload ? job_io_new(&j->outputs, &j->noutputs, key, v)
                          : job_io_new(&j->inputs, &j->ninputs, key, v);
    if (!io) {
        ferr_set(err, FERR_INTERNAL, "out of memory");
        goto out;
    }
    io->type = IO_URI_FOLDER;
    io->mode = m;
    io->overwrite = overwrite;
    if (asprintf(&io->path, "azureml://datastores/%s/paths/%s", ds->str,
                 p && !doc_is_null(p) ? p->str : "") < 0) {
        io->path = NULL;
        ferr_set(err, FERR_INTERNAL, "out of memory");
        goto out;
    }
    if (poc && !doc_is_null(poc) && *poc->str) {
        /* relative to the run's work dir, and staying inside it */
        const char *why = job_poc_why(poc->str);
        if (why) {
            char *pf2 = job_fieldf("%s.pathOnCompute", f);
            doc_error(err, j->doc, poc, pf2,
                      "'%s' %s: it must stay inside the run's work dir (a relative path "
                      "without '..')",
                      poc->str, why);
            free(pf2);
            goto out;
        }
        io->local_path = xstrdup(poc->str);
    }
    char *pf = job_fieldf("%s.pathOnDataStore", f);
    rc = job_check_path(j, io, p ? p : ds, pf, !upload, err);
    free(pf);
out:
    free(f);
    return rc;
}

/* An unknown key is a warning, as the v1 SDK ignored it. */
static void v1_keys_known(job_t *j, const doc_node_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        char *k = job_v1_camel(r->pairs[i].key->str);
        if (job_in_list(v1_service_keys, k) || job_in_list(v1_service_keys, r->pairs[i].key->str))
            job_add_ignored(j, r->pairs[i].key->str);
        else if (!job_in_list(v1_keys, k)) {
            ferr_t e = FERR_INIT;
            doc_error(&e, j->doc, r->pairs[i].key, r->pairs[i].key->str,
                      "not a key of a v1 runconfig; ignored, as the v1 SDK did");
            job_warn(j, e.msg);
            ferr_clear(&e);
        }
        free(k);
    }
}

/* environment: its variables, and the interpreter a .py script runs with. */
static int v1_environment(job_t *j, const doc_node_t *r, const char **interp, ferr_t *err)
{
    const doc_node_t *env = job_v1_get(r, "environment");
    if (!env || doc_is_null(env) || env->kind == DOC_SCALAR)
        return 0; /* (a string names an environment file, for the service) */
    if (env->kind != DOC_MAP)
        return doc_error(err, j->doc, env, "environment", "expected a mapping");
    if (job_parse_env_map(j, job_v1_get(env, "environmentVariables"),
                          "environment.environmentVariables", err))
        return -1;
    const doc_node_t *py = job_v1_get(env, "python");
    const doc_node_t *ip = py ? job_v1_get(py, "interpreterPath") : NULL;
    if (ip && !doc_is_null(ip)) {
        if (job_want_string(j, ip, "environment.python.interpreterPath", err))
            return -1;
        *interp = ip->str;
    }
    return 0;
}

static void v1_datarefs(job_t *j, const doc_node_t *r, ferr_t *err)
{
    const doc_node_t *refs = job_v1_get(r, "dataReferences");
    if (!refs || doc_is_null(refs))
        return;
    if (refs->kind != DOC_MAP) {
        doc_error(err, j->doc, refs, "dataReferences", "expected a mapping of key: reference");
        job_note(j, err);
        return;
    }
    for (size_t i = 0; i < refs->n; i++) {
        const char *key = refs->pairs[i].key->str;
        int rc = !job_name_ok(key) ? doc_error(err, j->doc, refs->pairs[i].key, "dataReferences",
                                               "'%s': a key has only letters, digits, '_' and "
                                               "'-'",
                                               key)
                                   : parse_dataref(j, key, refs->pairs[i].val, err);
        if (rc)
            job_note(j, err);
    }
}

static int v1_timeout(job_t *j, const doc_node_t *r, ferr_t *err)
{
    const doc_node_t *mrd = job_v1_get(r, "maxRunDurationSeconds");
    long long t;
    if (!mrd || doc_is_null(mrd))
        return 0;
    if (!doc_is_int(mrd, &t) || t <= 0)
        return doc_error(err, j->doc, mrd, "maxRunDurationSeconds",
                         "expected a whole number of seconds above 0");
    j->timeout = (long)t;
    return 0;
}

/* A script runs directly (a .py one with the interpreter); a command list
 * is argv; a command string goes to /bin/sh -c. */
static int v1_command(job_t *j, const doc_node_t *r, const char *interp, ferr_t *err)
{
    const doc_node_t *cmd = job_v1_get(r, "command"), *script = job_v1_get(r, "script");
    if (cmd && !doc_is_null(cmd) && !(cmd->kind == DOC_SEQ && cmd->n == 0)) {
        if (script && !doc_is_null(script))
            return doc_error(err, j->doc, cmd, "command", "give either script or command");
        j->command_node = cmd;
        if (cmd->kind != DOC_SEQ) {
            if (job_want_string(j, cmd, "command", err))
                return -1;
            j->command = xstrdup(cmd->str);
            return 0;
        }
        for (size_t i = 0; i < cmd->n; i++) {
            if (cmd->items[i]->kind != DOC_SCALAR)
                return doc_error(err, j->doc, cmd->items[i], "command",
                                 "expected a list of strings");
            argv_add(j, cmd->items[i]->str);
        }
        return 0;
    }
    if (!script || doc_is_null(script))
        return doc_error(err, j->doc, r, "script", "a runconfig needs a script (or command)");
    if (job_want_string(j, script, "script", err))
        return -1;
    j->command_node = script;
    size_t sl = strlen(script->str);
    if (sl > 3 && !strcmp(script->str + sl - 3, ".py")) {
        argv_add(j, interp);
        argv_add(j, script->str);
    } else if (!strchr(script->str, '/')) {
        char *rel = job_fieldf("./%s", script->str);
        argv_add(j, rel);
        free(rel);
    } else {
        argv_add(j, script->str);
    }
    return 0;
}

static int v1_arguments(job_t *j, const doc_node_t *r, ferr_t *err)
{
    const doc_node_t *args = job_v1_get(r, "arguments");
    if (!args || doc_is_null(args))
        return 0;
    if (args->kind != DOC_SEQ)
        return doc_error(err, j->doc, args, "arguments", "expected a list");
    if (!j->argv)
        return doc_error(err, j->doc, args, "arguments",
                         "arguments go with script (or a command list), not a command string");
    for (size_t i = 0; i < args->n; i++) {
        const doc_node_t *a = args->items[i];
        if (a->kind != DOC_SCALAR)
            return doc_error(err, j->doc, a, "arguments", "expected a list of strings");
        char *out = NULL, *bad = NULL;
        if (job_subst_datarefs(a->str, dataref_known, j, &out, &bad)) {
            doc_error(err, j->doc, a, "arguments",
                      "$AZUREML_DATAREFERENCE_%s: no dataReferences entry has that key",
                      bad ? bad : "");
            free(bad);
            return -1;
        }
        free(out);
        argv_add(j, a->str);
    }
    return 0;
}

/* As in v2, every section is read so that validate shows every problem. */
int job_parse_v1(job_t *j, const doc_node_t *r, ferr_t *err)
{
    const char *interp = "python3";
    v1_keys_known(j, r);
    if (v1_environment(j, r, &interp, err))
        job_note(j, err);
    if (job_parse_env_map(j, job_v1_get(r, "environmentVariables"), "environmentVariables", err))
        job_note(j, err);
    size_t before = j->nproblems;
    v1_datarefs(j, r, err);
    job_v1_datasets(j, r, err);
    /* arguments name data references: checked only when all were read */
    int refs_ok = before == j->nproblems;
    if (v1_timeout(j, r, err))
        job_note(j, err);
    if (v1_command(j, r, interp, err))
        job_note(j, err);
    else if (refs_ok && v1_arguments(j, r, err))
        job_note(j, err);
    return j->nproblems ? -1 : 0;
}
