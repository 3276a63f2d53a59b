/* serve_engine.c — the engine side of `voxtts serve` (see serve.h): the one
 * thread that drives the batched voxtts_engine, the queue the connections
 * feed it through, each job's encoded-audio buffer, and the metrics that
 * /metrics renders.
 *
 * The thread sleeps on the server's condition variable while nothing is
 * queued or running.  Otherwise, between engine steps, it submits the jobs
 * that arrived (opening each one's audio writer on a sink that appends to the
 * job's buffer), cancels the jobs whose clients went away or timed out, runs
 * one voxtts_engine_step (every running request advances one frame; their
 * on_audio callbacks encode and append), and takes the finished requests.
 * Submitting while others run is what makes concurrent requests share the
 * batched steps (continuous batching). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"

const int serve_status_codes[SERVE_N_STATUS] = {200, 400, 401, 404, 405, 413,
                                                429, 499, 500, 503, 504, 415};

static const double ttfa_bounds[SERVE_TTFA_BUCKETS] = {0.025, 0.05, 0.1, 0.25, 0.5,
                                                       1.0,   2.5,  5.0, 10.0, 30.0};

double serve_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void serve_count_status(serve_server *s, int status) {
    int i = 0;
    while (i < SERVE_N_STATUS && serve_status_codes[i] != status) i++;
    s->m.requests[i]++;
}

serve_job *serve_job_new(void) {
    serve_job *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    /* timed waits count on the monotonic clock (serve.c's wait_for_audio) */
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) {
        free(j);
        return NULL;
    }
    int bad = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 || pthread_cond_init(&j->cv, &ca) != 0;
    pthread_condattr_destroy(&ca);
    if (bad) {
        free(j);
        return NULL;
    }
    j->refs = 1;
    return j;
}

void serve_job_unref_locked(serve_job *j) {
    if (!j || --j->refs > 0) return;
    pthread_cond_destroy(&j->cv);
    free(j->text);
    free(j->buf);
    free(j);
}

void serve_job_cancel_locked(serve_server *s, serve_job *j) {
    if (j->done || j->cancel) return;
    j->cancel = 1;
    pthread_cond_signal(&s->work_cv);
}

void serve_submit(serve_server *s, serve_job *j) {
    pthread_mutex_lock(&s->mu);
    j->refs++; /* the engine thread's */
    j->next = NULL;
    if (s->incoming_tail) s->incoming_tail->next = j;
    else s->incoming = j;
    s->incoming_tail = j;
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
}

typedef struct sink_ctx {
    serve_server *s;
    serve_job *j;
} sink_ctx;

/* The writer's sink: encoded bytes onto the job's buffer (engine thread). */
static int job_sink(const void *bytes, size_t n, void *user) {
    sink_ctx *c = user;
    serve_server *s = c->s;
    serve_job *j = c->j;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (j->cancel) {
        rc = 1;
    } else {
        if (j->off > 0 && j->off == j->n) j->off = j->n = 0;
        if (j->n + n > j->cap) {
            if (j->off > 0) { /* drop what the connection has read */
                memmove(j->buf, j->buf + j->off, j->n - j->off);
                j->n -= j->off;
                j->off = 0;
            }
            if (j->n + n > j->cap) {
                size_t cap = j->cap ? j->cap : 16384;
                while (cap < j->n + n) cap *= 2;
                unsigned char *b = realloc(j->buf, cap);
                if (!b) {
                    rc = 1;
                    goto out;
                }
                j->buf = b;
                j->cap = cap;
            }
        }
        memcpy(j->buf + j->n, bytes, n);
        if (j->bytes_total == 0) {
            double t = serve_now() - j->t_accept;
            int b = 0;
            while (b < SERVE_TTFA_BUCKETS && t > ttfa_bounds[b]) b++;
            s->m.ttfa_buckets[b]++;
            s->m.ttfa_sum += t;
            s->m.ttfa_count++;
        }
        j->n += n;
        j->bytes_total += n;
        pthread_cond_broadcast(&j->cv);
    }
out:
    pthread_mutex_unlock(&s->mu);
    return rc;
}

typedef struct engine_ctx {
    serve_server *s;
    serve_job *active; /* submitted, not yet taken */
} engine_ctx;

typedef struct audio_ctx {
    sink_ctx sink;
    voxtts_error err;
    int failed;
} audio_ctx;

/* on_audio: encode (engine thread, inside voxtts_engine_step). */
static int job_audio(const float *samples, size_t n, void *user) {
    audio_ctx *a = user;
    if (a->failed) return 1;
    if (voxtts_audio_writer_write(a->sink.j->w, samples, n, &a->err) != VOXTTS_OK) {
        a->failed = 1;
        return 1;
    }
    return 0;
}

/* End a job: done, with an error or not; wake its connection. */
static void job_finish(serve_server *s, serve_job *j, int status, const char *msg) {
    pthread_mutex_lock(&s->mu);
    j->done = 1;
    if (status) {
        j->failed = 1;
        j->http_status = status;
        snprintf(j->errmsg, sizeof j->errmsg, "%s", msg ? msg : "synthesis failed");
        if (j->cancel) s->m.cancelled++;
        else s->m.synth_errors++;
    } else {
        s->m.synth_ok++;
    }
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&s->mu);
}

static int status_of(int code) {
    return code == VOXTTS_E_ARG ? 400 : code == VOXTTS_E_UNSUPPORTED ? 400
                                                                     : 500;
}

/* Per-job state the engine thread keeps beside the job (freed when taken). */
typedef struct job_slot {
    audio_ctx a;
    struct job_slot *next;
} job_slot;

static void submit_one(engine_ctx *ec, serve_job *j, job_slot **slots) {
    serve_server *s = ec->s;
    job_slot *slot = calloc(1, sizeof *slot);
    if (!slot) {
        job_finish(s, j, 500, "out of memory for a request");
        goto drop;
    }
    slot->a.sink.s = s;
    slot->a.sink.j = j;
    voxtts_error werr = {0};
    if (voxtts_audio_writer_open_sink(&j->w, job_sink, &slot->a.sink, "response", j->fmt,
                                   s->sample_rate, NULL, &werr) != VOXTTS_OK) {
        job_finish(s, j, 500, werr.msg);
        free(slot);
        goto drop;
    }
    voxtts_synth_params p;
    voxtts_synth_params_default(&p);
    p.voice = j->voice;
    p.voice_handle = j->voice_handle;
    if (s->o.max_frames > 0) p.max_frames = s->o.max_frames;
    p.on_audio = job_audio;
    p.audio_user = &slot->a;
    voxtts_error err = {0};
    if (voxtts_engine_submit(s->engine, j->text, &p, &j->engine_id, &err) != VOXTTS_OK) {
        voxtts_audio_writer_abort(j->w);
        j->w = NULL;
        job_finish(s, j, status_of(err.code), err.msg);
        free(slot);
        goto drop;
    }
    pthread_mutex_lock(&s->mu);
    j->started = 1;
    pthread_mutex_unlock(&s->mu);
    slot->next = *slots;
    *slots = slot;
    j->active_next = ec->active;
    ec->active = j;
    return;
drop:
    pthread_mutex_lock(&s->mu);
    serve_job_unref_locked(j);
    pthread_mutex_unlock(&s->mu);
}

/* Take finished requests: close their writers (the last bytes) and end them. */
static void take_finished(engine_ctx *ec, job_slot **slots) {
    serve_server *s = ec->s;
    int64_t id;
    while (voxtts_engine_poll(s->engine, &id)) {
        serve_job **pp = &ec->active, *j = NULL;
        while (*pp && (*pp)->engine_id != id) pp = &(*pp)->active_next;
        if (*pp) {
            j = *pp;
            *pp = j->active_next;
        }
        voxtts_audio out;
        memset(&out, 0, sizeof out);
        voxtts_error rerr = {0};
        voxtts_synth_stats st;
        int rc = voxtts_engine_take(s->engine, id, &out, &st, &rerr);
        voxtts_audio_free(&out);
        if (!j) continue;
        j->stats = st;
        job_slot **sp = slots, *slot = NULL;
        while (*sp && (*sp)->a.sink.j != j) sp = &(*sp)->next;
        if (*sp) {
            slot = *sp;
            *sp = slot->next;
        }
        if (rc == VOXTTS_OK) {
            voxtts_error werr = {0};
            int wrc = voxtts_audio_writer_close(j->w, &werr);
            j->w = NULL;
            pthread_mutex_lock(&s->mu);
            j->frames = j->stats.frames;
            j->prompt_tokens = j->stats.prompt_tokens;
            double audio_s = (double)j->stats.frames * s->samples_per_frame / s->sample_rate;
            s->m.audio_s += audio_s;
            if (audio_s > 0) {
                s->m.rtf_sum += (serve_now() - j->t_accept) / audio_s;
                s->m.rtf_count++;
            }
            pthread_mutex_unlock(&s->mu);
            job_finish(s, j, wrc == VOXTTS_OK ? 0 : 500, wrc == VOXTTS_OK ? NULL : werr.msg);
        } else {
            voxtts_audio_writer_abort(j->w);
            j->w = NULL;
            const char *msg = slot && slot->a.failed ? slot->a.err.msg : rerr.msg;
            job_finish(s, j, rc == VOXTTS_E_CANCELLED && !(slot && slot->a.failed)
                                 ? 499
                                 : status_of(rc),
                       msg);
        }
        free(slot);
        pthread_mutex_lock(&s->mu);
        serve_job_unref_locked(j);
        pthread_mutex_unlock(&s->mu);
    }
}

void *serve_engine_main(void *arg) {
    serve_server *s = arg;
    engine_ctx ec = {s, NULL};
    job_slot *slots = NULL;
    double win_t = serve_now();
    int64_t win_frames = 0;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        for (;;) {
            int want_cancel = 0;
            for (serve_job *j = ec.active; j; j = j->active_next)
                if (j->cancel && !j->cancel_sent) want_cancel = 1;
            if (s->incoming || want_cancel || voxtts_engine_pending(s->engine) > 0) break;
            if (s->quit) break;
            pthread_cond_wait(&s->work_cv, &s->mu);
        }
        if (s->quit && !s->incoming && voxtts_engine_pending(s->engine) == 0) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        serve_job *in = s->incoming;
        s->incoming = s->incoming_tail = NULL;
        serve_job *to_cancel[64];
        int n_cancel = 0;
        for (serve_job *j = ec.active; j && n_cancel < 64; j = j->active_next)
            if (j->cancel && !j->cancel_sent) {
                j->cancel_sent = 1;
                to_cancel[n_cancel++] = j;
            }
        pthread_mutex_unlock(&s->mu);

        while (in) {
            serve_job *next = in->next;
            int cancelled;
            pthread_mutex_lock(&s->mu);
            cancelled = in->cancel;
            pthread_mutex_unlock(&s->mu);
            if (cancelled) {
                job_finish(s, in, 499, "cancelled before it started");
                pthread_mutex_lock(&s->mu);
                serve_job_unref_locked(in);
                pthread_mutex_unlock(&s->mu);
            } else {
                submit_one(&ec, in, &slots);
            }
            in = next;
        }
        for (int i = 0; i < n_cancel; i++) {
            voxtts_error err = {0};
            (void)voxtts_engine_cancel(s->engine, to_cancel[i]->engine_id, &err);
        }
        if (voxtts_engine_pending(s->engine) > 0) {
            voxtts_error err = {0};
            if (voxtts_engine_step(s->engine, &err) != VOXTTS_OK) {
                fprintf(stderr, "voxtts serve: engine step failed: %s\n", err.msg);
                pthread_mutex_lock(&s->mu);
                s->engine_failed = 1;
                pthread_mutex_unlock(&s->mu);
                /* end every request: the engine cannot go on */
                for (serve_job *j = ec.active; j; j = j->active_next)
                    (void)voxtts_engine_cancel(s->engine, j->engine_id, &err);
            }
        }
        take_finished(&ec, &slots);
        /* gauges */
        int queued = 0, running = 0;
        for (serve_job *j = ec.active; j; j = j->active_next) {
            int st = voxtts_engine_status(s->engine, j->engine_id);
            queued += st == VOXTTS_REQ_QUEUED;
            running += st == VOXTTS_REQ_RUNNING;
        }
        voxtts_engine_stats st;
        voxtts_engine_get_stats(s->engine, &st);
        double t = serve_now();
        pthread_mutex_lock(&s->mu);
        s->m.queued = queued;
        s->m.running = running;
        s->m.frames = (uint64_t)st.frames;
        s->m.compute_s = st.prefill_s + st.backbone_s + st.acoustic_s + st.codec_s;
        if (t - win_t >= 1.0) {
            s->m.frames_per_s = (double)(st.frames - win_frames) / (t - win_t);
            win_t = t;
            win_frames = st.frames;
        } else if (running == 0 && queued == 0 && t - win_t >= 0.2) {
            s->m.frames_per_s = (double)(st.frames - win_frames) / (t - win_t);
            win_t = t;
            win_frames = st.frames;
        }
        pthread_mutex_unlock(&s->mu);
    }
    while (slots) {
        job_slot *n = slots->next;
        free(slots);
        slots = n;
    }
    return NULL;
}

static int appendf(char **buf, size_t *n, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int appendf(char **buf, size_t *n, size_t *cap, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(*buf + *n, *cap - *n, fmt, ap);
        va_end(ap);
        if (k < 0) return -1;
        if ((size_t)k < *cap - *n) {
            *n += (size_t)k;
            return 0;
        }
        size_t nc = *cap * 2 + (size_t)k;
        char *b = realloc(*buf, nc);
        if (!b) return -1;
        *buf = b;
        *cap = nc;
    }
}

char *serve_metrics_text(const serve_server *s) {
    size_t n = 0, cap = 4096;
    char *b = malloc(cap);
    if (!b) return NULL;
    b[0] = 0;
    const serve_metrics *m = &s->m;
    int bad = 0;
    bad |= appendf(&b, &n, &cap,
                   "# HELP voxtts_http_requests_total HTTP requests answered, by status code.\n"
                   "# TYPE voxtts_http_requests_total counter\n");
    for (int i = 0; i <= SERVE_N_STATUS; i++) {
        if (i < SERVE_N_STATUS)
            bad |= appendf(&b, &n, &cap, "voxtts_http_requests_total{code=\"%d\"} %llu\n",
                           serve_status_codes[i], (unsigned long long)m->requests[i]);
        else
            bad |= appendf(&b, &n, &cap, "voxtts_http_requests_total{code=\"other\"} %llu\n",
                           (unsigned long long)m->requests[i]);
    }
    bad |= appendf(&b, &n, &cap,
                   "# HELP voxtts_synthesis_total Speech requests the engine finished, by outcome.\n"
                   "# TYPE voxtts_synthesis_total counter\n"
                   "voxtts_synthesis_total{outcome=\"ok\"} %llu\n"
                   "voxtts_synthesis_total{outcome=\"error\"} %llu\n"
                   "voxtts_synthesis_total{outcome=\"cancelled\"} %llu\n"
                   "# HELP voxtts_errors_total Speech requests that failed in the engine.\n"
                   "# TYPE voxtts_errors_total counter\n"
                   "voxtts_errors_total %llu\n",
                   (unsigned long long)m->synth_ok, (unsigned long long)m->synth_errors,
                   (unsigned long long)m->cancelled, (unsigned long long)m->synth_errors);
    bad |= appendf(&b, &n, &cap,
                   "# HELP voxtts_queue_depth Requests waiting for a batch slot.\n"
                   "# TYPE voxtts_queue_depth gauge\nvoxtts_queue_depth %d\n"
                   "# HELP voxtts_running Requests being generated.\n"
                   "# TYPE voxtts_running gauge\nvoxtts_running %d\n"
                   "# HELP voxtts_in_flight Requests accepted and not yet answered.\n"
                   "# TYPE voxtts_in_flight gauge\nvoxtts_in_flight %d\n",
                   m->queued, m->running, s->in_flight);
    double fd = (double)s->samples_per_frame / s->sample_rate;
    bad |= appendf(&b, &n, &cap,
                   "# HELP voxtts_frames_total Frames generated (%.0f ms of audio each).\n"
                   "# TYPE voxtts_frames_total counter\nvoxtts_frames_total %llu\n"
                   "# HELP voxtts_frames_per_second Frames generated per second, recent.\n"
                   "# TYPE voxtts_frames_per_second gauge\nvoxtts_frames_per_second %.3f\n"
                   "# HELP voxtts_audio_seconds_total Seconds of audio generated.\n"
                   "# TYPE voxtts_audio_seconds_total counter\nvoxtts_audio_seconds_total %.3f\n"
                   "# HELP voxtts_compute_seconds_total Wall time of the engine's work.\n"
                   "# TYPE voxtts_compute_seconds_total counter\n"
                   "voxtts_compute_seconds_total %.3f\n"
                   "# HELP voxtts_rtf Engine real-time factor: compute time / audio time, "
                   "all requests.\n"
                   "# TYPE voxtts_rtf gauge\nvoxtts_rtf %.4f\n"
                   "# HELP voxtts_request_rtf Per request: wall time from acceptance to the "
                   "end / audio time.\n"
                   "# TYPE voxtts_request_rtf summary\n"
                   "voxtts_request_rtf_sum %.4f\nvoxtts_request_rtf_count %llu\n"
                   "# HELP voxtts_response_bytes_total Audio bytes sent to clients.\n"
                   "# TYPE voxtts_response_bytes_total counter\n"
                   "voxtts_response_bytes_total %llu\n",
                   fd * 1000, (unsigned long long)m->frames, m->frames_per_s, m->audio_s,
                   m->compute_s, m->frames ? m->compute_s / ((double)m->frames * fd) : 0.0,
                   m->rtf_sum, (unsigned long long)m->rtf_count,
                   (unsigned long long)m->bytes_out);
    bad |= appendf(&b, &n, &cap,
                   "# HELP voxtts_ttfa_seconds Time from a request's acceptance to its first "
                   "audio bytes.\n# TYPE voxtts_ttfa_seconds histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < SERVE_TTFA_BUCKETS; i++) {
        cum += m->ttfa_buckets[i];
        bad |= appendf(&b, &n, &cap, "voxtts_ttfa_seconds_bucket{le=\"%g\"} %llu\n",
                       ttfa_bounds[i], (unsigned long long)cum);
    }
    cum += m->ttfa_buckets[SERVE_TTFA_BUCKETS];
    bad |= appendf(&b, &n, &cap,
                   "voxtts_ttfa_seconds_bucket{le=\"+Inf\"} %llu\nvoxtts_ttfa_seconds_sum %.6f\n"
                   "voxtts_ttfa_seconds_count %llu\n",
                   (unsigned long long)cum, m->ttfa_sum, (unsigned long long)m->ttfa_count);
    if (bad) {
        free(b);
        return NULL;
    }
    return b;
}
