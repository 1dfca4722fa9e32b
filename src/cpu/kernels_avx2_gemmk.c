/* kernels_avx2_gemmk.c — AVX2 products of 8-row packed Q2_K / Q3_K / Q4_K / Q5_K / Q6_K / IQ4_XS weights (layouts in gemm_k.h)
 * with Q8_K activations: one 32-bit lane per weight row, activation values broadcast 4 at a time,
 * token tiles (Q4_K 4, Q6_K 8) so each unpacked weight vector is used by every token of the tile.
 * Compiled with -mavx2 -mfma -mf16c. Integer sums per super-block are exact (equal to
 * gemm_k_ref.c's); the float steps are those of the reference, fused with FMA.
 *
 * Products use maddubs (unsigned codes x signed activations -> int16 pairs); int16 partial sums
 * are kept below 2^15: Q4_K sums 8 maddubs of one 32-element sub-block (8 * 2 * 15 * 128 = 30720),
 * Q6_K sums 2 (2 * 2 * 63 * 128 = 32256); then madd with the sub-block scale (both int16 halves of
 * a lane hold the row's scale) gives int32. Q6_K codes are used unsigned (u = q + 32) and
 * 32 * sum_j sc_j * bsum_j is subtracted, from the Q8_K bsums. */
#include "cpu/gemm_k.h"
#include "cpu/gemm_k_x86.h"

#include <immintrin.h>
#include <string.h>

#define UNROLL _Pragma("GCC unroll 8")
#define ALWAYS_INLINE inline __attribute__((always_inline))

static ALWAYS_INLINE __m256i bcast4(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}
static ALWAYS_INLINE __m256i loadu(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
/* An empty asm the accumulator passes through: stops the compiler from re-associating the integer
 * sums into trees whose partial results (one per maddubs) no longer fit the 16 registers. */
#define KEEP(v) __asm__("" : "+x"(v))

/* shuffle_epi8 controls picking bytes (a, b, c, d) of every 32-bit lane into that lane; Z = zero */
#define Z 0x80
#define LANE4(a, b, c, d) a, b, c, d, (a) + 4, (b) + 4, (c) + 4, (d) + 4, (a) + 8, (b) + 8, (c) + 8, (d) + 8, \
                          (a) + 12, (b) + 12, (c) + 12, (d) + 12
#define PAT(a, b, c, d) {LANE4(a, b, c, d), LANE4(a, b, c, d)}
/* (byte j, byte j) as int16 zero-extended: a Q4_K scale in both halves */
static const uint8_t k_dup[4][32] = {PAT(0, Z, 0, Z), PAT(1, Z, 1, Z), PAT(2, Z, 2, Z), PAT(3, Z, 3, Z)};
/* (byte 2i, byte 2i+1) as int16 zero-extended: a pair of Q4_K mins */
static const uint8_t k_pair[2][32] = {PAT(0, Z, 1, Z), PAT(2, Z, 3, Z)};
/* byte j into the high byte of both int16 halves (then srai 8: a signed Q6_K scale in both) */
static const uint8_t k_hidup[4][32] = {PAT(Z, 0, Z, 0), PAT(Z, 1, Z, 1), PAT(Z, 2, Z, 2), PAT(Z, 3, Z, 3)};
/* bytes 2i, 2i+1 into the high bytes (then srai 3: 32 * a pair of signed Q6_K scales) */
static const uint8_t k_hipair[2][32] = {PAT(Z, 0, Z, 1), PAT(Z, 2, Z, 3)};
#undef Z

/* ---- Q4_K / Q5_K -------------------------------------------------------------------------------- */

/* Q5 (block_q5_Kx8): each code gets its fifth bit (16) from qh; codes are then up to 31, so a
 * sub-block's eight maddubs are summed in two int16 halves of four (4 * 2 * 31 * 128 = 31744),
 * each then madd-ed with the scale. The integer sums are the same numbers either way. */
static ALWAYS_INLINE void q45_K_tile(const void *Wv, int64_t nb, const uint8_t *x, size_t xs, float *y, size_t ys, const int T,
                                     const bool q5) {
    const __m256i m4 = _mm256_set1_epi8(0x0f), m6 = _mm256_set1_epi8(0x3f), m30 = _mm256_set1_epi8(0x30),
                  m10 = _mm256_set1_epi8(0x10);
    const block_q8_K *X[4];
    __m256 acc[4];
    UNROLL for (int t = 0; t < T; t++) {
        X[t] = (const block_q8_K *)(x + (size_t)t * xs);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const zeta_f16 *d, *dmin;
        const uint8_t *scales, *qs, *qh = NULL;
        if (q5) {
            const block_q5_Kx8 *B = (const block_q5_Kx8 *)Wv + b;
            d = B->d; dmin = B->dmin; scales = B->scales; qs = B->qs; qh = B->qh;
        } else {
            const block_q4_Kx8 *B = (const block_q4_Kx8 *)Wv + b;
            d = B->d; dmin = B->dmin; scales = B->scales; qs = B->qs;
        }
        const __m256i u0 = loadu(scales), u1 = loadu(scales + 32), u2 = loadu(scales + 64);
        /* lane r: the row's scales 0-3 / 4-7 and mins 0-3 / 4-7 as bytes */
        const __m256i sc03 = _mm256_and_si256(u0, m6);
        const __m256i sc47 = _mm256_or_si256(_mm256_and_si256(u2, m4), _mm256_and_si256(_mm256_srli_epi32(u0, 2), m30));
        const __m256i m03 = _mm256_and_si256(u1, m6);
        const __m256i m47 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u2, 4), m4),
                                            _mm256_and_si256(_mm256_srli_epi32(u1, 2), m30));
        __m256i scd[8];
        for (int j = 0; j < 8; j++) scd[j] = _mm256_shuffle_epi8(j < 4 ? sc03 : sc47, loadu(k_dup[j & 3]));
        __m256i sumi[4];
        UNROLL for (int t = 0; t < T; t++) sumi[t] = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const uint8_t *qv = qs + 256 * c;
            UNROLL for (int h = 0; h < 2; h++) { /* sub-block 2c + h: low / high nibbles */
                const int j = 2 * c + h;
                __m256i a16[4];
                UNROLL for (int t = 0; t < T; t++) a16[t] = _mm256_setzero_si256();
                UNROLL for (int g = 0; g < 8; g++) {
                    const __m256i v = loadu(qv + 32 * g);
                    __m256i code = h ? _mm256_and_si256(_mm256_srli_epi16(v, 4), m4) : _mm256_and_si256(v, m4);
                    if (q5) { /* bit j of each qh byte -> bit 4 of the same byte */
                        const __m256i hv = loadu(qh + 32 * g);
                        const __m256i hb = j <= 4 ? _mm256_sll_epi16(hv, _mm_cvtsi32_si128(4 - j)) : _mm256_srl_epi16(hv, _mm_cvtsi32_si128(j - 4));
                        code = _mm256_or_si256(code, _mm256_and_si256(hb, m10));
                    }
                    UNROLL for (int t = 0; t < T; t++) {
                        a16[t] = _mm256_add_epi16(a16[t], _mm256_maddubs_epi16(code, bcast4(X[t][b].qs + 32 * j + 4 * g)));
                        KEEP(a16[t]);
                    }
                    if (q5 && g == 3) { /* the first half's int16 sums out before they could overflow */
                        UNROLL for (int t = 0; t < T; t++) {
                            sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(a16[t], scd[j]));
                            a16[t] = _mm256_setzero_si256();
                        }
                    }
                }
                UNROLL for (int t = 0; t < T; t++) sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(a16[t], scd[j]));
            }
        }
        /* mins: lane r of mp_i = (m_2i, m_2i+1) as int16 */
        const __m256i mp[4] = {_mm256_shuffle_epi8(m03, loadu(k_pair[0])), _mm256_shuffle_epi8(m03, loadu(k_pair[1])),
                               _mm256_shuffle_epi8(m47, loadu(k_pair[0])), _mm256_shuffle_epi8(m47, loadu(k_pair[1]))};
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)d));
        const __m256 dmw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)dmin));
        UNROLL for (int t = 0; t < T; t++) acc[t] = q4_K_block_end(acc[t], sumi[t], &X[t][b], mp, dw, dmw);
    }
    UNROLL for (int t = 0; t < T; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}

typedef void (*tile_fn)(const void *, int64_t, const uint8_t *, size_t, float *, size_t);

static void gemm8_tiled(const tile_fn tiles[5], int64_t k, const void *w, const void *x, size_t xs, int n_tok, float *y, size_t ys) {
    const int64_t nb = k / QK_K;
    const uint8_t *xb = x;
    int c = 0;
    for (; c + 4 <= n_tok; c += 4) tiles[4](w, nb, xb + (size_t)c * xs, xs, y + (size_t)c * ys, ys);
    if (n_tok > c) tiles[n_tok - c](w, nb, xb + (size_t)c * xs, xs, y + (size_t)c * ys, ys);
}

/* the 1..4-token instances of TILE(W, nb, x, xs, y, ys, T) and the gemm8 entry FN over them */
#define TILED_ENTRY(fn, tile) \
    static void fn##_t1(const void *W, int64_t nb, const uint8_t *x, size_t xs, float *y, size_t ys) { tile(W, nb, x, xs, y, ys, 1); } \
    static void fn##_t2(const void *W, int64_t nb, const uint8_t *x, size_t xs, float *y, size_t ys) { tile(W, nb, x, xs, y, ys, 2); } \
    static void fn##_t3(const void *W, int64_t nb, const uint8_t *x, size_t xs, float *y, size_t ys) { tile(W, nb, x, xs, y, ys, 3); } \
    static void fn##_t4(const void *W, int64_t nb, const uint8_t *x, size_t xs, float *y, size_t ys) { tile(W, nb, x, xs, y, ys, 4); } \
    void fn(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y, size_t ys) { \
        (void)xsum; \
        static const tile_fn tiles[5] = {NULL, fn##_t1, fn##_t2, fn##_t3, fn##_t4}; \
        gemm8_tiled(tiles, k, w, x, xs, n_tok, y, ys); \
    }

static ALWAYS_INLINE void q4_K_tile(const void *W, int64_t nb, const uint8_t *x, size_t xs, float *y, size_t ys, const int T) {
    q45_K_tile(W, nb, x, xs, y, ys, T, false);
}
static ALWAYS_INLINE void q5_K_tile(const void *W, int64_t nb, const uint8_t *x, size_t xs, float *y, size_t ys, const int T) {
    q45_K_tile(W, nb, x, xs, y, ys, T, true);
}
TILED_ENTRY(zk_gemm8_q4_K_avx2, q4_K_tile)
TILED_ENTRY(zk_gemm8_q5_K_avx2, q5_K_tile)

/* ---- Q6_K -------------------------------------------------------------------------------------- */

static ALWAYS_INLINE void q6_K_tile(const block_q6_Kx8 *W, int64_t nb, const uint8_t *x, size_t xs, float *y,
                                    size_t ys, const int T) {
    const __m256i m6 = _mm256_set1_epi8(0x3f), m3 = _mm256_set1_epi8(0x03), mc = _mm256_set1_epi8(0x0c),
                  m30 = _mm256_set1_epi8(0x30);
    const block_q8_K *X[8];
    __m256 acc[8];
    UNROLL for (int t = 0; t < T; t++) {
        X[t] = (const block_q8_K *)(x + (size_t)t * xs);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const block_q6_Kx8 *B = &W[b];
        __m256i sumi[8];
        UNROLL for (int t = 0; t < T; t++) sumi[t] = _mm256_setzero_si256();
        /* - 32 * sum_j sc_j * bsum_j, pairs of sub-blocks at a time */
        for (int i = 0; i < 8; i++) {
            const __m256i p = _mm256_srai_epi16(_mm256_shuffle_epi8(loadu(B->scales + 32 * (i >> 1)), loadu(k_hipair[i & 1])), 3);
            UNROLL for (int t = 0; t < T; t++)
                sumi[t] = _mm256_sub_epi32(sumi[t], _mm256_madd_epi16(p, bcast4(X[t][b].bsums + 2 * i)));
        }
        for (int j = 0; j < 16; j++) {
            const __m256i sc = _mm256_srai_epi16(_mm256_shuffle_epi8(loadu(B->scales + 32 * (j >> 2)), loadu(k_hidup[j & 3])), 8);
            const uint8_t *q = B->q + 96 * j;
            const __m256i v0 = loadu(q), v1 = loadu(q + 32), v2 = loadu(q + 64);
            const __m256i c0 = _mm256_and_si256(v0, m6), c1 = _mm256_and_si256(v1, m6), c2 = _mm256_and_si256(v2, m6);
            const __m256i c3 = _mm256_or_si256(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v0, 6), m3),
                                                               _mm256_and_si256(_mm256_srli_epi16(v1, 4), mc)),
                                               _mm256_and_si256(_mm256_srli_epi16(v2, 2), m30));
            UNROLL for (int t = 0; t < T; t++) {
                const int8_t *yq = X[t][b].qs + 16 * j;
                const __m256i s0 = _mm256_add_epi16(_mm256_maddubs_epi16(c0, bcast4(yq)), _mm256_maddubs_epi16(c1, bcast4(yq + 4)));
                const __m256i s1 = _mm256_add_epi16(_mm256_maddubs_epi16(c2, bcast4(yq + 8)), _mm256_maddubs_epi16(c3, bcast4(yq + 12)));
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_add_epi32(_mm256_madd_epi16(s0, sc), _mm256_madd_epi16(s1, sc)));
                KEEP(sumi[t]);
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)B->d));
        UNROLL for (int t = 0; t < T; t++)
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(X[t][b].d)), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
    UNROLL for (int t = 0; t < T; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}

#define Q6_TILE(n) \
    static void q6_K_t##n(const block_q6_Kx8 *W, int64_t nb, const uint8_t *x, size_t xs, float *y, size_t ys) { \
        q6_K_tile(W, nb, x, xs, y, ys, n); \
    }
Q6_TILE(8)
Q6_TILE(7)
Q6_TILE(6)
Q6_TILE(5)
Q6_TILE(4)
Q6_TILE(3)
Q6_TILE(2)
Q6_TILE(1)
#undef Q6_TILE

typedef void (*q6_tile_fn)(const block_q6_Kx8 *, int64_t, const uint8_t *, size_t, float *, size_t);

void zk_gemm8_q6_K_avx2(int64_t k, const void *w, const void *x, size_t xs, const int32_t *xsum, int n_tok, float *y,
                        size_t ys) {
    (void)xsum;
    static const q6_tile_fn tails[8] = {NULL, q6_K_t1, q6_K_t2, q6_K_t3, q6_K_t4, q6_K_t5, q6_K_t6, q6_K_t7};
    const int64_t nb = k / QK_K;
    const uint8_t *xb = x;
    int c = 0;
    for (; c + 8 <= n_tok; c += 8) q6_K_t8(w, nb, xb + (size_t)c * xs, xs, y + (size_t)c * ys, ys);
    if (n_tok > c) tails[n_tok - c](w, nb, xb + (size_t)c * xs, xs, y + (size_t)c * ys, ys);
}

/* ---- IQ4_XS ------------------------------------------------------------------------------------- */

/* Codebook values (kvalues_iq4nl, |v| <= 127) by a byte shuffle; products as maddubs(|w|, y * sign(w))
 * pairs (exact for activations in [-127, 127], which is what the Q8_K quantizers produce), each
 * widened to int32 at once (two pairs can reach 64516). Per sub-block of 32: the integer sum, then
 * acc += ((d_w * d_x) * (ls - 32)) * sum, the spec's float steps (no FMA), so the spec's bits. */
static ALWAYS_INLINE void iq4_xs_tile(const block_iq4_xsx8 *W, int64_t nb, const uint8_t *x, size_t xs, float *y, size_t ys,
                                      const int T) {
    const __m256i m0f = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1), m3 = _mm256_set1_epi32(3),
                  k32 = _mm256_set1_epi32(32), mf = _mm256_set1_epi32(0xf);
    const __m256i tbl = iq4_values_x2();
    const block_q8_K *X[4];
    __m256 acc[4];
    UNROLL for (int t = 0; t < T; t++) {
        X[t] = (const block_q8_K *)(x + (size_t)t * xs);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const block_iq4_xsx8 *B = &W[b];
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)B->d));
        const __m256i sl = loadu(B->scales_l);
        const __m256i sh = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)B->scales_h));
        for (int ib = 0; ib < 8; ib++) {
            const __m256i ls = _mm256_or_si256(_mm256_and_si256(_mm256_srl_epi32(sl, _mm_cvtsi32_si128(8 * (ib / 2) + 4 * (ib % 2))), mf),
                                               _mm256_slli_epi32(_mm256_and_si256(_mm256_srl_epi32(sh, _mm_cvtsi32_si128(2 * ib)), m3), 4));
            const __m256 lsf = _mm256_cvtepi32_ps(_mm256_sub_epi32(ls, k32));
            __m256i a[4];
            UNROLL for (int t = 0; t < T; t++) a[t] = _mm256_setzero_si256();
            UNROLL for (int g = 0; g < 4; g++) {
                const __m256i v = loadu(B->qs + 32 * (4 * ib + g));
                const __m256i lo = _mm256_shuffle_epi8(tbl, _mm256_and_si256(v, m0f));
                const __m256i hi = _mm256_shuffle_epi8(tbl, _mm256_and_si256(_mm256_srli_epi16(v, 4), m0f));
                const __m256i alo = _mm256_sign_epi8(lo, lo), ahi = _mm256_sign_epi8(hi, hi);
                UNROLL for (int t = 0; t < T; t++) {
                    const __m256i plo = _mm256_maddubs_epi16(alo, _mm256_sign_epi8(bcast4(X[t][b].qs + 32 * ib + 4 * g), lo));
                    const __m256i phi = _mm256_maddubs_epi16(ahi, _mm256_sign_epi8(bcast4(X[t][b].qs + 32 * ib + 16 + 4 * g), hi));
                    a[t] = _mm256_add_epi32(a[t], _mm256_add_epi32(_mm256_madd_epi16(plo, ones), _mm256_madd_epi16(phi, ones)));
                    KEEP(a[t]);
                }
            }
            UNROLL for (int t = 0; t < T; t++) {
                const __m256 d4d8 = _mm256_mul_ps(dw, _mm256_set1_ps(X[t][b].d));
                acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_mul_ps(d4d8, lsf), _mm256_cvtepi32_ps(a[t])));
            }
        }
    }
    UNROLL for (int t = 0; t < T; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}

TILED_ENTRY(zk_gemm8_iq4_xs_avx2, iq4_xs_tile)

/* ---- Q3_K ---------------------------------------------------------------------------------------- */

/* The unsigned codes u = q + 4 (0..7): the low two bits from qs, the third from hmask (a per-byte
 * bit test); a 16-element sub-block's four maddubs sum in int16 (4 * 2 * 7 * 128 = 7168), then
 * madd with its signed scale; 4 x sum_j sc_j * bsum_j comes off by int16 pairs. The integers of
 * the reference, and the AVX-512 VNNI kernel's float steps (acc += (d * dx) * sumi, fused): the
 * same bits as that kernel. */
static ALWAYS_INLINE void q3_K_tile(const block_q3_Kx8 *W, int64_t nb, const uint8_t *x, size_t xs, float *y, size_t ys, const int T) {
    const __m256i m3 = _mm256_set1_epi8(0x03), m4 = _mm256_set1_epi8(0x04), k32 = _mm256_set1_epi16(32);
    const block_q8_K *X[4];
    __m256 acc[4];
    UNROLL for (int t = 0; t < T; t++) {
        X[t] = (const block_q8_K *)(x + (size_t)t * xs);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const block_q3_Kx8 *B = &W[b];
        __m256i S[4]; /* lane r, byte e of S[q]: the scale code of sub-block 4q + e */
        q3_K_scale_codes(B->scales, S);
        __m256i sumi[4];
        UNROLL for (int t = 0; t < T; t++) sumi[t] = _mm256_setzero_si256();
        /* - 4 * sum_j sc_j * bsum_j: lane r of p = (sc_2i, sc_2i+1) as int16 */
        for (int i = 0; i < 8; i++) {
            const __m256i p = _mm256_sub_epi16(_mm256_shuffle_epi8(S[i >> 1], loadu(k_pair[i & 1])), k32);
            UNROLL for (int t = 0; t < T; t++)
                sumi[t] = _mm256_sub_epi32(sumi[t], _mm256_slli_epi32(_mm256_madd_epi16(p, bcast4(X[t][b].bsums + 2 * i)), 2));
        }
        for (int j = 0; j < 16; j++) {
            const int n = j / 8, i = (j / 2) % 4, h = j % 2;
            const __m256i sc = _mm256_sub_epi16(_mm256_shuffle_epi8(S[j >> 2], loadu(k_dup[j & 3])), k32);
            const __m256i bit = _mm256_set1_epi8((char)(1 << (4 * n + i)));
            const __m128i sh = _mm_cvtsi32_si128(2 * i);
            __m256i a16[4];
            UNROLL for (int t = 0; t < T; t++) a16[t] = _mm256_setzero_si256();
            UNROLL for (int q = 0; q < 4; q++) {
                const int g = 4 * h + q;
                const __m256i qv = loadu(B->qs + 32 * (8 * n + g)), hv = loadu(B->hmask + 32 * g);
                const __m256i code = _mm256_or_si256(_mm256_and_si256(_mm256_srl_epi16(qv, sh), m3),
                                                     _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hv, bit), bit), m4));
                UNROLL for (int t = 0; t < T; t++) {
                    a16[t] = _mm256_add_epi16(a16[t], _mm256_maddubs_epi16(code, bcast4(X[t][b].qs + 16 * j + 4 * q)));
                    KEEP(a16[t]);
                }
            }
            UNROLL for (int t = 0; t < T; t++) sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(a16[t], sc));
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)B->d));
        UNROLL for (int t = 0; t < T; t++)
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(X[t][b].d)), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
    UNROLL for (int t = 0; t < T; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}

TILED_ENTRY(zk_gemm8_q3_K_avx2, q3_K_tile)

/* ---- Q2_K ---------------------------------------------------------------------------------------- */

/* The codes (0..3) from qs as Q3_K's low bits; a 16-element sub-block's four maddubs sum in int16
 * (4 * 2 * 3 * 128 = 3072), then madd with its scale (low nibble of its scale byte); the mins' sum
 * sum_j m_j * bsum_j by int16 pairs. The reference's integers, and its float steps (acc += (dx * d)
 * * sumi - (dx * dmin) * summ, no FMA): the spec's bits, and the AVX-512 VNNI kernel's. */
static ALWAYS_INLINE void q2_K_tile(const block_q2_Kx8 *W, int64_t nb, const uint8_t *x, size_t xs, float *y, size_t ys, const int T) {
    const __m256i m3 = _mm256_set1_epi8(0x03), m0f = _mm256_set1_epi8(0x0f);
    const block_q8_K *X[4];
    __m256 acc[4];
    UNROLL for (int t = 0; t < T; t++) {
        X[t] = (const block_q8_K *)(x + (size_t)t * xs);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const block_q2_Kx8 *B = &W[b];
        __m256i S[4], M[4]; /* lane r, byte e of S[q] / M[q]: the scale / min code of sub-block 4q + e */
        UNROLL for (int q = 0; q < 4; q++) {
            const __m256i v = loadu(B->scales + 32 * q);
            S[q] = _mm256_and_si256(v, m0f);
            M[q] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m0f);
        }
        __m256i sumi[4], summ[4];
        UNROLL for (int t = 0; t < T; t++) sumi[t] = summ[t] = _mm256_setzero_si256();
        for (int i = 0; i < 8; i++) { /* lane r of p = (m_2i, m_2i+1) as int16 */
            const __m256i p = _mm256_shuffle_epi8(M[i >> 1], loadu(k_pair[i & 1]));
            UNROLL for (int t = 0; t < T; t++) summ[t] = _mm256_add_epi32(summ[t], _mm256_madd_epi16(p, bcast4(X[t][b].bsums + 2 * i)));
        }
        for (int j = 0; j < 16; j++) {
            const int n = j / 8, i = (j / 2) % 4, h = j % 2;
            const __m256i sc = _mm256_shuffle_epi8(S[j >> 2], loadu(k_dup[j & 3]));
            const __m128i sh = _mm_cvtsi32_si128(2 * i);
            __m256i a16[4];
            UNROLL for (int t = 0; t < T; t++) a16[t] = _mm256_setzero_si256();
            UNROLL for (int q = 0; q < 4; q++) {
                const __m256i code = _mm256_and_si256(_mm256_srl_epi16(loadu(B->qs + 32 * (8 * n + 4 * h + q)), sh), m3);
                UNROLL for (int t = 0; t < T; t++) {
                    a16[t] = _mm256_add_epi16(a16[t], _mm256_maddubs_epi16(code, bcast4(X[t][b].qs + 16 * j + 4 * q)));
                    KEEP(a16[t]);
                }
            }
            UNROLL for (int t = 0; t < T; t++) sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(a16[t], sc));
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)B->d));
        const __m256 dmw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)B->dmin));
        UNROLL for (int t = 0; t < T; t++) {
            const __m256 dx = _mm256_set1_ps(X[t][b].d);
            const __m256 p = _mm256_mul_ps(_mm256_mul_ps(dx, dw), _mm256_cvtepi32_ps(sumi[t]));
            const __m256 m = _mm256_mul_ps(_mm256_mul_ps(dx, dmw), _mm256_cvtepi32_ps(summ[t]));
            acc[t] = _mm256_add_ps(acc[t], _mm256_sub_ps(p, m));
        }
    }
    UNROLL for (int t = 0; t < T; t++) _mm256_storeu_ps(y + (size_t)t * ys, acc[t]);
}

TILED_ENTRY(zk_gemm8_q2_K_avx2, q2_K_tile)
