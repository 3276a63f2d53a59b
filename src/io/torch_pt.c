/* torch_pt.c — one tensor out of (and into) a PyTorch zip archive, without Python.
 *
 * torch.save (>= 1.6) writes a ZIP file whose members sit in one root folder:
 * <root>/data.pkl is a pickle describing the object, and <root>/data/<key> holds
 * the raw bytes of each storage it references.  Reading therefore takes three
 * steps, each checked against the file's real size before anything is trusted:
 *   1. the ZIP central directory (end record -> directory -> local headers); only
 *      stored members are accepted, CRC-32s are verified;
 *   2. a small pickle stack machine that rebuilds the object graph symbolically
 *      (no code runs: globals are just names) and finds the one call
 *      torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...) whose
 *      storage is the persistent id ('storage', torch.<T>Storage, key, location,
 *      numel);
 *   3. the storage member, converted to f32.
 * The writer produces the layout of the official voice files byte for byte
 * (docs/MODEL.md §1.4): local headers with a 'FB' padding field that puts each
 * member's data on a 64-byte boundary, data descriptors, a central directory and
 * the ZIP64 end records torch's writer always emits. */
#include "io/torch_pt.h"

#include "base/atomic_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tensor/tensor.h"

/* ---- little-endian helpers and CRC-32 ------------------------------------ */

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

typedef struct crc32_table {
    uint32_t t[256];
} crc32_table;

/* The ZIP CRC (reflected polynomial 0xEDB88320); the table lives with the caller. */
static void crc32_init(crc32_table *c) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t v = i;
        for (int k = 0; k < 8; k++) v = (v & 1) ? (v >> 1) ^ 0xEDB88320u : v >> 1;
        c->t[i] = v;
    }
}

static uint32_t crc32_update(const crc32_table *c, uint32_t crc, const unsigned char *p, size_t n) {
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = c->t[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* ---- ZIP reading ---------------------------------------------------------- */

enum {
    ZIP_LOCAL_SIG = 0x04034b50,
    ZIP_CENTRAL_SIG = 0x02014b50,
    ZIP_EOCD_SIG = 0x06054b50,
    ZIP_EOCD64_SIG = 0x06064b50,
    ZIP_LOCATOR64_SIG = 0x07064b50,
    ZIP_DESCRIPTOR_SIG = 0x08074b50,
    ZIP_LOCAL_SIZE = 30,
    ZIP_CENTRAL_SIZE = 46,
    ZIP_EOCD_SIZE = 22,
};

typedef struct zip_entry {
    const char *name; /* not NUL-terminated: points into the file buffer */
    size_t name_len;
    uint16_t flags, method;
    uint32_t crc, csize, usize, local_off;
} zip_entry;

typedef struct pt_file {
    const char *path;
    unsigned char *buf;
    size_t size;
    zip_entry *entries;
    size_t n_entries;
    crc32_table crc;
} pt_file;

static int read_whole_file(const char *path, unsigned char **out, size_t *size, vox_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return vox_fail(err, VOX_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return vox_fail(err, VOX_E_IO, "%s: not a regular file", path);
    }
    /* A ZIP without ZIP64 records cannot address more than 4 GiB. */
    if ((uint64_t)sb.st_size > 0xffffffffull) {
        fclose(f);
        return vox_fail(err, VOX_E_UNSUPPORTED, "%s: archives over 4 GiB (ZIP64) are not supported",
                        path);
    }
    size_t n = (size_t)sb.st_size;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return vox_fail(err, VOX_E_NOMEM, "%s: out of memory for %zu bytes", path, n);
    }
    if (fread(buf, 1, n, f) != n) {
        free(buf);
        fclose(f);
        return vox_fail(err, VOX_E_IO, "%s: short read", path);
    }
    fclose(f);
    *out = buf;
    *size = n;
    return VOX_OK;
}

static int zip_parse(pt_file *z, vox_error *err) {
    const unsigned char *b = z->buf;
    size_t size = z->size;
    if (size < ZIP_EOCD_SIZE)
        return vox_fail(err, VOX_E_FORMAT, "%s: too short (%zu bytes) to be a torch zip archive",
                        z->path, size);
    /* The end record is the last 22 bytes, unless a comment (< 64 KiB) follows it. */
    size_t eocd = SIZE_MAX;
    size_t lowest = size - ZIP_EOCD_SIZE > 65535 ? size - ZIP_EOCD_SIZE - 65535 : 0;
    for (size_t off = size - ZIP_EOCD_SIZE + 1; off-- > lowest;) {
        if (rd32(b + off) == ZIP_EOCD_SIG && off + ZIP_EOCD_SIZE + rd16(b + off + 20) <= size) {
            eocd = off;
            break;
        }
    }
    if (eocd == SIZE_MAX)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: no ZIP end-of-central-directory record (truncated, or not a torch.save "
                        "file)",
                        z->path);
    const unsigned char *e = b + eocd;
    uint16_t disk = rd16(e + 4), cd_disk = rd16(e + 6), n_disk = rd16(e + 8), n = rd16(e + 10);
    uint32_t cd_size = rd32(e + 12), cd_off = rd32(e + 16);
    /* torch always adds ZIP64 end records, but for small files the classic record
     * holds the real values; saturated fields mean the values only exist in ZIP64. */
    if (n == 0xffff || n_disk == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu)
        return vox_fail(err, VOX_E_UNSUPPORTED,
                        "%s: ZIP64 archive (over 4 GiB or 65535 members) is not supported", z->path);
    if (disk != 0 || cd_disk != 0 || n_disk != n)
        return vox_fail(err, VOX_E_UNSUPPORTED, "%s: multi-disk ZIP archives are not supported",
                        z->path);
    if ((uint64_t)cd_off + cd_size > eocd)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: ZIP central directory (offset %u, %u bytes) lies outside the file",
                        z->path, cd_off, cd_size);
    if (n == 0) return vox_fail(err, VOX_E_FORMAT, "%s: empty ZIP archive", z->path);
    z->entries = calloc(n, sizeof *z->entries);
    if (!z->entries) return vox_fail(err, VOX_E_NOMEM, "%s: out of memory", z->path);
    size_t p = cd_off, end = (size_t)cd_off + cd_size;
    for (uint16_t i = 0; i < n; i++) {
        if (end - p < ZIP_CENTRAL_SIZE || rd32(b + p) != ZIP_CENTRAL_SIG)
            return vox_fail(err, VOX_E_FORMAT, "%s: ZIP central directory entry %u is corrupt",
                            z->path, (unsigned)i);
        const unsigned char *c = b + p;
        zip_entry *ze = &z->entries[i];
        ze->flags = rd16(c + 8);
        ze->method = rd16(c + 10);
        ze->crc = rd32(c + 16);
        ze->csize = rd32(c + 20);
        ze->usize = rd32(c + 24);
        size_t nlen = rd16(c + 28), elen = rd16(c + 30), clen = rd16(c + 32);
        ze->local_off = rd32(c + 42);
        if (end - p - ZIP_CENTRAL_SIZE < nlen + elen + clen)
            return vox_fail(err, VOX_E_FORMAT, "%s: ZIP central directory entry %u is corrupt",
                            z->path, (unsigned)i);
        ze->name = (const char *)c + ZIP_CENTRAL_SIZE;
        ze->name_len = nlen;
        p += ZIP_CENTRAL_SIZE + nlen + elen + clen;
        z->n_entries++;
    }
    return VOX_OK;
}

static int name_is(const zip_entry *e, const char *prefix, size_t plen, const char *rest) {
    size_t rlen = strlen(rest);
    return e->name_len == plen + rlen && memcmp(e->name, prefix, plen) == 0 &&
           memcmp(e->name + plen, rest, rlen) == 0;
}

/* Locate a member's bytes after checking everything about it: ZIP64 fields,
 * encryption, compression, the local header, the bounds, the CRC-32. */
static int zip_member(pt_file *z, const zip_entry *e, const unsigned char **data, size_t *len,
                      vox_error *err) {
    int nl = e->name_len > 200 ? 200 : (int)e->name_len;
    if (e->csize == 0xffffffffu || e->usize == 0xffffffffu || e->local_off == 0xffffffffu)
        return vox_fail(err, VOX_E_UNSUPPORTED, "%s: member '%.*s' uses ZIP64 sizes (unsupported)",
                        z->path, nl, e->name);
    if (e->flags & 1)
        return vox_fail(err, VOX_E_UNSUPPORTED, "%s: member '%.*s' is encrypted", z->path, nl,
                        e->name);
    if (e->method != 0)
        return vox_fail(err, VOX_E_UNSUPPORTED,
                        "%s: member '%.*s' is compressed (method %u); torch.save stores members "
                        "uncompressed",
                        z->path, nl, e->name, (unsigned)e->method);
    if (e->csize != e->usize)
        return vox_fail(err, VOX_E_FORMAT, "%s: stored member '%.*s' has differing sizes",
                        z->path, nl, e->name);
    size_t lo = e->local_off;
    if (lo > z->size || z->size - lo < ZIP_LOCAL_SIZE || rd32(z->buf + lo) != ZIP_LOCAL_SIG)
        return vox_fail(err, VOX_E_FORMAT, "%s: local header of member '%.*s' is missing or corrupt",
                        z->path, nl, e->name);
    size_t start = lo + ZIP_LOCAL_SIZE + rd16(z->buf + lo + 26) + rd16(z->buf + lo + 28);
    if (start > z->size || z->size - start < e->csize)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: member '%.*s' (%u bytes at offset %zu) runs past the end of the file",
                        z->path, nl, e->name, e->csize, start);
    *data = z->buf + start;
    *len = e->csize;
    if (crc32_update(&z->crc, 0, *data, *len) != e->crc)
        return vox_fail(err, VOX_E_FORMAT, "%s: CRC-32 mismatch in member '%.*s' (file corrupted)",
                        z->path, nl, e->name);
    return VOX_OK;
}

/* ---- pickle machine -------------------------------------------------------- */

typedef enum {
    PV_NONE, PV_BOOL, PV_INT, PV_FLOAT, PV_STR, PV_BYTES, PV_TUPLE, PV_LIST, PV_DICT,
    PV_GLOBAL, PV_CALL, PV_PERSID,
} pv_kind;

typedef struct pval pval;
struct pval {
    pv_kind kind;
    int64_t i;
    const char *s, *s2; /* STR/BYTES: s; GLOBAL: module s, name s2 (point into the pickle) */
    size_t slen, s2len;
    pval **items;       /* TUPLE/LIST; DICT as key, value, key, value... */
    size_t n, cap;
    pval *fn, *args;    /* CALL: fn(*args); PERSID: args is the id */
};

#define PK_MAX_VALUES 1000000
#define PK_MAX_DEPTH 64

typedef struct pvm {
    const char *path;
    const unsigned char *p, *end, *start;
    pval **all;        /* every allocated value, freed together */
    size_t n_all, cap_all;
    pval **stack;
    size_t sp, stack_cap;
    size_t *marks;
    size_t n_marks, marks_cap;
    pval **memo;       /* memo_len initialised slots (NULL = unset) */
    size_t memo_len, memo_cap;
    vox_error *err;
} pvm;

static int grow(void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need) c *= 2;
    void *q = realloc(*arr, c * elem);
    if (!q) return 0;
    *arr = q;
    *cap = c;
    return 1;
}

static void pvm_free(pvm *m) {
    for (size_t i = 0; i < m->n_all; i++) {
        free(m->all[i]->items);
        free(m->all[i]);
    }
    free(m->all);
    free(m->stack);
    free(m->marks);
    free(m->memo);
}

static int pk_bad(pvm *m, const char *what) {
    return vox_fail(m->err, VOX_E_FORMAT, "%s: data.pkl: %s at byte %zu", m->path, what,
                    (size_t)(m->p - m->start));
}

static int pk_nomem(pvm *m) { return vox_fail(m->err, VOX_E_NOMEM, "%s: data.pkl: out of memory", m->path); }

static pval *pv_new(pvm *m, pv_kind k) {
    if (m->n_all >= PK_MAX_VALUES) return NULL;
    if (!grow((void **)&m->all, &m->cap_all, m->n_all + 1, sizeof *m->all)) return NULL;
    pval *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->kind = k;
    m->all[m->n_all++] = v;
    return v;
}

static int pv_append(pval *c, pval *item) {
    if (!grow((void **)&c->items, &c->cap, c->n + 1, sizeof *c->items)) return 0;
    c->items[c->n++] = item;
    return 1;
}

static int push(pvm *m, pval *v) {
    if (!v) return pk_nomem(m);
    if (!grow((void **)&m->stack, &m->stack_cap, m->sp + 1, sizeof *m->stack)) return pk_nomem(m);
    m->stack[m->sp++] = v;
    return VOX_OK;
}

/* Values above the innermost mark (popping the mark). */
static int pop_mark(pvm *m, size_t *from) {
    if (m->n_marks == 0) return pk_bad(m, "MARK expected but none is open");
    *from = m->marks[--m->n_marks];
    if (*from > m->sp) return pk_bad(m, "stack underflow");
    return VOX_OK;
}

static pval *pop(pvm *m) {
    size_t floor = m->n_marks ? m->marks[m->n_marks - 1] : 0;
    if (m->sp <= floor) return NULL;
    return m->stack[--m->sp];
}

static int need(pvm *m, size_t n) { return (size_t)(m->end - m->p) >= n; }

static uint64_t rd_le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static int memo_put(pvm *m, uint64_t idx) {
    if (m->sp == 0) return pk_bad(m, "memo store with an empty stack");
    /* Python numbers memo slots consecutively, so an index beyond the pickle's
     * own length can only come from a forged file. */
    if (idx > (uint64_t)(m->end - m->start)) return pk_bad(m, "memo index out of range");
    if (idx >= m->memo_len) {
        if (!grow((void **)&m->memo, &m->memo_cap, (size_t)idx + 1, sizeof *m->memo))
            return pk_nomem(m);
        for (size_t i = m->memo_len; i <= idx; i++) m->memo[i] = NULL;
        m->memo_len = (size_t)idx + 1;
    }
    m->memo[idx] = m->stack[m->sp - 1];
    return VOX_OK;
}

static int memo_get(pvm *m, uint64_t idx) {
    if (idx >= m->memo_len || !m->memo[idx]) return pk_bad(m, "memo read of an unset slot");
    return push(m, m->memo[idx]);
}

static int push_str(pvm *m, pv_kind k, uint64_t len) {
    if (!need(m, len)) return pk_bad(m, "string runs past the end");
    pval *v = pv_new(m, k);
    if (!v) return pk_nomem(m);
    v->s = (const char *)m->p;
    v->slen = (size_t)len;
    m->p += len;
    return push(m, v);
}

static int push_int(pvm *m, int64_t i) {
    pval *v = pv_new(m, PV_INT);
    if (!v) return pk_nomem(m);
    v->i = i;
    return push(m, v);
}

/* Collect stack[from..sp) into a new container of kind k. */
static int collect(pvm *m, pv_kind k, size_t from) {
    pval *c = pv_new(m, k);
    if (!c) return pk_nomem(m);
    for (size_t i = from; i < m->sp; i++)
        if (!pv_append(c, m->stack[i])) return pk_nomem(m);
    m->sp = from;
    return push(m, c);
}

/* GLOBAL's "module\nname\n" operands. */
static int read_line(pvm *m, const char **s, size_t *len) {
    const unsigned char *nl = memchr(m->p, '\n', (size_t)(m->end - m->p));
    if (!nl) return pk_bad(m, "unterminated GLOBAL operand");
    *s = (const char *)m->p;
    *len = (size_t)(nl - m->p);
    m->p = nl + 1;
    return VOX_OK;
}

/* Run the pickle to its STOP; *result is the final value. */
static int pvm_run(pvm *m, pval **result) {
    int rc;
    while (m->p < m->end) {
        unsigned op = *m->p++;
        pval *a, *b, *c, *v;
        size_t from;
        switch (op) {
        case 0x80: /* PROTO */
            if (!need(m, 1)) return pk_bad(m, "truncated PROTO");
            if (*m->p > 5) return pk_bad(m, "unknown pickle protocol");
            m->p++;
            break;
        case 0x95: /* FRAME: a length hint only */
            if (!need(m, 8)) return pk_bad(m, "truncated FRAME");
            m->p += 8;
            break;
        case '.': /* STOP */
            if (m->sp != 1 || m->n_marks) return pk_bad(m, "STOP with an unbalanced stack");
            *result = m->stack[0];
            return VOX_OK;
        case '(': /* MARK */
            if (!grow((void **)&m->marks, &m->marks_cap, m->n_marks + 1, sizeof *m->marks))
                return pk_nomem(m);
            m->marks[m->n_marks++] = m->sp;
            break;
        case '0': /* POP */
            if (!pop(m)) return pk_bad(m, "POP on an empty stack");
            break;
        case '1': /* POP_MARK */
            if ((rc = pop_mark(m, &from))) return rc;
            m->sp = from;
            break;
        case '2': /* DUP */
            if (m->sp == 0) return pk_bad(m, "DUP on an empty stack");
            if ((rc = push(m, m->stack[m->sp - 1]))) return rc;
            break;
        case 'N': if ((rc = push(m, pv_new(m, PV_NONE)))) return rc; break;
        case 0x88: /* NEWTRUE */
        case 0x89: /* NEWFALSE */
            if (!(v = pv_new(m, PV_BOOL))) return pk_nomem(m);
            v->i = op == 0x88;
            if ((rc = push(m, v))) return rc;
            break;
        case 'J': /* BININT: signed 32-bit */
            if (!need(m, 4)) return pk_bad(m, "truncated BININT");
            rc = push_int(m, (int64_t)(int32_t)rd32(m->p));
            m->p += 4;
            if (rc) return rc;
            break;
        case 'K': /* BININT1 */
            if (!need(m, 1)) return pk_bad(m, "truncated BININT1");
            if ((rc = push_int(m, *m->p++))) return rc;
            break;
        case 'M': /* BININT2 */
            if (!need(m, 2)) return pk_bad(m, "truncated BININT2");
            rc = push_int(m, rd16(m->p));
            m->p += 2;
            if (rc) return rc;
            break;
        case 0x8a: /* LONG1: n-byte two's complement */
        case 0x8b: { /* LONG4 */
            int w = op == 0x8a ? 1 : 4;
            if (!need(m, (size_t)w)) return pk_bad(m, "truncated LONG");
            uint64_t n = rd_le(m->p, w);
            m->p += w;
            if (n > 8) return pk_bad(m, "integer wider than 64 bits");
            if (!need(m, (size_t)n)) return pk_bad(m, "truncated LONG");
            uint64_t u = rd_le(m->p, (int)n);
            if (n > 0 && n < 8 && (m->p[n - 1] & 0x80)) u |= ~0ull << (8 * n); /* sign-extend */
            m->p += n;
            if ((rc = push_int(m, (int64_t)u))) return rc;
            break;
        }
        case 'G': /* BINFLOAT: big-endian double, kept only as a placeholder */
            if (!need(m, 8)) return pk_bad(m, "truncated BINFLOAT");
            m->p += 8;
            if ((rc = push(m, pv_new(m, PV_FLOAT)))) return rc;
            break;
        case 'X': case 'T': case 'B': /* BINUNICODE, BINSTRING, BINBYTES: u32 length */
            if (!need(m, 4)) return pk_bad(m, "truncated string length");
            m->p += 4;
            if ((rc = push_str(m, op == 'B' ? PV_BYTES : PV_STR, rd32(m->p - 4)))) return rc;
            break;
        case 0x8c: case 'U': case 'C': /* SHORT_BINUNICODE, SHORT_BINSTRING, SHORT_BINBYTES */
            if (!need(m, 1)) return pk_bad(m, "truncated string length");
            m->p++;
            if ((rc = push_str(m, op == 'C' ? PV_BYTES : PV_STR, m->p[-1]))) return rc;
            break;
        case 0x8d: case 0x8e: /* BINUNICODE8, BINBYTES8 */
            if (!need(m, 8)) return pk_bad(m, "truncated string length");
            m->p += 8;
            if ((rc = push_str(m, op == 0x8e ? PV_BYTES : PV_STR, rd_le(m->p - 8, 8)))) return rc;
            break;
        case ')': if ((rc = push(m, pv_new(m, PV_TUPLE)))) return rc; break;
        case ']': if ((rc = push(m, pv_new(m, PV_LIST)))) return rc; break;
        case '}': if ((rc = push(m, pv_new(m, PV_DICT)))) return rc; break;
        case 't': case 'l': case 'd': /* TUPLE, LIST, DICT from the mark */
            if ((rc = pop_mark(m, &from))) return rc;
            if (op == 'd' && (m->sp - from) % 2) return pk_bad(m, "DICT with an odd item count");
            if ((rc = collect(m, op == 't' ? PV_TUPLE : op == 'l' ? PV_LIST : PV_DICT, from)))
                return rc;
            break;
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            size_t k = op - 0x84u;
            size_t floor = m->n_marks ? m->marks[m->n_marks - 1] : 0;
            if (m->sp < floor + k) return pk_bad(m, "TUPLEn on a short stack");
            if ((rc = collect(m, PV_TUPLE, m->sp - k))) return rc;
            break;
        }
        case 'a': /* APPEND */
            if (!(a = pop(m)) || m->sp == 0) return pk_bad(m, "APPEND on a short stack");
            c = m->stack[m->sp - 1];
            if (c->kind != PV_LIST) return pk_bad(m, "APPEND to a non-list");
            if (!pv_append(c, a)) return pk_nomem(m);
            break;
        case 'e': case 'u': /* APPENDS, SETITEMS */
            if ((rc = pop_mark(m, &from))) return rc;
            if (from == 0) return pk_bad(m, "APPENDS/SETITEMS without a target");
            c = m->stack[from - 1];
            if (c->kind != (op == 'e' ? PV_LIST : PV_DICT) || (op == 'u' && (m->sp - from) % 2))
                return pk_bad(m, "APPENDS/SETITEMS on the wrong kind of object");
            for (size_t i = from; i < m->sp; i++)
                if (!pv_append(c, m->stack[i])) return pk_nomem(m);
            m->sp = from;
            break;
        case 's': /* SETITEM */
            if (!(b = pop(m)) || !(a = pop(m)) || m->sp == 0)
                return pk_bad(m, "SETITEM on a short stack");
            c = m->stack[m->sp - 1];
            if (c->kind != PV_DICT) return pk_bad(m, "SETITEM on a non-dict");
            if (!pv_append(c, a) || !pv_append(c, b)) return pk_nomem(m);
            break;
        case 'c': /* GLOBAL */
            if (!(v = pv_new(m, PV_GLOBAL))) return pk_nomem(m);
            if ((rc = read_line(m, &v->s, &v->slen)) || (rc = read_line(m, &v->s2, &v->s2len)))
                return rc;
            if ((rc = push(m, v))) return rc;
            break;
        case 0x93: /* STACK_GLOBAL */
            if (!(b = pop(m)) || !(a = pop(m))) return pk_bad(m, "STACK_GLOBAL on a short stack");
            if (a->kind != PV_STR || b->kind != PV_STR) return pk_bad(m, "STACK_GLOBAL of non-strings");
            if (!(v = pv_new(m, PV_GLOBAL))) return pk_nomem(m);
            v->s = a->s, v->slen = a->slen, v->s2 = b->s, v->s2len = b->slen;
            if ((rc = push(m, v))) return rc;
            break;
        case 'R': case 0x81: /* REDUCE, NEWOBJ: a symbolic call */
            if (!(b = pop(m)) || !(a = pop(m))) return pk_bad(m, "REDUCE on a short stack");
            if (b->kind != PV_TUPLE) return pk_bad(m, "REDUCE arguments are not a tuple");
            if (!(v = pv_new(m, PV_CALL))) return pk_nomem(m);
            v->fn = a;
            v->args = b;
            if ((rc = push(m, v))) return rc;
            break;
        case 'b': /* BUILD: object state; irrelevant to the tensor */
            if (!pop(m) || m->sp == 0) return pk_bad(m, "BUILD on a short stack");
            break;
        case 'Q': /* BINPERSID */
            if (!(a = pop(m))) return pk_bad(m, "BINPERSID on an empty stack");
            if (!(v = pv_new(m, PV_PERSID))) return pk_nomem(m);
            v->args = a;
            if ((rc = push(m, v))) return rc;
            break;
        case 'q': /* BINPUT */
            if (!need(m, 1)) return pk_bad(m, "truncated BINPUT");
            if ((rc = memo_put(m, *m->p++))) return rc;
            break;
        case 'r': /* LONG_BINPUT */
            if (!need(m, 4)) return pk_bad(m, "truncated LONG_BINPUT");
            m->p += 4;
            if ((rc = memo_put(m, rd32(m->p - 4)))) return rc;
            break;
        case 0x94: /* MEMOIZE */
            if ((rc = memo_put(m, m->memo_len))) return rc;
            break;
        case 'h': /* BINGET */
            if (!need(m, 1)) return pk_bad(m, "truncated BINGET");
            if ((rc = memo_get(m, *m->p++))) return rc;
            break;
        case 'j': /* LONG_BINGET */
            if (!need(m, 4)) return pk_bad(m, "truncated LONG_BINGET");
            m->p += 4;
            if ((rc = memo_get(m, rd32(m->p - 4)))) return rc;
            break;
        default: {
            m->p--;
            char what[64];
            snprintf(what, sizeof what, "unsupported pickle opcode 0x%02x", op);
            return pk_bad(m, what);
        }
        }
    }
    return pk_bad(m, "pickle ends without STOP");
}

static int str_is(const char *s, size_t n, const char *lit) {
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

static int is_rebuild_tensor(const pval *v) {
    return v->kind == PV_CALL && v->fn->kind == PV_GLOBAL &&
           str_is(v->fn->s, v->fn->slen, "torch._utils") &&
           str_is(v->fn->s2, v->fn->s2len, "_rebuild_tensor_v2");
}

/* Count the tensors reachable from v (a saved tensor, or one wrapped in a dict,
 * list or Parameter); remember the first.  The memo lets a forged pickle share
 * sub-objects (even build cycles), so both depth and total visits are bounded. */
static int find_tensors(const pval *v, int depth, size_t *budget, const pval **found,
                        size_t *count) {
    if (depth > PK_MAX_DEPTH || *budget == 0) return -1;
    (*budget)--;
    if (is_rebuild_tensor(v)) {
        if (!*found) *found = v;
        (*count)++;
        return 0;
    }
    if (v->kind == PV_CALL) return find_tensors(v->args, depth + 1, budget, found, count);
    if (v->kind == PV_TUPLE || v->kind == PV_LIST || v->kind == PV_DICT)
        for (size_t i = 0; i < v->n; i++)
            if (find_tensors(v->items[i], depth + 1, budget, found, count)) return -1;
    return 0;
}

/* ---- reading the tensor ----------------------------------------------------- */

typedef struct tensor_desc {
    vox_dtype dtype;
    const char *key;
    size_t key_len;
    int64_t storage_numel, offset;
    int ndim;
    int64_t size[4], stride[4];
} tensor_desc;

static int int_tuple(const pval *t, int64_t *out, int max, int *n) {
    if (t->kind != PV_TUPLE || t->n > (size_t)max) return 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i]->kind != PV_INT) return 0;
        out[i] = t->items[i]->i;
    }
    *n = (int)t->n;
    return 1;
}

static int describe(const char *path, const pval *call, tensor_desc *d, vox_error *err) {
    const pval *args = call->args;
    if (args->n < 4)
        return vox_fail(err, VOX_E_FORMAT, "%s: data.pkl: _rebuild_tensor_v2 has %zu arguments",
                        path, args->n);
    const pval *st = args->items[0];
    if (st->kind != PV_PERSID || st->args->kind != PV_TUPLE || st->args->n != 5)
        return vox_fail(err, VOX_E_FORMAT, "%s: data.pkl: tensor storage is not a persistent id",
                        path);
    pval *const *pid = st->args->items;
    if (pid[0]->kind != PV_STR || !str_is(pid[0]->s, pid[0]->slen, "storage") ||
        pid[1]->kind != PV_GLOBAL || pid[2]->kind != PV_STR || pid[3]->kind != PV_STR ||
        pid[4]->kind != PV_INT)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: data.pkl: storage id is not ('storage', type, key, location, numel)",
                        path);
    const pval *ty = pid[1];
    if (!str_is(ty->s, ty->slen, "torch"))
        return vox_fail(err, VOX_E_FORMAT, "%s: data.pkl: storage type is not a torch type", path);
    if (str_is(ty->s2, ty->s2len, "BFloat16Storage")) d->dtype = VOX_BF16;
    else if (str_is(ty->s2, ty->s2len, "HalfStorage")) d->dtype = VOX_F16;
    else if (str_is(ty->s2, ty->s2len, "FloatStorage")) d->dtype = VOX_F32;
    else
        return vox_fail(err, VOX_E_UNSUPPORTED,
                        "%s: tensor storage torch.%.*s is not supported (BFloat16, Half or Float "
                        "only)",
                        path, ty->s2len > 64 ? 64 : (int)ty->s2len, ty->s2);
    d->key = pid[2]->s;
    d->key_len = pid[2]->slen;
    d->storage_numel = pid[4]->i;
    if (d->key_len == 0 || d->key_len > 256 || d->storage_numel < 0)
        return vox_fail(err, VOX_E_FORMAT, "%s: data.pkl: invalid storage key or size", path);
    if (args->items[1]->kind != PV_INT || args->items[1]->i < 0)
        return vox_fail(err, VOX_E_FORMAT, "%s: data.pkl: invalid storage offset", path);
    d->offset = args->items[1]->i;
    int ns, nt;
    if (!int_tuple(args->items[2], d->size, 4, &ns) || !int_tuple(args->items[3], d->stride, 4, &nt))
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: data.pkl: tensor size/stride are not integer tuples of at most 4 dims",
                        path);
    if (ns != nt)
        return vox_fail(err, VOX_E_FORMAT, "%s: data.pkl: size has %d dims but stride %d", path,
                        ns, nt);
    d->ndim = ns;
    /* Row-major contiguity; the stride of a size-1 dim does not matter. */
    int64_t expect = 1;
    for (int i = ns - 1; i >= 0; i--) {
        if (d->size[i] < 0)
            return vox_fail(err, VOX_E_FORMAT, "%s: data.pkl: negative tensor size", path);
        if (d->size[i] != 1 && d->stride[i] != expect)
            return vox_fail(err, VOX_E_UNSUPPORTED,
                            "%s: tensor is not contiguous (dim %d has stride %lld, expected %lld)",
                            path, i, (long long)d->stride[i], (long long)expect);
        if (d->size[i] && expect > INT64_MAX / 8 / d->size[i])
            return vox_fail(err, VOX_E_FORMAT, "%s: data.pkl: absurd tensor size", path);
        expect *= d->size[i];
    }
    /* expect is now numel */
    if (d->offset > d->storage_numel || expect > d->storage_numel - d->offset)
        return vox_fail(err, VOX_E_FORMAT,
                        "%s: data.pkl: tensor (offset %lld, %lld elements) exceeds its storage of "
                        "%lld elements",
                        path, (long long)d->offset, (long long)expect, (long long)d->storage_numel);
    return VOX_OK;
}

void vox_pt_tensor_free(vox_pt_tensor *t) {
    if (!t) return;
    free(t->data);
    t->data = NULL;
}

int vox_pt_load_tensor(const char *path, vox_pt_tensor *out, vox_error *err) {
    if (!out) return vox_fail(err, VOX_E_ARG, "vox_pt_load_tensor: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return vox_fail(err, VOX_E_ARG, "vox_pt_load_tensor: path is NULL");
    pt_file z = {.path = path};
    pvm m = {.path = path, .err = err};
    crc32_init(&z.crc);
    int rc = read_whole_file(path, &z.buf, &z.size, err);
    if (rc) return rc;
    if ((rc = zip_parse(&z, err))) goto done;

    /* The root folder: the prefix of the (single) entry named <root>/data.pkl
     * (torch names it after the file it wrote; a bare data.pkl means no folder). */
    const zip_entry *pkl = NULL;
    for (size_t i = 0; i < z.n_entries; i++) {
        const zip_entry *e = &z.entries[i];
        if ((e->name_len >= 9 && memcmp(e->name + e->name_len - 9, "/data.pkl", 9) == 0) ||
            (e->name_len == 8 && memcmp(e->name, "data.pkl", 8) == 0)) {
            if (pkl) {
                rc = vox_fail(err, VOX_E_FORMAT, "%s: archive holds more than one data.pkl", path);
                goto done;
            }
            pkl = e;
        }
    }
    if (!pkl) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: no <root>/data.pkl member: not a torch.save archive",
                      path);
        goto done;
    }
    const char *root = pkl->name;
    size_t root_len = pkl->name_len - 8; /* keeps the trailing '/', if any */

    for (size_t i = 0; i < z.n_entries; i++) {
        if (name_is(&z.entries[i], root, root_len, "byteorder")) {
            const unsigned char *bo;
            size_t bl;
            if ((rc = zip_member(&z, &z.entries[i], &bo, &bl, err))) goto done;
            if (!(bl == 6 && memcmp(bo, "little", 6) == 0)) {
                rc = vox_fail(err, VOX_E_UNSUPPORTED,
                              "%s: tensor data is not little endian (byteorder '%.*s')", path,
                              bl > 16 ? 16 : (int)bl, (const char *)bo);
                goto done;
            }
        }
    }

    const unsigned char *pk;
    size_t pk_len;
    if ((rc = zip_member(&z, pkl, &pk, &pk_len, err))) goto done;
    m.p = m.start = pk;
    m.end = pk + pk_len;
    pval *result = NULL;
    if ((rc = pvm_run(&m, &result))) goto done;
    const pval *tensor = NULL;
    size_t count = 0, budget = 4 * (size_t)PK_MAX_VALUES;
    if (find_tensors(result, 0, &budget, &tensor, &count)) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: data.pkl: object nested too deeply or too large",
                      path);
        goto done;
    }
    if (count != 1) {
        rc = vox_fail(err, count ? VOX_E_UNSUPPORTED : VOX_E_FORMAT,
                      "%s: data.pkl holds %zu tensors; expected exactly one", path, count);
        goto done;
    }
    tensor_desc d;
    if ((rc = describe(path, tensor, &d, err))) goto done;

    const zip_entry *se = NULL;
    for (size_t i = 0; i < z.n_entries && !se; i++) {
        const zip_entry *e = &z.entries[i];
        if (e->name_len == root_len + 5 + d.key_len && memcmp(e->name, root, root_len) == 0 &&
            memcmp(e->name + root_len, "data/", 5) == 0 &&
            memcmp(e->name + root_len + 5, d.key, d.key_len) == 0)
            se = e;
    }
    if (!se) {
        rc = vox_fail(err, VOX_E_FORMAT, "%s: storage member '%.*sdata/%.*s' is missing", path,
                      (int)root_len, root, (int)d.key_len, d.key);
        goto done;
    }
    const unsigned char *sd;
    size_t sl;
    if ((rc = zip_member(&z, se, &sd, &sl, err))) goto done;
    int64_t numel = 1;
    for (int i = 0; i < d.ndim; i++) numel *= d.size[i];
    size_t es = d.dtype == VOX_F32 ? 4 : 2;
    /* offset + numel <= storage numel <= INT64_MAX was checked in describe() */
    if ((uint64_t)(d.offset + numel) > sl / es) {
        rc = vox_fail(err, VOX_E_FORMAT,
                      "%s: storage '%.*sdata/%.*s' has %zu bytes, the tensor needs %llu", path,
                      (int)root_len, root, (int)d.key_len, d.key, sl,
                      (unsigned long long)(d.offset + numel) * es);
        goto done;
    }
    out->data = malloc(numel ? (size_t)numel * sizeof(float) : 1);
    if (!out->data) {
        rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory for %lld values", path, (long long)numel);
        goto done;
    }
    vox_tensor view = {.dtype = d.dtype, .ndim = 1, .shape = {numel},
                       .data = sd + (size_t)d.offset * es, .nbytes = (size_t)numel * es};
    vox_tensor_to_f32(&view, out->data);
    out->ndim = d.ndim;
    for (int i = 0; i < 4; i++) out->shape[i] = i < d.ndim ? d.size[i] : 0;
    rc = VOX_OK;
done:
    pvm_free(&m);
    free(z.entries);
    free(z.buf);
    if (rc) vox_pt_tensor_free(out);
    return rc;
}

/* ---- writing ----------------------------------------------------------------- */

typedef struct bytebuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} bytebuf;

static void bb_put(bytebuf *b, const void *s, size_t n) {
    if (b->oom) return;
    if (!grow((void **)&b->p, &b->cap, b->len + n, 1)) {
        b->oom = 1;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}
static void bb_u8(bytebuf *b, unsigned v) {
    unsigned char c = (unsigned char)v;
    bb_put(b, &c, 1);
}
static void bb_le(bytebuf *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) bb_u8(b, (unsigned)(v >> (8 * i)) & 0xff);
}
static void bb_str(bytebuf *b, const char *s) { bb_put(b, s, strlen(s)); }

/* Pickle an int the way Python's pickler does (smallest opcode that fits). */
static void pk_int(bytebuf *b, int64_t v) {
    if (v >= 0 && v < 256) {
        bb_u8(b, 'K');
        bb_u8(b, (unsigned)v);
    } else if (v >= 0 && v < 65536) {
        bb_u8(b, 'M');
        bb_le(b, (uint64_t)v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        bb_u8(b, 'J');
        bb_le(b, (uint64_t)v, 4);
    } else {
        /* LONG1: minimal two's complement little-endian bytes */
        int n = 1;
        while (n < 8 && !(v >= -(INT64_C(1) << (8 * n - 1)) && v < (INT64_C(1) << (8 * n - 1)))) n++;
        bb_u8(b, 0x8a);
        bb_u8(b, (unsigned)n);
        bb_le(b, (uint64_t)v, n);
    }
}

static void pk_unicode(bytebuf *b, const char *s) {
    bb_u8(b, 'X');
    bb_le(b, strlen(s), 4);
    bb_str(b, s);
}

static void pk_put(bytebuf *b, unsigned memo) {
    bb_u8(b, 'q');
    bb_u8(b, memo);
}

/* data.pkl of torch.save(tensor) for a [rows, cols] BF16 tensor, storage '0'. */
static void build_pickle(bytebuf *b, int64_t rows, int64_t cols) {
    bb_u8(b, 0x80);
    bb_u8(b, 2);
    bb_str(b, "ctorch._utils\n_rebuild_tensor_v2\n");
    pk_put(b, 0);
    bb_str(b, "((");
    pk_unicode(b, "storage");
    pk_put(b, 1);
    bb_str(b, "ctorch\nBFloat16Storage\n");
    pk_put(b, 2);
    pk_unicode(b, "0");
    pk_put(b, 3);
    pk_unicode(b, "cuda:0");
    pk_put(b, 4);
    pk_int(b, rows * cols);
    bb_u8(b, 't');
    pk_put(b, 5);
    bb_u8(b, 'Q');
    pk_int(b, 0); /* storage offset */
    pk_int(b, rows);
    pk_int(b, cols);
    bb_u8(b, 0x86);
    pk_put(b, 6);
    pk_int(b, cols);
    pk_int(b, 1);
    bb_u8(b, 0x86);
    pk_put(b, 7);
    bb_u8(b, 0x89); /* requires_grad=False */
    bb_str(b, "ccollections\nOrderedDict\n");
    pk_put(b, 8);
    bb_u8(b, ')');
    bb_u8(b, 'R');
    pk_put(b, 9);
    bb_u8(b, 't');
    pk_put(b, 10);
    bb_u8(b, 'R');
    pk_put(b, 11);
    bb_u8(b, '.');
}

typedef struct out_member {
    const char *leaf;  /* name inside the root folder */
    char name[256];    /* root/leaf */
    const unsigned char *data;
    size_t len;
    uint32_t crc;
    uint64_t local_off;
} out_member;

int vox_pt_write_bf16(const char *path, const char *root, int64_t rows, int64_t cols,
                      const uint16_t *bf16, vox_error *err) {
    if (!path) return vox_fail(err, VOX_E_ARG, "vox_pt_write_bf16: path is NULL");
    if (!root || !*root || strlen(root) > 200 || strchr(root, '/'))
        return vox_fail(err, VOX_E_ARG, "%s: invalid archive root folder name", path);
    if (rows <= 0 || cols <= 0 || !bf16)
        return vox_fail(err, VOX_E_ARG, "%s: invalid tensor [%lld, %lld]", path, (long long)rows,
                        (long long)cols);
    /* Without ZIP64 records every member and offset must fit in 32 bits. */
    if (rows > (INT64_C(0xF0000000) / 2) / cols)
        return vox_fail(err, VOX_E_UNSUPPORTED, "%s: tensor too large for a non-ZIP64 archive",
                        path);
    size_t nbytes = (size_t)(rows * cols) * 2;

    int rc = VOX_OK;
    crc32_table crc;
    crc32_init(&crc);
    bytebuf pkl = {0}, file = {0};
    unsigned char *data = malloc(nbytes);
    if (!data) {
        rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < nbytes / 2; i++) { /* little endian whatever the host */
        data[2 * i] = (unsigned char)(bf16[i] & 0xff);
        data[2 * i + 1] = (unsigned char)(bf16[i] >> 8);
    }
    build_pickle(&pkl, rows, cols);
    if (pkl.oom) {
        rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory", path);
        goto done;
    }
    /* torch writes a 40-digit id; any digits do, so derive them from the data
     * (FNV-1a) to keep the output reproducible. */
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
    for (size_t i = 0; i < nbytes; i++) h1 = (h1 ^ data[i]) * 0x100000001b3ull;
    for (size_t i = 0; i < pkl.len; i++) h2 = (h2 ^ pkl.p[i]) * 0x100000001b3ull;
    char serial[48];
    snprintf(serial, sizeof serial, "%020llu%020llu", (unsigned long long)(h1 % 10000000000000000000ull),
             (unsigned long long)(h2 % 10000000000000000000ull));

    out_member mem[7] = {
        {.leaf = "data.pkl", .data = pkl.p, .len = pkl.len},
        {.leaf = ".format_version", .data = (const unsigned char *)"1", .len = 1},
        {.leaf = ".storage_alignment", .data = (const unsigned char *)"64", .len = 2},
        {.leaf = "byteorder", .data = (const unsigned char *)"little", .len = 6},
        {.leaf = "data/0", .data = data, .len = nbytes},
        {.leaf = "version", .data = (const unsigned char *)"3\n", .len = 2},
        {.leaf = ".data/serialization_id", .data = (const unsigned char *)serial, .len = 40},
    };
    enum { N_MEMBERS = 7, DATA_MEMBER = 4 }; /* data/0 is mem[4] */
    /* Headers go into `file`; the big storage member is written straight from `data`. */
    uint64_t pos = 0;
    size_t seg_start[N_MEMBERS]; /* offset in `file` where member i's data belongs */
    for (int i = 0; i < N_MEMBERS; i++) {
        out_member *om = &mem[i];
        size_t rl = strlen(root), ll = strlen(om->leaf); /* rl <= 200, ll <= 22 */
        memcpy(om->name, root, rl);
        om->name[rl] = '/';
        memcpy(om->name + rl + 1, om->leaf, ll + 1);
        size_t nlen = rl + 1 + ll;
        om->crc = crc32_update(&crc, 0, om->data, om->len);
        om->local_off = pos;
        /* torch's 'FB' extra field pads the data start to a multiple of 64 */
        uint64_t start = pos + ZIP_LOCAL_SIZE + nlen + 4;
        size_t pad = (size_t)((64 - start % 64) % 64);
        bb_le(&file, ZIP_LOCAL_SIG, 4);
        bb_le(&file, 0, 2);      /* version needed */
        bb_le(&file, 0x0808, 2); /* data descriptor follows; UTF-8 names */
        bb_le(&file, 0, 2);      /* stored */
        bb_le(&file, 0, 4);      /* time, date */
        bb_le(&file, 0, 4);      /* crc, sizes: in the descriptor */
        bb_le(&file, 0, 4);
        bb_le(&file, 0, 4);
        bb_le(&file, nlen, 2);
        bb_le(&file, 4 + pad, 2);
        bb_put(&file, om->name, nlen);
        bb_str(&file, "FB");
        bb_le(&file, pad, 2);
        for (size_t k = 0; k < pad; k++) bb_u8(&file, 'Z');
        seg_start[i] = file.len;
        pos += ZIP_LOCAL_SIZE + nlen + 4 + pad;
        if (i != DATA_MEMBER) bb_put(&file, om->data, om->len);
        pos += om->len;
        bb_le(&file, ZIP_DESCRIPTOR_SIG, 4);
        bb_le(&file, om->crc, 4);
        bb_le(&file, om->len, 4);
        bb_le(&file, om->len, 4);
        pos += 16;
    }
    uint64_t cd_off = pos;
    for (int i = 0; i < N_MEMBERS; i++) {
        size_t nlen = strlen(mem[i].name);
        bb_le(&file, ZIP_CENTRAL_SIG, 4);
        bb_le(&file, 0, 2); /* made by */
        bb_le(&file, 0, 2); /* needed */
        bb_le(&file, 0x0808, 2);
        bb_le(&file, 0, 2);
        bb_le(&file, 0, 4);
        bb_le(&file, mem[i].crc, 4);
        bb_le(&file, mem[i].len, 4);
        bb_le(&file, mem[i].len, 4);
        bb_le(&file, nlen, 2);
        bb_le(&file, 0, 2); /* extra */
        bb_le(&file, 0, 2); /* comment */
        bb_le(&file, 0, 2); /* disk */
        bb_le(&file, 0, 2); /* internal attributes */
        bb_le(&file, 0, 4); /* external attributes */
        bb_le(&file, mem[i].local_off, 4);
        bb_put(&file, mem[i].name, nlen);
        pos += ZIP_CENTRAL_SIZE + nlen;
    }
    uint64_t cd_size = pos - cd_off, eocd64 = pos;
    bb_le(&file, ZIP_EOCD64_SIG, 4);
    bb_le(&file, 44, 8);     /* size of the rest of this record */
    bb_le(&file, 0x031e, 2); /* made by: the values torch's writer uses */
    bb_le(&file, 0x2d, 2);
    bb_le(&file, 0, 4);
    bb_le(&file, 0, 4);
    bb_le(&file, N_MEMBERS, 8);
    bb_le(&file, N_MEMBERS, 8);
    bb_le(&file, cd_size, 8);
    bb_le(&file, cd_off, 8);
    bb_le(&file, ZIP_LOCATOR64_SIG, 4);
    bb_le(&file, 0, 4);
    bb_le(&file, eocd64, 8);
    bb_le(&file, 1, 4);
    bb_le(&file, ZIP_EOCD_SIG, 4);
    bb_le(&file, 0, 2);
    bb_le(&file, 0, 2);
    bb_le(&file, N_MEMBERS, 2);
    bb_le(&file, N_MEMBERS, 2);
    bb_le(&file, cd_size, 4);
    bb_le(&file, cd_off, 4);
    bb_le(&file, 0, 2);
    if (file.oom) {
        rc = vox_fail(err, VOX_E_NOMEM, "%s: out of memory", path);
        goto done;
    }

    vox_atomic_file af;
    if ((rc = vox_atomic_open(&af, path, err))) goto done;
    /* Everything before the storage's data, the data, then the rest. */
    size_t cut = seg_start[DATA_MEMBER];
    int ok = fwrite(file.p, 1, cut, af.f) == cut && fwrite(data, 1, nbytes, af.f) == nbytes &&
             fwrite(file.p + cut, 1, file.len - cut, af.f) == file.len - cut;
    if (!ok) {
        rc = vox_fail(err, VOX_E_IO, "%s: write failed: %s", path, strerror(errno));
        vox_atomic_abort(&af);
    } else {
        rc = vox_atomic_commit(&af, path, err);
    }
done:
    free(data);
    free(pkl.p);
    free(file.p);
    return rc;
}
