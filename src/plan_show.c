/* A plan shown: for people (ferry plan, run --dry-run) and as JSON. */
#define _GNU_SOURCE
#include "plan.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mount.h"
#include "store.h"
#include "xalloc.h"

static const char *mode_note(const plan_io_t *io)
{
    const char *why;
    if (io->shard)
        return "sharded: this rank stages its part of the files only";
    if (io->node_shared && io->asked == MODE_RO_MOUNT && io->mode == MODE_DOWNLOAD)
        return "downloaded once for every rank on this node (a mount would end with its rank)";
    if (io->unpack)
        return "an archive: extracted into the folder as it is read (unpack: true)";
    if (io->archive)
        return "packed into one archive object (<name>.<format>) as it is uploaded";
    if (io->asked == MODE_RO_MOUNT && io->mode == MODE_DOWNLOAD && !mount_available(&why))
        return "ro_mount asked, but FUSE cannot be had here, so it is downloaded";
    if (io->asked == MODE_RW_MOUNT && io->mode == MODE_UPLOAD && !io->mode_given)
        return "rw_mount, the default: uploaded at the end (say mode: rw_mount to mount)";
    if (io->asked == MODE_RW_MOUNT && io->mode == MODE_UPLOAD)
        return io->type == IO_URI_FOLDER && io->mode_given && mount_available(&why)
                   ? "rw_mount: a writable mount; files go up as they are closed, and all at "
                     "the end"
                   : "rw_mount asked, but it cannot be mounted here, so it is uploaded at the end";
    if (io->in_place)
        return "a local path, used where it is";
    return NULL;
}

cJSON *plan_io_json_head(const plan_io_t *io)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", io->name);
    cJSON_AddStringToObject(o, "type", plan_io_type(io));
    if (io->type == IO_LITERAL) {
        cJSON_AddStringToObject(o, "value", io->value);
        return o;
    }
    cJSON_AddStringToObject(o, "mode", job_mode_name(io->mode));
    if (io->asset)
        cJSON_AddStringToObject(o, "asset", io->asset);
    return o;
}

static cJSON *io_json(const plan_io_t *io)
{
    cJSON *o = plan_io_json_head(io);
    if (io->type == IO_LITERAL)
        return o;
    cJSON_AddStringToObject(o, "asked_mode", job_mode_name(io->asked));
    if (io->uri)
        cJSON_AddStringToObject(o, "uri", io->uri);
    if (io->asset_name) {
        cJSON *r = cJSON_AddObjectToObject(o, "registers");
        cJSON_AddStringToObject(r, "name", io->asset_name);
        if (io->asset_version)
            cJSON_AddStringToObject(r, "version", io->asset_version);
    }
    if (io->env_name)
        cJSON_AddStringToObject(o, "environment_variable", io->env_name);
    if (io->unpack)
        cJSON_AddBoolToObject(o, "unpack", 1);
    if (io->archive)
        cJSON_AddStringToObject(o, "archive", io->archive);
    if (io->shard)
        cJSON_AddStringToObject(o, "shard", io->shard == SHARD_BY_BYTES ? "by_bytes" : "by_files");
    if (io->node_shared)
        cJSON_AddBoolToObject(o, "node_shared", 1);
    if (io->ds && !io->adhoc) {
        cJSON_AddStringToObject(o, "datastore", io->ds->name);
        cJSON_AddStringToObject(o, "datastore_type", datastore_type_name(io->ds));
    }
    if (io->remote && !io->adhoc)
        cJSON_AddStringToObject(o, "path_on_datastore", io->remote);
    if (io->local)
        cJSON_AddStringToObject(o, "local_path", io->local);
    cJSON_AddStringToObject(o, "value", io->value ? io->value : "");
    cJSON_AddBoolToObject(o, "overwrite", io->overwrite);
    const char *note = mode_note(io);
    if (note)
        cJSON_AddStringToObject(o, "note", note);
    return o;
}

cJSON *plan_to_json(const plan_t *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "run_id", p->run_id);
    cJSON_AddItemToObject(o, "rank", rank_to_json(&p->rank));
    cJSON_AddStringToObject(o, "job_file", p->job->file);
    cJSON_AddStringToObject(o, "format", job_format_name(p->job->format));
    cJSON_AddStringToObject(o, "work_dir", p->work_dir);
    cJSON_AddStringToObject(o, "cwd", p->cwd);
    if (p->command)
        cJSON_AddStringToObject(o, "command", p->command);
    if (p->argv)
        cJSON_AddItemToObject(o, "argv",
                              cJSON_CreateStringArray((const char *const *)p->argv, (int)p->argc));
    if (p->timeout)
        cJSON_AddNumberToObject(o, "timeout_seconds", (double)p->timeout);
    cJSON *in = cJSON_AddArrayToObject(o, "inputs");
    for (size_t i = 0; i < p->ninputs; i++)
        cJSON_AddItemToArray(in, io_json(&p->inputs[i]));
    cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
    for (size_t i = 0; i < p->noutputs; i++)
        cJSON_AddItemToArray(outs, io_json(&p->outputs[i]));
    cJSON *env = cJSON_AddObjectToObject(o, "environment");
    for (size_t i = 0; i < p->nenv; i++) {
        char *eq = strchr(p->env[i], '=');
        char *k = xstrndup(p->env[i], (size_t)(eq - p->env[i]));
        cJSON_AddStringToObject(env, k, eq + 1);
        free(k);
    }
    cJSON_AddItemToObject(
        o, "ignored_keys",
        cJSON_CreateStringArray((const char *const *)p->job->ignored, (int)p->job->nignored));
    return o;
}

/* s quoted for a POSIX shell: as is when it is made of safe characters,
 * else in single quotes, each ' written as '\'' */
static int shell_quote(char **buf, size_t *len, size_t *cap, const char *s)
{
    int plain = *s != 0;
    for (const char *c = s; *c && plain; c++)
        plain = isalnum((unsigned char)*c) || strchr("@%+=:,./_-", *c);
    size_t need = *len + 4 * strlen(s) + 4;
    if (need > *cap) {
        char *n = xrealloc(*buf, need * 2);
        *buf = n;
        *cap = need * 2;
    }
    char *o = *buf + *len;
    if (*len)
        *o++ = ' ';
    if (!plain)
        *o++ = '\'';
    for (const char *c = s; *c; c++) {
        if (*c == '\'' && !plain) {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else {
            *o++ = *c;
        }
    }
    if (!plain)
        *o++ = '\'';
    *o = 0;
    *len = (size_t)(o - *buf);
    return 0;
}

char *plan_command_line(const plan_t *p)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (p->command) {
        const char *words[] = {"/bin/sh", "-c", p->command};
        for (size_t i = 0; i < 3; i++)
            if (shell_quote(&buf, &len, &cap, words[i]))
                goto oom;
    } else {
        for (size_t i = 0; i < p->argc; i++)
            if (shell_quote(&buf, &len, &cap, p->argv[i]))
                goto oom;
    }
    return buf ? buf : xstrdup("");
oom:
    free(buf);
    return NULL;
}

static void print_io(FILE *f, const plan_io_t *io, int input)
{
    if (io->type == IO_LITERAL) {
        fprintf(f, "  %s = %s\n", io->name, io->value);
        return;
    }
    fprintf(f, "  %s (%s, %s)\n", io->name, plan_io_type(io), job_mode_name(io->mode));
    if (io->asset)
        fprintf(f, "      data %s\n", io->asset);
    const char *where = io->ds && !io->adhoc ? io->ds->name : NULL;
    if (input) {
        fprintf(f, "      from %s", io->uri);
        if (where)
            fprintf(f, "  [datastore %s, %s]", where, datastore_type_name(io->ds));
        else if (io->adhoc && (store_backend_caps(io->adhoc->backend) & STORE_CAP_REMOTE))
            fprintf(f, "  [no datastore: anonymous]");
        fprintf(f, "\n      to   %s\n", io->local ? io->local : "(passed as written)");
    } else {
        fprintf(f, "      from %s\n      to   %s  [%s%s, %s]\n", io->local, io->uri,
                where ? "datastore " : "", where ? where : "no datastore: anonymous",
                datastore_type_name(io->ds));
    }
    if (io->asset_name)
        fprintf(f, "      then registered as data asset %s:%s\n", io->asset_name,
                io->asset_version ? io->asset_version : "<next version>");
    const char *note = mode_note(io);
    if (note)
        fprintf(f, "      note: %s\n", note);
}

void plan_print(const plan_t *p, FILE *f)
{
    fprintf(f, "job:      %s (%s)\n", p->job->file, job_format_name(p->job->format));
    fprintf(f, "run id:   %s\n", p->run_id);
    fprintf(f, "work dir: %s\n", p->work_dir);
    if (p->rank.known)
        fprintf(f, "rank:     %d of %d (%s; local rank %d of %d on node %d of %d)%s%s\n",
                p->rank.rank, p->rank.world, p->rank.from, p->rank.local_rank, p->rank.local_world,
                p->rank.node, p->rank.nodes, p->node_dir ? "; the node's inputs in " : "",
                p->node_dir ? p->node_dir : "");
    fprintf(f, "runs in:  %s\n", p->cwd);
    char *line = plan_command_line(p);
    fprintf(f, "command:  %s\n", line ? line : "(out of memory)");
    free(line);
    if (p->timeout)
        fprintf(f, "timeout:  %ld s\n", p->timeout);
    fprintf(f, "inputs:%s\n", p->ninputs ? "" : " none");
    for (size_t i = 0; i < p->ninputs; i++)
        print_io(f, &p->inputs[i], 1);
    fprintf(f, "outputs:%s\n", p->noutputs ? "" : " none");
    for (size_t i = 0; i < p->noutputs; i++)
        print_io(f, &p->outputs[i], 0);
    fprintf(f, "environment:\n");
    for (size_t i = 0; i < p->nenv; i++)
        fprintf(f, "  %s\n", p->env[i]);
    if (p->job->nignored) {
        fprintf(f, "ignored (for the Azure ML service):");
        for (size_t i = 0; i < p->job->nignored; i++)
            fprintf(f, "%s %s", i ? "," : "", p->job->ignored[i]);
        fputc('\n', f);
    }
}
