/* The node cache: an object is valid only once committed and while
 * unchanged, placed by link (or copy), kept per (store, name, ETag), and
 * trimmed least recently used first within its limit. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "path.h"
#include "tap.h"

static int put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* Fills the object for (store, name, etag) with text, as a download would. */
static int fill(cache_t *c, const char *name, const char *etag, const char *text)
{
    cache_obj_t o;
    ferr_t e = FERR_INIT;
    if (cache_acquire(c, "store", name, etag, &o, &e))
        return -1;
    int rc = o.valid ? 1 : put(o.path, text);
    if (rc == 0)
        cache_commit(&o);
    cache_release(&o);
    ferr_clear(&e);
    return rc;
}

static void sizes(void)
{
    uint64_t v;
    OK(cache_parse_size("10G", &v) == 0 && v == 10ull << 30, "10G");
    OK(cache_parse_size("500m", &v) == 0 && v == 500ull << 20, "500m");
    OK(cache_parse_size("1024", &v) == 0 && v == 1024, "plain bytes");
    OK(cache_parse_size("ten", &v) != 0 && cache_parse_size("-1G", &v) != 0 &&
           cache_parse_size("5X", &v) != 0,
       "nonsense, negatives and unknown units are refused");
}

int main(void)
{
    sizes();
    char dir[] = "/tmp/ferry-unit-cache.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    cache_t *c = NULL;
    ferr_t e = FERR_INIT;
    OK(cache_open(&c, dir, 10, &e) == 0, "a cache of 10 bytes opens");
    cache_obj_t o;
    OK(cache_acquire(c, "store", "a.txt", "e1", &o, &e) == 0 && !o.valid,
       "a new object is not valid");
    OK(put(o.path, "hello") == 0, "it is filled");
    cache_release(&o); /* not committed: a half-written object */
    OK(cache_acquire(c, "store", "a.txt", "e1", &o, &e) == 0 && !o.valid,
       "an object never committed is not valid");
    put(o.path, "hello");
    cache_commit(&o);
    cache_release(&o);
    OK(cache_acquire(c, "store", "a.txt", "e1", &o, &e) == 0 && o.valid,
       "a committed object is valid");
    char *dest = path_join(dir, "placed.txt");
    OK(cache_place(&o, dest, &e) == 0, "it is placed");
    struct stat a, b;
    OK(stat(o.path, &a) == 0 && stat(dest, &b) == 0 && a.st_ino == b.st_ino,
       "as a hard link (same inode)");
    cache_release(&o);
    OK(cache_acquire(c, "store", "a.txt", "e2", &o, &e) == 0 && !o.valid,
       "another ETag is another object");
    cache_release(&o);
    OK(cache_acquire(c, "other", "a.txt", "e1", &o, &e) == 0 && !o.valid,
       "another store is another object");
    cache_release(&o);
    /* written through the link: the cached object is no longer what was fetched */
    sleep(1);
    put(dest, "HELLO, changed");
    OK(cache_acquire(c, "store", "a.txt", "e1", &o, &e) == 0 && !o.valid,
       "an object changed through its link is not trusted");
    cache_release(&o);
    OK(fill(c, "old", "e", "123456") == 0, "an object");
    sleep(1);
    OK(fill(c, "new", "e", "abcdef") == 0, "a newer one");
    uint64_t freed = cache_trim(c);
    OK(freed >= 6, "over the limit, trimming frees bytes (%llu)", (unsigned long long)freed);
    OK(cache_acquire(c, "store", "old", "e", &o, &e) == 0 && !o.valid,
       "the least recently used went first");
    cache_release(&o);
    OK(cache_acquire(c, "store", "new", "e", &o, &e) == 0 && o.valid,
       "and the newer one stays: the cache is within its limit");
    cache_release(&o);
    cache_close(c);
    free(dest);
    ferr_clear(&e);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    TAP_DONE();
}
