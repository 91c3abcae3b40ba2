/* The forms a job names data by. */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "http.h"
#include "store/azure/url.h"
#include "uri.h"

int main(void)
{
    uri_t u;
    const char *why;
    OK(uri_parse("azureml://datastores/workspaceblobstore/paths/a/b/", &u, &why) == 0 &&
           u.kind == URI_DATASTORE && !strcmp(u.datastore, "workspaceblobstore") &&
           !strcmp(u.path, "a/b/"),
       "short datastore URI");
    uri_dispose(&u);
    OK(uri_parse("azureml://subscriptions/s/resourcegroups/rg/workspaces/w/datastores/ds/paths/"
                 "x",
                 &u, &why) == 0 &&
           u.kind == URI_DATASTORE && !strcmp(u.datastore, "ds") && !strcmp(u.path, "x"),
       "long datastore URI");
    uri_dispose(&u);
    OK(uri_parse("azureml://datastores/ds", &u, &why) != 0 && why, "missing /paths/ refused");
    OK(uri_parse("azureml://datastores//paths/x", &u, &why) != 0, "empty datastore refused");
    OK(uri_parse("azureml:mydata:1", &u, &why) == 0 && u.kind == URI_ASSET &&
           !strcmp(u.name, "mydata") && !strcmp(u.version, "1"),
       "data asset: name and version");
    uri_dispose(&u);
    OK(uri_parse("azureml:my.data-2@latest", &u, &why) == 0 && u.kind == URI_ASSET &&
           !strcmp(u.name, "my.data-2") && !u.version,
       "@latest: no version");
    uri_dispose(&u);
    OK(uri_parse("azureml:mydata@prod", &u, &why) != 0 && why, "another label refused");
    OK(uri_parse("azureml:mydata:", &u, &why) != 0, "an empty version refused");
    OK(uri_parse("azureml:-x:1", &u, &why) != 0, "a name starting with '-' refused");
    OK(uri_parse("azureml://subscriptions/s/resourcegroups/rg/workspaces/w/data/iris/versions/3",
                 &u, &why) == 0 &&
           u.kind == URI_ASSET && !strcmp(u.name, "iris") && !strcmp(u.version, "3"),
       "the long asset form");
    uri_dispose(&u);
    OK(uri_parse("azureml://locations/westus/workspaces/abc/data/iris/versions/2", &u, &why) == 0 &&
           u.kind == URI_ASSET && !strcmp(u.version, "2"),
       "the asset id form");
    uri_dispose(&u);
    OK(uri_parse("azureml:/subscriptions/s/resourceGroups/rg/providers/"
                 "Microsoft.MachineLearningServices/workspaces/w/data/iris/versions/1",
                 &u, &why) == 0 &&
           u.kind == URI_ASSET && !strcmp(u.name, "iris"),
       "the ARM id form");
    uri_dispose(&u);
    OK(uri_parse("azureml://registries/r/data/iris/versions/1", &u, &why) != 0 && why,
       "a registry's asset refused, saying why");
    OK(uri_parse("azureml://subscriptions/s/resourcegroups/rg/workspaces/w/data/iris", &u, &why) !=
           0,
       "a long form without versions refused");
    OK(uri_parse("azureml://jobs/run-1/outputs/model", &u, &why) == 0 && u.kind == URI_JOB &&
           !strcmp(u.run_id, "run-1") && !strcmp(u.name, "model") && !*u.path,
       "a run's output");
    uri_dispose(&u);
    OK(uri_parse("azureml://jobs/run-1/outputs/model/paths/a/b.txt", &u, &why) == 0 &&
           u.kind == URI_JOB && !strcmp(u.path, "a/b.txt"),
       "a path inside a run's output");
    uri_dispose(&u);
    OK(uri_parse("azureml://jobs/run-1/model", &u, &why) != 0, "jobs/ without outputs/ refused");
    OK(uri_parse("runs:/run-1/model/w/x.pkl", &u, &why) == 0 && u.kind == URI_JOB &&
           !strcmp(u.name, "model") && !strcmp(u.path, "w/x.pkl"),
       "MLflow's runs:/ form");
    uri_dispose(&u);
    OK(uri_parse("azureml://elsewhere/x", &u, &why) != 0 && why,
       "an unknown azureml:// form refused");
    OK(uri_parse("https://acct.blob.core.windows.net/c/p", &u, &why) == 0 && u.kind == URI_URL &&
           !strcmp(u.scheme, "https"),
       "https URL");
    uri_dispose(&u);
    OK(uri_parse("wasbs://c@acct.blob.core.windows.net/p", &u, &why) == 0 && u.kind == URI_URL,
       "wasbs URL");
    uri_dispose(&u);
    OK(uri_parse("file:///data/x", &u, &why) == 0 && u.kind == URI_LOCAL &&
           !strcmp(u.path, "/data/x"),
       "file URI");
    uri_dispose(&u);
    OK(uri_parse("file://host/x", &u, &why) != 0, "file URI with a host refused");
    OK(uri_parse("./data", &u, &why) == 0 && u.kind == URI_LOCAL && !strcmp(u.path, "./data"),
       "relative local path");
    uri_dispose(&u);
    OK(uri_parse("", &u, &why) != 0, "empty refused");

    azure_url_t b;
    OK(azure_url_parse("https://acct.blob.core.windows.net/cont/a/b%20c.txt", "blob", &b, &why) ==
               0 &&
           !strcmp(b.account, "acct") && !strcmp(b.container, "cont") &&
           !strcmp(b.endpoint, "core.windows.net") && !strcmp(b.path, "a/b c.txt") &&
           !strcmp(b.protocol, "https") && !b.account_url,
       "https blob URL: account, container, endpoint, decoded path");
    azure_url_dispose(&b);
    OK(azure_url_parse("wasbs://cont@acct.blob.core.chinacloudapi.cn/dir/f", "blob", &b, &why) ==
               0 &&
           !strcmp(b.account, "acct") && !strcmp(b.container, "cont") &&
           !strcmp(b.endpoint, "core.chinacloudapi.cn") && !strcmp(b.path, "dir/f") &&
           !strcmp(b.protocol, "https"),
       "wasbs URL in another cloud");
    azure_url_dispose(&b);
    OK(azure_url_parse("wasb://cont@acct.blob.core.windows.net/", "blob", &b, &why) == 0 &&
           !strcmp(b.protocol, "http") && !strcmp(b.path, ""),
       "wasb is plain http; the container root");
    azure_url_dispose(&b);
    OK(azure_url_parse("http://127.0.0.1:10000/devstoreaccount1/data/x/y", "blob", &b, &why) == 0 &&
           !strcmp(b.account, "devstoreaccount1") && !strcmp(b.container, "data") &&
           !strcmp(b.path, "x/y") &&
           !strcmp(b.account_url, "http://127.0.0.1:10000/devstoreaccount1") && !b.endpoint,
       "path-style emulator URL");
    azure_url_dispose(&b);
    OK(azure_url_parse("https://example.com/x", "blob", &b, &why) == -2,
       "a host of no storage service is not the blob backend's");
    OK(azure_url_parse("https://acct.file.core.windows.net/share/d/f.txt", "blob", &b, &why) == -2,
       "a file-share URL is not the blob backend's");
    OK(azure_url_parse("https://acct.file.core.windows.net/share/d/f%20g.txt", "file", &b, &why) ==
               0 &&
           !strcmp(b.account, "acct") && !strcmp(b.container, "share") &&
           !strcmp(b.endpoint, "core.windows.net") && !strcmp(b.path, "d/f g.txt"),
       "a file-share URL is the file backend's");
    azure_url_dispose(&b);
    OK(azure_url_parse("http://127.0.0.1:10000/devstoreaccount1/share/x", "file", &b, &why) == -2,
       "an emulator's path-style URL is taken by the blob backend only");
    OK(azure_url_parse("wasbs://c@acct.file.core.windows.net/x", "file", &b, &why) == -2,
       "wasbs is a blob form only");
    OK(azure_url_parse("abfss://fs@acct.dfs.core.windows.net/d/f.parquet", "dfs", &b, &why) == 0 &&
           !strcmp(b.container, "fs") && !strcmp(b.account, "acct") &&
           !strcmp(b.protocol, "https") && !strcmp(b.path, "d/f.parquet"),
       "abfss:// is the dfs service's");
    azure_url_dispose(&b);
    OK(azure_url_parse("https://acct.dfs.core.windows.net/fs/x", "dfs", &b, &why) == 0 &&
           !strcmp(b.container, "fs"),
       "so is https://<account>.dfs...");
    azure_url_dispose(&b);
    OK(azure_url_parse("abfss://fs@acct.dfs.core.windows.net/x", "blob", &b, &why) == -2,
       "abfss is not a blob form");
    OK(azure_url_parse("abfss://fs@example.com/x", "dfs", &b, &why) == -1 && why,
       "abfss on a host that is not a dfs host is wrong");
    OK(azure_url_parse("wasbs://c@example.com/x", "blob", &b, &why) == -1 && why,
       "wasbs on a host that is not a blob host is wrong, not another backend's");
    OK(azure_url_parse("https://acct.blob.core.windows.net/c/x?sv=1&sig=2", "blob", &b, &why) != 0,
       "a query string (a SAS) in a job file's URL is refused");
    OK(azure_url_parse("wasbs://acct.blob.core.windows.net/x", "blob", &b, &why) != 0,
       "wasbs without a container is refused");
    /* the one percent-decoder (libcurl's) every parser uses */
    char *d = http_unescape("a%2Fb%20c", 9);
    STREQ(d, "a/b c", "percent escapes are decoded");
    free(d);
    d = http_unescape("100%zz%", 7);
    STREQ(d, "100%zz%", "a %% without two hex digits stays as it is");
    free(d);
    d = http_unescape("x%00y", 5);
    STREQ(d, "x\x01y", "an encoded NUL becomes a control character, never the end of the name");
    free(d);
    TAP_DONE();
}
