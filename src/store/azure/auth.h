/* Credentials for Azure Storage: SharedKey signing, SAS tokens appended to
 * URLs, Entra ID bearer tokens (entra.h), or anonymous. The secret is read when the store opens and
 * is registered with the log redactor at once. */
#ifndef FERRY_AUTH_H
#define FERRY_AUTH_H

#include <curl/curl.h>
#include <stddef.h>

#include "error.h"
#include "datastore.h"

typedef struct auth auth_t;

int auth_new(auth_t **out, const datastore_t *ds, ferr_t *err);
void auth_free(auth_t *a);
/* "the account key from $VAR", "the SAS token in FILE", "no credential (anonymous)" */
const char *auth_describe(const auth_t *a);
cred_kind_t auth_kind(const auth_t *a);
/* url with the SAS token's query appended, when there is one; malloc'd. */
char *auth_url(const auth_t *a, const char *url);
/* For SharedKey: appends x-ms-date and Authorization for this request to
 * *extra. headers are those the request carries (x-ms-*, Content-MD5, ...). */
int auth_sign(const auth_t *a, const char *method, const char *url,
              const struct curl_slist *headers, size_t content_length, struct curl_slist **extra,
              ferr_t *err);
/* Does it sign with Entra ID bearer tokens? */
int auth_bearer(const auth_t *a);
/* The service refused the last bearer token this handle sent: 1 when a
 * new one will be fetched for a second try, 0 when there is none to renew. */
int auth_refused(auth_t *a);
/* The parts of auth_sign, apart for known-answer tests: the SharedKey
 * string-to-sign of a request made at date (RFC 1123, the x-ms-date value),
 * and the whole "Authorization: SharedKey account:signature" line. malloc'd. */
char *auth_string_to_sign(const char *account, const char *method, const char *url,
                          const struct curl_slist *headers, size_t content_length,
                          const char *date);
char *auth_sharedkey_at(const auth_t *a, const char *method, const char *url,
                        const struct curl_slist *headers, size_t content_length, const char *date);

#endif
