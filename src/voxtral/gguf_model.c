/* gguf_model.c — reading a voxtts model stored as one GGUF file.
 *
 * Container layout, format version 1 (written by voxtts_quantize, src/convert/quantize.c):
 *
 *   GGUF v3, alignment 32 (ggml's default), little-endian.
 *   Metadata:
 *     general.architecture   string  "voxtral_tts"       required; anything else is
 *                                                          rejected as "not a voxtts model"
 *     voxtts.format_version  u32     1                   required; a higher number is a
 *                                                          layout this build does not know
 *     voxtts.params_json     string  params.json, byte for byte       required
 *     voxtts.tekken_json     string  tekken.json, byte for byte       optional: without it
 *                                    the tokenizer is DIR/tekken.json, DIR = the file's directory
 *     voxtts.type_mix        string  the weight types, as vox_type_mix_format writes them
 *                                    ("backbone=q8_0,acoustic=q8_0,...,embeddings=stored")
 *     voxtts.source          string  what the file was made from (informative)
 *   Tensors (shape outermost first as everywhere in voxtts; in the file, ggml's ne order):
 *     every tensor of the official checkpoint under its official name (docs/MODEL.md §1.2),
 *     each in F32, F16, BF16, Q8_0 or Q4_K (which one is the type mix's choice; tensors
 *     outside the mix keep the checkpoint's dtype);
 *     voice_embedding.<name>  [N, dim]  a preset voice (§1.4), BF16 as written by quantize,
 *                                        optional: a voice not in the file is read from
 *                                        DIR/voice_embedding/<name>.pt.
 *
 * The text files are embedded verbatim so that the GGUF is parsed by exactly the code
 * that parses the official files (config.c, tekken.c): there is one source of truth
 * for every hyper-parameter, and a GGUF can be turned back into the official layout.
 *
 * The tensor source serves the mapped tensors as views (no copy): quantized
 * matrices are used in place by the kernels. */
#include "voxtral/gguf_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int vox_path_is_gguf(const char *path) {
    if (!path) return 0;
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[4];
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    return got == sizeof magic && memcmp(magic, "GGUF", 4) == 0;
}

char *vox_path_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

int vox_gguf_model_check(const vox_gguf *g, vox_error *err) {
    const char *path = vox_gguf_path(g);
    vox_gguf_str arch;
    if (vox_gguf_find_key(g, VOX_GGUF_KEY_ARCH) < 0)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: not a voxtts model: metadata key '%s' is missing (expected \"%s\")", path,
                        VOX_GGUF_KEY_ARCH, VOX_GGUF_ARCH);
    int rc = vox_gguf_get_str(g, VOX_GGUF_KEY_ARCH, &arch, err);
    if (rc) return rc;
    if (arch.len != strlen(VOX_GGUF_ARCH) || memcmp(arch.ptr, VOX_GGUF_ARCH, arch.len) != 0)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: not a voxtts model: metadata '%s' is \"%.*s\", expected \"%s\"", path,
                        VOX_GGUF_KEY_ARCH, (int)(arch.len > 64 ? 64 : arch.len), arch.ptr,
                        VOX_GGUF_ARCH);
    if (vox_gguf_find_key(g, VOX_GGUF_KEY_VERSION) < 0)
        return vox_fail(err, VOX_E_FORMAT, "%s: metadata key '%s' is missing", path,
                        VOX_GGUF_KEY_VERSION);
    int64_t version;
    if ((rc = vox_gguf_get_int(g, VOX_GGUF_KEY_VERSION, &version, err))) return rc;
    if (version != (int64_t)VOX_GGUF_FORMAT_VERSION)
        return vox_fail(err, VOX_E_UNSUPPORTED,
                        "%s: metadata '%s' is %lld; this build reads voxtts GGUF version %u", path,
                        VOX_GGUF_KEY_VERSION, (long long)version, VOX_GGUF_FORMAT_VERSION);
    if (vox_gguf_find_key(g, VOX_GGUF_KEY_PARAMS) < 0)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: metadata key '%s' (the model's params.json) is missing", path,
                        VOX_GGUF_KEY_PARAMS);
    return VOX_OK;
}

/* "FILE:KEY", for messages about embedded text. */
static char *key_label(const vox_gguf *g, const char *key) {
    const char *path = vox_gguf_path(g);
    size_t n = strlen(path) + strlen(key) + 2;
    char *l = malloc(n);
    if (l) snprintf(l, n, "%s:%s", path, key);
    return l;
}

int vox_gguf_model_config(const vox_gguf *g, vox_config *cfg, vox_error *err) {
    vox_gguf_str s;
    int rc = vox_gguf_get_str(g, VOX_GGUF_KEY_PARAMS, &s, err);
    if (rc) return rc;
    char *label = key_label(g, VOX_GGUF_KEY_PARAMS);
    if (!label) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    rc = vox_config_parse(s.ptr, s.len, label, cfg, err);
    free(label);
    return rc;
}

int vox_gguf_model_tekken(const vox_gguf *g, vox_tekken **out, vox_error *err) {
    *out = NULL;
    int rc;
    if (vox_gguf_find_key(g, VOX_GGUF_KEY_TEKKEN) >= 0) {
        vox_gguf_str s;
        if ((rc = vox_gguf_get_str(g, VOX_GGUF_KEY_TEKKEN, &s, err))) return rc;
        char *label = key_label(g, VOX_GGUF_KEY_TEKKEN);
        if (!label) return vox_fail(err, VOX_E_NOMEM, "out of memory");
        rc = vox_tekken_load_buffer(s.ptr, s.len, label, out, err);
        free(label);
        return rc;
    }
    /* Not embedded: the tokenizer must sit beside the file. */
    char *dir = vox_path_dirname(vox_gguf_path(g));
    size_t n = dir ? strlen(dir) + 16 : 0;
    char *path = dir ? malloc(n) : NULL;
    if (!path) {
        free(dir);
        return vox_fail(err, VOX_E_NOMEM, "out of memory");
    }
    snprintf(path, n, "%s/tekken.json", dir);
    free(dir);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        rc = vox_fail(err, VOX_E_MISSING,
                      "%s has no embedded tokenizer (metadata '%s') and %s is missing: %s",
                      vox_gguf_path(g), VOX_GGUF_KEY_TEKKEN, path, strerror(errno));
    } else {
        rc = vox_tekken_load(path, out, err);
    }
    free(path);
    return rc;
}

/* ---- the tensor source ---------------------------------------------------- */

static int gg_expect(void *impl, const char *name, int ndim, const int64_t *shape,
                     const vox_tensor **out, vox_error *err) {
    return vox_gguf_expect(impl, name, ndim, shape, out, err);
}
static const vox_tensor *gg_find(void *impl, const char *name) { return vox_gguf_find(impl, name); }
static void gg_close(void *impl) { vox_gguf_close(impl); }

static const vox_source_ops gguf_ops = {gg_expect, gg_find, gg_close, vox_source_release_mapped};

int vox_source_open_gguf(const char *path, vox_source **out, vox_error *err) {
    *out = NULL;
    vox_gguf *g = NULL;
    int rc = vox_gguf_open(path, &g, err);
    if (rc) return rc;
    if ((rc = vox_gguf_model_check(g, err))) {
        vox_gguf_close(g);
        return rc;
    }
    return vox_source_new(&gguf_ops, g, path, out, err);
}

const vox_gguf *vox_source_gguf(const vox_source *s) {
    return s && s->ops == &gguf_ops ? s->impl : NULL;
}
