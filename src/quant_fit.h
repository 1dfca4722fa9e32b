/* quant_fit.h — numeric helpers shared by the reference quantizers (quant_k.c, quant_k23.c,
 * quant_iq.c): ggml's nearest_int rounding and the make_qkx2_quants scale/min fit. */
#ifndef ZETA_QUANT_FIT_H
#define ZETA_QUANT_FIT_H

#include "quant.h"

#define GROUP_MAX_EPS 1e-15f

/* ggml's nearest_int: adding 1.5 * 2^23 rounds to an integer in the float addition (to nearest,
 * ties to even) and the integer is read back from the low mantissa bits. For |v| < 2^22 this is
 * round-half-even; outside that range (and for NaN) it is the same bit manipulation, so every
 * input gives what ggml gives. */
static inline int nearest_int(float v) {
    const uint32_t u = zeta_f32_to_bits(v + 12582912.0f);
    return (int)(u & 0x007fffffu) - 0x00400000;
}

/* Asymmetric n-element quantization to codes 0..nmax with a non-negative offset (ggml's
 * make_qkx2_quants): start from the plain min/max grid, then try nstep + 1 grids of
 * (nmax + rmin + rdelta * is) / (max - min) steps, each refined by weighted least squares for
 * scale and min, keeping the one of smallest weighted error (|diff| if use_mad, else diff^2).
 * Returns the scale; *neg_min receives -min (>= 0). Laux: n bytes of scratch. (quant_k.c) */
float make_qkx2_quants(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min, uint8_t *Laux,
                       float rmin, float rdelta, int nstep, bool use_mad);

#endif
