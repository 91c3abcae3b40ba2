/* MD5 by RFC 1321, one chain or two at a time (md5two.h).
 *
 * A step is a = b + ((a + f(b, c, d) + word + constant) <<< s): each needs
 * the one before, so a core does a step in about five cycles whatever else
 * it could do. The two-chain form runs each step for both states from the
 * same message word, written out side by side, and the core overlaps them. */
#include "md5two.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX512_PATH 1
#endif

#define ROTL(x, s) (((x) << (s)) | ((x) >> (32 - (s))))
#define F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define G(x, y, z) (((y) & ~(z)) + ((x) & (z))) /* (the two never share a bit) */
#define H(x, y, z) ((x) ^ (y) ^ (z))
#define I(x, y, z) ((y) ^ ((x) | ~(z)))
/* The sum without b is taken first, and the compiler kept from folding f
 * into it: b comes last, from the step before, and then only f, an add, a
 * rotation and an add stand between it and the next step. */
#if defined(__GNUC__) || defined(__clang__)
#define EARLY(x, how) __asm__("" : how(x))
#else
#define EARLY(x, how) (void)0
#endif
#define STEP(f, a, b, c, d, k, t, s)                                                               \
    do {                                                                                           \
        uint32_t sum = (a) + w[k] + (t);                                                           \
        EARLY(sum, "+r");                                                                          \
        (a) = (b) + ROTL(sum + f((b), (c), (d)), s);                                               \
    } while (0)

/* A step of lane 0, and of lanes 0 and 1 */
#define ONE(f, a, b, c, d, k, t, s) STEP(f, a##0, b##0, c##0, d##0, k, t, s)
#define TWO(f, a, b, c, d, k, t, s)                                                                \
    ONE(f, a, b, c, d, k, t, s);                                                                   \
    STEP(f, a##1, b##1, c##1, d##1, k, t, s)

/* Four steps: the registers turn one place each step */
#define QUAD(S, f, k0, k1, k2, k3, t0, t1, t2, t3, s0, s1, s2, s3)                                 \
    S(f, a, b, c, d, k0, t0, s0);                                                                  \
    S(f, d, a, b, c, k1, t1, s1);                                                                  \
    S(f, c, d, a, b, k2, t2, s2);                                                                  \
    S(f, b, c, d, a, k3, t3, s3)

/* The 64 steps: word order and shifts by round, the constants of RFC 1321
 * (the integer part of 2^32 * |sin(i)|, i = 1..64) */
#define ROUNDS(S)                                                                                  \
    QUAD(S, F, 0, 1, 2, 3, 0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 7, 12, 17, 22);         \
    QUAD(S, F, 4, 5, 6, 7, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, 7, 12, 17, 22);         \
    QUAD(S, F, 8, 9, 10, 11, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 7, 12, 17, 22);       \
    QUAD(S, F, 12, 13, 14, 15, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 7, 12, 17, 22);     \
    QUAD(S, G, 1, 6, 11, 0, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 5, 9, 14, 20);         \
    QUAD(S, G, 5, 10, 15, 4, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8, 5, 9, 14, 20);        \
    QUAD(S, G, 9, 14, 3, 8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 5, 9, 14, 20);         \
    QUAD(S, G, 13, 2, 7, 12, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 5, 9, 14, 20);        \
    QUAD(S, H, 5, 8, 11, 14, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 4, 11, 16, 23);       \
    QUAD(S, H, 1, 4, 7, 10, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 4, 11, 16, 23);        \
    QUAD(S, H, 13, 0, 3, 6, 0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 4, 11, 16, 23);        \
    QUAD(S, H, 9, 12, 15, 2, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 4, 11, 16, 23);       \
    QUAD(S, I, 0, 7, 14, 5, 0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 6, 10, 15, 21);        \
    QUAD(S, I, 12, 3, 10, 1, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1, 6, 10, 15, 21);       \
    QUAD(S, I, 8, 15, 6, 13, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 6, 10, 15, 21);       \
    QUAD(S, I, 4, 11, 2, 9, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391, 6, 10, 15, 21)

static void words(uint32_t w[16], const unsigned char *p)
{
    for (int i = 0; i < 16; i++, p += 4)
        w[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* n 64-byte pieces at p into h */
static void pieces(uint32_t h[4], const unsigned char *p, size_t n)
{
    uint32_t w[16];
    for (; n--; p += 64) {
        words(w, p);
        uint32_t a0 = h[0], b0 = h[1], c0 = h[2], d0 = h[3];
        ROUNDS(ONE);
        h[0] += a0, h[1] += b0, h[2] += c0, h[3] += d0;
    }
}

/* The same into two states */
static void pieces2(uint32_t ha[4], uint32_t hb[4], const unsigned char *p, size_t n)
{
    uint32_t w[16];
    for (; n--; p += 64) {
        words(w, p);
        uint32_t a0 = ha[0], b0 = ha[1], c0 = ha[2], d0 = ha[3];
        uint32_t a1 = hb[0], b1 = hb[1], c1 = hb[2], d1 = hb[3];
        ROUNDS(TWO);
        ha[0] += a0, ha[1] += b0, ha[2] += c0, ha[3] += d0;
        hb[0] += a1, hb[1] += b1, hb[2] += c1, hb[3] += d1;
    }
}

#ifdef HAVE_AVX512_PATH
/* Where the CPU has AVX-512 (VL): both chains in one 128-bit register, a
 * step in five instructions (f in one, by a truth table: bits of x, y, z
 * as 0xf0, 0xcc, 0xaa), the same time as one chain alone */
#define F_TABLE 0xca
#define G_TABLE 0xe4
#define H_TABLE 0x96
#define I_TABLE 0x39
#define VEC(f, a, b, c, d, k, t, s)                                                                \
    do {                                                                                           \
        __m128i sum = _mm_add_epi32(a##v, _mm_set1_epi32((int)(w[k] + (t))));                      \
        EARLY(sum, "+v");                                                                          \
        a##v = _mm_add_epi32(                                                                      \
            b##v,                                                                                  \
            _mm_rol_epi32(_mm_add_epi32(sum, _mm_ternarylogic_epi32(b##v, c##v, d##v, f##_TABLE)), \
                          s));                                                                     \
    } while (0)

__attribute__((target("avx512f,avx512vl"))) static void
pieces2_vec(uint32_t ha[4], uint32_t hb[4], const unsigned char *p, size_t n)
{
    uint32_t w[16];
    __m128i h[4];
    for (int i = 0; i < 4; i++)
        h[i] = _mm_set_epi32(0, 0, (int)hb[i], (int)ha[i]);
    for (; n--; p += 64) {
        words(w, p);
        __m128i av = h[0], bv = h[1], cv = h[2], dv = h[3];
        ROUNDS(VEC);
        h[0] = _mm_add_epi32(h[0], av), h[1] = _mm_add_epi32(h[1], bv);
        h[2] = _mm_add_epi32(h[2], cv), h[3] = _mm_add_epi32(h[3], dv);
    }
    for (int i = 0; i < 4; i++) {
        ha[i] = (uint32_t)_mm_extract_epi32(h[i], 0);
        hb[i] = (uint32_t)_mm_extract_epi32(h[i], 1);
    }
}
#endif

void md5_init(md5_t *m)
{
    memset(m, 0, sizeof *m);
    m->h[0] = 0x67452301;
    m->h[1] = 0xefcdab89;
    m->h[2] = 0x98badcfe;
    m->h[3] = 0x10325476;
}

/* Tops up m's unfinished piece from p (hashing it when it is full); what it took */
static size_t top_up(md5_t *m, const unsigned char *p, size_t n)
{
    size_t have = (size_t)(m->len % 64), take = 0;
    if (have) {
        take = 64 - have < n ? 64 - have : n;
        memcpy(m->tail + have, p, take);
        m->len += take;
        if (have + take == 64)
            pieces(m->h, m->tail, 1);
    }
    return take;
}

/* Keeps what is left of p (under 64 bytes) as m's unfinished piece */
static void keep(md5_t *m, const unsigned char *p, size_t n)
{
    memcpy(m->tail, p, n);
    m->len += n;
}

void md5_update(md5_t *m, const void *data, size_t n)
{
    const unsigned char *p = data;
    size_t took = top_up(m, p, n);
    p += took, n -= took;
    if (!n)
        return;
    pieces(m->h, p, n / 64);
    m->len += n / 64 * 64;
    keep(m, p + n / 64 * 64, n % 64);
}

/* n pieces into both states: in vectors if vec and the CPU has them */
static void both(md5_t *a, md5_t *b, const unsigned char *p, size_t n, int vec)
{
#ifdef HAVE_AVX512_PATH
    if (vec && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512f")) {
        pieces2_vec(a->h, b->h, p, n);
        return;
    }
#endif
    (void)vec;
    pieces2(a->h, b->h, p, n);
}

static void update2(md5_t *a, md5_t *b, const unsigned char *p, size_t n, int vec)
{
    if (a->len % 64 != b->len % 64) {
        md5_update(a, p, n);
        md5_update(b, p, n);
        return;
    }
    size_t took = top_up(a, p, n);
    top_up(b, p, n);
    p += took, n -= took;
    if (!n)
        return;
    both(a, b, p, n / 64, vec);
    a->len += n / 64 * 64;
    b->len += n / 64 * 64;
    keep(a, p + n / 64 * 64, n % 64);
    keep(b, p + n / 64 * 64, n % 64);
}

void md5_update2(md5_t *a, md5_t *b, const void *p, size_t n)
{
    update2(a, b, p, n, 1);
}

void md5_update2_plain(md5_t *a, md5_t *b, const void *p, size_t n)
{
    update2(a, b, p, n, 0);
}

void md5_final(md5_t *m, unsigned char out[16])
{
    uint64_t bits = m->len * 8;
    unsigned char pad[72] = {0x80};
    size_t have = (size_t)(m->len % 64), np = (have < 56 ? 56 : 120) - have;
    for (size_t i = 0; i < 8; i++)
        pad[np + i] = (unsigned char)(bits >> (8 * i));
    md5_update(m, pad, np + 8);
    for (int i = 0; i < 16; i++)
        out[i] = (unsigned char)(m->h[i / 4] >> (8 * (i % 4)));
}
