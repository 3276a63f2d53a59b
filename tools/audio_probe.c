/* audio_probe.c — print what vox_audio_read makes of an audio file, one line:
 *
 *   audio_probe FILE [RATE]
 *   rate=24000 channels=1 frames=23040 format=wav encoding=s16 n=23040 rms=0.1234 peak=0.9
 *
 * rate/channels/frames/format/encoding describe the file; n, rms and peak the
 * mono samples read (resampled to RATE when given).  Exit status 1 and the
 * error message on stderr when the file cannot be read.  Used by tests/cli. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/audio_file.h"

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: audio_probe FILE [RATE]\n");
        return 2;
    }
    int rate = argc == 3 ? atoi(argv[2]) : 0;
    float *x = NULL;
    size_t n = 0;
    vox_audio_info info;
    vox_error err = {0};
    if (vox_audio_read(argv[1], rate, 0, &x, &n, &info, &err) != VOX_OK) {
        fprintf(stderr, "audio_probe: %s\n", err.msg);
        return 1;
    }
    double ss = 0, peak = 0;
    for (size_t i = 0; i < n; i++) {
        ss += (double)x[i] * x[i];
        if (fabs(x[i]) > peak) peak = fabs(x[i]);
    }
    printf("rate=%d channels=%d frames=%zu format=%s encoding=%s n=%zu rms=%.6f peak=%.6f\n",
           info.rate, info.channels, info.frames, info.format, info.encoding, n,
           n ? sqrt(ss / (double)n) : 0.0, peak);
    free(x);
    return 0;
}
