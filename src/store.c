#include "store.h"

#include <stdio.h>

int store_open(store_t **out, const datastore_t *ds, ferr_t *err)
{
    *out = NULL;
    switch (ds->type) {
    case DS_LOCAL:
        return store_local_open(out, ds, err);
    case DS_AZURE_BLOB:
        return store_blob_open(out, ds, err);
    case DS_AZURE_FILE:
    case DS_ADLS_GEN2:
        break;
    }
    return ferr_set(err, FERR_UNSUPPORTED,
                    "datastore %s is of type %s, which cannot move data yet (this version of "
                    "ferry moves data on local and azure_blob datastores)",
                    ds->name, datastore_type_name(ds->type));
}

void store_close(store_t *s)
{
    if (s)
        s->ops->close(s);
}

void store_block_id(store_block_id_t out, uint32_t index, const unsigned char md5[16])
{
    int n = snprintf(out, STORE_BLOCK_ID_LEN + 1, "ferry-%05u-", index % 100000);
    for (int i = 0; i < 16; i++)
        n += snprintf(out + n, (size_t)(STORE_BLOCK_ID_LEN + 1 - n), "%02x", md5[i]);
}
