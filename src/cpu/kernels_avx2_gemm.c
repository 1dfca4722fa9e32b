/* kernels_avx2_gemm.c — AVX2 products over 8-row packed Q4_0 / Q8_0 weights (layouts in gemm.h):
 * one 256-bit lane per weight row, activation values broadcast 4 at a time, tiles of 4 tokens so
 * each unpacked weight vector is used 4 times. Compiled with -mavx2 -mfma -mf16c; integer sums are
 * exact and the float steps match gemm_ref.c (s * (d_w * d_x), added block by block). */
#include "cpu/gemm.h"

#include <immintrin.h>
#include <string.h>

static inline __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

static inline float f16f(zeta_f16 h) { return _cvtsh_ss(h); }

static inline __attribute__((always_inline)) void q4_tile(const block_q4_0x8 *W, int64_t nb, const uint8_t *x,
                                                          size_t xs, const int32_t *xsum, const int NC, float *y,
                                                          size_t ys) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256 acc[4];
    for (int i = 0; i < NC; i++) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i s16[4];
        const block_q8_0 *X[4];
        for (int i = 0; i < NC; i++) {
            X[i] = (const block_q8_0 *)(x + (size_t)i * xs) + b;
            s16[i] = _mm256_setzero_si256();
        }
        for (int j = 0; j < 4; j++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(W[b].qs + 32 * j));
            const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            for (int i = 0; i < NC; i++) {
                s16[i] = _mm256_add_epi16(s16[i], _mm256_maddubs_epi16(lo, bcast4(X[i]->qs + 8 * j)));
                s16[i] = _mm256_add_epi16(s16[i], _mm256_maddubs_epi16(hi, bcast4(X[i]->qs + 8 * j + 4)));
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)W[b].d));
        for (int i = 0; i < NC; i++) {
            __m256i s32 = _mm256_madd_epi16(s16[i], ones);
            s32 = _mm256_sub_epi32(s32, _mm256_set1_epi32(8 * xsum[(size_t)i * (size_t)nb + (size_t)b]));
            const __m256 sc = _mm256_mul_ps(dw, _mm256_set1_ps(f16f(X[i]->d)));
            acc[i] = _mm256_add_ps(acc[i], _mm256_mul_ps(_mm256_cvtepi32_ps(s32), sc));
        }
    }
    for (int i = 0; i < NC; i++) _mm256_storeu_ps(y + (size_t)i * ys, acc[i]);
}

static void gemm8_q4_0(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y,
                       size_t ys) {
    const int64_t nb = k / 32;
    int c = 0;
    for (; c + 4 <= n_tok; c += 4)
        q4_tile(w, nb, (const uint8_t *)x + (size_t)c * xs, xs, xsum + (size_t)c * (size_t)nb, 4, y + (size_t)c * ys, ys);
    for (; c < n_tok; c++)
        q4_tile(w, nb, (const uint8_t *)x + (size_t)c * xs, xs, xsum + (size_t)c * (size_t)nb, 1, y + (size_t)c * ys, ys);
}

static inline __attribute__((always_inline)) void q8_tile(const block_q8_0x8 *W, int64_t nb, const uint8_t *x,
                                                          size_t xs, const int NC, float *y, size_t ys) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4];
    for (int i = 0; i < NC; i++) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i s32[4];
        const block_q8_0 *X[4];
        for (int i = 0; i < NC; i++) {
            X[i] = (const block_q8_0 *)(x + (size_t)i * xs) + b;
            s32[i] = _mm256_setzero_si256();
        }
        for (int g = 0; g < 8; g++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(W[b].qs + 32 * g));
            const __m256i av = _mm256_sign_epi8(v, v);
            for (int i = 0; i < NC; i++) {
                const __m256i p = _mm256_maddubs_epi16(av, _mm256_sign_epi8(bcast4(X[i]->qs + 4 * g), v));
                s32[i] = _mm256_add_epi32(s32[i], _mm256_madd_epi16(p, ones));
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)W[b].d));
        for (int i = 0; i < NC; i++) {
            const __m256 sc = _mm256_mul_ps(dw, _mm256_set1_ps(f16f(X[i]->d)));
            acc[i] = _mm256_add_ps(acc[i], _mm256_mul_ps(_mm256_cvtepi32_ps(s32[i]), sc));
        }
    }
    for (int i = 0; i < NC; i++) _mm256_storeu_ps(y + (size_t)i * ys, acc[i]);
}

static void gemm8_q8_0(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y,
                       size_t ys) {
    (void)xsum;
    const int64_t nb = k / 32;
    int c = 0;
    for (; c + 4 <= n_tok; c += 4) q8_tile(w, nb, (const uint8_t *)x + (size_t)c * xs, xs, 4, y + (size_t)c * ys, ys);
    for (; c < n_tok; c++) q8_tile(w, nb, (const uint8_t *)x + (size_t)c * xs, xs, 1, y + (size_t)c * ys, ys);
}

static const zk_gemm_table k_gemm_avx2 = {
    .name = "avx2",
    .gemm8 = {[ZETA_TYPE_Q4_0] = gemm8_q4_0, [ZETA_TYPE_Q8_0] = gemm8_q8_0},
};

const zk_gemm_table *zk_gemm_avx2(void) { return &k_gemm_avx2; }
