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

/* Attention of query row q over the three keys/values of one sequence (rows
 * r0..r0+2 of k and v), all heads, into out.  Shared by the single and the
 * batched velocity, so both give the same bits. */
static void attend3_rows(const voxtts_model *m, const float *k, const float *v, const float *q,
                         int r0, float *out) {
    const vox_transformer_cfg *c = &m->cfg.acoustic;
    const int hd = c->head_dim, group = c->n_heads / c->n_kv_heads;
    const size_t kvd = (size_t)c->n_kv_heads * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < c->n_heads; h++) {
        const size_t ko = (size_t)(h / group) * hd;
        const float *qh = q + (size_t)h * hd;
        float sc[3];
        vox_dot_rows_f32(qh, k + (size_t)r0 * kvd + ko, kvd, 3, hd, scale, sc);
        vox_softmax(sc, 3);
        float *oh = out + (size_t)h * hd;
        memset(oh, 0, sizeof(float) * (size_t)hd);
        vox_axpy_rows_f32(oh, sc, v + (size_t)r0 * kvd + ko, kvd, 3, hd);
    }
}

/* attend3_rows for n query rows split over the pool: query row i (at q + i*qd,
 * output at att + i*qd) attends over the sequence of rows 3*(i / per)..+2 of
 * k and v (per = 3: every token of each sequence queries; per = 1: one query
 * row per sequence). */
typedef struct attend_task {
    const voxtts_model *m;
    const float *k, *v, *q;
    float *att;
    size_t qd;
    int per;
} attend_task;

static void attend_task_run(void *ctx, int64_t begin, int64_t end, int tid) {
    (void)tid;
    const attend_task *t = ctx;
    for (int64_t i = begin; i < end; i++)
        attend3_rows(t->m, t->k, t->v, t->q + (size_t)i * t->qd, 3 * (int)(i / t->per),
                     t->att + (size_t)i * t->qd);
}

static void attend_rows_pool(const voxtts_model *m, const float *k, const float *v, const float *q,
                             int n, int per, float *att) {
    const vox_transformer_cfg *c = &m->cfg.acoustic;
    attend_task t = {m, k, v, q, att, (size_t)c->n_heads * c->head_dim, per};
    vox_pool_for(m->pool, n, 1, attend_task_run, &t);
}

/* Pre-norm SwiGLU FFN on n rows of tok (residual added in place), with
 * scratch xn, h1, h3, o of n rows. */
static void ffn_rows(const voxtts_model *m, const vox_block_w *b, float *tok, int n, float *xn,
                     float *h1, float *h3, float *o) {
    const vox_transformer_cfg *c = &m->cfg.acoustic;
    const int Da = c->dim;
    vox_rmsnorm_rows_pool(m->pool, tok, b->ffn_norm, n, Da, c->norm_eps, xn);
    const vox_tensor *w13[2] = {b->w1, b->w3};
    float *y13[2] = {h1, h3};
    vox_matmul_multi(m->pool, 2, w13, xn, n, y13);
    vox_silu_mul_pool(m->pool, h1, h3, n * c->hidden_dim);
    vox_matmul_pool(m->pool, b->w2, h1, n, o);
    vox_add(tok, o, n * Da);
}

static void flow_ffn(vox_flow_ws *ws, const vox_block_w *b, float *tok, int n) {
    ffn_rows(ws->m, b, tok, n, ws->xn, ws->h1, ws->h3, ws->o);
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
            vox_rmsnorm_rows_pool(m->pool, ws->tok, b->attention_norm, FLOW_ROWS, Da, c->norm_eps, ws->xn);
        }
        if (l + 1 < c->n_layers) {
            if (l > 0) {
                const vox_tensor *wqkv[3] = {b->wq, b->wk, b->wv};
                float *yqkv[3] = {ws->q, ws->k, ws->v};
                vox_matmul_multi(m->pool, 3, wqkv, ws->xn, FLOW_ROWS, yqkv);
            }
            /* bidirectional attention inside each 3-token sequence, none across */
            attend_rows_pool(m, ws->k, ws->v, ws->q, FLOW_ROWS, 3, ws->att);
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
            attend_rows_pool(m, ws->k, ws->v, ws->q, 2, 1, ws->att);
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

/* ---- batched: several frames (utterances) at once --------------------------------
 * The acoustic head of n independent frames: every product takes the rows of all
 * of them (6 per frame in the middle layers, 2 per frame in the first layer's
 * q/k/v and in the last layer's queries, wo and FFN), each weight read once per
 * Euler step for all.  Norms, attention and the Euler update are per row with
 * the single path's code (attend3_rows, ffn_rows), so each frame's codes are
 * bit-identical to vox_flow_acoustic on it alone.  Frames may use different
 * step counts and CFG weights: Euler step i runs the frames that have one. */

void vox_flow_batch_free(vox_flow_batch *fb) {
    if (!fb) return;
    float **bufs[] = {&fb->tok, &fb->xn, &fb->q, &fb->k, &fb->v, &fb->att, &fb->h1, &fb->h3,
                      &fb->o, &fb->q2, &fb->k2, &fb->v2, &fb->cond, &fb->cq, &fb->ck, &fb->cv,
                      &fb->inproj, &fb->x, &fb->xin, &fb->vel, &fb->out2, &fb->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(*bufs[i]);
    free(fb->tp);
    free(fb->idx);
    memset(fb, 0, sizeof *fb);
}

static float *alloc_rows(size_t rows, size_t width) {
    if (width == 0) width = 1;
    if (rows > SIZE_MAX / width / sizeof(float)) return NULL;
    return malloc(sizeof(float) * rows * width);
}

int vox_flow_batch_init(vox_flow_batch *fb, const voxtts_model *m, int max_frames, vox_error *err) {
    memset(fb, 0, sizeof *fb);
    if (max_frames < 1 || max_frames > (1 << 20))
        return vox_fail(err, VOX_E_INTERNAL, "acoustic head batch of %d frames", max_frames);
    fb->m = m;
    fb->max_frames = max_frames;
    const vox_transformer_cfg *c = &m->cfg.acoustic;
    const size_t Da = (size_t)c->dim, qd = (size_t)c->n_heads * c->head_dim,
                 kvd = (size_t)c->n_kv_heads * c->head_dim, H = (size_t)c->hidden_dim,
                 A = (size_t)m->cfg.n_acoustic_codebook, D = (size_t)m->cfg.llm.dim,
                 B = (size_t)max_frames, R = FLOW_ROWS * B;
    (void)D;
    fb->tok = alloc_rows(R, Da);
    fb->xn = alloc_rows(R, Da);
    fb->o = alloc_rows(R, Da);
    fb->q = alloc_rows(R, qd);
    fb->att = alloc_rows(R, qd);
    fb->k = alloc_rows(R, kvd);
    fb->v = alloc_rows(R, kvd);
    fb->h1 = alloc_rows(R, H);
    fb->h3 = alloc_rows(R, H);
    fb->q2 = alloc_rows(2 * B, qd);
    fb->k2 = alloc_rows(2 * B, kvd);
    fb->v2 = alloc_rows(2 * B, kvd);
    fb->cond = alloc_rows(B, Da);
    fb->cq = alloc_rows(B, qd);
    fb->ck = alloc_rows(B, kvd);
    fb->cv = alloc_rows(B, kvd);
    fb->inproj = alloc_rows(B, Da);
    fb->x = alloc_rows(B, A);
    fb->xin = alloc_rows(B, A);
    fb->vel = alloc_rows(B, 2 * A);
    fb->out2 = alloc_rows(2 * B, Da);
    fb->logits = alloc_rows(B, (size_t)m->semantic_rows);
    fb->tp = malloc(sizeof *fb->tp * B);
    fb->idx = malloc(sizeof *fb->idx * B);
    if (!fb->tok || !fb->xn || !fb->o || !fb->q || !fb->att || !fb->k || !fb->v || !fb->h1 ||
        !fb->h3 || !fb->q2 || !fb->k2 || !fb->v2 || !fb->cond || !fb->cq || !fb->ck || !fb->cv ||
        !fb->inproj || !fb->x || !fb->xin || !fb->vel || !fb->out2 || !fb->logits || !fb->tp ||
        !fb->idx) {
        vox_flow_batch_free(fb);
        return vox_fail(err, VOX_E_NOMEM, "out of memory for an acoustic head batch of %d frames",
                        max_frames);
    }
    return VOX_OK;
}

int vox_flow_tproj_table(const voxtts_model *m, int n_steps, float **table, vox_error *err) {
    const size_t Da = (size_t)m->cfg.acoustic.dim;
    *table = NULL;
    if (n_steps < 1) return vox_fail(err, VOX_E_ARG, "n_steps must be >= 1 (got %d)", n_steps);
    float *t = alloc_rows((size_t)n_steps, Da), *temb = alloc_rows(1, Da);
    if (!t || !temb) {
        free(t);
        free(temb);
        return vox_fail(err, VOX_E_NOMEM, "out of memory for %d time steps", n_steps);
    }
    fill_tproj(m, n_steps, temb, t);
    free(temb);
    *table = t;
    return VOX_OK;
}

void vox_flow_semantic_batch(vox_flow_batch *fb, const float *h, int n, const int *forbid_end,
                             int *sem) {
    const voxtts_model *m = fb->m;
    const int S = m->cfg.semantic_codebook_size;
    vox_matmul_pool(m->pool, m->w.semantic_output, h, n, fb->logits);
    for (int r = 0; r < n; r++) {
        const float *lg = fb->logits + (size_t)r * m->semantic_rows;
        int best = forbid_end[r] ? 2 : 1;
        for (int i = best + 1; i < S + 2; i++)
            if (lg[i] > lg[best]) best = i;
        sem[r] = best;
    }
}

/* Copy row `from` of a [.][d] array to row `to` of another. */
static void copy_row(float *dst, int to, const float *src, int from, size_t d) {
    memmove(dst + (size_t)to * d, src + (size_t)from * d, sizeof(float) * d);
}

/* Velocities of nb frames: frame j (of the batch idx[j]) at x = xin[j] and time
 * projection tp[j]; vel[j] = [conditional A][unconditional A].  The mirror of
 * vox_flow_velocity with frame j's six rows at 6j..6j+5. */
static void velocity_batch(vox_flow_batch *fb, int nb) {
    const voxtts_model *m = fb->m;
    const vox_transformer_cfg *c = &m->cfg.acoustic;
    const int Da = c->dim, A = m->cfg.n_acoustic_codebook;
    const size_t qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    const int R = FLOW_ROWS * nb;

    vox_matmul_pool(m->pool, m->w.input_projection, fb->xin, nb, fb->inproj);
    for (int j = 0; j < nb; j++) {
        const float *ip = fb->inproj + (size_t)j * Da;
        const float *init[FLOW_ROWS] = {ip, fb->tp[j], fb->cond + (size_t)fb->idx[j] * Da, ip,
                                        fb->tp[j], NULL};
        for (int r = 0; r < FLOW_ROWS; r++) {
            float *dst = fb->tok + (size_t)(FLOW_ROWS * j + r) * Da;
            if (init[r])
                memcpy(dst, init[r], sizeof(float) * Da);
            else
                memset(dst, 0, sizeof(float) * Da);
        }
    }
    for (int l = 0; l < c->n_layers; l++) {
        const vox_block_w *b = &m->w.ac_layers[l];
        if (l == 0) {
            /* first_layer_qkv for every frame: rows 0, 1 multiplied, 2 from the
             * frame's conditioning q/k/v, 3, 4 copies, 5 zero */
            for (int j = 0; j < nb; j++)
                for (int r = 0; r < 2; r++)
                    vox_rmsnorm(fb->tok + (size_t)(FLOW_ROWS * j + r) * Da, b->attention_norm, Da,
                                c->norm_eps, fb->xn + (size_t)(2 * j + r) * Da);
            const vox_tensor *wqkv[3] = {b->wq, b->wk, b->wv};
            float *y2[3] = {fb->q2, fb->k2, fb->v2};
            vox_matmul_multi(m->pool, 3, wqkv, fb->xn, 2 * nb, y2);
            float *y6[3] = {fb->q, fb->k, fb->v};
            const float *cond[3] = {fb->cq, fb->ck, fb->cv};
            const size_t dims[3] = {qd, kvd, kvd};
            for (int t = 0; t < 3; t++)
                for (int j = 0; j < nb; j++) {
                    const int r0 = FLOW_ROWS * j;
                    copy_row(y6[t], r0 + 0, y2[t], 2 * j, dims[t]);
                    copy_row(y6[t], r0 + 1, y2[t], 2 * j + 1, dims[t]);
                    copy_row(y6[t], r0 + 2, cond[t], fb->idx[j], dims[t]);
                    copy_row(y6[t], r0 + 3, y2[t], 2 * j, dims[t]);
                    copy_row(y6[t], r0 + 4, y2[t], 2 * j + 1, dims[t]);
                    memset(y6[t] + (size_t)(r0 + 5) * dims[t], 0, sizeof(float) * dims[t]);
                }
        } else {
            vox_rmsnorm_rows_pool(m->pool, fb->tok, b->attention_norm, R, Da, c->norm_eps, fb->xn);
        }
        if (l + 1 < c->n_layers) {
            if (l > 0) {
                const vox_tensor *wqkv[3] = {b->wq, b->wk, b->wv};
                float *yqkv[3] = {fb->q, fb->k, fb->v};
                vox_matmul_multi(m->pool, 3, wqkv, fb->xn, R, yqkv);
            }
            attend_rows_pool(m, fb->k, fb->v, fb->q, R, 3, fb->att);
            vox_matmul_pool(m->pool, b->wo, fb->att, R, fb->o);
            vox_add(fb->tok, fb->o, R * Da);
            ffn_rows(m, b, fb->tok, R, fb->xn, fb->h1, fb->h3, fb->o);
        } else {
            /* last layer: queries, wo and the FFN only for token 0 of each
             * sequence (rows 6j and 6j+3), keys/values from all rows */
            if (l > 0) {
                const vox_tensor *wkv[2] = {b->wk, b->wv};
                float *ykv[2] = {fb->k, fb->v};
                vox_matmul_multi(m->pool, 2, wkv, fb->xn, R, ykv);
                for (int j = 0; j < nb; j++) { /* in place: row 2j+1 < 6j+3 is never read again */
                    copy_row(fb->xn, 2 * j, fb->xn, FLOW_ROWS * j, (size_t)Da);
                    copy_row(fb->xn, 2 * j + 1, fb->xn, FLOW_ROWS * j + 3, (size_t)Da);
                }
                vox_matmul_pool(m->pool, b->wq, fb->xn, 2 * nb, fb->q2);
            } else { /* a one-layer head: q of rows 0 and 3 are equal at layer 0 */
                for (int j = 0; j < nb; j++) {
                    copy_row(fb->q2, 2 * j, fb->q, FLOW_ROWS * j, qd);
                    copy_row(fb->q2, 2 * j + 1, fb->q, FLOW_ROWS * j, qd);
                }
            }
            attend_rows_pool(m, fb->k, fb->v, fb->q2, 2 * nb, 1, fb->att);
            vox_matmul_pool(m->pool, b->wo, fb->att, 2 * nb, fb->o);
            for (int j = 0; j < 2 * nb; j++) copy_row(fb->out2, j, fb->tok, 3 * j, (size_t)Da);
            vox_add(fb->out2, fb->o, 2 * nb * Da);
            ffn_rows(m, b, fb->out2, 2 * nb, fb->xn, fb->h1, fb->h3, fb->o);
        }
    }
    if (c->n_layers == 0)
        for (int j = 0; j < 2 * nb; j++) copy_row(fb->out2, j, fb->tok, 3 * j, (size_t)Da);
    for (int j = 0; j < 2 * nb; j++)
        vox_rmsnorm(fb->out2 + (size_t)j * Da, m->w.ac_norm, Da, c->norm_eps,
                    fb->out2 + (size_t)j * Da);
    vox_matmul_pool(m->pool, m->w.acoustic_output, fb->out2, 2 * nb, fb->vel);
    (void)A;
}

int vox_flow_acoustic_batch(vox_flow_batch *fb, int n, const float *h, const float *x0,
                            const float *alpha, const int *n_steps, const float *const *tproj,
                            int32_t *const *codes, vox_error *err) {
    const voxtts_model *m = fb->m;
    const vox_transformer_cfg *c = &m->cfg.acoustic;
    const int A = m->cfg.n_acoustic_codebook, L = m->cfg.acoustic_codebook_size, Da = c->dim;
    if (n < 1 || n > fb->max_frames)
        return vox_fail(err, VOX_E_INTERNAL, "acoustic head batch: %d frames (1..%d)", n,
                        fb->max_frames);
    int max_steps = 0;
    for (int u = 0; u < n; u++) {
        if (n_steps[u] < 1)
            return vox_fail(err, VOX_E_ARG, "n_steps must be >= 1 (got %d)", n_steps[u]);
        if (n_steps[u] > max_steps) max_steps = n_steps[u];
    }
    vox_matmul_pool(m->pool, m->w.llm_projection, h, n, fb->cond);
    if (c->n_layers > 0) { /* layer 0's q/k/v of each conditioning token, once per frame */
        const vox_block_w *b = &m->w.ac_layers[0];
        for (int u = 0; u < n; u++)
            vox_rmsnorm(fb->cond + (size_t)u * Da, b->attention_norm, Da, c->norm_eps,
                        fb->xn + (size_t)u * Da);
        const vox_tensor *wqkv[3] = {b->wq, b->wk, b->wv};
        float *yc[3] = {fb->cq, fb->ck, fb->cv};
        vox_matmul_multi(m->pool, 3, wqkv, fb->xn, n, yc);
    }
    memcpy(fb->x, x0, sizeof(float) * (size_t)n * A);
    for (int i = 0; i < max_steps; i++) {
        int nb = 0;
        for (int u = 0; u < n; u++) {
            if (i >= n_steps[u]) continue;
            fb->idx[nb] = u;
            fb->tp[nb] = tproj[u] + (size_t)i * Da;
            memcpy(fb->xin + (size_t)nb * A, fb->x + (size_t)u * A, sizeof(float) * A);
            nb++;
        }
        velocity_batch(fb, nb);
        for (int j = 0; j < nb; j++) {
            const int u = fb->idx[j];
            const float a_u = alpha[u], dt = 1.0f / (float)n_steps[u], beta = 1.0f - a_u;
            float *x = fb->x + (size_t)u * A;
            const float *vel = fb->vel + (size_t)j * 2 * A;
            for (int a = 0; a < A; a++) x[a] += (a_u * vel[a] + beta * vel[A + a]) * dt;
        }
    }
    for (int u = 0; u < n; u++)
        for (int a = 0; a < A; a++) codes[u][a] = vox_fsq_level(fb->x[(size_t)u * A + a], L) + 2;
    return VOX_OK;
}
