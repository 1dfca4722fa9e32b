/* kernels_scalar_sparse.c — the plain-C sparse decode kernel (the spec of kernels_sparse.h) and
 * the run-time choice between it and the SIMD versions. */
#include "cpu/kernels_sparse.h"
#include "cpu/kernels.h"
#include "quant.h"

#include <math.h>
#include <string.h>

void zk_sparse_gemv_scalar(const uint8_t *cols, size_t col_bytes, const uint32_t *idx, const float *val, uint32_t n,
                           uint32_t b0, uint32_t b1, float *y) {
    for (uint32_t b = b0; b < b1; b++) {
        float acc[QK8_0];
        memset(acc, 0, sizeof acc);
        for (uint32_t k = 0; k < n; k++) {
            const block_q8_0 *q = (const block_q8_0 *)(cols + (size_t)idx[k] * col_bytes) + b;
            const float s = val[k] * zeta_f16_to_f32(q->d);
            for (int j = 0; j < QK8_0; j++) acc[j] += s * (float)q->qs[j];
        }
        memcpy(y + (size_t)b * QK8_0, acc, sizeof acc);
    }
}

/* roundf(q) (halfway cases away from zero) without the libm call for |q| <= 256, where q - trunc(q)
 * is exact in float; anything else (and NaN) goes to roundf */
static inline float round_away(float q) {
    if (!(fabsf(q) <= 256.0f)) return roundf(q);
    const int32_t t = (int32_t)q; /* toward zero */
    const float f = q - (float)t;
    return (float)(t + (f >= 0.5f) - (f <= -0.5f));
}

void zk_sparse_round_blocks(zs_sel *s) {
    s->blocked = s->n_in % 32 == 0;
    if (!s->blocked) return;
    const uint32_t nb = s->n_in / 32;
    uint32_t k = 0;
    for (uint32_t b = 0; b < nb; b++) {
        s->bstart[b] = k;
        const uint32_t k0 = k;
        float amax = 0.0f;
        for (; k < s->n && s->idx[k] < 32 * (b + 1); k++)
            if (fabsf(s->val[k]) > amax) amax = fabsf(s->val[k]);
        const float d8 = amax / 127.0f, i8 = d8 > 0.0f ? 1.0f / d8 : 0.0f;
        int32_t sum = 0;
        for (uint32_t j = k0; j < k; j++) {
            float q = round_away(s->val[j] * i8); /* roundf, as the dense path's Q8_0 activations (quantize_row_q8_0_ref) */
            q = q > 127.0f ? 127.0f : q < -127.0f ? -127.0f : q;
            s->q8[j] = (int8_t)q;
            sum += (int32_t)q;
        }
        s->dx8[b] = zeta_f16_to_f32(zeta_f32_to_f16(d8)); /* the f16 scale a Q8_0 block stores */
        s->sum8[b] = sum;
    }
    s->bstart[nb] = k;
}

void zk_sparse_q8_scalar(const zs_mat *w, const zs_sel *s, uint32_t b0, uint32_t b1, uint32_t c0, uint32_t c1, float *y) {
    const uint32_t n_out = w->n_out, r0 = 64 * c0, r1 = 64 * c1;
    const size_t cb = w->col_bytes;
    for (uint32_t o = r0; o < r1; o++) y[o] = 0.0f;
    for (uint32_t b = b0; b < b1; b++) {
        const uint32_t k0 = s->bstart[b], k1 = s->bstart[b + 1];
        if (k0 == k1) continue;
        const uint8_t *base = w->cols + (size_t)b * w->blk_bytes, *cols = base + 2 * (size_t)n_out;
        for (uint32_t o = r0; o < r1; o++) {
            const size_t at = (o & ~63u) + zs_q8_pos(o & 63u);
            int32_t isum = 0;
            for (uint32_t k = k0; k < k1; k++) isum += (int32_t)s->q8[k] * (int32_t)(int8_t)cols[(s->idx[k] - 32 * b) * cb + at];
            zeta_f16 d;
            memcpy(&d, base + 2 * (size_t)o, 2);
            y[o] = fmaf(zeta_f16_to_f32(d) * s->dx8[b], (float)isum, y[o]);
        }
    }
}

void zk_sparse_q4_scalar(const zs_mat *w, const zs_sel *s, uint32_t b0, uint32_t b1, uint32_t c0, uint32_t c1, float *y) {
    const uint32_t n_out = w->n_out, r0 = 64 * c0, r1 = 64 * c1;
    const size_t cb = w->col_bytes;
    for (uint32_t o = r0; o < r1; o++) y[o] = 0.0f;
    for (uint32_t b = b0; b < b1; b++) {
        const uint32_t k0 = s->bstart[b], k1 = s->bstart[b + 1];
        if (k0 == k1) continue;
        const uint8_t *base = w->cols + (size_t)b * w->blk_bytes, *cols = base + 2 * (size_t)n_out;
        for (uint32_t o = r0; o < r1; o++) {
            const size_t at = (o >> 6) * 32 + zs_q4_pos(o & 63u);
            const unsigned sh = (o & 63u) < 32 ? 0 : 4;
            int32_t isum = 0;
            for (uint32_t k = k0; k < k1; k++) isum += (int32_t)s->q8[k] * (int32_t)((cols[(s->idx[k] - 32 * b) * cb + at] >> sh) & 15u);
            isum -= 8 * s->sum8[b];
            zeta_f16 d;
            memcpy(&d, base + 2 * (size_t)o, 2);
            y[o] = fmaf(zeta_f16_to_f32(d) * s->dx8[b], (float)isum, y[o]);
        }
    }
}

#if defined(ZETA_HAVE_X86)
static zk_sparse_gemv_fn best_simd(const char **name) {
    zk_sparse_gemv_fn f = zk_cpu_has_avx512() ? zk_sparse_gemv_avx512() : NULL;
    if (f) {
        *name = "avx512";
        return f;
    }
    f = zk_cpu_has_avx2() ? zk_sparse_gemv_avx2() : NULL;
    if (f) *name = "avx2";
    return f;
}
zk_sparse_gemv_fn zk_sparse_gemv_neon(void) { return NULL; }
zk_sparse_native_fn zk_sparse_q8_neon(void) { return NULL; }
zk_sparse_native_fn zk_sparse_q4_neon(void) { return NULL; }
#elif defined(ZETA_HAVE_NEON)
zk_sparse_native_fn zk_sparse_q8_avx512vnni(void) { return NULL; }
zk_sparse_native_fn zk_sparse_q4_avx512vnni(void) { return NULL; }
zk_sparse_gemv_fn zk_sparse_gemv_avx2(void) { return NULL; }
zk_sparse_gemv_fn zk_sparse_gemv_avx512(void) { return NULL; }
zk_sparse_native_fn zk_sparse_q8_avx2(void) { return NULL; }
zk_sparse_native_fn zk_sparse_q4_avx2(void) { return NULL; }
static zk_sparse_gemv_fn best_simd(const char **name) {
    zk_sparse_gemv_fn f = zk_cpu_has_neon() ? zk_sparse_gemv_neon() : NULL;
    if (f) *name = "neon";
    return f;
}
#else
zk_sparse_native_fn zk_sparse_q8_avx512vnni(void) { return NULL; }
zk_sparse_native_fn zk_sparse_q4_avx512vnni(void) { return NULL; }
zk_sparse_gemv_fn zk_sparse_gemv_avx2(void) { return NULL; }
zk_sparse_gemv_fn zk_sparse_gemv_avx512(void) { return NULL; }
zk_sparse_native_fn zk_sparse_q8_avx2(void) { return NULL; }
zk_sparse_native_fn zk_sparse_q4_avx2(void) { return NULL; }
zk_sparse_gemv_fn zk_sparse_gemv_neon(void) { return NULL; }
zk_sparse_native_fn zk_sparse_q8_neon(void) { return NULL; }
zk_sparse_native_fn zk_sparse_q4_neon(void) { return NULL; }
static zk_sparse_gemv_fn best_simd(const char **name) { (void)name; return NULL; }
#endif

zk_sparse_gemv_fn zk_sparse_gemv_select(void) {
    const char *name = "scalar";
    zk_sparse_gemv_fn f = best_simd(&name);
    return f ? f : zk_sparse_gemv_scalar;
}

const char *zk_sparse_gemv_name(void) {
    const char *name = "scalar";
    best_simd(&name);
    return name;
}

zk_sparse_native_fn zk_sparse_q8_select(void) {
    zk_sparse_native_fn f = NULL;
#if defined(ZETA_HAVE_X86)
    if (zk_cpu_has_avx512vnni()) f = zk_sparse_q8_avx512vnni();
    else if (zk_cpu_has_avx2()) f = zk_sparse_q8_avx2();
#elif defined(ZETA_HAVE_NEON)
    if (zk_cpu_has_neon()) f = zk_sparse_q8_neon();
#endif
    return f ? f : zk_sparse_q8_scalar;
}

zk_sparse_native_fn zk_sparse_q4_select(void) {
    zk_sparse_native_fn f = NULL;
#if defined(ZETA_HAVE_X86)
    if (zk_cpu_has_avx512vnni()) f = zk_sparse_q4_avx512vnni();
    else if (zk_cpu_has_avx2()) f = zk_sparse_q4_avx2();
#elif defined(ZETA_HAVE_NEON)
    if (zk_cpu_has_neon()) f = zk_sparse_q4_neon();
#endif
    return f ? f : zk_sparse_q4_scalar;
}
