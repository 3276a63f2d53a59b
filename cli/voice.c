/* voice.c — voices of one's own on the command line, a thin client of the
 * voices API in include/voxtts.h:
 *
 *   voxtts voice list    [-m MODEL]                 voices in the voices directory (+ presets with -m)
 *   voxtts voice show    NAME|FILE [-m MODEL]       metadata of one voice
 *   voxtts voice preview NAME|FILE -o out.wav       decode the voice's codes to audio (a voice
 *                                                   without codes: those its rows decompose into)
 *   voxtts voice export  NAME|FILE --pt OUT.pt      official .pt layout (+ --rows-npy, --codes-npy)
 *   voxtts voice import  FILE [--name N]            copy a voice file or .pt into the directory
 *   voxtts voice rm      NAME                       delete NAME from the directory
 *   voxtts clone -m MODEL --audio REF -o FILE | --name N [--iters N] [--seed N] [--codes-out C.npy]
 *
 * The voices directory is $XDG_DATA_HOME/voxtts/voices (default
 * ~/.local/share/voxtts/voices), or --voices-dir DIR; a voice NAME is the file
 * NAME.voxv there (docs/VOICE_FORMAT.md).  Presets win over a voice of one's
 * own with the same name, and the CLI refuses to save a voice under a preset's
 * name (when it knows the model).  FILE may also be an int32 .npy of codes
 * [T, n_codebooks] when a model is given to embed them.  `voxtts --ref REF "text"` clones REF and caches the result in the
 * directory's cache/ (cli_ref_voice). */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static char *join(const char *a, const char *b, const char *c) {
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

char *cli_voices_dir(const char *override) {
    if (override && *override) return strdup(override);
    const char *x = getenv("XDG_DATA_HOME");
    if (x && *x == '/') return join(x, "/voxtts/voices", "");
    const char *h = getenv("HOME");
    if (!h || !*h) return NULL;
    return join(h, "/.local/share/voxtts/voices", "");
}

/* mkdir -p; 0 or -1 with the message printed. */
static int mkdirs(const char *dir) {
    char *p = strdup(dir);
    if (!p) return -1;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                fprintf(stderr, "voxtts: cannot create directory '%s': %s\n", p, strerror(errno));
                free(p);
                return -1;
            }
            *s = c;
            if (!c) break;
        }
    }
    free(p);
    return 0;
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcasecmp(s + n - k, suf) == 0;
}

static int is_path(const char *arg) {
    return strchr(arg, '/') || ends_with(arg, ".voxv") || ends_with(arg, ".pt") ||
           ends_with(arg, ".npy");
}

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int load_file(voxtts_model *m, const char *path, voxtts_voice **voice) {
    voxtts_error err = {0};
    if (voxtts_voice_load(m, path, voice, &err) != VOXTTS_OK) {
        cli_print_error("cannot load the voice", &err);
        return -1;
    }
    return 0;
}

/* "a, b, c" of the voices in dir (NULL-safe, malloc'd, "" if none). */
static char *list_dir_names(const char *dir) {
    size_t cap = 256, n = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    s[0] = '\0';
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, ".voxv")) continue;
        size_t l = strlen(e->d_name) - 5;
        if (n + l + 3 >= cap) {
            char *ns = realloc(s, cap * 2 + l);
            if (!ns) break;
            s = ns;
            cap = cap * 2 + l;
        }
        n += (size_t)snprintf(s + n, cap - n, "%s%.*s", n ? ", " : "", (int)l, e->d_name);
    }
    if (d) closedir(d);
    return s;
}

int cli_resolve_voice(voxtts_model *m, const char *arg, const char *voices_dir,
                      const char **preset, voxtts_voice **voice) {
    *preset = NULL;
    *voice = NULL;
    if (is_path(arg)) {
        if (!file_exists(arg)) {
            fprintf(stderr, "voxtts: voice file '%s' does not exist\n", arg);
            return -1;
        }
        return load_file(m, arg, voice);
    }
    if (m && voxtts_model_find_voice(m, arg) >= 0) {
        *preset = arg;
        return 0;
    }
    if (voices_dir && voxtts_voice_name_valid(arg)) {
        char *p = join(voices_dir, "/", arg);
        char *pv = p ? join(p, ".voxv", "") : NULL;
        free(p);
        if (pv && file_exists(pv)) {
            int rc = load_file(m, pv, voice);
            free(pv);
            return rc;
        }
        free(pv);
    }
    /* unknown: list what there is */
    fprintf(stderr, "voxtts: unknown voice '%s'", arg);
    if (m) {
        fprintf(stderr, " (presets: ");
        for (int i = 0; i < voxtts_model_n_voices(m); i++)
            fprintf(stderr, "%s%s", i ? ", " : "", voxtts_model_voice_name(m, i));
        fprintf(stderr, ")");
    }
    char *names = list_dir_names(voices_dir);
    if (voices_dir) fprintf(stderr, "; voices in %s: %s", voices_dir, names && *names ? names : "none");
    free(names);
    fprintf(stderr, "\n");
    return -1;
}

static void print_info(const voxtts_voice *v, FILE *f) {
    voxtts_voice_info in;
    voxtts_voice_get_info(v, &in);
    fprintf(f, "name:              %s\n", in.name);
    fprintf(f, "method:            %s\n", in.method);
    if (strcmp(in.method, "inversion") == 0)
        fprintf(f, "iterations:        %d\nfinal loss:        %g\n", in.iterations, in.final_loss);
    fprintf(f, "frames (codes):    %d\n", in.n_frames);
    fprintf(f, "rows:              %d x %d\n", in.n_rows, in.dim);
    fprintf(f, "codebooks:         %d\n", in.n_codebooks);
    fprintf(f, "source:            %s\n", in.source[0] ? in.source : "-");
    fprintf(f, "source sha256:     %s\n", in.source_sha256[0] ? in.source_sha256 : "-");
    fprintf(f, "duration:          %.2f s\n", in.duration_s);
    fprintf(f, "created:           %s\n", in.created);
    fprintf(f, "model fingerprint: %s\n", in.model_fingerprint[0] ? in.model_fingerprint : "-");
    fprintf(f, "voice_num_audio_tokens: %d\n", in.n_rows);
}

static int load_model(const char *dir, voxtts_model **m) {
    voxtts_error err = {0};
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    if (voxtts_model_load(dir, &lp, m, &err) != VOXTTS_OK) {
        cli_print_error("cannot load the model", &err);
        return -1;
    }
    return 0;
}

static void voice_usage(FILE *f) {
    fprintf(f,
        "usage: voxtts voice list    [-m MODEL]\n"
        "       voxtts voice show    NAME|FILE [-m MODEL]\n"
        "       voxtts voice preview NAME|FILE -o OUT.wav [-m MODEL]\n"
        "       voxtts voice export  NAME|FILE --pt OUT.pt [--rows-npy R.npy] [--codes-npy C.npy] [-m MODEL]\n"
        "       voxtts voice import  FILE [--name NAME] [-m MODEL]   (FILE.npy of codes needs -m)\n"
        "       voxtts voice rm      NAME\n"
        "options: --voices-dir DIR (default $XDG_DATA_HOME/voxtts/voices or\n"
        "         ~/.local/share/voxtts/voices); -m MODEL loads a model: presets for\n"
        "         list/show/export, the codec for preview (default $VOXTTS_MODEL or %s).\n"
        "NAME is a voice in the voices directory (NAME.voxv) or, with a model, a preset\n"
        "(presets win on a clash); FILE a .voxv voice file or an official-layout .pt.\n",
        VOX_DEFAULT_MODEL_DIR);
}

/* Resolve NAME|FILE for a sub-command: a path; a preset when a model is loaded;
 * NAME.voxv in dir.  A preset becomes a voice handle (voxtts_voice_from_preset). */
static int resolve_any(voxtts_model *m, const char *arg, const char *dir, voxtts_voice **v) {
    const char *preset = NULL;
    if (cli_resolve_voice(m, arg, dir, &preset, v)) return -1;
    if (preset) {
        voxtts_error err = {0};
        if (voxtts_voice_from_preset(m, preset, v, &err) != VOXTTS_OK) {
            cli_print_error("cannot read the preset", &err);
            return -1;
        }
    }
    return 0;
}

/* A voice without codes (a preset, an imported .pt) gets the codes its rows
 * decompose into (voxtts_voice_recover_codes) when a model is loaded. */
static int ensure_codes(voxtts_model *m, voxtts_voice **v) {
    if (voxtts_voice_codes(*v) || !m) return 0;
    voxtts_voice *w = NULL;
    voxtts_error err = {0};
    float rel = 0.0f;
    if (voxtts_voice_recover_codes(m, *v, &w, &rel, &err) != VOXTTS_OK) {
        fprintf(stderr, "voxtts: voice '%s' has no codes, and none could be recovered from its "
                        "rows: %s\n", voxtts_voice_name(*v), err.msg);
        return -1;
    }
    fprintf(stderr, "voxtts: codes recovered from the rows of '%s' (%d frames, relative residual %.2g)\n",
            voxtts_voice_name(w), voxtts_voice_n_frames(w), rel);
    voxtts_voice_free(*v);
    *v = w;
    return 0;
}

static int cmd_list(voxtts_model *m, const char *dir) {
    int bad = 0;
    if (m) {
        for (int i = 0; i < voxtts_model_n_voices(m); i++)
            printf("%-24s preset\n", voxtts_model_voice_name(m, i));
    }
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0; /* no voices yet */
        fprintf(stderr, "voxtts: cannot read the voices directory '%s': %s\n", dir, strerror(errno));
        return 1;
    }
    /* sorted names */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, ".voxv")) continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nn = realloc(names, nc * sizeof *nn);
            if (!nn) break;
            names = nn;
            cap = nc;
        }
        if ((names[n] = strdup(e->d_name))) n++;
    }
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        char *p = join(dir, "/", names[i]);
        voxtts_voice *v = NULL;
        voxtts_error err = {0};
        if (p && voxtts_voice_load(NULL, p, &v, &err) == VOXTTS_OK) {
            voxtts_voice_info in;
            voxtts_voice_get_info(v, &in);
            char *stem = names[i];
            stem[strlen(stem) - 5] = '\0'; /* NAME.voxv -> NAME: what -v takes */
            printf("%-24s %-9s %5d frames %6.2f s  %s%s\n", stem, in.method, in.n_frames,
                   in.duration_s, in.created,
                   m && voxtts_model_find_voice(m, stem) >= 0 ? "  (hidden by the preset)" : "");
            voxtts_voice_free(v);
        } else {
            fprintf(stderr, "voxtts: %s\n", err.msg[0] ? err.msg : "out of memory");
            bad = 1;
        }
        free(p);
        free(names[i]);
    }
    free(names);
    return bad;
}

static int cmd_rm(const char *dir, const char *name) {
    if (!voxtts_voice_name_valid(name)) {
        fprintf(stderr, "voxtts: '%s' is not a voice name (voice rm takes a NAME in %s)\n", name, dir);
        return 1;
    }
    char *p = join(dir, "/", name), *pv = p ? join(p, ".voxv", "") : NULL;
    free(p);
    if (!pv) return 1;
    int rc = 0;
    if (unlink(pv) != 0) {
        fprintf(stderr, "voxtts: cannot remove voice '%s' (%s): %s\n", name, pv,
                errno == ENOENT ? "no such voice" : strerror(errno));
        rc = 1;
    }
    free(pv);
    return rc;
}

/* The path a voice NAME is saved to in dir (creating dir); refuses preset names. */
static char *save_path(voxtts_model *m, const char *dir, const char *name) {
    if (m && voxtts_model_find_voice(m, name) >= 0) {
        fprintf(stderr, "voxtts: '%s' is a preset voice's name: choose another (--name)\n", name);
        return NULL;
    }
    if (mkdirs(dir)) return NULL;
    char *p = join(dir, "/", name), *pv = p ? join(p, ".voxv", "") : NULL;
    free(p);
    return pv;
}

enum { V_VOICES_DIR = 3000, V_PT, V_ROWS, V_CODES, V_NAME, V_AUDIO, V_ITERS, V_SEED, V_CODES_OUT,
       V_ENCODER, V_TRIM, V_HIGHPASS };

int cli_attach_encoder(voxtts_model *m, const char *path) {
    if (!path) return 0;
    voxtts_error err = {0};
    if (voxtts_model_attach_encoder(m, path, &err) != VOXTTS_OK) {
        cli_print_error("cannot attach the codec encoder", &err);
        return -1;
    }
    return 0;
}

int cli_voice_main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        voice_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},       {"output", required_argument, 0, 'o'},
        {"voices-dir", required_argument, 0, V_VOICES_DIR}, {"pt", required_argument, 0, V_PT},
        {"rows-npy", required_argument, 0, V_ROWS}, {"codes-npy", required_argument, 0, V_CODES},
        {"name", required_argument, 0, V_NAME},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *model = NULL, *out = NULL, *vdir = NULL, *pt = NULL, *rows = NULL, *codes = NULL;
    const char *name = NULL;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "m:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': out = optarg; break;
        case V_VOICES_DIR: vdir = optarg; break;
        case V_PT: pt = optarg; break;
        case V_ROWS: rows = optarg; break;
        case V_CODES: codes = optarg; break;
        case V_NAME: name = optarg; break;
        case 'h': voice_usage(stdout); return 0;
        default: fprintf(stderr, "Try 'voxtts voice --help'.\n"); return 2;
        }
    }
    const int nargs = argc - optind;
    const char *arg = nargs > 0 ? argv[optind] : NULL;
    const int want_arg = strcmp(cmd, "list") != 0;
    if (strcmp(cmd, "list") && strcmp(cmd, "show") && strcmp(cmd, "preview") &&
        strcmp(cmd, "export") && strcmp(cmd, "import") && strcmp(cmd, "rm")) {
        fprintf(stderr, "voxtts: unknown voice command '%s'\n", cmd);
        voice_usage(stderr);
        return 2;
    }
    if (nargs != (want_arg ? 1 : 0)) {
        fprintf(stderr, "voxtts: voice %s takes %s\n", cmd, want_arg ? "one NAME or FILE" : "no argument");
        return 2;
    }
    if (strcmp(cmd, "preview") == 0 && !out) {
        fprintf(stderr, "voxtts: voice preview needs -o OUT.wav\n");
        return 2;
    }
    if (strcmp(cmd, "export") == 0 && !pt && !rows && !codes) {
        fprintf(stderr, "voxtts: voice export needs --pt OUT.pt (or --rows-npy / --codes-npy)\n");
        return 2;
    }
    char *dir = cli_voices_dir(vdir);
    if (!dir) {
        fprintf(stderr, "voxtts: no voices directory: set $HOME, $XDG_DATA_HOME or --voices-dir\n");
        return 1;
    }
    voxtts_model *m = NULL;
    voxtts_voice *v = NULL;
    voxtts_error err = {0};
    int rc = 1;
    /* preview needs the codec; the others use a model only when given one */
    if (strcmp(cmd, "preview") == 0 && !model) model = cli_default_model_dir();
    if (model && strcmp(cmd, "rm") && load_model(model, &m)) goto out;

    if (strcmp(cmd, "list") == 0) {
        rc = cmd_list(m, dir);
    } else if (strcmp(cmd, "rm") == 0) {
        rc = cmd_rm(dir, arg);
    } else if (strcmp(cmd, "import") == 0) {
        if (load_file(m, arg, &v)) goto out;
        if (name && voxtts_voice_set_name(v, name, &err) != VOXTTS_OK) {
            cli_print_error("bad --name", &err);
            goto out;
        }
        char *p = save_path(m, dir, voxtts_voice_name(v));
        if (!p) goto out;
        if (voxtts_voice_save(v, p, &err) != VOXTTS_OK) {
            cli_print_error("cannot save the voice", &err);
        } else {
            fprintf(stderr, "voxtts: imported '%s' as %s\n", arg, p);
            rc = 0;
        }
        free(p);
    } else {
        if (resolve_any(m, arg, dir, &v)) goto out;
        if (strcmp(cmd, "show") == 0) {
            print_info(v, stdout);
            rc = 0;
        } else if (strcmp(cmd, "preview") == 0) {
            voxtts_audio a = {0};
            if (ensure_codes(m, &v)) goto out;
            if (voxtts_voice_preview(m, v, &a, &err) != VOXTTS_OK ||
                voxtts_audio_save_wav(&a, out, &err) != VOXTTS_OK) {
                cli_print_error("preview failed", &err);
            } else {
                fprintf(stderr, "voxtts: wrote %s (%d frames, %.2f s, voice %s)\n", out, a.n_frames,
                        (double)a.n_samples / a.sample_rate, voxtts_voice_name(v));
                rc = 0;
            }
            voxtts_audio_free(&a);
        } else { /* export */
            if (pt && voxtts_voice_export_pt(v, pt, &err) != VOXTTS_OK) {
                cli_print_error("cannot export the voice", &err);
                goto out;
            }
            if (codes && ensure_codes(m, &v)) goto out;
            if ((rows || codes) && voxtts_voice_export_npy(v, codes, rows, &err) != VOXTTS_OK) {
                cli_print_error("cannot export the voice", &err);
                goto out;
            }
            /* what tekken.json's audio.voice_num_audio_tokens needs for this voice */
            printf("voice_num_audio_tokens: {\"%s\": %d}\n", voxtts_voice_name(v),
                   voxtts_voice_n_rows(v));
            rc = 0;
        }
    }
out:
    voxtts_voice_free(v);
    voxtts_model_free(m);
    free(dir);
    return rc;
}

/* ---- cloning --------------------------------------------------------------- */

typedef struct {
    int enabled;
} clone_progress;

static int on_clone_progress(int step, int max_steps, float loss, void *user) {
    clone_progress *cp = user;
    if (cp->enabled) {
        fprintf(stderr, "\rvoxtts: cloning, step %d/%d, loss %.4f   ", step, max_steps, loss);
        fflush(stderr);
    }
    return 0;
}

static int clone_now(voxtts_model *m, const char *audio, const char *name, int iters, uint64_t seed,
                     int quiet, int conditioning, voxtts_voice **v) {
    voxtts_clone_params cp;
    voxtts_clone_params_default(&cp);
    cp.trim_silence = conditioning & 1;
    cp.highpass = (conditioning >> 1) & 1;
    if (name) cp.name = name;
    cp.max_iters = iters;
    cp.seed = seed;
    clone_progress st = {!quiet && isatty(2)};
    cp.progress = on_clone_progress;
    cp.progress_user = &st;
    voxtts_error err = {0};
    int rc = voxtts_voice_clone_file(m, audio, &cp, v, &err);
    if (st.enabled) fputc('\n', stderr);
    if (rc != VOXTTS_OK) {
        cli_print_error("cloning failed", &err);
        return -1;
    }
    return 0;
}

int cli_ref_voice(voxtts_model *m, const char *audio, const char *voices_dir, int iters,
                  uint64_t seed, int quiet, voxtts_voice **voice) {
    *voice = NULL;
    voxtts_error err = {0};
    char ash[65], fp[65];
    if (voxtts_sha256_file(audio, ash, &err) != VOXTTS_OK) {
        cli_print_error("cannot read the reference audio", &err);
        return -1;
    }
    if (voxtts_model_fingerprint(m, fp, &err) != VOXTTS_OK) {
        cli_print_error("cannot fingerprint the model", &err);
        return -1;
    }
    char file[256];
    if (voxtts_model_has_encoder(m)) /* encoding ignores iterations and seed */
        snprintf(file, sizeof file, "/cache/%s-%.16s-enc.voxv", ash, fp);
    else
        snprintf(file, sizeof file, "/cache/%s-%.16s-i%d-s%" PRIu64 ".voxv", ash, fp, iters, seed);
    char *path = voices_dir ? join(voices_dir, file, "") : NULL;
    if (path && file_exists(path) && voxtts_voice_load(m, path, voice, &err) == VOXTTS_OK) {
        if (!quiet) fprintf(stderr, "voxtts: using the cached clone %s\n", path);
        free(path);
        return 0;
    }
    if (path && file_exists(path)) /* unreadable cache entry: clone again over it */
        fprintf(stderr, "voxtts: ignoring a bad cached clone: %s\n", err.msg);
    if (clone_now(m, audio, "ref", iters, seed, quiet, 0, voice)) {
        free(path);
        return -1;
    }
    if (path) {
        char *cache = join(voices_dir, "/cache", "");
        if (cache && mkdirs(cache) == 0 && voxtts_voice_save(*voice, path, &err) != VOXTTS_OK)
            fprintf(stderr, "voxtts: warning: cannot cache the clone: %s\n", err.msg);
        free(cache);
    }
    free(path);
    return 0;
}

static void clone_usage(FILE *f) {
    fprintf(f,
        "usage: voxtts clone [-m MODEL] --audio REF (-o FILE | --name NAME) [options]\n"
        "  --audio FILE       reference speech (any format and rate libsndfile reads)\n"
        "  -o FILE            write the voice to exactly FILE (docs/VOICE_FORMAT.md)\n"
        "  --name NAME        the voice's name; without -o it is saved as NAME in the\n"
        "                     voices directory (must not be a preset's name)\n"
        "  --encoder FILE     codec-encoder weights (safetensors) to encode with; without\n"
        "                     them (the open checkpoint has none) the codes are found by\n"
        "                     inversion through the codec decoder (slow)\n"
        "  --iters N          inversion steps when the model has no codec encoder\n"
        "  --seed N           inversion seed (default 42)\n"
        "  --codes-out C.npy  also write the codes, int32 [T, n_codebooks]\n"
        "  --trim-silence     drop leading/trailing audio 40 dB below the loudest part\n"
        "  --highpass         high-pass the reference at 70 Hz first\n"
        "                     (1 to 60 s of audio are accepted, the first 20 s used)\n"
        "  --voices-dir DIR   voices directory (default $XDG_DATA_HOME/voxtts/voices)\n"
        "  -q                 no progress output\n");
}

int cli_clone_main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},         {"output", required_argument, 0, 'o'},
        {"audio", required_argument, 0, V_AUDIO},     {"name", required_argument, 0, V_NAME},
        {"iters", required_argument, 0, V_ITERS},     {"seed", required_argument, 0, V_SEED},
        {"codes-out", required_argument, 0, V_CODES_OUT},
        {"voices-dir", required_argument, 0, V_VOICES_DIR},
        {"encoder", required_argument, 0, V_ENCODER},
        {"trim-silence", no_argument, 0, V_TRIM},     {"highpass", no_argument, 0, V_HIGHPASS},
        {"quiet", no_argument, 0, 'q'},               {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int conditioning = 0; /* bit 0: --trim-silence, bit 1: --highpass */
    const char *model = cli_default_model_dir(), *out = NULL, *audio = NULL, *name = NULL;
    const char *codes_out = NULL, *vdir = NULL, *encoder = NULL;
    long iters = 0;
    unsigned long long seed = 42;
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'o': out = optarg; break;
        case V_AUDIO: audio = optarg; break;
        case V_NAME: name = optarg; break;
        case V_ITERS: if (cli_parse_int("--iters", optarg, 1, 1000000, &iters)) return 2; break;
        case V_SEED: if (cli_parse_u64("--seed", optarg, &seed)) return 2; break;
        case V_CODES_OUT: codes_out = optarg; break;
        case V_VOICES_DIR: vdir = optarg; break;
        case V_ENCODER: encoder = optarg; break;
        case V_TRIM: conditioning |= 1; break;
        case V_HIGHPASS: conditioning |= 2; break;
        case 'q': quiet = 1; break;
        case 'h': clone_usage(stdout); return 0;
        default: fprintf(stderr, "Try 'voxtts clone --help'.\n"); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "voxtts: clone: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!audio || (!out && !name)) {
        fprintf(stderr, "voxtts: clone needs --audio FILE and -o FILE or --name NAME\n");
        clone_usage(stderr);
        return 2;
    }
    if (name && !voxtts_voice_name_valid(name)) {
        fprintf(stderr, "voxtts: invalid --name '%s' (1 to 64 of A-Z a-z 0-9 _ . -, not starting with '.')\n",
                name);
        return 2;
    }
    if (!file_exists(audio)) {
        fprintf(stderr, "voxtts: reference audio '%s' does not exist\n", audio);
        return 1;
    }
    voxtts_model *m = NULL;
    if (load_model(model, &m)) return 1;
    if (cli_attach_encoder(m, encoder)) {
        voxtts_model_free(m);
        return 1;
    }
    char *dir = NULL, *path = NULL;
    voxtts_voice *v = NULL;
    voxtts_error err = {0};
    int rc = 1;
    if (out) {
        path = strdup(out);
    } else {
        if (!(dir = cli_voices_dir(vdir))) {
            fprintf(stderr, "voxtts: no voices directory: set $HOME, $XDG_DATA_HOME or --voices-dir\n");
            goto out;
        }
        path = save_path(m, dir, name);
    }
    if (!path) goto out;
    char stem[65] = "voice";
    if (!name && out) { /* the voice is named after the file it is written to */
        const char *b = strrchr(out, '/');
        snprintf(stem, sizeof stem, "%s", b ? b + 1 : out);
        char *dot = strrchr(stem, '.');
        if (dot && dot != stem) *dot = '\0';
        if (!voxtts_voice_name_valid(stem)) snprintf(stem, sizeof stem, "voice");
    }
    if (clone_now(m, audio, name ? name : stem, (int)iters, seed, quiet, conditioning, &v)) goto out;
    if (codes_out && voxtts_voice_export_npy(v, codes_out, NULL, &err) != VOXTTS_OK) {
        cli_print_error("cannot write the codes", &err);
        goto out;
    }
    if (voxtts_voice_save(v, path, &err) != VOXTTS_OK) {
        cli_print_error("cannot save the voice", &err);
        if (codes_out) unlink(codes_out); /* all or nothing */
        goto out;
    }
    if (!quiet) {
        voxtts_voice_info in;
        voxtts_voice_get_info(v, &in);
        fprintf(stderr, "voxtts: wrote %s (voice '%s', %s, %d frames, %d rows)\n", path, in.name,
                in.method, in.n_frames, in.n_rows);
    }
    rc = 0;
out:
    voxtts_voice_free(v);
    voxtts_model_free(m);
    free(dir);
    free(path);
    return rc;
}
