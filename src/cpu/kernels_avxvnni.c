/* kernels_avxvnni.c — the AVX-VNNI kernel table (Alder Lake and later Intel clients, also Sapphire
 * Rapids and Zen 5): the integer dot products of every quantized weight type with 256-bit VEX
 * vpdpbusd / vpdpwssd. The whole file is compiled with -mavx2 -mfma -mf16c -mavxvnni and only
 * called after cpu_features.c has checked AVX-VNNI, AVX2 and the OS-enabled YMM state. Fills only
 * vec_dot of Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS; the float
 * dots and the activation quantizers are the avx2 table's. Exactness and offsets: kernels_vnni.h.
 *
 * 32-element blocks go two per register as in kernels_avx2_legacy.c (low 128-bit lane block i,
 * high lane block i+1; one register for elements 0..15 of both, one for 16..31), except Q8_0 and
 * the tails (one block per register, elements in order). K-quants follow kernels_avx2_k.c /
 * kernels_avx2_iqk.c with vpdpwssd in place of madd + add (maddubs cannot saturate there: codes are
 * at most 63); IQ4_XS uses vpdpbusd on the codebook + 128 and vpmulld.
 *
 * Self-contained on purpose (static kernels, only zk_avxvnni exported, the two VNNI instructions
 * used only through dpbusd() / dpwssd() below): tests/test_vnni.c compiles this file a second time
 * with AVX2 emulations of _mm256_dpbusd_avx_epi32 / _mm256_dpwssd_avx_epi32. */
#include "kernels.h"

#include <immintrin.h>
#include <string.h>

/* ---- the two VNNI instructions --------------------------------------------------------------- */

/* acc + in each int32 lane the sum of the 4 products (unsigned byte of u) * (signed byte of s). */
static inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_avx_epi32(acc, u, s); }
/* acc + in each int32 lane the sum of the 2 products of the signed int16 halves of a and b. */
static inline __m256i dpwssd(__m256i acc, __m256i a, __m256i b) { return _mm256_dpwssd_avx_epi32(acc, a, b); }

/* ---- helpers --------------------------------------------------------------------------------- */

static inline float f16(zeta_f16 h) { return _cvtsh_ss(h); } /* exact, as zeta_f16_to_f32 */

static inline __m256i loadu256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline __m128i loadu128(const void *p) { return _mm_loadu_si128((const __m128i *)p); }

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
static inline float hsum256(__m256 v) { return hsum128(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1))); }

/* Sum of the int32 lanes (wrapping like the vector adds; the callers' sums fit int32). */
static inline int32_t hsum128_i32(__m128i s) {
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}
static inline int32_t hsum256_i32(__m256i v) {
    return hsum128_i32(_mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}

/* Products of 4 f16 pairs, converted 4 at a time: [a0*b0, a1*b1, a2*b2, a3*b3]. */
static inline __m128 mul_f16x4(zeta_f16 a0, zeta_f16 a1, zeta_f16 a2, zeta_f16 a3,
                               zeta_f16 b0, zeta_f16 b1, zeta_f16 b2, zeta_f16 b3) {
    const __m128i ha = _mm_setr_epi16((short)a0, (short)a1, (short)a2, (short)a3, 0, 0, 0, 0);
    const __m128i hb = _mm_setr_epi16((short)b0, (short)b1, (short)b2, (short)b3, 0, 0, 0, 0);
    return _mm_mul_ps(_mm_cvtph_ps(ha), _mm_cvtph_ps(hb));
}

/* acc[k] += (lane k of s4) * p_k: the 4 blocks of one step, each in its own accumulator. */
static inline void fma_4(__m256 acc[4], __m128 s4, __m256i p0, __m256i p1, __m256i p2, __m256i p3) {
    const __m256 s8 = _mm256_set_m128(s4, s4);
    acc[0] = _mm256_fmadd_ps(_mm256_shuffle_ps(s8, s8, 0x00), _mm256_cvtepi32_ps(p0), acc[0]);
    acc[1] = _mm256_fmadd_ps(_mm256_shuffle_ps(s8, s8, 0x55), _mm256_cvtepi32_ps(p1), acc[1]);
    acc[2] = _mm256_fmadd_ps(_mm256_shuffle_ps(s8, s8, 0xaa), _mm256_cvtepi32_ps(p2), acc[2]);
    acc[3] = _mm256_fmadd_ps(_mm256_shuffle_ps(s8, s8, 0xff), _mm256_cvtepi32_ps(p3), acc[3]);
}

static inline float hsum_4(const __m256 acc[4]) {
    return hsum256(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

/* ---- 32-element blocks: codes of one block as 32 bytes in element order ----------------------- */

/* The 4-bit codes of a Q4 / IQ4 block: low nibbles are elements 0..15, high nibbles 16..31. */
static inline __m256i nibbles_32(const uint8_t *qs) {
    const __m128i raw = loadu128(qs);
    const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(raw), _mm_srli_epi16(raw, 4), 1);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

/* 0x10 in byte j where bit j of the Q5 block's qh word is set, else 0. */
static inline __m256i fifth_bits_32(uint32_t h) {
    const __m256i idx = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                         2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    const __m256i b = _mm256_and_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)h), idx), sel);
    return _mm256_and_si256(_mm256_cmpeq_epi8(b, sel), _mm256_set1_epi8(0x10));
}

/* The IQ4 codebook + 128 (1..241), in both 128-bit lanes, for pshufb. */
static inline __m256i iq4_table_u8(void) {
    const __m128i k = _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    return _mm256_broadcastsi128_si256(_mm_xor_si128(k, _mm_set1_epi8((char)0x80)));
}

/* sum (u - c) * y in 8 int32 lanes: u unsigned codes, c the offset in every byte (unsigned). */
static inline __m256i dot_off(__m256i u, __m256i c, __m256i y) {
    const __m256i z = _mm256_setzero_si256();
    return _mm256_sub_epi32(dpbusd(z, u, y), dpbusd(z, c, y));
}

static inline __m256i dot_q8_0(const block_q8_0 *a, const block_q8_0 *b) {
    const __m256i off = _mm256_set1_epi8((char)0x80);
    return dot_off(_mm256_xor_si256(loadu256(a->qs), off), off, loadu256(b->qs));
}

static inline __m256i dot_q4_0(const block_q4_0 *a, const block_q8_0 *b) {
    return dot_off(nibbles_32(a->qs), _mm256_set1_epi8(8), loadu256(b->qs));
}

static inline __m256i dot_q5_0(const block_q5_0 *a, const block_q8_0 *b) {
    const __m256i u = _mm256_or_si256(nibbles_32(a->qs), fifth_bits_32(load_u32(a->qh)));
    return dot_off(u, _mm256_set1_epi8(16), loadu256(b->qs));
}

static inline __m256i dot_iq4_nl(const block_iq4_nl *a, const block_q8_0 *b, __m256i table) {
    return dot_off(_mm256_shuffle_epi8(table, nibbles_32(a->qs)), _mm256_set1_epi8((char)0x80), loadu256(b->qs));
}

static inline __m256i dot_q4_1(const block_q4_1 *a, const block_q8_1 *b) {
    return dpbusd(_mm256_setzero_si256(), nibbles_32(a->qs), loadu256(b->qs));
}

static inline __m256i dot_q5_1(const block_q5_1 *a, const block_q8_1 *b) {
    const __m256i u = _mm256_or_si256(nibbles_32(a->qs), fifth_bits_32(load_u32(a->qh)));
    return dpbusd(_mm256_setzero_si256(), u, loadu256(b->qs));
}

/* ---- 32-element blocks two at a time: int32 lanes 0-3 block i, 4-7 block i+1 --------------------- */

static inline __m256i load_2x16(const void *p0, const void *p1) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(loadu128(p0)), loadu128(p1), 1);
}

/* The nibbles of two blocks' qs: *lo = elements 0..15, *hi = elements 16..31 (per lane). */
static inline void nibbles_pair(const uint8_t *qs0, const uint8_t *qs1, __m256i *lo, __m256i *hi) {
    const __m256i m = _mm256_set1_epi8(0x0f);
    const __m256i raw = load_2x16(qs0, qs1);
    *lo = _mm256_and_si256(raw, m);
    *hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m);
}

/* The fifth bits (as 0 / 0x10 bytes) of two Q5 blocks with qh words h0, h1, in the layout of
 * nibbles_pair: byte k of each lane is 0x10 if bit k % 8 of byte idx[k] of (h0 | h1 << 32) is set. */
static inline void fifth_bits_pair(uint32_t h0, uint32_t h1, __m256i *lo, __m256i *hi) {
    const __m256i v = _mm256_set1_epi64x((long long)(((uint64_t)h1 << 32) | h0));
    const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull), b4 = _mm256_set1_epi8(0x10);
    const __m256i idx_lo = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5);
    const __m256i idx_hi = _mm256_setr_epi8(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
                                            6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7);
    *lo = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(v, idx_lo), sel), sel), b4);
    *hi = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(v, idx_hi), sel), sel), b4);
}

/* sum u * y of a block pair, u given as its elements 0..15 (ulo) and 16..31 (uhi) per lane, and
 * the same minus sum c * y. */
static inline __m256i udot_pair(__m256i ulo, __m256i uhi, const int8_t *y0, const int8_t *y1) {
    return dpbusd(dpbusd(_mm256_setzero_si256(), ulo, load_2x16(y0, y1)), uhi, load_2x16(y0 + 16, y1 + 16));
}
static inline __m256i dot_off_pair(__m256i ulo, __m256i uhi, __m256i c, const int8_t *y0, const int8_t *y1) {
    const __m256i ylo = load_2x16(y0, y1), yhi = load_2x16(y0 + 16, y1 + 16), z = _mm256_setzero_si256();
    return _mm256_sub_epi32(dpbusd(dpbusd(z, ulo, ylo), uhi, yhi), dpbusd(dpbusd(z, c, ylo), c, yhi));
}

static inline __m256i dot2_q4_0(const block_q4_0 *a, const block_q8_0 *b) {
    __m256i lo, hi;
    nibbles_pair(a[0].qs, a[1].qs, &lo, &hi);
    return dot_off_pair(lo, hi, _mm256_set1_epi8(8), b[0].qs, b[1].qs);
}

static inline __m256i dot2_q5_0(const block_q5_0 *a, const block_q8_0 *b) {
    __m256i lo, hi, hlo, hhi;
    nibbles_pair(a[0].qs, a[1].qs, &lo, &hi);
    fifth_bits_pair(load_u32(a[0].qh), load_u32(a[1].qh), &hlo, &hhi);
    return dot_off_pair(_mm256_or_si256(lo, hlo), _mm256_or_si256(hi, hhi), _mm256_set1_epi8(16), b[0].qs, b[1].qs);
}

static inline __m256i dot2_iq4_nl(const block_iq4_nl *a, const block_q8_0 *b, __m256i table) {
    __m256i lo, hi;
    nibbles_pair(a[0].qs, a[1].qs, &lo, &hi);
    return dot_off_pair(_mm256_shuffle_epi8(table, lo), _mm256_shuffle_epi8(table, hi), _mm256_set1_epi8((char)0x80), b[0].qs, b[1].qs);
}

static inline __m256i dot2_q4_1(const block_q4_1 *a, const block_q8_1 *b) {
    __m256i lo, hi;
    nibbles_pair(a[0].qs, a[1].qs, &lo, &hi);
    return udot_pair(lo, hi, b[0].qs, b[1].qs);
}

static inline __m256i dot2_q5_1(const block_q5_1 *a, const block_q8_1 *b) {
    __m256i lo, hi, hlo, hhi;
    nibbles_pair(a[0].qs, a[1].qs, &lo, &hi);
    fifth_bits_pair(load_u32(a[0].qh), load_u32(a[1].qh), &hlo, &hhi);
    return udot_pair(_mm256_or_si256(lo, hlo), _mm256_or_si256(hi, hhi), b[0].qs, b[1].qs);
}

/* Scales of blocks (0,1) and (2,3) of a 4-vector, spread over the two lanes of a pair. */
static inline __m256 spread_01(__m128 s4) {
    return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(s4), _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
}
static inline __m256 spread_23(__m128 s4) {
    return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(s4), _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3));
}

/* ---- dots with Q8_0 activations: per block d_w * d_x * sumi, 4 blocks per step ---------------- */

static void vec_dot_q8_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q8_0 *a = w, *b = x;
    const int64_t nb = n / 32;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 s4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        fma_4(acc, s4, dot_q8_0(&a[i], &b[i]), dot_q8_0(&a[i + 1], &b[i + 1]), dot_q8_0(&a[i + 2], &b[i + 2]),
              dot_q8_0(&a[i + 3], &b[i + 3]));
    }
    for (; i < nb; i++)
        acc[0] = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), _mm256_cvtepi32_ps(dot_q8_0(&a[i], &b[i])), acc[0]);
    *s = hsum_4(acc);
}

static void vec_dot_q4_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_0 *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 s4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        acc0 = _mm256_fmadd_ps(spread_01(s4), _mm256_cvtepi32_ps(dot2_q4_0(a + i, b + i)), acc0);
        acc1 = _mm256_fmadd_ps(spread_23(s4), _mm256_cvtepi32_ps(dot2_q4_0(a + i + 2, b + i + 2)), acc1);
    }
    for (; i < nb; i++)
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), _mm256_cvtepi32_ps(dot_q4_0(&a[i], &b[i])), acc0);
    *s = hsum256(_mm256_add_ps(acc0, acc1));
}

static void vec_dot_q5_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_0 *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 s4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        acc0 = _mm256_fmadd_ps(spread_01(s4), _mm256_cvtepi32_ps(dot2_q5_0(a + i, b + i)), acc0);
        acc1 = _mm256_fmadd_ps(spread_23(s4), _mm256_cvtepi32_ps(dot2_q5_0(a + i + 2, b + i + 2)), acc1);
    }
    for (; i < nb; i++)
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), _mm256_cvtepi32_ps(dot_q5_0(&a[i], &b[i])), acc0);
    *s = hsum256(_mm256_add_ps(acc0, acc1));
}

static void vec_dot_iq4_nl(int64_t n, float *s, const void *w, const void *x) {
    const block_iq4_nl *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    const __m256i t = iq4_table_u8();
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 s4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        acc0 = _mm256_fmadd_ps(spread_01(s4), _mm256_cvtepi32_ps(dot2_iq4_nl(a + i, b + i, t)), acc0);
        acc1 = _mm256_fmadd_ps(spread_23(s4), _mm256_cvtepi32_ps(dot2_iq4_nl(a + i + 2, b + i + 2, t)), acc1);
    }
    for (; i < nb; i++)
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), _mm256_cvtepi32_ps(dot_iq4_nl(&a[i], &b[i], t)), acc0);
    *s = hsum256(_mm256_add_ps(acc0, acc1));
}

/* ---- dots with Q8_1 activations: per block d_w * d_x * sumi + m_w * s_x ----------------------- */

static void vec_dot_q4_1(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / 32;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 s4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        accm = _mm_add_ps(accm, mul_f16x4(a[i].m, a[i + 1].m, a[i + 2].m, a[i + 3].m, b[i].s, b[i + 1].s, b[i + 2].s, b[i + 3].s));
        acc0 = _mm256_fmadd_ps(spread_01(s4), _mm256_cvtepi32_ps(dot2_q4_1(a + i, b + i)), acc0);
        acc1 = _mm256_fmadd_ps(spread_23(s4), _mm256_cvtepi32_ps(dot2_q4_1(a + i + 2, b + i + 2)), acc1);
    }
    float summ = 0.0f;
    for (; i < nb; i++) {
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), _mm256_cvtepi32_ps(dot_q4_1(&a[i], &b[i])), acc0);
        summ += f16(a[i].m) * f16(b[i].s);
    }
    *s = hsum256(_mm256_add_ps(acc0, acc1)) + (hsum128(accm) + summ);
}

static void vec_dot_q5_1(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_1 *a = w;
    const block_q8_1 *b = x;
    const int64_t nb = n / 32;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 s4 = mul_f16x4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        accm = _mm_add_ps(accm, mul_f16x4(a[i].m, a[i + 1].m, a[i + 2].m, a[i + 3].m, b[i].s, b[i + 1].s, b[i + 2].s, b[i + 3].s));
        acc0 = _mm256_fmadd_ps(spread_01(s4), _mm256_cvtepi32_ps(dot2_q5_1(a + i, b + i)), acc0);
        acc1 = _mm256_fmadd_ps(spread_23(s4), _mm256_cvtepi32_ps(dot2_q5_1(a + i + 2, b + i + 2)), acc1);
    }
    float summ = 0.0f;
    for (; i < nb; i++) {
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * f16(b[i].d)), _mm256_cvtepi32_ps(dot_q5_1(&a[i], &b[i])), acc0);
        summ += f16(a[i].m) * f16(b[i].s);
    }
    *s = hsum256(_mm256_add_ps(acc0, acc1)) + (hsum128(accm) + summ);
}

/* ---- K-quant helpers ------------------------------------------------------------------------- */

/* pshufb pattern over 8 int16 scales in both 128-bit lanes: int16 element e0 in every int16 of the
 * low lane, e1 in the high lane (the multiplier layout for int16 pair sums). */
static inline __m256i pick16(int e0, int e1) {
    return _mm256_setr_m128i(_mm_set1_epi16((short)((2 * e0) | ((2 * e0 + 1) << 8))),
                             _mm_set1_epi16((short)((2 * e1) | ((2 * e1 + 1) << 8))));
}

/* Unsigned codes u times int8 activations y, adjacent products summed to int16 (maddubs): exact
 * because every K-quant code here is at most 63, so |pair| <= 2 * 63 * 128 < 2^15. */
static inline __m256i mul_u8(__m256i u, __m256i y) { return _mm256_maddubs_epi16(u, y); }

/* isum + sc * p16 with dpwssd: p16 the int16 pair sums of mul_u8, sc8x2 8 int16 scales in both
 * lanes, scale e0 for the low lane and e1 for the high lane. */
static inline __m256i scale_add(__m256i isum, __m256i p16, __m256i sc8x2, int e0, int e1) {
    return dpwssd(isum, p16, _mm256_shuffle_epi8(sc8x2, pick16(e0, e1)));
}

/* See kernels_avx2_k.c: 8 scales (bytes 0-7) and 8 mins (bytes 8-15) of a Q4_K / Q5_K block. */
static inline __m128i scales_mins_k4(const uint8_t *q) {
    uint32_t u[3];
    memcpy(u, q, 12);
    return _mm_setr_epi32((int)(u[0] & 0x3f3f3f3fu),                                        /* sc0..3 */
                          (int)((u[2] & 0x0f0f0f0fu) | ((u[0] >> 2) & 0x30303030u)),        /* sc4..7 */
                          (int)(u[1] & 0x3f3f3f3fu),                                        /* m0..3 */
                          (int)(((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 2) & 0x30303030u))); /* m4..7 */
}

/* sum_j m_j * (bsums[2j] + bsums[2j+1]) as 4 int32 partial sums; m = 8 int16 mins. */
static inline __m128i mins_dot(__m128i m16, const int16_t *bsums) {
    return _mm_madd_epi16(m16, _mm_hadd_epi16(loadu128(bsums), loadu128(bsums + 8)));
}

/* ---- Q4_K / Q5_K: chunk c = elements 64c..64c+63, sub-blocks 2c (low nibbles) and 2c + 1 ------ */

static inline __m256i q4_K_chunk(const uint8_t *q, const int8_t *y, __m256i sc, int c) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i raw = loadu256(q + 32 * c);
    const __m256i p0 = mul_u8(_mm256_and_si256(raw, m4), loadu256(y + 64 * c));
    const __m256i p1 = mul_u8(_mm256_and_si256(_mm256_srli_epi16(raw, 4), m4), loadu256(y + 64 * c + 32));
    return scale_add(scale_add(_mm256_setzero_si256(), p0, sc, 2 * c, 2 * c), p1, sc, 2 * c + 1, 2 * c + 1);
}

static void vec_dot_q4_K(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_m = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float dy = b[i].d;
        const __m256i sm = _mm256_cvtepu8_epi16(scales_mins_k4(a[i].scales)); /* 8 scales | 8 mins */
        acc_m = _mm_fmadd_ps(_mm_set1_ps(f16(a[i].dmin) * dy), _mm_cvtepi32_ps(mins_dot(_mm256_extracti128_si256(sm, 1), b[i].bsums)), acc_m);
        const __m256i sc = _mm256_permute2x128_si256(sm, sm, 0x00); /* the 8 scales in both lanes */
        const uint8_t *q = a[i].qs;
        const int8_t *y = b[i].qs;
        const __m256i s01 = _mm256_add_epi32(q4_K_chunk(q, y, sc, 0), q4_K_chunk(q, y, sc, 1));
        const __m256i s23 = _mm256_add_epi32(q4_K_chunk(q, y, sc, 2), q4_K_chunk(q, y, sc, 3));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * dy), _mm256_cvtepi32_ps(_mm256_add_epi32(s01, s23)), acc);
    }
    *s = hsum256(acc) - hsum128(acc_m);
}

/* As q4_K_chunk with the fifth bits: bit 2c of qh[l] for the low nibbles, bit 2c+1 for the high. */
static inline __m256i q5_K_chunk(const uint8_t *q, __m256i qh, const int8_t *y, __m256i sc, int c) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10);
    const __m256i raw = loadu256(q + 32 * c);
    /* bit 2c (2c+1) of every byte to bit 4; bits shifted across bytes land outside bit 4 */
    const __m256i h0 = _mm256_and_si256(c < 2 ? _mm256_slli_epi16(qh, 4 - 2 * c) : _mm256_srli_epi16(qh, 2 * c - 4), b4);
    const __m256i h1 = _mm256_and_si256(c < 2 ? _mm256_slli_epi16(qh, 3 - 2 * c) : _mm256_srli_epi16(qh, 2 * c - 3), b4);
    const __m256i lo = _mm256_or_si256(_mm256_and_si256(raw, m4), h0);
    const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(raw, 4), m4), h1);
    const __m256i p0 = mul_u8(lo, loadu256(y + 64 * c));
    const __m256i p1 = mul_u8(hi, loadu256(y + 64 * c + 32));
    return scale_add(scale_add(_mm256_setzero_si256(), p0, sc, 2 * c, 2 * c), p1, sc, 2 * c + 1, 2 * c + 1);
}

static void vec_dot_q5_K(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_m = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float dy = b[i].d;
        const __m256i sm = _mm256_cvtepu8_epi16(scales_mins_k4(a[i].scales));
        acc_m = _mm_fmadd_ps(_mm_set1_ps(f16(a[i].dmin) * dy), _mm_cvtepi32_ps(mins_dot(_mm256_extracti128_si256(sm, 1), b[i].bsums)), acc_m);
        const __m256i sc = _mm256_permute2x128_si256(sm, sm, 0x00);
        const uint8_t *q = a[i].qs;
        const int8_t *y = b[i].qs;
        const __m256i hb = loadu256(a[i].qh);
        const __m256i s01 = _mm256_add_epi32(q5_K_chunk(q, hb, y, sc, 0), q5_K_chunk(q, hb, y, sc, 1));
        const __m256i s23 = _mm256_add_epi32(q5_K_chunk(q, hb, y, sc, 2), q5_K_chunk(q, hb, y, sc, 3));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * dy), _mm256_cvtepi32_ps(_mm256_add_epi32(s01, s23)), acc);
    }
    *s = hsum256(acc) - hsum128(acc_m);
}

/* ---- Q6_K: u = q + 32 (the stored 6-bit code); sum sc (u - 32) y = sum sc u y - 32 sum sc bsum --- */

/* isum + sum_j sc_j * sum u * y over the 8 sub-blocks of half c (elements 128c..128c+127); sc8 =
 * the half's 8 scales as int16. Each 128-bit lane of a product is one 16-element sub-block. */
static inline __m256i q6_K_half(__m256i isum, const block_q6_K *a, const int8_t *yb, __m128i sc8, int c) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x03), m2hi = _mm256_set1_epi8((char)0xc0);
    const uint8_t *ql = a->ql + 64 * c, *qh = a->qh + 32 * c;
    const int8_t *y = yb + 128 * c;
    const __m256i sc = _mm256_broadcastsi128_si256(sc8);
    const __m256i l0 = loadu256(ql), l1 = loadu256(ql + 32), h = loadu256(qh);
    /* the 6-bit codes of elements +0..31, +32..63, +64..95, +96..127 (u3: qh bits 4-5 are in place) */
    const __m256i u1 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2), 4));
    const __m256i u2 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4));
    const __m256i u3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(h, _mm256_slli_epi16(m2, 4)));
    const __m256i u4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_srli_epi16(_mm256_and_si256(h, m2hi), 2));
    isum = scale_add(isum, mul_u8(u1, loadu256(y)), sc, 0, 1);
    isum = scale_add(isum, mul_u8(u2, loadu256(y + 32)), sc, 2, 3);
    isum = scale_add(isum, mul_u8(u3, loadu256(y + 64)), sc, 4, 5);
    return scale_add(isum, mul_u8(u4, loadu256(y + 96)), sc, 6, 7);
}

static void vec_dot_q6_K(int64_t n, float *s, const void *w, const void *x) {
    const block_q6_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(loadu128(a[i].scales));
        /* 32 * sum_j sc_j bsum_j: |sc| <= 128, |bsum| <= 2048, 16 terms: fits int32 */
        const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, loadu256(b[i].bsums)), 5);
        const __m256i h0 = q6_K_half(_mm256_sub_epi32(_mm256_setzero_si256(), corr), &a[i], b[i].qs, _mm256_castsi256_si128(sc16), 0);
        const __m256i h1 = q6_K_half(_mm256_setzero_si256(), &a[i], b[i].qs, _mm256_extracti128_si256(sc16, 1), 1);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * b[i].d), _mm256_cvtepi32_ps(_mm256_add_epi32(h0, h1)), acc);
    }
    *s = hsum256(acc);
}

/* ---- Q2_K: codes 0..3, 16 sub-blocks of 16 with scale (sc & 15) and min (sc >> 4) ------------- */

/* isum + chunk c (elements 128c..128c+127 = sub-blocks 8c..8c+7) of a Q2_K super-block; scl = the
 * 16 scales (sc & 15) as bytes. Called with constant c so shifts and patterns fold to constants. */
static inline __m256i q2_K_chunk(__m256i isum, const uint8_t *qs, const int8_t *yb, __m128i scl, int c) {
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(c ? _mm_srli_si128(scl, 8) : scl));
    const __m256i q2 = loadu256(qs + 32 * c);
    const int8_t *y = yb + 128 * c;
    /* shift 2k: elements 32k..32k+31 of the chunk = sub-blocks 2k (low lane), 2k + 1 */
    isum = scale_add(isum, mul_u8(_mm256_and_si256(q2, m3), loadu256(y)), sc, 0, 1);
    isum = scale_add(isum, mul_u8(_mm256_and_si256(_mm256_srli_epi16(q2, 2), m3), loadu256(y + 32)), sc, 2, 3);
    isum = scale_add(isum, mul_u8(_mm256_and_si256(_mm256_srli_epi16(q2, 4), m3), loadu256(y + 64)), sc, 4, 5);
    return scale_add(isum, mul_u8(_mm256_and_si256(_mm256_srli_epi16(q2, 6), m3), loadu256(y + 96)), sc, 6, 7);
}

static void vec_dot_q2_K(int64_t n, float *s, const void *w, const void *x) {
    const block_q2_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const __m128i m4 = _mm_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float dall = b[i].d * f16(a[i].d);
        const float dmin = b[i].d * f16(a[i].dmin);
        const __m128i sc8 = loadu128(a[i].scales);
        /* mins: sum_j (sc_j >> 4) * bsums_j */
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), m4));
        accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(_mm256_madd_epi16(mins, loadu256(b[i].bsums))), accm);
        const __m128i scl = _mm_and_si128(sc8, m4);
        const __m256i isum = _mm256_add_epi32(q2_K_chunk(_mm256_setzero_si256(), a[i].qs, b[i].qs, scl, 0),
                                              q2_K_chunk(_mm256_setzero_si256(), a[i].qs, b[i].qs, scl, 1));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dall), _mm256_cvtepi32_ps(isum), acc);
    }
    *s = hsum256(acc) - hsum256(accm);
}

/* ---- Q3_K: u = q + 4 = low 2 bits | (high bit << 2) in 0..7; sum sc (u - 4) y = sum sc u y
 * - 4 sum sc bsum ------------------------------------------------------------------------------ */

/* The 16 signed scales (code - 32) of a Q3_K super-block as 16 int8 in order (kernels_avx2_iqk.c). */
static inline __m128i q3_scales(const uint8_t p[12]) {
    uint32_t u[3];
    memcpy(u, p, 12);
    const uint32_t m4 = 0x0f0f0f0fu, m2 = 0x03030303u;
    const __m128i v = _mm_setr_epi32((int)((u[0] & m4) | ((u[2] & m2) << 4)), (int)((u[1] & m4) | (((u[2] >> 2) & m2) << 4)),
                                     (int)(((u[0] >> 4) & m4) | (((u[2] >> 4) & m2) << 4)),
                                     (int)(((u[1] >> 4) & m4) | (((u[2] >> 6) & m2) << 4)));
    return _mm_sub_epi8(v, _mm_set1_epi8(32));
}

/* isum + the 32 elements at shift k of a chunk: codes (q3 >> 2k) & 3 plus 4 where bit k of the
 * (shifted) hmask byte is set, times y, the low lane times scale 2k, the high lane times 2k + 1. */
static inline __m256i q3_step(__m256i isum, __m256i q3, __m256i hm, int k, const int8_t *y, __m256i sc) {
    const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(q3, 2 * k), _mm256_set1_epi8(3));
    const __m256i h4 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hm, k), _mm256_set1_epi8(1)), 2);
    return scale_add(isum, mul_u8(_mm256_or_si256(lo, h4), loadu256(y)), sc, 2 * k, 2 * k + 1);
}

/* isum + one chunk (128 elements) of a Q3_K super-block: q3 = its 32 bytes of qs, hm = the hmask
 * shifted right by 4c, sc = its 8 scales as int16 in both lanes. */
static inline __m256i q3_K_chunk(__m256i isum, __m256i q3, __m256i hm, const int8_t *y, __m256i sc) {
    isum = q3_step(isum, q3, hm, 0, y, sc);
    isum = q3_step(isum, q3, hm, 1, y + 32, sc);
    isum = q3_step(isum, q3, hm, 2, y + 64, sc);
    return q3_step(isum, q3, hm, 3, y + 96, sc);
}

static void vec_dot_q3_K(int64_t n, float *s, const void *w, const void *x) {
    const block_q3_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(q3_scales(a[i].scales));
        /* 4 * sum_j sc_j bsum_j: |sc| <= 32, |bsum| <= 2048 */
        const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, loadu256(b[i].bsums)), 2);
        const __m256i hm = loadu256(a[i].hmask);
        const __m256i s0 = q3_K_chunk(_mm256_sub_epi32(_mm256_setzero_si256(), corr), loadu256(a[i].qs), hm, b[i].qs,
                                      _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sc16)));
        const __m256i s1 = q3_K_chunk(_mm256_setzero_si256(), loadu256(a[i].qs + 32), _mm256_srli_epi16(hm, 4), b[i].qs + 128,
                                      _mm256_broadcastsi128_si256(_mm256_extracti128_si256(sc16, 1)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * b[i].d), _mm256_cvtepi32_ps(_mm256_add_epi32(s0, s1)), acc);
    }
    *s = hsum256(acc);
}

/* ---- IQ4_XS: 8 blocks of 32 with scale ls - 32; codebook + 128, minus 128 * bsums ------------ */

/* The 8 signed block scales (ls - 32) of an IQ4_XS super-block as int16 (kernels_avx2_iqk.c). */
static inline __m128i iq4_xs_scales(const block_iq4_xs *a) {
    uint32_t l4;
    memcpy(&l4, a->scales_l, 4);
    const __m128i v = _mm_cvtsi32_si128((int)l4), m4 = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_cvtepu8_epi16(_mm_unpacklo_epi8(_mm_and_si128(v, m4), _mm_and_si128(_mm_srli_epi16(v, 4), m4)));
    const __m128i h = _mm_set1_epi32(a->scales_h);
    const __m128i m3 = _mm_set1_epi32(3);
    const __m128i h0 = _mm_and_si128(_mm_srlv_epi32(h, _mm_setr_epi32(0, 2, 4, 6)), m3);
    const __m128i h1 = _mm_and_si128(_mm_srlv_epi32(h, _mm_setr_epi32(8, 10, 12, 14)), m3);
    const __m128i hi = _mm_packs_epi32(h0, h1);
    return _mm_sub_epi16(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi16(32));
}

/* Blocks 2k (low lane) and 2k + 1 (high lane) of an IQ4_XS super-block: (ls - 32) * sum (code
 * + 128) * y per lane; sc32 = the 8 scales as int32. Called with constant k. */
static inline __m256i iq4_xs_pair(const block_iq4_xs *a, const int8_t *yb, __m256i table, __m256i sc32, int k) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), z = _mm256_setzero_si256();
    const __m256i raw = loadu256(a->qs + 32 * k);
    const int8_t *y = yb + 64 * k;
    const __m256i wlo = _mm256_shuffle_epi8(table, _mm256_and_si256(raw, m4));                       /* elements 0..15 */
    const __m256i whi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4)); /* 16..31 */
    const __m256i d = dpbusd(dpbusd(z, wlo, load_2x16(y, y + 32)), whi, load_2x16(y + 16, y + 48)); /* |d| <= 8 * 241 * 128 */
    const __m256i scl = _mm256_permutevar8x32_epi32(sc32, _mm256_setr_epi32(2 * k, 2 * k, 2 * k, 2 * k, 2 * k + 1, 2 * k + 1, 2 * k + 1, 2 * k + 1));
    return _mm256_mullo_epi32(d, scl);
}

static void vec_dot_iq4_xs(int64_t n, float *s, const void *w, const void *x) {
    const block_iq4_xs *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const __m256i table = iq4_table_u8();
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const __m128i sc16 = iq4_xs_scales(&a[i]);
        const __m256i sc32 = _mm256_cvtepi16_epi32(sc16);
        const __m256i isum = _mm256_add_epi32(_mm256_add_epi32(iq4_xs_pair(&a[i], b[i].qs, table, sc32, 0), iq4_xs_pair(&a[i], b[i].qs, table, sc32, 1)),
                                              _mm256_add_epi32(iq4_xs_pair(&a[i], b[i].qs, table, sc32, 2), iq4_xs_pair(&a[i], b[i].qs, table, sc32, 3)));
        /* 128 * sum_ib (ls_ib - 32) * (sum of y over block ib): |ls - 32| <= 32, |block sum| <= 4096 */
        const __m128i corr = _mm_madd_epi16(sc16, _mm_hadd_epi16(loadu128(b[i].bsums), loadu128(b[i].bsums + 8)));
        const int32_t total = hsum256_i32(isum) - 128 * hsum128_i32(corr); /* exact: |total| < 2^31 */
        sum += (f16(a[i].d) * b[i].d) * (float)total;
    }
    *s = sum;
}

/* ---- the table ------------------------------------------------------------------------------- */

static const zk_kernels k_avxvnni = {
    .name = "avxvnni",
    .vec_dot = {
        [ZETA_TYPE_Q8_0] = vec_dot_q8_0,
        [ZETA_TYPE_Q4_0] = vec_dot_q4_0,
        [ZETA_TYPE_Q4_1] = vec_dot_q4_1,
        [ZETA_TYPE_Q5_0] = vec_dot_q5_0,
        [ZETA_TYPE_Q5_1] = vec_dot_q5_1,
        [ZETA_TYPE_Q2_K] = vec_dot_q2_K,
        [ZETA_TYPE_Q3_K] = vec_dot_q3_K,
        [ZETA_TYPE_Q4_K] = vec_dot_q4_K,
        [ZETA_TYPE_Q5_K] = vec_dot_q5_K,
        [ZETA_TYPE_Q6_K] = vec_dot_q6_K,
        [ZETA_TYPE_IQ4_NL] = vec_dot_iq4_nl,
        [ZETA_TYPE_IQ4_XS] = vec_dot_iq4_xs,
    },
};

const zk_kernels *zk_avxvnni(void) { return &k_avxvnni; }
