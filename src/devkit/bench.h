/* bench.h — the measurements behind `voxtts bench` (issue "fast on a CPU"),
 * developer tooling (src/devkit/), reached through include/voxtts_debug.h.
 *
 * One benchmark run on a loaded model (real or synthetic): a warm-up request
 * (so the voice's prompt-prefix KV cache exists and every weight page has been
 * touched once, as for an already-used preset voice), then `batch` streaming
 * requests (seeds seed, seed+1, ...) advanced together by one voxtts_engine,
 * each generating exactly `frames` frames ignoring END_AUDIO, with the engine's
 * per-stage times per step (a step makes one frame of every request; with
 * batch 1 it is the work of voxtts_synthesize).  Then the model's traffic model:
 *
 *   bytes_per_frame = backbone layer matrices (once per frame)
 *                   + the n_codebooks rows of the audio embedding fed back
 *                   + semantic head + llm_projection (once per frame)
 *                   + n_steps x (acoustic layer matrices + input_projection +
 *                                acoustic_codebook_output)
 *                   + codec weights / VOX_STREAM_CHUNK (one codec pass every 25
 *                                frames in steady-state streaming)
 *
 * (flow.c's last-layer shortcut skips rows, not matrices: every acoustic matrix
 * is still read once per Euler step; the time projections are precomputed at
 * load and read nothing), the machine's read bandwidth (all threads summing
 * 1 GiB of the backbone's weights, or of a buffer for a small model: the
 * median of passes made just before the measured request, after every 5th of
 * its frames and just after it; their time is not counted), and from them
 *
 *   rtf       = (backbone + acoustic + codec time) / audio time of all the
 *               requests (per step / (batch x frame duration), the prompts'
 *               prefill excluded: it is reported as prefill_s, ttfa_s and
 *               rtf_with_prefill)
 *   floor_rtf = bytes_per_frame / bandwidth / (batch x frame duration)
 *   efficiency = floor_rtf / rtf. */
#ifndef VOX_DEVKIT_BENCH_H
#define VOX_DEVKIT_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "voxtral/model.h"

typedef voxtts_bench_traffic vox_bench_traffic; /* include/voxtts_debug.h */

/* The traffic model above for n_steps Euler steps (0: the model's default). */
void vox_bench_traffic_of(const voxtts_model *m, int n_steps, vox_bench_traffic *t);

/* A text of at least n_tokens tokens for this model's tokenizer (English words
 * for a real tokenizer; with the synthetic byte-level one, n bytes).  malloc'd. */
int vox_bench_text(const voxtts_model *m, int n_tokens, char **text, int *got, vox_error *err);

/* Peak resident set size of the process so far, bytes (getrusage). */
int64_t vox_bench_peak_rss(void);

typedef struct vox_bench_opts {
    const char *voice;
    int frames;        /* frames of the measured request */
    int prompt_tokens; /* text tokens */
    uint64_t seed;
    size_t bandwidth_bytes; /* buffer of the bandwidth measurement (0: 1 GiB) */
    int batch;         /* requests run together in one engine (0 or 1: one) */
} vox_bench_opts;

typedef voxtts_bench_result vox_bench_result; /* include/voxtts_debug.h */

/* Warm-up, measured request, traffic model and bandwidth (see the top). */
int vox_bench_run(voxtts_model *m, const vox_bench_opts *o, vox_bench_result *r, vox_error *err);

#endif
