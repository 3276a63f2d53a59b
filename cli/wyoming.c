/* wyoming.c — `voxtts wyoming`: a Wyoming protocol text-to-speech server, the
 * protocol Home Assistant speaks to its voice services.
 *
 *   voxtts wyoming -m MODEL --uri tcp://0.0.0.0:10200
 *
 * A thin client of include/voxtts.h over plain POSIX sockets.  Threads:
 *  - main: accepts connections (poll() on the listening socket and a wake-up
 *    pipe), starts one thread per connection up to --max-clients (one more
 *    is told "busy" and closed), and on SIGTERM/SIGINT drains and exits 0;
 *  - one signal thread (sigwait) turns a signal into a byte on that pipe;
 *  - one connection thread per client: reads events (wyoming_event.h), answers
 *    describe with info, hands each sentence to synthesize to the worker, and
 *    sends the audio-chunk events the worker queues for it as they come;
 *  - one worker that owns the model: it synthesizes the queued sentences one
 *    at a time, in arrival order (so clients interleave sentence by sentence),
 *    and queues each one's audio for its client from the on_audio callback
 *    while it is generated.  It never writes to a socket, so a client that
 *    reads slowly holds up nobody else.
 * Events served: describe -> info; synthesize {text, voice} -> audio-start,
 * audio-chunk..., audio-stop; the streaming synthesize-start {voice},
 * synthesize-chunk {text}..., synthesize-stop -> for each complete sentence as
 * soon as its text has arrived: audio-start, audio-chunk..., audio-stop; and at
 * the end synthesize-stopped.  A synthesize sent inside a stream (Home Assistant
 * sends the whole text again for older servers) is ignored.  Unknown events
 * are ignored; malformed input gets an error event and the connection closed.
 * A client that accepts no bytes for --write-timeout seconds while audio is
 * waiting, or lets 16 MiB of audio pile up, is dropped (its synthesis cancelled).  On SIGTERM the server
 * stops accepting, lets every request in progress finish (an open stream until
 * synthesize-stop), closes idle connections, and exits 0; what is still running
 * after --drain-timeout seconds is cancelled.  Audio: 16-bit little-endian mono
 * at the model's rate (24000 Hz). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "wyoming_event.h"

#define WY_MAX_PIECE 1000 /* bytes: longer text without a sentence end is cut at a space */

typedef struct server server;

typedef struct conn {
    server *srv;
    int slot;      /* index in server.conns */
    unsigned id;   /* connection number, for the log */
    int fd;        /* -1 once closed; guarded by server.mu */
    pthread_t thread;
    int used;      /* slot taken (thread started, not yet joined); guarded by server.mu */
    int finished;  /* thread returned; guarded by server.mu */
    atomic_int write_failed; /* the peer stopped reading or went away: stop writing */
    char peer[80];
    /* Audio made by the worker, waiting to be sent by the connection thread:
     * the worker never blocks on a client's socket, so a slow reader delays
     * nobody else.  Guarded by qmu; the worker says "more" on wake[1]. */
    pthread_mutex_t qmu;
    uint8_t *q;
    size_t q_len, q_off, q_cap;
    int wake[2];
} conn;

#define WY_MAX_PENDING ((size_t)16 << 20) /* unsent audio per client: 16 MiB, about 350 s */

/* One sentence for the worker.  Lives on the connection thread's stack while
 * that thread waits for `done`. */
typedef struct job {
    conn *c;
    const char *text;
    const char *voice;
    int rc;
    voxtts_error err;
    double audio_s, wall_s;
    int done; /* guarded by server.mu */
    struct job *next;
} job;

struct server {
    voxtts_model *model;
    int sample_rate;
    int default_voice;
    int max_frames;
    unsigned long long seed;
    size_t samples_per_chunk;
    int write_timeout_s;
    int quiet;
    wy_limits limits;
    cJSON *info;        /* the info event's data, built once */
    cJSON *audio_fmt;   /* {rate, width, channels}, shared read-only */

    pthread_mutex_t mu;
    pthread_cond_t job_cv;  /* worker: a job was queued, or exit */
    pthread_cond_t done_cv; /* a job finished, or a connection ended */
    job *head, *tail;
    int worker_exit;
    int stopping;           /* SIGTERM seen: drain */
    atomic_int abort_all;   /* cancel every synthesis (drain timed out) */
    int wake[2];            /* written once on stop; never drained (level-triggered broadcast) */
    conn *conns;
    int max_clients;
    int n_active;
    unsigned next_id;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void logf_(const server *s, int always, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(const server *s, int always, const char *fmt, ...) {
    if (s->quiet && !always) return;
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "voxtts wyoming: %s\n", line);
}

/* ---- writing events ------------------------------------------------------ */

static int send_all(int fd, const uint8_t *p, size_t n) {
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1; /* EAGAIN here means SO_SNDTIMEO expired */
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Send one event; after a failed write nothing more is sent on this connection. */
static int conn_send(conn *c, const char *type, const cJSON *data, const void *payload, size_t payload_len) {
    if (atomic_load(&c->write_failed)) return -1;
    uint8_t *bytes;
    size_t n;
    if (wy_event_serialize(type, data, payload, payload_len, &bytes, &n) != WY_OK) {
        logf_(c->srv, 1, "client %u: out of memory writing a '%s' event", c->id, type);
        atomic_store(&c->write_failed, 1);
        return -1;
    }
    int rc = send_all(c->fd, bytes, n);
    free(bytes);
    if (rc) {
        logf_(c->srv, 0, "client %u: cannot send '%s' (%s): dropping the connection", c->id, type,
              errno == EAGAIN || errno == EWOULDBLOCK ? "the client stopped reading" : strerror(errno));
        atomic_store(&c->write_failed, 1);
    }
    return rc;
}

static void conn_send_error(conn *c, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void conn_send_error(conn *c, const char *code, const char *fmt, ...) {
    char text[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    logf_(c->srv, 1, "client %u: error: %s", c->id, text);
    cJSON *d = cJSON_CreateObject();
    if (d && cJSON_AddStringToObject(d, "text", text) && cJSON_AddStringToObject(d, "code", code))
        conn_send(c, "error", d, NULL, 0);
    cJSON_Delete(d);
}

/* ---- the worker ---------------------------------------------------------- */

/* Append one event to the connection's send queue (worker thread). */
static int queue_event(conn *c, const char *type, const cJSON *data, const void *payload, size_t payload_len) {
    uint8_t *bytes;
    size_t n;
    if (atomic_load(&c->write_failed)) return -1;
    if (wy_event_serialize(type, data, payload, payload_len, &bytes, &n) != WY_OK) {
        logf_(c->srv, 1, "client %u: out of memory writing a '%s' event", c->id, type);
        atomic_store(&c->write_failed, 1);
        return -1;
    }
    int rc = 0;
    pthread_mutex_lock(&c->qmu);
    size_t pending = c->q_len - c->q_off;
    if (pending + n > WY_MAX_PENDING) {
        logf_(c->srv, 1, "client %u: more than %zu bytes of audio unread: dropping the connection", c->id,
              WY_MAX_PENDING);
        atomic_store(&c->write_failed, 1);
        rc = -1;
    } else {
        if (c->q_off) { /* the sent part goes */
            memmove(c->q, c->q + c->q_off, pending);
            c->q_len = pending;
            c->q_off = 0;
        }
        if (c->q_len + n > c->q_cap) {
            size_t cap = c->q_cap ? c->q_cap : 65536;
            while (cap < c->q_len + n) cap *= 2;
            uint8_t *nq = realloc(c->q, cap);
            if (!nq) {
                logf_(c->srv, 1, "client %u: out of memory for %zu bytes of audio", c->id, cap);
                atomic_store(&c->write_failed, 1);
                rc = -1;
            } else {
                c->q = nq;
                c->q_cap = cap;
            }
        }
        if (rc == 0) {
            memcpy(c->q + c->q_len, bytes, n);
            c->q_len += n;
        }
    }
    pthread_mutex_unlock(&c->qmu);
    free(bytes);
    if (rc == 0) {
        ssize_t w = write(c->wake[1], "a", 1); /* full pipe: a wake-up is pending anyway */
        (void)w;
    }
    return rc;
}

typedef struct audio_sink {
    job *j;
    size_t samples;
    uint8_t *pcm; /* samples_per_chunk * 2 bytes */
} audio_sink;

static int on_audio(const float *x, size_t n, void *user) {
    audio_sink *a = user;
    conn *c = a->j->c;
    server *s = c->srv;
    if (atomic_load(&s->abort_all) || atomic_load(&c->write_failed)) return 1;
    while (n) {
        size_t k = n < s->samples_per_chunk ? n : s->samples_per_chunk;
        for (size_t i = 0; i < k; i++) {
            /* as `voxtts -o x.pcm` writes it: NaN silent, clamped to [-1, 1], rounded */
            float v = x[i] == x[i] ? x[i] : 0.0f;
            v = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
            long q = lroundf(v * 32767.0f);
            a->pcm[2 * i] = (uint8_t)(q & 0xff);
            a->pcm[2 * i + 1] = (uint8_t)((q >> 8) & 0xff);
        }
        if (queue_event(c, "audio-chunk", s->audio_fmt, a->pcm, 2 * k)) return 1; /* cancels */
        a->samples += k;
        x += k;
        n -= k;
    }
    return 0;
}

static int on_progress(int done, int max_frames, void *user) {
    const job *j = user;
    (void)done;
    (void)max_frames;
    return atomic_load(&j->c->srv->abort_all) || atomic_load(&j->c->write_failed);
}

static void run_job(server *s, job *j, uint8_t *pcm) {
    audio_sink a = {j, 0, pcm};
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    sp.voice = j->voice;
    sp.seed = s->seed;
    sp.max_frames = s->max_frames;
    sp.on_audio = on_audio;
    sp.audio_user = &a;
    sp.progress = on_progress;
    sp.progress_user = j;
    voxtts_audio audio = {0};
    double t0 = now_s();
    j->rc = voxtts_synthesize(s->model, j->text, &sp, &audio, NULL, &j->err);
    j->wall_s = now_s() - t0;
    j->audio_s = (double)a.samples / s->sample_rate;
    voxtts_audio_free(&audio);
}

static void *worker_main(void *arg) {
    server *s = arg;
    uint8_t *pcm = malloc(s->samples_per_chunk * 2);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->worker_exit) pthread_cond_wait(&s->job_cv, &s->mu);
        if (!s->head) break;
        job *j = s->head;
        s->head = j->next;
        if (!s->head) s->tail = NULL;
        pthread_mutex_unlock(&s->mu);
        if (pcm) {
            run_job(s, j, pcm);
        } else {
            j->rc = VOXTTS_E_NOMEM;
            snprintf(j->err.msg, sizeof j->err.msg, "out of memory for the audio buffer");
        }
        pthread_mutex_lock(&s->mu);
        j->done = 1;
        ssize_t w = write(j->c->wake[1], "d", 1);
        (void)w;
    }
    pthread_mutex_unlock(&s->mu);
    free(pcm);
    return NULL;
}

/* Queue one sentence and wait until the worker has synthesized it (its audio
 * is sent meanwhile).  Returns 0, or -1 if the connection is unusable. */
static int synthesize_text(conn *c, const char *text, int voice) {
    server *s = c->srv;
    job j;
    memset(&j, 0, sizeof j);
    j.c = c;
    j.text = text;
    j.voice = voxtts_model_voice_name(s->model, voice);
    pthread_mutex_lock(&s->mu);
    if (s->tail) s->tail->next = &j;
    else s->head = &j;
    s->tail = &j;
    pthread_cond_signal(&s->job_cv);
    pthread_mutex_unlock(&s->mu);
    /* Send the audio as the worker queues it, until the job is done and all is sent. */
    double last_progress = now_s();
    for (;;) {
        pthread_mutex_lock(&s->mu);
        int done = j.done;
        pthread_mutex_unlock(&s->mu);
        int failed = atomic_load(&c->write_failed);
        pthread_mutex_lock(&c->qmu);
        size_t pending = c->q_len - c->q_off;
        if (pending && !failed) {
            ssize_t k = send(c->fd, c->q + c->q_off, pending, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (k > 0) {
                c->q_off += (size_t)k;
                pending -= (size_t)k;
                last_progress = now_s();
            } else if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                logf_(s, 0, "client %u: cannot send audio (%s): dropping the connection", c->id, strerror(errno));
                atomic_store(&c->write_failed, 1);
                failed = 1;
            }
        }
        if (!pending || failed) c->q_len = c->q_off = 0;
        pthread_mutex_unlock(&c->qmu);
        if (done && (!pending || failed)) break;
        if (pending && !failed && now_s() - last_progress > s->write_timeout_s) {
            logf_(s, 0, "client %u: read nothing for %d s: dropping the connection", c->id, s->write_timeout_s);
            atomic_store(&c->write_failed, 1); /* the worker cancels at its next callback */
            continue;
        }
        struct pollfd pf[2] = {{c->wake[0], POLLIN, 0}, {c->fd, POLLOUT, 0}};
        int pr = poll(pf, pending && !failed ? 2 : 1, pending && !failed ? 1000 : -1);
        if (pr > 0 && (pf[0].revents & POLLIN)) {
            char sink[64];
            while (read(c->wake[0], sink, sizeof sink) > 0) {
            }
        }
    }
    if (atomic_load(&c->write_failed)) return -1;
    if (j.rc == VOXTTS_E_CANCELLED && atomic_load(&s->abort_all)) {
        conn_send_error(c, "cancelled", "synthesis cancelled: the server is shutting down");
        return -1;
    }
    if (j.rc != VOXTTS_OK) {
        conn_send_error(c, "synthesis-failed", "synthesis failed: %s", j.err.msg[0] ? j.err.msg : "unknown error");
        return atomic_load(&c->write_failed) ? -1 : 0;
    }
    logf_(s, 0, "client %u: %.2f s of audio in %.2f s (voice %s): \"%.60s%s\"", c->id, j.audio_s, j.wall_s,
          j.voice, text, strlen(text) > 60 ? "..." : "");
    return 0;
}

/* ---- voices and the info event ------------------------------------------- */

static const char *const k_langs[] = {"en", "fr", "es", "de", "it", "pt", "nl", "ar", "hi"};

/* A preset voice's own language: the prefix of names like fr_female, English
 * for the others (casual_male, neutral_female, ...); docs/MODEL.md §1.4.  Any
 * voice reads all nine languages, with its own accent. */
static const char *voice_language(const char *name) {
    for (size_t i = 0; i < sizeof k_langs / sizeof *k_langs; i++)
        if (strncasecmp(name, k_langs[i], 2) == 0 && name[2] == '_') return k_langs[i];
    return "en";
}

/* Adds "attribution": {name, url} to `parent`. */
static int add_attribution(cJSON *parent) {
    cJSON *a = cJSON_AddObjectToObject(parent, "attribution");
    return a && cJSON_AddStringToObject(a, "name", "Mistral AI") &&
           cJSON_AddStringToObject(a, "url", "https://huggingface.co/mistralai/Voxtral-4B-TTS-2603");
}

/* {"asr": [], "tts": [{name, description, attribution, installed, version,
 * voices: [{name, description, attribution, installed, version, languages,
 * speakers}], supports_synthesize_streaming}], "handle": [], "intent": [],
 * "wake": [], "mic": [], "snd": []}: the fields of wyoming's info.py.  Every
 * item is attached as soon as it is made, so one delete frees it all. */
static cJSON *make_info(const server *s) {
    cJSON *info = cJSON_CreateObject();
    if (!info) return NULL;
    int ok = 1;
    const char *empty[] = {"asr", "handle", "intent", "wake", "mic", "snd"};
    for (size_t i = 0; ok && i < sizeof empty / sizeof *empty; i++)
        ok = cJSON_AddArrayToObject(info, empty[i]) != NULL;
    cJSON *tts = ok ? cJSON_AddArrayToObject(info, "tts") : NULL;
    cJSON *prog = tts ? cJSON_CreateObject() : NULL;
    if (prog && !cJSON_AddItemToArray(tts, prog)) {
        cJSON_Delete(prog);
        prog = NULL;
    }
    ok = prog && cJSON_AddStringToObject(prog, "name", "voxtts") &&
         cJSON_AddStringToObject(prog, "description", "Voxtral-4B-TTS-2603 text to speech (voxtts, local)") &&
         add_attribution(prog) && cJSON_AddTrueToObject(prog, "installed") &&
         cJSON_AddStringToObject(prog, "version", voxtts_version()) &&
         cJSON_AddTrueToObject(prog, "supports_synthesize_streaming");
    cJSON *voices = ok ? cJSON_AddArrayToObject(prog, "voices") : NULL;
    ok = voices != NULL;
    for (int v = 0; ok && v < voxtts_model_n_voices(s->model); v++) {
        const char *name = voxtts_model_voice_name(s->model, v);
        char desc[160];
        snprintf(desc, sizeof desc, "Voxtral preset voice %s", name);
        cJSON *vo = cJSON_CreateObject();
        if (vo && !cJSON_AddItemToArray(voices, vo)) {
            cJSON_Delete(vo);
            vo = NULL;
        }
        cJSON *langs = vo ? cJSON_AddArrayToObject(vo, "languages") : NULL;
        ok = langs && cJSON_AddItemToArray(langs, cJSON_CreateString(voice_language(name))) &&
             cJSON_AddStringToObject(vo, "name", name) && cJSON_AddStringToObject(vo, "description", desc) &&
             add_attribution(vo) && cJSON_AddTrueToObject(vo, "installed") &&
             cJSON_AddNullToObject(vo, "version") && cJSON_AddNullToObject(vo, "speakers");
    }
    if (!ok) {
        cJSON_Delete(info);
        return NULL;
    }
    return info;
}

/* The voice a request asks for: data.voice.name (case-insensitive), else the
 * first voice of data.voice.language (the default voice first), else the
 * default.  Returns the index, or -1 (error sent) for an unknown name. */
static int request_voice(conn *c, const cJSON *data) {
    server *s = c->srv;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, "voice");
    if (!cJSON_IsObject(v)) return s->default_voice;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(v, "name");
    if (cJSON_IsString(name) && name->valuestring[0]) {
        int i = voxtts_model_find_voice(s->model, name->valuestring);
        if (i < 0) conn_send_error(c, "unknown-voice", "unknown voice '%.200s'", name->valuestring);
        return i;
    }
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(v, "language");
    if (cJSON_IsString(lang) && strlen(lang->valuestring) >= 2) {
        const char *want = lang->valuestring; /* "fr", "fr_FR", "fr-FR" */
        if (strncasecmp(voice_language(voxtts_model_voice_name(s->model, s->default_voice)), want, 2) == 0)
            return s->default_voice;
        for (int i = 0; i < voxtts_model_n_voices(s->model); i++)
            if (strncasecmp(voice_language(voxtts_model_voice_name(s->model, i)), want, 2) == 0) return i;
    }
    return s->default_voice;
}

/* ---- text: sentences ------------------------------------------------------ */

/* Bytes of the next piece of text[0..n) to synthesize: one complete sentence,
 * or (final) whatever is left; at most WY_MAX_PIECE bytes, cut at a space or at
 * least at a character boundary.  0: wait for more text. */
static size_t next_piece(const char *t, size_t n, int final) {
    size_t k = wy_sentence_end(t, n);
    if ((k == 0 || k > WY_MAX_PIECE) && n > WY_MAX_PIECE) {
        size_t cut = WY_MAX_PIECE;
        while (cut > WY_MAX_PIECE / 2 && t[cut] != ' ') cut--;
        if (t[cut] != ' ') {
            cut = WY_MAX_PIECE;
            while (cut > 0 && ((unsigned char)t[cut] & 0xC0) == 0x80) cut--;
        }
        return cut ? cut : WY_MAX_PIECE;
    }
    if (k) return k;
    return final ? n : 0;
}

/* Synthesize text[0..n) trimmed (nothing if blank). */
static int synthesize_piece(conn *c, const char *t, size_t n, int voice) {
    while (n && (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n')) t++, n--;
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\r' || t[n - 1] == '\n')) n--;
    if (!n) return 0;
    char *s = malloc(n + 1);
    if (!s) {
        conn_send_error(c, "out-of-memory", "out of memory");
        return -1;
    }
    memcpy(s, t, n);
    s[n] = '\0';
    int rc = synthesize_text(c, s, voice);
    free(s);
    return rc;
}

/* ---- one connection ------------------------------------------------------ */

typedef struct stream_state {
    int open;      /* between synthesize-start and synthesize-stop */
    int voice;     /* -1: unknown voice (reported); the text is dropped */
    char *text;    /* buffered text without a complete sentence yet */
    size_t len, cap;
} stream_state;

static int send_audio_start(conn *c) { return conn_send(c, "audio-start", c->srv->audio_fmt, NULL, 0); }
static int send_audio_stop(conn *c) { return conn_send(c, "audio-stop", NULL, NULL, 0); }

/* Synthesize the complete sentences of the stream's buffer (all of it when
 * final), each as its own audio-start .. audio-stop. */
static int stream_flush(conn *c, stream_state *st, int final) {
    size_t off = 0, k;
    int rc = 0;
    if (!st->text) return 0; /* no text received yet */
    while (rc == 0 && (k = next_piece(st->text + off, st->len - off, final)) > 0) {
        const char *p = st->text + off;
        off += k;
        if (st->voice < 0) continue;
        size_t a = 0, b = k; /* blank pieces give no audio events at all */
        while (a < b && (p[a] == ' ' || p[a] == '\t' || p[a] == '\r' || p[a] == '\n')) a++;
        if (a == b) continue;
        rc = send_audio_start(c);
        if (!rc) rc = synthesize_piece(c, p, k, st->voice);
        if (!rc) rc = send_audio_stop(c);
    }
    memmove(st->text, st->text + off, st->len - off);
    st->len -= off;
    return rc;
}

/* Handle one event.  Returns 0 to go on, -1 to close the connection. */
static int handle_event(conn *c, const wy_event *ev, stream_state *st) {
    server *s = c->srv;
    const char *t = ev->type;
    if (strcmp(t, "describe") == 0) return conn_send(c, "info", s->info, NULL, 0);
    if (strcmp(t, "synthesize") == 0) {
        if (st->open) return 0; /* the stream's text again, for servers without streaming */
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(ev->data, "text");
        if (!cJSON_IsString(text)) {
            conn_send_error(c, "bad-request", "synthesize without a string \"text\"");
            return atomic_load(&c->write_failed) ? -1 : 0;
        }
        int voice = request_voice(c, ev->data);
        if (voice < 0) return atomic_load(&c->write_failed) ? -1 : 0;
        if (send_audio_start(c)) return -1;
        const char *p = text->valuestring;
        size_t n = strlen(p), k;
        while ((k = next_piece(p, n, 1)) > 0) {
            if (synthesize_piece(c, p, k, voice)) return -1;
            p += k;
            n -= k;
        }
        return send_audio_stop(c);
    }
    if (strcmp(t, "synthesize-start") == 0) {
        st->open = 1;
        st->len = 0;
        st->voice = request_voice(c, ev->data);
        return atomic_load(&c->write_failed) ? -1 : 0;
    }
    if (strcmp(t, "synthesize-chunk") == 0) {
        if (!st->open) return 0;
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(ev->data, "text");
        if (!cJSON_IsString(text)) return 0;
        size_t n = strlen(text->valuestring);
        if (st->len + n + 1 > st->cap) {
            size_t cap = st->cap ? st->cap : 256;
            while (cap < st->len + n + 1) cap *= 2; /* bounded: the event's data is at most limits.max_data */
            char *nt = realloc(st->text, cap);
            if (!nt) {
                conn_send_error(c, "out-of-memory", "out of memory for the streamed text");
                return -1;
            }
            st->text = nt;
            st->cap = cap;
        }
        memcpy(st->text + st->len, text->valuestring, n);
        st->len += n;
        return stream_flush(c, st, 0);
    }
    if (strcmp(t, "synthesize-stop") == 0) {
        if (!st->open) return 0;
        int rc = stream_flush(c, st, 1);
        st->open = 0;
        st->len = 0;
        if (rc) return rc;
        return conn_send(c, "synthesize-stopped", NULL, NULL, 0);
    }
    if (strcmp(t, "ping") == 0) { /* wyoming's keep-alive: pong echoes the text */
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(ev->data, "text");
        cJSON *d = cJSON_CreateObject();
        if (d && cJSON_IsString(text)) cJSON_AddStringToObject(d, "text", text->valuestring);
        int rc = conn_send(c, "pong", d, NULL, 0);
        cJSON_Delete(d);
        return rc;
    }
    logf_(s, 0, "client %u: ignoring a '%s' event", c->id, t);
    return 0;
}

static void conn_serve(conn *c) {
    server *s = c->srv;
    const size_t max_total = s->limits.max_line + s->limits.max_data + s->limits.max_payload;
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    stream_state st = {0, 0, NULL, 0, 0};
    char msg[256];
    int wake_seen = 0; /* the wake pipe said "stop" (before main may have set s->stopping) */
    if (!buf) {
        conn_send_error(c, "out-of-memory", "out of memory");
        return;
    }
    for (;;) {
        /* every complete event received so far */
        size_t off = 0;
        for (;;) {
            wy_event ev;
            size_t used = 0;
            int rc = wy_event_parse(buf + off, len - off, &s->limits, &ev, &used, msg, sizeof msg);
            if (rc == WY_MORE) break;
            if (rc != WY_OK) {
                conn_send_error(c, rc == WY_NOMEM ? "out-of-memory" : "bad-event", "%s", msg);
                goto out;
            }
            off += used;
            rc = handle_event(c, &ev, &st);
            wy_event_free(&ev);
            if (rc) goto out;
        }
        memmove(buf, buf + off, len - off);
        len -= off;

        pthread_mutex_lock(&s->mu);
        int stopping = s->stopping || wake_seen;
        pthread_mutex_unlock(&s->mu);
        if (stopping && !st.open && len == 0) break; /* idle at shutdown */
        struct pollfd pf[2] = {{c->fd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
        /* at shutdown the wake pipe stays readable: poll the client alone, briefly */
        int pr = poll(pf, stopping ? 1 : 2, stopping ? 200 : -1);
        if (pr < 0 && errno != EINTR) break;
        if (pr > 0 && !stopping && pf[1].revents) wake_seen = 1;
        if (pr <= 0 || !(pf[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        if (len == cap) {
            if (cap >= max_total) { /* cannot happen: the parser rejects before */
                conn_send_error(c, "bad-event", "event larger than %zu bytes", max_total);
                break;
            }
            size_t nc = cap * 2 < max_total ? cap * 2 : max_total;
            uint8_t *nb = realloc(buf, nc);
            if (!nb) {
                conn_send_error(c, "out-of-memory", "out of memory for a %zu-byte event", nc);
                break;
            }
            buf = nb;
            cap = nc;
        }
        ssize_t k = recv(c->fd, buf + len, cap - len, 0);
        if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (k <= 0) {
            if (len) logf_(s, 0, "client %u: disconnected in the middle of an event", c->id);
            break;
        }
        len += (size_t)k;
    }
out:
    free(buf);
    free(st.text);
}

static void *conn_main(void *arg) {
    conn *c = arg;
    server *s = c->srv;
    logf_(s, 0, "client %u connected (%s)", c->id, c->peer);
    conn_serve(c);
    /* Say we are done, then drop what the peer still sends for a moment: closing
     * with unread bytes would reset the connection and could lose our last event. */
    shutdown(c->fd, SHUT_WR);
    double until = now_s() + 0.2;
    size_t dropped = 0;
    char sink[4096];
    for (double t = now_s(); t < until && dropped < ((size_t)1 << 20); t = now_s()) {
        struct pollfd pf = {c->fd, POLLIN, 0};
        if (poll(&pf, 1, (int)((until - t) * 1000) + 1) <= 0) break;
        ssize_t k = recv(c->fd, sink, sizeof sink, 0);
        if (k <= 0) break;
        dropped += (size_t)k;
    }
    pthread_mutex_lock(&s->mu);
    close(c->fd);
    c->fd = -1;
    c->finished = 1;
    s->n_active--;
    pthread_cond_broadcast(&s->done_cv);
    pthread_mutex_unlock(&s->mu);
    logf_(s, 0, "client %u closed", c->id);
    return NULL;
}

/* What a connection slot holds besides its socket (after its thread is joined). */
static void conn_release(conn *c) {
    pthread_mutex_destroy(&c->qmu);
    close(c->wake[0]);
    close(c->wake[1]);
    free(c->q);
    c->q = NULL;
}

/* Join the threads of connections that have ended; their slots become free. */
static void reap(server *s) {
    for (int i = 0; i < s->max_clients; i++) {
        pthread_mutex_lock(&s->mu);
        int done = s->conns[i].used && s->conns[i].finished;
        pthread_mutex_unlock(&s->mu);
        if (!done) continue;
        pthread_join(s->conns[i].thread, NULL);
        conn_release(&s->conns[i]);
        pthread_mutex_lock(&s->mu);
        s->conns[i].used = 0;
        pthread_mutex_unlock(&s->mu);
    }
}

/* ---- listening ------------------------------------------------------------ */

/* Open the listening socket of tcp://HOST:PORT or unix://PATH.  *unix_path
 * (malloc'd) is set for a unix socket, to remove it at the end.  `shown`
 * receives the address actually bound (port 0 picks a free one). */
static int listen_uri(const char *uri, char **unix_path, char *shown, size_t shown_size) {
    *unix_path = NULL;
    if (strncmp(uri, "unix://", 7) == 0) {
        const char *path = uri + 7;
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        if (!*path || strlen(path) >= sizeof sa.sun_path) {
            fprintf(stderr, "voxtts: invalid --uri '%s' (unix:// needs a path shorter than %zu bytes)\n", uri,
                    sizeof sa.sun_path);
            return -1;
        }
        strcpy(sa.sun_path, path);
        struct stat stt;
        if (lstat(path, &stt) == 0) {
            if (!S_ISSOCK(stt.st_mode)) {
                fprintf(stderr, "voxtts: --uri '%s': '%s' exists and is not a socket\n", uri, path);
                return -1;
            }
            unlink(path); /* a stale socket of an earlier run */
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0) {
            fprintf(stderr, "voxtts: cannot listen on '%s': %s\n", uri, strerror(errno));
            if (fd >= 0) close(fd);
            return -1;
        }
        *unix_path = strdup(path);
        if (!*unix_path) {
            fprintf(stderr, "voxtts: out of memory\n");
            close(fd);
            unlink(path);
            return -1;
        }
        snprintf(shown, shown_size, "unix://%s", path);
        return fd;
    }
    if (strncmp(uri, "tcp://", 6) != 0) {
        fprintf(stderr, "voxtts: unsupported --uri '%s' (use tcp://HOST:PORT or unix://PATH)\n", uri);
        return -1;
    }
    char host[256];
    const char *hp = uri + 6, *colon = strrchr(hp, ':');
    size_t hl = colon ? (size_t)(colon - hp) : 0;
    long port;
    if (!colon || hl >= sizeof host || cli_parse_int("the port of --uri", colon + 1, 0, 65535, &port)) {
        if (!colon || hl >= sizeof host)
            fprintf(stderr, "voxtts: invalid --uri '%s' (expected tcp://HOST:PORT)\n", uri);
        return -1;
    }
    memcpy(host, hp, hl);
    host[hl] = '\0';
    char *h = host;
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') { /* [::1] */
        host[hl - 1] = '\0';
        h = host + 1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char ps[16];
    snprintf(ps, sizeof ps, "%ld", port);
    int gai = getaddrinfo(*h ? h : NULL, ps, &hints, &res);
    if (gai != 0) {
        fprintf(stderr, "voxtts: --uri '%s': cannot resolve '%s': %s\n", uri, h, gai_strerror(gai));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 16) == 0) break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        fprintf(stderr, "voxtts: cannot listen on '%s': %s\n", uri, strerror(err));
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char nh[NI_MAXHOST], ns[NI_MAXSERV];
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        getnameinfo((struct sockaddr *)&ss, sl, nh, sizeof nh, ns, sizeof ns, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(shown, shown_size, ss.ss_family == AF_INET6 ? "tcp://[%s]:%s" : "tcp://%s:%s", nh, ns);
    else
        snprintf(shown, shown_size, "%s", uri);
    return fd;
}

static void describe_peer(int fd, char *out, size_t n) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char h[NI_MAXHOST], p[NI_MAXSERV];
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family != AF_UNIX &&
        getnameinfo((struct sockaddr *)&ss, sl, h, sizeof h, p, sizeof p, NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(out, n, "%.60s port %.8s", h, p);
    else
        snprintf(out, n, "local socket");
}

/* ---- signals --------------------------------------------------------------- */

typedef struct sig_thread_arg {
    sigset_t set;
    int fd; /* the wake pipe's write end */
} sig_thread_arg;

/* Waits for SIGTERM/SIGINT/SIGHUP (blocked in every other thread), says so on
 * the wake pipe, then lets a second one kill the process at once. */
static void *signal_main(void *arg) {
    sig_thread_arg *a = arg;
    int sig = 0;
    if (sigwait(&a->set, &sig) != 0) return NULL;
    unsigned char b = (unsigned char)sig;
    ssize_t w = write(a->fd, &b, 1);
    (void)w;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    pthread_sigmask(SIG_UNBLOCK, &a->set, NULL);
    for (;;) pause(); /* cancelled by main at exit */
    return NULL;
}

/* ---- main ------------------------------------------------------------------ */

static void usage(FILE *f) {
    fprintf(f,
        "usage: voxtts wyoming [options]\n"
        "\n"
        "A Wyoming protocol text-to-speech server (for Home Assistant's Wyoming integration).\n"
        "\n"
        "options:\n"
        "  -m, --model DIR          model directory or .gguf file (default: $VOXTTS_MODEL or %s)\n"
        "      --uri URI            where to listen: tcp://HOST:PORT or unix://PATH\n"
        "                           (default tcp://0.0.0.0:10200; port 0 picks a free port)\n"
        "  -v, --voice NAME         default voice, when a request names none (default: neutral_female)\n"
        "  -t, --threads N          worker threads of the model (default: all cores)\n"
        "      --max-clients N      connections served at once (default 8); more are told busy\n"
        "      --max-frames N       longest sentence, in 80 ms frames (default 2048)\n"
        "      --seed N             noise seed (default 42)\n"
        "      --samples-per-chunk N  samples per audio-chunk event (default 1024)\n"
        "      --write-timeout S    drop a client that reads nothing for S seconds (default 30)\n"
        "      --drain-timeout S    on SIGTERM, wait S seconds for requests in progress (default 30)\n"
        "  -q, --quiet              log only the start, the stop and errors\n"
        "  -h, --help               this help\n",
        VOX_DEFAULT_MODEL_DIR);
}

enum { OPT_URI = 1000, OPT_MAX_CLIENTS, OPT_MAX_FRAMES, OPT_SEED, OPT_SPC, OPT_WTO, OPT_DTO };

int cli_wyoming_main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},
        {"uri", required_argument, 0, OPT_URI},
        {"voice", required_argument, 0, 'v'},
        {"threads", required_argument, 0, 't'},
        {"max-clients", required_argument, 0, OPT_MAX_CLIENTS},
        {"max-frames", required_argument, 0, OPT_MAX_FRAMES},
        {"seed", required_argument, 0, OPT_SEED},
        {"samples-per-chunk", required_argument, 0, OPT_SPC},
        {"write-timeout", required_argument, 0, OPT_WTO},
        {"drain-timeout", required_argument, 0, OPT_DTO},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *model_dir = cli_default_model_dir(), *uri = "tcp://0.0.0.0:10200", *voice = NULL;
    long threads = 0, max_clients = 8, max_frames = 2048, spc = 1024, wto = 30, dto = 30;
    unsigned long long seed = 42;
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:v:t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_dir = optarg; break;
        case 'v': voice = optarg; break;
        case OPT_URI: uri = optarg; break;
        case 't': if (cli_parse_int("--threads", optarg, 0, 1024, &threads)) return 2; break;
        case OPT_MAX_CLIENTS: if (cli_parse_int("--max-clients", optarg, 1, 1024, &max_clients)) return 2; break;
        case OPT_MAX_FRAMES: if (cli_parse_int("--max-frames", optarg, 1, 1000000, &max_frames)) return 2; break;
        case OPT_SEED: if (cli_parse_u64("--seed", optarg, &seed)) return 2; break;
        case OPT_SPC: if (cli_parse_int("--samples-per-chunk", optarg, 1, 1 << 20, &spc)) return 2; break;
        case OPT_WTO: if (cli_parse_int("--write-timeout", optarg, 1, 86400, &wto)) return 2; break;
        case OPT_DTO: if (cli_parse_int("--drain-timeout", optarg, 0, 86400, &dto)) return 2; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: fprintf(stderr, "Try 'voxtts wyoming --help'.\n"); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "voxtts: wyoming takes no arguments ('%s')\nTry 'voxtts wyoming --help'.\n", argv[optind]);
        return 2;
    }
    if (strncmp(uri, "tcp://", 6) != 0 && strncmp(uri, "unix://", 7) != 0) {
        fprintf(stderr, "voxtts: unsupported --uri '%s' (use tcp://HOST:PORT or unix://PATH)\n", uri);
        return 2;
    }

    server s;
    memset(&s, 0, sizeof s);
    s.max_frames = (int)max_frames;
    s.seed = seed;
    s.samples_per_chunk = (size_t)spc;
    s.write_timeout_s = (int)wto;
    s.quiet = quiet;
    s.max_clients = (int)max_clients;
    s.wake[0] = s.wake[1] = -1;
    atomic_init(&s.abort_all, 0);
    wy_limits_default(&s.limits);

    int rc = 1;
    char *unix_path = NULL;
    int lfd = -1, worker_started = 0, sig_started = 0;
    pthread_t worker, sigth;
    sig_thread_arg sarg;
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.job_cv, NULL);
    pthread_cond_init(&s.done_cv, NULL);
    if (pipe2(s.wake, O_CLOEXEC) != 0) {
        fprintf(stderr, "voxtts: cannot create a pipe: %s\n", strerror(errno));
        goto done;
    }
    /* Signals go to the signal thread only: blocked before any other thread
     * exists (the model's thread pool included).  A signal during the load is
     * seen once the server is up, which then stops at once.  A peer that closes
     * early must not kill us: SIGPIPE is ignored. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sarg.set);
    sigaddset(&sarg.set, SIGTERM);
    sigaddset(&sarg.set, SIGINT);
    sigaddset(&sarg.set, SIGHUP);
    sarg.fd = s.wake[1];
    pthread_sigmask(SIG_BLOCK, &sarg.set, NULL);
    if (pthread_create(&sigth, NULL, signal_main, &sarg) != 0) {
        fprintf(stderr, "voxtts: cannot start a thread\n");
        goto done;
    }
    sig_started = 1;

    voxtts_error err = {0};
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = (int)threads;
    if (voxtts_model_load(model_dir, &lp, &s.model, &err) != VOXTTS_OK) {
        cli_print_error("cannot load the model", &err);
        goto done;
    }
    s.sample_rate = voxtts_model_sample_rate(s.model);
    if (voxtts_model_n_voices(s.model) < 1) {
        fprintf(stderr, "voxtts: the model '%s' has no voices\n", model_dir);
        goto done;
    }
    if (voice) {
        s.default_voice = voxtts_model_find_voice(s.model, voice);
        if (s.default_voice < 0) {
            fprintf(stderr, "voxtts: unknown voice '%s' for --voice; the model has:", voice);
            for (int i = 0; i < voxtts_model_n_voices(s.model); i++)
                fprintf(stderr, " %s", voxtts_model_voice_name(s.model, i));
            fputc('\n', stderr);
            rc = 2;
            goto done;
        }
    } else {
        int i = voxtts_model_find_voice(s.model, "neutral_female");
        s.default_voice = i >= 0 ? i : 0;
    }
    s.info = make_info(&s);
    s.audio_fmt = cJSON_CreateObject();
    s.conns = calloc((size_t)s.max_clients, sizeof *s.conns);
    if (!s.info || !s.audio_fmt || !s.conns || !cJSON_AddNumberToObject(s.audio_fmt, "rate", s.sample_rate) ||
        !cJSON_AddNumberToObject(s.audio_fmt, "width", 2) || !cJSON_AddNumberToObject(s.audio_fmt, "channels", 1)) {
        fprintf(stderr, "voxtts: out of memory\n");
        goto done;
    }
    char shown[300];
    lfd = listen_uri(uri, &unix_path, shown, sizeof shown);
    if (lfd < 0) {
        rc = 2;
        goto done;
    }
    if (pthread_create(&worker, NULL, worker_main, &s) != 0) {
        fprintf(stderr, "voxtts: cannot start a thread\n");
        goto done;
    }
    worker_started = 1;
    logf_(&s, 1, "listening on %s (%d voices, default %s, up to %d clients)", shown,
          voxtts_model_n_voices(s.model), voxtts_model_voice_name(s.model, s.default_voice), s.max_clients);

    for (;;) {
        struct pollfd pf[2] = {{lfd, POLLIN, 0}, {s.wake[0], POLLIN, 0}};
        int pr = poll(pf, 2, -1);
        if (pr < 0) {
            if (errno == EINTR) continue;
            logf_(&s, 1, "poll failed: %s", strerror(errno));
            break;
        }
        if (pf[1].revents) break; /* a signal: stop */
        if (!(pf[0].revents & POLLIN)) continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) { /* EAGAIN: the peer went away already; out of descriptors: wait a little */
            if (errno == EMFILE || errno == ENFILE) {
                struct timespec ts = {0, 100 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        reap(&s);
        int slot = -1;
        pthread_mutex_lock(&s.mu);
        for (int i = 0; i < s.max_clients && slot < 0; i++)
            if (!s.conns[i].used) slot = i;
        unsigned id = ++s.next_id;
        pthread_mutex_unlock(&s.mu);
        if (slot < 0) {
            conn busy = {.srv = &s, .id = id, .fd = fd};
            struct timeval tv = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            conn_send_error(&busy, "busy", "server busy: %d clients connected already (--max-clients)",
                            s.max_clients);
            close(fd);
            continue;
        }
        struct timeval tv = {s.write_timeout_s, 0};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = 1; /* each event is one send: no Nagle delay for the small ones (fails on unix sockets) */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *cn = &s.conns[slot];
        memset(cn, 0, sizeof *cn);
        if (pipe2(cn->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
            logf_(&s, 1, "cannot create a pipe for client %u: %s", id, strerror(errno));
            close(fd);
            continue;
        }
        pthread_mutex_init(&cn->qmu, NULL);
        atomic_init(&cn->write_failed, 0);
        cn->srv = &s;
        cn->slot = slot;
        cn->id = id;
        cn->fd = fd;
        describe_peer(fd, cn->peer, sizeof cn->peer);
        pthread_mutex_lock(&s.mu);
        cn->used = 1;
        s.n_active++;
        pthread_mutex_unlock(&s.mu);
        if (pthread_create(&cn->thread, NULL, conn_main, cn) != 0) {
            logf_(&s, 1, "cannot start a thread for client %u", id);
            pthread_mutex_lock(&s.mu);
            cn->used = 0;
            s.n_active--;
            pthread_mutex_unlock(&s.mu);
            conn_release(cn);
            close(fd);
        }
    }

    /* Drain: no new clients; requests in progress finish; idle clients are closed. */
    close(lfd);
    lfd = -1;
    if (unix_path) unlink(unix_path);
    pthread_mutex_lock(&s.mu);
    s.stopping = 1;
    int n = s.n_active;
    pthread_mutex_unlock(&s.mu);
    logf_(&s, 1, "stopping: %d client%s connected", n, n == 1 ? "" : "s");
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += dto;
    pthread_mutex_lock(&s.mu);
    while (s.n_active > 0) {
        if (pthread_cond_timedwait(&s.done_cv, &s.mu, &deadline) == ETIMEDOUT) break;
    }
    if (s.n_active > 0) {
        logf_(&s, 1, "drain timeout: cancelling %d connection%s", s.n_active, s.n_active == 1 ? "" : "s");
        atomic_store(&s.abort_all, 1);
        for (int i = 0; i < s.max_clients; i++)
            if (s.conns[i].used && s.conns[i].fd >= 0) shutdown(s.conns[i].fd, SHUT_RDWR);
    }
    pthread_mutex_unlock(&s.mu);
    for (int i = 0; i < s.max_clients; i++) {
        pthread_mutex_lock(&s.mu);
        int used = s.conns[i].used;
        pthread_mutex_unlock(&s.mu);
        if (used) {
            pthread_join(s.conns[i].thread, NULL);
            conn_release(&s.conns[i]);
        }
        s.conns[i].used = 0;
    }
    rc = 0;
    logf_(&s, 1, "stopped");
done:
    if (worker_started) {
        pthread_mutex_lock(&s.mu);
        s.worker_exit = 1;
        pthread_cond_signal(&s.job_cv);
        pthread_mutex_unlock(&s.mu);
        pthread_join(worker, NULL);
    }
    if (sig_started) {
        pthread_cancel(sigth);
        pthread_join(sigth, NULL);
    }
    pthread_cond_destroy(&s.done_cv);
    pthread_cond_destroy(&s.job_cv);
    pthread_mutex_destroy(&s.mu);
    if (lfd >= 0) close(lfd);
    if (unix_path) {
        if (rc != 0) unlink(unix_path);
        free(unix_path);
    }
    if (s.wake[0] >= 0) close(s.wake[0]);
    if (s.wake[1] >= 0) close(s.wake[1]);
    free(s.conns);
    cJSON_Delete(s.info);
    cJSON_Delete(s.audio_fmt);
    voxtts_model_free(s.model);
    return rc;
}
