/* bench.c — `voxtts bench`: how fast this machine runs the model, stage by stage.
 *
 *   voxtts bench --synthetic [--params P] --type TYPE [options]   random full-size weights
 *   voxtts bench -m DIR|FILE.gguf [options]                       a real model
 *
 * Loads or builds the model (timed), then voxtts_bench_run (include/voxtts_debug.h) does the work: a
 * warm-up request, --batch streaming requests (default 1) of exactly --frames
 * frames each (END_AUDIO ignored) advanced together by one voxtts_engine, the
 * weights-read-per-frame model and the measured read bandwidth.
 * Prints a table, or with --json exactly one JSON object on stdout. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static void bench_usage(FILE *f) {
    fprintf(f,
        "usage: voxtts bench --synthetic [--params PARAMS_JSON] --type TYPE [options]\n"
        "       voxtts bench -m MODEL_DIR|MODEL.gguf [options]\n"
        "\n"
        "Measures one request on an already-used preset voice: per-stage ms per frame\n"
        "(backbone, acoustic, codec), real-time factor, time to first audio (streaming),\n"
        "peak RSS, weight bytes read per frame, this machine's read bandwidth, the\n"
        "resulting bandwidth floor and the efficiency against it.\n"
        "\n"
        "  --synthetic           random weights built in memory (no download needed)\n"
        "  --params FILE         params.json for --synthetic (default: the official one)\n"
        "  --type TYPE           weight types for --synthetic: one type for all (f32, f16,\n"
        "                        bf16, q8_0, q4_k), a list (backbone=q4_k,acoustic=q8_0,\n"
        "                        heads=q8_0,codec=bf16,embeddings=q8_0) or 'best'\n"
        "                        (%s)\n"
        "  -m, --model PATH      a model directory or GGUF file instead of --synthetic\n"
        "  --frames N            frames to generate, END ignored (default 50; 80 ms each)\n"
        "  -t, --threads N       threads (default: all cores)\n"
        "  --prompt-tokens N     text tokens in the prompt (default 20, ~15 English words)\n"
        "  --voice NAME          preset voice (default casual_male, else the first)\n"
        "  --seed N              noise seed (default 42)\n"
        "  --batch B             B requests (seeds N, N+1, ...) advanced together by one\n"
        "                        engine, one frame of each per step (default 1)\n"
        "  --bandwidth-mib N     bytes each bandwidth pass reads (default 1024): the\n"
        "                        backbone's weights, or a buffer for a small model\n"
        "  --json                print one JSON object instead of the table\n"
        "  -h, --help            this help\n"
        "RTF = (backbone + acoustic + codec time) / audio time of all the requests, prefill\n"
        "excluded (rtf_with_prefill includes it); ms per frame = ms per step / batch;\n"
        "floor_rtf = bytes_per_frame / bandwidth / (batch x 80 ms) (weights are read once\n"
        "per step);\n"
        "efficiency = floor_rtf / rtf; bandwidth = the median of passes just before, after\n"
        "every 5th frame of, and just after the measured frames (not counted in their time).\n",
        VOXTTS_TYPE_MIX_BEST);
}

enum { B_SYNTH = 3000, B_PARAMS, B_TYPE, B_FRAMES, B_JSON, B_PROMPT, B_VOICE, B_SEED, B_BW, B_BATCH };

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A JSON string literal of s (quotes, backslashes and control characters escaped). */
static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void print_json(const char *model, const char *type, const char *mix,
                       const voxtts_model *m, const char *voice, double load_s,
                       const voxtts_bench_result *r) {
    const voxtts_bench_traffic *t = &r->traffic;
    printf("{\"model\":");
    json_str(stdout, model);
    printf(",\"type\":");
    json_str(stdout, type);
    printf(",\"type_mix\":");
    json_str(stdout, mix);
    printf(",\"kernels\":");
    json_str(stdout, voxtts_kernels_name());
    printf(",\"voice\":");
    json_str(stdout, voice);
    printf(",\"threads\":%d,\"batch\":%d,\"frames\":%d,\"prompt_tokens\":%d,\"text_tokens\":%d,"
           "\"prefill_tokens\":%d,\"load_s\":%.4f,\"prefill_s\":%.4f,\"ttfa_s\":%.4f,"
           "\"audio_s\":%.4f,\"total_s\":%.4f,",
           voxtts_model_n_threads(m), r->batch, r->run.frames, r->run.prompt_tokens, r->text_tokens,
           r->run.prefill_tokens, load_s, r->run.prefill_s, r->run.ttfa_s, r->audio_s,
           r->run.total_s);
    printf("\"ms_per_frame\":{\"backbone\":%.3f,\"acoustic\":%.3f,\"codec\":%.3f,\"total\":%.3f},",
           r->ms_backbone, r->ms_acoustic, r->ms_codec, r->ms_total);
    printf("\"ms_per_step\":{\"backbone\":%.3f,\"acoustic\":%.3f,\"codec\":%.3f,\"total\":%.3f},",
           r->ms_step_backbone, r->ms_step_acoustic, r->ms_step_codec, r->ms_step_total);
    printf("\"rtf\":%.6g,\"rtf_with_prefill\":%.6g,\"codec_calls\":%d,\"codec_frames\":%d,",
           r->rtf, r->rtf_with_prefill, r->run.codec_calls, r->run.codec_frames);
    printf("\"peak_rss_bytes\":%lld,\"weight_bytes\":%lld,\"bytes_per_frame\":%.0f,"
           "\"bytes_per_frame_parts\":{\"backbone\":%.0f,\"embeddings\":%.0f,\"heads\":%.0f,"
           "\"acoustic\":%.0f,\"codec\":%.0f},",
           (long long)r->peak_rss_bytes, (long long)t->weight_bytes, t->per_frame, t->backbone,
           t->embed, t->heads, t->acoustic, t->codec);
    printf("\"bandwidth_gbs\":%.3f,\"bandwidth_samples\":%d,\"floor_rtf\":%.6g,\"efficiency\":%.6g}\n",
           r->bandwidth_gbs, r->bandwidth_samples, r->floor_rtf, r->efficiency);
}

static void print_table(const char *model, const char *type, const voxtts_model *m,
                        const char *voice, double load_s, const voxtts_bench_result *r) {
    const voxtts_bench_traffic *t = &r->traffic;
    const double GB = 1e9, MB = 1e6;
    printf("voxtts bench: %s\n", model);
    printf("  weights          %s, %.2f GB\n", type, (double)t->weight_bytes / GB);
    printf("  machine          %d threads, kernels %s, read bandwidth %.1f GB/s (median of %d passes)\n",
           voxtts_model_n_threads(m), voxtts_kernels_name(), r->bandwidth_gbs, r->bandwidth_samples);
    printf("  load             %.2f s\n", load_s);
    printf("  prompt           %d positions (%d text tokens, voice %s), %d run: prefill %.3f s\n",
           r->run.prompt_tokens, r->text_tokens, voice, r->run.prefill_tokens, r->run.prefill_s);
    printf("  time to audio    %.3f s (first streamed samples)\n", r->run.ttfa_s);
    printf("  frames           %d per request (%.2f s of audio in all), %d codec calls over %d frames\n",
           r->run.frames, r->audio_s, r->run.codec_calls, r->run.codec_frames);
    if (r->batch > 1)
        printf("  batch            %d requests together: per step backbone %.1f ms, acoustic %.1f ms, "
               "codec %.1f ms = %.1f ms\n",
               r->batch, r->ms_step_backbone, r->ms_step_acoustic, r->ms_step_codec, r->ms_step_total);
    printf("  per frame        backbone %.1f ms, acoustic %.1f ms, codec %.1f ms = %.1f ms\n",
           r->ms_backbone, r->ms_acoustic, r->ms_codec, r->ms_total);
    printf("  real-time factor %.3f (%.3f with the prefill)\n", r->rtf, r->rtf_with_prefill);
    printf("  read per frame   %.1f MB (backbone %.1f, acoustic %.1f, heads %.1f, codec %.1f, "
           "embeddings %.2f)\n",
           t->per_frame / MB, t->backbone / MB, t->acoustic / MB, t->heads / MB, t->codec / MB,
           t->embed / MB);
    printf("  bandwidth floor  RTF %.3f -> efficiency %.1f%%\n", r->floor_rtf,
           100.0 * r->efficiency);
    printf("  peak RSS         %.2f GB (%.2f x weights)\n", (double)r->peak_rss_bytes / GB,
           t->weight_bytes > 0 ? (double)r->peak_rss_bytes / (double)t->weight_bytes : 0.0);
}

int cli_bench_main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"synthetic", no_argument, 0, B_SYNTH},      {"params", required_argument, 0, B_PARAMS},
        {"type", required_argument, 0, B_TYPE},       {"model", required_argument, 0, 'm'},
        {"frames", required_argument, 0, B_FRAMES},   {"threads", required_argument, 0, 't'},
        {"json", no_argument, 0, B_JSON},             {"prompt-tokens", required_argument, 0, B_PROMPT},
        {"voice", required_argument, 0, B_VOICE},     {"seed", required_argument, 0, B_SEED},
        {"bandwidth-mib", required_argument, 0, B_BW}, {"batch", required_argument, 0, B_BATCH},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0},
    };
    int synthetic = 0, json = 0;
    const char *params = NULL, *type = NULL, *model = NULL, *voice = NULL;
    long frames = 50, threads = 0, prompt_tokens = 20, bw_mib = 1024, batch = 1;
    unsigned long long seed = 42;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case B_SYNTH: synthetic = 1; break;
        case B_PARAMS: params = optarg; break;
        case B_TYPE: type = optarg; break;
        case 'm': model = optarg; break;
        case B_FRAMES: if (cli_parse_int("--frames", optarg, 1, 100000, &frames)) return 2; break;
        case 't': if (cli_parse_int("--threads", optarg, 0, 1024, &threads)) return 2; break;
        case B_JSON: json = 1; break;
        case B_PROMPT:
            if (cli_parse_int("--prompt-tokens", optarg, 1, 8192, &prompt_tokens)) return 2;
            break;
        case B_VOICE: voice = optarg; break;
        case B_SEED: if (cli_parse_u64("--seed", optarg, &seed)) return 2; break;
        case B_BW: if (cli_parse_int("--bandwidth-mib", optarg, 1, 65536, &bw_mib)) return 2; break;
        case B_BATCH: if (cli_parse_int("--batch", optarg, 1, 256, &batch)) return 2; break;
        case 'h': bench_usage(stdout); return 0;
        default: fprintf(stderr, "Try 'voxtts bench --help'.\n"); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "voxtts bench: unexpected argument '%s'\nTry 'voxtts bench --help'.\n",
                argv[optind]);
        return 2;
    }
    if (synthetic == !!model) {
        fprintf(stderr, "voxtts bench: give either --synthetic or -m MODEL (not %s)\n"
                        "Try 'voxtts bench --help'.\n", synthetic ? "both" : "neither");
        return 2;
    }
    if (!synthetic && (params || type)) {
        fprintf(stderr, "voxtts bench: %s only applies to --synthetic (a model's weight types "
                        "are those of its file; make others with 'voxtts quantize')\n",
                params ? "--params" : "--type");
        return 2;
    }
    if (synthetic && !type) {
        fprintf(stderr, "voxtts bench: --synthetic needs --type (e.g. bf16, q8_0, best)\n");
        return 2;
    }
    if (type) { /* a bad type fails now, not after building gigabytes */
        voxtts_error e = {0};
        if (voxtts_type_mix_check(type, &e)) {
            fprintf(stderr, "voxtts bench: --type: %s\n", e.msg);
            return 2;
        }
    }

    voxtts_error err = {0};
    voxtts_model *m = NULL;
    const double t0 = now_s();
    int rc;
    if (synthetic) {
        if (!json)
            fprintf(stderr, "voxtts bench: building a synthetic model (%s, type %s)...\n",
                    params ? params : "official params.json", type);
        rc = voxtts_model_synthetic(params, type, (int)threads, &m, &err);
    } else {
        voxtts_load_params lp;
        voxtts_load_params_default(&lp);
        lp.n_threads = (int)threads;
        rc = voxtts_model_load(model, &lp, &m, &err);
    }
    const double load_s = now_s() - t0;
    if (rc != VOXTTS_OK) {
        cli_print_error(synthetic ? "cannot build the synthetic model" : "cannot load the model", &err);
        return 1;
    }
    if (!voice)
        voice = voxtts_model_find_voice(m, "casual_male") >= 0 ? "casual_male"
                                                               : voxtts_model_voice_name(m, 0);
    if (voxtts_model_find_voice(m, voice) < 0) {
        voxtts_voice *v = NULL; /* fails, with the message naming the voices there are */
        if (voxtts_voice_from_preset(m, voice, &v, &err) == VOXTTS_OK) voxtts_voice_free(v);
        cli_print_error("--voice", &err);
        voxtts_model_free(m);
        return 2;
    }
    char mix_text[256];
    voxtts_model_type_mix(m, mix_text, sizeof mix_text);
    char label[1200];
    if (synthetic)
        snprintf(label, sizeof label, "synthetic (%s)", params ? params : "official params.json");
    else
        snprintf(label, sizeof label, "%s", model);

    voxtts_bench_params bp;
    voxtts_bench_params_default(&bp);
    bp.voice = voice;
    bp.frames = (int)frames;
    bp.prompt_tokens = (int)prompt_tokens;
    bp.seed = seed;
    bp.bandwidth_bytes = (size_t)bw_mib << 20;
    bp.batch = (int)batch;
    voxtts_bench_result r;
    if (!json) fprintf(stderr, "voxtts bench: loaded in %.2f s; generating %ld frames...\n", load_s, frames);
    rc = voxtts_bench_run(m, &bp, &r, &err);
    if (rc != VOXTTS_OK) {
        cli_print_error("benchmark failed", &err);
        voxtts_model_free(m);
        return 1;
    }
    const char *type_out = synthetic ? type : mix_text;
    char type_full[320];
    if (synthetic && strcmp(type, mix_text) != 0)
        snprintf(type_full, sizeof type_full, "%s (%s)", type, mix_text);
    else
        snprintf(type_full, sizeof type_full, "%s", type_out);
    if (json)
        print_json(label, type_out, mix_text, m, voice, load_s, &r);
    else
        print_table(label, type_full, m, voice, load_s, &r);
    voxtts_model_free(m);
    return fflush(stdout) == 0 ? 0 : 1;
}
