/* Diagnostics on stderr and, during a run, in <work dir>/ferry.log.
 * Every line passes through the redactor: registered secrets and SAS
 * signatures never reach a terminal or a file. */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdio.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

/* quiet: only errors; verbose 0: info; 1: debug; 2+: trace (requests). */
void log_set_verbosity(int quiet, int verbose);
int log_level(void);
/* Also write every line (debug and up) with a timestamp to path. */
int log_open_file(const char *path);
void log_close_file(void);
/* A secret value that must never be printed; copied. */
void log_add_secret(const char *secret);
/* A malloc'd copy of s fit for one line of a message: control characters
 * and bytes that are not UTF-8 written as \n, \t, \r or \xNN. Every log
 * line passes through it. */
char *log_escape(const char *s);
/* Returns a malloc'd copy of s with secrets and sig= values replaced. */
char *log_redact(const char *s);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_trace(...) log_msg(LOG_TRACE, __VA_ARGS__)

#endif
