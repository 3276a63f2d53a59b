/* sha256.h — SHA-256 (FIPS 180-4) for fingerprints and file identities.
 *
 * Used to name what a voice was made from (the source audio's bytes, the
 * model's audio-embedding table) and to key the per-voice prefix caches.
 * Incremental: init, update any number of times, final. */
#ifndef VOX_BASE_SHA256_H
#define VOX_BASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct vox_sha256_ctx {
    uint32_t h[8];
    uint64_t n_bytes;    /* message length so far */
    unsigned char buf[64];
    size_t buf_n;        /* bytes waiting in buf */
} vox_sha256_ctx;

void vox_sha256_init(vox_sha256_ctx *s);
void vox_sha256_update(vox_sha256_ctx *s, const void *data, size_t n);
void vox_sha256_final(vox_sha256_ctx *s, uint8_t out[32]);
/* One-shot digest. */
void vox_sha256(const void *data, size_t n, uint8_t out[32]);
/* 64 lowercase hex digits and a NUL. */
void vox_sha256_hex(const uint8_t digest[32], char hex[65]);
/* Digest of a whole file's bytes. */
int vox_sha256_file(const char *path, uint8_t out[32], vox_error *err);

#endif
