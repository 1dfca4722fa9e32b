/* kernels_legacy.h — the CPU kernels of the legacy block types with a minimum or a fifth bit
 * (Q4_1, Q5_0, Q5_1 weights; Q8_1 activations), one set per ISA, for the kernel tables of
 * kernels.h. Signatures are zk_vec_dot_fn / zk_from_float_fn.
 *
 *   weight type   activation type (zk_vec_dot_type)   per 32-block result
 *   Q4_1          Q8_1      d_w * d_x * sum(q_w * q_x) + m_w * s_x
 *   Q5_1          Q8_1      d_w * d_x * sum(q_w * q_x) + m_w * s_x
 *   Q5_0          Q8_0      d_w * d_x * sum((q_w - 16) * q_x)
 *
 * The _scalar functions (kernels_scalar_legacy.c) are the spec. The Q8_1 activation quantizer is
 * defined as ggml's AVX2 quantize_row_q8_1; every ISA reproduces the scalar bytes exactly. The
 * _avx2 / _avx512 functions exist only in x86-64 builds, the _neon ones only in AArch64 builds,
 * and may be called only after cpu_features.c has checked the CPU. */
#ifndef ZETA_KERNELS_LEGACY_H
#define ZETA_KERNELS_LEGACY_H

#include "kernels.h"

void zk_vec_dot_q4_1_scalar(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_0_scalar(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_1_scalar(int64_t n, float *s, const void *w, const void *x);
void zk_from_float_q8_1_scalar(const float *x, void *y, int64_t n);

void zk_vec_dot_q4_1_avx2(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_0_avx2(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_1_avx2(int64_t n, float *s, const void *w, const void *x);
void zk_from_float_q8_1_avx2(const float *x, void *y, int64_t n);

void zk_vec_dot_q4_1_avx512(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_0_avx512(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_1_avx512(int64_t n, float *s, const void *w, const void *x);
void zk_from_float_q8_1_avx512(const float *x, void *y, int64_t n);

void zk_vec_dot_q4_1_neon(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_0_neon(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_1_neon(int64_t n, float *s, const void *w, const void *x);
void zk_from_float_q8_1_neon(const float *x, void *y, int64_t n);

#endif
