/* kernels_neon_math.c — the AArch64 NEON (armv8-a) set of mathk.h: y += a x, F16 / Q8_0 / Q4_0
 * rows to f32 (exact, as the scalar dequantizers), and the fused decode-attention kernels:
 *   kv_score  4 K rows at a time (one per f32 lane) per query head. Q8_0 / Q4_0: per 32-block the
 *             products are summed exactly in int32 (widening int8 x int8 -> int16 multiplies, which
 *             hold every product, then pairwise widening adds), the 4 rows' sums gathered into one
 *             vector by pairwise adds, converted (exact: |sum| <= 32 * 2^14), multiplied by
 *             d_k * d_q and added to the running sum block by block in order, with a separate
 *             multiply and add like the scalar vec_dot: bit-identical scores. F32 / F16: f32 FMAs,
 *             another sum order.
 *   kv_accum  the V tile decoded once into f32 (exactly), then per 4 query heads x 16 columns the
 *             accumulators stay in registers over the tile's rows: acc = fma(s, v, acc) per row in
 *             order, the same rounding as axpy below (so the fused path and the per-row path it
 *             replaces agree bit for bit).
 * The softmax stays scalar here (no vector exp yet). The bit-identical scores rely on no
 * floating-point contraction: the build is ISO C (-std=c11), where GCC's default is
 * -ffp-contract=off, so vmulq_f32 followed by vaddq_f32 stays two rounded operations.
 * Compiled with -march=armv8-a; selected by mathk_ref.c on every aarch64 CPU (Advanced SIMD and the
 * f16 conversion FCVTL are baseline). */
#include "cpu/mathk.h"
#include "quant.h"

#include <arm_neon.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

static void axpy_neon(int64_t n, float a, const float *x, float *y) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
        vst1q_f32(y + i + 4, vfmaq_n_f32(vld1q_f32(y + i + 4), vld1q_f32(x + i + 4), a));
        vst1q_f32(y + i + 8, vfmaq_n_f32(vld1q_f32(y + i + 8), vld1q_f32(x + i + 8), a));
        vst1q_f32(y + i + 12, vfmaq_n_f32(vld1q_f32(y + i + 12), vld1q_f32(x + i + 12), a));
    }
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
    for (; i < n; i++) y[i] += a * x[i];
}

/* 4 f16 -> 4 f32, exact (FCVTL) */
static inline float32x4_t load_f16x4(const zeta_f16 *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

/* f16 scale -> f32 exactly, in all lanes */
static inline float32x4_t scale4(zeta_f16 d) { return vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(d))); }

static void f16_to_f32_neon(const void *x, float *y, int64_t n) {
    const zeta_f16 *h = x;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, load_f16x4(h + i));
    for (; i < n; i++) y[i] = zeta_f16_to_f32(h[i]);
}

/* 16 int8 codes times d -> y[0..16): (float)code * d, one rounding, as the scalar dequantizers */
static inline void store_codes16(float *y, int8x16_t c, float32x4_t d) {
    const int16x8_t lo = vmovl_s8(vget_low_s8(c)), hi = vmovl_high_s8(c);
    vst1q_f32(y + 0, vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), d));
    vst1q_f32(y + 4, vmulq_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), d));
    vst1q_f32(y + 8, vmulq_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), d));
    vst1q_f32(y + 12, vmulq_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), d));
}

static void q8_0_to_f32_neon(const void *x, float *y, int64_t n) {
    const block_q8_0 *b = x;
    for (int64_t i = 0; i < n / QK8_0; i++, y += QK8_0) {
        const float32x4_t d = scale4(b[i].d);
        store_codes16(y, vld1q_s8(b[i].qs), d);
        store_codes16(y + 16, vld1q_s8(b[i].qs + 16), d);
    }
}

/* Q4_0 codes: low nibbles are elements 0..15, high ones 16..31, each minus 8 as int8 in [-8, 7] */
static inline int8x16_t q4_lo(uint8x16_t raw) { return vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0f))), vdupq_n_s8(8)); }
static inline int8x16_t q4_hi(uint8x16_t raw) { return vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), vdupq_n_s8(8)); }

static void q4_0_to_f32_neon(const void *x, float *y, int64_t n) {
    const block_q4_0 *b = x;
    for (int64_t i = 0; i < n / QK4_0; i++, y += QK4_0) {
        const float32x4_t d = scale4(b[i].d);
        const uint8x16_t raw = vld1q_u8(b[i].qs);
        store_codes16(y, q4_lo(raw), d);
        store_codes16(y + 16, q4_hi(raw), d);
    }
}

/* ---- fused decode attention: scores ------------------------------------------------------------ */

/* lane r = the sum of the 4 lanes of p[r] (pairwise adds: exact for int32) */
static inline int32x4_t hsum4x4_s32(const int32x4_t p[4]) {
    return vpaddq_s32(vpaddq_s32(p[0], p[1]), vpaddq_s32(p[2], p[3]));
}
static inline float32x4_t hsum4x4_f32(const float32x4_t p[4]) {
    return vpaddq_f32(vpaddq_f32(p[0], p[1]), vpaddq_f32(p[2], p[3]));
}

/* Exact int8 x int8 dot of 16 pairs added into 4 int32 lanes: widening multiplies to int16 (every
 * product, even -128 * -128, fits), then pairwise widening adds into int32. */
static inline int32x4_t dot_i8x16(int32x4_t acc, int8x16_t a, int8x16_t b) {
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
    return vpadalq_s16(acc, vmull_high_s8(a, b));
}

/* the first m (< 4) lanes of x to s[0..m) (the tile's last rows; nothing written past them) */
static inline void store_first(float *s, float32x4_t x, int m) {
    float t[4];
    vst1q_f32(t, x);
    memcpy(s, t, sizeof(float) * (size_t)m);
}
static inline float32x4_t load_first(const float *s, int m) {
    float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(t, s, sizeof(float) * (size_t)m);
    return vld1q_f32(t);
}

/* Block ib of 4 K rows (codes c[r][0..1], 16 each; scales dk) against block ib of every query:
 * s_g[r] = (first ? 0 : s_g[r]) + (float)sumi * (d_k * d_q), a rounded product then a rounded add. */
static inline void score_block4(const int8x16_t c[4][2], float32x4_t dk, int group, const uint8_t *q, size_t qs, int ib, float *s,
                                size_t ss, int m, bool first) {
    for (int g = 0; g < group; g++) {
        const block_q8_0 *qb = (const block_q8_0 *)(q + (size_t)g * qs) + ib;
        const int8x16_t q0 = vld1q_s8(qb->qs), q1 = vld1q_s8(qb->qs + 16);
        int32x4_t p[4];
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) p[r] = dot_i8x16(dot_i8x16(vdupq_n_s32(0), c[r][0], q0), c[r][1], q1);
        const float32x4_t x = vmulq_f32(vcvtq_f32_s32(hsum4x4_s32(p)), vmulq_f32(dk, scale4(qb->d)));
        float *sg = s + (size_t)g * ss;
        if (m == 4) {
            vst1q_f32(sg, vaddq_f32(first ? vdupq_n_f32(0.0f) : vld1q_f32(sg), x));
        } else {
            store_first(sg, vaddq_f32(first ? vdupq_n_f32(0.0f) : load_first(sg, m), x), m);
        }
    }
}

static inline __attribute__((always_inline)) void score_q(bool q4, int d, int n, const void *k, size_t ks, int group,
                                                          const void *q, size_t qs, float *s, size_t ss) {
    const int nb = d / 32;
    for (int i0 = 0; i0 < n; i0 += 4) {
        const int m = n - i0 < 4 ? n - i0 : 4;
        const uint8_t *rows[4]; /* a short last tile repeats its last row in the spare lanes */
        for (int r = 0; r < 4; r++) rows[r] = (const uint8_t *)k + (size_t)(i0 + (r < m ? r : m - 1)) * ks;
        for (int ib = 0; ib < nb; ib++) {
            int8x16_t c[4][2];
            uint16_t dh[4];
            for (int r = 0; r < 4; r++) {
                if (q4) {
                    const block_q4_0 *b = (const block_q4_0 *)rows[r] + ib;
                    const uint8x16_t raw = vld1q_u8(b->qs);
                    c[r][0] = q4_lo(raw);
                    c[r][1] = q4_hi(raw);
                    dh[r] = b->d;
                } else {
                    const block_q8_0 *b = (const block_q8_0 *)rows[r] + ib;
                    c[r][0] = vld1q_s8(b->qs);
                    c[r][1] = vld1q_s8(b->qs + 16);
                    dh[r] = b->d;
                }
            }
            const float32x4_t dk = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(dh)));
            score_block4((const int8x16_t(*)[2])c, dk, group, q, qs, ib, s + i0, ss, m, ib == 0);
        }
    }
}

static void kv_score_q8_0_neon(int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s, size_t ss) {
    score_q(false, d, n, k, ks, group, q, qs, s, ss);
}
static void kv_score_q4_0_neon(int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s, size_t ss) {
    score_q(true, d, n, k, ks, group, q, qs, s, ss);
}

static inline float32x4_t load4(bool f16, const uint8_t *row, int j) {
    if (f16) return load_f16x4((const zeta_f16 *)row + j);
    return vld1q_f32((const float *)row + j);
}

/* Per query head, 4 rows x 8 columns per step in 8 accumulators (two per row, for FMA latency). */
static inline __attribute__((always_inline)) void score_f(bool f16, int d, int n, const void *k, size_t ks, int group,
                                                          const void *q, size_t qs, float *s, size_t ss) {
    const int d8 = d & ~7, d4 = d & ~3;
    for (int i0 = 0; i0 < n; i0 += 4) {
        const int m = n - i0 < 4 ? n - i0 : 4;
        const uint8_t *rows[4];
        for (int r = 0; r < 4; r++) rows[r] = (const uint8_t *)k + (size_t)(i0 + (r < m ? r : m - 1)) * ks;
        for (int g = 0; g < group; g++) {
            const float *qg = (const float *)((const uint8_t *)q + (size_t)g * qs);
            float32x4_t p[4], p2[4];
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++) p[r] = p2[r] = vdupq_n_f32(0.0f);
            int j = 0;
            for (; j < d8; j += 8) {
                const float32x4_t q0 = vld1q_f32(qg + j), q1 = vld1q_f32(qg + j + 4);
#pragma GCC unroll 4
                for (int r = 0; r < 4; r++) {
                    p[r] = vfmaq_f32(p[r], load4(f16, rows[r], j), q0);
                    p2[r] = vfmaq_f32(p2[r], load4(f16, rows[r], j + 4), q1);
                }
            }
            for (; j < d4; j += 4) {
                const float32x4_t q0 = vld1q_f32(qg + j);
#pragma GCC unroll 4
                for (int r = 0; r < 4; r++) p[r] = vfmaq_f32(p[r], load4(f16, rows[r], j), q0);
            }
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++) p[r] = vaddq_f32(p[r], p2[r]);
            float32x4_t x = hsum4x4_f32(p);
            if (d4 < d) { /* the last d % 4 elements */
                float t[4];
                for (int r = 0; r < 4; r++) {
                    float sum = 0.0f;
                    for (int jj = d4; jj < d; jj++)
                        sum += (f16 ? zeta_f16_to_f32(((const zeta_f16 *)rows[r])[jj]) : ((const float *)rows[r])[jj]) * qg[jj];
                    t[r] = sum;
                }
                x = vaddq_f32(x, vld1q_f32(t));
            }
            float *sg = s + (size_t)g * ss + i0;
            if (m == 4)
                vst1q_f32(sg, x);
            else
                store_first(sg, x, m);
        }
    }
}

static void kv_score_f32_neon(int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s, size_t ss) {
    score_f(false, d, n, k, ks, group, q, qs, s, ss);
}
static void kv_score_f16_neon(int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s, size_t ss) {
    score_f(true, d, n, k, ks, group, q, qs, s, ss);
}

/* ---- fused decode attention: V ------------------------------------------------------------------ */

/* acc_g[0..w) += sum_i s_g[i] * row_i[0..w) for G query heads (g0..g0+G-1), rows of w floats
 * rs floats apart; per element the rows are added in order i = 0..n-1. Columns below w & ~3 get
 * an FMA per row, the rest a rounded product added: as axpy_neon, whose chunks start at the same
 * multiples of 4 (panels start at multiples of 256). */
static inline __attribute__((always_inline)) void accum_heads(const int G, int w, int n, const float *rows, size_t rs,
                                                              const float *s, size_t ss, float *acc, size_t as) {
    int j = 0;
    for (; j + 16 <= w; j += 16) {
        float32x4_t a[4][4];
#pragma GCC unroll 4
        for (int g = 0; g < G; g++)
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) a[g][c] = vld1q_f32(acc + (size_t)g * as + j + 4 * c);
        for (int i = 0; i < n; i++) {
            const float *ri = rows + (size_t)i * rs + j;
            const float32x4_t v0 = vld1q_f32(ri), v1 = vld1q_f32(ri + 4), v2 = vld1q_f32(ri + 8), v3 = vld1q_f32(ri + 12);
#pragma GCC unroll 4
            for (int g = 0; g < G; g++) {
                const float wg = s[(size_t)g * ss + i];
                a[g][0] = vfmaq_n_f32(a[g][0], v0, wg);
                a[g][1] = vfmaq_n_f32(a[g][1], v1, wg);
                a[g][2] = vfmaq_n_f32(a[g][2], v2, wg);
                a[g][3] = vfmaq_n_f32(a[g][3], v3, wg);
            }
        }
#pragma GCC unroll 4
        for (int g = 0; g < G; g++)
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) vst1q_f32(acc + (size_t)g * as + j + 4 * c, a[g][c]);
    }
    for (; j + 4 <= w; j += 4) {
        float32x4_t a[4];
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) a[g] = vld1q_f32(acc + (size_t)g * as + j);
        for (int i = 0; i < n; i++) {
            const float32x4_t v0 = vld1q_f32(rows + (size_t)i * rs + j);
#pragma GCC unroll 4
            for (int g = 0; g < G; g++) a[g] = vfmaq_n_f32(a[g], v0, s[(size_t)g * ss + i]);
        }
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) vst1q_f32(acc + (size_t)g * as + j, a[g]);
    }
    for (; j < w; j++) /* as axpy's tail: a rounded product added */
        for (int g = 0; g < G; g++) {
            float y = acc[(size_t)g * as + j];
            for (int i = 0; i < n; i++) y += s[(size_t)g * ss + i] * rows[(size_t)i * rs + j];
            acc[(size_t)g * as + j] = y;
        }
}

static void accum_panel(int w, int n, const float *rows, size_t rs, int group, const float *s, size_t ss, float *acc, size_t as) {
    int g = 0;
    for (; g + 4 <= group; g += 4) accum_heads(4, w, n, rows, rs, s + (size_t)g * ss, ss, acc + (size_t)g * as, as);
    switch (group - g) {
    case 3: accum_heads(3, w, n, rows, rs, s + (size_t)g * ss, ss, acc + (size_t)g * as, as); break;
    case 2: accum_heads(2, w, n, rows, rs, s + (size_t)g * ss, ss, acc + (size_t)g * as, as); break;
    case 1: accum_heads(1, w, n, rows, rs, s + (size_t)g * ss, ss, acc + (size_t)g * as, as); break;
    default: break;
    }
}

enum { KV_PANEL = 256, KV_BUF = 4096 }; /* columns per panel; floats of decoded V (16 KiB) */

/* Block types and F16: panels of up to 256 columns, rows decoded into a 16 KiB buffer (at least 16
 * rows at a time), then added from there. F32 rows are read in place. */
static void kv_accum_neon(zeta_type t, int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    if (t == ZETA_TYPE_F32) {
        accum_panel(d, n, v, vs / sizeof(float), group, s, ss, acc, (size_t)d);
        return;
    }
    _Alignas(16) float buf[KV_BUF];
    for (int j0 = 0; j0 < d; j0 += KV_PANEL) {
        const int w = d - j0 < KV_PANEL ? d - j0 : KV_PANEL, R = KV_BUF / w;
        for (int i0 = 0; i0 < n; i0 += R) {
            const int nr = n - i0 < R ? n - i0 : R;
            for (int r = 0; r < nr; r++) {
                const uint8_t *vr = (const uint8_t *)v + (size_t)(i0 + r) * vs;
                float *y = buf + (size_t)r * w;
                switch (t) {
                case ZETA_TYPE_F16: f16_to_f32_neon((const zeta_f16 *)vr + j0, y, w); break;
                case ZETA_TYPE_Q8_0: q8_0_to_f32_neon((const block_q8_0 *)vr + j0 / QK8_0, y, w); break;
                default: q4_0_to_f32_neon((const block_q4_0 *)vr + j0 / QK4_0, y, w); break;
                }
            }
            accum_panel(w, nr, buf, (size_t)w, group, s + i0, ss, acc + j0, (size_t)d);
        }
    }
}

static void kv_accum_f32_neon(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    kv_accum_neon(ZETA_TYPE_F32, d, n, v, vs, group, s, ss, acc);
}
static void kv_accum_f16_neon(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    kv_accum_neon(ZETA_TYPE_F16, d, n, v, vs, group, s, ss, acc);
}
static void kv_accum_q8_0_neon(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    kv_accum_neon(ZETA_TYPE_Q8_0, d, n, v, vs, group, s, ss, acc);
}
static void kv_accum_q4_0_neon(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    kv_accum_neon(ZETA_TYPE_Q4_0, d, n, v, vs, group, s, ss, acc);
}

/* the entropy's terms (mathk.h), eight lanes in two vectors: the scalar version's operations */
static void entropy8_neon(const float *l8, int32_t n8, float max_l, float *ls, float *lsd) {
    const float32x4_t mx = vdupq_n_f32(max_l), lo = vdupq_n_f32(-87.0f), inf = vdupq_n_f32(INFINITY);
    const float32x4_t big = vdupq_n_f32(FLT_MAX), rnd = vdupq_n_f32(ZK_ENT_ROUND);
    float32x4_t s[2] = {vld1q_f32(ls), vld1q_f32(ls + 4)}, sd[2] = {vld1q_f32(lsd), vld1q_f32(lsd + 4)};
    for (int32_t g = 0; g < n8; g++)
        for (int h = 0; h < 2; h++) {
            float32x4_t l = vld1q_f32(l8 + 8 * (size_t)g + 4 * h);
            l = vbslq_f32(vceqq_f32(l, inf), big, l);
            const float32x4_t d0 = vsubq_f32(l, mx);
            const uint32x4_t keep = vcgtq_f32(d0, lo); /* false for NaN too */
            const float32x4_t d = vbslq_f32(keep, d0, lo);
            const float32x4_t t = vmulq_f32(d, vdupq_n_f32(1.44269504f));
            const float32x4_t k = vsubq_f32(vaddq_f32(t, rnd), rnd);
            const float32x4_t f = vsubq_f32(t, k);
            float32x4_t p = vdupq_n_f32(ZK_ENT_C6);
            p = vaddq_f32(vmulq_f32(p, f), vdupq_n_f32(ZK_ENT_C5));
            p = vaddq_f32(vmulq_f32(p, f), vdupq_n_f32(ZK_ENT_C4));
            p = vaddq_f32(vmulq_f32(p, f), vdupq_n_f32(ZK_ENT_C3));
            p = vaddq_f32(vmulq_f32(p, f), vdupq_n_f32(ZK_ENT_C2));
            p = vaddq_f32(vmulq_f32(p, f), vdupq_n_f32(ZK_ENT_C1));
            p = vaddq_f32(vmulq_f32(p, f), vdupq_n_f32(1.0f));
            const float32x4_t sc = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(k), vdupq_n_s32(127)), 23));
            const float32x4_t e = vreinterpretq_f32_u32(vandq_u32(keep, vreinterpretq_u32_f32(vmulq_f32(p, sc))));
            s[h] = vaddq_f32(s[h], e);
            sd[h] = vaddq_f32(sd[h], vmulq_f32(e, d));
        }
    vst1q_f32(ls, s[0]);
    vst1q_f32(ls + 4, s[1]);
    vst1q_f32(lsd, sd[0]);
    vst1q_f32(lsd + 4, sd[1]);
}

static const zk_math k_neon = {
    .name = "neon",
    .entropy8 = entropy8_neon,
    .axpy = axpy_neon,
    .f16_to_f32 = f16_to_f32_neon,
    .q8_0_to_f32 = q8_0_to_f32_neon,
    .q4_0_to_f32 = q4_0_to_f32_neon,
    .kv_score = {[ZETA_TYPE_F32] = kv_score_f32_neon, [ZETA_TYPE_F16] = kv_score_f16_neon,
                 [ZETA_TYPE_Q8_0] = kv_score_q8_0_neon, [ZETA_TYPE_Q4_0] = kv_score_q4_0_neon},
    .kv_accum = {[ZETA_TYPE_F32] = kv_accum_f32_neon, [ZETA_TYPE_F16] = kv_accum_f16_neon,
                 [ZETA_TYPE_Q8_0] = kv_accum_q8_0_neon, [ZETA_TYPE_Q4_0] = kv_accum_q4_0_neon},
};

const zk_math *zk_math_neon(void) { return &k_neon; }
