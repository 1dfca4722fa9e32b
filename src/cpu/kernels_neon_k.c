/* kernels_neon_k.c — the AArch64 Advanced SIMD (baseline armv8-a, no dot-product extension)
 * K-quant kernels (kernels_k.h): Q4_K / Q5_K / Q6_K x Q8_K dot products and the Q8_K activation
 * quantizer. The whole file is compiled with -march=armv8-a. Integer parts are exact, and the f32
 * accumulation runs super-block by super-block like the scalar spec. The Q8_K quantizer is
 * byte-identical to quantize_row_q8_K_ref.
 *
 * 16 codes x 16 int8 activations: vmull_s8 + vmlal_s8 (int16, at most 2 * 63 * 128 < 2^15), then
 * a pairwise widening add to 4 int32. */
#include "kernels_k.h"

#include <arm_neon.h>

/* f16 -> f32 with FCVT (exact, NaN payload kept and quieted: the same as zeta_f16_to_f32) */
static inline float f16(zeta_f16 h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }

/* sum a[i] * b[i] over 16 lanes as 4 int32 partial sums (|a| < 64). */
static inline int32x4_t dot16(int8x16_t a, int8x16_t b) {
    int16x8_t p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    p = vmlal_s8(p, vget_high_s8(a), vget_high_s8(b));
    return vpaddlq_s16(p);
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

/* sum_j m_j * (bsums[2j] + bsums[2j+1]). */
static inline int32_t mins_dot(const uint8_t m[8], const int16_t *bsums) {
    const int16x8_t pairs = vpaddq_s16(vld1q_s16(bsums), vld1q_s16(bsums + 8));
    const int16x8_t m16 = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(m)));
    const int32x4_t p = vmlal_s16(vmull_s16(vget_low_s16(m16), vget_low_s16(pairs)), vget_high_s16(m16), vget_high_s16(pairs));
    return vaddvq_s32(p);
}

/* ---- Q4_K / Q5_K ----------------------------------------------------------------------------- */

/* sumi of one Q4_K / Q5_K super-block; qh == NULL for Q4_K. */
static inline int32_t k4_sumi(const uint8_t *q, const uint8_t *qh, const int8_t *y, const uint8_t sc[8]) {
    const uint8x16_t m4 = vdupq_n_u8(0x0f), b4 = vdupq_n_u8(0x10);
    int32x4_t sumi = vdupq_n_s32(0);
    uint8x16_t h0 = vdupq_n_u8(0), h1 = vdupq_n_u8(0);
    if (qh) { h0 = vld1q_u8(qh); h1 = vld1q_u8(qh + 16); }
    for (int c = 0; c < 4; c++, q += 32, y += 64) {
        const uint8x16_t r0 = vld1q_u8(q), r1 = vld1q_u8(q + 16);
        uint8x16_t lo0 = vandq_u8(r0, m4), lo1 = vandq_u8(r1, m4);
        uint8x16_t hi0 = vshrq_n_u8(r0, 4), hi1 = vshrq_n_u8(r1, 4);
        if (qh) { /* bit 2c of qh[l]: fifth bit of the low nibble; bit 2c + 1: of the high one */
            const uint8x16_t bl = vdupq_n_u8((uint8_t)(1u << (2 * c))), bh = vdupq_n_u8((uint8_t)(2u << (2 * c)));
            lo0 = vorrq_u8(lo0, vandq_u8(vtstq_u8(h0, bl), b4));
            lo1 = vorrq_u8(lo1, vandq_u8(vtstq_u8(h1, bl), b4));
            hi0 = vorrq_u8(hi0, vandq_u8(vtstq_u8(h0, bh), b4));
            hi1 = vorrq_u8(hi1, vandq_u8(vtstq_u8(h1, bh), b4));
        }
        const int32x4_t dlo = vaddq_s32(dot16(vreinterpretq_s8_u8(lo0), vld1q_s8(y)), dot16(vreinterpretq_s8_u8(lo1), vld1q_s8(y + 16)));
        const int32x4_t dhi = vaddq_s32(dot16(vreinterpretq_s8_u8(hi0), vld1q_s8(y + 32)), dot16(vreinterpretq_s8_u8(hi1), vld1q_s8(y + 48)));
        sumi = vmlaq_n_s32(sumi, dlo, sc[2 * c]);
        sumi = vmlaq_n_s32(sumi, dhi, sc[2 * c + 1]);
    }
    return vaddvq_s32(sumi);
}

void zk_vec_dot_q4_K_neon(int64_t n, float *s, const void *w, const void *x) {
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

void zk_vec_dot_q5_K_neon(int64_t n, float *s, const void *w, const void *x) {
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

/* ---- Q6_K: each 16-byte vector of codes is one 16-element sub-block ---------------------------- */

void zk_vec_dot_q6_K_neon(int64_t n, float *s, const void *w, const void *x) {
    const block_q6_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const uint8x16_t m4 = vdupq_n_u8(0x0f), m3 = vdupq_n_u8(0x03);
    const int8x16_t k32 = vdupq_n_s8(32);
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int32x4_t sumi = vdupq_n_s32(0);
        for (int c = 0; c < 2; c++) {
            const uint8_t *ql = a[i].ql + 64 * c, *qh = a[i].qh + 32 * c;
            const int8_t *y = b[i].qs + 128 * c, *sc = a[i].scales + 8 * c;
            for (int h = 0; h < 2; h++) { /* elements 16h..16h+15 of each 32-element quarter */
                const uint8x16_t l0 = vld1q_u8(ql + 16 * h), l1 = vld1q_u8(ql + 32 + 16 * h), hb = vld1q_u8(qh + 16 * h);
                const uint8x16_t u1 = vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(hb, m3), 4));
                const uint8x16_t u2 = vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), m3), 4));
                const uint8x16_t u3 = vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), m3), 4));
                const uint8x16_t u4 = vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(hb, 6), 4));
                const int32x4_t d1 = dot16(vsubq_s8(vreinterpretq_s8_u8(u1), k32), vld1q_s8(y + 16 * h));
                const int32x4_t d2 = dot16(vsubq_s8(vreinterpretq_s8_u8(u2), k32), vld1q_s8(y + 32 + 16 * h));
                const int32x4_t d3 = dot16(vsubq_s8(vreinterpretq_s8_u8(u3), k32), vld1q_s8(y + 64 + 16 * h));
                const int32x4_t d4 = dot16(vsubq_s8(vreinterpretq_s8_u8(u4), k32), vld1q_s8(y + 96 + 16 * h));
                sumi = vmlaq_n_s32(sumi, d1, sc[0 + h]);
                sumi = vmlaq_n_s32(sumi, d2, sc[2 + h]);
                sumi = vmlaq_n_s32(sumi, d3, sc[4 + h]);
                sumi = vmlaq_n_s32(sumi, d4, sc[6 + h]);
            }
        }
        sum += f16(a[i].d) * b[i].d * (float)vaddvq_s32(sumi);
    }
    *s = sum;
}

/* ---- the Q8_K activation quantizer (byte-identical to quantize_row_q8_K_ref) ----------------- */

void zk_from_float_q8_K_neon(const float *x, void *vy, int64_t n) {
    block_q8_K *y = vy;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        /* max and min with NaN lanes replaced by 0 (the reference never picks a NaN) */
        float32x4_t vmax = vdupq_n_f32(0.0f), vmin = vdupq_n_f32(0.0f);
        for (int j = 0; j < QK_K; j += 4) {
            float32x4_t v = vld1q_f32(x + j);
            v = vbslq_f32(vceqq_f32(v, v), v, vdupq_n_f32(0.0f));
            vmax = vmaxq_f32(vmax, v);
            vmin = vminq_f32(vmin, v);
        }
        const float hi = vmaxvq_f32(vmax), lo = vminvq_f32(vmin);
        if (hi == 0.0f && lo == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float max = hi >= -lo ? hi : lo;
        if (hi == -lo) { /* both signs reach the magnitude: the first one counts */
            for (int j = 0; j < QK_K; j++) {
                if (x[j] == hi || x[j] == lo) { max = x[j]; break; }
            }
        }
        const float iscale = -127.0f / max;
        const float32x4_t magic = vdupq_n_f32(12582912.0f);
        const int32x4_t mant = vdupq_n_s32(0x007fffff), half = vdupq_n_s32(0x00400000), cap = vdupq_n_s32(127);
        for (int j = 0; j < QK_K; j += 16) {
            int32x4_t q[4];
            for (int k = 0; k < 4; k++) {
                /* ggml's nearest_int: v + 1.5 * 2^23 leaves the rounded integer in the low mantissa bits */
                const float32x4_t t = vaddq_f32(vmulq_n_f32(vld1q_f32(x + j + 4 * k), iscale), magic);
                q[k] = vminq_s32(vsubq_s32(vandq_s32(vreinterpretq_s32_f32(t), mant), half), cap);
            }
            /* xtn truncates: (int8_t) keeps the low byte, as the reference's conversion does */
            const int16x8_t a = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
            const int16x8_t b = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
            const int8x16_t q8 = vcombine_s8(vmovn_s16(a), vmovn_s16(b));
            vst1q_s8(y[i].qs + j, q8);
            y[i].bsums[j / 16] = vaddlvq_s8(q8);
        }
        y[i].d = 1.0f / iscale;
    }
}
