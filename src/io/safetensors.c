/* safetensors.c — mmap-backed reader and atomic writer of safetensors files.
 *
 * Format: an 8-byte little-endian header length N, N bytes of JSON mapping each
 * tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative to
 * the data section that follows the header; an optional "__metadata__" object
 * is ignored), then the raw little-endian tensor bytes.  The reader checks every
 * field against the file before handing out any view, so a truncated or forged
 * file is reported with its name and the offending tensor instead of crashing.
 * The writer streams tensor bytes to a temporary file renamed on success, so an
 * 8 GB checkpoint is neither held in memory twice nor left half written. */
#include "io/safetensors.h"

#include "base/atomic_file.h"
#include "base/strbuf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The reference implementation refuses headers above 100 MB; a 386-tensor
 * checkpoint needs ~40 KB, so this bound only stops absurd allocations. */
#define ST_MAX_HEADER ((uint64_t)100 << 20)
/* Integers above 2^53 cannot be represented exactly by a JSON double. */
#define ST_MAX_JSON_INT 9007199254740992.0

struct vox_safetensors {
    char *path;
    void *map;
    size_t map_size;
    size_t n;
    char **names;       /* header order */
    vox_tensor *tensors;
    void **owned;       /* aligned copies for tensors misaligned in the file, else NULL */
    size_t *by_name;    /* indices sorted by name, for binary search */
};

/* ---- dtypes --------------------------------------------------------------- */

static int st_dtype_parse(const char *s, vox_dtype *out) {
    if (strcmp(s, "F32") == 0) { *out = VOX_F32; return 1; }
    if (strcmp(s, "BF16") == 0) { *out = VOX_BF16; return 1; }
    if (strcmp(s, "F16") == 0) { *out = VOX_F16; return 1; }
    static const char *const known[] = {"F64", "I64", "U64", "I32", "U32", "I16", "U16",
                                        "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2", "F8_E8M0",
                                        "F6_E2M3", "F6_E3M2", "F4", "C64"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(s, known[i]) == 0) return 0; /* valid safetensors, unsupported here */
    return -1;
}

static size_t st_elem_size(vox_dtype t) { return t == VOX_F32 ? 4 : 2; }

/* "[a, b, c]" into buf. */
static const char *fmt_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, cap - k, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
    return buf;
}

/* ---- reader --------------------------------------------------------------- */

/* Indices ordered by names[index] (ctx is the name array). */
static int cmp_name_idx(const void *a, const void *b, void *ctx) {
    const char *const *names = ctx;
    return strcmp(names[*(const size_t *)a], names[*(const size_t *)b]);
}

/* Stable merge sort of an index array (C11 qsort has no context argument, and
 * the comparison must not depend on global state). */
static void sort_indices(size_t *idx, size_t *tmp, size_t n,
                         int (*cmp)(const void *, const void *, void *), void *ctx) {
    if (n < 2) return;
    size_t h = n / 2;
    sort_indices(idx, tmp, h, cmp, ctx);
    sort_indices(idx + h, tmp, n - h, cmp, ctx);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = cmp(&idx[j], &idx[i], ctx) < 0 ? idx[j++] : idx[i++];
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

void vox_safetensors_close(vox_safetensors *st) {
    if (!st) return;
    if (st->names)
        for (size_t i = 0; i < st->n; i++) free(st->names[i]);
    if (st->owned)
        for (size_t i = 0; i < st->n; i++) free(st->owned[i]);
    free(st->names);
    free(st->owned);
    free(st->tensors);
    free(st->by_name);
    if (st->map) munmap(st->map, st->map_size);
    free(st->path);
    free(st);
}

/* A JSON number that is an exact non-negative integer. */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0) || d > ST_MAX_JSON_INT) return 0;
    uint64_t u = (uint64_t)d;
    if ((double)u != d) return 0;
    *out = u;
    return 1;
}

/* Validate one header entry and fill st->tensors[i]. */
static int parse_entry(vox_safetensors *st, size_t i, const cJSON *e, const unsigned char *data,
                       uint64_t data_size, vox_error *err) {
    const char *path = st->path, *name = st->names[i];
    if (!cJSON_IsObject(e))
        return vox_fail(err, VOX_E_FORMAT, "%s: header entry for tensor '%s' is not an object",
                        path, name);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(jd))
        return vox_fail(err, VOX_E_FORMAT, "%s: tensor '%s' has no string \"dtype\"", path, name);
    if (!cJSON_IsArray(js))
        return vox_fail(err, VOX_E_FORMAT, "%s: tensor '%s' has no array \"shape\"", path, name);
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: tensor '%s' has no two-element array \"data_offsets\"", path, name);

    vox_tensor *t = &st->tensors[i];
    int dk = st_dtype_parse(jd->valuestring, &t->dtype);
    if (dk == 0)
        return vox_fail(err, VOX_E_UNSUPPORTED,
                        "%s: tensor '%s' has dtype %s; only F32, BF16 and F16 are supported",
                        path, name, jd->valuestring);
    if (dk < 0)
        return vox_fail(err, VOX_E_FORMAT, "%s: tensor '%s' has unknown dtype \"%.64s\"", path,
                        name, jd->valuestring);

    int ndim = cJSON_GetArraySize(js);
    if (ndim > VOX_MAX_DIMS)
        return vox_fail(err, VOX_E_UNSUPPORTED,
                        "%s: tensor '%s' has %d dimensions; at most %d are supported", path, name,
                        ndim, VOX_MAX_DIMS);
    t->ndim = ndim;
    uint64_t numel = 1;
    int d = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, js) {
        uint64_t v;
        if (!json_uint(it, &v))
            return vox_fail(err, VOX_E_FORMAT,
                            "%s: tensor '%s' has a shape entry that is not a non-negative integer",
                            path, name);
        t->shape[d++] = (int64_t)v;
        if (v != 0 && numel > UINT64_MAX / v)
            return vox_fail(err, VOX_E_FORMAT, "%s: tensor '%s' has an absurd shape", path, name);
        numel *= v;
    }
    for (; d < VOX_MAX_DIMS; d++) t->shape[d] = 0;

    uint64_t begin, end;
    if (!json_uint(cJSON_GetArrayItem(jo, 0), &begin) || !json_uint(cJSON_GetArrayItem(jo, 1), &end))
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: tensor '%s' has data_offsets that are not non-negative integers", path,
                        name);
    if (begin > end || end > data_size)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: tensor '%s' has data_offsets [%llu, %llu] outside the data section "
                        "(%llu bytes; file truncated?)",
                        path, name, (unsigned long long)begin, (unsigned long long)end,
                        (unsigned long long)data_size);
    size_t es = st_elem_size(t->dtype);
    if (numel > UINT64_MAX / es || numel * es != end - begin) {
        char sb[128];
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: tensor '%s' %s %s needs %llu bytes but data_offsets [%llu, %llu] hold "
                        "%llu",
                        path, name, vox_dtype_name(t->dtype), fmt_shape(sb, sizeof sb, ndim, t->shape),
                        (unsigned long long)(numel > UINT64_MAX / es ? UINT64_MAX : numel * es),
                        (unsigned long long)begin, (unsigned long long)end,
                        (unsigned long long)(end - begin));
    }
    t->nbytes = (size_t)(end - begin);
    const unsigned char *p = data + begin;
    if (((uintptr_t)p % es) != 0 && t->nbytes > 0) {
        /* The format does not require alignment; keep views aligned for the kernels. */
        void *copy = malloc(t->nbytes);
        if (!copy)
            return vox_fail(err, VOX_E_NOMEM, "%s: out of memory realigning tensor '%s'", path,
                            name);
        memcpy(copy, p, t->nbytes);
        st->owned[i] = copy;
        p = copy;
    }
    t->data = p;
    return VOX_OK;
}

static int parse_header(vox_safetensors *st, const char *json, size_t hlen,
                        const unsigned char *data, uint64_t data_size, vox_error *err) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, hlen, &end, 0);
    if (!root) {
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        return vox_fail(err, VOX_E_FORMAT, "%s: header is not valid JSON (near byte %zu of %zu)",
                        st->path, at, hlen);
    }
    /* Only whitespace (the writer's padding) may follow the JSON value. */
    for (const char *q = end; q < json + hlen; q++) {
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            cJSON_Delete(root);
            return vox_fail(err, VOX_E_FORMAT, "%s: garbage after the JSON header (byte %zu)",
                            st->path, (size_t)(q - json));
        }
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return vox_fail(err, VOX_E_FORMAT, "%s: header is not a JSON object", st->path);
    }
    size_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") != 0) n++;
    }
    int rc = VOX_OK;
    st->names = calloc(n ? n : 1, sizeof *st->names);
    st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    st->owned = calloc(n ? n : 1, sizeof *st->owned);
    st->by_name = calloc(n ? n : 1, sizeof *st->by_name);
    size_t *tmp = calloc(n ? n : 1, sizeof *tmp);
    if (!st->names || !st->tensors || !st->owned || !st->by_name || !tmp) {
        rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory reading the header", st->path);
        goto done;
    }
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) continue;
        size_t i = st->n;
        st->names[i] = strdup(e->string);
        if (!st->names[i]) {
            rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory reading the header", st->path);
            goto done;
        }
        st->n++;
        rc = parse_entry(st, i, e, data, data_size, err);
        if (rc) goto done;
        st->by_name[i] = i;
    }
    sort_indices(st->by_name, tmp, st->n, cmp_name_idx, st->names);
    for (size_t i = 1; i < st->n; i++) {
        if (strcmp(st->names[st->by_name[i - 1]], st->names[st->by_name[i]]) == 0) {
            rc = vox_fail(err, VOX_E_FORMAT, "%s: tensor '%s' appears twice in the header",
                          st->path, st->names[st->by_name[i]]);
            goto done;
        }
    }
done:
    free(tmp);
    cJSON_Delete(root);
    return rc;
}

int vox_safetensors_open(const char *path, vox_safetensors **out, vox_error *err) {
    if (!out) return vox_fail(err, VOX_E_ARG, "vox_safetensors_open: out is NULL");
    *out = NULL;
    if (!path) return vox_fail(err, VOX_E_ARG, "vox_safetensors_open: path is NULL");
    vox_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return vox_fail(err, VOX_E_NOMEM, "%s: out of memory", path);
    }
    int rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = vox_fail(err, VOX_E_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = vox_fail(err, VOX_E_IO, "%s: not a regular file", path);
        close(fd);
        goto fail;
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8) {
        close(fd);
        rc = vox_fail(err, VOX_E_FORMAT,
                      "%s: file is %llu bytes, too short for a safetensors header length", path,
                      (unsigned long long)size);
        goto fail;
    }
    if (size > SIZE_MAX) {
        close(fd);
        rc = vox_fail(err, VOX_E_UNSUPPORTED, "%s: file too large to map", path);
        goto fail;
    }
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED) {
        rc = vox_fail(err, VOX_E_IO, "%s: cannot mmap: %s", path, strerror(map_errno));
        goto fail;
    }
    st->map = map;
    st->map_size = (size_t)size;

    const unsigned char *bytes = map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | bytes[i];
    if (hlen > size - 8) {
        rc = vox_fail(err, VOX_E_FORMAT,
                      "%s: header length %llu runs past the end of the file (%llu bytes; "
                      "truncated or not a safetensors file)",
                      path, (unsigned long long)hlen, (unsigned long long)size);
        goto fail;
    }
    if (hlen > ST_MAX_HEADER || hlen < 2) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: implausible header length %llu", path,
                      (unsigned long long)hlen);
        goto fail;
    }
    rc = parse_header(st, (const char *)bytes + 8, (size_t)hlen, bytes + 8 + hlen,
                      size - 8 - hlen, err);
    if (rc) goto fail;
    *out = st;
    return VOX_OK;
fail:
    vox_safetensors_close(st);
    return rc;
}

size_t vox_safetensors_count(const vox_safetensors *st) { return st ? st->n : 0; }

const char *vox_safetensors_name(const vox_safetensors *st, size_t i) {
    return st && i < st->n ? st->names[i] : NULL;
}

const char *vox_safetensors_path(const vox_safetensors *st) { return st ? st->path : NULL; }

const vox_tensor *vox_safetensors_find(const vox_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        size_t i = st->by_name[mid];
        int c = strcmp(name, st->names[i]);
        if (c == 0) return &st->tensors[i];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

int vox_safetensors_expect(const vox_safetensors *st, const char *name, int ndim,
                           const int64_t *shape, const vox_tensor **out, vox_error *err) {
    if (out) *out = NULL;
    if (!st || !name || ndim < 0 || ndim > VOX_MAX_DIMS || (ndim > 0 && !shape))
        return vox_fail(err, VOX_E_ARG, "vox_safetensors_expect: bad arguments for tensor '%s'",
                        name ? name : "(null)");
    const vox_tensor *t = vox_safetensors_find(st, name);
    if (!t) return vox_fail(err, VOX_E_MISSING, "%s: missing tensor '%s'", st->path, name);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char a[128], b[128];
        return vox_fail(err, VOX_E_SHAPE, "%s: tensor '%s' has shape %s, expected %s", st->path,
                        name, fmt_shape(a, sizeof a, t->ndim, t->shape),
                        fmt_shape(b, sizeof b, ndim, shape));
    }
    if (out) *out = t;
    return VOX_OK;
}

/* ---- writer --------------------------------------------------------------- */

typedef vox_strbuf strbuf;

static void sb_put(strbuf *b, const char *s, size_t n) { vox_strbuf_put(b, s, n); }

static void sb_str(strbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_u64(strbuf *b, uint64_t v) {
    char tmp[32];
    int k = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    sb_put(b, tmp, (size_t)k);
}

/* A JSON string literal (names are UTF-8; only quotes, backslashes and control
 * characters need escaping). */
static void sb_json_string(strbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            sb_put(b, e, 2);
        } else if (*p < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", *p);
            sb_put(b, e, 6);
        } else {
            sb_put(b, (const char *)p, 1);
        }
    }
    sb_put(b, "\"", 1);
}


/* Wider elements first, input order otherwise: keeps every tensor aligned. */
static int cmp_width_idx(const void *a, const void *b, void *ctx) {
    const vox_tensor *t = ctx;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    size_t wa = st_elem_size(t[ia].dtype), wb = st_elem_size(t[ib].dtype);
    if (wa != wb) return wa > wb ? -1 : 1;
    return ia < ib ? -1 : ia > ib;
}

static int st_write(const char *path, size_t n, const char *const *names,
                    const vox_tensor *tensors, vox_safetensors_fill_fn fill, void *user,
                    vox_error *err) {
    if (!path) return vox_fail(err, VOX_E_ARG, "vox_safetensors_write: path is NULL");
    if (n > 0 && (!names || !tensors))
        return vox_fail(err, VOX_E_ARG, "%s: names or tensors is NULL", path);
    int rc = VOX_OK;
    size_t *order = calloc(n ? n : 1, sizeof *order);
    size_t *tmp = calloc(n ? n : 1, sizeof *tmp);
    uint64_t *bytes = calloc(n ? n : 1, sizeof *bytes);
    strbuf hdr = {0};
    void *chunk = NULL;
    vox_atomic_file af = {0};
    if (!order || !tmp || !bytes) {
        rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t max_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const vox_tensor *t = &tensors[i];
        const char *name = names[i];
        if (!name || !*name || strcmp(name, "__metadata__") == 0) {
            rc = vox_fail(err, VOX_E_ARG, "%s: tensor %zu has an invalid name", path, i);
            goto done;
        }
        if (t->dtype != VOX_F32 && t->dtype != VOX_BF16 && t->dtype != VOX_F16) {
            rc = vox_fail(err, VOX_E_ARG, "%s: tensor '%s': cannot write dtype %s to safetensors",
                          path, name, vox_dtype_name(t->dtype));
            goto done;
        }
        if (t->ndim < 0 || t->ndim > VOX_MAX_DIMS) {
            rc = vox_fail(err, VOX_E_ARG, "%s: tensor '%s' has %d dimensions", path, name, t->ndim);
            goto done;
        }
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            uint64_t v = (uint64_t)t->shape[d];
            if (t->shape[d] < 0 || (v && numel > (UINT64_MAX / 8) / v)) {
                rc = vox_fail(err, VOX_E_ARG, "%s: tensor '%s' has an invalid shape", path, name);
                goto done;
            }
            numel *= v;
        }
        bytes[i] = numel * st_elem_size(t->dtype);
        if (bytes[i] > SIZE_MAX) {
            rc = vox_fail(err, VOX_E_ARG, "%s: tensor '%s' is too large", path, name);
            goto done;
        }
        if (!fill && (t->nbytes != bytes[i] || (bytes[i] && !t->data))) {
            rc = vox_fail(err, VOX_E_ARG,
                          "%s: tensor '%s' holds %zu bytes of data, its shape needs %llu", path,
                          name, t->data ? t->nbytes : 0, (unsigned long long)bytes[i]);
            goto done;
        }
        if (bytes[i] > max_bytes) max_bytes = (size_t)bytes[i];
        order[i] = i;
    }
    sort_indices(order, tmp, n, cmp_name_idx, (void *)names);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(names[order[i - 1]], names[order[i]]) == 0) {
            rc = vox_fail(err, VOX_E_ARG, "%s: tensor name '%s' given twice", path, names[order[i]]);
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) order[i] = i;
    sort_indices(order, tmp, n, cmp_width_idx, (void *)tensors);

    /* Header, in data order. */
    uint64_t off = 0;
    sb_str(&hdr, "{");
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        const vox_tensor *t = &tensors[i];
        if (k) sb_str(&hdr, ",");
        sb_json_string(&hdr, names[i]);
        sb_str(&hdr, ":{\"dtype\":\"");
        sb_str(&hdr, vox_dtype_name(t->dtype));
        sb_str(&hdr, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) sb_str(&hdr, ",");
            sb_u64(&hdr, (uint64_t)t->shape[d]);
        }
        sb_str(&hdr, "],\"data_offsets\":[");
        sb_u64(&hdr, off);
        sb_str(&hdr, ",");
        sb_u64(&hdr, off + bytes[i]);
        sb_str(&hdr, "]}");
        off += bytes[i];
    }
    sb_str(&hdr, "}");
    while (!hdr.oom && hdr.len % 8 != 0) sb_str(&hdr, " ");
    if (hdr.oom) {
        rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory building the header", path);
        goto done;
    }

    if (fill && max_bytes > 0) {
        size_t cs = max_bytes < VOX_SAFETENSORS_CHUNK ? max_bytes : VOX_SAFETENSORS_CHUNK;
        chunk = malloc(cs);
        if (!chunk) {
            rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory for the write buffer", path);
            goto done;
        }
    }
    rc = vox_atomic_open(&af, path, err);
    if (rc) goto done;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hdr.len >> (8 * i));
    if (fwrite(len8, 1, 8, af.f) != 8 || fwrite(hdr.p, 1, hdr.len, af.f) != hdr.len) {
        rc = vox_fail(err, VOX_E_IO, "%s: write failed: %s", path, strerror(errno));
        goto done;
    }
    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        size_t total = (size_t)bytes[i];
        if (!fill) {
            if (total && fwrite(tensors[i].data, 1, total, af.f) != total) {
                rc = vox_fail(err, VOX_E_IO, "%s: write failed in tensor '%s': %s", path,
                              names[i], strerror(errno));
                goto done;
            }
            continue;
        }
        for (size_t done_b = 0; done_b < total;) {
            size_t m = total - done_b < VOX_SAFETENSORS_CHUNK ? total - done_b : VOX_SAFETENSORS_CHUNK;
            int cr = fill(user, i, chunk, m);
            if (cr != 0) {
                rc = vox_fail(err, cr < 0 ? cr : VOX_E_CANCELLED,
                              "%s: writing tensor '%s' aborted by the data callback", path,
                              names[i]);
                goto done;
            }
            if (fwrite(chunk, 1, m, af.f) != m) {
                rc = vox_fail(err, VOX_E_IO, "%s: write failed in tensor '%s': %s", path,
                              names[i], strerror(errno));
                goto done;
            }
            done_b += m;
        }
    }
    rc = vox_atomic_commit(&af, path, err);
done:
    if (rc) vox_atomic_abort(&af);
    free(chunk);
    free(hdr.p);
    free(order);
    free(tmp);
    free(bytes);
    return rc;
}

int vox_safetensors_write_cb(const char *path, size_t n, const char *const *names,
                             const vox_tensor *tensors, vox_safetensors_fill_fn fill,
                             void *user, vox_error *err) {
    if (!fill) return vox_fail(err, VOX_E_ARG, "%s: no fill callback", path ? path : "(null)");
    return st_write(path, n, names, tensors, fill, user, err);
}

int vox_safetensors_write(const char *path, size_t n, const char *const *names,
                          const vox_tensor *tensors, vox_error *err) {
    /* Same engine; without a callback it fwrites straight from the views. */
    return st_write(path, n, names, tensors, NULL, NULL, err);
}
