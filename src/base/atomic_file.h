/* atomic_file.h — write a file so that it appears whole or not at all.
 *
 * Every writer in voxtts (WAV, .npy, safetensors, .pt, GGUF) writes into a
 * temporary file beside the target (same file system) and renames it over the
 * target only once everything was written and flushed.  A failed or interrupted
 * write leaves no partial output file behind. */
#ifndef VOX_BASE_ATOMIC_FILE_H
#define VOX_BASE_ATOMIC_FILE_H

#include <stdio.h>

#include "base/error.h"

typedef struct vox_atomic_file {
    FILE *f;   /* write here */
    char *tmp; /* the temporary file's name */
} vox_atomic_file;

/* Create PATH.tmp-XXXXXX (mode 0644) and open it for writing. */
int vox_atomic_open(vox_atomic_file *af, const char *path, vox_error *err);
/* Flush, sync, close and rename over `path`; on any failure remove the temporary. */
int vox_atomic_commit(vox_atomic_file *af, const char *path, vox_error *err);
/* Close and remove the temporary (safe to call twice or after a failed open). */
void vox_atomic_abort(vox_atomic_file *af);

#endif
