/* voice.c — preset voices: voice_embedding/<name>.pt (VOXTRAL.md §1.4).
 *
 * Each file is a torch zip archive with one BF16 tensor [N, dim] whose rows are
 * already vectors of the LLM input space; they replace the [AUDIO]
 * placeholders of the prompt (§2.3).  N must equal tekken.json's
 * audio.voice_num_audio_tokens[name] (§9 #23).  Files are read on first use and
 * kept (as f32) for the life of the model.  Names are matched
 * case-insensitively, as the reference server does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/torch_pt.h"
#include "voxtral/model.h"

int vox_voice_lookup(const voxtts_model *m, const char *name, int *voice, vox_error *err) {
    if (!name || !*name) {
        char list[768];
        size_t off = 0;
        list[0] = '\0';
        for (int i = 0; i < m->cfg.n_voices && off < sizeof list; i++)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                                    m->cfg.voice_names[i]);
        return vox_fail(err, VOX_E_ARG, "no voice given (available: %s)", list);
    }
    for (int i = 0; i < m->cfg.n_voices; i++) {
        if (strcasecmp(m->cfg.voice_names[i], name) == 0) {
            *voice = i;
            return VOX_OK;
        }
    }
    char list[768];
    size_t off = 0;
    list[0] = '\0';
    for (int i = 0; i < m->cfg.n_voices && off < sizeof list; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                                m->cfg.voice_names[i]);
    return vox_fail(err, VOX_E_ARG, "unknown voice '%.100s' (available: %s)", name, list);
}

int vox_voice_get(voxtts_model *m, int voice, const float **rows, int *n, vox_error *err) {
    if (voice < 0 || voice >= m->cfg.n_voices)
        return vox_fail(err, VOX_E_ARG, "voice index %d out of range", voice);
    if (m->voice_rows[voice]) {
        *rows = m->voice_rows[voice];
        *n = m->voice_n[voice];
        return VOX_OK;
    }
    const char *name = m->cfg.voice_names[voice];
    size_t plen = strlen(m->dir) + strlen(name) + 32;
    char *path = malloc(plen);
    if (!path) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    snprintf(path, plen, "%s/voice_embedding/%s.pt", m->dir, name);
    int expect_n = vox_tekken_voice_num_tokens(m->tk, name);
    if (expect_n < 0) {
        int rc = vox_fail(err, VOX_E_MISSING,
                          "voice '%s': tekken.json has no audio.voice_num_audio_tokens entry for it",
                          name);
        free(path);
        return rc;
    }
    vox_pt_tensor t;
    memset(&t, 0, sizeof t);
    int rc = vox_pt_load_tensor(path, &t, err);
    if (rc) {
        free(path);
        return rc;
    }
    if (t.ndim != 2 || t.shape[1] != m->cfg.llm.dim || t.shape[0] != expect_n) {
        char shape[96];
        if (t.ndim == 2)
            snprintf(shape, sizeof shape, "[%lld, %lld]", (long long)t.shape[0],
                     (long long)t.shape[1]);
        else
            snprintf(shape, sizeof shape, "%d dimensions", t.ndim);
        rc = vox_fail(err, VOX_E_SHAPE,
                      "%s: voice tensor has shape %s, expected [%d, %d] (%d rows from tekken.json "
                      "voice_num_audio_tokens, dim from params.json)",
                      path, shape, expect_n, m->cfg.llm.dim, expect_n);
        vox_pt_tensor_free(&t);
        free(path);
        return rc;
    }
    free(path);
    m->voice_rows[voice] = t.data; /* ownership moves to the model */
    m->voice_n[voice] = expect_n;
    *rows = t.data;
    *n = expect_n;
    return VOX_OK;
}
