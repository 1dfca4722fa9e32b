/* mathk.h — vector math of the CPU backend's attention that has ISA-specific versions: softmax
 * over a tile of scores, y += a * x, rows of the KV cache types (F16, Q8_0, Q4_0) to f32, and the
 * fused decode kernels that score a tile of cached K rows against a GQA group of queries and add
 * a tile of cached V rows into the group's accumulators. zk_math_select() returns the best set for
 * this CPU (kernels_avx2_math.c on x86-64 with AVX2, with kernels_avx512vnni_math.c's slots over it
 * where the CPU has AVX-512 VNNI; kernels_neon_math.c on AArch64); the scalar set
 * (mathk_ref.c) is the spec. */
#ifndef ZETA_MATHK_H
#define ZETA_MATHK_H

#include "../quant.h"
#include <stddef.h>
#include <stdint.h>

/* x[i] = exp(x[i] * scale - m) for i < n, where m = max_j(x[j] * scale), raised to *max_io when
 * max_io is not NULL and *max_io is larger (a running maximum: pass -INFINITY for none); returns the
 * sum of the new x[i] and, if max_io is not NULL, stores m there. */
typedef double (*zk_softmax_fn)(float *x, int n, float scale, float *max_io);
/* y[i] += a * x[i] for i < n */
typedef void (*zk_axpy_fn)(int64_t n, float a, const float *x, float *y);
/* out[i] = gate[i] / (1 + exp(-gate[i])) * up[i] for i < n (SwiGLU; out may be gate or up). The
 * scalar version uses libm's expf; the SIMD ones a polynomial exp within a few ulp of it. */
typedef void (*zk_swiglu_fn)(int64_t n, const float *gate, const float *up, float *out);
/* n values of a row of the type (F16, Q8_0 or Q4_0; n a multiple of the block size) -> f32, exactly
 * as the type's dequantizer in quant.c */
typedef void (*zk_to_f32_fn)(const void *x, float *y, int64_t n);

/* Decode attention, one tile of n positions of one KV head against the `group` query heads that
 * share it. Cached row i (d elements of the slot's type) starts at k + i * k_stride; query g at
 * q + g * q_stride, already converted to zk_vec_dot_type of the K type (F32 rows for F32/F16 K, Q8_0
 * blocks for Q8_0/Q4_0 K). Writes s[g * s_stride + i] = K_i . q_g for i < n, g < group. Each K row
 * is read once for the whole group. For Q8_0/Q4_0 K every score is bit-identical to the scalar
 * vec_dot of kernels_scalar.c (exact integer block dots, scaled by d_k * d_q, blocks summed in
 * order in f32); for F32/F16 K the f32 sum may be taken in another order. d is a multiple of the
 * K type's block size. */
typedef void (*zk_kv_score_fn)(int d, int n, const void *k, size_t k_stride, int group, const void *q, size_t q_stride,
                               float *s, size_t s_stride);
/* acc[g * d + j] += s[g * s_stride + i] * V_i[j] for i = 0..n-1 in order, j < d, g < group, where V_i
 * (row i at v + i * v_stride, d elements of the slot's type) is dequantized exactly as quant.c
 * does; each V row is decoded once for the whole group. The scalar version adds a rounded product,
 * the SIMD ones fuse multiply and add (as their axpy does). */
typedef void (*zk_kv_accum_fn)(int d, int n, const void *v, size_t v_stride, int group, const float *s, size_t s_stride,
                               float *acc);

/* The terms of the entropy of softmax(l) (sampler_entropy) for n8 groups of 8 logits: lane j of
 * ls / lsd gets e^d and e^d * d of l[8g + j], d = l - max_l with l sanitized (NaN as -inf, +inf as
 * FLT_MAX) and both 0 for d <= -87; e^d in float arithmetic alone, 2^(d log2 e) = 2^k 2^f (k the
 * nearest integer, by adding and subtracting 1.5 * 2^23; |f| <= 1/2), 2^f by its degree-6 Taylor
 * polynomial in Horner form, each step a product then a sum (no FMA). Every version does these
 * operations per lane in this order: the same bits (tests/test_mathk.c; tests/test_sampler.c checks
 * sampler_entropy against the double-precision formula). */
typedef void (*zk_entropy8_fn)(const float *l, int32_t n8, float max_l, float *ls, float *lsd);
#define ZK_ENT_C6 1.54035304e-4f
#define ZK_ENT_C5 1.33335581e-3f
#define ZK_ENT_C4 9.61812911e-3f
#define ZK_ENT_C3 5.55041087e-2f
#define ZK_ENT_C2 2.40226507e-1f
#define ZK_ENT_C1 6.93147181e-1f
#define ZK_ENT_ROUND 12582912.0f

typedef struct zk_math {
    const char *name;
    zk_entropy8_fn entropy8;
    zk_softmax_fn softmax;
    zk_axpy_fn axpy;
    zk_swiglu_fn swiglu;
    zk_to_f32_fn f16_to_f32, q8_0_to_f32, q4_0_to_f32;
    /* indexed by the cache type (F32, F16, Q8_0, Q4_0; other slots NULL). In the set returned by
     * zk_math_select() these are NULL unless an ISA version exists: the caller then keeps its
     * per-row loop over the vec_dot / axpy kernels (which have SIMD versions where these don't). */
    zk_kv_score_fn kv_score[ZETA_TYPE_COUNT];
    zk_kv_accum_fn kv_accum[ZETA_TYPE_COUNT];
} zk_math;

double zk_softmax_scalar(float *x, int n, float scale, float *max_out);
const zk_math *zk_math_scalar(void);
const zk_math *zk_math_avx2(void);   /* NULL when not compiled in (not x86-64) */
const zk_math *zk_math_neon(void);   /* NULL when not compiled in (not AArch64) */
/* AVX-512 F/BW/VL/DQ + VNNI: only its own slots (softmax, kv_score of Q8_0 / Q4_0, kv_accum), laid
 * over the AVX2 set by zk_math_select() where zk_cpu_has_avx512vnni(); NULL when not x86-64 */
const zk_math *zk_math_avx512vnni(void);
const zk_math *zk_math_select(void); /* completed: every slot set */
zk_softmax_fn zk_softmax_select(void);

#endif
