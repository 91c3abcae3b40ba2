/* Base64 as Azure writes MD5s, block ids and keys (OpenSSL's coder). */
#ifndef FERRY_BASE64_H
#define FERRY_BASE64_H

#include <stddef.h>

/* malloc'd, NUL-terminated */
char *base64_encode(const unsigned char *p, size_t n);
/* Decodes s into out (cap bytes); 0 with *n the length, -1 if s is not base64
 * or does not fit. */
int base64_decode(const char *s, unsigned char *out, size_t cap, size_t *n);

#endif
