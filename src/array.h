/* Growing arrays, the one way they grow here. */
#ifndef FERRY_ARRAY_H
#define FERRY_ARRAY_H

#include <stdlib.h>

/* Makes room in v (n elements used, cap allocated) for one more, doubling
 * from first. Evaluates to 0, or to -1 with v untouched when memory runs out. */
#define ARRAY_ROOM(v, n, cap, first)                                                               \
    __extension__({                                                                                \
        int rc_ = 0;                                                                               \
        if ((n) >= (cap)) {                                                                        \
            size_t c_ = (cap) ? (size_t)(cap)*2 : (size_t)(first);                                 \
            __typeof__(v) v_ = realloc((v), c_ * sizeof *(v));                                     \
            if (v_) {                                                                              \
                (v) = v_;                                                                          \
                (cap) = c_;                                                                        \
            } else {                                                                               \
                rc_ = -1;                                                                          \
            }                                                                                      \
        }                                                                                          \
        rc_;                                                                                       \
    })

#endif
