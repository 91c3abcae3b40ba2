/* ferry mount / ferry unmount: a datastore's files as a read-only folder,
 * by hand, in the foreground until Ctrl-C or SIGTERM. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "cli/cli_int.h"
#include "log.h"
#include "mount.h"
#include "path.h"
#include "xalloc.h"

static int cmd_mount(ctx_t *c, args_t *a, ferr_t *err)
{
    const char *why;
    if (!mount_available(&why))
        return ferr_set(err, FERR_UNSUPPORTED, "cannot mount here: %s", why);
    char *name = xstrdup(a->pos[0]), *colon = strchr(name, ':');
    const char *prefix = colon ? colon + 1 : "";
    if (colon)
        *colon = 0;
    const datastore_t *ds = cli_need_datastore(c, name, err);
    int conc = 0;
    if (!ds || cli_concurrency_arg(a, &conc, err)) {
        free(name);
        return -1;
    }
    char *dir = path_absolute(a->pos[1], NULL);
    char *pre =
        *prefix && prefix[strlen(prefix) - 1] != '/' ? xasprintf("%s/", prefix) : xstrdup(prefix);
    /* the signals that end the mount wait for sigwait, in every thread */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    mount_opts_t o = {.label = name, .cache_dir = opt(a, "cache-dir"), .concurrency = conc};
    if (opt(a, "cache-size") && cache_parse_size(opt(a, "cache-size"), &o.disk_limit)) {
        free(pre);
        free(dir);
        free(name);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        return ferr_set(err, FERR_USAGE, "--cache-size: expected a size such as 10G or 500M");
    }
    mount_t *m = NULL;
    int rc = mount_start(&m, ds, pre, 0, dir, &o, err);
    if (rc == 0) {
        uint64_t files, bytes;
        mount_size(m, &files, &bytes);
        printf("mounted %s at %s (%llu files, read-only); Ctrl-C unmounts\n", a->pos[0], dir,
               (unsigned long long)files);
        fflush(stdout);
        int sig = 0;
        sigwait(&set, &sig);
        log_info("%s: unmounting", strsignal(sig));
        mount_stop(m, NULL, NULL);
    }
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    free(pre);
    free(dir);
    free(name);
    return rc;
}

static int cmd_unmount(ctx_t *c, args_t *a, ferr_t *err)
{
    (void)c;
    char *dir = path_absolute(a->pos[0], NULL);
    int rc = mount_clear_stale(dir, err);
    if (rc == 0)
        rc = ferr_set(err, FERR_NOTFOUND, "no ferry mount at %s", dir);
    else if (rc > 0)
        printf("unmounted %s\n", dir);
    free(dir);
    return rc < 0 ? -1 : rc == 0 ? -1 : 0;
}

static const opt_spec_t mount_opts[] = {
    {"cache-dir", 0, 1}, {"cache-size", 0, 1}, {"concurrency", 'j', 1}, HELP_OPT, {NULL, 0, 0}};

const command_t cli_mount_commands[] = {
    {"mount", cmd_mount, mount_opts, 2, 2, 1,
     "ferry mount NAME[:PREFIX] DIR [--cache-dir D] [--cache-size S] [-j N]",
     "Mounts the files of datastore NAME (those under PREFIX) at DIR, read-only, until\n"
     "Ctrl-C or SIGTERM. The listing is taken once, at the start; a file is read in 4 MiB\n"
     "blocks pinned to the listed version (one replaced meanwhile reads as an I/O error),\n"
     "fetched ahead of a sequential reader by N workers (default 8) into nameless files\n"
     "in D (default /tmp), gone when the mount ends; at most S of them (10G, 500M) are\n"
     "kept at once, those read longest ago going first.",
     NULL},
    {"unmount", cmd_unmount, cli_no_opts, 1, 1, 0, "ferry unmount DIR",
     "Unmounts a ferry mount at DIR (one left by a killed ferry, say), lazily.", NULL},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL}};
