/* voice_codes.c — codes back from voice rows: each row of a voice made from codes
 * is a sum of one audio-embedding row per codebook (docs/MODEL.md §4), and the
 * preset voices are reported to be such sums of real reference clips (§1.4).
 * Given rows only (a preset, an imported .pt), find those codes so that the
 * reference can be decoded (voxtts voice preview) or exported as codes.
 *
 * Coordinate descent over the codebooks: start from all rows as residuals; for
 * codebook k pick, for every row at once, the entry j minimising
 * ||residual - E[off_k + j]||^2 = ||residual||^2 - 2 residual·E_j + ||E_j||^2
 * (one product of the residuals with that codebook's slice of the table, any
 * dtype, through the kernels), subtract it, go on to k+1; later passes first add
 * the current choice back.  Stops when a pass changes nothing (at most
 * VOX_CODES_MAX_PASSES).  The candidates include the specials EMPTY (0) and END
 * (1), so the END frame [1, 0, ..., 0] is found like any other.  The result is
 * checked exactly: the largest ||row - embed(codes)|| / ||row|| is reported,
 * and the decomposition accepted below VOX_CODES_MAX_RESIDUAL (bf16 rounding of
 * the stored rows leaves about 1e-3). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "voxtral/model.h"
#include "voxtral/voice_file.h"

#define VOX_CODES_MAX_PASSES 8
#define VOX_CODES_MAX_RESIDUAL 1e-2f

/* codes [N][K] of rows [N][D]; *max_rel the largest relative residual. */
static int codes_from_rows(voxtts_model *m, const float *rows, int N, int32_t *codes,
                           float *max_rel, vox_error *err) {
    const vox_config *c = &m->cfg;
    const int K = c->n_codebooks, D = c->llm.dim;
    const vox_tensor *tab = m->w.audio_embeddings;
    const size_t rb = vox_dtype_row_bytes(tab->dtype, D);
    int max_size = c->semantic_codebook_size + 2;
    if (c->acoustic_codebook_size + 2 > max_size) max_size = c->acoustic_codebook_size + 2;
    const int used = m->cb_offset[K - 1] + c->acoustic_codebook_size + 2;
    float *R = malloc(sizeof(float) * (size_t)N * D);
    float *scores = malloc(sizeof(float) * (size_t)N * max_size);
    float *norm = malloc(sizeof(float) * (size_t)used);
    float *tmp = malloc(sizeof(float) * (size_t)D * 2);
    if (!R || !scores || !norm || !tmp) {
        free(R), free(scores), free(norm), free(tmp);
        return vox_fail(err, VOX_E_NOMEM, "out of memory recovering codes of %d rows", N);
    }
    for (int j = 0; j < used; j++) {
        vox_tensor_get_row(tab, j, tmp);
        double s = 0;
        for (int d = 0; d < D; d++) s += (double)tmp[d] * tmp[d];
        norm[j] = (float)s;
    }
    memcpy(R, rows, sizeof(float) * (size_t)N * D);
    for (size_t i = 0; i < (size_t)N * K; i++) codes[i] = -1;
    for (int pass = 0; pass < VOX_CODES_MAX_PASSES; pass++) {
        int changed = 0;
        for (int k = 0; k < K; k++) {
            const int size = k == 0 ? c->semantic_codebook_size + 2 : c->acoustic_codebook_size + 2;
            const int off = m->cb_offset[k];
            if (pass > 0)
                for (int r = 0; r < N; r++) {
                    vox_tensor_get_row(tab, off + codes[(size_t)r * K + k], tmp);
                    vox_add(R + (size_t)r * D, tmp, D);
                }
            vox_tensor W = *tab;
            W.shape[0] = size;
            W.data = (const char *)tab->data + (size_t)off * rb;
            W.nbytes = (size_t)size * rb;
            W.packed = NULL;
            vox_matmul_pool(m->pool, &W, R, N, scores);
            for (int r = 0; r < N; r++) {
                const float *s = scores + (size_t)r * size;
                int best = 0;
                float bv = 2.0f * s[0] - norm[off];
                for (int j = 1; j < size; j++) {
                    float v = 2.0f * s[j] - norm[off + j];
                    if (v > bv) bv = v, best = j;
                }
                int32_t *slot = &codes[(size_t)r * K + k];
                changed += *slot != best;
                *slot = best;
                vox_tensor_get_row(tab, off + best, tmp);
                float *rr = R + (size_t)r * D;
                for (int d = 0; d < D; d++) rr[d] -= tmp[d];
            }
        }
        if (!changed) break;
    }
    /* exact check */
    float worst = 0.0f;
    for (int r = 0; r < N; r++) {
        vox_embed_frame(m, codes + (size_t)r * K, tmp, tmp + D);
        double e2 = 0, n2 = 0;
        for (int d = 0; d < D; d++) {
            double x = rows[(size_t)r * D + d], dx = x - tmp[d];
            e2 += dx * dx;
            n2 += x * x;
        }
        float rel = (float)sqrt(e2 / (n2 > 1e-30 ? n2 : 1e-30));
        if (!(rel <= worst)) worst = rel; /* NaN propagates */
    }
    *max_rel = worst;
    free(R), free(scores), free(norm), free(tmp);
    return VOX_OK;
}

int voxtts_voice_recover_codes(voxtts_model *m, const voxtts_voice *v, voxtts_voice **out,
                               float *rel_residual, voxtts_error *err) {
    if (out) *out = NULL;
    if (!m || !v || !out)
        return vox_fail(err, VOX_E_ARG, "voxtts_voice_recover_codes: model, voice and out must not be NULL");
    const voxtts_voice_info *in = &v->info;
    if (in->dim != m->cfg.llm.dim)
        return vox_fail(err, VOX_E_SHAPE, "voice '%s' has rows of width %d but the model's dim is %d",
                        in->name, in->dim, m->cfg.llm.dim);
    const int N = in->n_rows, K = m->cfg.n_codebooks;
    if (N < 2)
        return vox_fail(err, VOX_E_ARG, "voice '%s' has %d row: codes need frames and the END row",
                        in->name, N);
    int32_t *codes = malloc(sizeof(int32_t) * (size_t)N * K);
    if (!codes) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    float rel = 0.0f;
    int rc = codes_from_rows(m, v->rows, N, codes, &rel, err);
    if (rel_residual) *rel_residual = rel;
    if (!rc && !(rel <= VOX_CODES_MAX_RESIDUAL))
        rc = vox_fail(err, VOX_E_FORMAT,
                      "voice '%s': its rows are not sums of this model's code embeddings "
                      "(relative residual %.3g, at most %.3g accepted)", in->name, rel,
                      VOX_CODES_MAX_RESIDUAL);
    /* the last row must be the END frame, the others real codes */
    for (int r = 0; !rc && r < N; r++)
        for (int k = 0; k < K; k++) {
            const int32_t x = codes[(size_t)r * K + k];
            const int want_end = r == N - 1;
            const int ok = want_end ? x == (k == 0 ? 1 : 0) : x >= 2;
            if (!ok) {
                rc = vox_fail(err, VOX_E_FORMAT,
                              "voice '%s': row %d decomposes to code %d in codebook %d (%s)",
                              in->name, r, (int)x, k,
                              want_end ? "the last row should be the END frame" : "not a real code");
                break;
            }
        }
    voxtts_voice *w = NULL;
    if (!rc) rc = vox_voice_new(in->name, in->method, &w, err);
    if (!rc) {
        w->info = v->info;
        w->info.n_frames = N - 1;
        w->info.n_codebooks = K;
        w->rows_bf16 = v->rows_bf16;
        w->rows = malloc(sizeof(float) * (size_t)N * in->dim);
        if (!w->rows) {
            rc = vox_fail(err, VOX_E_NOMEM, "out of memory");
        } else {
            memcpy(w->rows, v->rows, sizeof(float) * (size_t)N * in->dim);
            memcpy(w->key, v->key, sizeof w->key);
            uint8_t fp[32];
            if (!(rc = vox_model_fingerprint(m, fp, err))) {
                vox_sha256_hex(fp, w->info.model_fingerprint);
                w->codes = codes; /* the first N-1 rows' codes; the END row is implied */
                codes = NULL;
            }
        }
    }
    free(codes);
    if (rc) {
        voxtts_voice_free(w);
        return rc;
    }
    *out = w;
    return VOX_OK;
}
