/* codec.c — the codec decoder: offset codes -> waveform (VOXTRAL.md §6).
 *
 * Whole-sequence decoding, activations time-major ([T][channels], one row per
 * time step) so that every convolution tap and every linear layer is a matrix
 * product over rows:
 *   latent   [F][sd+A]: C[sem] (§6.1) ++ FSQ values level·2/(L-1) - 1
 *   stage 0  CausalConv1d k0, REPLICATE left pad k0-1, then transformer layers
 *   stage i  CausalConvTranspose1d k_i, s_i (full length (T-1)s+k, trim k-s on the
 *            right -> T·s), then transformer layers with window W_i
 *   out      CausalConv1d dim -> patch, REFLECT left pad k-1 (mirror without the
 *            edge; zeros beyond the end if T <= k-1, like VO's pad1d)
 *   unpatch  wave[t·patch + c] = out[t][c]: exactly the time-major buffer.
 * Codec transformer layer (§6.4): RMSNorm (codec eps), QK-norm over the full
 * projection, causal sliding-window attention with ALiBi slope_h·(j-i) over keys
 * i-W..i (W+1 keys; option: W keys), slope_h = 2^(-8h/H) (option: 2^(-8(h+1)/H)),
 * LayerScale on both residual branches, SwiGLU.
 *
 * Incremental decoding (stream.h, §6.5): a workspace decodes a stream in calls
 * of any number of new frames, each frame exactly once, carrying between calls
 * what the causal layers look back at: the last k-1 inputs of a causal conv
 * (replicas of row 0 at the start: replicate padding), the last floor((k-1)/s)
 * inputs of a transposed conv, the last W post-QK-norm keys and values of each
 * transformer layer, and the last k-1 padded rows of the output conv (the
 * reflection of rows 1..k-1 at the start).  Every row is computed by the same
 * operations in the same order whatever the split (the kernels' per-row
 * arithmetic does not depend on the number of rows, kernels.h; conv taps are
 * summed j = 0..k-1, attention visits keys in global order), so the samples are
 * bit-identical to one whole-sequence decode, which is itself a single call.
 *
 * The encoder (encoder.c, §7) shares the pieces: a workspace for whole
 * sequences of any rate (vox_codec_ws_rows), the transformer layers
 * (vox_codec_ws_layers), strided convolutions over padded rows
 * (vox_codec_conv_rows) and the reflect padding of the patch convolutions
 * (vox_codec_reflect_pad). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "voxtral/codec_impl.h"
#include "voxtral/model.h"
#include "voxtral/stream.h"

#define FFN_ROWS 256 /* rows of the FFN hidden buffers (the FFN runs in row blocks) */

void vox_codec_windows(const vox_config *cfg, int *windows) {
    int n_down = 0;
    for (int i = 1; i < cfg->codec.n_stages; i++)
        if (cfg->codec.conv_strides[i] > 1) n_down++;
    int w = cfg->codec.attn_sliding_window_size;
    if (cfg->codec.half_attn_window_upon_downsampling) w >>= n_down;
    for (int i = 0; i < cfg->codec.n_stages; i++) {
        if (i > 0 && cfg->codec.conv_strides[i] > 1 && cfg->codec.half_attn_window_upon_downsampling)
            w *= 2;
        windows[i] = w;
    }
}

struct vox_codec_ws {
    const voxtts_model *m;
    int max_frames;
    int T_max, C_max;
    float *x;      /* [T_max][C_max] current activations */
    float *y;      /* [T_max][C_max] */
    float *pad;    /* [T_max + k_max][C_max] conv input: carried rows ++ new rows */
    float *tmp;    /* [T_max + k_max][C_max] conv tap output / scratch */
    float *q, *att;         /* [T_max][n_heads*head_dim] */
    float *k, *v;           /* [W_max + T_max][n_kv_heads*head_dim]: carried keys ++ new */
    float *h1, *h3;         /* [FFN_ROWS][hidden] */
    float *scores;          /* [n_threads][W_max + 1] */
    int score_stride;
    float slopes[64];
    int w_keys;
    /* stream state (§6.5): what each layer keeps of the rows already decoded */
    int64_t frames_done;                      /* frames decoded since vox_codec_ws_start */
    int64_t rows_in[VOX_MAX_CODEC_STAGES];    /* rows that entered stage i's conv */
    int64_t rows_out;                         /* rows that entered the output conv */
    float *conv_cache[VOX_MAX_CODEC_STAGES];  /* [conv_keep(i)][in_ch]: last conv inputs */
    float *kc[VOX_MAX_CODEC_STAGES];          /* [n_layers][W_i][kvd]: last post-norm keys */
    float *vc[VOX_MAX_CODEC_STAGES];          /* [n_layers][W_i][kvd]: their values */
    float *out_cache;                         /* [k-1][dim]: last padded output-conv rows */
    float *k_scratch, *v_scratch;             /* [W_max][kvd]: the carry of whole sequences */
};
typedef struct vox_codec_ws codec_ws;

static void codec_ws_release(codec_ws *w) {
    free(w->x);
    free(w->y);
    free(w->pad);
    free(w->tmp);
    free(w->q);
    free(w->k);
    free(w->v);
    free(w->att);
    free(w->h1);
    free(w->h3);
    free(w->scores);
    for (int i = 0; i < VOX_MAX_CODEC_STAGES; i++) {
        free(w->conv_cache[i]);
        free(w->kc[i]);
        free(w->vc[i]);
    }
    free(w->out_cache);
    free(w->k_scratch);
    free(w->v_scratch);
}

/* Input rows a stage's conv carries from one call to the next: a causal conv
 * (replicate pad) reads k-1 rows back; a transposed conv's output rows
 * [B*s, (B+T)*s) read inputs from B - floor((k-1)/s) on (§6.3). */
static int conv_keep(const vox_codec_stage_w *st) {
    return st->transposed ? (st->kernel - 1) / st->stride : st->kernel - 1;
}

float *vox_codec_alloc2(size_t a, size_t b) {
    if (a == 0 || b == 0) return malloc(sizeof(float));
    if (b > SIZE_MAX / sizeof(float) / a) return NULL;
    return malloc(a * b * sizeof(float));
}

vox_tensor vox_codec_tap_view(const float *taps, int j, int out_ch, int in_ch) {
    vox_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = VOX_F32;
    t.ndim = 2;
    t.shape[0] = out_ch;
    t.shape[1] = in_ch;
    t.data = taps + (size_t)j * out_ch * in_ch;
    t.nbytes = sizeof(float) * (size_t)out_ch * in_ch;
    return t;
}

void vox_codec_conv_rows(const voxtts_model *m, const float *taps, int k, int s, int in_ch,
                         int out_ch, const float *pad, int T, float *y, float *tmp, float *gather) {
    for (int j = 0; j < k; j++) {
        vox_tensor W = vox_codec_tap_view(taps, j, out_ch, in_ch);
        const float *src = pad + (size_t)j * in_ch;
        if (s != 1) { /* rows j, j+s, j+2s, ... made contiguous */
            for (int t = 0; t < T; t++)
                memcpy(gather + (size_t)t * in_ch, pad + ((size_t)t * s + j) * in_ch,
                       sizeof(float) * (size_t)in_ch);
            src = gather;
        }
        vox_matmul_pool(m->pool, &W, src, T, j == 0 ? y : tmp);
        if (j > 0) vox_add(y, tmp, T * out_ch);
    }
}

void vox_codec_reflect_pad(const float *x, int T, int C, int n, float *pad) {
    for (int p = 0; p < n; p++) {
        const int src = n - p;
        if (src < T)
            memcpy(pad + (size_t)p * C, x + (size_t)src * C, sizeof(float) * (size_t)C);
        else
            memset(pad + (size_t)p * C, 0, sizeof(float) * (size_t)C);
    }
}

void vox_codec_conv_valid(const voxtts_model *m, const float *taps, int k, int in_ch, int out_ch,
                          const float *pad, int T, float *y, float *tmp) {
    for (int j = 0; j < k; j++) {
        vox_tensor W = vox_codec_tap_view(taps, j, out_ch, in_ch);
        vox_matmul_pool(m->pool, &W, pad + (size_t)j * in_ch, T, j == 0 ? y : tmp);
        if (j > 0) vox_add(y, tmp, T * out_ch);
    }
}

void vox_codec_conv_transpose(const voxtts_model *m, const float *taps, int k, int s, int in_ch,
                              int out_ch, const float *x, int have, int nc, int T2, float *y,
                              float *tmp) {
    memset(y, 0, sizeof(float) * (size_t)T2 * out_ch);
    for (int j = 0; j < k; j++) {
        vox_tensor W = vox_codec_tap_view(taps, j, out_ch, in_ch);
        vox_matmul_pool(m->pool, &W, x, have, tmp);
        for (int t = 0; t < have; t++) {
            const int pos = (t - nc) * s + j; /* relative to the first new output row */
            if (pos >= 0 && pos < T2)
                vox_add(y + (size_t)pos * out_ch, tmp + (size_t)t * out_ch, out_ch);
        }
    }
}

void vox_codec_reflect_start(const float *x, int T, int D, int k, float *pad) {
    for (int p = 0; p < k - 1; p++) {
        const int src = k - 1 - p;
        if (src < T)
            memcpy(pad + (size_t)p * D, x + (size_t)src * D, sizeof(float) * (size_t)D);
        else
            memset(pad + (size_t)p * D, 0, sizeof(float) * (size_t)D);
    }
}

void vox_codec_slopes(int n_heads, int alibi_press, float *slopes) {
    for (int h = 0; h < n_heads; h++)
        slopes[h] = (float)pow(2.0, -8.0 * (double)(h + (alibi_press ? 1 : 0)) / (double)n_heads);
}

void vox_codec_attn_head(const float *q, const float *k, const float *v, size_t kv_stride, int n,
                         int hd, float scale, float slope, int d0, float *p, float *out) {
    for (int j = 0; j < n; j++)
        p[j] = vox_dot_f32(q, k + (size_t)j * kv_stride, hd) * scale + slope * (float)(j + d0);
    vox_softmax(p, n);
    memset(out, 0, sizeof(float) * (size_t)hd);
    for (int j = 0; j < n; j++) {
        const float pj = p[j], *vj = v + (size_t)j * kv_stride;
        for (int d = 0; d < hd; d++) out[d] += pj * vj[d];
    }
}

void vox_codec_latent_rows(const voxtts_model *m, const int32_t *codes, int n, float *latent) {
    const vox_config *c = &m->cfg;
    const int sd = c->codec.semantic_dim, A = c->n_acoustic_codebook, L = c->acoustic_codebook_size,
              ncb = c->n_codebooks;
    for (int f = 0; f < n; f++) {
        const int32_t *fc = codes + (size_t)f * ncb;
        float *row = latent + (size_t)f * (sd + A);
        memcpy(row, m->w.semantic_codebook + (size_t)(fc[0] - 2) * sd, sizeof(float) * (size_t)sd);
        for (int a = 0; a < A; a++) row[sd + a] = vox_fsq_value(fc[1 + a] - 2, L);
    }
}

typedef struct codec_attn_task {
    codec_ws *w;
    int64_t base;       /* global row of new row 0 */
    int nc;             /* carried keys in front of the new ones in w->k / w->v */
    int window, w_keys;
    float scale;
} codec_attn_task;

/* Items are (new row, head) pairs.  Keys are visited in global order with
 * global positions, so a row's scores, softmax and weighted sum are the same
 * operations in the same order however the rows are split into calls. */
static void codec_attn_run(void *ctx, int64_t begin, int64_t end, int tid) {
    const codec_attn_task *t = ctx;
    codec_ws *w = t->w;
    const vox_config *c = &w->m->cfg;
    const int H = c->codec.n_heads, hd = c->codec.head_dim,
              group = c->codec.n_heads / c->codec.n_kv_heads;
    const size_t qd = (size_t)H * hd, kvd = (size_t)c->codec.n_kv_heads * hd;
    float *sc = w->scores + (size_t)tid * w->score_stride;
    const int64_t first = t->base - t->nc; /* global row of w->k row 0 */
    for (int64_t it = begin; it < end; it++) {
        const int i = (int)(it / H), h = (int)(it % H), kvh = h / group;
        const int64_t gi = t->base + i;
        const int64_t lo = vox_codec_key_lo(gi, t->window, t->w_keys);
        const int n = (int)(gi - lo + 1); /* may be 0 with W keys and W = 0 */
        const size_t kv0 = (size_t)(lo - first) * kvd + (size_t)kvh * hd;
        vox_codec_attn_head(w->q + (size_t)i * qd + (size_t)h * hd, w->k + kv0, w->v + kv0, kvd, n,
                            hd, t->scale, w->slopes[h], (int)(lo - gi), sc,
                            w->att + (size_t)i * qd + (size_t)h * hd);
    }
}

/* One codec transformer layer (§6.4) on the T new rows w->x [T][dim], in place;
 * base rows of this stage were decoded before, and kc / vc hold the last
 * min(base, W) of their post-QK-norm keys and values (updated here). */
static void codec_layer(codec_ws *w, const vox_codec_layer_w *l, int T, int64_t base, int window,
                        float *kc, float *vc) {
    const voxtts_model *m = w->m;
    const vox_config *c = &m->cfg;
    const int D = c->codec.dim, H = c->codec.n_heads, hd = c->codec.head_dim;
    const int qd = H * hd, kvd = c->codec.n_kv_heads * hd, hidden = c->codec.hidden_dim;
    const int nc = base < window ? (int)base : window;
    float *xn = w->y;
    float *knew = w->k + (size_t)nc * kvd, *vnew = w->v + (size_t)nc * kvd;
    memcpy(w->k, kc, sizeof(float) * (size_t)nc * kvd);
    memcpy(w->v, vc, sizeof(float) * (size_t)nc * kvd);
    for (int t = 0; t < T; t++)
        vox_rmsnorm(w->x + (size_t)t * D, l->attention_norm, D, c->codec.norm_eps,
                    xn + (size_t)t * D);
    const vox_tensor *wqkv[3] = {l->wq, l->wk, l->wv};
    float *yqkv[3] = {w->q, knew, vnew};
    vox_matmul_multi(m->pool, 3, wqkv, xn, T, yqkv);
    if (c->codec.qk_norm) {
        /* over the full projection, before the head split (§6.4, §9 #19) */
        for (int t = 0; t < T; t++) {
            vox_rmsnorm(w->q + (size_t)t * qd, l->q_norm, qd, c->codec.qk_norm_eps,
                        w->q + (size_t)t * qd);
            vox_rmsnorm(knew + (size_t)t * kvd, l->k_norm, kvd, c->codec.qk_norm_eps,
                        knew + (size_t)t * kvd);
        }
    }
    codec_attn_task at = {w, base, nc, window, w->w_keys, 1.0f / sqrtf((float)hd)};
    vox_pool_for(m->pool, (int64_t)T * H, 4, codec_attn_run, &at);
    /* carry the last W keys / values to the next call */
    const int have = nc + T, keep = have < window ? have : window;
    memcpy(kc, w->k + (size_t)(have - keep) * kvd, sizeof(float) * (size_t)keep * kvd);
    memcpy(vc, w->v + (size_t)(have - keep) * kvd, sizeof(float) * (size_t)keep * kvd);
    vox_matmul_pool(m->pool, l->wo, w->att, T, xn);
    if (l->attention_scale) {
        for (int t = 0; t < T; t++)
            vox_add_scaled(w->x + (size_t)t * D, xn + (size_t)t * D, l->attention_scale, D);
    } else {
        vox_add(w->x, xn, T * D);
    }
    for (int t0 = 0; t0 < T; t0 += FFN_ROWS) {
        const int n = T - t0 < FFN_ROWS ? T - t0 : FFN_ROWS;
        float *xr = w->x + (size_t)t0 * D, *nr = xn + (size_t)t0 * D;
        for (int t = 0; t < n; t++)
            vox_rmsnorm(xr + (size_t)t * D, l->ffn_norm, D, c->codec.norm_eps, nr + (size_t)t * D);
        const vox_tensor *w13[2] = {l->w1, l->w3};
        float *y13[2] = {w->h1, w->h3};
        vox_matmul_multi(m->pool, 2, w13, nr, n, y13);
        vox_silu_mul_pool(m->pool, w->h1, w->h3, n * hidden);
        vox_matmul_pool(m->pool, l->w2, w->h1, n, nr);
        if (l->ffn_scale) {
            for (int t = 0; t < n; t++)
                vox_add_scaled(xr + (size_t)t * D, nr + (size_t)t * D, l->ffn_scale, D);
        } else {
            vox_add(xr, nr, n * D);
        }
    }
}

int vox_codec_context_frames(const vox_config *cfg) {
    /* Walk back from the first output row of a frame f through every layer, in
     * output rows of each stage (§6.5): the output conv reaches k-1 rows back,
     * each transformer layer W rows (W+1 keys), a transposed conv (k, s) maps
     * output row t to input rows ceil((t-k+1)/s) .. floor(t/s), conv0 k-1 frames.
     * (W+1 keys is the wider of the two window options, so the bound holds for
     * both.)  Walked from a frame f = base far from the start so that every
     * division is on positive numbers; the answer is f minus the earliest frame. */
    int windows[VOX_MAX_CODEC_STAGES];
    vox_codec_windows(cfg, windows);
    int64_t rows_per_frame = 1;
    for (int i = 0; i < cfg->codec.n_stages; i++) rows_per_frame *= cfg->codec.conv_strides[i];
    /* start far enough from 0 that the divisions below stay on non-negative numbers */
    const int64_t base = (int64_t)1 << 40;
    int64_t t = base * rows_per_frame;
    t -= cfg->codec.patch_proj_kernel_size - 1;
    for (int i = cfg->codec.n_stages - 1; i >= 0; i--) {
        t -= (int64_t)cfg->codec.transformer_lengths[i] * windows[i];
        const int64_t k = cfg->codec.conv_kernels[i], s = cfg->codec.conv_strides[i];
        if (i > 0)
            t = (t - k + 1 + s - 1) / s; /* ceil((t-k+1)/s), t-k+1 > 0 */
        else
            t -= k - 1;
    }
    return (int)(base - t);
}

int vox_codec_start_frames(const vox_config *cfg) {
    /* the output conv's reflect padding mirrors rows 1..k-1 of the 100 Hz
     * sequence (§6.3): they must exist for the first samples to be final */
    int64_t rows_per_frame = 1;
    for (int i = 0; i < cfg->codec.n_stages; i++) rows_per_frame *= cfg->codec.conv_strides[i];
    const int64_t k = cfg->codec.patch_proj_kernel_size;
    return (int)((k + rows_per_frame - 1) / rows_per_frame);
}

/* The buffers of a workspace for T_max rows of at most C_max channels, convs
 * of at most k_max taps and windows of at most W_max (NULL when out of memory);
 * layers_only: just what the transformer layers use (no x, pad, tmp).  The
 * caller checked the sizes and H <= 64. */
static codec_ws *codec_ws_alloc(const voxtts_model *m, int64_t T_max, int64_t C_max, int64_t k_max,
                                int64_t W_max, int layers_only) {
    const vox_config *c = &m->cfg;
    const int qd = c->codec.n_heads * c->codec.head_dim,
              kvd = c->codec.n_kv_heads * c->codec.head_dim;
    codec_ws *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->m = m;
    w->T_max = (int)T_max;
    w->C_max = (int)C_max;
    w->y = vox_codec_alloc2((size_t)T_max, (size_t)C_max);
    if (!layers_only) {
        w->x = vox_codec_alloc2((size_t)T_max, (size_t)C_max);
        w->tmp = vox_codec_alloc2((size_t)(T_max + k_max), (size_t)C_max);
        w->pad = vox_codec_alloc2((size_t)(T_max + k_max), (size_t)C_max);
    }
    w->q = vox_codec_alloc2((size_t)T_max, (size_t)qd);
    w->att = vox_codec_alloc2((size_t)T_max, (size_t)qd);
    w->k = vox_codec_alloc2((size_t)(T_max + W_max), (size_t)kvd);
    w->v = vox_codec_alloc2((size_t)(T_max + W_max), (size_t)kvd);
    w->h1 = vox_codec_alloc2(FFN_ROWS, (size_t)c->codec.hidden_dim);
    w->h3 = vox_codec_alloc2(FFN_ROWS, (size_t)c->codec.hidden_dim);
    w->score_stride = (int)W_max + 1;
    w->scores = vox_codec_alloc2((size_t)vox_pool_threads(m->pool), (size_t)w->score_stride);
    if (!((layers_only || (w->x && w->tmp && w->pad)) && w->y && w->q && w->att && w->k && w->v &&
          w->h1 && w->h3 && w->scores)) {
        vox_codec_ws_free(w);
        return NULL;
    }
    vox_codec_ws_start(w, 0, 0);
    return w;
}

int vox_codec_ws_rows(const voxtts_model *m, int rows, int w_max, vox_codec_ws **out,
                      vox_error *err) {
    const vox_config *c = &m->cfg;
    *out = NULL;
    if (rows < 1 || w_max < 0)
        return vox_fail(err, VOX_E_INTERNAL, "codec: workspace of %d rows", rows);
    if (c->codec.n_heads > 64)
        return vox_fail(err, VOX_E_UNSUPPORTED, "codec: %d attention heads (at most 64)",
                        c->codec.n_heads);
    codec_ws *w = codec_ws_alloc(m, rows, c->codec.dim, 1, w_max, 1);
    const size_t kvd = (size_t)c->codec.n_kv_heads * (size_t)c->codec.head_dim;
    if (w) {
        w->k_scratch = vox_codec_alloc2((size_t)w_max, kvd);
        w->v_scratch = vox_codec_alloc2((size_t)w_max, kvd);
    }
    if (!w || !w->k_scratch || !w->v_scratch) {
        vox_codec_ws_free(w);
        return vox_fail(err, VOX_E_NOMEM, "codec: out of memory for %d rows", rows);
    }
    *out = w;
    return VOX_OK;
}

int vox_codec_ws_layers(vox_codec_ws *w, const vox_codec_layer_w *layers, int n_layers,
                        int window, float *x, int T, vox_error *err) {
    if (T < 1 || T > w->T_max || !w->k_scratch || window > w->score_stride - 1)
        return vox_fail(err, VOX_E_INTERNAL, "codec: %d rows for a workspace of %d", T, w->T_max);
    float *own = w->x;
    w->x = x; /* the layers work on w->x in place */
    for (int j = 0; j < n_layers; j++)
        codec_layer(w, &layers[j], T, 0, window, w->k_scratch, w->v_scratch);
    w->x = own;
    return VOX_OK;
}

int vox_codec_ws_new(const voxtts_model *m, int max_frames, vox_codec_ws **out, vox_error *err) {
    const vox_config *c = &m->cfg;
    const vox_weights *wt = &m->w;
    *out = NULL;
    if (max_frames < 1) return vox_fail(err, VOX_E_ARG, "codec: no frames to decode");
    const int sd = c->codec.semantic_dim, A = c->n_acoustic_codebook, D = c->codec.dim,
              patch = c->codec.patch_size;
    const int latent = sd + A;

    /* sizes: the time axis grows by each stride */
    int64_t T_max = max_frames, k_max = wt->out_kernel, W_max = 0;
    for (int i = 0; i < wt->n_stages; i++) {
        T_max *= wt->stages[i].stride;
        if (T_max > (int64_t)1 << 30)
            return vox_fail(err, VOX_E_ARG, "codec: %d frames is too long to decode", max_frames);
        if (wt->stages[i].kernel > k_max) k_max = wt->stages[i].kernel;
        if (wt->stages[i].window > W_max) W_max = wt->stages[i].window;
    }
    int64_t C_max = latent > D ? latent : D;
    if (patch > C_max) C_max = patch;
    const int H = c->codec.n_heads, kvd = c->codec.n_kv_heads * c->codec.head_dim;
    if (H > 64) return vox_fail(err, VOX_E_UNSUPPORTED, "codec: %d attention heads (at most 64)", H);

    codec_ws *w = codec_ws_alloc(m, T_max, C_max, k_max, W_max, 0);
    if (!w) return vox_fail(err, VOX_E_NOMEM, "codec: out of memory for %d frames", max_frames);
    w->max_frames = max_frames;
    int ok = 1;
    for (int i = 0; ok && i < wt->n_stages; i++) {
        const vox_codec_stage_w *st = &wt->stages[i];
        const size_t cache = (size_t)st->n_layers * (size_t)st->window;
        w->conv_cache[i] = vox_codec_alloc2((size_t)conv_keep(st), (size_t)st->in_ch);
        w->kc[i] = vox_codec_alloc2(cache, (size_t)kvd);
        w->vc[i] = vox_codec_alloc2(cache, (size_t)kvd);
        ok = w->conv_cache[i] && w->kc[i] && w->vc[i];
    }
    if (ok) w->out_cache = vox_codec_alloc2((size_t)(wt->out_kernel - 1), (size_t)D);
    if (!ok || !w->out_cache) {
        vox_codec_ws_free(w);
        return vox_fail(err, VOX_E_NOMEM, "codec: out of memory for %d frames", max_frames);
    }
    vox_codec_ws_start(w, 0, 0);
    *out = w;
    return VOX_OK;
}

void vox_codec_ws_free(vox_codec_ws *w) {
    if (!w) return;
    codec_ws_release(w);
    free(w);
}

void vox_codec_ws_start(vox_codec_ws *w, int alibi_press, int window_w_keys) {
    const int H = w->m->cfg.codec.n_heads;
    vox_codec_slopes(H, alibi_press, w->slopes);
    w->w_keys = window_w_keys ? 1 : 0;
    w->frames_done = 0;
    w->rows_out = 0;
    for (int i = 0; i < VOX_MAX_CODEC_STAGES; i++) w->rows_in[i] = 0;
}

int vox_codec_decode_next(vox_codec_ws *w, const int32_t *codes, int n_frames, int final,
                          float *wave, vox_error *err) {
    const voxtts_model *m = w->m;
    const vox_config *c = &m->cfg;
    const vox_weights *wt = &m->w;
    if (n_frames < 1) return vox_fail(err, VOX_E_ARG, "codec: no frames to decode");
    if (n_frames > w->max_frames)
        return vox_fail(err, VOX_E_INTERNAL, "codec: %d frames for a workspace of %d", n_frames,
                        w->max_frames);
    if (w->frames_done == 0 && !final && n_frames < vox_codec_start_frames(c))
        return vox_fail(err, VOX_E_INTERNAL,
                        "codec: a stream must start with at least %d frames (got %d)",
                        vox_codec_start_frames(c), n_frames);
    int rc = vox_check_codes(m, codes, n_frames, 2, err);
    if (rc) return rc;
    const int D = c->codec.dim, patch = c->codec.patch_size;
    /* latent (§6.1), one row per frame */
    vox_codec_latent_rows(m, codes, n_frames, w->x);

    int T = n_frames;
    for (int i = 0; i < wt->n_stages; i++) {
        const vox_codec_stage_w *st = &wt->stages[i];
        const int k = st->kernel, cin = st->in_ch, keep = conv_keep(st);
        const int64_t before = w->rows_in[i];
        /* conv input: the carried rows, then the new ones */
        int nc = keep;
        if (!st->transposed) {
            /* CausalConv1d: replicate left pad k-1 at the stream start (§6.3) */
            if (before == 0)
                for (int p = 0; p < keep; p++)
                    memcpy(w->conv_cache[i] + (size_t)p * cin, w->x, sizeof(float) * (size_t)cin);
        } else if (before < keep) {
            nc = (int)before; /* nothing before the stream start: the full conv has no input there */
        }
        memcpy(w->pad, w->conv_cache[i], sizeof(float) * (size_t)nc * cin);
        memcpy(w->pad + (size_t)nc * cin, w->x, sizeof(float) * (size_t)T * cin);
        const int have = nc + T, kept = have < keep ? have : keep;
        memcpy(w->conv_cache[i], w->pad + (size_t)(have - kept) * cin,
               sizeof(float) * (size_t)kept * cin);
        w->rows_in[i] += T;
        int64_t base; /* rows of this stage's output decoded before this call */
        if (!st->transposed) {
            vox_codec_conv_valid(m, st->taps, k, cin, st->out_ch, w->pad, T, w->x, w->tmp);
            base = before;
        } else {
            /* CausalConvTranspose1d: y[t*s + j] += W_j^T x[t] over the full
             * conv, trimmed on the right: the new output rows [B*s, (B+T)*s)
             * take taps j = 0..k-1 in order, as the whole decode does; rows
             * past the end come back next call from the carried inputs */
            const int s = st->stride, cout = st->out_ch;
            const int T2 = T * s;
            vox_codec_conv_transpose(m, st->taps, k, s, cin, cout, w->pad, have, nc, T2, w->y,
                                     w->tmp);
            memcpy(w->x, w->y, sizeof(float) * (size_t)T2 * cout);
            T = T2;
            base = before * s;
        }
        for (int j = 0; j < st->n_layers; j++) {
            const size_t off = (size_t)j * st->window * (size_t)(c->codec.n_kv_heads * c->codec.head_dim);
            codec_layer(w, &st->layers[j], T, base, st->window, w->kc[i] + off, w->vc[i] + off);
        }
    }

    /* output_proj: reflect left pad k-1 at the stream start (mirror excluding
     * the edge; where the mirror runs past the end, T <= k-1, it reads zeros,
     * as VO's pad1d does, which only a whole sequence that short can see),
     * afterwards the last k-1 padded rows of the previous call */
    const int k = wt->out_kernel;
    if (w->rows_out == 0) {
        vox_codec_reflect_pad(w->x, T, D, k - 1, w->pad);
    } else {
        memcpy(w->pad, w->out_cache, sizeof(float) * (size_t)(k - 1) * D);
    }
    memcpy(w->pad + (size_t)(k - 1) * D, w->x, sizeof(float) * (size_t)T * D);
    memcpy(w->out_cache, w->pad + (size_t)T * D, sizeof(float) * (size_t)(k - 1) * D);
    w->rows_out += T;
    w->frames_done += n_frames;
    vox_codec_conv_valid(m, wt->out_taps, k, D, patch, w->pad, T, wave, w->tmp);
    return VOX_OK;
}

int vox_codec_decode(const voxtts_model *m, const int32_t *codes, int n_frames, int alibi_press,
                     int window_w_keys, float *wave, vox_error *err) {
    if (n_frames < 1) return vox_fail(err, VOX_E_ARG, "codec: no frames to decode");
    int rc = vox_check_codes(m, codes, n_frames, 2, err);
    if (rc) return rc;
    vox_codec_ws *w = NULL;
    if ((rc = vox_codec_ws_new(m, n_frames, &w, err))) return rc;
    vox_codec_ws_start(w, alibi_press, window_w_keys);
    rc = vox_codec_decode_next(w, codes, n_frames, 1, wave, err);
    vox_codec_ws_free(w);
    return rc;
}
