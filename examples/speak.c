/* speak.c — the smallest complete voxtts program: load a model, speak one
 * sentence with a preset voice, write a 16-bit WAV file.
 *
 *   cc speak.c $(pkg-config --cflags --libs voxtts) -o speak
 *   ./speak MODEL_DIR_OR_GGUF "Hello there." hello.wav [VOICE]
 *
 * Only the public header is used; every call that can fail returns
 * VOXTTS_OK or a negative code and fills a voxtts_error with a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <voxtts.h>

/* A minimal 16-bit PCM mono WAV writer (44-byte header, little-endian). */
static int write_wav(const char *path, const float *x, size_t n, int rate) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    uint32_t data = (uint32_t)(n * 2), riff = 36 + data, fmt = 16, byte_rate = (uint32_t)rate * 2;
    uint16_t pcm = 1, mono = 1, align = 2, bits = 16;
    uint32_t sr = (uint32_t)rate;
    fwrite("RIFF", 1, 4, f), fwrite(&riff, 4, 1, f), fwrite("WAVEfmt ", 1, 8, f);
    fwrite(&fmt, 4, 1, f), fwrite(&pcm, 2, 1, f), fwrite(&mono, 2, 1, f), fwrite(&sr, 4, 1, f);
    fwrite(&byte_rate, 4, 1, f), fwrite(&align, 2, 1, f), fwrite(&bits, 2, 1, f);
    fwrite("data", 1, 4, f), fwrite(&data, 4, 1, f);
    for (size_t i = 0; i < n; i++) {
        float v = x[i] < -1.0f ? -1.0f : x[i] > 1.0f ? 1.0f : x[i];
        int16_t s = (int16_t)(v * 32767.0f);
        fwrite(&s, 2, 1, f);
    }
    return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL TEXT OUT.wav [VOICE]\n", argv[0]);
        return 2;
    }
    voxtts_error err;
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    voxtts_model *model = NULL;
    if (voxtts_model_load(argv[1], &lp, &model, &err) != VOXTTS_OK) {
        fprintf(stderr, "cannot load the model: %s\n", err.msg);
        return 1;
    }
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    sp.voice = argc > 4 ? argv[4] : voxtts_model_voice_name(model, 0);
    voxtts_audio audio;
    int rc = voxtts_synthesize(model, argv[2], &sp, &audio, NULL, &err);
    if (rc != VOXTTS_OK) {
        fprintf(stderr, "synthesis failed: %s\n", err.msg);
        voxtts_model_free(model);
        return 1;
    }
    rc = write_wav(argv[3], audio.samples, audio.n_samples, audio.sample_rate);
    printf("%s: %d frames, %.2f s of audio (voxtts %s)\n", argv[3], audio.n_frames,
           (double)audio.n_samples / audio.sample_rate, voxtts_version());
    voxtts_audio_free(&audio);
    voxtts_model_free(model);
    return rc == 0 ? 0 : 1;
}
