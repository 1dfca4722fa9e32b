/* kernels_neondot_k.c — AArch64 dot-product-extension (SDOT) dots of Q4_K / Q5_K / Q6_K weights with
 * Q8_K activations (kernels_neondot.h). This whole file is compiled with -march=armv8.2-a+dotprod.
 * Semantics are kernels_scalar_k.c's: per super-block the integer sum sumi = sum_j sc_j * (sum of
 * q * y over sub-block j) is exact, and the row's value is accumulated super-block by super-block
 * with the scalar's f32 expression, so the results equal the scalar ones.
 *
 * One SDOT multiplies 16 codes by 16 activations and adds groups of 4 products into 4 int32 lanes.
 * The lanes of 4 sub-blocks are reduced to one vector of 4 sub-block sums by pairwise adds and
 * multiplied by a vector of their 4 scales (every lane stays below 2^31: a sub-block sum is at most
 * 32 * 31 * 128 for Q4_K / Q5_K and 16 * 32 * 128 for Q6_K, times a scale of at most 63 / 128). */
#include "kernels_neondot.h"

#include <arm_neon.h>

/* f16 -> f32 with FCVT (exact, NaN payload kept and quieted: the same as zeta_f16_to_f32) */
static inline float f16(zeta_f16 h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }

/* [sum of p0's lanes, p1's, p2's, p3's]. */
static inline int32x4_t sums4(int32x4_t p0, int32x4_t p1, int32x4_t p2, int32x4_t p3) {
    return vpaddq_s32(vpaddq_s32(p0, p1), vpaddq_s32(p2, p3));
}

/* sum of a * y over 32 lanes (a = a0 | a1, y = y[0..31]) as 4 int32 partial sums. */
static inline int32x4_t dot32(int8x16_t a0, int8x16_t a1, const int8_t *y) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), a0, vld1q_s8(y)), a1, vld1q_s8(y + 16));
}

/* The 8 six-bit scales and 8 mins of a Q4_K / Q5_K super-block (packing as in quant_k.c). */
static inline void scales_mins_k4(const uint8_t *q, uint8_t sc[8], uint8_t m[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        m[j] = q[j + 4] & 63;
    }
    for (int j = 4; j < 8; j++) {
        sc[j] = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
        m[j] = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* sum_j m_j * (bsums[2j] + bsums[2j+1]): 16-bit pair sums (|.| <= 2 * 16 * 128), widening MLAs. */
static inline int32_t mins_dot(const uint8_t m[8], const int16_t *bsums) {
    const int16x8_t pairs = vpaddq_s16(vld1q_s16(bsums), vld1q_s16(bsums + 8));
    const int16x8_t m16 = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(m)));
    const int32x4_t p = vmlal_s16(vmull_s16(vget_low_s16(m16), vget_low_s16(pairs)), vget_high_s16(m16), vget_high_s16(pairs));
    return vaddvq_s32(p);
}

/* 8 unsigned bytes -> two int32x4 (elements 0..3, 4..7). */
static inline void widen_u8x8(const uint8_t *p, int32x4_t *lo, int32x4_t *hi) {
    const uint16x8_t w = vmovl_u8(vld1_u8(p));
    *lo = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w)));
    *hi = vreinterpretq_s32_u32(vmovl_high_u16(w));
}

/* ---- Q4_K / Q5_K ----------------------------------------------------------------------------- */

/* sumi of one Q4_K / Q5_K super-block; qh == NULL for Q4_K. Chunk c of 64 elements: its 32 bytes
 * of qs hold elements 64c + l in the low nibbles (sub-block 2c) and 64c + 32 + l in the high ones
 * (sub-block 2c + 1); for Q5_K bit 2c of qh[l] is the fifth bit of the low code, bit 2c + 1 of the
 * high one. */
static inline int32_t k4_sumi(const uint8_t *q, const uint8_t *qh, const int8_t *y, const uint8_t sc[8]) {
    const uint8x16_t m4 = vdupq_n_u8(0x0f), one = vdupq_n_u8(1), two = vdupq_n_u8(2);
    uint8x16_t h0 = vdupq_n_u8(0), h1 = vdupq_n_u8(0);
    if (qh) { h0 = vld1q_u8(qh); h1 = vld1q_u8(qh + 16); }
    int32x4_t p[8]; /* sub-block j's partial sums */
    for (int c = 0; c < 4; c++, q += 32, y += 64) {
        const uint8x16_t r0 = vld1q_u8(q), r1 = vld1q_u8(q + 16);
        uint8x16_t lo0 = vandq_u8(r0, m4), lo1 = vandq_u8(r1, m4);
        uint8x16_t hi0 = vshrq_n_u8(r0, 4), hi1 = vshrq_n_u8(r1, 4);
        if (qh) { /* the two lowest bits of h are bits 2c, 2c + 1 of qh: shifted to 16 */
            lo0 = vorrq_u8(lo0, vshlq_n_u8(vandq_u8(h0, one), 4));
            lo1 = vorrq_u8(lo1, vshlq_n_u8(vandq_u8(h1, one), 4));
            hi0 = vorrq_u8(hi0, vshlq_n_u8(vandq_u8(h0, two), 3));
            hi1 = vorrq_u8(hi1, vshlq_n_u8(vandq_u8(h1, two), 3));
            h0 = vshrq_n_u8(h0, 2);
            h1 = vshrq_n_u8(h1, 2);
        }
        p[2 * c] = dot32(vreinterpretq_s8_u8(lo0), vreinterpretq_s8_u8(lo1), y);
        p[2 * c + 1] = dot32(vreinterpretq_s8_u8(hi0), vreinterpretq_s8_u8(hi1), y + 32);
    }
    int32x4_t sc_lo, sc_hi;
    widen_u8x8(sc, &sc_lo, &sc_hi);
    const int32x4_t v = vmlaq_s32(vmulq_s32(sums4(p[0], p[1], p[2], p[3]), sc_lo), sums4(p[4], p[5], p[6], p[7]), sc_hi);
    return vaddvq_s32(v);
}

void zk_vec_dot_q4_K_neondot(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        uint8_t sc[8], m[8];
        scales_mins_k4(a[i].scales, sc, m);
        const int32_t sumi = k4_sumi(a[i].qs, NULL, b[i].qs, sc);
        const float dx = b[i].d;
        sum += f16(a[i].d) * dx * (float)sumi - f16(a[i].dmin) * dx * (float)mins_dot(m, b[i].bsums);
    }
    *s = sum;
}

void zk_vec_dot_q5_K_neondot(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        uint8_t sc[8], m[8];
        scales_mins_k4(a[i].scales, sc, m);
        const int32_t sumi = k4_sumi(a[i].qs, a[i].qh, b[i].qs, sc);
        const float dx = b[i].d;
        sum += f16(a[i].d) * dx * (float)sumi - f16(a[i].dmin) * dx * (float)mins_dot(m, b[i].bsums);
    }
    *s = sum;
}

/* ---- Q6_K ------------------------------------------------------------------------------------ */

/* Half c of a super-block (128 elements, sub-blocks 8c..8c+7 of 16): ql[64c..64c+63] hold the low
 * 4 bits (elements 0..63 of the half in the low nibbles, 64..127 in the high ones), qh[32c..32c+31]
 * the high 2 bits (bits 2k..2k+1 of qh[l] for element 32k + l). Codes are those 6 bits minus 32. */
void zk_vec_dot_q6_K_neondot(int64_t n, float *s, const void *w, const void *x) {
    const block_q6_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const uint8x16_t m4 = vdupq_n_u8(0x0f), m3 = vdupq_n_u8(0x30);
    const int8x16_t k32 = vdupq_n_s8(32);
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const int8x16_t sc8 = vld1q_s8(a[i].scales);
        const int16x8_t sc16_0 = vmovl_s8(vget_low_s8(sc8)), sc16_1 = vmovl_high_s8(sc8);
        const int32x4_t scv[4] = {vmovl_s16(vget_low_s16(sc16_0)), vmovl_high_s16(sc16_0),
                                  vmovl_s16(vget_low_s16(sc16_1)), vmovl_high_s16(sc16_1)};
        int32x4_t sumi = vdupq_n_s32(0);
        for (int c = 0; c < 2; c++) {
            const uint8_t *ql = a[i].ql + 64 * c, *qh = a[i].qh + 32 * c;
            const int8_t *y = b[i].qs + 128 * c;
            const uint8x16_t l0 = vld1q_u8(ql), l1 = vld1q_u8(ql + 16), l2 = vld1q_u8(ql + 32), l3 = vld1q_u8(ql + 48);
            const uint8x16_t h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
            /* 16 codes of sub-block 8c + j, for j = 0..7 in element order */
            const uint8x16_t u[8] = {
                vorrq_u8(vandq_u8(l0, m4), vandq_u8(vshlq_n_u8(h0, 4), m3)),
                vorrq_u8(vandq_u8(l1, m4), vandq_u8(vshlq_n_u8(h1, 4), m3)),
                vorrq_u8(vandq_u8(l2, m4), vandq_u8(vshlq_n_u8(h0, 2), m3)),
                vorrq_u8(vandq_u8(l3, m4), vandq_u8(vshlq_n_u8(h1, 2), m3)),
                vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(h0, m3)),
                vorrq_u8(vshrq_n_u8(l1, 4), vandq_u8(h1, m3)),
                vorrq_u8(vshrq_n_u8(l2, 4), vandq_u8(vshrq_n_u8(h0, 2), m3)),
                vorrq_u8(vshrq_n_u8(l3, 4), vandq_u8(vshrq_n_u8(h1, 2), m3)),
            };
            int32x4_t p[8];
            for (int j = 0; j < 8; j++)
                p[j] = vdotq_s32(vdupq_n_s32(0), vsubq_s8(vreinterpretq_s8_u8(u[j]), k32), vld1q_s8(y + 16 * j));
            sumi = vmlaq_s32(sumi, sums4(p[0], p[1], p[2], p[3]), scv[2 * c]);
            sumi = vmlaq_s32(sumi, sums4(p[4], p[5], p[6], p[7]), scv[2 * c + 1]);
        }
        sum += f16(a[i].d) * b[i].d * (float)vaddvq_s32(sumi);
    }
    *s = sum;
}
