/* longform.c — the voxtts command's long-text side: `voxtts debug split`, and
 * speaking a text chunk by chunk (include/voxtts.h voxtts_synthesize_chunks)
 * with a progress bar, frame-cap reports and a JSON stats file.
 *
 * Every text goes through the splitter, short ones too (one chunk).  The audio
 * streams into the caller's on_audio sink (a WAV file or stdout), so a whole
 * book never sits in memory.  A chunk that reaches --max-frames without the
 * model's END_AUDIO is reported on stderr as it happens (even with -q: the audio
 * of that chunk is cut short) and flagged in the stats.  The progress bar is
 * drawn only when stderr is a terminal and -q is not given. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* ---- voxtts debug split ---------------------------------------------------------- */

/* --sentences: the sentences the splitter finds (before packing), same layout. */
static int print_sentences(const char *text, size_t len, const voxtts_split_params *sp) {
    voxtts_error err = {0};
    voxtts_sentences s;
    if (voxtts_split_sentences(text, len, sp, &s, &err) != VOXTTS_OK) {
        cli_print_error("cannot split the text", &err);
        return 1;
    }
    for (size_t i = 0; i < s.n; i++) {
        if (i > 0 && s.s[i].paragraph != s.s[i - 1].paragraph) printf("\xc2\xb6\n");
        printf("%.*s\n", (int)s.s[i].len, s.s[i].text);
    }
    fprintf(stderr, "voxtts: %zu sentences\n", s.n);
    voxtts_sentences_free(&s);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* Prints the chunks, one per line; "¶" alone on a line between paragraphs.  With
 * show_tokens each line starts with "[TOKENS tok, ~FRAMES fr] "; show_tokens 2:
 * the sentences instead of the chunks. */
int cli_debug_split(const char *model, const char *text, size_t len, const voxtts_split_params *sp,
                    int show_tokens) {
    if (show_tokens == 2) return print_sentences(text, len, sp);
    voxtts_error err = {0};
    voxtts_tokenizer *tk = NULL;
    voxtts_chunks ch = {0};
    if (voxtts_tokenizer_load(model, &tk, &err) != VOXTTS_OK) {
        cli_print_error("cannot load the tokenizer", &err);
        return 1;
    }
    int rc = voxtts_split_text(tk, text, len, sp, &ch, &err);
    voxtts_tokenizer_free(tk);
    if (rc != VOXTTS_OK) {
        cli_print_error("cannot split the text", &err);
        return 1;
    }
    long long tokens = 0;
    for (size_t i = 0; i < ch.n; i++) {
        const voxtts_chunk *c = &ch.chunk[i];
        if (i > 0 && c->paragraph_start) printf("\xc2\xb6\n");
        if (show_tokens) printf("[%d tok, ~%d fr] ", c->n_tokens, c->est_frames);
        printf("%s\n", c->text);
        tokens += c->n_tokens;
    }
    fprintf(stderr, "voxtts: %zu chunks in %d paragraphs, %lld tokens (budget %d tokens per chunk)\n",
            ch.n, ch.n ? ch.chunk[ch.n - 1].paragraph + 1 : 0, tokens, ch.token_budget);
    voxtts_chunks_free(&ch);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- speaking a text --------------------------------------------------------------- */

int cli_longform_split(voxtts_model *m, const char *text, size_t len, const cli_long_opts *o,
                       int max_frames, voxtts_chunks *chunks) {
    voxtts_error err = {0};
    voxtts_split_params sp = o->split;
    sp.max_frames = max_frames;
    if (voxtts_model_split_text(m, text, len, &sp, chunks, &err) != VOXTTS_OK) {
        cli_print_error("cannot split the text", &err);
        return -1;
    }
    int est = voxtts_estimate_frames(chunks->token_budget);
    if (!o->quiet && chunks->n > 1 && est > max_frames)
        fprintf(stderr,
                "voxtts: note: --max-frames %d is short for chunks of up to %d tokens (about %d "
                "frames estimated); a chunk that reaches it is reported\n",
                max_frames, chunks->token_budget, est);
    return 0;
}

typedef struct chunk_rec {
    int frames, capped;
    double seconds;
} chunk_rec;

typedef struct run_state {
    const cli_long_opts *o;
    const voxtts_chunks *chunks;
    int max_frames, sample_rate;
    long long tokens_total, tokens_done;
    chunk_rec *rec;
    double last_draw;
    int drawn;
} run_state;

static void clear_bar(run_state *s) {
    if (s->drawn) {
        fprintf(stderr, "\r%*s\r", 100, "");
        s->drawn = 0;
    }
}

static void draw_bar(run_state *s, const voxtts_long_event *ev) {
    double frac = 0.0;
    if (s->tokens_total > 0) {
        double in_chunk = 0.0;
        if (ev->type == VOXTTS_LONG_FRAME && ev->c && ev->c->est_frames > 0) {
            in_chunk = (double)ev->chunk_frames / ev->c->est_frames;
            if (in_chunk > 0.95) in_chunk = 0.95;
            in_chunk *= ev->c->n_tokens;
        }
        frac = (s->tokens_done + in_chunk) / (double)s->tokens_total;
    }
    if (frac > 1.0) frac = 1.0;
    char bar[21];
    int full = (int)(frac * 20.0 + 0.5);
    for (int i = 0; i < 20; i++) bar[i] = i < full ? '#' : '-';
    bar[20] = '\0';
    double audio = s->sample_rate > 0 ? (double)ev->samples_total / s->sample_rate : 0.0;
    char eta[32] = "--:--";
    if (frac > 0.005 && frac < 1.0) {
        long left = (long)(ev->elapsed_s * (1.0 - frac) / frac + 0.5);
        if (left >= 3600) snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", left / 3600, left / 60 % 60, left % 60);
        else snprintf(eta, sizeof eta, "%ld:%02ld", left / 60, left % 60);
    } else if (frac >= 1.0) {
        snprintf(eta, sizeof eta, "0:00");
    }
    size_t done = ev->chunk + (ev->type == VOXTTS_LONG_CHUNK_DONE);
    fprintf(stderr, "\r[%s] %zu/%zu chunks  %lld frames  %.1f s audio  RTF %.2f  ETA %s   ", bar,
            done, ev->n_chunks, ev->frames_total,
            audio, audio > 0 ? ev->elapsed_s / audio : 0.0, eta);
    fflush(stderr);
    s->drawn = 1;
}

static int on_event(const voxtts_long_event *ev, void *user) {
    run_state *s = user;
    if (ev->type == VOXTTS_LONG_CHUNK_DONE) {
        chunk_rec *r = &s->rec[ev->chunk];
        r->frames = ev->chunk_frames;
        r->capped = ev->hit_cap;
        r->seconds = ev->chunk_stats ? ev->chunk_stats->total_s : 0.0;
        s->tokens_done += ev->c->n_tokens;
        if (ev->hit_cap) {
            clear_bar(s);
            if (ev->n_chunks == 1)
                fprintf(stderr,
                        "voxtts: warning: reached --max-frames %d without the end of speech; the "
                        "audio is cut short (raise --max-frames)\n", s->max_frames);
            else
                fprintf(stderr,
                        "voxtts: warning: chunk %zu/%zu reached --max-frames %d without the end of "
                        "speech; its audio is cut short: \"%.60s%s\"\n", ev->chunk + 1, ev->n_chunks,
                        s->max_frames, ev->c->text, strlen(ev->c->text) > 60 ? "..." : "");
        }
    }
    if (s->o->progress) {
        double now = ev->elapsed_s;
        if (ev->type == VOXTTS_LONG_CHUNK_DONE || now - s->last_draw >= 0.1) {
            draw_bar(s, ev);
            s->last_draw = now;
        }
    }
    return 0;
}

static int write_stats(const char *path, const run_state *s, const voxtts_long_stats *st,
                       const voxtts_synth_params *sp) {
    cJSON *root = cJSON_CreateObject(), *arr = NULL;
    if (!root) goto nomem;
    double audio = s->sample_rate > 0 ? (double)st->samples / s->sample_rate : 0.0;
    if (!cJSON_AddNumberToObject(root, "chunks", (double)s->chunks->n) ||
        !cJSON_AddNumberToObject(root, "frames", (double)st->frames) ||
        !cJSON_AddNumberToObject(root, "capped_chunks", (double)st->capped) ||
        !cJSON_AddNumberToObject(root, "max_frames", sp->max_frames) ||
        !cJSON_AddNumberToObject(root, "token_budget", s->chunks->token_budget) ||
        !cJSON_AddNumberToObject(root, "tokens", (double)s->tokens_total) ||
        !cJSON_AddNumberToObject(root, "sample_rate", s->sample_rate) ||
        !cJSON_AddNumberToObject(root, "samples", (double)st->samples) ||
        !cJSON_AddNumberToObject(root, "audio_seconds", audio) ||
        !cJSON_AddNumberToObject(root, "compute_seconds", st->total_s) ||
        !cJSON_AddNumberToObject(root, "rtf", audio > 0 ? st->total_s / audio : 0.0) ||
        !cJSON_AddNumberToObject(root, "pause_paragraph_ms", s->o->pause_paragraph_ms) ||
        !cJSON_AddNumberToObject(root, "pause_chunk_ms", s->o->pause_chunk_ms) ||
        !(arr = cJSON_AddArrayToObject(root, "chunk")))
        goto nomem;
    for (size_t i = 0; i < s->chunks->n; i++) {
        const voxtts_chunk *c = &s->chunks->chunk[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) goto nomem;
        cJSON_AddItemToArray(arr, o);
        if (!cJSON_AddNumberToObject(o, "index", (double)i) ||
            !cJSON_AddNumberToObject(o, "paragraph", c->paragraph) ||
            !cJSON_AddBoolToObject(o, "paragraph_start", c->paragraph_start) ||
            !cJSON_AddNumberToObject(o, "tokens", c->n_tokens) ||
            !cJSON_AddNumberToObject(o, "est_frames", c->est_frames) ||
            !cJSON_AddNumberToObject(o, "frames", s->rec[i].frames) ||
            !cJSON_AddBoolToObject(o, "capped", s->rec[i].capped) ||
            !cJSON_AddNumberToObject(o, "seconds", s->rec[i].seconds) ||
            !cJSON_AddStringToObject(o, "text", c->text))
            goto nomem;
    }
    char *json = cJSON_Print(root);
    cJSON_Delete(root);
    root = NULL;
    if (!json) goto nomem;
    voxtts_error err = {0};
    const size_t jn = strlen(json);
    char *line = realloc(json, jn + 2); /* the JSON and a newline */
    if (!line) {
        free(json);
        goto nomem;
    }
    line[jn] = '\n';
    line[jn + 1] = '\0';
    int rc = voxtts_write_file_atomic(path, line, jn + 1, &err);
    free(line);
    if (rc != VOXTTS_OK) {
        cli_print_error("cannot write the stats", &err);
        return -1;
    }
    return 0;
nomem:
    cJSON_Delete(root);
    fprintf(stderr, "voxtts: out of memory writing the stats\n");
    return -1;
}

int cli_longform_speak(voxtts_model *m, const voxtts_chunks *chunks, const cli_long_opts *o,
                       const voxtts_synth_params *sp, voxtts_long_stats *st) {
    run_state s;
    memset(&s, 0, sizeof s);
    s.o = o;
    s.chunks = chunks;
    s.max_frames = sp->max_frames;
    s.sample_rate = voxtts_model_sample_rate(m);
    s.last_draw = -1.0;
    for (size_t i = 0; i < chunks->n; i++) s.tokens_total += chunks->chunk[i].n_tokens;
    s.rec = calloc(chunks->n ? chunks->n : 1, sizeof *s.rec);
    if (!s.rec) {
        fprintf(stderr, "voxtts: out of memory\n");
        return -1;
    }
    voxtts_long_params lp;
    voxtts_long_params_default(&lp);
    lp.synth = *sp;
    lp.pause_paragraph_ms = o->pause_paragraph_ms;
    lp.pause_chunk_ms = o->pause_chunk_ms;
    lp.on_event = on_event;
    lp.event_user = &s;
    voxtts_error err = {0};
    int rc = voxtts_synthesize_chunks(m, chunks, &lp, st, &err);
    if (s.drawn) fputc('\n', stderr);
    if (rc != VOXTTS_OK) {
        /* a sink failure is reported by the caller, which knows the output */
        if (rc != VOXTTS_E_CANCELLED) cli_print_error("synthesis failed", &err);
        free(s.rec);
        return rc == VOXTTS_E_CANCELLED ? -2 : -1;
    }
    if (st->capped > 0 && chunks->n > 1)
        fprintf(stderr, "voxtts: warning: %zu of %zu chunks were cut at --max-frames %d\n",
                st->capped, chunks->n, sp->max_frames);
    int wrc = o->stats_path ? write_stats(o->stats_path, &s, st, sp) : 0;
    free(s.rec);
    return wrc;
}
