/* The forms a job file uses to name data. */
#ifndef FERRY_URI_H
#define FERRY_URI_H

typedef enum {
    URI_DATASTORE, /* azureml://[...workspaces/W/]datastores/D/paths/P */
    URI_LOCAL,     /* file://..., or a plain path */
    URI_ASSET,     /* azureml:name:version, azureml:name@label, azureml://registries/... */
    URI_URL,       /* https://, wasbs://, abfss://, s3://, ... */
} uri_kind_t;

typedef struct uri {
    uri_kind_t kind;
    char *datastore; /* URI_DATASTORE */
    char *path;      /* URI_DATASTORE: path in it (raw); URI_LOCAL: the path */
    char *scheme;    /* URI_URL: "https", "wasbs", ... */
} uri_t;

/* Returns 0, or -1 with *why saying what is wrong with the text. */
int uri_parse(const char *text, uri_t *out, const char **why);
void uri_dispose(uri_t *u);

/* An Azure Blob URL taken apart:
 *   https://<account>.blob.<suffix>/<container>/<path>
 *   wasbs://<container>@<account>.blob.<suffix>/<path>   (wasb: http)
 *   http(s)://<ip or localhost>[:port]/<account>/<container>/<path>  (path style, emulators) */
typedef struct blob_url {
    char *protocol;    /* https or http */
    char *account;
    char *endpoint;    /* the DNS suffix, e.g. core.windows.net; NULL for path style */
    char *account_url; /* path style: "<scheme>://<host:port>/<account>" */
    char *container;
    char *path;        /* raw, as in the URL (percent-decoded) */
} blob_url_t;

/* 0 if text is a blob URL, -1 if not (why says what is off). */
int uri_blob_parse(const char *text, blob_url_t *out, const char **why);
void uri_blob_dispose(blob_url_t *b);

#endif
