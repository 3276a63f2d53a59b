/* npy.h — NumPy .npy files (format 1.0/2.0, C order, little endian) for the
 * stage debug commands and the golden tests.  float32 ('<f4') and int32 ('<i4'). */
#ifndef VOX_IO_NPY_H
#define VOX_IO_NPY_H

#include <stdint.h>

#include "base/error.h"
#include "voxtts_debug.h"

/* The public types (include/voxtts_debug.h) under their internal names. */
typedef voxtts_npy_type vox_npy_type;
#define VOX_NPY_F32 VOXTTS_NPY_F32
#define VOX_NPY_I32 VOXTTS_NPY_I32
typedef voxtts_npy vox_npy;

int vox_npy_read(const char *path, vox_npy *out, vox_error *err);
/* Writes atomically (temp file + rename): no partial file is left on failure. */
int vox_npy_write(const char *path, vox_npy_type type, int ndim, const int64_t *shape,
                  const void *data, vox_error *err);
void vox_npy_free(vox_npy *a);

#endif
