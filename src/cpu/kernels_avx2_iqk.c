/* kernels_avx2_iqk.c — AVX2 + FMA + F16C dot products of Q2_K, Q3_K, IQ4_XS (Q8_K activations)
 * and IQ4_NL (Q8_0 activations) (this whole file is compiled with -mavx2 -mfma -mf16c and only
 * called after cpu_features.c has checked the CPU). Semantics of kernels_scalar_iqk.c: the
 * integer part of every block is exact; the float sums are formed in another order.
 *
 * Technique: 2-bit codes are maddubs' unsigned operand directly; Q3_K's "minus 4 where the high
 * bit is clear" is a second maddubs subtracted in int16; the IQ4 codebook is a 16-entry pshufb
 * table. Per-sub-block scales are int16 multipliers of madd, picked per 128-bit lane by pshufb. */
#include "kernels_iqk.h"

#include <immintrin.h>

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float f16_scalar(zeta_f16 h) { return _cvtsh_ss(h); }

/* pshufb masks over 8 int16 scales in both 128-bit lanes: mask k gives scale 2k in the low lane
 * and scale 2k + 1 in the high lane (k = 0..3). */
static inline __m256i scale_pick_mask(int k) {
    const __m128i lo = _mm_set1_epi16((short)((4 * k) | ((4 * k + 1) << 8)));
    const __m128i hi = _mm_set1_epi16((short)((4 * k + 2) | ((4 * k + 3) << 8)));
    return _mm256_set_m128i(hi, lo);
}

/* ---- Q2_K ------------------------------------------------------------------------------------ */

void zk_vec_dot_q2_K_avx2(int64_t n, float *s, const void *w, const void *x) {
    const block_q2_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const __m256i m3 = _mm256_set1_epi8(3);
    const __m128i m4 = _mm_set1_epi8(0x0f);
    const __m256i pick0 = scale_pick_mask(0), pick1 = scale_pick_mask(1);
    const __m256i pick2 = scale_pick_mask(2), pick3 = scale_pick_mask(3);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float dall = b[i].d * f16_scalar(a[i].d);
        const float dmin = b[i].d * f16_scalar(a[i].dmin);
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)a[i].scales);
        /* mins: sum_j (sc_j >> 4) * bsums_j */
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), m4));
        const __m256i summs = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)b[i].bsums));
        accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(summs), accm);
        const __m128i scl = _mm_and_si128(sc8, m4);
        __m256i isum = _mm256_setzero_si256();
        for (int c = 0; c < 2; c++) {
            const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(c ? _mm_srli_si128(scl, 8) : scl));
            const __m256i q2 = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * c));
            const int8_t *y = b[i].qs + 128 * c;
            const __m256i p0 = _mm256_maddubs_epi16(_mm256_and_si256(q2, m3), _mm256_loadu_si256((const __m256i *)y));
            const __m256i p1 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q2, 2), m3), _mm256_loadu_si256((const __m256i *)(y + 32)));
            const __m256i p2 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q2, 4), m3), _mm256_loadu_si256((const __m256i *)(y + 64)));
            const __m256i p3 = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q2, 6), m3), _mm256_loadu_si256((const __m256i *)(y + 96)));
            const __m256i s01 = _mm256_add_epi32(_mm256_madd_epi16(p0, _mm256_shuffle_epi8(sc, pick0)),
                                                 _mm256_madd_epi16(p1, _mm256_shuffle_epi8(sc, pick1)));
            const __m256i s23 = _mm256_add_epi32(_mm256_madd_epi16(p2, _mm256_shuffle_epi8(sc, pick2)),
                                                 _mm256_madd_epi16(p3, _mm256_shuffle_epi8(sc, pick3)));
            isum = _mm256_add_epi32(isum, _mm256_add_epi32(s01, s23));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dall), _mm256_cvtepi32_ps(isum), acc);
    }
    *s = hsum256(acc) - hsum256(accm);
}

/* ---- Q3_K ------------------------------------------------------------------------------------ */

/* The 16 signed scales (code - 32) of a Q3_K super-block as 16 int8 in order: byte j of word
 * j / 4 gets its low nibble from scales[j % 8] (low or high nibble) and its top 2 bits from
 * scales[8 + j % 4] (bits 2 * (j / 4)). */
static inline __m128i q3_scales(const uint8_t p[12]) {
    uint32_t u[3];
    memcpy(u, p, 12);
    const uint32_t m4 = 0x0f0f0f0fu, m2 = 0x03030303u;
    const __m128i v = _mm_setr_epi32((int)((u[0] & m4) | ((u[2] & m2) << 4)), (int)((u[1] & m4) | (((u[2] >> 2) & m2) << 4)),
                                     (int)(((u[0] >> 4) & m4) | (((u[2] >> 4) & m2) << 4)),
                                     (int)(((u[1] >> 4) & m4) | (((u[2] >> 6) & m2) << 4)));
    return _mm_sub_epi8(v, _mm_set1_epi8(32));
}

/* isum + sum over the 32 elements at shift k of one 128-element chunk: codes (lo - 4 * [high bit
 * clear]) times y, each 16-element half times its scale (pick). nh = complemented hmask >> bit. */
static inline __m256i q3_step(__m256i isum, __m256i q3, __m256i nh, int k, const int8_t *y, __m256i sc, __m256i pick) {
    const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(q3, 2 * k), _mm256_set1_epi8(3));
    const __m256i h4 = _mm256_slli_epi16(_mm256_and_si256(nh, _mm256_set1_epi8(1)), 2); /* 4 where clear */
    const __m256i yv = _mm256_loadu_si256((const __m256i *)y);
    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(lo, yv), _mm256_maddubs_epi16(h4, yv));
    return _mm256_add_epi32(isum, _mm256_madd_epi16(p, _mm256_shuffle_epi8(sc, pick)));
}

void zk_vec_dot_q3_K_avx2(int64_t n, float *s, const void *w, const void *x) {
    const block_q3_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const __m256i pick0 = scale_pick_mask(0), pick1 = scale_pick_mask(1);
    const __m256i pick2 = scale_pick_mask(2), pick3 = scale_pick_mask(3);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m128i sc8 = q3_scales(a[i].scales);
        const __m256i nh = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)a[i].hmask), _mm256_set1_epi8(-1));
        __m256i isum = _mm256_setzero_si256();
        for (int c = 0; c < 2; c++) {
            const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(c ? _mm_srli_si128(sc8, 8) : sc8));
            const __m256i q3 = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * c));
            const int8_t *y = b[i].qs + 128 * c;
            isum = q3_step(isum, q3, _mm256_srli_epi16(nh, 4 * c + 0), 0, y, sc, pick0);
            isum = q3_step(isum, q3, _mm256_srli_epi16(nh, 4 * c + 1), 1, y + 32, sc, pick1);
            isum = q3_step(isum, q3, _mm256_srli_epi16(nh, 4 * c + 2), 2, y + 64, sc, pick2);
            isum = q3_step(isum, q3, _mm256_srli_epi16(nh, 4 * c + 3), 3, y + 96, sc, pick3);
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16_scalar(a[i].d) * b[i].d), _mm256_cvtepi32_ps(isum), acc);
    }
    *s = hsum256(acc);
}

/* ---- IQ4_NL / IQ4_XS ------------------------------------------------------------------------- */

static inline __m256i iq4_table(void) {
    return _mm256_broadcastsi128_si256(_mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113));
}

/* Two 16-byte pieces as one register: p0 in the low 128-bit lane, p1 in the high one. */
static inline __m256i load_2x16(const void *p0, const void *p1) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p0)),
                                   _mm_loadu_si128((const __m128i *)p1), 1);
}

/* Signed int8 w times int8 y, pairs summed into 16 int16 (exact: |w| <= 127). */
static inline __m256i mul_i8_pairs(__m256i w, __m256i y) {
    return _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(y, w));
}

/* Exact dots of the IQ4 codes `raw` (16 bytes per lane) with their activations: ylo holds each
 * lane's elements 0..15, yhi elements 16..31. 8 int32: lanes 0-3 from the low lane's block. */
static inline __m256i iq4_dot_2(__m256i raw, __m256i ylo, __m256i yhi, __m256i table, __m256i mult) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i wlo = _mm256_shuffle_epi8(table, _mm256_and_si256(raw, m4));
    const __m256i whi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4));
    return _mm256_add_epi32(_mm256_madd_epi16(mul_i8_pairs(wlo, ylo), mult), _mm256_madd_epi16(mul_i8_pairs(whi, yhi), mult));
}

/* d_w * d_x of 4 consecutive blocks, converted 4 at a time. */
static inline __m128 scales_4(const block_iq4_nl *a, const block_q8_0 *b) {
    const __m128i hw = _mm_setr_epi16((short)a[0].d, (short)a[1].d, (short)a[2].d, (short)a[3].d, 0, 0, 0, 0);
    const __m128i hx = _mm_setr_epi16((short)b[0].d, (short)b[1].d, (short)b[2].d, (short)b[3].d, 0, 0, 0, 0);
    return _mm_mul_ps(_mm_cvtph_ps(hx), _mm_cvtph_ps(hw));
}

void zk_vec_dot_iq4_nl_avx2(int64_t n, float *s, const void *w, const void *x) {
    const block_iq4_nl *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    const __m256i table = iq4_table(), ones = _mm256_set1_epi16(1);
    const __m256i idx01 = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    const __m256i idx23 = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m256 s4 = _mm256_castps128_ps256(scales_4(a + i, b + i));
        const __m256i p0 = iq4_dot_2(load_2x16(a[i].qs, a[i + 1].qs), load_2x16(b[i].qs, b[i + 1].qs),
                                     load_2x16(b[i].qs + 16, b[i + 1].qs + 16), table, ones);
        const __m256i p1 = iq4_dot_2(load_2x16(a[i + 2].qs, a[i + 3].qs), load_2x16(b[i + 2].qs, b[i + 3].qs),
                                     load_2x16(b[i + 2].qs + 16, b[i + 3].qs + 16), table, ones);
        acc0 = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(s4, idx01), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(s4, idx23), _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; i < nb; i++) { /* tail: the block in both lanes, the high lane's scale zero */
        const __m256i p = iq4_dot_2(load_2x16(a[i].qs, a[i].qs), load_2x16(b[i].qs, b[i].qs),
                                    load_2x16(b[i].qs + 16, b[i].qs + 16), table, ones);
        const __m256 sc = _mm256_setr_ps(0, 0, 0, 0, 0, 0, 0, 0);
        const float d = f16_scalar(b[i].d) * f16_scalar(a[i].d);
        acc0 = _mm256_fmadd_ps(_mm256_blend_ps(sc, _mm256_set1_ps(d), 0x0f), _mm256_cvtepi32_ps(p), acc0);
    }
    *s = hsum256(_mm256_add_ps(acc0, acc1));
}

/* The 8 signed block scales (ls - 32) of an IQ4_XS super-block as int16: low nibbles from
 * scales_l (block ib at bit 4 * (ib % 2) of byte ib / 2), top 2 bits from scales_h (bit 2 * ib). */
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

void zk_vec_dot_iq4_xs_avx2(int64_t n, float *s, const void *w, const void *x) {
    const block_iq4_xs *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const __m256i table = iq4_table();
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256i sc = _mm256_broadcastsi128_si256(iq4_xs_scales(&a[i]));
        __m256i isum = _mm256_setzero_si256();
        for (int k = 0; k < 4; k++) { /* sub-blocks 2k (low lane) and 2k + 1 (high lane) */
            const __m256i raw = _mm256_loadu_si256((const __m256i *)(a[i].qs + 32 * k));
            const int8_t *y = b[i].qs + 64 * k;
            isum = _mm256_add_epi32(isum, iq4_dot_2(raw, load_2x16(y, y + 32), load_2x16(y + 16, y + 48), table,
                                                     _mm256_shuffle_epi8(sc, scale_pick_mask(k))));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16_scalar(a[i].d) * b[i].d), _mm256_cvtepi32_ps(isum), acc);
    }
    *s = hsum256(acc);
}
