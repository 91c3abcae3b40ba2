#define _GNU_SOURCE

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base64.h"
#include "http.h"
#include "store/azure/auth.h"
#include "store/azure/entra.h"
#include "log.h"
#include "xalloc.h"

struct auth {
    cred_kind_t kind;
    char *account;
    unsigned char key[128];
    size_t keylen;
    char *sas;        /* without a leading '?' */
    entra_t *entra;   /* Entra ID: bearer tokens */
    char *last_token; /* the one this handle sent last */
    char desc[300];
};

int auth_new(auth_t **out, const datastore_t *ds, ferr_t *err)
{
    *out = NULL;
    auth_t *a = xcalloc(1, sizeof *a);
    a->kind = ds->cred_kind;
    a->account = xstrdup(ds->account ? ds->account : "");
    static const char *what[] = {"", "account key", "SAS token", "client secret", "certificate",
                                 ""};
    if (a->kind == CRED_NONE)
        snprintf(a->desc, sizeof a->desc, "no credential (anonymous access)");
    else if (ds->inline_secret)
        snprintf(a->desc, sizeof a->desc, "the %s given in the datastore file", what[a->kind]);
    else if (ds->cred_source == CRED_FROM_ENV)
        snprintf(a->desc, sizeof a->desc, "the %s from $%s", what[a->kind], ds->cred_ref);
    else if (ds->cred_source == CRED_FROM_FILE)
        snprintf(a->desc, sizeof a->desc, "the %s in %s", what[a->kind], ds->cred_ref);
    else
        snprintf(a->desc, sizeof a->desc, "the %s stored in the workspace", what[a->kind]);
    char *secret = NULL;
    if (datastore_secret(ds, &secret, err)) {
        auth_free(a);
        return -1;
    }
    if (secret && a->kind != CRED_SAS_TOKEN)
        log_add_secret(secret);
    int rc = 0;
    if (a->kind == CRED_ACCOUNT_KEY) {
        if (base64_decode(secret, a->key, sizeof a->key, &a->keylen) || a->keylen == 0)
            rc = ferr_set(err, FERR_CONFIG,
                          "datastore %s: %s is not a base64 account key (as the Azure portal "
                          "shows it)",
                          ds->name, a->desc);
    } else if (a->kind == CRED_SAS_TOKEN) {
        const char *s = secret;
        while (*s == '?')
            s++;
        a->sas = xstrdup(s);
        /* the signature is the secret; the rest (expiry, permissions) helps to debug */
        const char *sig = strstr(a->sas, "sig=");
        if (sig) {
            char *v = xstrndup(sig + 4, strcspn(sig + 4, "&"));
            log_add_secret(v);
            free(v);
        }
        if (!strstr(a->sas, "sig="))
            rc = ferr_set(err, FERR_CONFIG, "datastore %s: %s has no sig= part", ds->name, a->desc);
    } else if (a->kind >= CRED_CLIENT_SECRET) {
        rc = entra_new(&a->entra, ds, secret, err);
        if (rc == 0)
            snprintf(a->desc, sizeof a->desc, "%s", entra_describe(a->entra));
        else
            ferr_wrap(err, "datastore %s", ds->name);
    }
    if (secret) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
    if (rc) {
        auth_free(a);
        return -1;
    }
    *out = a;
    return 0;
}

void auth_free(auth_t *a)
{
    if (!a)
        return;
    explicit_bzero(a->key, sizeof a->key);
    if (a->sas) {
        explicit_bzero(a->sas, strlen(a->sas));
        free(a->sas);
    }
    entra_free(a->entra);
    if (a->last_token)
        explicit_bzero(a->last_token, strlen(a->last_token));
    free(a->last_token);
    free(a->account);
    free(a);
}

int auth_bearer(const auth_t *a)
{
    return a->entra != NULL;
}

int auth_refused(auth_t *a)
{
    if (!a->entra || !a->last_token)
        return 0;
    entra_stale(a->entra, a->last_token);
    return 1;
}

const char *auth_describe(const auth_t *a)
{
    return a->desc;
}

cred_kind_t auth_kind(const auth_t *a)
{
    return a->kind;
}

char *auth_url(const auth_t *a, const char *url)
{
    char *out = NULL;
    if (a->kind != CRED_SAS_TOKEN)
        return xstrdup(url);
    if (asprintf(&out, "%s%c%s", url, strchr(url, '?') ? '&' : '?', a->sas) < 0)
        return NULL;
    return out;
}

/* --- SharedKey ---
 * The string-to-sign of "Authorize with Shared Key" (versions 2009-09-19 and
 * later): the verb, eleven standard headers' values in a fixed order, the
 * x-ms-* headers sorted, then /account/path and the query parameters,
 * decoded, lowercased and sorted. Every header and parameter is kept: a
 * dropped one makes a signature the service refuses. */

typedef struct kv {
    char *k, *v;
} kv_t;

typedef struct kvs {
    kv_t *v;
    size_t n, cap;
} kvs_t;

static void kvs_add(kvs_t *l, char *k, char *v)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xreallocarray(l->v, l->cap, sizeof *l->v);
    }
    l->v[l->n++] = (kv_t){k, v};
}

static void kvs_free(kvs_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].k);
        free(l->v[i].v);
    }
    free(l->v);
}

static int kv_cmp(const void *a, const void *b)
{
    const kv_t *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

static char *trimdup(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return xstrndup(s, n);
}

static char *lower(char *s)
{
    for (char *p = s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return s;
}

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s)
{
    size_t l = strlen(s);
    if (b->n + l + 1 > b->cap) {
        b->cap = (b->n + l + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, l + 1);
    b->n += l;
}

static const char *const std_names[] = {"content-encoding",
                                        "content-language",
                                        "content-length",
                                        "content-md5",
                                        "content-type",
                                        "date",
                                        "if-modified-since",
                                        "if-match",
                                        "if-none-match",
                                        "if-unmodified-since",
                                        "range"};
enum { NSTD = sizeof std_names / sizeof *std_names, STD_CONTENT_LENGTH = 2 };

/* The verb, the standard headers and the canonicalized x-ms-* headers. */
static void sts_headers(sbuf_t *s, const char *method, const struct curl_slist *headers,
                        size_t content_length, const char *date)
{
    kvs_t all = {0}, ms = {0};
    const char *std_vals[NSTD] = {0};
    kvs_add(&ms, xstrdup("x-ms-date"), xstrdup(date));
    for (const struct curl_slist *l = headers; l; l = l->next) {
        const char *colon = strchr(l->data, ':');
        if (!colon)
            continue;
        char *k = lower(xstrndup(l->data, (size_t)(colon - l->data)));
        char *v = trimdup(colon + 1, strlen(colon + 1));
        if (!strncmp(k, "x-ms-", 5) && strcmp(k, "x-ms-date")) {
            kvs_add(&ms, k, v);
            continue;
        }
        kvs_add(&all, k, v); /* owned here, looked up below */
        for (size_t i = 0; i < NSTD; i++)
            if (!strcmp(k, std_names[i]))
                std_vals[i] = v;
    }
    char clen[32] = "";
    if (content_length)
        snprintf(clen, sizeof clen, "%zu", content_length);
    std_vals[STD_CONTENT_LENGTH] = clen;
    qsort(ms.v, ms.n, sizeof *ms.v, kv_cmp);
    sb_add(s, method);
    sb_add(s, "\n");
    for (size_t i = 0; i < NSTD; i++) {
        sb_add(s, std_vals[i] ? std_vals[i] : "");
        sb_add(s, "\n");
    }
    for (size_t i = 0; i < ms.n; i++) {
        sb_add(s, ms.v[i].k);
        sb_add(s, ":");
        sb_add(s, ms.v[i].v);
        sb_add(s, "\n");
    }
    kvs_free(&ms);
    kvs_free(&all);
}

/* CanonicalizedResource: /account/path, then each query parameter on its own
 * line; a repeated name's values are joined with ','. */
static void sts_resource(sbuf_t *s, const char *account, const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    const char *q = p ? strchr(p, '?') : NULL;
    sb_add(s, "/");
    sb_add(s, account);
    char *path = p ? xstrndup(p, q ? (size_t)(q - p) : strlen(p)) : xstrdup("/");
    sb_add(s, path);
    free(path);
    if (!q)
        return;
    kvs_t qs = {0};
    char *query = xstrdup(q + 1), *save = NULL;
    for (char *t = strtok_r(query, "&", &save); t; t = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(t, '=');
        char *k = http_unescape(t, eq ? (size_t)(eq - t) : strlen(t));
        char *v = http_unescape(eq ? eq + 1 : "", eq ? strlen(eq + 1) : 0);
        if (!k || !v)
            xalloc_die();
        kvs_add(&qs, lower(k), v);
    }
    free(query);
    qsort(qs.v, qs.n, sizeof *qs.v, kv_cmp);
    for (size_t i = 0; i < qs.n; i++) {
        if (i == 0 || strcmp(qs.v[i].k, qs.v[i - 1].k)) {
            sb_add(s, "\n");
            sb_add(s, qs.v[i].k);
            sb_add(s, ":");
        } else {
            sb_add(s, ",");
        }
        sb_add(s, qs.v[i].v);
    }
    kvs_free(&qs);
}

char *auth_string_to_sign(const char *account, const char *method, const char *url,
                          const struct curl_slist *headers, size_t content_length, const char *date)
{
    sbuf_t s = {0};
    sts_headers(&s, method, headers, content_length, date);
    sts_resource(&s, account, url);
    return s.p;
}

char *auth_sharedkey_at(const auth_t *a, const char *method, const char *url,
                        const struct curl_slist *headers, size_t content_length, const char *date)
{
    char *sts = auth_string_to_sign(a->account, method, url, headers, content_length, date);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int ok = HMAC(EVP_sha256(), a->key, (int)a->keylen, (const unsigned char *)sts, strlen(sts),
                  mac, &maclen) != NULL;
    free(sts);
    if (!ok)
        return NULL;
    char *sig = base64_encode(mac, maclen);
    if (!sig)
        xalloc_die();
    char *authz = xasprintf("Authorization: SharedKey %s:%s", a->account, sig);
    free(sig);
    return authz;
}

/* Entra ID: a bearer token, over https only (as Azure requires). */
static int sign_bearer(const auth_t *a, const char *url, struct curl_slist **extra, ferr_t *err)
{
    if (strncmp(url, "https://", 8))
        return ferr_set(err, FERR_CONFIG,
                        "an Entra ID token is sent over https only, and this datastore's URL is "
                        "http; register it with an https endpoint");
    char *token = entra_token(a->entra, err);
    if (!token)
        return -1;
    char *h = xasprintf("Authorization: Bearer %s", token);
    *extra = curl_slist_append(*extra, h);
    explicit_bzero(h, strlen(h));
    free(h);
    auth_t *m = (auth_t *)a; /* a handle is one thread's */
    if (m->last_token)
        explicit_bzero(m->last_token, strlen(m->last_token));
    free(m->last_token);
    m->last_token = token;
    return 0;
}

int auth_sign(const auth_t *a, const char *method, const char *url,
              const struct curl_slist *headers, size_t content_length, struct curl_slist **extra,
              ferr_t *err)
{
    if (a->entra)
        return sign_bearer(a, url, extra, err);
    if (a->kind != CRED_ACCOUNT_KEY)
        return 0;
    char date[64], hdr[128];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(hdr, sizeof hdr, "x-ms-date: %s", date);
    char *authz = auth_sharedkey_at(a, method, url, headers, content_length, date);
    if (!authz)
        return -1;
    *extra = curl_slist_append(*extra, hdr);
    *extra = curl_slist_append(*extra, authz);
    free(authz);
    return 0;
}
