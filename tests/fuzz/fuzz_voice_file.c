/* fuzz_voice_file.c — the voxtts voice file reader (src/voxtral/voice_file.c,
 * docs/VOICE_FORMAT.md): header, JSON metadata, code and row blocks, sizes,
 * checksum; an accepted voice's codes and rows are read whole and must be
 * finite. */
#include <math.h>

#include "fuzz.h"
#include "voxtral/voice_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vox_error err;
    voxtts_voice *v = NULL;
    if (vox_voice_file_read(fuzz_file(data, size, ".voxv"), &v, &err) != VOX_OK) return 0;
    const int n = voxtts_voice_n_rows(v), dim = voxtts_voice_dim(v), T = voxtts_voice_n_frames(v);
    const float *rows = voxtts_voice_rows(v);
    for (size_t i = 0; i < (size_t)n * (size_t)dim; i++)
        if (!isfinite(rows[i])) abort();
    voxtts_voice_info info;
    if (voxtts_voice_get_info(v, &info) == VOXTTS_OK && T > 0 && voxtts_voice_codes(v))
        (void)fuzz_touch(voxtts_voice_codes(v), (size_t)T * (size_t)info.n_codebooks * sizeof(int32_t));
    voxtts_voice_free(v);
    return 0;
}
