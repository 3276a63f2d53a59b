/* checkpoint.h — the list of tensors an official checkpoint holds, derived
 * from params.json alone (docs/MODEL.md §1.2).
 *
 * One enumeration serves everything that has to produce a checkpoint without
 * reading one: the random-weight checkpoint writer (tools/make_random_model)
 * and the in-memory synthetic model of the benchmark (synthetic.c).  The names
 * and shapes are exactly those weights.c binds, in the official file's order
 * (backbone, acoustic transformer, codec), and each tensor says how a random
 * model should fill it so that the result behaves like a trained one in the
 * ways that matter for running it: unit norm gains, small LayerScales, usage
 * counts of one, and a zero END_AUDIO row in the semantic head so that random
 * weights keep generating instead of stopping at frame 0. */
#ifndef VOX_VOXTRAL_CHECKPOINT_H
#define VOX_VOXTRAL_CHECKPOINT_H

#include <stdint.h>

#include "voxtral/config.h"

typedef enum vox_ckpt_fill {
    VOX_FILL_RANDOM = 0,   /* a matrix: zero-mean random values, variance ~1/fan_in */
    VOX_FILL_ONES,         /* norm gains, weight-norm magnitudes g */
    VOX_FILL_LAYER_SCALE,  /* codec LayerScales: 0.1 */
    VOX_FILL_USAGE,        /* semantic codebook cluster usage: ones */
    VOX_FILL_SEMANTIC_HEAD /* random, except row 1 (END_AUDIO, §5.1) which is zero */
} vox_ckpt_fill;

typedef struct vox_ckpt_tensor {
    const char *name; /* valid only during the callback */
    int ndim;
    int64_t shape[3];
    vox_ckpt_fill fill;
} vox_ckpt_tensor;

/* Called once per tensor; a non-zero return stops the walk and is returned. */
typedef int (*vox_ckpt_tensor_fn)(void *user, const vox_ckpt_tensor *t);

/* Walk every tensor of the checkpoint described by cfg, in file order. */
int vox_checkpoint_tensors(const vox_config *cfg, vox_ckpt_tensor_fn fn, void *user);

#endif
