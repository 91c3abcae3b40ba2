#define _GNU_SOURCE
#include "doc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <yaml.h>

#include "xalloc.h"

/* Strings found by hash: each slot holds a string's hash and 1 + its index
 * in the caller's array, whose strings the caller's name function gives.
 * Keeps key and anchor look-ups linear in the size of the file. */
typedef const char *(*ix_name_fn)(const void *ctx, size_t i);
typedef struct {
    struct ix_slot {
        uint64_t hash;
        size_t at; /* 1 + index; 0: empty */
    } * slot;
    size_t cap, n; /* cap: 0 or a power of two */
} strindex_t;

struct doc {
    char *name;
    doc_node_t *root;
    doc_node_t **all; /* every node, freed together (aliases share nodes) */
    size_t nall, capall;
    struct anchor {
        char *name;
        doc_node_t *node;
    } * anchors;
    size_t nanchors, capanchors;
    strindex_t anchor_ix;
    /* while loading */
    const char *text;
    size_t len;
    int json;      /* a .json file that passed the strict check */
    size_t merged; /* entries copied by merge keys so far */
};

doc_node_t *doc_root(const doc_t *d)
{
    return d->root;
}

const char *doc_name(const doc_t *d)
{
    return d->name;
}

static uint64_t hash_str(const char *s)
{
    static uint64_t seed;
    if (!seed) {
        /* the kernel's random bytes for this process: no one can aim at the slots */
        const void *r = (const void *)getauxval(AT_RANDOM);
        if (r)
            memcpy(&seed, r, sizeof seed);
        seed |= 1;
    }
    uint64_t h = seed ^ 0xcbf29ce484222325u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3u;
    h ^= h >> 33; /* spread every byte into the low bits */
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    return h ^ (h >> 33);
}

/* The slot holding s (hash h), or the empty one where it would go. */
static struct ix_slot *ix_find(const strindex_t *ix, const char *s, uint64_t h, ix_name_fn name,
                               const void *ctx)
{
    size_t mask = ix->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct ix_slot *sl = &ix->slot[i];
        if (!sl->at || (sl->hash == h && strcmp(name(ctx, sl->at - 1), s) == 0))
            return sl;
    }
}

/* Records that s (not yet in the index) is at index i. */
static int ix_add(strindex_t *ix, const char *s, size_t i, ix_name_fn name, const void *ctx)
{
    if ((ix->n + 1) * 4 > ix->cap * 3) {
        size_t cap = ix->cap ? ix->cap * 2 : 16;
        struct ix_slot *big = xcalloc(cap, sizeof *big);
        for (size_t k = 0; k < ix->cap; k++) {
            if (!ix->slot[k].at)
                continue;
            size_t j = (size_t)ix->slot[k].hash & (cap - 1);
            while (big[j].at)
                j = (j + 1) & (cap - 1);
            big[j] = ix->slot[k];
        }
        free(ix->slot);
        ix->slot = big;
        ix->cap = cap;
    }
    uint64_t h = hash_str(s);
    *ix_find(ix, s, h, name, ctx) = (struct ix_slot){h, i + 1};
    ix->n++;
    return 0;
}

/* The index of s, or -1. */
static long ix_get(const strindex_t *ix, const char *s, ix_name_fn name, const void *ctx)
{
    if (!ix->cap)
        return -1;
    struct ix_slot *sl = ix_find(ix, s, hash_str(s), name, ctx);
    return sl->at ? (long)(sl->at - 1) : -1;
}

static doc_node_t *node_new(doc_t *d, doc_kind_t kind, yaml_mark_t mark)
{
    if (d->nall == d->capall) {
        size_t cap = d->capall ? d->capall * 2 : 64;
        doc_node_t **n = xrealloc(d->all, cap * sizeof *n);
        d->all = n;
        d->capall = cap;
    }
    doc_node_t *node = xcalloc(1, sizeof *node);
    node->kind = kind;
    node->line = (int)mark.line + 1;
    node->col = (int)mark.column + 1;
    d->all[d->nall++] = node;
    return node;
}

void doc_free(doc_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nall; i++) {
        free(d->all[i]->str);
        free(d->all[i]->items);
        free(d->all[i]->pairs);
        free(d->all[i]);
    }
    for (size_t i = 0; i < d->nanchors; i++)
        free(d->anchors[i].name);
    free(d->anchors);
    free(d->anchor_ix.slot);
    free(d->all);
    free(d->name);
    free(d);
}

static const char *anchor_name(const void *ctx, size_t i)
{
    return ((const doc_t *)ctx)->anchors[i].name;
}

/* A later anchor of the same name replaces an earlier one, as in YAML. */
static int add_anchor(doc_t *d, const char *name, doc_node_t *n)
{
    if (!name)
        return 0;
    long at = ix_get(&d->anchor_ix, name, anchor_name, d);
    if (at >= 0) {
        d->anchors[at].node = n;
        return 0;
    }
    if (d->nanchors == d->capanchors) {
        size_t cap = d->capanchors ? d->capanchors * 2 : 16;
        struct anchor *a = xrealloc(d->anchors, cap * sizeof *a);
        d->anchors = a;
        d->capanchors = cap;
    }
    char *copy = xstrdup(name);
    d->anchors[d->nanchors] = (struct anchor){copy, n};
    if (ix_add(&d->anchor_ix, copy, d->nanchors, anchor_name, d)) {
        free(copy);
        return -1;
    }
    d->nanchors++;
    return 0;
}

/* line:col of a byte offset, counting characters as libyaml does. */
static void text_mark(const char *text, size_t len, size_t off, size_t *line, size_t *col)
{
    *line = *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            ++*line;
            *col = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            ++*col;
        }
    }
}

static int yaml_fail(ferr_t *err, const doc_t *d, yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "syntax error";
    /* a .json file here passed the strict check: it is JSON, just not what libyaml reads */
    const char *what = d->json ? "valid JSON that ferry cannot read" : "not valid YAML";
    char why[256];
    size_t line, col;
    if (p->error == YAML_READER_ERROR) {
        /* encoding problems carry a byte offset, not a mark */
        size_t at = p->problem_offset < d->len ? p->problem_offset : d->len;
        if (strstr(problem, "UTF-8")) {
            what = d->json ? "not valid JSON" : "not valid YAML";
            if (strstr(problem, "trailing")) /* point at the sequence's first byte */
                while (at > 0 && ((unsigned char)d->text[--at] & 0xC0) == 0x80)
                    ;
            snprintf(why, sizeof why, "not UTF-8 text (byte 0x%02X here: %s); save it as UTF-8",
                     at < d->len ? (unsigned char)d->text[at] : 0, problem);
        } else if (p->problem_value >= 0) {
            snprintf(why, sizeof why, "%s (U+%04X)", problem, p->problem_value);
        } else {
            snprintf(why, sizeof why, "%s", problem);
        }
        text_mark(d->text, d->len, at, &line, &col);
    } else {
        yaml_mark_t m = p->problem_offset ? p->problem_mark : p->context_mark;
        if (p->problem_mark.line || p->problem_mark.column)
            m = p->problem_mark;
        line = m.line + 1;
        col = m.column + 1;
        snprintf(why, sizeof why, "%s%s%s", problem, p->context ? " " : "",
                 p->context ? p->context : "");
    }
    return ferr_set(err, FERR_CONFIG, "%s:%zu:%zu: %s: %s", d->name, line, col, what, why);
}

static int next_event(doc_t *d, yaml_parser_t *p, yaml_event_t *ev, ferr_t *err)
{
    if (!yaml_parser_parse(p, ev))
        return yaml_fail(err, d, p);
    return 0;
}

static int too_deep(ferr_t *err, const doc_t *d, size_t line, size_t col)
{
    return ferr_set(err, FERR_CONFIG, "%s:%zu:%zu: nested deeper than %d levels", d->name, line,
                    col, DOC_MAX_DEPTH);
}

static int build(doc_t *d, yaml_parser_t *p, yaml_event_t *ev, int level, doc_node_t **out,
                 ferr_t *err);

/* The node an alias at nesting level `level` stands for. */
static int build_alias(doc_t *d, yaml_event_t *ev, int level, doc_node_t **out, ferr_t *err)
{
    const char *name = (char *)ev->data.alias.anchor;
    size_t line = ev->start_mark.line + 1, col = ev->start_mark.column + 1;
    long at = ix_get(&d->anchor_ix, name, anchor_name, d);
    if (at < 0)
        return ferr_set(err, FERR_CONFIG, "%s:%zu:%zu: unknown alias '*%s'", d->name, line, col,
                        name);
    doc_node_t *n = d->anchors[at].node;
    if (n->levels < 0) /* still open: the alias is inside its own anchor */
        return ferr_set(err, FERR_CONFIG,
                        "%s:%zu:%zu: alias '*%s' is inside the node it names (a loop)", d->name,
                        line, col, name);
    if (level - 1 + n->levels > DOC_MAX_DEPTH)
        return too_deep(err, d, line, col);
    *out = n;
    return 0;
}

static int build_scalar(doc_t *d, yaml_event_t *ev, doc_node_t **out, ferr_t *err)
{
    doc_node_t *n = node_new(d, DOC_SCALAR, ev->start_mark);
    if (!n || !(n->str = xstrndup((char *)ev->data.scalar.value, ev->data.scalar.length)))
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    if (ev->data.scalar.tag && strcmp((char *)ev->data.scalar.tag, "!") == 0)
        n->quoted = 1;
    if (memchr(ev->data.scalar.value, 0, ev->data.scalar.length))
        return ferr_set(err, FERR_CONFIG, "%s:%d:%d: NUL character in a value", d->name, n->line,
                        n->col);
    if (add_anchor(d, (char *)ev->data.scalar.anchor, n))
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    *out = n;
    return 0;
}

/* A mapping being built: its own keys (indexed), then what << merges in. */
typedef struct {
    doc_node_t *n;
    size_t cap;
    strindex_t keys;    /* indexes into own, then into merged after own */
    doc_pair_t *merged; /* entries merged in, first source first */
    size_t nmerged, capmerged;
    doc_node_t *merge_key; /* the << key, NULL if none */
    doc_node_t *merge_src; /* its value */
    size_t merge_at;       /* where the merged entries go among the own ones */
    int levels;            /* of the node so far */
} mapbuild_t;

static const char *map_key_name(const void *ctx, size_t i)
{
    const mapbuild_t *m = ctx;
    return i < m->n->n ? m->n->pairs[i].key->str : m->merged[i - m->n->n].key->str;
}

static int is_merge_key(const doc_node_t *k, const yaml_event_t *ev)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    return !strcmp(k->str, "<<") && (tag ? !strcmp(tag, "tag:yaml.org,2002:merge") : !k->quoted);
}

/* Adds the entries of one merge source that no key before them has set. */
static int merge_one(doc_t *d, mapbuild_t *m, const doc_node_t *src, ferr_t *err)
{
    if (src->kind != DOC_MAP)
        return doc_error(err, d, src, "<<", "expected a mapping to merge, got %s",
                         doc_kind_name(src));
    for (size_t i = 0; i < src->n; i++) {
        if (ix_get(&m->keys, src->pairs[i].key->str, map_key_name, m) >= 0)
            continue;
        if (++d->merged > DOC_MAX_MERGED)
            return doc_error(err, d, m->merge_key, NULL,
                             "merge keys (<<) copy more than %d entries in this file",
                             DOC_MAX_MERGED);
        if (m->nmerged == m->capmerged) {
            size_t cap = m->capmerged ? m->capmerged * 2 : 8;
            doc_pair_t *g = xrealloc(m->merged, cap * sizeof *g);
            m->merged = g;
            m->capmerged = cap;
        }
        m->merged[m->nmerged++] = src->pairs[i];
        if (src->pairs[i].val->levels + 1 > m->levels)
            m->levels = src->pairs[i].val->levels + 1;
        if (ix_add(&m->keys, src->pairs[i].key->str, m->n->n + m->nmerged - 1, map_key_name, m))
            return ferr_set(err, FERR_INTERNAL, "out of memory");
    }
    return 0;
}

/* Resolves <<: the merged entries go where it stood; written keys win. */
static int map_merge(doc_t *d, mapbuild_t *m, ferr_t *err)
{
    doc_node_t *n = m->n, *src = m->merge_src;
    if (src->kind == DOC_SEQ) {
        for (size_t i = 0; i < src->n; i++)
            if (merge_one(d, m, src->items[i], err))
                return -1;
    } else if (src->kind == DOC_MAP) {
        if (merge_one(d, m, src, err))
            return -1;
    } else {
        return doc_error(err, d, src, "<<",
                         "expected a mapping or a list of mappings to merge, "
                         "got %s",
                         doc_kind_name(src));
    }
    if (!m->nmerged)
        return 0;
    doc_pair_t *all = xmalloc((n->n + m->nmerged) * sizeof *all);
    if (n->n) {
        memcpy(all, n->pairs, m->merge_at * sizeof *all);
        memcpy(all + m->merge_at + m->nmerged, n->pairs + m->merge_at,
               (n->n - m->merge_at) * sizeof *all);
    }
    memcpy(all + m->merge_at, m->merged, m->nmerged * sizeof *all);
    free(n->pairs);
    n->pairs = all;
    n->n += m->nmerged;
    return 0;
}

/* Takes one key (already built) and reads its value. */
static int map_entry(doc_t *d, yaml_parser_t *p, mapbuild_t *m, doc_node_t *key, int merge,
                     int level, ferr_t *err)
{
    doc_node_t *n = m->n;
    if (key->kind != DOC_SCALAR)
        return ferr_set(err, FERR_CONFIG, "%s:%d:%d: a key must be a plain string", d->name,
                        key->line, key->col);
    long first = merge ? (m->merge_key ? 0 : -1) : ix_get(&m->keys, key->str, map_key_name, m);
    if (first >= 0) {
        const doc_node_t *k = merge ? m->merge_key : n->pairs[first].key;
        return ferr_set(err, FERR_CONFIG, "%s:%d:%d: duplicate key '%s' (first at line %d)",
                        d->name, key->line, key->col, key->str, k->line);
    }
    yaml_event_t vev;
    doc_node_t *v = NULL;
    if (next_event(d, p, &vev, err))
        return -1;
    int r = build(d, p, &vev, level + 1, &v, err);
    yaml_event_delete(&vev);
    if (r)
        return -1;
    if (merge) { /* only what it merges will count */
        m->merge_key = key;
        m->merge_src = v;
        m->merge_at = n->n;
        return 0;
    }
    if (n->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        doc_pair_t *g = xrealloc(n->pairs, cap * sizeof *g);
        n->pairs = g;
        m->cap = cap;
    }
    if (v->levels + 1 > m->levels)
        m->levels = v->levels + 1;
    n->pairs[n->n] = (doc_pair_t){key, v};
    if (ix_add(&m->keys, key->str, n->n, map_key_name, m))
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    n->n++;
    return 0;
}

static void seq_item(mapbuild_t *m, doc_node_t *c)
{
    doc_node_t *n = m->n;
    if (n->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        doc_node_t **g = xrealloc(n->items, cap * sizeof *g);
        n->items = g;
        m->cap = cap;
    }
    n->items[n->n++] = c;
    if (c->levels + 1 > m->levels)
        m->levels = c->levels + 1;
}

/* The children of a mapping or list, through its end event. */
static int build_children(doc_t *d, yaml_parser_t *p, mapbuild_t *m, int level, ferr_t *err)
{
    int is_map = m->n->kind == DOC_MAP;
    for (;;) {
        yaml_event_t child;
        if (next_event(d, p, &child, err))
            return -1;
        if (child.type == YAML_SEQUENCE_END_EVENT || child.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&child);
            return is_map && m->merge_src ? map_merge(d, m, err) : 0;
        }
        doc_node_t *c = NULL;
        int r = build(d, p, &child, level + 1, &c, err);
        int merge = r == 0 && is_map && child.type == YAML_SCALAR_EVENT && is_merge_key(c, &child);
        yaml_event_delete(&child);
        if (r)
            return -1;
        r = is_map ? map_entry(d, p, m, c, merge, level, err) : (seq_item(m, c), 0);
        if (r)
            return -1;
    }
}

static int build_collection(doc_t *d, yaml_parser_t *p, yaml_event_t *ev, int level,
                            doc_node_t **out, ferr_t *err)
{
    if (level > DOC_MAX_DEPTH)
        return too_deep(err, d, ev->start_mark.line + 1, ev->start_mark.column + 1);
    int is_map = ev->type == YAML_MAPPING_START_EVENT;
    doc_node_t *n = node_new(d, is_map ? DOC_MAP : DOC_SEQ, ev->start_mark);
    if (!n)
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    const char *anchor =
        (char *)(is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor);
    n->levels = -1; /* open: an alias to it now would make a loop */
    if (add_anchor(d, anchor, n))
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    mapbuild_t m = {.n = n, .levels = 1};
    int r = build_children(d, p, &m, level, err);
    free(m.keys.slot);
    free(m.merged);
    if (r)
        return -1;
    n->levels = m.levels;
    *out = n;
    return 0;
}

/* Builds the node that starts with ev (already read) at nesting level `level`
 * (the root is 1); consumes through its end. */
static int build(doc_t *d, yaml_parser_t *p, yaml_event_t *ev, int level, doc_node_t **out,
                 ferr_t *err)
{
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return build_alias(d, ev, level, out, err);
    case YAML_SCALAR_EVENT:
        return build_scalar(d, ev, out, err);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        return build_collection(d, p, ev, level, out, err);
    default:
        return ferr_set(err, FERR_CONFIG, "%s:%zu:%zu: unexpected YAML event", d->name,
                        ev->start_mark.line + 1, ev->start_mark.column + 1);
    }
}

/* Where JSON text first opens a bracket deeper than DOC_MAX_DEPTH, before upto; or -1. */
static long json_too_deep(const char *text, size_t upto)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < upto; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > DOC_MAX_DEPTH)
                return (long)i;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return -1;
}

/* cJSON only tells where it stopped; turn that into line:col, and tell a
 * nesting too deep (where cJSON gives up) from a syntax error. */
static int json_check(const doc_t *d, ferr_t *err)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(d->text, d->len, &end, 0);
    if (j) {
        cJSON_Delete(j);
        return 0;
    }
    const char *at = end ? end : cJSON_GetErrorPtr();
    size_t off = at && at >= d->text && at <= d->text + d->len ? (size_t)(at - d->text) : 0;
    size_t line, col;
    long deep = json_too_deep(d->text, off);
    if (deep >= 0) {
        text_mark(d->text, d->len, (size_t)deep, &line, &col);
        return too_deep(err, d, line, col);
    }
    text_mark(d->text, d->len, off, &line, &col);
    return ferr_set(err, FERR_CONFIG,
                    "%s:%zu:%zu: not valid JSON here (look for a missing or extra comma, quote or "
                    "bracket)",
                    d->name, line, col);
}

int doc_load_mem(doc_t **out, const char *name, const char *text, size_t len, int strict_json,
                 ferr_t *err)
{
    *out = NULL;
    doc_t *d = xcalloc(1, sizeof *d);
    if (!d || !(d->name = xstrdup(name))) {
        free(d);
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    }
    d->text = text;
    d->len = len;
    if (strict_json && json_check(d, err)) {
        doc_free(d);
        return -1;
    }
    d->json = strict_json;
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    yaml_event_t ev;
    int rc = -1, docs = 0;
    for (;;) {
        if (next_event(d, &p, &ev, err))
            goto out;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
            ferr_set(err, FERR_CONFIG, "%s:%zu:%zu: more than one YAML document in the file", name,
                     ev.start_mark.line + 1, ev.start_mark.column + 1);
            yaml_event_delete(&ev);
            goto out;
        }
        if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT ||
            t == YAML_MAPPING_START_EVENT || t == YAML_ALIAS_EVENT) {
            int r = build(d, &p, &ev, 1, &d->root, err);
            yaml_event_delete(&ev);
            if (r)
                goto out;
            continue;
        }
        yaml_event_delete(&ev);
    }
    if (!d->root) {
        ferr_set(err, FERR_CONFIG, "%s:1:1: the file is empty", name);
        goto out;
    }
    rc = 0;
out:
    yaml_parser_delete(&p);
    d->text = NULL;
    d->len = 0;
    if (rc)
        doc_free(d);
    else
        *out = d;
    return rc;
}

int doc_load_file(doc_t **out, const char *path, ferr_t *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rbe");
    if (!f)
        return ferr_errno(err, errno == ENOENT ? FERR_NOTFOUND : FERR_IO, errno, "%s", path);
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return ferr_set(err, FERR_USAGE, "%s: a folder, not a job file", path);
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > (64u << 20)) {
                free(buf);
                fclose(f);
                return ferr_set(err, FERR_CONFIG, "%s: larger than 64 MiB; not a job file", path);
            }
            char *nb = xrealloc(buf, cap);
            buf = nb;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f) ? errno : 0;
    fclose(f);
    if (bad) {
        free(buf);
        return ferr_errno(err, FERR_IO, bad, "%s: read error", path);
    }
    size_t pl = strlen(path);
    int json = pl > 5 && strcasecmp(path + pl - 5, ".json") == 0;
    int rc = doc_load_mem(out, path, buf ? buf : "", len, json, err);
    free(buf);
    return rc;
}
