/* kernels_avx2_math.c — AVX2+FMA softmax row: max, exp (Cephes-style polynomial after range
 * reduction by ln 2, relative error ~2 ulp), sum. Compiled with -mavx2 -mfma -mf16c. */
#include "cpu/mathk.h"

#include <immintrin.h>
#include <math.h>

static inline __m256 exp256(__m256 x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f)), _mm256_set1_ps(-87.3365447504f));
    __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

static double softmax_avx2(float *x, int n, float scale) {
    const __m256 vs = _mm256_set1_ps(scale);
    __m256 vm = _mm256_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 8 <= n; i += 8) vm = _mm256_max_ps(vm, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    float m[8];
    _mm256_storeu_ps(m, vm);
    float mx = m[0];
    for (int j = 1; j < 8; j++) if (m[j] > mx) mx = m[j];
    for (int j = i; j < n; j++) if (x[j] * scale > mx) mx = x[j] * scale;
    const __m256 vmx = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp256(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), vs, vmx));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float a[8];
    _mm256_storeu_ps(a, acc);
    double sum = 0.0;
    for (int j = 0; j < 8; j++) sum += (double)a[j];
    for (; i < n; i++) {
        x[i] = expf(x[i] * scale - mx);
        sum += (double)x[i];
    }
    return sum;
}

zk_softmax_fn zk_softmax_avx2_fn(void) { return softmax_avx2; }
