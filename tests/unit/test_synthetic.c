/* test_synthetic.c — voxtts_model_synthetic (the benchmark's random model) on
 * tests/data/params_bench_small.json.
 *
 * Every tensor gets the dtype of the type mix (best: Q4_K backbone, Q8_0 heads,
 * F16 for the 36-wide input projection, BF16 norms), the weights do not depend on
 * the thread count, every value is finite and of a sane size (~1/sqrt(fan_in),
 * no subnormals in the 16-bit formats), norm gains are one, the semantic head's
 * END_AUDIO row is zero, the tokenizer is byte-level with the official special
 * ids, a voice appears with its official row count when first asked for, a bad
 * type or params file fails with a clear message, and synthesis runs and is
 * deterministic. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "voxtral/checkpoint.h"
#include "voxtral/model.h"
#include "voxtts_debug.h"

#define PARAMS "tests/data/params_bench_small.json"

static voxtts_model *build(const char *type, int threads) {
    voxtts_model *m = NULL;
    voxtts_error err = {0};
    int rc = voxtts_model_synthetic(PARAMS, type, threads, &m, &err);
    CHECK(rc == VOXTTS_OK && m, "synthetic %s (%d threads): %s", type, threads, err.msg);
    return m;
}

typedef struct cmp_ctx {
    const voxtts_model *a, *b;
    int n, same, finite, sane;
} cmp_ctx;

/* Same bytes in both models; finite values of a sane size in a. */
static int cmp_tensor(void *user, const vox_ckpt_tensor *ct) {
    cmp_ctx *c = user;
    const vox_tensor *ta = vox_source_find(c->a->src, ct->name);
    const vox_tensor *tb = vox_source_find(c->b->src, ct->name);
    c->n++;
    if (!ta || !tb || ta->nbytes != tb->nbytes || memcmp(ta->data, tb->data, ta->nbytes) != 0) {
        c->same = 0;
        fprintf(stderr, "  differs: %s\n", ct->name);
        return 0;
    }
    int64_t numel = vox_tensor_numel(ta);
    float *f = malloc(sizeof(float) * (size_t)numel);
    if (!f) return 0;
    vox_tensor_to_f32(ta, f);
    double ss = 0.0;
    for (int64_t i = 0; i < numel; i++) {
        if (!isfinite(f[i])) c->finite = 0;
        if ((ta->dtype == VOX_BF16 || ta->dtype == VOX_F16) && f[i] != 0.0f &&
            fabsf(f[i]) < 6.2e-5f)
            c->finite = 0; /* a subnormal or absurdly small 16-bit value */
        ss += (double)f[i] * f[i];
    }
    if (ct->fill == VOX_FILL_RANDOM && numel > 0) {
        const int64_t fan_in = ct->ndim > 1 ? numel / ct->shape[0] : numel;
        const double rms = sqrt(ss / (double)numel) * sqrt((double)fan_in);
        if (!(rms > 0.1 && rms < 10.0)) {
            c->sane = 0;
            fprintf(stderr, "  %s (%s): rms*sqrt(fan_in) = %g\n", ct->name, vox_dtype_name(ta->dtype),
                    rms);
        }
    }
    free(f);
    return 0;
}

int main(void) {
    voxtts_model *a = build("best", 1), *b = build("best", 2);
    if (a && b) {
        cmp_ctx c = {a, b, 0, 1, 1, 1};
        vox_checkpoint_tensors(&a->cfg, cmp_tensor, &c);
        CHECK(c.n > 100, "%d tensors", c.n);
        CHECK(c.same, "weights depend on the thread count");
        CHECK(c.finite, "non-finite or subnormal values");
        CHECK(c.sane, "values of the wrong magnitude");

        const vox_tensor *t = vox_source_find(a->src, "layers.0.attention.wq.weight");
        CHECK(t && t->dtype == VOX_Q4_K, "best: backbone Q4_K");
        t = vox_source_find(a->src, "acoustic_transformer.semantic_codebook_output.weight");
        CHECK(t && t->dtype == VOX_Q8_0, "best: heads Q8_0");
        if (t) {
            const int64_t D = t->shape[1];
            float *row = malloc(sizeof(float) * (size_t)D);
            if (row) {
                vox_tensor_get_row(t, 1, row);
                int zero = 1;
                for (int64_t i = 0; i < D; i++) zero &= row[i] == 0.0f;
                CHECK(zero, "END_AUDIO row of the semantic head is zero");
                vox_tensor_get_row(t, 2, row);
                int nonzero = 0;
                for (int64_t i = 0; i < D; i++) nonzero |= row[i] != 0.0f;
                CHECK(nonzero, "other rows are random");
                free(row);
            }
        }
        t = vox_source_find(a->src, "acoustic_transformer.input_projection.weight");
        CHECK(t && t->dtype == VOX_F16, "36-wide input projection falls back to F16 (%s)",
              t ? vox_dtype_name(t->dtype) : "missing");
        t = vox_source_find(a->src, "norm.weight");
        CHECK(t && t->dtype == VOX_BF16 && a->w.norm[0] == 1.0f, "norm gains are BF16 ones");
        CHECK(a->w.stages[1].layers[0].attention_scale[3] == vox_bf16_to_f32(vox_f32_to_bf16(0.1f)),
              "LayerScales 0.1");

        /* tokenizer: bytes at ids 1000 + byte, official special ids */
        int32_t *ids = NULL;
        size_t n = 0;
        voxtts_error err = {0};
        CHECK(vox_tekken_encode(a->tk, "Hi!", 3, &ids, &n, &err) == VOX_OK && n == 3 &&
                  ids[0] == 1000 + 'H' && ids[2] == 1000 + '!',
              "byte-level tokenizer");
        free(ids);
        CHECK(a->id_bos == 1 && a->id_audio == 24 && a->id_begin_audio == 25 &&
                  a->id_repeat_audio_text == 35 && a->id_next_audio_text == 36,
              "special ids");
        /* a voice, made when first asked for, official row count */
        const float *rows;
        int nv = 0;
        int vi = voxtts_model_find_voice(a, "casual_male");
        CHECK(vi >= 0 && vox_voice_get(a, vi, &rows, &nv, &err) == VOX_OK && nv == 147,
              "casual_male has 147 rows (%d): %s", nv, err.msg);
        vi = voxtts_model_find_voice(a, "ar_male");
        CHECK(vi >= 0 && vox_voice_get(a, vi, &rows, &nv, &err) == VOX_OK && nv == 67,
              "ar_male has 67 rows (%d)", nv);

        /* synthesis runs and is deterministic */
        voxtts_synth_params sp;
        voxtts_synth_params_default(&sp);
        voxtts_synth_debug dbg;
        voxtts_synth_debug_default(&dbg);
        sp.debug = &dbg;
        sp.voice = "neutral_female";
        sp.max_frames = 3;
        dbg.ignore_end = 1;
        voxtts_audio x, y;
        int r1 = voxtts_synthesize(a, "Hello.", &sp, &x, NULL, &err);
        int r2 = voxtts_synthesize(b, "Hello.", &sp, &y, NULL, &err);
        CHECK(r1 == VOXTTS_OK && r2 == VOXTTS_OK && x.n_frames == 3 && y.n_frames == 3,
              "synthesize: %s", err.msg);
        CHECK(r1 == VOXTTS_OK && r2 == VOXTTS_OK &&
                  memcmp(x.samples, y.samples, sizeof(float) * x.n_samples) == 0,
              "same audio from both models");
        voxtts_audio_free(&x);
        voxtts_audio_free(&y);
    }
    voxtts_model_free(a);
    voxtts_model_free(b);

    /* q8_0 everywhere: the 36-wide projection still falls back, the rest is Q8_0 */
    voxtts_model *q = build("q8_0", 2);
    if (q) {
        const vox_tensor *t = vox_source_find(q->src, "acoustic_transformer.layers.1.feed_forward.w2.weight");
        CHECK(t && t->dtype == VOX_Q8_0, "q8_0: acoustic Q8_0");
        t = vox_source_find(q->src, "mm_audio_embeddings.tok_embeddings.weight");
        CHECK(t && t->dtype == VOX_Q8_0, "q8_0: embeddings Q8_0");
        t = vox_source_find(q->src, "audio_tokenizer.decoder_blocks.0.conv.parametrizations.weight.original1");
        CHECK(t && t->dtype == VOX_BF16, "codec convolutions keep BF16");
    }
    voxtts_model_free(q);

    /* errors */
    voxtts_model *m = NULL;
    voxtts_error err = {0};
    CHECK(voxtts_model_synthetic(PARAMS, "q5_z", 1, &m, &err) == VOXTTS_E_ARG && !m &&
              strstr(err.msg, "q5_z"),
          "bad type: %s", err.msg);
    CHECK(voxtts_model_synthetic("tests/data/no_such_params.json", "bf16", 1, &m, &err) != VOXTTS_OK &&
              !m && strstr(err.msg, "no_such_params.json"),
          "missing params: %s", err.msg);
    CHECK(voxtts_model_synthetic(PARAMS, "bf16", -3, &m, &err) == VOXTTS_E_ARG && !m,
          "bad thread count: %s", err.msg);
    CHECK(voxtts_model_synthetic(PARAMS, "bf16", 1, NULL, &err) == VOXTTS_E_ARG, "NULL out");
    TEST_MAIN_END();
}
