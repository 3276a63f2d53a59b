/* test_safetensors.c — the safetensors reader/writer and the tensor dtype helpers.
 *
 * Round trips through both writers (plain and streaming, including a tensor
 * larger than one write chunk), then every way a file can be broken: missing,
 * cut at various points, offsets outside the data, unsupported or unknown
 * dtypes, shape/byte mismatches, bad JSON; each must fail with the right code
 * and a message naming the file (and the tensor when there is one). */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "test.h"
#include "test_files.h"

/* ---- temp dir ---------------------------------------------------------- */

/* A raw safetensors file: 8-byte length, the given header text, data bytes. */
static void write_raw(const char *path, const char *json, const void *data, size_t dlen) {
    size_t hl = strlen(json);
    unsigned char *b = malloc(8 + hl + dlen + 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, json, hl);
    if (dlen) memcpy(b + 8 + hl, data, dlen);
    write_bytes(path, b, 8 + hl + dlen);
    free(b);
}

/* Expect open(path) to fail with `code`, the message naming the path and, when
 * `needle` is given, containing it. */
static void expect_open_fail(const char *path, int code, const char *needle, const char *what) {
    vox_safetensors *st = (vox_safetensors *)1;
    vox_error err = {0};
    int rc = vox_safetensors_open(path, &st, &err);
    CHECK(rc == code, "%s: rc %d, want %d (%s)", what, rc, code, err.msg);
    CHECK(st == NULL, "%s: handle not NULL on failure", what);
    CHECK(err.code == code, "%s: err.code %d", what, err.code);
    CHECK(err.msg[0] && strstr(err.msg, path), "%s: message lacks the path: '%s'", what, err.msg);
    if (needle) CHECK(strstr(err.msg, needle) != NULL, "%s: message lacks '%s': '%s'", what, needle, err.msg);
    if (rc == VOX_OK) vox_safetensors_close(st);
}

/* ---- dtype helpers -------------------------------------------------------- */

static void test_dtypes(void) {
    CHECK(strcmp(vox_dtype_name(VOX_BF16), "BF16") == 0, "name");
    CHECK(strcmp(vox_dtype_name(VOX_Q4_K), "Q4_K") == 0, "name");
    CHECK(vox_dtype_row_bytes(VOX_F32, 10) == 40, "f32 row");
    CHECK(vox_dtype_row_bytes(VOX_BF16, 10) == 20, "bf16 row");
    CHECK(vox_dtype_row_bytes(VOX_F16, 3) == 6, "f16 row");
    CHECK(vox_dtype_row_bytes(VOX_Q8_0, 64) == 68, "q8_0 row");
    CHECK(vox_dtype_row_bytes(VOX_Q4_K, 512) == 288, "q4_k row");
    vox_tensor t = {.dtype = VOX_F32, .ndim = 3, .shape = {2, 3, 4}};
    CHECK(vox_tensor_numel(&t) == 24, "numel");
    t.ndim = 0;
    CHECK(vox_tensor_numel(&t) == 1, "scalar numel");

    /* F16: 1, -2, smallest subnormal, 65504, inf */
    uint16_t h[5] = {0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00};
    float f[5];
    vox_tensor th = {.dtype = VOX_F16, .ndim = 1, .shape = {5}, .data = h, .nbytes = sizeof h};
    vox_tensor_to_f32(&th, f);
    CHECK(f[0] == 1.0f && f[1] == -2.0f && f[2] == 5.9604644775390625e-8f && f[3] == 65504.0f &&
              isinf(f[4]) && f[4] > 0,
          "f16 values %g %g %g %g %g", f[0], f[1], f[2], f[3], f[4]);

    /* Q8_0: one block, scale 0.5 (f16 0x3800), quants -3..28 */
    unsigned char q[34];
    q[0] = 0x00, q[1] = 0x38;
    for (int i = 0; i < 32; i++) q[2 + i] = (unsigned char)(int8_t)(i - 3);
    vox_tensor tq = {.dtype = VOX_Q8_0, .ndim = 2, .shape = {1, 32}, .data = q, .nbytes = 34};
    float fq[32];
    vox_tensor_get_row(&tq, 0, fq);
    int ok = 1;
    for (int i = 0; i < 32; i++) ok &= fq[i] == 0.5f * (float)(i - 3);
    CHECK(ok, "q8_0 dequant");

    /* Q4_K: d = 1, dmin = 0.5; sub-block scales 1..8, mins 0..7; all quants 3 (low) / 5 (high) */
    unsigned char k4[144] = {0};
    k4[0] = 0x00, k4[1] = 0x3c; /* d = 1 */
    k4[2] = 0x00, k4[3] = 0x38; /* dmin = 0.5 */
    int sc[8] = {1, 2, 3, 4, 5, 6, 7, 8}, mn[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    for (int j = 0; j < 4; j++) {
        k4[4 + j] = (unsigned char)sc[j];
        k4[4 + j + 4] = (unsigned char)mn[j];
        k4[4 + j + 8] = (unsigned char)((sc[j + 4] & 0xf) | (mn[j + 4] & 0xf) << 4);
    }
    for (int i = 0; i < 128; i++) k4[16 + i] = 0x53;
    vox_tensor tk = {.dtype = VOX_Q4_K, .ndim = 2, .shape = {1, 256}, .data = k4, .nbytes = 144};
    float fk[256];
    vox_tensor_get_row(&tk, 0, fk);
    ok = 1;
    for (int s = 0; s < 8; s++)
        for (int l = 0; l < 32; l++)
            ok &= fk[s * 32 + l] == (float)sc[s] * (float)((s & 1) ? 5 : 3) - 0.5f * (float)mn[s];
    CHECK(ok, "q4_k dequant (%g %g)", fk[0], fk[255]);

    /* out-of-range row: zeros, no read */
    float z[32] = {1};
    vox_tensor_get_row(&tq, 1, z);
    CHECK(z[0] == 0.0f, "row out of range gives zeros");
}

/* ---- round trips ---------------------------------------------------------- */

static void test_round_trip(void) {
    char p[512];
    tpath(p, "rt.safetensors");
    float a[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-20f};
    uint16_t b[20];
    for (int i = 0; i < 20; i++) b[i] = vox_f32_to_bf16((float)i * 0.25f - 2.0f);
    uint16_t h[3] = {0x3c00, 0xc000, 0x3555};
    float s = 42.0f;
    const char *names[5] = {"bf16.weight", "f32 \"quoted\\name\"", "half", "scalar", "empty"};
    vox_tensor ts[5] = {
        {.dtype = VOX_BF16, .ndim = 2, .shape = {4, 5}, .data = b, .nbytes = sizeof b},
        {.dtype = VOX_F32, .ndim = 2, .shape = {2, 3}, .data = a, .nbytes = sizeof a},
        {.dtype = VOX_F16, .ndim = 1, .shape = {3}, .data = h, .nbytes = sizeof h},
        {.dtype = VOX_F32, .ndim = 0, .data = &s, .nbytes = 4},
        {.dtype = VOX_BF16, .ndim = 2, .shape = {0, 4}, .data = NULL, .nbytes = 0},
    };
    vox_error err = {0};
    int rc = vox_safetensors_write(p, 5, names, ts, &err);
    CHECK(rc == VOX_OK, "write: %s", err.msg);
    CHECK(count_dir_entries() == 1, "only the file remains (no temp)");

    size_t n;
    unsigned char *raw = read_bytes(p, &n);
    CHECK(raw != NULL, "read back");
    if (raw) {
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--) hl = hl << 8 | raw[i];
        CHECK(hl % 8 == 0, "header padded to 8 (%llu)", (unsigned long long)hl);
        CHECK(n == 8 + hl + sizeof a + 4 + sizeof b + sizeof h, "file size %zu", n);
        free(raw);
    }

    vox_safetensors *st = NULL;
    rc = vox_safetensors_open(p, &st, &err);
    CHECK(rc == VOX_OK, "open: %s", err.msg);
    if (rc) return;
    CHECK(vox_safetensors_count(st) == 5, "count %zu", vox_safetensors_count(st));
    CHECK(strcmp(vox_safetensors_path(st), p) == 0, "path");
    for (int i = 0; i < 5; i++) {
        const vox_tensor *t = vox_safetensors_find(st, names[i]);
        CHECK(t != NULL, "find %s", names[i]);
        if (!t) continue;
        CHECK(t->dtype == ts[i].dtype && t->ndim == ts[i].ndim, "dtype/ndim of %s", names[i]);
        for (int d = 0; d < t->ndim; d++) CHECK(t->shape[d] == ts[i].shape[d], "shape of %s", names[i]);
        CHECK(t->nbytes == ts[i].nbytes, "nbytes of %s", names[i]);
        if (t->nbytes) CHECK(memcmp(t->data, ts[i].data, t->nbytes) == 0, "bytes of %s", names[i]);
        CHECK(((uintptr_t)t->data % (t->dtype == VOX_F32 ? 4 : 2)) == 0, "alignment of %s", names[i]);
    }
    CHECK(vox_safetensors_find(st, "nope") == NULL, "absent tensor");
    int seen = 0;
    for (size_t i = 0; i < vox_safetensors_count(st); i++)
        seen += vox_safetensors_find(st, vox_safetensors_name(st, i)) != NULL;
    CHECK(seen == 5, "every listed name is findable");

    const vox_tensor *t;
    float row[5];
    rc = vox_safetensors_expect(st, "bf16.weight", 2, (int64_t[]){4, 5}, &t, &err);
    CHECK(rc == VOX_OK && t, "expect ok: %s", err.msg);
    if (t) {
        vox_tensor_get_row(t, 2, row);
        CHECK(row[0] == 10 * 0.25f - 2.0f && row[4] == 14 * 0.25f - 2.0f, "bf16 row values");
    }
    float hf[3];
    vox_tensor_to_f32(vox_safetensors_find(st, "half"), hf);
    CHECK(hf[0] == 1.0f && hf[1] == -2.0f && fabsf(hf[2] - 0.33325195f) < 1e-7f, "f16 values");

    /* expect: missing, wrong shape, wrong rank */
    err.msg[0] = 0;
    rc = vox_safetensors_expect(st, "layers.0.attention.wq.weight", 2, (int64_t[]){4096, 3072}, &t, &err);
    CHECK(rc == VOX_E_MISSING && t == NULL, "expect missing rc %d", rc);
    CHECK(strstr(err.msg, p) && strstr(err.msg, "missing tensor 'layers.0.attention.wq.weight'"),
          "missing message: %s", err.msg);
    rc = vox_safetensors_expect(st, "bf16.weight", 2, (int64_t[]){5, 4}, &t, &err);
    CHECK(rc == VOX_E_SHAPE, "expect wrong shape rc %d", rc);
    char want[700];
    snprintf(want, sizeof want, "%s: tensor 'bf16.weight' has shape [4, 5], expected [5, 4]", p);
    CHECK(strcmp(err.msg, want) == 0, "shape message: '%s'", err.msg);
    rc = vox_safetensors_expect(st, "half", 2, (int64_t[]){3, 1}, &t, &err);
    CHECK(rc == VOX_E_SHAPE && strstr(err.msg, "[3], expected [3, 1]"), "rank message: %s", err.msg);
    vox_safetensors_close(st);
}

/* Streaming writer: a tensor bigger than one chunk, pattern-checked. */
typedef struct fill_state {
    size_t cur, off, calls;
    size_t abort_at; /* abort on this call number (0: never) */
} fill_state;

static unsigned char pattern(size_t t, size_t i) { return (unsigned char)(t * 77 + i * 13 + (i >> 20)); }

static int fill_cb(void *user, size_t ti, void *buf, size_t nbytes) {
    fill_state *fs = user;
    fs->calls++;
    if (fs->abort_at && fs->calls == fs->abort_at) return 1;
    if (ti != fs->cur) fs->cur = ti, fs->off = 0;
    unsigned char *b = buf;
    for (size_t i = 0; i < nbytes; i++) b[i] = pattern(ti, fs->off + i);
    fs->off += nbytes;
    return 0;
}

static void test_stream_writer(void) {
    char p[512];
    tpath(p, "big.safetensors");
    int64_t big_cols = (int64_t)(VOX_SAFETENSORS_CHUNK / 4) + 1000; /* > one chunk of F32 */
    const char *names[3] = {"small.bf16", "big.f32", "mid.f16"};
    vox_tensor ts[3] = {
        {.dtype = VOX_BF16, .ndim = 1, .shape = {7}},
        {.dtype = VOX_F32, .ndim = 2, .shape = {1, big_cols}},
        {.dtype = VOX_F16, .ndim = 3, .shape = {2, 3, 5}},
    };
    fill_state fs = {.cur = (size_t)-1};
    vox_error err = {0};
    int rc = vox_safetensors_write_cb(p, 3, names, ts, fill_cb, &fs, &err);
    CHECK(rc == VOX_OK, "write_cb: %s", err.msg);
    CHECK(fs.calls == 4, "chunked calls: %zu", fs.calls);
    vox_safetensors *st = NULL;
    rc = vox_safetensors_open(p, &st, &err);
    CHECK(rc == VOX_OK, "open big: %s", err.msg);
    if (rc == VOX_OK) {
        for (int k = 0; k < 3; k++) {
            const vox_tensor *t = vox_safetensors_find(st, names[k]);
            CHECK(t && t->dtype == ts[k].dtype, "find %s", names[k]);
            if (!t) continue;
            const unsigned char *d = t->data;
            int ok = 1;
            for (size_t i = 0; i < t->nbytes; i++) ok &= d[i] == pattern((size_t)k, i);
            CHECK(ok, "pattern of %s", names[k]);
        }
        vox_safetensors_close(st);
    }
    unlink(p);

    /* Abort from the callback: error, no file, no temp left. */
    fill_state ab = {.cur = (size_t)-1, .abort_at = 2};
    int before = count_dir_entries();
    rc = vox_safetensors_write_cb(p, 3, names, ts, fill_cb, &ab, &err);
    CHECK(rc == VOX_E_CANCELLED, "abort rc %d", rc);
    CHECK(strstr(err.msg, p) && strstr(err.msg, "big.f32"), "abort message: %s", err.msg);
    CHECK(access(p, F_OK) != 0, "no file after abort");
    CHECK(count_dir_entries() == before, "no temp left after abort");
}

static void test_writer_errors(void) {
    char p[512];
    tpath(p, "bad_write.safetensors");
    float a[2] = {1, 2};
    vox_error err = {0};
    const char *dup[2] = {"x", "x"};
    vox_tensor t2[2] = {{.dtype = VOX_F32, .ndim = 1, .shape = {2}, .data = a, .nbytes = 8},
                        {.dtype = VOX_F32, .ndim = 1, .shape = {2}, .data = a, .nbytes = 8}};
    CHECK(vox_safetensors_write(p, 2, dup, t2, &err) == VOX_E_ARG && strstr(err.msg, "'x'"),
          "duplicate names: %s", err.msg);
    const char *one[1] = {"q"};
    vox_tensor tq = {.dtype = VOX_Q8_0, .ndim = 1, .shape = {32}, .data = a, .nbytes = 34};
    CHECK(vox_safetensors_write(p, 1, one, &tq, &err) == VOX_E_ARG && strstr(err.msg, "Q8_0"),
          "quant dtype: %s", err.msg);
    vox_tensor tb = {.dtype = VOX_F32, .ndim = 1, .shape = {3}, .data = a, .nbytes = 8};
    CHECK(vox_safetensors_write(p, 1, one, &tb, &err) == VOX_E_ARG, "nbytes mismatch: %s", err.msg);
    const char *meta[1] = {"__metadata__"};
    CHECK(vox_safetensors_write(p, 1, meta, t2, &err) == VOX_E_ARG, "reserved name");
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.safetensors", g_dir);
    CHECK(vox_safetensors_write(nodir, 1, one, t2, &err) == VOX_E_IO && strstr(err.msg, nodir),
          "unwritable path: %s", err.msg);
    CHECK(access(p, F_OK) != 0, "nothing written on argument errors");
}

/* ---- malformed files ------------------------------------------------------ */

static void test_bad_files(void) {
    char p[512], q[512];
    expect_open_fail(tpath(p, "does_not_exist.safetensors"), VOX_E_IO, NULL, "missing file");

    /* a valid file to cut */
    tpath(p, "good.safetensors");
    uint16_t b[64];
    for (int i = 0; i < 64; i++) b[i] = (uint16_t)(0x3f80 + i);
    float a[8] = {0};
    const char *names[2] = {"emb.weight", "norm.weight"};
    vox_tensor ts[2] = {{.dtype = VOX_BF16, .ndim = 2, .shape = {8, 8}, .data = b, .nbytes = sizeof b},
                        {.dtype = VOX_F32, .ndim = 1, .shape = {8}, .data = a, .nbytes = sizeof a}};
    vox_error err = {0};
    CHECK(vox_safetensors_write(p, 2, names, ts, &err) == VOX_OK, "write good: %s", err.msg);
    size_t n;
    unsigned char *raw = read_bytes(p, &n);
    if (!raw) return;
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | raw[i];
    size_t cuts[] = {0, 4, 8, 8 + (size_t)hl / 2, 8 + (size_t)hl - 1, 8 + (size_t)hl,
                     8 + (size_t)hl + 1, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "cut at %zu of %zu", cuts[i], n);
        tpath(q, "cut.safetensors");
        write_bytes(q, raw, cuts[i]);
        expect_open_fail(q, VOX_E_FORMAT, NULL, what);
    }
    /* cut inside the data: the error names the tensor that no longer fits */
    write_bytes(q, raw, n - 1);
    expect_open_fail(q, VOX_E_FORMAT, "emb.weight", "cut in data names tensor");
    /* absurd header length */
    memcpy(q, p, 0);
    unsigned char big[16] = {0, 0, 0, 0, 0, 0, 0, 0x40, '{', '}'};
    write_bytes(q, big, 10);
    expect_open_fail(q, VOX_E_FORMAT, NULL, "huge header length");
    free(raw);

    unsigned char data[64] = {0};
    struct {
        const char *json;
        size_t dlen;
        int code;
        const char *needle;
        const char *what;
    } cases[] = {
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,1000]}}", 16, VOX_E_FORMAT, "'w'", "offsets outside the file"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,0]}}", 16, VOX_E_FORMAT, "'w'", "begin > end"},
        {"{\"w\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16, VOX_E_UNSUPPORTED, "'w' has dtype I64", "I64 dtype"},
        {"{\"w\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16, VOX_E_FORMAT, "'w'", "unknown dtype"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16, VOX_E_FORMAT, "'w'", "shape/bytes mismatch"},
        {"{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,-4],\"data_offsets\":[0,16]}}", 16, VOX_E_FORMAT, "'w'", "negative dim"},
        {"{\"w\":{\"dtype\":\"BF16\",\"shape\":[2.5],\"data_offsets\":[0,16]}}", 16, VOX_E_FORMAT, "'w'", "fractional dim"},
        {"{\"w\":{\"dtype\":\"BF16\",\"shape\":[1,1,1,1,8],\"data_offsets\":[0,16]}}", 16, VOX_E_UNSUPPORTED, "'w'", "5 dims"},
        {"{\"w\":{\"dtype\":\"BF16\",\"shape\":[8]}}", 16, VOX_E_FORMAT, "'w'", "no data_offsets"},
        {"{\"w\":{\"shape\":[8],\"data_offsets\":[0,16]}}", 16, VOX_E_FORMAT, "'w'", "no dtype"},
        {"{\"w\":[1,2]}", 16, VOX_E_FORMAT, "'w'", "entry not an object"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, VOX_E_FORMAT, "'w'", "duplicate name"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}", 16, VOX_E_FORMAT, NULL, "unterminated JSON"},
        {"[1,2,3]", 16, VOX_E_FORMAT, NULL, "header not an object"},
        {"{} garbage", 0, VOX_E_FORMAT, NULL, "garbage after JSON"},
        {"\x01\x02\x03\x04", 0, VOX_E_FORMAT, NULL, "binary header"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tpath(q, "case.safetensors");
        write_raw(q, cases[i].json, data, cases[i].dlen);
        expect_open_fail(q, cases[i].code, cases[i].needle, cases[i].what);
    }

    /* accepted oddities: __metadata__, unaligned data, padding, empty header */
    struct {
        const char *json;
        size_t dlen;
        size_t count;
        const char *what;
    } oks[] = {
        {"{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, 1, "metadata ignored"},
        {"{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[1,7]}}   ", 8, 1, "unaligned BF16 + padding"},
        {"{}", 0, 0, "empty checkpoint"},
    };
    for (size_t i = 0; i < sizeof oks / sizeof oks[0]; i++) {
        tpath(q, "ok.safetensors");
        unsigned char d8[16];
        for (int k = 0; k < 16; k++) d8[k] = (unsigned char)(k + 1);
        write_raw(q, oks[i].json, d8, oks[i].dlen);
        vox_safetensors *st = NULL;
        int rc = vox_safetensors_open(q, &st, &err);
        CHECK(rc == VOX_OK, "%s: %s", oks[i].what, err.msg);
        if (rc) continue;
        CHECK(vox_safetensors_count(st) == oks[i].count, "%s: count", oks[i].what);
        const vox_tensor *t = vox_safetensors_find(st, "w");
        if (i == 1 && t) {
            /* bytes 2..7 of the data (1-based pattern): bf16 0x0302, 0x0504, 0x0706 */
            CHECK(((uintptr_t)t->data % 2) == 0, "realigned view");
            uint16_t v[3];
            memcpy(v, t->data, 6);
            CHECK(v[0] == 0x0302 && v[1] == 0x0504 && v[2] == 0x0706, "unaligned values");
        }
        vox_safetensors_close(st);
    }
}

int main(void) {
    make_dir("st");
    test_dtypes();
    test_round_trip();
    test_stream_writer();
    test_writer_errors();
    test_bad_files();
    rm_dir();
    TEST_MAIN_END();
}
