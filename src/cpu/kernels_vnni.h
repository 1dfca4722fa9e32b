/* kernels_vnni.h — the x86 VNNI integer dot kernels (kernels_avx512vnni*.c: AVX-512 + AVX512_VNNI,
 * zmm vpdpbusd / vpdpwssd; kernels_avxvnni.c: AVX2 + AVX-VNNI, VEX ymm vpdpbusd / vpdpwssd). They
 * have the zk_vec_dot_fn signature of kernels.h and fill only the integer vec_dot slots of their
 * tables (zk_avx512vnni(), zk_avxvnni()); the float dots and activation quantizers come from the
 * avx512 / avx2 tables under them. They exist only in x86-64 builds and may be called only after
 * cpu_features.c has checked the CPU (zk_cpu_has_avx512vnni / zk_cpu_has_avxvnni).
 *
 *   weight type                     activation (zk_vec_dot_type)   spec (scalar kernels)
 *   Q8_0, Q4_0, Q5_0, IQ4_NL        Q8_0                           kernels_scalar.c, _legacy.c, _iqk.c
 *   Q4_1, Q5_1                      Q8_1                           kernels_scalar_legacy.c
 *   Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,   Q8_K                           kernels_scalar_k.c, _iqk.c
 *   IQ4_XS
 *
 * Exactness: vpdpbusd multiplies unsigned bytes by signed bytes and adds groups of 4 products to
 * int32 without saturation, so with the activation as the signed operand every block's integer sum
 * is exact for every int8 activation, -128 included (unlike maddubs, which saturates in int16, and
 * the sign-transfer trick, which fails on -128). Signed weight codes are made unsigned by an
 * offset that is subtracted again exactly:
 *   Q8_0:            sum w*y = sum (w + 128)*y - sum 128*y     (w + 128 = w ^ 0x80)
 *   Q4_0 / Q5_0:     sum (u - 8)*y = sum u*y - sum 8*y         (16 for Q5_0)
 *   IQ4_NL / IQ4_XS: codebook + 128 (1..241), then - sum 128*y (IQ4_XS: 128 * its Q8_K bsums)
 *   Q3_K:            (q + 4) in 0..7, then - 4 * sum_j sc_j * bsums_j
 *   Q6_K:            (q + 32) in 0..63, then - 32 * sum_j sc_j * bsums_j (as the avx2/avx512 ones)
 * Sub-block scales of the K-quants (Q2_K..Q6_K) are applied with vpdpwssd:
 *   avx512vnni: on the int32 vpdpbusd partials, whose upper 16 bits are multiplied by a zero: exact
 *     because every partial (4 products) fits int16, at most 4 * 63 * 128 = 32256 (Q6_K);
 *   avxvnni: on maddubs int16 pair sums (unsigned codes <= 63, so |pair| <= 2 * 63 * 128 < 2^15:
 *     maddubs never saturates), with vpdpwssd fusing madd + add; on the Xeon (Sapphire Rapids class)
 *     this was tested on, that ran faster for 256-bit registers than vpdpbusd + vpdpwssd, while
 *     for 512-bit registers vpdpbusd + vpdpwssd was the faster of the two.
 * IQ4_XS partials do not fit int16 (4 * 241 * 128): vpdpbusd, then vpmulld by the block scale.
 * The f32 accumulation may run in another order than the scalar spec's.
 *
 * kernels_avxvnni.c is one self-contained file (static kernels, one exported table) so that
 * tests/test_vnni.c can compile it with the two VNNI instructions emulated in AVX2 code and check
 * its logic on CPUs without AVX-VNNI; it needs no prototypes here. */
#ifndef ZETA_KERNELS_VNNI_H
#define ZETA_KERNELS_VNNI_H

#include "kernels.h"

/* kernels_avx512vnni_k.c (the table and the 32-block types are in kernels_avx512vnni.c) */
void zk_vec_dot_q2_K_avx512vnni(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q3_K_avx512vnni(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q4_K_avx512vnni(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q5_K_avx512vnni(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_q6_K_avx512vnni(int64_t n, float *s, const void *w, const void *x);
void zk_vec_dot_iq4_xs_avx512vnni(int64_t n, float *s, const void *w, const void *x);

#endif
