/* tekken.c — Mistral's Tekken tokenizer (docs/MODEL.md §1.3, §2.4): loads tekken.json and turns
 * UTF-8 text into token ids with tiktoken's semantics, which is what mistral-common uses.
 *
 * Loading: the file (or the same text from memory: vox_tekken_load_buffer, used for the copy
 * embedded in a GGUF model) is parsed with cJSON; only the first default_vocab_size -
 * default_num_special_tokens vocab entries are used (130072 for Voxtral: higher ranks would give
 * ids past the embedding table, §2.4), their base64 bytes go into one blob and an
 * open-addressing hash table maps byte strings to ranks.  Special tokens, missing ranks padded
 * with "<SPECIAL_i>" as mistral-common does, are kept only for lookup by name and decoding.
 *
 * Encoding: (1) the text must be valid UTF-8; (2) it is split with config.pattern compiled by
 * PCRE2 (UTF + UCP); (3) each piece is one token if its bytes are in the table, otherwise it
 * starts as single bytes and the adjacent pair whose concatenation has the lowest rank (the
 * leftmost on ties) is merged until no pair is in the table; (4) id = rank + num_special.
 * Special-token strings in the text are plain text.
 *
 * Two details make the C results match tiktoken's Rust regex rather than PCRE2's defaults:
 *  - tiktoken's \s is the Unicode White_Space property; PCRE2 10.42's \s with UCP also matches
 *    U+180E (MONGOLIAN VOWEL SEPARATOR, a format character since Unicode 6.3).  The pattern is
 *    therefore rewritten: \s and \S outside a class, and \s inside one, become explicit
 *    White_Space classes before compiling.  (\S inside a class is left as is.)
 *  - Step (3) uses a min-heap of candidate pairs keyed by (rank, position), so a long piece
 *    (a run of thousands of letters) costs O(n log n) instead of tiktoken's O(n^2); popping the
 *    smallest key that is still a live adjacent pair is exactly tiktoken's "lowest rank,
 *    leftmost" choice.
 * Characters whose Unicode category differs between PCRE2's tables (Unicode 14 for 10.42) and
 * tiktoken's (newer) can still split differently; see tests/tokenizer/corpus.txt. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "text/tekken.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A tekken.json larger than this is not a tokenizer file (the real one is ~15 MB). */
#define TEKKEN_MAX_FILE_BYTES ((size_t)1 << 30)

typedef struct {
    char *name;
    int frames;
} tekken_voice;

struct vox_tekken {
    int num_special;      /* config.default_num_special_tokens */
    int vocab_size;       /* config.default_vocab_size */
    size_t n_ranks;       /* vocab_size - num_special: ranks in use */
    uint8_t *tok_bytes;   /* bytes of ranks 0..n_ranks-1, concatenated */
    size_t *tok_off;      /* n_ranks + 1 offsets into tok_bytes */
    size_t max_tok_len;   /* longest token, to skip hopeless lookups */
    int32_t *table;       /* hash slot -> rank, -1 when empty */
    size_t table_mask;    /* slots - 1 (power of two) */
    int32_t byte_rank[256];
    char *special_blob;   /* num_special NUL-terminated strings */
    size_t *special_off;  /* num_special + 1 offsets into special_blob */
    tekken_voice *voices;
    size_t n_voices;
    pcre2_code *re;
};

/* ---------------------------------------------------------------- helpers */

static uint64_t hash_bytes(const uint8_t *p, size_t n) {
    /* FNV-1a with a final avalanche so the low bits used as the slot index are well mixed. */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static int32_t rank_of(const vox_tekken *tk, const uint8_t *p, size_t n) {
    if (n == 0 || n > tk->max_tok_len) return -1;
    if (n == 1) return tk->byte_rank[p[0]];
    size_t i = (size_t)hash_bytes(p, n) & tk->table_mask;
    for (;;) {
        int32_t r = tk->table[i];
        if (r < 0) return -1;
        size_t off = tk->tok_off[r];
        if (tk->tok_off[r + 1] - off == n && memcmp(tk->tok_bytes + off, p, n) == 0) return r;
        i = (i + 1) & tk->table_mask;
    }
}

/* Standard base64 (RFC 4648 alphabet, '=' padding, length a multiple of 4).  Writes at most
 * 3*len/4 bytes to out.  Returns the decoded length, or -1 if the text is not valid base64. */
static long base64_decode(const char *s, size_t len, uint8_t *out) {
    if (len % 4 != 0) return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            int d;
            if (c >= 'A' && c <= 'Z') d = c - 'A';
            else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
            else if (c >= '0' && c <= '9') d = c - '0' + 52;
            else if (c == '+') d = 62;
            else if (c == '/') d = 63;
            else if (c == '=' && i + 4 == len && k >= 2) {
                d = 0;
                pad++;
            } else {
                return -1;
            }
            if (pad && c != '=') return -1; /* data after padding */
            v = (v << 6) | (uint32_t)d;
        }
        out[o++] = (uint8_t)(v >> 16);
        if (pad < 2) out[o++] = (uint8_t)(v >> 8);
        if (pad < 1) out[o++] = (uint8_t)v;
    }
    return (long)o;
}

/* An integer-valued JSON number in [lo, hi]. */
static int json_int(const cJSON *v, long long lo, long long hi, long long *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!isfinite(d) || d != floor(d) || d < (double)lo || d > (double)hi) return 0;
    *out = (long long)d;
    return 1;
}

static int read_whole_file(const char *path, char **buf, size_t *len, vox_error *err) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return vox_fail(err, VOX_E_IO, "cannot open tekken file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return vox_fail(err, VOX_E_IO, "tekken file %s is not a regular file", path);
    }
    if (st.st_size <= 0 || (unsigned long long)st.st_size > TEKKEN_MAX_FILE_BYTES) {
        fclose(f);
        return vox_fail(err, VOX_E_FORMAT, "tekken file %s has implausible size %lld bytes", path,
                        (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    char *b = malloc(n + 1);
    if (!b) {
        fclose(f);
        return vox_fail(err, VOX_E_NOMEM, "out of memory reading %s (%zu bytes)", path, n);
    }
    size_t got = fread(b, 1, n, f);
    int rerr = ferror(f);
    fclose(f);
    if (got != n || rerr) {
        free(b);
        return vox_fail(err, VOX_E_IO, "short read on tekken file %s (%zu of %zu bytes)", path, got, n);
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return VOX_OK;
}

/* Unicode White_Space (PropList.txt), the set tiktoken's Rust regex uses for \s. */
#define WHITE_SPACE_SET                                                                        \
    "\\x{9}-\\x{d}\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}" \
    "\\x{205f}\\x{3000}"

/* Copy `pat` replacing \s / \S by explicit White_Space classes (see the header comment).
 * Tracks character classes, \Q...\E quoting, \cX and POSIX [:name:] so that only real \s
 * escapes are rewritten.  Returns NULL on allocation failure. */
static char *rewrite_white_space(const char *pat) {
    size_t n = strlen(pat), ws = strlen(WHITE_SPACE_SET);
    size_t cap = n + (n / 2 + 1) * (ws + 4) + 1;
    char *o = malloc(cap);
    if (!o) return NULL;
    size_t k = 0, i = 0;
    int in_class = 0;
#define EMIT(str, len)                 \
    do {                               \
        memcpy(o + k, (str), (len));   \
        k += (len);                    \
    } while (0)
    while (i < n) {
        char c = pat[i];
        if (c == '\\' && i + 1 < n) {
            char d = pat[i + 1];
            if (d == 'Q') { /* literal text up to \E */
                const char *e = strstr(pat + i + 2, "\\E");
                size_t end = e ? (size_t)(e - pat) + 2 : n;
                EMIT(pat + i, end - i);
                i = end;
            } else if (d == 's') {
                if (in_class) {
                    EMIT(WHITE_SPACE_SET, ws);
                } else {
                    EMIT("[", 1);
                    EMIT(WHITE_SPACE_SET, ws);
                    EMIT("]", 1);
                }
                i += 2;
            } else if (d == 'S' && !in_class) {
                EMIT("[^", 2);
                EMIT(WHITE_SPACE_SET, ws);
                EMIT("]", 1);
                i += 2;
            } else if (d == 'c' && i + 2 < n) { /* \cX: X may be '[' or '\' */
                EMIT(pat + i, 3);
                i += 3;
            } else {
                EMIT(pat + i, 2);
                i += 2;
            }
            continue;
        }
        if (!in_class && c == '[') {
            in_class = 1;
            EMIT(pat + i, 1);
            i++;
            if (i < n && pat[i] == '^') EMIT(pat + i++, 1);
            if (i < n && pat[i] == ']') EMIT(pat + i++, 1); /* leading ']' is literal */
            continue;
        }
        if (in_class && c == '[' && i + 1 < n && pat[i + 1] == ':') {
            const char *e = strstr(pat + i + 2, ":]");
            if (e) {
                size_t end = (size_t)(e - pat) + 2;
                EMIT(pat + i, end - i);
                i = end;
                continue;
            }
        }
        if (in_class && c == ']') in_class = 0;
        EMIT(pat + i, 1);
        i++;
    }
#undef EMIT
    o[k] = '\0';
    return o;
}

static int compile_pattern(vox_tekken *tk, const char *path, const char *pattern, vox_error *err) {
    const uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C;
    int code;
    PCRE2_SIZE off;
    /* Compile the file's pattern as written first, so errors point into what the user sees. */
    pcre2_code *orig = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
    if (!orig) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return vox_fail(err, VOX_E_FORMAT, "%s: config.pattern does not compile: %s at offset %zu",
                        path, (const char *)msg, (size_t)off);
    }
    pcre2_code_free(orig);
    char *rw = rewrite_white_space(pattern);
    if (!rw) return vox_fail(err, VOX_E_NOMEM, "out of memory compiling config.pattern of %s", path);
    tk->re = pcre2_compile((PCRE2_SPTR)rw, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
    if (!tk->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        int rc = vox_fail(err, VOX_E_INTERNAL,
                          "%s: config.pattern rewritten for Unicode White_Space does not compile: "
                          "%s at offset %zu of \"%s\"", path, (const char *)msg, (size_t)off, rw);
        free(rw);
        return rc;
    }
    free(rw);
    /* JIT is only a speed-up: when unavailable pcre2_match interprets the pattern. */
    (void)pcre2_jit_compile(tk->re, PCRE2_JIT_COMPLETE);
    return VOX_OK;
}

/* --------------------------------------------------------------- loading */

static int load_config(vox_tekken *tk, const char *path, const cJSON *root, const char **pattern,
                       vox_error *err) {
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    if (!cJSON_IsObject(cfg)) return vox_fail(err, VOX_E_FORMAT, "%s: missing \"config\" object", path);
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(cfg, "pattern");
    if (!cJSON_IsString(pat) || pat->valuestring[0] == '\0')
        return vox_fail(err, VOX_E_FORMAT, "%s: config.pattern missing or not a non-empty string", path);
    *pattern = pat->valuestring;
    long long vs, ns, nv;
    if (!json_int(cJSON_GetObjectItemCaseSensitive(cfg, "default_vocab_size"), 1, INT32_MAX, &vs))
        return vox_fail(err, VOX_E_FORMAT, "%s: config.default_vocab_size missing or not a positive integer", path);
    if (!json_int(cJSON_GetObjectItemCaseSensitive(cfg, "default_num_special_tokens"), 1, INT32_MAX, &ns))
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: config.default_num_special_tokens missing or not a positive integer", path);
    const cJSON *nvt = cJSON_GetObjectItemCaseSensitive(cfg, "num_vocab_tokens");
    if (nvt && !json_int(nvt, 1, INT32_MAX, &nv))
        return vox_fail(err, VOX_E_FORMAT, "%s: config.num_vocab_tokens is not a positive integer", path);
    /* 256 single bytes must be rankable for byte-level BPE to encode any text. */
    if (vs - ns < 256)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: default_vocab_size %lld - default_num_special_tokens %lld leaves fewer "
                        "than 256 BPE ranks", path, vs, ns);
    tk->vocab_size = (int)vs;
    tk->num_special = (int)ns;
    tk->n_ranks = (size_t)(vs - ns);
    return VOX_OK;
}

static int load_vocab(vox_tekken *tk, const char *path, const cJSON *root, vox_error *err) {
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(root, "vocab");
    if (!cJSON_IsArray(vocab)) return vox_fail(err, VOX_E_FORMAT, "%s: missing \"vocab\" array", path);
    /* Walk the linked list once to size the byte blob (base64 gives at most 3 bytes per 4). */
    size_t count = 0, cap = 0;
    const cJSON *e = vocab->child;
    for (; e && count < tk->n_ranks; e = e->next, count++) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(e, "token_bytes");
        if (!cJSON_IsString(b))
            return vox_fail(err, VOX_E_FORMAT, "%s: vocab[%zu].token_bytes missing or not a string", path, count);
        cap += strlen(b->valuestring) / 4 * 3;
    }
    if (count < tk->n_ranks)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: vocab has %zu entries but default_vocab_size - default_num_special_tokens = %zu",
                        path, count, tk->n_ranks);
    tk->tok_bytes = malloc(cap ? cap : 1);
    tk->tok_off = malloc((tk->n_ranks + 1) * sizeof *tk->tok_off);
    if (!tk->tok_bytes || !tk->tok_off)
        return vox_fail(err, VOX_E_NOMEM, "out of memory loading the vocab of %s", path);
    size_t used = 0, max_len = 0;
    e = vocab->child;
    for (size_t i = 0; i < tk->n_ranks; i++, e = e->next) {
        long long rank;
        if (!json_int(cJSON_GetObjectItemCaseSensitive(e, "rank"), 0, INT32_MAX, &rank))
            return vox_fail(err, VOX_E_FORMAT, "%s: vocab[%zu].rank missing or not an integer", path, i);
        if ((size_t)rank != i)
            return vox_fail(err, VOX_E_FORMAT, "%s: vocab[%zu] has rank %lld (ranks must equal their index)",
                            path, i, rank);
        const char *b64 = cJSON_GetObjectItemCaseSensitive(e, "token_bytes")->valuestring;
        long n = base64_decode(b64, strlen(b64), tk->tok_bytes + used);
        if (n < 0)
            return vox_fail(err, VOX_E_FORMAT, "%s: vocab[%zu].token_bytes \"%.64s\" is not valid base64",
                            path, i, b64);
        if (n == 0) return vox_fail(err, VOX_E_FORMAT, "%s: vocab[%zu].token_bytes is empty", path, i);
        tk->tok_off[i] = used;
        used += (size_t)n;
        if ((size_t)n > max_len) max_len = (size_t)n;
    }
    tk->tok_off[tk->n_ranks] = used;
    tk->max_tok_len = max_len;

    /* Hash table at most half full: lookups stay short with linear probing. */
    size_t slots = 1;
    while (slots < 2 * tk->n_ranks) slots <<= 1;
    tk->table = malloc(slots * sizeof *tk->table);
    if (!tk->table) return vox_fail(err, VOX_E_NOMEM, "out of memory hashing the vocab of %s", path);
    memset(tk->table, 0xff, slots * sizeof *tk->table); /* all -1 */
    tk->table_mask = slots - 1;
    for (int b = 0; b < 256; b++) tk->byte_rank[b] = -1;
    for (size_t r = 0; r < tk->n_ranks; r++) {
        const uint8_t *p = tk->tok_bytes + tk->tok_off[r];
        size_t n = tk->tok_off[r + 1] - tk->tok_off[r];
        size_t i = (size_t)hash_bytes(p, n) & tk->table_mask;
        for (;;) {
            int32_t o = tk->table[i];
            if (o < 0) break;
            if (tk->tok_off[o + 1] - tk->tok_off[o] == n && memcmp(tk->tok_bytes + tk->tok_off[o], p, n) == 0)
                return vox_fail(err, VOX_E_FORMAT, "%s: vocab ranks %d and %zu have the same token_bytes",
                                path, (int)o, r);
            i = (i + 1) & tk->table_mask;
        }
        tk->table[i] = (int32_t)r;
        if (n == 1) tk->byte_rank[p[0]] = (int32_t)r;
    }
    for (int b = 0; b < 256; b++)
        if (tk->byte_rank[b] < 0)
            return vox_fail(err, VOX_E_FORMAT,
                            "%s: byte 0x%02X has no rank below %zu: byte-level BPE needs all 256 bytes",
                            path, b, tk->n_ranks);
    return VOX_OK;
}

static int load_special(vox_tekken *tk, const char *path, const cJSON *root, vox_error *err) {
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(root, "special_tokens");
    if (!cJSON_IsArray(sp)) return vox_fail(err, VOX_E_FORMAT, "%s: missing \"special_tokens\" array", path);
    size_t ns = (size_t)tk->num_special;
    const char **name = calloc(ns, sizeof *name);
    if (!name) return vox_fail(err, VOX_E_NOMEM, "out of memory loading special tokens of %s", path);
    int rc = VOX_OK;
    size_t idx = 0;
    for (const cJSON *e = sp->child; e; e = e->next, idx++) {
        long long rank;
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "token_str");
        if (!json_int(cJSON_GetObjectItemCaseSensitive(e, "rank"), 0, INT32_MAX, &rank)) {
            rc = vox_fail(err, VOX_E_FORMAT, "%s: special_tokens[%zu].rank missing or not an integer", path, idx);
            goto out;
        }
        if ((size_t)rank >= ns) {
            rc = vox_fail(err, VOX_E_FORMAT,
                          "%s: special_tokens[%zu].rank %lld is not below default_num_special_tokens %zu",
                          path, idx, rank, ns);
            goto out;
        }
        if (!cJSON_IsString(s) || s->valuestring[0] == '\0') {
            rc = vox_fail(err, VOX_E_FORMAT, "%s: special_tokens[%zu].token_str missing or empty", path, idx);
            goto out;
        }
        if (name[rank]) {
            rc = vox_fail(err, VOX_E_FORMAT, "%s: special token rank %lld given twice", path, rank);
            goto out;
        }
        name[rank] = s->valuestring;
    }
    /* Missing ranks become "<SPECIAL_i>", as mistral-common pads them. */
    char pad[32];
    size_t total = 0;
    for (size_t i = 0; i < ns; i++)
        total += (name[i] ? strlen(name[i]) : (size_t)snprintf(pad, sizeof pad, "<SPECIAL_%zu>", i)) + 1;
    tk->special_blob = malloc(total);
    tk->special_off = malloc((ns + 1) * sizeof *tk->special_off);
    if (!tk->special_blob || !tk->special_off) {
        rc = vox_fail(err, VOX_E_NOMEM, "out of memory loading special tokens of %s", path);
        goto out;
    }
    size_t at = 0;
    for (size_t i = 0; i < ns; i++) {
        tk->special_off[i] = at;
        if (name[i]) {
            size_t n = strlen(name[i]) + 1;
            memcpy(tk->special_blob + at, name[i], n);
            at += n;
        } else {
            at += (size_t)snprintf(tk->special_blob + at, total - at, "<SPECIAL_%zu>", i) + 1;
        }
    }
    tk->special_off[ns] = at;
out:
    free(name);
    return rc;
}

static int load_voices(vox_tekken *tk, const char *path, const cJSON *root, vox_error *err) {
    const cJSON *audio = cJSON_GetObjectItemCaseSensitive(root, "audio");
    if (!audio || cJSON_IsNull(audio)) return VOX_OK; /* text-only tokenizer files have none */
    if (!cJSON_IsObject(audio)) return vox_fail(err, VOX_E_FORMAT, "%s: \"audio\" is not an object", path);
    const cJSON *vn = cJSON_GetObjectItemCaseSensitive(audio, "voice_num_audio_tokens");
    if (!vn || cJSON_IsNull(vn)) return VOX_OK;
    if (!cJSON_IsObject(vn))
        return vox_fail(err, VOX_E_FORMAT, "%s: audio.voice_num_audio_tokens is not an object", path);
    size_t n = (size_t)cJSON_GetArraySize(vn);
    if (n == 0) return VOX_OK;
    tk->voices = calloc(n, sizeof *tk->voices);
    if (!tk->voices) return vox_fail(err, VOX_E_NOMEM, "out of memory loading voices of %s", path);
    for (const cJSON *e = vn->child; e; e = e->next) {
        long long frames;
        if (!e->string || !json_int(e, 1, INT32_MAX, &frames))
            return vox_fail(err, VOX_E_FORMAT,
                            "%s: audio.voice_num_audio_tokens[\"%s\"] is not a positive integer", path,
                            e->string ? e->string : "?");
        tekken_voice *v = &tk->voices[tk->n_voices];
        v->name = strdup(e->string);
        if (!v->name) return vox_fail(err, VOX_E_NOMEM, "out of memory loading voices of %s", path);
        v->frames = (int)frames;
        tk->n_voices++;
    }
    return VOX_OK;
}

int vox_tekken_load_buffer(const char *json, size_t len, const char *label, vox_tekken **out,
                           vox_error *err) {
    if (!out) return vox_fail(err, VOX_E_ARG, "vox_tekken_load_buffer: out is NULL");
    *out = NULL;
    if (!label) label = "tekken.json";
    if (!json || len == 0) return vox_fail(err, VOX_E_FORMAT, "%s: empty tokenizer JSON", label);
    if (len > TEKKEN_MAX_FILE_BYTES)
        return vox_fail(err, VOX_E_FORMAT, "%s: implausible tokenizer JSON size %zu bytes", label, len);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t at = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
        return vox_fail(err, VOX_E_FORMAT, "%s: not valid JSON (parse error near byte %zu)", label, at);
    }
    vox_tekken *tk = calloc(1, sizeof *tk);
    const char *pattern = NULL;
    int rc;
    if (!tk) {
        rc = vox_fail(err, VOX_E_NOMEM, "out of memory loading %s", label);
    } else if (!cJSON_IsObject(root)) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: top level is not a JSON object", label);
    } else if (!(rc = load_config(tk, label, root, &pattern, err)) && !(rc = load_vocab(tk, label, root, err)) &&
               !(rc = load_special(tk, label, root, err)) && !(rc = load_voices(tk, label, root, err))) {
        rc = compile_pattern(tk, label, pattern, err);
    }
    cJSON_Delete(root);
    if (rc) {
        vox_tekken_free(tk);
        return rc;
    }
    *out = tk;
    return VOX_OK;
}

int vox_tekken_load(const char *path, vox_tekken **out, vox_error *err) {
    if (!out) return vox_fail(err, VOX_E_ARG, "vox_tekken_load: out is NULL");
    *out = NULL;
    if (!path) return vox_fail(err, VOX_E_ARG, "vox_tekken_load: path is NULL");
    char *buf;
    size_t len;
    int rc = read_whole_file(path, &buf, &len, err);
    if (rc) return rc;
    rc = vox_tekken_load_buffer(buf, len, path, out, err);
    free(buf);
    return rc;
}

void vox_tekken_free(vox_tekken *tk) {
    if (!tk) return;
    free(tk->tok_bytes);
    free(tk->tok_off);
    free(tk->table);
    free(tk->special_blob);
    free(tk->special_off);
    for (size_t i = 0; i < tk->n_voices; i++) free(tk->voices[i].name);
    free(tk->voices);
    pcre2_code_free(tk->re);
    free(tk);
}

/* -------------------------------------------------------------- encoding */

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF.
 * Returns VOX_OK or VOX_E_ARG with the byte offset of the first bad sequence. */
static int check_utf8(const uint8_t *s, size_t len, vox_error *err) {
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need = 0;
        uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        const char *why = NULL;
        if (c < 0xC0) why = "unexpected continuation byte";
        else if (c < 0xC2) why = "overlong 2-byte sequence";
        else if (c < 0xE0) need = 1;
        else if (c < 0xF0) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;      /* overlong below U+0800 */
            else if (c == 0xED) hi = 0x9F; /* UTF-16 surrogates U+D800..U+DFFF */
        } else if (c < 0xF5) {
            need = 3;
            if (c == 0xF0) lo = 0x90;      /* overlong below U+10000 */
            else if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
        } else {
            why = "byte never used in UTF-8";
        }
        if (why)
            return vox_fail(err, VOX_E_ARG, "text is not valid UTF-8 at byte offset %zu (0x%02X: %s)", i, c, why);
        if (len - i <= need)
            return vox_fail(err, VOX_E_ARG,
                            "text is not valid UTF-8 at byte offset %zu (0x%02X: sequence truncated by end of text)",
                            i, c);
        for (size_t k = 1; k <= need; k++) {
            uint8_t d = s[i + k];
            uint8_t l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
            if (d < l || d > h) {
                const char *w = (d & 0xC0) != 0x80 ? "truncated sequence"
                                : c == 0xED        ? "encoded UTF-16 surrogate"
                                : c == 0xF4        ? "code point above U+10FFFF"
                                                   : "overlong sequence";
                return vox_fail(err, VOX_E_ARG, "text is not valid UTF-8 at byte offset %zu (0x%02X 0x%02X: %s)",
                                i, c, d, w);
            }
        }
        i += need + 1;
    }
    return VOX_OK;
}

typedef struct {
    uint32_t rank;
    size_t start, end; /* the pair covers bytes [start, end) of the piece */
} bpe_cand;

typedef struct {
    size_t cap;       /* pieces up to cap bytes fit */
    size_t *next;     /* start of the next part, for live part starts */
    size_t *prev;     /* start of the previous part (SIZE_MAX: none) */
    int32_t *prank;   /* rank of the part starting here; -1 once merged away */
    bpe_cand *heap;   /* 3*cap candidates: n-1 initial + at most 2 per merge */
    int32_t *ids;
    size_t n_ids, ids_cap;
} bpe_work;

static int work_reserve(bpe_work *w, size_t n) {
    if (n <= w->cap) return 0;
    size_t c = w->cap ? w->cap : 64;
    while (c < n) c *= 2;
    size_t *nx = realloc(w->next, c * sizeof *nx);
    if (!nx) return -1;
    w->next = nx;
    size_t *pv = realloc(w->prev, c * sizeof *pv);
    if (!pv) return -1;
    w->prev = pv;
    int32_t *pr = realloc(w->prank, c * sizeof *pr);
    if (!pr) return -1;
    w->prank = pr;
    bpe_cand *h = realloc(w->heap, 3 * c * sizeof *h);
    if (!h) return -1;
    w->heap = h;
    w->cap = c;
    return 0;
}

static int push_id(bpe_work *w, int32_t id) {
    if (w->n_ids == w->ids_cap) {
        size_t c = w->ids_cap ? 2 * w->ids_cap : 256;
        int32_t *p = realloc(w->ids, c * sizeof *p);
        if (!p) return -1;
        w->ids = p;
        w->ids_cap = c;
    }
    w->ids[w->n_ids++] = id;
    return 0;
}

static int cand_less(const bpe_cand *a, const bpe_cand *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->start < b->start;
}

static void heap_push(bpe_cand *h, size_t *n, bpe_cand c) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(&c, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static bpe_cand heap_pop(bpe_cand *h, size_t *n) {
    bpe_cand top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= *n) break;
        size_t m = l + 1 < *n && cand_less(&h[l + 1], &h[l]) ? l + 1 : l;
        if (!cand_less(&h[m], &last)) break;
        h[i] = h[m];
        i = m;
    }
    if (*n > 0) h[i] = last;
    return top;
}

/* Byte-pair-encode one regex piece (docs/MODEL.md §2.4 step 2), appending ids to w->ids. */
static int encode_piece(const vox_tekken *tk, const uint8_t *p, size_t n, bpe_work *w) {
    int32_t whole = rank_of(tk, p, n);
    if (whole >= 0) return push_id(w, whole + tk->num_special);
    if (work_reserve(w, n)) return -1;
    size_t *next = w->next, *prev = w->prev, nh = 0;
    int32_t *prank = w->prank;
    bpe_cand *heap = w->heap;
    for (size_t i = 0; i < n; i++) {
        next[i] = i + 1;
        prev[i] = i ? i - 1 : SIZE_MAX;
        prank[i] = tk->byte_rank[p[i]];
    }
    for (size_t i = 0; i + 1 < n; i++) {
        int32_t r = rank_of(tk, p + i, 2);
        if (r >= 0) heap_push(heap, &nh, (bpe_cand){(uint32_t)r, i, i + 2});
    }
    while (nh > 0) {
        bpe_cand c = heap_pop(heap, &nh);
        /* Still a pair of two adjacent live parts spanning exactly [start, end)? */
        if (prank[c.start] < 0) continue;
        size_t m = next[c.start];
        if (m >= n || next[m] != c.end) continue;
        prank[c.start] = (int32_t)c.rank;
        prank[m] = -1;
        next[c.start] = c.end;
        if (c.end < n) prev[c.end] = c.start;
        if (prev[c.start] != SIZE_MAX) {
            size_t a = prev[c.start];
            int32_t r = rank_of(tk, p + a, c.end - a);
            if (r >= 0) heap_push(heap, &nh, (bpe_cand){(uint32_t)r, a, c.end});
        }
        if (c.end < n) {
            size_t b = next[c.end];
            int32_t r = rank_of(tk, p + c.start, b - c.start);
            if (r >= 0) heap_push(heap, &nh, (bpe_cand){(uint32_t)r, c.start, b});
        }
    }
    for (size_t s = 0; s < n; s = next[s])
        if (push_id(w, prank[s] + tk->num_special)) return -1;
    return 0;
}

static size_t utf8_char_len(uint8_t c) {
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

int vox_tekken_encode(const vox_tekken *tk, const char *text, size_t len, int32_t **ids,
                      size_t *n_ids, vox_error *err) {
    if (!ids || !n_ids) return vox_fail(err, VOX_E_ARG, "vox_tekken_encode: ids or n_ids is NULL");
    *ids = NULL;
    *n_ids = 0;
    if (!tk) return vox_fail(err, VOX_E_ARG, "vox_tekken_encode: tokenizer is NULL");
    if (!text && len) return vox_fail(err, VOX_E_ARG, "vox_tekken_encode: text is NULL");
    const uint8_t *s = (const uint8_t *)text;
    int rc = check_utf8(s, len, err);
    if (rc) return rc;

    bpe_work w = {0};
    pcre2_match_data *md = NULL;
    if (push_id(&w, 0)) goto nomem; /* *ids is never NULL on success, even for empty text */
    w.n_ids = 0;
    if (len > 0) {
        md = pcre2_match_data_create_from_pattern(tk->re, NULL);
        if (!md) goto nomem;
    }
    size_t pos = 0;
    while (pos < len) {
        /* Already validated above, so PCRE2 need not re-check the UTF-8 at every match. */
        int m = pcre2_match(tk->re, s, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
        if (m == PCRE2_ERROR_JIT_STACKLIMIT) /* deep backtracking: the interpreter has no such limit */
            m = pcre2_match(tk->re, s, len, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
        if (m == PCRE2_ERROR_NOMATCH) break; /* the rest matches nothing: dropped, as tiktoken does */
        if (m < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(m, msg, sizeof msg);
            rc = vox_fail(err, VOX_E_ARG, "splitting text at byte offset %zu failed: %s", pos, (const char *)msg);
            goto fail;
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a = (size_t)ov[0], b = (size_t)ov[1];
        if (b < a || b > len || a < pos) {
            rc = vox_fail(err, VOX_E_INTERNAL, "split pattern returned a bad match [%zu, %zu) at %zu", a, b, pos);
            goto fail;
        }
        if (b == a) { /* empty match: skip one character, as JavaScript and tiktoken do */
            pos = a + (a < len ? utf8_char_len(s[a]) : 1);
            continue;
        }
        if (encode_piece(tk, s + a, b - a, &w)) goto nomem;
        pos = b;
    }
    pcre2_match_data_free(md);
    free(w.next);
    free(w.prev);
    free(w.prank);
    free(w.heap);
    *ids = w.ids;
    *n_ids = w.n_ids;
    return VOX_OK;
nomem:
    rc = vox_fail(err, VOX_E_NOMEM, "out of memory encoding %zu bytes of text", len);
fail:
    pcre2_match_data_free(md);
    free(w.next);
    free(w.prev);
    free(w.prank);
    free(w.heap);
    free(w.ids);
    return rc;
}

/* --------------------------------------------------------------- queries */

int vox_tekken_special_id(const vox_tekken *tk, const char *token_str) {
    if (!tk || !token_str) return -1;
    for (int i = 0; i < tk->num_special; i++)
        if (strcmp(tk->special_blob + tk->special_off[i], token_str) == 0) return i;
    return -1;
}

int vox_tekken_num_special(const vox_tekken *tk) { return tk ? tk->num_special : 0; }

int vox_tekken_vocab_size(const vox_tekken *tk) { return tk ? tk->vocab_size : 0; }

int vox_tekken_voice_num_tokens(const vox_tekken *tk, const char *voice) {
    if (!tk || !voice) return -1;
    for (size_t i = 0; i < tk->n_voices; i++)
        if (strcmp(tk->voices[i].name, voice) == 0) return tk->voices[i].frames;
    return -1;
}

int vox_tekken_num_voices(const vox_tekken *tk) { return tk ? (int)tk->n_voices : 0; }

const char *vox_tekken_voice_name(const vox_tekken *tk, int i) {
    if (!tk || i < 0 || (size_t)i >= tk->n_voices) return NULL;
    return tk->voices[i].name;
}

const uint8_t *vox_tekken_token_bytes(const vox_tekken *tk, int id, size_t *len) {
    if (len) *len = 0;
    if (!tk || id < 0) return NULL;
    if (id < tk->num_special) {
        size_t o = tk->special_off[id];
        if (len) *len = tk->special_off[id + 1] - o - 1; /* without the NUL */
        return (const uint8_t *)tk->special_blob + o;
    }
    size_t r = (size_t)id - (size_t)tk->num_special;
    if (r >= tk->n_ranks) return NULL;
    if (len) *len = tk->tok_off[r + 1] - tk->tok_off[r];
    return tk->tok_bytes + tk->tok_off[r];
}
