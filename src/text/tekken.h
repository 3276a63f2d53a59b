/* tekken.h — Mistral's Tekken byte-level BPE tokenizer, read from tekken.json.
 *
 * Pre-tokenization uses the file's own split regex compiled with PCRE2 (UTF, UCP),
 * merges follow tiktoken semantics (lowest-rank adjacent pair first), and only the
 * first default_vocab_size - default_num_special_tokens ranks are used
 * (docs/MODEL.md §1.3, §2.4).  A BPE token of rank r has id r + num_special_tokens. */
#ifndef VOX_TEXT_TEKKEN_H
#define VOX_TEXT_TEKKEN_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct vox_tekken vox_tekken;

int vox_tekken_load(const char *path, vox_tekken **out, vox_error *err);
/* The same from tekken.json's text in memory (e.g. embedded in a GGUF model file);
 * `label` names the source in messages ("model.gguf:voxtts.tekken_json").  json
 * need not be NUL-terminated. */
int vox_tekken_load_buffer(const char *json, size_t len, const char *label, vox_tekken **out,
                           vox_error *err);
void vox_tekken_free(vox_tekken *tk);

/* Encode UTF-8 text (no BOS/EOS, special-token strings are plain text).
 * *ids is malloc'd; caller frees.  Invalid UTF-8 is an error (VOX_E_ARG). */
int vox_tekken_encode(const vox_tekken *tk, const char *text, size_t len, int32_t **ids,
                      size_t *n_ids, vox_error *err);

/* Id of a special token by its string (e.g. "[BEGIN_AUDIO]"), or -1. */
int vox_tekken_special_id(const vox_tekken *tk, const char *token_str);
int vox_tekken_num_special(const vox_tekken *tk);
int vox_tekken_vocab_size(const vox_tekken *tk); /* default_vocab_size */

/* audio.voice_num_audio_tokens[voice] (exact, case-sensitive name), or -1 when absent. */
int vox_tekken_voice_num_tokens(const vox_tekken *tk, const char *voice);
/* The voices listed in audio.voice_num_audio_tokens, in file order (name NULL if i is out of range). */
int vox_tekken_num_voices(const vox_tekken *tk);
const char *vox_tekken_voice_name(const vox_tekken *tk, int i);

/* Bytes of token `id` (special tokens: their string). NULL if out of range. */
const uint8_t *vox_tekken_token_bytes(const vox_tekken *tk, int id, size_t *len);

#endif
