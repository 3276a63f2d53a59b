/* gguf.h — reading and writing GGUF files (the ggml ecosystem's model format).
 *
 * Layout (all little-endian): "GGUF", u32 version (2 or 3), u64 tensor count, u64
 * metadata count; the metadata entries (string key, u32 value type, value); the
 * tensor infos (string name, u32 n_dims, u64 ne[n_dims] innermost first, u32
 * ggml type, u64 offset into the data section); zero padding to the alignment
 * (metadata "general.alignment", a u32 power of two, default 32); the data
 * section, each tensor at an offset that is a multiple of the alignment.  A
 * string is a u64 byte length and that many bytes (no terminator); an array is a
 * u32 element type, a u64 count and the elements.
 *
 * Reading maps the file and validates everything before returning: the header
 * counts against the file size, every string and array length in bounds, the 13
 * value types, unique non-empty keys and tensor names, n_dims <= 4, element
 * counts and byte sizes without overflow, each tensor's data aligned, inside the
 * file and not overlapping another.  Only the tensor types voxtts computes with
 * are accepted: F32 (ggml 0), F16 (1), Q8_0 (8), Q4_K (12), BF16 (30).  Tensors
 * come back as vox_tensor views into the mapping, with the shape outermost first
 * (ggml's ne reversed: a [out, in] weight has ne = {in, out}).
 *
 * Writing produces what ggml's own writer does (tensors in the order added, each
 * padded to the alignment), so llama.cpp's loader accepts the file.  Note that
 * ggml itself limits tensor names to 63 bytes; voxtts does not. */
#ifndef VOX_IO_GGUF_H
#define VOX_IO_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "tensor/tensor.h"

/* Metadata value types (the numbers are the file format's). */
typedef enum vox_gguf_type {
    VOX_GGUF_U8 = 0,
    VOX_GGUF_I8 = 1,
    VOX_GGUF_U16 = 2,
    VOX_GGUF_I16 = 3,
    VOX_GGUF_U32 = 4,
    VOX_GGUF_I32 = 5,
    VOX_GGUF_F32 = 6,
    VOX_GGUF_BOOL = 7,
    VOX_GGUF_STRING = 8,
    VOX_GGUF_ARRAY = 9,
    VOX_GGUF_U64 = 10,
    VOX_GGUF_I64 = 11,
    VOX_GGUF_F64 = 12,
} vox_gguf_type;

/* ggml tensor type ids of the types voxtts reads and writes. */
enum {
    VOX_GGML_F32 = 0,
    VOX_GGML_F16 = 1,
    VOX_GGML_Q8_0 = 8,
    VOX_GGML_Q4_K = 12,
    VOX_GGML_BF16 = 30,
};

#define VOX_GGUF_DEFAULT_ALIGNMENT 32u

/* A string inside the mapping: not NUL-terminated (print with "%.*s"). */
typedef struct vox_gguf_str {
    const char *ptr;
    size_t len;
} vox_gguf_str;

/* Name of a type ("u8", ..., "array"); "?" for an invalid one. */
const char *vox_gguf_type_name(vox_gguf_type t);
/* ggml type id <-> vox_dtype; -1 when there is no counterpart. */
int vox_gguf_ggml_type(vox_dtype t);
int vox_gguf_dtype_from_ggml(uint32_t ggml_type, vox_dtype *out);

/* ---- reading ------------------------------------------------------------- */

typedef struct vox_gguf vox_gguf;

/* Map and validate `path`.  VOX_E_IO when it cannot be opened/mapped,
 * VOX_E_FORMAT for malformed content, VOX_E_UNSUPPORTED for a well-formed tensor
 * of a type voxtts does not handle; the message names the file and the key or
 * tensor at fault. */
int vox_gguf_open(const char *path, vox_gguf **out, vox_error *err);
void vox_gguf_close(vox_gguf *g);

const char *vox_gguf_path(const vox_gguf *g);
uint32_t vox_gguf_version(const vox_gguf *g);
uint32_t vox_gguf_alignment(const vox_gguf *g);
/* File offset of the data section (a multiple of the alignment). */
uint64_t vox_gguf_data_offset(const vox_gguf *g);

/* Metadata, in file order.  Index accessors take 0 <= i < vox_gguf_n_kv(). */
int64_t vox_gguf_n_kv(const vox_gguf *g);
vox_gguf_str vox_gguf_key(const vox_gguf *g, int64_t i);
vox_gguf_type vox_gguf_kv_type(const vox_gguf *g, int64_t i);
/* Index of `key`, or -1. */
int64_t vox_gguf_find_key(const vox_gguf *g, const char *key);
/* For an array entry: element type and count (else VOX_E_ARG). */
int vox_gguf_array_info(const vox_gguf *g, const char *key, vox_gguf_type *elem, int64_t *n, vox_error *err);

/* Typed look-ups.  VOX_E_MISSING when the key is absent; VOX_E_FORMAT when it has
 * another type (get_int/get_float also accept any integer / float type whose
 * value fits). */
int vox_gguf_get_u32(const vox_gguf *g, const char *key, uint32_t *out, vox_error *err);
int vox_gguf_get_i32(const vox_gguf *g, const char *key, int32_t *out, vox_error *err);
int vox_gguf_get_u64(const vox_gguf *g, const char *key, uint64_t *out, vox_error *err);
int vox_gguf_get_int(const vox_gguf *g, const char *key, int64_t *out, vox_error *err);
int vox_gguf_get_f32(const vox_gguf *g, const char *key, float *out, vox_error *err);
int vox_gguf_get_f64(const vox_gguf *g, const char *key, double *out, vox_error *err);
int vox_gguf_get_bool(const vox_gguf *g, const char *key, bool *out, vox_error *err);
/* The string stays valid until vox_gguf_close. */
int vox_gguf_get_str(const vox_gguf *g, const char *key, vox_gguf_str *out, vox_error *err);
/* A fresh NUL-terminated copy (caller frees); VOX_E_FORMAT if it contains a NUL. */
int vox_gguf_get_strdup(const vox_gguf *g, const char *key, char **out, vox_error *err);

/* Arrays.  The results are malloc'd (caller frees; NULL when n is 0).
 * str_array: views into the mapping; int_array: any integer element type
 * (u64 values above INT64_MAX are rejected); f32_array: F32 or F64 elements. */
int vox_gguf_get_str_array(const vox_gguf *g, const char *key, vox_gguf_str **out, int64_t *n, vox_error *err);
int vox_gguf_get_int_array(const vox_gguf *g, const char *key, int64_t **out, int64_t *n, vox_error *err);
int vox_gguf_get_f32_array(const vox_gguf *g, const char *key, float **out, int64_t *n, vox_error *err);
/* Raw elements of an array of a fixed-size type (not string/array), pointing into
 * the mapping (little-endian, possibly unaligned): e.g. a blob stored as u8. */
int vox_gguf_get_array_raw(const vox_gguf *g, const char *key, vox_gguf_type *elem, const void **data, int64_t *n,
                           vox_error *err);

/* Tensors, in file order. */
typedef struct vox_gguf_tensor_info {
    vox_gguf_str name;
    uint32_t ggml_type;
    int n_dims;
    int64_t ne[4];   /* ggml order: ne[0] innermost; unused dims are 1 */
    uint64_t offset; /* relative to the data section */
    vox_tensor view; /* shape outermost first, data/nbytes into the mapping */
} vox_gguf_tensor_info;

int64_t vox_gguf_n_tensors(const vox_gguf *g);
const vox_gguf_tensor_info *vox_gguf_tensor_at(const vox_gguf *g, int64_t i);
/* NULL when absent. */
const vox_tensor *vox_gguf_find(const vox_gguf *g, const char *name);
/* VOX_E_MISSING (naming tensor and file) when absent. */
int vox_gguf_get_tensor(const vox_gguf *g, const char *name, vox_tensor *out, vox_error *err);
/* Find `name` and require exactly this shape (outermost first): VOX_E_MISSING,
 * VOX_E_SHAPE otherwise. */
int vox_gguf_expect(const vox_gguf *g, const char *name, int ndim, const int64_t *shape, const vox_tensor **out,
                    vox_error *err);

/* ---- writing ------------------------------------------------------------- */

typedef struct vox_gguf_writer vox_gguf_writer;

/* Fill `buf` with the stored bytes of rows [row0, row0 + n_rows) of a tensor
 * (a "row" is the innermost dimension; for a 0/1-D tensor there is one row):
 * n_rows * vox_dtype_row_bytes(dtype, row length) bytes.  Return VOX_OK or a
 * negative code (with err filled) to abandon the write. */
typedef int (*vox_gguf_fill_fn)(void *user, int64_t row0, int64_t n_rows, void *buf, vox_error *err);

int vox_gguf_writer_new(vox_gguf_writer **out, vox_error *err);
void vox_gguf_writer_free(vox_gguf_writer *w);
/* Alignment of the data section and of each tensor (a power of two, 1..2^20;
 * default 32).  A non-default value is recorded as "general.alignment" (u32). */
int vox_gguf_writer_set_alignment(vox_gguf_writer *w, uint32_t alignment, vox_error *err);

/* Metadata (copied; keys must be non-empty and unique). */
int vox_gguf_add_u32(vox_gguf_writer *w, const char *key, uint32_t v, vox_error *err);
int vox_gguf_add_i32(vox_gguf_writer *w, const char *key, int32_t v, vox_error *err);
int vox_gguf_add_u64(vox_gguf_writer *w, const char *key, uint64_t v, vox_error *err);
int vox_gguf_add_i64(vox_gguf_writer *w, const char *key, int64_t v, vox_error *err);
int vox_gguf_add_f32(vox_gguf_writer *w, const char *key, float v, vox_error *err);
int vox_gguf_add_f64(vox_gguf_writer *w, const char *key, double v, vox_error *err);
int vox_gguf_add_bool(vox_gguf_writer *w, const char *key, bool v, vox_error *err);
int vox_gguf_add_str(vox_gguf_writer *w, const char *key, const char *s, vox_error *err);
int vox_gguf_add_strn(vox_gguf_writer *w, const char *key, const char *s, size_t len, vox_error *err);
/* Any scalar of a fixed-size type: `value` points to one element of `type`
 * (host representation; bool as one byte 0/1). */
int vox_gguf_add_scalar(vox_gguf_writer *w, const char *key, vox_gguf_type type, const void *value, vox_error *err);
/* An array of n elements of a fixed-size type (not string/array). */
int vox_gguf_add_array(vox_gguf_writer *w, const char *key, vox_gguf_type elem, const void *data, int64_t n,
                       vox_error *err);
int vox_gguf_add_str_array(vox_gguf_writer *w, const char *key, const char *const *strs, int64_t n, vox_error *err);
int vox_gguf_add_i32_array(vox_gguf_writer *w, const char *key, const int32_t *v, int64_t n, vox_error *err);
int vox_gguf_add_i64_array(vox_gguf_writer *w, const char *key, const int64_t *v, int64_t n, vox_error *err);
int vox_gguf_add_f32_array(vox_gguf_writer *w, const char *key, const float *v, int64_t n, vox_error *err);
/* Raw bytes, stored as an array of u8 (e.g. a tokenizer file). */
int vox_gguf_add_blob(vox_gguf_writer *w, const char *key, const void *data, size_t n, vox_error *err);

/* Tensors (shape outermost first, 0..4 dims; the innermost dimension must be a
 * multiple of the dtype's block size).  add_tensor keeps `data` (which must hold
 * exactly the tensor's bytes) by reference: it must stay valid until
 * vox_gguf_write returns, and it is written straight to the file, never copied.
 * add_tensor_fill produces the bytes on demand, a few MB at a time. */
int vox_gguf_add_tensor(vox_gguf_writer *w, const char *name, vox_dtype dtype, int ndim, const int64_t *shape,
                        const void *data, size_t nbytes, vox_error *err);
int vox_gguf_add_tensor_fill(vox_gguf_writer *w, const char *name, vox_dtype dtype, int ndim,
                             const int64_t *shape, vox_gguf_fill_fn fill, void *user, vox_error *err);

/* Write everything to `path` atomically: a temporary file beside it, flushed and
 * renamed over `path` on success, removed on failure. */
int vox_gguf_write(vox_gguf_writer *w, const char *path, vox_error *err);

#endif
