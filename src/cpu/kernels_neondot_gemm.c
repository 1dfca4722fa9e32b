/* kernels_neondot_gemm.c — the packed 8-row products (gemm.h, gemm_k.h) for AArch64 with the
 * dot-product extension (SDOT, armv8.2-a+dotprod), every integer type the x86 tables pack: Q8_0, Q4_0,
 * Q5_0, IQ4_NL (Q8_0 activations), Q4_1, Q5_1 (Q8_1 activations), Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and
 * IQ4_XS (Q8_K activations: per sub-block the exact integer sums times the rows' scales, the mins
 * and code offsets through the activations' group sums, per super-block the spec's float steps).
 * The packed layouts were made for this instruction's
 * shape: in each 32-byte vector of a packed block, bytes r*4 .. r*4+3 are four consecutive elements
 * of row r, so one 16-byte half holds rows 0-3 (or 4-7) and `vdotq_laneq_s32` against the 4
 * activation bytes of those elements (one 32-bit lane of the activation block) adds the four
 * products into each row's int32 lane: per block, 16 SDOTs give the 8 rows' exact integer sums.
 *
 * Arithmetic: the spec's (gemm_ref.c, gemm_k_ref.c) step for step. E.g. Q8_0: per block the exact
 * integer sum, then acc[r] += (float)s * (d_w[r] * d_x), one rounding per operation (ISO C mode: no
 * contraction into FMA), blocks in order: the same floats as the scalar reference. Tokens in tiles of
 * 4, so a block's weights are loaded once for 4 tokens.
 *
 * Compiled with -march=armv8.2-a+dotprod (the Makefile's kernels_neondot* rule) and called only
 * after cpu_features.c has seen FEAT_DotProd (zk_gemm_select). Speed not measured on real ARM
 * hardware (this project's ARM testing is qemu-user); correctness: tests/test_gemm_q.c and
 * tests/test_gemm_k.c against the scalar reference (bit-equal). */
#include "gemm.h"
#include "cpu/gemm_k.h"
#include "kernels.h"

#include <stdbool.h>

#include <arm_neon.h>

#define TT 4 /* tokens a tile */

enum { W_Q8, W_Q4, W_IQ4, W_Q5_0, W_Q4_1, W_Q5_1 };

/* ggml's kvalues_iq4nl, the IQ4 codebook */
static const int8_t k_iq4[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static inline float f16_1(zeta_f16 h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }
static inline float32x4_t f16_4(const zeta_f16 *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

/* the SDOT of weight half wv (4 rows x the 4 elements of group g = 4 q + L) with each tile token's 4
 * activation bytes of that group: lane L of its activation vector q (L a constant) */
#define DOT_G(acc, wv, q, L)                                                                           \
    do {                                                                                               \
        for (int t = 0; t < nt; t++) acc[t] = vdotq_laneq_s32(acc[t], wv, xv[t][q], L);              \
    } while (0)

/* the tile's activation block b of token t: Q8_1 (d, s, codes) for Q4_1 / Q5_1, else Q8_0 (d, codes) */
#define X8(t) ((const uint8_t *)x + (size_t)(t) * x_stride + (size_t)b * (q81 ? sizeof(block_q8_1) : sizeof(block_q8_0)))

/* the fifth bits of 4 codes a row: from each row's 32-bit qh (bit m: element m) the 4 bits at `first`
 * (elements first .. first + 3, one a byte) as 16 in the bytes of the row's lane */
static inline uint8x16_t q5_bits(uint32x4_t qh, int first) {
    const uint32x4_t t = vandq_u32(vshlq_u32(qh, vdupq_n_s32(-first)), vdupq_n_u32(15));
    const uint8x16_t spread = vreinterpretq_u8_u32(vmulq_n_u32(t, 0x01010101u));
    const uint8x16_t bit = vreinterpretq_u8_u32(vdupq_n_u32(0x08040201u));
    return vandq_u8(vtstq_u8(spread, bit), vdupq_n_u8(16));
}

static inline void gemm8_tile(int kind, int64_t nb, const void *w, const uint8_t *x, size_t x_stride, const int32_t *xsum, int nt,
                              float *y, size_t y_stride) {
    float32x4_t acc_lo[TT], acc_hi[TT];
    for (int t = 0; t < TT; t++) acc_lo[t] = acc_hi[t] = vdupq_n_f32(0.0f);
    const int8x16_t tbl = vld1q_s8(k_iq4);
    const uint8x16_t m4 = vdupq_n_u8(0x0f);
    const bool q81 = kind == W_Q4_1 || kind == W_Q5_1, q5 = kind == W_Q5_0 || kind == W_Q5_1;
    for (int64_t b = 0; b < nb; b++) {
        int8x16_t xv[TT][2];
        for (int t = 0; t < nt; t++) {
            const int8_t *xq = (const int8_t *)(X8(t) + (q81 ? 4 : 2));
            xv[t][0] = vld1q_s8(xq);
            xv[t][1] = vld1q_s8(xq + 16);
        }
        int32x4_t s_lo[TT], s_hi[TT];
        for (int t = 0; t < TT; t++) s_lo[t] = s_hi[t] = vdupq_n_s32(0);
        const zeta_f16 *dw, *mw = NULL;
        if (kind == W_Q8) {
            const block_q8_0x8 *W = (const block_q8_0x8 *)w + b;
            dw = W->d;
            for (int q = 0; q < 2; q++) { /* groups 4 q .. 4 q + 3 */
                const int8_t *p = W->qs + q * 128;
                DOT_G(s_lo, vld1q_s8(p), q, 0);
                DOT_G(s_hi, vld1q_s8(p + 16), q, 0);
                DOT_G(s_lo, vld1q_s8(p + 32), q, 1);
                DOT_G(s_hi, vld1q_s8(p + 48), q, 1);
                DOT_G(s_lo, vld1q_s8(p + 64), q, 2);
                DOT_G(s_hi, vld1q_s8(p + 80), q, 2);
                DOT_G(s_lo, vld1q_s8(p + 96), q, 3);
                DOT_G(s_hi, vld1q_s8(p + 112), q, 3);
            }
        } else {
            const uint8_t *qs, *qh = NULL;
            if (kind == W_Q5_0) {
                const block_q5_0x8 *W = (const block_q5_0x8 *)w + b;
                dw = W->d; qs = W->qs; qh = W->qh;
            } else if (kind == W_Q4_1) {
                const block_q4_1x8 *W = (const block_q4_1x8 *)w + b;
                dw = W->d; mw = W->m; qs = W->qs;
            } else if (kind == W_Q5_1) {
                const block_q5_1x8 *W = (const block_q5_1x8 *)w + b;
                dw = W->d; mw = W->m; qs = W->qs; qh = W->qh;
            } else { /* Q4_0, IQ4_NL */
                const block_q4_0x8 *W = (const block_q4_0x8 *)w + b;
                dw = W->d; qs = W->qs;
            }
            uint32x4_t qh_lo = vdupq_n_u32(0), qh_hi = qh_lo; /* rows 0-3 / 4-7: each row's 32-bit qh */
            if (q5) {
                qh_lo = vreinterpretq_u32_u8(vld1q_u8(qh));
                qh_hi = vreinterpretq_u32_u8(vld1q_u8(qh + 16));
            }
            /* vector j: low nibbles group 2 j (elements 8j + e), high nibbles group 2 j + 1 (8j + 4 + e)
             * (gemm.h), so vectors 2 q and 2 q + 1 hold groups 4 q .. 4 q + 3 */
            for (int q = 0; q < 2; q++) {
                int8x16_t a[8]; /* groups 4 q + 0..3, rows 0-3 and rows 4-7 */
                for (int jj = 0; jj < 2; jj++) {
                    const int j = 2 * q + jj;
                    const uint8x16_t v0 = vld1q_u8(qs + j * 32), v1 = vld1q_u8(qs + j * 32 + 16);
                    uint8x16_t c0 = vandq_u8(v0, m4), c1 = vandq_u8(v1, m4), c2 = vshrq_n_u8(v0, 4), c3 = vshrq_n_u8(v1, 4);
                    if (q5) {
                        c0 = vorrq_u8(c0, q5_bits(qh_lo, 8 * j));
                        c1 = vorrq_u8(c1, q5_bits(qh_hi, 8 * j));
                        c2 = vorrq_u8(c2, q5_bits(qh_lo, 8 * j + 4));
                        c3 = vorrq_u8(c3, q5_bits(qh_hi, 8 * j + 4));
                    }
                    a[4 * jj + 0] = vreinterpretq_s8_u8(c0);
                    a[4 * jj + 1] = vreinterpretq_s8_u8(c1);
                    a[4 * jj + 2] = vreinterpretq_s8_u8(c2);
                    a[4 * jj + 3] = vreinterpretq_s8_u8(c3);
                }
                if (kind == W_IQ4)
                    for (int i = 0; i < 8; i++) a[i] = vqtbl1q_s8(tbl, vreinterpretq_u8_s8(a[i]));
                DOT_G(s_lo, a[0], q, 0);
                DOT_G(s_hi, a[1], q, 0);
                DOT_G(s_lo, a[2], q, 1);
                DOT_G(s_hi, a[3], q, 1);
                DOT_G(s_lo, a[4], q, 2);
                DOT_G(s_hi, a[5], q, 2);
                DOT_G(s_lo, a[6], q, 3);
                DOT_G(s_hi, a[7], q, 3);
            }
        }
        const float32x4_t dlo = f16_4(dw), dhi = f16_4(dw + 4);
        for (int t = 0; t < nt; t++) {
            const uint8_t *X = X8(t);
            int32x4_t sl = s_lo[t], sh = s_hi[t];
            if (kind == W_Q4 || kind == W_Q5_0) { /* the stored codes are value + 8 / + 16 */
                const int32x4_t off = vdupq_n_s32((kind == W_Q4 ? 8 : 16) * xsum[(size_t)t * (size_t)nb + (size_t)b]);
                sl = vsubq_s32(sl, off);
                sh = vsubq_s32(sh, off);
            }
            const float dx = f16_1(((const zeta_f16 *)X)[0]);
            float32x4_t pl = vmulq_f32(vcvtq_f32_s32(sl), vmulq_n_f32(dlo, dx)), ph = vmulq_f32(vcvtq_f32_s32(sh), vmulq_n_f32(dhi, dx));
            if (q81) { /* + m_w * s_x (block_q8_1's s = d * sum of its codes) */
                const float sx = f16_1(((const zeta_f16 *)X)[1]);
                pl = vaddq_f32(pl, vmulq_n_f32(f16_4(mw), sx));
                ph = vaddq_f32(ph, vmulq_n_f32(f16_4(mw + 4), sx));
            }
            acc_lo[t] = vaddq_f32(acc_lo[t], pl);
            acc_hi[t] = vaddq_f32(acc_hi[t], ph);
        }
    }
    for (int t = 0; t < nt; t++) {
        vst1q_f32(y + (size_t)t * y_stride, acc_lo[t]);
        vst1q_f32(y + (size_t)t * y_stride + 4, acc_hi[t]);
    }
}
#undef X8

static void gemm8(int kind, int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok, float *y,
                  size_t y_stride) {
    const int64_t nb = k / 32;
    for (int c0 = 0; c0 < n_tok; c0 += TT) {
        const int nt = n_tok - c0 < TT ? n_tok - c0 : TT;
        gemm8_tile(kind, nb, w, (const uint8_t *)x + (size_t)c0 * x_stride, x_stride, xsum ? xsum + (size_t)c0 * (size_t)nb : NULL, nt,
                   y + (size_t)c0 * y_stride, y_stride);
    }
}

/* the zk_gemm8_fn of a 32-element-block kind */
#define GEMM8_32(name, kind)                                                                                             \
    static void name(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok, float *y,   \
                     size_t y_stride) {                                                                                  \
        gemm8(kind, k, w, x, x_stride, xsum, n_tok, y, y_stride);                                                        \
    }
GEMM8_32(gemm8_q8_0, W_Q8)
GEMM8_32(gemm8_q4_0, W_Q4)
GEMM8_32(gemm8_iq4_nl, W_IQ4)
GEMM8_32(gemm8_q5_0, W_Q5_0)
GEMM8_32(gemm8_q4_1, W_Q4_1)
GEMM8_32(gemm8_q5_1, W_Q5_1)

/* the zk_gemm8_fn of a super-block (Q8_K) kernel: tiles of TT tokens, `call` the tile's kernel on xt,
 * nt tokens, yt */
#define K_TILES(name, call)                                                                                                     \
    static void name(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok, float *y,          \
                     size_t y_stride) {                                                                                         \
        (void)xsum;                                                                                                             \
        const int64_t nb = k / QK_K;                                                                                            \
        for (int c0 = 0; c0 < n_tok; c0 += TT) {                                                                                \
            const int nt = n_tok - c0 < TT ? n_tok - c0 : TT;                                                                   \
            const uint8_t *xt = (const uint8_t *)x + (size_t)c0 * x_stride;                                                     \
            float *yt = y + (size_t)c0 * y_stride;                                                                              \
            call;                                                                                                               \
        }                                                                                                                       \
    }

/* ---- Q4_K / Q5_K (block_q4_Kx8 / block_q5_Kx8 of gemm_k.h, Q8_K activations) */

/* byte e (0..3, a run-time value) of each 32-bit lane */
static inline uint32x4_t byte_e(uint32x4_t v, int e) { return vandq_u32(vshlq_u32(v, vdupq_n_s32(-8 * e)), vdupq_n_u32(0xff)); }

/* the 6-bit scales sc[j] and mins m[j] (j < 8) of the 4 rows of half h, as int32 lanes: the 12
 * packed bytes of row r are bytes 4r..4r+3 of the three scale vectors (gemm_k.h) */
static inline void k4_scales(const uint8_t *sv, int h, int32x4_t sc[8], int32x4_t m[8]) {
    const uint32x4_t s0 = vreinterpretq_u32_u8(vld1q_u8(sv + 16 * h)), s1 = vreinterpretq_u32_u8(vld1q_u8(sv + 32 + 16 * h)),
                     s2 = vreinterpretq_u32_u8(vld1q_u8(sv + 64 + 16 * h));
    const uint32x4_t m63 = vdupq_n_u32(63), m15 = vdupq_n_u32(15);
    for (int j = 0; j < 4; j++) {
        const uint32x4_t b0 = byte_e(s0, j), b1 = byte_e(s1, j), b2 = byte_e(s2, j);
        sc[j] = vreinterpretq_s32_u32(vandq_u32(b0, m63));
        m[j] = vreinterpretq_s32_u32(vandq_u32(b1, m63));
        /* j + 4: byte j + 8 (s2, e = j) with the top bits of bytes j (s0) and j + 4 (s1) */
        sc[j + 4] = vreinterpretq_s32_u32(vorrq_u32(vandq_u32(b2, m15), vshlq_n_u32(vshrq_n_u32(b0, 6), 4)));
        m[j + 4] = vreinterpretq_s32_u32(vorrq_u32(vshrq_n_u32(b2, 4), vshlq_n_u32(vshrq_n_u32(b1, 6), 4)));
    }
}

static inline void gemm8_k45_tile(bool q5, int64_t nb, const void *w, const uint8_t *x, size_t x_stride, int nt, float *y,
                                  size_t y_stride) {
    float32x4_t acc[TT][2];
    for (int t = 0; t < TT; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0.0f);
    const uint8x16_t m4 = vdupq_n_u8(0x0f), one = vdupq_n_u8(1);
    const size_t bb = q5 ? sizeof(block_q5_Kx8) : sizeof(block_q4_Kx8);
    for (int64_t b = 0; b < nb; b++) {
        const block_q4_Kx8 *B = (const block_q4_Kx8 *)((const uint8_t *)w + (size_t)b * bb);
        const uint8_t *qs = q5 ? ((const block_q5_Kx8 *)B)->qs : B->qs;
        const uint8_t *qh = q5 ? ((const block_q5_Kx8 *)B)->qh : NULL;
        for (int h = 0; h < 2; h++) { /* rows 4h .. 4h + 3 */
            int32x4_t sc[8], mn[8];
            k4_scales(B->scales, h, sc, mn);
            int32x4_t sumi[TT], summ[TT];
            for (int t = 0; t < TT; t++) sumi[t] = summ[t] = vdupq_n_s32(0);
            for (int c = 0; c < 4; c++) { /* sub-blocks 2c (low nibbles) and 2c + 1 (high) */
                int32x4_t lo[TT], hi[TT];
                for (int t = 0; t < TT; t++) lo[t] = hi[t] = vdupq_n_s32(0);
                int8x16_t xv[TT][4]; /* sub-block 2c: xv[t][0..1], 2c + 1: xv[t][2..3] */
                for (int t = 0; t < nt; t++) {
                    const int8_t *xq = ((const block_q8_K *)(x + (size_t)t * x_stride))[b].qs + 64 * c;
                    for (int v = 0; v < 4; v++) xv[t][v] = vld1q_s8(xq + 16 * v);
                }
                for (int g = 0; g < 8; g++) { /* elements 32 j + 4 g .. + 3 of each sub-block j */
                    const uint8x16_t v = vld1q_u8(qs + 32 * (8 * c + g) + 16 * h);
                    uint8x16_t a = vandq_u8(v, m4), e = vshrq_n_u8(v, 4);
                    if (q5) { /* bit j of byte e: the 16 of element 32 j + 4 g + e */
                        const uint8x16_t hb = vld1q_u8(qh + 32 * g + 16 * h);
                        a = vorrq_u8(a, vshlq_n_u8(vandq_u8(vshlq_u8(hb, vdupq_n_s8((int8_t)(-2 * c))), one), 4));
                        e = vorrq_u8(e, vshlq_n_u8(vandq_u8(vshlq_u8(hb, vdupq_n_s8((int8_t)(-2 * c - 1))), one), 4));
                    }
                    const int8x16_t as = vreinterpretq_s8_u8(a), es = vreinterpretq_s8_u8(e);
                    for (int t = 0; t < nt; t++) {
                        switch (g) { /* the lane is an immediate */
                        case 0: lo[t] = vdotq_laneq_s32(lo[t], as, xv[t][0], 0); hi[t] = vdotq_laneq_s32(hi[t], es, xv[t][2], 0); break;
                        case 1: lo[t] = vdotq_laneq_s32(lo[t], as, xv[t][0], 1); hi[t] = vdotq_laneq_s32(hi[t], es, xv[t][2], 1); break;
                        case 2: lo[t] = vdotq_laneq_s32(lo[t], as, xv[t][0], 2); hi[t] = vdotq_laneq_s32(hi[t], es, xv[t][2], 2); break;
                        case 3: lo[t] = vdotq_laneq_s32(lo[t], as, xv[t][0], 3); hi[t] = vdotq_laneq_s32(hi[t], es, xv[t][2], 3); break;
                        case 4: lo[t] = vdotq_laneq_s32(lo[t], as, xv[t][1], 0); hi[t] = vdotq_laneq_s32(hi[t], es, xv[t][3], 0); break;
                        case 5: lo[t] = vdotq_laneq_s32(lo[t], as, xv[t][1], 1); hi[t] = vdotq_laneq_s32(hi[t], es, xv[t][3], 1); break;
                        case 6: lo[t] = vdotq_laneq_s32(lo[t], as, xv[t][1], 2); hi[t] = vdotq_laneq_s32(hi[t], es, xv[t][3], 2); break;
                        default: lo[t] = vdotq_laneq_s32(lo[t], as, xv[t][1], 3); hi[t] = vdotq_laneq_s32(hi[t], es, xv[t][3], 3); break;
                        }
                    }
                }
                for (int t = 0; t < nt; t++) {
                    const block_q8_K *X = (const block_q8_K *)(x + (size_t)t * x_stride) + b;
                    sumi[t] = vmlaq_s32(vmlaq_s32(sumi[t], sc[2 * c], lo[t]), sc[2 * c + 1], hi[t]);
                    summ[t] = vmlaq_n_s32(summ[t], mn[2 * c], (int32_t)X->bsums[4 * c] + X->bsums[4 * c + 1]);
                    summ[t] = vmlaq_n_s32(summ[t], mn[2 * c + 1], (int32_t)X->bsums[4 * c + 2] + X->bsums[4 * c + 3]);
                }
            }
            const float32x4_t d = f16_4(B->d + 4 * h), dmin = f16_4(B->dmin + 4 * h);
            for (int t = 0; t < nt; t++) { /* acc += d * dx * (float)sumi - dmin * dx * (float)summ, left to right */
                const float dx = ((const block_q8_K *)(x + (size_t)t * x_stride))[b].d;
                const float32x4_t p = vmulq_f32(vmulq_n_f32(d, dx), vcvtq_f32_s32(sumi[t]));
                const float32x4_t q = vmulq_f32(vmulq_n_f32(dmin, dx), vcvtq_f32_s32(summ[t]));
                acc[t][h] = vaddq_f32(acc[t][h], vsubq_f32(p, q));
            }
        }
    }
    for (int t = 0; t < nt; t++) {
        vst1q_f32(y + (size_t)t * y_stride, acc[t][0]);
        vst1q_f32(y + (size_t)t * y_stride + 4, acc[t][1]);
    }
}

K_TILES(gemm8_q4_K, gemm8_k45_tile(false, nb, w, xt, x_stride, nt, yt, y_stride))
K_TILES(gemm8_q5_K, gemm8_k45_tile(true, nb, w, xt, x_stride, nt, yt, y_stride))

/* ---- Q6_K (block_q6_Kx8 of gemm_k.h, Q8_K activations) */

/* sub-block j's 16 codes of the 4 rows of half h as 4 vectors of element groups i = 0..3 (elements
 * 16j + 4i + e): an AND gives groups 0-2, the three top bit pairs assemble group 3 (gemm_k.h) */
static inline void q6_codes(const uint8_t *q, int j, int h, int8x16_t out[4]) {
    const uint8x16_t v0 = vld1q_u8(q + 32 * (3 * j) + 16 * h), v1 = vld1q_u8(q + 32 * (3 * j + 1) + 16 * h),
                     v2 = vld1q_u8(q + 32 * (3 * j + 2) + 16 * h);
    const uint8x16_t m63 = vdupq_n_u8(63);
    out[0] = vreinterpretq_s8_u8(vandq_u8(v0, m63));
    out[1] = vreinterpretq_s8_u8(vandq_u8(v1, m63));
    out[2] = vreinterpretq_s8_u8(vandq_u8(v2, m63));
    out[3] = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(v0, 6), vorrq_u8(vshlq_n_u8(vshrq_n_u8(v1, 6), 2), vshlq_n_u8(vshrq_n_u8(v2, 6), 4))));
}

static inline void gemm8_q6_K_tile(int64_t nb, const void *w, const uint8_t *x, size_t x_stride, int nt, float *y, size_t y_stride) {
    float32x4_t acc[TT][2];
    for (int t = 0; t < TT; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const block_q6_Kx8 *W = (const block_q6_Kx8 *)w + b;
        for (int h = 0; h < 2; h++) { /* rows 4h .. 4h + 3 */
            int32x4_t sumi[TT];
            for (int t = 0; t < TT; t++) sumi[t] = vdupq_n_s32(0);
            for (int j = 0; j < 16; j++) {
                /* the rows' int8 scale of sub-block j: byte j % 4 of lane r of scale vector j / 4 */
                const int32x4_t sv = vreinterpretq_s32_s8(vld1q_s8(W->scales + 32 * (j / 4) + 16 * h));
                const int32x4_t sc = vshlq_s32(vshlq_s32(sv, vdupq_n_s32(24 - 8 * (j % 4))), vdupq_n_s32(-24));
                int8x16_t cv[4];
                q6_codes(W->q, j, h, cv);
                for (int t = 0; t < nt; t++) {
                    const block_q8_K *X = (const block_q8_K *)(x + (size_t)t * x_stride) + b;
                    const int8x16_t xv = vld1q_s8(X->qs + 16 * j);
                    int32x4_t d = vdotq_laneq_s32(vdupq_n_s32(0), cv[0], xv, 0);
                    d = vdotq_laneq_s32(d, cv[1], xv, 1);
                    d = vdotq_laneq_s32(d, cv[2], xv, 2);
                    d = vdotq_laneq_s32(d, cv[3], xv, 3);
                    d = vsubq_s32(d, vdupq_n_s32(32 * (int32_t)X->bsums[j])); /* the codes are value + 32 */
                    sumi[t] = vmlaq_s32(sumi[t], sc, d);
                }
            }
            const float32x4_t dw = f16_4(W->d + 4 * h);
            for (int t = 0; t < nt; t++) { /* acc += d * dx * (float)sumi, left to right */
                const float dx = ((const block_q8_K *)(x + (size_t)t * x_stride))[b].d;
                acc[t][h] = vaddq_f32(acc[t][h], vmulq_f32(vmulq_n_f32(dw, dx), vcvtq_f32_s32(sumi[t])));
            }
        }
    }
    for (int t = 0; t < nt; t++) {
        vst1q_f32(y + (size_t)t * y_stride, acc[t][0]);
        vst1q_f32(y + (size_t)t * y_stride + 4, acc[t][1]);
    }
}

K_TILES(gemm8_q6_K, gemm8_q6_K_tile(nb, w, xt, x_stride, nt, yt, y_stride))

/* ---- Q2_K, Q3_K (block_q2_Kx8 / block_q3_Kx8), IQ4_XS (block_iq4_xsx8): Q8_K activations */

/* the integer sum of sub-block j (16 elements: n = j / 8, i = (j / 2) % 4, vectors 8n + g for g in
 * 4 (j % 2) .. + 3, bits 2i .. 2i + 1; Q3_K also the hmask bit 4n + i of vector g) times the
 * token's 16 activations xv, for the 4 rows of half h: the codes' dot (Q3_K: code + 4 with the
 * hmask bit, so that the caller subtracts 4 x the group sum) */
static inline int32x4_t k23_dot(bool q3, const uint8_t *qs, const uint8_t *hmask, int j, int h, int8x16_t xv) {
    const int n = j / 8, i = (j / 2) % 4, g0 = 4 * (j % 2);
    const uint8x16_t m3 = vdupq_n_u8(3), one = vdupq_n_u8(1);
    const int8x16_t sh = vdupq_n_s8((int8_t)(-2 * i)), shh = vdupq_n_s8((int8_t)(-(4 * n + i)));
    uint8x16_t c[4];
    for (int q = 0; q < 4; q++) {
        c[q] = vandq_u8(vshlq_u8(vld1q_u8(qs + 32 * (8 * n + g0 + q) + 16 * h), sh), m3);
        if (q3) c[q] = vorrq_u8(c[q], vshlq_n_u8(vandq_u8(vshlq_u8(vld1q_u8(hmask + 32 * (g0 + q) + 16 * h), shh), one), 2));
    }
    int32x4_t d = vdotq_laneq_s32(vdupq_n_s32(0), vreinterpretq_s8_u8(c[0]), xv, 0);
    d = vdotq_laneq_s32(d, vreinterpretq_s8_u8(c[1]), xv, 1);
    d = vdotq_laneq_s32(d, vreinterpretq_s8_u8(c[2]), xv, 2);
    return vdotq_laneq_s32(d, vreinterpretq_s8_u8(c[3]), xv, 3);
}

static inline void gemm8_k23_tile(bool q3, int64_t nb, const void *w, const uint8_t *x, size_t x_stride, int nt, float *y,
                                  size_t y_stride) {
    float32x4_t acc[TT][2];
    for (int t = 0; t < TT; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const block_q2_Kx8 *W2 = (const block_q2_Kx8 *)w + b;
        const block_q3_Kx8 *W3 = (const block_q3_Kx8 *)w + b;
        for (int h = 0; h < 2; h++) { /* rows 4h .. 4h + 3 */
            int32x4_t isum[TT], summ[TT];
            for (int t = 0; t < TT; t++) isum[t] = summ[t] = vdupq_n_s32(0);
            uint32x4_t p[3]; /* Q3_K: the rows' 12 scale bytes, 4 a lane */
            if (q3)
                for (int v = 0; v < 3; v++) p[v] = vreinterpretq_u32_u8(vld1q_u8(W3->scales + 32 * v + 16 * h));
            for (int j = 0; j < 16; j++) {
                int32x4_t sc, mn = vdupq_n_s32(0);
                if (q3) { /* (lo | hi << 4) - 32, lo = byte j (j < 8) low nibble or byte j - 8's high one, hi = bits of byte 8 + j % 4 */
                    const uint32x4_t lo = j < 8 ? vandq_u32(byte_e(p[j / 4], j % 4), vdupq_n_u32(15))
                                                : vshrq_n_u32(byte_e(p[(j - 8) / 4], (j - 8) % 4), 4);
                    const uint32x4_t hi = vandq_u32(vshlq_u32(byte_e(p[2], j % 4), vdupq_n_s32(-2 * (j / 4))), vdupq_n_u32(3));
                    sc = vsubq_s32(vreinterpretq_s32_u32(vorrq_u32(lo, vshlq_n_u32(hi, 4))), vdupq_n_s32(32));
                } else { /* byte j % 4 of scale vector j / 4: the scale code low, the min code high */
                    const uint32x4_t v = byte_e(vreinterpretq_u32_u8(vld1q_u8(W2->scales + 32 * (j / 4) + 16 * h)), j % 4);
                    sc = vreinterpretq_s32_u32(vandq_u32(v, vdupq_n_u32(15)));
                    mn = vreinterpretq_s32_u32(vshrq_n_u32(v, 4));
                }
                for (int t = 0; t < nt; t++) {
                    const block_q8_K *X = (const block_q8_K *)(x + (size_t)t * x_stride) + b;
                    int32x4_t d = k23_dot(q3, q3 ? W3->qs : W2->qs, q3 ? W3->hmask : NULL, j, h, vld1q_s8(X->qs + 16 * j));
                    if (q3) d = vsubq_s32(d, vdupq_n_s32(4 * (int32_t)X->bsums[j])); /* the codes are value + 4 */
                    isum[t] = vmlaq_s32(isum[t], sc, d);
                    if (!q3) summ[t] = vmlaq_n_s32(summ[t], mn, X->bsums[j]);
                }
            }
            for (int t = 0; t < nt; t++) {
                const float dx = ((const block_q8_K *)(x + (size_t)t * x_stride))[b].d;
                if (q3) { /* acc += (d * dx) * (float)sumi */
                    acc[t][h] = vaddq_f32(acc[t][h], vmulq_f32(vmulq_n_f32(f16_4(W3->d + 4 * h), dx), vcvtq_f32_s32(isum[t])));
                } else { /* acc += (dx * d) * (float)isum - (dx * dmin) * (float)summs */
                    const float32x4_t p1 = vmulq_f32(vmulq_n_f32(f16_4(W2->d + 4 * h), dx), vcvtq_f32_s32(isum[t]));
                    const float32x4_t p2 = vmulq_f32(vmulq_n_f32(f16_4(W2->dmin + 4 * h), dx), vcvtq_f32_s32(summ[t]));
                    acc[t][h] = vaddq_f32(acc[t][h], vsubq_f32(p1, p2));
                }
            }
        }
    }
    for (int t = 0; t < nt; t++) {
        vst1q_f32(y + (size_t)t * y_stride, acc[t][0]);
        vst1q_f32(y + (size_t)t * y_stride + 4, acc[t][1]);
    }
}

static inline void gemm8_iq4_xs_tile(int64_t nb, const void *w, const uint8_t *x, size_t x_stride, int nt, float *y, size_t y_stride) {
    float32x4_t acc[TT][2];
    for (int t = 0; t < TT; t++) acc[t][0] = acc[t][1] = vdupq_n_f32(0.0f);
    const int8x16_t tbl = vld1q_s8(k_iq4);
    const uint8x16_t m4 = vdupq_n_u8(0x0f);
    for (int64_t b = 0; b < nb; b++) {
        const block_iq4_xsx8 *W = (const block_iq4_xsx8 *)w + b;
        for (int h = 0; h < 2; h++) { /* rows 4h .. 4h + 3 */
            const float32x4_t dw = f16_4(W->d + 4 * h);
            const uint32x4_t sl = vreinterpretq_u32_u8(vld1q_u8(W->scales_l + 16 * h));
            const uint32x4_t shv = vmovl_u16(vld1_u16(W->scales_h + 4 * h));
            for (int ib = 0; ib < 8; ib++) {
                /* ls = ((scales_l[ib / 2] >> 4 (ib % 2)) & 15) | ((scales_h >> 2 ib) & 3) << 4 */
                const uint32x4_t l = vandq_u32(vshlq_u32(byte_e(sl, ib / 2), vdupq_n_s32(-4 * (ib % 2))), vdupq_n_u32(15));
                const uint32x4_t hh = vandq_u32(vshlq_u32(shv, vdupq_n_s32(-2 * ib)), vdupq_n_u32(3));
                const float32x4_t lsf = vcvtq_f32_s32(vsubq_s32(vreinterpretq_s32_u32(vorrq_u32(l, vshlq_n_u32(hh, 4))), vdupq_n_s32(32)));
                int8x16_t lo[4], hi[4];
                for (int g = 0; g < 4; g++) {
                    const uint8x16_t v = vld1q_u8(W->qs + 32 * (4 * ib + g) + 16 * h);
                    lo[g] = vqtbl1q_s8(tbl, vandq_u8(v, m4));
                    hi[g] = vqtbl1q_s8(tbl, vshrq_n_u8(v, 4));
                }
                for (int t = 0; t < nt; t++) {
                    const block_q8_K *X = (const block_q8_K *)(x + (size_t)t * x_stride) + b;
                    const int8x16_t xa = vld1q_s8(X->qs + 32 * ib), xb = vld1q_s8(X->qs + 32 * ib + 16);
                    int32x4_t d = vdotq_laneq_s32(vdupq_n_s32(0), lo[0], xa, 0);
                    d = vdotq_laneq_s32(d, lo[1], xa, 1);
                    d = vdotq_laneq_s32(d, lo[2], xa, 2);
                    d = vdotq_laneq_s32(d, lo[3], xa, 3);
                    d = vdotq_laneq_s32(d, hi[0], xb, 0);
                    d = vdotq_laneq_s32(d, hi[1], xb, 1);
                    d = vdotq_laneq_s32(d, hi[2], xb, 2);
                    d = vdotq_laneq_s32(d, hi[3], xb, 3);
                    /* acc += ((d * dx) * (float)(ls - 32)) * (float)s */
                    acc[t][h] = vaddq_f32(acc[t][h], vmulq_f32(vmulq_f32(vmulq_n_f32(dw, X->d), lsf), vcvtq_f32_s32(d)));
                }
            }
        }
    }
    for (int t = 0; t < nt; t++) {
        vst1q_f32(y + (size_t)t * y_stride, acc[t][0]);
        vst1q_f32(y + (size_t)t * y_stride + 4, acc[t][1]);
    }
}

K_TILES(gemm8_q2_K, gemm8_k23_tile(false, nb, w, xt, x_stride, nt, yt, y_stride))
K_TILES(gemm8_q3_K, gemm8_k23_tile(true, nb, w, xt, x_stride, nt, yt, y_stride))
K_TILES(gemm8_iq4_xs, gemm8_iq4_xs_tile(nb, w, xt, x_stride, nt, yt, y_stride))

static const zk_gemm_table k_gemm_neondot = {
    .name = "neondot",
    .gemm8 = {[ZETA_TYPE_Q8_0] = gemm8_q8_0, [ZETA_TYPE_Q4_0] = gemm8_q4_0, [ZETA_TYPE_IQ4_NL] = gemm8_iq4_nl,
              [ZETA_TYPE_Q5_0] = gemm8_q5_0, [ZETA_TYPE_Q4_1] = gemm8_q4_1, [ZETA_TYPE_Q5_1] = gemm8_q5_1,
              [ZETA_TYPE_Q4_K] = gemm8_q4_K, [ZETA_TYPE_Q5_K] = gemm8_q5_K, [ZETA_TYPE_Q6_K] = gemm8_q6_K,
              [ZETA_TYPE_Q2_K] = gemm8_q2_K, [ZETA_TYPE_Q3_K] = gemm8_q3_K, [ZETA_TYPE_IQ4_XS] = gemm8_iq4_xs},
};

const zk_gemm_table *zk_gemm_neondot(void) { return &k_gemm_neondot; }
