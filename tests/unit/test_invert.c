/* test_invert.c — voice cloning by inversion (src/voxtral/invert.c) on the
 * tiny checkpoints tests/models/tiny-a and tiny-b, which have no encoder.
 *
 * Synthetic truth: random codes are decoded into a target of about 3 s
 * (tiny-a) and 5 s (tiny-b; durations computed from each model's sample rate
 * and samples per frame); vox_invert with the default settings must find codes
 * whose decoded audio is at least 10x closer in log-mel L1 to the target than
 * the audio of other random codes, and recover >= 90 % of the semantic codes.
 * It prints the semantic, acoustic exact and within-one-level rates, the SNR,
 * the log-mel ratio, the steps and the time.  Also: the same seed gives the
 * same codes; a progress callback that returns non-zero cancels with
 * VOX_E_CANCELLED and no output; an empty or non-finite reference is refused.
 *
 * Arguments (optional): SCALE ITERS — clip durations are multiplied by SCALE
 * and the step budget is ITERS (0: the default).  Under AddressSanitizer the
 * budget defaults to 300 steps (same clips, same assertions): shorter clips
 * would not do, the last frame or two being the ones the inversion may miss,
 * and 2 misses of 19 frames already fall below 90 %. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "voxtral/audio_loss.h"
#include "voxtral/invert.h"
#include "voxtral/model.h"
#include "voxtts_debug.h"

#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_ITERS 300
#else
#define DEFAULT_ITERS 0
#endif

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((rng_state >> 33) % n);
}

static void random_codes(const voxtts_model *m, int T, int32_t *codes) {
    const int ncb = m->cfg.n_codebooks, S = m->cfg.semantic_codebook_size,
              L = m->cfg.acoustic_codebook_size;
    for (int t = 0; t < T; t++) {
        codes[(size_t)t * ncb] = 2 + (int32_t)rnd((uint32_t)S);
        for (int a = 1; a < ncb; a++) codes[(size_t)t * ncb + a] = 2 + (int32_t)rnd((uint32_t)L);
    }
}

static int decode(voxtts_model *m, const int32_t *codes, int T, float *wave) {
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    vox_error err = {0};
    int rc = voxtts_stage_codec(m, codes, T, &sp, wave, &err);
    if (rc) fprintf(stderr, "decode: %s\n", err.msg);
    return rc;
}

typedef struct cancel_ctx {
    int at, calls, last_step, max_seen;
} cancel_ctx;

static int cancel_cb(int step, int max_steps, float loss, void *user) {
    cancel_ctx *c = user;
    c->calls++;
    c->last_step = step;
    c->max_seen = max_steps;
    (void)loss;
    return c->at > 0 && step >= c->at;
}

/* Tiny models: one thread (a second one only adds pool overhead at these sizes). */
static voxtts_model *load(const char *dir, int threads) {
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = threads;
    voxtts_model *m = NULL;
    vox_error err = {0};
    if (voxtts_model_load(dir, &lp, &m, &err) != VOXTTS_OK) {
        CHECK(0, "load %s: %s", dir, err.msg);
        return NULL;
    }
    return m;
}

static void clone_case(const char *dir, double seconds, int iters) {
    voxtts_model *m = load(dir, 1);
    if (!m) return;
    const int sr = voxtts_model_sample_rate(m), spf = voxtts_model_samples_per_frame(m);
    const int ncb = voxtts_model_n_codebooks(m), A = voxtts_model_n_acoustic(m);
    int T = (int)lround(seconds * sr / spf);
    if (T < 2) T = 2;
    const size_t n = (size_t)T * spf;
    int32_t *truth = malloc(sizeof(int32_t) * (size_t)T * ncb);
    int32_t *other = malloc(sizeof(int32_t) * (size_t)T * ncb);
    float *target = malloc(sizeof(float) * n), *w_other = malloc(sizeof(float) * n),
          *w_found = malloc(sizeof(float) * n);
    int32_t *found = NULL;
    if (!truth || !other || !target || !w_other || !w_found) {
        CHECK(0, "out of memory");
        goto out;
    }
    random_codes(m, T, truth);
    random_codes(m, T, other);
    if (decode(m, truth, T, target) || decode(m, other, T, w_other)) {
        CHECK(0, "decode");
        goto out;
    }
    vox_invert_params p;
    vox_invert_params_default(&p);
    if (iters > 0) p.max_iters = iters;
    vox_invert_result r;
    int nf = 0;
    vox_error err = {0};
    int rc = vox_invert(m, target, n, &p, &found, &nf, &r, &err);
    CHECK(rc == 0, "%s: invert: %s", dir, err.msg);
    if (rc) goto out;
    CHECK(nf == T, "%s: %d frames for %d", dir, nf, T);
    if (nf != T) goto out;
    if (decode(m, found, T, w_found)) {
        CHECK(0, "decode found");
        goto out;
    }
    int sem_ok = 0, ac_exact = 0, ac_near = 0;
    for (int t = 0; t < T; t++) {
        sem_ok += found[(size_t)t * ncb] == truth[(size_t)t * ncb];
        for (int a = 1; a <= A; a++) {
            const int d = abs(found[(size_t)t * ncb + a] - truth[(size_t)t * ncb + a]);
            ac_exact += d == 0;
            ac_near += d <= 1;
        }
    }
    double e2 = 0, y2 = 0;
    for (size_t i = 0; i < n; i++) {
        y2 += (double)target[i] * target[i];
        e2 += ((double)w_found[i] - target[i]) * ((double)w_found[i] - target[i]);
    }
    double d_found = -1, d_other = -1;
    CHECK(vox_logmel_distance(target, w_found, n, sr, NULL, &d_found, &err) == 0, "mel");
    CHECK(vox_logmel_distance(target, w_other, n, sr, NULL, &d_other, &err) == 0, "mel");
    const double sem_pct = 100.0 * sem_ok / T;
    printf(
        "%s: %d frames (%.2f s), %d steps (%d in phase 1), %.1f s (%.3f s/step): semantic %.1f %%, "
        "acoustic exact %.1f %% / within one level %.1f %%, SNR %.2f dB, log-mel %.4f vs %.4f for "
        "other codes (ratio %.4f), final loss %.4f\n",
        dir, T, (double)n / sr, r.iters, r.phase1_iters, r.seconds, r.seconds / r.iters, sem_pct,
        100.0 * ac_exact / (T * A), 100.0 * ac_near / (T * A), 10 * log10(y2 / (e2 + 1e-30)),
        d_found, d_other, d_found / d_other, r.final_loss);
    CHECK(d_found <= 0.1 * d_other, "%s: log-mel %.4f not <= 0.1 x %.4f", dir, d_found, d_other);
    CHECK(sem_pct >= 90.0, "%s: semantic codes recovered %.1f %% < 90 %%", dir, sem_pct);
    CHECK(r.iters > 0 && r.iters <= p.max_iters, "%s: %d steps within the budget %d", dir, r.iters,
          p.max_iters);
    int valid = 1;
    for (int t = 0; t < T; t++) {
        valid &= found[(size_t)t * ncb] >= 2 &&
                 found[(size_t)t * ncb] < 2 + m->cfg.semantic_codebook_size;
        for (int a = 1; a <= A; a++)
            valid &= found[(size_t)t * ncb + a] >= 2 &&
                     found[(size_t)t * ncb + a] < 2 + m->cfg.acoustic_codebook_size;
    }
    CHECK(valid, "%s: codes within their ranges", dir);
out:
    free(truth);
    free(other);
    free(target);
    free(w_other);
    free(w_found);
    free(found);
    voxtts_model_free(m);
}

/* Same seed -> same codes; cancellation; bad input. */
static void misc_case(const char *dir) {
    voxtts_model *m = load(dir, 1);
    if (!m) return;
    const int spf = voxtts_model_samples_per_frame(m), ncb = voxtts_model_n_codebooks(m);
    const int T = 4;
    const size_t n = (size_t)T * spf - (size_t)spf / 3; /* not a whole number of frames */
    int32_t *truth = malloc(sizeof(int32_t) * (size_t)T * ncb);
    float *target = malloc(sizeof(float) * (size_t)T * spf);
    int32_t *c1 = NULL, *c2 = NULL, *c3 = NULL;
    vox_error err = {0};
    if (!truth || !target) {
        CHECK(0, "out of memory");
        goto out;
    }
    random_codes(m, T, truth);
    if (decode(m, truth, T, target)) goto out;
    vox_invert_params p;
    vox_invert_params_default(&p);
    p.max_iters = 40;
    p.seed = 7;
    int n1 = 0, n2 = 0, n3 = -1;
    vox_invert_result r1, r2;
    CHECK(vox_invert(m, target, n, &p, &c1, &n1, &r1, &err) == 0, "run 1: %s", err.msg);
    CHECK(vox_invert(m, target, n, &p, &c2, &n2, &r2, &err) == 0, "run 2: %s", err.msg);
    CHECK(n1 == T && n2 == T, "ceil(n / samples_per_frame) frames: %d %d", n1, n2);
    CHECK(c1 && c2 && n1 == n2 && memcmp(c1, c2, sizeof(int32_t) * (size_t)n1 * ncb) == 0,
          "same seed, same codes");
    CHECK(r1.iters == r2.iters && r1.final_loss == r2.final_loss, "same seed, same loss %g %g",
          r1.final_loss, r2.final_loss);
    /* the same codes with two threads (the decoder and the losses split work by rows) */
    voxtts_model *m2 = load(dir, 2);
    if (m2) {
        int32_t *c4 = NULL;
        int n4 = 0;
        CHECK(vox_invert(m2, target, n, &p, &c4, &n4, NULL, &err) == 0, "2 threads: %s", err.msg);
        CHECK(c4 && n4 == T && memcmp(c1, c4, sizeof(int32_t) * (size_t)T * ncb) == 0,
              "same codes with 1 and 2 threads");
        free(c4);
        voxtts_model_free(m2);
    }
    /* cancellation at step 5 */
    cancel_ctx cc = {5, 0, 0, 0};
    p.progress = cancel_cb;
    p.progress_user = &cc;
    int rc = vox_invert(m, target, n, &p, &c3, &n3, NULL, &err);
    CHECK(rc == VOX_E_CANCELLED, "cancel -> VOX_E_CANCELLED (got %d: %s)", rc, err.msg);
    CHECK(c3 == NULL && n3 == 0, "no output when cancelled");
    CHECK(cc.calls == 5 && cc.last_step == 5 && cc.max_seen == 40, "callback steps %d/%d of %d",
          cc.calls, cc.last_step, cc.max_seen);
    /* a callback that never cancels sees every step */
    cancel_ctx cn = {0, 0, 0, 0};
    p.progress_user = &cn;
    vox_invert_result r3;
    rc = vox_invert(m, target, n, &p, &c3, &n3, &r3, &err);
    CHECK(rc == 0 && cn.calls == r3.iters && cn.last_step == r3.iters, "callback per step: %d %d",
          cn.calls, r3.iters);
    CHECK(rc == 0 && c3 && memcmp(c1, c3, sizeof(int32_t) * (size_t)T * ncb) == 0,
          "the callback does not change the result");
    free(c3);
    c3 = NULL;
    p.progress = NULL;
    /* bad input */
    rc = vox_invert(m, target, 0, &p, &c3, &n3, NULL, &err);
    CHECK(rc == VOX_E_ARG && !c3 && strstr(err.msg, "empty"), "empty reference: %s", err.msg);
    target[3] = NAN;
    rc = vox_invert(m, target, n, &p, &c3, &n3, NULL, &err);
    CHECK(rc == VOX_E_ARG && !c3 && strstr(err.msg, "sample 3"), "NaN sample: %s", err.msg);
out:
    free(truth);
    free(target);
    free(c1);
    free(c2);
    free(c3);
    voxtts_model_free(m);
}

int main(int argc, char **argv) {
    const double scale = argc > 1 ? atof(argv[1]) : 1.0;
    const int iters = argc > 2 ? atoi(argv[2]) : DEFAULT_ITERS;
    clone_case("tests/models/tiny-a", 3.0 * scale, iters);
    clone_case("tests/models/tiny-b", 5.0 * scale, iters);
    misc_case("tests/models/tiny-b");
    TEST_MAIN_END();
}
