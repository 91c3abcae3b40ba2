/* A job file, YAML or JSON, into one job_t: which front-end (v2 command
 * job or v1 runconfig), and what both share. */
#define _GNU_SOURCE
#include "job_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "log.h"
#include "path.h"
#include "store.h"
#include "uri.h"

#include "xalloc.h"

int job_in_list(const char **l, const char *s)
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

const char *job_io_type(const job_io_t *io)
{
    return io->kind ? io->kind : job_type_name(io->type);
}

int job_folder_kind(const char *s)
{
    static const char *kinds[] = {"mltable", "mlflow_model", "custom_model", "triton_model", NULL};
    return job_in_list(kinds, s);
}

static void io_dispose(job_io_t *io)
{
    free(io->name);
    free(io->value);
    free(io->path);
    free(io->local_path);
    free(io->kind);
    free(io->asset_id);
    free(io->asset_name);
    free(io->asset_version);
    free(io->env_name);
    free(io->archive);
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
    job_problems_free(j->problems, j->nproblems);
    free(j->problem_codes);
    free(j->command);
    free(j->code);
    free(j->file);
    free(j->dir);
    doc_free(j->doc);
    free(j);
}

/* --- helpers --- */

int job_name_ok(const char *s)
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

char *job_fieldf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

int job_want_string(const job_t *j, const doc_node_t *n, const char *field, ferr_t *err)
{
    if (n->kind != DOC_SCALAR || doc_is_null(n))
        return doc_error(err, j->doc, n, field, "expected a string, got %s", doc_kind_name(n));
    return 0;
}

/* Makes room for one more element (and `spare` after it) in an array that only
 * the loader grows, one at a time: its capacity is implied by how many it holds
 * (8, or the power of two at or above), so that growing stays linear. */
void job_grow_one(void *arrp, size_t n, size_t spare, size_t size)
{
    void **arr = arrp;
    size_t used = n + spare;
    if (*arr && (used < 8 || (used & (used - 1))))
        return;
    *arr = xreallocarray(*arr, used < 8 ? 8 : used * 2, size);
}

int job_add_ignored(job_t *j, const char *key)
{
    job_grow_one(&j->ignored, j->nignored, 0, sizeof *j->ignored);
    j->ignored[j->nignored++] = xstrdup(key);
    return 0;
}

int job_parse_mode(const char *s, int input, io_mode_t *out)
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
    job_grow_one(&j->env, j->nenv, 0, sizeof *j->env);
    j->env[j->nenv].name = xstrdup(name);
    j->env[j->nenv].value = xstrdup(value);
    j->env[j->nenv].node = node;
    j->nenv++;
    return 0;
}

int job_parse_env_map(job_t *j, const doc_node_t *m, const char *field, ferr_t *err)
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

job_io_t *job_io_new(job_io_t **arr, size_t *n, const char *name, const doc_node_t *node)
{
    job_grow_one(arr, *n, 0, sizeof **arr);
    job_io_t *io = &(*arr)[(*n)++];
    memset(io, 0, sizeof *io);
    io->name = xstrdup(name);
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

int job_check_path(const job_t *j, const job_io_t *io, const doc_node_t *at, const char *field,
                   int input, ferr_t *err)
{
    uri_t u;
    const char *why;
    if (uri_parse(io->path, &u, &why))
        return doc_error(err, j->doc, at, field, "'%s': %s", io->path, why);
    int rc = 0;
    if ((u.kind == URI_ASSET || u.kind == URI_JOB) && !input)
        rc = doc_error(err, j->doc, at, field,
                       "'%s': an output goes to a datastore path "
                       "(azureml://datastores/<datastore>/paths/<path>); to make it a data "
                       "asset, give the output a name: and a version:",
                       io->path);
    else if (u.kind == URI_ASSET || u.kind == URI_JOB)
        rc = 0; /* resolved by plan, against the workspace */
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
        else if (!(store_backend_caps(adhoc->backend) & STORE_CAP_LIST) &&
                 (!input || io->type != IO_URI_FILE))
            rc = doc_error(err, j->doc, at, field,
                           !input ? "'%s': a plain https URL cannot be written: an output goes "
                                    "to a datastore"
                                  : "'%s': a plain https URL cannot be listed, so it cannot be a "
                                    "uri_folder: name one file (type: uri_file)",
                           io->path);
        datastore_free(adhoc);
        free(path);
    } else if (u.kind == URI_LOCAL && !input)
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

static int looks_v1(const doc_node_t *r)
{
    static const char *v1_only[] = {"script",    "dataReferences",       "arguments",
                                    "framework", "communicator",         "maxRunDurationSeconds",
                                    "target",    "environmentVariables", NULL};
    static const char *v2_only[] = {"inputs", "outputs", "environment_variables", "type", "limits",
                                    "code",   NULL};
    /* script and dataReferences (in any spelling the SDK reads) settle it:
     * a runconfig may say environment_variables, as snake_case */
    int v1 = 0, v2 = 0;
    for (size_t i = 0; i < r->n; i++) {
        char *k = job_v1_camel(r->pairs[i].key->str);
        if (!strcmp(k, "script") || !strcmp(k, "dataReferences"))
            v1 = 2;
        else if (job_in_list(v1_only, k) && !v1)
            v1 = 1;
        free(k);
        if (job_in_list(v2_only, r->pairs[i].key->str))
            v2 = 1;
    }
    return v1 == 2 || (v1 && !v2);
}

/* More than this many are counted, not kept: a file of 50,000 wrong keys
 * gets a readable answer, in linear time. */
#define JOB_MAX_PROBLEMS 100

void job_warn(job_t *j, const char *msg)
{
    (void)j;
    log_warn("%s", msg);
}

void job_note(job_t *j, ferr_t *err)
{
    if (j->nproblems >= JOB_MAX_PROBLEMS) {
        j->more_problems++;
        ferr_clear(err);
        return;
    }
    j->problems = xreallocarray(j->problems, j->nproblems + 1, sizeof *j->problems);
    j->problem_codes = xreallocarray(j->problem_codes, j->nproblems + 1, sizeof(int));
    j->problem_codes[j->nproblems] = err->code ? err->code : FERR_CONFIG;
    j->problems[j->nproblems++] = err->msg ? err->msg : xstrdup("unknown error");
    err->msg = NULL;
    ferr_clear(err);
}

void job_problems_free(char **problems, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(problems[i]);
    free(problems);
}

/* A problem's place, read back from its "file:line:col: " start. */
static void problem_place(const job_t *j, const char *msg, long *line, long *col)
{
    const char *name = doc_name(j->doc);
    size_t nl = strlen(name);
    *line = *col = 0;
    if (strncmp(msg, name, nl) || msg[nl] != ':')
        return;
    char *end;
    *line = strtol(msg + nl + 1, &end, 10);
    if (*end == ':')
        *col = strtol(end + 1, NULL, 10);
}

/* The problems in the order of the file (stable: one place keeps its order). */
static void sort_problems(job_t *j)
{
    for (size_t i = 1; i < j->nproblems; i++) {
        char *m = j->problems[i];
        int code = j->problem_codes[i];
        long l, c;
        problem_place(j, m, &l, &c);
        size_t k = i;
        while (k > 0) {
            long pl, pc;
            problem_place(j, j->problems[k - 1], &pl, &pc);
            if (pl < l || (pl == l && pc <= c))
                break;
            j->problems[k] = j->problems[k - 1];
            j->problem_codes[k] = j->problem_codes[k - 1];
            k--;
        }
        j->problems[k] = m;
        j->problem_codes[k] = code;
    }
}

/* The front-ends' work on a loaded document; j owns it. On failure, err is
 * the first problem and j->problems holds them all. */
static int job_from_doc(job_t *j, const char *name, ferr_t *err)
{
    j->file = path_absolute(name, NULL);
    j->dir = path_dirname(j->file);
    const doc_node_t *r = doc_root(j->doc);
    if (r->kind != DOC_MAP) {
        doc_error(err, j->doc, r, NULL,
                  "expected a job: a mapping with command (a v2 command job) or script (a v1 "
                  "runconfig), got %s",
                  doc_kind_name(r));
        job_note(j, err);
    } else {
        j->format = looks_v1(r) ? JOB_V1 : JOB_V2;
        if ((j->format == JOB_V2 ? job_parse_v2 : job_parse_v1)(j, r, err) && err->msg)
            job_note(j, err); /* one that ends the reading */
    }
    if (j->nproblems > 1)
        sort_problems(j);
    if (j->more_problems) {
        j->problems = xreallocarray(j->problems, j->nproblems + 1, sizeof *j->problems);
        j->problem_codes = xreallocarray(j->problem_codes, j->nproblems + 1, sizeof(int));
        j->problem_codes[j->nproblems] = FERR_CONFIG;
        j->problems[j->nproblems++] =
            xasprintf("%s: %zu more problems not shown", doc_name(j->doc), j->more_problems);
    }
    if (j->nproblems)
        return ferr_set(err, j->problem_codes[0], "%s", j->problems[0]);
    if (!j->code)
        j->code = xstrdup(j->dir);
    return 0;
}

int job_load_all(job_t **out, const char *path, char ***problems, size_t *n, ferr_t *err)
{
    *out = NULL;
    job_t *j = xcalloc(1, sizeof *j);
    int rc = doc_load_file(&j->doc, path, err) || job_from_doc(j, path, err) ? -1 : 0;
    if (rc && problems) {
        if (j->nproblems) {
            *problems = j->problems, *n = j->nproblems;
            j->problems = NULL, j->nproblems = 0;
        } else { /* the file could not be read as YAML or JSON at all */
            *problems = xcalloc(1, sizeof **problems), *n = 1;
            (*problems)[0] = xstrdup(err->msg ? err->msg : "unknown error");
        }
    }
    if (rc)
        job_free(j);
    else
        *out = j;
    return rc;
}

int job_load(job_t **out, const char *path, ferr_t *err)
{
    return job_load_all(out, path, NULL, NULL, err);
}

int job_load_mem(job_t **out, const char *name, const char *text, size_t len, ferr_t *err)
{
    *out = NULL;
    job_t *j = xcalloc(1, sizeof *j);
    size_t nl = strlen(name);
    int json = nl > 5 && strcasecmp(name + nl - 5, ".json") == 0;
    if (doc_load_mem(&j->doc, name, text, len, json, err) || job_from_doc(j, name, err)) {
        job_free(j);
        return -1;
    }
    *out = j;
    return 0;
}
