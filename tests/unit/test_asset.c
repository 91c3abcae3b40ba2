/* The data-asset registry: version order, immutable versions, @latest,
 * archiving, ids, and a registry that is not one. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "asset.h"
#include "tap.h"

static int make(const char *dir, const char *name, const char *version, char **made)
{
    asset_t a = {.name = (char *)name,
                 .version = (char *)version,
                 .type = (char *)"uri_folder",
                 .path = (char *)"azureml://datastores/d/paths/x/"};
    ferr_t err = FERR_INIT;
    int rc = asset_create(dir, &a, made, &err);
    ferr_clear(&err);
    return rc;
}

int main(void)
{
    OK(asset_version_cmp("9", "10") < 0, "9 before 10 (as numbers)");
    OK(asset_version_cmp("1.9", "1.10") < 0, "1.9 before 1.10 (part by part)");
    OK(asset_version_cmp("010", "10") == 0, "leading zeros do not count");
    OK(asset_version_cmp("2", "2.1") < 0, "2 before 2.1");
    OK(asset_version_cmp("b", "a") > 0, "text as text");
    OK(asset_name_ok("cifar-10_v2.x") && !asset_name_ok("-x") && !asset_name_ok("a b") &&
           !asset_name_ok(""),
       "names as Azure ML allows them");

    char tmpl[] = "/tmp/ferry-asset-XXXXXX";
    const char *dir = mkdtemp(tmpl);
    asset_list_t l;
    ferr_t err = FERR_INIT;
    OK(asset_load(dir, &l, &err) == 0 && l.n == 0, "no registry: no assets");
    char *v = NULL;
    OK(make(dir, "iris", "9", &v) == 0 && !strcmp(v, "9"), "version 9 made");
    free(v);
    OK(make(dir, "iris", "10", NULL) == 0, "version 10 made");
    OK(make(dir, "iris", "10", NULL) != 0, "version 10 again refused");
    OK(make(dir, "iris", NULL, &v) == 0 && !strcmp(v, "11"), "no version: the next whole number");
    free(v);
    OK(make(dir, "iris", "1.x", NULL) == 0, "a version with text");
    OK(asset_load(dir, &l, &err) == 0 && l.n == 4, "four versions read back");
    const asset_t *a = asset_find(&l, "iris", NULL);
    OK(a && !strcmp(a->version, "11"), "latest is 11");
    OK(a && a->id && strlen(a->id) == 36 && a->id[14] == '4', "the id is a version 4 UUID");
    OK(a && asset_find_id(&l, a->id) == a, "found by its id");
    char *vs = asset_versions(&l, "iris");
    STREQ(vs, "1.x, 9, 10, 11", "versions listed in order");
    free(vs);
    OK(asset_versions(&l, "none") == NULL, "no versions of an unknown name");
    asset_list_free(&l);

    OK(asset_set_archived(dir, "iris", "11", 1, &err) == 0, "archive 11");
    asset_load(dir, &l, &err);
    a = asset_find(&l, "iris", NULL);
    OK(a && !strcmp(a->version, "10"), "latest passes an archived version by");
    a = asset_find(&l, "iris", "11");
    OK(a && a->archived, "which can still be named");
    asset_list_free(&l);
    OK(asset_set_archived(dir, "nope", NULL, 1, &err) != 0 && err.code == FERR_NOTFOUND,
       "archiving an unknown asset is not found");
    ferr_clear(&err);

    char *reg = NULL;
    if (asprintf(&reg, "%s/data-assets.json", dir) > 0) {
        FILE *f = fopen(reg, "w");
        fputs("[1, 2]", f);
        fclose(f);
    }
    OK(asset_load(dir, &l, &err) != 0 && err.msg && strstr(err.msg, "not a data-asset registry"),
       "a file that is not a registry is an error, not an empty one");
    ferr_clear(&err);
    unlink(reg);
    free(reg);
    char *lock = NULL;
    if (asprintf(&lock, "%s/.data-assets.lock", dir) > 0)
        unlink(lock);
    free(lock);
    rmdir(dir);
    TAP_DONE();
}
