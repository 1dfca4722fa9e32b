/* kernels_avx512vnni_k.c — AVX-512 VNNI dots of the super-block types with Q8_K activations: Q2_K,
 * Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS (kernels_vnni.h; for the table in kernels_avx512vnni.c). This
 * whole file is compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c
 * -mavx512vnni and only called after cpu_features.c has checked AVX512_VNNI, AVX-512 F/BW/VL/DQ
 * and the OS-enabled ZMM state. Semantics of kernels_scalar_k.c / kernels_scalar_iqk.c: every
 * super-block's integer sum is exact, the f32 sums are formed in another order.
 *
 * Layouts follow kernels_avx512_k.c / kernels_avx512_iqk.c (64 codes per register). vpdpbusd of
 * the unsigned codes with the activations gives int32 partials of 4 products; vpdpwssd multiplies
 * them by the sub-block scales, placed as (scale, 0) int16 pairs in the int32 lanes by vpermd, so
 * only the low 16 bits of a partial count: exact since every partial fits int16 (kernels_vnni.h). */
#include "kernels_vnni.h"

#include <immintrin.h>
#include <string.h>

/* acc + in each int32 lane the sum of the 4 products (unsigned byte of u) * (signed byte of s). */
static inline __m512i dpbusd(__m512i acc, __m512i u, __m512i s) { return _mm512_dpbusd_epi32(acc, u, s); }
/* acc + in each int32 lane the sum of the 2 products of the signed int16 halves of a and b. */
static inline __m512i dpwssd(__m512i acc, __m512i a, __m512i b) { return _mm512_dpwssd_epi32(acc, a, b); }

static inline float f16(zeta_f16 h) { return _cvtsh_ss(h); } /* exact, as zeta_f16_to_f32 */

static inline __m128i loadu128(const void *p) { return _mm_loadu_si128((const __m128i *)p); }
static inline __m256i loadu256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline __m512i loadu512(const void *p) { return _mm512_loadu_si512(p); }

/* Two 256-bit halves as one register. */
static inline __m512i join256(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }
/* A 32-byte piece in both 256-bit halves. */
static inline __m512i dup_256(const void *p) { return _mm512_broadcast_i64x4(loadu256(p)); }
/* 8 int32 in the low half, zeros in the high half. */
static inline __m512i low_half(__m256i v) { return join256(v, _mm256_setzero_si256()); }

static inline float hsum128(__m128 s) {
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float hsum256(__m256 v) { return hsum128(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1))); }

/* Sum of 4 int32 lanes (wrapping; the callers' sums fit int32). */
static inline int32_t hsum128_i32(__m128i s) {
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

/* int32 index vectors for vpermd: a in lanes 0-7 and b in lanes 8-15; a + k in 128-bit lane k. */
static inline __m512i idx_halves(int a, int b) { return join256(_mm256_set1_epi32(a), _mm256_set1_epi32(b)); }
static inline __m512i idx_lanes(int a) {
    return _mm512_setr_epi32(a, a, a, a, a + 1, a + 1, a + 1, a + 1, a + 2, a + 2, a + 2, a + 2, a + 3, a + 3, a + 3, a + 3);
}

/* isum + p * (the int32 lanes of sc32 picked by idx). sc32 lanes are (scale, 0) int16 pairs and
 * every lane of p fits int16. */
static inline __m512i scale_add(__m512i isum, __m512i p, __m512i sc32, __m512i idx) {
    return dpwssd(isum, p, _mm512_permutexvar_epi32(idx, sc32));
}

/* ---- Q4_K / Q5_K: chunk c (64 elements) = [32 low-nibble codes | 32 high-nibble codes] ------- */

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

/* Chunk c of a Q4_K super-block: isum + sc[2c] * lo . y (lanes 0-7) + sc[2c+1] * hi . y (8-15). */
static inline __m512i q4_K_chunk(__m512i isum, const uint8_t *qs, const int8_t *y, __m512i sc32, int c) {
    const __m256i raw = loadu256(qs + 32 * c);
    const __m512i u = _mm512_and_si512(join256(raw, _mm256_srli_epi16(raw, 4)), _mm512_set1_epi8(0x0f));
    const __m512i p = dpbusd(_mm512_setzero_si512(), u, loadu512(y + 64 * c)); /* |p| <= 4 * 15 * 128 */
    return scale_add(isum, p, sc32, idx_halves(2 * c, 2 * c + 1));
}

void zk_vec_dot_q4_K_avx512vnni(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    __m512 acc = _mm512_setzero_ps();
    __m128 acc_m = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float dy = b[i].d;
        const __m128i sm8 = scales_mins_k4(a[i].scales);
        acc_m = _mm_fmadd_ps(_mm_set1_ps(f16(a[i].dmin) * dy),
                             _mm_cvtepi32_ps(mins_dot(_mm_cvtepu8_epi16(_mm_srli_si128(sm8, 8)), b[i].bsums)), acc_m);
        const __m512i sc32 = low_half(_mm256_cvtepu8_epi32(sm8)); /* the 8 scales, 0..63 */
        const int8_t *y = b[i].qs;
        const __m512i s01 = q4_K_chunk(q4_K_chunk(_mm512_setzero_si512(), a[i].qs, y, sc32, 0), a[i].qs, y, sc32, 1);
        const __m512i s23 = q4_K_chunk(q4_K_chunk(_mm512_setzero_si512(), a[i].qs, y, sc32, 2), a[i].qs, y, sc32, 3);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(f16(a[i].d) * dy), _mm512_cvtepi32_ps(_mm512_add_epi32(s01, s23)), acc);
    }
    *s = _mm512_reduce_add_ps(acc) - hsum128(acc_m);
}

/* As q4_K_chunk with the fifth bits: hb = qh in both halves; bit 2c goes to bit 4 of the
 * low-nibble half, bit 2c + 1 to bit 4 of the high half (bits shifted across bytes miss bit 4). */
static inline __m512i q5_K_chunk(__m512i isum, const uint8_t *qs, __m512i hb, const int8_t *y, __m512i sc32, int c) {
    const __m512i h = c < 2 ? _mm512_sllv_epi16(hb, join256(_mm256_set1_epi16((short)(4 - 2 * c)), _mm256_set1_epi16((short)(3 - 2 * c))))
                            : _mm512_srlv_epi16(hb, join256(_mm256_set1_epi16((short)(2 * c - 4)), _mm256_set1_epi16((short)(2 * c - 3))));
    const __m256i raw = loadu256(qs + 32 * c);
    const __m512i u = _mm512_or_si512(_mm512_and_si512(join256(raw, _mm256_srli_epi16(raw, 4)), _mm512_set1_epi8(0x0f)),
                                      _mm512_and_si512(h, _mm512_set1_epi8(0x10)));
    const __m512i p = dpbusd(_mm512_setzero_si512(), u, loadu512(y + 64 * c)); /* |p| <= 4 * 31 * 128 */
    return scale_add(isum, p, sc32, idx_halves(2 * c, 2 * c + 1));
}

void zk_vec_dot_q5_K_avx512vnni(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    __m512 acc = _mm512_setzero_ps();
    __m128 acc_m = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float dy = b[i].d;
        const __m128i sm8 = scales_mins_k4(a[i].scales);
        acc_m = _mm_fmadd_ps(_mm_set1_ps(f16(a[i].dmin) * dy),
                             _mm_cvtepi32_ps(mins_dot(_mm_cvtepu8_epi16(_mm_srli_si128(sm8, 8)), b[i].bsums)), acc_m);
        const __m512i sc32 = low_half(_mm256_cvtepu8_epi32(sm8));
        const __m512i hb = dup_256(a[i].qh);
        const int8_t *y = b[i].qs;
        const __m512i s01 = q5_K_chunk(q5_K_chunk(_mm512_setzero_si512(), a[i].qs, hb, y, sc32, 0), a[i].qs, hb, y, sc32, 1);
        const __m512i s23 = q5_K_chunk(q5_K_chunk(_mm512_setzero_si512(), a[i].qs, hb, y, sc32, 2), a[i].qs, hb, y, sc32, 3);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(f16(a[i].d) * dy), _mm512_cvtepi32_ps(_mm512_add_epi32(s01, s23)), acc);
    }
    *s = _mm512_reduce_add_ps(acc) - hsum128(acc_m);
}

/* ---- Q6_K: half c = [ql 64 bytes] -> codes u = q + 32 of elements 128c + 0..63 (low nibbles) and
 * + 64..127 (high nibbles); every 128-bit lane is one 16-element sub-block. The -32 offset is
 * applied via the Q8_K bsums: sum sc (u - 32) y = sum sc u y - 32 sum sc bsum. */

static inline __m512i q6_K_half(__m512i isum, const block_q6_K *a, const int8_t *yb, __m512i sc32, int c) {
    const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30), z = _mm512_setzero_si512();
    /* qh bits 0-1 / 2-3 to bits 4-5 for elements +0..31 / +32..63; bits 4-5 / 6-7 for +64.. / +96.. */
    const __m512i sh_lo = join256(_mm256_set1_epi16(4), _mm256_set1_epi16(2));
    const __m512i sh_hi = join256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    const __m512i l = loadu512(a->ql + 64 * c);
    const __m512i h = dup_256(a->qh + 32 * c);
    const __m512i u_lo = _mm512_or_si512(_mm512_and_si512(l, m4), _mm512_and_si512(_mm512_sllv_epi16(h, sh_lo), m30));
    const __m512i u_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4), _mm512_and_si512(_mm512_srlv_epi16(h, sh_hi), m30));
    /* every partial: |p| <= 4 * 63 * 128 = 32256, so it fits int16 */
    isum = scale_add(isum, dpbusd(z, u_lo, loadu512(yb + 128 * c)), sc32, idx_lanes(8 * c));
    return scale_add(isum, dpbusd(z, u_hi, loadu512(yb + 128 * c + 64)), sc32, idx_lanes(8 * c + 4));
}

void zk_vec_dot_q6_K_avx512vnni(int64_t n, float *s, const void *w, const void *x) {
    const block_q6_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(loadu128(a[i].scales));
        const __m512i sc32 = _mm512_cvtepu16_epi32(sc16); /* (scale, 0): the int16 zero-extended */
        /* 32 * sum_j sc_j bsum_j: |sc| <= 128, |bsum| <= 2048, 16 terms: fits int32 */
        const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, loadu256(b[i].bsums)), 5);
        const __m512i h0 = q6_K_half(low_half(_mm256_sub_epi32(_mm256_setzero_si256(), corr)), &a[i], b[i].qs, sc32, 0);
        const __m512i h1 = q6_K_half(_mm512_setzero_si512(), &a[i], b[i].qs, sc32, 1);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(f16(a[i].d) * b[i].d), _mm512_cvtepi32_ps(_mm512_add_epi32(h0, h1)), acc);
    }
    *s = _mm512_reduce_add_ps(acc);
}

/* ---- Q2_K: codes 0..3, 16 sub-blocks of 16 with scale (sc & 15) and min (sc >> 4) ------------- */

void zk_vec_dot_q2_K_avx512vnni(int64_t n, float *s, const void *w, const void *x) {
    const block_q2_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const __m512i m3 = _mm512_set1_epi8(3), z = _mm512_setzero_si512();
    const __m128i m4 = _mm_set1_epi8(0x0f);
    /* per 16-bit element shift of the codes: half 0 = shift 0 / 4, half 1 = shift 2 / 6 */
    const __m512i sh01 = join256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    const __m512i sh23 = join256(_mm256_set1_epi16(4), _mm256_set1_epi16(6));
    __m512 acc = _mm512_setzero_ps();
    __m256 accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float dall = b[i].d * f16(a[i].d);
        const float dmin = b[i].d * f16(a[i].dmin);
        const __m128i sc8 = loadu128(a[i].scales);
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), m4));
        accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(_mm256_madd_epi16(mins, loadu256(b[i].bsums))), accm);
        const __m512i sc32 = _mm512_cvtepu8_epi32(_mm_and_si128(sc8, m4)); /* 16 scales, 0..15 */
        __m512i isum = _mm512_setzero_si512();
        for (int c = 0; c < 2; c++) { /* elements 128c..128c+127 = sub-blocks 8c..8c+7 */
            const __m512i q2 = dup_256(a[i].qs + 32 * c);
            const int8_t *y = b[i].qs + 128 * c;
            const __m512i c01 = _mm512_and_si512(_mm512_srlv_epi16(q2, sh01), m3); /* elements 0..63 of the chunk */
            const __m512i c23 = _mm512_and_si512(_mm512_srlv_epi16(q2, sh23), m3); /* elements 64..127 */
            isum = scale_add(isum, dpbusd(z, c01, loadu512(y)), sc32, idx_lanes(8 * c));
            isum = scale_add(isum, dpbusd(z, c23, loadu512(y + 64)), sc32, idx_lanes(8 * c + 4));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(dall), _mm512_cvtepi32_ps(isum), acc);
    }
    *s = _mm512_reduce_add_ps(acc) - hsum256(accm);
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

void zk_vec_dot_q3_K_avx512vnni(int64_t n, float *s, const void *w, const void *x) {
    const block_q3_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const __m512i m3 = _mm512_set1_epi8(3), four = _mm512_set1_epi8(4), z = _mm512_setzero_si512();
    const __m512i sh01 = join256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    const __m512i sh23 = join256(_mm256_set1_epi16(4), _mm256_set1_epi16(6));
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(q3_scales(a[i].scales));
        const __m512i sc32 = _mm512_cvtepu16_epi32(sc16); /* (scale, 0): the int16 zero-extended */
        /* 4 * sum_j sc_j bsum_j: |sc| <= 32, |bsum| <= 2048 */
        const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, loadu256(b[i].bsums)), 2);
        __m512i isum = low_half(_mm256_sub_epi32(_mm256_setzero_si256(), corr));
        const __m512i hm = dup_256(a[i].hmask);
        for (int c = 0; c < 2; c++) {
            const __m512i q3 = dup_256(a[i].qs + 32 * c);
            const int8_t *y = b[i].qs + 128 * c;
            for (int h = 0; h < 2; h++) { /* elements 64h..64h+63 of the chunk: shifts 2h, 2h + 1 */
                const int bit = 4 * c + 2 * h;
                const __m512i lo = _mm512_and_si512(_mm512_srlv_epi16(q3, h ? sh23 : sh01), m3);
                const __m512i bits = join256(_mm256_set1_epi8((char)(1 << bit)), _mm256_set1_epi8((char)(1 << (bit + 1))));
                const __m512i h4 = _mm512_maskz_mov_epi8(_mm512_test_epi8_mask(hm, bits), four); /* 4 where set */
                const __m512i p = dpbusd(z, _mm512_or_si512(lo, h4), loadu512(y + 64 * h)); /* |p| <= 4 * 7 * 128 */
                isum = scale_add(isum, p, sc32, idx_lanes(8 * c + 4 * h));
            }
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(f16(a[i].d) * b[i].d), _mm512_cvtepi32_ps(isum), acc);
    }
    *s = _mm512_reduce_add_ps(acc);
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

void zk_vec_dot_iq4_xs_avx512vnni(int64_t n, float *s, const void *w, const void *x) {
    const block_iq4_xs *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const __m128i k = _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    const __m512i table = _mm512_broadcast_i32x4(_mm_xor_si128(k, _mm_set1_epi8((char)0x80))); /* codebook + 128 */
    const __m512i m4 = _mm512_set1_epi8(0x0f), z = _mm512_setzero_si512();
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const __m128i sc16 = iq4_xs_scales(&a[i]);
        const __m512i sc32 = low_half(_mm256_cvtepi16_epi32(sc16)); /* signed int32 for vpmulld */
        __m512i isum = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) { /* blocks 4h..4h+3, one per 128-bit lane */
            const __m512i raw = loadu512(a[i].qs + 64 * h);
            const __m512i y0 = loadu512(b[i].qs + 128 * h), y1 = loadu512(b[i].qs + 128 * h + 64);
            const __m512i ylo = _mm512_shuffle_i64x2(y0, y1, _MM_SHUFFLE(2, 0, 2, 0)); /* elements 0..15 of each block */
            const __m512i yhi = _mm512_shuffle_i64x2(y0, y1, _MM_SHUFFLE(3, 1, 3, 1)); /* 16..31 */
            const __m512i wlo = _mm512_shuffle_epi8(table, _mm512_and_si512(raw, m4));
            const __m512i whi = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4));
            const __m512i d = dpbusd(dpbusd(z, wlo, ylo), whi, yhi); /* |d| <= 8 * 241 * 128 */
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(d, _mm512_permutexvar_epi32(idx_lanes(4 * h), sc32)));
        }
        /* 128 * sum_ib (ls_ib - 32) * (sum of y over block ib): |ls - 32| <= 32, |block sum| <= 4096 */
        const __m128i corr = _mm_madd_epi16(sc16, _mm_hadd_epi16(loadu128(b[i].bsums), loadu128(b[i].bsums + 8)));
        const int32_t total = _mm512_reduce_add_epi32(isum) - 128 * hsum128_i32(corr); /* exact: |total| < 2^31 */
        sum += (f16(a[i].d) * b[i].d) * (float)total;
    }
    *s = sum;
}
