/* splitter.h — long text into sentences, and sentences into chunks the model can
 * speak one at a time (docs/MODEL.md §2.4, §2.5, §8.2).
 *
 * Steps, all on UTF-8 (invalid UTF-8 or a NUL byte is an error naming the byte
 * offset):
 *   1. Paragraphs: a blank line (only spaces/tabs, or a form feed) ends one.  The
 *      lines of a paragraph are joined with one space (a line break inside a
 *      paragraph only wraps it).  A line that starts with a list marker (- * + •
 *      or "12." "3)" "b)") starts a new sentence.
 *   2. Optional normalization (docs/MODEL.md §2.5, a subset; see splitter.c).
 *   3. Sentences: a boundary follows . ! ? … (and runs of them), Hindi । ॥, Arabic
 *      ؟ and CJK 。！？, with the closing quotes and brackets after them, when
 *      whitespace or the paragraph's end follows (CJK: always).  Not a boundary:
 *      the next word starts in lower case; a period after a known abbreviation of
 *      the language (Mr. Dr. z.B. Sra. Mme. sig. dhr. ...), after a single letter
 *      (initials), after dotted forms (e.g. U.S. J.R.R.), after a list number at a
 *      sentence's start, after a German/Dutch ordinal (am 3. Oktober); a period
 *      inside a token (3.14, 10.30, example.com) never is.  When unsure the
 *      splitter does not split: a missed boundary only makes a chunk longer.
 *   4. Chunks: sentences of one paragraph are packed greedily into chunks of at
 *      most the token budget (tokens counted with the model's own tokenizer on the
 *      chunk's final text).  A sentence over the budget is cut after , ; : (and
 *      their Arabic/CJK forms) or around dashes, then at spaces, then between
 *      characters (never before a combining mark).  A chunk never spans two
 *      paragraphs.  Text without anything speakable (only punctuation) joins the
 *      sentence before it, or is dropped.
 *   5. Every chunk ends in terminal punctuation: a trailing , ; : or dash is
 *      replaced, and "." (Hindi: "।") is appended when none is there (the model
 *      stops more reliably after one, docs/MODEL.md §2.5).
 *
 * Budget: the token budget is min(max_tokens, tokens whose estimated duration
 * fits in 3/4 of max_frames), but at least VOX_SPLIT_MIN_TOKENS.  The estimate is
 * vox_split_estimate_frames(): VOX_SPLIT_FRAMES_PER_TOKEN frames (80 ms each) per
 * text token plus VOX_SPLIT_FRAMES_BASE, about 1.5x a normal reading pace
 * (Tekken gives ~1.3 tokens per English word, read at ~2.5 words/s: ~4 frames per
 * token; digits are one token each but are spoken as whole words). */
#ifndef VOX_TEXT_SPLITTER_H
#define VOX_TEXT_SPLITTER_H

#include <stddef.h>

#include "base/error.h"

typedef enum {
    VOX_LANG_AUTO = 0, /* the abbreviations of every language */
    VOX_LANG_EN, VOX_LANG_FR, VOX_LANG_ES, VOX_LANG_DE, VOX_LANG_IT,
    VOX_LANG_PT, VOX_LANG_NL, VOX_LANG_AR, VOX_LANG_HI,
    VOX_LANG_COUNT
} vox_lang;

#define VOX_SPLIT_DEFAULT_MAX_TOKENS 120
#define VOX_SPLIT_MIN_TOKENS 64
#define VOX_SPLIT_FRAMES_PER_TOKEN 6
#define VOX_SPLIT_FRAMES_BASE 13

/* "en" "fr" "es" "de" "it" "pt" "nl" "ar" "hi" or "auto" (NULL too); else VOX_E_ARG. */
int vox_lang_parse(const char *name, vox_lang *out, vox_error *err);
const char *vox_lang_name(vox_lang lang);

/* 0 when s[0..n) is valid UTF-8 without NUL bytes; else VOX_E_ARG with the
 * offset of the first bad byte in the message and in *bad_offset (may be NULL). */
int vox_utf8_check(const char *s, size_t n, size_t *bad_offset, vox_error *err);

/* Estimated frames for a chunk of n text tokens (see above). */
int vox_split_estimate_frames(int n_tokens);
/* The token budget for max_tokens (0: default) and a frame cap (0: none). */
int vox_split_token_budget(int max_tokens, int max_frames);

/* Step 1-3: the sentences.  buf holds the working text (paragraphs after
 * normalization, joined lines); sentence i is buf[start[i] .. end[i]) of
 * paragraph para[i]. */
typedef struct vox_sentences {
    char *buf;
    size_t len;
    size_t n;
    size_t *start, *end;
    int *para;
} vox_sentences;

int vox_split_sentences(const char *text, size_t len, vox_lang lang, int normalize,
                        vox_sentences *out, vox_error *err);
void vox_sentences_free(vox_sentences *s);

/* Counts the tokens of s[0..n) (the model's tokenizer). */
typedef int (*vox_count_tokens_fn)(void *user, const char *s, size_t n, size_t *count,
                                   vox_error *err);

/* Steps 1-5: chunks (voxtts_chunks of include/voxtts.h).  An empty result (nothing
 * to speak) is not an error here: out->n == 0. */
int vox_split_chunks(const char *text, size_t len, vox_lang lang, int normalize, int budget,
                     vox_count_tokens_fn count, void *count_user, voxtts_chunks *out,
                     vox_error *err);

#endif
