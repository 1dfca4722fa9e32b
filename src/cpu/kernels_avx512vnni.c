/* kernels_avx512vnni.c — the AVX-512 VNNI kernel table (Cascade Lake, Ice Lake, Sapphire Rapids and
 * later Xeons, Zen 4 and later) and its dots of the 32-element block types: Q8_0, Q4_0, Q5_0,
 * IQ4_NL (Q8_0 activations), Q4_1, Q5_1 (Q8_1 activations); the K-quant dots are in
 * kernels_avx512vnni_k.c. This whole file is compiled with -mavx512f -mavx512bw -mavx512vl
 * -mavx512dq -mavx2 -mfma -mf16c -mavx512vnni and only called after cpu_features.c has checked
 * AVX512_VNNI, AVX-512 F/BW/VL/DQ and the OS-enabled ZMM state. The table fills only the integer
 * dots; the float dots and activation quantizers are the avx512 table's. Exactness and offsets:
 * kernels_vnni.h.
 *
 * Two blocks per 512-bit register, elements in order (lanes 0-31: block i, 32-63: block i+1), as
 * in kernels_avx512.c / kernels_avx512_legacy.c, with one vpdpbusd (plus one for an offset) in
 * place of maddubs + madd: int32 lanes 0-7 are block i's partial sums, 8-15 block i+1's. */
#include "kernels_vnni.h"

#include <immintrin.h>
#include <string.h>

/* acc + in each int32 lane the sum of the 4 products (unsigned byte of u) * (signed byte of s). */
static inline __m512i dpbusd(__m512i acc, __m512i u, __m512i s) { return _mm512_dpbusd_epi32(acc, u, s); }

static inline float f16(zeta_f16 h) { return _cvtsh_ss(h); } /* exact, as zeta_f16_to_f32 */

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

/* sum (u - c) * y in 16 int32 lanes: u unsigned codes, c the offset in every byte (unsigned). */
static inline __m512i dot_off(__m512i u, __m512i c, __m512i y) {
    const __m512i z = _mm512_setzero_si512();
    return _mm512_sub_epi32(dpbusd(z, u, y), dpbusd(z, c, y));
}

/* ---- the integer parts of two blocks (a0, b0), (a1, b1); a tail passes one block twice ------- */

static inline __m512i dot2_q8_0(const block_q8_0 *a0, const block_q8_0 *a1, const block_q8_0 *b0, const block_q8_0 *b1) {
    const __m512i off = _mm512_set1_epi8((char)0x80);
    return dot_off(_mm512_xor_si512(load_2x32(a0->qs, a1->qs), off), off, load_2x32(b0->qs, b1->qs));
}

static inline __m512i dot2_q4_0(const block_q4_0 *a0, const block_q4_0 *a1, const block_q8_0 *b0, const block_q8_0 *b1) {
    return dot_off(nibbles_2(a0->qs, a1->qs), _mm512_set1_epi8(8), load_2x32(b0->qs, b1->qs));
}

static inline __m512i dot2_q5_0(const block_q5_0 *a0, const block_q5_0 *a1, const block_q8_0 *b0, const block_q8_0 *b1) {
    const __m512i u = with_fifth_bits(nibbles_2(a0->qs, a1->qs), load_u32(a0->qh), load_u32(a1->qh));
    return dot_off(u, _mm512_set1_epi8(16), load_2x32(b0->qs, b1->qs));
}

/* The IQ4 codebook + 128 (1..241) in every 128-bit lane, for pshufb. */
static inline __m512i iq4_table_u8(void) {
    const __m128i k = _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    return _mm512_broadcast_i32x4(_mm_xor_si128(k, _mm_set1_epi8((char)0x80)));
}

static inline __m512i dot2_iq4_nl(const block_iq4_nl *a0, const block_iq4_nl *a1, const block_q8_0 *b0, const block_q8_0 *b1,
                                  __m512i table) {
    const __m512i u = _mm512_shuffle_epi8(table, nibbles_2(a0->qs, a1->qs));
    return dot_off(u, _mm512_set1_epi8((char)0x80), load_2x32(b0->qs, b1->qs));
}

static inline __m512i dot2_q4_1(const block_q4_1 *a0, const block_q4_1 *a1, const block_q8_1 *b0, const block_q8_1 *b1) {
    return dpbusd(_mm512_setzero_si512(), nibbles_2(a0->qs, a1->qs), load_2x32(b0->qs, b1->qs));
}

static inline __m512i dot2_q5_1(const block_q5_1 *a0, const block_q5_1 *a1, const block_q8_1 *b0, const block_q8_1 *b1) {
    const __m512i u = with_fifth_bits(nibbles_2(a0->qs, a1->qs), load_u32(a0->qh), load_u32(a1->qh));
    return dpbusd(_mm512_setzero_si512(), u, load_2x32(b0->qs, b1->qs));
}

/* ---- dots with Q8_0 activations: per block d_w * d_x * sumi, 4 blocks per step ---------------- */

static void vec_dot_q8_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q8_0 *a = w, *b = x;
    const int64_t nb = n / 32;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 s4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        acc0 = _mm512_fmadd_ps(spread_01(s4), _mm512_cvtepi32_ps(dot2_q8_0(&a[i], &a[i + 1], &b[i], &b[i + 1])), acc0);
        acc1 = _mm512_fmadd_ps(spread_23(s4), _mm512_cvtepi32_ps(dot2_q8_0(&a[i + 2], &a[i + 3], &b[i + 2], &b[i + 3])), acc1);
    }
    for (; i < nb; i++) /* tail: the block paired with itself, the upper half's scale is zero */
        acc0 = _mm512_fmadd_ps(scale_lo(f16(a[i].d) * f16(b[i].d)), _mm512_cvtepi32_ps(dot2_q8_0(&a[i], &a[i], &b[i], &b[i])), acc0);
    *s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

static void vec_dot_q4_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_0 *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 s4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        acc0 = _mm512_fmadd_ps(spread_01(s4), _mm512_cvtepi32_ps(dot2_q4_0(&a[i], &a[i + 1], &b[i], &b[i + 1])), acc0);
        acc1 = _mm512_fmadd_ps(spread_23(s4), _mm512_cvtepi32_ps(dot2_q4_0(&a[i + 2], &a[i + 3], &b[i + 2], &b[i + 3])), acc1);
    }
    for (; i < nb; i++)
        acc0 = _mm512_fmadd_ps(scale_lo(f16(a[i].d) * f16(b[i].d)), _mm512_cvtepi32_ps(dot2_q4_0(&a[i], &a[i], &b[i], &b[i])), acc0);
    *s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

static void vec_dot_q5_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_0 *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 s4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        acc0 = _mm512_fmadd_ps(spread_01(s4), _mm512_cvtepi32_ps(dot2_q5_0(&a[i], &a[i + 1], &b[i], &b[i + 1])), acc0);
        acc1 = _mm512_fmadd_ps(spread_23(s4), _mm512_cvtepi32_ps(dot2_q5_0(&a[i + 2], &a[i + 3], &b[i + 2], &b[i + 3])), acc1);
    }
    for (; i < nb; i++)
        acc0 = _mm512_fmadd_ps(scale_lo(f16(a[i].d) * f16(b[i].d)), _mm512_cvtepi32_ps(dot2_q5_0(&a[i], &a[i], &b[i], &b[i])), acc0);
    *s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

static void vec_dot_iq4_nl(int64_t n, float *s, const void *w, const void *x) {
    const block_iq4_nl *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    const __m512i t = iq4_table_u8();
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 s4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        acc0 = _mm512_fmadd_ps(spread_01(s4), _mm512_cvtepi32_ps(dot2_iq4_nl(&a[i], &a[i + 1], &b[i], &b[i + 1], t)), acc0);
        acc1 = _mm512_fmadd_ps(spread_23(s4), _mm512_cvtepi32_ps(dot2_iq4_nl(&a[i + 2], &a[i + 3], &b[i + 2], &b[i + 3], t)), acc1);
    }
    for (; i < nb; i++)
        acc0 = _mm512_fmadd_ps(scale_lo(f16(a[i].d) * f16(b[i].d)), _mm512_cvtepi32_ps(dot2_iq4_nl(&a[i], &a[i], &b[i], &b[i], t)), acc0);
    *s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

/* ---- dots with Q8_1 activations: per block d_w * d_x * sumi + m_w * s_x ----------------------- */

static void vec_dot_q4_1(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / 32;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 d4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        accm = _mm_add_ps(accm, mul_f16x4(a[i].m, a[i + 1].m, a[i + 2].m, a[i + 3].m, b[i].s, b[i + 1].s, b[i + 2].s, b[i + 3].s));
        acc0 = _mm512_fmadd_ps(spread_01(d4), _mm512_cvtepi32_ps(dot2_q4_1(&a[i], &a[i + 1], &b[i], &b[i + 1])), acc0);
        acc1 = _mm512_fmadd_ps(spread_23(d4), _mm512_cvtepi32_ps(dot2_q4_1(&a[i + 2], &a[i + 3], &b[i + 2], &b[i + 3])), acc1);
    }
    float summ = 0.0f;
    for (; i < nb; i++) {
        acc0 = _mm512_fmadd_ps(scale_lo(f16(a[i].d) * f16(b[i].d)), _mm512_cvtepi32_ps(dot2_q4_1(&a[i], &a[i], &b[i], &b[i])), acc0);
        summ += f16(a[i].m) * f16(b[i].s);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + (hsum128(accm) + summ);
}

static void vec_dot_q5_1(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / 32;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 d4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        accm = _mm_add_ps(accm, mul_f16x4(a[i].m, a[i + 1].m, a[i + 2].m, a[i + 3].m, b[i].s, b[i + 1].s, b[i + 2].s, b[i + 3].s));
        acc0 = _mm512_fmadd_ps(spread_01(d4), _mm512_cvtepi32_ps(dot2_q5_1(&a[i], &a[i + 1], &b[i], &b[i + 1])), acc0);
        acc1 = _mm512_fmadd_ps(spread_23(d4), _mm512_cvtepi32_ps(dot2_q5_1(&a[i + 2], &a[i + 3], &b[i + 2], &b[i + 3])), acc1);
    }
    float summ = 0.0f;
    for (; i < nb; i++) {
        acc0 = _mm512_fmadd_ps(scale_lo(f16(a[i].d) * f16(b[i].d)), _mm512_cvtepi32_ps(dot2_q5_1(&a[i], &a[i], &b[i], &b[i])), acc0);
        summ += f16(a[i].m) * f16(b[i].s);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + (hsum128(accm) + summ);
}

/* ---- the table ------------------------------------------------------------------------------- */

static const zk_kernels k_avx512vnni = {
    .name = "avx512vnni",
    .vec_dot = {
        [ZETA_TYPE_Q8_0] = vec_dot_q8_0,
        [ZETA_TYPE_Q4_0] = vec_dot_q4_0,
        [ZETA_TYPE_Q4_1] = vec_dot_q4_1,
        [ZETA_TYPE_Q5_0] = vec_dot_q5_0,
        [ZETA_TYPE_Q5_1] = vec_dot_q5_1,
        [ZETA_TYPE_Q2_K] = zk_vec_dot_q2_K_avx512vnni,
        [ZETA_TYPE_Q3_K] = zk_vec_dot_q3_K_avx512vnni,
        [ZETA_TYPE_Q4_K] = zk_vec_dot_q4_K_avx512vnni,
        [ZETA_TYPE_Q5_K] = zk_vec_dot_q5_K_avx512vnni,
        [ZETA_TYPE_Q6_K] = zk_vec_dot_q6_K_avx512vnni,
        [ZETA_TYPE_IQ4_NL] = vec_dot_iq4_nl,
        [ZETA_TYPE_IQ4_XS] = zk_vec_dot_iq4_xs_avx512vnni,
    },
};

const zk_kernels *zk_avx512vnni(void) { return &k_avx512vnni; }
