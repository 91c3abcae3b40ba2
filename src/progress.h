/* Progress on stderr: a live bar on a terminal, a plain line every few
 * seconds otherwise, or nothing. */
#ifndef FERRY_PROGRESS_H
#define FERRY_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PROGRESS_AUTO, PROGRESS_BAR, PROGRESS_PLAIN, PROGRESS_NONE } progress_mode_t;

int progress_mode_parse(const char *s, progress_mode_t *out);
void progress_set_default(progress_mode_t mode);

typedef struct progress progress_t;

progress_t *progress_start(const char *label);
void progress_total(progress_t *p, uint64_t files, uint64_t bytes);
void progress_bytes(progress_t *p, uint64_t n);
void progress_file_done(progress_t *p, uint64_t skipped_bytes);
/* A file that failed: counted as settled, and shown as failed. */
void progress_file_failed(progress_t *p);
void progress_end(progress_t *p);

/* "1.5 MiB" style, into buf. */
const char *progress_human(uint64_t bytes, char *buf, size_t n);
double progress_now(void);

#endif
