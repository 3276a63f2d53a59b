/* codec_impl.h — pieces of the codec decoder (docs/MODEL.md §6) shared by
 * codec.c (inference) and codec_grad.c (the differentiable decoder), and the
 * op-level forward/backward routines of codec_grad.c that its unit test checks
 * one by one against finite differences (tests/unit/test_codec_grad.c).
 * Internal: nothing here is part of the library's interface.
 *
 * Layouts are those of codec.c: activations time-major [T][channels]; conv
 * taps f32 [k][out][in]; a stride-1 causal conv reads padded rows
 * pad[T + k - 1][in] and gives y[t] = sum_j W_j pad[t + j]; a transposed conv
 * (k, s) gives y[t·s + j] += W_j x[t], trimmed to T·s rows. */
#ifndef VOX_VOXTRAL_CODEC_IMPL_H
#define VOX_VOXTRAL_CODEC_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "voxtral/model.h"

/* ---- shared by codec.c and codec_grad.c ---------------------------------- */

/* malloc of a*b floats (at least one), NULL on overflow or no memory. */
float *vox_codec_alloc2(size_t a, size_t b);
/* Tap j of folded conv taps [k][out][in] as an [out][in] f32 matrix view. */
vox_tensor vox_codec_tap_view(const float *taps, int j, int out_ch, int in_ch);
/* y[T][out] = stride-1 conv of the padded rows pad[T + k - 1][in]; tmp [T][out]. */
void vox_codec_conv_valid(const voxtts_model *m, const float *taps, int k, int in_ch, int out_ch,
                          const float *pad, int T, float *y, float *tmp);
/* Transposed conv (k, s) of the `have` input rows x, of which the first nc are
 * carried from before: the output rows [0, T2) that follow the carried rows,
 * y[(t - nc)·s + j] += W_j x[t], taps in order j = 0..k-1; tmp [have][out]. */
void vox_codec_conv_transpose(const voxtts_model *m, const float *taps, int k, int s, int in_ch,
                              int out_ch, const float *x, int have, int nc, int T2, float *y,
                              float *tmp);
/* The k-1 reflect-padding rows in front of x[T][D] at the stream start (§6.3):
 * pad[p] = x[k-1-p], zeros where k-1-p >= T (the short-input case). */
void vox_codec_reflect_start(const float *x, int T, int D, int k, float *pad);
/* ALiBi slopes of n_heads heads: 2^(-8h/H), or 2^(-8(h+1)/H) with alibi_press (§6.4). */
void vox_codec_slopes(int n_heads, int alibi_press, float *slopes);
/* First key of query row i: i - W (W+1 keys), or i - W + 1 with w_keys; >= 0. */
static inline int64_t vox_codec_key_lo(int64_t i, int window, int w_keys) {
    const int64_t lo = i - window + (w_keys ? 1 : 0);
    return lo < 0 ? 0 : lo;
}
/* One query row and head over n keys k[j], v[j] (rows kv_stride floats apart):
 * p[j] = softmax_j(scale·q·k[j] + slope·(j + d0)) (d0 = first key - query row),
 * out[hd] = sum_j p[j] v[j]. */
void vox_codec_attn_head(const float *q, const float *k, const float *v, size_t kv_stride, int n,
                         int hd, float scale, float slope, int d0, float *p, float *out);
/* Latent rows [n][semantic_dim + n_acoustic] of checked offset codes (§6.1). */
void vox_codec_latent_rows(const voxtts_model *m, const int32_t *codes, int n, float *latent);

/* ---- codec_grad.c: op-level forward/backward (tested one by one) -------- */

/* RMSNorm backward of y = x·r·g, r = (mean(x²) + eps)^-1/2, over n elements
 * (g NULL: no gain): dx = r·u - x·r³·(u·x)/n with u = dy·g; added to dx when
 * acc, else written (dx may then alias dy). */
void vox_cg_rmsnorm_backward(const float *x, const float *g, int n, float eps, const float *dy,
                             float *dx, int acc);
/* SwiGLU y = silu(h1)·h3 backward: dh1 = dy·h3·silu'(h1), dh3 = dy·silu(h1). */
void vox_cg_swiglu_backward(const float *h1, const float *h3, const float *dy, int n, float *dh1,
                            float *dh3);

/* Causal sliding-window attention with ALiBi (§6.4) on T rows: q [T][H·hd],
 * k and v [T][KVH·hd], query head h reading kv head h / (H / KVH). */
typedef struct vox_cg_attn {
    int T, H, KVH, hd, window, w_keys;
    float scale;
    const float *slopes; /* [H] */
} vox_cg_attn;
/* Keys per row of the probability buffers: window + 1. */
static inline int vox_cg_attn_keys(const vox_cg_attn *a) { return a->window + 1; }
/* p [T][H][window+1] (row i's keys from vox_codec_key_lo), out [T][H·hd]. */
void vox_cg_attn_forward(vox_pool *pool, const vox_cg_attn *a, const float *q, const float *k,
                         const float *v, float *p, float *out);
/* dq, dk, dv (row stride ld floats, written) from p and dout [T][H·hd];
 * ds: scratch [T][H][window+1]. */
void vox_cg_attn_backward(vox_pool *pool, const vox_cg_attn *a, const float *q, const float *k,
                          const float *v, const float *p, const float *dout, float *ds, float *dq,
                          float *dk, float *dv, size_t ld);

/* out = [in][sum_j out_j]: the transposes of n matrices W[j] [out_j][in] (any
 * dtype) side by side; BF16 when every W[j] is BF16 (exact), else F32.
 * *buf owns the data (free it). */
int vox_cg_transpose_cat(vox_pool *pool, int n, const vox_tensor *const *W, vox_tensor *out,
                         void **buf);
/* The transposed taps of a stride-1 conv as one [in][k·out] matrix, taps in
 * reverse order (block m holds W_{k-1-m}^T), for vox_cg_conv_backward; or, for
 * a transposed conv, in order (block j holds W_j^T), for vox_cg_convt_backward. */
int vox_cg_taps_t(vox_pool *pool, const float *taps, int k, int out_ch, int in_ch, int reverse,
                  vox_tensor *out, void **buf);
/* Stride-1 conv backward: dpad[T + k - 1][in] from dy[T][out]; cat scratch
 * [T + k - 1][k·out]. */
void vox_cg_conv_backward(vox_pool *pool, const vox_tensor *taps_t, int k, int out_ch,
                          const float *dy, int T, float *dpad, float *cat);
/* Transposed conv (k, s) backward: dx[T][in] from dy[T·s][out]; cat [T][k·out]. */
void vox_cg_convt_backward(vox_pool *pool, const vox_tensor *taps_t, int k, int s, int out_ch,
                           const float *dy, int T, float *dx, float *cat);
/* Gradient of the input rows x[T][C] from that of the padded rows dpad[T+k-1][C]:
 * replicate padding (pad rows are x[0]) or reflect padding (vox_codec_reflect_start). */
void vox_cg_unpad_replicate(const float *dpad, int T, int k, int C, float *dx);
void vox_cg_unpad_reflect(const float *dpad, int T, int k, int C, float *dx);

/* One codec transformer layer (§6.4) with what its backward needs. */
typedef struct vox_cg_layer_t {
    vox_tensor qkv_t, o_t, w13_t, w2_t; /* [D][qd+2kvd], [qd][D], [D][2·hidden], [hidden][D] */
    void *buf[4];
} vox_cg_layer_t;
int vox_cg_layer_t_make(vox_pool *pool, const vox_codec_layer_w *l, vox_cg_layer_t *t);
void vox_cg_layer_t_free(vox_cg_layer_t *t);

typedef struct vox_cg_layer_save {
    float *xmid;        /* [T][D] after the attention residual */
    float *qr, *kr;     /* [T][qd], [T][kvd] before QK-norm (NULL without qk_norm) */
    float *q, *k, *v;   /* [T][qd], [T][kvd], [T][kvd] as attention reads them */
    float *p;           /* [T][H][window+1] attention probabilities */
    float *h1, *h3;     /* [T][hidden] FFN gate and up projections */
} vox_cg_layer_save;

/* Scratch of the layer routines, each at least T rows. */
typedef struct vox_cg_layer_scratch {
    float *xn;   /* [T][D] */
    float *att;  /* [T][qd] */
    float *g;    /* [T][hidden] */
    float *dqkv; /* [T][qd + 2kvd] */
    float *dh13; /* [T][2·hidden] */
    float *ds;   /* [T][H][window+1] */
} vox_cg_layer_scratch;

/* y[T][D] = layer(x) (y may not alias x), filling sv. */
void vox_cg_layer_forward(vox_pool *pool, const vox_config *c, const vox_codec_layer_w *l,
                          const vox_cg_attn *a, const float *x, int T, float *y,
                          const vox_cg_layer_save *sv, const vox_cg_layer_scratch *s);
/* dx[T][D]: in, dL/d(output); out, dL/d(input) of the forward saved in sv. */
void vox_cg_layer_backward(vox_pool *pool, const vox_config *c, const vox_codec_layer_w *l,
                           const vox_cg_layer_t *t, const vox_cg_attn *a, const float *x, int T,
                           float *dx, const vox_cg_layer_save *sv, const vox_cg_layer_scratch *s);

#endif
