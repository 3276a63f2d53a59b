/* encoder.c — the codec encoder: 24 kHz mono waveform -> offset codes
 * (docs/MODEL.md §7), for voice cloning.
 *
 * The open checkpoint has no encoder tensors; they are used when the model's
 * own source (safetensors or GGUF) holds all of them, or when a safetensors
 * file holding them is attached (vox_encoder_attach).  Some but not all of them
 * is an error naming a missing one.  Stages (the codec args, §7; config.h):
 *   patch    right-pad with zeros to a multiple of the patch, [L][patch] rows
 *            (row t = samples t·patch ..: the wave buffer itself)
 *   input    CausalConv1d patch -> dim, k = patch_proj_kernel_size, REFLECT left
 *            pad k-1 (zeros past the end when L <= k-1, like VO's pad1d)
 *   stage i  transformer layers, window enc_window[i] (16, 8, 4, 2), then
 *            CausalConv1d k_i, stride s_i, REPLICATE pad: k_i - s_i rows of x[0]
 *            on the left, ceil(T/s_i)·s_i - T rows of x[T-1] on the right (odd
 *            lengths at stride 2); the last conv gives the latent (semantic_dim
 *            + n_acoustic channels).  Block 2i is stage i's transformer, 2i+1 its
 *            conv (the conv is absent only for k = s = 1 inside the stack, VO).
 *   quantize semantic = argmin_j |x - C_j|^2 over the f32 codebook the decoder
 *            uses (first on ties); acoustic = round_half_even((tanh(x)+1)/2·(L-1));
 *            +2 on every code (§4).
 * Everything runs in f32 (VO runs the encoder under bf16 autocast; §7 takes f32
 * as the reference).  The layers, convs and padding are the decoder's
 * (codec.c, weights.c); the products run on the model's thread pool. */
#include "voxtral/encoder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voxtral/stream.h"

struct vox_encoder {
    vox_source *own;     /* the attached file (NULL: the model's own source) */
    int in_kernel;
    float *in_taps;      /* input_proj [k][dim][patch] */
    int n_stages;
    vox_codec_stage_w stages[VOX_MAX_CODEC_STAGES]; /* layers, then the conv (taps NULL: none) */
};

#define ENC_PREFIX "audio_tokenizer."
#define MAX_INPUT_ROWS (1 << 24) /* patches per clip (~4.6 h at 24 kHz) */

void vox_encoder_free(struct vox_encoder *e) {
    if (!e) return;
    free(e->in_taps);
    for (int i = 0; i < VOX_MAX_CODEC_STAGES; i++) {
        vox_codec_stage_w *st = &e->stages[i];
        free(st->taps);
        if (st->layers)
            for (int j = 0; j < st->n_layers; j++) vox_codec_layer_free(&st->layers[j]);
        free(st->layers);
    }
    vox_source_free(e->own);
    free(e);
}

/* Does stage i of the encoder end with a conv (VO: unless k = s = 1 before the last)? */
static int stage_has_conv(const vox_config *c, int i) {
    return c->codec.enc_conv_kernels[i] != 1 || c->codec.enc_conv_strides[i] != 1 ||
           i == c->codec.enc_n_stages - 1;
}

/* The encoder's tensor names, in checkpoint order, into names[] (NULL: count only). */
static int encoder_names(const vox_config *c, char (*names)[160]) {
    static const char *layer_suffix[13] = {
        "attention.wq.weight", "attention.wk.weight", "attention.wv.weight",
        "attention.wo.weight", "feed_forward.w1.weight", "feed_forward.w2.weight",
        "feed_forward.w3.weight", "attention_norm.weight", "ffn_norm.weight",
        "attention.q_norm.weight", "attention.k_norm.weight", "attention_scale", "ffn_scale"};
    const char *conv_suffix[2] = {".conv.parametrizations.weight.original0",
                                  ".conv.parametrizations.weight.original1"};
    const int n_conv = c->codec.conv_weight_norm ? 2 : 1;
    int n = 0, blk = 0;
#define NAME(...)                                                                    \
    do {                                                                             \
        if (names) snprintf(names[n], sizeof names[n], __VA_ARGS__);                 \
        n++;                                                                         \
    } while (0)
    for (int s = 0; s < n_conv; s++)
        NAME(ENC_PREFIX "input_proj%s", c->codec.conv_weight_norm ? conv_suffix[s] : ".conv.weight");
    for (int i = 0; i < c->codec.enc_n_stages; i++) {
        for (int j = 0; j < c->codec.enc_transformer_lengths[i]; j++) {
            for (int s = 0; s < 13; s++) {
                if (s >= 9 && s < 11 && !c->codec.qk_norm) continue;
                if (s >= 11 && !c->codec.layer_scale) continue;
                NAME(ENC_PREFIX "encoder_blocks.%d.layers.%d.%s", blk, j, layer_suffix[s]);
            }
        }
        blk++;
        if (stage_has_conv(c, i)) {
            for (int s = 0; s < n_conv; s++)
                NAME(ENC_PREFIX "encoder_blocks.%d%s", blk,
                     c->codec.conv_weight_norm ? conv_suffix[s] : ".conv.weight");
            blk++;
        }
    }
#undef NAME
    return n;
}

/* Which of the encoder's tensors src holds: *found of *total; first_missing /
 * first_found (may be NULL) receive a name of each kind. */
static int encoder_presence(const voxtts_model *m, const vox_source *src, int *found, int *total,
                            char *first_missing, char *first_found, vox_error *err) {
    const int n = encoder_names(&m->cfg, NULL);
    char (*names)[160] = malloc(sizeof *names * (size_t)(n > 0 ? n : 1));
    if (!names) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    encoder_names(&m->cfg, names);
    *found = 0;
    *total = n;
    if (first_missing) first_missing[0] = '\0';
    if (first_found) first_found[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (vox_source_find(src, names[i])) {
            if (first_found && !(*found)) snprintf(first_found, 160, "%s", names[i]);
            (*found)++;
        } else if (first_missing && !first_missing[0]) {
            snprintf(first_missing, 160, "%s", names[i]);
        }
    }
    free(names);
    return VOX_OK;
}

/* Bind and fold every encoder tensor of src (shapes from the codec args). */
static int encoder_load(const voxtts_model *m, const vox_source *src, struct vox_encoder *e,
                        vox_error *err) {
    const vox_config *c = &m->cfg;
    const int D = c->codec.dim, latent = c->codec.semantic_dim + c->n_acoustic_codebook;
    char prefix[160];
    int rc;
    e->in_kernel = c->codec.patch_proj_kernel_size;
    if ((rc = vox_codec_conv_load(m, src, ENC_PREFIX "input_proj", 0, c->codec.patch_size, D,
                                  e->in_kernel, &e->in_taps, err)))
        return rc;
    e->n_stages = c->codec.enc_n_stages;
    int blk = 0;
    for (int i = 0; i < e->n_stages; i++) {
        vox_codec_stage_w *st = &e->stages[i];
        st->window = c->codec.enc_window[i];
        st->n_layers = c->codec.enc_transformer_lengths[i];
        st->layers = calloc((size_t)(st->n_layers > 0 ? st->n_layers : 1), sizeof *st->layers);
        if (!st->layers) return vox_fail(err, VOX_E_NOMEM, "out of memory");
        for (int j = 0; j < st->n_layers; j++) {
            snprintf(prefix, sizeof prefix, ENC_PREFIX "encoder_blocks.%d.layers.%d.", blk, j);
            if ((rc = vox_codec_layer_load(m, src, prefix, &st->layers[j], err))) return rc;
        }
        blk++;
        if (!stage_has_conv(c, i)) continue;
        st->transposed = 0;
        st->kernel = c->codec.enc_conv_kernels[i];
        st->stride = c->codec.enc_conv_strides[i];
        st->in_ch = D;
        st->out_ch = i == e->n_stages - 1 ? latent : D;
        snprintf(prefix, sizeof prefix, ENC_PREFIX "encoder_blocks.%d", blk);
        if ((rc = vox_codec_conv_load(m, src, prefix, 0, st->in_ch, st->out_ch, st->kernel,
                                      &st->taps, err)))
            return rc;
        blk++;
    }
    return VOX_OK;
}

/* Load the encoder from src when it holds all of its tensors: *out stays NULL
 * when it holds none, and some-but-not-all is an error naming a missing one. */
static int encoder_from_source(const voxtts_model *m, const vox_source *src, int required,
                               struct vox_encoder **out, vox_error *err) {
    char missing[160], present[160];
    int found = 0, total = 0;
    *out = NULL;
    int rc = encoder_presence(m, src, &found, &total, missing, present, err);
    if (rc) return rc;
    if (found == 0 && !required) return VOX_OK;
    if (found == 0)
        return vox_fail(err, VOX_E_MISSING,
                        "%s holds none of the codec encoder's %d tensors (e.g. %s)",
                        vox_source_label(src), total, missing);
    if (found < total)
        return vox_fail(err, VOX_E_MISSING,
                        "%s: incomplete codec encoder: tensor %s is missing (%d of the %d encoder "
                        "tensors present, e.g. %s)",
                        vox_source_label(src), missing, found, total, present);
    struct vox_encoder *e = calloc(1, sizeof *e);
    if (!e) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    if ((rc = encoder_load(m, src, e, err))) {
        vox_encoder_free(e);
        return rc;
    }
    *out = e;
    return VOX_OK;
}

int vox_encoder_load_builtin(voxtts_model *m, vox_error *err) {
    vox_encoder_free(m->enc);
    m->enc = NULL;
    return encoder_from_source(m, m->src, 0, &m->enc, err);
}

int vox_encoder_available(const voxtts_model *m) { return m && m->enc != NULL; }

int vox_encoder_attach(voxtts_model *m, const char *safetensors_path, vox_error *err) {
    if (!m || !safetensors_path || !*safetensors_path)
        return vox_fail(err, VOX_E_ARG, "vox_encoder_attach: model and path must be given");
    vox_source *src = NULL;
    int rc = vox_source_open_safetensors(safetensors_path, &src, err);
    if (rc) return rc;
    struct vox_encoder *e = NULL;
    if ((rc = encoder_from_source(m, src, 1, &e, err))) {
        vox_source_free(src);
        return rc;
    }
    e->own = src; /* its matrices are views into this file's mapping */
    vox_encoder_free(m->enc);
    m->enc = e;
    return VOX_OK;
}

/* ---- encoding ---------------------------------------------------------------- */

typedef struct quant_task {
    const voxtts_model *m;
    const float *latent; /* [T][latent] */
    int32_t *codes;      /* [T][n_codebooks] */
} quant_task;

/* Frames [begin, end): nearest codebook row and FSQ levels (§7 step 7). */
static void quant_run(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const quant_task *q = ctx;
    const vox_config *c = &q->m->cfg;
    const int sd = c->codec.semantic_dim, A = c->n_acoustic_codebook, S = c->semantic_codebook_size,
              L = c->acoustic_codebook_size, ncb = c->n_codebooks;
    const float *C = q->m->w.semantic_codebook;
    for (int64_t t = begin; t < end; t++) {
        const float *x = q->latent + (size_t)t * (size_t)(sd + A);
        int32_t *out = q->codes + (size_t)t * (size_t)ncb;
        double best = INFINITY;
        int best_j = 0;
        for (int j = 0; j < S; j++) {
            const float *cj = C + (size_t)j * (size_t)sd;
            double d2 = 0.0;
            for (int i = 0; i < sd; i++) {
                const double d = (double)x[i] - (double)cj[i];
                d2 += d * d;
            }
            if (d2 < best) { /* strict: the first of equal distances, like argmin */
                best = d2;
                best_j = j;
            }
        }
        out[0] = best_j + 2;
        for (int a = 0; a < A; a++) out[1 + a] = vox_fsq_level(tanhf(x[sd + a]), L) + 2;
    }
}

int vox_encode(voxtts_model *m, const float *wave, size_t n, int32_t **codes, int *n_frames,
               vox_error *err) {
    if (codes) *codes = NULL;
    if (n_frames) *n_frames = 0;
    if (!m || !codes || !n_frames || (n > 0 && !wave))
        return vox_fail(err, VOX_E_ARG, "vox_encode: model, wave, codes and n_frames must be given");
    const struct vox_encoder *e = m->enc;
    if (!e)
        return vox_fail(err, VOX_E_MISSING,
                        "model %s has no codec encoder weights (the open checkpoint ships none): "
                        "attach a safetensors file holding them (--encoder FILE)", m->dir);
    if (n == 0) return vox_fail(err, VOX_E_ARG, "encode: the audio has no samples");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(wave[i]))
            return vox_fail(err, VOX_E_ARG, "encode: audio sample %zu is not a finite number", i);
    const vox_config *c = &m->cfg;
    const int patch = c->codec.patch_size, D = c->codec.dim, sd = c->codec.semantic_dim,
              A = c->n_acoustic_codebook, latent = sd + A, ncb = c->n_codebooks;
    const size_t rows0 = (n + (size_t)patch - 1) / (size_t)patch;
    if (rows0 > MAX_INPUT_ROWS)
        return vox_fail(err, VOX_E_ARG, "encode: %zu samples is too long (at most %lld)", n,
                        (long long)MAX_INPUT_ROWS * patch);
    const int L0 = (int)rows0;

    /* sizes: channels, taps and windows over every stage */
    int C_max = patch > D ? patch : D, k_max = e->in_kernel, W_max = 0;
    if (latent > C_max) C_max = latent;
    for (int i = 0; i < e->n_stages; i++) {
        if (e->stages[i].taps && e->stages[i].kernel > k_max) k_max = e->stages[i].kernel;
        if (e->stages[i].window > W_max) W_max = e->stages[i].window;
    }
    const size_t cells = (size_t)(L0 + k_max) * (size_t)C_max;
    float *x = calloc(cells, sizeof *x), *pad = malloc(cells * sizeof *pad),
          *tmp = malloc(cells * sizeof *tmp), *gather = malloc(cells * sizeof *gather);
    int32_t *out = NULL;
    vox_codec_ws *ws = NULL;
    int rc = VOX_OK;
    if (!x || !pad || !tmp || !gather) {
        rc = vox_fail(err, VOX_E_NOMEM, "encode: out of memory for %zu samples", n);
        goto done;
    }
    if ((rc = vox_codec_ws_rows(m, L0, W_max, &ws, err))) goto done;

    /* patches: the zero-padded wave is already [L0][patch] time-major (§7 step 1) */
    memcpy(x, wave, n * sizeof *x);
    int T = L0, C = patch;
    /* input_proj: reflect left pad k-1 (§7 step 2) */
    {
        const int k = e->in_kernel;
        vox_codec_reflect_pad(x, T, C, k - 1, pad);
        memcpy(pad + (size_t)(k - 1) * C, x, sizeof(float) * (size_t)T * C);
        vox_codec_conv_rows(m, e->in_taps, k, 1, C, D, pad, T, x, tmp, NULL);
        C = D;
    }
    for (int i = 0; i < e->n_stages; i++) {
        const vox_codec_stage_w *st = &e->stages[i];
        if ((rc = vox_codec_ws_layers(ws, st->layers, st->n_layers, st->window, x, T, err)))
            goto done;
        if (!st->taps) continue;
        /* CausalConv1d k, s, replicate: k-s rows of x[0] on the left, the last
         * row repeated up to a multiple of s on the right (§7) */
        const int k = st->kernel, s = st->stride, left = k - s;
        const int T_out = (T + s - 1) / s, right = T_out * s - T;
        for (int p = 0; p < left; p++) memcpy(pad + (size_t)p * C, x, sizeof(float) * (size_t)C);
        memcpy(pad + (size_t)left * C, x, sizeof(float) * (size_t)T * C);
        for (int p = 0; p < right; p++)
            memcpy(pad + (size_t)(left + T + p) * C, x + (size_t)(T - 1) * C,
                   sizeof(float) * (size_t)C);
        vox_codec_conv_rows(m, st->taps, k, s, C, st->out_ch, pad, T_out, x, tmp, gather);
        T = T_out;
        C = st->out_ch;
    }
    const int64_t spf = c->codec.samples_per_frame;
    if (C != latent || (int64_t)T != ((int64_t)n + spf - 1) / spf) {
        rc = vox_fail(err, VOX_E_INTERNAL, "encode: %d rows of %d channels for %zu samples", T, C, n);
        goto done;
    }
    if (!(out = malloc(sizeof *out * (size_t)T * (size_t)ncb))) {
        rc = vox_fail(err, VOX_E_NOMEM, "encode: out of memory");
        goto done;
    }
    quant_task q = {m, x, out};
    vox_pool_for(m->pool, T, 1, quant_run, &q);
    *codes = out;
    *n_frames = T;
    out = NULL;
done:
    vox_codec_ws_free(ws);
    free(x);
    free(pad);
    free(tmp);
    free(gather);
    free(out);
    return rc;
}
