/* test_mathk.c — the ISA versions of the backend's vector math (softmax) against the scalar
 * reference: random rows of many lengths, large and tiny scores, NaN-free outputs. */
#include "cpu/mathk.h"
#include "test.h"

#include <math.h>

static void softmax_avx2_matches_scalar(void) {
    zk_softmax_fn f = zk_softmax_select();
    if (f == zk_softmax_scalar) T_SKIP("no SIMD softmax on this CPU");
    static float a[5000], b[5000];
    unsigned seed = 7;
    const int lens[] = {1, 7, 8, 9, 63, 64, 257, 1000, 4999};
    const float spreads[] = {0.01f, 1.0f, 30.0f, 200.0f};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
        for (size_t si = 0; si < sizeof spreads / sizeof spreads[0]; si++) {
            int n = lens[li];
            for (int i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                a[i] = b[i] = spreads[si] * ((float)(seed >> 8) / 16777216.0f - 0.5f);
            }
            float ma, mb;
            double sa = zk_softmax_scalar(a, n, 0.125f, &ma), sb = f(b, n, 0.125f, &mb);
            T_CHECKF(ma == mb, "n %d: max %g vs %g", n, (double)ma, (double)mb);
            T_CHECKF(fabs(sa - sb) <= 1e-6 * sa, "n %d spread %g: sums %.9g vs %.9g", n, (double)spreads[si], sa, sb);
            float worst = 0;
            for (int i = 0; i < n; i++) {
                float d = fabsf(a[i] - b[i]) / (a[i] > 1e-30f ? a[i] : 1e-30f);
                if (!(d <= worst)) worst = d;
            }
            T_CHECKF(worst <= 2e-6f, "n %d spread %g: worst relative error %g", n, (double)spreads[si], (double)worst);
        }
}

int main(void) {
    T_RUN(softmax_avx2_matches_scalar);
    return t_done();
}
