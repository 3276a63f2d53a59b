/* serve_request.c — checking the JSON body of POST /v1/audio/speech (OpenAI's
 * fields: model, input, voice, response_format, speed, stream_format,
 * instructions), with an OpenAI-style refusal for anything we cannot honour. */
#include "serve_request.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve.h"

static int reject(serve_reject *r, int status, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int reject(serve_reject *r, int status, const char *param, const char *code, const char *fmt, ...) {
    r->status = status;
    r->param = param;
    r->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static size_t utf8_chars(const char *t) {
    size_t n = 0;
    for (; *t; t++) n += ((unsigned char)*t & 0xC0) != 0x80;
    return n;
}

static int only_space(const char *t) {
    for (; *t; t++)
        if (!(*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r' || *t == '\f' || *t == '\v')) return 0;
    return 1;
}

int serve_model_ok(const char *m) {
    return strcmp(m, SERVE_MODEL_ID) == 0 || strcmp(m, "tts-1") == 0 || strcmp(m, "tts-1-hd") == 0 ||
           strcmp(m, "gpt-4o-mini-tts") == 0 || strcmp(m, "voxtral-4b-tts-2603") == 0 ||
           strcmp(m, "Voxtral-4B-TTS-2603") == 0 || strcmp(m, "mistralai/Voxtral-4B-TTS-2603") == 0;
}

static int find(const char *const *voices, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcasecmp(voices[i], name) == 0) return i;
    return -1;
}

void serve_request_free(serve_request *r) {
    if (!r) return;
    free(r->input);
    r->input = NULL;
}

int serve_request_parse(const char *body, size_t n, const char *const *voices, int n_voices,
                        size_t max_input, serve_request *out, serve_reject *rej) {
    memset(out, 0, sizeof *out);
    out->voice = -1;
    cJSON *req = cJSON_ParseWithLength(body ? body : "", n);
    if (!req || !cJSON_IsObject(req)) {
        cJSON_Delete(req);
        return reject(rej, 400, NULL, "invalid_json", "the request body is not a JSON object");
    }
    int rc = -1;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(req, "model");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(req, "input");
    const cJSON *voice = cJSON_GetObjectItemCaseSensitive(req, "voice");
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(req, "response_format");
    const cJSON *speed = cJSON_GetObjectItemCaseSensitive(req, "speed");
    const cJSON *sf = cJSON_GetObjectItemCaseSensitive(req, "stream_format");
    const cJSON *instr = cJSON_GetObjectItemCaseSensitive(req, "instructions");
    if (model && !cJSON_IsNull(model) && (!cJSON_IsString(model) || !serve_model_ok(model->valuestring))) {
        reject(rej, 400, "model", "model_not_found",
               "unknown model%s%.100s%s: this server has '%s' (aliases: tts-1, tts-1-hd, gpt-4o-mini-tts)",
               cJSON_IsString(model) ? " '" : "", cJSON_IsString(model) ? model->valuestring : "",
               cJSON_IsString(model) ? "'" : "", SERVE_MODEL_ID);
        goto out;
    }
    if (!input || !cJSON_IsString(input)) {
        reject(rej, 400, "input", input ? "invalid_type" : "missing_required_parameter", "%s",
               input ? "'input' must be a string" : "'input' is required");
        goto out;
    }
    if (only_space(input->valuestring)) {
        reject(rej, 400, "input", "empty_input", "'input' is empty");
        goto out;
    }
    const size_t nch = utf8_chars(input->valuestring);
    if (nch > max_input) {
        reject(rej, 400, "input", "string_above_max_length",
               "'input' has %zu characters; the limit is %zu (--max-input); split the text into "
               "several requests", nch, max_input);
        goto out;
    }
    int vi = find(voices, n_voices, "neutral_female");
    if (vi < 0) vi = n_voices > 0 ? 0 : -1;
    if (voice && !cJSON_IsNull(voice)) {
        if (!cJSON_IsString(voice)) {
            reject(rej, 400, "voice", "invalid_type", "'voice' must be the name of a voice (GET /v1/audio/voices)");
            goto out;
        }
        vi = find(voices, n_voices, voice->valuestring);
        if (vi < 0) {
            char list[2048];
            size_t o = 0;
            list[0] = 0;
            for (int i = 0; i < n_voices && o + 2 < sizeof list; i++) {
                int w = snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", voices[i]);
                if (w < 0 || (size_t)w >= sizeof list - o) break;
                o += (size_t)w;
            }
            reject(rej, 400, "voice", "invalid_voice", "unknown voice '%.100s'; the voices are: %.800s",
                   voice->valuestring, list);
            goto out;
        }
    }
    if (vi < 0) {
        reject(rej, 500, NULL, NULL, "the server has no voices");
        goto out;
    }
    voxtts_audio_format fmt = VOXTTS_AUDIO_MP3;
    if (rf && !cJSON_IsNull(rf)) {
        const char *f = cJSON_IsString(rf) ? rf->valuestring : "";
        if (strcmp(f, "mp3") == 0) fmt = VOXTTS_AUDIO_MP3;
        else if (strcmp(f, "opus") == 0) fmt = VOXTTS_AUDIO_OPUS;
        else if (strcmp(f, "flac") == 0) fmt = VOXTTS_AUDIO_FLAC;
        else if (strcmp(f, "wav") == 0) fmt = VOXTTS_AUDIO_WAV;
        else if (strcmp(f, "pcm") == 0) fmt = VOXTTS_AUDIO_PCM;
        else if (strcmp(f, "aac") == 0) {
            reject(rej, 400, "response_format", "unsupported_response_format",
                   "response_format 'aac' is not supported (no AAC encoder in this build); use mp3, "
                   "opus, flac, wav or pcm");
            goto out;
        } else {
            reject(rej, 400, "response_format", "invalid_response_format",
                   "unknown response_format '%.50s'; use mp3, opus, flac, wav or pcm", f);
            goto out;
        }
    }
    if (speed && !cJSON_IsNull(speed)) {
        if (!cJSON_IsNumber(speed)) {
            reject(rej, 400, "speed", "invalid_type", "'speed' must be a number");
            goto out;
        }
        if (speed->valuedouble != 1.0) {
            reject(rej, 400, "speed", "unsupported_speed", "speed is not supported: only 1.0 (got %g)",
                   speed->valuedouble);
            goto out;
        }
    }
    int sse = 0;
    if (sf && !cJSON_IsNull(sf)) {
        const char *v = cJSON_IsString(sf) ? sf->valuestring : "";
        if (strcmp(v, "sse") == 0) sse = 1;
        else if (strcmp(v, "audio") != 0) {
            reject(rej, 400, "stream_format", "invalid_stream_format",
                   "unknown stream_format '%.50s'; use 'audio' or 'sse'", v);
            goto out;
        }
    }
    if (instr && cJSON_IsString(instr) && !only_space(instr->valuestring)) {
        reject(rej, 400, "instructions", "unsupported_parameter",
               "instructions are not supported: pick a voice instead");
        goto out;
    }
    if (!(out->input = strdup(input->valuestring))) {
        reject(rej, 500, NULL, NULL, "out of memory");
        goto out;
    }
    out->voice = vi;
    out->fmt = fmt;
    out->sse = sse;
    rc = 0;
out:
    cJSON_Delete(req);
    return rc;
}
