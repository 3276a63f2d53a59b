/* fuzz_torch_pt.c — the PyTorch zip + pickle voice reader (src/io/torch_pt.c):
 * end-of-central-directory and ZIP64 records, member names and offsets, the
 * pickle's opcodes, storage type, shape, offset and strides. */
#include "fuzz.h"
#include "io/torch_pt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vox_error err;
    vox_pt_tensor t;
    if (vox_pt_load_tensor(fuzz_file(data, size, ".pt"), &t, &err) != VOX_OK) return 0;
    size_t n = 1;
    for (int i = 0; i < t.ndim; i++) n *= (size_t)t.shape[i];
    unsigned s = fuzz_touch(t.data, n * sizeof(float));
    vox_pt_tensor_free(&t);
    return (int)(s & 0);
}
