/* One error type for all of ferry: a category and a message with context.
 * A failing function returns -1 and fills *err; callers add context in
 * front with ferr_wrap(); only cli.c prints it. */
#ifndef FERRY_ERROR_H
#define FERRY_ERROR_H

enum ferr_code {
    FERR_OK = 0,
    FERR_USAGE,       /* bad command line */
    FERR_CONFIG,      /* bad job file, datastore definition or workspace */
    FERR_NOTFOUND,    /* datastore, file or path does not exist */
    FERR_EXISTS,      /* name already taken */
    FERR_IO,          /* local read/write failure */
    FERR_UNSUPPORTED, /* valid, but not built yet */
    FERR_UNSAFE,      /* a path would escape its folder, or similar */
    FERR_TRANSFER,    /* one or more files failed to move */
    FERR_INTERNAL,
};

typedef struct ferr {
    int code;
    char *msg;
    int sys_errno; /* the system's reason (ferr_errno), 0 if none; kept by ferr_wrap */
} ferr_t;

#define FERR_INIT                                                                                  \
    {                                                                                              \
        0, NULL, 0                                                                                 \
    }
#define FERR_FMT(a, b) __attribute__((format(printf, a, b)))

/* Sets the error (replacing any earlier one) and returns -1. */
int ferr_set(ferr_t *err, int code, const char *fmt, ...) FERR_FMT(3, 4);
/* Like ferr_set, with ": strerror(errnum)" appended. */
int ferr_errno(ferr_t *err, int code, int errnum, const char *fmt, ...) FERR_FMT(4, 5);
/* Puts "context: " in front of the message; returns -1. */
int ferr_wrap(ferr_t *err, const char *fmt, ...) FERR_FMT(2, 3);
void ferr_clear(ferr_t *err);

#endif
