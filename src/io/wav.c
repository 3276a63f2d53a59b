/* wav.c — 16-bit PCM mono RIFF/WAVE output, to a file (atomically) or a stream.
 *
 * The canonical 44-byte header: "RIFF" <size-8> "WAVE", a 16-byte "fmt " chunk
 * (PCM = 1, 1 channel, rate, byte rate = 2*rate, block align 2, 16 bits), then
 * "data" <2n> and the samples, all little endian.  The model's output is not
 * clamped (docs/MODEL.md §6.2), so clamping to [-1, 1] happens here, at the int16
 * conversion. */
#include "io/wav.h"

#include "base/atomic_file.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Samples converted per fwrite when streaming. */
#define WAV_CHUNK 4096

void vox_pcm16_from_f32(const float *in, size_t n, int16_t *out) {
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        if (!(x == x)) x = 0.0f; /* NaN -> silence rather than a random extreme */
        if (x > 1.0f) x = 1.0f;
        if (x < -1.0f) x = -1.0f;
        /* round half away from zero; |x * 32767| <= 32767 so no overflow */
        out[i] = (int16_t)lroundf(x * 32767.0f);
    }
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

/* Arguments shared by both writers; `what` names the destination in messages. */
static int wav_check(const char *what, const float *samples, size_t n, int sample_rate,
                     vox_error *err) {
    if (n && !samples) return vox_fail(err, VOX_E_ARG, "%s: samples is NULL", what);
    if (sample_rate <= 0 || sample_rate > 0x7fffffff / 2)
        return vox_fail(err, VOX_E_ARG, "%s: invalid sample rate %d", what, sample_rate);
    /* RIFF sizes are 32-bit: the whole file must stay below 4 GiB. */
    if (n > (0xffffffffu - 36u) / 2u)
        return vox_fail(err, VOX_E_ARG, "%s: %zu samples do not fit in a WAV file", what, n);
    return VOX_OK;
}

void vox_wav_header(unsigned char h[VOX_WAV_HEADER_BYTES], int sample_rate, uint32_t data_bytes) {
    /* an unknown length keeps the RIFF size "unknown" too instead of wrapping */
    uint32_t riff = data_bytes > 0xffffffffu - 36u ? 0xffffffffu : 36u + data_bytes;
    memcpy(h, "RIFF", 4);
    put_u32(h + 4, riff);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_u32(h + 16, 16);                          /* fmt chunk size */
    put_u16(h + 20, 1);                           /* PCM */
    put_u16(h + 22, 1);                           /* mono */
    put_u32(h + 24, (uint32_t)sample_rate);
    put_u32(h + 28, (uint32_t)sample_rate * 2u);  /* byte rate */
    put_u16(h + 32, 2);                           /* block align */
    put_u16(h + 34, 16);                          /* bits per sample */
    memcpy(h + 36, "data", 4);
    put_u32(h + 40, data_bytes);
}

int vox_wav_write_pcm(FILE *f, const float *samples, size_t n) {
    int16_t pcm[WAV_CHUNK];
    unsigned char le[WAV_CHUNK * 2];
    for (size_t i = 0; i < n; i += WAV_CHUNK) {
        size_t m = n - i < WAV_CHUNK ? n - i : WAV_CHUNK;
        vox_pcm16_from_f32(samples + i, m, pcm);
        for (size_t j = 0; j < m; j++) put_u16(le + 2 * j, (uint16_t)pcm[j]);
        if (fwrite(le, 2, m, f) != m) return -1;
    }
    return 0;
}

static int wav_emit(FILE *f, const char *what, const float *samples, size_t n, int sample_rate,
                    vox_error *err) {
    unsigned char h[VOX_WAV_HEADER_BYTES];
    vox_wav_header(h, sample_rate, (uint32_t)(n * 2));
    if (fwrite(h, 1, sizeof h, f) != sizeof h || vox_wav_write_pcm(f, samples, n) != 0 ||
        fflush(f) != 0)
        return vox_fail(err, VOX_E_IO, "%s: write failed: %s", what, strerror(errno));
    return VOX_OK;
}

int vox_wav_write_stream(FILE *f, const float *samples, size_t n, int sample_rate,
                         vox_error *err) {
    if (!f) return vox_fail(err, VOX_E_ARG, "wav stream: output stream is NULL");
    int rc = wav_check("wav stream", samples, n, sample_rate, err);
    return rc ? rc : wav_emit(f, "wav stream", samples, n, sample_rate, err);
}

int vox_wav_write_file(const char *path, const float *samples, size_t n, int sample_rate,
                       vox_error *err) {
    if (!path) return vox_fail(err, VOX_E_ARG, "wav: path is NULL");
    int rc = wav_check(path, samples, n, sample_rate, err);
    if (rc) return rc;
    vox_atomic_file af;
    if ((rc = vox_atomic_open(&af, path, err))) return rc;
    if ((rc = wav_emit(af.f, path, samples, n, sample_rate, err))) {
        vox_atomic_abort(&af);
        return rc;
    }
    return vox_atomic_commit(&af, path, err);
}
