/* clone_bench.c — time voice cloning by inversion (src/voxtral/invert.c) on a
 * synthetic model: random weights of the shapes a params.json describes,
 * a target decoded from random codes, vox_invert with the default settings.
 *
 *   build/tools/clone_bench [--params P] [--type T] [--model DIR] [--seconds S]
 *                           [--threads N] [--iters N] [--seed N] [--no-st] [--quiet]
 *
 * Defaults: tests/data/params_official.json (full size), bf16, a 5 s target,
 * 2 threads, the default step budget.  --model loads a checkpoint (e.g. the
 * tiny test models) instead of building a synthetic one; --no-st turns the
 * straight-through refinement off (to measure what it brings).  Prints the steps run (and how many
 * in phase 1), seconds per step, total seconds, peak RSS next to the weight bytes, and how close
 * the codes found are to the truth (semantic codes recovered, acoustic codes exact, log-mel
 * distance against that of other random codes). Progress (step, loss) goes to stderr every 10 steps
 * unless --quiet. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "voxtral/audio_loss.h"
#include "devkit/bench.h"
#include "voxtral/invert.h"
#include "voxtral/model.h"
#include "voxtral/stream.h"
#include "voxtts_debug.h"

/* CPU time of the process (all threads): on a shared machine the wall time
 * includes waiting for a core. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int progress(int step, int max_steps, float loss, void *user) {
    const double *t0 = user;
    if (step % 10 == 0 || step == 1)
        fprintf(stderr, "step %d/%d loss %.5f (%.1f s)\n", step, max_steps, loss,
                vox_now_s() - *t0);
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: clone_bench [--params P] [--type T] [--model DIR] [--seconds S] "
                    "[--threads N] [--iters N] [--seed N] [--no-st] [--quiet]\n");
}

int main(int argc, char **argv) {
    const char *params = "tests/data/params_official.json", *type = "bf16", *model_dir = NULL;
    double seconds = 5.0;
    int threads = 2, iters = 0, quiet = 0, no_st = 0;
    unsigned long long seed = 42;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--quiet") || !strcmp(a, "--no-st")) {
            *(a[2] == 'q' ? &quiet : &no_st) = 1;
            continue;
        }
        if (i + 1 >= argc) {
            usage();
            return 2;
        }
        const char *v = argv[++i];
        char *end = NULL;
        if (!strcmp(a, "--params"))
            params = v;
        else if (!strcmp(a, "--type"))
            type = v;
        else if (!strcmp(a, "--model"))
            model_dir = v;
        else if (!strcmp(a, "--seconds"))
            seconds = strtod(v, &end);
        else if (!strcmp(a, "--threads"))
            threads = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--iters"))
            iters = (int)strtol(v, &end, 10);
        else if (!strcmp(a, "--seed"))
            seed = strtoull(v, &end, 10);
        else {
            fprintf(stderr, "clone_bench: unknown option %s\n", a);
            usage();
            return 2;
        }
        if (end && (*end || end == v)) {
            fprintf(stderr, "clone_bench: bad value '%s' for %s\n", v, a);
            return 2;
        }
    }
    if (!(seconds > 0 && seconds < 3600) || threads < 1 || iters < 0) {
        fprintf(stderr, "clone_bench: --seconds in (0, 3600), --threads >= 1, --iters >= 0\n");
        return 2;
    }
    voxtts_model *m = NULL;
    vox_error err = {0};
    const double t_load = vox_now_s();
    int lrc;
    if (model_dir) {
        voxtts_load_params lp;
        voxtts_load_params_default(&lp);
        lp.n_threads = threads;
        lrc = voxtts_model_load(model_dir, &lp, &m, &err);
        params = model_dir;
        type = "as stored";
    } else {
        lrc = voxtts_model_synthetic(params, type, threads, &m, &err);
    }
    if (lrc != VOXTTS_OK) {
        fprintf(stderr, "clone_bench: %s\n", err.msg);
        return 1;
    }
    vox_bench_traffic traffic;
    vox_bench_traffic_of(m, 1, &traffic);
    const int sr = voxtts_model_sample_rate(m), spf = voxtts_model_samples_per_frame(m);
    const int ncb = voxtts_model_n_codebooks(m), A = voxtts_model_n_acoustic(m);
    int T = (int)lround(seconds * sr / spf);
    if (T < 1) T = 1;
    const size_t n = (size_t)T * spf;
    printf(
        "model %s (%s), weights %.2f GB, loaded in %.1f s; target %d frames = %.2f s, %d threads\n",
        params, type, traffic.weight_bytes / 1e9, vox_now_s() - t_load, T, (double)n / sr, threads);
    int rc = 1;
    int32_t *truth = malloc(sizeof(int32_t) * (size_t)T * ncb),
            *other = malloc(sizeof(int32_t) * (size_t)T * ncb);
    float *target = malloc(sizeof(float) * n), *w_other = malloc(sizeof(float) * n),
          *w_found = malloc(sizeof(float) * n);
    int32_t *found = NULL;
    if (!truth || !other || !target || !w_other || !w_found) {
        fprintf(stderr, "clone_bench: out of memory\n");
        goto out;
    }
    uint64_t st = seed * 2654435761u + 1;
    for (int k = 0; k < 2; k++) {
        int32_t *c = k ? other : truth;
        for (int t = 0; t < T; t++)
            for (int a = 0; a < ncb; a++) {
                st = st * 6364136223846793005ull + 1442695040888963407ull;
                const uint32_t r = (uint32_t)(st >> 33);
                c[(size_t)t * ncb + a] =
                    2 + (int32_t)(r % (uint32_t)(a ? m->cfg.acoustic_codebook_size
                                                   : m->cfg.semantic_codebook_size));
            }
    }
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    if (voxtts_stage_codec(m, truth, T, &sp, target, &err) ||
        voxtts_stage_codec(m, other, T, &sp, w_other, &err)) {
        fprintf(stderr, "clone_bench: decode: %s\n", err.msg);
        goto out;
    }
    vox_invert_params p;
    vox_invert_params_default(&p);
    if (iters > 0) p.max_iters = iters;
    p.seed = seed;
    if (no_st) p.straight_through = 0;
    double t0 = vox_now_s();
    if (!quiet) {
        p.progress = progress;
        p.progress_user = &t0;
    }
    vox_invert_result r;
    int nf = 0;
    const double cpu0 = cpu_s();
    if (vox_invert(m, target, n, &p, &found, &nf, &r, &err)) {
        fprintf(stderr, "clone_bench: %s\n", err.msg);
        goto out;
    }
    const double cpu = cpu_s() - cpu0;
    const int64_t rss = vox_bench_peak_rss();
    if (voxtts_stage_codec(m, found, nf, &sp, w_found, &err)) {
        fprintf(stderr, "clone_bench: decode: %s\n", err.msg);
        goto out;
    }
    int sem = 0, ac = 0, ac1 = 0;
    for (int t = 0; t < T; t++) {
        sem += found[(size_t)t * ncb] == truth[(size_t)t * ncb];
        for (int a = 1; a <= A; a++) {
            const int d = abs(found[(size_t)t * ncb + a] - truth[(size_t)t * ncb + a]);
            ac += d == 0;
            ac1 += d <= 1;
        }
    }
    if (sem < T) {
        printf("semantic misses (frame: found/true):");
        for (int t = 0, k = 0; t < T && k < 16; t++)
            if (found[(size_t)t * ncb] != truth[(size_t)t * ncb]) {
                printf(" %d: %d/%d", t, found[(size_t)t * ncb], truth[(size_t)t * ncb]);
                k++;
            }
        printf("\n");
    }
    double e2 = 0, y2 = 0;
    for (size_t i = 0; i < n; i++) {
        y2 += (double)target[i] * target[i];
        e2 += ((double)w_found[i] - target[i]) * ((double)w_found[i] - target[i]);
    }
    double d_found = 0, d_other = 0;
    vox_logmel_distance(target, w_found, n, sr, m->pool, &d_found, &err);
    vox_logmel_distance(target, w_other, n, sr, m->pool, &d_other, &err);
    printf("steps %d (phase 1: %d) of budget %d\n", r.iters, r.phase1_iters, p.max_iters);
    printf("seconds per step %.3f (decoder %.3f, losses %.3f); CPU seconds per step %.3f (all "
           "threads)\n",
           r.seconds / r.iters, r.codec_seconds / r.iters, r.loss_seconds / r.iters, cpu / r.iters);
    printf("total %.1f s (CPU %.1f s)\n", r.seconds, cpu);
    printf("peak RSS %.2f GB (weights %.2f GB, + %.2f GB)\n", rss / 1e9, traffic.weight_bytes / 1e9,
           (rss - traffic.weight_bytes) / 1e9);
    printf("final loss %.4f; semantic %.1f %%, acoustic exact %.1f %% (within one level %.1f %%); "
           "SNR %.2f dB; log-mel %.4f vs %.4f for other codes (ratio %.4f)\n",
           r.final_loss, 100.0 * sem / T, 100.0 * ac / ((double)T * A),
           100.0 * ac1 / ((double)T * A), 10.0 * log10(y2 / (e2 + 1e-30)), d_found, d_other,
           d_found / d_other);
    rc = 0;
out:
    free(truth);
    free(other);
    free(target);
    free(w_other);
    free(w_found);
    free(found);
    voxtts_model_free(m);
    return rc;
}
