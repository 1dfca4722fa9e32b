/* gemm_ref.c — the packed 8-row weight layouts: packing, and the scalar reference products over
 * them (the spec for kernels_*_gemm.c); plus selection of the best table for the CPU. */
#include "cpu/gemm.h"
#include "cpu/gemm_k.h"
#include "cpu/kernels.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

/* the 16 nibble bytes of 8 rows' blocks (qs[r]: element m < 16 in the low nibble of byte m, m >= 16
 * in the high nibble of byte m - 16) in block_q4_0x8's qs order: byte j * 32 + r * 4 + e holds
 * element 8j + e of row r (low nibble) and 8j + 4 + e (high) */
static void pack_nibbles(const uint8_t *const qs[8], uint8_t out[128]) {
    for (int r = 0; r < 8; r++) {
        uint8_t c[32];
        for (int m = 0; m < 16; m++) {
            c[m] = qs[r][m] & 0x0F;
            c[m + 16] = qs[r][m] >> 4;
        }
        for (int j = 0; j < 4; j++)
            for (int e = 0; e < 4; e++) out[j * 32 + r * 4 + e] = (uint8_t)(c[8 * j + e] | (c[8 * j + 4 + e] << 4));
    }
}

void zk_pack_q4_0x8(const block_q4_0 *const rows[8], int64_t nb, block_q4_0x8 *out) {
    for (int64_t b = 0; b < nb; b++) {
        block_q4_0x8 *o = &out[b];
        const uint8_t *qs[8];
        for (int r = 0; r < 8; r++) {
            o->d[r] = rows[r][b].d;
            qs[r] = rows[r][b].qs;
        }
        pack_nibbles(qs, o->qs);
    }
}

void zk_pack_q8_0x8(const block_q8_0 *const rows[8], int64_t nb, block_q8_0x8 *out) {
    for (int64_t b = 0; b < nb; b++) {
        block_q8_0x8 *o = &out[b];
        for (int r = 0; r < 8; r++) o->d[r] = rows[r][b].d;
        for (int g = 0; g < 8; g++)
            for (int r = 0; r < 8; r++)
                for (int e = 0; e < 4; e++) o->qs[g * 32 + r * 4 + e] = rows[r][b].qs[g * 4 + e];
    }
}

void zk_pack_f16x8(const uint16_t *const rows[8], int64_t k, block_f16x8 *out) {
    for (int64_t b = 0; b < k / 16; b++)
        for (int r = 0; r < 8; r++) memcpy(out[b].v[r], rows[r] + 16 * b, sizeof out[b].v[r]);
}

void zk_pack_q5_0x8(const block_q5_0 *const rows[8], int64_t nb, block_q5_0x8 *out) {
    for (int64_t b = 0; b < nb; b++) {
        block_q5_0x8 *o = &out[b];
        for (int r = 0; r < 8; r++) {
            o->d[r] = rows[r][b].d;
            memcpy(o->qh + 4 * r, rows[r][b].qh, 4);
        }
        const uint8_t *qs[8];
        for (int r = 0; r < 8; r++) qs[r] = rows[r][b].qs;
        pack_nibbles(qs, o->qs);
    }
}

void zk_pack_q4_1x8(const block_q4_1 *const rows[8], int64_t nb, block_q4_1x8 *out) {
    for (int64_t b = 0; b < nb; b++) {
        block_q4_1x8 *o = &out[b];
        const uint8_t *qs[8];
        for (int r = 0; r < 8; r++) {
            o->d[r] = rows[r][b].d;
            o->m[r] = rows[r][b].m;
            qs[r] = rows[r][b].qs;
        }
        pack_nibbles(qs, o->qs);
    }
}

void zk_pack_q5_1x8(const block_q5_1 *const rows[8], int64_t nb, block_q5_1x8 *out) {
    for (int64_t b = 0; b < nb; b++) {
        block_q5_1x8 *o = &out[b];
        const uint8_t *qs[8];
        for (int r = 0; r < 8; r++) {
            o->d[r] = rows[r][b].d;
            o->m[r] = rows[r][b].m;
            memcpy(o->qh + 4 * r, rows[r][b].qh, 4);
            qs[r] = rows[r][b].qs;
        }
        pack_nibbles(qs, o->qs);
    }
}

size_t zk_packed_group_bytes(zeta_type type, int64_t k) {
    switch (type) {
    case ZETA_TYPE_F16: case ZETA_TYPE_BF16: return k % 16 ? 0 : (size_t)(k / 16) * sizeof(block_f16x8);
    case ZETA_TYPE_Q4_0: case ZETA_TYPE_IQ4_NL: return (size_t)(k / 32) * sizeof(block_q4_0x8);
    case ZETA_TYPE_Q8_0: return (size_t)(k / 32) * sizeof(block_q8_0x8);
    case ZETA_TYPE_Q5_0: return (size_t)(k / 32) * sizeof(block_q5_0x8);
    case ZETA_TYPE_Q4_1: return (size_t)(k / 32) * sizeof(block_q4_1x8);
    case ZETA_TYPE_Q5_1: return (size_t)(k / 32) * sizeof(block_q5_1x8);
    case ZETA_TYPE_Q2_K: case ZETA_TYPE_Q3_K: case ZETA_TYPE_Q4_K: case ZETA_TYPE_Q5_K: case ZETA_TYPE_Q6_K: case ZETA_TYPE_IQ4_XS:
        return zk_packed_group_bytes_k(type, k);
    default: return 0;
    }
}

/* Reference: per block, the exact integer dot, scaled by d_w * d_x, accumulated in block order. Q4_0
 * and Q5_0 (q5: each code's 16 from the row's qh; the stored codes are value + 8 / + 16) share the qs
 * layout. */
static void gemm8_q45_0_ref(bool q5, int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                            float *y, size_t y_stride) {
    const int64_t nb = k / 32;
    for (int c = 0; c < n_tok; c++) {
        const block_q8_0 *X = (const block_q8_0 *)((const uint8_t *)x + (size_t)c * x_stride);
        float acc[8] = {0};
        for (int64_t b = 0; b < nb; b++) {
            const block_q4_0x8 *W4 = (const block_q4_0x8 *)w + b;
            const block_q5_0x8 *W5 = (const block_q5_0x8 *)w + b;
            const uint8_t *qs = q5 ? W5->qs : W4->qs;
            const zeta_f16 *d = q5 ? W5->d : W4->d;
            for (int r = 0; r < 8; r++) {
                uint32_t qh = 0;
                if (q5) qh = (uint32_t)W5->qh[4 * r] | (uint32_t)W5->qh[4 * r + 1] << 8 | (uint32_t)W5->qh[4 * r + 2] << 16 | (uint32_t)W5->qh[4 * r + 3] << 24;
                int32_t s = 0;
                for (int j = 0; j < 4; j++)
                    for (int e = 0; e < 4; e++) {
                        const uint8_t v = qs[j * 32 + r * 4 + e];
                        const int m0 = 8 * j + e, m1 = 8 * j + 4 + e; /* the elements of the low / high nibble */
                        s += (int32_t)((v & 0x0F) | ((qh >> m0) & 1) << 4) * X[b].qs[m0];
                        s += (int32_t)((v >> 4) | ((qh >> m1) & 1) << 4) * X[b].qs[m1];
                    }
                s -= (q5 ? 16 : 8) * xsum[(size_t)c * (size_t)nb + (size_t)b];
                acc[r] += (float)s * (zeta_f16_to_f32(d[r]) * zeta_f16_to_f32(X[b].d));
            }
        }
        for (int r = 0; r < 8; r++) y[(size_t)c * y_stride + (size_t)r] = acc[r];
    }
}

/* IQ4_NL in block_q4_0x8's bytes: ggml's kvalues_iq4nl of each nibble; the vec_dot spec's steps */
static void gemm8_iq4_nl_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                             float *y, size_t y_stride) {
    (void)xsum;
    const int64_t nb = k / 32;
    for (int c = 0; c < n_tok; c++) {
        const block_q8_0 *X = (const block_q8_0 *)((const uint8_t *)x + (size_t)c * x_stride);
        float acc[8] = {0};
        for (int64_t b = 0; b < nb; b++) {
            const block_q4_0x8 *W = (const block_q4_0x8 *)w + b;
            for (int r = 0; r < 8; r++) {
                int32_t s = 0;
                for (int j = 0; j < 4; j++)
                    for (int e = 0; e < 4; e++) {
                        const uint8_t v = W->qs[j * 32 + r * 4 + e];
                        s += zk_iq4_values[v & 0x0F] * X[b].qs[8 * j + e] + zk_iq4_values[v >> 4] * X[b].qs[8 * j + 4 + e];
                    }
                acc[r] += (float)s * (zeta_f16_to_f32(W->d[r]) * zeta_f16_to_f32(X[b].d));
            }
        }
        for (int r = 0; r < 8; r++) y[(size_t)c * y_stride + (size_t)r] = acc[r];
    }
}

/* Q4_1 / Q5_1 against Q8_1 activations: per block the exact integer sum of code times activation
 * code, then acc += (d_w * d_x) * sumi + m_w * s_x in f32 (zk_vec_dot_q4_1_scalar's steps) */
static void gemm8_q45_1_ref(bool q5, int64_t k, const void *w, const void *x, size_t x_stride, int n_tok, float *y,
                            size_t y_stride) {
    const int64_t nb = k / 32;
    for (int c = 0; c < n_tok; c++) {
        const block_q8_1 *X = (const block_q8_1 *)((const uint8_t *)x + (size_t)c * x_stride);
        float acc[8] = {0};
        for (int64_t b = 0; b < nb; b++) {
            const zeta_f16 *d, *m;
            const uint8_t *qs, *qh = NULL;
            if (q5) {
                const block_q5_1x8 *W = (const block_q5_1x8 *)w + b;
                d = W->d; m = W->m; qs = W->qs; qh = W->qh;
            } else {
                const block_q4_1x8 *W = (const block_q4_1x8 *)w + b;
                d = W->d; m = W->m; qs = W->qs;
            }
            for (int r = 0; r < 8; r++) {
                int32_t s = 0;
                for (int j = 0; j < 4; j++)
                    for (int e = 0; e < 4; e++) {
                        const uint8_t v = qs[j * 32 + r * 4 + e];
                        const int m0 = 8 * j + e, m1 = 8 * j + 4 + e; /* the elements of the low and high nibble */
                        int32_t c0 = v & 0x0F, c1 = v >> 4;
                        if (q5) {
                            const uint32_t h = (uint32_t)qh[4 * r] | ((uint32_t)qh[4 * r + 1] << 8) | ((uint32_t)qh[4 * r + 2] << 16) |
                                               ((uint32_t)qh[4 * r + 3] << 24);
                            c0 |= (int32_t)((h >> m0) & 1u) << 4;
                            c1 |= (int32_t)((h >> m1) & 1u) << 4;
                        }
                        s += c0 * X[b].qs[m0] + c1 * X[b].qs[m1];
                    }
                acc[r] += (zeta_f16_to_f32(d[r]) * zeta_f16_to_f32(X[b].d)) * (float)s + zeta_f16_to_f32(m[r]) * zeta_f16_to_f32(X[b].s);
            }
        }
        for (int r = 0; r < 8; r++) y[(size_t)c * y_stride + (size_t)r] = acc[r];
    }
}

static void gemm8_q4_1_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                           float *y, size_t y_stride) {
    (void)xsum;
    gemm8_q45_1_ref(false, k, w, x, x_stride, n_tok, y, y_stride);
}

static void gemm8_q5_1_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                           float *y, size_t y_stride) {
    (void)xsum;
    gemm8_q45_1_ref(true, k, w, x, x_stride, n_tok, y, y_stride);
}

static void gemm8_q4_0_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                           float *y, size_t y_stride) {
    gemm8_q45_0_ref(false, k, w, x, x_stride, xsum, n_tok, y, y_stride);
}

static void gemm8_q5_0_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                           float *y, size_t y_stride) {
    gemm8_q45_0_ref(true, k, w, x, x_stride, xsum, n_tok, y, y_stride);
}

static void gemm8_q8_0_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                           float *y, size_t y_stride) {
    (void)xsum;
    const block_q8_0x8 *W = w;
    const int64_t nb = k / 32;
    for (int c = 0; c < n_tok; c++) {
        const block_q8_0 *X = (const block_q8_0 *)((const uint8_t *)x + (size_t)c * x_stride);
        float acc[8] = {0};
        for (int64_t b = 0; b < nb; b++)
            for (int r = 0; r < 8; r++) {
                int32_t s = 0;
                for (int g = 0; g < 8; g++)
                    for (int e = 0; e < 4; e++) s += (int32_t)W[b].qs[g * 32 + r * 4 + e] * X[b].qs[g * 4 + e];
                acc[r] += (float)s * (zeta_f16_to_f32(W[b].d[r]) * zeta_f16_to_f32(X[b].d));
            }
        for (int r = 0; r < 8; r++) y[(size_t)c * y_stride + (size_t)r] = acc[r];
    }
}

/* Reference: per (row, token) the f32 sum of converted weight x activation in element order (the
 * scalar vec_dot's order) */
static void gemm8_2byte_ref(bool bf16, int64_t k, const void *w, const void *x, size_t x_stride, int n_tok, float *y,
                            size_t y_stride) {
    const block_f16x8 *W = w;
    for (int c = 0; c < n_tok; c++) {
        const float *X = (const float *)((const uint8_t *)x + (size_t)c * x_stride);
        for (int r = 0; r < 8; r++) {
            float acc = 0.0f;
            for (int64_t b = 0; b < k / 16; b++)
                for (int e = 0; e < 16; e++) {
                    const uint16_t h = W[b].v[r][e];
                    acc += (bf16 ? zeta_bf16_to_f32(h) : zeta_f16_to_f32(h)) * X[16 * b + e];
                }
            y[(size_t)c * y_stride + (size_t)r] = acc;
        }
    }
}

static void gemm8_f16_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                          float *y, size_t y_stride) {
    (void)xsum;
    gemm8_2byte_ref(false, k, w, x, x_stride, n_tok, y, y_stride);
}

static void gemm8_bf16_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                           float *y, size_t y_stride) {
    (void)xsum;
    gemm8_2byte_ref(true, k, w, x, x_stride, n_tok, y, y_stride);
}

static const zk_gemm_table k_gemm_scalar = {
    .name = "scalar",
    .gemm8 = {[ZETA_TYPE_Q4_0] = gemm8_q4_0_ref, [ZETA_TYPE_Q8_0] = gemm8_q8_0_ref, [ZETA_TYPE_Q5_0] = gemm8_q5_0_ref,
              [ZETA_TYPE_IQ4_NL] = gemm8_iq4_nl_ref, [ZETA_TYPE_Q4_1] = gemm8_q4_1_ref, [ZETA_TYPE_Q5_1] = gemm8_q5_1_ref,
              [ZETA_TYPE_Q2_K] = zk_gemm8_q2_K_ref, [ZETA_TYPE_Q3_K] = zk_gemm8_q3_K_ref, [ZETA_TYPE_Q4_K] = zk_gemm8_q4_K_ref, [ZETA_TYPE_Q5_K] = zk_gemm8_q5_K_ref,
              [ZETA_TYPE_Q6_K] = zk_gemm8_q6_K_ref, [ZETA_TYPE_IQ4_XS] = zk_gemm8_iq4_xs_ref,
              [ZETA_TYPE_F16] = gemm8_f16_ref, [ZETA_TYPE_BF16] = gemm8_bf16_ref},
};

const zk_gemm_table *zk_gemm_scalar(void) { return &k_gemm_scalar; }

#ifndef ZETA_HAVE_X86
const zk_gemm_table *zk_gemm_avx2(void) { return NULL; }
const zk_gemm_table *zk_gemm_avx512vnni(void) { return NULL; }
#endif
#ifndef ZETA_HAVE_NEON
const zk_gemm_table *zk_gemm_neondot(void) { return NULL; }
#endif

static zk_gemm_table g_selected;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Only SIMD slots are selected: the scalar reference is the spec for tests, but row-by-row
 * vec_dot kernels beat it, so without a SIMD GEMM for a type its weights are not repacked. */
static void select_once(void) {
    memset(&g_selected, 0, sizeof g_selected);
    g_selected.name = "none";
    const zk_gemm_table *t = zk_cpu_has_avx512vnni() ? zk_gemm_avx512vnni() : NULL;
    if (!t && zk_cpu_has_avx2()) t = zk_gemm_avx2();
    if (!t && zk_cpu_has_neondot()) t = zk_gemm_neondot();
    if (t) g_selected = *t;
}

const zk_gemm_table *zk_gemm_select(void) {
    pthread_once(&g_once, select_once);
    return &g_selected;
}
