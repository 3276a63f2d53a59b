/* voxtts_debug.h — the parts of the voxtts library an application does not
 * need: experimental and disputed synthesis options, a model with random
 * weights (benchmarks), and each stage of the pipeline on its own (debugging and
 * the golden tests of tests/golden/).  These may change between minor versions;
 * include/voxtts.h is the stable application API, and this header includes it. */
#ifndef VOXTTS_DEBUG_H
#define VOXTTS_DEBUG_H

#include "voxtts.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- experimental options ------------------------------------------------------
 * Set voxtts_synth_params.debug to one of these (it is read during the call, and
 * copied by voxtts_engine_submit).  The disputed points are those docs/MODEL.md
 * flags; the defaults (all 0) follow the official code. */
typedef struct voxtts_synth_debug {
    size_t struct_size; /* sizeof the struct, set by voxtts_synth_debug_default: keep it */
    int ignore_end;    /* keep generating past END_AUDIO, up to max_frames (benchmarks) */
    int seed_step;     /* 1: extra [AUDIO] decode step before frame 0 (MU lineage) */
    int alibi_press;   /* 1: codec ALiBi slopes 2^(-8(h+1)/H) instead of 2^(-8h/H) */
    int window_w_keys; /* 1: codec window of W keys instead of W+1 */
} voxtts_synth_debug;

void voxtts_synth_debug_default(voxtts_synth_debug *d);

/* ---- .npy files (the stages' inputs and outputs) ------------------------------ */

typedef enum voxtts_npy_type { VOXTTS_NPY_F32 = 0, VOXTTS_NPY_I32 = 1 } voxtts_npy_type;

typedef struct voxtts_npy {
    voxtts_npy_type type;
    int ndim;
    int64_t shape[8];
    int64_t numel;
    void *data; /* float * or int32_t *; freed by voxtts_npy_free */
} voxtts_npy;

/* A little-endian float32 or int32 array in C order (NumPy format 1.0-3.0). */
int voxtts_npy_read(const char *path, voxtts_npy *out, voxtts_error *err);
/* Write one (atomically). */
int voxtts_npy_write(const char *path, voxtts_npy_type type, int ndim, const int64_t *shape,
                     const void *data, voxtts_error *err);
void voxtts_npy_free(voxtts_npy *a);

/* ---- text: the sentences before packing -------------------------------------- */

typedef struct voxtts_sentence {
    const char *text; /* not NUL-terminated: len bytes */
    size_t len;
    int paragraph;    /* index of its paragraph (0-based) */
} voxtts_sentence;

typedef struct voxtts_sentences {
    voxtts_sentence *s;
    size_t n;
    char *buf_; /* the working text the sentences point into */
} voxtts_sentences;

/* Steps 1-3 of the splitter (p: lang, normalize; NULL: defaults): the sentences
 * voxtts_split_text packs into chunks. */
int voxtts_split_sentences(const char *text, size_t len, const voxtts_split_params *p,
                           voxtts_sentences *out, voxtts_error *err);
void voxtts_sentences_free(voxtts_sentences *s);

/* ---- benchmark (`voxtts bench`) ----------------------------------------------
 * On a loaded model: a warm-up request, then `batch` streaming requests of
 * exactly `frames` frames (END_AUDIO ignored) advanced together by one engine;
 * per-stage times, the weight bytes read per frame and this machine's read
 * bandwidth (the model and formulas: src/devkit/bench.h). */
typedef struct voxtts_bench_params {
    size_t struct_size;     /* sizeof the struct, set by voxtts_bench_params_default: keep it */
    const char *voice;      /* preset voice (required) */
    int frames;             /* frames of each measured request (default 50) */
    int prompt_tokens;      /* text tokens of the prompt (default 20) */
    uint64_t seed;          /* noise seed of the first request (default 42) */
    size_t bandwidth_bytes; /* buffer of the bandwidth measurement (0: 1 GiB) */
    int batch;              /* requests run together in one engine (default 1) */
} voxtts_bench_params;

void voxtts_bench_params_default(voxtts_bench_params *p);

typedef struct voxtts_bench_traffic {
    int64_t weight_bytes;      /* every checkpoint tensor as stored */
    double backbone, embed, heads, acoustic, codec; /* bytes read per frame, by part */
    double per_frame;          /* their sum */
} voxtts_bench_traffic;

typedef struct voxtts_bench_result {
    voxtts_synth_stats warm, run; /* the warm-up; the measured requests (summed) */
    int text_tokens;
    double audio_s;            /* run.frames * frame duration */
    double frame_s;            /* one frame's duration (0.08 s) */
    int batch;                 /* requests run together */
    double ms_step_backbone, ms_step_acoustic, ms_step_codec, ms_step_total; /* per step */
    double ms_backbone, ms_acoustic, ms_codec, ms_total; /* per frame: per step / batch */
    double rtf, rtf_with_prefill;
    int64_t peak_rss_bytes;    /* after the run */
    voxtts_bench_traffic traffic;
    double bandwidth_gbs, floor_rtf, efficiency;
    int bandwidth_samples;     /* passes the bandwidth is the median of */
} voxtts_bench_result;

int voxtts_bench_run(voxtts_model *m, const voxtts_bench_params *p, voxtts_bench_result *r,
                     voxtts_error *err);
/* The type of each component of a loaded model as a type-mix text
 * ("backbone=BF16,..."): the type holding most of the component's matrix bytes. */
void voxtts_model_type_mix(const voxtts_model *m, char *buf, size_t len);
/* The kernels chosen at start-up for this CPU ("avx2", "avx512", "neon", ...). */
const char *voxtts_kernels_name(void);

/* ---- synthetic model ------------------------------------------------------------ */

/* A model with random weights in memory, for benchmarks: every tensor of the
 * checkpoint params.json describes (NULL: the official Voxtral-4B-TTS-2603
 * params.json, built in), stored in the types `type_mix` chooses ("bf16", "q8_0",
 * "best", "backbone=q4_k,acoustic=q8_0", ...; NULL: bf16), generated directly
 * in that format; a byte-level tokenizer with the official special tokens; one
 * random voice per params.json voice (official row counts).  The output is noise,
 * but every shape, dtype and byte read per frame is that of a real model. */
int voxtts_model_synthetic(const char *params_json_path, const char *type_mix, int n_threads,
                           voxtts_model **out, voxtts_error *err);

/* ---- stages ----------------------------------------------------------------- */

/* Prompt ids for text + preset voice (docs/MODEL.md §2.1). Free *ids with voxtts_free. */
int voxtts_stage_prompt(voxtts_model *m, const char *text, const char *voice, int32_t **ids,
                        size_t *n_ids, voxtts_error *err);
/* Backbone hidden after the final norm at the last prompt position: h_out[dim]. */
int voxtts_stage_prefill(voxtts_model *m, const char *text, const voxtts_synth_params *p,
                         float *h_out, voxtts_error *err);
/* Teacher-forced hiddens: hs_out[(n_frames+1) * dim]; row 0 is the prefill hidden,
 * row f+1 the hidden after feeding frame f (codes: n_frames * n_codebooks offset codes). */
int voxtts_stage_decode(voxtts_model *m, const char *text, const voxtts_synth_params *p,
                        const int32_t *codes, int n_frames, float *hs_out, voxtts_error *err);
/* Velocity field at (x, t): v_out[0..n_ac) conditional on h, v_out[n_ac..2n_ac) unconditional. */
int voxtts_stage_velocity(voxtts_model *m, const float *h, const float *x, float t, float *v_out,
                          voxtts_error *err);
/* One frame's codes (n_codebooks offset codes) from hidden h and initial noise x0[n_ac]
 * (p: cfg_alpha, n_steps, debug->ignore_end). codes_out[0] == 1 means END_AUDIO. */
int voxtts_stage_frame(voxtts_model *m, const float *h, const float *x0,
                       const voxtts_synth_params *p, int32_t *codes_out, voxtts_error *err);
/* Codec decoder: wave_out[n_frames * samples_per_frame] from offset codes (p->debug:
 * alibi_press, window_w_keys; p may be NULL). */
int voxtts_stage_codec(voxtts_model *m, const int32_t *codes, int n_frames,
                       const voxtts_synth_params *p, float *wave_out, voxtts_error *err);
/* Codec encoder (docs/MODEL.md §7): n mono samples at the model's sample rate ->
 * *codes_out (free with voxtts_free) [*n_frames * n_codebooks] offset codes, *n_frames =
 * ceil(n / samples_per_frame), no END frame.  The open checkpoint has no encoder:
 * encoder_path (not NULL) names a safetensors file with its tensors, which is
 * attached to the model first (replacing any encoder it had); NULL uses the
 * model's own encoder tensors. */
int voxtts_stage_encode(voxtts_model *m, const char *encoder_path, const float *samples, size_t n,
                        int32_t **codes_out, int *n_frames, voxtts_error *err);
/* Voice rows of offset codes (n_frames >= 1, real codes): *rows_out (voxtts_free)
 * [(n_frames + 1) * dim], each frame's summed code embedding and then the END
 * frame's (docs/MODEL.md §4, §7). */
int voxtts_stage_voice_rows(voxtts_model *m, const int32_t *codes, int n_frames, float **rows_out,
                            voxtts_error *err);

#ifdef __cplusplus
}
#endif
#endif
