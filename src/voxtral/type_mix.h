/* type_mix.h — which storage type each weight gets when a model is quantized.
 *
 * Weights are grouped into components: the LLM backbone's layer matrices, the
 * acoustic (flow-matching) transformer with its input projections, the two
 * output heads (semantic and acoustic codebook heads: argmax decisions, kept at
 * higher precision in the recommended mix), the codec decoder's transformer
 * matrices and the embedding tables.  Everything else (norm gains, LayerScales,
 * the codec's weight-normed convolutions, the semantic codebook, matrices too
 * narrow for block formats) keeps the dtype it is stored in.
 *
 * A mix is written as one type for every component ("q8_0"), a list
 * ("backbone=q4_k,acoustic=q8_0"; unnamed components keep their stored dtype) or
 * "best" (VOX_TYPE_MIX_BEST, the mix the README recommends).  Used by
 * `voxtts quantize` and by the synthetic benchmark, so both agree. */
#ifndef VOX_VOXTRAL_TYPE_MIX_H
#define VOX_VOXTRAL_TYPE_MIX_H

#include <stdint.h>

#include "base/error.h"
#include "tensor/tensor.h"

typedef enum vox_component {
    VOX_COMP_BACKBONE = 0,
    VOX_COMP_ACOUSTIC,
    VOX_COMP_HEADS,
    VOX_COMP_CODEC,
    VOX_COMP_EMBEDDINGS,
    VOX_COMP_OTHER, /* never converted */
    VOX_N_COMPONENTS
} vox_component;

#define VOX_TYPE_MIX_BEST VOXTTS_TYPE_MIX_BEST /* include/voxtts.h */

typedef struct vox_type_mix {
    int set[VOX_N_COMPONENTS];          /* 0: keep the stored dtype */
    vox_dtype type[VOX_N_COMPONENTS];
} vox_type_mix;

const char *vox_component_name(vox_component c);
/* Component of an official tensor name (docs/MODEL.md §1.2). */
vox_component vox_tensor_component(const char *name);
/* Parse "f32|f16|bf16|q8_0|q4_k", "best", or "comp=type,comp=type". */
int vox_type_mix_parse(const char *spec, vox_type_mix *mix, vox_error *err);
/* Canonical text of a mix ("backbone=q4_k,..."), into buf. */
void vox_type_mix_format(const vox_type_mix *mix, char *buf, size_t len);
/* The dtype `name` gets under `mix`: the stored dtype unless its component is set
 * and the tensor is a 2-D matrix; a block type whose block size does not divide
 * the row length falls back (q4_k -> q8_0 -> f16). */
vox_dtype vox_type_mix_choose(const vox_type_mix *mix, const char *name, vox_dtype stored, int ndim,
                              const int64_t *shape);
/* Parse a dtype name ("q8_0"); -1 if unknown. */
int vox_dtype_parse(const char *s);

#endif
