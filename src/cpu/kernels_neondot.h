/* kernels_neondot.h — the AArch64 dot-product-extension (SDOT, armv8.2-a+dotprod) dot kernels of
 * the integer weight families, for the neondot table (kernels_neondot.c). Signature: zk_vec_dot_fn.
 *
 *   weight type          activation type   file
 *   Q4_1, Q5_1           Q8_1              kernels_neondot_legacy.c
 *   Q5_0, IQ4_NL         Q8_0              kernels_neondot_legacy.c, kernels_neondot_iqk.c
 *   Q4_K, Q5_K, Q6_K     Q8_K              kernels_neondot_k.c
 *   Q2_K, Q3_K, IQ4_XS   Q8_K              kernels_neondot_iqk.c
 *
 * Semantics are the scalar spec's (kernels_scalar_legacy.c, kernels_scalar_k.c,
 * kernels_scalar_iqk.c; see kernels_legacy.h, kernels_k.h, kernels_iqk.h): the integer sums of every
 * block are exact (SDOT multiplies int8 by int8 exactly, -128 included, and adds groups of 4 products
 * into int32 lanes), the f32 sums may be formed in another order. The functions exist only in
 * AArch64 builds and may be called only after cpu_features.c has seen FEAT_DotProd. */
#ifndef ZETA_KERNELS_NEONDOT_H
#define ZETA_KERNELS_NEONDOT_H

#include "kernels.h"

void zk_vec_dot_q4_1_neondot(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_0_neondot(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_1_neondot(int64_t n, float *s, const void *w, const void *x);

void zk_vec_dot_q4_K_neondot(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_K_neondot(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q6_K_neondot(int64_t n, float *s, const void *w, const void *x);

void zk_vec_dot_q2_K_neondot(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q3_K_neondot(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_iq4_nl_neondot(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_iq4_xs_neondot(int64_t n, float *s, const void *w, const void *x);

#endif
