/* test_encoder.c — the codec encoder (docs/MODEL.md §7) and cloned-voice rows.
 *
 * Run from the repository root (tests/run.sh does); the fixtures are the tiny
 * checkpoints tests/models/tiny-{a,b}, their encoder.safetensors and the encode
 * goldens (a missing fixture fails).  Checked:
 *  - the encoder layout in the config: the decoder mirrored (tiny-a, tiny-b, the
 *    official params.json), the encoder_*_str keys when present (each missing one
 *    mirrored), an error when their strides do not make the decoder's frame;
 *  - a model without encoder tensors: not available, encode fails naming --encoder;
 *  - attaching encoder.safetensors: the golden codes, identical for 1 and 3
 *    threads; an attach that fails (one tensor missing, one misshapen, a file
 *    with no encoder tensors) names the tensor / the file and keeps the encoder
 *    attached before; a prefix of whole frames gives the first codes (causal);
 *  - a checkpoint with the encoder tensors merged in: detected at load, the same
 *    codes; with one of them dropped: the load fails naming it;
 *  - bad arguments: no samples, a non-finite sample;
 *  - voice rows: [T+1, dim], row t the sum of frame t's code embeddings, the last
 *    row the END frame [1, 0, ..., 0]; out-of-range codes and T = 0 rejected. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/npy.h"
#include "io/safetensors.h"
#include "test.h"
#include "voxtral/encoder.h"
#include "voxtral/model.h"
#include "voxtts_debug.h"

static char g_tmp[64];

static const char *tmp_file(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", g_tmp, name);
    return buf;
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

static voxtts_model *load(const char *dir, int threads) {
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = threads;
    voxtts_model *m = NULL;
    vox_error err;
    int rc = voxtts_model_load(dir, &lp, &m, &err);
    CHECK(rc == 0, "load %s: %s", dir, rc ? err.msg : "");
    return rc ? NULL : m;
}

/* The union of the tensors of a and b (b may be NULL), without `drop` and with
 * `reshape` given shape [1, n], written to dst. */
static int write_merged(const char *a, const char *b, const char *dst, const char *drop,
                        const char *reshape) {
    vox_error err;
    vox_safetensors *st[2] = {NULL, NULL};
    if (vox_safetensors_open(a, &st[0], &err) != 0) return -1;
    if (b && vox_safetensors_open(b, &st[1], &err) != 0) {
        vox_safetensors_close(st[0]);
        return -1;
    }
    size_t n = vox_safetensors_count(st[0]) + (st[1] ? vox_safetensors_count(st[1]) : 0), k = 0;
    const char **names = malloc(sizeof(char *) * n);
    vox_tensor *ts = malloc(sizeof(vox_tensor) * n);
    int rc = -1;
    if (names && ts) {
        for (int f = 0; f < 2 && st[f]; f++) {
            for (size_t i = 0; i < vox_safetensors_count(st[f]); i++) {
                const char *name = vox_safetensors_name(st[f], i);
                if (drop && strcmp(name, drop) == 0) continue;
                names[k] = name;
                ts[k] = *vox_safetensors_find(st[f], name);
                if (reshape && strcmp(name, reshape) == 0) {
                    int64_t numel = vox_tensor_numel(&ts[k]);
                    ts[k].ndim = 2;
                    ts[k].shape[0] = 1;
                    ts[k].shape[1] = numel;
                }
                k++;
            }
        }
        rc = vox_safetensors_write(dst, k, names, ts, &err);
    }
    free(names);
    free(ts);
    vox_safetensors_close(st[0]);
    vox_safetensors_close(st[1]);
    return rc;
}

static int read_golden(const char *ckpt, const char *cas, const char *file, vox_npy_type type,
                       vox_npy *a) {
    char p[512];
    vox_error err;
    snprintf(p, sizeof p, "tests/golden/%s/%s/%s", ckpt, cas, file);
    int rc = vox_npy_read(p, a, &err);
    CHECK(rc == 0 && a->type == type, "golden %s: %s", p, rc ? err.msg : "wrong dtype");
    return rc == 0 && a->type == type ? 0 : -1;
}

/* ---- config ----------------------------------------------------------------- */

static void expect_layout(const vox_config *c, const char *what, int n, const int *len,
                          const int *ker, const int *str, const int *win) {
    int ok = c->codec.enc_n_stages == n;
    for (int i = 0; ok && i < n; i++)
        ok = c->codec.enc_transformer_lengths[i] == len[i] && c->codec.enc_conv_kernels[i] == ker[i] &&
             c->codec.enc_conv_strides[i] == str[i] && c->codec.enc_window[i] == win[i];
    CHECK(ok, "%s: encoder layout", what);
}

static char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *s = calloc(1, 1 << 16);
    *len = s ? fread(s, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    return s;
}

static void test_config(void) {
    vox_config c;
    vox_error err;
    const int l4[4] = {2, 2, 2, 2}, k4[4] = {4, 4, 4, 3}, s4[4] = {2, 2, 2, 1}, w4[4] = {16, 8, 4, 2};
    CHECK(vox_config_load("tests/models/tiny-a/params.json", &c, &err) == 0, "tiny-a params");
    expect_layout(&c, "tiny-a", 4, l4, k4, s4, w4);
    vox_config_free(&c);
    const int lb[3] = {1, 2, 1}, kb[3] = {4, 4, 3}, sb[3] = {2, 2, 1}, wb[3] = {8, 4, 2};
    CHECK(vox_config_load("tests/models/tiny-b/params.json", &c, &err) == 0, "tiny-b params");
    expect_layout(&c, "tiny-b", 3, lb, kb, sb, wb);
    vox_config_free(&c);
    CHECK(vox_config_load("tests/data/params_official.json", &c, &err) == 0, "official params");
    expect_layout(&c, "official", 4, l4, k4, s4, w4);
    vox_config_free(&c);

    /* explicit encoder keys are used, and checked */
    size_t len = 0;
    char *json = read_text("tests/models/tiny-a/params.json", &len);
    char *hit = json ? strstr(json, "\"decoder_transformer_lengths_str\"") : NULL;
    CHECK(hit != NULL, "tiny-a params.json has decoder_transformer_lengths_str");
    if (hit) {
        const char *keys[3] = {
            "\"encoder_transformer_lengths_str\": \"1,1,3,0\", \"encoder_convs_kernels_str\": "
            "\"2,4,6,1\", \"encoder_convs_strides_str\": \"2,2,2,1\", ",
            "\"encoder_transformer_lengths_str\": \"2,2,2,2\", \"encoder_convs_kernels_str\": "
            "\"4,4,4,3\", \"encoder_convs_strides_str\": \"2,2,1,1\", ",
            "\"encoder_transformer_lengths_str\": \"3,0,1,2\", "};
        for (int v = 0; v < 3; v++) {
            size_t cap = len + strlen(keys[v]) + 1, pre = (size_t)(hit - json);
            char *mod = malloc(cap);
            memcpy(mod, json, pre);
            memcpy(mod + pre, keys[v], strlen(keys[v]));
            memcpy(mod + pre + strlen(keys[v]), hit, len - pre);
            mod[cap - 1] = '\0';
            int rc = vox_config_parse(mod, cap - 1, "mod.json", &c, &err);
            if (v == 0) {
                const int le[4] = {1, 1, 3, 0}, ke[4] = {2, 4, 6, 1}, we[4] = {16, 8, 4, 2};
                CHECK(rc == 0, "explicit encoder keys parse: %s", rc ? err.msg : "");
                if (rc == 0) expect_layout(&c, "explicit keys", 4, le, ke, s4, we);
            } else if (v == 2) {
                const int le[4] = {3, 0, 1, 2};
                CHECK(rc == 0, "one encoder key parses: %s", rc ? err.msg : "");
                if (rc == 0) expect_layout(&c, "one key, the others mirrored", 4, le, k4, s4, w4);
            } else {
                CHECK(rc == VOX_E_FORMAT && strstr(err.msg, "encoder"),
                      "encoder strides 2,2,1,1 vs decoder 1,2,2,2: %d %s", rc, rc ? err.msg : "");
            }
            vox_config_free(&c);
            free(mod);
        }
    }
    free(json);
}

/* ---- the attach path ----------------------------------------------------------- */

static void expect_attach_error(voxtts_model *m, const char *file, int code, const char *needle,
                                const char *needle2) {
    vox_error err;
    int rc = vox_encoder_attach(m, file, &err);
    CHECK(rc == code && strstr(err.msg, needle) && (!needle2 || strstr(err.msg, needle2)),
          "attach %s: expected %d naming '%s', got %d: %s", file, code, needle, rc,
          rc ? err.msg : "(attached)");
}

static void test_encode_and_attach(void) {
    vox_npy audio = {0}, want = {0};
    if (read_golden("tiny-a", "encode_odd", "audio.npy", VOX_NPY_F32, &audio) ||
        read_golden("tiny-a", "encode_odd", "expected.npy", VOX_NPY_I32, &want)) {
        vox_npy_free(&audio);
        vox_npy_free(&want);
        return;
    }
    const char *enc = "tests/models/tiny-a/encoder.safetensors";
    voxtts_model *m = load("tests/models/tiny-a", 1);
    if (!m) return;
    vox_error err;
    int32_t *codes = NULL;
    int F = -1;
    const size_t n = (size_t)audio.numel;

    /* no encoder in the open-style checkpoint */
    CHECK(!vox_encoder_available(m), "tiny-a has no encoder of its own");
    int rc = vox_encode(m, audio.data, n, &codes, &F, &err);
    CHECK(rc == VOX_E_MISSING && strstr(err.msg, "--encoder") && codes == NULL && F == 0,
          "encode without an encoder: %d %s", rc, err.msg);
    rc = voxtts_stage_encode(m, NULL, audio.data, n, &codes, &F, &err);
    CHECK(rc == VOX_E_MISSING && codes == NULL, "stage_encode without an encoder: %d", rc);

    /* attach: the golden codes */
    rc = vox_encoder_attach(m, enc, &err);
    CHECK(rc == 0 && vox_encoder_available(m), "attach: %s", rc ? err.msg : "");
    rc = vox_encode(m, audio.data, n, &codes, &F, &err);
    const int ncb = m->cfg.n_codebooks, spf = m->cfg.codec.samples_per_frame;
    CHECK(rc == 0 && F == (int)((n + (size_t)spf - 1) / spf) && F == want.shape[0] &&
              want.shape[1] == ncb,
          "encode: rc %d, %d frames: %s", rc, F, rc ? err.msg : "");
    if (rc == 0 && F == want.shape[0])
        CHECK(memcmp(codes, want.data, sizeof(int32_t) * (size_t)F * ncb) == 0,
              "attached encoder gives the golden codes");
    int32_t *ref_codes = codes;
    codes = NULL;

    /* a 3-thread model gives the same codes (through the public stage function) */
    voxtts_model *m3 = load("tests/models/tiny-a", 3);
    if (m3) {
        int F3 = 0;
        rc = voxtts_stage_encode(m3, enc, audio.data, n, &codes, &F3, &err);
        CHECK(rc == 0 && F3 == F && ref_codes &&
                  memcmp(codes, ref_codes, sizeof(int32_t) * (size_t)F * ncb) == 0,
              "3 threads: same codes (%s)", rc ? err.msg : "");
        free(codes);
        codes = NULL;
        voxtts_model_free(m3);
    }

    /* failed attaches name the culprit and keep the encoder attached before */
    char p1[512];
    tmp_file(p1, sizeof p1, "enc_variant.safetensors");
    static const char *drops[] = {"audio_tokenizer.encoder_blocks.3.conv.parametrizations.weight.original1",
                                  "audio_tokenizer.encoder_blocks.6.layers.1.ffn_scale",
                                  "audio_tokenizer.input_proj.conv.parametrizations.weight.original0"};
    for (size_t i = 0; i < sizeof drops / sizeof *drops; i++) {
        CHECK(write_merged(enc, NULL, p1, drops[i], NULL) == 0, "write variant");
        expect_attach_error(m, p1, VOX_E_MISSING, drops[i], "enc_variant.safetensors");
    }
    static const char *reshapes[] = {"audio_tokenizer.encoder_blocks.2.layers.1.attention.wk.weight",
                                     "audio_tokenizer.encoder_blocks.7.conv.parametrizations.weight.original1",
                                     "audio_tokenizer.encoder_blocks.0.layers.0.attention.q_norm.weight"};
    for (size_t i = 0; i < sizeof reshapes / sizeof *reshapes; i++) {
        CHECK(write_merged(enc, NULL, p1, NULL, reshapes[i]) == 0, "write variant");
        expect_attach_error(m, p1, VOX_E_SHAPE, reshapes[i], NULL);
    }
    expect_attach_error(m, "tests/models/tiny-a/consolidated.safetensors", VOX_E_MISSING, "none of",
                        "consolidated.safetensors");
    expect_attach_error(m, "tests/models/tiny-a/no-such-file.safetensors", VOX_E_IO,
                        "no-such-file.safetensors", NULL);
    CHECK(vox_encoder_available(m), "a failed attach keeps the attached encoder");
    rc = vox_encode(m, audio.data, n, &codes, &F, &err);
    CHECK(rc == 0 && ref_codes && memcmp(codes, ref_codes, sizeof(int32_t) * (size_t)F * ncb) == 0,
          "still the same codes after failed attaches");
    free(codes);
    codes = NULL;

    /* causal: a prefix of whole frames (>= k-1 patches: no short-input pad) encodes
     * to the first frames of the whole clip */
    const int whole = (int)(n / (size_t)spf);
    CHECK(whole >= 1 && (size_t)spf >= (size_t)m->cfg.codec.patch_size * 7, "clip has a whole frame");
    rc = vox_encode(m, audio.data, (size_t)whole * spf, &codes, &F, &err);
    CHECK(rc == 0 && F == whole && ref_codes &&
              memcmp(codes, ref_codes, sizeof(int32_t) * (size_t)whole * ncb) == 0,
          "the first %d frames alone give the same codes (causal)", whole);
    free(codes);
    codes = NULL;

    /* bad arguments */
    rc = vox_encode(m, audio.data, 0, &codes, &F, &err);
    CHECK(rc == VOX_E_ARG && strstr(err.msg, "no samples"), "no samples: %d %s", rc, err.msg);
    float *bad = malloc(sizeof(float) * n);
    memcpy(bad, audio.data, sizeof(float) * n);
    bad[n / 2] = NAN;
    rc = vox_encode(m, bad, n, &codes, &F, &err);
    CHECK(rc == VOX_E_ARG && strstr(err.msg, "finite") && codes == NULL, "NaN sample: %d %s", rc,
          err.msg);
    bad[n / 2] = INFINITY;
    rc = vox_encode(m, bad, n, &codes, &F, &err);
    CHECK(rc == VOX_E_ARG, "infinite sample: %d", rc);
    /* one sample: one frame (the reflect pad's zero extension at its extreme) */
    rc = vox_encode(m, bad, 1, &codes, &F, &err);
    CHECK(rc == 0 && F == 1, "one sample gives one frame: %d %s", rc, rc ? err.msg : "");
    free(codes);
    codes = NULL;
    free(bad);
    voxtts_model_free(m);

    /* the encoder inside the checkpoint: detected at load, same codes */
    char dir[256], p[512];
    snprintf(dir, sizeof dir, "%s/merged", g_tmp);
    CHECK(mkdir(dir, 0755) == 0, "mkdir");
    char cwd[256], src[600], dst[600];
    CHECK(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    const char *links[3] = {"params.json", "tekken.json", "voice_embedding"};
    for (int i = 0; i < 3; i++) {
        snprintf(src, sizeof src, "%s/tests/models/tiny-a/%s", cwd, links[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, links[i]);
        CHECK(symlink(src, dst) == 0, "symlink %s", links[i]);
    }
    snprintf(p, sizeof p, "%s/consolidated.safetensors", dir);
    CHECK(write_merged("tests/models/tiny-a/consolidated.safetensors", enc, p, NULL, NULL) == 0,
          "write merged checkpoint");
    voxtts_model *mm = load(dir, 2);
    if (mm) {
        CHECK(vox_encoder_available(mm), "encoder tensors in the checkpoint are detected");
        rc = voxtts_stage_encode(mm, NULL, audio.data, n, &codes, &F, &err);
        CHECK(rc == 0 && ref_codes && memcmp(codes, ref_codes, sizeof(int32_t) * (size_t)F * ncb) == 0,
              "built-in encoder: the same codes (%s)", rc ? err.msg : "");
        free(codes);
        codes = NULL;
        voxtts_model_free(mm);
    }
    const char *drop = "audio_tokenizer.encoder_blocks.4.layers.0.feed_forward.w2.weight";
    CHECK(write_merged("tests/models/tiny-a/consolidated.safetensors", enc, p, drop, NULL) == 0,
          "write merged checkpoint without one encoder tensor");
    voxtts_model *mp = NULL;
    rc = voxtts_model_load(dir, NULL, &mp, &err);
    CHECK(rc == VOX_E_MISSING && mp == NULL && strstr(err.msg, drop) && strstr(err.msg, "encoder"),
          "incomplete built-in encoder: %d %s", rc, rc ? err.msg : "(loaded)");
    voxtts_model_free(mp);
    for (int i = 0; i < 3; i++) {
        snprintf(dst, sizeof dst, "%s/%s", dir, links[i]);
        unlink(dst);
    }
    unlink(p);
    rmdir(dir);
    unlink(p1);

    free(ref_codes);
    vox_npy_free(&audio);
    vox_npy_free(&want);
}

/* ---- voice rows ----------------------------------------------------------------- */

static void test_voice_rows(const char *ckpt) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/models/%s", ckpt);
    vox_npy codes = {0};
    if (read_golden(ckpt, "encode_long", "expected.npy", VOX_NPY_I32, &codes)) return;
    voxtts_model *m = load(dir, 1);
    if (!m) {
        vox_npy_free(&codes);
        return;
    }
    vox_error err;
    const int T = (int)codes.shape[0], D = m->cfg.llm.dim, ncb = m->cfg.n_codebooks;
    const int32_t *c = codes.data;
    float *rows = NULL;
    int rc = vox_voice_rows_from_codes(m, c, T, &rows, &err);
    CHECK(rc == 0 && rows, "voice rows: %s", rc ? err.msg : "");
    float *row = malloc(sizeof(float) * (size_t)D), *sum = calloc((size_t)D, sizeof(float));
    if (rc == 0) {
        /* row t: sum over codebooks of the table row offset_c + code (§4), in codebook order */
        for (int t = 0; t <= T; t++) {
            memset(sum, 0, sizeof(float) * (size_t)D);
            for (int k = 0; k < ncb; k++) {
                int code = t < T ? c[(size_t)t * ncb + k] : (k == 0 ? 1 : 0);
                int off = k == 0 ? 0 : (m->cfg.semantic_codebook_size + 2) +
                                           (m->cfg.acoustic_codebook_size + 2) * (k - 1);
                vox_tensor_get_row(m->w.audio_embeddings, off + code, row);
                for (int d = 0; d < D; d++) sum[d] += row[d];
            }
            CHECK(memcmp(sum, rows + (size_t)t * D, sizeof(float) * (size_t)D) == 0,
                  "%s: voice row %d is frame %d's summed embedding%s", ckpt, t, t,
                  t == T ? " (the END frame [1, 0, ...])" : "");
        }
    }
    free(rows);
    rows = NULL;
    rc = vox_voice_rows_from_codes(m, c, 0, &rows, &err);
    CHECK(rc == VOX_E_ARG && rows == NULL, "no frames: %d", rc);
    int32_t *badc = malloc(sizeof(int32_t) * (size_t)T * ncb);
    memcpy(badc, c, sizeof(int32_t) * (size_t)T * ncb);
    badc[ncb] = 1; /* END inside the clip (frame 1): codes must be real codes */
    rc = vox_voice_rows_from_codes(m, badc, T, &rows, &err);
    CHECK(rc == VOX_E_ARG && strstr(err.msg, "frame 1") && rows == NULL, "END code in the input: %d %s",
          rc, err.msg);
    badc[ncb] = c[ncb];
    badc[2 * ncb + 1] = m->cfg.acoustic_codebook_size + 2; /* one past the last level */
    rc = voxtts_stage_voice_rows(m, badc, T, &rows, &err);
    CHECK(rc == VOX_E_ARG && strstr(err.msg, "codebook 1"), "acoustic code out of range: %d %s", rc,
          err.msg);
    free(badc);
    free(row);
    free(sum);
    voxtts_model_free(m);
    vox_npy_free(&codes);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/voxtts-enc-XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 2;
    }
    CHECK(file_exists("tests/models/tiny-a/encoder.safetensors") &&
              file_exists("tests/models/tiny-b/encoder.safetensors"),
          "fixtures: run from the repository root with tests/models/tiny-{a,b}/encoder.safetensors");
    test_config();
    test_encode_and_attach();
    test_voice_rows("tiny-a");
    test_voice_rows("tiny-b");
    rmdir(g_tmp);
    TEST_MAIN_END();
}
