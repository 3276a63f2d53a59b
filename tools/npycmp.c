/* npycmp.c — compares a produced .npy array with a golden one (tests/golden/run.sh).
 *
 * Usage: npycmp EXPECTED.npy ACTUAL.npy [RTOL]
 * Both files must have the same dtype and shape.  float32 arrays pass when
 * max|a - b| / max|b| <= RTOL (default 1e-4; b = expected), the error is printed
 * either way, and any NaN/Inf in the actual array fails.  int32 arrays must be
 * identical; the first difference is printed with its multi-index.
 * Exit status: 0 match, 1 mismatch, 2 usage or read error. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/npy.h"

/* "(2, 3)"-style shape for messages. */
static void shape_str(const vox_npy *a, char *buf, size_t n) {
    size_t used = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < a->ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? ", " : "",
                                 (long long)a->shape[d]);
    if (used < n)
        snprintf(buf + used, n - used, ")");
}

/* Multi-index of flat element i, e.g. "[1, 4]". */
static void index_str(const vox_npy *a, int64_t i, char *buf, size_t n) {
    int64_t idx[8];
    for (int d = a->ndim - 1; d >= 0; d--) {
        idx[d] = a->shape[d] ? i % a->shape[d] : 0;
        i = a->shape[d] ? i / a->shape[d] : 0;
    }
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < a->ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? ", " : "", (long long)idx[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}

static int compare_f32(const vox_npy *e, const vox_npy *a, double rtol) {
    const float *x = e->data, *y = a->data;
    double max_err = 0.0, max_ref = 0.0;
    int64_t worst = 0;
    for (int64_t i = 0; i < e->numel; i++) {
        if (!isfinite(y[i])) {
            char ix[128];
            index_str(e, i, ix, sizeof ix);
            printf("non-finite value %g at %s (expected %.9g)\n", (double)y[i], ix, (double)x[i]);
            return 1;
        }
        double d = fabs((double)y[i] - (double)x[i]);
        if (d > max_err) {
            max_err = d;
            worst = i;
        }
        if (fabs((double)x[i]) > max_ref)
            max_ref = fabs((double)x[i]);
    }
    /* an all-zero golden must be matched exactly */
    double rel = max_ref > 0.0 ? max_err / max_ref : (max_err > 0.0 ? INFINITY : 0.0);
    char ix[128];
    index_str(e, worst, ix, sizeof ix);
    printf("rel err %.3g (max abs err %.3g at %s, max |expected| %.3g, rtol %.3g)\n", rel, max_err,
           ix, max_ref, rtol);
    return rel <= rtol ? 0 : 1;
}

static int compare_i32(const vox_npy *e, const vox_npy *a) {
    const int32_t *x = e->data, *y = a->data;
    int64_t n_diff = 0, first = -1;
    for (int64_t i = 0; i < e->numel; i++)
        if (x[i] != y[i]) {
            if (first < 0)
                first = i;
            n_diff++;
        }
    if (first < 0) {
        printf("identical (%lld int32 values)\n", (long long)e->numel);
        return 0;
    }
    char ix[128];
    index_str(e, first, ix, sizeof ix);
    printf("%lld of %lld values differ; first at %s: expected %d, got %d\n", (long long)n_diff,
           (long long)e->numel, ix, (int)x[first], (int)y[first]);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s EXPECTED.npy ACTUAL.npy [RTOL]\n", argv[0]);
        return 2;
    }
    double rtol = 1e-4;
    if (argc == 4) {
        char *end;
        rtol = strtod(argv[3], &end);
        if (*end || !(rtol >= 0.0)) {
            fprintf(stderr, "npycmp: bad RTOL '%s'\n", argv[3]);
            return 2;
        }
    }
    vox_npy e = {0}, a = {0};
    vox_error err = {0};
    if (vox_npy_read(argv[1], &e, &err) != VOX_OK) {
        fprintf(stderr, "npycmp: %s\n", err.msg);
        return 2;
    }
    if (vox_npy_read(argv[2], &a, &err) != VOX_OK) {
        fprintf(stderr, "npycmp: %s\n", err.msg);
        vox_npy_free(&e);
        return 2;
    }
    int rc;
    char se[256], sa[256];
    shape_str(&e, se, sizeof se);
    shape_str(&a, sa, sizeof sa);
    if (e.type != a.type) {
        printf("dtype differs: expected %s, got %s\n", e.type == VOX_NPY_F32 ? "float32" : "int32",
               a.type == VOX_NPY_F32 ? "float32" : "int32");
        rc = 1;
    } else if (e.ndim != a.ndim || e.numel != a.numel) {
        printf("shape differs: expected %s, got %s\n", se, sa);
        rc = 1;
    } else {
        rc = 0;
        for (int d = 0; d < e.ndim; d++)
            if (e.shape[d] != a.shape[d])
                rc = 1;
        if (rc)
            printf("shape differs: expected %s, got %s\n", se, sa);
        else
            rc = e.type == VOX_NPY_F32 ? compare_f32(&e, &a, rtol) : compare_i32(&e, &a);
    }
    vox_npy_free(&e);
    vox_npy_free(&a);
    return rc;
}
