/* The workspace's registry of datastores: made on first use with its
 * default, kept in datastores.json across opens, names checked, the default
 * and stored secrets handled; and datastores from Azure ML YAML. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doc.h"
#include "path.h"
#include "store.h"
#include "tap.h"
#include "workspace.h"

static datastore_t *blob(const char *name)
{
    datastore_t *ds = datastore_new(name, store_backend_find("azure_blob"));
    ds->account = strdup("acct");
    ds->container = strdup("data");
    ds->endpoint = strdup("core.windows.net");
    ds->protocol = strdup("https");
    ds->cred_kind = CRED_ACCOUNT_KEY;
    ds->cred_source = CRED_FROM_ENV;
    ds->cred_ref = strdup("MY_KEY");
    return ds;
}

static void registry(const char *dir)
{
    workspace_t *ws = NULL;
    ferr_t e = FERR_INIT;
    OK(workspace_open(&ws, dir, 1, &e) == 0, "a new workspace is made");
    if (!ws)
        return;
    OK(workspace_count(ws) == 1 && !strcmp(workspace_default(ws), WS_DEFAULT_DATASTORE),
       "with its default datastore, a local folder");
    const datastore_t *def = workspace_find(ws, WS_DEFAULT_DATASTORE);
    OK(def && !strcmp(datastore_type_name(def), "local") && def->root &&
           !strncmp(def->root, dir, strlen(dir)),
       "inside the workspace");
    OK(workspace_add(ws, blob("az"), 0, &e) == 0, "a blob datastore is added");
    datastore_t *again = blob("az");
    OK(workspace_add(ws, again, 0, &e) != 0 && e.code == FERR_EXISTS, "a taken name is refused");
    datastore_free(again);
    datastore_t *bad = blob("bad name");
    OK(workspace_add(ws, bad, 0, &e) != 0 && e.code == FERR_USAGE, "a bad name is refused: %s",
       e.msg);
    datastore_free(bad);
    bad = blob("acct2");
    free(bad->container);
    bad->container = strdup("No_Such");
    OK(workspace_add(ws, bad, 0, &e) != 0 && strstr(e.msg, "container name 'No_Such'"),
       "the backend's rules apply: %s", e.msg);
    datastore_free(bad);
    OK(workspace_set_default(ws, "az", &e) == 0, "the default can change");
    workspace_close(ws);

    OK(workspace_open(&ws, dir, 0, &e) == 0, "the workspace opens again");
    const datastore_t *az = ws ? workspace_find(ws, "az") : NULL;
    OK(az && !strcmp(az->container, "data") && az->cred_kind == CRED_ACCOUNT_KEY &&
           !strcmp(az->cred_ref, "MY_KEY") && !strcmp(datastore_type_name(az), "azure_blob"),
       "and holds what was saved");
    OK(ws && !strcmp(workspace_default(ws), "az"), "with its default");
    workspace_close(ws);

    char *reg = path_join(dir, "datastores.json");
    FILE *f = fopen(reg, "w");
    fputs("{\"datastores\": [{\"name\": \"x\", \"type\": \"nosuch\"}]}", f);
    fclose(f);
    OK(workspace_open(&ws, dir, 0, &e) != 0 && strstr(e.msg, "damaged"),
       "a registry with an unknown type is called damaged: %s", e.msg);
    free(reg);
    ferr_clear(&e);
}

static void yaml(void)
{
    static const char text[] = "name: files1\n"
                               "type: azure_file\n"
                               "account_name: acct\n"
                               "file_share_name: share1\n"
                               "credentials:\n"
                               "  sas_token: \"sv=1&sig=abc\"\n";
    doc_t *d = NULL;
    ferr_t e = FERR_INIT;
    datastore_t *ds = NULL;
    char *secret = NULL;
    OK(doc_load_mem(&d, "files.yml", text, sizeof text - 1, 0, &e) == 0, "datastore YAML loads");
    OK(d && datastore_from_doc(&ds, &secret, d, "/tmp", &e) == 0, "an Azure Files datastore");
    OK(ds && !strcmp(ds->container, "share1") && ds->cred_kind == CRED_SAS_TOKEN,
       "with its share (file_share_name) and SAS token kind");
    STREQ(secret, "sv=1&sig=abc", "the inline secret is handed back, not kept in the datastore");
    datastore_free(ds);
    free(secret);
    doc_free(d);
    static const char bad[] = "name: x\ntype: azure_blob\naccount_name: acct\nroot: /tmp\n";
    OK(doc_load_mem(&d, "bad.yml", bad, sizeof bad - 1, 0, &e) == 0 &&
           datastore_from_doc(&ds, &secret, d, "/tmp", &e) != 0 &&
           strstr(e.msg, "bad.yml:4:7: root"),
       "a root on a blob datastore is refused with its place: %s", e.msg);
    doc_free(d);
    ferr_clear(&e);
}

int main(void)
{
    char dir[] = "/tmp/ferry-unit-ws.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    registry(dir);
    yaml();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    TAP_DONE();
}
