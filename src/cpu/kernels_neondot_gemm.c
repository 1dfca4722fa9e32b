/* kernels_neondot_gemm.c — the packed 8-row products (gemm.h, gemm_k.h) for AArch64 with the
 * dot-product extension (SDOT, armv8.2-a+dotprod): Q8_0, Q4_0 and IQ4_NL weights (block_q8_0x8 /
 * block_q4_0x8 bytes) with Q8_0 activations, and Q4_K / Q5_K / Q6_K (block_q4_Kx8 / block_q5_Kx8 /
 * block_q6_Kx8) with Q8_K activations (per sub-block the exact integer sums, times the row's scales;
 * Q4_K / Q5_K's mins times the activations' group sums, Q6_K's offset 32 through them; per
 * super-block the spec's float steps, gemm_k.h).
 * The packed layouts were made for this instruction's
 * shape: in each 32-byte vector of a packed block, bytes r*4 .. r*4+3 are four consecutive elements
 * of row r, so one 16-byte half holds rows 0-3 (or 4-7) and `vdotq_laneq_s32` against the 4
 * activation bytes of those elements (one 32-bit lane of the activation block) adds the four
 * products into each row's int32 lane: per block, 16 SDOTs give the 8 rows' exact integer sums.
 *
 * Arithmetic: the spec's (gemm_ref.c) step for step. Per block the exact integer sum (Q4_0: minus 8
 * times the activation block's sum), then acc[r] += (float)s * (d_w[r] * d_x), one rounding per
 * operation (ISO C mode: no contraction into FMA), blocks in order: the same floats as the scalar
 * reference. Tokens in tiles of 4, so a block's weights are loaded once for 4 tokens.
 *
 * Compiled with -march=armv8.2-a+dotprod (the Makefile's kernels_neondot* rule) and called only
 * after cpu_features.c has seen FEAT_DotProd (zk_gemm_select). Speed not measured on real ARM
 * hardware (this project's ARM testing is qemu-user); correctness: tests/test_gemm_q.c against the
 * scalar reference. */
#include "gemm.h"
#include "cpu/gemm_k.h"
#include "kernels.h"

#include <stdbool.h>

#include <arm_neon.h>

#define TT 4 /* tokens a tile */

enum { W_Q8, W_Q4, W_IQ4 };

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

static inline void gemm8_tile(int kind, int64_t nb, const void *w, const uint8_t *x, size_t x_stride, const int32_t *xsum, int nt,
                              float *y, size_t y_stride) {
    float32x4_t acc_lo[TT], acc_hi[TT];
    for (int t = 0; t < TT; t++) acc_lo[t] = acc_hi[t] = vdupq_n_f32(0.0f);
    const int8x16_t tbl = vld1q_s8(k_iq4);
    const uint8x16_t m4 = vdupq_n_u8(0x0f);
    for (int64_t b = 0; b < nb; b++) {
        int8x16_t xv[TT][2];
        for (int t = 0; t < nt; t++) {
            const block_q8_0 *X = (const block_q8_0 *)(x + (size_t)t * x_stride) + b;
            xv[t][0] = vld1q_s8(X->qs);
            xv[t][1] = vld1q_s8(X->qs + 16);
        }
        int32x4_t s_lo[TT], s_hi[TT];
        for (int t = 0; t < TT; t++) s_lo[t] = s_hi[t] = vdupq_n_s32(0);
        const zeta_f16 *dw;
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
            const block_q4_0x8 *W = (const block_q4_0x8 *)w + b;
            dw = W->d;
            /* vector j: low nibbles group 2 j, high nibbles group 2 j + 1 (gemm.h), so vectors 2 q and
             * 2 q + 1 hold groups 4 q .. 4 q + 3 */
            for (int q = 0; q < 2; q++) {
                int8x16_t a[8]; /* groups 4 q + 0..3, rows 0-3 and rows 4-7 */
                for (int jj = 0; jj < 2; jj++) {
                    const uint8x16_t v0 = vld1q_u8(W->qs + (2 * q + jj) * 32), v1 = vld1q_u8(W->qs + (2 * q + jj) * 32 + 16);
                    a[4 * jj + 0] = vreinterpretq_s8_u8(vandq_u8(v0, m4));
                    a[4 * jj + 1] = vreinterpretq_s8_u8(vandq_u8(v1, m4));
                    a[4 * jj + 2] = vreinterpretq_s8_u8(vshrq_n_u8(v0, 4));
                    a[4 * jj + 3] = vreinterpretq_s8_u8(vshrq_n_u8(v1, 4));
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
            const block_q8_0 *X = (const block_q8_0 *)(x + (size_t)t * x_stride) + b;
            int32x4_t sl = s_lo[t], sh = s_hi[t];
            if (kind == W_Q4) { /* the stored codes are value + 8 */
                const int32x4_t off = vdupq_n_s32(8 * xsum[(size_t)t * (size_t)nb + (size_t)b]);
                sl = vsubq_s32(sl, off);
                sh = vsubq_s32(sh, off);
            }
            const float dx = f16_1(X->d);
            acc_lo[t] = vaddq_f32(acc_lo[t], vmulq_f32(vcvtq_f32_s32(sl), vmulq_n_f32(dlo, dx)));
            acc_hi[t] = vaddq_f32(acc_hi[t], vmulq_f32(vcvtq_f32_s32(sh), vmulq_n_f32(dhi, dx)));
        }
    }
    for (int t = 0; t < nt; t++) {
        vst1q_f32(y + (size_t)t * y_stride, acc_lo[t]);
        vst1q_f32(y + (size_t)t * y_stride + 4, acc_hi[t]);
    }
}

static void gemm8(int kind, int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok, float *y,
                  size_t y_stride) {
    const int64_t nb = k / 32;
    for (int c0 = 0; c0 < n_tok; c0 += TT) {
        const int nt = n_tok - c0 < TT ? n_tok - c0 : TT;
        gemm8_tile(kind, nb, w, (const uint8_t *)x + (size_t)c0 * x_stride, x_stride, xsum ? xsum + (size_t)c0 * (size_t)nb : NULL, nt,
                   y + (size_t)c0 * y_stride, y_stride);
    }
}

static void gemm8_q8_0(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok, float *y,
                       size_t y_stride) {
    gemm8(W_Q8, k, w, x, x_stride, xsum, n_tok, y, y_stride);
}
static void gemm8_q4_0(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok, float *y,
                       size_t y_stride) {
    gemm8(W_Q4, k, w, x, x_stride, xsum, n_tok, y, y_stride);
}
static void gemm8_iq4_nl(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok, float *y,
                         size_t y_stride) {
    gemm8(W_IQ4, k, w, x, x_stride, xsum, n_tok, y, y_stride);
}

/* ---- Q4_K / Q5_K (block_q4_Kx8 / block_q5_Kx8 of gemm_k.h, Q8_K activations) */

/* byte e (0..3) of each 32-bit lane */
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

static void gemm8_k45(bool q5, int64_t k, const void *w, const void *x, size_t x_stride, int n_tok, float *y, size_t y_stride) {
    const int64_t nb = k / QK_K;
    for (int c0 = 0; c0 < n_tok; c0 += TT) {
        const int nt = n_tok - c0 < TT ? n_tok - c0 : TT;
        gemm8_k45_tile(q5, nb, w, (const uint8_t *)x + (size_t)c0 * x_stride, x_stride, nt, y + (size_t)c0 * y_stride, y_stride);
    }
}

static void gemm8_q4_K(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok, float *y,
                       size_t y_stride) {
    (void)xsum;
    gemm8_k45(false, k, w, x, x_stride, n_tok, y, y_stride);
}
static void gemm8_q5_K(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok, float *y,
                       size_t y_stride) {
    (void)xsum;
    gemm8_k45(true, k, w, x, x_stride, n_tok, y, y_stride);
}

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

static void gemm8_q6_K(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok, float *y,
                       size_t y_stride) {
    (void)xsum;
    const int64_t nb = k / QK_K;
    for (int c0 = 0; c0 < n_tok; c0 += TT) {
        const int nt = n_tok - c0 < TT ? n_tok - c0 : TT;
        gemm8_q6_K_tile(nb, w, (const uint8_t *)x + (size_t)c0 * x_stride, x_stride, nt, y + (size_t)c0 * y_stride, y_stride);
    }
}

static const zk_gemm_table k_gemm_neondot = {
    .name = "neondot",
    .gemm8 = {[ZETA_TYPE_Q8_0] = gemm8_q8_0, [ZETA_TYPE_Q4_0] = gemm8_q4_0, [ZETA_TYPE_IQ4_NL] = gemm8_iq4_nl,
              [ZETA_TYPE_Q4_K] = gemm8_q4_K, [ZETA_TYPE_Q5_K] = gemm8_q5_K, [ZETA_TYPE_Q6_K] = gemm8_q6_K},
};

const zk_gemm_table *zk_gemm_neondot(void) { return &k_gemm_neondot; }
