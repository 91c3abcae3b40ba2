/* A plan: a job resolved against a workspace. Inputs and outputs find their
 * datastores (by name, or a URL by the place it reaches), get local paths
 * in the work dir, and the command and environment get every reference. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job.h"
#include "plan.h"
#include "store.h"
#include "tap.h"
#include "workspace.h"

static const char job_text[] =
    "command: python train.py --data ${{inputs.data}} --lr ${{inputs.lr}} --out "
    "${{outputs.model}}\n"
    "environment_variables: {RUN: \"${{name}}\"}\n"
    "inputs:\n"
    "  data: {type: uri_folder, path: \"azureml://datastores/workspaceblobstore/paths/train/\", "
    "mode: download}\n"
    "  lr: 0.01\n"
    "  url: {type: uri_file, path: \"https://acct.blob.core.windows.net/data/x/y.csv\", mode: "
    "download}\n"
    "outputs:\n"
    "  model: {type: uri_folder, mode: upload}\n";

static const char *env_of(const plan_t *p, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < p->nenv; i++)
        if (!strncmp(p->env[i], name, nl) && p->env[i][nl] == '=')
            return p->env[i] + nl + 1;
    return NULL;
}

int main(void)
{
    char dir[] = "/tmp/ferry-unit-plan.XXXXXX";
    if (!mkdtemp(dir) || chdir(dir))
        return 1;
    workspace_t *ws = NULL;
    ferr_t e = FERR_INIT;
    OK(workspace_open(&ws, "ws", 1, &e) == 0, "a workspace");
    datastore_t *az = datastore_new("az", store_backend_find("azure_blob"));
    az->account = strdup("acct");
    az->container = strdup("data");
    az->endpoint = strdup("core.windows.net");
    az->protocol = strdup("https");
    OK(ws && workspace_add(ws, az, 0, &e) == 0, "with a blob datastore az");
    job_t *j = NULL;
    OK(job_load_mem(&j, "job.yml", job_text, sizeof job_text - 1, &e) == 0, "a v2 job: %s",
       e.msg ? e.msg : "");
    plan_t *p = NULL;
    plan_opts_t po = {.run_id = "r1"};
    OK(j && plan_build(&p, j, ws, &po, &e) == 0, "it plans: %s", e.msg ? e.msg : "");
    if (!p)
        TAP_DONE();
    OK(p->ninputs == 3 && p->noutputs == 1, "three inputs, one output");
    const plan_io_t *data = &p->inputs[0], *lr = &p->inputs[1], *url = &p->inputs[2];
    OK(data->ds && !strcmp(data->ds->name, "workspaceblobstore") && !strcmp(data->remote, "train"),
       "a datastore URI finds its datastore and path");
    OK(data->local && strstr(data->local, "/runs/r1/") != NULL, "and a local path in the work dir");
    OK(lr->type == IO_LITERAL && !strcmp(lr->value, "0.01"), "a literal stays a value");
    OK(url->ds && !strcmp(url->ds->name, "az") && !url->adhoc && !strcmp(url->remote, "x/y.csv"),
       "a blob URL of a registered container uses that datastore (and its credential)");
    const plan_io_t *model = &p->outputs[0];
    OK(model->ds && !strcmp(model->ds->name, workspace_default(ws)),
       "an output without a path goes to the default datastore");
    OK(model->remote && strstr(model->remote, "r1") != NULL, "under the run's id (%s)",
       model->remote ? model->remote : "");
    OK(p->command && strstr(p->command, "--lr 0.01") && strstr(p->command, data->local) &&
           strstr(p->command, model->local),
       "the command gets the literal and the local paths");
    const char *run = env_of(p, "RUN");
    OK(run && !strcmp(run, "r1"),
       "the environment gets its references too (${{name}}: the run id)");
    OK(env_of(p, "AZURE_ML_INPUT_data") && env_of(p, "AZUREML_DATAREFERENCE_model") &&
           !strcmp(env_of(p, "AZUREML_RUN_ID"), "r1"),
       "and Azure ML's own variables");
    plan_free(p);
    po.run_id = "../escape";
    OK(plan_build(&p, j, ws, &po, &e) != 0 && e.code == FERR_USAGE,
       "a run id with '/' or '..' is refused");
    job_free(j);
    static const char unknown[] =
        "command: echo ${{inputs.data}}\n"
        "inputs:\n  data: {path: \"azureml://datastores/nope/paths/x\"}\n";
    OK(job_load_mem(&j, "u.yml", unknown, sizeof unknown - 1, &e) == 0 &&
           plan_build(&p, j, ws, &(plan_opts_t){0}, &e) != 0 && e.code == FERR_NOTFOUND &&
           strstr(e.msg, "u.yml:3:") && strstr(e.msg, "unknown datastore 'nope'"),
       "an unknown datastore is named, with its place: %s", e.msg ? e.msg : "");
    job_free(j);
    workspace_close(ws);
    ferr_clear(&e);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    TAP_DONE();
}
