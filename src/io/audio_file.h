/* audio_file.h — audio files in and out at the edge of the engine: any format
 * libsndfile reads (WAV 8/16/24/32-bit int and float, FLAC, OGG/Vorbis, Opus,
 * MP3, ...) at any rate and channel count, mixed down to mono and resampled with
 * libsoxr ("high quality", as mistral_common does for reference audio); and the
 * output formats voxtts writes (wav 16-bit or float, raw s16le pcm, flac, ogg,
 * opus, mp3).  The inference core never includes this header.
 *
 * Error codes of the readers: VOX_E_IO (cannot open, a directory, read error),
 * VOX_E_FORMAT (not an audio file, or a format libsndfile cannot decode),
 * VOX_E_ARG (empty: 0 frames; longer than max_seconds; a bad rate argument),
 * VOX_E_UNSUPPORTED (a sample rate outside what we resample), VOX_E_NOMEM. */
#ifndef VOX_IO_AUDIO_FILE_H
#define VOX_IO_AUDIO_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Sample rates accepted for resampling, in and out (Hz). */
#define VOX_AUDIO_MIN_RATE VOXTTS_AUDIO_MIN_RATE
#define VOX_AUDIO_MAX_RATE VOXTTS_AUDIO_MAX_RATE

/* What the file held before conversion. */
typedef struct vox_audio_info {
    int rate;          /* the file's sample rate */
    int channels;      /* the file's channel count */
    size_t frames;     /* samples per channel decoded from the file */
    char format[32];   /* short format name, e.g. "wav", "flac", "ogg/vorbis", "ogg/opus", "mp3" */
    char encoding[16]; /* sample encoding: "u8" "s16" "s24" "s32" "f32" "f64" "vorbis" "opus"
                        * "mp3" ... ("?" when libsndfile gives one we do not name) */
} vox_audio_info;

/* Samples read are bounded to +-VOX_AUDIO_MAX_AMPLITUDE (full scale is 1). */
#define VOX_AUDIO_MAX_AMPLITUDE 1000.0

/* Read `path` whole, mix all channels to mono (mean) and resample to `rate`
 * (0: keep the file's rate).  *samples is malloc'd (free()), *n its length.
 * Errors name the file and the problem: cannot open, not an audio file,
 * unsupported format, empty, too long (more than max_seconds, when > 0).
 * NaN and infinite samples read as 0.  `info` may be NULL. */
int vox_audio_read(const char *path, int rate, double max_seconds, float **samples, size_t *n,
                   vox_audio_info *info, vox_error *err);

/* Resample mono float audio with libsoxr (high quality). *out malloc'd.
 * n_out is about n * out_rate / in_rate (rounded by the resampler). */
int vox_audio_resample(const float *in, size_t n, int in_rate, int out_rate, float **out,
                       size_t *n_out, vox_error *err);

/* A streaming mono resampler (libsoxr, high quality) for audio that arrives in
 * pieces: the output of all pieces plus the flush equals one whole-signal
 * resampling.  *out points into the resampler's own buffer, valid until the
 * next call. */
typedef struct vox_resampler vox_resampler;
int vox_resampler_new(vox_resampler **r, int in_rate, int out_rate, vox_error *err);
int vox_resampler_process(vox_resampler *r, const float *in, size_t n, const float **out,
                          size_t *n_out, vox_error *err);
/* End of input: the last samples the filter still holds. */
int vox_resampler_flush(vox_resampler *r, const float **out, size_t *n_out, vox_error *err);
void vox_resampler_free(vox_resampler *r);

/* ---- output ------------------------------------------------------------- */

/* The public formats (include/voxtts.h) under their internal names. */
typedef voxtts_audio_format vox_audio_format;
#define VOX_AUDIO_UNKNOWN VOXTTS_AUDIO_UNKNOWN
#define VOX_AUDIO_WAV VOXTTS_AUDIO_WAV   /* RIFF/WAVE, 16-bit PCM (or 32-bit float, opts.float32) */
#define VOX_AUDIO_PCM VOXTTS_AUDIO_PCM   /* raw signed 16-bit little-endian samples, no header */
#define VOX_AUDIO_FLAC VOXTTS_AUDIO_FLAC /* FLAC, 16-bit */
#define VOX_AUDIO_OGG VOXTTS_AUDIO_OGG   /* Ogg/Vorbis */
#define VOX_AUDIO_OPUS VOXTTS_AUDIO_OPUS /* Ogg/Opus (rates 8000, 12000, 16000, 24000, 48000) */
#define VOX_AUDIO_MP3 VOXTTS_AUDIO_MP3   /* MPEG-1/2/2.5 layer III, constant bit rate */

/* "wav", ".wav", "WAV", "pcm", "raw", "s16le", "flac", "ogg", "vorbis", "opus",
 * "mp3": the format, or VOX_AUDIO_UNKNOWN. */
vox_audio_format vox_audio_format_from_name(const char *ext_or_name);
/* The format named by the extension of a path's last component (UNKNOWN when
 * there is none or it is not one of ours). */
vox_audio_format vox_audio_format_from_path(const char *path);
/* Canonical name ("wav", "pcm", "flac", "ogg", "opus", "mp3"; "unknown"). */
const char *vox_audio_format_name(vox_audio_format f);
/* The names vox_audio_format_from_name knows, for messages. */
#define VOX_AUDIO_FORMAT_NAMES VOXTTS_AUDIO_FORMAT_NAMES
/* Can `f` be written at `rate` Hz?  VOX_E_UNSUPPORTED with a message naming the
 * rates it takes otherwise (`what` names the output in the message). */
int vox_audio_format_check(vox_audio_format f, int rate, const char *what, vox_error *err);

typedef struct vox_audio_writer_opts {
    int float32; /* wav only: 32-bit IEEE float samples (not clamped) instead of 16-bit PCM */
    int in_rate; /* rate of the samples given to _write; 0 or == rate: as is, otherwise
                  * resampled to `rate` with libsoxr (high quality) */
} vox_audio_writer_opts;

/* A streaming mono writer.  Samples are f32; NaN is written as 0, and integer
 * and lossy formats clamp to [-1, 1] (16-bit: x * 32767 rounded, as wav.h).
 * To a path: written into PATH.tmp-XXXXXX beside it and renamed over PATH by
 * _close, removed by _abort or a failed _close (nothing is left behind).
 * To a descriptor (stdout, a FIFO, a file): written as it comes; a WAV header
 * first carries "unknown length" sizes (0xFFFFFFFF) that are rewritten with the
 * exact ones at the end when the descriptor is a regular file not opened for
 * appending; the descriptor is not closed.  `name` names it in messages. */
typedef struct voxtts_audio_writer vox_audio_writer; /* the public handle */
int vox_audio_writer_open(vox_audio_writer **w, const char *path, vox_audio_format fmt, int rate,
                          const vox_audio_writer_opts *opts, vox_error *err);
int vox_audio_writer_open_fd(vox_audio_writer **w, int fd, const char *name,
                             vox_audio_format fmt, int rate, const vox_audio_writer_opts *opts,
                             vox_error *err);
/* To a callback: every encoded byte goes to sink(bytes, n, user) in order, as
 * soon as the encoder gives it out, as into a pipe (append-only: WAV keeps its
 * "unknown length" sizes, FLAC its "length unknown" STREAMINFO; MP3 keeps the
 * LAME encoder's placeholder first frame, a frame header and zeros, that it
 * cannot rewrite into a LAME tag: decoders read it as one frame of silence).  The
 * sink returns 0, or non-zero to fail the write (reported as an I/O error
 * naming `name`).  Used by `voxtts serve` to stream encoded audio to clients. */
typedef voxtts_audio_sink_fn vox_audio_sink_fn;
int vox_audio_writer_open_sink(vox_audio_writer **w, vox_audio_sink_fn sink, void *user,
                               const char *name, vox_audio_format fmt, int rate,
                               const vox_audio_writer_opts *opts, vox_error *err);
int vox_audio_writer_write(vox_audio_writer *w, const float *samples, size_t n, vox_error *err);
/* Samples written so far at the output rate. */
uint64_t vox_audio_writer_frames(const vox_audio_writer *w);
/* Finish (flush the resampler and the encoder, fix the header, rename) and free. */
int vox_audio_writer_close(vox_audio_writer *w, vox_error *err);
/* Give up: free, and remove the temporary file of a path writer.  NULL is fine. */
void vox_audio_writer_abort(vox_audio_writer *w);

#endif
