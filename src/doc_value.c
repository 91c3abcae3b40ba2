/* Reading a loaded tree: look-ups, what a scalar is (YAML 1.2's core
 * schema, as the Azure ML CLI reads it), and errors at a node's place. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"

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
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
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

int doc_error(ferr_t *err, const doc_t *d, const doc_node_t *n, const char *field, const char *fmt,
              ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = NULL;
    if (vasprintf(&m, fmt, ap) < 0)
        m = NULL;
    va_end(ap);
    ferr_set(err, FERR_CONFIG, "%s:%d:%d: %s%s%s", doc_name(d), n ? n->line : 1, n ? n->col : 1,
             field ? field : "", field ? ": " : "", m ? m : "");
    free(m);
    return -1;
}
