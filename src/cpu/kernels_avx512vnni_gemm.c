/* kernels_avx512vnni_gemm.c — the products over 8-row packed Q4_0 / Q8_0 / Q5_0 / IQ4_NL / Q4_1 / Q5_1 weights (layouts in
 * gemm.h) with AVX512_VNNI's vpdpbusd on 256-bit vectors (AVX512VL): one lane per weight row, as the
 * AVX2 version, but each group of 4 products is one instruction (u8 x s8, summed into int32) where
 * AVX2 takes maddubs, an int16 add and madd, and with 32 vector registers a tile holds 8 tokens, so
 * each unpacked weight vector serves 8 tokens (then 4, then 1).
 *   Q4_0: the stored nibbles (0..15) are the unsigned operand and the activation codes the signed
 *         one; the block's -8 comes back as 8 * (sum of the activation's codes), as in AVX2.
 *   Q8_0: the sign trick: |w| unsigned (-128 -> 128), the activation takes the weight's sign
 *         (exact: our quantizer's codes are in [-127, 127]).
 * Integer sums are exact and the float steps are gemm_ref.c's: per block acc += (float)isum *
 * (d_w * d_x), blocks in order. One token reads the blocks as one stream in order, without software
 * prefetch: on the Zen 4 machine this was written on, the AVX2 1-token Q8_0 tile's two prefetched
 * half-range streams decoded the 1.1B shape at 22-25 t/s against 30-46 for one stream (alternating
 * runs), and bench/membw's prefetched two-stream read is slower than its plain one there too. So
 * Q4_0 gives the AVX2 kernels' bits, and Q8_0 too except for one token, whose float sum is in
 * block order like the reference (the AVX2 tile adds two half sums). Compiled with FLAGS_avx512
 * -mavx512vnni. */
#include "cpu/gemm.h"
#include "cpu/gemm_k.h"
#include "cpu/gemm_k_x86.h"

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

static inline __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

static inline __m256 scaled(__m256 acc, __m256i s32, __m256 dw, zeta_f16 dx) {
    return _mm256_add_ps(acc, _mm256_mul_ps(_mm256_cvtepi32_ps(s32), _mm256_mul_ps(dw, _mm256_set1_ps(_cvtsh_ss(dx)))));
}

static inline __m256 row_scales(const zeta_f16 d[8]) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d)); }

/* the 32 products of Q8_0 weight vector v (8 rows x 4 values) with 4 activation codes at q */
static inline __m256i q8_dot4(__m256i s, __m256i av, __m256i v, const int8_t *q) {
    return _mm256_dpbusd_epi32(s, av, _mm256_sign_epi8(bcast4(q), v));
}

enum { KIND_Q8, KIND_Q4, KIND_Q5, KIND_NL };

/* Q5_0 / Q5_1: vector j's low and high codes plus their fifth bit (16), from the rows' qh words H (lane
 * r = row r's): byte j of each lane spread over the lane by a shuffle, a per-byte bit test as the
 * mask of the add (low codes: bits 0-3, high: 4-7) */
static inline __attribute__((always_inline)) void q5_high(__m256i H, int j, __m256i *lo, __m256i *hi) {
    const __m256i b16 = _mm256_set1_epi8(0x10);
    const __m256i pick_lo = _mm256_set1_epi32(0x08040201), pick_hi = _mm256_set1_epi32((int)0x80402010u);
    const __m256i lane_bytes = _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12, 0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12,
                                                12, 12, 12);
    const __m256i hj = _mm256_shuffle_epi8(H, _mm256_add_epi8(lane_bytes, _mm256_set1_epi8((char)j)));
    *lo = _mm256_mask_add_epi8(*lo, _mm256_test_epi8_mask(hj, pick_lo), *lo, b16);
    *hi = _mm256_mask_add_epi8(*hi, _mm256_test_epi8_mask(hj, pick_hi), *hi, b16);
}

/* N tokens (1..8, a constant after inlining) at x, xs bytes apart, against packed Q4_0, Q5_0 or Q8_0
 * blocks W: y[c * ys + r] for rows r < 8. Q5_0: Q4_0's walk with each code's 16 added where its qh
 * bit is set (a byte shuffle brings byte j of the row's qh into every byte of the lane, a bit test
 * per byte gives the mask), and 16 x the block's activation sum taken off. */
static inline __attribute__((always_inline)) void tile(const int kind, const int N, const void *W, int64_t nb, const uint8_t *x,
                                                       size_t xs, const int32_t *xsum, float *y, size_t ys) {
    const bool q4 = kind == KIND_Q4 || kind == KIND_NL, q5 = kind == KIND_Q5, nl = kind == KIND_NL;
    /* IQ4_NL (block_q4_0x8's bytes): the codebook value + 128 (unsigned) by a byte shuffle of the nibble */
    const __m256i nl_tbl = iq4_values_u8_x2();
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 a[8];
#pragma GCC unroll 8
    for (int c = 0; c < N; c++) a[c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const int8_t *X[8];
#pragma GCC unroll 8
        for (int c = 0; c < N; c++) X[c] = ((const block_q8_0 *)(x + (size_t)c * xs))[b].qs;
        __m256i s[8];
        const zeta_f16 *dw16;
        if (q5) {
            const block_q5_0x8 *Wb = (const block_q5_0x8 *)W + b;
            dw16 = Wb->d;
            const __m256i H = _mm256_loadu_si256((const __m256i *)Wb->qh);
#pragma GCC unroll 8
            for (int c = 0; c < N; c++) s[c] = _mm256_set1_epi32(-16 * xsum[(size_t)c * (size_t)nb + (size_t)b]);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(Wb->qs + 32 * j));
                __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                q5_high(H, j, &lo, &hi);
#pragma GCC unroll 8
                for (int c = 0; c < N; c++) {
                    s[c] = _mm256_dpbusd_epi32(s[c], lo, bcast4(X[c] + 8 * j));
                    s[c] = _mm256_dpbusd_epi32(s[c], hi, bcast4(X[c] + 8 * j + 4));
                }
            }
        } else if (q4) {
            const block_q4_0x8 *Wb = (const block_q4_0x8 *)W + b;
            dw16 = Wb->d;
#pragma GCC unroll 8
            for (int c = 0; c < N; c++) s[c] = _mm256_set1_epi32((nl ? -128 : -8) * xsum[(size_t)c * (size_t)nb + (size_t)b]);
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(Wb->qs + 32 * j));
                __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                if (nl) {
                    lo = _mm256_shuffle_epi8(nl_tbl, lo);
                    hi = _mm256_shuffle_epi8(nl_tbl, hi);
                }
#pragma GCC unroll 8
                for (int c = 0; c < N; c++) {
                    s[c] = _mm256_dpbusd_epi32(s[c], lo, bcast4(X[c] + 8 * j));
                    s[c] = _mm256_dpbusd_epi32(s[c], hi, bcast4(X[c] + 8 * j + 4));
                }
            }
        } else {
            const block_q8_0x8 *Wb = (const block_q8_0x8 *)W + b;
            dw16 = Wb->d;
#pragma GCC unroll 8
            for (int c = 0; c < N; c++) s[c] = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(Wb->qs + 32 * g));
                const __m256i av = _mm256_abs_epi8(v); /* -128 -> 0x80, read as 128 unsigned */
#pragma GCC unroll 8
                for (int c = 0; c < N; c++) s[c] = q8_dot4(s[c], av, v, X[c] + 4 * g);
            }
        }
        const __m256 dw = row_scales(dw16);
#pragma GCC unroll 8
        for (int c = 0; c < N; c++) a[c] = scaled(a[c], s[c], dw, ((const block_q8_0 *)(x + (size_t)c * xs))[b].d);
    }
#pragma GCC unroll 8
    for (int c = 0; c < N; c++) _mm256_storeu_ps(y + (size_t)c * ys, a[c]);
}

/* tiles of 8 tokens, then 4, then 1 (xsum: Q4_0, Q5_0 and IQ4_NL only) */
static inline __attribute__((always_inline)) void gemm8(const int kind, int64_t k, const void *w, const void *x, size_t xs,
                                                        const int32_t *xsum, int n_tok, float *y, size_t ys) {
    const int64_t nb = k / 32;
    const uint8_t *xb = x;
    const bool sums = kind != KIND_Q8;
    int c = 0;
    for (; c + 8 <= n_tok; c += 8) tile(kind, 8, w, nb, xb + (size_t)c * xs, xs, sums ? xsum + (size_t)c * (size_t)nb : NULL, y + (size_t)c * ys, ys);
    for (; c + 4 <= n_tok; c += 4) tile(kind, 4, w, nb, xb + (size_t)c * xs, xs, sums ? xsum + (size_t)c * (size_t)nb : NULL, y + (size_t)c * ys, ys);
    for (; c < n_tok; c++) tile(kind, 1, w, nb, xb + (size_t)c * xs, xs, sums ? xsum + (size_t)c * (size_t)nb : NULL, y + (size_t)c * ys, ys);
}

static void gemm8_q4_0(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y, size_t ys) {
    gemm8(KIND_Q4, k, w, x, xs, xsum, n_tok, y, ys);
}
static void gemm8_q5_0(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y, size_t ys) {
    gemm8(KIND_Q5, k, w, x, xs, xsum, n_tok, y, ys);
}
static void gemm8_iq4_nl(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y, size_t ys) {
    gemm8(KIND_NL, k, w, x, xs, xsum, n_tok, y, ys);
}
static void gemm8_q8_0(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y, size_t ys) {
    gemm8(KIND_Q8, k, w, x, xs, xsum, n_tok, y, ys);
}

/* ---- Q4_1 / Q5_1 (block_q4_1x8 / block_q5_1x8) against Q8_1 activations: the stored codes (0..15;
 * Q5_1: 0..31, the fifth bit added as in Q5_0's walk) are the unsigned operand as they are, with no
 * offset to take off; per block acc += (d_w * d_x) * sumi + m_w * s_x (gemm_ref.c's steps: the same
 * bits). Tiles of 8 tokens, then 4, then 1. */
static inline __attribute__((always_inline)) void tile_1(const bool q5, const int N, const void *W, int64_t nb, const uint8_t *x,
                                                         size_t xs, float *y, size_t ys) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 a[8];
#pragma GCC unroll 8
    for (int c = 0; c < N; c++) a[c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const block_q8_1 *X[8];
#pragma GCC unroll 8
        for (int c = 0; c < N; c++) X[c] = (const block_q8_1 *)(x + (size_t)c * xs) + b;
        const zeta_f16 *d16, *m16;
        const uint8_t *qs;
        __m256i H = _mm256_setzero_si256();
        if (q5) {
            const block_q5_1x8 *Wb = (const block_q5_1x8 *)W + b;
            d16 = Wb->d; m16 = Wb->m; qs = Wb->qs;
            H = _mm256_loadu_si256((const __m256i *)Wb->qh);
        } else {
            const block_q4_1x8 *Wb = (const block_q4_1x8 *)W + b;
            d16 = Wb->d; m16 = Wb->m; qs = Wb->qs;
        }
        __m256i s[8];
#pragma GCC unroll 8
        for (int c = 0; c < N; c++) s[c] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
            __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            if (q5) q5_high(H, j, &lo, &hi);
#pragma GCC unroll 8
            for (int c = 0; c < N; c++) {
                s[c] = _mm256_dpbusd_epi32(s[c], lo, bcast4(X[c]->qs + 8 * j));
                s[c] = _mm256_dpbusd_epi32(s[c], hi, bcast4(X[c]->qs + 8 * j + 4));
            }
        }
        const __m256 dw = row_scales(d16), mw = row_scales(m16);
#pragma GCC unroll 8
        for (int c = 0; c < N; c++) {
            const __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(s[c]), _mm256_mul_ps(dw, _mm256_set1_ps(_cvtsh_ss(X[c]->d))));
            a[c] = _mm256_add_ps(a[c], _mm256_add_ps(t, _mm256_mul_ps(mw, _mm256_set1_ps(_cvtsh_ss(X[c]->s)))));
        }
    }
#pragma GCC unroll 8
    for (int c = 0; c < N; c++) _mm256_storeu_ps(y + (size_t)c * ys, a[c]);
}

static inline __attribute__((always_inline)) void gemm8_1(const bool q5, int64_t k, const void *w, const void *x, size_t xs, int n_tok,
                                                          float *y, size_t ys) {
    const int64_t nb = k / 32;
    const uint8_t *xb = x;
    int c = 0;
    for (; c + 8 <= n_tok; c += 8) tile_1(q5, 8, w, nb, xb + (size_t)c * xs, xs, y + (size_t)c * ys, ys);
    for (; c + 4 <= n_tok; c += 4) tile_1(q5, 4, w, nb, xb + (size_t)c * xs, xs, y + (size_t)c * ys, ys);
    for (; c < n_tok; c++) tile_1(q5, 1, w, nb, xb + (size_t)c * xs, xs, y + (size_t)c * ys, ys);
}

static void gemm8_q4_1(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y, size_t ys) {
    (void)xsum;
    gemm8_1(false, k, w, x, xs, n_tok, y, ys);
}
static void gemm8_q5_1(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y, size_t ys) {
    (void)xsum;
    gemm8_1(true, k, w, x, xs, n_tok, y, ys);
}

/* ---- Q4_K (block_q4_Kx8 of gemm_k.h): each group of 4 code x activation products one vpdpbusd
 * into an int32 sum per sub-block, times the sub-block's scale (vpmulld), so sumi and summ are the
 * AVX2 kernel's exact integers and the float steps are its steps: the same bits. Tiles of 8 tokens,
 * then 4, then 1. */
static inline __attribute__((always_inline)) void q4_K_tile(const bool q5, const int T, const void *W, int64_t nb, const uint8_t *x,
                                                            size_t xs, float *y, size_t ys) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m6 = _mm256_set1_epi8(0x3f), m30 = _mm256_set1_epi8(0x30);
    const __m256i lo8 = _mm256_set1_epi32(0xff), hi8 = _mm256_set1_epi32(0xff00), m16 = _mm256_set1_epi8(0x10);
    const block_q8_K *X[8];
    __m256 acc[8];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
        X[t] = (const block_q8_K *)(x + (size_t)t * xs);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        /* block_q4_Kx8 and block_q5_Kx8 share d, dmin and scales; Q5_K adds qh before qs */
        const block_q4_Kx8 *B = (const block_q4_Kx8 *)((const uint8_t *)W + (size_t)b * (q5 ? sizeof(block_q5_Kx8) : sizeof(block_q4_Kx8)));
        const uint8_t *qs = q5 ? ((const block_q5_Kx8 *)B)->qs : B->qs, *qh = ((const block_q5_Kx8 *)B)->qh;
        const __m256i u0 = _mm256_loadu_si256((const __m256i *)B->scales), u1 = _mm256_loadu_si256((const __m256i *)(B->scales + 32)),
                      u2 = _mm256_loadu_si256((const __m256i *)(B->scales + 64));
        /* lane r: the row's scales 0-3 / 4-7 and mins 0-3 / 4-7 as bytes (the 6-bit unpacking) */
        const __m256i sc03 = _mm256_and_si256(u0, m6);
        const __m256i sc47 = _mm256_or_si256(_mm256_and_si256(u2, m4), _mm256_and_si256(_mm256_srli_epi32(u0, 2), m30));
        const __m256i m03 = _mm256_and_si256(u1, m6);
        const __m256i m47 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u2, 4), m4), _mm256_and_si256(_mm256_srli_epi32(u1, 2), m30));
        __m256i sumi[8];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) sumi[t] = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) { /* sub-block j: the low (even j) or high (odd j) nibbles of vectors 8 (j / 2) + g */
            const uint8_t *qv = qs + 256 * (j >> 1);
            __m256i a[8];
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) a[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(qv + 32 * g));
                __m256i code = j & 1 ? _mm256_and_si256(_mm256_srli_epi16(v, 4), m4) : _mm256_and_si256(v, m4);
                if (q5) { /* bit j of each qh byte becomes the code's 16 */
                    const __m256i h = _mm256_loadu_si256((const __m256i *)(qh + 32 * g));
                    code = _mm256_or_si256(code, _mm256_and_si256(j < 4 ? _mm256_slli_epi16(h, 4 - j) : _mm256_srli_epi16(h, j - 4), m16));
                }
#pragma GCC unroll 8
                for (int t = 0; t < T; t++) a[t] = _mm256_dpbusd_epi32(a[t], code, bcast4(X[t][b].qs + 32 * j + 4 * g));
            }
            const __m256i sc = _mm256_and_si256(_mm256_srli_epi32(j < 4 ? sc03 : sc47, 8 * (j & 3)), lo8);
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) sumi[t] = _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(a[t], sc));
        }
        /* mins: lane r of mp_i = (m_2i, m_2i+1) as int16 */
        const __m256i m23 = _mm256_srli_epi32(m03, 16), m67 = _mm256_srli_epi32(m47, 16);
        const __m256i mp[4] = {_mm256_or_si256(_mm256_and_si256(m03, lo8), _mm256_slli_epi32(_mm256_and_si256(m03, hi8), 8)),
                               _mm256_or_si256(_mm256_and_si256(m23, lo8), _mm256_slli_epi32(_mm256_and_si256(m23, hi8), 8)),
                               _mm256_or_si256(_mm256_and_si256(m47, lo8), _mm256_slli_epi32(_mm256_and_si256(m47, hi8), 8)),
                               _mm256_or_si256(_mm256_and_si256(m67, lo8), _mm256_slli_epi32(_mm256_and_si256(m67, hi8), 8))};
        const __m256 dw = row_scales(B->d), dmw = row_scales(B->dmin);
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) acc[t] = q4_K_block_end(acc[t], sumi[t], &X[t][b], mp, dw, dmw);
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}


/* the end of a Q6_K / Q3_K super-block: acc += (d * dx) * sumi per token */
static inline __attribute__((always_inline)) void sk_block_end(const int T, __m256 acc[8], const __m256i sumi[8], __m256 dw,
                                                               const block_q8_K *const X[8], int64_t b) {
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(X[t][b].d)), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
}

/* ---- Q6_K (block_q6_Kx8): the unsigned codes u = q + 32, a 16-element sub-block's sum one chain of
 * four vpdpbusd, times its scale (vpmulld); minus 32 * sum_j sc_j * bsum_j by int16 pairs as in
 * AVX2. The AVX2 kernel's integers and float steps: the same bits. */
static inline __attribute__((always_inline)) void q6_K_tile(const int T, const block_q6_Kx8 *W, int64_t nb, const uint8_t *x,
                                                            size_t xs, float *y, size_t ys) {
    const __m256i m6 = _mm256_set1_epi8(0x3f), m3 = _mm256_set1_epi8(0x03), mc = _mm256_set1_epi8(0x0c), m30 = _mm256_set1_epi8(0x30);
    const __m256i lo16 = _mm256_set1_epi32(0xffff), top8 = _mm256_set1_epi32((int)0xff000000u);
    const block_q8_K *X[8];
    __m256 acc[8];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
        X[t] = (const block_q8_K *)(x + (size_t)t * xs);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const block_q6_Kx8 *B = &W[b];
        __m256i sumi[8];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) sumi[t] = _mm256_setzero_si256();
        for (int i = 0; i < 8; i++) { /* sub-blocks 2i, 2i + 1: lane r of p = (32 sc_2i, 32 sc_2i+1) as int16 */
            const __m256i v = _mm256_loadu_si256((const __m256i *)(B->scales + 32 * (i >> 1)));
            const __m256i sh = i & 1 ? _mm256_srli_epi32(v, 16) : v; /* the pair in bytes 0, 1 of each lane */
            const __m256i p = _mm256_or_si256(_mm256_and_si256(_mm256_srai_epi16(_mm256_slli_epi16(sh, 8), 3), lo16),
                                              _mm256_srai_epi16(_mm256_and_si256(_mm256_slli_epi32(sh, 16), top8), 3));
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) sumi[t] = _mm256_sub_epi32(sumi[t], _mm256_madd_epi16(p, bcast4((const int8_t *)(X[t][b].bsums + 2 * i))));
        }
        for (int j = 0; j < 16; j++) {
            const __m256i sv = _mm256_loadu_si256((const __m256i *)(B->scales + 32 * (j >> 2)));
            const __m256i sc = _mm256_srai_epi32(_mm256_slli_epi32(sv, 24 - 8 * (j & 3)), 24); /* signed scale j as int32 */
            const uint8_t *q = B->q + 96 * j;
            const __m256i v0 = _mm256_loadu_si256((const __m256i *)q), v1 = _mm256_loadu_si256((const __m256i *)(q + 32)),
                          v2 = _mm256_loadu_si256((const __m256i *)(q + 64));
            const __m256i c0 = _mm256_and_si256(v0, m6), c1 = _mm256_and_si256(v1, m6), c2 = _mm256_and_si256(v2, m6);
            const __m256i c3 = _mm256_or_si256(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v0, 6), m3),
                                                               _mm256_and_si256(_mm256_srli_epi16(v1, 4), mc)),
                                               _mm256_and_si256(_mm256_srli_epi16(v2, 2), m30));
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const int8_t *yq = X[t][b].qs + 16 * j;
                __m256i a = _mm256_dpbusd_epi32(_mm256_setzero_si256(), c0, bcast4(yq));
                a = _mm256_dpbusd_epi32(a, c1, bcast4(yq + 4));
                a = _mm256_dpbusd_epi32(a, c2, bcast4(yq + 8));
                a = _mm256_dpbusd_epi32(a, c3, bcast4(yq + 12));
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(a, sc));
            }
        }
        sk_block_end(T, acc, sumi, row_scales(B->d), X, b);
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}

/* ---- Q3_K (block_q3_Kx8): the unsigned codes u = q + 4 (0..7) from the low two bits (qs) and the
 * third (hmask), a 16-element sub-block's sum one chain of four vpdpbusd, minus 4 x its activation
 * sum (bsums), times its signed scale (vpmulld): the integers of the reference; float steps
 * acc += (d * dx) * sumi as the reference. */
static inline __attribute__((always_inline)) void q3_K_tile(const int T, const block_q3_Kx8 *W, int64_t nb, const uint8_t *x,
                                                            size_t xs, float *y, size_t ys) {
    const __m256i m3 = _mm256_set1_epi8(0x03), m4 = _mm256_set1_epi8(0x04), lo8 = _mm256_set1_epi32(0xff),
                  k32 = _mm256_set1_epi32(32);
    const block_q8_K *X[8];
    __m256 acc[8];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
        X[t] = (const block_q8_K *)(x + (size_t)t * xs);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const block_q3_Kx8 *B = &W[b];
        __m256i S[4]; /* lane r, byte e of S[q]: the scale code of sub-block 4q + e */
        q3_K_scale_codes(B->scales, S);
        __m256i sumi[8];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) sumi[t] = _mm256_setzero_si256();
        /* vectors (n, h, q) of qs / hmask serve the four sub-blocks j = 8n + 2i + h (i < 4): each pair
         * is loaded once, and a code is a shift, an and, a bit test (mask) and a masked add */
        for (int n = 0; n < 2; n++)
            for (int h = 0; h < 2; h++) {
                __m256i a[4][8];
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++)
#pragma GCC unroll 8
                    for (int t = 0; t < T; t++) a[i][t] = _mm256_setzero_si256();
#pragma GCC unroll 4
                for (int q = 0; q < 4; q++) {
                    const int g = 4 * h + q;
                    const __m256i qv = _mm256_loadu_si256((const __m256i *)(B->qs + 32 * (8 * n + g)));
                    const __m256i hv = _mm256_loadu_si256((const __m256i *)(B->hmask + 32 * g));
#pragma GCC unroll 4
                    for (int i = 0; i < 4; i++) {
                        const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(qv, 2 * i), m3);
                        const __m256i code = _mm256_mask_add_epi8(lo, _mm256_test_epi8_mask(hv, _mm256_set1_epi8((char)(1 << (4 * n + i)))), lo, m4);
                        const int j = 8 * n + 2 * i + h;
#pragma GCC unroll 8
                        for (int t = 0; t < T; t++) a[i][t] = _mm256_dpbusd_epi32(a[i][t], code, bcast4(X[t][b].qs + 16 * j + 4 * q));
                    }
                }
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) {
                    const int j = 8 * n + 2 * i + h;
                    const __m256i sc = _mm256_sub_epi32(_mm256_and_si256(_mm256_srli_epi32(S[j / 4], 8 * (j % 4)), lo8), k32);
#pragma GCC unroll 8
                    for (int t = 0; t < T; t++)
                        sumi[t] = _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(_mm256_sub_epi32(a[i][t], _mm256_set1_epi32(4 * X[t][b].bsums[j])), sc));
                }
            }
        sk_block_end(T, acc, sumi, row_scales(B->d), X, b);
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}

/* ---- Q2_K (block_q2_Kx8): the codes (0..3) from qs as Q3_K's low bits, a 16-element sub-block's sum
 * one chain of four vpdpbusd, times its scale code (vpmulld); the mins' sum by int16 pairs as in
 * AVX2; float steps the reference's (no FMA): the spec's bits, and the AVX2 kernel's. */
static inline __attribute__((always_inline)) void q2_K_tile(const int T, const block_q2_Kx8 *W, int64_t nb, const uint8_t *x,
                                                            size_t xs, float *y, size_t ys) {
    const __m256i m3 = _mm256_set1_epi8(0x03), m0f = _mm256_set1_epi8(0x0f), lo8 = _mm256_set1_epi32(0xff);
    const __m256i pair0 = _mm256_setr_epi8(0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1, 0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12,
                                           -1, 13, -1);
    const __m256i pair1 = _mm256_add_epi8(pair0, _mm256_setr_epi8(2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2,
                                                                  0, 2, 0, 2, 0));
    const block_q8_K *X[8];
    __m256 acc[8];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
        X[t] = (const block_q8_K *)(x + (size_t)t * xs);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const block_q2_Kx8 *B = &W[b];
        __m256i S[4], M[4]; /* lane r, byte e of S[q] / M[q]: the scale / min code of sub-block 4q + e */
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(B->scales + 32 * q));
            S[q] = _mm256_and_si256(v, m0f);
            M[q] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m0f);
        }
        __m256i sumi[8], summ[8];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) sumi[t] = summ[t] = _mm256_setzero_si256();
        for (int i = 0; i < 8; i++) { /* lane r of p = (m_2i, m_2i+1) as int16 */
            const __m256i p = _mm256_shuffle_epi8(M[i >> 1], i & 1 ? pair1 : pair0);
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) summ[t] = _mm256_add_epi32(summ[t], _mm256_madd_epi16(p, bcast4((const int8_t *)(X[t][b].bsums + 2 * i))));
        }
        for (int n = 0; n < 2; n++)
            for (int h = 0; h < 2; h++) {
                __m256i a[4][8];
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++)
#pragma GCC unroll 8
                    for (int t = 0; t < T; t++) a[i][t] = _mm256_setzero_si256();
#pragma GCC unroll 4
                for (int q = 0; q < 4; q++) {
                    const __m256i qv = _mm256_loadu_si256((const __m256i *)(B->qs + 32 * (8 * n + 4 * h + q)));
#pragma GCC unroll 4
                    for (int i = 0; i < 4; i++) {
                        const __m256i code = _mm256_and_si256(_mm256_srli_epi16(qv, 2 * i), m3);
                        const int j = 8 * n + 2 * i + h;
#pragma GCC unroll 8
                        for (int t = 0; t < T; t++) a[i][t] = _mm256_dpbusd_epi32(a[i][t], code, bcast4(X[t][b].qs + 16 * j + 4 * q));
                    }
                }
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) {
                    const int j = 8 * n + 2 * i + h;
                    const __m256i sc = _mm256_and_si256(_mm256_srli_epi32(S[j / 4], 8 * (j % 4)), lo8);
#pragma GCC unroll 8
                    for (int t = 0; t < T; t++) sumi[t] = _mm256_add_epi32(sumi[t], _mm256_mullo_epi32(a[i][t], sc));
                }
            }
        const __m256 dw = row_scales(B->d), dmw = row_scales(B->dmin);
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const __m256 dx = _mm256_set1_ps(X[t][b].d);
            const __m256 p = _mm256_mul_ps(_mm256_mul_ps(dx, dw), _mm256_cvtepi32_ps(sumi[t]));
            const __m256 m = _mm256_mul_ps(_mm256_mul_ps(dx, dmw), _mm256_cvtepi32_ps(summ[t]));
            acc[t] = _mm256_add_ps(acc[t], _mm256_sub_ps(p, m));
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}

/* ---- IQ4_XS (block_iq4_xsx8): codebook values + 128 (unsigned, by a byte shuffle of the nibbles), a
 * 32-element sub-block's sum one chain of eight vpdpbusd, minus 128 x its activation sum; then per
 * sub-block, as the vec_dot spec, acc += ((d * dx) * (ls - 32)) * (float)sum, multiplied and added
 * (no FMA): the spec's float steps, so its bits. */
static inline __attribute__((always_inline)) void iq4_xs_tile(const int T, const block_iq4_xsx8 *W, int64_t nb, const uint8_t *x,
                                                              size_t xs, float *y, size_t ys) {
    const __m256i m0f = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi32(3), k32 = _mm256_set1_epi32(32);
    const __m256i tbl = iq4_values_u8_x2(); /* kvalues_iq4nl + 128 */
    const block_q8_K *X[8];
    __m256 acc[8];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) {
        X[t] = (const block_q8_K *)(x + (size_t)t * xs);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const block_iq4_xsx8 *B = &W[b];
        const __m256 dw = row_scales(B->d);
        const __m256i sl = _mm256_loadu_si256((const __m256i *)B->scales_l);
        const __m256i sh = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)B->scales_h));
        __m256 d4d8[8];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) d4d8[t] = _mm256_mul_ps(dw, _mm256_set1_ps(X[t][b].d));
        for (int ib = 0; ib < 8; ib++) {
            const __m256i ls = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(sl, 8 * (ib / 2) + 4 * (ib % 2)), _mm256_set1_epi32(0xf)),
                                               _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(sh, 2 * ib), m3), 4));
            const __m256 lsf = _mm256_cvtepi32_ps(_mm256_sub_epi32(ls, k32));
            __m256i a[8];
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) a[t] = _mm256_set1_epi32(-128 * ((int32_t)X[t][b].bsums[2 * ib] + X[t][b].bsums[2 * ib + 1]));
#pragma GCC unroll 4
            for (int g = 0; g < 4; g++) {
                const __m256i v = _mm256_loadu_si256((const __m256i *)(B->qs + 32 * (4 * ib + g)));
                const __m256i lo = _mm256_shuffle_epi8(tbl, _mm256_and_si256(v, m0f));
                const __m256i hi = _mm256_shuffle_epi8(tbl, _mm256_and_si256(_mm256_srli_epi16(v, 4), m0f));
#pragma GCC unroll 8
                for (int t = 0; t < T; t++) {
                    a[t] = _mm256_dpbusd_epi32(a[t], lo, bcast4(X[t][b].qs + 32 * ib + 4 * g));
                    a[t] = _mm256_dpbusd_epi32(a[t], hi, bcast4(X[t][b].qs + 32 * ib + 16 + 4 * g));
                }
            }
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_mul_ps(d4d8[t], lsf), _mm256_cvtepi32_ps(a[t])));
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}

/* tiles of 8 tokens, then 4, then 1 */
static inline __attribute__((always_inline)) void gemm8_k(const int kt, int64_t k, const void *w, const void *x, size_t xs, int n_tok,
                                                          float *y, size_t ys) {
    const int64_t nb = k / QK_K;
    const uint8_t *xb = x;
    int c = 0;
#define KQ_TILE(T) (kt == 6   ? q6_K_tile(T, w, nb, xb + (size_t)c * xs, xs, y + (size_t)c * ys, ys) \
                    : kt == 3 ? q3_K_tile(T, w, nb, xb + (size_t)c * xs, xs, y + (size_t)c * ys, ys) \
                    : kt == 2 ? q2_K_tile(T, w, nb, xb + (size_t)c * xs, xs, y + (size_t)c * ys, ys) \
                    : kt == 7 ? iq4_xs_tile(T, w, nb, xb + (size_t)c * xs, xs, y + (size_t)c * ys, ys) \
                              : q4_K_tile(kt == 5, T, w, nb, xb + (size_t)c * xs, xs, y + (size_t)c * ys, ys))
    if (kt != 3 && kt != 2) /* Q2_K, Q3_K: four sub-blocks x the tokens of accumulators; 8 tokens would spill */
        for (; c + 8 <= n_tok; c += 8) KQ_TILE(8);
    for (; c + 4 <= n_tok; c += 4) KQ_TILE(4);
    for (; c < n_tok; c++) KQ_TILE(1);
#undef KQ_TILE
}

/* the entry points: kt 2, 3, 4, 5, 6 = Q2_K ... Q6_K, 7 = IQ4_XS */
#define KQ_ENTRY(NAME, KT)                                                                                     \
    void NAME(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y, size_t ys) { \
        (void)xsum;                                                                                            \
        gemm8_k(KT, k, w, x, xs, n_tok, y, ys);                                                                \
    }
KQ_ENTRY(zk_gemm8_q2_K_avx512vnni, 2)
KQ_ENTRY(zk_gemm8_q3_K_avx512vnni, 3)
KQ_ENTRY(zk_gemm8_q4_K_avx512vnni, 4)
KQ_ENTRY(zk_gemm8_q5_K_avx512vnni, 5)
KQ_ENTRY(zk_gemm8_q6_K_avx512vnni, 6)
KQ_ENTRY(zk_gemm8_iq4_xs_avx512vnni, 7)
#undef KQ_ENTRY

/* ---- F16 / BF16 (block_f16x8) against f32 activations: AVX-512F, one 16-lane accumulator per
 * (row, token), the 8 rows x up to 3 tokens (24 accumulators of the 32 registers) ---- */

#if defined(__clang__)
#define F8_UNROLL _Pragma("unroll")
#else
#define F8_UNROLL _Pragma("GCC unroll 8")
#endif

static inline __attribute__((always_inline)) __m512 cvt16_2byte(bool bf16, const uint16_t *p) {
    const __m256i h = _mm256_loadu_si256((const __m256i *)p);
    return bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)) : _mm512_cvtph_ps(h);
}

static inline __attribute__((always_inline)) void f8_tile(bool bf16, int NT, int64_t nb, const block_f16x8 *W, const float *x,
                                                          size_t xs, float *y, size_t ys) {
    __m512 acc[8][3];
    F8_UNROLL
    for (int r = 0; r < 8; r++)
        F8_UNROLL
        for (int t = 0; t < NT; t++) acc[r][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m512 xv[3];
        F8_UNROLL
        for (int t = 0; t < NT; t++) xv[t] = _mm512_loadu_ps((const float *)((const uint8_t *)x + (size_t)t * xs) + 16 * b);
        F8_UNROLL
        for (int r = 0; r < 8; r++) {
            const __m512 wv = cvt16_2byte(bf16, W[b].v[r]);
            F8_UNROLL
            for (int t = 0; t < NT; t++) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
        }
    }
    F8_UNROLL
    for (int t = 0; t < NT; t++)
        F8_UNROLL
        for (int r = 0; r < 8; r++) y[(size_t)t * ys + (size_t)r] = _mm512_reduce_add_ps(acc[r][t]);
}

static inline __attribute__((always_inline)) void gemm8_2byte(bool bf16, int64_t k, const void *w, const void *x, size_t xs,
                                                              int n_tok, float *y, size_t ys) {
    const block_f16x8 *W = w;
    const int64_t nb = k / 16;
    const uint8_t *X = x;
    int c = 0;
    for (; c + 3 <= n_tok; c += 3) f8_tile(bf16, 3, nb, W, (const float *)(X + (size_t)c * xs), xs, y + (size_t)c * ys, ys);
    if (n_tok - c == 2) f8_tile(bf16, 2, nb, W, (const float *)(X + (size_t)c * xs), xs, y + (size_t)c * ys, ys);
    else if (n_tok - c == 1) f8_tile(bf16, 1, nb, W, (const float *)(X + (size_t)c * xs), xs, y + (size_t)c * ys, ys);
}

static void gemm8_f16(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y, size_t ys) {
    (void)xsum;
    gemm8_2byte(false, k, w, x, xs, n_tok, y, ys);
}

static void gemm8_bf16(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y, size_t ys) {
    (void)xsum;
    gemm8_2byte(true, k, w, x, xs, n_tok, y, ys);
}

static const zk_gemm_table k_gemm_avx512vnni = {
    .name = "avx512vnni",
    .gemm8 = {[ZETA_TYPE_Q4_0] = gemm8_q4_0, [ZETA_TYPE_Q8_0] = gemm8_q8_0, [ZETA_TYPE_Q5_0] = gemm8_q5_0, [ZETA_TYPE_IQ4_NL] = gemm8_iq4_nl,
              [ZETA_TYPE_Q4_1] = gemm8_q4_1, [ZETA_TYPE_Q5_1] = gemm8_q5_1,
              [ZETA_TYPE_Q2_K] = zk_gemm8_q2_K_avx512vnni, [ZETA_TYPE_Q3_K] = zk_gemm8_q3_K_avx512vnni, [ZETA_TYPE_Q4_K] = zk_gemm8_q4_K_avx512vnni,
              [ZETA_TYPE_Q5_K] = zk_gemm8_q5_K_avx512vnni, [ZETA_TYPE_IQ4_XS] = zk_gemm8_iq4_xs_avx512vnni,
              [ZETA_TYPE_Q6_K] = zk_gemm8_q6_K_avx512vnni,
              [ZETA_TYPE_F16] = gemm8_f16, [ZETA_TYPE_BF16] = gemm8_bf16},
};

const zk_gemm_table *zk_gemm_avx512vnni(void) { return &k_gemm_avx512vnni; }
