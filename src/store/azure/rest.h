/* What the Azure Storage backends share: a connection to one container
 * (blob container, file share) with its credential, signed requests, the
 * service's errors in words, and ranged reads into a file, hashed as they
 * stream. Each backend adds its own operations on top. */
#ifndef FERRY_STORE_AZURE_REST_H
#define FERRY_STORE_AZURE_REST_H

#include <curl/curl.h>
#include <stdint.h>

#include "datastore.h"
#include "error.h"
#include "http.h"
#include "store.h"
#include "store/azure/auth.h"

typedef struct az_conn {
    http_client_t *http;
    auth_t *auth;
    const char *version; /* x-ms-version */
    const char *noun;    /* what it holds, for messages: "blob", "file" */
    const char *word;    /* its container: "container", "file share" */
    int file;            /* the File service: a token needs a request intent */
    char *url;           /* "<scheme>://<host>[/<account>]/<container>" */
    char *where;         /* "account/container", for messages */
    char *stat_name;     /* owns what az_stat gives, until the next call */
    char stat_etag[128];
    char stat_md5[64];
} az_conn_t;

/* service: "blob", "file" (the host's <account>.<service>.<suffix>) */
int az_conn_open(az_conn_t *c, const datastore_t *ds, const char *service, const char *version,
                 const char *noun, ferr_t *err);
void az_conn_close(az_conn_t *c);

/* The container's URL with name (escaped, '/' kept) and query appended;
 * malloc'd. name may be NULL (the container itself). */
char *az_url(const az_conn_t *c, const char *name, const char *query);
/* h with the x-ms-version header appended */
struct curl_slist *az_headers(const az_conn_t *c, struct curl_slist *h);
/* Signs and sends (retried by the http layer). url is without the SAS,
 * which is added here. tmpl: a sink for the body, or NULL. */
int az_request(az_conn_t *c, const char *method, const char *url, struct curl_slist *h,
               const void *body, size_t len, int has_body, const http_req_t *tmpl,
               http_resp_t *resp, ferr_t *err);
/* A request on name (NULL: the container) with query, the headers h (taken
 * and freed) and x-ms-version, and no response body but what resp keeps;
 * *resp is the caller's to dispose. */
int az_simple(az_conn_t *c, const char *method, const char *name, const char *query,
              struct curl_slist *h, const void *body, size_t len, int has_body, http_resp_t *resp,
              ferr_t *err);
/* Entries per listing page: $FERRY_LIST_PAGE_SIZE, else 5000 */
long az_page_size(void);
/* h with "name: value" appended */
struct curl_slist *az_header(struct curl_slist *h, const char *name, const char *value);
/* An unexpected status as an error in words: access denied with which
 * credential and what to check, a missing container, a missing name. */
int az_fail(const az_conn_t *c, const http_resp_t *resp, const char *what, const char *name,
            ferr_t *err);

/* Get Properties (HEAD) of name, as a store's stat: FERR_NOTFOUND when
 * absent, or a folder (ADLS). e's strings live in c until the next call. */
int az_stat(az_conn_t *c, const char *name, store_entry_t *e, ferr_t *err);

/* A store read (store.h) by Get Blob / Get File / Read Path: a ranged GET
 * pinned to r->etag. if_match: the service takes If-Match on reads (the
 * File service does not: a reply of another ETag than the one pinned fails
 * instead). A read of the whole object is checked against its MD5. */
int az_read(az_conn_t *c, const store_read_t *r, int if_match, ferr_t *err);

/* Temporary names, beside the final one: AZ_TMP_PREFIX and 16 hex digits.
 * az_tmp_name: from key (a digest of it), or random with key NULL.
 * az_upload_tmp: an upload in blocks goes into a temporary file named
 * after the upload (the name, the local file's stamp, the geometry): every
 * worker finds it, and a later try of the same local file resumes in it.
 * az_is_tmp: is base (a last component) such a name? Listings hide them. */
#define AZ_TMP_PREFIX ".ferry-partial-"
char *az_tmp_name(const char *name, const char *key);
char *az_upload_tmp(const store_upload_t *u);
int az_is_tmp(const char *base);

/* base64 MD5 of n bytes; malloc'd */
char *az_md5_b64(const void *p, size_t n);
/* A block's MD5 in base64: the one it came with, or taken now */
char *az_block_md5_b64(const store_block_sums_t *sums, const void *p, size_t n);

#endif
