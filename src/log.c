#define _GNU_SOURCE
#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "path.h"
#include "xalloc.h"

static int threshold = LOG_INFO;
static FILE *logfile;
static char **secrets;
static size_t nsecrets;

void log_set_verbosity(int quiet, int verbose)
{
    if (quiet)
        threshold = LOG_ERROR;
    else
        threshold = LOG_INFO + (verbose > 2 ? 2 : verbose);
}

int log_level(void)
{
    return threshold;
}

int log_open_file(const char *path)
{
    log_close_file();
    /* not through a symlink: a command may have left one in the work dir */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    logfile = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (!logfile) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setvbuf(logfile, NULL, _IOLBF, 0);
    return 0;
}

void log_close_file(void)
{
    if (logfile)
        fclose(logfile);
    logfile = NULL;
}

void log_add_secret(const char *secret)
{
    /* Very short values would redact ordinary words; no real key is this short. */
    if (!secret || strlen(secret) < 6)
        return;
    for (size_t i = 0; i < nsecrets; i++)
        if (strcmp(secrets[i], secret) == 0)
            return;
    char **n = xrealloc(secrets, (nsecrets + 1) * sizeof *n);
    secrets = n;
    secrets[nsecrets++] = xstrdup(secret);
}

static void replace_all(char **s, const char *needle, const char *with)
{
    size_t nl = strlen(needle), wl = strlen(with);
    char *p;
    size_t from = 0;
    while ((p = strstr(*s + from, needle))) {
        size_t off = (size_t)(p - *s), len = strlen(*s);
        char *n = xmalloc(len - nl + wl + 1);
        memcpy(n, *s, off);
        memcpy(n + off, with, wl);
        memcpy(n + off + wl, *s + off + nl, len - off - nl + 1);
        free(*s);
        *s = n;
        from = off + wl;
    }
}

char *log_redact(const char *s)
{
    char *out = xstrdup(s ? s : "");
    for (size_t i = 0; i < nsecrets; i++)
        if (secrets[i])
            replace_all(&out, secrets[i], "***");
    /* SAS signatures in URLs: sig=<anything up to & or space> */
    char *p = out;
    while ((p = strstr(p, "sig="))) {
        if (p > out && p[-1] != '?' && p[-1] != '&') {
            p += 4;
            continue;
        }
        char *v = p + 4, *e = v;
        while (*e && *e != '&' && *e != ' ' && *e != '\'' && *e != '"' && *e != '\n')
            e++;
        if (strncmp(v, "REDACTED", 8) != 0 || e - v != 8) {
            size_t off = (size_t)(v - out);
            char *n = NULL;
            if (asprintf(&n, "%.*sREDACTED%s", (int)off, out, e) < 0)
                break;
            free(out);
            out = n;
            p = out + off + 8;
        } else {
            p = e;
        }
    }
    return out;
}

char *log_escape(const char *s)
{
    if (!s)
        return xstrdup("");
    size_t n = strlen(s);
    char *out = xmalloc(4 * n + 1), *o = out; /* at most \xNN for each byte */
    if (!out)
        return NULL;
    for (const char *p = s; *p;) {
        unsigned char c = (unsigned char)*p;
        size_t l = path_utf8_char(p);
        if (l > 1 || (l == 1 && c >= 0x20 && c != 0x7f)) {
            memcpy(o, p, l);
            o += l;
            p += l;
            continue;
        }
        /* a control character, or a byte that is not UTF-8 */
        static const char hex[] = "0123456789abcdef";
        const char *named = c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : NULL;
        if (named) {
            memcpy(o, named, 2);
            o += 2;
        } else {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
        p++;
    }
    *o = 0;
    return out;
}

static const char *prefix(int level)
{
    switch (level) {
    case LOG_ERROR:
        return "error: ";
    case LOG_WARN:
        return "warning: ";
    default:
        return "";
    }
}

void log_msg(int level, const char *fmt, ...)
{
    if (level > threshold && !(logfile && level <= LOG_DEBUG))
        return;
    va_list ap;
    va_start(ap, fmt);
    char *raw = NULL;
    int r = vasprintf(&raw, fmt, ap);
    va_end(ap);
    if (r < 0)
        return;
    char *red = log_redact(raw);
    free(raw);
    /* one line each, whatever a name holds: no raw control character reaches a terminal */
    char *m = red ? log_escape(red) : NULL;
    free(red);
    if (!m)
        return;
    if (level <= threshold)
        fprintf(stderr, "ferry: %s%s\n", prefix(level), m);
    if (logfile && level <= LOG_DEBUG) {
        char ts[40];
        struct timespec now;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(logfile, "%s.%03ldZ %s%s\n", ts, now.tv_nsec / 1000000, prefix(level), m);
    }
    free(m);
}
