/* stream.h — decoding audio while frames are still being generated
 * (VOXTRAL.md §6.5, §8.4).
 *
 * The codec decoder is causal, so it runs incrementally (§6.5, last paragraph):
 * a codec workspace is started once per request and then decodes each new run
 * of frames exactly once, carrying the state its layers look back at (conv
 * inputs, sliding-window keys/values, the output conv's padded rows) from one
 * call to the next.  The samples are bit-identical to one whole-sequence decode
 * (every row's arithmetic is independent of how many rows are decoded together,
 * and every sum runs in the same order), and no frame is decoded twice.
 *
 * vox_audio_stream runs the codec while generate.c produces frames.  Streaming
 * (an on_audio callback) follows VO's schedule, which sets the time to first
 * audio: the first emission after 1 frame (or as soon as vox_codec_start_frames
 * frames exist, when a configuration's start padding looks further ahead), then
 * every 5 frames until 25 frames exist, then every 25 frames, and the rest at
 * the end.  Without a callback the same path decodes chunks of 200 frames.  One
 * codec workspace, sized for the longest chunk, is allocated per request: the
 * codec's memory is bounded however long the text, and nothing is allocated per
 * frame. */
#ifndef VOX_VOXTRAL_STREAM_H
#define VOX_VOXTRAL_STREAM_H

#include "voxtral/model.h"

/* ---- codec.c: incremental decoding ---- */
typedef struct vox_codec_ws vox_codec_ws;

/* Frames of left context that would make a chunk decoded on its own exact
 * (§6.5): the codec's left receptive field. */
int vox_codec_context_frames(const vox_config *cfg);
/* Frames that must exist before the first samples are final: the output conv's
 * reflect padding at the start of the stream mirrors rows 1..k-1 (§6.3), which
 * lie in frame 0 for the official layout (8 rows per frame, k = 7) but may lie
 * in later frames for other configurations. */
int vox_codec_start_frames(const vox_config *cfg);
/* A workspace able to decode up to max_frames new frames per call; it is ready
 * for a stream with the official options (as after vox_codec_ws_start(w, 0, 0)). */
int vox_codec_ws_new(const voxtts_model *m, int max_frames, vox_codec_ws **out, vox_error *err);
void vox_codec_ws_free(vox_codec_ws *w);
/* Begin a new stream (frame 0 comes next) with the codec options (§6.4). */
void vox_codec_ws_start(vox_codec_ws *w, int alibi_press, int window_w_keys);
/* Decode the next n_frames (1..max_frames) frames of offset codes of the stream
 * into wave[n_frames * samples_per_frame].  The stream's first call needs at
 * least vox_codec_start_frames frames unless final says that these are all the
 * frames there will be. */
int vox_codec_decode_next(vox_codec_ws *w, const int32_t *codes, int n_frames, int final,
                          float *wave, vox_error *err);

/* ---- codec.c: whole sequences at any rate (the encoder, encoder.c, §7) ---- */
/* A workspace for the transformer layers (only) on up to `rows` rows, windows up
 * to w_max (ALiBi and window as the official code, §6.4). */
int vox_codec_ws_rows(const voxtts_model *m, int rows, int w_max, vox_codec_ws **out,
                      vox_error *err);
/* n_layers codec transformer layers (§6.4) with window W on x [T][dim] in place,
 * the sequence starting at row 0 (workspaces from vox_codec_ws_rows only). */
int vox_codec_ws_layers(vox_codec_ws *w, const vox_codec_layer_w *layers, int n_layers,
                        int window, float *x, int T, vox_error *err);
/* y[T][out_ch] = sum_j tap_j · pad[t*s + j] for taps [k][out_ch][in_ch] over padded
 * rows pad[(T-1)*s + k][in_ch]; tmp [T][out_ch] scratch; gather [T][in_ch]
 * scratch, used only when s > 1. */
void vox_codec_conv_rows(const voxtts_model *m, const float *taps, int k, int s, int in_ch,
                         int out_ch, const float *pad, int T, float *y, float *tmp, float *gather);
/* The n rows of a reflect left pad of x [T][C] (§6.3): x[n], x[n-1], ..., x[1];
 * where the mirror runs past the end (T <= n) zeros, as VO's pad1d. */
void vox_codec_reflect_pad(const float *x, int T, int C, int n, float *pad);

/* ---- stream.c: the emission schedule ---- */
#define VOX_STREAM_FIRST_CHUNK 5   /* frames per emission while <= 25 frames exist */
#define VOX_STREAM_CHUNK 25        /* frames per emission afterwards */
#define VOX_STREAM_CONTEXT 25      /* VO's left context (>= the receptive field); the
                                      carried-state decoder needs none, kept as a bound */
#define VOX_BATCH_CHUNK 200        /* frames per decode without a callback */

typedef struct vox_audio_stream {
    const voxtts_model *m;
    int streaming;          /* 1: on_audio schedule; 0: chunks of VOX_BATCH_CHUNK */
    int start_frames;       /* frames needed before the first emission */
    int alibi_press, window_w_keys;
    int emitted;            /* frames whose samples have been produced */
    int spf;                /* samples per frame */
    int ws_frames;          /* most frames per codec call */
    vox_codec_ws *ws;       /* the codec and its carried state */
    float *chunk;           /* decoded samples of one codec call (streaming) */
    float *all;             /* without a callback: every sample [max_frames * spf] */
    voxtts_audio_fn on_audio;
    void *user;
    int calls, frames_decoded; /* codec calls; frames decoded (each frame once) */
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
