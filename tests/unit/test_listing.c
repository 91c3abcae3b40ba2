/* The List Blobs parser, on answers that are well-formed but unusual. */
#include <stdlib.h>

#include "store.h"
#include "store/azure/blob_xml.h"
#include "tap.h"

typedef struct got {
    char name[4][32];
    unsigned long long size[4];
    long long mtime[4];
    int n;
} got_t;

static int keep(void *ud, const store_entry_t *e)
{
    got_t *g = ud;
    if (g->n < 4) {
        snprintf(g->name[g->n], sizeof g->name[0], "%s", e->name);
        g->size[g->n] = e->size;
        g->mtime[g->n++] = e->mtime;
    }
    return 0;
}

int main(void)
{
    const char *xml =
        "<?xml version=\"1.0\"?><EnumerationResults><Blobs>"
        "<Blob><Name>a</Name><Properties><Last-Modified>Wed, 25 Nov 2026 10:00:00 GMT"
        "</Last-Modified><Content-Length>12</Content-Length></Properties></Blob>"
        "<Blob><Name>b</Name><Properties><Etag>777</Etag><Content-Length/><Last-Modified/>"
        "</Properties></Blob>"
        "</Blobs><NextMarker/></EnumerationResults>";
    got_t g = {0};
    char *next = NULL;
    OK(blob_listing_parse(xml, strlen(xml), keep, &g, &next) == 0 && g.n == 2, "two blobs");
    OK(g.size[0] == 12 && g.mtime[0] > 0, "the first with its size and time");
    OK(g.size[1] == 0 && g.mtime[1] == 0,
       "an empty Content-Length or Last-Modified is empty, not the previous blob's (%llu, %lld)",
       g.size[1], g.mtime[1]);
    OK(next == NULL, "an empty NextMarker is the last page");
    free(next);
    TAP_DONE();
}
