/* kernels_avx2_k.c — the AVX2 + FMA K-quant kernels (kernels_k.h): Q4_K / Q5_K / Q6_K x Q8_K dot
 * products and the Q8_K activation quantizer. The whole file is compiled with -mavx2 -mfma -mf16c
 * and only called after cpu_features.c has checked the CPU. Integer parts are exact (so every
 * super-block's sums equal the scalar spec's); only the f32 accumulation order differs. The Q8_K
 * quantizer is byte-identical to quantize_row_q8_K_ref.
 *
 * Products use maddubs (unsigned codes x signed activations -> int16 pairs, here at most
 * 2 * 63 * 128 < 2^15, so never saturating), then madd with the int16 sub-block scales. */
#include "kernels_k.h"

#include <immintrin.h>

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

/* f16 -> f32 with F16C (the same exact conversion as zeta_f16_to_f32) */
static inline float f16(zeta_f16 h) { return _cvtsh_ss(h); }

static inline __m256i loadu256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* The 8 six-bit scales (bytes 0-7) and 8 mins (bytes 8-15) of a Q4_K / Q5_K super-block, from the
 * 12 packed bytes: for j < 4 the low 6 bits of bytes j / j + 4; for j >= 4 a nibble of byte j + 4
 * topped by the 2 high bits of byte j - 4 / j. */
static inline __m128i scales_mins_k4(const uint8_t *q) {
    uint32_t u[3];
    memcpy(u, q, 12);
    /* built from registers: a 128-bit load of four just-stored words would stall store forwarding */
    return _mm_setr_epi32((int)(u[0] & 0x3f3f3f3fu),                                        /* sc0..3 */
                          (int)((u[2] & 0x0f0f0f0fu) | ((u[0] >> 2) & 0x30303030u)),        /* sc4..7 */
                          (int)(u[1] & 0x3f3f3f3fu),                                        /* m0..3 */
                          (int)(((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 2) & 0x30303030u))); /* m4..7 */
}

/* sum_j m_j * (bsums[2j] + bsums[2j+1]) as 4 int32 partial sums; m = 8 int16 mins. */
static inline __m128i mins_dot(__m128i m16, const int16_t *bsums) {
    const __m128i b0 = _mm_loadu_si128((const __m128i *)bsums);
    const __m128i b1 = _mm_loadu_si128((const __m128i *)(bsums + 8));
    return _mm_madd_epi16(m16, _mm_hadd_epi16(b0, b1)); /* |pair| <= 2 * 16 * 128: no overflow */
}

/* shuffle_epi8 patterns: int16 element k of each 128-bit lane, broadcast over that lane. */
static inline __m256i pick16(int k) { return _mm256_set1_epi16((short)((2 * k) | ((2 * k + 1) << 8))); }
/* element k in the low lane, element k + 1 in the high lane */
static inline __m256i pick16_pair(int k) {
    return _mm256_setr_m128i(_mm_set1_epi16((short)((2 * k) | ((2 * k + 1) << 8))),
                             _mm_set1_epi16((short)((2 * k + 2) | ((2 * k + 3) << 8))));
}

/* ---- Q4_K ------------------------------------------------------------------------------------ */

/* Chunk c (elements 64c..64c+63) of a Q4_K super-block: sc[2c] * sum lo * y + sc[2c+1] * sum hi * y
 * as 8 int32 partial sums. Called with constant c so the shuffle patterns fold to constants. */
static inline __m256i q4_K_chunk(const uint8_t *q, const int8_t *y, __m256i sc, int c) {
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const __m256i raw = loadu256(q + 32 * c);
    const __m256i lo = _mm256_and_si256(raw, m4);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
    const __m256i p0 = _mm256_maddubs_epi16(lo, loadu256(y + 64 * c));
    const __m256i p1 = _mm256_maddubs_epi16(hi, loadu256(y + 64 * c + 32));
    return _mm256_add_epi32(_mm256_madd_epi16(p0, _mm256_shuffle_epi8(sc, pick16(2 * c))),
                            _mm256_madd_epi16(p1, _mm256_shuffle_epi8(sc, pick16(2 * c + 1))));
}

void zk_vec_dot_q4_K_avx2(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_m = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float dy = b[i].d;
        const __m256i sm = _mm256_cvtepu8_epi16(scales_mins_k4(a[i].scales)); /* 8 scales | 8 mins */
        const __m128i prod_m = mins_dot(_mm256_extracti128_si256(sm, 1), b[i].bsums);
        acc_m = _mm_fmadd_ps(_mm_set1_ps(f16(a[i].dmin) * dy), _mm_cvtepi32_ps(prod_m), acc_m);
        const __m256i sc = _mm256_permute2x128_si256(sm, sm, 0x00); /* the 8 scales in both lanes */
        const uint8_t *q = a[i].qs;
        const int8_t *y = b[i].qs;
        const __m256i sumi = _mm256_add_epi32(_mm256_add_epi32(q4_K_chunk(q, y, sc, 0), q4_K_chunk(q, y, sc, 1)),
                                              _mm256_add_epi32(q4_K_chunk(q, y, sc, 2), q4_K_chunk(q, y, sc, 3)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * dy), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum256(acc) - hsum128(acc_m);
}

/* ---- Q5_K ------------------------------------------------------------------------------------ */

/* As q4_K_chunk, with the fifth bits: bit 2c of qh[l] for the low nibbles, bit 2c+1 for the high. */
static inline __m256i q5_K_chunk(const uint8_t *q, __m256i qh, const int8_t *y, __m256i sc, int c) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10);
    const __m256i raw = loadu256(q + 32 * c);
    /* bit 2c (2c+1) of every byte to bit 4; bits shifted across bytes land outside bit 4 */
    const __m256i h0 = _mm256_and_si256(c < 2 ? _mm256_slli_epi16(qh, 4 - 2 * c) : _mm256_srli_epi16(qh, 2 * c - 4), b4);
    const __m256i h1 = _mm256_and_si256(c < 2 ? _mm256_slli_epi16(qh, 3 - 2 * c) : _mm256_srli_epi16(qh, 2 * c - 3), b4);
    const __m256i lo = _mm256_or_si256(_mm256_and_si256(raw, m4), h0);
    const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(raw, 4), m4), h1);
    const __m256i p0 = _mm256_maddubs_epi16(lo, loadu256(y + 64 * c));
    const __m256i p1 = _mm256_maddubs_epi16(hi, loadu256(y + 64 * c + 32));
    return _mm256_add_epi32(_mm256_madd_epi16(p0, _mm256_shuffle_epi8(sc, pick16(2 * c))),
                            _mm256_madd_epi16(p1, _mm256_shuffle_epi8(sc, pick16(2 * c + 1))));
}

void zk_vec_dot_q5_K_avx2(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_m = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float dy = b[i].d;
        const __m256i sm = _mm256_cvtepu8_epi16(scales_mins_k4(a[i].scales));
        const __m128i prod_m = mins_dot(_mm256_extracti128_si256(sm, 1), b[i].bsums);
        acc_m = _mm_fmadd_ps(_mm_set1_ps(f16(a[i].dmin) * dy), _mm_cvtepi32_ps(prod_m), acc_m);
        const __m256i sc = _mm256_permute2x128_si256(sm, sm, 0x00);
        const uint8_t *q = a[i].qs;
        const int8_t *y = b[i].qs;
        const __m256i hb = loadu256(a[i].qh);
        const __m256i sumi = _mm256_add_epi32(_mm256_add_epi32(q5_K_chunk(q, hb, y, sc, 0), q5_K_chunk(q, hb, y, sc, 1)),
                                              _mm256_add_epi32(q5_K_chunk(q, hb, y, sc, 2), q5_K_chunk(q, hb, y, sc, 3)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * dy), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum256(acc) - hsum128(acc_m);
}

/* ---- Q6_K ------------------------------------------------------------------------------------ */
/* With u = q + 32 (the stored 6-bit code, 0..63): sum sc_j (u - 32) y = sum sc_j u y
 * - 32 sum sc_j bsum_j; the second term comes from the Q8_K bsums. */

/* Half c (elements 128c..128c+127) of a Q6_K super-block: sum_j sc_j * sum u * y over its 8
 * sub-blocks as 8 int32 partial sums; sc8 = its 8 scales as int16. */
static inline __m256i q6_K_half(const block_q6_K *a, const int8_t *yb, __m128i sc8, int c) {
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
    /* each 128-bit lane of a product is one 16-element sub-block */
    const __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(u1, loadu256(y)), _mm256_shuffle_epi8(sc, pick16_pair(0)));
    const __m256i p2 = _mm256_madd_epi16(_mm256_maddubs_epi16(u2, loadu256(y + 32)), _mm256_shuffle_epi8(sc, pick16_pair(2)));
    const __m256i p3 = _mm256_madd_epi16(_mm256_maddubs_epi16(u3, loadu256(y + 64)), _mm256_shuffle_epi8(sc, pick16_pair(4)));
    const __m256i p4 = _mm256_madd_epi16(_mm256_maddubs_epi16(u4, loadu256(y + 96)), _mm256_shuffle_epi8(sc, pick16_pair(6)));
    return _mm256_add_epi32(_mm256_add_epi32(p1, p2), _mm256_add_epi32(p3, p4));
}

void zk_vec_dot_q6_K_avx2(int64_t n, float *s, const void *w, const void *x) {
    const block_q6_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)a[i].scales);
        const __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
        /* 32 * sum_j sc_j bsum_j: |sc| <= 128, |bsum| <= 2048, 16 terms: fits int32 */
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(),
                                        _mm256_slli_epi32(_mm256_madd_epi16(sc16, loadu256(b[i].bsums)), 5));
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(q6_K_half(&a[i], b[i].qs, _mm256_castsi256_si128(sc16), 0),
                                                        q6_K_half(&a[i], b[i].qs, _mm256_extracti128_si256(sc16, 1), 1)));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16(a[i].d) * b[i].d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum256(acc);
}

/* ---- the Q8_K activation quantizer (byte-identical to quantize_row_q8_K_ref) ----------------- */

/* ggml's nearest_int on 8 lanes: v + 1.5 * 2^23 rounds to an integer in the low mantissa bits. */
static inline __m256i nearest_int8(__m256 v) {
    const __m256i t = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12582912.0f)));
    return _mm256_sub_epi32(_mm256_and_si256(t, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x00400000));
}

void zk_from_float_q8_K_avx2(const float *x, void *vy, int64_t n) {
    block_q8_K *y = vy;
    const int64_t nb = n / QK_K;
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i low8 = _mm256_set1_epi32(0xff);
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        /* max and min of the block, ignoring NaN (maxps returns its second operand on NaN) */
        __m256 vmax = _mm256_setzero_ps(), vmin = _mm256_setzero_ps();
        for (int j = 0; j < QK_K; j += 8) {
            const __m256 v = _mm256_loadu_ps(x + j);
            vmax = _mm256_max_ps(v, vmax);
            vmin = _mm256_min_ps(v, vmin);
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        const float hi = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
        m4 = _mm_min_ps(_mm256_castps256_ps128(vmin), _mm256_extractf128_ps(vmin, 1));
        m4 = _mm_min_ps(m4, _mm_movehl_ps(m4, m4));
        const float lo = _mm_cvtss_f32(_mm_min_ss(m4, _mm_movehdup_ps(m4)));
        if (hi == 0.0f && lo == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        /* the signed value of the first element of largest magnitude */
        float max = hi >= -lo ? hi : lo;
        if (hi == -lo) {
            for (int j = 0; j < QK_K; j++) {
                if (x[j] == hi || x[j] == lo) { max = x[j]; break; }
            }
        }
        const float iscale = -127.0f / max;
        const __m256 vs = _mm256_set1_ps(iscale);
        for (int j = 0; j < QK_K; j += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                const __m256i v = nearest_int8(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8 * k), vs));
                q[k] = _mm256_and_si256(_mm256_min_epi32(v, _mm256_set1_epi32(127)), low8); /* (int8_t) keeps the low byte */
            }
            const __m256i p = _mm256_packus_epi16(_mm256_packus_epi32(q[0], q[1]), _mm256_packus_epi32(q[2], q[3]));
            _mm256_storeu_si256((__m256i *)(y[i].qs + j), _mm256_permutevar8x32_epi32(p, perm));
        }
        for (int j = 0; j < QK_K / 16; j++) {
            const __m128i v = _mm_loadu_si128((const __m128i *)(y[i].qs + 16 * j));
            const __m128i s16 = _mm_add_epi16(_mm_cvtepi8_epi16(v), _mm_cvtepi8_epi16(_mm_srli_si128(v, 8)));
            __m128i s32 = _mm_madd_epi16(s16, _mm_set1_epi16(1));
            s32 = _mm_add_epi32(s32, _mm_shuffle_epi32(s32, 0x4e));
            s32 = _mm_add_epi32(s32, _mm_shuffle_epi32(s32, 0xb1));
            y[i].bsums[j] = (int16_t)_mm_cvtsi128_si32(s32);
        }
        y[i].d = 1.0f / iscale;
    }
}
