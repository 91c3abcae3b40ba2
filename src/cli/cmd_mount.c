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
#include "store.h"
#include "xalloc.h"
#include "xfer.h"

/* --read-write: DIR is an output folder whose files go up as they are
 * closed; at the end what did not (still open, say) goes up too. */
static int mount_rw_by_hand(ctx_t *c, const datastore_t *ds, const char *label, const char *pre,
                            const char *dir, int conc, const sigset_t *set, ferr_t *err)
{
    rw_mount_t *m = NULL;
    if (mount_rw_start(&m, ds, pre, dir, label, err))
        return -1;
    printf("mounted %s at %s (writable: files go up to %s:%s as they are closed); Ctrl-C "
           "unmounts\n",
           label, dir, ds->name, pre);
    fflush(stdout);
    int sig = 0;
    sigwait(set, &sig);
    log_info("%s: unmounting", strsignal(sig));
    mount_rw_stop(m);
    store_t *s;
    if (store_open(&s, ds, err))
        return -1;
    xfer_opts_t o = {.overwrite = 1, .quick = 1, .concurrency = conc, .label = label};
    xfer_result_t r = {0};
    int rc = xfer_upload_dir(s, dir, pre, &o, &r, err);
    store_close(s);
    char *sum = xfer_summary("at the end, uploaded", &r);
    if (sum && (rc == 0 || err->code == FERR_TRANSFER))
        log_info("%s", sum);
    free(sum);
    xfer_result_free(&r);
    (void)c;
    return rc;
}

static int mount_ro_by_hand(const datastore_t *ds, const char *label, const char *pre,
                            const char *dir, int conc, args_t *a, const sigset_t *set, ferr_t *err)
{
    mount_opts_t o = {.label = label, .cache_dir = opt(a, "cache-dir"), .concurrency = conc};
    if (opt(a, "cache-size") && cache_parse_size(opt(a, "cache-size"), &o.disk_limit))
        return ferr_set(err, FERR_USAGE, "--cache-size: expected a size such as 10G or 500M");
    mount_t *m = NULL;
    if (mount_start(&m, ds, pre, 0, dir, &o, err))
        return -1;
    uint64_t files, bytes;
    mount_size(m, &files, &bytes);
    printf("mounted %s at %s (%llu files, read-only); Ctrl-C unmounts\n", label, dir,
           (unsigned long long)files);
    fflush(stdout);
    int sig = 0;
    sigwait(set, &sig);
    log_info("%s: unmounting", strsignal(sig));
    mount_stop(m, NULL, NULL);
    return 0;
}

static int cmd_mount(ctx_t *c, args_t *a, ferr_t *err)
{
    const char *why;
    if (!mount_available(&why))
        return ferr_set(err, FERR_UNSUPPORTED, "cannot mount here: %s", why);
    int rw = flag(a, "read-write");
    if (rw && (opt(a, "cache-dir") || opt(a, "cache-size")))
        return ferr_set(err, FERR_USAGE,
                        "--cache-dir and --cache-size are for read-only mounts: a writable "
                        "mount keeps its files in DIR");
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
    int rc = rw ? mount_rw_by_hand(c, ds, a->pos[0], pre, dir, conc, &set, err)
                : mount_ro_by_hand(ds, a->pos[0], pre, dir, conc, a, &set, err);
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

static const opt_spec_t mount_opts[] = {{"cache-dir", 0, 1},
                                        {"cache-size", 0, 1},
                                        {"concurrency", 'j', 1},
                                        {"read-write", 0, 0},
                                        HELP_OPT,
                                        {NULL, 0, 0}};

const command_t cli_mount_commands[] = {
    {"mount", cmd_mount, mount_opts, 2, 2, 1,
     "ferry mount NAME[:PREFIX] DIR [--read-write] [--cache-dir D] [--cache-size S] [-j N]",
     "Mounts the files of datastore NAME (those under PREFIX) at DIR, read-only, until\n"
     "Ctrl-C or SIGTERM. The listing is taken once, at the start; a file is read in 8 MiB\n"
     "blocks pinned to the listed version (one replaced meanwhile reads as an I/O error),\n"
     "fetched ahead of a sequential reader by N workers (default 8) into nameless files\n"
     "in D (default /tmp), gone when the mount ends; at most S of them (10G, 500M) are\n"
     "kept at once, those read longest ago going first.\n"
     "\n"
     "With --read-write, DIR is a writable folder instead (an output's rw_mount, by\n"
     "hand): what is written there stays in DIR, and a file goes up to NAME:PREFIX when\n"
     "it is closed after a write; at the end, what has not gone up yet does. Files\n"
     "already in the datastore are not shown: it is not a cloud file system.",
     NULL},
    {"unmount", cmd_unmount, cli_no_opts, 1, 1, 0, "ferry unmount DIR",
     "Unmounts a ferry mount at DIR (one left by a killed ferry, say), lazily.", NULL},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL}};
