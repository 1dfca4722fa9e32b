/* kernels_k.h — the CPU kernels of the K-quant family: dot products of Q4_K, Q5_K and Q6_K weight
 * rows with Q8_K activations, and the Q8_K activation quantizer, one set per ISA (the
 * kernels_<isa>_k.c files; each is compiled with its ISA's flags and only exists where that ISA
 * is built: _avx2 / _avx512 on x86-64, _neon on AArch64). They have the zk_vec_dot_fn /
 * zk_from_float_fn signatures of kernels.h and go into the tables at [ZETA_TYPE_Q4_K] etc.
 *
 * Semantics (kernels_scalar_k.c is the spec): per super-block of 256 an exact integer sum
 * sumi = sum_j sc_j * sum_l q_l * y_l and, for Q4_K / Q5_K, summ = sum_j m_j * (sum of y over
 * sub-block j, from the Q8_K bsums); the row's result is sum over super-blocks of
 * d_w * d_x * sumi - dmin_w * d_x * summ in f32 (SIMD versions may order the f32 sums differently).
 * The Q8_K quantizer is ggml's quantize_row_q8_K_ref (what llama.cpp uses on x86), byte for byte,
 * in every ISA. n is a multiple of 256. */
#ifndef ZETA_KERNELS_K_H
#define ZETA_KERNELS_K_H

#include "kernels.h"

void zk_vec_dot_q4_K_scalar(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_K_scalar(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q6_K_scalar(int64_t n, float *s, const void *w, const void *x);
void zk_from_float_q8_K_scalar(const float *x, void *y, int64_t n);

void zk_vec_dot_q4_K_avx2(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_K_avx2(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q6_K_avx2(int64_t n, float *s, const void *w, const void *x);
void zk_from_float_q8_K_avx2(const float *x, void *y, int64_t n);

void zk_vec_dot_q4_K_avx512(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_K_avx512(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q6_K_avx512(int64_t n, float *s, const void *w, const void *x);
void zk_from_float_q8_K_avx512(const float *x, void *y, int64_t n);

void zk_vec_dot_q4_K_neon(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_K_neon(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q6_K_neon(int64_t n, float *s, const void *w, const void *x);
void zk_from_float_q8_K_neon(const float *x, void *y, int64_t n);

#endif
