/* strbuf.h — a growable NUL-terminated byte buffer that remembers running out
 * of memory instead of failing each append (the caller checks `oom` once at the
 * end).  Used where text is assembled piece by piece: the safetensors header
 * writer and the sentence splitter. */
#ifndef VOX_BASE_STRBUF_H
#define VOX_BASE_STRBUF_H

#include <stdlib.h>
#include <string.h>

typedef struct vox_strbuf {
    char *p;    /* p[len] == '\0' once anything was appended */
    size_t len, cap;
    int oom;    /* an append failed: the contents are incomplete */
} vox_strbuf;

static inline void vox_strbuf_put(vox_strbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

#endif
