/* Azure Blob URLs, taken apart: the URL forms of the azure_blob backend. */
#ifndef FERRY_STORE_AZURE_BLOB_URL_H
#define FERRY_STORE_AZURE_BLOB_URL_H

#include "store/backend.h"

/* An Azure Blob URL taken apart:
 *   https://<account>.blob.<suffix>/<container>/<path>
 *   wasbs://<container>@<account>.blob.<suffix>/<path>   (wasb: http)
 *   http(s)://<ip or localhost>[:port]/<account>/<container>/<path>  (path style, emulators) */
typedef struct blob_url {
    char *protocol; /* https or http */
    char *account;
    char *endpoint;    /* the DNS suffix, e.g. core.windows.net; NULL for path style */
    char *account_url; /* path style: "<scheme>://<host:port>/<account>" */
    char *container;
    char *path; /* raw, as in the URL (percent-decoded) */
} blob_url_t;

/* 0 if text is a blob URL, -1 if not (why says what is off). */
int uri_blob_parse(const char *text, blob_url_t *out, const char **why);
void uri_blob_dispose(blob_url_t *b);

/* The backend's url_parse and same_place (store/backend.h). */
int blob_url_parse_ds(const store_backend_t *self, const char *url, const char *name,
                      datastore_t **adhoc, char **path, const char **why);
int blob_same_place(const datastore_t *a, const datastore_t *b);

#endif
