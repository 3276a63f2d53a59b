/* api.c — include/voxtts.h: tokenizer, model loading, synthesis and the stage
 * functions used by `voxtts debug` and the golden tests.
 *
 * Every entry point validates its arguments (NULL pointers, empty text, unknown
 * voices, out-of-range codes, bad step counts) before touching the model and
 * returns a VOXTTS_E_* code with a message naming what was wrong.  Loading
 * reads params.json, tekken.json and consolidated.safetensors from the model
 * directory, or the same from one GGUF file (gguf_model.h), binds every tensor
 * (weights.c), checks that the special ids in params.json agree with
 * tekken.json's names, starts the thread pool and precomputes the flow time
 * projections.  Voices are read on first use. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/wav.h"
#include "voxtral/encoder.h"
#include "voxtral/gguf_model.h"
#include "voxtral/model.h"
#include "voxtral/stream.h"

const char *voxtts_version(void) { return VOXTTS_VERSION; }

const char *voxtts_strerror(int code) {
    switch (code) {
    case VOXTTS_OK: return "success";
    case VOXTTS_E_IO: return "file missing, unreadable or not writable";
    case VOXTTS_E_FORMAT: return "malformed file";
    case VOXTTS_E_SHAPE: return "tensor of the wrong shape or type";
    case VOXTTS_E_MISSING: return "a required tensor, key or file is absent";
    case VOXTTS_E_ARG: return "bad argument";
    case VOXTTS_E_NOMEM: return "out of memory";
    case VOXTTS_E_UNSUPPORTED: return "not supported by this build";
    case VOXTTS_E_INTERNAL: return "internal error";
    case VOXTTS_E_CANCELLED: return "cancelled";
    case VOXTTS_E_VERSION: return "params struct of another size (struct_size): another voxtts.h";
    }
    return "unknown error code";
}

void voxtts_free(void *p) { free(p); }

static int arg_fail(voxtts_error *err, const char *fn, const char *what) {
    return vox_fail(err, VOX_E_ARG, "%s: %s", fn, what);
}

static char *join_path(const char *dir, const char *file) {
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, file);
    return p;
}

/* ---- tokenizer ---------------------------------------------------------------- */

/* The tokenizer of a voxtts GGUF model: embedded, or tekken.json beside the file. */
static int tokenizer_from_gguf(const char *path, vox_tekken **out, voxtts_error *err) {
    vox_gguf *g = NULL;
    int rc = vox_gguf_open(path, &g, err);
    if (rc) return rc;
    if (!(rc = vox_gguf_model_check(g, err))) rc = vox_gguf_model_tekken(g, out, err);
    vox_gguf_close(g);
    return rc;
}

int voxtts_tokenizer_load(const char *path, voxtts_tokenizer **out, voxtts_error *err) {
    if (!out) return arg_fail(err, "voxtts_tokenizer_load", "out is NULL");
    *out = NULL;
    if (!path || !*path) return arg_fail(err, "voxtts_tokenizer_load", "path is NULL or empty");
    struct stat sb;
    char *file = NULL;
    int gguf = 0;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        file = join_path(path, "tekken.json");
    } else {
        gguf = vox_path_is_gguf(path);
        file = strdup(path);
    }
    if (!file) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    voxtts_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        free(file);
        return vox_fail(err, VOX_E_NOMEM, "out of memory");
    }
    int rc = gguf ? tokenizer_from_gguf(file, &t->tk, err) : vox_tekken_load(file, &t->tk, err);
    free(file);
    if (rc) {
        free(t);
        return rc;
    }
    *out = t;
    return VOX_OK;
}

void voxtts_tokenizer_free(voxtts_tokenizer *tk) {
    if (!tk) return;
    vox_tekken_free(tk->tk);
    free(tk);
}

int voxtts_tokenize(const voxtts_tokenizer *tk, const char *text, size_t len, int32_t **ids,
                    size_t *n_ids, voxtts_error *err) {
    if (ids) *ids = NULL;
    if (n_ids) *n_ids = 0;
    if (!tk || !text || !ids || !n_ids)
        return arg_fail(err, "voxtts_tokenize", "tokenizer, text, ids and n_ids must not be NULL");
    return vox_tekken_encode(tk->tk, text, len, ids, n_ids, err);
}

/* ---- model ------------------------------------------------------------------- */

void voxtts_load_params_default(voxtts_load_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->n_threads = 0;
}

void voxtts_model_free(voxtts_model *m) {
    if (!m) return;
    vox_encoder_free(m->enc);
    vox_weights_free(m);
    for (int i = 0; i < VOX_MAX_VOICES; i++) {
        free(m->voice_rows[i]);
        free(m->prefix_kv[i]);
    }
    vox_gen_user_prefix_free(m);
    free(m->inv_freq);
    free(m->tproj);
    vox_pool_free(m->pool);
    vox_source_free(m->src);
    vox_tekken_free(m->tk);
    vox_config_free(&m->cfg);
    free(m->dir);
    free(m);
}

static int check_voice_names(const voxtts_model *m, vox_error *err) {
    for (int i = 0; i < m->cfg.n_voices; i++) {
        const char *v = m->cfg.voice_names[i];
        if (!v || !*v || strchr(v, '/') || strchr(v, '\\') || strcmp(v, ".") == 0 ||
            strcmp(v, "..") == 0)
            return vox_fail(err, VOX_E_FORMAT,
                            "%s/params.json: voice name '%s' cannot name a file in voice_embedding/",
                            m->dir, v ? v : "(null)");
    }
    return VOX_OK;
}

/* Products with quantized weights first quantize their input rows into the
 * pool's scratch (and BF16 weights, on a level that splits their activations,
 * split them there).  Reserve it once here, for the widest matrix input and the most
 * rows any stage multiplies at once (a prefill batch, the flow head's 6 rows, the
 * codec's longest chunk at its highest rate), for every prepared format (a
 * vox_matmul_multi may mix them), so that no product allocates while frames are
 * generated.  (Only `voxtts debug codec` on very long inputs goes beyond this,
 * and then grows the scratch once, outside any frame loop.) */
static int reserve_kernel_scratch(voxtts_model *m, vox_error *err) {
    const vox_config *c = &m->cfg;
    const vox_transformer_cfg *t[2] = {&c->llm, &c->acoustic};
    int64_t max_in = c->acoustic_input_dim;
    for (int i = 0; i < 2; i++) {
        int64_t w[3] = {t[i]->dim, t[i]->hidden_dim, (int64_t)t[i]->n_heads * t[i]->head_dim};
        for (int j = 0; j < 3; j++) max_in = w[j] > max_in ? w[j] : max_in;
    }
    int64_t cw[3] = {c->codec.dim, c->codec.hidden_dim, (int64_t)c->codec.n_heads * c->codec.head_dim};
    for (int j = 0; j < 3; j++) max_in = cw[j] > max_in ? cw[j] : max_in;
    max_in = (max_in + 255) / 256 * 256;
    int rate = voxtts_model_samples_per_frame(m) / c->codec.patch_size; /* codec rows per frame */
    /* a codec call decodes at most one chunk of new frames; the receptive field
     * in frames is a generous margin for the rows its convolutions carry over */
    int64_t rows = (int64_t)(VOX_BATCH_CHUNK + vox_codec_context_frames(c)) * rate;
    if (rows < 64) rows = 64; /* backbone prefill batches (backbone.c) */
    vox_tensor probe = {0};
    probe.ndim = 2;
    probe.shape[0] = 1;
    probe.shape[1] = max_in;
    size_t bytes = 0;
    probe.dtype = VOX_Q8_0;
    bytes += vox_matmul_scratch_bytes(&probe, (int)rows);
    probe.dtype = VOX_Q4_K;
    bytes += vox_matmul_scratch_bytes(&probe, (int)rows);
    probe.dtype = VOX_BF16; /* 0 unless the kernel level splits BF16 activations */
    bytes += vox_matmul_scratch_bytes(&probe, (int)rows);
    return vox_pool_reserve_scratch(m->pool, bytes, err);
}

/* The part of loading shared by every kind of model (directory, GGUF, synthetic):
 * m->cfg, m->tk, m->src and m->dir are set; check them against each other, start
 * the thread pool, bind the weights and precompute what does not depend on the
 * request.  On failure the caller frees m. */
int vox_model_finish_load(voxtts_model *m, int n_threads, vox_error *err) {
    int rc;
    if ((rc = check_voice_names(m, err))) return rc;
    if (vox_tekken_vocab_size(m->tk) > m->cfg.vocab_size)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: tekken.json default_vocab_size %d exceeds params.json vocab_size %d",
                        m->dir, vox_tekken_vocab_size(m->tk), m->cfg.vocab_size);
    if ((rc = vox_pool_create(n_threads, &m->pool, err))) return rc;
    m->n_threads = vox_pool_threads(m->pool);
    if ((rc = vox_weights_load(m, err))) return rc;
    if ((rc = vox_encoder_load_builtin(m, err))) return rc;
    if ((rc = reserve_kernel_scratch(m, err))) return rc;
    if ((rc = vox_prompt_resolve_specials(m, err))) return rc;
    return vox_flow_precompute(m, err);
}

/* Config, tokenizer and tensor source of a GGUF model (gguf_model.h).  m->dir is
 * the file's path: voice.c reads voices missing from the file beside it. */
static int open_gguf_model(voxtts_model *m, const char *path, vox_error *err) {
    int rc = vox_source_open_gguf(path, &m->src, err);
    if (rc) return rc;
    const vox_gguf *g = vox_source_gguf(m->src);
    if ((rc = vox_gguf_model_config(g, &m->cfg, err))) return rc;
    return vox_gguf_model_tekken(g, &m->tk, err);
}

/* The official layout: params.json, tekken.json, consolidated.safetensors. */
static int open_dir_model(voxtts_model *m, const char *model_dir, vox_error *err) {
    char *path = join_path(model_dir, "params.json");
    if (!path) return vox_fail(err, VOX_E_NOMEM, "out of memory loading %s", model_dir);
    int rc = vox_config_load(path, &m->cfg, err);
    free(path);
    if (rc) return rc;
    if (!(path = join_path(model_dir, "tekken.json")))
        return vox_fail(err, VOX_E_NOMEM, "out of memory loading %s", model_dir);
    rc = vox_tekken_load(path, &m->tk, err);
    free(path);
    if (rc) return rc;
    if (!(path = join_path(model_dir, "consolidated.safetensors")))
        return vox_fail(err, VOX_E_NOMEM, "out of memory loading %s", model_dir);
    rc = vox_source_open_safetensors(path, &m->src, err);
    free(path);
    return rc;
}

int voxtts_model_load(const char *model_dir, const voxtts_load_params *p, voxtts_model **out,
                      voxtts_error *err) {
    if (!out) return arg_fail(err, "voxtts_model_load", "out is NULL");
    *out = NULL;
    if (!model_dir || !*model_dir)
        return arg_fail(err, "voxtts_model_load", "model directory is NULL or empty");
    voxtts_load_params defaults;
    voxtts_load_params_default(&defaults);
    if (!p) p = &defaults;
    int rc0 = vox_check_struct_size(err, "voxtts_model_load", "voxtts_load_params", p->struct_size,
                                    sizeof *p);
    if (rc0) return rc0;
    if (p->n_threads < 0 || p->n_threads > 1024)
        return vox_fail(err, VOX_E_ARG, "voxtts_model_load: n_threads %d out of range (0..1024)",
                        p->n_threads);
    /* A directory in the official layout, or one GGUF file (told apart by its magic,
     * not its name). */
    struct stat sb;
    if (stat(model_dir, &sb) != 0)
        return vox_fail(err, VOX_E_IO,
                        "model %s does not exist (expected a model directory or a .gguf file)",
                        model_dir);
    int is_dir = S_ISDIR(sb.st_mode);
    if (!is_dir && !vox_path_is_gguf(model_dir))
        return vox_fail(err, VOX_E_FORMAT,
                        "model %s is neither a directory nor a GGUF file (no GGUF magic)",
                        model_dir);

    voxtts_model *m = calloc(1, sizeof *m);
    if (!m) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    int rc;
    if (!(m->dir = strdup(model_dir))) {
        rc = vox_fail(err, VOX_E_NOMEM, "out of memory loading %s", model_dir);
        goto fail;
    }
    rc = is_dir ? open_dir_model(m, model_dir, err) : open_gguf_model(m, model_dir, err);
    if (rc) goto fail;
    if ((rc = vox_model_finish_load(m, p->n_threads, err))) goto fail;
    *out = m;
    return VOX_OK;
fail:
    voxtts_model_free(m);
    return rc;
}

int voxtts_model_n_voices(const voxtts_model *m) { return m ? m->cfg.n_voices : 0; }

const char *voxtts_model_voice_name(const voxtts_model *m, int i) {
    if (!m || i < 0 || i >= m->cfg.n_voices) return NULL;
    return m->cfg.voice_names[i];
}

int voxtts_model_find_voice(const voxtts_model *m, const char *name) {
    if (!m || !name) return -1;
    int v;
    return vox_voice_lookup(m, name, &v, NULL) == VOX_OK ? v : -1;
}

int voxtts_model_sample_rate(const voxtts_model *m) { return m ? m->cfg.codec.sampling_rate : 0; }

int voxtts_model_samples_per_frame(const voxtts_model *m) {
    if (!m) return 0;
    int spf = m->cfg.codec.patch_size;
    for (int i = 0; i < m->cfg.codec.n_stages; i++) spf *= m->cfg.codec.conv_strides[i];
    return spf;
}

int voxtts_model_n_codebooks(const voxtts_model *m) { return m ? m->cfg.n_codebooks : 0; }
int voxtts_model_n_acoustic(const voxtts_model *m) { return m ? m->cfg.n_acoustic_codebook : 0; }
int voxtts_model_dim(const voxtts_model *m) { return m ? m->cfg.llm.dim : 0; }
int voxtts_model_n_threads(const voxtts_model *m) { return m ? m->n_threads : 0; }

/* ---- synthesis --------------------------------------------------------------- */

void voxtts_synth_debug_default(voxtts_synth_debug *d) {
    if (!d) return;
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
}

void voxtts_synth_params_default(voxtts_synth_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->voice = NULL;
    p->seed = 42;
    p->max_frames = 2048;
    p->cfg_alpha = 1.2f;
    p->n_steps = 0;
}

int vox_check_synth_params(const voxtts_synth_params *p, const char *fn, voxtts_error *err) {
    int rc = vox_check_struct_size(err, fn, "voxtts_synth_params", p->struct_size, sizeof *p);
    if (rc) return rc;
    if (p->debug &&
        (rc = vox_check_struct_size(err, fn, "voxtts_synth_debug", p->debug->struct_size, sizeof *p->debug)))
        return rc;
    if (p->max_frames < 1 || p->max_frames > VOX_MAX_FRAMES)
        return vox_fail(err, VOX_E_ARG, "%s: max_frames %d out of range (1..%d)", fn,
                        p->max_frames, VOX_MAX_FRAMES);
    if (p->n_steps < 0 || p->n_steps > 1000)
        return vox_fail(err, VOX_E_ARG, "%s: n_steps %d out of range (0 = default, 1..1000)", fn,
                        p->n_steps);
    if (!isfinite(p->cfg_alpha))
        return vox_fail(err, VOX_E_ARG, "%s: cfg_alpha is not a finite number", fn);
    return VOX_OK;
}

int voxtts_synthesize(voxtts_model *m, const char *text, const voxtts_synth_params *p,
                      voxtts_audio *out, voxtts_synth_stats *stats, voxtts_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (stats) memset(stats, 0, sizeof *stats);
    if (!m || !text || !out)
        return arg_fail(err, "voxtts_synthesize", "model, text and out must not be NULL");
    voxtts_synth_params defaults;
    voxtts_synth_params_default(&defaults);
    if (!p) p = &defaults;
    int rc = vox_check_synth_params(p, "voxtts_synthesize", err);
    if (rc) return rc;
    vox_voice_sel voice;
    if ((rc = vox_voice_select(m, p, &voice, err))) return rc;
    return vox_generate(m, text, p, out, stats, err);
}

void voxtts_audio_free(voxtts_audio *a) {
    if (!a) return;
    free(a->samples);
    free(a->codes);
    memset(a, 0, sizeof *a);
}

int voxtts_audio_save_wav(const voxtts_audio *a, const char *path, voxtts_error *err) {
    if (!a || !path || !*path)
        return arg_fail(err, "voxtts_audio_save_wav", "audio and path must not be NULL or empty");
    if (a->n_samples > 0 && !a->samples)
        return arg_fail(err, "voxtts_audio_save_wav", "the audio was streamed: no samples kept");
    return vox_wav_write_file(path, a->samples, a->n_samples, a->sample_rate, err);
}

/* ---- stages ------------------------------------------------------------------ */

int voxtts_stage_prompt(voxtts_model *m, const char *text, const char *voice, int32_t **ids,
                        size_t *n_ids, voxtts_error *err) {
    if (ids) *ids = NULL;
    if (n_ids) *n_ids = 0;
    if (!m || !text || !ids || !n_ids)
        return arg_fail(err, "voxtts_stage_prompt", "model, text, ids and n_ids must not be NULL");
    int v, rc = vox_voice_lookup(m, voice, &v, err);
    if (rc) return rc;
    return vox_prompt_ids(m, text, strlen(text), v, ids, n_ids, err);
}

int voxtts_stage_prefill(voxtts_model *m, const char *text, const voxtts_synth_params *p,
                         float *h_out, voxtts_error *err) {
    if (!m || !text || !p || !h_out)
        return arg_fail(err, "voxtts_stage_prefill", "model, text, params and h_out must not be NULL");
    int rc = vox_check_synth_params(p, "voxtts_stage_prefill", err);
    if (rc) return rc;
    vox_voice_sel v;
    if ((rc = vox_voice_select(m, p, &v, err))) return rc;
    vox_llm_state s;
    rc = vox_gen_prefill_sel(m, text, strlen(text), &v, vox_opt_seed_step(p), 0, &s, h_out, err);
    vox_llm_state_free(&s);
    return rc;
}

int voxtts_stage_decode(voxtts_model *m, const char *text, const voxtts_synth_params *p,
                        const int32_t *codes, int n_frames, float *hs_out, voxtts_error *err) {
    if (!m || !text || !p || !hs_out || (n_frames > 0 && !codes))
        return arg_fail(err, "voxtts_stage_decode",
                        "model, text, params, codes and hs_out must not be NULL");
    if (n_frames < 0 || n_frames > VOX_MAX_FRAMES)
        return vox_fail(err, VOX_E_ARG, "voxtts_stage_decode: n_frames %d out of range", n_frames);
    int rc = vox_check_synth_params(p, "voxtts_stage_decode", err);
    if (rc) return rc;
    vox_voice_sel v;
    if ((rc = vox_voice_select(m, p, &v, err))) return rc;
    /* embedding rows exist for every code including the specials EMPTY/END */
    if ((rc = vox_check_codes(m, codes, n_frames, 0, err))) return rc;
    const int D = m->cfg.llm.dim;
    float *tmp = malloc(sizeof(float) * (size_t)D * 2);
    if (!tmp) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    vox_llm_state s;
    rc = vox_gen_prefill_sel(m, text, strlen(text), &v, vox_opt_seed_step(p), n_frames, &s, hs_out, err);
    for (int f = 0; f < n_frames && rc == VOX_OK; f++) {
        vox_embed_frame(m, codes + (size_t)f * m->cfg.n_codebooks, tmp, tmp + D);
        rc = vox_llm_forward(&s, tmp, 1, hs_out + (size_t)(f + 1) * D, err);
    }
    vox_llm_state_free(&s);
    free(tmp);
    return rc;
}

int voxtts_stage_velocity(voxtts_model *m, const float *h, const float *x, float t, float *v_out,
                          voxtts_error *err) {
    if (!m || !h || !x || !v_out)
        return arg_fail(err, "voxtts_stage_velocity", "model, h, x and v_out must not be NULL");
    if (!isfinite(t)) return arg_fail(err, "voxtts_stage_velocity", "t is not finite");
    vox_flow_ws ws;
    int rc = vox_flow_ws_init(&ws, m, err);
    if (rc) return rc;
    float *tproj = malloc(sizeof(float) * (size_t)m->cfg.acoustic.dim);
    if (!tproj) {
        vox_flow_ws_free(&ws);
        return vox_fail(err, VOX_E_NOMEM, "out of memory");
    }
    vox_flow_time_projection(&ws, t, tproj);
    vox_matmul_pool(m->pool, m->w.llm_projection, h, 1, ws.cond);
    vox_flow_velocity(&ws, x, tproj, v_out);
    free(tproj);
    vox_flow_ws_free(&ws);
    return VOX_OK;
}

int voxtts_stage_frame(voxtts_model *m, const float *h, const float *x0,
                       const voxtts_synth_params *p, int32_t *codes_out, voxtts_error *err) {
    if (!m || !h || !x0 || !codes_out)
        return arg_fail(err, "voxtts_stage_frame", "model, h, x0 and codes_out must not be NULL");
    voxtts_synth_params defaults;
    voxtts_synth_params_default(&defaults);
    if (!p) p = &defaults;
    int rc = vox_check_synth_params(p, "voxtts_stage_frame", err);
    if (rc) return rc;
    vox_flow_ws ws;
    if ((rc = vox_flow_ws_init(&ws, m, err))) return rc;
    const int A = m->cfg.n_acoustic_codebook;
    int sem = vox_flow_semantic(&ws, h, vox_opt_ignore_end(p));
    codes_out[0] = sem;
    if (sem == 1) {
        for (int a = 0; a < A; a++) codes_out[1 + a] = 2; /* EMPTY + 2 (§5.1) */
    } else {
        rc = vox_flow_acoustic(&ws, h, x0, p->cfg_alpha,
                               p->n_steps ? p->n_steps : m->cfg.n_decoding_steps, codes_out + 1, err);
    }
    vox_flow_ws_free(&ws);
    return rc;
}

int voxtts_stage_codec(voxtts_model *m, const int32_t *codes, int n_frames,
                       const voxtts_synth_params *p, float *wave_out, voxtts_error *err) {
    if (!m || !codes || !wave_out)
        return arg_fail(err, "voxtts_stage_codec", "model, codes and wave_out must not be NULL");
    if (n_frames < 1 || n_frames > VOX_MAX_FRAMES)
        return vox_fail(err, VOX_E_ARG, "voxtts_stage_codec: n_frames %d out of range (1..%d)",
                        n_frames, VOX_MAX_FRAMES);
    if (p) {
        int rc = vox_check_synth_params(p, "voxtts_stage_codec", err);
        if (rc) return rc;
    }
    int press = vox_opt_alibi_press(p), wkeys = vox_opt_window_w_keys(p);
    return vox_codec_decode(m, codes, n_frames, press, wkeys, wave_out, err);
}

int voxtts_stage_encode(voxtts_model *m, const char *encoder_path, const float *samples, size_t n,
                        int32_t **codes_out, int *n_frames, voxtts_error *err) {
    if (codes_out) *codes_out = NULL;
    if (n_frames) *n_frames = 0;
    if (!m || !codes_out || !n_frames || (n > 0 && !samples))
        return arg_fail(err, "voxtts_stage_encode",
                        "model, samples, codes_out and n_frames must not be NULL");
    if (encoder_path) {
        int rc = vox_encoder_attach(m, encoder_path, err);
        if (rc) return rc;
    }
    return vox_encode(m, samples, n, codes_out, n_frames, err);
}

int voxtts_stage_voice_rows(voxtts_model *m, const int32_t *codes, int n_frames, float **rows_out,
                            voxtts_error *err) {
    if (rows_out) *rows_out = NULL;
    if (!m || !codes || !rows_out)
        return arg_fail(err, "voxtts_stage_voice_rows", "model, codes and rows_out must not be NULL");
    return vox_voice_rows_from_codes(m, codes, n_frames, rows_out, err);
}
