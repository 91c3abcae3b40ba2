/* 'ferry run': validate, resolve, stage inputs, execute, upload outputs,
 * record. Returns the process exit code (see README, "Exit codes"). */
#ifndef FERRY_RUN_H
#define FERRY_RUN_H

#include "error.h"
#include "workspace.h"

enum run_exit {
    RUN_EXIT_CONFIG = 121,    /* bad job file, argv or datastore: the command did not run */
    RUN_EXIT_STAGE_IN = 122,  /* inputs could not be staged: the command did not run */
    RUN_EXIT_STAGE_OUT = 123, /* the command succeeded, its outputs could not be uploaded */
    RUN_EXIT_TIMEOUT = 124,   /* limits.timeout was reached */
    RUN_EXIT_INTERNAL = 125,  /* ferry itself failed (fork, out of memory, ...) */
};

typedef enum { UPLOAD_ALWAYS, UPLOAD_SUCCESS, UPLOAD_FAILURE } upload_on_t;

typedef struct run_opts {
    const char *run_id;
    const char *work_dir;
    int dry_run;
    long grace;
    upload_on_t upload_on;
    int concurrency;     /* 0: the engine's default */
    long upload_budget;  /* seconds for the final upload after a forwarded signal; 0 = none */
    int pass_secret_env; /* keep variables that hold datastore secrets in the command's env */
    long sync_every;     /* seconds between output uploads while the command runs; 0 = none */
    int no_cache;
    int resume;             /* a run id used before may run again, in its work dir */
    const char *cache_dir;  /* NULL: $FERRY_CACHE_DIR, else <workspace>/cache */
    const char *cache_size; /* NULL: $FERRY_CACHE_SIZE, else 10G */
} run_opts_t;

/* err holds the reason when the exit code is ferry's own. */
int run_job(const char *job_path, workspace_t *ws, const run_opts_t *o, ferr_t *err);

#endif
