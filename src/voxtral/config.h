/* config.h — the model's hyper-parameters, read from the official params.json.
 *
 * Nothing about the model's size is hard-coded anywhere else: every dimension
 * used by the loaders and the model comes from this struct (VOXTRAL.md §1.1).
 * Keys absent from the file take the reference code's defaults (n_decoding_steps 7,
 * acoustic norm_eps 1e-5).  Comma-separated "*_str" fields are parsed here. */
#ifndef VOX_VOXTRAL_CONFIG_H
#define VOX_VOXTRAL_CONFIG_H

#include <stdint.h>

#include "base/error.h"

#define VOX_MAX_CODEC_STAGES 16
#define VOX_MAX_VOICES 256

typedef struct vox_transformer_cfg {
    int dim, n_layers, head_dim, hidden_dim, n_heads, n_kv_heads;
    float norm_eps;
    double rope_theta;
} vox_transformer_cfg;

typedef struct vox_config {
    /* LLM backbone (top level of params.json) */
    vox_transformer_cfg llm;
    int vocab_size;
    int bos_token_id;       /* multimodal.bos_token_id (1) */
    int audio_token_id;     /* multimodal.audio_model_args.audio_token_id (24) */
    int begin_audio_token_id; /* (25) */

    /* audio codes (multimodal.audio_model_args) */
    int semantic_codebook_size;  /* 8192 */
    int acoustic_codebook_size;  /* 21 (FSQ levels) */
    int n_acoustic_codebook;     /* 36 */
    int n_codebooks;             /* 1 + n_acoustic_codebook (37) */
    int sampling_rate;           /* 24000 */
    double frame_rate;           /* 12.5 */

    /* flow-matching acoustic transformer (audio_model_args.acoustic_transformer_args) */
    vox_transformer_cfg acoustic;
    int acoustic_input_dim;      /* input_dim: size of the LLM hidden fed to llm_projection */
    int n_decoding_steps;        /* absent in the official file -> 7 */

    /* codec (multimodal.audio_tokenizer_args) */
    struct {
        int channels, sampling_rate, patch_size, patch_proj_kernel_size;
        int semantic_codebook_size, semantic_dim, acoustic_codebook_size, acoustic_dim;
        int conv_weight_norm, causal;
        int attn_sliding_window_size, half_attn_window_upon_downsampling;
        int dim, hidden_dim, head_dim, n_heads, n_kv_heads;
        float qk_norm_eps, norm_eps;
        int qk_norm, layer_scale;
        int n_stages;                                   /* entries in the *_str lists */
        int transformer_lengths[VOX_MAX_CODEC_STAGES];  /* decoder_transformer_lengths_str */
        int conv_kernels[VOX_MAX_CODEC_STAGES];         /* decoder_convs_kernels_str */
        int conv_strides[VOX_MAX_CODEC_STAGES];         /* decoder_convs_strides_str */
        int window[VOX_MAX_CODEC_STAGES];               /* derived attention window W per stage (§6.2) */
        int samples_per_frame;                          /* patch_size * prod(strides) = 1920 */
        int has_encoder_keys;                           /* any encoder_* key present */
        /* encoder (§7): encoder_{transformer_lengths,convs_kernels,convs_strides}_str
         * when present, else the decoder's lists reversed (official: 2,2,2,2 /
         * 4,4,4,3 / 2,2,2,1); stage i = transformer (window enc_window[i]) then conv */
        int enc_n_stages;
        int enc_transformer_lengths[VOX_MAX_CODEC_STAGES];
        int enc_conv_kernels[VOX_MAX_CODEC_STAGES];
        int enc_conv_strides[VOX_MAX_CODEC_STAGES];
        int enc_window[VOX_MAX_CODEC_STAGES];           /* 16, 8, 4, 2 */
    } codec;

    /* preset voice names, in params.json order (audio_tokenizer_args.voice) */
    int n_voices;
    char *voice_names[VOX_MAX_VOICES];
} vox_config;

int vox_config_load(const char *params_json_path, vox_config *cfg, vox_error *err);
/* Parse from memory (path used only in messages). */
int vox_config_parse(const char *json, size_t len, const char *path, vox_config *cfg,
                     vox_error *err);
void vox_config_free(vox_config *cfg);

/* Offsets of each codebook in the audio-embedding table (§4): codebook 0 -> 0,
 * acoustic k (1-based) -> (sem+2) + (ac+2)(k-1).  Also the padded table sizes. */
int vox_config_codebook_offset(const vox_config *cfg, int codebook);
int vox_config_audio_table_rows(const vox_config *cfg);   /* pad128(sem+2 + n_ac*(ac+2)) = 9088 */
int vox_config_semantic_head_rows(const vox_config *cfg); /* pad128(sem+2) = 8320 */

#endif
