/* test_scheduler.c — the batched engine (voxtts_engine, src/voxtral/scheduler.c)
 * on the tiny checkpoints tests/models/tiny-a and tiny-b and on small synthetic
 * models in every weight type.
 *
 * The property under test: a request run in the engine, next to any others,
 * gives exactly the codes and samples (bit for bit) of voxtts_synthesize with
 * the same text and params alone.  Checked for batches of 1..8 requests with
 * texts of mixed lengths, different voices and seeds; for requests ending by
 * END_AUDIO at different frames (the tiny models do end: the test asserts that
 * some references end early, at more than one frame count), at max_frames, by
 * voxtts_engine_cancel and by their progress callback; for requests submitted
 * while others run (a queue longer than max_batch, a long prompt prefilled in
 * chunks of at most VOX_ENGINE_PREFILL_CHUNK rows per step while others keep
 * producing frames); for mixed per-request options (cfg_alpha, n_steps,
 * seed_step, ignore_end); with streaming (the on_audio pieces, concatenated,
 * equal the non-streamed waveform and come in the same sizes as alone); and on
 * synthetic models whose weights are f32, f16, bf16, q8_0, q4_k and the best
 * mix (the kernels' per-row arithmetic must not depend on the batch).  The
 * synthetic-model part runs again (with a batch of 8) in child processes under
 * every other kernel level this CPU supports (VOXTTS_KERNELS), so the claim is
 * checked for each level and weight type.  Plus the
 * API's errors: bad arguments, unknown ids, take before the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tensor/kernels.h"
#include "test.h"
#include "voxtral/model.h"
#include "voxtral/scheduler.h"
#include "voxtts_debug.h"

typedef struct sink {
    float *buf;
    size_t n, cap;
    int calls;
    size_t sizes[256];
} sink;

static int sink_fn(const float *samples, size_t n, void *user) {
    sink *s = user;
    if (s->calls < 256) s->sizes[s->calls] = n;
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
    return 0;
}

static const char *texts[] = {
    "Hi.",
    "The quick brown fox jumps over the lazy dog.",
    "One, two, three.",
    "A somewhat longer sentence, with commas, numbers like 42, and a question?",
    "Yes!",
    "Bonjour tout le monde, comment allez-vous aujourd'hui ?",
    "Short one here.",
    "Numbers: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 and more words to make it long, "
    "long enough to need several prefill chunks of the engine when it joins a running batch.",
};
#define N_TEXTS ((int)(sizeof texts / sizeof *texts))

/* One request of a test: its params and its reference result (alone). */
typedef struct job {
    const char *text;
    voxtts_synth_params p;
    voxtts_synth_debug dbg; /* p.debug */
    voxtts_audio ref;
    int ref_rc;
    sink ref_sink, got_sink; /* streaming jobs */
    int stream;
    int64_t id;
} job;

static void job_free(job *j) {
    voxtts_audio_free(&j->ref);
    free(j->ref_sink.buf);
    free(j->got_sink.buf);
    memset(j, 0, sizeof *j);
}

static int audio_equal(const voxtts_audio *a, const voxtts_audio *b, int samples) {
    if (a->n_frames != b->n_frames || a->n_codebooks != b->n_codebooks ||
        a->n_samples != b->n_samples)
        return 0;
    if (a->n_frames > 0 &&
        memcmp(a->codes, b->codes, sizeof(int32_t) * (size_t)a->n_frames * a->n_codebooks) != 0)
        return 0;
    if (samples && a->n_samples > 0 &&
        (!a->samples || !b->samples || memcmp(a->samples, b->samples, sizeof(float) * a->n_samples)))
        return 0;
    return 1;
}

/* The reference: the job alone through voxtts_synthesize (twice when streaming:
 * once collected, once streamed, both kept). */
static void run_alone(voxtts_model *m, job *j) {
    voxtts_error err = {0};
    voxtts_synth_params p = j->p;
    p.on_audio = NULL;
    p.progress = NULL;
    j->ref_rc = voxtts_synthesize(m, j->text, &p, &j->ref, NULL, &err);
    if (j->stream && j->ref_rc == VOXTTS_OK) {
        voxtts_audio a;
        p.on_audio = sink_fn;
        p.audio_user = &j->ref_sink;
        int rc = voxtts_synthesize(m, j->text, &p, &a, NULL, &err);
        CHECK(rc == VOXTTS_OK, "streamed reference: %s", err.msg);
        voxtts_audio_free(&a);
    }
}

/* Take job j's result from the engine and compare it with the reference. */
static void check_job(voxtts_engine *e, job *j, const char *what, int k) {
    voxtts_audio got;
    voxtts_error rerr = {0};
    CHECK(voxtts_engine_status(e, j->id) == VOXTTS_REQ_DONE, "%s: job %d done", what, k);
    int rc = voxtts_engine_take(e, j->id, &got, NULL, &rerr);
    CHECK(rc == j->ref_rc, "%s: job %d rc %d, alone %d (%s)", what, k, rc, j->ref_rc, rerr.msg);
    if (rc == VOXTTS_OK) {
        CHECK(audio_equal(&got, &j->ref, !j->stream),
              "%s: job %d (text %zu bytes, seed %llu): %d frames vs %d alone, not bit-identical", what,
              k, strlen(j->text), (unsigned long long)j->p.seed, got.n_frames, j->ref.n_frames);
        if (j->stream) {
            CHECK(got.samples == NULL, "%s: job %d streamed: no samples kept", what, k);
            CHECK(j->got_sink.n == j->ref.n_samples && j->ref.n_samples > 0 &&
                      memcmp(j->got_sink.buf, j->ref.samples, sizeof(float) * j->ref.n_samples) == 0,
                  "%s: job %d: streamed pieces (%zu samples) != whole waveform (%zu)", what, k,
                  j->got_sink.n, j->ref.n_samples);
            CHECK(j->got_sink.calls == j->ref_sink.calls &&
                      memcmp(j->got_sink.sizes, j->ref_sink.sizes,
                             sizeof(size_t) * (size_t)(j->got_sink.calls < 256 ? j->got_sink.calls : 256)) == 0,
                  "%s: job %d: %d pieces vs %d alone, or other sizes", what, k, j->got_sink.calls,
                  j->ref_sink.calls);
        }
    }
    CHECK(voxtts_engine_status(e, j->id) == VOXTTS_REQ_UNKNOWN, "%s: job %d forgotten", what, k);
    voxtts_audio_free(&got);
}

static void submit_job(voxtts_engine *e, job *j, const char *what, int k) {
    voxtts_error err = {0};
    voxtts_synth_params p = j->p;
    if (j->stream) {
        p.on_audio = sink_fn;
        p.audio_user = &j->got_sink;
    }
    int rc = voxtts_engine_submit(e, j->text, &p, &j->id, &err);
    CHECK(rc == VOXTTS_OK && j->id > 0, "%s: submit job %d: %s", what, k, err.msg);
}

/* A job from a table index: text, voice, seed vary with i. */
static void make_job(voxtts_model *m, job *j, int i, int max_frames) {
    memset(j, 0, sizeof *j);
    voxtts_synth_params_default(&j->p);
    voxtts_synth_debug_default(&j->dbg);
    j->p.debug = &j->dbg;
    j->text = texts[i % N_TEXTS];
    j->p.voice = voxtts_model_voice_name(m, i % voxtts_model_n_voices(m));
    j->p.seed = 1000 + 7 * (uint64_t)i;
    j->p.max_frames = max_frames;
}

/* Voices of one's own go through the engine too: two requests with a voice made
 * from codes (its prefix cached like a preset's) and one with a preset, batched,
 * each bit-identical to voxtts_synthesize with the same voice. */
static void test_own_voice(voxtts_model *m, const char *name, int max_frames) {
    voxtts_error err = {0};
    const int K = voxtts_model_n_codebooks(m);
    int32_t codes[3 * 64];
    for (int f = 0; f < 3; f++)
        for (int c = 0; c < K && c < 64; c++) codes[f * K + c] = 2 + (c == 0 ? 5 * f + 1 : (f + c) % 7);
    voxtts_voice *v = NULL;
    CHECK(voxtts_voice_from_codes(m, codes, 3, "own", &v, &err) == VOXTTS_OK, "%s: voice from codes: %s", name,
          err.msg);
    if (!v) return;
    voxtts_engine *e = NULL;
    CHECK(voxtts_engine_create(m, 4, &e, &err) == VOXTTS_OK, "%s: engine: %s", name, err.msg);
    job jobs[3];
    for (int i = 0; i < 3; i++) {
        make_job(m, &jobs[i], i, max_frames);
        if (i < 2) jobs[i].p.voice_handle = v;
        run_alone(m, &jobs[i]);
        if (e) submit_job(e, &jobs[i], "own voice", i);
    }
    if (e) {
        CHECK(voxtts_engine_run(e, &err) == VOXTTS_OK, "%s: run: %s", name, err.msg);
        for (int i = 0; i < 3; i++) check_job(e, &jobs[i], "own voice", i);
        voxtts_engine_free(e);
    }
    for (int i = 0; i < 3; i++) job_free(&jobs[i]);
    voxtts_voice_free(v);
}

/* B jobs submitted together, run to the end. */
static void test_batch(voxtts_model *m, const char *name, int B, int max_frames, int stream,
                       int mixed) {
    char what[128];
    snprintf(what, sizeof what, "%s B=%d%s%s", name, B, stream ? " streaming" : "",
             mixed ? " mixed options" : "");
    job *jobs = calloc((size_t)B, sizeof *jobs);
    if (!jobs) { CHECK(0, "out of memory"); return; }
    for (int i = 0; i < B; i++) {
        make_job(m, &jobs[i], i + B, max_frames);
        jobs[i].stream = stream && i % 2 == 0;
        if (mixed) {
            if (i % 3 == 1) jobs[i].p.cfg_alpha = 0.7f + 0.1f * (float)i;
            if (i % 4 == 2) jobs[i].p.n_steps = 3 + i % 5;
            if (i % 5 == 3) jobs[i].dbg.seed_step = 1;
            if (i % 2 == 1) jobs[i].dbg.ignore_end = 1;
            jobs[i].p.max_frames = max_frames - i;
        }
        run_alone(m, &jobs[i]);
    }
    voxtts_engine *e = NULL;
    voxtts_error err = {0};
    int rc = voxtts_engine_create(m, B, &e, &err);
    CHECK(rc == VOXTTS_OK, "%s: create: %s", what, err.msg);
    if (rc) goto out;
    for (int i = 0; i < B; i++) submit_job(e, &jobs[i], what, i);
    CHECK(voxtts_engine_pending(e) == B, "%s: %d pending", what, voxtts_engine_pending(e));
    rc = voxtts_engine_run(e, &err);
    CHECK(rc == VOXTTS_OK, "%s: run: %s", what, err.msg);
    CHECK(voxtts_engine_pending(e) == 0, "%s: nothing pending after run", what);
    voxtts_engine_stats st;
    voxtts_engine_get_stats(e, &st);
    CHECK(st.max_rows == B || B == 0, "%s: %d rows in the widest step", what, st.max_rows);
    int64_t frames = 0;
    for (int i = 0; i < B; i++) frames += jobs[i].ref_rc == VOXTTS_OK ? jobs[i].ref.n_frames : 0;
    CHECK(st.frames == frames, "%s: engine counted %lld frames, references %lld", what,
          (long long)st.frames, (long long)frames);
    for (int i = 0; i < B; i++) check_job(e, &jobs[i], what, i);
    int64_t id;
    CHECK(voxtts_engine_poll(e, &id) == 0, "%s: nothing left to take", what);
out:
    voxtts_engine_free(e);
    for (int i = 0; i < B; i++) job_free(&jobs[i]);
    free(jobs);
}

typedef struct cancel_ctx {
    voxtts_engine *e;
    int64_t victim;   /* cancelled from this callback at frame `at` */
    int at;
    int stop_at;      /* this callback's own request asks to stop at that frame (0: never) */
    int cancel_rc;
} cancel_ctx;

static int cancel_progress(int done, int max, void *user) {
    (void)max;
    cancel_ctx *c = user;
    if (c->victim && done == c->at) {
        voxtts_error err = {0};
        c->cancel_rc = voxtts_engine_cancel(c->e, c->victim, &err);
        c->victim = 0;
    }
    return c->stop_at && done >= c->stop_at;
}

/* Requests joining and leaving while others run: max_batch 3 with 7 requests
 * (a queue), submissions between steps, a long prompt joining a running batch
 * (chunked prefill), one cancelled between steps, one from another request's
 * callback, one stopped by its own progress callback. */
static void test_join_leave(voxtts_model *m, const char *name, int max_frames) {
    enum { N = 7 };
    job jobs[N];
    for (int i = 0; i < N; i++) {
        make_job(m, &jobs[i], 3 * i + 1, max_frames);
        jobs[i].stream = i % 3 == 0;
        if (i == 0 || i == 1 || i == 4 || i == 5) jobs[i].dbg.ignore_end = 1;
    }
    jobs[2].text = texts[N_TEXTS - 1]; /* the long prompt, joining later */
    for (int i = 0; i < N; i++) run_alone(m, &jobs[i]);
    voxtts_engine *e = NULL;
    voxtts_error err = {0};
    int rc = voxtts_engine_create(m, 3, &e, &err);
    CHECK(rc == VOXTTS_OK, "%s join/leave: create: %s", name, err.msg);
    if (rc) {
        for (int i = 0; i < N; i++) job_free(&jobs[i]);
        return;
    }
    /* job 3 is stopped by its own progress callback at frame 2, and cancels job 4 at frame 1 */
    cancel_ctx cc = {e, 0, 1, 2, 0};
    jobs[3].p.progress = cancel_progress;
    jobs[3].p.progress_user = &cc;
    jobs[3].ref_rc = VOXTTS_E_CANCELLED;
    jobs[4].ref_rc = VOXTTS_E_CANCELLED;
    jobs[6].ref_rc = VOXTTS_E_CANCELLED; /* cancelled between steps */

    submit_job(e, &jobs[0], name, 0);
    submit_job(e, &jobs[1], name, 1);
    CHECK(voxtts_engine_step(e, &err) == VOXTTS_OK, "%s: step: %s", name, err.msg);
    CHECK(voxtts_engine_step(e, &err) == VOXTTS_OK, "%s: step: %s", name, err.msg);
    /* the long prompt joins two running requests: at most one chunk of prompt rows per step */
    submit_job(e, &jobs[2], name, 2);
    voxtts_engine_stats before, after;
    int chunk_ok = 1, steps_prefill = 0;
    for (int s = 0; s < 6; s++) {
        voxtts_engine_get_stats(e, &before);
        CHECK(voxtts_engine_step(e, &err) == VOXTTS_OK, "%s: step: %s", name, err.msg);
        voxtts_engine_get_stats(e, &after);
        const int64_t rows = after.prefill_tokens - before.prefill_tokens;
        if (rows > 0) steps_prefill++;
        /* while another request runs, a step prefills at most one chunk (the
         * first use of a voice builds its prefix outside the budget) */
        if (rows > VOX_ENGINE_PREFILL_CHUNK && after.frames > before.frames) chunk_ok = 0;
    }
    CHECK(chunk_ok, "%s: more than %d prompt rows in a step with running requests", name,
          VOX_ENGINE_PREFILL_CHUNK);
    CHECK(steps_prefill >= 2, "%s: the long prompt was prefilled in %d steps", name, steps_prefill);
    cc.victim = 0;
    submit_job(e, &jobs[3], name, 3);
    submit_job(e, &jobs[4], name, 4);
    cc.victim = jobs[4].id;
    submit_job(e, &jobs[5], name, 5);
    submit_job(e, &jobs[6], name, 6);
    CHECK(voxtts_engine_status(e, jobs[6].id) == VOXTTS_REQ_QUEUED || voxtts_engine_status(e, jobs[6].id) == VOXTTS_REQ_RUNNING,
          "%s: job 6 waiting", name);
    CHECK(voxtts_engine_step(e, &err) == VOXTTS_OK, "%s: step: %s", name, err.msg);
    CHECK(voxtts_engine_cancel(e, jobs[6].id, &err) == VOXTTS_OK, "%s: cancel job 6: %s", name, err.msg);
    CHECK(voxtts_engine_status(e, jobs[6].id) == VOXTTS_REQ_DONE, "%s: job 6 ended at once", name);
    CHECK(voxtts_engine_cancel(e, jobs[6].id, &err) == VOXTTS_E_ARG, "%s: cancel twice", name);
    /* take a finished one early, while others still run */
    int64_t id = 0;
    CHECK(voxtts_engine_poll(e, &id) == 1, "%s: something finished", name);
    rc = voxtts_engine_run(e, &err);
    CHECK(rc == VOXTTS_OK, "%s: run: %s", name, err.msg);
    CHECK(cc.cancel_rc == VOXTTS_OK, "%s: cancel from a callback: rc %d", name, cc.cancel_rc);
    for (int i = 0; i < N; i++) {
        if (jobs[i].ref_rc == VOXTTS_E_CANCELLED) {
            voxtts_audio got;
            voxtts_error rerr = {0};
            rc = voxtts_engine_take(e, jobs[i].id, &got, NULL, &rerr);
            CHECK(rc == VOXTTS_E_CANCELLED && got.codes == NULL && got.samples == NULL &&
                      strstr(rerr.msg, "cancel"),
                  "%s: job %d cancelled: rc %d (%s)", name, i, rc, rerr.msg);
            voxtts_audio_free(&got);
        } else {
            check_job(e, &jobs[i], name, i);
        }
    }
    voxtts_engine_free(e);
    for (int i = 0; i < N; i++) job_free(&jobs[i]);
}

static void test_errors(voxtts_model *m) {
    voxtts_engine *e = NULL;
    voxtts_error err = {0};
    CHECK(voxtts_engine_create(m, 0, &e, &err) == VOXTTS_E_ARG && e == NULL && strstr(err.msg, "max_batch"),
          "max_batch 0: %s", err.msg);
    CHECK(voxtts_engine_create(NULL, 2, &e, &err) == VOXTTS_E_ARG, "NULL model");
    CHECK(voxtts_engine_create(m, 2, &e, &err) == VOXTTS_OK, "create: %s", err.msg);
    if (!e) return;
    int64_t id = 5;
    voxtts_synth_params p;
    voxtts_synth_params_default(&p);
    p.voice = "no_such_voice";
    CHECK(voxtts_engine_submit(e, "Hello.", &p, &id, &err) == VOXTTS_E_ARG && id == 0 &&
              strstr(err.msg, "no_such_voice"),
          "unknown voice: %s", err.msg);
    p.voice = NULL;
    CHECK(voxtts_engine_submit(e, "Hello.", &p, &id, &err) == VOXTTS_E_ARG, "no voice: %s", err.msg);
    p.voice = voxtts_model_voice_name(m, 0);
    CHECK(voxtts_engine_submit(e, "", &p, &id, &err) != VOXTTS_OK, "empty text");
    CHECK(voxtts_engine_submit(e, "\xff\xfe bad", &p, &id, &err) != VOXTTS_OK, "invalid UTF-8");
    p.max_frames = 0;
    CHECK(voxtts_engine_submit(e, "Hello.", &p, &id, &err) == VOXTTS_E_ARG && strstr(err.msg, "max_frames"),
          "max_frames 0: %s", err.msg);
    p.max_frames = 3;
    CHECK(voxtts_engine_submit(e, NULL, &p, &id, &err) == VOXTTS_E_ARG, "NULL text");
    CHECK(voxtts_engine_pending(e) == 0, "nothing queued by bad submits");
    voxtts_audio a;
    CHECK(voxtts_engine_take(e, 12345, &a, NULL, &err) == VOXTTS_E_ARG && strstr(err.msg, "unknown"),
          "take unknown: %s", err.msg);
    CHECK(voxtts_engine_cancel(e, 12345, &err) == VOXTTS_E_ARG, "cancel unknown");
    CHECK(voxtts_engine_submit(e, "Hello.", &p, &id, &err) == VOXTTS_OK && id > 0, "submit: %s", err.msg);
    CHECK(voxtts_engine_take(e, id, &a, NULL, &err) == VOXTTS_E_ARG && strstr(err.msg, "not finished"),
          "take early: %s", err.msg);
    CHECK(voxtts_engine_status(e, id) == VOXTTS_REQ_QUEUED, "queued");
    CHECK(voxtts_engine_run(e, &err) == VOXTTS_OK, "run: %s", err.msg);
    CHECK(voxtts_engine_status(e, id) == VOXTTS_REQ_DONE, "done");
    CHECK(voxtts_engine_step(e, &err) == VOXTTS_OK, "idle step");
    int rc = voxtts_engine_take(e, id, &a, NULL, &err);
    CHECK(rc == VOXTTS_OK && a.n_frames >= 0 && a.n_frames <= 3, "take: %s", err.msg);
    voxtts_audio_free(&a);
    /* freeing with requests still queued or running */
    CHECK(voxtts_engine_submit(e, "Hello again.", &p, &id, &err) == VOXTTS_OK, "submit");
    CHECK(voxtts_engine_submit(e, "And again.", &p, &id, &err) == VOXTTS_OK, "submit");
    CHECK(voxtts_engine_step(e, &err) == VOXTTS_OK, "step");
    voxtts_engine_free(e);
    voxtts_engine_free(NULL);
}

/* The references must include requests that end by END_AUDIO at different frames. */
static void check_ends(voxtts_model *m, const char *name, int max_frames) {
    int ends[16], n_end = 0, distinct = 0;
    for (int i = 0; i < 16; i++) {
        job j;
        make_job(m, &j, i, max_frames);
        run_alone(m, &j);
        if (j.ref_rc == VOXTTS_OK && j.ref.n_frames < max_frames) {
            int seen = 0;
            for (int k = 0; k < n_end; k++) seen |= ends[k] == j.ref.n_frames;
            distinct += !seen;
            ends[n_end++] = j.ref.n_frames;
        }
        job_free(&j);
    }
    CHECK(distinct >= 2, "%s: only %d of 16 references end by END_AUDIO, at %d distinct frame counts",
          name, n_end, distinct);
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Most checks use one thread (quick on a busy machine; the kernels give the same
 * bits for any thread count, test_kernels.c), some two (the batched attention's
 * per-thread score buffers). */
static void test_model(const char *dir, int quick) { /* quick: fewer batch sizes */
    if (!exists(dir)) {
        CHECK(0, "%s missing", dir);
        return;
    }
    for (int threads = 1; threads <= 2; threads++) {
        voxtts_model *m = NULL;
        voxtts_error err = {0};
        voxtts_load_params lp;
        voxtts_load_params_default(&lp);
        lp.n_threads = threads;
        if (voxtts_model_load(dir, &lp, &m, &err) != VOXTTS_OK) {
            CHECK(0, "load %s: %s", dir, err.msg);
            return;
        }
        char name[256];
        snprintf(name, sizeof name, "%s (%d thread%s)", dir, threads, threads > 1 ? "s" : "");
        const int F = 30;
        if (threads == 1) {
            if (!quick) check_ends(m, name, F);
            for (int B = 1; B <= 8; B++)
                if (!quick || B == 3 || B == 8) test_batch(m, name, B, F, 0, 0);
            test_batch(m, name, 5, F, 1, 0);
            test_join_leave(m, name, F);
            test_own_voice(m, name, F);
            if (!quick) test_errors(m);
        }
        test_batch(m, name, 6, F, 1, 1);
        voxtts_model_free(m);
    }
}

/* Every weight type: synthetic random models at small widths (256 wide, so q4_k
 * applies), END ignored on some requests so that they run the whole length. */
static void test_types(int quick) {
    static const char *types[] = {"bf16", "q8_0", "q4_k", "best", "f16", "f32"};
    const int n_types = 6;
    for (int t = 0; t < n_types; t++) {
        voxtts_model *m = NULL;
        voxtts_error err = {0};
        if (voxtts_model_synthetic("tests/data/params_bench_small.json", types[t], 1, &m, &err) !=
            VOXTTS_OK) {
            CHECK(0, "synthetic %s: %s", types[t], err.msg);
            continue;
        }
        char name[64];
        snprintf(name, sizeof name, "synthetic %s", types[t]);
        test_batch(m, name, 4, 6, 0, 1);
        test_batch(m, name, quick ? 8 : 3, 5, 1, 0);
        voxtts_model_free(m);
    }
}

int main(int argc, char **argv) {
    /* a child run: the same checks at the level VOXTTS_KERNELS forced */
    const int child = argc > 1 && strcmp(argv[1], "--child") == 0;
    if (!child) { /* a child checks the kernels: every weight type in a batch */
        test_model("tests/models/tiny-a", 0);
        test_model("tests/models/tiny-b", 0);
    }
    test_types(child);
    if (!child) {
        const char *nospawn = getenv("VOX_TEST_NO_SPAWN");
        const vox_kernel_level def = vox_kernel_level_default();
        for (int l = 0; l < VOX_LEVEL_COUNT && !(nospawn && nospawn[0] == '1'); l++) {
            if (l == (int)def || !vox_kernel_level_supported((vox_kernel_level)l)) continue;
            const char *lname = vox_kernel_level_name((vox_kernel_level)l);
            char cmd[1024];
            snprintf(cmd, sizeof cmd, "VOXTTS_KERNELS=%s '%s' --child", lname, argv[0]);
            printf("level %s:\n", lname);
            fflush(stdout);
            int rc = system(cmd);
            CHECK(rc == 0, "VOXTTS_KERNELS=%s: the batched engine differs from single runs (exit %d)",
                  lname, rc);
        }
    }
    TEST_MAIN_END();
}
