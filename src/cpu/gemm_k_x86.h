/* gemm_k_x86.h — the end of a packed Q4_K super-block for one token, the Q3_K scale decode and the IQ4 codebook vectors, shared by the AVX2
 * (kernels_avx2_gemmk.c) and AVX-512 VNNI (kernels_avx512vnni_gemm.c) tiles; each includes it and
 * compiles it with its own flags (AVX2 + FMA at least). */
#ifndef ZETA_GEMM_K_X86_H
#define ZETA_GEMM_K_X86_H

#include "cpu/gemm_k.h"

#include <immintrin.h>

/* acc + d * dx * sumi - dmin * dx * summ (the reference's float steps, fused), where lane r of summ is
 * sum_j m_j * (sum of sub-block j's 32 activations): from the Q8_K block's bsums and the row's mins
 * as int16 pairs, lane r of mp[i] = (m_2i, m_2i+1) */
static inline __attribute__((always_inline)) __m256 q4_K_block_end(__m256 acc, __m256i sumi, const block_q8_K *xb, const __m256i mp[4],
                                                                   __m256 dw, __m256 dmw) {
    const int16_t *bs = xb->bsums;
    /* int16 j of s8 = sum of sub-block j's 32 activations (|.| <= 4096) */
    const __m128i s8 = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bs), _mm_loadu_si128((const __m128i *)(bs + 8)));
    const __m256i S = _mm256_broadcastsi128_si256(s8);
    const __m256i summ = _mm256_add_epi32(
        _mm256_add_epi32(_mm256_madd_epi16(mp[0], _mm256_shuffle_epi32(S, 0x00)), _mm256_madd_epi16(mp[1], _mm256_shuffle_epi32(S, 0x55))),
        _mm256_add_epi32(_mm256_madd_epi16(mp[2], _mm256_shuffle_epi32(S, 0xaa)), _mm256_madd_epi16(mp[3], _mm256_shuffle_epi32(S, 0xff))));
    const __m256 dx = _mm256_set1_ps(xb->d);
    acc = _mm256_fmadd_ps(_mm256_mul_ps(dw, dx), _mm256_cvtepi32_ps(sumi), acc);
    return _mm256_fnmadd_ps(_mm256_mul_ps(dmw, dx), _mm256_cvtepi32_ps(summ), acc);
}

/* lane r, byte e of S[q]: the 6-bit scale code (0..63, the scale + 32) of row r's sub-block 4q + e,
 * from block_q3_Kx8's 3 scale vectors (block_q3_K's packing: low nibbles in bytes 0-7, the top two
 * bits in bytes 8-11) */
static inline __attribute__((always_inline)) void q3_K_scale_codes(const uint8_t *scales, __m256i S[4]) {
    const __m256i m3 = _mm256_set1_epi8(0x03), m0f = _mm256_set1_epi8(0x0f);
    const __m256i u0 = _mm256_loadu_si256((const __m256i *)scales), u1 = _mm256_loadu_si256((const __m256i *)(scales + 32)),
                  u2 = _mm256_loadu_si256((const __m256i *)(scales + 64));
    S[0] = _mm256_or_si256(_mm256_and_si256(u0, m0f), _mm256_slli_epi16(_mm256_and_si256(u2, m3), 4));
    S[1] = _mm256_or_si256(_mm256_and_si256(u1, m0f), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(u2, 2), m3), 4));
    S[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(u0, 4), m0f), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(u2, 4), m3), 4));
    S[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(u1, 4), m0f), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(u2, 6), m3), 4));
}

/* the IQ4 codebook in both 128-bit halves, for a byte shuffle by nibble: signed, and + 128 (unsigned,
 * for vpdpbusd) */
static inline __attribute__((always_inline)) __m256i iq4_values_x2(void) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)zk_iq4_values));
}
static inline __attribute__((always_inline)) __m256i iq4_values_u8_x2(void) {
    return _mm256_xor_si256(iq4_values_x2(), _mm256_set1_epi8((char)0x80)); /* v + 128 */
}

#endif
