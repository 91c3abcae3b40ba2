/* <work dir>/manifest.json: what data a run saw and made, file by file
 * with SHA-256, the command, times and how it ended. */
#ifndef FERRY_MANIFEST_H
#define FERRY_MANIFEST_H

#include <cjson/cJSON.h>

#include "error.h"
#include "exec.h"
#include "plan.h"
#include "stage.h"

typedef struct manifest_run {
    const char *status;        /* "staging", "running", "uploading", "completed", "failed" */
    double started, ended;     /* wall-clock seconds since the epoch; 0 = not yet */
    const exec_result_t *exec; /* NULL until the command ended */
    int exit_code;             /* ferry's own exit code, when ended */
    const char *error;
} manifest_run_t;

/* Lowercase hex SHA-256 of a file's contents. */
int manifest_sha256(const char *path, char hex[65], ferr_t *err);
int manifest_write(const plan_t *p, const stage_rec_t *in, const stage_rec_t *out,
                   const manifest_run_t *run, ferr_t *err);

#endif
