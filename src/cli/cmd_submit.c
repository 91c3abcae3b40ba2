/* ferry submit JOB --slurm: a batch script from the job's resources and
 * distribution, running `srun ferry run JOB` on every node (each task one
 * rank), written, printed, or handed to sbatch. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli_int.h"
#include "doc.h"
#include "job.h"
#include "log.h"
#include "path.h"
#include "xalloc.h"

/* A whole number >= 1 at key of m (a mapping), or dflt. */
static long count_at(const doc_node_t *m, const char *key, long dflt)
{
    long long v;
    const doc_node_t *n = doc_get(m, key);
    return n && doc_is_int(n, &v) && v >= 1 && v <= 100000 ? (long)v : dflt;
}

/* Single quotes for the shell. */
static char *sq(const char *s)
{
    size_t n = 3;
    for (const char *c = s; *c; c++)
        n += *c == '\'' ? 4 : 1;
    char *o = xcalloc(1, n), *w = o;
    *w++ = '\'';
    for (const char *c = s; *c; c++) {
        if (*c == '\'') {
            memcpy(w, "'\\''", 4);
            w += 4;
        } else {
            *w++ = *c;
        }
    }
    *w = '\'';
    return o;
}

static char *script_for(const job_t *j, const char *ws_dir)
{
    const doc_node_t *r = doc_root(j->doc), *res = doc_get(r, "resources"),
                     *dist = doc_get(r, "distribution"), *name = doc_get(r, "name");
    long nodes = count_at(res, "instance_count", 1);
    const doc_node_t *dt = doc_get(dist, "type");
    long per = 1;
    if (dt && dt->kind == DOC_SCALAR && (!strcmp(dt->str, "pytorch") || !strcmp(dt->str, "mpi")))
        per = count_at(dist, "process_count_per_instance", 1);
    else if (dt && dt->kind == DOC_SCALAR && !strcmp(dt->str, "tensorflow"))
        per = 1;
    char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    self[sl > 0 ? sl : 0] = 0;
    const char *base = strrchr(j->file, '/') ? strrchr(j->file, '/') + 1 : j->file;
    char *jn = xstrdup(name && name->kind == DOC_SCALAR ? name->str : base);
    for (char *c = jn; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.'))
            *c = '_';
    char *qf = sq(sl > 0 ? self : "ferry"), *qj = sq(j->file), *qw = sq(ws_dir), *qd = sq(j->dir);
    char *s =
        xasprintf("#!/bin/bash\n"
                  "# Written by ferry submit --slurm from %s:\n"
                  "# resources.instance_count %ld, %ld process(es) per node (distribution).\n"
                  "# Each task runs `ferry run`, one rank of the job: the node's first stages the\n"
                  "# inputs the node's ranks share, each rank's outputs go to <output>/rank-<N>/.\n"
                  "#SBATCH --job-name=%s\n"
                  "#SBATCH --nodes=%ld\n"
                  "#SBATCH --ntasks-per-node=%ld\n"
                  "#SBATCH --output=ferry-%%x-%%j.out\n"
                  "#SBATCH --signal=B:TERM@120\n"
                  "set -euo pipefail\n"
                  "export FERRY_WORKSPACE=%s\n"
                  "cd %s\n"
                  "exec srun --kill-on-bad-exit=0 %s run %s --upload-budget 90\n",
                  j->file, nodes, per, jn, nodes, per, qw, qd, qf, qj);
    free(jn);
    free(qf);
    free(qj);
    free(qw);
    free(qd);
    return s;
}

static int sbatch(const char *file, ferr_t *err)
{
    pid_t pid = fork();
    if (pid < 0)
        return ferr_errno(err, FERR_IO, errno, "cannot start sbatch");
    if (pid == 0) {
        execlp("sbatch", "sbatch", file, (char *)NULL);
        fprintf(stderr, "ferry: cannot run sbatch: %s (is Slurm installed?)\n", strerror(errno));
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st))
        return ferr_set(err, FERR_TRANSFER, "sbatch %s failed (exit %d)", file,
                        WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return 0;
}

static int cmd_submit(ctx_t *c, args_t *a, ferr_t *err)
{
    if (!flag(a, "slurm"))
        return ferr_set(err, FERR_USAGE, "submit: say where: --slurm (the only scheduler so far)");
    job_t *j;
    if (job_load(&j, a->pos[0], err))
        return -1;
    char *s = script_for(j, workspace_dir(c->ws));
    int rc = 0;
    if (flag(a, "print")) {
        fputs(s, stdout);
    } else {
        const char *base = strrchr(j->file, '/') + 1;
        char *def = xasprintf(
            "%s/%.*s.sbatch", j->dir,
            (int)(strrchr(base, '.') ? strrchr(base, '.') - base : (long)strlen(base)), base);
        const char *out = opt(a, "output") ? opt(a, "output") : def;
        rc = path_write_atomic(out, s, strlen(s), 0755, err);
        if (rc == 0)
            printf("wrote %s\n", out);
        fflush(stdout);
        if (rc == 0 && flag(a, "now"))
            rc = sbatch(out, err);
        free(def);
    }
    free(s);
    job_free(j);
    return rc;
}

static const opt_spec_t submit_opts[] = {{"slurm", 0, 0},    {"print", 0, 0}, {"now", 0, 0},
                                         {"output", 'o', 1}, HELP_OPT,        {NULL, 0, 0}};

const command_t cli_submit_commands[] = {
    {"submit", cmd_submit, submit_opts, 1, 1, 1,
     "ferry submit JOB --slurm [--print | --output FILE] [--now]",
     "Writes a Slurm batch script for JOB (default: beside it, <job>.sbatch): as many\n"
     "nodes as resources.instance_count, distribution.process_count_per_instance tasks\n"
     "on each (pytorch, mpi), every task running 'ferry run JOB' as one rank. --print\n"
     "shows the script instead; --now submits it with sbatch.",
     NULL},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL}};
