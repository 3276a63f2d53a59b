/* test_audio_loss.c — the inversion losses (src/voxtral/audio_loss.c).
 *
 * On random signals of awkward lengths (shorter than an FFT, not a multiple of
 * any hop, a few seconds): the loss values equal a direct evaluation of the
 * definitions with a naive DFT (spectral convergence, log-magnitude L1, wave
 * L1); identical signals give zero loss; the gradient of each term alone (stft,
 * mel, wave) and of the weighted total matches central finite differences in
 * double precision on sampled coordinates; evaluation is bit-identical for 1,
 * 2 and 3 threads; the float entry point agrees with the double one; bad
 * parameters are refused with a message. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/threadpool.h"
#include "test.h"
#include "voxtral/audio_loss.h"

#define PI_D 3.14159265358979323846264338327950288

static uint64_t rng_state = 0x1234567;
static double urand(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) * 0x1p-53;
}

/* A test signal: a few sines plus noise, amplitude ~0.3. */
static void make_signal(float *x, size_t n, double noise) {
    const double f1 = 200 + 800 * urand(), f2 = 1500 + 3000 * urand();
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.2 * sin(2 * PI_D * f1 * i / 24000.0) +
                       0.1 * sin(2 * PI_D * f2 * i / 24000.0) + noise * (urand() - 0.5));
}

/* Reference stft terms with a naive DFT (definition in audio_loss.h). */
static void naive_stft(const double *x, const double *y, size_t n, int N, double eps, double *sc,
                       double *lm) {
    const int hop = N / 4, K = N / 2 + 1, F = (int)(n / (size_t)hop) + 1;
    double d2 = 0, y2 = 0, l1 = 0;
    for (int f = 0; f < F; f++) {
        const long start = (long)f * hop - N / 2;
        for (int k = 0; k < K; k++) {
            double xr = 0, xi = 0, yr = 0, yi = 0;
            for (int m = 0; m < N; m++) {
                const long i = start + m;
                if (i < 0 || i >= (long)n) continue;
                const double w = 0.5 - 0.5 * cos(2 * PI_D * m / N), a = -2 * PI_D * k * m / N;
                xr += w * x[i] * cos(a);
                xi += w * x[i] * sin(a);
                yr += w * y[i] * cos(a);
                yi += w * y[i] * sin(a);
            }
            const double mx = sqrt(xr * xr + xi * xi + eps), my = sqrt(yr * yr + yi * yi + eps);
            d2 += (mx - my) * (mx - my);
            y2 += my * my;
            l1 += fabs(log(mx) - log(my));
        }
    }
    *sc = sqrt(d2) / sqrt(y2);
    *lm = l1 / ((double)F * K);
}

static void check_values(void) {
    const size_t n = 777;
    float *y = malloc(n * sizeof *y), *xf = malloc(n * sizeof *xf);
    double *x = malloc(n * sizeof *x), *yd = malloc(n * sizeof *yd);
    make_signal(y, n, 0.05);
    make_signal(xf, n, 0.05);
    for (size_t i = 0; i < n; i++) {
        x[i] = xf[i];
        yd[i] = y[i];
    }
    vox_audio_loss_params p;
    vox_audio_loss_params_default(&p);
    p.n_res = 2;
    p.fft[0] = 64;
    p.fft[1] = 256;
    p.n_mels = 0;
    vox_audio_loss *L = NULL;
    vox_error err = {0};
    int rc = vox_audio_loss_new(y, n, 24000, &p, NULL, &L, &err);
    CHECK(rc == 0, "new: %s", err.msg);
    if (rc) return;
    vox_audio_loss_terms t;
    rc = vox_audio_loss_eval(L, x, NULL, &t, &err);
    CHECK(rc == 0, "eval: %s", err.msg);
    double sc0, lm0, sc1, lm1;
    naive_stft(x, yd, n, 64, p.mag_eps, &sc0, &lm0);
    naive_stft(x, yd, n, 256, p.mag_eps, &sc1, &lm1);
    CHECK(fabs(t.sc - (sc0 + sc1) / 2) < 1e-9, "sc %.12g vs naive %.12g", t.sc, (sc0 + sc1) / 2);
    CHECK(fabs(t.logmag - (lm0 + lm1) / 2) < 1e-9, "logmag %.12g vs naive %.12g", t.logmag,
          (lm0 + lm1) / 2);
    double wn = 0, wd = 0;
    for (size_t i = 0; i < n; i++) {
        wn += fabs(x[i] - yd[i]);
        wd += fabs(yd[i]);
    }
    CHECK(fabs(t.wave - wn / wd) < 1e-12, "wave %.12g vs %.12g", t.wave, wn / wd);
    CHECK(fabs(t.total - (t.sc + t.logmag + 5 * t.wave)) < 1e-12, "total %.12g", t.total);
    CHECK(t.sc > 0.1 && t.logmag > 0.1, "different signals give a clear loss (%g %g)", t.sc,
          t.logmag);
    /* identical signals: zero */
    rc = vox_audio_loss_eval(L, yd, NULL, &t, &err);
    CHECK(rc == 0 && t.total == 0.0, "loss(y, y) = %g", t.total);
    vox_audio_loss_free(L);
    /* log-mel distance of a signal to itself is 0, to another > 0 */
    double d0 = -1, d1 = -1;
    CHECK(vox_logmel_distance(y, y, n, 24000, NULL, &d0, &err) == 0 && d0 == 0.0, "mel(y,y) %g",
          d0);
    CHECK(vox_logmel_distance(y, xf, n, 24000, NULL, &d1, &err) == 0 && d1 > 0.05, "mel(y,x) %g",
          d1);
    free(y);
    free(xf);
    free(x);
    free(yd);
}

/* Central differences on `n_probe` coordinates of x against the analytic gradient. */
static void check_grad(const char *what, const vox_audio_loss_params *p, size_t n, int sr,
                       int n_probe, vox_pool *pool) {
    float *y = malloc(n * sizeof *y), *xf = malloc(n * sizeof *xf);
    double *x = malloc(n * sizeof *x), *g = malloc(n * sizeof *g);
    make_signal(y, n, 0.1);
    for (size_t i = 0; i < n; i++) xf[i] = y[i];
    make_signal(xf, n, 0.1);
    for (size_t i = 0; i < n; i++) x[i] = 0.7 * xf[i] + 0.3 * y[i];
    vox_audio_loss *L = NULL;
    vox_error err = {0};
    int rc = vox_audio_loss_new(y, n, sr, p, pool, &L, &err);
    CHECK(rc == 0, "%s: new: %s", what, err.msg);
    if (rc) goto out;
    vox_audio_loss_terms t0;
    rc = vox_audio_loss_eval(L, x, g, &t0, &err);
    CHECK(rc == 0, "%s: eval", what);
    double gmax = 0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(g[i]));
    CHECK(gmax > 0, "%s: gradient is not zero", what);
    int bad = 0;
    double worst = 0;
    const double h = 1e-6;
    for (int k = 0; k < n_probe; k++) {
        /* coordinates everywhere, the ends included */
        size_t i = k == 0 ? 0 : k == 1 ? n - 1 : (size_t)(urand() * (double)n);
        if (i >= n) i = n - 1;
        const double xi = x[i];
        vox_audio_loss_terms tp, tm;
        x[i] = xi + h;
        vox_audio_loss_eval(L, x, NULL, &tp, &err);
        x[i] = xi - h;
        vox_audio_loss_eval(L, x, NULL, &tm, &err);
        x[i] = xi;
        const double fd = (tp.total - tm.total) / (2 * h);
        const double e = fabs(fd - g[i]) / (gmax + 1e-30);
        if (e > worst) worst = e;
        if (e > 1e-5) {
            if (bad < 3)
                fprintf(stderr, "%s: x[%zu]: analytic %.10g, finite differences %.10g\n", what, i,
                        g[i], fd);
            bad++;
        }
    }
    CHECK(bad == 0, "%s: %d of %d coordinates off (worst %.3g of max |g|)", what, bad, n_probe,
          worst);
    printf("%s: n=%zu, %d probes, worst |fd - g| / max|g| = %.2g\n", what, n, n_probe, worst);
out:
    vox_audio_loss_free(L);
    free(y);
    free(xf);
    free(x);
    free(g);
}

static void check_threads(void) {
    const size_t n = 24000 * 2 + 333;
    float *y = malloc(n * sizeof *y), *xf = malloc(n * sizeof *xf);
    double *x = malloc(n * sizeof *x), *g[3];
    make_signal(y, n, 0.1);
    make_signal(xf, n, 0.1);
    for (size_t i = 0; i < n; i++) x[i] = xf[i];
    vox_audio_loss_params p;
    vox_audio_loss_params_default(&p);
    vox_audio_loss_terms t[3];
    vox_error err = {0};
    for (int k = 0; k < 3; k++) {
        vox_pool *pool = NULL;
        g[k] = malloc(n * sizeof(double));
        if (k > 0 && vox_pool_create(k + 1, &pool, &err)) {
            CHECK(0, "pool: %s", err.msg);
            continue;
        }
        vox_audio_loss *L = NULL;
        CHECK(vox_audio_loss_new(y, n, 24000, &p, pool, &L, &err) == 0, "new: %s", err.msg);
        if (L) {
            vox_audio_loss_eval(L, x, g[k], &t[k], &err);
            /* a second evaluation gives the same (no state left behind) */
            double *g2 = malloc(n * sizeof(double));
            vox_audio_loss_terms t2;
            vox_audio_loss_eval(L, x, g2, &t2, &err);
            CHECK(t2.total == t[k].total && memcmp(g2, g[k], n * sizeof(double)) == 0,
                  "repeat evaluation identical (%d threads)", k + 1);
            free(g2);
            if (k == 0) {
                /* float entry point */
                float *gf = malloc(n * sizeof(float));
                vox_audio_loss_terms tf;
                CHECK(vox_audio_loss_eval_f(L, xf, gf, &tf, &err) == 0 && tf.total == t[0].total,
                      "float eval total %.12g vs %.12g", tf.total, t[0].total);
                int same = 1;
                for (size_t i = 0; i < n; i++) same &= gf[i] == (float)g[0][i];
                CHECK(same, "float eval gradient = double gradient rounded");
                free(gf);
            }
        }
        vox_audio_loss_free(L);
        vox_pool_free(pool);
    }
    for (int k = 1; k < 3; k++) {
        CHECK(t[k].total == t[0].total, "%d threads: total %.17g vs %.17g", k + 1, t[k].total,
              t[0].total);
        CHECK(memcmp(g[k], g[0], n * sizeof(double)) == 0, "%d threads: gradient bit-identical",
              k + 1);
    }
    printf("default loss on 2 s of unrelated signals: sc %.4f logmag %.4f mel %.4f wave %.4f total "
           "%.4f\n",
           t[0].sc, t[0].logmag, t[0].mel, t[0].wave, t[0].total);
    for (int k = 0; k < 3; k++) free(g[k]);
    free(y);
    free(xf);
    free(x);
}

static void check_errors(void) {
    float y[100] = {0};
    vox_audio_loss_params p;
    vox_audio_loss *L = NULL;
    vox_error err = {0};
    vox_audio_loss_params_default(&p);
    p.fft[1] = 1000;
    CHECK(vox_audio_loss_new(y, 100, 24000, &p, NULL, &L, &err) == VOX_E_ARG && !L &&
              strstr(err.msg, "1000"),
          "non power of two refused: %s", err.msg);
    vox_audio_loss_params_default(&p);
    CHECK(vox_audio_loss_new(y, 0, 24000, &p, NULL, &L, &err) == VOX_E_ARG && !L, "empty target");
    CHECK(vox_audio_loss_new(y, 100, 0, &p, NULL, &L, &err) == VOX_E_ARG && !L, "bad rate");
    /* a silent target still gives finite values */
    CHECK(vox_audio_loss_new(y, 100, 24000, &p, NULL, &L, &err) == 0, "silent target: %s", err.msg);
    if (L) {
        double x[100], g[100];
        for (int i = 0; i < 100; i++) x[i] = 0.01 * sin(i);
        vox_audio_loss_terms t;
        CHECK(vox_audio_loss_eval(L, x, g, &t, &err) == 0 && isfinite(t.total), "finite %g",
              t.total);
        int fin = 1;
        for (int i = 0; i < 100; i++) fin &= isfinite(g[i]);
        CHECK(fin, "finite gradient on a silent target");
        vox_audio_loss_free(L);
    }
}

int main(void) {
    check_values();
    vox_audio_loss_params p;
    vox_error err = {0};
    vox_pool *pool = NULL;
    if (vox_pool_create(2, &pool, &err)) {
        fprintf(stderr, "pool: %s\n", err.msg);
        return 2;
    }
    const size_t lens[3] = {300, 3001, 12345};
    for (int li = 0; li < 3; li++) {
        const size_t n = lens[li];
        const int probes = n > 10000 ? 12 : 30;
        char name[64];
        vox_audio_loss_params_default(&p);
        p.w_mel = 0;
        p.w_wave = 0;
        snprintf(name, sizeof name, "stft[%zu]", n);
        check_grad(name, &p, n, 24000, probes, pool);
        vox_audio_loss_params_default(&p);
        p.w_stft = 0;
        p.w_wave = 0;
        snprintf(name, sizeof name, "mel[%zu]", n);
        check_grad(name, &p, n, 24000, probes, pool);
        vox_audio_loss_params_default(&p);
        p.w_stft = 0;
        p.w_mel = 0;
        snprintf(name, sizeof name, "wave[%zu]", n);
        check_grad(name, &p, n, 24000, probes, pool);
        vox_audio_loss_params_default(&p);
        snprintf(name, sizeof name, "total[%zu]", n);
        check_grad(name, &p, n, 24000, probes, pool);
    }
    /* a mel FFT that is not one of the resolutions, another rate */
    vox_audio_loss_params_default(&p);
    p.n_res = 1;
    p.fft[0] = 128;
    p.mel_fft = 512;
    p.n_mels = 40;
    check_grad("total[6 kHz, mel 512]", &p, 2222, 6000, 30, pool);
    vox_pool_free(pool);
    check_threads();
    check_errors();
    TEST_MAIN_END();
}
