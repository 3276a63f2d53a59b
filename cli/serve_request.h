/* serve_request.h — the body of POST /v1/audio/speech, checked (serve_request.c).
 * A pure function of the bytes and the server's voice list, so that the fuzz
 * target tests/fuzz/fuzz_http_json.c can drive it without a socket. */
#ifndef VOX_CLI_SERVE_REQUEST_H
#define VOX_CLI_SERVE_REQUEST_H

#include <stddef.h>

#include "voxtts.h"

typedef struct serve_request {
    char *input;          /* the text (malloc'd; serve_request_free) */
    int voice;            /* index into the voice list */
    voxtts_audio_format fmt; /* response_format (default mp3) */
    int sse;              /* stream_format "sse" */
} serve_request;

/* Why a body was refused: HTTP status, the offending parameter (or NULL), an
 * OpenAI-style error code, and the message. */
typedef struct serve_reject {
    int status;
    const char *param, *code;
    char msg[1024];
} serve_reject;

/* 0 and *out filled, or -1 and *rej filled.  voices[0..n_voices) are the voice
 * names (matched case-insensitively; the default is neutral_female when listed,
 * else the first); max_input is the limit on the input's characters. */
int serve_request_parse(const char *body, size_t n, const char *const *voices, int n_voices,
                        size_t max_input, serve_request *out, serve_reject *rej);
void serve_request_free(serve_request *r);
/* 1 when `m` names this server's model (or an accepted alias). */
int serve_model_ok(const char *m);

#endif
