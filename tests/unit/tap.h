/* A minimal TAP harness for the unit tests (in the spirit of crun's). */
#ifndef FERRY_TAP_H
#define FERRY_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define OK(cond, ...)                                                                              \
    do {                                                                                           \
        int c_ = !!(cond);                                                                         \
        tap_n++;                                                                                   \
        if (c_) {                                                                                  \
            printf("ok %d - ", tap_n);                                                             \
        } else {                                                                                   \
            tap_failed++;                                                                          \
            printf("not ok %d - ", tap_n);                                                         \
        }                                                                                          \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        if (!c_)                                                                                   \
            printf("#   at %s:%d: %s\n", __FILE__, __LINE__, #cond);                               \
    } while (0)

#define STREQ(a, b, ...)                                                                           \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        int eq_ = sa_ && sb_ && strcmp(sa_, sb_) == 0;                                             \
        OK(eq_, __VA_ARGS__);                                                                      \
        if (!eq_)                                                                                  \
            printf("#   got '%s', expected '%s'\n", sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");   \
    } while (0)

#define TAP_DONE()                                                                                 \
    do {                                                                                           \
        printf("1..%d\n", tap_n);                                                                  \
        return tap_failed ? 1 : 0;                                                                 \
    } while (0)

#endif
