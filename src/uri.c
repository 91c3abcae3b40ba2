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
        if (!strncmp(s, "subscriptions/", 14)) {
            const char *ds = strstr(s, "/datastores/");
            if (!ds || !strstr(s, "/workspaces/")) {
                *why = "expected azureml://subscriptions/<id>/resourcegroups/<rg>/workspaces/"
                       "<ws>/datastores/<datastore>/paths/<path>";
                return -1;
            }
            return datastore_tail(ds + 1, out, why);
        }
        out->kind = URI_ASSET; /* registries/, jobs/, locations/ ... */
        return 0;
    }
    if (!strncmp(text, "azureml:", 8)) {
        out->kind = URI_ASSET;
        return 0;
    }
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
