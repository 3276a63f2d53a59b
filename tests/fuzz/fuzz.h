/* fuzz.h — shared by the fuzz targets in tests/fuzz/fuzz_*.c.
 *
 * Each target defines LLVMFuzzerTestOneInput(data, size): it feeds the bytes
 * to one parser and, when the parser accepts them, walks everything the
 * parser claims to have found (every tensor's bytes, every string), so a
 * view past the end of the input shows up under AddressSanitizer.  The same
 * file builds two ways:
 *  - with clang -fsanitize=fuzzer,address,undefined: a libFuzzer binary
 *    (tests/fuzz/build.sh), for fuzzing;
 *  - with the project's compiler and regress.c's main(): a regression runner
 *    that feeds every file of the committed corpus once (tests/fuzz/run.sh,
 *    part of the test suite, normal and sanitizer builds).
 * The parsers that read files are given a file: fuzz_file() writes the input
 * to one scratch file per process (in $TMPDIR, else /tmp) and returns its path. */
#ifndef VOX_TESTS_FUZZ_H
#define VOX_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_path_[512];
static inline void fuzz_remove_file_(void) { unlink(fuzz_path_); }

static inline const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix) {
    char *path = fuzz_path_;
    if (!path[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(path, sizeof fuzz_path_ - 16, "%s/voxtts-fuzz-%ld", t && *t ? t : "/tmp", (long)getpid());
        strcat(path, suffix);
        atexit(fuzz_remove_file_);
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort(); /* the harness itself is broken: never a silent pass */
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();
    return path;
}

/* Read every byte of a view (a checksum the compiler cannot drop). */
static inline unsigned fuzz_touch(const void *p, size_t n) {
    const volatile unsigned char *b = p;
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s += b[i];
    return s;
}

#endif
