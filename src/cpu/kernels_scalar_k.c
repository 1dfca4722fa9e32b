/* kernels_scalar_k.c — the plain-C K-quant kernels (kernels_k.h): Q4_K / Q5_K / Q6_K x Q8_K dot
 * products and the Q8_K activation quantizer. This is the spec the SIMD versions are tested
 * against: every integer part is exact, and the f32 accumulation runs super-block by super-block
 * in order. */
#include "kernels_k.h"

/* The 8 six-bit scales and 8 mins of a Q4_K / Q5_K super-block (same packing as quant_k.c). */
static void unpack_scales_mins(const uint8_t *q, uint8_t sc[8], uint8_t m[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = q[j] & 63;
        m[j] = q[j + 4] & 63;
    }
    for (int j = 4; j < 8; j++) {
        sc[j] = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
        m[j] = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* sum over sub-blocks j of m_j * (sum of the 32 activations of sub-block j), from the bsums. */
static int32_t mins_dot(const uint8_t m[8], const int16_t *bsums) {
    int32_t s = 0;
    for (int j = 0; j < 8; j++) s += (int32_t)m[j] * ((int32_t)bsums[2 * j] + bsums[2 * j + 1]);
    return s;
}

void zk_vec_dot_q4_K_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q4_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        uint8_t sc[8], m[8];
        unpack_scales_mins(a[i].scales, sc, m);
        const uint8_t *q = a[i].qs;
        const int8_t *y = b[i].qs;
        int32_t sumi = 0;
        for (int c = 0; c < 4; c++, q += 32, y += 64) {
            int32_t lo = 0, hi = 0;
            for (int l = 0; l < 32; l++) {
                lo += (q[l] & 0x0f) * y[l];
                hi += (q[l] >> 4) * y[l + 32];
            }
            sumi += sc[2 * c] * lo + sc[2 * c + 1] * hi;
        }
        const float dx = b[i].d;
        sum += zeta_f16_to_f32(a[i].d) * dx * (float)sumi - zeta_f16_to_f32(a[i].dmin) * dx * (float)mins_dot(m, b[i].bsums);
    }
    *s = sum;
}

void zk_vec_dot_q5_K_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q5_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        uint8_t sc[8], m[8];
        unpack_scales_mins(a[i].scales, sc, m);
        const uint8_t *q = a[i].qs, *qh = a[i].qh;
        const int8_t *y = b[i].qs;
        int32_t sumi = 0;
        for (int c = 0; c < 4; c++, q += 32, y += 64) {
            int32_t lo = 0, hi = 0;
            for (int l = 0; l < 32; l++) {
                lo += ((q[l] & 0x0f) | (((qh[l] >> (2 * c)) & 1) << 4)) * y[l];
                hi += ((q[l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4)) * y[l + 32];
            }
            sumi += sc[2 * c] * lo + sc[2 * c + 1] * hi;
        }
        const float dx = b[i].d;
        sum += zeta_f16_to_f32(a[i].d) * dx * (float)sumi - zeta_f16_to_f32(a[i].dmin) * dx * (float)mins_dot(m, b[i].bsums);
    }
    *s = sum;
}

void zk_vec_dot_q6_K_scalar(int64_t n, float *s, const void *w, const void *x) {
    const block_q6_K *a = w;
    const block_q8_K *b = x;
    const int64_t nb = n / QK_K;
    float sum = 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        int8_t q[QK_K]; /* the 256 codes - 32, in element order */
        for (int c = 0; c < 2; c++) {
            const uint8_t *ql = a[i].ql + 64 * c, *qh = a[i].qh + 32 * c;
            int8_t *o = q + 128 * c;
            for (int l = 0; l < 32; l++) {
                o[l] = (int8_t)(((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32);
                o[l + 32] = (int8_t)(((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32);
                o[l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
                o[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
            }
        }
        int32_t sumi = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            int32_t d = 0;
            for (int l = 0; l < 16; l++) d += q[16 * j + l] * b[i].qs[16 * j + l];
            sumi += a[i].scales[j] * d;
        }
        sum += zeta_f16_to_f32(a[i].d) * b[i].d * (float)sumi;
    }
    *s = sum;
}

void zk_from_float_q8_K_scalar(const float *x, void *y, int64_t n) {
    quantize_row_q8_K_ref(x, (block_q8_K *)y, n);
}
