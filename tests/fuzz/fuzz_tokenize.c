/* fuzz_tokenize.c — the tokenizer on arbitrary bytes (src/text/tekken.c):
 * invalid UTF-8 must be refused cleanly, anything valid must encode into ids
 * that are in range.  Uses the tiny checkpoint's tekken.json (the official
 * pattern, a small vocabulary), loaded once. */
#include "fuzz.h"
#include "text/tekken.h"

static vox_tekken *g_tk;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vox_error err;
    if (!g_tk) {
        const char *p = getenv("VOXTTS_FUZZ_TEKKEN");
        if (vox_tekken_load(p && *p ? p : "tests/models/tiny-a/tekken.json", &g_tk, &err) != VOX_OK) {
            fprintf(stderr, "fuzz_tokenize: %s (run from the repository root)\n", err.msg);
            abort();
        }
    }
    int32_t *ids = NULL;
    size_t n = 0;
    if (vox_tekken_encode(g_tk, (const char *)data, size, &ids, &n, &err) == VOX_OK) {
        int vocab = vox_tekken_vocab_size(g_tk);
        for (size_t i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= vocab) abort();
        free(ids);
    }
    return 0;
}
