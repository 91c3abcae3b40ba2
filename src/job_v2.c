/* The v2 front-end: Azure ML command jobs (inputs, outputs, command). */
#define _GNU_SOURCE
#include "job_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "asset.h"
#include "pack.h"
#include "path.h"
#include "store.h"
#include "uri.h"

#include "xalloc.h"

/* Keys of a v2 command job that only the Azure ML service acts on. */
static const char *v2_service_keys[] = {"$schema",          "name",
                                        "display_name",     "experiment_name",
                                        "description",      "tags",
                                        "properties",       "compute",
                                        "environment",      "resources",
                                        "distribution",     "identity",
                                        "services",         "queue_settings",
                                        "is_deterministic", "status",
                                        "creation_context", "id",
                                        "parent_job_name",  NULL};
static const char *v2_keys[] = {"type",   "command", "code",   "environment_variables",
                                "inputs", "outputs", "limits", NULL};

static const char *input_keys[] = {"type",   "path",  "mode", "description", "optional",
                                   "folder", "file",  "data", "value",       "default",
                                   "unpack", "shard", NULL};
static const char *output_keys[] = {"type",    "path",    "mode",   "description",   "name",
                                    "version", "archive", "shared", "sync_interval", NULL};

/* The 2021 preview's data: {path: ...}, {local_path: ...} or {datastore:
 * azureml:<ds>, path: <p>}: the path it means, malloc'd, or NULL (err set). */
static char *preview_data(job_t *j, const doc_node_t *d, const char *f, const doc_node_t **at,
                          ferr_t *err)
{
    static const char *keys[] = {"path", "local_path", "datastore", NULL};
    for (size_t i = 0; i < d->n; i++)
        if (!job_in_list(keys, d->pairs[i].key->str)) {
            doc_error(err, j->doc, d->pairs[i].key, f,
                      "unknown key '%s' in data (expected path, local_path, or datastore "
                      "with path)",
                      d->pairs[i].key->str);
            return NULL;
        }
    const doc_node_t *p = doc_get(d, "path"), *lp = doc_get(d, "local_path"),
                     *ds = doc_get(d, "datastore");
    if (!!p + !!lp != 1 || (ds && !p)) {
        doc_error(err, j->doc, d, f,
                  "data: give path (with datastore, if it names one) or "
                  "local_path");
        return NULL;
    }
    *at = p ? p : lp;
    if (job_want_string(j, *at, f, err) || (ds && job_want_string(j, ds, f, err)))
        return NULL;
    if (!ds)
        return xstrdup((*at)->str);
    const char *dn = !strncmp(ds->str, "azureml:", 8) ? ds->str + 8 : ds->str;
    const char *rel = p->str;
    while (*rel == '/')
        rel++;
    return xasprintf("azureml://datastores/%s/paths/%s", dn, rel);
}

/* The path of an input, by its v2 key or a legacy one (folder, file, data);
 * *text is malloc'd, NULL when there is none. */
static int input_path(job_t *j, job_io_t *io, const doc_node_t *v, const char *f, char **text,
                      const doc_node_t **path, const char **pathkey, ferr_t *err)
{
    static const char *legacy[] = {"folder", "file", "data"};
    *path = doc_get(v, "path");
    *pathkey = "path";
    *text = NULL;
    for (int k = 0; k < 3; k++) {
        const doc_node_t *alt = doc_get(v, legacy[k]);
        if (!alt)
            continue;
        if (*path)
            return doc_error(err, j->doc, alt, f, "give either path or %s, not both", legacy[k]);
        *path = alt;
        *pathkey = legacy[k];
        if (k == 1)
            io->type = IO_URI_FILE;
    }
    if (!*path)
        return 0;
    if ((*path)->kind == DOC_MAP && !strcmp(*pathkey, "data")) {
        char *pf = job_fieldf("%s.data", f);
        *text = preview_data(j, *path, pf, path, err);
        free(pf);
        return *text ? 0 : -1;
    }
    if (job_want_string(j, *path, f, err))
        return -1;
    *text = xstrdup((*path)->str);
    return 0;
}

/* type: uri_folder or uri_file, or a table or model type (staged as a folder). */
static int input_type(job_t *j, job_io_t *io, const doc_node_t *type, const char *f, ferr_t *err)
{
    const char *ts = type->str;
    io->type_given = 1;
    if (!strcmp(ts, "uri_folder")) {
        io->type = IO_URI_FOLDER;
    } else if (!strcmp(ts, "uri_file")) {
        io->type = IO_URI_FILE;
    } else if (job_folder_kind(ts)) {
        io->type = IO_URI_FOLDER;
        io->kind = xstrdup(ts);
    } else {
        return doc_error(err, j->doc, type, f,
                         "type: expected uri_folder, uri_file, mltable, mlflow_model, "
                         "custom_model, triton_model, or a literal type (string, integer, "
                         "number, boolean), got '%s'",
                         ts);
    }
    return 0;
}

/* The mode and the path of a data input, checked. */
static int input_data(job_t *j, job_io_t *io, const doc_node_t *v, char *text,
                      const doc_node_t *path, const char *pathkey, const char *f, ferr_t *err)
{
    const doc_node_t *mode = doc_get(v, "mode");
    io->mode = MODE_RO_MOUNT;
    io->path = text;
    if (mode) {
        if (job_want_string(j, mode, f, err))
            return -1;
        if (job_parse_mode(mode->str, 1, &io->mode))
            return doc_error(err, j->doc, mode, f,
                             "mode: expected ro_mount, download, direct, eval_mount or "
                             "eval_download for an input, got '%s'",
                             mode->str);
    }
    if (!text)
        return doc_error(err, j->doc, v, f, "an input of type %s needs a path", job_io_type(io));
    const doc_node_t *sh = doc_get(v, "shard");
    if (sh && !doc_is_null(sh)) {
        if (sh->kind != DOC_SCALAR ||
            (strcmp(sh->str, "by_files") && strcmp(sh->str, "by_bytes") && strcmp(sh->str, "none")))
            return doc_error(err, j->doc, sh, f, "shard: expected by_files, by_bytes or none");
        io->shard = !strcmp(sh->str, "by_files") ? 1 : !strcmp(sh->str, "by_bytes") ? 2 : 0;
        if (io->shard && (io->type != IO_URI_FOLDER || io->mode == MODE_DIRECT))
            return doc_error(err, j->doc, sh, f,
                             "shard: splits a folder's files among ranks: the input is a "
                             "uri_folder, staged (download or ro_mount)");
    }
    const doc_node_t *up = doc_get(v, "unpack");
    if (up && !doc_is_null(up) && !doc_is_bool(up, &io->unpack))
        return doc_error(err, j->doc, up, f, "unpack: expected true or false");
    if (io->unpack && (io->type != IO_URI_FILE || io->mode == MODE_DIRECT))
        return doc_error(err, j->doc, up, f,
                         "unpack: an archive is one file: say type: uri_file (and mode "
                         "download or ro_mount)");
    char *pf = job_fieldf("%s.%s", f, pathkey);
    int rc = job_check_path(j, io, path, pf, 1, err);
    free(pf);
    return rc;
}

/* One input: a literal (a scalar, or a mapping with a literal type or a
 * value), or data by type, path and mode. */
static int input_def(job_t *j, job_io_t *io, const doc_node_t *v, const char *f, ferr_t *err)
{
    if (v->kind == DOC_SEQ || doc_is_null(v))
        return doc_error(err, j->doc, v, f,
                         "expected a value (a number, string or boolean) or a mapping with type "
                         "and path, got %s",
                         doc_kind_name(v));
    if (v->kind == DOC_SCALAR) {
        io->type = IO_LITERAL;
        io->value = xstrdup(v->str);
        return 0;
    }
    for (size_t i = 0; i < v->n; i++)
        if (!job_in_list(input_keys, v->pairs[i].key->str))
            return doc_error(err, j->doc, v->pairs[i].key, f,
                             "unknown key '%s' (expected type, path, mode, description, or value "
                             "for a literal)",
                             v->pairs[i].key->str);
    const doc_node_t *type = doc_get(v, "type"), *value = doc_get(v, "value"), *path;
    const char *pathkey;
    char *text = NULL;
    if (!value)
        value = doc_get(v, "default");
    io->type = IO_URI_FOLDER;
    if (input_path(j, io, v, f, &text, &path, &pathkey, err) ||
        (type && job_want_string(j, type, f, err))) {
        free(text);
        return -1;
    }
    if (value && path) {
        free(text);
        return doc_error(err, j->doc, value, f,
                         "give either a value (a literal) or a path, not both");
    }
    const char *ts = type ? type->str : NULL;
    int literal_type = ts && (!strcmp(ts, "string") || !strcmp(ts, "integer") ||
                              !strcmp(ts, "number") || !strcmp(ts, "boolean"));
    if (literal_type || (!ts && value && !path)) {
        free(text);
        if (!value || value->kind != DOC_SCALAR || doc_is_null(value))
            return doc_error(err, j->doc, value ? value : v, f,
                             "value: expected a number, string or boolean");
        io->type = IO_LITERAL;
        io->value = xstrdup(value->str);
        return 0;
    }
    if (ts && input_type(j, io, type, f, err)) {
        free(text);
        return -1;
    }
    return input_data(j, io, v, text, path, pathkey, f, err);
}

static int parse_v2_input(job_t *j, const char *name, const doc_node_t *v, ferr_t *err)
{
    char *f = job_fieldf("inputs.%s", name);
    job_io_t *io = job_io_new(&j->inputs, &j->ninputs, name, v);
    int rc = input_def(j, io, v, f, err);
    free(f);
    return rc;
}

/* name: and version: make the output a data asset after a successful run. */
static int output_asset(job_t *j, job_io_t *io, const doc_node_t *v, const char *f, ferr_t *err)
{
    const doc_node_t *n = doc_get(v, "name"), *ver = doc_get(v, "version");
    if (ver && !doc_is_null(ver) && (!n || doc_is_null(n)))
        return doc_error(err, j->doc, ver, f,
                         "version: names the version of the data asset the output becomes; "
                         "give its name: too");
    if (!n || doc_is_null(n))
        return 0;
    if (n->kind != DOC_SCALAR || !asset_name_ok(n->str))
        return doc_error(err, j->doc, n, f,
                         "name: a data asset's name has up to 255 letters, digits, '-', '_' and "
                         "'.', starting with a letter or digit");
    if (ver && !doc_is_null(ver) && (ver->kind != DOC_SCALAR || !asset_version_ok(ver->str)))
        return doc_error(err, j->doc, ver, f,
                         "version: up to 64 letters, digits, '-', '_' and '.', starting with a "
                         "letter or digit");
    io->asset_name = xstrdup(n->str);
    io->asset_version = ver && !doc_is_null(ver) ? xstrdup(ver->str) : NULL;
    return 0;
}

/* archive: tar.gz, tar.zst or zip (ferry's own key): a folder output goes
 * up as one archive object. */
static int output_archive(job_t *j, job_io_t *io, const doc_node_t *v, const char *f, ferr_t *err)
{
    const doc_node_t *a = doc_get(v, "archive");
    if (!a || doc_is_null(a))
        return 0;
    if (a->kind != DOC_SCALAR || !pack_extension(a->str))
        return doc_error(err, j->doc, a, f, "archive: expected tar.gz, tar.zst or zip");
    if (io->type == IO_URI_FILE)
        return doc_error(err, j->doc, a, f, "archive: packs a folder: the output is a uri_file");
    io->archive = xstrdup(a->str);
    return 0;
}

static int parse_v2_output(job_t *j, const char *name, const doc_node_t *v, ferr_t *err)
{
    char *f = job_fieldf("outputs.%s", name);
    int rc = -1;
    job_io_t *io = job_io_new(&j->outputs, &j->noutputs, name, v);
    if (!f || !io) {
        ferr_set(err, FERR_INTERNAL, "out of memory");
        goto out;
    }
    io->type = IO_URI_FOLDER;
    io->mode = MODE_RW_MOUNT;
    io->overwrite = 1;
    if (doc_is_null(v)) {
        rc = 0;
        goto out;
    }
    if (v->kind != DOC_MAP) {
        doc_error(err, j->doc, v, f, "expected a mapping with type, path and mode, or nothing");
        goto out;
    }
    for (size_t i = 0; i < v->n; i++)
        if (!job_in_list(output_keys, v->pairs[i].key->str)) {
            doc_error(err, j->doc, v->pairs[i].key, f,
                      "unknown key '%s' (expected type, path, mode, description, name, "
                      "version, sync_interval, archive, shared)",
                      v->pairs[i].key->str);
            goto out;
        }
    const doc_node_t *type = doc_get(v, "type"), *mode = doc_get(v, "mode"),
                     *path = doc_get(v, "path"), *si = doc_get(v, "sync_interval");
    long long siv;
    if (si && !doc_is_null(si)) {
        if (!doc_is_int(si, &siv) || siv <= 0) {
            doc_error(err, j->doc, si, f, "sync_interval: expected whole seconds above 0");
            goto out;
        }
        io->sync_interval = (long)siv;
    }
    if (type) {
        if (job_want_string(j, type, f, err))
            goto out;
        io->type_given = 1;
        if (!strcmp(type->str, "uri_folder"))
            io->type = IO_URI_FOLDER;
        else if (!strcmp(type->str, "uri_file"))
            io->type = IO_URI_FILE;
        else if (job_folder_kind(type->str))
            io->kind = xstrdup(type->str);
        else {
            doc_error(err, j->doc, type, f,
                      "type: expected uri_folder, uri_file, mltable, mlflow_model, "
                      "custom_model or triton_model, got '%s'",
                      type->str);
            goto out;
        }
    }
    if (output_asset(j, io, v, f, err) || output_archive(j, io, v, f, err))
        goto out;
    const doc_node_t *shd = doc_get(v, "shared");
    if (shd && !doc_is_null(shd) && !doc_is_bool(shd, &io->shared)) {
        doc_error(err, j->doc, shd, f, "shared: expected true or false");
        goto out;
    }
    if (mode) {
        if (job_want_string(j, mode, f, err))
            goto out;
        if (job_parse_mode(mode->str, 0, &io->mode)) {
            doc_error(err, j->doc, mode, f,
                      "mode: expected rw_mount or upload for an output, got '%s'", mode->str);
            goto out;
        }
        io->mode_given = 1;
    }
    if (path) {
        if (job_want_string(j, path, f, err))
            goto out;
        io->path = xstrdup(path->str);
        char *pf = job_fieldf("%s.path", f);
        rc = job_check_path(j, io, path, pf, 0, err);
        free(pf);
        goto out;
    }
    rc = 0;
out:
    free(f);
    return rc;
}

/* --- reference checks --- */

typedef struct refcheck {
    const job_t *j;
    int output_path; /* the refs output paths may use */
} refcheck_t;

static const char *ref_known(void *ud, const char *ref)
{
    const refcheck_t *rc = ud;
    if (!strcmp(ref, "run.id") || !strcmp(ref, "name"))
        return "";
    if (rc->output_path)
        return !strcmp(ref, "output_name") ? "" : NULL;
    if (!strncmp(ref, "inputs.", 7)) {
        for (size_t i = 0; i < rc->j->ninputs; i++)
            if (!strcmp(rc->j->inputs[i].name, ref + 7))
                return "";
    } else if (!strncmp(ref, "outputs.", 8)) {
        for (size_t i = 0; i < rc->j->noutputs; i++)
            if (!strcmp(rc->j->outputs[i].name, ref + 8))
                return "";
    }
    return NULL;
}

static int check_refs(const job_t *j, const char *text, const doc_node_t *node, const char *field,
                      int output_path, ferr_t *err)
{
    refcheck_t rc = {j, output_path};
    char *out = NULL, *bad = NULL;
    if (job_subst(text, ref_known, &rc, &out, &bad) == 0) {
        free(out);
        return 0;
    }
    int r;
    if (!bad)
        r = doc_error(err, j->doc, node, field, "'${{' without a closing '}}'");
    else if (output_path)
        r = doc_error(err, j->doc, node, field,
                      "unknown reference ${{%s}} (an output path may use ${{name}}, "
                      "${{run.id}} and ${{output_name}})",
                      bad);
    else
        r = doc_error(err, j->doc, node, field,
                      "unknown reference ${{%s}} (expected ${{inputs.<name>}}, "
                      "${{outputs.<name>}} or ${{run.id}} with a declared name)",
                      bad);
    free(bad);
    return r;
}

/* Each entry on its own: a bad one is noted and the next is read. */
static void parse_io_map(job_t *j, const doc_node_t *m, const char *field, int input, ferr_t *err)
{
    if (!m || doc_is_null(m))
        return;
    if (m->kind != DOC_MAP) {
        doc_error(err, j->doc, m, field, "expected a mapping of name: definition");
        job_note(j, err);
        return;
    }
    for (size_t i = 0; i < m->n; i++) {
        const char *name = m->pairs[i].key->str;
        int rc = !job_name_ok(name)
                     ? doc_error(err, j->doc, m->pairs[i].key, field,
                                 "'%s': a name starts with a letter or '_' and has only letters, "
                                 "digits, '_' and '-'",
                                 name)
                 : input ? parse_v2_input(j, name, m->pairs[i].val, err)
                         : parse_v2_output(j, name, m->pairs[i].val, err);
        if (rc)
            job_note(j, err);
    }
}

static int v2_keys_known(job_t *j, const doc_node_t *r, ferr_t *err)
{
    for (size_t i = 0; i < r->n; i++) {
        const char *k = r->pairs[i].key->str;
        if (job_in_list(v2_service_keys, k))
            job_add_ignored(j, k);
        else if (!job_in_list(v2_keys, k)) {
            doc_error(err, j->doc, r->pairs[i].key, k,
                      "unknown key for a command job (expected command, code, inputs, "
                      "outputs, environment_variables, limits, or a key the service "
                      "uses, such as compute or environment)");
            job_note(j, err);
        }
    }
    return 0;
}

/* The kind of job a file is: its type, or for a file without one, the keys
 * only another kind has. NULL: a command job. */
static const char *job_kind(const doc_node_t *r, const doc_node_t **at)
{
    static const struct {
        const char *key, *kind;
    } tells[] = {{"jobs", "pipeline"},      {"trial", "sweep"},
                 {"search_space", "sweep"}, {"sampling_algorithm", "sweep"},
                 {"entry", "spark"},        {"task", "automl"},
                 {"component", "pipeline"}};
    const doc_node_t *type = doc_get(r, "type");
    *at = type;
    if (type && type->kind == DOC_SCALAR)
        return strcmp(type->str, "command") ? type->str : NULL;
    for (size_t i = 0; i < sizeof tells / sizeof *tells; i++)
        if ((*at = doc_get(r, tells[i].key)) && !doc_get(r, "command"))
            return tells[i].kind;
    *at = NULL;
    return NULL;
}

static int v2_type(job_t *j, const doc_node_t *r, ferr_t *err)
{
    const doc_node_t *at, *type = doc_get(r, "type");
    if (type && job_want_string(j, type, "type", err))
        return -1;
    const char *kind = job_kind(r, &at);
    if (!kind)
        return 0;
    const char *hint =
        !strcmp(kind, "pipeline") ? "; run each of its steps as a command job of its own"
        : !strcmp(kind, "sweep")  ? "; run its trial as a command job, once per set of values"
                                  : "";
    doc_error(err, j->doc, at, "type",
              "this is a%s %s job; ferry runs command jobs (type: "
              "command)%s",
              strchr("aeiou", kind[0]) ? "n" : "", kind, hint);
    err->code = FERR_UNSUPPORTED;
    return -1;
}

static int v2_command(job_t *j, const doc_node_t *r, ferr_t *err)
{
    const doc_node_t *cmd = doc_get(r, "command");
    if (!cmd)
        return doc_error(err, j->doc, r, "command", "a command job needs a command");
    if (job_want_string(j, cmd, "command", err))
        return -1;
    if (!*cmd->str)
        return doc_error(err, j->doc, cmd, "command", "the command is empty");
    j->command = xstrdup(cmd->str);
    j->command_node = cmd;
    return 0;
}

static int v2_code(job_t *j, const doc_node_t *r, ferr_t *err)
{
    const doc_node_t *code = doc_get(r, "code");
    if (code && code->kind == DOC_MAP) { /* the 2021 preview's code: {local_path: src} */
        const doc_node_t *lp = doc_get(code, "local_path");
        if (!lp || code->n != 1)
            return doc_error(err, j->doc, code, "code",
                             "expected a folder (code: src), or the preview form code: "
                             "{local_path: src}");
        code = lp;
    }
    if (!code || doc_is_null(code))
        return 0;
    if (job_want_string(j, code, "code", err))
        return -1;
    uri_t u;
    const char *why;
    if (uri_parse(code->str, &u, &why))
        return doc_error(err, j->doc, code, "code", "'%s': %s", code->str, why);
    if (u.kind != URI_LOCAL) {
        uri_dispose(&u);
        return doc_error(err, j->doc, code, "code",
                         "'%s': expected a local folder (relative to the job file)", code->str);
    }
    j->code = path_absolute(u.path, j->dir);
    uri_dispose(&u);
    /* checked here, so validate finds what run would refuse */
    struct stat st;
    if (stat(j->code, &st) != 0 || !S_ISDIR(st.st_mode))
        return doc_error(err, j->doc, code, "code",
                         "the folder '%s' does not exist (a path is relative to the job "
                         "file's folder)",
                         code->str);
    return 0;
}

static int v2_limits(job_t *j, const doc_node_t *r, ferr_t *err)
{
    const doc_node_t *limits = doc_get(r, "limits");
    if (!limits || doc_is_null(limits))
        return 0;
    if (limits->kind != DOC_MAP)
        return doc_error(err, j->doc, limits, "limits", "expected a mapping");
    for (size_t i = 0; i < limits->n; i++) {
        const char *k = limits->pairs[i].key->str;
        const doc_node_t *v = limits->pairs[i].val;
        long long t;
        if (strcmp(k, "timeout"))
            return doc_error(err, j->doc, limits->pairs[i].key, "limits",
                             "unknown key '%s' (expected timeout)", k);
        if (!doc_is_int(v, &t) || t <= 0)
            return doc_error(err, j->doc, v, "limits.timeout",
                             "expected a whole number of seconds above 0, got %s",
                             v->kind == DOC_SCALAR ? v->str : doc_kind_name(v));
        j->timeout = (long)t;
    }
    return 0;
}

/* ${{...}} in the command, the environment and output paths name what exists. */
static int v2_refs(job_t *j, ferr_t *err)
{
    if (check_refs(j, j->command, j->command_node, "command", 0, err))
        job_note(j, err);
    for (size_t i = 0; i < j->nenv; i++) {
        char *f = job_fieldf("environment_variables.%s", j->env[i].name);
        if (check_refs(j, j->env[i].value, j->env[i].node, f, 0, err))
            job_note(j, err);
        free(f);
    }
    for (size_t i = 0; i < j->noutputs; i++) {
        if (!j->outputs[i].path)
            continue;
        char *f = job_fieldf("outputs.%s.path", j->outputs[i].name);
        if (check_refs(j, j->outputs[i].path, doc_get(j->outputs[i].node, "path"), f, 1, err))
            job_note(j, err);
        free(f);
    }
    return 0;
}

/* The 2021 preview wrote {inputs.x} in single braces: where one names a
 * declared input or output (and is not part of ${{...}}), it is taken as
 * ${{inputs.x}}. */
static void preview_braces(job_t *j)
{
    const char *c = j->command;
    size_t len = strlen(c), cap = len * 3 + 1, o = 0;
    char *out = xcalloc(1, cap);
    for (size_t i = 0; i < len; i++) {
        size_t n = c[i] == '{' ? strcspn(c + i + 1, "{}") : 0;
        int edge = i == 0 || (c[i - 1] != '{' && c[i - 1] != '$');
        if (n && edge && c[i + 1 + n] == '}' && c[i + 2 + n] != '}') {
            char *ref = xstrndup(c + i + 1, n);
            refcheck_t rc = {j, 0};
            int known = (!strncmp(ref, "inputs.", 7) || !strncmp(ref, "outputs.", 8)) &&
                        ref_known(&rc, ref);
            if (known) {
                o += (size_t)sprintf(out + o, "${{%s}}", ref);
                i += n + 1;
                free(ref);
                continue;
            }
            free(ref);
        }
        out[o++] = c[i];
    }
    free(j->command);
    j->command = out;
}

/* Every section is read even when one before it was wrong, so that one
 * validate shows every problem; references are checked once what they
 * name was read without a problem. */
int job_parse_v2(job_t *j, const doc_node_t *r, ferr_t *err)
{
    if (v2_type(j, r, err)) /* another kind of job: nothing else applies */
        return -1;
    v2_keys_known(j, r, err);
    if (v2_command(j, r, err))
        job_note(j, err);
    if (v2_code(j, r, err))
        job_note(j, err);
    if (job_parse_env_map(j, doc_get(r, "environment_variables"), "environment_variables", err))
        job_note(j, err);
    if (v2_limits(j, r, err))
        job_note(j, err);
    parse_io_map(j, doc_get(r, "inputs"), "inputs", 1, err);
    parse_io_map(j, doc_get(r, "outputs"), "outputs", 0, err);
    if (!j->nproblems && j->command)
        preview_braces(j);
    if (!j->nproblems)
        v2_refs(j, err);
    return j->nproblems ? -1 : 0;
}
