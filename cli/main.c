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
#include "base/atomic_file.h"
#include "io/wav.h"
#include "text/splitter.h"

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
        "\n"
        "options:\n"
        "  -m, --model DIR       model directory or .gguf file (default: $VOXTTS_MODEL or %s)\n"
        "  -v, --voice NAME      preset voice, case-insensitive (default: neutral_female)\n"
        "  -o, --output FILE     output WAV, 24 kHz mono 16-bit; '-' = stdout, streamed as audio\n"
        "                        is produced (default: out.wav)\n"
        "  -f, --file FILE       read the text from FILE ('-' = stdin)\n"
        "  -t, --threads N       worker threads (default: all cores)\n"
        "      --seed N          noise seed (default 42)\n"
        "      --max-frames N    stop after N frames of 80 ms (default 2048)\n"
        "      --cfg ALPHA       classifier-free guidance strength (default 1.2)\n"
        "      --steps N         flow-matching Euler steps (default 7)\n"
        "      --list-voices     print the preset voices and exit\n"
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
        "  -q, --quiet           no progress output\n"
        "  -h, --help            this help\n"
        "      --version         print the version\n"
        "\n"
        "options for comparing against other ports (docs/MODEL.md 'disagreements'):\n"
        "      --seed-step       extra [AUDIO] decode step before frame 0 (mudler lineage)\n"
        "      --alibi-press     codec ALiBi slopes 2^(-8(h+1)/H) instead of the official 2^(-8h/H)\n"
        "      --window-w-keys   codec attention window of W keys instead of the official W+1\n",
        VOXTTS_VERSION, VOX_DEFAULT_MODEL_DIR);
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
    OPT_SEED_STEP, OPT_ALIBI_PRESS, OPT_WINDOW_W,
    OPT_LANG, OPT_MAX_TOKENS, OPT_NORMALIZE, OPT_PAUSE, OPT_GAP, OPT_STATS,
};

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "debug") == 0) return cli_debug_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "download") == 0) return cli_download_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "bench") == 0) return cli_bench_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "quantize") == 0) return cli_quantize_main(argc - 1, argv + 1);

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
        {"lang", required_argument, 0, OPT_LANG}, {"max-tokens", required_argument, 0, OPT_MAX_TOKENS},
        {"normalize", no_argument, 0, OPT_NORMALIZE}, {"pause-ms", required_argument, 0, OPT_PAUSE},
        {"gap-ms", required_argument, 0, OPT_GAP}, {"stats", required_argument, 0, OPT_STATS},
        {0, 0, 0, 0},
    };
    const char *model_dir = cli_default_model_dir(), *voice = NULL, *output = "out.wav";
    const char *text_file = NULL;
    int list_voices = 0, quiet = 0;
    long threads = 0, v;
    unsigned long long seed;
    voxtts_synth_params sp;
    voxtts_synth_params_default(&sp);
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
        case OPT_SEED_STEP: sp.seed_step = 1; break;
        case OPT_ALIBI_PRESS: sp.alibi_press = 1; break;
        case OPT_WINDOW_W: sp.window_w_keys = 1; break;
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
        vox_lang lang;
        if (vox_lang_parse(lo.split.lang, &lang, &err) != VOXTTS_OK ||
            vox_utf8_check(text, text_len, NULL, &err) != VOXTTS_OK) {
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
    if (!voice) voice = voxtts_model_find_voice(m, "neutral_female") >= 0 ? "neutral_female"
                                                                        : voxtts_model_voice_name(m, 0);
    sp.voice = voice;
    lo.quiet = quiet;
    lo.progress = !quiet && isatty(2);

    /* Every text is split into chunks (one for a short text) and streamed out chunk by
     * chunk (longform.c): to stdout, or to a temporary file renamed over the output
     * only on success.  Nothing of the audio is held in memory. */
    voxtts_chunks chunks = {0};
    int rc = cli_longform_split(m, text, text_len, &lo, sp.max_frames, &chunks);
    free(text);
    if (rc) {
        voxtts_model_free(m);
        return 1;
    }
    int sr = voxtts_model_sample_rate(m);
    const int to_stdout = strcmp(output, "-") == 0;
    vox_error werr = {0};
    vox_atomic_file af = {0};
    if (!to_stdout && vox_atomic_open(&af, output, &werr) != VOXTTS_OK) {
        cli_print_error("cannot write the audio", &werr);
        voxtts_chunks_free(&chunks);
        voxtts_model_free(m);
        return 1;
    }
    wav_pipe wp;
    wav_pipe_open(&wp, to_stdout ? stdout : af.f, sr);
    sp.on_audio = wav_pipe_write;
    sp.audio_user = &wp;

    voxtts_long_stats st;
    rc = cli_longform_speak(m, &chunks, &lo, &sp, &st);
    const char *where = to_stdout ? "stdout" : output;
    if (wp.write_errno) {
        fprintf(stderr, "voxtts: cannot write the audio to %s: %s\n", where, strerror(wp.write_errno));
        rc = -1;
    } else if (rc == 0) {
        int e = wav_pipe_close(&wp);
        if (e) {
            fprintf(stderr, "voxtts: cannot write the audio to %s: %s\n", where, strerror(e));
            rc = -1;
        }
    }
    if (!to_stdout) {
        if (rc == 0) {
            if (vox_atomic_commit(&af, output, &werr) != VOXTTS_OK) {
                cli_print_error("cannot write the audio", &werr);
                rc = -1;
            }
        } else {
            vox_atomic_abort(&af);
        }
    }
    if (rc == 0 && !quiet && !to_stdout) {
        if (chunks.n > 1)
            fprintf(stderr, "voxtts: wrote %s (%lld frames in %zu chunks, %.2f s, voice %s)\n", output,
                    st.frames, chunks.n, (double)st.samples / sr, voice);
        else
            fprintf(stderr, "voxtts: wrote %s (%lld frames, %.2f s, voice %s)\n", output, st.frames,
                    (double)st.samples / sr, voice);
    }
    voxtts_chunks_free(&chunks);
    voxtts_model_free(m);
    return rc == 0 ? 0 : 1;
}
