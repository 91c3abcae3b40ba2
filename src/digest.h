/* The digests a block is checked by: MD5 (OpenSSL's), and Azure Storage's
 * CRC64, the transactional checksum of x-ms-content-crc64 (CRC-64/NVME:
 * the reflected polynomial 0x9A6C9329AC4BC9B5, all ones in and out). No
 * library this project uses offers that CRC; it is written here, folded
 * with carry-less multiplication where the CPU has it (about 20x MD5's
 * speed), by tables where it does not. */
#ifndef FERRY_DIGEST_H
#define FERRY_DIGEST_H

#include <stddef.h>
#include <stdint.h>

/* Azure's CRC64 of n bytes at p, continuing crc (0 to start), like zlib's
 * crc32(): crc64(crc64(0, a, na), b, nb) is the CRC64 of a then b. */
uint64_t crc64(uint64_t crc, const void *p, size_t n);
/* The same, by tables only (what crc64 falls back to; for tests) */
uint64_t crc64_tables(uint64_t crc, const void *p, size_t n);

typedef enum {
    DIGEST_MD5,
    DIGEST_CRC64,
} digest_kind_t;

#define DIGEST_MAX 16 /* bytes of the longest digest */

typedef unsigned char digest_t[DIGEST_MAX]; /* a digest's bytes, zeros after */

/* "MD5", "CRC64" */
const char *digest_name(digest_kind_t k);
/* its length in bytes: 16, 8 (a CRC64 as Azure sends it: little-endian) */
size_t digest_size(digest_kind_t k);

/* A digest taken piece by piece */
typedef struct digest_ctx {
    digest_kind_t kind;
    struct evp_md_ctx_st *md5;
    uint64_t crc;
} digest_ctx_t;
void digest_init(digest_ctx_t *d, digest_kind_t kind);
void digest_update(digest_ctx_t *d, const void *p, size_t n);
/* The digest of what was given, into out; d starts again, empty */
void digest_final(digest_ctx_t *d, digest_t out);
void digest_dispose(digest_ctx_t *d);

/* out (2 * n + 1 bytes): the n bytes at p in lowercase hex */
char *hex_encode(const void *p, size_t n, char *out);

/* The digest of n bytes at p */
void digest_of(digest_kind_t k, const void *p, size_t n, digest_t out);
/* out (2 * size + 1 bytes): the digest in hex */
char *digest_hex(digest_kind_t k, const digest_t d, char *out);

#endif
