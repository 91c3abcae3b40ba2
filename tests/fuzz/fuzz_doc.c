/* Fuzz target: the job-file loader (YAML, and JSON with the strict check),
 * then the v2/v1 front-end's checks on whatever tree comes out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int json = 0; json < 2; json++) {
        doc_t *d = NULL;
        ferr_t err = FERR_INIT;
        if (doc_load_mem(&d, "fuzz.yml", (const char *)data, size, json, &err) == 0) {
            doc_node_t *r = doc_root(d);
            /* walk what the front-ends read */
            doc_get(r, "command");
            doc_get(doc_get(r, "inputs"), "x");
            doc_is_number(r, NULL);
            doc_is_string(r);
            doc_free(d);
        }
        ferr_clear(&err);
    }
    return 0;
}
