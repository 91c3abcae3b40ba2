/* ferry data create, list, show, archive, restore: the workspace's data
 * assets (asset.c), as Azure ML's `az ml data` keeps them. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "asset.h"
#include "cli/cli_int.h"
#include "doc.h"
#include "log.h"
#include "path.h"
#include "store.h"
#include "uri.h"
#include "xalloc.h"
#include "xfer.h"

static const char *asset_types[] = {"uri_folder", "uri_file", "mltable", NULL};

static int known_type(const char *t)
{
    for (int i = 0; asset_types[i]; i++)
        if (!strcmp(asset_types[i], t))
            return 1;
    return 0;
}

/* A local file or folder goes up to the default datastore, under
 * LocalUpload/<random>/<its name>, as Azure ML's CLI does; *path is then
 * where it went. */
static int upload_local(ctx_t *c, const char *local, const char *type, char **path, ferr_t *err)
{
    struct stat st;
    if (stat(local, &st) != 0)
        return ferr_errno(err, FERR_NOTFOUND, errno, "--path %s", local);
    int file = S_ISREG(st.st_mode);
    if (!file && !S_ISDIR(st.st_mode))
        return ferr_set(err, FERR_USAGE, "--path %s: not a file or a folder", local);
    if (file != !strcmp(type, "uri_file"))
        return ferr_set(err, FERR_USAGE, "--path %s is a %s, but the type is %s", local,
                        file ? "file" : "folder", type);
    if (!strcmp(type, "mltable")) {
        char *mlt = path_join(local, "MLTable");
        int has = access(mlt, F_OK) == 0;
        free(mlt);
        if (!has)
            return ferr_set(err, FERR_USAGE,
                            "--path %s: an mltable is a folder holding an MLTable file", local);
    }
    const char *def = workspace_default(c->ws);
    if (!def)
        return ferr_set(err, FERR_CONFIG,
                        "a local --path goes up to the default datastore, and this workspace "
                        "has none (see 'ferry datastore set-default')");
    unsigned char r[8];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        return ferr_set(err, FERR_IO, "no random bytes for a folder name");
    char *target = xasprintf("LocalUpload/%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3],
                             r[4], r[5], r[6], r[7]);
    char *abs = path_absolute(local, NULL), *base = strrchr(abs, '/') + 1;
    store_t *s;
    xfer_opts_t o = {.label = "data create"};
    xfer_result_t res = {0};
    int rc = cli_open_store(c, def, &s, err);
    if (rc == 0) {
        char *dest = xasprintf("%s/%s", target, base);
        char *files[] = {abs, NULL};
        rc = file ? xfer_upload_files(s, files, 1, NULL, target, &o, &res, err)
                  : xfer_upload_dir(s, abs, dest, &o, &res, err);
        store_close(s);
        if (rc == 0) {
            *path = xasprintf("azureml://datastores/%s/paths/%s%s", def, dest, file ? "" : "/");
            log_info("uploaded %s to %s (%llu files)", local, *path, (unsigned long long)res.files);
        }
        free(dest);
    }
    xfer_result_free(&res);
    free(abs);
    free(target);
    return rc;
}

/* --path as given, checked; a run's output is resolved to where it went. */
static int asset_path(ctx_t *c, const char *given, const char *type, char **path, ferr_t *err)
{
    uri_t u;
    const char *why;
    if (uri_parse(given, &u, &why))
        return ferr_set(err, FERR_USAGE, "--path '%s': %s", given, why);
    int rc = 0;
    if (u.kind == URI_LOCAL) {
        rc = upload_local(c, u.path, type, path, err);
    } else if (u.kind == URI_DATASTORE) {
        const char *w2;
        char *norm = path_remote_normalize(u.path, &w2);
        if (!workspace_find(c->ws, u.datastore))
            rc = ferr_set(err, FERR_NOTFOUND,
                          "--path: no datastore named %s in this workspace (see 'ferry datastore "
                          "list')",
                          u.datastore);
        else if (!norm)
            rc = ferr_set(err, FERR_USAGE, "--path '%s': the path %s", given,
                          w2 ? w2 : "is not valid");
        else
            *path = xstrdup(given);
        free(norm);
    } else if (u.kind == URI_URL) {
        datastore_t *adhoc = NULL;
        char *p = NULL;
        int k = store_url_parse(given, "data", &adhoc, &p, &why);
        if (k)
            rc = ferr_set(err, FERR_USAGE, "--path '%s': %s", given,
                          k == -2 ? "not a URL of a storage service ferry reads" : why);
        else
            *path = xstrdup(given);
        datastore_free(adhoc);
        free(p);
    } else if (u.kind == URI_JOB) {
        char *t = NULL, *label = NULL;
        rc = asset_resolve(workspace_dir(c->ws), &u, NULL, path, &t, &label, err);
        free(t);
        free(label);
    } else {
        rc = ferr_set(err, FERR_USAGE,
                      "--path '%s': a data asset points at data (a datastore path, a storage "
                      "URL, a local path or a run's output), not at another asset",
                      given);
    }
    uri_dispose(&u);
    if (rc == 0 && !strcmp(type, "uri_file") && (*path)[strlen(*path) - 1] == '/') {
        rc =
            ferr_set(err, FERR_USAGE, "--path '%s' ends with '/', but the type is uri_file", given);
        free(*path);
        *path = NULL;
    }
    return rc;
}

/* Azure ML's data asset YAML: name, version, type, path, description (and
 * $schema, tags, properties, which are kept out). */
static int from_file(const char *file, asset_t *a, char **dir, ferr_t *err)
{
    static const char *keys[] = {"$schema",     "name", "version",    "type", "path",
                                 "description", "tags", "properties", NULL};
    doc_t *d;
    if (doc_load_file(&d, file, err))
        return -1;
    const doc_node_t *r = doc_root(d);
    int rc = 0;
    if (!r || r->kind != DOC_MAP)
        rc = doc_error(err, d, r, NULL, "expected a data asset (name, version, type, path)");
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        const char *k = r->pairs[i].key->str;
        int known = 0;
        for (int j = 0; keys[j]; j++)
            known |= !strcmp(keys[j], k);
        const doc_node_t *v = r->pairs[i].val;
        if (!known)
            rc = doc_error(err, d, r->pairs[i].key, k,
                           "unknown key for a data asset (expected name, version, type, path, "
                           "description, tags)");
        else if (strcmp(k, "tags") && strcmp(k, "properties") && v->kind != DOC_SCALAR)
            rc = doc_error(err, d, v, k, "expected a value, got %s", doc_kind_name(v));
        else if (!strcmp(k, "name"))
            a->name = xstrdup(v->str);
        else if (!strcmp(k, "version"))
            a->version = xstrdup(v->str);
        else if (!strcmp(k, "type"))
            a->type = xstrdup(v->str);
        else if (!strcmp(k, "path"))
            a->path = xstrdup(v->str);
        else if (!strcmp(k, "description"))
            a->description = xstrdup(v->str);
    }
    *dir = path_dirname(doc_name(d));
    doc_free(d);
    return rc;
}

static int is_local(const char *p)
{
    uri_t u;
    const char *why;
    if (uri_parse(p, &u, &why))
        return 0;
    int local = u.kind == URI_LOCAL && p[0] != '/';
    uri_dispose(&u);
    return local;
}

static void override(char **field, const char *v)
{
    if (v) {
        free(*field);
        *field = xstrdup(v);
    }
}

static int cmd_data_create(ctx_t *c, args_t *a, ferr_t *err)
{
    asset_t n = {0};
    char *dir = NULL, *path = NULL, *made = NULL;
    int rc = opt(a, "file") ? from_file(opt(a, "file"), &n, &dir, err) : 0;
    override(&n.name, opt(a, "name"));
    override(&n.version, opt(a, "version"));
    override(&n.type, opt(a, "type"));
    override(&n.path, opt(a, "path"));
    override(&n.description, opt(a, "description"));
    if (!n.type)
        n.type = xstrdup("uri_folder");
    if (rc == 0 && (!n.name || !n.path))
        rc = ferr_set(err, FERR_USAGE,
                      "a data asset needs a name and a path (--name, --path, "
                      "or --file data.yml)");
    else if (rc == 0 && !known_type(n.type))
        rc = ferr_set(err, FERR_USAGE, "type '%s': expected uri_folder, uri_file or mltable",
                      n.type);
    if (rc == 0 && dir && is_local(n.path)) { /* relative to the YAML file */
        char *abs = path_absolute(n.path, dir);
        override(&n.path, abs);
        free(abs);
    }
    if (rc == 0)
        rc = asset_path(c, n.path, n.type, &path, err);
    if (rc == 0) {
        free(n.path);
        n.path = path;
        rc = asset_create(workspace_dir(c->ws), &n, &made, err);
    }
    if (rc == 0)
        printf("created data asset %s version %s (%s, %s)\n", n.name, made, n.type, n.path);
    free(made);
    free(dir);
    free(n.name);
    free(n.version);
    free(n.type);
    free(n.path);
    free(n.description);
    return rc;
}

/* "name", "name:version" or "name@latest" */
static const asset_t *find_arg(const asset_list_t *l, const char *arg, ferr_t *err)
{
    char *name = xstrdup(arg), *ver = NULL, *at = strchr(name, '@'), *colon = strchr(name, ':');
    if (colon) {
        *colon = 0;
        ver = colon + 1;
    } else if (at && !strcmp(at, "@latest")) {
        *at = 0;
    }
    const asset_t *found = asset_find(l, name, ver);
    if (!found) {
        char *vs = asset_versions(l, name);
        ferr_set(err, FERR_NOTFOUND, "no data asset %s%s%s (%s%s)", name, ver ? " version " : "",
                 ver ? ver : "", vs ? "its versions: " : "see 'ferry data list'", vs ? vs : "");
        free(vs);
    }
    free(name);
    return found;
}

static int cmd_data_show(ctx_t *c, args_t *a, ferr_t *err)
{
    asset_list_t l;
    if (asset_load(workspace_dir(c->ws), &l, err))
        return -1;
    const asset_t *x = find_arg(&l, a->pos[0], err);
    if (x && flag(a, "json")) {
        cli_print_json(asset_to_json(x));
    } else if (x) {
        printf("name:        %s\nversion:     %s\ntype:        %s\npath:        %s\nid:          "
               "%s\ncreated:     %s\n",
               x->name, x->version, x->type, x->path, x->id, x->created ? x->created : "");
        if (x->description)
            printf("description: %s\n", x->description);
        if (x->job)
            printf("from run:    %s\n", x->job);
        if (x->archived)
            printf("archived:    yes\n");
    }
    asset_list_free(&l);
    return x ? 0 : -1;
}

static int cmd_data_list(ctx_t *c, args_t *a, ferr_t *err)
{
    asset_list_t l;
    if (asset_load(workspace_dir(c->ws), &l, err))
        return -1;
    const char *only = a->npos ? a->pos[0] : NULL;
    int all = flag(a, "include-archived");
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < l.n; i++) {
        const asset_t *x = &l.v[i];
        /* without a name: each asset once, at its latest version */
        if ((only && strcmp(x->name, only)) || (!all && x->archived) ||
            (!only && asset_find(&l, x->name, NULL) != x))
            continue;
        if (flag(a, "json"))
            cJSON_AddItemToArray(arr, asset_to_json(x));
        else
            printf("%-30s %-10s %-11s %s%s\n", x->name, x->version, x->type, x->path,
                   x->archived ? "  (archived)" : "");
    }
    if (flag(a, "json"))
        cli_print_json(arr);
    else
        cJSON_Delete(arr);
    asset_list_free(&l);
    return 0;
}

static int set_archived(ctx_t *c, args_t *a, int archived, ferr_t *err)
{
    char *name = xstrdup(a->pos[0]), *colon = strchr(name, ':');
    if (colon)
        *colon = 0;
    int rc =
        asset_set_archived(workspace_dir(c->ws), name, colon ? colon + 1 : NULL, archived, err);
    if (rc == 0)
        printf("%s data asset %s%s%s\n", archived ? "archived" : "restored", name,
               colon ? " version " : " (every version)", colon ? colon + 1 : "");
    free(name);
    return rc;
}

static int cmd_data_archive(ctx_t *c, args_t *a, ferr_t *err)
{
    return set_archived(c, a, 1, err);
}

static int cmd_data_restore(ctx_t *c, args_t *a, ferr_t *err)
{
    return set_archived(c, a, 0, err);
}

static const opt_spec_t create_opts[] = {
    {"name", 'n', 1},        {"version", 0, 1}, {"path", 'p', 1}, {"type", 't', 1},
    {"description", 'd', 1}, {"file", 'f', 1},  HELP_OPT,         {NULL, 0, 0}};
static const opt_spec_t list_opts[] = {
    {"json", 0, 0}, {"include-archived", 0, 0}, HELP_OPT, {NULL, 0, 0}};

const command_t cli_data_commands[] = {
    {"data create", cmd_data_create, create_opts, 0, 0, 1,
     "ferry data create --name N --path URI [--version V] [--type T] [--description D] | --file "
     "data.yml",
     "Registers a data asset: a name and version pointing at data, which jobs then name as\n"
     "azureml:N:V or azureml:N@latest. URI is a datastore path\n"
     "(azureml://datastores/<ds>/paths/<p>), a storage URL, a run's output\n"
     "(azureml://jobs/<run id>/outputs/<name>), or a local file or folder, which is\n"
     "uploaded to the default datastore under LocalUpload/. T is uri_folder (the\n"
     "default), uri_file or mltable (a folder holding an MLTable file). Without\n"
     "--version, the next whole number. A version never changes once created.\n"
     "--file takes Azure ML's data asset YAML; options given as well win over it.",
     NULL},
    {"data list", cmd_data_list, list_opts, 0, 1, 1,
     "ferry data list [NAME] [--json] [--include-archived]",
     "Lists the data assets, each at its latest version; with NAME, every version of it.", NULL},
    {"data show", cmd_data_show, cli_json_opts, 1, 1, 1, "ferry data show N[:V|@latest] [--json]",
     "Shows a data asset: its version (the latest if none is named), type, path and id.", NULL},
    {"data archive", cmd_data_archive, cli_no_opts, 1, 1, 1, "ferry data archive N[:V]",
     "Archives a version (or every version) of a data asset: @latest and 'ferry data list'\n"
     "pass it by, and a job naming its version still gets it.",
     NULL},
    {"data restore", cmd_data_restore, cli_no_opts, 1, 1, 1, "ferry data restore N[:V]",
     "Undoes 'ferry data archive'.", NULL},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL}};
