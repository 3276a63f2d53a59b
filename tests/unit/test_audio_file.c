/* test_audio_file.c — audio files in and out (src/io/audio_file.c).
 *
 * Input: a 1.3 s 440 Hz sine is written with libsndfile itself as WAV (u8, s16,
 * s24, s32, float), FLAC, Ogg/Vorbis, Ogg/Opus and MP3 at 8000..48000 Hz with
 * 1, 2, 3 and 6 channels of different amplitudes, then read back with
 * vox_audio_read at 24 kHz: the length (within the resampler's rounding and the
 * codec's framing), the RMS of the mono mix (the mean of the channels) and the
 * dominant frequency, with tolerances per codec.  Resampling alone, the
 * streaming resampler against the one-shot one, and every bad input (missing,
 * text, truncated header, 0 frames, 0 bytes, a directory, too long, NaN).
 *
 * Output: every format written with the streaming writer in uneven chunks and
 * read back with libsndfile (rate, length, bit-exact samples for the lossless
 * ones, clamping, NaN), with resampling, into a pipe, into a descriptor at an
 * offset and one opened for appending, onto a full device, and the atomic
 * rule: nothing but the finished file is ever left in the directory. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/audio_file.h"
#include "io/wav.h"
#include "test.h"
#include "test_files.h"

#define SINE_HZ 440.0
#define SECONDS 1.3
#define OUT_RATE 24000

static const double PI = 3.14159265358979323846;

/* ---- signal measures ---------------------------------------------------------- */

static double rms(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0.0;
}

/* Amplitude of the sinusoid at f over the whole signal (2|X(f)|/n). */
static double amp_at(const float *x, size_t n, double f, int rate) {
    double w = 2 * PI * f / rate, re = 0, im = 0;
    for (size_t i = 0; i < n; i++) {
        re += x[i] * cos(w * (double)i);
        im -= x[i] * sin(w * (double)i);
    }
    return n ? 2 * sqrt(re * re + im * im) / (double)n : 0.0;
}

/* The strongest of 100, 120, ..., 2000 Hz. */
static int dominant_hz(const float *x, size_t n, int rate) {
    int best = 0;
    double ba = -1;
    for (int f = 100; f <= 2000; f += 20) {
        double a = amp_at(x, n, f, rate);
        if (a > ba) ba = a, best = f;
    }
    return best;
}

/* Share of the power in the 440 Hz sinusoid. */
static double purity(const float *x, size_t n, int rate) {
    double a = amp_at(x, n, SINE_HZ, rate), r = rms(x, n);
    return r > 0 ? (a * a / 2) / (r * r) : 0.0;
}

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* ---- fixtures written with libsndfile ------------------------------------------ */

/* Channel c of the test signal has amplitude amp(c); the mono mix (mean) is a
 * sine of amplitude mean_amp(ch). */
static double amp(int c) { return 0.6 - 0.08 * c; }
static double mean_amp(int ch) {
    double s = 0;
    for (int c = 0; c < ch; c++) s += amp(c);
    return s / ch;
}

/* Write `frames` frames of the sine at `rate` with `ch` channels; 0 on success. */
static int write_sine(const char *path, int format, int rate, int ch, size_t frames) {
    SF_INFO si;
    memset(&si, 0, sizeof si);
    si.samplerate = rate;
    si.channels = ch;
    si.format = format;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &si);
    if (!sf) {
        fprintf(stderr, "fixture %s: %s\n", path, sf_strerror(NULL));
        return -1;
    }
    float *buf = malloc(frames * (size_t)ch * sizeof *buf);
    if (!buf) exit(2);
    for (size_t i = 0; i < frames; i++)
        for (int c = 0; c < ch; c++)
            buf[i * ch + c] = (float)(amp(c) * sin(2 * PI * SINE_HZ * (double)i / rate));
    sf_count_t w = sf_writef_float(sf, buf, (sf_count_t)frames);
    free(buf);
    int e = sf_close(sf);
    return w == (sf_count_t)frames && e == 0 ? 0 : -1;
}

typedef struct {
    const char *name;
    int format, rate, ch;
    const char *want_format, *want_encoding;
    size_t len_tol;    /* |n - 31200| at 24 kHz */
    double rms_tol;    /* relative */
    double min_purity; /* share of the power at 440 Hz */
} in_case;

static void test_read_formats(void) {
    static const in_case cases[] = {
        {"u8.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 8000, 1, "wav", "u8", 2, 0.02, 0.99},
        {"s16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 2, "wav", "s16", 2, 0.01, 0.999},
        {"s24.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 22050, 6, "wav", "s24", 2, 0.01, 0.999},
        {"s32.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_32, 44100, 2, "wav", "s32", 2, 0.01, 0.999},
        {"f32.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 1, "wav", "f32", 2, 0.01, 0.999},
        {"odd.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 3, "wav", "s16", 2, 0.01, 0.999},
        {"s16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, "flac", "s16", 2, 0.01, 0.999},
        {"s24.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 48000, 6, "flac", "s24", 2, 0.01, 0.999},
        {"mono.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 22050, 1, "ogg/vorbis", "vorbis", 2, 0.05, 0.98},
        {"st.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, 2, "ogg/vorbis", "vorbis", 2, 0.05, 0.98},
        {"three.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 48000, 3, "ogg/vorbis", "vorbis", 2, 0.05, 0.98},
        {"st.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 2, "ogg/opus", "opus", 2, 0.05, 0.98},
        {"mono.opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 16000, 1, "ogg/opus", "opus", 2, 0.05, 0.98},
        {"st.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100, 2, "mp3", "mp3", 2, 0.05, 0.98},
        {"mono.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 24000, 1, "mp3", "mp3", 2, 0.05, 0.98},
        {"low.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 8000, 1, "mp3", "mp3", 2, 0.05, 0.98},
    };
    const size_t want_n = (size_t)lround(SECONDS * OUT_RATE);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const in_case *c = &cases[k];
        char p[512];
        tpath(p, c->name);
        size_t frames = (size_t)lround(SECONDS * c->rate);
        if (write_sine(p, c->format, c->rate, c->ch, frames) != 0) {
            CHECK(0, "%s: cannot write the fixture", c->name);
            continue;
        }
        float *x = NULL;
        size_t n = 0;
        vox_audio_info info;
        vox_error err = {0};
        int rc = vox_audio_read(p, OUT_RATE, 10.0, &x, &n, &info, &err);
        CHECK(rc == VOX_OK, "%s: %s", c->name, err.msg);
        if (rc != VOX_OK) continue;
        CHECK(info.rate == c->rate && info.channels == c->ch, "%s: info %d Hz %d ch", c->name,
              info.rate, info.channels);
        CHECK(strcmp(info.format, c->want_format) == 0 && strcmp(info.encoding, c->want_encoding) == 0,
              "%s: format %s/%s", c->name, info.format, info.encoding);
        size_t dn = n > want_n ? n - want_n : want_n - n;
        size_t df = info.frames > frames ? info.frames - frames : frames - info.frames;
        CHECK(dn <= c->len_tol, "%s: %zu samples at 24 kHz, want %zu +- %zu", c->name, n, want_n,
              c->len_tol);
        CHECK(df <= c->len_tol * (size_t)c->rate / OUT_RATE + 1, "%s: %zu frames decoded, wrote %zu",
              c->name, info.frames, frames);
        double want_rms = mean_amp(c->ch) / sqrt(2.0), r = rms(x, n);
        CHECK(fabs(r - want_rms) <= c->rms_tol * want_rms, "%s: rms %.5f want %.5f", c->name, r,
              want_rms);
        CHECK(dominant_hz(x, n, OUT_RATE) == 440, "%s: dominant %d Hz", c->name,
              dominant_hz(x, n, OUT_RATE));
        double pu = purity(x, n, OUT_RATE);
        CHECK(pu >= c->min_purity, "%s: purity %.5f", c->name, pu);
        CHECK(all_finite(x, n), "%s: finite", c->name);
        if (getenv("VOX_TEST_VERBOSE"))
            fprintf(stderr, "%-10s n=%zu frames=%zu/%zu rms=%.5f/%.5f purity=%.5f\n", c->name, n,
                    info.frames, frames, r, want_rms, pu);
        free(x);
        unlink(p);
    }
}

/* At the file's own rate nothing is resampled: 16-bit samples come back exactly. */
static void test_read_exact(void) {
    char p[512];
    tpath(p, "exact.wav");
    size_t frames = 5000;
    CHECK(write_sine(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, OUT_RATE, 2, frames) == 0, "fixture");
    SF_INFO si;
    memset(&si, 0, sizeof si);
    SNDFILE *sf = sf_open(p, SFM_READ, &si);
    short *pcm = malloc(frames * 2 * sizeof *pcm);
    CHECK(sf && pcm && sf_readf_short(sf, pcm, (sf_count_t)frames) == (sf_count_t)frames,
          "reference read");
    if (sf) sf_close(sf);
    float *x = NULL;
    size_t n = 0;
    vox_error err = {0};
    for (int rate = 0; rate <= OUT_RATE; rate += OUT_RATE) { /* 0: the file's rate */
        CHECK(vox_audio_read(p, rate, 0, &x, &n, NULL, &err) == VOX_OK, "read: %s", err.msg);
        CHECK(n == frames, "rate %d: %zu samples", rate, n);
        int ok = n == frames && pcm;
        for (size_t i = 0; ok && i < n; i++)
            ok = x[i] == (float)(((double)pcm[2 * i] / 32768.0 + (double)pcm[2 * i + 1] / 32768.0) / 2);
        CHECK(ok, "rate %d: samples are the mean of the channels, exactly", rate);
        free(x);
        x = NULL;
    }
    free(pcm);
    unlink(p);
}

/* Raw bytes of a canonical WAV header. */
static void wav_bytes(unsigned char *h, int fmt_tag, int ch, int rate, int bits, uint32_t data) {
    int align = ch * bits / 8;
    memcpy(h, "RIFF", 4);
    uint32_t v[] = {36 + data};
    memcpy(h + 4, v, 4); /* the tests run on little-endian machines only (x86-64, aarch64) */
    memcpy(h + 8, "WAVEfmt ", 8);
    uint32_t sz = 16, r = (uint32_t)rate, br = (uint32_t)(rate * align);
    uint16_t tag = (uint16_t)fmt_tag, c = (uint16_t)ch, al = (uint16_t)align, b = (uint16_t)bits;
    memcpy(h + 16, &sz, 4);
    memcpy(h + 20, &tag, 2);
    memcpy(h + 22, &c, 2);
    memcpy(h + 24, &r, 4);
    memcpy(h + 28, &br, 4);
    memcpy(h + 32, &al, 2);
    memcpy(h + 34, &b, 2);
    memcpy(h + 36, "data", 4);
    memcpy(h + 40, &data, 4);
}

static void expect_read_error(const char *label, const char *path, int rate, double max_s,
                              int code, const char *needle) {
    float *x = (float *)&x; /* must come back NULL */
    size_t n = 123;
    vox_error err = {0};
    int rc = vox_audio_read(path, rate, max_s, &x, &n, NULL, &err);
    CHECK(rc == code, "%s: code %d want %d (%s)", label, rc, code, err.msg);
    CHECK(x == NULL && n == 0, "%s: no output", label);
    CHECK(strstr(err.msg, path) != NULL, "%s: message names the file: %s", label, err.msg);
    CHECK(strstr(err.msg, needle) != NULL, "%s: message says '%s': %s", label, needle, err.msg);
}

static void test_read_errors(void) {
    char p[512], q[512];
    expect_read_error("missing file", tpath(p, "nope.wav"), OUT_RATE, 0, VOX_E_IO, "cannot open");
    expect_read_error("directory", g_dir, OUT_RATE, 0, VOX_E_IO, "directory");
    const char *text = "This is not a WAV file at all.\nJust some words.\n";
    write_bytes(tpath(p, "text.wav"), text, strlen(text));
    expect_read_error("text named .wav", p, OUT_RATE, 0, VOX_E_FORMAT, "not an audio file");
    write_bytes(tpath(p, "zero.wav"), "", 0);
    expect_read_error("0-byte file", p, OUT_RATE, 0, VOX_E_FORMAT, "not an audio file");

    /* a valid file cut inside its header */
    CHECK(write_sine(tpath(q, "full.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 1000) == 0,
          "fixture");
    size_t nb;
    unsigned char *b = read_bytes(q, &nb);
    CHECK(b && nb > 44, "fixture bytes");
    if (b) {
        write_bytes(tpath(p, "cut.wav"), b, 30);
        expect_read_error("truncated WAV header", p, OUT_RATE, 0, VOX_E_FORMAT,
                          "not an audio file");
    }
    free(b);

    /* a well-formed WAV with no samples */
    unsigned char h[44];
    wav_bytes(h, 1, 1, 16000, 16, 0);
    write_bytes(tpath(p, "empty.wav"), h, sizeof h);
    expect_read_error("0-frame WAV", p, OUT_RATE, 0, VOX_E_ARG, "empty");

    /* too long: from the header (WAV) and while decoding (MP3, whose length is estimated) */
    CHECK(write_sine(tpath(p, "long.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 2, 32000) == 0,
          "fixture");
    expect_read_error("2 s WAV, 1.5 s allowed", p, OUT_RATE, 1.5, VOX_E_ARG, "longer than");
    float *x = NULL;
    size_t n = 0;
    vox_error err = {0};
    CHECK(vox_audio_read(p, OUT_RATE, 2.5, &x, &n, NULL, &err) == VOX_OK && n == 48000,
          "2 s WAV, 2.5 s allowed: %zu %s", n, err.msg);
    free(x);
    CHECK(write_sine(tpath(p, "long.mp3"), SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 24000, 1,
                     48000) == 0,
          "fixture");
    expect_read_error("2 s MP3, 1 s allowed", p, OUT_RATE, 1.0, VOX_E_ARG, "longer than");

    expect_read_error("requested rate 100 Hz", q, 100, 0, VOX_E_ARG, "sample rate");
    expect_read_error("requested rate -1", q, -1, 0, VOX_E_ARG, "sample rate");

    /* a header claiming ~4 GB of data over 1000 frames: only what is there is read */
    unsigned char big[44 + 2000];
    wav_bytes(big, 1, 1, 16000, 16, 0xFFFFFFF0u);
    for (int i = 0; i < 1000; i++) {
        int16_t s = (int16_t)(8000 * sin(2 * PI * 440 * i / 16000.0));
        memcpy(big + 44 + 2 * i, &s, 2);
    }
    write_bytes(tpath(p, "liar.wav"), big, sizeof big);
    x = NULL;
    CHECK(vox_audio_read(p, 0, 0, &x, &n, NULL, &err) == VOX_OK && n == 1000,
          "header claiming 4 GB: %zu samples (%s)", n, err.msg);
    free(x);
    x = NULL;
    CHECK(vox_audio_read(p, 0, 0.01, &x, &n, NULL, &err) == VOX_E_ARG,
          "header claiming 4 GB, 10 ms allowed: %s", err.msg);
    free(x);

    /* a 500 Hz file: read as it is, but not resampled (ratio 48) */
    unsigned char lo[44 + 200];
    wav_bytes(lo, 1, 1, 500, 16, 200);
    memset(lo + 44, 0, 200);
    write_bytes(tpath(p, "lo.wav"), lo, sizeof lo);
    expect_read_error("500 Hz file to 24 kHz", p, OUT_RATE, 0, VOX_E_UNSUPPORTED, "500 Hz");
    x = NULL;
    CHECK(vox_audio_read(p, 0, 0, &x, &n, NULL, &err) == VOX_OK && n == 100, "500 Hz as is: %s",
          err.msg);
    free(x);

    /* NaN and infinities in a float WAV read as silence */
    unsigned char fw[44 + 4 * 6];
    wav_bytes(fw, 3, 2, 24000, 32, 4 * 6);
    float fs[6] = {NAN, 0.5f, INFINITY, -INFINITY, 0.25f, 0.25f};
    memcpy(fw + 44, fs, sizeof fs);
    write_bytes(tpath(p, "nan.wav"), fw, sizeof fw);
    x = NULL;
    CHECK(vox_audio_read(p, 0, 0, &x, &n, NULL, &err) == VOX_OK && n == 3, "NaN WAV: %s", err.msg);
    if (x && n == 3)
        CHECK(x[0] == 0.25f && x[1] == 0.0f && x[2] == 0.25f, "NaN/inf as 0: %g %g %g", x[0], x[1],
              x[2]);
    free(x);
    x = NULL;
    CHECK(vox_audio_read(p, 16000, 0, &x, &n, NULL, &err) == VOX_OK && all_finite(x, n),
          "NaN WAV resampled stays finite: %s", err.msg);
    free(x);
    CHECK(vox_audio_read(NULL, 0, 0, &x, &n, NULL, &err) == VOX_E_ARG, "NULL path");
}

/* ---- resampling ------------------------------------------------------------------ */

static float *sine(size_t n, int rate, double a) {
    float *x = malloc(n * sizeof *x);
    if (!x) exit(2);
    for (size_t i = 0; i < n; i++) x[i] = (float)(a * sin(2 * PI * SINE_HZ * (double)i / rate));
    return x;
}

static void test_resample(void) {
    const size_t n = 31200;
    float *x = sine(n, OUT_RATE, 0.5), *y = NULL;
    size_t m = 0;
    vox_error err = {0};
    CHECK(vox_audio_resample(x, n, OUT_RATE, 16000, &y, &m, &err) == VOX_OK, "%s", err.msg);
    CHECK(m >= 20799 && m <= 20801, "24k -> 16k: %zu samples", m);
    CHECK(dominant_hz(y, m, 16000) == 440 && fabs(rms(y, m) - 0.5 / sqrt(2.0)) < 0.005,
          "24k -> 16k content: rms %.4f", rms(y, m));
    free(y);
    CHECK(vox_audio_resample(x, n, OUT_RATE, OUT_RATE, &y, &m, &err) == VOX_OK && m == n &&
              memcmp(x, y, n * sizeof *x) == 0,
          "same rate copies");
    free(y);
    CHECK(vox_audio_resample(x, 0, OUT_RATE, 16000, &y, &m, &err) == VOX_OK && m == 0, "empty");
    free(y);
    CHECK(vox_audio_resample(x, n, 0, 16000, &y, &m, &err) == VOX_E_ARG && y == NULL, "rate 0");
    CHECK(vox_audio_resample(x, n, OUT_RATE, -3, &y, &m, &err) == VOX_E_ARG, "rate -3");
    CHECK(vox_audio_resample(NULL, n, OUT_RATE, 16000, &y, &m, &err) == VOX_E_ARG, "NULL input");
    CHECK(vox_audio_resample(x, n, 1000, 768000, &y, &m, &err) == VOX_E_UNSUPPORTED,
          "ratio 768: %s", err.msg);

    /* streaming in uneven pieces = one shot */
    static const int rates[][2] = {{24000, 44100}, {24000, 16000}, {24000, 48000}};
    for (int k = 0; k < 3; k++) {
        float *ref = NULL;
        size_t nref = 0;
        CHECK(vox_audio_resample(x, n, rates[k][0], rates[k][1], &ref, &nref, &err) == VOX_OK,
              "oneshot");
        vox_resampler *r = NULL;
        CHECK(vox_resampler_new(&r, rates[k][0], rates[k][1], &err) == VOX_OK, "new: %s", err.msg);
        if (!r || !ref) {
            free(ref);
            vox_resampler_free(r);
            continue;
        }
        float *got = malloc((nref + 4096) * sizeof *got);
        size_t ng = 0, pieces[] = {1, 1919, 4096, 7, 3000};
        const float *o;
        size_t no;
        int ok = 1;
        for (size_t i = 0, p = 0; i < n; p++) {
            size_t len = pieces[p % 5] < n - i ? pieces[p % 5] : n - i;
            ok &= vox_resampler_process(r, x + i, len, &o, &no, &err) == VOX_OK;
            if (ng + no <= nref + 4096) memcpy(got + ng, o, no * sizeof *o);
            ng += no;
            i += len;
        }
        ok &= vox_resampler_flush(r, &o, &no, &err) == VOX_OK;
        if (ng + no <= nref + 4096) memcpy(got + ng, o, no * sizeof *o);
        ng += no;
        CHECK(ok, "stream %d -> %d: %s", rates[k][0], rates[k][1], err.msg);
        CHECK(ng == nref, "stream %d -> %d: %zu samples, one shot %zu", rates[k][0], rates[k][1],
              ng, nref);
        double md = 0;
        for (size_t i = 0; i < ng && i < nref; i++)
            if (fabs(got[i] - ref[i]) > md) md = fabs(got[i] - ref[i]);
        CHECK(md < 1e-4, "stream %d -> %d: max difference %g", rates[k][0], rates[k][1], md);
        free(got);
        free(ref);
        vox_resampler_free(r);
    }
    vox_resampler *r = (vox_resampler *)&r;
    CHECK(vox_resampler_new(&r, 24000, 10, &err) == VOX_E_ARG && r == NULL, "resampler rate 10");
    free(x);
}

/* ---- writing --------------------------------------------------------------------- */

/* The output test signal: the sine with a NaN and two out-of-range samples. */
static float *out_signal(size_t n) {
    float *x = sine(n, OUT_RATE, 0.5);
    x[0] = NAN;
    x[1] = 1.5f;
    x[2] = -2.0f;
    return x;
}

/* Write x through the writer in uneven pieces. */
static int write_pieces(vox_audio_writer *w, const float *x, size_t n, vox_error *err) {
    static const size_t pieces[] = {1000, 1, 4500, 333, 1920};
    for (size_t i = 0, p = 0; i < n; p++) {
        size_t len = pieces[p % 5] < n - i ? pieces[p % 5] : n - i;
        int rc = vox_audio_writer_write(w, x + i, len, err);
        if (rc) return rc;
        i += len;
    }
    return VOX_OK;
}

typedef struct {
    vox_audio_format f;
    const char *name;
    int float32, rate, sf_major, sf_sub;
    size_t len_tol;
} out_case;

static const out_case out_cases[] = {
    {VOX_AUDIO_WAV, "o16.wav", 0, 24000, SF_FORMAT_WAV, SF_FORMAT_PCM_16, 0},
    {VOX_AUDIO_WAV, "of.wav", 1, 24000, SF_FORMAT_WAV, SF_FORMAT_FLOAT, 0},
    {VOX_AUDIO_PCM, "o.pcm", 0, 24000, SF_FORMAT_RAW, SF_FORMAT_PCM_16, 0},
    {VOX_AUDIO_FLAC, "o.flac", 0, 24000, SF_FORMAT_FLAC, SF_FORMAT_PCM_16, 0},
    {VOX_AUDIO_OGG, "o.ogg", 0, 24000, SF_FORMAT_OGG, SF_FORMAT_VORBIS, 2},
    {VOX_AUDIO_OPUS, "o.opus", 0, 24000, SF_FORMAT_OGG, SF_FORMAT_OPUS, 2},
    {VOX_AUDIO_MP3, "o.mp3", 0, 24000, SF_FORMAT_MPEG, SF_FORMAT_MPEG_LAYER_III, 2},
    {VOX_AUDIO_OGG, "o8k.ogg", 0, 8000, SF_FORMAT_OGG, SF_FORMAT_VORBIS, 2},
    {VOX_AUDIO_MP3, "o44.mp3", 0, 44100, SF_FORMAT_MPEG, SF_FORMAT_MPEG_LAYER_III, 2},
    {VOX_AUDIO_OPUS, "o48.opus", 0, 48000, SF_FORMAT_OGG, SF_FORMAT_OPUS, 2},
    {VOX_AUDIO_FLAC, "o48.flac", 0, 48000, SF_FORMAT_FLAC, SF_FORMAT_PCM_16, 2},
};

/* Read back what a writer made (libsndfile, not our reader) and check it
 * against the 24 kHz signal x[n] it was given. */
static void check_written(const out_case *c, const char *path, const char *how, const float *x,
                          size_t n) {
    SF_INFO si;
    memset(&si, 0, sizeof si);
    if (c->f == VOX_AUDIO_PCM) {
        si.samplerate = c->rate;
        si.channels = 1;
        si.format = SF_FORMAT_RAW | SF_FORMAT_PCM_16 | SF_ENDIAN_LITTLE;
    }
    SNDFILE *sf = sf_open(path, SFM_READ, &si);
    CHECK(sf != NULL, "%s %s: libsndfile opens it: %s", c->name, how, sf_strerror(NULL));
    if (!sf) return;
    CHECK((si.format & SF_FORMAT_TYPEMASK) == c->sf_major &&
              (si.format & SF_FORMAT_SUBMASK) == c->sf_sub,
          "%s %s: format %x", c->name, how, si.format);
    CHECK(si.samplerate == c->rate && si.channels == 1, "%s %s: %d Hz, %d ch", c->name, how,
          si.samplerate, si.channels);
    size_t want = c->rate == OUT_RATE ? n : (size_t)lround((double)n * c->rate / OUT_RATE);
    size_t cap = want + 100000;
    float *y = malloc(cap * sizeof *y);
    short *s = malloc(cap * sizeof *s);
    size_t got = 0;
    if (c->sf_sub == SF_FORMAT_PCM_16 && c->rate == OUT_RATE) {
        sf_count_t k;
        while (got < cap && (k = sf_read_short(sf, s + got, (sf_count_t)(cap - got))) > 0)
            got += (size_t)k;
        for (size_t i = 0; i < got; i++) y[i] = s[i] / 32768.0f;
    } else {
        sf_count_t k;
        while (got < cap && (k = sf_read_float(sf, y + got, (sf_count_t)(cap - got))) > 0)
            got += (size_t)k;
    }
    sf_close(sf);
    size_t d = got > want ? got - want : want - got;
    CHECK(d <= c->len_tol, "%s %s: %zu samples, want %zu", c->name, how, got, want);
    if (c->sf_sub == SF_FORMAT_PCM_16 && c->rate == OUT_RATE) {
        int16_t *ref = malloc(n * sizeof *ref);
        vox_pcm16_from_f32(x, n, ref);
        int ok = got == n;
        for (size_t i = 0; ok && i < n; i++) ok = s[i] == ref[i];
        CHECK(ok, "%s %s: 16-bit samples exact", c->name, how);
        CHECK(got > 2 && s[0] == 0 && s[1] == 32767 && s[2] == -32767,
              "%s %s: NaN -> 0, clamped to +-32767", c->name, how);
        free(ref);
    } else if (c->sf_sub == SF_FORMAT_FLOAT) {
        int ok = got == n;
        for (size_t i = 3; ok && i < n; i++) ok = y[i] == x[i];
        CHECK(ok && y[0] == 0.0f && y[1] == 1.5f && y[2] == -2.0f,
              "%s %s: float samples exact, NaN -> 0, not clamped", c->name, how);
    }
    if (got > 1000) {
        double a = amp_at(y, got, SINE_HZ, c->rate);
        CHECK(fabs(a - 0.5) < 0.05, "%s %s: 440 Hz amplitude %.4f", c->name, how, a);
        CHECK(dominant_hz(y, got, c->rate) == 440, "%s %s: dominant %d Hz", c->name, how,
              dominant_hz(y, got, c->rate));
        CHECK(all_finite(y, got), "%s %s: finite", c->name, how);
        if (getenv("VOX_TEST_VERBOSE"))
            fprintf(stderr, "%-9s %-6s got=%zu want=%zu amp=%.4f\n", c->name, how, got, want, a);
    }
    free(y);
    free(s);
}

static void test_write_formats(void) {
    const size_t n = (size_t)lround(SECONDS * OUT_RATE);
    float *x = out_signal(n);
    for (size_t k = 0; k < sizeof out_cases / sizeof out_cases[0]; k++) {
        const out_case *c = &out_cases[k];
        char p[512];
        tpath(p, c->name);
        vox_audio_writer_opts o = {c->float32, OUT_RATE};
        vox_audio_writer *w = NULL;
        vox_error err = {0};
        int rc = vox_audio_writer_open(&w, p, c->f, c->rate, &o, &err);
        CHECK(rc == VOX_OK, "%s: open: %s", c->name, err.msg);
        if (rc) continue;
        CHECK(access(p, F_OK) != 0, "%s: nothing at the path before close", c->name);
        rc = write_pieces(w, x, n, &err);
        CHECK(rc == VOX_OK, "%s: write: %s", c->name, err.msg);
        rc = vox_audio_writer_close(w, &err);
        CHECK(rc == VOX_OK, "%s: close: %s", c->name, err.msg);
        CHECK(count_dir_entries() == 1, "%s: only the file in the directory", c->name);
        check_written(c, p, "file", x, n);
        if (c->f == VOX_AUDIO_PCM) {
            struct stat sb;
            CHECK(stat(p, &sb) == 0 && (size_t)sb.st_size == 2 * n, "pcm: no header, 2 bytes a sample");
        }
        if (c->f == VOX_AUDIO_WAV && !c->float32) { /* the same bytes as io/wav.c writes */
            char q[512];
            float *ref = malloc(n * sizeof *ref);
            memcpy(ref, x, n * sizeof *ref);
            CHECK(vox_wav_write_file(tpath(q, "ref.wav"), ref, n, OUT_RATE, &err) == VOX_OK, "ref");
            size_t na, nb;
            unsigned char *a = read_bytes(p, &na), *b = read_bytes(q, &nb);
            CHECK(a && b && na == nb && memcmp(a, b, na) == 0, "wav: identical to vox_wav_write_file");
            free(a);
            free(b);
            free(ref);
            unlink(q);
        }
        unlink(p);
    }
    free(x);
}

/* 24 kHz in, another rate out. */
static void test_write_resampled(void) {
    const size_t n = (size_t)lround(SECONDS * OUT_RATE);
    float *x = sine(n, OUT_RATE, 0.5);
    char p[512];
    tpath(p, "rs.wav");
    vox_audio_writer_opts o = {1, OUT_RATE};
    vox_audio_writer *w = NULL;
    vox_error err = {0};
    CHECK(vox_audio_writer_open(&w, p, VOX_AUDIO_WAV, 44100, &o, &err) == VOX_OK, "%s", err.msg);
    if (!w) return;
    CHECK(write_pieces(w, x, n, &err) == VOX_OK, "%s", err.msg);
    uint64_t frames_before = vox_audio_writer_frames(w);
    CHECK(vox_audio_writer_close(w, &err) == VOX_OK, "%s", err.msg);
    float *y = NULL, *ref = NULL;
    size_t m = 0, nref = 0;
    vox_audio_info info;
    CHECK(vox_audio_read(p, 0, 0, &y, &m, &info, &err) == VOX_OK, "%s", err.msg);
    CHECK(vox_audio_resample(x, n, OUT_RATE, 44100, &ref, &nref, &err) == VOX_OK, "%s", err.msg);
    CHECK(info.rate == 44100 && m == nref && frames_before < nref,
          "44.1 kHz: %zu samples (one shot %zu, %llu before the flush)", m, nref,
          (unsigned long long)frames_before);
    double md = 0;
    for (size_t i = 0; y && ref && i < m && i < nref; i++)
        if (fabs(y[i] - ref[i]) > md) md = fabs(y[i] - ref[i]);
    CHECK(md < 1e-4, "written = one-shot resampling: max difference %g", md);
    free(y);
    free(ref);
    free(x);
    unlink(p);
}

typedef struct {
    int fd;
    unsigned char *buf;
    size_t n, cap;
} drain_t;

static void *drain(void *arg) {
    drain_t *d = arg;
    for (;;) {
        if (d->n == d->cap) {
            d->cap = d->cap ? 2 * d->cap : 65536;
            d->buf = realloc(d->buf, d->cap);
            if (!d->buf) exit(2);
        }
        ssize_t k = read(d->fd, d->buf + d->n, d->cap - d->n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        d->n += (size_t)k;
    }
    return NULL;
}

/* Into a pipe: streamed, readable, and the same audio as the file. */
static void test_write_pipe(void) {
    const size_t n = (size_t)lround(SECONDS * OUT_RATE);
    float *x = out_signal(n);
    for (size_t k = 0; k < sizeof out_cases / sizeof out_cases[0]; k++) {
        const out_case *c = &out_cases[k];
        if (c->rate != OUT_RATE) continue;
        int pf[2];
        if (pipe(pf) != 0) exit(2);
        drain_t d = {pf[0], NULL, 0, 0};
        pthread_t th;
        if (pthread_create(&th, NULL, drain, &d) != 0) exit(2);
        vox_audio_writer_opts o = {c->float32, 0};
        vox_audio_writer *w = NULL;
        vox_error err = {0};
        int rc = vox_audio_writer_open_fd(&w, pf[1], "pipe", c->f, c->rate, &o, &err);
        CHECK(rc == VOX_OK, "%s pipe: open: %s", c->name, err.msg);
        if (rc == VOX_OK) {
            CHECK(write_pieces(w, x, n, &err) == VOX_OK, "%s pipe: write: %s", c->name, err.msg);
            CHECK(vox_audio_writer_close(w, &err) == VOX_OK, "%s pipe: close: %s", c->name, err.msg);
        }
        close(pf[1]);
        pthread_join(th, NULL);
        close(pf[0]);
        char p[512];
        write_bytes(tpath(p, c->name), d.buf, d.n);
        if (c->f == VOX_AUDIO_WAV) {
            uint32_t riff, data;
            size_t hb = c->float32 ? 58 : 44;
            memcpy(&riff, d.buf + 4, 4);
            memcpy(&data, d.buf + hb - 4, 4);
            CHECK(d.n == hb + (c->float32 ? 4 : 2) * n && riff == 0xFFFFFFFFu && data == 0xFFFFFFFFu,
                  "%s pipe: %zu bytes, unknown-length sizes %x %x", c->name, d.n, riff, data);
            /* our reader takes the unknown length as "to the end" */
            float *y = NULL;
            size_t m = 0;
            CHECK(vox_audio_read(p, 0, 0, &y, &m, NULL, &err) == VOX_OK && m == n,
                  "%s pipe: vox_audio_read %zu samples: %s", c->name, m, err.msg);
            free(y);
        } else if (c->f == VOX_AUDIO_MP3) {
            /* no LAME tag in a stream: the decoder keeps the encoder's delay and
             * padding (under 2 frames of 1152) */
            out_case cm = *c;
            cm.len_tol = 2304;
            check_written(&cm, p, "pipe", x, n);
        } else {
            check_written(c, p, "pipe", x, n);
        }
        if (c->f == VOX_AUDIO_FLAC) {
            /* the same bytes as the file but for STREAMINFO, which cannot be rewritten */
            char q[512];
            vox_audio_writer *wf = NULL;
            CHECK(vox_audio_writer_open(&wf, tpath(q, "ref.flac"), c->f, c->rate, NULL, &err) ==
                          VOX_OK &&
                      write_pieces(wf, x, n, &err) == VOX_OK &&
                      vox_audio_writer_close(wf, &err) == VOX_OK,
                  "flac reference: %s", err.msg);
            size_t nf;
            unsigned char *f = read_bytes(q, &nf);
            CHECK(f && nf == d.n && memcmp(f + 42, d.buf + 42, nf - 42) == 0,
                  "flac pipe: %zu bytes, file %zu, identical after STREAMINFO", d.n, nf);
            free(f);
            unlink(q);
        }
        free(d.buf);
        unlink(p);
    }
    free(x);
}

typedef struct {
    unsigned char *buf;
    size_t n, cap;
    size_t calls;
    size_t fail_after; /* refuse the call after this many bytes (0: never) */
} mem_sink;

static int mem_sink_fn(const void *bytes, size_t n, void *user) {
    mem_sink *m = user;
    if (m->fail_after && m->n + n > m->fail_after) return 1;
    if (m->n + n > m->cap) {
        size_t cap = m->cap ? m->cap : 65536;
        while (cap < m->n + n) cap *= 2;
        unsigned char *b = realloc(m->buf, cap);
        if (!b) exit(2);
        m->buf = b;
        m->cap = cap;
    }
    memcpy(m->buf + m->n, bytes, n);
    m->n += n;
    m->calls++;
    return 0;
}

/* Into a callback sink: streamed in several pieces, readable, the same audio;
 * WAV, PCM, FLAC, Ogg byte for byte what a pipe gets (both append-only); MP3
 * decodes despite its zeroed placeholder first frame; a sink that refuses
 * bytes makes the write or close fail with an I/O error. */
static void test_write_sink(void) {
    const size_t n = (size_t)lround(SECONDS * OUT_RATE);
    float *x = out_signal(n);
    for (size_t k = 0; k < sizeof out_cases / sizeof out_cases[0]; k++) {
        const out_case *c = &out_cases[k];
        if (c->rate != OUT_RATE) continue;
        mem_sink m = {0};
        vox_audio_writer_opts o = {c->float32, 0};
        vox_audio_writer *w = NULL;
        vox_error err = {0};
        int rc = vox_audio_writer_open_sink(&w, mem_sink_fn, &m, "sink", c->f, c->rate, &o, &err);
        CHECK(rc == VOX_OK, "%s sink: open: %s", c->name, err.msg);
        if (rc != VOX_OK) continue;
        CHECK(write_pieces(w, x, n, &err) == VOX_OK, "%s sink: write: %s", c->name, err.msg);
        size_t before_close = m.n;
        CHECK(vox_audio_writer_close(w, &err) == VOX_OK, "%s sink: close: %s", c->name, err.msg);
        CHECK(m.calls > 1 && (c->f == VOX_AUDIO_MP3 || c->f == VOX_AUDIO_OPUS ||
                              c->f == VOX_AUDIO_OGG || before_close > 0),
              "%s sink: %zu bytes in %zu calls, %zu before close", c->name, m.n, m.calls,
              before_close);
        char p[512];
        write_bytes(tpath(p, c->name), m.buf, m.n);
        if (c->f == VOX_AUDIO_OPUS || c->f == VOX_AUDIO_OGG) {
            check_written(c, p, "sink", x, n); /* random stream serial numbers: no byte compare */
        } else {
            /* the same bytes as into a pipe (MP3: after the placeholder frame, a
             * frame header and zeros, that libsndfile leaves out for a pipe) */
            int pf[2];
            if (pipe(pf) != 0) exit(2);
            drain_t d = {pf[0], NULL, 0, 0};
            pthread_t th;
            if (pthread_create(&th, NULL, drain, &d) != 0) exit(2);
            vox_audio_writer *wp = NULL;
            CHECK(vox_audio_writer_open_fd(&wp, pf[1], "pipe", c->f, c->rate, &o, &err) == VOX_OK &&
                      write_pieces(wp, x, n, &err) == VOX_OK &&
                      vox_audio_writer_close(wp, &err) == VOX_OK,
                  "%s pipe reference: %s", c->name, err.msg);
            close(pf[1]);
            pthread_join(th, NULL);
            close(pf[0]);
            size_t skip = 0;
            if (c->f == VOX_AUDIO_MP3 && m.n > d.n) {
                skip = m.n - d.n;
                int zeros = skip > 4 && m.buf[0] == 0xFF && (m.buf[1] & 0xE0) == 0xE0;
                for (size_t i = 4; zeros && i < skip; i++) zeros = m.buf[i] == 0;
                CHECK(zeros && skip < 1500, "mp3 sink: a %zu-byte placeholder frame first", skip);
            }
            CHECK(d.n + skip == m.n && memcmp(d.buf, m.buf + skip, d.n) == 0,
                  "%s sink: %zu bytes, pipe %zu", c->name, m.n, d.n);
            free(d.buf);
            if (c->f != VOX_AUDIO_WAV && c->f != VOX_AUDIO_MP3) check_written(c, p, "sink", x, n);
            if (c->f == VOX_AUDIO_MP3) {
                float *y = NULL;
                size_t got = 0;
                CHECK(vox_audio_read(p, 0, 0, &y, &got, NULL, &err) == VOX_OK && got >= n &&
                          got <= n + 2304 + 1152,
                      "mp3 sink: vox_audio_read %zu samples: %s", got, err.msg);
                free(y);
            }
        }
        unlink(p);
        free(m.buf);
        /* a sink that refuses: the error names the writer, nothing crashes */
        mem_sink bad = {0};
        bad.fail_after = 100;
        w = NULL;
        rc = vox_audio_writer_open_sink(&w, mem_sink_fn, &bad, "client", c->f, c->rate, &o, &err);
        if (rc == VOX_OK) {
            rc = write_pieces(w, x, n, &err);
            if (rc == VOX_OK) rc = vox_audio_writer_close(w, &err);
            else vox_audio_writer_abort(w);
        }
        CHECK(rc == VOX_E_IO && strstr(err.msg, "client"), "%s refusing sink: %d %s", c->name, rc,
              err.msg);
        free(bad.buf);
    }
    vox_audio_writer *w = NULL;
    vox_error err = {0};
    CHECK(vox_audio_writer_open_sink(&w, NULL, NULL, "x", VOX_AUDIO_WAV, OUT_RATE, NULL, &err) ==
              VOX_E_ARG && !w,
          "NULL sink: %s", err.msg);
    free(x);
}

/* A descriptor of a regular file, already holding 5 bytes: the WAV follows them
 * with exact sizes and the offset ends after it; appending keeps the streamed
 * header; a full device reports the error. */
static void test_write_fd(void) {
    const size_t n = 5000;
    float *x = sine(n, OUT_RATE, 0.5);
    char p[512], q[512];
    vox_error err = {0};
    vox_audio_writer *w = NULL;
    CHECK(vox_audio_writer_open(&w, tpath(q, "ref.wav"), VOX_AUDIO_WAV, OUT_RATE, NULL, &err) ==
                  VOX_OK &&
              write_pieces(w, x, n, &err) == VOX_OK && vox_audio_writer_close(w, &err) == VOX_OK,
          "reference: %s", err.msg);
    size_t nr = 0;
    unsigned char *ref = read_bytes(q, &nr);
    for (int append = 0; append <= 1; append++) {
        int fd = open(tpath(p, "fd.wav"), O_WRONLY | O_CREAT | O_TRUNC | (append ? O_APPEND : 0), 0644);
        if (fd < 0 || write(fd, "HELLO", 5) != 5) exit(2);
        w = NULL;
        CHECK(vox_audio_writer_open_fd(&w, fd, NULL, VOX_AUDIO_WAV, OUT_RATE, NULL, &err) == VOX_OK,
              "open fd: %s", err.msg);
        if (w) {
            CHECK(write_pieces(w, x, n, &err) == VOX_OK, "write fd: %s", err.msg);
            CHECK(vox_audio_writer_close(w, &err) == VOX_OK, "close fd: %s", err.msg);
        }
        CHECK(lseek(fd, 0, SEEK_CUR) == (off_t)(5 + nr), "offset after the WAV (append %d)", append);
        close(fd);
        size_t nb = 0;
        unsigned char *b = read_bytes(p, &nb);
        CHECK(b && nb == 5 + nr && memcmp(b, "HELLO", 5) == 0, "fd file: %zu bytes", nb);
        if (b && ref && nb == 5 + nr) {
            if (!append) {
                CHECK(memcmp(b + 5, ref, nr) == 0, "regular fd: the same WAV as the path writer");
            } else {
                uint32_t data;
                memcpy(&data, b + 5 + 40, 4);
                CHECK(data == 0xFFFFFFFFu && memcmp(b + 5 + 44, ref + 44, nr - 44) == 0,
                      "O_APPEND fd: streamed header kept, same samples");
            }
        }
        free(b);
        unlink(p);
    }
    free(ref);
    unlink(q);

    int fd = open("/dev/full", O_WRONLY);
    CHECK(fd >= 0, "/dev/full");
    if (fd >= 0) {
        vox_audio_format fs[] = {VOX_AUDIO_WAV, VOX_AUDIO_FLAC, VOX_AUDIO_OGG};
        for (int k = 0; k < 3; k++) {
            w = NULL;
            int rc = vox_audio_writer_open_fd(&w, fd, "full", fs[k], OUT_RATE, NULL, &err);
            if (rc == VOX_OK) rc = write_pieces(w, x, n, &err);
            if (rc == VOX_OK) {
                rc = vox_audio_writer_close(w, &err);
            } else {
                vox_audio_writer_abort(w);
            }
            CHECK(rc == VOX_E_IO && strstr(err.msg, "full") && strstr(err.msg, "No space"),
                  "%s on a full device: %d %s", vox_audio_format_name(fs[k]), rc, err.msg);
        }
        close(fd);
    }
    free(x);
}

static void test_write_errors(void) {
    char p[512];
    vox_error err = {0};
    vox_audio_writer *w = (vox_audio_writer *)&w;
    float x[100] = {0};
    CHECK(vox_audio_writer_open(&w, tpath(p, "a.opus"), VOX_AUDIO_OPUS, 44100, NULL, &err) ==
                  VOX_E_UNSUPPORTED &&
              w == NULL && strstr(err.msg, "48000"),
          "opus at 44.1 kHz: %s", err.msg);
    CHECK(vox_audio_writer_open(&w, tpath(p, "a.mp3"), VOX_AUDIO_MP3, 7000, NULL, &err) ==
              VOX_E_UNSUPPORTED,
          "mp3 at 7 kHz: %s", err.msg);
    CHECK(vox_audio_writer_open(&w, tpath(p, "a.xyz"), VOX_AUDIO_UNKNOWN, 24000, NULL, &err) ==
                  VOX_E_ARG && strstr(err.msg, "unknown"),
          "unknown format: %s", err.msg);
    vox_audio_writer_opts fo = {1, 0};
    CHECK(vox_audio_writer_open(&w, tpath(p, "a.flac"), VOX_AUDIO_FLAC, 24000, &fo, &err) ==
              VOX_E_ARG,
          "float flac: %s", err.msg);
    vox_audio_writer_opts ro = {0, 5};
    CHECK(vox_audio_writer_open(&w, tpath(p, "a.wav"), VOX_AUDIO_WAV, 24000, &ro, &err) == VOX_E_ARG,
          "input rate 5: %s", err.msg);
    snprintf(p, sizeof p, "%s/no/such/dir/a.wav", g_dir);
    CHECK(vox_audio_writer_open(&w, p, VOX_AUDIO_WAV, 24000, NULL, &err) == VOX_E_IO &&
              strstr(err.msg, p),
          "missing directory: %s", err.msg);
    CHECK(count_dir_entries() == 0, "argument errors create nothing");

    /* abort after writing: nothing left */
    vox_audio_format fs[] = {VOX_AUDIO_WAV, VOX_AUDIO_PCM, VOX_AUDIO_FLAC, VOX_AUDIO_OGG,
                             VOX_AUDIO_OPUS, VOX_AUDIO_MP3};
    for (int k = 0; k < 6; k++) {
        w = NULL;
        CHECK(vox_audio_writer_open(&w, tpath(p, "ab.out"), fs[k], 24000, NULL, &err) == VOX_OK &&
                  vox_audio_writer_write(w, x, 100, &err) == VOX_OK,
              "%s: %s", vox_audio_format_name(fs[k]), err.msg);
        vox_audio_writer_abort(w);
        CHECK(count_dir_entries() == 0, "%s: abort leaves nothing", vox_audio_format_name(fs[k]));
    }
    vox_audio_writer_abort(NULL);

    /* zero samples: still a valid file */
    for (int k = 0; k < 6; k++) {
        w = NULL;
        CHECK(vox_audio_writer_open(&w, tpath(p, "empty.out"), fs[k], 24000, NULL, &err) == VOX_OK &&
                  vox_audio_writer_close(w, &err) == VOX_OK,
              "%s empty: %s", vox_audio_format_name(fs[k]), err.msg);
        struct stat sb;
        CHECK(stat(p, &sb) == 0, "%s empty: file exists", vox_audio_format_name(fs[k]));
        if (fs[k] == VOX_AUDIO_WAV) CHECK(sb.st_size == 44, "empty wav: %lld bytes", (long long)sb.st_size);
        if (fs[k] == VOX_AUDIO_PCM) CHECK(sb.st_size == 0, "empty pcm: %lld bytes", (long long)sb.st_size);
        if (fs[k] == VOX_AUDIO_OPUS) {
            /* libsndfile 1.2 reads no Ogg/Opus stream without audio pages back;
             * the headers are there */
            size_t nb = 0;
            unsigned char *b = read_bytes(p, &nb);
            CHECK(b && nb > 40 && memcmp(b, "OggS", 4) == 0 && memmem(b, nb, "OpusHead", 8),
                  "empty opus: Ogg pages with OpusHead (%zu bytes)", nb);
            free(b);
        } else if (fs[k] == VOX_AUDIO_MP3) {
            /* MPEG audio has no file header: no frames, no bytes */
            CHECK(sb.st_size == 0, "empty mp3: %lld bytes", (long long)sb.st_size);
        } else if (fs[k] != VOX_AUDIO_PCM) {
            SF_INFO si;
            memset(&si, 0, sizeof si);
            SNDFILE *sf = sf_open(p, SFM_READ, &si);
            float buf[64];
            CHECK(sf && sf_read_float(sf, buf, 64) == 0, "%s empty: opens, no samples (%s)",
                  vox_audio_format_name(fs[k]), sf_strerror(NULL));
            if (sf) sf_close(sf);
        }
        unlink(p);
    }
}

static void test_format_names(void) {
    CHECK(vox_audio_format_from_name("wav") == VOX_AUDIO_WAV, "wav");
    CHECK(vox_audio_format_from_name(".WAV") == VOX_AUDIO_WAV, ".WAV");
    CHECK(vox_audio_format_from_name("raw") == VOX_AUDIO_PCM, "raw");
    CHECK(vox_audio_format_from_name("pcm") == VOX_AUDIO_PCM, "pcm");
    CHECK(vox_audio_format_from_name("Flac") == VOX_AUDIO_FLAC, "Flac");
    CHECK(vox_audio_format_from_name("ogg") == VOX_AUDIO_OGG, "ogg");
    CHECK(vox_audio_format_from_name("opus") == VOX_AUDIO_OPUS, "opus");
    CHECK(vox_audio_format_from_name("mp3") == VOX_AUDIO_MP3, "mp3");
    CHECK(vox_audio_format_from_name("aac") == VOX_AUDIO_UNKNOWN, "aac");
    CHECK(vox_audio_format_from_name("") == VOX_AUDIO_UNKNOWN, "empty");
    CHECK(vox_audio_format_from_name(NULL) == VOX_AUDIO_UNKNOWN, "NULL");
    CHECK(vox_audio_format_from_path("a/b.c/out.mp3") == VOX_AUDIO_MP3, "out.mp3");
    CHECK(vox_audio_format_from_path("x.tar.flac") == VOX_AUDIO_FLAC, "x.tar.flac");
    CHECK(vox_audio_format_from_path("dir.wav/out") == VOX_AUDIO_UNKNOWN, "no extension");
    CHECK(vox_audio_format_from_path(".wav") == VOX_AUDIO_UNKNOWN, "hidden file");
    CHECK(vox_audio_format_from_path("out.xyz") == VOX_AUDIO_UNKNOWN, "out.xyz");
    CHECK(strcmp(vox_audio_format_name(VOX_AUDIO_OPUS), "opus") == 0, "name");
    vox_error err = {0};
    CHECK(vox_audio_format_check(VOX_AUDIO_OPUS, 24000, "x", &err) == VOX_OK, "opus 24k");
    CHECK(vox_audio_format_check(VOX_AUDIO_MP3, 22050, "x", &err) == VOX_OK, "mp3 22050");
    CHECK(vox_audio_format_check(VOX_AUDIO_WAV, 999, "x", &err) == VOX_E_UNSUPPORTED, "wav 999");
}

int main(void) {
    make_dir("audio");
    test_format_names();
    test_read_formats();
    test_read_exact();
    test_read_errors();
    test_resample();
    rm_dir();
    make_dir("audio");
    test_write_formats();
    test_write_resampled();
    test_write_pipe();
    test_write_sink();
    test_write_fd();
    rm_dir();
    make_dir("audio");
    test_write_errors();
    rm_dir();
    TEST_MAIN_END();
}
