#define _GNU_SOURCE
#include "store/azure/url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "xalloc.h"

void azure_url_dispose(azure_url_t *b)
{
    free(b->protocol);
    free(b->account);
    free(b->endpoint);
    free(b->account_url);
    free(b->container);
    free(b->path);
    memset(b, 0, sizeof *b);
}

static void uri_dispose_quiet(azure_url_t *b)
{
    azure_url_dispose(b);
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

int azure_url_parse(const char *text, const char *service, azure_url_t *out, const char **why)
{
    int blob = !strcmp(service, "blob"), dfs = !strcmp(service, "dfs");
    memset(out, 0, sizeof *out);
    *why = NULL;
    int wasb = 0; /* <container>@<account>.<service>.<suffix>: wasb(s) for blob, abfs(s) for dfs */
    const char *rest;
    if (!strncmp(text, "https://", 8))
        out->protocol = xstrdup("https"), rest = text + 8;
    else if (!strncmp(text, "http://", 7))
        out->protocol = xstrdup("http"), rest = text + 7;
    else if ((blob && !strncmp(text, "wasbs://", 8)) || (dfs && !strncmp(text, "abfss://", 8)))
        out->protocol = xstrdup("https"), rest = text + 8, wasb = 1;
    else if ((blob && !strncmp(text, "wasb://", 7)) || (dfs && !strncmp(text, "abfs://", 7)))
        out->protocol = xstrdup("http"), rest = text + 7, wasb = 1;
    else
        return -2;
    const char *q = strpbrk(rest, "?#");
    if (q) {
        *why = "a query string in a storage URL is not supported (register a datastore with a "
               "SAS token instead)";
        goto fail;
    }
    const char *slash = strchr(rest, '/');
    size_t hl = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *path = slash ? slash + 1 : "";
    const char *host = rest;
    if (wasb) {
        const char *at = memchr(rest, '@', hl);
        if (!at || at == rest) {
            *why = blob ? "expected wasbs://<container>@<account>.blob.<suffix>/<path>"
                        : "expected abfss://<filesystem>@<account>.dfs.<suffix>/<path>";
            goto fail;
        }
        out->container = xstrndup(rest, (size_t)(at - rest));
        host = at + 1;
        hl -= (size_t)(host - rest);
    }
    if (!wasb && is_path_style_host(host, hl)) {
        if (!blob) {
            /* an emulator's URL names no service: the blob backend takes
             * it, and a registered datastore of another service at that
             * account URL (store_same_place) claims it from there */
            uri_dispose_quiet(out);
            return -2;
        }
        /* /<account>/<container>/<path> */
        const char *s1 = strchr(path, '/');
        const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
        if ((!s1 || s1 == path || s1[1] == '/' || !s1[1]) && !strcmp(out->protocol, "https")) {
            /* not an emulator's form: a web server's file, for the https backend */
            uri_dispose_quiet(out);
            return -2;
        }
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
        size_t sl = strlen(service);
        if (!dot || (size_t)(host + hl - dot) < sl + 3 || dot[sl + 1] != '.' ||
            strncmp(dot + 1, service, sl)) {
            if (!wasb) {
                uri_dispose_quiet(out);
                return -2; /* another service's host, or no storage host at all */
            }
            *why = blob ? "expected a host <account>.blob.<suffix>"
                        : "expected a host <account>.dfs.<suffix>";
            goto fail;
        }
        out->account = xstrndup(host, (size_t)(dot - host));
        out->endpoint = xstrndup(dot + sl + 2, hl - (size_t)(dot + sl + 2 - host));
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
        *why = "not a storage URL";
    azure_url_dispose(out);
    return -1;
}

/* --- as the Azure backends' URL forms --- */

int azure_url_parse_ds(const store_backend_t *self, const char *url, const char *name,
                       datastore_t **adhoc, char **path, const char **why)
{
    azure_url_t b;
    int rc = azure_url_parse(url, self->service, &b, why);
    if (rc)
        return rc;
    datastore_t *ds = datastore_new(name, self);
    ds->account = b.account, b.account = NULL;
    ds->container = b.container, b.container = NULL;
    ds->protocol = b.protocol, b.protocol = NULL;
    ds->endpoint = b.endpoint, b.endpoint = NULL;
    ds->by_form = b.account_url != NULL; /* path-style: an emulator's, or any web server's */
    ds->account_url = b.account_url, b.account_url = NULL;
    *path = b.path, b.path = NULL;
    azure_url_dispose(&b);
    *adhoc = ds;
    return 0;
}

/* b is ad hoc, from a URL. A host name says the service, so a datastore of
 * another backend is not b's place; an account URL (an emulator's, by its
 * port) says it alone. */
int azure_same_place(const datastore_t *a, const datastore_t *b)
{
    if (!a->account || !b->account || !a->container || !b->container ||
        strcmp(a->account, b->account) || strcmp(a->container, b->container))
        return 0;
    if (b->account_url) {
        if (!a->account_url)
            return 0;
        size_t la = strlen(a->account_url), lb = strlen(b->account_url);
        while (la && a->account_url[la - 1] == '/')
            la--;
        while (lb && b->account_url[lb - 1] == '/')
            lb--;
        return la == lb && !strncmp(a->account_url, b->account_url, la);
    }
    return a->backend == b->backend && !a->account_url && a->endpoint && b->endpoint &&
           !strcmp(a->endpoint, b->endpoint);
}
