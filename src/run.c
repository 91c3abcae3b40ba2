#define _GNU_SOURCE
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "asset.h"
#include "cache.h"
#include "exec.h"
#include "http.h"
#include "job.h"
#include "log.h"
#include "manifest.h"
#include "path.h"
#include "plan.h"
#include "progress.h"
#include "stage.h"
#include "xfer.h"
#include "xalloc.h"

extern char **environ;

/* Outputs synced while the command runs, from a thread of their own, so
 * that signals are still forwarded at once whatever a sync is doing. */
typedef struct syncer {
    const plan_t *plan;
    long every;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, started;
} syncer_t;

static void *sync_main(void *arg)
{
    syncer_t *sy = arg;
    double *last = xcalloc(sy->plan->noutputs + 1, sizeof *last);
    double t0 = progress_now();
    for (size_t i = 0; last && i < sy->plan->noutputs; i++)
        last[i] = t0;
    pthread_mutex_lock(&sy->mu);
    while (!sy->stop && last) {
        pthread_mutex_unlock(&sy->mu);
        double next = stage_sync_outputs(sy->plan, sy->every, progress_now(), last);
        pthread_mutex_lock(&sy->mu);
        if (sy->stop)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double at = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + (next > 0.05 ? next : 0.05);
        ts.tv_sec = (time_t)at;
        ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&sy->cv, &sy->mu, &ts);
    }
    pthread_mutex_unlock(&sy->mu);
    free(last);
    return NULL;
}

/* The final upload can meet the scheduler's SIGTERM too (the command had
 * ended by itself): from then on the upload keeps within --upload-budget. */
typedef struct late {
    pthread_t th;
    int started, stop;
    long budget;
} late_t;

static void *late_main(void *arg)
{
    late_t *l = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    struct timespec tick = {0, 200000000};
    while (!__atomic_load_n(&l->stop, __ATOMIC_RELAXED)) {
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig > 0) {
            http_set_budget_end(progress_now() + (double)l->budget);
            log_warn("%s during the final upload: it stops within the %ld s budget", strsignal(sig),
                     l->budget);
            break;
        }
    }
    return NULL;
}

static void late_start(late_t *l, long budget)
{
    memset(l, 0, sizeof *l);
    l->budget = budget;
    if (budget) /* signals are held since staging ended: this thread takes them */
        l->started = pthread_create(&l->th, NULL, late_main, l) == 0;
}

static void late_stop(late_t *l)
{
    if (!l->started)
        return;
    __atomic_store_n(&l->stop, 1, __ATOMIC_RELAXED);
    pthread_join(l->th, NULL);
}

static double wall_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* A signal while inputs are staged ends the run there (the command never
 * ran), but not silently: it is logged and the record closed before ferry
 * exits with 128+N. Partial downloads stay resumable (run again with
 * --resume), as after a kill. */
typedef struct guard {
    pthread_t th;
    int started, stop;
    const plan_t *plan;
    manifest_run_t *mr;
} guard_t;

static void *guard_main(void *arg)
{
    guard_t *g = arg;
    sigset_t set;
    sigemptyset(&set);
    for (const int *s = (const int[]){SIGTERM, SIGINT, SIGHUP, SIGQUIT, 0}; *s; s++)
        sigaddset(&set, *s);
    struct timespec tick = {0, 100000000};
    while (!__atomic_load_n(&g->stop, __ATOMIC_ACQUIRE)) {
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig <= 0)
            continue;
        char why[160];
        snprintf(why, sizeof why, "%s while inputs were staged: the command did not run",
                 strsignal(sig));
        log_error("%s; run again with --resume to finish staging", why);
        /* the record without the inputs' file lists: those are being written */
        manifest_run_t mr = *g->mr;
        mr.status = "failed";
        mr.error = why;
        mr.ended = wall_now();
        mr.exit_code = 128 + sig;
        ferr_t e = FERR_INIT;
        if (manifest_write(g->plan, NULL, NULL, &mr, &e))
            log_error("the run's record could not be written: %s", e.msg ? e.msg : "failed");
        ferr_clear(&e);
        log_close_file();
        _exit(128 + sig);
    }
    return NULL;
}

/* Signals are held from here on (every thread started later inherits the
 * mask); this thread takes them until the command starts. */
static void guard_start(guard_t *g, const plan_t *p, manifest_run_t *mr)
{
    memset(g, 0, sizeof *g);
    g->plan = p;
    g->mr = mr;
    exec_block_signals();
    g->started = pthread_create(&g->th, NULL, guard_main, g) == 0;
}

static void guard_stop(guard_t *g)
{
    if (!g->started)
        return;
    __atomic_store_n(&g->stop, 1, __ATOMIC_RELEASE);
    pthread_join(g->th, NULL);
    g->started = 0;
}

static void sync_start(syncer_t *sy, const plan_t *p, long every)
{
    memset(sy, 0, sizeof *sy);
    int any = 0;
    for (size_t i = 0; i < p->noutputs; i++)
        any |= p->outputs[i].type == IO_URI_FOLDER && (p->outputs[i].sync_interval || every);
    if (!any)
        return;
    sy->plan = p;
    sy->every = every;
    pthread_mutex_init(&sy->mu, NULL);
    pthread_cond_init(&sy->cv, NULL);
    /* the thread inherits the mask: signals are held from the end of staging
     * (in run_job), so it never takes one meant for the command */
    sy->started = pthread_create(&sy->th, NULL, sync_main, sy) == 0;
    if (sy->started)
        log_info("outputs are uploaded while the command runs (every %ld s)",
                 every ? every : p->outputs[0].sync_interval);
}

static void sync_stop(syncer_t *sy)
{
    if (!sy->started)
        return;
    pthread_mutex_lock(&sy->mu);
    sy->stop = 1;
    pthread_cond_signal(&sy->cv);
    pthread_mutex_unlock(&sy->mu);
    pthread_join(sy->th, NULL); /* a sync under way finishes first */
    sy->started = 0;
}

/* The child's environment: ferry's own, without the variables that hold
 * datastore secrets, plus what the plan sets (the plan wins). */
static char **child_env(const plan_t *p, const workspace_t *ws, int keep_secrets)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = xcalloc(n + p->nenv + 1, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        int drop = 0;
        for (size_t d = 0; !keep_secrets && d < workspace_count(ws) && !drop; d++) {
            const datastore_t *ds = workspace_at(ws, d);
            if (ds->cred_source == CRED_FROM_ENV && ds->cred_ref && strlen(ds->cred_ref) == nl &&
                !strncmp(ds->cred_ref, environ[i], nl))
                drop = 1;
        }
        for (size_t j = 0; j < p->nenv && !drop; j++)
            if (!strncmp(p->env[j], environ[i], nl + 1))
                drop = 1;
        if (!drop)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < p->nenv; j++)
        env[k++] = p->env[j];
    env[k] = NULL;
    return env;
}

/* A run id is used once: its work dir's manifest.json is created here
 * (O_EXCL, so two runs started at once cannot share it either), and one
 * already there is refused unless the run is resumed. */
static int claim_run_id(const plan_t *p, int resume, ferr_t *err)
{
    char *path = path_join(p->work_dir, "manifest.json");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    int rc = 0;
    if (fd >= 0)
        close(fd);
    else if (errno != EEXIST)
        rc = ferr_errno(err, FERR_IO, errno, "%s", path);
    else if (!resume)
        rc = ferr_set(err, FERR_EXISTS,
                      "run id %s was used already (%s exists); choose another --run-id, or pass "
                      "--resume to run the job again in that work dir",
                      p->run_id, path);
    free(path);
    return rc;
}

/* Writes the run's record; a failure is said (the file on disk is then an
 * older state of the run), and returned. */
static int record(const plan_t *p, const stage_rec_t *in, const stage_rec_t *out,
                  const manifest_run_t *mr)
{
    ferr_t e = FERR_INIT;
    int rc = manifest_write(p, in, out, mr, &e);
    if (rc)
        log_error("the run's record could not be written: %s (manifest.json still says an "
                  "earlier state)",
                  e.msg ? e.msg : "failed");
    ferr_clear(&e);
    return rc;
}

/* One run, phase by phase: each phase reads and fills this, and sets the
 * exit code a failure at that point means. */
typedef struct run {
    const run_opts_t *o;
    workspace_t *ws;
    job_t *job;
    plan_t *plan;
    stage_rec_t *in, *out;
    char **env;
    exec_result_t ex;
    manifest_run_t mr;
    cache_t *cache;
    int code;
} run_t;

/* The job may say how many transfers at once, as FERRY_CONCURRENCY among its
 * environment variables; -j on the command line wins. */
static int job_concurrency(const job_t *job, int given, int *out, ferr_t *err)
{
    *out = given;
    for (size_t i = 0; !*out && i < job->nenv; i++) {
        if (strcmp(job->env[i].name, "FERRY_CONCURRENCY"))
            continue;
        char *end;
        long v = strtol(job->env[i].value, &end, 10);
        if (*end || v < 1 || v > XFER_MAX_CONCURRENCY)
            return doc_error(err, job->doc, job->env[i].node, "FERRY_CONCURRENCY",
                             "expected 1 to %d", XFER_MAX_CONCURRENCY);
        *out = (int)v;
    }
    return 0;
}

static int open_cache(run_t *r, ferr_t *err)
{
    const char *dir = r->o->cache_dir ? r->o->cache_dir : getenv("FERRY_CACHE_DIR");
    const char *size = r->o->cache_size ? r->o->cache_size : getenv("FERRY_CACHE_SIZE");
    uint64_t limit = 10ull << 30;
    if (size && *size && cache_parse_size(size, &limit))
        return ferr_set(err, FERR_USAGE,
                        "cache size '%s': expected bytes, or a number with K, M, G or T", size);
    char *def = path_join(workspace_dir(r->ws), "cache");
    int rc = cache_open(&r->cache, dir && *dir ? dir : def, limit, err);
    free(def);
    if (rc == 0)
        stage_set_cache(r->cache);
    return rc;
}

/* The job, its plan, and what staging will need; nothing written yet. */
static int run_prepare(run_t *r, const char *job_path, ferr_t *err)
{
    r->code = RUN_EXIT_CONFIG;
    plan_opts_t po = {.run_id = r->o->run_id, .work_dir = r->o->work_dir};
    if (job_load(&r->job, job_path, err) || plan_build(&r->plan, r->job, r->ws, &po, err))
        return -1;
    if (r->o->dry_run)
        return 0;
    int conc;
    if (stage_check(r->plan, err) || job_concurrency(r->job, r->o->concurrency, &conc, err))
        return -1;
    stage_set_concurrency(conc);
    /* what the node cache holds was checked: a file let in unchecked must not be */
    if (!r->o->no_cache && store_check_md5() >= CHECK_LOG_ONLY)
        log_info("the node cache is not used: --check-md5 %s lets in what was not checked",
                 store_check_md5_name(store_check_md5()));
    return r->o->no_cache || store_check_md5() >= CHECK_LOG_ONLY ? 0 : open_cache(r, err);
}

/* The work dir, claimed for this run id, its log, and a first record. */
static int run_open_record(run_t *r, ferr_t *err)
{
    const plan_t *plan = r->plan;
    r->code = RUN_EXIT_INTERNAL;
    if (path_mkdirs(plan->work_dir, 0755, err))
        return -1;
    if (claim_run_id(plan, r->o->resume, err)) {
        r->code = err->code == FERR_EXISTS ? RUN_EXIT_CONFIG : RUN_EXIT_INTERNAL;
        return -1;
    }
    char *logp = path_join(plan->work_dir, "ferry.log");
    if (log_open_file(logp) != 0)
        log_warn("cannot write %s; the run's log goes to stderr only", logp);
    free(logp);
    log_info("run %s: work dir %s", plan->run_id, plan->work_dir);
    r->in = xcalloc(plan->ninputs + 1, sizeof *r->in);
    r->out = xcalloc(plan->noutputs + 1, sizeof *r->out);
    r->mr = (manifest_run_t){.status = "staging", .started = wall_now()};
    return manifest_write(plan, r->in, r->out, &r->mr, err);
}

/* Inputs in, output folders made. A signal meanwhile ends the run (the
 * guard says so and closes the record); a rerun resumes what it left. */
static int run_stage_in(run_t *r, ferr_t *err)
{
    r->code = RUN_EXIT_STAGE_IN;
    guard_t guard;
    guard_start(&guard, r->plan, &r->mr);
    int staged = stage_inputs(r->plan, r->in, err);
    if (r->cache)
        cache_trim(r->cache);
    staged =
        staged || stage_prepare_outputs(r->plan, err) || stage_mount_outputs(r->plan, r->out, err);
    /* a signal from here on stays pending, and is forwarded to the command */
    guard_stop(&guard);
    if (!staged)
        return 0;
    r->mr.status = "failed";
    r->mr.error = err->msg;
    r->mr.ended = wall_now();
    r->mr.exit_code = r->code;
    record(r->plan, r->in, r->out, &r->mr);
    return -1;
}

/* The command, with signals forwarded and outputs synced while it runs. */
static int run_command(run_t *r, ferr_t *err)
{
    const plan_t *plan = r->plan;
    r->env = child_env(plan, r->ws, r->o->pass_secret_env);
    exec_opts_t eo = {.command = plan->command,
                      .argv = plan->argv,
                      .cwd = plan->cwd,
                      .envp = r->env,
                      .timeout = plan->timeout,
                      .grace = r->o->grace};
    r->mr.status = "running";
    record(plan, r->in, r->out, &r->mr);
    /* a command string as written; argv (v1) as a shell would take it */
    char *line = plan->command ? xstrdup(plan->command) : plan_command_line(plan);
    log_info("running: %s", line);
    free(line);
    syncer_t sy;
    sync_start(&sy, plan, r->o->sync_every);
    ferr_t xerr = FERR_INIT;
    int xrc = exec_run(&eo, &r->ex, &xerr);
    sync_stop(&sy);
    if (xrc && !r->ex.not_started) {
        ferr_set(err, xerr.code, "%s", xerr.msg);
        ferr_clear(&xerr);
        r->code = RUN_EXIT_INTERNAL;
        return -1;
    }
    if (xrc)
        log_error("%s", xerr.msg);
    ferr_clear(&xerr);
    r->mr.exec = &r->ex;
    if (r->ex.signal)
        log_info("the command was ended by signal %d (%s) after %.1f s", r->ex.signal,
                 strsignal(r->ex.signal), r->ex.seconds);
    else
        log_info("the command exited with status %d after %.1f s", r->ex.status, r->ex.seconds);
    r->code = r->ex.timed_out ? RUN_EXIT_TIMEOUT : r->ex.status;
    return 0;
}

/* Outputs out, as --upload-on says, within --upload-budget after a signal. */
static void run_stage_out(run_t *r, ferr_t *err)
{
    const run_opts_t *o = r->o;
    /* the command has ended: its mounts go first (the outputs' files are
     * then in their folders, for the final upload) */
    for (size_t i = 0; i < r->plan->ninputs; i++)
        stage_unmount(&r->in[i]);
    for (size_t i = 0; i < r->plan->noutputs; i++)
        stage_unmount(&r->out[i]);
    int ok = r->ex.status == 0 && !r->ex.timed_out;
    int upload = o->upload_on == UPLOAD_ALWAYS || (o->upload_on == UPLOAD_SUCCESS && ok) ||
                 (o->upload_on == UPLOAD_FAILURE && !ok);
    if (r->plan->noutputs && !upload)
        log_info("outputs not uploaded (--upload-on %s)",
                 o->upload_on == UPLOAD_SUCCESS ? "success" : "failure");
    r->mr.status = "uploading";
    if (!upload || !r->plan->noutputs)
        return;
    record(r->plan, r->in, r->out, &r->mr);
    double u0 = progress_now();
    /* after a scheduler's signal, the time left is what the budget says */
    late_t late = {0};
    int budgeted = r->ex.forwarded && o->upload_budget;
    if (budgeted)
        http_set_budget_end(u0 + (double)o->upload_budget);
    else
        late_start(&late, o->upload_budget);
    int urc = stage_outputs(r->plan, r->out, err);
    late_stop(&late);
    http_set_budget_end(0);
    if (budgeted)
        log_info("final upload of outputs took %.1f s of a %ld s budget", progress_now() - u0,
                 o->upload_budget);
    else
        log_info("final upload of outputs took %.1f s", progress_now() - u0);
    if (!urc)
        return;
    r->mr.error = err->msg;
    if (ok)
        r->code = RUN_EXIT_STAGE_OUT;
    else
        log_error("%s (the command failed too; its status %d is the exit code)", err->msg,
                  r->ex.status);
}

/* The last record: the run's record is part of the run, and without it the
 * run did not succeed. */
static void run_close_record(run_t *r, ferr_t *err)
{
    r->mr.status = r->code == 0 ? "completed" : "failed";
    r->mr.ended = wall_now();
    r->mr.exit_code = r->code;
    if (record(r->plan, r->in, r->out, &r->mr) && r->code == 0)
        r->code = RUN_EXIT_INTERNAL;
    if (r->code != RUN_EXIT_STAGE_OUT) /* (after the record: mr.error may be err's) */
        ferr_clear(err);
    asset_after_run(workspace_dir(r->ws), r->plan, r->out, r->code);
    log_info("run %s %s (exit code %d); manifest: %s/manifest.json", r->plan->run_id,
             r->code == 0 ? "completed" : "failed", r->code, r->plan->work_dir);
}

static void run_dispose(run_t *r)
{
    free(r->env);
    for (size_t i = 0; r->in && r->plan && i < r->plan->ninputs; i++)
        stage_rec_dispose(&r->in[i]);
    for (size_t i = 0; r->out && r->plan && i < r->plan->noutputs; i++)
        stage_rec_dispose(&r->out[i]);
    free(r->in);
    free(r->out);
    plan_free(r->plan);
    job_free(r->job);
    stage_set_cache(NULL);
    cache_close(r->cache);
    log_close_file();
}

int run_job(const char *job_path, workspace_t *ws, const run_opts_t *o, ferr_t *err)
{
    run_t r = {.o = o, .ws = ws};
    if (run_prepare(&r, job_path, err) == 0) {
        if (o->dry_run) {
            plan_print(r.plan, stdout);
            r.code = 0;
        } else if (run_open_record(&r, err) == 0 && run_stage_in(&r, err) == 0 &&
                   run_command(&r, err) == 0) {
            run_stage_out(&r, err);
            run_close_record(&r, err);
        }
    }
    run_dispose(&r);
    return r.code;
}
