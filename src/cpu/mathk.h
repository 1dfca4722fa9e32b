/* mathk.h — vector math of the CPU backend's attention that has ISA-specific versions: softmax
 * over a tile of scores, y += a * x, and rows of the KV cache types (F16, Q8_0, Q4_0) to f32.
 * zk_math_select() returns the best set for this CPU; the scalar set (mathk_ref.c) is the spec. */
#ifndef ZETA_MATHK_H
#define ZETA_MATHK_H

#include <stdint.h>

/* x[i] = exp(x[i] * scale - m) for i < n, where m = max_j(x[j] * scale); returns the sum of the
 * new x[i] and, if max_out is not NULL, stores m there. */
typedef double (*zk_softmax_fn)(float *x, int n, float scale, float *max_out);
/* y[i] += a * x[i] for i < n */
typedef void (*zk_axpy_fn)(int64_t n, float a, const float *x, float *y);
/* n values of a row of the type (F16, Q8_0 or Q4_0; n a multiple of the block size) -> f32, exactly
 * as the type's dequantizer in quant.c */
typedef void (*zk_to_f32_fn)(const void *x, float *y, int64_t n);

typedef struct zk_math {
    const char *name;
    zk_softmax_fn softmax;
    zk_axpy_fn axpy;
    zk_to_f32_fn f16_to_f32, q8_0_to_f32, q4_0_to_f32;
} zk_math;

double zk_softmax_scalar(float *x, int n, float scale, float *max_out);
const zk_math *zk_math_scalar(void);
const zk_math *zk_math_avx2(void);   /* NULL when not compiled in (not x86-64) */
const zk_math *zk_math_select(void); /* completed: every slot set */
zk_softmax_fn zk_softmax_select(void);

#endif
