/* fuzz_audio.c — reading reference audio (src/io/audio_file.c over
 * libsndfile and libsoxr): any container libsndfile recognises (WAV, FLAC,
 * Ogg, MP3, ...) with any header values, mixed to mono and resampled to 24 kHz;
 * every sample returned must be finite. */
#include <math.h>

#include "fuzz.h"
#include "io/audio_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vox_error err;
    float *x = NULL;
    size_t n = 0;
    vox_audio_info info;
    if (vox_audio_read(fuzz_file(data, size, ".audio"), 24000, 60.0, &x, &n, &info, &err) != VOX_OK) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) abort();
    free(x);
    return 0;
}
