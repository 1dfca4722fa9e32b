/* mathk_ref.c — the scalar versions of mathk.h (the spec for the ISA versions) and the run-time
 * selection of the set. */
#include "cpu/mathk.h"
#include "cpu/kernels.h"
#include "quant.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

double zk_softmax_scalar(float *x, int n, float scale, float *max_io) {
    float mx = max_io ? *max_io : -INFINITY;
    for (int i = 0; i < n; i++) if (x[i] * scale > mx) mx = x[i] * scale;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] * scale - mx);
        sum += (double)x[i];
    }
    if (max_io) *max_io = mx;
    return sum;
}

static void swiglu_scalar(int64_t n, const float *gate, const float *up, float *out) {
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i];
        out[i] = (g / (1.0f + expf(-g))) * up[i];
    }
}

static void axpy_scalar(int64_t n, float a, const float *x, float *y) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

static void f16_to_f32_scalar(const void *x, float *y, int64_t n) {
    const zeta_f16 *h = x;
    for (int64_t i = 0; i < n; i++) y[i] = zeta_f16_to_f32(h[i]);
}
static void q8_0_to_f32_scalar(const void *x, float *y, int64_t n) { dequantize_row_q8_0(x, y, n); }
static void q4_0_to_f32_scalar(const void *x, float *y, int64_t n) { dequantize_row_q4_0(x, y, n); }

/* ---- fused decode attention: the spec (scores exactly as kernels_scalar.c's vec_dot) ---------- */

static void kv_score_f32_scalar(int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s,
                                size_t ss) {
    for (int i = 0; i < n; i++) {
        const float *a = (const float *)((const uint8_t *)k + (size_t)i * ks);
        for (int g = 0; g < group; g++) {
            const float *b = (const float *)((const uint8_t *)q + (size_t)g * qs);
            float sum = 0.0f;
            for (int j = 0; j < d; j++) sum += a[j] * b[j];
            s[(size_t)g * ss + i] = sum;
        }
    }
}

static void kv_score_f16_scalar(int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s,
                                size_t ss) {
    float row[256];
    for (int i = 0; i < n; i++) {
        const zeta_f16 *a = (const zeta_f16 *)((const uint8_t *)k + (size_t)i * ks);
        for (int g = 0; g < group; g++) s[(size_t)g * ss + i] = 0.0f;
        /* the row converted once, in pieces of 256; each piece continues the running sums */
        for (int j0 = 0; j0 < d; j0 += 256) {
            const int w = d - j0 < 256 ? d - j0 : 256;
            for (int j = 0; j < w; j++) row[j] = zeta_f16_to_f32(a[j0 + j]);
            for (int g = 0; g < group; g++) {
                const float *b = (const float *)((const uint8_t *)q + (size_t)g * qs) + j0;
                float sum = s[(size_t)g * ss + i];
                for (int j = 0; j < w; j++) sum += row[j] * b[j];
                s[(size_t)g * ss + i] = sum;
            }
        }
    }
}

static void kv_score_q8_0_scalar(int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s,
                                 size_t ss) {
    const int nb = d / QK8_0;
    for (int i = 0; i < n; i++) {
        const block_q8_0 *a = (const block_q8_0 *)((const uint8_t *)k + (size_t)i * ks);
        for (int g = 0; g < group; g++) {
            const block_q8_0 *b = (const block_q8_0 *)((const uint8_t *)q + (size_t)g * qs);
            float sum = 0.0f;
            for (int ib = 0; ib < nb; ib++) {
                int32_t sumi = 0;
                for (int j = 0; j < QK8_0; j++) sumi += (int32_t)a[ib].qs[j] * (int32_t)b[ib].qs[j];
                sum += (float)sumi * (zeta_f16_to_f32(a[ib].d) * zeta_f16_to_f32(b[ib].d));
            }
            s[(size_t)g * ss + i] = sum;
        }
    }
}

static void kv_score_q4_0_scalar(int d, int n, const void *k, size_t ks, int group, const void *q, size_t qs, float *s,
                                 size_t ss) {
    const int nb = d / QK4_0;
    for (int i = 0; i < n; i++) {
        const block_q4_0 *a = (const block_q4_0 *)((const uint8_t *)k + (size_t)i * ks);
        for (int g = 0; g < group; g++) {
            const block_q8_0 *b = (const block_q8_0 *)((const uint8_t *)q + (size_t)g * qs);
            float sum = 0.0f;
            for (int ib = 0; ib < nb; ib++) {
                int32_t sumi = 0;
                for (int j = 0; j < QK4_0 / 2; j++) {
                    const int32_t lo = (a[ib].qs[j] & 0x0f) - 8, hi = (a[ib].qs[j] >> 4) - 8;
                    sumi += lo * b[ib].qs[j] + hi * b[ib].qs[j + QK4_0 / 2];
                }
                sum += (float)sumi * (zeta_f16_to_f32(a[ib].d) * zeta_f16_to_f32(b[ib].d));
            }
            s[(size_t)g * ss + i] = sum;
        }
    }
}

/* V rows decoded in pieces of 256 (the pieces' accumulators are disjoint, so the order per element
 * stays i = 0..n-1) */
static void kv_accum_scalar(zeta_type t, int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss,
                            float *acc) {
    float row[256];
    const size_t eb = t == ZETA_TYPE_F32 ? 4 : 2; /* element bytes of the float types */
    for (int i = 0; i < n; i++) {
        const uint8_t *vr = (const uint8_t *)v + (size_t)i * vs;
        for (int j0 = 0; j0 < d; j0 += 256) {
            const int w = d - j0 < 256 ? d - j0 : 256;
            switch (t) {
            case ZETA_TYPE_F32: memcpy(row, vr + (size_t)j0 * eb, sizeof(float) * (size_t)w); break;
            case ZETA_TYPE_F16: f16_to_f32_scalar(vr + (size_t)j0 * eb, row, w); break;
            case ZETA_TYPE_Q8_0: dequantize_row_q8_0((const block_q8_0 *)vr + j0 / QK8_0, row, w); break;
            default: dequantize_row_q4_0((const block_q4_0 *)vr + j0 / QK4_0, row, w); break;
            }
            for (int g = 0; g < group; g++) {
                const float wg = s[(size_t)g * ss + i];
                float *a = acc + (size_t)g * d + j0;
                for (int j = 0; j < w; j++) a[j] += wg * row[j];
            }
        }
    }
}

static void kv_accum_f32_scalar(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    kv_accum_scalar(ZETA_TYPE_F32, d, n, v, vs, group, s, ss, acc);
}
static void kv_accum_f16_scalar(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    kv_accum_scalar(ZETA_TYPE_F16, d, n, v, vs, group, s, ss, acc);
}
static void kv_accum_q8_0_scalar(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    kv_accum_scalar(ZETA_TYPE_Q8_0, d, n, v, vs, group, s, ss, acc);
}
static void kv_accum_q4_0_scalar(int d, int n, const void *v, size_t vs, int group, const float *s, size_t ss, float *acc) {
    kv_accum_scalar(ZETA_TYPE_Q4_0, d, n, v, vs, group, s, ss, acc);
}

/* the entropy's terms, one lane at a time (mathk.h); clang told not to contract (GCC's -std=c11
 * does not) */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
static void entropy8_scalar(const float *l8, int32_t n8, float max_l, float *ls, float *lsd) {
    for (int32_t g = 0; g < n8; g++, l8 += 8)
        for (int j = 0; j < 8; j++) {
            const float l = l8[j] == INFINITY ? FLT_MAX : l8[j];
            const float d0 = l - max_l;
            const bool keep = d0 > -87.0f; /* false for NaN too */
            const float d = keep ? d0 : -87.0f;
            const float t = d * 1.44269504f;
            const float k = (t + ZK_ENT_ROUND) - ZK_ENT_ROUND;
            const float f = t - k;
            float p = ZK_ENT_C6;
            p = p * f + ZK_ENT_C5;
            p = p * f + ZK_ENT_C4;
            p = p * f + ZK_ENT_C3;
            p = p * f + ZK_ENT_C2;
            p = p * f + ZK_ENT_C1;
            p = p * f + 1.0f;
            const uint32_t bits = (uint32_t)((int32_t)k + 127) << 23;
            float sc;
            memcpy(&sc, &bits, sizeof sc);
            const float e = keep ? p * sc : 0.0f;
            ls[j] += e;
            lsd[j] += e * d;
        }
}

static const zk_math k_scalar = {
    .name = "scalar",
    .entropy8 = entropy8_scalar,
    .softmax = zk_softmax_scalar,
    .axpy = axpy_scalar,
    .swiglu = swiglu_scalar,
    .f16_to_f32 = f16_to_f32_scalar,
    .q8_0_to_f32 = q8_0_to_f32_scalar,
    .q4_0_to_f32 = q4_0_to_f32_scalar,
    .kv_score = {[ZETA_TYPE_F32] = kv_score_f32_scalar, [ZETA_TYPE_F16] = kv_score_f16_scalar,
                 [ZETA_TYPE_Q8_0] = kv_score_q8_0_scalar, [ZETA_TYPE_Q4_0] = kv_score_q4_0_scalar},
    .kv_accum = {[ZETA_TYPE_F32] = kv_accum_f32_scalar, [ZETA_TYPE_F16] = kv_accum_f16_scalar,
                 [ZETA_TYPE_Q8_0] = kv_accum_q8_0_scalar, [ZETA_TYPE_Q4_0] = kv_accum_q4_0_scalar},
};

const zk_math *zk_math_scalar(void) { return &k_scalar; }

#ifndef ZETA_HAVE_X86
const zk_math *zk_math_avx2(void) { return NULL; }
const zk_math *zk_math_avx512vnni(void) { return NULL; }
#endif
#ifndef ZETA_HAVE_NEON
const zk_math *zk_math_neon(void) { return NULL; }
#endif

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static zk_math g_selected;

static void select_once(void) {
    zk_math t = k_scalar;
    /* the fused decode slots only where an ISA has them (see mathk.h) */
    for (int i = 0; i < ZETA_TYPE_COUNT; i++) t.kv_score[i] = NULL, t.kv_accum[i] = NULL;
    /* the ISA sets of this architecture, each laid over the ones before: a NULL slot keeps the
     * earlier set's (scalar < avx2 < avx512vnni on x86-64; scalar < neon on AArch64) */
    const zk_math *sets[2] = {NULL, NULL};
    if (zk_cpu_has_avx2()) {
        sets[0] = zk_math_avx2();
        if (zk_cpu_has_avx512vnni()) sets[1] = zk_math_avx512vnni();
    } else if (zk_cpu_has_neon()) {
        sets[0] = zk_math_neon();
    }
    for (int k = 0; k < 2; k++) {
        const zk_math *a = sets[k];
        if (!a) continue;
        for (int i = 0; i < ZETA_TYPE_COUNT; i++) {
            if (a->kv_score[i]) t.kv_score[i] = a->kv_score[i];
            if (a->kv_accum[i]) t.kv_accum[i] = a->kv_accum[i];
        }
        if (a->entropy8) t.entropy8 = a->entropy8;
        if (a->softmax) t.softmax = a->softmax;
        if (a->axpy) t.axpy = a->axpy;
        if (a->swiglu) t.swiglu = a->swiglu;
        if (a->f16_to_f32) t.f16_to_f32 = a->f16_to_f32;
        if (a->q8_0_to_f32) t.q8_0_to_f32 = a->q8_0_to_f32;
        if (a->q4_0_to_f32) t.q4_0_to_f32 = a->q4_0_to_f32;
        t.name = a->name;
    }
    g_selected = t;
}

const zk_math *zk_math_select(void) {
    pthread_once(&g_once, select_once);
    return &g_selected;
}

zk_softmax_fn zk_softmax_select(void) { return zk_math_select()->softmax; }
