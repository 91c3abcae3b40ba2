/* Azure's XML answers (List Blobs, List Directories and Files, Get Block
 * List), parsed with expat as
 * the body arrives, page by page. */
#define _GNU_SOURCE
#include "store/azure/blob_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "array.h"
#include "base64.h"
#include "http.h"
#include "xalloc.h"

int64_t parse_http_date(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!s || !*s || !strptime(s, "%a, %d %b %Y %H:%M:%S", &tm))
        return 0;
    return (int64_t)timegm(&tm);
}

/* --- Azure's XML answers, parsed with expat as the body arrives --- */

static void xsink_restart(xsink_t *x, void *ud, XML_StartElementHandler start,
                          XML_EndElementHandler end, XML_CharacterDataHandler text)
{
    if (x->xp)
        XML_ParserFree(x->xp);
    x->xp = XML_ParserCreate("UTF-8");
    XML_SetUserData(x->xp, ud);
    XML_SetElementHandler(x->xp, start, end);
    XML_SetCharacterDataHandler(x->xp, text);
    x->failed = 0;
}

/* An http sink: ud is a parser state that starts with an xsink_t. */
size_t blob_xml_feed(void *ud, const char *s, size_t n)
{
    xsink_t *x = ud;
    if (XML_Parse(x->xp, s, (int)n, 0) == XML_STATUS_ERROR || x->failed)
        return 0;
    return n;
}

/* The whole body has been fed: was it one well-formed document? */
int blob_xml_end(xsink_t *x)
{
    return XML_Parse(x->xp, "", 0, 1) == XML_STATUS_ERROR || x->failed ? -1 : 0;
}

static int xsink_parse(xsink_t *x, const char *xml, size_t n)
{
    return blob_xml_feed(x, xml, n) != n ? -1 : blob_xml_end(x);
}

static void xsink_free(xsink_t *x)
{
    if (x->xp)
        XML_ParserFree(x->xp);
    x->xp = NULL;
}

/* List Blobs */

static void lentry_dispose(lentry_t *e)
{
    free(e->name);
    free(e->etag);
    free(e->md5);
    memset(e, 0, sizeof *e);
}

/* An entry of List Blobs (a blob, a prefix) or of List Directories and
 * Files (a file, a directory): the two answers share their shape. */
static int is_entry(const char *el)
{
    return !strcmp(el, "Blob") || !strcmp(el, "BlobPrefix") || !strcmp(el, "File") ||
           !strcmp(el, "Directory");
}

static void XMLCALL x_start(void *ud, const XML_Char *el, const XML_Char **attr)
{
    blob_listing_t *p = ud;
    if (p->depth < 8)
        snprintf(p->path[p->depth], sizeof p->path[0], "%s", el);
    p->depth++;
    p->tlen = 0;
    if (p->text)
        p->text[0] = 0; /* an empty element has no text, not the last one's */
    if (p->depth == 3 && is_entry(el)) {
        p->in_blob = 1;
        lentry_dispose(&p->cur);
        p->cur.is_prefix = !strcmp(el, "BlobPrefix") || !strcmp(el, "Directory");
    }
    if (p->in_blob && p->depth == 4 && !strcmp(el, "Name")) {
        p->encoded = 0;
        for (int i = 0; attr[i]; i += 2)
            if (!strcmp(attr[i], "Encoded") && !strcmp(attr[i + 1], "true"))
                p->encoded = 1;
    }
}

static void XMLCALL x_text(void *ud, const XML_Char *s, int len)
{
    blob_listing_t *p = ud;
    if (p->tlen + (size_t)len + 1 > p->tcap) {
        size_t cap = (p->tlen + (size_t)len + 1) * 2;
        char *n = xrealloc(p->text, cap);
        p->text = n;
        p->tcap = cap;
    }
    memcpy(p->text + p->tlen, s, (size_t)len);
    p->tlen += (size_t)len;
    p->text[p->tlen] = 0;
}

static char *text_dup(blob_listing_t *p)
{
    return xstrndup(p->text ? p->text : "", p->tlen);
}

static void XMLCALL x_end(void *ud, const XML_Char *el)
{
    blob_listing_t *p = ud;
    p->depth--;
    if (p->depth == 1 && !strcmp(el, "NextMarker")) {
        free(p->next_marker);
        p->next_marker = text_dup(p);
    } else if (p->in_blob && p->depth == 3 && !strcmp(el, "Name")) {
        free(p->cur.name); /* a repeated element: the last one counts */
        p->cur.name = text_dup(p);
        if (p->encoded && p->cur.name) {
            char *d = http_unescape(p->cur.name, strlen(p->cur.name));
            free(p->cur.name);
            p->cur.name = d;
        }
    } else if (p->in_blob && p->depth == 4 && !strcmp(p->path[3], "Properties")) {
        if (!strcmp(el, "Content-Length"))
            p->cur.size = strtoull(p->text ? p->text : "0", NULL, 10);
        else if (!strcmp(el, "Etag")) {
            free(p->cur.etag);
            p->cur.etag = text_dup(p);
        } else if (!strcmp(el, "Content-MD5") && p->tlen) {
            free(p->cur.md5);
            p->cur.md5 = text_dup(p);
        } else if (!strcmp(el, "Last-Modified"))
            p->cur.mtime = parse_http_date(p->text);
    } else if (p->in_blob && p->depth == 2 && is_entry(el)) {
        p->in_blob = 0;
        if (p->cur.name) {
            if (ARRAY_ROOM(p->page, p->n, p->cap, 256)) {
                p->x.failed = 1;
                return;
            }
            p->page[p->n++] = p->cur;
            memset(&p->cur, 0, sizeof p->cur);
        }
    }
    p->tlen = 0;
}

static void lparse_clear_page(blob_listing_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        lentry_dispose(&p->page[i]);
    p->n = 0;
    lentry_dispose(&p->cur);
}

void blob_listing_reset(void *ud)
{
    blob_listing_t *p = ud;
    xsink_restart(&p->x, p, x_start, x_end, x_text);
    p->depth = p->in_blob = 0;
    p->tlen = 0;
    free(p->next_marker);
    p->next_marker = NULL;
    lparse_clear_page(p);
}

/* Hands out a whole page, entry by entry, until fn returns non-zero. */
int blob_listing_hand_out(blob_listing_t *p, store_list_fn fn, void *ud)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < p->n; i++) {
        store_entry_t e = {.name = p->page[i].name,
                           .size = p->page[i].size,
                           .mtime = p->page[i].mtime,
                           .etag = p->page[i].etag,
                           .md5 = p->page[i].md5,
                           .is_prefix = p->page[i].is_prefix};
        rc = fn(ud, &e);
    }
    return rc;
}

void blob_listing_free(blob_listing_t *p)
{
    lparse_clear_page(p);
    free(p->page);
    free(p->text);
    free(p->next_marker);
    xsink_free(&p->x);
}

int blob_listing_parse(const char *xml, size_t n, store_list_fn fn, void *ud, char **next_marker)
{
    blob_listing_t p = {0};
    blob_listing_reset(&p);
    int rc = xsink_parse(&p.x, xml, n) ? -1 : blob_listing_hand_out(&p, fn, ud);
    if (next_marker)
        *next_marker = p.next_marker && *p.next_marker ? xstrdup(p.next_marker) : NULL;
    blob_listing_free(&p);
    return rc;
}

/* Get Block List, streamed through expat: every block's <Name>, decoded
 * from base64, its <Size>, and whether it is committed. */

static void XMLCALL b_start(void *ud, const XML_Char *el, const XML_Char **attr)
{
    (void)attr;
    blob_blocklist_t *p = ud;
    if (!strcmp(el, "CommittedBlocks") || !strcmp(el, "UncommittedBlocks"))
        p->committed = el[0] == 'C';
    if (!strcmp(el, "Block"))
        p->named = 0;
    p->in_name = !strcmp(el, "Name");
    p->in_size = !strcmp(el, "Size");
    p->tlen = 0;
}

static void XMLCALL b_text(void *ud, const XML_Char *s, int len)
{
    blob_blocklist_t *p = ud;
    if (!p->in_name && !p->in_size)
        return;
    if (p->tlen + (size_t)len >= sizeof p->text) {
        p->tlen = sizeof p->text; /* longer than any id Azure takes */
        return;
    }
    memcpy(p->text + p->tlen, s, (size_t)len);
    p->tlen += (size_t)len;
}

static void XMLCALL b_end(void *ud, const XML_Char *el)
{
    blob_blocklist_t *p = ud;
    if (p->in_size && !strcmp(el, "Size")) {
        p->in_size = 0;
        p->text[p->tlen < sizeof p->text ? p->tlen : sizeof p->text - 1] = 0;
        if (p->named && p->n)
            p->v[p->n - 1].size = strtoull(p->text, NULL, 10);
        return;
    }
    if (!p->in_name || strcmp(el, "Name"))
        return;
    p->in_name = 0;
    if (p->tlen >= sizeof p->text)
        return;
    p->text[p->tlen] = 0;
    if (ARRAY_ROOM(p->v, p->n, p->cap, 64)) {
        p->x.failed = 1;
        return;
    }
    bentry_t *e = &p->v[p->n];
    if (base64_decode(p->text, (unsigned char *)e->id, STORE_BLOCK_ID_MAX, &e->len) || !e->len)
        return; /* not an id Azure would take */
    e->id[e->len] = 0;
    e->committed = p->committed;
    e->size = 0;
    p->n++;
    p->named = 1;
}

void blob_blocklist_reset(void *ud)
{
    blob_blocklist_t *p = ud;
    xsink_restart(&p->x, p, b_start, b_end, b_text);
    p->in_name = p->in_size = p->committed = p->named = 0;
    p->tlen = 0;
    p->n = 0;
}

int blob_blocklist_done(blob_blocklist_t *p, int rc, store_block_fn fn, void *ud)
{
    for (size_t i = 0; fn && rc == 0 && i < p->n; i++)
        rc = fn(ud, p->v[i].id, p->v[i].len, p->v[i].committed);
    free(p->v);
    xsink_free(&p->x);
    return rc;
}

int blob_blocklist_parse(const char *xml, size_t n, store_block_fn fn, void *ud)
{
    blob_blocklist_t p = {0};
    blob_blocklist_reset(&p);
    return blob_blocklist_done(&p, xsink_parse(&p.x, xml, n) ? -1 : 0, fn, ud);
}
