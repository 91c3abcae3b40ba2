/* The transfer engine against a store whose listing is hostile: names that
 * would land outside the target must be refused with nothing written, and
 * the good ones still arrive. Then a large file in blocks, by many workers
 * (this test also runs under ThreadSanitizer): checked block by block
 * against digests, one block damaged on its first read; and checked whole,
 * hashed in order from the blocks in memory; and uploaded in blocks, each
 * with its sums, through no more buffers than blocks in flight. The stores here are test
 * doubles; real servers are tested in tests/integration. */
#include <dirent.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "path.h"
#include "store/backend.h"
#include "tap.h"
#include "xfer.h"
#include "xfer_int.h"

static const char *names[] = {"../evil.txt",     "a/../../x.txt", "/abs.txt",
                              "back\\slash.txt", "ctrl\001.txt",  "dir/",
                              "good/ok.txt",     "good/x/..",     NULL};

static int fake_list(store_t *s, const char *prefix, const char *delim, unsigned flags,
                     store_list_fn fn, void *ud, ferr_t *err)
{
    (void)s, (void)prefix, (void)delim, (void)flags, (void)err;
    for (const char **n = names; *n; n++) {
        store_entry_t e = {.name = *n, .size = strcmp(*n, "dir/") ? 5 : 0};
        int rc = fn(ud, &e);
        if (rc)
            return rc;
    }
    return 0;
}

static int fake_read(store_t *s, const store_read_t *r, ferr_t *err)
{
    (void)s, (void)err;
    return pwrite(r->fd, "hello", (size_t)r->len, (off_t)r->fd_off) == (ssize_t)r->len ? 0 : -1;
}

/* --- a large file, read in ranges by many workers --- */

#define BIG ((uint64_t)5 * XFER_BLOCK + 12345)
static pthread_mutex_t big_mu = PTHREAD_MUTEX_INITIALIZER;
static int big_reads, damage_block = -1;
static char big_md5[64];

static unsigned char byte_at(uint64_t i)
{
    return (unsigned char)((i * 2654435761u) >> 13);
}

static int big_list(store_t *s, const char *prefix, const char *delim, unsigned flags,
                    store_list_fn fn, void *ud, ferr_t *err)
{
    (void)s, (void)prefix, (void)delim, (void)flags, (void)err;
    store_entry_t e = {.name = "big.bin", .size = BIG, .etag = "e1", .md5 = big_md5};
    return fn(ud, &e);
}

static int big_read(store_t *s, const store_read_t *r, ferr_t *err)
{
    (void)s, (void)err;
    char *buf = malloc((size_t)r->len);
    for (uint64_t i = 0; i < r->len; i++)
        buf[i] = (char)byte_at(r->off + i);
    pthread_mutex_lock(&big_mu);
    big_reads++;
    int damage = damage_block >= 0 && r->off == (uint64_t)damage_block * XFER_BLOCK;
    if (damage)
        damage_block = -1; /* once: the next read of it is right */
    pthread_mutex_unlock(&big_mu);
    if (damage)
        buf[r->len / 2] ^= 0x5a;
    if (r->md5)
        EVP_Digest(buf, (size_t)r->len, r->md5, NULL, EVP_md5(), NULL);
    for (uint64_t at = 0, i = 0; r->segs && at < r->len; at += r->seg, i++)
        digest_of(r->seg_kind, buf + at, (size_t)(r->len - at < r->seg ? r->len - at : r->seg),
                  r->segs[i]);
    if (r->keep)
        memcpy(r->keep, buf, (size_t)r->len);
    int ok = pwrite(r->fd, buf, (size_t)r->len, (off_t)r->fd_off) == (ssize_t)r->len;
    free(buf);
    return ok ? 0 : -1;
}

static int digests_on; /* 1 + the kind of digest the store keeps for each block */
static int big_digests(store_t *s, const char *name, const char *etag, uint64_t size,
                       store_digest_t **out, uint32_t *n, ferr_t *err)
{
    (void)s, (void)name, (void)etag, (void)err;
    if (!digests_on)
        return 0;
    uint32_t k = (uint32_t)((size + XFER_BLOCK - 1) / XFER_BLOCK);
    store_digest_t *d = calloc(k, sizeof *d);
    char *buf = malloc(XFER_BLOCK);
    for (uint32_t b = 0; b < k; b++) {
        uint64_t off = (uint64_t)b * XFER_BLOCK;
        d[b].len = size - off < XFER_BLOCK ? size - off : XFER_BLOCK;
        for (uint64_t i = 0; i < d[b].len; i++)
            buf[i] = (char)byte_at(off + i);
        d[b].kind = (digest_kind_t)(digests_on - 1);
        digest_of(d[b].kind, buf, (size_t)d[b].len, d[b].sum);
    }
    free(buf);
    *out = d;
    *n = k;
    return 0;
}

static const store_backend_t big_backend = {
    .type = "bigfake", .cli_name = "bigfake", .caps = STORE_CAP_CLONE | STORE_CAP_RANGED_READS};
static datastore_t big_ds = {.name = (char *)"bigfake", .backend = &big_backend};

/* A worker's handle on a store double: the same double. */
static int double_clone(store_t *s, store_t **out, ferr_t *err)
{
    (void)err;
    store_t *c = calloc(1, sizeof *c);
    *c = (store_t){.ops = s->ops, .backend = s->backend, .ds = s->ds};
    *out = c;
    return 0;
}

static void big_close(store_t *s)
{
    free(s);
}

static const struct store_ops big_ops = {.list = big_list,
                                         .read = big_read,
                                         .digests = big_digests,
                                         .clone = double_clone,
                                         .close = big_close};

/* The file, downloaded into dir by 8 workers: 0 when its bytes are right. */
static int big_download(const char *dir, xfer_result_t *r, ferr_t *err)
{
    store_t s = {.ops = &big_ops, .backend = &big_backend, .ds = &big_ds};
    xfer_opts_t o = {.overwrite = 1, .label = "big", .concurrency = 8};
    big_reads = 0;
    int rc = xfer_download_prefix(&s, "", 0, dir, &o, r, err);
    char *p = path_join(dir, "big.bin");
    FILE *f = fopen(p, "rb");
    free(p);
    uint64_t i = 0;
    int c;
    while (f && (c = fgetc(f)) != EOF && (unsigned char)c == byte_at(i))
        i++;
    if (f)
        fclose(f);
    return rc == 0 && i == BIG ? 0 : -1;
}

static void big_tests(const char *top)
{
    /* the whole file's MD5, as a listing would give it */
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_md5(), NULL);
    for (uint64_t i = 0; i < BIG; i++) {
        unsigned char b = byte_at(i);
        EVP_DigestUpdate(c, &b, 1);
    }
    unsigned char md[16];
    EVP_DigestFinal_ex(c, md, NULL);
    EVP_MD_CTX_free(c);
    char *b64 = base64_encode(md, 16);
    snprintf(big_md5, sizeof big_md5, "%s", b64);
    free(b64);

    ferr_t err = FERR_INIT;
    xfer_result_t r = {0};
    for (digest_kind_t k = DIGEST_MD5; k <= DIGEST_CRC64; k++) {
        char *d1 = path_join(top, k == DIGEST_MD5 ? "big1" : "big1c");
        digests_on = 1 + (int)k;
        damage_block = 3;
        OK(big_download(d1, &r, &err) == 0 && r.files == 1,
           "block by block (%s): a damaged block is fetched again and the file is right (%s)",
           digest_name(k), err.msg ? err.msg : "ok");
        OK(big_reads == 7, "6 blocks, the damaged one read twice: 7 reads (got %d)", big_reads);
        ferr_clear(&err);
        xfer_result_free(&r);
        free(d1);
    }

    char *d2 = path_join(top, "big2");
    digests_on = 0;
    OK(big_download(d2, &r, &err) == 0 && r.files == 1,
       "whole: hashed in order from the blocks in memory, it matches (%s)",
       err.msg ? err.msg : "ok");
    ferr_clear(&err);
    xfer_result_free(&r);

    char *d3 = path_join(top, "big3");
    damage_block = 2;
    OK(big_download(d3, &r, &err) != 0 && r.failed == 1,
       "whole: a block damaged on the way fails the file");
    char *p3 = path_join(d3, "big.bin");
    OK(access(p3, F_OK) != 0, "and it is not kept under its name");
    ferr_clear(&err);
    xfer_result_free(&r);
    free(p3);
    free(d2);
    free(d3);
}

/* --- the same file uploaded in blocks by 8 workers, into a store that checks them --- */

static int up_inflight, up_most, up_bad, up_nbufs, up_commits;
static const void *up_bufs[64];
static pthread_cond_t up_cv = PTHREAD_COND_INITIALIZER;

static int up_put_block(store_t *s, const store_upload_t *u, uint32_t index, const char *id,
                        const void *buf, size_t len, const store_block_sums_t *sums, ferr_t *err)
{
    (void)s, (void)u, (void)id, (void)err;
    unsigned char md[16], *want = malloc(len);
    digest_t crc;
    for (size_t i = 0; i < len; i++)
        want[i] = byte_at((uint64_t)index * XFER_BLOCK + i);
    EVP_Digest(buf, len, md, NULL, EVP_md5(), NULL);
    digest_of(DIGEST_CRC64, buf, len, crc);
    int bad = memcmp(buf, want, len) || !sums->has_md5 || memcmp(md, sums->md5, 16) ||
              memcmp(crc, sums->crc64, digest_size(DIGEST_CRC64));
    free(want);
    pthread_mutex_lock(&big_mu);
    up_bad += bad;
    int seen = 0;
    for (int i = 0; i < up_nbufs; i++)
        seen |= up_bufs[i] == buf;
    if (!seen && up_nbufs < 64)
        up_bufs[up_nbufs++] = buf;
    /* on the wire until a second block is (once): the engine must send
     * blocks of one file in parallel; it has 2 s to */
    up_most = ++up_inflight > up_most ? up_inflight : up_most;
    pthread_cond_broadcast(&up_cv);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    while (up_most < 2 && pthread_cond_timedwait(&up_cv, &big_mu, &until) == 0)
        ;
    up_inflight--;
    pthread_mutex_unlock(&big_mu);
    return 0;
}

static int up_commit(store_t *s, const store_upload_t *u, const store_block_id_t *ids, uint32_t n,
                     const char *md5, store_put_t *put, ferr_t *err)
{
    (void)s, (void)u, (void)ids, (void)put, (void)err;
    pthread_mutex_lock(&big_mu);
    up_commits++;
    up_bad += n != 6 || !md5 || strcmp(md5, big_md5);
    pthread_mutex_unlock(&big_mu);
    return 0;
}

static int up_list(store_t *s, const char *prefix, const char *delim, unsigned flags,
                   store_list_fn fn, void *ud, ferr_t *err)
{
    (void)s, (void)prefix, (void)delim, (void)flags, (void)fn, (void)ud, (void)err;
    return 0; /* nothing there yet */
}

static const store_backend_t up_backend = {
    .type = "upfake", .cli_name = "upfake", .caps = STORE_CAP_CLONE | STORE_CAP_PARALLEL_BLOCKS};
static datastore_t up_ds = {.name = (char *)"upfake", .backend = &up_backend};

static const struct store_ops up_ops = {.list = up_list,
                                        .put_block = up_put_block,
                                        .commit_blocks = up_commit,
                                        .clone = double_clone,
                                        .close = big_close};

static void upload_tests(const char *top)
{
    char *src = path_join(top, "big.bin");
    FILE *f = fopen(src, "wb");
    for (uint64_t i = 0; f && i < BIG; i++)
        fputc(byte_at(i), f);
    OK(f && fclose(f) == 0, "a 6-block file to upload");
    store_t s = {.ops = &up_ops, .backend = &up_backend, .ds = &up_ds};
    xfer_opts_t o = {.label = "up", .concurrency = 8};
    xfer_result_t r = {0};
    ferr_t err = FERR_INIT;
    char *files[] = {src};
    int rc = xfer_upload_files(&s, files, 1, NULL, "t", &o, &r, &err);
    OK(rc == 0 && r.files == 1 && up_commits == 1, "uploaded in blocks by 8 workers (%s)",
       err.msg ? err.msg : "ok");
    OK(up_bad == 0,
       "each block's bytes, CRC64 and MD5 (one pass with the file's) are right, "
       "and the file's MD5 is committed (%d wrong)",
       up_bad);
    OK(up_most >= 2 && up_most <= PER_FILE_MAX,
       "blocks of the file in flight at once: %d (at most %d)", up_most, PER_FILE_MAX);
    OK(up_nbufs <= PER_FILE_MAX,
       "a block's buffer goes back with its place in flight: %d buffers for 8 workers", up_nbufs);
    ferr_clear(&err);
    xfer_result_free(&r);
    free(src);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    if (d)
        closedir(d);
    return n;
}

/* A file of n blocks of b MiB (the last one `last` MiB) as its digests
 * say: how many blocks go in one request (f.block / b), 0 when refused. */
static uint64_t span_of(uint32_t n, uint64_t b, uint64_t last)
{
    store_digest_t *d = calloc(n, sizeof *d);
    for (uint32_t i = 0; i < n; i++)
        d[i].len = (i + 1 < n ? b : last) << 20;
    xf_file_t f = {.size = ((uint64_t)(n - 1) * b + last) << 20};
    uint64_t k = xf_use_digests(&f, d, n) == 0 ? f.block / (b << 20) : 0;
    if (!k)
        free(d);
    free(f.done);
    free(f.digests);
    return k;
}

/* The block size a file of size bytes is moved in, and how many blocks. */
static int sized(int upload, uint64_t size, uint64_t block, uint32_t n)
{
    xf_file_t *f = xf_file_new(0, upload, "n", "/nonexistent", size, 1);
    int ok = f->block == block && f->nchunks == n;
    if (!ok)
        printf("# %s of %llu bytes: blocks of %llu, %u of them\n", upload ? "upload" : "download",
               (unsigned long long)size, (unsigned long long)f->block, f->nchunks);
    xf_file_free(f);
    return ok;
}

static void block_sizes(void)
{
    const uint64_t M = 1u << 20;
    if (getenv("FERRY_BLOCK_MIB")) {
        printf("# FERRY_BLOCK_MIB is set: the sizes ferry chooses are not checked\n");
        return;
    }
    OK(sized(1, 40 * M, 8 * M, 5), "an upload of 40 MiB: 5 blocks of 8 MiB");
    OK(sized(1, 512 * M, 8 * M, 64), "512 MiB: 64 blocks of 8 MiB");
    OK(sized(1, 512 * M + 1, 16 * M, 33), "a byte more: 33 blocks of 16 MiB");
    OK(sized(1, 1024 * M, 16 * M, 64), "1 GiB: 64 blocks of 16 MiB");
    OK(sized(0, 1024 * M, 8 * M, 128),
       "a download of 1 GiB: 8 MiB ranges (its blocks are the blob's)");
    OK(sized(1, (uint64_t)1 << 40, 21 * M, 49933),
       "1 TiB: blocks grow past 16 MiB to stay under Azure's 50,000 (21 MiB)");
}

static void spans(void)
{
    OK(span_of(128, 8, 8) == 4, "1 GiB in 8 MiB blocks: 4 blocks (32 MiB) a request");
    OK(span_of(2048, 1, 1) == 32, "2 GiB in 1 MiB blocks: 32 a request");
    OK(span_of(32, 8, 8) == 4, "256 MiB in 8 MiB blocks: 4 a request, for 8 requests");
    OK(span_of(21, 1, 1) == 2, "21 blocks of 1 MiB: 2 a request (11 requests)");
    OK(span_of(6, 8, 1) == 1, "6 blocks: one a request");
    OK(span_of(40, 100, 100) == 1, "blocks of 100 MiB: one a request");
    OK(span_of(2, 8, 9) == 0, "a last block larger than the others: refused (checked whole)");
}

int main(void)
{
    spans();
    block_sizes();
    char tmpl[] = "/tmp/ferry-xfer-XXXXXX";
    char *top = mkdtemp(tmpl);
    char *target = path_join(top, "deep/target");
    /* a backend of the test's own: a listing with hostile names */
    static const struct store_ops ops = {.list = fake_list, .read = fake_read};
    static const store_backend_t fake = {.type = "fake", .cli_name = "fake"};
    datastore_t ds = {.name = (char *)"fake", .backend = &fake};
    store_t s = {.ops = &ops, .backend = &fake, .ds = &ds};
    xfer_opts_t o = {.overwrite = 1, .label = "t"};
    xfer_result_t r = {0};
    ferr_t err = FERR_INIT;
    int rc = xfer_download_prefix(&s, "", 0, target, &o, &r, &err);
    OK(rc != 0 && err.code == FERR_TRANSFER, "a listing with hostile names fails the transfer");
    OK(r.files == 1, "the one good file arrives (got %llu)", (unsigned long long)r.files);
    OK(r.failed == 6, "the six hostile names fail (got %llu)", (unsigned long long)r.failed);
    char *ok = path_join(target, "good/ok.txt");
    struct stat st;
    OK(stat(ok, &st) == 0 && st.st_size == 5, "good/ok.txt is there, whole");
    OK(count_entries(top) == 1, "nothing was written beside the target's parent");
    char *deep = path_join(top, "deep");
    OK(count_entries(deep) == 1, "nothing was written beside the target");
    OK(count_entries(target) == 1, "the target holds only good/");
    OK(access("/abs.txt", F_OK) != 0, "nothing was written at /abs.txt");
    ferr_clear(&err);
    xfer_result_free(&r);
    big_tests(top);
    upload_tests(top);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    if (system(cmd) != 0)
        return 1;
    free(ok);
    free(deep);
    free(target);
    TAP_DONE();
}
