/* model.h — the engine's internal model structure and the functions the stage
 * files (backbone.c, flow.c, codec.c, voice.c, prompt.c, generate.c) share.
 *
 * A voxtts_model owns: the parsed params.json (vox_config), the mmapped
 * checkpoint whose BF16 matrices are used in place as vox_tensor views, f32
 * copies of the small tensors (norm gains, layer scales, folded codec convs,
 * the semantic codebook), the tokenizer, the thread pool, the preset voices
 * and the KV cache of each voice's prompt prefix (both built on first use) and
 * the precomputed flow-matching time projections.
 * Per-request state (KV cache, scratch buffers) lives in the structs below and
 * is allocated per call, never inside the per-frame loops.
 *
 * A model handle is used by one thread at a time (its pool and voice cache are
 * shared); several models may coexist in a process. */
#ifndef VOX_VOXTRAL_MODEL_H
#define VOX_VOXTRAL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/threadpool.h"
#include "voxtral/source.h"
#include "tensor/kernels.h"
#include "tensor/tensor.h"
#include "text/tekken.h"
#include "voxtral/config.h"
#include "voxtts_debug.h"

/* The experimental options of synthesis params (voxtts_debug.h): 0 without p or
 * p->debug, which is the official behaviour. */
/* The most frames one synthesis may ask for. */
#define VOX_MAX_FRAMES (1 << 20)

/* The checks of every function taking synth params (not NULL): struct sizes
 * (its own and its debug options'), max_frames, n_steps, cfg_alpha; errors name fn. */
int vox_check_synth_params(const voxtts_synth_params *p, const char *fn, vox_error *err);

static inline int vox_opt_ignore_end(const voxtts_synth_params *p) {
    return p && p->debug ? p->debug->ignore_end : 0;
}
static inline int vox_opt_seed_step(const voxtts_synth_params *p) {
    return p && p->debug ? p->debug->seed_step : 0;
}
static inline int vox_opt_alibi_press(const voxtts_synth_params *p) {
    return p && p->debug ? p->debug->alibi_press : 0;
}
static inline int vox_opt_window_w_keys(const voxtts_synth_params *p) {
    return p && p->debug ? p->debug->window_w_keys : 0;
}

/* One pre-norm transformer block with SwiGLU (§3; the acoustic transformer's
 * blocks have the same tensors, §5.3). */
typedef struct vox_block_w {
    const vox_tensor *wq, *wk, *wv, *wo, *w1, *w2, *w3;
    float *attention_norm, *ffn_norm; /* f32 copies [dim] */
    /* The seven matrices above point here instead when the kernels have a
     * faster layout for them at this block's row count (vox_matmul_pack: the
     * flow head's 6-row products; pack_buf[i] owns packed[i]'s layout, NULL if
     * unpacked). */
    vox_tensor packed[7];
    void *pack_buf[7];
} vox_block_w;

/* One codec transformer layer (§6.4). */
typedef struct vox_codec_layer_w {
    const vox_tensor *wq, *wk, *wv, *wo, *w1, *w2, *w3;
    float *attention_norm, *ffn_norm, *q_norm, *k_norm; /* q/k_norm NULL if !qk_norm */
    float *attention_scale, *ffn_scale;                 /* NULL if !layer_scale */
} vox_codec_layer_w;

/* Decoder stage i (§6.2): conv block 2i then transformer block 2i+1. */
typedef struct vox_codec_stage_w {
    int transposed;      /* 0: CausalConv1d (stage 0), 1: CausalConvTranspose1d */
    int kernel, stride, in_ch, out_ch;
    int window;          /* attention window W of this stage's layers */
    float *taps;         /* folded weight as kernel taps [k][out_ch][in_ch] */
    int n_layers;
    vox_codec_layer_w *layers;
} vox_codec_stage_w;

typedef struct vox_weights {
    /* A. backbone (§1.2 A) */
    const vox_tensor *tok_embeddings;   /* [vocab, D] */
    const vox_tensor *audio_embeddings; /* [pad128(S+2 + A(L+2)), D] */
    vox_block_w *layers;                /* [n_layers] */
    float *norm;                        /* [D] */
    /* B. flow-matching transformer (§1.2 B) */
    const vox_tensor *input_projection, *time_projection, *llm_projection;
    const vox_tensor *semantic_output, *acoustic_output;
    vox_block_w *ac_layers;
    float *ac_norm;
    /* C. codec decoder (§1.2 C) */
    float *semantic_codebook;           /* [S][semantic_dim], §6.1, f32 */
    vox_codec_stage_w stages[VOX_MAX_CODEC_STAGES];
    int n_stages;
    float *out_taps;                    /* output_proj [k][patch][dim] */
    int out_kernel;
} vox_weights;

#define VOX_USER_PREFIX_MAX 8

typedef struct vox_user_prefix {
    uint8_t key[32]; /* SHA-256 of the voice's rows (f32 bytes) and their count */
    float *kv;       /* as prefix_kv; NULL: slot free */
    int n;           /* prefix positions */
    uint64_t used;   /* model's user_prefix_clock at the last use */
} vox_user_prefix;

struct voxtts_model {
    vox_config cfg;
    char *dir;
    vox_source *src;    /* where the weights come from (safetensors, GGUF, memory) */
    vox_tekken *tk;
    vox_pool *pool;
    int n_threads;
    vox_weights w;

    /* special token ids, resolved by name from tekken.json (§2.1) */
    int id_bos, id_begin_audio, id_audio, id_next_audio_text, id_repeat_audio_text;

    /* derived sizes */
    int semantic_rows;  /* pad128(S+2): semantic head outputs */
    int audio_rows;     /* pad128(S+2 + A(L+2)) */
    int *cb_offset;     /* [n_codebooks] offsets into the audio table (§4) */

    /* preset voices: rows [n][D] f32, loaded on first use */
    float *voice_rows[VOX_MAX_VOICES];
    int voice_n[VOX_MAX_VOICES];
    /* KV cache of each voice's prompt prefix [<s>][BEGIN_AUDIO][AUDIO]*N
     * [NEXT_AUDIO_TEXT], built on first use:
     * [2][n_layers][prefix_n][n_kv*head_dim] (keys, then values) */
    float *prefix_kv[VOX_MAX_VOICES];
    int prefix_n[VOX_MAX_VOICES];
    /* the same for voices of one's own (voxtts_voice), keyed by the SHA-256 of
     * their rows; at most VOX_USER_PREFIX_MAX kept, the least recently used
     * replaced first */
    vox_user_prefix user_prefix[VOX_USER_PREFIX_MAX];
    uint64_t user_prefix_clock;

    /* voxtts_model_fingerprint, computed on first use */
    int fingerprint_done;
    uint8_t fingerprint[32];

    /* flow matching (§5.2): inv_freq [Da/2]; tproj [n_decoding_steps][Da] */
    float *inv_freq;
    float *tproj;
    int tproj_steps;

    /* codec encoder (§7, encoder.c): NULL unless the checkpoint has its tensors
     * or a file was attached */
    struct vox_encoder *enc;
};

struct voxtts_tokenizer {
    vox_tekken *tk;
};

/* ---- api.c ---- */
/* Finish loading once cfg, tk, src and dir are set (pool, weights, specials, flow). */
int vox_model_finish_load(voxtts_model *m, int n_threads, vox_error *err);

/* ---- weights.c ---- */
int vox_weights_load(voxtts_model *m, vox_error *err);
void vox_weights_free(voxtts_model *m);
/* One codec transformer layer's tensors `prefix`attention.wq.weight ... from src
 * (shapes from the codec args); free with vox_codec_layer_free. */
int vox_codec_layer_load(const voxtts_model *m, const vox_source *src, const char *prefix,
                         vox_codec_layer_w *l, vox_error *err);
void vox_codec_layer_free(vox_codec_layer_w *l);
/* The codec convolution `prefix`.conv from src, weight norm folded (§6.3), as taps
 * [k][out_ch][in_ch] (*taps malloc'd).  Stored [out][in][k], or [in][out][k] when
 * transposed. */
int vox_codec_conv_load(const voxtts_model *m, const vox_source *src, const char *prefix,
                        int transposed, int64_t in_ch, int64_t out_ch, int64_t k, float **taps,
                        vox_error *err);

/* ---- backbone.c: LLM with KV cache (§3) ---- */
typedef struct vox_llm_state {
    const voxtts_model *m;
    int max_pos;    /* KV cache capacity in positions */
    int n_pos;      /* positions filled so far */
    int max_rows;   /* rows processed per batch (prefill is cut into batches) */
    float *k_cache, *v_cache;  /* [n_layers][max_pos][n_kv*head_dim] */
    float *rope_cos, *rope_sin;/* [max_pos][head_dim/2] */
    float *x, *xn, *q, *k, *v, *att, *h1, *h3, *o; /* scratch [max_rows][...] */
    float *scores;  /* [n_threads][max_pos] */
} vox_llm_state;

int vox_llm_state_init(vox_llm_state *s, const voxtts_model *m, int max_pos, vox_error *err);
void vox_llm_state_free(vox_llm_state *s);
/* Feed n input embeddings [n][D] at positions n_pos .. n_pos+n-1.  h_last
 * (optional) receives the final-norm hidden of the last row. */
int vox_llm_forward(vox_llm_state *s, const float *emb, int n, float *h_last, vox_error *err);
/* KV of the first n positions of a state: out [2][n_layers][n][kvd] (prefix cache). */
int vox_llm_prefix_save(const vox_llm_state *s, int n, float **out, vox_error *err);
/* Start an empty state from a saved prefix of n positions. */
void vox_llm_prefix_load(vox_llm_state *s, const float *kv, int n);
/* Batched decode (issue "serve many callers"): one new row for each of n
 * states at once, each at its own position with its own cache; the products
 * run all rows together.  Bit-identical, per state, to vox_llm_forward of its
 * row alone.  Scratch for up to max_rows rows. */
typedef struct vox_llm_batch {
    const voxtts_model *m;
    int max_rows;
    float *x, *xn, *q, *k, *v, *att, *h1, *h3, *o; /* [max_rows][...] */
} vox_llm_batch;
int vox_llm_batch_init(vox_llm_batch *b, const voxtts_model *m, int max_rows, vox_error *err);
void vox_llm_batch_free(vox_llm_batch *b);
/* Feed emb[i] ([n][D]) to states[i] (distinct states of this model) at its
 * n_pos; h[i] ([n][D]) receives its final-norm hidden. */
int vox_llm_decode_batch(vox_llm_batch *b, vox_llm_state *const *states, int n, const float *emb,
                         float *h, vox_error *err);
/* Rotate n_heads heads of x in place with one position's cos/sin (§3). */
void vox_rope_rotate(float *x, int n_heads, int head_dim, const float *cos_row,
                     const float *sin_row);

/* ---- flow.c: acoustic head (§5) ---- */
typedef struct vox_flow_ws {
    const voxtts_model *m;
    float *tok, *xn, *q, *k, *v, *att, *h1, *h3, *o; /* [6][...] */
    float *cond;     /* [Da] llm_projection · h */
    float *zero;     /* [Da] zeros (unconditional branch) */
    float *inproj;   /* [Da] */
    float *temb;     /* [Da] */
    float *tproj;    /* [max(n_steps)][Da] when n_steps differs from the default */
    int tproj_cap;   /* steps tproj can hold */
    int tproj_n;     /* steps tproj currently holds (0: none) */
    float *logits;   /* [semantic_rows] */
    float *vel;      /* [2][A] */
    float *x;        /* [A] */
    float *out2;     /* [2][Da] */
    /* layer 0's q, k, v of the conditioning token [qd + 2*kvd], valid while
     * ws->cond equals cond_seen (it is constant over a frame's Euler steps) */
    float *cond_qkv, *cond_seen;
    int cond_qkv_valid;
} vox_flow_ws;

/* At load: inv_freq and tproj(t_i) for the default n_decoding_steps. */
int vox_flow_precompute(voxtts_model *m, vox_error *err);
int vox_flow_ws_init(vox_flow_ws *ws, const voxtts_model *m, vox_error *err);
void vox_flow_ws_free(vox_flow_ws *ws);
/* Semantic code (§5.1): masked argmax of the semantic head; forbid_end also
 * masks END (1), for ignore_end. */
int vox_flow_semantic(vox_flow_ws *ws, const float *h, int forbid_end);
/* tproj(t) = time_projection · temb(t) (§5.2) into out[Da]. */
void vox_flow_time_projection(vox_flow_ws *ws, float t, float *out);
/* Velocity (§5.3) at x for both branches: v[0..A) conditional (cond = llm_projection·h
 * already in ws->cond), v[A..2A) unconditional. */
void vox_flow_velocity(vox_flow_ws *ws, const float *x, const float *tproj_t, float *v);
/* Acoustic codes (§5.4, §5.5): Euler from x0 with CFG alpha, n_steps steps; writes
 * codes[0..A) (offset codes 2..L+1). */
int vox_flow_acoustic(vox_flow_ws *ws, const float *h, const float *x0, float alpha, int n_steps,
                      int32_t *codes, vox_error *err);
/* Batched acoustic head (issue "serve many callers"): the frames of several
 * independent utterances at once, 6 rows per frame in each product.  Per
 * frame bit-identical to vox_flow_semantic / vox_flow_acoustic alone. */
typedef struct vox_flow_batch {
    const voxtts_model *m;
    int max_frames;
    float *tok, *xn, *q, *k, *v, *att, *h1, *h3, *o; /* [6 max_frames][...] */
    float *q2, *k2, *v2;  /* 2 rows per frame: layer 0's q/k/v, last layer's q */
    float *cond;          /* [max_frames][Da] llm_projection · h */
    float *cq, *ck, *cv;  /* layer 0's q/k/v of each conditioning token */
    float *inproj;        /* [max_frames][Da] */
    float *x, *xin;       /* Euler states; those of the frames in a step */
    float *vel;           /* [max_frames][2][A] */
    float *out2;          /* [2 max_frames][Da] */
    float *logits;        /* [max_frames][semantic_rows] */
    const float **tp;     /* time projection row of each frame in a step */
    int *idx;             /* frame of each row group in a step */
} vox_flow_batch;
int vox_flow_batch_init(vox_flow_batch *fb, const voxtts_model *m, int max_frames, vox_error *err);
void vox_flow_batch_free(vox_flow_batch *fb);
/* sem[i] = vox_flow_semantic(h[i], forbid_end[i]) for h [n][D]. */
void vox_flow_semantic_batch(vox_flow_batch *fb, const float *h, int n, const int *forbid_end,
                             int *sem);
/* codes[i][0..A) = vox_flow_acoustic(h[i], x0[i], alpha[i], n_steps[i]) for h [n][D],
 * x0 [n][A]; tproj[i] is the time projection table of n_steps[i] steps (m->tproj
 * for the default count, else from vox_flow_tproj_table). */
int vox_flow_acoustic_batch(vox_flow_batch *fb, int n, const float *h, const float *x0,
                            const float *alpha, const int *n_steps, const float *const *tproj,
                            int32_t *const *codes, vox_error *err);
/* A malloc'd table tproj(i / n_steps) [n_steps][Da], as vox_flow_acoustic uses. */
int vox_flow_tproj_table(const voxtts_model *m, int n_steps, float **table, vox_error *err);
/* FSQ quantization of one value (§5.5): level in 0..L-1 (add 2 for the code). */
int vox_fsq_level(float x, int levels);
float vox_fsq_value(int level, int levels);

/* ---- codec.c (§6) ---- */
/* Offset codes [n_frames][n_codebooks] -> wave[n_frames * samples_per_frame]. */
int vox_codec_decode(const voxtts_model *m, const int32_t *codes, int n_frames, int alibi_press,
                     int window_w_keys, float *wave, vox_error *err);
/* Attention window per stage (§6.2). */
void vox_codec_windows(const vox_config *cfg, int *windows);

/* ---- voice.c (§1.4) ---- */
/* Rows of preset voice i (loaded on first use): *rows [n][D]. */
int vox_voice_get(voxtts_model *m, int voice, const float **rows, int *n, vox_error *err);
/* Voice index for a name (case-insensitive) or an E_ARG error listing the voices. */
int vox_voice_lookup(const voxtts_model *m, const char *name, int *voice, vox_error *err);

/* The voice one request speaks with: a preset (index) or a voice of one's own. */
typedef struct vox_voice_sel {
    const float *rows; /* [n][D] */
    int n;
    const char *name;  /* for messages */
    int preset;        /* preset index, or -1 */
    const uint8_t *key;/* preset < 0: 32-byte key of the rows (user prefix cache) */
} vox_voice_sel;

/* Resolve p->voice_handle (when set) or the preset p->voice, loading its rows. */
int vox_voice_select(voxtts_model *m, const voxtts_synth_params *p, vox_voice_sel *sel,
                     vox_error *err);
/* The selection of preset i. */
int vox_voice_select_preset(voxtts_model *m, int voice, vox_voice_sel *sel, vox_error *err);
/* SHA-256 of the model's identity for voices (see fingerprint.c), cached in m. */
int vox_model_fingerprint(voxtts_model *m, uint8_t out[32], vox_error *err);

/* ---- prompt.c (§2) ---- */
int vox_prompt_resolve_specials(voxtts_model *m, vox_error *err);
/* Prompt ids for text + voice (§2.1); text must be non-empty. */
int vox_prompt_ids(voxtts_model *m, const char *text, size_t len, int voice, int32_t **ids,
                   size_t *n_ids, vox_error *err);
/* The same for a voice of n_audio rows (§2.1, §2.2). */
int vox_prompt_ids_n(voxtts_model *m, const char *text, size_t len, int n_audio, int32_t **ids,
                     size_t *n_ids, vox_error *err);
/* Input embeddings [n][D] of the prompt with the voice rows spliced in (§2.3). */
int vox_prompt_embeddings(voxtts_model *m, const int32_t *ids, size_t n, int voice, float **emb,
                          vox_error *err);
/* The same with the rows of a selected voice. */
int vox_prompt_embeddings_sel(voxtts_model *m, const int32_t *ids, size_t n,
                              const vox_voice_sel *v, float **emb, vox_error *err);
/* e[D] = sum_c E_audio[offset_c + codes[c]] (§4); codes must be valid. */
void vox_embed_frame(const voxtts_model *m, const int32_t *codes, float *e, float *tmp);
/* Voice rows of a clip's codes (§4, §7 step 8): offset codes [T][n_codebooks]
 * (real codes, 2..) -> *rows malloc'd [T+1][dim]: each frame's summed embedding,
 * then the END frame [1, 0, ..., 0] (semantic END, acoustic EMPTY).  (voice.c) */
int vox_voice_rows_from_codes(voxtts_model *m, const int32_t *codes, int T, float **rows,
                              vox_error *err);
/* Check offset codes: semantic in [lo, S+2), acoustic in [lo, L+2); frame index for messages. */
int vox_check_codes(const voxtts_model *m, const int32_t *codes, int n_frames, int lo,
                    vox_error *err);

/* ---- generate.c (§8) ---- */
/* Deterministic N(0,1) stream (see generate.c). */
typedef struct vox_rng {
    uint64_t state;
} vox_rng;
void vox_rng_seed(vox_rng *r, uint64_t seed);
void vox_rng_normal(vox_rng *r, float *out, int n);

/* Prefill (+ optional seed step) into a fresh state sized for extra positions;
 * h[D] is the hidden for frame 0 (§8.1).  The voice prefix comes from the
 * model's per-voice KV cache (built on first use); this is bit-identical to
 * running the whole prompt because every row's arithmetic is batch-independent. */
/* The KV cache of a voice's prompt prefix (emb: its first n_prefix rows), built
 * on first use and kept by the model (a preset's slot, or one of the slots of
 * voices of one's own); *kv points at it. */
int vox_gen_voice_prefix(voxtts_model *m, const vox_voice_sel *v, const float *emb, int n_prefix,
                         const float **kv, vox_error *err);
int vox_gen_prefill(voxtts_model *m, const char *text, size_t len, int voice, int seed_step,
                    int extra_positions, vox_llm_state *s, float *h, vox_error *err);
/* The same for any selected voice (presets and voices of one's own). */
int vox_gen_prefill_sel(voxtts_model *m, const char *text, size_t len, const vox_voice_sel *v,
                        int seed_step, int extra_positions, vox_llm_state *s, float *h,
                        vox_error *err);
/* Positions of v's prompt prefix already in the model's cache (0 when cold). */
int vox_gen_prefix_cached(const voxtts_model *m, const vox_voice_sel *v);
/* Free every cached prefix of voices of one's own. */
void vox_gen_user_prefix_free(voxtts_model *m);
int vox_generate(voxtts_model *m, const char *text, const voxtts_synth_params *p,
                 voxtts_audio *out, voxtts_synth_stats *stats, vox_error *err);

#endif
