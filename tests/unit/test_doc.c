/* The loader: positions, scalar typing, JSON strictness, awkward input. */
#include <stdlib.h>

#include "doc.h"
#include "tap.h"

static doc_t *load(const char *text, int json, ferr_t *err)
{
    doc_t *d = NULL;
    doc_load_mem(&d, "t.yml", text, strlen(text), json, err);
    return d;
}

int main(void)
{
    ferr_t err = FERR_INIT;
    doc_t *d = load("a: 1\nb:\n  c: \"x\"\n  d: [1, true, null, 2.5, hello]\n", 0, &err);
    OK(d != NULL, "a nested document loads");
    doc_node_t *b = doc_get(doc_root(d), "b");
    doc_node_t *c = doc_get(b, "c");
    OK(c && c->line == 3 && c->col == 6, "positions are 1-based line and column (got %d:%d)",
       c ? c->line : 0, c ? c->col : 0);
    OK(c && c->quoted && doc_is_string(c), "a quoted scalar is a string");
    doc_node_t *list = doc_get(b, "d");
    long long i;
    int bv;
    double dv;
    OK(list && list->kind == DOC_SEQ && list->n == 5, "a flow list has its 5 items");
    OK(doc_is_int(list->items[0], &i) && i == 1, "1 is an integer");
    OK(doc_is_bool(list->items[1], &bv) && bv == 1, "true is a boolean");
    OK(doc_is_null(list->items[2]), "null is null");
    OK(doc_is_number(list->items[3], &dv) && dv == 2.5, "2.5 is a number");
    OK(doc_is_string(list->items[4]), "hello is a string");
    doc_free(d);

    d = load("k: '1'\nv: \"true\"\n", 0, &err);
    OK(d && !doc_is_int(doc_get(doc_root(d), "k"), NULL), "a quoted '1' is not a number");
    OK(d && !doc_is_bool(doc_get(doc_root(d), "v"), NULL), "a quoted true is not a boolean");
    doc_free(d);

    d = load("a: 1\nb: 2\na: 3\n", 0, &err);
    OK(!d && err.msg && strstr(err.msg, "t.yml:3:1: duplicate key 'a' (first at line 1)"),
       "duplicate keys are refused with both lines: %s", err.msg);
    ferr_clear(&err);

    d = load("a: [1, 2\nb: 3\n", 0, &err);
    OK(!d && err.msg && strncmp(err.msg, "t.yml:", 6) == 0 && strstr(err.msg, "not valid YAML"),
       "a YAML syntax error names file:line:col: %s", err.msg);
    ferr_clear(&err);

    d = load("a: 1\r\nb:\r\n  c: x\r\n", 0, &err);
    OK(d && doc_get(doc_get(doc_root(d), "b"), "c") &&
           !strcmp(doc_get(doc_get(doc_root(d), "b"), "c")->str, "x"),
       "CRLF line ends load");
    doc_free(d);

    d = load("a: \"tab\there\"\nb: x", 0, &err);
    OK(d && !strcmp(doc_get(doc_root(d), "a")->str, "tab\there") &&
           !strcmp(doc_get(doc_root(d), "b")->str, "x"),
       "tabs in strings and no final newline");
    doc_free(d);

    d = load("{\n\t\"command\": \"echo\",\n\t\"inputs\": {\"x\":1}\n}", 1, &err);
    OK(d && doc_get(doc_root(d), "command") && doc_get(doc_root(d), "command")->line == 2,
       "JSON with tab indentation loads, with lines: %s", err.msg ? err.msg : "");
    ferr_clear(&err);
    doc_free(d);

    d = load("{\n  \"a\": 1,\n  \"b\": 2,\n}\n", 1, &err);
    OK(!d && err.msg && strstr(err.msg, "not valid JSON"), "a trailing comma is not JSON: %s",
       err.msg);
    OK(err.msg && strstr(err.msg, "t.yml:4:"), "and the error names the line: %s", err.msg);
    ferr_clear(&err);

    d = load("base: &b {x: 1}\nother: *b\n", 0, &err);
    OK(d && doc_get(doc_get(doc_root(d), "other"), "x"), "aliases resolve");
    doc_free(d);

    d = load("", 0, &err);
    OK(!d && err.msg && strstr(err.msg, "empty"), "an empty file is an error");
    ferr_clear(&err);

    d = load("a: 1\n---\nb: 2\n", 0, &err);
    OK(!d && err.msg && strstr(err.msg, "more than one YAML document"),
       "two documents are refused");
    ferr_clear(&err);

    d = load("? [a, b]\n: 1\n", 0, &err);
    OK(!d && err.msg && strstr(err.msg, "a key must be a plain string"), "complex keys refused");
    ferr_clear(&err);
    TAP_DONE();
}
