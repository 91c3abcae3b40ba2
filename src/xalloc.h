/* One policy for running out of memory, as crun's xmalloc: say so and abort.
 * A transfer tool that cannot allocate a few bytes cannot do anything useful,
 * and a NULL check that is forgotten once is a crash elsewhere. */
#ifndef FERRY_XALLOC_H
#define FERRY_XALLOC_H

#include <stddef.h>

#define XALLOC_FMT(a, b) __attribute__((format(printf, a, b)))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* xreallocarray: n * size, refusing an overflow as running out of memory */
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) XALLOC_FMT(1, 2);
/* Never returns. */
void xalloc_die(void) __attribute__((noreturn));

#endif
