/* source.c — tensor sources (see source.h): the generic wrapper, the page
 * release helper, and the safetensors source. */
#include "voxtral/source.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io/safetensors.h"

int vox_source_expect(const vox_source *s, const char *name, int ndim, const int64_t *shape,
                      const vox_tensor **out, vox_error *err) {
    return s->ops->expect(s->impl, name, ndim, shape, out, err);
}

const vox_tensor *vox_source_find(const vox_source *s, const char *name) {
    return s->ops->find(s->impl, name);
}

const char *vox_source_label(const vox_source *s) { return s ? s->label : "(none)"; }

void vox_source_release(const vox_source *s, const vox_tensor *t) {
    if (s && t && s->ops->release) s->ops->release(s->impl, t);
}

void vox_source_drop_pages(const void *p, size_t n) {
    const long ps = sysconf(_SC_PAGESIZE);
    if (!p || ps <= 0) return;
    const uintptr_t page = (uintptr_t)ps, a = (uintptr_t)p, e = a + n;
    const uintptr_t lo = (a + page - 1) / page * page, hi = e / page * page;
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

int vox_source_new(const vox_source_ops *ops, void *impl, const char *label, vox_source **out,
                   vox_error *err) {
    vox_source *s = calloc(1, sizeof *s);
    char *l = strdup(label ? label : "");
    if (!s || !l) {
        free(s);
        free(l);
        ops->close(impl);
        return vox_fail(err, VOX_E_NOMEM, "out of memory");
    }
    s->ops = ops;
    s->impl = impl;
    s->label = l;
    *out = s;
    return VOX_OK;
}

void vox_source_free(vox_source *s) {
    if (!s) return;
    s->ops->close(s->impl);
    free(s->label);
    free(s);
}

static int st_expect(void *impl, const char *name, int ndim, const int64_t *shape,
                     const vox_tensor **out, vox_error *err) {
    return vox_safetensors_expect(impl, name, ndim, shape, out, err);
}
static const vox_tensor *st_find(void *impl, const char *name) {
    return vox_safetensors_find(impl, name);
}
static void st_close(void *impl) { vox_safetensors_close(impl); }
void vox_source_release_mapped(void *impl, const vox_tensor *t) {
    (void)impl;
    vox_source_drop_pages(t->data, t->nbytes);
}

static const vox_source_ops safetensors_ops = {st_expect, st_find, st_close, vox_source_release_mapped};

int vox_source_open_safetensors(const char *path, vox_source **out, vox_error *err) {
    vox_safetensors *st = NULL;
    int rc = vox_safetensors_open(path, &st, err);
    if (rc) return rc;
    return vox_source_new(&safetensors_ops, st, path, out, err);
}
