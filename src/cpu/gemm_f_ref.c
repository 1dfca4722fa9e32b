/* gemm_f_ref.c — the scalar reference of the F32 / F16 / BF16 row-major products of gemm_f.h (the
 * spec: per (row, token) exactly the scalar vec_dot of kernels_scalar.c, elements converted
 * exactly and summed in order in f32), and selection of the best table for the CPU. */
#include "cpu/gemm_f.h"
#include "cpu/kernels.h"

#include <pthread.h>
#include <string.h>

static void gemm_f32_ref(int64_t k, const void *w, size_t w_stride, int n_rows, const float *x, size_t x_stride,
                         int n_tok, float *y, size_t y_stride) {
    for (int t = 0; t < n_tok; t++) {
        const float *xt = x + (size_t)t * x_stride;
        for (int r = 0; r < n_rows; r++) {
            const float *wr = (const float *)((const uint8_t *)w + (size_t)r * w_stride);
            float sum = 0.0f;
            for (int64_t i = 0; i < k; i++) sum += wr[i] * xt[i];
            y[(size_t)t * y_stride + (size_t)r] = sum;
        }
    }
}

static void gemm_f16_ref(int64_t k, const void *w, size_t w_stride, int n_rows, const float *x, size_t x_stride,
                         int n_tok, float *y, size_t y_stride) {
    for (int t = 0; t < n_tok; t++) {
        const float *xt = x + (size_t)t * x_stride;
        for (int r = 0; r < n_rows; r++) {
            const zeta_f16 *wr = (const zeta_f16 *)((const uint8_t *)w + (size_t)r * w_stride);
            float sum = 0.0f;
            for (int64_t i = 0; i < k; i++) sum += zeta_f16_to_f32(wr[i]) * xt[i];
            y[(size_t)t * y_stride + (size_t)r] = sum;
        }
    }
}

static void gemm_bf16_ref(int64_t k, const void *w, size_t w_stride, int n_rows, const float *x, size_t x_stride,
                          int n_tok, float *y, size_t y_stride) {
    for (int t = 0; t < n_tok; t++) {
        const float *xt = x + (size_t)t * x_stride;
        for (int r = 0; r < n_rows; r++) {
            const zeta_bf16 *wr = (const zeta_bf16 *)((const uint8_t *)w + (size_t)r * w_stride);
            float sum = 0.0f;
            for (int64_t i = 0; i < k; i++) sum += zeta_bf16_to_f32(wr[i]) * xt[i];
            y[(size_t)t * y_stride + (size_t)r] = sum;
        }
    }
}

static const zk_gemmf_table k_gemmf_scalar = {
    .name = "scalar",
    .gemm = {[ZETA_TYPE_F32] = gemm_f32_ref, [ZETA_TYPE_F16] = gemm_f16_ref, [ZETA_TYPE_BF16] = gemm_bf16_ref},
};

const zk_gemmf_table *zk_gemmf_scalar(void) { return &k_gemmf_scalar; }

#ifndef ZETA_HAVE_X86
const zk_gemmf_table *zk_gemmf_avx2(void) { return NULL; }
#endif

static zk_gemmf_table g_selected;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Only SIMD slots are selected (NULL elsewhere): without a SIMD tile kernel the row-by-row SIMD
 * vec_dot of the kernel table is faster than the scalar reference. */
static void select_once(void) {
    memset(&g_selected, 0, sizeof g_selected);
    g_selected.name = "none";
    const zk_gemmf_table *t = zk_cpu_has_avx2() ? zk_gemmf_avx2() : NULL;
    if (t) g_selected = *t;
}

const zk_gemmf_table *zk_gemmf_select(void) {
    pthread_once(&g_once, select_once);
    return &g_selected;
}
