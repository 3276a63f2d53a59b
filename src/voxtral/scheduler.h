/* scheduler.h — internals of the batched engine (scheduler.c; the public side is
 * voxtts_engine in include/voxtts.h).
 *
 * The engine owns a model and a list of requests in submission order.  A
 * request moves QUEUED -> PREFILL (a slot is free: its prompt is embedded and its
 * KV cache started from the voice's cached prefix) -> RUNNING (prompt in the
 * cache, hidden for frame 0 ready) -> DONE (result kept until taken).  At most
 * max_batch requests are in PREFILL or RUNNING.  Each step:
 *   1. admits queued requests into free slots;
 *   2. prefills: everything pending when no request is running, otherwise at
 *      most VOX_ENGINE_PREFILL_CHUNK prompt rows in all, so a long prompt joins
 *      over several steps while the running requests keep producing frames;
 *   3. runs one frame of every running request: the semantic head on all their
 *      hiddens as one product, END_AUDIO ends a request (unless ignore_end),
 *      noise from each request's own stream, the acoustic head on all the other
 *      frames at once (vox_flow_acoustic_batch), each request's progress callback
 *      and codec schedule (vox_audio_stream), then one batched backbone step
 *      (vox_llm_decode_batch) for those not at max_frames.
 * A request whose step fails, whose callback asks to stop or that is cancelled
 * is finished at once with that outcome; the others go on.  Per request, the
 * sequence of operations and their arithmetic are those of vox_generate, so
 * the results are bit-identical to it. */
#ifndef VOX_VOXTRAL_SCHEDULER_H
#define VOX_VOXTRAL_SCHEDULER_H

#include "voxtral/model.h"

/* Prompt rows prefilled per step while other requests are running. */
#define VOX_ENGINE_PREFILL_CHUNK 32
/* Largest max_batch accepted by voxtts_engine_create. */
#define VOX_ENGINE_MAX_BATCH 256

#endif
