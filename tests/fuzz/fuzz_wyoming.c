/* fuzz_wyoming.c — the Wyoming event parser of `voxtts wyoming`
 * (cli/wyoming_event.c): the input is read as a connection's byte stream,
 * event after event, with the server's limits and with tiny ones.  Every
 * accepted event must lie within the input (its payload is read), its data is
 * printed, and serializing it again must parse back to the same type, data and
 * payload.  The sentence splitter runs over the same bytes. */
#include "fuzz.h"
#include "../../cli/wyoming_event.h"

static void check_event(const uint8_t *base, size_t n, const wy_event *ev, size_t used, const wy_limits *lim) {
    if (used == 0 || used > n) abort();
    if (ev->payload_len > lim->max_payload) abort();
    if (ev->payload && (ev->payload < base || ev->payload + ev->payload_len > base + used)) abort();
    (void)fuzz_touch(ev->payload, ev->payload_len);
    if (!cJSON_IsObject(ev->data) || strlen(ev->type) == 0 || strlen(ev->type) > WY_MAX_TYPE) abort();
    char *d = cJSON_PrintUnformatted(ev->data);
    uint8_t *bytes;
    size_t len;
    if (d && wy_event_serialize(ev->type, ev->data, ev->payload, ev->payload_len, &bytes, &len) == WY_OK) {
        wy_limits big = {len + 1, len + 1, len + 1};
        wy_event back;
        size_t used2;
        if (wy_event_parse(bytes, len, &big, &back, &used2, NULL, 0) == WY_OK) {
            char *d2 = cJSON_PrintUnformatted(back.data);
            if (used2 != len || strcmp(back.type, ev->type) != 0 || back.payload_len != ev->payload_len ||
                (ev->payload_len && memcmp(back.payload, ev->payload, ev->payload_len) != 0) ||
                (d2 && strcmp(d, d2) != 0))
                abort(); /* what we send must read back as it was */
            free(d2);
            wy_event_free(&back);
        }
        free(bytes);
    }
    free(d);
}

static void stream(const uint8_t *data, size_t size, const wy_limits *lim) {
    size_t off = 0;
    char msg[256];
    while (off < size) {
        wy_event ev;
        size_t used = 0;
        int rc = wy_event_parse(data + off, size - off, lim, &ev, &used, msg, sizeof msg);
        if (rc != WY_OK) {
            if (rc != WY_MORE && !msg[0]) abort(); /* an error always says why */
            break;
        }
        check_event(data + off, size - off, &ev, used, lim);
        wy_event_free(&ev);
        off += used;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    wy_limits lim;
    wy_limits_default(&lim);
    stream(data, size, &lim);
    wy_limits tiny = {64, 32, 16};
    stream(data, size, &tiny);
    size_t off = 0, k;
    while ((k = wy_sentence_end((const char *)data + off, size - off)) > 0) {
        if (k > size - off) abort();
        off += k;
    }
    return 0;
}
