/* kernels_neon_iqk.c — baseline AArch64 NEON (armv8-a, no SDOT) dot products of Q2_K, Q3_K,
 * IQ4_XS (Q8_K activations) and IQ4_NL (Q8_0 activations); this whole file is compiled with
 * -march=armv8-a. Integer sums of every sub-block are formed with widening multiplies (SMULL) and
 * pairwise adds, the IQ4 codebook lookup is one TBL; every scale is then applied in f32 in the
 * order of kernels_scalar_iqk.c, so the results equal the scalar spec's exactly. */
#include "kernels_iqk.h"

#include <arm_neon.h>

/* Exact dot of 16 int8 pairs as 4 int32 partial sums (each product fits int16). */
static inline int32x4_t dot16(int8x16_t a, int8x16_t b) {
    const int16x8_t p0 = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    const int16x8_t p1 = vmull_high_s8(a, b);
    return vaddq_s32(vpaddlq_s16(p0), vpaddlq_s16(p1));
}

/* The 2-bit codes at bits 2k..2k+1 of 16 bytes. */
static inline int8x16_t codes2(uint8x16_t q, int k) {
    return vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q, vdupq_n_s8((int8_t)(-2 * k))), vdupq_n_u8(3)));
}

/* ---- Q2_K ------------------------------------------------------------------------------------ */

void zk_vec_dot_q2_K_neon(int64_t n, float *s, const void *w, const void *x) {
    const block_q2_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const uint8x16_t sc8 = vld1q_u8(a[i].scales);
        /* summs = sum_j (sc_j >> 4) * bsums_j */
        const uint8x16_t mins = vshrq_n_u8(sc8, 4);
        const int16x8_t m0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mins)));
        const int16x8_t m1 = vreinterpretq_s16_u16(vmovl_high_u8(mins));
        const int16x8_t bs0 = vld1q_s16(b[i].bsums), bs1 = vld1q_s16(b[i].bsums + 8);
        int32x4_t vm = vmull_s16(vget_low_s16(m0), vget_low_s16(bs0));
        vm = vmlal_high_s16(vm, m0, bs0);
        vm = vmlal_s16(vm, vget_low_s16(m1), vget_low_s16(bs1));
        vm = vmlal_high_s16(vm, m1, bs1);
        const int32_t summs = vaddvq_s32(vm);
        int32x4_t isum = vdupq_n_s32(0);
        for (int c = 0; c < 2; c++) {
            const uint8x16_t qa = vld1q_u8(a[i].qs + 32 * c), qb = vld1q_u8(a[i].qs + 32 * c + 16);
            const int8_t *y = b[i].qs + 128 * c;
            for (int k = 0; k < 4; k++) { /* sub-blocks 8c + 2k (l 0..15) and 8c + 2k + 1 (l 16..31) */
                const int j = 8 * c + 2 * k;
                isum = vmlaq_n_s32(isum, dot16(codes2(qa, k), vld1q_s8(y + 32 * k)), a[i].scales[j] & 0xf);
                isum = vmlaq_n_s32(isum, dot16(codes2(qb, k), vld1q_s8(y + 32 * k + 16)), a[i].scales[j + 1] & 0xf);
            }
        }
        const float dall = b[i].d * zeta_f16_to_f32(a[i].d);
        const float dmin = b[i].d * zeta_f16_to_f32(a[i].dmin);
        sum += dall * (float)vaddvq_s32(isum) - dmin * (float)summs;
    }
    *s = sum;
}

/* ---- Q3_K ------------------------------------------------------------------------------------ */

void zk_vec_dot_q3_K_neon(int64_t n, float *s, const void *w, const void *x) {
    const block_q3_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const int8x16_t four = vdupq_n_s8(4);
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int sc[16];
        for (int j = 0; j < 16; j++) {
            const int l = j < 8 ? a[i].scales[j] & 0xf : a[i].scales[j - 8] >> 4;
            const int h = (a[i].scales[8 + j % 4] >> (2 * (j / 4))) & 3;
            sc[j] = (l | (h << 4)) - 32;
        }
        const uint8x16_t hma = vld1q_u8(a[i].hmask), hmb = vld1q_u8(a[i].hmask + 16);
        int32x4_t isum = vdupq_n_s32(0);
        for (int c = 0; c < 2; c++) {
            const uint8x16_t qa = vld1q_u8(a[i].qs + 32 * c), qb = vld1q_u8(a[i].qs + 32 * c + 16);
            const int8_t *y = b[i].qs + 128 * c;
            for (int k = 0; k < 4; k++) {
                const uint8x16_t bit = vdupq_n_u8((uint8_t)(1u << (4 * c + k)));
                /* q = low - 4 + (4 where the high bit is set) */
                const int8x16_t ha = vandq_s8(vreinterpretq_s8_u8(vtstq_u8(hma, bit)), four);
                const int8x16_t hb = vandq_s8(vreinterpretq_s8_u8(vtstq_u8(hmb, bit)), four);
                const int8x16_t wa = vaddq_s8(vsubq_s8(codes2(qa, k), four), ha);
                const int8x16_t wb = vaddq_s8(vsubq_s8(codes2(qb, k), four), hb);
                const int j = 8 * c + 2 * k;
                isum = vmlaq_n_s32(isum, dot16(wa, vld1q_s8(y + 32 * k)), sc[j]);
                isum = vmlaq_n_s32(isum, dot16(wb, vld1q_s8(y + 32 * k + 16)), sc[j + 1]);
            }
        }
        sum += (zeta_f16_to_f32(a[i].d) * b[i].d) * (float)vaddvq_s32(isum);
    }
    *s = sum;
}

/* ---- IQ4_NL / IQ4_XS ------------------------------------------------------------------------- */

/* Exact dot of one 32-element IQ4 block (16 bytes of nibbles) with 32 int8. */
static inline int32_t iq4_block_dot(int8x16_t table, const uint8_t *qs, const int8_t *y) {
    const uint8x16_t q = vld1q_u8(qs);
    const int8x16_t lo = vqtbl1q_s8(table, vandq_u8(q, vdupq_n_u8(0x0f)));
    const int8x16_t hi = vqtbl1q_s8(table, vshrq_n_u8(q, 4));
    return vaddvq_s32(vaddq_s32(dot16(lo, vld1q_s8(y)), dot16(hi, vld1q_s8(y + 16))));
}

static const int8_t k_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

void zk_vec_dot_iq4_nl_neon(int64_t n, float *s, const void *w, const void *x) {
    const block_iq4_nl *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    const int8x16_t table = vld1q_s8(k_iq4_values);
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const float d = zeta_f16_to_f32(b[i].d) * zeta_f16_to_f32(a[i].d);
        sum += d * (float)iq4_block_dot(table, a[i].qs, b[i].qs);
    }
    *s = sum;
}

void zk_vec_dot_iq4_xs_neon(int64_t n, float *s, const void *w, const void *x) {
    const block_iq4_xs *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const int8x16_t table = vld1q_s8(k_iq4_values);
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const float d4d8 = zeta_f16_to_f32(a[i].d) * b[i].d;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const int ls = ((a[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((a[i].scales_h >> (2 * ib)) & 3) << 4);
            sum += (d4d8 * (float)(ls - 32)) * (float)iq4_block_dot(table, a[i].qs + 16 * ib, b[i].qs + 32 * ib);
        }
    }
    *s = sum;
}
