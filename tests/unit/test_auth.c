/* SharedKey signing against known answers from the official Azure SDK for
 * JavaScript (tests/azure/sign.js printed them: requests it built and signed
 * with Azurite's documented key, caught before they left). With a file
 * argument, each line of it is checked too: tests/integration/signing.sh
 * passes a fresh set each run. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/azure/auth.h"
#include "tap.h"
#include "store.h"

static const char *const known[] = {
    "{\"method\":\"PUT\",\"url\":\"http://127.0.0.1:10000/devstoreaccount1/c/dir/"
    "a%20b%2Bc%20%C3%BC.txt?comp=block&blockid=YmxvY2s%3D\",\"headers\":{\"Content-Type\":"
    "\"application/"
    "octet-stream\",\"x-ms-version\":\"2025-11-05\",\"Content-Length\":\"5\",\"Content-MD5\":"
    "\"AQEBAQEBAQEBAQEBAQEBAQ==\",\"Accept\":\"application/"
    "xml\",\"x-ms-client-request-id\":\"5410f277-9cb4-4ced-81d0-a559a998584f\",\"x-ms-date\":\"Tue,"
    " 01 Dec 2026 19:40:47 GMT\",\"Authorization\":\"SharedKey "
    "devstoreaccount1:6pw9y+A3+Dhe/FijwJ5jaJNL0a/QhqAkvVI6AnOyNa8=\"}}",
    "{\"method\":\"GET\",\"url\":\"http://127.0.0.1:10000/devstoreaccount1/"
    "c?comp=list&prefix=x%26y%3Dz%2F&marker=m%252F1&restype=container&delimiter=%2F\",\"headers\":{"
    "\"x-ms-version\":\"2025-11-05\",\"Accept\":\"application/"
    "xml\",\"x-ms-client-request-id\":\"49dce91f-05fd-47e0-8794-3b3c86c089cf\",\"x-ms-date\":\"Tue,"
    " 01 Dec 2026 19:40:47 GMT\",\"Authorization\":\"SharedKey "
    "devstoreaccount1:mPG19Gih3iVp8+ma6GIsvvVk11hNJQEeeh0eTouGmCQ=\"}}",
    "{\"method\":\"PUT\",\"url\":\"http://127.0.0.1:10000/devstoreaccount1/c/dir/"
    "a%20b%2Bc%20%C3%BC.txt?comp=blocklist\",\"headers\":{\"Content-Type\":\"application/"
    "xml\",\"Accept\":\"application/"
    "xml\",\"x-ms-version\":\"2025-11-05\",\"x-ms-meta-Zeta\":\"last\",\"x-ms-meta-alpha\":"
    "\"first\",\"x-ms-blob-content-type\":\"text/"
    "plain\",\"x-ms-blob-content-md5\":\"AgICAgICAgICAgICAgICAg==\",\"x-ms-client-request-id\":"
    "\"cc49460c-5f22-404f-b0e6-b6c27caa7a78\",\"Content-Length\":\"128\",\"x-ms-date\":\"Tue, 01 "
    "Dec 2026 19:40:47 GMT\",\"Authorization\":\"SharedKey "
    "devstoreaccount1:U3Xpjid2RG6VjcCyFz8bVWRrZJJwfy/2IG9hki3Mlkg=\"}}",
    "{\"method\":\"PUT\",\"url\":\"http://127.0.0.1:10000/devstoreaccount1/"
    "c?restype=container\",\"headers\":{\"x-ms-version\":\"2025-11-05\",\"Accept\":\"application/"
    "xml\",\"x-ms-client-request-id\":\"0395169a-4df2-4ea7-bb50-39433b5bf117\",\"x-ms-date\":\"Tue,"
    " 01 Dec 2026 19:40:47 GMT\",\"Authorization\":\"SharedKey "
    "devstoreaccount1:vmOV1vVQMCKfWjjwvCdVFxrD3k1Fsr0dEJY0THvhe7A=\"}}",
};

/* Signs one request as ferry would, with the SDK's date; 1 when the
 * Authorization line is the SDK's. */
static int same_as_sdk(const auth_t *a, const char *line)
{
    cJSON *j = cJSON_Parse(line);
    if (!j)
        return 0;
    const char *method = cJSON_GetStringValue(cJSON_GetObjectItem(j, "method"));
    const char *url = cJSON_GetStringValue(cJSON_GetObjectItem(j, "url"));
    cJSON *h = cJSON_GetObjectItem(j, "headers"), *it;
    struct curl_slist *hs = NULL;
    const char *date = NULL, *want = NULL;
    size_t clen = 0;
    cJSON_ArrayForEach(it, h)
    {
        const char *v = cJSON_GetStringValue(it);
        if (!strcasecmp(it->string, "authorization"))
            want = v;
        else if (!strcasecmp(it->string, "x-ms-date"))
            date = v;
        else if (!strcasecmp(it->string, "content-length"))
            clen = strtoull(v, NULL, 10);
        else {
            char *l = NULL;
            if (asprintf(&l, "%s: %s", it->string, v) > 0)
                hs = curl_slist_append(hs, l);
            free(l);
        }
    }
    char *got = date ? auth_sharedkey_at(a, method, url, hs, clen, date) : NULL;
    char *exp = NULL;
    if (want && asprintf(&exp, "Authorization: %s", want) < 0)
        exp = NULL;
    int ok = got && exp && !strcmp(got, exp);
    if (!ok)
        printf("#   %s %s\n#   got      %s\n#   expected %s\n", method, url, got, exp);
    free(got);
    free(exp);
    curl_slist_free_all(hs);
    cJSON_Delete(j);
    return ok;
}

static void many_headers_and_parameters(void)
{
    struct curl_slist *hs = NULL;
    char buf[64];
    for (int i = 0; i < 200; i++) {
        snprintf(buf, sizeof buf, "x-ms-meta-k%03d: v%d", i, i);
        hs = curl_slist_append(hs, buf);
    }
    char url[4096] = "https://a.blob.core.windows.net/c/n?";
    for (int i = 0; i < 60; i++) {
        snprintf(buf, sizeof buf, "%sq%02d=%d", i ? "&" : "", i, i);
        strcat(url, buf);
    }
    char *s = auth_string_to_sign("a", "PUT", url, hs, 0, "Mon, 01 Jan 2024 00:00:00 GMT");
    OK(s && strstr(s, "\nx-ms-meta-k000:v0\n") && strstr(s, "\nx-ms-meta-k199:v199\n"),
       "all 200 x-ms- headers are signed (none dropped past a fixed array)");
    OK(s && strstr(s, "\nq00:0") && strstr(s, "\nq59:59"), "all 60 query parameters are signed");
    OK(s && strstr(s, "x-ms-date:Mon, 01 Jan 2024 00:00:00 GMT\n"), "the date is signed once");
    free(s);
    curl_slist_free_all(hs);
}

int main(int argc, char **argv)
{
    setenv("FERRY_TEST_KEY",
           "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/"
           "KBHBeksoGMGw==",
           1);
    datastore_t *ds = datastore_new("sdk", store_backend_find("azure_blob"));
    ds->account = strdup("devstoreaccount1");
    ds->container = strdup("c");
    ds->cred_kind = CRED_ACCOUNT_KEY;
    ds->cred_source = CRED_FROM_ENV;
    ds->cred_ref = strdup("FERRY_TEST_KEY");
    auth_t *a = NULL;
    ferr_t err = FERR_INIT;
    OK(auth_new(&a, ds, &err) == 0, "an account key credential");
    if (!a)
        TAP_DONE();
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        OK(same_as_sdk(a, known[i]), "known answer %zu: the SDK's signature", i + 1);
    if (argc > 1) {
        FILE *f = fopen(argv[1], "r");
        char *line = NULL;
        size_t cap = 0;
        int n = 0;
        OK(f != NULL, "live vectors in %s", argv[1]);
        while (f && getline(&line, &cap, f) > 0)
            OK(same_as_sdk(a, line), "live vector %d: the SDK's signature", ++n);
        OK(n >= 5, "the SDK signed at least 5 requests (%d)", n);
        free(line);
        if (f)
            fclose(f);
    }
    many_headers_and_parameters();
    auth_free(a);
    datastore_free(ds);
    ferr_clear(&err);
    TAP_DONE();
}
