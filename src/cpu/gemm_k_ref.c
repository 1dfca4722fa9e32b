/* gemm_k_ref.c — the packed 8-row Q3_K / Q4_K / Q5_K / Q6_K / IQ4_XS layouts of gemm_k.h: packing, and the scalar
 * reference products over them with Q8_K activations (the spec for kernels_*_gemmk.c). */
#include "cpu/gemm_k.h"

#include <stdbool.h>
#include <string.h>

/* n vectors of 8 lanes: lane r of vector v = the 4 bytes at src + 4 v (row r's bytes) */
static void lanes4(uint8_t *dst, const uint8_t *src, int n, int r) {
    for (int v = 0; v < n; v++) memcpy(dst + 32 * v + 4 * r, src + 4 * v, 4);
}

void zk_pack_q4_Kx8(const block_q4_K *const rows[8], int64_t nb, block_q4_Kx8 *out) {
    for (int64_t b = 0; b < nb; b++) {
        block_q4_Kx8 *o = &out[b];
        for (int r = 0; r < 8; r++) {
            const block_q4_K *s = &rows[r][b];
            o->d[r] = s->d;
            o->dmin[r] = s->dmin;
            lanes4(o->scales, s->scales, 3, r);
            lanes4(o->qs, s->qs, 32, r);
        }
    }
}

void zk_pack_q3_Kx8(const block_q3_K *const rows[8], int64_t nb, block_q3_Kx8 *out) {
    for (int64_t b = 0; b < nb; b++) {
        block_q3_Kx8 *o = &out[b];
        for (int r = 0; r < 8; r++) {
            const block_q3_K *s = &rows[r][b];
            o->d[r] = s->d;
            lanes4(o->scales, s->scales, 3, r);
            lanes4(o->qs, s->qs, 16, r);
            lanes4(o->hmask, s->hmask, 8, r);
        }
    }
}

void zk_pack_q2_Kx8(const block_q2_K *const rows[8], int64_t nb, block_q2_Kx8 *out) {
    for (int64_t b = 0; b < nb; b++) {
        block_q2_Kx8 *o = &out[b];
        for (int r = 0; r < 8; r++) {
            const block_q2_K *s = &rows[r][b];
            o->d[r] = s->d;
            o->dmin[r] = s->dmin;
            lanes4(o->scales, s->scales, 4, r);
            lanes4(o->qs, s->qs, 16, r);
        }
    }
}

void zk_pack_iq4_xsx8(const block_iq4_xs *const rows[8], int64_t nb, block_iq4_xsx8 *out) {
    for (int64_t b = 0; b < nb; b++) {
        block_iq4_xsx8 *o = &out[b];
        for (int r = 0; r < 8; r++) {
            const block_iq4_xs *s = &rows[r][b];
            o->d[r] = s->d;
            o->scales_h[r] = s->scales_h;
            lanes4(o->scales_l, s->scales_l, 1, r);
            lanes4(o->qs, s->qs, 32, r);
        }
    }
}

void zk_pack_q5_Kx8(const block_q5_K *const rows[8], int64_t nb, block_q5_Kx8 *out) {
    for (int64_t b = 0; b < nb; b++) {
        block_q5_Kx8 *o = &out[b];
        for (int r = 0; r < 8; r++) {
            const block_q5_K *s = &rows[r][b];
            o->d[r] = s->d;
            o->dmin[r] = s->dmin;
            lanes4(o->scales, s->scales, 3, r);
            lanes4(o->qh, s->qh, 8, r);
            lanes4(o->qs, s->qs, 32, r);
        }
    }
}

/* The 256 codes (0..63) of a block_q6_K in element order. */
static void q6_K_unpack(const block_q6_K *s, uint8_t u[QK_K]) {
    for (int c = 0; c < 2; c++) {
        const uint8_t *ql = s->ql + 64 * c, *qh = s->qh + 32 * c;
        uint8_t *o = u + 128 * c;
        for (int l = 0; l < 32; l++) {
            o[l] = (uint8_t)((ql[l] & 0x0f) | ((qh[l] & 3) << 4));
            o[l + 32] = (uint8_t)((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4));
            o[l + 64] = (uint8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
            o[l + 96] = (uint8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
        }
    }
}

void zk_pack_q6_Kx8(const block_q6_K *const rows[8], int64_t nb, block_q6_Kx8 *out) {
    for (int64_t b = 0; b < nb; b++) {
        block_q6_Kx8 *o = &out[b];
        for (int r = 0; r < 8; r++) {
            const block_q6_K *s = &rows[r][b];
            uint8_t u[QK_K];
            q6_K_unpack(s, u);
            o->d[r] = s->d;
            lanes4((uint8_t *)o->scales, (const uint8_t *)s->scales, 4, r);
            for (int j = 0; j < 16; j++)
                for (int i = 0; i < 3; i++)
                    for (int e = 0; e < 4; e++)
                        o->q[32 * (3 * j + i) + 4 * r + e] =
                            (uint8_t)(u[16 * j + 4 * i + e] | ((u[16 * j + 12 + e] >> (2 * i)) & 3) << 6);
        }
    }
}

size_t zk_packed_group_bytes_k(zeta_type type, int64_t k) {
    switch (type) {
    case ZETA_TYPE_Q4_K: return (size_t)(k / QK_K) * sizeof(block_q4_Kx8);
    case ZETA_TYPE_Q3_K: return (size_t)(k / QK_K) * sizeof(block_q3_Kx8);
    case ZETA_TYPE_Q2_K: return (size_t)(k / QK_K) * sizeof(block_q2_Kx8);
    case ZETA_TYPE_IQ4_XS: return (size_t)(k / QK_K) * sizeof(block_iq4_xsx8);
    case ZETA_TYPE_Q5_K: return (size_t)(k / QK_K) * sizeof(block_q5_Kx8);
    case ZETA_TYPE_Q6_K: return (size_t)(k / QK_K) * sizeof(block_q6_Kx8);
    default: return 0;
    }
}

/* Row r's 8 six-bit scales and mins from the packed scale vectors (block_q4_K's packing). */
static void q4_K_scales(const uint8_t *sv, int r, uint8_t sc[8], uint8_t m[8]) {
    uint8_t q[12];
    for (int w = 0; w < 3; w++) memcpy(q + 4 * w, sv + 32 * w + 4 * r, 4);
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        m[j] = q[j + 4] & 63;
    }
    for (int j = 4; j < 8; j++) {
        sc[j] = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
        m[j] = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Q4_K and Q5_K (q5: the fifth bit of each code from qh; the blocks share d, dmin, scales and the
 * qs layout) */
static void gemm8_q45_K_ref(bool q5, int64_t k, const void *w, const void *x, size_t x_stride, int n_tok, float *y, size_t y_stride) {
    const int64_t nb = k / QK_K;
    for (int c = 0; c < n_tok; c++) {
        const block_q8_K *X = (const block_q8_K *)((const uint8_t *)x + (size_t)c * x_stride);
        float acc[8] = {0};
        for (int64_t b = 0; b < nb; b++) {
            const block_q4_Kx8 *B = (const block_q4_Kx8 *)((const uint8_t *)w + (size_t)b * (q5 ? sizeof(block_q5_Kx8) : sizeof(block_q4_Kx8)));
            const uint8_t *qs = q5 ? ((const block_q5_Kx8 *)B)->qs : B->qs;
            const float dx = X[b].d;
            for (int r = 0; r < 8; r++) {
                uint8_t sc[8], m[8];
                q4_K_scales(B->scales, r, sc, m);
                int32_t sumi = 0, summ = 0;
                for (int j = 0; j < 8; j++) {
                    /* sub-block j: elements 32j..32j+31, nibble j%2 of vectors 8(j/2)..8(j/2)+7 */
                    int32_t s = 0;
                    for (int g = 0; g < 8; g++)
                        for (int e = 0; e < 4; e++) {
                            const uint8_t v = qs[32 * (8 * (j / 2) + g) + 4 * r + e];
                            const int hb = q5 ? (((const block_q5_Kx8 *)B)->qh[32 * g + 4 * r + e] >> j) & 1 : 0;
                            s += (int32_t)(((j & 1) ? v >> 4 : v & 0x0f) | hb << 4) * X[b].qs[32 * j + 4 * g + e];
                        }
                    sumi += (int32_t)sc[j] * s;
                    summ += (int32_t)m[j] * ((int32_t)X[b].bsums[2 * j] + X[b].bsums[2 * j + 1]);
                }
                acc[r] += zeta_f16_to_f32(B->d[r]) * dx * (float)sumi - zeta_f16_to_f32(B->dmin[r]) * dx * (float)summ;
            }
        }
        for (int r = 0; r < 8; r++) y[(size_t)c * y_stride + (size_t)r] = acc[r];
    }
}

void zk_gemm8_q4_K_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                       float *y, size_t y_stride) {
    (void)xsum;
    gemm8_q45_K_ref(false, k, w, x, x_stride, n_tok, y, y_stride);
}

void zk_gemm8_q5_K_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                       float *y, size_t y_stride) {
    (void)xsum;
    gemm8_q45_K_ref(true, k, w, x, x_stride, n_tok, y, y_stride);
}

/* ggml's kvalues_iq4nl */
const int8_t zk_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

void zk_gemm8_iq4_xs_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                         float *y, size_t y_stride) {
    (void)xsum;
    const block_iq4_xsx8 *W = w;
    const int64_t nb = k / QK_K;
    for (int c = 0; c < n_tok; c++) {
        const block_q8_K *X = (const block_q8_K *)((const uint8_t *)x + (size_t)c * x_stride);
        float acc[8] = {0};
        for (int64_t b = 0; b < nb; b++)
            for (int r = 0; r < 8; r++) {
                const float d4d8 = zeta_f16_to_f32(W[b].d[r]) * X[b].d;
                for (int ib = 0; ib < QK_K / 32; ib++) {
                    const int ls = ((W[b].scales_l[4 * r + ib / 2] >> (4 * (ib % 2))) & 0xf) | (((W[b].scales_h[r] >> (2 * ib)) & 3) << 4);
                    int32_t s = 0;
                    for (int g = 0; g < 4; g++)
                        for (int e = 0; e < 4; e++) {
                            const uint8_t v = W[b].qs[32 * (4 * ib + g) + 4 * r + e];
                            s += zk_iq4_values[v & 0xf] * X[b].qs[32 * ib + 4 * g + e] + zk_iq4_values[v >> 4] * X[b].qs[32 * ib + 16 + 4 * g + e];
                        }
                    acc[r] += (d4d8 * (float)(ls - 32)) * (float)s;
                }
            }
        for (int r = 0; r < 8; r++) y[(size_t)c * y_stride + (size_t)r] = acc[r];
    }
}

void zk_gemm8_q2_K_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                       float *y, size_t y_stride) {
    (void)xsum;
    const block_q2_Kx8 *W = w;
    const int64_t nb = k / QK_K;
    for (int c = 0; c < n_tok; c++) {
        const block_q8_K *X = (const block_q8_K *)((const uint8_t *)x + (size_t)c * x_stride);
        float acc[8] = {0};
        for (int64_t b = 0; b < nb; b++) {
            for (int r = 0; r < 8; r++) {
                int32_t isum = 0, summs = 0;
                for (int j = 0; j < 16; j++) {
                    const uint8_t sc = W[b].scales[32 * (j / 4) + 4 * r + j % 4];
                    summs += (int32_t)X[b].bsums[j] * (sc >> 4);
                    const int n = j / 8, i = (j / 2) % 4;
                    int32_t s = 0;
                    for (int g = 4 * (j % 2); g < 4 * (j % 2) + 4; g++)
                        for (int e = 0; e < 4; e++)
                            s += ((W[b].qs[32 * (8 * n + g) + 4 * r + e] >> (2 * i)) & 3) * X[b].qs[16 * j + 4 * (g % 4) + e];
                    isum += (sc & 0xf) * s;
                }
                const float dall = X[b].d * zeta_f16_to_f32(W[b].d[r]), dmin = X[b].d * zeta_f16_to_f32(W[b].dmin[r]);
                acc[r] += dall * (float)isum - dmin * (float)summs;
            }
        }
        for (int r = 0; r < 8; r++) y[(size_t)c * y_stride + (size_t)r] = acc[r];
    }
}

void zk_gemm8_q3_K_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                       float *y, size_t y_stride) {
    (void)xsum;
    const block_q3_Kx8 *W = w;
    const int64_t nb = k / QK_K;
    for (int c = 0; c < n_tok; c++) {
        const block_q8_K *X = (const block_q8_K *)((const uint8_t *)x + (size_t)c * x_stride);
        float acc[8] = {0};
        for (int64_t b = 0; b < nb; b++) {
            for (int r = 0; r < 8; r++) {
                uint8_t p[12];
                for (int v = 0; v < 3; v++) memcpy(p + 4 * v, W[b].scales + 32 * v + 4 * r, 4);
                int32_t sumi = 0;
                for (int j = 0; j < 16; j++) {
                    const int lo = j < 8 ? p[j] & 0xf : p[j - 8] >> 4, hi = (p[8 + j % 4] >> (2 * (j / 4))) & 3;
                    const int sc = (lo | (hi << 4)) - 32;
                    const int n = j / 8, i = (j / 2) % 4;
                    int32_t s = 0;
                    for (int g = 4 * (j % 2); g < 4 * (j % 2) + 4; g++)
                        for (int e = 0; e < 4; e++) {
                            const int low = (W[b].qs[32 * (8 * n + g) + 4 * r + e] >> (2 * i)) & 3;
                            const int hb = (W[b].hmask[32 * g + 4 * r + e] >> (4 * n + i)) & 1;
                            s += (low + 4 * hb - 4) * X[b].qs[16 * j + 4 * (g % 4) + e];
                        }
                    sumi += sc * s;
                }
                acc[r] += (zeta_f16_to_f32(W[b].d[r]) * X[b].d) * (float)sumi;
            }
        }
        for (int r = 0; r < 8; r++) y[(size_t)c * y_stride + (size_t)r] = acc[r];
    }
}

/* The 6-bit code (0..63) of element 16j+4q+e of row r (layout in gemm_k.h). */
static inline int q6_K_code(const block_q6_Kx8 *B, int r, int j, int q, int e) {
    const uint8_t *v = B->q + 32 * 3 * j + 4 * r + e; /* byte 4r+e of the sub-block's 3 vectors: v[0], v[32], v[64] */
    if (q < 3) return v[32 * q] & 63;
    return (v[0] >> 6) | ((v[32] >> 6) << 2) | ((v[64] >> 6) << 4);
}

void zk_gemm8_q6_K_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                       float *y, size_t y_stride) {
    (void)xsum;
    const block_q6_Kx8 *W = w;
    const int64_t nb = k / QK_K;
    for (int c = 0; c < n_tok; c++) {
        const block_q8_K *X = (const block_q8_K *)((const uint8_t *)x + (size_t)c * x_stride);
        float acc[8] = {0};
        for (int64_t b = 0; b < nb; b++) {
            for (int r = 0; r < 8; r++) {
                int32_t sumi = 0;
                for (int j = 0; j < 16; j++) {
                    int32_t s = 0;
                    for (int q = 0; q < 4; q++)
                        for (int e = 0; e < 4; e++)
                            s += (q6_K_code(&W[b], r, j, q, e) - 32) * X[b].qs[16 * j + 4 * q + e];
                    sumi += (int32_t)W[b].scales[32 * (j / 4) + 4 * r + j % 4] * s;
                }
                acc[r] += zeta_f16_to_f32(W[b].d[r]) * X[b].d * (float)sumi;
            }
        }
        for (int r = 0; r < 8; r++) y[(size_t)c * y_stride + (size_t)r] = acc[r];
    }
}
