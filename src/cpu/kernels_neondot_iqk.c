/* kernels_neondot_iqk.c — AArch64 dot-product-extension (SDOT) dots of Q2_K, Q3_K, IQ4_XS (Q8_K
 * activations) and IQ4_NL (Q8_0 activations) (kernels_neondot.h). This whole file is compiled with
 * -march=armv8.2-a+dotprod. Semantics are kernels_scalar_iqk.c's: every integer sum is exact; the
 * f32 sums may be formed in another order (IQ4_XS: the 8 block scales are applied in int32 and the
 * super-block's integer sum is scaled once, as ggml's ARM code does; IQ4_NL: 4 blocks per step).
 *
 * One SDOT multiplies 16 codes by 16 activations and adds groups of 4 products into 4 int32 lanes.
 * The lanes of 4 sub-blocks are reduced by pairwise adds to one vector of 4 sub-block sums and
 * multiplied by a vector of their 4 scales; every lane stays far below 2^31 (a 16-element Q2_K /
 * Q3_K sub-block sums at most 16 * 4 * 128, a 32-element IQ4 block 32 * 127 * 128). */
#include "kernels_neondot.h"

#include <arm_neon.h>

/* [sum of p0's lanes, p1's, p2's, p3's]. */
static inline int32x4_t sums4(int32x4_t p0, int32x4_t p1, int32x4_t p2, int32x4_t p3) {
    return vpaddq_s32(vpaddq_s32(p0, p1), vpaddq_s32(p2, p3));
}

static inline int32x4_t dot16(int8x16_t a, const int8_t *y) { return vdotq_s32(vdupq_n_s32(0), a, vld1q_s8(y)); }

/* 16 int8 -> four int32x4 (elements 0..3, 4..7, 8..11, 12..15). */
static inline void widen_s8x16(int8x16_t v, int32x4_t out[4]) {
    const int16x8_t lo = vmovl_s8(vget_low_s8(v)), hi = vmovl_high_s8(v);
    out[0] = vmovl_s16(vget_low_s16(lo));
    out[1] = vmovl_high_s16(lo);
    out[2] = vmovl_s16(vget_low_s16(hi));
    out[3] = vmovl_high_s16(hi);
}

/* ---- Q2_K / Q3_K ----------------------------------------------------------------------------- */

/* Element 128c + 32k + l (c = 0..1, k = 0..3, l = 0..31) has its 2-bit code at bits 2k..2k+1 of
 * qs[32c + l]; its sub-block of 16 is 8c + 2k + l / 16. Half c's 8 sub-blocks are computed in
 * element order; qa / qb are qs[32c..32c+15] / qs[32c+16..32c+31] and move down by 2 bits per k. */

/* sum_j sc_j * (sum of q * y over sub-block j) for the 2-bit codes (+ per-element high bits hm for
 * Q3_K, already shifted to value 4 where set; codes then minus 4), sc: 16 int32 scales. */
static inline int32x4_t q23_isum(const uint8_t *qs, const uint8_t *hmask, const int8_t *y, const int32x4_t sc[4]) {
    const uint8x16_t m3 = vdupq_n_u8(3), one = vdupq_n_u8(1);
    const int8x16_t four = vdupq_n_s8(4);
    uint8x16_t ha = vdupq_n_u8(0), hb = vdupq_n_u8(0);
    if (hmask) { ha = vld1q_u8(hmask); hb = vld1q_u8(hmask + 16); }
    int32x4_t isum = vdupq_n_s32(0);
    for (int c = 0; c < 2; c++) {
        uint8x16_t qa = vld1q_u8(qs + 32 * c), qb = vld1q_u8(qs + 32 * c + 16);
        for (int kk = 0; kk < 2; kk++) { /* k = 2kk and 2kk + 1: sub-blocks 8c + 4kk .. 8c + 4kk + 3 */
            int32x4_t p[4];
            for (int t = 0; t < 2; t++, y += 32) {
                int8x16_t wa = vreinterpretq_s8_u8(vandq_u8(qa, m3)), wb = vreinterpretq_s8_u8(vandq_u8(qb, m3));
                if (hmask) { /* bit 4c + k of hmask[l]: set -> code, clear -> code - 4 */
                    wa = vsubq_s8(vorrq_s8(wa, vreinterpretq_s8_u8(vshlq_n_u8(vandq_u8(ha, one), 2))), four);
                    wb = vsubq_s8(vorrq_s8(wb, vreinterpretq_s8_u8(vshlq_n_u8(vandq_u8(hb, one), 2))), four);
                    ha = vshrq_n_u8(ha, 1);
                    hb = vshrq_n_u8(hb, 1);
                }
                p[2 * t] = dot16(wa, y);
                p[2 * t + 1] = dot16(wb, y + 16);
                qa = vshrq_n_u8(qa, 2);
                qb = vshrq_n_u8(qb, 2);
            }
            isum = vmlaq_s32(isum, sums4(p[0], p[1], p[2], p[3]), sc[2 * c + kk]);
        }
    }
    return isum;
}

/* Per super-block: isum = sum_j (sc_j & 15) * sum over sub-block j of q * y, summs = sum_j
 * (sc_j >> 4) * bsums_j; s += (d_x * d) * isum - (d_x * dmin) * summs. */
void zk_vec_dot_q2_K_neondot(int64_t n, float *s, const void *w, const void *x) {
    const block_q2_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const uint8x16_t sc8 = vld1q_u8(a[i].scales);
        /* summs: 4-bit mins times the 16-bit bsums, widening MLAs */
        const uint8x16_t mins = vshrq_n_u8(sc8, 4);
        const int16x8_t m0 = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mins)));
        const int16x8_t m1 = vreinterpretq_s16_u16(vmovl_high_u8(mins));
        const int16x8_t bs0 = vld1q_s16(b[i].bsums), bs1 = vld1q_s16(b[i].bsums + 8);
        int32x4_t vm = vmull_s16(vget_low_s16(m0), vget_low_s16(bs0));
        vm = vmlal_high_s16(vm, m0, bs0);
        vm = vmlal_s16(vm, vget_low_s16(m1), vget_low_s16(bs1));
        vm = vmlal_high_s16(vm, m1, bs1);
        const int32_t summs = vaddvq_s32(vm);
        int32x4_t sc[4];
        widen_s8x16(vreinterpretq_s8_u8(vandq_u8(sc8, vdupq_n_u8(0x0f))), sc);
        const int32_t isum = vaddvq_s32(q23_isum(a[i].qs, NULL, b[i].qs, sc));
        const float dall = b[i].d * zeta_f16_to_f32(a[i].d);
        const float dmin = b[i].d * zeta_f16_to_f32(a[i].dmin);
        sum += dall * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

/* Per super-block: isum = sum_j (sc_j - 32) * sum over sub-block j of q * y with q in -4..3;
 * s += (d * d_x) * isum. Scale j: low 4 bits in scales[j] (j < 8) or scales[j - 8] >> 4, high 2
 * bits at bits 2 (j / 4) of scales[8 + j % 4]. */
void zk_vec_dot_q3_K_neondot(int64_t n, float *s, const void *w, const void *x) {
    const block_q3_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int8_t sc8[16];
        for (int j = 0; j < 16; j++) {
            const int l = j < 8 ? a[i].scales[j] & 0xf : a[i].scales[j - 8] >> 4;
            const int h = (a[i].scales[8 + j % 4] >> (2 * (j / 4))) & 3;
            sc8[j] = (int8_t)((l | (h << 4)) - 32);
        }
        int32x4_t sc[4];
        widen_s8x16(vld1q_s8(sc8), sc);
        const int32_t isum = vaddvq_s32(q23_isum(a[i].qs, a[i].hmask, b[i].qs, sc));
        sum += (zeta_f16_to_f32(a[i].d) * b[i].d) * (float)isum;
    }
    *s = sum;
}

/* ---- IQ4_NL / IQ4_XS ------------------------------------------------------------------------- */

/* The IQ4 codebook (ggml's kvalues_iq4nl). */
static const int8_t k_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* One 32-element IQ4 block (16 bytes of nibbles: element j low, j + 16 high) times 32 int8, as 4
 * int32 partial sums: the codebook lookup is one TBL per 16 codes. */
static inline int32x4_t iq4_block_dot(int8x16_t table, const uint8_t *qs, const int8_t *y) {
    const uint8x16_t q = vld1q_u8(qs);
    const int8x16_t lo = vqtbl1q_s8(table, vandq_u8(q, vdupq_n_u8(0x0f)));
    const int8x16_t hi = vqtbl1q_s8(table, vshrq_n_u8(q, 4));
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), lo, vld1q_s8(y)), hi, vld1q_s8(y + 16));
}

/* Per block: s += (d_x * d_w) * sum(kvalues[q] * y); 4 blocks per step, their integer sums in one
 * vector (each below 2^24: exact in f32) times the vector of their scales. */
void zk_vec_dot_iq4_nl_neondot(int64_t n, float *s, const void *w, const void *x) {
    const block_iq4_nl *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    const int8x16_t table = vld1q_s8(k_iq4_values);
    float32x4_t acc = vdupq_n_f32(0.0f);
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const uint16_t hx[4] = {b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d};
        const uint16_t hw[4] = {a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d};
        const float32x4_t d4 = vmulq_f32(vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(hx))),
                                         vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(hw))));
        const int32x4_t si = sums4(iq4_block_dot(table, a[i].qs, b[i].qs), iq4_block_dot(table, a[i + 1].qs, b[i + 1].qs),
                                   iq4_block_dot(table, a[i + 2].qs, b[i + 2].qs), iq4_block_dot(table, a[i + 3].qs, b[i + 3].qs));
        acc = vfmaq_f32(acc, vcvtq_f32_s32(si), d4);
    }
    float tail = 0.0f;
    for (; i < nb; i++) {
        const float d = zeta_f16_to_f32(b[i].d) * zeta_f16_to_f32(a[i].d);
        tail += d * (float)vaddvq_s32(iq4_block_dot(table, a[i].qs, b[i].qs));
    }
    *s = vaddvq_f32(acc) + tail;
}

/* Per super-block: s += (d_w * d_x) * sum_ib (ls_ib - 32) * sum(kvalues[q] * y) over its 8 blocks of
 * 32, the inner sum in int32 (|.| <= 8 * 32 * 32 * 127 * 128 < 2^31). ls_ib: 4 bits of
 * scales_l[ib / 2] (low nibble for even ib) and bits 2ib..2ib+1 of scales_h as bits 4..5. */
void zk_vec_dot_iq4_xs_neondot(int64_t n, float *s, const void *w, const void *x) {
    const block_iq4_xs *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const int8x16_t table = vld1q_s8(k_iq4_values);
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int32_t ls[8];
        for (int ib = 0; ib < 8; ib++)
            ls[ib] = (((a[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((a[i].scales_h >> (2 * ib)) & 3) << 4)) - 32;
        const uint8_t *q = a[i].qs;
        const int8_t *y = b[i].qs;
        const int32x4_t s0 = sums4(iq4_block_dot(table, q, y), iq4_block_dot(table, q + 16, y + 32),
                                   iq4_block_dot(table, q + 32, y + 64), iq4_block_dot(table, q + 48, y + 96));
        const int32x4_t s1 = sums4(iq4_block_dot(table, q + 64, y + 128), iq4_block_dot(table, q + 80, y + 160),
                                   iq4_block_dot(table, q + 96, y + 192), iq4_block_dot(table, q + 112, y + 224));
        const int32x4_t v = vmlaq_s32(vmulq_s32(s0, vld1q_s32(ls)), s1, vld1q_s32(ls + 4));
        sum += (zeta_f16_to_f32(a[i].d) * b[i].d) * (float)vaddvq_s32(v);
    }
    *s = sum;
}
