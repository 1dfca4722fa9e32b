/* kernels_neondot.c — the AArch64 NEON table with the dot-product extension (SDOT, armv8.2-a
 * +dotprod). This whole file is compiled with -march=armv8.2-a+dotprod and only called after
 * cpu_features.c has seen FEAT_DotProd (Linux HWCAP_ASIMDDP, Apple hw.optional.arm.FEAT_DotProd).
 * Fills vec_dot for every integer weight family: Q8_0 and Q4_0 here (exact integer block dots, as
 * kernels_scalar.c), Q4_1 / Q5_0 / Q5_1 from kernels_neondot_legacy.c, Q4_K / Q5_K / Q6_K from
 * kernels_neondot_k.c, Q2_K / Q3_K / IQ4_NL / IQ4_XS from kernels_neondot_iqk.c (kernels_neondot.h).
 * Every other slot (float dots, the activation quantizers) comes from kernels_neon.c, which the
 * selection lays underneath. */
#include "kernels_neondot.h"

#include <arm_neon.h>

/* d_w * d_x of one block in all 4 lanes (f16 -> f32 exact, then one f32 mul, as the scalar kernel). */
static inline float32x4_t block_scale(zeta_f16 dw, zeta_f16 dx) {
    const float32x4_t w = vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(dw)));
    const float32x4_t x = vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(dx)));
    return vmulq_f32(w, x);
}

/* Exact dot of two 32-element int8 vectors as 4 int32 partial sums (SDOT: groups of 4 products,
 * each group at most 4 * 2^14, accumulated in int32). */
static inline int32x4_t dot_i8x32(int8x16_t a0, int8x16_t a1, const int8_t *b) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), a0, vld1q_s8(b)), a1, vld1q_s8(b + 16));
}

static inline int32x4_t dot_q8_0_block(const block_q8_0 *a, const block_q8_0 *b) {
    return dot_i8x32(vld1q_s8(a->qs), vld1q_s8(a->qs + 16), b->qs);
}

/* Q4_0 codes: low nibbles are elements 0..15, high ones 16..31, each minus 8 as int8 in [-8, 7]. */
static inline int32x4_t dot_q4_0_block(const block_q4_0 *a, const block_q8_0 *b) {
    const uint8x16_t raw = vld1q_u8(a->qs);
    const int8x16_t eight = vdupq_n_s8(8);
    const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0f))), eight);
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), eight);
    return dot_i8x32(lo, hi, b->qs);
}

/* 2 blocks per iteration, each in its own accumulator; the int32 lanes (|v| <= 8 * 2^14) convert to
 * f32 exactly. */
static void vec_dot_q8_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q8_0 *a = w, *b = x;
    const int64_t nb = n / QK8_0;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        acc0 = vfmaq_f32(acc0, block_scale(a[i].d, b[i].d), vcvtq_f32_s32(dot_q8_0_block(a + i, b + i)));
        acc1 = vfmaq_f32(acc1, block_scale(a[i + 1].d, b[i + 1].d), vcvtq_f32_s32(dot_q8_0_block(a + i + 1, b + i + 1)));
    }
    if (i < nb) acc0 = vfmaq_f32(acc0, block_scale(a[i].d, b[i].d), vcvtq_f32_s32(dot_q8_0_block(a + i, b + i)));
    *s = vaddvq_f32(vaddq_f32(acc0, acc1));
}

static void vec_dot_q4_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_0 *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / QK8_0;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        acc0 = vfmaq_f32(acc0, block_scale(a[i].d, b[i].d), vcvtq_f32_s32(dot_q4_0_block(a + i, b + i)));
        acc1 = vfmaq_f32(acc1, block_scale(a[i + 1].d, b[i + 1].d), vcvtq_f32_s32(dot_q4_0_block(a + i + 1, b + i + 1)));
    }
    if (i < nb) acc0 = vfmaq_f32(acc0, block_scale(a[i].d, b[i].d), vcvtq_f32_s32(dot_q4_0_block(a + i, b + i)));
    *s = vaddvq_f32(vaddq_f32(acc0, acc1));
}

/* ---- the table ------------------------------------------------------------------------------- */

static const zk_kernels k_neondot = {
    .name = "neondot",
    .vec_dot = {
        [ZETA_TYPE_Q8_0] = vec_dot_q8_0,
        [ZETA_TYPE_Q4_0] = vec_dot_q4_0,
        [ZETA_TYPE_Q4_1] = zk_vec_dot_q4_1_neondot,
        [ZETA_TYPE_Q5_0] = zk_vec_dot_q5_0_neondot,
        [ZETA_TYPE_Q5_1] = zk_vec_dot_q5_1_neondot,
        [ZETA_TYPE_Q4_K] = zk_vec_dot_q4_K_neondot,
        [ZETA_TYPE_Q5_K] = zk_vec_dot_q5_K_neondot,
        [ZETA_TYPE_Q6_K] = zk_vec_dot_q6_K_neondot,
        [ZETA_TYPE_Q2_K] = zk_vec_dot_q2_K_neondot,
        [ZETA_TYPE_Q3_K] = zk_vec_dot_q3_K_neondot,
        [ZETA_TYPE_IQ4_NL] = zk_vec_dot_iq4_nl_neondot,
        [ZETA_TYPE_IQ4_XS] = zk_vec_dot_iq4_xs_neondot,
    },
};

const zk_kernels *zk_neondot(void) { return &k_neondot; }
