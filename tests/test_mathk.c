/* test_mathk.c — the ISA versions of the backend's vector math against the scalar reference:
 *   - softmax: random rows of many lengths, large and tiny scores, NaN-free outputs;
 *   - SwiGLU: within a few ulp of the libm version, the same bits however a range is split;
 *   - the entropy's terms (sampler_entropy): bit-identical to the scalar version, NaN / inf included;
 *   - the fused decode-attention kernels (kv_score, kv_accum) for F32/F16/Q8_0/Q4_0 rows, GQA
 *     groups 1..8, odd tile lengths, strided rows: Q8_0/Q4_0 scores bit-identical to the scalar
 *     reference, which is bit-identical to the scalar vec_dot; V sums bit-identical to the per-row
 *     path they replace (dequantize the row, then axpy per query head); nothing written outside;
 *   - each ISA set this CPU runs is tested slot by slot (avx2, and avx512vnni's own slots where the
 *     CPU has AVX-512 VNNI; neon), so a slot that a wider set overrides here stays tested;
 *   - the selection: every fused slot comes from the widest of those sets that has it (avx512vnni
 *     over avx2 on x86-64; neon on every AArch64), not a silent scalar fallback. */
#include "cpu/kernels.h"
#include "cpu/mathk.h"
#include "quant.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* the ISA sets this CPU runs, raw (only their own slots): avx2 and, with AVX-512 VNNI, avx512vnni on
 * x86-64; neon on AArch64. The kernel tests below check every slot of each, so a slot that a wider
 * set overrides here is still tested for the machines that select it. */
static int isa_sets(const zk_math *sets[2]) {
    int n = 0;
    if (zk_cpu_has_avx2() && zk_math_avx2()) {
        sets[n++] = zk_math_avx2();
        if (zk_cpu_has_avx512vnni() && zk_math_avx512vnni()) sets[n++] = zk_math_avx512vnni();
    } else if (zk_cpu_has_neon() && zk_math_neon()) {
        sets[n++] = zk_math_neon();
    }
    return n;
}

static void softmax_one(zk_softmax_fn f);

static void softmax_simd_matches_scalar(void) {
    const zk_math *sets[2];
    const int ns = isa_sets(sets);
    int tested = 0;
    for (int k = 0; k < ns; k++)
        if (sets[k]->softmax) {
            printf("    %s softmax\n", sets[k]->name);
            softmax_one(sets[k]->softmax);
            tested++;
        }
    T_CHECK(zk_softmax_select() != zk_softmax_scalar || tested == 0);
    if (!tested) T_SKIP("no SIMD softmax on this CPU");
}

static void softmax_one(zk_softmax_fn f) {
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
            /* the running maximum passed in: none, or (every other row) a floor above the row's own
             * maximum, which both versions must keep and subtract */
            float floor_in = -INFINITY;
            if ((li + si) % 2) {
                float m = a[0];
                for (int i = 1; i < n; i++) m = a[i] > m ? a[i] : m;
                floor_in = 0.125f * m + 2.0f;
            }
            float ma = floor_in, mb = floor_in;
            double sa = zk_softmax_scalar(a, n, 0.125f, &ma), sb = f(b, n, 0.125f, &mb);
            T_CHECKF(ma == mb, "n %d: max %g vs %g", n, (double)ma, (double)mb);
            if (floor_in != -INFINITY) T_CHECKF(ma == floor_in, "n %d: the floor %g was not kept (%g)", n, (double)floor_in, (double)ma);
            T_CHECKF(fabs(sa - sb) <= 1e-6 * sa, "n %d spread %g: sums %.9g vs %.9g", n, (double)spreads[si], sa, sb);
            float worst = 0;
            for (int i = 0; i < n; i++) {
                float d = fabsf(a[i] - b[i]) / (a[i] > 1e-30f ? a[i] : 1e-30f);
                if (!(d <= worst)) worst = d;
            }
            T_CHECKF(worst <= 2e-6f, "n %d spread %g: worst relative error %g", n, (double)spreads[si], (double)worst);
        }
}

/* SwiGLU: the selected version within a few ulp of the scalar (libm expf) one over gates from -100
 * to 100 (exp's clamped ends included), results independent of where a call starts (tails go
 * through the same vector code), and out may alias gate. */
static void swiglu_matches_scalar(void) {
    const zk_math *ref = zk_math_scalar(), *sel = zk_math_select();
    if (sel->swiglu == ref->swiglu) T_SKIP("no SIMD SwiGLU on this CPU");
    static float g[1031], u[1031], a[1031], b[1031], c[1031];
    unsigned seed = 11;
    for (int i = 0; i < 1031; i++) {
        seed = seed * 1103515245u + 12345u;
        const float r = (float)(seed >> 8) / 16777216.0f - 0.5f;
        g[i] = i % 97 == 0 ? 0.0f : i % 89 == 0 ? 1e-30f : r * (i % 3 == 0 ? 200.0f : 12.0f);
        u[i] = 2.0f * r + 0.25f;
    }
    ref->swiglu(1031, g, u, a);
    sel->swiglu(1031, g, u, b);
    double worst = 0;
    for (int i = 0; i < 1031; i++) {
        const double d = fabs((double)a[i] - (double)b[i]) / (fabs((double)a[i]) > 1e-30 ? fabs((double)a[i]) : 1e-30);
        if (!(d <= worst)) worst = d;
    }
    T_CHECKF(worst <= 1e-6, "worst relative error %g against expf", worst);
    /* the same elements in uneven pieces, and in place */
    for (int i0 = 0, step = 1; i0 < 1031; i0 += step, step = step % 23 + 3) {
        const int n = 1031 - i0 < step ? 1031 - i0 : step;
        sel->swiglu(n, g + i0, u + i0, c + i0);
    }
    T_CHECK(memcmp(b, c, sizeof b) == 0);
    memcpy(c, g, sizeof c);
    sel->swiglu(1031, c, u, c);
    T_CHECK(memcmp(b, c, sizeof b) == 0);
    printf("    %s SwiGLU: worst relative error %.2g against the scalar version\n", sel->name, worst);
}

static unsigned g_seed = 99;
static float frand(void) {
    g_seed = g_seed * 1103515245u + 12345u;
    return (float)((g_seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* n rows of d random values in type t, stride bytes apart (the gaps random bytes too) */
static void fill_rows(zeta_type t, int d, int n, uint8_t *dst, size_t stride, float scale) {
    float x[512];
    for (size_t i = 0; i < (size_t)n * stride; i++) dst[i] = (uint8_t)(frand() * 127.0f);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) x[j] = scale * frand();
        uint8_t *r = dst + (size_t)i * stride;
        switch (t) {
        case ZETA_TYPE_F32: memcpy(r, x, sizeof(float) * (size_t)d); break;
        case ZETA_TYPE_F16: for (int j = 0; j < d; j++) ((zeta_f16 *)r)[j] = zeta_f32_to_f16(x[j]); break;
        case ZETA_TYPE_Q8_0: zk_scalar()->from_float[ZETA_TYPE_Q8_0](x, r, d); break;
        default: quantize_row_q4_0_ref(x, (block_q4_0 *)r, d); break;
        }
    }
}

enum { SS = 136 }; /* score row stride (floats) */
static const zeta_type kv_types[4] = {ZETA_TYPE_F32, ZETA_TYPE_F16, ZETA_TYPE_Q8_0, ZETA_TYPE_Q4_0};
static const int kv_groups[] = {1, 2, 3, 4, 5, 8};
static const int kv_lens[] = {1, 7, 8, 13, 127, 128};

static void kv_score_one(const zk_math *sel, int *cases, int *simd);

static void kv_score_matches_scalar(void) {
    const zk_math *sets[2];
    const int ns = isa_sets(sets);
    int cases = 0, simd = 0;
    kv_score_one(zk_math_scalar(), &cases, &simd); /* the scalar reference against vec_dot alone */
    for (int k = 0; k < ns; k++) kv_score_one(sets[k], &cases, &simd);
    T_CHECK(cases > 300);
    if (!simd) T_SKIP("no SIMD decode kernels on this CPU (scalar reference checked: %d cases)", cases);
}

static void kv_score_one(const zk_math *sel, int *cases_out, int *simd_out) {
    const zk_math *ref = zk_math_scalar();
    const bool is_ref = sel == ref;
    const zk_kernels *sk = zk_scalar();
    static uint8_t k[128 * 3200], q[8 * 1200];
    static float s0[8 * SS], s1[8 * SS];
    int cases = 0, simd = 0;
    for (int ti = 0; ti < 4; ti++) {
        const zeta_type t = kv_types[ti], qt = zk_vec_dot_type(t);
        if (!is_ref && !sel->kv_score[t]) continue;
        const int dims[] = {32, 64, 96, 128, 256, 40, 36}; /* the last two only for the float types */
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
            const int d = dims[di];
            if (d % zeta_type_get(t)->block_size) continue;
            const size_t rb = (size_t)zeta_row_bytes(t, d), qb = (size_t)zeta_row_bytes(qt, d), ks = rb * 3 + 4;
            for (size_t gi = 0; gi < sizeof kv_groups / sizeof kv_groups[0]; gi++)
                for (size_t li = 0; li < sizeof kv_lens / sizeof kv_lens[0]; li++) {
                    const int group = kv_groups[gi], n = kv_lens[li];
                    fill_rows(t, d, n, k, ks, 1.0f);
                    fill_rows(qt, d, group, q, qb, 3.0f);
                    for (int i = 0; i < 8 * SS; i++) s0[i] = s1[i] = NAN;
                    ref->kv_score[t](d, n, k, ks, group, q, qb, s0, SS);
                    /* the reference is the scalar vec_dot, bit for bit */
                    int bad = 0;
                    for (int g = 0; g < group; g++)
                        for (int i = 0; i < n; i++) {
                            float v;
                            sk->vec_dot[t](d, &v, k + (size_t)i * ks, q + (size_t)g * qb);
                            bad += memcmp(&v, &s0[g * SS + i], sizeof v) != 0;
                        }
                    T_CHECKF(bad == 0, "%s d %d group %d n %d: %d scalar scores differ from vec_dot", zeta_type_name(t), d, group, n, bad);
                    cases++;
                    if (is_ref) continue;
                    simd++;
                    sel->kv_score[t](d, n, k, ks, group, q, qb, s1, SS);
                    float worst = 0;
                    for (int g = 0; g < 8; g++)
                        for (int i = 0; i < SS; i++) {
                            const float a = s0[g * SS + i], b = s1[g * SS + i];
                            if (g >= group || i >= n) {
                                bad += !isnan(b); /* nothing written outside */
                            } else if (t == ZETA_TYPE_Q8_0 || t == ZETA_TYPE_Q4_0) {
                                bad += memcmp(&a, &b, sizeof a) != 0;
                            } else {
                                const float e = fabsf(a - b) / (1e-3f * (float)d);
                                if (!(e <= worst)) worst = e;
                            }
                        }
                    T_CHECKF(bad == 0 && worst <= 1e-3f, "%s %s d %d group %d n %d: %d differ, worst %g", sel->name, zeta_type_name(t), d,
                             group, n, bad, (double)worst);
                }
        }
    }
    *cases_out += cases;
    *simd_out += simd;
}

static void kv_accum_one(const zk_math *set, int *simd);

static void kv_accum_matches_scalar(void) {
    const zk_math *sets[2];
    const int ns = isa_sets(sets);
    int simd = 0;
    for (int k = 0; k < ns; k++) kv_accum_one(sets[k], &simd);
    if (!simd) T_SKIP("no SIMD decode kernels on this CPU");
}

static void kv_accum_one(const zk_math *set, int *simd_out) {
    const zk_math *ref = zk_math_scalar(), *sel = zk_math_select();
    static uint8_t v[128 * 4200];
    static float s[8 * SS], a0[8 * 512], a1[8 * 512], a2[8 * 512], row[512];
    int simd = 0;
    for (int ti = 0; ti < 4; ti++) {
        const zeta_type t = kv_types[ti];
        const int dims[] = {32, 64, 96, 128, 512, 40, 36};
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
            const int d = dims[di];
            if (d % zeta_type_get(t)->block_size) continue;
            const size_t rb = (size_t)zeta_row_bytes(t, d), vs = rb * 2 + 8;
            for (size_t gi = 0; gi < sizeof kv_groups / sizeof kv_groups[0]; gi++)
                for (size_t li = 0; li < sizeof kv_lens / sizeof kv_lens[0]; li++) {
                    const int group = kv_groups[gi], n = kv_lens[li];
                    fill_rows(t, d, n, v, vs, 2.0f);
                    for (int i = 0; i < 8 * SS; i++) s[i] = 0.5f * (frand() + 1.0f);
                    for (int i = 0; i < 8 * 512; i++) a0[i] = a1[i] = a2[i] = i < group * d ? frand() : NAN;
                    ref->kv_accum[t](d, n, v, vs, group, s, SS, a0);
                    /* what the fused kernel replaces: each row dequantized, then axpy per query head */
                    for (int i = 0; i < n; i++) {
                        zeta_dequantize_row(t, v + (size_t)i * vs, row, d);
                        for (int g = 0; g < group; g++) sel->axpy(d, s[g * SS + i], row, a2 + (size_t)g * d);
                    }
                    if (!set->kv_accum[t]) continue;
                    simd++;
                    set->kv_accum[t](d, n, v, vs, group, s, SS, a1);
                    int bad = 0;
                    float worst = 0;
                    for (int i = 0; i < 8 * 512; i++) {
                        if (i >= group * d) {
                            bad += !isnan(a1[i]);
                            continue;
                        }
                        bad += memcmp(&a1[i], &a2[i], sizeof(float)) != 0;
                        const float e = fabsf(a0[i] - a1[i]) / (1e-5f * (1.0f + (float)n));
                        if (!(e <= worst)) worst = e;
                    }
                    T_CHECKF(bad == 0 && worst <= 1.0f, "%s %s d %d group %d n %d: %d differ from the per-row path, worst %g of the tolerance",
                             set->name, zeta_type_name(t), d, group, n, bad, (double)worst);
                }
        }
    }
    *simd_out += simd;
}

static void math_set_selected(void) {
    const zk_math *sel = zk_math_select();
    const zk_math *sets[2];
    const int ns = isa_sets(sets);
#ifdef ZETA_HAVE_NEON
    T_CHECK(zk_math_neon() != NULL && zk_cpu_has_neon()); /* an AArch64 build always has the NEON set */
#endif
#ifdef ZETA_HAVE_X86
    if (zk_cpu_has_avx512vnni()) T_CHECK(ns == 2 && zk_math_avx512vnni() != NULL);
#endif
    printf("    selected math set: %s\n", sel->name);
    if (!ns) {
        T_CHECKF(strcmp(sel->name, "scalar") == 0, "selected %s, expected scalar", sel->name);
        return;
    }
    /* every fused slot comes from the widest set that has it; the first set has them all */
    T_CHECKF(strcmp(sel->name, sets[ns - 1]->name) == 0, "selected %s, expected %s", sel->name, sets[ns - 1]->name);
    for (int ti = 0; ti < 4; ti++) {
        const zeta_type t = kv_types[ti];
        const zk_math *ws = sets[0], *wa = sets[0];
        for (int k = 1; k < ns; k++) {
            if (sets[k]->kv_score[t]) ws = sets[k];
            if (sets[k]->kv_accum[t]) wa = sets[k];
        }
        T_CHECKF(ws->kv_score[t] && sel->kv_score[t] == ws->kv_score[t], "%s: kv_score of %s not selected", ws->name, zeta_type_name(t));
        T_CHECKF(wa->kv_accum[t] && sel->kv_accum[t] == wa->kv_accum[t], "%s: kv_accum of %s not selected", wa->name, zeta_type_name(t));
    }
    T_CHECK(sets[0]->axpy && sel->axpy == sets[0]->axpy);
    zk_softmax_fn want = zk_softmax_scalar; /* the widest set's softmax; the scalar one where none has it (NEON) */
    for (int k = 0; k < ns; k++)
        if (sets[k]->softmax) want = sets[k]->softmax;
    T_CHECK(sel->softmax == want);
}

/* the entropy's terms (sampler_entropy): every ISA set's version bit for bit against the scalar one,
 * on logits with NaN, +-inf, values far below the maximum, groups of 1..40 */
static void entropy8_matches_scalar(void) {
    const zk_math *ref = zk_math_scalar(), *sets[2];
    const int ns = isa_sets(sets);
    static float l[8 * 40];
    unsigned seed = 11;
    int tested = 0;
    for (int k = 0; k < ns; k++) {
        if (!sets[k]->entropy8) continue;
        printf("    %s entropy8\n", sets[k]->name);
        tested++;
        for (int n8 = 1; n8 <= 40; n8 += 13)
            for (int sp = 0; sp < 4; sp++) {
                float mx = -INFINITY;
                for (int i = 0; i < 8 * n8; i++) {
                    seed = seed * 1103515245u + 12345u;
                    const unsigned r = seed >> 8;
                    l[i] = r % 53 == 0 ? NAN : r % 47 == 0 ? -INFINITY : r % 61 == 0 ? INFINITY
                           : (sp == 3 ? 100.0f : 1.0f) * (float)(sp + 1) * ((float)(r & 0xffff) / 65536.0f - 0.5f);
                    if (l[i] > mx) mx = l[i];
                }
                if (mx == INFINITY) mx = 3.4028235e38f;
                float a[8] = {0}, b[8] = {0}, c[8] = {0}, d[8] = {0};
                ref->entropy8(l, n8, mx, a, b);
                sets[k]->entropy8(l, n8, mx, c, d);
                T_CHECKF(!memcmp(a, c, sizeof a) && !memcmp(b, d, sizeof b), "%s entropy8: %d groups, spread %d differ from scalar",
                         sets[k]->name, n8, sp);
            }
    }
    T_CHECK(zk_math_select()->entropy8 != NULL);
    if (!tested) T_SKIP("no SIMD entropy terms on this CPU");
}

int main(void) {
    T_RUN(math_set_selected);
    T_RUN(entropy8_matches_scalar);
    T_RUN(softmax_simd_matches_scalar);
    T_RUN(kv_score_matches_scalar);
    T_RUN(kv_accum_matches_scalar);
    T_RUN(swiglu_matches_scalar);
    return t_done();
}
