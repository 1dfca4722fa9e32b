/* kernels_avx512vnni_gemm.c — the products over 8-row packed Q4_0 / Q8_0 weights (layouts in
 * gemm.h) with AVX512_VNNI's vpdpbusd on 256-bit vectors (AVX512VL): one lane per weight row, as the
 * AVX2 version, but each group of 4 products is one instruction (u8 x s8, summed into int32) where
 * AVX2 takes maddubs, an int16 add and madd, and with 32 vector registers a tile holds 8 tokens, so
 * each unpacked weight vector serves 8 tokens (then 4, then 1).
 *   Q4_0: the stored nibbles (0..15) are the unsigned operand and the activation codes the signed
 *         one; the block's -8 comes back as 8 * (sum of the activation's codes), as in AVX2.
 *   Q8_0: the sign trick: |w| unsigned (-128 -> 128), the activation takes the weight's sign
 *         (exact: our quantizer's codes are in [-127, 127]).
 * Integer sums are exact and the float steps are the AVX2 kernels' (and gemm_ref.c's): per block
 * acc += (float)isum * (d_w * d_x), blocks in order; the 1-token Q8_0 tile sums two half ranges as
 * the AVX2 one does. So the results are the AVX2 kernels' bits. Compiled with FLAGS_avx512
 * -mavx512vnni. */
#include "cpu/gemm.h"
#include "cpu/gemm_k.h"

#include <immintrin.h>
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

/* N tokens (1..8, a constant after inlining) at x, xs bytes apart: y[c * ys + r] for rows r < 8 */
static inline __attribute__((always_inline)) void q4_tile(const int N, const block_q4_0x8 *W, int64_t nb, const uint8_t *x,
                                                          size_t xs, const int32_t *xsum, float *y, size_t ys) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 a[8];
#pragma GCC unroll 8
    for (int c = 0; c < N; c++) a[c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i s[8];
#pragma GCC unroll 8
        for (int c = 0; c < N; c++) s[c] = _mm256_set1_epi32(-8 * xsum[(size_t)c * (size_t)nb + (size_t)b]);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(W[b].qs + 32 * j));
            const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
#pragma GCC unroll 8
            for (int c = 0; c < N; c++) {
                const int8_t *q = ((const block_q8_0 *)(x + (size_t)c * xs))[b].qs + 8 * j;
                s[c] = _mm256_dpbusd_epi32(s[c], lo, bcast4(q));
                s[c] = _mm256_dpbusd_epi32(s[c], hi, bcast4(q + 4));
            }
        }
        const __m256 dw = row_scales(W[b].d);
#pragma GCC unroll 8
        for (int c = 0; c < N; c++) a[c] = scaled(a[c], s[c], dw, ((const block_q8_0 *)(x + (size_t)c * xs))[b].d);
    }
#pragma GCC unroll 8
    for (int c = 0; c < N; c++) _mm256_storeu_ps(y + (size_t)c * ys, a[c]);
}

static void gemm8_q4_0(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y,
                       size_t ys) {
    const int64_t nb = k / 32;
    const uint8_t *xb = x;
    int c = 0;
    for (; c + 8 <= n_tok; c += 8) q4_tile(8, w, nb, xb + (size_t)c * xs, xs, xsum + (size_t)c * (size_t)nb, y + (size_t)c * ys, ys);
    for (; c + 4 <= n_tok; c += 4) q4_tile(4, w, nb, xb + (size_t)c * xs, xs, xsum + (size_t)c * (size_t)nb, y + (size_t)c * ys, ys);
    for (; c < n_tok; c++) q4_tile(1, w, nb, xb + (size_t)c * xs, xs, xsum + (size_t)c * (size_t)nb, y + (size_t)c * ys, ys);
}

/* the 32 products of weight vector v (8 rows x 4 values) with 4 activation codes at q */
static inline __m256i q8_dot4(__m256i s, __m256i av, __m256i v, const int8_t *q) {
    return _mm256_dpbusd_epi32(s, av, _mm256_sign_epi8(bcast4(q), v));
}

static inline __attribute__((always_inline)) void q8_tile(const int N, const block_q8_0x8 *W, int64_t nb, const uint8_t *x,
                                                          size_t xs, float *y, size_t ys) {
    __m256 a[8];
#pragma GCC unroll 8
    for (int c = 0; c < N; c++) a[c] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i s[8];
#pragma GCC unroll 8
        for (int c = 0; c < N; c++) s[c] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(W[b].qs + 32 * g));
            const __m256i av = _mm256_abs_epi8(v); /* -128 -> 0x80, read as 128 unsigned */
#pragma GCC unroll 8
            for (int c = 0; c < N; c++) s[c] = q8_dot4(s[c], av, v, ((const block_q8_0 *)(x + (size_t)c * xs))[b].qs + 4 * g);
        }
        const __m256 dw = row_scales(W[b].d);
#pragma GCC unroll 8
        for (int c = 0; c < N; c++) a[c] = scaled(a[c], s[c], dw, ((const block_q8_0 *)(x + (size_t)c * xs))[b].d);
    }
#pragma GCC unroll 8
    for (int c = 0; c < N; c++) _mm256_storeu_ps(y + (size_t)c * ys, a[c]);
}

/* one token, Q8_0 block Wb: 8 int32 lanes */
static inline __m256i q8_block(const block_q8_0x8 *Wb, const int8_t *q) {
    __m256i s0 = _mm256_setzero_si256(), s1 = s0;
#pragma GCC unroll 4
    for (int g = 0; g < 8; g += 2) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(Wb->qs + 32 * g));
        const __m256i u = _mm256_loadu_si256((const __m256i *)(Wb->qs + 32 * g + 32));
        s0 = q8_dot4(s0, _mm256_abs_epi8(v), v, q + 4 * g);
        s1 = q8_dot4(s1, _mm256_abs_epi8(u), u, q + 4 * g + 4);
    }
    return _mm256_add_epi32(s0, s1);
}

/* as the AVX2 q8_tile1: two halves of the blocks as two streams, each prefetched Q8_AHEAD bytes
 * ahead, summed separately in block order, then added */
#define Q8_AHEAD 1024
static inline void prefetch_q8x8(const char *p) {
    for (int i = 0; i < 5; i++) _mm_prefetch(p + 64 * i, _MM_HINT_T0);
}

static void q8_tile1(const block_q8_0x8 *W, int64_t nb, const block_q8_0 *X, float *y) {
    const int64_t h = nb / 2;
    const block_q8_0x8 *W1 = W + h;
    const block_q8_0 *X1 = X + h;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int64_t b = 0; b < h; b++) {
        prefetch_q8x8((const char *)&W[b] + Q8_AHEAD);
        prefetch_q8x8((const char *)&W1[b] + Q8_AHEAD);
        a0 = scaled(a0, q8_block(&W[b], X[b].qs), row_scales(W[b].d), X[b].d);
        a1 = scaled(a1, q8_block(&W1[b], X1[b].qs), row_scales(W1[b].d), X1[b].d);
    }
    if (nb & 1) a1 = scaled(a1, q8_block(&W[nb - 1], X[nb - 1].qs), row_scales(W[nb - 1].d), X[nb - 1].d);
    _mm256_storeu_ps(y, _mm256_add_ps(a0, a1));
}

static void gemm8_q8_0(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y,
                       size_t ys) {
    (void)xsum;
    const int64_t nb = k / 32;
    const uint8_t *xb = x;
    int c = 0;
    for (; c + 8 <= n_tok; c += 8) q8_tile(8, w, nb, xb + (size_t)c * xs, xs, y + (size_t)c * ys, ys);
    for (; c + 4 <= n_tok; c += 4) q8_tile(4, w, nb, xb + (size_t)c * xs, xs, y + (size_t)c * ys, ys);
    for (; c < n_tok; c++) q8_tile1(w, nb, (const block_q8_0 *)(xb + (size_t)c * xs), y + (size_t)c * ys);
}

static const zk_gemm_table k_gemm_avx512vnni = {
    .name = "avx512vnni",
    .gemm8 = {[ZETA_TYPE_Q4_0] = gemm8_q4_0, [ZETA_TYPE_Q8_0] = gemm8_q8_0,
              [ZETA_TYPE_Q4_K] = zk_gemm8_q4_K_avx2, [ZETA_TYPE_Q6_K] = zk_gemm8_q6_K_avx2},
};

const zk_gemm_table *zk_gemm_avx512vnni(void) { return &k_gemm_avx512vnni; }
