/* audio_bench.c — how long vox_audio_read takes on a long file: writes SECONDS
 * (default 60) of a 44.1 kHz stereo test signal (two sines and a little noise)
 * as WAV s16, FLAC, MP3 and Ogg/Vorbis with libsndfile into DIR, then reads each
 * back (best of 3) at its own rate (decode + mono mix) and at 24 kHz (+ libsoxr
 * HQ resampling), and times vox_audio_resample alone on the mono signal.
 *
 *   audio_bench DIR [SECONDS]
 *
 * The files are removed at the end. */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "io/audio_file.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: audio_bench DIR [SECONDS]\n");
        return 2;
    }
    const double seconds = argc == 3 ? atof(argv[2]) : 60.0;
    const int rate = 44100, ch = 2;
    if (!(seconds > 0 && seconds <= 3600)) {
        fprintf(stderr, "audio_bench: SECONDS must be in (0, 3600]\n");
        return 2;
    }
    const size_t frames = (size_t)(seconds * rate);
    float *buf = malloc(frames * ch * sizeof *buf), *mono = malloc(frames * sizeof *mono);
    if (!buf || !mono) {
        fprintf(stderr, "audio_bench: out of memory\n");
        return 1;
    }
    unsigned noise = 1;
    for (size_t i = 0; i < frames; i++) {
        for (int c = 0; c < ch; c++) {
            noise = noise * 1664525u + 1013904223u;
            buf[i * ch + c] = (float)(0.3 * sin(2 * M_PI * (440.0 + 110.0 * c) * (double)i / rate) +
                                      0.01 * ((double)(noise >> 8) / (1 << 24) - 0.5));
        }
        mono[i] = 0.5f * (buf[i * ch] + buf[i * ch + 1]);
    }
    static const struct { const char *ext; int format; } kinds[] = {
        {"wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16},
        {"flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16},
        {"mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III},
        {"ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS},
    };
    int status = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/audio_bench_%d.%s", argv[1], (int)getpid(), kinds[k].ext);
        SF_INFO si = {0};
        si.samplerate = rate;
        si.channels = ch;
        si.format = kinds[k].format;
        SNDFILE *sf = sf_open(path, SFM_WRITE, &si);
        if (!sf) {
            fprintf(stderr, "audio_bench: %s: %s\n", path, sf_strerror(NULL));
            status = 1;
            continue;
        }
        /* in pieces: one huge write overflows libvorbis's stack */
        for (size_t i = 0; i < frames; i += 4096)
            sf_writef_float(sf, buf + i * ch, (sf_count_t)(frames - i < 4096 ? frames - i : 4096));
        sf_close(sf);
        double best[2] = {1e30, 1e30};
        size_t n = 0;
        for (int r = 0; r < 3; r++) {
            for (int j = 0; j < 2; j++) {
                float *x = NULL;
                vox_error err = {0};
                double t0 = now_s();
                int rc = vox_audio_read(path, j ? 24000 : 0, 0, &x, &n, NULL, &err);
                double t = now_s() - t0;
                free(x);
                if (rc) {
                    fprintf(stderr, "audio_bench: %s\n", err.msg);
                    status = 1;
                }
                if (t < best[j]) best[j] = t;
            }
        }
        printf("%-4s %.0f s 44.1 kHz stereo: decode + mix %.3f s, + resample to 24 kHz %.3f s (%zu samples)\n",
               kinds[k].ext, seconds, best[0], best[1], n);
        unlink(path);
    }
    double best = 1e30;
    size_t m = 0;
    for (int r = 0; r < 3; r++) {
        float *y = NULL;
        vox_error err = {0};
        double t0 = now_s();
        if (vox_audio_resample(mono, frames, rate, 24000, &y, &m, &err)) {
            fprintf(stderr, "audio_bench: %s\n", err.msg);
            status = 1;
        }
        double t = now_s() - t0;
        free(y);
        if (t < best) best = t;
    }
    printf("resample alone, %.0f s mono 44.1 kHz -> 24 kHz: %.3f s (%zu samples)\n", seconds, best, m);
    free(buf);
    free(mono);
    return status;
}
