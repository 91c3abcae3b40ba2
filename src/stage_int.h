/* Inside staging (stage.c): what stage_rank.c adds for ranks. */
#ifndef FERRY_STAGE_INT_H
#define FERRY_STAGE_INT_H

#include <stdint.h>

#include "plan.h"
#include "stage.h"
#include "store.h"

/* The first rank on a node: the node's shared inputs are staged (error:
 * NULL) or could not be. The others: wait for that, FERRY_STAGE_WAIT
 * seconds at most (default 3600). Single processes do nothing. */
void stage_node_done(const plan_t *p, const char *error);
int stage_node_wait(const plan_t *p, ferr_t *err);

/* A sharded input: this rank's files of the listing under prefix. */
typedef struct shard_sel {
    char **names; /* sorted */
    size_t n;
    uint64_t bytes, total_files, total_bytes;
} shard_sel_t;
int stage_shard_select(store_t *s, const char *prefix, const plan_t *p, const plan_io_t *io,
                       shard_sel_t *sel, ferr_t *err);
int stage_shard_want(void *ud, const char *name, uint64_t size); /* for xfer_opts_t.want */
void stage_shard_free(shard_sel_t *sel);

#endif
