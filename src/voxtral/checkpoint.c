/* checkpoint.c — enumerate the official checkpoint's tensors from params.json
 * (see checkpoint.h; names and shapes as docs/MODEL.md §1.2 and weights.c). */
#include "voxtral/checkpoint.h"

#include <stdio.h>

typedef struct walk {
    vox_ckpt_tensor_fn fn;
    void *user;
    char name[256];
} walk;

static int emit(walk *w, vox_ckpt_fill fill, int ndim, int64_t a, int64_t b, int64_t c) {
    vox_ckpt_tensor t = {w->name, ndim, {a, b, c}, fill};
    return w->fn(w->user, &t);
}

#define EMIT(w, fill, nd, a, b, c, ...)                               \
    do {                                                              \
        snprintf((w)->name, sizeof (w)->name, __VA_ARGS__);           \
        int rc_ = emit((w), (fill), (nd), (a), (b), (c));             \
        if (rc_) return rc_;                                          \
    } while (0)

const vox_block_tensor vox_block_tensors[VOX_BLOCK_TENSORS] = {
    {"attention.wq.weight", VOX_BP_MATRIX, 0, 2, VOX_BD_Q, VOX_BD_DIM, VOX_FILL_RANDOM},
    {"attention.wk.weight", VOX_BP_MATRIX, 1, 2, VOX_BD_KV, VOX_BD_DIM, VOX_FILL_RANDOM},
    {"attention.wv.weight", VOX_BP_MATRIX, 2, 2, VOX_BD_KV, VOX_BD_DIM, VOX_FILL_RANDOM},
    {"attention.wo.weight", VOX_BP_MATRIX, 3, 2, VOX_BD_DIM, VOX_BD_Q, VOX_FILL_RANDOM},
    {"attention_norm.weight", VOX_BP_NORM, 0, 1, VOX_BD_DIM, VOX_BD_DIM, VOX_FILL_ONES},
    {"feed_forward.w1.weight", VOX_BP_MATRIX, 4, 2, VOX_BD_HIDDEN, VOX_BD_DIM, VOX_FILL_RANDOM},
    {"feed_forward.w2.weight", VOX_BP_MATRIX, 5, 2, VOX_BD_DIM, VOX_BD_HIDDEN, VOX_FILL_RANDOM},
    {"feed_forward.w3.weight", VOX_BP_MATRIX, 6, 2, VOX_BD_HIDDEN, VOX_BD_DIM, VOX_FILL_RANDOM},
    {"ffn_norm.weight", VOX_BP_NORM, 1, 1, VOX_BD_DIM, VOX_BD_DIM, VOX_FILL_ONES},
    {"attention.q_norm.weight", VOX_BP_QK_NORM, 0, 1, VOX_BD_Q, VOX_BD_Q, VOX_FILL_ONES},
    {"attention.k_norm.weight", VOX_BP_QK_NORM, 1, 1, VOX_BD_KV, VOX_BD_KV, VOX_FILL_ONES},
    {"attention_scale", VOX_BP_LAYER_SCALE, 0, 1, VOX_BD_DIM, VOX_BD_DIM, VOX_FILL_LAYER_SCALE},
    {"ffn_scale", VOX_BP_LAYER_SCALE, 1, 1, VOX_BD_DIM, VOX_BD_DIM, VOX_FILL_LAYER_SCALE},
};

/* One pre-norm block (§3, §5.3, §6.4) from the shared table. */
static int block(walk *w, const char *prefix, int64_t dim, int64_t q, int64_t kv, int64_t hidden,
                 int qk_norm, int layer_scale) {
    for (int i = 0; i < VOX_BLOCK_TENSORS; i++) {
        const vox_block_tensor *t = &vox_block_tensors[i];
        if (!vox_block_has(t, qk_norm, layer_scale)) continue;
        const int64_t a = vox_block_dim_size(t->d0, dim, q, kv, hidden);
        const int64_t b = t->ndim == 2 ? vox_block_dim_size(t->d1, dim, q, kv, hidden) : 0;
        EMIT(w, t->fill, t->ndim, a, b, 0, "%s%s", prefix, t->suffix);
    }
    return 0;
}

static int transformer_block(walk *w, const char *prefix, const vox_transformer_cfg *c) {
    return block(w, prefix, c->dim, (int64_t)c->n_heads * c->head_dim,
                 (int64_t)c->n_kv_heads * c->head_dim, c->hidden_dim, 0, 0);
}

/* A codec convolution (§6.3): Conv1d [out][in][k], ConvTranspose1d [in][out][k];
 * weight-normed as (g [axis0][1][1], v) or plain. */
static int conv(walk *w, const vox_config *cfg, const char *prefix, int transposed, int64_t in,
                int64_t out, int64_t k) {
    int64_t a0 = transposed ? in : out, a1 = transposed ? out : in;
    if (cfg->codec.conv_weight_norm) {
        EMIT(w, VOX_FILL_ONES, 3, a0, 1, 1, "%s.conv.parametrizations.weight.original0", prefix);
        EMIT(w, VOX_FILL_RANDOM, 3, a0, a1, k, "%s.conv.parametrizations.weight.original1", prefix);
    } else {
        EMIT(w, VOX_FILL_RANDOM, 3, a0, a1, k, "%s.conv.weight", prefix);
    }
    return 0;
}

int vox_checkpoint_tensors(const vox_config *cfg, vox_ckpt_tensor_fn fn, void *user) {
    walk w = {fn, user, {0}};
    walk *W = &w;
    char prefix[160];
    int rc;
    const vox_transformer_cfg *L = &cfg->llm, *A = &cfg->acoustic;
    /* A. backbone */
    EMIT(W, VOX_FILL_RANDOM, 2, cfg->vocab_size, L->dim, 0,
         "mm_audio_embeddings.tok_embeddings.weight");
    for (int i = 0; i < L->n_layers; i++) {
        snprintf(prefix, sizeof prefix, "layers.%d.", i);
        if ((rc = transformer_block(W, prefix, L))) return rc;
    }
    EMIT(W, VOX_FILL_ONES, 1, L->dim, 0, 0, "norm.weight");
    EMIT(W, VOX_FILL_RANDOM, 2, vox_config_audio_table_rows(cfg), L->dim, 0,
         "mm_audio_embeddings.audio_codebook_embeddings.embeddings.weight");
    /* B. flow-matching transformer */
    EMIT(W, VOX_FILL_RANDOM, 2, A->dim, cfg->n_acoustic_codebook, 0,
         "acoustic_transformer.input_projection.weight");
    EMIT(W, VOX_FILL_RANDOM, 2, A->dim, A->dim, 0, "acoustic_transformer.time_projection.weight");
    EMIT(W, VOX_FILL_RANDOM, 2, A->dim, cfg->acoustic_input_dim, 0,
         "acoustic_transformer.llm_projection.weight");
    for (int i = 0; i < A->n_layers; i++) {
        snprintf(prefix, sizeof prefix, "acoustic_transformer.layers.%d.", i);
        if ((rc = transformer_block(W, prefix, A))) return rc;
    }
    EMIT(W, VOX_FILL_ONES, 1, A->dim, 0, 0, "acoustic_transformer.norm.weight");
    EMIT(W, VOX_FILL_SEMANTIC_HEAD, 2, vox_config_semantic_head_rows(cfg), cfg->acoustic_input_dim,
         0, "acoustic_transformer.semantic_codebook_output.weight");
    EMIT(W, VOX_FILL_RANDOM, 2, cfg->n_acoustic_codebook, A->dim, 0,
         "acoustic_transformer.acoustic_codebook_output.weight");
    /* C. codec decoder */
    EMIT(W, VOX_FILL_RANDOM, 2, cfg->codec.semantic_codebook_size, cfg->codec.semantic_dim, 0,
         "audio_tokenizer.quantizer.semantic_codebook.embedding_sum");
    EMIT(W, VOX_FILL_USAGE, 1, cfg->codec.semantic_codebook_size, 0, 0,
         "audio_tokenizer.quantizer.semantic_codebook.cluster_usage");
    const int64_t Dc = cfg->codec.dim, qc = (int64_t)cfg->codec.n_heads * cfg->codec.head_dim,
                  kvc = (int64_t)cfg->codec.n_kv_heads * cfg->codec.head_dim;
    const int64_t latent = (int64_t)cfg->codec.semantic_dim + cfg->codec.acoustic_dim;
    for (int s = 0; s < cfg->codec.n_stages; s++) {
        snprintf(prefix, sizeof prefix, "audio_tokenizer.decoder_blocks.%d", 2 * s);
        if ((rc = conv(W, cfg, prefix, s > 0, s == 0 ? latent : Dc, Dc, cfg->codec.conv_kernels[s])))
            return rc;
        for (int j = 0; j < cfg->codec.transformer_lengths[s]; j++) {
            snprintf(prefix, sizeof prefix, "audio_tokenizer.decoder_blocks.%d.layers.%d.", 2 * s + 1,
                     j);
            if ((rc = block(W, prefix, Dc, qc, kvc, cfg->codec.hidden_dim, cfg->codec.qk_norm,
                            cfg->codec.layer_scale)))
                return rc;
        }
    }
    return conv(W, cfg, "audio_tokenizer.output_proj", 0, Dc, cfg->codec.patch_size,
                cfg->codec.patch_proj_kernel_size);
}
