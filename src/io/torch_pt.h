/* torch_pt.h — reading one tensor from a PyTorch zip archive (torch.save >= 1.6).
 *
 * Voice presets (voice_embedding/<name>.pt) are such archives holding a single
 * BF16 tensor [N, dim].  We parse the zip central directory, find the archive's
 * root folder from its data.pkl entry, interpret the small pickle to learn the
 * storage dtype, key, offset, size and strides, and read <root>/data/<key>.
 * No Python, no decompression: torch stores members uncompressed. */
#ifndef VOX_IO_TORCH_PT_H
#define VOX_IO_TORCH_PT_H

#include <stdint.h>

#include "base/error.h"

typedef struct vox_pt_tensor {
    int ndim;
    int64_t shape[4];
    float *data; /* numel f32 values, row-major, malloc'd; caller frees */
} vox_pt_tensor;

/* Load the single tensor stored in `path` (BFloat16, Half or Float storage) as f32. */
int vox_pt_load_tensor(const char *path, vox_pt_tensor *out, vox_error *err);
void vox_pt_tensor_free(vox_pt_tensor *t);

/* Write a rows x cols BF16 tensor (row-major) as a torch.save archive laid out
 * like the official voice files (docs/MODEL.md §1.4): folder `root` (the official
 * files use "voice_embed"), a protocol-2 data.pkl rebuilding the tensor with
 * torch._utils._rebuild_tensor_v2 from a BFloat16Storage tagged 'cuda:0',
 * .format_version "1", .storage_alignment "64", byteorder "little", data/0
 * aligned to 64 bytes, version "3\n", .data/serialization_id; every member
 * stored uncompressed with its CRC-32.  Written atomically (temp + rename). */
int vox_pt_write_bf16(const char *path, const char *root, int64_t rows, int64_t cols,
                      const uint16_t *bf16, vox_error *err);

#endif
