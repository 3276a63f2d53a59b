/* test_sha256.c — SHA-256 against the FIPS 180-2 example vectors ("abc", the
 * 448-bit two-block message, one million 'a'), the empty message, incremental
 * updates split at every offset, and whole files. */
#include <stdlib.h>

#include "base/sha256.h"
#include "test.h"
#include "test_files.h"

static const char *hex_of(const void *msg, size_t n, char hex[65]) {
    uint8_t d[32];
    vox_sha256(msg, n, d);
    vox_sha256_hex(d, hex);
    return hex;
}

int main(void) {
    char hex[65];
    CHECK(strcmp(hex_of("abc", 3, hex),
                 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0,
          "abc: %s", hex);
    CHECK(strcmp(hex_of("", 0, hex),
                 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0,
          "empty: %s", hex);
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(strcmp(hex_of(m448, strlen(m448), hex),
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0,
          "448-bit: %s", hex);
    char *mil = malloc(1000000);
    if (!mil) return 2;
    memset(mil, 'a', 1000000);
    CHECK(strcmp(hex_of(mil, 1000000, hex),
                 "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
          "million a: %s", hex);
    /* the same million 'a' fed in uneven pieces */
    vox_sha256_ctx s;
    vox_sha256_init(&s);
    size_t off = 0, step = 1;
    while (off < 1000000) {
        size_t n = step < 1000000 - off ? step : 1000000 - off;
        vox_sha256_update(&s, mil + off, n);
        off += n;
        step = step * 3 % 997 + 1;
    }
    uint8_t d[32];
    vox_sha256_final(&s, d);
    vox_sha256_hex(d, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
          "million a in pieces: %s", hex);
    /* every split point of a 130-byte message gives the one-shot digest */
    unsigned char msg[130];
    for (int i = 0; i < 130; i++) msg[i] = (unsigned char)(i * 37 + 11);
    uint8_t want[32];
    vox_sha256(msg, sizeof msg, want);
    int bad = 0;
    for (size_t cut = 0; cut <= sizeof msg; cut++) {
        vox_sha256_init(&s);
        vox_sha256_update(&s, msg, cut);
        vox_sha256_update(&s, msg + cut, sizeof msg - cut);
        vox_sha256_final(&s, d);
        bad += memcmp(d, want, 32) != 0;
    }
    CHECK(bad == 0, "%d split points disagree", bad);
    /* files: the digest of the bytes; a missing file names itself */
    make_dir("sha");
    char p[512];
    tpath(p, "m.bin");
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(mil, 1, 1000000, f) != 1000000 || fclose(f)) return 2;
    vox_error err = {0};
    CHECK(vox_sha256_file(p, d, &err) == VOX_OK, "%s", err.msg);
    vox_sha256_hex(d, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
          "file: %s", hex);
    tpath(p, "none.bin");
    CHECK(vox_sha256_file(p, d, &err) == VOX_E_IO && strstr(err.msg, p), "missing: %s", err.msg);
    rm_dir();
    free(mil);
    TEST_MAIN_END();
}
