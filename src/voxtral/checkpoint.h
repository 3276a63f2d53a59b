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

/* The tensors of one pre-norm transformer block, relative to the block's
 * prefix, in checkpoint order (§1.2 A, B, C; the codec's layers add QK-norm and
 * LayerScale when params.json asks for them).  This one table is what the
 * checkpoint walk below emits, what weights.c binds for the backbone, the
 * flow head and the codec, and what the encoder looks for (§7). */
typedef enum vox_block_dim { VOX_BD_DIM, VOX_BD_Q, VOX_BD_KV, VOX_BD_HIDDEN } vox_block_dim;
typedef enum vox_block_part {
    VOX_BP_MATRIX,      /* slot 0..6: wq wk wv wo w1 w2 w3 */
    VOX_BP_NORM,        /* slot 0: attention_norm, 1: ffn_norm */
    VOX_BP_QK_NORM,     /* slot 0: q_norm, 1: k_norm (only with qk_norm) */
    VOX_BP_LAYER_SCALE, /* slot 0: attention_scale, 1: ffn_scale (only with layer_scale) */
} vox_block_part;
typedef struct vox_block_tensor {
    const char *suffix;
    vox_block_part part;
    int slot;
    int ndim;
    vox_block_dim d0, d1; /* d1 unused when ndim == 1 */
    vox_ckpt_fill fill;
} vox_block_tensor;
enum { VOX_BLOCK_TENSORS = 13 };
extern const vox_block_tensor vox_block_tensors[VOX_BLOCK_TENSORS];
/* The size a vox_block_dim stands for in a block of these widths. */
static inline int64_t vox_block_dim_size(vox_block_dim d, int64_t dim, int64_t q, int64_t kv,
                                         int64_t hidden) {
    return d == VOX_BD_DIM ? dim : d == VOX_BD_Q ? q : d == VOX_BD_KV ? kv : hidden;
}
/* Whether a block with these options has tensor t. */
static inline int vox_block_has(const vox_block_tensor *t, int qk_norm, int layer_scale) {
    return (t->part != VOX_BP_QK_NORM || qk_norm) && (t->part != VOX_BP_LAYER_SCALE || layer_scale);
}

/* Called once per tensor; a non-zero return stops the walk and is returned. */
typedef int (*vox_ckpt_tensor_fn)(void *user, const vox_ckpt_tensor *t);

/* Walk every tensor of the checkpoint described by cfg, in file order. */
int vox_checkpoint_tensors(const vox_config *cfg, vox_ckpt_tensor_fn fn, void *user);

#endif
