/* longform.c — include/voxtts.h's long-form API: text checked and split into
 * chunks (src/text/splitter.h) with the model's tokenizer (and, for debugging,
 * into sentences: voxtts_debug.h), and the chunks spoken one
 * after another into the caller's on_audio callback, with silence between them.
 *
 * Each chunk is one voxtts_synthesize call with the caller's synth params (the
 * same seed for every chunk, so a chunk's audio does not depend on its place in
 * the text).  Nothing but the current chunk's frames is held: the audio streams
 * out as it is decoded.  A chunk that reaches max_frames without END_AUDIO is
 * flagged (hit_cap in its CHUNK_DONE event, capped in the stats): its text was
 * probably cut short.  This loop is the one place to change to schedule the
 * chunks differently (e.g. several at once). */
#include <stdlib.h>
#include <string.h>

#include "text/splitter.h"
#include "voxtral/model.h"
#include "voxtral/stream.h"

void voxtts_split_params_default(voxtts_split_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
}

int voxtts_estimate_frames(int n_tokens) { return vox_split_estimate_frames(n_tokens); }

void voxtts_chunks_free(voxtts_chunks *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) free(c->chunk[i].text);
    free(c->chunk);
    memset(c, 0, sizeof *c);
}

static int count_tekken(void *user, const char *s, size_t n, size_t *count, vox_error *err) {
    int32_t *ids = NULL;
    int rc = vox_tekken_encode((const vox_tekken *)user, s, n, &ids, count, err);
    free(ids);
    return rc;
}

/* The checks of split params (not NULL): struct size, limits, language; fn
 * names the caller. */
static int check_split(const char *fn, const voxtts_split_params *p, vox_lang *lang, voxtts_error *err) {
    int rc = vox_check_struct_size(err, fn, "voxtts_split_params", p->struct_size, sizeof *p);
    if (rc) return rc;
    if (p->max_tokens < 0 || p->max_tokens > 1000000)
        return vox_fail(err, VOX_E_ARG, "max_tokens %d out of range (0 = default, 1..1000000)",
                        p->max_tokens);
    if (p->max_frames < 0) return vox_fail(err, VOX_E_ARG, "max_frames %d is negative", p->max_frames);
    return vox_lang_parse(p->lang, lang, err);
}

int voxtts_split_check(const char *text, size_t len, const voxtts_split_params *p,
                       voxtts_error *err) {
    voxtts_split_params defaults;
    voxtts_split_params_default(&defaults);
    if (!p) p = &defaults;
    if (!text && len) return vox_fail(err, VOX_E_ARG, "voxtts_split_check: text is NULL");
    vox_lang lang;
    int rc = check_split("voxtts_split_check", p, &lang, err);
    if (rc) return rc;
    return vox_utf8_check(text ? text : "", len, NULL, err);
}

int voxtts_split_sentences(const char *text, size_t len, const voxtts_split_params *p,
                           voxtts_sentences *out, voxtts_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!out || (!text && len))
        return vox_fail(err, VOX_E_ARG, "voxtts_split_sentences: text and out must not be NULL");
    voxtts_split_params defaults;
    voxtts_split_params_default(&defaults);
    if (!p) p = &defaults;
    vox_lang lang;
    int rc = check_split("voxtts_split_sentences", p, &lang, err);
    if (rc) return rc;
    vox_sentences s;
    if ((rc = vox_split_sentences(text ? text : "", len, lang, p->normalize, &s, err))) return rc;
    out->s = s.n ? calloc(s.n, sizeof *out->s) : NULL;
    if (s.n && !out->s) {
        vox_sentences_free(&s);
        return vox_fail(err, VOX_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < s.n; i++) {
        out->s[i].text = s.buf + s.start[i];
        out->s[i].len = s.end[i] - s.start[i];
        out->s[i].paragraph = s.para[i];
    }
    out->n = s.n;
    out->buf_ = s.buf; /* kept; the index arrays are not */
    s.buf = NULL;
    vox_sentences_free(&s);
    return VOX_OK;
}

void voxtts_sentences_free(voxtts_sentences *s) {
    if (!s) return;
    free(s->s);
    free(s->buf_);
    memset(s, 0, sizeof *s);
}

/* seq_room: the most text tokens a prompt may hold (0: no limit); fn names the caller. */
static int split_with(const char *fn, const vox_tekken *tk, const char *text, size_t len,
                      const voxtts_split_params *p, long long seq_room, voxtts_chunks *out,
                      voxtts_error *err) {
    voxtts_split_params defaults;
    voxtts_split_params_default(&defaults);
    if (!p) p = &defaults;
    vox_lang lang;
    int rc = check_split(fn, p, &lang, err);
    if (rc) return rc;
    int budget = vox_split_token_budget(p->max_tokens, p->max_frames);
    if (seq_room > 0 && seq_room < budget) budget = (int)seq_room;
    rc = vox_split_chunks(text, len, lang, p->normalize, budget, count_tekken, (void *)tk, out, err);
    if (rc) return rc;
    if (out->n == 0) {
        voxtts_chunks_free(out);
        return vox_fail(err, VOX_E_ARG, "text is empty: nothing to speak (%s)",
                        len ? "only whitespace or punctuation" : "no text");
    }
    return VOX_OK;
}

int voxtts_split_text(const voxtts_tokenizer *tk, const char *text, size_t len,
                      const voxtts_split_params *p, voxtts_chunks *out, voxtts_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!tk || !out || (!text && len))
        return vox_fail(err, VOX_E_ARG, "voxtts_split_text: tokenizer, text and out must not be NULL");
    return split_with("voxtts_split_text", tk->tk, text ? text : "", len, p, 0, out, err);
}

int voxtts_model_split_text(voxtts_model *m, const char *text, size_t len,
                            const voxtts_split_params *p, voxtts_chunks *out, voxtts_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!m || !out || (!text && len))
        return vox_fail(err, VOX_E_ARG, "voxtts_model_split_text: model, text and out must not be NULL");
    /* a chunk's prompt (longest voice, 5 markers) and its frames must fit max_seq_len */
    long long room = 0;
    if (m->cfg.max_seq_len > 0) {
        int voice_max = 0;
        for (int v = 0; v < m->cfg.n_voices; v++) {
            int nv = vox_tekken_voice_num_tokens(m->tk, m->cfg.voice_names[v]);
            if (nv > voice_max) voice_max = nv;
        }
        room = (long long)m->cfg.max_seq_len - voice_max - 5 - (p && p->max_frames > 0 ? p->max_frames : 0);
        if (room < 1)
            return vox_fail(err, VOX_E_ARG,
                            "the model's max_seq_len of %d (params.json) leaves no room for text "
                            "with voices of up to %d rows and %d frames per chunk; use fewer frames",
                            m->cfg.max_seq_len, voice_max, p ? p->max_frames : 0);
    }
    return split_with("voxtts_model_split_text", m->tk, text ? text : "", len, p, room, out,
                      err);
}

void voxtts_long_params_default(voxtts_long_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    voxtts_synth_params_default(&p->synth);
    voxtts_split_params_default(&p->split);
    p->pause_paragraph_ms = 500;
    p->pause_chunk_ms = 100;
}

typedef struct long_ctx {
    const voxtts_long_params *p;
    voxtts_long_event ev;
    double t0;
    int user_cancelled;
} long_ctx;

static int long_on_audio(const float *samples, size_t n, void *user) {
    long_ctx *c = user;
    c->ev.samples_total += n;
    return c->p->synth.on_audio(samples, n, c->p->synth.audio_user);
}

static int long_on_frame(int frames_done, int max_frames, void *user) {
    long_ctx *c = user;
    (void)max_frames;
    if (!c->p->on_event) return 0;
    c->ev.type = VOXTTS_LONG_FRAME;
    c->ev.chunk_frames = frames_done;
    c->ev.elapsed_s = vox_now_s() - c->t0;
    long long before = c->ev.frames_total;
    c->ev.frames_total = before + frames_done;
    int stop = c->p->on_event(&c->ev, c->p->event_user);
    c->ev.frames_total = before;
    if (stop) c->user_cancelled = 1;
    return stop;
}

/* ms of silence into on_audio, in pieces. */
static int emit_silence(long_ctx *c, int sample_rate, int ms, vox_error *err) {
    static const float zeros[1024];
    size_t n = (size_t)sample_rate * (size_t)ms / 1000;
    while (n > 0) {
        size_t k = n < 1024 ? n : 1024;
        if (long_on_audio(zeros, k, c))
            return vox_fail(err, VOX_E_CANCELLED, "the audio callback stopped the synthesis");
        n -= k;
    }
    return VOX_OK;
}

int voxtts_synthesize_chunks(voxtts_model *m, const voxtts_chunks *chunks,
                             const voxtts_long_params *p, voxtts_long_stats *stats,
                             voxtts_error *err) {
    if (stats) memset(stats, 0, sizeof *stats);
    if (!m || !chunks || !p || (chunks->n && !chunks->chunk))
        return vox_fail(err, VOX_E_ARG, "voxtts_synthesize_chunks: model, chunks and params must not be NULL");
    int rc0 = vox_check_struct_size(err, "voxtts_synthesize_chunks", "voxtts_long_params",
                                    p->struct_size, sizeof *p);
    if (!rc0) rc0 = vox_check_synth_params(&p->synth, "voxtts_synthesize_chunks", err);
    if (rc0) return rc0;
    if (!p->synth.on_audio)
        return vox_fail(err, VOX_E_ARG,
                        "voxtts_synthesize_chunks: synth.on_audio is required (long text is streamed)");
    if (p->pause_paragraph_ms < 0 || p->pause_paragraph_ms > 60000 || p->pause_chunk_ms < 0 ||
        p->pause_chunk_ms > 60000)
        return vox_fail(err, VOX_E_ARG, "voxtts_synthesize_chunks: pauses must be 0..60000 ms");
    long_ctx c;
    memset(&c, 0, sizeof c);
    c.p = p;
    c.t0 = vox_now_s();
    c.ev.n_chunks = chunks->n;
    const int sr = voxtts_model_sample_rate(m);
    int rc = VOX_OK;
    size_t capped = 0;
    for (size_t i = 0; i < chunks->n && rc == VOX_OK; i++) {
        const voxtts_chunk *ch = &chunks->chunk[i];
        if (i > 0) {
            rc = emit_silence(&c, sr, ch->paragraph_start ? p->pause_paragraph_ms : p->pause_chunk_ms,
                              err);
            if (rc) break;
        }
        voxtts_synth_params sp = p->synth;
        voxtts_synth_stats cs;
        sp.on_audio = long_on_audio;
        sp.audio_user = &c;
        sp.progress = long_on_frame;
        sp.progress_user = &c;
        c.ev.chunk = i;
        c.ev.c = ch;
        c.ev.chunk_frames = 0;
        c.ev.hit_cap = 0;
        c.ev.chunk_stats = NULL;
        voxtts_audio a;
        rc = voxtts_synthesize(m, ch->text, &sp, &a, &cs, err);
        voxtts_audio_free(&a);
        if (rc) {
            if (rc == VOX_E_CANCELLED && c.user_cancelled)
                vox_fail(err, VOX_E_CANCELLED, "cancelled in chunk %zu of %zu", i + 1, chunks->n);
            else
                vox_error_prefix(err, "chunk %zu of %zu", i + 1, chunks->n);
            break;
        }
        c.ev.frames_total += cs.frames;
        c.ev.type = VOXTTS_LONG_CHUNK_DONE;
        c.ev.chunk_frames = cs.frames;
        c.ev.hit_cap = !vox_opt_ignore_end(&sp) && cs.frames >= sp.max_frames;
        c.ev.chunk_stats = &cs;
        c.ev.elapsed_s = vox_now_s() - c.t0;
        capped += (size_t)c.ev.hit_cap;
        if (stats) stats->chunks = i + 1;
        if (p->on_event && p->on_event(&c.ev, p->event_user))
            rc = vox_fail(err, VOX_E_CANCELLED, "cancelled after chunk %zu of %zu", i + 1, chunks->n);
    }
    if (stats) {
        stats->capped = capped;
        stats->frames = c.ev.frames_total;
        stats->samples = c.ev.samples_total;
        stats->total_s = vox_now_s() - c.t0;
    }
    return rc;
}

int voxtts_synthesize_long(voxtts_model *m, const char *text, size_t len,
                           const voxtts_long_params *p, voxtts_long_stats *stats,
                           voxtts_error *err) {
    if (stats) memset(stats, 0, sizeof *stats);
    if (!m || !p || (!text && len))
        return vox_fail(err, VOX_E_ARG, "voxtts_synthesize_long: model, text and params must not be NULL");
    int rc0 = vox_check_struct_size(err, "voxtts_synthesize_long", "voxtts_long_params",
                                    p->struct_size, sizeof *p);
    if (rc0) return rc0;
    voxtts_split_params sp = p->split;
    if (sp.max_frames == 0) sp.max_frames = p->synth.max_frames;
    voxtts_chunks chunks;
    int rc = voxtts_model_split_text(m, text, len, &sp, &chunks, err);
    if (rc) return rc;
    rc = voxtts_synthesize_chunks(m, &chunks, p, stats, err);
    voxtts_chunks_free(&chunks);
    return rc;
}
