/* audio_file.h — audio files in and out at the edge of the engine: any format
 * libsndfile reads (WAV 8/16/24/32-bit int and float, FLAC, OGG/Vorbis, Opus,
 * MP3, ...) at any rate and channel count, mixed down to mono and resampled with
 * libsoxr ("high quality", as mistral_common does for reference audio); and the
 * output formats voxtts writes (wav 16-bit or float, raw s16le pcm, flac, ogg,
 * opus, mp3).  The inference core never includes this header.
 *
 * (Interface agreed before the implementation; see the .c file for details.) */
#ifndef VOX_IO_AUDIO_FILE_H
#define VOX_IO_AUDIO_FILE_H

#include <stddef.h>

#include "base/error.h"

/* What the file held before conversion. */
typedef struct vox_audio_info {
    int rate;          /* the file's sample rate */
    int channels;      /* the file's channel count */
    size_t frames;     /* samples per channel in the file */
    char format[32];   /* short format name, e.g. "wav", "flac", "ogg/vorbis", "mp3" */
} vox_audio_info;

/* Read `path` whole, mix all channels to mono (mean) and resample to `rate`
 * (0: keep the file's rate).  *samples is malloc'd (free()), *n its length.
 * Errors name the file and the problem: cannot open, not an audio file,
 * unsupported format, empty, too long (more than max_seconds, when > 0). */
int vox_audio_read(const char *path, int rate, double max_seconds, float **samples, size_t *n,
                   vox_audio_info *info, vox_error *err);

/* Resample mono float audio with libsoxr (high quality). *out malloc'd. */
int vox_audio_resample(const float *in, size_t n, int in_rate, int out_rate, float **out,
                       size_t *n_out, vox_error *err);

#endif
