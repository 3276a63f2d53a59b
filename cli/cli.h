/* cli.h — pieces shared by the voxtts command's sub-commands (the files in cli/).
 *
 * The command line is a thin client of include/voxtts.h: option parsing, reading
 * text from arguments/files/stdin, and writing outputs.  Each sub-command returns
 * the process exit status (0 only on success). */
#ifndef VOX_CLI_H
#define VOX_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "voxtts_debug.h"

#define VOX_DEFAULT_MODEL_DIR "models/Voxtral-4B-TTS-2603"

/* Read a whole file ("-" = stdin) into a NUL-terminated malloc'd buffer. Returns 0 or -1 (message printed). */
int cli_read_text_file(const char *path, char **out, size_t *len);
/* Join argv[0..n) with single spaces into a malloc'd string. */
char *cli_join_args(int n, char **argv);
/* Parse helpers: print "voxtts: invalid value 'x' for --opt" and return -1 on error. */
int cli_parse_int(const char *opt, const char *s, long lo, long hi, long *out);
int cli_parse_float(const char *opt, const char *s, float *out);
int cli_parse_u64(const char *opt, const char *s, unsigned long long *out);
/* Default model directory: $VOXTTS_MODEL or VOX_DEFAULT_MODEL_DIR. */
const char *cli_default_model_dir(void);
void cli_print_error(const char *what, const voxtts_error *err);

int cli_debug_main(int argc, char **argv);    /* voxtts debug STAGE ... */
int cli_download_main(int argc, char **argv); /* voxtts download [DIR] ... */
int cli_bench_main(int argc, char **argv);    /* voxtts bench ... (bench.c) */
int cli_quantize_main(int argc, char **argv); /* voxtts quantize IN OUT.gguf --type T */
int cli_voice_main(int argc, char **argv);    /* voxtts voice list|show|preview|export|import|rm */
int cli_clone_main(int argc, char **argv);    /* voxtts clone --audio REF -o FILE (voice.c) */

/* The voices directory: `override` when set, else $XDG_DATA_HOME/voxtts/voices,
 * else $HOME/.local/share/voxtts/voices.  Malloc'd (NULL: out of memory or no $HOME). */
char *cli_voices_dir(const char *override);
/* What `-v ARG` names (voice.c), in this order: a path (ARG contains '/' or ends in
 * .voxv, .pt or .npy) to a voice file, an official-layout .pt or int32 codes; a preset of the model;
 * ARG.voxv in the voices directory.  Presets win over a voice of one's own with
 * the same name (the CLI refuses to save one under a preset's name).  On success
 * either *preset is set (a preset name) or *voice (a loaded voice, to free).
 * Returns 0, or -1 with the message printed. */
int cli_resolve_voice(voxtts_model *m, const char *arg, const char *voices_dir,
                      const char **preset, voxtts_voice **voice);
/* Attach codec-encoder weights when path is set: 0, or -1 with the message printed. */
int cli_attach_encoder(voxtts_model *m, const char *path);
/* `--ref AUDIO`: the clone of AUDIO for model m, from the voices directory's
 * cache/ when made before (key: SHA-256 of the audio file, the model
 * fingerprint, and "enc" when the model has an encoder, else the inversion's
 * iterations and seed), else cloned now and cached.  0 or -1. */
int cli_ref_voice(voxtts_model *m, const char *audio, const char *voices_dir, int iters,
                  uint64_t seed, int quiet, voxtts_voice **voice);

/* Long text (longform.c): every text is split into chunks and spoken chunk by chunk. */
typedef struct cli_long_opts {
    voxtts_split_params split; /* --lang, --max-tokens, --normalize */
    int pause_paragraph_ms;    /* --pause-ms: silence between paragraphs */
    int pause_chunk_ms;        /* --gap-ms: silence between chunks of a paragraph */
    const char *stats_path;    /* --stats FILE: JSON with every chunk's frames */
    int quiet;                 /* -q */
    int progress;              /* draw the progress bar (stderr is a terminal, no -q) */
} cli_long_opts;
/* Split with the model's tokenizer (split.max_frames = max_frames); -1 after a message. */
int cli_longform_split(voxtts_model *m, const char *text, size_t len, const cli_long_opts *o,
                       int max_frames, voxtts_chunks *chunks);
/* Speak the chunks into sp->on_audio: progress bar, frame-cap reports, --stats.
 * 0, -1 after a message, -2 when the audio sink stopped it (the caller reports). */
int cli_longform_speak(voxtts_model *m, const voxtts_chunks *chunks, const cli_long_opts *o,
                       const voxtts_synth_params *sp, voxtts_long_stats *st);
/* voxtts debug split: chunks one per line, "¶" between paragraphs (show_tokens 1: with
 * counts; 2: the sentences instead of the chunks). */
int cli_debug_split(const char *model, const char *text, size_t len, const voxtts_split_params *sp,
                    int show_tokens);
int cli_wyoming_main(int argc, char **argv);  /* voxtts wyoming: Wyoming protocol server (wyoming.c) */
int cli_serve_main(int argc, char **argv);    /* voxtts serve ... (serve.c) */

#endif
