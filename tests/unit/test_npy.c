/* test_npy.c — .npy read/write: round trips, the exact header NumPy expects, and
 * every malformed input (bad magic, unsupported dtype or order, truncation,
 * trailing bytes, broken header dict) failing with a message naming the file. */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/npy.h"
#include "test.h"
#include "test_files.h"

/* Hand-made npy: version major, header text (padded by us), then data bytes. */
static void write_npy_raw(const char *path, int major, const char *hdr, const void *data, size_t dlen) {
    unsigned char b[4096];
    size_t hl = strlen(hdr), pre = major == 1 ? 10 : 12, k = 0;
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    if (major == 1) {
        b[8] = (unsigned char)hl;
        b[9] = (unsigned char)(hl >> 8);
    } else {
        for (int i = 0; i < 4; i++) b[8 + i] = (unsigned char)(hl >> (8 * i));
    }
    k = pre;
    memcpy(b + k, hdr, hl);
    k += hl;
    if (dlen) memcpy(b + k, data, dlen);
    write_bytes(path, b, k + dlen);
}

static void expect_fail(const char *path, int code, const char *needle, const char *what) {
    vox_npy a;
    vox_error err = {0};
    int rc = vox_npy_read(path, &a, &err);
    CHECK(rc == code, "%s: rc %d, want %d (%s)", what, rc, code, err.msg);
    CHECK(a.data == NULL, "%s: data not NULL", what);
    CHECK(err.msg[0] && strstr(err.msg, path), "%s: message lacks the path: '%s'", what, err.msg);
    if (needle) CHECK(strstr(err.msg, needle) != NULL, "%s: message lacks '%s': '%s'", what, needle, err.msg);
    if (rc == VOX_OK) vox_npy_free(&a);
}

static void test_round_trip(void) {
    char p[512];
    vox_error err = {0};
    float f[24];
    for (int i = 0; i < 24; i++) f[i] = (float)i * 0.5f - 3.0f;
    int32_t iv[5] = {-7, 0, 1, 2147483647, -2147483647 - 1};
    struct {
        vox_npy_type type;
        int ndim;
        int64_t shape[8];
        const void *data;
        size_t bytes;
        const char *shape_text;
    } cases[] = {
        {VOX_NPY_F32, 3, {2, 3, 4}, f, sizeof f, "(2, 3, 4)"},
        {VOX_NPY_I32, 1, {5}, iv, sizeof iv, "(5,)"},
        {VOX_NPY_F32, 0, {0}, f, 4, "()"},
        {VOX_NPY_F32, 2, {0, 3}, NULL, 0, "(0, 3)"},
        {VOX_NPY_I32, 8, {1, 1, 1, 1, 1, 1, 1, 5}, iv, sizeof iv, "(1, 1, 1, 1, 1, 1, 1, 5)"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        tpath(p, "rt.npy");
        int rc = vox_npy_write(p, cases[c].type, cases[c].ndim, cases[c].shape, cases[c].data, &err);
        CHECK(rc == VOX_OK, "write case %zu: %s", c, err.msg);
        size_t n;
        unsigned char *raw = read_bytes(p, &n);
        if (raw) {
            unsigned hl = raw[8] | raw[9] << 8;
            CHECK(memcmp(raw, "\x93NUMPY\x01\x00", 8) == 0, "magic v1.0");
            CHECK((10 + hl) % 64 == 0 && raw[10 + hl - 1] == '\n', "header padded to 64, ends in newline");
            char want[200];
            snprintf(want, sizeof want, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     cases[c].type == VOX_NPY_F32 ? "<f4" : "<i4", cases[c].shape_text);
            CHECK(strncmp((char *)raw + 10, want, strlen(want)) == 0, "header text case %zu: %.80s", c, raw + 10);
            CHECK(n == 10 + hl + cases[c].bytes, "file size");
            free(raw);
        }
        vox_npy a;
        rc = vox_npy_read(p, &a, &err);
        CHECK(rc == VOX_OK, "read case %zu: %s", c, err.msg);
        if (rc) continue;
        CHECK(a.type == cases[c].type && a.ndim == cases[c].ndim, "type/ndim case %zu", c);
        int64_t numel = 1;
        for (int d = 0; d < a.ndim; d++) {
            CHECK(a.shape[d] == cases[c].shape[d], "shape case %zu", c);
            numel *= a.shape[d];
        }
        CHECK(a.numel == numel, "numel case %zu", c);
        if (cases[c].bytes) CHECK(memcmp(a.data, cases[c].data, cases[c].bytes) == 0, "data case %zu", c);
        vox_npy_free(&a);
    }
    CHECK(count_dir_entries() == 1, "no temp files left");

    /* version 2.0 header and a Python-2 style long, written by hand */
    tpath(p, "v2.npy");
    const char *h2 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 2), }          \n";
    write_npy_raw(p, 2, h2, f, 16);
    vox_npy a;
    int rc = vox_npy_read(p, &a, &err);
    CHECK(rc == VOX_OK && a.ndim == 2 && a.shape[0] == 2 && a.numel == 4, "v2 read: %s", err.msg);
    if (rc == VOX_OK) {
        CHECK(memcmp(a.data, f, 16) == 0, "v2 data");
        vox_npy_free(&a);
    }
    /* keys in another order, double quotes */
    write_npy_raw(p, 1, "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<i4\"}\n", iv, 12);
    rc = vox_npy_read(p, &a, &err);
    CHECK(rc == VOX_OK && a.type == VOX_NPY_I32 && a.numel == 3, "reordered keys: %s", err.msg);
    if (rc == VOX_OK) vox_npy_free(&a);

    /* writer errors leave nothing behind */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/dir/x.npy", g_dir);
    CHECK(vox_npy_write(bad, VOX_NPY_F32, 1, (int64_t[]){2}, f, &err) == VOX_E_IO && strstr(err.msg, bad),
          "unwritable: %s", err.msg);
    CHECK(vox_npy_write(p, VOX_NPY_F32, 1, (int64_t[]){-2}, f, &err) == VOX_E_ARG, "negative dim");
    CHECK(vox_npy_write(p, VOX_NPY_F32, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, f, &err) == VOX_E_ARG, "9 dims");
    CHECK(vox_npy_write(p, VOX_NPY_F32, 1, (int64_t[]){2}, NULL, &err) == VOX_E_ARG, "NULL data");
}

static void test_bad_files(void) {
    char p[512];
    float f[8] = {0};
    expect_fail(tpath(p, "missing.npy"), VOX_E_IO, NULL, "missing file");
    tpath(p, "bad.npy");
    write_bytes(p, "\x93NUMPX\x01\x00\x10\x00{}", 12);
    expect_fail(p, VOX_E_FORMAT, "magic", "bad magic");
    write_bytes(p, "\x93NUM", 4);
    expect_fail(p, VOX_E_FORMAT, NULL, "truncated magic");
    write_bytes(p, "", 0);
    expect_fail(p, VOX_E_FORMAT, NULL, "empty file");
    write_npy_raw(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", f, 16);
    expect_fail(p, VOX_E_UNSUPPORTED, "<f8", "float64");
    write_npy_raw(p, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", f, 8);
    expect_fail(p, VOX_E_UNSUPPORTED, ">f4", "big endian");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", f, 16);
    expect_fail(p, VOX_E_UNSUPPORTED, "Fortran", "fortran order");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", f, 20);
    expect_fail(p, VOX_E_FORMAT, "truncated", "truncated data");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", f, 12);
    expect_fail(p, VOX_E_FORMAT, "trailing", "trailing bytes");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ", f, 0);
    expect_fail(p, VOX_E_FORMAT, NULL, "unterminated dict");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False}\n", f, 0);
    expect_fail(p, VOX_E_FORMAT, "shape", "no shape");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }\n", f, 8);
    expect_fail(p, VOX_E_FORMAT, "shape", "bad shape");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }\n", f, 4);
    expect_fail(p, VOX_E_FORMAT, "shape", "too many dims");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }\n", f, 4);
    expect_fail(p, VOX_E_FORMAT, "shape", "shape overflow");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n", f, 4);
    expect_fail(p, VOX_E_FORMAT, NULL, "numel overflow");
    write_npy_raw(p, 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }\n", f, 8);
    expect_fail(p, VOX_E_FORMAT, "fortran_order", "non-bool order");
    write_npy_raw(p, 1, "{'descr': '<f4', 'extra': 1, 'shape': (2,), }\n", f, 8);
    expect_fail(p, VOX_E_FORMAT, "extra", "unknown key");
    /* header length beyond the file */
    write_bytes(p, "\x93NUMPY\x01\x00\xff\x7f{'descr'", 18);
    expect_fail(p, VOX_E_FORMAT, "header", "header past end");
    /* unknown version */
    write_bytes(p, "\x93NUMPY\x09\x00\x02\x00{}", 12);
    expect_fail(p, VOX_E_UNSUPPORTED, "version", "version 9");
}

int main(void) {
    make_dir("npy");
    test_round_trip();
    test_bad_files();
    rm_dir();
    TEST_MAIN_END();
}
