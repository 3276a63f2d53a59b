/* audio_file.c — audio files in and out with libsndfile and libsoxr (see
 * audio_file.h).  The only file of src/ that uses either library.
 *
 * Reading: libsndfile decodes whatever it recognises (WAV, FLAC, Ogg/Vorbis,
 * Ogg/Opus, MP3, AIFF...) to float frames, read in bounded chunks; every frame
 * is mixed to mono as the mean of its channels (in double) as it arrives, so
 * memory is one mono buffer that grows with what was actually decoded, never
 * with what a header claims.  The length limit is checked against the header
 * first (not for MP3, whose length libsndfile only estimates) and again while
 * decoding.  Then libsoxr at SOXR_HQ resamples to the requested rate.
 *
 * Writing: WAV and raw PCM are written here (a streamable 44-byte header, or a
 * 58-byte one with a `fact` chunk for IEEE float; libsndfile refuses to write
 * WAV into a pipe); FLAC, Ogg/Vorbis, Ogg/Opus and MP3 go through libsndfile's
 * virtual I/O over our own descriptor writer.  That writer keeps a position and
 * a size relative to where the output began: on a seekable regular file it
 * writes with pwrite wherever the encoder seeks (so headers are fixed at the
 * end); on a pipe it is append-only, and bytes the encoder rewrites below the
 * end already sent are dropped (a FLAC STREAMINFO then keeps "length unknown",
 * which the format allows, instead of gaining junk at the end of the stream).
 * MP3 into a FIFO or socket is the exception: there libsndfile's own
 * descriptor I/O knows it is a pipe and leaves out the LAME/Xing tag it would
 * otherwise rewrite.  MP3 is constant bit rate, so a reader that estimates the
 * length from the first frame (libsndfile 1.2 does, without that tag) gets it
 * right.  A callback sink (vox_audio_writer_open_sink) is append-only like a
 * pipe, always through the virtual I/O. */
#include "io/audio_file.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomic_file.h"
#include "io/wav.h"

/* Interleaved samples decoded per libsndfile call when reading. */
#define READ_CHUNK_SAMPLES 16384
/* Samples converted per encoder call when writing. */
#define WRITE_CHUNK 4096
/* libsndfile's own channel limit (SF_MAX_CHANNELS). */
#define MAX_CHANNELS 1024
/* Resampling ratios beyond this are refused (out of libsoxr's useful range). */
#define MAX_RATIO 256.0

static int rate_ok(int r) { return r >= VOX_AUDIO_MIN_RATE && r <= VOX_AUDIO_MAX_RATE; }

/* ---- names of what a file holds ------------------------------------------ */

static void describe(int sf_format, vox_audio_info *info) {
    const char *f = "other", *e = "?";
    int sub = sf_format & SF_FORMAT_SUBMASK;
    switch (sf_format & SF_FORMAT_TYPEMASK) {
    case SF_FORMAT_WAV: case SF_FORMAT_WAVEX: f = "wav"; break;
    case SF_FORMAT_RF64: f = "rf64"; break;
    case SF_FORMAT_W64: f = "w64"; break;
    case SF_FORMAT_AIFF: f = "aiff"; break;
    case SF_FORMAT_AU: f = "au"; break;
    case SF_FORMAT_CAF: f = "caf"; break;
    case SF_FORMAT_FLAC: f = "flac"; break;
    case SF_FORMAT_OGG:
        f = sub == SF_FORMAT_VORBIS ? "ogg/vorbis" : sub == SF_FORMAT_OPUS ? "ogg/opus" : "ogg";
        break;
    case SF_FORMAT_MPEG:
        f = sub == SF_FORMAT_MPEG_LAYER_I ? "mp1" : sub == SF_FORMAT_MPEG_LAYER_II ? "mp2" : "mp3";
        break;
    default: break;
    }
    switch (sub) {
    case SF_FORMAT_PCM_S8: e = "s8"; break;
    case SF_FORMAT_PCM_U8: e = "u8"; break;
    case SF_FORMAT_PCM_16: e = "s16"; break;
    case SF_FORMAT_PCM_24: e = "s24"; break;
    case SF_FORMAT_PCM_32: e = "s32"; break;
    case SF_FORMAT_FLOAT: e = "f32"; break;
    case SF_FORMAT_DOUBLE: e = "f64"; break;
    case SF_FORMAT_ULAW: e = "ulaw"; break;
    case SF_FORMAT_ALAW: e = "alaw"; break;
    case SF_FORMAT_VORBIS: e = "vorbis"; break;
    case SF_FORMAT_OPUS: e = "opus"; break;
    case SF_FORMAT_MPEG_LAYER_I: e = "mp1"; break;
    case SF_FORMAT_MPEG_LAYER_II: e = "mp2"; break;
    case SF_FORMAT_MPEG_LAYER_III: e = "mp3"; break;
    default: break;
    }
    snprintf(info->format, sizeof info->format, "%s", f);
    snprintf(info->encoding, sizeof info->encoding, "%s", e);
}

/* ---- resampling ------------------------------------------------------------ */

static soxr_quality_spec_t hq(void) { return soxr_quality_spec(SOXR_HQ, 0); }
static soxr_io_spec_t f32_io(void) { return soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I); }

/* Rates both in range and a ratio we accept; `what` names the audio. */
static int check_rates(const char *what, int in_rate, int out_rate, vox_error *err) {
    if (!rate_ok(out_rate))
        return vox_fail(err, VOX_E_ARG, "%s: output sample rate %d Hz is outside %d..%d", what,
                        out_rate, VOX_AUDIO_MIN_RATE, VOX_AUDIO_MAX_RATE);
    if (!rate_ok(in_rate) ||
        (double)out_rate / in_rate > MAX_RATIO || (double)in_rate / out_rate > MAX_RATIO)
        return vox_fail(err, VOX_E_UNSUPPORTED,
                        "%s: cannot resample %d Hz to %d Hz (rates %d..%d, ratio at most %g)", what,
                        in_rate, out_rate, VOX_AUDIO_MIN_RATE, VOX_AUDIO_MAX_RATE, MAX_RATIO);
    return VOX_OK;
}

int vox_audio_resample(const float *in, size_t n, int in_rate, int out_rate, float **out,
                       size_t *n_out, vox_error *err) {
    if (!out || !n_out) return vox_fail(err, VOX_E_ARG, "resample: NULL output argument");
    *out = NULL;
    *n_out = 0;
    if (n && !in) return vox_fail(err, VOX_E_ARG, "resample: input is NULL");
    if (!rate_ok(in_rate))
        return vox_fail(err, VOX_E_ARG, "resample: input sample rate %d Hz is outside %d..%d",
                        in_rate, VOX_AUDIO_MIN_RATE, VOX_AUDIO_MAX_RATE);
    int rc = check_rates("resample", in_rate, out_rate, err);
    if (rc) return rc;
    double want = (double)n * out_rate / in_rate;
    if (want > (double)(SIZE_MAX / sizeof(float)) / 2)
        return vox_fail(err, VOX_E_NOMEM, "resample: %zu samples are too many", n);
    size_t cap = (size_t)ceil(want) + 64;
    float *o = malloc(cap * sizeof *o);
    if (!o) return vox_fail(err, VOX_E_NOMEM, "resample: out of memory for %zu samples", cap);
    if (n == 0) {
        *out = o;
        return VOX_OK;
    }
    if (in_rate == out_rate) {
        memcpy(o, in, n * sizeof *o);
        *out = o;
        *n_out = n;
        return VOX_OK;
    }
    size_t idone = 0, odone = 0;
    soxr_io_spec_t io = f32_io();
    soxr_quality_spec_t q = hq();
    soxr_error_t e = soxr_oneshot(in_rate, out_rate, 1, in, n, &idone, o, cap, &odone, &io, &q,
                                  NULL);
    if (e) {
        free(o);
        return vox_fail(err, VOX_E_INTERNAL, "resample %d Hz -> %d Hz: libsoxr: %s", in_rate,
                        out_rate, e);
    }
    *out = o;
    *n_out = odone;
    return VOX_OK;
}

struct vox_resampler {
    soxr_t s;
    double ratio;
    float *buf;
    size_t cap;
};

static int rs_reserve(vox_resampler *r, size_t need, vox_error *err) {
    if (need <= r->cap) return VOX_OK;
    size_t cap = r->cap ? r->cap : 1024;
    while (cap < need) {
        if (cap > SIZE_MAX / sizeof(float) / 2)
            return vox_fail(err, VOX_E_NOMEM, "resampler: %zu samples are too many", need);
        cap *= 2;
    }
    float *b = realloc(r->buf, cap * sizeof *b);
    if (!b) return vox_fail(err, VOX_E_NOMEM, "resampler: out of memory for %zu samples", cap);
    r->buf = b;
    r->cap = cap;
    return VOX_OK;
}

int vox_resampler_new(vox_resampler **out, int in_rate, int out_rate, vox_error *err) {
    if (!out) return vox_fail(err, VOX_E_ARG, "resampler: NULL output argument");
    *out = NULL;
    if (!rate_ok(in_rate))
        return vox_fail(err, VOX_E_ARG, "resampler: input sample rate %d Hz is outside %d..%d",
                        in_rate, VOX_AUDIO_MIN_RATE, VOX_AUDIO_MAX_RATE);
    int rc = check_rates("resampler", in_rate, out_rate, err);
    if (rc) return rc;
    vox_resampler *r = calloc(1, sizeof *r);
    if (!r) return vox_fail(err, VOX_E_NOMEM, "resampler: out of memory");
    r->ratio = (double)out_rate / in_rate;
    soxr_error_t e = NULL;
    soxr_io_spec_t io = f32_io();
    soxr_quality_spec_t q = hq();
    r->s = soxr_create(in_rate, out_rate, 1, &e, &io, &q, NULL);
    if (!r->s || e) {
        if (r->s) soxr_delete(r->s);
        free(r);
        return vox_fail(err, VOX_E_INTERNAL, "resampler %d Hz -> %d Hz: libsoxr: %s", in_rate,
                        out_rate, e ? e : "cannot create");
    }
    *out = r;
    return VOX_OK;
}

int vox_resampler_process(vox_resampler *r, const float *in, size_t n, const float **out,
                          size_t *n_out, vox_error *err) {
    if (!r || !out || !n_out) return vox_fail(err, VOX_E_ARG, "resampler: NULL argument");
    *out = NULL;
    *n_out = 0;
    if (n == 0) return VOX_OK;
    if (!in) return vox_fail(err, VOX_E_ARG, "resampler: input is NULL");
    double want = (double)n * r->ratio;
    if (want > (double)(SIZE_MAX / sizeof(float)) / 4)
        return vox_fail(err, VOX_E_NOMEM, "resampler: %zu samples are too many", n);
    int rc = rs_reserve(r, (size_t)ceil(want) + 64, err);
    if (rc) return rc;
    size_t in_done = 0, out_done = 0;
    for (;;) {
        if (out_done == r->cap && (rc = rs_reserve(r, r->cap + 1, err))) return rc;
        size_t idone = 0, odone = 0;
        soxr_error_t e = soxr_process(r->s, in + in_done, n - in_done, &idone, r->buf + out_done,
                                      r->cap - out_done, &odone);
        if (e) return vox_fail(err, VOX_E_INTERNAL, "resampler: libsoxr: %s", e);
        in_done += idone;
        out_done += odone;
        if (out_done == r->cap) continue;  /* full: there may be more */
        if (in_done == n) break;
        if (!idone && !odone)
            return vox_fail(err, VOX_E_INTERNAL, "resampler: libsoxr made no progress");
    }
    *out = r->buf;
    *n_out = out_done;
    return VOX_OK;
}

int vox_resampler_flush(vox_resampler *r, const float **out, size_t *n_out, vox_error *err) {
    if (!r || !out || !n_out) return vox_fail(err, VOX_E_ARG, "resampler: NULL argument");
    *out = NULL;
    *n_out = 0;
    int rc = rs_reserve(r, 4096, err);
    if (rc) return rc;
    size_t out_done = 0;
    for (;;) {
        if (out_done == r->cap && (rc = rs_reserve(r, r->cap + 1, err))) return rc;
        size_t odone = 0, space = r->cap - out_done;
        soxr_error_t e = soxr_process(r->s, NULL, 0, NULL, r->buf + out_done, space, &odone);
        if (e) return vox_fail(err, VOX_E_INTERNAL, "resampler: libsoxr: %s", e);
        out_done += odone;
        if (odone < space) break;
    }
    *out = r->buf;
    *n_out = out_done;
    return VOX_OK;
}

void vox_resampler_free(vox_resampler *r) {
    if (!r) return;
    if (r->s) soxr_delete(r->s);
    free(r->buf);
    free(r);
}

/* ---- reading ----------------------------------------------------------------- */

int vox_audio_read(const char *path, int rate, double max_seconds, float **samples, size_t *n,
                   vox_audio_info *info, vox_error *err) {
    if (samples) *samples = NULL;
    if (n) *n = 0;
    if (!path || !samples || !n) return vox_fail(err, VOX_E_ARG, "audio read: NULL argument");
    if (rate != 0 && !rate_ok(rate))
        return vox_fail(err, VOX_E_ARG, "%s: requested sample rate %d Hz is outside %d..%d", path,
                        rate, VOX_AUDIO_MIN_RATE, VOX_AUDIO_MAX_RATE);
    if (max_seconds != max_seconds)
        return vox_fail(err, VOX_E_ARG, "%s: max_seconds is NaN", path);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return vox_fail(err, VOX_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return vox_fail(err, VOX_E_IO, "%s: cannot open: %s", path, strerror(e));
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return vox_fail(err, VOX_E_IO, "%s: cannot open: is a directory, not an audio file", path);
    }
    if (S_ISREG(sb.st_mode) && sb.st_size == 0) {
        close(fd);
        return vox_fail(err, VOX_E_FORMAT, "%s: not an audio file (the file is empty, 0 bytes)",
                        path);
    }
    SF_INFO si;
    memset(&si, 0, sizeof si);
    SNDFILE *sf = sf_open_fd(fd, SFM_READ, &si, 1); /* closes fd, also when it fails */
    if (!sf)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: not an audio file or an unsupported format (libsndfile: %s)", path,
                        sf_strerror(NULL));
    vox_audio_info inf;
    memset(&inf, 0, sizeof inf);
    describe(si.format, &inf);
    inf.rate = si.samplerate;
    inf.channels = si.channels;
    float *buf = NULL, *mono = NULL;
    int rc = VOX_OK;
    if (si.channels < 1 || si.channels > MAX_CHANNELS || si.samplerate <= 0) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: unsupported audio: %d channels at %d Hz", path,
                      si.channels, si.samplerate);
        goto done;
    }
    const size_t ch = (size_t)si.channels;
    /* The most frames we accept: max_seconds, and what one buffer can hold. */
    uint64_t limit = (uint64_t)(SIZE_MAX / sizeof(float) / 2);
    if (max_seconds > 0) {
        double l = floor(max_seconds * si.samplerate + 1e-6);
        if (l < (double)limit) limit = (uint64_t)l;
    }
    const int exact_length = (si.format & SF_FORMAT_TYPEMASK) != SF_FORMAT_MPEG &&
                             si.frames >= 0 && si.frames != SF_COUNT_MAX;
    if (exact_length && (uint64_t)si.frames > limit) {
        rc = max_seconds > 0
                 ? vox_fail(err, VOX_E_ARG, "%s: %.2f s of audio is longer than the %g s allowed",
                            path, (double)si.frames / si.samplerate, max_seconds)
                 : vox_fail(err, VOX_E_NOMEM, "%s: %lld frames are too many", path,
                            (long long)si.frames);
        goto done;
    }
    size_t chunk = READ_CHUNK_SAMPLES / ch ? READ_CHUNK_SAMPLES / ch : 1;
    buf = malloc(chunk * ch * sizeof *buf);
    /* Start from the header's length when it is known and moderate; grow as
     * frames actually arrive otherwise. */
    size_t cap = exact_length && si.frames > 0 && si.frames <= (1 << 24) ? (size_t)si.frames
                                                                         : (size_t)1 << 16;
    mono = malloc(cap * sizeof *mono);
    if (!buf || !mono) {
        rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t total = 0;
    for (;;) {
        sf_count_t got = sf_readf_float(sf, buf, (sf_count_t)chunk);
        if (got <= 0) break;
        if ((uint64_t)total + (uint64_t)got > limit) {
            rc = max_seconds > 0
                     ? vox_fail(err, VOX_E_ARG, "%s: the audio is longer than the %g s allowed",
                                path, max_seconds)
                     : vox_fail(err, VOX_E_NOMEM, "%s: too many frames", path);
            goto done;
        }
        if (total + (size_t)got > cap) {
            size_t nc = cap;
            while (nc < total + (size_t)got) nc = nc > limit / 2 ? (size_t)limit : nc * 2;
            float *m = realloc(mono, nc * sizeof *m);
            if (!m) {
                rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory for %zu samples", path, nc);
                goto done;
            }
            mono = m;
            cap = nc;
        }
        for (size_t i = 0; i < (size_t)got; i++) {
            const float *fr = buf + i * ch;
            double s = 0.0;
            for (size_t c = 0; c < ch; c++)
                if (isfinite(fr[c])) s += fr[c]; /* NaN / inf: silence */
            s /= (double)ch;
            /* Real audio stays within a few units of full scale; float files can
             * hold anything up to 3.4e38, which the resampler's filter would
             * overflow to infinity (found by fuzzing): bound it. */
            if (s > VOX_AUDIO_MAX_AMPLITUDE) s = VOX_AUDIO_MAX_AMPLITUDE;
            if (s < -VOX_AUDIO_MAX_AMPLITUDE) s = -VOX_AUDIO_MAX_AMPLITUDE;
            mono[total + i] = (float)s;
        }
        total += (size_t)got;
    }
    if (sf_error(sf) != SF_ERR_NO_ERROR) {
        rc = vox_fail(err, VOX_E_IO, "%s: read error after %zu frames: %s", path, total,
                      sf_strerror(sf));
        goto done;
    }
    if (total == 0) {
        rc = vox_fail(err, VOX_E_ARG, "%s: empty audio (0 frames)", path);
        goto done;
    }
    inf.frames = total;
    if (rate != 0 && rate != si.samplerate) {
        float *rs = NULL;
        size_t nr = 0;
        if ((rc = check_rates(path, si.samplerate, rate, err))) goto done;
        if ((rc = vox_audio_resample(mono, total, si.samplerate, rate, &rs, &nr, err))) {
            vox_error_prefix(err, "%s", path);
            goto done;
        }
        free(mono);
        mono = rs;
        total = nr;
    }
    *samples = mono;
    *n = total;
    mono = NULL;
    if (info) *info = inf;
done:
    free(buf);
    free(mono);
    sf_close(sf);
    return rc;
}

/* ---- output formats ------------------------------------------------------------ */

static const struct {
    const char *name;
    vox_audio_format f;
} format_names[] = {
    {"wav", VOX_AUDIO_WAV}, {"wave", VOX_AUDIO_WAV}, {"pcm", VOX_AUDIO_PCM},
    {"raw", VOX_AUDIO_PCM}, {"s16le", VOX_AUDIO_PCM}, {"flac", VOX_AUDIO_FLAC},
    {"ogg", VOX_AUDIO_OGG}, {"oga", VOX_AUDIO_OGG},  {"vorbis", VOX_AUDIO_OGG},
    {"opus", VOX_AUDIO_OPUS}, {"mp3", VOX_AUDIO_MP3},
};

vox_audio_format vox_audio_format_from_name(const char *s) {
    if (!s) return VOX_AUDIO_UNKNOWN;
    if (*s == '.') s++;
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++)
        if (strcasecmp(s, format_names[i].name) == 0) return format_names[i].f;
    return VOX_AUDIO_UNKNOWN;
}

vox_audio_format vox_audio_format_from_path(const char *path) {
    if (!path) return VOX_AUDIO_UNKNOWN;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base) return VOX_AUDIO_UNKNOWN; /* none, or a hidden file's name */
    return vox_audio_format_from_name(dot + 1);
}

const char *vox_audio_format_name(vox_audio_format f) {
    switch (f) {
    case VOX_AUDIO_WAV: return "wav";
    case VOX_AUDIO_PCM: return "pcm";
    case VOX_AUDIO_FLAC: return "flac";
    case VOX_AUDIO_OGG: return "ogg";
    case VOX_AUDIO_OPUS: return "opus";
    case VOX_AUDIO_MP3: return "mp3";
    default: return "unknown";
    }
}

static int in_list(int rate, const int *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (list[i] == rate) return 1;
    return 0;
}

int vox_audio_format_check(vox_audio_format f, int rate, const char *what, vox_error *err) {
    static const int opus_rates[] = {8000, 12000, 16000, 24000, 48000};
    static const int mp3_rates[] = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000};
    if (!what) what = "output";
    switch (f) {
    case VOX_AUDIO_WAV:
    case VOX_AUDIO_PCM:
        if (rate_ok(rate)) return VOX_OK;
        return vox_fail(err, VOX_E_UNSUPPORTED, "%s: %s at %d Hz: the rate must be %d..%d Hz",
                        what, vox_audio_format_name(f), rate, VOX_AUDIO_MIN_RATE,
                        VOX_AUDIO_MAX_RATE);
    case VOX_AUDIO_FLAC:
        if (rate_ok(rate) && rate <= 655350) return VOX_OK;
        return vox_fail(err, VOX_E_UNSUPPORTED, "%s: flac at %d Hz: the rate must be %d..655350 Hz",
                        what, rate, VOX_AUDIO_MIN_RATE);
    case VOX_AUDIO_OGG:
        if (rate >= 8000 && rate <= 192000) return VOX_OK;
        return vox_fail(err, VOX_E_UNSUPPORTED,
                        "%s: ogg/vorbis at %d Hz: the rate must be 8000..192000 Hz", what, rate);
    case VOX_AUDIO_OPUS:
        if (in_list(rate, opus_rates, sizeof opus_rates / sizeof *opus_rates)) return VOX_OK;
        return vox_fail(err, VOX_E_UNSUPPORTED,
                        "%s: opus at %d Hz: the rate must be 8000, 12000, 16000, 24000 or 48000 Hz",
                        what, rate);
    case VOX_AUDIO_MP3:
        if (in_list(rate, mp3_rates, sizeof mp3_rates / sizeof *mp3_rates)) return VOX_OK;
        return vox_fail(err, VOX_E_UNSUPPORTED,
                        "%s: mp3 at %d Hz: the rate must be 8000, 11025, 12000, 16000, 22050, "
                        "24000, 32000, 44100 or 48000 Hz",
                        what, rate);
    default:
        return vox_fail(err, VOX_E_ARG, "%s: unknown audio format (known: %s)", what,
                        VOX_AUDIO_FORMAT_NAMES);
    }
}

/* ---- the writer ---------------------------------------------------------------- */

/* The IEEE-float WAV header: RIFF, an 18-byte fmt chunk (format 3, cbSize 0),
 * a fact chunk (the sample count), then data. */
#define WAV_F32_HEADER_BYTES 58

struct voxtts_audio_writer {
    vox_audio_format fmt;
    int rate, float32;
    int fd;                /* where the bytes go (-1 for a sink) */
    vox_audio_sink_fn sink; /* or to this callback (append-only) */
    void *sink_user;
    char *name;            /* the path, or the descriptor's name, for messages */
    int is_path;
    vox_atomic_file af;    /* path writers: the temporary file */
    int rewritable;        /* a regular file we may seek back into */
    off_t base;            /* descriptor offset of our first byte */
    uint64_t pos, end;     /* position and size, relative to base */
    int io_errno;          /* the first write error */
    SNDFILE *sf;           /* flac / ogg / opus / mp3 */
    vox_resampler *rs;     /* when the input rate differs */
    uint64_t frames;       /* samples written at the output rate */
    int header_done;       /* wav: the header went out */
    int failed;            /* an earlier call failed: refuse more */
    union {
        int16_t s16[WRITE_CHUNK];
        float f32[WRITE_CHUNK];
    } cv;
    unsigned char bytes[4 * WRITE_CHUNK];
};

/* Write at the current position.  Append-only outputs drop what falls below
 * the bytes already sent (they cannot be changed any more). */
static int out_write(vox_audio_writer *w, const void *p, size_t n) {
    const unsigned char *b = p;
    if (w->io_errno) return -1;
    if (w->rewritable) {
        size_t done = 0;
        while (done < n) {
            ssize_t k = pwrite(w->fd, b + done, n - done, w->base + (off_t)(w->pos + done));
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                w->io_errno = k < 0 ? errno : EIO;
                return -1;
            }
            done += (size_t)k;
        }
        w->pos += n;
        if (w->pos > w->end) w->end = w->pos;
        return 0;
    }
    if (w->pos < w->end) {
        uint64_t skip = w->end - w->pos < n ? w->end - w->pos : n;
        b += skip;
        n -= (size_t)skip;
        w->pos += skip;
    }
    if (w->sink && n) {
        if (w->sink(b, n, w->sink_user) != 0) {
            w->io_errno = EPIPE;
            return -1;
        }
        w->pos += n;
        n = 0;
    }
    while (n) {
        ssize_t k = write(w->fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            w->io_errno = k < 0 ? errno : EIO;
            return -1;
        }
        b += k;
        n -= (size_t)k;
        w->pos += (uint64_t)k;
    }
    if (w->pos > w->end) w->end = w->pos;
    return 0;
}

static sf_count_t vio_get_filelen(void *user) { return (sf_count_t)((vox_audio_writer *)user)->end; }

static sf_count_t vio_seek(sf_count_t offset, int whence, void *user) {
    vox_audio_writer *w = user;
    int64_t from = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)w->pos : (int64_t)w->end;
    int64_t to = from + (int64_t)offset;
    if (to < 0 || (!w->rewritable && (uint64_t)to > w->end)) return -1;
    w->pos = (uint64_t)to;
    return (sf_count_t)to;
}

static sf_count_t vio_read(void *ptr, sf_count_t count, void *user) {
    vox_audio_writer *w = user;
    if (!w->rewritable || count <= 0 || w->pos >= w->end) return 0;
    uint64_t want = (uint64_t)count < w->end - w->pos ? (uint64_t)count : w->end - w->pos;
    ssize_t k;
    do k = pread(w->fd, ptr, (size_t)want, w->base + (off_t)w->pos);
    while (k < 0 && errno == EINTR);
    if (k <= 0) return 0;
    w->pos += (uint64_t)k;
    return (sf_count_t)k;
}

/* Always "succeeds": a failure is kept in io_errno and reported by our own
 * calls, and libsndfile never takes its error paths (libsndfile 1.2's Vorbis
 * encoder, told that its header pages failed, initialises itself a second
 * time in sf_close and leaks the first encoder). */
static sf_count_t vio_write(const void *ptr, sf_count_t count, void *user) {
    if (count <= 0) return 0;
    (void)out_write(user, ptr, (size_t)count);
    return count;
}

static sf_count_t vio_tell(void *user) { return (sf_count_t)((vox_audio_writer *)user)->pos; }

static void put_u16le(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put_u32le(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static size_t wav_header_bytes(const vox_audio_writer *w) {
    return w->float32 ? WAV_F32_HEADER_BYTES : VOX_WAV_HEADER_BYTES;
}

/* The WAV header for `n` samples, or the "unknown length" one (n == UINT64_MAX). */
static void wav_header(const vox_audio_writer *w, unsigned char *h, uint64_t n) {
    int unknown = n == UINT64_MAX;
    if (!w->float32) {
        vox_wav_header(h, w->rate, unknown ? 0xFFFFFFFFu : (uint32_t)(n * 2));
        return;
    }
    uint32_t data = unknown ? 0xFFFFFFFFu : (uint32_t)(n * 4);
    memcpy(h, "RIFF", 4);
    put_u32le(h + 4, unknown ? 0xFFFFFFFFu : 50u + data);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_u32le(h + 16, 18);
    put_u16le(h + 20, 3); /* WAVE_FORMAT_IEEE_FLOAT */
    put_u16le(h + 22, 1);
    put_u32le(h + 24, (uint32_t)w->rate);
    put_u32le(h + 28, (uint32_t)w->rate * 4u);
    put_u16le(h + 32, 4);
    put_u16le(h + 34, 32);
    put_u16le(h + 36, 0); /* cbSize */
    memcpy(h + 38, "fact", 4);
    put_u32le(h + 42, 4);
    put_u32le(h + 46, unknown ? 0xFFFFFFFFu : (uint32_t)n);
    memcpy(h + 50, "data", 4);
    put_u32le(h + 54, data);
}

static int write_failed(vox_audio_writer *w, vox_error *err) {
    w->failed = 1;
    if (w->io_errno)
        return vox_fail(err, VOX_E_IO, "%s: write failed: %s", w->name, strerror(w->io_errno));
    return vox_fail(err, VOX_E_IO, "%s: write failed: %s", w->name,
                    w->sf ? sf_strerror(w->sf) : "unknown error");
}

/* Encode samples at the output rate. */
static int emit(vox_audio_writer *w, const float *x, size_t n, vox_error *err) {
    if (!n) return VOX_OK;
    if (w->fmt == VOX_AUDIO_WAV) {
        const uint64_t bps = w->float32 ? 4 : 2, hb = wav_header_bytes(w);
        if ((w->frames + n) * bps > 0xFFFFFFFFull - hb) {
            w->failed = 1;
            return vox_fail(err, VOX_E_ARG, "%s: more than 4 GiB of samples do not fit in a WAV file",
                            w->name);
        }
        if (!w->header_done) {
            unsigned char h[WAV_F32_HEADER_BYTES];
            wav_header(w, h, UINT64_MAX);
            if (out_write(w, h, hb)) return write_failed(w, err);
            w->header_done = 1;
        }
    }
    for (size_t i = 0; i < n; i += WRITE_CHUNK) {
        size_t m = n - i < WRITE_CHUNK ? n - i : WRITE_CHUNK;
        const float *s = x + i;
        switch (w->fmt) {
        case VOX_AUDIO_WAV:
        case VOX_AUDIO_PCM:
            if (w->float32) {
                for (size_t j = 0; j < m; j++) {
                    float v = s[j];
                    if (v != v) v = 0.0f;
                    else if (isinf(v)) v = v > 0 ? 1.0f : -1.0f;
                    uint32_t u;
                    memcpy(&u, &v, 4);
                    put_u32le(w->bytes + 4 * j, u);
                }
                if (out_write(w, w->bytes, 4 * m)) return write_failed(w, err);
            } else {
                vox_pcm16_from_f32(s, m, w->cv.s16);
                for (size_t j = 0; j < m; j++) put_u16le(w->bytes + 2 * j, (uint16_t)w->cv.s16[j]);
                if (out_write(w, w->bytes, 2 * m)) return write_failed(w, err);
            }
            break;
        case VOX_AUDIO_FLAC:
            vox_pcm16_from_f32(s, m, w->cv.s16);
            if (sf_write_short(w->sf, w->cv.s16, (sf_count_t)m) != (sf_count_t)m || w->io_errno)
                return write_failed(w, err);
            break;
        default:
            for (size_t j = 0; j < m; j++) {
                float v = s[j];
                w->cv.f32[j] = v != v ? 0.0f : v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
            }
            if (sf_write_float(w->sf, w->cv.f32, (sf_count_t)m) != (sf_count_t)m || w->io_errno)
                return write_failed(w, err);
            break;
        }
        w->frames += m;
    }
    return VOX_OK;
}

static void writer_free(vox_audio_writer *w) {
    if (w->sf) sf_close(w->sf);
    vox_resampler_free(w->rs);
    if (w->is_path) vox_atomic_abort(&w->af);
    free(w->name);
    free(w);
}

void vox_audio_writer_abort(vox_audio_writer *w) {
    if (w) writer_free(w);
}

/* libsndfile's encoder on our descriptor writer (see the top of the file). */
static int open_encoder(vox_audio_writer *w, vox_error *err) {
    SF_INFO si;
    memset(&si, 0, sizeof si);
    si.samplerate = w->rate;
    si.channels = 1;
    switch (w->fmt) {
    case VOX_AUDIO_FLAC: si.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16; break;
    case VOX_AUDIO_OGG: si.format = SF_FORMAT_OGG | SF_FORMAT_VORBIS; break;
    case VOX_AUDIO_OPUS: si.format = SF_FORMAT_OGG | SF_FORMAT_OPUS; break;
    default: si.format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III; break;
    }
    struct stat sb;
    int pipe_like = !w->is_path && !w->sink && fstat(w->fd, &sb) == 0 &&
                    (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode));
    if (w->fmt == VOX_AUDIO_MP3 && pipe_like) {
        /* libsndfile closes the descriptor when the open fails, whatever it
         * was told: give it a copy, which sf_close closes after success */
        int dfd = fcntl(w->fd, F_DUPFD_CLOEXEC, 0);
        if (dfd < 0)
            return vox_fail(err, VOX_E_IO, "%s: cannot duplicate the descriptor: %s", w->name,
                            strerror(errno));
        w->sf = sf_open_fd(dfd, SFM_WRITE, &si, 1);
    } else {
        SF_VIRTUAL_IO vio = {vio_get_filelen, vio_seek, vio_read, vio_write, vio_tell};
        w->sf = sf_open_virtual(&vio, SFM_WRITE, &si, w);
    }
    if (!w->sf) {
        if (w->io_errno)
            return vox_fail(err, VOX_E_IO, "%s: write failed: %s", w->name, strerror(w->io_errno));
        return vox_fail(err, VOX_E_UNSUPPORTED, "%s: libsndfile cannot write %s at %d Hz: %s",
                        w->name, vox_audio_format_name(w->fmt), w->rate, sf_strerror(NULL));
    }
    if (w->fmt == VOX_AUDIO_MP3) {
        /* Constant bit rate: 128 kb/s for MPEG-1 rates (>= 32 kHz), 64 for MPEG-2,
         * 32 for MPEG-2.5.  libsndfile maps the compression level c to
         * max - c * (max - min) kb/s over each version's range. */
        int mode = SF_BITRATE_MODE_CONSTANT;
        double hi = w->rate >= 32000 ? 320 : w->rate >= 16000 ? 160 : 64;
        double lo = w->rate >= 32000 ? 32 : 8;
        double want = w->rate >= 32000 ? 128 : w->rate >= 16000 ? 64 : 32;
        double level = (hi - want) / (hi - lo) - 1e-6;
        /* the level first: setting the mode re-applies the level set before */
        if (sf_command(w->sf, SFC_SET_COMPRESSION_LEVEL, &level, sizeof level) != SF_TRUE ||
            sf_command(w->sf, SFC_SET_BITRATE_MODE, &mode, sizeof mode) != SF_TRUE)
            return vox_fail(err, VOX_E_INTERNAL, "%s: cannot set the mp3 bit rate: %s", w->name,
                            sf_strerror(w->sf));
    }
    return VOX_OK;
}

static int writer_setup(vox_audio_writer *w, vox_audio_format fmt, int rate,
                        const vox_audio_writer_opts *opts, vox_error *err) {
    w->fmt = fmt;
    w->rate = rate;
    w->float32 = opts && opts->float32;
    int in_rate = opts && opts->in_rate ? opts->in_rate : rate;
    int rc = vox_audio_format_check(fmt, rate, w->name, err);
    if (rc) return rc;
    if (w->float32 && fmt != VOX_AUDIO_WAV)
        return vox_fail(err, VOX_E_ARG, "%s: 32-bit float samples are for wav only, not %s",
                        w->name, vox_audio_format_name(fmt));
    if (in_rate != rate) {
        if ((rc = vox_resampler_new(&w->rs, in_rate, rate, err))) {
            vox_error_prefix(err, "%s", w->name);
            return rc;
        }
    }
    if (fmt == VOX_AUDIO_FLAC || fmt == VOX_AUDIO_OGG || fmt == VOX_AUDIO_OPUS ||
        fmt == VOX_AUDIO_MP3)
        return open_encoder(w, err);
    return VOX_OK;
}

static vox_audio_writer *writer_alloc(const char *name) {
    vox_audio_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->fd = -1;
    w->name = strdup(name);
    if (!w->name) {
        free(w);
        return NULL;
    }
    return w;
}

int vox_audio_writer_open(vox_audio_writer **out, const char *path, vox_audio_format fmt, int rate,
                          const vox_audio_writer_opts *opts, vox_error *err) {
    if (!out) return vox_fail(err, VOX_E_ARG, "audio writer: NULL output argument");
    *out = NULL;
    if (!path || !*path) return vox_fail(err, VOX_E_ARG, "audio writer: no path");
    /* Arguments first, so a bad one creates nothing. */
    int rc = vox_audio_format_check(fmt, rate, path, err);
    if (rc) return rc;
    vox_audio_writer *w = writer_alloc(path);
    if (!w) return vox_fail(err, VOX_E_NOMEM, "%s: out of memory", path);
    if ((rc = vox_atomic_open(&w->af, path, err))) {
        writer_free(w);
        return rc;
    }
    w->is_path = 1;
    w->fd = fileno(w->af.f);
    w->rewritable = !w->af.direct; /* a device or FIFO is a stream, like stdout */
    w->base = 0;
    if ((rc = writer_setup(w, fmt, rate, opts, err))) {
        writer_free(w);
        return rc;
    }
    *out = w;
    return VOX_OK;
}

int vox_audio_writer_open_fd(vox_audio_writer **out, int fd, const char *name,
                             vox_audio_format fmt, int rate, const vox_audio_writer_opts *opts,
                             vox_error *err) {
    if (!out) return vox_fail(err, VOX_E_ARG, "audio writer: NULL output argument");
    *out = NULL;
    char fdname[32];
    snprintf(fdname, sizeof fdname, "descriptor %d", fd);
    if (!name) name = fdname;
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0)
        return vox_fail(err, VOX_E_IO, "%s: not an open descriptor", name);
    vox_audio_writer *w = writer_alloc(name);
    if (!w) return vox_fail(err, VOX_E_NOMEM, "%s: out of memory", name);
    w->fd = fd;
    int fl = fcntl(fd, F_GETFL);
    off_t at = S_ISREG(sb.st_mode) && fl != -1 && !(fl & O_APPEND) ? lseek(fd, 0, SEEK_CUR)
                                                                    : (off_t)-1;
    w->rewritable = at >= 0;
    w->base = at >= 0 ? at : 0;
    int rc = writer_setup(w, fmt, rate, opts, err);
    if (rc) {
        writer_free(w);
        return rc;
    }
    *out = w;
    return VOX_OK;
}

int vox_audio_writer_open_sink(vox_audio_writer **out, vox_audio_sink_fn sink, void *user,
                               const char *name, vox_audio_format fmt, int rate,
                               const vox_audio_writer_opts *opts, vox_error *err) {
    if (!out) return vox_fail(err, VOX_E_ARG, "audio writer: NULL output argument");
    *out = NULL;
    if (!sink) return vox_fail(err, VOX_E_ARG, "audio writer: NULL sink");
    if (!name) name = "audio sink";
    vox_audio_writer *w = writer_alloc(name);
    if (!w) return vox_fail(err, VOX_E_NOMEM, "%s: out of memory", name);
    w->sink = sink;
    w->sink_user = user;
    int rc = writer_setup(w, fmt, rate, opts, err);
    if (rc) {
        writer_free(w);
        return rc;
    }
    *out = w;
    return VOX_OK;
}

int vox_audio_writer_write(vox_audio_writer *w, const float *samples, size_t n, vox_error *err) {
    if (!w) return vox_fail(err, VOX_E_ARG, "audio writer: NULL writer");
    if (w->failed) return vox_fail(err, VOX_E_IO, "%s: an earlier write failed", w->name);
    if (!n) return VOX_OK;
    if (!samples) return vox_fail(err, VOX_E_ARG, "%s: samples is NULL", w->name);
    if (!w->rs) return emit(w, samples, n, err);
    const float *r;
    size_t nr;
    int rc = vox_resampler_process(w->rs, samples, n, &r, &nr, err);
    if (rc) {
        w->failed = 1;
        vox_error_prefix(err, "%s", w->name);
        return rc;
    }
    return emit(w, r, nr, err);
}

uint64_t vox_audio_writer_frames(const vox_audio_writer *w) { return w ? w->frames : 0; }

int vox_audio_writer_close(vox_audio_writer *w, vox_error *err) {
    if (!w) return vox_fail(err, VOX_E_ARG, "audio writer: NULL writer");
    int rc = VOX_OK;
    if (w->failed) {
        rc = vox_fail(err, VOX_E_IO, "%s: an earlier write failed", w->name);
        goto fail;
    }
    if (w->rs) {
        const float *r;
        size_t nr;
        if ((rc = vox_resampler_flush(w->rs, &r, &nr, err))) {
            vox_error_prefix(err, "%s", w->name);
            goto fail;
        }
        if ((rc = emit(w, r, nr, err))) goto fail;
    }
    if (w->sf) {
        /* libsndfile starts the FLAC encoder at the first write: an empty
         * result still gets its headers */
        if (w->frames == 0 && w->fmt == VOX_AUDIO_FLAC)
            sf_command(w->sf, SFC_UPDATE_HEADER_NOW, NULL, 0);
        int e = sf_close(w->sf);
        w->sf = NULL;
        if (e || w->io_errno) {
            rc = w->io_errno ? vox_fail(err, VOX_E_IO, "%s: write failed: %s", w->name,
                                        strerror(w->io_errno))
                             : vox_fail(err, VOX_E_IO, "%s: finishing the %s stream failed: %s",
                                        w->name, vox_audio_format_name(w->fmt), sf_error_number(e));
            goto fail;
        }
    }
    if (w->fmt == VOX_AUDIO_WAV) {
        unsigned char h[WAV_F32_HEADER_BYTES];
        wav_header(w, h, w->frames);
        /* the header of an empty result, or the exact sizes over the provisional ones */
        if (!w->header_done || w->rewritable) {
            uint64_t end = w->end;
            w->pos = 0;
            if (out_write(w, h, wav_header_bytes(w))) {
                rc = write_failed(w, err);
                goto fail;
            }
            w->pos = w->end > end ? w->end : end;
        }
    }
    if (w->is_path) {
        rc = vox_atomic_commit(&w->af, w->name, err);
        w->is_path = 0; /* committed, or removed by the failed commit */
    } else if (w->rewritable) {
        /* pwrite leaves the offset alone: put it after what we wrote */
        if (lseek(w->fd, w->base + (off_t)w->end, SEEK_SET) < 0)
            rc = vox_fail(err, VOX_E_IO, "%s: seek failed: %s", w->name, strerror(errno));
    }
    writer_free(w);
    return rc;
fail:
    writer_free(w);
    return rc;
}
