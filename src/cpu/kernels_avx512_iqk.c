/* kernels_avx512_iqk.c — AVX-512 (F, BW, VL, DQ) dot products of Q2_K, Q3_K, IQ4_XS (Q8_K
 * activations) and IQ4_NL (Q8_0 activations) (this whole file is compiled with -mavx512f
 * -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c and only called after cpu_features.c has
 * checked the CPU and the OS-enabled ZMM state). Semantics of kernels_scalar_iqk.c: the integer
 * part of every block is exact; the float sums are formed in another order.
 *
 * Technique as in kernels_avx2_iqk.c, 64 bytes per step: each 128-bit lane of a product holds one
 * 16-element sub-block (or half of a 32-block), whose int16 scale is placed in that lane with
 * vpermw. AVX-512 has no vpsignb: the sign of the weight moves onto the activation with a masked
 * subtraction. No VNNI (it would need its own detection and table). */
#include "kernels_iqk.h"

#include <immintrin.h>

static inline float f16_scalar(zeta_f16 h) { return _cvtsh_ss(h); }

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Index vector for vpermw: lane k (8 int16) = element first + k, k = 0..3. */
static inline __m512i lane_index(int first) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set_m128i(_mm_set1_epi16((short)(first + 1)), _mm_set1_epi16((short)first))),
                              _mm256_set_m128i(_mm_set1_epi16((short)(first + 3)), _mm_set1_epi16((short)(first + 2))), 1);
}

/* A 32-byte piece in both 256-bit halves. */
static inline __m512i dup_256(const void *p) { return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p)); }

/* Signed int8 w times int8 y, pairs summed into 32 int16 (exact: |w| <= 127). */
static inline __m512i mul_i8_pairs(__m512i w, __m512i y) {
    const __m512i sy = _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(w), _mm512_setzero_si512(), y);
    return _mm512_maddubs_epi16(_mm512_abs_epi8(w), sy);
}

/* ---- Q2_K ------------------------------------------------------------------------------------ */

void zk_vec_dot_q2_K_avx512(int64_t n, float *s, const void *w, const void *x) {
    const block_q2_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const __m512i m3 = _mm512_set1_epi8(3);
    const __m128i m4 = _mm_set1_epi8(0x0f);
    /* per 16-bit element shift of the codes: half 0 = shift 0 / 4, half 1 = shift 2 / 6 */
    const __m512i sh01 = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    const __m512i sh23 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
    const __m512i idx[4] = {lane_index(0), lane_index(4), lane_index(8), lane_index(12)};
    __m512 acc = _mm512_setzero_ps();
    __m256 accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float dall = b[i].d * f16_scalar(a[i].d);
        const float dmin = b[i].d * f16_scalar(a[i].dmin);
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)a[i].scales);
        const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), m4));
        const __m256i summs = _mm256_madd_epi16(mins, _mm256_loadu_si256((const __m256i *)b[i].bsums));
        accm = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(summs), accm);
        const __m512i sc = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(sc8, m4)));
        __m512i isum = _mm512_setzero_si512();
        for (int c = 0; c < 2; c++) {
            const __m512i q2 = dup_256(a[i].qs + 32 * c);
            const int8_t *y = b[i].qs + 128 * c;
            const __m512i c01 = _mm512_and_si512(_mm512_srlv_epi16(q2, sh01), m3); /* elements 0..63 of the chunk */
            const __m512i c23 = _mm512_and_si512(_mm512_srlv_epi16(q2, sh23), m3); /* elements 64..127 */
            const __m512i p01 = _mm512_maddubs_epi16(c01, _mm512_loadu_si512(y));
            const __m512i p23 = _mm512_maddubs_epi16(c23, _mm512_loadu_si512(y + 64));
            isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p01, _mm512_permutexvar_epi16(idx[2 * c], sc)));
            isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p23, _mm512_permutexvar_epi16(idx[2 * c + 1], sc)));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(dall), _mm512_cvtepi32_ps(isum), acc);
    }
    *s = _mm512_reduce_add_ps(acc) - hsum256(accm);
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

void zk_vec_dot_q3_K_avx512(int64_t n, float *s, const void *w, const void *x) {
    const block_q3_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const __m512i m3 = _mm512_set1_epi8(3), four = _mm512_set1_epi8(4);
    const __m512i sh01 = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    const __m512i sh23 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
    const __m512i idx[4] = {lane_index(0), lane_index(4), lane_index(8), lane_index(12)};
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m512i sc = _mm512_castsi256_si512(_mm256_cvtepi8_epi16(q3_scales(a[i].scales)));
        const __m512i hm = dup_256(a[i].hmask);
        __m512i isum = _mm512_setzero_si512();
        for (int c = 0; c < 2; c++) {
            const __m512i q3 = dup_256(a[i].qs + 32 * c);
            const int8_t *y = b[i].qs + 128 * c;
            for (int h = 0; h < 2; h++) { /* elements 64h..64h+63 of the chunk: shifts 2h, 2h + 1 */
                const int bit = 4 * c + 2 * h;
                const __m512i lo = _mm512_and_si512(_mm512_srlv_epi16(q3, h ? sh23 : sh01), m3);
                const __m512i bits = _mm512_inserti64x4(_mm512_set1_epi8((char)(1 << bit)), _mm256_set1_epi8((char)(1 << (bit + 1))), 1);
                const __m512i h4 = _mm512_maskz_mov_epi8(_mm512_testn_epi8_mask(hm, bits), four); /* 4 where clear */
                const __m512i yv = _mm512_loadu_si512(y + 64 * h);
                const __m512i p = _mm512_sub_epi16(_mm512_maddubs_epi16(lo, yv), _mm512_maddubs_epi16(h4, yv));
                isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p, _mm512_permutexvar_epi16(idx[2 * c + h], sc)));
            }
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(f16_scalar(a[i].d) * b[i].d), _mm512_cvtepi32_ps(isum), acc);
    }
    *s = _mm512_reduce_add_ps(acc);
}

/* ---- IQ4_NL / IQ4_XS ------------------------------------------------------------------------- */

static inline __m512i iq4_table(void) {
    return _mm512_broadcast_i32x4(_mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113));
}

/* Exact dots of IQ4 codes `raw` (16 bytes per 128-bit lane) with activations ylo (each lane's
 * elements 0..15) and yhi (16..31), each lane's int16 pair sums times `mult`: 16 int32. */
static inline __m512i iq4_dot_4(__m512i raw, __m512i ylo, __m512i yhi, __m512i table, __m512i mult) {
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i wlo = _mm512_shuffle_epi8(table, _mm512_and_si512(raw, m4));
    const __m512i whi = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4));
    return _mm512_add_epi32(_mm512_madd_epi16(mul_i8_pairs(wlo, ylo), mult), _mm512_madd_epi16(mul_i8_pairs(whi, yhi), mult));
}

static inline __m512i load_4x16(const void *p0, const void *p1, const void *p2, const void *p3) {
    const __m256i lo = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p0)), _mm_loadu_si128((const __m128i *)p1), 1);
    const __m256i hi = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p2)), _mm_loadu_si128((const __m128i *)p3), 1);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* acc + (d_w * d_x of each block, spread over its lane) * the exact dots of blocks a[0..3]. */
static inline __m512 iq4_nl_step4(const block_iq4_nl *a, const block_q8_0 *b, __m512i table, __m512 acc) {
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const __m128i hw = _mm_setr_epi16((short)a[0].d, (short)a[1].d, (short)a[2].d, (short)a[3].d, 0, 0, 0, 0);
    const __m128i hx = _mm_setr_epi16((short)b[0].d, (short)b[1].d, (short)b[2].d, (short)b[3].d, 0, 0, 0, 0);
    const __m512 s4 = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_mul_ps(_mm_cvtph_ps(hx), _mm_cvtph_ps(hw))));
    const __m512i p = iq4_dot_4(load_4x16(a[0].qs, a[1].qs, a[2].qs, a[3].qs),
                                load_4x16(b[0].qs, b[1].qs, b[2].qs, b[3].qs),
                                load_4x16(b[0].qs + 16, b[1].qs + 16, b[2].qs + 16, b[3].qs + 16), table, _mm512_set1_epi16(1));
    return _mm512_fmadd_ps(s4, _mm512_cvtepi32_ps(p), acc);
}

void zk_vec_dot_iq4_nl_avx512(int64_t n, float *s, const void *w, const void *x) {
    const block_iq4_nl *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    const __m512i table = iq4_table();
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= nb; i += 8) {
        acc0 = iq4_nl_step4(a + i, b + i, table, acc0);
        acc1 = iq4_nl_step4(a + i + 4, b + i + 4, table, acc1);
    }
    for (; i + 4 <= nb; i += 4) acc0 = iq4_nl_step4(a + i, b + i, table, acc0);
    for (; i < nb; i++) { /* tail: the block in every lane, only lane 0's scale nonzero */
        const __m512i p = iq4_dot_4(load_4x16(a[i].qs, a[i].qs, a[i].qs, a[i].qs),
                                    load_4x16(b[i].qs, b[i].qs, b[i].qs, b[i].qs),
                                    load_4x16(b[i].qs + 16, b[i].qs + 16, b[i].qs + 16, b[i].qs + 16), table, _mm512_set1_epi16(1));
        const __m512 d = _mm512_maskz_mov_ps(0x000f, _mm512_set1_ps(f16_scalar(b[i].d) * f16_scalar(a[i].d)));
        acc0 = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(p), acc0);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
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

void zk_vec_dot_iq4_xs_avx512(int64_t n, float *s, const void *w, const void *x) {
    const block_iq4_xs *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    const __m512i table = iq4_table();
    const __m512i idx0 = lane_index(0), idx1 = lane_index(4);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m512i sc = _mm512_castsi128_si512(iq4_xs_scales(&a[i]));
        __m512i isum = _mm512_setzero_si512();
        for (int k = 0; k < 2; k++) { /* sub-blocks 4k..4k+3, one per 128-bit lane */
            const __m512i raw = _mm512_loadu_si512(a[i].qs + 64 * k);
            const __m512i y0 = _mm512_loadu_si512(b[i].qs + 128 * k), y1 = _mm512_loadu_si512(b[i].qs + 128 * k + 64);
            const __m512i ylo = _mm512_shuffle_i64x2(y0, y1, _MM_SHUFFLE(2, 0, 2, 0));
            const __m512i yhi = _mm512_shuffle_i64x2(y0, y1, _MM_SHUFFLE(3, 1, 3, 1));
            isum = _mm512_add_epi32(isum, iq4_dot_4(raw, ylo, yhi, table, _mm512_permutexvar_epi16(k ? idx1 : idx0, sc)));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(f16_scalar(a[i].d) * b[i].d), _mm512_cvtepi32_ps(isum), acc);
    }
    *s = _mm512_reduce_add_ps(acc);
}
