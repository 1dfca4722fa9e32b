/* kernels_neon_sparse.c — AArch64 Advanced SIMD version of the sparse decode kernel
 * (kernels_sparse.h), the same walk as the AVX2 one: output tiles of 32 blocks accumulated in L1,
 * kept columns four at a time, int8 widened to f32 and multiplied-added with the column's scale
 * times the input value. */
#include "cpu/kernels_sparse.h"
#include "quant.h"

#include <arm_neon.h>
#include <string.h>

#define TILE 32

/* a[0..32) += s * q[0..32) */
static inline void axpy32(float *a, float32x4_t s, const int8_t *q) {
    const int8x16_t q0 = vld1q_s8(q), q1 = vld1q_s8(q + 16);
    const int16x8_t h[4] = {vmovl_s8(vget_low_s8(q0)), vmovl_high_s8(q0), vmovl_s8(vget_low_s8(q1)), vmovl_high_s8(q1)};
    for (int u = 0; u < 4; u++) {
        const float32x4_t lo = vcvtq_f32_s32(vmovl_s16(vget_low_s16(h[u]))), hi = vcvtq_f32_s32(vmovl_high_s16(h[u]));
        vst1q_f32(a + 8 * u, vfmaq_f32(vld1q_f32(a + 8 * u), lo, s));
        vst1q_f32(a + 8 * u + 4, vfmaq_f32(vld1q_f32(a + 8 * u + 4), hi, s));
    }
}

static void gemv_neon(const uint8_t *cols, size_t col_bytes, const uint32_t *idx, const float *val, uint32_t n, uint32_t b0,
                      uint32_t b1, float *y) {
    float acc[TILE * QK8_0];
    for (uint32_t bt = b0; bt < b1; bt += TILE) {
        const uint32_t nb = b1 - bt < TILE ? b1 - bt : TILE;
        memset(acc, 0, (size_t)nb * QK8_0 * sizeof(float));
        for (uint32_t k = 0; k < n; k++) {
            const block_q8_0 *c = (const block_q8_0 *)(cols + (size_t)idx[k] * col_bytes) + bt;
            if (k + 1 < n) __builtin_prefetch(cols + (size_t)idx[k + 1] * col_bytes + (size_t)bt * sizeof(block_q8_0));
            for (uint32_t j = 0; j < nb; j++) axpy32(acc + (size_t)j * QK8_0, vdupq_n_f32(val[k] * zeta_f16_to_f32(c[j].d)), c[j].qs);
        }
        memcpy(y + (size_t)bt * QK8_0, acc, (size_t)nb * QK8_0 * sizeof(float));
    }
}

zk_sparse_gemv_fn zk_sparse_gemv_neon(void) { return gemv_neon; }
