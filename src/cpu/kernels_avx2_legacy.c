/* kernels_avx2_legacy.c — AVX2 + FMA + F16C kernels of the legacy types (kernels_legacy.h): dots of
 * Q4_1 / Q5_1 weights with Q8_1 activations and of Q5_0 weights with Q8_0 activations, and the Q8_1
 * activation quantizer. This whole file is compiled with -mavx2 -mfma -mf16c and only called after
 * cpu_features.c has checked the CPU. Semantics are kernels_scalar_legacy.c's: the integer block
 * dots are exact, the f32 sums may run in a different order, and the Q8_1 quantizer gives the
 * scalar bytes exactly.
 *
 * The dots take two blocks per 256-bit register: the low 128-bit lane holds block i, the high one
 * block i+1. Codes are unsigned (0..15 or 0..31), so maddubs multiplies them with the signed int8
 * activations directly; Q5_0's offset of 16 is removed as sum(u*y) - sum(16*y). Every int16 partial
 * sum stays below 2^15 for any int8 activation. */
#include "kernels_legacy.h"

#include <immintrin.h>
#include <string.h>

/* Rounding immediate: to nearest, ties to even, whatever MXCSR says; no exceptions. */
enum { ROUND_NEAREST_EVEN = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC };

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float hsum128(__m128 s) {
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float f16(zeta_f16 h) { return _cvtsh_ss(h); }

static inline uint32_t load_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Products of 4 f16 pairs, converted 4 at a time (the fields of consecutive blocks are 20..36
 * bytes apart): [a0*b0, a1*b1, a2*b2, a3*b3]. */
static inline __m128 mul_f16x4(zeta_f16 a0, zeta_f16 a1, zeta_f16 a2, zeta_f16 a3,
                               zeta_f16 b0, zeta_f16 b1, zeta_f16 b2, zeta_f16 b3) {
    const __m128i ha = _mm_setr_epi16((short)a0, (short)a1, (short)a2, (short)a3, 0, 0, 0, 0);
    const __m128i hb = _mm_setr_epi16((short)b0, (short)b1, (short)b2, (short)b3, 0, 0, 0, 0);
    return _mm_mul_ps(_mm_cvtph_ps(ha), _mm_cvtph_ps(hb));
}

/* Two 16-byte pieces as one register: p0 in the low 128-bit lane, p1 in the high one. */
static inline __m256i load_2x16(const void *p0, const void *p1) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p0)),
                                   _mm_loadu_si128((const __m128i *)p1), 1);
}

/* The nibbles of two blocks' qs: *lo = elements 0..15, *hi = elements 16..31 (per lane). */
static inline void nibbles_pair(const uint8_t *qs0, const uint8_t *qs1, __m256i *lo, __m256i *hi) {
    const __m256i m = _mm256_set1_epi8(0x0f);
    const __m256i raw = load_2x16(qs0, qs1);
    *lo = _mm256_and_si256(raw, m);
    *hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m);
}

/* Byte k of the result is 0x10 if bit k % 8 of byte idx[k] of v (within its 128-bit lane) is set,
 * else 0. */
static inline __m256i bits_to_0x10(__m256i v, __m256i idx) {
    const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    const __m256i b = _mm256_and_si256(_mm256_shuffle_epi8(v, idx), sel);
    return _mm256_and_si256(_mm256_cmpeq_epi8(b, sel), _mm256_set1_epi8(0x10));
}

/* The fifth bits (as 0 / 0x10 bytes) of two Q5 blocks with qh words h0, h1, in the layout of
 * nibbles_pair: each 128-bit lane of v holds h0 in bytes 0..3 and h1 in bytes 4..7. */
static inline void fifth_bits_pair(uint32_t h0, uint32_t h1, __m256i *lo, __m256i *hi) {
    const __m256i v = _mm256_set1_epi64x((long long)(((uint64_t)h1 << 32) | h0));
    const __m256i idx_lo = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5);
    const __m256i idx_hi = _mm256_setr_epi8(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
                                            6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7);
    *lo = bits_to_0x10(v, idx_lo);
    *hi = bits_to_0x10(v, idx_hi);
}

/* sum u * y of two block pairs as 16-bit partials, int32 after madd: lanes 0-3 first pair. */
static inline __m256i udot_pair(__m256i ulo, __m256i uhi, const int8_t *y0, const int8_t *y1) {
    const __m256i ylo = load_2x16(y0, y1), yhi = load_2x16(y0 + 16, y1 + 16);
    const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(ulo, ylo), _mm256_maddubs_epi16(uhi, yhi));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* sum (u - 16) * y of two block pairs (Q5_0), int32 lanes 0-3 first pair. */
static inline __m256i sdot16_pair(__m256i ulo, __m256i uhi, const int8_t *y0, const int8_t *y1) {
    const __m256i ylo = load_2x16(y0, y1), yhi = load_2x16(y0 + 16, y1 + 16);
    const __m256i c16 = _mm256_set1_epi8(16);
    const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(ulo, ylo), _mm256_maddubs_epi16(uhi, yhi));
    const __m256i c = _mm256_add_epi16(_mm256_maddubs_epi16(c16, ylo), _mm256_maddubs_epi16(c16, yhi));
    return _mm256_madd_epi16(_mm256_sub_epi16(p, c), _mm256_set1_epi16(1));
}

/* Scales of blocks (0,1) and (2,3) of a 4-vector, spread over the two lanes of a pair. */
static inline __m256 spread_01(__m128 s4) {
    return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(s4), _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
}
static inline __m256 spread_23(__m128 s4) {
    return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(s4), _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3));
}

/* ---- one block at a time (tails): elements 0..31 in order in one register ------------------- */

static inline __m256i nibbles_one(const uint8_t *qs) {
    const __m128i raw = _mm_loadu_si128((const __m128i *)qs);
    const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(raw), _mm_srli_epi16(raw, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

static inline __m256i fifth_bits_one(uint32_t h) {
    const __m256i idx = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                         2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    return bits_to_0x10(_mm256_set1_epi32((int)h), idx);
}

/* sum u * y (minus sum 16 * y when sub16) over one block, as float lanes. */
static inline __m256 udot_one(__m256i u, const int8_t *y, int sub16) {
    const __m256i yy = _mm256_loadu_si256((const __m256i *)y);
    __m256i p = _mm256_maddubs_epi16(u, yy);
    if (sub16) p = _mm256_sub_epi16(p, _mm256_maddubs_epi16(_mm256_set1_epi8(16), yy));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

/* ---- Q4_1 x Q8_1 ----------------------------------------------------------------------------- */

void zk_vec_dot_q4_1_avx2(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / 32;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 d4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        accm = _mm_add_ps(accm, mul_f16x4(a[i].m, a[i + 1].m, a[i + 2].m, a[i + 3].m, b[i].s, b[i + 1].s, b[i + 2].s, b[i + 3].s));
        __m256i lo, hi;
        nibbles_pair(a[i].qs, a[i + 1].qs, &lo, &hi);
        const __m256i p0 = udot_pair(lo, hi, b[i].qs, b[i + 1].qs);
        nibbles_pair(a[i + 2].qs, a[i + 3].qs, &lo, &hi);
        const __m256i p1 = udot_pair(lo, hi, b[i + 2].qs, b[i + 3].qs);
        acc0 = _mm256_fmadd_ps(spread_01(d4), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(spread_23(d4), _mm256_cvtepi32_ps(p1), acc1);
    }
    float summ = 0.0f;
    for (; i < nb; i++) {
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), udot_one(nibbles_one(a[i].qs), b[i].qs, 0), acc0);
        summ += f16(a[i].m) * f16(b[i].s);
    }
    *s = hsum256(_mm256_add_ps(acc0, acc1)) + (hsum128(accm) + summ);
}

/* ---- Q5_1 x Q8_1 ----------------------------------------------------------------------------- */

/* sum u * y of blocks a[0], a[1] with b[0], b[1] (int32 lanes 0-3: first pair). */
static inline __m256i dot_q5_1_pair(const block_q5_1 *a, const block_q8_1 *b) {
    __m256i lo, hi, hlo, hhi;
    nibbles_pair(a[0].qs, a[1].qs, &lo, &hi);
    fifth_bits_pair(load_u32(a[0].qh), load_u32(a[1].qh), &hlo, &hhi);
    return udot_pair(_mm256_or_si256(lo, hlo), _mm256_or_si256(hi, hhi), b[0].qs, b[1].qs);
}

void zk_vec_dot_q5_1_avx2(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / 32;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 d4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        accm = _mm_add_ps(accm, mul_f16x4(a[i].m, a[i + 1].m, a[i + 2].m, a[i + 3].m, b[i].s, b[i + 1].s, b[i + 2].s, b[i + 3].s));
        acc0 = _mm256_fmadd_ps(spread_01(d4), _mm256_cvtepi32_ps(dot_q5_1_pair(a + i, b + i)), acc0);
        acc1 = _mm256_fmadd_ps(spread_23(d4), _mm256_cvtepi32_ps(dot_q5_1_pair(a + i + 2, b + i + 2)), acc1);
    }
    float summ = 0.0f;
    for (; i < nb; i++) {
        const __m256i u = _mm256_or_si256(nibbles_one(a[i].qs), fifth_bits_one(load_u32(a[i].qh)));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), udot_one(u, b[i].qs, 0), acc0);
        summ += f16(a[i].m) * f16(b[i].s);
    }
    *s = hsum256(_mm256_add_ps(acc0, acc1)) + (hsum128(accm) + summ);
}

/* ---- Q5_0 x Q8_0 ----------------------------------------------------------------------------- */

static inline __m256i dot_q5_0_pair(const block_q5_0 *a, const block_q8_0 *b) {
    __m256i lo, hi, hlo, hhi;
    nibbles_pair(a[0].qs, a[1].qs, &lo, &hi);
    fifth_bits_pair(load_u32(a[0].qh), load_u32(a[1].qh), &hlo, &hhi);
    return sdot16_pair(_mm256_or_si256(lo, hlo), _mm256_or_si256(hi, hhi), b[0].qs, b[1].qs);
}

void zk_vec_dot_q5_0_avx2(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_0 *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 d4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        acc0 = _mm256_fmadd_ps(spread_01(d4), _mm256_cvtepi32_ps(dot_q5_0_pair(a + i, b + i)), acc0);
        acc1 = _mm256_fmadd_ps(spread_23(d4), _mm256_cvtepi32_ps(dot_q5_0_pair(a + i + 2, b + i + 2)), acc1);
    }
    for (; i < nb; i++) {
        const __m256i u = _mm256_or_si256(nibbles_one(a[i].qs), fifth_bits_one(load_u32(a[i].qh)));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), udot_one(u, b[i].qs, 1), acc0);
    }
    *s = hsum256(_mm256_add_ps(acc0, acc1));
}

/* ---- the Q8_1 activation quantizer (byte-identical to kernels_scalar_legacy.c) -------------- */

void zk_from_float_q8_1_avx2(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    const int64_t nb = n / 32;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t i = 0; i < nb; i++, x += 32) {
        const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
        const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
        __m256 m = _mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1));
        m = _mm256_max_ps(m, _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        const float d = amax / 127.0f;
        const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
        const __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, id), ROUND_NEAREST_EVEN));
        const __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, id), ROUND_NEAREST_EVEN));
        const __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, id), ROUND_NEAREST_EVEN));
        const __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, id), ROUND_NEAREST_EVEN));
        /* the sum of the int32 codes (wrapping), before saturation */
        const __m256i s8 = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
        s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
        y[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT); /* = zeta_f32_to_f16 */
        y[i].s = _cvtss_sh(d * (float)_mm_cvtsi128_si32(s4), _MM_FROUND_TO_NEAREST_INT);
        /* packs work within 128-bit lanes; the permute puts the 8 groups of 4 back in order */
        const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
        _mm256_storeu_si256((__m256i *)y[i].qs, _mm256_permutevar8x32_epi32(p, perm));
    }
}
