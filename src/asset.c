/* The data-asset registry: <workspace>/data-assets.json. */
#define _GNU_SOURCE
#include "asset.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "path.h"
#include "xalloc.h"

#define REGISTRY "data-assets.json"
/* A registry this big is refused rather than read (one asset is < 2 KiB). */
#define REGISTRY_MAX (256u << 20)

static void asset_dispose(asset_t *a)
{
    free(a->name);
    free(a->version);
    free(a->type);
    free(a->path);
    free(a->description);
    free(a->id);
    free(a->created);
    free(a->job);
}

void asset_list_free(asset_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        asset_dispose(&l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int word_ok(const char *s, size_t max)
{
    if (!s || !isalnum((unsigned char)*s) || strlen(s) > max)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
            return 0;
    return 1;
}

int asset_name_ok(const char *s)
{
    return word_ok(s, 255);
}

int asset_version_ok(const char *s)
{
    return word_ok(s, 64);
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return n > 0;
}

int asset_version_cmp(const char *a, const char *b)
{
    while (*a || *b) {
        size_t la = strcspn(a, "."), lb = strcspn(b, ".");
        int c;
        if (all_digits(a, la) && all_digits(b, lb)) {
            while (la > 1 && *a == '0')
                a++, la--;
            while (lb > 1 && *b == '0')
                b++, lb--;
            c = la != lb ? (la < lb ? -1 : 1) : strncmp(a, b, la);
        } else {
            c = strncmp(a, b, la < lb ? la : lb);
            if (!c && la != lb)
                c = la < lb ? -1 : 1;
        }
        if (c)
            return c;
        a += la + (a[la] == '.');
        b += lb + (b[lb] == '.');
    }
    return 0;
}

static char *json_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) && v->valuestring ? xstrdup(v->valuestring) : NULL;
}

static int from_json(const cJSON *o, asset_t *a)
{
    memset(a, 0, sizeof *a);
    a->name = json_str(o, "name");
    a->version = json_str(o, "version");
    a->type = json_str(o, "type");
    a->path = json_str(o, "path");
    a->description = json_str(o, "description");
    a->id = json_str(o, "id");
    a->created = json_str(o, "created");
    a->job = json_str(o, "job");
    a->archived = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "archived"));
    if (!asset_name_ok(a->name) || !asset_version_ok(a->version) || !a->type || !a->path ||
        !a->id) {
        asset_dispose(a);
        return -1;
    }
    return 0;
}

cJSON *asset_to_json(const asset_t *a)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", a->name);
    cJSON_AddStringToObject(o, "version", a->version);
    cJSON_AddStringToObject(o, "type", a->type);
    cJSON_AddStringToObject(o, "path", a->path);
    if (a->description)
        cJSON_AddStringToObject(o, "description", a->description);
    cJSON_AddStringToObject(o, "id", a->id);
    if (a->created)
        cJSON_AddStringToObject(o, "created", a->created);
    if (a->job)
        cJSON_AddStringToObject(o, "job", a->job);
    cJSON_AddBoolToObject(o, "archived", a->archived);
    return o;
}

static int load_path(const char *path, asset_list_t *out, ferr_t *err)
{
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t len = 0;
    if (access(path, F_OK) != 0)
        return 0;
    if (path_read_all(path, &text, &len, err))
        return -1;
    if (len > REGISTRY_MAX) {
        free(text);
        return ferr_set(err, FERR_CONFIG, "%s: larger than %u MiB", path, REGISTRY_MAX >> 20);
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "assets");
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(root);
        return ferr_set(err, FERR_CONFIG,
                        "%s is not a data-asset registry (expected {\"assets\": [...]}); "
                        "move it away to start a new one",
                        path);
    }
    int n = cJSON_GetArraySize(arr), i = 0;
    out->v = xcalloc((size_t)n + 1, sizeof *out->v);
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (from_json(it, &out->v[out->n]) == 0)
            out->n++;
        else
            ferr_set(err, FERR_CONFIG, "%s: entry %d is not a data asset", path, i);
        i++;
    }
    cJSON_Delete(root);
    if (err->msg) {
        asset_list_free(out);
        return -1;
    }
    return 0;
}

int asset_load(const char *ws_dir, asset_list_t *out, ferr_t *err)
{
    char *path = path_join(ws_dir, REGISTRY);
    int rc = load_path(path, out, err);
    free(path);
    return rc;
}

static int save(const char *path, const asset_list_t *l, ferr_t *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "assets");
    for (size_t i = 0; i < l->n; i++)
        cJSON_AddItemToArray(arr, asset_to_json(&l->v[i]));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    size_t len = strlen(text);
    char *nl = xrealloc(text, len + 2);
    nl[len] = '\n';
    int rc = path_write_atomic(path, nl, len + 1, 0644, err);
    free(nl);
    return rc;
}

const asset_t *asset_find(const asset_list_t *l, const char *name, const char *version)
{
    const asset_t *best = NULL;
    for (size_t i = 0; i < l->n; i++) {
        const asset_t *a = &l->v[i];
        if (strcmp(a->name, name))
            continue;
        if (version && !strcmp(a->version, version))
            return a;
        if (!version && !a->archived && (!best || asset_version_cmp(a->version, best->version) > 0))
            best = a;
    }
    return best;
}

const asset_t *asset_find_id(const asset_list_t *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcasecmp(l->v[i].id, id))
            return &l->v[i];
    return NULL;
}

static int by_version(const void *a, const void *b)
{
    return asset_version_cmp(*(char *const *)a, *(char *const *)b);
}

char *asset_versions(const asset_list_t *l, const char *name)
{
    char **vs = xcalloc(l->n + 1, sizeof *vs);
    size_t n = 0, len = 1;
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].name, name)) {
            vs[n++] = l->v[i].version;
            len += strlen(l->v[i].version) + 2;
        }
    char *s = NULL;
    if (n) {
        qsort(vs, n, sizeof *vs, by_version);
        s = xcalloc(1, len);
        for (size_t i = 0; i < n; i++) {
            if (i)
                strcat(s, ", ");
            strcat(s, vs[i]);
        }
    }
    free(vs);
    return s;
}

/* The registry's lock, held while it is read, changed and written. */
static int lock_registry(const char *ws_dir, ferr_t *err)
{
    char *lp = path_join(ws_dir, ".data-assets.lock");
    int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    free(lp);
    if (fd < 0)
        return ferr_errno(err, FERR_IO, errno, "cannot open the data-asset registry's lock in %s",
                          ws_dir),
               -1;
    if (flock(fd, LOCK_EX) != 0) {
        ferr_errno(err, FERR_IO, errno, "cannot lock the data-asset registry in %s", ws_dir);
        close(fd);
        return -1;
    }
    return fd;
}

static char *new_id(void)
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)(rand() ^ getpid());
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    return xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                     b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                     b[13], b[14], b[15]);
}

static char *next_version(const asset_list_t *l, const char *name)
{
    unsigned long long top = 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *v = l->v[i].version;
        if (!strcmp(l->v[i].name, name) && all_digits(v, strlen(v)) && strlen(v) < 19) {
            unsigned long long x = strtoull(v, NULL, 10);
            if (x > top)
                top = x;
        }
    }
    return xasprintf("%llu", top + 1);
}

static void copy_asset(asset_t *d, const asset_t *s)
{
    d->name = xstrdup(s->name);
    d->version = s->version ? xstrdup(s->version) : NULL;
    d->type = xstrdup(s->type);
    d->path = xstrdup(s->path);
    d->description = s->description ? xstrdup(s->description) : NULL;
    d->job = s->job ? xstrdup(s->job) : NULL;
    d->archived = s->archived;
}

int asset_create(const char *ws_dir, const asset_t *a, char **version_out, ferr_t *err)
{
    if (!asset_name_ok(a->name))
        return ferr_set(err, FERR_USAGE,
                        "data asset name '%s': up to 255 letters, digits, '-', '_' and '.', "
                        "starting with a letter or digit",
                        a->name ? a->name : "");
    if (a->version && !asset_version_ok(a->version))
        return ferr_set(err, FERR_USAGE,
                        "version '%s': up to 64 letters, digits, '-', '_' and '.', starting "
                        "with a letter or digit",
                        a->version);
    int fd = lock_registry(ws_dir, err);
    if (fd < 0)
        return -1;
    char *path = path_join(ws_dir, REGISTRY);
    asset_list_t l;
    int rc = load_path(path, &l, err);
    if (rc == 0 && a->version && asset_find(&l, a->name, a->version))
        rc = ferr_set(err, FERR_EXISTS,
                      "data asset %s version %s exists, and a version never changes: create "
                      "another version",
                      a->name, a->version);
    if (rc == 0) {
        char *next = a->version ? NULL : next_version(&l, a->name);
        asset_t *n = xrealloc(l.v, (l.n + 1) * sizeof *l.v);
        l.v = n;
        asset_t *na = &l.v[l.n++];
        memset(na, 0, sizeof *na);
        copy_asset(na, a);
        if (!na->version)
            na->version = next;
        na->id = new_id();
        char t[32];
        time_t now = time(NULL);
        struct tm tm;
        strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
        na->created = xstrdup(t);
        rc = save(path, &l, err);
        if (rc == 0 && version_out)
            *version_out = xstrdup(na->version);
    }
    asset_list_free(&l);
    free(path);
    close(fd);
    return rc;
}

int asset_set_archived(const char *ws_dir, const char *name, const char *version, int archived,
                       ferr_t *err)
{
    int fd = lock_registry(ws_dir, err);
    if (fd < 0)
        return -1;
    char *path = path_join(ws_dir, REGISTRY);
    asset_list_t l;
    int rc = load_path(path, &l, err), found = 0;
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        if (!strcmp(l.v[i].name, name) && (!version || !strcmp(l.v[i].version, version))) {
            l.v[i].archived = archived;
            found++;
        }
    if (rc == 0 && !found) {
        char *vs = asset_versions(&l, name);
        rc = ferr_set(err, FERR_NOTFOUND, "no data asset %s%s%s (%s%s)", name,
                      version ? " version " : "", version ? version : "",
                      vs ? "its versions: " : "see 'ferry data list'", vs ? vs : "");
        free(vs);
    }
    if (rc == 0)
        rc = save(path, &l, err);
    asset_list_free(&l);
    free(path);
    close(fd);
    return rc;
}
