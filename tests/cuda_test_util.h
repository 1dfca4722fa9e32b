/* cuda_test_util.h — helpers shared by the CUDA tests (test_cuda.c, test_cuda_kv.c,
 * test_cuda_sparse.c): loading a model on a backend, random inputs and comparing float vectors. */
#ifndef ZETA_CUDA_TEST_UTIL_H
#define ZETA_CUDA_TEST_UTIL_H

#include "zeta.h"
#include "cuda/cuda_backend.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* xorshift inputs, uniform in [-1, 1); a file may set its own seed first */
static uint64_t t_rng = 0x9E3779B97F4A7C15ull;
static inline float frand(void) {
    t_rng ^= t_rng << 13;
    t_rng ^= t_rng >> 7;
    t_rng ^= t_rng << 17;
    return (float)((t_rng >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}
static inline void fill(float *x, size_t n, float scale) { for (size_t i = 0; i < n; i++) x[i] = frand() * scale; }

/* adds the squared differences of a and b to *sum and n to *cnt */
static inline void sqdiff(const float *a, const float *b, size_t n, double *sum, size_t *cnt) {
    for (size_t i = 0; i < n; i++) *sum += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    *cnt += n;
}

/* true when CUDA is compiled in and a device is present; else why[] says why the cases skip */
static inline bool cuda_test_device(char *why, size_t cap) {
    if (!cuda_compiled()) {
        snprintf(why, cap, "built without CUDA (make CUDA=1)");
        return false;
    }
    char reason[150] = "";
    if (cuda_device_count(reason, sizeof reason) > 0) return true;
    snprintf(why, cap, "no CUDA device: %s", reason);
    return false;
}

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
