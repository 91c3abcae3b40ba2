/* Staging: a plan's inputs brought to their local paths before the
 * command, its outputs carried to their datastores after it. */
#ifndef FERRY_STAGE_H
#define FERRY_STAGE_H

#include "error.h"
#include "plan.h"
#include "xfer.h"

struct mount;
typedef struct stage_rec {
    xfer_result_t res;
    int done;                       /* staged (or nothing to stage) */
    char *error;                    /* why not, when it failed */
    struct mount *mount;            /* an input mounted (ro_mount) until stage_unmount */
    struct rw_mount *rw;            /* an output mounted (rw_mount) until stage_unmount */
    uint64_t shard_files, shard_of; /* a sharded input: this rank's files, of all */
} stage_rec_t;

/* The input's or output's mount, if any, ends (also done by
 * stage_rec_dispose). */
void stage_unmount(stage_rec_t *r);
/* rw_mount outputs (folders) become writable mounts where FUSE can be had. */
int stage_mount_outputs(const plan_t *p, stage_rec_t *recs, ferr_t *err);

/* Transfers at once for staging (0: the engine's default). */
void stage_set_concurrency(int n);
/* Inputs from remote stores go through this node-local cache (NULL: none). */
struct cache;
void stage_set_cache(struct cache *c);
/* recs has one entry per input; stops at the first input that fails. */
int stage_inputs(const plan_t *p, stage_rec_t *recs, ferr_t *err);
/* Creates the local folders the command writes its outputs into. */
int stage_prepare_outputs(const plan_t *p, ferr_t *err);
/* While the command runs: uploads what changed in outputs whose interval is
 * due (sync_every applies to outputs without their own). Returns the
 * seconds until the next one is due. */
double stage_sync_outputs(const plan_t *p, long sync_every, double now, double *last);
/* Uploads every output (trying all of them); -1 if any failed. A folder's
 * _ferry_manifest.json goes last, so a reader can tell it is complete. */
int stage_outputs(const plan_t *p, stage_rec_t *recs, ferr_t *err);
/* Opens each datastore the plan moves data with, so an unusable one fails
 * before anything runs. */
int stage_check(const plan_t *p, ferr_t *err);
void stage_rec_dispose(stage_rec_t *r);

#endif
