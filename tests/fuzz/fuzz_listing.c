/* Fuzz target: the parsers of Azure's XML answers (expat), as fed by the
 * service: List Blobs pages and Get Block List. One input goes to both. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"
#include "store.h"
#include "store/azure/blob_xml.h"

static int entry(void *ud, const store_entry_t *e)
{
    size_t *n = ud;
    const char *why;
    /* what the engine does with every name */
    (void)path_name_safe(e->name, &why);
    (*n) += strlen(e->name) + (e->etag ? strlen(e->etag) : 0) + (e->md5 ? strlen(e->md5) : 0);
    return 0;
}

static int block(void *ud, const char *id, size_t len, int committed)
{
    size_t *n = ud;
    (*n) += strnlen(id, len) + (size_t)committed;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 0;
    char *next = NULL;
    blob_listing_parse((const char *)data, size, entry, &n, &next);
    free(next);
    blob_blocklist_parse((const char *)data, size, block, &n);
    return 0;
}
