/* stream.c — the codec emission schedule for streaming synthesis (see stream.h,
 * docs/MODEL.md §6.5, §8.4). */
#include "voxtral/stream.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

double vox_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void vox_audio_stream_free(vox_audio_stream *s) {
    if (!s) return;
    vox_codec_ws_free(s->ws);
    free(s->chunk);
    free(s->all);
    memset(s, 0, sizeof *s);
}

int vox_audio_stream_init(vox_audio_stream *s, const voxtts_model *m, int max_frames,
                          voxtts_audio_fn on_audio, void *user, int alibi_press,
                          int window_w_keys, vox_error *err) {
    memset(s, 0, sizeof *s);
    if (max_frames < 1) return vox_fail(err, VOX_E_INTERNAL, "audio stream of %d frames", max_frames);
    s->m = m;
    s->streaming = on_audio != NULL;
    s->on_audio = on_audio;
    s->user = user;
    s->alibi_press = alibi_press;
    s->window_w_keys = window_w_keys;
    s->spf = voxtts_model_samples_per_frame(m);
    s->start_frames = vox_codec_start_frames(&m->cfg);
    /* the longest codec call: an emission on the schedule (the first one may
     * wait for start_frames), or a batch chunk; longer pushes are split */
    int chunk = s->streaming ? VOX_STREAM_CHUNK : VOX_BATCH_CHUNK;
    if (chunk < s->start_frames) chunk = s->start_frames;
    s->ws_frames = chunk < max_frames ? chunk : max_frames;
    int rc = vox_codec_ws_new(m, s->ws_frames, &s->ws, err);
    if (rc) return rc;
    vox_codec_ws_start(s->ws, alibi_press, window_w_keys);
    if (s->streaming)
        s->chunk = malloc(sizeof(float) * (size_t)s->ws_frames * (size_t)s->spf);
    else
        s->all = malloc(sizeof(float) * (size_t)max_frames * (size_t)s->spf);
    if (s->streaming ? !s->chunk : !s->all) {
        vox_audio_stream_free(s);
        return vox_fail(err, VOX_E_NOMEM, "out of memory for %d frames of audio", max_frames);
    }
    return VOX_OK;
}

/* Whether n frames (n > emitted) call for an emission now. */
static int due(const vox_audio_stream *s, int n) {
    if (s->emitted == 0 && n < s->start_frames) return 0;
    if (!s->streaming) return n - s->emitted >= VOX_BATCH_CHUNK;
    if (s->emitted == 0) return 1; /* first audio as early as possible */
    if (n <= VOX_STREAM_CHUNK) return n % VOX_STREAM_FIRST_CHUNK == 0;
    return n % VOX_STREAM_CHUNK == 0;
}

int vox_audio_stream_push(vox_audio_stream *s, const int32_t *codes, int n_frames, int final,
                          vox_error *err) {
    if (n_frames <= s->emitted || !(final || due(s, n_frames))) return VOX_OK;
    const int ncb = s->m->cfg.n_codebooks;
    /* the new frames, each decoded once on top of the carried codec state, in
     * codec calls of at most ws_frames frames (one per emission on the schedule) */
    while (s->emitted < n_frames) {
        const int left = n_frames - s->emitted, n = left < s->ws_frames ? left : s->ws_frames;
        const size_t new_samples = (size_t)n * (size_t)s->spf;
        float *dst = s->streaming ? s->chunk : s->all + (size_t)s->emitted * (size_t)s->spf;
        const double t0 = vox_now_s();
        int rc = vox_codec_decode_next(s->ws, codes + (size_t)s->emitted * ncb, n,
                                       final && n == left, dst, err);
        const double t1 = vox_now_s();
        s->codec_s += t1 - t0;
        if (rc) return rc;
        s->calls++;
        s->frames_decoded += n;
        const int before = s->emitted;
        s->emitted += n;
        if (s->first_audio_t == 0.0) s->first_audio_t = t1;
        if (s->streaming && s->on_audio(dst, new_samples, s->user))
            return vox_fail(err, VOX_E_CANCELLED,
                            "cancelled by the audio callback after frames %d..%d", before,
                            s->emitted - 1);
    }
    return VOX_OK;
}

float *vox_audio_stream_take(vox_audio_stream *s) {
    float *a = s->all;
    s->all = NULL;
    if (a && s->emitted > 0) {
        float *shrunk = realloc(a, sizeof(float) * (size_t)s->emitted * (size_t)s->spf);
        if (shrunk) a = shrunk;
    }
    return a;
}
