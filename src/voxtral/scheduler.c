/* scheduler.c — voxtts_engine: one model, many utterances advanced together one
 * frame per step (see scheduler.h for the request life cycle and the step).
 *
 * Bit-identity with voxtts_synthesize: per request, the prompt goes through the
 * backbone from the voice's cached prefix (in chunks; every row's arithmetic is
 * the same however rows are grouped), each frame runs the semantic argmax, draws
 * its noise from the request's own stream seeded with its seed (vox_rng, one
 * A-vector per decoded frame, as in generate.c), runs the Euler steps, calls the
 * progress callback, pushes the frame to the request's codec stream, and feeds
 * the frame's code embedding back.  The batched products give each row the
 * bits it gets alone (kernels.h), so only the grouping differs.
 *
 * Statistics: the engine counts the wall time of each stage over all steps
 * (voxtts_engine_stats); a request's voxtts_synth_stats has its own prefill and
 * codec time and, for backbone_s and acoustic_s, the time of the batched steps
 * it took part in (shared with the other rows of those steps). */
#include "voxtral/scheduler.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "voxtral/stream.h"

enum { RQ_QUEUED = 1, RQ_PREFILL, RQ_RUNNING, RQ_DONE };

typedef struct vox_request {
    int64_t id;
    int state;
    int cancel;           /* voxtts_engine_cancel asked for it during a step */
    voxtts_synth_params p;
    voxtts_synth_debug dbg; /* a copy of *p.debug, which then points here */
    vox_voice_sel sel; /* the voice (its rows live in the model or the caller's handle) */
    int n_steps;
    int32_t *ids;         /* the prompt (§2.1) */
    size_t n_ids;
    float *emb;           /* its embeddings while it is prefilled */
    int fed;              /* prompt rows in the cache */
    int cached_before;    /* the voice prefix existed before this request */
    vox_llm_state s;
    vox_audio_stream as;
    vox_rng rng;
    float *h;             /* [D] hidden of the next frame */
    int32_t *codes;       /* [max_frames][n_codebooks] */
    int n_frames;
    float *tproj_own;     /* time table for a non-default step count */
    const float *tproj;
    double t_submit, prefill_s, backbone_s, acoustic_s;
    int prompt_tokens, prefill_tokens;
    int rc;               /* outcome once DONE */
    voxtts_error err;
    voxtts_audio out;
    voxtts_synth_stats stats; /* filled when it ends */
} vox_request;

struct voxtts_engine {
    voxtts_model *m;
    int max_batch;
    vox_request **req;    /* submission order; DONE ones until taken */
    int n_req, cap_req;
    int64_t next_id;
    int in_step;
    vox_llm_batch lb;
    vox_flow_batch fb;
    /* per-step scratch, [max_batch] rows */
    vox_request **run, **live;
    vox_llm_state **states;
    float *h, *h2, *emb, *x0, *alpha, *tmp;
    int *forbid, *sem, *nsteps;
    const float **tp;
    int32_t **cp;
    voxtts_engine_stats st;
};

/* ---- requests ---------------------------------------------------------------------- */

static void request_release(vox_request *r) {
    vox_llm_state_free(&r->s);
    vox_audio_stream_free(&r->as);
    free(r->ids);
    free(r->emb);
    free(r->h);
    free(r->codes);
    free(r->tproj_own);
    r->ids = NULL;
    r->emb = r->h = r->tproj_own = NULL;
    r->codes = NULL;
}

static void request_free(vox_request *r) {
    if (!r) return;
    request_release(r);
    voxtts_audio_free(&r->out);
    free(r);
}

/* End r with outcome rc (its message already in r->err when rc != 0): the rest
 * of its audio on success, its result and statistics, its memory released. */
static void finish(voxtts_engine *e, vox_request *r, int rc) {
    const voxtts_model *m = e->m;
    vox_llm_state_free(&r->s);
    if (rc == VOX_OK && r->state == RQ_RUNNING && r->as.m) {
        const double c0 = r->as.codec_s;
        rc = vox_audio_stream_push(&r->as, r->codes, r->n_frames, 1, &r->err);
        e->st.codec_s += r->as.codec_s - c0;
    }
    if (rc == VOX_OK) {
        voxtts_audio *o = &r->out;
        const int ncb = m->cfg.n_codebooks;
        o->samples = r->n_frames > 0 && !r->p.on_audio ? vox_audio_stream_take(&r->as) : NULL;
        o->n_samples = (size_t)r->n_frames * (size_t)voxtts_model_samples_per_frame(m);
        o->sample_rate = voxtts_model_sample_rate(m);
        o->n_frames = r->n_frames;
        o->n_codebooks = ncb;
        if (r->n_frames > 0) {
            int32_t *shrunk = realloc(r->codes, sizeof(int32_t) * (size_t)r->n_frames * (size_t)ncb);
            o->codes = shrunk ? shrunk : r->codes;
            r->codes = NULL;
        }
    }
    voxtts_synth_stats *st = &r->stats;
    memset(st, 0, sizeof *st);
    st->frames = r->n_frames;
    st->prompt_tokens = r->prompt_tokens;
    st->prefill_tokens = r->prefill_tokens;
    st->codec_calls = r->as.calls;
    st->codec_frames = r->as.frames_decoded;
    st->prefill_s = r->prefill_s;
    st->backbone_s = r->backbone_s;
    st->acoustic_s = r->acoustic_s;
    st->codec_s = r->as.codec_s;
    st->total_s = vox_now_s() - r->t_submit;
    st->ttfa_s = r->as.first_audio_t > 0.0 ? r->as.first_audio_t - r->t_submit : 0.0;
    request_release(r);
    r->rc = rc;
    if (rc == VOX_OK) r->err.code = 0, r->err.msg[0] = '\0';
    r->state = RQ_DONE;
}

static void finish_cancelled(voxtts_engine *e, vox_request *r) {
    vox_fail(&r->err, VOX_E_CANCELLED, "request %lld cancelled by voxtts_engine_cancel after %d frames",
             (long long)r->id, r->n_frames);
    finish(e, r, VOX_E_CANCELLED);
}

static vox_request *find(const voxtts_engine *e, int64_t id, int *index) {
    for (int i = 0; i < e->n_req; i++)
        if (e->req[i]->id == id) {
            if (index) *index = i;
            return e->req[i];
        }
    return NULL;
}

/* Slot taken: the request's buffers, codec stream, prompt embeddings and a KV
 * cache started from the voice's prefix (built now if this is its first use). */
static int start_request(voxtts_engine *e, vox_request *r) {
    voxtts_model *m = e->m;
    const int D = m->cfg.llm.dim, ncb = m->cfg.n_codebooks;
    const voxtts_synth_params *p = &r->p;
    vox_error *err = &r->err;
    const double t0 = vox_now_s();
    r->state = RQ_PREFILL;
    r->h = malloc(sizeof(float) * (size_t)D);
    r->codes = malloc(sizeof(int32_t) * (size_t)p->max_frames * (size_t)ncb);
    if (!r->h || !r->codes)
        return vox_fail(err, VOX_E_NOMEM, "out of memory for %d frames", p->max_frames);
    int rc = vox_audio_stream_init(&r->as, m, p->max_frames, p->on_audio, p->audio_user,
                                   vox_opt_alibi_press(p), vox_opt_window_w_keys(p), err);
    if (rc) return rc;
    if (r->n_steps == m->tproj_steps) {
        r->tproj = m->tproj;
    } else {
        if ((rc = vox_flow_tproj_table(m, r->n_steps, &r->tproj_own, err))) return rc;
        r->tproj = r->tproj_own;
    }
    if ((rc = vox_prompt_embeddings_sel(m, r->ids, r->n_ids, &r->sel, &r->emb, err))) return rc;
    /* §2.1: the text-independent prefix <s>, [BEGIN_AUDIO], [AUDIO]*N,
     * [NEXT_AUDIO_TEXT] comes from the voice's cache (as in vox_gen_prefill) */
    const int n_prefix = 3 + r->sel.n;
    const float *kv = NULL;
    r->cached_before = vox_gen_prefix_cached(m, &r->sel) == n_prefix;
    if ((rc = vox_gen_voice_prefix(m, &r->sel, r->emb, n_prefix, &kv, err))) return rc;
    if ((rc = vox_llm_state_init(&r->s, m, (int)r->n_ids + p->max_frames + (vox_opt_seed_step(p) ? 1 : 0),
                                 err)))
        return rc;
    vox_llm_prefix_load(&r->s, kv, n_prefix);
    r->fed = n_prefix;
    vox_rng_seed(&r->rng, p->seed);
    const double dt = vox_now_s() - t0;
    r->prefill_s += dt;
    e->st.prefill_s += dt;
    return VOX_OK;
}

/* Feed up to *budget more prompt rows (the seed step counts as one); on the last
 * one the request is RUNNING with the hidden of frame 0 in r->h. */
static int prefill_some(voxtts_engine *e, vox_request *r, int *budget) {
    voxtts_model *m = e->m;
    const int D = m->cfg.llm.dim, n = (int)r->n_ids;
    const double t0 = vox_now_s();
    int rc = VOX_OK, rows = n - r->fed;
    if (rows > *budget) rows = *budget;
    if (rows > 0) {
        rc = vox_llm_forward(&r->s, r->emb + (size_t)r->fed * D, rows, r->h, &r->err);
        r->fed += rows;
        *budget -= rows;
        e->st.prefill_tokens += rows;
    }
    if (!rc && r->fed == n && vox_opt_seed_step(&r->p) && r->s.n_pos == n && *budget > 0) {
        vox_tensor_get_row(m->w.tok_embeddings, m->id_audio, e->tmp);
        rc = vox_llm_forward(&r->s, e->tmp, 1, r->h, &r->err);
        *budget -= 1;
        e->st.prefill_tokens += 1;
    }
    const double dt = vox_now_s() - t0;
    r->prefill_s += dt;
    e->st.prefill_s += dt;
    if (rc) return rc;
    if (r->fed == n && (!vox_opt_seed_step(&r->p) || r->s.n_pos == n + 1)) {
        free(r->emb);
        r->emb = NULL;
        r->prompt_tokens = n;
        r->prefill_tokens = r->s.n_pos - (r->cached_before ? 3 + r->sel.n : 0);
        r->state = RQ_RUNNING;
    }
    return VOX_OK;
}

/* ---- the frame step ------------------------------------------------------------------ */

static void cancel_flagged(voxtts_engine *e) {
    for (int i = 0; i < e->n_req; i++) {
        vox_request *r = e->req[i];
        if (r->cancel && r->state != RQ_DONE) finish_cancelled(e, r);
    }
}

/* One frame of every running request (the order of vox_generate's loop body). */
static int frame_step(voxtts_engine *e, vox_error *err) {
    voxtts_model *m = e->m;
    const int D = m->cfg.llm.dim, A = m->cfg.n_acoustic_codebook, ncb = m->cfg.n_codebooks;
    int n = 0;
    for (int i = 0; i < e->n_req && n < e->max_batch; i++)
        if (e->req[i]->state == RQ_RUNNING && !e->req[i]->cancel) e->run[n++] = e->req[i];
    if (n == 0) return VOX_OK;

    /* semantic codes of all, then the acoustic head on those that go on */
    double t0 = vox_now_s();
    for (int i = 0; i < n; i++) {
        memcpy(e->h + (size_t)i * D, e->run[i]->h, sizeof(float) * D);
        e->forbid[i] = vox_opt_ignore_end(&e->run[i]->p);
    }
    vox_flow_semantic_batch(&e->fb, e->h, n, e->forbid, e->sem);
    const double t_sem = vox_now_s() - t0;
    int k = 0;
    for (int i = 0; i < n; i++) {
        vox_request *r = e->run[i];
        if (e->sem[i] == 1) continue; /* END_AUDIO (§5.1, §8.2): not decoded, not fed back */
        int32_t *fc = r->codes + (size_t)r->n_frames * ncb;
        vox_rng_normal(&r->rng, e->x0 + (size_t)k * A, A);
        fc[0] = e->sem[i];
        e->cp[k] = fc + 1;
        memcpy(e->h2 + (size_t)k * D, r->h, sizeof(float) * D);
        e->alpha[k] = r->p.cfg_alpha;
        e->nsteps[k] = r->n_steps;
        e->tp[k] = r->tproj;
        e->live[k++] = r;
    }
    int rc = VOX_OK;
    if (k > 0)
        rc = vox_flow_acoustic_batch(&e->fb, k, e->h2, e->x0, e->alpha, e->nsteps, e->tp, e->cp, err);
    const double t_ac = vox_now_s() - t0;
    e->st.acoustic_s += t_ac;
    e->st.steps++;
    e->st.rows += n;
    if (n > e->st.max_rows) e->st.max_rows = n;
    for (int i = 0; i < n; i++) {
        vox_request *r = e->run[i];
        if (e->sem[i] == 1) {
            r->acoustic_s += t_sem;
            finish(e, r, VOX_OK);
        } else {
            r->acoustic_s += t_ac;
        }
    }
    if (rc) { /* only for a bad step count, checked at submit: end the requests, not the engine */
        for (int j = 0; j < k; j++) {
            e->live[j]->err = *err;
            finish(e, e->live[j], rc);
        }
        err->code = 0;
        err->msg[0] = '\0';
        return VOX_OK;
    }
    e->st.frames += k;

    /* per request: progress, audio, then who goes on to the backbone */
    int nb = 0;
    for (int j = 0; j < k; j++) {
        vox_request *r = e->live[j];
        const voxtts_synth_params *p = &r->p;
        r->n_frames++;
        if (p->progress && p->progress(r->n_frames, p->max_frames, p->progress_user)) {
            vox_fail(&r->err, VOX_E_CANCELLED, "cancelled by the progress callback after %d frames",
                     r->n_frames);
            finish(e, r, VOX_E_CANCELLED);
            continue;
        }
        if (r->cancel) continue; /* cancelled from a callback: ended below */
        const double c0 = r->as.codec_s;
        rc = vox_audio_stream_push(&r->as, r->codes, r->n_frames, 0, &r->err);
        e->st.codec_s += r->as.codec_s - c0;
        if (rc) {
            finish(e, r, rc);
            continue;
        }
        if (r->n_frames < p->max_frames) e->live[nb++] = r;
        else finish(e, r, VOX_OK);
    }
    /* a callback may have cancelled a request that is still in the list */
    int kept = 0;
    for (int j = 0; j < nb; j++)
        if (!e->live[j]->cancel && e->live[j]->state == RQ_RUNNING) e->live[kept++] = e->live[j];
    nb = kept;
    if (nb == 0) return VOX_OK;

    t0 = vox_now_s();
    for (int j = 0; j < nb; j++) {
        vox_request *r = e->live[j];
        vox_embed_frame(m, r->codes + (size_t)(r->n_frames - 1) * ncb, e->emb + (size_t)j * D, e->tmp);
        e->states[j] = &r->s;
    }
    rc = vox_llm_decode_batch(&e->lb, e->states, nb, e->emb, e->h, err);
    const double t_bb = vox_now_s() - t0;
    e->st.backbone_s += t_bb;
    e->st.backbone_steps++;
    for (int j = 0; j < nb; j++) {
        vox_request *r = e->live[j];
        r->backbone_s += t_bb;
        if (rc) {
            r->err = *err;
            finish(e, r, rc);
        } else {
            memcpy(r->h, e->h + (size_t)j * D, sizeof(float) * D);
        }
    }
    if (rc) {
        err->code = 0;
        err->msg[0] = '\0';
    }
    return VOX_OK;
}

/* ---- public API ---------------------------------------------------------------------- */

void voxtts_engine_free(voxtts_engine *e) {
    if (!e) return;
    for (int i = 0; i < e->n_req; i++) request_free(e->req[i]);
    free(e->req);
    vox_llm_batch_free(&e->lb);
    vox_flow_batch_free(&e->fb);
    free(e->run);
    free(e->live);
    free(e->states);
    free(e->h);
    free(e->h2);
    free(e->emb);
    free(e->x0);
    free(e->alpha);
    free(e->tmp);
    free(e->forbid);
    free(e->sem);
    free(e->nsteps);
    free(e->tp);
    free(e->cp);
    free(e);
}

int voxtts_engine_create(voxtts_model *m, int max_batch, voxtts_engine **out, voxtts_error *err) {
    if (!out) return vox_fail(err, VOX_E_ARG, "voxtts_engine_create: out is NULL");
    *out = NULL;
    if (!m) return vox_fail(err, VOX_E_ARG, "voxtts_engine_create: model is NULL");
    if (max_batch < 1 || max_batch > VOX_ENGINE_MAX_BATCH)
        return vox_fail(err, VOX_E_ARG, "voxtts_engine_create: max_batch %d out of range (1..%d)",
                        max_batch, VOX_ENGINE_MAX_BATCH);
    voxtts_engine *e = calloc(1, sizeof *e);
    if (!e) return vox_fail(err, VOX_E_NOMEM, "out of memory for an engine");
    e->m = m;
    e->max_batch = max_batch;
    e->next_id = 1;
    const size_t B = (size_t)max_batch, D = (size_t)m->cfg.llm.dim,
                 A = (size_t)m->cfg.n_acoustic_codebook;
    int rc = vox_llm_batch_init(&e->lb, m, max_batch, err);
    if (!rc) rc = vox_flow_batch_init(&e->fb, m, max_batch, err);
    if (rc) {
        voxtts_engine_free(e);
        return rc;
    }
    e->run = malloc(sizeof *e->run * B);
    e->live = malloc(sizeof *e->live * B);
    e->states = malloc(sizeof *e->states * B);
    e->h = malloc(sizeof(float) * B * D);
    e->h2 = malloc(sizeof(float) * B * D);
    e->emb = malloc(sizeof(float) * B * D);
    e->x0 = malloc(sizeof(float) * B * (A ? A : 1));
    e->alpha = malloc(sizeof(float) * B);
    e->tmp = malloc(sizeof(float) * D);
    e->forbid = malloc(sizeof(int) * B);
    e->sem = malloc(sizeof(int) * B);
    e->nsteps = malloc(sizeof(int) * B);
    e->tp = malloc(sizeof *e->tp * B);
    e->cp = malloc(sizeof *e->cp * B);
    if (!e->run || !e->live || !e->states || !e->h || !e->h2 || !e->emb || !e->x0 || !e->alpha ||
        !e->tmp || !e->forbid || !e->sem || !e->nsteps || !e->tp || !e->cp) {
        voxtts_engine_free(e);
        return vox_fail(err, VOX_E_NOMEM, "out of memory for an engine of %d requests", max_batch);
    }
    *out = e;
    return VOX_OK;
}


int voxtts_engine_submit(voxtts_engine *e, const char *text, const voxtts_synth_params *p,
                         int64_t *id, voxtts_error *err) {
    if (id) *id = 0;
    if (!e || !text || !id)
        return vox_fail(err, VOX_E_ARG, "voxtts_engine_submit: engine, text and id must not be NULL");
    voxtts_synth_params defaults;
    voxtts_synth_params_default(&defaults);
    if (!p) p = &defaults;
    int rc = vox_check_synth_params(p, "voxtts_engine_submit", err);
    if (rc) return rc;
    voxtts_model *m = e->m;
    vox_voice_sel sel; /* a preset, or p->voice_handle (which must outlive the request) */
    if ((rc = vox_voice_select(m, p, &sel, err))) return rc;
    vox_request *r = calloc(1, sizeof *r);
    if (!r) return vox_fail(err, VOX_E_NOMEM, "out of memory for a request");
    r->t_submit = vox_now_s();
    r->sel = sel;
    if ((rc = vox_prompt_ids_n(m, text, strlen(text), sel.n, &r->ids, &r->n_ids, err))) {
        request_free(r);
        return rc;
    }
    if (m->cfg.max_seq_len > 0 &&
        r->n_ids + (size_t)p->max_frames + (vox_opt_seed_step(p) ? 1 : 0) > (size_t)m->cfg.max_seq_len) {
        rc = vox_fail(err, VOX_E_ARG,
                      "prompt of %zu tokens + up to %d frames exceeds the model's max_seq_len of %d "
                      "(params.json); use fewer frames or a shorter text", r->n_ids, p->max_frames,
                      m->cfg.max_seq_len);
        request_free(r);
        return rc;
    }
    if (r->n_ids + (size_t)p->max_frames + 1 > (size_t)1 << 30) {
        rc = vox_fail(err, VOX_E_ARG, "prompt of %zu tokens + %d frames is too long", r->n_ids,
                      p->max_frames);
        request_free(r);
        return rc;
    }
    if (e->n_req == e->cap_req) {
        const int cap = e->cap_req ? 2 * e->cap_req : 16;
        vox_request **nr = realloc(e->req, sizeof *nr * (size_t)cap);
        if (!nr) {
            request_free(r);
            return vox_fail(err, VOX_E_NOMEM, "out of memory for a request");
        }
        e->req = nr;
        e->cap_req = cap;
    }
    r->p = *p;
    if (p->debug) {
        r->dbg = *p->debug;
        r->p.debug = &r->dbg;
    }
    r->n_steps = p->n_steps ? p->n_steps : m->cfg.n_decoding_steps;
    r->id = e->next_id++;
    r->state = RQ_QUEUED;
    e->req[e->n_req++] = r;
    *id = r->id;
    return VOX_OK;
}

int voxtts_engine_step(voxtts_engine *e, voxtts_error *err) {
    if (!e) return vox_fail(err, VOX_E_ARG, "voxtts_engine_step: engine is NULL");
    if (e->in_step)
        return vox_fail(err, VOX_E_ARG, "voxtts_engine_step: called from inside a callback");
    e->in_step = 1;
    cancel_flagged(e);
    /* admit queued requests into free slots */
    int active = 0;
    for (int i = 0; i < e->n_req; i++)
        active += e->req[i]->state == RQ_PREFILL || e->req[i]->state == RQ_RUNNING;
    for (int i = 0; i < e->n_req && active < e->max_batch; i++) {
        vox_request *r = e->req[i];
        if (r->state != RQ_QUEUED) continue;
        active++;
        int rc = start_request(e, r);
        if (rc) finish(e, r, rc);
    }
    /* prefill: all of it when nothing is running (nobody waits), else a chunk */
    int running = 0;
    for (int i = 0; i < e->n_req; i++) running += e->req[i]->state == RQ_RUNNING;
    int budget = running ? VOX_ENGINE_PREFILL_CHUNK : INT_MAX;
    for (int i = 0; i < e->n_req && budget > 0; i++) {
        vox_request *r = e->req[i];
        if (r->state != RQ_PREFILL) continue;
        int rc = prefill_some(e, r, &budget);
        if (rc) finish(e, r, rc);
    }
    int rc = frame_step(e, err);
    cancel_flagged(e);
    e->in_step = 0;
    return rc;
}

int voxtts_engine_pending(const voxtts_engine *e) {
    int n = 0;
    for (int i = 0; e && i < e->n_req; i++) n += e->req[i]->state != RQ_DONE;
    return n;
}

int voxtts_engine_run(voxtts_engine *e, voxtts_error *err) {
    if (!e) return vox_fail(err, VOX_E_ARG, "voxtts_engine_run: engine is NULL");
    while (voxtts_engine_pending(e) > 0) {
        int rc = voxtts_engine_step(e, err);
        if (rc) return rc;
    }
    return VOX_OK;
}

int voxtts_engine_cancel(voxtts_engine *e, int64_t id, voxtts_error *err) {
    if (!e) return vox_fail(err, VOX_E_ARG, "voxtts_engine_cancel: engine is NULL");
    vox_request *r = find(e, id, NULL);
    if (!r || r->state == RQ_DONE)
        return vox_fail(err, VOX_E_ARG, "voxtts_engine_cancel: request %lld is %s", (long long)id,
                        r ? "already finished" : "unknown");
    if (e->in_step)
        r->cancel = 1; /* from a callback: ended at a safe point of the step */
    else
        finish_cancelled(e, r);
    return VOX_OK;
}

int voxtts_engine_status(const voxtts_engine *e, int64_t id) {
    const vox_request *r = e ? find(e, id, NULL) : NULL;
    if (!r) return VOXTTS_REQ_UNKNOWN;
    return r->state == RQ_DONE ? VOXTTS_REQ_DONE
           : r->state == RQ_QUEUED ? VOXTTS_REQ_QUEUED
                                   : VOXTTS_REQ_RUNNING;
}

int voxtts_engine_poll(const voxtts_engine *e, int64_t *id) {
    for (int i = 0; e && i < e->n_req; i++)
        if (e->req[i]->state == RQ_DONE) {
            if (id) *id = e->req[i]->id;
            return 1;
        }
    return 0;
}

int voxtts_engine_take(voxtts_engine *e, int64_t id, voxtts_audio *out, voxtts_synth_stats *stats,
                       voxtts_error *req_err) {
    if (out) memset(out, 0, sizeof *out);
    if (stats) memset(stats, 0, sizeof *stats);
    if (!e || !out)
        return vox_fail(req_err, VOX_E_ARG, "voxtts_engine_take: engine and out must not be NULL");
    if (e->in_step)
        return vox_fail(req_err, VOX_E_ARG, "voxtts_engine_take: called from inside a callback");
    int index = 0;
    vox_request *r = find(e, id, &index);
    if (!r || r->state != RQ_DONE)
        return vox_fail(req_err, VOX_E_ARG, "voxtts_engine_take: request %lld is %s", (long long)id,
                        r ? "not finished" : "unknown");
    const int rc = r->rc;
    if (stats) *stats = r->stats;
    if (rc == VOX_OK) {
        *out = r->out;
        memset(&r->out, 0, sizeof r->out);
        if (req_err) req_err->code = 0, req_err->msg[0] = '\0';
    } else if (req_err) {
        *req_err = r->err;
    }
    memmove(e->req + index, e->req + index + 1, sizeof *e->req * (size_t)(e->n_req - index - 1));
    e->n_req--;
    request_free(r);
    return rc;
}

void voxtts_engine_get_stats(const voxtts_engine *e, voxtts_engine_stats *st) {
    if (!st) return;
    if (e)
        *st = e->st;
    else
        memset(st, 0, sizeof *st);
}
