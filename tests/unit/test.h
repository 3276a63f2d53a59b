/* test.h — the minimal unit-test harness shared by tests/unit/test_*.c.
 *
 * CHECK(cond, fmt, ...) records a failure with its location and keeps going;
 * TEST_MAIN_END prints "N passed, N failed" and returns non-zero on any failure. */
#ifndef VOX_TEST_H
#define VOX_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int test_passed_, test_failed_;

#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        if (cond) {                                                              \
            test_passed_++;                                                      \
        } else {                                                                 \
            test_failed_++;                                                      \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
            fprintf(stderr, __VA_ARGS__);                                        \
            fputc('\n', stderr);                                                 \
        }                                                                        \
    } while (0)

#define TEST_MAIN_END()                                                          \
    do {                                                                         \
        printf("%s: %d passed, %d failed\n", __FILE__, test_passed_, test_failed_); \
        return test_failed_ ? 1 : 0;                                             \
    } while (0)

#endif
