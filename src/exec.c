#define _GNU_SOURCE
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "progress.h"

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define NFWD (sizeof forwarded / sizeof *forwarded)

void exec_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < NFWD; i++)
        sigaddset(&set, forwarded[i]);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void child(const exec_opts_t *o, int errfd, pid_t parent)
{
    /* killed with ferry (by SIGKILL too): the death of the thread that forked
     * (ferry's main thread, alive until ferry exits) sends SIGKILL; ferry gone
     * before this call is seen by getppid */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(137);
    /* the child gets a clean signal state: default dispositions and no mask,
     * so every signal ferry forwards reaches it (a background job started
     * by a shell would otherwise inherit SIGINT and SIGQUIT ignored) */
    for (size_t i = 0; i < NFWD; i++)
        signal(forwarded[i], SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    setpgid(0, 0);
    int e = 0;
    if (o->cwd && chdir(o->cwd) != 0) {
        e = errno;
        if (write(errfd, &e, sizeof e) < 0)
            _exit(126);
        _exit(126);
    }
    if (o->command) {
        char *const argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)o->command, NULL};
        execve("/bin/sh", argv, o->envp);
    } else {
        execvpe(o->argv[0], o->argv, o->envp);
    }
    e = errno;
    if (write(errfd, &e, sizeof e) < 0)
        _exit(127);
    _exit(e == ENOENT ? 127 : 126);
}

/* The command's group dies with ferry: a small process holds the read end of
 * a pipe only ferry writes to. When ferry ends without saying goodbye
 * (kill -9, a crash) the pipe reads end of file and the watcher sends the
 * group SIGKILL; PR_SET_PDEATHSIG on the child alone would leave its own
 * children running. */
static pid_t watcher_start(pid_t group, int *wfd)
{
    int p[2];
    *wfd = -1;
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    pid_t w = fork();
    if (w == 0) {
        close(p[1]);
        for (int fd = 0; fd < 3; fd++)
            close(fd);
        char c;
        ssize_t r;
        while ((r = read(p[0], &c, 1)) < 0 && errno == EINTR)
            ;
        if (r == 0)
            kill(-group, SIGKILL);
        _exit(0);
    }
    close(p[0]);
    if (w < 0) {
        close(p[1]);
        return -1;
    }
    *wfd = p[1];
    return w;
}

static void watcher_stop(pid_t w, int wfd)
{
    if (w <= 0)
        return;
    if (write(wfd, "x", 1) < 0)
        kill(w, SIGKILL);
    close(wfd);
    while (waitpid(w, NULL, 0) < 0 && errno == EINTR)
        ;
}

static double now_s(void)
{
    return progress_now();
}

/* The child's process group, supervised until it exits: the timeout (TERM,
 * then KILL after the grace), and each forwarded signal (a second TERM or
 * INT kills). Returns the wait status. */
static int supervise(const exec_opts_t *o, pid_t pid, double t0, exec_result_t *res)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < NFWD; i++)
        sigaddset(&set, forwarded[i]);
    sigaddset(&set, SIGCHLD);
    double deadline = o->timeout > 0 ? t0 + (double)o->timeout : 0;
    double kill_at = 0;
    int terms = 0, st;
    while (waitpid(pid, &st, WNOHANG) != pid) {
        double now = now_s(), next = now + 3600;
        if (deadline && !res->timed_out && now >= deadline) {
            log_warn("the command ran past its timeout of %ld s; sending SIGTERM", o->timeout);
            res->timed_out = 1;
            kill(-pid, SIGTERM);
            kill_at = now + (double)o->grace;
        }
        if (kill_at && now >= kill_at) {
            log_warn("the command is still running %ld s after SIGTERM; sending SIGKILL", o->grace);
            kill(-pid, SIGKILL);
            kill_at = 0;
        }
        if (deadline && !res->timed_out && deadline < next)
            next = deadline;
        if (kill_at && kill_at < next)
            next = kill_at;
        double wait = next - now < 0.001 ? 0.001 : next - now;
        struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
        siginfo_t si;
        int sig = sigtimedwait(&set, &si, &ts);
        if (sig < 0 || sig == SIGCHLD)
            continue;
        res->forwarded = 1;
        if ((sig == SIGTERM || sig == SIGINT) && ++terms >= 2) {
            log_warn("second %s: sending SIGKILL to the command", strsignal(sig));
            kill(-pid, SIGKILL);
            continue;
        }
        if ((sig == SIGTERM || sig == SIGINT) && !kill_at)
            kill_at = now_s() + (double)o->grace;
        log_info("forwarding %s to the command", strsignal(sig));
        if (kill(-pid, sig) != 0 && errno == ESRCH)
            log_warn("the command's process group is gone already");
    }
    return st;
}

/* The child said (through the pipe) that exec failed: why, as an error. */
static int not_started(const exec_opts_t *o, pid_t pid, int cerr, exec_result_t *res, ferr_t *err)
{
    int st;
    waitpid(pid, &st, 0);
    res->not_started = 1;
    res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 127;
    const char *what = o->command ? "/bin/sh" : o->argv[0];
    if (o->cwd && res->status == 126 && cerr != EACCES)
        return ferr_errno(err, FERR_NOTFOUND, cerr, "cannot run the command in %s", o->cwd);
    return ferr_errno(err, FERR_NOTFOUND, cerr, "cannot run %s", what);
}

int exec_run(const exec_opts_t *o, exec_result_t *res, ferr_t *err)
{
    memset(res, 0, sizeof *res);
    exec_block_signals();
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return ferr_errno(err, FERR_INTERNAL, errno, "pipe");
    fflush(NULL);
    double t0 = now_s();
    pid_t self = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return ferr_errno(err, FERR_INTERNAL, errno, "cannot start the command");
    }
    if (pid == 0) {
        close(pfd[0]);
        child(o, pfd[1], self);
    }
    close(pfd[1]);
    setpgid(pid, pid); /* also here, so a signal right away reaches the group */
    int wfd;
    pid_t watcher = watcher_start(pid, &wfd);
    if (watcher < 0)
        log_warn("cannot start the watcher that ends the command if ferry is killed");
    int cerr = 0;
    ssize_t got = read(pfd[0], &cerr, sizeof cerr); /* EOF at a successful exec */
    close(pfd[0]);
    if (got == (ssize_t)sizeof cerr) {
        int rc = not_started(o, pid, cerr, res, err);
        watcher_stop(watcher, wfd);
        return rc;
    }
    log_debug("command started, pid %d", (int)pid);
    int status = supervise(o, pid, t0, res);
    /* a finished command's leftovers (background jobs) do not outlive the run */
    if (kill(-pid, 0) == 0) {
        log_debug("stopping processes the command left running");
        kill(-pid, SIGKILL);
    }
    watcher_stop(watcher, wfd);
    res->seconds = now_s() - t0;
    if (WIFSIGNALED(status)) {
        res->signal = WTERMSIG(status);
        res->status = 128 + res->signal;
    } else {
        res->status = WEXITSTATUS(status);
    }
    return 0;
}
