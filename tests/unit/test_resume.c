/* What resuming rests on: the partial file of a large download (its
 * record, its lock, taking it over, giving it its name), the ids of upload
 * blocks, and which answers are retried. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "http.h"
#include "partial.h"
#include "path.h"
#include "store.h"
#include "store/azure/blob_xml.h"
#include "tap.h"

static char dir[] = "/tmp/ferry-unit-resume.XXXXXX";

static char *at(const char *name)
{
    return path_join(dir, name);
}

/* Another process tries to open the partial: what partial_open says there. */
static int open_elsewhere(const partial_key_t *k)
{
    pid_t pid = fork();
    if (pid == 0) {
        char *p = NULL;
        uint32_t have;
        int fd = partial_open(k, &p, &have);
        _exit(fd >= 0 ? 0 : errno == EWOULDBLOCK ? 1 : 2);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct ids {
    store_block_id_t id[4];
    size_t len[4];
    int committed[4];
    int n;
} ids_t;

static int collect(void *ud, const char *id, size_t len, int committed)
{
    ids_t *g = ud;
    if (g->n < 4) {
        memcpy(g->id[g->n], id, len + 1);
        g->len[g->n] = len;
        g->committed[g->n++] = committed;
    }
    return 0;
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    char *final = at("model.bin");
    partial_key_t k = {final, "\"0x8DC1\"", 5 * 1024 + 10, 1024};
    char *p = NULL;
    uint32_t have = 99;

    int fd = partial_open(&k, &p, &have);
    OK(fd >= 0 && have == 0, "a new partial starts at block 0");
    char *want = at(".model.bin.ferry-partial");
    STREQ(p, want, "it lives beside the final name, hidden");
    struct stat st;
    OK(fstat(fd, &st) == 0 && (uint64_t)st.st_size == k.size, "it is sized to the object at once");
    OK(open_elsewhere(&k) == 1, "another process cannot take it while it is held");
    OK(pwrite(fd, "abc", 3, 0) == 3 && partial_save(fd, &k, 3) == 0, "progress is recorded");
    close(fd); /* as a SIGKILL would leave it */
    free(p);

    fd = partial_open(&k, &p, &have);
    OK(fd >= 0 && have == 3, "the next attempt takes over the 3 recorded blocks");
    char buf[4] = {0};
    OK(pread(fd, buf, 3, 0) == 3 && !strcmp(buf, "abc"), "with their bytes");
    close(fd);
    free(p);

    partial_key_t all = k;
    fd = partial_open(&all, &p, &have);
    OK(fd >= 0 && partial_save(fd, &all, 6) == 0, "a record of every block");
    close(fd);
    free(p);
    fd = partial_open(&all, &p, &have);
    OK(have == 5, "is taken as all but the last, so the last is fetched and the whole checked");
    close(fd);
    free(p);

    partial_key_t changed = {final, "\"0x8DC2\"", k.size, k.block};
    fd = partial_open(&changed, &p, &have);
    OK(fd >= 0 && have == 0, "another ETag: the old bytes are not used");
    OK(pread(fd, buf, 3, 0) == 3 && buf[0] == 0, "and are gone");
    OK(partial_save(fd, &changed, 2) == 0, "a record for the new content");
    close(fd);
    free(p);
    partial_key_t halves = {final, changed.etag, k.size, k.block / 2};
    fd = partial_open(&halves, &p, &have);
    OK(fd >= 0 && have == 4, "blocks of half the size: the 2 recorded count as 4 (got %u)", have);
    OK(partial_save(fd, &halves, 3) == 0, "3 of those recorded");
    close(fd);
    free(p);
    fd = partial_open(&changed, &p, &have);
    OK(fd >= 0 && have == 1, "back in the first size: 1.5 blocks are 1 whole one (got %u)", have);
    OK(partial_save(fd, &changed, 2) == 0, "a record for the new content");
    partial_key_t bigger = {final, changed.etag, k.size + 1, k.block};
    close(fd);
    free(p);
    fd = partial_open(&bigger, &p, &have);
    OK(fd >= 0 && have == 0, "another size: not used either");
    OK(partial_save(fd, &bigger, 2) == 0 && partial_finish(fd, p, final) == 0,
       "a whole file takes its final name");
    OK(stat(final, &st) == 0 && (uint64_t)st.st_size == bigger.size, "the final file is there");
    OK(access(p, F_OK) != 0, "and the partial is not");
    OK(getxattr(final, "user.ferry.partial", buf, sizeof buf) < 0,
       "the final file carries no record");
    free(p);

    /* long names that share their first 200 bytes never share a partial's content */
    char la[260], lb[260];
    memset(la, 'a', 250);
    la[250] = 0;
    memcpy(lb, la, 251);
    lb[249] = 'b';
    char *fa = at(la), *fb = at(lb), *pa = NULL, *pb = NULL;
    partial_key_t ka = k, kb = k;
    ka.final = fa;
    kb.final = fb;
    fd = partial_open(&ka, &pa, &have);
    OK(fd >= 0 && partial_save(fd, &ka, 2) == 0, "a long name's partial");
    close(fd);
    fd = partial_open(&kb, &pb, &have);
    OK(fd >= 0 && have == 0 && !strcmp(pa, pb), "another long name with the same start: same file, "
                                                "but its record is not taken as its own");
    close(fd);

    /* the sweep: a partial without a record goes, one with a record stays */
    char *orphan = at(".x.bin.ferry-partial"), *dead = at(".y.bin.ferry-999999999-1.part");
    int o = open(orphan, O_CREAT | O_WRONLY, 0644), d = open(dead, O_CREAT | O_WRONLY, 0644);
    close(o);
    close(d);
    partial_sweep(dir, 0);
    OK(access(orphan, F_OK) != 0, "the sweep removes a partial that records nothing");
    OK(access(dead, F_OK) != 0, "and a dead process's temporary");
    OK(access(pb, F_OK) == 0, "but keeps one with a record, for the next run");

    /* only a plain file of ours is taken over */
    char *fc = at("c.bin"), *pc = NULL, *twin = at("twin");
    partial_key_t kc = {fc, k.etag, k.size, k.block};
    fd = partial_open(&kc, &pc, &have);
    OK(fd >= 0 && partial_save(fd, &kc, 2) == 0 && link(pc, twin) == 0,
       "a partial with a second link");
    close(fd);
    char *pc2 = NULL;
    errno = 0;
    OK(partial_open(&kc, &pc2, &have) == -1 && errno == EPERM,
       "is not taken over (someone else could change it through the link)");
    OK(partial_is_ours(".m.bin.ferry-partial") && partial_is_ours(".m.bin.ferry-12-3.part") &&
           !partial_is_ours("m.part") && !partial_is_ours(".m.ferry-x.part") &&
           !partial_is_ours("m.ferry-partial"),
       "ferry's own file names are told apart from others");

    /* upload block ids */
    digest_t m1, m2, m0;
    digest_of(DIGEST_CRC64, "123456789", 9, m1);
    digest_of(DIGEST_CRC64, "123456780", 9, m2);
    digest_of(DIGEST_CRC64, "", 0, m0);
    store_block_id_t a, b, c;
    store_block_id(a, 7, m1);
    store_block_id(b, 7, m2);
    store_block_id(c, 49999, m0);
    OK(strlen(a) == STORE_BLOCK_ID_LEN && strlen(c) == STORE_BLOCK_ID_LEN,
       "every block id has the same length, as Azure requires");
    STREQ(a, "ferry-00007-8898790a86148bae",
          "an id names the place and the content's CRC64 (Azure's, in its byte order)");
    OK(strcmp(a, b) != 0, "other content, another id");

    /* the block list: every block, committed or staged, decoded */
    char *xml = NULL;
    size_t xl = 0;
    ferr_t e = FERR_INIT;
    ids_t got = {0};
    OK(path_read_all("tests/fuzz/corpus/listing/blocklist.xml", &xml, &xl, &e) == 0 &&
           blob_blocklist_parse(xml, xl, collect, &got) == 0 && got.n == 3,
       "a Get Block List answer gives its three valid block ids (of four)");
    STREQ(got.n == 3 ? got.id[1] : NULL, "ferry-00001-0123456789abcdef0123456789abcdef",
          "decoded from base64");
    OK(got.n == 3 && got.committed[0] && !got.committed[1] && !got.committed[2],
       "each said to be committed or staged");
    OK(got.n == 3 && got.len[2] == 3 && !memcmp(got.id[2], "ABC", 3),
       "another tool's id comes with its length");
    OK(blob_blocklist_parse("<BlockList><Block>", 18, collect, &got) == -1,
       "a cut answer is refused");
    free(xml);
    ferr_clear(&e);

    free(pa);
    free(pb);
    free(fa);
    free(fb);
    free(orphan);
    free(fc);
    free(pc);
    free(twin);
    free(dead);
    free(final);
    free(want);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    TAP_DONE();
}
