/* voice_file.c — the voxtts voice file (".voxv"), our own format for voices of
 * one's own (docs/VOICE_FORMAT.md has the same description for users).
 *
 * Layout, every number little-endian:
 *
 *   offset  size  field
 *   0       4     magic "VOXV"
 *   4       4     u32 version (1)
 *   8       4     u32 header size (64)
 *   12      4     u32 rows dtype: 0 = float32, 1 = bfloat16
 *   16      4     u32 T   frames of codes (0: a voice with rows only)
 *   20      4     u32 K   codes per frame (n_codebooks; 0 when T = 0)
 *   24      4     u32 N   rows (T + 1 when T > 0: the frames and the END frame)
 *   28      4     u32 D   row width (the LLM dim)
 *   32      8     u64 J   bytes of JSON metadata
 *   40      8     u64 total file size
 *   48      16    reserved, zero
 *   64      J     JSON metadata (UTF-8), then zero bytes up to a multiple of 8
 *           4TK   int32 offset codes [T][K] (docs/MODEL.md §4)
 *           N·D·s rows [N][D], s = 4 (float32) or 2 (bfloat16)
 *   end-32  32    SHA-256 of every byte before it
 *
 * The JSON object: "format": "voxtts-voice", "name", "method" ("encoder",
 * "inversion", "codes", "imported", "preset"), "created" (UTC ISO 8601),
 * "source": {"file", "sha256"}, "duration_s", "iterations", "final_loss",
 * "model": {"fingerprint", "dim", "n_codebooks"}.  The reader checks the magic,
 * version, header size, every size against the others and against the file's
 * length (truncation and trailing bytes), the checksum, the JSON (required
 * keys, dim and n_codebooks equal to the header's), codes >= 0 and every row
 * finite, and names the file in every error.  The writer replaces the target
 * atomically. */
#include "voxtral/voice_file.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/atomic_file.h"
#include "base/sha256.h"
#include "tensor/tensor.h"

static const char *const k_methods[] = {"encoder", "inversion", "codes", "imported", "preset"};

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p) {
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}
static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int voxtts_voice_name_valid(const char *name) {
    if (!name || !*name || name[0] == '.' || strlen(name) > 64) return 0;
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.') return 0;
    return 1;
}

static int method_valid(const char *m) {
    for (size_t i = 0; i < sizeof k_methods / sizeof *k_methods; i++)
        if (strcmp(m, k_methods[i]) == 0) return 1;
    return 0;
}

int vox_voice_new(const char *name, const char *method, voxtts_voice **out, vox_error *err) {
    *out = NULL;
    if (!voxtts_voice_name_valid(name))
        return vox_fail(err, VOX_E_ARG,
                        "voice name '%.80s' is not valid (1 to 64 of A-Z a-z 0-9 _ . -, not "
                        "starting with '.')", name ? name : "(null)");
    voxtts_voice *v = calloc(1, sizeof *v);
    if (!v) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    snprintf(v->info.name, sizeof v->info.name, "%s", name);
    snprintf(v->info.method, sizeof v->info.method, "%s", method);
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm))
        strftime(v->info.created, sizeof v->info.created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    *out = v;
    return VOX_OK;
}

void vox_voice_key(voxtts_voice *v) {
    vox_sha256_ctx s;
    vox_sha256_init(&s);
    unsigned char hdr[8];
    put32(hdr, (uint32_t)v->info.n_rows);
    put32(hdr + 4, (uint32_t)v->info.dim);
    vox_sha256_update(&s, hdr, sizeof hdr);
    const size_t n = (size_t)v->info.n_rows * (size_t)v->info.dim;
    unsigned char buf[4096];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        put32(buf + k, f32_bits(v->rows[i]));
        if ((k += 4) == sizeof buf) {
            vox_sha256_update(&s, buf, k);
            k = 0;
        }
    }
    vox_sha256_update(&s, buf, k);
    vox_sha256_final(&s, v->key);
}

int vox_voice_rows_finite(const float *rows, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(rows[i])) return 0;
    return 1;
}

/* The metadata object of v (NULL when out of memory). */
static cJSON *meta_json(const voxtts_voice *v) {
    const voxtts_voice_info *in = &v->info;
    cJSON *o = cJSON_CreateObject(), *src = NULL, *model = NULL;
    if (!o) return NULL;
    int ok = cJSON_AddStringToObject(o, "format", "voxtts-voice") &&
             cJSON_AddStringToObject(o, "name", in->name) &&
             cJSON_AddStringToObject(o, "method", in->method) &&
             cJSON_AddStringToObject(o, "created", in->created) &&
             (src = cJSON_AddObjectToObject(o, "source")) &&
             cJSON_AddStringToObject(src, "file", in->source) &&
             cJSON_AddStringToObject(src, "sha256", in->source_sha256) &&
             cJSON_AddNumberToObject(o, "duration_s", in->duration_s) &&
             cJSON_AddNumberToObject(o, "iterations", in->iterations) &&
             cJSON_AddNumberToObject(o, "final_loss", isfinite(in->final_loss) ? in->final_loss : 0) &&
             (model = cJSON_AddObjectToObject(o, "model")) &&
             cJSON_AddStringToObject(model, "fingerprint", in->model_fingerprint) &&
             cJSON_AddNumberToObject(model, "dim", in->dim) &&
             cJSON_AddNumberToObject(model, "n_codebooks", in->n_codebooks);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int vox_voice_file_write(const char *path, const voxtts_voice *v, vox_error *err) {
    const voxtts_voice_info *in = &v->info;
    const uint64_t T = (uint64_t)in->n_frames, K = (uint64_t)in->n_codebooks;
    const uint64_t N = (uint64_t)in->n_rows, D = (uint64_t)in->dim;
    if (N < 1 || D < 1 || (T > 0 && (N != T + 1 || K < 1 || !v->codes)) || (T == 0 && K != 0) ||
        !v->rows)
        return vox_fail(err, VOX_E_ARG, "%s: inconsistent voice (T %llu, K %llu, N %llu, D %llu)",
                        path, (unsigned long long)T, (unsigned long long)K,
                        (unsigned long long)N, (unsigned long long)D);
    cJSON *o = meta_json(v);
    char *json = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!json) return vox_fail(err, VOX_E_NOMEM, "%s: out of memory for the metadata", path);
    const uint64_t J = strlen(json), pad = (8 - J % 8) % 8;
    const uint64_t es = v->rows_bf16 ? 2 : 4;
    const uint64_t total = VOX_VOICE_HEADER_BYTES + J + pad + 4 * T * K + N * D * es +
                           VOX_VOICE_TRAILER_BYTES;
    unsigned char *buf = calloc(1, (size_t)total);
    if (!buf) {
        free(json);
        return vox_fail(err, VOX_E_NOMEM, "%s: out of memory (%llu bytes)", path,
                        (unsigned long long)total);
    }
    memcpy(buf, VOX_VOICE_MAGIC, 4);
    put32(buf + 4, VOX_VOICE_VERSION);
    put32(buf + 8, VOX_VOICE_HEADER_BYTES);
    put32(buf + 12, v->rows_bf16 ? VOX_VOICE_ROWS_BF16 : VOX_VOICE_ROWS_F32);
    put32(buf + 16, (uint32_t)T);
    put32(buf + 20, (uint32_t)K);
    put32(buf + 24, (uint32_t)N);
    put32(buf + 28, (uint32_t)D);
    put64(buf + 32, J);
    put64(buf + 40, total);
    unsigned char *p = buf + VOX_VOICE_HEADER_BYTES;
    memcpy(p, json, (size_t)J);
    free(json);
    p += J + pad;
    for (uint64_t i = 0; i < T * K; i++, p += 4) put32(p, (uint32_t)v->codes[i]);
    for (uint64_t i = 0; i < N * D; i++) {
        if (es == 2) {
            uint16_t h = vox_f32_to_bf16(v->rows[i]);
            p[0] = (unsigned char)h;
            p[1] = (unsigned char)(h >> 8);
            p += 2;
        } else {
            put32(p, f32_bits(v->rows[i]));
            p += 4;
        }
    }
    vox_sha256(buf, (size_t)(total - VOX_VOICE_TRAILER_BYTES), p);
    vox_atomic_file af;
    int rc = vox_atomic_open(&af, path, err);
    if (!rc) {
        if (fwrite(buf, 1, (size_t)total, af.f) != (size_t)total) {
            int e = errno;
            vox_atomic_abort(&af);
            rc = vox_fail(err, VOX_E_IO, "%s: write failed: %s", path, strerror(e));
        } else {
            rc = vox_atomic_commit(&af, path, err);
        }
    }
    free(buf);
    return rc;
}

/* A string member of o copied into dst (cap bytes); missing -> "" unless required. */
static int json_str(const char *path, const cJSON *o, const char *key, int required, char *dst,
                    size_t cap, vox_error *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it) {
        dst[0] = '\0';
        return required ? vox_fail(err, VOX_E_FORMAT, "%s: metadata has no \"%s\"", path, key)
                        : VOX_OK;
    }
    if (!cJSON_IsString(it) || strlen(it->valuestring) >= cap)
        return vox_fail(err, VOX_E_FORMAT, "%s: metadata \"%s\" is not a string of at most %zu bytes",
                        path, key, cap - 1);
    memcpy(dst, it->valuestring, strlen(it->valuestring) + 1);
    return VOX_OK;
}

static int json_num(const char *path, const cJSON *o, const char *key, double lo, double hi,
                    double *out, vox_error *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it) {
        *out = 0;
        return VOX_OK;
    }
    if (!cJSON_IsNumber(it) || !(it->valuedouble >= lo && it->valuedouble <= hi))
        return vox_fail(err, VOX_E_FORMAT, "%s: metadata \"%s\" is not a number in [%g, %g]", path,
                        key, lo, hi);
    *out = it->valuedouble;
    return VOX_OK;
}

static int is_hex64_or_empty(const char *s) {
    size_t n = strlen(s);
    if (n == 0) return 1;
    if (n != 64) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) return 0;
    return 1;
}

static int parse_meta(const char *path, const char *json, size_t J, voxtts_voice *v,
                      vox_error *err) {
    cJSON *o = cJSON_ParseWithLength(json, J);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return vox_fail(err, VOX_E_FORMAT, "%s: metadata is not a JSON object", path);
    }
    voxtts_voice_info *in = &v->info;
    char fmt[32];
    double d;
    const cJSON *src, *model;
    int rc = json_str(path, o, "format", 1, fmt, sizeof fmt, err);
    if (!rc && strcmp(fmt, "voxtts-voice") != 0)
        rc = vox_fail(err, VOX_E_FORMAT, "%s: metadata format is \"%s\", not \"voxtts-voice\"",
                      path, fmt);
    if (!rc) rc = json_str(path, o, "name", 1, in->name, sizeof in->name, err);
    if (!rc && !voxtts_voice_name_valid(in->name))
        rc = vox_fail(err, VOX_E_FORMAT, "%s: voice name '%s' is not valid", path, in->name);
    if (!rc) rc = json_str(path, o, "method", 1, in->method, sizeof in->method, err);
    if (!rc && !method_valid(in->method))
        rc = vox_fail(err, VOX_E_FORMAT, "%s: unknown method \"%s\"", path, in->method);
    if (!rc) rc = json_str(path, o, "created", 1, in->created, sizeof in->created, err);
    if (!rc && (src = cJSON_GetObjectItemCaseSensitive(o, "source")) != NULL) {
        if (!cJSON_IsObject(src))
            rc = vox_fail(err, VOX_E_FORMAT, "%s: metadata \"source\" is not an object", path);
        if (!rc) rc = json_str(path, src, "file", 0, in->source, sizeof in->source, err);
        if (!rc) rc = json_str(path, src, "sha256", 0, in->source_sha256, sizeof in->source_sha256, err);
        if (!rc && !is_hex64_or_empty(in->source_sha256))
            rc = vox_fail(err, VOX_E_FORMAT, "%s: source sha256 is not 64 lowercase hex digits", path);
    }
    if (!rc) rc = json_num(path, o, "duration_s", 0, 1e7, &in->duration_s, err);
    if (!rc && !(rc = json_num(path, o, "iterations", 0, 1e9, &d, err))) in->iterations = (int)d;
    if (!rc && !(rc = json_num(path, o, "final_loss", -1e30, 1e30, &d, err))) in->final_loss = (float)d;
    if (!rc) {
        model = cJSON_GetObjectItemCaseSensitive(o, "model");
        if (!cJSON_IsObject(model)) {
            rc = vox_fail(err, VOX_E_FORMAT, "%s: metadata has no \"model\" object", path);
        } else {
            rc = json_str(path, model, "fingerprint", 1, in->model_fingerprint,
                          sizeof in->model_fingerprint, err);
            if (!rc && !is_hex64_or_empty(in->model_fingerprint))
                rc = vox_fail(err, VOX_E_FORMAT, "%s: model fingerprint is not 64 lowercase hex digits",
                              path);
            const cJSON *dim = cJSON_GetObjectItemCaseSensitive(model, "dim");
            const cJSON *ncb = cJSON_GetObjectItemCaseSensitive(model, "n_codebooks");
            if (!rc && (!cJSON_IsNumber(dim) || dim->valuedouble != in->dim))
                rc = vox_fail(err, VOX_E_FORMAT, "%s: metadata model.dim disagrees with the header's %d",
                              path, in->dim);
            if (!rc && (!cJSON_IsNumber(ncb) || ncb->valuedouble != in->n_codebooks))
                rc = vox_fail(err, VOX_E_FORMAT,
                              "%s: metadata model.n_codebooks disagrees with the header's %d", path,
                              in->n_codebooks);
        }
    }
    cJSON_Delete(o);
    return rc;
}

int vox_voice_file_read(const char *path, voxtts_voice **out, vox_error *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return vox_fail(err, VOX_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    unsigned char *buf = NULL;
    voxtts_voice *v = NULL;
    int rc = VOX_OK;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = vox_fail(err, VOX_E_IO, "%s: not a regular file", path);
        goto out;
    }
    const uint64_t size = (uint64_t)sb.st_size;
    if (size < VOX_VOICE_HEADER_BYTES + VOX_VOICE_TRAILER_BYTES) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: truncated voice file (%llu bytes, at least %u needed)",
                      path, (unsigned long long)size,
                      VOX_VOICE_HEADER_BYTES + VOX_VOICE_TRAILER_BYTES);
        goto out;
    }
    unsigned char h[VOX_VOICE_HEADER_BYTES];
    if (fread(h, 1, sizeof h, f) != sizeof h) {
        rc = vox_fail(err, VOX_E_IO, "%s: cannot read the header", path);
        goto out;
    }
    if (memcmp(h, VOX_VOICE_MAGIC, 4) != 0) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: not a voxtts voice file (no \"VOXV\" magic)", path);
        goto out;
    }
    const uint32_t version = get32(h + 4), hbytes = get32(h + 8), dtype = get32(h + 12);
    const uint64_t T = get32(h + 16), K = get32(h + 20), N = get32(h + 24), D = get32(h + 28);
    const uint64_t J = get64(h + 32), total = get64(h + 40);
    if (version != VOX_VOICE_VERSION) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: voice file version %u (this build reads version %u)",
                      path, version, VOX_VOICE_VERSION);
        goto out;
    }
    int reserved = 0;
    for (int i = 48; i < 64; i++) reserved |= h[i];
    if (hbytes != VOX_VOICE_HEADER_BYTES || reserved) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: bad header (size %u, reserved bytes not zero)", path,
                      hbytes);
        goto out;
    }
    if (dtype != VOX_VOICE_ROWS_F32 && dtype != VOX_VOICE_ROWS_BF16) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: unknown rows dtype %u (0 = float32, 1 = bfloat16)",
                      path, dtype);
        goto out;
    }
    if (T > VOX_VOICE_MAX_FRAMES || K > VOX_VOICE_MAX_CODEBOOKS || D < 1 || D > VOX_VOICE_MAX_DIM ||
        N < 1 || (T > 0 && (K < 1 || N != T + 1)) || (T == 0 && (K != 0 || N > VOX_VOICE_MAX_FRAMES)) ||
        J < 2 || J > VOX_VOICE_MAX_JSON) {
        rc = vox_fail(err, VOX_E_FORMAT,
                      "%s: inconsistent sizes: %llu frames x %llu codes, %llu rows x %llu, %llu bytes "
                      "of metadata (rows must be frames + 1, or frames 0 and codes 0)",
                      path, (unsigned long long)T, (unsigned long long)K, (unsigned long long)N,
                      (unsigned long long)D, (unsigned long long)J);
        goto out;
    }
    const uint64_t es = dtype == VOX_VOICE_ROWS_BF16 ? 2 : 4, pad = (8 - J % 8) % 8;
    const uint64_t expect = VOX_VOICE_HEADER_BYTES + J + pad + 4 * T * K + N * D * es +
                            VOX_VOICE_TRAILER_BYTES;
    if (total != expect) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: header says %llu bytes but its sizes make %llu", path,
                      (unsigned long long)total, (unsigned long long)expect);
        goto out;
    }
    if (size != expect) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: %s: %llu bytes, expected %llu", path,
                      size < expect ? "truncated voice file" : "trailing bytes after the voice",
                      (unsigned long long)size, (unsigned long long)expect);
        goto out;
    }
    if (!(buf = malloc((size_t)size))) {
        rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory (%llu bytes)", path,
                      (unsigned long long)size);
        goto out;
    }
    memcpy(buf, h, sizeof h);
    if (fread(buf + sizeof h, 1, (size_t)(size - sizeof h), f) != (size_t)(size - sizeof h)) {
        rc = vox_fail(err, VOX_E_IO, "%s: short read", path);
        goto out;
    }
    uint8_t digest[32];
    vox_sha256(buf, (size_t)(size - VOX_VOICE_TRAILER_BYTES), digest);
    if (memcmp(digest, buf + size - VOX_VOICE_TRAILER_BYTES, 32) != 0) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: checksum mismatch: the file is corrupted", path);
        goto out;
    }
    if (!(v = calloc(1, sizeof *v))) {
        rc = vox_fail(err, VOX_E_NOMEM, "out of memory");
        goto out;
    }
    v->info.n_frames = (int)T;
    v->info.n_codebooks = (int)K;
    v->info.n_rows = (int)N;
    v->info.dim = (int)D;
    v->rows_bf16 = es == 2;
    const unsigned char *p = buf + VOX_VOICE_HEADER_BYTES;
    if (memchr(p, 0, (size_t)J)) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: metadata contains a NUL byte", path);
        goto out;
    }
    if ((rc = parse_meta(path, (const char *)p, (size_t)J, v, err))) goto out;
    p += J + pad;
    if (T > 0) {
        if (!(v->codes = malloc(sizeof(int32_t) * (size_t)(T * K)))) {
            rc = vox_fail(err, VOX_E_NOMEM, "out of memory");
            goto out;
        }
        for (uint64_t i = 0; i < T * K; i++, p += 4) {
            int32_t c = (int32_t)get32(p);
            if (c < 0) {
                rc = vox_fail(err, VOX_E_FORMAT, "%s: negative code %d at frame %llu", path, (int)c,
                              (unsigned long long)(i / K));
                goto out;
            }
            v->codes[i] = c;
        }
    }
    if (!(v->rows = malloc(sizeof(float) * (size_t)(N * D)))) {
        rc = vox_fail(err, VOX_E_NOMEM, "out of memory for %llu rows", (unsigned long long)N);
        goto out;
    }
    for (uint64_t i = 0; i < N * D; i++) {
        float x = es == 2 ? vox_bf16_to_f32((uint16_t)(p[0] | p[1] << 8)) : bits_f32(get32(p));
        p += es;
        if (!isfinite(x)) {
            rc = vox_fail(err, VOX_E_FORMAT, "%s: row %llu holds a NaN or infinite value", path,
                          (unsigned long long)(i / D));
            goto out;
        }
        v->rows[i] = x;
    }
    vox_voice_key(v);
    *out = v;
    v = NULL;
out:
    if (v) voxtts_voice_free(v);
    free(buf);
    fclose(f);
    return rc;
}
