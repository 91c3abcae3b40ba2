/* Where a process stands among ranks, from each launcher's environment,
 * and shards: deterministic, disjoint, covering, balanced. */
#include <stdlib.h>
#include <string.h>

#include "rank.h"
#include "tap.h"

int main(void)
{
    rank_t r;
    const char *none[] = {"PATH=/bin", NULL};
    rank_detect(&r, none);
    OK(!r.known && r.rank == 0 && r.world == 1, "no launcher: rank 0 of 1");
    const char *slurm[] = {"SLURM_PROCID=5",
                           "SLURM_LOCALID=1",
                           "SLURM_NODEID=2",
                           "SLURM_NTASKS=8",
                           "SLURM_NNODES=4",
                           "SLURM_JOB_ID=77",
                           "SLURM_STEP_ID=3",
                           "SLURM_STEP_TASKS_PER_NODE=2(x4)",
                           NULL};
    rank_detect(&r, slurm);
    OK(r.known && !strcmp(r.from, "slurm") && r.rank == 5 && r.world == 8 && r.local_rank == 1 &&
           r.local_world == 2 && r.node == 2 && r.nodes == 4,
       "Slurm: rank, local rank, node, tasks per node");
    STREQ(r.job_id, "slurm-77.3", "Slurm: the job and step every rank shares");
    const char *uneven[] = {"SLURM_PROCID=4", "SLURM_NTASKS=5", "SLURM_NODEID=1",
                            "SLURM_TASKS_PER_NODE=3,2", NULL};
    rank_detect(&r, uneven);
    OK(r.local_world == 2, "Slurm: uneven tasks per node (3,2): 2 on node 1");
    const char *torch[] = {"RANK=3",
                           "WORLD_SIZE=4",
                           "LOCAL_RANK=1",
                           "LOCAL_WORLD_SIZE=2",
                           "GROUP_RANK=1",
                           "TORCHELASTIC_RUN_ID=abc",
                           NULL};
    rank_detect(&r, torch);
    OK(!strcmp(r.from, "torchrun") && r.rank == 3 && r.local_rank == 1 && r.node == 1 &&
           r.nodes == 2,
       "torchrun: RANK, LOCAL_RANK, GROUP_RANK; nodes from the sizes");
    STREQ(r.job_id, "torch-abc", "torchrun: its run id");
    const char *mpi[] = {"OMPI_COMM_WORLD_RANK=2", "OMPI_COMM_WORLD_SIZE=4",
                         "OMPI_COMM_WORLD_LOCAL_RANK=0", "OMPI_COMM_WORLD_LOCAL_SIZE=2", NULL};
    rank_detect(&r, mpi);
    OK(!strcmp(r.from, "openmpi") && r.rank == 2 && r.local_world == 2 && r.node == 1,
       "Open MPI: its variables; the node from the local size");
    const char *k8s[] = {"JOB_COMPLETION_INDEX=2", "FERRY_WORLD_SIZE=3", "JOB_NAME=train", NULL};
    rank_detect(&r, k8s);
    OK(!strcmp(r.from, "kubernetes") && r.rank == 2 && r.world == 3 && r.node == 2 &&
           r.local_world == 1,
       "a Kubernetes indexed Job: one pod a node, its index the rank");
    STREQ(r.job_id, "k8s-train", "Kubernetes: the Job's name");
    const char *bad[] = {"SLURM_PROCID=x", "SLURM_NTASKS=4", NULL};
    rank_detect(&r, bad);
    OK(!r.known, "a variable that is not a number is no launcher");

    enum { N = 1000, W = 7 };
    unsigned long long sizes[N];
    unsigned char keep[W][N];
    for (int i = 0; i < N; i++)
        sizes[i] = (unsigned long long)((i * 7919) % 1000 + 1) * 1000;
    for (int how = SHARD_BY_FILES; how <= SHARD_BY_BYTES; how++) {
        for (int w = 0; w < W; w++)
            rank_shard((shard_t)how, w, W, sizes, N, keep[w]);
        int cover = 1, count[W] = {0};
        unsigned long long bytes[W] = {0};
        for (int i = 0; i < N; i++) {
            int owners = 0;
            for (int w = 0; w < W; w++) {
                owners += keep[w][i];
                if (keep[w][i]) {
                    count[w]++;
                    bytes[w] += sizes[i];
                }
            }
            cover &= owners == 1;
        }
        OK(cover, "%s: every file in exactly one rank's part",
           how == SHARD_BY_FILES ? "by_files" : "by_bytes");
        unsigned long long lo = bytes[0], hi = bytes[0];
        int clo = count[0], chi = count[0];
        for (int w = 1; w < W; w++) {
            lo = bytes[w] < lo ? bytes[w] : lo;
            hi = bytes[w] > hi ? bytes[w] : hi;
            clo = count[w] < clo ? count[w] : clo;
            chi = count[w] > chi ? count[w] : chi;
        }
        if (how == SHARD_BY_FILES)
            OK(chi - clo <= 1, "by_files: counts differ by one at most (%d..%d)", clo, chi);
        else
            OK(hi - lo <= 1000000, "by_bytes: bytes within one file's size (%llu..%llu)", lo, hi);
    }
    unsigned char again[N];
    rank_shard(SHARD_BY_BYTES, 3, W, sizes, N, again);
    OK(!memcmp(again, keep[3], N), "the same listing gives the same part");
    TAP_DONE();
}
