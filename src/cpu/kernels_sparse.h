/* kernels_sparse.h — the sparse decode kernels of variational gating: matrix-vector products over
 * the kept inputs only, with the weights stored input-channel-major (sparse.h). Two families: the
 * Q8_0 copy of any weight type (f32 activations; tested in tests/test_sparse.c) and the native
 * Q8_0 / Q4_0 formats (integer sums per input block; tests/test_sparse_q.c).
 * kernels_scalar_sparse.c is the spec, kernels_avx2_sparse.c and kernels_neon_sparse.c the SIMD
 * versions (and kernels_avx512_sparse.c for the copy, kernels_avx512vnni_sparse.c for the native formats). Single-threaded over an output range; threading lives in the CPU backend. */
#ifndef ZETA_KERNELS_SPARSE_H
#define ZETA_KERNELS_SPARSE_H

#include "sparse.h"

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
zk_sparse_gemv_fn zk_sparse_gemv_avx512(void); /* the same bits as the AVX2 kernel; selected where zk_cpu_has_avx512() */
zk_sparse_gemv_fn zk_sparse_gemv_neon(void);
/* the best kernel for this CPU */
zk_sparse_gemv_fn zk_sparse_gemv_select(void);
/* its name: "avx512", "avx2", "neon" or "scalar" */
const char *zk_sparse_gemv_name(void);

/* The native formats (ZS_FMT_Q8 / ZS_FMT_Q4, sparse.h): y[o] for rows 64 c0 .. 64 c1 (y points at
 * row 0) = sum over the input blocks b0 <= b < b1, in order, of s * (float)isum with s = d[o] *
 * dx8[b] (f32 product: the model's row scale times the block's input scale) and isum the exact
 * integer sum over the block's kept inputs k of q8(k) * code(o, k) (Q8_0: the signed code; Q4_0:
 * the nibble, then minus 8 * sum8 once): the dense path's own block sums with the dropped inputs
 * zeroed. Each step is one fused multiply-add into y (starting from 0), so every version gives the
 * same bits. sel must be blocked. */
typedef void (*zk_sparse_native_fn)(const zs_mat *w, const zs_sel *sel, uint32_t b0, uint32_t b1, uint32_t c0, uint32_t c1,
                                    float *y);
void zk_sparse_q8_scalar(const zs_mat *w, const zs_sel *sel, uint32_t b0, uint32_t b1, uint32_t c0, uint32_t c1, float *y);
void zk_sparse_q4_scalar(const zs_mat *w, const zs_sel *sel, uint32_t b0, uint32_t b1, uint32_t c0, uint32_t c1, float *y);
/* for the SIMD versions: the next input block after b with kept inputs, below nb (nb when none;
 * b = b0 - 1 gives the first from b0) */
static inline uint32_t zk_sparse_next_block(const zs_sel *s, uint32_t b, uint32_t nb) {
    for (b++; b < nb; b++)
        if (s->bstart[b + 1] > s->bstart[b]) return b;
    return nb;
}
/* NULL when the ISA is not compiled in */
zk_sparse_native_fn zk_sparse_q8_avx2(void);
zk_sparse_native_fn zk_sparse_q4_avx2(void);
zk_sparse_native_fn zk_sparse_q8_neon(void);
zk_sparse_native_fn zk_sparse_q4_neon(void);
zk_sparse_native_fn zk_sparse_q8_avx512vnni(void); /* selected over AVX2 where zk_cpu_has_avx512vnni() */
zk_sparse_native_fn zk_sparse_q4_avx512vnni(void);
/* the best for this CPU (scalar where no SIMD version exists) */
zk_sparse_native_fn zk_sparse_q8_select(void);
zk_sparse_native_fn zk_sparse_q4_select(void);

/* the block rounding of a selection (the q8 / dx8 / sum8 / bstart fields of zs_sel), from its
 * idx and val; sets sel->blocked when n_in is a multiple of 32 */
void zk_sparse_round_blocks(zs_sel *sel);

#endif
