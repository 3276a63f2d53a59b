/* invert.h — voice cloning without an encoder (docs/MODEL.md §7): find the
 * codes whose decoded audio matches a reference clip, by analysis-by-synthesis
 * through the frozen codec decoder (codec_grad.h).  Multi-resolution STFT,
 * log-mel and waveform losses; Adam over a relaxation of the codes; snapping to
 * the semantic codebook; straight-through refinement; deterministic for a given
 * seed and thread count.
 *
 * (Interface agreed before the implementation; see invert.c.) */
#ifndef VOX_VOXTRAL_INVERT_H
#define VOX_VOXTRAL_INVERT_H

#include <stddef.h>
#include <stdint.h>

#include "voxtral/model.h"

/* Called after each step; return non-zero to cancel (VOX_E_CANCELLED). */
typedef int (*vox_invert_progress_fn)(int step, int max_steps, float loss, void *user);

/* The default step budget (see invert.c for how it was chosen). */
#define VOX_INVERT_DEFAULT_ITERS 500

typedef struct vox_invert_params {
    int max_iters;   /* step budget; 0: VOX_INVERT_DEFAULT_ITERS */
    uint64_t seed;   /* jitter of the acoustic start values */
    int alibi_press; /* decoder options, as in vox_codec_decode */
    int window_w_keys;
    int straight_through; /* 1: the last phase-2 steps see FSQ-rounded acoustic values */
    vox_invert_progress_fn progress;
    void *progress_user;
} vox_invert_params;

typedef struct vox_invert_result {
    int iters;        /* steps actually run */
    int phase1_iters; /* of which with a free semantic vector */
    float final_loss; /* loss of the decoded codes found (rounded) */
    double seconds;
    double codec_seconds; /* of which in the decoder's forward and backward */
    double loss_seconds;  /* and in the losses */
} vox_invert_result;

void vox_invert_params_default(vox_invert_params *p);
/* wave: 24 kHz mono; codes: malloc'd [*n_frames][n_codebooks] offset codes,
 * *n_frames = ceil(n / samples_per_frame). */
int vox_invert(voxtts_model *m, const float *wave, size_t n, const vox_invert_params *p,
               int32_t **codes, int *n_frames, vox_invert_result *res, vox_error *err);

#endif
