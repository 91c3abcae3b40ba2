#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "doc.h"
#include "job.h"
#include "log.h"
#include "path.h"
#include "plan.h"
#include "progress.h"
#include "run.h"
#include "store.h"
#include "workspace.h"
#include "xalloc.h"
#include "xfer.h"

/* Exit codes of every command but 'run' (which has its own, see run.h). */
enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

typedef struct opt_spec {
    const char *name;
    char shortc;
    int arg; /* takes a value */
} opt_spec_t;

#define MAX_SET 64
typedef struct args {
    char **pos;
    int npos;
    struct {
        const char *name;
        const char *val;
    } set[MAX_SET];
    int nset;
} args_t;

typedef struct ctx {
    const char *ws_flag;
    workspace_t *ws;
} ctx_t;

typedef struct command {
    const char *name;
    int (*fn)(ctx_t *c, args_t *a, ferr_t *err);
    const opt_spec_t *opts;
    int min_pos, max_pos; /* max -1: any */
    int needs_ws;         /* 0 none, 1 read, 2 write */
    const char *usage;
    const char *help;
} command_t;

static const char *opt(const args_t *a, const char *name)
{
    const char *v = NULL;
    for (int i = 0; i < a->nset; i++)
        if (!strcmp(a->set[i].name, name))
            v = a->set[i].val;
    return v;
}

static int flag(const args_t *a, const char *name)
{
    return opt(a, name) != NULL;
}

/* Secrets on argv would show in ps and shell history. */
static const char *secret_hint(const char *name)
{
    if (!strcmp(name, "account-key"))
        return "--account-key-env VAR or --account-key-file FILE";
    if (!strcmp(name, "sas-token"))
        return "--sas-token-env VAR or --sas-token-file FILE";
    if (!strcmp(name, "client-secret"))
        return "--client-secret-env VAR or --client-secret-file FILE";
    return NULL;
}

static int parse_args(int argc, char **argv, const opt_spec_t *spec, const char *cmd, args_t *a,
                      ferr_t *err)
{
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        char *t = argv[i];
        if (only_pos || t[0] != '-' || !t[1]) {
            a->pos[a->npos++] = t;
            continue;
        }
        if (!strcmp(t, "--")) {
            only_pos = 1;
            continue;
        }
        const opt_spec_t *s = NULL;
        const char *val = NULL;
        char name[64];
        if (t[1] == '-') {
            const char *eq = strchr(t + 2, '=');
            size_t nl = eq ? (size_t)(eq - t - 2) : strlen(t + 2);
            snprintf(name, sizeof name, "%.*s", (int)nl, t + 2);
            for (const opt_spec_t *p = spec; p && p->name; p++)
                if (!strcmp(p->name, name))
                    s = p;
            if (!s) {
                const char *hint = secret_hint(name);
                if (hint)
                    return ferr_set(err, FERR_USAGE,
                                    "a secret is never taken on the command line (it would show "
                                    "in ps); use %s",
                                    hint);
                return ferr_set(err, FERR_USAGE, "%s: unknown option --%s (see 'ferry %s --help')",
                                cmd, name, cmd);
            }
            if (eq) {
                if (!s->arg)
                    return ferr_set(err, FERR_USAGE, "%s: --%s takes no value", cmd, name);
                val = eq + 1;
            }
        } else {
            for (const opt_spec_t *p = spec; p && p->name; p++)
                if (p->shortc && p->shortc == t[1] && !t[2])
                    s = p;
            if (!s)
                return ferr_set(err, FERR_USAGE, "%s: unknown option %s (see 'ferry %s --help')",
                                cmd, t, cmd);
            snprintf(name, sizeof name, "%s", s->name);
        }
        if (s->arg && !val) {
            if (i + 1 >= argc)
                return ferr_set(err, FERR_USAGE, "%s: --%s needs a value", cmd, s->name);
            val = argv[++i];
        }
        if (a->nset == MAX_SET)
            return ferr_set(err, FERR_USAGE, "too many options");
        a->set[a->nset].name = s->name;
        a->set[a->nset].val = s->arg ? val : "";
        a->nset++;
    }
    return 0;
}

/* --- output helpers --- */

static void print_json(cJSON *j)
{
    char *s = cJSON_Print(j);
    if (s)
        puts(s);
    free(s);
    cJSON_Delete(j);
}

static const datastore_t *need_datastore(ctx_t *c, const char *name, ferr_t *err)
{
    const datastore_t *ds = workspace_find(c->ws, name);
    if (!ds)
        ferr_set(err, FERR_NOTFOUND,
                 "no datastore named %s in workspace %s (see 'ferry datastore list')", name,
                 workspace_dir(c->ws));
    return ds;
}

static char *remote_arg(const char *v, const char *what, ferr_t *err)
{
    const char *why;
    char *r = path_remote_normalize(v, &why);
    if (!r)
        ferr_set(err, FERR_UNSAFE, "%s '%s' refused: %s", what, v, why ? why : "not valid");
    return r;
}

/* --- commands --- */

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

static const opt_spec_t register_opts[] = {
    {"root", 0, 1},          {"account", 0, 1},
    {"container", 0, 1},     {"share", 0, 1},
    {"filesystem", 0, 1},    {"endpoint", 0, 1},
    {"account-url", 0, 1},   {"protocol", 0, 1},
    {"ca-file", 0, 1},       {"tenant-id", 0, 1},
    {"client-id", 0, 1},     {"description", 0, 1},
    {"account-key-env", 0, 1}, {"account-key-file", 0, 1},
    {"sas-token-env", 0, 1}, {"sas-token-file", 0, 1},
    {"client-secret-env", 0, 1}, {"client-secret-file", 0, 1},
    {"store-secret", 0, 0},  {"create-if-not-exists", 0, 0},
    {"skip-validation", 0, 0}, {"overwrite", 0, 0},
    {"help", 'h', 0},        {NULL, 0, 0}};

/* Could v be a secret itself: a SAS, or a long run of base64 that is not a
 * path (a key)? */
static int secret_like(const char *v)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    size_t n = strlen(v);
    if (strstr(v, "sig=") || !strncmp(v, "sv=", 3) || !strncmp(v, "?sv=", 4))
        return 1;
    return n >= 40 && strspn(v, b64) == n &&
           (v[n - 1] == '=' || strchr(v, '+') || !strchr(v, '/'));
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
                 {"client-secret-file", CRED_CLIENT_SECRET, CRED_FROM_FILE}};
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
        ds->cred_ref = creds[i].src == CRED_FROM_FILE ? path_absolute(v, NULL) : strdup(v);
    }
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
    if (!b || strcmp(a->pos[0], store_backend_cli_name(b)))
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
    char *name = strdup(ds->name);
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
        print_json(arr);
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
    const datastore_t *ds = need_datastore(c, a->pos[0], err);
    if (!ds)
        return -1;
    cJSON *o = datastore_to_json(ds);
    const char *def = workspace_default(c->ws);
    cJSON_AddBoolToObject(o, "default", def && !strcmp(def, ds->name));
    if (flag(a, "json")) {
        print_json(o);
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
    const datastore_t *ds = need_datastore(c, a->pos[0], err);
    if (!ds)
        return -1;
    char *name = strdup(ds->name);
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

static int open_store(ctx_t *c, const char *name, store_t **s, ferr_t *err)
{
    const datastore_t *ds = need_datastore(c, name, err);
    if (!ds)
        return -1;
    return store_open(s, ds, err);
}

/* --concurrency N (also $FERRY_CONCURRENCY); 0 when not given. */
static int concurrency_arg(const args_t *a, int *out, ferr_t *err)
{
    const char *v = opt(a, "concurrency");
    *out = 0;
    if (!v)
        return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || end == v || n < 1 || n > XFER_MAX_CONCURRENCY)
        return ferr_set(err, FERR_USAGE, "--concurrency: expected 1 to %d, got '%s'",
                        XFER_MAX_CONCURRENCY, v);
    *out = (int)n;
    return 0;
}

static int finish_transfer(const char *verb, xfer_result_t *r, int rc)
{
    char *sum = xfer_summary(verb, r);
    if (sum && log_level() >= LOG_INFO) /* -q: errors only */
        puts(sum);
    free(sum);
    xfer_result_free(r);
    return rc;
}

static int cmd_upload(ctx_t *c, args_t *a, ferr_t *err)
{
    int conc;
    if (concurrency_arg(a, &conc, err))
        return -1;
    store_t *s;
    char *target = remote_arg(opt(a, "target-path"), "--target-path", err);
    if (!target)
        return -1;
    if (open_store(c, a->pos[0], &s, err)) {
        free(target);
        return -1;
    }
    xfer_opts_t o = {.overwrite = flag(a, "overwrite"),
                     .follow_symlinks = flag(a, "follow-symlinks"), .concurrency = conc};
    xfer_result_t r = {0};
    int rc = xfer_upload_dir(s, a->pos[1], target, &o, &r, err);
    store_close(s);
    free(target);
    if (rc && err->code != FERR_TRANSFER) {
        xfer_result_free(&r);
        return rc;
    }
    return finish_transfer("uploaded", &r, rc);
}

static int cmd_upload_files(ctx_t *c, args_t *a, ferr_t *err)
{
    int conc;
    if (concurrency_arg(a, &conc, err))
        return -1;
    store_t *s;
    char *target = remote_arg(opt(a, "target-path"), "--target-path", err);
    if (!target)
        return -1;
    if (open_store(c, a->pos[0], &s, err)) {
        free(target);
        return -1;
    }
    xfer_opts_t o = {.overwrite = flag(a, "overwrite"), .concurrency = conc};
    xfer_result_t r = {0};
    int rc = xfer_upload_files(s, a->pos + 1, (size_t)(a->npos - 1), opt(a, "relative-root"),
                               target, &o, &r, err);
    store_close(s);
    free(target);
    if (rc && err->code != FERR_TRANSFER) {
        xfer_result_free(&r);
        return rc;
    }
    return finish_transfer("uploaded", &r, rc);
}

/* A prefix keeps a trailing '/', which matters for string-prefix listing. */
static char *prefix_arg(const char *v, ferr_t *err)
{
    char *p = remote_arg(v, "--prefix", err);
    size_t vl = v ? strlen(v) : 0;
    if (p && *p && vl && v[vl - 1] == '/') {
        char *q = NULL;
        if (asprintf(&q, "%s/", p) < 0)
            q = NULL;
        free(p);
        p = q;
    }
    return p;
}

static int cmd_download(ctx_t *c, args_t *a, ferr_t *err)
{
    int conc;
    if (concurrency_arg(a, &conc, err))
        return -1;
    store_t *s;
    char *prefix = prefix_arg(opt(a, "prefix"), err);
    if (!prefix)
        return -1;
    if (open_store(c, a->pos[0], &s, err)) {
        free(prefix);
        return -1;
    }
    xfer_opts_t o = {.overwrite = flag(a, "overwrite"), .concurrency = conc};
    xfer_result_t r = {0};
    int rc = xfer_download_prefix(s, prefix, 0, a->pos[1], &o, &r, err);
    store_close(s);
    if (rc == 0 && r.n == 0) /* asked for data, got none: a script should know */
        rc = *prefix ? ferr_set(err, FERR_NOTFOUND, "no file in datastore %s starts with '%s'",
                                a->pos[0], prefix)
                     : ferr_set(err, FERR_NOTFOUND, "datastore %s holds no files", a->pos[0]);
    free(prefix);
    if (rc && err->code != FERR_TRANSFER) {
        xfer_result_free(&r);
        return rc;
    }
    return finish_transfer("downloaded", &r, rc);
}

typedef struct ls_ctx {
    cJSON *arr;
    uint64_t n, bytes;
} ls_ctx_t;

static int ls_one(void *ud, const store_entry_t *e)
{
    ls_ctx_t *l = ud;
    l->n++;
    l->bytes += e->size;
    char t[32] = "-";
    if (e->mtime) {
        time_t tt = (time_t)e->mtime;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    if (e->is_prefix) {
        if (l->arr) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", e->name);
            cJSON_AddBoolToObject(o, "prefix", 1);
            cJSON_AddItemToArray(l->arr, o);
        } else {
            printf("%12s  %-20s  %s\n", "-", "(folder)", e->name);
        }
        return 0;
    }
    if (l->arr) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", e->name);
        cJSON_AddNumberToObject(o, "size", (double)e->size);
        cJSON_AddStringToObject(o, "modified", t);
        if (e->etag)
            cJSON_AddStringToObject(o, "etag", e->etag);
        cJSON_AddItemToArray(l->arr, o);
    } else {
        printf("%12llu  %s  %s\n", (unsigned long long)e->size, t, e->name);
    }
    return 0;
}

static int cmd_ls(ctx_t *c, args_t *a, ferr_t *err)
{
    char *prefix = prefix_arg(a->npos > 1 ? a->pos[1] : NULL, err);
    if (!prefix)
        return -1;
    store_t *s;
    if (open_store(c, a->pos[0], &s, err)) {
        free(prefix);
        return -1;
    }
    ls_ctx_t l = {flag(a, "json") ? cJSON_CreateArray() : NULL, 0, 0};
    int rc = store_list(s, prefix, opt(a, "delimiter"), ls_one, &l, err);
    store_close(s);
    free(prefix);
    if (l.arr) {
        if (rc == 0)
            print_json(l.arr);
        else
            cJSON_Delete(l.arr);
    } else if (rc == 0) {
        char b[32];
        log_debug("%llu files, %s", (unsigned long long)l.n, progress_human(l.bytes, b, sizeof b));
    }
    return rc;
}

static int cmd_validate(ctx_t *c, args_t *a, ferr_t *err)
{
    (void)c;
    int bad = 0;
    for (int i = 0; i < a->npos; i++) {
        job_t *j;
        ferr_t e1 = FERR_INIT;
        if (job_load(&j, a->pos[i], &e1)) {
            if (a->npos == 1) {
                /* a feature not built yet makes the file unusable here: a config error */
                ferr_set(err, e1.code == FERR_UNSUPPORTED ? FERR_CONFIG : e1.code, "%s", e1.msg);
                ferr_clear(&e1);
                return -1;
            }
            log_error("%s", e1.msg);
            ferr_clear(&e1);
            bad++;
            continue;
        }
        printf("%s: valid %s (%zu input%s, %zu output%s)\n", a->pos[i],
               job_format_name(j->format), j->ninputs, j->ninputs == 1 ? "" : "s", j->noutputs,
               j->noutputs == 1 ? "" : "s");
        job_free(j);
    }
    if (bad)
        return ferr_set(err, FERR_CONFIG, "%d of %d files are not valid", bad, a->npos);
    return 0;
}

static int cmd_plan(ctx_t *c, args_t *a, ferr_t *err)
{
    job_t *j;
    if (job_load(&j, a->pos[0], err))
        return -1;
    plan_t *p;
    plan_opts_t po = {.run_id = opt(a, "run-id"), .work_dir = opt(a, "work-dir")};
    if (plan_build(&p, j, c->ws, &po, err)) {
        job_free(j);
        return -1;
    }
    if (flag(a, "json"))
        print_json(plan_to_json(p));
    else
        plan_print(p, stdout);
    plan_free(p);
    job_free(j);
    return 0;
}

static int cmd_run(ctx_t *c, args_t *a, ferr_t *err)
{
    run_opts_t o = {.run_id = opt(a, "run-id"), .work_dir = opt(a, "work-dir"),
                    .dry_run = flag(a, "dry-run"), .grace = 30, .upload_on = UPLOAD_ALWAYS,
                    .no_cache = flag(a, "no-cache"), .resume = flag(a, "resume"),
                    .cache_dir = opt(a, "cache-dir"),
                    .cache_size = opt(a, "cache-size")};
    const char *g = opt(a, "grace"), *u = opt(a, "upload-on");
    if (concurrency_arg(a, &o.concurrency, err))
        return RUN_EXIT_CONFIG;
    o.pass_secret_env = flag(a, "pass-secret-env");
    const char *ub = opt(a, "upload-budget");
    if (ub) {
        char *end;
        o.upload_budget = strtol(ub, &end, 10);
        if (*end || end == ub || o.upload_budget < 1) {
            ferr_set(err, FERR_USAGE, "--upload-budget: expected whole seconds above 0, got '%s'",
                     ub);
            return RUN_EXIT_CONFIG;
        }
    }
    const char *se = opt(a, "sync-every");
    if (se) {
        char *end;
        o.sync_every = strtol(se, &end, 10);
        if (*end || end == se || o.sync_every < 1) {
            ferr_set(err, FERR_USAGE, "--sync-every: expected whole seconds above 0, got '%s'", se);
            return RUN_EXIT_CONFIG;
        }
    }
    if (g) {
        char *end;
        long v = strtol(g, &end, 10);
        if (*end || v < 0 || end == g) {
            ferr_set(err, FERR_USAGE, "--grace: expected whole seconds, got '%s'", g);
            return RUN_EXIT_CONFIG;
        }
        o.grace = v;
    }
    if (u) {
        if (!strcmp(u, "always"))
            o.upload_on = UPLOAD_ALWAYS;
        else if (!strcmp(u, "success"))
            o.upload_on = UPLOAD_SUCCESS;
        else if (!strcmp(u, "failure"))
            o.upload_on = UPLOAD_FAILURE;
        else {
            ferr_set(err, FERR_USAGE, "--upload-on: expected success, failure or always");
            return RUN_EXIT_CONFIG;
        }
    }
    return run_job(a->pos[0], c->ws, &o, err);
}

/* --- the command table --- */

#define HELP_OPT {"help", 'h', 0}
static const opt_spec_t no_opts[] = {HELP_OPT, {NULL, 0, 0}};
static const opt_spec_t json_opts[] = {{"json", 0, 0}, HELP_OPT, {NULL, 0, 0}};
static const opt_spec_t ls_opts[] = {{"json", 0, 0}, {"delimiter", 'd', 1}, HELP_OPT,
                                     {NULL, 0, 0}};
static const opt_spec_t create_opts[] = {{"file", 'f', 1},          {"overwrite", 0, 0},
                                         {"skip-validation", 0, 0}, {"create-if-not-exists", 0, 0},
                                         HELP_OPT,                  {NULL, 0, 0}};
static const opt_spec_t upload_opts[] = {{"target-path", 0, 1},    {"overwrite", 0, 0},
                                         {"follow-symlinks", 0, 0}, {"concurrency", 'j', 1},
                                         HELP_OPT,                  {NULL, 0, 0}};
static const opt_spec_t upload_files_opts[] = {{"target-path", 0, 1}, {"relative-root", 0, 1},
                                               {"overwrite", 0, 0},   {"concurrency", 'j', 1},
                                               HELP_OPT,              {NULL, 0, 0}};
static const opt_spec_t download_opts[] = {{"prefix", 0, 1}, {"overwrite", 0, 0},
                                           {"concurrency", 'j', 1}, HELP_OPT,
                                           {NULL, 0, 0}};
static const opt_spec_t plan_opts[] = {{"json", 0, 0}, {"run-id", 0, 1}, {"work-dir", 0, 1},
                                       HELP_OPT, {NULL, 0, 0}};
static const opt_spec_t run_opts[] = {{"run-id", 0, 1},    {"work-dir", 0, 1},
                                      {"dry-run", 'n', 0}, {"grace", 0, 1},
                                      {"upload-on", 0, 1}, {"concurrency", 'j', 1},
                                      {"cache-dir", 0, 1}, {"cache-size", 0, 1},
                                      {"sync-every", 0, 1}, {"upload-budget", 0, 1},
                                      {"pass-secret-env", 0, 0},
                                      {"no-cache", 0, 0},  {"resume", 0, 0}, HELP_OPT,
                                      {NULL, 0, 0}};

static const command_t commands[] = {
    {"init", cmd_init, no_opts, 0, 1, 0, "ferry init [DIR]",
     "Creates a workspace in DIR (default ./.ferry) with its default datastore,\n"
     "workspaceblobstore, a local folder inside the workspace. Commands run below DIR\n"
     "find it by themselves."},
    {"datastore register", cmd_register, register_opts, 2, 2, 2,
     "ferry datastore register TYPE NAME [options]",
     "Registers a datastore. TYPE is local, azure-blob, azure-file or azure-data-lake-gen2.\n"
     "\n"
     "  local:                --root DIR [--create-if-not-exists]\n"
     "  azure-blob:           --account A --container C\n"
     "  azure-file:           --account A --share S\n"
     "  azure-data-lake-gen2: --account A --filesystem F [--tenant-id T --client-id C]\n"
     "  azure types also:     [--endpoint core.windows.net | --account-url URL]\n"
     "                        [--protocol https|http] [--ca-file PEM] [--create-if-not-exists]\n"
     "                        [--skip-validation]\n"
     "\n"
     "Credentials (one of; a secret is never taken on the command line):\n"
     "  --account-key-env VAR    --account-key-file FILE\n"
     "  --sas-token-env VAR      --sas-token-file FILE\n"
     "  --client-secret-env VAR  --client-secret-file FILE\n"
     "  --store-secret           copy the secret into the workspace (mode 0600) instead of\n"
     "                           keeping the reference\n"
     "\n"
     "  --description TEXT   --overwrite   replace a datastore of the same name"},
    {"datastore create", cmd_ds_create, create_opts, 0, 0, 2,
     "ferry datastore create --file FILE.yml [--overwrite] [--skip-validation]\n"
     "                       [--create-if-not-exists]",
     "Registers a datastore from Azure ML's datastore YAML (type: azure_blob, azure_file,\n"
     "azure_data_lake_gen2) or type: local with root. An inline secret in credentials is\n"
     "copied into the workspace (mode 0600). Access to a blob container is checked first\n"
     "unless --skip-validation."},
    {"datastore list", cmd_ds_list, json_opts, 0, 0, 1, "ferry datastore list [--json]",
     "Lists the workspace's datastores."},
    {"datastore show", cmd_ds_show, json_opts, 1, 1, 1, "ferry datastore show NAME [--json]",
     "Shows one datastore. Secrets are never shown, only where they come from."},
    {"datastore set-default", cmd_ds_set_default, no_opts, 1, 1, 2,
     "ferry datastore set-default NAME", "Makes NAME the default datastore (outputs go there)."},
    {"datastore get-default", cmd_ds_get_default, no_opts, 0, 0, 1,
     "ferry datastore get-default", "Prints the default datastore's name."},
    {"datastore remove", cmd_ds_remove, no_opts, 1, 1, 2, "ferry datastore remove NAME",
     "Unregisters NAME. Its data is not touched; a secret ferry stored for it is deleted.\n"
     "Removing the default datastore leaves the workspace without one (it says so)."},
    {"upload", cmd_upload, upload_opts, 2, 2, 1,
     "ferry upload NAME SRC_DIR [--target-path P] [--overwrite] [--follow-symlinks] [-j N]",
     "Uploads every file under SRC_DIR to P/<relative path> in datastore NAME. Without\n"
     "--overwrite an existing file is skipped; with it, only files that differ are sent.\n"
     "Symlinks are skipped (with a warning) unless --follow-symlinks; devices and pipes\n"
     "always are; empty folders are not carried (object stores have no folders). A large\n"
     "file goes in blocks; those the blob already holds (staged by an interrupted upload,\n"
     "or unchanged) are not sent again. -j/--concurrency N: transfers at once."},
    {"upload-files", cmd_upload_files, upload_files_opts, 2, -1, 1,
     "ferry upload-files NAME FILE... [--target-path P] [--relative-root DIR] [--overwrite]\n"
     "                   [-j N]",
     "Uploads files to P/<path below the files' common folder> (one file: P/<its name>),\n"
     "as the v1 SDK's upload_files does, or with --relative-root to P/<path below DIR>.\n"
     "Two files that would land on one name are refused before anything is uploaded."},
    {"download", cmd_download, download_opts, 2, 2, 1,
     "ferry download NAME TARGET_DIR [--prefix P] [--overwrite] [-j N]",
     "Downloads every file whose name starts with P to TARGET_DIR/<full name>. Without\n"
     "--overwrite an existing file is skipped; with it, a file ferry downloaded before and\n"
     "that is unchanged on both sides is still skipped. A name that would land outside\n"
     "TARGET_DIR is refused and nothing is written for it. A large file interrupted\n"
     "part-way (killed, or the network gone) is resumed by the next download of the same\n"
     "blob. -j/--concurrency N: transfers at once (default 16 for a remote store, 2 per\n"
     "core for a local one). A prefix that matches nothing is an error (exit 1)."},
    {"ls", cmd_ls, ls_opts, 1, 2, 1, "ferry ls NAME [PREFIX] [--json] [--delimiter /]",
     "Lists files (size, modified time, name) whose name starts with PREFIX. With\n"
     "--delimiter /, lists one level: the files there and each folder once."},
    {"validate", cmd_validate, no_opts, 1, -1, 0, "ferry validate JOB...",
     "Checks job files (v2 command jobs, v1 runconfigs; YAML or JSON) without running\n"
     "anything or touching a workspace. Errors say file:line:col and the field."},
    {"plan", cmd_plan, plan_opts, 1, 1, 1,
     "ferry plan JOB [--json] [--run-id ID] [--work-dir DIR]",
     "Resolves JOB against the workspace and prints what a run would do: each input and\n"
     "output with its datastore, local path and mode, the command and its environment."},
    {"run", cmd_run, run_opts, 1, 1, 1,
     "ferry run JOB [--run-id ID] [--work-dir DIR] [--dry-run] [--grace S]\n"
     "              [--upload-on always|success|failure] [-j N]\n"
     "              [--cache-dir DIR] [--cache-size SIZE] [--no-cache] [--sync-every S]\n"
     "              [--upload-budget S] [--pass-secret-env] [--resume]",
     "Validates JOB, stages its inputs, runs its command, uploads its outputs and writes\n"
     "<work dir>/manifest.json and ferry.log (work dir: <workspace>/runs/<run id>).\n"
     "Signals are forwarded to the command's process group; after a second SIGTERM or\n"
     "--grace seconds (default 30) it gets SIGKILL. Exit code: the command's (128+N for\n"
     "signal N), or 121 bad job, 122 inputs failed, 123 outputs failed, 124 timeout,\n"
     "125 ferry failed.\n"
     "Inputs from remote datastores go through a node-local cache (default\n"
     "<workspace>/cache, 10G, least recently used evicted; $FERRY_CACHE_DIR,\n"
     "$FERRY_CACHE_SIZE): a blob cached with the same ETag is linked, not downloaded, and\n"
     "ferry processes staging the same input at once fetch each blob once.\n"
     "--sync-every S (or sync_interval on an output) uploads what changed in output folders\n"
     "while the command runs, so a preempted run loses at most one interval. A folder\n"
     "output's _ferry_manifest.json is uploaded last: it marks the output complete.\n"
     "--upload-budget S: after a forwarded SIGTERM, the final upload stops retrying and\n"
     "starts no new file once S seconds are spent (it reports the time it took).\n"
     "--pass-secret-env keeps variables that hold datastore secrets in the command's\n"
     "environment (by default they are removed).\n"
     "A run id is used once: a work dir that holds a manifest.json is refused, unless\n"
     "--resume runs the job again there (staged inputs and outputs are kept)."},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL}};

static void usage(FILE *f)
{
    fprintf(f,
            "ferry %s: stage a job's data, run it, carry its outputs back.\n"
            "\n"
            "usage: ferry [global options] COMMAND [args]\n"
            "\n"
            "commands:\n",
            FERRY_VERSION);
    for (const command_t *c = commands; c->name; c++)
        fprintf(f, "  %s\n", c->usage);
    fprintf(f, "\n"
               "global options (before or after the command):\n"
               "  --workspace DIR    the workspace (else $FERRY_WORKSPACE, the nearest .ferry/\n"
               "                     upward, or $XDG_DATA_HOME/ferry)\n"
               "  -v, --verbose      more detail (repeat: -vv shows each request)\n"
               "  -q, --quiet        errors only (no progress, no summary)\n"
               "  --progress MODE    auto, bar, plain or none\n"
               "  -h, --help         help; 'ferry help COMMAND' for a command\n"
               "  --version\n");
}

/* No command matched: the overview, the datastore commands, or what was wrong. */
static int no_command(int n, char **w, int help)
{
    if (n == 0 || (n == 1 && !strcmp(w[0], "help"))) {
        usage(help || n ? stdout : stderr);
        return help || n ? EXIT_OK : EXIT_USAGE;
    }
    if (!strcmp(w[0], "datastore") && (n == 1 || w[1][0] == '-') && help) {
        printf("usage: ferry datastore SUBCOMMAND [args]\n\n");
        for (const command_t *c = commands; c->name; c++)
            if (!strncmp(c->name, "datastore ", 10))
                printf("  %s\n", c->usage);
        printf("\n'ferry datastore SUBCOMMAND --help' describes each.\n");
        return EXIT_OK;
    }
    /* through the log: what the user typed is escaped like any name */
    if (!strcmp(w[0], "datastore"))
        log_error("datastore: expected register, create, list, show, set-default, get-default "
                  "or remove");
    else if (w[0][0] == '-' && w[0][1] && strcmp(w[0], "--"))
        log_error("unknown option %s (see 'ferry --help')", w[0]);
    else
        log_error("unknown command '%s' (see 'ferry --help')", w[0]);
    return EXIT_USAGE;
}

static const command_t *find_command(int argc, char **argv, int *used)
{
    if (argc < 1)
        return NULL;
    char two[128];
    if (argc >= 2 && !strcmp(argv[0], "datastore")) {
        snprintf(two, sizeof two, "datastore %s", argv[1]);
        for (const command_t *c = commands; c->name; c++)
            if (!strcmp(c->name, two)) {
                *used = 2;
                return c;
            }
    }
    for (const command_t *c = commands; c->name; c++)
        if (!strcmp(c->name, argv[0])) {
            *used = 1;
            return c;
        }
    return NULL;
}

static int exit_code_for(const command_t *c, const ferr_t *err)
{
    if (!strcmp(c->name, "run"))
        return err->code == FERR_INTERNAL ? RUN_EXIT_INTERNAL : RUN_EXIT_CONFIG;
    switch (err->code) {
    case FERR_USAGE:
    case FERR_CONFIG:
        return EXIT_USAGE;
    default:
        return EXIT_FAILED;
    }
}

int cli_main(int argc, char **argv)
{
    ferr_t err = FERR_INIT;
    int verbose = 0, quiet = 0, help = 0;
    const char *ws_flag = NULL;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0, after_dashdash = 0;
    /* global options may stand anywhere before "--" */
    for (int i = 1; i < argc; i++) {
        char *t = argv[i];
        if (after_dashdash) {
            rest[nrest++] = t;
            continue;
        }
        if (!strcmp(t, "--")) {
            after_dashdash = 1;
            rest[nrest++] = t;
        } else if (!strcmp(t, "--workspace") || !strcmp(t, "--progress")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ferry: error: %s needs a value\n", t);
                free(rest);
                return EXIT_USAGE;
            }
            if (t[2] == 'w')
                ws_flag = argv[++i];
            else {
                progress_mode_t m;
                if (progress_mode_parse(argv[++i], &m)) {
                    fprintf(stderr, "ferry: error: --progress: expected auto, bar, plain or "
                                    "none\n");
                    free(rest);
                    return EXIT_USAGE;
                }
                progress_set_default(m);
            }
        } else if (!strncmp(t, "--workspace=", 12)) {
            ws_flag = t + 12;
        } else if (!strncmp(t, "--progress=", 11)) {
            progress_mode_t m;
            if (progress_mode_parse(t + 11, &m)) {
                fprintf(stderr, "ferry: error: --progress: expected auto, bar, plain or none\n");
                free(rest);
                return EXIT_USAGE;
            }
            progress_set_default(m);
        } else if (!strcmp(t, "--verbose")) {
            verbose++;
        } else if (t[0] == '-' && t[1] == 'v' && strspn(t + 1, "v") == strlen(t + 1)) {
            verbose += (int)strlen(t + 1);
        } else if (!strcmp(t, "-q") || !strcmp(t, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(t, "--version")) {
            printf("ferry %s\n", FERRY_VERSION);
            free(rest);
            return EXIT_OK;
        } else if (!strcmp(t, "-h") || !strcmp(t, "--help")) {
            help = 1;
        } else {
            rest[nrest++] = t;
        }
    }
    log_set_verbosity(quiet, verbose);
    int used = 0;
    /* "ferry help CMD" is "ferry CMD --help" */
    int skip = nrest >= 2 && !strcmp(rest[0], "help");
    if (skip)
        help = 1;
    const command_t *cmd = find_command(nrest - skip, rest + skip, &used);
    if (!cmd) {
        int rc = no_command(nrest - skip, rest + skip, help);
        free(rest);
        return rc;
    }
    if (help) {
        printf("usage: %s\n\n%s\n", cmd->usage, cmd->help);
        free(rest);
        return EXIT_OK;
    }
    args_t a = {.pos = calloc((size_t)nrest + 1, sizeof(char *))};
    int rc;
    if (parse_args(nrest - used, rest + used, cmd->opts, cmd->name, &a, &err)) {
        rc = -1;
    } else if (flag(&a, "help")) {
        printf("usage: %s\n\n%s\n", cmd->usage, cmd->help);
        rc = 0;
        goto out;
    } else if (a.npos < cmd->min_pos || (cmd->max_pos >= 0 && a.npos > cmd->max_pos)) {
        rc = ferr_set(&err, FERR_USAGE, "usage: %s", cmd->usage);
    } else {
        ctx_t c = {.ws_flag = ws_flag};
        rc = 0;
        if (cmd->needs_ws) {
            char *dir = NULL;
            rc = workspace_locate(&dir, ws_flag, &err);
            if (rc == 0) {
                rc = workspace_open(&c.ws, dir, cmd->needs_ws == 2, &err);
                log_debug("workspace %s", dir);
            }
            free(dir);
        }
        if (rc == 0) {
            rc = cmd->fn(&c, &a, &err);
            if (!strcmp(cmd->name, "run")) {
                /* run returns its exit code itself */
                if (err.msg)
                    log_error("%s", err.msg);
                workspace_close(c.ws);
                ferr_clear(&err);
                free(a.pos);
                free(rest);
                return rc;
            }
        }
        workspace_close(c.ws);
    }
    if (rc) {
        log_error("%s", err.msg ? err.msg : "failed");
        rc = exit_code_for(cmd, &err);
    }
out:
    ferr_clear(&err);
    free(a.pos);
    free(rest);
    return rc;
}
