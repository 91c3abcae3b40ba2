/* Fuzz target: the URI parsers (azureml://, file://, blob URLs) and the
 * remote path normaliser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "store/azure/url.h"
#include "uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = strndup((const char *)data, size);
    if (!s)
        return 0;
    uri_t u;
    const char *why;
    if (uri_parse(s, &u, &why) == 0) {
        if (u.kind == URI_DATASTORE) {
            char *n = path_remote_normalize(u.path, &why);
            free(n);
        }
        uri_dispose(&u);
    }
    azure_url_t b;
    if (azure_url_parse(s, "blob", &b, &why) == 0)
        azure_url_dispose(&b);
    free(s);
    return 0;
}
