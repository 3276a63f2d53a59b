/* error.c — filling vox_error records (see error.h). */
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int vox_fail(vox_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

int vox_error_prefix(vox_error *err, const char *fmt, ...) {
    if (!err) return VOX_E_INTERNAL;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 3;
    size_t m = strnlen(old, room);
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
    return err->code;
}

int vox_check_struct_size(vox_error *err, const char *fn, const char *type, size_t got, size_t want) {
    if (got == want) return VOX_OK;
    return vox_fail(err, VOX_E_VERSION,
                    "%s: %s.struct_size is %zu, this library's %s has %zu bytes: initialise it with "
                    "%s_default() and build against the voxtts.h of the library in use",
                    fn, type, got, type, want, type);
}

void vox_error_clear(vox_error *err) {
    if (err) {
        err->code = VOX_OK;
        err->msg[0] = '\0';
    }
}
