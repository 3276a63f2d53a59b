/* fuzz_safetensors.c — the safetensors reader (src/io/safetensors.c): header
 * length, JSON header, dtypes, shapes and data offsets; every tensor an
 * accepted file lists is read whole. */
#include "fuzz.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vox_error err;
    vox_safetensors *st = NULL;
    if (vox_safetensors_open(fuzz_file(data, size, ".safetensors"), &st, &err) != VOX_OK) return 0;
    unsigned s = 0;
    for (size_t i = 0; i < vox_safetensors_count(st); i++) {
        const char *name = vox_safetensors_name(st, i);
        const vox_tensor *t = vox_safetensors_find(st, name);
        if (!t) abort(); /* a listed name must be found */
        s += fuzz_touch(t->data, t->nbytes) + (unsigned)strlen(name);
    }
    vox_safetensors_close(st);
    return (int)(s & 0);
}
