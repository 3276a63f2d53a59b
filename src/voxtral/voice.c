/* voice.c — preset voices: voice_embedding/<name>.pt (docs/MODEL.md §1.4), or the
 * same rows stored in the model file itself.
 *
 * A voice is looked for first in the model's tensor source as the tensor
 * "voice_embedding.<name>" (a GGUF model made by `voxtts quantize` carries its
 * voices; any dtype is accepted), then as the file voice_embedding/<name>.pt in
 * the model directory (for a GGUF model: the directory holding the file).
 * Each .pt file is a torch zip archive with one BF16 tensor [N, dim] whose rows are
 * already vectors of the LLM input space; they replace the [AUDIO]
 * placeholders of the prompt (§2.3).  N must equal tekken.json's
 * audio.voice_num_audio_tokens[name] (§9 #23).  Files are read on first use and
 * kept (as f32) for the life of the model.  Names are matched
 * case-insensitively, as the reference server does.
 *
 * vox_voice_select picks what a request speaks with: a voice of one's own
 * (voxtts_voice, voice_api.c) when the request carries one, else the preset.
 * A voice with codes must have been embedded by this model's table (its stored
 * fingerprint); rows of the wrong width are refused.
 *
 * A cloned voice's rows come from a clip's codes (vox_voice_rows_from_codes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/sha256.h"
#include "io/torch_pt.h"
#include "voxtral/gguf_model.h"
#include "voxtral/model.h"
#include "voxtral/voice_file.h"

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

/* The expected shape [expect_n, dim], or an E_SHAPE error naming `where`. */
static int check_voice_shape(const voxtts_model *m, const char *where, int ndim,
                             const int64_t *shape, int expect_n, vox_error *err) {
    if (ndim == 2 && shape[1] == m->cfg.llm.dim && shape[0] == expect_n) return VOX_OK;
    char have[96];
    if (ndim == 2)
        snprintf(have, sizeof have, "[%lld, %lld]", (long long)shape[0], (long long)shape[1]);
    else
        snprintf(have, sizeof have, "%d dimensions", ndim);
    return vox_fail(err, VOX_E_SHAPE,
                    "%s: voice tensor has shape %s, expected [%d, %d] (%d rows from tekken.json "
                    "voice_num_audio_tokens, dim from params.json)",
                    where, have, expect_n, m->cfg.llm.dim, expect_n);
}

/* Where voice files live: the model directory, or the directory of a model file
 * (GGUF).  Malloc'd. */
static char *voice_dir(const voxtts_model *m) {
    if (!m->dir) return strdup(".");
    struct stat sb;
    if (stat(m->dir, &sb) == 0 && !S_ISDIR(sb.st_mode)) return vox_path_dirname(m->dir);
    return strdup(m->dir);
}

/* A voice stored in the model's own tensor source (a GGUF's voice_embedding.<name>),
 * converted to f32.  *rows stays NULL when the source has none. */
static int voice_from_source(voxtts_model *m, const char *name, int expect_n, float **rows,
                             vox_error *err) {
    *rows = NULL;
    if (!m->src) return VOX_OK;
    char tname[512];
    snprintf(tname, sizeof tname, "%s%s", VOX_GGUF_VOICE_PREFIX, name);
    const vox_tensor *t = vox_source_find(m->src, tname);
    if (!t) return VOX_OK;
    char where[768];
    snprintf(where, sizeof where, "%s: tensor '%s'", vox_source_label(m->src), tname);
    int rc = check_voice_shape(m, where, t->ndim, t->shape, expect_n, err);
    if (rc) return rc;
    float *f = malloc(sizeof(float) * (size_t)expect_n * (size_t)m->cfg.llm.dim);
    if (!f) return vox_fail(err, VOX_E_NOMEM, "out of memory loading voice '%s'", name);
    vox_tensor_to_f32(t, f);
    *rows = f;
    return VOX_OK;
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
    int expect_n = vox_tekken_voice_num_tokens(m->tk, name);
    if (expect_n < 0)
        return vox_fail(err, VOX_E_MISSING,
                        "voice '%s': tekken.json has no audio.voice_num_audio_tokens entry for it",
                        name);
    float *data = NULL;
    int rc = voice_from_source(m, name, expect_n, &data, err);
    if (rc) return rc;
    if (!data) {
        char *dir = voice_dir(m);
        if (!dir) return vox_fail(err, VOX_E_NOMEM, "out of memory");
        size_t plen = strlen(dir) + strlen(name) + 32;
        char *path = malloc(plen);
        if (!path) {
            free(dir);
            return vox_fail(err, VOX_E_NOMEM, "out of memory");
        }
        snprintf(path, plen, "%s/voice_embedding/%s.pt", dir, name);
        free(dir);
        vox_pt_tensor t;
        memset(&t, 0, sizeof t);
        rc = vox_pt_load_tensor(path, &t, err);
        if (!rc) rc = check_voice_shape(m, path, t.ndim, t.shape, expect_n, err);
        free(path);
        if (rc) {
            vox_pt_tensor_free(&t);
            return rc;
        }
        data = t.data; /* ownership moves to the model */
    }
    m->voice_rows[voice] = data;
    m->voice_n[voice] = expect_n;
    *rows = data;
    *n = expect_n;
    return VOX_OK;
}

int vox_voice_select_preset(voxtts_model *m, int voice, vox_voice_sel *sel, vox_error *err) {
    memset(sel, 0, sizeof *sel);
    int rc = vox_voice_get(m, voice, &sel->rows, &sel->n, err);
    if (rc) return rc;
    sel->name = m->cfg.voice_names[voice];
    sel->preset = voice;
    return VOX_OK;
}

int vox_voice_select(voxtts_model *m, const voxtts_synth_params *p, vox_voice_sel *sel,
                     vox_error *err) {
    memset(sel, 0, sizeof *sel);
    const voxtts_voice *v = p->voice_handle;
    if (!v) {
        int voice, rc = vox_voice_lookup(m, p->voice, &voice, err);
        if (rc) return rc;
        return vox_voice_select_preset(m, voice, sel, err);
    }
    if (v->info.dim != m->cfg.llm.dim)
        return vox_fail(err, VOX_E_SHAPE,
                        "voice '%s' has rows of width %d but the model's dim is %d (params.json)",
                        v->info.name, v->info.dim, m->cfg.llm.dim);
    if (v->info.n_frames > 0 && v->info.model_fingerprint[0]) {
        /* rows embedded by another model's table would be wrong here */
        uint8_t fp[32];
        char hex[65];
        int rc = vox_model_fingerprint(m, fp, err);
        if (rc) return rc;
        vox_sha256_hex(fp, hex);
        if (strcmp(hex, v->info.model_fingerprint) != 0)
            return vox_fail(err, VOX_E_ARG,
                            "voice '%s' was embedded by another model (fingerprint %.12s..., this "
                            "model %.12s...): load it with this model (voxtts_voice_load)",
                            v->info.name, v->info.model_fingerprint, hex);
    }
    sel->rows = v->rows;
    sel->n = v->info.n_rows;
    sel->name = v->info.name;
    sel->preset = -1;
    sel->key = v->key;
    return VOX_OK;
}

/* Rows of a cloned voice (§4, §7 step 8): one summed code embedding per frame,
 * then the END frame [1, 0, ..., 0] (END_AUDIO semantic, EMPTY acoustic: raw
 * specials, no +2), as VO appends after an encoded clip. */
int vox_voice_rows_from_codes(voxtts_model *m, const int32_t *codes, int T, float **rows,
                              vox_error *err) {
    if (rows) *rows = NULL;
    if (!m || !rows || (T > 0 && !codes))
        return vox_fail(err, VOX_E_ARG, "voice rows: model, codes and rows must be given");
    if (T < 1 || T > (1 << 24))
        return vox_fail(err, VOX_E_ARG, "voice rows: %d frames of codes (need 1..%d)", T, 1 << 24);
    /* real codes only: the END frame is appended here */
    int rc = vox_check_codes(m, codes, T, 2, err);
    if (rc) return rc;
    const int D = m->cfg.llm.dim, ncb = m->cfg.n_codebooks;
    float *out = malloc(sizeof(float) * (size_t)(T + 1) * (size_t)D);
    float *tmp = malloc(sizeof(float) * (size_t)D);
    int32_t *end = calloc((size_t)ncb, sizeof *end);
    if (!out || !tmp || !end) {
        free(out);
        free(tmp);
        free(end);
        return vox_fail(err, VOX_E_NOMEM, "voice rows: out of memory for %d frames", T);
    }
    for (int t = 0; t < T; t++)
        vox_embed_frame(m, codes + (size_t)t * ncb, out + (size_t)t * D, tmp);
    end[0] = 1; /* END_AUDIO; acoustic EMPTY_AUDIO = 0 */
    vox_embed_frame(m, end, out + (size_t)T * D, tmp);
    free(tmp);
    free(end);
    *rows = out;
    return VOX_OK;
}
