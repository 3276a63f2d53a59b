/* weights.c — binding every checkpoint tensor, by its official name (docs/MODEL.md
 * §1.2), with the exact shape implied by params.json.
 *
 * The large matrices (embedding tables, attention and FFN weights, heads) stay
 * as views into the mapped file in their stored dtype, whatever it is: BF16 for
 * the official checkpoint (8 GB are never converted), F32, F16, BF16, Q8_0 or
 * Q4_K from a GGUF model.  Nothing here or in the model code reads their bytes:
 * the kernels take any dtype, and embedding rows are read with
 * vox_tensor_get_row.  The one copy: a block's matrices are handed to
 * vox_matmul_pack with the number of rows their products have, and where the
 * kernel level has a layout for that (the flow head's 6-row batch; Q4_K
 * matrices on the x86 levels with integer kernels also in the backbone, whose
 * prompts then run faster) the block keeps the packed copy and the source
 * drops the original's pages.
 * Small tensors, whatever their dtype, are converted to f32
 * once here: norm gains, LayerScales, the semantic codebook
 * (§6.1, divided in f32 precision or better) and the codec convolutions, whose
 * weight norm is folded (§6.3) and whose taps are rearranged as [k][out][in]
 * so that each tap is an ordinary matrix product.  Every failure names the
 * tensor and the file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/kernels.h"
#include "voxtral/checkpoint.h"
#include "voxtral/model.h"

static int expect_in(const vox_source *src, const char *name, int ndim, int64_t d0, int64_t d1,
                     int64_t d2, const vox_tensor **out, vox_error *err) {
    int64_t shape[3] = {d0, d1, d2};
    return vox_source_expect(src, name, ndim, shape, out, err);
}

static int expect(voxtts_model *m, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
                  const vox_tensor **out, vox_error *err) {
    return expect_in(m->src, name, ndim, d0, d1, d2, out, err);
}

/* Find a tensor and convert it to a malloc'd f32 array. */
static int expect_f32_in(const vox_source *src, const char *name, int ndim, int64_t d0,
                         int64_t d1, int64_t d2, float **out, vox_error *err) {
    const vox_tensor *t;
    int rc = expect_in(src, name, ndim, d0, d1, d2, &t, err);
    if (rc) return rc;
    int64_t n = vox_tensor_numel(t);
    float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof *f);
    if (!f) return vox_fail(err, VOX_E_NOMEM, "out of memory converting %s", name);
    vox_tensor_to_f32(t, f);
    *out = f;
    return VOX_OK;
}

static int expect_f32(voxtts_model *m, const char *name, int ndim, int64_t d0, int64_t d1,
                      int64_t d2, float **out, vox_error *err) {
    return expect_f32_in(m->src, name, ndim, d0, d1, d2, out, err);
}

static int load_block(voxtts_model *m, const char *prefix, const vox_transformer_cfg *c,
                      vox_block_w *b, vox_error *err) {
    const int64_t D = c->dim, q = (int64_t)c->n_heads * c->head_dim,
                  kv = (int64_t)c->n_kv_heads * c->head_dim, H = c->hidden_dim;
    const vox_tensor **mats[7] = {&b->wq, &b->wk, &b->wv, &b->wo, &b->w1, &b->w2, &b->w3};
    float **norms[2] = {&b->attention_norm, &b->ffn_norm};
    for (int i = 0; i < VOX_BLOCK_TENSORS; i++) { /* the shared list (checkpoint.h) */
        const vox_block_tensor *t = &vox_block_tensors[i];
        if (!vox_block_has(t, 0, 0)) continue;
        char name[256];
        snprintf(name, sizeof name, "%s%s", prefix, t->suffix);
        const int64_t d0 = vox_block_dim_size(t->d0, D, q, kv, H);
        const int64_t d1 = t->ndim == 2 ? vox_block_dim_size(t->d1, D, q, kv, H) : 0;
        int rc = t->part == VOX_BP_MATRIX ? expect(m, name, 2, d0, d1, 0, mats[t->slot], err)
                                           : expect_f32(m, name, 1, d0, 0, 0, norms[t->slot], err);
        if (rc) return rc;
    }
    return VOX_OK;
}

static void free_block(vox_block_w *b) {
    free(b->attention_norm);
    free(b->ffn_norm);
    for (int i = 0; i < 7; i++) free(b->pack_buf[i]);
}

/* Where the kernels have a faster layout for a block's matrices, multiplied
 * with `rows` input rows (1 in the backbone; 6, or at least 2, in the flow
 * head's CFG batch), the block uses a packed copy, and the source may drop the
 * original's pages (the model never reads them again). */
static int pack_block(voxtts_model *m, vox_block_w *b, int rows, vox_error *err) {
    const vox_tensor **mats[7] = {&b->wq, &b->wk, &b->wv, &b->wo, &b->w1, &b->w2, &b->w3};
    for (int i = 0; i < 7; i++) {
        const int rc = vox_matmul_pack(m->pool, *mats[i], rows, &b->packed[i], &b->pack_buf[i]);
        if (rc < 0) return vox_fail(err, VOX_E_NOMEM, "out of memory packing the weights");
        if (rc > 0) {
            vox_source_release(m->src, *mats[i]);
            *mats[i] = &b->packed[i];
        }
    }
    return VOX_OK;
}

int vox_codec_layer_load(const voxtts_model *m, const vox_source *src, const char *prefix,
                         vox_codec_layer_w *l, vox_error *err) {
    const vox_config *cfg = &m->cfg;
    const int64_t D = cfg->codec.dim, q = (int64_t)cfg->codec.n_heads * cfg->codec.head_dim,
                  kv = (int64_t)cfg->codec.n_kv_heads * cfg->codec.head_dim,
                  H = cfg->codec.hidden_dim;
    const vox_tensor **mats[7] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w1, &l->w2, &l->w3};
    float **vecs[3][2] = {{&l->attention_norm, &l->ffn_norm}, {&l->q_norm, &l->k_norm},
                          {&l->attention_scale, &l->ffn_scale}};
    for (int i = 0; i < VOX_BLOCK_TENSORS; i++) { /* the shared list (checkpoint.h) */
        const vox_block_tensor *t = &vox_block_tensors[i];
        if (!vox_block_has(t, cfg->codec.qk_norm, cfg->codec.layer_scale)) continue;
        char name[256];
        snprintf(name, sizeof name, "%s%s", prefix, t->suffix);
        const int64_t d0 = vox_block_dim_size(t->d0, D, q, kv, H);
        const int64_t d1 = t->ndim == 2 ? vox_block_dim_size(t->d1, D, q, kv, H) : 0;
        int rc;
        if (t->part == VOX_BP_MATRIX)
            rc = expect_in(src, name, 2, d0, d1, 0, mats[t->slot], err);
        else
            rc = expect_f32_in(src, name, 1, d0, 0, 0,
                               vecs[t->part == VOX_BP_NORM ? 0 : t->part == VOX_BP_QK_NORM ? 1 : 2][t->slot], err);
        if (rc) return rc;
    }
    return VOX_OK;
}

void vox_codec_layer_free(vox_codec_layer_w *l) {
    free(l->attention_norm);
    free(l->ffn_norm);
    free(l->q_norm);
    free(l->k_norm);
    free(l->attention_scale);
    free(l->ffn_scale);
}

/* Load a codec convolution `prefix`.conv (weight-normed or plain), stored as
 * [a0][a1][k] = [out][in][k] (Conv1d) or [in][out][k] (ConvTranspose1d), fold
 * W = g·v/||v|| with the norm over axes 1,2 per axis-0 index, no epsilon (§6.3),
 * and rearrange into taps [k][out][in]. */
int vox_codec_conv_load(const voxtts_model *m, const vox_source *src, const char *prefix,
                        int transposed, int64_t in_ch, int64_t out_ch, int64_t k, float **taps_out,
                        vox_error *err) {
    char name[256];
    int64_t a0 = transposed ? in_ch : out_ch, a1 = transposed ? out_ch : in_ch;
    size_t n = (size_t)(a0 * a1 * k);
    float *v = NULL, *g = NULL, *taps = NULL;
    int rc;
    if (m->cfg.codec.conv_weight_norm) {
        snprintf(name, sizeof name, "%s.conv.parametrizations.weight.original1", prefix);
        if ((rc = expect_f32_in(src, name, 3, a0, a1, k, &v, err))) goto out;
        snprintf(name, sizeof name, "%s.conv.parametrizations.weight.original0", prefix);
        if ((rc = expect_f32_in(src, name, 3, a0, 1, 1, &g, err))) goto out;
        for (int64_t i = 0; i < a0; i++) {
            float *vi = v + (size_t)(i * a1 * k);
            double ss = 0.0;
            for (int64_t j = 0; j < a1 * k; j++) ss += (double)vi[j] * (double)vi[j];
            if (!(ss > 0.0)) {
                rc = vox_fail(err, VOX_E_FORMAT,
                              "%s: weight-norm direction v is zero for index %lld (file %s)", name,
                              (long long)i, vox_source_label(src));
                goto out;
            }
            double scale = (double)g[i] / sqrt(ss);
            for (int64_t j = 0; j < a1 * k; j++) vi[j] = (float)((double)vi[j] * scale);
        }
    } else {
        snprintf(name, sizeof name, "%s.conv.weight", prefix);
        if ((rc = expect_f32_in(src, name, 3, a0, a1, k, &v, err))) goto out;
    }
    taps = malloc(n * sizeof *taps);
    if (!taps) {
        rc = vox_fail(err, VOX_E_NOMEM, "out of memory folding %s", prefix);
        goto out;
    }
    for (int64_t i0 = 0; i0 < a0; i0++)
        for (int64_t i1 = 0; i1 < a1; i1++)
            for (int64_t j = 0; j < k; j++) {
                int64_t o = transposed ? i1 : i0, i = transposed ? i0 : i1;
                taps[(size_t)((j * out_ch + o) * in_ch + i)] = v[(size_t)((i0 * a1 + i1) * k + j)];
            }
    *taps_out = taps;
    taps = NULL;
    rc = VOX_OK;
out:
    free(v);
    free(g);
    free(taps);
    return rc;
}

/* Everything the model code relies on that params.json could get wrong. */
static int check_config(const voxtts_model *m, vox_error *err) {
    const vox_config *c = &m->cfg;
    const char *f = "params.json";
    const vox_transformer_cfg *ts[2] = {&c->llm, &c->acoustic};
    const char *tn[2] = {"", "acoustic_transformer_args."};
    for (int i = 0; i < 2; i++) {
        const vox_transformer_cfg *t = ts[i];
        if (t->dim <= 0 || t->n_layers < 0 || t->head_dim <= 0 || t->hidden_dim <= 0 ||
            t->n_heads <= 0 || t->n_kv_heads <= 0 || t->n_heads % t->n_kv_heads != 0)
            return vox_fail(err, VOX_E_FORMAT,
                            "%s: %sdim/n_heads/n_kv_heads/head_dim/hidden_dim are inconsistent "
                            "(n_heads must be a multiple of n_kv_heads)", f, tn[i]);
    }
    if (c->llm.head_dim % 2 != 0)
        return vox_fail(err, VOX_E_FORMAT, "%s: head_dim must be even for RoPE", f);
    if (c->acoustic.dim % 2 != 0)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: acoustic_transformer_args.dim must be even (time embedding)", f);
    if (c->acoustic_input_dim != c->llm.dim)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: acoustic_transformer_args.input_dim (%d) differs from dim (%d)", f,
                        c->acoustic_input_dim, c->llm.dim);
    if (c->semantic_codebook_size <= 0 || c->acoustic_codebook_size < 2 ||
        c->n_acoustic_codebook <= 0 || c->n_codebooks != 1 + c->n_acoustic_codebook)
        return vox_fail(err, VOX_E_FORMAT, "%s: invalid audio codebook sizes", f);
    if (c->n_decoding_steps <= 0)
        return vox_fail(err, VOX_E_FORMAT, "%s: n_decoding_steps must be >= 1", f);
    if (c->codec.semantic_codebook_size != c->semantic_codebook_size ||
        c->codec.acoustic_codebook_size != c->acoustic_codebook_size ||
        c->codec.acoustic_dim != c->n_acoustic_codebook)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: audio_tokenizer_args codebook sizes (%d, %d, acoustic_dim %d) differ "
                        "from audio_model_args (%d, %d, %d)", f,
                        c->codec.semantic_codebook_size, c->codec.acoustic_codebook_size,
                        c->codec.acoustic_dim, c->semantic_codebook_size,
                        c->acoustic_codebook_size, c->n_acoustic_codebook);
    if (c->codec.channels != 1)
        return vox_fail(err, VOX_E_UNSUPPORTED, "%s: only mono codecs (channels 1) are supported", f);
    if (c->codec.dim <= 0 || c->codec.head_dim <= 0 || c->codec.n_heads <= 0 ||
        c->codec.n_kv_heads <= 0 || c->codec.n_heads % c->codec.n_kv_heads != 0 ||
        c->codec.hidden_dim <= 0 || c->codec.patch_size <= 0 ||
        c->codec.patch_proj_kernel_size <= 0 || c->codec.semantic_dim <= 0)
        return vox_fail(err, VOX_E_FORMAT, "%s: invalid audio_tokenizer_args dimensions", f);
    if (c->codec.n_stages <= 0 || c->codec.n_stages > VOX_MAX_CODEC_STAGES)
        return vox_fail(err, VOX_E_FORMAT, "%s: the codec has %d decoder stages", f,
                        c->codec.n_stages);
    for (int i = 0; i < c->codec.n_stages; i++) {
        if (c->codec.conv_kernels[i] <= 0 || c->codec.conv_strides[i] <= 0 ||
            c->codec.transformer_lengths[i] < 0)
            return vox_fail(err, VOX_E_FORMAT, "%s: codec stage %d has kernel %d stride %d", f, i,
                            c->codec.conv_kernels[i], c->codec.conv_strides[i]);
        if (i == 0 && c->codec.conv_strides[0] != 1)
            return vox_fail(err, VOX_E_UNSUPPORTED,
                            "%s: the first decoder conv must have stride 1 (has %d)", f,
                            c->codec.conv_strides[0]);
        if (i > 0 && c->codec.conv_kernels[i] < c->codec.conv_strides[i])
            return vox_fail(err, VOX_E_FORMAT,
                            "%s: codec stage %d: transposed conv kernel %d < stride %d", f, i,
                            c->codec.conv_kernels[i], c->codec.conv_strides[i]);
    }
    return VOX_OK;
}

static int64_t pad128(int64_t n) { return (n + 127) / 128 * 128; }

int vox_weights_load(voxtts_model *m, vox_error *err) {
    vox_weights *w = &m->w;
    const vox_config *c = &m->cfg;
    int rc = check_config(m, err);
    if (rc) return rc;
    const int64_t D = c->llm.dim, S = c->semantic_codebook_size, L = c->acoustic_codebook_size,
                  A = c->n_acoustic_codebook, Da = c->acoustic.dim;
    m->semantic_rows = (int)pad128(S + 2);
    m->audio_rows = (int)pad128(S + 2 + A * (L + 2));
    m->cb_offset = malloc(sizeof(int) * (size_t)c->n_codebooks);
    if (!m->cb_offset) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    m->cb_offset[0] = 0;
    for (int k = 1; k < c->n_codebooks; k++) m->cb_offset[k] = (int)((S + 2) + (L + 2) * (k - 1));

    /* A. backbone */
    if ((rc = expect(m, "mm_audio_embeddings.tok_embeddings.weight", 2, c->vocab_size, D, 0,
                     &w->tok_embeddings, err)))
        return rc;
    if ((rc = expect(m, "mm_audio_embeddings.audio_codebook_embeddings.embeddings.weight", 2,
                     m->audio_rows, D, 0, &w->audio_embeddings, err)))
        return rc;
    w->layers = calloc((size_t)(c->llm.n_layers > 0 ? c->llm.n_layers : 1), sizeof *w->layers);
    if (!w->layers) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    char prefix[128];
    for (int i = 0; i < c->llm.n_layers; i++) {
        snprintf(prefix, sizeof prefix, "layers.%d.", i);
        if ((rc = load_block(m, prefix, &c->llm, &w->layers[i], err)) ||
            (rc = pack_block(m, &w->layers[i], 1, err)))
            return rc;
    }
    if ((rc = expect_f32(m, "norm.weight", 1, D, 0, 0, &w->norm, err))) return rc;

    /* B. acoustic transformer */
    if ((rc = expect(m, "acoustic_transformer.input_projection.weight", 2, Da, A, 0,
                     &w->input_projection, err)) ||
        (rc = expect(m, "acoustic_transformer.time_projection.weight", 2, Da, Da, 0,
                     &w->time_projection, err)) ||
        (rc = expect(m, "acoustic_transformer.llm_projection.weight", 2, Da, D, 0,
                     &w->llm_projection, err)) ||
        (rc = expect(m, "acoustic_transformer.semantic_codebook_output.weight", 2,
                     m->semantic_rows, D, 0, &w->semantic_output, err)) ||
        (rc = expect(m, "acoustic_transformer.acoustic_codebook_output.weight", 2, A, Da, 0,
                     &w->acoustic_output, err)))
        return rc;
    w->ac_layers = calloc((size_t)(c->acoustic.n_layers > 0 ? c->acoustic.n_layers : 1),
                          sizeof *w->ac_layers);
    if (!w->ac_layers) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    for (int i = 0; i < c->acoustic.n_layers; i++) {
        snprintf(prefix, sizeof prefix, "acoustic_transformer.layers.%d.", i);
        if ((rc = load_block(m, prefix, &c->acoustic, &w->ac_layers[i], err)) ||
            (rc = pack_block(m, &w->ac_layers[i], 6, err)))
            return rc;
    }
    if ((rc = expect_f32(m, "acoustic_transformer.norm.weight", 1, Da, 0, 0, &w->ac_norm, err)))
        return rc;

    /* C. codec decoder */
    const int64_t sd = c->codec.semantic_dim, Dc = c->codec.dim;
    float *usage = NULL;
    if ((rc = expect_f32(m, "audio_tokenizer.quantizer.semantic_codebook.embedding_sum", 2, S, sd,
                         0, &w->semantic_codebook, err)) ||
        (rc = expect_f32(m, "audio_tokenizer.quantizer.semantic_codebook.cluster_usage", 1, S, 0,
                         0, &usage, err)))
        return rc;
    /* §6.1: C[j] = embedding_sum[j] / max(cluster_usage[j], 1e-5), in f32 or better (§9 #11) */
    for (int64_t j = 0; j < S; j++) {
        double u = usage[j] > 1e-5f ? (double)usage[j] : 1e-5;
        for (int64_t i = 0; i < sd; i++) {
            float *e = &w->semantic_codebook[j * sd + i];
            *e = (float)((double)*e / u);
        }
    }
    free(usage);

    int windows[VOX_MAX_CODEC_STAGES];
    vox_codec_windows(c, windows);
    w->n_stages = c->codec.n_stages;
    for (int i = 0; i < w->n_stages; i++) {
        vox_codec_stage_w *st = &w->stages[i];
        st->transposed = i > 0;
        st->kernel = c->codec.conv_kernels[i];
        st->stride = c->codec.conv_strides[i];
        st->in_ch = i == 0 ? (int)(sd + A) : (int)Dc;
        st->out_ch = (int)Dc;
        st->window = windows[i];
        snprintf(prefix, sizeof prefix, "audio_tokenizer.decoder_blocks.%d", 2 * i);
        if ((rc = vox_codec_conv_load(m, m->src, prefix, st->transposed, st->in_ch, st->out_ch,
                                      st->kernel, &st->taps, err)))
            return rc;
        st->n_layers = c->codec.transformer_lengths[i];
        st->layers = calloc((size_t)(st->n_layers > 0 ? st->n_layers : 1), sizeof *st->layers);
        if (!st->layers) return vox_fail(err, VOX_E_NOMEM, "out of memory");
        for (int j = 0; j < st->n_layers; j++) {
            snprintf(prefix, sizeof prefix, "audio_tokenizer.decoder_blocks.%d.layers.%d.",
                     2 * i + 1, j);
            if ((rc = vox_codec_layer_load(m, m->src, prefix, &st->layers[j], err))) return rc;
        }
    }
    w->out_kernel = c->codec.patch_proj_kernel_size;
    return vox_codec_conv_load(m, m->src, "audio_tokenizer.output_proj", 0, Dc,
                               c->codec.patch_size, w->out_kernel, &w->out_taps, err);
}

void vox_weights_free(voxtts_model *m) {
    vox_weights *w = &m->w;
    if (w->layers)
        for (int i = 0; i < m->cfg.llm.n_layers; i++) free_block(&w->layers[i]);
    free(w->layers);
    free(w->norm);
    if (w->ac_layers)
        for (int i = 0; i < m->cfg.acoustic.n_layers; i++) free_block(&w->ac_layers[i]);
    free(w->ac_layers);
    free(w->ac_norm);
    free(w->semantic_codebook);
    for (int i = 0; i < VOX_MAX_CODEC_STAGES; i++) {
        vox_codec_stage_w *st = &w->stages[i];
        free(st->taps);
        if (st->layers)
            for (int j = 0; j < st->n_layers; j++) vox_codec_layer_free(&st->layers[j]);
        free(st->layers);
    }
    free(w->out_taps);
    free(m->cb_offset);
    memset(w, 0, sizeof *w);
    m->cb_offset = NULL;
}
