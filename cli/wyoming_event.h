/* wyoming_event.h — the event framing of the Wyoming protocol (Home Assistant's
 * protocol for voice services), as `voxtts wyoming` reads and writes it.
 *
 * An event on the wire is one line of JSON, the header, ending in '\n':
 *   {"type": "...", "data": {...}?, "data_length": N?, "payload_length": M?, "version": "..."?}
 * followed by N bytes of JSON (an object whose keys are merged over the
 * header's "data") and then M bytes of binary payload (audio for audio-chunk).
 * (Facts from the published definitions in rhasspy/wyoming, wyoming/event.py.)
 *
 * wy_event_parse() takes the bytes received so far and either returns one
 * complete event, says that more bytes are needed, or rejects the input: a
 * header line longer than the limit, a header that is not a JSON object, a
 * missing or non-string "type", a "data" that is not an object, a length that
 * is not a non-negative integer within its limit, or data bytes that are not a
 * JSON object.  It is a pure function of its input (tests/fuzz/fuzz_wyoming.c).
 * wy_event_serialize() builds the bytes of one event to send. */
#ifndef VOX_CLI_WYOMING_EVENT_H
#define VOX_CLI_WYOMING_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The protocol version written in the "version" field of the events we send
 * (informational; readers do not check it).  1.8 is the wyoming release that
 * wyoming-piper requires for streaming synthesis (synthesize-start/chunk/stop). */
#define WY_PROTOCOL_VERSION "1.8.0"

enum {
    WY_OK = 0,     /* one complete event parsed */
    WY_MORE = 1,   /* the input holds no complete event yet: read more */
    WY_ERROR = -1, /* malformed input: the message says what; close the connection */
    WY_NOMEM = -2, /* allocation failed */
};

typedef struct wy_limits {
    size_t max_line;    /* header line, '\n' included */
    size_t max_data;    /* data_length */
    size_t max_payload; /* payload_length */
} wy_limits;

/* 64 KiB header line, 1 MiB of data, 4 MiB of payload (87 s of 24 kHz 16-bit mono). */
void wy_limits_default(wy_limits *l);

#define WY_MAX_TYPE 128 /* longest event type accepted, in bytes */

typedef struct wy_event {
    char type[WY_MAX_TYPE + 1];
    cJSON *data;            /* an object (empty when the event has none); owned */
    const uint8_t *payload; /* points into the parsed input; NULL when none */
    size_t payload_len;
} wy_event;

/* Parse the event at the start of buf[0..n).  WY_OK: *ev is filled (free it with
 * wy_event_free) and *consumed is its size in bytes.  WY_MORE: nothing is filled.
 * WY_ERROR / WY_NOMEM: errmsg (errmsg_size bytes, may be 0) says why. */
int wy_event_parse(const uint8_t *buf, size_t n, const wy_limits *lim, wy_event *ev, size_t *consumed,
                   char *errmsg, size_t errmsg_size);
void wy_event_free(wy_event *ev);

/* The bytes of one event: header line, data (when `data` is not NULL and has
 * members) and payload.  *out is malloc'd.  Returns WY_OK or WY_NOMEM. */
int wy_event_serialize(const char *type, const cJSON *data, const void *payload, size_t payload_len,
                       uint8_t **out, size_t *out_len);

/* The first sentence boundary of text[0..n) that is certainly complete: the end
 * of a run of sentence-ending punctuation (. ! ? and their CJK / ellipsis
 * forms), with any closing quotes or brackets after it, followed by white
 * space; or a line break.  Returns the offset just past the boundary (the
 * white space stays with the rest), or 0 when there is no complete sentence yet. */
size_t wy_sentence_end(const char *text, size_t n);

#endif
