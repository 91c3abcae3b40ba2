#define _GNU_SOURCE
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Every message is redacted where it is made: an error travels to logs,
 * but also to run manifests and output records, which no log line guards. */
static char *vfmt(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        return NULL;
    char *r = log_redact(s);
    free(s);
    return r;
}

int ferr_set(ferr_t *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = vfmt(fmt, ap);
    va_end(ap);
    free(err->msg);
    err->code = code;
    err->msg = m;
    err->sys_errno = 0;
    return -1;
}

int ferr_errno(ferr_t *err, int code, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = vfmt(fmt, ap);
    va_end(ap);
    char *full = NULL;
    if (asprintf(&full, "%s: %s", m ? m : "", strerror(errnum)) < 0)
        full = NULL;
    free(m);
    free(err->msg);
    err->code = code;
    err->msg = full;
    err->sys_errno = errnum;
    return -1;
}

int ferr_wrap(ferr_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *ctx = vfmt(fmt, ap);
    va_end(ap);
    char *full = NULL;
    if (asprintf(&full, "%s: %s", ctx ? ctx : "", err->msg ? err->msg : "unknown error") < 0)
        full = NULL;
    free(ctx);
    if (full) {
        free(err->msg);
        err->msg = full;
    }
    if (err->code == FERR_OK)
        err->code = FERR_INTERNAL;
    return -1;
}

void ferr_clear(ferr_t *err)
{
    free(err->msg);
    err->msg = NULL;
    err->code = FERR_OK;
    err->sys_errno = 0;
}
