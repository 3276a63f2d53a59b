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

/* Find `name` and check it has exactly the given shape (ndim dims).  Errors name
 * the tensor and file: VOX_E_MISSING when absent, VOX_E_SHAPE when the shape differs.
 * Open already rejects dtypes other than F32/BF16/F16. */
int vox_safetensors_expect(const vox_safetensors *st, const char *name, int ndim,
                           const int64_t *shape, const vox_tensor **out, vox_error *err);

/* ---- writing ---------------------------------------------------------------
 * Both writers produce a standard safetensors file: 8-byte little-endian header
 * length, JSON header padded with spaces to a multiple of 8 bytes, then the
 * tensors' bytes back to back.  Only F32, BF16 and F16 can be written.  The data
 * are laid out widest dtype first (F32 before BF16/F16, stable otherwise) so every
 * tensor starts aligned to its element size.  The file appears atomically: it is
 * written to a temporary file beside `path` and renamed on success; on failure no
 * file is left behind.  Names must be unique, non-empty and not "__metadata__". */

/* Write n tensors (names[i] -> tensors[i]; data and nbytes must match the shape).
 * The bytes are written straight from the views, so multi-GB tensors cost no copy. */
int vox_safetensors_write(const char *path, size_t n, const char *const *names,
                          const vox_tensor *tensors, vox_error *err);

/* Streaming variant for checkpoints too big to hold in memory (e.g. full-size
 * random weights): only dtype, ndim and shape of tensors[i] are used.  fill() is
 * called for each tensor in data order, with consecutive chunks of at most
 * VOX_SAFETENSORS_CHUNK bytes (each a whole number of elements) until the
 * tensor's bytes are complete; it returns 0, or non-zero to abort the write. */
#define VOX_SAFETENSORS_CHUNK ((size_t)16 << 20)
typedef int (*vox_safetensors_fill_fn)(void *user, size_t tensor_index, void *buf, size_t nbytes);
int vox_safetensors_write_cb(const char *path, size_t n, const char *const *names,
                             const vox_tensor *tensors, vox_safetensors_fill_fn fill,
                             void *user, vox_error *err);

#endif
