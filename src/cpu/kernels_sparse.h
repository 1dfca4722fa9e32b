/* kernels_sparse.h — the sparse decode kernel of variational gating: a matrix-vector product over
 * the kept inputs only, with the weights stored input-channel-major (column i = W[:, i] as Q8_0
 * blocks along the output dimension; sparse.h). kernels_scalar_sparse.c is the spec,
 * kernels_avx2_sparse.c and kernels_neon_sparse.c the SIMD versions (tested against it in
 * tests/test_sparse.c). Single-threaded
 * over an output block range; threading lives in the CPU backend. */
#ifndef ZETA_KERNELS_SPARSE_H
#define ZETA_KERNELS_SPARSE_H

#include <stddef.h>
#include <stdint.h>

/* y[32*b0 .. 32*b1) = sum over k < n of val[k] * column idx[k], for output blocks b0..b1 (column c
 * starts at cols + c * col_bytes and holds block_q8_0 blocks; block b covers outputs 32b..32b+31).
 * Only the kept columns' blocks b0..b1 are read. y points at output 0. */
typedef void (*zk_sparse_gemv_fn)(const uint8_t *cols, size_t col_bytes, const uint32_t *idx, const float *val, uint32_t n,
                                  uint32_t b0, uint32_t b1, float *y);

void zk_sparse_gemv_scalar(const uint8_t *cols, size_t col_bytes, const uint32_t *idx, const float *val, uint32_t n,
                           uint32_t b0, uint32_t b1, float *y);
/* NULL when the ISA is not compiled in */
zk_sparse_gemv_fn zk_sparse_gemv_avx2(void);
zk_sparse_gemv_fn zk_sparse_gemv_neon(void);
/* the best kernel for this CPU */
zk_sparse_gemv_fn zk_sparse_gemv_select(void);
/* its name: "avx2", "neon" or "scalar" */
const char *zk_sparse_gemv_name(void);

#endif
