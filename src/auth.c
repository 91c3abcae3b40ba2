#define _GNU_SOURCE
#include "auth.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"
#include "log.h"

struct auth {
    cred_kind_t kind;
    char *account;
    unsigned char key[128];
    size_t keylen;
    char *sas; /* without a leading '?' */
    char desc[300];
};

char *auth_base64(const unsigned char *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

int auth_unbase64(const char *s, unsigned char *out, size_t cap, size_t *n)
{
    size_t len = strlen(s);
    if (len % 4 || (len / 4) * 3 > cap)
        return -1;
    int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
    if (r < 0)
        return -1;
    size_t pad = 0;
    while (len && s[len - 1] == '=' && pad < 2)
        len--, pad++;
    *n = (size_t)r - pad;
    return 0;
}

int auth_new(auth_t **out, const datastore_t *ds, ferr_t *err)
{
    *out = NULL;
    auth_t *a = calloc(1, sizeof *a);
    if (!a)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    a->kind = ds->cred_kind;
    a->account = strdup(ds->account ? ds->account : "");
    static const char *what[] = {"", "account key", "SAS token", "client secret"};
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
        if (auth_unbase64(secret, a->key, sizeof a->key, &a->keylen) || a->keylen == 0)
            rc = ferr_set(err, FERR_CONFIG,
                          "datastore %s: %s is not a base64 account key (as the Azure portal "
                          "shows it)",
                          ds->name, a->desc);
    } else if (a->kind == CRED_SAS_TOKEN) {
        const char *s = secret;
        while (*s == '?')
            s++;
        a->sas = strdup(s);
        /* the signature is the secret; the rest (expiry, permissions) helps to debug */
        const char *sig = strstr(a->sas, "sig=");
        if (sig) {
            char *v = strndup(sig + 4, strcspn(sig + 4, "&"));
            log_add_secret(v);
            free(v);
        }
        if (!strstr(a->sas, "sig="))
            rc = ferr_set(err, FERR_CONFIG, "datastore %s: %s has no sig= part", ds->name,
                          a->desc);
    } else if (a->kind == CRED_CLIENT_SECRET) {
        rc = ferr_set(err, FERR_UNSUPPORTED,
                      "datastore %s: service principal (OAuth) credentials are not supported yet",
                      ds->name);
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
    free(a->account);
    free(a);
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
        return strdup(url);
    if (asprintf(&out, "%s%c%s", url, strchr(url, '?') ? '&' : '?', a->sas) < 0)
        return NULL;
    return out;
}

/* --- SharedKey --- */

typedef struct kv {
    char *k, *v;
} kv_t;

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
    return strndup(s, n);
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
        size_t cap = (b->n + l + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, l + 1);
    b->n += l;
}

int auth_sign(const auth_t *a, const char *method, const char *url,
              const struct curl_slist *headers, size_t content_length, struct curl_slist **extra)
{
    if (a->kind != CRED_ACCOUNT_KEY)
        return 0;
    char date[64], hdr[128];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(hdr, sizeof hdr, "x-ms-date: %s", date);
    *extra = curl_slist_append(*extra, hdr);

    static const char *std_names[] = {"content-encoding", "content-language", "content-length",
                                      "content-md5",      "content-type",     "date",
                                      "if-modified-since", "if-match",        "if-none-match",
                                      "if-unmodified-since", "range"};
    enum { NSTD = 11 };
    const char *std_vals[NSTD] = {0};
    kv_t ms[64];
    size_t nms = 0;
    char *owned[128];
    size_t nowned = 0;
    ms[nms].k = strdup("x-ms-date");
    ms[nms].v = strdup(date);
    owned[nowned++] = ms[nms].k;
    owned[nowned++] = ms[nms].v;
    nms++;
    for (const struct curl_slist *l = headers; l; l = l->next) {
        const char *colon = strchr(l->data, ':');
        if (!colon)
            continue;
        char *k = lower(strndup(l->data, (size_t)(colon - l->data)));
        char *v = trimdup(colon + 1, strlen(colon + 1));
        owned[nowned++] = k;
        owned[nowned++] = v;
        if (!strncmp(k, "x-ms-", 5) && nms < 63) {
            ms[nms].k = k;
            ms[nms].v = v;
            nms++;
            continue;
        }
        for (int i = 0; i < NSTD; i++)
            if (!strcmp(k, std_names[i]))
                std_vals[i] = v;
        if (nowned > 120)
            break;
    }
    char clen[32] = "";
    if (content_length)
        snprintf(clen, sizeof clen, "%zu", content_length);
    std_vals[2] = clen;
    qsort(ms, nms, sizeof *ms, kv_cmp);

    sbuf_t s = {0};
    sb_add(&s, method);
    sb_add(&s, "\n");
    for (int i = 0; i < NSTD; i++) {
        sb_add(&s, std_vals[i] ? std_vals[i] : "");
        sb_add(&s, "\n");
    }
    for (size_t i = 0; i < nms; i++) {
        sb_add(&s, ms[i].k);
        sb_add(&s, ":");
        sb_add(&s, ms[i].v);
        sb_add(&s, "\n");
    }
    /* CanonicalizedResource: /account/path, then query parameters decoded,
     * lowercased, sorted */
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    const char *q = p ? strchr(p, '?') : NULL;
    sb_add(&s, "/");
    sb_add(&s, a->account);
    char *path = p ? strndup(p, q ? (size_t)(q - p) : strlen(p)) : strdup("/");
    sb_add(&s, path);
    free(path);
    if (q) {
        kv_t qs[32];
        size_t nq = 0;
        char *query = strdup(q + 1), *save = NULL;
        for (char *t = strtok_r(query, "&", &save); t && nq < 32; t = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(t, '=');
            char *k = http_unescape(t, eq ? (size_t)(eq - t) : strlen(t));
            char *v = http_unescape(eq ? eq + 1 : "", eq ? strlen(eq + 1) : 0);
            qs[nq].k = lower(k);
            qs[nq].v = v;
            nq++;
        }
        free(query);
        qsort(qs, nq, sizeof *qs, kv_cmp);
        for (size_t i = 0; i < nq; i++) {
            /* repeated names are joined with ',' on one line */
            if (i == 0 || strcmp(qs[i].k, qs[i - 1].k)) {
                sb_add(&s, "\n");
                sb_add(&s, qs[i].k);
                sb_add(&s, ":");
            } else {
                sb_add(&s, ",");
            }
            sb_add(&s, qs[i].v);
        }
        for (size_t i = 0; i < nq; i++) {
            free(qs[i].k);
            free(qs[i].v);
        }
    }
    unsigned char mac[32];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), a->key, (int)a->keylen, (const unsigned char *)s.p, s.n, mac, &maclen);
    free(s.p);
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    char *sig = auth_base64(mac, maclen);
    char *authz = NULL;
    if (!sig || asprintf(&authz, "Authorization: SharedKey %s:%s", a->account, sig) < 0) {
        free(sig);
        return -1;
    }
    *extra = curl_slist_append(*extra, authz);
    free(sig);
    free(authz);
    return 0;
}
