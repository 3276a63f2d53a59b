/* test_voice.c — voices of one's own (include/voxtts.h "voices", voice_file.c,
 * voice_api.c, fingerprint.c) on the tiny checkpoints tests/models/tiny-a and
 * tiny-b (a missing fixture fails).
 *
 * Rows from codes are the §4 sums plus the END frame; the voice file round trips
 * exactly (f32 rows, and BF16 rows for a preset) with every metadata field; every
 * kind of damage (truncation, trailing bytes, wrong magic/version/header/dtype,
 * inconsistent sizes, checksum, bad JSON, metadata disagreeing with the header,
 * unknown method, negative codes, NaN rows) fails with a message naming the file;
 * synthesis with a saved-and-loaded voice gives the same samples as with the
 * voice in memory, a preset copied into a voice speaks exactly like the preset,
 * the prompt has N + text + 5 tokens and the second request reuses the cached
 * prefix; the prefix cache of user voices stays bounded; .pt export reads back
 * (bf16-rounded) with our torch loader and as a voice; .npy export; preview
 * decodes the codes like the codec stage; a voice made with tiny-a is embedded
 * again by tiny-b while rows-only voices of the wrong width are refused.
 * Cloning: by inversion without an encoder (steps, progress, cancellation), by
 * the attached encoder (codes equal the encoder stage's, 16 kHz input resampled),
 * from a file (source name, SHA-256, duration), and its bad arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/npy.h"
#include "base/sha256.h"
#include "io/torch_pt.h"
#include "test.h"
#include "test_files.h"
#include "voxtral/model.h"
#include "voxtral/voice_file.h"
#include "voxtts_debug.h"

#define MODEL_A "tests/models/tiny-a"
#define MODEL_B "tests/models/tiny-b"

static voxtts_model *load(const char *dir) {
    voxtts_error err = {0};
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = 1;
    voxtts_model *m = NULL;
    int rc = voxtts_model_load(dir, &lp, &m, &err);
    CHECK(rc == VOXTTS_OK, "load %s: %s", dir, err.msg);
    return rc == VOXTTS_OK ? m : NULL;
}

/* Valid codes for m: T frames, deterministic. */
static int32_t *make_codes(const voxtts_model *m, int T, int salt) {
    const int K = m->cfg.n_codebooks;
    int32_t *c = malloc(sizeof(int32_t) * (size_t)T * K);
    if (!c) exit(2);
    for (int f = 0; f < T; f++)
        for (int k = 0; k < K; k++) {
            int hi = k == 0 ? m->cfg.semantic_codebook_size : m->cfg.acoustic_codebook_size;
            c[(size_t)f * K + k] = 2 + (f * 7 + k * 3 + salt * 5) % hi;
        }
    return c;
}

static void test_rows(voxtts_model *m) {
    const int T = 5, K = m->cfg.n_codebooks, D = m->cfg.llm.dim;
    int32_t *codes = make_codes(m, T, 0);
    voxtts_error err = {0};
    voxtts_voice *v = NULL;
    CHECK(voxtts_voice_from_codes(m, codes, T, "rowtest", &v, &err) == VOXTTS_OK, "%s", err.msg);
    if (!v) return free(codes);
    CHECK(voxtts_voice_n_frames(v) == T && voxtts_voice_n_rows(v) == T + 1 && voxtts_voice_dim(v) == D,
          "sizes %d %d %d", voxtts_voice_n_frames(v), voxtts_voice_n_rows(v), voxtts_voice_dim(v));
    float *e = malloc(sizeof(float) * D * 3);
    int32_t *end = calloc((size_t)K, sizeof *end);
    if (!e || !end) exit(2);
    const float *rows = voxtts_voice_rows(v);
    int same = 1;
    for (int f = 0; f < T; f++) {
        memset(e, 0, sizeof(float) * D);
        for (int k = 0; k < K; k++) { /* §4 by hand: sum of one table row per codebook */
            vox_tensor_get_row(m->w.audio_embeddings, m->cb_offset[k] + codes[f * K + k], e + D);
            for (int d = 0; d < D; d++) e[d] += e[D + d];
        }
        for (int d = 0; d < D; d++) same &= fabsf(e[d] - rows[f * D + d]) <= 1e-5f * (1 + fabsf(e[d]));
    }
    CHECK(same, "rows are the sums of the codes' embedding rows");
    end[0] = 1;
    vox_embed_frame(m, end, e, e + D);
    CHECK(memcmp(e, rows + (size_t)T * D, sizeof(float) * D) == 0, "last row is the END frame");
    voxtts_voice_info in;
    voxtts_voice_get_info(v, &in);
    char fp[65];
    CHECK(voxtts_model_fingerprint(m, fp, &err) == VOXTTS_OK && strlen(fp) == 64, "%s", err.msg);
    CHECK(strcmp(in.model_fingerprint, fp) == 0 && strcmp(in.method, "codes") == 0 &&
              in.n_codebooks == K && strlen(in.created) == 20,
          "info: %s %s %d %s", in.model_fingerprint, in.method, in.n_codebooks, in.created);
    /* invalid codes: a special code in a frame, out of range, no frames */
    codes[K + 3] = 1;
    voxtts_voice *bad = NULL;
    CHECK(voxtts_voice_from_codes(m, codes, T, "x", &bad, &err) == VOXTTS_E_ARG && !bad &&
              strstr(err.msg, "frame 1"), "special code: %s", err.msg);
    codes[K + 3] = 100000;
    CHECK(voxtts_voice_from_codes(m, codes, T, "x", &bad, &err) == VOXTTS_E_ARG, "range: %s", err.msg);
    CHECK(voxtts_voice_from_codes(m, codes, 0, "x", &bad, &err) == VOXTTS_E_ARG, "0 frames");
    codes[K + 3] = 2;
    CHECK(voxtts_voice_from_codes(m, codes, T, "../evil", &bad, &err) == VOXTTS_E_ARG &&
              strstr(err.msg, "not valid"), "bad name: %s", err.msg);
    CHECK(voxtts_voice_name_valid("my_voice-2.b") && !voxtts_voice_name_valid(".hidden") &&
              !voxtts_voice_name_valid("a/b") && !voxtts_voice_name_valid("") &&
              !voxtts_voice_name_valid("a b"), "name rules");
    free(e);
    free(end);
    free(codes);
    voxtts_voice_free(v);
}

static int same_audio(const voxtts_audio *a, const voxtts_audio *b) {
    return a->n_samples == b->n_samples && a->n_frames == b->n_frames && a->n_samples > 0 &&
           memcmp(a->samples, b->samples, sizeof(float) * a->n_samples) == 0;
}

static void test_roundtrip_and_synth(voxtts_model *m) {
    const int T = 6;
    int32_t *codes = make_codes(m, T, 1);
    voxtts_error err = {0};
    voxtts_voice *v = NULL, *w = NULL, *w0 = NULL;
    CHECK(voxtts_voice_from_codes(m, codes, T, "alice", &v, &err) == VOXTTS_OK, "%s", err.msg);
    if (!v) return free(codes);
    char p[512], pt[512];
    tpath(p, "alice.voxv");
    /* source: any file's bytes; duration as given */
    tpath(pt, "src.bin");
    FILE *f = fopen(pt, "wb");
    if (!f || fputs("reference audio bytes", f) < 0 || fclose(f)) exit(2);
    CHECK(voxtts_voice_set_source(v, pt, 3.25, &err) == VOXTTS_OK, "%s", err.msg);
    CHECK(voxtts_voice_save(v, p, &err) == VOXTTS_OK, "save: %s", err.msg);
    CHECK(voxtts_voice_load(NULL, p, &w0, &err) == VOXTTS_OK, "load without model: %s", err.msg);
    CHECK(voxtts_voice_load(m, p, &w, &err) == VOXTTS_OK, "load: %s", err.msg);
    if (!w || !w0) goto out;
    voxtts_voice_info a, b;
    voxtts_voice_get_info(v, &a);
    voxtts_voice_get_info(w, &b);
    char want_sha[65];
    uint8_t d[32];
    vox_sha256("reference audio bytes", 21, d);
    vox_sha256_hex(d, want_sha);
    CHECK(strcmp(b.name, "alice") == 0 && strcmp(b.method, "codes") == 0 &&
              strcmp(b.source, "src.bin") == 0 && strcmp(b.source_sha256, want_sha) == 0 &&
              b.duration_s == 3.25 && strcmp(a.created, b.created) == 0 &&
              strcmp(a.model_fingerprint, b.model_fingerprint) == 0 && b.n_frames == T &&
              b.n_rows == T + 1 && b.dim == a.dim && b.n_codebooks == a.n_codebooks,
          "metadata round trip: %s %s %s %s %g", b.name, b.method, b.source, b.source_sha256,
          b.duration_s);
    const size_t nr = (size_t)(T + 1) * a.dim;
    CHECK(memcmp(voxtts_voice_rows(v), voxtts_voice_rows(w), nr * 4) == 0 &&
              memcmp(voxtts_voice_rows(v), voxtts_voice_rows(w0), nr * 4) == 0, "rows exact");
    CHECK(memcmp(voxtts_voice_codes(v), voxtts_voice_codes(w), sizeof(int32_t) * T * a.n_codebooks) == 0,
          "codes exact");
    /* synthesis: the loaded voice speaks exactly like the one in memory */
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    sp.max_frames = 6;
    voxtts_synth_stats st1, st2;
    voxtts_audio x = {0}, y = {0};
    sp.voice_handle = v;
    CHECK(voxtts_synthesize(m, "Hello world.", &sp, &x, &st1, &err) == VOXTTS_OK, "synth v: %s", err.msg);
    sp.voice_handle = w;
    CHECK(voxtts_synthesize(m, "Hello world.", &sp, &y, &st2, &err) == VOXTTS_OK, "synth w: %s", err.msg);
    CHECK(same_audio(&x, &y), "same audio from the saved and loaded voice (%zu, %zu samples)",
          x.n_samples, y.n_samples);
    int32_t *ids = NULL;
    size_t nid = 0;
    CHECK(voxtts_stage_prompt(m, "Hello world.", voxtts_model_voice_name(m, 0), &ids, &nid, &err) == 0,
          "%s", err.msg);
    int n_text = (int)nid - 5 - vox_tekken_voice_num_tokens(m->tk, voxtts_model_voice_name(m, 0));
    free(ids);
    CHECK(st1.prompt_tokens == T + 1 + n_text + 5, "prompt tokens %d = N %d + text %d + 5",
          st1.prompt_tokens, T + 1, n_text);
    CHECK(st1.prefill_tokens == st1.prompt_tokens && st2.prefill_tokens == st2.prompt_tokens - (T + 1 + 3),
          "second request reuses the prefix (%d then %d of %d)", st1.prefill_tokens,
          st2.prefill_tokens, st2.prompt_tokens);
    voxtts_audio_free(&y);
    /* the same prompt without the cache (fresh model) gives the same audio */
    voxtts_model *m2 = load(MODEL_A);
    if (m2) {
        CHECK(voxtts_synthesize(m2, "Hello world.", &sp, &y, NULL, &err) == VOXTTS_OK, "%s", err.msg);
        CHECK(same_audio(&x, &y), "cold prefix == cached prefix");
        voxtts_audio_free(&y);
        voxtts_model_free(m2);
    }
    /* stage functions take the voice too */
    float *h1 = malloc(sizeof(float) * a.dim), *h2 = malloc(sizeof(float) * a.dim);
    if (!h1 || !h2) exit(2);
    sp.voice_handle = v;
    CHECK(voxtts_stage_prefill(m, "Hello world.", &sp, h1, &err) == 0, "%s", err.msg);
    sp.voice_handle = NULL;
    sp.voice = voxtts_model_voice_name(m, 0);
    CHECK(voxtts_stage_prefill(m, "Hello world.", &sp, h2, &err) == 0, "%s", err.msg);
    CHECK(memcmp(h1, h2, sizeof(float) * a.dim) != 0, "the voice changes the prefill hidden");
    free(h1);
    free(h2);
    voxtts_audio_free(&x);
    /* preview: the codes through the codec */
    voxtts_audio pv = {0};
    CHECK(voxtts_voice_preview(m, w, &pv, &err) == VOXTTS_OK, "preview: %s", err.msg);
    const size_t spf = (size_t)voxtts_model_samples_per_frame(m);
    float *wave = malloc(sizeof(float) * spf * T);
    if (!wave) exit(2);
    CHECK(voxtts_stage_codec(m, codes, T, NULL, wave, &err) == 0, "%s", err.msg);
    CHECK(pv.n_samples == spf * T && pv.samples &&
              memcmp(pv.samples, wave, sizeof(float) * spf * T) == 0, "preview == codec stage");
    tpath(pt, "preview.wav");
    CHECK(voxtts_audio_save_wav(&pv, pt, &err) == VOXTTS_OK, "%s", err.msg);
    free(wave);
    voxtts_audio_free(&pv);
    /* npy export */
    char pc[512], pr[512];
    tpath(pc, "codes.npy");
    tpath(pr, "rows.npy");
    CHECK(voxtts_voice_export_npy(w, pc, pr, &err) == VOXTTS_OK, "npy: %s", err.msg);
    vox_npy nc = {0}, nrw = {0};
    CHECK(vox_npy_read(pc, &nc, &err) == 0 && nc.type == VOX_NPY_I32 && nc.ndim == 2 &&
              nc.shape[0] == T && nc.shape[1] == a.n_codebooks &&
              memcmp(nc.data, codes, sizeof(int32_t) * T * a.n_codebooks) == 0, "codes.npy");
    CHECK(vox_npy_read(pr, &nrw, &err) == 0 && nrw.type == VOX_NPY_F32 && nrw.shape[0] == T + 1 &&
              nrw.shape[1] == a.dim && memcmp(nrw.data, voxtts_voice_rows(w), nr * 4) == 0, "rows.npy");
    vox_npy_free(&nc);
    vox_npy_free(&nrw);
out:
    free(codes);
    voxtts_voice_free(v);
    voxtts_voice_free(w);
    voxtts_voice_free(w0);
}

static void test_preset_and_pt(voxtts_model *m) {
    voxtts_error err = {0};
    const char *pname = voxtts_model_voice_name(m, 1);
    voxtts_voice *v = NULL, *w = NULL, *q = NULL;
    CHECK(voxtts_voice_from_preset(m, pname, &v, &err) == VOXTTS_OK, "%s", err.msg);
    CHECK(voxtts_voice_from_preset(m, "nobody", &q, &err) == VOXTTS_E_ARG && strstr(err.msg, "nobody"),
          "unknown preset: %s", err.msg);
    if (!v) return;
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    sp.max_frames = 5;
    sp.voice = pname;
    voxtts_audio x = {0}, y = {0};
    CHECK(voxtts_synthesize(m, "Speak.", &sp, &x, NULL, &err) == VOXTTS_OK, "%s", err.msg);
    sp.voice = "no_such_preset_is_used"; /* the handle wins */
    sp.voice_handle = v;
    CHECK(voxtts_synthesize(m, "Speak.", &sp, &y, NULL, &err) == VOXTTS_OK, "%s", err.msg);
    CHECK(same_audio(&x, &y), "a preset copied into a voice speaks exactly like the preset");
    voxtts_audio_free(&x);
    voxtts_audio_free(&y);
    /* BF16 rows are saved as BF16 (dtype 1) and come back exactly */
    char p[512];
    tpath(p, "preset.voxv");
    CHECK(voxtts_voice_save(v, p, &err) == VOXTTS_OK, "%s", err.msg);
    size_t n = 0;
    unsigned char *raw = read_bytes(p, &n);
    CHECK(raw && n > 16 && raw[12] == 1, "preset rows stored as bf16");
    free(raw);
    CHECK(voxtts_voice_load(m, p, &w, &err) == VOXTTS_OK, "%s", err.msg);
    const size_t nr = (size_t)voxtts_voice_n_rows(v) * voxtts_voice_dim(v);
    CHECK(w && voxtts_voice_n_frames(w) == 0 && voxtts_voice_codes(w) == NULL &&
              memcmp(voxtts_voice_rows(w), voxtts_voice_rows(v), nr * 4) == 0, "bf16 round trip");
    voxtts_audio pv = {0};
    CHECK(voxtts_voice_preview(m, v, &pv, &err) == VOXTTS_E_ARG && strstr(err.msg, "no codes"),
          "preview without codes: %s", err.msg);
    voxtts_voice_free(w);
    w = NULL;
    /* .pt export of a voice with f32 rows: read back bf16-rounded, by the torch
     * loader and as a voice */
    const int T = 4;
    int32_t *codes = make_codes(m, T, 2);
    voxtts_voice *c = NULL;
    CHECK(voxtts_voice_from_codes(m, codes, T, "ptvoice", &c, &err) == VOXTTS_OK, "%s", err.msg);
    free(codes);
    if (c) {
        tpath(p, "ptvoice.pt");
        CHECK(voxtts_voice_export_pt(c, p, &err) == VOXTTS_OK, "export: %s", err.msg);
        vox_pt_tensor t = {0};
        const int N = T + 1, D = voxtts_voice_dim(c);
        CHECK(vox_pt_load_tensor(p, &t, &err) == VOX_OK && t.ndim == 2 && t.shape[0] == N &&
                  t.shape[1] == D, "pt load: %s", err.msg);
        int ok = t.data != NULL, exact_f32 = 1;
        for (int i = 0; ok && i < N * D; i++) {
            float r = voxtts_voice_rows(c)[i];
            ok &= t.data[i] == vox_bf16_to_f32(vox_f32_to_bf16(r));
            exact_f32 &= t.data[i] == r;
        }
        CHECK(ok, "pt rows are the bf16-rounded rows");
        CHECK(!exact_f32, "the rows really were rounded (f32 rows differ from bf16)");
        vox_pt_tensor_free(&t);
        CHECK(voxtts_voice_load(m, p, &w, &err) == VOXTTS_OK && w, "load .pt: %s", err.msg);
        if (w) {
            voxtts_voice_info in;
            voxtts_voice_get_info(w, &in);
            CHECK(strcmp(in.method, "imported") == 0 && strcmp(in.name, "ptvoice") == 0 &&
                      in.n_rows == N && in.n_frames == 0, "imported: %s %s", in.method, in.name);
        }
        voxtts_voice_free(c);
    }
    voxtts_voice_free(w);
    voxtts_voice_free(v);
}

/* Recompute the trailer checksum after editing bytes (so a later check is reached). */
static void reseal(unsigned char *b, size_t n) { vox_sha256(b, n - 32, b + n - 32); }

static void expect_bad(const char *name, const unsigned char *b, size_t n, const char *pat) {
    char p[512];
    tpath(p, "bad.voxv");
    write_bytes(p, b, n);
    voxtts_voice *v = NULL;
    voxtts_error err = {0};
    int rc = voxtts_voice_load(NULL, p, &v, &err);
    CHECK(rc != VOXTTS_OK && !v && strstr(err.msg, p) && strstr(err.msg, pat),
          "%s: rc %d, message '%s' (want '%s')", name, rc, err.msg, pat);
    voxtts_voice_free(v);
}

static void test_corruption(voxtts_model *m) {
    const int T = 3;
    int32_t *codes = make_codes(m, T, 3);
    voxtts_error err = {0};
    voxtts_voice *v = NULL;
    CHECK(voxtts_voice_from_codes(m, codes, T, "bob", &v, &err) == VOXTTS_OK, "%s", err.msg);
    free(codes);
    if (!v) return;
    char p[512];
    tpath(p, "good.voxv");
    CHECK(voxtts_voice_save(v, p, &err) == VOXTTS_OK, "%s", err.msg);
    voxtts_voice_free(v);
    size_t n = 0;
    unsigned char *g = read_bytes(p, &n);
    unsigned char *b = malloc(n + 8);
    if (!g || !b) exit(2);
    const uint32_t J = g[32] | g[33] << 8 | g[34] << 16 | (uint32_t)g[35] << 24;
    const size_t codes_at = 64 + J + (8 - J % 8) % 8;
    const size_t rows_at = codes_at + 4 * (size_t)T * m->cfg.n_codebooks;
#define FRESH() memcpy(b, g, n)
    expect_bad("empty", g, 0, "truncated");
    expect_bad("header only", g, 64, "truncated");
    expect_bad("cut by one", g, n - 1, "truncated");
    FRESH();
    b[n] = 0;
    expect_bad("trailing byte", b, n + 1, "trailing");
    FRESH();
    b[0] = 'X';
    expect_bad("magic", b, n, "magic");
    FRESH();
    b[4] = 2;
    reseal(b, n);
    expect_bad("version", b, n, "version 2");
    FRESH();
    b[8] = 80;
    reseal(b, n);
    expect_bad("header size", b, n, "bad header");
    FRESH();
    b[50] = 1;
    reseal(b, n);
    expect_bad("reserved", b, n, "bad header");
    FRESH();
    b[12] = 7;
    reseal(b, n);
    expect_bad("dtype", b, n, "dtype 7");
    FRESH();
    b[24]++; /* N = T + 2 */
    reseal(b, n);
    expect_bad("rows != frames + 1", b, n, "inconsistent sizes");
    FRESH();
    b[28]++; /* D + 1: the sizes no longer make the file */
    reseal(b, n);
    expect_bad("dim", b, n, "header says");
    FRESH();
    b[40]++; /* total size field */
    reseal(b, n);
    expect_bad("total size", b, n, "header says");
    FRESH();
    b[rows_at + 5] ^= 0x10;
    expect_bad("flipped bit", b, n, "checksum");
    FRESH();
    b[64] = 'x';
    reseal(b, n);
    expect_bad("bad JSON", b, n, "JSON");
    char *js = (char *)b + 64, *hit;
    FRESH();
    if ((hit = strstr(js, "\"method\":\"codes\""))) memcpy(hit + 10, "xodes", 5);
    reseal(b, n);
    expect_bad("unknown method", b, n, "unknown method");
    FRESH();
    if ((hit = strstr(js, "\"dim\":"))) hit[6] = hit[6] == '9' ? '8' : '9';
    reseal(b, n);
    expect_bad("metadata dim", b, n, "model.dim");
    FRESH();
    if ((hit = strstr(js, "\"format\":\"voxtts-voice\""))) hit[10] = 'W';
    reseal(b, n);
    expect_bad("format name", b, n, "format");
    FRESH();
    if ((hit = strstr(js, "\"name\":\"bob\""))) memcpy(hit + 8, "/ob", 3);
    reseal(b, n);
    expect_bad("bad name", b, n, "not valid");
    FRESH();
    b[codes_at + 3] = 0xff; /* code 0 becomes negative */
    reseal(b, n);
    expect_bad("negative code", b, n, "negative code");
    FRESH();
    const float nan = NAN;
    memcpy(b + rows_at + 4 * 7, &nan, 4);
    reseal(b, n);
    expect_bad("NaN row", b, n, "NaN");
    FRESH();
    const float inf = INFINITY;
    memcpy(b + rows_at + 4 * ((size_t)T * m->cfg.llm.dim + 1), &inf, 4);
    reseal(b, n);
    expect_bad("Inf in the END row", b, n, "row 3");
    /* a file that is neither format */
    tpath(p, "junk.bin");
    write_bytes(p, "just some text, not a voice", 27);
    voxtts_voice *x = NULL;
    CHECK(voxtts_voice_load(NULL, p, &x, &err) != VOXTTS_OK && !x && strstr(err.msg, p),
          "junk: %s", err.msg);
    tpath(p, "missing.voxv");
    CHECK(voxtts_voice_load(NULL, p, &x, &err) == VOXTTS_E_IO && strstr(err.msg, p), "missing: %s",
          err.msg);
    /* the writer leaves nothing behind when it cannot write */
    tpath(p, "no/dir/v.voxv");
    voxtts_voice *ok = NULL;
    char good[512];
    CHECK(voxtts_voice_load(NULL, tpath(good, "good.voxv"), &ok, &err) == 0, "%s", err.msg);
    if (ok) {
        CHECK(voxtts_voice_save(ok, p, &err) == VOXTTS_E_IO && strstr(err.msg, p), "unwritable: %s",
              err.msg);
        voxtts_voice_free(ok);
    }
    free(g);
    free(b);
#undef FRESH
}

static void test_prefix_cache_bounded(voxtts_model *m) {
    voxtts_error err = {0};
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    sp.max_frames = 1;
    voxtts_voice *vs[VOX_USER_PREFIX_MAX + 3];
    int made = 0;
    for (int i = 0; i < VOX_USER_PREFIX_MAX + 3; i++) {
        int32_t *codes = make_codes(m, 2 + i % 3, 10 + i);
        vs[i] = NULL;
        CHECK(voxtts_voice_from_codes(m, codes, 2 + i % 3, "c", &vs[i], &err) == 0, "%s", err.msg);
        free(codes);
        if (!vs[i]) break;
        made++;
        sp.voice_handle = vs[i];
        voxtts_audio a = {0};
        CHECK(voxtts_synthesize(m, "Hi.", &sp, &a, NULL, &err) == 0, "%s", err.msg);
        voxtts_audio_free(&a);
    }
    int used = 0;
    for (int i = 0; i < VOX_USER_PREFIX_MAX; i++) used += m->user_prefix[i].kv != NULL;
    CHECK(used == VOX_USER_PREFIX_MAX, "cache full at its bound (%d)", used);
    if (made == VOX_USER_PREFIX_MAX + 3) {
        vox_voice_sel s0 = {.preset = -1, .key = vs[0]->key}, sl = {.preset = -1, .key = vs[made - 1]->key};
        CHECK(vox_gen_prefix_cached(m, &s0) == 0, "the least recently used voice was evicted");
        CHECK(vox_gen_prefix_cached(m, &sl) == 3 + vs[made - 1]->info.n_rows, "the newest is cached");
    }
    for (int i = 0; i < made; i++) voxtts_voice_free(vs[i]);
}

static void test_other_model(voxtts_model *a, voxtts_model *b) {
    voxtts_error err = {0};
    char fa[65], fb[65];
    CHECK(voxtts_model_fingerprint(a, fa, &err) == 0 && voxtts_model_fingerprint(b, fb, &err) == 0 &&
              strcmp(fa, fb) != 0, "models have different fingerprints");
    voxtts_model *a2 = load(MODEL_A);
    char fa2[65] = "";
    if (a2) voxtts_model_fingerprint(a2, fa2, &err);
    CHECK(strcmp(fa, fa2) == 0, "the fingerprint is stable across loads");
    /* a voice with codes made with tiny-a: tiny-b has other codebook sizes -> clear error */
    int32_t *codes = make_codes(a, 3, 4);
    voxtts_voice *v = NULL, *w = NULL;
    CHECK(voxtts_voice_from_codes(a, codes, 3, "va", &v, &err) == 0, "%s", err.msg);
    free(codes);
    char p[512], q[512];
    tpath(p, "va.voxv");
    if (v) CHECK(voxtts_voice_save(v, p, &err) == 0, "%s", err.msg);
    CHECK(voxtts_voice_load(b, p, &w, &err) == VOXTTS_E_SHAPE && !w && strstr(err.msg, p) &&
              strstr(err.msg, "codes per frame"), "codes for another codebook layout: %s", err.msg);
    /* with the same layout (a second tiny-a), the codes are embedded again */
    if (a2 && v) {
        /* pretend it was made by another table: edit the fingerprint, reseal */
        size_t n = 0;
        unsigned char *raw = read_bytes(p, &n);
        char *hit = raw ? strstr((char *)raw + 64, fa) : NULL;
        if (hit) {
            hit[0] = hit[0] == '0' ? '1' : '0';
            reseal(raw, n);
            tpath(q, "va_other.voxv");
            write_bytes(q, raw, n);
            voxtts_voice *x = NULL, *y = NULL;
            CHECK(voxtts_voice_load(NULL, q, &x, &err) == 0, "%s", err.msg);
            voxtts_synth_params sp;
            voxtts_synth_params_default(&sp);
            sp.voice_handle = x;
            voxtts_audio au = {0};
            CHECK(voxtts_synthesize(a2, "Hi.", &sp, &au, NULL, &err) == VOXTTS_E_ARG &&
                      strstr(err.msg, "another model"), "foreign rows refused: %s", err.msg);
            CHECK(voxtts_voice_load(a2, q, &y, &err) == 0 && y, "%s", err.msg);
            if (y) {
                voxtts_voice_info in;
                voxtts_voice_get_info(y, &in);
                CHECK(strcmp(in.model_fingerprint, fa) == 0 &&
                          memcmp(voxtts_voice_rows(y), voxtts_voice_rows(v),
                                 sizeof(float) * 4 * in.dim) == 0, "re-embedded for this model");
            }
            voxtts_voice_free(x);
            voxtts_voice_free(y);
        }
        CHECK(hit != NULL, "fingerprint found in the metadata");
        free(raw);
    }
    /* rows only, wrong width for the model -> error naming the file */
    voxtts_voice *pr = NULL, *z = NULL;
    CHECK(voxtts_voice_from_preset(a, voxtts_model_voice_name(a, 0), &pr, &err) == 0, "%s", err.msg);
    tpath(q, "narrow.voxv");
    if (pr) CHECK(voxtts_voice_save(pr, q, &err) == 0, "%s", err.msg);
    CHECK(voxtts_voice_load(b, q, &z, &err) == VOXTTS_E_SHAPE && !z && strstr(err.msg, q) &&
              strstr(err.msg, "dim"), "wrong width: %s", err.msg);
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    sp.voice_handle = pr;
    voxtts_audio au = {0};
    CHECK(pr && voxtts_synthesize(b, "Hi.", &sp, &au, NULL, &err) == VOXTTS_E_SHAPE &&
              strstr(err.msg, voxtts_model_voice_name(a, 0)), "synth with a narrow voice: %s", err.msg);
    voxtts_voice_free(pr);
    voxtts_voice_free(v);
    voxtts_model_free(a2);
}

/* Codes recovered from rows: exact for rows made from codes (also after bf16
 * rounding through a .pt), refused for rows that are no such sums. */
static void test_recover(voxtts_model *m, const char *label) {
    voxtts_error err = {0};
    const int T = 7, K = m->cfg.n_codebooks;
    int32_t *codes = make_codes(m, T, 5);
    voxtts_voice *v = NULL, *imp = NULL, *rec = NULL;
    CHECK(voxtts_voice_from_codes(m, codes, T, "rec", &v, &err) == 0, "%s: %s", label, err.msg);
    char p[512];
    tpath(p, "rec.pt");
    if (v) CHECK(voxtts_voice_export_pt(v, p, &err) == 0, "%s", err.msg);
    CHECK(voxtts_voice_load(m, p, &imp, &err) == 0 && imp && !voxtts_voice_codes(imp), "%s", err.msg);
    float rel = -1.0f;
    if (imp) {
        CHECK(voxtts_voice_recover_codes(m, imp, &rec, &rel, &err) == VOXTTS_OK && rec, "%s: recover: %s",
              label, err.msg);
    }
    if (rec) {
        CHECK(voxtts_voice_n_frames(rec) == T &&
                  memcmp(voxtts_voice_codes(rec), codes, sizeof(int32_t) * T * K) == 0,
              "%s: the codes come back exactly", label);
        CHECK(rel > 0.0f && rel < 5e-3f, "%s: residual %g (bf16 rounding only)", label, rel);
        CHECK(memcmp(voxtts_voice_rows(rec), voxtts_voice_rows(imp),
                     sizeof(float) * (size_t)(T + 1) * voxtts_voice_dim(imp)) == 0,
              "%s: rows kept as they were", label);
        voxtts_audio a = {0}, b = {0};
        CHECK(voxtts_voice_preview(m, rec, &a, &err) == 0 && voxtts_voice_preview(m, v, &b, &err) == 0 &&
                  same_audio(&a, &b), "%s: preview of the recovered codes", label);
        voxtts_audio_free(&a);
        voxtts_audio_free(&b);
    }
    /* rows that are no sums: a row of noise */
    voxtts_voice_free(rec);
    rec = NULL;
    if (v) {
        for (int d = 0; d < v->info.dim; d++) v->rows[2 * v->info.dim + d] += (d % 2 ? 0.5f : -0.5f);
        CHECK(voxtts_voice_recover_codes(m, v, &rec, &rel, &err) == VOXTTS_E_FORMAT && !rec &&
                  strstr(err.msg, "not sums"), "%s: noise refused: %s", label, err.msg);
    }
    voxtts_voice_free(v);
    voxtts_voice_free(imp);
    voxtts_voice_free(rec);
    free(codes);
}

static int count_steps(int step, int max_steps, float loss, void *user) {
    (void)max_steps, (void)loss;
    int *n = user;
    *n = step;
    return 0;
}

static int cancel_at_2(int step, int max_steps, float loss, void *user) {
    (void)max_steps, (void)loss, (void)user;
    return step >= 2;
}

/* voxtts_voice_clone: the encoder when attached (resampling other rates), the
 * inversion otherwise; clone_file records the source. */
static void test_clone(void) {
    voxtts_model *m = load(MODEL_A);
    if (!m) return;
    voxtts_error err = {0};
    const int spf = voxtts_model_samples_per_frame(m), sr = voxtts_model_sample_rate(m);
    /* a bit over 1 s (the shortest reference accepted) and off a frame boundary */
    const size_t n = (size_t)sr + (size_t)spf * 2 + 100;
    const int T_exp = (int)((n + (size_t)spf - 1) / (size_t)spf);
    float *wave = malloc(sizeof(float) * n);
    if (!wave) exit(2);
    for (size_t i = 0; i < n; i++)
        wave[i] = 0.3f * sinf(0.031f * (float)i) + 0.1f * sinf(0.0071f * (float)(i * i % 9973));
    /* no encoder: inversion with a tiny budget */
    CHECK(!voxtts_model_has_encoder(m), "tiny-a has no built-in encoder");
    voxtts_clone_params cp;
    voxtts_clone_params_default(&cp);
    cp.name = "inv";
    cp.max_iters = 3;
    int steps = 0;
    cp.progress = count_steps;
    cp.progress_user = &steps;
    voxtts_voice *v = NULL;
    CHECK(voxtts_voice_clone(m, wave, n, sr, &cp, &v, &err) == VOXTTS_OK, "inversion: %s", err.msg);
    if (v) {
        voxtts_voice_info in;
        voxtts_voice_get_info(v, &in);
        CHECK(strcmp(in.method, "inversion") == 0 && in.iterations == 3 && steps == 3 &&
                  in.n_frames == T_exp && in.n_rows == T_exp + 1 && isfinite(in.final_loss),
              "inversion voice: %s, %d iterations (%d seen), %d frames", in.method, in.iterations,
              steps, in.n_frames);
        voxtts_voice_free(v);
        v = NULL;
    }
    cp.progress = cancel_at_2;
    cp.max_iters = 10;
    CHECK(voxtts_voice_clone(m, wave, n, sr, &cp, &v, &err) == VOXTTS_E_CANCELLED && !v,
          "cancel: %s", err.msg);
    cp.progress = NULL;
    /* encoder attached: codes equal the encoder stage's, rows its embedding */
    char enc[256];
    snprintf(enc, sizeof enc, "%s/encoder.safetensors", MODEL_A);
    CHECK(voxtts_model_attach_encoder(m, enc, &err) == VOXTTS_OK && voxtts_model_has_encoder(m),
          "attach: %s", err.msg);
    int32_t *codes = NULL;
    int T = 0;
    CHECK(voxtts_stage_encode(m, NULL, wave, n, &codes, &T, &err) == VOXTTS_OK && T == T_exp, "encode: %s",
          err.msg);
    cp.name = "enc";
    CHECK(voxtts_voice_clone(m, wave, n, sr, &cp, &v, &err) == VOXTTS_OK, "encoder clone: %s", err.msg);
    if (v && codes) {
        voxtts_voice_info in;
        voxtts_voice_get_info(v, &in);
        CHECK(strcmp(in.method, "encoder") == 0 && in.n_frames == T &&
                  memcmp(voxtts_voice_codes(v), codes, sizeof(int32_t) * T * in.n_codebooks) == 0 &&
                  fabs(in.duration_s - (double)n / sr) < 1e-9,
              "encoder voice: %s, %d frames, %g s", in.method, in.n_frames, in.duration_s);
        voxtts_voice *w = NULL;
        CHECK(voxtts_voice_from_codes(m, codes, T, "x", &w, &err) == 0, "%s", err.msg);
        CHECK(w && memcmp(voxtts_voice_rows(w), voxtts_voice_rows(v),
                          sizeof(float) * (size_t)(T + 1) * in.dim) == 0, "rows of the codes");
        voxtts_voice_free(w);
    }
    voxtts_voice_free(v);
    v = NULL;
    /* another rate: resampled to 24 kHz first (same number of frames for the same duration) */
    const size_t n16 = n * 2 / 3;
    float *w16 = malloc(sizeof(float) * n16);
    if (!w16) exit(2);
    for (size_t i = 0; i < n16; i++) w16[i] = wave[i * 3 / 2];
    CHECK(voxtts_voice_clone(m, w16, n16, 16000, &cp, &v, &err) == VOXTTS_OK, "16 kHz: %s", err.msg);
    CHECK(v && voxtts_voice_n_frames(v) == T_exp, "16 kHz: %d frames", v ? voxtts_voice_n_frames(v) : -1);
    voxtts_voice_free(v);
    v = NULL;
    /* bad arguments */
    CHECK(voxtts_voice_clone(m, wave, 0, sr, &cp, &v, &err) == VOXTTS_E_ARG, "no samples");
    CHECK(voxtts_voice_clone(m, wave, n, 0, &cp, &v, &err) == VOXTTS_E_ARG, "rate 0");
    wave[10] = NAN;
    CHECK(voxtts_voice_clone(m, wave, n, sr, &cp, &v, &err) == VOXTTS_E_ARG && strstr(err.msg, "10"),
          "NaN sample: %s", err.msg);
    CHECK(voxtts_model_attach_encoder(m, "/nonexistent/enc.safetensors", &err) != VOXTTS_OK &&
              strstr(err.msg, "/nonexistent/enc.safetensors"), "bad encoder path: %s", err.msg);
    /* from a file: source name, SHA-256 and duration recorded */
    wave[10] = 0.0f;
    voxtts_audio a = {0};
    a.samples = wave;
    a.n_samples = n;
    a.sample_rate = sr;
    char p[512];
    tpath(p, "ref.wav");
    CHECK(voxtts_audio_save_wav(&a, p, &err) == VOXTTS_OK, "%s", err.msg);
    CHECK(voxtts_voice_clone_file(m, p, &cp, &v, &err) == VOXTTS_OK, "clone file: %s", err.msg);
    if (v) {
        voxtts_voice_info in;
        voxtts_voice_get_info(v, &in);
        char sha[65];
        voxtts_sha256_file(p, sha, &err);
        CHECK(strcmp(in.source, "ref.wav") == 0 && strcmp(in.source_sha256, sha) == 0 &&
                  fabs(in.duration_s - (double)n / sr) < 1e-6 && in.n_frames == T_exp,
              "file source: %s %s %g", in.source, in.source_sha256, in.duration_s);
    }
    voxtts_voice_free(v);
    v = NULL;
    tpath(p, "none.wav");
    CHECK(voxtts_voice_clone_file(m, p, &cp, &v, &err) != VOXTTS_OK && !v && strstr(err.msg, p),
          "missing file: %s", err.msg);
    free(codes);
    free(w16);
    free(wave);
    voxtts_model_free(m);
}

int main(void) {
    make_dir("voice");
    voxtts_model *a = load(MODEL_A), *b = load(MODEL_B);
    if (a) {
        test_rows(a);
        test_roundtrip_and_synth(a);
        test_preset_and_pt(a);
        test_corruption(a);
        test_prefix_cache_bounded(a);
        if (b) test_other_model(a, b);
    }
    if (b) test_recover(b, "tiny-b");
    voxtts_model *syn = NULL;
    voxtts_error serr = {0};
    CHECK(voxtts_model_synthetic("tests/data/params_bench_small.json", "bf16", 1, &syn, &serr) == 0,
          "synthetic: %s", serr.msg);
    if (syn) test_recover(syn, "synthetic dim 256");
    voxtts_model_free(syn);
    test_clone();
    voxtts_model_free(a);
    voxtts_model_free(b);
    rm_dir();
    TEST_MAIN_END();
}
