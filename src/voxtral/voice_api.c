/* voice_api.c — include/voxtts.h's voices of one's own: making a voxtts_voice
 * from codes or a preset, loading (voxtts voice file or official-layout .pt),
 * saving, exporting (.pt, .npy), previewing its codes through the codec, and
 * the accessors.  Cloning from audio is in voice_clone.c.
 *
 * A voice with codes has its rows embedded by a model (vox_voice_rows_from_codes)
 * and records that model's fingerprint (fingerprint.c).  Loading it with another
 * model embeds the codes again with that model's table, so a voice made with
 * the BF16 checkpoint also serves its quantized GGUF; a voice without codes
 * (imported rows) is used as it is and must only have the model's width. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npy.h"
#include "base/sha256.h"
#include "io/torch_pt.h"
#include "voxtral/model.h"
#include "voxtral/voice_file.h"

static int arg_fail(voxtts_error *err, const char *fn, const char *what) {
    return vox_fail(err, VOX_E_ARG, "%s: %s", fn, what);
}

void voxtts_clone_params_default(voxtts_clone_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->name = "voice";
    p->seed = 42;
}

int voxtts_model_fingerprint(voxtts_model *m, char hex[65], voxtts_error *err) {
    if (!m || !hex) return arg_fail(err, "voxtts_model_fingerprint", "model and hex must not be NULL");
    uint8_t d[32];
    int rc = vox_model_fingerprint(m, d, err);
    if (!rc) vox_sha256_hex(d, hex);
    return rc;
}

int voxtts_sha256_file(const char *path, char hex[65], voxtts_error *err) {
    if (!path || !hex) return arg_fail(err, "voxtts_sha256_file", "path and hex must not be NULL");
    uint8_t d[32];
    int rc = vox_sha256_file(path, d, err);
    if (!rc) vox_sha256_hex(d, hex);
    return rc;
}

void voxtts_voice_free(voxtts_voice *v) {
    if (!v) return;
    free(v->codes);
    free(v->rows);
    free(v);
}

/* 1 when every value is exactly representable in BF16 (stored so without loss). */
static int rows_are_bf16(const float *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (vox_bf16_to_f32(vox_f32_to_bf16(r[i])) != r[i]) return 0;
    return 1;
}

/* Embed v's codes with m: rows, fingerprint and dim follow m.  `where` names the
 * voice in messages. */
static int embed_codes(voxtts_model *m, voxtts_voice *v, const char *where, vox_error *err) {
    if (v->info.n_codebooks != m->cfg.n_codebooks)
        return vox_fail(err, VOX_E_SHAPE, "%s: the voice has %d codes per frame but the model %d",
                        where, v->info.n_codebooks, m->cfg.n_codebooks);
    float *rows = NULL;
    int rc = vox_voice_rows_from_codes(m, v->codes, v->info.n_frames, &rows, err);
    if (rc) return vox_error_prefix(err, "%s", where), rc;
    uint8_t fp[32];
    if ((rc = vox_model_fingerprint(m, fp, err))) {
        free(rows);
        return rc;
    }
    free(v->rows);
    v->rows = rows;
    v->rows_bf16 = 0;
    v->info.n_rows = v->info.n_frames + 1;
    v->info.dim = m->cfg.llm.dim;
    vox_sha256_hex(fp, v->info.model_fingerprint);
    vox_voice_key(v);
    return VOX_OK;
}

int voxtts_voice_from_codes(voxtts_model *m, const int32_t *codes, int n_frames, const char *name,
                            voxtts_voice **out, voxtts_error *err) {
    if (out) *out = NULL;
    if (!m || !codes || !out)
        return arg_fail(err, "voxtts_voice_from_codes", "model, codes and out must not be NULL");
    if (n_frames < 1 || n_frames > VOX_VOICE_MAX_FRAMES)
        return vox_fail(err, VOX_E_ARG, "voxtts_voice_from_codes: %d frames (1..%d)", n_frames,
                        VOX_VOICE_MAX_FRAMES);
    voxtts_voice *v;
    int rc = vox_voice_new(name ? name : "voice", "codes", &v, err);
    if (rc) return rc;
    const size_t n = (size_t)n_frames * (size_t)m->cfg.n_codebooks;
    if (!(v->codes = malloc(n * sizeof *v->codes))) {
        voxtts_voice_free(v);
        return vox_fail(err, VOX_E_NOMEM, "out of memory");
    }
    memcpy(v->codes, codes, n * sizeof *v->codes);
    v->info.n_frames = n_frames;
    v->info.n_codebooks = m->cfg.n_codebooks;
    v->info.duration_s = (double)n_frames * voxtts_model_samples_per_frame(m) /
                         voxtts_model_sample_rate(m);
    if ((rc = embed_codes(m, v, "voxtts_voice_from_codes", err))) {
        voxtts_voice_free(v);
        return rc;
    }
    *out = v;
    return VOX_OK;
}

/* A rows-only voice taking ownership of rows [n][dim]. */
static int voice_from_rows(const char *name, const char *method, float *rows, int n, int dim,
                           voxtts_voice **out, vox_error *err) {
    voxtts_voice *v;
    int rc = vox_voice_new(name, method, &v, err);
    if (rc) {
        free(rows);
        return rc;
    }
    v->rows = rows;
    v->info.n_rows = n;
    v->info.dim = dim;
    v->rows_bf16 = rows_are_bf16(rows, (size_t)n * (size_t)dim);
    vox_voice_key(v);
    *out = v;
    return VOX_OK;
}

int voxtts_voice_from_preset(voxtts_model *m, const char *preset, voxtts_voice **out,
                             voxtts_error *err) {
    if (out) *out = NULL;
    if (!m || !out) return arg_fail(err, "voxtts_voice_from_preset", "model and out must not be NULL");
    int idx, rc = vox_voice_lookup(m, preset, &idx, err);
    if (rc) return rc;
    vox_voice_sel sel;
    if ((rc = vox_voice_select_preset(m, idx, &sel, err))) return rc;
    const size_t n = (size_t)sel.n * (size_t)m->cfg.llm.dim;
    float *rows = malloc(n * sizeof *rows);
    if (!rows) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    memcpy(rows, sel.rows, n * sizeof *rows);
    /* preset names are params.json keys; one that is not a valid voice name is
     * saved as "preset" */
    const char *name = voxtts_voice_name_valid(sel.name) ? sel.name : "preset";
    return voice_from_rows(name, "preset", rows, sel.n, m->cfg.llm.dim, out, err);
}

/* Name for a voice imported from `path`: its base name without the extension. */
static void name_from_path(const char *path, char *name, size_t cap) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(name, cap, "%s", b);
    char *dot = strrchr(name, '.');
    if (dot && dot != name) *dot = '\0';
    if (!voxtts_voice_name_valid(name)) snprintf(name, cap, "imported");
}

/* What a file starts like: 1 a zip archive (torch.save), 2 a .npy array, 0 else. */
static int file_kind(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char b[6];
    int ok = fread(b, 1, 6, f) == 6;
    fclose(f);
    if (ok && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4) return 1;
    if (ok && memcmp(b, "\x93NUMPY", 6) == 0) return 2;
    return 0;
}

/* A voice from an int32 .npy of offset codes [T, n_codebooks] (needs the model). */
static int voice_from_npy(voxtts_model *m, const char *path, voxtts_voice **out, vox_error *err) {
    if (!m)
        return vox_fail(err, VOX_E_ARG, "%s: a voice from codes (.npy) needs a model to embed them",
                        path);
    vox_npy a;
    memset(&a, 0, sizeof a);
    int rc = vox_npy_read(path, &a, err);
    if (rc) return rc;
    if (a.type != VOX_NPY_I32 || a.ndim != 2 || a.shape[1] != m->cfg.n_codebooks ||
        a.shape[0] < 1 || a.shape[0] > VOX_VOICE_MAX_FRAMES) {
        vox_npy_free(&a);
        return vox_fail(err, VOX_E_SHAPE, "%s: voice codes must be int32 [T, %d] (1 <= T <= %d)",
                        path, m->cfg.n_codebooks, VOX_VOICE_MAX_FRAMES);
    }
    char name[65];
    name_from_path(path, name, sizeof name);
    rc = voxtts_voice_from_codes(m, a.data, (int)a.shape[0], name, out, err);
    vox_npy_free(&a);
    if (rc) return vox_error_prefix(err, "%s", path), rc;
    return VOX_OK;
}

int voxtts_voice_load(voxtts_model *m, const char *path, voxtts_voice **out, voxtts_error *err) {
    if (out) *out = NULL;
    if (!path || !*path || !out)
        return arg_fail(err, "voxtts_voice_load", "path and out must not be NULL or empty");
    voxtts_voice *v = NULL;
    int rc;
    const int kind = file_kind(path);
    if (kind == 2) return voice_from_npy(m, path, out, err);
    if (kind == 0) { /* a voice file, or an error about one */
        if ((rc = vox_voice_file_read(path, &v, err))) return rc;
    } else {
        vox_pt_tensor t;
        memset(&t, 0, sizeof t);
        if ((rc = vox_pt_load_tensor(path, &t, err))) return rc;
        if (t.ndim != 2 || t.shape[0] < 1 || t.shape[0] > VOX_VOICE_MAX_FRAMES || t.shape[1] < 1 ||
            t.shape[1] > VOX_VOICE_MAX_DIM) {
            vox_pt_tensor_free(&t);
            return vox_fail(err, VOX_E_SHAPE, "%s: a voice tensor must be [N, dim]", path);
        }
        if (!vox_voice_rows_finite(t.data, (size_t)(t.shape[0] * t.shape[1]))) {
            vox_pt_tensor_free(&t);
            return vox_fail(err, VOX_E_FORMAT, "%s: the voice holds NaN or infinite values", path);
        }
        char name[65];
        name_from_path(path, name, sizeof name);
        rc = voice_from_rows(name, "imported", t.data, (int)t.shape[0], (int)t.shape[1], &v, err);
        t.data = NULL;
        vox_pt_tensor_free(&t);
        if (rc) return rc;
        snprintf(v->info.source, sizeof v->info.source, "%s", name);
    }
    if (m) {
        if (v->info.n_frames > 0) {
            char hex[65] = "";
            uint8_t fp[32];
            if ((rc = vox_model_fingerprint(m, fp, err))) goto fail;
            vox_sha256_hex(fp, hex);
            if (strcmp(hex, v->info.model_fingerprint) != 0 || v->info.dim != m->cfg.llm.dim)
                if ((rc = embed_codes(m, v, path, err))) goto fail;
        } else if (v->info.dim != m->cfg.llm.dim) {
            rc = vox_fail(err, VOX_E_SHAPE,
                          "%s: voice rows are %d wide but the model's dim is %d (params.json)", path,
                          v->info.dim, m->cfg.llm.dim);
            goto fail;
        }
    }
    *out = v;
    return VOX_OK;
fail:
    voxtts_voice_free(v);
    return rc;
}

int voxtts_voice_save(const voxtts_voice *v, const char *path, voxtts_error *err) {
    if (!v || !path || !*path)
        return arg_fail(err, "voxtts_voice_save", "voice and path must not be NULL or empty");
    return vox_voice_file_write(path, v, err);
}

int voxtts_voice_export_pt(const voxtts_voice *v, const char *path, voxtts_error *err) {
    if (!v || !path || !*path)
        return arg_fail(err, "voxtts_voice_export_pt", "voice and path must not be NULL or empty");
    const size_t n = (size_t)v->info.n_rows * (size_t)v->info.dim;
    uint16_t *b = malloc(n * sizeof *b);
    if (!b) return vox_fail(err, VOX_E_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) b[i] = vox_f32_to_bf16(v->rows[i]);
    int rc = vox_pt_write_bf16(path, "voice_embed", v->info.n_rows, v->info.dim, b, err);
    free(b);
    return rc;
}

int voxtts_voice_export_npy(const voxtts_voice *v, const char *codes_path, const char *rows_path,
                            voxtts_error *err) {
    if (!v) return arg_fail(err, "voxtts_voice_export_npy", "voice is NULL");
    int rc = VOX_OK;
    if (codes_path) {
        if (!v->codes)
            return vox_fail(err, VOX_E_ARG, "%s: voice '%s' has no codes (method %s)", codes_path,
                            v->info.name, v->info.method);
        int64_t shape[2] = {v->info.n_frames, v->info.n_codebooks};
        if ((rc = vox_npy_write(codes_path, VOX_NPY_I32, 2, shape, v->codes, err))) return rc;
    }
    if (rows_path) {
        int64_t shape[2] = {v->info.n_rows, v->info.dim};
        rc = vox_npy_write(rows_path, VOX_NPY_F32, 2, shape, v->rows, err);
    }
    return rc;
}

int voxtts_voice_set_source(voxtts_voice *v, const char *path, double duration_s,
                            voxtts_error *err) {
    if (!v || !path) return arg_fail(err, "voxtts_voice_set_source", "voice and path must not be NULL");
    if (!(duration_s >= 0 && duration_s < 1e7))
        return arg_fail(err, "voxtts_voice_set_source", "duration out of range");
    uint8_t d[32];
    int rc = vox_sha256_file(path, d, err);
    if (rc) return rc;
    const char *b = strrchr(path, '/');
    snprintf(v->info.source, sizeof v->info.source, "%s", b ? b + 1 : path);
    vox_sha256_hex(d, v->info.source_sha256);
    v->info.duration_s = duration_s;
    return VOX_OK;
}

int voxtts_voice_set_name(voxtts_voice *v, const char *name, voxtts_error *err) {
    if (!v) return arg_fail(err, "voxtts_voice_set_name", "voice is NULL");
    if (!voxtts_voice_name_valid(name))
        return vox_fail(err, VOX_E_ARG,
                        "voice name '%.80s' is not valid (1 to 64 of A-Z a-z 0-9 _ . -, not "
                        "starting with '.')", name ? name : "(null)");
    snprintf(v->info.name, sizeof v->info.name, "%s", name);
    return VOX_OK;
}

const char *voxtts_voice_name(const voxtts_voice *v) { return v ? v->info.name : NULL; }
int voxtts_voice_n_frames(const voxtts_voice *v) { return v ? v->info.n_frames : 0; }
int voxtts_voice_n_rows(const voxtts_voice *v) { return v ? v->info.n_rows : 0; }
int voxtts_voice_dim(const voxtts_voice *v) { return v ? v->info.dim : 0; }
const int32_t *voxtts_voice_codes(const voxtts_voice *v) { return v ? v->codes : NULL; }
const float *voxtts_voice_rows(const voxtts_voice *v) { return v ? v->rows : NULL; }

int voxtts_voice_get_info(const voxtts_voice *v, voxtts_voice_info *out) {
    if (!v || !out) return VOXTTS_E_ARG;
    *out = v->info;
    return VOXTTS_OK;
}

int voxtts_voice_preview(voxtts_model *m, const voxtts_voice *v, voxtts_audio *out,
                         voxtts_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!m || !v || !out)
        return arg_fail(err, "voxtts_voice_preview", "model, voice and out must not be NULL");
    if (!v->codes)
        return vox_fail(err, VOX_E_ARG,
                        "voice '%s' has no codes to decode (method %s: rows only)", v->info.name,
                        v->info.method);
    if (v->info.n_codebooks != m->cfg.n_codebooks)
        return vox_fail(err, VOX_E_SHAPE, "voice '%s' has %d codes per frame but the model %d",
                        v->info.name, v->info.n_codebooks, m->cfg.n_codebooks);
    const int T = v->info.n_frames, K = v->info.n_codebooks;
    int rc = vox_check_codes(m, v->codes, T, 2, err);
    if (rc) return rc;
    const size_t ns = (size_t)T * (size_t)voxtts_model_samples_per_frame(m);
    float *wave = malloc(ns * sizeof *wave);
    int32_t *codes = malloc(sizeof(int32_t) * (size_t)T * K);
    if (!wave || !codes) {
        free(wave);
        free(codes);
        return vox_fail(err, VOX_E_NOMEM, "out of memory for %d frames", T);
    }
    memcpy(codes, v->codes, sizeof(int32_t) * (size_t)T * K);
    if ((rc = vox_codec_decode(m, codes, T, 0, 0, wave, err))) {
        free(wave);
        free(codes);
        return rc;
    }
    out->samples = wave;
    out->n_samples = ns;
    out->sample_rate = voxtts_model_sample_rate(m);
    out->n_frames = T;
    out->codes = codes;
    out->n_codebooks = K;
    return VOX_OK;
}
