/* kernels_scalar.c — the plain-C kernel table: the spec every SIMD table is tested against, and
 * the fallback for every slot a SIMD table leaves empty.
 *
 *   vec_dot F32/F16/BF16: weights converted exactly to f32, one f32 product and sum per element.
 *   vec_dot Q8_0/Q4_0:    activations are Q8_0 blocks; per block an exact integer dot product,
 *                         scaled by d_w * d_x (both f16 -> f32) and summed in f32, as ggml does.
 *   from_float Q8_0:      the activation quantizer, defined as ggml's AVX2 quantize_row_q8_0 (the
 *                         one llama.cpp on x86 produced our goldens with): amax over the block,
 *                         d = amax / 127 (stored f16), id = 127 / amax (0 if amax == 0),
 *                         q = round-half-even(x * id) converted like cvtps_epi32 + saturating packs.
 *                         Every SIMD version reproduces it byte for byte, whatever the ISA.
 *   from_float F32:       copy. */
#include "cpu/kernels_legacy.h"
#include "cpu/kernels_k.h"
#include "cpu/kernels_iqk.h"
#include "kernels.h"

#include <math.h>

/* ---- dots with f32 activations --------------------------------------------------------------- */

static void vec_dot_f32(int64_t n, float *s, const void *w, const void *x) {
    const float *a = w, *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += a[i] * b[i];
    *s = sum;
}

/* zeta_f16_to_f32 with the common case (normal numbers: rebias the exponent) inlined. */
static inline float f16_to_f32(zeta_f16 h) {
    const uint32_t em = h & 0x7fffu;
    if (em >= 0x0400u && em < 0x7c00u) return zeta_bits_to_f32(((uint32_t)(h & 0x8000u) << 16) | ((em << 13) + (112u << 23)));
    return zeta_f16_to_f32(h); /* zero, subnormal, inf, NaN */
}

static void vec_dot_f16(int64_t n, float *s, const void *w, const void *x) {
    const zeta_f16 *a = w;
    const float *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += f16_to_f32(a[i]) * b[i];
    *s = sum;
}

static void vec_dot_bf16(int64_t n, float *s, const void *w, const void *x) {
    const zeta_bf16 *a = w;
    const float *b = x;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) sum += zeta_bf16_to_f32(a[i]) * b[i];
    *s = sum;
}

/* ---- dots with Q8_0 activations -------------------------------------------------------------- */

static void vec_dot_q8_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q8_0 *a = w, *b = x;
    const int64_t nb = n / QK8_0;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int32_t sumi = 0;
        for (int j = 0; j < QK8_0; j++) sumi += (int32_t)a[i].qs[j] * (int32_t)b[i].qs[j];
        sum += (float)sumi * (zeta_f16_to_f32(a[i].d) * zeta_f16_to_f32(b[i].d));
    }
    *s = sum;
}

static void vec_dot_q4_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_0 *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / QK8_0;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int32_t sumi = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int32_t lo = (a[i].qs[j] & 0x0f) - 8;
            const int32_t hi = (a[i].qs[j] >> 4) - 8;
            sumi += lo * b[i].qs[j] + hi * b[i].qs[j + QK4_0 / 2];
        }
        sum += (float)sumi * (zeta_f16_to_f32(a[i].d) * zeta_f16_to_f32(b[i].d));
    }
    *s = sum;
}

/* ---- activation conversions ------------------------------------------------------------------ */

static void from_float_f32(const float *x, void *y, int64_t n) {
    memcpy(y, x, (size_t)n * sizeof(float));
}

/* Round half to even without depending on the caller's floating-point rounding mode (the SIMD
 * versions use an explicit rounding immediate). */
static float round_half_even(float v) {
    if (!(fabsf(v) < 8388608.0f)) return v; /* already integral (|v| >= 2^23), inf or NaN */
    const float t = truncf(v);
    const float frac = fabsf(v - t); /* exact */
    if (frac > 0.5f || (frac == 0.5f && ((int64_t)t & 1))) return t + copysignf(1.0f, v);
    return t;
}

/* float -> int32 like cvtps_epi32 (NaN and out of range give INT32_MIN), then saturated to int8
 * like packs_epi32 + packs_epi16. */
static int8_t q8_saturate(float r) {
    if (!(r >= -2147483648.0f && r < 2147483648.0f)) return -128;
    if (r > 127.0f) return 127;
    if (r < -128.0f) return -128;
    return (int8_t)r;
}

static void from_float_q8_0(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) {
            const float a = fabsf(xb[j]);
            if (a > amax) amax = a;
        }
        y[i].d = zeta_f32_to_f16(amax / 127.0f);
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        for (int j = 0; j < QK8_0; j++) y[i].qs[j] = q8_saturate(round_half_even(xb[j] * id));
    }
}

/* ---- the table ------------------------------------------------------------------------------- */

static const zk_kernels k_scalar = {
    .name = "scalar",
    .vec_dot = {
        [ZETA_TYPE_F32] = vec_dot_f32,
        [ZETA_TYPE_F16] = vec_dot_f16,
        [ZETA_TYPE_BF16] = vec_dot_bf16,
        [ZETA_TYPE_Q8_0] = vec_dot_q8_0,
        [ZETA_TYPE_Q4_0] = vec_dot_q4_0,
        [ZETA_TYPE_Q4_1] = zk_vec_dot_q4_1_scalar,
        [ZETA_TYPE_Q5_0] = zk_vec_dot_q5_0_scalar,
        [ZETA_TYPE_Q5_1] = zk_vec_dot_q5_1_scalar,
        [ZETA_TYPE_Q4_K] = zk_vec_dot_q4_K_scalar,
        [ZETA_TYPE_Q5_K] = zk_vec_dot_q5_K_scalar,
        [ZETA_TYPE_Q6_K] = zk_vec_dot_q6_K_scalar,
        [ZETA_TYPE_Q2_K] = zk_vec_dot_q2_K_scalar,
        [ZETA_TYPE_Q3_K] = zk_vec_dot_q3_K_scalar,
        [ZETA_TYPE_IQ4_NL] = zk_vec_dot_iq4_nl_scalar,
        [ZETA_TYPE_IQ4_XS] = zk_vec_dot_iq4_xs_scalar,
    },
    .from_float = {
        [ZETA_TYPE_F32] = from_float_f32,
        [ZETA_TYPE_Q8_0] = from_float_q8_0,
        [ZETA_TYPE_Q8_1] = zk_from_float_q8_1_scalar,
        [ZETA_TYPE_Q8_K] = zk_from_float_q8_K_scalar,
    },
};

const zk_kernels *zk_scalar(void) { return &k_scalar; }

zeta_type zk_vec_dot_type(zeta_type weight_type) {
    switch (weight_type) {
    case ZETA_TYPE_F32: case ZETA_TYPE_F16: case ZETA_TYPE_BF16:
        return ZETA_TYPE_F32;
    case ZETA_TYPE_Q8_0: case ZETA_TYPE_Q4_0: case ZETA_TYPE_Q5_0: case ZETA_TYPE_IQ4_NL:
        return ZETA_TYPE_Q8_0;
    case ZETA_TYPE_Q4_1: case ZETA_TYPE_Q5_1:
        return ZETA_TYPE_Q8_1;
    case ZETA_TYPE_Q2_K: case ZETA_TYPE_Q3_K: case ZETA_TYPE_Q4_K: case ZETA_TYPE_Q5_K: case ZETA_TYPE_Q6_K:
    case ZETA_TYPE_IQ4_XS:
        return ZETA_TYPE_Q8_K;
    default:
        return ZETA_TYPE_COUNT; /* no CPU dot product for this weight type */
    }
}
