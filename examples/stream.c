/* stream.c — streaming synthesis: raw 16-bit PCM (24 kHz mono) goes to stdout
 * while the speech is being generated, so a player can start at once.
 *
 *   cc stream.c $(pkg-config --cflags --libs voxtts) -o stream
 *   ./stream MODEL "A longer text..." | aplay -f S16_LE -r 24000 -c 1
 *
 * The on_audio callback receives each decoded piece in order (the pieces
 * together are bit-identical to a whole-sequence decode); returning non-zero
 * from it cancels the synthesis, which is what happens when the reader of
 * stdout goes away. */
#include <stdint.h>
#include <stdio.h>
#include <voxtts.h>

static int on_audio(const float *samples, size_t n, void *user) {
    size_t *total = user;
    for (size_t i = 0; i < n; i++) {
        float v = samples[i] < -1.0f ? -1.0f : samples[i] > 1.0f ? 1.0f : samples[i];
        int16_t s = (int16_t)(v * 32767.0f);
        if (fwrite(&s, 2, 1, stdout) != 1) return 1; /* reader gone: cancel */
    }
    *total += n;
    return fflush(stdout) != 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL TEXT [VOICE] > out.pcm\n", argv[0]);
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
    size_t total = 0;
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    sp.voice = argc > 3 ? argv[3] : voxtts_model_voice_name(model, 0);
    sp.on_audio = on_audio;
    sp.audio_user = &total;
    voxtts_audio audio;
    int rc = voxtts_synthesize(model, argv[2], &sp, &audio, NULL, &err);
    if (rc != VOXTTS_OK) fprintf(stderr, "synthesis failed: %s\n", err.msg);
    else fprintf(stderr, "streamed %zu samples\n", total);
    voxtts_audio_free(&audio);
    voxtts_model_free(model);
    return rc == VOXTTS_OK ? 0 : 1;
}
