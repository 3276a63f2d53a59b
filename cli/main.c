/* main.c — the voxtts command: speak text into an audio file.
 *
 *   voxtts -m MODEL_DIR -v VOICE -o out.wav "text"
 *
 * Text comes from the arguments, from -f FILE, or from stdin; `--` ends the
 * options so text may begin with '-'.  The output format comes from -o's
 * extension (.wav .pcm/.raw .flac .ogg .opus .mp3) or --format; an unknown one
 * is an error before anything is loaded.  The audio is written while it is
 * generated, through the streaming writer of io/audio_file.h (resampled with
 * --rate): into a temporary file renamed over -o's path at the end, or straight
 * to stdout for `-o -` (WAV unless --format says otherwise).  The sub-commands
 * `voxtts download` and `voxtts debug STAGE` live in download.c and debug.c.
 * Exit status is 0 only on success, and a failed run leaves no output file
 * behind. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

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
        "       voxtts wyoming --uri tcp://0.0.0.0:10200   Wyoming server for Home Assistant\n"
        "                                      (voxtts wyoming --help)\n"
        "       voxtts serve [-m MODEL] [--port N]  OpenAI-compatible speech server (voxtts serve --help)\n"
        "\n"
        "options:\n"
        "  -m, --model DIR       model directory or .gguf file (default: $VOXTTS_MODEL or %s)\n"
        "  -v, --voice VOICE     a preset (case-insensitive; default: neutral_female), a voice\n"
        "                        file (.voxv), an official-layout .pt, int32 codes (.npy), or a\n"
        "                        voice NAME in the voices directory (presets win on a clash)\n"
        "      --ref AUDIO       speak with a clone of AUDIO (cached in the voices directory)\n"
        "      --iters N         cloning steps for --ref when the model has no codec encoder\n"
        "      --encoder FILE    codec-encoder weights (safetensors) for --ref\n"
        "      --voices-dir DIR  voices directory (default $XDG_DATA_HOME/voxtts/voices,\n"
        "                        else ~/.local/share/voxtts/voices)\n"
        "  -o, --output FILE     output audio file, written as the audio is produced; the\n"
        "                        format comes from the extension: .wav (16-bit PCM), .pcm or\n"
        "                        .raw (s16le, no header), .flac, .ogg (Vorbis), .opus, .mp3;\n"
        "                        '-' = stdout, WAV unless --format says otherwise (default: out.wav)\n"
        "      --format NAME     output format whatever the extension: %s\n"
        "      --float           WAV with 32-bit float samples (not clamped)\n"
        "      --rate HZ         resample the output (default: the model's 24000 Hz; opus takes\n"
        "                        8000, 12000, 16000, 24000 or 48000; mp3 8000..48000 standard rates)\n"
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
        "long text (every text is split into chunks of sentences, spoken one after another):\n"
        "      --lang L          en fr es de it pt nl ar hi, or auto (default): abbreviations\n"
        "                        and ordinals the sentence splitter knows\n"
        "      --max-tokens N    text tokens per chunk (default 120; fewer when --max-frames\n"
        "                        is small: chunks stay well below the frame cap)\n"
        "      --normalize       clean the text first: markup, HTML entities, URLs, invisible\n"
        "                        characters, whitespace and punctuation runs\n"
        "      --pause-ms N      silence between paragraphs (default 500)\n"
        "      --gap-ms N        silence between chunks of one paragraph (default 100)\n"
        "      --stats FILE      write JSON stats: totals and every chunk's frames\n"
        "                        (--max-frames is per chunk; a chunk that reaches it is reported)\n"
        "options for comparing against other ports (docs/MODEL.md 'disagreements'):\n"
        "      --seed-step       extra [AUDIO] decode step before frame 0 (mudler lineage)\n"
        "      --alibi-press     codec ALiBi slopes 2^(-8(h+1)/H) instead of the official 2^(-8h/H)\n"
        "      --window-w-keys   codec attention window of W keys instead of the official W+1\n",
        VOXTTS_VERSION, VOX_DEFAULT_MODEL_DIR, VOXTTS_AUDIO_FORMAT_NAMES);
}

/* The signal that interrupted the synthesis (SIGINT, SIGTERM, SIGHUP), or 0.
 * The callbacks then cancel it, the writer removes its temporary file, and
 * the command exits 128 + the signal.  (The command's one piece of global
 * state: a signal handler has no other way to be heard.) */
static volatile sig_atomic_t g_stop_signal;

static void on_stop_signal(int sig) { g_stop_signal = sig; }

static void catch_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND; /* a second one kills at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* The audio, written piece by piece from the on_audio callback.  The first
 * write error is kept (and cancels the synthesis). */
typedef struct audio_out {
    voxtts_audio_writer *w;
    int failed;
    voxtts_error err;
} audio_out;

static int audio_out_write(const float *samples, size_t n, void *user) {
    audio_out *o = user;
    if (o->failed || g_stop_signal) return 1;
    if (voxtts_audio_writer_write(o->w, samples, n, &o->err) != VOXTTS_OK) {
        o->failed = 1;
        return 1; /* cancels the synthesis */
    }
    return 0;
}

enum {
    OPT_SEED = 1000, OPT_MAX_FRAMES, OPT_CFG, OPT_STEPS, OPT_LIST, OPT_VERSION,
    OPT_SEED_STEP, OPT_ALIBI_PRESS, OPT_WINDOW_W, OPT_FORMAT, OPT_FLOAT, OPT_RATE,
    OPT_LANG, OPT_MAX_TOKENS, OPT_NORMALIZE, OPT_PAUSE, OPT_GAP, OPT_STATS,
    OPT_VOICES_DIR, OPT_REF, OPT_ITERS, OPT_ENCODER,
};

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "debug") == 0) return cli_debug_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "download") == 0) return cli_download_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "bench") == 0) return cli_bench_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "quantize") == 0) return cli_quantize_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "voice") == 0) return cli_voice_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "clone") == 0) return cli_clone_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "wyoming") == 0) return cli_wyoming_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "serve") == 0) return cli_serve_main(argc - 1, argv + 1);

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
        {"encoder", required_argument, 0, OPT_ENCODER},
        {"format", required_argument, 0, OPT_FORMAT},
        {"float", no_argument, 0, OPT_FLOAT},
        {"rate", required_argument, 0, OPT_RATE},
        {"lang", required_argument, 0, OPT_LANG}, {"max-tokens", required_argument, 0, OPT_MAX_TOKENS},
        {"normalize", no_argument, 0, OPT_NORMALIZE}, {"pause-ms", required_argument, 0, OPT_PAUSE},
        {"gap-ms", required_argument, 0, OPT_GAP}, {"stats", required_argument, 0, OPT_STATS},
        {0, 0, 0, 0},
    };
    const char *model_dir = cli_default_model_dir(), *voice = NULL, *output = "out.wav";
    const char *text_file = NULL, *format_name = NULL, *voices_dir = NULL, *ref = NULL;
    const char *encoder = NULL;
    int list_voices = 0, quiet = 0, float32 = 0;
    long out_rate = 0;
    long threads = 0, v, iters = 0;
    unsigned long long seed;
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
    voxtts_synth_debug dbg; /* the disputed options below */
    voxtts_synth_debug_default(&dbg);
    sp.debug = &dbg;
    cli_long_opts lo;
    memset(&lo, 0, sizeof lo);
    voxtts_split_params_default(&lo.split);
    lo.pause_paragraph_ms = 500;
    lo.pause_chunk_ms = 100;

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
        case OPT_SEED_STEP: dbg.seed_step = 1; break;
        case OPT_ALIBI_PRESS: dbg.alibi_press = 1; break;
        case OPT_WINDOW_W: dbg.window_w_keys = 1; break;
        case OPT_VOICES_DIR: voices_dir = optarg; break;
        case OPT_REF: ref = optarg; break;
        case OPT_ENCODER: encoder = optarg; break;
        case OPT_ITERS: if (cli_parse_int("--iters", optarg, 1, 1000000, &iters)) return 2; break;
        case OPT_FORMAT: format_name = optarg; break;
        case OPT_FLOAT: float32 = 1; break;
        case OPT_RATE:
            if (cli_parse_int("--rate", optarg, VOXTTS_AUDIO_MIN_RATE, VOXTTS_AUDIO_MAX_RATE, &out_rate))
                return 2;
            break;
        case OPT_LANG: lo.split.lang = optarg; break;
        case OPT_MAX_TOKENS:
            if (cli_parse_int("--max-tokens", optarg, 1, 1000000, &v)) return 2;
            lo.split.max_tokens = (int)v;
            break;
        case OPT_NORMALIZE: lo.split.normalize = 1; break;
        case OPT_PAUSE:
            if (cli_parse_int("--pause-ms", optarg, 0, 60000, &v)) return 2;
            lo.pause_paragraph_ms = (int)v;
            break;
        case OPT_GAP:
            if (cli_parse_int("--gap-ms", optarg, 0, 60000, &v)) return 2;
            lo.pause_chunk_ms = (int)v;
            break;
        case OPT_STATS: lo.stats_path = optarg; break;
        default: fprintf(stderr, "Try 'voxtts --help'.\n"); return 2;
        }
    }

    if (encoder && !ref) {
        fprintf(stderr, "voxtts: --encoder is used with --ref AUDIO\n");
        return 2;
    }
    if (ref && voice) {
        fprintf(stderr, "voxtts: give either -v VOICE or --ref AUDIO, not both\n");
        return 2;
    }
    if (ref && access(ref, R_OK) != 0) {
        fprintf(stderr, "voxtts: reference audio '%s': %s\n", ref, strerror(errno));
        return 1;
    }
    /* The output format, and the text, before loading 8 GB of weights, so that
     * input errors are instant. */
    const int to_stdout = strcmp(output, "-") == 0;
    voxtts_audio_format fmt = VOXTTS_AUDIO_WAV;
    voxtts_error werr = {0};
    if (!list_voices) {
        if (format_name) {
            fmt = voxtts_audio_format_from_name(format_name);
            if (fmt == VOXTTS_AUDIO_UNKNOWN) {
                fprintf(stderr, "voxtts: unknown audio format '%s' for --format (known: %s)\n",
                        format_name, VOXTTS_AUDIO_FORMAT_NAMES);
                return 2;
            }
        } else if (!to_stdout) {
            fmt = voxtts_audio_format_from_path(output);
            struct stat ost;
            /* a device or FIFO without an extension (/dev/stdout, a pipe) gets WAV, like -o - */
            if (fmt == VOXTTS_AUDIO_UNKNOWN && stat(output, &ost) == 0 && !S_ISREG(ost.st_mode) &&
                !S_ISDIR(ost.st_mode))
                fmt = VOXTTS_AUDIO_WAV;
            if (fmt == VOXTTS_AUDIO_UNKNOWN) {
                fprintf(stderr,
                        "voxtts: cannot tell the audio format of '%s' from its extension (use .wav, "
                        ".pcm, .raw, .flac, .ogg, .opus or .mp3, or --format NAME)\n",
                        output);
                return 2;
            }
        }
        if (float32 && fmt != VOXTTS_AUDIO_WAV) {
            fprintf(stderr, "voxtts: --float is for wav output, not %s\n", voxtts_audio_format_name(fmt));
            return 2;
        }
        if (out_rate && voxtts_audio_format_check(fmt, (int)out_rate, "--rate", &werr) != VOXTTS_OK) {
            fprintf(stderr, "voxtts: %s\n", werr.msg);
            return 2;
        }
    }

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
            text_len = strlen(text);
        } else if (!isatty(0)) {
            if (cli_read_text_file("-", &text, &text_len)) return 1;
        } else {
            fprintf(stderr, "voxtts: no text given (pass it as arguments, with -f FILE, or on stdin)\n"
                            "Try 'voxtts --help'.\n");
            return 2;
        }
    }

    voxtts_error err = {0};
    if (!list_voices) { /* bad language or UTF-8: say so before loading the weights */
        if (voxtts_split_check(text, text_len, &lo.split, &err) != VOXTTS_OK) {
            cli_print_error("bad input", &err);
            free(text);
            return 1;
        }
    }
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
    if (ref && !(vrc = cli_attach_encoder(m, encoder)))
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
    lo.quiet = quiet;
    lo.progress = !quiet && isatty(2);

    /* Every text is split into chunks (one for a short text) and streamed out
     * chunk by chunk (longform.c); nothing of the audio is held in memory. */
    voxtts_chunks chunks = {0};
    if (cli_longform_split(m, text, text_len, &lo, sp.max_frames, &chunks)) {
        free(text);
        voxtts_voice_free(own);
        voxtts_model_free(m);
        return 1;
    }
    /* Open the output before synthesis: an unwritable one fails now. */
    int sr = voxtts_model_sample_rate(m);
    const int rate = out_rate ? (int)out_rate : sr;
    voxtts_audio_writer_opts wo;
    voxtts_audio_writer_opts_default(&wo);
    wo.float32 = float32;
    wo.in_rate = sr;
    audio_out out = {0};
    int rc = to_stdout
                 ? voxtts_audio_writer_open_fd(&out.w, STDOUT_FILENO, "stdout", fmt, rate, &wo, &werr)
                 : voxtts_audio_writer_open(&out.w, output, fmt, rate, &wo, &werr);
    if (rc != VOXTTS_OK) {
        cli_print_error("cannot write the audio", &werr);
        free(text);
        voxtts_chunks_free(&chunks);
        voxtts_voice_free(own);
        voxtts_model_free(m);
        return werr.code == VOXTTS_E_UNSUPPORTED || werr.code == VOXTTS_E_ARG ? 2 : 1;
    }
    sp.on_audio = audio_out_write;
    sp.audio_user = &out;
    catch_stop_signals();

    voxtts_long_stats st;
    memset(&st, 0, sizeof st);
    rc = cli_longform_speak(m, &chunks, &lo, &sp, &st);
    free(text);
    if (g_stop_signal || out.failed || rc != 0) {
        int sig = g_stop_signal;
        if (sig) fprintf(stderr, "voxtts: interrupted by signal %d; no output written\n", sig);
        else if (out.failed) cli_print_error("cannot write the audio", &out.err);
        /* rc -1: cli_longform_speak has already said what failed */
        voxtts_audio_writer_abort(out.w); /* removes the temporary file */
        voxtts_chunks_free(&chunks);
        voxtts_voice_free(own);
        voxtts_model_free(m);
        return sig ? 128 + sig : 1;
    }
    rc = voxtts_audio_writer_close(out.w, &werr);
    if (rc != VOXTTS_OK) {
        cli_print_error("cannot write the audio", &werr);
    } else if (!quiet && !to_stdout) {
        if (chunks.n > 1)
            fprintf(stderr, "voxtts: wrote %s (%lld frames in %zu chunks, %.2f s, voice %s, %s%s %d Hz)\n",
                    output, st.frames, chunks.n, (double)st.samples / sr, voice, voxtts_audio_format_name(fmt),
                    float32 ? " float" : "", rate);
        else
            fprintf(stderr, "voxtts: wrote %s (%lld frames, %.2f s, voice %s, %s%s %d Hz)\n", output,
                    st.frames, (double)st.samples / sr, voice, voxtts_audio_format_name(fmt),
                    float32 ? " float" : "", rate);
    }
        voxtts_chunks_free(&chunks);
        voxtts_voice_free(own);
    voxtts_model_free(m);
    return rc == VOXTTS_OK ? 0 : 1;
}
