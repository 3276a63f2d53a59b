/* gguf_model.h — a whole voxtts model in one GGUF file (the container that
 * `voxtts quantize` writes and voxtts_model_load reads).
 *
 * Layout (format version 1; the full description is at the top of gguf_model.c):
 *   metadata  general.architecture   string "voxtral_tts"               (required)
 *             voxtts.format_version  u32 1                              (required)
 *             voxtts.params_json     string: the original params.json   (required)
 *             voxtts.tekken_json     string: the original tekken.json   (optional)
 *             voxtts.type_mix        string: vox_type_mix_format text   (informative)
 *             voxtts.source          string: what it was made from      (informative)
 *   tensors   every official tensor name (docs/MODEL.md §1.2) in any dtype voxtts
 *             reads (F32, F16, BF16, Q8_0, Q4_K), plus optionally each preset
 *             voice as "voice_embedding.<name>" [N, dim] (BF16 as written).
 * What the file lacks (tokenizer, voices) is looked for beside it: tekken.json
 * and voice_embedding/<name>.pt in the file's directory. */
#ifndef VOX_VOXTRAL_GGUF_MODEL_H
#define VOX_VOXTRAL_GGUF_MODEL_H

#include "base/error.h"
#include "io/gguf.h"
#include "text/tekken.h"
#include "voxtral/config.h"
#include "voxtral/source.h"

#define VOX_GGUF_ARCH "voxtral_tts"
#define VOX_GGUF_FORMAT_VERSION 1u

#define VOX_GGUF_KEY_ARCH "general.architecture"
#define VOX_GGUF_KEY_VERSION "voxtts.format_version"
#define VOX_GGUF_KEY_PARAMS "voxtts.params_json"
#define VOX_GGUF_KEY_TEKKEN "voxtts.tekken_json"
#define VOX_GGUF_KEY_TYPE_MIX "voxtts.type_mix"
#define VOX_GGUF_KEY_SOURCE "voxtts.source"
/* Tensor name prefix of an embedded preset voice. */
#define VOX_GGUF_VOICE_PREFIX "voice_embedding."

/* 1 when `path` is a readable regular file starting with the GGUF magic, else 0. */
int vox_path_is_gguf(const char *path);
/* The directory part of a file path ("." when it has none); malloc'd, NULL if out of memory. */
char *vox_path_dirname(const char *path);

/* Check that an opened GGUF is a voxtts model: architecture, format version and
 * params.json present (VOX_E_FORMAT, or VOX_E_UNSUPPORTED for a newer format
 * version; the message names the file and the key). */
int vox_gguf_model_check(const vox_gguf *g, vox_error *err);
/* params.json from voxtts.params_json. */
int vox_gguf_model_config(const vox_gguf *g, vox_config *cfg, vox_error *err);
/* The tokenizer: voxtts.tekken_json when present, else tekken.json beside the file. */
int vox_gguf_model_tekken(const vox_gguf *g, vox_tekken **out, vox_error *err);

/* Open `path`, check it with vox_gguf_model_check, and serve its tensors. */
int vox_source_open_gguf(const char *path, vox_source **out, vox_error *err);
/* The GGUF under a source made by vox_source_open_gguf; NULL for any other source. */
const vox_gguf *vox_source_gguf(const vox_source *s);

#endif
