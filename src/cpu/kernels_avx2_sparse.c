/* kernels_avx2_sparse.c — AVX2 + FMA + F16C version of the sparse decode kernel
 * (kernels_sparse.h): output blocks in tiles of 32 (1024 accumulators in L1), kept columns four
 * at a time, each column's tile read as one contiguous run of bytes; the next columns' runs are
 * prefetched (their addresses come from the index list, which no hardware prefetcher can guess). */
#include "cpu/kernels_sparse.h"
#include "quant.h"

#include <immintrin.h>
#include <stdbool.h>
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

/* ---------------------------------------------------------------- native Q8_0 / Q4_0 formats */

/* The thread's rows are walked in tiles of up to TROWS; per tile and input block, the kept columns
 * go four at a time (two pairs) down the whole tile, so each column is one contiguous run of bytes,
 * while the next four columns' lines are prefetched at the same offsets (their addresses come from
 * the index list, which no hardware prefetcher can guess). Integer sums per row live in an L1 array
 * until the block's epilogue y += (d * dx) * (float)isum. */
#define TROWS 4096

/* the kept columns of input block b and their inputs packed in pairs for _mm256_madd_epi16 (Q8_0:
 * two int8 inputs widened to int16) or _mm256_maddubs_epi16 (Q4_0: two int8); padded to a multiple of 4 columns with
 * column 0 and an input of 0 */
typedef struct cols4 {
    uint32_t n;                       /* columns, a multiple of 4 */
    const uint8_t *c[32];
    __m256i x[16];                    /* pair i: columns 2i, 2i + 1 */
} cols4;

static void make_cols(const zs_mat *w, const zs_sel *s, uint32_t b, cols4 *p) {
    const uint32_t k0 = s->bstart[b], k1 = s->bstart[b + 1];
    const uint8_t *cols = w->cols + (size_t)b * w->blk_bytes + 2 * (size_t)w->n_out;
    const uint32_t n = k1 - k0, n4 = (n + 3) & ~3u;
    for (uint32_t i = 0; i < n4; i += 2) {
        uint32_t xv[2];
        for (int h = 0; h < 2; h++) {
            const uint32_t k = k0 + i + (uint32_t)h;
            p->c[i + (uint32_t)h] = k < k1 ? cols + (s->idx[k] - 32 * b) * w->col_bytes : cols;
            xv[h] = k >= k1 ? 0 : w->fmt == ZS_FMT_Q8 ? (uint16_t)(int16_t)s->q8[k] : (uint8_t)s->q8[k];
        }
        p->x[i / 2] = w->fmt == ZS_FMT_Q8 ? _mm256_set1_epi32((int32_t)(xv[0] | (xv[1] << 16)))
                                          : _mm256_set1_epi16((int16_t)(uint16_t)(xv[0] | (xv[1] << 8)));
    }
    p->n = n4;
}

/* y[0 .. 8) += (d * dx) * (float)(acc - off), d the f16 row scales */
static inline void epilogue8(float *y, const uint8_t *scales, float dx, __m256i acc, __m256i off) {
    const __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)scales)), _mm256_set1_ps(dx));
    _mm256_storeu_ps(y, _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(acc, off)), _mm256_loadu_ps(y)));
}

static inline void pf(const uint8_t *p) { _mm_prefetch((const char *)p, _MM_HINT_T0); }

static void q8_avx2(const zs_mat *w, const zs_sel *s, uint32_t b0, uint32_t nb, uint32_t c0, uint32_t c1, float *y) {
    _Alignas(32) int32_t acc[TROWS];
    cols4 p[2];
    memset(y + 64 * (size_t)c0, 0, (size_t)(c1 - c0) * 64 * sizeof(float));
    for (size_t t0 = 64 * (size_t)c0; t0 < 64 * (size_t)c1; t0 += TROWS) {
        const size_t t1 = 64 * (size_t)c1 - t0 < TROWS ? 64 * (size_t)c1 : t0 + TROWS;
        uint32_t b = zk_sparse_next_block(s, b0 - 1, nb);
        if (b < nb) make_cols(w, s, b, &p[0]);
        for (int cur = 0; b < nb; cur ^= 1) {
            const uint32_t bn = zk_sparse_next_block(s, b, nb);
            if (bn < nb) make_cols(w, s, bn, &p[cur ^ 1]);
            const cols4 *P = &p[cur];
            const uint8_t *scales = w->cols + (size_t)b * w->blk_bytes;
            for (uint32_t g = 0; g < P->n; g += 4) {
                const uint8_t *A = P->c[g], *B = P->c[g + 1], *C = P->c[g + 2], *D = P->c[g + 3];
                /* prefetched meanwhile: the next four columns, or the row scales and the next block's first four */
                const uint8_t *const *nx = g + 4 < P->n ? &P->c[g + 4] : bn < nb ? p[cur ^ 1].c : NULL;
                const bool last = g + 4 >= P->n;
                const __m256i x0 = P->x[g / 2], x1 = P->x[g / 2 + 1];
                for (size_t o = t0; o < t1; o += 64) {
                    if (nx) { pf(nx[0] + o); pf(nx[1] + o); pf(nx[2] + o); pf(nx[3] + o); }
                    if (last) { pf(scales + 2 * o); pf(scales + 2 * o + 64); }
                    for (int q = 0; q < 4; q++) {
                        const size_t r = o + 16 * (size_t)q;
                        const __m256i a = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(A + r)));
                        const __m256i bb = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(B + r)));
                        const __m256i c = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(C + r)));
                        const __m256i d = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(D + r)));
                        __m256i lo = _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpacklo_epi16(a, bb), x0),
                                                      _mm256_madd_epi16(_mm256_unpacklo_epi16(c, d), x1));
                        __m256i hi = _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpackhi_epi16(a, bb), x0),
                                                      _mm256_madd_epi16(_mm256_unpackhi_epi16(c, d), x1));
                        int32_t *ac = acc + (r - t0);
                        if (g) {
                            lo = _mm256_add_epi32(lo, _mm256_load_si256((const __m256i *)ac));
                            hi = _mm256_add_epi32(hi, _mm256_load_si256((const __m256i *)(ac + 8)));
                        }
                        _mm256_store_si256((__m256i *)ac, lo);
                        _mm256_store_si256((__m256i *)(ac + 8), hi);
                    }
                }
            }
            const float dx = s->dx8[b];
            for (size_t r = t0; r < t1; r += 8)
                epilogue8(y + r, scales + 2 * r, dx, _mm256_load_si256((const __m256i *)(acc + (r - t0))), _mm256_setzero_si256());
            b = bn;
        }
    }
}

static void q4_avx2(const zs_mat *w, const zs_sel *s, uint32_t b0, uint32_t nb, uint32_t c0, uint32_t c1, float *y) {
    const __m256i m4 = _mm256_set1_epi8(15);
    _Alignas(32) int16_t acc16[TROWS];
    _Alignas(32) int32_t acc32[TROWS];
    cols4 p[2];
    memset(y + 64 * (size_t)c0, 0, (size_t)(c1 - c0) * 64 * sizeof(float));
    for (size_t t0 = 64 * (size_t)c0; t0 < 64 * (size_t)c1; t0 += TROWS) {
        const size_t t1 = 64 * (size_t)c1 - t0 < TROWS ? 64 * (size_t)c1 : t0 + TROWS;
        uint32_t b = zk_sparse_next_block(s, b0 - 1, nb);
        if (b < nb) make_cols(w, s, b, &p[0]);
        for (int cur = 0; b < nb; cur ^= 1) {
            const uint32_t bn = zk_sparse_next_block(s, b, nb);
            if (bn < nb) make_cols(w, s, bn, &p[cur ^ 1]);
            const cols4 *P = &p[cur];
            const uint8_t *scales = w->cols + (size_t)b * w->blk_bytes;
            /* int16 row sums over up to 16 columns (|sum| <= 16 * 15 * 127 = 30480); a block with
             * more moves them into the int32 array once */
            for (uint32_t g = 0; g < P->n; g += 4) {
                const uint8_t *A = P->c[g], *B = P->c[g + 1], *C = P->c[g + 2], *D = P->c[g + 3];
                const uint8_t *const *nx = g + 4 < P->n ? &P->c[g + 4] : bn < nb ? p[cur ^ 1].c : NULL;
                const bool last = g + 4 >= P->n;
                const __m256i x0 = P->x[g / 2], x1 = P->x[g / 2 + 1];
                const bool first = g % 16 == 0;
                for (size_t o = t0; o < t1; o += 64) {
                    const size_t ob = o / 2; /* byte offset in a column */
                    if (nx && (o & 64)) { pf(nx[0] + ob); pf(nx[1] + ob); pf(nx[2] + ob); pf(nx[3] + ob); }
                    if (last) { pf(scales + 2 * o); pf(scales + 2 * o + 64); }
                    const __m256i qa = _mm256_load_si256((const __m256i *)(A + ob)), qb = _mm256_load_si256((const __m256i *)(B + ob));
                    const __m256i qc = _mm256_load_si256((const __m256i *)(C + ob)), qd = _mm256_load_si256((const __m256i *)(D + ob));
                    const __m256i la = _mm256_and_si256(qa, m4), lb = _mm256_and_si256(qb, m4);
                    const __m256i lc = _mm256_and_si256(qc, m4), ld = _mm256_and_si256(qd, m4);
                    const __m256i ha = _mm256_and_si256(_mm256_srli_epi16(qa, 4), m4), hb = _mm256_and_si256(_mm256_srli_epi16(qb, 4), m4);
                    const __m256i hc = _mm256_and_si256(_mm256_srli_epi16(qc, 4), m4), hd = _mm256_and_si256(_mm256_srli_epi16(qd, 4), m4);
                    __m256i v[4];
                    v[0] = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_unpacklo_epi8(la, lb), x0), _mm256_maddubs_epi16(_mm256_unpacklo_epi8(lc, ld), x1));
                    v[1] = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_unpackhi_epi8(la, lb), x0), _mm256_maddubs_epi16(_mm256_unpackhi_epi8(lc, ld), x1));
                    v[2] = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_unpacklo_epi8(ha, hb), x0), _mm256_maddubs_epi16(_mm256_unpacklo_epi8(hc, hd), x1));
                    v[3] = _mm256_add_epi16(_mm256_maddubs_epi16(_mm256_unpackhi_epi8(ha, hb), x0), _mm256_maddubs_epi16(_mm256_unpackhi_epi8(hc, hd), x1));
                    int16_t *ac = acc16 + (o - t0);
                    for (int q = 0; q < 4; q++) {
                        __m256i t = v[q];
                        if (!first) t = _mm256_add_epi16(t, _mm256_load_si256((const __m256i *)(ac + 16 * q)));
                        _mm256_store_si256((__m256i *)(ac + 16 * q), t);
                    }
                }
                if (g + 4 < P->n && g % 16 == 12) /* sixteen columns summed: into the int32 array */
                    for (size_t r = t0; r < t1; r += 16) {
                        const __m256i h = _mm256_load_si256((const __m256i *)(acc16 + (r - t0)));
                        __m256i lo = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(h)), hi = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(h, 1));
                        if (g >= 16) {
                            lo = _mm256_add_epi32(lo, _mm256_load_si256((const __m256i *)(acc32 + (r - t0))));
                            hi = _mm256_add_epi32(hi, _mm256_load_si256((const __m256i *)(acc32 + (r - t0) + 8)));
                        }
                        _mm256_store_si256((__m256i *)(acc32 + (r - t0)), lo);
                        _mm256_store_si256((__m256i *)(acc32 + (r - t0) + 8), hi);
                    }
            }
            const float dx = s->dx8[b];
            const __m256i off = _mm256_set1_epi32(8 * s->sum8[b]);
            const bool wide = P->n > 16;
            for (size_t r = t0; r < t1; r += 16) {
                const __m256i h = _mm256_load_si256((const __m256i *)(acc16 + (r - t0)));
                __m256i lo = _mm256_cvtepi16_epi32(_mm256_castsi256_si128(h)), hi = _mm256_cvtepi16_epi32(_mm256_extracti128_si256(h, 1));
                if (wide) {
                    lo = _mm256_add_epi32(lo, _mm256_load_si256((const __m256i *)(acc32 + (r - t0))));
                    hi = _mm256_add_epi32(hi, _mm256_load_si256((const __m256i *)(acc32 + (r - t0) + 8)));
                }
                epilogue8(y + r, scales + 2 * r, dx, lo, off);
                epilogue8(y + r + 8, scales + 2 * r + 16, dx, hi, off);
            }
            b = bn;
        }
    }
}

zk_sparse_native_fn zk_sparse_q8_avx2(void) { return q8_avx2; }
zk_sparse_native_fn zk_sparse_q4_avx2(void) { return q4_avx2; }
