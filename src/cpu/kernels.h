/* kernels.h — the CPU kernel tables. One table per ISA (kernels_scalar.c, kernels_avx2.c,
 * kernels_avxvnni.c, kernels_avx512.c, kernels_avx512vnni.c, kernels_neon.c, kernels_neondot.c),
 * each file compiled with its own flags;
 * cpu_features.c picks the best table the running CPU supports. A table fills only the slots it
 * accelerates; the selected table is completed with the scalar slots. Kernels are single-threaded
 * pure functions; threading lives in the CPU backend. Kernels never include model or gguf headers. */
#ifndef ZETA_KERNELS_H
#define ZETA_KERNELS_H

#include "../quant.h"
#include <stddef.h>
#include <stdint.h>

/* s = sum_i w[i] * x[i] over n elements. `w` is one row of weights of the slot's type; `x` is the
 * activation row already converted to zk_vec_dot_type(weight type). n is a multiple of the
 * weight type's block size. */
typedef void (*zk_vec_dot_fn)(int64_t n, float *s, const void *w, const void *x);
/* Converts n floats to the activation type (n a multiple of its block size). */
typedef void (*zk_from_float_fn)(const float *x, void *y, int64_t n);

typedef struct zk_kernels {
    const char *name;                               /* "scalar", "avx2", "avxvnni", "avx512", "avx512vnni", "neon", "neondot" */
    zk_vec_dot_fn vec_dot[ZETA_TYPE_COUNT];         /* indexed by weight type */
    zk_from_float_fn from_float[ZETA_TYPE_COUNT];   /* indexed by activation type */
} zk_kernels;

/* Activation type each weight type is multiplied with:
 *   F32, F16, BF16                       -> F32 (weights converted exactly, products in f32)
 *   Q8_0, Q4_0, Q5_0, IQ4_NL             -> Q8_0 (activations quantized per 32 like ggml, integer dots)
 *   Q4_1, Q5_1                           -> Q8_1
 *   Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS -> Q8_K
 * ZETA_TYPE_COUNT for a type without a CPU dot product. */
zeta_type zk_vec_dot_type(zeta_type weight_type);

/* The tables. A table whose ISA was not compiled in returns NULL. zk_avx2/zk_avxvnni/zk_avx512/
 * zk_avx512vnni/zk_neon/zk_neondot return the raw table (only its own slots); zk_select() returns a
 * completed copy for the running CPU. Selection order, each overlaid slot by slot on the ones before:
 * scalar < avx2 < avxvnni < avx512 < avx512vnni (x86-64), scalar < neon < neondot (AArch64). */
const zk_kernels *zk_scalar(void);
const zk_kernels *zk_avx2(void);
const zk_kernels *zk_avxvnni(void);     /* AVX2 + AVX-VNNI (VEX vpdpbusd); only the integer dots */
const zk_kernels *zk_avx512(void);
const zk_kernels *zk_avx512vnni(void);  /* AVX-512 + AVX512_VNNI; only the integer dots */
const zk_kernels *zk_neon(void);     /* AArch64 Advanced SIMD (armv8-a) */
const zk_kernels *zk_neondot(void);  /* + dot product (armv8.2-a+dotprod); only the integer dots */

/* CPU support of the ISAs. x86: cpuid + xgetbv (the OS must enable the register state). AArch64:
 * NEON is always there; dotprod from getauxval(AT_HWCAP) on Linux, sysctl on Apple. */
bool zk_cpu_has_avx2(void);        /* AVX2 + FMA + F16C */
bool zk_cpu_has_avxvnni(void);     /* AVX-VNNI (CPUID.(7,1):EAX[4]) + everything of zk_cpu_has_avx2 */
bool zk_cpu_has_avx512(void);      /* AVX-512 F, BW, VL (+DQ) */
bool zk_cpu_has_avx512vnni(void);  /* AVX512_VNNI (CPUID.(7,0):ECX[11]) + everything of zk_cpu_has_avx512 */
bool zk_cpu_has_neon(void);     /* true on every aarch64 build, false elsewhere */
bool zk_cpu_has_neondot(void);  /* FEAT_DotProd (SDOT/UDOT) */

/* The best completed table for this CPU (thread-safe, computed once). */
const zk_kernels *zk_select(void);
/* Completes `t` with scalar slots into *out (for tests that want a specific ISA). */
void zk_complete(const zk_kernels *t, zk_kernels *out);

#endif
