/* test_longform.c — the long-form API (src/voxtral/longform.c) and the
 * max_seq_len guard, on the tiny checkpoint tests/models/tiny-a.
 *
 * Chunked synthesis: every chunk's audio arrives in order, bit-identical to
 * voxtts_synthesize of that chunk alone, separated by exactly the requested
 * silences (paragraph / chunk); the events report each chunk's frames, and a
 * chunk that reaches max_frames without END_AUDIO is flagged (hit_cap, stats
 * capped) while one that ended is not; cancellation and bad arguments give clear
 * errors.  max_seq_len: a copy of tiny-a whose params.json sets max_seq_len 40
 * refuses a longer prompt in voxtts_synthesize and every stage that builds one,
 * naming the limit, and the splitter keeps chunks within it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "voxtral/config.h"
#include "voxtts_debug.h"

#define MODEL "tests/models/tiny-a"

typedef struct sink {
    float *s;
    size_t n, cap;
    int fail_after; /* return 1 once n exceeds this (0: never) */
} sink;

static int sink_audio(const float *x, size_t n, void *user) {
    sink *k = user;
    if (k->n + n > k->cap) {
        size_t cap = k->cap ? k->cap : 4096;
        while (cap < k->n + n) cap *= 2;
        float *p = realloc(k->s, cap * sizeof *p);
        if (!p) return 1;
        k->s = p;
        k->cap = cap;
    }
    memcpy(k->s + k->n, x, n * sizeof *x);
    k->n += n;
    return k->fail_after && k->n > (size_t)k->fail_after;
}

typedef struct events {
    int frames[64], capped[64], frame_events, done;
    size_t order_ok;
    int cancel_at_chunk; /* -1: never */
} events;

static int on_event(const voxtts_long_event *ev, void *user) {
    events *e = user;
    if (ev->type == VOXTTS_LONG_FRAME) {
        e->frame_events++;
    } else if (ev->type == VOXTTS_LONG_CHUNK_DONE && ev->chunk < 64) {
        e->order_ok += ev->chunk == (size_t)e->done;
        e->frames[ev->chunk] = ev->chunk_frames;
        e->capped[ev->chunk] = ev->hit_cap;
        e->done++;
        if ((int)ev->chunk == e->cancel_at_chunk) return 1;
    }
    return 0;
}

static const char *TEXT =
    "The lamp was lit before dark. Rain tapped on the window, and the cat slept.\n"
    "Nobody spoke.\n\n"
    "Morning came slowly. The road was wet and quiet.\n\n"
    "Later, the sun returned.";

static void test_chunks(voxtts_model *m) {
    voxtts_error err = {0};
    const char *voice = voxtts_model_voice_name(m, 0);
    const int sr = voxtts_model_sample_rate(m), spf = voxtts_model_samples_per_frame(m);
    voxtts_split_params spl;
    voxtts_split_params_default(&spl);
    spl.max_tokens = 12; /* several chunks per paragraph */
    voxtts_chunks ch;
    int rc = voxtts_model_split_text(m, TEXT, strlen(TEXT), &spl, &ch, &err);
    CHECK(rc == VOXTTS_OK && ch.n >= 4 && ch.n <= 64, "split: rc %d, %zu chunks: %s", rc, ch.n, err.msg);
    if (rc) return;
    CHECK(ch.chunk[ch.n - 1].paragraph == 2, "3 paragraphs, last index %d", ch.chunk[ch.n - 1].paragraph);

    voxtts_long_params lp;
    voxtts_long_params_default(&lp);
    CHECK(lp.pause_paragraph_ms == 500 && lp.pause_chunk_ms == 100, "default pauses");
    lp.synth.voice = voice;
    lp.synth.max_frames = 40;
    lp.pause_paragraph_ms = 250;
    lp.pause_chunk_ms = 50;
    sink k = {0};
    events e;
    memset(&e, 0, sizeof e);
    e.cancel_at_chunk = -1;
    lp.synth.on_audio = sink_audio;
    lp.synth.audio_user = &k;
    lp.on_event = on_event;
    lp.event_user = &e;
    voxtts_long_stats st;
    rc = voxtts_synthesize_chunks(m, &ch, &lp, &st, &err);
    CHECK(rc == VOXTTS_OK, "synthesize_chunks: %s", err.msg);
    CHECK(st.chunks == ch.n && e.done == (int)ch.n && e.order_ok == ch.n, "every chunk done in order");
    CHECK(k.n == st.samples, "samples counted %llu vs received %zu", st.samples, k.n);

    /* each chunk's audio is that of voxtts_synthesize alone, at its place, pauses zero */
    size_t pos = 0;
    long long frames = 0;
    int same = 1, silent = 1, capped = 0, cap_ok = 1;
    for (size_t i = 0; i < ch.n; i++) {
        if (i > 0) {
            size_t pause = (size_t)sr * (ch.chunk[i].paragraph_start ? 250 : 50) / 1000;
            for (size_t j = 0; j < pause && pos + j < k.n; j++) silent &= k.s[pos + j] == 0.0f;
            pos += pause;
        }
        voxtts_synth_params sp = lp.synth;
        sp.on_audio = NULL;
        sp.audio_user = NULL;
        voxtts_audio a;
        if (voxtts_synthesize(m, ch.chunk[i].text, &sp, &a, NULL, &err) != VOXTTS_OK) {
            CHECK(0, "chunk %zu alone: %s", i, err.msg);
            return;
        }
        same &= a.n_frames == e.frames[i] && a.n_samples == (size_t)a.n_frames * (size_t)spf &&
                pos + a.n_samples <= k.n &&
                (a.n_samples == 0 || memcmp(k.s + pos, a.samples, a.n_samples * sizeof(float)) == 0);
        cap_ok &= e.capped[i] == (a.n_frames >= 40);
        capped += e.capped[i];
        pos += a.n_samples;
        frames += a.n_frames;
        voxtts_audio_free(&a);
    }
    CHECK(same, "chunk audio differs from voxtts_synthesize of the chunk alone");
    CHECK(silent, "pauses are not silent");
    CHECK(pos == k.n, "layout: %zu samples expected, %zu received", pos, k.n);
    CHECK(frames == st.frames, "frames %lld vs stats %lld", frames, st.frames);
    CHECK(cap_ok && (size_t)capped == st.capped, "capped flags");
    CHECK(e.frame_events == (int)st.frames, "one FRAME event per frame (%d vs %lld)", e.frame_events, st.frames);

    /* a small cap: every chunk that generates max_frames is flagged */
    lp.synth.max_frames = 2;
    k.n = 0;
    memset(&e, 0, sizeof e);
    e.cancel_at_chunk = -1;
    rc = voxtts_synthesize_chunks(m, &ch, &lp, &st, &err);
    int all = 1;
    for (size_t i = 0; i < ch.n; i++) all &= e.capped[i] == (e.frames[i] == 2);
    CHECK(rc == VOXTTS_OK && all && st.capped >= 1, "cap 2: rc %d, capped %zu", rc, st.capped);

    /* cancel from the event callback */
    k.n = 0;
    memset(&e, 0, sizeof e);
    e.cancel_at_chunk = 1;
    rc = voxtts_synthesize_chunks(m, &ch, &lp, &st, &err);
    CHECK(rc == VOXTTS_E_CANCELLED && e.done == 2 && strstr(err.msg, "chunk 2"), "cancel: rc %d, %s", rc, err.msg);
    /* a failing audio sink stops it too */
    k.n = 0;
    k.fail_after = spf;
    memset(&e, 0, sizeof e);
    e.cancel_at_chunk = -1;
    rc = voxtts_synthesize_chunks(m, &ch, &lp, &st, &err);
    CHECK(rc == VOXTTS_E_CANCELLED, "sink failure: rc %d", rc);
    k.fail_after = 0;

    /* bad arguments */
    lp.synth.on_audio = NULL;
    rc = voxtts_synthesize_chunks(m, &ch, &lp, &st, &err);
    CHECK(rc == VOXTTS_E_ARG && strstr(err.msg, "on_audio"), "no on_audio: %s", err.msg);
    lp.synth.on_audio = sink_audio;
    lp.pause_chunk_ms = -1;
    rc = voxtts_synthesize_chunks(m, &ch, &lp, &st, &err);
    CHECK(rc == VOXTTS_E_ARG, "negative pause");
    lp.pause_chunk_ms = 0;
    rc = voxtts_synthesize_long(m, " \n ... \n", 8, &lp, &st, &err);
    CHECK(rc == VOXTTS_E_ARG && strstr(err.msg, "empty"), "empty text: %s", err.msg);
    rc = voxtts_synthesize_long(m, "ok \xff", 4, &lp, &st, &err);
    CHECK(rc == VOXTTS_E_ARG && strstr(err.msg, "offset 3"), "bad UTF-8: %s", err.msg);
    lp.split.lang = "klingon";
    rc = voxtts_synthesize_long(m, "Hello.", 6, &lp, &st, &err);
    CHECK(rc == VOXTTS_E_ARG && strstr(err.msg, "klingon"), "bad lang: %s", err.msg);
    lp.split.lang = NULL;

    /* voxtts_synthesize_long = split + chunks */
    k.n = 0;
    lp.synth.max_frames = 6;
    rc = voxtts_synthesize_long(m, TEXT, strlen(TEXT), &lp, &st, &err);
    CHECK(rc == VOXTTS_OK && st.chunks >= 3 && k.n == st.samples, "synthesize_long: %s", err.msg);
    free(k.s);
    voxtts_chunks_free(&ch);
}

/* A copy of the model (symlinks) whose params.json sets max_seq_len. */
static int make_limited(char *dir, int max_seq_len) {
    if (!mkdtemp(dir)) return -1;
    char src[4096], dst[4096], cwd[2048];
    if (!getcwd(cwd, sizeof cwd)) return -1;
    const char *links[3] = {"consolidated.safetensors", "tekken.json", "voice_embedding"};
    for (int i = 0; i < 3; i++) {
        snprintf(src, sizeof src, "%s/" MODEL "/%s", cwd, links[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, links[i]);
        if (symlink(src, dst)) return -1;
    }
    FILE *f = fopen(MODEL "/params.json", "rb");
    if (!f) return -1;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strstr(buf, "\"max_seq_len\": 65536");
    if (!p) return -1;
    snprintf(dst, sizeof dst, "%s/params.json", dir);
    if (!(f = fopen(dst, "wb"))) return -1;
    fwrite(buf, 1, (size_t)(p - buf), f);
    fprintf(f, "\"max_seq_len\": %d", max_seq_len);
    fputs(p + strlen("\"max_seq_len\": 65536"), f);
    return fclose(f);
}

static void remove_limited(const char *dir) {
    const char *files[4] = {"consolidated.safetensors", "tekken.json", "voice_embedding", "params.json"};
    char p[4096];
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void test_max_seq_len(void) {
    char dir[] = "/tmp/voxtts_seqlen_XXXXXX";
    int ok = make_limited(dir, 40) == 0;
    CHECK(ok, "cannot make the limited model copy in %s", dir);
    if (!ok) return;
    voxtts_model *m = NULL;
    voxtts_error err = {0};
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = 1;
    int rc = voxtts_model_load(dir, &lp, &m, &err);
    CHECK(rc == VOXTTS_OK, "load %s: %s", dir, err.msg);
    if (rc) {
        remove_limited(dir);
        return;
    }
    const char *voice = voxtts_model_voice_name(m, 0);
    const char *longtext = "This sentence is much too long to fit into a prompt of forty positions, "
                           "voice rows included, by a wide margin.";
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    sp.voice = voice;
    sp.max_frames = 4;
    voxtts_audio a;
    rc = voxtts_synthesize(m, longtext, &sp, &a, NULL, &err);
    CHECK(rc == VOXTTS_E_ARG && strstr(err.msg, "max_seq_len of 40"), "synthesize: %s", err.msg);
    int32_t *ids = NULL;
    size_t n = 0;
    rc = voxtts_stage_prompt(m, longtext, voice, &ids, &n, &err);
    CHECK(rc == VOXTTS_E_ARG && strstr(err.msg, "max_seq_len of 40") && !ids, "stage_prompt: %s", err.msg);
    float *h = malloc(sizeof(float) * (size_t)voxtts_model_dim(m) * 8);
    rc = voxtts_stage_prefill(m, longtext, &sp, h, &err);
    CHECK(rc == VOXTTS_E_ARG && strstr(err.msg, "max_seq_len of 40"), "stage_prefill: %s", err.msg);
    int32_t codes[37 * 2];
    for (int i = 0; i < 37 * 2; i++) codes[i] = 2;
    if (voxtts_model_n_codebooks(m) <= 37) {
        rc = voxtts_stage_decode(m, longtext, &sp, codes, 1, h, &err);
        CHECK(rc == VOXTTS_E_ARG && strstr(err.msg, "max_seq_len of 40"), "stage_decode: %s", err.msg);
    }
    /* a short text fits, but not with more frames than positions left */
    rc = voxtts_synthesize(m, "Hi.", &sp, &a, NULL, &err);
    CHECK(rc == VOXTTS_OK, "short text: %s", err.msg);
    voxtts_audio_free(&a);
    sp.max_frames = 100;
    rc = voxtts_synthesize(m, "Hi.", &sp, &a, NULL, &err);
    CHECK(rc == VOXTTS_E_ARG && strstr(err.msg, "100 frames") && strstr(err.msg, "max_seq_len"),
          "frames past max_seq_len: %s", err.msg);
    /* the splitter keeps every chunk's prompt + frames within the limit */
    sp.max_frames = 4;
    voxtts_split_params spl;
    voxtts_split_params_default(&spl);
    spl.max_frames = 4;
    voxtts_chunks ch;
    rc = voxtts_model_split_text(m, longtext, strlen(longtext), &spl, &ch, &err);
    CHECK(rc == VOXTTS_OK && ch.n > 1, "split within max_seq_len: %s", err.msg);
    int fits = 1;
    for (size_t i = 0; i < ch.n && rc == VOXTTS_OK; i++) {
        if (voxtts_stage_prompt(m, ch.chunk[i].text, voice, &ids, &n, &err) != VOXTTS_OK) fits = 0;
        else fits &= n + 4 <= 40;
        free(ids);
        ids = NULL;
    }
    CHECK(fits, "a chunk's prompt does not fit: %s", err.msg);
    voxtts_chunks_free(&ch);
    spl.max_frames = 39;
    rc = voxtts_model_split_text(m, longtext, strlen(longtext), &spl, &ch, &err);
    CHECK(rc == VOXTTS_E_ARG && strstr(err.msg, "no room"), "no room: %s", err.msg);
    free(h);
    voxtts_model_free(m);
    remove_limited(dir);
}

/* params.json max_seq_len: read when present (a non-negative integer), 0 when absent. */
static void test_config_key(void) {
    FILE *f = fopen(MODEL "/params.json", "rb");
    CHECK(f != NULL, "open " MODEL "/params.json");
    if (!f) return;
    static char buf[1 << 16], edited[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    vox_config cfg;
    vox_error err = {0};
    memset(&cfg, 0, sizeof cfg);
    int rc = vox_config_parse(buf, n, "params.json", &cfg, &err);
    CHECK(rc == VOX_OK && cfg.max_seq_len == 65536, "max_seq_len read: %d (%s)", cfg.max_seq_len, err.msg);
    vox_config_free(&cfg);
    const char *key = "\"max_seq_len\": 65536";
    char *p = strstr(buf, key);
    CHECK(p != NULL, "tiny-a params.json has max_seq_len");
    if (!p) return;
    const char *repl[3] = {"\"max_seq_len\": -5", "\"max_seq_len\": \"big\"", "\"max_seq_len_absent\": 1"};
    for (int i = 0; i < 3; i++) {
        snprintf(edited, sizeof edited, "%.*s%s%s", (int)(p - buf), buf, repl[i], p + strlen(key));
        memset(&cfg, 0, sizeof cfg);
        rc = vox_config_parse(edited, strlen(edited), "params.json", &cfg, &err);
        if (i < 2)
            CHECK(rc == VOX_E_FORMAT && strstr(err.msg, "max_seq_len"), "bad max_seq_len %d: rc %d, %s", i, rc, err.msg);
        else
            CHECK(rc == VOX_OK && cfg.max_seq_len == 0, "absent max_seq_len: rc %d, %d", rc, cfg.max_seq_len);
        vox_config_free(&cfg);
    }
}

int main(void) {
    test_config_key();
    voxtts_model *m = NULL;
    voxtts_error err = {0};
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = 1;
    int rc = voxtts_model_load(MODEL, &lp, &m, &err);
    CHECK(rc == VOXTTS_OK, "load " MODEL " (run from the repository root): %s", err.msg);
    if (rc == VOXTTS_OK) test_chunks(m);
    voxtts_model_free(m);
    test_max_seq_len();
    TEST_MAIN_END();
}
