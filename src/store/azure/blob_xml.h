/* Azure's XML answers, parsed with expat as the body arrives: List Blobs
 * (one page at a time, handed out once whole) and Get Block List. Each
 * parser's state is an http sink (blob_xml_feed) with its reset. */
#ifndef FERRY_STORE_AZURE_BLOB_XML_H
#define FERRY_STORE_AZURE_BLOB_XML_H

#include <expat.h>
#include <stdint.h>

#include "store.h"

/* The first member of each parser's state: the parser, and whether a
 * handler ran out of memory. */
typedef struct xsink {
    XML_Parser xp;
    int failed;
} xsink_t;

/* An HTTP date (Last-Modified), as seconds since the epoch; 0 if none. */
int64_t parse_http_date(const char *s);

/* An http sink: ud is a parser state that starts with an xsink_t. */
size_t blob_xml_feed(void *ud, const char *s, size_t n);
/* The whole body has been fed: 0 if it was one well-formed document. */
int blob_xml_end(xsink_t *x);

typedef struct lentry {
    char *name, *etag, *md5;
    uint64_t size;
    int64_t mtime;
    int is_prefix;
} lentry_t;

typedef struct blob_listing {
    xsink_t x; /* first */
    int depth, in_blob, encoded;
    char path[8][32]; /* element names from the root */
    char *text;
    size_t tlen, tcap;
    lentry_t cur;
    lentry_t *page;
    size_t n, cap;
    char *next_marker;
} blob_listing_t;

void blob_listing_reset(void *ud);
/* Hands out a whole page, entry by entry, until fn returns non-zero. */
int blob_listing_hand_out(blob_listing_t *p, store_list_fn fn, void *ud);
void blob_listing_free(blob_listing_t *p);
/* One List Blobs page: entries to fn; -1 if it is not a listing. (For tests
 * and fuzzing; blob_list streams pages through the same parser.) */
int blob_listing_parse(const char *xml, size_t n, store_list_fn fn, void *ud, char **next_marker);

typedef struct bentry {
    store_block_id_t id;
    size_t len;
    uint64_t size; /* the block's, in bytes */
    int committed;
} bentry_t;

typedef struct blob_blocklist {
    xsink_t x; /* first */
    int in_name, in_size, committed;
    int named; /* the <Block> being read has its entry (its <Name> was taken) */
    char text[128];
    size_t tlen;
    bentry_t *v;
    size_t n, cap;
} blob_blocklist_t;

void blob_blocklist_reset(void *ud);
/* Each block to fn (when rc is 0 and fn is set), then frees the state;
 * returns rc or fn's. */
int blob_blocklist_done(blob_blocklist_t *p, int rc, store_block_fn fn, void *ud);
/* One Get Block List answer: each block to fn; -1 if it is not XML. (For
 * tests and fuzzing, as above.) */
int blob_blocklist_parse(const char *xml, size_t n, store_block_fn fn, void *ud);

#endif
