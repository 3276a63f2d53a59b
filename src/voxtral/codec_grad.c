/* codec_grad.c — the codec decoder made differentiable (codec_grad.h) for
 * voice cloning by inversion (docs/MODEL.md §6, §7 "Inversion").
 *
 * Forward: the same operations in the same order as codec.c's whole-sequence
 * decode (the convs, the attention rows and the latent are codec.c's own
 * routines, codec_impl.h; every other op is the same kernel call), so the
 * latent of real codes gives vox_codec_decode's waveform.  What the backward
 * needs is kept per transformer layer: its input (the activation chain between
 * layers is stored anyway), the rows after the attention residual, q/k before
 * and after QK-norm, v, the attention probabilities and the FFN's gate and up
 * projections.  At full size (dim 1024, hidden 4096, 8 layers at 12.5..100 Hz)
 * that is about 60 KB per layer row, ~140 MB for 80 frames; the conv inputs,
 * the normalized rows and the attention output are not kept (the convs and the
 * matrix products are linear in them; the norms are recomputed).
 *
 * Backward: weights are frozen, so only input gradients are formed, dx = Wᵀ dy.
 * The workspace holds transposed copies of the codec's matrices, made once:
 * per layer [wq;wk;wv]ᵀ, woᵀ, [w1;w3]ᵀ and w2ᵀ, side by side where they share an
 * input so that one product gives the summed gradient (BF16 when the weights
 * are BF16 — exact — else F32, dequantized), and every conv's taps as one
 * [in][k·out] matrix so that a conv's backward is a single product over rows
 * that gather the k output gradients each input row reached.  All products go
 * through vox_matmul (threaded, SIMD); attention and the row-wise ops are split
 * over the model's pool by rows, so results do not depend on the thread count.
 *
 * Op backward formulas (x a row, r = (mean(x²)+eps)^-1/2):
 *   RMSNorm y = x·r·g:       dx = r·u - x·r³·(u·x)/n, u = dy·g
 *   SwiGLU y = silu(a)·b:    da = dy·b·σ(a)(1 + a(1-σ(a))), db = dy·silu(a)
 *   attention p = softmax(scale·q·k_j + slope·(j-i)), o = Σ p_j v_j:
 *                            ds_j = p_j(dp_j - Σ p dp), dp_j = do·v_j;
 *                            dq = scale Σ ds_j k_j, dk_j += scale ds_j q, dv_j += p_j do
 *   LayerScale residual y = x + s⊙f(x): dx = dy + f'ᵀ(s⊙dy)
 *   replicate pad: the pad rows' gradients go to row 0; reflect pad: pad row p
 *   to row k-1-p (nothing where it read zeros); unpatching is the identity on
 *   the time-major output buffer. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "voxtral/codec_grad.h"
#include "voxtral/codec_impl.h"

#define ROW_CHUNK 4   /* rows per pool item in the row-wise ops */
#define TCAT_ROWS 32  /* source rows per pool item when transposing */

/* ---- row-wise ops ---------------------------------------------------------- */

void vox_cg_rmsnorm_backward(const float *x, const float *g, int n, float eps, const float *dy,
                             float *dx, int acc) {
    double ss = 0.0, ux = 0.0;
    for (int i = 0; i < n; i++) {
        const double u = g ? (double)dy[i] * g[i] : (double)dy[i];
        ss += (double)x[i] * x[i];
        ux += u * x[i];
    }
    const double r = 1.0 / sqrt(ss / (double)n + (double)eps);
    const float rf = (float)r, cf = (float)(r * r * r * ux / (double)n);
    for (int i = 0; i < n; i++) {
        const float u = g ? dy[i] * g[i] : dy[i];
        const float v = rf * u - x[i] * cf;
        dx[i] = acc ? dx[i] + v : v;
    }
}

void vox_cg_swiglu_backward(const float *h1, const float *h3, const float *dy, int n, float *dh1,
                            float *dh3) {
    for (int i = 0; i < n; i++) {
        const float a = h1[i], sg = 1.0f / (1.0f + expf(-a)), d = dy[i];
        dh1[i] = d * h3[i] * sg * (1.0f + a * (1.0f - sg));
        dh3[i] = d * a * sg;
    }
}

enum { ROWS_RMS, ROWS_RMS_BACK, ROWS_SWIGLU_BACK };

typedef struct rows_task {
    int kind; /* ROWS_* */
    const float *x, *g, *dy;
    float *y;
    int n;
    float eps;
    int acc;
    size_t ldx, ldy; /* row strides of x, of dy and y */
} rows_task;

static void rows_run(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const rows_task *t = ctx;
    for (int64_t r = begin; r < end; r++) {
        const float *x = t->x + (size_t)r * t->ldx;
        switch (t->kind) {
        case ROWS_RMS: vox_rmsnorm(x, t->g, t->n, t->eps, t->y + (size_t)r * t->ldy); break;
        case ROWS_RMS_BACK:
            vox_cg_rmsnorm_backward(x, t->g, t->n, t->eps, t->dy + (size_t)r * t->ldy,
                                    t->y + (size_t)r * t->ldy, t->acc);
            break;
        default: {
            /* x: h1 rows, g: h3 rows (ldx), dy rows (ldx), y: [dh1 | dh3] rows (ldy) */
            float *y = t->y + (size_t)r * t->ldy;
            vox_cg_swiglu_backward(x, t->g + (size_t)r * t->ldx, t->dy + (size_t)r * t->ldx, t->n,
                                   y, y + t->n);
        }
        }
    }
}

static void rms_rows(vox_pool *pool, const float *x, size_t ldx, const float *g, int n, float eps,
                     float *y, size_t ldy, int T) {
    rows_task t = {ROWS_RMS, x, g, NULL, y, n, eps, 0, ldx, ldy};
    vox_pool_for(pool, T, ROW_CHUNK, rows_run, &t);
}

static void rms_back_rows(vox_pool *pool, const float *x, size_t ldx, const float *g, int n,
                          float eps, const float *dy, float *dx, size_t ld, int acc, int T) {
    rows_task t = {ROWS_RMS_BACK, x, g, dy, dx, n, eps, acc, ldx, ld};
    vox_pool_for(pool, T, ROW_CHUNK, rows_run, &t);
}

/* ---- attention ------------------------------------------------------------- */

typedef struct attn_task {
    const vox_cg_attn *a;
    const float *q, *k, *v, *p, *dout;
    float *pw, *out, *ds, *dq, *dk, *dv;
    size_t ld;
} attn_task;

/* Items (row, head). */
static void attn_fwd_run(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const attn_task *t = ctx;
    const vox_cg_attn *a = t->a;
    const int H = a->H, hd = a->hd, group = a->H / a->KVH, np = vox_cg_attn_keys(a);
    const size_t qd = (size_t)H * hd, kvd = (size_t)a->KVH * hd;
    for (int64_t it = begin; it < end; it++) {
        const int i = (int)(it / H), h = (int)(it % H);
        const int64_t lo = vox_codec_key_lo(i, a->window, a->w_keys);
        const int n = (int)(i - lo + 1);
        const size_t kv0 = (size_t)lo * kvd + (size_t)(h / group) * hd;
        float *p = t->pw + (size_t)it * np;
        memset(p, 0, sizeof(float) * (size_t)np);
        vox_codec_attn_head(t->q + (size_t)i * qd + (size_t)h * hd, t->k + kv0, t->v + kv0, kvd, n,
                            hd, a->scale, a->slopes[h], (int)(lo - i), p,
                            t->out + (size_t)i * qd + (size_t)h * hd);
    }
}

void vox_cg_attn_forward(vox_pool *pool, const vox_cg_attn *a, const float *q, const float *k,
                         const float *v, float *p, float *out) {
    attn_task t = {a, q, k, v, NULL, NULL, p, out, NULL, NULL, NULL, NULL, 0};
    vox_pool_for(pool, (int64_t)a->T * a->H, 4, attn_fwd_run, &t);
}

/* Pass 1, items (row i, head h): ds = scale·p(dp - Σ p dp) and dq. */
static void attn_bwd_q_run(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const attn_task *t = ctx;
    const vox_cg_attn *a = t->a;
    const int H = a->H, hd = a->hd, group = a->H / a->KVH, np = vox_cg_attn_keys(a);
    const size_t qd = (size_t)H * hd, kvd = (size_t)a->KVH * hd;
    for (int64_t it = begin; it < end; it++) {
        const int i = (int)(it / H), h = (int)(it % H);
        const int64_t lo = vox_codec_key_lo(i, a->window, a->w_keys);
        const int n = (int)(i - lo + 1);
        const size_t kv0 = (size_t)lo * kvd + (size_t)(h / group) * hd;
        const float *p = t->p + (size_t)it * np, *dout = t->dout + (size_t)i * qd + (size_t)h * hd;
        float *ds = t->ds + (size_t)it * np, *dq = t->dq + (size_t)i * t->ld + (size_t)h * hd;
        float sum = 0.0f;
        for (int j = 0; j < n; j++) {
            ds[j] = vox_dot_f32(dout, t->v + kv0 + (size_t)j * kvd, hd);
            sum += p[j] * ds[j];
        }
        for (int j = 0; j < n; j++) ds[j] = p[j] * (ds[j] - sum) * a->scale;
        memset(dq, 0, sizeof(float) * (size_t)hd);
        for (int j = 0; j < n; j++) {
            const float *kj = t->k + kv0 + (size_t)j * kvd;
            for (int d = 0; d < hd; d++) dq[d] += ds[j] * kj[d];
        }
    }
}

/* Pass 2, items (key row j, kv head g): dk, dv summed over the queries that
 * read the key (rows j .. j + W, fewer with W keys) and the group's heads. */
static void attn_bwd_kv_run(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const attn_task *t = ctx;
    const vox_cg_attn *a = t->a;
    const int H = a->H, hd = a->hd, KVH = a->KVH, group = a->H / a->KVH, np = vox_cg_attn_keys(a);
    const size_t qd = (size_t)H * hd;
    const int64_t reach = (int64_t)a->window - (a->w_keys ? 1 : 0);
    for (int64_t it = begin; it < end; it++) {
        const int j = (int)(it / KVH), g = (int)(it % KVH);
        float *dk = t->dk + (size_t)j * t->ld + (size_t)g * hd;
        float *dv = t->dv + (size_t)j * t->ld + (size_t)g * hd;
        memset(dk, 0, sizeof(float) * (size_t)hd);
        memset(dv, 0, sizeof(float) * (size_t)hd);
        int64_t last = j + reach;
        if (last > a->T - 1) last = a->T - 1;
        for (int h = g * group; h < (g + 1) * group; h++) {
            for (int64_t i = j; i <= last; i++) {
                const int64_t jj = j - vox_codec_key_lo(i, a->window, a->w_keys);
                const size_t pi = ((size_t)i * H + (size_t)h) * np + (size_t)jj;
                const float ds = t->ds[pi], p = t->p[pi];
                const float *q = t->q + (size_t)i * qd + (size_t)h * hd;
                const float *dout = t->dout + (size_t)i * qd + (size_t)h * hd;
                for (int d = 0; d < hd; d++) {
                    dk[d] += ds * q[d];
                    dv[d] += p * dout[d];
                }
            }
        }
    }
}

void vox_cg_attn_backward(vox_pool *pool, const vox_cg_attn *a, const float *q, const float *k,
                          const float *v, const float *p, const float *dout, float *ds, float *dq,
                          float *dk, float *dv, size_t ld) {
    attn_task t = {a, q, k, v, p, dout, NULL, NULL, ds, dq, dk, dv, ld};
    vox_pool_for(pool, (int64_t)a->T * a->H, 4, attn_bwd_q_run, &t);
    vox_pool_for(pool, (int64_t)a->T * a->KVH, 4, attn_bwd_kv_run, &t);
}

/* ---- transposed weights ---------------------------------------------------- */

typedef struct tcat_task {
    int n;
    const vox_tensor *const *W;
    const int64_t *off; /* [n + 1]: first concatenated row of each matrix */
    int64_t in, total;
    int bf16;
    void *dst;
    float *rows; /* [threads][TCAT_ROWS][in] */
} tcat_task;

/* Items: blocks of TCAT_ROWS concatenated source rows -> columns of dst. */
static void tcat_run(void *ctx, int64_t begin, int64_t end, int tid) {
    const tcat_task *t = ctx;
    float *rows = t->rows + (size_t)tid * TCAT_ROWS * (size_t)t->in;
    for (int64_t b = begin; b < end; b++) {
        const int64_t r0 = b * TCAT_ROWS, r1 = r0 + TCAT_ROWS < t->total ? r0 + TCAT_ROWS : t->total;
        int j = 0;
        for (int64_t r = r0; r < r1; r++) {
            while (r >= t->off[j + 1]) j++;
            vox_tensor_get_row(t->W[j], r - t->off[j], rows + (size_t)(r - r0) * t->in);
        }
        const int nr = (int)(r1 - r0);
        for (int64_t i = 0; i < t->in; i++) {
            if (t->bf16) {
                uint16_t *d = (uint16_t *)t->dst + (size_t)i * t->total + r0;
                for (int r = 0; r < nr; r++) d[r] = vox_f32_to_bf16(rows[(size_t)r * t->in + i]);
            } else {
                float *d = (float *)t->dst + (size_t)i * t->total + r0;
                for (int r = 0; r < nr; r++) d[r] = rows[(size_t)r * t->in + i];
            }
        }
    }
}

int vox_cg_transpose_cat(vox_pool *pool, int n, const vox_tensor *const *W, vox_tensor *out,
                         void **buf) {
    *buf = NULL;
    memset(out, 0, sizeof *out);
    if (n < 1) return VOX_E_ARG;
    const int64_t in = W[0]->shape[1];
    int bf16 = 1;
    int64_t *off = malloc(sizeof(int64_t) * (size_t)(n + 1));
    if (!off) return VOX_E_NOMEM;
    off[0] = 0;
    for (int j = 0; j < n; j++) {
        if (W[j]->ndim != 2 || W[j]->shape[1] != in || W[j]->shape[0] < 1) {
            free(off);
            return VOX_E_SHAPE;
        }
        bf16 &= W[j]->dtype == VOX_BF16;
        off[j + 1] = off[j] + W[j]->shape[0];
    }
    const int64_t total = off[n];
    const size_t esize = bf16 ? sizeof(uint16_t) : sizeof(float);
    const int nt = vox_pool_threads(pool);
    void *dst = NULL;
    float *rows = NULL;
    if (in < 1 || total > INT64_MAX / in || (uint64_t)(total * in) > SIZE_MAX / esize ||
        !(dst = malloc((size_t)(total * in) * esize)) ||
        !(rows = vox_codec_alloc2((size_t)nt * TCAT_ROWS, (size_t)in))) {
        free(dst);
        free(off);
        return VOX_E_NOMEM;
    }
    tcat_task t = {n, W, off, in, total, bf16, dst, rows};
    vox_pool_for(pool, (total + TCAT_ROWS - 1) / TCAT_ROWS, 1, tcat_run, &t);
    free(rows);
    free(off);
    out->dtype = bf16 ? VOX_BF16 : VOX_F32;
    out->ndim = 2;
    out->shape[0] = in;
    out->shape[1] = total;
    out->data = dst;
    out->nbytes = (size_t)(total * in) * esize;
    *buf = dst;
    return VOX_OK;
}

int vox_cg_taps_t(vox_pool *pool, const float *taps, int k, int out_ch, int in_ch, int reverse,
                  vox_tensor *out, void **buf) {
    vox_tensor *views = malloc(sizeof(vox_tensor) * (size_t)k);
    const vox_tensor **ptrs = malloc(sizeof(*ptrs) * (size_t)k);
    int rc = VOX_E_NOMEM;
    if (views && ptrs) {
        for (int m = 0; m < k; m++) {
            views[m] = vox_codec_tap_view(taps, reverse ? k - 1 - m : m, out_ch, in_ch);
            ptrs[m] = &views[m];
        }
        rc = vox_cg_transpose_cat(pool, k, ptrs, out, buf);
    }
    free(views);
    free(ptrs);
    return rc;
}

int vox_cg_layer_t_make(vox_pool *pool, const vox_codec_layer_w *l, vox_cg_layer_t *t) {
    memset(t, 0, sizeof *t);
    const vox_tensor *qkv[3] = {l->wq, l->wk, l->wv}, *w13[2] = {l->w1, l->w3};
    int rc;
    if ((rc = vox_cg_transpose_cat(pool, 3, qkv, &t->qkv_t, &t->buf[0])) ||
        (rc = vox_cg_transpose_cat(pool, 1, &l->wo, &t->o_t, &t->buf[1])) ||
        (rc = vox_cg_transpose_cat(pool, 2, w13, &t->w13_t, &t->buf[2])) ||
        (rc = vox_cg_transpose_cat(pool, 1, &l->w2, &t->w2_t, &t->buf[3]))) {
        vox_cg_layer_t_free(t);
        return rc;
    }
    return VOX_OK;
}

void vox_cg_layer_t_free(vox_cg_layer_t *t) {
    for (int i = 0; i < 4; i++) {
        free(t->buf[i]);
        t->buf[i] = NULL;
    }
}

/* ---- convolutions ---------------------------------------------------------- */

void vox_cg_conv_backward(vox_pool *pool, const vox_tensor *taps_t, int k, int out_ch,
                          const float *dy, int T, float *dpad, float *cat) {
    const int R = T + k - 1;
    const size_t K = (size_t)k * out_ch, row = sizeof(float) * (size_t)out_ch;
    /* dpad[u] = sum_j W_jᵀ dy[u - j]: block m of row u holds dy[u - (k-1) + m] */
    for (int u = 0; u < R; u++)
        for (int m = 0; m < k; m++) {
            const int src = u - (k - 1) + m;
            float *d = cat + (size_t)u * K + (size_t)m * out_ch;
            if (src >= 0 && src < T)
                memcpy(d, dy + (size_t)src * out_ch, row);
            else
                memset(d, 0, row);
        }
    vox_matmul_pool(pool, taps_t, cat, R, dpad);
}

void vox_cg_convt_backward(vox_pool *pool, const vox_tensor *taps_t, int k, int s, int out_ch,
                           const float *dy, int T, float *dx, float *cat) {
    const size_t K = (size_t)k * out_ch;
    const int64_t T2 = (int64_t)T * s;
    /* dx[t] = sum_j W_jᵀ dy[t·s + j] over the rows the trim kept */
    for (int t = 0; t < T; t++) {
        float *d = cat + (size_t)t * K;
        const int64_t r0 = (int64_t)t * s;
        const int64_t nr = r0 + k <= T2 ? k : T2 - r0;
        memcpy(d, dy + (size_t)r0 * out_ch, sizeof(float) * (size_t)nr * out_ch);
        if (nr < k) memset(d + (size_t)nr * out_ch, 0, sizeof(float) * (size_t)(k - nr) * out_ch);
    }
    vox_matmul_pool(pool, taps_t, cat, T, dx);
}

void vox_cg_unpad_replicate(const float *dpad, int T, int k, int C, float *dx) {
    memcpy(dx, dpad + (size_t)(k - 1) * C, sizeof(float) * (size_t)T * C);
    for (int p = 0; p < k - 1; p++) vox_add(dx, dpad + (size_t)p * C, C);
}

void vox_cg_unpad_reflect(const float *dpad, int T, int k, int C, float *dx) {
    memcpy(dx, dpad + (size_t)(k - 1) * C, sizeof(float) * (size_t)T * C);
    for (int p = 0; p < k - 1; p++) {
        const int src = k - 1 - p;
        if (src < T) vox_add(dx + (size_t)src * C, dpad + (size_t)p * C, C);
    }
}

/* ---- transformer layer ----------------------------------------------------- */

/* y = x + s ⊙ f (s NULL: plain sum), rows of n. */
static void residual(float *y, const float *x, const float *f, const float *s, int n, int T) {
    memcpy(y, x, sizeof(float) * (size_t)n * T);
    for (int t = 0; t < T; t++) {
        if (s)
            vox_add_scaled(y + (size_t)t * n, f + (size_t)t * n, s, n);
        else
            vox_add(y + (size_t)t * n, f + (size_t)t * n, n);
    }
}

void vox_cg_layer_forward(vox_pool *pool, const vox_config *c, const vox_codec_layer_w *l,
                          const vox_cg_attn *a, const float *x, int T, float *y,
                          const vox_cg_layer_save *sv, const vox_cg_layer_scratch *s) {
    const int D = c->codec.dim, qd = c->codec.n_heads * c->codec.head_dim,
              kvd = c->codec.n_kv_heads * c->codec.head_dim, hidden = c->codec.hidden_dim;
    const int qkn = c->codec.qk_norm;
    rms_rows(pool, x, D, l->attention_norm, D, c->codec.norm_eps, s->xn, D, T);
    const vox_tensor *wqkv[3] = {l->wq, l->wk, l->wv};
    float *yqkv[3] = {qkn ? sv->qr : sv->q, qkn ? sv->kr : sv->k, sv->v};
    vox_matmul_multi(pool, 3, wqkv, s->xn, T, yqkv);
    if (qkn) { /* over the full projection, before the head split (§6.4) */
        rms_rows(pool, sv->qr, qd, l->q_norm, qd, c->codec.qk_norm_eps, sv->q, qd, T);
        rms_rows(pool, sv->kr, kvd, l->k_norm, kvd, c->codec.qk_norm_eps, sv->k, kvd, T);
    }
    vox_cg_attn_forward(pool, a, sv->q, sv->k, sv->v, sv->p, s->att);
    vox_matmul_pool(pool, l->wo, s->att, T, s->xn);
    residual(sv->xmid, x, s->xn, l->attention_scale, D, T);
    rms_rows(pool, sv->xmid, D, l->ffn_norm, D, c->codec.norm_eps, s->xn, D, T);
    const vox_tensor *w13[2] = {l->w1, l->w3};
    float *y13[2] = {sv->h1, sv->h3};
    vox_matmul_multi(pool, 2, w13, s->xn, T, y13);
    memcpy(s->g, sv->h1, sizeof(float) * (size_t)T * hidden);
    vox_silu_mul_pool(pool, s->g, sv->h3, T * hidden);
    vox_matmul_pool(pool, l->w2, s->g, T, s->xn);
    residual(y, sv->xmid, s->xn, l->ffn_scale, D, T);
}

/* out = s ⊙ d per row (s NULL: d itself, no copy). */
static const float *scaled(const float *d, const float *s, int n, int T, float *out) {
    if (!s) return d;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < n; i++) out[(size_t)t * n + i] = s[i] * d[(size_t)t * n + i];
    return out;
}

void vox_cg_layer_backward(vox_pool *pool, const vox_config *c, const vox_codec_layer_w *l,
                           const vox_cg_layer_t *t, const vox_cg_attn *a, const float *x, int T,
                           float *dx, const vox_cg_layer_save *sv, const vox_cg_layer_scratch *s) {
    const int D = c->codec.dim, qd = c->codec.n_heads * c->codec.head_dim,
              kvd = c->codec.n_kv_heads * c->codec.head_dim, hidden = c->codec.hidden_dim;
    const size_t ld = (size_t)qd + 2 * (size_t)kvd;
    /* FFN branch: dx holds dL/dy = dL/dxmid's direct part */
    vox_matmul_pool(pool, &t->w2_t, scaled(dx, l->ffn_scale, D, T, s->xn), T, s->g);
    rows_task st = {ROWS_SWIGLU_BACK, sv->h1, sv->h3, s->g, s->dh13, hidden, 0.0f, 0, (size_t)hidden,
                    2 * (size_t)hidden};
    vox_pool_for(pool, T, ROW_CHUNK, rows_run, &st);
    vox_matmul_pool(pool, &t->w13_t, s->dh13, T, s->xn);
    rms_back_rows(pool, sv->xmid, D, l->ffn_norm, D, c->codec.norm_eps, s->xn, dx, D, 1, T);
    /* attention branch: dx now holds dL/dxmid */
    vox_matmul_pool(pool, &t->o_t, scaled(dx, l->attention_scale, D, T, s->xn), T, s->att);
    vox_cg_attn_backward(pool, a, sv->q, sv->k, sv->v, sv->p, s->att, s->ds, s->dqkv,
                         s->dqkv + qd, s->dqkv + qd + kvd, ld);
    if (c->codec.qk_norm) {
        rms_back_rows(pool, sv->qr, qd, l->q_norm, qd, c->codec.qk_norm_eps, s->dqkv, s->dqkv, ld,
                      0, T);
        rms_back_rows(pool, sv->kr, kvd, l->k_norm, kvd, c->codec.qk_norm_eps, s->dqkv + qd,
                      s->dqkv + qd, ld, 0, T);
    }
    vox_matmul_pool(pool, &t->qkv_t, s->dqkv, T, s->xn);
    rms_back_rows(pool, x, D, l->attention_norm, D, c->codec.norm_eps, s->xn, dx, D, 1, T);
}

/* ---- the whole decoder ----------------------------------------------------- */

struct vox_codec_grad_ws {
    const voxtts_model *m;
    int F, latent_dim;
    int T_in[VOX_MAX_CODEC_STAGES], T[VOX_MAX_CODEC_STAGES]; /* rows into / out of stage i */
    int T_out;                                              /* rows at the output conv */
    int first_layer[VOX_MAX_CODEC_STAGES + 1];              /* stage i: layers [fl[i], fl[i+1]) */
    float slopes[64];
    int w_keys;
    vox_cg_layer_t *lt;        /* [n_layers] transposed matrices */
    vox_cg_layer_save *sv;     /* [n_layers] */
    float **act;               /* [n_layers + n_stages]: stage i's conv output, then each layer's */
    vox_tensor conv_t[VOX_MAX_CODEC_STAGES], out_t;
    void *conv_t_buf[VOX_MAX_CODEC_STAGES], *out_t_buf;
    vox_cg_layer_scratch s;
    float *pad, *tmp, *cat, *da, *db;
    int have_forward;
};

/* act index of stage i's buffer j (0: conv output, j: after layer j-1). */
static int act_index(const vox_codec_grad_ws *w, int i, int j) { return w->first_layer[i] + i + j; }

int vox_codec_latent_dim(const voxtts_model *m) {
    return m->cfg.codec.semantic_dim + m->cfg.n_acoustic_codebook;
}

int vox_codec_latent_from_codes(const voxtts_model *m, const int32_t *codes, int n_frames,
                                float *latent, vox_error *err) {
    if (!m || !codes || !latent) return vox_fail(err, VOX_E_ARG, "codec latent: NULL argument");
    if (n_frames < 1) return vox_fail(err, VOX_E_ARG, "codec latent: no frames (%d)", n_frames);
    int rc = vox_check_codes(m, codes, n_frames, 2, err);
    if (rc) return rc;
    vox_codec_latent_rows(m, codes, n_frames, latent);
    return VOX_OK;
}

void vox_codec_grad_ws_free(vox_codec_grad_ws *w) {
    if (!w) return;
    const int nl = w->first_layer[w->m->w.n_stages];
    if (w->lt)
        for (int l = 0; l < nl; l++) vox_cg_layer_t_free(&w->lt[l]);
    if (w->sv)
        for (int l = 0; l < nl; l++) {
            vox_cg_layer_save *s = &w->sv[l];
            free(s->xmid);
            free(s->qr);
            free(s->kr);
            free(s->q);
            free(s->k);
            free(s->v);
            free(s->p);
            free(s->h1);
            free(s->h3);
        }
    if (w->act)
        for (int i = 0; i < nl + w->m->w.n_stages; i++) free(w->act[i]);
    for (int i = 0; i < VOX_MAX_CODEC_STAGES; i++) free(w->conv_t_buf[i]);
    free(w->out_t_buf);
    free(w->lt);
    free(w->sv);
    free(w->act);
    free(w->s.xn);
    free(w->s.att);
    free(w->s.g);
    free(w->s.dqkv);
    free(w->s.dh13);
    free(w->s.ds);
    free(w->pad);
    free(w->tmp);
    free(w->cat);
    free(w->da);
    free(w->db);
    free(w);
}

int vox_codec_grad_ws_new(const voxtts_model *m, int n_frames, int alibi_press, int window_w_keys,
                          vox_codec_grad_ws **out, vox_error *err) {
    if (!out) return vox_fail(err, VOX_E_ARG, "codec grad: NULL output");
    *out = NULL;
    if (!m) return vox_fail(err, VOX_E_ARG, "codec grad: NULL model");
    if (n_frames < 1) return vox_fail(err, VOX_E_ARG, "codec grad: no frames (%d)", n_frames);
    const vox_config *c = &m->cfg;
    const vox_weights *wt = &m->w;
    const int D = c->codec.dim, H = c->codec.n_heads, KVH = c->codec.n_kv_heads,
              hd = c->codec.head_dim, hidden = c->codec.hidden_dim, patch = c->codec.patch_size;
    const int qd = H * hd, kvd = KVH * hd, latent = vox_codec_latent_dim(m);
    if (H > 64 || KVH < 1 || H % KVH != 0)
        return vox_fail(err, VOX_E_UNSUPPORTED, "codec grad: %d heads over %d kv heads", H, KVH);
    if (wt->n_stages < 1 || wt->stages[0].in_ch != latent)
        return vox_fail(err, VOX_E_SHAPE, "codec grad: the first conv does not take the %d-wide latent",
                        latent);

    vox_codec_grad_ws *w = calloc(1, sizeof *w);
    if (!w) return vox_fail(err, VOX_E_NOMEM, "codec grad: out of memory");
    w->m = m;
    w->F = n_frames;
    w->latent_dim = latent;
    vox_codec_slopes(H, alibi_press, w->slopes);
    w->w_keys = window_w_keys ? 1 : 0;

    /* sizes: rows per stage, widest rows, conv gather widths */
    int64_t T = n_frames, T_max = n_frames, C_max = latent > D ? latent : D, cat_max = 1,
            W_max = 0, pad_max = 0;
    if (patch > C_max) C_max = patch;
    int nl = 0;
    for (int i = 0; i < wt->n_stages; i++) {
        const vox_codec_stage_w *st = &wt->stages[i];
        const int64_t Tin = T;
        if (!st->transposed && st->stride != 1) {
            vox_codec_grad_ws_free(w);
            return vox_fail(err, VOX_E_UNSUPPORTED, "codec grad: stage %d conv stride %d", i,
                            st->stride);
        }
        if (st->n_layers > 0 && st->out_ch != D) {
            vox_codec_grad_ws_free(w);
            return vox_fail(err, VOX_E_FORMAT, "codec grad: stage %d has %d channels, dim %d", i,
                            st->out_ch, D);
        }
        if (st->transposed) T *= st->stride;
        if (T > ((int64_t)1 << 20)) {
            vox_codec_grad_ws_free(w);
            return vox_fail(err, VOX_E_ARG, "codec grad: %d frames is too long", n_frames);
        }
        if (st->in_ch > C_max) C_max = st->in_ch;
        if (st->out_ch > C_max) C_max = st->out_ch;
        w->T_in[i] = (int)Tin;
        w->T[i] = (int)T;
        w->first_layer[i] = nl;
        nl += st->n_layers;
        if (T > T_max) T_max = T;
        if (st->window > W_max) W_max = st->window;
        const int64_t cat_rows = st->transposed ? Tin : Tin + st->kernel - 1;
        if (cat_rows * st->kernel * st->out_ch > cat_max) cat_max = cat_rows * st->kernel * st->out_ch;
        if ((Tin + st->kernel) * st->in_ch > pad_max) pad_max = (Tin + st->kernel) * st->in_ch;
    }
    w->first_layer[wt->n_stages] = nl;
    w->T_out = (int)T;
    const int ko = wt->out_kernel;
    if ((T + ko - 1) * ko * patch > cat_max) cat_max = (T + ko - 1) * ko * patch;
    if ((T + ko) * D > pad_max) pad_max = (T + ko) * D;
    if (T * patch != (int64_t)n_frames * c->codec.samples_per_frame) {
        vox_codec_grad_ws_free(w);
        return vox_fail(err, VOX_E_FORMAT, "codec grad: %lld samples for %d frames of %d",
                        (long long)(T * patch), n_frames, c->codec.samples_per_frame);
    }
    if (pad_max < (T_max + ko) * C_max) pad_max = (T_max + ko) * C_max;
    /* element counts of one buffer are passed to the kernels as int */
    int64_t widest = 2 * (int64_t)hidden;
    if (qd + 2 * (int64_t)kvd > widest) widest = qd + 2 * (int64_t)kvd;
    if (C_max > widest) widest = C_max;
    if (T_max * widest > INT_MAX || cat_max > INT_MAX || pad_max > INT_MAX) {
        vox_codec_grad_ws_free(w);
        return vox_fail(err, VOX_E_ARG, "codec grad: %d frames is too long", n_frames);
    }

    /* transposed weights */
    w->lt = calloc((size_t)(nl > 0 ? nl : 1), sizeof *w->lt);
    w->sv = calloc((size_t)(nl > 0 ? nl : 1), sizeof *w->sv);
    w->act = calloc((size_t)(nl + wt->n_stages), sizeof *w->act);
    int rc = w->lt && w->sv && w->act ? VOX_OK : VOX_E_NOMEM;
    for (int i = 0; !rc && i < wt->n_stages; i++) {
        const vox_codec_stage_w *st = &wt->stages[i];
        rc = vox_cg_taps_t(m->pool, st->taps, st->kernel, st->out_ch, st->in_ch, !st->transposed,
                           &w->conv_t[i], &w->conv_t_buf[i]);
        for (int l = 0; !rc && l < st->n_layers; l++)
            rc = vox_cg_layer_t_make(m->pool, &st->layers[l], &w->lt[w->first_layer[i] + l]);
    }
    if (!rc) rc = vox_cg_taps_t(m->pool, wt->out_taps, ko, patch, D, 1, &w->out_t, &w->out_t_buf);

    /* activations and what the backward keeps */
    int ok = !rc;
    for (int i = 0; ok && i < wt->n_stages; i++) {
        const vox_codec_stage_w *st = &wt->stages[i];
        const size_t Ti = (size_t)w->T[i], np = (size_t)H * (st->window + 1);
        for (int j = 0; ok && j <= st->n_layers; j++)
            ok = (w->act[act_index(w, i, j)] = vox_codec_alloc2(Ti, (size_t)st->out_ch)) != NULL;
        for (int l = 0; ok && l < st->n_layers; l++) {
            vox_cg_layer_save *s = &w->sv[w->first_layer[i] + l];
            s->xmid = vox_codec_alloc2(Ti, (size_t)D);
            s->q = vox_codec_alloc2(Ti, (size_t)qd);
            s->k = vox_codec_alloc2(Ti, (size_t)kvd);
            s->v = vox_codec_alloc2(Ti, (size_t)kvd);
            s->p = vox_codec_alloc2(Ti, np);
            s->h1 = vox_codec_alloc2(Ti, (size_t)hidden);
            s->h3 = vox_codec_alloc2(Ti, (size_t)hidden);
            ok = s->xmid && s->q && s->k && s->v && s->p && s->h1 && s->h3;
            if (ok && c->codec.qk_norm) {
                s->qr = vox_codec_alloc2(Ti, (size_t)qd);
                s->kr = vox_codec_alloc2(Ti, (size_t)kvd);
                ok = s->qr && s->kr;
            }
        }
    }
    if (ok) {
        const size_t Tm = (size_t)T_max;
        w->s.xn = vox_codec_alloc2(Tm, (size_t)C_max);
        w->s.att = vox_codec_alloc2(Tm, (size_t)qd);
        w->s.g = vox_codec_alloc2(Tm, (size_t)hidden);
        w->s.dqkv = vox_codec_alloc2(Tm, (size_t)qd + 2 * (size_t)kvd);
        w->s.dh13 = vox_codec_alloc2(Tm, 2 * (size_t)hidden);
        w->s.ds = vox_codec_alloc2(Tm * (size_t)H, (size_t)W_max + 1);
        w->pad = vox_codec_alloc2((size_t)pad_max, 1);
        w->tmp = vox_codec_alloc2((size_t)pad_max, 1);
        w->cat = vox_codec_alloc2((size_t)cat_max, 1);
        w->da = vox_codec_alloc2((size_t)pad_max, 1);
        w->db = vox_codec_alloc2((size_t)pad_max, 1);
        ok = w->s.xn && w->s.att && w->s.g && w->s.dqkv && w->s.dh13 && w->s.ds && w->pad &&
             w->tmp && w->cat && w->da && w->db;
    }
    if (ok) {
        /* the products' activation scratch (kernels.h), reserved now so that no
         * step allocates: the widest product of each stage, forward or backward */
        size_t bytes = 0;
        for (int i = 0; i < wt->n_stages; i++)
            for (int l = 0; l < wt->stages[i].n_layers; l++) {
                const vox_codec_layer_w *lw = &wt->stages[i].layers[l];
                const vox_cg_layer_t *lt = &w->lt[w->first_layer[i] + l];
                const vox_tensor *all[11] = {lw->wq, lw->wk, lw->wv, lw->wo, lw->w1, lw->w2, lw->w3,
                                             &lt->qkv_t, &lt->o_t, &lt->w13_t, &lt->w2_t};
                size_t need = 0;
                for (int j = 0; j < 11; j++) {
                    const size_t b = vox_matmul_scratch_bytes(all[j], w->T[i]);
                    need = b > need ? b : need;
                }
                need *= 3; /* wq, wk, wv in one call may need three layouts */
                bytes = need > bytes ? need : bytes;
            }
        if (m->pool && bytes && !vox_pool_scratch(m->pool, bytes)) {
            vox_codec_grad_ws_free(w);
            return vox_fail(err, VOX_E_NOMEM, "codec grad: out of memory for %zu bytes of scratch",
                            bytes);
        }
    }
    if (!ok) {
        vox_codec_grad_ws_free(w);
        if (rc && rc != VOX_E_NOMEM)
            return vox_fail(err, rc, "codec grad: a codec matrix has an unexpected shape");
        return vox_fail(err, VOX_E_NOMEM, "codec grad: out of memory for %d frames", n_frames);
    }
    *out = w;
    return VOX_OK;
}

static vox_cg_attn stage_attn(const vox_codec_grad_ws *w, int i) {
    const vox_config *c = &w->m->cfg;
    vox_cg_attn a = {w->T[i],
                     c->codec.n_heads,
                     c->codec.n_kv_heads,
                     c->codec.head_dim,
                     w->m->w.stages[i].window,
                     w->w_keys,
                     1.0f / sqrtf((float)c->codec.head_dim),
                     w->slopes};
    return a;
}

int vox_codec_grad_forward(vox_codec_grad_ws *w, const float *latent, float *wave, vox_error *err) {
    if (!w || !latent || !wave) return vox_fail(err, VOX_E_ARG, "codec grad forward: NULL argument");
    const voxtts_model *m = w->m;
    const vox_config *c = &m->cfg;
    const vox_weights *wt = &m->w;
    const int D = c->codec.dim;
    w->have_forward = 0;
    const float *x = latent;
    for (int i = 0; i < wt->n_stages; i++) {
        const vox_codec_stage_w *st = &wt->stages[i];
        const int k = st->kernel, cin = st->in_ch, Tin = w->T_in[i];
        float *y = w->act[act_index(w, i, 0)];
        if (!st->transposed) {
            /* CausalConv1d, replicate left pad k-1 (§6.3) */
            for (int p = 0; p < k - 1; p++)
                memcpy(w->pad + (size_t)p * cin, x, sizeof(float) * (size_t)cin);
            memcpy(w->pad + (size_t)(k - 1) * cin, x, sizeof(float) * (size_t)Tin * cin);
            vox_codec_conv_valid(m, st->taps, k, cin, st->out_ch, w->pad, Tin, y, w->tmp);
        } else {
            vox_codec_conv_transpose(m, st->taps, k, st->stride, cin, st->out_ch, x, Tin, 0,
                                     w->T[i], y, w->tmp);
        }
        const vox_cg_attn a = stage_attn(w, i);
        for (int l = 0; l < st->n_layers; l++)
            vox_cg_layer_forward(m->pool, c, &st->layers[l], &a, w->act[act_index(w, i, l)], w->T[i],
                                 w->act[act_index(w, i, l + 1)], &w->sv[w->first_layer[i] + l],
                                 &w->s);
        x = w->act[act_index(w, i, st->n_layers)];
    }
    /* output conv, reflect left pad (§6.3); unpatching is the time-major layout */
    const int k = wt->out_kernel, T = w->T_out;
    vox_codec_reflect_start(x, T, D, k, w->pad);
    memcpy(w->pad + (size_t)(k - 1) * D, x, sizeof(float) * (size_t)T * D);
    vox_codec_conv_valid(m, wt->out_taps, k, D, c->codec.patch_size, w->pad, T, wave, w->tmp);
    w->have_forward = 1;
    return VOX_OK;
}

int vox_codec_grad_backward(vox_codec_grad_ws *w, const float *dwave, float *dlatent,
                            vox_error *err) {
    if (!w || !dwave || !dlatent)
        return vox_fail(err, VOX_E_ARG, "codec grad backward: NULL argument");
    if (!w->have_forward)
        return vox_fail(err, VOX_E_ARG, "codec grad backward: no forward pass on this workspace");
    const voxtts_model *m = w->m;
    const vox_config *c = &m->cfg;
    const vox_weights *wt = &m->w;
    const int D = c->codec.dim, k = wt->out_kernel, T = w->T_out;
    float *cur = w->da, *other = w->db;
    vox_cg_conv_backward(m->pool, &w->out_t, k, c->codec.patch_size, dwave, T, other, w->cat);
    vox_cg_unpad_reflect(other, T, k, D, cur);
    for (int i = wt->n_stages - 1; i >= 0; i--) {
        const vox_codec_stage_w *st = &wt->stages[i];
        const vox_cg_attn a = stage_attn(w, i);
        for (int l = st->n_layers - 1; l >= 0; l--)
            vox_cg_layer_backward(m->pool, c, &st->layers[l], &w->lt[w->first_layer[i] + l], &a,
                                  w->act[act_index(w, i, l)], w->T[i], cur,
                                  &w->sv[w->first_layer[i] + l], &w->s);
        const int Tin = w->T_in[i];
        if (st->transposed) {
            vox_cg_convt_backward(m->pool, &w->conv_t[i], st->kernel, st->stride, st->out_ch, cur,
                                  Tin, other, w->cat);
        } else {
            vox_cg_conv_backward(m->pool, &w->conv_t[i], st->kernel, st->out_ch, cur, Tin, other,
                                 w->cat);
            vox_cg_unpad_replicate(other, Tin, st->kernel, st->in_ch, cur);
            continue;
        }
        float *t = cur;
        cur = other;
        other = t;
    }
    memcpy(dlatent, cur, sizeof(float) * (size_t)w->F * w->latent_dim);
    return VOX_OK;
}
