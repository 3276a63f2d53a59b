/* test_files.h — scratch files for the unit tests that read and write files.
 *
 * make_dir("tag") creates a fresh directory under $TMPDIR (or /tmp) named in
 * g_dir; tpath() builds paths inside it; rm_dir() removes it with everything in
 * it.  write_bytes/read_bytes move raw bytes (exit(2) when the test's own setup
 * fails, so a broken environment is never mistaken for a passing check), and
 * count_dir_entries() lets a test assert that a failed write left no stray file. */
#ifndef VOX_TEST_FILES_H
#define VOX_TEST_FILES_H

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char g_dir[256];

static inline int test_rm_cb_(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static inline void make_dir(const char *tag) {
    const char *t = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/vox_%s_XXXXXX", t && *t ? t : "/tmp", tag);
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        exit(2);
    }
}

static inline void rm_dir(void) { nftw(g_dir, test_rm_cb_, 8, FTW_DEPTH | FTW_PHYS); }

/* buf must hold 512 bytes. */
static inline const char *tpath(char *buf, const char *name) {
    snprintf(buf, 512, "%s/%s", g_dir, name);
    return buf;
}

static inline int count_dir_entries(void) {
    DIR *d = opendir(g_dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

static inline void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n)) {
        perror(path);
        exit(2);
    }
    fclose(f);
}

/* The whole file, malloc'd (one spare byte), or NULL. */
static inline unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = sz >= 0 ? malloc((size_t)sz + 1) : NULL;
    if (b && fread(b, 1, (size_t)sz, f) != (size_t)sz) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = b ? (size_t)sz : 0;
    return b;
}

#endif
