/* debug.c — `voxtts debug STAGE`: run one stage of the pipeline on given inputs.
 *
 * Every stage reads and writes .npy files (float32 or int32, C order) so that
 * anyone can compare this engine, stage by stage, with another implementation;
 * the golden tests (tests/golden) drive exactly these commands.  Codes are the
 * offset codes of docs/MODEL.md §4 (n_codebooks = 37 per frame for the real model). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void debug_usage(FILE *f) {
    fprintf(f,
        "usage: voxtts debug STAGE [options] [--] [TEXT...]\n"
        "stages:\n"
        "  tokenize -m DIR TEXT                         token ids (DIR needs only tekken.json)\n"
        "  prompt   -m DIR -v VOICE TEXT                prompt ids\n"
        "  prefill  -m DIR -v VOICE --out h.npy TEXT     hidden after the final norm, [dim]\n"
        "  decode   -m DIR -v VOICE --codes c.npy --out hs.npy TEXT\n"
        "                                               teacher-forced hiddens, [F+1, dim]\n"
        "  velocity -m DIR --h h.npy --x x.npy --t T --out v.npy\n"
        "                                               [2, n_acoustic]: conditional, unconditional\n"
        "  frame    -m DIR --h h.npy --noise x0.npy --out c.npy   one frame's codes [n_codebooks]\n"
        "  codec    -m DIR --codes c.npy --out wav.npy            waveform [F * samples_per_frame]\n"
        "  encode   -m DIR [--encoder FILE] --audio a.npy --out c.npy\n"
        "                                               codec encoder: float32 mono samples at the\n"
        "                                               model's rate -> codes [ceil(n/spf), n_codebooks]\n"
        "                                               (FILE: safetensors with the encoder's tensors)\n"
        "  voice-rows -m DIR --codes c.npy --out rows.npy\n"
        "                                               cloned-voice rows [F+1, dim] (END row last)\n"
        "  split    -m DIR [--lang L] [--max-tokens N] [--max-frames N] [--normalize] [--tokens] TEXT\n"
        "                                               the chunks long text is spoken in, one per\n"
        "                                               line, a line '\xc2\xb6' (a pilcrow) between paragraphs\n"
        "                                               (DIR needs only tekken.json); --tokens: with\n"
        "                                               their token counts and frame estimates;\n"
        "                                               --sentences: the sentences instead\n"
        "common options: -f FILE (text from a file), --seed-step, --cfg A, --steps N,\n"
        "                --alibi-press, --window-w-keys, -t N (threads)\n");
}

typedef struct {
    const char *model, *voice, *text_file, *out, *codes, *h, *x, *noise, *audio, *encoder;
    float t;
    int have_t;
    long threads;
    voxtts_synth_params sp;
    voxtts_synth_debug dbg;    /* sp.debug: the disputed options */
    voxtts_split_params split; /* debug split */
    int max_frames, show_tokens;
} debug_args;

enum {
    D_OUT = 2000, D_CODES, D_H, D_X, D_T, D_NOISE, D_CFG, D_STEPS, D_SEED_STEP, D_ALIBI, D_WINDOW,
    D_AUDIO, D_ENCODER, D_LANG, D_MAX_TOKENS, D_MAX_FRAMES, D_NORMALIZE, D_TOKENS, D_SENTENCES
};

static int need(const char *val, const char *opt, const char *stage) {
    if (val) return 0;
    fprintf(stderr, "voxtts debug %s: missing %s\n", stage, opt);
    return -1;
}

static int read_npy(const char *path, voxtts_npy_type type, voxtts_npy *a) {
    voxtts_error err = {0};
    if (voxtts_npy_read(path, a, &err) != VOXTTS_OK) {
        cli_print_error("cannot read input", &err);
        return -1;
    }
    if (a->type != type) {
        fprintf(stderr, "voxtts: %s: expected %s data\n", path, type == VOXTTS_NPY_F32 ? "float32" : "int32");
        voxtts_npy_free(a);
        return -1;
    }
    return 0;
}

static int write_npy(const char *path, voxtts_npy_type type, int ndim, const int64_t *shape,
                     const void *data) {
    voxtts_error err = {0};
    if (voxtts_npy_write(path, type, ndim, shape, data, &err) != VOXTTS_OK) {
        cli_print_error("cannot write output", &err);
        return -1;
    }
    return 0;
}

static void print_ids(const int32_t *ids, size_t n) {
    for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
    printf("\n");
}

int cli_debug_main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        debug_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *stage = argv[1];
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},   {"voice", required_argument, 0, 'v'},
        {"file", required_argument, 0, 'f'},    {"threads", required_argument, 0, 't'},
        {"out", required_argument, 0, D_OUT},   {"codes", required_argument, 0, D_CODES},
        {"h", required_argument, 0, D_H},       {"x", required_argument, 0, D_X},
        {"t", required_argument, 0, D_T},       {"noise", required_argument, 0, D_NOISE},
        {"cfg", required_argument, 0, D_CFG},   {"steps", required_argument, 0, D_STEPS},
        {"seed-step", no_argument, 0, D_SEED_STEP}, {"alibi-press", no_argument, 0, D_ALIBI},
        {"window-w-keys", no_argument, 0, D_WINDOW}, {"audio", required_argument, 0, D_AUDIO},
        {"encoder", required_argument, 0, D_ENCODER},
        {"lang", required_argument, 0, D_LANG}, {"max-tokens", required_argument, 0, D_MAX_TOKENS},
        {"max-frames", required_argument, 0, D_MAX_FRAMES}, {"normalize", no_argument, 0, D_NORMALIZE},
        {"tokens", no_argument, 0, D_TOKENS}, {"sentences", no_argument, 0, D_SENTENCES},
        {0, 0, 0, 0},
    };
    debug_args a = {0};
    a.model = cli_default_model_dir();
    voxtts_synth_params_default(&a.sp);
    voxtts_synth_debug_default(&a.dbg);
    a.sp.debug = &a.dbg;
    voxtts_split_params_default(&a.split);
    a.max_frames = a.sp.max_frames;
    long v;
    int c;
    optind = 1;
    argc -= 1;
    argv += 1; /* argv[0] is now the stage name */
    while ((c = getopt_long(argc, argv, "m:v:f:t:", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': a.model = optarg; break;
        case 'v': a.voice = optarg; break;
        case 'f': a.text_file = optarg; break;
        case 't': if (cli_parse_int("--threads", optarg, 0, 1024, &a.threads)) return 2; break;
        case D_OUT: a.out = optarg; break;
        case D_CODES: a.codes = optarg; break;
        case D_H: a.h = optarg; break;
        case D_X: a.x = optarg; break;
        case D_NOISE: a.noise = optarg; break;
        case D_T: if (cli_parse_float("--t", optarg, &a.t)) return 2; a.have_t = 1; break;
        case D_CFG: if (cli_parse_float("--cfg", optarg, &a.sp.cfg_alpha)) return 2; break;
        case D_STEPS:
            if (cli_parse_int("--steps", optarg, 1, 1000, &v)) return 2;
            a.sp.n_steps = (int)v;
            break;
        case D_SEED_STEP: a.dbg.seed_step = 1; break;
        case D_ALIBI: a.dbg.alibi_press = 1; break;
        case D_WINDOW: a.dbg.window_w_keys = 1; break;
        case D_AUDIO: a.audio = optarg; break;
        case D_ENCODER: a.encoder = optarg; break;
        case D_LANG: a.split.lang = optarg; break;
        case D_MAX_TOKENS:
            if (cli_parse_int("--max-tokens", optarg, 1, 1000000, &v)) return 2;
            a.split.max_tokens = (int)v;
            break;
        case D_MAX_FRAMES:
            if (cli_parse_int("--max-frames", optarg, 1, 1000000, &v)) return 2;
            a.max_frames = (int)v;
            break;
        case D_NORMALIZE: a.split.normalize = 1; break;
        case D_TOKENS: a.show_tokens = 1; break;
        case D_SENTENCES: a.show_tokens = 2; break;
        default: debug_usage(stderr); return 2;
        }
    }
    int wants_text = !strcmp(stage, "tokenize") || !strcmp(stage, "prompt") ||
                     !strcmp(stage, "prefill") || !strcmp(stage, "decode") || !strcmp(stage, "split");
    int known = wants_text || !strcmp(stage, "velocity") || !strcmp(stage, "frame") ||
                !strcmp(stage, "codec") || !strcmp(stage, "encode") || !strcmp(stage, "voice-rows");
    if (!known) {
        fprintf(stderr, "voxtts debug: unknown stage '%s'\n", stage);
        debug_usage(stderr);
        return 2;
    }
    char *text = NULL;
    size_t text_len = 0;
    if (wants_text) {
        if (a.text_file) {
            if (cli_read_text_file(a.text_file, &text, &text_len)) return 1;
        } else if (optind < argc) {
            text = cli_join_args(argc - optind, argv + optind);
            if (!text) return 1;
            text_len = strlen(text);
        } else if (!strcmp(stage, "split") && !isatty(0)) {
            if (cli_read_text_file("-", &text, &text_len)) return 1;
        } else {
            fprintf(stderr, "voxtts debug %s: no text given (arguments or -f FILE)\n", stage);
            return 2;
        }
    }

    int rc = 1;
    voxtts_error err = {0};
    if (!strcmp(stage, "split")) {
        a.split.max_frames = a.max_frames;
        rc = cli_debug_split(a.model, text, text_len, &a.split, a.show_tokens);
        free(text);
        return rc;
    }
    if (!strcmp(stage, "tokenize")) {
        voxtts_tokenizer *tk = NULL;
        int32_t *ids = NULL;
        size_t n = 0;
        if (voxtts_tokenizer_load(a.model, &tk, &err) != VOXTTS_OK) {
            cli_print_error("cannot load the tokenizer", &err);
        } else if (voxtts_tokenize(tk, text, text_len, &ids, &n, &err) != VOXTTS_OK) {
            cli_print_error("cannot tokenize", &err);
        } else {
            print_ids(ids, n);
            rc = 0;
        }
        free(ids);
        voxtts_tokenizer_free(tk);
        free(text);
        return rc;
    }

    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = (int)a.threads;
    voxtts_model *m = NULL;
    if (voxtts_model_load(a.model, &lp, &m, &err) != VOXTTS_OK) {
        cli_print_error("cannot load the model", &err);
        free(text);
        return 1;
    }
    const int dim = voxtts_model_dim(m), n_ac = voxtts_model_n_acoustic(m);
    const int n_cb = voxtts_model_n_codebooks(m), spf = voxtts_model_samples_per_frame(m);
    a.sp.voice = a.voice;
    voxtts_npy in1 = {0}, in2 = {0};
    float *fout = NULL;
    int32_t *iout = NULL;

    if (!strcmp(stage, "prompt")) {
        size_t n = 0;
        if (need(a.voice, "-v VOICE", stage)) goto done;
        if (voxtts_stage_prompt(m, text, a.voice, &iout, &n, &err) != VOXTTS_OK) goto fail;
        print_ids(iout, n);
        rc = 0;
    } else if (!strcmp(stage, "prefill")) {
        if (need(a.voice, "-v VOICE", stage) || need(a.out, "--out FILE", stage)) goto done;
        if (!(fout = malloc(sizeof(float) * (size_t)dim))) goto nomem;
        if (voxtts_stage_prefill(m, text, &a.sp, fout, &err) != VOXTTS_OK) goto fail;
        int64_t shape[1] = {dim};
        rc = write_npy(a.out, VOXTTS_NPY_F32, 1, shape, fout) ? 1 : 0;
    } else if (!strcmp(stage, "decode")) {
        if (need(a.voice, "-v VOICE", stage) || need(a.codes, "--codes FILE", stage) ||
            need(a.out, "--out FILE", stage))
            goto done;
        if (read_npy(a.codes, VOXTTS_NPY_I32, &in1)) goto done;
        if (in1.ndim != 2 || in1.shape[1] != n_cb || in1.shape[0] < 0) {
            fprintf(stderr, "voxtts: %s: expected codes of shape [F, %d]\n", a.codes, n_cb);
            goto done;
        }
        int64_t F = in1.shape[0];
        if (!(fout = malloc(sizeof(float) * (size_t)(F + 1) * (size_t)dim))) goto nomem;
        if (voxtts_stage_decode(m, text, &a.sp, in1.data, (int)F, fout, &err) != VOXTTS_OK) goto fail;
        int64_t shape[2] = {F + 1, dim};
        rc = write_npy(a.out, VOXTTS_NPY_F32, 2, shape, fout) ? 1 : 0;
    } else if (!strcmp(stage, "velocity")) {
        if (need(a.h, "--h FILE", stage) || need(a.x, "--x FILE", stage) ||
            need(a.out, "--out FILE", stage) || need(a.have_t ? "" : NULL, "--t T", stage))
            goto done;
        if (read_npy(a.h, VOXTTS_NPY_F32, &in1) || read_npy(a.x, VOXTTS_NPY_F32, &in2)) goto done;
        if (in1.numel != dim || in2.numel != n_ac) {
            fprintf(stderr, "voxtts: expected --h with %d values and --x with %d values\n", dim, n_ac);
            goto done;
        }
        if (!(fout = malloc(sizeof(float) * 2 * (size_t)n_ac))) goto nomem;
        if (voxtts_stage_velocity(m, in1.data, in2.data, a.t, fout, &err) != VOXTTS_OK) goto fail;
        int64_t shape[2] = {2, n_ac};
        rc = write_npy(a.out, VOXTTS_NPY_F32, 2, shape, fout) ? 1 : 0;
    } else if (!strcmp(stage, "frame")) {
        if (need(a.h, "--h FILE", stage) || need(a.noise, "--noise FILE", stage) ||
            need(a.out, "--out FILE", stage))
            goto done;
        if (read_npy(a.h, VOXTTS_NPY_F32, &in1) || read_npy(a.noise, VOXTTS_NPY_F32, &in2)) goto done;
        if (in1.numel != dim || in2.numel != n_ac) {
            fprintf(stderr, "voxtts: expected --h with %d values and --noise with %d values\n", dim, n_ac);
            goto done;
        }
        if (!(iout = malloc(sizeof(int32_t) * (size_t)n_cb))) goto nomem;
        if (voxtts_stage_frame(m, in1.data, in2.data, &a.sp, iout, &err) != VOXTTS_OK) goto fail;
        int64_t shape[1] = {n_cb};
        rc = write_npy(a.out, VOXTTS_NPY_I32, 1, shape, iout) ? 1 : 0;
    } else if (!strcmp(stage, "encode")) {
        if (need(a.audio, "--audio FILE", stage) || need(a.out, "--out FILE", stage)) goto done;
        if (read_npy(a.audio, VOXTTS_NPY_F32, &in1)) goto done;
        if (in1.ndim != 1) {
            fprintf(stderr, "voxtts: %s: expected mono samples, a 1-D array [n] (got %d dimensions)\n",
                    a.audio, in1.ndim);
            goto done;
        }
        if (in1.shape[0] < 1) {
            fprintf(stderr, "voxtts: %s: the audio has no samples\n", a.audio);
            goto done;
        }
        int F = 0;
        if (voxtts_stage_encode(m, a.encoder, in1.data, (size_t)in1.shape[0], &iout, &F, &err) !=
            VOXTTS_OK)
            goto fail;
        int64_t shape[2] = {F, n_cb};
        rc = write_npy(a.out, VOXTTS_NPY_I32, 2, shape, iout) ? 1 : 0;
    } else if (!strcmp(stage, "voice-rows")) {
        if (need(a.codes, "--codes FILE", stage) || need(a.out, "--out FILE", stage)) goto done;
        if (read_npy(a.codes, VOXTTS_NPY_I32, &in1)) goto done;
        if (in1.ndim != 2 || in1.shape[1] != n_cb || in1.shape[0] < 1) {
            fprintf(stderr, "voxtts: %s: expected codes of shape [F>=1, %d]\n", a.codes, n_cb);
            goto done;
        }
        int64_t F = in1.shape[0];
        if (voxtts_stage_voice_rows(m, in1.data, (int)F, &fout, &err) != VOXTTS_OK) goto fail;
        int64_t shape[2] = {F + 1, dim};
        rc = write_npy(a.out, VOXTTS_NPY_F32, 2, shape, fout) ? 1 : 0;
    } else { /* codec */
        if (need(a.codes, "--codes FILE", stage) || need(a.out, "--out FILE", stage)) goto done;
        if (read_npy(a.codes, VOXTTS_NPY_I32, &in1)) goto done;
        if (in1.ndim != 2 || in1.shape[1] != n_cb || in1.shape[0] < 1) {
            fprintf(stderr, "voxtts: %s: expected codes of shape [F>=1, %d]\n", a.codes, n_cb);
            goto done;
        }
        int64_t F = in1.shape[0];
        if (!(fout = malloc(sizeof(float) * (size_t)F * (size_t)spf))) goto nomem;
        if (voxtts_stage_codec(m, in1.data, (int)F, &a.sp, fout, &err) != VOXTTS_OK) goto fail;
        int64_t shape[1] = {F * spf};
        rc = write_npy(a.out, VOXTTS_NPY_F32, 1, shape, fout) ? 1 : 0;
    }
    goto done;
nomem:
    fprintf(stderr, "voxtts: out of memory\n");
    goto done;
fail:
    cli_print_error(stage, &err);
done:
    voxtts_npy_free(&in1);
    voxtts_npy_free(&in2);
    free(fout);
    free(iout);
    free(text);
    voxtts_model_free(m);
    return rc;
}
