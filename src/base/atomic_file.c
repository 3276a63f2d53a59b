/* atomic_file.c — temporary file + rename (see atomic_file.h). */
#include "base/atomic_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vox_atomic_open(vox_atomic_file *af, const char *path, vox_error *err) {
    af->f = NULL;
    size_t n = strlen(path);
    af->tmp = malloc(n + 16);
    if (!af->tmp) return vox_fail(err, VOX_E_NOMEM, "%s: out of memory", path);
    memcpy(af->tmp, path, n);
    memcpy(af->tmp + n, ".tmp-XXXXXX", 12);
    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        int e = errno;
        free(af->tmp);
        af->tmp = NULL;
        return vox_fail(err, VOX_E_IO, "%s: cannot create a temporary file: %s", path, strerror(e));
    }
    (void)fchmod(fd, 0644); /* mkstemp makes 0600; outputs are ordinary files */
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        close(fd);
        vox_atomic_abort(af);
        return vox_fail(err, VOX_E_IO, "%s: cannot open a temporary file: %s", path, strerror(e));
    }
    return VOX_OK;
}

void vox_atomic_abort(vox_atomic_file *af) {
    if (af->f) fclose(af->f);
    if (af->tmp) {
        unlink(af->tmp);
        free(af->tmp);
    }
    af->f = NULL;
    af->tmp = NULL;
}

int vox_atomic_commit(vox_atomic_file *af, const char *path, vox_error *err) {
    int ok = fflush(af->f) == 0 && !ferror(af->f);
    int e = errno;
    if (ok && fsync(fileno(af->f)) != 0) {
        ok = 0;
        e = errno;
    }
    int c = fclose(af->f);
    af->f = NULL;
    if (ok && c != 0) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(af->tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        vox_atomic_abort(af);
        return vox_fail(err, VOX_E_IO, "%s: write failed: %s", path, strerror(e ? e : EIO));
    }
    free(af->tmp);
    af->tmp = NULL;
    return VOX_OK;
}
