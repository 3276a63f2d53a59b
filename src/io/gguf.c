/* gguf.c — GGUF reader (mmap, validate everything up front) and writer (streams
 * tensor data, atomic rename).  Format summary and API in gguf.h.
 *
 * Reading never trusts a number from the file: every count is first compared
 * with the bytes left, every length is checked before the bytes it covers are
 * touched, products are checked for overflow, and all multi-byte values are
 * decoded byte by byte as little-endian (no unaligned loads).  Look-ups go
 * through name-sorted index arrays (binary search), built once at open; the same
 * sort finds duplicate keys and names in O(n log n) however large the file.
 *
 * The writer serializes each metadata entry when it is added (so the caller's
 * buffers need not outlive the call), keeps tensors by reference, and at write
 * time lays the file out the way ggml's gguf writer does: header, metadata,
 * tensor infos, zero padding to the alignment, then each tensor's bytes padded to
 * the alignment. */
#include "io/gguf.h"

#include "base/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tensor/quant.h"

#define GGUF_KEY_ALIGNMENT "general.alignment"
#define GGUF_MAX_DEPTH 8 /* nesting of arrays of arrays */

/* ---- shared facts --------------------------------------------------------- */

static const char *const k_type_names[] = {"u8",   "i8",   "u16",   "i16", "u32", "i32", "f32",
                                           "bool", "string", "array", "u64", "i64", "f64"};

const char *vox_gguf_type_name(vox_gguf_type t) {
    return (unsigned)t < sizeof k_type_names / sizeof k_type_names[0] ? k_type_names[t] : "?";
}

/* Size of one value of a fixed-size type; 0 for string/array/invalid. */
static size_t type_size(uint32_t t) {
    switch (t) {
    case VOX_GGUF_U8:
    case VOX_GGUF_I8:
    case VOX_GGUF_BOOL: return 1;
    case VOX_GGUF_U16:
    case VOX_GGUF_I16: return 2;
    case VOX_GGUF_U32:
    case VOX_GGUF_I32:
    case VOX_GGUF_F32: return 4;
    case VOX_GGUF_U64:
    case VOX_GGUF_I64:
    case VOX_GGUF_F64: return 8;
    }
    return 0;
}

static int is_int_type(uint32_t t) {
    return t == VOX_GGUF_U8 || t == VOX_GGUF_I8 || t == VOX_GGUF_U16 || t == VOX_GGUF_I16 || t == VOX_GGUF_U32 ||
           t == VOX_GGUF_I32 || t == VOX_GGUF_U64 || t == VOX_GGUF_I64;
}

/* ggml's names for its type ids, for error messages only. */
static const char *ggml_type_name(uint32_t t) {
    static const char *const names[] = {
        "F32",   "F16",    "Q4_0",   "Q4_1",    "Q4_2",  "Q4_3",  "Q5_0",  "Q5_1",  "Q8_0",   "Q8_1",  "Q2_K",
        "Q3_K",  "Q4_K",   "Q5_K",   "Q6_K",    "Q8_K",  "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S",
        "IQ2_S", "IQ4_XS", "I8",     "I16",     "I32",   "I64",   "F64",   "IQ1_M", "BF16",
    };
    return t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

int vox_gguf_ggml_type(vox_dtype t) {
    switch (t) {
    case VOX_F32: return VOX_GGML_F32;
    case VOX_F16: return VOX_GGML_F16;
    case VOX_BF16: return VOX_GGML_BF16;
    case VOX_Q8_0: return VOX_GGML_Q8_0;
    case VOX_Q4_K: return VOX_GGML_Q4_K;
    }
    return -1;
}

int vox_gguf_dtype_from_ggml(uint32_t ggml_type, vox_dtype *out) {
    vox_dtype d;
    switch (ggml_type) {
    case VOX_GGML_F32: d = VOX_F32; break;
    case VOX_GGML_F16: d = VOX_F16; break;
    case VOX_GGML_BF16: d = VOX_BF16; break;
    case VOX_GGML_Q8_0: d = VOX_Q8_0; break;
    case VOX_GGML_Q4_K: d = VOX_Q4_K; break;
    default: return -1;
    }
    if (out) *out = d;
    return 0;
}

/* Little-endian decoding from bytes. */
static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static int str_cmp(vox_gguf_str a, vox_gguf_str b) {
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c) return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

static vox_gguf_str cstr(const char *s) {
    vox_gguf_str r = {s, s ? strlen(s) : 0};
    return r;
}

/* ---- reader ------------------------------------------------------------- */

typedef struct kv_entry {
    vox_gguf_str key;
    uint32_t type;            /* VOX_GGUF_* */
    uint32_t elem;            /* arrays: element type */
    uint64_t n;               /* arrays: element count */
    const unsigned char *val; /* scalar value / string length field / first array element */
} kv_entry;

struct vox_gguf {
    char *path;
    unsigned char *map;
    size_t size;
    uint32_t version, alignment;
    uint64_t data_off;
    int64_t n_kv, n_t;
    kv_entry *kv;
    kv_entry **kv_sorted;
    vox_gguf_tensor_info *t;
    vox_gguf_tensor_info **t_sorted;
};

typedef struct cursor {
    const unsigned char *p;
    size_t size, pos;
    const char *path;
    vox_error *err;
} cursor;

static int truncated(cursor *c, uint64_t need, const char *what) {
    return vox_fail(c->err, VOX_E_FORMAT, "%s: truncated or corrupt GGUF: %s needs %llu bytes at offset %zu, only %zu left",
                    c->path, what, (unsigned long long)need, c->pos, c->size - c->pos);
}

static size_t left(const cursor *c) { return c->size - c->pos; }

static int rd_u32(cursor *c, uint32_t *v, const char *what) {
    if (left(c) < 4) return truncated(c, 4, what);
    *v = rd32(c->p + c->pos);
    c->pos += 4;
    return VOX_OK;
}

static int rd_u64(cursor *c, uint64_t *v, const char *what) {
    if (left(c) < 8) return truncated(c, 8, what);
    *v = rd64(c->p + c->pos);
    c->pos += 8;
    return VOX_OK;
}

static int rd_str(cursor *c, vox_gguf_str *s, const char *what) {
    uint64_t len = 0;
    int rc = rd_u64(c, &len, what);
    if (rc) return rc;
    if (len > left(c)) return truncated(c, len, what);
    s->ptr = (const char *)c->p + c->pos;
    s->len = (size_t)len;
    c->pos += (size_t)len;
    return VOX_OK;
}

/* Validate and step over a value of `type` (for arrays: the element type, count
 * and elements that follow the ARRAY tag). */
static int skip_value(cursor *c, uint32_t type, int depth, const char *what) {
    size_t ts = type_size(type);
    if (ts) {
        if (left(c) < ts) return truncated(c, ts, what);
        c->pos += ts;
        return VOX_OK;
    }
    if (type == VOX_GGUF_STRING) {
        vox_gguf_str s;
        return rd_str(c, &s, what);
    }
    if (type != VOX_GGUF_ARRAY)
        return vox_fail(c->err, VOX_E_FORMAT, "%s: %s has invalid value type %u", c->path, what, type);
    if (depth >= GGUF_MAX_DEPTH)
        return vox_fail(c->err, VOX_E_FORMAT, "%s: %s nests arrays deeper than %d", c->path, what, GGUF_MAX_DEPTH);
    uint32_t elem = 0;
    uint64_t n = 0;
    int rc = rd_u32(c, &elem, what);
    if (!rc) rc = rd_u64(c, &n, what);
    if (rc) return rc;
    if (elem > VOX_GGUF_F64)
        return vox_fail(c->err, VOX_E_FORMAT, "%s: %s is an array of invalid type %u", c->path, what, elem);
    ts = type_size(elem);
    /* Minimum bytes per element: fixed size, or the 8-byte length of a string,
     * or the 12-byte header of a nested array. */
    size_t min = ts ? ts : elem == VOX_GGUF_STRING ? 8 : 12;
    if (n > left(c) / min)
        return vox_fail(c->err, VOX_E_FORMAT, "%s: %s claims %llu elements of type %s, more than the %zu bytes left hold",
                        c->path, what, (unsigned long long)n, vox_gguf_type_name((vox_gguf_type)elem), left(c));
    if (ts) {
        c->pos += (size_t)n * ts;
        return VOX_OK;
    }
    for (uint64_t i = 0; i < n; i++) {
        rc = skip_value(c, elem, depth + 1, what);
        if (rc) return rc;
    }
    return VOX_OK;
}

static int cmp_kv(const void *a, const void *b) {
    return str_cmp((*(kv_entry *const *)a)->key, (*(kv_entry *const *)b)->key);
}

static int cmp_tname(const void *a, const void *b) {
    return str_cmp((*(vox_gguf_tensor_info *const *)a)->name, (*(vox_gguf_tensor_info *const *)b)->name);
}

static int cmp_toff(const void *a, const void *b) {
    const vox_gguf_tensor_info *x = *(vox_gguf_tensor_info *const *)a, *y = *(vox_gguf_tensor_info *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int parse_kvs(vox_gguf *g, cursor *c) {
    for (int64_t i = 0; i < g->n_kv; i++) {
        kv_entry *e = &g->kv[i];
        char what[160];
        snprintf(what, sizeof what, "metadata entry %lld key", (long long)i);
        int rc = rd_str(c, &e->key, what);
        if (rc) return rc;
        if (e->key.len == 0) return vox_fail(c->err, VOX_E_FORMAT, "%s: metadata entry %lld has an empty key", c->path, (long long)i);
        snprintf(what, sizeof what, "metadata '%.*s'", (int)(e->key.len > 100 ? 100 : e->key.len), e->key.ptr);
        rc = rd_u32(c, &e->type, what);
        if (rc) return rc;
        if (e->type > VOX_GGUF_F64) return vox_fail(c->err, VOX_E_FORMAT, "%s: %s has invalid value type %u", c->path, what, e->type);
        e->n = 1;
        if (e->type == VOX_GGUF_ARRAY) {
            /* Peek at the element type and count; skip_value re-reads and checks them. */
            if (left(c) < 12) return truncated(c, 12, what);
            e->elem = rd32(c->p + c->pos);
            e->n = rd64(c->p + c->pos + 4);
            e->val = c->p + c->pos + 12;
        } else {
            e->val = c->p + c->pos;
        }
        rc = skip_value(c, e->type, 0, what);
        if (rc) return rc;
    }
    for (int64_t i = 0; i < g->n_kv; i++) g->kv_sorted[i] = &g->kv[i];
    if (g->n_kv > 1) qsort(g->kv_sorted, (size_t)g->n_kv, sizeof *g->kv_sorted, cmp_kv);
    for (int64_t i = 1; i < g->n_kv; i++)
        if (str_cmp(g->kv_sorted[i - 1]->key, g->kv_sorted[i]->key) == 0)
            return vox_fail(c->err, VOX_E_FORMAT, "%s: duplicate metadata key '%.*s'", c->path, (int)g->kv_sorted[i]->key.len,
                            g->kv_sorted[i]->key.ptr);
    g->alignment = VOX_GGUF_DEFAULT_ALIGNMENT;
    int64_t ai = vox_gguf_find_key(g, GGUF_KEY_ALIGNMENT);
    if (ai >= 0) {
        if (g->kv[ai].type != VOX_GGUF_U32)
            return vox_fail(c->err, VOX_E_FORMAT, "%s: metadata '" GGUF_KEY_ALIGNMENT "' must be u32, not %s", c->path,
                            vox_gguf_type_name((vox_gguf_type)g->kv[ai].type));
        uint32_t a = rd32(g->kv[ai].val);
        if (a == 0 || (a & (a - 1)) != 0)
            return vox_fail(c->err, VOX_E_FORMAT, "%s: metadata '" GGUF_KEY_ALIGNMENT "' = %u is not a power of two", c->path, a);
        g->alignment = a;
    }
    return VOX_OK;
}

static int parse_tensor_infos(vox_gguf *g, cursor *c) {
    for (int64_t i = 0; i < g->n_t; i++) {
        vox_gguf_tensor_info *t = &g->t[i];
        char what[160];
        snprintf(what, sizeof what, "tensor info %lld name", (long long)i);
        int rc = rd_str(c, &t->name, what);
        if (rc) return rc;
        if (t->name.len == 0) return vox_fail(c->err, VOX_E_FORMAT, "%s: tensor %lld has an empty name", c->path, (long long)i);
        int nl = (int)(t->name.len > 100 ? 100 : t->name.len);
        snprintf(what, sizeof what, "tensor '%.*s'", nl, t->name.ptr);
        uint32_t n_dims = 0;
        rc = rd_u32(c, &n_dims, what);
        if (rc) return rc;
        if (n_dims > VOX_MAX_DIMS)
            return vox_fail(c->err, VOX_E_FORMAT, "%s: %s has %u dimensions (at most %d)", c->path, what, n_dims, VOX_MAX_DIMS);
        t->n_dims = (int)n_dims;
        int64_t numel = 1;
        int zero = 0;
        for (int d = 0; d < VOX_MAX_DIMS; d++) {
            uint64_t ne = 1;
            if (d < t->n_dims) {
                rc = rd_u64(c, &ne, what);
                if (rc) return rc;
            }
            if (ne > (uint64_t)INT64_MAX)
                return vox_fail(c->err, VOX_E_FORMAT, "%s: %s dimension %d is negative or absurd (%llu)", c->path, what, d,
                                (unsigned long long)ne);
            t->ne[d] = (int64_t)ne;
            if (ne == 0) zero = 1;
            else if (!zero) {
                if (numel > INT64_MAX / (int64_t)ne)
                    return vox_fail(c->err, VOX_E_FORMAT, "%s: %s has too many elements", c->path, what);
                numel *= (int64_t)ne;
            }
        }
        if (zero) numel = 0;
        rc = rd_u32(c, &t->ggml_type, what);
        if (rc) return rc;
        vox_dtype dt;
        if (vox_gguf_dtype_from_ggml(t->ggml_type, &dt) != 0)
            return vox_fail(c->err, VOX_E_UNSUPPORTED,
                            "%s: %s has ggml type %u (%s); voxtts reads only F32, F16, BF16, Q8_0 and Q4_K", c->path, what,
                            t->ggml_type, ggml_type_name(t->ggml_type));
        int64_t bs = vox_quant_block_size(dt);
        size_t bb = vox_quant_block_bytes(dt);
        if (t->ne[0] % bs != 0)
            return vox_fail(c->err, VOX_E_FORMAT, "%s: %s of type %s has rows of %lld values, not a multiple of its block size %lld",
                            c->path, what, vox_dtype_name(dt), (long long)t->ne[0], (long long)bs);
        if ((uint64_t)(numel / bs) > SIZE_MAX / bb)
            return vox_fail(c->err, VOX_E_FORMAT, "%s: %s is too large", c->path, what);
        rc = rd_u64(c, &t->offset, what);
        if (rc) return rc;
        t->view.dtype = dt;
        t->view.ndim = t->n_dims;
        for (int d = 0; d < VOX_MAX_DIMS; d++) t->view.shape[d] = d < t->n_dims ? t->ne[t->n_dims - 1 - d] : 0;
        t->view.nbytes = (size_t)(numel / bs) * bb;
    }
    return VOX_OK;
}

/* Offsets: aligned, inside the file, no overlaps, names unique. */
static int check_tensor_data(vox_gguf *g, cursor *c) {
    if (g->n_t == 0) return VOX_OK;
    if (g->data_off > g->size)
        return vox_fail(c->err, VOX_E_FORMAT, "%s: truncated GGUF: data section would start at %llu, file has %zu bytes", c->path,
                        (unsigned long long)g->data_off, g->size);
    uint64_t room = g->size - g->data_off;
    for (int64_t i = 0; i < g->n_t; i++) {
        vox_gguf_tensor_info *t = &g->t[i];
        int nl = (int)(t->name.len > 100 ? 100 : t->name.len);
        if (t->offset % g->alignment != 0)
            return vox_fail(c->err, VOX_E_FORMAT, "%s: tensor '%.*s' data offset %llu is not a multiple of the alignment %u",
                            c->path, nl, t->name.ptr, (unsigned long long)t->offset, g->alignment);
        if (t->offset > room || t->view.nbytes > room - t->offset)
            return vox_fail(c->err, VOX_E_FORMAT,
                            "%s: tensor '%.*s' data [%llu, +%zu) lies outside the file (data section holds %llu bytes)",
                            c->path, nl, t->name.ptr, (unsigned long long)t->offset, t->view.nbytes, (unsigned long long)room);
        t->view.data = g->map + g->data_off + t->offset;
    }
    for (int64_t i = 0; i < g->n_t; i++) g->t_sorted[i] = &g->t[i];
    qsort(g->t_sorted, (size_t)g->n_t, sizeof *g->t_sorted, cmp_toff);
    const vox_gguf_tensor_info *prev = NULL;
    for (int64_t i = 0; i < g->n_t; i++) {
        const vox_gguf_tensor_info *t = g->t_sorted[i];
        if (t->view.nbytes == 0) continue;
        if (prev && prev->offset + prev->view.nbytes > t->offset)
            return vox_fail(c->err, VOX_E_FORMAT, "%s: tensors '%.*s' and '%.*s' overlap", c->path, (int)prev->name.len,
                            prev->name.ptr, (int)t->name.len, t->name.ptr);
        prev = t;
    }
    qsort(g->t_sorted, (size_t)g->n_t, sizeof *g->t_sorted, cmp_tname);
    for (int64_t i = 1; i < g->n_t; i++)
        if (str_cmp(g->t_sorted[i - 1]->name, g->t_sorted[i]->name) == 0)
            return vox_fail(c->err, VOX_E_FORMAT, "%s: duplicate tensor name '%.*s'", c->path, (int)g->t_sorted[i]->name.len,
                            g->t_sorted[i]->name.ptr);
    return VOX_OK;
}

static int parse(vox_gguf *g, vox_error *err) {
    cursor c = {g->map, g->size, 0, g->path, err};
    if (g->size < 4 || memcmp(g->map, "GGUF", 4) != 0)
        return vox_fail(err, VOX_E_FORMAT, "%s: not a GGUF file (bad magic)", g->path);
    c.pos = 4;
    int rc = rd_u32(&c, &g->version, "header version");
    if (rc) return rc;
    if (g->version == 0 || (g->version & 0xffffu) == 0)
        return vox_fail(err, VOX_E_FORMAT, "%s: GGUF version %u is invalid (a big-endian file?)", g->path, g->version);
    if (g->version != 2 && g->version != 3)
        return vox_fail(err, VOX_E_UNSUPPORTED, "%s: GGUF version %u is not supported (only 2 and 3)", g->path, g->version);
    uint64_t n_t = 0, n_kv = 0;
    rc = rd_u64(&c, &n_t, "header tensor count");
    if (!rc) rc = rd_u64(&c, &n_kv, "header metadata count");
    if (rc) return rc;
    /* A metadata entry takes at least 14 bytes (8-byte key length, a 1-byte key,
     * 4-byte type, 1-byte value) and a tensor info at least 25 (8 + 1 name, 4 dims
     * count, 4 type, 8 offset). */
    if (n_kv > left(&c) / 14 || n_t > left(&c) / 25 || n_kv * 14 + n_t * 25 > left(&c))
        return vox_fail(err, VOX_E_FORMAT, "%s: header claims %llu tensors and %llu metadata entries, more than the file's %zu bytes can hold",
                        g->path, (unsigned long long)n_t, (unsigned long long)n_kv, g->size);
    g->n_kv = (int64_t)n_kv;
    g->n_t = (int64_t)n_t;
    g->kv = calloc((size_t)n_kv + 1, sizeof *g->kv);
    g->kv_sorted = calloc((size_t)n_kv + 1, sizeof *g->kv_sorted);
    g->t = calloc((size_t)n_t + 1, sizeof *g->t);
    g->t_sorted = calloc((size_t)n_t + 1, sizeof *g->t_sorted);
    if (!g->kv || !g->kv_sorted || !g->t || !g->t_sorted)
        return vox_fail(err, VOX_E_NOMEM, "%s: out of memory for %llu tensors / %llu metadata entries", g->path,
                        (unsigned long long)n_t, (unsigned long long)n_kv);
    rc = parse_kvs(g, &c);
    if (!rc) rc = parse_tensor_infos(g, &c);
    if (rc) return rc;
    g->data_off = ((uint64_t)c.pos + g->alignment - 1) / g->alignment * g->alignment;
    return check_tensor_data(g, &c);
}

int vox_gguf_open(const char *path, vox_gguf **out, vox_error *err) {
    if (!out) return vox_fail(err, VOX_E_ARG, "vox_gguf_open: out is NULL");
    *out = NULL;
    if (!path) return vox_fail(err, VOX_E_ARG, "vox_gguf_open: path is NULL");
    vox_gguf *g = calloc(1, sizeof *g);
    char *p = strdup(path);
    if (!g || !p) {
        free(g);
        free(p);
        return vox_fail(err, VOX_E_NOMEM, "%s: out of memory", path);
    }
    g->path = p;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        vox_gguf_close(g);
        return vox_fail(err, VOX_E_IO, "%s: cannot open: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        vox_gguf_close(g);
        return vox_fail(err, VOX_E_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        vox_gguf_close(g);
        return vox_fail(err, VOX_E_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        vox_gguf_close(g);
        return vox_fail(err, VOX_E_IO, "%s: too large to map", path);
    }
    g->size = (size_t)st.st_size;
    if (g->size == 0) {
        close(fd);
        vox_gguf_close(g);
        return vox_fail(err, VOX_E_FORMAT, "%s: empty file, not GGUF", path);
    }
    void *m = mmap(NULL, g->size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED) {
        g->size = 0;
        vox_gguf_close(g);
        return vox_fail(err, VOX_E_IO, "%s: cannot map: %s", path, strerror(e));
    }
    g->map = m;
    int rc = parse(g, err);
    if (rc) {
        vox_gguf_close(g);
        return rc;
    }
    *out = g;
    return VOX_OK;
}

void vox_gguf_close(vox_gguf *g) {
    if (!g) return;
    if (g->map) munmap(g->map, g->size);
    free(g->kv);
    free(g->kv_sorted);
    free(g->t);
    free(g->t_sorted);
    free(g->path);
    free(g);
}

const char *vox_gguf_path(const vox_gguf *g) { return g->path; }
uint32_t vox_gguf_version(const vox_gguf *g) { return g->version; }
uint32_t vox_gguf_alignment(const vox_gguf *g) { return g->alignment; }
uint64_t vox_gguf_data_offset(const vox_gguf *g) { return g->data_off; }
int64_t vox_gguf_n_kv(const vox_gguf *g) { return g->n_kv; }

vox_gguf_str vox_gguf_key(const vox_gguf *g, int64_t i) {
    vox_gguf_str none = {"", 0};
    return i >= 0 && i < g->n_kv ? g->kv[i].key : none;
}

vox_gguf_type vox_gguf_kv_type(const vox_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? (vox_gguf_type)g->kv[i].type : (vox_gguf_type)-1;
}

int64_t vox_gguf_find_key(const vox_gguf *g, const char *key) {
    if (!g || !key || g->n_kv == 0) return -1;
    vox_gguf_str k = cstr(key);
    int64_t lo = 0, hi = g->n_kv - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = str_cmp(g->kv_sorted[mid]->key, k);
        if (c == 0) return g->kv_sorted[mid] - g->kv;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* The entry for `key`, or NULL with VOX_E_MISSING recorded. */
static const kv_entry *lookup(const vox_gguf *g, const char *key, vox_error *err) {
    int64_t i = vox_gguf_find_key(g, key);
    if (i < 0) {
        vox_fail(err, VOX_E_MISSING, "%s: metadata key '%s' not found", g ? g->path : "(null)", key ? key : "(null)");
        return NULL;
    }
    return &g->kv[i];
}

static int wrong_type(const vox_gguf *g, const kv_entry *e, const char *want, vox_error *err) {
    const char *have = e->type == VOX_GGUF_ARRAY ? "array" : vox_gguf_type_name((vox_gguf_type)e->type);
    return vox_fail(err, VOX_E_FORMAT, "%s: metadata '%.*s' is %s%s%s, expected %s", g->path, (int)e->key.len, e->key.ptr,
                    have, e->type == VOX_GGUF_ARRAY ? " of " : "",
                    e->type == VOX_GGUF_ARRAY ? vox_gguf_type_name((vox_gguf_type)e->elem) : "", want);
}

/* An integer element of type t at p, as a signed value; *big set when a u64
 * does not fit in int64. */
static int64_t int_at(uint32_t t, const unsigned char *p, int *big) {
    switch (t) {
    case VOX_GGUF_U8: return p[0];
    case VOX_GGUF_I8: return (int8_t)p[0];
    case VOX_GGUF_U16: return rd16(p);
    case VOX_GGUF_I16: return (int16_t)rd16(p);
    case VOX_GGUF_U32: return rd32(p);
    case VOX_GGUF_I32: return (int32_t)rd32(p);
    case VOX_GGUF_I64: return (int64_t)rd64(p);
    case VOX_GGUF_U64: {
        uint64_t v = rd64(p);
        if (v > (uint64_t)INT64_MAX) *big = 1;
        return (int64_t)(v & (uint64_t)INT64_MAX);
    }
    }
    return 0;
}

static double float_at(uint32_t t, const unsigned char *p) {
    if (t == VOX_GGUF_F32) {
        uint32_t u = rd32(p);
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    uint64_t u = rd64(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Any integer scalar within [lo, hi]. */
static int get_ranged(const vox_gguf *g, const char *key, int64_t lo, int64_t hi, const char *want, int64_t *out,
                      vox_error *err) {
    const kv_entry *e = lookup(g, key, err);
    if (!e) return VOX_E_MISSING;
    if (!is_int_type(e->type)) return wrong_type(g, e, want, err);
    int big = 0;
    int64_t v = int_at(e->type, e->val, &big);
    if (big)
        return vox_fail(err, VOX_E_FORMAT, "%s: metadata '%s' = %llu does not fit in %s", g->path, key,
                        (unsigned long long)rd64(e->val), want);
    if (v < lo || v > hi)
        return vox_fail(err, VOX_E_FORMAT, "%s: metadata '%s' = %lld does not fit in %s", g->path, key, (long long)v, want);
    *out = v;
    return VOX_OK;
}

int vox_gguf_get_u32(const vox_gguf *g, const char *key, uint32_t *out, vox_error *err) {
    int64_t v;
    int rc = get_ranged(g, key, 0, UINT32_MAX, "u32", &v, err);
    if (!rc) *out = (uint32_t)v;
    return rc;
}

int vox_gguf_get_i32(const vox_gguf *g, const char *key, int32_t *out, vox_error *err) {
    int64_t v;
    int rc = get_ranged(g, key, INT32_MIN, INT32_MAX, "i32", &v, err);
    if (!rc) *out = (int32_t)v;
    return rc;
}

int vox_gguf_get_int(const vox_gguf *g, const char *key, int64_t *out, vox_error *err) {
    return get_ranged(g, key, INT64_MIN, INT64_MAX, "an integer", out, err);
}

int vox_gguf_get_u64(const vox_gguf *g, const char *key, uint64_t *out, vox_error *err) {
    const kv_entry *e = lookup(g, key, err);
    if (!e) return VOX_E_MISSING;
    if (e->type == VOX_GGUF_U64) {
        *out = rd64(e->val);
        return VOX_OK;
    }
    int64_t v;
    int rc = get_ranged(g, key, 0, INT64_MAX, "u64", &v, err);
    if (!rc) *out = (uint64_t)v;
    return rc;
}

int vox_gguf_get_f64(const vox_gguf *g, const char *key, double *out, vox_error *err) {
    const kv_entry *e = lookup(g, key, err);
    if (!e) return VOX_E_MISSING;
    if (e->type != VOX_GGUF_F32 && e->type != VOX_GGUF_F64) return wrong_type(g, e, "f32 or f64", err);
    *out = float_at(e->type, e->val);
    return VOX_OK;
}

int vox_gguf_get_f32(const vox_gguf *g, const char *key, float *out, vox_error *err) {
    double d;
    int rc = vox_gguf_get_f64(g, key, &d, err);
    if (!rc) *out = (float)d;
    return rc;
}

int vox_gguf_get_bool(const vox_gguf *g, const char *key, bool *out, vox_error *err) {
    const kv_entry *e = lookup(g, key, err);
    if (!e) return VOX_E_MISSING;
    if (e->type != VOX_GGUF_BOOL) return wrong_type(g, e, "bool", err);
    *out = e->val[0] != 0;
    return VOX_OK;
}

int vox_gguf_get_str(const vox_gguf *g, const char *key, vox_gguf_str *out, vox_error *err) {
    const kv_entry *e = lookup(g, key, err);
    if (!e) return VOX_E_MISSING;
    if (e->type != VOX_GGUF_STRING) return wrong_type(g, e, "string", err);
    out->len = (size_t)rd64(e->val); /* validated at open */
    out->ptr = (const char *)e->val + 8;
    return VOX_OK;
}

int vox_gguf_get_strdup(const vox_gguf *g, const char *key, char **out, vox_error *err) {
    vox_gguf_str s;
    int rc = vox_gguf_get_str(g, key, &s, err);
    if (rc) return rc;
    if (s.len && memchr(s.ptr, 0, s.len))
        return vox_fail(err, VOX_E_FORMAT, "%s: metadata '%s' contains a NUL byte", g->path, key);
    char *c = malloc(s.len + 1);
    if (!c) return vox_fail(err, VOX_E_NOMEM, "%s: out of memory copying metadata '%s'", g->path, key);
    if (s.len) memcpy(c, s.ptr, s.len);
    c[s.len] = '\0';
    *out = c;
    return VOX_OK;
}

/* The array entry for `key`; on failure NULL with *rc set (and err filled). */
static const kv_entry *lookup_array(const vox_gguf *g, const char *key, int *rc, vox_error *err) {
    const kv_entry *e = lookup(g, key, err);
    *rc = VOX_E_MISSING;
    if (e && e->type != VOX_GGUF_ARRAY) {
        *rc = wrong_type(g, e, "an array", err);
        return NULL;
    }
    return e;
}

int vox_gguf_array_info(const vox_gguf *g, const char *key, vox_gguf_type *elem, int64_t *n, vox_error *err) {
    const kv_entry *e = lookup(g, key, err);
    if (!e) return VOX_E_MISSING;
    if (e->type != VOX_GGUF_ARRAY)
        return vox_fail(err, VOX_E_ARG, "%s: metadata '%s' is %s, not an array", g->path, key,
                        vox_gguf_type_name((vox_gguf_type)e->type));
    if (elem) *elem = (vox_gguf_type)e->elem;
    if (n) *n = (int64_t)e->n;
    return VOX_OK;
}

int vox_gguf_get_str_array(const vox_gguf *g, const char *key, vox_gguf_str **out, int64_t *n, vox_error *err) {
    int rc;
    const kv_entry *e = lookup_array(g, key, &rc, err);
    if (!e) return rc;
    if (e->elem != VOX_GGUF_STRING) return wrong_type(g, e, "array of string", err);
    *out = NULL;
    *n = (int64_t)e->n;
    if (e->n == 0) return VOX_OK;
    vox_gguf_str *v = malloc((size_t)e->n * sizeof *v);
    if (!v) return vox_fail(err, VOX_E_NOMEM, "%s: out of memory for %llu strings of '%s'", g->path, (unsigned long long)e->n, key);
    const unsigned char *p = e->val; /* lengths were all validated at open */
    for (uint64_t i = 0; i < e->n; i++) {
        v[i].len = (size_t)rd64(p);
        v[i].ptr = (const char *)p + 8;
        p += 8 + v[i].len;
    }
    *out = v;
    return VOX_OK;
}

int vox_gguf_get_int_array(const vox_gguf *g, const char *key, int64_t **out, int64_t *n, vox_error *err) {
    int rc;
    const kv_entry *e = lookup_array(g, key, &rc, err);
    if (!e) return rc;
    if (!is_int_type(e->elem)) return wrong_type(g, e, "array of integers", err);
    *out = NULL;
    *n = (int64_t)e->n;
    if (e->n == 0) return VOX_OK;
    int64_t *v = malloc((size_t)e->n * sizeof *v);
    if (!v) return vox_fail(err, VOX_E_NOMEM, "%s: out of memory for %llu integers of '%s'", g->path, (unsigned long long)e->n, key);
    size_t ts = type_size(e->elem);
    for (uint64_t i = 0; i < e->n; i++) {
        int big = 0;
        v[i] = int_at(e->elem, e->val + i * ts, &big);
        if (big) {
            free(v);
            return vox_fail(err, VOX_E_FORMAT, "%s: metadata '%s' element %llu does not fit in int64", g->path, key,
                            (unsigned long long)i);
        }
    }
    *out = v;
    return VOX_OK;
}

int vox_gguf_get_f32_array(const vox_gguf *g, const char *key, float **out, int64_t *n, vox_error *err) {
    int rc;
    const kv_entry *e = lookup_array(g, key, &rc, err);
    if (!e) return rc;
    if (e->elem != VOX_GGUF_F32 && e->elem != VOX_GGUF_F64) return wrong_type(g, e, "array of f32 or f64", err);
    *out = NULL;
    *n = (int64_t)e->n;
    if (e->n == 0) return VOX_OK;
    float *v = malloc((size_t)e->n * sizeof *v);
    if (!v) return vox_fail(err, VOX_E_NOMEM, "%s: out of memory for %llu floats of '%s'", g->path, (unsigned long long)e->n, key);
    size_t ts = type_size(e->elem);
    for (uint64_t i = 0; i < e->n; i++) v[i] = (float)float_at(e->elem, e->val + i * ts);
    *out = v;
    return VOX_OK;
}

int vox_gguf_get_array_raw(const vox_gguf *g, const char *key, vox_gguf_type *elem, const void **data, int64_t *n,
                           vox_error *err) {
    int rc;
    const kv_entry *e = lookup_array(g, key, &rc, err);
    if (!e) return rc;
    if (!type_size(e->elem)) return wrong_type(g, e, "array of a fixed-size type", err);
    if (elem) *elem = (vox_gguf_type)e->elem;
    *data = e->val;
    *n = (int64_t)e->n;
    return VOX_OK;
}

int64_t vox_gguf_n_tensors(const vox_gguf *g) { return g->n_t; }

const vox_gguf_tensor_info *vox_gguf_tensor_at(const vox_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_t ? &g->t[i] : NULL;
}

const vox_tensor *vox_gguf_find(const vox_gguf *g, const char *name) {
    if (!g || !name || g->n_t == 0) return NULL;
    vox_gguf_str k = cstr(name);
    int64_t lo = 0, hi = g->n_t - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = str_cmp(g->t_sorted[mid]->name, k);
        if (c == 0) return &g->t_sorted[mid]->view;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

int vox_gguf_get_tensor(const vox_gguf *g, const char *name, vox_tensor *out, vox_error *err) {
    const vox_tensor *t = vox_gguf_find(g, name);
    if (!t) return vox_fail(err, VOX_E_MISSING, "%s: tensor '%s' not found", g ? g->path : "(null)", name ? name : "(null)");
    *out = *t;
    return VOX_OK;
}

static void shape_str(char *buf, size_t size, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
}

int vox_gguf_expect(const vox_gguf *g, const char *name, int ndim, const int64_t *shape, const vox_tensor **out,
                    vox_error *err) {
    const vox_tensor *t = vox_gguf_find(g, name);
    if (!t) return vox_fail(err, VOX_E_MISSING, "%s: tensor '%s' not found", g ? g->path : "(null)", name ? name : "(null)");
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char have[128], want[128];
        shape_str(have, sizeof have, t->ndim, t->shape);
        shape_str(want, sizeof want, ndim, shape);
        return vox_fail(err, VOX_E_SHAPE, "%s: tensor '%s' has shape %s, expected %s", g->path, name, have, want);
    }
    if (out) *out = t;
    return VOX_OK;
}

/* ---- writer --------------------------------------------------------------- */

typedef struct wkv {
    char *key;
    unsigned char *bytes; /* the whole serialized entry: key, type, value */
    size_t len;
} wkv;

typedef struct wtensor {
    char *name;
    vox_dtype dtype;
    int ndim;
    int64_t shape[VOX_MAX_DIMS];
    const void *data;
    size_t nbytes;
    vox_gguf_fill_fn fill;
    void *user;
} wtensor;

struct vox_gguf_writer {
    uint32_t alignment;
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
};

/* Growable byte buffer for serializing one metadata entry. */
typedef struct bytes {
    unsigned char *p;
    size_t len, cap;
    int oom;
} bytes;

static void put(bytes *b, const void *src, size_t n) {
    if (b->oom || n == 0) return;
    if (n > SIZE_MAX - b->len) {
        b->oom = 1;
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n) cap = cap > SIZE_MAX / 2 ? b->len + n : cap * 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put32(bytes *b, uint32_t v) {
    unsigned char c[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    put(b, c, 4);
}

static void put64(bytes *b, uint64_t v) {
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

static void put_str(bytes *b, const char *s, size_t len) {
    put64(b, len);
    put(b, s, len);
}

/* One element of a fixed-size type from host memory, little-endian. */
static void put_elem(bytes *b, uint32_t type, const unsigned char *src) {
    size_t ts = type_size(type);
    if (type == VOX_GGUF_BOOL) {
        unsigned char v = src[0] != 0;
        put(b, &v, 1);
        return;
    }
    unsigned char le[8];
    uint64_t v = 0;
    switch (ts) {
    case 1: v = src[0]; break;
    case 2: { uint16_t x; memcpy(&x, src, 2); v = x; break; }
    case 4: { uint32_t x; memcpy(&x, src, 4); v = x; break; }
    default: memcpy(&v, src, 8); break;
    }
    for (size_t i = 0; i < ts; i++) le[i] = (unsigned char)(v >> (8 * i));
    put(b, le, ts);
}

int vox_gguf_writer_new(vox_gguf_writer **out, vox_error *err) {
    if (!out) return vox_fail(err, VOX_E_ARG, "vox_gguf_writer_new: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return vox_fail(err, VOX_E_NOMEM, "out of memory for a GGUF writer");
    (*out)->alignment = VOX_GGUF_DEFAULT_ALIGNMENT;
    return VOX_OK;
}

void vox_gguf_writer_free(vox_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].bytes);
    }
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

static wkv *find_wkv(vox_gguf_writer *w, const char *key) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) return &w->kv[i];
    return NULL;
}

/* Start an entry: validate the key and write it and the type tag. */
static int begin_kv(vox_gguf_writer *w, const char *key, uint32_t type, bytes *b, vox_error *err) {
    if (!w) return vox_fail(err, VOX_E_ARG, "GGUF writer is NULL");
    if (!key || !key[0]) return vox_fail(err, VOX_E_ARG, "GGUF metadata key is empty");
    if (find_wkv(w, key)) return vox_fail(err, VOX_E_ARG, "GGUF metadata key '%s' added twice", key);
    memset(b, 0, sizeof *b);
    put_str(b, key, strlen(key));
    put32(b, type);
    return VOX_OK;
}

static int end_kv(vox_gguf_writer *w, const char *key, bytes *b, vox_error *err) {
    if (!b->oom && w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
        wkv *q = realloc(w->kv, cap * sizeof *q);
        if (!q) b->oom = 1;
        else {
            w->kv = q;
            w->cap_kv = cap;
        }
    }
    char *k = b->oom ? NULL : strdup(key);
    if (!k) {
        free(b->p);
        return vox_fail(err, VOX_E_NOMEM, "out of memory adding GGUF metadata '%s'", key);
    }
    w->kv[w->n_kv].key = k;
    w->kv[w->n_kv].bytes = b->p;
    w->kv[w->n_kv].len = b->len;
    w->n_kv++;
    return VOX_OK;
}

int vox_gguf_writer_set_alignment(vox_gguf_writer *w, uint32_t alignment, vox_error *err) {
    if (!w) return vox_fail(err, VOX_E_ARG, "GGUF writer is NULL");
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > (1u << 20))
        return vox_fail(err, VOX_E_ARG, "GGUF alignment %u is not a power of two in 1..2^20", alignment);
    w->alignment = alignment;
    wkv *e = find_wkv(w, GGUF_KEY_ALIGNMENT);
    if (e) { /* update the value in place: it is the entry's last 4 bytes */
        for (int i = 0; i < 4; i++) e->bytes[e->len - 4 + (size_t)i] = (unsigned char)(alignment >> (8 * i));
        return VOX_OK;
    }
    if (alignment == VOX_GGUF_DEFAULT_ALIGNMENT) return VOX_OK;
    bytes b;
    int rc = begin_kv(w, GGUF_KEY_ALIGNMENT, VOX_GGUF_U32, &b, err);
    if (rc) return rc;
    put32(&b, alignment);
    return end_kv(w, GGUF_KEY_ALIGNMENT, &b, err);
}

int vox_gguf_add_scalar(vox_gguf_writer *w, const char *key, vox_gguf_type type, const void *value, vox_error *err) {
    if (!type_size(type)) return vox_fail(err, VOX_E_ARG, "GGUF metadata '%s': %s is not a fixed-size scalar type", key ? key : "",
                                          vox_gguf_type_name(type));
    if (!value) return vox_fail(err, VOX_E_ARG, "GGUF metadata '%s': value is NULL", key ? key : "");
    if (key && strcmp(key, GGUF_KEY_ALIGNMENT) == 0) {
        /* The alignment key decides the file layout: route it through set_alignment. */
        if (type != VOX_GGUF_U32) return vox_fail(err, VOX_E_ARG, "GGUF metadata '" GGUF_KEY_ALIGNMENT "' must be u32");
        uint32_t a;
        memcpy(&a, value, 4);
        return vox_gguf_writer_set_alignment(w, a, err);
    }
    bytes b;
    int rc = begin_kv(w, key, type, &b, err);
    if (rc) return rc;
    put_elem(&b, type, value);
    return end_kv(w, key, &b, err);
}

int vox_gguf_add_u32(vox_gguf_writer *w, const char *key, uint32_t v, vox_error *err) {
    return vox_gguf_add_scalar(w, key, VOX_GGUF_U32, &v, err);
}
int vox_gguf_add_i32(vox_gguf_writer *w, const char *key, int32_t v, vox_error *err) {
    return vox_gguf_add_scalar(w, key, VOX_GGUF_I32, &v, err);
}
int vox_gguf_add_u64(vox_gguf_writer *w, const char *key, uint64_t v, vox_error *err) {
    return vox_gguf_add_scalar(w, key, VOX_GGUF_U64, &v, err);
}
int vox_gguf_add_i64(vox_gguf_writer *w, const char *key, int64_t v, vox_error *err) {
    return vox_gguf_add_scalar(w, key, VOX_GGUF_I64, &v, err);
}
int vox_gguf_add_f32(vox_gguf_writer *w, const char *key, float v, vox_error *err) {
    return vox_gguf_add_scalar(w, key, VOX_GGUF_F32, &v, err);
}
int vox_gguf_add_f64(vox_gguf_writer *w, const char *key, double v, vox_error *err) {
    return vox_gguf_add_scalar(w, key, VOX_GGUF_F64, &v, err);
}
int vox_gguf_add_bool(vox_gguf_writer *w, const char *key, bool v, vox_error *err) {
    unsigned char c = v ? 1 : 0;
    return vox_gguf_add_scalar(w, key, VOX_GGUF_BOOL, &c, err);
}

int vox_gguf_add_strn(vox_gguf_writer *w, const char *key, const char *s, size_t len, vox_error *err) {
    if (!s && len) return vox_fail(err, VOX_E_ARG, "GGUF metadata '%s': string is NULL", key ? key : "");
    bytes b;
    int rc = begin_kv(w, key, VOX_GGUF_STRING, &b, err);
    if (rc) return rc;
    put_str(&b, s, len);
    return end_kv(w, key, &b, err);
}

int vox_gguf_add_str(vox_gguf_writer *w, const char *key, const char *s, vox_error *err) {
    if (!s) return vox_fail(err, VOX_E_ARG, "GGUF metadata '%s': string is NULL", key ? key : "");
    return vox_gguf_add_strn(w, key, s, strlen(s), err);
}

int vox_gguf_add_array(vox_gguf_writer *w, const char *key, vox_gguf_type elem, const void *data, int64_t n,
                       vox_error *err) {
    size_t ts = type_size(elem);
    if (!ts) return vox_fail(err, VOX_E_ARG, "GGUF metadata '%s': arrays of %s need their own function", key ? key : "",
                             vox_gguf_type_name(elem));
    if (n < 0 || (n > 0 && !data)) return vox_fail(err, VOX_E_ARG, "GGUF metadata '%s': bad array (n = %lld)", key ? key : "", (long long)n);
    if (key && strcmp(key, GGUF_KEY_ALIGNMENT) == 0)
        return vox_fail(err, VOX_E_ARG, "GGUF metadata '" GGUF_KEY_ALIGNMENT "' must be a u32 scalar");
    bytes b;
    int rc = begin_kv(w, key, VOX_GGUF_ARRAY, &b, err);
    if (rc) return rc;
    put32(&b, elem);
    put64(&b, (uint64_t)n);
    const unsigned char *src = data;
    if (ts == 1 && elem != VOX_GGUF_BOOL) put(&b, src, (size_t)n); /* blobs: one copy, no per-byte loop */
    else
        for (int64_t i = 0; i < n; i++) put_elem(&b, elem, src + (size_t)i * ts);
    return end_kv(w, key, &b, err);
}

int vox_gguf_add_str_array(vox_gguf_writer *w, const char *key, const char *const *strs, int64_t n, vox_error *err) {
    if (n < 0 || (n > 0 && !strs)) return vox_fail(err, VOX_E_ARG, "GGUF metadata '%s': bad string array", key ? key : "");
    for (int64_t i = 0; i < n; i++)
        if (!strs[i]) return vox_fail(err, VOX_E_ARG, "GGUF metadata '%s': string %lld is NULL", key ? key : "", (long long)i);
    if (key && strcmp(key, GGUF_KEY_ALIGNMENT) == 0)
        return vox_fail(err, VOX_E_ARG, "GGUF metadata '" GGUF_KEY_ALIGNMENT "' must be a u32 scalar");
    bytes b;
    int rc = begin_kv(w, key, VOX_GGUF_ARRAY, &b, err);
    if (rc) return rc;
    put32(&b, VOX_GGUF_STRING);
    put64(&b, (uint64_t)n);
    for (int64_t i = 0; i < n; i++) put_str(&b, strs[i], strlen(strs[i]));
    return end_kv(w, key, &b, err);
}

int vox_gguf_add_i32_array(vox_gguf_writer *w, const char *key, const int32_t *v, int64_t n, vox_error *err) {
    return vox_gguf_add_array(w, key, VOX_GGUF_I32, v, n, err);
}
int vox_gguf_add_i64_array(vox_gguf_writer *w, const char *key, const int64_t *v, int64_t n, vox_error *err) {
    return vox_gguf_add_array(w, key, VOX_GGUF_I64, v, n, err);
}
int vox_gguf_add_f32_array(vox_gguf_writer *w, const char *key, const float *v, int64_t n, vox_error *err) {
    return vox_gguf_add_array(w, key, VOX_GGUF_F32, v, n, err);
}
int vox_gguf_add_blob(vox_gguf_writer *w, const char *key, const void *data, size_t n, vox_error *err) {
    if (n > (size_t)INT64_MAX) return vox_fail(err, VOX_E_ARG, "GGUF metadata '%s': blob too large", key ? key : "");
    return vox_gguf_add_array(w, key, VOX_GGUF_U8, data, (int64_t)n, err);
}

/* Row length and row count of a tensor of this shape (rows = product of the outer
 * dims; a 0-D tensor is one row of one value). */
static void rows_of(const wtensor *t, int64_t *row_len, int64_t *n_rows) {
    *row_len = t->ndim ? t->shape[t->ndim - 1] : 1;
    int64_t r = 1;
    for (int i = 0; i + 1 < t->ndim; i++) r *= t->shape[i];
    *n_rows = r;
}

static int add_tensor(vox_gguf_writer *w, const char *name, vox_dtype dtype, int ndim, const int64_t *shape,
                      const void *data, size_t nbytes, vox_gguf_fill_fn fill, void *user, vox_error *err) {
    if (!w) return vox_fail(err, VOX_E_ARG, "GGUF writer is NULL");
    if (!name || !name[0]) return vox_fail(err, VOX_E_ARG, "GGUF tensor name is empty");
    int64_t bs = vox_quant_block_size(dtype);
    if (bs <= 0 || vox_gguf_ggml_type(dtype) < 0) return vox_fail(err, VOX_E_ARG, "GGUF tensor '%s': invalid dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > VOX_MAX_DIMS || (ndim > 0 && !shape))
        return vox_fail(err, VOX_E_ARG, "GGUF tensor '%s': %d dimensions (0..%d allowed)", name, ndim, VOX_MAX_DIMS);
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0) return vox_fail(err, VOX_E_ARG, "GGUF tensor '%s' added twice", name);
    wtensor t = {0};
    t.dtype = dtype;
    t.ndim = ndim;
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return vox_fail(err, VOX_E_ARG, "GGUF tensor '%s': negative dimension %lld", name, (long long)shape[i]);
        if (shape[i] && numel > INT64_MAX / shape[i]) return vox_fail(err, VOX_E_ARG, "GGUF tensor '%s': too many elements", name);
        numel *= shape[i];
        t.shape[i] = shape[i];
    }
    int64_t row_len = ndim ? shape[ndim - 1] : 1;
    if (row_len % bs != 0)
        return vox_fail(err, VOX_E_ARG, "GGUF tensor '%s': innermost dimension %lld is not a multiple of the %s block size %lld",
                        name, (long long)row_len, vox_dtype_name(dtype), (long long)bs);
    if ((uint64_t)(numel / bs) > SIZE_MAX / vox_quant_block_bytes(dtype))
        return vox_fail(err, VOX_E_ARG, "GGUF tensor '%s' is too large", name);
    t.nbytes = (size_t)(numel / bs) * vox_quant_block_bytes(dtype);
    if (fill) {
        t.fill = fill;
        t.user = user;
    } else {
        if (nbytes != t.nbytes)
            return vox_fail(err, VOX_E_ARG, "GGUF tensor '%s': %zu data bytes given, its shape and dtype need %zu", name, nbytes,
                            t.nbytes);
        if (!data && nbytes) return vox_fail(err, VOX_E_ARG, "GGUF tensor '%s': data is NULL", name);
        t.data = data;
    }
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 16;
        wtensor *q = realloc(w->t, cap * sizeof *q);
        if (!q) return vox_fail(err, VOX_E_NOMEM, "out of memory adding GGUF tensor '%s'", name);
        w->t = q;
        w->cap_t = cap;
    }
    t.name = strdup(name);
    if (!t.name) return vox_fail(err, VOX_E_NOMEM, "out of memory adding GGUF tensor '%s'", name);
    w->t[w->n_t++] = t;
    return VOX_OK;
}

int vox_gguf_add_tensor(vox_gguf_writer *w, const char *name, vox_dtype dtype, int ndim, const int64_t *shape,
                        const void *data, size_t nbytes, vox_error *err) {
    return add_tensor(w, name, dtype, ndim, shape, data, nbytes, NULL, NULL, err);
}

int vox_gguf_add_tensor_fill(vox_gguf_writer *w, const char *name, vox_dtype dtype, int ndim,
                             const int64_t *shape, vox_gguf_fill_fn fill, void *user, vox_error *err) {
    if (!fill) return vox_fail(err, VOX_E_ARG, "GGUF tensor '%s': fill callback is NULL", name ? name : "");
    return add_tensor(w, name, dtype, ndim, shape, NULL, 0, fill, user, err);
}

typedef struct out_file {
    FILE *f;
    uint64_t written;
    const char *path;
    vox_error *err;
} out_file;

static int out_write(out_file *o, const void *p, size_t n) {
    if (n && fwrite(p, 1, n, o->f) != n)
        return vox_fail(o->err, VOX_E_IO, "%s: write failed: %s", o->path, strerror(errno));
    o->written += n;
    return VOX_OK;
}

static int out_pad(out_file *o, uint32_t alignment) {
    static const unsigned char zeros[4096]; /* read-only */
    uint64_t pad = (alignment - o->written % alignment) % alignment;
    while (pad) {
        size_t k = pad < sizeof zeros ? (size_t)pad : sizeof zeros;
        int rc = out_write(o, zeros, k);
        if (rc) return rc;
        pad -= k;
    }
    return VOX_OK;
}

static int write_all(vox_gguf_writer *w, out_file *o) {
    bytes h = {0};
    put(&h, "GGUF", 4);
    put32(&h, 3);
    put64(&h, w->n_t);
    put64(&h, w->n_kv);
    /* Tensor infos, offsets assigned in order, each padded to the alignment. */
    uint64_t off = 0;
    bytes ti = {0};
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        put_str(&ti, t->name, strlen(t->name));
        put32(&ti, (uint32_t)t->ndim);
        for (int d = t->ndim - 1; d >= 0; d--) put64(&ti, (uint64_t)t->shape[d]); /* ggml order: innermost first */
        put32(&ti, (uint32_t)vox_gguf_ggml_type(t->dtype));
        put64(&ti, off);
        off += (t->nbytes + w->alignment - 1) / w->alignment * w->alignment;
    }
    int rc = VOX_OK;
    if (h.oom || ti.oom) rc = vox_fail(o->err, VOX_E_NOMEM, "%s: out of memory building the GGUF header", o->path);
    if (!rc) rc = out_write(o, h.p, h.len);
    for (size_t i = 0; !rc && i < w->n_kv; i++) rc = out_write(o, w->kv[i].bytes, w->kv[i].len);
    if (!rc) rc = out_write(o, ti.p, ti.len);
    free(h.p);
    free(ti.p);
    if (!rc) rc = out_pad(o, w->alignment);
    /* Data: pointers are written straight from the caller's memory; fill
     * callbacks produce a few MB of whole rows at a time into one buffer. */
    unsigned char *buf = NULL;
    size_t buf_size = 0;
    for (size_t i = 0; !rc && i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        if (!t->fill) {
            rc = out_write(o, t->data, t->nbytes);
        } else if (t->nbytes) {
            int64_t row_len, n_rows;
            rows_of(t, &row_len, &n_rows);
            size_t rb = t->nbytes / (size_t)n_rows;
            int64_t per = (int64_t)((4u << 20) / rb);
            if (per < 1) per = 1;
            if (per > n_rows) per = n_rows;
            if ((size_t)per * rb > buf_size) {
                free(buf);
                buf_size = (size_t)per * rb;
                buf = malloc(buf_size);
                if (!buf) {
                    buf_size = 0;
                    rc = vox_fail(o->err, VOX_E_NOMEM, "%s: out of memory (%zu bytes) writing tensor '%s'", o->path,
                                  (size_t)per * rb, t->name);
                }
            }
            for (int64_t r = 0; !rc && r < n_rows; r += per) {
                int64_t k = n_rows - r < per ? n_rows - r : per;
                rc = t->fill(t->user, r, k, buf, o->err);
                if (rc > 0) {
                    rc = vox_fail(o->err, VOX_E_INTERNAL, "%s: tensor '%s': fill callback returned %d", o->path, t->name, rc);
                } else if (rc < 0) {
                    if (o->err) o->err->code = rc;
                    vox_error_prefix(o->err, "%s: tensor '%s' rows %lld..%lld", o->path, t->name, (long long)r,
                                     (long long)(r + k));
                } else {
                    rc = out_write(o, buf, (size_t)k * rb);
                }
            }
        }
        if (!rc) rc = out_pad(o, w->alignment);
    }
    free(buf);
    return rc;
}

int vox_gguf_write(vox_gguf_writer *w, const char *path, vox_error *err) {
    if (!w || !path || !path[0]) return vox_fail(err, VOX_E_ARG, "vox_gguf_write: %s is NULL or empty", !w ? "writer" : "path");
    vox_atomic_file af;
    int rc = vox_atomic_open(&af, path, err);
    if (rc) return rc;
    setvbuf(af.f, NULL, _IOFBF, 1 << 20);
    out_file o = {af.f, 0, path, err};
    if ((rc = write_all(w, &o))) {
        vox_atomic_abort(&af);
        return rc;
    }
    return vox_atomic_commit(&af, path, err);
}
