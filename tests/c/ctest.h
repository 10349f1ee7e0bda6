/* ctest.h - a tiny assert-and-count test harness for partyhub's C units. */
#ifndef PARTYHUB_CTEST_H
#define PARTYHUB_CTEST_H

#include <stdio.h>

typedef struct ctest_state {
    int checks;
    int failures;
} ctest_state;

/* Record one check; print file:line and the expression when it fails. */
#define CHECK(st, expr)                                                   \
    do {                                                                  \
        (st)->checks++;                                                   \
        if (!(expr)) {                                                    \
            (st)->failures++;                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,        \
                    __LINE__, #expr);                                     \
        }                                                                 \
    } while (0)

#endif
