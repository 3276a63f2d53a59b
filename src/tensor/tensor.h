/* tensor.h — the weight-tensor view shared by loaders, model code and kernels.
 *
 * A vox_tensor is a non-owning view: its data lives in an mmapped checkpoint, a
 * GGUF file or a model-owned buffer.  Weights are stored PyTorch style
 * [out_features, in_features] (ne[0] = rows = out, ne[1] = in for 2-D tensors).
 * Model code never touches the raw bytes of a weight: it calls the kernels below,
 * which pick the routine for the tensor's dtype. */
#ifndef VOX_TENSOR_TENSOR_H
#define VOX_TENSOR_TENSOR_H

#include <stddef.h>
#include <stdint.h>

typedef enum vox_dtype {
    VOX_F32 = 0,
    VOX_BF16 = 1,
    VOX_F16 = 2,
    VOX_Q8_0 = 3,
    VOX_Q4_K = 4,
} vox_dtype;

#define VOX_MAX_DIMS 4

typedef struct vox_tensor {
    vox_dtype dtype;
    int ndim;
    int64_t shape[VOX_MAX_DIMS]; /* outermost first, as in safetensors / PyTorch */
    const void *data;
    size_t nbytes;
    /* NULL, or the same weights rearranged by vox_matmul_pack for the kernel
     * level packed_level (a vox_kernel_level), which products at that level use
     * instead of data. */
    const void *packed;
    int packed_level;
    size_t packed_bytes; /* the size of the packed copy */
} vox_tensor;

const char *vox_dtype_name(vox_dtype t);
/* Bytes needed for n elements of a 1-D row of this dtype (n a multiple of the block size for quant types). */
size_t vox_dtype_row_bytes(vox_dtype t, int64_t n);
int64_t vox_tensor_numel(const vox_tensor *t);

/* bf16 <-> f32 (bf16 is the top 16 bits of an IEEE f32; rounding to nearest even). */
static inline float vox_bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v;
    v.u = (uint32_t)h << 16;
    return v.f;
}
static inline uint16_t vox_f32_to_bf16(float f) {
    union { uint32_t u; float f; } v;
    v.f = f;
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40); /* quiet NaN */
    uint32_t rounding = 0x7fffu + ((v.u >> 16) & 1u);
    return (uint16_t)((v.u + rounding) >> 16);
}

/* Copy row `row` of a 2-D weight (any dtype) into f32 `out` (length shape[1]). */
void vox_tensor_get_row(const vox_tensor *w, int64_t row, float *out);
/* Convert a whole tensor to f32 (out holds numel floats). */
void vox_tensor_to_f32(const vox_tensor *w, float *out);

#endif
