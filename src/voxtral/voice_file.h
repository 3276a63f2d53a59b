/* voice_file.h — the voice handle (voxtts_voice) and the voxtts voice file
 * format (docs/VOICE_FORMAT.md, voice_file.c).
 *
 * A voice holds T frames of offset codes [T][K] (T = 0 for rows-only voices),
 * N rows [N][D] in f32 (N = T + 1 when there are codes) and its metadata.  The
 * SHA-256 of the rows (with N and D) keys the model's prefix cache. */
#ifndef VOX_VOXTRAL_VOICE_FILE_H
#define VOX_VOXTRAL_VOICE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "voxtts.h"

#define VOX_VOICE_MAGIC "VOXV"
#define VOX_VOICE_VERSION 1u
#define VOX_VOICE_HEADER_BYTES 64u
#define VOX_VOICE_TRAILER_BYTES 32u
#define VOX_VOICE_ROWS_F32 0u
#define VOX_VOICE_ROWS_BF16 1u
/* Bounds a reader accepts (anything larger is not a voice). */
#define VOX_VOICE_MAX_FRAMES 100000
#define VOX_VOICE_MAX_CODEBOOKS 1024
#define VOX_VOICE_MAX_DIM 65536
#define VOX_VOICE_MAX_JSON (1u << 20)

struct voxtts_voice {
    voxtts_voice_info info; /* name, method, source, fingerprint, sizes (n_frames, n_rows, dim, K) */
    int32_t *codes;         /* [T][K] or NULL */
    float *rows;            /* [N][D] */
    int rows_bf16;          /* the rows are exact BF16 values: saved as BF16 */
    uint8_t key[32];        /* SHA-256 of rows (see vox_voice_key) */
};

/* An empty voice with name and method set and `created` = now (UTC). */
int vox_voice_new(const char *name, const char *method, voxtts_voice **out, vox_error *err);
/* Compute v->key from v->rows, N and D. */
void vox_voice_key(voxtts_voice *v);
/* 1 if every row value is finite. */
int vox_voice_rows_finite(const float *rows, size_t n);

/* Write v in the voice format (atomically).  Rows as BF16 if v->rows_bf16, else f32. */
int vox_voice_file_write(const char *path, const voxtts_voice *v, vox_error *err);
/* Read and validate a voice file; every error names `path`. */
int vox_voice_file_read(const char *path, voxtts_voice **out, vox_error *err);

#endif
