/* The forms a job names data by. */
#include <stdlib.h>

#include "tap.h"
#include "http.h"
#include "store/azure/blob_url.h"
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
    OK(uri_parse("azureml:mydata:1", &u, &why) == 0 && u.kind == URI_ASSET, "data asset");
    uri_dispose(&u);
    OK(uri_parse("azureml:mydata@latest", &u, &why) == 0 && u.kind == URI_ASSET, "asset label");
    uri_dispose(&u);
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

    blob_url_t b;
    OK(uri_blob_parse("https://acct.blob.core.windows.net/cont/a/b%20c.txt", &b, &why) == 0 &&
           !strcmp(b.account, "acct") && !strcmp(b.container, "cont") &&
           !strcmp(b.endpoint, "core.windows.net") && !strcmp(b.path, "a/b c.txt") &&
           !strcmp(b.protocol, "https") && !b.account_url,
       "https blob URL: account, container, endpoint, decoded path");
    uri_blob_dispose(&b);
    OK(uri_blob_parse("wasbs://cont@acct.blob.core.chinacloudapi.cn/dir/f", &b, &why) == 0 &&
           !strcmp(b.account, "acct") && !strcmp(b.container, "cont") &&
           !strcmp(b.endpoint, "core.chinacloudapi.cn") && !strcmp(b.path, "dir/f") &&
           !strcmp(b.protocol, "https"),
       "wasbs URL in another cloud");
    uri_blob_dispose(&b);
    OK(uri_blob_parse("wasb://cont@acct.blob.core.windows.net/", &b, &why) == 0 &&
           !strcmp(b.protocol, "http") && !strcmp(b.path, ""),
       "wasb is plain http; the container root");
    uri_blob_dispose(&b);
    OK(uri_blob_parse("http://127.0.0.1:10000/devstoreaccount1/data/x/y", &b, &why) == 0 &&
           !strcmp(b.account, "devstoreaccount1") && !strcmp(b.container, "data") &&
           !strcmp(b.path, "x/y") &&
           !strcmp(b.account_url, "http://127.0.0.1:10000/devstoreaccount1") && !b.endpoint,
       "path-style emulator URL");
    uri_blob_dispose(&b);
    OK(uri_blob_parse("https://example.com/x", &b, &why) != 0 && why, "not a blob host: %s",
       why ? why : "");
    OK(uri_blob_parse("https://acct.blob.core.windows.net/c/x?sv=1&sig=2", &b, &why) != 0,
       "a query string (a SAS) in a job file's URL is refused");
    OK(uri_blob_parse("wasbs://acct.blob.core.windows.net/x", &b, &why) != 0,
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
