/* test_api.c — the small parts of the public headers (include/voxtts.h,
 * voxtts_debug.h): the version macros agree with each other and with
 * voxtts_version(), every error code has its own description and unknown ones
 * a generic one, voxtts_free takes NULL and the buffers the library hands out,
 * synthesis statistics come back as output arguments, voxtts_quantize plans,
 * writes and cancels cleanly, the file and text helpers (audio writers, atomic
 * files, input checks, sentences, .npy) work, and every function taking a
 * params struct refuses one whose struct_size is not the library's
 * (VOXTTS_E_VERSION, naming the struct) before doing anything. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "voxtts_debug.h"

/* rc is VOXTTS_E_VERSION and the message names the struct. */
static void check_refused(int rc, const voxtts_error *err, const char *type, const char *what) {
    CHECK(rc == VOXTTS_E_VERSION && err->code == VOXTTS_E_VERSION && strstr(err->msg, type) &&
              strstr(err->msg, "struct_size"),
          "%s: rc %d, message '%s'", what, rc, err->msg);
}

static int count_samples(const float *s, size_t n, void *user) {
    (void)s;
    *(size_t *)user += n;
    return 0;
}

static void test_struct_size(void) {
    voxtts_error err = {0};
    const size_t wrong[] = {0, 8, 4096};
    for (size_t w = 0; w < sizeof wrong / sizeof *wrong; w++) {
        voxtts_load_params lp;
        voxtts_load_params_default(&lp);
        CHECK(lp.struct_size == sizeof lp, "load params size");
        lp.struct_size = wrong[w];
        voxtts_model *bad = NULL;
        check_refused(voxtts_model_load("tests/models/tiny-a", &lp, &bad, &err), &err,
                      "voxtts_load_params", "voxtts_model_load");
        CHECK(bad == NULL, "no model on refusal");
    }
    voxtts_model *m = NULL;
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = 1;
    CHECK(voxtts_model_load("tests/models/tiny-a", &lp, &m, &err) == VOXTTS_OK, "load: %s", err.msg);
    if (!m) return;
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    sp.voice = voxtts_model_voice_name(m, 0);
    sp.max_frames = 2;
    voxtts_audio a;
    sp.struct_size--;
    check_refused(voxtts_synthesize(m, "Hello.", &sp, &a, NULL, &err), &err, "voxtts_synth_params",
                  "voxtts_synthesize");
    CHECK(a.samples == NULL && a.n_frames == 0, "no audio on refusal");
    voxtts_engine *e = NULL;
    CHECK(voxtts_engine_create(m, 2, &e, &err) == VOXTTS_OK, "engine: %s", err.msg);
    int64_t id = 0;
    if (e) {
        check_refused(voxtts_engine_submit(e, "Hello.", &sp, &id, &err), &err, "voxtts_synth_params",
                      "voxtts_engine_submit");
        CHECK(voxtts_engine_pending(e) == 0, "nothing queued on refusal");
    }
    float h[4096];
    if (voxtts_model_dim(m) <= 4096)
        check_refused(voxtts_stage_prefill(m, "Hello.", &sp, h, &err), &err, "voxtts_synth_params",
                      "voxtts_stage_prefill");
    voxtts_synth_params_default(&sp);
    sp.voice = voxtts_model_voice_name(m, 0);
    sp.max_frames = 2;
    voxtts_synth_debug dbg;
    voxtts_synth_debug_default(&dbg);
    CHECK(dbg.struct_size == sizeof dbg, "debug size");
    dbg.struct_size += 4;
    sp.debug = &dbg;
    check_refused(voxtts_synthesize(m, "Hello.", &sp, &a, NULL, &err), &err, "voxtts_synth_debug",
                  "voxtts_synthesize with debug options");
    if (e)
        check_refused(voxtts_engine_submit(e, "Hello.", &sp, &id, &err), &err, "voxtts_synth_debug",
                      "voxtts_engine_submit with debug options");
    dbg.struct_size = sizeof dbg;
    dbg.ignore_end = 1;
    voxtts_synth_stats st;
    CHECK(voxtts_synthesize(m, "Hello.", &sp, &a, &st, &err) == VOXTTS_OK && a.n_frames == 2,
          "the right sizes synthesize: %s", err.msg);
    CHECK(st.frames == 2 && st.prompt_tokens > 0 && st.total_s > 0, "stats out: %d frames, %d tokens",
          st.frames, st.prompt_tokens);
    voxtts_audio_free(&a);
    /* the engine's stats come with the result */
    if (e && voxtts_engine_submit(e, "Hello.", &sp, &id, &err) == VOXTTS_OK &&
        voxtts_engine_run(e, &err) == VOXTTS_OK) {
        memset(&st, 0, sizeof st);
        CHECK(voxtts_engine_take(e, id, &a, &st, &err) == VOXTTS_OK && a.n_frames == 2 &&
                  st.frames == 2 && st.prompt_tokens > 0 && st.total_s > 0,
              "engine stats: %d frames: %s", st.frames, err.msg);
        voxtts_audio_free(&a);
    } else {
        CHECK(0, "engine request: %s", err.msg);
    }
    voxtts_engine_free(e);

    voxtts_split_params split;
    voxtts_split_params_default(&split);
    split.struct_size = 1;
    voxtts_chunks ch;
    check_refused(voxtts_model_split_text(m, "One. Two.", 9, &split, &ch, &err), &err,
                  "voxtts_split_params", "voxtts_model_split_text");
    CHECK(ch.n == 0 && ch.chunk == NULL, "no chunks on refusal");

    voxtts_long_params lo;
    voxtts_long_params_default(&lo);
    size_t streamed = 0;
    lo.synth.on_audio = count_samples;
    lo.synth.audio_user = &streamed;
    lo.synth.max_frames = 2;
    lo.struct_size = sizeof lo - 1;
    check_refused(voxtts_synthesize_long(m, "One. Two.", 9, &lo, NULL, &err), &err,
                  "voxtts_long_params", "voxtts_synthesize_long");
    lo.struct_size = sizeof lo;
    lo.split.struct_size = 0;
    check_refused(voxtts_synthesize_long(m, "One. Two.", 9, &lo, NULL, &err), &err,
                  "voxtts_split_params", "voxtts_synthesize_long (split)");
    lo.split.struct_size = sizeof lo.split;
    lo.synth.struct_size = 0;
    check_refused(voxtts_synthesize_long(m, "One. Two.", 9, &lo, NULL, &err), &err,
                  "voxtts_synth_params", "voxtts_synthesize_long (synth)");
    CHECK(streamed == 0, "nothing streamed on refusal");

    voxtts_clone_params cp;
    voxtts_clone_params_default(&cp);
    CHECK(cp.struct_size == sizeof cp, "clone params size");
    cp.struct_size = 2 * sizeof cp;
    float ref[24000] = {0};
    voxtts_voice *v = NULL;
    check_refused(voxtts_voice_clone(m, ref, 24000, 24000, &cp, &v, &err), &err, "voxtts_clone_params",
                  "voxtts_voice_clone");
    check_refused(voxtts_voice_clone_file(m, "tests/data/no_such.wav", &cp, &v, &err), &err,
                  "voxtts_clone_params", "voxtts_voice_clone_file");
    CHECK(v == NULL, "no voice on refusal");
    voxtts_bench_params bp;
    voxtts_bench_params_default(&bp);
    bp.voice = voxtts_model_voice_name(m, 0);
    bp.struct_size = 0;
    voxtts_bench_result br;
    check_refused(voxtts_bench_run(m, &bp, &br, &err), &err, "voxtts_bench_params", "voxtts_bench_run");
    voxtts_model_free(m);
}

static int plans;
static void count_plan(const voxtts_quantize_report *r, void *user) {
    (void)r;
    (void)user;
    plans++;
}
static int cancel_progress(uint64_t done, uint64_t total, void *user) {
    (void)done;
    (void)total;
    (void)user;
    return 1;
}

/* voxtts_quantize: a dry run reports without writing, a real run writes the
 * file, a cancelled one leaves nothing, bad params are refused. */
static void test_quantize(void) {
    char dir[] = "/tmp/voxtts-test-api.XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    char out[256];
    snprintf(out, sizeof out, "%s/q.gguf", dir);
    voxtts_error err = {0};
    voxtts_quantize_params qp;
    voxtts_quantize_params_default(&qp);
    qp.input = "tests/models/tiny-a";
    qp.output = out;
    qp.type = "q8_0";
    qp.n_threads = 1;
    qp.dry_run = 1;
    qp.on_plan = count_plan;
    voxtts_quantize_report rep;
    CHECK(voxtts_quantize(&qp, &rep, &err) == VOXTTS_OK, "dry run: %s", err.msg);
    CHECK(plans == 1 && rep.n_rows > 0 && rep.tensors > 0 && rep.bytes > 0 && rep.file_bytes == 0 &&
              access(out, F_OK) != 0,
          "dry run reports (%d rows) and writes nothing", rep.n_rows);
    qp.dry_run = 0;
    qp.progress = cancel_progress;
    CHECK(voxtts_quantize(&qp, &rep, &err) == VOXTTS_E_CANCELLED && access(out, F_OK) != 0,
          "cancelled: %s", err.msg);
    qp.progress = NULL;
    CHECK(voxtts_quantize(&qp, &rep, &err) == VOXTTS_OK && rep.file_bytes > 0 && access(out, F_OK) == 0,
          "written: %s", err.msg);
    voxtts_model *m = NULL;
    CHECK(voxtts_model_load(out, NULL, &m, &err) == VOXTTS_OK, "the file loads: %s", err.msg);
    voxtts_model_free(m);
    qp.type = "q3_k";
    CHECK(voxtts_quantize(&qp, &rep, &err) == VOXTTS_E_ARG && strstr(err.msg, "q3_k"), "bad mix: %s",
          err.msg);
    CHECK(voxtts_type_mix_check("backbone=q4_k,codec=f16", &err) == VOXTTS_OK &&
              voxtts_type_mix_check("decoder=q8_0", &err) == VOXTTS_E_ARG && strstr(err.msg, "decoder"),
          "type mix check: %s", err.msg);
    qp.type = "q8_0";
    qp.struct_size = 16;
    check_refused(voxtts_quantize(&qp, &rep, &err), &err, "voxtts_quantize_params", "voxtts_quantize");
    remove(out);
    rmdir(dir);
}

/* The file and text helpers the command line uses: audio writers, atomic files,
 * input checks, sentences, .npy. */
static void test_helpers(void) {
    char dir[] = "/tmp/voxtts-test-api.XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    char path[256];
    voxtts_error err = {0};
    CHECK(voxtts_audio_format_from_path("a/b.FLAC") == VOXTTS_AUDIO_FLAC &&
              voxtts_audio_format_from_name("raw") == VOXTTS_AUDIO_PCM &&
              strcmp(voxtts_audio_format_name(VOXTTS_AUDIO_OPUS), "opus") == 0,
          "format names");
    CHECK(voxtts_audio_format_check(VOXTTS_AUDIO_OPUS, 44100, "x.opus", &err) == VOXTTS_E_UNSUPPORTED,
          "opus at 44.1 kHz is refused");
    snprintf(path, sizeof path, "%s/a.wav", dir);
    voxtts_audio_writer_opts wo;
    voxtts_audio_writer_opts_default(&wo);
    wo.struct_size = 3;
    voxtts_audio_writer *w = NULL;
    check_refused(voxtts_audio_writer_open(&w, path, VOXTTS_AUDIO_WAV, 24000, &wo, &err), &err,
                  "voxtts_audio_writer_opts", "voxtts_audio_writer_open");
    CHECK(w == NULL && access(path, F_OK) != 0, "no writer, no file");
    voxtts_audio_writer_opts_default(&wo);
    float tone[480];
    for (int i = 0; i < 480; i++) tone[i] = 0.5f * (float)((i % 48) - 24) / 24.0f;
    CHECK(voxtts_audio_writer_open(&w, path, VOXTTS_AUDIO_WAV, 24000, &wo, &err) == VOXTTS_OK &&
              voxtts_audio_writer_write(w, tone, 480, &err) == VOXTTS_OK &&
              voxtts_audio_writer_close(w, &err) == VOXTTS_OK,
          "wav writer: %s", err.msg);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && sb.st_size == 44 + 960, "wav of 480 samples (%lld bytes)",
          (long long)sb.st_size);
    remove(path);

    snprintf(path, sizeof path, "%s/t.txt", dir);
    CHECK(voxtts_write_file_atomic(path, "hello\n", 6, &err) == VOXTTS_OK && stat(path, &sb) == 0 &&
              sb.st_size == 6,
          "atomic file: %s", err.msg);
    remove(path);
    snprintf(path, sizeof path, "%s/no/such/t.txt", dir);
    CHECK(voxtts_write_file_atomic(path, "x", 1, &err) != VOXTTS_OK, "atomic file in a missing directory");

    voxtts_split_params sp;
    voxtts_split_params_default(&sp);
    CHECK(voxtts_split_check("Bonjour.", 8, &sp, &err) == VOXTTS_OK, "good text: %s", err.msg);
    CHECK(voxtts_split_check("a\xff", 2, &sp, &err) == VOXTTS_E_ARG, "bad UTF-8 is refused");
    sp.lang = "xx";
    CHECK(voxtts_split_check("Hi.", 3, &sp, &err) == VOXTTS_E_ARG && strstr(err.msg, "xx"),
          "unknown language: %s", err.msg);
    sp.lang = NULL;
    voxtts_sentences ss;
    const char *text = "One sentence. Another one!\n\nA new paragraph.";
    CHECK(voxtts_split_sentences(text, strlen(text), &sp, &ss, &err) == VOXTTS_OK && ss.n == 3 &&
              ss.s[0].paragraph == 0 && ss.s[2].paragraph == 1 && ss.s[1].len == 12 &&
              memcmp(ss.s[1].text, "Another one!", 12) == 0,
          "sentences (%zu): %s", ss.n, err.msg);
    voxtts_sentences_free(&ss);

    snprintf(path, sizeof path, "%s/a.npy", dir);
    const int32_t v[6] = {1, 2, 3, 4, 5, 6};
    const int64_t shape[2] = {2, 3};
    voxtts_npy a;
    CHECK(voxtts_npy_write(path, VOXTTS_NPY_I32, 2, shape, v, &err) == VOXTTS_OK &&
              voxtts_npy_read(path, &a, &err) == VOXTTS_OK && a.type == VOXTTS_NPY_I32 && a.ndim == 2 &&
              a.shape[1] == 3 && a.numel == 6 && memcmp(a.data, v, sizeof v) == 0,
          "npy round trip: %s", err.msg);
    voxtts_npy_free(&a);
    remove(path);
    rmdir(dir);
}

int main(void) {
    char v[64];
    snprintf(v, sizeof v, "%d.%d.%d", VOXTTS_VERSION_MAJOR, VOXTTS_VERSION_MINOR, VOXTTS_VERSION_PATCH);
    CHECK(strcmp(v, VOXTTS_VERSION) == 0, "macros %s vs string %s", v, VOXTTS_VERSION);
    CHECK(strcmp(voxtts_version(), VOXTTS_VERSION) == 0, "library %s vs header %s", voxtts_version(), VOXTTS_VERSION);
    CHECK(VOXTTS_VERSION_NUMBER == VOXTTS_MAKE_VERSION(VOXTTS_VERSION_MAJOR, VOXTTS_VERSION_MINOR, VOXTTS_VERSION_PATCH) &&
              VOXTTS_VERSION_NUMBER >= VOXTTS_MAKE_VERSION(0, 3, 0),
          "version number %d", VOXTTS_VERSION_NUMBER);
    const int codes[] = {VOXTTS_OK, VOXTTS_E_IO, VOXTTS_E_FORMAT, VOXTTS_E_SHAPE, VOXTTS_E_MISSING,
                         VOXTTS_E_ARG, VOXTTS_E_NOMEM, VOXTTS_E_UNSUPPORTED, VOXTTS_E_INTERNAL,
                         VOXTTS_E_CANCELLED, VOXTTS_E_VERSION};
    const int n = (int)(sizeof codes / sizeof *codes);
    const char *unknown = voxtts_strerror(12345);
    CHECK(unknown && strstr(unknown, "unknown"), "unknown code: %s", unknown ? unknown : "(null)");
    for (int i = 0; i < n; i++) {
        const char *s = voxtts_strerror(codes[i]);
        CHECK(s && *s && strcmp(s, unknown) != 0, "code %d has a description", codes[i]);
        for (int j = 0; j < i; j++) CHECK(strcmp(s, voxtts_strerror(codes[j])) != 0, "codes %d and %d differ", codes[i], codes[j]);
    }
    voxtts_free(NULL);
    voxtts_tokenizer *tk = NULL;
    voxtts_error err = {0};
    CHECK(voxtts_tokenizer_load("tests/models/tiny-a", &tk, &err) == VOXTTS_OK, "tokenizer: %s", err.msg);
    if (tk) {
        int32_t *ids = NULL;
        size_t n_ids = 0;
        CHECK(voxtts_tokenize(tk, "Hello.", 6, &ids, &n_ids, &err) == VOXTTS_OK && n_ids > 0, "tokenize");
        voxtts_free(ids); /* the documented way to release them (ASan checks the pairing) */
        voxtts_tokenizer_free(tk);
    }
    test_struct_size();
    test_quantize();
    test_helpers();
    TEST_MAIN_END();
}
