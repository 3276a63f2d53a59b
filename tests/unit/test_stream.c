/* test_stream.c — streaming synthesis (docs/MODEL.md §6.5, §8.4) on the tiny
 * checkpoints tests/models/tiny-a and tiny-b.
 *
 * The codec's left receptive field computed from params.json (21 frames for the
 * official codec layout, which tiny-a shares; 13 for tiny-b) and the frames the
 * start padding looks ahead (1; 2 for tiny-b); chunked decoding on
 * the streaming schedule and in the callback-less batch mode gives samples
 * bit-identical to one whole-sequence decode (voxtts_stage_codec) for 1, 4, 5,
 * 6, 26, 60 (and 230, several batch chunks) frames, also with the disputed codec
 * options; the emission sizes follow VO's schedule (1, then every 5 frames up to
 * 25, then every 25, then the rest); full synthesis with a seed gives the same
 * codes and the same samples streamed or not, fills the statistics, and a
 * callback that returns non-zero cancels with VOXTTS_E_CANCELLED.  The codec
 * decodes incrementally, each frame once, carrying its state: calls of single
 * frames, of irregular sizes and pushes that jump many frames also give
 * bit-identical samples, and a workspace restarts cleanly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"
#include "voxtral/model.h"
#include "voxtral/stream.h"
#include "voxtts_debug.h"

/* Collects streamed pieces. */
typedef struct sink {
    float *buf;
    size_t n, cap;
    int calls;
    size_t sizes[64];
    int cancel_at; /* return 1 on this call number (1-based); 0: never */
} sink;

static int sink_fn(const float *samples, size_t n, void *user) {
    sink *s = user;
    if (s->calls < 64) s->sizes[s->calls] = n;
    s->calls++;
    if (s->n + n > s->cap) {
        size_t cap = (s->n + n) * 2;
        float *b = realloc(s->buf, cap * sizeof *b);
        if (!b) return 1;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->n, samples, n * sizeof *samples);
    s->n += n;
    return s->cancel_at && s->calls == s->cancel_at;
}

static void sink_reset(sink *s) {
    free(s->buf);
    memset(s, 0, sizeof *s);
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Random valid offset codes (§4): semantic 2..S+1, acoustic 2..L+1. */
static void random_codes(const voxtts_model *m, int32_t *codes, int n_frames, uint64_t seed) {
    const int ncb = m->cfg.n_codebooks;
    uint64_t s = seed;
    for (int f = 0; f < n_frames; f++)
        for (int c = 0; c < ncb; c++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            const int hi = c == 0 ? m->cfg.semantic_codebook_size : m->cfg.acoustic_codebook_size;
            codes[(size_t)f * ncb + c] = 2 + (int32_t)((s >> 33) % (uint64_t)hi);
        }
}

/* Frames per emission expected for n frames on the streaming schedule. */
static int expected_schedule(int n, int start, int *sizes) {
    int k = 0, last = 0;
    for (int f = 1; f <= n; f++) {
        int due = last == 0 ? f >= start : (f <= 25 ? f % 5 == 0 : f % 25 == 0);
        if (due || f == n) {
            sizes[k++] = f - last;
            last = f;
        }
    }
    return k;
}

static void test_context_frames(void) {
    vox_config cfg;
    vox_error err = {0};
    if (vox_config_load("tests/data/params_official.json", &cfg, &err) == VOX_OK) {
        /* §6.5: conv0 2 + 2*2 + convT + 2*4/2 + ... + out-conv 6/8 ~ 20.5 -> 21 whole frames */
        CHECK(vox_codec_context_frames(&cfg) == 21, "official receptive field %d frames",
              vox_codec_context_frames(&cfg));
        CHECK(vox_codec_context_frames(&cfg) <= VOX_STREAM_CONTEXT,
              "VO's 25-frame context covers the official receptive field");
        CHECK(vox_codec_start_frames(&cfg) == 1, "official: first audio after %d frames",
              vox_codec_start_frames(&cfg));
        vox_config_free(&cfg);
    } else {
        CHECK(0, "params_official.json: %s", err.msg);
    }
}

/* Chunked decode of fixed codes == whole decode, for both modes. */
static void check_codec_stream(voxtts_model *m, const char *name, const int32_t *codes, int F,
                               int press, int wkeys) {
    const int spf = voxtts_model_samples_per_frame(m);
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    voxtts_synth_debug dbg;
    voxtts_synth_debug_default(&dbg);
    sp.debug = &dbg;
    dbg.alibi_press = press;
    dbg.window_w_keys = wkeys;
    voxtts_error err = {0};
    float *ref = malloc(sizeof(float) * (size_t)F * spf);
    if (!ref) { CHECK(0, "out of memory"); return; }
    int rc = voxtts_stage_codec(m, codes, F, &sp, ref, &err);
    CHECK(rc == VOXTTS_OK, "%s: whole decode of %d frames: %s", name, F, err.msg);

    /* streaming schedule */
    sink sk = {0};
    vox_audio_stream as;
    rc = vox_audio_stream_init(&as, m, F, sink_fn, &sk, press, wkeys, &err);
    CHECK(rc == VOX_OK, "%s: stream init: %s", name, err.msg);
    for (int f = 1; f <= F && rc == VOX_OK; f++) rc = vox_audio_stream_push(&as, codes, f, 0, &err);
    if (rc == VOX_OK) rc = vox_audio_stream_push(&as, codes, F, 1, &err);
    CHECK(rc == VOX_OK, "%s: streaming %d frames: %s", name, F, err.msg);
    CHECK(sk.n == (size_t)F * spf, "%s: streamed %zu samples for %d frames", name, sk.n, F);
    CHECK(sk.n == (size_t)F * spf && memcmp(sk.buf, ref, sk.n * sizeof(float)) == 0,
          "%s: %d frames streamed (press %d, wkeys %d) differ from the whole decode", name, F,
          press, wkeys);
    int want[64], nw = expected_schedule(F, vox_codec_start_frames(&m->cfg), want), ok = nw == sk.calls;
    for (int i = 0; ok && i < nw; i++) ok = sk.sizes[i] == (size_t)want[i] * spf;
    CHECK(ok, "%s: %d frames: %d emissions, expected %d on VO's schedule", name, F, sk.calls, nw);
    CHECK(as.calls == sk.calls, "%s: codec calls %d", name, as.calls);
    vox_audio_stream_free(&as);
    sink_reset(&sk);

    /* callback-less batch mode (chunks of VOX_BATCH_CHUNK) */
    rc = vox_audio_stream_init(&as, m, F, NULL, NULL, press, wkeys, &err);
    CHECK(rc == VOX_OK, "%s: batch init: %s", name, err.msg);
    for (int f = 1; f <= F && rc == VOX_OK; f++) rc = vox_audio_stream_push(&as, codes, f, 0, &err);
    if (rc == VOX_OK) rc = vox_audio_stream_push(&as, codes, F, 1, &err);
    CHECK(rc == VOX_OK, "%s: batch decode of %d frames: %s", name, F, err.msg);
    CHECK(as.calls == (F + VOX_BATCH_CHUNK - 1) / VOX_BATCH_CHUNK, "%s: %d batch calls for %d frames",
          name, as.calls, F);
    float *all = vox_audio_stream_take(&as);
    CHECK(all && memcmp(all, ref, sizeof(float) * (size_t)F * spf) == 0,
          "%s: %d frames decoded in batch chunks differ from the whole decode", name, F);
    free(all);
    vox_audio_stream_free(&as);
    free(ref);
}

/* The codec run directly in calls of the given sizes (cycled; the first call
 * takes at least the start frames) == whole decode; a workspace can be
 * restarted for a second stream. */
static void check_codec_pattern(voxtts_model *m, const char *name, const int32_t *codes, int F,
                                const int *sizes, int n_sizes, int press, int wkeys) {
    const int spf = voxtts_model_samples_per_frame(m), ncb = voxtts_model_n_codebooks(m);
    const int sf = vox_codec_start_frames(&m->cfg);
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    voxtts_synth_debug dbg;
    voxtts_synth_debug_default(&dbg);
    sp.debug = &dbg;
    dbg.alibi_press = press;
    dbg.window_w_keys = wkeys;
    voxtts_error err = {0};
    float *ref = malloc(sizeof(float) * (size_t)F * spf), *got = calloc((size_t)F * spf, sizeof(float));
    int maxn = sf;
    for (int i = 0; i < n_sizes; i++) maxn = sizes[i] > maxn ? sizes[i] : maxn;
    vox_codec_ws *w = NULL;
    if (!ref || !got || vox_codec_ws_new(m, maxn, &w, &err) != VOX_OK) {
        CHECK(0, "%s: pattern setup: %s", name, err.msg);
        free(ref);
        free(got);
        return;
    }
    int rc = voxtts_stage_codec(m, codes, F, &sp, ref, &err);
    CHECK(rc == VOXTTS_OK, "%s: whole decode of %d frames: %s", name, F, err.msg);
    for (int pass = 0; pass < 2; pass++) { /* the second pass reuses the workspace */
        memset(got, 0, sizeof(float) * (size_t)F * spf);
        vox_codec_ws_start(w, press, wkeys);
        int done = 0, calls = 0;
        rc = VOX_OK;
        while (done < F && rc == VOX_OK) {
            int n = sizes[calls % n_sizes];
            if (done == 0 && n < sf) n = sf;
            if (n > F - done) n = F - done;
            rc = vox_codec_decode_next(w, codes + (size_t)done * ncb, n, done + n == F,
                                       got + (size_t)done * spf, &err);
            done += n;
            calls++;
        }
        CHECK(rc == VOX_OK, "%s: pattern decode of %d frames: %s", name, F, err.msg);
        CHECK(memcmp(got, ref, sizeof(float) * (size_t)F * spf) == 0,
              "%s: %d frames in calls of %d, %d, ... (press %d, wkeys %d, pass %d) differ from the "
              "whole decode", name, F, sizes[0], n_sizes > 1 ? sizes[1] : sizes[0], press, wkeys, pass);
    }
    vox_codec_ws_free(w);
    free(ref);
    free(got);
}

/* Pushes that jump several frames at once: the stream splits them into codec
 * calls of at most one chunk and still matches the whole decode. */
static void check_stream_jumps(voxtts_model *m, const char *name, const int32_t *codes, int F) {
    const int spf = voxtts_model_samples_per_frame(m);
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    voxtts_error err = {0};
    float *ref = malloc(sizeof(float) * (size_t)F * spf);
    if (!ref) { CHECK(0, "out of memory"); return; }
    int rc = voxtts_stage_codec(m, codes, F, &sp, ref, &err);
    CHECK(rc == VOXTTS_OK, "%s: whole decode: %s", name, err.msg);
    sink sk = {0};
    vox_audio_stream as;
    rc = vox_audio_stream_init(&as, m, F, sink_fn, &sk, 0, 0, &err);
    CHECK(rc == VOX_OK, "%s: stream init: %s", name, err.msg);
    static const int at[] = {3, 10, 11, 75, 76, 140};
    for (size_t i = 0; i < sizeof at / sizeof *at && rc == VOX_OK; i++)
        if (at[i] < F) rc = vox_audio_stream_push(&as, codes, at[i], 0, &err);
    if (rc == VOX_OK) rc = vox_audio_stream_push(&as, codes, F, 1, &err);
    CHECK(rc == VOX_OK, "%s: jumping pushes: %s", name, err.msg);
    CHECK(sk.n == (size_t)F * spf && memcmp(sk.buf, ref, sk.n * sizeof(float)) == 0,
          "%s: %d frames pushed in jumps differ from the whole decode", name, F);
    CHECK(as.frames_decoded == F, "%s: %d frames decoded for %d (each once)", name,
          as.frames_decoded, F);
    vox_audio_stream_free(&as);
    sink_reset(&sk);
    /* callback-less, everything at once: chunks of VOX_BATCH_CHUNK */
    rc = vox_audio_stream_init(&as, m, F, NULL, NULL, 0, 0, &err);
    if (rc == VOX_OK) rc = vox_audio_stream_push(&as, codes, F, 1, &err);
    CHECK(rc == VOX_OK && as.calls == (F + VOX_BATCH_CHUNK - 1) / VOX_BATCH_CHUNK &&
              as.frames_decoded == F,
          "%s: one final push: %d calls, %d frames: %s", name, as.calls, as.frames_decoded, err.msg);
    float *all = vox_audio_stream_take(&as);
    CHECK(all && memcmp(all, ref, sizeof(float) * (size_t)F * spf) == 0,
          "%s: %d frames in one final push differ from the whole decode", name, F);
    free(all);
    vox_audio_stream_free(&as);
    free(ref);
}

static void test_model_stream(const char *dir) {
    char p[512];
    snprintf(p, sizeof p, "%s/params.json", dir);
    if (!exists(p)) { /* a missing fixture is a failure, never a silent skip */
        CHECK(0, "fixture %s not found (run from the repository root)", dir);
        return;
    }
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = 2;
    voxtts_model *m = NULL;
    voxtts_error err = {0};
    if (voxtts_model_load(dir, &lp, &m, &err) != VOXTTS_OK) {
        CHECK(0, "load %s: %s", dir, err.msg);
        return;
    }
    const int rf = vox_codec_context_frames(&m->cfg);
    CHECK(rf > 0 && rf <= VOX_STREAM_CONTEXT, "%s: receptive field %d frames", dir, rf);
    if (strstr(dir, "tiny-a")) CHECK(rf == 21, "tiny-a (official codec layout): %d frames", rf);
    if (strstr(dir, "tiny-b")) CHECK(rf == 13, "tiny-b: %d frames", rf);
    /* official layout: 8 rows per frame cover the 7-tap reflect pad; tiny-b: 4 rows, 5 taps */
    const int sf = vox_codec_start_frames(&m->cfg);
    if (strstr(dir, "tiny-a")) CHECK(sf == 1, "tiny-a: first audio after %d frames", sf);
    if (strstr(dir, "tiny-b")) CHECK(sf == 2, "tiny-b: first audio after %d frames", sf);

    /* fixed codes through the codec */
    enum { FMAX = 230 };
    const int ncb = voxtts_model_n_codebooks(m), spf = voxtts_model_samples_per_frame(m);
    int32_t *codes = malloc(sizeof(int32_t) * FMAX * (size_t)ncb);
    if (!codes) { CHECK(0, "out of memory"); voxtts_model_free(m); return; }
    random_codes(m, codes, FMAX, 12345);
    static const int lens[] = {1, 4, 5, 6, 26, 60, 230};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
        check_codec_stream(m, dir, codes, lens[i], 0, 0);
    check_codec_stream(m, dir, codes, 60, 1, 1);
    check_codec_stream(m, dir, codes, 60, 1, 0);
    check_codec_stream(m, dir, codes, 60, 0, 1);
    /* codec calls of other sizes: single frames, irregular, and the codec's own
     * first-call rule with a start of exactly the start frames */
    static const int one[] = {1}, irregular[] = {3, 1, 7, 2, 13, 1, 1, 30, 5};
    static const int big[] = {2, 37};
    check_codec_pattern(m, dir, codes, 1, one, 1, 0, 0);
    check_codec_pattern(m, dir, codes, 40, one, 1, 0, 0);
    check_codec_pattern(m, dir, codes, 40, one, 1, 1, 1);
    check_codec_pattern(m, dir, codes, 97, irregular, 9, 0, 0);
    check_codec_pattern(m, dir, codes, 97, irregular, 9, 1, 0);
    check_codec_pattern(m, dir, codes, 97, irregular, 9, 0, 1);
    check_codec_pattern(m, dir, codes, 230, big, 2, 0, 0);
    check_stream_jumps(m, dir, codes, 230);
    check_stream_jumps(m, dir, codes, 12);
    {
        /* a stream's first call must hold the start frames (unless final) */
        vox_codec_ws *w = NULL;
        float *wave = malloc(sizeof(float) * (size_t)4 * spf);
        vox_error e = {0};
        if (wave && vox_codec_ws_new(m, 4, &w, &e) == VOX_OK) {
            int r1 = vox_codec_decode_next(w, codes, 1, 1, wave, &e);
            CHECK(r1 == VOX_OK, "%s: a final 1-frame stream: %s", dir, e.msg);
            vox_codec_ws_start(w, 0, 0);
            int r2 = vox_codec_decode_next(w, codes, sf - 1 > 0 ? sf - 1 : 1, 0, wave, &e);
            CHECK(sf > 1 ? r2 == VOX_E_INTERNAL && strstr(e.msg, "start") : r2 == VOX_OK,
                  "%s: first call below the start frames: rc %d %s", dir, r2, e.msg);
            vox_codec_ws_start(w, 0, 0);
            int r3 = vox_codec_decode_next(w, codes, 5, 0, wave, &e);
            CHECK(r3 == VOX_E_INTERNAL, "%s: more frames than the workspace holds: rc %d", dir, r3);
        } else {
            CHECK(0, "%s: workspace: %s", dir, e.msg);
        }
        vox_codec_ws_free(w);
        free(wave);
    }
    free(codes);

    /* full synthesis: streamed == returned, same codes, stats */
    static const int flens[] = {1, 4, 5, 6, 26, 60};
    const char *voice = voxtts_model_voice_name(m, 0);
    for (size_t i = 0; i < sizeof flens / sizeof *flens; i++) {
        const int F = flens[i];
        voxtts_synth_params sp;
        voxtts_synth_params_default(&sp);
        voxtts_synth_debug dbg;
        voxtts_synth_debug_default(&dbg);
        sp.debug = &dbg;
        sp.voice = voice;
        sp.seed = 7;
        sp.max_frames = F;
        dbg.ignore_end = 1;
        voxtts_synth_stats st1, st2;
        voxtts_audio a = {0}, b = {0};
        int rc = voxtts_synthesize(m, "Streaming test, one two three.", &sp, &a, &st1, &err);
        CHECK(rc == VOXTTS_OK && a.n_frames == F && a.samples,
              "%s: synthesize %d frames: %s", dir, F, err.msg);
        sink sk = {0};
        sp.on_audio = sink_fn;
        sp.audio_user = &sk;
        rc = voxtts_synthesize(m, "Streaming test, one two three.", &sp, &b, &st2, &err);
        CHECK(rc == VOXTTS_OK && b.n_frames == F, "%s: streamed synthesize %d frames: %s", dir, F,
              err.msg);
        CHECK(b.samples == NULL && b.n_samples == (size_t)F * spf,
              "%s: streaming returns no samples but counts them", dir);
        CHECK(a.codes && b.codes &&
                  memcmp(a.codes, b.codes, sizeof(int32_t) * (size_t)F * ncb) == 0,
              "%s: %d frames: streaming changed the codes", dir, F);
        CHECK(sk.n == a.n_samples && a.samples &&
                  memcmp(sk.buf, a.samples, sizeof(float) * a.n_samples) == 0,
              "%s: %d frames: streamed samples differ from the returned audio", dir, F);
        /* and both equal one whole decode of the codes */
        float *ref = malloc(sizeof(float) * (size_t)F * spf);
        if (ref && a.codes) {
            rc = voxtts_stage_codec(m, a.codes, F, &sp, ref, &err);
            CHECK(rc == VOXTTS_OK && memcmp(ref, a.samples, sizeof(float) * (size_t)F * spf) == 0,
                  "%s: %d frames: synthesized audio differs from a whole decode of its codes", dir, F);
        }
        free(ref);
        int want[64], nw = expected_schedule(F, vox_codec_start_frames(&m->cfg), want);
        CHECK(sk.calls == nw && st2.codec_calls == nw, "%s: %d frames: %d callbacks, %d codec calls, expected %d",
              dir, F, sk.calls, st2.codec_calls, nw);
        CHECK(st1.frames == F && st2.frames == F, "%s: stats frames %d %d", dir, st1.frames, st2.frames);
        CHECK(st2.ttfa_s > 0 && st2.ttfa_s <= st2.total_s && st1.ttfa_s > 0,
              "%s: ttfa %g of total %g", dir, st2.ttfa_s, st2.total_s);
        CHECK(st2.prefill_s > 0 && st2.acoustic_s > 0 && st2.codec_s > 0 &&
                  (F == 1 || st2.backbone_s > 0),
              "%s: stage times %g %g %g %g", dir, st2.prefill_s, st2.backbone_s, st2.acoustic_s,
              st2.codec_s);
        CHECK(st2.prefill_s + st2.backbone_s + st2.acoustic_s + st2.codec_s <= st2.total_s * 1.001,
              "%s: stages add up to at most the total", dir);
        CHECK(st2.prompt_tokens > 5 && st2.prefill_tokens > 0 &&
                  st2.prefill_tokens < st2.prompt_tokens,
              "%s: prompt %d tokens, %d run (the voice prefix is cached after the first call)", dir,
              st2.prompt_tokens, st2.prefill_tokens);
        CHECK(st2.codec_frames == F, "%s: codec frames %d (each frame decoded once)", dir,
              st2.codec_frames);
        voxtts_audio_free(&a);
        voxtts_audio_free(&b);
        sink_reset(&sk);
    }

    /* cancellation from the audio callback */
    {
        voxtts_synth_params sp;
        voxtts_synth_params_default(&sp);
        voxtts_synth_debug dbg;
        voxtts_synth_debug_default(&dbg);
        sp.debug = &dbg;
        sp.voice = voice;
        sp.max_frames = 12;
        dbg.ignore_end = 1;
        sink sk = {0};
        sk.cancel_at = 2;
        sp.on_audio = sink_fn;
        sp.audio_user = &sk;
        voxtts_audio a = {0};
        int rc = voxtts_synthesize(m, "Cancel me.", &sp, &a, NULL, &err);
        CHECK(rc == VOXTTS_E_CANCELLED && strstr(err.msg, "audio callback"),
              "%s: cancel: rc %d, %s", dir, rc, err.msg);
        CHECK(a.samples == NULL && a.codes == NULL && a.n_frames == 0, "%s: cancel leaves out empty", dir);
        CHECK(sk.calls == 2, "%s: no callback after cancelling (%d)", dir, sk.calls);
        sink_reset(&sk);
    }
    voxtts_model_free(m);
}

int main(void) {
    test_context_frames();
    test_model_stream("tests/models/tiny-a");
    test_model_stream("tests/models/tiny-b");
    TEST_MAIN_END();
}
