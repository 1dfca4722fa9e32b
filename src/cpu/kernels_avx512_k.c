/* kernels_avx512_k.c — the AVX-512 (F, BW, VL, DQ) K-quant kernels (kernels_k.h): Q4_K / Q5_K /
 * Q6_K x Q8_K dot products and the Q8_K activation quantizer. The whole file is compiled with
 * -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c and only called after
 * cpu_features.c has checked the CPU and the OS-enabled ZMM state. Integer parts are exact; only
 * the f32 accumulation order differs from the scalar spec. The Q8_K quantizer is byte-identical
 * to quantize_row_q8_K_ref. No VNNI (that would need its own detection and table).
 *
 * A 512-bit register holds 64 codes; maddubs (unsigned codes x signed activations, int16 pairs at
 * most 2 * 63 * 128 < 2^15) then madd with int16 sub-block scales spread by permutexvar. */
#include "kernels_k.h"

#include <immintrin.h>

/* f16 -> f32 with F16C (the same exact conversion as zeta_f16_to_f32) */
static inline float f16(zeta_f16 h) { return _cvtsh_ss(h); }

static inline __m256i loadu256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline __m512i loadu512(const void *p) { return _mm512_loadu_si512(p); }

/* Two 256-bit halves as one register. */
static inline __m512i join256(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* See kernels_avx2_k.c: 8 scales (bytes 0-7) and 8 mins (bytes 8-15) of a Q4_K / Q5_K block. */
static inline __m128i scales_mins_k4(const uint8_t *q) {
    uint32_t u[3];
    memcpy(u, q, 12);
    /* built from registers: a 128-bit load of four just-stored words would stall store forwarding */
    return _mm_setr_epi32((int)(u[0] & 0x3f3f3f3fu),                                        /* sc0..3 */
                          (int)((u[2] & 0x0f0f0f0fu) | ((u[0] >> 2) & 0x30303030u)),        /* sc4..7 */
                          (int)(u[1] & 0x3f3f3f3fu),                                        /* m0..3 */
                          (int)(((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 2) & 0x30303030u))); /* m4..7 */
}

/* int16 index vector: element a in the low 16 lanes, element b in the high 16 lanes. */
static inline __m512i idx_halves(int a, int b) {
    return join256(_mm256_set1_epi16((short)a), _mm256_set1_epi16((short)b));
}
/* int16 index vector: element a + k in 128-bit lane k (k = 0..3). */
static inline __m512i idx_lanes(int a) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_setr_m128i(_mm_set1_epi16((short)a), _mm_set1_epi16((short)(a + 1)))),
                              _mm256_setr_m128i(_mm_set1_epi16((short)(a + 2)), _mm_set1_epi16((short)(a + 3))), 1);
}

/* sum_j m_j * (bsums[2j] + bsums[2j+1]) as 4 int32 partial sums; m = 8 int16 mins. */
static inline __m128i mins_dot(__m128i m16, const int16_t *bsums) {
    const __m128i b0 = _mm_loadu_si128((const __m128i *)bsums);
    const __m128i b1 = _mm_loadu_si128((const __m128i *)(bsums + 8));
    return _mm_madd_epi16(m16, _mm_hadd_epi16(b0, b1));
}

static inline float hsum128(__m128 s) {
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ---- Q4_K / Q5_K: chunk c (64 elements) = [32 low-nibble codes | 32 high-nibble codes] ------- */

/* Chunk c of a Q4_K super-block: 16 int32 partial sums of sc[2c] lo * y and sc[2c+1] hi * y
 * (called with constant c so the index vectors fold to constants). */
static inline __m512i q4_K_chunk(const uint8_t *qs, const int8_t *y, __m512i sc, int c) {
    const __m256i raw = loadu256(qs + 32 * c);
    const __m512i u = _mm512_and_si512(join256(raw, _mm256_srli_epi16(raw, 4)), _mm512_set1_epi8(0x0f));
    const __m512i p = _mm512_maddubs_epi16(u, loadu512(y + 64 * c));
    return _mm512_madd_epi16(p, _mm512_permutexvar_epi16(idx_halves(2 * c, 2 * c + 1), sc));
}

void zk_vec_dot_q4_K_avx512(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    __m512 acc = _mm512_setzero_ps();
    __m128 acc_m = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float dy = b[i].d;
        const __m256i sm = _mm256_cvtepu8_epi16(scales_mins_k4(a[i].scales));
        acc_m = _mm_fmadd_ps(_mm_set1_ps(f16(a[i].dmin) * dy),
                             _mm_cvtepi32_ps(mins_dot(_mm256_extracti128_si256(sm, 1), b[i].bsums)), acc_m);
        const __m512i sc = _mm512_castsi256_si512(sm);
        const __m512i sumi = _mm512_add_epi32(_mm512_add_epi32(q4_K_chunk(a[i].qs, b[i].qs, sc, 0), q4_K_chunk(a[i].qs, b[i].qs, sc, 1)),
                                              _mm512_add_epi32(q4_K_chunk(a[i].qs, b[i].qs, sc, 2), q4_K_chunk(a[i].qs, b[i].qs, sc, 3)));
        acc = _mm512_fmadd_ps(_mm512_set1_ps(f16(a[i].d) * dy), _mm512_cvtepi32_ps(sumi), acc);
    }
    *s = _mm512_reduce_add_ps(acc) - hsum128(acc_m);
}

/* As q4_K_chunk with the fifth bits: hb = qh in both halves; bit 2c goes to bit 4 of the
 * low-nibble half, bit 2c + 1 to bit 4 of the high half (bits shifted across bytes miss bit 4). */
static inline __m512i q5_K_chunk(const uint8_t *qs, __m512i hb, const int8_t *y, __m512i sc, int c) {
    const __m512i h = c < 2 ? _mm512_sllv_epi16(hb, join256(_mm256_set1_epi16((short)(4 - 2 * c)), _mm256_set1_epi16((short)(3 - 2 * c))))
                            : _mm512_srlv_epi16(hb, join256(_mm256_set1_epi16((short)(2 * c - 4)), _mm256_set1_epi16((short)(2 * c - 3))));
    const __m256i raw = loadu256(qs + 32 * c);
    const __m512i u = _mm512_or_si512(_mm512_and_si512(join256(raw, _mm256_srli_epi16(raw, 4)), _mm512_set1_epi8(0x0f)),
                                      _mm512_and_si512(h, _mm512_set1_epi8(0x10)));
    const __m512i p = _mm512_maddubs_epi16(u, loadu512(y + 64 * c));
    return _mm512_madd_epi16(p, _mm512_permutexvar_epi16(idx_halves(2 * c, 2 * c + 1), sc));
}

void zk_vec_dot_q5_K_avx512(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    __m512 acc = _mm512_setzero_ps();
    __m128 acc_m = _mm_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const float dy = b[i].d;
        const __m256i sm = _mm256_cvtepu8_epi16(scales_mins_k4(a[i].scales));
        acc_m = _mm_fmadd_ps(_mm_set1_ps(f16(a[i].dmin) * dy),
                             _mm_cvtepi32_ps(mins_dot(_mm256_extracti128_si256(sm, 1), b[i].bsums)), acc_m);
        const __m512i sc = _mm512_castsi256_si512(sm);
        const __m256i qh = loadu256(a[i].qh);
        const __m512i hb = join256(qh, qh);
        const __m512i sumi = _mm512_add_epi32(_mm512_add_epi32(q5_K_chunk(a[i].qs, hb, b[i].qs, sc, 0), q5_K_chunk(a[i].qs, hb, b[i].qs, sc, 1)),
                                              _mm512_add_epi32(q5_K_chunk(a[i].qs, hb, b[i].qs, sc, 2), q5_K_chunk(a[i].qs, hb, b[i].qs, sc, 3)));
        acc = _mm512_fmadd_ps(_mm512_set1_ps(f16(a[i].d) * dy), _mm512_cvtepi32_ps(sumi), acc);
    }
    *s = _mm512_reduce_add_ps(acc) - hsum128(acc_m);
}

/* ---- Q6_K: half c = [ql 64 bytes] -> codes of elements 128c + 0..63 (low nibbles) and + 64..127
 * (high nibbles); every 128-bit lane is one 16-element sub-block. The -32 offset is applied via
 * the Q8_K bsums: sum sc (u - 32) y = sum sc u y - 32 sum sc bsum. */

/* Half c of a Q6_K super-block: 16 int32 partial sums of sc_j * u * y over its 8 sub-blocks. */
static inline __m512i q6_K_half(const block_q6_K *a, const int8_t *yb, __m512i sc, int c) {
    const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
    /* qh bits 0-1 / 2-3 to bits 4-5 for elements +0..31 / +32..63; bits 4-5 / 6-7 for +64.. / +96.. */
    const __m512i sh_lo = join256(_mm256_set1_epi16(4), _mm256_set1_epi16(2));
    const __m512i sh_hi = join256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    const __m512i l = loadu512(a->ql + 64 * c);
    const __m256i qh = loadu256(a->qh + 32 * c);
    const __m512i h = join256(qh, qh);
    const __m512i u_lo = _mm512_or_si512(_mm512_and_si512(l, m4), _mm512_and_si512(_mm512_sllv_epi16(h, sh_lo), m30));
    const __m512i u_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l, 4), m4), _mm512_and_si512(_mm512_srlv_epi16(h, sh_hi), m30));
    const __m512i p_lo = _mm512_maddubs_epi16(u_lo, loadu512(yb + 128 * c));
    const __m512i p_hi = _mm512_maddubs_epi16(u_hi, loadu512(yb + 128 * c + 64));
    return _mm512_add_epi32(_mm512_madd_epi16(p_lo, _mm512_permutexvar_epi16(idx_lanes(8 * c), sc)),
                            _mm512_madd_epi16(p_hi, _mm512_permutexvar_epi16(idx_lanes(8 * c + 4), sc)));
}

void zk_vec_dot_q6_K_avx512(int64_t n, float *s, const void *w, const void *x) {
    const block_q6_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)a[i].scales));
        const __m512i sc = _mm512_castsi256_si512(sc16);
        const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, loadu256(b[i].bsums)), 5);
        __m512i sumi = _mm512_castsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(), corr));
        sumi = _mm512_inserti64x4(sumi, _mm256_setzero_si256(), 1);
        sumi = _mm512_add_epi32(sumi, _mm512_add_epi32(q6_K_half(&a[i], b[i].qs, sc, 0), q6_K_half(&a[i], b[i].qs, sc, 1)));
        acc = _mm512_fmadd_ps(_mm512_set1_ps(f16(a[i].d) * b[i].d), _mm512_cvtepi32_ps(sumi), acc);
    }
    *s = _mm512_reduce_add_ps(acc);
}

/* ---- the Q8_K activation quantizer (byte-identical to quantize_row_q8_K_ref) ----------------- */

/* ggml's nearest_int on 16 lanes: v + 1.5 * 2^23 rounds to an integer in the low mantissa bits. */
static inline __m512i nearest_int16(__m512 v) {
    const __m512i t = _mm512_castps_si512(_mm512_add_ps(v, _mm512_set1_ps(12582912.0f)));
    return _mm512_sub_epi32(_mm512_and_si512(t, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x00400000));
}

void zk_from_float_q8_K_avx512(const float *x, void *vy, int64_t n) {
    block_q8_K *y = vy;
    const int64_t nb = n / QK_K;
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        /* max and min ignoring NaN (vmaxps returns its second operand when one is NaN) */
        __m512 vmax = _mm512_setzero_ps(), vmin = _mm512_setzero_ps();
        for (int j = 0; j < QK_K; j += 16) {
            const __m512 v = _mm512_loadu_ps(x + j);
            vmax = _mm512_max_ps(v, vmax);
            vmin = _mm512_min_ps(v, vmin);
        }
        const float hi = _mm512_reduce_max_ps(vmax), lo = _mm512_reduce_min_ps(vmin); /* no NaN left */
        if (hi == 0.0f && lo == 0.0f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float max = hi >= -lo ? hi : lo;
        if (hi == -lo) { /* both signs reach the magnitude: the first one counts */
            for (int j = 0; j < QK_K; j++) {
                if (x[j] == hi || x[j] == lo) { max = x[j]; break; }
            }
        }
        const float iscale = -127.0f / max;
        const __m512 vs = _mm512_set1_ps(iscale);
        __m512i bs = _mm512_setzero_si512(); /* per 16 elements: their sum, in lane j */
        for (int j = 0; j < QK_K / 16; j++) {
            __m512i v = nearest_int16(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * j), vs));
            v = _mm512_min_epi32(v, _mm512_set1_epi32(127));
            const __m128i q = _mm512_cvtepi32_epi8(v); /* truncation: (int8_t) keeps the low byte */
            _mm_storeu_si128((__m128i *)(y[i].qs + 16 * j), q);
            const int sum = _mm512_reduce_add_epi32(_mm512_cvtepi8_epi32(q));
            bs = _mm512_mask_set1_epi32(bs, (__mmask16)(1u << j), sum);
        }
        _mm256_storeu_si256((__m256i *)y[i].bsums, _mm512_cvtepi32_epi16(bs));
        y[i].d = 1.0f / iscale;
    }
}
