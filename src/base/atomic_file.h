/* atomic_file.h — open an output path the way every writer in voxtts must.
 *
 * What happens depends on what the path names (symbolic links are followed,
 * so `-o link.wav` writes where the link points and keeps the link):
 *  - nothing yet, or an existing regular file: the data goes to a temporary
 *    file beside the target (same directory, so the same file system) that is
 *    renamed over it only once everything was written and flushed.  A failed
 *    or interrupted write leaves no partial file and the old file untouched;
 *    an existing file keeps its permission bits.
 *  - a character device, FIFO or socket (/dev/stdout, /dev/null, a named pipe):
 *    written directly, as a stream; never replaced by a regular file.
 *  - a directory, a block device or anything else: an error.
 * vox_atomic_check answers, before any expensive work, whether a path could
 * be opened this way (the directory exists and is writable, the target is not
 * a directory), so a long synthesis never ends in "cannot create". */
#ifndef VOX_BASE_ATOMIC_FILE_H
#define VOX_BASE_ATOMIC_FILE_H

#include <stdio.h>

#include "base/error.h"

typedef struct vox_atomic_file {
    FILE *f;      /* write here */
    char *tmp;    /* the temporary file's name (NULL when writing directly) */
    char *target; /* the path finally written: `path` with its links resolved */
    int direct;   /* 1: f is the device/FIFO/socket itself */
} vox_atomic_file;

/* Open `path` for writing as described above. */
int vox_atomic_open(vox_atomic_file *af, const char *path, vox_error *err);
/* Flush (and for files sync, close and rename over the target); on any failure
 * the temporary is removed.  `path` only names the output in messages. */
int vox_atomic_commit(vox_atomic_file *af, const char *path, vox_error *err);
/* Close and remove the temporary (safe to call twice or after a failed open). */
void vox_atomic_abort(vox_atomic_file *af);
/* VOX_OK if vox_atomic_open(path) can be expected to succeed; else the error
 * it would give (missing or unwritable directory, a directory as target...). */
int vox_atomic_check(const char *path, vox_error *err);

#endif
