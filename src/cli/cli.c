/* ferry's command line: global options, dispatch to the command families
 * (cli/cmd_*.c), help, and exit codes. Only this file prints the error a
 * command returns. */
#define _GNU_SOURCE
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"
#include "log.h"
#include "progress.h"
#include "run.h"
#include "workspace.h"
#include "xalloc.h"

static const command_t *const families[] = {cli_datastore_commands, cli_data_commands,
                                            cli_transfer_commands,  cli_job_commands,
                                            cli_submit_commands,    cli_mount_commands};

#define NFAMILIES (sizeof families / sizeof *families)
/* Every command of every family, in order. */
#define FOR_EACH_COMMAND(c)                                                                        \
    for (size_t f_ = 0; f_ < NFAMILIES; f_++)                                                      \
        for (const command_t *c = families[f_]; c->name; c++)

static void usage(FILE *f)
{
    fprintf(f,
            "ferry %s: stage a job's data, run it, carry its outputs back.\n"
            "\n"
            "usage: ferry [global options] COMMAND [args]\n"
            "\n"
            "commands:\n",
            FERRY_VERSION);
    FOR_EACH_COMMAND(c)
    fprintf(f, "  %s\n", c->usage);
    fprintf(f, "\n"
               "global options (before or after the command):\n"
               "  --workspace DIR    the workspace (else $FERRY_WORKSPACE, the nearest .ferry/\n"
               "                     upward, or $XDG_DATA_HOME/ferry)\n"
               "  -v, --verbose      more detail (repeat: -vv shows each request)\n"
               "  -q, --quiet        errors only (no progress, no summary)\n"
               "  --progress MODE    auto, bar, plain or none\n"
               "  -h, --help         help; 'ferry help COMMAND' for a command\n"
               "  --version\n");
}

/* No command matched: the overview, the datastore commands, or what was wrong. */
static int no_command(int n, char **w, int help)
{
    if (n == 0 || (n == 1 && !strcmp(w[0], "help"))) {
        usage(help || n ? stdout : stderr);
        return help || n ? EXIT_OK : EXIT_USAGE;
    }
    int group = !strcmp(w[0], "datastore") || !strcmp(w[0], "data");
    if (group && (n == 1 || w[1][0] == '-') && help) {
        printf("usage: ferry %s SUBCOMMAND [args]\n\n", w[0]);
        FOR_EACH_COMMAND(c)
        if (!strncmp(c->name, w[0], strlen(w[0])) && c->name[strlen(w[0])] == ' ')
            printf("  %s\n", c->usage);
        printf("\n'ferry %s SUBCOMMAND --help' describes each.\n", w[0]);
        return EXIT_OK;
    }
    /* through the log: what the user typed is escaped like any name */
    if (!strcmp(w[0], "datastore"))
        log_error("datastore: expected register, create, list, show, set-default, get-default "
                  "or remove");
    else if (!strcmp(w[0], "data"))
        log_error("data: expected create, list, show, archive or restore");
    else if (w[0][0] == '-' && w[0][1] && strcmp(w[0], "--"))
        log_error("unknown option %s (see 'ferry --help')", w[0]);
    else
        log_error("unknown command '%s' (see 'ferry --help')", w[0]);
    return EXIT_USAGE;
}

static const command_t *find_command(int argc, char **argv, int *used)
{
    if (argc < 1)
        return NULL;
    char two[128];
    if (argc >= 2 && (!strcmp(argv[0], "datastore") || !strcmp(argv[0], "data"))) {
        snprintf(two, sizeof two, "%s %s", argv[0], argv[1]);
        FOR_EACH_COMMAND(c)
        if (!strcmp(c->name, two)) {
            *used = 2;
            return c;
        }
    }
    FOR_EACH_COMMAND(c)
    if (!strcmp(c->name, argv[0])) {
        *used = 1;
        return c;
    }
    return NULL;
}

static int exit_code_for(const command_t *c, const ferr_t *err)
{
    if (!strcmp(c->name, "run"))
        return err->code == FERR_INTERNAL ? RUN_EXIT_INTERNAL : RUN_EXIT_CONFIG;
    switch (err->code) {
    case FERR_USAGE:
    case FERR_CONFIG:
        return EXIT_USAGE;
    default:
        return EXIT_FAILED;
    }
}

static void show_help(const command_t *cmd)
{
    printf("usage: %s\n\n%s\n", cmd->usage, cmd->help);
    if (cmd->more_help)
        cmd->more_help(stdout);
}

static int progress_arg(const char *v)
{
    progress_mode_t m;
    if (progress_mode_parse(v, &m)) {
        fprintf(stderr, "ferry: error: --progress: expected auto, bar, plain or none\n");
        return -1;
    }
    progress_set_default(m);
    return 0;
}

typedef struct globals {
    const char *ws_flag;
    int verbose, quiet, help;
    char **rest; /* the words that are not global options */
    int nrest;
} globals_t;

/* Global options may stand anywhere before "--". -1 with *code set when
 * ferry ends here (--version, a bad value). */
static int parse_globals(int argc, char **argv, globals_t *g, int *code)
{
    int after_dashdash = 0;
    g->rest = xcalloc((size_t)argc + 1, sizeof *g->rest);
    for (int i = 1; i < argc; i++) {
        char *t = argv[i];
        if (after_dashdash || !strcmp(t, "--")) {
            after_dashdash = 1;
            g->rest[g->nrest++] = t;
        } else if (!strcmp(t, "--workspace") || !strcmp(t, "--progress")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "ferry: error: %s needs a value\n", t);
                return *code = EXIT_USAGE, -1;
            }
            if (t[2] == 'w')
                g->ws_flag = argv[++i];
            else if (progress_arg(argv[++i]))
                return *code = EXIT_USAGE, -1;
        } else if (!strncmp(t, "--workspace=", 12)) {
            g->ws_flag = t + 12;
        } else if (!strncmp(t, "--progress=", 11)) {
            if (progress_arg(t + 11))
                return *code = EXIT_USAGE, -1;
        } else if (!strcmp(t, "--verbose")) {
            g->verbose++;
        } else if (t[0] == '-' && t[1] == 'v' && strspn(t + 1, "v") == strlen(t + 1)) {
            g->verbose += (int)strlen(t + 1);
        } else if (!strcmp(t, "-q") || !strcmp(t, "--quiet")) {
            g->quiet = 1;
        } else if (!strcmp(t, "--version") && !g->nrest) {
            /* before the command only: after it, a command's own --version */
            printf("ferry %s\n", FERRY_VERSION);
            return *code = EXIT_OK, -1;
        } else if (!strcmp(t, "-h") || !strcmp(t, "--help")) {
            g->help = 1;
        } else {
            g->rest[g->nrest++] = t;
        }
    }
    return 0;
}

/* Runs cmd with its words; its exit code. */
static int run_command(const command_t *cmd, const globals_t *g, int used)
{
    ferr_t err = FERR_INIT;
    args_t a = {.pos = xcalloc((size_t)g->nrest + 1, sizeof(char *))};
    ctx_t c = {.ws_flag = g->ws_flag};
    int rc = cli_parse_args(g->nrest - used, g->rest + used, cmd->opts, cmd->name, &a, &err);
    if (rc == 0 && flag(&a, "help")) {
        show_help(cmd);
        goto out;
    }
    if (rc == 0 && (a.npos < cmd->min_pos || (cmd->max_pos >= 0 && a.npos > cmd->max_pos)))
        rc = ferr_set(&err, FERR_USAGE, "usage: %s", cmd->usage);
    if (rc == 0 && cmd->needs_ws) {
        char *dir = NULL;
        rc = workspace_locate(&dir, g->ws_flag, &err);
        if (rc == 0) {
            rc = workspace_open(&c.ws, dir, cmd->needs_ws == 2, &err);
            log_debug("workspace %s", dir);
        }
        free(dir);
    }
    if (rc == 0)
        rc = cmd->fn(&c, &a, &err);
    if (rc == 0 || (rc > 0 && !strcmp(cmd->name, "run"))) {
        /* run returns its exit code itself, with a message when there is one */
        if (err.msg && (rc != 0 || !strcmp(cmd->name, "run")))
            log_error("%s", err.msg);
    } else {
        log_error("%s", err.msg ? err.msg : "failed");
        rc = exit_code_for(cmd, &err);
    }
out:
    workspace_close(c.ws);
    ferr_clear(&err);
    free(a.pos);
    return rc;
}

int cli_main(int argc, char **argv)
{
    globals_t g = {0};
    int code = EXIT_OK, used = 0;
    if (parse_globals(argc, argv, &g, &code)) {
        free(g.rest);
        return code;
    }
    log_set_verbosity(g.quiet, g.verbose);
    /* "ferry help CMD" is "ferry CMD --help" */
    int skip = g.nrest >= 2 && !strcmp(g.rest[0], "help");
    const command_t *cmd = find_command(g.nrest - skip, g.rest + skip, &used);
    if (skip)
        g.help = 1;
    if (!cmd)
        code = no_command(g.nrest - skip, g.rest + skip, g.help);
    else if (g.help)
        show_help(cmd);
    else
        code = run_command(cmd, &g, used + skip);
    free(g.rest);
    return code;
}
