/* kernels_avx2_math.c — the AVX2+FMA set of mathk.h: softmax over a tile (max, exp by a
 * Cephes-style polynomial after range reduction by ln 2, relative error ~2 ulp, sum), y += a x,
 * SwiGLU (the same exp),
 * F16 / Q8_0 / Q4_0 rows to f32 (exact, as the scalar dequantizers), and the fused decode-attention
 * kernels:
 *   kv_score  8 K rows at a time per query head, one horizontal reduction for the 8. Q8_0 / Q4_0:
 *             per 32-block the products are summed exactly in int32 (maddubs takes |k| as its
 *             unsigned operand and q * sign(k) as the signed one; our quantizer never makes a
 *             query code -128), then scaled by d_k * d_q and the blocks added in order, as the
 *             scalar vec_dot does: bit-identical scores. F32 / F16: f32 FMAs, another sum order.
 *   kv_accum  the V tile decoded once into f32 (exactly), then per 4 query heads x 16 columns the
 *             accumulators stay in registers over the tile's rows: acc = fma(s, v, acc) per row in
 *             order, the same rounding as axpy below.
 * Compiled with -mavx2 -mfma -mf16c. */
#include "cpu/mathk.h"
#include "quant.h"

#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

static inline __m256 exp256(__m256 x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f)), _mm256_set1_ps(-87.3365447504f));
    __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

static double softmax_avx2(float *x, int n, float scale, float *max_io) {
    const __m256 vs = _mm256_set1_ps(scale);
    __m256 vm = _mm256_set1_ps(max_io ? *max_io : -INFINITY);
    int i = 0;
    for (; i + 8 <= n; i += 8) vm = _mm256_max_ps(vm, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    float m[8];
    _mm256_storeu_ps(m, vm);
    float mx = m[0];
    for (int j = 1; j < 8; j++) if (m[j] > mx) mx = m[j];
    for (int j = i; j < n; j++) if (x[j] * scale > mx) mx = x[j] * scale;
    const __m256 vmx = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp256(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), vs, vmx));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float a[8];
    _mm256_storeu_ps(a, acc);
    double sum = 0.0;
    for (int j = 0; j < 8; j++) sum += (double)a[j];
    for (; i < n; i++) {
        x[i] = expf(x[i] * scale - mx);
        sum += (double)x[i];
    }
    if (max_io) *max_io = mx;
    return sum;
}

static void axpy_avx2(int64_t n, float a, const float *x, float *y) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
        _mm256_storeu_ps(y + i + 8, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8)));
    }
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++) y[i] += a * x[i];
}

/* exp256 as the exp (within a few ulp of expf), then the division and product as the scalar
 * version; the last n % 8 elements go through the same vector code, so an element's result does
 * not depend on where a call's range starts or ends */
static inline __m256 swiglu8(__m256 g, __m256 u) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

static void swiglu_avx2(int64_t n, const float *gate, const float *up, float *out) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, swiglu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) {
        float g[8] = {0}, u[8] = {0}, o[8];
        memcpy(g, gate + i, sizeof(float) * (size_t)(n - i));
        memcpy(u, up + i, sizeof(float) * (size_t)(n - i));
        _mm256_storeu_ps(o, swiglu8(_mm256_loadu_ps(g), _mm256_loadu_ps(u)));
        memcpy(out + i, o, sizeof(float) * (size_t)(n - i));
    }
}

static void f16_to_f32_avx2(const void *x, float *y, int64_t n) {
    const zeta_f16 *h = x;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
    for (; i < n; i++) y[i] = zeta_f16_to_f32(h[i]);
}

/* f16 scale -> f32 exactly (F16C), in all lanes */
static inline __m256 scale8(zeta_f16 d) { return _mm256_cvtph_ps(_mm_set1_epi16((short)d)); }

static inline __attribute__((always_inline)) void q8_0_to_f32_inl(const void *x, float *y, int64_t n) {
    const block_q8_0 *b = x;
    for (int64_t i = 0; i < n / QK8_0; i++, y += QK8_0) {
        const __m256 d = scale8(b[i].d);
        for (int j = 0; j < 4; j++) {
            const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b[i].qs + 8 * j)));
            _mm256_storeu_ps(y + 8 * j, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
        }
    }
}

static inline __attribute__((always_inline)) void q4_0_to_f32_inl(const void *x, float *y, int64_t n) {
    const block_q4_0 *b = x;
    const __m128i lowmask = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    for (int64_t i = 0; i < n / QK4_0; i++, y += QK4_0) {
        const __m256 d = scale8(b[i].d);
        const __m128i raw = _mm_loadu_si128((const __m128i *)b[i].qs);
        const __m128i lo = _mm_sub_epi8(_mm_and_si128(raw, lowmask), eight);                  /* elements 0..15 */
        const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), lowmask), eight); /* 16..31 */
        _mm256_storeu_ps(y + 0, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), d));
        _mm256_storeu_ps(y + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), d));
        _mm256_storeu_ps(y + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), d));
        _mm256_storeu_ps(y + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), d));
    }
}

static void q8_0_to_f32_avx2(const void *x, float *y, int64_t n) { q8_0_to_f32_inl(x, y, n); }
static void q4_0_to_f32_avx2(const void *x, float *y, int64_t n) { q4_0_to_f32_inl(x, y, n); }

/* ---- fused decode attention: scores ------------------------------------------------------------ */

/* lane r = the sum of the 8 lanes of p[r] (exact for int32); unpacks and adds rather than hadd,
 * which is several uops on AMD cores */
static inline __m256i hsum8x8_epi32(const __m256i p[8]) {
    const __m256i s01 = _mm256_add_epi32(_mm256_unpacklo_epi32(p[0], p[1]), _mm256_unpackhi_epi32(p[0], p[1]));
    const __m256i s23 = _mm256_add_epi32(_mm256_unpacklo_epi32(p[2], p[3]), _mm256_unpackhi_epi32(p[2], p[3]));
    const __m256i s45 = _mm256_add_epi32(_mm256_unpacklo_epi32(p[4], p[5]), _mm256_unpackhi_epi32(p[4], p[5]));
    const __m256i s67 = _mm256_add_epi32(_mm256_unpacklo_epi32(p[6], p[7]), _mm256_unpackhi_epi32(p[6], p[7]));
    /* s01 lanes (per 128-bit half): p0 p1 p0 p1 */
    const __m256i t0 = _mm256_add_epi32(_mm256_unpacklo_epi64(s01, s23), _mm256_unpackhi_epi64(s01, s23)); /* p0..p3 per half */
    const __m256i t1 = _mm256_add_epi32(_mm256_unpacklo_epi64(s45, s67), _mm256_unpackhi_epi64(s45, s67)); /* p4..p7 per half */
    return _mm256_add_epi32(_mm256_permute2x128_si256(t0, t1, 0x20), _mm256_permute2x128_si256(t0, t1, 0x31));
}

static inline __m256 hsum8x8_ps(const __m256 p[8]) {
    const __m256 a01 = _mm256_hadd_ps(p[0], p[1]), a23 = _mm256_hadd_ps(p[2], p[3]);
    const __m256 a45 = _mm256_hadd_ps(p[4], p[5]), a67 = _mm256_hadd_ps(p[6], p[7]);
    const __m256 b0 = _mm256_hadd_ps(a01, a23), b1 = _mm256_hadd_ps(a45, a67);
    return _mm256_add_ps(_mm256_permute2f128_ps(b0, b1, 0x20), _mm256_permute2f128_ps(b0, b1, 0x31));
}

/* the first m of 8 lanes */
static inline __m256i lane_mask(int m) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* s[0..m) = (first ? 0 : s[0..m)) + x */
static inline void add_store(float *s, __m256 x, bool first, int m, __m256i mask) {
    if (m == 8) {
        _mm256_storeu_ps(s, _mm256_add_ps(first ? _mm256_setzero_ps() : _mm256_loadu_ps(s), x));
    } else {
        const __m256 prev = first ? _mm256_setzero_ps() : _mm256_maskload_ps(s, mask);
        _mm256_maskstore_ps(s, mask, _mm256_add_ps(prev, x));
    }
}

static inline uint16_t load_u16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* the f16 scales at rows[r] + off -> f32 lanes r, assembled in registers (eight 2-byte stores read
 * back as one vector would stall store-to-load forwarding) */
static inline __m256 scales8(const uint8_t *const rows[8], size_t off) {
    __m128i h = _mm_cvtsi32_si128(load_u16(rows[0] + off));
    h = _mm_insert_epi16(h, load_u16(rows[1] + off), 1);
    h = _mm_insert_epi16(h, load_u16(rows[2] + off), 2);
    h = _mm_insert_epi16(h, load_u16(rows[3] + off), 3);
    h = _mm_insert_epi16(h, load_u16(rows[4] + off), 4);
    h = _mm_insert_epi16(h, load_u16(rows[5] + off), 5);
    h = _mm_insert_epi16(h, load_u16(rows[6] + off), 6);
    h = _mm_insert_epi16(h, load_u16(rows[7] + off), 7);
    return _mm256_cvtph_ps(h);
}

/* Block ib of 8 K rows (signed codes kc[r], magnitudes ka[r], scales dk) against block ib of every
 * query: s_g[r] (+)= (float)sumi * (d_k * d_q). */
static inline void score_block8(const int8_t *const kc[8], const uint8_t ka[8][32], __m256 dk, int group, const uint8_t *q,
                                size_t qs, int ib, float *s, size_t ss, int m, bool first) {
    const __m256i ones = _mm256_set1_epi16(1), mask = lane_mask(m);
    for (int g = 0; g < group; g++) {
        const block_q8_0 *qb = (const block_q8_0 *)(q + (size_t)g * qs) + ib;
        const __m256i qv = _mm256_loadu_si256((const __m256i *)qb->qs);
        __m256i p[8];
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            const __m256i sq = _mm256_sign_epi8(qv, _mm256_loadu_si256((const __m256i *)kc[r]));
            p[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_load_si256((const __m256i *)ka[r]), sq), ones);
        }
        const __m256 sc = _mm256_mul_ps(dk, _mm256_cvtph_ps(_mm_set1_epi16((short)qb->d)));
        add_store(s + (size_t)g * ss, _mm256_mul_ps(_mm256_cvtepi32_ps(hsum8x8_epi32(p)), sc), first, m, mask);
    }
}

/* rows ahead that score_q prefetches, within its tile (8, 16 and 32 measured alike) */
#define KV_PF_ROWS 8
/* the cache lines of n_rows rows of row_bytes, stride ks, from p */
static inline void prefetch_rows(const uint8_t *p, int n_rows, size_t ks, size_t row_bytes) {
    for (int r = 0; r < n_rows; r++, p += ks)
        for (size_t o = 0; o < row_bytes + 63; o += 64) _mm_prefetch((const char *)p + (o < row_bytes ? o : row_bytes - 1), _MM_HINT_T0);
}

static inline __attribute__((always_inline)) void score_q(bool q4, int d, int n, const void *k, size_t ks, int group,
                                                          const void *q, size_t qs, float *s, size_t ss) {
    const int nb = d / 32;
    const size_t bb = q4 ? sizeof(block_q4_0) : sizeof(block_q8_0), row_bytes = (size_t)nb * bb;
    _Alignas(32) int8_t codes[8][32];
    _Alignas(32) uint8_t ka[8][32];
    const __m128i lowmask = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    for (int i0 = 0; i0 < n; i0 += 8) {
        const int m = n - i0 < 8 ? n - i0 : 8;
        const uint8_t *rows[8];
        for (int r = 0; r < 8; r++) rows[r] = (const uint8_t *)k + (size_t)(i0 + (r < m ? r : m - 1)) * ks;
        if (i0 + KV_PF_ROWS < n) prefetch_rows((const uint8_t *)k + (size_t)(i0 + KV_PF_ROWS) * ks, n - i0 - KV_PF_ROWS < 8 ? n - i0 - KV_PF_ROWS : 8, ks, row_bytes);
        for (int ib = 0; ib < nb; ib++) {
            const int8_t *kc[8];
            for (int r = 0; r < 8; r++) {
                __m256i c;
                if (q4) {
                    const block_q4_0 *b = (const block_q4_0 *)rows[r] + ib;
                    const __m128i raw = _mm_loadu_si128((const __m128i *)b->qs);
                    const __m128i lo = _mm_sub_epi8(_mm_and_si128(raw, lowmask), eight);                  /* elements 0..15 */
                    const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(raw, 4), lowmask), eight); /* 16..31 */
                    c = _mm256_set_m128i(hi, lo);
                    _mm256_store_si256((__m256i *)codes[r], c);
                    kc[r] = codes[r];
                } else {
                    const block_q8_0 *b = (const block_q8_0 *)rows[r] + ib;
                    c = _mm256_loadu_si256((const __m256i *)b->qs);
                    kc[r] = b->qs;
                }
                _mm256_store_si256((__m256i *)ka[r], _mm256_abs_epi8(c)); /* -128 -> 128 as unsigned */
            }
            const __m256 dk = scales8(rows, (size_t)ib * bb); /* d is each block's first member */
            score_block8(kc, (const uint8_t(*)[32])ka, dk, group, q, qs, ib, s + i0, ss, m, ib == 0);
        }
    }
}

static void kv_score_q8_0_avx2(int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s, size_t ss) {
    score_q(false, d, n, k, ks, group, q, qs, s, ss);
}
static void kv_score_q4_0_avx2(int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s, size_t ss) {
    score_q(true, d, n, k, ks, group, q, qs, s, ss);
}

static inline __m256 load8(bool f16, const uint8_t *row, int j) {
    if (f16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const zeta_f16 *)row + j)));
    return _mm256_loadu_ps((const float *)row + j);
}

static inline __attribute__((always_inline)) void score_f(bool f16, int d, int n, const void *k, size_t ks, int group,
                                                          const void *q, size_t qs, float *s, size_t ss) {
    const int d8 = d & ~7;
    for (int i0 = 0; i0 < n; i0 += 8) {
        const int m = n - i0 < 8 ? n - i0 : 8;
        const __m256i mask = lane_mask(m);
        const uint8_t *rows[8];
        for (int r = 0; r < 8; r++) rows[r] = (const uint8_t *)k + (size_t)(i0 + (r < m ? r : m - 1)) * ks;
        for (int g = 0; g < group; g++) {
            const float *qg = (const float *)((const uint8_t *)q + (size_t)g * qs);
            __m256 p[8];
#pragma GCC unroll 8
            for (int r = 0; r < 8; r++) p[r] = _mm256_setzero_ps();
            for (int j = 0; j < d8; j += 8) {
                const __m256 qv = _mm256_loadu_ps(qg + j);
#pragma GCC unroll 8
                for (int r = 0; r < 8; r++) p[r] = _mm256_fmadd_ps(load8(f16, rows[r], j), qv, p[r]);
            }
            __m256 x = hsum8x8_ps(p);
            if (d8 < d) { /* the last d % 8 elements */
                float t[8];
                for (int r = 0; r < 8; r++) {
                    float sum = 0.0f;
                    for (int j = d8; j < d; j++)
                        sum += (f16 ? zeta_f16_to_f32(((const zeta_f16 *)rows[r])[j]) : ((const float *)rows[r])[j]) * qg[j];
                    t[r] = sum;
                }
                x = _mm256_add_ps(x, _mm256_loadu_ps(t));
            }
            add_store(s + (size_t)g * ss + i0, x, true, m, mask);
        }
    }
}

static void kv_score_f32_avx2(int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s, size_t ss) {
    score_f(false, d, n, k, ks, group, q, qs, s, ss);
}
static void kv_score_f16_avx2(int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s, size_t ss) {
    score_f(true, d, n, k, ks, group, q, qs, s, ss);
}

/* ---- fused decode attention: V ------------------------------------------------------------------ */

/* acc_g[0..w) += sum_i s_g[i] * row_i[0..w) for G query heads (g0..g0+G-1), rows of w floats
 * rs floats apart; per element the rows are added in order i = 0..n-1 */
static inline __attribute__((always_inline)) void accum_heads(const int G, int w, int n, const float *rows, size_t rs,
                                                              const float *s, size_t ss, float *acc, size_t as) {
    int j = 0;
    for (; j + 16 <= w; j += 16) {
        __m256 a[4][2];
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) {
            a[g][0] = _mm256_loadu_ps(acc + (size_t)g * as + j);
            a[g][1] = _mm256_loadu_ps(acc + (size_t)g * as + j + 8);
        }
        for (int i = 0; i < n; i++) {
            const __m256 v0 = _mm256_loadu_ps(rows + (size_t)i * rs + j), v1 = _mm256_loadu_ps(rows + (size_t)i * rs + j + 8);
#pragma GCC unroll 4
            for (int g = 0; g < G; g++) {
                const __m256 wv = _mm256_broadcast_ss(s + (size_t)g * ss + i);
                a[g][0] = _mm256_fmadd_ps(wv, v0, a[g][0]);
                a[g][1] = _mm256_fmadd_ps(wv, v1, a[g][1]);
            }
        }
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) {
            _mm256_storeu_ps(acc + (size_t)g * as + j, a[g][0]);
            _mm256_storeu_ps(acc + (size_t)g * as + j + 8, a[g][1]);
        }
    }
    for (; j + 8 <= w; j += 8) {
        __m256 a[4];
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) a[g] = _mm256_loadu_ps(acc + (size_t)g * as + j);
        for (int i = 0; i < n; i++) {
            const __m256 v0 = _mm256_loadu_ps(rows + (size_t)i * rs + j);
#pragma GCC unroll 4
            for (int g = 0; g < G; g++) a[g] = _mm256_fmadd_ps(_mm256_broadcast_ss(s + (size_t)g * ss + i), v0, a[g]);
        }
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) _mm256_storeu_ps(acc + (size_t)g * as + j, a[g]);
    }
    for (; j < w; j++) /* as axpy's tail: a rounded product added */
        for (int g = 0; g < G; g++) {
            float y = acc[(size_t)g * as + j];
            for (int i = 0; i < n; i++) y += s[(size_t)g * ss + i] * rows[(size_t)i * rs + j];
            acc[(size_t)g * as + j] = y;
        }
}

static void accum_panel(int w, int n, const float *rows, size_t rs, int group, const float *s, size_t ss, float *acc, size_t as) {
    int g = 0;
    for (; g + 4 <= group; g += 4) accum_heads(4, w, n, rows, rs, s + (size_t)g * ss, ss, acc + (size_t)g * as, as);
    switch (group - g) {
    case 3: accum_heads(3, w, n, rows, rs, s + (size_t)g * ss, ss, acc + (size_t)g * as, as); break;
    case 2: accum_heads(2, w, n, rows, rs, s + (size_t)g * ss, ss, acc + (size_t)g * as, as); break;
    case 1: accum_heads(1, w, n, rows, rs, s + (size_t)g * ss, ss, acc + (size_t)g * as, as); break;
    default: break;
    }
}

enum { KV_PANEL = 256, KV_BUF = 4096 }; /* columns per panel; floats of decoded V (16 KiB) */

/* Block types and F16: panels of up to 256 columns, rows decoded into a 16 KiB buffer (at least 16
 * rows at a time), then added from there. F32 rows are read in place. */
static void kv_accum_avx2(zeta_type t, int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    if (t == ZETA_TYPE_F32) {
        accum_panel(d, n, v, vs / sizeof(float), group, s, ss, acc, (size_t)d);
        return;
    }
    _Alignas(32) float buf[KV_BUF];
    for (int j0 = 0; j0 < d; j0 += KV_PANEL) {
        const int w = d - j0 < KV_PANEL ? d - j0 : KV_PANEL, R = KV_BUF / w;
        for (int i0 = 0; i0 < n; i0 += R) {
            const int nr = n - i0 < R ? n - i0 : R;
            for (int r = 0; r < nr; r++) {
                const uint8_t *vr = (const uint8_t *)v + (size_t)(i0 + r) * vs;
                float *y = buf + (size_t)r * w;
                switch (t) {
                case ZETA_TYPE_F16: f16_to_f32_avx2((const zeta_f16 *)vr + j0, y, w); break;
                case ZETA_TYPE_Q8_0: q8_0_to_f32_inl((const block_q8_0 *)vr + j0 / QK8_0, y, w); break;
                default: q4_0_to_f32_inl((const block_q4_0 *)vr + j0 / QK4_0, y, w); break;
                }
            }
            accum_panel(w, nr, buf, (size_t)w, group, s + i0, ss, acc + j0, (size_t)d);
        }
    }
}

static void kv_accum_f32_avx2(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    kv_accum_avx2(ZETA_TYPE_F32, d, n, v, vs, group, s, ss, acc);
}
static void kv_accum_f16_avx2(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    kv_accum_avx2(ZETA_TYPE_F16, d, n, v, vs, group, s, ss, acc);
}
static void kv_accum_q8_0_avx2(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    kv_accum_avx2(ZETA_TYPE_Q8_0, d, n, v, vs, group, s, ss, acc);
}
static void kv_accum_q4_0_avx2(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    kv_accum_avx2(ZETA_TYPE_Q4_0, d, n, v, vs, group, s, ss, acc);
}

/* the entropy's terms (mathk.h), eight lanes in one vector: the scalar version's operations */
static void entropy8_avx2(const float *l8, int32_t n8, float max_l, float *ls, float *lsd) {
    const __m256 mx = _mm256_set1_ps(max_l), lo = _mm256_set1_ps(-87.0f), inf = _mm256_set1_ps(INFINITY);
    const __m256 big = _mm256_set1_ps(FLT_MAX), rnd = _mm256_set1_ps(ZK_ENT_ROUND);
    __m256 s = _mm256_loadu_ps(ls), sd = _mm256_loadu_ps(lsd);
    for (int32_t g = 0; g < n8; g++) {
        __m256 l = _mm256_loadu_ps(l8 + 8 * (size_t)g);
        l = _mm256_blendv_ps(l, big, _mm256_cmp_ps(l, inf, _CMP_EQ_OQ));
        const __m256 d0 = _mm256_sub_ps(l, mx);
        const __m256 keep = _mm256_cmp_ps(d0, lo, _CMP_GT_OQ); /* false for NaN too */
        const __m256 d = _mm256_blendv_ps(lo, d0, keep);
        const __m256 t = _mm256_mul_ps(d, _mm256_set1_ps(1.44269504f));
        const __m256 k = _mm256_sub_ps(_mm256_add_ps(t, rnd), rnd);
        const __m256 f = _mm256_sub_ps(t, k);
        __m256 p = _mm256_set1_ps(ZK_ENT_C6);
        p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(ZK_ENT_C5));
        p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(ZK_ENT_C4));
        p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(ZK_ENT_C3));
        p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(ZK_ENT_C2));
        p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(ZK_ENT_C1));
        p = _mm256_add_ps(_mm256_mul_ps(p, f), _mm256_set1_ps(1.0f));
        const __m256 sc = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(k), _mm256_set1_epi32(127)), 23));
        const __m256 e = _mm256_and_ps(keep, _mm256_mul_ps(p, sc));
        s = _mm256_add_ps(s, e);
        sd = _mm256_add_ps(sd, _mm256_mul_ps(e, d));
    }
    _mm256_storeu_ps(ls, s);
    _mm256_storeu_ps(lsd, sd);
}

static const zk_math k_avx2 = {
    .name = "avx2",
    .entropy8 = entropy8_avx2,
    .softmax = softmax_avx2,
    .axpy = axpy_avx2,
    .swiglu = swiglu_avx2,
    .f16_to_f32 = f16_to_f32_avx2,
    .q8_0_to_f32 = q8_0_to_f32_avx2,
    .q4_0_to_f32 = q4_0_to_f32_avx2,
    .kv_score = {[ZETA_TYPE_F32] = kv_score_f32_avx2, [ZETA_TYPE_F16] = kv_score_f16_avx2,
                 [ZETA_TYPE_Q8_0] = kv_score_q8_0_avx2, [ZETA_TYPE_Q4_0] = kv_score_q4_0_avx2},
    .kv_accum = {[ZETA_TYPE_F32] = kv_accum_f32_avx2, [ZETA_TYPE_F16] = kv_accum_f16_avx2,
                 [ZETA_TYPE_Q8_0] = kv_accum_q8_0_avx2, [ZETA_TYPE_Q4_0] = kv_accum_q4_0_avx2},
};

const zk_math *zk_math_avx2(void) { return &k_avx2; }
