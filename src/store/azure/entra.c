/* Entra ID tokens (entra.h): the token endpoint (client credentials with a
 * secret, a certificate's signed assertion or a federated token) and the
 * managed-identity endpoints, spoken with libcurl and cJSON; assertions
 * signed with OpenSSL. Tokens live in one process-wide cache, one per
 * identity and scope, fetched by one thread while the others wait. */
#define _GNU_SOURCE
#include "digest.h"
#include "store/azure/entra.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base64.h"
#include "http.h"
#include "log.h"
#include "path.h"
#include "xalloc.h"

#define DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define DEFAULT_IMDS "http://169.254.169.254"
#define STORAGE_RESOURCE "https://storage.azure.com/"

typedef enum { EK_SECRET, EK_CERT, EK_WORKLOAD, EK_APPSERVICE, EK_MSI, EK_IMDS } ekind_t;

struct entra {
    ekind_t kind;
    char *authority, *tenant, *client;
    char *secret;                    /* EK_SECRET */
    EVP_PKEY *key;                   /* EK_CERT */
    char x5t[64], x5t256[80];        /* its certificate's thumbprints, base64url */
    char *token_file;                /* EK_WORKLOAD */
    char *endpoint, *hname, *hvalue; /* managed identity: where, and the header it wants */
    char *mi_client;                 /* a user-assigned identity's client id */
    char *cache_key;
    char desc[400];
    http_client_t *http;
};

/* --- the process-wide cache --- */

typedef struct tok {
    char *key, *token;
    time_t expires, refresh;
    int fetching;
    unsigned gen; /* fetches ended */
    char *failed; /* why the last fetch failed, for those who waited on it */
} tok_t;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cache_cv = PTHREAD_COND_INITIALIZER;
static tok_t *toks;
static size_t ntoks, captoks;

static tok_t *tok_find(const char *key)
{
    for (size_t i = 0; i < ntoks; i++)
        if (!strcmp(toks[i].key, key))
            return &toks[i];
    if (ntoks == captoks) {
        captoks = captoks ? captoks * 2 : 4;
        toks = xrealloc(toks, captoks * sizeof *toks);
    }
    toks[ntoks] = (tok_t){.key = xstrdup(key)};
    return &toks[ntoks++];
}

/* --- small pieces --- */

static char *b64url(const unsigned char *p, size_t n)
{
    char *s = base64_encode(p, n);
    if (!s)
        xalloc_die();
    size_t j = 0;
    for (size_t i = 0; s[i]; i++)
        if (s[i] != '=')
            s[j++] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
    s[j] = 0;
    return s;
}

static char *env_dup(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? xstrdup(v) : NULL;
}

static void strip_slashes(char *s)
{
    size_t l = strlen(s);
    while (l && s[l - 1] == '/')
        s[--l] = 0;
}

/* A form field, percent-encoded, appended to *body. */
static void form_add(char **body, const char *k, const char *v)
{
    char *ev = http_escape(v, 0), *nb = NULL;
    nb = xasprintf("%s%s%s=%s", *body ? *body : "", *body ? "&" : "", k, ev);
    free(*body);
    free(ev);
    *body = nb;
}

/* --- certificates: a JWT client assertion --- */

static int load_cert(entra_t *e, const char *pem, const char *where, ferr_t *err)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    b = BIO_new_mem_buf(pem, -1);
    e->key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    int rc = 0;
    if (!x || !e->key)
        rc = ferr_set(err, FERR_CONFIG,
                      "%s: expected a PEM file holding the certificate and its private key "
                      "(unencrypted), as Azure's SDKs take it; %s",
                      where, !x ? "no certificate found" : "no private key found");
    else if (EVP_PKEY_base_id(e->key) != EVP_PKEY_RSA)
        rc = ferr_set(err, FERR_CONFIG, "%s: the key is not an RSA key, which Entra ID needs",
                      where);
    if (rc == 0) {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        X509_digest(x, EVP_sha1(), d, &n);
        char *t = b64url(d, n);
        snprintf(e->x5t, sizeof e->x5t, "%s", t);
        free(t);
        X509_digest(x, EVP_sha256(), d, &n);
        t = b64url(d, n);
        snprintf(e->x5t256, sizeof e->x5t256, "%s", t);
        free(t);
    }
    X509_free(x);
    return rc;
}

/* RS256 over header.payload, as RFC 7515 says; malloc'd "h.p.s" */
static char *sign_jwt(EVP_PKEY *key, const char *header, const char *payload)
{
    char *h = b64url((const unsigned char *)header, strlen(header));
    char *p = b64url((const unsigned char *)payload, strlen(payload));
    char *input = xasprintf("%s.%s", h, p), *jwt = NULL;
    free(h);
    free(p);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t n = 0;
    unsigned char *sig = NULL;
    if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestSign(ctx, NULL, &n, (const unsigned char *)input, strlen(input)) == 1) {
        sig = xmalloc(n);
        if (EVP_DigestSign(ctx, sig, &n, (const unsigned char *)input, strlen(input)) == 1) {
            char *s = b64url(sig, n);
            jwt = xasprintf("%s.%s", input, s);
            free(s);
        }
    }
    EVP_MD_CTX_free(ctx);
    free(sig);
    free(input);
    return jwt;
}

static char *assertion(entra_t *e, const char *token_url)
{
    unsigned char id[16];
    RAND_bytes(id, sizeof id);
    char jti[40];
    hex_encode(id, sizeof id, jti);
    time_t now = time(NULL);
    char *header =
        xasprintf("{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"%s\",\"x5t#S256\":\"%s\"}", e->x5t,
                  e->x5t256);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "aud", token_url);
    cJSON_AddStringToObject(p, "iss", e->client);
    cJSON_AddStringToObject(p, "sub", e->client);
    cJSON_AddStringToObject(p, "jti", jti);
    cJSON_AddNumberToObject(p, "nbf", (double)now);
    cJSON_AddNumberToObject(p, "iat", (double)now);
    cJSON_AddNumberToObject(p, "exp", (double)(now + 600));
    char *payload = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    char *jwt = payload ? sign_jwt(e->key, header, payload) : NULL;
    free(header);
    free(payload);
    if (jwt)
        log_add_secret(jwt);
    return jwt;
}

/* --- answers --- */

/* "expires_on": seconds since the epoch, or App Service's 2017 date form */
static time_t parse_expiry(const cJSON *o, time_t now)
{
    const cJSON *on = cJSON_GetObjectItemCaseSensitive(o, "expires_on");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(o, "expires_in");
    if (cJSON_IsNumber(on))
        return (time_t)on->valuedouble;
    if (cJSON_IsString(on) && strspn(on->valuestring, "0123456789") == strlen(on->valuestring) &&
        *on->valuestring)
        return (time_t)strtoll(on->valuestring, NULL, 10);
    if (cJSON_IsString(on)) {
        struct tm tm = {0};
        if (strptime(on->valuestring, "%m/%d/%Y %I:%M:%S %p", &tm))
            return timegm(&tm);
    }
    if (cJSON_IsNumber(in))
        return now + (time_t)in->valuedouble;
    if (cJSON_IsString(in))
        return now + (time_t)strtoll(in->valuestring, NULL, 10);
    return now + 300;
}

/* Entra's refusal in its own words: the first line of error_description
 * ("AADSTS7000215: Invalid client secret provided. ..."), or the error. */
static int refused(const entra_t *e, const http_resp_t *resp, const cJSON *o, ferr_t *err)
{
    const cJSON *d = o ? cJSON_GetObjectItemCaseSensitive(o, "error_description") : NULL;
    const cJSON *c = o ? cJSON_GetObjectItemCaseSensitive(o, "error") : NULL;
    const cJSON *m = o ? cJSON_GetObjectItemCaseSensitive(o, "message") : NULL;
    const char *why = cJSON_IsString(d)   ? d->valuestring
                      : cJSON_IsString(m) ? m->valuestring
                      : cJSON_IsString(c) ? c->valuestring
                                          : "no reason given";
    int wl = (int)strcspn(why, "\r\n");
    return ferr_set(err, FERR_TRANSFER, "Entra ID refused %s (HTTP %ld%s%s): %.*s", e->desc,
                    resp->status, cJSON_IsString(c) ? " " : "",
                    cJSON_IsString(c) ? c->valuestring : "", wl, why);
}

static int parse_answer(const entra_t *e, const http_resp_t *resp, char **token, time_t *expires,
                        ferr_t *err)
{
    cJSON *o = resp->body ? cJSON_ParseWithLength(resp->body, resp->body_len) : NULL;
    int rc = 0;
    const cJSON *t = o ? cJSON_GetObjectItemCaseSensitive(o, "access_token") : NULL;
    if (resp->status != 200 || !cJSON_IsString(t) || !*t->valuestring) {
        rc = resp->status == 200
                 ? ferr_set(err, FERR_TRANSFER, "Entra ID's answer for %s holds no access token",
                            e->desc)
                 : refused(e, resp, o, err);
    } else {
        *token = xstrdup(t->valuestring);
        log_add_secret(*token);
        *expires = parse_expiry(o, time(NULL));
    }
    cJSON_Delete(o);
    return rc;
}

/* --- asking --- */

static int ask(entra_t *e, const char *method, const char *url, struct curl_slist *h,
               const char *body, char **token, time_t *expires, ferr_t *err)
{
    if (!e->http && http_client_new(&e->http, NULL, err))
        return -1;
    http_req_t r = {.method = method, .url = url, .headers = h};
    if (body) {
        r.body = body;
        r.body_len = strlen(body);
        r.has_body = 1;
    }
    http_resp_t resp = {0};
    int rc = http_do(e->http, &r, &resp, err);
    if (rc)
        ferr_wrap(err, "asking for a token for %s", e->desc);
    else
        rc = parse_answer(e, &resp, token, expires, err);
    http_resp_dispose(&resp);
    return rc;
}

/* The token endpoint: client credentials, proven by a secret, a signed
 * assertion, or a federated token from a file. */
static int from_token_endpoint(entra_t *e, char **token, time_t *expires, ferr_t *err)
{
    char *url = xasprintf("%s/%s/oauth2/v2.0/token", e->authority, e->tenant);
    char *body = NULL, *proof = NULL;
    int rc = 0;
    form_add(&body, "client_id", e->client);
    form_add(&body, "scope", ENTRA_STORAGE_SCOPE);
    form_add(&body, "grant_type", "client_credentials");
    if (e->kind == EK_SECRET) {
        form_add(&body, "client_secret", e->secret);
    } else {
        if (e->kind == EK_CERT) {
            proof = assertion(e, url);
        } else {
            size_t n;
            if (path_read_all(e->token_file, &proof, &n, err) == 0) {
                while (n && (proof[n - 1] == '\n' || proof[n - 1] == '\r'))
                    proof[--n] = 0;
                log_add_secret(proof);
            } else {
                ferr_wrap(err, "workload identity: cannot read AZURE_FEDERATED_TOKEN_FILE");
            }
        }
        if (!proof)
            rc = err->msg ? -1 : ferr_set(err, FERR_INTERNAL, "cannot sign a client assertion");
        else {
            form_add(&body, "client_assertion_type",
                     "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
            form_add(&body, "client_assertion", proof);
        }
    }
    struct curl_slist *h =
        curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    h = curl_slist_append(h, "Accept: application/json");
    if (rc == 0)
        rc = ask(e, "POST", url, h, body, token, expires, err);
    curl_slist_free_all(h);
    if (body)
        explicit_bzero(body, strlen(body));
    free(body);
    free(proof);
    free(url);
    return rc;
}

/* A managed-identity endpoint: IMDS, App Service, Azure ML compute. */
static int from_managed_identity(entra_t *e, char **token, time_t *expires, ferr_t *err)
{
    char *res = http_escape(STORAGE_RESOURCE, 0);
    char *cid = e->mi_client ? http_escape(e->mi_client, 0) : NULL;
    const char *version = e->kind == EK_IMDS         ? "2018-02-01"
                          : e->kind == EK_APPSERVICE ? "2019-08-01"
                                                     : "2017-09-01";
    const char *cid_name = e->kind == EK_MSI ? "clientid" : "client_id";
    char *url = xasprintf("%s%sapi-version=%s&resource=%s%s%s%s", e->endpoint,
                          strchr(e->endpoint, '?') ? "&" : "?", version, res, cid ? "&" : "",
                          cid ? cid_name : "", cid ? "=" : "");
    if (cid) {
        char *u = xasprintf("%s%s", url, cid);
        free(url);
        url = u;
    }
    char *hdr = xasprintf("%s: %s", e->hname, e->hvalue);
    struct curl_slist *h = curl_slist_append(NULL, hdr);
    h = curl_slist_append(h, "Accept: application/json");
    int rc = ask(e, "GET", url, h, NULL, token, expires, err);
    curl_slist_free_all(h);
    explicit_bzero(hdr, strlen(hdr));
    free(hdr);
    free(url);
    free(res);
    free(cid);
    return rc;
}

void entra_stale(entra_t *e, const char *token)
{
    pthread_mutex_lock(&cache_mu);
    tok_t *t = tok_find(e->cache_key);
    /* only the token that was refused: a newer one stays */
    if (t->token && token && !strcmp(t->token, token))
        t->refresh = 0;
    pthread_mutex_unlock(&cache_mu);
}

static int fetch(entra_t *e, char **token, time_t *expires, ferr_t *err)
{
    if (e->kind <= EK_WORKLOAD)
        return from_token_endpoint(e, token, expires, err);
    return from_managed_identity(e, token, expires, err);
}

char *entra_token(entra_t *e, ferr_t *err)
{
    pthread_mutex_lock(&cache_mu);
    tok_t *t = tok_find(e->cache_key);
    for (;;) {
        time_t now = time(NULL);
        /* renewing is one thread's: the others use the token while it lasts */
        if (t->token && (now < t->refresh || (t->fetching && now + 5 < t->expires))) {
            char *copy = xstrdup(t->token);
            pthread_mutex_unlock(&cache_mu);
            return copy;
        }
        if (!t->fetching)
            break;
        unsigned gen = t->gen;
        while (t->fetching && t->gen == gen) {
            pthread_cond_wait(&cache_cv, &cache_mu);
            t = tok_find(e->cache_key); /* the array may have moved */
        }
        if (t->gen != gen && t->failed && !(t->token && time(NULL) < t->refresh)) {
            /* the fetch this thread waited on failed: its answer, not another try */
            ferr_set(err, FERR_TRANSFER, "%s", t->failed);
            pthread_mutex_unlock(&cache_mu);
            return NULL;
        }
    }
    t->fetching = 1;
    pthread_mutex_unlock(&cache_mu);
    char *token = NULL;
    time_t expires = 0;
    int rc = fetch(e, &token, &expires, err);
    pthread_mutex_lock(&cache_mu);
    t = tok_find(e->cache_key);
    t->fetching = 0;
    t->gen++;
    free(t->failed);
    t->failed = rc ? xstrdup(err->msg ? err->msg : "no token") : NULL;
    time_t now = time(NULL);
    if (rc == 0) {
        free(t->token);
        t->token = token;
        t->expires = expires;
        /* renewed well before it ends: when a fifth of its life is left (one
         * second at least, as times here are whole seconds; five minutes at most) */
        time_t life = expires > now ? expires - now : 0;
        time_t margin = life / 5 < 1 ? 1 : life / 5 > 300 ? 300 : life / 5;
        t->refresh = expires - margin;
        log_debug("got a token for %s, valid for %lld s", e->desc, (long long)life);
    } else if (t->token && now + 5 < t->expires) {
        log_warn("%s; the current token is used while it lasts", err->msg);
        ferr_clear(err);
        rc = 0;
    }
    char *copy = rc == 0 ? xstrdup(t->token) : NULL;
    pthread_cond_broadcast(&cache_cv);
    pthread_mutex_unlock(&cache_mu);
    return copy;
}

/* --- which identity --- */

static int authority_from_env(entra_t *e, ferr_t *err)
{
    e->authority = env_dup("AZURE_AUTHORITY_HOST");
    if (!e->authority)
        e->authority = xstrdup(DEFAULT_AUTHORITY);
    strip_slashes(e->authority);
    if (strncmp(e->authority, "https://", 8))
        return ferr_set(err, FERR_CONFIG,
                        "AZURE_AUTHORITY_HOST '%s': Entra ID is reached over https only",
                        e->authority);
    return 0;
}

/* A managed identity, where the Azure SDKs look: App Service's
 * IDENTITY_ENDPOINT, Azure ML compute's MSI_ENDPOINT, then IMDS (its
 * address from AZURE_POD_IDENTITY_AUTHORITY_HOST when set, as the SDKs). */
static int managed_identity(entra_t *e, ferr_t *err)
{
    const char *ie = getenv("IDENTITY_ENDPOINT"), *ih = getenv("IDENTITY_HEADER");
    const char *me = getenv("MSI_ENDPOINT"), *ms = getenv("MSI_SECRET");
    if (ie && *ie && ih && *ih) {
        e->kind = EK_APPSERVICE;
        e->endpoint = xstrdup(ie);
        e->hname = xstrdup("X-IDENTITY-HEADER");
        e->hvalue = xstrdup(ih);
    } else if (me && *me) {
        if (!ms || !*ms)
            return ferr_set(err, FERR_CONFIG,
                            "MSI_ENDPOINT is set without MSI_SECRET (Cloud Shell's identity), "
                            "which ferry does not use; unset it to use IMDS");
        e->kind = EK_MSI;
        e->endpoint = xstrdup(me);
        e->hname = xstrdup("secret");
        e->hvalue = xstrdup(ms);
    } else {
        e->kind = EK_IMDS;
        char *host = env_dup("AZURE_POD_IDENTITY_AUTHORITY_HOST");
        if (!host)
            host = xstrdup(DEFAULT_IMDS);
        strip_slashes(host);
        e->endpoint = xasprintf("%s/metadata/identity/oauth2/token", host);
        free(host);
        e->hname = xstrdup("Metadata");
        e->hvalue = xstrdup("true");
    }
    log_add_secret(e->hvalue[0] && strcmp(e->hvalue, "true") ? e->hvalue : NULL);
    static const char *const where[] = {
        "", "", "", "App Service (IDENTITY_ENDPOINT)", "Azure ML compute (MSI_ENDPOINT)", "IMDS"};
    snprintf(e->desc, sizeof e->desc, "the managed identity%s%s from %s", e->mi_client ? " " : "",
             e->mi_client ? e->mi_client : "", where[e->kind]);
    return 0;
}

/* The environment's identity, in DefaultAzureCredential's order: a service
 * principal in AZURE_* variables, workload identity, a managed identity. */
static int environment_identity(entra_t *e, const datastore_t *ds, ferr_t *err)
{
    char *tenant = ds->tenant_id ? xstrdup(ds->tenant_id) : env_dup("AZURE_TENANT_ID");
    char *client = ds->client_id ? xstrdup(ds->client_id) : env_dup("AZURE_CLIENT_ID");
    char *secret = env_dup("AZURE_CLIENT_SECRET"), *cert = env_dup("AZURE_CLIENT_CERTIFICATE_PATH");
    char *fed = env_dup("AZURE_FEDERATED_TOKEN_FILE");
    int rc = 0;
    if (tenant && client && (secret || cert)) {
        e->tenant = tenant, e->client = client, tenant = client = NULL;
        if (secret) {
            e->kind = EK_SECRET;
            e->secret = secret, secret = NULL;
            log_add_secret(e->secret);
            snprintf(e->desc, sizeof e->desc, "the client secret from $AZURE_CLIENT_SECRET");
        } else {
            char *pem = NULL;
            size_t n;
            e->kind = EK_CERT;
            rc = path_read_all(cert, &pem, &n, err)
                     ? ferr_wrap(err, "AZURE_CLIENT_CERTIFICATE_PATH")
                     : load_cert(e, pem, cert, err);
            if (pem)
                explicit_bzero(pem, n);
            free(pem);
            snprintf(e->desc, sizeof e->desc, "the certificate in %s", cert);
        }
    } else if (fed && tenant && client) {
        e->kind = EK_WORKLOAD;
        e->tenant = tenant, e->client = client, tenant = client = NULL;
        e->token_file = fed, fed = NULL;
        snprintf(e->desc, sizeof e->desc, "the workload identity (AZURE_FEDERATED_TOKEN_FILE)");
    } else {
        e->mi_client = client, client = NULL;
        rc = managed_identity(e, err);
    }
    free(tenant);
    free(client);
    free(secret);
    free(cert);
    free(fed);
    return rc;
}

static void describe_principal(entra_t *e, const datastore_t *ds, const char *what)
{
    char src[300];
    if (ds->inline_secret)
        snprintf(src, sizeof src, "given in the datastore file");
    else if (ds->cred_source == CRED_FROM_ENV)
        snprintf(src, sizeof src, "from $%s", ds->cred_ref);
    else if (ds->cred_source == CRED_FROM_FILE)
        snprintf(src, sizeof src, "in %s", ds->cred_ref);
    else
        snprintf(src, sizeof src, "stored in the workspace");
    snprintf(e->desc, sizeof e->desc, "the %s %s", what, src);
}

int entra_new(entra_t **out, const datastore_t *ds, const char *secret, ferr_t *err)
{
    *out = NULL;
    entra_t *e = xcalloc(1, sizeof *e);
    int rc = authority_from_env(e, err);
    if (rc == 0 && ds->cred_kind == CRED_IDENTITY) {
        rc = environment_identity(e, ds, err);
    } else if (rc == 0) {
        if (!ds->tenant_id || !ds->client_id)
            rc = ferr_set(err, FERR_CONFIG,
                          "datastore %s: a service principal needs a tenant id "
                          "and a client id (--tenant-id, --client-id)",
                          ds->name);
        else {
            e->tenant = xstrdup(ds->tenant_id);
            e->client = xstrdup(ds->client_id);
        }
        if (rc == 0 && ds->cred_kind == CRED_CLIENT_SECRET) {
            e->kind = EK_SECRET;
            e->secret = xstrdup(secret ? secret : "");
            describe_principal(e, ds, "client secret");
        } else if (rc == 0) {
            e->kind = EK_CERT;
            describe_principal(e, ds, "certificate");
            rc = load_cert(e, secret ? secret : "", e->desc, err);
        }
    }
    if (rc == 0 && e->client && e->kind <= EK_WORKLOAD) {
        size_t l = strlen(e->desc);
        snprintf(e->desc + l, sizeof e->desc - l, " for client %s in tenant %s", e->client,
                 e->tenant);
    }
    if (rc) {
        entra_free(e);
        return -1;
    }
    /* one token per identity: the same principal with another secret is another */
    unsigned char d[32];
    char hex[17];
    const char *proof = e->secret ? e->secret : e->x5t;
    EVP_Digest(proof, strlen(proof), d, NULL, EVP_sha256(), NULL);
    hex_encode(d, 8, hex);
    e->cache_key =
        xasprintf("%d|%s|%s|%s|%s|%s|%s|%s", e->kind, e->authority, e->tenant ? e->tenant : "",
                  e->client ? e->client : "", e->endpoint ? e->endpoint : "",
                  e->mi_client ? e->mi_client : "", hex, ENTRA_STORAGE_SCOPE);
    *out = e;
    return 0;
}

void entra_free(entra_t *e)
{
    if (!e)
        return;
    if (e->secret)
        explicit_bzero(e->secret, strlen(e->secret));
    if (e->hvalue)
        explicit_bzero(e->hvalue, strlen(e->hvalue));
    free(e->secret);
    EVP_PKEY_free(e->key);
    free(e->authority);
    free(e->tenant);
    free(e->client);
    free(e->token_file);
    free(e->endpoint);
    free(e->hname);
    free(e->hvalue);
    free(e->mi_client);
    free(e->cache_key);
    http_client_free(e->http);
    free(e);
}

const char *entra_describe(const entra_t *e)
{
    return e->desc;
}
