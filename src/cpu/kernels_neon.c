/* kernels_neon.c — the baseline AArch64 NEON (Advanced SIMD, armv8-a) kernel table. This whole file
 * is compiled with -march=armv8-a; NEON and fp16 storage conversion (FCVTL) are part of every
 * AArch64 CPU, so cpu_features.c selects it on any aarch64 machine. Fills vec_dot for F32, F16,
 * BF16, Q8_0, Q4_0 and from_float for Q8_0, with the semantics of kernels_scalar.c: float dots may
 * sum in a different order; integer block dots are exact; the Q8_0 activation quantizer is
 * byte-identical to the scalar one. The dot-product extension (SDOT) lives in kernels_neondot.c. */
#include "cpu/kernels_legacy.h"
#include "cpu/kernels_k.h"
#include "cpu/kernels_iqk.h"
#include "kernels.h"

#include <arm_neon.h>

/* ---- dots with f32 activations: 16 elements per iteration in 4 accumulators ------------------- */

static inline float hsum4(float32x4_t a, float32x4_t b, float32x4_t c, float32x4_t d) {
    return vaddvq_f32(vaddq_f32(vaddq_f32(a, b), vaddq_f32(c, d)));
}

static void vec_dot_f32(int64_t n, float *s, const void *w, const void *x) {
    const float *a = w, *b = x;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
        acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        acc2 = vfmaq_f32(acc2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        acc3 = vfmaq_f32(acc3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4) acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
    float sum = hsum4(acc0, acc1, acc2, acc3);
    for (; i < n; i++) sum += a[i] * b[i];
    *s = sum;
}

/* 4 f16 -> 4 f32, exact (FCVTL). */
static inline float32x4_t load_f16x4(const zeta_f16 *p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
}

static void vec_dot_f16(int64_t n, float *s, const void *w, const void *x) {
    const zeta_f16 *a = w;
    const float *b = x;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = vfmaq_f32(acc0, load_f16x4(a + i), vld1q_f32(b + i));
        acc1 = vfmaq_f32(acc1, load_f16x4(a + i + 4), vld1q_f32(b + i + 4));
        acc2 = vfmaq_f32(acc2, load_f16x4(a + i + 8), vld1q_f32(b + i + 8));
        acc3 = vfmaq_f32(acc3, load_f16x4(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4) acc0 = vfmaq_f32(acc0, load_f16x4(a + i), vld1q_f32(b + i));
    float sum = hsum4(acc0, acc1, acc2, acc3);
    for (; i < n; i++) sum += zeta_f16_to_f32(a[i]) * b[i];
    *s = sum;
}

/* 4 bf16 -> 4 f32: a 16-bit left shift of the bits. */
static inline float32x4_t load_bf16x4(const zeta_bf16 *p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
}

static void vec_dot_bf16(int64_t n, float *s, const void *w, const void *x) {
    const zeta_bf16 *a = w;
    const float *b = x;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = vfmaq_f32(acc0, load_bf16x4(a + i), vld1q_f32(b + i));
        acc1 = vfmaq_f32(acc1, load_bf16x4(a + i + 4), vld1q_f32(b + i + 4));
        acc2 = vfmaq_f32(acc2, load_bf16x4(a + i + 8), vld1q_f32(b + i + 8));
        acc3 = vfmaq_f32(acc3, load_bf16x4(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4) acc0 = vfmaq_f32(acc0, load_bf16x4(a + i), vld1q_f32(b + i));
    float sum = hsum4(acc0, acc1, acc2, acc3);
    for (; i < n; i++) sum += zeta_bf16_to_f32(a[i]) * b[i];
    *s = sum;
}

/* ---- dots with Q8_0 activations -------------------------------------------------------------- */

/* Exact int8 x int8 dot of 16 pairs added into 4 int32 lanes: widening multiplies to int16 (every
 * product, even -128 * -128, fits), then pairwise widening adds into int32. */
static inline int32x4_t dot_i8x16(int32x4_t acc, int8x16_t a, int8x16_t b) {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
}

/* d_w * d_x of one block in all 4 lanes (f16 -> f32 exact, then one f32 mul, as the scalar kernel). */
static inline float32x4_t block_scale(zeta_f16 dw, zeta_f16 dx) {
    const float32x4_t w = vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(dw)));
    const float32x4_t x = vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(dx)));
    return vmulq_f32(w, x);
}

/* 2 blocks per iteration, each in its own accumulator; the int32 lanes (|v| <= 8 * 2^14) convert to
 * f32 exactly. */
static void vec_dot_q8_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q8_0 *a = w, *b = x;
    const int64_t nb = n / QK8_0;
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0;
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        int32x4_t p0 = vdupq_n_s32(0), p1 = p0;
        p0 = dot_i8x16(p0, vld1q_s8(a[i].qs), vld1q_s8(b[i].qs));
        p0 = dot_i8x16(p0, vld1q_s8(a[i].qs + 16), vld1q_s8(b[i].qs + 16));
        p1 = dot_i8x16(p1, vld1q_s8(a[i + 1].qs), vld1q_s8(b[i + 1].qs));
        p1 = dot_i8x16(p1, vld1q_s8(a[i + 1].qs + 16), vld1q_s8(b[i + 1].qs + 16));
        acc0 = vfmaq_f32(acc0, block_scale(a[i].d, b[i].d), vcvtq_f32_s32(p0));
        acc1 = vfmaq_f32(acc1, block_scale(a[i + 1].d, b[i + 1].d), vcvtq_f32_s32(p1));
    }
    for (; i < nb; i++) {
        int32x4_t p = vdupq_n_s32(0);
        p = dot_i8x16(p, vld1q_s8(a[i].qs), vld1q_s8(b[i].qs));
        p = dot_i8x16(p, vld1q_s8(a[i].qs + 16), vld1q_s8(b[i].qs + 16));
        acc0 = vfmaq_f32(acc0, block_scale(a[i].d, b[i].d), vcvtq_f32_s32(p));
    }
    *s = vaddvq_f32(vaddq_f32(acc0, acc1));
}

/* Exact dot of one Q4_0 block with one Q8_0 block as 4 int32 partial sums: the low nibbles are
 * elements 0..15, the high ones 16..31, each code minus 8 as int8 in [-8, 7]. */
static inline int32x4_t dot_q4_0_block(const block_q4_0 *a, const block_q8_0 *b) {
    const uint8x16_t raw = vld1q_u8(a->qs);
    const int8x16_t eight = vdupq_n_s8(8);
    const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0f))), eight);
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), eight);
    const int32x4_t p = dot_i8x16(vdupq_n_s32(0), lo, vld1q_s8(b->qs));
    return dot_i8x16(p, hi, vld1q_s8(b->qs + 16));
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

/* ---- the Q8_0 activation quantizer (byte-identical to kernels_scalar.c) ---------------------- */

/* round-half-even(v * id) -> int32 exactly as the scalar q8_saturate sees it: FRINTN rounds ties to
 * even whatever FPCR says; values outside [-2^31, 2^31) and NaN become INT32_MIN (cvtps_epi32's
 * "integer indefinite"), the rest convert exactly. */
static inline int32x4_t q8_round(float32x4_t v, float32x4_t id) {
    const float32x4_t r = vrndnq_f32(vmulq_f32(v, id));
    const uint32x4_t ok = vandq_u32(vcgeq_f32(r, vdupq_n_f32(-2147483648.0f)), vcltq_f32(r, vdupq_n_f32(2147483648.0f)));
    return vbslq_s32(ok, vcvtq_s32_f32(r), vdupq_n_s32(INT32_MIN));
}

/* 8 int32 -> 8 int8 with saturation (the scalar clamp to [-128, 127]). */
static inline int8x8_t q8_narrow(int32x4_t lo, int32x4_t hi) {
    return vqmovn_s16(vcombine_s16(vqmovn_s32(lo), vqmovn_s32(hi)));
}

static void from_float_q8_0(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++, x += QK8_0) {
        float32x4_t v[8];
        for (int k = 0; k < 8; k++) v[k] = vld1q_f32(x + 4 * k);
        /* the scalar `|x| > amax` comparison skips NaNs (quiet or signalling): NaN lanes count as 0 */
        float32x4_t a[8];
        for (int k = 0; k < 8; k++) a[k] = vbslq_f32(vceqq_f32(v[k], v[k]), vabsq_f32(v[k]), vdupq_n_f32(0.0f));
        const float32x4_t m = vmaxq_f32(vmaxq_f32(vmaxq_f32(a[0], a[1]), vmaxq_f32(a[2], a[3])),
                                        vmaxq_f32(vmaxq_f32(a[4], a[5]), vmaxq_f32(a[6], a[7])));
        const float amax = vmaxvq_f32(m);
        y[i].d = zeta_f32_to_f16(amax / 127.0f);
        const float32x4_t id = vdupq_n_f32(amax != 0.0f ? 127.0f / amax : 0.0f);
        for (int k = 0; k < 4; k++)
            vst1_s8(y[i].qs + 8 * k, q8_narrow(q8_round(v[2 * k], id), q8_round(v[2 * k + 1], id)));
    }
}

/* ---- the table ------------------------------------------------------------------------------- */

static const zk_kernels k_neon = {
    .name = "neon",
    .vec_dot = {
        [ZETA_TYPE_F32] = vec_dot_f32,
        [ZETA_TYPE_F16] = vec_dot_f16,
        [ZETA_TYPE_BF16] = vec_dot_bf16,
        [ZETA_TYPE_Q8_0] = vec_dot_q8_0,
        [ZETA_TYPE_Q4_0] = vec_dot_q4_0,
        [ZETA_TYPE_Q4_1] = zk_vec_dot_q4_1_neon,
        [ZETA_TYPE_Q5_0] = zk_vec_dot_q5_0_neon,
        [ZETA_TYPE_Q5_1] = zk_vec_dot_q5_1_neon,
        [ZETA_TYPE_Q4_K] = zk_vec_dot_q4_K_neon,
        [ZETA_TYPE_Q5_K] = zk_vec_dot_q5_K_neon,
        [ZETA_TYPE_Q6_K] = zk_vec_dot_q6_K_neon,
        [ZETA_TYPE_Q2_K] = zk_vec_dot_q2_K_neon,
        [ZETA_TYPE_Q3_K] = zk_vec_dot_q3_K_neon,
        [ZETA_TYPE_IQ4_NL] = zk_vec_dot_iq4_nl_neon,
        [ZETA_TYPE_IQ4_XS] = zk_vec_dot_iq4_xs_neon,
    },
    .from_float = {
        [ZETA_TYPE_Q8_0] = from_float_q8_0,
        [ZETA_TYPE_Q8_1] = zk_from_float_q8_1_neon,
        [ZETA_TYPE_Q8_K] = zk_from_float_q8_K_neon,
    },
};

const zk_kernels *zk_neon(void) { return &k_neon; }
