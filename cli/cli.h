/* cli.h — pieces shared by the voxtts command's sub-commands (the files in cli/).
 *
 * The command line is a thin client of include/voxtts.h: option parsing, reading
 * text from arguments/files/stdin, and writing outputs.  Each sub-command returns
 * the process exit status (0 only on success). */
#ifndef VOX_CLI_H
#define VOX_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "voxtts.h"

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

#endif
