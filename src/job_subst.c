/* ${{inputs.x}}-style references and v1 $AZUREML_DATAREFERENCE_x, substituted. */
#define _GNU_SOURCE
#include "job_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "path.h"
#include "store.h"
#include "uri.h"

#include "xalloc.h"

/* --- substitution --- */

static int subst_generic(const char *text, const char *open, const char *close, int dataref,
                         job_ref_fn fn, void *ud, char **out, char **bad)
{
    *out = NULL;
    *bad = NULL;
    size_t cap = strlen(text) + 64, len = 0;
    char *buf = xmalloc(cap);
    const char *p = text;
    size_t ol = strlen(open);
    while (*p) {
        const char *hit = strstr(p, open);
        const char *val = NULL;
        const char *next = NULL;
        char *ref = NULL;
        if (!hit)
            hit = p + strlen(p);
        /* copy text before the reference */
        size_t chunk = (size_t)(hit - p);
        if (len + chunk + 1 > cap) {
            cap = (len + chunk + 1) * 2;
            char *nb = xrealloc(buf, cap);
            buf = nb;
        }
        memcpy(buf + len, p, chunk);
        len += chunk;
        if (!*hit)
            break;
        if (dataref) {
            /* $AZUREML_DATAREFERENCE_<key>: the longest key the callback knows */
            const char *s = hit + ol;
            const char *e = s;
            while (isalnum((unsigned char)*e) || *e == '_' || *e == '-')
                e++;
            for (const char *try = e; try > s && !val; try--) {
                free(ref);
                ref = xstrndup(s, (size_t)(try - s));
                val = fn(ud, ref);
                next = try;
            }
            if (!val) {
                free(ref);
                *bad = xstrndup(s, (size_t)(e - s));
                goto fail;
            }
        } else {
            const char *e = strstr(hit + ol, close);
            if (!e)
                goto fail; /* unterminated: *bad stays NULL */
            const char *s = hit + ol;
            while (s < e && isspace((unsigned char)*s))
                s++;
            const char *t = e;
            while (t > s && isspace((unsigned char)t[-1]))
                t--;
            ref = xstrndup(s, (size_t)(t - s));
            val = ref ? fn(ud, ref) : NULL;
            if (!val) {
                *bad = ref;
                goto fail;
            }
            next = e + strlen(close);
        }
        free(ref);
        size_t vl = strlen(val);
        if (len + vl + 1 > cap) {
            cap = (len + vl + 1) * 2;
            char *nb = xrealloc(buf, cap);
            buf = nb;
        }
        memcpy(buf + len, val, vl);
        len += vl;
        p = next;
    }
    buf[len] = 0;
    *out = buf;
    return 0;
fail:
    free(buf);
    return -1;
}

int job_subst(const char *text, job_ref_fn fn, void *ud, char **out, char **bad)
{
    return subst_generic(text, "${{", "}}", 0, fn, ud, out, bad);
}

int job_subst_datarefs(const char *text, job_ref_fn fn, void *ud, char **out, char **bad)
{
    int rc = subst_generic(text, "${AZUREML_DATAREFERENCE_", "}", 0, fn, ud, out, bad);
    if (rc)
        return rc;
    char *mid = *out;
    rc = subst_generic(mid, "$AZUREML_DATAREFERENCE_", NULL, 1, fn, ud, out, bad);
    free(mid);
    return rc;
}
