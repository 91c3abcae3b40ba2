/* Job files: an Azure ML v2 command job or a v1 runconfig, loaded into one
 * format-neutral description. Everything here is checked with file:line:col;
 * nothing here touches a datastore (that is plan's work). */
#ifndef FERRY_JOB_H
#define FERRY_JOB_H

#include <stddef.h>

#include "doc.h"
#include "error.h"

typedef enum { JOB_V2, JOB_V1 } job_format_t;
typedef enum { IO_LITERAL, IO_URI_FOLDER, IO_URI_FILE } io_type_t;
typedef enum { MODE_RO_MOUNT, MODE_DOWNLOAD, MODE_DIRECT, MODE_UPLOAD, MODE_RW_MOUNT } io_mode_t;

typedef struct job_io {
    char *name;
    io_type_t type;
    io_mode_t mode;
    int mode_given;      /* the job file says the mode (else it is the default) */
    char *value;         /* IO_LITERAL: the text */
    char *path;          /* as written (NULL for an output's default) */
    char *local_path;    /* v1 pathOnCompute, NULL for the default */
    char *kind;          /* the type as written when it is staged as a folder or file of
                          * another name (mltable, mlflow_model, ...); NULL otherwise */
    int type_given;      /* the job file says the type (else an asset's may stand) */
    char *asset_id;      /* v1: a dataset named by id */
    char *asset_name;    /* outputs: registered as this data asset after the run */
    char *asset_version; /* and this version (NULL: the next whole number) */
    char *env_name;      /* v1 environmentVariableName: also set to the local path */
    int overwrite;
    long sync_interval;     /* outputs: seconds between uploads while the command runs */
    int unpack;             /* inputs: an archive, extracted into the input's folder */
    char *archive;          /* outputs: packed into one object: tar.gz, tar.zst or zip */
    int shard;              /* inputs: 0, or shard_t: each rank takes its part */
    int shared;             /* outputs: all ranks upload into the one folder */
    const doc_node_t *node; /* for messages */
} job_io_t;

typedef struct job_env {
    char *name, *value;
    const doc_node_t *node;
} job_env_t;

typedef struct job {
    job_format_t format;
    doc_t *doc;
    char *file;    /* absolute */
    char *dir;     /* its folder: relative paths start here */
    char *command; /* v2 (and v1 'command'): run by /bin/sh -c */
    char **argv;   /* v1 script + arguments: run directly */
    size_t argc;
    const doc_node_t *command_node;
    char *code; /* absolute folder the command runs in */
    job_env_t *env;
    size_t nenv;
    job_io_t *inputs, *outputs;
    size_t ninputs, noutputs;
    long timeout;   /* seconds; 0 = none */
    char **ignored; /* keys meant for the service */
    size_t nignored;
    /* what was wrong, each with its file:line:col, in the order found */
    char **problems;
    int *problem_codes; /* each one's ferr code */
    size_t nproblems;
    size_t more_problems; /* past the ones kept */
} job_t;

/* 0, or -1 with the first problem in err. */
int job_load(job_t **out, const char *path, ferr_t *err);
/* The same, and on failure every problem found (*problems malloc'd, each
 * a message; free them with job_problems_free). */
int job_load_all(job_t **out, const char *path, char ***problems, size_t *n, ferr_t *err);
void job_problems_free(char **problems, size_t n);
/* The same from memory: name is the file's name in messages (and, ending in
 * .json, makes the text strict JSON); relative paths in the job are taken
 * from the current folder. For tests and fuzzing. */
int job_load_mem(job_t **out, const char *name, const char *text, size_t len, ferr_t *err);
void job_free(job_t *j);
const char *job_format_name(job_format_t f);
const char *job_mode_name(io_mode_t m);
const char *job_type_name(io_type_t t);
/* The io's type as the job file says it: its kind, else job_type_name. */
const char *job_io_type(const job_io_t *io);
/* Types Azure ML stages as folders: mltable, mlflow_model, custom_model,
 * triton_model. 1 if s is one. */
int job_folder_kind(const char *s);

/* ${{ref}} substitution. fn returns the value for "inputs.x", "run.id", ...
 * or NULL when ref is unknown. On failure returns -1 and *bad is the
 * malloc'd reference text (or NULL for an unterminated "${{"). */
typedef const char *(*job_ref_fn)(void *ud, const char *ref);
int job_subst(const char *text, job_ref_fn fn, void *ud, char **out, char **bad);

/* v1: $AZUREML_DATAREFERENCE_<key> in arguments. fn gets the key. */
int job_subst_datarefs(const char *text, job_ref_fn fn, void *ud, char **out, char **bad);

#endif
