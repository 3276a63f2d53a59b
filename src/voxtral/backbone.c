/* backbone.c — the Mistral-style LLM decoder with its KV cache (docs/MODEL.md §3).
 *
 * Pre-norm layers: a = RMSNorm(x)·attention_norm; x += wo·Attn(RoPE(wq·a),
 * RoPE(wk·a), wv·a); b = RMSNorm(x)·ffn_norm; x += w2·(silu(w1·b) ⊙ w3·b).
 * GQA: query head h reads KV head h / (n_heads/n_kv_heads).  RoPE is the
 * interleaved form: pairs (2i, 2i+1) rotated by pos·theta^(-2i/head_dim), with
 * cos/sin tabulated once per request for every position the cache can hold.
 *
 * vox_llm_forward feeds any number of rows: the prompt goes through as batches
 * of up to max_rows rows (each weight row is read once per batch), a decode
 * step is one row.  Keys/values of a batch are written to the cache before its
 * attention runs, so row r attends to every position up to its own.  Because
 * the kernels give each row the same arithmetic whatever the batch, a prompt
 * fed as one batch and fed one row at a time give identical hiddens.
 * Activations, the cache, the softmax and the norms are all f32. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "voxtral/model.h"

#define PREFILL_ROWS 64

/* malloc of a*b*c floats with overflow checks; NULL on failure. */
static float *alloc_floats(size_t a, size_t b, size_t c) {
    if (a == 0 || b == 0 || c == 0) return malloc(sizeof(float));
    if (b > SIZE_MAX / a || c > SIZE_MAX / (a * b) || a * b * c > SIZE_MAX / sizeof(float))
        return NULL;
    return malloc(a * b * c * sizeof(float));
}

void vox_llm_state_free(vox_llm_state *s) {
    if (!s) return;
    free(s->k_cache);
    free(s->v_cache);
    free(s->rope_cos);
    free(s->rope_sin);
    free(s->x);
    free(s->xn);
    free(s->q);
    free(s->k);
    free(s->v);
    free(s->att);
    free(s->h1);
    free(s->h3);
    free(s->o);
    free(s->scores);
    memset(s, 0, sizeof *s);
}

int vox_llm_state_init(vox_llm_state *s, const voxtts_model *m, int max_pos, vox_error *err) {
    memset(s, 0, sizeof *s);
    const vox_transformer_cfg *c = &m->cfg.llm;
    if (max_pos < 1) return vox_fail(err, VOX_E_INTERNAL, "KV cache of %d positions", max_pos);
    s->m = m;
    s->max_pos = max_pos;
    s->max_rows = PREFILL_ROWS;
    const size_t L = (size_t)(c->n_layers > 0 ? c->n_layers : 1), P = (size_t)max_pos,
                 R = (size_t)s->max_rows, half = (size_t)c->head_dim / 2;
    const size_t qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    s->k_cache = alloc_floats(L, P, kvd);
    s->v_cache = alloc_floats(L, P, kvd);
    s->rope_cos = alloc_floats(P, half, 1);
    s->rope_sin = alloc_floats(P, half, 1);
    s->x = alloc_floats(R, (size_t)c->dim, 1);
    s->xn = alloc_floats(R, (size_t)c->dim, 1);
    s->o = alloc_floats(R, (size_t)c->dim, 1);
    s->q = alloc_floats(R, qd, 1);
    s->att = alloc_floats(R, qd, 1);
    s->k = alloc_floats(R, kvd, 1);
    s->v = alloc_floats(R, kvd, 1);
    s->h1 = alloc_floats(R, (size_t)c->hidden_dim, 1);
    s->h3 = alloc_floats(R, (size_t)c->hidden_dim, 1);
    s->scores = alloc_floats((size_t)vox_pool_threads(m->pool), P, 1);
    if (!s->k_cache || !s->v_cache || !s->rope_cos || !s->rope_sin || !s->x || !s->xn || !s->o ||
        !s->q || !s->att || !s->k || !s->v || !s->h1 || !s->h3 || !s->scores) {
        vox_llm_state_free(s);
        return vox_fail(err, VOX_E_NOMEM,
                        "out of memory for the KV cache and buffers of %d positions", max_pos);
    }
    /* §3: angle = pos * theta^(-2i/head_dim), computed in double */
    for (size_t i = 0; i < half; i++) {
        double freq = pow(c->rope_theta, -(double)(2 * i) / (double)c->head_dim);
        for (size_t p = 0; p < P; p++) {
            double a = (double)p * freq;
            s->rope_cos[p * half + i] = (float)cos(a);
            s->rope_sin[p * half + i] = (float)sin(a);
        }
    }
    return VOX_OK;
}

int vox_llm_prefix_save(const vox_llm_state *s, int n, float **out, vox_error *err) {
    const vox_transformer_cfg *c = &s->m->cfg.llm;
    const size_t kvd = (size_t)c->n_kv_heads * c->head_dim, L = (size_t)c->n_layers;
    *out = NULL;
    if (n < 1 || n > s->n_pos)
        return vox_fail(err, VOX_E_INTERNAL, "prefix of %d positions, state has %d", n, s->n_pos);
    float *kv = alloc_floats(2 * (L > 0 ? L : 1), (size_t)n, kvd);
    if (!kv) return vox_fail(err, VOX_E_NOMEM, "out of memory for a %d-position prefix cache", n);
    for (size_t l = 0; l < L; l++) {
        memcpy(kv + (l * n) * kvd, s->k_cache + l * s->max_pos * kvd, sizeof(float) * n * kvd);
        memcpy(kv + ((L + l) * n) * kvd, s->v_cache + l * s->max_pos * kvd, sizeof(float) * n * kvd);
    }
    *out = kv;
    return VOX_OK;
}

void vox_llm_prefix_load(vox_llm_state *s, const float *kv, int n) {
    const vox_transformer_cfg *c = &s->m->cfg.llm;
    const size_t kvd = (size_t)c->n_kv_heads * c->head_dim, L = (size_t)c->n_layers;
    for (size_t l = 0; l < L; l++) {
        memcpy(s->k_cache + l * s->max_pos * kvd, kv + (l * n) * kvd, sizeof(float) * n * kvd);
        memcpy(s->v_cache + l * s->max_pos * kvd, kv + ((L + l) * n) * kvd, sizeof(float) * n * kvd);
    }
    s->n_pos = n;
}

void vox_rope_rotate(float *x, int n_heads, int head_dim, const float *cos_row,
                     const float *sin_row) {
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; h++) {
        float *xh = x + (size_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            float x0 = xh[2 * i], x1 = xh[2 * i + 1], c = cos_row[i], s = sin_row[i];
            xh[2 * i] = x0 * c - x1 * s;
            xh[2 * i + 1] = x0 * s + x1 * c;
        }
    }
}

typedef struct attn_task {
    vox_llm_state *s;
    int layer, n_rows, pos0;
    float scale;
} attn_task;

/* Items are (row, head) pairs: causal attention of one query head over the cache. */
static void attn_run(void *ctx, int64_t begin, int64_t end, int tid) {
    const attn_task *t = ctx;
    vox_llm_state *s = t->s;
    const vox_transformer_cfg *c = &s->m->cfg.llm;
    const int hd = c->head_dim, nh = c->n_heads, group = c->n_heads / c->n_kv_heads;
    const size_t kvd = (size_t)c->n_kv_heads * hd, qd = (size_t)nh * hd;
    const float *kc = s->k_cache + (size_t)t->layer * s->max_pos * kvd;
    const float *vc = s->v_cache + (size_t)t->layer * s->max_pos * kvd;
    float *sc = s->scores + (size_t)tid * s->max_pos;
    for (int64_t it = begin; it < end; it++) {
        const int r = (int)(it / nh), h = (int)(it % nh), kvh = h / group;
        const int n_keys = t->pos0 + r + 1;
        const float *q = s->q + (size_t)r * qd + (size_t)h * hd;
        for (int j = 0; j < n_keys; j++)
            sc[j] = vox_dot_f32(q, kc + (size_t)j * kvd + (size_t)kvh * hd, hd) * t->scale;
        vox_softmax(sc, n_keys);
        float *out = s->att + (size_t)r * qd + (size_t)h * hd;
        memset(out, 0, sizeof(float) * (size_t)hd);
        for (int j = 0; j < n_keys; j++) {
            const float *v = vc + (size_t)j * kvd + (size_t)kvh * hd;
            const float p = sc[j];
            for (int d = 0; d < hd; d++) out[d] += p * v[d];
        }
    }
}

/* One batch of n <= max_rows rows already in s->x, at positions n_pos... */
static void forward_batch(vox_llm_state *s, int n) {
    const voxtts_model *m = s->m;
    const vox_transformer_cfg *c = &m->cfg.llm;
    const int D = c->dim, hd = c->head_dim, half = hd / 2;
    const size_t qd = (size_t)c->n_heads * hd, kvd = (size_t)c->n_kv_heads * hd;
    for (int l = 0; l < c->n_layers; l++) {
        const vox_block_w *b = &m->w.layers[l];
        for (int r = 0; r < n; r++)
            vox_rmsnorm(s->x + (size_t)r * D, b->attention_norm, D, c->norm_eps,
                        s->xn + (size_t)r * D);
        const vox_tensor *wqkv[3] = {b->wq, b->wk, b->wv};
        float *yqkv[3] = {s->q, s->k, s->v};
        vox_matmul_multi(m->pool, 3, wqkv, s->xn, n, yqkv);
        float *kc = s->k_cache + (size_t)l * s->max_pos * kvd;
        float *vc = s->v_cache + (size_t)l * s->max_pos * kvd;
        for (int r = 0; r < n; r++) {
            const int pos = s->n_pos + r;
            const float *cr = s->rope_cos + (size_t)pos * half, *sr = s->rope_sin + (size_t)pos * half;
            vox_rope_rotate(s->q + (size_t)r * qd, c->n_heads, hd, cr, sr);
            vox_rope_rotate(s->k + (size_t)r * kvd, c->n_kv_heads, hd, cr, sr);
            memcpy(kc + (size_t)pos * kvd, s->k + (size_t)r * kvd, sizeof(float) * kvd);
            memcpy(vc + (size_t)pos * kvd, s->v + (size_t)r * kvd, sizeof(float) * kvd);
        }
        attn_task at = {s, l, n, s->n_pos, 1.0f / sqrtf((float)hd)};
        vox_pool_for(m->pool, (int64_t)n * c->n_heads, 1, attn_run, &at);
        vox_matmul_pool(m->pool, b->wo, s->att, n, s->o);
        vox_add(s->x, s->o, n * D);

        for (int r = 0; r < n; r++)
            vox_rmsnorm(s->x + (size_t)r * D, b->ffn_norm, D, c->norm_eps, s->xn + (size_t)r * D);
        const vox_tensor *w13[2] = {b->w1, b->w3};
        float *y13[2] = {s->h1, s->h3};
        vox_matmul_multi(m->pool, 2, w13, s->xn, n, y13);
        vox_silu_mul_pool(m->pool, s->h1, s->h3, n * c->hidden_dim);
        vox_matmul_pool(m->pool, b->w2, s->h1, n, s->o);
        vox_add(s->x, s->o, n * D);
    }
    s->n_pos += n;
}

int vox_llm_forward(vox_llm_state *s, const float *emb, int n, float *h_last, vox_error *err) {
    const vox_transformer_cfg *c = &s->m->cfg.llm;
    const int D = c->dim;
    if (n < 1) return vox_fail(err, VOX_E_INTERNAL, "backbone: no rows to feed");
    if (n > s->max_pos - s->n_pos)
        return vox_fail(err, VOX_E_INTERNAL, "backbone: KV cache full (%d + %d > %d positions)",
                        s->n_pos, n, s->max_pos);
    for (int done = 0; done < n;) {
        int nr = n - done < s->max_rows ? n - done : s->max_rows;
        memcpy(s->x, emb + (size_t)done * D, sizeof(float) * (size_t)nr * D);
        forward_batch(s, nr);
        done += nr;
        if (done == n && h_last)
            vox_rmsnorm(s->x + (size_t)(nr - 1) * D, s->m->w.norm, D, c->norm_eps, h_last);
    }
    return VOX_OK;
}
