/* test_gguf.c — the GGUF reader and writer of src/io/gguf.c.
 *
 *  - A file written with every metadata type (13 scalar kinds, arrays of each,
 *    strings with odd bytes, an empty array, a blob) and tensors of every dtype
 *    (F32, F16, BF16, Q8_0, Q4_K; 0-D to 4-D; a zero-size one; one produced by a
 *    fill callback) reads back with identical values, shapes and bytes, aligned.
 *  - The exact bytes of a tiny file, derived by hand from the format.
 *  - A file written by ggml itself (embedded as hex) reads back correctly, its
 *    quantized tensors decoding to their input within the format's error.
 *  - Malformed files built byte by byte: bad magic, bad versions, absurd counts,
 *    lengths past the end, invalid value types, deep nesting, too many dims,
 *    overflowing shapes, unknown tensor types, rows not a multiple of the block,
 *    misaligned / out-of-file / overlapping data, duplicate keys and names, a bad
 *    alignment key, and every truncation of a valid file: each must fail with a
 *    clean error naming the file (and tensor/key), never crash.
 *  - Random byte corruption of a valid file never crashes (run under ASan).
 *  - Writer errors (bad arguments, unwritable path, failing fill callback) leave
 *    no file behind and do not disturb an existing one. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "io/gguf.h"
#include "tensor/quant.h"
#include "test.h"
#include "test_files.h"

/* ---- a byte-level GGUF builder for hand-made files --------------------------- */

typedef struct buf {
    unsigned char p[8192];
    size_t n;
} buf;

static void b_bytes(buf *b, const void *s, size_t n) {
    if (b->n + n <= sizeof b->p) memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void b_u8(buf *b, unsigned v) {
    unsigned char c = (unsigned char)v;
    b_bytes(b, &c, 1);
}
static void b_u32(buf *b, uint32_t v) {
    for (int i = 0; i < 4; i++) b_u8(b, (v >> (8 * i)) & 0xff);
}
static void b_u64(buf *b, uint64_t v) {
    b_u32(b, (uint32_t)v);
    b_u32(b, (uint32_t)(v >> 32));
}
static void b_str(buf *b, const char *s) {
    b_u64(b, strlen(s));
    b_bytes(b, s, strlen(s));
}
static void b_header(buf *b, uint32_t version, uint64_t n_t, uint64_t n_kv) {
    b->n = 0;
    b_bytes(b, "GGUF", 4);
    b_u32(b, version);
    b_u64(b, n_t);
    b_u64(b, n_kv);
}
static void b_kv_u32(buf *b, const char *key, uint32_t v) {
    b_str(b, key);
    b_u32(b, 4);
    b_u32(b, v);
}
/* A tensor info with up to 4 dims (ggml order). */
static void b_tensor(buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off) {
    b_str(b, name);
    b_u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++) b_u64(b, ne[i]);
    b_u32(b, type);
    b_u64(b, off);
}
static void b_pad(buf *b, size_t align) {
    while (b->n % align) b_u8(b, 0);
}

/* Open bytes as a file; returns the code and leaves the message in err. */
static int open_bytes(const void *data, size_t n, vox_error *err) {
    char path[512];
    tpath(path, "hand.gguf");
    write_bytes(path, data, n);
    vox_gguf *g = NULL;
    vox_error_clear(err);
    int rc = vox_gguf_open(path, &g, err);
    if (rc == VOX_OK) {
        /* exercise the accessors on whatever was accepted */
        for (int64_t i = 0; i < vox_gguf_n_tensors(g); i++) {
            const vox_gguf_tensor_info *t = vox_gguf_tensor_at(g, i);
            volatile unsigned char sink = 0;
            if (t->view.nbytes) sink ^= ((const unsigned char *)t->view.data)[t->view.nbytes - 1];
            (void)sink;
        }
        vox_gguf_close(g);
    } else if (g != NULL) {
        rc = 998; /* out must stay NULL on failure */
    }
    return rc;
}

#define EXPECT_FAIL(bytes_, n_, code_, needle_)                                                             \
    do {                                                                                                   \
        vox_error e_;                                                                                      \
        int rc_ = open_bytes(bytes_, n_, &e_);                                                             \
        CHECK(rc_ == (code_) && strstr(e_.msg, "hand.gguf") && strstr(e_.msg, needle_), "rc %d msg '%s'", \
              rc_, e_.msg);                                                                                \
    } while (0)

static void test_hand_bytes(void) {
    /* A tiny file written by the writer must be exactly this:
     *   "GGUF" 03000000 | n_tensors=1 (u64) | n_kv=1 (u64)
     *   key: len 1 "k", type 4 (u32), value 7
     *   tensor: len 1 "t", n_dims 2, ne = {2, 1} (innermost first), type 0 (F32), offset 0
     *   zero padding to 32, then 2 floats (1.0, -2.0), zero padding to 32. */
    buf want;
    b_header(&want, 3, 1, 1);
    b_kv_u32(&want, "k", 7);
    uint64_t ne[2] = {2, 1};
    b_tensor(&want, "t", 2, ne, 0, 0);
    CHECK(want.n == 24 + 17 + 41, "header arithmetic %zu", want.n);
    b_pad(&want, 32);
    float v[2] = {1.0f, -2.0f};
    b_bytes(&want, "\x00\x00\x80\x3f\x00\x00\x00\xc0", 8);
    b_pad(&want, 32);

    vox_error err;
    vox_gguf_writer *w = NULL;
    CHECK(vox_gguf_writer_new(&w, &err) == VOX_OK, "writer");
    int64_t shape[2] = {1, 2};
    CHECK(vox_gguf_add_u32(w, "k", 7, &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_tensor(w, "t", VOX_F32, 2, shape, v, sizeof v, &err) == VOX_OK, "%s", err.msg);
    char path[512];
    tpath(path, "tiny.gguf");
    CHECK(vox_gguf_write(w, path, &err) == VOX_OK, "%s", err.msg);
    vox_gguf_writer_free(w);
    size_t n = 0;
    unsigned char *got = read_bytes(path, &n);
    CHECK(got && n == want.n && memcmp(got, want.p, n) == 0, "tiny file bytes differ (size %zu vs %zu)", n, want.n);
    free(got);
    unlink(path);
}

/* ---- round trip of every type ------------------------------------------------ */

typedef struct fill_ctx {
    const float *src;
    int64_t row_len;
    vox_dtype dtype;
    int calls;
    int fail_at; /* call index that fails, or -1 */
} fill_ctx;

/* Values of the procedural source (src == NULL): a cheap hash of the position. */
static void proc_row(int64_t row, int64_t len, float *x) {
    for (int64_t i = 0; i < len; i++) {
        uint32_t h = (uint32_t)(row * 2654435761u) ^ (uint32_t)(i * 40503u);
        h ^= h >> 13;
        h *= 0x5bd1e995u;
        h ^= h >> 15;
        x[i] = (float)(h % 2001) / 1000.0f - 1.0f;
    }
}

static int fill_rows(void *user, int64_t row0, int64_t n_rows, void *out, vox_error *err) {
    fill_ctx *c = user;
    if (c->calls++ == c->fail_at) return vox_fail(err, VOX_E_INTERNAL, "deliberate fill failure");
    size_t rb = vox_dtype_row_bytes(c->dtype, c->row_len);
    float tmp[1024];
    if (c->row_len > 1024) return vox_fail(err, VOX_E_INTERNAL, "row too long for the test");
    for (int64_t r = 0; r < n_rows; r++) {
        const float *x = c->src ? c->src + (row0 + r) * c->row_len : tmp;
        if (!c->src) proc_row(row0 + r, c->row_len, tmp);
        if (vox_quantize_row(c->dtype, x, (unsigned char *)out + (size_t)r * rb, c->row_len) != VOX_OK)
            return vox_fail(err, VOX_E_INTERNAL, "quantize failed");
    }
    return VOX_OK;
}

typedef struct src_tensor {
    const char *name;
    vox_dtype dtype;
    int ndim;
    int64_t shape[4];
    unsigned char *bytes;
    size_t nbytes;
} src_tensor;

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_roundtrip(uint32_t alignment) {
    vox_error err;
    vox_gguf_writer *w = NULL;
    CHECK(vox_gguf_writer_new(&w, &err) == VOX_OK, "writer");
    if (alignment != 32) CHECK(vox_gguf_writer_set_alignment(w, alignment, &err) == VOX_OK, "%s", err.msg);

    /* Metadata of every type. */
    uint8_t u8 = 250;
    int8_t i8 = -7;
    uint16_t u16 = 65000;
    int16_t i16 = -32000;
    CHECK(vox_gguf_add_scalar(w, "t.u8", VOX_GGUF_U8, &u8, &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_scalar(w, "t.i8", VOX_GGUF_I8, &i8, &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_scalar(w, "t.u16", VOX_GGUF_U16, &u16, &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_scalar(w, "t.i16", VOX_GGUF_I16, &i16, &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_u32(w, "t.u32", 4000000000u, &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_i32(w, "t.i32", -2000000000, &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_f32(w, "t.f32", 0.15625f, &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_bool(w, "t.bool", true, &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_bool(w, "t.bool0", false, &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_str(w, "t.str", "h\xc3\xa9llo \"w\" \\ \n", &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_strn(w, "t.strnul", "a\0b", 3, &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_str(w, "t.empty", "", &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_u64(w, "t.u64", UINT64_MAX - 1, &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_i64(w, "t.i64", INT64_MIN + 3, &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_f64(w, "t.f64", -1.0 / 3.0, &err) == VOX_OK, "%s", err.msg);
    const char *strs[] = {"alpha", "", "\xe2\x96\x81gamma", "delta with space"};
    CHECK(vox_gguf_add_str_array(w, "a.str", strs, 4, &err) == VOX_OK, "%s", err.msg);
    int32_t i32s[] = {1, -2, 2147483647, -2147483647 - 1, 0};
    CHECK(vox_gguf_add_i32_array(w, "a.i32", i32s, 5, &err) == VOX_OK, "%s", err.msg);
    int64_t i64s[] = {INT64_MAX, -5, 0};
    CHECK(vox_gguf_add_i64_array(w, "a.i64", i64s, 3, &err) == VOX_OK, "%s", err.msg);
    float f32s[] = {1.5f, -0.0f, 3e38f};
    CHECK(vox_gguf_add_f32_array(w, "a.f32", f32s, 3, &err) == VOX_OK, "%s", err.msg);
    double f64s[] = {0.1, -2.5};
    CHECK(vox_gguf_add_array(w, "a.f64", VOX_GGUF_F64, f64s, 2, &err) == VOX_OK, "%s", err.msg);
    uint16_t u16s[] = {1, 65535};
    CHECK(vox_gguf_add_array(w, "a.u16", VOX_GGUF_U16, u16s, 2, &err) == VOX_OK, "%s", err.msg);
    int8_t i8s[] = {-128, 127, 0};
    CHECK(vox_gguf_add_array(w, "a.i8", VOX_GGUF_I8, i8s, 3, &err) == VOX_OK, "%s", err.msg);
    uint8_t bools[] = {1, 0, 7};
    CHECK(vox_gguf_add_array(w, "a.bool", VOX_GGUF_BOOL, bools, 3, &err) == VOX_OK, "%s", err.msg);
    uint64_t u64s[] = {UINT64_MAX};
    CHECK(vox_gguf_add_array(w, "a.u64big", VOX_GGUF_U64, u64s, 1, &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_gguf_add_i32_array(w, "a.empty", NULL, 0, &err) == VOX_OK, "%s", err.msg);
    unsigned char blob[1000];
    for (int i = 0; i < 1000; i++) blob[i] = (unsigned char)(i * 37 + 11);
    CHECK(vox_gguf_add_blob(w, "a.blob", blob, sizeof blob, &err) == VOX_OK, "%s", err.msg);

    /* Tensors of every dtype and rank. */
    uint64_t s = 0x1234 + alignment;
    src_tensor ts[] = {
        {"f32.2d", VOX_F32, 2, {3, 5}, NULL, 0},
        {"f16.2d", VOX_F16, 2, {2, 64}, NULL, 0},
        {"bf16.1d", VOX_BF16, 1, {7}, NULL, 0},
        {"q8_0.2d", VOX_Q8_0, 2, {3, 64}, NULL, 0},
        {"q4_k.2d", VOX_Q4_K, 2, {2, 512}, NULL, 0},
        {"f32.4d", VOX_F32, 4, {2, 3, 4, 5}, NULL, 0},
        {"f32.scalar", VOX_F32, 0, {0}, NULL, 0},
        {"f32.empty", VOX_F32, 2, {0, 32}, NULL, 0},
        {"q8_0.3d", VOX_Q8_0, 3, {2, 1, 96}, NULL, 0},
    };
    const int nts = (int)(sizeof ts / sizeof ts[0]);
    for (int i = 0; i < nts; i++) {
        int64_t numel = 1;
        for (int d = 0; d < ts[i].ndim; d++) numel *= ts[i].shape[d];
        int64_t row = ts[i].ndim ? ts[i].shape[ts[i].ndim - 1] : 1;
        int64_t rows = row ? numel / row : 0;
        ts[i].nbytes = (size_t)rows * vox_dtype_row_bytes(ts[i].dtype, row);
        ts[i].bytes = malloc(ts[i].nbytes + 1);
        float *fx = malloc((size_t)(numel + 1) * sizeof *fx);
        for (int64_t k = 0; k < numel; k++) fx[k] = (float)((int64_t)(rng_next(&s) % 2001) - 1000) / 300.0f;
        for (int64_t r = 0; r < rows; r++)
            vox_quantize_row(ts[i].dtype, fx + r * row, ts[i].bytes + (size_t)r * vox_dtype_row_bytes(ts[i].dtype, row), row);
        free(fx);
        CHECK(vox_gguf_add_tensor(w, ts[i].name, ts[i].dtype, ts[i].ndim, ts[i].shape, ts[i].bytes, ts[i].nbytes, &err) == VOX_OK,
              "add %s: %s", ts[i].name, err.msg);
    }
    /* Tensors produced by fill callbacks: a Q4_K one from an array, and a Q8_0
     * one large enough (10.9 MB) to need several calls (4 MB chunks). */
    const int64_t fr = 300, fc = 256;
    float *fsrc = malloc((size_t)(fr * fc) * sizeof *fsrc);
    for (int64_t k = 0; k < fr * fc; k++) fsrc[k] = (float)((int64_t)(rng_next(&s) % 2001) - 1000) / 1000.0f;
    fill_ctx fctx = {fsrc, fc, VOX_Q4_K, 0, -1};
    int64_t fshape[2] = {fr, fc};
    CHECK(vox_gguf_add_tensor_fill(w, "q4_k.fill", VOX_Q4_K, 2, fshape, fill_rows, &fctx, &err) == VOX_OK, "%s", err.msg);
    const int64_t br = 40000, bc = 256;
    fill_ctx bctx = {NULL, bc, VOX_Q8_0, 0, -1};
    int64_t bshape[2] = {br, bc};
    CHECK(vox_gguf_add_tensor_fill(w, "q8_0.big", VOX_Q8_0, 2, bshape, fill_rows, &bctx, &err) == VOX_OK, "%s", err.msg);

    char path[512];
    tpath(path, "all.gguf");
    CHECK(vox_gguf_write(w, path, &err) == VOX_OK, "write: %s", err.msg);
    CHECK(fctx.calls == 1 && bctx.calls == 3, "fill called %d and %d times", fctx.calls, bctx.calls);
    vox_gguf_writer_free(w);
    CHECK(count_dir_entries() == 1, "stray files in %s", g_dir);

    vox_gguf *g = NULL;
    CHECK(vox_gguf_open(path, &g, &err) == VOX_OK, "open: %s", err.msg);
    if (!g) goto out;
    CHECK(vox_gguf_version(g) == 3 && vox_gguf_alignment(g) == alignment, "version %u alignment %u", vox_gguf_version(g),
          vox_gguf_alignment(g));
    CHECK(vox_gguf_data_offset(g) % alignment == 0, "data offset aligned");
    CHECK(vox_gguf_n_kv(g) == 26 + (alignment != 32), "n_kv %lld", (long long)vox_gguf_n_kv(g));
    /* Keys come back in file order. */
    vox_gguf_str k0 = vox_gguf_key(g, alignment != 32 ? 1 : 0);
    CHECK(k0.len == 4 && memcmp(k0.ptr, "t.u8", 4) == 0 && vox_gguf_kv_type(g, alignment != 32 ? 1 : 0) == VOX_GGUF_U8, "first key");

    int64_t iv;
    uint32_t u32v;
    int32_t i32v;
    uint64_t u64v;
    float fv;
    double dv;
    bool bv;
    CHECK(vox_gguf_get_int(g, "t.u8", &iv, &err) == VOX_OK && iv == 250, "u8");
    CHECK(vox_gguf_get_int(g, "t.i8", &iv, &err) == VOX_OK && iv == -7, "i8");
    CHECK(vox_gguf_get_int(g, "t.u16", &iv, &err) == VOX_OK && iv == 65000, "u16");
    CHECK(vox_gguf_get_i32(g, "t.i16", &i32v, &err) == VOX_OK && i32v == -32000, "i16");
    CHECK(vox_gguf_get_u32(g, "t.u32", &u32v, &err) == VOX_OK && u32v == 4000000000u, "u32");
    CHECK(vox_gguf_get_i32(g, "t.i32", &i32v, &err) == VOX_OK && i32v == -2000000000, "i32");
    CHECK(vox_gguf_get_f32(g, "t.f32", &fv, &err) == VOX_OK && fv == 0.15625f, "f32");
    CHECK(vox_gguf_get_bool(g, "t.bool", &bv, &err) == VOX_OK && bv, "bool");
    CHECK(vox_gguf_get_bool(g, "t.bool0", &bv, &err) == VOX_OK && !bv, "bool0");
    vox_gguf_str sv;
    const char *want_str = "h\xc3\xa9llo \"w\" \\ \n";
    CHECK(vox_gguf_get_str(g, "t.str", &sv, &err) == VOX_OK && sv.len == strlen(want_str) && memcmp(sv.ptr, want_str, sv.len) == 0, "str");
    char *dup = NULL;
    CHECK(vox_gguf_get_strdup(g, "t.str", &dup, &err) == VOX_OK && dup && strcmp(dup, want_str) == 0, "strdup");
    free(dup);
    dup = NULL;
    CHECK(vox_gguf_get_str(g, "t.strnul", &sv, &err) == VOX_OK && sv.len == 3 && memcmp(sv.ptr, "a\0b", 3) == 0, "str with NUL");
    CHECK(vox_gguf_get_strdup(g, "t.strnul", &dup, &err) == VOX_E_FORMAT && dup == NULL, "strdup refuses NUL");
    CHECK(vox_gguf_get_strdup(g, "t.empty", &dup, &err) == VOX_OK && dup && dup[0] == '\0', "empty string");
    free(dup);
    CHECK(vox_gguf_get_u64(g, "t.u64", &u64v, &err) == VOX_OK && u64v == UINT64_MAX - 1, "u64");
    CHECK(vox_gguf_get_int(g, "t.u64", &iv, &err) == VOX_E_FORMAT && strstr(err.msg, "t.u64"), "u64 too big for int64: %s", err.msg);
    CHECK(vox_gguf_get_int(g, "t.i64", &iv, &err) == VOX_OK && iv == INT64_MIN + 3, "i64");
    CHECK(vox_gguf_get_f64(g, "t.f64", &dv, &err) == VOX_OK && dv == -1.0 / 3.0, "f64");
    CHECK(vox_gguf_get_f32(g, "t.f64", &fv, &err) == VOX_OK && fv == (float)(-1.0 / 3.0), "f64 as f32");
    /* Range and type errors name the key. */
    CHECK(vox_gguf_get_i32(g, "t.u32", &i32v, &err) == VOX_E_FORMAT && strstr(err.msg, "t.u32"), "u32 -> i32 range");
    CHECK(vox_gguf_get_u32(g, "t.i8", &u32v, &err) == VOX_E_FORMAT, "negative -> u32");
    CHECK(vox_gguf_get_u32(g, "t.str", &u32v, &err) == VOX_E_FORMAT && strstr(err.msg, "string"), "wrong type: %s", err.msg);
    CHECK(vox_gguf_get_bool(g, "t.u8", &bv, &err) == VOX_E_FORMAT, "u8 is not bool");
    CHECK(vox_gguf_get_str(g, "a.str", &sv, &err) == VOX_E_FORMAT, "array is not string");
    CHECK(vox_gguf_get_u32(g, "nope", &u32v, &err) == VOX_E_MISSING && strstr(err.msg, "nope") && strstr(err.msg, "all.gguf"),
          "missing: %s", err.msg);
    CHECK(vox_gguf_find_key(g, "t.f64") >= 0 && vox_gguf_find_key(g, "t.f6") < 0 && vox_gguf_find_key(g, "t.f644") < 0, "find_key");

    vox_gguf_str *sa = NULL;
    int64_t n = 0;
    CHECK(vox_gguf_get_str_array(g, "a.str", &sa, &n, &err) == VOX_OK && n == 4, "str array");
    if (sa && n == 4)
        for (int i = 0; i < 4; i++)
            CHECK(sa[i].len == strlen(strs[i]) && memcmp(sa[i].ptr, strs[i], sa[i].len) == 0, "str array [%d]", i);
    free(sa);
    int64_t *ia = NULL;
    CHECK(vox_gguf_get_int_array(g, "a.i32", &ia, &n, &err) == VOX_OK && n == 5 && ia && ia[0] == 1 && ia[1] == -2 &&
              ia[2] == 2147483647 && ia[3] == -2147483647 - 1 && ia[4] == 0,
          "i32 array");
    free(ia);
    ia = NULL;
    CHECK(vox_gguf_get_int_array(g, "a.i64", &ia, &n, &err) == VOX_OK && n == 3 && ia && ia[0] == INT64_MAX && ia[1] == -5, "i64 array");
    free(ia);
    ia = NULL;
    CHECK(vox_gguf_get_int_array(g, "a.u16", &ia, &n, &err) == VOX_OK && n == 2 && ia && ia[1] == 65535, "u16 array");
    free(ia);
    ia = NULL;
    CHECK(vox_gguf_get_int_array(g, "a.i8", &ia, &n, &err) == VOX_OK && n == 3 && ia && ia[0] == -128 && ia[1] == 127, "i8 array");
    free(ia);
    ia = NULL;
    CHECK(vox_gguf_get_int_array(g, "a.u64big", &ia, &n, &err) == VOX_E_FORMAT && ia == NULL, "u64 array too big");
    CHECK(vox_gguf_get_int_array(g, "a.empty", &ia, &n, &err) == VOX_OK && n == 0 && ia == NULL, "empty array");
    CHECK(vox_gguf_get_int_array(g, "a.str", &ia, &n, &err) == VOX_E_FORMAT, "string array is not int");
    CHECK(vox_gguf_get_int_array(g, "t.u32", &ia, &n, &err) == VOX_E_FORMAT, "scalar is not an array");
    CHECK(vox_gguf_get_int_array(g, "nope", &ia, &n, &err) == VOX_E_MISSING, "missing array");
    float *fa = NULL;
    CHECK(vox_gguf_get_f32_array(g, "a.f32", &fa, &n, &err) == VOX_OK && n == 3 && fa && fa[0] == 1.5f && fa[1] == 0.0f &&
              signbit(fa[1]) && fa[2] == 3e38f,
          "f32 array");
    free(fa);
    fa = NULL;
    CHECK(vox_gguf_get_f32_array(g, "a.f64", &fa, &n, &err) == VOX_OK && n == 2 && fa && fa[0] == (float)0.1 && fa[1] == -2.5f, "f64 array");
    free(fa);
    vox_gguf_type et;
    const void *raw = NULL;
    CHECK(vox_gguf_get_array_raw(g, "a.blob", &et, &raw, &n, &err) == VOX_OK && et == VOX_GGUF_U8 && n == 1000 && raw &&
              memcmp(raw, blob, 1000) == 0,
          "blob");
    CHECK(vox_gguf_get_array_raw(g, "a.bool", &et, &raw, &n, &err) == VOX_OK && et == VOX_GGUF_BOOL && n == 3 &&
              memcmp(raw, "\x01\x00\x01", 3) == 0,
          "bool array normalised to 0/1");
    CHECK(vox_gguf_get_array_raw(g, "a.str", &et, &raw, &n, &err) == VOX_E_FORMAT, "raw of strings");
    CHECK(vox_gguf_array_info(g, "a.str", &et, &n, &err) == VOX_OK && et == VOX_GGUF_STRING && n == 4, "array_info");
    CHECK(vox_gguf_array_info(g, "t.u8", &et, &n, &err) == VOX_E_ARG, "array_info on scalar");

    /* Tensors: shapes, ggml ne order, bytes, alignment. */
    CHECK(vox_gguf_n_tensors(g) == nts + 2, "n_tensors");
    for (int i = 0; i < nts; i++) {
        const vox_tensor *t = vox_gguf_find(g, ts[i].name);
        CHECK(t != NULL, "find %s", ts[i].name);
        if (!t) continue;
        int same = t->dtype == ts[i].dtype && t->ndim == ts[i].ndim && t->nbytes == ts[i].nbytes;
        for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == ts[i].shape[d];
        CHECK(same, "%s: dtype/shape/size", ts[i].name);
        CHECK(t->nbytes == 0 || memcmp(t->data, ts[i].bytes, t->nbytes) == 0, "%s: bytes", ts[i].name);
        const vox_gguf_tensor_info *ti = vox_gguf_tensor_at(g, i);
        CHECK(ti && ti->name.len == strlen(ts[i].name) && memcmp(ti->name.ptr, ts[i].name, ti->name.len) == 0, "%s: order", ts[i].name);
        if (ti) {
            CHECK(ti->offset % alignment == 0, "%s: offset aligned", ts[i].name);
            CHECK((int)ti->ggml_type == vox_gguf_ggml_type(ts[i].dtype), "%s: ggml type", ts[i].name);
            int rev = 1;
            for (int d = 0; d < ti->n_dims; d++) rev &= ti->ne[d] == ts[i].shape[ts[i].ndim - 1 - d];
            for (int d = ti->n_dims; d < 4; d++) rev &= ti->ne[d] == 1;
            CHECK(rev, "%s: ne is the shape reversed", ts[i].name);
        }
        vox_tensor copy;
        CHECK(vox_gguf_get_tensor(g, ts[i].name, &copy, &err) == VOX_OK && copy.data == t->data, "get_tensor %s", ts[i].name);
    }
    CHECK(vox_tensor_numel(vox_gguf_find(g, "f32.scalar")) == 1, "0-D tensor has one element");
    /* The fill-produced tensor equals direct quantization. */
    const vox_tensor *ft = vox_gguf_find(g, "q4_k.fill");
    CHECK(ft && ft->dtype == VOX_Q4_K && ft->ndim == 2 && ft->shape[0] == fr && ft->shape[1] == fc &&
              ft->nbytes == (size_t)fr * 144,
          "fill tensor");
    if (ft) {
        unsigned char row[144];
        int bad = 0;
        for (int64_t r = 0; r < fr; r += 997) {
            vox_quantize_row(VOX_Q4_K, fsrc + r * fc, row, fc);
            if (memcmp(row, (const unsigned char *)ft->data + r * 144, 144)) bad++;
        }
        CHECK(bad == 0, "fill tensor rows differ");
    }
    const vox_tensor *bt = vox_gguf_find(g, "q8_0.big");
    CHECK(bt && bt->dtype == VOX_Q8_0 && bt->nbytes == (size_t)br * 272, "big fill tensor");
    if (bt) {
        unsigned char row[272];
        float x[256];
        int bad = 0;
        for (int64_t r = 0; r < br; r += 1237) {
            proc_row(r, bc, x);
            vox_quantize_row(VOX_Q8_0, x, row, bc);
            if (memcmp(row, (const unsigned char *)bt->data + r * 272, 272)) bad++;
        }
        proc_row(br - 1, bc, x);
        vox_quantize_row(VOX_Q8_0, x, row, bc);
        if (memcmp(row, (const unsigned char *)bt->data + (br - 1) * 272, 272)) bad++;
        CHECK(bad == 0, "big fill tensor rows differ");
    }
    const vox_tensor *tp = NULL;
    int64_t want_shape[2] = {3, 5}, wrong_shape[2] = {5, 3};
    CHECK(vox_gguf_expect(g, "f32.2d", 2, want_shape, &tp, &err) == VOX_OK && tp, "expect");
    CHECK(vox_gguf_expect(g, "f32.2d", 2, wrong_shape, &tp, &err) == VOX_E_SHAPE && strstr(err.msg, "f32.2d") &&
              strstr(err.msg, "[3, 5]"),
          "expect shape: %s", err.msg);
    CHECK(vox_gguf_expect(g, "missing.weight", 2, want_shape, &tp, &err) == VOX_E_MISSING && strstr(err.msg, "missing.weight"),
          "expect missing");
    vox_tensor dummy;
    CHECK(vox_gguf_get_tensor(g, "nope", &dummy, &err) == VOX_E_MISSING && strstr(err.msg, "nope"), "get missing");
    CHECK(vox_gguf_find(g, "f32.2") == NULL && vox_gguf_tensor_at(g, 999) == NULL, "not found");
    vox_gguf_close(g);
out:
    for (int i = 0; i < nts; i++) free(ts[i].bytes);
    free(fsrc);
    unlink(path);
}

/* small.gguf written by ggml's own gguf writer (gguf_write_to_file, ggml-org/ggml
 * at d99724f2): 6 metadata entries and 5 tensors built from golden_input(). */
static const char k_ggml_file[] =
    "474755460300000005000000000000000600000000000000140000000000000067656e6572616c2e6172636869746563"
    "74757265080000000b00000000000000766f787474732d746573740600000000000000746573742e6e04000000070000"
    "000800000000000000746573742e65707306000000acc527370900000000000000746573742e666c616707000000010b"
    "00000000000000746573742e746f6b656e730900000008000000030000000000000003000000000000003c733e040000"
    "00000000003c2f733e0500000000000000e2968168690800000000000000746573742e69647309000000050000000300"
    "000000000000ffffffff00000000000002000500000000000000772e71346b0100000000020000000000000c00000000"
    "000000000000000500000000000000772e71383002000000400000000000000002000000000000000800000020010000"
    "000000000500000000000000772e663136020000000800000000000000020000000000000001000000c0010000000000"
    "000600000000000000772e626631360100000004000000000000001e000000e001000000000000050000000000000077"
    "2e6633320300000003000000000000000100000000000000020000000000000000000000000200000000000000000000"
    "561e192dd3492843cd040602ffc300ffc0ac8a2503d1bd8b3614e2be9c4a2503cfad5a2503dfbd6b3614e2ce9c4725f3"
    "eeac877533efdd987634ffdd99874520eeac877531ffbd987634ffdea9874520deaa883311dfba9846220fcba9573311"
    "dcba883311dfba984422e0cba9573311ccaa6542f0ddbb654321eecc795432efcc8a6542f0ddbb765301eecc765412ef"
    "321df32bd94d3283cf480642ff0a0056ac8866240fdd98763510eeac876511fead8866210fbd99773510eea9873511ff"
    "caa8563210cba9573211dcba684321efcaa95432e0cba96543f1dcba684321edba755200edcb796341eedc8a64420fdd"
    "9a755310eecb866311fedc8a64520fdda9873511feba984621ffbd99773210cea9873521ffba9846210fbb99573210ce"
    "0b20813515cbac8c4021d6b7974b2c0cc2a3573718ceae624323d9b99a4e2ee4c5a5fd1b5a3a1bcfb0664626dbbb7151"
    "31e6c6a75d3df2d2b26848fdddbd745434e9c97fd026705d311f0c77643825137e6b3f2c19ed725f3320f478663a2714"
    "7f6c402e1befe3136519f9d98d715105e4987d5c10f0a483681cfbdb8f732707e79b7f5f13f2a6860000000000000000"
    "0000000000000000000000000000000003bcad366431adb654b951bb0d3820343fb59db89bbac4388d354a2ecdb7e4b9"
    "80bfd63e2d3ed6be0000000000000000000000000000000000000000000000009a6280bf06a2d53eb68c2c3e06a2d5be"
    "d87e2abfae2c6abf0000000000000000";

/* The input the ggml file's tensors were made from (exactly specified float
 * operations only, so it is the same on every machine). */
static void golden_input(float *x, int n) {
    static const float scale[8] = {1.0f, 0.5f, 2.0f, 0.125f, 3.0f, 1.0f, 0.01f, 1.5f};
    static const float offset[8] = {0.0f, 0.0f, 1.5f, 0.0f, -2.0f, 0.0f, 0.0f, 0.25f};
    for (int i = 0; i < n; i++) {
        uint32_t h = ((uint32_t)i * 2654435761u) >> 7;
        int v = (int)(h % 2001u) - 1000;
        float sv = (float)v / 997.0f * scale[(i / 32) % 8];
        x[i] = sv + offset[(i / 32) % 8];
    }
}

/* A file written by ggml reads back with the right values, shapes and bytes
 * (ggml drops trailing dimensions of size 1: its [1, 512] is our [512]). */
static void test_ggml_file(void) {
    size_t n = strlen(k_ggml_file) / 2;
    unsigned char *bytes = malloc(n);
    if (!bytes) {
        CHECK(0, "oom");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        sscanf(k_ggml_file + 2 * i, "%2x", &v);
        bytes[i] = (unsigned char)v;
    }
    char path[512];
    tpath(path, "ggml.gguf");
    write_bytes(path, bytes, n);
    free(bytes);
    vox_error err;
    vox_gguf *g = NULL;
    CHECK(vox_gguf_open(path, &g, &err) == VOX_OK, "open ggml file: %s", err.msg);
    if (g) {
        vox_gguf_str s;
        uint32_t u;
        float f;
        bool b;
        CHECK(vox_gguf_get_str(g, "general.architecture", &s, &err) == VOX_OK && s.len == 11 && !memcmp(s.ptr, "voxtts-test", 11), "arch");
        CHECK(vox_gguf_get_u32(g, "test.n", &u, &err) == VOX_OK && u == 7, "u32");
        CHECK(vox_gguf_get_f32(g, "test.eps", &f, &err) == VOX_OK && f == 1e-5f, "f32");
        CHECK(vox_gguf_get_bool(g, "test.flag", &b, &err) == VOX_OK && b, "bool");
        vox_gguf_str *sa = NULL;
        int64_t cnt = 0;
        CHECK(vox_gguf_get_str_array(g, "test.tokens", &sa, &cnt, &err) == VOX_OK && cnt == 3 && sa && sa[2].len == 5 &&
                  !memcmp(sa[2].ptr, "\xe2\x96\x81hi", 5),
              "tokens");
        free(sa);
        int64_t *ia = NULL;
        CHECK(vox_gguf_get_int_array(g, "test.ids", &ia, &cnt, &err) == VOX_OK && cnt == 3 && ia && ia[0] == -1 && ia[2] == 131072, "ids");
        free(ia);
        float x[512], y[512];
        golden_input(x, 512);
        unsigned char q[288];
        /* The quantized tensors hold ggml's own choice of blocks for x: read with
         * our dequantizer they must give x back within the format's error (our
         * quantizer chooses other bytes, so bytes are not compared). */
        const vox_tensor *t = vox_gguf_find(g, "w.q4k");
        CHECK(t && t->dtype == VOX_Q4_K && t->ndim == 1 && t->shape[0] == 512 && t->nbytes == 288, "w.q4k");
        if (t && vox_dequantize_row(VOX_Q4_K, t->data, y, 512) == VOX_OK) {
            double se = 0, sx = 0;
            for (int i = 0; i < 512; i++) se += ((double)y[i] - x[i]) * ((double)y[i] - x[i]), sx += (double)x[i] * x[i];
            CHECK(sqrt(se / sx) < 0.05, "w.q4k read back: relative rms error %g", sqrt(se / sx));
        }
        t = vox_gguf_find(g, "w.q80");
        CHECK(t && t->dtype == VOX_Q8_0 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 64 && t->nbytes == 136, "w.q80");
        if (t && vox_dequantize_row(VOX_Q8_0, t->data, y, 128) == VOX_OK) {
            int far = 0;
            for (int b = 0; b < 4; b++) {
                float amax = 0;
                for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[32 * b + j]));
                for (int j = 0; j < 32; j++) far += fabsf(y[32 * b + j] - x[32 * b + j]) > 0.51f * amax / 127.0f;
            }
            CHECK(far == 0, "w.q80 read back: %d values further than half a step", far);
        }
        t = vox_gguf_find(g, "w.f16");
        CHECK(t && t->dtype == VOX_F16 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 8, "w.f16");
        vox_quantize_row(VOX_F16, x, q, 16);
        CHECK(t && memcmp(t->data, q, 32) == 0, "w.f16 bytes = ours");
        t = vox_gguf_find(g, "w.bf16");
        CHECK(t && t->dtype == VOX_BF16 && t->ndim == 1 && t->shape[0] == 4, "w.bf16");
        vox_quantize_row(VOX_BF16, x, q, 4);
        CHECK(t && memcmp(t->data, q, 8) == 0, "w.bf16 bytes = ours");
        t = vox_gguf_find(g, "w.f32");
        CHECK(t && t->dtype == VOX_F32 && t->ndim == 3 && t->shape[0] == 2 && t->shape[1] == 1 && t->shape[2] == 3 &&
                  memcmp(t->data, x, 24) == 0,
              "w.f32");
        vox_gguf_close(g);
    }
    unlink(path);
}

/* ---- malformed files -------------------------------------------------------- */

/* A valid file with one kv and two F32 tensors "a" [4] at 0 and "b" [8] at 32. */
static void good_file(buf *b) {
    b_header(b, 3, 2, 1);
    b_kv_u32(b, "x", 1);
    uint64_t ne_a[1] = {4}, ne_b[1] = {8};
    b_tensor(b, "a", 1, ne_a, 0, 0);
    b_tensor(b, "b", 1, ne_b, 0, 32);
    b_pad(b, 32);
    for (int i = 0; i < 8; i++) b_u32(b, 0x3f800000u); /* a (16 bytes) + padding */
    for (int i = 0; i < 8; i++) b_u32(b, 0x40000000u); /* b */
}

static void test_malformed(void) {
    buf b;
    vox_error e;
    good_file(&b);
    CHECK(open_bytes(b.p, b.n, &e) == VOX_OK, "good file opens: %s", e.msg);

    /* Every truncation before the end of the last tensor's data fails cleanly. */
    int bad = 0;
    for (size_t len = 0; len < b.n; len++) {
        int rc = open_bytes(b.p, len, &e);
        if (rc != VOX_E_FORMAT || !strstr(e.msg, "hand.gguf")) {
            if (bad < 3) fprintf(stderr, "  truncated at %zu: rc %d '%s'\n", len, rc, e.msg);
            bad++;
        }
    }
    CHECK(bad == 0, "%d truncations not rejected", bad);

    /* Random corruption: never a crash or a sanitizer report; accepted files are
     * exercised by open_bytes. */
    uint64_t s = 42;
    for (int it = 0; it < 3000; it++) {
        buf c = b;
        int flips = 1 + (int)(rng_next(&s) % 4);
        for (int k = 0; k < flips; k++) c.p[rng_next(&s) % c.n] ^= (unsigned char)(1u << (rng_next(&s) % 8));
        int rc = open_bytes(c.p, c.n, &e);
        if (rc != VOX_OK && rc != VOX_E_FORMAT && rc != VOX_E_UNSUPPORTED) {
            CHECK(0, "corruption %d: unexpected rc %d (%s)", it, rc, e.msg);
            break;
        }
    }

    /* The same on the richer ggml-written file (strings, arrays, quant types),
     * including every truncation. */
    size_t gn = strlen(k_ggml_file) / 2;
    if (gn <= sizeof b.p) {
        buf gb;
        gb.n = gn;
        for (size_t i = 0; i < gn; i++) {
            unsigned v = 0;
            sscanf(k_ggml_file + 2 * i, "%2x", &v);
            gb.p[i] = (unsigned char)v;
        }
        int tbad = 0;
        for (size_t len = 0; len + 8 < gn; len++) /* the last tensor's data ends 8 bytes before the padded end */
            if (open_bytes(gb.p, len, &e) != VOX_E_FORMAT) tbad++;
        CHECK(tbad == 0, "%d truncations of the ggml file not rejected", tbad);
        for (int it = 0; it < 3000; it++) {
            buf c = gb;
            int flips = 1 + (int)(rng_next(&s) % 4);
            for (int k = 0; k < flips; k++) c.p[rng_next(&s) % c.n] ^= (unsigned char)(1u << (rng_next(&s) % 8));
            int rc = open_bytes(c.p, c.n, &e);
            if (rc != VOX_OK && rc != VOX_E_FORMAT && rc != VOX_E_UNSUPPORTED) {
                CHECK(0, "ggml file corruption %d: unexpected rc %d (%s)", it, rc, e.msg);
                break;
            }
        }
    }

    unsigned char tiny[3] = {'G', 'G', 'U'};
    EXPECT_FAIL(tiny, 3, VOX_E_FORMAT, "magic");
    good_file(&b);
    b.p[0] = 'g';
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "magic");

    b_header(&b, 1, 0, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_UNSUPPORTED, "version 1");
    b_header(&b, 4, 0, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_UNSUPPORTED, "version 4");
    b_header(&b, 0x03000000u, 0, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "big-endian");
    b_header(&b, 2, 0, 0);
    CHECK(open_bytes(b.p, b.n, &e) == VOX_OK, "empty v2 file is valid: %s", e.msg);

    /* Absurd counts. */
    b_header(&b, 3, 0, UINT64_C(1) << 60);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "metadata entries");
    b_header(&b, 3, UINT64_MAX, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "tensors");
    b_header(&b, 3, 1000, 1000);
    for (int i = 0; i < 100; i++) b_u32(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "more than");

    /* Key string length past the end; absurd length. */
    b_header(&b, 3, 0, 1);
    b_u64(&b, 1000);
    b_bytes(&b, "abcdefghijklmnop", 16);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "metadata entry 0 key");
    b_header(&b, 3, 0, 1);
    b_u64(&b, UINT64_MAX);
    b_bytes(&b, "abcdefghijklmnop", 16);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "truncated");
    /* Empty key. */
    b_header(&b, 3, 0, 1);
    b_str(&b, "");
    b_u32(&b, 4);
    b_u32(&b, 1);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "empty key");
    /* Invalid value type. */
    b_header(&b, 3, 0, 1);
    b_str(&b, "key.bad");
    b_u32(&b, 13);
    b_u32(&b, 1);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "key.bad");
    /* String value longer than the file. */
    b_header(&b, 3, 0, 1);
    b_str(&b, "key.s");
    b_u32(&b, 8);
    b_u64(&b, 99);
    b_bytes(&b, "short", 5);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "key.s");
    /* Array: invalid element type; absurd count; string elements past the end. */
    b_header(&b, 3, 0, 1);
    b_str(&b, "key.arr");
    b_u32(&b, 9);
    b_u32(&b, 77);
    b_u64(&b, 1);
    b_u32(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "key.arr");
    b_header(&b, 3, 0, 1);
    b_str(&b, "key.arr");
    b_u32(&b, 9);
    b_u32(&b, 4);
    b_u64(&b, UINT64_C(1) << 62);
    b_u32(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "claims");
    b_header(&b, 3, 0, 1);
    b_str(&b, "key.sarr");
    b_u32(&b, 9);
    b_u32(&b, 8);
    b_u64(&b, 2);
    b_str(&b, "one");
    b_u64(&b, 50);
    b_bytes(&b, "two", 3);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "key.sarr");
    /* Nested arrays: two levels are fine (and readable as raw info), ten are not. */
    b_header(&b, 3, 0, 1);
    b_str(&b, "key.nest");
    b_u32(&b, 9);
    b_u32(&b, 9);
    b_u64(&b, 2);
    for (int i = 0; i < 2; i++) {
        b_u32(&b, 5);
        b_u64(&b, 2);
        b_u32(&b, 1);
        b_u32(&b, 2);
    }
    CHECK(open_bytes(b.p, b.n, &e) == VOX_OK, "nested array accepted: %s", e.msg);
    b_header(&b, 3, 0, 1);
    b_str(&b, "key.deep");
    b_u32(&b, 9);
    for (int i = 0; i < 10; i++) {
        b_u32(&b, 9);
        b_u64(&b, 1);
    }
    b_u32(&b, 4);
    b_u64(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "deeper");
    /* Duplicate keys. */
    b_header(&b, 3, 0, 2);
    b_kv_u32(&b, "dup.key", 1);
    b_kv_u32(&b, "dup.key", 2);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "duplicate metadata key 'dup.key'");
    /* Alignment: wrong type, not a power of two, zero; a valid non-default one. */
    b_header(&b, 3, 0, 1);
    b_str(&b, "general.alignment");
    b_u32(&b, 5);
    b_u32(&b, 64);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "general.alignment");
    b_header(&b, 3, 0, 1);
    b_kv_u32(&b, "general.alignment", 48);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "power of two");
    b_header(&b, 3, 0, 1);
    b_kv_u32(&b, "general.alignment", 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "power of two");

    /* Tensor infos. */
    uint64_t ne[5] = {32, 2, 1, 1, 1};
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "t.dims", 5, ne, 0, 0);
    b_pad(&b, 32);
    for (int i = 0; i < 64; i++) b_u32(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "t.dims");
    uint64_t neg[2] = {UINT64_MAX - 3, 2};
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "t.neg", 2, neg, 0, 0);
    b_pad(&b, 32);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "t.neg");
    uint64_t huge[4] = {UINT64_C(1) << 40, UINT64_C(1) << 30, 1, 1};
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "t.huge", 4, huge, 0, 0);
    b_pad(&b, 32);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "t.huge");
    uint64_t big_ok[2] = {UINT64_C(1) << 40, 4};
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "t.big", 2, big_ok, 0, 0);
    b_pad(&b, 32);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "outside the file");
    uint64_t ne1[1] = {32};
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "t.q6k", 1, ne1, 14, 0);
    b_pad(&b, 32);
    for (int i = 0; i < 64; i++) b_u32(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_UNSUPPORTED, "Q6_K");
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "t.type", 1, ne1, 999, 0);
    b_pad(&b, 32);
    for (int i = 0; i < 64; i++) b_u32(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_UNSUPPORTED, "t.type");
    uint64_t ne_odd[2] = {48, 2};
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "t.q8", 2, ne_odd, 8, 0);
    b_pad(&b, 32);
    for (int i = 0; i < 64; i++) b_u32(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "block size");
    uint64_t ne_k[1] = {128};
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "t.q4k", 1, ne_k, 12, 0);
    b_pad(&b, 32);
    for (int i = 0; i < 64; i++) b_u32(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "t.q4k");
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "", 1, ne1, 0, 0);
    b_pad(&b, 32);
    for (int i = 0; i < 64; i++) b_u32(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "empty name");

    /* Data offsets: misaligned, outside the file, overlapping; duplicate names. */
    uint64_t ne4[1] = {4}, ne8[1] = {8};
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "t.mis", 1, ne4, 0, 4);
    b_pad(&b, 32);
    for (int i = 0; i < 16; i++) b_u32(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "t.mis");
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "t.out", 1, ne4, 0, 64);
    b_pad(&b, 32);
    for (int i = 0; i < 16; i++) b_u32(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "t.out");
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "t.wrap", 1, ne4, 0, UINT64_MAX - 31);
    b_pad(&b, 32);
    for (int i = 0; i < 16; i++) b_u32(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "t.wrap");
    b_header(&b, 3, 3, 0);
    b_tensor(&b, "t.one", 1, ne8, 0, 32);
    b_tensor(&b, "t.two", 1, ne8, 0, 0);
    b_tensor(&b, "t.three", 1, ne8, 0, 32);
    b_pad(&b, 32);
    for (int i = 0; i < 32; i++) b_u32(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "overlap");
    b_header(&b, 3, 2, 0);
    b_tensor(&b, "t.same", 1, ne8, 0, 0);
    b_tensor(&b, "t.same", 1, ne8, 0, 32);
    b_pad(&b, 32);
    for (int i = 0; i < 32; i++) b_u32(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "duplicate tensor name 't.same'");
    /* Out-of-order but disjoint offsets are fine, and a 64-byte alignment is honoured. */
    b_header(&b, 3, 2, 1);
    b_kv_u32(&b, "general.alignment", 64);
    b_tensor(&b, "t.late", 1, ne8, 0, 64);
    b_tensor(&b, "t.early", 1, ne8, 0, 0);
    b_pad(&b, 64);
    for (int i = 0; i < 32; i++) b_u32(&b, (uint32_t)i);
    CHECK(open_bytes(b.p, b.n, &e) == VOX_OK, "out-of-order offsets: %s", e.msg);
    b_header(&b, 3, 1, 1);
    b_kv_u32(&b, "general.alignment", 64);
    b_tensor(&b, "t.a32", 1, ne8, 0, 32);
    b_pad(&b, 64);
    for (int i = 0; i < 32; i++) b_u32(&b, 0);
    EXPECT_FAIL(b.p, b.n, VOX_E_FORMAT, "alignment 64");

    /* Not a file at all. */
    vox_gguf *g = NULL;
    CHECK(vox_gguf_open("/nonexistent/dir/x.gguf", &g, &e) == VOX_E_IO && g == NULL && strstr(e.msg, "/nonexistent/dir/x.gguf"),
          "missing file: %s", e.msg);
    CHECK(vox_gguf_open(g_dir, &g, &e) == VOX_E_IO && g == NULL, "directory: %s", e.msg);
}

/* ---- writer errors ---------------------------------------------------------- */

static void test_writer_errors(void) {
    vox_error err;
    vox_gguf_writer *w = NULL;
    CHECK(vox_gguf_writer_new(&w, &err) == VOX_OK, "writer");
    float data[64] = {0};
    int64_t shape[2] = {2, 32}, bad_shape[2] = {2, 31};
    CHECK(vox_gguf_add_u32(w, "k", 1, &err) == VOX_OK, "k");
    CHECK(vox_gguf_add_str(w, "k", "again", &err) == VOX_E_ARG && strstr(err.msg, "'k'"), "duplicate key: %s", err.msg);
    CHECK(vox_gguf_add_u32(w, "", 1, &err) == VOX_E_ARG, "empty key");
    CHECK(vox_gguf_add_str(w, "s", NULL, &err) == VOX_E_ARG, "NULL string");
    CHECK(vox_gguf_add_array(w, "a", VOX_GGUF_STRING, data, 1, &err) == VOX_E_ARG, "string via add_array");
    CHECK(vox_gguf_add_scalar(w, "a", VOX_GGUF_ARRAY, data, &err) == VOX_E_ARG, "array as scalar");
    CHECK(vox_gguf_add_f32(w, "general.alignment", 64.0f, &err) == VOX_E_ARG, "alignment must be u32");
    CHECK(vox_gguf_writer_set_alignment(w, 48, &err) == VOX_E_ARG, "alignment 48");
    CHECK(vox_gguf_writer_set_alignment(w, 0, &err) == VOX_E_ARG, "alignment 0");
    CHECK(vox_gguf_add_tensor(w, "t", VOX_Q8_0, 2, bad_shape, data, 2 * 34, &err) == VOX_E_ARG && strstr(err.msg, "'t'"),
          "row not a multiple of the block: %s", err.msg);
    CHECK(vox_gguf_add_tensor(w, "t", VOX_F32, 2, shape, data, 100, &err) == VOX_E_ARG, "nbytes mismatch");
    CHECK(vox_gguf_add_tensor(w, "t", VOX_F32, 5, shape, data, 256, &err) == VOX_E_ARG, "5 dims");
    CHECK(vox_gguf_add_tensor(w, "t", (vox_dtype)42, 2, shape, data, 256, &err) == VOX_E_ARG, "bad dtype");
    CHECK(vox_gguf_add_tensor(w, "t", VOX_F32, 2, shape, data, 256, &err) == VOX_OK, "t: %s", err.msg);
    CHECK(vox_gguf_add_tensor(w, "t", VOX_F32, 2, shape, data, 256, &err) == VOX_E_ARG, "duplicate tensor");
    CHECK(vox_gguf_add_tensor_fill(w, "u", VOX_F32, 2, shape, NULL, NULL, &err) == VOX_E_ARG, "NULL fill");
    /* Unwritable destination: clean IO error. */
    CHECK(vox_gguf_write(w, "/nonexistent/dir/out.gguf", &err) == VOX_E_IO && strstr(err.msg, "/nonexistent/dir/out.gguf"),
          "unwritable: %s", err.msg);
    /* An existing target survives a failed write, and no temporary is left. */
    char path[512];
    tpath(path, "keep.gguf");
    write_bytes(path, "precious", 8);
    float src[4 * 256];
    for (int i = 0; i < 4 * 256; i++) src[i] = (float)i;
    fill_ctx fctx = {src, 256, VOX_F32, 0, 0};
    int64_t fshape[2] = {4, 256};
    CHECK(vox_gguf_add_tensor_fill(w, "failing", VOX_F32, 2, fshape, fill_rows, &fctx, &err) == VOX_OK, "add fill");
    int rc = vox_gguf_write(w, path, &err);
    CHECK(rc == VOX_E_INTERNAL && strstr(err.msg, "failing") && strstr(err.msg, "deliberate"), "fill failure: %d %s", rc, err.msg);
    size_t n = 0;
    unsigned char *kept = read_bytes(path, &n);
    CHECK(kept && n == 8 && memcmp(kept, "precious", 8) == 0, "target untouched");
    free(kept);
    CHECK(count_dir_entries() == 1, "temporary file removed");
    /* Next try succeeds and replaces it. */
    fctx.fail_at = -1;
    fctx.calls = 0;
    CHECK(vox_gguf_writer_set_alignment(w, 128, &err) == VOX_OK, "alignment 128");
    CHECK(vox_gguf_writer_set_alignment(w, 256, &err) == VOX_OK, "alignment 256 (updates the key)");
    CHECK(vox_gguf_write(w, path, &err) == VOX_OK, "write: %s", err.msg);
    vox_gguf_writer_free(w);
    vox_gguf *g = NULL;
    CHECK(vox_gguf_open(path, &g, &err) == VOX_OK, "reopen: %s", err.msg);
    if (g) {
        uint32_t a = 0;
        CHECK(vox_gguf_alignment(g) == 256 && vox_gguf_get_u32(g, "general.alignment", &a, &err) == VOX_OK && a == 256, "alignment 256");
        const vox_tensor *t = vox_gguf_find(g, "failing");
        CHECK(t && t->nbytes == sizeof src && memcmp(t->data, src, sizeof src) == 0, "fill F32 data");
        const vox_gguf_tensor_info *ti = vox_gguf_tensor_at(g, 1);
        CHECK(ti && ti->offset == 256, "second tensor at 256: %llu", ti ? (unsigned long long)ti->offset : 0ull);
        vox_gguf_close(g);
    }
    unlink(path);
    CHECK(count_dir_entries() == 0, "scratch dir empty");
}

int main(void) {
    make_dir("gguf");
    test_hand_bytes();
    test_roundtrip(32);
    test_roundtrip(64);
    test_ggml_file();
    test_malformed();
    char hand[512];
    tpath(hand, "hand.gguf");
    unlink(hand);
    test_writer_errors();
    rm_dir();
    TEST_MAIN_END();
}
