/* The forms a job file uses to name data. */
#ifndef FERRY_URI_H
#define FERRY_URI_H

typedef enum {
    URI_DATASTORE, /* azureml://[...workspaces/W/]datastores/D/paths/P */
    URI_LOCAL,     /* file://..., or a plain path */
    URI_ASSET,     /* a data asset: azureml:name:version, azureml:name@latest, the long
                    * azureml://.../data/<name>/versions/<v> and ARM id forms */
    URI_JOB,       /* an earlier run's output: azureml://jobs/<run>/outputs/<name>[/paths/<p>],
                    * runs:/<run>/<name>[/<p>] */
    URI_URL,       /* https://, wasbs://, abfss://, s3://, ... */
} uri_kind_t;

typedef struct uri {
    uri_kind_t kind;
    char *datastore; /* URI_DATASTORE */
    char *path;      /* URI_DATASTORE: path in it (raw); URI_LOCAL: the path;
                      * URI_JOB: the path inside the output ("" for all of it) */
    char *scheme;    /* URI_URL: "https", "wasbs", ... */
    char *name;      /* URI_ASSET: the asset's name; URI_JOB: the output's */
    char *version;   /* URI_ASSET: its version, or NULL for the latest */
    char *run_id;    /* URI_JOB */
} uri_t;

/* Returns 0, or -1 with *why saying what is wrong with the text. */
int uri_parse(const char *text, uri_t *out, const char **why);
void uri_dispose(uri_t *u);

#endif
