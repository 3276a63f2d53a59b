/* fuzz_gguf.c — the GGUF reader (src/io/gguf.c): header, metadata of every
 * type (nested arrays, strings), tensor infos, alignment and data offsets;
 * every key, string and tensor an accepted file lists is read whole. */
#include "fuzz.h"
#include "io/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vox_error err;
    vox_gguf *g = NULL;
    if (vox_gguf_open(fuzz_file(data, size, ".gguf"), &g, &err) != VOX_OK) return 0;
    unsigned s = 0;
    for (int64_t i = 0; i < vox_gguf_n_kv(g); i++) {
        vox_gguf_str k = vox_gguf_key(g, i);
        s += fuzz_touch(k.ptr, k.len);
        char key[256];
        size_t n = k.len < sizeof key - 1 ? k.len : sizeof key - 1;
        memcpy(key, k.ptr, n);
        key[n] = '\0';
        vox_gguf_str v;
        if (vox_gguf_get_str(g, key, &v, &err) == VOX_OK) s += fuzz_touch(v.ptr, v.len);
        vox_gguf_str *sa = NULL;
        int64_t cnt = 0;
        if (vox_gguf_get_str_array(g, key, &sa, &cnt, &err) == VOX_OK) {
            for (int64_t j = 0; j < cnt; j++) s += fuzz_touch(sa[j].ptr, sa[j].len);
            free(sa);
        }
        int64_t *ia = NULL;
        if (vox_gguf_get_int_array(g, key, &ia, &cnt, &err) == VOX_OK) free(ia);
        float *fa = NULL;
        if (vox_gguf_get_f32_array(g, key, &fa, &cnt, &err) == VOX_OK) free(fa);
        int64_t iv;
        (void)vox_gguf_get_int(g, key, &iv, &err);
    }
    for (int64_t i = 0; i < vox_gguf_n_tensors(g); i++) {
        const vox_gguf_tensor_info *ti = vox_gguf_tensor_at(g, i);
        if (!ti) abort();
        s += fuzz_touch(ti->name.ptr, ti->name.len) + fuzz_touch(ti->view.data, ti->view.nbytes);
    }
    vox_gguf_close(g);
    return (int)(s & 0);
}
