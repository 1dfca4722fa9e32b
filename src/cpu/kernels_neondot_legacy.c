/* kernels_neondot_legacy.c — AArch64 dot-product-extension (SDOT) dots of the legacy types
 * (kernels_neondot.h): Q4_1 / Q5_1 weights with Q8_1 activations, Q5_0 weights with Q8_0
 * activations. This whole file is compiled with -march=armv8.2-a+dotprod. Semantics are
 * kernels_scalar_legacy.c's: per block the integer sum of q_w * q_x is exact, then
 * sum += (d_w * d_x) * sumi (+ m_w * s_x) in f32, in another order than the scalar loop.
 *
 * Per block the 32 codes are two 16-byte registers (elements 0..15, 16..31); two SDOTs give the
 * block's sum as 4 int32 partial sums. Four blocks are reduced to one vector of 4 block sums
 * (|sumi| <= 32 * 31 * 128 < 2^24, so the conversion to f32 is exact) and scaled by a vector of the
 * 4 blocks' d_w * d_x. */
#include "kernels_neondot.h"

#include <arm_neon.h>

static inline float f16(zeta_f16 h) {
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

/* [a0*b0, a1*b1, a2*b2, a3*b3] of 4 f16 pairs, each converted exactly and multiplied once in f32. */
static inline float32x4_t mul_f16x4(zeta_f16 a0, zeta_f16 a1, zeta_f16 a2, zeta_f16 a3,
                                    zeta_f16 b0, zeta_f16 b1, zeta_f16 b2, zeta_f16 b3) {
    const uint16_t ha[4] = {a0, a1, a2, a3}, hb[4] = {b0, b1, b2, b3};
    return vmulq_f32(vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(ha))), vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(hb))));
}

/* [sum of p0's lanes, p1's, p2's, p3's]. */
static inline int32x4_t sums4(int32x4_t p0, int32x4_t p1, int32x4_t p2, int32x4_t p3) {
    return vpaddq_s32(vpaddq_s32(p0, p1), vpaddq_s32(p2, p3));
}

/* The nibbles of a block's qs: *lo = elements 0..15, *hi = elements 16..31 (unsigned 0..15). */
static inline void nibbles(const uint8_t *qs, int8x16_t *lo, int8x16_t *hi) {
    const uint8x16_t raw = vld1q_u8(qs);
    *lo = vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0f)));
    *hi = vreinterpretq_s8_u8(vshrq_n_u8(raw, 4));
}

/* The fifth bits of a Q5 block (bit j of the little-endian word qh = element j) as 0 / 16 bytes:
 * *lo for elements 0..15, *hi for 16..31. Byte j / 8 of the word is picked by TBL, bit j % 8 by TST. */
static inline void fifth_bits(const uint8_t qh[4], int8x16_t *lo, int8x16_t *hi) {
    static const uint8_t k_idx_lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    static const uint8_t k_idx_hi[16] = {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
    static const uint8_t k_bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint32_t word = (uint32_t)qh[0] | ((uint32_t)qh[1] << 8) | ((uint32_t)qh[2] << 16) | ((uint32_t)qh[3] << 24);
    const uint8x16_t v = vreinterpretq_u8_u32(vdupq_n_u32(word)); /* bytes qh[0..3], repeated */
    const uint8x16_t bit = vld1q_u8(k_bit), sixteen = vdupq_n_u8(16);
    *lo = vreinterpretq_s8_u8(vandq_u8(vtstq_u8(vqtbl1q_u8(v, vld1q_u8(k_idx_lo)), bit), sixteen));
    *hi = vreinterpretq_s8_u8(vandq_u8(vtstq_u8(vqtbl1q_u8(v, vld1q_u8(k_idx_hi)), bit), sixteen));
}

/* sum q * y over one block (q: 32 codes as lo / hi) as 4 int32 partial sums: two SDOTs. */
static inline int32x4_t dot_block(int8x16_t qlo, int8x16_t qhi, const int8_t *y) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), qlo, vld1q_s8(y)), qhi, vld1q_s8(y + 16));
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

/* Q5_0 codes are the 5-bit values minus 16, in [-16, 15]. */
static inline int32x4_t dot_q5_0_block(const block_q5_0 *a, const block_q8_0 *b) {
    int8x16_t lo, hi, hlo, hhi;
    nibbles(a->qs, &lo, &hi);
    fifth_bits(a->qh, &hlo, &hhi);
    const int8x16_t c16 = vdupq_n_s8(16);
    return dot_block(vsubq_s8(vorrq_s8(lo, hlo), c16), vsubq_s8(vorrq_s8(hi, hhi), c16), b->qs);
}

/* ---- dots: 4 blocks per iteration ------------------------------------------------------------ */

void zk_vec_dot_q4_1_neondot(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / 32;
    float32x4_t acc = vdupq_n_f32(0.0f), accm = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const float32x4_t d4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        accm = vaddq_f32(accm, mul_f16x4(a[i].m, a[i + 1].m, a[i + 2].m, a[i + 3].m, b[i].s, b[i + 1].s, b[i + 2].s, b[i + 3].s));
        const int32x4_t si = sums4(dot_q4_1_block(&a[i], &b[i]), dot_q4_1_block(&a[i + 1], &b[i + 1]),
                                   dot_q4_1_block(&a[i + 2], &b[i + 2]), dot_q4_1_block(&a[i + 3], &b[i + 3]));
        acc = vfmaq_f32(acc, vcvtq_f32_s32(si), d4);
    }
    float tail = 0.0f;
    for (; i < nb; i++)
        tail += (f16(a[i].d) * f16(b[i].d)) * (float)vaddvq_s32(dot_q4_1_block(&a[i], &b[i])) + f16(a[i].m) * f16(b[i].s);
    *s = vaddvq_f32(vaddq_f32(acc, accm)) + tail;
}

void zk_vec_dot_q5_1_neondot(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / 32;
    float32x4_t acc = vdupq_n_f32(0.0f), accm = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const float32x4_t d4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        accm = vaddq_f32(accm, mul_f16x4(a[i].m, a[i + 1].m, a[i + 2].m, a[i + 3].m, b[i].s, b[i + 1].s, b[i + 2].s, b[i + 3].s));
        const int32x4_t si = sums4(dot_q5_1_block(&a[i], &b[i]), dot_q5_1_block(&a[i + 1], &b[i + 1]),
                                   dot_q5_1_block(&a[i + 2], &b[i + 2]), dot_q5_1_block(&a[i + 3], &b[i + 3]));
        acc = vfmaq_f32(acc, vcvtq_f32_s32(si), d4);
    }
    float tail = 0.0f;
    for (; i < nb; i++)
        tail += (f16(a[i].d) * f16(b[i].d)) * (float)vaddvq_s32(dot_q5_1_block(&a[i], &b[i])) + f16(a[i].m) * f16(b[i].s);
    *s = vaddvq_f32(vaddq_f32(acc, accm)) + tail;
}

void zk_vec_dot_q5_0_neondot(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_0 *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    float32x4_t acc = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const float32x4_t d4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        const int32x4_t si = sums4(dot_q5_0_block(&a[i], &b[i]), dot_q5_0_block(&a[i + 1], &b[i + 1]),
                                   dot_q5_0_block(&a[i + 2], &b[i + 2]), dot_q5_0_block(&a[i + 3], &b[i + 3]));
        acc = vfmaq_f32(acc, vcvtq_f32_s32(si), d4);
    }
    float tail = 0.0f;
    for (; i < nb; i++) tail += (f16(a[i].d) * f16(b[i].d)) * (float)vaddvq_s32(dot_q5_0_block(&a[i], &b[i]));
    *s = vaddvq_f32(acc) + tail;
}
