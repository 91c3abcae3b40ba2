#include "base64.h"

#include <openssl/evp.h>
#include <string.h>

#include "xalloc.h"

char *base64_encode(const unsigned char *p, size_t n)
{
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

int base64_decode(const char *s, unsigned char *out, size_t cap, size_t *n)
{
    size_t len = strlen(s);
    if (len % 4 || (len / 4) * 3 > cap)
        return -1;
    int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
    if (r < 0)
        return -1;
    size_t pad = 0;
    while (len && s[len - 1] == '=' && pad < 2)
        len--, pad++;
    *n = (size_t)r - pad;
    return 0;
}
