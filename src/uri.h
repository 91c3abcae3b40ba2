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

#endif
