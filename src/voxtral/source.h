/* source.h — where the model's tensors come from.
 *
 * The engine binds every weight by its official name (weights.c) through this
 * small interface, so the same binding code serves the official safetensors
 * checkpoint, a GGUF file (possibly quantized) and weights made in memory (the
 * synthetic benchmark).  A source only finds tensors and checks their shapes;
 * the tensors it returns stay valid until the source is freed. */
#ifndef VOX_VOXTRAL_SOURCE_H
#define VOX_VOXTRAL_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "tensor/tensor.h"

typedef struct vox_source_ops {
    /* Find `name` with exactly this shape; errors name the tensor and the file. */
    int (*expect)(void *impl, const char *name, int ndim, const int64_t *shape,
                  const vox_tensor **out, vox_error *err);
    /* NULL when absent. */
    const vox_tensor *(*find)(void *impl, const char *name);
    void (*close)(void *impl);
    /* Optional (NULL: nothing to do): the model has its own copy of t (a packed
     * layout, vox_matmul_pack) and no longer reads t's bytes, so the source may
     * drop their pages from memory.  A file-backed source reads them back from
     * the file if they are touched again; the synthetic one gives zeros. */
    void (*release)(void *impl, const vox_tensor *t);
} vox_source_ops;

typedef struct vox_source {
    const vox_source_ops *ops;
    void *impl;
    char *label; /* file name (or "synthetic") for messages */
} vox_source;

int vox_source_expect(const vox_source *s, const char *name, int ndim, const int64_t *shape,
                      const vox_tensor **out, vox_error *err);
const vox_tensor *vox_source_find(const vox_source *s, const char *name);
const char *vox_source_label(const vox_source *s);
void vox_source_release(const vox_source *s, const vox_tensor *t);
/* For implementations of release: drop the whole pages inside [p, p + n)
 * (madvise MADV_DONTNEED; partial pages at either end are kept). */
void vox_source_drop_pages(const void *p, size_t n);
/* The release op of a source whose tensors are views into a read-only private
 * mapping of its file (safetensors, GGUF): drops the tensor's pages. */
void vox_source_release_mapped(void *impl, const vox_tensor *t);
/* Wrap an implementation (takes ownership of impl; close is called on free). */
int vox_source_new(const vox_source_ops *ops, void *impl, const char *label, vox_source **out,
                   vox_error *err);
void vox_source_free(vox_source *s);

/* The official checkpoint: consolidated.safetensors, mmapped. */
int vox_source_open_safetensors(const char *path, vox_source **out, vox_error *err);

#endif
