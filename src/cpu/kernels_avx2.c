/* kernels_avx2.c — the AVX2 + FMA + F16C kernel table (this whole file is compiled with
 * -mavx2 -mfma -mf16c and only called after cpu_features.c has checked the CPU). Fills vec_dot
 * for F32, F16, BF16, Q8_0, Q4_0 and from_float for Q8_0. Semantics are those of
 * kernels_scalar.c: float dots may sum in a different order; integer block dots are exact; the
 * Q8_0 activation quantizer is byte-identical to the scalar one. */
#include "cpu/kernels_legacy.h"
#include "cpu/kernels_k.h"
#include "cpu/kernels_iqk.h"
#include "kernels.h"

#include <immintrin.h>

/* Rounding immediate: to nearest, ties to even, whatever MXCSR says; no exceptions. */
enum { ROUND_NEAREST_EVEN = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC };

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float f16_scalar(zeta_f16 h) { return _cvtsh_ss(h); }

/* ---- dots with f32 activations: 32 elements per iteration in 4 accumulators ------------------- */

static void vec_dot_f32(int64_t n, float *s, const void *w, const void *x) {
    const float *a = w, *b = x;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float sum = hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) sum += a[i] * b[i];
    *s = sum;
}

static inline __m256 load_f16x8(const zeta_f16 *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static void vec_dot_f16(int64_t n, float *s, const void *w, const void *x) {
    const zeta_f16 *a = w;
    const float *b = x;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(load_f16x8(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(load_f16x8(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(load_f16x8(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(load_f16x8(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(load_f16x8(a + i), _mm256_loadu_ps(b + i), acc0);
    float sum = hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) sum += f16_scalar(a[i]) * b[i];
    *s = sum;
}

/* bf16 -> f32 is a 16-bit left shift of the bits. */
static inline __m256 load_bf16x8(const zeta_bf16 *p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

static void vec_dot_bf16(int64_t n, float *s, const void *w, const void *x) {
    const zeta_bf16 *a = w;
    const float *b = x;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(load_bf16x8(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(load_bf16x8(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(load_bf16x8(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(load_bf16x8(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(load_bf16x8(a + i), _mm256_loadu_ps(b + i), acc0);
    float sum = hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) sum += zeta_bf16_to_f32(a[i]) * b[i];
    *s = sum;
}

/* ---- dots with Q8_0 activations -------------------------------------------------------------- */

/* Exact int8 x int8 dot of 32 pairs as 8 int32 partial sums: maddubs needs an unsigned operand, so
 * the sign of `a` is moved onto `b` (|a| * sign(a) * b). Exact unless a and b are both -128, which
 * no quantizer of ours produces from finite input. */
static inline __m256i dot_i8x32(__m256i a, __m256i b) {
    const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/* d_w * d_x of 4 consecutive blocks, converted 4 at a time (the d fields are 18 or 34 bytes apart). */
static inline __m128 scales_4(zeta_f16 w0, zeta_f16 w1, zeta_f16 w2, zeta_f16 w3,
                              zeta_f16 x0, zeta_f16 x1, zeta_f16 x2, zeta_f16 x3) {
    const __m128i hw = _mm_setr_epi16((short)w0, (short)w1, (short)w2, (short)w3, 0, 0, 0, 0);
    const __m128i hx = _mm_setr_epi16((short)x0, (short)x1, (short)x2, (short)x3, 0, 0, 0, 0);
    return _mm_mul_ps(_mm_cvtph_ps(hw), _mm_cvtph_ps(hx));
}

static inline __m256 block_scale(zeta_f16 dw, zeta_f16 dx) {
    return _mm256_set1_ps(f16_scalar(dw) * f16_scalar(dx));
}

static inline __m256i load_q8(const block_q8_0 *b) { return _mm256_loadu_si256((const __m256i *)b->qs); }

/* 4 blocks per iteration, each in its own accumulator. */
static void vec_dot_q8_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q8_0 *a = w, *b = x;
    const int64_t nb = n / QK8_0;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 s4 = scales_4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        const __m256 s8 = _mm256_set_m128(s4, s4);
        const __m256i p0 = dot_i8x32(load_q8(&a[i]), load_q8(&b[i]));
        const __m256i p1 = dot_i8x32(load_q8(&a[i + 1]), load_q8(&b[i + 1]));
        const __m256i p2 = dot_i8x32(load_q8(&a[i + 2]), load_q8(&b[i + 2]));
        const __m256i p3 = dot_i8x32(load_q8(&a[i + 3]), load_q8(&b[i + 3]));
        acc0 = _mm256_fmadd_ps(_mm256_shuffle_ps(s8, s8, 0x00), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_shuffle_ps(s8, s8, 0x55), _mm256_cvtepi32_ps(p1), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_shuffle_ps(s8, s8, 0xaa), _mm256_cvtepi32_ps(p2), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_shuffle_ps(s8, s8, 0xff), _mm256_cvtepi32_ps(p3), acc3);
    }
    for (; i < nb; i++)
        acc0 = _mm256_fmadd_ps(block_scale(a[i].d, b[i].d), _mm256_cvtepi32_ps(dot_i8x32(load_q8(&a[i]), load_q8(&b[i]))), acc0);
    *s = hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
}

/* Two 16-byte pieces as one register: p0 in the low 128-bit lane, p1 in the high one. */
static inline __m256i load_2x16(const void *p0, const void *p1) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p0)),
                                   _mm_loadu_si128((const __m128i *)p1), 1);
}

/* Exact integer dot of Q4_0 blocks a[0], a[1] with Q8_0 blocks b[0], b[1], as 8 int32 partial sums
 * (lanes 0-3: first pair, 4-7: second). The unsigned nibbles u are maddubs' unsigned operand, and
 * sum (u - 8) * y = sum u * y - sum 8 * y; every int16 partial stays below 2^15 for any int8 y. */
static inline __m256i dot_q4_0_pair(const block_q4_0 *a, const block_q8_0 *b) {
    const __m256i m = _mm256_set1_epi8(0x0f), eight = _mm256_set1_epi8(8);
    const __m256i raw = load_2x16(a[0].qs, a[1].qs);
    const __m256i lo = _mm256_and_si256(raw, m);                        /* elements 0..15 */
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m);  /* elements 16..31 */
    const __m256i ylo = load_2x16(b[0].qs, b[1].qs);
    const __m256i yhi = load_2x16(b[0].qs + 16, b[1].qs + 16);
    const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, ylo), _mm256_maddubs_epi16(hi, yhi));
    const __m256i c = _mm256_add_epi16(_mm256_maddubs_epi16(eight, ylo), _mm256_maddubs_epi16(eight, yhi));
    return _mm256_madd_epi16(_mm256_sub_epi16(p, c), _mm256_set1_epi16(1));
}

/* The 32 codes of one Q4_0 block as int8 in [-8, 7], elements in order (tail path). */
static inline __m256i q4_0_codes(const uint8_t *qs) {
    const __m128i raw = _mm_loadu_si128((const __m128i *)qs);
    const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(raw), _mm_srli_epi16(raw, 4), 1);
    return _mm256_sub_epi8(_mm256_and_si256(both, _mm256_set1_epi8(0x0f)), _mm256_set1_epi8(8));
}

/* 4 blocks per iteration: two block pairs, each pair's scales spread over its two 128-bit lanes. */
static void vec_dot_q4_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_0 *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / QK8_0;
    const __m256i idx01 = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    const __m256i idx23 = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m256 s4 = _mm256_castps128_ps256(
            scales_4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d));
        const __m256i p0 = dot_q4_0_pair(a + i, b + i);
        const __m256i p1 = dot_q4_0_pair(a + i + 2, b + i + 2);
        acc0 = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(s4, idx01), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(s4, idx23), _mm256_cvtepi32_ps(p1), acc1);
    }
    for (; i < nb; i++)
        acc0 = _mm256_fmadd_ps(block_scale(a[i].d, b[i].d), _mm256_cvtepi32_ps(dot_i8x32(q4_0_codes(a[i].qs), load_q8(&b[i]))), acc0);
    *s = hsum256(_mm256_add_ps(acc0, acc1));
}

/* ---- the Q8_0 activation quantizer (byte-identical to kernels_scalar.c) ---------------------- */

static void from_float_q8_0(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    const int64_t nb = n / QK8_0;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t i = 0; i < nb; i++, x += QK8_0) {
        __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
        __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
        __m256 m = _mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1));
        m = _mm256_max_ps(m, _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        y[i].d = _cvtss_sh(amax / 127.0f, _MM_FROUND_TO_NEAREST_INT); /* = zeta_f32_to_f16 */
        const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
        const __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, id), ROUND_NEAREST_EVEN));
        const __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, id), ROUND_NEAREST_EVEN));
        const __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, id), ROUND_NEAREST_EVEN));
        const __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, id), ROUND_NEAREST_EVEN));
        /* packs work within 128-bit lanes; the permute puts the 8 groups of 4 back in order */
        const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
        _mm256_storeu_si256((__m256i *)y[i].qs, _mm256_permutevar8x32_epi32(p, perm));
    }
}

/* ---- the table ------------------------------------------------------------------------------- */

static const zk_kernels k_avx2 = {
    .name = "avx2",
    .vec_dot = {
        [ZETA_TYPE_F32] = vec_dot_f32,
        [ZETA_TYPE_F16] = vec_dot_f16,
        [ZETA_TYPE_BF16] = vec_dot_bf16,
        [ZETA_TYPE_Q8_0] = vec_dot_q8_0,
        [ZETA_TYPE_Q4_0] = vec_dot_q4_0,
        [ZETA_TYPE_Q4_1] = zk_vec_dot_q4_1_avx2,
        [ZETA_TYPE_Q5_0] = zk_vec_dot_q5_0_avx2,
        [ZETA_TYPE_Q5_1] = zk_vec_dot_q5_1_avx2,
        [ZETA_TYPE_Q4_K] = zk_vec_dot_q4_K_avx2,
        [ZETA_TYPE_Q5_K] = zk_vec_dot_q5_K_avx2,
        [ZETA_TYPE_Q6_K] = zk_vec_dot_q6_K_avx2,
        [ZETA_TYPE_Q2_K] = zk_vec_dot_q2_K_avx2,
        [ZETA_TYPE_Q3_K] = zk_vec_dot_q3_K_avx2,
        [ZETA_TYPE_IQ4_NL] = zk_vec_dot_iq4_nl_avx2,
        [ZETA_TYPE_IQ4_XS] = zk_vec_dot_iq4_xs_avx2,
    },
    .from_float = {
        [ZETA_TYPE_Q8_0] = from_float_q8_0,
        [ZETA_TYPE_Q8_1] = zk_from_float_q8_1_avx2,
        [ZETA_TYPE_Q8_K] = zk_from_float_q8_K_avx2,
    },
};

const zk_kernels *zk_avx2(void) { return &k_avx2; }
