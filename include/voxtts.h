/* voxtts.h — the one public header of the voxtts text-to-speech library.
 *
 * voxtts runs Mistral's Voxtral-4B-TTS-2603 on a CPU from the official files
 * (params.json, consolidated.safetensors, tekken.json, voice_embedding/NAME.pt),
 * or from one GGUF file made by `voxtts quantize` (weights in f32, f16, bf16,
 * q8_0 or q4_k, with params.json, tekken.json and the voices inside).
 * Handles are opaque; every function that can fail returns VOXTTS_OK (0) or a
 * negative VOXTTS_E_* code and fills a caller-owned voxtts_error with a message
 * naming the file, tensor or argument at fault.  No global mutable state: a
 * process may hold several models; one model handle is used by one thread at a
 * time (it owns a thread pool and per-voice caches).  This header is what an
 * application needs; voxtts_debug.h adds the pipeline's stages, the synthetic
 * model and the experimental options, for debugging, benchmarks and tests. */
#ifndef VOXTTS_H
#define VOXTTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header; voxtts_version() gives the library's. */
#define VOXTTS_VERSION_MAJOR 0
#define VOXTTS_VERSION_MINOR 3
#define VOXTTS_VERSION_PATCH 0
#define VOXTTS_VERSION "0.3.0"
/* One number for comparisons: VOXTTS_VERSION_NUMBER >= VOXTTS_MAKE_VERSION(0, 2, 0). */
#define VOXTTS_MAKE_VERSION(major, minor, patch) ((major) * 10000 + (minor) * 100 + (patch))
#define VOXTTS_VERSION_NUMBER VOXTTS_MAKE_VERSION(VOXTTS_VERSION_MAJOR, VOXTTS_VERSION_MINOR, VOXTTS_VERSION_PATCH)

enum {
    VOXTTS_OK = 0,
    VOXTTS_E_IO = -1,          /* file missing, unreadable, short read, cannot write */
    VOXTTS_E_FORMAT = -2,      /* malformed file: bad header, bad JSON, truncated data */
    VOXTTS_E_SHAPE = -3,       /* tensor present but with the wrong shape or dtype */
    VOXTTS_E_MISSING = -4,     /* a required tensor, key or file is absent */
    VOXTTS_E_ARG = -5,         /* bad argument (unknown voice, empty text, bad UTF-8...) */
    VOXTTS_E_NOMEM = -6,       /* allocation failed */
    VOXTTS_E_UNSUPPORTED = -7, /* valid request this build cannot serve */
    VOXTTS_E_INTERNAL = -8,
    VOXTTS_E_CANCELLED = -9,   /* the progress callback asked to stop */
    VOXTTS_E_VERSION = -10,    /* a params struct of another size: built against another
                                * voxtts.h, or not initialised by its *_default function */
};

typedef struct voxtts_error {
    int code;
    char msg[1024];
} voxtts_error;

const char *voxtts_version(void);
/* A short English description of a VOXTTS_E_* code ("unknown error code" for
 * others); the voxtts_error message says more about a particular failure. */
const char *voxtts_strerror(int code);
/* Frees memory the library handed out as a plain buffer (token ids, codes,
 * rows, split texts are documented as "free with voxtts_free"); NULL is fine.
 * Handles and structs have their own *_free functions. */
void voxtts_free(void *p);

/* Params structs (voxtts_load_params, voxtts_synth_params, ...) start with
 * struct_size, set by their *_default function, which is the way to initialise
 * them: a struct of another size (a program built against another voxtts.h, or
 * a struct filled by hand) is refused with VOXTTS_E_VERSION, naming the struct,
 * so that fields can be added to them in later versions. */

/* ---- tokenizer (needs only tekken.json) ---------------------------------- */

typedef struct voxtts_tokenizer voxtts_tokenizer;

/* `path` is a model directory holding tekken.json, the tekken.json file itself, or
 * a voxtts GGUF file (its embedded tokenizer, else the tekken.json beside it). */
int voxtts_tokenizer_load(const char *path, voxtts_tokenizer **out, voxtts_error *err);
void voxtts_tokenizer_free(voxtts_tokenizer *tk);
/* Token ids of UTF-8 text, without BOS/EOS. Free *ids with voxtts_free. */
int voxtts_tokenize(const voxtts_tokenizer *tk, const char *text, size_t len, int32_t **ids,
                    size_t *n_ids, voxtts_error *err);

/* ---- model ---------------------------------------------------------------- */

typedef struct voxtts_model voxtts_model;

typedef struct voxtts_load_params {
    size_t struct_size; /* sizeof the struct, set by voxtts_load_params_default: keep it */
    int n_threads; /* 0: all cores */
} voxtts_load_params;

void voxtts_load_params_default(voxtts_load_params *p);
/* `model_dir`: the official directory, or a voxtts GGUF file (told apart by its
 * magic bytes); voices missing from a GGUF are looked for beside it. */
int voxtts_model_load(const char *model_dir, const voxtts_load_params *p, voxtts_model **out,
                      voxtts_error *err);
void voxtts_model_free(voxtts_model *m);
int voxtts_model_n_voices(const voxtts_model *m);
const char *voxtts_model_voice_name(const voxtts_model *m, int i);
/* Index of a preset voice, matched case-insensitively; -1 if unknown. */
int voxtts_model_find_voice(const voxtts_model *m, const char *name);
int voxtts_model_sample_rate(const voxtts_model *m);       /* 24000 */
int voxtts_model_samples_per_frame(const voxtts_model *m); /* 1920 */
int voxtts_model_n_codebooks(const voxtts_model *m);       /* 37 */
int voxtts_model_n_acoustic(const voxtts_model *m);        /* 36 */
int voxtts_model_dim(const voxtts_model *m);               /* LLM hidden size, 3072 */
int voxtts_model_n_threads(const voxtts_model *m);         /* threads of its pool */

/* Called after each generated frame; return non-zero to cancel. */
typedef int (*voxtts_progress_fn)(int frames_done, int max_frames, void *user);

/* Streaming: called with each new piece of audio, in order, as soon as it is
 * decoded (n mono samples at the model's sample rate, not clamped; the pointer
 * is valid only during the call).  Return non-zero to cancel. */
typedef int (*voxtts_audio_fn)(const float *samples, size_t n, void *user);

/* Where the time of one synthesis went (seconds, wall clock): an output of
 * voxtts_synthesize and voxtts_engine_take. */
typedef struct voxtts_synth_stats {
    int frames;            /* frames generated (80 ms each for the real model) */
    int prompt_tokens;     /* prompt length, voice rows included (docs/MODEL.md §2.1) */
    int prefill_tokens;    /* prompt positions run through the backbone in this call
                            * (the rest came from the voice's cached prefix) */
    int codec_calls;       /* codec decoder runs (streaming emissions) */
    int codec_frames;      /* frames decoded by the codec, equals the frames generated: each is decoded once */
    double prefill_s;      /* prompt: tokenizing, embedding, backbone prefill */
    double backbone_s;     /* per-frame backbone steps (feeding codes back) */
    double acoustic_s;     /* per-frame semantic head + flow matching (§5) */
    double codec_s;        /* codec decoder (§6), all emissions */
    double total_s;        /* the whole call */
    double ttfa_s;         /* call start to the first audio (first on_audio call, or the
                            * first decoded samples without on_audio); 0 if no audio */
} voxtts_synth_stats;

typedef struct voxtts_voice voxtts_voice; /* a voice of one's own (see "voices" below) */

typedef struct voxtts_synth_params {
    size_t struct_size; /* sizeof the struct, set by voxtts_synth_params_default: keep it */
    const char *voice;    /* preset name (case-insensitive) */
    /* When not NULL, speak with this voice instead of the preset `voice` names:
     * its rows replace the [AUDIO] placeholders (docs/MODEL.md §2.2, §2.3).  Its
     * prompt prefix is cached by the model like a preset's, keyed by the rows. */
    const voxtts_voice *voice_handle;
    uint64_t seed;        /* noise seed; default 42 (the reference server's default) */
    int max_frames;       /* default 2048 (164 s) */
    float cfg_alpha;      /* classifier-free guidance, default 1.2 */
    int n_steps;          /* Euler steps; 0 = params.json / default 7 */
    voxtts_progress_fn progress;
    void *progress_user;
    /* Streaming (docs/MODEL.md §8.4): when set, audio is decoded while frames are
     * generated and handed to on_audio: after the first frame, every 5 frames up to
     * 25, then every 25 frames, and at the end.  The concatenated pieces are
     * bit-identical to decoding all frames at once.  voxtts_audio.samples is then
     * NULL (n_samples still counts every sample streamed). */
    voxtts_audio_fn on_audio;
    void *audio_user;
    /* Experimental and disputed options (voxtts_debug.h); NULL: the official behaviour. */
    const struct voxtts_synth_debug *debug;
} voxtts_synth_params;

void voxtts_synth_params_default(voxtts_synth_params *p);

typedef struct voxtts_audio {
    float *samples;   /* n_samples mono samples at sample_rate, not clamped */
    size_t n_samples; /* n_frames * samples_per_frame */
    int sample_rate;
    int n_frames;
    int32_t *codes;   /* n_frames * n_codebooks offset codes (docs/MODEL.md §4) */
    int n_codebooks;
} voxtts_audio;

/* Text to audio.  Without on_audio, out->samples holds the whole waveform; with it,
 * the audio goes to the callback (see voxtts_synth_params).  On error or
 * cancellation (VOXTTS_E_CANCELLED) *out is left empty.  stats (may be NULL) is
 * filled whatever the outcome (the frames made before an error or cancellation). */
int voxtts_synthesize(voxtts_model *m, const char *text, const voxtts_synth_params *p,
                      voxtts_audio *out, voxtts_synth_stats *stats, voxtts_error *err);
void voxtts_audio_free(voxtts_audio *a);
/* Write a->samples as a 16-bit mono WAV at a->sample_rate (atomically: the file
 * appears whole or not at all). */
int voxtts_audio_save_wav(const voxtts_audio *a, const char *path, voxtts_error *err);

/* ---- audio files out -------------------------------------------------------- */

typedef enum voxtts_audio_format {
    VOXTTS_AUDIO_UNKNOWN = 0,
    VOXTTS_AUDIO_WAV,  /* RIFF/WAVE, 16-bit PCM (or 32-bit float, opts.float32) */
    VOXTTS_AUDIO_PCM,  /* raw signed 16-bit little-endian samples, no header */
    VOXTTS_AUDIO_FLAC, /* FLAC, 16-bit */
    VOXTTS_AUDIO_OGG,  /* Ogg/Vorbis */
    VOXTTS_AUDIO_OPUS, /* Ogg/Opus (rates 8000, 12000, 16000, 24000, 48000) */
    VOXTTS_AUDIO_MP3,  /* MPEG-1/2/2.5 layer III, constant bit rate */
} voxtts_audio_format;

/* The names voxtts_audio_format_from_name knows, for messages. */
#define VOXTTS_AUDIO_FORMAT_NAMES "wav, pcm (or raw), flac, ogg, opus, mp3"
/* The output rates a writer accepts (some formats take fewer). */
#define VOXTTS_AUDIO_MIN_RATE 1000
#define VOXTTS_AUDIO_MAX_RATE 768000

/* "wav", ".wav", "WAV", "pcm", "raw", "s16le", "flac", "ogg", "vorbis", "opus",
 * "mp3": the format, or VOXTTS_AUDIO_UNKNOWN. */
voxtts_audio_format voxtts_audio_format_from_name(const char *ext_or_name);
/* The format named by a path's extension (UNKNOWN when none or not one of ours). */
voxtts_audio_format voxtts_audio_format_from_path(const char *path);
/* Canonical name ("wav", "pcm", "flac", "ogg", "opus", "mp3"; "unknown"). */
const char *voxtts_audio_format_name(voxtts_audio_format f);
/* Can f be written at rate Hz?  VOXTTS_E_UNSUPPORTED with a message naming the
 * rates it takes otherwise (`what` names the output in the message). */
int voxtts_audio_format_check(voxtts_audio_format f, int rate, const char *what, voxtts_error *err);

typedef struct voxtts_audio_writer_opts {
    size_t struct_size; /* sizeof the struct, set by voxtts_audio_writer_opts_default: keep it */
    int float32;        /* wav only: 32-bit float samples (not clamped) instead of 16-bit PCM */
    int in_rate;        /* rate of the samples given to _write; 0 or the output rate: as is,
                         * otherwise resampled (high quality) */
} voxtts_audio_writer_opts;

void voxtts_audio_writer_opts_default(voxtts_audio_writer_opts *o);

/* A streaming mono writer of float samples (NaN written as 0; integer and lossy
 * formats clamp to [-1, 1]).  To a path: atomically (written beside it and
 * renamed over it by _close; _abort or a failed _close leave nothing); a FIFO
 * or device path is written directly.  To a descriptor (stdout, a pipe, a
 * file): as it comes, a WAV header's sizes fixed at the end when the
 * descriptor is a regular file; the descriptor is not closed.  To a callback:
 * every encoded byte goes to sink(bytes, n, user) in order as soon as it is
 * encoded, as into a pipe (the sink returns non-zero to fail the write).
 * `name` names a descriptor or sink in messages.  opts may be NULL. */
typedef struct voxtts_audio_writer voxtts_audio_writer;
typedef int (*voxtts_audio_sink_fn)(const void *bytes, size_t n, void *user);
int voxtts_audio_writer_open(voxtts_audio_writer **w, const char *path, voxtts_audio_format fmt,
                             int rate, const voxtts_audio_writer_opts *opts, voxtts_error *err);
int voxtts_audio_writer_open_fd(voxtts_audio_writer **w, int fd, const char *name,
                                voxtts_audio_format fmt, int rate,
                                const voxtts_audio_writer_opts *opts, voxtts_error *err);
int voxtts_audio_writer_open_sink(voxtts_audio_writer **w, voxtts_audio_sink_fn sink, void *user,
                                  const char *name, voxtts_audio_format fmt, int rate,
                                  const voxtts_audio_writer_opts *opts, voxtts_error *err);
int voxtts_audio_writer_write(voxtts_audio_writer *w, const float *samples, size_t n,
                              voxtts_error *err);
/* Finish (flush, fix the header, rename) and free. */
int voxtts_audio_writer_close(voxtts_audio_writer *w, voxtts_error *err);
/* Give up: free, and remove a path writer's temporary file.  NULL is fine. */
void voxtts_audio_writer_abort(voxtts_audio_writer *w);

/* Write n bytes to path atomically: the file appears whole or not at all (a
 * FIFO, character device or socket is written directly; links are followed). */
int voxtts_write_file_atomic(const char *path, const void *data, size_t n, voxtts_error *err);

/* ---- voices of one's own --------------------------------------------------- */

/* A voice is N rows of the LLM input space [N][dim] that replace the prompt's
 * [AUDIO] placeholders.  A voice made from codec codes (cloning, or given codes)
 * keeps its T frames of codes and has N = T + 1 rows: the sum of the audio
 * embedding rows of each frame (docs/MODEL.md §4) and the END frame [1, 0, ..., 0]
 * (§7 step 8).  A voice imported from an official-layout .pt has rows only.
 * Voices are saved in the voxtts voice format (docs/VOICE_FORMAT.md) or exported
 * in the official .pt layout.  Synthesis never changes a handle: one voice may
 * serve any number of syntheses (and models whose fingerprint matches); it is
 * freed with voxtts_voice_free. */

/* Called during cloning after each step; return non-zero to cancel. */
typedef int (*voxtts_clone_progress_fn)(int step, int max_steps, float loss, void *user);

/* Reference audio: VOXTTS_CLONE_MIN_SECONDS to VOXTTS_CLONE_MAX_SECONDS are
 * accepted (after the optional trimming); at most VOXTTS_CLONE_USE_SECONDS of it
 * are used (the start; the presets hold 5-17 s); audio whose level never rises
 * above -60 dBFS is refused as silent. */
#define VOXTTS_CLONE_MIN_SECONDS 1.0
#define VOXTTS_CLONE_MAX_SECONDS 60.0
#define VOXTTS_CLONE_USE_SECONDS 20.0

typedef struct voxtts_clone_params {
    size_t struct_size; /* sizeof the struct, set by voxtts_clone_params_default: keep it */
    const char *name;    /* the voice's name (default "voice") */
    uint64_t seed;       /* inversion seed (default 42) */
    int max_iters;       /* inversion step budget; 0: its default */
    voxtts_clone_progress_fn progress;
    void *progress_user;
    int trim_silence;    /* 1: drop leading/trailing audio 40 dB below the peak (default 0) */
    int highpass;        /* 1: 2nd-order high-pass at 70 Hz first (default 0) */
} voxtts_clone_params;

void voxtts_clone_params_default(voxtts_clone_params *p);

/* What a voice was made from and with (all strings NUL-terminated, "" if unknown). */
typedef struct voxtts_voice_info {
    char name[65];
    char method[16];           /* "encoder", "inversion", "codes", "imported", "preset" */
    char source[256];          /* the source file's base name */
    char source_sha256[65];    /* SHA-256 of the source file's bytes (hex) */
    double duration_s;         /* length of the source audio (0 if none) */
    int iterations;            /* inversion steps (method "inversion") */
    float final_loss;          /* inversion's last loss (method "inversion") */
    char created[32];          /* UTC, ISO 8601 "YYYY-MM-DDTHH:MM:SSZ" */
    char model_fingerprint[65];/* voxtts_model_fingerprint of the model that made the rows */
    int dim;                   /* row width */
    int n_codebooks;           /* codes per frame (0 without codes) */
    int n_frames;              /* T (0 without codes) */
    int n_rows;                /* N */
} voxtts_voice_info;

/* SHA-256 (hex) identifying the model tensors a voice's rows and codes depend on:
 * params sizes, the audio-code embedding table as stored and the codec's semantic
 * codebook (docs/VOICE_FORMAT.md).  Computed once per model (one pass over the table). */
int voxtts_model_fingerprint(voxtts_model *m, char hex[65], voxtts_error *err);
/* SHA-256 (hex) of a file's bytes. */
int voxtts_sha256_file(const char *path, char hex[65], voxtts_error *err);

/* A voice from T frames of offset codes [T][n_codebooks] (docs/MODEL.md §4: semantic
 * 2..S+1, acoustic 2..L+1); rows embedded with m. */
int voxtts_voice_from_codes(voxtts_model *m, const int32_t *codes, int n_frames, const char *name,
                            voxtts_voice **out, voxtts_error *err);
/* A copy of a preset voice's rows (method "preset", no codes). */
int voxtts_voice_from_preset(voxtts_model *m, const char *preset, voxtts_voice **out,
                             voxtts_error *err);
/* Clone a voice from mono samples at any rate (resampled to the model's rate):
 * the codec encoder when the model has one, otherwise analysis-by-synthesis
 * through the codec decoder (slow).  VOXTTS_E_UNSUPPORTED when this build has
 * neither. */
int voxtts_voice_clone(voxtts_model *m, const float *samples, size_t n, int rate,
                       const voxtts_clone_params *p, voxtts_voice **out, voxtts_error *err);
/* Give the model codec-encoder weights from a safetensors file (tensor names as
 * in the checkpoint, audio_tokenizer.input_proj..., audio_tokenizer.encoder_blocks...;
 * the open checkpoint has none), so that cloning encodes instead of inverting. */
int voxtts_model_attach_encoder(voxtts_model *m, const char *safetensors_path, voxtts_error *err);
/* 1 when the model has codec-encoder weights (its own or attached). */
int voxtts_model_has_encoder(const voxtts_model *m);
/* The same from an audio file (any format and rate libsndfile reads, mixed to
 * mono); records the file's name, SHA-256 and duration as the voice's source. */
int voxtts_voice_clone_file(voxtts_model *m, const char *audio_path, const voxtts_clone_params *p,
                            voxtts_voice **out, voxtts_error *err);
/* Load a voice file (docs/VOICE_FORMAT.md), an official-layout .pt, or an int32
 * .npy of offset codes [T, n_codebooks] (needs m; method "codes"), told apart by
 * their first bytes.  With a model (may be NULL) the voice is checked against it:
 * a voice with codes made with another model (fingerprint) gets its rows embedded
 * again with this one; rows without codes must have the model's width. */
int voxtts_voice_load(voxtts_model *m, const char *path, voxtts_voice **out, voxtts_error *err);
/* Save in the voxtts voice format (atomically). */
int voxtts_voice_save(const voxtts_voice *v, const char *path, voxtts_error *err);
/* Export the rows [N][dim] as BF16 in the official .pt layout (docs/MODEL.md §1.4);
 * other stacks need tekken.json's audio.voice_num_audio_tokens[name] = N. */
int voxtts_voice_export_pt(const voxtts_voice *v, const char *path, voxtts_error *err);
/* Export codes as int32 .npy [T, n_codebooks] and/or rows as float32 .npy [N, dim]
 * (either path may be NULL; codes_path needs a voice with codes). */
int voxtts_voice_export_npy(const voxtts_voice *v, const char *codes_path, const char *rows_path,
                            voxtts_error *err);
/* Record the source of a voice: base name, SHA-256 and duration of `path`'s audio
 * (duration_s as the caller measured it). */
int voxtts_voice_set_source(voxtts_voice *v, const char *path, double duration_s,
                            voxtts_error *err);
/* Rename (1..64 characters of [A-Za-z0-9_.-], not starting with '.'). */
int voxtts_voice_set_name(voxtts_voice *v, const char *name, voxtts_error *err);
/* 1 when `name` is acceptable to voxtts_voice_set_name. */
int voxtts_voice_name_valid(const char *name);

const char *voxtts_voice_name(const voxtts_voice *v);
int voxtts_voice_n_frames(const voxtts_voice *v);   /* T, 0 without codes */
int voxtts_voice_n_rows(const voxtts_voice *v);     /* N */
int voxtts_voice_dim(const voxtts_voice *v);
const int32_t *voxtts_voice_codes(const voxtts_voice *v); /* [T][n_codebooks] or NULL */
const float *voxtts_voice_rows(const voxtts_voice *v);    /* [N][dim] */
int voxtts_voice_get_info(const voxtts_voice *v, voxtts_voice_info *out);
/* Codes back from a voice's rows (a preset, an imported .pt): each row
 * decomposed as a sum of one audio-embedding row per codebook (docs/MODEL.md §4,
 * coordinate descent), the last row the END frame.  *out: a copy of v with those
 * T = N - 1 frames of codes (rows unchanged); *rel_residual (may be NULL): the
 * largest ||row - embed(codes)|| / ||row||.  VOXTTS_E_FORMAT when the rows are
 * not such sums for this model (residual above 1e-2, or no END row). */
int voxtts_voice_recover_codes(voxtts_model *m, const voxtts_voice *v, voxtts_voice **out,
                               float *rel_residual, voxtts_error *err);
/* Decode the voice's codes to audio with m's codec (out as from voxtts_synthesize;
 * out->codes holds a copy of the codes).  VOXTTS_E_ARG for a voice without codes. */
int voxtts_voice_preview(voxtts_model *m, const voxtts_voice *v, voxtts_audio *out,
                         voxtts_error *err);
void voxtts_voice_free(voxtts_voice *v);

/* ---- long-form text: splitting and chunked synthesis ---------------------- */

/* How text is cut into chunks (rules: src/text/splitter.h). */
typedef struct voxtts_split_params {
    size_t struct_size; /* sizeof the struct, set by voxtts_split_params_default: keep it */
    const char *lang; /* "en" "fr" "es" "de" "it" "pt" "nl" "ar" "hi"; NULL or "auto": all */
    int max_tokens;   /* text tokens per chunk; 0: default 120 */
    int max_frames;   /* the per-chunk frame cap; chunks are kept well below it
                       * (estimated duration <= 3/4 of it, but at least 64 tokens); 0: none */
    int normalize;    /* 1: clean the text up first (markup, entities, invisible
                       * characters, whitespace, punctuation runs; docs/MODEL.md §2.5) */
} voxtts_split_params;

void voxtts_split_params_default(voxtts_split_params *p);

typedef struct voxtts_chunk {
    char *text;          /* what is spoken, NUL-terminated, ends in terminal punctuation */
    int n_tokens;        /* its text tokens */
    int est_frames;      /* estimated frames (voxtts_estimate_frames) */
    int paragraph;       /* index of its paragraph (0-based) */
    int paragraph_start; /* 1: first chunk of its paragraph */
} voxtts_chunk;

typedef struct voxtts_chunks {
    voxtts_chunk *chunk;
    size_t n;
    int token_budget; /* the budget the chunks were packed to */
} voxtts_chunks;

/* Split UTF-8 text into chunks with the tokenizer's counts.  Text with nothing
 * to speak is VOXTTS_E_ARG ("text is empty"); invalid UTF-8 too, naming the offset. */
int voxtts_split_text(const voxtts_tokenizer *tk, const char *text, size_t len,
                      const voxtts_split_params *p, voxtts_chunks *out, voxtts_error *err);
/* The same with a model's tokenizer. */
int voxtts_model_split_text(voxtts_model *m, const char *text, size_t len,
                            const voxtts_split_params *p, voxtts_chunks *out, voxtts_error *err);
void voxtts_chunks_free(voxtts_chunks *c);
/* What voxtts_split_text would refuse without a tokenizer: bad params (language
 * name, limits) and text that is not valid UTF-8 (naming the offset), so that
 * a program can check its input before loading a model. */
int voxtts_split_check(const char *text, size_t len, const voxtts_split_params *p,
                       voxtts_error *err);
/* Frames (80 ms) a chunk of n text tokens is estimated to take, generously. */
int voxtts_estimate_frames(int n_tokens);

/* What voxtts_synthesize_chunks reports while it works. */
enum { VOXTTS_LONG_FRAME = 1, VOXTTS_LONG_CHUNK_DONE = 2 };
typedef struct voxtts_long_event {
    int type;                         /* VOXTTS_LONG_FRAME after each frame, _CHUNK_DONE after each chunk */
    size_t chunk, n_chunks;           /* the chunk (0-based) */
    const voxtts_chunk *c;
    int chunk_frames;                 /* its frames so far (CHUNK_DONE: all of them) */
    int hit_cap;                      /* CHUNK_DONE: it reached max_frames without END_AUDIO */
    const voxtts_synth_stats *chunk_stats; /* CHUNK_DONE: its voxtts_synthesize stats */
    long long frames_total;           /* frames of every chunk so far, this one's included */
    unsigned long long samples_total; /* samples handed to on_audio so far, pauses included */
    double elapsed_s;                 /* since the call started */
} voxtts_long_event;
/* Return non-zero to cancel (VOXTTS_E_CANCELLED). */
typedef int (*voxtts_long_fn)(const voxtts_long_event *ev, void *user);

typedef struct voxtts_long_params {
    size_t struct_size; /* sizeof the struct, set by voxtts_long_params_default: keep it */
    voxtts_synth_params synth; /* used for every chunk (same seed each time); synth.on_audio
                                * is required (the audio is streamed, never held whole);
                                * synth.progress is not used */
    voxtts_split_params split; /* voxtts_synthesize_long only; split.max_frames 0: synth.max_frames */
    int pause_paragraph_ms;    /* silence before a chunk that starts a paragraph (default 500) */
    int pause_chunk_ms;        /* silence between chunks of one paragraph (default 100) */
    voxtts_long_fn on_event;
    void *event_user;
} voxtts_long_params;

void voxtts_long_params_default(voxtts_long_params *p);

typedef struct voxtts_long_stats {
    size_t chunks;          /* chunks synthesized */
    size_t capped;          /* of which reached max_frames without END_AUDIO */
    long long frames;       /* frames generated, all chunks */
    unsigned long long samples; /* samples streamed, pauses included */
    double total_s;         /* the whole call */
} voxtts_long_stats;

/* Speak the chunks in order into p->synth.on_audio, with the pauses between them.
 * Errors name the chunk.  stats may be NULL. */
int voxtts_synthesize_chunks(voxtts_model *m, const voxtts_chunks *chunks,
                             const voxtts_long_params *p, voxtts_long_stats *stats,
                             voxtts_error *err);
/* Split (p->split) and speak: voxtts_model_split_text + voxtts_synthesize_chunks. */
int voxtts_synthesize_long(voxtts_model *m, const char *text, size_t len,
                           const voxtts_long_params *p, voxtts_long_stats *stats,
                           voxtts_error *err);

/* ---- quantizing: one GGUF file from a model ---------------------------------
 * A model (the official directory, or a voxtts GGUF to re-quantize) written as
 * one GGUF file with params.json, tekken.json and the preset voices inside, the
 * weights in the types a type mix chooses:
 *   one type for every component: "f32" "f16" "bf16" "q8_0" "q4_k";
 *   "best" (VOXTTS_TYPE_MIX_BEST);
 *   a list such as "backbone=q4_k,acoustic=q8_0" (components: backbone, acoustic,
 *   heads, codec, embeddings; those unnamed keep their stored type).
 * Norms, scales, convolutions and the semantic codebook keep their stored type;
 * q4_k needs rows of a multiple of 256 values and falls back to q8_0 (multiple
 * of 32), then f16.  Nothing of the model's size is held in memory; the output
 * appears whole or not at all (an error or cancellation leaves nothing). */
#define VOXTTS_TYPE_MIX_BEST "backbone=q4_k,acoustic=q4_k,heads=q8_0,codec=q8_0,embeddings=q8_0"

/* What a quantization writes: one row per component (and "voices") and type. */
typedef struct voxtts_quantize_row {
    const char *component; /* "backbone" "acoustic" "heads" "codec" "embeddings" "other" "voices" */
    const char *type;      /* "F32" "BF16" "F16" "Q8_0" "Q4_K" */
    int64_t tensors;
    uint64_t bytes;        /* written */
    uint64_t input_bytes;  /* read */
} voxtts_quantize_row;

#define VOXTTS_QUANTIZE_MAX_ROWS 64

typedef struct voxtts_quantize_report {
    char type_mix[512];      /* the mix recorded in the file (voxtts.type_mix) */
    int n_voices;            /* preset voices included */
    int n_voices_missing;    /* named by params.json but not found (looked for beside
                              * the file at load time) */
    int has_tokenizer;       /* tekken.json included */
    voxtts_quantize_row rows[VOXTTS_QUANTIZE_MAX_ROWS];
    int n_rows;
    int64_t tensors;         /* totals of the rows */
    uint64_t bytes, input_bytes;
    /* after writing (0 on a dry run) */
    uint64_t file_bytes;     /* the output file's size */
    double seconds;          /* the whole call */
    int n_threads;           /* threads used */
} voxtts_quantize_report;

typedef struct voxtts_quantize_params {
    size_t struct_size; /* sizeof the struct, set by voxtts_quantize_params_default: keep it */
    const char *input;  /* model directory or voxtts GGUF */
    const char *output; /* the GGUF file to write (not written with dry_run) */
    const char *type;   /* the type mix (required) */
    int n_threads;      /* 0: all cores */
    int dry_run;        /* 1: plan and report, write nothing */
    /* Called once the plan is made, before writing (report: all but the "after
     * writing" fields); may be NULL. */
    void (*on_plan)(const voxtts_quantize_report *r, void *user);
    /* Called as the output is written (bytes of tensor data); return non-zero to
     * cancel (VOXTTS_E_CANCELLED); may be NULL. */
    int (*progress)(uint64_t bytes_done, uint64_t bytes_total, void *user);
    void *user;
} voxtts_quantize_params;

void voxtts_quantize_params_default(voxtts_quantize_params *p);
/* VOXTTS_OK when `type` is a type mix voxtts_quantize accepts, else VOXTTS_E_ARG
 * saying what is wrong. */
int voxtts_type_mix_check(const char *type, voxtts_error *err);
/* Quantize p->input into p->output; report (may be NULL) describes what was (or,
 * with dry_run, would be) written.  A bad type mix is VOXTTS_E_ARG. */
int voxtts_quantize(const voxtts_quantize_params *p, voxtts_quantize_report *report,
                    voxtts_error *err);

/* ---- engine: many utterances at once --------------------------------------
 * A scheduler that owns a model and advances several independent requests one
 * frame per step: the backbone runs every active request as one row of the same
 * products (each row with its own position and KV cache), the acoustic head all
 * of their frames together, so the weights are read once per step for all of
 * them.  Each request keeps its own noise stream (seeded as voxtts_synthesize
 * does), codec state and callbacks: its codes and samples are bit-identical to
 * voxtts_synthesize with the same text and params, alone.  New requests are
 * prefilled between steps (long prompts in chunks, so running requests keep
 * streaming); a request leaves as soon as it ends (END_AUDIO, max_frames, an
 * error, or cancellation).
 *
 * Threading: the engine, and the model it uses, are driven by one thread at a
 * time (the caller's); callbacks run on that thread, inside voxtts_engine_step,
 * and may call voxtts_engine_submit and voxtts_engine_cancel (not step, run or
 * free).  The model must not be used by anything else while the engine exists.
 * No global state: several engines on several models may coexist. */
typedef struct voxtts_engine voxtts_engine;

/* max_batch: the most requests advanced together (1..256); more wait in a queue. */
int voxtts_engine_create(voxtts_model *m, int max_batch, voxtts_engine **out, voxtts_error *err);
/* Frees every request too, finished or not (callbacks are not called). */
void voxtts_engine_free(voxtts_engine *e);
/* Queue a request; text is copied, p (NULL: defaults) is copied, and its progress
 * and on_audio callbacks are used for this request.  Bad params, voice or text
 * fail here.  *id > 0. */
int voxtts_engine_submit(voxtts_engine *e, const char *text, const voxtts_synth_params *p,
                         int64_t *id, voxtts_error *err);
/* One step: admit and prefill queued requests (as slots allow), then one frame for
 * every running request.  Errors of one request end that request only; the
 * return value is an error of the engine itself (VOXTTS_OK normally). */
int voxtts_engine_step(voxtts_engine *e, voxtts_error *err);
/* Steps until no request is queued or running. */
int voxtts_engine_run(voxtts_engine *e, voxtts_error *err);
/* Requests queued or running (not yet finished). */
int voxtts_engine_pending(const voxtts_engine *e);
/* End a queued or running request now: it finishes with VOXTTS_E_CANCELLED.
 * VOXTTS_E_ARG if id is unknown or already finished. */
int voxtts_engine_cancel(voxtts_engine *e, int64_t id, voxtts_error *err);

enum { VOXTTS_REQ_UNKNOWN = 0, VOXTTS_REQ_QUEUED, VOXTTS_REQ_RUNNING, VOXTTS_REQ_DONE };
/* The state of a request (VOXTTS_REQ_UNKNOWN once taken, or never submitted). */
int voxtts_engine_status(const voxtts_engine *e, int64_t id);
/* The id of a finished request not yet taken (oldest first): 1, or 0 if none. */
int voxtts_engine_poll(const voxtts_engine *e, int64_t *id);
/* Take a finished request's result and forget it: returns its outcome (VOXTTS_OK,
 * or its error with the message in req_err) and fills *out as voxtts_synthesize
 * would (empty on error or cancellation), and *stats (may be NULL) with the
 * request's statistics: backbone_s and acoustic_s are the wall time of the
 * batched steps it took part in, shared with the others.  VOXTTS_E_ARG (in
 * req_err) if id is unknown or not finished. */
int voxtts_engine_take(voxtts_engine *e, int64_t id, voxtts_audio *out, voxtts_synth_stats *stats,
                       voxtts_error *req_err);

/* Totals of an engine since its creation (seconds, wall clock). */
typedef struct voxtts_engine_stats {
    int64_t steps;          /* frame steps (each advances every running request) */
    int64_t backbone_steps; /* batched backbone steps (a request's last frame is not fed back) */
    int64_t frames;         /* frames generated, all requests */
    int64_t rows;           /* sum over steps of the requests in the step */
    int max_rows;           /* most requests in one step */
    int64_t prefill_tokens; /* prompt positions run through the backbone */
    double prefill_s, backbone_s, acoustic_s, codec_s;
} voxtts_engine_stats;
void voxtts_engine_get_stats(const voxtts_engine *e, voxtts_engine_stats *st);

#ifdef __cplusplus
}
#endif
#endif
