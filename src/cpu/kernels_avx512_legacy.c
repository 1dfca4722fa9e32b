/* kernels_avx512_legacy.c — AVX-512 (F, BW, VL, DQ) kernels of the legacy types (kernels_legacy.h):
 * dots of Q4_1 / Q5_1 weights with Q8_1 activations and of Q5_0 weights with Q8_0 activations, and
 * the Q8_1 activation quantizer. This whole file is compiled with -mavx512f -mavx512bw -mavx512vl
 * -mavx512dq -mavx2 -mfma -mf16c and only called after cpu_features.c has checked the CPU and the
 * OS-enabled ZMM state. Semantics are kernels_scalar_legacy.c's: the integer block dots are exact,
 * the f32 sums may run in a different order, and the Q8_1 quantizer gives the scalar bytes exactly.
 *
 * Two blocks per 512-bit register, elements in order (lanes 0-31: block i, 32-63: block i+1), so
 * the 64 fifth bits of two Q5 blocks are exactly one 64-bit byte mask. Codes are unsigned, so
 * maddubs multiplies them with the int8 activations directly; Q5_0's offset of 16 is removed as
 * sum(u*y) - sum(16*y). Every int16 partial sum stays below 2^15 for any int8 activation. */
#include "kernels_legacy.h"

#include <immintrin.h>
#include <string.h>

/* Rounding immediate: to nearest, ties to even, whatever MXCSR says; no exceptions. */
enum { ROUND_NEAREST_EVEN = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC };

static inline float f16(zeta_f16 h) { return _cvtsh_ss(h); }

static inline uint32_t load_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline float hsum128(__m128 s) {
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Products of 4 f16 pairs, converted 4 at a time: [a0*b0, a1*b1, a2*b2, a3*b3]. */
static inline __m128 mul_f16x4(zeta_f16 a0, zeta_f16 a1, zeta_f16 a2, zeta_f16 a3,
                               zeta_f16 b0, zeta_f16 b1, zeta_f16 b2, zeta_f16 b3) {
    const __m128i ha = _mm_setr_epi16((short)a0, (short)a1, (short)a2, (short)a3, 0, 0, 0, 0);
    const __m128i hb = _mm_setr_epi16((short)b0, (short)b1, (short)b2, (short)b3, 0, 0, 0, 0);
    return _mm_mul_ps(_mm_cvtph_ps(ha), _mm_cvtph_ps(hb));
}

/* Scales of blocks (0,1) and (2,3) of a 4-vector as [8 x first, 8 x second]. */
static inline __m512 spread_01(__m128 s4) {
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), _mm512_castps128_ps512(s4));
}
static inline __m512 spread_23(__m128 s4) {
    return _mm512_permutexvar_ps(_mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3), _mm512_castps128_ps512(s4));
}

/* One block's scale in lanes 0-7, zero in lanes 8-15 (a tail block paired with itself). */
static inline __m512 scale_lo(float v) { return _mm512_maskz_mov_ps(0x00ff, _mm512_set1_ps(v)); }

static inline __m512i load_2x32(const int8_t *p0, const int8_t *p1) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p0)),
                              _mm256_loadu_si256((const __m256i *)p1), 1);
}

/* The 4-bit codes of two blocks' qs as [q0 low nibbles, q0 high, q1 low, q1 high] = elements
 * 0..31 of each block in order. */
static inline __m512i nibbles_2(const uint8_t *qs0, const uint8_t *qs1) {
    const __m256i raw = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)qs0)),
                                                _mm_loadu_si128((const __m128i *)qs1), 1);
    const __m512i dup = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3), _mm512_castsi256_si512(raw));
    const __m512i nib = _mm512_srlv_epi64(dup, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4));
    return _mm512_and_si512(nib, _mm512_set1_epi8(0x0f));
}

/* Adds the fifth bits (qh words h0, h1) as 16 to the nibbles: 5-bit codes 0..31. */
static inline __m512i with_fifth_bits(__m512i nib, uint32_t h0, uint32_t h1) {
    const __mmask64 hm = _cvtu64_mask64(((uint64_t)h1 << 32) | h0);
    return _mm512_mask_add_epi8(nib, hm, nib, _mm512_set1_epi8(16));
}

/* sum u * y per block pair as int32 (lanes 0-7: first block). */
static inline __m512i udot_2(__m512i u, __m512i y) {
    return _mm512_madd_epi16(_mm512_maddubs_epi16(u, y), _mm512_set1_epi16(1));
}

/* sum (u - 16) * y per block pair as int32 (lanes 0-7: first block). */
static inline __m512i sdot16_2(__m512i u, __m512i y) {
    const __m512i p = _mm512_maddubs_epi16(u, y);
    const __m512i c = _mm512_maddubs_epi16(_mm512_set1_epi8(16), y);
    return _mm512_madd_epi16(_mm512_sub_epi16(p, c), _mm512_set1_epi16(1));
}

/* ---- Q4_1 x Q8_1 ----------------------------------------------------------------------------- */

void zk_vec_dot_q4_1_avx512(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / 32;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 d4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        accm = _mm_add_ps(accm, mul_f16x4(a[i].m, a[i + 1].m, a[i + 2].m, a[i + 3].m, b[i].s, b[i + 1].s, b[i + 2].s, b[i + 3].s));
        const __m512i p0 = udot_2(nibbles_2(a[i].qs, a[i + 1].qs), load_2x32(b[i].qs, b[i + 1].qs));
        const __m512i p1 = udot_2(nibbles_2(a[i + 2].qs, a[i + 3].qs), load_2x32(b[i + 2].qs, b[i + 3].qs));
        acc0 = _mm512_fmadd_ps(spread_01(d4), _mm512_cvtepi32_ps(p0), acc0);
        acc1 = _mm512_fmadd_ps(spread_23(d4), _mm512_cvtepi32_ps(p1), acc1);
    }
    float summ = 0.0f;
    for (; i < nb; i++) { /* tail: the block paired with itself, the upper half's scale is zero */
        const __m512i p = udot_2(nibbles_2(a[i].qs, a[i].qs), load_2x32(b[i].qs, b[i].qs));
        acc0 = _mm512_fmadd_ps(scale_lo(f16(a[i].d) * f16(b[i].d)), _mm512_cvtepi32_ps(p), acc0);
        summ += f16(a[i].m) * f16(b[i].s);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + (hsum128(accm) + summ);
}

/* ---- Q5_1 x Q8_1 ----------------------------------------------------------------------------- */

static inline __m512i codes_q5_2(const block_q5_1 *a0, const block_q5_1 *a1) {
    return with_fifth_bits(nibbles_2(a0->qs, a1->qs), load_u32(a0->qh), load_u32(a1->qh));
}

void zk_vec_dot_q5_1_avx512(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / 32;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 d4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        accm = _mm_add_ps(accm, mul_f16x4(a[i].m, a[i + 1].m, a[i + 2].m, a[i + 3].m, b[i].s, b[i + 1].s, b[i + 2].s, b[i + 3].s));
        const __m512i p0 = udot_2(codes_q5_2(&a[i], &a[i + 1]), load_2x32(b[i].qs, b[i + 1].qs));
        const __m512i p1 = udot_2(codes_q5_2(&a[i + 2], &a[i + 3]), load_2x32(b[i + 2].qs, b[i + 3].qs));
        acc0 = _mm512_fmadd_ps(spread_01(d4), _mm512_cvtepi32_ps(p0), acc0);
        acc1 = _mm512_fmadd_ps(spread_23(d4), _mm512_cvtepi32_ps(p1), acc1);
    }
    float summ = 0.0f;
    for (; i < nb; i++) {
        const __m512i p = udot_2(codes_q5_2(&a[i], &a[i]), load_2x32(b[i].qs, b[i].qs));
        acc0 = _mm512_fmadd_ps(scale_lo(f16(a[i].d) * f16(b[i].d)), _mm512_cvtepi32_ps(p), acc0);
        summ += f16(a[i].m) * f16(b[i].s);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + (hsum128(accm) + summ);
}

/* ---- Q5_0 x Q8_0 ----------------------------------------------------------------------------- */

static inline __m512i codes_q5_0_2(const block_q5_0 *a0, const block_q5_0 *a1) {
    return with_fifth_bits(nibbles_2(a0->qs, a1->qs), load_u32(a0->qh), load_u32(a1->qh));
}

void zk_vec_dot_q5_0_avx512(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_0 *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 d4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        const __m512i p0 = sdot16_2(codes_q5_0_2(&a[i], &a[i + 1]), load_2x32(b[i].qs, b[i + 1].qs));
        const __m512i p1 = sdot16_2(codes_q5_0_2(&a[i + 2], &a[i + 3]), load_2x32(b[i + 2].qs, b[i + 3].qs));
        acc0 = _mm512_fmadd_ps(spread_01(d4), _mm512_cvtepi32_ps(p0), acc0);
        acc1 = _mm512_fmadd_ps(spread_23(d4), _mm512_cvtepi32_ps(p1), acc1);
    }
    for (; i < nb; i++) {
        const __m512i p = sdot16_2(codes_q5_0_2(&a[i], &a[i]), load_2x32(b[i].qs, b[i].qs));
        acc0 = _mm512_fmadd_ps(scale_lo(f16(a[i].d) * f16(b[i].d)), _mm512_cvtepi32_ps(p), acc0);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

/* ---- the Q8_1 activation quantizer (byte-identical to kernels_scalar_legacy.c) -------------- */

/* Sum of 16 int32 lanes, wrapping like the scalar's (the intrinsics' adds are unsigned). */
static inline int hsum_i32_wrapping(__m512i v) {
    const __m256i s8 = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
    s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
    return _mm_cvtsi128_si32(s4);
}

void zk_from_float_q8_1_avx512(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    const int64_t nb = n / 32;
    for (int64_t i = 0; i < nb; i++, x += 32) {
        const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        /* the max of non-NaN values does not depend on the reduction order */
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float d = amax / 127.0f;
        const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
        /* cvtps_epi32 gives INT32_MIN for NaN / out of range; cvtsepi32_epi8 saturates like packs */
        const __m512i i0 = _mm512_cvtps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(v0, id), ROUND_NEAREST_EVEN));
        const __m512i i1 = _mm512_cvtps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(v1, id), ROUND_NEAREST_EVEN));
        const int sum = hsum_i32_wrapping(_mm512_add_epi32(i0, i1));
        y[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT); /* = zeta_f32_to_f16 */
        y[i].s = _cvtss_sh(d * (float)sum, _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128((__m128i *)y[i].qs, _mm512_cvtsepi32_epi8(i0));
        _mm_storeu_si128((__m128i *)(y[i].qs + 16), _mm512_cvtsepi32_epi8(i1));
    }
}
