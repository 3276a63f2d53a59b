/* wav.h — writing 24 kHz mono 16-bit PCM RIFF/WAVE files and streams.
 *
 * Samples are f32; values are clamped to [-1, 1] and scaled by 32767 with
 * rounding to nearest.  Writing to a path goes through a temporary file that is
 * renamed on success, so a failed synthesis never leaves a partial WAV behind. */
#ifndef VOX_IO_WAV_H
#define VOX_IO_WAV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"

int vox_wav_write_file(const char *path, const float *samples, size_t n, int sample_rate,
                       vox_error *err);
/* Header + data to an already open stream (e.g. stdout). */
int vox_wav_write_stream(FILE *f, const float *samples, size_t n, int sample_rate,
                         vox_error *err);
void vox_pcm16_from_f32(const float *in, size_t n, int16_t *out);

/* The pieces, for writers that stream (the length is unknown up front):
 * the canonical 44-byte header for `data_bytes` bytes of samples (0xFFFFFFFF:
 * unknown, "until the end of the stream"), and samples appended as 16-bit
 * little-endian PCM (returns 0, or -1 with errno set). */
#define VOX_WAV_HEADER_BYTES 44
void vox_wav_header(unsigned char h[VOX_WAV_HEADER_BYTES], int sample_rate, uint32_t data_bytes);
int vox_wav_write_pcm(FILE *f, const float *samples, size_t n);

#endif
