#define _GNU_SOURCE
#include "uri.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "xalloc.h"

void uri_dispose(uri_t *u)
{
    free(u->datastore);
    free(u->path);
    free(u->scheme);
    free(u->name);
    free(u->version);
    free(u->run_id);
    memset(u, 0, sizeof *u);
}

static int has_scheme(const char *s, size_t *len)
{
    if (!isalpha((unsigned char)s[0]))
        return 0;
    size_t i = 1;
    while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
        i++;
    if (strncmp(s + i, "://", 3) != 0)
        return 0;
    *len = i;
    return 1;
}

/* "datastores/<ds>/paths/<p>" */
static int datastore_tail(const char *s, uri_t *out, const char **why)
{
    if (strncmp(s, "datastores/", 11) != 0) {
        *why = "expected azureml://datastores/<datastore>/paths/<path>";
        return -1;
    }
    s += 11;
    const char *slash = strchr(s, '/');
    if (!slash || slash == s) {
        *why = "expected azureml://datastores/<datastore>/paths/<path>";
        return -1;
    }
    if (strncmp(slash, "/paths/", 7) != 0 && strcmp(slash, "/paths") != 0) {
        *why = "expected '/paths/' after the datastore name";
        return -1;
    }
    out->kind = URI_DATASTORE;
    out->datastore = xstrndup(s, (size_t)(slash - s));
    out->path = xstrdup(slash[6] ? slash + 7 : "");
    return 0;
}

/* An asset's name: a letter or digit first, then letters, digits, '-', '_'
 * and '.' (Azure ML's rule); a version or run id the same. */
static size_t name_len(const char *s, const char *stops)
{
    if (!isalnum((unsigned char)*s))
        return 0;
    size_t i = 1;
    while (s[i] && !strchr(stops, s[i]) && (isalnum((unsigned char)s[i]) || strchr("-_.", s[i])))
        i++;
    return s[i] && !strchr(stops, s[i]) ? 0 : i;
}

#define ASSET_FORMS                                                                                \
    "expected azureml:<name>:<version>, azureml:<name>@latest or "                                 \
    "azureml://.../data/<name>/versions/<version>"

/* "<name>:<version>", "<name>@latest" or "<name>" (the latest) */
static int short_asset(const char *s, uri_t *out, const char **why)
{
    size_t n = name_len(s, ":@");
    if (!n || n > 255) {
        *why = ASSET_FORMS;
        return -1;
    }
    const char *v = s + n;
    if (*v == '@' && strcmp(v + 1, "latest") != 0) {
        *why = "the only label a data asset has here is @latest (or name a version: "
               "azureml:<name>:<version>)";
        return -1;
    }
    if (*v == ':' && (!name_len(v + 1, "") || strlen(v + 1) > 64)) {
        *why = "a version has letters, digits, '.', '-' and '_' (azureml:<name>:<version>)";
        return -1;
    }
    out->kind = URI_ASSET;
    out->name = xstrndup(s, n);
    out->version = *v == ':' ? xstrdup(v + 1) : NULL;
    return 0;
}

/* ".../data/<name>/versions/<version>" at the end of a long form */
static int long_asset(const char *s, uri_t *out, const char **why)
{
    const char *d = strstr(s, "/data/");
    if (!d) {
        *why = ASSET_FORMS;
        return -1;
    }
    d += 6;
    size_t n = name_len(d, "/");
    if (!n || strncmp(d + n, "/versions/", 10) != 0 || !name_len(d + n + 10, "")) {
        *why = ASSET_FORMS;
        return -1;
    }
    out->kind = URI_ASSET;
    out->name = xstrndup(d, n);
    out->version = xstrdup(d + n + 10);
    return 0;
}

/* "jobs/<run>/outputs/<name>[/paths/<p>]" (after azureml://), or the
 * MLflow form "<run>/<name>[/<p>]" (after runs:/) */
static int job_output(const char *s, int mlflow, uri_t *out, const char **why)
{
    const char *form = mlflow ? "expected runs:/<run id>/<output>[/<path>]"
                              : "expected azureml://jobs/<run id>/outputs/<output>[/paths/<path>]";
    size_t n = name_len(s, "/");
    const char *o = s + n;
    if (!n || *o != '/' || (!mlflow && strncmp(o, "/outputs/", 9) != 0)) {
        *why = form;
        return -1;
    }
    o += mlflow ? 1 : 9;
    size_t on = name_len(o, "/");
    const char *rest = o + on;
    if (!on || (*rest && !mlflow && strncmp(rest, "/paths/", 7) != 0 && strcmp(rest, "/paths"))) {
        *why = form;
        return -1;
    }
    out->kind = URI_JOB;
    out->run_id = xstrndup(s, n);
    out->name = xstrndup(o, on);
    out->path = xstrdup(!*rest ? "" : mlflow ? rest + 1 : rest[6] ? rest + 7 : "");
    return 0;
}

int uri_parse(const char *text, uri_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    *why = NULL;
    if (!text || !*text) {
        *why = "empty path";
        return -1;
    }
    if (!strncmp(text, "azureml://", 10)) {
        const char *s = text + 10;
        if (!strncmp(s, "datastores/", 11))
            return datastore_tail(s, out, why);
        if (!strncmp(s, "jobs/", 5))
            return job_output(s + 5, 0, out, why);
        const char *ds = strstr(s, "/datastores/");
        if (!strncmp(s, "subscriptions/", 14) && ds && strstr(s, "/workspaces/"))
            return datastore_tail(ds + 1, out, why);
        if (!strncmp(s, "registries/", 11)) {
            *why = "a data asset in a registry: ferry knows only this workspace's assets "
                   "('ferry data create'); name it azureml:<name>:<version>";
            return -1;
        }
        if (!ds && strstr(s, "/workspaces/"))
            return long_asset(s, out, why);
        *why = "expected azureml://datastores/<datastore>/paths/<path>, "
               "azureml://jobs/<run id>/outputs/<output>, or a data asset's "
               "azureml://.../workspaces/<ws>/data/<name>/versions/<version>";
        return -1;
    }
    if (!strncmp(text, "azureml:", 8)) {
        /* the ARM id form: azureml:/subscriptions/.../workspaces/<ws>/data/<n>/versions/<v> */
        if (text[8] == '/')
            return long_asset(text + 8, out, why);
        return short_asset(text + 8, out, why);
    }
    if (!strncmp(text, "runs:/", 6))
        return job_output(text + 6 + (text[6] == '/'), 1, out, why);
    size_t sl;
    if (has_scheme(text, &sl)) {
        if (sl == 4 && !strncasecmp(text, "file", 4)) {
            const char *p = text + 7;
            if (!strncmp(p, "localhost/", 10))
                p += 9;
            if (*p != '/') {
                *why = "a file:// URI needs an absolute path (file:///data/x)";
                return -1;
            }
            out->kind = URI_LOCAL;
            out->path = xstrdup(p);
            return 0;
        }
        out->kind = URI_URL;
        out->scheme = xstrndup(text, sl);
        for (char *c = out->scheme; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        return 0;
    }
    out->kind = URI_LOCAL;
    out->path = xstrdup(text);
    return 0;
}
