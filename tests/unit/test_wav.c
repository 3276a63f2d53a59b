/* test_wav.c — 16-bit PCM WAV output: the int16 conversion (clamp, scale 32767,
 * round to nearest), the exact 44-byte header, atomic file replacement, the
 * stream variant, and argument errors that leave no file behind. */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/wav.h"
#include "test.h"
#include "test_files.h"

static uint32_t u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t u16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

static void check_header(const unsigned char *b, size_t n_samples, int rate) {
    CHECK(memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WAVEfmt ", 8) == 0, "RIFF/WAVE/fmt tags");
    CHECK(u32(b + 4) == 36 + 2 * n_samples, "RIFF size %u", u32(b + 4));
    CHECK(u32(b + 16) == 16 && u16(b + 20) == 1 && u16(b + 22) == 1, "PCM mono fmt chunk");
    CHECK(u32(b + 24) == (uint32_t)rate && u32(b + 28) == (uint32_t)rate * 2, "rates");
    CHECK(u16(b + 32) == 2 && u16(b + 34) == 16, "block align / bits");
    CHECK(memcmp(b + 36, "data", 4) == 0 && u32(b + 40) == 2 * n_samples, "data chunk");
}

static void test_pcm(void) {
    float in[12] = {0.0f, 1.0f, -1.0f, 2.0f, -3.0f, 0.5f, -0.5f, 1.0f / 32767.0f, NAN, INFINITY,
                    -INFINITY, 0.25f};
    int16_t want[12] = {0, 32767, -32767, 32767, -32767, 16384, -16384, 1, 0, 32767, -32767, 8192};
    int16_t out[12];
    vox_pcm16_from_f32(in, 12, out);
    for (int i = 0; i < 12; i++) CHECK(out[i] == want[i], "sample %d: %d want %d", i, out[i], want[i]);
}

static void test_file(void) {
    char p[512];
    snprintf(p, sizeof p, "%s/out.wav", g_dir);
    enum { N = 10000 }; /* more than one internal chunk */
    float *s = malloc(N * sizeof *s);
    for (int i = 0; i < N; i++) s[i] = (float)(i % 200) / 100.0f - 1.0f;
    vox_error err = {0};
    CHECK(vox_wav_write_file(p, s, N, 24000, &err) == VOX_OK, "write: %s", err.msg);
    size_t n;
    unsigned char *b = read_bytes(p, &n);
    CHECK(b && n == 44 + 2 * N, "file size %zu", n);
    if (b && n == 44 + 2 * N) {
        check_header(b, N, 24000);
        int16_t pcm[N];
        vox_pcm16_from_f32(s, N, pcm);
        int ok = 1;
        for (int i = 0; i < N; i++) ok &= (int16_t)u16(b + 44 + 2 * i) == pcm[i];
        CHECK(ok, "samples little endian");
    }
    free(b);
    /* overwrite: the new content replaces the old one, no temp remains */
    CHECK(vox_wav_write_file(p, s, 3, 16000, &err) == VOX_OK, "rewrite: %s", err.msg);
    b = read_bytes(p, &n);
    CHECK(b && n == 50, "rewritten size %zu", n);
    if (b && n == 50) check_header(b, 3, 16000);
    free(b);
    CHECK(count_dir_entries() == 1, "no temp files");
    /* empty audio is a valid file */
    CHECK(vox_wav_write_file(p, NULL, 0, 24000, &err) == VOX_OK, "empty: %s", err.msg);

    /* errors: nothing created */
    char q[512];
    snprintf(q, sizeof q, "%s/bad.wav", g_dir);
    CHECK(vox_wav_write_file(q, s, N, 0, &err) == VOX_E_ARG && strstr(err.msg, q), "rate 0: %s", err.msg);
    CHECK(vox_wav_write_file(q, NULL, 5, 24000, &err) == VOX_E_ARG, "NULL samples");
    CHECK(access(q, F_OK) != 0, "no file after argument errors");
    snprintf(q, sizeof q, "%s/no/dir/x.wav", g_dir);
    CHECK(vox_wav_write_file(q, s, N, 24000, &err) == VOX_E_IO && strstr(err.msg, q), "unwritable: %s", err.msg);
    CHECK(count_dir_entries() == 1, "still only out.wav");
    free(s);
}

static void test_stream(void) {
    FILE *f = tmpfile();
    CHECK(f != NULL, "tmpfile");
    if (!f) return;
    float s[5] = {0.1f, -0.2f, 0.3f, 1.5f, -1.5f};
    vox_error err = {0};
    CHECK(vox_wav_write_stream(f, s, 5, 24000, &err) == VOX_OK, "stream: %s", err.msg);
    long n = ftell(f);
    CHECK(n == 54, "stream size %ld", n);
    unsigned char b[54];
    rewind(f);
    CHECK(fread(b, 1, 54, f) == 54, "read back");
    check_header(b, 5, 24000);
    CHECK((int16_t)u16(b + 44 + 6) == 32767 && (int16_t)u16(b + 44 + 8) == -32767, "clamped");
    fclose(f);
    CHECK(vox_wav_write_stream(NULL, s, 5, 24000, &err) == VOX_E_ARG, "NULL stream");
    CHECK(vox_wav_write_stream(stdout, s, 5, -1, &err) == VOX_E_ARG, "negative rate");
}

/* The header alone: exact sizes, and the "unknown length" form streaming uses. */
static void test_header(void) {
    unsigned char h[VOX_WAV_HEADER_BYTES];
    vox_wav_header(h, 24000, 3840);
    uint32_t riff = h[4] | h[5] << 8 | h[6] << 16 | (uint32_t)h[7] << 24;
    uint32_t data = h[40] | h[41] << 8 | h[42] << 16 | (uint32_t)h[43] << 24;
    uint32_t rate = h[24] | h[25] << 8 | h[26] << 16 | (uint32_t)h[27] << 24;
    CHECK(!memcmp(h, "RIFF", 4) && !memcmp(h + 8, "WAVEfmt ", 8) && !memcmp(h + 36, "data", 4),
          "chunk ids");
    CHECK(riff == 36 + 3840 && data == 3840 && rate == 24000, "sizes %u %u rate %u", riff, data, rate);
    vox_wav_header(h, 24000, 0xFFFFFFFFu);
    riff = h[4] | h[5] << 8 | h[6] << 16 | (uint32_t)h[7] << 24;
    data = h[40] | h[41] << 8 | h[42] << 16 | (uint32_t)h[43] << 24;
    CHECK(riff == 0xFFFFFFFFu && data == 0xFFFFFFFFu, "unknown length: riff %u data %u", riff, data);
}

int main(void) {
    make_dir("wav");
    test_pcm();
    test_file();
    test_stream();
    test_header();
    rm_dir();
    TEST_MAIN_END();
}
