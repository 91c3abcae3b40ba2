#define _GNU_SOURCE
#include "job.h"

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

/* Keys of a v2 command job that only the Azure ML service acts on. */
static const char *v2_service_keys[] = {
    "$schema",    "name",          "display_name",    "experiment_name", "description",
    "tags",       "properties",    "compute",         "environment",     "resources",
    "distribution", "identity",    "services",        "queue_settings",  "is_deterministic",
    "status",     "creation_context", "id",           "parent_job_name", NULL};
static const char *v2_keys[] = {"type",   "command", "code",   "environment_variables",
                                "inputs", "outputs", "limits", NULL};

/* Keys of a v1 runconfig ferry does not act on. */
static const char *v1_service_keys[] = {
    "target",        "framework",     "communicator",        "nodeCount",
    "priority",      "credentialPassthrough", "identity",    "history",
    "spark",         "hdi",           "docker",              "tensorflow",
    "mpi",           "pyTorch",       "paralleltask",        "datacaches",
    "sourceDirectoryDataStore", "amlcompute", "kubernetescompute", "aiSuperComputer",
    "globalJobDispatcher", "commandReturnCodeConfig", "applicationEndpoints", "parameters",
    "instanceTypes", "autoClusterComputeSpecification", "name", "$schema",
    NULL};
static const char *v1_keys[] = {"script",   "arguments",      "command",
                                "environment", "environmentVariables", "dataReferences",
                                "data",     "outputData",     "maxRunDurationSeconds",
                                NULL};

static int in_list(const char **l, const char *s)
{
    for (; *l; l++)
        if (!strcmp(*l, s))
            return 1;
    return 0;
}

const char *job_format_name(job_format_t f)
{
    return f == JOB_V2 ? "azureml-v2-command-job" : "azureml-v1-runconfig";
}

const char *job_mode_name(io_mode_t m)
{
    static const char *n[] = {"ro_mount", "download", "direct", "upload", "rw_mount"};
    return n[m];
}

const char *job_type_name(io_type_t t)
{
    static const char *n[] = {"literal", "uri_folder", "uri_file"};
    return n[t];
}

static void io_dispose(job_io_t *io)
{
    free(io->name);
    free(io->value);
    free(io->path);
    free(io->local_path);
}

void job_free(job_t *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->ninputs; i++)
        io_dispose(&j->inputs[i]);
    for (size_t i = 0; i < j->noutputs; i++)
        io_dispose(&j->outputs[i]);
    free(j->inputs);
    free(j->outputs);
    for (size_t i = 0; i < j->nenv; i++) {
        free(j->env[i].name);
        free(j->env[i].value);
    }
    free(j->env);
    for (size_t i = 0; i < j->argc; i++)
        free(j->argv[i]);
    free(j->argv);
    for (size_t i = 0; i < j->nignored; i++)
        free(j->ignored[i]);
    free(j->ignored);
    free(j->command);
    free(j->code);
    free(j->file);
    free(j->dir);
    doc_free(j->doc);
    free(j);
}

/* --- substitution --- */

static int subst_generic(const char *text, const char *open, const char *close, int dataref,
                         job_ref_fn fn, void *ud, char **out, char **bad)
{
    *out = NULL;
    *bad = NULL;
    size_t cap = strlen(text) + 64, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return -1;
    const char *p = text;
    size_t ol = strlen(open);
    while (*p) {
        const char *hit = strstr(p, open);
        const char *val = NULL;
        const char *next = NULL;
        char *ref = NULL;
        if (!hit)
            hit = p + strlen(p);
        /* copy text before the reference */
        size_t chunk = (size_t)(hit - p);
        if (len + chunk + 1 > cap) {
            cap = (len + chunk + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                goto fail;
            buf = nb;
        }
        memcpy(buf + len, p, chunk);
        len += chunk;
        if (!*hit)
            break;
        if (dataref) {
            /* $AZUREML_DATAREFERENCE_<key>: the longest key the callback knows */
            const char *s = hit + ol;
            const char *e = s;
            while (isalnum((unsigned char)*e) || *e == '_' || *e == '-')
                e++;
            for (const char *try = e; try > s && !val; try--) {
                free(ref);
                ref = strndup(s, (size_t)(try - s));
                val = fn(ud, ref);
                next = try;
            }
            if (!val) {
                free(ref);
                *bad = strndup(s, (size_t)(e - s));
                goto fail;
            }
        } else {
            const char *e = strstr(hit + ol, close);
            if (!e)
                goto fail; /* unterminated: *bad stays NULL */
            const char *s = hit + ol;
            while (s < e && isspace((unsigned char)*s))
                s++;
            const char *t = e;
            while (t > s && isspace((unsigned char)t[-1]))
                t--;
            ref = strndup(s, (size_t)(t - s));
            val = ref ? fn(ud, ref) : NULL;
            if (!val) {
                *bad = ref;
                goto fail;
            }
            next = e + strlen(close);
        }
        free(ref);
        size_t vl = strlen(val);
        if (len + vl + 1 > cap) {
            cap = (len + vl + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                goto fail;
            buf = nb;
        }
        memcpy(buf + len, val, vl);
        len += vl;
        p = next;
    }
    buf[len] = 0;
    *out = buf;
    return 0;
fail:
    free(buf);
    return -1;
}

int job_subst(const char *text, job_ref_fn fn, void *ud, char **out, char **bad)
{
    return subst_generic(text, "${{", "}}", 0, fn, ud, out, bad);
}

int job_subst_datarefs(const char *text, job_ref_fn fn, void *ud, char **out, char **bad)
{
    int rc = subst_generic(text, "${AZUREML_DATAREFERENCE_", "}", 0, fn, ud, out, bad);
    if (rc)
        return rc;
    char *mid = *out;
    rc = subst_generic(mid, "$AZUREML_DATAREFERENCE_", NULL, 1, fn, ud, out, bad);
    free(mid);
    return rc;
}

/* --- helpers --- */

static int name_ok(const char *s)
{
    if (!s || !(isalpha((unsigned char)*s) || *s == '_') || strlen(s) > 255)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return 0;
    return 1;
}

static int env_name_ok(const char *s)
{
    if (!s || !(isalpha((unsigned char)*s) || *s == '_'))
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static char *fieldf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *fieldf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static int want_string(const job_t *j, const doc_node_t *n, const char *field, ferr_t *err)
{
    if (n->kind != DOC_SCALAR || doc_is_null(n))
        return doc_error(err, j->doc, n, field, "expected a string, got %s", doc_kind_name(n));
    return 0;
}

/* Makes room for one more element (and `spare` after it) in an array that only
 * this file grows, one at a time: its capacity is implied by how many it holds
 * (8, or the power of two at or above), so that growing stays linear. */
static int grow_one(void *arrp, size_t n, size_t spare, size_t size)
{
    void **arr = arrp;
    size_t used = n + spare;
    if (*arr && (used < 8 || (used & (used - 1))))
        return 0;
    void *g = realloc(*arr, (used < 8 ? 8 : used * 2) * size);
    if (!g)
        return -1;
    *arr = g;
    return 0;
}

static int add_ignored(job_t *j, const char *key)
{
    if (grow_one(&j->ignored, j->nignored, 0, sizeof *j->ignored))
        return -1;
    j->ignored[j->nignored++] = strdup(key);
    return 0;
}

static int parse_mode(const char *s, int input, io_mode_t *out)
{
    /* eval_mount and eval_download (for evaluation data) stage like ro_mount
     * and download */
    if ((!strcasecmp(s, "ro_mount") || !strcasecmp(s, "eval_mount")) && input)
        *out = MODE_RO_MOUNT;
    else if ((!strcasecmp(s, "download") || !strcasecmp(s, "eval_download")) && input)
        *out = MODE_DOWNLOAD;
    else if (!strcasecmp(s, "direct") && input)
        *out = MODE_DIRECT;
    else if (!strcasecmp(s, "mount"))
        *out = input ? MODE_RO_MOUNT : MODE_RW_MOUNT;
    else if (!strcasecmp(s, "upload") && !input)
        *out = MODE_UPLOAD;
    else if (!strcasecmp(s, "rw_mount") && !input)
        *out = MODE_RW_MOUNT;
    else
        return -1;
    return 0;
}

static int env_add(job_t *j, const char *name, const char *value, const doc_node_t *node)
{
    if (grow_one(&j->env, j->nenv, 0, sizeof *j->env))
        return -1;
    j->env[j->nenv].name = strdup(name);
    j->env[j->nenv].value = strdup(value);
    j->env[j->nenv].node = node;
    j->nenv++;
    return 0;
}

static int parse_env_map(job_t *j, const doc_node_t *m, const char *field, ferr_t *err)
{
    if (doc_is_null(m))
        return 0;
    if (m->kind != DOC_MAP)
        return doc_error(err, j->doc, m, field, "expected a mapping of NAME: value");
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->pairs[i].key->str;
        const doc_node_t *v = m->pairs[i].val;
        if (!env_name_ok(k))
            return doc_error(err, j->doc, m->pairs[i].key, field,
                             "'%s' is not a valid environment variable name", k);
        if (v->kind != DOC_SCALAR)
            return doc_error(err, j->doc, v, field, "%s: expected a string, got %s", k,
                             doc_kind_name(v));
        if (env_add(j, k, doc_is_null(v) ? "" : v->str, v))
            return ferr_set(err, FERR_INTERNAL, "out of memory");
    }
    return 0;
}

static job_io_t *io_new(job_io_t **arr, size_t *n, const char *name, const doc_node_t *node)
{
    if (grow_one(arr, *n, 0, sizeof **arr))
        return NULL;
    job_io_t *io = &(*arr)[(*n)++];
    memset(io, 0, sizeof *io);
    io->name = strdup(name);
    io->node = node;
    return io;
}

/* Checks a path's form now, so that 'validate' catches it. */
/* A local input must be there, and of its type: validate says what run
 * would refuse. */
static int check_local_input(const job_t *j, const job_io_t *io, const doc_node_t *at,
                             const char *field, const char *path, ferr_t *err)
{
    char *abs = path_absolute(path, j->dir);
    struct stat st;
    int rc = 0;
    if (stat(abs, &st) != 0)
        rc = doc_error(err, j->doc, at, field,
                       "'%s': no such file or folder (a path is relative to the job file's "
                       "folder)",
                       io->path);
    else if (io->type == IO_URI_FILE && !S_ISREG(st.st_mode))
        rc = doc_error(err, j->doc, at, field, "'%s' is not a file (type is uri_file)", io->path);
    else if (io->type == IO_URI_FOLDER && !S_ISDIR(st.st_mode))
        rc = doc_error(err, j->doc, at, field,
                       "'%s' is not a folder (type is uri_folder; use uri_file for a file)",
                       io->path);
    free(abs);
    return rc;
}

static int check_path(const job_t *j, const job_io_t *io, const doc_node_t *at, const char *field,
                      int input, ferr_t *err)
{
    uri_t u;
    const char *why;
    if (uri_parse(io->path, &u, &why))
        return doc_error(err, j->doc, at, field, "'%s': %s", io->path, why);
    int rc = 0;
    if (u.kind == URI_ASSET)
        rc = doc_error(err, j->doc, at, field,
                       "'%s': data assets are not supported yet; name the data by datastore "
                       "instead: azureml://datastores/<datastore>/paths/<path>",
                       io->path);
    else if (u.kind == URI_URL && !(input && io->mode == MODE_DIRECT)) {
        datastore_t *adhoc = NULL;
        char *path = NULL;
        const char *bwhy = NULL;
        int known = store_url_parse(io->path, io->name, &adhoc, &path, &bwhy);
        if (known)
            rc = doc_error(err, j->doc, at, field,
                           "'%s': %s; ferry stages %s, and passes any other URL with mode: direct",
                           io->path, known == -2 ? "not a URL of a datastore's service" : bwhy,
                           store_url_forms());
        datastore_free(adhoc);
        free(path);
    }
    else if (u.kind == URI_LOCAL && !input)
        rc = doc_error(err, j->doc, at, field,
                       "'%s': an output goes to a datastore: "
                       "azureml://datastores/<datastore>/paths/<path>",
                       io->path);
    else if (u.kind == URI_LOCAL)
        rc = check_local_input(j, io, at, field, u.path, err);
    else if (u.kind == URI_DATASTORE) {
        const char *w2;
        char *norm = path_remote_normalize(u.path, &w2);
        if (!norm)
            rc = doc_error(err, j->doc, at, field, "'%s': the path %s", io->path,
                           w2 ? w2 : "is not valid");
        free(norm);
    }
    uri_dispose(&u);
    return rc;
}

static const char *input_keys[] = {"type", "path",  "mode",  "description", "optional",
                                   "folder", "file", "data", "value",       "default",
                                   NULL};
static const char *output_keys[] = {"type", "path", "mode", "description", "name", "version",
                                    "sync_interval", NULL};

static int parse_v2_input(job_t *j, const char *name, const doc_node_t *v, ferr_t *err)
{
    char *f = fieldf("inputs.%s", name);
    int rc = -1;
    job_io_t *io = io_new(&j->inputs, &j->ninputs, name, v);
    if (!f || !io) {
        ferr_set(err, FERR_INTERNAL, "out of memory");
        goto out;
    }
    if (v->kind == DOC_SEQ || doc_is_null(v)) {
        doc_error(err, j->doc, v, f,
                  "expected a value (a number, string or boolean) or a mapping with type and "
                  "path, got %s",
                  doc_kind_name(v));
        goto out;
    }
    if (v->kind == DOC_SCALAR) {
        io->type = IO_LITERAL;
        io->value = strdup(v->str);
        rc = 0;
        goto out;
    }
    for (size_t i = 0; i < v->n; i++)
        if (!in_list(input_keys, v->pairs[i].key->str)) {
            doc_error(err, j->doc, v->pairs[i].key, f,
                      "unknown key '%s' (expected type, path, mode, description, or value for "
                      "a literal)",
                      v->pairs[i].key->str);
            goto out;
        }
    const doc_node_t *type = doc_get(v, "type"), *mode = doc_get(v, "mode");
    const doc_node_t *value = doc_get(v, "value");
    if (!value)
        value = doc_get(v, "default");
    const doc_node_t *path = doc_get(v, "path");
    const char *pathkey = "path";
    io->type = IO_URI_FOLDER;
    static const char *legacy[] = {"folder", "file", "data"};
    for (int k = 0; k < 3; k++) {
        const doc_node_t *alt = doc_get(v, legacy[k]);
        if (!alt)
            continue;
        if (path) {
            doc_error(err, j->doc, alt, f, "give either path or %s, not both", legacy[k]);
            goto out;
        }
        path = alt;
        pathkey = legacy[k];
        if (k == 1)
            io->type = IO_URI_FILE;
    }
    if (type && want_string(j, type, f, err))
        goto out;
    if (value && path) {
        doc_error(err, j->doc, value, f, "give either a value (a literal) or a path, not both");
        goto out;
    }
    const char *ts = type ? type->str : NULL;
    int literal_type = ts && (!strcmp(ts, "string") || !strcmp(ts, "integer") ||
                              !strcmp(ts, "number") || !strcmp(ts, "boolean"));
    if (literal_type || (!ts && value && !path)) {
        if (!value || value->kind != DOC_SCALAR || doc_is_null(value)) {
            doc_error(err, j->doc, value ? value : v, f,
                      "value: expected a number, string or boolean");
            goto out;
        }
        io->type = IO_LITERAL;
        io->value = strdup(value->str);
        rc = 0;
        goto out;
    }
    if (ts) {
        if (!strcmp(ts, "uri_folder"))
            io->type = IO_URI_FOLDER;
        else if (!strcmp(ts, "uri_file"))
            io->type = IO_URI_FILE;
        else if (!strcmp(ts, "mltable") || !strcmp(ts, "mlflow_model") ||
                 !strcmp(ts, "custom_model") || !strcmp(ts, "triton_model")) {
            doc_error(err, j->doc, type, f, "type %s is not supported yet (use uri_folder or "
                      "uri_file)", ts);
            err->code = FERR_UNSUPPORTED;
            goto out;
        } else {
            doc_error(err, j->doc, type, f,
                      "type: expected uri_folder, uri_file, or a literal type (string, integer, "
                      "number, boolean), got '%s'",
                      ts);
            goto out;
        }
    }
    io->mode = MODE_RO_MOUNT;
    if (mode) {
        if (want_string(j, mode, f, err))
            goto out;
        if (parse_mode(mode->str, 1, &io->mode)) {
            doc_error(err, j->doc, mode, f,
                      "mode: expected ro_mount, download or direct for an input, got '%s'",
                      mode->str);
            goto out;
        }
    }
    if (!path) {
        doc_error(err, j->doc, v, f, "an input of type %s needs a path",
                  job_type_name(io->type));
        goto out;
    }
    if (want_string(j, path, f, err))
        goto out;
    io->path = strdup(path->str);
    char *pf = fieldf("%s.%s", f, pathkey);
    rc = check_path(j, io, path, pf, 1, err);
    free(pf);
out:
    free(f);
    return rc;
}

static int parse_v2_output(job_t *j, const char *name, const doc_node_t *v, ferr_t *err)
{
    char *f = fieldf("outputs.%s", name);
    int rc = -1;
    job_io_t *io = io_new(&j->outputs, &j->noutputs, name, v);
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
        if (!in_list(output_keys, v->pairs[i].key->str)) {
            doc_error(err, j->doc, v->pairs[i].key, f,
                      "unknown key '%s' (expected type, path, mode, description)",
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
        if (want_string(j, type, f, err))
            goto out;
        if (!strcmp(type->str, "uri_folder"))
            io->type = IO_URI_FOLDER;
        else if (!strcmp(type->str, "uri_file"))
            io->type = IO_URI_FILE;
        else {
            doc_error(err, j->doc, type, f, "type: expected uri_folder or uri_file, got '%s'",
                      type->str);
            if (!strcmp(type->str, "mlflow_model") || !strcmp(type->str, "custom_model") ||
                !strcmp(type->str, "mltable") || !strcmp(type->str, "triton_model"))
                err->code = FERR_UNSUPPORTED;
            goto out;
        }
    }
    if (mode) {
        if (want_string(j, mode, f, err))
            goto out;
        if (parse_mode(mode->str, 0, &io->mode)) {
            doc_error(err, j->doc, mode, f,
                      "mode: expected rw_mount or upload for an output, got '%s'", mode->str);
            goto out;
        }
    }
    if (path) {
        if (want_string(j, path, f, err))
            goto out;
        io->path = strdup(path->str);
        char *pf = fieldf("%s.path", f);
        rc = check_path(j, io, path, pf, 0, err);
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

static int check_refs(const job_t *j, const char *text, const doc_node_t *node,
                      const char *field, int output_path, ferr_t *err)
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

static int parse_io_map(job_t *j, const doc_node_t *m, const char *field, int input,
                        ferr_t *err)
{
    if (!m || doc_is_null(m))
        return 0;
    if (m->kind != DOC_MAP)
        return doc_error(err, j->doc, m, field, "expected a mapping of name: definition");
    for (size_t i = 0; i < m->n; i++) {
        const char *name = m->pairs[i].key->str;
        if (!name_ok(name))
            return doc_error(err, j->doc, m->pairs[i].key, field,
                             "'%s': a name starts with a letter or '_' and has only letters, "
                             "digits, '_' and '-'",
                             name);
        int rc = input ? parse_v2_input(j, name, m->pairs[i].val, err)
                       : parse_v2_output(j, name, m->pairs[i].val, err);
        if (rc)
            return -1;
    }
    return 0;
}

static int parse_v2(job_t *j, const doc_node_t *r, ferr_t *err)
{
    for (size_t i = 0; i < r->n; i++) {
        const char *k = r->pairs[i].key->str;
        if (in_list(v2_service_keys, k)) {
            if (add_ignored(j, k))
                return ferr_set(err, FERR_INTERNAL, "out of memory");
        } else if (!in_list(v2_keys, k)) {
            return doc_error(err, j->doc, r->pairs[i].key, k,
                             "unknown key for a command job (expected command, code, inputs, "
                             "outputs, environment_variables, limits, or a key the service "
                             "uses, such as compute or environment)");
        }
    }
    const doc_node_t *type = doc_get(r, "type");
    if (type) {
        if (want_string(j, type, "type", err))
            return -1;
        if (strcmp(type->str, "command")) {
            doc_error(err, j->doc, type, "type",
                      "'%s' jobs are not supported; ferry runs command jobs (type: command)",
                      type->str);
            err->code = FERR_UNSUPPORTED;
            return -1;
        }
    }
    const doc_node_t *cmd = doc_get(r, "command");
    if (!cmd)
        return doc_error(err, j->doc, r, "command", "a command job needs a command");
    if (want_string(j, cmd, "command", err))
        return -1;
    if (!*cmd->str)
        return doc_error(err, j->doc, cmd, "command", "the command is empty");
    j->command = strdup(cmd->str);
    j->command_node = cmd;
    const doc_node_t *code = doc_get(r, "code");
    if (code && !doc_is_null(code)) {
        if (want_string(j, code, "code", err))
            return -1;
        uri_t u;
        const char *why;
        if (uri_parse(code->str, &u, &why))
            return doc_error(err, j->doc, code, "code", "'%s': %s", code->str, why);
        if (u.kind != URI_LOCAL) {
            uri_dispose(&u);
            return doc_error(err, j->doc, code, "code",
                             "'%s': expected a local folder (relative to the job file)",
                             code->str);
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
    }
    if (parse_env_map(j, doc_get(r, "environment_variables"), "environment_variables", err))
        return -1;
    const doc_node_t *limits = doc_get(r, "limits");
    if (limits && !doc_is_null(limits)) {
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
    }
    if (parse_io_map(j, doc_get(r, "inputs"), "inputs", 1, err) ||
        parse_io_map(j, doc_get(r, "outputs"), "outputs", 0, err))
        return -1;
    if (check_refs(j, j->command, cmd, "command", 0, err))
        return -1;
    for (size_t i = 0; i < j->nenv; i++) {
        char *f = fieldf("environment_variables.%s", j->env[i].name);
        int rc = check_refs(j, j->env[i].value, j->env[i].node, f, 0, err);
        free(f);
        if (rc)
            return -1;
    }
    for (size_t i = 0; i < j->noutputs; i++) {
        if (!j->outputs[i].path)
            continue;
        char *f = fieldf("outputs.%s.path", j->outputs[i].name);
        int rc = check_refs(j, j->outputs[i].path, doc_get(j->outputs[i].node, "path"), f, 1,
                            err);
        free(f);
        if (rc)
            return -1;
    }
    return 0;
}

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
    if (grow_one(&j->argv, j->argc, 1, sizeof *j->argv))
        return -1;
    j->argv[j->argc++] = strdup(s);
    j->argv[j->argc] = NULL;
    return 0;
}

/* Why a pathOnCompute would leave the run's work dir, or NULL. "./" and
 * "//" are fine (path_absolute removes them); ".." never is. */
static const char *poc_why(const char *s)
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
    char *f = fieldf("dataReferences.%s", key);
    int rc = -1;
    static const char *keys[] = {"dataStoreName", "pathOnDataStore", "mode", "pathOnCompute",
                                 "overwrite",     "dataStoreType",   NULL};
    if (!f)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    if (v->kind != DOC_MAP) {
        doc_error(err, j->doc, v, f, "expected a mapping with dataStoreName, pathOnDataStore "
                  "and mode");
        goto out;
    }
    for (size_t i = 0; i < v->n; i++)
        if (!in_list(keys, v->pairs[i].key->str)) {
            doc_error(err, j->doc, v->pairs[i].key, f,
                      "unknown key '%s' (expected dataStoreName, pathOnDataStore, mode, "
                      "pathOnCompute, overwrite)",
                      v->pairs[i].key->str);
            goto out;
        }
    const doc_node_t *ds = doc_get(v, "dataStoreName"), *p = doc_get(v, "pathOnDataStore"),
                     *mode = doc_get(v, "mode"), *poc = doc_get(v, "pathOnCompute"),
                     *ow = doc_get(v, "overwrite");
    if (!ds) {
        doc_error(err, j->doc, v, f, "dataStoreName is required");
        goto out;
    }
    if (want_string(j, ds, f, err) || (p && !doc_is_null(p) && want_string(j, p, f, err)) ||
        (mode && want_string(j, mode, f, err)) ||
        (poc && !doc_is_null(poc) && want_string(j, poc, f, err)))
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
    job_io_t *io = upload ? io_new(&j->outputs, &j->noutputs, key, v)
                          : io_new(&j->inputs, &j->ninputs, key, v);
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
        const char *why = poc_why(poc->str);
        if (why) {
            char *pf2 = fieldf("%s.pathOnCompute", f);
            doc_error(err, j->doc, poc, pf2,
                      "'%s' %s: it must stay inside the run's work dir (a relative path "
                      "without '..')",
                      poc->str, why);
            free(pf2);
            goto out;
        }
        io->local_path = strdup(poc->str);
    }
    char *pf = fieldf("%s.pathOnDataStore", f);
    rc = check_path(j, io, p ? p : ds, pf, !upload, err);
    free(pf);
out:
    free(f);
    return rc;
}

static int parse_v1(job_t *j, const doc_node_t *r, ferr_t *err)
{
    for (size_t i = 0; i < r->n; i++) {
        const char *k = r->pairs[i].key->str;
        if (in_list(v1_service_keys, k)) {
            if (add_ignored(j, k))
                return ferr_set(err, FERR_INTERNAL, "out of memory");
        } else if (!in_list(v1_keys, k)) {
            return doc_error(err, j->doc, r->pairs[i].key, k,
                             "unknown key for a runconfig (expected script, arguments, "
                             "dataReferences, environment, or a key the service uses)");
        }
    }
    static const char *dataset_keys[] = {"data", "outputData"};
    for (int k = 0; k < 2; k++) {
        const doc_node_t *d = doc_get(r, dataset_keys[k]);
        if (d && !doc_is_null(d) && d->n > 0) {
            doc_error(err, j->doc, d, dataset_keys[k],
                      "datasets are not supported yet; use dataReferences");
            err->code = FERR_UNSUPPORTED;
            return -1;
        }
    }
    const doc_node_t *env = doc_get(r, "environment");
    const char *interp = "python3";
    if (env && !doc_is_null(env)) {
        if (env->kind != DOC_MAP)
            return doc_error(err, j->doc, env, "environment", "expected a mapping");
        if (parse_env_map(j, doc_get(env, "environmentVariables"),
                          "environment.environmentVariables", err))
            return -1;
        const doc_node_t *py = doc_get(env, "python");
        const doc_node_t *ip = py ? doc_get(py, "interpreterPath") : NULL;
        if (ip && !doc_is_null(ip)) {
            if (want_string(j, ip, "environment.python.interpreterPath", err))
                return -1;
            interp = ip->str;
        }
    }
    if (parse_env_map(j, doc_get(r, "environmentVariables"), "environmentVariables", err))
        return -1;
    const doc_node_t *refs = doc_get(r, "dataReferences");
    if (refs && !doc_is_null(refs)) {
        if (refs->kind != DOC_MAP)
            return doc_error(err, j->doc, refs, "dataReferences",
                             "expected a mapping of key: reference");
        for (size_t i = 0; i < refs->n; i++) {
            const char *key = refs->pairs[i].key->str;
            if (!name_ok(key))
                return doc_error(err, j->doc, refs->pairs[i].key, "dataReferences",
                                 "'%s': a key has only letters, digits, '_' and '-'", key);
            if (parse_dataref(j, key, refs->pairs[i].val, err))
                return -1;
        }
    }
    const doc_node_t *mrd = doc_get(r, "maxRunDurationSeconds");
    long long t;
    if (mrd && !doc_is_null(mrd)) {
        if (!doc_is_int(mrd, &t) || t <= 0)
            return doc_error(err, j->doc, mrd, "maxRunDurationSeconds",
                             "expected a whole number of seconds above 0");
        j->timeout = (long)t;
    }
    const doc_node_t *cmd = doc_get(r, "command"), *script = doc_get(r, "script"),
                     *args = doc_get(r, "arguments");
    if (cmd && !doc_is_null(cmd) && !(cmd->kind == DOC_SEQ && cmd->n == 0)) {
        if (script && !doc_is_null(script))
            return doc_error(err, j->doc, cmd, "command", "give either script or command");
        j->command_node = cmd;
        if (cmd->kind == DOC_SEQ) {
            for (size_t i = 0; i < cmd->n; i++) {
                if (cmd->items[i]->kind != DOC_SCALAR)
                    return doc_error(err, j->doc, cmd->items[i], "command",
                                     "expected a list of strings");
                argv_add(j, cmd->items[i]->str);
            }
        } else {
            if (want_string(j, cmd, "command", err))
                return -1;
            j->command = strdup(cmd->str);
        }
    } else {
        if (!script || doc_is_null(script))
            return doc_error(err, j->doc, r, "script", "a runconfig needs a script (or command)");
        if (want_string(j, script, "script", err))
            return -1;
        j->command_node = script;
        size_t sl = strlen(script->str);
        if (sl > 3 && !strcmp(script->str + sl - 3, ".py")) {
            argv_add(j, interp);
            argv_add(j, script->str);
        } else if (!strchr(script->str, '/')) {
            char *rel = fieldf("./%s", script->str);
            argv_add(j, rel);
            free(rel);
        } else {
            argv_add(j, script->str);
        }
    }
    if (args && !doc_is_null(args)) {
        if (args->kind != DOC_SEQ)
            return doc_error(err, j->doc, args, "arguments", "expected a list");
        if (!j->argv)
            return doc_error(err, j->doc, args, "arguments",
                             "arguments go with script (or a command list), not a command "
                             "string");
        for (size_t i = 0; i < args->n; i++) {
            const doc_node_t *a = args->items[i];
            if (a->kind != DOC_SCALAR)
                return doc_error(err, j->doc, a, "arguments", "expected a list of strings");
            char *out = NULL, *bad = NULL;
            if (job_subst_datarefs(a->str, dataref_known, j, &out, &bad)) {
                int r2 = doc_error(err, j->doc, a, "arguments",
                                   "$AZUREML_DATAREFERENCE_%s: no dataReferences entry has that "
                                   "key",
                                   bad ? bad : "");
                free(bad);
                return r2;
            }
            free(out);
            argv_add(j, a->str);
        }
    }
    return 0;
}

static int looks_v1(const doc_node_t *r)
{
    static const char *v1_only[] = {"script", "dataReferences", "arguments", "framework",
                                    "communicator", "maxRunDurationSeconds", "target",
                                    "environmentVariables", NULL};
    static const char *v2_only[] = {"inputs", "outputs", "environment_variables", "type",
                                    "limits", "code", NULL};
    int v1 = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (in_list(v2_only, r->pairs[i].key->str))
            return 0;
        if (in_list(v1_only, r->pairs[i].key->str))
            v1 = 1;
    }
    return v1;
}

int job_load(job_t **out, const char *path, ferr_t *err)
{
    *out = NULL;
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    if (doc_load_file(&j->doc, path, err))
        goto fail;
    j->file = path_absolute(path, NULL);
    j->dir = path_dirname(j->file);
    const doc_node_t *r = doc_root(j->doc);
    if (r->kind != DOC_MAP) {
        doc_error(err, j->doc, r, NULL,
                  "expected a job: a mapping with command (a v2 command job) or script (a v1 "
                  "runconfig), got %s",
                  doc_kind_name(r));
        goto fail;
    }
    j->format = looks_v1(r) ? JOB_V1 : JOB_V2;
    if ((j->format == JOB_V2 ? parse_v2 : parse_v1)(j, r, err))
        goto fail;
    if (!j->code)
        j->code = strdup(j->dir);
    *out = j;
    return 0;
fail:
    job_free(j);
    return -1;
}
