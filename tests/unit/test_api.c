/* test_api.c — the small parts of the public header (include/voxtts.h): the
 * version macros agree with each other and with voxtts_version(), every error
 * code has its own description and unknown ones a generic one, and
 * voxtts_free takes NULL and the buffers the library hands out. */
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "voxtts.h"

int main(void) {
    char v[64];
    snprintf(v, sizeof v, "%d.%d.%d", VOXTTS_VERSION_MAJOR, VOXTTS_VERSION_MINOR, VOXTTS_VERSION_PATCH);
    CHECK(strcmp(v, VOXTTS_VERSION) == 0, "macros %s vs string %s", v, VOXTTS_VERSION);
    CHECK(strcmp(voxtts_version(), VOXTTS_VERSION) == 0, "library %s vs header %s", voxtts_version(), VOXTTS_VERSION);
    CHECK(VOXTTS_VERSION_NUMBER == VOXTTS_MAKE_VERSION(VOXTTS_VERSION_MAJOR, VOXTTS_VERSION_MINOR, VOXTTS_VERSION_PATCH) &&
              VOXTTS_VERSION_NUMBER >= VOXTTS_MAKE_VERSION(0, 2, 0),
          "version number %d", VOXTTS_VERSION_NUMBER);
    const int codes[] = {VOXTTS_OK, VOXTTS_E_IO, VOXTTS_E_FORMAT, VOXTTS_E_SHAPE, VOXTTS_E_MISSING,
                         VOXTTS_E_ARG, VOXTTS_E_NOMEM, VOXTTS_E_UNSUPPORTED, VOXTTS_E_INTERNAL,
                         VOXTTS_E_CANCELLED};
    const int n = (int)(sizeof codes / sizeof *codes);
    const char *unknown = voxtts_strerror(12345);
    CHECK(unknown && strstr(unknown, "unknown"), "unknown code: %s", unknown ? unknown : "(null)");
    for (int i = 0; i < n; i++) {
        const char *s = voxtts_strerror(codes[i]);
        CHECK(s && *s && strcmp(s, unknown) != 0, "code %d has a description", codes[i]);
        for (int j = 0; j < i; j++) CHECK(strcmp(s, voxtts_strerror(codes[j])) != 0, "codes %d and %d differ", codes[i], codes[j]);
    }
    voxtts_free(NULL);
    voxtts_tokenizer *tk = NULL;
    voxtts_error err = {0};
    CHECK(voxtts_tokenizer_load("tests/models/tiny-a", &tk, &err) == VOXTTS_OK, "tokenizer: %s", err.msg);
    if (tk) {
        int32_t *ids = NULL;
        size_t n_ids = 0;
        CHECK(voxtts_tokenize(tk, "Hello.", 6, &ids, &n_ids, &err) == VOXTTS_OK && n_ids > 0, "tokenize");
        voxtts_free(ids); /* the documented way to release them (ASan checks the pairing) */
        voxtts_tokenizer_free(tk);
    }
    TEST_MAIN_END();
}
