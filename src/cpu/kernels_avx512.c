/* kernels_avx512.c — the AVX-512 (F, BW, VL, DQ) kernel table (this whole file is compiled with
 * -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c and only called after
 * cpu_features.c has checked the CPU and the OS-enabled ZMM state). Fills vec_dot for F32, F16,
 * BF16, Q8_0, Q4_0 and from_float for Q8_0, with the semantics of kernels_scalar.c: float dots may
 * sum in a different order; integer block dots are exact; the Q8_0 activation quantizer is
 * byte-identical to the scalar one. No VNNI: that would need its own detection and table. */
#include "cpu/kernels_legacy.h"
#include "cpu/kernels_k.h"
#include "cpu/kernels_iqk.h"
#include "kernels.h"

#include <immintrin.h>

/* Rounding immediate: to nearest, ties to even, whatever MXCSR says; no exceptions. */
enum { ROUND_NEAREST_EVEN = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC };

/* Mask of the first r (< 16) lanes, for tails. */
static inline __mmask16 tail_mask(int64_t r) { return (__mmask16)((1u << r) - 1u); }

/* ---- dots with f32 activations: 64 elements per iteration in 4 accumulators, masked tail ------ */

static void vec_dot_f32(int64_t n, float *s, const void *w, const void *x) {
    const float *a = w, *b = x;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
        acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), acc2);
        acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), acc3);
    }
    for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

static inline __m512 load_f16x16(const zeta_f16 *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

static void vec_dot_f16(int64_t n, float *s, const void *w, const void *x) {
    const zeta_f16 *a = w;
    const float *b = x;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        acc0 = _mm512_fmadd_ps(load_f16x16(a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(load_f16x16(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
        acc2 = _mm512_fmadd_ps(load_f16x16(a + i + 32), _mm512_loadu_ps(b + i + 32), acc2);
        acc3 = _mm512_fmadd_ps(load_f16x16(a + i + 48), _mm512_loadu_ps(b + i + 48), acc3);
    }
    for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(load_f16x16(a + i), _mm512_loadu_ps(b + i), acc0);
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 wa = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, a + i));
        acc1 = _mm512_fmadd_ps(wa, _mm512_maskz_loadu_ps(m, b + i), acc1);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

/* bf16 -> f32 is a 16-bit left shift of the bits. */
static inline __m512 bf16x16_to_f32(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

static inline __m512 load_bf16x16(const zeta_bf16 *p) {
    return bf16x16_to_f32(_mm256_loadu_si256((const __m256i *)p));
}

static void vec_dot_bf16(int64_t n, float *s, const void *w, const void *x) {
    const zeta_bf16 *a = w;
    const float *b = x;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        acc0 = _mm512_fmadd_ps(load_bf16x16(a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(load_bf16x16(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
        acc2 = _mm512_fmadd_ps(load_bf16x16(a + i + 32), _mm512_loadu_ps(b + i + 32), acc2);
        acc3 = _mm512_fmadd_ps(load_bf16x16(a + i + 48), _mm512_loadu_ps(b + i + 48), acc3);
    }
    for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(load_bf16x16(a + i), _mm512_loadu_ps(b + i), acc0);
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 wa = bf16x16_to_f32(_mm256_maskz_loadu_epi16(m, a + i));
        acc1 = _mm512_fmadd_ps(wa, _mm512_maskz_loadu_ps(m, b + i), acc1);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
}

/* ---- dots with Q8_0 activations: two blocks per 512-bit register ----------------------------- */

/* Exact int8 x int8 dot of 64 pairs as 16 int32 partial sums (lanes 0-7: first block, 8-15:
 * second). maddubs needs an unsigned operand, so the sign of `a` is moved onto `b`. Exact unless a
 * and b are both -128, which no quantizer of ours produces from finite input. */
static inline __m512i dot_i8x64(__m512i a, __m512i b) {
    const __mmask64 neg = _mm512_movepi8_mask(a);
    const __m512i sb = _mm512_mask_sub_epi8(b, neg, _mm512_setzero_si512(), b);
    const __m512i p16 = _mm512_maddubs_epi16(_mm512_abs_epi8(a), sb);
    return _mm512_madd_epi16(p16, _mm512_set1_epi16(1));
}

static inline __m512i load_2x32(const int8_t *p0, const int8_t *p1) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p0)),
                              _mm256_loadu_si256((const __m256i *)p1), 1);
}

static inline float f16_scalar(zeta_f16 h) { return _cvtsh_ss(h); }

/* d_w * d_x of 4 consecutive blocks, converted 4 at a time (the d fields are 18 or 34 bytes apart). */
static inline __m128 scales_4(zeta_f16 w0, zeta_f16 w1, zeta_f16 w2, zeta_f16 w3,
                              zeta_f16 x0, zeta_f16 x1, zeta_f16 x2, zeta_f16 x3) {
    const __m128i hw = _mm_setr_epi16((short)w0, (short)w1, (short)w2, (short)w3, 0, 0, 0, 0);
    const __m128i hx = _mm_setr_epi16((short)x0, (short)x1, (short)x2, (short)x3, 0, 0, 0, 0);
    return _mm_mul_ps(_mm_cvtph_ps(hw), _mm_cvtph_ps(hx));
}

/* Scales of blocks (i, i+1) and (i+2, i+3) from scales_4, as [8 x first, 8 x second]. */
static inline __m512 spread_01(__m128 s4) {
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), _mm512_castps128_ps512(s4));
}
static inline __m512 spread_23(__m128 s4) {
    return _mm512_permutexvar_ps(_mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3), _mm512_castps128_ps512(s4));
}

/* One block's scale in lanes 0-7, zero in lanes 8-15 (the odd last block). */
static inline __m512 scale_lo(zeta_f16 dw, zeta_f16 dx) {
    return _mm512_maskz_mov_ps(0x00ff, _mm512_set1_ps(f16_scalar(dw) * f16_scalar(dx)));
}

static void vec_dot_q8_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q8_0 *a = w, *b = x;
    const int64_t nb = n / QK8_0;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 s4 = scales_4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        const __m512i p0 = dot_i8x64(load_2x32(a[i].qs, a[i + 1].qs), load_2x32(b[i].qs, b[i + 1].qs));
        const __m512i p1 = dot_i8x64(load_2x32(a[i + 2].qs, a[i + 3].qs), load_2x32(b[i + 2].qs, b[i + 3].qs));
        acc0 = _mm512_fmadd_ps(spread_01(s4), _mm512_cvtepi32_ps(p0), acc0);
        acc1 = _mm512_fmadd_ps(spread_23(s4), _mm512_cvtepi32_ps(p1), acc1);
    }
    for (; i < nb; i++) { /* tail: one block per step, the upper half's scale is zero */
        const __m512i p0 = dot_i8x64(load_2x32(a[i].qs, a[i].qs), load_2x32(b[i].qs, b[i].qs));
        acc0 = _mm512_fmadd_ps(scale_lo(a[i].d, b[i].d), _mm512_cvtepi32_ps(p0), acc0);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

/* The unsigned 4-bit codes of Q4_0 blocks a[0] and a[1] laid out [a0 low nibbles, a0 high nibbles,
 * a1 low, a1 high] = elements 0..31 of each block in order, matching load_2x32 of the Q8_0 side. */
static inline __m512i q4_0_nibbles_2(const block_q4_0 *a) {
    const __m256i raw = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)a[0].qs)),
                                                _mm_loadu_si128((const __m128i *)a[1].qs), 1);
    const __m512i dup = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3), _mm512_castsi256_si512(raw));
    const __m512i nib = _mm512_srlv_epi64(dup, _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4));
    return _mm512_and_si512(nib, _mm512_set1_epi8(0x0f));
}

/* Exact sum (u - 8) * y of two block pairs as 16 int32 partial sums (lanes 0-7: first pair): the
 * unsigned nibbles u are maddubs' unsigned operand and sum 8 * y is subtracted; every int16
 * partial stays below 2^15 for any int8 y. */
static inline __m512i dot_q4_0_pair(const block_q4_0 *a, const block_q8_0 *b) {
    const __m512i y = load_2x32(b[0].qs, b[1].qs);
    const __m512i p = _mm512_maddubs_epi16(q4_0_nibbles_2(a), y);
    const __m512i c = _mm512_maddubs_epi16(_mm512_set1_epi8(8), y);
    return _mm512_madd_epi16(_mm512_sub_epi16(p, c), _mm512_set1_epi16(1));
}

static void vec_dot_q4_0(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_0 *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / QK8_0;
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 4 <= nb; i += 4) {
        const __m128 s4 = scales_4(a[i].d, a[i + 1].d, a[i + 2].d, a[i + 3].d, b[i].d, b[i + 1].d, b[i + 2].d, b[i + 3].d);
        acc0 = _mm512_fmadd_ps(spread_01(s4), _mm512_cvtepi32_ps(dot_q4_0_pair(a + i, b + i)), acc0);
        acc1 = _mm512_fmadd_ps(spread_23(s4), _mm512_cvtepi32_ps(dot_q4_0_pair(a + i + 2, b + i + 2)), acc1);
    }
    for (; i < nb; i++) { /* tail: the block paired with itself, the upper half's scale is zero */
        const block_q4_0 aa[2] = {a[i], a[i]};
        const block_q8_0 bb[2] = {b[i], b[i]};
        acc0 = _mm512_fmadd_ps(scale_lo(a[i].d, b[i].d), _mm512_cvtepi32_ps(dot_q4_0_pair(aa, bb)), acc0);
    }
    *s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

/* ---- the Q8_0 activation quantizer (byte-identical to kernels_scalar.c) ---------------------- */

static void from_float_q8_0(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    const int64_t nb = n / QK8_0;
    for (int64_t i = 0; i < nb; i++, x += QK8_0) {
        const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        /* the max of non-NaN values does not depend on the reduction order */
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        y[i].d = _cvtss_sh(amax / 127.0f, _MM_FROUND_TO_NEAREST_INT); /* = zeta_f32_to_f16 */
        const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
        /* cvtps_epi32 gives INT32_MIN for NaN / out of range; cvtsepi32_epi8 saturates like packs */
        const __m512i i0 = _mm512_cvtps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(v0, id), ROUND_NEAREST_EVEN));
        const __m512i i1 = _mm512_cvtps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(v1, id), ROUND_NEAREST_EVEN));
        _mm_storeu_si128((__m128i *)y[i].qs, _mm512_cvtsepi32_epi8(i0));
        _mm_storeu_si128((__m128i *)(y[i].qs + 16), _mm512_cvtsepi32_epi8(i1));
    }
}

/* ---- the table ------------------------------------------------------------------------------- */

static const zk_kernels k_avx512 = {
    .name = "avx512",
    .vec_dot = {
        [ZETA_TYPE_F32] = vec_dot_f32,
        [ZETA_TYPE_F16] = vec_dot_f16,
        [ZETA_TYPE_BF16] = vec_dot_bf16,
        [ZETA_TYPE_Q8_0] = vec_dot_q8_0,
        [ZETA_TYPE_Q4_0] = vec_dot_q4_0,
        [ZETA_TYPE_Q4_1] = zk_vec_dot_q4_1_avx512,
        [ZETA_TYPE_Q5_0] = zk_vec_dot_q5_0_avx512,
        [ZETA_TYPE_Q5_1] = zk_vec_dot_q5_1_avx512,
        [ZETA_TYPE_Q4_K] = zk_vec_dot_q4_K_avx512,
        [ZETA_TYPE_Q5_K] = zk_vec_dot_q5_K_avx512,
        [ZETA_TYPE_Q6_K] = zk_vec_dot_q6_K_avx512,
        [ZETA_TYPE_Q2_K] = zk_vec_dot_q2_K_avx512,
        [ZETA_TYPE_Q3_K] = zk_vec_dot_q3_K_avx512,
        [ZETA_TYPE_IQ4_NL] = zk_vec_dot_iq4_nl_avx512,
        [ZETA_TYPE_IQ4_XS] = zk_vec_dot_iq4_xs_avx512,
    },
    .from_float = {
        [ZETA_TYPE_Q8_0] = from_float_q8_0,
        [ZETA_TYPE_Q8_1] = zk_from_float_q8_1_avx512,
        [ZETA_TYPE_Q8_K] = zk_from_float_q8_K_avx512,
    },
};

const zk_kernels *zk_avx512(void) { return &k_avx512; }
