/* fuzz_http_json.c — the JSON body of POST /v1/audio/speech as `voxtts serve`
 * checks it (cli/serve_request.c): any bytes must give either a request whose
 * voice is in the list and whose input respects the limit, or a refusal with
 * a 4xx/5xx status and a message.  (HTTP framing itself is libmicrohttpd's.) */
#include "fuzz.h"
#include "serve_request.h"

static size_t utf8_len(const char *t) {
    size_t n = 0;
    for (; *t; t++) n += ((unsigned char)*t & 0xC0) != 0x80;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const voices[] = {"neutral_female", "fr_male", "mine"};
    serve_request r;
    serve_reject rej;
    if (serve_request_parse((const char *)data, size, voices, 3, 200, &r, &rej) == 0) {
        if (r.voice < 0 || r.voice >= 3 || !r.input || utf8_len(r.input) > 200) abort();
        serve_request_free(&r);
    } else if (rej.status < 400 || rej.status > 599 || !rej.msg[0]) {
        abort();
    }
    return 0;
}
