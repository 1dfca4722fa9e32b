/* kernels_avx2_gemm.c — AVX2 products over 8-row packed Q4_0 / Q5_0 / IQ4_NL / Q4_1 / Q5_1 / Q8_0 weights (layouts in gemm.h):
 * one 256-bit lane per weight row, activation values broadcast 4 at a time, tiles of 4 tokens so
 * each unpacked weight vector is used 4 times. Compiled with -mavx2 -mfma -mf16c; integer sums are
 * exact and the float steps match gemm_ref.c (s * (d_w * d_x), added block by block; the 1-token
 * Q8_0 tile adds two half-range sums, see q8_tile1). */
#include "cpu/gemm.h"
#include "cpu/gemm_k.h"
#include "cpu/gemm_k_x86.h"

#include <immintrin.h>
#include <string.h>

static inline __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

static inline float f16f(zeta_f16 h) { return _cvtsh_ss(h); }

/* one token: the row-group dot products of block b as 8 int32 lanes */
static inline __m256i q4_block(const block_q4_0x8 *Wb, const int8_t *q, int32_t xsum) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256i s16 = _mm256_setzero_si256();
    for (int j = 0; j < 4; j++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(Wb->qs + 32 * j));
        s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(_mm256_and_si256(v, m4), bcast4(q + 8 * j)));
        s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), bcast4(q + 8 * j + 4)));
    }
    return _mm256_sub_epi32(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)), _mm256_set1_epi32(8 * xsum));
}

static inline __m256 scaled(__m256 acc, __m256i s32, __m256 dw, zeta_f16 dx) {
    return _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(s32), _mm256_mul_ps(dw, _mm256_set1_ps(f16f(dx)))));
}

static void q4_tile1(const block_q4_0x8 *W, int64_t nb, const block_q8_0 *X, const int32_t *xsum, float *y) {
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)W[b].d));
        acc = scaled(acc, q4_block(&W[b], X[b].qs, xsum[b]), dw, X[b].d);
    }
    _mm256_storeu_ps(y, acc);
}

/* four tokens: each unpacked weight vector is used four times */
static void q4_tile4(const block_q4_0x8 *W, int64_t nb, const uint8_t *x, size_t xs, const int32_t *xsum, float *y,
                     size_t ys) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    const block_q8_0 *X0 = (const block_q8_0 *)x, *X1 = (const block_q8_0 *)(x + xs);
    const block_q8_0 *X2 = (const block_q8_0 *)(x + 2 * xs), *X3 = (const block_q8_0 *)(x + 3 * xs);
    const int32_t *S0 = xsum, *S1 = xsum + nb, *S2 = xsum + 2 * nb, *S3 = xsum + 3 * nb;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
        for (int j = 0; j < 4; j++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(W[b].qs + 32 * j));
            const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            const int o = 8 * j;
            s0 = _mm256_add_epi16(s0, _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(X0[b].qs + o)), _mm256_maddubs_epi16(hi, bcast4(X0[b].qs + o + 4))));
            s1 = _mm256_add_epi16(s1, _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(X1[b].qs + o)), _mm256_maddubs_epi16(hi, bcast4(X1[b].qs + o + 4))));
            s2 = _mm256_add_epi16(s2, _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(X2[b].qs + o)), _mm256_maddubs_epi16(hi, bcast4(X2[b].qs + o + 4))));
            s3 = _mm256_add_epi16(s3, _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(X3[b].qs + o)), _mm256_maddubs_epi16(hi, bcast4(X3[b].qs + o + 4))));
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)W[b].d));
        a0 = scaled(a0, _mm256_sub_epi32(_mm256_madd_epi16(s0, ones), _mm256_set1_epi32(8 * S0[b])), dw, X0[b].d);
        a1 = scaled(a1, _mm256_sub_epi32(_mm256_madd_epi16(s1, ones), _mm256_set1_epi32(8 * S1[b])), dw, X1[b].d);
        a2 = scaled(a2, _mm256_sub_epi32(_mm256_madd_epi16(s2, ones), _mm256_set1_epi32(8 * S2[b])), dw, X2[b].d);
        a3 = scaled(a3, _mm256_sub_epi32(_mm256_madd_epi16(s3, ones), _mm256_set1_epi32(8 * S3[b])), dw, X3[b].d);
    }
    _mm256_storeu_ps(y, a0);
    _mm256_storeu_ps(y + ys, a1);
    _mm256_storeu_ps(y + 2 * ys, a2);
    _mm256_storeu_ps(y + 3 * ys, a3);
}

static void gemm8_q4_0(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y,
                       size_t ys) {
    const int64_t nb = k / 32;
    int c = 0;
    for (; c + 4 <= n_tok; c += 4)
        q4_tile4(w, nb, (const uint8_t *)x + (size_t)c * xs, xs, xsum + (size_t)c * (size_t)nb, y + (size_t)c * ys, ys);
    for (; c < n_tok; c++)
        q4_tile1(w, nb, (const block_q8_0 *)((const uint8_t *)x + (size_t)c * xs), xsum + (size_t)c * (size_t)nb, y + (size_t)c * ys);
}

/* Q5_0 / Q5_1: the fifth bit (16) of vector j's low and high codes, from the rows' qh words (lane r =
 * row r's): byte j of each lane spread over the lane by a shuffle, then a per-byte bit test (low
 * codes: bits 0-3, high: 4-7) */
static inline __attribute__((always_inline)) void q5_high(__m256i qh, int j, __m256i *lo, __m256i *hi) {
    const __m256i m10 = _mm256_set1_epi8(0x10);
    const __m256i blo = _mm256_set1_epi32(0x08040201), bhi = _mm256_set1_epi32((int)0x80402010u);
    const __m256i lane0 = _mm256_setr_epi32(0x00000000, 0x04040404, 0x08080808, 0x0c0c0c0c, 0x00000000, 0x04040404, 0x08080808, 0x0c0c0c0c);
    const __m256i hb = _mm256_shuffle_epi8(qh, _mm256_add_epi8(lane0, _mm256_set1_epi8((char)j)));
    *lo = _mm256_or_si256(*lo, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hb, blo), blo), m10));
    *hi = _mm256_or_si256(*hi, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hb, bhi), bhi), m10));
}

/* Q5_0 (block_q5_0x8): Q4_0's walk with each code's 16 from qh: for vector j, byte j of the row's
 * qh word holds the fifth bits of its elements 8j..8j+7, so a byte shuffle spreads it over the
 * lane and a per-byte bit test picks element 8j+e's (low nibbles: bits 0-3, high: 4-7). Codes
 * reach 31, so the int16 sums are widened after each two vectors (4 maddubs: 4 * 2 * 31 * 127 <
 * 2^15); 16 x the activation sum comes off. T tokens (1..4) share each unpacked vector. */
static inline __attribute__((always_inline)) void q5_tile(const block_q5_0x8 *W, int64_t nb, const uint8_t *x, size_t xs,
                                                          const int32_t *xsum, float *y, size_t ys, const int T) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    const block_q8_0 *X[4];
    __m256 acc[4];
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
        X[t] = (const block_q8_0 *)(x + (size_t)t * xs);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const __m256i qh = _mm256_loadu_si256((const __m256i *)W[b].qh);
        __m256i s32[4], s16[4];
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) s32[t] = s16[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(W[b].qs + 32 * j));
            __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            q5_high(qh, j, &lo, &hi);
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) {
                s16[t] = _mm256_add_epi16(s16[t], _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(X[t][b].qs + 8 * j)),
                                                                   _mm256_maddubs_epi16(hi, bcast4(X[t][b].qs + 8 * j + 4))));
                if (j & 1) {
                    s32[t] = _mm256_add_epi32(s32[t], _mm256_madd_epi16(s16[t], ones));
                    s16[t] = _mm256_setzero_si256();
                }
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)W[b].d));
#pragma GCC unroll 4
        for (int t = 0; t < T; t++)
            acc[t] = scaled(acc[t], _mm256_sub_epi32(s32[t], _mm256_set1_epi32(16 * xsum[(size_t)t * (size_t)nb + (size_t)b])), dw, X[t][b].d);
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}

static void q5_tile4(const block_q5_0x8 *W, int64_t nb, const uint8_t *x, size_t xs, const int32_t *xsum, float *y, size_t ys) {
    q5_tile(W, nb, x, xs, xsum, y, ys, 4);
}
static void q5_tile1(const block_q5_0x8 *W, int64_t nb, const uint8_t *x, size_t xs, const int32_t *xsum, float *y, size_t ys) {
    q5_tile(W, nb, x, xs, xsum, y, ys, 1);
}

static void gemm8_q5_0(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y,
                       size_t ys) {
    const int64_t nb = k / 32;
    int c = 0;
    for (; c + 4 <= n_tok; c += 4) q5_tile4(w, nb, (const uint8_t *)x + (size_t)c * xs, xs, xsum + (size_t)c * (size_t)nb, y + (size_t)c * ys, ys);
    for (; c < n_tok; c++) q5_tile1(w, nb, (const uint8_t *)x + (size_t)c * xs, xs, xsum + (size_t)c * (size_t)nb, y + (size_t)c * ys, ys);
}

/* IQ4_NL (block_q4_0x8's bytes: the file's blocks have Q4_0's shape): the codebook values by a byte
 * shuffle of the nibbles; products as maddubs(|w|, y sign(w)), exact for the [-127, 127] activations
 * our quantizer makes, each widened to int32 at once (two pairs can reach 64516); the float steps
 * are Q4_0's. */
static inline __attribute__((always_inline)) void nl_tile(const block_q4_0x8 *W, int64_t nb, const uint8_t *x, size_t xs, float *y,
                                                          size_t ys, const int T) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    const __m256i tbl = iq4_values_x2();
    const block_q8_0 *X[4];
    __m256 acc[4];
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
        X[t] = (const block_q8_0 *)(x + (size_t)t * xs);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        __m256i s32[4];
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) s32[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(W[b].qs + 32 * j));
            const __m256i lo = _mm256_shuffle_epi8(tbl, _mm256_and_si256(v, m4)), hi = _mm256_shuffle_epi8(tbl, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
            const __m256i alo = _mm256_sign_epi8(lo, lo), ahi = _mm256_sign_epi8(hi, hi);
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) {
                const __m256i plo = _mm256_maddubs_epi16(alo, _mm256_sign_epi8(bcast4(X[t][b].qs + 8 * j), lo));
                const __m256i phi = _mm256_maddubs_epi16(ahi, _mm256_sign_epi8(bcast4(X[t][b].qs + 8 * j + 4), hi));
                s32[t] = _mm256_add_epi32(s32[t], _mm256_add_epi32(_mm256_madd_epi16(plo, ones), _mm256_madd_epi16(phi, ones)));
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)W[b].d));
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) acc[t] = scaled(acc[t], s32[t], dw, X[t][b].d);
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}

static void nl_tile4(const block_q4_0x8 *W, int64_t nb, const uint8_t *x, size_t xs, float *y, size_t ys) { nl_tile(W, nb, x, xs, y, ys, 4); }
static void nl_tile1(const block_q4_0x8 *W, int64_t nb, const uint8_t *x, size_t xs, float *y, size_t ys) { nl_tile(W, nb, x, xs, y, ys, 1); }

static void gemm8_iq4_nl(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y,
                         size_t ys) {
    (void)xsum;
    const int64_t nb = k / 32;
    int c = 0;
    for (; c + 4 <= n_tok; c += 4) nl_tile4(w, nb, (const uint8_t *)x + (size_t)c * xs, xs, y + (size_t)c * ys, ys);
    for (; c < n_tok; c++) nl_tile1(w, nb, (const uint8_t *)x + (size_t)c * xs, xs, y + (size_t)c * ys, ys);
}

/* Q4_1 / Q5_1 (block_q4_1x8 / block_q5_1x8) against Q8_1 activations: the stored codes (0..15; Q5_1:
 * 0..31, the fifth bit by q5_high) are maddubs' unsigned operand as they are; the int16 sums are
 * widened after each two vectors (4 maddubs: 4 * 2 * 31 * 128 < 2^15); per block acc += (d_w * d_x)
 * * sumi + m_w * s_x (gemm_ref.c's steps: the same bits). T tokens (1..4) share each vector. */
static inline __attribute__((always_inline)) void q1_tile(const bool q5, const void *W, int64_t nb, const uint8_t *x, size_t xs, float *y,
                                                          size_t ys, const int T) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    const block_q8_1 *X[4];
    __m256 acc[4];
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) {
        X[t] = (const block_q8_1 *)(x + (size_t)t * xs);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const zeta_f16 *d16, *m16;
        const uint8_t *qs;
        __m256i qh = _mm256_setzero_si256();
        if (q5) {
            const block_q5_1x8 *Wb = (const block_q5_1x8 *)W + b;
            d16 = Wb->d; m16 = Wb->m; qs = Wb->qs;
            qh = _mm256_loadu_si256((const __m256i *)Wb->qh);
        } else {
            const block_q4_1x8 *Wb = (const block_q4_1x8 *)W + b;
            d16 = Wb->d; m16 = Wb->m; qs = Wb->qs;
        }
        __m256i s32[4], s16[4];
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) s32[t] = s16[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
            __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            if (q5) q5_high(qh, j, &lo, &hi);
#pragma GCC unroll 4
            for (int t = 0; t < T; t++) {
                s16[t] = _mm256_add_epi16(s16[t], _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(X[t][b].qs + 8 * j)),
                                                                   _mm256_maddubs_epi16(hi, bcast4(X[t][b].qs + 8 * j + 4))));
                if (j & 1) {
                    s32[t] = _mm256_add_epi32(s32[t], _mm256_madd_epi16(s16[t], ones));
                    s16[t] = _mm256_setzero_si256();
                }
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d16)), mw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)m16));
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            const __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(s32[t]), _mm256_mul_ps(dw, _mm256_set1_ps(f16f(X[t][b].d))));
            acc[t] = _mm256_add_ps(acc[t], _mm256_add_ps(p, _mm256_mul_ps(mw, _mm256_set1_ps(f16f(X[t][b].s)))));
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}

static void q1_gemm8(const bool q5, int64_t k, const void *w, const void *x, size_t xs, int n_tok, float *y, size_t ys) {
    const int64_t nb = k / 32;
    int c = 0;
    if (q5) {
        for (; c + 4 <= n_tok; c += 4) q1_tile(true, w, nb, (const uint8_t *)x + (size_t)c * xs, xs, y + (size_t)c * ys, ys, 4);
        for (; c < n_tok; c++) q1_tile(true, w, nb, (const uint8_t *)x + (size_t)c * xs, xs, y + (size_t)c * ys, ys, 1);
    } else {
        for (; c + 4 <= n_tok; c += 4) q1_tile(false, w, nb, (const uint8_t *)x + (size_t)c * xs, xs, y + (size_t)c * ys, ys, 4);
        for (; c < n_tok; c++) q1_tile(false, w, nb, (const uint8_t *)x + (size_t)c * xs, xs, y + (size_t)c * ys, ys, 1);
    }
}

static void gemm8_q4_1(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y, size_t ys) {
    (void)xsum;
    q1_gemm8(false, k, w, x, xs, n_tok, y, ys);
}
static void gemm8_q5_1(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y, size_t ys) {
    (void)xsum;
    q1_gemm8(true, k, w, x, xs, n_tok, y, ys);
}

/* The sign trick for int8 x int8: maddubs needs one unsigned operand, so the weight is made
 * unsigned (|w|: sign_epi8 turns -128 into 0x80, which maddubs reads as 128) and the activation
 * takes the weight's sign. Negating the activation is exact because our quantizer's codes are
 * round(x * 127 / amax), in [-127, 127]; the pair sums reach 2 * 128 * 127, inside int16. */
static inline __m256i q8_group(__m256i av, __m256i v, const int8_t *q, __m256i ones) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(av, _mm256_sign_epi8(bcast4(q), v)), ones);
}

/* one token: the row-group dot products of block Wb as 8 int32 lanes; unrolled, because gcc -O2
 * keeps the 8-step loop rolled, which ran ~1.6x slower in cache */
static inline __m256i q8_block(const block_q8_0x8 *Wb, const int8_t *q, __m256i ones) {
    __m256i s0 = _mm256_setzero_si256(), s1 = s0;
#pragma GCC unroll 4
    for (int g = 0; g < 8; g += 2) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(Wb->qs + 32 * g));
        const __m256i u = _mm256_loadu_si256((const __m256i *)(Wb->qs + 32 * g + 32));
        s0 = _mm256_add_epi32(s0, q8_group(_mm256_sign_epi8(v, v), v, q + 4 * g, ones));
        s1 = _mm256_add_epi32(s1, q8_group(_mm256_sign_epi8(u, u), u, q + 4 * g + 4, ones));
    }
    return _mm256_add_epi32(s0, s1);
}

/* bytes ahead of the block being read that q8_tile1 prefetches (512..2048 measured alike) */
#define Q8_AHEAD 1024

/* the 5 cache lines from p on: with p advancing one 272-byte block per call, every line */
static inline void prefetch_q8x8(const char *p) {
    for (int i = 0; i < 5; i++) _mm_prefetch(p + 64 * i, _MM_HINT_T0);
}

/* One token reads every weight byte once, so this tile waits on memory, not arithmetic: in cache
 * it runs at ~30 GB/s of weights per Zen 3 core, several times what L3 or DRAM deliver. What
 * counts is bytes arriving early enough. So the block range is walked as two halves at once, two
 * independent streams, each prefetched Q8_AHEAD bytes ahead (the hardware prefetcher alone left
 * ~20% of a streaming read's rate on the table from DRAM, ~half of it from L3). Each half is
 * summed in block order and the two sums are added at the end: the reference up to float
 * summation order. */
static void q8_tile1(const block_q8_0x8 *W, int64_t nb, const block_q8_0 *X, float *y) {
    const __m256i ones = _mm256_set1_epi16(1);
    const int64_t h = nb / 2;
    const block_q8_0x8 *W1 = W + h;   /* second half: blocks [h, nb), one more when nb is odd */
    const block_q8_0 *X1 = X + h;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int64_t b = 0; b < h; b++) {
        prefetch_q8x8((const char *)&W[b] + Q8_AHEAD);
        prefetch_q8x8((const char *)&W1[b] + Q8_AHEAD);
        a0 = scaled(a0, q8_block(&W[b], X[b].qs, ones), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)W[b].d)), X[b].d);
        a1 = scaled(a1, q8_block(&W1[b], X1[b].qs, ones), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)W1[b].d)), X1[b].d);
    }
    if (nb & 1)
        a1 = scaled(a1, q8_block(&W[nb - 1], X[nb - 1].qs, ones), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)W[nb - 1].d)), X[nb - 1].d);
    _mm256_storeu_ps(y, _mm256_add_ps(a0, a1));
}

static void q8_tile4(const block_q8_0x8 *W, int64_t nb, const uint8_t *x, size_t xs, float *y, size_t ys) {
    const __m256i ones = _mm256_set1_epi16(1);
    const block_q8_0 *X0 = (const block_q8_0 *)x, *X1 = (const block_q8_0 *)(x + xs);
    const block_q8_0 *X2 = (const block_q8_0 *)(x + 2 * xs), *X3 = (const block_q8_0 *)(x + 3 * xs);
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
        for (int g = 0; g < 8; g++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(W[b].qs + 32 * g));
            const __m256i av = _mm256_sign_epi8(v, v);
            s0 = _mm256_add_epi32(s0, q8_group(av, v, X0[b].qs + 4 * g, ones));
            s1 = _mm256_add_epi32(s1, q8_group(av, v, X1[b].qs + 4 * g, ones));
            s2 = _mm256_add_epi32(s2, q8_group(av, v, X2[b].qs + 4 * g, ones));
            s3 = _mm256_add_epi32(s3, q8_group(av, v, X3[b].qs + 4 * g, ones));
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)W[b].d));
        a0 = scaled(a0, s0, dw, X0[b].d);
        a1 = scaled(a1, s1, dw, X1[b].d);
        a2 = scaled(a2, s2, dw, X2[b].d);
        a3 = scaled(a3, s3, dw, X3[b].d);
    }
    _mm256_storeu_ps(y, a0);
    _mm256_storeu_ps(y + ys, a1);
    _mm256_storeu_ps(y + 2 * ys, a2);
    _mm256_storeu_ps(y + 3 * ys, a3);
}

static void gemm8_q8_0(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y,
                       size_t ys) {
    (void)xsum;
    const int64_t nb = k / 32;
    int c = 0;
    for (; c + 4 <= n_tok; c += 4) q8_tile4(w, nb, (const uint8_t *)x + (size_t)c * xs, xs, y + (size_t)c * ys, ys);
    for (; c < n_tok; c++) q8_tile1(w, nb, (const block_q8_0 *)((const uint8_t *)x + (size_t)c * xs), y + (size_t)c * ys);
}

static const zk_gemm_table k_gemm_avx2 = {
    .name = "avx2",
    .gemm8 = {[ZETA_TYPE_Q4_0] = gemm8_q4_0, [ZETA_TYPE_Q8_0] = gemm8_q8_0, [ZETA_TYPE_Q5_0] = gemm8_q5_0, [ZETA_TYPE_IQ4_NL] = gemm8_iq4_nl,
              [ZETA_TYPE_Q4_1] = gemm8_q4_1, [ZETA_TYPE_Q5_1] = gemm8_q5_1,
              [ZETA_TYPE_Q4_K] = zk_gemm8_q4_K_avx2, [ZETA_TYPE_Q5_K] = zk_gemm8_q5_K_avx2, [ZETA_TYPE_Q6_K] = zk_gemm8_q6_K_avx2,
              [ZETA_TYPE_IQ4_XS] = zk_gemm8_iq4_xs_avx2, [ZETA_TYPE_Q3_K] = zk_gemm8_q3_K_avx2,
              [ZETA_TYPE_Q2_K] = zk_gemm8_q2_K_avx2},
};

const zk_gemm_table *zk_gemm_avx2(void) { return &k_gemm_avx2; }
