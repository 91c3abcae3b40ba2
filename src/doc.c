#define _GNU_SOURCE
#include "doc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct doc {
    char *name;
    doc_node_t *root;
    doc_node_t **all; /* every node, freed together (aliases share nodes) */
    size_t nall, capall;
    struct anchor {
        char *name;
        doc_node_t *node;
    } *anchors;
    size_t nanchors;
};

doc_node_t *doc_root(const doc_t *d)
{
    return d->root;
}

const char *doc_name(const doc_t *d)
{
    return d->name;
}

static doc_node_t *node_new(doc_t *d, doc_kind_t kind, yaml_mark_t mark)
{
    if (d->nall == d->capall) {
        size_t cap = d->capall ? d->capall * 2 : 64;
        doc_node_t **n = realloc(d->all, cap * sizeof *n);
        if (!n)
            return NULL;
        d->all = n;
        d->capall = cap;
    }
    doc_node_t *node = calloc(1, sizeof *node);
    if (!node)
        return NULL;
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
    free(d->all);
    free(d->name);
    free(d);
}

static int add_anchor(doc_t *d, const char *name, doc_node_t *n)
{
    if (!name)
        return 0;
    struct anchor *a = realloc(d->anchors, (d->nanchors + 1) * sizeof *a);
    if (!a)
        return -1;
    d->anchors = a;
    d->anchors[d->nanchors].name = strdup(name);
    d->anchors[d->nanchors].node = n;
    d->nanchors++;
    return 0;
}

static int yaml_fail(ferr_t *err, const doc_t *d, yaml_parser_t *p)
{
    yaml_mark_t m = p->problem_offset ? p->problem_mark : p->context_mark;
    if (p->problem_mark.line || p->problem_mark.column)
        m = p->problem_mark;
    return ferr_set(err, FERR_CONFIG, "%s:%zu:%zu: not valid YAML: %s%s%s", d->name, m.line + 1,
                    m.column + 1, p->problem ? p->problem : "syntax error",
                    p->context ? " " : "", p->context ? p->context : "");
}

static int next_event(doc_t *d, yaml_parser_t *p, yaml_event_t *ev, ferr_t *err)
{
    if (!yaml_parser_parse(p, ev))
        return yaml_fail(err, d, p);
    return 0;
}

/* Builds the node that starts with ev (already read); consumes through its end. */
static int build(doc_t *d, yaml_parser_t *p, yaml_event_t *ev, doc_node_t **out, ferr_t *err)
{
    doc_node_t *n = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT: {
        for (size_t i = d->nanchors; i-- > 0;)
            if (strcmp(d->anchors[i].name, (char *)ev->data.alias.anchor) == 0) {
                *out = d->anchors[i].node;
                return 0;
            }
        return ferr_set(err, FERR_CONFIG, "%s:%zu:%zu: unknown alias '*%s'", d->name,
                        ev->start_mark.line + 1, ev->start_mark.column + 1,
                        (char *)ev->data.alias.anchor);
    }
    case YAML_SCALAR_EVENT:
        n = node_new(d, DOC_SCALAR, ev->start_mark);
        if (!n || !(n->str = strndup((char *)ev->data.scalar.value, ev->data.scalar.length)))
            return ferr_set(err, FERR_INTERNAL, "out of memory");
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        if (ev->data.scalar.tag && strcmp((char *)ev->data.scalar.tag, "!") == 0)
            n->quoted = 1;
        if (memchr(ev->data.scalar.value, 0, ev->data.scalar.length))
            return ferr_set(err, FERR_CONFIG, "%s:%d:%d: NUL character in a value", d->name,
                            n->line, n->col);
        if (add_anchor(d, (char *)ev->data.scalar.anchor, n))
            return ferr_set(err, FERR_INTERNAL, "out of memory");
        *out = n;
        return 0;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        n = node_new(d, is_map ? DOC_MAP : DOC_SEQ, ev->start_mark);
        if (!n)
            return ferr_set(err, FERR_INTERNAL, "out of memory");
        const char *anchor =
            (char *)(is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor);
        if (add_anchor(d, anchor, n))
            return ferr_set(err, FERR_INTERNAL, "out of memory");
        size_t cap = 0;
        for (;;) {
            yaml_event_t child;
            if (next_event(d, p, &child, err))
                return -1;
            if (child.type == YAML_SEQUENCE_END_EVENT || child.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&child);
                break;
            }
            doc_node_t *c = NULL;
            int r = build(d, p, &child, &c, err);
            yaml_event_delete(&child);
            if (r)
                return -1;
            if (n->n == cap) {
                cap = cap ? cap * 2 : 8;
                void *grown = is_map ? realloc(n->pairs, cap * sizeof *n->pairs)
                                     : realloc(n->items, cap * sizeof *n->items);
                if (!grown)
                    return ferr_set(err, FERR_INTERNAL, "out of memory");
                if (is_map)
                    n->pairs = grown;
                else
                    n->items = grown;
            }
            if (!is_map) {
                n->items[n->n++] = c;
                continue;
            }
            if (c->kind != DOC_SCALAR)
                return ferr_set(err, FERR_CONFIG, "%s:%d:%d: a key must be a plain string",
                                d->name, c->line, c->col);
            for (size_t i = 0; i < n->n; i++)
                if (strcmp(n->pairs[i].key->str, c->str) == 0)
                    return ferr_set(err, FERR_CONFIG,
                                    "%s:%d:%d: duplicate key '%s' (first at line %d)", d->name,
                                    c->line, c->col, c->str, n->pairs[i].key->line);
            yaml_event_t vev;
            if (next_event(d, p, &vev, err))
                return -1;
            doc_node_t *v = NULL;
            r = build(d, p, &vev, &v, err);
            yaml_event_delete(&vev);
            if (r)
                return -1;
            n->pairs[n->n].key = c;
            n->pairs[n->n].val = v;
            n->n++;
        }
        *out = n;
        return 0;
    }
    default:
        return ferr_set(err, FERR_CONFIG, "%s:%zu:%zu: unexpected YAML event", d->name,
                        ev->start_mark.line + 1, ev->start_mark.column + 1);
    }
}

/* cJSON only tells where it stopped; turn that into line:col. */
static int json_check(const char *name, const char *text, size_t len, ferr_t *err)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (j) {
        cJSON_Delete(j);
        return 0;
    }
    const char *at = end ? end : cJSON_GetErrorPtr();
    int line = 1, col = 1;
    for (const char *p = text; at && p < at && p < text + len; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return ferr_set(err, FERR_CONFIG, "%s:%d:%d: not valid JSON here (look for a missing or extra comma, quote or bracket)", name, line, col);
}

int doc_load_mem(doc_t **out, const char *name, const char *text, size_t len, int strict_json,
                 ferr_t *err)
{
    *out = NULL;
    if (strict_json && json_check(name, text, len, err))
        return -1;
    doc_t *d = calloc(1, sizeof *d);
    if (!d || !(d->name = strdup(name))) {
        free(d);
        return ferr_set(err, FERR_INTERNAL, "out of memory");
    }
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
            ferr_set(err, FERR_CONFIG, "%s:%zu:%zu: more than one YAML document in the file",
                     name, ev.start_mark.line + 1, ev.start_mark.column + 1);
            yaml_event_delete(&ev);
            goto out;
        }
        if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT ||
            t == YAML_MAPPING_START_EVENT || t == YAML_ALIAS_EVENT) {
            int r = build(d, &p, &ev, &d->root, err);
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
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return ferr_set(err, FERR_INTERNAL, "out of memory");
            }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return ferr_set(err, FERR_IO, "%s: read error", path);
    }
    size_t pl = strlen(path);
    int json = pl > 5 && strcasecmp(path + pl - 5, ".json") == 0;
    int rc = doc_load_mem(out, path, buf ? buf : "", len, json, err);
    free(buf);
    return rc;
}

doc_node_t *doc_get(const doc_node_t *n, const char *key)
{
    if (!n || n->kind != DOC_MAP)
        return NULL;
    for (size_t i = 0; i < n->n; i++)
        if (strcmp(n->pairs[i].key->str, key) == 0)
            return n->pairs[i].val;
    return NULL;
}

int doc_is_null(const doc_node_t *n)
{
    if (!n)
        return 1;
    if (n->kind != DOC_SCALAR || n->quoted)
        return 0;
    const char *s = n->str;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

int doc_is_bool(const doc_node_t *n, int *out)
{
    if (!n || n->kind != DOC_SCALAR || n->quoted)
        return 0;
    const char *s = n->str;
    int v;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
        v = 1;
    else if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
        v = 0;
    else
        return 0;
    if (out)
        *out = v;
    return 1;
}

int doc_is_int(const doc_node_t *n, long long *out)
{
    if (!n || n->kind != DOC_SCALAR || n->quoted || !*n->str)
        return 0;
    const char *s = n->str;
    int base = 10;
    if (s[0] == '0' && s[1] == 'x')
        base = 16, s += 2;
    else if (s[0] == '0' && s[1] == 'o')
        base = 8, s += 2;
    if (!*s)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, base);
    if (*end || errno)
        return 0;
    if (base != 10 && (n->str[2] == '-' || n->str[2] == '+'))
        return 0;
    if (out)
        *out = v;
    return 1;
}

int doc_is_number(const doc_node_t *n, double *out)
{
    if (!n || n->kind != DOC_SCALAR || n->quoted || !*n->str)
        return 0;
    long long i;
    if (doc_is_int(n, &i)) {
        if (out)
            *out = (double)i;
        return 1;
    }
    const char *s = n->str;
    double v;
    if (!strcmp(s, ".inf") || !strcmp(s, "+.inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF"))
        v = INFINITY;
    else if (!strcmp(s, "-.inf") || !strcmp(s, "-.Inf") || !strcmp(s, "-.INF"))
        v = -INFINITY;
    else if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))
        v = NAN;
    else {
        /* digits, one dot, optional exponent: what YAML 1.2 and JSON call a number */
        const char *p = s;
        if (*p == '-' || *p == '+')
            p++;
        int digits = 0, dot = 0;
        for (; *p; p++) {
            if (*p >= '0' && *p <= '9')
                digits++;
            else if (*p == '.' && !dot)
                dot = 1;
            else
                break;
        }
        if (!digits)
            return 0;
        if (*p == 'e' || *p == 'E') {
            p++;
            if (*p == '-' || *p == '+')
                p++;
            if (!(*p >= '0' && *p <= '9'))
                return 0;
            while (*p >= '0' && *p <= '9')
                p++;
        }
        if (*p)
            return 0;
        v = strtod(s, NULL);
    }
    if (out)
        *out = v;
    return 1;
}

int doc_is_string(const doc_node_t *n)
{
    return n && n->kind == DOC_SCALAR && !doc_is_null(n) && !doc_is_bool(n, NULL) &&
           !doc_is_number(n, NULL);
}

const char *doc_kind_name(const doc_node_t *n)
{
    if (!n || doc_is_null(n))
        return "null";
    if (n->kind == DOC_MAP)
        return "a mapping";
    if (n->kind == DOC_SEQ)
        return "a list";
    if (doc_is_bool(n, NULL))
        return "a boolean";
    if (doc_is_number(n, NULL))
        return "a number";
    return "a string";
}

int doc_error(ferr_t *err, const doc_t *d, const doc_node_t *n, const char *field,
              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = NULL;
    if (vasprintf(&m, fmt, ap) < 0)
        m = NULL;
    va_end(ap);
    ferr_set(err, FERR_CONFIG, "%s:%d:%d: %s%s%s", d->name, n ? n->line : 1, n ? n->col : 1,
             field ? field : "", field ? ": " : "", m ? m : "");
    free(m);
    return -1;
}
