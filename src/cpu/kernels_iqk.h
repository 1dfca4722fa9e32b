/* kernels_iqk.h — the CPU dot-product kernels of the 2/3-bit K-quants and the 4-bit non-linear
 * types, one set per ISA, for the kernel tables of kernels.h. Signature: zk_vec_dot_fn.
 *
 *   weight type   activation type (zk_vec_dot_type)   result (ggml's vec_dot_*_q8_*)
 *   Q2_K          Q8_K     per super-block: d_x * d_w * sum_j (sc_j & 15) * sum(q_w * q_x)
 *                                          - d_x * dmin_w * sum_j (sc_j >> 4) * bsums_j
 *   Q3_K          Q8_K     per super-block: d_w * d_x * sum_j (sc_j - 32) * sum((q_w - 4) * q_x)
 *   IQ4_NL        Q8_0     per 32-block:    d_w * d_x * sum(kvalues[q_w] * q_x)
 *   IQ4_XS        Q8_K     per super-block: d_w * d_x * sum_ib (ls_ib - 32) * sum(kvalues[q_w] * q_x)
 *
 * The _scalar functions (kernels_scalar_iqk.c) are the spec. Integer parts are exact in every ISA;
 * the float sums may be formed in another order. The _avx2 / _avx512 functions exist only in
 * x86-64 builds, the _neon ones only in AArch64 builds, and may be called only after
 * cpu_features.c has checked the CPU. Activations of -128 (only produced from inf/NaN input) may
 * give wrong products in the SIMD versions, as in ggml. */
#ifndef ZETA_KERNELS_IQK_H
#define ZETA_KERNELS_IQK_H

#include "kernels.h"

void zk_vec_dot_q2_K_scalar(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q3_K_scalar(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_iq4_nl_scalar(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_iq4_xs_scalar(int64_t n, float *s, const void *w, const void *x);

void zk_vec_dot_q2_K_avx2(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q3_K_avx2(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_iq4_nl_avx2(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_iq4_xs_avx2(int64_t n, float *s, const void *w, const void *x);

void zk_vec_dot_q2_K_avx512(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q3_K_avx512(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_iq4_nl_avx512(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_iq4_xs_avx512(int64_t n, float *s, const void *w, const void *x);

void zk_vec_dot_q2_K_neon(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q3_K_neon(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_iq4_nl_neon(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_iq4_xs_neon(int64_t n, float *s, const void *w, const void *x);

#endif
