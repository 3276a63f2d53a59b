/* test_alloc_fail.c — out of memory inside the loaders.
 *
 * This test is linked with --wrap for malloc, calloc, realloc, free, strdup and
 * posix_memalign (Makefile), so every allocation the library makes goes
 * through the counting hooks below, which can make the n-th allocation fail;
 * cJSON's hooks are pointed at them too.  For each loader (a model directory,
 * the same model as a GGUF file, the encoder attached from its own file, the
 * tokenizer, params.json, a .pt voice, a safetensors and a GGUF file), the
 * load is first run once to count its allocations, then once per allocation
 * with exactly that one failing.  Every run must either succeed (some
 * allocations have fallbacks) or fail with a message, and in both cases leave
 * as many blocks allocated as before the call once the result is freed: no
 * crash, no leak (under AddressSanitizer too, whose leak checker also runs
 * at exit). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/gguf.h"
#include "io/safetensors.h"
#include "io/torch_pt.h"
#include "test.h"
#include "text/tekken.h"
#include "voxtral/config.h"
#include "voxtral/encoder.h"
#include "voxtts.h"

void *__real_malloc(size_t);
void *__real_calloc(size_t, size_t);
void *__real_realloc(void *, size_t);
void __real_free(void *);
int __real_posix_memalign(void **, size_t, size_t);

static long g_live;      /* blocks allocated through the hooks and not freed */
static long g_count;     /* allocations attempted since the counter was reset */
static long g_fail_at = -1; /* the allocation (0-based) that fails, -1: none */

static int should_fail(void) { return g_count++ == g_fail_at; }

void *__wrap_malloc(size_t n) {
    if (should_fail()) return NULL;
    void *p = __real_malloc(n);
    if (p) g_live++;
    return p;
}
void *__wrap_calloc(size_t a, size_t b) {
    if (should_fail()) return NULL;
    void *p = __real_calloc(a, b);
    if (p) g_live++;
    return p;
}
void *__wrap_realloc(void *old, size_t n) {
    if (should_fail()) return NULL;
    void *p = __real_realloc(old, n);
    if (!old && p) g_live++;
    if (old && !p && n == 0) g_live--; /* realloc(p, 0) freed p */
    return p;
}
void __wrap_free(void *p) {
    if (p) g_live--;
    __real_free(p);
}
char *__wrap_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = __wrap_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}
int __wrap_posix_memalign(void **out, size_t align, size_t n) {
    if (should_fail()) return 12; /* ENOMEM */
    int rc = __real_posix_memalign(out, align, n);
    if (rc == 0) g_live++;
    return rc;
}

typedef int (*load_fn)(void); /* 0: loaded and freed again; else failed */

static const char *g_dir = "tests/models/tiny-a";
static char g_gguf[512], g_st[512], g_gguf_small[512];

static int load_model_dir(void) {
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = 1;
    voxtts_model *m = NULL;
    voxtts_error err = {0};
    int rc = voxtts_model_load(g_dir, &lp, &m, &err);
    if (rc) return err.msg[0] ? rc : 999; /* a failure must say something */
    voxtts_model_free(m);
    return 0;
}

static int load_model_gguf(void) {
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = 1;
    voxtts_model *m = NULL;
    voxtts_error err = {0};
    int rc = voxtts_model_load(g_gguf, &lp, &m, &err);
    if (rc) return err.msg[0] ? rc : 999;
    voxtts_model_free(m);
    return 0;
}

static voxtts_model *g_model; /* loaded once, outside the counting, for attach */
static int attach_encoder(void) {
    vox_error err = {0};
    char p[512];
    snprintf(p, sizeof p, "%s/encoder.safetensors", g_dir);
    int rc = vox_encoder_attach(g_model, p, &err);
    return rc ? (err.msg[0] ? rc : 999) : 0;
}

static int load_tokenizer(void) {
    voxtts_tokenizer *tk = NULL;
    voxtts_error err = {0};
    int rc = voxtts_tokenizer_load(g_dir, &tk, &err);
    if (rc) return err.msg[0] ? rc : 999;
    voxtts_tokenizer_free(tk);
    return 0;
}

static int load_config(void) {
    char p[512];
    snprintf(p, sizeof p, "%s/params.json", g_dir);
    vox_config cfg;
    memset(&cfg, 0, sizeof cfg);
    vox_error err = {0};
    int rc = vox_config_load(p, &cfg, &err);
    if (rc) return err.msg[0] ? rc : 999;
    vox_config_free(&cfg);
    return 0;
}

static int load_voice_pt(void) {
    char p[512];
    snprintf(p, sizeof p, "%s/voice_embedding/alpha_female.pt", g_dir);
    vox_pt_tensor t;
    vox_error err = {0};
    int rc = vox_pt_load_tensor(p, &t, &err);
    if (rc) return err.msg[0] ? rc : 999;
    vox_pt_tensor_free(&t);
    return 0;
}

static int load_safetensors(void) {
    vox_safetensors *st = NULL;
    vox_error err = {0};
    int rc = vox_safetensors_open(g_st, &st, &err);
    if (rc) return err.msg[0] ? rc : 999;
    vox_safetensors_close(st);
    return 0;
}

static int load_gguf(void) {
    vox_gguf *g = NULL;
    vox_error err = {0};
    int rc = vox_gguf_open(g_gguf_small, &g, &err);
    if (rc) return err.msg[0] ? rc : 999;
    vox_gguf_close(g);
    return 0;
}

/* Count the loader's allocations, then fail each one in turn (every one up
 * to `exhaustive`, then every `stride`-th, so large loaders stay quick). */
static void sweep(const char *what, load_fn fn, long exhaustive, long stride) {
    long live0 = g_live;
    g_fail_at = -1;
    g_count = 0;
    int rc = fn();
    long total = g_count;
    CHECK(rc == 0, "%s loads without injected failures (rc %d)", what, rc);
    CHECK(g_live == live0, "%s: %ld blocks leaked by a normal load", what, g_live - live0);
    long runs = 0, failed = 0, leaks = 0, silent = 0;
    for (long n = 0; n < total; n += n < exhaustive ? 1 : stride) {
        live0 = g_live;
        g_count = 0;
        g_fail_at = n;
        rc = fn();
        g_fail_at = -1;
        runs++;
        if (rc) failed++;
        if (rc == 999) silent++;
        if (g_live != live0) {
            if (leaks < 3) fprintf(stderr, "  %s: failing allocation %ld leaks %ld blocks\n", what, n, g_live - live0);
            leaks++;
        }
    }
    printf("  %s: %ld allocations, %ld runs with one failing, %ld of them failed cleanly\n", what, total, runs,
           failed);
    CHECK(leaks == 0, "%s: %ld runs leaked", what, leaks);
    CHECK(silent == 0, "%s: %ld failures without a message", what, silent);
    CHECK(total == 0 || failed > 0, "%s: no injected failure was noticed", what);
}

int main(void) {
    cJSON_Hooks hooks = {__wrap_malloc, __wrap_free};
    cJSON_InitHooks(&hooks);
    const char *t = getenv("TMPDIR");
    snprintf(g_gguf, sizeof g_gguf, "%s/voxtts-allocfail-%ld.gguf", t && *t ? t : "/tmp", (long)getpid());
    snprintf(g_st, sizeof g_st, "%s/consolidated.safetensors", g_dir);
    snprintf(g_gguf_small, sizeof g_gguf_small, "tests/fuzz/corpus/gguf/ggml-written.gguf");
    /* The GGUF model: the tiny model quantized to bf16 by the command line. */
    char cmd[1400];
    const char *build = getenv("BUILD");
    snprintf(cmd, sizeof cmd, "%s/voxtts quantize %s %s --type bf16 -q >/dev/null 2>&1", build && *build ? build : "build",
             g_dir, g_gguf);
    int have_gguf = system(cmd) == 0;
    CHECK(have_gguf, "cannot make the GGUF fixture: %s", cmd);

    sweep("params.json", load_config, 1000, 1);
    sweep("tokenizer", load_tokenizer, 400, 7);
    sweep(".pt voice", load_voice_pt, 1000, 1);
    sweep("safetensors", load_safetensors, 1000, 1);
    sweep("GGUF file", load_gguf, 1000, 1);
    sweep("model directory", load_model_dir, 400, 11);
    if (have_gguf) sweep("model GGUF", load_model_gguf, 400, 11);
    voxtts_load_params lp;
    voxtts_load_params_default(&lp);
    lp.n_threads = 1;
    voxtts_error err = {0};
    if (voxtts_model_load(g_dir, &lp, &g_model, &err) == VOXTTS_OK) {
        /* attached once first: the model then owns an encoder, and each later
         * attach replaces it (or, failing, keeps it), so a clean run leaves the
         * block count unchanged */
        CHECK(attach_encoder() == 0, "first attach");
        sweep("encoder attach", attach_encoder, 1000, 1);
        voxtts_model_free(g_model);
    } else {
        CHECK(0, "cannot load %s: %s", g_dir, err.msg);
    }
    remove(g_gguf);
    TEST_MAIN_END();
}
