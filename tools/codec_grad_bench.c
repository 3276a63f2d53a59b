/* codec_grad_bench.c — times the differentiable codec decoder (codec_grad.h)
 * at full size: the forward that keeps activations and the backward to the
 * latent, as the voice-cloning inversion runs them a few hundred times.
 *
 *   build/tools/codec_grad_bench [--params PATH] [--type T] [--frames F]
 *                                [--threads N] [--reps R] [--whole]
 *
 * Builds a synthetic model (voxtts_model_synthetic: random weights of the
 * shapes params.json gives, in the type mix T, default bf16) from PATH
 * (default tests/data/params_official.json).  The codec's speed does not
 * depend on the rest of the model, so unless --whole is given the LLM and the
 * flow-matching transformer are shrunk in a temporary copy of params.json
 * (64 wide, one layer) to save the 8 GB they would take; the codec decoder is
 * left exactly as params.json describes it.  Then it makes a workspace for F
 * frames (default 63, a 5 s clip), runs R (default 3) forward and backward
 * passes on a random latent with N threads (default 2), and prints the
 * milliseconds of each pass (wall, and CPU time of all threads), the
 * workspace set-up time, and the process's resident memory: after building
 * the model, and its peak (VmHWM) at the end. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "voxtral/codec_grad.h"
#include "voxtts_debug.h"

static double clock_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}
static double now_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
/* CPU time of the whole process (all threads): on a shared machine the wall
 * time includes waiting for a core, the CPU time does not. */
static double cpu_ms(void) { return clock_ms(CLOCK_PROCESS_CPUTIME_ID); }

/* A line of /proc/self/status in MB ("VmRSS", "VmHWM"); -1 if unknown. */
static double status_mb(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double v = -1;
    const size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':') {
            v = atof(line + kl + 1) / 1024.0;
            break;
        }
    fclose(f);
    return v;
}

static int set_num(cJSON *o, const char *key, double v) {
    cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it || !cJSON_IsNumber(it)) return -1;
    cJSON_SetNumberValue(it, v);
    return 0;
}

/* Write a copy of params.json with the LLM and the acoustic transformer shrunk
 * into a temporary file; *path receives its name.  0 on success. */
static int shrink_params(const char *src, char *path, size_t path_size) {
    FILE *f = fopen(src, "rb");
    if (!f) {
        fprintf(stderr, "codec_grad_bench: cannot open %s\n", src);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (!text || fread(text, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "codec_grad_bench: cannot read %s\n", src);
        fclose(f);
        free(text);
        return -1;
    }
    fclose(f);
    text[n] = 0;
    cJSON *root = cJSON_Parse(text);
    free(text);
    cJSON *mm = root ? cJSON_GetObjectItemCaseSensitive(root, "multimodal") : NULL;
    cJSON *am = mm ? cJSON_GetObjectItemCaseSensitive(mm, "audio_model_args") : NULL;
    cJSON *at = am ? cJSON_GetObjectItemCaseSensitive(am, "acoustic_transformer_args") : NULL;
    int rc = !at;
    const char *keys[] = {"dim", "n_layers", "head_dim", "hidden_dim", "n_heads", "n_kv_heads"};
    const double vals[] = {64, 1, 16, 128, 4, 2};
    for (int i = 0; !rc && i < 6; i++) rc |= set_num(root, keys[i], vals[i]) | set_num(at, keys[i], vals[i]);
    if (!rc) rc = set_num(at, "input_dim", 64);
    char *out = rc ? NULL : cJSON_Print(root);
    cJSON_Delete(root);
    if (!out) {
        fprintf(stderr, "codec_grad_bench: %s is not a params.json this tool can shrink\n", src);
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(path, path_size, "%s/codec_grad_bench_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    FILE *g = fd >= 0 ? fdopen(fd, "wb") : NULL;
    int ok = g && fputs(out, g) >= 0;
    if (g && fclose(g) != 0) ok = 0;
    free(out);
    if (!ok) {
        fprintf(stderr, "codec_grad_bench: cannot write %s\n", path);
        if (fd >= 0) remove(path);
        return -1;
    }
    return 0;
}

static unsigned long long rng = 88172645463325252ull;
static float frand(void) { /* [-1, 1) */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

int main(int argc, char **argv) {
    const char *params = "tests/data/params_official.json", *type = "bf16";
    int frames = 63, threads = 2, reps = 3, whole = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const int more = i + 1 < argc;
        if (!strcmp(a, "--params") && more) params = argv[++i];
        else if (!strcmp(a, "--type") && more) type = argv[++i];
        else if (!strcmp(a, "--frames") && more) frames = atoi(argv[++i]);
        else if (!strcmp(a, "--threads") && more) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--reps") && more) reps = atoi(argv[++i]);
        else if (!strcmp(a, "--whole")) whole = 1;
        else {
            fprintf(stderr, "usage: codec_grad_bench [--params PATH] [--type T] [--frames F] "
                            "[--threads N] [--reps R] [--whole]\n");
            return 2;
        }
    }
    if (frames < 1 || threads < 1 || reps < 1) {
        fprintf(stderr, "codec_grad_bench: --frames, --threads and --reps must be >= 1\n");
        return 2;
    }
    char tmp_params[512] = "";
    if (!whole && shrink_params(params, tmp_params, sizeof tmp_params)) return 1;
    voxtts_model *m = NULL;
    voxtts_error err;
    double t0 = now_ms();
    int rc = voxtts_model_synthetic(whole ? params : tmp_params, type, threads, &m, &err);
    if (tmp_params[0]) remove(tmp_params);
    if (rc) {
        fprintf(stderr, "codec_grad_bench: %s\n", err.msg);
        return 1;
    }
    const double rss_model = status_mb("VmRSS");
    printf("model: %s (%s), type %s, built in %.0f ms, RSS %.0f MB\n", params,
           whole ? "whole" : "codec as given, LLM and flow head shrunk", type, now_ms() - t0,
           rss_model);

    t0 = now_ms();
    vox_codec_grad_ws *ws = NULL;
    if (vox_codec_grad_ws_new(m, frames, 0, 0, &ws, &err)) {
        fprintf(stderr, "codec_grad_bench: %s\n", err.msg);
        voxtts_model_free(m);
        return 1;
    }
    const double setup = now_ms() - t0;
    const int L = vox_codec_latent_dim(m), spf = voxtts_model_samples_per_frame(m);
    const size_t nl = (size_t)frames * L, ns = (size_t)frames * spf;
    float *lat = malloc(sizeof(float) * nl), *g = malloc(sizeof(float) * nl);
    float *wave = malloc(sizeof(float) * ns), *dw = malloc(sizeof(float) * ns);
    if (!lat || !g || !wave || !dw) {
        fprintf(stderr, "codec_grad_bench: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < nl; i++) lat[i] = frand();
    for (size_t i = 0; i < ns; i++) dw[i] = frand();
    printf("workspace: %d frames, %d threads, set up in %.0f ms, RSS %.0f MB\n", frames, threads,
           setup, status_mb("VmRSS"));
    double best_f = 1e30, best_b = 1e30, sum_f = 0, sum_b = 0, cpu_f = 0, cpu_b = 0;
    for (int r = 0; r < reps; r++) {
        t0 = now_ms();
        double c0 = cpu_ms();
        rc = vox_codec_grad_forward(ws, lat, wave, &err);
        const double tf = now_ms() - t0, cf = cpu_ms() - c0;
        t0 = now_ms();
        c0 = cpu_ms();
        if (!rc) rc = vox_codec_grad_backward(ws, dw, g, &err);
        const double tb = now_ms() - t0, cb = cpu_ms() - c0;
        if (rc) {
            fprintf(stderr, "codec_grad_bench: %s\n", err.msg);
            return 1;
        }
        printf("rep %d: forward %.0f ms (cpu %.0f ms), backward %.0f ms (cpu %.0f ms)\n", r, tf, cf,
               tb, cb);
        best_f = tf < best_f ? tf : best_f;
        best_b = tb < best_b ? tb : best_b;
        sum_f += tf;
        sum_b += tb;
        cpu_f += cf;
        cpu_b += cb;
    }
    printf("forward %.0f ms best, %.0f mean, cpu %.0f; backward %.0f ms best, %.0f mean, cpu %.0f; "
           "peak RSS %.0f MB (%.0f MB above the model)\n",
           best_f, sum_f / reps, cpu_f / reps, best_b, sum_b / reps, cpu_b / reps,
           status_mb("VmHWM"), status_mb("VmHWM") - rss_model);
    free(lat), free(g), free(wave), free(dw);
    vox_codec_grad_ws_free(ws);
    voxtts_model_free(m);
    return 0;
}
