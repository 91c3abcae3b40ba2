/* Inside the job loader (job.c): the helpers the v2 (job_v2.c) and v1
 * (job_v1.c) front-ends share, and the front-ends themselves. */
#ifndef FERRY_JOB_INT_H
#define FERRY_JOB_INT_H

#include "job.h"

int job_in_list(const char **l, const char *s);
int job_name_ok(const char *s);
char *job_fieldf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int job_want_string(const job_t *j, const doc_node_t *n, const char *field, ferr_t *err);
int job_add_ignored(job_t *j, const char *key);
/* Room for one more element (and spare after it) in an array the loader grows. */
void job_grow_one(void *arrp, size_t n, size_t spare, size_t size);
int job_parse_mode(const char *s, int input, io_mode_t *out);
int job_parse_env_map(job_t *j, const doc_node_t *m, const char *field, ferr_t *err);
job_io_t *job_io_new(job_io_t **arr, size_t *n, const char *name, const doc_node_t *node);
int job_check_path(const job_t *j, const job_io_t *io, const doc_node_t *at, const char *field,
                   int input, ferr_t *err);
/* Keeps err's message as one of the job's problems and clears err, so that
 * reading goes on; job_load reports them all. */
void job_note(job_t *j, ferr_t *err);
/* A warning, with its file:line:col: logged at once. */
void job_warn(job_t *j, const char *msg);
int job_parse_v2(job_t *j, const doc_node_t *r, ferr_t *err);
/* v1 (job_v1_data.c): keys as azureml-core reads them (snake_case and a
 * leading capital taken as camelCase), and the data and outputData sections. */
char *job_v1_camel(const char *k);
const doc_node_t *job_v1_get(const doc_node_t *m, const char *key);
void job_v1_check_keys(job_t *j, const doc_node_t *m, const char *field, const char **keys);
void job_v1_datasets(job_t *j, const doc_node_t *r, ferr_t *err);
/* Why a pathOnCompute would leave the run's work dir, or NULL. */
const char *job_poc_why(const char *s);
int job_parse_v1(job_t *j, const doc_node_t *r, ferr_t *err);

#endif
