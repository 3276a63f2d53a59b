/* synthetic.c — a full model with random weights made in memory, for the
 * benchmark (`voxtts bench --synthetic`): voxtts_model_synthetic
 * (include/voxtts_debug.h), developer tooling (src/devkit/).
 *
 * Every tensor of the official checkpoint (the list vox_checkpoint_tensors
 * derives from params.json, the same names and shapes weights.c binds) is
 * created in the dtype vox_type_mix_choose gives it for the requested type mix
 * (the stored dtype being BF16, as in the official checkpoint), and filled with
 * random data generated directly in that format: random BF16/F16 bits of a sane
 * magnitude (about 1/sqrt(fan_in), never NaN, Inf or subnormal), Q8_0 blocks of
 * random int8 quants under one scale, Q4_K blocks of random nibbles and random
 * 6-bit sub-block scales and mins.  Nothing is quantized, so 8 GB take seconds:
 * the work is split in ~1 MB pieces over a thread pool, each piece seeded from
 * (tensor, first row) so the weights do not depend on the thread count.  Large
 * tensors are anonymous mappings populated up front (MAP_POPULATE): faulting
 * a million 4 KiB pages one at a time costs seconds per GB on some VMs, the
 * kernel populating them a fraction of that.  They stay 4 KiB pages (no
 * MADV_HUGEPAGE), like the page cache behind a memory-mapped checkpoint, so the
 * benchmark sees the TLB behaviour of a real model.  Norm gains and weight-norm
 * magnitudes are ones, LayerScales 0.1, the semantic codebook's usage ones, and the semantic head's END_AUDIO row is zero so that
 * random weights keep generating frames (as tools/make_random_model does).
 *
 * The tokenizer is a minimal Tekken in memory: the special tokens at their
 * official ranks (<s>, [AUDIO], [BEGIN_AUDIO] where params.json puts them,
 * [REPEAT_AUDIO_TEXT] 35, [NEXT_AUDIO_TEXT] 36, the rest padded as
 * mistral-common does) and the 256 single bytes as the only BPE ranks, so a
 * text of n bytes is n tokens.  Each params.json voice gets the official number
 * of rows (docs/MODEL.md §1.3; 147 for names not in that table), created as the
 * tensor "voice_embedding.<name>" the first time voice.c asks the source for it.
 * The default params.json is the official one, compiled in below. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include "tensor/quant.h"
#include "voxtral/checkpoint.h"
#include "voxtral/gguf_model.h"
#include "voxtral/model.h"
#include "voxtral/type_mix.h"

/* tests/data/params_official.json (Voxtral-4B-TTS-2603's params.json, docs/MODEL.md §1.1) */
static const char official_params[] =
    "{\"dim\":3072,\"n_layers\":26,\"head_dim\":128,\"hidden_dim\":9216,\"n_heads\":32,\"n_kv_heads\":8,\""
    "use_biases\":false,\"causal\":true,\"rope_theta\":1000000.0,\"norm_eps\":1e-05,\"vocab_size\":131"
    "072,\"model_parallel\":1,\"tied_embeddings\":true,\"max_seq_len\":65536,\"model_type\":\"voxtral_"
    "tts\",\"max_position_embeddings\":128000,\"multimodal\":{\"bos_token_id\":1,\"audio_model_args\":"
    "{\"semantic_codebook_size\":8192,\"acoustic_codebook_size\":21,\"n_acoustic_codebook\":36,\"aud"
    "io_encoding_args\":{\"codebook_pattern\":\"parallel\",\"interleave_audio_tokens_per_segment\":8"
    "192,\"interleave_text_tokens_per_segment\":8192,\"single_trailing_segment\":false,\"num_codeb"
    "ooks\":37,\"sampling_rate\":24000,\"frame_rate\":12.5},\"audio_token_id\":24,\"begin_audio_token"
    "_id\":25,\"input_embedding_concat_type\":\"sum\",\"acoustic_transformer_args\":{\"input_dim\":307"
    "2,\"dim\":3072,\"n_layers\":3,\"head_dim\":128,\"hidden_dim\":9216,\"n_heads\":32,\"n_kv_heads\":8,\""
    "use_biases\":false,\"rope_theta\":10000.0,\"sigma\":1e-05,\"sigma_max\":1.0},\"p_uncond\":0.0,\"te"
    "xt_feature_bugged\":false,\"condition_dropped_token_id\":42},\"audio_tokenizer_args\":{\"chann"
    "els\":1,\"sampling_rate\":24000,\"pretransform_patch_size\":240,\"patch_proj_kernel_size\":7,\"s"
    "emantic_codebook_size\":8192,\"semantic_dim\":256,\"acoustic_codebook_size\":21,\"acoustic_dim"
    "\":36,\"conv_weight_norm\":true,\"causal\":true,\"attn_sliding_window_size\":16,\"half_attn_wind"
    "ow_upon_downsampling\":true,\"dim\":1024,\"hidden_dim\":4096,\"head_dim\":128,\"n_heads\":8,\"n_kv"
    "_heads\":8,\"qk_norm_eps\":1e-06,\"qk_norm\":true,\"use_biases\":false,\"norm_eps\":0.01,\"layer_s"
    "cale\":true,\"layer_scale_init\":0.01,\"decoder_transformer_lengths_str\":\"2,2,2,2\",\"decoder_"
    "convs_kernels_str\":\"3,4,4,4\",\"decoder_convs_strides_str\":\"1,2,2,2\",\"voice\":{\"casual_fema"
    "le\":0,\"casual_male\":1,\"cheerful_female\":2,\"neutral_female\":3,\"neutral_male\":4,\"pt_male\":"
    "5,\"pt_female\":6,\"nl_male\":7,\"nl_female\":8,\"it_male\":9,\"it_female\":10,\"fr_male\":11,\"fr_fe"
    "male\":12,\"es_male\":13,\"es_female\":14,\"de_male\":15,\"de_female\":16,\"ar_male\":17,\"hi_male\":"
    "18,\"hi_female\":19}}}}";

/* Rows of each official preset voice (tekken.json audio.voice_num_audio_tokens, §1.3). */
static const struct { const char *name; int rows; } official_voices[] = {
    {"casual_female", 214}, {"casual_male", 147}, {"cheerful_female", 132},
    {"neutral_female", 218}, {"neutral_male", 169}, {"pt_male", 144},
    {"pt_female", 175},     {"nl_male", 138},     {"nl_female", 146},
    {"it_male", 168},       {"it_female", 172},   {"fr_male", 97},
    {"fr_female", 97},      {"es_male", 208},     {"es_female", 138},
    {"de_male", 163},       {"de_female", 147},   {"ar_male", 67},
    {"hi_male", 94},        {"hi_female", 86},
};
#define DEFAULT_VOICE_ROWS 147

static int voice_rows(const char *name) {
    for (size_t i = 0; i < sizeof official_voices / sizeof *official_voices; i++)
        if (strcmp(official_voices[i].name, name) == 0) return official_voices[i].rows;
    return DEFAULT_VOICE_ROWS;
}

/* Mistral's pre-tokenizer pattern (tekken.json config.pattern). */
static const char tekken_pattern[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

#define N_SPECIAL 1000

/* ---- random numbers ---------------------------------------------------------- */

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t next64(rng *r) { return mix64(r->s += 0x9E3779B97F4A7C15ull); }

/* ---- the tensor table (a vox_source) ----------------------------------------- */

typedef struct syn_tensor {
    char *name;
    vox_tensor t;
    void *buf;
    size_t mapped; /* bytes of an mmap'd buf (0: malloc'd) */
    vox_ckpt_fill fill;
} syn_tensor;

#define MAP_MIN_BYTES ((size_t)1 << 20)

/* Memory for a tensor: populated anonymous pages when large. */
static void *tensor_alloc(syn_tensor *st, size_t n) {
#ifdef MAP_POPULATE
    if (n >= MAP_MIN_BYTES) {
        void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                       -1, 0);
        if (p != MAP_FAILED) {
            st->mapped = n;
            return p;
        }
    }
#endif
    return malloc(n);
}

static void tensor_release(syn_tensor *st) {
    if (st->mapped)
        munmap(st->buf, st->mapped);
    else
        free(st->buf);
    st->buf = NULL;
    st->mapped = 0;
}

typedef struct synthetic {
    syn_tensor *ts;
    size_t n, cap;
    const vox_config *cfg;     /* for lazily made voices */
    syn_tensor voices[VOX_MAX_VOICES];
    int n_voices;
    uint64_t seed;
} synthetic;

static void syn_close(void *impl) {
    synthetic *s = impl;
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->ts[i].name);
        tensor_release(&s->ts[i]);
    }
    for (int i = 0; i < s->n_voices; i++) {
        free(s->voices[i].name);
        free(s->voices[i].buf);
    }
    free(s->ts);
    free(s);
}

static void make_voice(synthetic *s, const char *name, int index);

static const vox_tensor *syn_find(void *impl, const char *name) {
    synthetic *s = impl;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->ts[i].name, name) == 0) return &s->ts[i].t;
    for (int i = 0; i < s->n_voices; i++)
        if (strcmp(s->voices[i].name, name) == 0) return &s->voices[i].t;
    /* a voice of params.json: made the first time it is asked for */
    const size_t plen = strlen(VOX_GGUF_VOICE_PREFIX);
    if (strncmp(name, VOX_GGUF_VOICE_PREFIX, plen) == 0) {
        for (int v = 0; v < s->cfg->n_voices; v++) {
            if (strcmp(s->cfg->voice_names[v], name + plen) == 0) {
                make_voice(s, name + plen, v);
                if (s->n_voices > 0 && strcmp(s->voices[s->n_voices - 1].name, name) == 0)
                    return &s->voices[s->n_voices - 1].t;
                return NULL; /* out of memory: voice.c reports the voice as missing */
            }
        }
    }
    return NULL;
}

static void fmt_shape(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

static int syn_expect(void *impl, const char *name, int ndim, const int64_t *shape,
                      const vox_tensor **out, vox_error *err) {
    const vox_tensor *t = syn_find(impl, name);
    if (out) *out = NULL;
    if (!t) return vox_fail(err, VOX_E_MISSING, "synthetic model: missing tensor '%s'", name);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char a[128], b[128];
        fmt_shape(a, sizeof a, t->ndim, t->shape);
        fmt_shape(b, sizeof b, ndim, shape);
        return vox_fail(err, VOX_E_SHAPE, "synthetic model: tensor '%s' has shape %s, expected %s",
                        name, a, b);
    }
    if (out) *out = t;
    return VOX_OK;
}

/* A large tensor's anonymous pages are returned to the system (they read as
 * zeros afterwards: the weights are random, and the model reads its own copy). */
static void syn_release(void *impl, const vox_tensor *t) {
    synthetic *s = impl;
    for (size_t i = 0; i < s->n; i++)
        if (&s->ts[i].t == t && s->ts[i].mapped) vox_source_drop_pages(s->ts[i].buf, s->ts[i].mapped);
}

static const vox_source_ops synthetic_ops = {syn_expect, syn_find, syn_close, syn_release};

/* ---- filling ------------------------------------------------------------------ */

/* Rows and row length of a tensor seen as a matrix [shape[0]][rest]. */
static int64_t n_rows(const vox_tensor *t) { return t->ndim <= 1 ? 1 : t->shape[0]; }
static int64_t row_len(const vox_tensor *t) {
    int64_t n = 1;
    for (int d = t->ndim <= 1 ? 0 : 1; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

/* Per-tensor constants of the random formats: the target magnitude sigma ~ 1/sqrt(fan_in). */
typedef struct fill_params {
    int e0;            /* BF16/F16: values in +-[2^e0, 2^(e0+2)) */
    uint16_t q8_d;     /* Q8_0 scale (fp16 bits) */
    uint16_t q4_d, q4_dmin;
    float constant;    /* ONES / LAYER_SCALE / USAGE */
} fill_params;

static fill_params params_for(const syn_tensor *st) {
    fill_params p;
    memset(&p, 0, sizeof p);
    const int64_t fan_in = row_len(&st->t) > 0 ? row_len(&st->t) : 1;
    const double sigma = 1.0 / sqrt((double)fan_in);
    /* |x| uniform-ish in [2^e0, 2^(e0+2)) has a typical size ~2^(e0+1) */
    p.e0 = (int)floor(log2(sigma)) - 1;
    if (p.e0 < -14) p.e0 = -14; /* stays a normal number even in F16 */
    p.q8_d = vox_fp32_to_fp16((float)(sigma / 73.0)); /* int8 uniform: std ~73 */
    /* x = d*sc*q - dmin*m, sc ~ 32, q - 7.5 ~ +-4.6 */
    const float d = (float)(sigma / 150.0);
    p.q4_d = vox_fp32_to_fp16(d);
    p.q4_dmin = vox_fp32_to_fp16(d * 7.5f);
    p.constant = st->fill == VOX_FILL_LAYER_SCALE ? 0.1f : 1.0f;
    return p;
}

/* n values of random 16-bit floats (BF16: 8 exponent bits, 7 mantissa; F16: 5
 * and 10), four per 64-bit random word, lane-wise: random sign and mantissa, the
 * exponent e0 or e0+1 from one more random bit (so |x| in [2^e0, 2^(e0+2))). */
static void fill_half(rng *r, uint16_t *o, int64_t n, int e0, int bf16) {
    const int man_bits = bf16 ? 7 : 10;
    const uint64_t lanes = 0x0001000100010001ull;
    const uint64_t keep = (uint64_t)(0x8000u | ((1u << man_bits) - 1)) * lanes;
    const uint64_t ebit = (uint64_t)(1u << man_bits) * lanes;
    const uint64_t base = (uint64_t)(uint16_t)((unsigned)((bf16 ? 127 : 15) + e0) << man_bits) * lanes;
    int64_t i = 0;
    for (; i < n; i += 4) {
        const uint64_t v = next64(r);
        /* bit 14 of each lane moves to that lane's lowest exponent bit */
        const uint64_t w = (v & keep) + base + ((v >> (14 - man_bits)) & ebit);
        memcpy(o + i, &w, (size_t)(n - i < 4 ? n - i : 4) * sizeof *o);
    }
}

static void fill_bytes(rng *r, uint8_t *o, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = next64(r);
        memcpy(o + i, &v, 8);
    }
    if (i < n) {
        uint64_t v = next64(r);
        memcpy(o + i, &v, n - i);
    }
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); } /* little-endian hosts (quant.h) */

/* Rows [r0, r1) of one tensor. */
static void fill_rows(const syn_tensor *st, const fill_params *fp, int64_t r0, int64_t r1,
                      uint64_t seed) {
    const vox_tensor *t = &st->t;
    const int64_t cols = row_len(t);
    const size_t rb = vox_dtype_row_bytes(t->dtype, cols);
    uint8_t *base = (uint8_t *)st->buf + (size_t)r0 * rb;
    const int64_t n = (r1 - r0) * cols;
    rng r = {seed};
    if (st->fill == VOX_FILL_ONES || st->fill == VOX_FILL_LAYER_SCALE || st->fill == VOX_FILL_USAGE) {
        /* small 1-D/3-D tensors, stored dtype (BF16) */
        for (int64_t i = 0; i < n; i++) {
            switch (t->dtype) {
            case VOX_F32: memcpy(base + 4 * i, &fp->constant, 4); break;
            case VOX_F16: put16(base + 2 * i, vox_fp32_to_fp16(fp->constant)); break;
            default: put16(base + 2 * i, vox_f32_to_bf16(fp->constant)); break;
            }
        }
        return;
    }
    switch (t->dtype) {
    case VOX_BF16: fill_half(&r, (uint16_t *)base, n, fp->e0, 1); break;
    case VOX_F16: fill_half(&r, (uint16_t *)base, n, fp->e0, 0); break;
    case VOX_F32: {
        const float s = ldexpf(1.0f, fp->e0 + 1) * 1.7320508f; /* uniform(-s, s) */
        for (int64_t i = 0; i < n; i++) {
            float v = ((float)(next64(&r) >> 40) / (float)(1 << 24) * 2.0f - 1.0f) * s;
            memcpy(base + 4 * i, &v, 4);
        }
        break;
    }
    case VOX_Q8_0: {
        const size_t nb = (size_t)(r1 - r0) * (rb / VOX_Q8_0_BYTES);
        for (size_t b = 0; b < nb; b++) {
            uint8_t *blk = base + b * VOX_Q8_0_BYTES;
            put16(blk, fp->q8_d);
            fill_bytes(&r, blk + 2, VOX_QK8_0);
        }
        break;
    }
    case VOX_Q4_K: {
        const size_t nb = (size_t)(r1 - r0) * (rb / VOX_Q4_K_BYTES);
        for (size_t b = 0; b < nb; b++) {
            uint8_t *blk = base + b * VOX_Q4_K_BYTES;
            put16(blk, fp->q4_d);
            put16(blk + 2, fp->q4_dmin);
            fill_bytes(&r, blk + 4, VOX_K_SCALE_BYTES + VOX_QK_K / 2);
        }
        break;
    }
    }
    /* §5.1: END_AUDIO is row 1 of the semantic head; all-zero bytes are 0 in every format */
    if (st->fill == VOX_FILL_SEMANTIC_HEAD && r0 <= 1 && r1 > 1)
        memset(base + (size_t)(1 - r0) * rb, 0, rb);
}

typedef struct fill_job {
    size_t tensor;
    int64_t r0, r1;
} fill_job;

typedef struct fill_ctx {
    const synthetic *s;
    const fill_job *jobs;
    const fill_params *params;
} fill_ctx;

static void fill_run(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const fill_ctx *c = ctx;
    for (int64_t j = begin; j < end; j++) {
        const fill_job *jb = &c->jobs[j];
        const uint64_t seed = mix64(c->s->seed ^ mix64((uint64_t)jb->tensor * 0x100000001B3ull) ^
                                    (uint64_t)jb->r0 * 0x9E3779B97F4A7C15ull);
        fill_rows(&c->s->ts[jb->tensor], &c->params[jb->tensor], jb->r0, jb->r1, seed);
    }
}

/* Voice `index` of params.json; its values depend only on the index, not on the
 * order in which voices are first used. */
static void make_voice(synthetic *s, const char *name, int index) {
    if (s->n_voices >= VOX_MAX_VOICES) return;
    const int rows = voice_rows(name);
    const int64_t D = s->cfg->llm.dim;
    syn_tensor *v = &s->voices[s->n_voices];
    memset(v, 0, sizeof *v);
    size_t nl = strlen(VOX_GGUF_VOICE_PREFIX) + strlen(name) + 1;
    v->name = malloc(nl);
    v->buf = malloc(sizeof(uint16_t) * (size_t)rows * (size_t)D);
    if (!v->name || !v->buf) {
        free(v->name);
        free(v->buf);
        memset(v, 0, sizeof *v);
        return;
    }
    snprintf(v->name, nl, "%s%s", VOX_GGUF_VOICE_PREFIX, name);
    v->t.dtype = VOX_BF16;
    v->t.ndim = 2;
    v->t.shape[0] = rows;
    v->t.shape[1] = D;
    v->t.data = v->buf;
    v->t.nbytes = sizeof(uint16_t) * (size_t)rows * (size_t)D;
    /* rows stand for sums of 37 code embeddings (§1.4): small values, ~0.05 */
    rng r = {mix64(s->seed ^ 0xabcdefull ^ mix64((uint64_t)index + 1))};
    fill_half(&r, v->buf, (int64_t)rows * D, -6, 1);
    s->n_voices++;
}

/* ---- building ---------------------------------------------------------------- */

typedef struct build_ctx {
    synthetic *s;
    const vox_type_mix *mix;
    vox_error *err;
} build_ctx;

static int add_tensor(void *user, const vox_ckpt_tensor *ct) {
    build_ctx *b = user;
    synthetic *s = b->s;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 512;
        syn_tensor *ts = realloc(s->ts, cap * sizeof *ts);
        if (!ts) return vox_fail(b->err, VOX_E_NOMEM, "synthetic model: out of memory");
        s->ts = ts;
        s->cap = cap;
    }
    syn_tensor *st = &s->ts[s->n];
    memset(st, 0, sizeof *st);
    for (int d = 0; d < ct->ndim; d++)
        if (ct->shape[d] <= 0)
            return vox_fail(b->err, VOX_E_FORMAT, "synthetic model: tensor '%s' has an empty shape",
                            ct->name);
    st->t.ndim = ct->ndim;
    for (int d = 0; d < ct->ndim; d++) st->t.shape[d] = ct->shape[d];
    st->t.dtype = vox_type_mix_choose(b->mix, ct->name, VOX_BF16, ct->ndim, ct->shape);
    st->fill = ct->fill;
    const int64_t rows = n_rows(&st->t), cols = row_len(&st->t);
    const size_t rb = vox_dtype_row_bytes(st->t.dtype, cols);
    if (rb == 0 || (size_t)rows > SIZE_MAX / rb)
        return vox_fail(b->err, VOX_E_FORMAT, "synthetic model: tensor '%s' is too large", ct->name);
    st->t.nbytes = (size_t)rows * rb;
    st->name = strdup(ct->name);
    st->buf = tensor_alloc(st, st->t.nbytes);
    s->n++; /* owned from here on, freed with the source */
    if (!st->name || !st->buf)
        return vox_fail(b->err, VOX_E_NOMEM, "synthetic model: out of memory for tensor '%s' (%zu bytes)",
                        ct->name, st->t.nbytes);
    st->t.data = st->buf;
    return VOX_OK;
}

/* Fill every tensor, ~1 MB per job, over n_threads threads. */
static int fill_all(synthetic *s, int n_threads, vox_error *err) {
    size_t n_jobs = 0;
    for (size_t i = 0; i < s->n; i++) {
        const vox_tensor *t = &s->ts[i].t;
        const size_t rb = t->nbytes / (size_t)n_rows(t);
        const int64_t per = rb >= (1u << 20) ? 1 : (int64_t)((1u << 20) / rb);
        n_jobs += (size_t)((n_rows(t) + per - 1) / per);
    }
    fill_job *jobs = malloc(n_jobs * sizeof *jobs);
    fill_params *params = malloc(s->n * sizeof *params);
    vox_pool *pool = NULL;
    int rc = vox_pool_create(n_threads, &pool, err);
    if (rc == VOX_OK && (!jobs || !params))
        rc = vox_fail(err, VOX_E_NOMEM, "synthetic model: out of memory");
    if (rc == VOX_OK) {
        size_t k = 0;
        for (size_t i = 0; i < s->n; i++) {
            const vox_tensor *t = &s->ts[i].t;
            params[i] = params_for(&s->ts[i]);
            const size_t rb = t->nbytes / (size_t)n_rows(t);
            const int64_t per = rb >= (1u << 20) ? 1 : (int64_t)((1u << 20) / rb);
            for (int64_t r = 0; r < n_rows(t); r += per)
                jobs[k++] = (fill_job){i, r, r + per < n_rows(t) ? r + per : n_rows(t)};
        }
        fill_ctx c = {s, jobs, params};
        vox_pool_for(pool, (int64_t)n_jobs, 1, fill_run, &c);
    }
    vox_pool_free(pool);
    free(jobs);
    free(params);
    return rc;
}

static void base64_byte(uint8_t b, char out[5]) {
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out[0] = al[b >> 2];
    out[1] = al[(b & 3) << 4];
    out[2] = '=';
    out[3] = '=';
    out[4] = '\0';
}

/* The minimal tekken.json (see the top of the file), parsed by the real loader. */
static int make_tokenizer(const vox_config *cfg, vox_tekken **out, vox_error *err) {
    const int vocab = N_SPECIAL + 256;
    if (cfg->vocab_size < vocab)
        return vox_fail(err, VOX_E_FORMAT,
                        "synthetic model: params.json vocab_size %d is below the %d ids of the "
                        "synthetic tokenizer (1000 special tokens + 256 bytes)",
                        cfg->vocab_size, vocab);
    const char *names[N_SPECIAL] = {0};
    names[0] = "<unk>";
    names[2] = "</s>";
    names[3] = "[INST]";
    names[4] = "[/INST]";
    names[26] = "[OUTPUT_AUDIO]";
    names[35] = "[REPEAT_AUDIO_TEXT]";
    names[36] = "[NEXT_AUDIO_TEXT]";
    struct { int id; const char *name; } placed[3] = {
        {cfg->bos_token_id, "<s>"}, {cfg->audio_token_id, "[AUDIO]"},
        {cfg->begin_audio_token_id, "[BEGIN_AUDIO]"}};
    for (int i = 0; i < 3; i++) {
        if (placed[i].id < 0 || placed[i].id >= N_SPECIAL)
            return vox_fail(err, VOX_E_FORMAT,
                            "synthetic model: params.json puts %s at id %d, outside the %d "
                            "special tokens", placed[i].name, placed[i].id, N_SPECIAL);
        names[placed[i].id] = placed[i].name;
    }
    int rc = VOX_OK;
    cJSON *root = cJSON_CreateObject(), *c = cJSON_AddObjectToObject(root, "config");
    cJSON *vocab_a = cJSON_AddArrayToObject(root, "vocab");
    cJSON *sp = cJSON_AddArrayToObject(root, "special_tokens");
    cJSON *audio = cJSON_AddObjectToObject(root, "audio");
    cJSON *vn = audio ? cJSON_AddObjectToObject(audio, "voice_num_audio_tokens") : NULL;
    int ok = root && c && vocab_a && sp && audio && vn &&
             cJSON_AddStringToObject(c, "pattern", tekken_pattern) &&
             cJSON_AddNumberToObject(c, "num_vocab_tokens", 256) &&
             cJSON_AddNumberToObject(c, "default_vocab_size", vocab) &&
             cJSON_AddNumberToObject(c, "default_num_special_tokens", N_SPECIAL) &&
             cJSON_AddStringToObject(c, "version", "v7") &&
             cJSON_AddNumberToObject(audio, "sampling_rate", cfg->sampling_rate) &&
             cJSON_AddNumberToObject(audio, "frame_rate", cfg->frame_rate);
    for (int i = 0; ok && i < 256; i++) {
        char b64[5];
        base64_byte((uint8_t)i, b64);
        cJSON *e = cJSON_CreateObject();
        ok = e && cJSON_AddItemToArray(vocab_a, e) && cJSON_AddNumberToObject(e, "rank", i) &&
             cJSON_AddStringToObject(e, "token_bytes", b64) && cJSON_AddNullToObject(e, "token_str");
    }
    for (int i = 0; ok && i < N_SPECIAL; i++) {
        char pad[32];
        snprintf(pad, sizeof pad, "<SPECIAL_%d>", i);
        cJSON *e = cJSON_CreateObject();
        ok = e && cJSON_AddItemToArray(sp, e) && cJSON_AddNumberToObject(e, "rank", i) &&
             cJSON_AddStringToObject(e, "token_str", names[i] ? names[i] : pad) &&
             cJSON_AddBoolToObject(e, "is_control", 1);
    }
    for (int v = 0; ok && v < cfg->n_voices; v++)
        ok = cJSON_AddNumberToObject(vn, cfg->voice_names[v], voice_rows(cfg->voice_names[v])) != NULL;
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) return vox_fail(err, VOX_E_NOMEM, "synthetic model: out of memory for the tokenizer");
    rc = vox_tekken_load_buffer(text, strlen(text), "synthetic tekken.json", out, err);
    free(text);
    return rc;
}

int voxtts_model_synthetic(const char *params_json_path, const char *type_mix, int n_threads,
                           voxtts_model **out, voxtts_error *err) {
    if (!out) return vox_fail(err, VOX_E_ARG, "voxtts_model_synthetic: out is NULL");
    *out = NULL;
    if (n_threads < 0 || n_threads > 1024)
        return vox_fail(err, VOX_E_ARG, "voxtts_model_synthetic: n_threads %d out of range (0..1024)",
                        n_threads);
    vox_type_mix mix;
    int rc = vox_type_mix_parse(type_mix ? type_mix : "bf16", &mix, err);
    if (rc) return rc;
    voxtts_model *m = calloc(1, sizeof *m);
    if (!m) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    if (params_json_path)
        rc = vox_config_load(params_json_path, &m->cfg, err);
    else
        rc = vox_config_parse(official_params, sizeof official_params - 1,
                              "built-in params.json (Voxtral-4B-TTS-2603)", &m->cfg, err);
    if (rc) goto fail;
    if (!(m->dir = strdup("synthetic"))) {
        rc = vox_fail(err, VOX_E_NOMEM, "out of memory");
        goto fail;
    }
    synthetic *s = calloc(1, sizeof *s);
    if (!s) {
        rc = vox_fail(err, VOX_E_NOMEM, "out of memory");
        goto fail;
    }
    s->cfg = &m->cfg;
    s->seed = 0x5EED5EEDull;
    char mix_text[160], label[200];
    vox_type_mix_format(&mix, mix_text, sizeof mix_text);
    snprintf(label, sizeof label, "synthetic model (%s)", mix_text);
    if ((rc = vox_source_new(&synthetic_ops, s, label, &m->src, err))) goto fail; /* owns s */
    build_ctx bc = {s, &mix, err};
    if ((rc = vox_checkpoint_tensors(&m->cfg, add_tensor, &bc))) goto fail;
    if ((rc = fill_all(s, n_threads, err))) goto fail;
    if ((rc = make_tokenizer(&m->cfg, &m->tk, err))) goto fail;
    if ((rc = vox_model_finish_load(m, n_threads, err))) goto fail;
    *out = m;
    return VOX_OK;
fail:
    voxtts_model_free(m);
    return rc;
}
