#define _GNU_SOURCE
#include "store/azure/blob_url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "xalloc.h"

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
        out->protocol = xstrdup("https"), rest = text + 8;
    else if (!strncmp(text, "http://", 7))
        out->protocol = xstrdup("http"), rest = text + 7;
    else if (!strncmp(text, "wasbs://", 8))
        out->protocol = xstrdup("https"), rest = text + 8, wasb = 1;
    else if (!strncmp(text, "wasb://", 7))
        out->protocol = xstrdup("http"), rest = text + 7, wasb = 1;
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
        out->container = xstrndup(rest, (size_t)(at - rest));
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
        out->account = xstrndup(path, (size_t)(s1 - path));
        out->container = xstrndup(s1 + 1, s2 ? (size_t)(s2 - s1 - 1) : strlen(s1 + 1));
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
        out->account = xstrndup(host, (size_t)(dot - host));
        out->endpoint = xstrndup(dot + 6, hl - (size_t)(dot + 6 - host));
        if (!wasb) {
            const char *s1 = strchr(path, '/');
            out->container = xstrndup(path, s1 ? (size_t)(s1 - path) : strlen(path));
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

/* --- as the azure_blob backend's URL forms --- */

int blob_url_parse_ds(const store_backend_t *self, const char *url, const char *name,
                      datastore_t **adhoc, char **path, const char **why)
{
    static const char *const schemes[] = {"https://", "http://", "wasbs://", "wasb://"};
    int known = 0;
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
        known |= !strncmp(url, schemes[i], strlen(schemes[i]));
    if (!known)
        return -2;
    blob_url_t b;
    if (uri_blob_parse(url, &b, why))
        return -1;
    datastore_t *ds = datastore_new(name, self);
    ds->account = b.account, b.account = NULL;
    ds->container = b.container, b.container = NULL;
    ds->protocol = b.protocol, b.protocol = NULL;
    ds->endpoint = b.endpoint, b.endpoint = NULL;
    ds->account_url = b.account_url, b.account_url = NULL;
    *path = b.path, b.path = NULL;
    uri_blob_dispose(&b);
    *adhoc = ds;
    return 0;
}

int blob_same_place(const datastore_t *a, const datastore_t *b)
{
    if (strcmp(a->account, b->account) || strcmp(a->container, b->container))
        return 0;
    if (b->account_url)
        return a->account_url && !strcmp(a->account_url, b->account_url);
    return !a->account_url && a->endpoint && b->endpoint && !strcmp(a->endpoint, b->endpoint);
}
