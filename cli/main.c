/* main.c — the voxtts command: speak text into a WAV file.
 *
 *   voxtts -m MODEL_DIR -v VOICE -o out.wav "text"
 *
 * Text comes from the arguments, from -f FILE, or from stdin; `--` ends the
 * options so text may begin with '-'; `-o -` streams the WAV to stdout while
 * the audio is generated (see wav_pipe below).  The
 * sub-commands `voxtts download` and `voxtts debug STAGE` live in download.c and
 * debug.c.  Exit status is 0 only on success, and a failed run leaves no output
 * file behind (the WAV writer renames a temporary file on success). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "io/wav.h"

static void usage(FILE *f) {
    fprintf(f,
        "voxtts %s — local text-to-speech with Voxtral-4B-TTS-2603\n"
        "\n"
        "usage: voxtts [options] [--] TEXT...\n"
        "       voxtts [options] -f FILE        (FILE may be '-' for stdin)\n"
        "       echo TEXT | voxtts [options]\n"
        "       voxtts download [DIR]          fetch the official model files\n"
        "       voxtts debug STAGE ...         run one pipeline stage (voxtts debug --help)\n"
        "       voxtts bench --synthetic --type TYPE | -m MODEL   speed per stage (voxtts bench --help)\n"
        "       voxtts quantize IN OUT.gguf --type TYPE   write a (quantized) GGUF model\n"
        "       voxtts voice list|show|preview|export|import|rm ...   voices of one's own\n"
        "       voxtts clone --audio REF -o FILE   make a voice from reference speech\n"
        "\n"
        "options:\n"
        "  -m, --model DIR       model directory or .gguf file (default: $VOXTTS_MODEL or %s)\n"
        "  -v, --voice VOICE     a preset (case-insensitive; default: neutral_female), a voice\n"
        "                        file (.voxv) or official-layout .pt, or a voice NAME in the\n"
        "                        voices directory (presets win on a name clash)\n"
        "      --ref AUDIO       speak with a clone of AUDIO (cached in the voices directory)\n"
        "      --iters N         cloning steps for --ref when the model has no codec encoder\n"
        "      --voices-dir DIR  voices directory (default $XDG_DATA_HOME/voxtts/voices,\n"
        "                        else ~/.local/share/voxtts/voices)\n"
        "  -o, --output FILE     output WAV, 24 kHz mono 16-bit; '-' = stdout, streamed as audio\n"
        "                        is produced (default: out.wav)\n"
        "  -f, --file FILE       read the text from FILE ('-' = stdin)\n"
        "  -t, --threads N       worker threads (default: all cores)\n"
        "      --seed N          noise seed (default 42)\n"
        "      --max-frames N    stop after N frames of 80 ms (default 2048)\n"
        "      --cfg ALPHA       classifier-free guidance strength (default 1.2)\n"
        "      --steps N         flow-matching Euler steps (default 7)\n"
        "      --list-voices     print the preset voices and exit\n"
        "  -q, --quiet           no progress output\n"
        "  -h, --help            this help\n"
        "      --version         print the version\n"
        "\n"
        "options for comparing against other ports (VOXTRAL.md 'disagreements'):\n"
        "      --seed-step       extra [AUDIO] decode step before frame 0 (mudler lineage)\n"
        "      --alibi-press     codec ALiBi slopes 2^(-8(h+1)/H) instead of the official 2^(-8h/H)\n"
        "      --window-w-keys   codec attention window of W keys instead of the official W+1\n",
        VOXTTS_VERSION, VOX_DEFAULT_MODEL_DIR);
}

typedef struct {
    int enabled;
    double start;
} progress_state;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int on_progress(int done, int max_frames, void *user) {
    progress_state *ps = user;
    if (ps->enabled) {
        double el = now_s() - ps->start;
        double audio = done * 0.08;
        fprintf(stderr, "\rvoxtts: %d frames (%.2f s of audio) in %.1f s, %.2fx real time   ", done,
                audio, el, audio > 0 ? el / audio : 0.0);
        fflush(stderr);
    }
    (void)max_frames;
    return 0;
}

/* `-o -`: a WAV written to stdout piece by piece from the on_audio callback.  The
 * length is unknown when the header goes out, so its two sizes are 0xFFFFFFFF
 * (the usual "until the end of the stream" convention of streaming WAV
 * readers); when stdout is a regular file (not opened for appending) they are
 * rewritten with the exact sizes at the end, so `-o - > f.wav` equals `-o f.wav`. */
typedef struct wav_pipe {
    FILE *f;
    int sample_rate;
    int header_done;
    int seekable;
    long header_pos;
    uint64_t samples;
    int write_errno; /* first write error (0: none) */
} wav_pipe;

static void wav_pipe_open(wav_pipe *w, FILE *f, int sample_rate) {
    memset(w, 0, sizeof *w);
    w->f = f;
    w->sample_rate = sample_rate;
    struct stat sb;
    int fd = fileno(f), fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;
    w->seekable = fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && fl != -1 &&
                  !(fl & O_APPEND);
}

static int wav_pipe_write(const float *samples, size_t n, void *user) {
    wav_pipe *w = user;
    if (w->write_errno) return 1;
    if (!w->header_done) {
        unsigned char h[VOX_WAV_HEADER_BYTES];
        vox_wav_header(h, w->sample_rate, 0xFFFFFFFFu);
        w->header_pos = w->seekable ? ftell(w->f) : -1;
        if (fwrite(h, 1, sizeof h, w->f) != sizeof h) goto fail;
        w->header_done = 1;
    }
    if (vox_wav_write_pcm(w->f, samples, n) != 0) goto fail;
    w->samples += n;
    /* a listener downstream should hear it now, not when stdio's buffer fills */
    if (fflush(w->f) != 0) goto fail;
    return 0;
fail:
    w->write_errno = errno ? errno : EIO;
    return 1; /* cancels the synthesis */
}

/* Finish the stream: the header of an empty result, or the exact sizes when the
 * output can be rewritten.  0 on success, else an errno value. */
static int wav_pipe_close(wav_pipe *w) {
    if (w->write_errno) return w->write_errno;
    const uint64_t data = w->samples * 2;
    if (data > 0xFFFFFFFFull - 36) return EFBIG;
    unsigned char h[VOX_WAV_HEADER_BYTES];
    vox_wav_header(h, w->sample_rate, (uint32_t)data);
    if (!w->header_done) {
        if (fwrite(h, 1, sizeof h, w->f) != sizeof h) return errno ? errno : EIO;
    } else if (w->seekable && w->header_pos >= 0) {
        if (fseek(w->f, w->header_pos, SEEK_SET) != 0 || fwrite(h, 1, sizeof h, w->f) != sizeof h ||
            fseek(w->f, 0, SEEK_END) != 0)
            return errno ? errno : EIO;
    }
    return fflush(w->f) != 0 ? (errno ? errno : EIO) : 0;
}

enum {
    OPT_SEED = 1000, OPT_MAX_FRAMES, OPT_CFG, OPT_STEPS, OPT_LIST, OPT_VERSION,
    OPT_SEED_STEP, OPT_ALIBI_PRESS, OPT_WINDOW_W, OPT_VOICES_DIR, OPT_REF, OPT_ITERS,
};

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "debug") == 0) return cli_debug_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "download") == 0) return cli_download_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "bench") == 0) return cli_bench_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "quantize") == 0) return cli_quantize_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "voice") == 0) return cli_voice_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "clone") == 0) return cli_clone_main(argc - 1, argv + 1);

    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},      {"voice", required_argument, 0, 'v'},
        {"output", required_argument, 0, 'o'},     {"file", required_argument, 0, 'f'},
        {"threads", required_argument, 0, 't'},    {"seed", required_argument, 0, OPT_SEED},
        {"max-frames", required_argument, 0, OPT_MAX_FRAMES},
        {"cfg", required_argument, 0, OPT_CFG},    {"steps", required_argument, 0, OPT_STEPS},
        {"list-voices", no_argument, 0, OPT_LIST}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},             {"version", no_argument, 0, OPT_VERSION},
        {"seed-step", no_argument, 0, OPT_SEED_STEP},
        {"alibi-press", no_argument, 0, OPT_ALIBI_PRESS},
        {"window-w-keys", no_argument, 0, OPT_WINDOW_W},
        {"voices-dir", required_argument, 0, OPT_VOICES_DIR},
        {"ref", required_argument, 0, OPT_REF},
        {"iters", required_argument, 0, OPT_ITERS},
        {0, 0, 0, 0},
    };
    const char *model_dir = cli_default_model_dir(), *voice = NULL, *output = "out.wav";
    const char *text_file = NULL, *voices_dir = NULL, *ref = NULL;
    int list_voices = 0, quiet = 0;
    long threads = 0, v, iters = 0;
    unsigned long long seed;
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);

    int c;
    while ((c = getopt_long(argc, argv, "m:v:o:f:t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_dir = optarg; break;
        case 'v': voice = optarg; break;
        case 'o': output = optarg; break;
        case 'f': text_file = optarg; break;
        case 't': if (cli_parse_int("--threads", optarg, 0, 1024, &threads)) return 2; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        case OPT_VERSION: printf("voxtts %s\n", voxtts_version()); return 0;
        case OPT_SEED: if (cli_parse_u64("--seed", optarg, &seed)) return 2; sp.seed = seed; break;
        case OPT_MAX_FRAMES:
            if (cli_parse_int("--max-frames", optarg, 1, 1000000, &v)) return 2;
            sp.max_frames = (int)v;
            break;
        case OPT_CFG: if (cli_parse_float("--cfg", optarg, &sp.cfg_alpha)) return 2; break;
        case OPT_STEPS:
            if (cli_parse_int("--steps", optarg, 1, 1000, &v)) return 2;
            sp.n_steps = (int)v;
            break;
        case OPT_LIST: list_voices = 1; break;
        case OPT_SEED_STEP: sp.seed_step = 1; break;
        case OPT_ALIBI_PRESS: sp.alibi_press = 1; break;
        case OPT_WINDOW_W: sp.window_w_keys = 1; break;
        case OPT_VOICES_DIR: voices_dir = optarg; break;
        case OPT_REF: ref = optarg; break;
        case OPT_ITERS: if (cli_parse_int("--iters", optarg, 1, 1000000, &iters)) return 2; break;
        default: fprintf(stderr, "Try 'voxtts --help'.\n"); return 2;
        }
    }

    if (ref && voice) {
        fprintf(stderr, "voxtts: give either -v VOICE or --ref AUDIO, not both\n");
        return 2;
    }
    if (ref && access(ref, R_OK) != 0) {
        fprintf(stderr, "voxtts: reference audio '%s': %s\n", ref, strerror(errno));
        return 1;
    }
    /* Gather the text before loading 8 GB of weights, so input errors are instant. */
    char *text = NULL;
    size_t text_len = 0;
    if (!list_voices) {
        if (text_file && optind < argc) {
            fprintf(stderr, "voxtts: give the text either as arguments or with -f, not both\n");
            return 2;
        }
        if (text_file) {
            if (cli_read_text_file(text_file, &text, &text_len)) return 1;
        } else if (optind < argc) {
            text = cli_join_args(argc - optind, argv + optind);
            if (!text) { fprintf(stderr, "voxtts: out of memory\n"); return 1; }
        } else if (!isatty(0)) {
            if (cli_read_text_file("-", &text, &text_len)) return 1;
        } else {
            fprintf(stderr, "voxtts: no text given (pass it as arguments, with -f FILE, or on stdin)\n"
                            "Try 'voxtts --help'.\n");
            return 2;
        }
    }

    voxtts_error err = {0};
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = (int)threads;
    voxtts_model *m = NULL;
    if (voxtts_model_load(model_dir, &lp, &m, &err) != VOXTTS_OK) {
        cli_print_error("cannot load the model", &err);
        size_t ml = strlen(model_dir); /* a .gguf file is not what download fetches */
        if ((err.code == VOXTTS_E_IO || err.code == VOXTTS_E_MISSING) &&
            !(ml >= 5 && strcasecmp(model_dir + ml - 5, ".gguf") == 0))
            fprintf(stderr, "voxtts: fetch the model with 'voxtts download %s'\n", model_dir);
        free(text);
        return 1;
    }
    if (list_voices) {
        for (int i = 0; i < voxtts_model_n_voices(m); i++) printf("%s\n", voxtts_model_voice_name(m, i));
        voxtts_model_free(m);
        return 0;
    }
    /* -v: a preset, a voice file or .pt, or a voice in the voices directory;
     * --ref: a clone of the reference audio (cached in the voices directory) */
    char *vdir = cli_voices_dir(voices_dir);
    voxtts_voice *own = NULL;
    const char *preset = NULL;
    int vrc = 0;
    if (ref)
        vrc = cli_ref_voice(m, ref, vdir, (int)iters, sp.seed, quiet, &own);
    else if (voice)
        vrc = cli_resolve_voice(m, voice, vdir, &preset, &own);
    else
        preset = voxtts_model_find_voice(m, "neutral_female") >= 0 ? "neutral_female"
                                                                   : voxtts_model_voice_name(m, 0);
    free(vdir);
    if (vrc) {
        free(text);
        voxtts_model_free(m);
        return 1;
    }
    sp.voice = preset;
    sp.voice_handle = own;
    voice = own ? voxtts_voice_name(own) : preset;
    progress_state ps = {!quiet && isatty(2), now_s()};
    sp.progress = on_progress;
    sp.progress_user = &ps;

    int sr = voxtts_model_sample_rate(m);
    const int to_stdout = strcmp(output, "-") == 0;
    wav_pipe wp;
    if (to_stdout) {
        wav_pipe_open(&wp, stdout, sr);
        sp.on_audio = wav_pipe_write;
        sp.audio_user = &wp;
    }

    voxtts_audio audio = {0};
    int rc = voxtts_synthesize(m, text, &sp, &audio, &err);
    if (ps.enabled) fputc('\n', stderr);
    free(text);
    if (to_stdout && wp.write_errno) {
        fprintf(stderr, "voxtts: cannot write the audio to stdout: %s\n", strerror(wp.write_errno));
        voxtts_audio_free(&audio);
        voxtts_voice_free(own);
        voxtts_model_free(m);
        return 1;
    }
    if (rc != VOXTTS_OK) {
        cli_print_error("synthesis failed", &err);
        voxtts_voice_free(own);
        voxtts_model_free(m);
        return 1;
    }
    vox_error werr = {0};
    if (to_stdout) {
        int e = wav_pipe_close(&wp);
        if (e) rc = vox_fail(&werr, VOX_E_IO, "stdout: write failed: %s", strerror(e));
    } else {
        rc = vox_wav_write_file(output, audio.samples, audio.n_samples, sr, &werr);
    }
    if (rc != VOXTTS_OK) {
        cli_print_error("cannot write the audio", &werr);
    } else if (!quiet && strcmp(output, "-") != 0) {
        fprintf(stderr, "voxtts: wrote %s (%d frames, %.2f s, voice %s)\n", output, audio.n_frames,
                (double)audio.n_samples / sr, voice);
    }
    voxtts_audio_free(&audio);
    voxtts_voice_free(own);
    voxtts_model_free(m);
    return rc == VOXTTS_OK ? 0 : 1;
}
