/* kernels_neon_legacy.c — AArch64 NEON (baseline armv8-a, no dot-product extension) kernels of the
 * legacy types (kernels_legacy.h): dots of Q4_1 / Q5_1 weights with Q8_1 activations and of Q5_0
 * weights with Q8_0 activations, and the Q8_1 activation quantizer. This whole file is compiled with
 * -march=armv8-a. Semantics are kernels_scalar_legacy.c's: the integer block dots are exact, the f32
 * sums may run in a different order, and the Q8_1 quantizer gives the scalar bytes exactly (which
 * follow x86's conversion rules: NaN / out-of-range -> INT32_MIN, emulated here).
 *
 * Per block the 32 codes are two 16-byte registers (elements 0..15, 16..31) multiplied with the
 * activations by widening int8 multiplies: every int16 lane sums two products, below 2^13. */
#include "kernels_legacy.h"

#include <arm_neon.h>

static inline float f16(zeta_f16 h) {
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

/* [a0*b0, a1*b1, a2*b2, a3*b3] of 4 f16 pairs. */
static inline float32x4_t mul_f16x4(zeta_f16 a0, zeta_f16 a1, zeta_f16 a2, zeta_f16 a3,
                                    zeta_f16 b0, zeta_f16 b1, zeta_f16 b2, zeta_f16 b3) {
    const uint16_t ha[4] = {a0, a1, a2, a3}, hb[4] = {b0, b1, b2, b3};
    return vmulq_f32(vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(ha))), vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(hb))));
}

/* The nibbles of a block's qs: *lo = elements 0..15, *hi = elements 16..31 (unsigned 0..15). */
static inline void nibbles(const uint8_t *qs, int8x16_t *lo, int8x16_t *hi) {
    const uint8x16_t raw = vld1q_u8(qs);
    *lo = vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0f)));
    *hi = vreinterpretq_s8_u8(vshrq_n_u8(raw, 4));
}

/* The fifth bits of a Q5 block as 0 / 16 bytes: *lo for elements 0..15, *hi for 16..31. */
static inline void fifth_bits(const uint8_t qh[4], int8x16_t *lo, int8x16_t *hi) {
    static const uint8_t k_idx_lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    static const uint8_t k_idx_hi[16] = {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
    static const uint8_t k_bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint32_t w = (uint32_t)qh[0] | ((uint32_t)qh[1] << 8) | ((uint32_t)qh[2] << 16) | ((uint32_t)qh[3] << 24);
    const uint8x16_t v = vreinterpretq_u8_u32(vdupq_n_u32(w));
    const uint8x16_t bit = vld1q_u8(k_bit), sixteen = vdupq_n_u8(16);
    *lo = vreinterpretq_s8_u8(vandq_u8(vtstq_u8(vqtbl1q_u8(v, vld1q_u8(k_idx_lo)), bit), sixteen));
    *hi = vreinterpretq_s8_u8(vandq_u8(vtstq_u8(vqtbl1q_u8(v, vld1q_u8(k_idx_hi)), bit), sixteen));
}

/* sum q * y over one block (q: 32 codes as lo/hi, |q| <= 31), as 4 int32 partial sums. */
static inline int32x4_t dot_block(int8x16_t qlo, int8x16_t qhi, const int8_t *y) {
    const int8x16_t y0 = vld1q_s8(y), y1 = vld1q_s8(y + 16);
    int16x8_t p0 = vmull_s8(vget_low_s8(qlo), vget_low_s8(y0));
    p0 = vmlal_s8(p0, vget_high_s8(qlo), vget_high_s8(y0));
    int16x8_t p1 = vmull_s8(vget_low_s8(qhi), vget_low_s8(y1));
    p1 = vmlal_s8(p1, vget_high_s8(qhi), vget_high_s8(y1));
    return vpadalq_s16(vpaddlq_s16(p0), p1);
}

static inline int32x4_t dot_q4_1_block(const block_q4_1 *a, const block_q8_1 *b) {
    int8x16_t lo, hi;
    nibbles(a->qs, &lo, &hi);
    return dot_block(lo, hi, b->qs);
}

static inline int32x4_t dot_q5_1_block(const block_q5_1 *a, const block_q8_1 *b) {
    int8x16_t lo, hi, hlo, hhi;
    nibbles(a->qs, &lo, &hi);
    fifth_bits(a->qh, &hlo, &hhi);
    return dot_block(vorrq_s8(lo, hlo), vorrq_s8(hi, hhi), b->qs);
}

static inline int32x4_t dot_q5_0_block(const block_q5_0 *a, const block_q8_0 *b) {
    int8x16_t lo, hi, hlo, hhi;
    nibbles(a->qs, &lo, &hi);
    fifth_bits(a->qh, &hlo, &hhi);
    const int8x16_t c16 = vdupq_n_s8(16);
    return dot_block(vsubq_s8(vorrq_s8(lo, hlo), c16), vsubq_s8(vorrq_s8(hi, hhi), c16), b->qs);
}

/* ---- dots: 4 blocks per iteration, each scaled in f32 -------------------------------------- */

void zk_vec_dot_q4_1_neon(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / 32;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f), accm = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const float32x4_t d4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        accm = vaddq_f32(accm, mul_f16x4(a[i].m, a[i + 1].m, a[i + 2].m, a[i + 3].m, b[i].s, b[i + 1].s, b[i + 2].s, b[i + 3].s));
        acc0 = vfmaq_laneq_f32(acc0, vcvtq_f32_s32(dot_q4_1_block(&a[i], &b[i])), d4, 0);
        acc1 = vfmaq_laneq_f32(acc1, vcvtq_f32_s32(dot_q4_1_block(&a[i + 1], &b[i + 1])), d4, 1);
        acc0 = vfmaq_laneq_f32(acc0, vcvtq_f32_s32(dot_q4_1_block(&a[i + 2], &b[i + 2])), d4, 2);
        acc1 = vfmaq_laneq_f32(acc1, vcvtq_f32_s32(dot_q4_1_block(&a[i + 3], &b[i + 3])), d4, 3);
    }
    float summ = 0.0f;
    for (; i < nb; i++) {
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(dot_q4_1_block(&a[i], &b[i])), f16(a[i].d) * f16(b[i].d));
        summ += f16(a[i].m) * f16(b[i].s);
    }
    *s = vaddvq_f32(vaddq_f32(acc0, acc1)) + (vaddvq_f32(accm) + summ);
}

void zk_vec_dot_q5_1_neon(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / 32;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f), accm = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const float32x4_t d4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        accm = vaddq_f32(accm, mul_f16x4(a[i].m, a[i + 1].m, a[i + 2].m, a[i + 3].m, b[i].s, b[i + 1].s, b[i + 2].s, b[i + 3].s));
        acc0 = vfmaq_laneq_f32(acc0, vcvtq_f32_s32(dot_q5_1_block(&a[i], &b[i])), d4, 0);
        acc1 = vfmaq_laneq_f32(acc1, vcvtq_f32_s32(dot_q5_1_block(&a[i + 1], &b[i + 1])), d4, 1);
        acc0 = vfmaq_laneq_f32(acc0, vcvtq_f32_s32(dot_q5_1_block(&a[i + 2], &b[i + 2])), d4, 2);
        acc1 = vfmaq_laneq_f32(acc1, vcvtq_f32_s32(dot_q5_1_block(&a[i + 3], &b[i + 3])), d4, 3);
    }
    float summ = 0.0f;
    for (; i < nb; i++) {
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(dot_q5_1_block(&a[i], &b[i])), f16(a[i].d) * f16(b[i].d));
        summ += f16(a[i].m) * f16(b[i].s);
    }
    *s = vaddvq_f32(vaddq_f32(acc0, acc1)) + (vaddvq_f32(accm) + summ);
}

void zk_vec_dot_q5_0_neon(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_0 *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const float32x4_t d4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        acc0 = vfmaq_laneq_f32(acc0, vcvtq_f32_s32(dot_q5_0_block(&a[i], &b[i])), d4, 0);
        acc1 = vfmaq_laneq_f32(acc1, vcvtq_f32_s32(dot_q5_0_block(&a[i + 1], &b[i + 1])), d4, 1);
        acc0 = vfmaq_laneq_f32(acc0, vcvtq_f32_s32(dot_q5_0_block(&a[i + 2], &b[i + 2])), d4, 2);
        acc1 = vfmaq_laneq_f32(acc1, vcvtq_f32_s32(dot_q5_0_block(&a[i + 3], &b[i + 3])), d4, 3);
    }
    for (; i < nb; i++)
        acc0 = vfmaq_n_f32(acc0, vcvtq_f32_s32(dot_q5_0_block(&a[i], &b[i])), f16(a[i].d) * f16(b[i].d));
    *s = vaddvq_f32(vaddq_f32(acc0, acc1));
}

/* ---- the Q8_1 activation quantizer (byte-identical to kernels_scalar_legacy.c) -------------- */

/* round-half-even(v) -> int32 with x86's rule: NaN and |r| >= 2^31 give INT32_MIN. */
static inline int32x4_t cvt_x86(float32x4_t v) {
    const float32x4_t r = vrndnq_f32(v);
    const uint32x4_t in_range = vcltq_f32(vabsq_f32(r), vdupq_n_f32(2147483648.0f));
    return vbslq_s32(in_range, vcvtq_s32_f32(r), vdupq_n_s32(INT32_MIN));
}

void zk_from_float_q8_1_neon(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    const int64_t nb = n / 32;
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float32x4_t v[8];
        for (int k = 0; k < 8; k++) v[k] = vld1q_f32(x + 4 * k);
        float32x4_t m = vabsq_f32(v[0]);
        for (int k = 1; k < 8; k++) m = vmaxnmq_f32(m, vabsq_f32(v[k]));
        const float amax = vmaxnmvq_f32(m); /* the max of non-NaN values does not depend on the order */
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int32x4_t q[8];
        uint32x4_t sum = vdupq_n_u32(0); /* unsigned: wraps like the scalar, without overflow */
        for (int k = 0; k < 8; k++) {
            q[k] = cvt_x86(vmulq_n_f32(v[k], id));
            sum = vaddq_u32(sum, vreinterpretq_u32_s32(q[k]));
        }
        for (int k = 0; k < 8; k += 2) {
            const int16x8_t h = vcombine_s16(vqmovn_s32(q[k]), vqmovn_s32(q[k + 1]));
            vst1_s8(y[i].qs + 4 * k, vqmovn_s16(h));
        }
        y[i].d = zeta_f32_to_f16(d);
        const uint32_t su = vaddvq_u32(sum);
        const int32_t si = su <= (uint32_t)INT32_MAX ? (int32_t)su : -(int32_t)(~su) - 1;
        y[i].s = zeta_f32_to_f16(d * (float)si);
    }
}
