/* kernels_scalar_iqk.c — the plain-C dot products of Q2_K, Q3_K, IQ4_XS (with Q8_K activations) and
 * IQ4_NL (with Q8_0 activations): the spec the SIMD versions are tested against, with ggml's
 * semantics (ggml_vec_dot_*_q8_K / iq4_nl_q8_0_generic). Integer sums are exact; every scale is
 * applied in f32 in the order written below. Layouts: quant.h and quant_k23.c / quant_iq.c. */
#include "kernels_iqk.h"

/* The IQ4 codebook (ggml's kvalues_iq4nl). */
static const int8_t k_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* Per super-block: isum = sum_j (sc_j & 15) * sum over sub-block j of q * y (q = 2-bit code), and
 * summs = sum_j (sc_j >> 4) * bsums_j; s += (d_x * d) * isum - (d_x * dmin) * summs. */
void zk_vec_dot_q2_K_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q2_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int32_t summs = 0, isum = 0;
        for (int j = 0; j < 16; j++) summs += (int32_t)b[i].bsums[j] * (a[i].scales[j] >> 4);
        for (int j = 0; j < 16; j++) {        /* sub-block j = elements 16j..16j+15 */
            const int c = j / 8, sh = 2 * ((j / 2) % 4), off = 32 * c + 16 * (j % 2);
            int32_t sub = 0;
            for (int l = 0; l < 16; l++) sub += (int32_t)b[i].qs[16 * j + l] * ((a[i].qs[off + l] >> sh) & 3);
            isum += (a[i].scales[j] & 0xf) * sub;
        }
        const float dall = b[i].d * zeta_f16_to_f32(a[i].d);
        const float dmin = b[i].d * zeta_f16_to_f32(a[i].dmin);
        sum += dall * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

/* The 16 signed scales (code - 32) of a Q3_K super-block. */
static void q3_scales(const uint8_t p[12], int sc[16]) {
    for (int j = 0; j < 16; j++) {
        const int lo = j < 8 ? p[j] & 0xf : p[j - 8] >> 4;
        const int hi = (p[8 + j % 4] >> (2 * (j / 4))) & 3;
        sc[j] = (lo | (hi << 4)) - 32;
    }
}

/* Per super-block: isum = sum_j sc_j * sum over sub-block j of q * y with q in -4..3;
 * s += (d * d_x) * isum. */
void zk_vec_dot_q3_K_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q3_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int sc[16];
        q3_scales(a[i].scales, sc);
        int32_t isum = 0;
        for (int j = 0; j < 16; j++) {           /* sub-block j = elements 16j..16j+15 */
            const int c = j / 8, k = (j / 2) % 4, off = 16 * (j % 2);
            const int8_t *y = b[i].qs + 16 * j;
            int32_t sub = 0;
            for (int l = 0; l < 16; l++) {
                const int m = off + l;
                const int q = ((a[i].qs[32 * c + m] >> (2 * k)) & 3) - ((a[i].hmask[m] >> (4 * c + k)) & 1 ? 0 : 4);
                sub += q * y[l];
            }
            isum += sc[j] * sub;
        }
        sum += (zeta_f16_to_f32(a[i].d) * b[i].d) * (float)isum;
    }
    *s = sum;
}

/* Integer dot of one 32-element IQ4 block (16 bytes of nibbles) with 32 int8. */
static int32_t iq4_block_dot(const uint8_t qs[16], const int8_t *y) {
    int32_t s1 = 0, s2 = 0;
    for (int j = 0; j < 16; j++) {
        s1 += (int32_t)y[j] * k_iq4_values[qs[j] & 0xf];
        s2 += (int32_t)y[j + 16] * k_iq4_values[qs[j] >> 4];
    }
    return s1 + s2;
}

/* Per block: s += (d_x * d_w) * sum(kvalues[q] * y). */
void zk_vec_dot_iq4_nl_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_iq4_nl *a = w;
    const block_q8_0 *b = x;
    const int64_t nb = n / 32;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const float d = zeta_f16_to_f32(b[i].d) * zeta_f16_to_f32(a[i].d);
        sum += d * (float)iq4_block_dot(a[i].qs, b[i].qs);
    }
    *s = sum;
}

/* Per 32-block ib of a super-block: s += ((d_w * d_x) * (ls_ib - 32)) * sum(kvalues[q] * y). */
void zk_vec_dot_iq4_xs_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_iq4_xs *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        const float d4d8 = zeta_f16_to_f32(a[i].d) * b[i].d;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            const int ls = ((a[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((a[i].scales_h >> (2 * ib)) & 3) << 4);
            sum += (d4d8 * (float)(ls - 32)) * (float)iq4_block_dot(a[i].qs + 16 * ib, b[i].qs + 32 * ib);
        }
    }
    *s = sum;
}
