/* serve.c — `voxtts serve`: an OpenAI-compatible speech server on libmicrohttpd.
 *
 *   voxtts serve -m MODEL [--host 127.0.0.1] [--port 8000] [--api-key K] ...
 *
 * Endpoints: POST /v1/audio/speech (JSON {model, input, voice, response_format,
 * speed, stream_format}; the encoded audio streamed with chunked transfer as it
 * is generated, or as server-sent events `speech.audio.delta` / `speech.audio.done`
 * with stream_format "sse"), GET /v1/models, GET /v1/audio/voices, GET /health,
 * GET /metrics (Prometheus text).  Errors are JSON in OpenAI's shape
 * {"error":{"message","type","param","code"}}.
 *
 * Threads: libmicrohttpd runs one thread per connection; that thread parses the
 * request, queues a job for the engine thread (serve_engine.c) and waits for
 * the job's first audio bytes (so an error before any audio still gets its own
 * status code, and --timeout a 504), then streams the bytes from its content
 * reader as they come.  The main thread waits for SIGTERM/SIGINT: then new
 * connections are refused, requests in flight are finished, and the process
 * exits 0.  The command uses the public API include/voxtts.h, and for audio
 * encoding the streaming writer of io/audio_file.h (an internal header). */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"
#include "serve_request.h"

/* Per connection: the request body as it arrives, and the job once queued. */
typedef struct conn_ctx {
    char *body;
    size_t n, cap;
    int too_big;
    int replied;
    serve_job *job;
} conn_ctx;

/* Per streaming response: the job, and the bytes of the SSE event being sent. */
typedef struct stream_ctx {
    serve_server *s;
    serve_job *j;
    char *pend;       /* SSE text not yet handed to MHD: pend[poff..pn) */
    size_t pn, poff, pcap;
    int done_sent;
} stream_ctx;

/* ---- replies ----------------------------------------------------------------- */

static enum MHD_Result reply(serve_server *s, struct MHD_Connection *c, int status,
                             const char *ctype, const char *body) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", ctype);
    pthread_mutex_lock(&s->mu);
    serve_count_status(s, status);
    int stopping = s->stopping;
    pthread_mutex_unlock(&s->mu);
    if (stopping) MHD_add_response_header(r, "Connection", "close");
    if (status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result reply_json(serve_server *s, struct MHD_Connection *c, int status,
                                  cJSON *obj) {
    char *txt = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (!txt) return reply(s, c, 500, "application/json",
                           "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
                           "\"param\":null,\"code\":null}}");
    enum MHD_Result rc = reply(s, c, status, "application/json", txt);
    cJSON_free(txt);
    return rc;
}

/* {"error":{"message","type","param","code"}} as OpenAI sends them. */
static enum MHD_Result reply_error(serve_server *s, struct MHD_Connection *c, int status,
                                   const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static enum MHD_Result reply_error(serve_server *s, struct MHD_Connection *c, int status,
                                   const char *param, const char *code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *type = status == 401   ? "authentication_error"
                       : status == 429 ? "rate_limit_error"
                       : status == 404 ? "not_found_error"
                       : status >= 500 ? "server_error"
                                       : "invalid_request_error";
    cJSON *root = cJSON_CreateObject(), *e = cJSON_CreateObject();
    if (!root || !e) {
        cJSON_Delete(root);
        cJSON_Delete(e);
        return reply_json(s, c, 500, NULL);
    }
    cJSON_AddItemToObject(root, "error", e);
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "type", type);
    if (param) cJSON_AddStringToObject(e, "param", param);
    else cJSON_AddNullToObject(e, "param");
    if (code) cJSON_AddStringToObject(e, "code", code);
    else cJSON_AddNullToObject(e, "code");
    return reply_json(s, c, status, root);
}

/* ---- small helpers ------------------------------------------------------------ */

/* Constant-time comparison of the bearer token. */
static int key_ok(const char *want, const char *auth) {
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) return 0;
    const char *got = auth + 7;
    while (*got == ' ') got++;
    size_t lw = strlen(want), lg = strlen(got);
    unsigned char d = lw != lg;
    for (size_t i = 0; i < lg; i++) d |= (unsigned char)(got[i] ^ want[i % (lw ? lw : 1)]);
    return d == 0 && lw > 0;
}

static const char *content_type(voxtts_audio_format f) {
    switch (f) {
    case VOXTTS_AUDIO_MP3: return "audio/mpeg";
    case VOXTTS_AUDIO_OPUS: return "audio/ogg; codecs=opus";
    case VOXTTS_AUDIO_FLAC: return "audio/flac";
    case VOXTTS_AUDIO_WAV: return "audio/wav";
    case VOXTTS_AUDIO_PCM: return "audio/pcm";
    default: return "application/octet-stream";
    }
}

static int find_voice(const serve_server *s, const char *name) {
    for (int i = 0; i < s->n_voices; i++)
        if (strcasecmp(s->voices[i], name) == 0) return i;
    return -1;
}

/* ---- streaming ---------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t base64(const unsigned char *in, size_t n, char *out) {
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    return o;
}

static int pend_reserve(stream_ctx *sc, size_t need) {
    if (need <= sc->pcap) return 0;
    char *p = realloc(sc->pend, need);
    if (!p) return -1;
    sc->pend = p;
    sc->pcap = need;
    return 0;
}

/* Raw bytes of one SSE event at most (base64 grows them by 4/3). */
#define SSE_RAW_MAX 24576

/* Wait (server lock held) for bytes, the end, or the deadline.  0: go on;
 * 1: timed out. */
static int wait_for_audio(serve_server *s, serve_job *j) {
    while (j->off == j->n && !j->done) {
        if (j->deadline > 0) {
            double t = serve_now();
            if (t >= j->deadline) return 1;
            double until = j->deadline;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            double wait = until - t;
            if (wait > 1.0) wait = 1.0;
            ts.tv_sec += (time_t)wait;
            ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&j->cv, &s->mu, &ts);
        } else {
            pthread_cond_wait(&j->cv, &s->mu);
        }
    }
    return 0;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    stream_ctx *sc = cls;
    serve_server *s = sc->s;
    serve_job *j = sc->j;
    (void)pos;
    if (sc->j->sse && sc->poff < sc->pn) {
        size_t k = sc->pn - sc->poff < max ? sc->pn - sc->poff : max;
        memcpy(buf, sc->pend + sc->poff, k);
        sc->poff += k;
        return (ssize_t)k;
    }
    pthread_mutex_lock(&s->mu);
    if ((j->deadline > 0 && serve_now() >= j->deadline && !(j->done && j->off == j->n)) ||
        wait_for_audio(s, j)) {
        serve_job_cancel_locked(s, j);
        pthread_mutex_unlock(&s->mu);
        fprintf(stderr, "voxtts serve: a request timed out while streaming; closed\n");
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    ssize_t ret;
    if (j->off < j->n) {
        size_t avail = j->n - j->off;
        if (!j->sse) {
            size_t k = avail < max ? avail : max;
            memcpy(buf, j->buf + j->off, k);
            j->off += k;
            s->m.bytes_out += k;
            ret = (ssize_t)k;
        } else {
            size_t k = avail < SSE_RAW_MAX ? avail : SSE_RAW_MAX;
            static const char pre[] = "data: {\"type\":\"speech.audio.delta\",\"audio\":\"";
            static const char post[] = "\"}\n\n";
            if (pend_reserve(sc, sizeof pre + sizeof post + (k + 2) / 3 * 4)) {
                pthread_mutex_unlock(&s->mu);
                return MHD_CONTENT_READER_END_WITH_ERROR;
            }
            size_t o = 0;
            memcpy(sc->pend, pre, sizeof pre - 1);
            o += sizeof pre - 1;
            o += base64(j->buf + j->off, k, sc->pend + o);
            memcpy(sc->pend + o, post, sizeof post - 1);
            o += sizeof post - 1;
            j->off += k;
            s->m.bytes_out += k;
            sc->pn = o;
            sc->poff = 0;
            ret = 0;
        }
    } else if (j->failed) {
        /* an error after the status line went out: end the stream (SSE: an error event) */
        if (j->sse && !sc->done_sent) {
            cJSON *ev = cJSON_CreateObject(), *e = cJSON_CreateObject();
            char *txt = NULL;
            if (ev && e) {
                cJSON_AddStringToObject(ev, "type", "error");
                cJSON_AddItemToObject(ev, "error", e);
                e = NULL;
                cJSON *err = cJSON_GetObjectItem(ev, "error");
                cJSON_AddStringToObject(err, "message", j->errmsg);
                cJSON_AddStringToObject(err, "type", "server_error");
                txt = cJSON_PrintUnformatted(ev);
            }
            cJSON_Delete(ev);
            cJSON_Delete(e);
            sc->done_sent = 1;
            if (txt && !pend_reserve(sc, strlen(txt) + 16)) {
                sc->pn = (size_t)snprintf(sc->pend, sc->pcap, "data: %s\n\n", txt);
                sc->poff = 0;
                ret = 0;
            } else {
                ret = MHD_CONTENT_READER_END_WITH_ERROR;
            }
            cJSON_free(txt);
        } else {
            ret = MHD_CONTENT_READER_END_WITH_ERROR;
        }
    } else if (j->sse && !sc->done_sent) {
        int in_tok = j->prompt_tokens, out_tok = j->frames;
        if (pend_reserve(sc, 256)) {
            pthread_mutex_unlock(&s->mu);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        sc->pn = (size_t)snprintf(sc->pend, sc->pcap,
                                  "data: {\"type\":\"speech.audio.done\",\"usage\":{\"input_tokens\":"
                                  "%d,\"output_tokens\":%d,\"total_tokens\":%d}}\n\n",
                                  in_tok, out_tok, in_tok + out_tok);
        sc->poff = 0;
        sc->done_sent = 1;
        ret = 0;
    } else {
        ret = MHD_CONTENT_READER_END_OF_STREAM;
    }
    pthread_mutex_unlock(&s->mu);
    if (ret == 0 && sc->poff < sc->pn) { /* hand out the event just built */
        size_t k = sc->pn - sc->poff < max ? sc->pn - sc->poff : max;
        memcpy(buf, sc->pend + sc->poff, k);
        sc->poff += k;
        ret = (ssize_t)k;
    }
    return ret;
}

static void stream_free(void *cls) {
    stream_ctx *sc = cls;
    pthread_mutex_lock(&sc->s->mu);
    serve_job_cancel_locked(sc->s, sc->j); /* a no-op once done */
    serve_job_unref_locked(sc->j);
    pthread_mutex_unlock(&sc->s->mu);
    free(sc->pend);
    free(sc);
}

/* ---- endpoints ---------------------------------------------------------------- */

static enum MHD_Result speech(serve_server *s, struct MHD_Connection *c, conn_ctx *cc) {
    if (cc->too_big)
        return reply_error(s, c, 413, NULL, "request_too_large",
                           "request body larger than %zu bytes (--max-body)", s->o.max_body);
    serve_request rq;
    serve_reject rej;
    if (serve_request_parse(cc->body, cc->n, (const char *const *)s->voices, s->n_voices, s->o.max_input,
                            &rq, &rej))
        return reply_error(s, c, rej.status, rej.param, rej.code, "%s", rej.msg);
    enum MHD_Result rc;
    const char *vname = s->voices[rq.voice];
    const voxtts_audio_format fmt = rq.fmt;
    const int sse = rq.sse;

    /* admission */
    pthread_mutex_lock(&s->mu);
    int stopping = s->stopping, engine_failed = s->engine_failed;
    int full = s->in_flight >= s->o.batch + s->o.max_queue;
    if (!stopping && !engine_failed && !full) s->in_flight++; /* taken now: no race past the limit */
    pthread_mutex_unlock(&s->mu);
    if (stopping || engine_failed) {
        rc = reply_error(s, c, 503, NULL, "unavailable",
                         stopping ? "the server is shutting down" : "the engine failed");
        goto out;
    }
    if (full) {
        rc = reply_error(s, c, 429, NULL, "queue_full",
                         "too many requests in flight (%d running + %d queued, --batch and "
                         "--max-queue); retry later",
                         s->o.batch, s->o.max_queue);
        goto out;
    }
    serve_job *j = serve_job_new();
    if (!j || !(j->text = strdup(rq.input))) {
        pthread_mutex_lock(&s->mu);
        if (j) serve_job_unref_locked(j);
        s->in_flight--;
        pthread_cond_broadcast(&s->drain_cv);
        pthread_mutex_unlock(&s->mu);
        rc = reply_error(s, c, 500, NULL, NULL, "out of memory");
        goto out;
    }
    snprintf(j->voice, sizeof j->voice, "%s", vname);
    j->voice_handle = s->handles[rq.voice];
    j->fmt = fmt;
    j->sse = sse;
    j->t_accept = serve_now();
    j->deadline = s->o.timeout > 0 ? j->t_accept + s->o.timeout : 0;
    cc->job = j; /* the connection's reference; released when it completes */
    serve_submit(s, j);

    /* wait for the first bytes (or an error, or the deadline) before the status line */
    pthread_mutex_lock(&s->mu);
    int timed_out = wait_for_audio(s, j);
    if (timed_out) serve_job_cancel_locked(s, j);
    int failed = j->failed && j->off == j->n;
    int status = j->http_status;
    char msg[sizeof j->errmsg];
    memcpy(msg, j->errmsg, sizeof msg);
    pthread_mutex_unlock(&s->mu);
    if (timed_out) {
        rc = reply_error(s, c, 504, NULL, "timeout",
                         "no audio within %g s (--timeout); the request was cancelled",
                         s->o.timeout);
        goto out;
    }
    if (failed) {
        rc = reply_error(s, c, status ? status : 500, status == 400 ? "input" : NULL,
                         status == 400 ? "invalid_input" : "synthesis_failed", "%s", msg);
        goto out;
    }
    stream_ctx *sc = calloc(1, sizeof *sc);
    if (!sc) {
        rc = reply_error(s, c, 500, NULL, NULL, "out of memory");
        goto out;
    }
    sc->s = s;
    sc->j = j;
    pthread_mutex_lock(&s->mu);
    j->refs++; /* the response's */
    pthread_mutex_unlock(&s->mu);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32768, stream_reader, sc, stream_free);
    if (!r) {
        stream_free(sc);
        rc = reply_error(s, c, 500, NULL, NULL, "out of memory");
        goto out;
    }
    MHD_add_response_header(r, "Content-Type", sse ? "text/event-stream" : content_type(fmt));
    if (sse) MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    pthread_mutex_lock(&s->mu);
    serve_count_status(s, 200);
    pthread_mutex_unlock(&s->mu);
    rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
out:
    serve_request_free(&rq);
    return rc;
}

static enum MHD_Result get_models(serve_server *s, struct MHD_Connection *c) {
    cJSON *root = cJSON_CreateObject(), *data = cJSON_CreateArray(), *m = cJSON_CreateObject();
    if (!root || !data || !m) {
        cJSON_Delete(root);
        cJSON_Delete(data);
        cJSON_Delete(m);
        return reply_json(s, c, 500, NULL);
    }
    cJSON_AddStringToObject(root, "object", "list");
    cJSON_AddItemToObject(root, "data", data);
    cJSON_AddItemToArray(data, m);
    cJSON_AddStringToObject(m, "id", SERVE_MODEL_ID);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", 0);
    cJSON_AddStringToObject(m, "owned_by", "voxtts");
    return reply_json(s, c, 200, root);
}

static enum MHD_Result get_voices(serve_server *s, struct MHD_Connection *c) {
    cJSON *root = cJSON_CreateObject(), *v = cJSON_CreateArray();
    if (!root || !v) {
        cJSON_Delete(root);
        cJSON_Delete(v);
        return reply_json(s, c, 500, NULL);
    }
    cJSON_AddItemToObject(root, "voices", v);
    for (int i = 0; i < s->n_voices; i++) cJSON_AddItemToArray(v, cJSON_CreateString(s->voices[i]));
    return reply_json(s, c, 200, root);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    serve_server *s = cls;
    conn_ctx *cc = *con_cls;
    (void)version;
    int is_speech = strcmp(url, "/v1/audio/speech") == 0;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        if (!cc) return MHD_NO;
        *con_cls = cc;
        /* checks that need no body: answered before it is read */
        int v1 = strncmp(url, "/v1/", 4) == 0;
        if (v1 && s->o.api_key) {
            const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
            if (!key_ok(s->o.api_key, auth)) {
                cc->replied = 1;
                return reply_error(s, c, 401, NULL, "invalid_api_key",
                                   auth ? "incorrect API key provided"
                                        : "missing API key: send 'Authorization: Bearer KEY'");
            }
        }
        if (is_speech && strcmp(method, "POST") == 0) {
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
            if (cl) {
                char *end;
                errno = 0;
                unsigned long long v = strtoull(cl, &end, 10);
                if (errno || *end || v > s->o.max_body) {
                    cc->replied = 1;
                    return reply_error(s, c, 413, NULL, "request_too_large",
                                       "request body larger than %zu bytes (--max-body)",
                                       s->o.max_body);
                }
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t k = *upload_data_size;
        *upload_data_size = 0;
        if (cc->replied || cc->too_big) return MHD_YES;
        if (cc->n + k > s->o.max_body) {
            cc->too_big = 1;
            return MHD_YES;
        }
        if (cc->n + k + 1 > cc->cap) {
            size_t cap = cc->cap ? cc->cap : 1024;
            while (cap < cc->n + k + 1) cap *= 2;
            char *b = realloc(cc->body, cap);
            if (!b) return MHD_NO;
            cc->body = b;
            cc->cap = cap;
        }
        memcpy(cc->body + cc->n, upload_data, k);
        cc->n += k;
        cc->body[cc->n] = 0;
        return MHD_YES;
    }
    if (cc->replied) return MHD_YES;
    cc->replied = 1;
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (is_speech) {
        if (strcmp(method, "POST") != 0)
            return reply_error(s, c, 405, NULL, "method_not_allowed", "use POST on %s", url);
        return speech(s, c, cc);
    }
    int known = strcmp(url, "/v1/models") == 0 || strcmp(url, "/v1/audio/voices") == 0 ||
                strcmp(url, "/health") == 0 || strcmp(url, "/metrics") == 0;
    if (!known) return reply_error(s, c, 404, NULL, "not_found", "no such endpoint: %s", url);
    if (!get) return reply_error(s, c, 405, NULL, "method_not_allowed", "use GET on %s", url);
    if (strcmp(url, "/v1/models") == 0) return get_models(s, c);
    if (strcmp(url, "/v1/audio/voices") == 0) return get_voices(s, c);
    if (strcmp(url, "/health") == 0) {
        pthread_mutex_lock(&s->mu);
        int stopping = s->stopping, failed = s->engine_failed;
        pthread_mutex_unlock(&s->mu);
        if (stopping || failed)
            return reply(s, c, 503, "application/json",
                         failed ? "{\"status\":\"engine failed\"}" : "{\"status\":\"draining\"}");
        return reply(s, c, 200, "application/json", "{\"status\":\"ok\"}");
    }
    pthread_mutex_lock(&s->mu);
    char *txt = serve_metrics_text(s);
    pthread_mutex_unlock(&s->mu);
    if (!txt) return reply_error(s, c, 500, NULL, NULL, "out of memory");
    enum MHD_Result rc = reply(s, c, 200, "text/plain; version=0.0.4", txt);
    free(txt);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    serve_server *s = cls;
    conn_ctx *cc = *con_cls;
    (void)c;
    (void)toe;
    if (!cc) return;
    if (cc->job) {
        pthread_mutex_lock(&s->mu);
        serve_job_cancel_locked(s, cc->job);
        serve_job_unref_locked(cc->job);
        s->in_flight--;
        pthread_cond_broadcast(&s->drain_cv);
        pthread_mutex_unlock(&s->mu);
    }
    free(cc->body);
    free(cc);
    *con_cls = NULL;
}

/* Each connection's kernel send buffer is bounded (SO_SNDBUF; Linux doubles it):
 * the audio of a client that reads slowly then waits in the job's buffer,
 * where the per-request timeout and cancellation see it, instead of vanishing
 * into megabytes of autotuned socket buffer.  128 KiB is 2.7 s of 24 kHz WAV,
 * plenty for a link's bandwidth-delay product at audio rates. */
#define SERVE_SNDBUF (64 * 1024)

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    (void)cls;
    (void)socket_context;
    if (toe != MHD_CONNECTION_NOTIFY_STARTED) return;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    int sz = SERVE_SNDBUF;
    if (ci) (void)setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
}

/* ---- command ------------------------------------------------------------------ */

static void usage(FILE *f) {
    fprintf(f,
            "usage: voxtts serve [options]\n"
            "\n"
            "An OpenAI-compatible speech server: POST /v1/audio/speech, GET /v1/models,\n"
            "GET /v1/audio/voices, GET /health, GET /metrics (Prometheus).\n"
            "\n"
            "options:\n"
            "  -m, --model DIR       model directory or .gguf file (default: $VOXTTS_MODEL or %s)\n"
            "      --host ADDR       address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)\n"
            "      --port N          TCP port (default 8000)\n"
            "      --api-key KEY     require 'Authorization: Bearer KEY' on /v1/ (default:\n"
            "                        $VOXTTS_API_KEY; none: no key)\n"
            "      --max-body BYTES  largest request body (default 65536; larger: 413)\n"
            "      --max-input N     most characters of 'input' (default 4096; more: 400)\n"
            "      --batch B         requests generated together (default 4)\n"
            "      --max-queue N     requests waiting beyond the batch (default 16; more: 429)\n"
            "      --timeout S       seconds a request may take (default 300; 0: none): before\n"
            "                        the first audio a 504, later the stream is cut\n"
            "      --max-frames N    frames per request at most (80 ms each; default 2048)\n"
            "      --voices-dir DIR  voices of one's own to serve besides the presets (NAME.voxv; default\n"
            "                        $XDG_DATA_HOME/voxtts/voices), loaded at start\n"
            "  -t, --threads N       worker threads (default: all cores)\n"
            "  -q, --quiet           no log lines\n"
            "  -h, --help            this help\n",
            VOX_DEFAULT_MODEL_DIR);
}

enum { O_HOST = 2000, O_PORT, O_KEY, O_MAXBODY, O_MAXINPUT, O_MAXQUEUE, O_TIMEOUT, O_BATCH,
       O_MAXFRAMES, O_VOICES_DIR };

static int parse_opts(int argc, char **argv, serve_opts *o) {
    static const struct option lo[] = {
        {"model", required_argument, 0, 'm'},      {"threads", required_argument, 0, 't'},
        {"host", required_argument, 0, O_HOST},    {"port", required_argument, 0, O_PORT},
        {"api-key", required_argument, 0, O_KEY},  {"max-body", required_argument, 0, O_MAXBODY},
        {"max-input", required_argument, 0, O_MAXINPUT},
        {"max-queue", required_argument, 0, O_MAXQUEUE},
        {"timeout", required_argument, 0, O_TIMEOUT},
        {"batch", required_argument, 0, O_BATCH},  {"max-frames", required_argument, 0, O_MAXFRAMES},
        {"voices-dir", required_argument, 0, O_VOICES_DIR},
        {"quiet", no_argument, 0, 'q'},            {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int ch;
    long v;
    float fv;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "m:t:qh", lo, NULL)) != -1) {
        switch (ch) {
        case 'm': o->model = optarg; break;
        case 't':
            if (cli_parse_int("--threads", optarg, 0, 1024, &v)) return 2;
            o->threads = (int)v;
            break;
        case O_HOST: o->host = optarg; break;
        case O_PORT:
            if (cli_parse_int("--port", optarg, 0, 65535, &v)) return 2;
            o->port = (int)v;
            break;
        case O_KEY: o->api_key = optarg; break;
        case O_MAXBODY:
            if (cli_parse_int("--max-body", optarg, 64, 1L << 30, &v)) return 2;
            o->max_body = (size_t)v;
            break;
        case O_MAXINPUT:
            if (cli_parse_int("--max-input", optarg, 1, 1L << 24, &v)) return 2;
            o->max_input = (size_t)v;
            break;
        case O_MAXQUEUE:
            if (cli_parse_int("--max-queue", optarg, 0, 100000, &v)) return 2;
            o->max_queue = (int)v;
            break;
        case O_TIMEOUT:
            if (cli_parse_float("--timeout", optarg, &fv)) return 2;
            if (!(fv >= 0 && fv <= 1e6)) {
                fprintf(stderr, "voxtts: invalid value '%s' for --timeout (0..1e6 seconds)\n",
                        optarg);
                return 2;
            }
            o->timeout = fv;
            break;
        case O_BATCH:
            if (cli_parse_int("--batch", optarg, 1, 256, &v)) return 2;
            o->batch = (int)v;
            break;
        case O_MAXFRAMES:
            if (cli_parse_int("--max-frames", optarg, 1, 1L << 20, &v)) return 2;
            o->max_frames = (int)v;
            break;
        case O_VOICES_DIR: o->voices_dir = optarg; break;
        case 'q': o->quiet = 1; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "voxtts serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return 0;
}

static void free_server(serve_server *s) {
    if (s->engine) voxtts_engine_free(s->engine);
    if (s->model) voxtts_model_free(s->model);
    for (int i = 0; i < s->n_voices; i++) {
        free(s->voices[i]);
        if (s->handles) voxtts_voice_free(s->handles[i]);
    }
    free(s->voices);
    free(s->handles);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work_cv);
    pthread_cond_destroy(&s->drain_cv);
}

int cli_serve_main(int argc, char **argv) {
    serve_server srv;
    memset(&srv, 0, sizeof srv);
    serve_server *s = &srv;
    s->o.host = "127.0.0.1";
    s->o.port = 8000;
    s->o.max_body = 65536;
    s->o.max_input = 4096;
    s->o.max_queue = 16;
    s->o.timeout = 300;
    s->o.batch = 4;
    s->o.model = cli_default_model_dir();
    s->o.api_key = getenv("VOXTTS_API_KEY");
    int prc = parse_opts(argc, argv, &s->o);
    if (prc) return prc == 1 ? 0 : 2;
    if (s->o.api_key && !*s->o.api_key) s->o.api_key = NULL;

    /* the listening address, checked before the model is loaded */
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", s->o.port);
    int gai = getaddrinfo(s->o.host, port, &hints, &ai);
    if (gai != 0 || !ai) {
        fprintf(stderr, "voxtts serve: --host '%s': %s\n", s->o.host, gai_strerror(gai));
        return 1;
    }

    if (pthread_mutex_init(&s->mu, NULL) || pthread_cond_init(&s->work_cv, NULL) ||
        pthread_cond_init(&s->drain_cv, NULL)) {
        fprintf(stderr, "voxtts serve: cannot create locks\n");
        freeaddrinfo(ai);
        return 1;
    }
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = s->o.threads;
    voxtts_error err = {0};
    if (voxtts_model_load(s->o.model, &lp, &s->model, &err) != VOXTTS_OK) {
        cli_print_error("cannot load the model", &err);
        freeaddrinfo(ai);
        free_server(s);
        return 1;
    }
    s->sample_rate = voxtts_model_sample_rate(s->model);
    s->samples_per_frame = voxtts_model_samples_per_frame(s->model);
    int nv = voxtts_model_n_voices(s->model);
    /* the presets, then every voice of one's own in the voices directory
     * (loaded once, checked against the model; presets win on a name clash) */
    char *vdir = cli_voices_dir(s->o.voices_dir);
    DIR *dir = vdir ? opendir(vdir) : NULL;
    int n_own_max = 0;
    for (struct dirent *de; dir && (de = readdir(dir));) n_own_max++;
    if (dir) rewinddir(dir);
    s->voices = calloc((size_t)(nv + n_own_max + 1), sizeof *s->voices);
    s->handles = calloc((size_t)(nv + n_own_max + 1), sizeof *s->handles);
    if (!s->voices || !s->handles) {
        fprintf(stderr, "voxtts serve: out of memory\n");
        freeaddrinfo(ai);
        free_server(s);
        return 1;
    }
    for (int i = 0; i < nv; i++) {
        if (!(s->voices[i] = strdup(voxtts_model_voice_name(s->model, i)))) {
            fprintf(stderr, "voxtts serve: out of memory\n");
            freeaddrinfo(ai);
            free_server(s);
            return 1;
        }
        s->n_voices = i + 1;
    }
    for (struct dirent *de; dir && (de = readdir(dir)) && s->n_voices < nv + n_own_max;) {
        size_t len = strlen(de->d_name);
        if (len < 6 || de->d_name[0] == '.' || strcmp(de->d_name + len - 5, ".voxv") != 0) continue;
        char name[256], path[4096];
        snprintf(name, sizeof name, "%.*s", (int)(len - 5), de->d_name);
        snprintf(path, sizeof path, "%s/%s", vdir, de->d_name);
        if (find_voice(s, name) >= 0) continue; /* a preset's name: the preset wins */
        voxtts_voice *v = NULL;
        voxtts_error verr = {0};
        if (voxtts_voice_load(s->model, path, &v, &verr) != VOXTTS_OK) {
            if (!s->o.quiet) fprintf(stderr, "voxtts serve: skipping voice %s: %s\n", path, verr.msg);
            continue;
        }
        if (!(s->voices[s->n_voices] = strdup(name))) {
            voxtts_voice_free(v);
            break;
        }
        s->handles[s->n_voices++] = v;
    }
    if (dir) closedir(dir);
    free(vdir);
    if (voxtts_engine_create(s->model, s->o.batch, &s->engine, &err) != VOXTTS_OK) {
        cli_print_error("cannot create the engine", &err);
        freeaddrinfo(ai);
        free_server(s);
        return 1;
    }

    /* SIGINT/SIGTERM go to the main thread's sigwait; every other thread blocks them */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (pthread_create(&s->engine_thread, NULL, serve_engine_main, s) != 0) {
        fprintf(stderr, "voxtts serve: cannot start the engine thread\n");
        freeaddrinfo(ai);
        free_server(s);
        return 1;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    unsigned conn_timeout = (unsigned)(s->o.timeout > 0 ? s->o.timeout + 30 : 3600);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)s->o.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        s, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(4 * (s->o.batch + s->o.max_queue) + 64), MHD_OPTION_CONNECTION_TIMEOUT,
        conn_timeout, MHD_OPTION_END);
    int rc = 0;
    if (!d) {
        fprintf(stderr, "voxtts serve: cannot listen on %s port %d: %s\n", s->o.host, s->o.port,
                strerror(errno));
        rc = 1;
    } else {
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        if (!s->o.quiet)
            fprintf(stderr,
                    "voxtts serve: %s on http://%s%s%s:%u (model %s, %d voices, batch %d, "
                    "queue %d%s)\n",
                    SERVE_MODEL_ID, ai->ai_family == AF_INET6 ? "[" : "", s->o.host,
                    ai->ai_family == AF_INET6 ? "]" : "", di ? di->port : (unsigned)s->o.port,
                    s->o.model, s->n_voices, s->o.batch, s->o.max_queue,
                    s->o.api_key ? ", API key required" : "");
        int sig = 0;
        sigwait(&stop, &sig);
        pthread_mutex_lock(&s->mu);
        s->stopping = 1;
        int n_in_flight = s->in_flight;
        pthread_mutex_unlock(&s->mu);
        if (!s->o.quiet)
            fprintf(stderr, "voxtts serve: %s: no new requests, finishing %d in flight\n",
                    sig == SIGTERM ? "SIGTERM" : "SIGINT", n_in_flight);
        MHD_socket lfd = MHD_quiesce_daemon(d);
        if (lfd != MHD_INVALID_SOCKET) close(lfd);
        pthread_mutex_lock(&s->mu);
        while (s->in_flight > 0) pthread_cond_wait(&s->drain_cv, &s->mu);
        pthread_mutex_unlock(&s->mu);
        MHD_stop_daemon(d);
        if (!s->o.quiet) fprintf(stderr, "voxtts serve: drained, exiting\n");
    }
    freeaddrinfo(ai);
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_signal(&s->work_cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->engine_thread, NULL);
    free_server(s);
    return rc;
}
