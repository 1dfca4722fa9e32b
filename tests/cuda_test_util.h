/* cuda_test_util.h — helpers shared by the CUDA tests (test_cuda.c, test_cuda_kv.c): loading a model
 * on a backend and comparing float vectors. */
#ifndef ZETA_CUDA_TEST_UTIL_H
#define ZETA_CUDA_TEST_UTIL_H

#include "zeta.h"

#include <math.h>
#include <stddef.h>

static inline zeta_status load(const char *path, zeta_backend b, zeta_model **m, zeta_error *err) {
    zeta_model_params mp = zeta_model_params_default();
    mp.backend = b;
    return zeta_model_load(path, &mp, m, err);
}

/* max |a - b|, NaN-safe (NaN gives infinity) */
static inline double maxdiff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - (double)b[i]);
        if (!(d == d)) return INFINITY;
        if (d > m) m = d;
    }
    return m;
}

static inline double maxabs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

static inline int argmax(const float *x, size_t n) {
    size_t b = 0;
    for (size_t i = 1; i < n; i++) if (x[i] > x[b]) b = i;
    return (int)b;
}

#endif
