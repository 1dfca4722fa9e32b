/* quant.c — the scalar reference conversions of quant.h: exact f16/bf16 <-> f32, and per block
 * type the dequantizer (bit-exact with ggml) and reference quantizer (same bytes as ggml's
 * quantize_row_*_ref, no importance matrix). This is the spec the SIMD kernels are tested against.
 * The type table itself lives in types.c. */
#include "quant.h"

#include <math.h>

/* ---- half precision ------------------------------------------------------------------------ */

/* Exact widening, with the F16C instruction's NaN rule: the payload is kept and the quiet bit set. */
float zeta_f16_to_f32(zeta_f16 h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t mant = h & 0x3ffu;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in f32 */
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    if (exp == 31) {
        if (mant == 0) return zeta_bits_to_f32(sign | 0x7f800000u);
        return zeta_bits_to_f32(sign | 0x7fc00000u | (mant << 13));
    }
    return zeta_bits_to_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

/* Round to nearest, ties to even, exactly like F16C's vcvtps2ph with imm 0 (what ggml's
 * GGML_FP32_TO_FP16 uses on x86): overflow to inf, gradual underflow to subnormals, NaN stays NaN
 * (quiet, top payload bits kept). */
zeta_f16 zeta_f32_to_f16(float f) {
    const uint32_t u = zeta_f32_to_bits(f);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    const uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* NaN */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520: rounds to inf */
    if (a >= 0x38800000u) {                                   /* normal f16 range (>= 2^-14) */
        uint32_t r = a - (112u << 23);                        /* rebias exponent 127 -> 15 */
        r += 0xfffu + ((r >> 13) & 1u);                       /* round to nearest even */
        return (uint16_t)(sign | (r >> 13));
    }
    if (a <= 0x33000000u) return sign;                        /* <= 2^-25: rounds to (signed) zero */
    /* subnormal f16: value in units of 2^-24 is m * 2^(e - 126), with 14 <= 126 - e <= 24 */
    const uint32_t e = a >> 23;
    const uint32_t m = (a & 0x7fffffu) | 0x800000u;
    const uint32_t s = 126u - e;
    uint32_t q = m >> s;
    const uint32_t rem = m & ((1u << s) - 1u);
    const uint32_t half = 1u << (s - 1u);
    if (rem > half || (rem == half && (q & 1u))) q++;         /* q may become 0x400: smallest normal */
    return (uint16_t)(sign | q);
}

/* ggml_compute_fp32_to_bf16: NaN -> quiet NaN (bit 6 of the bf16 set), else round to nearest even
 * on the top 16 bits (subnormals are rounded, not flushed; overflow carries into inf). */
zeta_bf16 zeta_f32_to_bf16(float f) {
    const uint32_t u = zeta_f32_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (zeta_bf16)((u >> 16) | 64u);
    return (zeta_bf16)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* ---- Q4_0: 32 weights = one f16 scale d + 32 4-bit codes q, w = (q - 8) * d ----------------- */
/* qs[j] holds element j in its low nibble and element j + 16 in its high nibble. */

void dequantize_row_q4_0(const block_q4_0 *x, float *y, int64_t n) {
    const int64_t nb = n / QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = zeta_f16_to_f32(x[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int lo = (x[i].qs[j] & 0x0f) - 8;
            const int hi = (x[i].qs[j] >> 4) - 8;
            y[i * QK4_0 + j] = (float)lo * d;
            y[i * QK4_0 + j + QK4_0 / 2] = (float)hi * d;
        }
    }
}

/* float -> int8 as ggml's `(int8_t)v` compiles on x86-64 (the goldens' platform): truncate to int32
 * (cvttss2si: NaN and out-of-range give INT32_MIN) and keep the low byte. Finite inputs of the
 * reference quantizers are always in range; non-finite ones arise when 1/d overflows for blocks
 * of magnitude below ~1e-37, and then every code is 0, as in ggml. */
static int8_t x86_f32_to_i8(float v) {
    if (!(v >= -2147483648.0f && v < 2147483648.0f)) return 0;
    return (int8_t)(uint8_t)((uint32_t)(int32_t)v & 0xffu);
}

/* ggml's MIN(15, (int8_t)v) for the Q4_0 codes. */
static int q4_code(float v) {
    const int q = x86_f32_to_i8(v);
    return q < 15 ? q : 15;
}

/* The scale maps the element of largest magnitude (the first one, if several tie) to code 0
 * (q - 8 = -8): d = max / -8. Codes are trunc(x / d + 8.5) capped at 15. */
void quantize_row_q4_0_ref(const float *x, block_q4_0 *y, int64_t n) {
    const int64_t nb = n / QK4_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * QK4_0;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK4_0; j++) {
            if (amax < fabsf(xb[j])) {
                amax = fabsf(xb[j]);
                max = xb[j];
            }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = zeta_f32_to_f16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int c0 = q4_code(xb[j] * id + 8.5f);
            const int c1 = q4_code(xb[j + QK4_0 / 2] * id + 8.5f);
            y[i].qs[j] = (uint8_t)(c0 | (c1 << 4));
        }
    }
}

/* ---- Q8_0: 32 weights = one f16 scale d + 32 int8 codes q, w = q * d ------------------------ */

void dequantize_row_q8_0(const block_q8_0 *x, float *y, int64_t n) {
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        const float d = zeta_f16_to_f32(x[i].d);
        for (int j = 0; j < QK8_0; j++) y[i * QK8_0 + j] = (float)x[i].qs[j] * d;
    }
}

/* d = amax / 127, codes = roundf(x * (1 / d)) (half away from zero). */
void quantize_row_q8_0_ref(const float *x, block_q8_0 *y, int64_t n) {
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) {
            const float a = fabsf(xb[j]);
            amax = amax > a ? amax : a;
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = zeta_f32_to_f16(d);
        for (int j = 0; j < QK8_0; j++) y[i].qs[j] = x86_f32_to_i8(roundf(xb[j] * id));
    }
}

/* ---- dispatch -------------------------------------------------------------------------------- */

