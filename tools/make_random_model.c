/* make_random_model.c — write a model directory with random weights of any size.
 *
 *   make_random_model PARAMS_JSON TEKKEN_JSON OUT_DIR VOICE [SEED]
 *
 * Produces OUT_DIR/{params.json, tekken.json, consolidated.safetensors,
 * voice_embedding/VOICE.pt} in the official layout: every tensor named and shaped
 * from params.json (docs/MODEL.md §1.2), all BF16.  With the official params.json this
 * is a full-size (8 GB) checkpoint, streamed to disk in chunks, so tests can prove
 * that nothing in the engine assumes small shapes.  The tensor list comes from
 * vox_checkpoint_tensors (shared with the synthetic benchmark model).  Values: uniform with variance
 * 1/fan_in for matrices, ones for norm gains, 0.1 for LayerScales; the END_AUDIO
 * row of the semantic head is zero so that random weights do not stop at frame 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/safetensors.h"
#include "io/torch_pt.h"
#include "text/tekken.h"
#include "voxtral/checkpoint.h"
#include "voxtral/config.h"

#define MAX_T 4096

typedef struct {
    size_t n;
    char *names[MAX_T];
    vox_tensor t[MAX_T];
    int kind[MAX_T]; /* 0 random matrix, 1 ones, 2 layer scale, 3 usage (ones), 4 semantic head */
    uint64_t seed;
    size_t cur, done; /* tensor being filled, elements of it already written */
} plan;

static int add(plan *p, int kind, const char *name, int ndim, int64_t a, int64_t b, int64_t c) {
    if (p->n >= MAX_T) return -1;
    vox_tensor *t = &p->t[p->n];
    memset(t, 0, sizeof *t);
    t->dtype = VOX_BF16;
    t->ndim = ndim;
    t->shape[0] = a;
    t->shape[1] = b;
    t->shape[2] = c;
    p->names[p->n] = strdup(name);
    p->kind[p->n] = kind;
    p->n++;
    return 0;
}

/* One tensor of the shared enumeration (src/voxtral/checkpoint.h). */
static int add_tensor(void *user, const vox_ckpt_tensor *t) {
    static const int kind_of[] = {
        [VOX_FILL_RANDOM] = 0, [VOX_FILL_ONES] = 1, [VOX_FILL_LAYER_SCALE] = 2,
        [VOX_FILL_USAGE] = 3, [VOX_FILL_SEMANTIC_HEAD] = 4,
    };
    return add(user, kind_of[t->fill], t->name, t->ndim, t->shape[0], t->shape[1], t->shape[2]);
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int fill(void *user, size_t ti, void *buf, size_t nbytes) {
    plan *p = user;
    if (ti != p->cur) { p->cur = ti; p->done = 0; }
    const vox_tensor *t = &p->t[ti];
    uint16_t *o = buf;
    size_t n = nbytes / 2;
    int64_t fan_in = 1;
    for (int d = 1; d < t->ndim; d++) fan_in *= t->shape[d];
    float scale = 1.7320508f / sqrtf((float)fan_in); /* uniform(-s, s) has variance s^2/3 */
    uint64_t s = p->seed ^ (0x1234567ull * (ti + 1)) ^ (p->done * 0x9e3779b97f4a7c15ull);
    for (size_t i = 0; i < n; i++) {
        float v;
        switch (p->kind[ti]) {
        case 1: case 3: v = 1.0f; break;
        case 2: v = 0.1f; break;
        default: {
            uint64_t r = splitmix(&s);
            v = ((float)(r >> 40) / (float)(1 << 24) * 2.0f - 1.0f) * scale;
            if (p->kind[ti] == 4 && (p->done + i) / (size_t)t->shape[1] == 1) v = 0.0f;
        }
        }
        o[i] = vox_f32_to_bf16(v);
    }
    p->done += n;
    return 0;
}

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    if (!a || !b) { if (a) fclose(a); return -1; }
    char buf[1 << 16];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, a)) > 0) fwrite(buf, 1, k, b);
    fclose(a);
    return fclose(b);
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: make_random_model PARAMS_JSON TEKKEN_JSON OUT_DIR VOICE [SEED]\n");
        return 2;
    }
    const char *params = argv[1], *tekken = argv[2], *out = argv[3], *voice = argv[4];
    vox_config cfg;
    vox_error err = {0};
    if (vox_config_load(params, &cfg, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    static plan p;
    p.seed = argc > 5 ? strtoull(argv[5], NULL, 0) : 1;
    p.cur = (size_t)-1;
    const vox_transformer_cfg *L = &cfg.llm;
    if (vox_checkpoint_tensors(&cfg, add_tensor, &p)) {
        fprintf(stderr, "too many tensors (more than %d)\n", MAX_T);
        return 1;
    }
    for (size_t i = 0; i < p.n; i++) {
        if (!p.names[i]) { fprintf(stderr, "out of memory\n"); return 1; }
        int64_t numel = 1;
        for (int d = 0; d < p.t[i].ndim; d++) numel *= p.t[i].shape[d];
        p.t[i].nbytes = (size_t)numel * 2;
    }

    char path[4096], path2[4096];
    mkdir(out, 0755);
    snprintf(path, sizeof path, "%s/voice_embedding", out);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/params.json", out);
    snprintf(path2, sizeof path2, "%s/tekken.json", out);
    if (copy_file(params, path) || copy_file(tekken, path2)) {
        fprintf(stderr, "cannot copy params.json / tekken.json into %s\n", out);
        return 1;
    }
    snprintf(path, sizeof path, "%s/consolidated.safetensors", out);
    if (vox_safetensors_write_cb(path, p.n, (const char *const *)p.names, p.t, fill, &p, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    /* The voice: as many rows as tekken.json announces for it (random, small values). */
    vox_tekken *tk = NULL;
    if (vox_tekken_load(tekken, &tk, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    int rows = vox_tekken_voice_num_tokens(tk, voice);
    vox_tekken_free(tk);
    if (rows <= 0) { fprintf(stderr, "%s: no voice_num_audio_tokens for '%s'\n", tekken, voice); return 1; }
    uint16_t *vb = malloc(sizeof(uint16_t) * (size_t)rows * (size_t)L->dim);
    if (!vb) { fprintf(stderr, "out of memory\n"); return 1; }
    uint64_t vs = p.seed ^ 0xabcdefull;
    for (size_t i = 0; i < (size_t)rows * (size_t)L->dim; i++)
        vb[i] = vox_f32_to_bf16(((float)(splitmix(&vs) >> 40) / (float)(1 << 24) * 2.0f - 1.0f) * 0.05f);
    snprintf(path, sizeof path, "%s/voice_embedding/%s.pt", out, voice);
    int rc = vox_pt_write_bf16(path, "voice_embed", rows, L->dim, vb, &err);
    free(vb);
    if (rc) { fprintf(stderr, "%s\n", err.msg); return 1; }
    printf("wrote %zu tensors to %s\n", p.n, out);
    for (size_t i = 0; i < p.n; i++) free(p.names[i]);
    vox_config_free(&cfg);
    return 0;
}
