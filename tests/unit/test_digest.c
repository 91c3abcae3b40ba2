/* Azure's CRC64 (folded and by tables) against the CRC catalogue's check
 * value and a bit-at-a-time reference written from the definition; the
 * digest interface against OpenSSL. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "tap.h"

/* CRC-64/NVME from its definition: one bit at a time, reflected */
static uint64_t by_bits(uint64_t crc, const unsigned char *p, size_t n)
{
    uint64_t r = ~crc;
    while (n--) {
        r ^= *p++;
        for (int i = 0; i < 8; i++)
            r = (r >> 1) ^ ((r & 1) ? 0x9A6C9329AC4BC9B5ull : 0);
    }
    return ~r;
}

static unsigned char data[(1 << 20) + 64];

static void check_value(void)
{
    /* the catalogue's check value for CRC-64/NVME, the one Azure uses */
    OK(crc64(0, "123456789", 9) == 0xAE8B14860A799888ull, "\"123456789\" gives 0xae8b14860a799888");
    OK(crc64_tables(0, "123456789", 9) == 0xAE8B14860A799888ull, "so do the tables");
    OK(crc64(0, "", 0) == 0, "nothing gives 0");
    static unsigned char zeros[4096];
    OK(crc64(0, zeros, sizeof zeros) == by_bits(0, zeros, sizeof zeros),
       "4 KiB of zeros as the definition says");
}

/* Every length to 600 (each side of the folding's 256-byte floor and its
 * 64- and 16-byte steps) at every alignment to 16, then long ones. */
static void against_definition(void)
{
    int bad = 0;
    for (size_t n = 0; n <= 600; n++)
        for (size_t off = 0; off < 16; off++) {
            uint64_t want = by_bits(0, data + off, n);
            bad += crc64(0, data + off, n) != want || crc64_tables(0, data + off, n) != want;
        }
    OK(bad == 0, "lengths 0-600 at 16 alignments: folded and by tables, as defined (%d wrong)",
       bad);
    size_t lens[] = {4095, 65536, 1000003, 1 << 20};
    bad = 0;
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
        bad += crc64(0, data + i, lens[i]) != by_bits(0, data + i, lens[i]);
    OK(bad == 0, "long runs, odd and round (%d wrong)", bad);
}

static void continued(void)
{
    int bad = 0;
    uint64_t want = by_bits(0, data, 100000);
    for (size_t cut = 0; cut <= 100000; cut += 997) {
        uint64_t c = crc64(crc64(0, data, cut), data + cut, 100000 - cut);
        bad += c != want;
    }
    OK(bad == 0, "carried from one piece to the next, cut anywhere, it is the same (%d wrong)",
       bad);
    data[5000] ^= 1;
    OK(crc64(0, data, 100000) != want, "one bit changed, another CRC");
    data[5000] ^= 1;
}

static void interface(void)
{
    digest_t a, b;
    unsigned char md[16];
    EVP_Digest(data, 5000, md, NULL, EVP_md5(), NULL);
    digest_of(DIGEST_MD5, data, 5000, a);
    OK(!memcmp(a, md, 16), "MD5: OpenSSL's");
    digest_ctx_t d;
    digest_init(&d, DIGEST_CRC64);
    digest_update(&d, "1234", 4);
    digest_update(&d, "56789", 5);
    digest_final(&d, a);
    char hex[2 * DIGEST_MAX + 1];
    STREQ(digest_hex(DIGEST_CRC64, a, hex), "8898790a86148bae",
          "CRC64 in pieces: 8 bytes, little-endian, as x-ms-content-crc64 has it");
    digest_update(&d, "123456789", 9);
    digest_final(&d, b);
    OK(!memcmp(a, b, DIGEST_MAX), "after a final, the digest starts again");
    digest_dispose(&d);
    digest_init(&d, DIGEST_MD5);
    digest_update(&d, data, 2000);
    digest_update(&d, data + 2000, 3000);
    digest_final(&d, b);
    digest_dispose(&d);
    OK(!memcmp(b, md, 16), "MD5 in pieces too");
    char h[7];
    STREQ(hex_encode("\x00\xff\x1a", 3, h), "00ff1a", "hex: two lowercase digits a byte");
    OK(digest_size(DIGEST_MD5) == 16 && digest_size(DIGEST_CRC64) == 8 &&
           !strcmp(digest_name(DIGEST_CRC64), "CRC64"),
       "sizes and names");
}

int main(void)
{
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)((i * 2654435761u) >> 13);
    check_value();
    against_definition();
    continued();
    interface();
    TAP_DONE();
}
