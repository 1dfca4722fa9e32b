/* kernels_avx2_sparse.c — AVX2 + FMA + F16C version of the sparse decode kernel
 * (kernels_sparse.h): output blocks in tiles of 32 (1024 accumulators in L1), kept columns four
 * at a time, each column's tile read as one contiguous run of bytes; the next columns' runs are
 * prefetched (their addresses come from the index list, which no hardware prefetcher can guess). */
#include "cpu/kernels_sparse.h"
#include "quant.h"

#include <immintrin.h>
#include <string.h>

#define TILE 32

static inline __m256 cvt8(const int8_t *q) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)q))); }

/* every cache line of [p, p + bytes) */
static inline void prefetch_run(const uint8_t *p, size_t bytes) {
    const uintptr_t end = (uintptr_t)p + bytes;
    for (uintptr_t a = (uintptr_t)p & ~(uintptr_t)63; a < end; a += 64) _mm_prefetch((const char *)a, _MM_HINT_T0);
}

#define AHEAD 8 /* columns prefetched ahead of the four being multiplied */

static void gemv_avx2(const uint8_t *cols, size_t col_bytes, const uint32_t *idx, const float *val, uint32_t n, uint32_t b0,
                      uint32_t b1, float *y) {
    _Alignas(32) float acc[TILE * QK8_0];
    for (uint32_t bt = b0; bt < b1; bt += TILE) {
        const uint32_t nb = b1 - bt < TILE ? b1 - bt : TILE;
        const size_t run = (size_t)nb * sizeof(block_q8_0);
        memset(acc, 0, (size_t)nb * QK8_0 * sizeof(float));
        for (uint32_t p = 0; p < AHEAD && p < n; p++) prefetch_run(cols + (size_t)idx[p] * col_bytes + (size_t)bt * sizeof(block_q8_0), run);
        uint32_t k = 0;
        for (; k + 4 <= n; k += 4) {
            const block_q8_0 *c0 = (const block_q8_0 *)(cols + (size_t)idx[k] * col_bytes) + bt;
            const block_q8_0 *c1 = (const block_q8_0 *)(cols + (size_t)idx[k + 1] * col_bytes) + bt;
            const block_q8_0 *c2 = (const block_q8_0 *)(cols + (size_t)idx[k + 2] * col_bytes) + bt;
            const block_q8_0 *c3 = (const block_q8_0 *)(cols + (size_t)idx[k + 3] * col_bytes) + bt;
            for (uint32_t p = k + AHEAD; p < k + AHEAD + 4 && p < n; p++)
                prefetch_run(cols + (size_t)idx[p] * col_bytes + (size_t)bt * sizeof(block_q8_0), run);
            for (uint32_t j = 0; j < nb; j++) {
                const __m256 s0 = _mm256_set1_ps(val[k] * _cvtsh_ss(c0[j].d));
                const __m256 s1 = _mm256_set1_ps(val[k + 1] * _cvtsh_ss(c1[j].d));
                const __m256 s2 = _mm256_set1_ps(val[k + 2] * _cvtsh_ss(c2[j].d));
                const __m256 s3 = _mm256_set1_ps(val[k + 3] * _cvtsh_ss(c3[j].d));
                float *a = acc + (size_t)j * QK8_0;
                for (int u = 0; u < 4; u++) {
                    __m256 v = _mm256_load_ps(a + 8 * u);
                    v = _mm256_fmadd_ps(s0, cvt8(c0[j].qs + 8 * u), v);
                    v = _mm256_fmadd_ps(s1, cvt8(c1[j].qs + 8 * u), v);
                    v = _mm256_fmadd_ps(s2, cvt8(c2[j].qs + 8 * u), v);
                    v = _mm256_fmadd_ps(s3, cvt8(c3[j].qs + 8 * u), v);
                    _mm256_store_ps(a + 8 * u, v);
                }
            }
        }
        for (; k < n; k++) {
            const block_q8_0 *c0 = (const block_q8_0 *)(cols + (size_t)idx[k] * col_bytes) + bt;
            for (uint32_t j = 0; j < nb; j++) {
                const __m256 s0 = _mm256_set1_ps(val[k] * _cvtsh_ss(c0[j].d));
                float *a = acc + (size_t)j * QK8_0;
                for (int u = 0; u < 4; u++)
                    _mm256_store_ps(a + 8 * u, _mm256_fmadd_ps(s0, cvt8(c0[j].qs + 8 * u), _mm256_load_ps(a + 8 * u)));
            }
        }
        memcpy(y + (size_t)bt * QK8_0, acc, (size_t)nb * QK8_0 * sizeof(float));
    }
}

zk_sparse_gemv_fn zk_sparse_gemv_avx2(void) { return gemv_avx2; }
