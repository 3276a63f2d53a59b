/* api.c — the public face of src/io and src/base/atomic_file.h (include/voxtts.h,
 * voxtts_debug.h): audio file writers in every output format, atomic files,
 * and .npy arrays.  Thin wrappers: the public types are the internal ones
 * (audio_file.h and npy.h name them), only the writer options differ, by
 * their struct_size. */
#include <string.h>

#include "base/atomic_file.h"
#include "io/audio_file.h"
#include "io/npy.h"

/* ---- audio files out ------------------------------------------------------------- */

voxtts_audio_format voxtts_audio_format_from_name(const char *ext_or_name) {
    return vox_audio_format_from_name(ext_or_name);
}

voxtts_audio_format voxtts_audio_format_from_path(const char *path) {
    return vox_audio_format_from_path(path);
}

const char *voxtts_audio_format_name(voxtts_audio_format f) { return vox_audio_format_name(f); }

int voxtts_audio_format_check(voxtts_audio_format f, int rate, const char *what, voxtts_error *err) {
    return vox_audio_format_check(f, rate, what ? what : "output", err);
}

void voxtts_audio_writer_opts_default(voxtts_audio_writer_opts *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
}

/* The internal options of public ones (NULL: defaults); VOX_E_VERSION on a bad size. */
static int writer_opts(const char *fn, const voxtts_audio_writer_opts *o, vox_audio_writer_opts *out,
                       voxtts_error *err) {
    memset(out, 0, sizeof *out);
    if (!o) return VOX_OK;
    int rc = vox_check_struct_size(err, fn, "voxtts_audio_writer_opts", o->struct_size, sizeof *o);
    if (rc) return rc;
    out->float32 = o->float32;
    out->in_rate = o->in_rate;
    return VOX_OK;
}

int voxtts_audio_writer_open(voxtts_audio_writer **w, const char *path, voxtts_audio_format fmt,
                             int rate, const voxtts_audio_writer_opts *opts, voxtts_error *err) {
    if (w) *w = NULL;
    vox_audio_writer_opts o;
    int rc = writer_opts("voxtts_audio_writer_open", opts, &o, err);
    return rc ? rc : vox_audio_writer_open(w, path, fmt, rate, &o, err);
}

int voxtts_audio_writer_open_fd(voxtts_audio_writer **w, int fd, const char *name,
                                voxtts_audio_format fmt, int rate,
                                const voxtts_audio_writer_opts *opts, voxtts_error *err) {
    if (w) *w = NULL;
    vox_audio_writer_opts o;
    int rc = writer_opts("voxtts_audio_writer_open_fd", opts, &o, err);
    return rc ? rc : vox_audio_writer_open_fd(w, fd, name, fmt, rate, &o, err);
}

int voxtts_audio_writer_open_sink(voxtts_audio_writer **w, voxtts_audio_sink_fn sink, void *user,
                                  const char *name, voxtts_audio_format fmt, int rate,
                                  const voxtts_audio_writer_opts *opts, voxtts_error *err) {
    if (w) *w = NULL;
    vox_audio_writer_opts o;
    int rc = writer_opts("voxtts_audio_writer_open_sink", opts, &o, err);
    return rc ? rc : vox_audio_writer_open_sink(w, sink, user, name, fmt, rate, &o, err);
}

int voxtts_audio_writer_write(voxtts_audio_writer *w, const float *samples, size_t n,
                              voxtts_error *err) {
    return vox_audio_writer_write(w, samples, n, err);
}

int voxtts_audio_writer_close(voxtts_audio_writer *w, voxtts_error *err) {
    return vox_audio_writer_close(w, err);
}

void voxtts_audio_writer_abort(voxtts_audio_writer *w) { vox_audio_writer_abort(w); }

/* ---- atomic files ---------------------------------------------------------------- */

int voxtts_write_file_atomic(const char *path, const void *data, size_t n, voxtts_error *err) {
    if (!path || (!data && n)) return vox_fail(err, VOX_E_ARG, "voxtts_write_file_atomic: path or data is NULL");
    vox_atomic_file af;
    int rc = vox_atomic_open(&af, path, err);
    if (rc) return rc;
    if (n && fwrite(data, 1, n, af.f) != n) {
        vox_atomic_abort(&af);
        return vox_fail(err, VOX_E_IO, "%s: write failed", path);
    }
    return vox_atomic_commit(&af, path, err);
}

/* ---- .npy ------------------------------------------------------------------------- */

int voxtts_npy_read(const char *path, voxtts_npy *out, voxtts_error *err) {
    return vox_npy_read(path, out, err);
}

int voxtts_npy_write(const char *path, voxtts_npy_type type, int ndim, const int64_t *shape,
                     const void *data, voxtts_error *err) {
    return vox_npy_write(path, type, ndim, shape, data, err);
}

void voxtts_npy_free(voxtts_npy *a) { vox_npy_free(a); }
