/* atomic_file.c — output paths: temporary file + rename for regular files,
 * direct writes for devices, FIFOs and sockets, links followed (atomic_file.h). */
#include "base/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_LINKS = 40 }; /* like the kernel's own limit on nested links */

static char *dup_str(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* `path` with every symbolic link in its last component followed (the
 * directories above are resolved by the kernel when the file is opened).  A
 * dangling link resolves to where it points, so writing creates that file. */
static int resolve_links(const char *path, char **out, vox_error *err) {
    char *cur = dup_str(path, strlen(path));
    if (!cur) return vox_fail(err, VOX_E_NOMEM, "%s: out of memory", path);
    for (int depth = 0;; depth++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) break;
        if (depth == MAX_LINKS) {
            free(cur);
            return vox_fail(err, VOX_E_IO, "%s: too many levels of symbolic links", path);
        }
        char buf[PATH_MAX];
        ssize_t n = readlink(cur, buf, sizeof buf - 1);
        if (n < 0) {
            int e = errno;
            free(cur);
            return vox_fail(err, VOX_E_IO, "%s: cannot read the link: %s", path, strerror(e));
        }
        buf[n] = '\0';
        char *next;
        const char *slash = strrchr(cur, '/');
        if (buf[0] == '/' || !slash) {
            next = dup_str(buf, (size_t)n);
        } else { /* relative to the link's own directory */
            size_t dl = (size_t)(slash - cur) + 1;
            next = malloc(dl + (size_t)n + 1);
            if (next) {
                memcpy(next, cur, dl);
                memcpy(next + dl, buf, (size_t)n + 1);
            }
        }
        free(cur);
        if (!next) return vox_fail(err, VOX_E_NOMEM, "%s: out of memory", path);
        cur = next;
    }
    *out = cur;
    return VOX_OK;
}

/* The directory part of `p` ("." when there is none). */
static char *dir_of(const char *p) {
    const char *slash = strrchr(p, '/');
    if (!slash) return dup_str(".", 1);
    if (slash == p) return dup_str("/", 1);
    return dup_str(p, (size_t)(slash - p));
}

/* What kind of target `t` is: 0 absent or regular file (replace atomically),
 * 1 written directly, or an error. */
static int classify(const char *path, const char *t, struct stat *st, int *exists, vox_error *err) {
    *exists = 0;
    if (stat(t, st) != 0) {
        if (errno == ENOENT) return 0;
        return vox_fail(err, VOX_E_IO, "%s: %s", path, strerror(errno));
    }
    *exists = 1;
    if (S_ISREG(st->st_mode)) return 0;
    if (S_ISCHR(st->st_mode) || S_ISFIFO(st->st_mode) || S_ISSOCK(st->st_mode)) return 1;
    if (S_ISDIR(st->st_mode)) return vox_fail(err, VOX_E_IO, "%s: is a directory", path);
    return vox_fail(err, VOX_E_IO, "%s: not a regular file, character device or pipe; not replacing it", path);
}

int vox_atomic_check(const char *path, vox_error *err) {
    if (!path || !*path) return vox_fail(err, VOX_E_ARG, "empty output path");
    char *t = NULL;
    int rc = resolve_links(path, &t, err);
    if (rc) return rc;
    struct stat st;
    int exists = 0;
    rc = classify(path, t, &st, &exists, err);
    if (rc == 1) {
        rc = access(t, W_OK) == 0 ? VOX_OK : vox_fail(err, VOX_E_IO, "%s: not writable: %s", path, strerror(errno));
    } else if (rc == 0) {
        char *dir = dir_of(t);
        struct stat ds;
        if (!dir) rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory", path);
        else if (stat(dir, &ds) != 0)
            rc = vox_fail(err, VOX_E_IO, "%s: directory %s: %s", path, dir, strerror(errno));
        else if (!S_ISDIR(ds.st_mode))
            rc = vox_fail(err, VOX_E_IO, "%s: %s is not a directory", path, dir);
        else if (access(dir, W_OK | X_OK) != 0)
            rc = vox_fail(err, VOX_E_IO, "%s: directory %s is not writable: %s", path, dir, strerror(errno));
        free(dir);
    }
    free(t);
    return rc;
}

int vox_atomic_open(vox_atomic_file *af, const char *path, vox_error *err) {
    memset(af, 0, sizeof *af);
    if (!path || !*path) return vox_fail(err, VOX_E_ARG, "empty output path");
    int rc = resolve_links(path, &af->target, err);
    if (rc) return rc;
    struct stat st;
    int exists = 0;
    int kind = classify(path, af->target, &st, &exists, err);
    if (kind < 0) {
        vox_atomic_abort(af);
        return kind;
    }
    if (kind == 1) { /* a device, FIFO or socket: stream into it */
        int fd = open(af->target, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0 || !(af->f = fdopen(fd, "wb"))) {
            int e = errno;
            if (fd >= 0) close(fd);
            vox_atomic_abort(af);
            return vox_fail(err, VOX_E_IO, "%s: cannot open for writing: %s", path, strerror(e));
        }
        af->direct = 1;
        return VOX_OK;
    }
    size_t n = strlen(af->target);
    af->tmp = malloc(n + 16);
    if (!af->tmp) {
        vox_atomic_abort(af);
        return vox_fail(err, VOX_E_NOMEM, "%s: out of memory", path);
    }
    memcpy(af->tmp, af->target, n);
    memcpy(af->tmp + n, ".tmp-XXXXXX", 12);
    int fd = mkstemp(af->tmp);
    if (fd < 0) {
        int e = errno;
        free(af->tmp);
        af->tmp = NULL;
        vox_atomic_abort(af);
        return vox_fail(err, VOX_E_IO, "%s: cannot create a temporary file: %s", path, strerror(e));
    }
    /* mkstemp makes 0600: an existing file keeps its mode, a new one is an
     * ordinary 0644 file. */
    (void)fchmod(fd, exists ? (st.st_mode & 07777) : 0644);
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
    free(af->target);
    af->f = NULL;
    af->tmp = NULL;
    af->target = NULL;
    af->direct = 0;
}

int vox_atomic_commit(vox_atomic_file *af, const char *path, vox_error *err) {
    if (!af->f) return vox_fail(err, VOX_E_ARG, "%s: not open", path);
    int ok = fflush(af->f) == 0 && !ferror(af->f);
    int e = errno;
    if (ok && !af->direct && fsync(fileno(af->f)) != 0) {
        ok = 0;
        e = errno;
    }
    int c = fclose(af->f);
    af->f = NULL;
    if (ok && c != 0) {
        ok = 0;
        e = errno;
    }
    if (ok && af->tmp && rename(af->tmp, af->target) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        vox_atomic_abort(af);
        return vox_fail(err, VOX_E_IO, "%s: write failed: %s", path, strerror(e ? e : EIO));
    }
    free(af->tmp);
    free(af->target);
    af->tmp = NULL;
    af->target = NULL;
    af->direct = 0;
    return VOX_OK;
}
