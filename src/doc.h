/* A YAML or JSON document as one tree whose every node knows its
 * file:line:col, so that any later check can say exactly where it failed. */
#ifndef FERRY_DOC_H
#define FERRY_DOC_H

#include <stddef.h>

#include "error.h"

typedef enum { DOC_SCALAR, DOC_MAP, DOC_SEQ } doc_kind_t;

/* The deepest a document may nest mappings and lists, counted through aliases
 * too, so that any walk of the tree may recurse. Deeper input is an error. */
#define DOC_MAX_DEPTH 512
/* How many entries YAML merge keys (<<) may copy in one document. */
#define DOC_MAX_MERGED 1000000

typedef struct doc_node doc_node_t;
typedef struct doc_pair {
    doc_node_t *key; /* always a scalar */
    doc_node_t *val;
} doc_pair_t;

struct doc_node {
    doc_kind_t kind;
    int line, col; /* 1-based */
    char *str;     /* DOC_SCALAR: text, as written (after YAML unquoting) */
    int quoted;    /* DOC_SCALAR: was quoted, so always a string */
    size_t n;
    doc_node_t **items; /* DOC_SEQ */
    doc_pair_t *pairs;  /* DOC_MAP, in document order (merged entries where << stood) */
    int levels;         /* mappings and lists in this node and under it (0: a scalar) */
};

typedef struct doc doc_t;

/* Loads path (YAML, or JSON: a .json file is also checked as strict JSON).
 * Merge keys (<<: *base, or a list of them) are resolved: keys written in the
 * mapping win over merged ones, and an earlier merged mapping over a later one.
 * An alias may not refer to a node that contains it. */
int doc_load_file(doc_t **out, const char *path, ferr_t *err);
/* Loads from memory; name is used in messages. */
int doc_load_mem(doc_t **out, const char *name, const char *text, size_t len, int strict_json,
                 ferr_t *err);
void doc_free(doc_t *d);

doc_node_t *doc_root(const doc_t *d);
const char *doc_name(const doc_t *d);

/* Map look-up by key; NULL if absent or n is not a map. */
doc_node_t *doc_get(const doc_node_t *n, const char *key);

/* Plain-scalar typing, YAML 1.2 core schema (quoted scalars are strings). */
int doc_is_null(const doc_node_t *n);
int doc_is_bool(const doc_node_t *n, int *out);
int doc_is_int(const doc_node_t *n, long long *out);
int doc_is_number(const doc_node_t *n, double *out);
int doc_is_string(const doc_node_t *n); /* a scalar that is not null/bool/number */
const char *doc_kind_name(const doc_node_t *n);

/* "file:line:col: field: message"; returns -1. field may be NULL. */
int doc_error(ferr_t *err, const doc_t *d, const doc_node_t *n, const char *field, const char *fmt,
              ...) __attribute__((format(printf, 5, 6)));

#endif
