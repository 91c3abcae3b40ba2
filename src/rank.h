/* Where this process stands in a distributed job: its rank among all, its
 * rank on its node, its node, and the job's id, as the launcher says them
 * in the environment (Slurm, torchrun, Open MPI, a Kubernetes indexed Job). */
#ifndef FERRY_RANK_H
#define FERRY_RANK_H

#include <cjson/cJSON.h>

typedef struct rank {
    int known;        /* a launcher was found; else a single process (rank 0 of 1) */
    const char *from; /* "slurm", "torchrun", "openmpi", "kubernetes" */
    int rank, world;
    int local_rank, local_world; /* on this node; local_world 0: not said */
    int node, nodes;             /* nodes 0: not said */
    char job_id[128];            /* the job (and step) every rank shares; "" if none */
} rank_t;

/* From the environment (env: NULL for the process's). */
void rank_detect(rank_t *r, const char *const *env);
/* A run id all ranks of one job share ("slurm-<job>.<step>", ...), or NULL. */
char *rank_run_id(const rank_t *r);
cJSON *rank_to_json(const rank_t *r);

/* shard: by_files or by_bytes. Which of n entries (names sorted, sizes)
 * rank r of world takes: keep[i] set for each. Deterministic: every rank
 * computes the same split from the same listing, and the splits are
 * disjoint and cover all n. by_bytes balances bytes (largest first, each
 * to the rank with the fewest bytes so far, the lowest on a tie). */
typedef enum { SHARD_NONE, SHARD_BY_FILES, SHARD_BY_BYTES } shard_t;
void rank_shard(shard_t how, int rank, int world, const unsigned long long *sizes, size_t n,
                unsigned char *keep);

#endif
