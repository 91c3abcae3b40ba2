/* Rank awareness: the launchers' environment variables, and sharding. */
#define _GNU_SOURCE
#include "rank.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static const char *env_get(const char *const *env, const char *name)
{
    if (!env)
        return getenv(name);
    size_t n = strlen(name);
    for (const char *const *e = env; *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* A whole number >= 0 in name, or -1. */
static int num(const char *const *env, const char *name)
{
    const char *v = env_get(env, name);
    char *end;
    if (!v || !*v)
        return -1;
    long x = strtol(v, &end, 10);
    return *end || x < 0 || x > 1000000 ? -1 : (int)x;
}

/* "2(x3),1" (Slurm's tasks per node): the count on node i. */
static int tasks_on_node(const char *spec, int node)
{
    int i = 0;
    for (const char *p = spec; p && *p;) {
        char *end;
        long n = strtol(p, &end, 10), rep = 1;
        if (end == p)
            return 0;
        if (!strncmp(end, "(x", 2))
            rep = strtol(end + 2, &end, 10), end += *end == ')';
        if (node < i + rep)
            return (int)n;
        i += (int)rep;
        p = *end == ',' ? end + 1 : NULL;
    }
    return 0;
}

static int from_slurm(rank_t *r, const char *const *env)
{
    int rank = num(env, "SLURM_PROCID"), world = num(env, "SLURM_NTASKS");
    if (rank < 0 || world < 1)
        return 0;
    r->from = "slurm";
    r->rank = rank;
    r->world = world;
    r->local_rank = num(env, "SLURM_LOCALID");
    r->node = num(env, "SLURM_NODEID");
    r->nodes = num(env, "SLURM_NNODES");
    const char *tpn = env_get(env, "SLURM_STEP_TASKS_PER_NODE");
    if (!tpn)
        tpn = env_get(env, "SLURM_TASKS_PER_NODE");
    r->local_world = r->node >= 0 && tpn ? tasks_on_node(tpn, r->node) : 0;
    const char *job = env_get(env, "SLURM_JOB_ID"), *step = env_get(env, "SLURM_STEP_ID");
    if (job)
        snprintf(r->job_id, sizeof r->job_id, "slurm-%s%s%s", job, step ? "." : "",
                 step ? step : "");
    return 1;
}

static int from_torchrun(rank_t *r, const char *const *env)
{
    int rank = num(env, "RANK"), world = num(env, "WORLD_SIZE");
    if (rank < 0 || world < 1)
        return 0;
    r->from = "torchrun";
    r->rank = rank;
    r->world = world;
    r->local_rank = num(env, "LOCAL_RANK");
    r->local_world = num(env, "LOCAL_WORLD_SIZE");
    r->node = num(env, "GROUP_RANK");
    r->nodes = num(env, "GROUP_WORLD_SIZE");
    const char *id = env_get(env, "TORCHELASTIC_RUN_ID");
    if (id && *id && strcmp(id, "none"))
        snprintf(r->job_id, sizeof r->job_id, "torch-%s", id);
    return 1;
}

static int from_openmpi(rank_t *r, const char *const *env)
{
    int rank = num(env, "OMPI_COMM_WORLD_RANK"), world = num(env, "OMPI_COMM_WORLD_SIZE");
    if (rank < 0 || world < 1)
        return 0;
    r->from = "openmpi";
    r->rank = rank;
    r->world = world;
    r->local_rank = num(env, "OMPI_COMM_WORLD_LOCAL_RANK");
    r->local_world = num(env, "OMPI_COMM_WORLD_LOCAL_SIZE");
    r->node = num(env, "OMPI_COMM_WORLD_NODE_RANK");
    const char *job = env_get(env, "OMPI_MCA_ess_base_jobid");
    if (job)
        snprintf(r->job_id, sizeof r->job_id, "mpi-%s", job);
    return 1;
}

/* An indexed Job: one pod per index, each its own node. The world is the
 * Job's completions, which the pod learns only if told (FERRY_WORLD_SIZE). */
static int from_kubernetes(rank_t *r, const char *const *env)
{
    int idx = num(env, "JOB_COMPLETION_INDEX");
    if (idx < 0)
        return 0;
    r->from = "kubernetes";
    r->rank = idx;
    r->world = num(env, "FERRY_WORLD_SIZE");
    if (r->world < idx + 1)
        r->world = idx + 1;
    r->local_rank = 0;
    r->local_world = 1;
    r->node = idx;
    r->nodes = r->world;
    const char *job = env_get(env, "JOB_NAME");
    if (job)
        snprintf(r->job_id, sizeof r->job_id, "k8s-%s", job);
    return 1;
}

void rank_detect(rank_t *r, const char *const *env)
{
    memset(r, 0, sizeof *r);
    r->world = 1;
    r->local_world = 1;
    r->nodes = 1;
    r->known = from_slurm(r, env) || from_torchrun(r, env) || from_openmpi(r, env) ||
               from_kubernetes(r, env);
    if (!r->known) {
        r->world = r->local_world = r->nodes = 1;
        return;
    }
    /* what a launcher leaves unsaid: one process per node */
    if (r->local_rank < 0)
        r->local_rank = 0;
    if (r->node < 0)
        r->node = r->local_world > 0 ? r->rank / r->local_world : r->rank;
    if (r->local_world <= 0)
        r->local_world = 1;
    if (r->nodes <= 0)
        r->nodes = (r->world + r->local_world - 1) / r->local_world;
}

char *rank_run_id(const rank_t *r)
{
    return r->known && r->job_id[0] ? xstrdup(r->job_id) : NULL;
}

cJSON *rank_to_json(const rank_t *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "launcher", r->known ? r->from : "none");
    cJSON_AddNumberToObject(o, "rank", r->rank);
    cJSON_AddNumberToObject(o, "world_size", r->world);
    cJSON_AddNumberToObject(o, "local_rank", r->local_rank);
    cJSON_AddNumberToObject(o, "local_world_size", r->local_world);
    cJSON_AddNumberToObject(o, "node", r->node);
    cJSON_AddNumberToObject(o, "nodes", r->nodes);
    if (r->job_id[0])
        cJSON_AddStringToObject(o, "job", r->job_id);
    return o;
}

typedef struct sized {
    unsigned long long size;
    size_t i;
} sized_t;

static int larger_first(const void *a, const void *b)
{
    const sized_t *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return x->i < y->i ? -1 : x->i > y->i;
}

void rank_shard(shard_t how, int rank, int world, const unsigned long long *sizes, size_t n,
                unsigned char *keep)
{
    if (world < 1)
        world = 1;
    if (how != SHARD_BY_BYTES) {
        for (size_t i = 0; i < n; i++)
            keep[i] = how == SHARD_NONE || (int)(i % (size_t)world) == rank;
        return;
    }
    /* largest first (a total order: by size, then by position) */
    sized_t *order = xcalloc(n + 1, sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = (sized_t){sizes[i], i};
    qsort(order, n, sizeof *order, larger_first);
    unsigned long long *load = xcalloc((size_t)world, sizeof *load);
    for (size_t k = 0; k < n; k++) {
        int best = 0;
        for (int w = 1; w < world; w++)
            if (load[w] < load[best])
                best = w;
        load[best] += order[k].size;
        keep[order[k].i] = best == rank;
    }
    free(load);
    free(order);
}
