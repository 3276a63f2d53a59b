/* test_gguf_model.c — a voxtts model in one GGUF file (src/voxtral/gguf_model.c),
 * the tokenizer read from memory, and voices stored in the model file.
 *
 * Builds GGUF models from tests/models/tiny-a (VOXTTS_TINY_MODEL overrides) with
 * the GGUF writer directly, not with `voxtts quantize`, so that each piece of the
 * container can be varied: the model must load from it, give bit-identical stage
 * results to the directory, read an embedded voice in any dtype (and prefer it
 * over a .pt file), and fail clearly on a voice of the wrong shape or a GGUF that
 * is not a voxtts model.  Files go to a temporary directory that is removed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/gguf.h"
#include "io/safetensors.h"
#include "io/torch_pt.h"
#include "tensor/quant.h"
#include "test.h"
#include "text/tekken.h"
#include "voxtral/gguf_model.h"
#include "voxtral/model.h"

static char *slurp(const char *path, size_t *len) {
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
    fclose(f);
    if (b) b[n] = '\0';
    *len = (size_t)n;
    return b;
}

typedef struct {
    int with_tekken, with_arch;
    const char *arch;
    uint32_t version;
    vox_dtype voice_dtype;  /* of the embedded voice */
    int64_t voice_rows;     /* 0: no embedded voice */
    float voice_value;      /* every element of the embedded voice */
} gguf_opts;

/* Write dir's model as a GGUF at path: every safetensors tensor as is, plus
 * options.  Returns 0 on success. */
static int write_model(const char *dir, const char *path, const gguf_opts *o) {
    char p[1024];
    size_t plen = 0, tlen = 0;
    snprintf(p, sizeof p, "%s/params.json", dir);
    char *params = slurp(p, &plen);
    snprintf(p, sizeof p, "%s/tekken.json", dir);
    char *tekken = slurp(p, &tlen);
    snprintf(p, sizeof p, "%s/consolidated.safetensors", dir);
    vox_error err = {0};
    vox_safetensors *st = NULL;
    vox_gguf_writer *w = NULL;
    void *voice = NULL;
    int rc = !params || !tekken;
    if (!rc) rc = vox_safetensors_open(p, &st, &err);
    if (!rc) rc = vox_gguf_writer_new(&w, &err);
    if (!rc && o->with_arch) rc = vox_gguf_add_str(w, VOX_GGUF_KEY_ARCH, o->arch, &err);
    if (!rc) rc = vox_gguf_add_u32(w, VOX_GGUF_KEY_VERSION, o->version, &err);
    if (!rc) rc = vox_gguf_add_strn(w, VOX_GGUF_KEY_PARAMS, params, plen, &err);
    if (!rc && o->with_tekken) rc = vox_gguf_add_strn(w, VOX_GGUF_KEY_TEKKEN, tekken, tlen, &err);
    for (size_t i = 0; !rc && i < vox_safetensors_count(st); i++) {
        const char *name = vox_safetensors_name(st, i);
        const vox_tensor *t = vox_safetensors_find(st, name);
        rc = vox_gguf_add_tensor(w, name, t->dtype, t->ndim, t->shape, t->data, t->nbytes, &err);
    }
    if (!rc && o->voice_rows > 0) {
        int64_t shape[2] = {o->voice_rows, 64};
        size_t n = (size_t)(shape[0] * shape[1]);
        float *f = malloc(n * sizeof *f);
        voice = malloc(vox_dtype_row_bytes(o->voice_dtype, shape[1]) * (size_t)shape[0]);
        if (!f || !voice) rc = -1;
        for (size_t i = 0; !rc && i < n; i++) f[i] = o->voice_value;
        if (!rc) rc = vox_quantize_row(o->voice_dtype, f, voice, (int64_t)n);
        free(f);
        if (!rc)
            rc = vox_gguf_add_tensor(w, "voice_embedding.alpha_female", o->voice_dtype, 2, shape, voice,
                                     vox_dtype_row_bytes(o->voice_dtype, shape[1]) * (size_t)shape[0], &err);
    }
    if (!rc) rc = vox_gguf_write(w, path, &err);
    if (rc && err.msg[0]) fprintf(stderr, "write_model: %s\n", err.msg);
    vox_gguf_writer_free(w);
    vox_safetensors_close(st);
    free(voice);
    free(params);
    free(tekken);
    return rc;
}

static void test_tekken_buffer(const char *dir) {
    char p[1024];
    size_t len = 0;
    snprintf(p, sizeof p, "%s/tekken.json", dir);
    char *json = slurp(p, &len);
    CHECK(json != NULL, "cannot read %s", p);
    if (!json) return;
    vox_error err = {0};
    vox_tekken *a = NULL, *b = NULL;
    CHECK(vox_tekken_load(p, &a, &err) == VOX_OK, "%s", err.msg);
    /* not NUL-terminated: the length is what counts */
    char *copy = malloc(len);
    memcpy(copy, json, len);
    CHECK(vox_tekken_load_buffer(copy, len, "mem", &b, &err) == VOX_OK, "%s", err.msg);
    if (a && b) {
        const char *text = "Hello world, ça va? 123";
        int32_t *ia = NULL, *ib = NULL;
        size_t na = 0, nb = 0;
        CHECK(vox_tekken_encode(a, text, strlen(text), &ia, &na, &err) == VOX_OK, "%s", err.msg);
        CHECK(vox_tekken_encode(b, text, strlen(text), &ib, &nb, &err) == VOX_OK, "%s", err.msg);
        CHECK(na == nb && na > 0 && memcmp(ia, ib, na * sizeof *ia) == 0, "ids differ");
        CHECK(vox_tekken_num_voices(a) == vox_tekken_num_voices(b), "voices differ");
        free(ia);
        free(ib);
    }
    vox_tekken_free(a);
    vox_tekken_free(b);
    vox_tekken *c = NULL;
    CHECK(vox_tekken_load_buffer(json, len / 2, "half.gguf:voxtts.tekken_json", &c, &err) == VOX_E_FORMAT &&
              strstr(err.msg, "half.gguf:voxtts.tekken_json") != NULL,
          "truncated JSON: %s", err.msg);
    CHECK(vox_tekken_load_buffer(json, 0, "empty", &c, &err) == VOX_E_FORMAT && strstr(err.msg, "empty"),
          "empty JSON: %s", err.msg);
    CHECK(c == NULL, "no tokenizer on failure");
    free(copy);
    free(json);
}

static void test_paths(const char *dir, const char *gguf) {
    char *d;
    d = vox_path_dirname("a/b/c.gguf");
    CHECK(d && strcmp(d, "a/b") == 0, "dirname a/b/c.gguf = %s", d ? d : "NULL");
    free(d);
    d = vox_path_dirname("c.gguf");
    CHECK(d && strcmp(d, ".") == 0, "dirname c.gguf = %s", d ? d : "NULL");
    free(d);
    d = vox_path_dirname("/c.gguf");
    CHECK(d && strcmp(d, "/") == 0, "dirname /c.gguf = %s", d ? d : "NULL");
    free(d);
    char p[1024];
    snprintf(p, sizeof p, "%s/tekken.json", dir);
    CHECK(vox_path_is_gguf(gguf) == 1, "%s is a GGUF", gguf);
    CHECK(vox_path_is_gguf(p) == 0, "tekken.json is not a GGUF");
    CHECK(vox_path_is_gguf(dir) == 0, "a directory is not a GGUF");
    CHECK(vox_path_is_gguf("/nonexistent/x.gguf") == 0, "a missing file is not a GGUF");
}

/* Prefill of the first voice on a model. */
static int prefill(voxtts_model *m, float *h) {
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    sp.voice = voxtts_model_voice_name(m, 0);
    voxtts_error err = {0};
    int rc = voxtts_stage_prefill(m, "Hello there.", &sp, h, &err);
    if (rc) fprintf(stderr, "prefill: %s\n", err.msg);
    return rc;
}

static voxtts_model *load(const char *path, voxtts_error *err) {
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = 2;
    voxtts_model *m = NULL;
    return voxtts_model_load(path, &lp, &m, err) == VOXTTS_OK ? m : NULL;
}

int main(void) {
    const char *env = getenv("VOXTTS_TINY_MODEL");
    const char *dir = env && *env ? env : "tests/models/tiny-a";
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        printf("test_gguf_model: %s not found (run from the repository root)\n", dir);
        CHECK(0, "no tiny model");
        TEST_MAIN_END();
    }
    char tmpl[] = "/tmp/voxtts-test-gguf-model.XXXXXX";
    char *tmp = mkdtemp(tmpl);
    CHECK(tmp != NULL, "mkdtemp");
    if (!tmp) TEST_MAIN_END();
    char path[1024];
    snprintf(path, sizeof path, "%s/m.gguf", tmp);

    test_tekken_buffer(dir);

    /* The first model has no voice inside: they are read from voice_embedding/
     * beside the file. */
    char vdir[1024], *absdir = realpath(dir, NULL);
    snprintf(vdir, sizeof vdir, "%s/voice_embedding", tmp);
    char target[2048];
    snprintf(target, sizeof target, "%s/voice_embedding", absdir ? absdir : dir);
    free(absdir);
    CHECK(symlink(target, vdir) == 0, "symlink %s", vdir);
    gguf_opts o = {1, 1, VOX_GGUF_ARCH, VOX_GGUF_FORMAT_VERSION, VOX_BF16, 0, 0.0f};
    CHECK(write_model(dir, path, &o) == 0, "write %s", path);
    test_paths(dir, path);

    voxtts_error err = {0};
    voxtts_model *md = load(dir, &err);
    CHECK(md != NULL, "load %s: %s", dir, err.msg);
    voxtts_model *mg = load(path, &err);
    CHECK(mg != NULL, "load %s: %s", path, err.msg);
    if (!md || !mg) {
        voxtts_model_free(md);
        voxtts_model_free(mg);
        TEST_MAIN_END();
    }
    CHECK(vox_source_gguf(mg->src) != NULL && vox_source_gguf(md->src) == NULL, "source kinds");
    const int D = voxtts_model_dim(md);
    float *hd = calloc((size_t)D, sizeof *hd), *hg = calloc((size_t)D, sizeof *hg);
    CHECK(prefill(md, hd) == 0 && prefill(mg, hg) == 0, "prefill");
    CHECK(memcmp(hd, hg, sizeof(float) * (size_t)D) == 0, "GGUF prefill bit-identical to the directory");
    CHECK(voxtts_model_n_voices(mg) == voxtts_model_n_voices(md), "same voices");
    voxtts_model_free(mg);

    /* A voice embedded in the file wins over a .pt file beside it, in any dtype. */
    int nrows = vox_tekken_voice_num_tokens(md->tk, "alpha_female");
    CHECK(nrows > 0 && D == 64, "tiny-a has alpha_female and dim 64");
    const vox_dtype dts[3] = {VOX_BF16, VOX_F16, VOX_Q8_0};
    for (int k = 0; k < 3 && nrows > 0 && D == 64; k++) {
        gguf_opts ov = {1, 1, VOX_GGUF_ARCH, VOX_GGUF_FORMAT_VERSION, dts[k], nrows, 0.25f};
        CHECK(write_model(dir, path, &ov) == 0, "write with a %s voice", vox_dtype_name(dts[k]));
        voxtts_model *m = load(path, &err);
        CHECK(m != NULL, "load: %s", err.msg);
        if (!m) continue;
        int v = voxtts_model_find_voice(m, "alpha_female"), n = 0;
        const float *rows = NULL;
        CHECK(vox_voice_get(m, v, &rows, &n, &err) == VOX_OK, "%s", err.msg);
        int all = rows && n == nrows;
        /* exact in BF16/F16; Q8_0 stores 127 * fp16(0.25/127) */
        for (int i = 0; all && i < n * D; i++) all = fabsf(rows[i] - 0.25f) < 1e-3f;
        CHECK(all, "embedded %s voice read (n %d)", vox_dtype_name(dts[k]), n);
        voxtts_model_free(m);
    }
    /* Wrong number of rows: an error naming the tensor and the file. */
    if (nrows > 0 && D == 64) {
        gguf_opts ob = {1, 1, VOX_GGUF_ARCH, VOX_GGUF_FORMAT_VERSION, VOX_BF16, nrows + 1, 0.5f};
        CHECK(write_model(dir, path, &ob) == 0, "write with a bad voice");
        voxtts_model *m = load(path, &err);
        CHECK(m != NULL, "load: %s", err.msg);
        if (m) {
            const float *rows = NULL;
            int n = 0, v = voxtts_model_find_voice(m, "alpha_female");
            CHECK(vox_voice_get(m, v, &rows, &n, &err) == VOX_E_SHAPE &&
                      strstr(err.msg, "voice_embedding.alpha_female") && strstr(err.msg, "m.gguf"),
                  "bad voice shape: %s", err.msg);
            voxtts_model_free(m);
        }
    }
    /* Not a voxtts model. */
    gguf_opts ox = {1, 1, "llama", VOX_GGUF_FORMAT_VERSION, VOX_BF16, 0, 0};
    CHECK(write_model(dir, path, &ox) == 0, "write llama");
    CHECK(load(path, &err) == NULL && err.code == VOXTTS_E_FORMAT && strstr(err.msg, "not a voxtts model") &&
              strstr(err.msg, "general.architecture") && strstr(err.msg, "m.gguf"),
          "foreign architecture: %s", err.msg);
    voxtts_tokenizer *tk = NULL;
    CHECK(voxtts_tokenizer_load(path, &tk, &err) != VOXTTS_OK && strstr(err.msg, "not a voxtts model"),
          "tokenizer of a foreign GGUF: %s", err.msg);
    gguf_opts ov2 = {1, 1, VOX_GGUF_ARCH, 2, VOX_BF16, 0, 0};
    CHECK(write_model(dir, path, &ov2) == 0, "write version 2");
    CHECK(load(path, &err) == NULL && err.code == VOXTTS_E_UNSUPPORTED && strstr(err.msg, "voxtts.format_version"),
          "format version 2: %s", err.msg);
    /* No embedded tokenizer and none beside the file. */
    gguf_opts ot = {0, 1, VOX_GGUF_ARCH, VOX_GGUF_FORMAT_VERSION, VOX_BF16, 0, 0};
    CHECK(write_model(dir, path, &ot) == 0, "write without tekken");
    CHECK(load(path, &err) == NULL && strstr(err.msg, "voxtts.tekken_json") && strstr(err.msg, "tekken.json"),
          "no tokenizer: %s", err.msg);
    CHECK(voxtts_tokenizer_load(path, &tk, &err) != VOXTTS_OK && strstr(err.msg, "tekken.json"),
          "no tokenizer (tokenizer_load): %s", err.msg);

    free(hd);
    free(hg);
    voxtts_model_free(md);
    unlink(path);
    unlink(vdir);
    rmdir(tmp);
    TEST_MAIN_END();
}
