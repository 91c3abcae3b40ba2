/* Inside the command line: the parsed words, the context a command runs
 * in, and the command tables each family of commands (cmd_*.c) exports.
 * cli.c dispatches; only it prints the one error at the end. */
#ifndef FERRY_CLI_INT_H
#define FERRY_CLI_INT_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "error.h"
#include "store.h"
#include "workspace.h"

/* Exit codes of every command but 'run' (which has its own, see run.h). */
enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

typedef struct opt_spec {
    const char *name;
    char shortc;
    int arg; /* takes a value */
} opt_spec_t;

#define MAX_SET 64
typedef struct args {
    char **pos;
    int npos;
    struct {
        const char *name;
        const char *val;
    } set[MAX_SET];
    int nset;
} args_t;

typedef struct ctx {
    const char *ws_flag;
    workspace_t *ws;
} ctx_t;

typedef struct command {
    const char *name;
    int (*fn)(ctx_t *c, args_t *a, ferr_t *err);
    const opt_spec_t *opts;
    int min_pos, max_pos; /* max -1: any */
    int needs_ws;         /* 0 none, 1 read, 2 write */
    const char *usage;
    const char *help;
    void (*more_help)(FILE *f); /* what the help says that a table knows */
} command_t;

/* clang-format off */
#define HELP_OPT {"help", 'h', 0}
/* In a spec: also every option a storage backend takes (with a value). */
#define BACKEND_OPTS {"*backend", 0, 1}
/* clang-format on */
extern const opt_spec_t cli_no_opts[];   /* --help only */
extern const opt_spec_t cli_json_opts[]; /* --json, --help */

/* The families' tables, each ending with a NULL name. */
extern const command_t cli_datastore_commands[];
extern const command_t cli_transfer_commands[];
extern const command_t cli_job_commands[];
extern const command_t cli_mount_commands[];
extern const command_t cli_data_commands[];
extern const command_t cli_submit_commands[];

/* Splits argv by spec into a (positionals and options). */
int cli_parse_args(int argc, char **argv, const opt_spec_t *spec, const char *cmd, args_t *a,
                   ferr_t *err);
/* An option's value (the last given), "" for a flag given, NULL when absent. */
const char *opt(const args_t *a, const char *name);
int flag(const args_t *a, const char *name);

/* Prints j (and frees it). */
void cli_print_json(cJSON *j);
const datastore_t *cli_need_datastore(ctx_t *c, const char *name, ferr_t *err);
int cli_open_store(ctx_t *c, const char *name, store_t **s, ferr_t *err);
/* A remote path from the command line, normalised; NULL (and err) when refused. */
char *cli_remote_arg(const char *v, const char *what, ferr_t *err);
/* --check-md5 MODE: sets the process's policy (store_set_check_md5). */
int cli_check_md5_arg(const args_t *a, ferr_t *err);
/* --concurrency N; 0 when not given. */
int cli_concurrency_arg(const args_t *a, int *out, ferr_t *err);

#endif
