/* ferry's MD5 (md5two.h) against RFC 1321's test suite and OpenSSL: one
 * chain, and two at once, by vectors and without, however the bytes are
 * cut. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "md5two.h"
#include "tap.h"

static unsigned char data[(1 << 20) + 200];

static const char *hex_of(md5_t *m, char out[33])
{
    unsigned char md[16];
    md5_final(m, md);
    return hex_encode(md, 16, out);
}

static void openssl_md5(const void *p, size_t n, unsigned char out[16])
{
    EVP_Digest(p, n, out, NULL, EVP_md5(), NULL);
}

static void rfc_suite(void)
{
    static const char *const in[][2] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"1234567890123456789012345678901234567890"
         "1234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        md5_t m;
        char hex[33];
        md5_init(&m);
        md5_update(&m, in[i][0], strlen(in[i][0]));
        STREQ(hex_of(&m, hex), in[i][1], "RFC 1321: MD5(\"%.20s\")", in[i][0]);
    }
}

/* Every length to 300 (each side of the 56-byte padding edge, more than
 * four pieces), cut in two at every place for the short ones */
static void against_openssl(void)
{
    int bad = 0;
    for (size_t n = 0; n <= 300; n++)
        for (size_t cut = 0; cut <= n; cut += n < 140 ? 1 : 37) {
            unsigned char want[16], got[16];
            openssl_md5(data, n, want);
            md5_t m;
            md5_init(&m);
            md5_update(&m, data, cut);
            md5_update(&m, data + cut, n - cut);
            md5_final(&m, got);
            bad += memcmp(got, want, 16) != 0;
        }
    OK(bad == 0, "lengths 0-300 cut anywhere: OpenSSL's MD5 (%d wrong)", bad);
    unsigned char want[16], got[16];
    openssl_md5(data, sizeof data, want);
    md5_t m;
    md5_init(&m);
    md5_update(&m, data, sizeof data);
    md5_final(&m, got);
    OK(!memcmp(got, want, 16), "1 MiB and 200 bytes in one go");
}

typedef void update2_fn(md5_t *a, md5_t *b, const void *p, size_t n);

/* A file of blocks of size block: the whole file's MD5 and each block's,
 * both taken by update2 from one pass; 0 when every one is OpenSSL's */
static int blocks(update2_fn *update2, size_t size, size_t block, size_t skew)
{
    int bad = 0;
    md5_t whole;
    md5_init(&whole);
    md5_update(&whole, data, skew); /* (before the blocks: a whole not on a 64-byte edge) */
    for (size_t off = skew; off < size; off += block) {
        size_t n = size - off < block ? size - off : block;
        md5_t own;
        md5_init(&own);
        update2(&whole, &own, data + off, n);
        unsigned char want[16], got[16];
        md5_final(&own, got);
        openssl_md5(data + off, n, want);
        bad += memcmp(got, want, 16) != 0;
    }
    unsigned char want[16], got[16];
    md5_final(&whole, got);
    openssl_md5(data, size, want);
    return bad + (memcmp(got, want, 16) != 0);
}

static void two_at_once(update2_fn *update2, const char *how)
{
    int bad = 0;
    size_t sizes[] = {0, 1, 63, 64, 65, 4096, 100000, sizeof data};
    size_t lens[] = {64, 128, 4096, 65536, 1000, 77, 1};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        for (size_t j = 0; j < sizeof lens / sizeof *lens; j++)
            bad += blocks(update2, sizes[i], lens[j], 0);
    OK(bad == 0,
       "%s: a file and each of its blocks, blocks of 64 bytes to 64 KiB and odd ones "
       "(%d wrong)",
       how, bad);
    bad = 0;
    for (size_t skew = 1; skew < 64; skew += 9)
        bad += blocks(update2, 300000, 65536, skew) + blocks(update2, 5000, 100, skew);
    OK(bad == 0, "%s: and with the file's MD5 not at a 64-byte edge (%d wrong)", how, bad);
    /* both part of the way into a piece, at the same place, with other bytes */
    md5_t a, b;
    md5_init(&a);
    md5_init(&b);
    md5_update(&a, data, 10);
    md5_update(&b, data + 500, 10);
    update2(&a, &b, data + 10, 200000);
    unsigned char got[16], want[16], buf2[200010];
    md5_final(&a, got);
    openssl_md5(data, 200010, want);
    bad = memcmp(got, want, 16) != 0;
    memcpy(buf2, data + 500, 10);
    memcpy(buf2 + 10, data + 10, 200000);
    md5_final(&b, got);
    openssl_md5(buf2, sizeof buf2, want);
    bad += memcmp(got, want, 16) != 0;
    OK(bad == 0, "%s: two states 10 bytes into a piece, each with its own 10", how);
}

int main(void)
{
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)((i * 2654435761u) >> 13);
    rfc_suite();
    against_openssl();
    two_at_once(md5_update2, "two at once");
    two_at_once(md5_update2_plain, "two at once, without vectors");
    TAP_DONE();
}
