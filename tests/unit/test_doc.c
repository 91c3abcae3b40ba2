/* The loader: positions, scalar typing, JSON strictness, awkward input. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "doc.h"
#include "tap.h"

static doc_t *load(const char *text, int json, ferr_t *err)
{
    doc_t *d = NULL;
    doc_load_mem(&d, "t.yml", text, strlen(text), json, err);
    return d;
}

/* head, then unit n times, then tail: a generated document. */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1), *p = s;
    memcpy(p, head, hl);
    p += hl;
    for (size_t i = 0; i < n; i++, p += ul)
        memcpy(p, unit, ul);
    memcpy(p, tail, tl + 1);
    return s;
}

/* Nesting: bounded, with the place and the reason, never by the stack. */
static void test_nesting(void)
{
    ferr_t err = FERR_INIT;
    char *open = repeat("", "[", 512, "");
    char *text = repeat(open, "]", 512, "");
    doc_t *d = load(text, 0, &err);
    OK(d && doc_root(d)->levels == 512, "512 nested lists load: %s", err.msg ? err.msg : "");
    doc_free(d);
    ferr_clear(&err);
    free(open);
    free(text);

    text = repeat("", "[", 513, "");
    d = load(text, 0, &err);
    OK(!d && err.msg && !strcmp(err.msg, "t.yml:1:513: nested deeper than 512 levels"),
       "the 513th level is refused where it opens: %s", err.msg);
    ferr_clear(&err);
    free(text);

    text = repeat("command: x\na: ", "[", 50000, "\n");
    d = load(text, 0, &err);
    OK(!d && err.msg && !strcmp(err.msg, "t.yml:2:515: nested deeper than 512 levels"),
       "50,000 nested [ are an error, not a crash: %s", err.msg);
    ferr_clear(&err);
    free(text);

    text = repeat("command: x\na: ", "{a: ", 50000, "\n");
    d = load(text, 0, &err);
    OK(!d && err.msg && !strcmp(err.msg, "t.yml:2:2048: nested deeper than 512 levels"),
       "50,000 nested {a: are an error, not a crash: %s", err.msg);
    ferr_clear(&err);
    free(text);

    /* JSON: cJSON gives up at 1000 levels; that is nesting, not a comma */
    open = repeat("{\"a\":\n", "[", 100000, "");
    text = repeat(open, "]", 100000, "}");
    d = load(text, 1, &err);
    OK(!d && err.msg && !strcmp(err.msg, "t.yml:2:512: nested deeper than 512 levels"),
       "100,000-deep JSON is too deep, not a missing comma: %s", err.msg);
    ferr_clear(&err);
    free(open);
    free(text);
    open = repeat("{\"a\":\n", "[", 600, "");
    text = repeat(open, "]", 600, "}");
    d = load(text, 1, &err);
    OK(!d && err.msg && !strcmp(err.msg, "t.yml:2:512: nested deeper than 512 levels"),
       "600-deep JSON, which cJSON takes, is refused at the same place: %s", err.msg);
    ferr_clear(&err);
    free(open);
    free(text);

    /* aliases nest too: a walk that follows them must stay bounded */
    char *a = repeat("a: &a ", "[", 300, "");
    char *ab = repeat(a, "]", 300, "\nb: ");
    char *b = repeat(ab, "[", 300, "*a");
    text = repeat(b, "]", 300, "\n");
    d = load(text, 0, &err);
    OK(!d && err.msg && !strcmp(err.msg, "t.yml:2:304: nested deeper than 512 levels"),
       "an alias that would nest too deep is refused where it stands: %s", err.msg);
    ferr_clear(&err);
    free(a);
    free(ab);
    free(b);
    free(text);

    d = load("a: &x [1, *x]\n", 0, &err);
    OK(!d && err.msg && strstr(err.msg, "t.yml:1:11: alias '*x' is inside the node it names"),
       "an alias inside its own anchor (a loop) is refused: %s", err.msg);
    ferr_clear(&err);
    d = load("a: &x {b: {c: *x}}\n", 0, &err);
    OK(!d && err.msg && strstr(err.msg, "(a loop)"), "also deeper inside: %s", err.msg);
    ferr_clear(&err);
}

/* Encoding problems: where they are, and whether the file was JSON. */
static void test_encoding(void)
{
    ferr_t err = FERR_INIT;
    doc_t *d = load("a: 1\nb: \"x\xff\"\n", 0, &err);
    OK(!d && err.msg &&
           !strcmp(err.msg, "t.yml:2:6: not valid YAML: not UTF-8 text (byte 0xFF here: invalid "
                            "leading UTF-8 octet); save it as UTF-8"),
       "a byte that is not UTF-8 is named where it is: %s", err.msg);
    ferr_clear(&err);
    d = load("{\"a\": 1,\n \"b\": \"\xc3\"}\n", 1, &err);
    OK(!d && err.msg && strstr(err.msg, "t.yml:2:8: not valid JSON: not UTF-8 text (byte 0xC3"),
       "in a JSON file it is not valid JSON (not YAML): %s", err.msg);
    ferr_clear(&err);
    d = load("a: \"\x07\"\n", 0, &err);
    OK(!d && err.msg &&
           strstr(err.msg, "t.yml:1:5: not valid YAML: control characters are not "
                           "allowed (U+0007)"),
       "a control character is named where it is: %s", err.msg);
    ferr_clear(&err);
    d = load("{\n\"a\": \"\\ud83d\\ude00\"}\n", 1, &err);
    OK(!d && err.msg && strstr(err.msg, "t.yml:2:") &&
           strstr(err.msg, "valid JSON that ferry cannot read") && !strstr(err.msg, "YAML"),
       "valid JSON that libyaml refuses is not called YAML: %s", err.msg);
    ferr_clear(&err);
}

/* Big mappings load in linear time: 400,000 keys would take minutes
 * comparing every pair (the alarm ends the test then), and well under a
 * second with an index, even with the sanitizers. */
static void test_many_keys(void)
{
    ferr_t err = FERR_INIT;
    size_t n = 400000;
    char *text = malloc(n * 40 + 64), *p = text;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "k%zu: &a%zu v\n", i, i);
    p += sprintf(p, "refs: [");
    for (size_t i = 0; i < n; i += 2)
        p += sprintf(p, "*a%zu, ", i);
    p += sprintf(p, "x]\n");
    alarm(120);
    doc_t *d = load(text, 0, &err);
    OK(d && doc_root(d)->n == n + 1 && doc_get(doc_root(d), "k399999") &&
           doc_get(doc_root(d), "refs")->n == n / 2 + 1,
       "400,000 keys and 200,000 aliases load: %s", err.msg ? err.msg : "");
    doc_free(d);
    ferr_clear(&err);
    sprintf(p, "k123456: again\n");
    d = load(text, 0, &err);
    OK(!d && err.msg &&
           strstr(err.msg, "t.yml:400002:1: duplicate key 'k123456' (first at line "
                           "123457)"),
       "a duplicate at the end of them is found: %s", err.msg);
    ferr_clear(&err);
    alarm(0);
    free(text);
}

/* The text of m's key k, or "" if absent. */
static const char *val(const doc_node_t *m, const char *k)
{
    const doc_node_t *v = doc_get(m, k);
    return v && v->str ? v->str : "";
}

/* YAML merge keys, as PyYAML (and so the Azure ML CLI) reads them. */
static void test_merge(void)
{
    ferr_t err = FERR_INIT;
    doc_t *d = load("base: &b {x: 1, y: 2}\n"
                    "other: &o {y: 3, z: 4}\n"
                    "m:\n  y: 9\n  <<: *b\n  w: 0\n"
                    "s:\n  <<: [*o, *b]\n",
                    0, &err);
    doc_node_t *m = d ? doc_get(doc_root(d), "m") : NULL;
    doc_node_t *s = d ? doc_get(doc_root(d), "s") : NULL;
    OK(m && m->n == 3 && !strcmp(val(m, "x"), "1") && !strcmp(val(m, "y"), "9"),
       "<<: *b merges, and a key written in the mapping wins: %s", err.msg ? err.msg : "");
    OK(m && !strcmp(m->pairs[0].key->str, "y") && !strcmp(m->pairs[1].key->str, "x") && m->n == 3 &&
           !strcmp(m->pairs[2].key->str, "w"),
       "merged entries stand where << stood");
    OK(m && !doc_get(m, "<<"), "<< itself is not a key");
    OK(s && s->n == 3 && !strcmp(val(s, "y"), "3") && !strcmp(val(s, "x"), "1") &&
           !strcmp(val(s, "z"), "4"),
       "<<: [*o, *b] merges both, the first one winning");
    doc_free(d);
    ferr_clear(&err);

    d = load("a: &a {x: 1}\nb: {'<<': *a}\n", 0, &err);
    OK(d && doc_get(doc_get(doc_root(d), "b"), "<<"), "a quoted '<<' is an ordinary key");
    doc_free(d);
    ferr_clear(&err);

    d = load("a: &a {x: 1}\nb:\n  <<: *a\n  <<: *a\n", 0, &err);
    OK(!d && err.msg && strstr(err.msg, "t.yml:4:3: duplicate key '<<' (first at line 3)"),
       "two << in one mapping are duplicates: %s", err.msg);
    ferr_clear(&err);
    d = load("b:\n  <<: 3\n", 0, &err);
    OK(!d && err.msg && strstr(err.msg, "t.yml:2:7: <<: expected a mapping or a list of mappings"),
       "<< of a scalar is refused: %s", err.msg);
    ferr_clear(&err);
    d = load("b:\n  <<: [{x: 1}, [2]]\n", 0, &err);
    OK(!d && err.msg && strstr(err.msg, "t.yml:2:16: <<: expected a mapping to merge, got a list"),
       "<< of a list holding a list is refused: %s", err.msg);
    ferr_clear(&err);
    d = load("a: &a {x: 1}\nb: {<<: *a, y: 1, y: 2}\n", 0, &err);
    OK(!d && err.msg && strstr(err.msg, "duplicate key 'y'"),
       "written keys are still checked for duplicates: %s", err.msg);
    ferr_clear(&err);

    /* each merge copies entries: many of them, chained, must stay bounded */
    char *text = malloc(40 * 2200 + 64), *p = text;
    p += sprintf(p, "m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 0}\n");
    for (int i = 1; i < 2000; i++)
        p += sprintf(p, "m%d: &m%d {<<: *m%d, k%d: 1}\n", i, i, i - 1, i);
    d = load(text, 0, &err);
    OK(!d && err.msg && strstr(err.msg, "merge keys (<<) copy more than 1000000 entries"),
       "merges that copy millions of entries are refused: %s", err.msg);
    ferr_clear(&err);
    free(text);
}

int main(void)
{
    ferr_t err = FERR_INIT;
    test_nesting();
    test_encoding();
    test_many_keys();
    test_merge();
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
