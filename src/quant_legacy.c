/* quant_legacy.c — the scalar reference conversions of the "legacy" 32-element block types with a
 * minimum or a fifth bit: Q4_1, Q5_0, Q5_1 (weights) and Q8_1 (the activation type ggml pairs with
 * Q4_1 / Q5_1). Dequantization is bit-exact with ggml's dequantize_row_*; quantization produces the
 * same bytes as ggml's quantize_row_*_ref (no importance matrix). The spec the kernels are tested
 * against; the block structs live in quant.h.
 *
 * Layouts (element j of a block, 0 <= j < 32):
 *   qs[j % 16] holds element j in its low nibble if j < 16, else in its high nibble;
 *   the fifth bit of element j (Q5_*) is bit j of the little-endian 32-bit word qh.
 *   Q4_1: w = q * d + m,  q in 0..15        Q5_0: w = (q - 16) * d,  q in 0..31
 *   Q5_1: w = q * d + m,  q in 0..31        Q8_1: x = q * d, s = d * sum(q) (both f16) */
#include "quant.h"

#include <float.h>
#include <math.h>

/* float -> integer as ggml's `(int8_t)v` / `(uint8_t)v` compile on x86-64 (the goldens' platform):
 * truncation to int32 (cvttss2si: NaN and out of range give INT32_MIN), then the low byte. Finite
 * inputs of the reference quantizers are in range; non-finite ones arise only when 1/d overflows
 * (blocks of magnitude below ~1e-37), and then every code is 0, as in ggml. */
static uint8_t x86_trunc_low_byte(float v) {
    if (!(v >= -2147483648.0f && v < 2147483648.0f)) return 0;
    return (uint8_t)((uint32_t)(int32_t)v & 0xffu);
}

/* ggml's MIN(cap, (int8_t)v) as an unsigned code (the signed byte compared with the cap, then
 * stored into a uint8_t). */
static uint8_t capped_code(float v, int cap) {
    const int q = (int8_t)x86_trunc_low_byte(v);
    return (uint8_t)(q < cap ? q : cap);
}

static uint32_t load_qh(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | ((uint32_t)qh[1] << 8) | ((uint32_t)qh[2] << 16) | ((uint32_t)qh[3] << 24);
}

static void store_qh(uint8_t qh[4], uint32_t v) {
    for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(v >> (8 * k));
}

/* Smallest and largest element of a block, scanned in order with strict comparisons (NaN never
 * replaces a bound), starting from +FLT_MAX / -FLT_MAX as ggml does. */
static void block_min_max(const float *xb, float *mn, float *mx) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < 32; j++) {
        if (xb[j] < lo) lo = xb[j];
        if (xb[j] > hi) hi = xb[j];
    }
    *mn = lo;
    *mx = hi;
}

/* The element of largest magnitude (the first one if several tie), with its sign. */
static float block_signed_absmax(const float *xb) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < 32; j++) {
        if (amax < fabsf(xb[j])) {
            amax = fabsf(xb[j]);
            max = xb[j];
        }
    }
    return max;
}

/* ---- dequantization -------------------------------------------------------------------------- */
/* Each value is one f32 product and (for the _1 types) one f32 sum, rounded separately (no fused
 * multiply-add), as ggml's C and gguf-py's numpy dequantizers compute it. */

void dequantize_row_q4_1(const block_q4_1 *x, float *y, int64_t n) {
    const int64_t nb = n / 32;
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = zeta_f16_to_f32(x[i].d), m = zeta_f16_to_f32(x[i].m);
        for (int j = 0; j < 16; j++) {
            const float p0 = (float)(x[i].qs[j] & 0x0f) * d;
            const float p1 = (float)(x[i].qs[j] >> 4) * d;
            y[j] = p0 + m;
            y[j + 16] = p1 + m;
        }
    }
}

void dequantize_row_q5_0(const block_q5_0 *x, float *y, int64_t n) {
    const int64_t nb = n / 32;
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = zeta_f16_to_f32(x[i].d);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < 16; j++) {
            const int q0 = (int)((x[i].qs[j] & 0x0f) | (((qh >> j) & 1u) << 4)) - 16;
            const int q1 = (int)((x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4)) - 16;
            y[j] = (float)q0 * d;
            y[j + 16] = (float)q1 * d;
        }
    }
}

void dequantize_row_q5_1(const block_q5_1 *x, float *y, int64_t n) {
    const int64_t nb = n / 32;
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const float d = zeta_f16_to_f32(x[i].d), m = zeta_f16_to_f32(x[i].m);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < 16; j++) {
            const unsigned q0 = (x[i].qs[j] & 0x0fu) | (((qh >> j) & 1u) << 4);
            const unsigned q1 = (x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4);
            const float p0 = (float)q0 * d;
            const float p1 = (float)q1 * d;
            y[j] = p0 + m;
            y[j + 16] = p1 + m;
        }
    }
}

/* ---- reference quantizers -------------------------------------------------------------------- */

/* Q4_1: d = (max - min) / 15, m = min; codes trunc((x - min) / d + 0.5) capped at 15. */
void quantize_row_q4_1_ref(const float *x, block_q4_1 *y, int64_t n) {
    const int64_t nb = n / 32;
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * 32;
        float mn, mx;
        block_min_max(xb, &mn, &mx);
        const float d = (mx - mn) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = zeta_f32_to_f16(d);
        y[i].m = zeta_f32_to_f16(mn);
        for (int j = 0; j < 16; j++) {
            const uint8_t c0 = capped_code((xb[j] - mn) * id + 0.5f, 15);
            const uint8_t c1 = capped_code((xb[j + 16] - mn) * id + 0.5f, 15);
            y[i].qs[j] = (uint8_t)(c0 | (c1 << 4));
        }
    }
}

/* Q5_0: the element of largest magnitude maps to code 0: d = max / -16; codes
 * trunc(x / d + 16.5) capped at 31. */
void quantize_row_q5_0_ref(const float *x, block_q5_0 *y, int64_t n) {
    const int64_t nb = n / 32;
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * 32;
        const float d = block_signed_absmax(xb) / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = zeta_f32_to_f16(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            const uint8_t c0 = capped_code(xb[j] * id + 16.5f, 31);
            const uint8_t c1 = capped_code(xb[j + 16] * id + 16.5f, 31);
            y[i].qs[j] = (uint8_t)((c0 & 0x0f) | ((c1 & 0x0f) << 4));
            qh |= (uint32_t)((c0 >> 4) & 1u) << j;
            qh |= (uint32_t)((c1 >> 4) & 1u) << (j + 16);
        }
        store_qh(y[i].qh, qh);
    }
}

/* Q5_1: d = (max - min) / 31, m = min; codes (uint8_t)((x - min) / d + 0.5), not capped (they
 * cannot exceed 31 for finite input); only the low 5 bits are stored. */
void quantize_row_q5_1_ref(const float *x, block_q5_1 *y, int64_t n) {
    const int64_t nb = n / 32;
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * 32;
        float mn, mx;
        block_min_max(xb, &mn, &mx);
        const float d = (mx - mn) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = zeta_f32_to_f16(d);
        y[i].m = zeta_f32_to_f16(mn);
        uint32_t qh = 0;
        for (int j = 0; j < 16; j++) {
            const uint8_t c0 = x86_trunc_low_byte((xb[j] - mn) * id + 0.5f);
            const uint8_t c1 = x86_trunc_low_byte((xb[j + 16] - mn) * id + 0.5f);
            y[i].qs[j] = (uint8_t)((c0 & 0x0f) | ((c1 & 0x0f) << 4));
            qh |= (uint32_t)((c0 >> 4) & 1u) << j;
            qh |= (uint32_t)((c1 >> 4) & 1u) << (j + 16);
        }
        store_qh(y[i].qh, qh);
    }
}

/* Q8_1 (ggml's reference, used to write files; the activation quantizer of the kernels is
 * kernels_scalar_legacy.c's): d = amax / 127, codes roundf(x / d) (half away from zero),
 * s = d * (sum of the int8 codes), d and s stored as f16. */
void quantize_row_q8_1_ref(const float *x, block_q8_1 *y, int64_t n) {
    const int64_t nb = n / 32;
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * 32;
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) {
            const float a = fabsf(xb[j]);
            amax = amax > a ? amax : a;
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = zeta_f32_to_f16(d);
        int32_t sum = 0;
        for (int j = 0; j < 32; j++) {
            y[i].qs[j] = (int8_t)x86_trunc_low_byte(roundf(xb[j] * id));
            sum += y[i].qs[j];
        }
        y[i].s = zeta_f32_to_f16((float)sum * d);
    }
}
