/* test_torch_pt.c — the torch.save zip reader and the voice-file writer.
 *
 * The writer must reproduce the official voice files' layout (docs/MODEL.md §1.4):
 * for a [67, 3072] tensor (ar_male) the official file is 413253 bytes and its
 * data.pkl the 165 bytes below, so both are checked exactly.  The reader is then
 * fed hand-built archives (a tiny stored-zip builder lives in this file) with
 * every pickle variant torch produces and every corruption we could think of:
 * truncation, broken central directory, compressed members, pickle garbage,
 * unsupported storage types, strided tensors, short storage, bad CRCs. */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/torch_pt.h"
#include "tensor/tensor.h"
#include "test.h"
#include "test_files.h"

/* ---- a minimal stored-zip builder (independent of the code under test) ---- */

typedef struct buf {
    unsigned char *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *s, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) exit(2);
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
}
static void u8(buf *b, unsigned v) {
    unsigned char c = (unsigned char)v;
    put(b, &c, 1);
}
static void le(buf *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) u8(b, (unsigned)(v >> (8 * i)) & 0xff);
}
static void str(buf *b, const char *s) { put(b, s, strlen(s)); }
/* A string literal that may contain NUL bytes. */
#define LIT(b, s) put((b), (s), sizeof(s) - 1)

static uint32_t crc32_bytes(const unsigned char *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return ~c;
}

typedef struct member {
    const char *name;
    const unsigned char *data;
    size_t len;
    unsigned method; /* stored unless set */
} member;

static void build_zip(buf *z, const member *m, int n) {
    uint32_t offs[16];
    for (int i = 0; i < n; i++) {
        offs[i] = (uint32_t)z->len;
        le(z, 0x04034b50, 4);
        le(z, 20, 2);
        le(z, 0, 2);
        le(z, m[i].method, 2);
        le(z, 0, 4);
        le(z, crc32_bytes(m[i].data, m[i].len), 4);
        le(z, m[i].len, 4);
        le(z, m[i].len, 4);
        le(z, strlen(m[i].name), 2);
        le(z, 0, 2);
        str(z, m[i].name);
        put(z, m[i].data, m[i].len);
    }
    size_t cd = z->len;
    for (int i = 0; i < n; i++) {
        le(z, 0x02014b50, 4);
        le(z, 20, 2);
        le(z, 20, 2);
        le(z, 0, 2);
        le(z, m[i].method, 2);
        le(z, 0, 4);
        le(z, crc32_bytes(m[i].data, m[i].len), 4);
        le(z, m[i].len, 4);
        le(z, m[i].len, 4);
        le(z, strlen(m[i].name), 2);
        le(z, 0, 2);
        le(z, 0, 2);
        le(z, 0, 2);
        le(z, 0, 2);
        le(z, 0, 4);
        le(z, offs[i], 4);
        str(z, m[i].name);
    }
    size_t cd_size = z->len - cd;
    le(z, 0x06054b50, 4);
    le(z, 0, 4);
    le(z, (uint64_t)n, 2);
    le(z, (uint64_t)n, 2);
    le(z, cd_size, 4);
    le(z, cd, 4);
    le(z, 0, 2);
}

/* ---- pickles as torch writes them ---------------------------------------- */

static void pint(buf *b, int64_t v) {
    if (v >= 0 && v < 256) {
        u8(b, 'K');
        u8(b, (unsigned)v);
    } else if (v >= 0 && v < 65536) {
        u8(b, 'M');
        le(b, (uint64_t)v, 2);
    } else {
        u8(b, 'J');
        le(b, (uint64_t)v, 4);
    }
}
static void pstr(buf *b, const char *s) {
    u8(b, 'X');
    le(b, strlen(s), 4);
    str(b, s);
}

typedef struct tdesc {
    const char *storage; /* "BFloat16Storage" ... */
    const char *key;
    int64_t storage_numel, offset;
    int ndim;
    int64_t size[4], stride[4];
} tdesc;

/* _rebuild_tensor_v2(pid, offset, size, stride, False, OrderedDict()) without STOP. */
static void tensor_pickle_body(buf *b, const tdesc *d) {
    str(b, "ctorch._utils\n_rebuild_tensor_v2\n(");
    u8(b, '(');
    pstr(b, "storage");
    str(b, "ctorch\n");
    str(b, d->storage);
    str(b, "\n");
    pstr(b, d->key);
    pstr(b, "cpu");
    pint(b, d->storage_numel);
    str(b, "tQ");
    pint(b, d->offset);
    u8(b, '(');
    for (int i = 0; i < d->ndim; i++) pint(b, d->size[i]);
    u8(b, 't');
    u8(b, '(');
    for (int i = 0; i < d->ndim; i++) pint(b, d->stride[i]);
    u8(b, 't');
    u8(b, 0x89);
    str(b, "ccollections\nOrderedDict\n)R");
    str(b, "tR");
}

static void tensor_pickle(buf *b, const tdesc *d) {
    u8(b, 0x80);
    u8(b, 2);
    tensor_pickle_body(b, d);
    u8(b, '.');
}

/* An archive <root>/data.pkl + <root>/data/<key> (+ optional extra members). */
static void write_archive(const char *path, const char *root, const unsigned char *pkl, size_t pkl_len,
                          const char *key, const void *data, size_t data_len, unsigned method) {
    char n1[256], n2[256], n3[256];
    snprintf(n1, sizeof n1, "%s/data.pkl", root);
    snprintf(n2, sizeof n2, "%s/data/%s", root, key);
    snprintf(n3, sizeof n3, "%s/version", root);
    member m[3] = {{n1, pkl, pkl_len, 0}, {n2, data, data_len, method}, {n3, (const unsigned char *)"3\n", 2, 0}};
    buf z = {0};
    build_zip(&z, m, 3);
    write_bytes(path, z.p, z.len);
    free(z.p);
}

static void expect_fail(const char *path, int code, const char *needle, const char *what) {
    vox_pt_tensor t;
    vox_error err = {0};
    int rc = vox_pt_load_tensor(path, &t, &err);
    CHECK(rc == code, "%s: rc %d, want %d (%s)", what, rc, code, err.msg);
    CHECK(t.data == NULL, "%s: data not NULL on failure", what);
    CHECK(err.msg[0] && strstr(err.msg, path), "%s: message lacks the path: '%s'", what, err.msg);
    if (needle) CHECK(strstr(err.msg, needle) != NULL, "%s: message lacks '%s': '%s'", what, needle, err.msg);
    if (rc == VOX_OK) vox_pt_tensor_free(&t);
}

/* ---- tests ----------------------------------------------------------------- */

/* data.pkl of the official ar_male.pt ([67, 3072] BF16, docs/MODEL.md §1.4). */
static const unsigned char official_pkl[165] =
    "\x80\x02\x63torch._utils\n_rebuild_tensor_v2\nq\x00((X\x07\x00\x00\x00storageq\x01"
    "ctorch\nBFloat16Storage\nq\x02X\x01\x00\x00\x00" "0q\x03X\x06\x00\x00\x00" "cuda:0q\x04"
    "J\x00$\x03\x00tq\x05QK\x00KCM\x00\x0c\x86q\x06M\x00\x0cK\x01\x86q\x07\x89"
    "ccollections\nOrderedDict\nq\x08)Rq\ttq\nRq\x0b.";

static void test_writer_layout(void) {
    char p[512];
    tpath(p, "ar_male.pt");
    int64_t rows = 67, cols = 3072;
    uint16_t *v = malloc(sizeof(uint16_t) * (size_t)(rows * cols));
    for (int64_t i = 0; i < rows * cols; i++) v[i] = vox_f32_to_bf16((float)((i * 7919) % 2001 - 1000) / 1000.0f);
    vox_error err = {0};
    int rc = vox_pt_write_bf16(p, "voice_embed", rows, cols, v, &err);
    CHECK(rc == VOX_OK, "write: %s", err.msg);
    size_t n = 0;
    unsigned char *raw = read_bytes(p, &n);
    CHECK(raw && n == 413253, "official file size 413253, got %zu", n);
    if (raw && n > 300) {
        /* first member: local header (30) + name (20) + 'FB' pad (14), data at 64 */
        CHECK(memcmp(raw, "PK\x03\x04", 4) == 0, "local header");
        CHECK(memcmp(raw + 30, "voice_embed/data.pkl", 20) == 0, "first member name");
        CHECK(memcmp(raw + 64, official_pkl, 165) == 0, "data.pkl identical to the official one");
        /* data/0's local header is at 598 in the official file */
        CHECK(memcmp(raw + 598 + 30, "voice_embed/data/0", 18) == 0, "data/0 local header at 598");
        uint16_t first; /* 598 + 30 + 18-byte name + 58-byte 'FB' field */
        memcpy(&first, raw + 704, 2);
        CHECK(first == v[0], "data/0 at 704");
        CHECK(memcmp(raw + n - 22, "PK\x05\x06", 4) == 0, "end record last");
        CHECK(memcmp(raw + n - 42, "PK\x06\x07", 4) == 0, "zip64 locator before it");
    }
    free(raw);

    vox_pt_tensor t;
    rc = vox_pt_load_tensor(p, &t, &err);
    CHECK(rc == VOX_OK, "load written: %s", err.msg);
    if (rc == VOX_OK) {
        CHECK(t.ndim == 2 && t.shape[0] == rows && t.shape[1] == cols, "shape");
        int ok = 1;
        for (int64_t i = 0; i < rows * cols; i++) ok &= t.data[i] == vox_bf16_to_f32(v[i]);
        CHECK(ok, "values round trip");
        vox_pt_tensor_free(&t);
    }
    free(v);

    /* another root, tiny tensor */
    uint16_t w[6] = {0x3f80, 0xc000, 0x0000, 0x8000, 0x4049, 0x7f80};
    tpath(p, "my_voice.pt");
    CHECK(vox_pt_write_bf16(p, "my_voice", 2, 3, w, &err) == VOX_OK, "write small: %s", err.msg);
    rc = vox_pt_load_tensor(p, &t, &err);
    CHECK(rc == VOX_OK && t.ndim == 2 && t.shape[0] == 2 && t.shape[1] == 3, "small load: %s", err.msg);
    if (rc == VOX_OK) {
        CHECK(t.data[0] == 1.0f && t.data[1] == -2.0f && t.data[4] == vox_bf16_to_f32(0x4049) &&
                  isinf(t.data[5]),
              "small values");
        vox_pt_tensor_free(&t);
    }
    /* writer argument errors */
    CHECK(vox_pt_write_bf16(p, "bad/root", 2, 3, w, &err) == VOX_E_ARG, "root with slash");
    CHECK(vox_pt_write_bf16(p, "r", 0, 3, w, &err) == VOX_E_ARG, "zero rows");
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/missing/dir/v.pt", g_dir);
    CHECK(vox_pt_write_bf16(nodir, "r", 2, 3, w, &err) == VOX_E_IO && strstr(err.msg, nodir), "unwritable: %s", err.msg);
}

static void test_pickle_variants(void) {
    char p[512];
    tpath(p, "variant.pt");
    vox_error err = {0};
    vox_pt_tensor t;

    /* Half storage with an offset, cpu location, 3-D, size-1 dim with odd stride */
    uint16_t h[10] = {0, 0, 0x3c00, 0x4000, 0x4200, 0x4400, 0xbc00, 0x3800, 0, 0};
    tdesc d = {"HalfStorage", "7", 10, 2, 3, {1, 2, 3}, {99, 3, 1}};
    buf b = {0};
    tensor_pickle(&b, &d);
    write_archive(p, "archive", b.p, b.len, "7", h, sizeof h, 0);
    int rc = vox_pt_load_tensor(p, &t, &err);
    CHECK(rc == VOX_OK, "half: %s", err.msg);
    if (rc == VOX_OK) {
        CHECK(t.ndim == 3 && t.shape[0] == 1 && t.shape[1] == 2 && t.shape[2] == 3, "half shape");
        CHECK(t.data[0] == 1.0f && t.data[1] == 2.0f && t.data[2] == 3.0f && t.data[3] == 4.0f &&
                  t.data[4] == -1.0f && t.data[5] == 0.5f,
              "half values");
        vox_pt_tensor_free(&t);
    }
    free(b.p);

    /* Float storage, 1-D, protocol 4 style strings (SHORT_BINUNICODE + MEMOIZE + FRAME) */
    float f[4] = {1.5f, -2.5f, 3.5f, 1e30f};
    buf q = {0};
    u8(&q, 0x80), u8(&q, 4), u8(&q, 0x95), le(&q, 0, 8);
    LIT(&q, "\x8c\x0ctorch._utils\x94\x8c\x12_rebuild_tensor_v2\x94\x93\x94(");
    LIT(&q, "(\x8c\x07storage\x94\x8c\x05torch\x8c\x0c" "FloatStorage\x93\x8c\x01" "0\x8c\x03" "cpuK\x04t\x94Q");
    LIT(&q, "K\x00K\x04\x85K\x01\x85\x89\x8c\x0b" "collections\x8c\x0bOrderedDict\x93)R\x94t\x94R\x94.");
    write_archive(p, "x", q.p, q.len, "0", f, sizeof f, 0);
    rc = vox_pt_load_tensor(p, &t, &err);
    CHECK(rc == VOX_OK && t.ndim == 1 && t.shape[0] == 4, "float proto4: %s", err.msg);
    if (rc == VOX_OK) {
        CHECK(memcmp(t.data, f, sizeof f) == 0, "float values");
        vox_pt_tensor_free(&t);
    }
    free(q.p);

    /* A dict {'w': tensor} (what torch.save({'w': t}) writes) */
    uint16_t bf[4] = {0x3f80, 0x4000, 0x4040, 0x4080};
    tdesc d2 = {"BFloat16Storage", "0", 4, 0, 2, {2, 2}, {2, 1}};
    buf c = {0};
    u8(&c, 0x80), u8(&c, 2);
    LIT(&c, "}q\x00X\x01\x00\x00\x00wq\x01");
    tensor_pickle_body(&c, &d2);
    str(&c, "s.");
    write_archive(p, "dict", c.p, c.len, "0", bf, sizeof bf, 0);
    rc = vox_pt_load_tensor(p, &t, &err);
    CHECK(rc == VOX_OK && t.shape[0] == 2 && t.shape[1] == 2, "dict: %s", err.msg);
    if (rc == VOX_OK) {
        CHECK(t.data[3] == 4.0f, "dict values");
        vox_pt_tensor_free(&t);
    }
    free(c.p);

    /* members without a root folder (data.pkl, data/0 at the top) */
    buf r = {0};
    tensor_pickle(&r, &d2);
    member top[2] = {{"data.pkl", r.p, r.len, 0}, {"data/0", (const unsigned char *)bf, sizeof bf, 0}};
    buf zt = {0};
    build_zip(&zt, top, 2);
    write_bytes(p, zt.p, zt.len);
    free(zt.p);
    free(r.p);
    rc = vox_pt_load_tensor(p, &t, &err);
    CHECK(rc == VOX_OK && t.shape[0] == 2 && t.data[2] == 3.0f, "no root folder: %s", err.msg);
    if (rc == VOX_OK) vox_pt_tensor_free(&t);
}

static void test_bad_archives(void) {
    char p[512], good[512];
    vox_error err = {0};
    expect_fail(tpath(p, "nope.pt"), VOX_E_IO, NULL, "missing file");

    /* a valid official-layout file to damage */
    tpath(good, "good.pt");
    uint16_t w[12];
    for (int i = 0; i < 12; i++) w[i] = (uint16_t)(0x3f80 + i);
    CHECK(vox_pt_write_bf16(good, "voice_embed", 3, 4, w, &err) == VOX_OK, "write good: %s", err.msg);
    size_t n;
    unsigned char *raw = read_bytes(good, &n);
    if (!raw) return;
    tpath(p, "bad.pt");

    size_t cuts[] = {0, 3, 21, n / 2, n - 30, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "truncated at %zu of %zu", cuts[i], n);
        write_bytes(p, raw, cuts[i]);
        expect_fail(p, VOX_E_FORMAT, NULL, what);
    }

    /* locate the central directory through the end record */
    size_t eocd = n - 22;
    uint32_t cd = (uint32_t)raw[eocd + 16] | (uint32_t)raw[eocd + 17] << 8 |
                  (uint32_t)raw[eocd + 18] << 16 | (uint32_t)raw[eocd + 19] << 24;
    unsigned char *m = malloc(n);

    memcpy(m, raw, n);
    m[cd] = 'X'; /* first central entry signature */
    write_bytes(p, m, n);
    expect_fail(p, VOX_E_FORMAT, "central directory", "bad central signature");

    memcpy(m, raw, n);
    m[eocd + 16] = 0xf0, m[eocd + 19] = 0x7f; /* directory offset far away */
    write_bytes(p, m, n);
    expect_fail(p, VOX_E_FORMAT, "central directory", "central directory outside");

    memcpy(m, raw, n);
    m[eocd + 10] = m[eocd + 11] = 0xff, m[eocd + 8] = m[eocd + 9] = 0xff; /* ZIP64 markers */
    write_bytes(p, m, n);
    expect_fail(p, VOX_E_UNSUPPORTED, "ZIP64", "saturated end record");

    /* compressed member: set method 8 on the data/0 central entry (the 5th) */
    memcpy(m, raw, n);
    size_t e = cd;
    for (int i = 0; i < 4; i++) e += 46 + (size_t)(m[e + 28] | m[e + 29] << 8);
    m[e + 10] = 8;
    write_bytes(p, m, n);
    expect_fail(p, VOX_E_UNSUPPORTED, "compressed", "deflated member");

    /* local header offset of data/0 pointing at garbage */
    memcpy(m, raw, n);
    m[e + 42] = 1;
    write_bytes(p, m, n);
    expect_fail(p, VOX_E_FORMAT, "local header", "bad local header offset");

    /* flipped data byte: CRC mismatch (data/0 starts after its local header) */
    memcpy(m, raw, n);
    size_t lo = (size_t)(m[e + 42] | m[e + 43] << 8 | m[e + 44] << 16);
    size_t d0 = lo + 30 + (size_t)(m[lo + 26] | m[lo + 27] << 8) + (size_t)(m[lo + 28] | m[lo + 29] << 8);
    CHECK(d0 % 64 == 0, "data/0 aligned to 64 (%zu)", d0);
    m[d0 + 3] ^= 0x55;
    write_bytes(p, m, n);
    expect_fail(p, VOX_E_FORMAT, "CRC", "corrupted data");

    /* flipped pickle byte: CRC catches it before the pickle machine */
    memcpy(m, raw, n);
    m[64 + 40] ^= 0x01;
    write_bytes(p, m, n);
    expect_fail(p, VOX_E_FORMAT, "CRC", "corrupted pickle");
    free(m);
    free(raw);

    /* not a zip at all */
    write_bytes(p, "hello world, this is not a zip archive at all", 45);
    expect_fail(p, VOX_E_FORMAT, NULL, "plain text");

    /* zip without data.pkl */
    member only[1] = {{"foo/bar.txt", (const unsigned char *)"hi", 2, 0}};
    buf z = {0};
    build_zip(&z, only, 1);
    write_bytes(p, z.p, z.len);
    free(z.p);
    expect_fail(p, VOX_E_FORMAT, "data.pkl", "no data.pkl");

    /* pickle-level failures, each in an otherwise valid archive (correct CRCs) */
    uint16_t data[64] = {0}; /* room for the largest case (96 bytes) */
    tdesc base = {"BFloat16Storage", "0", 12, 0, 2, {3, 4}, {4, 1}};
    struct {
        tdesc d;
        size_t data_len;
        int code;
        const char *needle;
        const char *what;
    } cases[] = {
        {{"BFloat16Storage", "0", 12, 0, 2, {3, 4}, {4, 1}}, 20, VOX_E_FORMAT, "bytes", "storage too small"},
        {{"BFloat16Storage", "0", 12, 4, 2, {3, 4}, {4, 1}}, 32, VOX_E_FORMAT, "exceeds its storage", "offset past storage"},
        {{"DoubleStorage", "0", 12, 0, 2, {3, 4}, {4, 1}}, 96, VOX_E_UNSUPPORTED, "DoubleStorage", "double storage"},
        {{"BFloat16Storage", "0", 12, 0, 2, {3, 4}, {1, 3}}, 24, VOX_E_UNSUPPORTED, "contiguous", "transposed strides"},
        {{"BFloat16Storage", "9", 12, 0, 2, {3, 4}, {4, 1}}, 24, VOX_E_FORMAT, "data/9", "missing storage member"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b = {0};
        tensor_pickle(&b, &cases[i].d);
        write_archive(p, "arc", b.p, b.len, "0", data, cases[i].data_len, 0);
        free(b.p);
        expect_fail(p, cases[i].code, cases[i].needle, cases[i].what);
    }

    /* raw pickle garbage / malformed streams */
    struct {
        const char *pkl;
        size_t len;
        int code;
        const char *what;
    } bad[] = {
        {"\x80\x02\xff", 3, VOX_E_FORMAT, "unknown opcode"},
        {"\x80\x02K\x05", 4, VOX_E_FORMAT, "no STOP"},
        {"\x80\x02.", 3, VOX_E_FORMAT, "STOP on empty stack"},
        {"\x80\x02t.", 4, VOX_E_FORMAT, "TUPLE without MARK"},
        {"\x80\x02h\x05.", 5, VOX_E_FORMAT, "BINGET of unset memo"},
        {"\x80\x02X\xff\xff\x00\x00" "ab.", 10, VOX_E_FORMAT, "string past end"},
        {"\x80\x02K\x01K\x02R.", 8, VOX_E_FORMAT, "REDUCE with non-tuple"},
        {"\x80\x02K\x01.", 5, VOX_E_FORMAT, "no tensor in pickle"},
        {"\x80\x02" "ctorch\nFloat", 14, VOX_E_FORMAT, "unterminated GLOBAL"},
        {"\x80\x02\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09.", 14, VOX_E_FORMAT, "LONG1 too wide"},
        {"\x80\x02]q\x00h\x00" "a.", 9, VOX_E_FORMAT, "self-containing list"},
        {"\x80\x09.", 3, VOX_E_FORMAT, "protocol 9"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_archive(p, "arc", (const unsigned char *)bad[i].pkl, bad[i].len, "0", data, 24, 0);
        expect_fail(p, bad[i].code, "data.pkl", bad[i].what);
    }

    /* two tensors in one file */
    buf two = {0};
    u8(&two, 0x80), u8(&two, 2), u8(&two, '(');
    tensor_pickle_body(&two, &base);
    tensor_pickle_body(&two, &base);
    str(&two, "t.");
    write_archive(p, "arc", two.p, two.len, "0", data, 24, 0);
    free(two.p);
    expect_fail(p, VOX_E_UNSUPPORTED, "2 tensors", "two tensors");

    /* exponential sharing through the memo must not explode: L = [L0, L0] x 40 */
    buf dag = {0};
    u8(&dag, 0x80), u8(&dag, 2);
    LIT(&dag, "Nq\x00" "0");
    for (int i = 0; i < 40; i++) {
        u8(&dag, '(');
        u8(&dag, 'h'), u8(&dag, (unsigned)i);
        u8(&dag, 'h'), u8(&dag, (unsigned)i);
        u8(&dag, 't');
        u8(&dag, 'q'), u8(&dag, (unsigned)i + 1);
        u8(&dag, '0');
    }
    u8(&dag, 'h'), u8(&dag, 40);
    u8(&dag, '.');
    write_archive(p, "arc", dag.p, dag.len, "0", data, 24, 0);
    free(dag.p);
    expect_fail(p, VOX_E_FORMAT, "too", "memo DAG");

    /* big-endian byte order */
    buf b = {0};
    tensor_pickle(&b, &base);
    member be[3] = {{"arc/data.pkl", b.p, b.len, 0},
                    {"arc/byteorder", (const unsigned char *)"big", 3, 0},
                    {"arc/data/0", (const unsigned char *)data, 24, 0}};
    buf zb = {0};
    build_zip(&zb, be, 3);
    write_bytes(p, zb.p, zb.len);
    free(zb.p);
    free(b.p);
    expect_fail(p, VOX_E_UNSUPPORTED, "little endian", "big endian");
}

/* Optional: VOX_OFFICIAL_PT=path/to/official.pt checks a real voice file. */
static void test_official_file(void) {
    const char *p = getenv("VOX_OFFICIAL_PT");
    if (!p || !*p) return;
    vox_pt_tensor t;
    vox_error err = {0};
    int rc = vox_pt_load_tensor(p, &t, &err);
    CHECK(rc == VOX_OK, "official file: %s", err.msg);
    if (rc) return;
    CHECK(t.ndim == 2 && t.shape[1] == 3072, "official shape [%lld, %lld]", (long long)t.shape[0],
          (long long)t.shape[1]);
    printf("official %s: [%lld, %lld], first %g\n", p, (long long)t.shape[0], (long long)t.shape[1],
           (double)t.data[0]);
    vox_pt_tensor_free(&t);
}

int main(void) {
    make_dir("pt");
    test_writer_layout();
    test_pickle_variants();
    test_bad_archives();
    test_official_file();
    rm_dir();
    TEST_MAIN_END();
}
