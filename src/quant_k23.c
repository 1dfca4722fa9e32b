/* quant_k23.c — the scalar reference conversions of the 2- and 3-bit K-quants Q2_K and Q3_K:
 * dequantizers bit-exact with ggml's dequantize_row_q2_K / q3_K, and quantizers producing the same
 * bytes as ggml's quantize_row_q2_K_ref / q3_K_ref (what llama-quantize writes without an
 * importance matrix). Every float operation is done in ggml's order, in single precision and
 * without contraction (the file is built as ISO C, so no FMA is formed): that order decides which
 * codes and scales come out.
 *
 * Super-block layouts (256 elements = 16 sub-blocks of 16; quant.h has the structs). Element
 * e = 128 * c + 32 * s + l (c = 0..1, s = 0..3, l = 0..31) belongs to sub-block e / 16 and its
 * 2 low bits are bits 2s..2s+1 of qs[32 * c + l].
 *   Q2_K: w = d * (sc_j & 15) * q - dmin * (sc_j >> 4), q in 0..3, sc_j = scales[j] (4 + 4 bits).
 *   Q3_K: w = d * (sc_j - 32) * (q - 4), q = low 2 bits + 4 * (bit 4c + s of hmask[l]), sc_j a
 *         6-bit code: low nibble in scales[j] (j < 8) or the high nibble of scales[j - 8], top 2
 *         bits at bit 2 * (j / 4) of scales[8 + j % 4]. */
#include "quant.h"
#include "quant_fit.h"

#include <math.h>


static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* Packs 256 2-bit codes: qs[32 * c + l] holds L[128 * c + 32 * s + l] at bits 2s. */
static void pack_2bit(const uint8_t *L, uint8_t qs[64]) {
    for (int c = 0; c < 2; c++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *Lc = L + 128 * c + l;
            qs[32 * c + l] = (uint8_t)(Lc[0] | (Lc[32] << 2) | (Lc[64] << 4) | (Lc[96] << 6));
        }
}

/* ---- Q2_K ------------------------------------------------------------------------------------ */

void dequantize_row_q2_K(const block_q2_K *x, float *y, int64_t n) {
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = zeta_f16_to_f32(x[i].d);
        const float dmin = zeta_f16_to_f32(x[i].dmin);
        for (int e = 0; e < QK_K; e++) {
            const int c = e / 128, s = (e / 32) % 4, l = e % 32;
            const uint8_t sc = x[i].scales[e / 16];
            const float dl = d * (float)(sc & 0xf), ml = dmin * (float)(sc >> 4);
            const int q = (x[i].qs[32 * c + l] >> (2 * s)) & 3;
            *y++ = dl * (float)q - ml;
        }
    }
}


/* Per sub-block a make_qkx2_quants fit (weights |x|, mean absolute error, 16 grid widths); the 16
 * scales and 16 mins are coded in 4 bits against their maxima (d = max_scale / 15, dmin =
 * max_min / 15); then every element of a sub-block whose coded scale is nonzero is re-quantized
 * as nearest_int((x + dmin * m) / (d * s)) clamped to 0..3. */
void quantize_row_q2_K_ref(const float *x, block_q2_K *y, int64_t n) {
    const int64_t nb = n / QK_K;
    uint8_t L[QK_K], Laux[16];
    float weights[16], mins[QK_K / 16], scales[QK_K / 16];
    const float q4scale = 15.0f;
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            for (int l = 0; l < 16; l++) weights[l] = fabsf(x[16 * j + l]);
            scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        if (max_scale > 0) {
            const float iscale = q4scale / max_scale;
            for (int j = 0; j < QK_K / 16; j++) y[i].scales[j] = (uint8_t)nearest_int(iscale * scales[j]);
            y[i].d = zeta_f32_to_f16(max_scale / q4scale);
        } else {
            for (int j = 0; j < QK_K / 16; j++) y[i].scales[j] = 0;
            y[i].d = zeta_f32_to_f16(0.0f);
        }
        if (max_min > 0) {
            const float iscale = q4scale / max_min;
            for (int j = 0; j < QK_K / 16; j++) y[i].scales[j] |= (uint8_t)(nearest_int(iscale * mins[j]) << 4);
            y[i].dmin = zeta_f32_to_f16(max_min / q4scale);
        } else {
            y[i].dmin = zeta_f32_to_f16(0.0f);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            const float d = zeta_f16_to_f32(y[i].d) * (float)(y[i].scales[j] & 0xf);
            if (d == 0.0f) continue;
            const float dm = zeta_f16_to_f32(y[i].dmin) * (float)(y[i].scales[j] >> 4);
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (uint8_t)imax(0, imin(3, nearest_int((x[16 * j + l] + dm) / d)));
        }
        pack_2bit(L, y[i].qs);
    }
}

/* ---- Q3_K ------------------------------------------------------------------------------------ */

/* The 6-bit code (0..63) of sub-block j's scale. */
static int q3_scale_code(const uint8_t scales[12], int j) {
    const int lo = j < 8 ? scales[j] & 0xf : scales[j - 8] >> 4;
    const int hi = (scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return lo | (hi << 4);
}

void dequantize_row_q3_K(const block_q3_K *x, float *y, int64_t n) {
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d_all = zeta_f16_to_f32(x[i].d);
        for (int e = 0; e < QK_K; e++) {
            const int c = e / 128, s = (e / 32) % 4, l = e % 32;
            const float dl = d_all * (float)(q3_scale_code(x[i].scales, e / 16) - 32);
            const int lo = (x[i].qs[32 * c + l] >> (2 * s)) & 3;
            const int q = lo - ((x[i].hmask[l] >> (4 * c + s)) & 1 ? 0 : 4);
            *y++ = dl * (float)q;
        }
    }
}

/* ggml's make_q3_quants with do_rmse: codes L in -nmax..nmax-1 (returned + nmax) for x ~ scale * L,
 * starting from iscale = -nmax / max (max = the element of largest magnitude), then up to 5 rounds
 * of coordinate descent on the x^2-weighted least-squares fit. An all-zero group (|x| < 1e-15)
 * gets L = 0 (not nmax) and scale 0, as in ggml. */
static float make_q3_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.0f;
    }
    const float iscale = (float)-nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        const int l = imax(-nmax, imin(nmax - 1, nearest_int(iscale * x[i])));
        L[i] = (int8_t)l;
        const float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * (float)L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * (float)L[i] * (float)L[i];
                const int new_l = imax(-nmax, imin(nmax - 1, nearest_int(x[i] * sl2 / slx)));
                if (new_l != L[i]) {
                    slx += w * x[i] * (float)new_l;
                    sl2 += w * (float)new_l * (float)new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Per sub-block a make_q3_quants fit; the signed scale of largest magnitude sets iscale = -32 /
 * max_scale, every scale is coded as clamp(nearest_int(iscale * s), -32, 31) + 32 and d = 1 /
 * iscale; then elements of sub-blocks with a nonzero coded scale are re-quantized as
 * clamp(nearest_int(x / (d * (code - 32))), -4, 3) + 4; bit 2 of each code goes to hmask. */
void quantize_row_q3_K_ref(const float *x, block_q3_K *y, int64_t n) {
    const int64_t nb = n / QK_K;
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float max_scale = 0, amax = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
            const float a = fabsf(scales[j]);
            if (a > amax) {
                amax = a;
                max_scale = scales[j];
            }
        }
        memset(y[i].scales, 0, 12);
        if (max_scale != 0.0f) {
            const float iscale = -32.0f / max_scale;
            for (int j = 0; j < QK_K / 16; j++) {
                /* ggml stores nearest_int's result in an int8_t before clamping */
                const int8_t l8 = (int8_t)(uint8_t)((unsigned)nearest_int(iscale * scales[j]) & 0xffu);
                const int l = imax(-32, imin(31, l8)) + 32;
                if (j < 8) y[i].scales[j] = (uint8_t)(l & 0xf);
                else y[i].scales[j - 8] |= (uint8_t)((l & 0xf) << 4);
                y[i].scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            }
            y[i].d = zeta_f32_to_f16(1.0f / iscale);
        } else {
            y[i].d = zeta_f32_to_f16(0.0f);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            const int sc = q3_scale_code(y[i].scales, j) - 32;
            const float d = zeta_f16_to_f32(y[i].d) * (float)sc;
            if (d == 0.0f) continue;
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (int8_t)(imax(-4, imin(3, nearest_int(x[16 * j + l] / d))) + 4);
        }
        /* the high bit of element e goes to bit e / 32 of hmask[e % 32]; qs keeps the low 2 bits */
        uint8_t low[QK_K];
        memset(y[i].hmask, 0, sizeof y[i].hmask);
        for (int e = 0; e < QK_K; e++) {
            int q = L[e];
            if (q > 3) {
                y[i].hmask[e % 32] |= (uint8_t)(1u << (e / 32));
                q -= 4;
            }
            low[e] = (uint8_t)q;
        }
        pack_2bit(low, y[i].qs);
    }
}
