/* kernels_avx512vnni_math.c — the AVX-512 (F/BW/VL/DQ + VNNI) slots of mathk.h, laid over the
 * AVX2 set where the CPU has them (zk_math_select): the decode-attention kernels and the softmax.
 *   kv_score (Q8_0 / Q4_0 K)  16 cached rows at a time, one int32 lane per row. Each row's block is
 *       turned so that vector T_j holds bytes 4j..4j+3 of all 16 rows (a 16 x 8 dword transpose by
 *       unpacks and vpermt2q), then per query head 8 vpdpbusd against its codes broadcast 4 at a time
 *       give the 16 rows' block sums with no horizontal additions. vpdpbusd multiplies unsigned by
 *       signed bytes, so K takes the unsigned side as stored code + c (Q8_0: code ^ 0x80 = code + 128;
 *       Q4_0: the stored nibble = code + 8) and the sum starts at -c * (sum of the query block's
 *       codes): exact in int32. Then, as the scalar vec_dot, (float)sumi * (d_k * d_q) added to the
 *       row's score block by block in order (the first added to +0): bit-identical scores.
 *   kv_accum (all four types, d a multiple of 32; other sizes keep the AVX2 kernel)  32 columns x up
 *       to 8 query heads of accumulators in registers over the tile's rows; each V row's 32 values are
 *       decoded in registers exactly as quant.c does, and every accumulator takes fma(s, v, acc) per
 *       row in order: the bits of the per-row path (dequantize, then axpy per head).
 *   softmax  the AVX2 set's exp polynomial 16 lanes wide (the same operations per element).
 * Compiled with FLAGS_avx512 -mavx512vnni; selected only after zk_cpu_has_avx512vnni(). */
#include "cpu/mathk.h"
#include "quant.h"

#include <immintrin.h>
#include <math.h>
#include <stdbool.h>

/* acc + dpbusd(u, the 4 signed bytes at p in every lane), the broadcast as vpdpbusd's memory operand
 * (GCC does not fold _mm512_set1_epi32 of a load into it) */
static inline __m512i dpbusd_bcst(__m512i acc, __m512i u, const int8_t *p) {
    __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(u), "m"(*(const int32_t(*)[1])p));
    return acc;
}

/* ---- softmax -------------------------------------------------------------------------------------- */

static inline __m512 exp512(__m512 x) {
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f)), _mm512_set1_ps(-87.3365447504f));
    __m512 fx = _mm512_floor_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)));
    __m512 r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201E-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(fx), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

static double softmax_avx512(float *x, int n, float scale, float *max_io) {
    const __m512 vs = _mm512_set1_ps(scale);
    __m512 vm = _mm512_set1_ps(max_io ? *max_io : -INFINITY);
    int i = 0;
    for (; i + 16 <= n; i += 16) vm = _mm512_max_ps(vm, _mm512_mul_ps(_mm512_loadu_ps(x + i), vs));
    float mx = _mm512_reduce_max_ps(vm);
    for (int j = i; j < n; j++)
        if (x[j] * scale > mx) mx = x[j] * scale;
    const __m512 vmx = _mm512_set1_ps(mx);
    __m512 acc = _mm512_setzero_ps();
    for (i = 0; i + 16 <= n; i += 16) {
        const __m512 e = exp512(_mm512_fmsub_ps(_mm512_loadu_ps(x + i), vs, vmx));
        _mm512_storeu_ps(x + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    float a[16];
    _mm512_storeu_ps(a, acc);
    double sum = 0.0;
    for (int j = 0; j < 16; j++) sum += (double)a[j];
    for (; i < n; i++) {
        x[i] = expf(x[i] * scale - mx);
        sum += (double)x[i];
    }
    if (max_io) *max_io = mx;
    return sum;
}

/* ---- decode attention: scores --------------------------------------------------------------------- */

/* query heads x blocks whose sums and scales score_q keeps on its stack; more falls back to AVX2 */
enum { KV_MAXQ = 2048 };

/* the 32 unsigned bytes (code + c) of block ib of a row: Q8_0 code ^ 0x80, Q4_0 the nibbles with
 * the low ones (elements 0..15) first */
static inline __m256i ublock(bool q4, const uint8_t *blk) {
    if (q4) {
        const __m128i raw = _mm_loadu_si128((const __m128i *)(blk + 2)), lowmask = _mm_set1_epi8(0x0f);
        return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), lowmask), _mm_and_si128(raw, lowmask));
    }
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(blk + 2)), _mm256_set1_epi8((char)0x80));
}

/* T[j] lane r = dword j of row r's unsigned block, for the 16 rows at rows[0..15] (block ib at
 * byte offset off). Z_p = [row p | row p + 8]; an 8 x 8 transpose per 256-bit half (unpacks within
 * 128-bit lanes), then vpermt2q joins the halves' 128-bit lanes so that lane r is row r. */
static inline __attribute__((always_inline)) void transpose16(bool q4, const uint8_t *const rows[16], size_t off, __m512i T[8]) {
    __m512i z[8], t[8], u[8];
#pragma GCC unroll 8
    for (int p = 0; p < 8; p++) z[p] = _mm512_inserti64x4(_mm512_castsi256_si512(ublock(q4, rows[p] + off)), ublock(q4, rows[p + 8] + off), 1);
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
        t[2 * p] = _mm512_unpacklo_epi32(z[2 * p], z[2 * p + 1]);
        t[2 * p + 1] = _mm512_unpackhi_epi32(z[2 * p], z[2 * p + 1]);
    }
    /* u0..u3 rows 0-3 (of each half), dwords {0,4} {1,5} {2,6} {3,7}; u4..u7 rows 4-7 */
    u[0] = _mm512_unpacklo_epi64(t[0], t[2]);
    u[1] = _mm512_unpackhi_epi64(t[0], t[2]);
    u[2] = _mm512_unpacklo_epi64(t[1], t[3]);
    u[3] = _mm512_unpackhi_epi64(t[1], t[3]);
    u[4] = _mm512_unpacklo_epi64(t[4], t[6]);
    u[5] = _mm512_unpackhi_epi64(t[4], t[6]);
    u[6] = _mm512_unpacklo_epi64(t[5], t[7]);
    u[7] = _mm512_unpackhi_epi64(t[5], t[7]);
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        T[j] = _mm512_permutex2var_epi64(u[j], lo, u[j + 4]);
        T[j + 4] = _mm512_permutex2var_epi64(u[j], hi, u[j + 4]);
    }
}

/* the f16 scales (each block's first two bytes) of 16 rows, byte offsets idx from base -> f32 */
static inline __m512 scales16(const uint8_t *base, __m512i idx) {
    const __m512i w = _mm512_i32gather_epi32(idx, (const void *)base, 1);
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(w));
}

static inline __attribute__((always_inline)) void score_q(bool q4, int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s, size_t ss) {
    const int nb = d / 32;
    const size_t bb = q4 ? sizeof(block_q4_0) : sizeof(block_q8_0);
    int32_t bias[KV_MAXQ];
    float dq[KV_MAXQ];
    const int c = q4 ? 8 : 128;
    for (int g = 0; g < group; g++)
        for (int ib = 0; ib < nb; ib++) {
            const block_q8_0 *b = (const block_q8_0 *)((const uint8_t *)q + (size_t)g * qs) + ib;
            int32_t sum = 0;
            for (int j = 0; j < 32; j++) sum += b->qs[j];
            bias[g * nb + ib] = -c * sum;
            dq[g * nb + ib] = _cvtsh_ss(b->d);
        }
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int i0 = 0; i0 < n; i0 += 16) {
        const int m = n - i0 < 16 ? n - i0 : 16;
        const __mmask16 mask = (__mmask16)((1u << m) - 1u);
        const uint8_t *base = (const uint8_t *)k + (size_t)i0 * ks;
        const uint8_t *rows[16];
        for (int r = 0; r < 16; r++) rows[r] = base + (size_t)(r < m ? r : m - 1) * ks;
        /* the 16 rows after the next 16: in cache by the time they are scored */
        if (i0 + 32 < n) {
            const uint8_t *p = base + 32 * ks, *e = (const uint8_t *)k + (size_t)(n - i0 - 32 < 16 ? n : i0 + 48) * ks;
            for (; p < e; p += 64) _mm_prefetch((const char *)p, _MM_HINT_T0);
        }
        const __m512i ridx = _mm512_mullo_epi32(_mm512_min_epi32(lane, _mm512_set1_epi32(m - 1)), _mm512_set1_epi32((int)ks));
        for (int ib = 0; ib < nb; ib++) {
            __m512i T[8];
            transpose16(q4, rows, (size_t)ib * bb, T);
            const __m512 dk = scales16(base, _mm512_add_epi32(ridx, _mm512_set1_epi32((int)((size_t)ib * bb))));
            for (int g = 0; g < group; g++) {
                const int8_t *qc = ((const block_q8_0 *)((const uint8_t *)q + (size_t)g * qs) + ib)->qs;
                __m512i a0 = _mm512_set1_epi32(bias[g * nb + ib]), a1 = _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int j = 0; j < 8; j += 2) {
                    a0 = dpbusd_bcst(a0, T[j], qc + 4 * j);
                    a1 = dpbusd_bcst(a1, T[j + 1], qc + 4 * j + 4);
                }
                const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(a0, a1)), _mm512_mul_ps(dk, _mm512_set1_ps(dq[g * nb + ib])));
                float *sg = s + (size_t)g * ss + i0;
                if (m == 16) { /* plain (not masked) loads and stores: store-to-load forwarding holds */
                    _mm512_storeu_ps(sg, _mm512_add_ps(ib == 0 ? _mm512_setzero_ps() : _mm512_loadu_ps(sg), f));
                } else {
                    const __m512 prev = ib == 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, sg);
                    _mm512_mask_storeu_ps(sg, mask, _mm512_add_ps(prev, f));
                }
            }
        }
    }
}

/* score_q keeps group x blocks sums on its stack and gathers with int32 offsets (up to 16 rows);
 * calls beyond either go to the AVX2 kernel, which gives the same bits */
static inline __attribute__((always_inline)) void score_or_avx2(bool q4, int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s,
                                 size_t ss) {
    if (group * (d / 32) > KV_MAXQ || ks > (size_t)INT32_MAX / 16)
        zk_math_avx2()->kv_score[q4 ? ZETA_TYPE_Q4_0 : ZETA_TYPE_Q8_0](d, n, k, ks, group, q, qs, s, ss);
    else
        score_q(q4, d, n, k, ks, group, q, qs, s, ss);
}
static void kv_score_q8_0_avx512vnni(int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s, size_t ss) {
    score_or_avx2(false, d, n, k, ks, group, q, qs, s, ss);
}
static void kv_score_q4_0_avx512vnni(int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s, size_t ss) {
    score_or_avx2(true, d, n, k, ks, group, q, qs, s, ss);
}

/* ---- decode attention: V ------------------------------------------------------------------------ */

/* columns j0..j0+31 of V row `row` as f32, exactly as quant.c decodes them */
static inline void vrow32(zeta_type t, const uint8_t *row, int j0, __m512 *v0, __m512 *v1) {
    switch (t) {
    case ZETA_TYPE_F32:
        *v0 = _mm512_loadu_ps((const float *)row + j0);
        *v1 = _mm512_loadu_ps((const float *)row + j0 + 16);
        break;
    case ZETA_TYPE_F16:
        *v0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const zeta_f16 *)row + j0)));
        *v1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const zeta_f16 *)row + j0 + 16)));
        break;
    case ZETA_TYPE_Q8_0: {
        const block_q8_0 *b = (const block_q8_0 *)row + j0 / 32;
        const __m512 d = _mm512_set1_ps(_cvtsh_ss(b->d));
        *v0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)b->qs))), d);
        *v1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b->qs + 16)))), d);
        break;
    }
    default: { /* Q4_0: (nibble - 8) * d, low nibbles are elements 0..15 */
        const block_q4_0 *b = (const block_q4_0 *)row + j0 / 32;
        const __m512 d = _mm512_set1_ps(_cvtsh_ss(b->d));
        const __m512i raw = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)b->qs)), eight = _mm512_set1_epi32(8);
        const __m512i lo = _mm512_sub_epi32(_mm512_and_si512(raw, _mm512_set1_epi32(0x0f)), eight);
        const __m512i hi = _mm512_sub_epi32(_mm512_srli_epi32(raw, 4), eight);
        *v0 = _mm512_mul_ps(_mm512_cvtepi32_ps(lo), d);
        *v1 = _mm512_mul_ps(_mm512_cvtepi32_ps(hi), d);
        break;
    }
    }
}

/* acc_g[j0..j0+32) += sum_i s_g[i] * V_i[j0..j0+32) for G heads, rows in order */
static inline __attribute__((always_inline)) void accum32(zeta_type t, const int G, int j0, int n, const uint8_t *v, size_t vs,
                                                          const float *s, size_t ss, float *acc, size_t as) {
    __m512 a[8][2];
#pragma GCC unroll 8
    for (int g = 0; g < G; g++) {
        a[g][0] = _mm512_loadu_ps(acc + (size_t)g * as + j0);
        a[g][1] = _mm512_loadu_ps(acc + (size_t)g * as + j0 + 16);
    }
    for (int i = 0; i < n; i++) {
        __m512 v0, v1;
        vrow32(t, v + (size_t)i * vs, j0, &v0, &v1);
#pragma GCC unroll 8
        for (int g = 0; g < G; g++) {
            const __m512 w = _mm512_set1_ps(s[(size_t)g * ss + i]);
            a[g][0] = _mm512_fmadd_ps(w, v0, a[g][0]);
            a[g][1] = _mm512_fmadd_ps(w, v1, a[g][1]);
        }
    }
#pragma GCC unroll 8
    for (int g = 0; g < G; g++) {
        _mm512_storeu_ps(acc + (size_t)g * as + j0, a[g][0]);
        _mm512_storeu_ps(acc + (size_t)g * as + j0 + 16, a[g][1]);
    }
}

static inline __attribute__((always_inline)) void accum_t(zeta_type t, int d, int n, const void *v, size_t vs, int group, const float *s,
                                                          size_t ss, float *acc) {
    for (int j0 = 0; j0 < d; j0 += 32)
        for (int g = 0; g < group; g += 8) {
            const float *sg = s + (size_t)g * ss;
            float *ag = acc + (size_t)g * d;
            switch (group - g < 8 ? group - g : 8) {
            case 8: accum32(t, 8, j0, n, v, vs, sg, ss, ag, (size_t)d); break;
            case 7: accum32(t, 7, j0, n, v, vs, sg, ss, ag, (size_t)d); break;
            case 6: accum32(t, 6, j0, n, v, vs, sg, ss, ag, (size_t)d); break;
            case 5: accum32(t, 5, j0, n, v, vs, sg, ss, ag, (size_t)d); break;
            case 4: accum32(t, 4, j0, n, v, vs, sg, ss, ag, (size_t)d); break;
            case 3: accum32(t, 3, j0, n, v, vs, sg, ss, ag, (size_t)d); break;
            case 2: accum32(t, 2, j0, n, v, vs, sg, ss, ag, (size_t)d); break;
            default: accum32(t, 1, j0, n, v, vs, sg, ss, ag, (size_t)d); break;
            }
        }
}

static void kv_accum_f32_avx512vnni(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    if (d % 32) zk_math_avx2()->kv_accum[ZETA_TYPE_F32](d, n, v, vs, group, s, ss, acc);
    else accum_t(ZETA_TYPE_F32, d, n, v, vs, group, s, ss, acc);
}
static void kv_accum_f16_avx512vnni(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    if (d % 32) zk_math_avx2()->kv_accum[ZETA_TYPE_F16](d, n, v, vs, group, s, ss, acc);
    else accum_t(ZETA_TYPE_F16, d, n, v, vs, group, s, ss, acc);
}
static void kv_accum_q8_0_avx512vnni(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    accum_t(ZETA_TYPE_Q8_0, d, n, v, vs, group, s, ss, acc);
}
static void kv_accum_q4_0_avx512vnni(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    accum_t(ZETA_TYPE_Q4_0, d, n, v, vs, group, s, ss, acc);
}

/* only its own slots; zk_math_select lays it over the AVX2 set */
static const zk_math k_avx512vnni = {
    .name = "avx512vnni",
    .softmax = softmax_avx512,
    .kv_score = {[ZETA_TYPE_Q8_0] = kv_score_q8_0_avx512vnni, [ZETA_TYPE_Q4_0] = kv_score_q4_0_avx512vnni},
    .kv_accum = {[ZETA_TYPE_F32] = kv_accum_f32_avx512vnni, [ZETA_TYPE_F16] = kv_accum_f16_avx512vnni,
                 [ZETA_TYPE_Q8_0] = kv_accum_q8_0_avx512vnni, [ZETA_TYPE_Q4_0] = kv_accum_q4_0_avx512vnni},
};

const zk_math *zk_math_avx512vnni(void) { return &k_avx512vnni; }
