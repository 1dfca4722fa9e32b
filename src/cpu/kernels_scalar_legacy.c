/* kernels_scalar_legacy.c — the plain-C kernels of the legacy types Q4_1, Q5_0, Q5_1 (dots) and
 * Q8_1 (activation quantizer): the spec the SIMD versions are tested against (kernels_legacy.h).
 *
 *   vec_dot Q4_1 / Q5_1 (x: Q8_1 blocks): per block an exact integer sum of q_w * q_x, then
 *       sum += (d_w * d_x) * sumi + m_w * s_x in f32, as ggml's generic code does.
 *   vec_dot Q5_0 (x: Q8_0 blocks): sum += (d_w * d_x) * sum((q_w - 16) * q_x).
 *   from_float Q8_1: defined as ggml's AVX2 quantize_row_q8_1 (what llama.cpp on x86 produced the
 *       goldens with): amax over the block, d = amax / 127 (stored f16), id = 127 / amax (0 if
 *       amax == 0), q = round-half-even(x * id) converted like cvtps_epi32, s = f16(d * sum of those
 *       int32 values, wrapping), q saturated to int8 like packs_epi32 + packs_epi16. */
#include "kernels_legacy.h"

#include <math.h>

static uint32_t qh_word(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | ((uint32_t)qh[1] << 8) | ((uint32_t)qh[2] << 16) | ((uint32_t)qh[3] << 24);
}

void zk_vec_dot_q4_1_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / 32;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int32_t sumi = 0;
        for (int j = 0; j < 16; j++) {
            sumi += (int32_t)(a[i].qs[j] & 0x0f) * b[i].qs[j];
            sumi += (int32_t)(a[i].qs[j] >> 4) * b[i].qs[j + 16];
        }
        sum += (zeta_f16_to_f32(a[i].d) * zeta_f16_to_f32(b[i].d)) * (float)sumi +
               zeta_f16_to_f32(a[i].m) * zeta_f16_to_f32(b[i].s);
    }
    *s = sum;
}

void zk_vec_dot_q5_0_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_0 *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const uint32_t qh = qh_word(a[i].qh);
        int32_t sumi = 0;
        for (int j = 0; j < 16; j++) {
            const int32_t q0 = (int32_t)((a[i].qs[j] & 0x0fu) | (((qh >> j) & 1u) << 4)) - 16;
            const int32_t q1 = (int32_t)((a[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4)) - 16;
            sumi += q0 * b[i].qs[j] + q1 * b[i].qs[j + 16];
        }
        sum += (zeta_f16_to_f32(a[i].d) * zeta_f16_to_f32(b[i].d)) * (float)sumi;
    }
    *s = sum;
}

void zk_vec_dot_q5_1_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / 32;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const uint32_t qh = qh_word(a[i].qh);
        int32_t sumi = 0;
        for (int j = 0; j < 16; j++) {
            const int32_t q0 = (int32_t)((a[i].qs[j] & 0x0fu) | (((qh >> j) & 1u) << 4));
            const int32_t q1 = (int32_t)((a[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4));
            sumi += q0 * b[i].qs[j] + q1 * b[i].qs[j + 16];
        }
        sum += (zeta_f16_to_f32(a[i].d) * zeta_f16_to_f32(b[i].d)) * (float)sumi +
               zeta_f16_to_f32(a[i].m) * zeta_f16_to_f32(b[i].s);
    }
    *s = sum;
}

/* Round half to even without depending on the caller's floating-point rounding mode. */
static float round_half_even(float v) {
    if (!(fabsf(v) < 8388608.0f)) return v; /* already integral (|v| >= 2^23), inf or NaN */
    const float t = truncf(v);
    const float frac = fabsf(v - t); /* exact */
    if (frac > 0.5f || (frac == 0.5f && ((int64_t)t & 1))) return t + copysignf(1.0f, v);
    return t;
}

/* float -> int32 like cvtps_epi32 on an already integral value: NaN and out of range give
 * INT32_MIN. */
static int32_t cvt_i32(float r) {
    if (!(r >= -2147483648.0f && r < 2147483648.0f)) return INT32_MIN;
    return (int32_t)r;
}

/* int32 -> int8 saturated, like packs_epi32 + packs_epi16. */
static int8_t sat_i8(int32_t v) { return (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v); }

void zk_from_float_q8_1_scalar(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    const int64_t nb = n / 32;
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * 32;
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) {
            const float a = fabsf(xb[j]);
            if (a > amax) amax = a;
        }
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        uint32_t sum = 0; /* int32 arithmetic that wraps, as the vector adds do */
        for (int j = 0; j < 32; j++) {
            const int32_t q = cvt_i32(round_half_even(xb[j] * id));
            sum += (uint32_t)q;
            y[i].qs[j] = sat_i8(q);
        }
        const int32_t si = sum <= (uint32_t)INT32_MAX ? (int32_t)sum : -(int32_t)(~sum) - 1;
        y[i].d = zeta_f32_to_f16(d);
        y[i].s = zeta_f32_to_f16(d * (float)si);
    }
}
