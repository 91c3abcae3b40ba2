/* The forms a job names data by. */
#include <stdlib.h>

#include "tap.h"
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
    TAP_DONE();
}
