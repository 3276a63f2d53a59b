/* test_codec_grad.c — the differentiable codec decoder (codec_grad.h).
 *
 * Every op's backward (RMSNorm with the codec eps and the QK-norm eps,
 * SwiGLU, ALiBi sliding-window attention with both window options and both
 * slope formulas, the causal conv with replicate padding, the transposed conv
 * with its right trim, the output conv with reflect padding including the
 * short-input zero extension, one whole transformer layer with QK-norm and
 * LayerScale, F32 and BF16 weights) is checked against central differences of
 * a double-precision forward written here with the same algorithm, on random
 * inputs of awkward sizes, every input coordinate.  The error measure is
 * max|g - g_fd| / max|g_fd|.  The central differences (step 1e-6 relative) are
 * exact to ~1e-9; the float backward carries rounding of order n·2^-24 for
 * sums of n terms (n <= ~100 here, < 1e-5) plus, with BF16 weights, the
 * kernels' 2^-17 activation split in the forward it is evaluated at, so the
 * bound is 1e-4 (F32) and 1e-3 (BF16), over ten times the worst case.
 *
 * End to end on tests/models/tiny-a and tiny-b: the forward of the latent of
 * real codes equals vox_codec_decode's waveform; forward and backward are
 * deterministic and the same for 1 and 2 threads; dL/dlatent of L = Σ w·wave
 * matches central differences of the float forward on random coordinates and
 * the largest ones.  A float forward is not smooth at the 1e-7 level, and with
 * BF16 weights on a CPU with AVX512_BF16 the kernels split each activation
 * into two bf16 halves (kernels.h), a piecewise-constant error of 2^-17: the
 * step is therefore 1e-2, the differences are extrapolated (Richardson,
 * O(h^4)), and the bound is 2e-2 of the largest gradient (reached: ~6e-3
 * with the split, ~2.5e-4 with VOXTTS_KERNELS=avx2, which widens BF16 to f32).
 * One frame of tiny-b exercises the output conv's short-input case.  The same
 * on a random model (tests/data/params_tiny_q.json) with F16 codec matrices,
 * and with Q8_0 ones against the same model dequantized to F32 (run_synthetic
 * says why).  The transposed copies hold exactly the stored values for F32,
 * BF16, F16, Q8_0 and mixed inputs.  Errors: no frames, backward before
 * forward, bad codes. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/quant.h"
#include "test.h"
#include "voxtral/codec_grad.h"
#include "voxtral/codec_impl.h"
#include "voxtts_debug.h"

#define TOL_F32 1e-4
#define TOL_BF16 1e-3

/* ---- helpers --------------------------------------------------------------- */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static double urand(void) { /* [0, 1) */
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) * (1.0 / 9007199254740992.0);
}
static double srand1(void) { return 2.0 * urand() - 1.0; }
static void fill(float *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * srand1());
}

static void *xmalloc(size_t n) {
    void *p = calloc(n ? n : 1, 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}
#define FNEW(n) ((float *)xmalloc(sizeof(float) * (size_t)(n)))
#define DNEW(n) ((double *)xmalloc(sizeof(double) * (size_t)(n)))

/* max|g - fd| / max|fd| */
static double rel_err(const float *g, const double *fd, size_t n) {
    double e = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(g[i] - fd[i]) > e) e = fabs(g[i] - fd[i]);
        if (fabs(fd[i]) > s) s = fabs(fd[i]);
    }
    return s > 0 ? e / s : e;
}

static double dotw(const double *w, const double *y, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += w[i] * y[i];
    return s;
}

/* Central differences of L(x) = fwd(x) over every coordinate of x (double). */
typedef double (*loss_fn)(void *ctx, double *x);
static void fd_grad(loss_fn f, void *ctx, double *x, size_t n, double *g) {
    for (size_t i = 0; i < n; i++) {
        const double x0 = x[i], h = 1e-6 * (fabs(x0) > 1 ? fabs(x0) : 1);
        x[i] = x0 + h;
        const double a = f(ctx, x);
        x[i] = x0 - h;
        const double b = f(ctx, x);
        x[i] = x0;
        g[i] = (a - b) / (2 * h);
    }
}

static double worst_f32, worst_bf16, worst_e2e; /* the errors reached, printed at the end */
static void note(double *worst, double e) {
    if (e > *worst) *worst = e;
}

/* ---- double-precision forward ops ------------------------------------------ */

static void d_rms(const double *x, const double *g, int n, double eps, double *y) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    const double r = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) y[i] = x[i] * r * (g ? g[i] : 1.0);
}

static double d_silu(double a) { return a / (1.0 + exp(-a)); }

/* y[T][out] = W[out][in] x[T][in] */
static void d_matmul(const double *W, int out, int in, const double *x, int T, double *y) {
    for (int t = 0; t < T; t++)
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (int i = 0; i < in; i++) s += W[(size_t)o * in + i] * x[(size_t)t * in + i];
            y[(size_t)t * out + o] = s;
        }
}

typedef struct d_attn_cfg {
    int T, H, KVH, hd, W, wk;
    double scale;
    const float *slopes;
} d_attn_cfg;

static void d_attn(const d_attn_cfg *a, const double *q, const double *k, const double *v,
                   double *out) {
    const int qd = a->H * a->hd, kvd = a->KVH * a->hd, group = a->H / a->KVH;
    double sc[64];
    for (int i = 0; i < a->T; i++)
        for (int h = 0; h < a->H; h++) {
            int lo = i - a->W + (a->wk ? 1 : 0);
            if (lo < 0) lo = 0;
            const int n = i - lo + 1;
            const double *qi = q + (size_t)i * qd + h * a->hd;
            double mx = -1e300, s = 0;
            for (int j = 0; j < n; j++) {
                const double *kj = k + (size_t)(lo + j) * kvd + (h / group) * a->hd;
                double d = 0;
                for (int e = 0; e < a->hd; e++) d += qi[e] * kj[e];
                sc[j] = d * a->scale + (double)a->slopes[h] * (double)(lo + j - i);
                if (sc[j] > mx) mx = sc[j];
            }
            for (int j = 0; j < n; j++) s += (sc[j] = exp(sc[j] - mx));
            double *o = out + (size_t)i * qd + h * a->hd;
            for (int e = 0; e < a->hd; e++) o[e] = 0;
            for (int j = 0; j < n; j++) {
                const double *vj = v + (size_t)(lo + j) * kvd + (h / group) * a->hd;
                for (int e = 0; e < a->hd; e++) o[e] += sc[j] / s * vj[e];
            }
        }
}

/* ---- RMSNorm, SwiGLU ------------------------------------------------------- */

typedef struct rms_ctx {
    int n;
    double eps;
    const double *g, *w;
    double *y;
} rms_ctx;
static double rms_loss(void *ctx, double *x) {
    rms_ctx *c = ctx;
    d_rms(x, c->g, c->n, c->eps, c->y);
    return dotw(c->w, c->y, c->n);
}

static void test_rmsnorm(void) {
    const int sizes[] = {1, 7, 37, 130};
    const double epss[] = {1e-2, 1e-6, 0.05};
    for (int si = 0; si < 4; si++)
        for (int ei = 0; ei < 3; ei++)
            for (int gain = 0; gain < 2; gain++) {
                const int n = sizes[si];
                float *x = FNEW(n), *g = FNEW(n), *w = FNEW(n), *dx = FNEW(n);
                double *xd = DNEW(n), *gd = DNEW(n), *wd = DNEW(n), *yd = DNEW(n), *fd = DNEW(n);
                fill(x, n, ei == 1 ? 1e-2 : 1.0); /* small rows: eps matters */
                fill(g, n, 2.0);
                fill(w, n, 1.0);
                for (int i = 0; i < n; i++) xd[i] = x[i], gd[i] = g[i], wd[i] = w[i];
                rms_ctx c = {n, (double)(float)epss[ei], gain ? gd : NULL, wd, yd};
                fd_grad(rms_loss, &c, xd, n, fd);
                vox_cg_rmsnorm_backward(x, gain ? g : NULL, n, (float)epss[ei], w, dx, 0);
                const double e = rel_err(dx, fd, n);
                note(&worst_f32, e);
                CHECK(e < TOL_F32, "rmsnorm n=%d eps=%g gain=%d: error %.3g", n, epss[ei], gain, e);
                /* acc adds to what is there; dx may alias dy without acc */
                float *dx2 = FNEW(n);
                for (int i = 0; i < n; i++) dx2[i] = 1.0f;
                vox_cg_rmsnorm_backward(x, gain ? g : NULL, n, (float)epss[ei], w, dx2, 1);
                int ok = 1;
                for (int i = 0; i < n; i++) ok &= fabsf(dx2[i] - 1.0f - dx[i]) <= 1e-6f * (1 + fabsf(dx[i]));
                memcpy(dx2, w, sizeof(float) * n);
                vox_cg_rmsnorm_backward(x, gain ? g : NULL, n, (float)epss[ei], dx2, dx2, 0);
                for (int i = 0; i < n; i++) ok &= dx2[i] == dx[i];
                CHECK(ok, "rmsnorm n=%d: accumulate / in place", n);
                free(x), free(g), free(w), free(dx), free(dx2);
                free(xd), free(gd), free(wd), free(yd), free(fd);
            }
}

typedef struct swiglu_ctx {
    int n;
    const double *w;
} swiglu_ctx;
static double swiglu_loss(void *ctx, double *x) { /* x = [a | b] */
    swiglu_ctx *c = ctx;
    double s = 0;
    for (int i = 0; i < c->n; i++) s += c->w[i] * d_silu(x[i]) * x[c->n + i];
    return s;
}

static void test_swiglu(void) {
    const int n = 29;
    float x[58], w[29], dx[58];
    double xd[58], wd[29], fd[58];
    fill(x, 58, 4.0);
    fill(w, 29, 1.0);
    for (int i = 0; i < 58; i++) xd[i] = x[i];
    for (int i = 0; i < 29; i++) wd[i] = w[i];
    swiglu_ctx c = {n, wd};
    fd_grad(swiglu_loss, &c, xd, 58, fd);
    vox_cg_swiglu_backward(x, x + n, w, n, dx, dx + n);
    const double e = rel_err(dx, fd, 58);
    note(&worst_f32, e);
    CHECK(e < TOL_F32, "swiglu: error %.3g", e);
}

/* ---- attention ------------------------------------------------------------- */

typedef struct attn_ctx {
    d_attn_cfg a;
    const double *w;
    double *out;
} attn_ctx;
static double attn_loss(void *ctx, double *x) { /* x = [q | k | v] */
    attn_ctx *c = ctx;
    const size_t nq = (size_t)c->a.T * c->a.H * c->a.hd, nk = (size_t)c->a.T * c->a.KVH * c->a.hd;
    d_attn(&c->a, x, x + nq, x + nq + nk, c->out);
    return dotw(c->w, c->out, nq);
}

static void test_attention(vox_pool *pool) {
    const int T = 13, hd = 5;
    const int cfgs[][4] = {/* H, KVH, W, w_keys */
                           {4, 2, 3, 0}, {4, 2, 3, 1}, {3, 3, 1, 0}, {3, 1, 0, 0},
                           {2, 2, 16, 0}, {2, 1, 16, 1}, {4, 4, 1, 1}};
    for (int ci = 0; ci < 7; ci++)
        for (int press = 0; press < 2; press++) {
            const int H = cfgs[ci][0], KVH = cfgs[ci][1], W = cfgs[ci][2], wk = cfgs[ci][3];
            const int qd = H * hd, kvd = KVH * hd, np = W + 1;
            const size_t nq = (size_t)T * qd, nk = (size_t)T * kvd, n = nq + 2 * nk;
            float slopes[8];
            vox_codec_slopes(H, press, slopes);
            vox_cg_attn a = {T, H, KVH, hd, W, wk, 1.0f / sqrtf((float)hd), slopes};
            float *x = FNEW(n), *p = FNEW((size_t)T * H * np), *out = FNEW(nq), *w = FNEW(nq);
            float *ds = FNEW((size_t)T * H * np), *dx = FNEW(3 * (size_t)T * qd);
            fill(x, n, 1.5);
            fill(w, nq, 1.0);
            double *xd = DNEW(n), *wd = DNEW(nq), *od = DNEW(nq), *fd = DNEW(n);
            for (size_t i = 0; i < n; i++) xd[i] = x[i];
            for (size_t i = 0; i < nq; i++) wd[i] = w[i];
            attn_ctx c = {{T, H, KVH, hd, W, wk, (double)a.scale, slopes}, wd, od};
            attn_loss(&c, xd);
            vox_cg_attn_forward(pool, &a, x, x + nq, x + nq + nk, p, out);
            double fe = 0;
            for (size_t i = 0; i < nq; i++) fe = fmax(fe, fabs(out[i] - od[i]));
            CHECK(fe < 1e-5, "attention forward vs double: %.3g", fe);
            fd_grad(attn_loss, &c, xd, n, fd);
            /* dq, dk, dv side by side in rows of qd + 2 kvd */
            const size_t ld = (size_t)qd + 2 * kvd;
            vox_cg_attn_backward(pool, &a, x, x + nq, x + nq + nk, p, w, ds, dx, dx + qd,
                                 dx + qd + kvd, ld);
            float *g = FNEW(n);
            for (int t = 0; t < T; t++) {
                memcpy(g + (size_t)t * qd, dx + t * ld, sizeof(float) * qd);
                memcpy(g + nq + (size_t)t * kvd, dx + t * ld + qd, sizeof(float) * kvd);
                memcpy(g + nq + nk + (size_t)t * kvd, dx + t * ld + qd + kvd, sizeof(float) * kvd);
            }
            const double e = rel_err(g, fd, n);
            note(&worst_f32, e);
            CHECK(e < TOL_F32, "attention H=%d KVH=%d W=%d wkeys=%d press=%d: error %.3g", H, KVH, W,
                  wk, press, e);
            free(x), free(p), free(out), free(w), free(ds), free(dx), free(g);
            free(xd), free(wd), free(od), free(fd);
        }
}

/* ---- convolutions ---------------------------------------------------------- */

typedef struct conv_ctx {
    int kind; /* 0: causal replicate, 1: transposed, 2: causal reflect */
    int k, s, in, out, T;
    const double *taps; /* [k][out][in] */
    const double *w;
    double *y;
} conv_ctx;

static int conv_out_rows(const conv_ctx *c) { return c->kind == 1 ? c->T * c->s : c->T; }

static double conv_loss(void *ctx, double *x) {
    conv_ctx *c = ctx;
    const int T = c->T, k = c->k, in = c->in, out = c->out, R = conv_out_rows(c);
    for (int i = 0; i < R * out; i++) c->y[i] = 0;
    if (c->kind == 1) {
        for (int t = 0; t < T; t++)
            for (int j = 0; j < k; j++) {
                const int r = t * c->s + j;
                if (r >= R) continue; /* trimmed on the right */
                for (int o = 0; o < out; o++)
                    for (int i = 0; i < in; i++)
                        c->y[r * out + o] += c->taps[((size_t)j * out + o) * in + i] * x[t * in + i];
            }
    } else {
        for (int t = 0; t < T; t++)
            for (int j = 0; j < k; j++) {
                const int u = t + j - (k - 1); /* input row of padded row t + j */
                const double *xr;
                if (u >= 0)
                    xr = x + u * in;
                else if (c->kind == 0)
                    xr = x; /* replicate */
                else if (-u < T)
                    xr = x + (-u) * in; /* reflect: pad row p = k-1+u reads x[k-1-p] = x[-u] */
                else
                    continue; /* zeros */
                for (int o = 0; o < out; o++)
                    for (int i = 0; i < in; i++)
                        c->y[t * out + o] += c->taps[((size_t)j * out + o) * in + i] * xr[i];
            }
    }
    return dotw(c->w, c->y, (size_t)R * out);
}

static void test_conv(vox_pool *pool, int kind, int k, int s, int in, int out, int T) {
    conv_ctx c = {kind, k, s, in, out, T, NULL, NULL, NULL};
    const int R = conv_out_rows(&c);
    float *taps = FNEW((size_t)k * out * in), *x = FNEW((size_t)T * in), *w = FNEW((size_t)R * out);
    fill(taps, (size_t)k * out * in, 1.0);
    fill(x, (size_t)T * in, 1.0);
    fill(w, (size_t)R * out, 1.0);
    double *td = DNEW((size_t)k * out * in), *xd = DNEW((size_t)T * in), *wd = DNEW((size_t)R * out);
    double *yd = DNEW((size_t)R * out), *fd = DNEW((size_t)T * in);
    for (int i = 0; i < k * out * in; i++) td[i] = taps[i];
    for (int i = 0; i < T * in; i++) xd[i] = x[i];
    for (int i = 0; i < R * out; i++) wd[i] = w[i];
    c.taps = td, c.w = wd, c.y = yd;
    fd_grad(conv_loss, &c, xd, (size_t)T * in, fd);

    vox_tensor tt;
    void *buf = NULL;
    int rc = vox_cg_taps_t(pool, taps, k, out, in, kind != 1, &tt, &buf);
    CHECK(rc == VOX_OK && tt.dtype == VOX_F32 && tt.shape[0] == in && tt.shape[1] == (int64_t)k * out,
          "conv taps transposed");
    float *dx = FNEW((size_t)T * in), *dpad = FNEW((size_t)(T + k) * in);
    float *cat = FNEW((size_t)(T + k) * k * out);
    if (kind == 1) {
        vox_cg_convt_backward(pool, &tt, k, s, out, w, T, dx, cat);
    } else {
        vox_cg_conv_backward(pool, &tt, k, out, w, T, dpad, cat);
        if (kind == 0)
            vox_cg_unpad_replicate(dpad, T, k, in, dx);
        else
            vox_cg_unpad_reflect(dpad, T, k, in, dx);
    }
    const double e = rel_err(dx, fd, (size_t)T * in);
    note(&worst_f32, e);
    static const char *names[] = {"causal conv (replicate)", "transposed conv", "output conv (reflect)"};
    CHECK(e < TOL_F32, "%s k=%d s=%d in=%d out=%d T=%d: error %.3g", names[kind], k, s, in, out, T, e);

    /* the forward routines of codec.c against the double forward (a model shell with the pool) */
    if (kind != 1 || s >= 1) {
        voxtts_model shell;
        memset(&shell, 0, sizeof shell);
        shell.pool = pool;
        float *pad = FNEW((size_t)(T + k) * in), *y = FNEW((size_t)R * out + (size_t)(T + k) * out);
        float *tmp = FNEW((size_t)(T + k) * out);
        if (kind == 1) {
            vox_codec_conv_transpose(&shell, taps, k, s, in, out, x, T, 0, R, y, tmp);
        } else {
            if (kind == 0)
                for (int p = 0; p < k - 1; p++) memcpy(pad + p * in, x, sizeof(float) * in);
            else
                vox_codec_reflect_start(x, T, in, k, pad);
            memcpy(pad + (size_t)(k - 1) * in, x, sizeof(float) * (size_t)T * in);
            vox_codec_conv_valid(&shell, taps, k, in, out, pad, T, y, tmp);
        }
        conv_loss(&c, xd);
        double fe = 0;
        for (int i = 0; i < R * out; i++) fe = fmax(fe, fabs(y[i] - yd[i]));
        CHECK(fe < 1e-5, "%s forward vs double: %.3g", names[kind], fe);
        free(pad), free(y), free(tmp);
    }
    free(buf);
    free(taps), free(x), free(w), free(dx), free(dpad), free(cat);
    free(td), free(xd), free(wd), free(yd), free(fd);
}

/* ---- transposed copies ----------------------------------------------------- */

static void test_transpose_cat(vox_pool *pool) {
    const vox_dtype dts[] = {VOX_F32, VOX_BF16, VOX_F16, VOX_Q8_0};
    for (int di = 0; di < 4; di++)
        for (int mixed = 0; mixed < 2; mixed++) {
            const int in = 64, outs[3] = {37, 5, 70};
            vox_tensor W[3];
            const vox_tensor *P[3];
            void *data[3];
            for (int j = 0; j < 3; j++) {
                const vox_dtype dt = mixed && j == 1 ? VOX_F32 : dts[di];
                const size_t rb = vox_dtype_row_bytes(dt, in);
                data[j] = xmalloc(rb * outs[j]);
                float row[64];
                for (int o = 0; o < outs[j]; o++) {
                    fill(row, in, 1.0);
                    vox_quantize_row(dt, row, (char *)data[j] + rb * o, in);
                }
                memset(&W[j], 0, sizeof W[j]);
                W[j].dtype = dt;
                W[j].ndim = 2;
                W[j].shape[0] = outs[j];
                W[j].shape[1] = in;
                W[j].data = data[j];
                W[j].nbytes = rb * outs[j];
                P[j] = &W[j];
            }
            vox_tensor t;
            void *buf = NULL;
            int rc = vox_cg_transpose_cat(pool, 3, P, &t, &buf);
            const vox_dtype want = dts[di] == VOX_BF16 && !mixed ? VOX_BF16 : VOX_F32;
            CHECK(rc == VOX_OK && t.dtype == want && t.shape[0] == in && t.shape[1] == 112,
                  "transpose %s mixed=%d: dtype %s", vox_dtype_name(dts[di]), mixed,
                  vox_dtype_name(t.dtype));
            int ok = rc == VOX_OK;
            float row[64], trow[112];
            for (int i = 0; ok && i < in; i++) {
                vox_tensor_get_row(&t, i, trow);
                for (int j = 0, off = 0; j < 3; off += outs[j], j++)
                    for (int o = 0; o < outs[j]; o++) {
                        vox_tensor_get_row(&W[j], o, row);
                        ok &= trow[off + o] == row[i];
                    }
            }
            CHECK(ok, "transpose %s mixed=%d: exact values", vox_dtype_name(dts[di]), mixed);
            free(buf);
            for (int j = 0; j < 3; j++) free(data[j]);
        }
    const vox_tensor *none[1] = {NULL};
    vox_tensor t;
    void *buf;
    CHECK(vox_cg_transpose_cat(pool, 0, none, &t, &buf) == VOX_E_ARG && !buf, "no matrices");
}

/* ---- one transformer layer ------------------------------------------------- */

typedef struct tlayer {
    vox_config c;
    vox_codec_layer_w l;
    vox_tensor t[7];
    void *data[7];
    double *wd[7]; /* wq wk wv wo w1 w2 w3 as stored */
    float *gains[6];
    double *gd[6]; /* attention_norm ffn_norm q_norm k_norm attention_scale ffn_scale */
    int W, wk;
    float slopes[8];
} tlayer;

static void tlayer_make(tlayer *L, vox_dtype dt, int D, int H, int KVH, int hd, int hidden, int qkn,
                        int ls, int W, int wk) {
    memset(L, 0, sizeof *L);
    vox_config *c = &L->c;
    c->codec.dim = D, c->codec.n_heads = H, c->codec.n_kv_heads = KVH, c->codec.head_dim = hd;
    c->codec.hidden_dim = hidden, c->codec.qk_norm = qkn, c->codec.layer_scale = ls;
    c->codec.norm_eps = 0.01f, c->codec.qk_norm_eps = 1e-6f;
    const int qd = H * hd, kvd = KVH * hd;
    const int shp[7][2] = {{qd, D}, {kvd, D}, {kvd, D}, {D, qd}, {hidden, D}, {D, hidden}, {hidden, D}};
    for (int m = 0; m < 7; m++) {
        const int out = shp[m][0], in = shp[m][1];
        const size_t rb = vox_dtype_row_bytes(dt, in);
        L->data[m] = xmalloc(rb * out);
        L->wd[m] = DNEW((size_t)out * in);
        float *row = FNEW(in);
        for (int o = 0; o < out; o++) {
            fill(row, in, 1.5 / sqrt((double)in));
            vox_quantize_row(dt, row, (char *)L->data[m] + rb * o, in);
        }
        L->t[m].dtype = dt, L->t[m].ndim = 2, L->t[m].shape[0] = out, L->t[m].shape[1] = in;
        L->t[m].data = L->data[m], L->t[m].nbytes = rb * out;
        for (int o = 0; o < out; o++) {
            vox_tensor_get_row(&L->t[m], o, row);
            for (int i = 0; i < in; i++) L->wd[m][(size_t)o * in + i] = row[i];
        }
        free(row);
    }
    const int gn[6] = {D, D, qd, kvd, D, D};
    for (int m = 0; m < 6; m++) {
        L->gains[m] = FNEW(gn[m]);
        L->gd[m] = DNEW(gn[m]);
        for (int i = 0; i < gn[m]; i++)
            L->gd[m][i] = L->gains[m][i] = (float)(m < 4 ? 1.0 + 0.5 * srand1() : 0.3 * srand1());
    }
    vox_codec_layer_w *l = &L->l;
    l->wq = &L->t[0], l->wk = &L->t[1], l->wv = &L->t[2], l->wo = &L->t[3];
    l->w1 = &L->t[4], l->w2 = &L->t[5], l->w3 = &L->t[6];
    l->attention_norm = L->gains[0], l->ffn_norm = L->gains[1];
    l->q_norm = qkn ? L->gains[2] : NULL, l->k_norm = qkn ? L->gains[3] : NULL;
    l->attention_scale = ls ? L->gains[4] : NULL, l->ffn_scale = ls ? L->gains[5] : NULL;
    L->W = W, L->wk = wk;
    vox_codec_slopes(H, 0, L->slopes);
}

static void tlayer_free(tlayer *L) {
    for (int m = 0; m < 7; m++) free(L->data[m]), free(L->wd[m]);
    for (int m = 0; m < 6; m++) free(L->gains[m]), free(L->gd[m]);
}

typedef struct layer_ctx {
    const tlayer *L;
    int T;
    const double *w;
    double *y;
} layer_ctx;

/* The layer (§6.4) in double: x [T][D] -> y [T][D]. */
static void d_layer(const tlayer *L, const double *x, int T, double *y) {
    const vox_config *c = &L->c;
    const int D = c->codec.dim, H = c->codec.n_heads, KVH = c->codec.n_kv_heads,
              hd = c->codec.head_dim, hidden = c->codec.hidden_dim, qd = H * hd, kvd = KVH * hd;
    double *xn = DNEW((size_t)T * D), *q = DNEW((size_t)T * qd), *k = DNEW((size_t)T * kvd),
           *v = DNEW((size_t)T * kvd), *att = DNEW((size_t)T * qd), *o = DNEW((size_t)T * D),
           *xm = DNEW((size_t)T * D), *h1 = DNEW((size_t)T * hidden), *h3 = DNEW((size_t)T * hidden);
    const double ne = (double)c->codec.norm_eps, qe = (double)c->codec.qk_norm_eps;
    for (int t = 0; t < T; t++) d_rms(x + t * D, L->gd[0], D, ne, xn + t * D);
    d_matmul(L->wd[0], qd, D, xn, T, q);
    d_matmul(L->wd[1], kvd, D, xn, T, k);
    d_matmul(L->wd[2], kvd, D, xn, T, v);
    if (c->codec.qk_norm)
        for (int t = 0; t < T; t++) {
            d_rms(q + t * qd, L->gd[2], qd, qe, q + t * qd);
            d_rms(k + t * kvd, L->gd[3], kvd, qe, k + t * kvd);
        }
    d_attn_cfg a = {T, H, KVH, hd, L->W, L->wk, (double)(1.0f / sqrtf((float)hd)), L->slopes};
    d_attn(&a, q, k, v, att);
    d_matmul(L->wd[3], D, qd, att, T, o);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < D; i++)
            xm[t * D + i] = x[t * D + i] + (c->codec.layer_scale ? L->gd[4][i] : 1.0) * o[t * D + i];
    for (int t = 0; t < T; t++) d_rms(xm + t * D, L->gd[1], D, ne, xn + t * D);
    d_matmul(L->wd[4], hidden, D, xn, T, h1);
    d_matmul(L->wd[6], hidden, D, xn, T, h3);
    for (int i = 0; i < T * hidden; i++) h1[i] = d_silu(h1[i]) * h3[i];
    d_matmul(L->wd[5], D, hidden, h1, T, o);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < D; i++)
            y[t * D + i] = xm[t * D + i] + (c->codec.layer_scale ? L->gd[5][i] : 1.0) * o[t * D + i];
    free(xn), free(q), free(k), free(v), free(att), free(o), free(xm), free(h1), free(h3);
}

static double layer_loss(void *ctx, double *x) {
    layer_ctx *c = ctx;
    d_layer(c->L, x, c->T, c->y);
    return dotw(c->w, c->y, (size_t)c->T * c->L->c.codec.dim);
}

static void test_layer(vox_pool *pool, vox_dtype dt, int D, int H, int KVH, int hd, int hidden,
                       int qkn, int ls, int W, int wk, int T) {
    tlayer L;
    tlayer_make(&L, dt, D, H, KVH, hd, hidden, qkn, ls, W, wk);
    const int qd = H * hd, kvd = KVH * hd, np = W + 1;
    const size_t n = (size_t)T * D;
    float *x = FNEW(n), *y = FNEW(n), *w = FNEW(n);
    fill(x, n, 1.0);
    fill(w, n, 1.0);
    double *xd = DNEW(n), *wd = DNEW(n), *yd = DNEW(n), *fd = DNEW(n);
    for (size_t i = 0; i < n; i++) xd[i] = x[i], wd[i] = w[i];
    layer_ctx lc = {&L, T, wd, yd};
    fd_grad(layer_loss, &lc, xd, n, fd);

    vox_cg_layer_save sv = {FNEW(n),
                            qkn ? FNEW((size_t)T * qd) : NULL,
                            qkn ? FNEW((size_t)T * kvd) : NULL,
                            FNEW((size_t)T * qd),
                            FNEW((size_t)T * kvd),
                            FNEW((size_t)T * kvd),
                            FNEW((size_t)T * H * np),
                            FNEW((size_t)T * hidden),
                            FNEW((size_t)T * hidden)};
    vox_cg_layer_scratch s = {FNEW(n),
                              FNEW((size_t)T * qd),
                              FNEW((size_t)T * hidden),
                              FNEW((size_t)T * (qd + 2 * kvd)),
                              FNEW((size_t)T * 2 * hidden),
                              FNEW((size_t)T * H * np)};
    vox_cg_attn a = {T, H, KVH, hd, W, wk, 1.0f / sqrtf((float)hd), L.slopes};
    vox_cg_layer_t lt;
    int rc = vox_cg_layer_t_make(pool, &L.l, &lt);
    CHECK(rc == VOX_OK && lt.qkv_t.dtype == (dt == VOX_BF16 ? VOX_BF16 : VOX_F32),
          "layer transposes (%s)", vox_dtype_name(dt));
    vox_cg_layer_forward(pool, &L.c, &L.l, &a, x, T, y, &sv, &s);
    layer_loss(&lc, xd);
    double fe = 0, ys = 0;
    for (size_t i = 0; i < n; i++) fe = fmax(fe, fabs(y[i] - yd[i])), ys = fmax(ys, fabs(yd[i]));
    const double tol = dt == VOX_BF16 ? TOL_BF16 : TOL_F32;
    CHECK(fe <= tol * ys, "layer forward vs double (%s): %.3g of %.3g", vox_dtype_name(dt), fe, ys);
    float *dx = FNEW(n);
    memcpy(dx, w, sizeof(float) * n);
    vox_cg_layer_backward(pool, &L.c, &L.l, &lt, &a, x, T, dx, &sv, &s);
    const double e = rel_err(dx, fd, n);
    note(dt == VOX_BF16 ? &worst_bf16 : &worst_f32, e);
    CHECK(e < tol, "layer %s D=%d H=%d KVH=%d hd=%d hidden=%d qk_norm=%d layer_scale=%d W=%d "
                   "wkeys=%d T=%d: error %.3g",
          vox_dtype_name(dt), D, H, KVH, hd, hidden, qkn, ls, W, wk, T, e);
    vox_cg_layer_t_free(&lt);
    free(sv.xmid), free(sv.qr), free(sv.kr), free(sv.q), free(sv.k), free(sv.v), free(sv.p);
    free(sv.h1), free(sv.h3);
    free(s.xn), free(s.att), free(s.g), free(s.dqkv), free(s.dh13), free(s.ds);
    free(x), free(y), free(w), free(dx), free(xd), free(wd), free(yd), free(fd);
    tlayer_free(&L);
}

/* ---- the whole decoder on a tiny checkpoint -------------------------------- */

static double wave_loss(vox_codec_grad_ws *ws, const float *lat, const float *w, float *wave,
                        size_t ns) {
    vox_error err;
    if (vox_codec_grad_forward(ws, lat, wave, &err) != VOX_OK) return NAN;
    double s = 0;
    for (size_t i = 0; i < ns; i++) s += (double)w[i] * wave[i];
    return s;
}

static void random_latent(const voxtts_model *m, int F, float *lat) {
    const vox_config *c = &m->cfg;
    const int sd = c->codec.semantic_dim, L = vox_codec_latent_dim(m);
    for (int f = 0; f < F; f++) {
        const int row = (int)(urand() * c->semantic_codebook_size);
        for (int i = 0; i < sd; i++)
            lat[(size_t)f * L + i] =
                m->w.semantic_codebook[(size_t)row * sd + i] * (float)(1.0 + 0.3 * srand1());
        for (int i = sd; i < L; i++) lat[(size_t)f * L + i] = (float)srand1();
    }
}

static void e2e_fd(voxtts_model *m, const char *dir, int F, double bound) {
    const int L = vox_codec_latent_dim(m), spf = voxtts_model_samples_per_frame(m);
    const size_t nl = (size_t)F * L, ns = (size_t)F * spf;
    vox_error err;
    vox_codec_grad_ws *ws = NULL;
    int rc = vox_codec_grad_ws_new(m, F, 0, 0, &ws, &err);
    CHECK(rc == VOX_OK, "%s: ws for %d frames: %s", dir, F, err.msg);
    if (rc) return;
    float *lat = FNEW(nl), *wave = FNEW(ns), *w = FNEW(ns), *g = FNEW(nl), *g2 = FNEW(nl);
    random_latent(m, F, lat);
    fill(w, ns, 1.0);
    CHECK(vox_codec_grad_backward(ws, w, g, &err) == VOX_E_ARG, "backward before forward");
    rc = vox_codec_grad_forward(ws, lat, wave, &err) || vox_codec_grad_backward(ws, w, g, &err);
    CHECK(rc == VOX_OK, "%s: forward/backward: %s", dir, err.msg);
    /* deterministic */
    float *wave2 = FNEW(ns);
    rc = vox_codec_grad_forward(ws, lat, wave2, &err) || vox_codec_grad_backward(ws, w, g2, &err);
    CHECK(rc == VOX_OK && !memcmp(wave, wave2, ns * sizeof(float)) &&
              !memcmp(g, g2, nl * sizeof(float)),
          "%s: the same twice", dir);
    double gmax = 0;
    int imax = 0;
    for (size_t i = 0; i < nl; i++)
        if (fabs(g[i]) > gmax) gmax = fabs(g[i]), imax = (int)i;
    CHECK(gmax > 0 && isfinite(gmax), "%s: gradient is non-zero and finite (%g)", dir, gmax);
    /* coordinates: the largest, first and last of each part, random ones */
    int coords[12] = {imax, 0, L - 1, (int)nl - 1, (int)nl - L, m->cfg.codec.semantic_dim};
    for (int i = 6; i < 12; i++) coords[i] = (int)(urand() * nl);
    double emax = 0;
    for (int ci = 0; ci < 12; ci++) {
        const int i = coords[ci];
        const float x0 = lat[i];
        double d[2];
        for (int r = 0; r < 2; r++) {
            const float h = r ? 5e-3f : 1e-2f;
            lat[i] = x0 + h;
            const double hp = (double)lat[i] - x0; /* the step as represented */
            const double a = wave_loss(ws, lat, w, wave2, ns);
            lat[i] = x0 - h;
            const double hm = x0 - (double)lat[i];
            const double b = wave_loss(ws, lat, w, wave2, ns);
            d[r] = (a - b) / (hp + hm);
        }
        lat[i] = x0;
        const double fdv = (4 * d[1] - d[0]) / 3; /* Richardson: O(h^4) */
        emax = fmax(emax, fabs(fdv - g[i]) / gmax);
    }
    note(&worst_e2e, emax);
    CHECK(emax < bound, "%s F=%d: dL/dlatent vs finite differences: %.3g of max |g| %.3g", dir, F,
          emax, gmax);
    printf("%s F=%d: end-to-end gradient error %.3g of max |g| %.3g\n", dir, F, emax, gmax);
    free(lat), free(wave), free(wave2), free(w), free(g), free(g2);
    vox_codec_grad_ws_free(ws);
}

static void e2e_decode_match(voxtts_model *m, const char *dir, int F) {
    const vox_config *c = &m->cfg;
    const int L = vox_codec_latent_dim(m), spf = voxtts_model_samples_per_frame(m),
              ncb = c->n_codebooks;
    int32_t *codes = xmalloc(sizeof(int32_t) * (size_t)F * ncb);
    for (int f = 0; f < F; f++) {
        codes[(size_t)f * ncb] = 2 + (int32_t)(urand() * c->semantic_codebook_size);
        for (int a = 1; a < ncb; a++)
            codes[(size_t)f * ncb + a] = 2 + (int32_t)(urand() * c->acoustic_codebook_size);
    }
    float *lat = FNEW((size_t)F * L), *a = FNEW((size_t)F * spf), *b = FNEW((size_t)F * spf);
    vox_error err;
    vox_codec_grad_ws *ws = NULL;
    for (int opt = 0; opt < 3; opt++) {
        const int press = opt == 1, wkeys = opt == 2;
        int rc = vox_codec_latent_from_codes(m, codes, F, lat, &err);
        if (!rc) rc = vox_codec_grad_ws_new(m, F, press, wkeys, &ws, &err);
        if (!rc) rc = vox_codec_grad_forward(ws, lat, a, &err);
        if (!rc) rc = vox_codec_decode(m, codes, F, press, wkeys, b, &err);
        CHECK(rc == VOX_OK, "%s: %s", dir, err.msg);
        double e = 0, s = 0;
        for (size_t i = 0; !rc && i < (size_t)F * spf; i++)
            e = fmax(e, fabs(a[i] - b[i])), s = fmax(s, fabs(b[i]));
        CHECK(!rc && s > 0 && e <= 1e-6 * s,
              "%s F=%d press=%d wkeys=%d: forward vs vox_codec_decode %.3g of %.3g", dir, F, press,
              wkeys, e, s);
        vox_codec_grad_ws_free(ws);
        ws = NULL;
    }
    /* errors */
    codes[0] = 1; /* END is not a decodable code */
    CHECK(vox_codec_latent_from_codes(m, codes, F, lat, &err) != VOX_OK && err.msg[0],
          "bad code rejected");
    CHECK(vox_codec_latent_from_codes(m, codes, 0, lat, &err) == VOX_E_ARG, "no frames (latent)");
    CHECK(vox_codec_grad_ws_new(m, 0, 0, 0, &ws, &err) == VOX_E_ARG && !ws, "no frames (ws)");
    CHECK(vox_codec_grad_ws_new(m, 1 << 28, 0, 0, &ws, &err) == VOX_E_ARG && !ws &&
              strstr(err.msg, "too long"),
          "too many frames (ws): %s", err.msg);
    CHECK(vox_codec_latent_dim(m) == c->codec.semantic_dim + c->n_acoustic_codebook, "latent dim");
    free(codes), free(lat), free(a), free(b);
}

/* 1 and 2 threads give the same bits. */
static void e2e_threads(const char *dir, int F) {
    float *g[2] = {NULL, NULL}, *wv[2] = {NULL, NULL};
    size_t nl = 0, ns = 0;
    for (int th = 1; th <= 2; th++) {
        voxtts_model *m = NULL;
        voxtts_error e;
        voxtts_load_params lp;
        voxtts_load_params_default(&lp);
        lp.n_threads = th;
        if (voxtts_model_load(dir, &lp, &m, &e) != 0) {
            CHECK(0, "cannot load %s: %s", dir, e.msg);
            return;
        }
        const int L = vox_codec_latent_dim(m), spf = voxtts_model_samples_per_frame(m);
        nl = (size_t)F * L, ns = (size_t)F * spf;
        g_rng = 12345;
        float *lat = FNEW(nl), *w = FNEW(ns);
        random_latent(m, F, lat);
        fill(w, ns, 1.0);
        g[th - 1] = FNEW(nl), wv[th - 1] = FNEW(ns);
        vox_error err;
        vox_codec_grad_ws *ws = NULL;
        int rc = vox_codec_grad_ws_new(m, F, 0, 0, &ws, &err);
        if (!rc) rc = vox_codec_grad_forward(ws, lat, wv[th - 1], &err);
        if (!rc) rc = vox_codec_grad_backward(ws, w, g[th - 1], &err);
        CHECK(rc == VOX_OK, "%s threads %d: %s", dir, th, err.msg);
        vox_codec_grad_ws_free(ws);
        free(lat), free(w);
        voxtts_model_free(m);
    }
    CHECK(!memcmp(g[0], g[1], nl * sizeof(float)) && !memcmp(wv[0], wv[1], ns * sizeof(float)),
          "%s: 1 and 2 threads give the same wave and gradient", dir);
    free(g[0]), free(g[1]), free(wv[0]), free(wv[1]);
}

static void run_model(const char *dir) {
    voxtts_model *m = NULL;
    voxtts_error e;
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = 2;
    if (voxtts_model_load(dir, &lp, &m, &e) != 0) {
        CHECK(0, "cannot load %s: %s", dir, e.msg);
        return;
    }
    e2e_decode_match(m, dir, 5);
    e2e_decode_match(m, dir, 1);
    e2e_fd(m, dir, 3, 2e-2);
    e2e_fd(m, dir, 1, 2e-2);
    voxtts_model_free(m);
    e2e_threads(dir, 4);
}

/* dL/dlatent of L = Σ w·wave at lat (w, lat from seed). */
static int grad_at(voxtts_model *m, int F, uint64_t seed, float *g) {
    const int L = vox_codec_latent_dim(m), spf = voxtts_model_samples_per_frame(m);
    const size_t nl = (size_t)F * L, ns = (size_t)F * spf;
    g_rng = seed;
    float *lat = FNEW(nl), *w = FNEW(ns), *wave = FNEW(ns);
    random_latent(m, F, lat);
    fill(w, ns, 1.0);
    vox_error err;
    vox_codec_grad_ws *ws = NULL;
    int rc = vox_codec_grad_ws_new(m, F, 0, 0, &ws, &err);
    if (!rc) rc = vox_codec_grad_forward(ws, lat, wave, &err);
    if (!rc) rc = vox_codec_grad_backward(ws, w, g, &err);
    vox_codec_grad_ws_free(ws);
    free(lat), free(w), free(wave);
    return rc;
}

/* Codec matrices stored F16 (transposed copies in F32, products widen to f32:
 * the forward is smooth, central differences apply as for BF16) and Q8_0
 * (transposed copies dequantized to F32).  A Q8_0 forward quantizes its
 * activations to 8 bits, a staircase that central differences cannot follow;
 * its backward is the gradient of the model with the dequantized weights and
 * f32 activations (straight through the activation rounding).  So the Q8_0
 * model's matrices are swapped for F32 copies of their dequantized values: that
 * model's gradient passes central differences, and the Q8_0 gradient differs
 * from it only by the forward's activation rounding (~0.4% per block; bound
 * 0.1 of the largest gradient).  Random model with block-aligned widths. */
static void run_synthetic(const char *type) {
    const char *params = "tests/data/params_tiny_q.json";
    voxtts_model *m = NULL;
    voxtts_error e;
    if (voxtts_model_synthetic(params, type, 2, &m, &e) != 0) {
        CHECK(0, "synthetic %s (%s): %s", params, type, e.msg);
        return;
    }
    char name[128];
    snprintf(name, sizeof name, "synthetic %s", type);
    e2e_decode_match(m, name, 3);
    if (strcmp(type, "q8_0") != 0) {
        e2e_fd(m, name, 2, 2e-2);
        voxtts_model_free(m);
        return;
    }
    const int F = 2;
    const size_t nl = (size_t)F * vox_codec_latent_dim(m);
    float *gq = FNEW(nl), *gf = FNEW(nl);
    CHECK(grad_at(m, F, 777, gq) == VOX_OK, "%s: gradient", name);
    /* swap every codec matrix for an F32 copy of its dequantized values */
    vox_weights *wt = &m->w;
    int n = 0;
    for (int i = 0; i < wt->n_stages; i++) n += wt->stages[i].n_layers * 7;
    vox_tensor *f32 = xmalloc(sizeof(vox_tensor) * (size_t)n);
    const vox_tensor **orig = xmalloc(sizeof(*orig) * (size_t)n);
    float **data = xmalloc(sizeof(float *) * (size_t)n);
    int q8 = 0, k = 0;
    for (int i = 0; i < wt->n_stages; i++)
        for (int l = 0; l < wt->stages[i].n_layers; l++) {
            vox_codec_layer_w *lw = &wt->stages[i].layers[l];
            const vox_tensor **slot[7] = {&lw->wq, &lw->wk, &lw->wv, &lw->wo,
                                          &lw->w1, &lw->w2, &lw->w3};
            for (int j = 0; j < 7; j++, k++) {
                orig[k] = *slot[j];
                q8 += orig[k]->dtype == VOX_Q8_0;
                data[k] = FNEW(orig[k]->shape[0] * orig[k]->shape[1]);
                vox_tensor_to_f32(orig[k], data[k]);
                f32[k] = *orig[k];
                f32[k].dtype = VOX_F32;
                f32[k].data = data[k];
                f32[k].nbytes = sizeof(float) * (size_t)(orig[k]->shape[0] * orig[k]->shape[1]);
                f32[k].packed = NULL;
                *slot[j] = &f32[k];
            }
        }
    CHECK(q8 == n, "%s: %d of %d codec matrices are Q8_0", name, q8, n);
    CHECK(grad_at(m, F, 777, gf) == VOX_OK, "%s: gradient (dequantized)", name);
    double de = 0, gs = 0;
    for (size_t i = 0; i < nl; i++) {
        de = fmax(de, fabs(gq[i] - gf[i]));
        gs = fmax(gs, fabs(gf[i]));
    }
    CHECK(gs > 0 && de < 0.1 * gs, "%s: gradient vs the dequantized model's: %.3g of %.3g", name, de,
          gs);
    printf("%s: gradient vs the dequantized model's: %.3g of max |g| %.3g\n", name, de / gs, gs);
    e2e_fd(m, "synthetic q8_0 dequantized to f32", 2, 2e-2);
    k = 0;
    for (int i = 0; i < wt->n_stages; i++)
        for (int l = 0; l < wt->stages[i].n_layers; l++) {
            vox_codec_layer_w *lw = &wt->stages[i].layers[l];
            const vox_tensor **slot[7] = {&lw->wq, &lw->wk, &lw->wv, &lw->wo,
                                          &lw->w1, &lw->w2, &lw->w3};
            for (int j = 0; j < 7; j++, k++) *slot[j] = orig[k];
        }
    for (int i = 0; i < n; i++) free(data[i]);
    free(f32), free(orig), free(data), free(gq), free(gf);
    voxtts_model_free(m);
}

int main(void) {
    vox_pool *pool = NULL;
    vox_error err;
    if (vox_pool_create(2, &pool, &err) != VOX_OK) {
        fprintf(stderr, "pool: %s\n", err.msg);
        return 2;
    }
    test_rmsnorm();
    test_swiglu();
    test_attention(pool);
    test_attention(NULL);
    /* kind, k, s, in, out, T */
    test_conv(pool, 0, 3, 1, 5, 7, 1);
    test_conv(pool, 0, 3, 1, 5, 7, 4);
    test_conv(pool, 0, 2, 1, 3, 9, 6);
    test_conv(pool, 1, 4, 2, 6, 5, 1);
    test_conv(pool, 1, 4, 2, 6, 5, 3);
    test_conv(pool, 1, 3, 2, 4, 3, 5);
    test_conv(pool, 1, 5, 3, 2, 4, 4);
    test_conv(pool, 2, 7, 1, 6, 5, 3);  /* shorter than k-1: zero extension */
    test_conv(pool, 2, 7, 1, 6, 5, 6);  /* exactly k-1 */
    test_conv(pool, 2, 7, 1, 6, 5, 7);
    test_conv(pool, 2, 5, 1, 4, 3, 11);
    test_transpose_cat(pool);
    /* dtype, D, H, KVH, hd, hidden, qk_norm, layer_scale, W, w_keys, T */
    test_layer(pool, VOX_F32, 20, 3, 1, 4, 28, 1, 1, 4, 0, 11);
    test_layer(pool, VOX_F32, 20, 3, 1, 4, 28, 1, 1, 4, 1, 11);
    test_layer(pool, VOX_F32, 12, 2, 2, 5, 17, 0, 0, 2, 0, 9);
    test_layer(pool, VOX_F32, 16, 4, 2, 3, 24, 1, 1, 16, 0, 7);
    test_layer(pool, VOX_BF16, 20, 3, 1, 4, 28, 1, 1, 4, 0, 11);
    const char *dirs[2] = {"tests/models/tiny-a", "tests/models/tiny-b"};
    for (int i = 0; i < 2; i++) run_model(dirs[i]);
    run_synthetic("f16");
    run_synthetic("q8_0");
    printf("worst op errors: f32 %.3g, bf16 weights %.3g; end to end %.3g\n", worst_f32, worst_bf16,
           worst_e2e);
    vox_pool_free(pool);
    TEST_MAIN_END();
}
