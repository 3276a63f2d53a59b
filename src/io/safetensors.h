/* safetensors.h — read-only, mmap-backed safetensors checkpoints.
 *
 * Opening validates the whole header before anything is used: 8-byte length
 * inside the file, JSON well formed, every entry with a known dtype, a shape whose
 * element count matches its byte range, and data_offsets inside the data section.
 * Tensors are returned as views into the mapping (no copies). */
#ifndef VOX_IO_SAFETENSORS_H
#define VOX_IO_SAFETENSORS_H

#include "base/error.h"
#include "tensor/tensor.h"

typedef struct vox_safetensors vox_safetensors;

int vox_safetensors_open(const char *path, vox_safetensors **out, vox_error *err);
void vox_safetensors_close(vox_safetensors *st);

size_t vox_safetensors_count(const vox_safetensors *st);
const char *vox_safetensors_name(const vox_safetensors *st, size_t i);
/* Returns NULL when the tensor is absent. */
const vox_tensor *vox_safetensors_find(const vox_safetensors *st, const char *name);
const char *vox_safetensors_path(const vox_safetensors *st);

/* Find `name` and check it has exactly the given shape (ndim dims) and, when
 * dtype_ok != NULL, that dtype_ok(dtype) holds.  Errors name the tensor and file. */
int vox_safetensors_expect(const vox_safetensors *st, const char *name, int ndim,
                           const int64_t *shape, const vox_tensor **out, vox_error *err);

#endif
