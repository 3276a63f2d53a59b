/* error.h — how every function in voxtts reports failure.
 *
 * Functions return an int status (VOX_OK == 0 on success, a negative VOX_E_* code
 * otherwise) and fill a caller-owned vox_error with a human-readable message that
 * names the file, tensor or argument at fault.  No global state: each caller owns
 * its error record, so two models in one process never share messages. */
#ifndef VOX_BASE_ERROR_H
#define VOX_BASE_ERROR_H

#include <stddef.h>

#include "voxtts.h"

/* Internal names for the public codes and record (include/voxtts.h). */
enum {
    VOX_OK = VOXTTS_OK,
    VOX_E_IO = VOXTTS_E_IO,
    VOX_E_FORMAT = VOXTTS_E_FORMAT,
    VOX_E_SHAPE = VOXTTS_E_SHAPE,
    VOX_E_MISSING = VOXTTS_E_MISSING,
    VOX_E_ARG = VOXTTS_E_ARG,
    VOX_E_NOMEM = VOXTTS_E_NOMEM,
    VOX_E_UNSUPPORTED = VOXTTS_E_UNSUPPORTED,
    VOX_E_INTERNAL = VOXTTS_E_INTERNAL,
    VOX_E_CANCELLED = VOXTTS_E_CANCELLED,
    VOX_E_VERSION = VOXTTS_E_VERSION,
};

typedef voxtts_error vox_error;

/* Record an error (printf-style message) and return `code`, so callers can write
 * `return vox_fail(err, VOX_E_IO, "cannot open %s", path);`.  `err` may be NULL. */
int vox_fail(vox_error *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prefix the message already in `err` with more context ("loading model: ..."). */
int vox_error_prefix(vox_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

void vox_error_clear(vox_error *err);

/* VOX_OK when a public params struct's struct_size (`got`) is the size this
 * library was built with (`want`), else VOX_E_VERSION naming function and struct. */
int vox_check_struct_size(vox_error *err, const char *fn, const char *type, size_t got, size_t want);

#endif
