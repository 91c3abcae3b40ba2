/* Microsoft Entra ID (OAuth 2.0) tokens for Azure Storage: a service
 * principal with a client secret or a certificate, workload identity
 * (Kubernetes), managed identity (IMDS, App Service, Azure ML compute), and
 * the environment's identity, found in the order DefaultAzureCredential
 * looks. One token per identity and scope for the whole process, shared by
 * every worker, refreshed before it expires. */
#ifndef FERRY_STORE_AZURE_ENTRA_H
#define FERRY_STORE_AZURE_ENTRA_H

#include "datastore.h"
#include "error.h"

/* The scope of Azure Storage's data plane */
#define ENTRA_STORAGE_SCOPE "https://storage.azure.com/.default"

typedef struct entra entra_t;

/* For ds (its kind: client secret, client certificate or identity); secret:
 * the client secret, or the PEM text of the certificate and its key. */
int entra_new(entra_t **out, const datastore_t *ds, const char *secret, ferr_t *err);
void entra_free(entra_t *e);
/* "the client secret from $VAR for client C in tenant T", "the managed
 * identity (IMDS)", ... (no secret in it) */
const char *entra_describe(const entra_t *e);
/* A bearer token for the storage scope, valid for a while yet; malloc'd.
 * The error says which identity was refused and Entra's own words. */
char *entra_token(entra_t *e, ferr_t *err);
/* The service refused token (expired early, revoked): the next
 * entra_token fetches a new one, unless another thread did already. */
void entra_stale(entra_t *e, const char *token);

#endif
