/* npy.c — reading and writing NumPy .npy arrays (float32 / int32, C order).
 *
 * Layout: the magic "\x93NUMPY", a major/minor version byte pair, a header
 * length (u16 for version 1.x, u32 for 2.x/3.x), then a Python dict literal such
 * as {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded with
 * spaces and a newline, then the raw little-endian data.  We accept exactly the
 * two dtypes the goldens use and insist the data size matches the shape, so a
 * truncated golden is reported instead of silently compared short. */
#include "io/npy.h"

#include "base/atomic_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAX_DIMS 8

static const unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* ---- header dict parsing --------------------------------------------------- */

typedef struct hparse {
    const char *p, *end;
} hparse;

static void hp_ws(hparse *h) {
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
        h->p++;
}

static int hp_eat(hparse *h, char c) {
    hp_ws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string ('...' or "...", no escapes needed for npy keys). */
static int hp_string(hparse *h, char *buf, size_t cap) {
    hp_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return 0;
    char q = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != q) {
        if (n + 1 >= cap) return 0;
        buf[n++] = *h->p++;
    }
    if (h->p >= h->end) return 0;
    h->p++;
    buf[n] = '\0';
    return 1;
}

static int hp_word(hparse *h, const char *w) {
    hp_ws(h);
    size_t n = strlen(w);
    if ((size_t)(h->end - h->p) >= n && memcmp(h->p, w, n) == 0) {
        h->p += n;
        return 1;
    }
    return 0;
}

/* (a, b, c) or (a,) or (); returns 0 on syntax error. */
static int hp_shape(hparse *h, int *ndim, int64_t *shape) {
    if (!hp_eat(h, '(')) return 0;
    *ndim = 0;
    for (;;) {
        if (hp_eat(h, ')')) return 1;
        hp_ws(h);
        if (h->p >= h->end || *h->p < '0' || *h->p > '9') return 0;
        int64_t v = 0;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            if (v > (INT64_MAX - 9) / 10) return 0;
            v = v * 10 + (*h->p++ - '0');
        }
        /* Python 2 era files may write 3L. */
        if (h->p < h->end && *h->p == 'L') h->p++;
        if (*ndim >= NPY_MAX_DIMS) return 0;
        shape[(*ndim)++] = v;
        if (hp_eat(h, ',')) continue;
        return hp_eat(h, ')');
    }
}

static int parse_header(const char *path, const char *txt, size_t len, vox_npy *out,
                        vox_error *err) {
    hparse h = {txt, txt + len};
    char key[32], descr[32] = "";
    int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0;
    if (!hp_eat(&h, '{')) return vox_fail(err, VOX_E_FORMAT, "%s: npy header is not a dict", path);
    for (;;) {
        if (hp_eat(&h, '}')) break;
        if (!hp_string(&h, key, sizeof key) || !hp_eat(&h, ':'))
            return vox_fail(err, VOX_E_FORMAT, "%s: malformed npy header dict", path);
        if (strcmp(key, "descr") == 0) {
            if (!hp_string(&h, descr, sizeof descr))
                return vox_fail(err, VOX_E_FORMAT, "%s: npy 'descr' is not a string", path);
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (hp_word(&h, "True")) fortran = 1;
            else if (hp_word(&h, "False")) fortran = 0;
            else return vox_fail(err, VOX_E_FORMAT, "%s: npy 'fortran_order' is not a bool", path);
            have_order = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (!hp_shape(&h, &out->ndim, out->shape))
                return vox_fail(err, VOX_E_FORMAT,
                                "%s: npy 'shape' is not a tuple of at most %d integers", path,
                                NPY_MAX_DIMS);
            have_shape = 1;
        } else {
            return vox_fail(err, VOX_E_FORMAT, "%s: unknown npy header key '%s'", path, key);
        }
        if (hp_eat(&h, ',')) continue;
        if (hp_eat(&h, '}')) break;
        return vox_fail(err, VOX_E_FORMAT, "%s: malformed npy header dict", path);
    }
    if (!have_descr || !have_order || !have_shape)
        return vox_fail(err, VOX_E_FORMAT, "%s: npy header lacks '%s'", path,
                        !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    if (strcmp(descr, "<f4") == 0) out->type = VOX_NPY_F32;
    else if (strcmp(descr, "<i4") == 0) out->type = VOX_NPY_I32;
    else
        return vox_fail(err, VOX_E_UNSUPPORTED,
                        "%s: npy dtype '%s' is not supported (only '<f4' and '<i4')", path, descr);
    if (fortran)
        return vox_fail(err, VOX_E_UNSUPPORTED, "%s: Fortran-order npy arrays are not supported",
                        path);
    return VOX_OK;
}

/* ---- reading ------------------------------------------------------------- */

void vox_npy_free(vox_npy *a) {
    if (!a) return;
    free(a->data);
    a->data = NULL;
}

int vox_npy_read(const char *path, vox_npy *out, vox_error *err) {
    if (!out) return vox_fail(err, VOX_E_ARG, "vox_npy_read: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return vox_fail(err, VOX_E_ARG, "vox_npy_read: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return vox_fail(err, VOX_E_IO, "%s: cannot open: %s", path, strerror(errno));
    int rc = VOX_OK;
    unsigned char *buf = NULL;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = vox_fail(err, VOX_E_IO, "%s: not a regular file", path);
        goto done;
    }
    size_t size = (size_t)sb.st_size;
    unsigned char pre[12];
    size_t got = fread(pre, 1, size < 12 ? size : 12, f);
    if (got < 10 || memcmp(pre, npy_magic, 6) != 0) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: not a .npy file (bad magic or too short)", path);
        goto done;
    }
    unsigned major = pre[6];
    size_t hlen, hoff;
    if (major == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        hoff = 10;
    } else if (major == 2 || major == 3) {
        if (got < 12) {
            rc = vox_fail(err, VOX_E_FORMAT, "%s: truncated npy header", path);
            goto done;
        }
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        hoff = 12;
    } else {
        rc = vox_fail(err, VOX_E_UNSUPPORTED, "%s: npy format version %u.%u is not supported",
                      path, major, (unsigned)pre[7]);
        goto done;
    }
    if (hlen > size - hoff) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: npy header (%zu bytes) runs past the end of the file",
                      path, hlen);
        goto done;
    }
    buf = malloc(hlen ? hlen : 1);
    if (!buf) {
        rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory", path);
        goto done;
    }
    if (fseek(f, (long)hoff, SEEK_SET) != 0 || fread(buf, 1, hlen, f) != hlen) {
        rc = vox_fail(err, VOX_E_IO, "%s: short read in npy header", path);
        goto done;
    }
    rc = parse_header(path, (const char *)buf, hlen, out, err);
    if (rc) goto done;
    free(buf);
    buf = NULL;

    int64_t numel = 1;
    for (int i = 0; i < out->ndim; i++) {
        if (out->shape[i] != 0 && numel > (INT64_MAX / 4) / out->shape[i]) {
            rc = vox_fail(err, VOX_E_FORMAT, "%s: npy shape is absurdly large", path);
            goto done;
        }
        numel *= out->shape[i];
    }
    out->numel = numel;
    size_t need = (size_t)numel * 4, have = size - hoff - hlen;
    if (have != need) {
        rc = vox_fail(err, VOX_E_FORMAT,
                      "%s: npy data is %zu bytes but its shape needs %zu (%s)", path, have, need,
                      have < need ? "truncated" : "trailing bytes");
        goto done;
    }
    out->data = malloc(need ? need : 1);
    if (!out->data) {
        rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory for %zu bytes", path, need);
        goto done;
    }
    if (need && fread(out->data, 1, need, f) != need) {
        rc = vox_fail(err, VOX_E_IO, "%s: short read in npy data", path);
        goto done;
    }
done:
    free(buf);
    fclose(f);
    if (rc) vox_npy_free(out);
    return rc;
}

/* ---- writing ------------------------------------------------------------- */

int vox_npy_write(const char *path, vox_npy_type type, int ndim, const int64_t *shape,
                  const void *data, vox_error *err) {
    if (!path) return vox_fail(err, VOX_E_ARG, "vox_npy_write: path is NULL");
    if (type != VOX_NPY_F32 && type != VOX_NPY_I32)
        return vox_fail(err, VOX_E_ARG, "%s: unknown npy element type %d", path, (int)type);
    if (ndim < 0 || ndim > NPY_MAX_DIMS || (ndim > 0 && !shape))
        return vox_fail(err, VOX_E_ARG, "%s: invalid number of dimensions %d", path, ndim);
    char hdr[512];
    size_t k = (size_t)snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                                type == VOX_NPY_F32 ? "<f4" : "<i4");
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] && numel > (INT64_MAX / 4) / shape[i]))
            return vox_fail(err, VOX_E_ARG, "%s: invalid shape", path);
        numel *= shape[i];
        k += (size_t)snprintf(hdr + k, sizeof hdr - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    }
    k += (size_t)snprintf(hdr + k, sizeof hdr - k, "%s), }", ndim == 1 ? "," : "");
    /* Pad with spaces + '\n' so the data starts on a 64-byte boundary (NumPy's rule). */
    size_t total = 10 + k + 1;
    size_t pad = (64 - total % 64) % 64;
    memset(hdr + k, ' ', pad);
    k += pad;
    hdr[k++] = '\n';
    size_t nbytes = (size_t)numel * 4;
    if (nbytes && !data) return vox_fail(err, VOX_E_ARG, "%s: data is NULL", path);

    vox_atomic_file af;
    int rc = vox_atomic_open(&af, path, err);
    if (rc) return rc;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(k & 0xff),
                             (unsigned char)(k >> 8)};
    int ok = fwrite(pre, 1, 10, af.f) == 10 && fwrite(hdr, 1, k, af.f) == k &&
             (nbytes == 0 || fwrite(data, 1, nbytes, af.f) == nbytes);
    if (!ok) {
        int e = errno;
        vox_atomic_abort(&af);
        return vox_fail(err, VOX_E_IO, "%s: write failed: %s", path, strerror(e));
    }
    return vox_atomic_commit(&af, path, err);
}
