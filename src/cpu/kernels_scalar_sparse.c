/* kernels_scalar_sparse.c — the plain-C sparse decode kernel (the spec of kernels_sparse.h) and
 * the run-time choice between it and the SIMD versions. */
#include "cpu/kernels_sparse.h"
#include "cpu/kernels.h"
#include "quant.h"

#include <string.h>

void zk_sparse_gemv_scalar(const uint8_t *cols, size_t col_bytes, const uint32_t *idx, const float *val, uint32_t n,
                           uint32_t b0, uint32_t b1, float *y) {
    for (uint32_t b = b0; b < b1; b++) {
        float acc[QK8_0];
        memset(acc, 0, sizeof acc);
        for (uint32_t k = 0; k < n; k++) {
            const block_q8_0 *q = (const block_q8_0 *)(cols + (size_t)idx[k] * col_bytes) + b;
            const float s = val[k] * zeta_f16_to_f32(q->d);
            for (int j = 0; j < QK8_0; j++) acc[j] += s * (float)q->qs[j];
        }
        memcpy(y + (size_t)b * QK8_0, acc, sizeof acc);
    }
}

#if defined(ZETA_HAVE_X86)
static zk_sparse_gemv_fn best_simd(const char **name) {
    zk_sparse_gemv_fn f = zk_cpu_has_avx2() ? zk_sparse_gemv_avx2() : NULL;
    if (f) *name = "avx2";
    return f;
}
zk_sparse_gemv_fn zk_sparse_gemv_neon(void) { return NULL; }
#elif defined(ZETA_HAVE_NEON)
zk_sparse_gemv_fn zk_sparse_gemv_avx2(void) { return NULL; }
static zk_sparse_gemv_fn best_simd(const char **name) {
    zk_sparse_gemv_fn f = zk_cpu_has_neon() ? zk_sparse_gemv_neon() : NULL;
    if (f) *name = "neon";
    return f;
}
#else
zk_sparse_gemv_fn zk_sparse_gemv_avx2(void) { return NULL; }
zk_sparse_gemv_fn zk_sparse_gemv_neon(void) { return NULL; }
static zk_sparse_gemv_fn best_simd(const char **name) { (void)name; return NULL; }
#endif

zk_sparse_gemv_fn zk_sparse_gemv_select(void) {
    const char *name = "scalar";
    zk_sparse_gemv_fn f = best_simd(&name);
    return f ? f : zk_sparse_gemv_scalar;
}

const char *zk_sparse_gemv_name(void) {
    const char *name = "scalar";
    best_simd(&name);
    return name;
}
