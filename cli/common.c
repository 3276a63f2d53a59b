/* common.c — small helpers shared by the voxtts sub-commands (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_read_text_file(const char *path, char **out, size_t *len) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "voxtts: cannot open text file '%s': %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) goto nomem;
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > ((size_t)1 << 30)) {
                fprintf(stderr, "voxtts: text file '%s' is larger than 1 GiB\n", path);
                free(buf);
                if (f != stdin) fclose(f);
                return -1;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) goto nomem;
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        fprintf(stderr, "voxtts: cannot read text file '%s': %s\n", path, strerror(errno));
        free(buf);
        if (f != stdin) fclose(f);
        return -1;
    }
    if (f != stdin) fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
nomem:
    free(buf);
    if (f != stdin) fclose(f);
    fprintf(stderr, "voxtts: out of memory reading '%s'\n", path);
    return -1;
}

char *cli_join_args(int n, char **argv) {
    size_t total = 1;
    for (int i = 0; i < n; i++) total += strlen(argv[i]) + 1;
    char *s = malloc(total);
    if (!s) return NULL;
    s[0] = '\0';
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(argv[i]);
        if (i) s[pos++] = ' ';
        memcpy(s + pos, argv[i], l);
        pos += l;
        s[pos] = '\0';
    }
    return s;
}

int cli_parse_int(const char *opt, const char *s, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "voxtts: invalid value '%s' for %s (expected an integer in [%ld, %ld])\n",
                s, opt, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_float(const char *opt, const char *s, float *out) {
    char *end = NULL;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || !end || *end || end == s || v != v) {
        fprintf(stderr, "voxtts: invalid value '%s' for %s (expected a number)\n", s, opt);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_u64(const char *opt, const char *s, unsigned long long *out) {
    char *end = NULL;
    errno = 0;
    if (s[0] == '-') goto bad;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || !end || *end || end == s) goto bad;
    *out = v;
    return 0;
bad:
    fprintf(stderr, "voxtts: invalid value '%s' for %s (expected a non-negative integer)\n", s, opt);
    return -1;
}

const char *cli_default_model_dir(void) {
    const char *env = getenv("VOXTTS_MODEL");
    return env && *env ? env : VOX_DEFAULT_MODEL_DIR;
}

void cli_print_error(const char *what, const voxtts_error *err) {
    fprintf(stderr, "voxtts: %s: %s\n", what, err->msg[0] ? err->msg : "unknown error");
}
