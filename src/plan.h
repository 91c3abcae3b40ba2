/* A plan is a job resolved against a workspace: every input and output with
 * its datastore, remote path, local path and mode, and the command with all
 * references substituted. Built once, then only read. */
#ifndef FERRY_PLAN_H
#define FERRY_PLAN_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "error.h"
#include "job.h"
#include "rank.h"
#include "workspace.h"

typedef struct plan_io {
    const char *name;
    io_type_t type;
    io_mode_t mode;        /* what ferry will do */
    int mode_given;        /* the job file said the mode */
    io_mode_t asked;       /* what the job file said */
    char *uri;             /* as written, or the default (outputs), after substitution */
    const datastore_t *ds; /* NULL: literal, local path or passed-through URL */
    datastore_t *adhoc;    /* a local path being copied: a datastore made for it */
    char *remote;          /* path in ds, normalised */
    char *local;           /* what the command sees; NULL for literals and URLs */
    char *value;           /* what ${{inputs.x}} becomes */
    int in_place;          /* a local path used where it is */
    int overwrite;
    long sync_interval;        /* outputs: seconds between uploads while running; 0 = none */
    char *kind;                /* the type's name when not uri_folder/uri_file (mltable, ...) */
    int unpack;                /* inputs: an archive, extracted into local (a folder) */
    const char *archive;       /* outputs: packed into one object of this format */
    int shard;                 /* inputs: shard_t: this rank's part only */
    int shared;                /* outputs: every rank into one folder (else rank-<N>/): 1
                                * for a single process, this rank's number plus 2 else */
    int node_shared;           /* inputs: staged once per node, in node_dir */
    char *asset;               /* inputs: the data asset or run output it names ("azureml:x:2") */
    const char *env_name;      /* v1: an environment variable set to the local path */
    const char *asset_name;    /* outputs: registered as this data asset after the run */
    const char *asset_version; /* (NULL: the next whole number) */
} plan_io_t;

/* The io's type as a job file would say it. */
const char *plan_io_type(const plan_io_t *io);

typedef struct plan {
    const job_t *job;
    char *run_id;
    char *work_dir;
    char *cwd;
    char *command; /* for /bin/sh -c, or NULL when argv is set */
    char **argv;
    size_t argc;
    char **env; /* "NAME=value" added to the child's environment */
    size_t nenv;
    plan_io_t *inputs, *outputs;
    size_t ninputs, noutputs;
    long timeout;
    rank_t rank;    /* where this process stands among the job's ranks */
    char *node_dir; /* ranks > 1: where this node's ranks share their staged inputs */
} plan_t;

typedef struct plan_opts {
    const char *run_id;   /* NULL: generated */
    const char *work_dir; /* NULL: <workspace>/runs/<run id> */
} plan_opts_t;

int plan_build(plan_t **out, const job_t *job, const workspace_t *ws, const plan_opts_t *o,
               ferr_t *err);
void plan_free(plan_t *p);
cJSON *plan_to_json(const plan_t *p);
/* An input's or output's name, type, and value (a literal) or mode and
 * asset: what plan's JSON and the manifest both begin with. */
cJSON *plan_io_json_head(const plan_io_t *io);
void plan_print(const plan_t *p, FILE *f);
int plan_run_id_ok(const char *id);
/* The command as a shell would take it, each word quoted where it needs
 * to be ("/bin/sh -c 'echo hi'", "python3 train.py 'b c'"); malloc'd. */
char *plan_command_line(const plan_t *p);

#endif
