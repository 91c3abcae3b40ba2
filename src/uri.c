#define _GNU_SOURCE
#include "uri.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

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
    out->datastore = strndup(s, (size_t)(slash - s));
    out->path = strdup(slash[6] ? slash + 7 : "");
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
            out->path = strdup(p);
            return 0;
        }
        out->kind = URI_URL;
        out->scheme = strndup(text, sl);
        for (char *c = out->scheme; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        return 0;
    }
    out->kind = URI_LOCAL;
    out->path = strdup(text);
    return 0;
}

void uri_blob_dispose(blob_url_t *b)
{
    free(b->protocol);
    free(b->account);
    free(b->endpoint);
    free(b->account_url);
    free(b->container);
    free(b->path);
    memset(b, 0, sizeof *b);
}

static int is_path_style_host(const char *h, size_t n)
{
    if ((n >= 9 && !strncmp(h, "localhost", 9)) || (n && h[0] == '['))
        return 1;
    for (size_t i = 0; i < n && h[i] != ':'; i++)
        if (!isdigit((unsigned char)h[i]) && h[i] != '.')
            return 0;
    return 1;
}

int uri_blob_parse(const char *text, blob_url_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    *why = NULL;
    int wasb = 0;
    const char *rest;
    if (!strncmp(text, "https://", 8))
        out->protocol = strdup("https"), rest = text + 8;
    else if (!strncmp(text, "http://", 7))
        out->protocol = strdup("http"), rest = text + 7;
    else if (!strncmp(text, "wasbs://", 8))
        out->protocol = strdup("https"), rest = text + 8, wasb = 1;
    else if (!strncmp(text, "wasb://", 7))
        out->protocol = strdup("http"), rest = text + 7, wasb = 1;
    else {
        *why = "not an http(s) or wasb(s) URL";
        return -1;
    }
    const char *q = strpbrk(rest, "?#");
    if (q) {
        *why = "a query string in a blob URL is not supported (register a datastore with a SAS "
               "token instead)";
        goto fail;
    }
    const char *slash = strchr(rest, '/');
    size_t hl = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *path = slash ? slash + 1 : "";
    const char *host = rest;
    if (wasb) {
        const char *at = memchr(rest, '@', hl);
        if (!at || at == rest) {
            *why = "expected wasbs://<container>@<account>.blob.<suffix>/<path>";
            goto fail;
        }
        out->container = strndup(rest, (size_t)(at - rest));
        host = at + 1;
        hl -= (size_t)(host - rest);
    }
    if (!wasb && is_path_style_host(host, hl)) {
        /* /<account>/<container>/<path> */
        const char *s1 = strchr(path, '/');
        const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
        if (!s1 || s1 == path) {
            *why = "expected http://<host:port>/<account>/<container>/<path>";
            goto fail;
        }
        out->account = strndup(path, (size_t)(s1 - path));
        out->container = strndup(s1 + 1, s2 ? (size_t)(s2 - s1 - 1) : strlen(s1 + 1));
        if (asprintf(&out->account_url, "%s://%.*s/%s", out->protocol, (int)hl, host,
                     out->account) < 0)
            out->account_url = NULL;
        path = s2 ? s2 + 1 : "";
    } else {
        const char *dot = memchr(host, '.', hl);
        if (!dot || (size_t)(host + hl - dot) < 7 || strncmp(dot, ".blob.", 6)) {
            *why = "expected a host <account>.blob.<suffix>";
            goto fail;
        }
        out->account = strndup(host, (size_t)(dot - host));
        out->endpoint = strndup(dot + 6, hl - (size_t)(dot + 6 - host));
        if (!wasb) {
            const char *s1 = strchr(path, '/');
            out->container = strndup(path, s1 ? (size_t)(s1 - path) : strlen(path));
            path = s1 ? s1 + 1 : "";
        }
    }
    if (!out->container || !*out->container) {
        *why = "no container in the URL";
        goto fail;
    }
    out->path = http_unescape(path, strlen(path));
    return 0;
fail:
    if (!*why)
        *why = "not a blob URL";
    uri_blob_dispose(out);
    return -1;
}
