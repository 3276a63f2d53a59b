/* fuzz_tekken_json.c — tekken.json (src/text/tekken.c): JSON syntax, the
 * config block, the pattern, base64 ranks, special tokens, the audio block;
 * an accepted tokenizer then encodes a short text. */
#include "fuzz.h"
#include "text/tekken.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vox_error err;
    vox_tekken *tk = NULL;
    if (vox_tekken_load_buffer((const char *)data, size, "tekken.json", &tk, &err) != VOX_OK) return 0;
    int32_t *ids = NULL;
    size_t n = 0;
    if (vox_tekken_encode(tk, "Hello, world! 123", 17, &ids, &n, &err) == VOX_OK) free(ids);
    for (int i = 0; i < vox_tekken_num_voices(tk); i++) (void)vox_tekken_voice_num_tokens(tk, vox_tekken_voice_name(tk, i));
    vox_tekken_free(tk);
    return 0;
}
