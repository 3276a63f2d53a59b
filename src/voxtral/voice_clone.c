/* voice_clone.c — voxtts_voice_clone: a voice of one's own from reference speech
 * (docs/MODEL.md §2.2, §7).
 *
 * The samples are resampled to the model's rate (libsoxr, as mistral_common
 * does), then turned into codec codes: by the codec encoder when the model has
 * its weights (encoder.h, method "encoder"), otherwise by analysis-by-synthesis
 * through the frozen codec decoder (invert.h, method "inversion", recording the
 * steps run and the final loss).  The codes become rows with the END frame
 * appended (vox_voice_rows_from_codes), N = ceil(n / 1920) + 1 (§2.2).
 * voxtts_voice_clone_file reads any audio file first and records its name,
 * SHA-256 and duration. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/audio_file.h"
#include "voxtral/encoder.h"
#include "voxtral/invert.h"
#include "voxtral/model.h"
#include "voxtral/voice_file.h"

/* Reference audio rules (voxtts.h): length limits, silence, and the optional
 * conditioning.  Neither trimming nor the high-pass is on by default: whether
 * they help the real model is not measured (no weights here). */
#define SILENCE_DBFS (-60.0)  /* a clip whose 10 ms RMS never exceeds this is silent */
#define TRIM_DB 40.0          /* trimming drops windows this far below the loudest */
#define HIGHPASS_HZ 70.0

/* RMS of each 10 ms window; NULL when out of memory. */
static double *window_rms(const float *x, size_t n, int rate, size_t *n_win, size_t *win) {
    *win = (size_t)(rate / 100 > 0 ? rate / 100 : 1);
    *n_win = (n + *win - 1) / *win;
    double *r = malloc(sizeof(double) * (*n_win ? *n_win : 1));
    if (!r) return NULL;
    for (size_t w = 0; w < *n_win; w++) {
        size_t a = w * *win, b = a + *win < n ? a + *win : n;
        double s = 0;
        for (size_t i = a; i < b; i++) s += (double)x[i] * x[i];
        r[w] = sqrt(s / (double)(b - a));
    }
    return r;
}

/* Check level and length, trim and filter as asked; the samples kept are
 * [*first, *first + *len) of x (filtered in place). */
static int condition_reference(float *x, size_t n, int rate, const voxtts_clone_params *p,
                               size_t *first, size_t *len, vox_error *err) {
    size_t n_win, win;
    double *rms = window_rms(x, n, rate, &n_win, &win);
    if (!rms) return vox_fail(err, VOX_E_NOMEM, "out of memory for %zu samples", n);
    double peak = 0;
    for (size_t w = 0; w < n_win; w++) peak = rms[w] > peak ? rms[w] : peak;
    if (peak <= pow(10.0, SILENCE_DBFS / 20.0)) {
        free(rms);
        return vox_fail(err, VOX_E_ARG, "the reference audio is silent (loudest 10 ms at %.1f dBFS, below %.0f)",
                        peak > 0 ? 20.0 * log10(peak) : -INFINITY, SILENCE_DBFS);
    }
    size_t a = 0, b = n;
    if (p->trim_silence) {
        const double floor = peak * pow(10.0, -TRIM_DB / 20.0);
        size_t w0 = 0, w1 = n_win;
        while (w0 < n_win && rms[w0] < floor) w0++;
        while (w1 > w0 && rms[w1 - 1] < floor) w1--;
        a = w0 * win;
        b = w1 * win < n ? w1 * win : n;
    }
    free(rms);
    const double secs = (double)(b - a) / rate;
    if (secs < VOXTTS_CLONE_MIN_SECONDS)
        return vox_fail(err, VOX_E_ARG, "the reference audio is too short: %.2f s%s (at least %.0f s)", secs,
                        p->trim_silence ? " after trimming silence" : "", VOXTTS_CLONE_MIN_SECONDS);
    if (secs > VOXTTS_CLONE_MAX_SECONDS)
        return vox_fail(err, VOX_E_ARG, "the reference audio is too long: %.1f s (at most %.0f s)", secs,
                        VOXTTS_CLONE_MAX_SECONDS);
    if (secs > VOXTTS_CLONE_USE_SECONDS) b = a + (size_t)(VOXTTS_CLONE_USE_SECONDS * rate);
    if (p->highpass) { /* RBJ biquad, Butterworth Q, run over the kept part */
        const double w0 = 2.0 * 3.14159265358979323846 * HIGHPASS_HZ / rate, q = 0.70710678118654752;
        const double al = sin(w0) / (2.0 * q), c = cos(w0), a0 = 1.0 + al;
        const double b0 = (1.0 + c) / 2.0 / a0, b1 = -(1.0 + c) / a0, b2 = b0;
        const double a1 = -2.0 * c / a0, a2 = (1.0 - al) / a0;
        double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
        for (size_t i = a; i < b; i++) {
            const double xi = x[i], yi = b0 * xi + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
            x2 = x1, x1 = xi, y2 = y1, y1 = yi;
            x[i] = (float)yi;
        }
    }
    *first = a;
    *len = b - a;
    return VOX_OK;
}

int voxtts_model_attach_encoder(voxtts_model *m, const char *safetensors_path, voxtts_error *err) {
    if (!m || !safetensors_path || !*safetensors_path)
        return vox_fail(err, VOX_E_ARG,
                        "voxtts_model_attach_encoder: model and path must not be NULL or empty");
    return vox_encoder_attach(m, safetensors_path, err);
}

int voxtts_model_has_encoder(const voxtts_model *m) { return m && vox_encoder_available(m); }

int voxtts_voice_clone(voxtts_model *m, const float *samples, size_t n, int rate,
                       const voxtts_clone_params *p, voxtts_voice **out, voxtts_error *err) {
    if (out) *out = NULL;
    if (!m || !samples || !out)
        return vox_fail(err, VOX_E_ARG, "voxtts_voice_clone: model, samples and out must not be NULL");
    voxtts_clone_params defaults;
    voxtts_clone_params_default(&defaults);
    if (!p) p = &defaults;
    int rc0 = vox_check_struct_size(err, "voxtts_voice_clone", "voxtts_clone_params", p->struct_size,
                                    sizeof *p);
    if (rc0) return rc0;
    if (rate < 1000 || rate > 768000)
        return vox_fail(err, VOX_E_ARG, "voxtts_voice_clone: sample rate %d out of range", rate);
    if (n == 0) return vox_fail(err, VOX_E_ARG, "voxtts_voice_clone: no samples");
    if ((double)n / rate > VOXTTS_CLONE_MAX_SECONDS * 4) /* before copying: trimming can't save it */
        return vox_fail(err, VOX_E_ARG, "the reference audio is too long: %.1f s (at most %.0f s)",
                        (double)n / rate, VOXTTS_CLONE_MAX_SECONDS);
    if (p->max_iters < 0) return vox_fail(err, VOX_E_ARG, "voxtts_voice_clone: max_iters < 0");
    if (!voxtts_voice_name_valid(p->name ? p->name : "voice"))
        return vox_fail(err, VOX_E_ARG, "voxtts_voice_clone: voice name '%.80s' is not valid",
                        p->name);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(samples[i]))
            return vox_fail(err, VOX_E_ARG, "voxtts_voice_clone: sample %zu is not finite", i);
    const int sr = voxtts_model_sample_rate(m);
    float *res = NULL;
    size_t nw = n;
    int rc;
    if (rate != sr) {
        if ((rc = vox_audio_resample(samples, n, rate, sr, &res, &nw, err))) return rc;
    } else {
        if (!(res = malloc(sizeof(float) * n))) return vox_fail(err, VOX_E_NOMEM, "out of memory");
        memcpy(res, samples, sizeof(float) * n);
    }
    size_t first = 0, len = nw;
    if ((rc = condition_reference(res, nw, sr, p, &first, &len, err))) {
        free(res);
        return rc;
    }
    const float *wave = res + first;
    nw = len;
    int32_t *codes = NULL;
    int T = 0;
    const char *method;
    vox_invert_result ir;
    memset(&ir, 0, sizeof ir);
    if (vox_encoder_available(m)) {
        method = "encoder";
        rc = vox_encode(m, wave, nw, &codes, &T, err);
        if (!rc && p->progress && p->progress(1, 1, 0.0f, p->progress_user))
            rc = vox_fail(err, VOX_E_CANCELLED, "cloning cancelled by the progress callback");
    } else {
        method = "inversion";
        vox_invert_params ip;
        vox_invert_params_default(&ip);
        if (p->max_iters > 0) ip.max_iters = p->max_iters;
        ip.seed = p->seed;
        ip.progress = p->progress;
        ip.progress_user = p->progress_user;
        rc = vox_invert(m, wave, nw, &ip, &codes, &T, &ir, err);
    }
    free(res);
    if (rc) {
        free(codes);
        return rc;
    }
    voxtts_voice *v = NULL;
    rc = voxtts_voice_from_codes(m, codes, T, p->name ? p->name : "voice", &v, err);
    free(codes);
    if (rc) return rc;
    snprintf(v->info.method, sizeof v->info.method, "%s", method);
    v->info.iterations = ir.iters;
    v->info.final_loss = ir.final_loss;
    v->info.duration_s = (double)len / sr; /* the audio the voice was made from */
    *out = v;
    return VOX_OK;
}

int voxtts_voice_clone_file(voxtts_model *m, const char *audio_path, const voxtts_clone_params *p,
                            voxtts_voice **out, voxtts_error *err) {
    if (out) *out = NULL;
    if (!m || !audio_path || !out)
        return vox_fail(err, VOX_E_ARG,
                        "voxtts_voice_clone_file: model, audio_path and out must not be NULL");
    if (p) {
        int rc0 = vox_check_struct_size(err, "voxtts_voice_clone_file", "voxtts_clone_params",
                                        p->struct_size, sizeof *p);
        if (rc0) return rc0;
    }
    const int sr = voxtts_model_sample_rate(m);
    float *samples = NULL;
    size_t n = 0;
    vox_audio_info info;
    memset(&info, 0, sizeof info);
    int rc = vox_audio_read(audio_path, sr, VOXTTS_CLONE_MAX_SECONDS * 4, &samples, &n, &info, err);
    if (rc) return rc;
    if (n == 0) {
        free(samples);
        return vox_fail(err, VOX_E_ARG, "%s: no audio in the file", audio_path);
    }
    voxtts_voice *v = NULL;
    rc = voxtts_voice_clone(m, samples, n, sr, p, &v, err);
    free(samples);
    if (rc) return vox_error_prefix(err, "%s", audio_path), rc;
    const double dur = info.rate > 0 ? (double)info.frames / info.rate : (double)n / sr;
    if ((rc = voxtts_voice_set_source(v, audio_path, dur, err))) {
        voxtts_voice_free(v);
        return rc;
    }
    *out = v;
    return VOX_OK;
}
