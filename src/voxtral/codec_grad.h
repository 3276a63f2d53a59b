/* codec_grad.h — the codec decoder made differentiable, for voice cloning by
 * inversion (docs/MODEL.md §7, "Inversion"): a forward pass from a continuous
 * latent that keeps what the backward pass needs, and the backward pass giving
 * the gradient of a loss with respect to that latent.  Every op's backward
 * (latent preparation, causal convs, transposed convs, RMSNorm, QK-norm, ALiBi
 * sliding-window attention, SwiGLU, LayerScale, unpatching) is checked against
 * finite differences in double precision (tests/unit/test_codec_grad.c).
 *
 * The latent is time-major [n_frames][latent_dim], latent_dim = semantic_dim +
 * n_acoustic: channels 0..semantic_dim-1 are the semantic vector (a codebook row
 * for real codes), the rest the acoustic values in [-1, 1] (level*2/(L-1) - 1).
 * Forward and backward follow the same decoder settings as vox_codec_decode
 * (ALiBi slopes and window options).
 *
 * A workspace holds transposed copies of the codec's matrices (BF16 when the
 * model stores them BF16, else F32 dequantized: ~0.3 GB, resp. ~0.55 GB at full
 * size), the activations the backward needs (~2 MB per frame at full size)
 * and scratch; creating it takes a second or two at full size, so make one per
 * clip length and reuse it for every step.  Work is split over the model's
 * thread pool (the model handle is used by one thread at a time); results are
 * the same bits for the same inputs whatever the thread count.  Weights are
 * frozen: no weight gradients are formed.  Implementation and the backward
 * formulas: codec_grad.c. */
#ifndef VOX_VOXTRAL_CODEC_GRAD_H
#define VOX_VOXTRAL_CODEC_GRAD_H

#include <stdint.h>

#include "voxtral/model.h"

typedef struct vox_codec_grad_ws vox_codec_grad_ws;

/* A workspace for latents of exactly n_frames (>= 1) frames; alibi_press and
 * window_w_keys as for vox_codec_decode (0, 0: the official decoder). */
int vox_codec_grad_ws_new(const voxtts_model *m, int n_frames, int alibi_press, int window_w_keys,
                          vox_codec_grad_ws **out, vox_error *err);
void vox_codec_grad_ws_free(vox_codec_grad_ws *w);
/* semantic_dim + n_acoustic: the width of a latent row. */
int vox_codec_latent_dim(const voxtts_model *m);
/* The latent [n_frames][latent_dim] of offset codes [n_frames][n_codebooks]
 * (what vox_codec_decode feeds its first conv); codes are checked as there. */
int vox_codec_latent_from_codes(const voxtts_model *m, const int32_t *codes, int n_frames,
                                float *latent, vox_error *err);
/* wave[n_frames * samples_per_frame] from latent; keeps activations for backward.
 * For the latent of real codes the waveform equals vox_codec_decode's (within
 * float rounding). */
int vox_codec_grad_forward(vox_codec_grad_ws *w, const float *latent, float *wave, vox_error *err);
/* dlatent[n_frames][latent_dim] = dL/dlatent given dwave = dL/dwave, for the
 * latent of the last forward on this workspace. */
int vox_codec_grad_backward(vox_codec_grad_ws *w, const float *dwave, float *dlatent, vox_error *err);

#endif
