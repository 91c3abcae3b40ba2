/* Command-line words: options by each command's spec, and the helpers the
 * command families share. */
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
#include "xfer.h"

const char *opt(const args_t *a, const char *name)
{
    const char *v = NULL;
    for (int i = 0; i < a->nset; i++)
        if (!strcmp(a->set[i].name, name))
            v = a->set[i].val;
    return v;
}

int flag(const args_t *a, const char *name)
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
    if (!strcmp(name, "client-cert") || !strcmp(name, "client-certificate"))
        return "--client-cert-file PEM";
    return NULL;
}

int cli_parse_args(int argc, char **argv, const opt_spec_t *spec, const char *cmd, args_t *a,
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
            int backends = 0;
            for (const opt_spec_t *p = spec; p && p->name; p++) {
                if (p->name[0] == '*')
                    backends = 1; /* BACKEND_OPTS: a placeholder, never a name */
                else if (!strcmp(p->name, name))
                    s = p;
            }
            const char *bo = !s && backends ? store_backend_option(name) : NULL;
            if (bo) {
                /* an option of some backend (each takes a value), named as the table does */
                static __thread opt_spec_t any;
                any = (opt_spec_t){bo, 0, 1};
                s = &any;
            }
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

void cli_print_json(cJSON *j)
{
    char *s = cJSON_Print(j);
    if (s)
        puts(s);
    free(s);
    cJSON_Delete(j);
}

const datastore_t *cli_need_datastore(ctx_t *c, const char *name, ferr_t *err)
{
    const datastore_t *ds = workspace_find(c->ws, name);
    if (!ds)
        ferr_set(err, FERR_NOTFOUND,
                 "no datastore named %s in workspace %s (see 'ferry datastore list')", name,
                 workspace_dir(c->ws));
    return ds;
}

char *cli_remote_arg(const char *v, const char *what, ferr_t *err)
{
    const char *why;
    char *r = path_remote_normalize(v, &why);
    if (!r)
        ferr_set(err, FERR_UNSAFE, "%s '%s' refused: %s", what, v, why ? why : "not valid");
    return r;
}

int cli_open_store(ctx_t *c, const char *name, store_t **s, ferr_t *err)
{
    const datastore_t *ds = cli_need_datastore(c, name, err);
    if (!ds)
        return -1;
    return store_open(s, ds, err);
}

/* --concurrency N (also $FERRY_CONCURRENCY); 0 when not given. */
int cli_concurrency_arg(const args_t *a, int *out, ferr_t *err)
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

#define NO_OPTS_END                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }
const opt_spec_t cli_no_opts[] = {HELP_OPT, NO_OPTS_END};
const opt_spec_t cli_json_opts[] = {{"json", 0, 0}, HELP_OPT, NO_OPTS_END};

int cli_check_md5_arg(const args_t *a, ferr_t *err)
{
    const char *v = opt(a, "check-md5");
    check_md5_t c;
    if (!v)
        return 0;
    if (store_check_md5_parse(v, &c))
        return ferr_set(err, FERR_USAGE,
                        "--check-md5: expected FailIfDifferent, FailIfDifferentOrMissing, LogOnly "
                        "or NoCheck, got '%s'",
                        v);
    store_set_check_md5(c);
    return 0;
}
