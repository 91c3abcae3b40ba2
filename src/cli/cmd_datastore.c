/* ferry init and ferry datastore ...: the workspace and its registry of
 * datastores. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_int.h"
#include "log.h"
#include "path.h"
#include "store.h"
#include "workspace.h"
#include "xalloc.h"
#include "doc.h"

static int cmd_init(ctx_t *c, args_t *a, ferr_t *err)
{
    const char *dir = a->npos ? a->pos[0] : c->ws_flag ? c->ws_flag : ".ferry";
    workspace_t *ws;
    if (workspace_open(&ws, dir, 1, err))
        return -1;
    const datastore_t *def = workspace_find(ws, workspace_default(ws) ? workspace_default(ws) : "");
    printf("workspace %s\n", workspace_dir(ws));
    if (def)
        printf("default datastore %s (%s%s%s)\n", def->name, datastore_type_name(def),
               def->root ? ", " : "", def->root ? def->root : "");
    workspace_close(ws);
    return 0;
}

/* The options of every backend come from the table (BACKEND_OPTS). */
static const opt_spec_t register_opts[] = {BACKEND_OPTS,
                                           {"description", 0, 1},
                                           {"account-key-env", 0, 1},
                                           {"account-key-file", 0, 1},
                                           {"sas-token-env", 0, 1},
                                           {"sas-token-file", 0, 1},
                                           {"client-secret-env", 0, 1},
                                           {"client-secret-file", 0, 1},
                                           {"client-cert-file", 0, 1},
                                           {"identity", 0, 0},
                                           {"store-secret", 0, 0},
                                           {"create-if-not-exists", 0, 0},
                                           {"skip-validation", 0, 0},
                                           {"overwrite", 0, 0},
                                           {"help", 'h', 0},
                                           {NULL, 0, 0}};

/* Could v be a secret itself: a SAS, or a long run of base64 that is not a
 * path (a key)? */
static int secret_like(const char *v)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    size_t n = strlen(v);
    if (strstr(v, "sig=") || !strncmp(v, "sv=", 3) || !strncmp(v, "?sv=", 4))
        return 1;
    return n >= 40 && strspn(v, b64) == n && (v[n - 1] == '=' || strchr(v, '+') || !strchr(v, '/'));
}

/* A --*-env or --*-file flag given the secret instead of where it is: the
 * value is refused and never echoed (it would be in a warning, an error and
 * datastores.json). */
static int misplaced_secret(const char *flagname, const char *v, cred_source_t src, ferr_t *err)
{
    if (src == CRED_FROM_ENV && !datastore_env_name_ok(v)) {
        log_add_secret(v);
        return ferr_set(err, FERR_USAGE,
                        "--%s takes the name of an environment variable that holds the secret, "
                        "not the secret itself; the value given is not a variable name (not "
                        "shown)",
                        flagname);
    }
    if (src == CRED_FROM_FILE && secret_like(v) && access(v, F_OK) != 0) {
        log_add_secret(v);
        return ferr_set(err, FERR_USAGE,
                        "--%s takes the path of a file that holds the secret; the value given "
                        "looks like the secret itself and is no file (not shown)",
                        flagname);
    }
    return 0;
}

static int set_credential(datastore_t *ds, const args_t *a, ferr_t *err)
{
    static const struct {
        const char *flag;
        cred_kind_t kind;
        cred_source_t src;
    } creds[] = {{"account-key-env", CRED_ACCOUNT_KEY, CRED_FROM_ENV},
                 {"account-key-file", CRED_ACCOUNT_KEY, CRED_FROM_FILE},
                 {"sas-token-env", CRED_SAS_TOKEN, CRED_FROM_ENV},
                 {"sas-token-file", CRED_SAS_TOKEN, CRED_FROM_FILE},
                 {"client-secret-env", CRED_CLIENT_SECRET, CRED_FROM_ENV},
                 {"client-secret-file", CRED_CLIENT_SECRET, CRED_FROM_FILE},
                 {"client-cert-file", CRED_CLIENT_CERT, CRED_FROM_FILE}};
    int found = 0;
    for (size_t i = 0; i < sizeof creds / sizeof *creds; i++) {
        const char *v = opt(a, creds[i].flag);
        if (!v)
            continue;
        if (found++)
            return ferr_set(err, FERR_USAGE, "give one credential flag, not several");
        if (!(store_backend_caps(ds->backend) & STORE_CAP_CREDENTIAL))
            return ferr_set(err, FERR_USAGE, "a %s datastore takes no credential",
                            datastore_type_name(ds));
        if (!*v)
            return ferr_set(err, FERR_USAGE, "--%s needs a value", creds[i].flag);
        if (misplaced_secret(creds[i].flag, v, creds[i].src, err))
            return -1;
        ds->cred_kind = creds[i].kind;
        ds->cred_source = creds[i].src;
        ds->cred_ref = creds[i].src == CRED_FROM_FILE ? path_absolute(v, NULL) : xstrdup(v);
    }
    if (flag(a, "identity")) {
        if (found)
            return ferr_set(err, FERR_USAGE, "--identity takes no secret: give one or the other");
        if (!(store_backend_caps(ds->backend) & STORE_CAP_CREDENTIAL))
            return ferr_set(err, FERR_USAGE, "a %s datastore takes no credential",
                            datastore_type_name(ds));
        ds->cred_kind = CRED_IDENTITY;
        ds->cred_source = CRED_FROM_ENV;
        return flag(a, "store-secret")
                   ? ferr_set(err, FERR_USAGE, "--identity has no secret to store")
                   : 0;
    }
    if (found && (ds->cred_kind == CRED_CLIENT_SECRET || ds->cred_kind == CRED_CLIENT_CERT) &&
        (!ds->tenant_id || !ds->client_id))
        return ferr_set(err, FERR_USAGE, "a service principal needs --tenant-id and --client-id");
    if (flag(a, "store-secret")) {
        if (!found)
            return ferr_set(err, FERR_USAGE, "--store-secret needs a credential flag");
        return 0; /* kept once the datastore is known good: keep_secret */
    }
    if (found && ds->cred_source == CRED_FROM_ENV && !getenv(ds->cred_ref))
        log_warn("$%s is not set now; it must be set wherever ferry uses datastore %s",
                 ds->cred_ref, ds->name);
    if (found && ds->cred_source == CRED_FROM_FILE && access(ds->cred_ref, R_OK) != 0)
        log_warn("%s is not readable now; it must be wherever ferry uses datastore %s",
                 ds->cred_ref, ds->name);
    return 0;
}

static void secret_free(char *secret)
{
    if (secret) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

/* A private copy of a secret, written only after the name is known free and
 * the access check passed: a failed register never replaces a stored one. */
static int keep_secret(ctx_t *c, datastore_t *ds, const char *secret, ferr_t *err)
{
    char *own = NULL;
    if (!secret && datastore_secret(ds, &own, err))
        return -1;
    log_add_secret(secret ? secret : own);
    int rc = workspace_store_secret(c->ws, ds, secret ? secret : own, err);
    secret_free(own);
    return rc;
}

/* Reaches the container now (creating it if asked), so that a wrong name or
 * credential shows at registration rather than in the middle of a job. */
static int check_access(const datastore_t *ds, const args_t *a, ferr_t *err)
{
    int create = flag(a, "create-if-not-exists");
    unsigned caps = store_backend_caps(ds->backend);
    if (!store_backend_can_open(ds->backend)) {
        if (create)
            log_warn("--create-if-not-exists: this version cannot reach %s storage yet; nothing "
                     "is created",
                     datastore_type_name(ds));
        log_info("access to %s is not checked: this version does not move data on %s "
                 "datastores yet",
                 ds->name, datastore_type_name(ds));
        return 0;
    }
    store_t *s;
    if (!(caps & STORE_CAP_CHECK)) {
        /* nothing to reach, but it must open: a local root that is there */
        if (store_open(&s, ds, err))
            return -1;
        store_close(s);
        return 0;
    }
    if (flag(a, "skip-validation") && !create)
        return 0;
    if (store_open(&s, ds, err))
        return -1;
    int rc = store_check(s, create, err);
    store_close(s);
    if (rc)
        return ferr_wrap(err,
                         "datastore %s not registered (--skip-validation registers it "
                         "unchecked)",
                         ds->name);
    return 0;
}

/* The types `datastore register` takes, from the table of backends. */
static void register_types(FILE *f)
{
    for (size_t i = 0; i < store_backend_count(); i++) {
        const store_backend_t *b = store_backend_at(i);
        if (store_backend_cli_name(b)) /* (plain https URLs are not registered) */
            fprintf(f, "  %-22s %s\n", store_backend_cli_name(b), store_backend_usage(b));
    }
}

/* An option of `datastore register` for the backend's from_options. */
static const char *reg_opt(void *ud, const char *name)
{
    const args_t *a = ud;
    const char *v = opt(a, name);
    return v ? v : flag(a, name) ? "" : NULL;
}

static int cmd_register(ctx_t *c, args_t *a, ferr_t *err)
{
    const store_backend_t *b = store_backend_find(a->pos[0]);
    if (!b || !store_backend_cli_name(b) || strcmp(a->pos[0], store_backend_cli_name(b)))
        return ferr_set(err, FERR_USAGE, "unknown datastore type '%s' (expected %s)", a->pos[0],
                        store_backend_names(1));
    datastore_t *ds = datastore_new(a->pos[1], b);
    const char *wrong = store_backend_misused(b, reg_opt, a);
    if (wrong) {
        ferr_set(err, FERR_USAGE, "--%s does not apply to a %s datastore (it takes %s)", wrong,
                 a->pos[0], store_backend_options(b));
        goto fail;
    }
    if (opt(a, "description"))
        ds->description = xstrdup(opt(a, "description"));
    if (store_backend_from_options(b, ds, reg_opt, a, err))
        goto fail;
    if (datastore_validate(ds, err) ||
        workspace_name_free(c->ws, ds->name, flag(a, "overwrite"), err) ||
        set_credential(ds, a, err))
        goto fail;
    if (check_access(ds, a, err))
        goto fail;
    if (flag(a, "store-secret") && keep_secret(c, ds, NULL, err))
        goto fail;
    char *name = xstrdup(ds->name);
    if (workspace_add(c->ws, ds, flag(a, "overwrite"), err)) {
        free(name);
        goto fail;
    }
    printf("registered datastore %s (%s)\n", name, a->pos[0]);
    free(name);
    return 0;
fail:
    datastore_free(ds);
    return -1;
}

static int cmd_ds_create(ctx_t *c, args_t *a, ferr_t *err)
{
    const char *file = opt(a, "file");
    if (!file)
        return ferr_set(err, FERR_USAGE, "datastore create needs --file FILE.yml");
    doc_t *d;
    if (doc_load_file(&d, file, err))
        return -1;
    datastore_t *ds = NULL;
    char *secret = NULL;
    char *abs = path_absolute(file, NULL);
    char *dir = path_dirname(abs);
    int rc = datastore_from_doc(&ds, &secret, d, dir, err);
    free(abs);
    free(dir);
    doc_free(d);
    if (rc)
        return -1;
    if (secret)
        log_add_secret(secret);
    ds->inline_secret = secret; /* checked as given, before a copy is kept */
    rc = workspace_name_free(c->ws, ds->name, flag(a, "overwrite"), err);
    if (rc == 0)
        rc = check_access(ds, a, err);
    ds->inline_secret = NULL;
    if (rc) {
        datastore_free(ds);
        secret_free(secret);
        return -1;
    }
    if (secret) {
        /* the file held the secret itself: keep a private copy, not a reference */
        rc = keep_secret(c, ds, secret, err);
        secret_free(secret);
        if (rc) {
            datastore_free(ds);
            return -1;
        }
    }
    char *name = xstrdup(ds->name);
    const char *type = datastore_type_name(ds);
    if (workspace_add(c->ws, ds, flag(a, "overwrite"), err)) {
        free(name);
        datastore_free(ds);
        return -1;
    }
    printf("registered datastore %s (%s)\n", name, type);
    free(name);
    return 0;
}

static int cmd_ds_list(ctx_t *c, args_t *a, ferr_t *err)
{
    (void)err;
    const char *def = workspace_default(c->ws);
    if (flag(a, "json")) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < workspace_count(c->ws); i++) {
            const datastore_t *ds = workspace_at(c->ws, i);
            cJSON *o = datastore_to_json(ds);
            cJSON_AddBoolToObject(o, "default", def && !strcmp(def, ds->name));
            cJSON_AddItemToArray(arr, o);
        }
        cli_print_json(arr);
        return 0;
    }
    printf("%-24s %-22s %-8s %s\n", "NAME", "TYPE", "DEFAULT", "LOCATION");
    for (size_t i = 0; i < workspace_count(c->ws); i++) {
        const datastore_t *ds = workspace_at(c->ws, i);
        char *where = store_location(ds);
        printf("%-24s %-22s %-8s %s\n", ds->name, datastore_type_name(ds),
               def && !strcmp(def, ds->name) ? "yes" : "", where);
        free(where);
    }
    return 0;
}

static int cmd_ds_show(ctx_t *c, args_t *a, ferr_t *err)
{
    const datastore_t *ds = cli_need_datastore(c, a->pos[0], err);
    if (!ds)
        return -1;
    cJSON *o = datastore_to_json(ds);
    const char *def = workspace_default(c->ws);
    cJSON_AddBoolToObject(o, "default", def && !strcmp(def, ds->name));
    if (flag(a, "json")) {
        cli_print_json(o);
        return 0;
    }
    cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        if (cJSON_IsString(it))
            printf("%-16s %s\n", it->string, it->valuestring);
        else if (cJSON_IsBool(it))
            printf("%-16s %s\n", it->string, cJSON_IsTrue(it) ? "yes" : "no");
        else if (cJSON_IsObject(it)) {
            cJSON *k = cJSON_GetObjectItem(it, "kind"), *s = cJSON_GetObjectItem(it, "source"),
                  *r = cJSON_GetObjectItem(it, "ref");
            /* the value itself is never shown: only where it comes from */
            printf("%-16s %s from %s %s (value not shown)\n", "credential", k->valuestring,
                   s->valuestring, r ? r->valuestring : "");
        }
    }
    cJSON_Delete(o);
    return 0;
}

static int cmd_ds_set_default(ctx_t *c, args_t *a, ferr_t *err)
{
    if (workspace_set_default(c->ws, a->pos[0], err))
        return -1;
    printf("default datastore: %s\n", a->pos[0]);
    return 0;
}

static int cmd_ds_get_default(ctx_t *c, args_t *a, ferr_t *err)
{
    (void)a;
    const char *def = workspace_default(c->ws);
    if (!def)
        return ferr_set(err, FERR_NOTFOUND,
                        "this workspace has no default datastore (see 'ferry datastore "
                        "set-default')");
    puts(def);
    return 0;
}

static int cmd_ds_remove(ctx_t *c, args_t *a, ferr_t *err)
{
    const datastore_t *ds = cli_need_datastore(c, a->pos[0], err);
    if (!ds)
        return -1;
    char *name = xstrdup(ds->name);
    const char *def = workspace_default(c->ws);
    int was_default = def && name && !strcmp(def, name);
    int rc = workspace_remove(c->ws, a->pos[0], err);
    if (rc == 0) {
        printf("removed datastore %s (its data was not touched)\n", name);
        if (was_default)
            log_warn("%s was the default datastore: this workspace has no default now, and "
                     "outputs that name no datastore fail until 'ferry datastore set-default "
                     "NAME'",
                     name);
    }
    free(name);
    return rc;
}

static const opt_spec_t create_opts[] = {{"file", 'f', 1},
                                         {"overwrite", 0, 0},
                                         {"skip-validation", 0, 0},
                                         {"create-if-not-exists", 0, 0},
                                         HELP_OPT,
                                         {NULL, 0, 0}};

const command_t cli_datastore_commands[] = {
    {"init", cmd_init, cli_no_opts, 0, 1, 0, "ferry init [DIR]",
     "Creates a workspace in DIR (default ./.ferry) with its default datastore,\n"
     "workspaceblobstore, a local folder inside the workspace. Commands run below DIR\n"
     "find it by themselves.",
     NULL},
    {"datastore register", cmd_register, register_opts, 2, 2, 2,
     "ferry datastore register TYPE NAME [options]",
     "Registers a datastore of one of the types below, with its options.\n"
     "Azure types also take [--endpoint core.windows.net | --account-url URL]\n"
     "[--protocol https|http] [--ca-file PEM] [--create-if-not-exists] [--skip-validation].\n"
     "\n"
     "Credentials (one of; a secret is never taken on the command line):\n"
     "  --account-key-env VAR    --account-key-file FILE\n"
     "  --sas-token-env VAR      --sas-token-file FILE\n"
     "  --client-secret-env VAR  --client-secret-file FILE   a service principal's secret,\n"
     "                           with --tenant-id T --client-id C\n"
     "  --client-cert-file PEM   a service principal's certificate and key (one PEM file)\n"
     "  --identity               no secret: the Entra ID identity where ferry runs (a\n"
     "                           service principal in AZURE_* variables, workload identity,\n"
     "                           then a managed identity; --client-id for a user-assigned one)\n"
     "  --store-secret           copy the secret into the workspace (mode 0600) instead of\n"
     "                           keeping the reference\n"
     "\n"
     "  --description TEXT   --overwrite   replace a datastore of the same name\n"
     "\n"
     "Types:",
     register_types},
    {"datastore create", cmd_ds_create, create_opts, 0, 0, 2,
     "ferry datastore create --file FILE.yml [--overwrite] [--skip-validation]\n"
     "                       [--create-if-not-exists]",
     "Registers a datastore from Azure ML's datastore YAML (type: azure_blob, azure_file,\n"
     "azure_data_lake_gen2) or type: local with root. An inline secret in credentials is\n"
     "copied into the workspace (mode 0600). Access to a blob container is checked first\n"
     "unless --skip-validation.",
     NULL},
    {"datastore list", cmd_ds_list, cli_json_opts, 0, 0, 1, "ferry datastore list [--json]",
     "Lists the workspace's datastores.", NULL},
    {"datastore show", cmd_ds_show, cli_json_opts, 1, 1, 1, "ferry datastore show NAME [--json]",
     "Shows one datastore. Secrets are never shown, only where they come from.", NULL},
    {"datastore set-default", cmd_ds_set_default, cli_no_opts, 1, 1, 2,
     "ferry datastore set-default NAME", "Makes NAME the default datastore (outputs go there).",
     NULL},
    {"datastore get-default", cmd_ds_get_default, cli_no_opts, 0, 0, 1,
     "ferry datastore get-default", "Prints the default datastore's name.", NULL},
    {"datastore remove", cmd_ds_remove, cli_no_opts, 1, 1, 2, "ferry datastore remove NAME",
     "Unregisters NAME. Its data is not touched; a secret ferry stored for it is deleted.\n"
     "Removing the default datastore leaves the workspace without one (it says so).",
     NULL},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL}};
