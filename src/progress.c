#define _GNU_SOURCE
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

static progress_mode_t default_mode = PROGRESS_AUTO;

struct progress {
    progress_mode_t mode;
    char label[32];
    uint64_t files_total, bytes_total, files, bytes, failed;
    double start, last, every;
    int drawn;
};

int progress_mode_parse(const char *s, progress_mode_t *out)
{
    static const char *names[] = {"auto", "bar", "plain", "none"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) {
            *out = (progress_mode_t)i;
            return 0;
        }
    return -1;
}

void progress_set_default(progress_mode_t mode)
{
    default_mode = mode;
}

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *progress_human(uint64_t bytes, char *buf, size_t n)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, n, "%.1f %s", v, units[u]);
    return buf;
}

progress_t *progress_start(const char *label)
{
    progress_t *p = xcalloc(1, sizeof *p);
    p->mode = default_mode;
    if (log_level() < LOG_INFO)
        p->mode = PROGRESS_NONE; /* -q */
    if (p->mode == PROGRESS_AUTO)
        p->mode = isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_PLAIN;
    snprintf(p->label, sizeof p->label, "%s", label);
    p->start = p->last = progress_now();
    if (p->mode == PROGRESS_BAR)
        p->last = 0; /* the bar shows at the first event */
    /* FERRY_PROGRESS_INTERVAL: seconds between plain lines (default 5) */
    const char *iv = getenv("FERRY_PROGRESS_INTERVAL");
    p->every = p->mode == PROGRESS_BAR ? 0.1 : (iv && *iv ? atof(iv) : 5.0);
    return p;
}

void progress_total(progress_t *p, uint64_t files, uint64_t bytes)
{
    if (!p)
        return;
    p->files_total = files;
    p->bytes_total = bytes;
}

/* Columns of the terminal on stderr, else $COLUMNS, else 80. */
static int term_columns(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int n = c ? atoi(c) : 0;
    return n > 0 ? n : 80;
}

/* The bar redraws over itself: a line longer than the terminal would wrap,
 * and each redraw would leave one more line behind. */
static void draw_bar(progress_t *p, const char *counts)
{
    int cols = term_columns() - 1; /* the last column would wrap on some terminals */
    char line[512];
    int width = 24, fill = 0;
    /* the bar gives way first, then the text is cut */
    int room = cols - (int)strlen(p->label) - 4 - (int)strlen(counts);
    if (room < width)
        width = room >= 10 ? room : 0;
    if (p->bytes_total)
        fill = (int)((double)width * (double)p->bytes / (double)p->bytes_total);
    else if (p->files_total)
        fill = (int)((double)width * (double)p->files / (double)p->files_total);
    if (fill > width)
        fill = width;
    char bar[32];
    memset(bar, '#', (size_t)fill);
    memset(bar + fill, '.', (size_t)(width - fill));
    bar[width] = 0;
    if (width)
        snprintf(line, sizeof line, "%s [%s] %s", p->label, bar, counts);
    else
        snprintf(line, sizeof line, "%s %s", p->label, counts);
    if (cols > 0 && (size_t)cols < strlen(line))
        line[cols] = 0; /* ASCII only: bytes are columns */
    fprintf(stderr, "\r\033[K%s", line);
}

static void draw(progress_t *p, int final)
{
    double now = progress_now(), el = now - p->start;
    double rate = el > 0 ? (double)p->bytes / el : 0;
    char b1[32], b2[32], b3[32], eta[32] = "";
    progress_human(p->bytes, b1, sizeof b1);
    progress_human(p->bytes_total, b2, sizeof b2);
    progress_human((uint64_t)rate, b3, sizeof b3);
    if (!final && rate > 0 && p->bytes_total > p->bytes)
        snprintf(eta, sizeof eta, ", ETA %.0f s", (double)(p->bytes_total - p->bytes) / rate);
    char failed[40] = "", counts[256];
    if (p->failed)
        snprintf(failed, sizeof failed, ", %llu failed", (unsigned long long)p->failed);
    /* files: those settled (moved or skipped) of all; failures apart */
    snprintf(counts, sizeof counts, "%llu/%llu files%s, %s/%s, %s/s%s",
             (unsigned long long)(p->files - p->failed), (unsigned long long)p->files_total, failed,
             b1, b2, b3, eta);
    p->drawn = 1;
    if (p->mode == PROGRESS_BAR) {
        draw_bar(p, counts);
        if (final)
            fputs("\r\033[K", stderr);
    } else {
        fprintf(stderr, "ferry: %s: %s%s\n", p->label, counts, final ? ", done" : "");
    }
    fflush(stderr);
}

static void tick(progress_t *p)
{
    if (p->mode == PROGRESS_NONE)
        return;
    double now = progress_now();
    if (now - p->last < p->every)
        return;
    p->last = now;
    draw(p, 0);
}

void progress_bytes(progress_t *p, uint64_t n)
{
    if (!p)
        return;
    p->bytes += n;
    tick(p);
}

void progress_file_failed(progress_t *p)
{
    if (!p)
        return;
    p->failed++;
    progress_file_done(p, 0);
}

void progress_file_done(progress_t *p, uint64_t skipped_bytes)
{
    if (!p)
        return;
    p->files++;
    p->bytes += skipped_bytes;
    tick(p);
}

void progress_end(progress_t *p)
{
    if (!p)
        return;
    if (p->drawn)
        draw(p, 1);
    free(p);
}
