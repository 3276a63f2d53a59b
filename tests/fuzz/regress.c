/* regress.c — runs a fuzz target over files, without a fuzzing engine: each
 * argument is a file or a directory whose files are fed to
 * LLVMFuzzerTestOneInput once.  Prints "N passed, 0 failed" (a crash or a
 * sanitizer report ends the process non-zero instead). */
#include <dirent.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) break;
            buf = nb;
        }
    }
    fclose(f);
    if (!buf) return -1;
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    int ran = 0, bad = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st) != 0) {
            fprintf(stderr, "regress: %s: missing\n", argv[a]);
            bad++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[a])) bad++;
            else ran++;
            continue;
        }
        DIR *d = opendir(argv[a]);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[a], e->d_name);
            if (run_file(p)) bad++;
            else ran++;
        }
        if (d) closedir(d);
    }
    if (ran == 0) bad++; /* an empty corpus tests nothing */
    printf("%s: %d passed, %d failed\n", argc > 1 ? argv[1] : "regress", ran, bad);
    return bad ? 1 : 0;
}
