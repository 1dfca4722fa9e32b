/* quant_iq.c — the scalar reference conversions of the 4-bit non-linear types IQ4_NL (blocks of 32)
 * and IQ4_XS (super-blocks of 256): the codebook, dequantizers bit-exact with ggml's
 * dequantize_row_iq4_nl / iq4_xs, and quantizers producing the same bytes as llama-quantize
 * without an importance matrix (ggml's quantize_iq4_nl / quantize_iq4_xs with quant_weights NULL,
 * i.e. quantize_row_iq4_nl_impl with ntry = 7). Every float operation is done in ggml's order, in
 * single precision and without contraction (ISO C build, no FMA).
 *
 * Note: ggml's own quantize_row_iq4_nl_ref runs the search with ntry = -1 (no scale search, no
 * final re-quantization) and so differs from the model files llama-quantize writes; ours follows
 * the model files. quantize_row_iq4_xs_ref is the same function in both.
 *
 * Layouts: a 32-element block's qs[j] holds element j in its low nibble and element j + 16 in its
 * high nibble; w = d * kvalues[code]. IQ4_XS: 8 such blocks share one f16 d, each with a 6-bit
 * scale code ls (low nibble in scales_l[ib / 2] at bit 4 * (ib % 2), top 2 bits at bit 2 * ib of
 * scales_h): w = d * (ls - 32) * kvalues[code]. */
#include "quant.h"
#include "quant_fit.h"

#include <math.h>

/* The IQ4 codebook (ggml's kvalues_iq4nl), sorted. */
static const int8_t k_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};


/* ggml's best_index_int8 over the codebook: index of the nearest value; at an exact midpoint (as
 * computed in float: x - lo < hi - x) the upper one. */
static int best_index(float x) {
    const int8_t *val = k_iq4_values;
    if (x <= val[0]) return 0;
    if (x >= val[15]) return 15;
    int ml = 0, mu = 15;
    while (mu - ml > 1) {
        const int mav = (ml + mu) / 2;
        if (x < (float)val[mav]) mu = mav;
        else ml = mav;
    }
    return x - (float)val[mu - 1] < (float)val[mu] - x ? mu - 1 : mu;
}

/* ---- dequantization -------------------------------------------------------------------------- */

static void dequant_block32(const uint8_t qs[16], float d, float *y) {
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)k_iq4_values[qs[j] & 0xf];
        y[j + 16] = d * (float)k_iq4_values[qs[j] >> 4];
    }
}

void dequantize_row_iq4_nl(const block_iq4_nl *x, float *y, int64_t n) {
    const int64_t nb = n / 32;
    for (int64_t i = 0; i < nb; i++) dequant_block32(x[i].qs, zeta_f16_to_f32(x[i].d), y + 32 * i);
}

void dequantize_row_iq4_xs(const block_iq4_xs *x, float *y, int64_t n) {
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = zeta_f16_to_f32(x[i].d);
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((x[i].scales_h >> (2 * ib)) & 3) << 4);
            dequant_block32(x[i].qs + 16 * ib, d * (float)(ls - 32), y + QK_K * i + 32 * ib);
        }
    }
}

/* ---- quantization (ggml's quantize_row_iq4_nl_impl, no importance matrix, ntry = 7) ----------- */

/* The scale of one 32-element block: weights x^2; a first fit from d = max / 127 (max = element of
 * largest magnitude), refined by least squares, then 15 candidate grids id = (t - 127) / max for
 * t = -7..7, keeping the least-squares scale of the best. Codes of the block go to L (they are
 * recomputed by the callers). Returns 0 for an all-zero block (|x| < 1e-15). */
static float block_scale(const float *xb, uint8_t *L) {
    const int ntry = 7;
    float weight[32];
    for (int j = 0; j < 32; j++) weight[j] = xb[j] * xb[j];
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++) {
        const float ax = fabsf(xb[j]);
        if (ax > amax) {
            amax = ax;
            max = xb[j];
        }
    }
    if (amax < GROUP_MAX_EPS) return 0.0f;
    float d = -max / (float)k_iq4_values[0];
    float id = 1.0f / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; j++) {
        const int l = best_index(id * xb[j]);
        L[j] = (uint8_t)l;
        const float q = (float)k_iq4_values[l];
        sumqx += weight[j] * q * xb[j];
        sumq2 += weight[j] * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.0f;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; itry++) {
        id = (float)(itry + k_iq4_values[0]) / max;
        sumqx = sumq2 = 0;
        for (int j = 0; j < 32; j++) {
            const float q = (float)k_iq4_values[best_index(id * xb[j])];
            sumqx += weight[j] * q * xb[j];
            sumq2 += weight[j] * q * q;
        }
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

static void pack_nibbles(const uint8_t L[32], uint8_t qs[16]) {
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
}

/* The block's scale is stored as f16 and every element re-quantized against the unrounded scale. */
void quantize_row_iq4_nl_ref(const float *x, block_iq4_nl *y, int64_t n) {
    const int64_t nb = n / 32;
    uint8_t L[32];
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + 32 * i;
        const float d = block_scale(xb, L);
        y[i].d = zeta_f32_to_f16(d);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 32; j++) L[j] = (uint8_t)best_index(id * xb[j]);
        pack_nibbles(L, y[i].qs);
    }
}

/* The 8 block scales are coded in 6 bits against the signed one of largest magnitude: d =
 * -max_scale / 32 (stored f16), ls = clamp(nearest_int(s / d), -32, 31); every element is
 * re-quantized against the coded block scale d * ls (unrounded d). */
void quantize_row_iq4_xs_ref(const float *x, block_iq4_xs *y, int64_t n) {
    const int64_t nb = n / QK_K;
    uint8_t L[32];
    float scales[QK_K / 32];
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float max_scale = 0, amax_scale = 0;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            scales[ib] = block_scale(x + 32 * ib, L);
            const float a = fabsf(scales[ib]);
            if (a > amax_scale) {
                amax_scale = a;
                max_scale = scales[ib];
            }
        }
        const float d = -max_scale / 32.0f;
        y[i].d = zeta_f32_to_f16(d);
        y[i].scales_h = 0;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            int l = nearest_int(id * scales[ib]);
            l = l < -32 ? -32 : l > 31 ? 31 : l;
            const float dl = d * (float)l;
            const float idl = dl != 0.0f ? 1.0f / dl : 0.0f;
            for (int j = 0; j < 32; j++) L[j] = (uint8_t)best_index(idl * x[32 * ib + j]);
            pack_nibbles(L, y[i].qs + 16 * ib);
            l += 32;
            if (ib % 2 == 0) y[i].scales_l[ib / 2] = (uint8_t)(l & 0xf);
            else y[i].scales_l[ib / 2] |= (uint8_t)((l & 0xf) << 4);
            y[i].scales_h |= (uint16_t)((l >> 4) << (2 * ib));
        }
    }
}
