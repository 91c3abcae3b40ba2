/* The table of backends. Adding one: its files in this folder, and a row
 * here. Nothing else in ferry knows the list. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"
#include "xalloc.h"

static const store_backend_t *const backends[] = {
    &store_backend_local,     &store_backend_azure_blob, &store_backend_azure_file,
    &store_backend_adls_gen2, &store_backend_https, /* last: it takes any https URL the others do
                                                       not */
};
enum { NBACKENDS = sizeof backends / sizeof *backends };

size_t store_backend_count(void)
{
    return NBACKENDS;
}

const store_backend_t *store_backend_at(size_t i)
{
    return i < NBACKENDS ? backends[i] : NULL;
}

const store_backend_t *store_backend_find(const char *name)
{
    for (size_t i = 0; name && i < NBACKENDS; i++)
        if (!strcmp(name, backends[i]->type) ||
            (backends[i]->cli_name && !strcmp(name, backends[i]->cli_name)))
            return backends[i];
    return NULL;
}

const store_backend_t *store_backend_folder(void)
{
    return &store_backend_local;
}

const char *store_backend_type(const store_backend_t *b)
{
    return b->type;
}

const char *store_backend_cli_name(const store_backend_t *b)
{
    return b->cli_name;
}

unsigned store_backend_caps(const store_backend_t *b)
{
    return b->caps;
}

const char *store_backend_container_word(const store_backend_t *b)
{
    return b->container_word;
}

const char *store_backend_container_key(const store_backend_t *b)
{
    return b->container_key;
}

int store_backend_can_open(const store_backend_t *b)
{
    return b->open != NULL;
}

int store_backend_takes(const store_backend_t *b, const char *option)
{
    for (const char *const *o = b->options; o && *o; o++)
        if (!strcmp(*o, option))
            return 1;
    return 0;
}

/* "a, b or c" (malloc'd, whole: no buffer to outgrow as backends are added). */
static char *join(const char *const *words, size_t n, const char *pre, const char *last)
{
    char *out = xstrdup("");
    for (size_t i = 0; i < n; i++) {
        char *o = xasprintf("%s%s%s%s", out,
                            i == 0               ? ""
                            : i + 1 == n && last ? last
                                                 : ", ",
                            pre, words[i]);
        free(out);
        out = o;
    }
    return out;
}

/* The texts made from the table, built once (the table never changes). */
static struct {
    char *options[NBACKENDS], *names[2], *forms;
} texts;
static pthread_once_t texts_once = PTHREAD_ONCE_INIT;

static void texts_build(void)
{
    const char *words[NBACKENDS];
    size_t nf = 0;
    for (size_t i = 0; i < NBACKENDS; i++) {
        size_t n = 0;
        while (backends[i]->options && backends[i]->options[n])
            n++;
        texts.options[i] = join(backends[i]->options, n, "--", NULL);
        if (backends[i]->url_forms)
            words[nf++] = backends[i]->url_forms;
    }
    texts.forms = join(words, nf, "", NULL);
    for (int cli = 0; cli < 2; cli++) { /* those one registers */
        size_t n = 0;
        for (size_t i = 0; i < NBACKENDS; i++)
            if (backends[i]->cli_name)
                words[n++] = cli ? backends[i]->cli_name : backends[i]->type;
        texts.names[cli] = join(words, n, "", " or ");
    }
}

const char *store_backend_options(const store_backend_t *b)
{
    pthread_once(&texts_once, texts_build);
    for (size_t i = 0; i < NBACKENDS; i++)
        if (backends[i] == b)
            return texts.options[i];
    return "";
}

const char *store_backend_names(int cli)
{
    pthread_once(&texts_once, texts_build);
    return texts.names[cli != 0];
}

int store_validate(const datastore_t *ds, ferr_t *err)
{
    return ds->backend->validate ? ds->backend->validate(ds, err) : 0;
}

char *store_identity(const datastore_t *ds)
{
    return xasprintf("%s|%s|%s|%s|%s", ds->backend->type, ds->account_url ? ds->account_url : "",
                     ds->account ? ds->account : "", ds->endpoint ? ds->endpoint : "",
                     ds->container ? ds->container : "");
}

int store_url_parse(const char *url, const char *name, datastore_t **adhoc, char **path,
                    const char **why)
{
    *adhoc = NULL;
    *path = NULL;
    *why = NULL;
    for (size_t i = 0; i < NBACKENDS; i++) {
        if (!backends[i]->url_parse)
            continue;
        int rc = backends[i]->url_parse(backends[i], url, name, adhoc, path, why);
        if (rc != -2)
            return rc;
    }
    return -2;
}

int store_url_parse_plain(const char *url, const char *name, datastore_t **adhoc, char **path,
                          const char **why)
{
    *adhoc = NULL;
    *path = NULL;
    *why = NULL;
    for (size_t i = 0; i < NBACKENDS; i++)
        if (!(backends[i]->caps & STORE_CAP_LIST) && backends[i]->url_parse)
            return backends[i]->url_parse(backends[i], url, name, adhoc, path, why);
    return -2;
}

int store_same_place(const datastore_t *a, const datastore_t *b)
{
    /* the registered datastore's backend decides: an emulator's URL says
     * no service, and another backend's datastore may be its place */
    return a->backend->same_place && a->backend->same_place(a, b);
}

const char *store_url_forms(void)
{
    pthread_once(&texts_once, texts_build);
    return texts.forms;
}

int store_backend_from_options(const store_backend_t *b, datastore_t *ds, store_option_fn get,
                               void *ud, ferr_t *err)
{
    return b->from_options ? b->from_options(ds, get, ud, err) : 0;
}

const char *store_backend_misused(const store_backend_t *b, store_option_fn get, void *ud)
{
    for (size_t i = 0; i < NBACKENDS; i++)
        for (const char *const *o = backends[i]->options; o && *o; o++)
            if (get(ud, *o) && !store_backend_takes(b, *o))
                return *o;
    return NULL;
}

char *store_location(const datastore_t *ds)
{
    if (ds->root)
        return xstrdup(ds->root);
    if (ds->account_url)
        return xasprintf("%s/%s", ds->account_url, ds->container ? ds->container : "");
    return xasprintf("%s://%s.%s.%s/%s", ds->protocol ? ds->protocol : "https",
                     ds->account ? ds->account : "", ds->backend->service,
                     ds->endpoint ? ds->endpoint : "", ds->container ? ds->container : "");
}

const char *store_backend_option(const char *option)
{
    for (size_t i = 0; i < NBACKENDS; i++)
        for (const char *const *o = backends[i]->options; o && *o; o++)
            if (!strcmp(*o, option))
                return *o;
    return NULL;
}

const char *store_backend_usage(const store_backend_t *b)
{
    return b->usage ? b->usage : "";
}
