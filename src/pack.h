/* Archives as a way of staging outputs: a folder packed into one archive
 * object (tar.gz, tar.zst or zip) while it is uploaded. */
#ifndef FERRY_PACK_H
#define FERRY_PACK_H

#include "error.h"
#include "store.h"
#include "xfer.h"

/* The extension of a format ferry packs ("tar.gz", "tar.zst", "zip"), or
 * NULL when format is none of them. */
const char *pack_extension(const char *format);

/* Every file below src_dir (symlinks left out; in name order) and a last
 * entry _ferry_manifest.json listing each with its SHA-256, as one archive
 * object name in s, with its MD5. The object appears whole or not at all.
 * res gets one item: the archive. */
int pack_upload(store_t *s, const char *src_dir, const char *name, const char *format,
                const char *label, xfer_result_t *res, ferr_t *err);

#endif
