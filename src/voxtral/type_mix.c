/* type_mix.c — weight components and quantization type mixes (see type_mix.h). */
#include "voxtral/type_mix.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const component_names[VOX_N_COMPONENTS] = {
    "backbone", "acoustic", "heads", "codec", "embeddings", "other",
};

const char *vox_component_name(vox_component c) {
    return c >= 0 && c < VOX_N_COMPONENTS ? component_names[c] : "?";
}

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }
static int ends(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

vox_component vox_tensor_component(const char *name) {
    if (starts(name, "mm_audio_embeddings.")) return VOX_COMP_EMBEDDINGS;
    if (starts(name, "layers.")) return VOX_COMP_BACKBONE;
    if (starts(name, "acoustic_transformer.")) {
        if (ends(name, "codebook_output.weight")) return VOX_COMP_HEADS;
        return VOX_COMP_ACOUSTIC;
    }
    /* codec: only the transformer layers' linear maps; convs, norms, scales and
     * the codebook stay as stored */
    if (starts(name, "audio_tokenizer.") && strstr(name, ".layers.") &&
        (strstr(name, ".attention.w") || strstr(name, ".feed_forward.w")))
        return VOX_COMP_CODEC;
    return VOX_COMP_OTHER;
}

int vox_dtype_parse(const char *s) {
    static const struct { const char *n; vox_dtype t; } k[] = {
        {"f32", VOX_F32}, {"f16", VOX_F16}, {"bf16", VOX_BF16}, {"q8_0", VOX_Q8_0}, {"q4_k", VOX_Q4_K},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (strcasecmp(s, k[i].n) == 0) return (int)k[i].t;
    return -1;
}

int vox_type_mix_parse(const char *spec, vox_type_mix *mix, vox_error *err) {
    memset(mix, 0, sizeof *mix);
    if (!spec || !*spec) return vox_fail(err, VOX_E_ARG, "empty weight type");
    if (strcasecmp(spec, "best") == 0) spec = VOX_TYPE_MIX_BEST;
    if (!strchr(spec, '=')) {
        int t = vox_dtype_parse(spec);
        if (t < 0)
            return vox_fail(err, VOX_E_ARG,
                            "unknown weight type '%s' (expected f32, f16, bf16, q8_0, q4_k, best, "
                            "or a list like backbone=q4_k,acoustic=q8_0)", spec);
        for (int c = 0; c < VOX_COMP_OTHER; c++) {
            mix->set[c] = 1;
            mix->type[c] = (vox_dtype)t;
        }
        return VOX_OK;
    }
    char buf[512];
    if (strlen(spec) >= sizeof buf) return vox_fail(err, VOX_E_ARG, "weight type list too long");
    strcpy(buf, spec);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) return vox_fail(err, VOX_E_ARG, "'%s' in the weight type list is not component=type", item);
        *eq = '\0';
        int c = -1;
        for (int i = 0; i < VOX_COMP_OTHER; i++)
            if (strcasecmp(item, component_names[i]) == 0) c = i;
        if (c < 0)
            return vox_fail(err, VOX_E_ARG,
                            "unknown component '%s' (expected backbone, acoustic, heads, codec, embeddings)",
                            item);
        int t = vox_dtype_parse(eq + 1);
        if (t < 0) return vox_fail(err, VOX_E_ARG, "unknown weight type '%s' for %s", eq + 1, item);
        mix->set[c] = 1;
        mix->type[c] = (vox_dtype)t;
    }
    return VOX_OK;
}

void vox_type_mix_format(const vox_type_mix *mix, char *buf, size_t len) {
    size_t pos = 0;
    buf[0] = '\0';
    for (int c = 0; c < VOX_COMP_OTHER && pos < len; c++) {
        int w = snprintf(buf + pos, len - pos, "%s%s=%s", pos ? "," : "", component_names[c],
                         mix->set[c] ? vox_dtype_name(mix->type[c]) : "stored");
        if (w < 0) break;
        pos += (size_t)w;
    }
}

static int64_t block_of(vox_dtype t) { return t == VOX_Q4_K ? 256 : t == VOX_Q8_0 ? 32 : 1; }

vox_dtype vox_type_mix_choose(const vox_type_mix *mix, const char *name, vox_dtype stored, int ndim,
                              const int64_t *shape) {
    vox_component c = vox_tensor_component(name);
    if (c == VOX_COMP_OTHER || !mix->set[c] || ndim != 2) return stored;
    vox_dtype t = mix->type[c];
    int64_t row = shape[1];
    if (t == VOX_Q4_K && row % 256 != 0) t = VOX_Q8_0;
    if (t == VOX_Q8_0 && row % block_of(VOX_Q8_0) != 0) t = VOX_F16;
    return t;
}
