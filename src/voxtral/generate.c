/* generate.c — the generation loop (docs/MODEL.md §8.1) and its noise source.
 *
 * Loop: prompt -> prefill (voice prefix from the model's cache) -> h; per frame: semantic argmax (END stops unless
 * ignore_end), flow matching from fresh N(0,1) noise -> acoustic codes, feed the
 * summed code embedding back at the next position.  Frame 0 uses the prefill
 * hidden (official VO behaviour); seed_step instead feeds tok_embeddings[[AUDIO]]
 * at position P first and uses that hidden (MU lineage, §8.1), shifting frame f
 * to position P+1+f.  The codec runs on chunks of frames while they are
 * generated (stream.h): streamed to the on_audio callback on VO's schedule
 * (§8.4), or collected into the returned waveform; either way the samples are
 * bit-identical to one decode of all frames.  Each stage's wall time is
 * recorded for voxtts_synth_stats.
 *
 * Noise (§8.3): torch's generator is not reproduced; instead a documented,
 * portable stream.  State = the 64-bit seed; each draw advances it by the
 * golden-ratio increment 0x9E3779B97F4A7C15 and mixes it with splitmix64's
 * finalizer (xor-shift 30, *0xBF58476D1CE4E5B9, xor-shift 27,
 * *0x94D049BB133111EB, xor-shift 31).  A uniform in (0, 1] is
 * ((z >> 11) + 1) * 2^-53 (never 0, so the log is finite).  Normals come in
 * Box-Muller pairs from two uniforms u1, u2: r = sqrt(-2 ln u1), a = 2*pi*u2,
 * z0 = r cos a, z1 = r sin a (computed in double, stored as float); a vector
 * of n values uses ceil(n/2) pairs, dropping the last z1 when n is odd.  Each
 * generated frame draws exactly one A-vector (A = n_acoustic_codebook) in frame
 * order, so the same seed gives the same audio on every machine and thread
 * count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "voxtral/model.h"
#include "voxtral/stream.h"

void vox_rng_seed(vox_rng *r, uint64_t seed) { r->state = seed; }

static uint64_t rng_next(vox_rng *r) {
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_uniform(vox_rng *r) { return (double)((rng_next(r) >> 11) + 1) * 0x1p-53; }

void vox_rng_normal(vox_rng *r, float *out, int n) {
    const double two_pi = 6.283185307179586476925286766559;
    for (int i = 0; i < n; i += 2) {
        double u1 = rng_uniform(r), u2 = rng_uniform(r);
        double rad = sqrt(-2.0 * log(u1)), a = two_pi * u2;
        out[i] = (float)(rad * cos(a));
        if (i + 1 < n) out[i + 1] = (float)(rad * sin(a));
    }
}

/* The voice prefix [<s>][BEGIN_AUDIO][AUDIO]*N[NEXT_AUDIO_TEXT] is the same for every request
 * with that voice: its keys/values are computed once and kept by the model, for
 * a preset in its slot, for a voice of one's own in one of VOX_USER_PREFIX_MAX
 * slots keyed by the rows' SHA-256 (the least recently used one is replaced). */
static vox_user_prefix *user_slot(const voxtts_model *m, const uint8_t *key) {
    for (int i = 0; i < VOX_USER_PREFIX_MAX; i++) {
        const vox_user_prefix *u = &m->user_prefix[i];
        if (u->kv && memcmp(u->key, key, 32) == 0) return (vox_user_prefix *)u;
    }
    return NULL;
}

int vox_gen_prefix_cached(const voxtts_model *m, const vox_voice_sel *v) {
    if (v->preset >= 0) return m->prefix_kv[v->preset] ? m->prefix_n[v->preset] : 0;
    const vox_user_prefix *u = user_slot(m, v->key);
    return u ? u->n : 0;
}

void vox_gen_user_prefix_free(voxtts_model *m) {
    for (int i = 0; i < VOX_USER_PREFIX_MAX; i++) {
        free(m->user_prefix[i].kv);
        memset(&m->user_prefix[i], 0, sizeof m->user_prefix[i]);
    }
}

/* The cached prefix KV of v, computed from emb's first n_prefix rows if absent. */
int vox_gen_voice_prefix(voxtts_model *m, const vox_voice_sel *v, const float *emb, int n_prefix,
                         const float **kv, vox_error *err) {
    vox_user_prefix *slot = NULL;
    if (v->preset >= 0) {
        if (m->prefix_kv[v->preset]) {
            *kv = m->prefix_kv[v->preset];
            return VOX_OK;
        }
    } else if ((slot = user_slot(m, v->key)) != NULL) {
        slot->used = ++m->user_prefix_clock;
        *kv = slot->kv;
        return VOX_OK;
    }
    vox_llm_state t;
    float *saved = NULL;
    int rc = vox_llm_state_init(&t, m, n_prefix, err);
    if (rc) return rc;
    if (!(rc = vox_llm_forward(&t, emb, n_prefix, NULL, err)))
        rc = vox_llm_prefix_save(&t, n_prefix, &saved, err);
    vox_llm_state_free(&t);
    if (rc) return rc;
    if (v->preset >= 0) {
        m->prefix_kv[v->preset] = saved;
        m->prefix_n[v->preset] = n_prefix;
    } else {
        slot = &m->user_prefix[0];
        for (int i = 0; i < VOX_USER_PREFIX_MAX; i++) {
            vox_user_prefix *u = &m->user_prefix[i];
            if (!u->kv) {
                slot = u;
                break;
            }
            if (u->used < slot->used) slot = u;
        }
        free(slot->kv);
        memcpy(slot->key, v->key, 32);
        slot->kv = saved;
        slot->n = n_prefix;
        slot->used = ++m->user_prefix_clock;
    }
    *kv = saved;
    return VOX_OK;
}

int vox_gen_prefill(voxtts_model *m, const char *text, size_t len, int voice, int seed_step,
                    int extra_positions, vox_llm_state *s, float *h, vox_error *err) {
    memset(s, 0, sizeof *s);
    vox_voice_sel sel;
    int rc = vox_voice_select_preset(m, voice, &sel, err);
    if (rc) return rc;
    return vox_gen_prefill_sel(m, text, len, &sel, seed_step, extra_positions, s, h, err);
}

int vox_gen_prefill_sel(voxtts_model *m, const char *text, size_t len, const vox_voice_sel *v,
                        int seed_step, int extra_positions, vox_llm_state *s, float *h,
                        vox_error *err) {
    int32_t *ids = NULL;
    size_t n = 0;
    float *emb = NULL;
    const float *kv = NULL;
    memset(s, 0, sizeof *s);
    int rc = vox_prompt_ids_n(m, text, len, v->n, &ids, &n, err);
    if (rc) return rc;
    /* before any embedding or prefill work: the positions must exist (§1.1 max_seq_len) */
    if (m->cfg.max_seq_len > 0 &&
        n + (size_t)extra_positions + (seed_step ? 1 : 0) > (size_t)m->cfg.max_seq_len) {
        rc = vox_fail(err, VOX_E_ARG,
                      "prompt of %zu tokens + up to %d frames exceeds the model's max_seq_len of %d "
                      "(params.json); use fewer frames or a shorter text", n, extra_positions,
                      m->cfg.max_seq_len);
        goto out;
    }
    if ((rc = vox_prompt_embeddings_sel(m, ids, n, v, &emb, err))) goto out;
    if (n + (size_t)extra_positions + 1 > (size_t)1 << 30) {
        rc = vox_fail(err, VOX_E_ARG, "prompt of %zu tokens + %d frames is too long", n,
                      extra_positions);
        goto out;
    }

    /* §2.1: ids[0..n_prefix) = <s>, [BEGIN_AUDIO], [AUDIO]*N, [NEXT_AUDIO_TEXT]: text
     * independent, so cached per voice; the text (>= 1 token), [REPEAT_AUDIO_TEXT]
     * and [BEGIN_AUDIO] follow, at least 3 rows */
    const int n_prefix = 3 + v->n;
    const int D = m->cfg.llm.dim;
    if ((rc = vox_gen_voice_prefix(m, v, emb, n_prefix, &kv, err))) goto out;
    if ((rc = vox_llm_state_init(s, m, (int)n + extra_positions + (seed_step ? 1 : 0), err)))
        goto out;
    vox_llm_prefix_load(s, kv, n_prefix);
    if ((rc = vox_llm_forward(s, emb + (size_t)n_prefix * D, (int)n - n_prefix, h, err))) goto out;
    if (seed_step) {
        vox_tensor_get_row(m->w.tok_embeddings, m->id_audio, emb); /* emb has >= 1 row */
        if ((rc = vox_llm_forward(s, emb, 1, h, err))) goto out;
    }
out:
    if (rc) vox_llm_state_free(s);
    free(ids);
    free(emb);
    return rc;
}

int vox_generate(voxtts_model *m, const char *text, const voxtts_synth_params *p,
                 voxtts_audio *out, voxtts_synth_stats *stats, vox_error *err) {
    const double t_start = vox_now_s();
    const vox_config *c = &m->cfg;
    const int A = c->n_acoustic_codebook, ncb = c->n_codebooks, D = c->llm.dim;
    const int n_steps = p->n_steps ? p->n_steps : c->n_decoding_steps;
    const int spf = voxtts_model_samples_per_frame(m);
    vox_voice_sel voice;
    int rc;
    if ((rc = vox_voice_select(m, p, &voice, err))) return rc;

    vox_llm_state s;
    vox_flow_ws ws;
    vox_audio_stream as;
    memset(&s, 0, sizeof s);
    memset(&ws, 0, sizeof ws);
    memset(&as, 0, sizeof as);
    int32_t *codes = NULL;
    float *h = NULL, *tmp = NULL, *e = NULL, *x0 = NULL;
    int n_frames = 0;
    double backbone_s = 0.0, acoustic_s = 0.0, prefill_s = 0.0;
    int prompt_tokens = 0, prefill_tokens = 0;

    codes = malloc(sizeof(int32_t) * (size_t)p->max_frames * (size_t)ncb);
    h = malloc(sizeof(float) * (size_t)D);
    tmp = malloc(sizeof(float) * (size_t)D);
    e = malloc(sizeof(float) * (size_t)D);
    x0 = malloc(sizeof(float) * (size_t)A);
    if (!codes || !h || !tmp || !e || !x0) {
        rc = vox_fail(err, VOX_E_NOMEM, "out of memory for %d frames", p->max_frames);
        goto out;
    }
    if ((rc = vox_flow_ws_init(&ws, m, err))) goto out;
    if ((rc = vox_audio_stream_init(&as, m, p->max_frames, p->on_audio, p->audio_user,
                                    vox_opt_alibi_press(p), vox_opt_window_w_keys(p), err)))
        goto out;
    /* positions: prompt (+ seed step) + one per frame fed back */
    const int cached_before = vox_gen_prefix_cached(m, &voice);
    double t0 = vox_now_s();
    if ((rc = vox_gen_prefill_sel(m, text, strlen(text), &voice, vox_opt_seed_step(p), p->max_frames, &s,
                                  h, err)))
        goto out;
    prefill_s = vox_now_s() - t0;
    /* the state holds exactly the prompt (+ seed step) now */
    prompt_tokens = s.n_pos - (vox_opt_seed_step(p) ? 1 : 0);
    prefill_tokens = s.n_pos - cached_before;

    vox_rng rng;
    vox_rng_seed(&rng, p->seed);
    for (int f = 0; f < p->max_frames; f++) {
        int32_t *fc = codes + (size_t)f * ncb;
        t0 = vox_now_s();
        int sem = vox_flow_semantic(&ws, h, vox_opt_ignore_end(p));
        if (sem == 1) { /* END_AUDIO (§5.1, §8.2): not decoded, not fed back */
            acoustic_s += vox_now_s() - t0;
            break;
        }
        vox_rng_normal(&rng, x0, A);
        fc[0] = sem;
        rc = vox_flow_acoustic(&ws, h, x0, p->cfg_alpha, n_steps, fc + 1, err);
        acoustic_s += vox_now_s() - t0;
        if (rc) goto out;
        n_frames++;
        if (p->progress && p->progress(n_frames, p->max_frames, p->progress_user)) {
            rc = vox_fail(err, VOX_E_CANCELLED, "cancelled by the progress callback after %d frames",
                          n_frames);
            goto out;
        }
        /* audio first: a streaming listener gets it before the next backbone step */
        if ((rc = vox_audio_stream_push(&as, codes, n_frames, 0, err))) goto out;
        if (f + 1 < p->max_frames) {
            t0 = vox_now_s();
            vox_embed_frame(m, fc, e, tmp);
            rc = vox_llm_forward(&s, e, 1, h, err);
            backbone_s += vox_now_s() - t0;
            if (rc) goto out;
        }
    }
    vox_llm_state_free(&s);
    vox_flow_ws_free(&ws);
    if ((rc = vox_audio_stream_push(&as, codes, n_frames, 1, err))) goto out;

    out->samples = n_frames > 0 && !p->on_audio ? vox_audio_stream_take(&as) : NULL;
    out->n_samples = (size_t)n_frames * (size_t)spf;
    out->sample_rate = voxtts_model_sample_rate(m);
    out->n_frames = n_frames;
    out->n_codebooks = ncb;
    if (n_frames > 0) {
        int32_t *shrunk = realloc(codes, sizeof(int32_t) * (size_t)n_frames * (size_t)ncb);
        out->codes = shrunk ? shrunk : codes;
    } else {
        free(codes);
        out->codes = NULL;
    }
    codes = NULL;
    rc = VOX_OK;
out:
    if (stats) {
        voxtts_synth_stats *st = stats;
        memset(st, 0, sizeof *st);
        st->frames = n_frames;
        st->prompt_tokens = prompt_tokens;
        st->prefill_tokens = prefill_tokens;
        st->codec_calls = as.calls;
        st->codec_frames = as.frames_decoded;
        st->prefill_s = prefill_s;
        st->backbone_s = backbone_s;
        st->acoustic_s = acoustic_s;
        st->codec_s = as.codec_s;
        st->total_s = vox_now_s() - t_start;
        st->ttfa_s = as.first_audio_t > 0.0 ? as.first_audio_t - t_start : 0.0;
    }
    vox_audio_stream_free(&as);
    vox_llm_state_free(&s);
    vox_flow_ws_free(&ws);
    free(codes);
    free(h);
    free(tmp);
    free(e);
    free(x0);
    return rc;
}
