/* Fuzz target: the whole job loader on arbitrary bytes, as YAML and as
 * JSON: the tree builder, then the v2 or v1 front-end (keys, modes, paths,
 * references and their substitution). Paths it checks are relative to the
 * current folder. */
#include <stdint.h>
#include <stdlib.h>

#include "job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"fuzz.yml", "fuzz.json"};
    for (int i = 0; i < 2; i++) {
        job_t *j = NULL;
        ferr_t err = FERR_INIT;
        if (job_load_mem(&j, names[i], (const char *)data, size, &err) == 0)
            job_free(j);
        ferr_clear(&err);
    }
    return 0;
}
