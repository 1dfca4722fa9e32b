/* gemm_f.h — matrix products over F32 / F16 / BF16 weights as stored (row-major, no repacking)
 * against f32 activation rows, for prompt processing: many (row, token) dot products computed in
 * register tiles so each loaded weight vector serves several tokens and each activation vector
 * several rows. Weights are converted exactly to f32 and multiplied in f32, as the vec_dot slots
 * of kernels.h do; results equal the row-by-row vec_dot up to float summation order. The scalar
 * table (gemm_f_ref.c) is the spec; per (row, token) it computes exactly the scalar vec_dot. */
#ifndef ZETA_GEMM_F_H
#define ZETA_GEMM_F_H

#include "../quant.h"
#include <stddef.h>
#include <stdint.h>

/* For r < n_rows, t < n_tok:
 *   y[t * y_stride + r] = sum_{i < k} W_r[i] * x[t * x_stride + i]
 * where W_r is the row of k weights (of the slot's type) starting at (const uint8_t *)w +
 * r * w_stride. Units: w_stride in BYTES, x_stride and y_stride in FLOATS. Any k >= 0, n_rows >= 0,
 * n_tok >= 0 (tails are handled inside). Only the n_rows x n_tok outputs are written. The function
 * blocks rows and tokens for the caches itself, so callers may pass a whole thread's row range and
 * all tokens at once. Single-threaded, pure. */
typedef void (*zk_gemm_rows_fn)(int64_t k, const void *w, size_t w_stride, int n_rows, const float *x, size_t x_stride,
                                int n_tok, float *y, size_t y_stride);

typedef struct zk_gemmf_table {
    const char *name;                          /* "scalar", "avx2" */
    zk_gemm_rows_fn gemm[ZETA_TYPE_COUNT];     /* by weight type: F32, F16, BF16 */
} zk_gemmf_table;

const zk_gemmf_table *zk_gemmf_scalar(void);
const zk_gemmf_table *zk_gemmf_avx2(void);   /* raw table; NULL when not compiled in (non-x86) */
/* the SIMD table for this CPU (thread-safe, computed once); NULL slots where it has none */
const zk_gemmf_table *zk_gemmf_select(void);

#endif
