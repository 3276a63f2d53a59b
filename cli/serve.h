/* serve.h — the pieces of `voxtts serve` shared by its HTTP side (serve.c) and
 * its engine side (serve_engine.c).
 *
 * One engine thread owns the model and the batched engine (voxtts_engine of
 * include/voxtts.h, which is driven by one thread).  libmicrohttpd runs one
 * thread per connection; a connection turns a request into a job, hands it to
 * the engine thread through a queue (the server's mutex and condition
 * variable), and then reads the job's encoded audio bytes as the engine thread
 * appends them (the job's own condition variable).  A job is shared by the
 * connection, its response and the engine thread and freed by the last of them
 * (a reference count under the server's mutex).  Audio is encoded with the
 * streaming writer of io/audio_file.h into a callback sink (the one internal
 * header the command uses besides the public API). */
#ifndef VOX_CLI_SERVE_H
#define VOX_CLI_SERVE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "voxtts.h"

#define SERVE_MODEL_ID "voxtral-4b-tts"
#define SERVE_TTFA_BUCKETS 10

/* Codes for the requests-by-status counter. */
#define SERVE_N_STATUS 12
extern const int serve_status_codes[SERVE_N_STATUS];

typedef struct serve_job serve_job;

struct serve_job {
    /* set by the connection before it is queued, then read-only */
    char *text;
    char voice[128];
    const voxtts_voice *voice_handle; /* a voice of one's own (owned by the server), or NULL */
    voxtts_audio_format fmt;
    int sse;
    double t_accept;     /* when the request was accepted (monotonic seconds) */
    double deadline;     /* t_accept + --timeout, or 0 */
    /* guarded by the server's mutex */
    pthread_cond_t cv;   /* audio arrived, or the job ended */
    int refs;
    unsigned char *buf;  /* encoded bytes not yet read by the connection: buf[off..n) */
    size_t n, off, cap;
    uint64_t bytes_total;
    int started;         /* the engine accepted it (submitted) */
    int done;            /* finished: ok (failed == 0) or failed */
    int failed;
    int http_status;     /* for a failure before any byte: 400, 500, 503 ... */
    char errmsg[1100];
    int cancel;          /* the client went away or timed out: stop it */
    int frames;
    int prompt_tokens;
    serve_job *next;     /* in the server's incoming queue */
    /* engine thread only */
    int64_t engine_id;
    voxtts_audio_writer *w;
    voxtts_synth_stats stats;
    int cancel_sent;
    serve_job *active_next;
};

typedef struct serve_opts {
    const char *host;
    int port;
    const char *api_key;
    size_t max_body;
    size_t max_input;
    int max_queue;
    double timeout;
    int batch;
    const char *model;
    int threads;
    int max_frames;
    int quiet;
    const char *voices_dir; /* --voices-dir (NULL: the default voices directory) */
} serve_opts;

typedef struct serve_metrics {
    uint64_t requests[SERVE_N_STATUS + 1]; /* by status code; the last: any other */
    uint64_t synth_ok, synth_errors, cancelled;
    uint64_t ttfa_buckets[SERVE_TTFA_BUCKETS + 1]; /* cumulative at render time */
    double ttfa_sum;
    uint64_t ttfa_count;
    double rtf_sum;      /* per finished request: wall time / audio time */
    uint64_t rtf_count;
    uint64_t frames;     /* frames generated, all requests */
    double audio_s;      /* audio seconds generated */
    double compute_s;    /* wall time of the engine's steps */
    double frames_per_s; /* over the last measured window */
    int queued, running; /* requests in the engine: waiting, being generated */
    uint64_t bytes_out;
} serve_metrics;

typedef struct serve_server {
    serve_opts o;
    pthread_mutex_t mu;
    pthread_cond_t work_cv;  /* the engine thread's: new job, a cancel, or quit */
    pthread_cond_t drain_cv; /* a job left: in_flight went down */
    serve_job *incoming, *incoming_tail;
    int in_flight;           /* jobs accepted and not yet finished with by their connection */
    int stopping;            /* SIGTERM/SIGINT: refuse new requests */
    int quit;                /* the engine thread stops once nothing is left */
    int engine_failed;
    serve_metrics m;
    /* the model's facts, copied at start (the model belongs to the engine thread) */
    int n_voices;
    char **voices;
    voxtts_voice **handles;  /* [n_voices]: NULL for a preset, else a voice of one's own */
    int sample_rate, samples_per_frame;
    voxtts_model *model;
    voxtts_engine *engine;
    pthread_t engine_thread;
} serve_server;

double serve_now(void);
/* The engine thread (arg: serve_server). */
void *serve_engine_main(void *arg);
/* Queue a job for the engine thread (takes the server's lock). */
void serve_submit(serve_server *s, serve_job *j);
/* New job with one reference; NULL when out of memory. */
serve_job *serve_job_new(void);
/* Drop a reference; caller holds s->mu. */
void serve_job_unref_locked(serve_job *j);
/* Ask the engine to stop a job (caller holds s->mu). */
void serve_job_cancel_locked(serve_server *s, serve_job *j);
/* Append the Prometheus text of the metrics to a malloc'd string (caller holds s->mu). */
char *serve_metrics_text(const serve_server *s);
/* Count a reply by status (caller holds s->mu). */
void serve_count_status(serve_server *s, int status);

#endif
