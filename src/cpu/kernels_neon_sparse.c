/* kernels_neon_sparse.c — AArch64 Advanced SIMD versions of the sparse decode kernels
 * (kernels_sparse.h). The Q8_0 copy: the same walk as the AVX2 one, output tiles of 32 blocks
 * accumulated in L1, int8 widened to f32 and multiplied-added with the column's scale times the
 * input value. The native Q8_0 / Q4_0 formats: the walk of the AVX2 q8 / q4 kernels (rows in
 * tiles; per input block of the range, the kept columns four at a time down the tile with exact
 * integer row sums in an L1 array, the next columns prefetched; then one fused multiply-add per row
 * and block), with plain widening multiply-adds (vmull_s8 / vmlal_s8, no dot-product extension).
 * The sums are kept in the chunks' own byte order (zs_q8_pos / zs_q4_pos, chosen for AVX2) and
 * mapped to rows in the epilogue, so every column's bytes are read straight. */
#include "cpu/kernels_sparse.h"
#include "quant.h"

#include <arm_neon.h>
#include <stdbool.h>
#include <string.h>

#define TILE 32

/* a[0..32) += s * q[0..32) */
static inline void axpy32(float *a, float32x4_t s, const int8_t *q) {
    const int8x16_t q0 = vld1q_s8(q), q1 = vld1q_s8(q + 16);
    const int16x8_t h[4] = {vmovl_s8(vget_low_s8(q0)), vmovl_high_s8(q0), vmovl_s8(vget_low_s8(q1)), vmovl_high_s8(q1)};
    for (int u = 0; u < 4; u++) {
        const float32x4_t lo = vcvtq_f32_s32(vmovl_s16(vget_low_s16(h[u]))), hi = vcvtq_f32_s32(vmovl_high_s16(h[u]));
        vst1q_f32(a + 8 * u, vfmaq_f32(vld1q_f32(a + 8 * u), lo, s));
        vst1q_f32(a + 8 * u + 4, vfmaq_f32(vld1q_f32(a + 8 * u + 4), hi, s));
    }
}

static void gemv_neon(const uint8_t *cols, size_t col_bytes, const uint32_t *idx, const float *val, uint32_t n, uint32_t b0,
                      uint32_t b1, float *y) {
    float acc[TILE * QK8_0];
    for (uint32_t bt = b0; bt < b1; bt += TILE) {
        const uint32_t nb = b1 - bt < TILE ? b1 - bt : TILE;
        memset(acc, 0, (size_t)nb * QK8_0 * sizeof(float));
        for (uint32_t k = 0; k < n; k++) {
            const block_q8_0 *c = (const block_q8_0 *)(cols + (size_t)idx[k] * col_bytes) + bt;
            if (k + 1 < n) __builtin_prefetch(cols + (size_t)idx[k + 1] * col_bytes + (size_t)bt * sizeof(block_q8_0));
            for (uint32_t j = 0; j < nb; j++) axpy32(acc + (size_t)j * QK8_0, vdupq_n_f32(val[k] * zeta_f16_to_f32(c[j].d)), c[j].qs);
        }
        memcpy(y + (size_t)bt * QK8_0, acc, (size_t)nb * QK8_0 * sizeof(float));
    }
}

zk_sparse_gemv_fn zk_sparse_gemv_neon(void) { return gemv_neon; }

/* ---------------------------------------------------------------- native Q8_0 / Q4_0 formats */

#define TROWS 4096 /* rows of a tile: their int32 sums (16 KiB) stay in L1 */

/* the kept columns of input block b and their inputs; padded to a multiple of 4 columns with
 * column 0 and an input of 0 */
typedef struct cols4 {
    uint32_t n; /* columns, a multiple of 4 */
    const uint8_t *c[32];
    int8_t x[32];
} cols4;

static void make_cols(const zs_mat *w, const zs_sel *s, uint32_t b, cols4 *p) {
    const uint32_t k0 = s->bstart[b], k1 = s->bstart[b + 1];
    const uint8_t *cols = w->cols + (size_t)b * w->blk_bytes + 2 * (size_t)w->n_out;
    const uint32_t n4 = (k1 - k0 + 3) & ~3u;
    for (uint32_t i = 0; i < n4; i++) {
        const uint32_t k = k0 + i;
        p->c[i] = k < k1 ? cols + (s->idx[k] - 32 * b) * w->col_bytes : cols;
        p->x[i] = k < k1 ? s->q8[k] : 0;
    }
    p->n = n4;
}

/* y[0 .. 4) += (d * dx) * (float)isum, d the f16 scales of those rows */
static inline void epilogue4(float *y, const uint8_t *scales, float32x4_t dx, int32x4_t isum) {
    const float32x4_t d = vmulq_f32(vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)scales))), dx);
    vst1q_f32(y, vfmaq_f32(vld1q_f32(y), d, vcvtq_f32_s32(isum)));
}

static inline void pf(const uint8_t *p) { __builtin_prefetch(p); }

/* Q8_0: a column's 16 bytes at chunk offset 16 q are rows zs_q8_pos(16 q + i); two columns' int8
 * products (|q8 * code| <= 127 * 128) add up in int16, four in int32. acc[] is in byte order. */
static void q8_neon(const zs_mat *w, const zs_sel *s, uint32_t b0, uint32_t nb, uint32_t c0, uint32_t c1, float *y) {
    _Alignas(16) int32_t acc[TROWS];
    cols4 p[2];
    memset(y + 64 * (size_t)c0, 0, (size_t)(c1 - c0) * 64 * sizeof(float));
    for (size_t t0 = 64 * (size_t)c0; t0 < 64 * (size_t)c1; t0 += TROWS) {
        const size_t t1 = 64 * (size_t)c1 - t0 < TROWS ? 64 * (size_t)c1 : t0 + TROWS;
        uint32_t b = zk_sparse_next_block(s, b0 - 1, nb);
        if (b < nb) make_cols(w, s, b, &p[0]);
        for (int cur = 0; b < nb; cur ^= 1) {
            const uint32_t bn = zk_sparse_next_block(s, b, nb);
            if (bn < nb) make_cols(w, s, bn, &p[cur ^ 1]);
            const cols4 *P = &p[cur];
            const uint8_t *scales = w->cols + (size_t)b * w->blk_bytes;
            for (uint32_t g = 0; g < P->n; g += 4) {
                const uint8_t *A = P->c[g], *B = P->c[g + 1], *C = P->c[g + 2], *D = P->c[g + 3];
                /* prefetched meanwhile: the next four columns, or the row scales and the next block's first four */
                const uint8_t *const *nx = g + 4 < P->n ? &P->c[g + 4] : bn < nb ? p[cur ^ 1].c : NULL;
                const bool last = g + 4 >= P->n;
                const int8x16_t x0 = vdupq_n_s8(P->x[g]), x1 = vdupq_n_s8(P->x[g + 1]);
                const int8x16_t x2 = vdupq_n_s8(P->x[g + 2]), x3 = vdupq_n_s8(P->x[g + 3]);
                for (size_t o = t0; o < t1; o += 64) {
                    if (nx) { pf(nx[0] + o); pf(nx[1] + o); pf(nx[2] + o); pf(nx[3] + o); }
                    if (last) { pf(scales + 2 * o); pf(scales + 2 * o + 64); }
                    for (int q = 0; q < 4; q++) {
                        const size_t r = o + 16 * (size_t)q;
                        const int8x16_t a = vld1q_s8((const int8_t *)(A + r)), bb = vld1q_s8((const int8_t *)(B + r));
                        const int8x16_t c = vld1q_s8((const int8_t *)(C + r)), d = vld1q_s8((const int8_t *)(D + r));
                        const int16x8_t tl = vmlal_s8(vmull_s8(vget_low_s8(a), vget_low_s8(x0)), vget_low_s8(bb), vget_low_s8(x1));
                        const int16x8_t th = vmlal_high_s8(vmull_high_s8(a, x0), bb, x1);
                        const int16x8_t ul = vmlal_s8(vmull_s8(vget_low_s8(c), vget_low_s8(x2)), vget_low_s8(d), vget_low_s8(x3));
                        const int16x8_t uh = vmlal_high_s8(vmull_high_s8(c, x2), d, x3);
                        int32x4_t v0 = vaddl_s16(vget_low_s16(tl), vget_low_s16(ul)), v1 = vaddl_high_s16(tl, ul);
                        int32x4_t v2 = vaddl_s16(vget_low_s16(th), vget_low_s16(uh)), v3 = vaddl_high_s16(th, uh);
                        int32_t *ac = acc + (r - t0);
                        if (g) {
                            v0 = vaddq_s32(v0, vld1q_s32(ac));
                            v1 = vaddq_s32(v1, vld1q_s32(ac + 4));
                            v2 = vaddq_s32(v2, vld1q_s32(ac + 8));
                            v3 = vaddq_s32(v3, vld1q_s32(ac + 12));
                        }
                        vst1q_s32(ac, v0);
                        vst1q_s32(ac + 4, v1);
                        vst1q_s32(ac + 8, v2);
                        vst1q_s32(ac + 12, v3);
                    }
                }
            }
            const float32x4_t dx = vdupq_n_f32(s->dx8[b]);
            for (size_t r = t0; r < t1; r += 16)
                for (uint32_t i = 0; i < 16; i += 4) { /* bytes i..i+3: rows zs_q8_pos(i)..+3 */
                    const size_t o = r + zs_q8_pos(i);
                    epilogue4(y + o, scales + 2 * o, dx, vld1q_s32(acc + (r - t0) + i));
                }
            b = bn;
        }
    }
}

/* Q4_0: a column's 32 bytes of a 64-row chunk hold rows zs_q4_pos(i) (low nibbles) and
 * zs_q4_pos(i) + 32 (high nibbles). acc16[] is in that order (lane i < 32: low nibble of byte i,
 * lane 32 + i: its high nibble): int16 row sums over up to 16 columns (|sum| <= 16 * 15 * 127 =
 * 30480); a block with more moves them into acc32[] once. */
static void q4_neon(const zs_mat *w, const zs_sel *s, uint32_t b0, uint32_t nb, uint32_t c0, uint32_t c1, float *y) {
    const uint8x16_t m4 = vdupq_n_u8(15);
    _Alignas(16) int16_t acc16[TROWS];
    _Alignas(16) int32_t acc32[TROWS];
    cols4 p[2];
    memset(y + 64 * (size_t)c0, 0, (size_t)(c1 - c0) * 64 * sizeof(float));
    for (size_t t0 = 64 * (size_t)c0; t0 < 64 * (size_t)c1; t0 += TROWS) {
        const size_t t1 = 64 * (size_t)c1 - t0 < TROWS ? 64 * (size_t)c1 : t0 + TROWS;
        uint32_t b = zk_sparse_next_block(s, b0 - 1, nb);
        if (b < nb) make_cols(w, s, b, &p[0]);
        for (int cur = 0; b < nb; cur ^= 1) {
            const uint32_t bn = zk_sparse_next_block(s, b, nb);
            if (bn < nb) make_cols(w, s, bn, &p[cur ^ 1]);
            const cols4 *P = &p[cur];
            const uint8_t *scales = w->cols + (size_t)b * w->blk_bytes;
            for (uint32_t g = 0; g < P->n; g += 4) {
                const uint8_t *const *cc = &P->c[g];
                const uint8_t *const *nx = g + 4 < P->n ? &P->c[g + 4] : bn < nb ? p[cur ^ 1].c : NULL;
                const bool last = g + 4 >= P->n;
                const int8x16_t x[4] = {vdupq_n_s8(P->x[g]), vdupq_n_s8(P->x[g + 1]), vdupq_n_s8(P->x[g + 2]), vdupq_n_s8(P->x[g + 3])};
                const bool first = g % 16 == 0;
                for (size_t o = t0; o < t1; o += 64) {
                    const size_t ob = o / 2; /* byte offset in a column */
                    if (nx && (o & 64)) { pf(nx[0] + ob); pf(nx[1] + ob); pf(nx[2] + ob); pf(nx[3] + ob); }
                    if (last) { pf(scales + 2 * o); pf(scales + 2 * o + 64); }
                    int16x8_t v[8]; /* lanes 8 j .. 8 j + 7 of the chunk */
                    for (int j = 0; j < 8; j++) v[j] = vdupq_n_s16(0);
                    for (int k = 0; k < 4; k++)
                        for (int h = 0; h < 2; h++) { /* bytes 16 h .. 16 h + 15 */
                            const uint8x16_t qv = vld1q_u8(cc[k] + ob + 16 * h);
                            const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(qv, m4)), hi = vreinterpretq_s8_u8(vshrq_n_u8(qv, 4));
                            v[2 * h] = vmlal_s8(v[2 * h], vget_low_s8(lo), vget_low_s8(x[k]));
                            v[2 * h + 1] = vmlal_high_s8(v[2 * h + 1], lo, x[k]);
                            v[4 + 2 * h] = vmlal_s8(v[4 + 2 * h], vget_low_s8(hi), vget_low_s8(x[k]));
                            v[5 + 2 * h] = vmlal_high_s8(v[5 + 2 * h], hi, x[k]);
                        }
                    int16_t *ac = acc16 + (o - t0);
                    for (int j = 0; j < 8; j++) {
                        int16x8_t t = v[j];
                        if (!first) t = vaddq_s16(t, vld1q_s16(ac + 8 * j));
                        vst1q_s16(ac + 8 * j, t);
                    }
                }
                if (g + 4 < P->n && g % 16 == 12) /* sixteen columns summed: into the int32 array */
                    for (size_t r = t0; r < t1; r += 8) {
                        const int16x8_t h = vld1q_s16(acc16 + (r - t0));
                        int32x4_t lo = vmovl_s16(vget_low_s16(h)), hi = vmovl_high_s16(h);
                        if (g >= 16) {
                            lo = vaddq_s32(lo, vld1q_s32(acc32 + (r - t0)));
                            hi = vaddq_s32(hi, vld1q_s32(acc32 + (r - t0) + 4));
                        }
                        vst1q_s32(acc32 + (r - t0), lo);
                        vst1q_s32(acc32 + (r - t0) + 4, hi);
                    }
            }
            const float32x4_t dx = vdupq_n_f32(s->dx8[b]);
            const int32x4_t off = vdupq_n_s32(8 * s->sum8[b]);
            const bool wide = P->n > 16;
            for (size_t r = t0; r < t1; r += 64)
                for (uint32_t i = 0; i < 64; i += 8) { /* lanes i..i+7: rows zs_q4_pos(i % 32) (+ 32 for i >= 32) .. +7 */
                    const size_t o = r + zs_q4_pos(i & 31u) + (i & 32u), l = (r - t0) + i;
                    const int16x8_t h = vld1q_s16(acc16 + l);
                    int32x4_t lo = vmovl_s16(vget_low_s16(h)), hi = vmovl_high_s16(h);
                    if (wide) {
                        lo = vaddq_s32(lo, vld1q_s32(acc32 + l));
                        hi = vaddq_s32(hi, vld1q_s32(acc32 + l + 4));
                    }
                    epilogue4(y + o, scales + 2 * o, dx, vsubq_s32(lo, off));
                    epilogue4(y + o + 4, scales + 2 * o + 8, dx, vsubq_s32(hi, off));
                }
            b = bn;
        }
    }
}

zk_sparse_native_fn zk_sparse_q8_neon(void) { return q8_neon; }
zk_sparse_native_fn zk_sparse_q4_neon(void) { return q4_neon; }
