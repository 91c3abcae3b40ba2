/* MD5 and Azure's CRC64 behind one interface (digest.h).
 *
 * The CRC64 is the reflected CRC: a 64-bit word's bit i is the coefficient
 * of x^(63-i), and the first byte's low bit is the message's highest term.
 * Tables do a byte (eight at a time) per step. The fast path folds 16 bytes
 * at a time with PCLMULQDQ: an accumulator A of 128 bits (L, its first 8
 * bytes, and H) stands for L*x^64 + H, and moving it D bits further on is
 * L*(x^(64+D) mod P) + H*(x^D mod P), two carry-less products of 64 bits.
 * What is left in the end is congruent to the message modulo P, so its
 * 16 bytes (and the tail) through the tables give the CRC itself. */
#include "digest.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_CLMUL_PATH 1
#endif

#define POLY 0x9A6C9329AC4BC9B5ull

static uint64_t table[8][256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* p(x) * x mod P, in the reflected form */
static uint64_t times_x(uint64_t r)
{
    return (r >> 1) ^ ((r & 1) ? POLY : 0);
}

#ifdef HAVE_CLMUL_PATH
/* For a fold by D bits: {x^(64+D-1), x^(D-1)} mod P. One x less than the
 * fold needs: the carry-less product of two reflected words comes out
 * multiplied by x. */
typedef struct {
    uint64_t lo, hi;
} fold_k;
static fold_k k128, k256, k384, k512;
static int clmul;

static uint64_t x_pow(unsigned n)
{
    uint64_t r = 1ull << 63; /* 1 */
    while (n--)
        r = times_x(r);
    return r;
}

static fold_k fold_by(unsigned d)
{
    return (fold_k){x_pow(64 + d - 1), x_pow(d - 1)};
}
#endif

static void setup(void)
{
    for (unsigned b = 0; b < 256; b++) {
        uint64_t c = b;
        for (int i = 0; i < 8; i++)
            c = times_x(c);
        table[0][b] = c;
    }
    for (unsigned b = 0; b < 256; b++)
        for (int t = 1; t < 8; t++)
            table[t][b] = table[0][table[t - 1][b] & 0xff] ^ (table[t - 1][b] >> 8);
#ifdef HAVE_CLMUL_PATH
    k128 = fold_by(128);
    k256 = fold_by(256);
    k384 = fold_by(384);
    k512 = fold_by(512);
    __builtin_cpu_init();
    clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
}

/* reg: the register itself (not inverted) */
static uint64_t by_tables(uint64_t reg, const unsigned char *p, size_t n)
{
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w); /* (the first byte is the lowest) */
#endif
        reg ^= w;
        reg = table[7][reg & 0xff] ^ table[6][(reg >> 8) & 0xff] ^ table[5][(reg >> 16) & 0xff] ^
              table[4][(reg >> 24) & 0xff] ^ table[3][(reg >> 32) & 0xff] ^
              table[2][(reg >> 40) & 0xff] ^ table[1][(reg >> 48) & 0xff] ^ table[0][reg >> 56];
    }
    while (n--)
        reg = table[0][(reg ^ *p++) & 0xff] ^ (reg >> 8);
    return reg;
}

#ifdef HAVE_CLMUL_PATH
__attribute__((target("pclmul,sse4.1"))) static inline __m128i fold(__m128i a, fold_k k)
{
    __m128i kk = _mm_set_epi64x((long long)k.hi, (long long)k.lo);
    return _mm_xor_si128(_mm_clmulepi64_si128(a, kk, 0x00), _mm_clmulepi64_si128(a, kk, 0x11));
}

/* n >= 64. The register goes into the first 8 bytes (a reflected CRC
 * carried in is the same as those bytes changed by it); four accumulators
 * 64 bytes apart keep the multiplier busy. */
__attribute__((target("pclmul,sse4.1"))) static uint64_t
by_folding(uint64_t reg, const unsigned char *p, size_t n)
{
    __m128i a[4];
    for (int i = 0; i < 4; i++)
        a[i] = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i));
    a[0] = _mm_xor_si128(a[0], _mm_set_epi64x(0, (long long)reg));
    for (p += 64, n -= 64; n >= 64; p += 64, n -= 64)
        for (int i = 0; i < 4; i++)
            a[i] = _mm_xor_si128(fold(a[i], k512),
                                 _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i)));
    __m128i x = _mm_xor_si128(_mm_xor_si128(fold(a[0], k384), fold(a[1], k256)),
                              _mm_xor_si128(fold(a[2], k128), a[3]));
    for (; n >= 16; p += 16, n -= 16)
        x = _mm_xor_si128(fold(x, k128), _mm_loadu_si128((const __m128i *)(const void *)p));
    unsigned char rest[16];
    _mm_storeu_si128((__m128i *)(void *)rest, x);
    return by_tables(by_tables(0, rest, 16), p, n);
}
#endif

uint64_t crc64_tables(uint64_t crc, const void *p, size_t n)
{
    pthread_once(&once, setup);
    return ~by_tables(~crc, p, n);
}

uint64_t crc64(uint64_t crc, const void *p, size_t n)
{
    pthread_once(&once, setup);
#ifdef HAVE_CLMUL_PATH
    if (clmul && n >= 256)
        return ~by_folding(~crc, p, n);
#endif
    return ~by_tables(~crc, p, n);
}

/* --- one interface for both --- */

const char *digest_name(digest_kind_t k)
{
    return k == DIGEST_CRC64 ? "CRC64" : "MD5";
}

size_t digest_size(digest_kind_t k)
{
    return k == DIGEST_CRC64 ? 8 : 16;
}

void digest_init(digest_ctx_t *d, digest_kind_t kind)
{
    *d = (digest_ctx_t){.kind = kind};
    if (kind == DIGEST_MD5) {
        d->md5 = EVP_MD_CTX_new();
        EVP_DigestInit_ex(d->md5, EVP_md5(), NULL);
    }
}

void digest_update(digest_ctx_t *d, const void *p, size_t n)
{
    if (d->kind == DIGEST_CRC64)
        d->crc = crc64(d->crc, p, n);
    else
        EVP_DigestUpdate(d->md5, p, n);
}

void digest_final(digest_ctx_t *d, digest_t out)
{
    memset(out, 0, DIGEST_MAX);
    if (d->kind == DIGEST_CRC64) {
        for (int i = 0; i < 8; i++)
            out[i] = (unsigned char)(d->crc >> (8 * i));
        d->crc = 0;
        return;
    }
    unsigned int ml = 0;
    EVP_DigestFinal_ex(d->md5, out, &ml);
    EVP_DigestInit_ex(d->md5, EVP_md5(), NULL);
}

void digest_dispose(digest_ctx_t *d)
{
    if (d->md5)
        EVP_MD_CTX_free(d->md5);
    d->md5 = NULL;
}

void digest_of(digest_kind_t k, const void *p, size_t n, digest_t out)
{
    digest_ctx_t d;
    digest_init(&d, k);
    digest_update(&d, p, n);
    digest_final(&d, out);
    digest_dispose(&d);
}

char *hex_encode(const void *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
    return out;
}

char *digest_hex(digest_kind_t k, const digest_t d, char *out)
{
    return hex_encode(d, digest_size(k), out);
}
