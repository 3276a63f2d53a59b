/* cli.h — pieces shared by the voxtts command's sub-commands (the files in cli/).
 *
 * The command line is a thin client of include/voxtts.h: option parsing, reading
 * text from arguments/files/stdin, and writing outputs.  Each sub-command returns
 * the process exit status (0 only on success). */
#ifndef VOX_CLI_H
#define VOX_CLI_H

#include <stddef.h>

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
int cli_serve_main(int argc, char **argv);    /* voxtts serve ... (serve.c) */

#endif
