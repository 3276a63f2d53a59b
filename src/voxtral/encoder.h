/* encoder.h — the codec encoder (docs/MODEL.md §7): 24 kHz mono waveform ->
 * offset codes [T][n_codebooks], T = ceil(n / samples_per_frame), used for voice
 * cloning when the checkpoint, a GGUF or a separate safetensors file holds the
 * encoder's tensors (the open checkpoint does not).  See encoder.c. */
#ifndef VOX_VOXTRAL_ENCODER_H
#define VOX_VOXTRAL_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "voxtral/model.h"

/* 1 when the model has encoder weights (from its own source or attached). */
int vox_encoder_available(const voxtts_model *m);
/* Attach encoder weights from a separate safetensors file (names as in the
 * checkpoint, `audio_tokenizer.input_proj...`, `audio_tokenizer.encoder_blocks...`),
 * replacing any the model had.  Every encoder tensor must be there with its
 * shape (errors name the file and the tensor); the file stays mapped while the
 * model lives. */
int vox_encoder_attach(voxtts_model *m, const char *safetensors_path, vox_error *err);
/* Encode: *codes malloc'd, [*n_frames][n_codebooks] offset codes (+2, §4), no END frame. */
int vox_encode(voxtts_model *m, const float *wave, size_t n, int32_t **codes, int *n_frames,
               vox_error *err);

/* At model load (api.c): bind the encoder when the model's own source holds all
 * of its tensors; none is fine (m->enc stays NULL), some-but-not-all an error
 * naming a missing one. */
int vox_encoder_load_builtin(voxtts_model *m, vox_error *err);
void vox_encoder_free(struct vox_encoder *e);

#endif
