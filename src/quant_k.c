/* quant_k.c — the scalar reference conversions of the 256-element K-quant family Q4_K, Q5_K, Q6_K
 * and of Q8_K (the activation type ggml pairs with every K-quant): dequantizers bit-exact with
 * ggml, and quantizers producing the same bytes as ggml's quantize_row_*_ref (no importance
 * matrix). Every float operation below is done in the order ggml does it, in single precision and
 * without contraction into FMA (GCC in ISO C mode does not contract; clang is told so below), as
 * ggml's x86 build computes it, because that order decides which codes and scales come out.
 *
 * Super-block layouts (quant.h):
 *   Q4_K / Q5_K: 8 sub-blocks of 32, w = d * sc_j * q - dmin * m_j, sc_j and m_j 6-bit codes packed
 *                into 12 bytes (scale_min_k4), q 4-bit (+ 1 high bit in qh for Q5_K).
 *   Q6_K:        16 sub-blocks of 16, w = d * sc_j * (q - 32), sc_j int8, q 6-bit = 4 low bits in
 *                ql + 2 high bits in qh.
 *   Q8_K:        w = d * q, d f32, q int8, plus bsums = the sums of each 16 consecutive q. */
#include "quant.h"
#include "quant_fit.h"

#include <math.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* clang would fuse a * b + c into an FMA on targets that have one */
#endif

/* ---- helpers shared by the quantizers ------------------------------------------------------- */


/* The 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes of Q4_K / Q5_K:
 * j < 4: low 6 bits of bytes j (scale) and j + 4 (min); j >= 4: the low / high nibble of byte
 * j + 4, topped with the 2 high bits of bytes j - 4 (scale) and j (min). */
static void scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* The inverse packing (ggml writes the 12 bytes this way; codes are < 64). */
static void pack_scale_min_k4(const uint8_t ls[8], const uint8_t lm[8], uint8_t *q) {
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            q[j] = ls[j];
            q[j + 4] = lm[j];
        } else {
            q[j + 4] = (uint8_t)((ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4));
            q[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            q[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/* make_qkx2_quants: see quant_fit.h */
float make_qkx2_quants(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min,
                       uint8_t *Laux, float rmin, float rdelta, int nstep, bool use_mad) {
    float min = x[0], max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *neg_min = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min);
    float scale = 1.0f / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        const int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
        float diff = scale * (float)L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += w[i] * diff;
    }
    if (nstep < 1) {
        *neg_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * (x[i] - min));
            l = l < 0 ? 0 : l > nmax ? nmax : l;
            Laux[i] = (uint8_t)l;
            const float wl = w[i] * (float)l;
            sum_l += wl;
            sum_l2 += wl * (float)l;
            sum_xl += wl * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * (float)Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                cur_error += w[i] * diff;
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; i++) L[i] = Laux[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *neg_min = -min;
    return scale;
}

/* ---- Q8_K ------------------------------------------------------------------------------------ */

void dequantize_row_q8_K(const block_q8_K *x, float *y, int64_t n) {
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++)
        for (int j = 0; j < QK_K; j++) y[i * QK_K + j] = x[i].d * (float)x[i].qs[j];
}

/* The element of largest magnitude (the first, if several tie; NaN never counts) is mapped to
 * -127 * sign: iscale = -127 / max, q = min(127, nearest_int(iscale * x)), d = 1 / iscale. An
 * all-zero block gets d = 0 and zero codes (ggml leaves its bsums unwritten; ours are 0). */
void quantize_row_q8_K_ref(const float *x, block_q8_K *y, int64_t n) {
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK_K; j++) {
            const float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) {
            const int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)(uint8_t)((unsigned)(v < 127 ? v : 127) & 0xffu);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += y[i].qs[j * 16 + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1.0f / iscale;
    }
}

/* ---- Q4_K / Q5_K: shared scale search --------------------------------------------------------- */

/* The super-block header of Q4_K / Q5_K (ggml's *_ref without imatrix): per 32-element sub-block
 * a make_qkx2_quants fit with weights av_x + |x| (av_x = rms of the sub-block); the 8 scales and
 * 8 mins are coded in 6 bits against their maxima (d = max_scale / 63, dmin = max_min / 63);
 * then every element is re-quantized against the coded scale and min into L (0..nmax). */
static void quantize_k_header(const float *x, int nmax, float rmin, float rdelta, int nstep,
                              uint8_t scales[12], zeta_f16 *d_out, zeta_f16 *dmin_out, uint8_t L[QK_K]) {
    float weights[32], mins[8], scales_f[8];
    uint8_t Laux[32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xb = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += xb[l] * xb[l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(xb[l]);
        scales_f[j] = make_qkx2_quants(32, nmax, xb, weights, L + 32 * j, &mins[j], Laux, rmin, rdelta, nstep, false);
        if (scales_f[j] > max_scale) max_scale = scales_f[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        /* ggml stores nearest_int into a uint8_t before capping at 63 */
        const uint8_t s = (uint8_t)((unsigned)nearest_int(inv_scale * scales_f[j]) & 0xffu);
        const uint8_t m = (uint8_t)((unsigned)nearest_int(inv_min * mins[j]) & 0xffu);
        ls[j] = s < 63 ? s : 63;
        lm[j] = m < 63 ? m : 63;
    }
    pack_scale_min_k4(ls, lm, scales);
    *d_out = zeta_f32_to_f16(max_scale / 63.0f);
    *dmin_out = zeta_f32_to_f16(max_min / 63.0f);
    const float d_all = zeta_f16_to_f32(*d_out), dmin_all = zeta_f16_to_f32(*dmin_out);
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        scale_min_k4(j, scales, &sc, &m);
        const float d = d_all * (float)sc;
        if (d == 0.0f) continue; /* keep the codes of the fit */
        const float dm = dmin_all * (float)m;
        for (int l = 0; l < 32; l++) {
            const int q = nearest_int((x[32 * j + l] + dm) / d);
            L[32 * j + l] = (uint8_t)(q < 0 ? 0 : q > nmax ? nmax : q);
        }
    }
}

/* ---- Q4_K ------------------------------------------------------------------------------------ */
/* qs[32 c + l] holds element 64 c + l in its low nibble and element 64 c + 32 + l in its high one. */

void dequantize_row_q4_K(const block_q4_K *x, float *y, int64_t n) {
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = zeta_f16_to_f32(x[i].d), min = zeta_f16_to_f32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        for (int c = 0; c < 4; c++, q += 32) {
            uint8_t sc, m;
            scale_min_k4(2 * c, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)(q[l] & 0x0f) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

void quantize_row_q4_K_ref(const float *x, block_q4_K *y, int64_t n) {
    const int64_t nb = n / QK_K;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        quantize_k_header(x, 15, -1.0f, 0.1f, 20, y[i].scales, &y[i].d, &y[i].dmin, L);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                y[i].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
    }
}

/* ---- Q5_K ------------------------------------------------------------------------------------ */
/* As Q4_K for the low 4 bits; bit 2c of qh[l] is the fifth bit of element 64 c + l, bit 2c + 1 that
 * of element 64 c + 32 + l. */

void dequantize_row_q5_K(const block_q5_K *x, float *y, int64_t n) {
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = zeta_f16_to_f32(x[i].d), min = zeta_f16_to_f32(x[i].dmin);
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        for (int c = 0; c < 4; c++, ql += 32) {
            uint8_t sc, m;
            scale_min_k4(2 * c, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = min * (float)m;
            const uint8_t u1 = (uint8_t)(1u << (2 * c)), u2 = (uint8_t)(2u << (2 * c));
            for (int l = 0; l < 32; l++) *y++ = d1 * (float)((ql[l] & 0x0f) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

void quantize_row_q5_K_ref(const float *x, block_q5_K *y, int64_t n) {
    const int64_t nb = n / QK_K;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        quantize_k_header(x, 31, -0.5f, 0.1f, 15, y[i].scales, &y[i].d, &y[i].dmin, L);
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                const int l1 = L[64 * c + l], l2 = L[64 * c + 32 + l];
                if (l1 > 15) y[i].qh[l] |= (uint8_t)(1u << (2 * c));
                if (l2 > 15) y[i].qh[l] |= (uint8_t)(2u << (2 * c));
                y[i].qs[32 * c + l] = (uint8_t)((l1 & 0x0f) | ((l2 & 0x0f) << 4));
            }
        }
    }
}

/* ---- Q6_K ------------------------------------------------------------------------------------ */
/* In each half c (128 elements) of the super-block, for l in 0..31: ql[64 c + l] holds the low 4
 * bits of elements 128 c + l (low nibble) and 128 c + 64 + l (high nibble), ql[64 c + 32 + l] those
 * of 128 c + 32 + l and 128 c + 96 + l; qh[32 c + l] holds the 2 high bits of elements
 * 128 c + l, + 32, + 64, + 96 in bits 0-1, 2-3, 4-5, 6-7. Sub-block j (16 elements) uses scales[j]. */

void dequantize_row_q6_K(const block_q6_K *x, float *y, int64_t n) {
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++) {
        const float d = zeta_f16_to_f32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int c = 0; c < 2; c++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

/* Symmetric n-element quantization to codes -nmax..nmax-1 (stored + nmax) with weights x^2 (ggml's
 * make_qx_quants, rmse_type 1, no importance): the element of largest magnitude fixes the sign;
 * grids of (nmax + 0.1 is) / max steps for is = -9..9 are tried, each with its least-squares scale,
 * keeping the best sum(w x l)^2 / sum(w l^2). Returns the scale. */
static float make_qx_quants_w2(int n, int nmax, const float *x, int8_t *L) {
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
    float iscale = (float)-nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * x[i]);
        l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
        L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -((float)nmax + 0.1f * (float)is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * x[i]);
            l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
            const float w = x[i] * x[i];
            sumlx += w * x[i] * (float)l;
            suml2 += w * (float)l * (float)l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = nearest_int(iscale * x[i]);
                l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
                L[i] = (int8_t)(l + nmax);
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Per 16-element sub-block a make_qx_quants fit; the 16 scales are coded in int8 against the one
 * of largest magnitude (iscale = -128 / max_scale, d = 1 / iscale, codes capped at 127); then every
 * element is re-quantized against its coded scale into -32..31. A super-block whose scales are
 * all below 1e-15 in magnitude is all zero. */
void quantize_row_q6_K_ref(const float *x, block_q6_K *y, int64_t n) {
    const int64_t nb = n / QK_K;
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float max_scale = 0, max_abs_scale = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            scales[j] = make_qx_quants_w2(16, 32, x + 16 * j, L + 16 * j);
            const float a = fabsf(scales[j]);
            if (a > max_abs_scale) {
                max_abs_scale = a;
                max_scale = scales[j];
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -128.0f / max_scale;
        y[i].d = zeta_f32_to_f16(1.0f / iscale);
        for (int j = 0; j < QK_K / 16; j++) {
            const int s = nearest_int(iscale * scales[j]);
            y[i].scales[j] = (int8_t)(uint8_t)((unsigned)(s < 127 ? s : 127) & 0xffu);
        }
        const float d_all = zeta_f16_to_f32(y[i].d);
        for (int j = 0; j < QK_K / 16; j++) {
            const float d = d_all * (float)y[i].scales[j];
            if (d == 0.0f) continue; /* keep the codes of the fit */
            for (int l = 0; l < 16; l++) {
                int q = nearest_int(x[16 * j + l] / d);
                q = q < -32 ? -32 : q > 31 ? 31 : q;
                L[16 * j + l] = (int8_t)(q + 32);
            }
        }
        for (int c = 0; c < 2; c++) {
            uint8_t *ql = y[i].ql + 64 * c, *qh = y[i].qh + 32 * c;
            const int8_t *Lc = L + 128 * c;
            for (int l = 0; l < 32; l++) {
                const int a = Lc[l], b = Lc[l + 32], e = Lc[l + 64], f = Lc[l + 96];
                ql[l] = (uint8_t)((a & 0x0f) | ((e & 0x0f) << 4));
                ql[l + 32] = (uint8_t)((b & 0x0f) | ((f & 0x0f) << 4));
                qh[l] = (uint8_t)((a >> 4) | ((b >> 4) << 2) | ((e >> 4) << 4) | ((f >> 4) << 6));
            }
        }
    }
}
