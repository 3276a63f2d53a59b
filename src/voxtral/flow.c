/* flow.c — the acoustic head: semantic code and flow-matching acoustic codes
 * (docs/MODEL.md §5).
 *
 * Semantic code (§5.1): logits = W_sem·h in f32 on the raw LLM hidden, index 0
 * (EMPTY) and the padding rows >= S+2 masked, argmax with ties to the first.
 *
 * Velocity network (§5.3): three tokens [input_projection·x, tproj(t),
 * llm_projection·h] through pre-norm blocks with bidirectional attention and no
 * RoPE, final norm, v = acoustic_codebook_output·out[token 0].  The conditional
 * and unconditional (third token zero) branches run together as one 6-row batch
 * (2 sequences x 3 tokens, block-diagonal attention), so each weight is read
 * once per Euler step for both.  tproj(t_i) for the default step count is
 * precomputed per model; llm_projection·h once per frame.  Rows are only
 * multiplied where they differ: in the first layer the two branches share
 * tokens 0 and 1 and the unconditional token 2 is zero, so its q/k/v come from
 * two rows per step plus the conditioning row once per frame; in the last
 * layer only token 0 is read out.  Both are exact (the kernels give a row the
 * same bits whatever else is in the batch).
 *
 * Euler with CFG (§5.4): t_i = float32(i)/float32(n), x += (a·v_c + (1-a)·v_u)·dt.
 * FSQ (§5.5): level = round-half-to-even((clamp(x,-1,1)+1)/2·(L-1)), using
 * rintf in the default rounding mode (round to nearest, ties to even). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "voxtral/model.h"

#define FLOW_ROWS 6 /* 2 branches x 3 tokens */

int vox_fsq_level(float x, int levels) {
    float y = x < -1.0f ? -1.0f : x > 1.0f ? 1.0f : x;
    if (y != y) y = -1.0f; /* NaN: defined, never out of range */
    float q = rintf((y + 1.0f) / 2.0f * (float)(levels - 1));
    int l = (int)q;
    return l < 0 ? 0 : l > levels - 1 ? levels - 1 : l;
}

float vox_fsq_value(int level, int levels) {
    return (float)((double)level * 2.0 / (double)(levels - 1) - 1.0);
}

/* temb(t) = concat(cos(t·inv_freq), sin(t·inv_freq)) (cos first, §5.2), then
 * out = time_projection · temb. */
static void time_projection(const voxtts_model *m, float t, float *temb, float *out) {
    const int half = m->cfg.acoustic.dim / 2;
    for (int i = 0; i < half; i++) {
        double a = (double)t * (double)m->inv_freq[i];
        temb[i] = (float)cos(a);
        temb[half + i] = (float)sin(a);
    }
    vox_matmul_pool(m->pool, m->w.time_projection, temb, 1, out);
}

static void fill_tproj(const voxtts_model *m, int n_steps, float *temb, float *tproj) {
    const int Da = m->cfg.acoustic.dim;
    for (int i = 0; i < n_steps; i++) {
        float t = (float)i / (float)n_steps;
        time_projection(m, t, temb, tproj + (size_t)i * Da);
    }
}

int vox_flow_precompute(voxtts_model *m, vox_error *err) {
    const int Da = m->cfg.acoustic.dim, half = Da / 2, n = m->cfg.n_decoding_steps;
    m->inv_freq = malloc(sizeof(float) * (size_t)(half > 0 ? half : 1));
    m->tproj = malloc(sizeof(float) * (size_t)n * (size_t)Da);
    float *temb = malloc(sizeof(float) * (size_t)Da);
    if (!m->inv_freq || !m->tproj || !temb) {
        free(temb);
        return vox_fail(err, VOX_E_NOMEM, "out of memory for the time embeddings");
    }
    for (int i = 0; i < half; i++) m->inv_freq[i] = (float)exp(-log(10000.0) * i / (double)half);
    fill_tproj(m, n, temb, m->tproj);
    m->tproj_steps = n;
    free(temb);
    return VOX_OK;
}

void vox_flow_ws_free(vox_flow_ws *ws) {
    if (!ws) return;
    float **bufs[] = {&ws->tok, &ws->xn, &ws->q, &ws->k, &ws->v, &ws->att, &ws->h1, &ws->h3,
                      &ws->o, &ws->cond, &ws->zero, &ws->inproj, &ws->temb, &ws->tproj,
                      &ws->logits, &ws->vel, &ws->x, &ws->out2, &ws->cond_qkv,
                      &ws->cond_seen};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(*bufs[i]);
    memset(ws, 0, sizeof *ws);
}

int vox_flow_ws_init(vox_flow_ws *ws, const voxtts_model *m, vox_error *err) {
    memset(ws, 0, sizeof *ws);
    ws->m = m;
    const vox_transformer_cfg *c = &m->cfg.acoustic;
    const size_t Da = (size_t)c->dim, qd = (size_t)c->n_heads * c->head_dim,
                 kvd = (size_t)c->n_kv_heads * c->head_dim, H = (size_t)c->hidden_dim,
                 A = (size_t)m->cfg.n_acoustic_codebook;
    ws->tok = malloc(sizeof(float) * FLOW_ROWS * Da);
    ws->xn = malloc(sizeof(float) * FLOW_ROWS * Da);
    ws->o = malloc(sizeof(float) * FLOW_ROWS * Da);
    ws->q = malloc(sizeof(float) * FLOW_ROWS * qd);
    ws->att = malloc(sizeof(float) * FLOW_ROWS * qd);
    ws->k = malloc(sizeof(float) * FLOW_ROWS * kvd);
    ws->v = malloc(sizeof(float) * FLOW_ROWS * kvd);
    ws->h1 = malloc(sizeof(float) * FLOW_ROWS * H);
    ws->h3 = malloc(sizeof(float) * FLOW_ROWS * H);
    ws->cond = malloc(sizeof(float) * Da);
    ws->zero = calloc(Da, sizeof(float));
    ws->inproj = malloc(sizeof(float) * Da);
    ws->temb = malloc(sizeof(float) * Da);
    ws->logits = malloc(sizeof(float) * (size_t)m->semantic_rows);
    ws->vel = malloc(sizeof(float) * 2 * A);
    ws->x = malloc(sizeof(float) * A);
    ws->out2 = malloc(sizeof(float) * 2 * Da);
    ws->cond_qkv = malloc(sizeof(float) * (qd + 2 * kvd));
    ws->cond_seen = malloc(sizeof(float) * Da);
    if (!ws->tok || !ws->xn || !ws->o || !ws->q || !ws->att || !ws->k || !ws->v || !ws->h1 ||
        !ws->h3 || !ws->cond || !ws->zero || !ws->inproj || !ws->temb || !ws->logits ||
        !ws->vel || !ws->x || !ws->out2 || !ws->cond_qkv || !ws->cond_seen) {
        vox_flow_ws_free(ws);
        return vox_fail(err, VOX_E_NOMEM, "out of memory for the acoustic head buffers");
    }
    return VOX_OK;
}

int vox_flow_semantic(vox_flow_ws *ws, const float *h, int forbid_end) {
    const voxtts_model *m = ws->m;
    const int S = m->cfg.semantic_codebook_size;
    vox_matmul_pool(m->pool, m->w.semantic_output, h, 1, ws->logits);
    /* valid codes 1..S+1 (index 0 = EMPTY and >= S+2 = padding are masked) */
    int best = forbid_end ? 2 : 1;
    for (int i = best + 1; i < S + 2; i++)
        if (ws->logits[i] > ws->logits[best]) best = i;
    return best;
}

void vox_flow_time_projection(vox_flow_ws *ws, float t, float *out) {
    time_projection(ws->m, t, ws->temb, out);
}

/* Attention of query row q (a row of sequence seq) over that sequence's three
 * keys/values, all heads, into out. */
static void attend3(const vox_flow_ws *ws, const float *q, int seq, float *out) {
    const vox_transformer_cfg *c = &ws->m->cfg.acoustic;
    const int hd = c->head_dim, group = c->n_heads / c->n_kv_heads;
    const size_t kvd = (size_t)c->n_kv_heads * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    const int r0 = 3 * seq;
    for (int h = 0; h < c->n_heads; h++) {
        const size_t ko = (size_t)(h / group) * hd;
        const float *qh = q + (size_t)h * hd;
        float sc[3];
        for (int j = 0; j < 3; j++) sc[j] = vox_dot_f32(qh, ws->k + (size_t)(r0 + j) * kvd + ko, hd) * scale;
        vox_softmax(sc, 3);
        float *oh = out + (size_t)h * hd;
        for (int d = 0; d < hd; d++) {
            float acc = 0.0f;
            for (int j = 0; j < 3; j++) acc += sc[j] * ws->v[(size_t)(r0 + j) * kvd + ko + d];
            oh[d] = acc;
        }
    }
}

/* Pre-norm SwiGLU FFN on n rows of tok (residual added in place). */
static void flow_ffn(vox_flow_ws *ws, const vox_block_w *b, float *tok, int n) {
    const voxtts_model *m = ws->m;
    const vox_transformer_cfg *c = &m->cfg.acoustic;
    const int Da = c->dim;
    for (int r = 0; r < n; r++)
        vox_rmsnorm(tok + (size_t)r * Da, b->ffn_norm, Da, c->norm_eps, ws->xn + (size_t)r * Da);
    const vox_tensor *w13[2] = {b->w1, b->w3};
    float *y13[2] = {ws->h1, ws->h3};
    vox_matmul_multi(m->pool, 2, w13, ws->xn, n, y13);
    vox_silu_mul_pool(m->pool, ws->h1, ws->h3, n * c->hidden_dim);
    vox_matmul_pool(m->pool, b->w2, ws->h1, n, ws->o);
    vox_add(tok, ws->o, n * Da);
}

/* Layer 0's q, k, v for all six rows (§5.3).  Its input rows repeat: 0 and 3
 * are input_projection·x, 1 and 4 tproj(t), 2 is llm_projection·h (the same for
 * every Euler step of a frame), 5 is zero, whose norm and projections are zero
 * (no biases).  So rows 0 and 1 are multiplied each step, row 2 only when
 * ws->cond changes, and the rest copied. */
static void first_layer_qkv(vox_flow_ws *ws, const vox_block_w *b) {
    const voxtts_model *m = ws->m;
    const vox_transformer_cfg *c = &m->cfg.acoustic;
    const int Da = c->dim;
    const size_t qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    const vox_tensor *wqkv[3] = {b->wq, b->wk, b->wv};
    float *cq = ws->cond_qkv, *ck = cq + qd, *cv = ck + kvd;
    if (!ws->cond_qkv_valid || memcmp(ws->cond_seen, ws->cond, sizeof(float) * Da) != 0) {
        vox_rmsnorm(ws->cond, b->attention_norm, Da, c->norm_eps, ws->xn);
        float *yc[3] = {cq, ck, cv};
        vox_matmul_multi(m->pool, 3, wqkv, ws->xn, 1, yc);
        memcpy(ws->cond_seen, ws->cond, sizeof(float) * Da);
        ws->cond_qkv_valid = 1;
    }
    for (int r = 0; r < 2; r++)
        vox_rmsnorm(ws->tok + (size_t)r * Da, b->attention_norm, Da, c->norm_eps,
                    ws->xn + (size_t)r * Da);
    float *yqkv[3] = {ws->q, ws->k, ws->v};
    vox_matmul_multi(m->pool, 3, wqkv, ws->xn, 2, yqkv);
    const size_t dims[3] = {qd, kvd, kvd};
    const float *cond_rows[3] = {cq, ck, cv};
    for (int j = 0; j < 3; j++) {
        float *y = yqkv[j];
        const size_t d = dims[j];
        memcpy(y + 3 * d, y, sizeof(float) * 2 * d);         /* rows 3, 4 = rows 0, 1 */
        memcpy(y + 2 * d, cond_rows[j], sizeof(float) * d);  /* row 2: conditioning */
        memset(y + 5 * d, 0, sizeof(float) * d);              /* row 5: zero token */
    }
}

void vox_flow_velocity(vox_flow_ws *ws, const float *x, const float *tproj_t, float *v) {
    const voxtts_model *m = ws->m;
    const vox_transformer_cfg *c = &m->cfg.acoustic;
    const int Da = c->dim;
    const size_t qd = (size_t)c->n_heads * c->head_dim;

    vox_matmul(m->w.input_projection, x, 1, ws->inproj);
    const float *init[FLOW_ROWS] = {ws->inproj, tproj_t, ws->cond, ws->inproj, tproj_t, ws->zero};
    for (int r = 0; r < FLOW_ROWS; r++) memcpy(ws->tok + (size_t)r * Da, init[r], sizeof(float) * Da);

    for (int l = 0; l < c->n_layers; l++) {
        const vox_block_w *b = &m->w.ac_layers[l];
        if (l == 0) {
            first_layer_qkv(ws, b);
        } else {
            for (int r = 0; r < FLOW_ROWS; r++)
                vox_rmsnorm(ws->tok + (size_t)r * Da, b->attention_norm, Da, c->norm_eps,
                            ws->xn + (size_t)r * Da);
        }
        if (l + 1 < c->n_layers) {
            if (l > 0) {
                const vox_tensor *wqkv[3] = {b->wq, b->wk, b->wv};
                float *yqkv[3] = {ws->q, ws->k, ws->v};
                vox_matmul_multi(m->pool, 3, wqkv, ws->xn, FLOW_ROWS, yqkv);
            }
            /* bidirectional attention inside each 3-token sequence, none across */
            for (int r = 0; r < FLOW_ROWS; r++)
                attend3(ws, ws->q + (size_t)r * qd, r / 3, ws->att + (size_t)r * qd);
            vox_matmul_pool(m->pool, b->wo, ws->att, FLOW_ROWS, ws->o);
            vox_add(ws->tok, ws->o, FLOW_ROWS * Da);
            flow_ffn(ws, b, ws->tok, FLOW_ROWS);
        } else {
            /* Last layer: only token 0 of each sequence is read out, so only
             * rows 0 and 3 need queries, wo and the FFN (keys and values still
             * come from all six rows).  Per-row results are unchanged. */
            if (l > 0) {
                const vox_tensor *wkv[2] = {b->wk, b->wv};
                float *ykv[2] = {ws->k, ws->v};
                vox_matmul_multi(m->pool, 2, wkv, ws->xn, FLOW_ROWS, ykv);
                memcpy(ws->xn + (size_t)Da, ws->xn + (size_t)3 * Da, sizeof(float) * Da);
                vox_matmul_pool(m->pool, b->wq, ws->xn, 2, ws->q);
            } else { /* a one-layer head: q of rows 0 and 3 are equal at layer 0 */
                memcpy(ws->q + qd, ws->q, sizeof(float) * qd);
            }
            attend3(ws, ws->q, 0, ws->att);
            attend3(ws, ws->q + qd, 1, ws->att + qd);
            vox_matmul_pool(m->pool, b->wo, ws->att, 2, ws->o);
            memcpy(ws->out2, ws->tok, sizeof(float) * Da);
            memcpy(ws->out2 + Da, ws->tok + (size_t)3 * Da, sizeof(float) * Da);
            vox_add(ws->out2, ws->o, 2 * Da);
            flow_ffn(ws, b, ws->out2, 2);
        }
    }
    if (c->n_layers == 0) { /* degenerate but well defined: read the inputs */
        memcpy(ws->out2, ws->tok, sizeof(float) * Da);
        memcpy(ws->out2 + Da, ws->tok + (size_t)3 * Da, sizeof(float) * Da);
    }
    /* final norm of token 0 of each sequence, then the velocity head */
    vox_rmsnorm(ws->out2, m->w.ac_norm, Da, c->norm_eps, ws->out2);
    vox_rmsnorm(ws->out2 + Da, m->w.ac_norm, Da, c->norm_eps, ws->out2 + Da);
    vox_matmul(m->w.acoustic_output, ws->out2, 2, v);
}

int vox_flow_acoustic(vox_flow_ws *ws, const float *h, const float *x0, float alpha, int n_steps,
                      int32_t *codes, vox_error *err) {
    const voxtts_model *m = ws->m;
    const int A = m->cfg.n_acoustic_codebook, L = m->cfg.acoustic_codebook_size,
              Da = m->cfg.acoustic.dim;
    if (n_steps < 1) return vox_fail(err, VOX_E_ARG, "n_steps must be >= 1 (got %d)", n_steps);
    const float *tproj = m->tproj;
    if (n_steps != m->tproj_steps) {
        if (ws->tproj_n != n_steps) {
            if (ws->tproj_cap < n_steps) {
                float *t = realloc(ws->tproj, sizeof(float) * (size_t)n_steps * (size_t)Da);
                if (!t) return vox_fail(err, VOX_E_NOMEM, "out of memory for %d time steps", n_steps);
                ws->tproj = t;
                ws->tproj_cap = n_steps;
            }
            fill_tproj(m, n_steps, ws->temb, ws->tproj);
            ws->tproj_n = n_steps;
        }
        tproj = ws->tproj;
    }
    vox_matmul_pool(m->pool, m->w.llm_projection, h, 1, ws->cond);
    memcpy(ws->x, x0, sizeof(float) * (size_t)A);
    const float dt = 1.0f / (float)n_steps, beta = 1.0f - alpha;
    for (int i = 0; i < n_steps; i++) {
        vox_flow_velocity(ws, ws->x, tproj + (size_t)i * Da, ws->vel);
        for (int a = 0; a < A; a++) ws->x[a] += (alpha * ws->vel[a] + beta * ws->vel[A + a]) * dt;
    }
    for (int a = 0; a < A; a++) codes[a] = vox_fsq_level(ws->x[a], L) + 2;
    return VOX_OK;
}
