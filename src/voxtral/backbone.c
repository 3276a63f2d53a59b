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

/* Causal attention of query head h (q: that head's hd values) over the first
 * n_keys positions of layer `layer` of s's cache, into out[hd]; sc holds n_keys
 * scores.  Shared by the prompt/decode path and the batched decode, so both
 * give the same bits. */
static void attend_head(const vox_llm_state *s, int layer, int h, const float *q, int n_keys,
                        float scale, float *sc, float *out) {
    const vox_transformer_cfg *c = &s->m->cfg.llm;
    const int hd = c->head_dim, kvh = h / (c->n_heads / c->n_kv_heads);
    const size_t kvd = (size_t)c->n_kv_heads * hd;
    const float *kc = s->k_cache + (size_t)layer * s->max_pos * kvd;
    const float *vc = s->v_cache + (size_t)layer * s->max_pos * kvd;
    vox_dot_rows_f32(q, kc + (size_t)kvh * hd, kvd, n_keys, hd, scale, sc);
    vox_softmax(sc, n_keys);
    memset(out, 0, sizeof(float) * (size_t)hd);
    vox_axpy_rows_f32(out, sc, vc + (size_t)kvh * hd, kvd, n_keys, hd);
}

/* Items are (row, head) pairs: causal attention of one query head over the cache. */
static void attn_run(void *ctx, int64_t begin, int64_t end, int tid) {
    const attn_task *t = ctx;
    vox_llm_state *s = t->s;
    const vox_transformer_cfg *c = &s->m->cfg.llm;
    const int hd = c->head_dim, nh = c->n_heads;
    const size_t qd = (size_t)nh * hd;
    float *sc = s->scores + (size_t)tid * s->max_pos;
    for (int64_t it = begin; it < end; it++) {
        const int r = (int)(it / nh), h = (int)(it % nh);
        attend_head(s, t->layer, h, s->q + (size_t)r * qd + (size_t)h * hd, t->pos0 + r + 1,
                    t->scale, sc, s->att + (size_t)r * qd + (size_t)h * hd);
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
        vox_rmsnorm_rows_pool(m->pool, s->x, b->attention_norm, n, D, c->norm_eps, s->xn);
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

        vox_rmsnorm_rows_pool(m->pool, s->x, b->ffn_norm, n, D, c->norm_eps, s->xn);
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

/* ---- batched decode: one row for each of several states ------------------------
 * Row i of a step belongs to states[i]: its own position (states[i]->n_pos), its
 * own cache and RoPE table.  The products take all rows at once (each weight is
 * read once per step for every state); norms, RoPE, the cache writes and the
 * attention are per row, with the same code as vox_llm_forward, so each state's
 * hidden is bit-identical to feeding it alone. */

void vox_llm_batch_free(vox_llm_batch *b) {
    if (!b) return;
    float **bufs[] = {&b->x, &b->xn, &b->q, &b->k, &b->v, &b->att, &b->h1, &b->h3, &b->o};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(*bufs[i]);
    memset(b, 0, sizeof *b);
}

int vox_llm_batch_init(vox_llm_batch *b, const voxtts_model *m, int max_rows, vox_error *err) {
    memset(b, 0, sizeof *b);
    const vox_transformer_cfg *c = &m->cfg.llm;
    if (max_rows < 1) return vox_fail(err, VOX_E_INTERNAL, "backbone batch of %d rows", max_rows);
    b->m = m;
    b->max_rows = max_rows;
    const size_t R = (size_t)max_rows, qd = (size_t)c->n_heads * c->head_dim,
                 kvd = (size_t)c->n_kv_heads * c->head_dim;
    b->x = alloc_floats(R, (size_t)c->dim, 1);
    b->xn = alloc_floats(R, (size_t)c->dim, 1);
    b->o = alloc_floats(R, (size_t)c->dim, 1);
    b->q = alloc_floats(R, qd, 1);
    b->att = alloc_floats(R, qd, 1);
    b->k = alloc_floats(R, kvd, 1);
    b->v = alloc_floats(R, kvd, 1);
    b->h1 = alloc_floats(R, (size_t)c->hidden_dim, 1);
    b->h3 = alloc_floats(R, (size_t)c->hidden_dim, 1);
    if (!b->x || !b->xn || !b->o || !b->q || !b->att || !b->k || !b->v || !b->h1 || !b->h3) {
        vox_llm_batch_free(b);
        return vox_fail(err, VOX_E_NOMEM, "out of memory for a backbone batch of %d rows",
                        max_rows);
    }
    return VOX_OK;
}

typedef struct batch_attn_task {
    vox_llm_batch *b;
    vox_llm_state *const *states;
    int layer;
    float scale;
} batch_attn_task;

/* Items are (row, head) pairs; row r attends over its own state's cache, using
 * that state's score buffer of the running thread. */
static void batch_attn_run(void *ctx, int64_t begin, int64_t end, int tid) {
    const batch_attn_task *t = ctx;
    const vox_transformer_cfg *c = &t->b->m->cfg.llm;
    const int hd = c->head_dim, nh = c->n_heads;
    const size_t qd = (size_t)nh * hd;
    for (int64_t it = begin; it < end; it++) {
        const int r = (int)(it / nh), h = (int)(it % nh);
        const vox_llm_state *s = t->states[r];
        attend_head(s, t->layer, h, t->b->q + (size_t)r * qd + (size_t)h * hd, s->n_pos + 1,
                    t->scale, s->scores + (size_t)tid * s->max_pos,
                    t->b->att + (size_t)r * qd + (size_t)h * hd);
    }
}

int vox_llm_decode_batch(vox_llm_batch *b, vox_llm_state *const *states, int n, const float *emb,
                         float *h, vox_error *err) {
    const voxtts_model *m = b->m;
    const vox_transformer_cfg *c = &m->cfg.llm;
    const int D = c->dim, hd = c->head_dim, half = hd / 2;
    const size_t qd = (size_t)c->n_heads * hd, kvd = (size_t)c->n_kv_heads * hd;
    if (n < 1 || n > b->max_rows)
        return vox_fail(err, VOX_E_INTERNAL, "backbone batch: %d rows (1..%d)", n, b->max_rows);
    for (int r = 0; r < n; r++) {
        const vox_llm_state *s = states[r];
        if (s->m != m || s->n_pos >= s->max_pos)
            return vox_fail(err, VOX_E_INTERNAL, "backbone batch: row %d: KV cache full (%d positions)",
                            r, s->max_pos);
    }
    memcpy(b->x, emb, sizeof(float) * (size_t)n * D);
    for (int l = 0; l < c->n_layers; l++) {
        const vox_block_w *bw = &m->w.layers[l];
        vox_rmsnorm_rows_pool(m->pool, b->x, bw->attention_norm, n, D, c->norm_eps, b->xn);
        const vox_tensor *wqkv[3] = {bw->wq, bw->wk, bw->wv};
        float *yqkv[3] = {b->q, b->k, b->v};
        vox_matmul_multi(m->pool, 3, wqkv, b->xn, n, yqkv);
        for (int r = 0; r < n; r++) {
            vox_llm_state *s = states[r];
            const int pos = s->n_pos;
            const float *cr = s->rope_cos + (size_t)pos * half, *sr = s->rope_sin + (size_t)pos * half;
            vox_rope_rotate(b->q + (size_t)r * qd, c->n_heads, hd, cr, sr);
            vox_rope_rotate(b->k + (size_t)r * kvd, c->n_kv_heads, hd, cr, sr);
            float *kc = s->k_cache + (size_t)l * s->max_pos * kvd;
            float *vc = s->v_cache + (size_t)l * s->max_pos * kvd;
            memcpy(kc + (size_t)pos * kvd, b->k + (size_t)r * kvd, sizeof(float) * kvd);
            memcpy(vc + (size_t)pos * kvd, b->v + (size_t)r * kvd, sizeof(float) * kvd);
        }
        batch_attn_task at = {b, states, l, 1.0f / sqrtf((float)hd)};
        vox_pool_for(m->pool, (int64_t)n * c->n_heads, 1, batch_attn_run, &at);
        vox_matmul_pool(m->pool, bw->wo, b->att, n, b->o);
        vox_add(b->x, b->o, n * D);

        vox_rmsnorm_rows_pool(m->pool, b->x, bw->ffn_norm, n, D, c->norm_eps, b->xn);
        const vox_tensor *w13[2] = {bw->w1, bw->w3};
        float *y13[2] = {b->h1, b->h3};
        vox_matmul_multi(m->pool, 2, w13, b->xn, n, y13);
        vox_silu_mul_pool(m->pool, b->h1, b->h3, n * c->hidden_dim);
        vox_matmul_pool(m->pool, bw->w2, b->h1, n, b->o);
        vox_add(b->x, b->o, n * D);
    }
    for (int r = 0; r < n; r++) {
        states[r]->n_pos++;
        vox_rmsnorm(b->x + (size_t)r * D, m->w.norm, D, c->norm_eps, h + (size_t)r * D);
    }
    return VOX_OK;
}
