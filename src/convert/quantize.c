/* quantize.c — voxtts_quantize: write a model as one GGUF file (layout:
 * src/voxtral/gguf_model.c) with per-component weight types, params.json,
 * tekken.json and the preset voices inside.  `voxtts quantize` (cli/quantize.c)
 * is a thin client of it.
 *
 * The input is a model directory in the official layout (params.json,
 * tekken.json, consolidated.safetensors, voice_embedding/<name>.pt) or a voxtts
 * GGUF (to re-quantize).  The type mix is parsed by vox_type_mix_parse
 * (type_mix.h): one type for every component, "best", or a component list;
 * tensors outside every component (norms, scales, convolutions, the codebook)
 * and those a block format cannot hold keep or fall back as vox_type_mix_choose
 * decides; components a list leaves unset keep a GGUF input's types.
 *
 * Memory: nothing of the size of the model is ever held.  The input stays
 * mapped; the GGUF writer asks for each tensor a few MB of rows at a time, which
 * are converted (widened to f32 one row at a time, then vox_quantize_row) on all
 * threads, and the input pages just read are handed back to the kernel at once
 * (madvise), so the resident set stays near the writer's buffer plus the
 * embedded text files and voices however large the checkpoint is.
 *
 * The output appears atomically (vox_gguf_write renames a temporary file on
 * success); on any failure or cancellation nothing is left at the output path. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/threadpool.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "io/torch_pt.h"
#include "tensor/quant.h"
#include "text/tekken.h"
#include "voxtral/config.h"
#include "voxtral/gguf_model.h"
#include "voxtral/type_mix.h"

/* ---- input ------------------------------------------------------------------- */

typedef struct voice_in {
    char *name;           /* as in params.json */
    vox_tensor t;         /* view: into the input GGUF, or `owned` */
    uint16_t *owned;      /* BF16 rows read from a .pt file */
} voice_in;

typedef struct input {
    const char *path;
    int is_gguf;
    vox_safetensors *st;  /* directory input */
    vox_gguf *g;          /* GGUF input */
    char *params;         /* params.json text (owned, or copied from the GGUF) */
    size_t params_len;
    char *tekken;         /* tekken.json text; NULL if none */
    size_t tekken_len;
    char *dir;            /* where voice_embedding/ is looked for */
    vox_config cfg;
    int have_cfg;
    char *old_mix;        /* the input GGUF's voxtts.type_mix, if any */
    voice_in voices[VOX_MAX_VOICES];
    int n_voices;
    int n_voices_missing;
} input;

/* Read a whole small file (params.json, tekken.json); VOX_E_MISSING if absent. */
static int read_file(const char *path, char **out, size_t *len, vox_error *err) {
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return vox_fail(err, errno == ENOENT ? VOX_E_MISSING : VOX_E_IO, "%s: cannot open: %s", path,
                        strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return vox_fail(err, VOX_E_IO, "%s: not a regular file", path);
    }
    if (sb.st_size <= 0 || (uint64_t)sb.st_size > ((uint64_t)1 << 30)) {
        fclose(f);
        return vox_fail(err, VOX_E_FORMAT, "%s: implausible size %lld bytes", path,
                        (long long)sb.st_size);
    }
    size_t n = (size_t)sb.st_size;
    char *b = malloc(n + 1);
    if (!b) {
        fclose(f);
        return vox_fail(err, VOX_E_NOMEM, "out of memory reading %s", path);
    }
    size_t got = fread(b, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (got != n || bad) {
        free(b);
        return vox_fail(err, VOX_E_IO, "%s: short read (%zu of %zu bytes)", path, got, n);
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return VOX_OK;
}

static char *path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

static char *dup_gguf_str(vox_gguf_str s) {
    char *c = malloc(s.len + 1);
    if (!c) return NULL;
    if (s.len) memcpy(c, s.ptr, s.len);
    c[s.len] = '\0';
    return c;
}

/* A voice from voice_embedding/<name>.pt in in->dir, as BF16; *found = 0 when the
 * file does not exist (the voice is then simply not included). */
static int voice_from_pt(input *in, voice_in *v, int expect_n, int *found, vox_error *err) {
    *found = 0;
    char rel[600];
    snprintf(rel, sizeof rel, "voice_embedding/%s.pt", v->name);
    char *path = path_join(in->dir, rel);
    if (!path) return vox_fail(err, VOX_E_NOMEM, "out of memory");
    struct stat sb;
    if (stat(path, &sb) != 0) {
        free(path);
        return VOX_OK;
    }
    vox_pt_tensor t;
    memset(&t, 0, sizeof t);
    int rc = vox_pt_load_tensor(path, &t, err);
    if (!rc && (t.ndim != 2 || t.shape[1] != in->cfg.llm.dim ||
                (expect_n >= 0 && t.shape[0] != expect_n)))
        rc = vox_fail(err, VOX_E_SHAPE,
                      "%s: voice tensor is not [%d, %d] (rows from tekken.json, dim from params.json)",
                      path, expect_n, in->cfg.llm.dim);
    if (!rc) {
        size_t n = (size_t)t.shape[0] * (size_t)t.shape[1];
        v->owned = malloc(n * sizeof *v->owned + 1);
        if (!v->owned) {
            rc = vox_fail(err, VOX_E_NOMEM, "out of memory for voice %s", path);
        } else {
            for (size_t i = 0; i < n; i++) v->owned[i] = vox_f32_to_bf16(t.data[i]);
            v->t.dtype = VOX_BF16;
            v->t.ndim = 2;
            v->t.shape[0] = t.shape[0];
            v->t.shape[1] = t.shape[1];
            v->t.data = v->owned;
            v->t.nbytes = n * 2;
            *found = 1;
        }
    }
    vox_pt_tensor_free(&t);
    free(path);
    return rc;
}

/* Every preset voice named in params.json that can be found: in the input GGUF
 * first, then as a .pt file beside the input. */
static int gather_voices(input *in, vox_error *err) {
    vox_tekken *tk = NULL;
    int rc;
    if (in->tekken) {
        char label[600];
        snprintf(label, sizeof label, "%s (tekken.json)", in->path);
        if ((rc = vox_tekken_load_buffer(in->tekken, in->tekken_len, label, &tk, err))) return rc;
    }
    rc = VOX_OK;
    for (int i = 0; i < in->cfg.n_voices && !rc; i++) {
        voice_in *v = &in->voices[in->n_voices];
        memset(v, 0, sizeof *v);
        if (!(v->name = strdup(in->cfg.voice_names[i]))) {
            rc = vox_fail(err, VOX_E_NOMEM, "out of memory");
            break;
        }
        int expect_n = tk ? vox_tekken_voice_num_tokens(tk, v->name) : -1;
        int found = 0;
        if (in->g) {
            char tname[600];
            snprintf(tname, sizeof tname, "%s%s", VOX_GGUF_VOICE_PREFIX, v->name);
            const vox_tensor *t = vox_gguf_find(in->g, tname);
            if (t) {
                if (t->ndim != 2 || t->shape[1] != in->cfg.llm.dim ||
                    (expect_n >= 0 && t->shape[0] != expect_n)) {
                    rc = vox_fail(err, VOX_E_SHAPE, "%s: tensor '%s' is not [%d, %d]", in->path, tname,
                                  expect_n, in->cfg.llm.dim);
                    free(v->name);
                    break;
                }
                v->t = *t;
                found = 1;
            }
        }
        if (!found && (rc = voice_from_pt(in, v, expect_n, &found, err))) {
            free(v->name);
            break;
        }
        if (found) {
            in->n_voices++;
        } else {
            in->n_voices_missing++;
            free(v->name);
        }
    }
    vox_tekken_free(tk);
    return rc;
}

static int open_input(input *in, const char *path, vox_error *err) {
    memset(in, 0, sizeof *in);
    in->path = path;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return vox_fail(err, VOX_E_IO, "input %s: %s", path, strerror(errno));
    int rc;
    char *p = NULL;
    if (S_ISDIR(sb.st_mode)) {
        if (!(in->dir = strdup(path))) return vox_fail(err, VOX_E_NOMEM, "out of memory");
        if (!(p = path_join(path, "params.json"))) return vox_fail(err, VOX_E_NOMEM, "out of memory");
        rc = read_file(p, &in->params, &in->params_len, err);
        if (!rc) rc = vox_config_parse(in->params, in->params_len, p, &in->cfg, err);
        free(p);
        if (rc) return rc;
        in->have_cfg = 1;
        if (!(p = path_join(path, "tekken.json"))) return vox_fail(err, VOX_E_NOMEM, "out of memory");
        rc = read_file(p, &in->tekken, &in->tekken_len, err);
        free(p);
        if (rc && rc != VOX_E_MISSING) return rc;
        if (!(p = path_join(path, "consolidated.safetensors")))
            return vox_fail(err, VOX_E_NOMEM, "out of memory");
        rc = vox_safetensors_open(p, &in->st, err);
        free(p);
        if (rc) return rc;
    } else {
        if (!vox_path_is_gguf(path))
            return vox_fail(err, VOX_E_FORMAT,
                            "input %s is neither a model directory nor a GGUF file", path);
        in->is_gguf = 1;
        if ((rc = vox_gguf_open(path, &in->g, err))) return rc;
        if ((rc = vox_gguf_model_check(in->g, err))) return rc;
        if (!(in->dir = vox_path_dirname(path))) return vox_fail(err, VOX_E_NOMEM, "out of memory");
        vox_gguf_str s;
        if ((rc = vox_gguf_get_str(in->g, VOX_GGUF_KEY_PARAMS, &s, err))) return rc;
        if (!(in->params = dup_gguf_str(s))) return vox_fail(err, VOX_E_NOMEM, "out of memory");
        in->params_len = s.len;
        if ((rc = vox_gguf_model_config(in->g, &in->cfg, err))) return rc;
        in->have_cfg = 1;
        if (vox_gguf_find_key(in->g, VOX_GGUF_KEY_TEKKEN) >= 0) {
            if ((rc = vox_gguf_get_str(in->g, VOX_GGUF_KEY_TEKKEN, &s, err))) return rc;
            if (!(in->tekken = dup_gguf_str(s))) return vox_fail(err, VOX_E_NOMEM, "out of memory");
            in->tekken_len = s.len;
        } else {
            if (!(p = path_join(in->dir, "tekken.json"))) return vox_fail(err, VOX_E_NOMEM, "out of memory");
            rc = read_file(p, &in->tekken, &in->tekken_len, err);
            free(p);
            if (rc && rc != VOX_E_MISSING) return rc;
        }
        if (vox_gguf_find_key(in->g, VOX_GGUF_KEY_TYPE_MIX) >= 0 &&
            vox_gguf_get_str(in->g, VOX_GGUF_KEY_TYPE_MIX, &s, NULL) == VOX_OK &&
            !(in->old_mix = dup_gguf_str(s)))
            return vox_fail(err, VOX_E_NOMEM, "out of memory");
    }
    return gather_voices(in, err);
}

static void close_input(input *in) {
    for (int i = 0; i < in->n_voices; i++) {
        free(in->voices[i].name);
        free(in->voices[i].owned);
    }
    if (in->have_cfg) vox_config_free(&in->cfg);
    free(in->params);
    free(in->tekken);
    free(in->dir);
    free(in->old_mix);
    vox_safetensors_close(in->st);
    vox_gguf_close(in->g);
}

static int64_t input_n_tensors(const input *in) {
    return in->g ? vox_gguf_n_tensors(in->g) : (int64_t)vox_safetensors_count(in->st);
}

/* Name and view of input tensor i. */
static const vox_tensor *input_tensor(const input *in, int64_t i, const char **name, char *buf,
                                      size_t buflen) {
    if (in->g) {
        const vox_gguf_tensor_info *ti = vox_gguf_tensor_at(in->g, i);
        snprintf(buf, buflen, "%.*s", (int)ti->name.len, ti->name.ptr);
        *name = buf;
        return &ti->view;
    }
    *name = vox_safetensors_name(in->st, (size_t)i);
    return vox_safetensors_find(in->st, *name);
}

/* ---- conversion ---------------------------------------------------------------- */

typedef struct job job;

typedef struct qctx {
    vox_pool *pool;
    int n_threads;
    float *scratch;       /* [n_threads][max_row] */
    int64_t max_row;
    uint64_t bytes_total, bytes_done;
    const voxtts_quantize_params *p; /* its progress callback */
    int cancelled;
    long page;
} qctx;

struct job {
    qctx *q;
    char *name;
    const vox_tensor *src;
    vox_tensor flat;      /* src seen as [rows, row_len] (row = innermost dimension) */
    vox_dtype out;
    vox_component comp;
    int64_t row_len, n_rows;
    size_t src_rb, dst_rb;
    int mapped;           /* src lives in the input mapping: release pages once read */
    unsigned char *dst;   /* set per fill call */
    int64_t row0;
};

/* Hand pages of the input mapping back once read: they are clean file pages, so
 * a later access simply reads them again.  Keeps the resident set small. */
static void release_pages(const qctx *q, const void *p, size_t n) {
    if (!n || q->page <= 0) return;
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(q->page - 1);
    uintptr_t e = ((uintptr_t)p + n + (uintptr_t)q->page - 1) & ~(uintptr_t)(q->page - 1);
    (void)madvise((void *)a, (size_t)(e - a), MADV_DONTNEED);
}

static void convert_rows(void *ctx, int64_t begin, int64_t end, int tid) {
    job *j = ctx;
    float *tmp = j->q->scratch + (size_t)tid * (size_t)j->q->max_row;
    for (int64_t r = begin; r < end; r++) {
        vox_tensor_get_row(&j->flat, j->row0 + r, tmp);
        /* the row length was checked against the block size when planning */
        (void)vox_quantize_row(j->out, tmp, j->dst + (size_t)r * j->dst_rb, j->row_len);
    }
}

static int fill_rows(void *user, int64_t row0, int64_t n_rows, void *buf, vox_error *err) {
    job *j = user;
    qctx *q = j->q;
    if (row0 < 0 || n_rows < 0 || row0 + n_rows > j->n_rows)
        return vox_fail(err, VOX_E_INTERNAL, "tensor '%s': rows %lld..%lld out of range", j->name,
                        (long long)row0, (long long)(row0 + n_rows));
    const unsigned char *src = (const unsigned char *)j->src->data + (size_t)row0 * j->src_rb;
    if (j->out == j->src->dtype) {
        memcpy(buf, src, (size_t)n_rows * j->src_rb);
    } else {
        j->dst = buf;
        j->row0 = row0;
        int64_t chunk = n_rows / ((int64_t)q->n_threads * 4);
        vox_pool_for(q->pool, n_rows, chunk < 1 ? 1 : chunk, convert_rows, j);
    }
    if (j->mapped) release_pages(q, src, (size_t)n_rows * j->src_rb);
    q->bytes_done += (uint64_t)n_rows * j->dst_rb;
    if (q->p->progress && q->p->progress(q->bytes_done, q->bytes_total, q->p->user)) {
        q->cancelled = 1;
        return vox_fail(err, VOX_E_CANCELLED, "quantizing cancelled by the progress callback");
    }
    return VOX_OK;
}

/* ---- the mix ----------------------------------------------------------------- */

/* Components the new mix leaves unset keep the input GGUF's types: report them
 * as such in voxtts.type_mix ("backbone=q4_k" applied to a q8_0 file gives
 * backbone=q4_k and q8_0 elsewhere). */
static void inherit_mix(vox_type_mix *mix, const char *old) {
    if (!old) return;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", old);
    char *save = NULL;
    for (char *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(it, '=');
        if (!eq) continue;
        *eq = '\0';
        int t = vox_dtype_parse(eq + 1);
        for (int c = 0; c < VOX_COMP_OTHER && t >= 0; c++)
            if (!mix->set[c] && strcmp(it, vox_component_name((vox_component)c)) == 0) {
                mix->set[c] = 1;
                mix->type[c] = (vox_dtype)t;
            }
    }
}

/* ---- the report ----------------------------------------------------------------- */

enum { SUM_VOICES = VOX_N_COMPONENTS, SUM_ROWS };
#define N_DTYPES 5

typedef struct summary {
    int64_t tensors[SUM_ROWS][N_DTYPES];
    uint64_t bytes[SUM_ROWS][N_DTYPES];
    uint64_t in_bytes[SUM_ROWS][N_DTYPES];
} summary;

/* The summary as report rows: components in order, then voices; types from the
 * widest to the narrowest. */
static void report_rows(const summary *s, voxtts_quantize_report *r) {
    static const vox_dtype order[N_DTYPES] = {VOX_F32, VOX_BF16, VOX_F16, VOX_Q8_0, VOX_Q4_K};
    r->n_rows = 0;
    r->tensors = 0;
    r->bytes = r->input_bytes = 0;
    for (int c = 0; c < SUM_ROWS; c++)
        for (int k = 0; k < N_DTYPES; k++) {
            vox_dtype d = order[k];
            if (!s->tensors[c][d] || r->n_rows == VOXTTS_QUANTIZE_MAX_ROWS) continue;
            voxtts_quantize_row *row = &r->rows[r->n_rows++];
            row->component = c == SUM_VOICES ? "voices" : vox_component_name((vox_component)c);
            row->type = vox_dtype_name(d);
            row->tensors = s->tensors[c][d];
            row->bytes = s->bytes[c][d];
            row->input_bytes = s->in_bytes[c][d];
            r->tensors += row->tensors;
            r->bytes += row->bytes;
            r->input_bytes += row->input_bytes;
        }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- voxtts_quantize --------------------------------------------------------------- */

int voxtts_type_mix_check(const char *type, voxtts_error *err) {
    vox_type_mix mix;
    if (!type) return vox_fail(err, VOX_E_ARG, "no type mix");
    return vox_type_mix_parse(type, &mix, err);
}

void voxtts_quantize_params_default(voxtts_quantize_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
}

int voxtts_quantize(const voxtts_quantize_params *p, voxtts_quantize_report *report,
                    voxtts_error *err) {
    voxtts_quantize_report local;
    voxtts_quantize_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    if (!p) return vox_fail(err, VOX_E_ARG, "voxtts_quantize: params are NULL");
    int rc = vox_check_struct_size(err, "voxtts_quantize", "voxtts_quantize_params", p->struct_size,
                                   sizeof *p);
    if (rc) return rc;
    if (!p->input || !*p->input) return vox_fail(err, VOX_E_ARG, "voxtts_quantize: no input");
    if (!p->dry_run && (!p->output || !*p->output))
        return vox_fail(err, VOX_E_ARG, "voxtts_quantize: no output");
    if (!p->type || !*p->type)
        return vox_fail(err, VOX_E_ARG, "voxtts_quantize: no type mix (f32, f16, bf16, q8_0, q4_k, "
                                        "best or a component list)");
    if (p->n_threads < 0 || p->n_threads > 1024)
        return vox_fail(err, VOX_E_ARG, "voxtts_quantize: n_threads %d out of range (0..1024)",
                        p->n_threads);
    vox_type_mix mix;
    if ((rc = vox_type_mix_parse(p->type, &mix, err))) return rc;
    struct stat sb;
    if (!p->dry_run && stat(p->output, &sb) == 0 && S_ISDIR(sb.st_mode))
        return vox_fail(err, VOX_E_ARG,
                        "output %s is a directory (give a file name such as model-q8_0.gguf)",
                        p->output);

    const double t0 = now_s();
    input in;
    rc = open_input(&in, p->input, err);
    int64_t n_in = rc ? 0 : input_n_tensors(&in);
    job *jobs = rc ? NULL : calloc((size_t)(n_in > 0 ? n_in : 1), sizeof *jobs);
    vox_gguf_writer *w = NULL;
    qctx q;
    memset(&q, 0, sizeof q);
    q.p = p;
    q.page = sysconf(_SC_PAGESIZE);
    summary sum;
    memset(&sum, 0, sizeof sum);
    if (rc) goto done;
    if (!jobs) {
        rc = vox_fail(err, VOX_E_NOMEM, "out of memory");
        goto done;
    }
    inherit_mix(&mix, in.old_mix);
    vox_type_mix_format(&mix, rep->type_mix, sizeof rep->type_mix);

    if ((rc = vox_gguf_writer_new(&w, err))) goto done;
    char source[1024];
    snprintf(source, sizeof source, "voxtts %s quantize --type %s from %s %s", VOXTTS_VERSION, p->type,
             in.is_gguf ? "GGUF" : "directory", p->input);
    if ((rc = vox_gguf_add_str(w, VOX_GGUF_KEY_ARCH, VOX_GGUF_ARCH, err)) ||
        (rc = vox_gguf_add_u32(w, VOX_GGUF_KEY_VERSION, VOX_GGUF_FORMAT_VERSION, err)) ||
        (rc = vox_gguf_add_strn(w, VOX_GGUF_KEY_PARAMS, in.params, in.params_len, err)) ||
        (in.tekken && (rc = vox_gguf_add_strn(w, VOX_GGUF_KEY_TEKKEN, in.tekken, in.tekken_len, err))) ||
        (rc = vox_gguf_add_str(w, VOX_GGUF_KEY_TYPE_MIX, rep->type_mix, err)) ||
        (rc = vox_gguf_add_str(w, VOX_GGUF_KEY_SOURCE, source, err)))
        goto done;

    /* Plan every tensor: its output dtype and bytes. */
    int64_t n_jobs = 0;
    for (int64_t i = 0; i < n_in; i++) {
        char nbuf[1024];
        const char *name;
        const vox_tensor *t = input_tensor(&in, i, &name, nbuf, sizeof nbuf);
        if (in.g && strncmp(name, VOX_GGUF_VOICE_PREFIX, strlen(VOX_GGUF_VOICE_PREFIX)) == 0)
            continue; /* voices are handled below, only those params.json names */
        job *j = &jobs[n_jobs];
        j->q = &q;
        j->src = t;
        j->mapped = 1;
        if (!(j->name = strdup(name))) {
            rc = vox_fail(err, VOX_E_NOMEM, "out of memory");
            goto done;
        }
        n_jobs++;
        j->comp = vox_tensor_component(name);
        j->out = vox_type_mix_choose(&mix, name, t->dtype, t->ndim, t->shape);
        j->row_len = t->ndim == 0 ? 1 : t->shape[t->ndim - 1];
        int64_t numel = vox_tensor_numel(t);
        j->n_rows = j->row_len > 0 ? numel / j->row_len : 0;
        j->flat = *t;
        j->flat.ndim = 2;
        j->flat.shape[0] = j->n_rows;
        j->flat.shape[1] = j->row_len;
        j->src_rb = vox_dtype_row_bytes(t->dtype, j->row_len);
        j->dst_rb = vox_dtype_row_bytes(j->out, j->row_len);
        if (j->row_len % vox_quant_block_size(j->out) != 0) {
            rc = vox_fail(err, VOX_E_INTERNAL, "tensor '%s': rows of %lld values cannot be stored as %s",
                          name, (long long)j->row_len, vox_dtype_name(j->out));
            goto done;
        }
        if (j->out != t->dtype && j->row_len > q.max_row) q.max_row = j->row_len;
        q.bytes_total += (uint64_t)j->n_rows * j->dst_rb;
        sum.tensors[j->comp][j->out]++;
        sum.bytes[j->comp][j->out] += (uint64_t)j->n_rows * j->dst_rb;
        sum.in_bytes[j->comp][j->out] += t->nbytes;
        if (j->n_rows == 0 || numel == 0) {
            rc = vox_gguf_add_tensor(w, name, j->out, t->ndim, t->shape, t->data, 0, err);
        } else {
            rc = vox_gguf_add_tensor_fill(w, name, j->out, t->ndim, t->shape, fill_rows, j, err);
        }
        if (rc) goto done;
    }
    for (int i = 0; i < in.n_voices; i++) {
        const voice_in *v = &in.voices[i];
        char tname[600];
        snprintf(tname, sizeof tname, "%s%s", VOX_GGUF_VOICE_PREFIX, v->name);
        if ((rc = vox_gguf_add_tensor(w, tname, v->t.dtype, v->t.ndim, v->t.shape, v->t.data,
                                      v->t.nbytes, err)))
            goto done;
        sum.tensors[SUM_VOICES][v->t.dtype]++;
        sum.bytes[SUM_VOICES][v->t.dtype] += v->t.nbytes;
        sum.in_bytes[SUM_VOICES][v->t.dtype] += v->t.nbytes;
    }
    rep->n_voices = in.n_voices;
    rep->n_voices_missing = in.n_voices_missing;
    rep->has_tokenizer = in.tekken != NULL;
    report_rows(&sum, rep);
    if (p->on_plan) p->on_plan(rep, p->user);
    if (p->dry_run) goto done;

    if ((rc = vox_pool_create(p->n_threads, &q.pool, err))) goto done;
    q.n_threads = vox_pool_threads(q.pool);
    q.scratch = malloc(sizeof(float) * (size_t)q.n_threads * (size_t)(q.max_row > 0 ? q.max_row : 1));
    if (!q.scratch) {
        rc = vox_fail(err, VOX_E_NOMEM, "out of memory");
        goto done;
    }
    rc = vox_gguf_write(w, p->output, err);
    if (rc && q.cancelled) /* the writer's message would name the tensor being written */
        rc = vox_fail(err, VOX_E_CANCELLED, "quantizing %s cancelled by the progress callback",
                      p->input);
    if (!rc) {
        rep->file_bytes = stat(p->output, &sb) == 0 ? (uint64_t)sb.st_size : 0;
        rep->n_threads = q.n_threads;
        rep->seconds = now_s() - t0;
    }
done:
    vox_gguf_writer_free(w);
    if (jobs)
        for (int64_t i = 0; i < n_in; i++) free(jobs[i].name);
    free(jobs);
    free(q.scratch);
    vox_pool_free(q.pool);
    close_input(&in);
    return rc;
}
