/* What every Azure Storage datastore has: an account, a container (blob
 * container, file share or ADLS filesystem), an endpoint or an account URL,
 * and its rules. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "path.h"
#include "store/backend.h"
#include "xalloc.h"

/* Azure's rules for containers, shares and filesystems: 3-63 of [a-z0-9-],
 * starting and ending with a letter or digit, no "--". */
static int container_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 63 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--"))
        return 0;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-'))
            return 0;
    return 1;
}

static int account_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 24)
        return 0;
    for (const char *p = s; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p)))
            return 0;
    return 1;
}

/* The container's option: --container, --share or --filesystem. */
static const char *container_option(const store_backend_t *b)
{
    for (const char *const *o = b->options; o && *o; o++)
        if (!strcmp(*o, "container") || !strcmp(*o, "share") || !strcmp(*o, "filesystem"))
            return *o;
    return "container";
}

int azure_from_options(datastore_t *ds, store_option_fn get, void *ud, ferr_t *err)
{
    const char *cont = container_option(ds->backend);
    if (!get(ud, "account") || !get(ud, cont))
        return ferr_set(err, FERR_USAGE, "a %s datastore needs --account and --%s",
                        ds->backend->cli_name, cont);
    if (get(ud, "endpoint") && get(ud, "account-url"))
        return ferr_set(err, FERR_USAGE, "give --endpoint or --account-url, not both");
    ds->account = xstrdup(get(ud, "account"));
    ds->container = xstrdup(get(ud, cont));
    const char *v;
    if ((v = get(ud, "endpoint")))
        ds->endpoint = xstrdup(v);
    if ((v = get(ud, "account-url")))
        ds->account_url = xstrdup(v);
    if ((v = get(ud, "protocol")))
        ds->protocol = xstrdup(v);
    if ((v = get(ud, "tenant-id")))
        ds->tenant_id = xstrdup(v);
    if ((v = get(ud, "client-id")))
        ds->client_id = xstrdup(v);
    if (!ds->endpoint && !ds->account_url)
        ds->endpoint = xstrdup("core.windows.net");
    if (!ds->protocol)
        ds->protocol =
            xstrdup(ds->account_url && !strncmp(ds->account_url, "http://", 7) ? "http" : "https");
    if ((v = get(ud, "ca-file")))
        ds->ca_file = path_absolute(v, NULL);
    return 0;
}

int azure_validate(const datastore_t *ds, ferr_t *err)
{
    if (ds->account_url && strpbrk(ds->account_url, "?#"))
        /* a SAS there would sit in datastores.json, shown by 'datastore show', and unused */
        return ferr_set(err, FERR_USAGE,
                        "datastore %s: the account URL carries a query string (a SAS token?), "
                        "which would be stored in the registry and shown; give the URL without "
                        "it, and the SAS with --sas-token-env VAR or --sas-token-file FILE "
                        "(sas_token under credentials in a datastore YAML)",
                        ds->name);
    if (!ds->account || !account_ok(ds->account))
        return ferr_set(err, FERR_USAGE,
                        "datastore %s: account name '%s': expected 3-24 lowercase letters and "
                        "digits",
                        ds->name, ds->account ? ds->account : "");
    if (!ds->container || !container_ok(ds->container))
        return ferr_set(err, FERR_USAGE,
                        "datastore %s: %s name '%s': expected 3-63 lowercase letters, digits and "
                        "single hyphens, starting and ending with a letter or digit",
                        ds->name, ds->backend->container_word, ds->container ? ds->container : "");
    if (ds->protocol && strcmp(ds->protocol, "https") && strcmp(ds->protocol, "http"))
        return ferr_set(err, FERR_USAGE, "datastore %s: protocol '%s': expected https or http",
                        ds->name, ds->protocol);
    if (ds->account_url && strncmp(ds->account_url, "https://", 8) &&
        strncmp(ds->account_url, "http://", 7))
        return ferr_set(err, FERR_USAGE,
                        "datastore %s: account URL '%s': expected http:// or https://", ds->name,
                        ds->account_url);
    if (ds->endpoint && (strchr(ds->endpoint, '/') || !strchr(ds->endpoint, '.')))
        return ferr_set(err, FERR_USAGE,
                        "datastore %s: endpoint '%s': expected a DNS suffix such as "
                        "core.windows.net",
                        ds->name, ds->endpoint);
    if ((ds->cred_kind == CRED_CLIENT_SECRET || ds->cred_kind == CRED_CLIENT_CERT) &&
        (!ds->tenant_id || !ds->client_id))
        return ferr_set(err, FERR_USAGE,
                        "datastore %s: a client secret needs --tenant-id and --client-id",
                        ds->name);
    return 0;
}
