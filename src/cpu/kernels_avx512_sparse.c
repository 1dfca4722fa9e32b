/* kernels_avx512_sparse.c — AVX-512 version of the sparse decode kernel of the Q8_0 copy
 * (kernels_sparse.h; the copy holds every weight type but the native Q8_0 / Q4_0 ones). The same
 * walk as the AVX2 kernel (kernels_avx2_sparse.c): output blocks in tiles of 32 (1024 accumulators
 * in L1), each kept column's tile read as one contiguous run, the runs AHEAD columns on prefetched;
 * but eight columns a pass instead of four, 16 outputs a register, so a block's 32 accumulators
 * are loaded and stored once per eight columns. Per output the columns are added in index order,
 * one fused multiply-add each (acc = fma(val * d, code, acc)), as in the AVX2 kernel: the two give
 * the same bits. Compiled with FLAGS_avx512; selected where zk_cpu_has_avx512(). */
#include "cpu/kernels_sparse.h"
#include "quant.h"

#include <immintrin.h>
#include <string.h>

#define TILE 32  /* output blocks per tile */
#define AHEAD 16 /* columns prefetched ahead of the eight being multiplied */

/* 16 codes to f32 */
static inline __m512 cvt16(const int8_t *q) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)q))); }

/* every cache line of [p, p + bytes) */
static inline void prefetch_run(const uint8_t *p, size_t bytes) {
    const uintptr_t end = (uintptr_t)p + bytes;
    for (uintptr_t a = (uintptr_t)p & ~(uintptr_t)63; a < end; a += 64) _mm_prefetch((const char *)a, _MM_HINT_T0);
}

/* acc[32 j .. 32 j + 32) += val[k] * column k's block j, for the m (1..8) columns c[0..m), in order */
static inline __attribute__((always_inline)) void add_columns(int m, const block_q8_0 *const *c, const float *val, uint32_t nb,
                                                              float *acc) {
    for (uint32_t j = 0; j < nb; j++) {
        float *a = acc + (size_t)j * QK8_0;
        __m512 lo = _mm512_load_ps(a), hi = _mm512_load_ps(a + 16);
#pragma GCC unroll 8
        for (int h = 0; h < m; h++) {
            const __m512 s = _mm512_set1_ps(val[h] * _cvtsh_ss(c[h][j].d));
            lo = _mm512_fmadd_ps(s, cvt16(c[h][j].qs), lo);
            hi = _mm512_fmadd_ps(s, cvt16(c[h][j].qs + 16), hi);
        }
        _mm512_store_ps(a, lo);
        _mm512_store_ps(a + 16, hi);
    }
}

static void gemv_avx512(const uint8_t *cols, size_t col_bytes, const uint32_t *idx, const float *val, uint32_t n, uint32_t b0,
                        uint32_t b1, float *y) {
    _Alignas(64) float acc[TILE * QK8_0];
    for (uint32_t bt = b0; bt < b1; bt += TILE) {
        const uint32_t nb = b1 - bt < TILE ? b1 - bt : TILE;
        const size_t run = (size_t)nb * sizeof(block_q8_0), off = (size_t)bt * sizeof(block_q8_0);
        memset(acc, 0, (size_t)nb * QK8_0 * sizeof(float));
        for (uint32_t p = 0; p < AHEAD && p < n; p++) prefetch_run(cols + (size_t)idx[p] * col_bytes + off, run);
        uint32_t k = 0;
        const block_q8_0 *c[8];
        for (; k + 8 <= n; k += 8) {
            for (int h = 0; h < 8; h++) c[h] = (const block_q8_0 *)(cols + (size_t)idx[k + h] * col_bytes) + bt;
            for (uint32_t p = k + AHEAD; p < k + AHEAD + 8 && p < n; p++) prefetch_run(cols + (size_t)idx[p] * col_bytes + off, run);
            add_columns(8, c, val + k, nb, acc);
        }
        if (k < n) { /* the last 1..7 columns */
            const int m = (int)(n - k);
            for (int h = 0; h < m; h++) c[h] = (const block_q8_0 *)(cols + (size_t)idx[k + h] * col_bytes) + bt;
            switch (m) {
            case 1: add_columns(1, c, val + k, nb, acc); break;
            case 2: add_columns(2, c, val + k, nb, acc); break;
            case 3: add_columns(3, c, val + k, nb, acc); break;
            case 4: add_columns(4, c, val + k, nb, acc); break;
            case 5: add_columns(5, c, val + k, nb, acc); break;
            case 6: add_columns(6, c, val + k, nb, acc); break;
            default: add_columns(7, c, val + k, nb, acc); break;
            }
        }
        memcpy(y + (size_t)bt * QK8_0, acc, (size_t)nb * QK8_0 * sizeof(float));
    }
}

zk_sparse_gemv_fn zk_sparse_gemv_avx512(void) { return gemv_avx512; }
