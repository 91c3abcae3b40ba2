/* Azure Storage URLs, taken apart: the URL forms of the Azure backends. */
#ifndef FERRY_STORE_AZURE_URL_H
#define FERRY_STORE_AZURE_URL_H

#include "store/backend.h"

/* An Azure Storage URL taken apart, for a service ("blob", "file", "dfs"):
 *   https://<account>.<service>.<suffix>/<container>/<path>
 *   wasbs://<container>@<account>.blob.<suffix>/<path>   (blob only; wasb: http)
 *   http(s)://<ip or localhost>[:port]/<account>/<container>/<path>  (path
 *   style, emulators; taken by the blob service) */
typedef struct azure_url {
    char *protocol; /* https or http */
    char *account;
    char *endpoint;    /* the DNS suffix, e.g. core.windows.net; NULL for path style */
    char *account_url; /* path style: "<scheme>://<host:port>/<account>" */
    char *container;
    char *path; /* raw, as in the URL (percent-decoded) */
} azure_url_t;

/* 0 if text is a URL of service, -2 if it is not of its forms, -1 if it is
 * but is wrong (why says what is off). */
int azure_url_parse(const char *text, const char *service, azure_url_t *out, const char **why);
void azure_url_dispose(azure_url_t *b);

/* The Azure backends' url_parse and same_place (store/backend.h). */
int azure_url_parse_ds(const store_backend_t *self, const char *url, const char *name,
                       datastore_t **adhoc, char **path, const char **why);
int azure_same_place(const datastore_t *a, const datastore_t *b);

#endif
