#define _GNU_SOURCE
#include "plan.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mount.h"
#include "asset.h"
#include "path.h"
#include "store.h"
#include "uri.h"
#include "xalloc.h"

const char *plan_io_type(const plan_io_t *io)
{
    return io->kind ? io->kind : job_type_name(io->type);
}

static void io_dispose(plan_io_t *io)
{
    free(io->kind);
    free(io->asset);
    free(io->uri);
    free(io->remote);
    free(io->local);
    free(io->value);
    datastore_free(io->adhoc);
}

void plan_free(plan_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ninputs; i++)
        io_dispose(&p->inputs[i]);
    for (size_t i = 0; i < p->noutputs; i++)
        io_dispose(&p->outputs[i]);
    free(p->inputs);
    free(p->outputs);
    free(p->node_dir);
    for (size_t i = 0; i < p->nenv; i++)
        free(p->env[i]);
    free(p->env);
    for (size_t i = 0; i < p->argc; i++)
        free(p->argv[i]);
    free(p->argv);
    free(p->command);
    free(p->cwd);
    free(p->work_dir);
    free(p->run_id);
    free(p);
}

int plan_run_id_ok(const char *id)
{
    if (!id || !*id || strlen(id) > 128 || id[0] == '.' || id[0] == '-')
        return 0;
    for (const char *c = id; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
            return 0;
    return 1;
}

static char *new_run_id(void)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", &tm);
    unsigned short r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r)
        r = (unsigned short)(getpid() ^ now);
    char *id = NULL;
    if (asprintf(&id, "run-%s-%04x", ts, r) < 0)
        return NULL;
    return id;
}

static const char *basename_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int env_add(plan_t *p, const char *prefix, const char *name, const char *value)
{
    /* doubling: the capacity is the power of two at or above the count */
    if (p->nenv >= 8 ? !(p->nenv & (p->nenv - 1)) : !p->env)
        p->env = xreallocarray(p->env, p->nenv < 8 ? 8 : p->nenv * 2, sizeof *p->env);
    char *e = xasprintf("%s%s=%s", prefix, name, value ? value : "");
    /* names like my-data become MY_DATA-safe: '-' is not allowed in a shell variable */
    for (char *c = e + strlen(prefix); *c && *c != '='; c++)
        if (*c == '-')
            *c = '_';
    p->env[p->nenv++] = e;
    return 0;
}

static char *list_datastores(const workspace_t *ws)
{
    size_t cap = 256, len = 0;
    char *s = xcalloc(1, cap);
    for (size_t i = 0; s && i < workspace_count(ws); i++) {
        const char *n = workspace_at(ws, i)->name;
        size_t need = len + strlen(n) + 3;
        if (need > cap) {
            char *ns = xrealloc(s, cap = need * 2);
            s = ns;
        }
        len += (size_t)sprintf(s + len, "%s%s", i ? ", " : "", n);
    }
    return s;
}

static int resolve_datastore(plan_io_t *io, const job_t *job, const workspace_t *ws,
                             const doc_node_t *at, const char *field, const uri_t *u, ferr_t *err)
{
    io->ds = workspace_find(ws, u->datastore);
    if (!io->ds) {
        char *known = list_datastores(ws);
        doc_error(err, job->doc, at, field,
                  "unknown datastore '%s' (this workspace has: %s; register it with 'ferry "
                  "datastore register')",
                  u->datastore, known ? known : "");
        free(known);
        err->code = FERR_NOTFOUND;
        return -1;
    }
    const char *why;
    io->remote = path_remote_normalize(u->path, &why);
    if (!io->remote)
        return doc_error(err, job->doc, at, field, "the path %s", why ? why : "is not valid");
    return 0;
}

/* A URL of a storage service uses the credential of a registered datastore
 * that reaches the same place, or none (a public container). */
static int resolve_url(plan_io_t *io, const job_t *job, const workspace_t *ws, const doc_node_t *at,
                       const char *field, ferr_t *err)
{
    const char *why = NULL;
    char *path = NULL;
    datastore_t *adhoc = NULL;
    int rc = store_url_parse(io->uri, io->name, &adhoc, &path, &why);
    if (rc)
        return doc_error(err, job->doc, at, field, "'%s': %s", io->uri,
                         rc == -2 ? "not a URL of a datastore's service" : why);
    for (size_t i = 0; i < workspace_count(ws) && !io->ds; i++)
        if (store_same_place(workspace_at(ws, i), adhoc))
            io->ds = workspace_at(ws, i);
    if (!io->ds && adhoc->by_form && !strncmp(io->uri, "https://", 8)) {
        /* a path-style https URL no datastore claims: a file on a web server */
        datastore_free(adhoc);
        adhoc = NULL;
        free(path);
        path = NULL;
        rc = store_url_parse_plain(io->uri, io->name, &adhoc, &path, &why);
        if (rc)
            return doc_error(err, job->doc, at, field, "'%s': %s", io->uri,
                             why ? why : "not a URL ferry reads");
    }
    int output = io->mode == MODE_UPLOAD || io->mode == MODE_RW_MOUNT;
    if (!(store_backend_caps(adhoc->backend) & STORE_CAP_LIST) && !io->ds &&
        (io->type != IO_URI_FILE || output)) {
        datastore_free(adhoc);
        free(path);
        return doc_error(err, job->doc, at, field,
                         output ? "'%s': a plain https URL cannot be written: an output goes to a "
                                  "datastore"
                                : "'%s': a plain https URL cannot be listed, so it cannot be a "
                                  "uri_folder: name one file (type: uri_file)",
                         io->uri);
    }
    if (io->ds) {
        datastore_free(adhoc);
    } else {
        io->adhoc = adhoc;
        io->ds = adhoc;
    }
    io->remote = path_remote_normalize(path, &why);
    free(path);
    if (!io->remote)
        return doc_error(err, job->doc, at, field, "the path %s", why ? why : "is not valid");
    return 0;
}

static char *local_default(const plan_t *p, const job_io_t *jio, const char *kind)
{
    if (jio->local_path)
        return path_absolute(jio->local_path, p->work_dir);
    char *base = path_join(p->work_dir, kind);
    char *l = base ? path_join(base, jio->name) : NULL;
    free(base);
    return l;
}

/* A downloaded input: <work dir>/inputs/<name>, a file keeping its own name in it. */
static void plan_download_to(const plan_t *p, plan_io_t *io, const job_io_t *jio)
{
    const char *why;
    /* mounted where FUSE can be had, else downloaded (and the plan says why) */
    /* ranks sharing a node share one download: a mount would end with its rank */
    int share = p->node_dir && !jio->shard && !jio->local_path;
    io->mode = io->asked == MODE_RO_MOUNT && mount_available(&why) && !jio->unpack &&
                       !(share && p->rank.local_world > 1)
                   ? MODE_RO_MOUNT
                   : MODE_DOWNLOAD;
    io->unpack = jio->unpack;
    io->shard = jio->shard;
    io->node_shared = share;
    char *dir = share ? path_join(p->node_dir, "inputs") : local_default(p, jio, "inputs");
    if (share) {
        char *d2 = path_join(dir, jio->name);
        free(dir);
        dir = d2;
    }
    if (io->type == IO_URI_FILE && !io->unpack) {
        io->local = path_join(dir, basename_of(io->remote));
        free(dir);
    } else {
        io->local = dir;
    }
    io->value = xstrdup(io->local);
}

/* A data asset or an earlier run's output: *path is what it stands for
 * (NULL when jio names data directly), and the input takes its type unless
 * the job says one. */
static int plan_ref(const plan_t *p, plan_io_t *io, const job_io_t *jio, const workspace_t *ws,
                    const doc_node_t *at, const char *field, char **path, ferr_t *err)
{
    *path = NULL;
    uri_t u;
    const char *why;
    if (!jio->asset_id &&
        (uri_parse(jio->path, &u, &why) || (u.kind != URI_ASSET && u.kind != URI_JOB))) {
        if (!why)
            uri_dispose(&u);
        return 0;
    }
    char *type = NULL;
    ferr_t e = FERR_INIT;
    int rc = asset_resolve(workspace_dir(ws), jio->asset_id ? NULL : &u, jio->asset_id, path, &type,
                           &io->asset, &e);
    if (!jio->asset_id)
        uri_dispose(&u);
    if (rc) {
        doc_error(err, p->job->doc, at, field, "%s", e.msg);
        err->code = e.code;
        ferr_clear(&e);
        return -1;
    }
    int file = type && !strcmp(type, "uri_file");
    if (type && jio->type_given && file != (io->type == IO_URI_FILE))
        rc = doc_error(err, p->job->doc, at, field,
                       "type %s, but %s is a %s: say type: %s, or leave type out", job_io_type(jio),
                       io->asset, type, type);
    else if (type && !jio->type_given) {
        io->type = file ? IO_URI_FILE : IO_URI_FOLDER;
        free(io->kind);
        io->kind = file || !strcmp(type, "uri_folder") ? NULL : xstrdup(type);
    }
    free(type);
    if (rc) {
        free(*path);
        *path = NULL;
    }
    return rc;
}

static int plan_input(plan_t *p, plan_io_t *io, const job_io_t *jio, const workspace_t *ws,
                      ferr_t *err)
{
    const job_t *job = p->job;
    char field[300];
    snprintf(field, sizeof field, "%s.%s", job->format == JOB_V2 ? "inputs" : "dataReferences",
             jio->name);
    const doc_node_t *at = doc_get(jio->node, "path");
    if (!at)
        at = jio->node;
    if (jio->type == IO_LITERAL) {
        io->value = xstrdup(jio->value);
        return 0;
    }
    char *ref = NULL;
    if (plan_ref(p, io, jio, ws, at, field, &ref, err))
        return -1;
    const char *path = ref ? ref : jio->path;
    io->uri = xstrdup(path);
    uri_t u;
    const char *why;
    if (uri_parse(path, &u, &why)) {
        free(ref);
        return doc_error(err, job->doc, at, field, "%s", why);
    }
    if (ref && (u.kind == URI_ASSET || u.kind == URI_JOB || u.kind == URI_LOCAL)) {
        uri_dispose(&u);
        free(ref);
        return doc_error(err, job->doc, at, field,
                         "%s points at '%s', which is not data in a "
                         "datastore or at a URL",
                         io->asset, io->uri);
    }
    free(ref);
    int rc = 0;
    if (u.kind == URI_URL && io->mode == MODE_DIRECT) {
        io->value = xstrdup(io->uri);
    } else if (u.kind == URI_URL) { /* a blob URL, as job_load checked */
        rc = resolve_url(io, job, ws, at, field, err);
        if (rc == 0)
            plan_download_to(p, io, jio);
    } else if (u.kind == URI_DATASTORE) {
        rc = resolve_datastore(io, job, ws, at, field, &u, err);
        if (rc == 0 && io->mode == MODE_DIRECT) {
            io->value = xstrdup(io->uri);
        } else if (rc == 0) {
            plan_download_to(p, io, jio);
        }
    } else { /* a local path, relative to the job file */
        char *abs = path_absolute(u.path, job->dir);
        struct stat st;
        if (stat(abs, &st) != 0) {
            rc = doc_error(err, job->doc, at, field, "'%s': no such file or folder (%s)", jio->path,
                           abs);
            err->code = FERR_NOTFOUND;
        } else if (jio->type == IO_URI_FILE && !S_ISREG(st.st_mode)) {
            rc = doc_error(err, job->doc, at, field, "'%s' is not a file (type is uri_file)",
                           jio->path);
        } else if (jio->type == IO_URI_FOLDER && !S_ISDIR(st.st_mode)) {
            rc = doc_error(err, job->doc, at, field,
                           "'%s' is not a folder (type is uri_folder; use uri_file for a file)",
                           jio->path);
        } else if (io->mode == MODE_DOWNLOAD) {
            /* copy it, through an ad hoc local datastore rooted at the data */
            int file = jio->type == IO_URI_FILE;
            io->adhoc = datastore_new(jio->name, store_backend_folder());
            io->adhoc->root = file ? path_dirname(abs) : xstrdup(abs);
            io->ds = io->adhoc;
            io->remote = xstrdup(file ? basename_of(abs) : "");
            char *dir = local_default(p, jio, "inputs");
            io->local = file ? path_join(dir, basename_of(abs)) : xstrdup(dir);
            free(dir);
            io->value = xstrdup(io->local);
        } else {
            io->in_place = 1;
            io->mode = io->mode == MODE_RO_MOUNT ? MODE_RO_MOUNT : MODE_DIRECT;
            io->local = xstrdup(abs);
            io->value = xstrdup(abs);
        }
        free(abs);
    }
    uri_dispose(&u);
    return rc;
}

typedef struct outref {
    const plan_t *p;
    const char *name;
} outref_t;

static const char *out_ref(void *ud, const char *ref)
{
    const outref_t *o = ud;
    if (!strcmp(ref, "run.id") || !strcmp(ref, "name"))
        return o->p->run_id;
    if (!strcmp(ref, "output_name"))
        return o->name;
    return NULL;
}

static int plan_output(plan_t *p, plan_io_t *io, const job_io_t *jio, const workspace_t *ws,
                       ferr_t *err)
{
    const job_t *job = p->job;
    char field[300];
    snprintf(field, sizeof field, "%s.%s", job->format == JOB_V2 ? "outputs" : "dataReferences",
             jio->name);
    const doc_node_t *at = doc_get(jio->node, "path");
    if (!at)
        at = jio->node;
    if (jio->path) {
        outref_t o = {p, jio->name};
        char *bad = NULL;
        if (job_subst(jio->path, out_ref, &o, &io->uri, &bad)) {
            free(bad);
            return doc_error(err, job->doc, at, field, "cannot substitute the path");
        }
    } else {
        const char *def = workspace_default(ws);
        if (!def)
            return doc_error(err, job->doc, at, field,
                             "no path, and the workspace has no default datastore (see 'ferry "
                             "datastore set-default')");
        if (asprintf(&io->uri, "azureml://datastores/%s/paths/azureml/%s/%s/", def, p->run_id,
                     jio->name) < 0)
            return ferr_set(err, FERR_INTERNAL, "out of memory");
    }
    uri_t u;
    const char *why;
    if (uri_parse(io->uri, &u, &why))
        return doc_error(err, job->doc, at, field, "'%s': %s", io->uri, why);
    int rc = -1;
    if (u.kind == URI_URL)
        rc = resolve_url(io, job, ws, at, field, err);
    else if (u.kind != URI_DATASTORE)
        doc_error(err, job->doc, at, field, "'%s': expected azureml://datastores/...", io->uri);
    else
        rc = resolve_datastore(io, job, ws, at, field, &u, err);
    uri_dispose(&u);
    if (rc)
        return -1;
    io->mode = MODE_UPLOAD;
    io->shared = jio->shared ? (p->rank.world > 1 ? p->rank.rank + 2 : 1) : 0;
    if (p->rank.world > 1 && !jio->shared) { /* each rank's files in rank-<N>/ */
        char *rk = xasprintf("rank-%d", p->rank.rank);
        char *r = jio->type == IO_URI_FILE ? NULL : path_join(io->remote, rk);
        if (jio->type == IO_URI_FILE) {
            size_t ul = strlen(io->uri);
            int folder_like = !*io->remote || io->uri[ul - 1] == '/';
            char *d = folder_like ? xstrdup(io->remote) : path_dirname(io->remote);
            char *dd = strcmp(d, ".") ? path_join(d, rk) : xstrdup(rk);
            r = folder_like ? path_join(dd, jio->name) : path_join(dd, basename_of(io->remote));
            free(d);
            free(dd);
        }
        free(io->remote);
        io->remote = r;
        free(rk);
    }
    char *dir = local_default(p, jio, "outputs");
    if (jio->type == IO_URI_FILE) {
        size_t ul = strlen(io->uri);
        /* a folder-like path for a file output: the file keeps the output's name */
        if ((!*io->remote || io->uri[ul - 1] == '/') && !(p->rank.world > 1 && !jio->shared)) {
            char *r = path_join(io->remote, jio->name);
            free(io->remote);
            io->remote = r;
        }
        io->local = path_join(dir, basename_of(io->remote));
        free(dir);
    } else {
        io->local = dir;
    }
    io->value = xstrdup(io->local);
    return 0;
}

static const char *cmd_ref(void *ud, const char *ref)
{
    const plan_t *p = ud;
    if (!strcmp(ref, "run.id") || !strcmp(ref, "name"))
        return p->run_id;
    if (!strncmp(ref, "inputs.", 7)) {
        for (size_t i = 0; i < p->ninputs; i++)
            if (!strcmp(p->inputs[i].name, ref + 7))
                return p->inputs[i].value;
    } else if (!strncmp(ref, "outputs.", 8)) {
        for (size_t i = 0; i < p->noutputs; i++)
            if (!strcmp(p->outputs[i].name, ref + 8))
                return p->outputs[i].value;
    }
    return NULL;
}

static const char *dataref_ref(void *ud, const char *key)
{
    const plan_t *p = ud;
    for (size_t i = 0; i < p->ninputs; i++)
        if (!strcmp(p->inputs[i].name, key))
            return p->inputs[i].value;
    for (size_t i = 0; i < p->noutputs; i++)
        if (!strcmp(p->outputs[i].name, key))
            return p->outputs[i].value;
    return NULL;
}

/* Where the run lives: its id (given, or new) and its work dir. */
static int plan_place(plan_t *p, const workspace_t *ws, const plan_opts_t *o, ferr_t *err)
{
    const job_t *job = p->job;
    if (o->run_id && !plan_run_id_ok(o->run_id))
        return ferr_set(err, FERR_USAGE,
                        "run id '%s': use up to 128 letters, digits, '_', '-' and '.', not "
                        "starting with '.' or '-'",
                        o->run_id);
    char *shared_id = rank_run_id(&p->rank); /* every rank of one job: one run id */
    p->run_id = o->run_id ? xstrdup(o->run_id) : shared_id ? shared_id : new_run_id();
    if (p->run_id != shared_id)
        free(shared_id);
    if (o->work_dir) {
        p->work_dir = path_absolute(o->work_dir, NULL);
    } else {
        char *runs = path_join(workspace_dir(ws), "runs");
        p->work_dir = path_join(runs, p->run_id);
        free(runs);
    }
    if (p->rank.world > 1) { /* <run>/rank-<N>, and the node's shared <run>/node-<M> */
        char *rk = xasprintf("rank-%d", p->rank.rank), *nd = xasprintf("node-%d", p->rank.node);
        p->node_dir = path_join(p->work_dir, nd);
        char *w = path_join(p->work_dir, rk);
        free(p->work_dir);
        p->work_dir = w;
        free(rk);
        free(nd);
    }
    struct stat st;
    if (stat(job->code, &st) != 0 || !S_ISDIR(st.st_mode)) {
        const doc_node_t *code = doc_get(doc_root(job->doc), "code");
        doc_error(err, job->doc, code ? code : doc_root(job->doc), "code",
                  "the folder %s does not exist", job->code);
        err->code = FERR_NOTFOUND;
        return -1;
    }
    p->cwd = xstrdup(job->code);
    return 0;
}

/* Each input and output resolved: its datastore, remote and local paths. */
static int plan_ios(plan_t *p, const workspace_t *ws, ferr_t *err)
{
    const job_t *job = p->job;
    p->inputs = xcalloc(job->ninputs + 1, sizeof *p->inputs);
    p->outputs = xcalloc(job->noutputs + 1, sizeof *p->outputs);
    for (size_t i = 0; i < job->ninputs; i++) {
        plan_io_t *io = &p->inputs[p->ninputs++];
        const job_io_t *jio = &job->inputs[i];
        io->name = jio->name;
        io->type = jio->type;
        io->kind = jio->kind ? xstrdup(jio->kind) : NULL;
        io->env_name = jio->env_name;
        io->mode = io->asked = jio->mode;
        io->mode_given = jio->mode_given;
        io->overwrite = job->format == JOB_V2 ? 1 : jio->overwrite;
        if (plan_input(p, io, jio, ws, err))
            return -1;
    }
    for (size_t i = 0; i < job->noutputs; i++) {
        plan_io_t *io = &p->outputs[p->noutputs++];
        const job_io_t *jio = &job->outputs[i];
        io->name = jio->name;
        io->type = jio->type;
        io->kind = jio->kind ? xstrdup(jio->kind) : NULL;
        io->env_name = jio->env_name;
        io->asset_name = jio->asset_name;
        io->archive = jio->archive;
        io->asset_version = jio->asset_version;
        io->mode = io->asked = jio->mode;
        io->mode_given = jio->mode_given;
        io->overwrite = job->format == JOB_V2 ? 1 : jio->overwrite;
        io->sync_interval = jio->sync_interval;
        if (plan_output(p, io, jio, ws, err))
            return -1;
    }
    return 0;
}

/* v1: an argument DatasetConsumptionConfig:<name> (an input) or
 * DatasetOutputConfig:<name> (an output) is where that data is. */
static void dataset_token(const plan_t *p, char **arg)
{
    const char *a = *arg, *name = NULL;
    if (!strncmp(a, "DatasetConsumptionConfig:", 25))
        name = a + 25;
    else if (!strncmp(a, "DatasetOutputConfig:", 20))
        name = a + 20;
    int in = a[7] == 'C';
    const plan_io_t *ios = in ? p->inputs : p->outputs;
    size_t n = in ? p->ninputs : p->noutputs;
    for (size_t i = 0; name && i < n; i++)
        if (!strcmp(ios[i].name, name) && ios[i].value) {
            free(*arg);
            *arg = xstrdup(ios[i].value);
            return;
        }
}

/* The command (or argv) and the environment with every reference in place. */
static int plan_command(plan_t *p, ferr_t *err)
{
    const job_t *job = p->job;
    char *bad = NULL;
    int rc = 0;
    if (job->command && job_subst(job->command, cmd_ref, p, &p->command, &bad))
        rc = doc_error(err, job->doc, job->command_node, "command", "unknown reference ${{%s}}",
                       bad ? bad : "");
    if (rc == 0 && job->argv) {
        p->argv = xcalloc(job->argc + 1, sizeof *p->argv);
        for (size_t i = 0; rc == 0 && i < job->argc; i++, p->argc++)
            if (job_subst_datarefs(job->argv[i], dataref_ref, p, &p->argv[i], &bad))
                rc = doc_error(err, job->doc, job->command_node, "arguments",
                               "unknown data reference %s", bad ? bad : "");
            else
                dataset_token(p, &p->argv[i]);
    }
    for (size_t i = 0; rc == 0 && i < job->nenv; i++) {
        char *v = NULL;
        if (job_subst(job->env[i].value, cmd_ref, p, &v, &bad))
            rc = doc_error(err, job->doc, job->env[i].node, job->env[i].name,
                           "unknown reference ${{%s}}", bad ? bad : "");
        else
            env_add(p, "", job->env[i].name, v);
        free(v);
    }
    free(bad);
    return rc;
}

/* What the command finds in its environment, as Azure ML sets it. */
static void plan_env(plan_t *p)
{
    for (size_t i = 0; i < p->ninputs; i++) {
        env_add(p, "AZURE_ML_INPUT_", p->inputs[i].name, p->inputs[i].value);
        if (p->inputs[i].type != IO_LITERAL)
            env_add(p, "AZUREML_DATAREFERENCE_", p->inputs[i].name, p->inputs[i].value);
    }
    for (size_t i = 0; i < p->noutputs; i++) {
        env_add(p, "AZURE_ML_OUTPUT_", p->outputs[i].name, p->outputs[i].value);
        env_add(p, "AZUREML_DATAREFERENCE_", p->outputs[i].name, p->outputs[i].value);
        if (p->outputs[i].env_name)
            env_add(p, "", p->outputs[i].env_name, p->outputs[i].value);
    }
    for (size_t i = 0; i < p->ninputs; i++)
        if (p->inputs[i].env_name && p->inputs[i].value)
            env_add(p, "", p->inputs[i].env_name, p->inputs[i].value);
    env_add(p, "", "FERRY_RUN_ID", p->run_id);
    env_add(p, "", "AZUREML_RUN_ID", p->run_id);
}

int plan_build(plan_t **out, const job_t *job, const workspace_t *ws, const plan_opts_t *o,
               ferr_t *err)
{
    *out = NULL;
    plan_t *p = xcalloc(1, sizeof *p);
    p->job = job;
    p->timeout = job->timeout;
    rank_detect(&p->rank, NULL);
    if (plan_place(p, ws, o, err) || plan_ios(p, ws, err) || plan_command(p, err) ||
        asset_check_outputs(workspace_dir(ws), p, err)) {
        plan_free(p);
        return -1;
    }
    plan_env(p);
    *out = p;
    return 0;
}
