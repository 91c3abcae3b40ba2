/* The v1 front-end's datasets: a runconfig's data (inputs: a dataset by id
 * or name and version, a datastore path or a URI) and outputData (outputs
 * uploaded or mounted, optionally registered as a data asset), as
 * azureml-core's RunConfiguration writes them. */
#define _GNU_SOURCE
#include "job_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "asset.h"
#include "xalloc.h"

/* The key as azureml-core reads it: snake_case and a leading capital
 * become camelCase (max_run_duration_seconds, MaxRunDurationSeconds ->
 * maxRunDurationSeconds). */
char *job_v1_camel(const char *k)
{
    char *out = xcalloc(1, strlen(k) + 1);
    size_t o = 0;
    int part = 0, start = 1;
    for (const char *c = k; *c; c++) {
        if (*c == '_') {
            part++;
            start = 1;
            continue;
        }
        if (start && part > 0)
            out[o++] = (char)toupper((unsigned char)*c);
        else if (start)
            out[o++] = (char)tolower((unsigned char)*c);
        else
            out[o++] = part > 0 ? (char)tolower((unsigned char)*c) : *c;
        start = 0;
    }
    return out;
}

const doc_node_t *job_v1_get(const doc_node_t *m, const char *key)
{
    if (!m || m->kind != DOC_MAP)
        return NULL;
    const doc_node_t *exact = doc_get(m, key);
    if (exact)
        return exact;
    for (size_t i = 0; i < m->n; i++) {
        char *c = job_v1_camel(m->pairs[i].key->str);
        int same = !strcmp(c, key);
        free(c);
        if (same)
            return m->pairs[i].val;
    }
    return NULL;
}

/* A key the SDK knows but ferry does not act on is fine; any other is a
 * warning, as the v1 SDK ignored it. */
void job_v1_check_keys(job_t *j, const doc_node_t *m, const char *field, const char **keys)
{
    for (size_t i = 0; m && m->kind == DOC_MAP && i < m->n; i++) {
        char *c = job_v1_camel(m->pairs[i].key->str);
        if (!job_in_list(keys, c)) {
            ferr_t e = FERR_INIT;
            doc_error(&e, j->doc, m->pairs[i].key, field,
                      "unknown key '%s', ignored (as the v1 SDK did)", m->pairs[i].key->str);
            job_warn(j, e.msg);
            ferr_clear(&e);
        }
        free(c);
    }
}

static int want_str(job_t *j, const doc_node_t *n, const char *f, ferr_t *err)
{
    return n && !doc_is_null(n) ? job_want_string(j, n, f, err) : 0;
}

static const char *str_of(const doc_node_t *n)
{
    return n && n->kind == DOC_SCALAR && !doc_is_null(n) ? n->str : NULL;
}

/* dataLocation / outputLocation: a dataset, a datastore path or a URI. */
static int data_location(job_t *j, job_io_t *io, const doc_node_t *loc, const char *f, ferr_t *err)
{
    static const char *keys[] = {"dataset", "dataPath", "datapath", "uri", "type", NULL};
    job_v1_check_keys(j, loc, f, keys);
    const doc_node_t *ds = job_v1_get(loc, "dataset"), *dp = job_v1_get(loc, "dataPath"),
                     *uri = job_v1_get(loc, "uri");
    if (!dp)
        dp = job_v1_get(loc, "datapath"); /* as older SDKs wrote it */
    ds = ds && !doc_is_null(ds) ? ds : NULL;
    dp = dp && !doc_is_null(dp) ? dp : NULL;
    uri = uri && !doc_is_null(uri) ? uri : NULL;
    if (!!ds + !!dp + !!uri != 1)
        return doc_error(err, j->doc, loc, f,
                         "expected one of dataset (id, or name and version), dataPath "
                         "(datastoreName, relativePath) or uri (path)");
    const char *id = str_of(job_v1_get(ds, "id")), *name = str_of(job_v1_get(ds, "name")),
               *ver = str_of(job_v1_get(ds, "version"));
    const char *dsn = str_of(job_v1_get(dp, "datastoreName")),
               *rel = str_of(job_v1_get(dp, "relativePath")), *up = str_of(job_v1_get(uri, "path"));
    int is_file = 0;
    if (ds && id) {
        io->asset_id = xstrdup(id);
        io->path = xasprintf("azureml:%s", id); /* for messages; resolved by id */
    } else if (ds && name && asset_name_ok(name)) {
        io->path = !ver || !strcasecmp(ver, "latest") ? xasprintf("azureml:%s@latest", name)
                                                      : xasprintf("azureml:%s:%s", name, ver);
    } else if (ds) {
        return doc_error(err, j->doc, ds, f, "dataset: expected an id, or a name (and version)");
    } else if (dp && dsn) {
        /* OutputFileDatasetConfig's placeholders, as ferry's own */
        char *r = xstrdup(rel ? rel : "");
        for (char *p; (p = strstr(r, "{run-id}")) || (p = strstr(r, "{output-name}"));) {
            int run = p[1] == 'r';
            char *n = xasprintf("%.*s${{%s}}%s", (int)(p - r), r, run ? "run.id" : "output_name",
                                p + (run ? 8 : 13));
            free(r);
            r = n;
        }
        io->path = xasprintf("azureml://datastores/%s/paths/%s", dsn, r[0] == '/' ? r + 1 : r);
        free(r);
    } else if (dp) {
        return doc_error(err, j->doc, dp, f, "dataPath: datastoreName is required");
    } else if (up) {
        io->path = xstrdup(up);
        doc_is_bool(job_v1_get(uri, "isFile"), &is_file);
    } else {
        return doc_error(err, j->doc, uri, f, "uri: path is required");
    }
    io->type = is_file ? IO_URI_FILE : IO_URI_FOLDER;
    return 0;
}

static int path_on_compute(job_t *j, job_io_t *io, const doc_node_t *poc, const char *f,
                           ferr_t *err)
{
    const char *s = str_of(poc);
    if (!s || !*s)
        return 0;
    const char *why = job_poc_why(s);
    if (why)
        return doc_error(err, j->doc, poc, f,
                         "'%s' %s: it must stay inside the run's work dir (a relative path "
                         "without '..')",
                         s, why);
    io->local_path = xstrdup(s);
    return 0;
}

static int env_name(job_t *j, job_io_t *io, const doc_node_t *n, const char *f, ferr_t *err)
{
    const char *s = str_of(n);
    if (!s)
        return 0;
    if (!isalpha((unsigned char)*s) && *s != '_')
        return doc_error(err, j->doc, n, f, "environmentVariableName: '%s' is not a name", s);
    for (const char *c = s; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_')
            return doc_error(err, j->doc, n, f, "environmentVariableName: '%s' is not a name", s);
    io->env_name = xstrdup(s);
    return 0;
}

static int v1_input(job_t *j, const char *key, const doc_node_t *v, ferr_t *err)
{
    static const char *keys[] = {"dataLocation",  "createOutputDirectories",
                                 "mechanism",     "environmentVariableName",
                                 "pathOnCompute", "overwrite",
                                 "options",       NULL};
    char *f = job_fieldf("data.%s", key);
    job_io_t *io = job_io_new(&j->inputs, &j->ninputs, key, v);
    int rc = -1;
    if (v->kind != DOC_MAP) {
        doc_error(err, j->doc, v, f, "expected a mapping with dataLocation and mechanism");
        goto out;
    }
    job_v1_check_keys(j, v, f, keys);
    const doc_node_t *loc = job_v1_get(v, "dataLocation"), *mech = job_v1_get(v, "mechanism"),
                     *ow = job_v1_get(v, "overwrite");
    if (!loc || loc->kind != DOC_MAP) {
        doc_error(err, j->doc, loc ? loc : v, f, "dataLocation: expected a mapping");
        goto out;
    }
    if (data_location(j, io, loc, f, err) || want_str(j, mech, f, err) ||
        path_on_compute(j, io, job_v1_get(v, "pathOnCompute"), f, err) ||
        env_name(j, io, job_v1_get(v, "environmentVariableName"), f, err))
        goto out;
    io->type_given = io->type == IO_URI_FILE;
    const char *m = str_of(mech) ? mech->str : "direct";
    io->mode_given = str_of(mech) != NULL;
    if (!strcasecmp(m, "mount"))
        io->mode = MODE_RO_MOUNT;
    else if (!strcasecmp(m, "download"))
        io->mode = MODE_DOWNLOAD;
    else if (!strcasecmp(m, "direct"))
        io->mode = MODE_DIRECT;
    else {
        doc_error(err, j->doc, mech, f, "mechanism: expected mount, download or direct, got '%s'",
                  m);
        goto out;
    }
    if (ow && !doc_is_null(ow))
        doc_is_bool(ow, &io->overwrite);
    /* direct hands the script a dataset object in Azure ML; here, where the
     * data is: a dataset or datastore path is staged (downloaded) instead */
    if (io->mode == MODE_DIRECT && strncmp(io->path, "https://", 8) != 0)
        io->mode = MODE_DOWNLOAD;
    rc = job_check_path(j, io, loc, f, 1, err);
out:
    free(f);
    return rc;
}

/* additionalOptions: pathOnCompute, registrationOptions (name), uploadOptions (overwrite). */
static int output_options(job_t *j, job_io_t *io, const doc_node_t *ao, const char *f, ferr_t *err)
{
    static const char *keys[] = {"pathOnCompute", "registrationOptions", "uploadOptions",
                                 "mountOptions", NULL};
    if (!ao || doc_is_null(ao))
        return 0;
    job_v1_check_keys(j, ao, f, keys);
    if (path_on_compute(j, io, job_v1_get(ao, "pathOnCompute"), f, err))
        return -1;
    const doc_node_t *reg = job_v1_get(ao, "registrationOptions");
    const char *name = str_of(job_v1_get(reg, "name"));
    if (name && !asset_name_ok(name))
        return doc_error(err, j->doc, job_v1_get(reg, "name"), f,
                         "registrationOptions.name: '%s' is not a data asset's name", name);
    if (name)
        io->asset_name = xstrdup(name);
    const doc_node_t *ow = job_v1_get(job_v1_get(ao, "uploadOptions"), "overwrite");
    if (ow && !doc_is_null(ow))
        doc_is_bool(ow, &io->overwrite);
    return 0;
}

static int v1_output(job_t *j, const char *key, const doc_node_t *v, ferr_t *err)
{
    static const char *keys[] = {"outputLocation", "mechanism", "additionalOptions",
                                 "environmentVariableName", NULL};
    char *f = job_fieldf("outputData.%s", key);
    job_io_t *io = job_io_new(&j->outputs, &j->noutputs, key, v);
    int rc = -1;
    if (v->kind != DOC_MAP) {
        doc_error(err, j->doc, v, f, "expected a mapping with outputLocation and mechanism");
        goto out;
    }
    job_v1_check_keys(j, v, f, keys);
    const doc_node_t *loc = job_v1_get(v, "outputLocation"), *mech = job_v1_get(v, "mechanism");
    const doc_node_t *dset = job_v1_get(loc, "dataset");
    if (!loc || loc->kind != DOC_MAP || (dset && !doc_is_null(dset))) {
        doc_error(err, j->doc, loc ? loc : v, f,
                  "outputLocation: expected a mapping with dataPath (datastoreName, "
                  "relativePath)");
        goto out;
    }
    if (data_location(j, io, loc, f, err) || want_str(j, mech, f, err) ||
        output_options(j, io, job_v1_get(v, "additionalOptions"), f, err) ||
        env_name(j, io, job_v1_get(v, "environmentVariableName"), f, err))
        goto out;
    const char *m = str_of(mech) ? mech->str : "mount";
    io->mode_given = 1;
    if (!strcasecmp(m, "upload"))
        io->mode = MODE_UPLOAD;
    else if (!strcasecmp(m, "mount"))
        io->mode = MODE_RW_MOUNT;
    else {
        doc_error(err, j->doc, mech, f, "mechanism: expected upload or mount, got '%s'", m);
        goto out;
    }
    rc = job_check_path(j, io, loc, f, 0, err);
out:
    free(f);
    return rc;
}

void job_v1_datasets(job_t *j, const doc_node_t *r, ferr_t *err)
{
    static const char *sections[] = {"data", "outputData"};
    for (int s = 0; s < 2; s++) {
        const doc_node_t *d = job_v1_get(r, sections[s]);
        if (!d || doc_is_null(d))
            continue;
        if (d->kind != DOC_MAP) {
            doc_error(err, j->doc, d, sections[s], "expected a mapping of name: definition");
            job_note(j, err);
            continue;
        }
        for (size_t i = 0; i < d->n; i++) {
            const char *key = d->pairs[i].key->str;
            int rc = !job_name_ok(key)
                         ? doc_error(err, j->doc, d->pairs[i].key, sections[s],
                                     "'%s': a name has only letters, digits, '_' and '-'", key)
                     : s == 0 ? v1_input(j, key, d->pairs[i].val, err)
                              : v1_output(j, key, d->pairs[i].val, err);
            if (rc)
                job_note(j, err);
        }
    }
}
