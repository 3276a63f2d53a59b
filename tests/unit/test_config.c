/* test_config.c — params.json parsing against the official file (docs/MODEL.md §1.1)
 * and against edited copies of it: absent defaults, the codec window derivation
 * (§6.2), code offsets and padded table sizes (§4, §13), voice ordering, and
 * every malformed variant (missing keys with their full path, wrong types, bad
 * "*_str" lists, inconsistent sizes, broken JSON). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "voxtral/config.h"

static char *g_official; /* text of tests/data/params_official.json */
static char g_official_path[512];

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) b[n] = 0;
    fclose(f);
    return b;
}

/* The data file, from the repo root (make test) or from build/tests. */
static int find_official(void) {
    const char *env = getenv("VOX_TEST_DATA");
    const char *dirs[] = {env ? env : "", "tests/data", "../tests/data", "../../tests/data"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i][0]) continue;
        snprintf(g_official_path, sizeof g_official_path, "%s/params_official.json", dirs[i]);
        if (access(g_official_path, R_OK) == 0) return 1;
    }
    return 0;
}

static void test_official(void) {
    vox_config c;
    vox_error err = {0};
    int rc = vox_config_load(g_official_path, &c, &err);
    CHECK(rc == VOX_OK, "load official: %s", err.msg);
    if (rc) return;
    CHECK(c.llm.dim == 3072 && c.llm.n_layers == 26 && c.llm.head_dim == 128 &&
              c.llm.hidden_dim == 9216 && c.llm.n_heads == 32 && c.llm.n_kv_heads == 8,
          "llm dims");
    CHECK(c.llm.norm_eps == 1e-5f && c.llm.rope_theta == 1e6, "llm eps/theta");
    CHECK(c.vocab_size == 131072 && c.bos_token_id == 1 && c.audio_token_id == 24 &&
              c.begin_audio_token_id == 25,
          "ids");
    CHECK(c.semantic_codebook_size == 8192 && c.acoustic_codebook_size == 21 &&
              c.n_acoustic_codebook == 36 && c.n_codebooks == 37,
          "codebooks");
    CHECK(c.sampling_rate == 24000 && c.frame_rate == 12.5, "rates");
    CHECK(c.acoustic.dim == 3072 && c.acoustic.n_layers == 3 && c.acoustic.head_dim == 128 &&
              c.acoustic.hidden_dim == 9216 && c.acoustic.n_heads == 32 && c.acoustic.n_kv_heads == 8 &&
              c.acoustic_input_dim == 3072,
          "acoustic dims");
    CHECK(c.acoustic.norm_eps == 1e-5f, "acoustic eps default");
    CHECK(c.n_decoding_steps == 7, "steps default 7 (got %d)", c.n_decoding_steps);
    CHECK(c.codec.channels == 1 && c.codec.sampling_rate == 24000 && c.codec.patch_size == 240 &&
              c.codec.patch_proj_kernel_size == 7 && c.codec.semantic_codebook_size == 8192 &&
              c.codec.semantic_dim == 256 && c.codec.acoustic_codebook_size == 21 &&
              c.codec.acoustic_dim == 36,
          "codec sizes");
    CHECK(c.codec.conv_weight_norm == 1 && c.codec.causal == 1 && c.codec.attn_sliding_window_size == 16 &&
              c.codec.half_attn_window_upon_downsampling == 1 && c.codec.qk_norm == 1 &&
              c.codec.layer_scale == 1,
          "codec flags");
    CHECK(c.codec.dim == 1024 && c.codec.hidden_dim == 4096 && c.codec.head_dim == 128 &&
              c.codec.n_heads == 8 && c.codec.n_kv_heads == 8,
          "codec transformer");
    CHECK(c.codec.qk_norm_eps == 1e-6f && c.codec.norm_eps == 1e-2f, "codec eps");
    CHECK(c.codec.n_stages == 4, "stages");
    int tl[4] = {2, 2, 2, 2}, ck[4] = {3, 4, 4, 4}, cs[4] = {1, 2, 2, 2}, win[4] = {2, 4, 8, 16};
    for (int i = 0; i < 4; i++) {
        CHECK(c.codec.transformer_lengths[i] == tl[i] && c.codec.conv_kernels[i] == ck[i] &&
                  c.codec.conv_strides[i] == cs[i],
              "stage %d lists", i);
        CHECK(c.codec.window[i] == win[i], "window %d = %d, want %d", i, c.codec.window[i], win[i]);
    }
    CHECK(c.codec.samples_per_frame == 1920, "samples per frame %d", c.codec.samples_per_frame);
    CHECK(c.codec.has_encoder_keys == 0, "no encoder keys");
    CHECK(vox_config_codebook_offset(&c, 0) == 0 && vox_config_codebook_offset(&c, 1) == 8194 &&
              vox_config_codebook_offset(&c, 2) == 8217 && vox_config_codebook_offset(&c, 36) == 8999,
          "offsets");
    CHECK(vox_config_codebook_offset(&c, 37) == -1 && vox_config_codebook_offset(&c, -1) == -1, "offset range");
    CHECK(vox_config_audio_table_rows(&c) == 9088, "table rows %d", vox_config_audio_table_rows(&c));
    CHECK(vox_config_semantic_head_rows(&c) == 8320, "head rows %d", vox_config_semantic_head_rows(&c));
    const char *voices[20] = {"casual_female", "casual_male", "cheerful_female", "neutral_female",
                              "neutral_male", "pt_male", "pt_female", "nl_male", "nl_female", "it_male",
                              "it_female", "fr_male", "fr_female", "es_male", "es_female", "de_male",
                              "de_female", "ar_male", "hi_male", "hi_female"};
    CHECK(c.n_voices == 20, "20 voices (%d)", c.n_voices);
    for (int i = 0; i < 20 && i < c.n_voices; i++)
        CHECK(strcmp(c.voice_names[i], voices[i]) == 0, "voice %d: %s", i, c.voice_names[i]);
    vox_config_free(&c);
    CHECK(c.n_voices == 0, "free clears");
}

/* Edit a copy of the official JSON: `edit` gets the root object. */
typedef void (*edit_fn)(cJSON *root);

static cJSON *at(cJSON *root, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    cJSON *o = root;
    for (char *tok = strtok(buf, "."); tok && o; tok = strtok(NULL, "."))
        o = cJSON_GetObjectItemCaseSensitive(o, tok);
    return o;
}

/* Parse the official text after replacing (or with v == NULL deleting) key `path`. */
static int parse_edited(const char *path, cJSON *v, vox_config *c, vox_error *err) {
    cJSON *root = cJSON_Parse(g_official);
    char parent[256];
    snprintf(parent, sizeof parent, "%s", path);
    char *dot = strrchr(parent, '.');
    const char *key = path;
    cJSON *obj = root;
    if (dot) {
        *dot = 0;
        key = dot + 1;
        obj = at(root, parent);
    }
    if (v) {
        if (cJSON_GetObjectItemCaseSensitive(obj, key)) cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
        else cJSON_AddItemToObject(obj, key, v);
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    }
    char *txt = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    int rc = vox_config_parse(txt, strlen(txt), "params.json", c, err);
    free(txt);
    return rc;
}

static void expect_edit_fail(const char *path, cJSON *v, int code, const char *msg_part) {
    vox_config c;
    vox_error err = {0};
    int rc = parse_edited(path, v, &c, &err);
    CHECK(rc == code, "%s: rc %d want %d (%s)", path, rc, code, err.msg);
    CHECK(strncmp(err.msg, "params.json: ", 13) == 0, "%s: message names the file: %s", path, err.msg);
    if (msg_part) CHECK(strstr(err.msg, msg_part) != NULL, "%s: message lacks '%s': %s", path, msg_part, err.msg);
    CHECK(c.n_voices == 0, "%s: nothing left allocated", path);
    if (rc == VOX_OK) vox_config_free(&c);
}

static void test_edits(void) {
    vox_config c;
    vox_error err = {0};
    const char *TK = "multimodal.audio_tokenizer_args", *AT = "multimodal.audio_model_args.acoustic_transformer_args";
    char k[256];
#define K(base, leaf) (snprintf(k, sizeof k, "%s.%s", base, leaf), k)

    /* missing keys: VOX_E_MISSING with the full key path */
    expect_edit_fail("multimodal.audio_model_args.n_acoustic_codebook", NULL, VOX_E_MISSING,
                     "params.json: missing multimodal.audio_model_args.n_acoustic_codebook");
    expect_edit_fail("dim", NULL, VOX_E_MISSING, "params.json: missing dim");
    expect_edit_fail("multimodal.audio_tokenizer_args", NULL, VOX_E_MISSING, "missing multimodal.audio_tokenizer_args");
    expect_edit_fail(K(TK, "decoder_convs_strides_str"), NULL, VOX_E_MISSING, "decoder_convs_strides_str");
    expect_edit_fail(K(AT, "n_kv_heads"), NULL, VOX_E_MISSING, "acoustic_transformer_args.n_kv_heads");
    expect_edit_fail(K(TK, "qk_norm"), NULL, VOX_E_MISSING, "audio_tokenizer_args.qk_norm");

    /* wrong JSON types: VOX_E_FORMAT */
    expect_edit_fail("dim", cJSON_CreateString("3072"), VOX_E_FORMAT, "dim must be an integer");
    expect_edit_fail("n_layers", cJSON_CreateNumber(26.5), VOX_E_FORMAT, "n_layers");
    expect_edit_fail("n_layers", cJSON_CreateNumber(1e300), VOX_E_FORMAT, "n_layers");
    expect_edit_fail("norm_eps", cJSON_CreateString("1e-5"), VOX_E_FORMAT, "norm_eps");
    expect_edit_fail(K(TK, "conv_weight_norm"), cJSON_CreateNumber(1), VOX_E_FORMAT, "conv_weight_norm");
    expect_edit_fail(K(TK, "decoder_convs_kernels_str"), cJSON_CreateIntArray((int[]){3, 4, 4, 4}, 4),
                     VOX_E_FORMAT, "decoder_convs_kernels_str");
    expect_edit_fail("multimodal", cJSON_CreateArray(), VOX_E_FORMAT, "multimodal must be an object");
    expect_edit_fail(K(TK, "voice"), cJSON_CreateString("casual_female"), VOX_E_FORMAT, "voice");

    /* bad values */
    expect_edit_fail("dim", cJSON_CreateNumber(0), VOX_E_FORMAT, "dim must be positive");
    expect_edit_fail("n_kv_heads", cJSON_CreateNumber(-8), VOX_E_FORMAT, "n_kv_heads");
    expect_edit_fail("n_heads", cJSON_CreateNumber(30), VOX_E_FORMAT, "n_kv_heads");
    expect_edit_fail(K(TK, "n_kv_heads"), cJSON_CreateNumber(3), VOX_E_FORMAT, "n_kv_heads");
    expect_edit_fail(K(TK, "decoder_convs_strides_str"), cJSON_CreateString("1,2,x,2"), VOX_E_FORMAT, "\"1,2,x,2\"");
    expect_edit_fail(K(TK, "decoder_convs_strides_str"), cJSON_CreateString("1,2,,2"), VOX_E_FORMAT, "strides");
    expect_edit_fail(K(TK, "decoder_convs_strides_str"), cJSON_CreateString(""), VOX_E_FORMAT, "strides");
    expect_edit_fail(K(TK, "decoder_convs_strides_str"), cJSON_CreateString("1,2,2,"), VOX_E_FORMAT, "strides");
    expect_edit_fail(K(TK, "decoder_convs_strides_str"), cJSON_CreateString("1,0,2,2"), VOX_E_FORMAT, "strides");
    expect_edit_fail(K(TK, "decoder_convs_strides_str"), cJSON_CreateString("1,2,2"), VOX_E_FORMAT, "entries");
    expect_edit_fail(K(TK, "decoder_transformer_lengths_str"),
                     cJSON_CreateString("1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1"), VOX_E_UNSUPPORTED, "entries");
    expect_edit_fail(K(TK, "attn_sliding_window_size"), cJSON_CreateNumber(4), VOX_E_FORMAT, "too small");
    expect_edit_fail("multimodal.audio_model_args.audio_encoding_args.num_codebooks", cJSON_CreateNumber(38),
                     VOX_E_FORMAT, "num_codebooks");
    expect_edit_fail(K(TK, "acoustic_dim"), cJSON_CreateNumber(35), VOX_E_FORMAT, "disagree");
    expect_edit_fail(K(TK, "sampling_rate"), cJSON_CreateNumber(16000), VOX_E_FORMAT, "sampling_rate");
    expect_edit_fail("multimodal.audio_model_args.audio_token_id", cJSON_CreateNumber(131072), VOX_E_FORMAT,
                     "audio_token_id");
    expect_edit_fail("use_biases", cJSON_CreateTrue(), VOX_E_UNSUPPORTED, "use_biases");
    expect_edit_fail(K(AT, "n_decoding_steps"), cJSON_CreateNumber(0), VOX_E_FORMAT, "n_decoding_steps");

    /* voices: duplicates, shared indices, unsafe names */
    cJSON *v = cJSON_CreateObject();
    cJSON_AddNumberToObject(v, "a", 0);
    cJSON_AddNumberToObject(v, "b", 0);
    expect_edit_fail(K(TK, "voice"), v, VOX_E_FORMAT, "share index");
    v = cJSON_CreateObject();
    cJSON_AddNumberToObject(v, "../../etc/passwd", 0);
    expect_edit_fail(K(TK, "voice"), v, VOX_E_FORMAT, "invalid voice name");
    v = cJSON_CreateObject();
    cJSON_AddNumberToObject(v, "a", -1);
    expect_edit_fail(K(TK, "voice"), v, VOX_E_FORMAT, "index");
    const char *dup[2] = {"x", "x"};
    expect_edit_fail(K(TK, "voice"), cJSON_CreateStringArray(dup, 2), VOX_E_FORMAT, "twice");

    /* accepted edits */
    int rc = parse_edited(K(AT, "n_decoding_steps"), cJSON_CreateNumber(4), &c, &err);
    CHECK(rc == VOX_OK && c.n_decoding_steps == 4, "explicit steps: %s", err.msg);
    vox_config_free(&c);
    rc = parse_edited(K(AT, "norm_eps"), cJSON_CreateNumber(1e-6), &c, &err);
    CHECK(rc == VOX_OK && c.acoustic.norm_eps == 1e-6f, "explicit acoustic eps: %s", err.msg);
    vox_config_free(&c);
    rc = parse_edited(K(TK, "half_attn_window_upon_downsampling"), cJSON_CreateFalse(), &c, &err);
    CHECK(rc == VOX_OK && c.codec.window[0] == 16 && c.codec.window[3] == 16, "no halving: windows 16");
    vox_config_free(&c);
    rc = parse_edited(K(TK, "decoder_convs_strides_str"), cJSON_CreateString("2, 2,2 ,1"), &c, &err);
    CHECK(rc == VOX_OK && c.codec.window[0] == 4 && c.codec.window[1] == 8 && c.codec.window[2] == 16 &&
              c.codec.window[3] == 16 && c.codec.samples_per_frame == 1920,
          "strides 2,2,2,1: windows %d %d %d %d (%s)", c.codec.window[0], c.codec.window[1],
          c.codec.window[2], c.codec.window[3], err.msg);
    vox_config_free(&c);
    rc = parse_edited(K(TK, "encoder_transformer_lengths_str"), cJSON_CreateString("2,2,2,2"), &c, &err);
    CHECK(rc == VOX_OK && c.codec.has_encoder_keys == 1, "encoder keys detected");
    vox_config_free(&c);
    const char *arr[3] = {"zeta", "alpha", "mid"};
    rc = parse_edited(K(TK, "voice"), cJSON_CreateStringArray(arr, 3), &c, &err);
    CHECK(rc == VOX_OK && c.n_voices == 3 && strcmp(c.voice_names[0], "zeta") == 0 &&
              strcmp(c.voice_names[2], "mid") == 0,
          "voice array keeps order");
    vox_config_free(&c);
    v = cJSON_CreateObject();
    cJSON_AddNumberToObject(v, "second", 5);
    cJSON_AddNumberToObject(v, "first", 2);
    cJSON_AddNumberToObject(v, "third", 9);
    rc = parse_edited(K(TK, "voice"), v, &c, &err);
    CHECK(rc == VOX_OK && c.n_voices == 3 && strcmp(c.voice_names[0], "first") == 0 &&
              strcmp(c.voice_names[1], "second") == 0 && strcmp(c.voice_names[2], "third") == 0,
          "voice object ordered by index");
    vox_config_free(&c);
    rc = parse_edited(K(TK, "voice"), NULL, &c, &err);
    CHECK(rc == VOX_OK && c.n_voices == 0, "no voices is fine");
    vox_config_free(&c);
#undef K
}

static void test_bad_json(void) {
    vox_config c;
    vox_error err = {0};
    const char *bad[] = {"", "{", "{\"dim\": 3072,}", "[1,2]", "{} trailing", "nul\x01l"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = vox_config_parse(bad[i], strlen(bad[i]), "some/params.json", &c, &err);
        CHECK(rc == VOX_E_FORMAT, "bad json %zu: rc %d (%s)", i, rc, err.msg);
        CHECK(strstr(err.msg, "some/params.json") != NULL, "bad json %zu names the file: %s", i, err.msg);
    }
    int rc = vox_config_load("/nonexistent/dir/params.json", &c, &err);
    CHECK(rc == VOX_E_IO && strstr(err.msg, "/nonexistent/dir/params.json"), "missing file: %s", err.msg);
    /* truncated official text (the file ends in "}\n": keep the final brace out) */
    size_t n = strlen(g_official);
    for (size_t cut = 1; cut + 2 < n; cut += n / 7) {
        rc = vox_config_parse(g_official, cut, "params.json", &c, &err);
        CHECK(rc == VOX_E_FORMAT, "cut at %zu: rc %d", cut, rc);
    }
}

int main(void) {
    if (!find_official()) {
        fprintf(stderr, "cannot find tests/data/params_official.json (set VOX_TEST_DATA)\n");
        return 1;
    }
    g_official = slurp(g_official_path);
    CHECK(g_official != NULL, "read %s", g_official_path);
    if (!g_official) TEST_MAIN_END();
    test_official();
    test_edits();
    test_bad_json();
    free(g_official);
    TEST_MAIN_END();
}
