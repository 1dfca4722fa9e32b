/* mathk_ref.c — the scalar versions of mathk.h (the spec for the ISA versions) and the run-time
 * selection of the set. */
#include "cpu/mathk.h"
#include "cpu/kernels.h"
#include "quant.h"

#include <math.h>
#include <pthread.h>

double zk_softmax_scalar(float *x, int n, float scale, float *max_out) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) if (x[i] * scale > mx) mx = x[i] * scale;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] * scale - mx);
        sum += (double)x[i];
    }
    if (max_out) *max_out = mx;
    return sum;
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

static const zk_math k_scalar = {"scalar", zk_softmax_scalar, axpy_scalar, f16_to_f32_scalar, q8_0_to_f32_scalar,
                                 q4_0_to_f32_scalar};

const zk_math *zk_math_scalar(void) { return &k_scalar; }

#ifndef ZETA_HAVE_X86
const zk_math *zk_math_avx2(void) { return NULL; }
#endif

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static zk_math g_selected;

static void select_once(void) {
    zk_math t = k_scalar;
    const zk_math *a = zk_cpu_has_avx2() ? zk_math_avx2() : NULL;
    if (a) {
        if (a->softmax) t.softmax = a->softmax;
        if (a->axpy) t.axpy = a->axpy;
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
