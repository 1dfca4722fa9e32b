/* kernels_neondot_gemm.c — the packed 8-row products (gemm.h) for AArch64 with the dot-product
 * extension (SDOT, armv8.2-a+dotprod): Q8_0, Q4_0 and IQ4_NL weights (block_q8_0x8 /
 * block_q4_0x8 bytes) with Q8_0 activations. The packed layouts were made for this instruction's
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
#include "kernels.h"

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

static const zk_gemm_table k_gemm_neondot = {
    .name = "neondot",
    .gemm8 = {[ZETA_TYPE_Q8_0] = gemm8_q8_0, [ZETA_TYPE_Q4_0] = gemm8_q4_0, [ZETA_TYPE_IQ4_NL] = gemm8_iq4_nl},
};

const zk_gemm_table *zk_gemm_neondot(void) { return &k_gemm_neondot; }
