/* wyoming_event.c — Wyoming event framing: parse one event from received
 * bytes, serialize one event to send, and find sentence boundaries in streamed
 * text (see wyoming_event.h).  Everything read from the peer is bounded by a
 * wy_limits and checked before use; nothing here does I/O. */
#include "wyoming_event.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wy_limits_default(wy_limits *l) {
    l->max_line = (size_t)64 << 10;
    l->max_data = (size_t)1 << 20;
    l->max_payload = (size_t)4 << 20;
}

static int fail(char *msg, size_t size, int code, const char *fmt, ...) {
    if (msg && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, size, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* A non-negative integer within `limit` from the header (absent or null: 0). */
static int get_length(const cJSON *h, const char *key, size_t limit, size_t *out, char *msg,
                      size_t msg_size) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, key);
    *out = 0;
    if (!v || cJSON_IsNull(v)) return WY_OK;
    if (!cJSON_IsNumber(v))
        return fail(msg, msg_size, WY_ERROR, "\"%s\" in the event header is not a number", key);
    double d = v->valuedouble;
    if (!(d >= 0.0) || d != floor(d))
        return fail(msg, msg_size, WY_ERROR, "\"%s\" in the event header is not a non-negative integer",
                    key);
    if (d > (double)limit)
        return fail(msg, msg_size, WY_ERROR, "\"%s\" %.0f in the event header exceeds the limit of %zu bytes",
                    key, d, limit);
    *out = (size_t)d;
    return WY_OK;
}

static int only_space(const char *p, const char *end) {
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') return 0;
    return 1;
}

/* Parse text[0..n) as one JSON object (trailing white space allowed). */
static cJSON *parse_object(const char *text, size_t n) {
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (!j) return NULL;
    if (!cJSON_IsObject(j) || !end || end < text || end > text + n || !only_space(end, text + n)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* Move every member of `from` into `to`, a later key replacing an earlier one
 * of the same name (so a key given twice counts once, the last time, as in
 * Python's json module; and the data bytes override the header's "data"). */
static int merge_into(cJSON *to, cJSON *from) {
    cJSON *c;
    while ((c = from->child) != NULL) {
        cJSON_DetachItemViaPointer(from, c);
        if (!c->string) { /* cannot happen in a parsed object */
            cJSON_Delete(c);
            continue;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(to, c->string);
        if (!cJSON_AddItemToObject(to, c->string, c)) {
            cJSON_Delete(c);
            return WY_NOMEM;
        }
    }
    return WY_OK;
}

int wy_event_parse(const uint8_t *buf, size_t n, const wy_limits *lim, wy_event *ev, size_t *consumed,
                   char *msg, size_t msg_size) {
    size_t scan = n < lim->max_line ? n : lim->max_line;
    const uint8_t *nl = scan ? memchr(buf, '\n', scan) : NULL;
    if (!nl) {
        if (n >= lim->max_line)
            return fail(msg, msg_size, WY_ERROR, "event header line longer than %zu bytes", lim->max_line);
        return WY_MORE;
    }
    size_t line_len = (size_t)(nl - buf);
    if (only_space((const char *)buf, (const char *)nl))
        return fail(msg, msg_size, WY_ERROR, "empty event header line");

    cJSON *h = parse_object((const char *)buf, line_len);
    if (!h) return fail(msg, msg_size, WY_ERROR, "event header is not a JSON object");
    int rc = WY_ERROR;
    cJSON *data = NULL, *extra = NULL;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(h, "type");
    if (!cJSON_IsString(type) || !type->valuestring) {
        rc = fail(msg, msg_size, WY_ERROR, "event header has no string \"type\"");
        goto done;
    }
    size_t type_len = strlen(type->valuestring);
    if (type_len == 0 || type_len > WY_MAX_TYPE) {
        rc = fail(msg, msg_size, WY_ERROR, "event type is empty or longer than %d bytes", WY_MAX_TYPE);
        goto done;
    }
    size_t data_len, payload_len;
    if ((rc = get_length(h, "data_length", lim->max_data, &data_len, msg, msg_size)) != WY_OK) goto done;
    if ((rc = get_length(h, "payload_length", lim->max_payload, &payload_len, msg, msg_size)) != WY_OK)
        goto done;
    cJSON *hd = cJSON_GetObjectItemCaseSensitive(h, "data");
    if (hd && !cJSON_IsNull(hd) && !cJSON_IsObject(hd)) {
        rc = fail(msg, msg_size, WY_ERROR, "\"data\" in the event header is not an object");
        goto done;
    }
    /* Every length is bounded, so the sum cannot overflow. */
    size_t total = line_len + 1 + data_len + payload_len;
    if (n < total) {
        rc = WY_MORE;
        goto done;
    }
    data = cJSON_CreateObject();
    if (!data) {
        rc = fail(msg, msg_size, WY_NOMEM, "out of memory");
        goto done;
    }
    if (hd && cJSON_IsObject(hd) && merge_into(data, hd) != WY_OK) {
        rc = fail(msg, msg_size, WY_NOMEM, "out of memory");
        goto done;
    }
    if (data_len) {
        extra = parse_object((const char *)buf + line_len + 1, data_len);
        if (!extra) {
            rc = fail(msg, msg_size, WY_ERROR, "the %zu data bytes of a '%s' event are not a JSON object",
                      data_len, type->valuestring);
            goto done;
        }
        if (merge_into(data, extra) != WY_OK) {
            rc = fail(msg, msg_size, WY_NOMEM, "out of memory");
            goto done;
        }
    }
    memcpy(ev->type, type->valuestring, type_len + 1);
    ev->data = data;
    data = NULL;
    ev->payload = payload_len ? buf + line_len + 1 + data_len : NULL;
    ev->payload_len = payload_len;
    *consumed = total;
    rc = WY_OK;
done:
    cJSON_Delete(extra);
    cJSON_Delete(data);
    cJSON_Delete(h);
    return rc;
}

void wy_event_free(wy_event *ev) {
    if (!ev) return;
    cJSON_Delete(ev->data);
    ev->data = NULL;
}

int wy_event_serialize(const char *type, const cJSON *data, const void *payload, size_t payload_len,
                       uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    char *data_text = NULL, *head_text = NULL;
    int rc = WY_NOMEM;
    cJSON *h = cJSON_CreateObject();
    if (!h || !cJSON_AddStringToObject(h, "type", type) ||
        !cJSON_AddStringToObject(h, "version", WY_PROTOCOL_VERSION))
        goto done;
    size_t data_len = 0;
    if (data && data->child) {
        data_text = cJSON_PrintUnformatted(data);
        if (!data_text) goto done;
        data_len = strlen(data_text);
        if (!cJSON_AddNumberToObject(h, "data_length", (double)data_len)) goto done;
    }
    if (payload_len && !cJSON_AddNumberToObject(h, "payload_length", (double)payload_len)) goto done;
    head_text = cJSON_PrintUnformatted(h);
    if (!head_text) goto done;
    size_t head_len = strlen(head_text);
    size_t total = head_len + 1 + data_len + payload_len;
    uint8_t *b = malloc(total);
    if (!b) goto done;
    memcpy(b, head_text, head_len);
    b[head_len] = '\n';
    if (data_len) memcpy(b + head_len + 1, data_text, data_len);
    if (payload_len) memcpy(b + head_len + 1 + data_len, payload, payload_len);
    *out = b;
    *out_len = total;
    rc = WY_OK;
done:
    free(head_text);
    free(data_text);
    cJSON_Delete(h);
    return rc;
}

/* Length of the sentence-ending mark at s[0..n), or 0.  `wide`: a full-width
 * or script-specific mark, which needs no white space after it. */
static size_t end_mark(const unsigned char *s, size_t n, int *wide) {
    *wide = 0;
    if (s[0] == '.' || s[0] == '!' || s[0] == '?') return 1;
    if (n >= 2 && s[0] == 0xD8 && s[1] == 0x9F) return 2;                       /* ؟ Arabic question mark */
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 && s[2] == 0xA6) return 3;       /* … */
    if (n >= 3 && s[0] == 0xE0 && s[1] == 0xA5 && (s[2] == 0xA4 || s[2] == 0xA5)) { /* । ॥ */
        *wide = 1;
        return 3;
    }
    if (n >= 3 && ((s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x82) ||              /* 。 */
                   (s[0] == 0xEF && s[1] == 0xBC && (s[2] == 0x81 || s[2] == 0x9F)))) { /* ！ ？ */
        *wide = 1;
        return 3;
    }
    return 0;
}

/* Length of a closing quote or bracket at s[0..n), or 0. */
static size_t closer(const unsigned char *s, size_t n) {
    if (s[0] == '"' || s[0] == '\'' || s[0] == ')' || s[0] == ']') return 1;
    if (n >= 2 && s[0] == 0xC2 && s[1] == 0xBB) return 2; /* » */
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 && (s[2] == 0x99 || s[2] == 0x9D)) return 3; /* ’ ” */
    return 0;
}

size_t wy_sentence_end(const char *text, size_t n) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        if (s[i] == '\n') return i + 1;
        int wide, any_wide = 0;
        size_t k = end_mark(s + i, n - i, &wide);
        if (!k) {
            i++;
            continue;
        }
        size_t j = i;
        for (;;) { /* a run of marks, then closing quotes and brackets */
            size_t m = j < n ? end_mark(s + j, n - j, &wide) : 0;
            if (m) {
                any_wide |= wide;
                j += m;
                continue;
            }
            m = j < n ? closer(s + j, n - j) : 0;
            if (!m) break;
            j += m;
        }
        if (j < n && (any_wide || s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n')) return j;
        i = j;
    }
    return 0;
}
