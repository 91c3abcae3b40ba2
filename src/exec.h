/* The child: runs the command in its own process group, forwards signals
 * to that group, enforces the timeout and the grace period, and reports
 * how it ended. */
#ifndef FERRY_EXEC_H
#define FERRY_EXEC_H

#include "error.h"

typedef struct exec_opts {
    const char *command; /* run as /bin/sh -c command, or */
    char *const *argv;   /* run directly */
    const char *cwd;
    char *const *envp;
    long timeout; /* seconds; 0 = none. SIGTERM at the deadline */
    long grace;   /* seconds between SIGTERM and SIGKILL */
} exec_opts_t;

typedef struct exec_result {
    int status; /* exit code, or 128+N when signal N ended it */
    int signal; /* N, or 0 */
    int timed_out;
    int forwarded;   /* a signal from outside was passed on */
    int not_started; /* 126/127: could not exec; message in err */
    double seconds;
} exec_result_t;

/* Blocks the signals ferry forwards (in the calling thread, and so in every
 * thread it starts after); exec_run takes them with sigtimedwait. The child
 * starts with default dispositions and an empty mask. */
void exec_block_signals(void);
int exec_run(const exec_opts_t *o, exec_result_t *res, ferr_t *err);

#endif
