/* error.h — how every function in voxtts reports failure.
 *
 * Functions return an int status (VOX_OK == 0 on success, a negative VOX_E_* code
 * otherwise) and fill a caller-owned vox_error with a human-readable message that
 * names the file, tensor or argument at fault.  No global state: each caller owns
 * its error record, so two models in one process never share messages. */
#ifndef VOX_BASE_ERROR_H
#define VOX_BASE_ERROR_H

#include <stddef.h>

enum {
    VOX_OK = 0,
    VOX_E_IO = -1,        /* file missing, unreadable, short read, cannot write */
    VOX_E_FORMAT = -2,    /* malformed file: bad header, bad JSON, truncated data */
    VOX_E_SHAPE = -3,     /* tensor present but with the wrong shape or dtype */
    VOX_E_MISSING = -4,   /* a required tensor, key or file is absent */
    VOX_E_ARG = -5,       /* bad argument from the user (unknown voice, empty text...) */
    VOX_E_NOMEM = -6,     /* allocation failed */
    VOX_E_UNSUPPORTED = -7,
    VOX_E_INTERNAL = -8,
};

typedef struct vox_error {
    int code;
    char msg[1024];
} vox_error;

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

#endif
