/* ferry validate, plan, run: job files. */
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
#include "job.h"
#include "plan.h"
#include "run.h"

/* Every problem of every file, each with its file:line:col; the last one
 * goes back as the command's error (so main prints it, and exits 2). */
static int cmd_validate(ctx_t *c, args_t *a, ferr_t *err)
{
    (void)c;
    int bad = 0, code = FERR_CONFIG;
    char *last = NULL;
    for (int i = 0; i < a->npos; i++) {
        job_t *j;
        char **problems = NULL;
        size_t n = 0;
        ferr_t e1 = FERR_INIT;
        if (job_load_all(&j, a->pos[i], &problems, &n, &e1)) {
            for (size_t k = 0; k < n; k++) {
                if (last)
                    log_error("%s", last);
                free(last);
                last = xstrdup(problems[k]);
            }
            job_problems_free(problems, n);
            /* a feature not built yet makes the file unusable here: a config error too */
            code = e1.code == FERR_UNSUPPORTED ? FERR_CONFIG : e1.code;
            ferr_clear(&e1);
            bad++;
            continue;
        }
        printf("%s: valid %s (%zu input%s, %zu output%s)\n", a->pos[i], job_format_name(j->format),
               j->ninputs, j->ninputs == 1 ? "" : "s", j->noutputs, j->noutputs == 1 ? "" : "s");
        job_free(j);
    }
    if (bad && a->npos == 1) {
        ferr_set(err, code, "%s", last); /* a file not there or unreadable: exit 1 */
    } else if (bad) {
        log_error("%s", last);
        ferr_set(err, FERR_CONFIG, "%d of %d files are not valid", bad, a->npos);
    }
    free(last);
    return bad ? -1 : 0;
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
        cli_print_json(plan_to_json(p));
    else
        plan_print(p, stdout);
    plan_free(p);
    job_free(j);
    return 0;
}

static int cmd_run(ctx_t *c, args_t *a, ferr_t *err)
{
    run_opts_t o = {.run_id = opt(a, "run-id"),
                    .work_dir = opt(a, "work-dir"),
                    .dry_run = flag(a, "dry-run"),
                    .grace = 30,
                    .upload_on = UPLOAD_ALWAYS,
                    .no_cache = flag(a, "no-cache"),
                    .resume = flag(a, "resume"),
                    .cache_dir = opt(a, "cache-dir"),
                    .cache_size = opt(a, "cache-size")};
    const char *g = opt(a, "grace"), *u = opt(a, "upload-on");
    if (cli_concurrency_arg(a, &o.concurrency, err) || cli_check_md5_arg(a, err))
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

static const opt_spec_t plan_opts[] = {
    {"json", 0, 0}, {"run-id", 0, 1}, {"work-dir", 0, 1}, HELP_OPT, {NULL, 0, 0}};
static const opt_spec_t run_opts[] = {{"run-id", 0, 1},
                                      {"check-md5", 0, 1},
                                      {"work-dir", 0, 1},
                                      {"dry-run", 'n', 0},
                                      {"grace", 0, 1},
                                      {"upload-on", 0, 1},
                                      {"concurrency", 'j', 1},
                                      {"cache-dir", 0, 1},
                                      {"cache-size", 0, 1},
                                      {"sync-every", 0, 1},
                                      {"upload-budget", 0, 1},
                                      {"pass-secret-env", 0, 0},
                                      {"no-cache", 0, 0},
                                      {"resume", 0, 0},
                                      HELP_OPT,
                                      {NULL, 0, 0}};

const command_t cli_job_commands[] = {
    {"validate", cmd_validate, cli_no_opts, 1, -1, 0, "ferry validate JOB...",
     "Checks job files (v2 command jobs, v1 runconfigs; YAML or JSON) without running\n"
     "anything or touching a workspace. Errors say file:line:col and the field.",
     NULL},
    {"plan", cmd_plan, plan_opts, 1, 1, 1, "ferry plan JOB [--json] [--run-id ID] [--work-dir DIR]",
     "Resolves JOB against the workspace and prints what a run would do: each input and\n"
     "output with its datastore, local path and mode, the command and its environment.",
     NULL},
    {"run", cmd_run, run_opts, 1, 1, 1,
     "ferry run JOB [--run-id ID] [--work-dir DIR] [--dry-run] [--grace S]\n"
     "              [--upload-on always|success|failure] [-j N]\n"
     "              [--cache-dir DIR] [--cache-size SIZE] [--no-cache] [--sync-every S]\n"
     "              [--upload-budget S] [--pass-secret-env] [--resume] [--check-md5 MODE]",
     "Validates JOB, stages its inputs, runs its command, uploads its outputs and writes\n"
     "<work dir>/manifest.json and ferry.log (work dir: <workspace>/runs/<run id>).\n"
     "Signals are forwarded to the command's process group; after a second SIGTERM or\n"
     "--grace seconds (default 30) it gets SIGKILL. Exit code: the command's (128+N for\n"
     "signal N), or 121 bad job, 122 inputs failed, 123 outputs failed, 124 timeout,\n"
     "125 ferry failed. --check-md5 FailIfDifferent (default), FailIfDifferentOrMissing,\n"
     "LogOnly or NoCheck: what an input whose bytes differ from the MD5 the store keeps\n"
     "does (with LogOnly or NoCheck the node cache is not used).\n"
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
     "--resume runs the job again there (staged inputs and outputs are kept).",
     NULL},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL}};
