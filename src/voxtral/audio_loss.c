/* audio_loss.c — multi-resolution STFT, log-mel and waveform L1 losses with
 * their gradients (see audio_loss.h for the definitions).
 *
 * FFT: iterative radix-2 complex FFT in double with per-size twiddle and
 * bit-reversal tables.  Frames are real, so two frames go through one complex
 * FFT (a + i·b) and are separated with the conjugate symmetry of real spectra.
 * Backward: the gradient with respect to the windowed frame s of a loss on
 * X_k = sum_m s_m e^{-2 pi i k m / N} (k = 0..N/2) is Re sum_k G_k e^{+2 pi i k m / N}
 * with G_k = dL/dRe X_k + i dL/dIm X_k; extending G to the Hermitian spectrum H
 * (H_0 = 2 Re G_0, H_{N/2} = 2 Re G_{N/2}, H_k = G_k, H_{N-k} = conj G_k) makes
 * it (1/2)·IDFT(H), real, so two frames again share one inverse FFT.
 *
 * Evaluation, for every resolution at once:
 *   pass A  (items: frame pairs of all resolutions) spectra, magnitudes, mel
 *           values and per-frame partial sums, each in the frame's own slot;
 *   reduce  (caller, frame order) the totals;
 *   pass B  (frame pairs) dL/d|X_k| -> frame-domain gradient, windowed;
 *   pass C  (sample blocks) overlap-add of every frame covering a sample,
 *           resolutions then frames in ascending order, plus the wave term.
 * Nothing depends on which thread ran an item, so the result is the same for
 * every thread count. */
#include "voxtral/audio_loss.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PI_D 3.14159265358979323846264338327950288
#define SAMPLE_BLOCK 4096 /* samples per pass-C item */

typedef struct loss_res {
    int N, hop, K, F;    /* FFT size, hop, bins N/2+1, frames */
    int stft;            /* contributes to the stft term */
    int mel;             /* carries the mel term */
    double *win;         /* [N] periodic Hann */
    double *cs, *sn;     /* [N/2] cos, sin(2 pi k / N) */
    int *rev;            /* [N] bit reversal */
    double *ymag, *ylog; /* [F][K] target |Y|, log|Y| */
    double ynorm;        /* ||Y||_F */
    double *ymel;        /* [F][n_mels] log(mel_Y + eps) */
    /* per evaluation */
    double *spec;  /* [F][K][2] */
    double *mag;   /* [F][K] */
    double *xmel;  /* [F][n_mels] mel_X */
    double *fsum;  /* [F][3]: sum D^2, sum |dlog|, sum |dlogmel| */
    double *fgrad; /* [F][N] windowed frame gradient */
    int pair0;     /* first global pair index of this resolution */
} loss_res;

struct vox_audio_loss {
    vox_audio_loss_params p;
    vox_pool *pool;
    int n_threads;
    size_t n;
    int sample_rate;
    double *y;        /* [n] target */
    double y_abs_sum; /* sum |y| */
    int n_res;        /* resolutions including an extra mel one */
    int n_stft;       /* resolutions that count in the stft term */
    loss_res res[VOX_LOSS_MAX_RES + 1];
    int n_pairs; /* frame pairs over all resolutions */
    /* mel filter bank on the mel resolution's bins */
    int *mel_lo, *mel_len; /* [n_mels] */
    size_t *mel_off;       /* [n_mels] into mel_w */
    double *mel_w;
    double *scratch; /* [n_threads][2 * N_max] complex FFT buffer */
    int n_max;
    /* state of the current evaluation */
    const double *x;
    double *grad;
    int target_pass;                       /* pass A fills the target tables */
    double sc_scale[VOX_LOSS_MAX_RES + 1]; /* dL/d|X| factor of D per resolution */
    double lm_scale[VOX_LOSS_MAX_RES + 1]; /* of sign(dlog)/|X| */
    double mel_scale;                      /* of sign(dlogmel)/(mel+eps) */
};

void vox_audio_loss_params_default(vox_audio_loss_params *p) {
    memset(p, 0, sizeof *p);
    p->n_res = 3;
    p->fft[0] = 512;
    p->fft[1] = 1024;
    p->fft[2] = 2048;
    p->mel_fft = 1024;
    p->n_mels = 80;
    p->w_stft = 1.0;
    p->w_mel = 1.0;
    p->w_wave = 5.0;
    p->mag_eps = 1e-8;
    p->mel_eps = 1e-5;
}

static int is_pow2(int v) { return v >= 8 && v <= (1 << 20) && (v & (v - 1)) == 0; }

static void fft(const loss_res *r, double *z, int inverse) {
    const int N = r->N;
    for (int i = 0; i < N; i++) {
        const int j = r->rev[i];
        if (i < j) {
            double t0 = z[2 * i], t1 = z[2 * i + 1];
            z[2 * i] = z[2 * j];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = t0;
            z[2 * j + 1] = t1;
        }
    }
    const double sgn = inverse ? 1.0 : -1.0;
    for (int len = 2; len <= N; len <<= 1) {
        const int half = len >> 1, step = N / len;
        for (int i = 0; i < N; i += len) {
            for (int k = 0; k < half; k++) {
                const double wr = r->cs[k * step], wi = sgn * r->sn[k * step];
                double *a = z + 2 * (i + k), *b = z + 2 * (i + k + half);
                const double br = b[0] * wr - b[1] * wi, bi = b[0] * wi + b[1] * wr;
                b[0] = a[0] - br;
                b[1] = a[1] - bi;
                a[0] += br;
                a[1] += bi;
            }
        }
    }
}

static double hz_to_mel(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double mel_to_hz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

static void res_free(loss_res *r) {
    free(r->win);
    free(r->cs);
    free(r->sn);
    free(r->rev);
    free(r->ymag);
    free(r->ylog);
    free(r->ymel);
    free(r->spec);
    free(r->mag);
    free(r->xmel);
    free(r->fsum);
    free(r->fgrad);
}

void vox_audio_loss_free(vox_audio_loss *L) {
    if (!L) return;
    for (int i = 0; i < L->n_res; i++) res_free(&L->res[i]);
    free(L->y);
    free(L->mel_lo);
    free(L->mel_len);
    free(L->mel_off);
    free(L->mel_w);
    free(L->scratch);
    free(L);
}

static double *dalloc(size_t a, size_t b) {
    if (a == 0 || b == 0) return calloc(1, sizeof(double));
    if (b > SIZE_MAX / sizeof(double) / a) return NULL;
    return calloc(a * b, sizeof(double));
}

static int res_init(loss_res *r, int N, size_t n, int n_mels) {
    r->N = N;
    r->hop = N / 4;
    r->K = N / 2 + 1;
    if (n / (size_t)r->hop + 1 > (size_t)INT32_MAX / 4) return -1;
    r->F = (int)(n / (size_t)r->hop) + 1;
    const size_t F = (size_t)r->F, K = (size_t)r->K;
    r->win = dalloc(N, 1);
    r->cs = dalloc(N / 2, 1);
    r->sn = dalloc(N / 2, 1);
    r->rev = malloc(sizeof(int) * (size_t)N);
    r->ymag = dalloc(F, K);
    r->ylog = dalloc(F, K);
    r->spec = dalloc(F, 2 * K);
    r->mag = dalloc(F, K);
    r->fsum = dalloc(F, 3);
    r->fgrad = dalloc(F, (size_t)N);
    if (r->mel) {
        r->ymel = dalloc(F, (size_t)n_mels);
        r->xmel = dalloc(F, (size_t)n_mels);
        if (!r->ymel || !r->xmel) return -1;
    }
    if (!r->win || !r->cs || !r->sn || !r->rev || !r->ymag || !r->ylog || !r->spec || !r->mag ||
        !r->fsum || !r->fgrad)
        return -1;
    for (int m = 0; m < N; m++) r->win[m] = 0.5 - 0.5 * cos(2.0 * PI_D * m / N);
    for (int k = 0; k < N / 2; k++) {
        r->cs[k] = cos(2.0 * PI_D * k / N);
        r->sn[k] = sin(2.0 * PI_D * k / N);
    }
    int bits = 0;
    while ((1 << bits) < N) bits++;
    for (int i = 0; i < N; i++) {
        int v = 0;
        for (int b = 0; b < bits; b++)
            if (i & (1 << b)) v |= 1 << (bits - 1 - b);
        r->rev[i] = v;
    }
    return 0;
}

/* mel_X[b] of one magnitude row. */
static void mel_row(const vox_audio_loss *L, const double *mag, double *out) {
    for (int b = 0; b < L->p.n_mels; b++) {
        const double *w = L->mel_w + L->mel_off[b];
        const double *m = mag + L->mel_lo[b];
        double s = 0.0;
        for (int j = 0; j < L->mel_len[b]; j++) s += w[j] * m[j];
        out[b] = s;
    }
}

/* Global pair index -> resolution and first frame. */
static loss_res *pair_res(vox_audio_loss *L, int64_t it, int *f0) {
    int i = L->n_res - 1;
    while (i > 0 && it < L->res[i].pair0) i--;
    *f0 = (int)(it - L->res[i].pair0) * 2;
    return &L->res[i];
}

/* Pass A: spectra of frames f0, f0+1 of L->x (or of the target). */
static void pass_a(void *ctx, int64_t begin, int64_t end, int tid) {
    vox_audio_loss *L = ctx;
    double *z = L->scratch + (size_t)tid * 2 * (size_t)L->n_max;
    const double *x = L->target_pass ? L->y : L->x;
    const int64_t n = (int64_t)L->n;
    const int M = L->p.n_mels;
    for (int64_t it = begin; it < end; it++) {
        int f0;
        loss_res *r = pair_res(L, it, &f0);
        const int N = r->N, K = r->K;
        for (int e = 0; e < 2; e++) {
            const int f = f0 + e;
            const int64_t start = (int64_t)f * r->hop - N / 2;
            for (int m = 0; m < N; m++) {
                const int64_t i = start + m;
                z[2 * m + e] = (f < r->F && i >= 0 && i < n) ? r->win[m] * x[i] : 0.0;
            }
        }
        fft(r, z, 0);
        for (int e = 0; e < 2 && f0 + e < r->F; e++) {
            const int f = f0 + e;
            double *sp = r->spec + (size_t)f * 2 * K;
            double *mg = (L->target_pass ? r->ymag : r->mag) + (size_t)f * K;
            for (int k = 0; k < K; k++) {
                const int k2 = k == 0 ? 0 : N - k;
                const double zr = z[2 * k], zi = z[2 * k + 1], wr = z[2 * k2], wi = z[2 * k2 + 1];
                double re, im;
                if (e == 0) {
                    re = 0.5 * (zr + wr);
                    im = 0.5 * (zi - wi);
                } else {
                    re = 0.5 * (zi + wi);
                    im = -0.5 * (zr - wr);
                }
                sp[2 * k] = re;
                sp[2 * k + 1] = im;
                mg[k] = sqrt(re * re + im * im + L->p.mag_eps);
            }
            if (L->target_pass) {
                double *yl = r->ylog + (size_t)f * K;
                for (int k = 0; k < K; k++) yl[k] = log(mg[k]);
                if (r->mel) {
                    double *ym = r->ymel + (size_t)f * M;
                    mel_row(L, mg, ym);
                    for (int b = 0; b < M; b++) ym[b] = log(ym[b] + L->p.mel_eps);
                }
                continue;
            }
            const double *ym = r->ymag + (size_t)f * K, *yl = r->ylog + (size_t)f * K;
            double d2 = 0.0, dl = 0.0, dm = 0.0;
            for (int k = 0; k < K; k++) {
                const double d = mg[k] - ym[k];
                d2 += d * d;
                dl += fabs(log(mg[k]) - yl[k]);
            }
            if (r->mel) {
                double *xm = r->xmel + (size_t)f * M;
                const double *yml = r->ymel + (size_t)f * M;
                mel_row(L, mg, xm);
                for (int b = 0; b < M; b++) dm += fabs(log(xm[b] + L->p.mel_eps) - yml[b]);
            }
            double *fs = r->fsum + (size_t)f * 3;
            fs[0] = d2;
            fs[1] = dl;
            fs[2] = dm;
        }
    }
}

static double sgn(double v) { return v > 0.0 ? 1.0 : v < 0.0 ? -1.0 : 0.0; }

/* Pass B: frame-domain gradients of frames f0, f0+1. */
static void pass_b(void *ctx, int64_t begin, int64_t end, int tid) {
    vox_audio_loss *L = ctx;
    double *z = L->scratch + (size_t)tid * 2 * (size_t)L->n_max;
    const int M = L->p.n_mels;
    for (int64_t it = begin; it < end; it++) {
        int f0;
        loss_res *r = pair_res(L, it, &f0);
        const int ri = (int)(r - L->res);
        const int N = r->N, K = r->K;
        memset(z, 0, sizeof(double) * 2 * (size_t)N);
        for (int e = 0; e < 2 && f0 + e < r->F; e++) {
            const int f = f0 + e;
            const double *sp = r->spec + (size_t)f * 2 * K, *mg = r->mag + (size_t)f * K;
            const double *ym = r->ymag + (size_t)f * K, *yl = r->ylog + (size_t)f * K;
            /* g[k] = dL/d|X_k|, kept in z's unused half would alias: use fgrad as scratch */
            double *g = r->fgrad + (size_t)f * N;
            for (int k = 0; k < K; k++)
                g[k] = L->sc_scale[ri] * (mg[k] - ym[k]) +
                       L->lm_scale[ri] * sgn(log(mg[k]) - yl[k]) / mg[k];
            if (r->mel) {
                const double *xm = r->xmel + (size_t)f * M, *yml = r->ymel + (size_t)f * M;
                for (int b = 0; b < M; b++) {
                    const double den = xm[b] + L->p.mel_eps;
                    const double c = L->mel_scale * sgn(log(den) - yml[b]) / den;
                    if (c == 0.0) continue;
                    const double *w = L->mel_w + L->mel_off[b];
                    double *gg = g + L->mel_lo[b];
                    for (int j = 0; j < L->mel_len[b]; j++) gg[j] += c * w[j];
                }
            }
            /* G_k = g_k X_k / |X_k| -> Hermitian H, packed as real (e = 0) or imaginary part */
            for (int k = 0; k < K; k++) {
                double gr = g[k] * sp[2 * k] / mg[k], gi = g[k] * sp[2 * k + 1] / mg[k];
                if (k == 0 || k == N / 2) {
                    gr *= 2.0;
                    gi = 0.0;
                }
                /* H_k += (gr + i gi) · (1 or i) */
                if (e == 0) {
                    z[2 * k] += gr;
                    z[2 * k + 1] += gi;
                } else {
                    z[2 * k] -= gi;
                    z[2 * k + 1] += gr;
                }
                if (k > 0 && k < N / 2) { /* H_{N-k} = conj(G_k) */
                    const int k2 = N - k;
                    if (e == 0) {
                        z[2 * k2] += gr;
                        z[2 * k2 + 1] -= gi;
                    } else {
                        z[2 * k2] += gi;
                        z[2 * k2 + 1] += gr;
                    }
                }
            }
        }
        fft(r, z, 1);
        for (int e = 0; e < 2 && f0 + e < r->F; e++) {
            double *fg = r->fgrad + (size_t)(f0 + e) * N;
            for (int m = 0; m < N; m++) fg[m] = 0.5 * z[2 * m + e] * r->win[m];
        }
    }
}

/* Pass C: grad[i] for the samples of blocks [begin, end). */
static void pass_c(void *ctx, int64_t begin, int64_t end, int tid) {
    vox_audio_loss *L = ctx;
    (void)tid;
    const int64_t n = (int64_t)L->n;
    const double wg = L->y_abs_sum > 0.0 ? L->p.w_wave / L->y_abs_sum : 0.0;
    for (int64_t blk = begin; blk < end; blk++) {
        const int64_t i0 = blk * SAMPLE_BLOCK, i1 = i0 + SAMPLE_BLOCK < n ? i0 + SAMPLE_BLOCK : n;
        for (int64_t i = i0; i < i1; i++) L->grad[i] = 0.0;
        for (int ri = 0; ri < L->n_res; ri++) {
            const loss_res *r = &L->res[ri];
            const int64_t hop = r->hop, h = r->N / 2;
            for (int64_t i = i0; i < i1; i++) {
                /* frames f with f*hop - h <= i < f*hop + h */
                int64_t fa = i >= h ? (i - h) / hop : 0;
                while (fa > 0 && fa * hop + h > i) fa--;
                while (fa * hop + h <= i) fa++;
                double s = 0.0;
                for (int64_t f = fa; f < r->F && f * hop - h <= i; f++)
                    s += r->fgrad[(size_t)f * r->N + (size_t)(i - (f * hop - h))];
                L->grad[i] += s;
            }
        }
        if (wg != 0.0)
            for (int64_t i = i0; i < i1; i++) L->grad[i] += wg * sgn(L->x[i] - L->y[i]);
    }
}

int vox_audio_loss_new(const float *target, size_t n, int sample_rate,
                       const vox_audio_loss_params *p, vox_pool *pool, vox_audio_loss **out,
                       vox_error *err) {
    *out = NULL;
    if (!target || n == 0) return vox_fail(err, VOX_E_ARG, "audio loss: empty target");
    if (sample_rate <= 0)
        return vox_fail(err, VOX_E_ARG, "audio loss: bad sample rate %d", sample_rate);
    if (p->n_res < 0 || p->n_res > VOX_LOSS_MAX_RES)
        return vox_fail(err, VOX_E_ARG, "audio loss: %d resolutions (at most %d)", p->n_res,
                        VOX_LOSS_MAX_RES);
    for (int i = 0; i < p->n_res; i++)
        if (!is_pow2(p->fft[i]))
            return vox_fail(err, VOX_E_ARG, "audio loss: FFT size %d is not a power of two >= 8",
                            p->fft[i]);
    if (p->n_mels < 0 || p->n_mels > 1024)
        return vox_fail(err, VOX_E_ARG, "audio loss: %d mel bands", p->n_mels);
    if (p->n_mels > 0 && !is_pow2(p->mel_fft))
        return vox_fail(err, VOX_E_ARG, "audio loss: mel FFT size %d is not a power of two >= 8",
                        p->mel_fft);
    if (!(p->mag_eps > 0.0) || !(p->mel_eps > 0.0))
        return vox_fail(err, VOX_E_ARG, "audio loss: epsilons must be positive");
    if (n > (size_t)INT64_MAX / 2) return vox_fail(err, VOX_E_ARG, "audio loss: target too long");
    vox_audio_loss *L = calloc(1, sizeof *L);
    if (!L) return vox_fail(err, VOX_E_NOMEM, "audio loss: out of memory");
    L->p = *p;
    L->pool = pool;
    L->n_threads = vox_pool_threads(pool);
    L->n = n;
    L->sample_rate = sample_rate;
    int mel_res = -1;
    for (int i = 0; i < p->n_res; i++) {
        L->res[i].stft = 1;
        if (p->n_mels > 0 && p->fft[i] == p->mel_fft && mel_res < 0) mel_res = i;
    }
    L->n_res = p->n_res;
    L->n_stft = p->n_res;
    if (p->n_mels > 0 && mel_res < 0) {
        mel_res = L->n_res++;
        L->res[mel_res].stft = 0;
    }
    if (mel_res >= 0) L->res[mel_res].mel = 1;
    int rc = VOX_OK;
    L->y = dalloc(n, 1);
    if (!L->y) goto nomem;
    for (size_t i = 0; i < n; i++) {
        L->y[i] = target[i];
        L->y_abs_sum += fabs(L->y[i]);
    }
    for (int i = 0; i < L->n_res; i++) {
        const int N = i < p->n_res ? p->fft[i] : p->mel_fft;
        if (res_init(&L->res[i], N, n, p->n_mels)) goto nomem;
        if (N > L->n_max) L->n_max = N;
        L->res[i].pair0 = L->n_pairs;
        L->n_pairs += (L->res[i].F + 1) / 2;
    }
    L->scratch = dalloc((size_t)L->n_threads * 2, (size_t)L->n_max);
    if (!L->scratch) goto nomem;
    if (mel_res >= 0) {
        const int M = p->n_mels, N = p->mel_fft, K = N / 2 + 1;
        L->mel_lo = calloc((size_t)M, sizeof(int));
        L->mel_len = calloc((size_t)M, sizeof(int));
        L->mel_off = calloc((size_t)M, sizeof(size_t));
        L->mel_w = dalloc((size_t)M, (size_t)K);
        if (!L->mel_lo || !L->mel_len || !L->mel_off || !L->mel_w) goto nomem;
        const double top = hz_to_mel(0.5 * sample_rate);
        size_t off = 0;
        for (int b = 0; b < M; b++) {
            const double lo = mel_to_hz(top * b / (M + 1)), c = mel_to_hz(top * (b + 1) / (M + 1)),
                         hi = mel_to_hz(top * (b + 2) / (M + 1));
            int first = -1, last = -1;
            for (int k = 0; k < K; k++) {
                const double f = (double)k * sample_rate / N;
                if (f > lo && f < hi) {
                    if (first < 0) first = k;
                    last = k;
                }
            }
            L->mel_off[b] = off;
            if (first < 0) continue; /* a band narrower than a bin: contributes 0 */
            L->mel_lo[b] = first;
            L->mel_len[b] = last - first + 1;
            for (int k = first; k <= last; k++) {
                const double f = (double)k * sample_rate / N;
                L->mel_w[off++] = f <= c ? (f - lo) / (c - lo) : (hi - f) / (hi - c);
            }
        }
    }
    /* target spectra */
    L->target_pass = 1;
    vox_pool_for(pool, L->n_pairs, 1, pass_a, L);
    L->target_pass = 0;
    for (int i = 0; i < L->n_res; i++) {
        loss_res *r = &L->res[i];
        double s = 0.0;
        for (size_t j = 0; j < (size_t)r->F * r->K; j++) s += r->ymag[j] * r->ymag[j];
        r->ynorm = sqrt(s);
    }
    *out = L;
    return VOX_OK;
nomem:
    rc = vox_fail(err, VOX_E_NOMEM, "audio loss: out of memory for %zu samples", n);
    vox_audio_loss_free(L);
    return rc;
}

int vox_audio_loss_eval(vox_audio_loss *L, const double *x, double *grad,
                        vox_audio_loss_terms *terms, vox_error *err) {
    if (!L || !x) return vox_fail(err, VOX_E_ARG, "audio loss: no signal");
    L->x = x;
    vox_pool_for(L->pool, L->n_pairs, 1, pass_a, L);
    vox_audio_loss_terms t;
    memset(&t, 0, sizeof t);
    double mel_sum = 0.0;
    int mel_F = 0;
    for (int i = 0; i < L->n_res; i++) {
        loss_res *r = &L->res[i];
        double d2 = 0.0, dl = 0.0;
        for (int f = 0; f < r->F; f++) {
            d2 += r->fsum[(size_t)f * 3];
            dl += r->fsum[(size_t)f * 3 + 1];
            if (r->mel) mel_sum += r->fsum[(size_t)f * 3 + 2];
        }
        if (r->mel) mel_F = r->F;
        const double dn = sqrt(d2), cnt = (double)r->F * r->K;
        L->sc_scale[i] = L->lm_scale[i] = 0.0;
        if (!r->stft) continue;
        const double sc = r->ynorm > 0.0 ? dn / r->ynorm : dn;
        t.sc += sc / L->n_stft;
        t.logmag += dl / cnt / L->n_stft;
        const double w = L->p.w_stft / L->n_stft;
        /* d sc / d|X_k| = D_k / (||D|| ||Y||) */
        if (dn > 0.0) L->sc_scale[i] = w / (dn * (r->ynorm > 0.0 ? r->ynorm : 1.0));
        L->lm_scale[i] = w / cnt;
    }
    t.stft = t.sc + t.logmag;
    if (mel_F > 0) {
        const double cnt = (double)mel_F * L->p.n_mels;
        t.mel = mel_sum / cnt;
        L->mel_scale = L->p.w_mel / cnt;
    } else {
        L->mel_scale = 0.0;
    }
    double wsum = 0.0;
    for (size_t i = 0; i < L->n; i++) wsum += fabs(x[i] - L->y[i]);
    t.wave = L->y_abs_sum > 0.0 ? wsum / L->y_abs_sum : 0.0;
    t.total = L->p.w_stft * t.stft + L->p.w_mel * t.mel + L->p.w_wave * t.wave;
    if (grad) {
        vox_pool_for(L->pool, L->n_pairs, 1, pass_b, L);
        L->grad = grad;
        const int64_t blocks = ((int64_t)L->n + SAMPLE_BLOCK - 1) / SAMPLE_BLOCK;
        vox_pool_for(L->pool, blocks, 1, pass_c, L);
        L->grad = NULL;
    }
    L->x = NULL;
    if (terms) *terms = t;
    return VOX_OK;
}

int vox_audio_loss_eval_f(vox_audio_loss *L, const float *x, float *grad,
                          vox_audio_loss_terms *terms, vox_error *err) {
    if (!L || !x) return vox_fail(err, VOX_E_ARG, "audio loss: no signal");
    double *xd = dalloc(L->n, grad ? 2 : 1);
    if (!xd) return vox_fail(err, VOX_E_NOMEM, "audio loss: out of memory");
    for (size_t i = 0; i < L->n; i++) xd[i] = x[i];
    double *gd = grad ? xd + L->n : NULL;
    int rc = vox_audio_loss_eval(L, xd, gd, terms, err);
    if (rc == VOX_OK && grad)
        for (size_t i = 0; i < L->n; i++) grad[i] = (float)gd[i];
    free(xd);
    return rc;
}

int vox_logmel_distance(const float *a, const float *b, size_t n, int sample_rate, vox_pool *pool,
                        double *dist, vox_error *err) {
    vox_audio_loss_params p;
    vox_audio_loss_params_default(&p);
    p.n_res = 0;
    p.w_stft = 0.0;
    p.w_wave = 0.0;
    vox_audio_loss *L;
    int rc = vox_audio_loss_new(a, n, sample_rate, &p, pool, &L, err);
    if (rc) return rc;
    vox_audio_loss_terms t;
    rc = vox_audio_loss_eval_f(L, b, NULL, &t, err);
    vox_audio_loss_free(L);
    if (rc == VOX_OK) *dist = t.mel;
    return rc;
}
