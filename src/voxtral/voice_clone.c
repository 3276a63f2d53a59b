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

/* Longest reference accepted (seconds); the reference server uses a few seconds
 * to tens of seconds. */
#define VOX_CLONE_MAX_SECONDS 600.0

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
    if (rate < 1000 || rate > 768000)
        return vox_fail(err, VOX_E_ARG, "voxtts_voice_clone: sample rate %d out of range", rate);
    if (n == 0) return vox_fail(err, VOX_E_ARG, "voxtts_voice_clone: no samples");
    if ((double)n / rate > VOX_CLONE_MAX_SECONDS)
        return vox_fail(err, VOX_E_ARG, "voxtts_voice_clone: %.1f s of audio (at most %.0f s)",
                        (double)n / rate, VOX_CLONE_MAX_SECONDS);
    if (p->max_iters < 0) return vox_fail(err, VOX_E_ARG, "voxtts_voice_clone: max_iters < 0");
    if (!voxtts_voice_name_valid(p->name ? p->name : "voice"))
        return vox_fail(err, VOX_E_ARG, "voxtts_voice_clone: voice name '%.80s' is not valid",
                        p->name);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(samples[i]))
            return vox_fail(err, VOX_E_ARG, "voxtts_voice_clone: sample %zu is not finite", i);
    const int sr = voxtts_model_sample_rate(m);
    float *res = NULL;
    const float *wave = samples;
    size_t nw = n;
    int rc;
    if (rate != sr) {
        if ((rc = vox_audio_resample(samples, n, rate, sr, &res, &nw, err))) return rc;
        wave = res;
    }
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
    v->info.duration_s = (double)n / rate;
    *out = v;
    return VOX_OK;
}

int voxtts_voice_clone_file(voxtts_model *m, const char *audio_path, const voxtts_clone_params *p,
                            voxtts_voice **out, voxtts_error *err) {
    if (out) *out = NULL;
    if (!m || !audio_path || !out)
        return vox_fail(err, VOX_E_ARG,
                        "voxtts_voice_clone_file: model, audio_path and out must not be NULL");
    const int sr = voxtts_model_sample_rate(m);
    float *samples = NULL;
    size_t n = 0;
    vox_audio_info info;
    memset(&info, 0, sizeof info);
    int rc = vox_audio_read(audio_path, sr, VOX_CLONE_MAX_SECONDS, &samples, &n, &info, err);
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
