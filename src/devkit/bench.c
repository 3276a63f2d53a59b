/* bench.c — the measurements behind `voxtts bench` (the method: bench.h) and
 * their public face in include/voxtts_debug.h (voxtts_bench_run,
 * voxtts_model_type_mix, voxtts_kernels_name).  src/devkit/ holds the
 * developer's tools built into the library, apart from the synthesis pipeline
 * of src/voxtral/: this benchmark and the synthetic model it runs on. */
#include "devkit/bench.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "voxtral/checkpoint.h"
#include "voxtral/type_mix.h"
#include "voxtral/stream.h"

/* ---- traffic model ------------------------------------------------------------ */

static double nb(const vox_tensor *t) { return t ? (double)t->nbytes : 0.0; }

static double block_bytes(const vox_block_w *b) {
    return nb(b->wq) + nb(b->wk) + nb(b->wv) + nb(b->wo) + nb(b->w1) + nb(b->w2) + nb(b->w3);
}

typedef struct sum_ctx {
    const vox_source *src;
    int64_t total;
} sum_ctx;

static int sum_tensor(void *user, const vox_ckpt_tensor *ct) {
    sum_ctx *c = user;
    const vox_tensor *t = vox_source_find(c->src, ct->name);
    if (t) c->total += (int64_t)t->nbytes;
    return 0;
}

void vox_bench_traffic_of(const voxtts_model *m, int n_steps, vox_bench_traffic *t) {
    const vox_config *c = &m->cfg;
    const vox_weights *w = &m->w;
    memset(t, 0, sizeof *t);
    sum_ctx sc = {m->src, 0};
    vox_checkpoint_tensors(c, sum_tensor, &sc);
    t->weight_bytes = sc.total;

    for (int l = 0; l < c->llm.n_layers; l++) t->backbone += block_bytes(&w->layers[l]);
    t->embed = (double)c->n_codebooks *
               (double)vox_dtype_row_bytes(w->audio_embeddings->dtype, c->llm.dim);
    t->heads = nb(w->semantic_output) + nb(w->llm_projection);
    double ac = nb(w->input_projection) + nb(w->acoustic_output);
    for (int l = 0; l < c->acoustic.n_layers; l++) ac += block_bytes(&w->ac_layers[l]);
    t->acoustic = (double)(n_steps > 0 ? n_steps : c->n_decoding_steps) * ac;
    double codec = 0.0;
    for (int i = 0; i < w->n_stages; i++) {
        const vox_codec_stage_w *st = &w->stages[i];
        codec += (double)st->kernel * st->in_ch * st->out_ch * sizeof(float); /* f32 taps */
        for (int j = 0; j < st->n_layers; j++) {
            const vox_codec_layer_w *L = &st->layers[j];
            codec += nb(L->wq) + nb(L->wk) + nb(L->wv) + nb(L->wo) + nb(L->w1) + nb(L->w2) +
                     nb(L->w3);
        }
    }
    codec += (double)w->out_kernel * c->codec.dim * c->codec.patch_size * sizeof(float);
    /* the codec decodes each frame once, incrementally (stream.h): its weights
     * are read once per emission, 25 frames in the steady streaming state (the
     * carried keys/values and conv rows are a few MB at most and stay cached) */
    t->codec = codec / VOX_STREAM_CHUNK;
    t->per_frame = t->backbone + t->embed + t->heads + t->acoustic + t->codec;
}

/* ---- bandwidth ------------------------------------------------------------------ */

/* GCC/Clang vector extension: the widest loads the target has (AVX-512: zmm). */
typedef uint64_t u64x8 __attribute__((vector_size(64)));

static uint64_t sum_slice(const unsigned char *p, size_t n) {
    u64x8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    size_t i = 0;
    for (; i + 256 <= n; i += 256) {
        u64x8 v0, v1, v2, v3;
        memcpy(&v0, p + i, 64);
        memcpy(&v1, p + i + 64, 64);
        memcpy(&v2, p + i + 128, 64);
        memcpy(&v3, p + i + 192, 64);
        a0 += v0;
        a1 += v1;
        a2 += v2;
        a3 += v3;
    }
    a0 += a1 + a2 + a3;
    uint64_t s = 0;
    for (int k = 0; k < 8; k++) s += a0[k];
    for (; i < n; i++) s += p[i];
    return s;
}

/* The memory a bandwidth pass reads, as slices of at most 2 MiB (many more than
 * threads, so a slow thread does not hold the pass up). */
typedef struct bw_probe {
    const unsigned char **ptr;
    size_t *len;
    int64_t n, cap;
    size_t bytes;
    unsigned char *owned; /* a buffer of our own, when the probe is not the weights */
    uint64_t *sums;
} bw_probe;

#define BW_SLICE ((size_t)2 << 20)

static int probe_add(bw_probe *p, const void *ptr, size_t len) {
    for (size_t off = 0; off < len; off += BW_SLICE) {
        if (p->n == p->cap) {
            const int64_t cap = p->cap ? 2 * p->cap : 256;
            const unsigned char **np = realloc(p->ptr, sizeof *np * (size_t)cap);
            if (np) p->ptr = np;
            size_t *nl = realloc(p->len, sizeof *nl * (size_t)cap);
            if (nl) p->len = nl;
            if (!np || !nl) return -1;
            p->cap = cap;
        }
        p->ptr[p->n] = (const unsigned char *)ptr + off;
        p->len[p->n] = len - off < BW_SLICE ? len - off : BW_SLICE;
        p->n++;
    }
    p->bytes += len;
    return 0;
}

static void probe_free(bw_probe *p) {
    free(p->ptr);
    free(p->len);
    free(p->owned);
    free(p->sums);
    memset(p, 0, sizeof *p);
}

/* About `bytes` of memory to read: the backbone's weight matrices when the
 * model has that much (they are resident, so reading them adds nothing to the
 * process's memory and the passes can run at any time, between frames too),
 * otherwise a buffer of our own with every page touched. */
static int probe_init(const voxtts_model *m, size_t bytes, bw_probe *p, vox_error *err) {
    memset(p, 0, sizeof *p);
    if (m) {
        for (int l = 0; l < m->cfg.llm.n_layers && p->bytes < bytes; l++) {
            const vox_block_w *b = &m->w.layers[l];
            const vox_tensor *t[7] = {b->wq, b->wk, b->wv, b->wo, b->w1, b->w2, b->w3};
            for (int i = 0; i < 7 && p->bytes < bytes; i++) {
                /* the packed copy where the kernels read one (the original's pages are gone) */
                const void *d = t[i]->packed ? t[i]->packed : t[i]->data;
                const size_t nb = t[i]->packed ? t[i]->packed_bytes : t[i]->nbytes;
                if (d && probe_add(p, d, nb) != 0) {
                    probe_free(p);
                    return vox_fail(err, VOX_E_NOMEM, "bandwidth: out of memory");
                }
            }
        }
        if (p->bytes < bytes) probe_free(p); /* a small model: the weights would sit in the cache */
    }
    if (!p->n) {
        p->owned = malloc(bytes);
        if (!p->owned || probe_add(p, p->owned, bytes) != 0) {
            probe_free(p);
            return vox_fail(err, VOX_E_NOMEM, "bandwidth: cannot allocate %zu bytes", bytes);
        }
        /* touch every page first: the timed passes must read memory, not fault it in */
        for (size_t i = 0; i < bytes; i++) p->owned[i] = (unsigned char)(i * 131u);
    }
    p->sums = calloc((size_t)p->n, sizeof *p->sums);
    if (!p->sums) {
        probe_free(p);
        return vox_fail(err, VOX_E_NOMEM, "bandwidth: out of memory");
    }
    return VOX_OK;
}

static void bw_run(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const bw_probe *p = ctx;
    for (int64_t i = begin; i < end; i++) p->sums[i] = sum_slice(p->ptr[i], p->len[i]);
}

/* One pass over the probe: GB/s. */
static double probe_pass(vox_pool *pool, const bw_probe *p) {
    const double t0 = vox_now_s();
    vox_pool_for(pool, p->n, 1, bw_run, (void *)p);
    const double dt = vox_now_s() - t0;
    return dt > 0 ? (double)p->bytes / dt / 1e9 : 0.0;
}

static double median(double *v, int n) {
    if (n <= 0) return 0.0;
    for (int i = 1; i < n; i++) /* insertion sort */
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            const double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int64_t vox_bench_peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return (int64_t)ru.ru_maxrss * 1024; /* Linux: kilobytes */
}

/* ---- prompt text ----------------------------------------------------------------- */

int vox_bench_text(const voxtts_model *m, int n_tokens, char **text, int *got, vox_error *err) {
    static const char *words[] = {
        "The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "near", "a",
        "quiet", "river", "while", "birds", "sing", "softly", "in", "the", "warm", "evening",
        "light,", "and", "children", "laugh", "on", "their", "way", "home."};
    const size_t n_words = sizeof words / sizeof *words;
    *text = NULL;
    *got = 0;
    if (n_tokens < 1) return vox_fail(err, VOX_E_ARG, "prompt of %d tokens", n_tokens);
    size_t cap = 256, len = 0, wi = 0;
    char *t = malloc(cap);
    if (!t) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    t[0] = '\0';
    int have = 0;
    for (;;) {
        /* add about a sixth of the missing tokens' worth of words, then recount */
        int add = (n_tokens - have) / 6;
        if (add < 1) add = 1;
        for (int k = 0; k < add; k++, wi++) {
            const char *w = words[wi % n_words];
            size_t wl = strlen(w);
            if (len + wl + 2 > cap) {
                char *nt = realloc(t, cap * 2 + wl);
                if (!nt) {
                    free(t);
                    return vox_fail(err, VOX_E_NOMEM, "out of memory");
                }
                t = nt;
                cap = cap * 2 + wl;
            }
            if (len) t[len++] = ' ';
            memcpy(t + len, w, wl + 1);
            len += wl;
        }
        int32_t *ids = NULL;
        size_t n = 0;
        int rc = vox_tekken_encode(m->tk, t, len, &ids, &n, err);
        free(ids);
        if (rc) {
            free(t);
            return rc;
        }
        have = (int)n;
        if (have >= n_tokens) break;
    }
    /* a byte-level tokenizer (the synthetic one) can be cut to the exact count */
    if (have > n_tokens && vox_tekken_vocab_size(m->tk) - vox_tekken_num_special(m->tk) <= 256) {
        while (len > (size_t)n_tokens) t[--len] = '\0';
        int32_t *ids = NULL;
        size_t n = 0;
        if (vox_tekken_encode(m->tk, t, len, &ids, &n, NULL) == VOX_OK) have = (int)n;
        free(ids);
    }
    *text = t;
    *got = have;
    return VOX_OK;
}

/* ---- the run ---------------------------------------------------------------------- */

static int count_audio(const float *samples, size_t n, void *user) {
    (void)samples;
    *(size_t *)user += n;
    return 0;
}

/* Bandwidth passes during the measured request: one after every BW_EVERY-th
 * frame (never before the first audio), their time kept apart. */
#define BW_EVERY 5
#define BW_MAX_SAMPLES 64

typedef struct bw_sampler {
    vox_pool *pool;
    const bw_probe *probe;
    double rate[BW_MAX_SAMPLES];
    int n;
    double spent_s; /* inside the frame loop */
} bw_sampler;

static int sample_between_frames(int frames_done, int max_frames, void *user) {
    bw_sampler *b = user;
    if (frames_done % BW_EVERY == 0 && frames_done < max_frames && b->n < BW_MAX_SAMPLES) {
        const double t0 = vox_now_s();
        b->rate[b->n++] = probe_pass(b->pool, b->probe);
        b->spent_s += vox_now_s() - t0;
    }
    return 0;
}

int vox_bench_run(voxtts_model *m, const vox_bench_opts *o, vox_bench_result *r, vox_error *err) {
    memset(r, 0, sizeof *r);
    if (o->frames < 1) return vox_fail(err, VOX_E_ARG, "bench: frames must be >= 1 (got %d)", o->frames);
    char *text = NULL;
    bw_probe probe;
    memset(&probe, 0, sizeof probe);
    voxtts_engine *eng = NULL;
    if (o->batch < 0 || o->batch > 256)
        return vox_fail(err, VOX_E_ARG, "bench: batch must be 1..256 (got %d)", o->batch);
    int rc = vox_bench_text(m, o->prompt_tokens, &text, &r->text_tokens, err);
    if (rc) return rc;
    size_t streamed = 0;
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    sp.voice = o->voice;
    sp.seed = o->seed;
    voxtts_synth_debug dbg; /* frames past END_AUDIO: a fixed amount of work */
    voxtts_synth_debug_default(&dbg);
    dbg.ignore_end = 1;
    sp.debug = &dbg;
    sp.on_audio = count_audio;
    sp.audio_user = &streamed;
    voxtts_audio a;
    /* warm-up: builds the voice's prefix cache and touches every weight once */
    sp.max_frames = 2;
    if ((rc = voxtts_synthesize(m, text, &sp, &a, &r->warm, err))) goto out;
    voxtts_audio_free(&a);
    /* The read bandwidth is sampled around and during the measured request, so
     * that it describes the same minutes as the frames (on a shared machine it
     * drifts: 29-35 GB/s most of the time, 40-45 for minutes now and then). */
    const size_t bw_bytes = o->bandwidth_bytes ? o->bandwidth_bytes : (size_t)1 << 30;
    if ((rc = probe_init(m, bw_bytes, &probe, err))) goto out;
    bw_sampler bs = {m->pool, &probe, {0}, 0, 0.0};
    (void)probe_pass(m->pool, &probe); /* warms the threads (and a cold mapping) */
    for (int i = 0; i < 2; i++) bs.rate[bs.n++] = probe_pass(m->pool, &probe);
    /* the measured requests: o->batch of them (seeds seed, seed+1, ...) in one
     * engine, advanced together (B = 1: one request, the same work as
     * voxtts_synthesize) */
    const int B = o->batch > 0 ? o->batch : 1;
    if ((rc = voxtts_engine_create(m, B, &eng, err))) goto out;
    streamed = 0;
    voxtts_synth_stats *rs = calloc((size_t)B, sizeof *rs);
    int64_t *ids = calloc((size_t)B, sizeof *ids); /* request i's id */
    if (!rs || !ids) {
        free(rs);
        free(ids);
        rc = vox_fail(err, VOX_E_NOMEM, "out of memory");
        goto out;
    }
    sp.max_frames = o->frames;
    const double t_run = vox_now_s();
    for (int i = 0; i < B && !rc; i++) {
        sp.seed = o->seed + (uint64_t)i;
        sp.progress = i == 0 ? sample_between_frames : NULL;
        sp.progress_user = i == 0 ? &bs : NULL;
        rc = voxtts_engine_submit(eng, text, &sp, &ids[i], err);
    }
    if (!rc) rc = voxtts_engine_run(eng, err);
    const double run_s = vox_now_s() - t_run;
    for (int64_t id; !rc && voxtts_engine_poll(eng, &id);) {
        voxtts_error rerr = {0};
        int i = 0;
        while (i < B - 1 && ids[i] != id) i++;
        rc = voxtts_engine_take(eng, id, &a, &rs[i], &rerr);
        voxtts_audio_free(&a);
        if (rc) *err = rerr;
    }
    voxtts_engine_stats es;
    voxtts_engine_get_stats(eng, &es);
    if (!rc) {
        r->run = rs[0];
        for (int i = 1; i < B; i++) {
            r->run.codec_calls += rs[i].codec_calls;
            r->run.codec_frames += rs[i].codec_frames;
        }
        r->run.prefill_s = es.prefill_s;
        r->run.backbone_s = es.backbone_s;
        r->run.acoustic_s = es.acoustic_s;
        r->run.codec_s = es.codec_s;
        r->run.total_s = run_s;
    }
    free(rs);
    free(ids);
    if (rc) goto out;
    r->peak_rss_bytes = vox_bench_peak_rss();
    for (int i = 0; i < 2; i++) bs.rate[bs.n++] = probe_pass(m->pool, &probe);
    r->bandwidth_samples = bs.n;
    r->bandwidth_gbs = median(bs.rate, bs.n);
    /* the passes between frames are not part of the requests' time */
    r->run.total_s -= bs.spent_s;

    const voxtts_synth_stats *s = &r->run;
    r->batch = B;
    r->frame_s = (double)voxtts_model_samples_per_frame(m) / (double)voxtts_model_sample_rate(m);
    r->audio_s = (double)streamed / (double)voxtts_model_sample_rate(m);
    /* per step; the last frame of a request is not fed back (F - 1 backbone steps) */
    const double steps = es.steps > 0 ? (double)es.steps : 1.0;
    r->ms_step_backbone = 1e3 * s->backbone_s / (es.backbone_steps > 0 ? (double)es.backbone_steps : 1.0);
    r->ms_step_acoustic = 1e3 * s->acoustic_s / steps;
    r->ms_step_codec = 1e3 * s->codec_s / steps;
    r->ms_step_total = r->ms_step_backbone + r->ms_step_acoustic + r->ms_step_codec;
    /* per frame of audio: a step makes one frame of each request in it */
    const double rows = es.steps > 0 ? (double)es.rows / steps : 1.0;
    r->ms_backbone = r->ms_step_backbone / rows;
    r->ms_acoustic = r->ms_step_acoustic / rows;
    r->ms_codec = r->ms_step_codec / rows;
    r->ms_total = r->ms_backbone + r->ms_acoustic + r->ms_codec;
    r->rtf = r->ms_total / (1e3 * r->frame_s);
    r->rtf_with_prefill = r->audio_s > 0 ? s->total_s / r->audio_s : 0.0;

    vox_bench_traffic_of(m, 0, &r->traffic);
    if (r->bandwidth_gbs > 0) /* the weights are read once per step for all its requests */
        r->floor_rtf = r->traffic.per_frame / (r->bandwidth_gbs * 1e9) / r->frame_s / (double)B;
    if (r->rtf > 0) r->efficiency = r->floor_rtf / r->rtf;
out:
    voxtts_engine_free(eng);
    probe_free(&probe);
    free(text);
    return rc;
}

/* ---- the public face (include/voxtts_debug.h) ------------------------------------ */

void voxtts_bench_params_default(voxtts_bench_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->frames = 50;
    p->prompt_tokens = 20;
    p->seed = 42;
    p->batch = 1;
}

int voxtts_bench_run(voxtts_model *m, const voxtts_bench_params *p, voxtts_bench_result *r,
                     voxtts_error *err) {
    if (!m || !p || !r) return vox_fail(err, VOX_E_ARG, "voxtts_bench_run: model, params and result must not be NULL");
    int rc = vox_check_struct_size(err, "voxtts_bench_run", "voxtts_bench_params", p->struct_size,
                                   sizeof *p);
    if (rc) return rc;
    int voice;
    if ((rc = vox_voice_lookup(m, p->voice, &voice, err))) return rc;
    vox_bench_opts o = {p->voice, p->frames, p->prompt_tokens, p->seed, p->bandwidth_bytes, p->batch};
    return vox_bench_run(m, &o, r, err);
}

/* Matrix bytes of each component by stored type. */
typedef struct mix_probe {
    const voxtts_model *m;
    double bytes[VOX_N_COMPONENTS][VOX_Q4_K + 1];
} mix_probe;

static int probe_tensor(void *user, const vox_ckpt_tensor *ct) {
    mix_probe *p = user;
    vox_component c = vox_tensor_component(ct->name);
    if (c == VOX_COMP_OTHER || ct->ndim != 2) return 0;
    const vox_tensor *t = vox_source_find(p->m->src, ct->name);
    if (t && (int)t->dtype >= 0 && t->dtype <= VOX_Q4_K) p->bytes[c][t->dtype] += (double)t->nbytes;
    return 0;
}

void voxtts_model_type_mix(const voxtts_model *m, char *buf, size_t len) {
    if (!buf || !len) return;
    buf[0] = '\0';
    if (!m) return;
    mix_probe p;
    memset(&p, 0, sizeof p);
    p.m = m;
    vox_checkpoint_tensors(&m->cfg, probe_tensor, &p);
    vox_type_mix mix;
    memset(&mix, 0, sizeof mix);
    for (int c = 0; c < VOX_COMP_OTHER; c++) {
        for (int d = 0; d <= VOX_Q4_K; d++) {
            if (p.bytes[c][d] > 0 && (!mix.set[c] || p.bytes[c][d] > p.bytes[c][mix.type[c]])) {
                mix.set[c] = 1;
                mix.type[c] = (vox_dtype)d;
            }
        }
    }
    vox_type_mix_format(&mix, buf, len);
}

const char *voxtts_kernels_name(void) { return vox_kernel_simd_name(); }
