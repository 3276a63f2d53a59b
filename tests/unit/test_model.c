/* test_model.c — structural tests of the inference engine that need no goldens.
 *
 * Model-free: RoPE pairs adjacent dims (2i, 2i+1), FSQ round trip over every
 * level and round-half-to-even, the RNG is reproducible and roughly N(0,1).
 * On a tiny checkpoint (VOXTTS_TINY_MODEL, else tests/models/tiny-a and
 * tests/models/tiny-b when present): codebook offsets, codec windows, the RoPE
 * table, prefill of a whole prompt == the same prompt fed one row at a time
 * (KV cache consistency), seed_step changes row 0, CFG alpha 1 == Euler on the
 * conditional field alone, zero conditioning == unconditional branch,
 * synthesize is deterministic per seed and thread count and returns
 * n_frames * samples_per_frame samples, argument errors carry useful messages,
 * and the codec gives F * spf samples and is causal.  Damaged copies of the
 * checkpoint (a tensor missing or misshapen, params.json disagreeing with
 * tekken.json, a voice file with the wrong rows or missing) fail with messages
 * naming the culprit and, under ASan, without leaks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "io/torch_pt.h"
#include "test.h"
#include "voxtral/model.h"
#include "voxtts_debug.h"

/* ---- model-free ---------------------------------------------------------- */

static void test_rope_pairs(void) {
    enum { HD = 8, NH = 2 };
    float cs[HD / 2], sn[HD / 2];
    for (int i = 0; i < HD / 2; i++) {
        cs[i] = cosf(0.3f * (float)(i + 1));
        sn[i] = sinf(0.3f * (float)(i + 1));
    }
    for (int d = 0; d < HD; d++) {
        float x[NH * HD] = {0};
        x[HD + d] = 1.0f; /* one-hot in head 1 */
        vox_rope_rotate(x, NH, HD, cs, sn);
        const int pair = d / 2, partner = d ^ 1;
        int ok = 1;
        for (int j = 0; j < NH * HD; j++) {
            if (j == HD + d || j == HD + partner) continue;
            ok &= x[j] == 0.0f;
        }
        CHECK(ok, "rope: dim %d leaked outside its pair (%d, %d)", d, d & ~1, d | 1);
        /* e_{2i} -> (c, s); e_{2i+1} -> (-s, c) */
        if (d % 2 == 0)
            CHECK(x[HD + d] == cs[pair] && x[HD + partner] == sn[pair], "rope: e_%d -> (c, s)", d);
        else
            CHECK(x[HD + partner] == -sn[pair] && x[HD + d] == cs[pair], "rope: e_%d -> (-s, c)", d);
    }
}

static void test_fsq(void) {
    for (int L = 2; L <= 33; L++) {
        int ok = 1;
        for (int q = 0; q < L; q++) ok &= vox_fsq_level(vox_fsq_value(q, L), L) == q;
        CHECK(ok, "fsq round trip for L=%d", L);
        CHECK(vox_fsq_value(0, L) == -1.0f && vox_fsq_value(L - 1, L) == 1.0f, "fsq ends L=%d", L);
        CHECK(vox_fsq_level(5.0f, L) == L - 1 && vox_fsq_level(-5.0f, L) == 0, "fsq clamp L=%d", L);
        CHECK(vox_fsq_level(NAN, L) >= 0 && vox_fsq_level(NAN, L) < L, "fsq NaN in range");
    }
    CHECK(vox_fsq_value(10, 21) == 0.0f && fabsf(vox_fsq_value(11, 21) - 0.1f) < 1e-7f, "21 levels");
    /* exact ties: L=3 level = y+1; L=5 level = 2(y+1) */
    CHECK(vox_fsq_level(0.5f, 3) == 2, "1.5 -> 2");
    CHECK(vox_fsq_level(-0.5f, 3) == 0, "0.5 -> 0");
    CHECK(vox_fsq_level(-0.75f, 5) == 0, "0.5 -> 0");
    CHECK(vox_fsq_level(-0.25f, 5) == 2, "1.5 -> 2");
    CHECK(vox_fsq_level(0.25f, 5) == 2, "2.5 -> 2");
    CHECK(vox_fsq_level(0.75f, 5) == 4, "3.5 -> 4");
    CHECK(vox_fsq_level(0.2500001f, 5) == 3, "just above a tie rounds up");
}

static void test_rng(void) {
    vox_rng a, b;
    vox_rng_seed(&a, 42);
    vox_rng_seed(&b, 42);
    float x[37], y[37];
    vox_rng_normal(&a, x, 37);
    vox_rng_normal(&b, y, 37);
    CHECK(memcmp(x, y, sizeof x) == 0, "same seed, same normals");
    vox_rng_seed(&b, 43);
    vox_rng_normal(&b, y, 37);
    CHECK(memcmp(x, y, sizeof x) != 0, "different seed, different normals");
    double s = 0, s2 = 0;
    const int n = 200000;
    float *z = malloc(sizeof(float) * n);
    vox_rng_seed(&a, 7);
    vox_rng_normal(&a, z, n);
    int finite = 1;
    for (int i = 0; i < n; i++) {
        finite &= isfinite(z[i]);
        s += z[i];
        s2 += (double)z[i] * z[i];
    }
    free(z);
    CHECK(finite, "normals finite");
    CHECK(fabs(s / n) < 0.01 && fabs(s2 / n - 1.0) < 0.02, "mean %g var %g", s / n, s2 / n);
}

/* ---- on a tiny checkpoint ------------------------------------------------- */

static const char *LONG_TEXT =
    "The quick brown fox jumps over the lazy dog. Hello world, this is a small test of the "
    "speech engine. It reads the text, turns it into tokens and then into sound. The weather "
    "is nice today, and the voice sounds warm and clear. Where is the station? There, on the "
    "other side of the river.";

static void test_structure(voxtts_model *m, const char *dir) {
    const vox_config *c = &m->cfg;
    int ok = m->cb_offset[0] == 0;
    for (int k = 1; k < c->n_codebooks; k++)
        ok &= m->cb_offset[k] == (c->semantic_codebook_size + 2) +
                                     (c->acoustic_codebook_size + 2) * (k - 1) &&
              m->cb_offset[k] == vox_config_codebook_offset(c, k);
    CHECK(ok, "%s: codebook offsets", dir);
    CHECK(m->audio_rows == vox_config_audio_table_rows(c) && m->audio_rows % 128 == 0, "audio rows");
    CHECK(m->semantic_rows == vox_config_semantic_head_rows(c) && m->semantic_rows % 128 == 0,
          "semantic rows");
    int win[VOX_MAX_CODEC_STAGES];
    vox_codec_windows(c, win);
    ok = 1;
    for (int i = 0; i < c->codec.n_stages; i++) ok &= win[i] == c->codec.window[i];
    CHECK(ok, "%s: codec windows agree with config.c", dir);
    if (c->codec.attn_sliding_window_size == 16 && c->codec.n_stages == 4)
        CHECK(win[0] == 2 && win[1] == 4 && win[2] == 8 && win[3] == 16, "windows 2,4,8,16");
    CHECK(voxtts_model_samples_per_frame(m) == c->codec.samples_per_frame, "spf");

    /* RoPE table of a state: angle pos * theta^(-2i/hd) */
    vox_llm_state s;
    vox_error err;
    CHECK(vox_llm_state_init(&s, m, 50, &err) == 0, "state: %s", err.msg);
    const int half = c->llm.head_dim / 2;
    double worst = 0;
    for (int p = 0; p < 50; p++)
        for (int i = 0; i < half; i++) {
            double a = p * pow(c->llm.rope_theta, -2.0 * i / c->llm.head_dim);
            worst = fmax(worst, fabs(s.rope_cos[p * half + i] - cos(a)));
            worst = fmax(worst, fabs(s.rope_sin[p * half + i] - sin(a)));
        }
    CHECK(worst < 1e-6, "rope table error %g", worst);
    vox_llm_state_free(&s);
}

/* Prompt as one batch vs one row at a time: bit-identical hiddens. */
static void test_kv_consistency(voxtts_model *m) {
    vox_error err;
    int32_t *ids = NULL;
    size_t n = 0;
    float *emb = NULL;
    CHECK(vox_prompt_ids(m, LONG_TEXT, strlen(LONG_TEXT), 0, &ids, &n, &err) == 0, "%s", err.msg);
    CHECK(n > 64, "long prompt crosses a prefill batch (%zu)", n);
    CHECK(vox_prompt_embeddings(m, ids, n, 0, &emb, &err) == 0, "%s", err.msg);
    const int D = m->cfg.llm.dim;
    float *h1 = malloc(sizeof(float) * D), *h2 = malloc(sizeof(float) * D);
    vox_llm_state a, b;
    CHECK(vox_llm_state_init(&a, m, (int)n, &err) == 0, "%s", err.msg);
    CHECK(vox_llm_state_init(&b, m, (int)n, &err) == 0, "%s", err.msg);
    CHECK(vox_llm_forward(&a, emb, (int)n, h1, &err) == 0, "%s", err.msg);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) rc = vox_llm_forward(&b, emb + i * D, 1, h2, &err);
    CHECK(rc == 0, "%s", err.msg);
    CHECK(memcmp(h1, h2, sizeof(float) * D) == 0, "prefill hidden == step-by-step hidden");
    /* the cache is full now: one more row must fail cleanly */
    float *h3 = malloc(sizeof(float) * D);
    CHECK(vox_llm_forward(&a, emb, 1, h3, &err) == VOX_E_INTERNAL, "full cache rejected");
    /* generation's prefill takes the voice prefix from the model's cache (built
     * on first use): same bits as the whole prompt in one go, cold and warm */
    for (int pass = 0; pass < 2; pass++) {
        vox_llm_state g;
        CHECK(pass == 1 || m->prefix_kv[0] == NULL, "prefix cache starts cold");
        CHECK(vox_gen_prefill(m, LONG_TEXT, strlen(LONG_TEXT), 0, 0, 4, &g, h3, &err) == 0, "%s",
              err.msg);
        CHECK(m->prefix_kv[0] != NULL && m->prefix_n[0] == 3 + m->voice_n[0], "prefix cached");
        CHECK(memcmp(h1, h3, sizeof(float) * D) == 0, "prefill via the voice cache (pass %d)", pass);
        CHECK(g.n_pos == (int)n && g.max_pos == (int)n + 4, "positions %d of %d", g.n_pos, g.max_pos);
        vox_llm_state_free(&g);
    }
    free(h3);
    vox_llm_state_free(&a);
    vox_llm_state_free(&b);
    free(h1);
    free(h2);
    free(emb);
    free(ids);
}

static void test_stages(voxtts_model *m) {
    vox_error err;
    voxtts_synth_params p;
    voxtts_synth_params_default(&p);
    voxtts_synth_debug dbg;
    voxtts_synth_debug_default(&dbg);
    p.debug = &dbg;
    p.voice = voxtts_model_voice_name(m, 0);
    const int D = voxtts_model_dim(m), A = voxtts_model_n_acoustic(m), ncb = voxtts_model_n_codebooks(m);
    float *h0 = malloc(sizeof(float) * D), *h1 = malloc(sizeof(float) * D);
    CHECK(voxtts_stage_prefill(m, "Hello world.", &p, h0, &err) == 0, "%s", err.msg);
    dbg.seed_step = 1;
    CHECK(voxtts_stage_prefill(m, "Hello world.", &p, h1, &err) == 0, "%s", err.msg);
    CHECK(memcmp(h0, h1, sizeof(float) * D) != 0, "seed_step changes row 0");
    dbg.seed_step = 0;

    /* decode row 0 == prefill */
    int32_t codes[2 * 64];
    for (int f = 0; f < 2; f++)
        for (int k = 0; k < ncb; k++) codes[f * ncb + k] = 2 + (f + k) % 3;
    float *hs = malloc(sizeof(float) * 3 * D);
    CHECK(voxtts_stage_decode(m, "Hello world.", &p, codes, 2, hs, &err) == 0, "%s", err.msg);
    CHECK(memcmp(hs, h0, sizeof(float) * D) == 0, "decode row 0 == prefill hidden");
    codes[ncb + 5] = 9999;
    CHECK(voxtts_stage_decode(m, "Hello world.", &p, codes, 2, hs, &err) == VOXTTS_E_ARG &&
              strstr(err.msg, "frame 1") && strstr(err.msg, "codebook 5"),
          "bad code names frame and codebook: %s", err.msg);
    codes[ncb + 5] = 2;

    /* zero conditioning == unconditional branch */
    float *x = malloc(sizeof(float) * A), *v = malloc(sizeof(float) * 2 * A);
    float *zero = calloc((size_t)D, sizeof(float));
    for (int a = 0; a < A; a++) x[a] = 0.1f * (float)(a % 7) - 0.3f;
    CHECK(voxtts_stage_velocity(m, zero, x, 0.25f, v, &err) == 0, "%s", err.msg);
    CHECK(memcmp(v, v + A, sizeof(float) * A) == 0, "h = 0 gives v_cond == v_uncond");

    /* alpha 1 == Euler on the conditional field alone */
    const int n_steps = 5;
    for (int a = 0; a < A; a++) x[a] = 0.37f * (float)((a * 5) % 11) / 11.0f - 0.2f;
    float *xe = malloc(sizeof(float) * A);
    memcpy(xe, x, sizeof(float) * A);
    for (int i = 0; i < n_steps; i++) {
        float t = (float)i / (float)n_steps;
        CHECK(voxtts_stage_velocity(m, h0, xe, t, v, &err) == 0, "%s", err.msg);
        for (int a = 0; a < A; a++) xe[a] += (1.0f * v[a] + 0.0f * v[A + a]) * (1.0f / n_steps);
    }
    int32_t *fr = malloc(sizeof(int32_t) * ncb);
    p.cfg_alpha = 1.0f;
    p.n_steps = n_steps;
    dbg.ignore_end = 1;
    CHECK(voxtts_stage_frame(m, h0, x, &p, fr, &err) == 0, "%s", err.msg);
    int ok = fr[0] >= 2 && fr[0] < m->cfg.semantic_codebook_size + 2;
    for (int a = 0; a < A; a++) ok &= fr[1 + a] == vox_fsq_level(xe[a], m->cfg.acoustic_codebook_size) + 2;
    CHECK(ok, "cfg alpha 1 gives the conditional field's codes");

    free(fr);
    free(xe);
    free(zero);
    free(x);
    free(v);
    free(hs);
    free(h0);
    free(h1);
}

static void test_codec(voxtts_model *m) {
    vox_error err;
    const int ncb = voxtts_model_n_codebooks(m), spf = voxtts_model_samples_per_frame(m);
    const int F = 5, S = m->cfg.semantic_codebook_size, L = m->cfg.acoustic_codebook_size;
    int32_t *codes = malloc(sizeof(int32_t) * F * ncb);
    for (int f = 0; f < F; f++) {
        codes[f * ncb] = 2 + (f * 7 + 3) % S;
        for (int k = 1; k < ncb; k++) codes[f * ncb + k] = 2 + (f * 3 + k) % L;
    }
    float *w1 = malloc(sizeof(float) * F * spf), *w2 = malloc(sizeof(float) * F * spf);
    w1[F * spf - 1] = NAN;
    CHECK(voxtts_stage_codec(m, codes, F, NULL, w1, &err) == 0, "%s", err.msg);
    int finite = 1;
    for (int i = 0; i < F * spf; i++) finite &= isfinite(w1[i]);
    CHECK(finite, "codec output: F*spf finite samples");
    /* causality: a change in frame k leaves every sample before frame k alone.
     * (k >= 2: the output conv's reflect pad mirrors a few samples of the first
     * frames into the start, which is not causal by construction.) */
    const int k = 3;
    codes[k * ncb] = 2 + (codes[k * ncb] - 2 + 1) % S;
    codes[k * ncb + 1] = 2 + (codes[k * ncb + 1] - 2 + 5) % L;
    CHECK(voxtts_stage_codec(m, codes, F, NULL, w2, &err) == 0, "%s", err.msg);
    CHECK(memcmp(w1, w2, sizeof(float) * k * spf) == 0, "samples before frame %d unchanged", k);
    CHECK(memcmp(w1 + k * spf, w2 + k * spf, sizeof(float) * spf) != 0, "frame %d changed", k);
    /* prefix decoding gives the same samples (full-sequence, causal) */
    CHECK(voxtts_stage_codec(m, codes, 3, NULL, w2, &err) == 0, "%s", err.msg);
    CHECK(memcmp(w1, w2, sizeof(float) * 2 * spf) == 0, "3-frame prefix decodes the same");
    /* options change the output */
    voxtts_synth_params p;
    voxtts_synth_params_default(&p);
    voxtts_synth_debug dbg;
    voxtts_synth_debug_default(&dbg);
    p.debug = &dbg;
    dbg.alibi_press = 1;
    CHECK(voxtts_stage_codec(m, codes, F, &p, w2, &err) == 0, "%s", err.msg);
    CHECK(memcmp(w1 + 4 * spf, w2 + 4 * spf, sizeof(float) * spf) != 0, "alibi_press matters");
    /* invalid codes: 0/1 are specials, not decodable */
    codes[2 * ncb + 4] = 1;
    CHECK(voxtts_stage_codec(m, codes, F, NULL, w2, &err) == VOXTTS_E_ARG &&
              strstr(err.msg, "frame 2") && strstr(err.msg, "codebook 4"),
          "codec rejects END code: %s", err.msg);
    codes[2 * ncb + 4] = 2;
    codes[0] = S + 2;
    CHECK(voxtts_stage_codec(m, codes, F, NULL, w2, &err) == VOXTTS_E_ARG &&
              strstr(err.msg, "frame 0") && strstr(err.msg, "codebook 0"),
          "codec rejects semantic S+2: %s", err.msg);
    CHECK(voxtts_stage_codec(m, codes, 0, NULL, w2, &err) == VOXTTS_E_ARG, "0 frames");
    free(codes);
    free(w1);
    free(w2);
}

static int count_progress(int done, int max, void *user) {
    int *calls = user;
    (*calls)++;
    (void)max;
    return done >= 3; /* cancel after the third frame */
}

static void test_synthesize(voxtts_model *m, const char *dir) {
    vox_error err;
    voxtts_synth_params p;
    voxtts_synth_params_default(&p);
    voxtts_synth_debug dbg;
    voxtts_synth_debug_default(&dbg);
    p.debug = &dbg;
    p.voice = voxtts_model_voice_name(m, 1);
    p.max_frames = 6;
    dbg.ignore_end = 1;
    voxtts_audio a, b;
    CHECK(voxtts_synthesize(m, "Hello world.", &p, &a, NULL, &err) == 0, "%s", err.msg);
    CHECK(a.n_frames == 6, "ignore_end runs to max_frames (%d)", a.n_frames);
    CHECK(a.n_samples == (size_t)a.n_frames * voxtts_model_samples_per_frame(m), "n_samples");
    CHECK(a.sample_rate == voxtts_model_sample_rate(m) && a.n_codebooks == m->cfg.n_codebooks, "fields");
    int ok = 1;
    for (int f = 0; f < a.n_frames; f++) {
        ok &= a.codes[f * a.n_codebooks] >= 2 && a.codes[f * a.n_codebooks] < m->cfg.semantic_codebook_size + 2;
        for (int k = 1; k < a.n_codebooks; k++)
            ok &= a.codes[f * a.n_codebooks + k] >= 2 &&
                  a.codes[f * a.n_codebooks + k] < m->cfg.acoustic_codebook_size + 2;
    }
    CHECK(ok, "generated codes in range");
    CHECK(voxtts_synthesize(m, "Hello world.", &p, &b, NULL, &err) == 0, "%s", err.msg);
    CHECK(a.n_frames == b.n_frames && memcmp(a.codes, b.codes, sizeof(int32_t) * a.n_frames * a.n_codebooks) == 0 &&
              memcmp(a.samples, b.samples, sizeof(float) * a.n_samples) == 0,
          "same seed, same audio");
    voxtts_audio_free(&b);

    /* another thread count gives the same bits */
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = m->n_threads == 1 ? 2 : 1;
    voxtts_model *m2 = NULL;
    CHECK(voxtts_model_load(dir, &lp, &m2, &err) == 0, "%s", err.msg);
    if (m2) {
        CHECK(voxtts_synthesize(m2, "Hello world.", &p, &b, NULL, &err) == 0, "%s", err.msg);
        CHECK(a.n_frames == b.n_frames &&
                  memcmp(a.samples, b.samples, sizeof(float) * a.n_samples) == 0,
              "%d vs %d threads: same audio", m->n_threads, m2->n_threads);
        voxtts_audio_free(&b);
        voxtts_model_free(m2);
    }

    p.seed = 43;
    CHECK(voxtts_synthesize(m, "Hello world.", &p, &b, NULL, &err) == 0, "%s", err.msg);
    CHECK(memcmp(a.codes, b.codes, sizeof(int32_t) * a.n_frames * a.n_codebooks) != 0,
          "another seed, other codes");
    voxtts_audio_free(&b);
    voxtts_audio_free(&a);

    /* progress + cancel */
    int calls = 0;
    p.progress = count_progress;
    p.progress_user = &calls;
    int rc = voxtts_synthesize(m, "Hello world.", &p, &a, NULL, &err);
    CHECK(rc == VOXTTS_E_CANCELLED && calls == 3 && a.samples == NULL, "cancel: rc %d calls %d", rc, calls);
    p.progress = NULL;

    /* without ignore_end the loop may stop early, never beyond max_frames */
    dbg.ignore_end = 0;
    CHECK(voxtts_synthesize(m, "Hi.", &p, &a, NULL, &err) == 0, "%s", err.msg);
    CHECK(a.n_frames >= 0 && a.n_frames <= 6 &&
              a.n_samples == (size_t)a.n_frames * voxtts_model_samples_per_frame(m),
          "frames %d", a.n_frames);
    voxtts_audio_free(&a);
}

static void test_errors(voxtts_model *m) {
    vox_error err;
    voxtts_synth_params p;
    voxtts_synth_params_default(&p);
    voxtts_audio a;
    p.voice = "no_such_voice";
    CHECK(voxtts_synthesize(m, "Hello.", &p, &a, NULL, &err) == VOXTTS_E_ARG &&
              strstr(err.msg, "no_such_voice") && strstr(err.msg, voxtts_model_voice_name(m, 0)),
          "unknown voice lists voices: %s", err.msg);
    p.voice = NULL;
    CHECK(voxtts_synthesize(m, "Hello.", &p, &a, NULL, &err) == VOXTTS_E_ARG, "no voice: %s", err.msg);
    /* case-insensitive */
    char upper[128];
    snprintf(upper, sizeof upper, "%s", voxtts_model_voice_name(m, 0));
    for (char *q = upper; *q; q++)
        if (*q >= 'a' && *q <= 'z') *q = (char)(*q - 32);
    CHECK(voxtts_model_find_voice(m, upper) == 0, "find voice %s", upper);
    CHECK(voxtts_model_find_voice(m, "nope") == -1, "unknown voice -> -1");
    p.voice = upper;
    CHECK(voxtts_synthesize(m, "", &p, &a, NULL, &err) == VOXTTS_E_ARG && strstr(err.msg, "text is empty"),
          "empty text: %s", err.msg);
    CHECK(voxtts_synthesize(m, " \t\n ", &p, &a, NULL, &err) == VOXTTS_E_ARG &&
              strstr(err.msg, "text is empty"),
          "blank text: %s", err.msg);
    CHECK(voxtts_synthesize(m, "bad \xff\xfe utf8", &p, &a, NULL, &err) == VOXTTS_E_ARG,
          "invalid UTF-8: %s", err.msg);
    CHECK(voxtts_synthesize(m, NULL, &p, &a, NULL, &err) == VOXTTS_E_ARG, "NULL text");
    CHECK(voxtts_synthesize(NULL, "x", &p, &a, NULL, &err) == VOXTTS_E_ARG, "NULL model");
    CHECK(voxtts_synthesize(m, "x", &p, NULL, NULL, &err) == VOXTTS_E_ARG, "NULL out");
    p.max_frames = 0;
    CHECK(voxtts_synthesize(m, "x", &p, &a, NULL, &err) == VOXTTS_E_ARG, "max_frames 0: %s", err.msg);
    p.max_frames = 10;
    p.n_steps = -1;
    CHECK(voxtts_synthesize(m, "x", &p, &a, NULL, &err) == VOXTTS_E_ARG, "n_steps -1");
    p.n_steps = 0;
    p.cfg_alpha = NAN;
    CHECK(voxtts_synthesize(m, "x", &p, &a, NULL, &err) == VOXTTS_E_ARG, "cfg NaN");
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK(voxtts_stage_prompt(m, "", upper, &ids, &n, &err) == VOXTTS_E_ARG && !ids, "prompt empty");
    CHECK(voxtts_stage_prompt(m, "Hi", "zzz", &ids, &n, &err) == VOXTTS_E_ARG, "prompt bad voice");
    CHECK(voxtts_stage_prompt(m, "Hi", upper, &ids, &n, &err) == 0, "%s", err.msg);
    /* §2.1 layout, ids by name */
    int N = vox_tekken_voice_num_tokens(m->tk, voxtts_model_voice_name(m, 0));
    CHECK(ids && n >= (size_t)N + 5 && ids[0] == vox_tekken_special_id(m->tk, "<s>") &&
              ids[1] == vox_tekken_special_id(m->tk, "[BEGIN_AUDIO]") &&
              ids[2] == vox_tekken_special_id(m->tk, "[AUDIO]") &&
              ids[N + 2] == vox_tekken_special_id(m->tk, "[NEXT_AUDIO_TEXT]") &&
              ids[n - 2] == vox_tekken_special_id(m->tk, "[REPEAT_AUDIO_TEXT]") &&
              ids[n - 1] == vox_tekken_special_id(m->tk, "[BEGIN_AUDIO]"),
          "prompt layout");
    CHECK(ids && ids[N + 2] == 36 && ids[n - 2] == 35, "36 before the text, 35 after");
    free(ids);

    voxtts_model *bad = NULL;
    CHECK(voxtts_model_load("/nonexistent/dir", NULL, &bad, &err) == VOXTTS_E_IO && !bad,
          "missing dir: %s", err.msg);
    CHECK(voxtts_model_load(NULL, NULL, &bad, &err) == VOXTTS_E_ARG, "NULL dir");
}


/* ---- damaged checkpoints --------------------------------------------------- */

typedef struct scratch_dir {
    char path[64];
    char files[16][400];
    int n_files;
} scratch_dir;

static const char *sd_file(scratch_dir *d, const char *rel) {
    char base[sizeof d->path];
    memcpy(base, d->path, sizeof base);
    snprintf(d->files[d->n_files], sizeof d->files[0], "%s/%s", base, rel);
    return d->files[d->n_files++];
}

static void sd_cleanup(scratch_dir *d) {
    for (int i = d->n_files - 1; i >= 0; i--) {
        if (unlink(d->files[i]) != 0) rmdir(d->files[i]);
    }
    rmdir(d->path);
}

/* Copy of the checkpoint without `drop` and with `reshape` given shape [1, n]. */
static int write_variant(const char *src, const char *dst, const char *drop, const char *reshape) {
    vox_error err;
    vox_safetensors *st = NULL;
    if (vox_safetensors_open(src, &st, &err) != 0) return -1;
    size_t n = vox_safetensors_count(st), k = 0;
    const char **names = malloc(sizeof(char *) * n);
    vox_tensor *ts = malloc(sizeof(vox_tensor) * n);
    for (size_t i = 0; i < n; i++) {
        const char *name = vox_safetensors_name(st, i);
        if (drop && strcmp(name, drop) == 0) continue;
        names[k] = name;
        ts[k] = *vox_safetensors_find(st, name);
        if (reshape && strcmp(name, reshape) == 0) {
            int64_t numel = vox_tensor_numel(&ts[k]);
            ts[k].ndim = 2;
            ts[k].shape[0] = 1;
            ts[k].shape[1] = numel;
        }
        k++;
    }
    int rc = vox_safetensors_write(dst, k, names, ts, &err);
    free(names);
    free(ts);
    vox_safetensors_close(st);
    return rc;
}

static int abs_path(const char *dir, const char *rel, char *out, size_t cap) {
    char cwd[200];
    if (dir[0] == '/') return snprintf(out, cap, "%s/%s", dir, rel) < (int)cap ? 0 : -1;
    if (!getcwd(cwd, sizeof cwd)) return -1;
    return snprintf(out, cap, "%s/%s/%s", cwd, dir, rel) < (int)cap ? 0 : -1;
}

static void expect_load_error(const char *dir, int code, const char *needle) {
    vox_error err;
    voxtts_model *m = NULL;
    int rc = voxtts_model_load(dir, NULL, &m, &err);
    CHECK(rc == code && m == NULL && strstr(err.msg, needle), "expected %d naming '%s', got %d: %s",
          code, needle, rc, rc ? err.msg : "(loaded)");
    voxtts_model_free(m);
}

static void test_damaged(const voxtts_model *good, const char *dir) {
    scratch_dir d;
    memset(&d, 0, sizeof d);
    snprintf(d.path, sizeof d.path, "/tmp/voxtts-test-XXXXXX");
    if (!mkdtemp(d.path)) {
        CHECK(0, "mkdtemp failed");
        return;
    }
    char src[400], st_src[400];
    abs_path(dir, "consolidated.safetensors", st_src, sizeof st_src);
    abs_path(dir, "tekken.json", src, sizeof src);
    CHECK(symlink(src, sd_file(&d, "tekken.json")) == 0, "symlink");
    const char *vdir = sd_file(&d, "voice_embedding");
    CHECK(mkdir(vdir, 0755) == 0, "mkdir");
    char rel[300];
    for (int i = 0; i < good->cfg.n_voices; i++) {
        snprintf(rel, sizeof rel, "voice_embedding/%s.pt", good->cfg.voice_names[i]);
        abs_path(dir, rel, src, sizeof src);
        CHECK(symlink(src, sd_file(&d, rel)) == 0, "symlink %s", rel);
    }
    /* params.json: a copy with the audio_token_id changed, then the original */
    abs_path(dir, "params.json", src, sizeof src);
    FILE *f = fopen(src, "rb");
    char *params = calloc(1, 1 << 16);
    size_t plen = f ? fread(params, 1, (1 << 16) - 1, f) : 0;
    if (f) fclose(f);
    const char *params_path = sd_file(&d, "params.json");
    char *hit = strstr(params, "\"audio_token_id\": 24");
    CHECK(plen > 0 && hit, "params.json has audio_token_id 24");
    const char *st_path = sd_file(&d, "consolidated.safetensors");
    CHECK(write_variant(st_src, st_path, NULL, NULL) == 0, "copy checkpoint");
    if (hit) {
        hit[strlen("\"audio_token_id\": 2")] = '3';
        f = fopen(params_path, "wb");
        fwrite(params, 1, plen, f);
        fclose(f);
        expect_load_error(d.path, VOXTTS_E_FORMAT, "audio_token_id");
        hit[strlen("\"audio_token_id\": 2")] = '4';
    }
    f = fopen(params_path, "wb");
    fwrite(params, 1, plen, f);
    fclose(f);
    free(params);

    static const char *drops[] = {"layers.0.attention.wk.weight",
                                  "acoustic_transformer.semantic_codebook_output.weight",
                                  "audio_tokenizer.quantizer.semantic_codebook.cluster_usage",
                                  "audio_tokenizer.output_proj.conv.parametrizations.weight.original0"};
    for (size_t i = 0; i < sizeof drops / sizeof *drops; i++) {
        CHECK(write_variant(st_src, st_path, drops[i], NULL) == 0, "write variant");
        expect_load_error(d.path, VOXTTS_E_MISSING, drops[i]);
    }
    static const char *reshapes[] = {"norm.weight", "acoustic_transformer.layers.0.feed_forward.w2.weight",
                                     "audio_tokenizer.decoder_blocks.2.conv.parametrizations.weight.original1",
                                     "audio_tokenizer.decoder_blocks.1.layers.0.attention.q_norm.weight"};
    for (size_t i = 0; i < sizeof reshapes / sizeof *reshapes; i++) {
        CHECK(write_variant(st_src, st_path, NULL, reshapes[i]) == 0, "write variant");
        expect_load_error(d.path, VOXTTS_E_SHAPE, reshapes[i]);
    }

    /* intact checkpoint, but voice 0 has one row too many and voice 1 is missing */
    CHECK(write_variant(st_src, st_path, NULL, NULL) == 0, "copy checkpoint");
    vox_error err;
    const int D = good->cfg.llm.dim, N = good->voice_n[0] ? good->voice_n[0] : 3;
    snprintf(rel, sizeof rel, "%s/voice_embedding/%s.pt", d.path, good->cfg.voice_names[0]);
    unlink(rel);
    uint16_t *rows = calloc((size_t)(N + 1) * D, sizeof(uint16_t));
    CHECK(vox_pt_write_bf16(rel, "voice_embed", N + 1, D, rows, &err) == 0, "write voice: %s", err.msg);
    free(rows);
    snprintf(rel, sizeof rel, "%s/voice_embedding/%s.pt", d.path, good->cfg.voice_names[1]);
    unlink(rel);
    voxtts_model *m = NULL;
    CHECK(voxtts_model_load(d.path, NULL, &m, &err) == 0, "voices are loaded lazily: %s", err.msg);
    if (m) {
        voxtts_synth_params p;
        voxtts_synth_params_default(&p);
        p.voice = good->cfg.voice_names[0];
        p.max_frames = 2;
        voxtts_audio a;
        int rc = voxtts_synthesize(m, "Hello.", &p, &a, NULL, &err);
        CHECK(rc == VOXTTS_E_SHAPE && strstr(err.msg, good->cfg.voice_names[0]),
              "voice with extra row: %d %s", rc, err.msg);
        p.voice = good->cfg.voice_names[1];
        rc = voxtts_synthesize(m, "Hello.", &p, &a, NULL, &err);
        CHECK(rc != 0 && strstr(err.msg, good->cfg.voice_names[1]), "missing voice file: %d %s", rc,
              err.msg);
        voxtts_model_free(m);
    }
    sd_cleanup(&d);
}

static void run_model(const char *dir) {
    vox_error err;
    voxtts_model *m = NULL;
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = 2;
    if (voxtts_model_load(dir, &lp, &m, &err) != 0) {
        CHECK(0, "cannot load %s: %s", dir, err.msg);
        return;
    }
    printf("model %s: dim %d, %d voices\n", dir, voxtts_model_dim(m), voxtts_model_n_voices(m));
    test_structure(m, dir);
    test_kv_consistency(m);
    test_stages(m);
    test_codec(m);
    test_synthesize(m, dir);
    test_errors(m);
    test_damaged(m, dir);
    voxtts_model_free(m);
}

int main(void) {
    test_rope_pairs();
    test_fsq();
    test_rng();
    CHECK(strcmp(voxtts_version(), VOXTTS_VERSION) == 0, "version");
    const char *env = getenv("VOXTTS_TINY_MODEL");
    if (env && *env) {
        run_model(env);
    } else {
        const char *dirs[2] = {"tests/models/tiny-a", "tests/models/tiny-b"};
        for (int i = 0; i < 2; i++) {
            FILE *f;
            char p[256];
            snprintf(p, sizeof p, "%s/params.json", dirs[i]);
            if ((f = fopen(p, "r"))) {
                fclose(f);
                run_model(dirs[i]);
            } else { /* a missing fixture is a failure, never a silent skip */
                CHECK(0, "fixture %s not found (run from the repository root)", dirs[i]);
            }
        }
    }
    TEST_MAIN_END();
}
