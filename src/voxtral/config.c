/* config.c — reading the model's hyper-parameters from params.json (docs/MODEL.md §1.1).
 *
 * Every field the engine uses is read here and nowhere else, with its full key
 * path in error messages ("params.json: missing multimodal.audio_model_args.
 * n_acoustic_codebook").  Keys the official file omits take the reference
 * code's defaults (acoustic n_decoding_steps 7, acoustic norm_eps 1e-5).  The
 * codec's per-stage lists arrive as comma-separated strings ("2,2,2,2") and the
 * per-stage attention windows are derived from them (§6.2).  Training-only keys
 * are ignored, except use_biases, which must not be true: no bias tensors exist. */
#include "voxtral/config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cctx {
    const char *path; /* file name for messages */
    vox_error *err;
} cctx;

/* "a.b" + "c" -> "a.b.c" for messages. */
static const char *key_path(char *buf, size_t cap, const char *parent, const char *key) {
    snprintf(buf, cap, "%s%s%s", parent, *parent ? "." : "", key);
    return buf;
}

static int missing(cctx *c, const char *parent, const char *key) {
    char kp[256];
    return vox_fail(c->err, VOX_E_MISSING, "%s: missing %s", c->path,
                    key_path(kp, sizeof kp, parent, key));
}

static int wrong_type(cctx *c, const char *parent, const char *key, const char *want) {
    char kp[256];
    return vox_fail(c->err, VOX_E_FORMAT, "%s: %s must be %s", c->path,
                    key_path(kp, sizeof kp, parent, key), want);
}

static int get_obj(cctx *c, const cJSON *o, const char *parent, const char *key,
                   const cJSON **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return missing(c, parent, key);
    if (!cJSON_IsObject(v)) return wrong_type(c, parent, key, "an object");
    *out = v;
    return VOX_OK;
}

/* An integer; when `required` is 0 an absent key gives `def`. */
static int get_int(cctx *c, const cJSON *o, const char *parent, const char *key, int required,
                   int def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (required) return missing(c, parent, key);
        *out = def;
        return VOX_OK;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : 0.5;
    /* range first: converting an out-of-range double to int is undefined */
    if (!(d >= -2147483648.0 && d <= 2147483647.0) || d != (double)(int)d)
        return wrong_type(c, parent, key, "an integer");
    *out = (int)d;
    return VOX_OK;
}

static int get_pos_int(cctx *c, const cJSON *o, const char *parent, const char *key, int *out) {
    int rc = get_int(c, o, parent, key, 1, 0, out);
    if (rc == VOX_OK && *out <= 0) {
        char kp[256];
        return vox_fail(c->err, VOX_E_FORMAT, "%s: %s must be positive (got %d)", c->path,
                        key_path(kp, sizeof kp, parent, key), *out);
    }
    return rc;
}

static int get_num(cctx *c, const cJSON *o, const char *parent, const char *key, int required,
                   double def, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (required) return missing(c, parent, key);
        *out = def;
        return VOX_OK;
    }
    if (!cJSON_IsNumber(v)) return wrong_type(c, parent, key, "a number");
    *out = v->valuedouble;
    return VOX_OK;
}

static int get_pos_num(cctx *c, const cJSON *o, const char *parent, const char *key, int required,
                       double def, double *out) {
    int rc = get_num(c, o, parent, key, required, def, out);
    if (rc == VOX_OK && !(*out > 0.0)) {
        char kp[256];
        return vox_fail(c->err, VOX_E_FORMAT, "%s: %s must be positive (got %g)", c->path,
                        key_path(kp, sizeof kp, parent, key), *out);
    }
    return rc;
}

static int get_bool(cctx *c, const cJSON *o, const char *parent, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return missing(c, parent, key);
    if (!cJSON_IsBool(v)) return wrong_type(c, parent, key, "true or false");
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return VOX_OK;
}

/* Optional "use_biases": the checkpoint has no bias tensors, so true is unservable. */
static int check_no_biases(cctx *c, const cJSON *o, const char *parent) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "use_biases");
    if (!v) return VOX_OK;
    if (!cJSON_IsBool(v)) return wrong_type(c, parent, "use_biases", "true or false");
    if (cJSON_IsTrue(v)) {
        char kp[256];
        return vox_fail(c->err, VOX_E_UNSUPPORTED, "%s: %s is true; models with biases are not supported",
                        c->path, key_path(kp, sizeof kp, parent, "use_biases"));
    }
    return VOX_OK;
}

/* dim, n_layers, head_dim, hidden_dim, n_heads, n_kv_heads (+ GQA divisibility). */
static int get_transformer(cctx *c, const cJSON *o, const char *parent, vox_transformer_cfg *t) {
    int rc;
    if ((rc = get_pos_int(c, o, parent, "dim", &t->dim)) ||
        (rc = get_pos_int(c, o, parent, "n_layers", &t->n_layers)) ||
        (rc = get_pos_int(c, o, parent, "head_dim", &t->head_dim)) ||
        (rc = get_pos_int(c, o, parent, "hidden_dim", &t->hidden_dim)) ||
        (rc = get_pos_int(c, o, parent, "n_heads", &t->n_heads)) ||
        (rc = get_pos_int(c, o, parent, "n_kv_heads", &t->n_kv_heads)))
        return rc;
    if (t->n_heads % t->n_kv_heads != 0)
        return vox_fail(c->err, VOX_E_FORMAT, "%s: %s%sn_heads (%d) is not a multiple of n_kv_heads (%d)",
                        c->path, parent, *parent ? "." : "", t->n_heads, t->n_kv_heads);
    return check_no_biases(c, o, parent);
}

/* "3,4,4,4" -> {3,4,4,4}; entries must be integers >= min_value. */
static int get_int_list(cctx *c, const cJSON *o, const char *parent, const char *key,
                        int min_value, int *out, int *n) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return missing(c, parent, key);
    if (!cJSON_IsString(v)) return wrong_type(c, parent, key, "a comma-separated string");
    char kp[256];
    key_path(kp, sizeof kp, parent, key);
    const char *s = v->valuestring;
    *n = 0;
    for (;;) {
        while (*s == ' ') s++;
        if (*s < '0' || *s > '9') goto bad;
        long x = 0;
        while (*s >= '0' && *s <= '9') {
            x = x * 10 + (*s++ - '0');
            if (x > 1000000) goto bad;
        }
        while (*s == ' ') s++;
        if (x < min_value) goto bad;
        if (*n >= VOX_MAX_CODEC_STAGES)
            return vox_fail(c->err, VOX_E_UNSUPPORTED, "%s: %s has more than %d entries", c->path,
                            kp, VOX_MAX_CODEC_STAGES);
        out[(*n)++] = (int)x;
        if (*s == '\0') return VOX_OK;
        if (*s++ != ',') goto bad;
    }
bad:
    return vox_fail(c->err, VOX_E_FORMAT,
                    "%s: %s \"%.80s\" is not a comma-separated list of integers >= %d", c->path, kp,
                    v->valuestring, min_value);
}

/* A preset name becomes part of a file name (voice_embedding/<name>.pt). */
static int voice_name_ok(const char *s) {
    if (!s[0] || s[0] == '.' || strlen(s) > 128) return 0;
    for (const char *p = s; *p; p++)
        if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20) return 0;
    return 1;
}

typedef struct voice_ix {
    const char *name;
    int index;
} voice_ix;

static int get_voices(cctx *c, const cJSON *o, const char *parent, vox_config *cfg) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "voice");
    if (!v) return VOX_OK; /* a model without presets can still clone voices */
    char kp[256];
    key_path(kp, sizeof kp, parent, "voice");
    int n = cJSON_GetArraySize(v);
    if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
        return wrong_type(c, parent, "voice", "an object {name: index} or an array of names");
    if (n > VOX_MAX_VOICES)
        return vox_fail(c->err, VOX_E_UNSUPPORTED, "%s: %s lists %d voices; at most %d supported",
                        c->path, kp, n, VOX_MAX_VOICES);
    voice_ix list[VOX_MAX_VOICES];
    int k = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (cJSON_IsObject(v)) {
            list[k].name = e->string;
            double d = cJSON_IsNumber(e) ? e->valuedouble : -1.0;
            if (!(d >= 0 && d <= 1e9) || d != (double)(int)d)
                return vox_fail(c->err, VOX_E_FORMAT,
                                "%s: %s: the index of voice '%.64s' is not a non-negative integer",
                                c->path, kp, e->string);
            list[k].index = (int)d;
        } else {
            if (!cJSON_IsString(e))
                return vox_fail(c->err, VOX_E_FORMAT, "%s: %s: entry %d is not a string", c->path,
                                kp, k);
            list[k].name = e->valuestring;
            list[k].index = k;
        }
        if (!voice_name_ok(list[k].name))
            return vox_fail(c->err, VOX_E_FORMAT, "%s: %s: invalid voice name '%.64s'", c->path, kp,
                            list[k].name);
        k++;
    }
    /* Order by index (insertion sort: stable, n <= 256). */
    for (int i = 1; i < k; i++) {
        voice_ix x = list[i];
        int j = i;
        while (j > 0 && list[j - 1].index > x.index) {
            list[j] = list[j - 1];
            j--;
        }
        list[j] = x;
    }
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < i; j++) {
            if (strcmp(list[i].name, list[j].name) == 0)
                return vox_fail(c->err, VOX_E_FORMAT, "%s: %s: voice '%s' is listed twice", c->path,
                                kp, list[i].name);
        }
        if (i > 0 && list[i].index == list[i - 1].index)
            return vox_fail(c->err, VOX_E_FORMAT, "%s: %s: voices '%s' and '%s' share index %d",
                            c->path, kp, list[i - 1].name, list[i].name, list[i].index);
    }
    for (int i = 0; i < k; i++) {
        cfg->voice_names[i] = strdup(list[i].name);
        if (!cfg->voice_names[i])
            return vox_fail(c->err, VOX_E_NOMEM, "%s: out of memory", c->path);
        cfg->n_voices = i + 1;
    }
    return VOX_OK;
}

/* Attention window of each decoder transformer stage (docs/MODEL.md §6.2): the
 * encoder starts at attn_sliding_window_size and halves at every downsampling
 * conv (stride > 1); the decoder mirrors it, so its first stage gets the
 * encoder's last window and each upsampling conv (stride > 1) before a stage
 * doubles it.  Official strides 1,2,2,2 with 16 -> 2, 4, 8, 16. */
static int derive_windows(cctx *c, vox_config *cfg) {
    int n = cfg->codec.n_stages, w = cfg->codec.attn_sliding_window_size;
    int halve = cfg->codec.half_attn_window_upon_downsampling;
    if (halve)
        for (int i = 0; i < n; i++)
            if (cfg->codec.conv_strides[i] > 1) w /= 2;
    if (w < 1)
        return vox_fail(c->err, VOX_E_FORMAT,
                        "%s: multimodal.audio_tokenizer_args.attn_sliding_window_size %d is too "
                        "small to halve at every stride > 1",
                        c->path, cfg->codec.attn_sliding_window_size);
    for (int i = 0; i < n; i++) {
        if (halve && cfg->codec.conv_strides[i] > 1) w *= 2;
        cfg->codec.window[i] = w;
    }
    return VOX_OK;
}

/* The encoder's stages (docs/MODEL.md §7): each encoder_*_str list when params.json
 * has it, else the decoder's list reversed (which gives VO's defaults 2,2,2,2 /
 * 4,4,4,3 / 2,2,2,1 for the official decoder).  Its window starts at
 * attn_sliding_window_size and halves after every stride > 1 conv; its strides
 * must make the same frame as the decoder's. */
static int derive_encoder(cctx *c, const cJSON *tk, vox_config *cfg) {
    static const char *keys[3] = {"encoder_transformer_lengths_str", "encoder_convs_kernels_str",
                                  "encoder_convs_strides_str"};
    const char *TK = "multimodal.audio_tokenizer_args";
    int *lists[3] = {cfg->codec.enc_transformer_lengths, cfg->codec.enc_conv_kernels,
                     cfg->codec.enc_conv_strides};
    const int *dec[3] = {cfg->codec.transformer_lengths, cfg->codec.conv_kernels,
                         cfg->codec.conv_strides};
    const int n = cfg->codec.n_stages;
    int counts[3], rc;
    for (int k = 0; k < 3; k++) {
        if (cJSON_GetObjectItemCaseSensitive(tk, keys[k])) {
            if ((rc = get_int_list(c, tk, TK, keys[k], k == 0 ? 0 : 1, lists[k], &counts[k])))
                return rc;
        } else {
            for (int i = 0; i < n; i++) lists[k][i] = dec[k][n - 1 - i];
            counts[k] = n;
        }
    }
    if (counts[0] != counts[1] || counts[0] != counts[2])
        return vox_fail(c->err, VOX_E_FORMAT,
                        "%s: %s: the encoder's transformer lengths, conv kernels and conv strides "
                        "have %d, %d and %d entries (must be equal; a missing encoder_*_str is the "
                        "decoder's list reversed)", c->path, TK, counts[0], counts[1], counts[2]);
    cfg->codec.enc_n_stages = counts[0];
    long long prod = 1;
    int w = cfg->codec.attn_sliding_window_size;
    for (int i = 0; i < cfg->codec.enc_n_stages; i++) {
        const int s = cfg->codec.enc_conv_strides[i];
        cfg->codec.enc_window[i] = w;
        if (s > 1 && cfg->codec.half_attn_window_upon_downsampling) w /= 2;
        if (cfg->codec.enc_conv_kernels[i] < s)
            return vox_fail(c->err, VOX_E_FORMAT, "%s: %s: encoder conv %d has kernel %d < stride %d",
                            c->path, TK, i, cfg->codec.enc_conv_kernels[i], s);
        prod *= s;
        if (prod > 1000000000LL)
            return vox_fail(c->err, VOX_E_FORMAT, "%s: %s: the encoder's strides overflow", c->path, TK);
    }
    long long up = 1;
    for (int i = 0; i < n; i++) up *= cfg->codec.conv_strides[i];
    if (prod != up)
        return vox_fail(c->err, VOX_E_FORMAT,
                        "%s: %s: the encoder's strides downsample by %lld, the decoder's upsample by "
                        "%lld (must be equal)", c->path, TK, prod, up);
    if (cfg->codec.enc_n_stages > 0 && w < 1)
        return vox_fail(c->err, VOX_E_FORMAT,
                        "%s: %s.attn_sliding_window_size %d is too small to halve at every encoder "
                        "stride > 1", c->path, TK, cfg->codec.attn_sliding_window_size);
    return VOX_OK;
}

static int parse_root(cctx *c, const cJSON *root, vox_config *cfg) {
    int rc;
    double d;
    if (!cJSON_IsObject(root))
        return vox_fail(c->err, VOX_E_FORMAT, "%s: top level is not a JSON object", c->path);

    /* LLM backbone (top level) */
    if ((rc = get_transformer(c, root, "", &cfg->llm))) return rc;
    if ((rc = get_pos_num(c, root, "", "norm_eps", 1, 0, &d))) return rc;
    cfg->llm.norm_eps = (float)d;
    if ((rc = get_pos_num(c, root, "", "rope_theta", 1, 0, &cfg->llm.rope_theta))) return rc;
    if ((rc = get_pos_int(c, root, "", "vocab_size", &cfg->vocab_size))) return rc;
    if ((rc = get_int(c, root, "", "max_seq_len", 0, 0, &cfg->max_seq_len))) return rc;
    if (cfg->max_seq_len < 0)
        return vox_fail(c->err, VOX_E_FORMAT, "%s: max_seq_len must not be negative (got %d)",
                        c->path, cfg->max_seq_len);

    const cJSON *mm, *am, *enc, *at, *tk;
    const char *MM = "multimodal", *AM = "multimodal.audio_model_args",
               *ENC = "multimodal.audio_model_args.audio_encoding_args",
               *AT = "multimodal.audio_model_args.acoustic_transformer_args",
               *TK = "multimodal.audio_tokenizer_args";
    if ((rc = get_obj(c, root, "", "multimodal", &mm))) return rc;
    if ((rc = get_int(c, mm, MM, "bos_token_id", 1, 0, &cfg->bos_token_id))) return rc;
    if ((rc = get_obj(c, mm, MM, "audio_model_args", &am))) return rc;

    /* audio codes */
    if ((rc = get_pos_int(c, am, AM, "semantic_codebook_size", &cfg->semantic_codebook_size)) ||
        (rc = get_pos_int(c, am, AM, "acoustic_codebook_size", &cfg->acoustic_codebook_size)) ||
        (rc = get_pos_int(c, am, AM, "n_acoustic_codebook", &cfg->n_acoustic_codebook)) ||
        (rc = get_int(c, am, AM, "audio_token_id", 1, 0, &cfg->audio_token_id)) ||
        (rc = get_int(c, am, AM, "begin_audio_token_id", 1, 0, &cfg->begin_audio_token_id)))
        return rc;
    cfg->n_codebooks = 1 + cfg->n_acoustic_codebook;
    const int *ids[3] = {&cfg->bos_token_id, &cfg->audio_token_id, &cfg->begin_audio_token_id};
    const char *id_keys[3] = {"multimodal.bos_token_id", "multimodal.audio_model_args.audio_token_id",
                              "multimodal.audio_model_args.begin_audio_token_id"};
    for (int i = 0; i < 3; i++)
        if (*ids[i] < 0 || *ids[i] >= cfg->vocab_size)
            return vox_fail(c->err, VOX_E_FORMAT, "%s: %s %d is outside the vocabulary (%d)",
                            c->path, id_keys[i], *ids[i], cfg->vocab_size);
    if ((rc = get_obj(c, am, AM, "audio_encoding_args", &enc))) return rc;
    if ((rc = get_pos_int(c, enc, ENC, "sampling_rate", &cfg->sampling_rate))) return rc;
    if ((rc = get_pos_num(c, enc, ENC, "frame_rate", 1, 0, &cfg->frame_rate))) return rc;
    int num_cb;
    if ((rc = get_int(c, enc, ENC, "num_codebooks", 0, cfg->n_codebooks, &num_cb))) return rc;
    if (num_cb != cfg->n_codebooks)
        return vox_fail(c->err, VOX_E_FORMAT,
                        "%s: %s.num_codebooks is %d but 1 + n_acoustic_codebook is %d", c->path,
                        ENC, num_cb, cfg->n_codebooks);

    /* flow-matching acoustic transformer */
    if ((rc = get_obj(c, am, AM, "acoustic_transformer_args", &at))) return rc;
    if ((rc = get_transformer(c, at, AT, &cfg->acoustic))) return rc;
    if ((rc = get_pos_int(c, at, AT, "input_dim", &cfg->acoustic_input_dim))) return rc;
    if ((rc = get_pos_num(c, at, AT, "norm_eps", 0, 1e-5, &d))) return rc;
    cfg->acoustic.norm_eps = (float)d;
    /* inert (the acoustic transformer has no RoPE, §1.1) but kept for completeness */
    if ((rc = get_pos_num(c, at, AT, "rope_theta", 0, 10000.0, &cfg->acoustic.rope_theta))) return rc;
    if ((rc = get_int(c, at, AT, "n_decoding_steps", 0, 7, &cfg->n_decoding_steps))) return rc;
    if (cfg->n_decoding_steps <= 0)
        return vox_fail(c->err, VOX_E_FORMAT, "%s: %s.n_decoding_steps must be positive", c->path, AT);

    /* codec */
    if ((rc = get_obj(c, mm, MM, "audio_tokenizer_args", &tk))) return rc;
    if ((rc = get_pos_int(c, tk, TK, "channels", &cfg->codec.channels)) ||
        (rc = get_pos_int(c, tk, TK, "sampling_rate", &cfg->codec.sampling_rate)) ||
        (rc = get_pos_int(c, tk, TK, "pretransform_patch_size", &cfg->codec.patch_size)) ||
        (rc = get_pos_int(c, tk, TK, "patch_proj_kernel_size", &cfg->codec.patch_proj_kernel_size)) ||
        (rc = get_pos_int(c, tk, TK, "semantic_codebook_size", &cfg->codec.semantic_codebook_size)) ||
        (rc = get_pos_int(c, tk, TK, "semantic_dim", &cfg->codec.semantic_dim)) ||
        (rc = get_pos_int(c, tk, TK, "acoustic_codebook_size", &cfg->codec.acoustic_codebook_size)) ||
        (rc = get_pos_int(c, tk, TK, "acoustic_dim", &cfg->codec.acoustic_dim)) ||
        (rc = get_bool(c, tk, TK, "conv_weight_norm", &cfg->codec.conv_weight_norm)) ||
        (rc = get_bool(c, tk, TK, "causal", &cfg->codec.causal)) ||
        (rc = get_pos_int(c, tk, TK, "attn_sliding_window_size", &cfg->codec.attn_sliding_window_size)) ||
        (rc = get_bool(c, tk, TK, "half_attn_window_upon_downsampling",
                       &cfg->codec.half_attn_window_upon_downsampling)) ||
        (rc = get_pos_int(c, tk, TK, "dim", &cfg->codec.dim)) ||
        (rc = get_pos_int(c, tk, TK, "hidden_dim", &cfg->codec.hidden_dim)) ||
        (rc = get_pos_int(c, tk, TK, "head_dim", &cfg->codec.head_dim)) ||
        (rc = get_pos_int(c, tk, TK, "n_heads", &cfg->codec.n_heads)) ||
        (rc = get_pos_int(c, tk, TK, "n_kv_heads", &cfg->codec.n_kv_heads)) ||
        (rc = get_bool(c, tk, TK, "qk_norm", &cfg->codec.qk_norm)) ||
        (rc = get_bool(c, tk, TK, "layer_scale", &cfg->codec.layer_scale)) ||
        (rc = check_no_biases(c, tk, TK)))
        return rc;
    if ((rc = get_pos_num(c, tk, TK, "qk_norm_eps", 1, 0, &d))) return rc;
    cfg->codec.qk_norm_eps = (float)d;
    if ((rc = get_pos_num(c, tk, TK, "norm_eps", 1, 0, &d))) return rc;
    cfg->codec.norm_eps = (float)d;
    if (cfg->codec.n_heads % cfg->codec.n_kv_heads != 0)
        return vox_fail(c->err, VOX_E_FORMAT,
                        "%s: %s.n_heads (%d) is not a multiple of n_kv_heads (%d)", c->path, TK,
                        cfg->codec.n_heads, cfg->codec.n_kv_heads);

    int nl, nk, ns;
    if ((rc = get_int_list(c, tk, TK, "decoder_transformer_lengths_str", 0,
                           cfg->codec.transformer_lengths, &nl)) ||
        (rc = get_int_list(c, tk, TK, "decoder_convs_kernels_str", 1, cfg->codec.conv_kernels, &nk)) ||
        (rc = get_int_list(c, tk, TK, "decoder_convs_strides_str", 1, cfg->codec.conv_strides, &ns)))
        return rc;
    if (nl != nk || nl != ns)
        return vox_fail(c->err, VOX_E_FORMAT,
                        "%s: %s: decoder_transformer_lengths_str, decoder_convs_kernels_str and "
                        "decoder_convs_strides_str have %d, %d and %d entries (must be equal)",
                        c->path, TK, nl, nk, ns);
    cfg->codec.n_stages = nl;
    if ((rc = derive_windows(c, cfg))) return rc;
    if ((rc = derive_encoder(c, tk, cfg))) return rc;
    long long spf = cfg->codec.patch_size;
    for (int i = 0; i < ns; i++) {
        spf *= cfg->codec.conv_strides[i];
        if (spf > 1000000000LL)
            return vox_fail(c->err, VOX_E_FORMAT, "%s: %s: samples per frame overflow", c->path, TK);
    }
    cfg->codec.samples_per_frame = (int)spf;

    if (cfg->codec.sampling_rate != cfg->sampling_rate)
        return vox_fail(c->err, VOX_E_FORMAT,
                        "%s: %s.sampling_rate (%d) differs from %s.sampling_rate (%d)", c->path, TK,
                        cfg->codec.sampling_rate, ENC, cfg->sampling_rate);
    /* the codec and the code generator must agree on the code layout */
    if (cfg->codec.semantic_codebook_size != cfg->semantic_codebook_size ||
        cfg->codec.acoustic_codebook_size != cfg->acoustic_codebook_size ||
        cfg->codec.acoustic_dim != cfg->n_acoustic_codebook)
        return vox_fail(c->err, VOX_E_FORMAT,
                        "%s: codebooks disagree: audio_model_args has semantic %d / acoustic %d x %d, "
                        "audio_tokenizer_args has semantic %d / acoustic %d x %d",
                        c->path, cfg->semantic_codebook_size, cfg->n_acoustic_codebook,
                        cfg->acoustic_codebook_size, cfg->codec.semantic_codebook_size,
                        cfg->codec.acoustic_dim, cfg->codec.acoustic_codebook_size);

    const cJSON *e;
    cJSON_ArrayForEach(e, tk) {
        if (e->string && strncmp(e->string, "encoder_", 8) == 0) cfg->codec.has_encoder_keys = 1;
    }
    return get_voices(c, tk, TK, cfg);
}

void vox_config_free(vox_config *cfg) {
    if (!cfg) return;
    for (int i = 0; i < cfg->n_voices && i < VOX_MAX_VOICES; i++) free(cfg->voice_names[i]);
    memset(cfg, 0, sizeof *cfg);
}

int vox_config_parse(const char *json, size_t len, const char *path, vox_config *cfg,
                     vox_error *err) {
    if (!path) path = "params.json";
    if (!cfg) return vox_fail(err, VOX_E_ARG, "%s: cfg is NULL", path);
    memset(cfg, 0, sizeof *cfg);
    if (!json) return vox_fail(err, VOX_E_ARG, "%s: no JSON text", path);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        return vox_fail(err, VOX_E_FORMAT, "%s: invalid JSON near byte %zu", path, at);
    }
    for (const char *q = end; q < json + len; q++) {
        if (*q != ' ' && *q != '\n' && *q != '\r' && *q != '\t' && *q != '\0') {
            cJSON_Delete(root);
            return vox_fail(err, VOX_E_FORMAT, "%s: garbage after the JSON value (byte %zu)", path,
                            (size_t)(q - json));
        }
    }
    cctx c = {path, err};
    int rc = parse_root(&c, root, cfg);
    cJSON_Delete(root);
    if (rc) vox_config_free(cfg);
    return rc;
}

int vox_config_load(const char *params_json_path, vox_config *cfg, vox_error *err) {
    if (cfg) memset(cfg, 0, sizeof *cfg);
    if (!params_json_path) return vox_fail(err, VOX_E_ARG, "vox_config_load: path is NULL");
    FILE *f = fopen(params_json_path, "rb");
    if (!f)
        return vox_fail(err, VOX_E_IO, "%s: cannot open: %s", params_json_path, strerror(errno));
    size_t cap = 1 << 14, len = 0;
    char *buf = malloc(cap);
    int rc = VOX_OK;
    while (buf) {
        if (len == cap) {
            if (cap >= ((size_t)16 << 20)) {
                rc = vox_fail(err, VOX_E_FORMAT, "%s: implausibly large (over 16 MiB)",
                              params_json_path);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (!buf) rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory", params_json_path);
    else if (rc == VOX_OK && ferror(f))
        rc = vox_fail(err, VOX_E_IO, "%s: read error", params_json_path);
    fclose(f);
    if (rc == VOX_OK) rc = vox_config_parse(buf, len, params_json_path, cfg, err);
    free(buf);
    return rc;
}

static int pad128(int n) { return (n + 127) / 128 * 128; }

int vox_config_codebook_offset(const vox_config *cfg, int codebook) {
    /* §4: sizes with the two special codes are [sem+2, ac+2, ac+2, ...]; offsets
     * are their exclusive cumulative sum (unpadded). */
    if (!cfg || codebook < 0 || codebook > cfg->n_acoustic_codebook) return -1;
    if (codebook == 0) return 0;
    return (cfg->semantic_codebook_size + 2) + (cfg->acoustic_codebook_size + 2) * (codebook - 1);
}

int vox_config_audio_table_rows(const vox_config *cfg) {
    if (!cfg) return 0;
    return pad128(cfg->semantic_codebook_size + 2 +
                  cfg->n_acoustic_codebook * (cfg->acoustic_codebook_size + 2));
}

int vox_config_semantic_head_rows(const vox_config *cfg) {
    if (!cfg) return 0;
    return pad128(cfg->semantic_codebook_size + 2);
}
