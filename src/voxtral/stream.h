/* stream.h — decoding audio while frames are still being generated
 * (VOXTRAL.md §6.5, §8.4).
 *
 * The codec decoder is causal with a finite left receptive field (about 20.5
 * frames for the official configuration, vox_codec_context_frames computes it
 * exactly from params.json), so the audio of frames [a, b) can be decoded from
 * frames [a - ctx, b) alone once ctx covers the receptive field: the samples of
 * the context frames are computed and dropped, and the kept ones are
 * bit-identical to a decode of the whole sequence (every row's arithmetic is
 * independent of how many rows are decoded together; the context window starts
 * at the true frame 0 whenever a - ctx <= 0, so the start-of-stream padding is
 * reproduced as well).
 *
 * vox_audio_stream runs the codec on such chunks while generate.c produces
 * frames.  Streaming (an on_audio callback) follows VO's schedule: the first
 * emission after 1 frame (or as soon as vox_codec_start_frames frames exist,
 * when a configuration's start padding looks further ahead), then every 5
 * frames until 25 frames exist, then every 25 frames, and the rest at the end;
 * the left context is 25 frames (VO's value) or the receptive field if a
 * configuration needs more.  Without a callback the
 * same path decodes chunks of 200 frames, which bounds the codec's memory for
 * long texts at 12.5% extra codec work.  One codec workspace, sized for the
 * longest chunk, is allocated per request: nothing is allocated per frame. */
#ifndef VOX_VOXTRAL_STREAM_H
#define VOX_VOXTRAL_STREAM_H

#include "voxtral/model.h"

/* ---- codec.c: chunked decoding ---- */
typedef struct vox_codec_ws vox_codec_ws;

/* Frames of left context that make a chunk's kept samples exact (§6.5). */
int vox_codec_context_frames(const vox_config *cfg);
/* Frames that must exist before the first samples are final: the output conv's
 * reflect padding at the start of the stream mirrors rows 1..k-1 (§6.3), which
 * lie in frame 0 for the official layout (8 rows per frame, k = 7) but may lie
 * in later frames for other configurations. */
int vox_codec_start_frames(const vox_config *cfg);
/* A workspace able to decode up to max_frames frames per call. */
int vox_codec_ws_new(const voxtts_model *m, int max_frames, vox_codec_ws **out, vox_error *err);
void vox_codec_ws_free(vox_codec_ws *w);
/* Decode n_frames frames of offset codes and write the samples of frames
 * [skip_frames, n_frames) to wave ((n_frames - skip_frames) * samples_per_frame). */
int vox_codec_decode_ws(vox_codec_ws *w, const int32_t *codes, int n_frames, int skip_frames,
                        int alibi_press, int window_w_keys, float *wave, vox_error *err);

/* ---- stream.c: the emission schedule ---- */
#define VOX_STREAM_FIRST_CHUNK 5   /* frames per emission while <= 25 frames exist */
#define VOX_STREAM_CHUNK 25        /* frames per emission afterwards */
#define VOX_STREAM_CONTEXT 25      /* left context frames (at least the receptive field) */
#define VOX_BATCH_CHUNK 200        /* frames per decode without a callback */

typedef struct vox_audio_stream {
    const voxtts_model *m;
    int streaming;          /* 1: on_audio schedule; 0: chunks of VOX_BATCH_CHUNK */
    int context;            /* left context frames */
    int start_frames;       /* frames needed before the first emission */
    int alibi_press, window_w_keys;
    int emitted;            /* frames whose samples have been produced */
    int spf;                /* samples per frame */
    vox_codec_ws *ws;
    float *chunk;           /* decoded samples of one emission */
    float *all;             /* without a callback: every sample [max_frames * spf] */
    voxtts_audio_fn on_audio;
    void *user;
    int calls, frames_decoded;
    double codec_s;         /* time spent in the codec */
    double first_audio_t;   /* monotonic time of the first audio (0: none yet) */
} vox_audio_stream;

/* Prepare for up to max_frames frames: on_audio NULL collects the whole waveform
 * (taken with vox_audio_stream_take). */
int vox_audio_stream_init(vox_audio_stream *s, const voxtts_model *m, int max_frames,
                          voxtts_audio_fn on_audio, void *user, int alibi_press,
                          int window_w_keys, vox_error *err);
void vox_audio_stream_free(vox_audio_stream *s);
/* Called after each new frame (codes holds n_frames frames); decodes when the
 * schedule says so, or everything not yet decoded when final is set.  Returns
 * VOX_E_CANCELLED when on_audio asks to stop. */
int vox_audio_stream_push(vox_audio_stream *s, const int32_t *codes, int n_frames, int final,
                          vox_error *err);
/* The collected waveform (callback-less mode); ownership passes to the caller. */
float *vox_audio_stream_take(vox_audio_stream *s);
/* Monotonic clock in seconds (for the per-stage statistics). */
double vox_now_s(void);

#endif
