/* fingerprint.c — the model fingerprint that voices of one's own are tied to
 * (their rows are sums of the audio-embedding table's rows, docs/MODEL.md §4;
 * vox_voice_rows_from_codes in voice.c makes them).
 *
 * Fingerprint: SHA-256 over the text
 *   "voxtts-model-fingerprint-1\n"
 *   "dim=D n_codebooks=K semantic_codebook_size=S acoustic_codebook_size=L "
 *   "semantic_dim=E audio_rows=R dtype=TYPE\n"
 * followed by the audio-embedding table's bytes exactly as stored (so a BF16
 * checkpoint and its q8_0 GGUF differ: their rows differ) and the codec's f32
 * semantic codebook [S][E] as little-endian floats (what decoding the codes
 * depends on).  One pass over the table (about 56 MB for the real model),
 * computed on first use and kept in the model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sha256.h"
#include "voxtral/model.h"

int vox_model_fingerprint(voxtts_model *m, uint8_t out[32], vox_error *err) {
    if (m->fingerprint_done) {
        memcpy(out, m->fingerprint, 32);
        return VOX_OK;
    }
    const vox_config *c = &m->cfg;
    const vox_tensor *t = m->w.audio_embeddings;
    if (!t || !t->data)
        return vox_fail(err, VOX_E_INTERNAL, "the audio embedding table is not loaded");
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "voxtts-model-fingerprint-1\ndim=%d n_codebooks=%d semantic_codebook_size=%d "
                      "acoustic_codebook_size=%d semantic_dim=%d audio_rows=%lld dtype=%s\n",
                      c->llm.dim, c->n_codebooks, c->semantic_codebook_size,
                      c->acoustic_codebook_size, c->codec.semantic_dim, (long long)t->shape[0],
                      vox_dtype_name(t->dtype));
    vox_sha256_ctx s;
    vox_sha256_init(&s);
    vox_sha256_update(&s, head, (size_t)hn);
    vox_sha256_update(&s, t->data, t->nbytes);
    if (m->w.semantic_codebook) {
        const size_t n = (size_t)c->codec.semantic_codebook_size * (size_t)c->codec.semantic_dim;
        unsigned char buf[4096];
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &m->w.semantic_codebook[i], 4);
            for (int b = 0; b < 4; b++) buf[k++] = (unsigned char)(u >> (8 * b));
            if (k == sizeof buf) {
                vox_sha256_update(&s, buf, k);
                k = 0;
            }
        }
        vox_sha256_update(&s, buf, k);
    }
    vox_sha256_final(&s, m->fingerprint);
    m->fingerprint_done = 1;
    memcpy(out, m->fingerprint, 32);
    return VOX_OK;
}
