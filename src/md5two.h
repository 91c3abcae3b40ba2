/* MD5 (RFC 1321) twice over the same bytes in one pass: an upload's block
 * needs its own MD5 (Content-MD5, which the service checks) and a place in
 * the whole file's MD5 (the blob's Content-MD5), and taking both from one
 * read of the block costs about one MD5's time rather than two. MD5 is one
 * long chain of dependent additions, so a core running one leaves most of
 * its units idle; two chains fed the same message words, step by step,
 * fill them. OpenSSL hashes one stream at a time, so this is written here;
 * a test holds it to OpenSSL's MD5 for every length and split. */
#ifndef FERRY_MD5TWO_H
#define FERRY_MD5TWO_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[4];
    uint64_t len;           /* bytes taken */
    unsigned char tail[64]; /* the last len % 64 of them */
} md5_t;

void md5_init(md5_t *m);
void md5_update(md5_t *m, const void *p, size_t n);
/* The digest, into out; m is then spent (md5_init to use it again) */
void md5_final(md5_t *m, unsigned char out[16]);
/* a and b both take the n bytes at p. In one pass when they are at the
 * same place within a 64-byte piece (a block of a file whose blocks are a
 * multiple of 64 bytes, and a new one); otherwise one after the other. */
void md5_update2(md5_t *a, md5_t *b, const void *p, size_t n);
/* The same without vector instructions (what md5_update2 falls back to on
 * a CPU without AVX-512; for tests) */
void md5_update2_plain(md5_t *a, md5_t *b, const void *p, size_t n);

#endif
