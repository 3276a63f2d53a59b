/* prompt.c — prompt ids, prompt embeddings and audio-code embeddings
 * (docs/MODEL.md §2.1, §2.3, §4).
 *
 * Prompt (§2.1): [<s>] [BEGIN_AUDIO] [AUDIO]*N [NEXT_AUDIO_TEXT] text
 * [REPEAT_AUDIO_TEXT] [BEGIN_AUDIO].  Every special id is looked up by name in
 * tekken.json (never hard-coded), so the 36-before / 35-after order holds by
 * construction (§9 #21), and the ids params.json names must agree.
 * Embeddings (§2.3): tok_embeddings rows, the [AUDIO] positions replaced in order
 * by the voice rows.  Frame embedding (§4): sum of one audio-table row per
 * codebook at offset_c + code_c. */
#include <stdlib.h>
#include <string.h>

#include "voxtral/model.h"

int vox_prompt_resolve_specials(voxtts_model *m, vox_error *err) {
    static const char *names[5] = {"<s>", "[BEGIN_AUDIO]", "[AUDIO]", "[NEXT_AUDIO_TEXT]",
                                   "[REPEAT_AUDIO_TEXT]"};
    int *dst[5] = {&m->id_bos, &m->id_begin_audio, &m->id_audio, &m->id_next_audio_text,
                   &m->id_repeat_audio_text};
    for (int i = 0; i < 5; i++) {
        int id = vox_tekken_special_id(m->tk, names[i]);
        if (id < 0)
            return vox_fail(err, VOX_E_MISSING, "%s/tekken.json: no special token \"%s\"", m->dir,
                            names[i]);
        if (id >= m->cfg.vocab_size)
            return vox_fail(err, VOX_E_FORMAT,
                            "%s/tekken.json: special token \"%s\" has id %d, outside the "
                            "embedding table (vocab_size %d)", m->dir, names[i], id,
                            m->cfg.vocab_size);
        *dst[i] = id;
    }
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (*dst[i] == *dst[j])
                return vox_fail(err, VOX_E_FORMAT, "%s/tekken.json: \"%s\" and \"%s\" share id %d",
                                m->dir, names[i], names[j], *dst[i]);
    struct { const char *key; int params, tekken; const char *name; } chk[3] = {
        {"multimodal.bos_token_id", m->cfg.bos_token_id, m->id_bos, names[0]},
        {"audio_model_args.begin_audio_token_id", m->cfg.begin_audio_token_id, m->id_begin_audio,
         names[1]},
        {"audio_model_args.audio_token_id", m->cfg.audio_token_id, m->id_audio, names[2]},
    };
    for (int i = 0; i < 3; i++)
        if (chk[i].params != chk[i].tekken)
            return vox_fail(err, VOX_E_FORMAT,
                            "%s: params.json %s is %d but tekken.json gives \"%s\" id %d", m->dir,
                            chk[i].key, chk[i].params, chk[i].name, chk[i].tekken);
    return VOX_OK;
}

static int is_blank(const char *text, size_t len) {
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') return 0;
    }
    return 1;
}

int vox_prompt_ids(voxtts_model *m, const char *text, size_t len, int voice, int32_t **ids_out,
                   size_t *n_out, vox_error *err) {
    *ids_out = NULL;
    *n_out = 0;
    if (voice < 0 || voice >= m->cfg.n_voices)
        return vox_fail(err, VOX_E_ARG, "voice index %d out of range", voice);
    const char *vname = m->cfg.voice_names[voice];
    int n_audio = vox_tekken_voice_num_tokens(m->tk, vname);
    if (n_audio < 0)
        return vox_fail(err, VOX_E_MISSING,
                        "voice '%s': tekken.json has no audio.voice_num_audio_tokens entry for it",
                        vname);
    return vox_prompt_ids_n(m, text, len, n_audio, ids_out, n_out, err);
}

int vox_prompt_ids_n(voxtts_model *m, const char *text, size_t len, int n_audio, int32_t **ids_out,
                     size_t *n_out, vox_error *err) {
    *ids_out = NULL;
    *n_out = 0;
    if (!text) return vox_fail(err, VOX_E_ARG, "text is NULL");
    if (is_blank(text, len)) return vox_fail(err, VOX_E_ARG, "text is empty");
    if (n_audio < 1) return vox_fail(err, VOX_E_ARG, "a voice needs at least one row");
    int32_t *text_ids = NULL;
    size_t n_text = 0;
    int rc = vox_tekken_encode(m->tk, text, len, &text_ids, &n_text, err);
    if (rc) return rc;
    for (size_t i = 0; i < n_text; i++) {
        if (text_ids[i] < 0 || text_ids[i] >= m->cfg.vocab_size) {
            rc = vox_fail(err, VOX_E_FORMAT,
                          "tokenizer produced id %d, outside the embedding table (vocab_size %d)",
                          (int)text_ids[i], m->cfg.vocab_size);
            free(text_ids);
            return rc;
        }
    }
    size_t n = (size_t)n_audio + n_text + 5;
    if (m->cfg.max_seq_len > 0 && n > (size_t)m->cfg.max_seq_len) {
        free(text_ids);
        return vox_fail(err, VOX_E_ARG,
                        "text too long for one prompt: %zu tokens (%zu of text + %d for the voice "
                        "and the markers) exceed the model's max_seq_len of %d (params.json); "
                        "split it into chunks (voxtts_synthesize_long, or the voxtts command, "
                        "which does)", n, n_text, n_audio + 5, m->cfg.max_seq_len);
    }
    int32_t *ids = malloc(n * sizeof *ids);
    if (!ids) {
        free(text_ids);
        return vox_fail(err, VOX_E_NOMEM, "out of memory for the prompt");
    }
    size_t k = 0;
    ids[k++] = m->id_bos;
    ids[k++] = m->id_begin_audio;
    for (int i = 0; i < n_audio; i++) ids[k++] = m->id_audio;
    ids[k++] = m->id_next_audio_text; /* 36 before the text */
    if (n_text) memcpy(ids + k, text_ids, n_text * sizeof *ids);
    k += n_text;
    ids[k++] = m->id_repeat_audio_text; /* 35 after it */
    ids[k++] = m->id_begin_audio;
    free(text_ids);
    *ids_out = ids;
    *n_out = n;
    return VOX_OK;
}

int vox_prompt_embeddings(voxtts_model *m, const int32_t *ids, size_t n, int voice, float **emb_out,
                          vox_error *err) {
    *emb_out = NULL;
    vox_voice_sel sel;
    int rc = vox_voice_select_preset(m, voice, &sel, err);
    if (rc) return rc;
    return vox_prompt_embeddings_sel(m, ids, n, &sel, emb_out, err);
}

int vox_prompt_embeddings_sel(voxtts_model *m, const int32_t *ids, size_t n,
                              const vox_voice_sel *v, float **emb_out, vox_error *err) {
    *emb_out = NULL;
    const float *vrows = v->rows;
    const int vn = v->n;
    const int D = m->cfg.llm.dim;
    size_t n_audio = 0;
    for (size_t i = 0; i < n; i++) n_audio += ids[i] == m->id_audio;
    if (n_audio != (size_t)vn)
        return vox_fail(err, VOX_E_ARG,
                        "prompt has %zu [AUDIO] placeholders but voice '%s' has %d rows", n_audio,
                        v->name, vn);
    float *emb = malloc(n * (size_t)D * sizeof *emb);
    if (!emb) return vox_fail(err, VOX_E_NOMEM, "out of memory for %zu prompt embeddings", n);
    int used = 0;
    for (size_t i = 0; i < n; i++) {
        float *row = emb + i * (size_t)D;
        if (ids[i] == m->id_audio) {
            memcpy(row, vrows + (size_t)used * D, sizeof(float) * (size_t)D);
            used++;
        } else {
            vox_tensor_get_row(m->w.tok_embeddings, ids[i], row);
        }
    }
    *emb_out = emb;
    return VOX_OK;
}

void vox_embed_frame(const voxtts_model *m, const int32_t *codes, float *e, float *tmp) {
    const int D = m->cfg.llm.dim;
    memset(e, 0, sizeof(float) * (size_t)D);
    for (int c = 0; c < m->cfg.n_codebooks; c++) {
        vox_tensor_get_row(m->w.audio_embeddings, m->cb_offset[c] + codes[c], tmp);
        vox_add(e, tmp, D);
    }
}

int vox_check_codes(const voxtts_model *m, const int32_t *codes, int n_frames, int lo,
                    vox_error *err) {
    const int ncb = m->cfg.n_codebooks;
    for (int f = 0; f < n_frames; f++) {
        for (int c = 0; c < ncb; c++) {
            const int hi = (c == 0 ? m->cfg.semantic_codebook_size : m->cfg.acoustic_codebook_size) + 2;
            const int32_t v = codes[(size_t)f * ncb + c];
            if (v < lo || v >= hi)
                return vox_fail(err, VOX_E_ARG,
                                "code %d at frame %d, codebook %d is out of range (valid: %d..%d)",
                                (int)v, f, c, lo, hi - 1);
        }
    }
    return VOX_OK;
}
