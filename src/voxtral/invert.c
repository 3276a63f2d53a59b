/* invert.c — voice cloning without an encoder (docs/MODEL.md §7, "Inversion"):
 * codes whose decoded audio matches a reference clip, found by gradient
 * descent through the frozen codec decoder (codec_grad.h) on the losses of
 * audio_loss.h (multi-resolution STFT + log-mel + 5·wave L1).
 *
 * The reference is padded with zeros to T = ceil(n / samples_per_frame) frames.
 * Each frame's latent (§6.1) is relaxed:
 *   phase 1  the semantic part is a free vector (start: the mean codebook row;
 *            Adam lr 0.5) and the acoustic part tanh(u) (start u = 0 plus a
 *            seeded jitter of 1e-3; Adam lr 0.2); it ends once the nearest
 *            codebook row of every frame has not changed for 50 steps (no
 *            earlier than step 100) or at 70 % of the budget;
 *   snap     every semantic vector becomes its nearest codebook row (Euclidean)
 *            and stays fixed;
 *   phase 2  u alone, fresh Adam, lr 0.1 with a cosine decay to 0.01 over the
 *            rest of the budget; it stops early once the FSQ levels the
 *            values round to have not changed for 80 steps, or the loss has
 *            not improved by 0.1 % for 60 steps.  With straight_through (off
 *            by default), the last steps (the final 25 % of phase 2, or from
 *            the loss plateau on) feed the FSQ-rounded values to the decoder
 *            and pass the gradient through the rounding unchanged;
 *   output   acoustic level = FSQ rounding of tanh(u) (§5.5), codes + 2 (§4).
 * Gradients are clipped to a global norm of 1 before each Adam step.
 *
 * Everything is deterministic for a given seed and thread count: the decoder
 * and the losses are, and every loop here is serial or split by frame.
 *
 * Measured (build/tools/clone_bench --model tests/models/tiny-a --seconds 3
 * --threads 1 --iters N [--no-st]; 38 frames of random codes, seed 42): log-mel
 * distance to the target relative to other random codes / acoustic codes exact
 * / within one level / SNR; semantic codes 97.4 % throughout (the miss is the
 * last frame, whose latent reaches only its own samples):
 *     N = 150            0.136   14 %   36 %   18.3 dB   (straight-through on)
 *     N = 250  ST on     0.079   27 %   62 %   22.9 dB
 *     N = 250  ST off    0.070   31 %   64 %   23.8 dB
 *     N = 400  ST on     0.065   68 %   94 %   23.9 dB
 *     N = 400  ST off    0.044   80 %   95 %   27.1 dB
 *     N = 500  ST off    0.014   91 %   96 %   33.5 dB   (the default)
 *     N = 700  ST on     0.012   90 %   96 %   31.2 dB
 *     N = 700  ST off    0.005   92 %   96 %   37.4 dB
 * so straight-through refinement is off by default.  tiny-b (5 s, 63 frames)
 * recovers every code exactly and stops after ~220 steps.  Also tried and
 * dropped: phase-2 lr 0.2 (0.047 at N = 400, no gain), a shorter phase 1
 * (30 stable steps, at least 60: 0.044, no gain), and trying each ambiguous
 * frame's runner-up codebook row after the snap (it picked wrong rows: the
 * loss at that point cannot tell them apart).
 * Full size (build/tools/clone_bench: synthetic bf16 model from
 * tests/data/params_official.json, 5 s = 63 frames of random codes, default
 * settings, 2 threads): 500 steps, phase 1 took its cap of 350 (the nearest
 * rows kept changing), semantic 95.2 % (misses: frames 46, 61, 62), acoustic
 * exact 95.0 %, within one level 98.9 %, SNR 18.7 dB, log-mel ratio 0.047;
 * 1.95 CPU-seconds per step (all threads; the losses 0.16 s of 6.5 s wall),
 * i.e. about 1 s per step and 8-9 minutes for the clip on two free cores (the
 * shared machine it was measured on gave 6.5 s per step, 55 minutes); peak
 * RSS 8.64 GB = the 8.00 GB of weights + 0.64 GB. */
#include "voxtral/invert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "voxtral/audio_loss.h"
#include "voxtral/codec_grad.h"
#include "voxtral/stream.h"

#define LR_SEM 0.5f
#define LR_AC1 0.2f
#define LR_AC2 0.1f
#define LR_AC2_END 0.01f
#define ADAM_B1 0.9
#define ADAM_B2 0.999
#define ADAM_EPS 1e-8
#define CLIP_NORM 1.0
#define P1_MIN_STEPS 100
#define P1_STABLE_STEPS 50
#define P1_MAX_FRAC 0.7
#define P2_PATIENCE 60
#define P2_MIN_GAIN 1e-3
#define P2_LEVELS_STABLE 80
#define ST_FRAC 0.25
#define U_JITTER 1e-3f

void vox_invert_params_default(vox_invert_params *p) {
    memset(p, 0, sizeof *p);
    p->max_iters = VOX_INVERT_DEFAULT_ITERS;
    p->seed = 42;
    p->straight_through = 0;
}

/* Adam state of one parameter block. */
typedef struct adam {
    float *m, *v;
    size_t n;
    int t;
} adam;

static void adam_reset(adam *a) {
    memset(a->m, 0, sizeof(float) * a->n);
    memset(a->v, 0, sizeof(float) * a->n);
    a->t = 0;
}

static void adam_step(adam *a, float *x, const float *g, double scale, float lr) {
    a->t++;
    const double c1 = 1.0 - pow(ADAM_B1, a->t), c2 = 1.0 - pow(ADAM_B2, a->t);
    for (size_t i = 0; i < a->n; i++) {
        const double gi = (double)g[i] * scale;
        const double m = ADAM_B1 * a->m[i] + (1.0 - ADAM_B1) * gi;
        const double v = ADAM_B2 * a->v[i] + (1.0 - ADAM_B2) * gi * gi;
        a->m[i] = (float)m;
        a->v[i] = (float)v;
        x[i] -= (float)(lr * (m / c1) / (sqrt(v / c2) + ADAM_EPS));
    }
}

typedef struct nearest_task {
    const float *scores, *cb_norm; /* [T][S] sem_t . C_j; [S] ||C_j||^2 */
    int S;
    int *idx;
} nearest_task;

/* idx[t] = argmin_j ||sem_t - C_j||^2 = argmin_j ||C_j||^2 - 2 sem_t . C_j
 * (ties: the first j), frames [begin, end). */
static void nearest_run(void *ctx, int64_t begin, int64_t end, int tid) {
    const nearest_task *t = ctx;
    (void)tid;
    for (int64_t f = begin; f < end; f++) {
        const float *sc = t->scores + (size_t)f * t->S;
        float best = INFINITY;
        int bi = 0;
        for (int j = 0; j < t->S; j++) {
            const float d = t->cb_norm[j] - 2.0f * sc[j];
            if (d < best) {
                best = d;
                bi = j;
            }
        }
        t->idx[f] = bi;
    }
}

typedef struct inv_state {
    voxtts_model *m;
    int T, sd, A, L, S, ld;
    size_t n_wave;
    vox_codec_grad_ws *ws;
    vox_audio_loss *loss;
    float *sem, *u; /* [T][sd], [T][A] */
    float *gsem, *gu;
    float *latent, *dlatent; /* [T][ld] */
    float *wave, *gwave;     /* [n_wave] */
    float *cb_norm;          /* [S] */
    float *scores;           /* [T][S] */
    int *idx, *idx_prev;     /* [T] */
    int *lev;                /* [T][A] FSQ levels of tanh(u) after the last step */
    adam a_sem, a_u;
    double codec_s, loss_s; /* wall seconds in the decoder and in the losses */
} inv_state;

static void state_free(inv_state *s) {
    vox_codec_grad_ws_free(s->ws);
    vox_audio_loss_free(s->loss);
    free(s->sem);
    free(s->u);
    free(s->gsem);
    free(s->gu);
    free(s->latent);
    free(s->dlatent);
    free(s->wave);
    free(s->gwave);
    free(s->cb_norm);
    free(s->scores);
    free(s->idx);
    free(s->idx_prev);
    free(s->lev);
    free(s->a_sem.m);
    free(s->a_sem.v);
    free(s->a_u.m);
    free(s->a_u.v);
}

static float *falloc(size_t a, size_t b) {
    if (a == 0 || b == 0) return calloc(1, sizeof(float));
    if (b > SIZE_MAX / sizeof(float) / a) return NULL;
    return calloc(a * b, sizeof(float));
}

static void nearest(inv_state *s, int *idx) {
    /* the dot products as one product with the codebook (row-independent
     * kernels: the same bits for any thread count) */
    vox_tensor C;
    memset(&C, 0, sizeof C);
    C.dtype = VOX_F32;
    C.ndim = 2;
    C.shape[0] = s->S;
    C.shape[1] = s->sd;
    C.data = s->m->w.semantic_codebook;
    C.nbytes = sizeof(float) * (size_t)s->S * s->sd;
    vox_matmul_pool(s->m->pool, &C, s->sem, s->T, s->scores);
    nearest_task t = {s->scores, s->cb_norm, s->S, idx};
    vox_pool_for(s->m->pool, s->T, 1, nearest_run, &t);
}

/* Latent from the current variables: the semantic vectors (free or snapped:
 * s->sem holds the codebook rows after the snap) and tanh(u), FSQ-rounded
 * when `rounded`. */
static void build_latent(inv_state *s, int rounded) {
    for (int t = 0; t < s->T; t++) {
        float *row = s->latent + (size_t)t * s->ld;
        memcpy(row, s->sem + (size_t)t * s->sd, sizeof(float) * (size_t)s->sd);
        for (int a = 0; a < s->A; a++) {
            float v = tanhf(s->u[(size_t)t * s->A + a]);
            if (rounded) v = vox_fsq_value(vox_fsq_level(v, s->L), s->L);
            row[s->sd + a] = v;
        }
    }
}

/* One loss evaluation at the current latent; gradients into gsem (if want_sem)
 * and gu.  Returns the loss in *loss. */
static int eval_step(inv_state *s, int want_sem, int rounded, int want_grad, double *loss,
                     vox_error *err) {
    build_latent(s, rounded);
    const double t0 = vox_now_s();
    int rc = vox_codec_grad_forward(s->ws, s->latent, s->wave, err);
    if (rc) return rc;
    const double t1 = vox_now_s();
    vox_audio_loss_terms terms;
    rc = vox_audio_loss_eval_f(s->loss, s->wave, want_grad ? s->gwave : NULL, &terms, err);
    if (rc) return rc;
    const double t2 = vox_now_s();
    s->codec_s += t1 - t0;
    s->loss_s += t2 - t1;
    *loss = terms.total;
    if (!want_grad) return VOX_OK;
    rc = vox_codec_grad_backward(s->ws, s->gwave, s->dlatent, err);
    if (rc) return rc;
    s->codec_s += vox_now_s() - t2;
    for (int t = 0; t < s->T; t++) {
        const float *d = s->dlatent + (size_t)t * s->ld;
        if (want_sem) memcpy(s->gsem + (size_t)t * s->sd, d, sizeof(float) * (size_t)s->sd);
        for (int a = 0; a < s->A; a++) {
            /* straight through the rounding: d round(v) / dv taken as 1 */
            const float th = tanhf(s->u[(size_t)t * s->A + a]);
            s->gu[(size_t)t * s->A + a] = d[s->sd + a] * (1.0f - th * th);
        }
    }
    return VOX_OK;
}

/* Global-norm clipping factor of the gradients in use. */
static double clip_scale(const inv_state *s, int with_sem) {
    double n2 = 0.0;
    const size_t ns = (size_t)s->T * s->sd, nu = (size_t)s->T * s->A;
    if (with_sem)
        for (size_t i = 0; i < ns; i++) n2 += (double)s->gsem[i] * s->gsem[i];
    for (size_t i = 0; i < nu; i++) n2 += (double)s->gu[i] * s->gu[i];
    const double norm = sqrt(n2);
    return norm > CLIP_NORM ? CLIP_NORM / norm : 1.0;
}

int vox_invert(voxtts_model *m, const float *wave, size_t n, const vox_invert_params *p,
               int32_t **codes, int *n_frames, vox_invert_result *res, vox_error *err) {
    if (codes) *codes = NULL;
    if (n_frames) *n_frames = 0;
    if (!m || !wave || !codes || !n_frames)
        return vox_fail(err, VOX_E_ARG, "invert: missing model, reference or output");
    if (n == 0) return vox_fail(err, VOX_E_ARG, "invert: the reference clip is empty");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(wave[i]))
            return vox_fail(err, VOX_E_ARG, "invert: reference sample %zu is not a finite number",
                            i);
    vox_invert_params def;
    vox_invert_params_default(&def);
    if (!p) p = &def;
    const int budget = p->max_iters > 0 ? p->max_iters : VOX_INVERT_DEFAULT_ITERS;
    const vox_config *c = &m->cfg;
    const double t_start = vox_now_s();
    const size_t spf = (size_t)c->codec.samples_per_frame;
    if (spf == 0) return vox_fail(err, VOX_E_FORMAT, "invert: model has 0 samples per frame");
    const size_t Tz = (n + spf - 1) / spf;
    if (Tz > (size_t)1 << 20)
        return vox_fail(err, VOX_E_ARG, "invert: reference of %zu samples is too long", n);

    inv_state s;
    memset(&s, 0, sizeof s);
    s.m = m;
    s.T = (int)Tz;
    s.sd = c->codec.semantic_dim;
    s.A = c->n_acoustic_codebook;
    s.L = c->acoustic_codebook_size;
    s.S = c->codec.semantic_codebook_size;
    s.ld = vox_codec_latent_dim(m);
    s.n_wave = Tz * spf;
    if (s.ld != s.sd + s.A)
        return vox_fail(err, VOX_E_INTERNAL, "invert: latent of %d channels, expected %d + %d",
                        s.ld, s.sd, s.A);
    if (s.L < 2 || s.S < 1) return vox_fail(err, VOX_E_FORMAT, "invert: empty codebooks");
    const int T = s.T, sd = s.sd, A = s.A, ld = s.ld;
    int rc = VOX_OK;
    int32_t *out = NULL;
    float *target = falloc(s.n_wave, 1);
    s.sem = falloc(T, sd);
    s.u = falloc(T, A);
    s.gsem = falloc(T, sd);
    s.gu = falloc(T, A);
    s.latent = falloc(T, ld);
    s.dlatent = falloc(T, ld);
    s.wave = falloc(s.n_wave, 1);
    s.gwave = falloc(s.n_wave, 1);
    s.cb_norm = falloc(s.S, 1);
    s.scores = falloc(Tz, (size_t)s.S);
    s.idx = calloc(Tz, sizeof(int));
    s.idx_prev = calloc(Tz, sizeof(int));
    s.lev = calloc(Tz * (size_t)A, sizeof(int));
    s.a_sem.n = (size_t)T * sd;
    s.a_u.n = (size_t)T * A;
    s.a_sem.m = falloc(T, sd);
    s.a_sem.v = falloc(T, sd);
    s.a_u.m = falloc(T, A);
    s.a_u.v = falloc(T, A);
    out = malloc(sizeof(int32_t) * Tz * (size_t)c->n_codebooks);
    if (!target || !s.sem || !s.u || !s.gsem || !s.gu || !s.latent || !s.dlatent || !s.wave ||
        !s.gwave || !s.cb_norm || !s.scores || !s.idx || !s.idx_prev || !s.lev || !s.a_sem.m ||
        !s.a_sem.v || !s.a_u.m || !s.a_u.v || !out) {
        rc = vox_fail(err, VOX_E_NOMEM, "invert: out of memory for %d frames", T);
        goto done;
    }
    memcpy(target, wave, sizeof(float) * n);
    {
        vox_audio_loss_params lp;
        vox_audio_loss_params_default(&lp);
        rc = vox_audio_loss_new(target, s.n_wave, c->codec.sampling_rate, &lp, m->pool, &s.loss,
                                err);
        if (rc) goto done;
    }
    rc = vox_codec_grad_ws_new(m, T, p->alibi_press, p->window_w_keys, &s.ws, err);
    if (rc) goto done;

    /* start: the mean codebook row; u = seeded jitter */
    const float *cb = m->w.semantic_codebook;
    {
        double *mean = calloc((size_t)sd, sizeof(double));
        if (!mean) {
            rc = vox_fail(err, VOX_E_NOMEM, "invert: out of memory");
            goto done;
        }
        for (int j = 0; j < s.S; j++) {
            double nn = 0.0;
            for (int i = 0; i < sd; i++) {
                const double v = cb[(size_t)j * sd + i];
                mean[i] += v;
                nn += v * v;
            }
            s.cb_norm[j] = (float)nn;
        }
        for (int t = 0; t < T; t++)
            for (int i = 0; i < sd; i++) s.sem[(size_t)t * sd + i] = (float)(mean[i] / s.S);
        free(mean);
        vox_rng rng;
        vox_rng_seed(&rng, p->seed);
        vox_rng_normal(&rng, s.u, T * A);
        for (size_t i = 0; i < (size_t)T * A; i++) s.u[i] *= U_JITTER;
    }

    int step = 0;
    double loss = 0.0;
    /* phase 1 */
    const int p1_max = (int)(P1_MAX_FRAC * budget) > 1 ? (int)(P1_MAX_FRAC * budget) : 1;
    nearest(&s, s.idx_prev);
    int last_change = 0;
    while (step < p1_max) {
        rc = eval_step(&s, 1, 0, 1, &loss, err);
        if (rc) goto done;
        const double sc = clip_scale(&s, 1);
        adam_step(&s.a_sem, s.sem, s.gsem, sc, LR_SEM);
        adam_step(&s.a_u, s.u, s.gu, sc, LR_AC1);
        step++;
        nearest(&s, s.idx);
        if (memcmp(s.idx, s.idx_prev, sizeof(int) * Tz) != 0) {
            last_change = step;
            memcpy(s.idx_prev, s.idx, sizeof(int) * Tz);
        }
        if (p->progress && p->progress(step, budget, (float)loss, p->progress_user)) {
            rc = vox_fail(err, VOX_E_CANCELLED,
                          "invert: cancelled by the progress callback at step %d", step);
            goto done;
        }
        if (step >= P1_MIN_STEPS && step - last_change >= P1_STABLE_STEPS) break;
    }
    const int p1_steps = step;
    /* snap */
    nearest(&s, s.idx);
    for (int t = 0; t < T; t++)
        memcpy(s.sem + (size_t)t * sd, cb + (size_t)s.idx[t] * sd, sizeof(float) * (size_t)sd);

    /* phase 2 */
    adam_reset(&s.a_u);
    const int p2_len = budget - p1_steps;
    const int st_from = p->straight_through ? p1_steps + (int)((1.0 - ST_FRAC) * p2_len) : budget;
    double best = INFINITY;
    int best_step = step, plateau = 0;
    last_change = step;
    for (size_t i = 0; i < (size_t)T * A; i++) s.lev[i] = -1;
    while (step < budget) {
        const int rounded = step >= st_from || plateau;
        rc = eval_step(&s, 0, rounded, 1, &loss, err);
        if (rc) goto done;
        const double frac = p2_len > 1 ? (double)(step - p1_steps) / (p2_len - 1) : 1.0;
        const float lr = (float)(LR_AC2_END + 0.5 * (LR_AC2 - LR_AC2_END) *
                                                  (1.0 + cos(3.14159265358979 * frac)));
        adam_step(&s.a_u, s.u, s.gu, clip_scale(&s, 0), lr);
        step++;
        if (p->progress && p->progress(step, budget, (float)loss, p->progress_user)) {
            rc = vox_fail(err, VOX_E_CANCELLED,
                          "invert: cancelled by the progress callback at step %d", step);
            goto done;
        }
        /* the FSQ levels the output would take: stable for long enough -> done */
        int changed = 0;
        for (size_t i = 0; i < (size_t)T * A; i++) {
            const int lv = vox_fsq_level(tanhf(s.u[i]), s.L);
            changed |= lv != s.lev[i];
            s.lev[i] = lv;
        }
        if (changed) last_change = step;
        if (step - last_change >= P2_LEVELS_STABLE) break;
        if (loss < best * (1.0 - P2_MIN_GAIN)) {
            best = loss;
            best_step = step;
        } else if (step - best_step >= P2_PATIENCE) {
            /* converged: a short straight-through refinement, then stop */
            if (!p->straight_through || plateau) break;
            plateau = 1;
            best = INFINITY;
            best_step = step;
        }
    }

    /* output codes */
    for (int t = 0; t < T; t++) {
        int32_t *fc = out + (size_t)t * c->n_codebooks;
        fc[0] = s.idx[t] + 2;
        for (int a = 0; a < A; a++)
            fc[1 + a] = vox_fsq_level(tanhf(s.u[(size_t)t * A + a]), s.L) + 2;
    }
    rc = eval_step(&s, 0, 1, 0, &loss, err);
    if (rc) goto done;
    if (res) {
        res->iters = step;
        res->phase1_iters = p1_steps;
        res->final_loss = (float)loss;
        res->seconds = vox_now_s() - t_start;
        res->codec_seconds = s.codec_s;
        res->loss_seconds = s.loss_s;
    }
    *codes = out;
    *n_frames = T;
    out = NULL;
done:
    free(out);
    free(target);
    state_free(&s);
    return rc;
}
