/* test_gemm_f.c — tests of the row-major F32 / F16 / BF16 products of gemm_f.h: the scalar table
 * equals the scalar vec_dot bit for bit (it is the spec), and every SIMD table this machine can run
 * matches the scalar table within f32 tolerance relative to sum |w*x|, over odd k, row and token
 * counts, strides larger than the rows, NaN-prefilled outputs (written exactly where asked). */
#include "test.h"
#include "cpu/gemm_f.h"
#include "cpu/kernels.h"
#include "quant.h"

#include <math.h>
#include <stdint.h>

static uint64_t g_rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd_u32(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float rnd_unit(void) { return (float)(rnd_u32() & 0xffffff) / 16777216.0f * 2.0f - 1.0f; } /* [-1, 1) */
static float f32_nan(void) { return zeta_bits_to_f32(0x7fc00000u); }

static const zeta_type k_types[] = {ZETA_TYPE_F32, ZETA_TYPE_F16, ZETA_TYPE_BF16};

static size_t elem_size(zeta_type t) { return t == ZETA_TYPE_F32 ? 4 : 2; }

/* a random weight value with some zeros, tiny (f16 subnormal) and large entries */
static float rnd_weight(void) {
    const uint32_t u = rnd_u32() % 64;
    if (u == 0) return 0.0f;
    if (u == 1) return rnd_unit() * 3e-6f;
    if (u == 2) return rnd_unit() * 300.0f;
    return rnd_unit();
}

/* n_rows rows of k weights of type t, w_stride bytes apart (padding filled with garbage) */
static uint8_t *make_rows(zeta_type t, int64_t k, int n_rows, size_t w_stride) {
    uint8_t *w = malloc(w_stride * (size_t)(n_rows > 0 ? n_rows : 1));
    for (size_t i = 0; i < w_stride * (size_t)n_rows; i++) w[i] = (uint8_t)rnd_u32();
    for (int r = 0; r < n_rows; r++) {
        uint8_t *row = w + (size_t)r * w_stride;
        for (int64_t i = 0; i < k; i++) {
            const float v = rnd_weight();
            if (t == ZETA_TYPE_F32) ((float *)row)[i] = v;
            else if (t == ZETA_TYPE_F16) ((zeta_f16 *)row)[i] = zeta_f32_to_f16(v);
            else ((zeta_bf16 *)row)[i] = zeta_f32_to_bf16(v);
        }
    }
    return w;
}

static float w_at(zeta_type t, const uint8_t *row, int64_t i) {
    if (t == ZETA_TYPE_F32) return ((const float *)row)[i];
    if (t == ZETA_TYPE_F16) return zeta_f16_to_f32(((const zeta_f16 *)row)[i]);
    return zeta_bf16_to_f32(((const zeta_bf16 *)row)[i]);
}

static const zk_gemmf_table *simd_table(void) {
    const zk_gemmf_table *t = zk_gemmf_avx2();
    return t && zk_cpu_has_avx2() ? t : NULL;
}

/* ---- the scalar table is the scalar vec_dot ---------------------------------------------------- */

static void test_scalar_is_vec_dot(void) {
    const int64_t ks[] = {1, 8, 172, 2051};
    for (size_t ti = 0; ti < sizeof k_types / sizeof k_types[0]; ti++) {
        const zeta_type t = k_types[ti];
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
            const int64_t k = ks[ki];
            const int n_rows = 5, n_tok = 3;
            const size_t ws = (size_t)k * elem_size(t) + 12, xs = (size_t)k + 3, ys = (size_t)n_rows + 2;
            uint8_t *w = make_rows(t, k, n_rows, ws);
            float *x = malloc(xs * n_tok * sizeof(float)), *y = malloc(ys * n_tok * sizeof(float));
            for (size_t i = 0; i < xs * n_tok; i++) x[i] = rnd_unit() * 2.0f;
            zk_gemmf_scalar()->gemm[t](k, w, ws, n_rows, x, xs, n_tok, y, ys);
            int bad = 0;
            for (int tk = 0; tk < n_tok; tk++)
                for (int r = 0; r < n_rows; r++) {
                    float ref = f32_nan();
                    zk_scalar()->vec_dot[t](k, &ref, w + (size_t)r * ws, x + (size_t)tk * xs);
                    bad += memcmp(&ref, &y[(size_t)tk * ys + (size_t)r], sizeof ref) != 0;
                }
            T_CHECKF(bad == 0, "%s k=%lld: %d results differ from the scalar vec_dot", zeta_type_name(t), (long long)k, bad);
            free(w); free(x); free(y);
        }
    }
}

static void test_tables(void) {
    const zk_gemmf_table *s = zk_gemmf_select();
    T_CHECK(s != NULL && s->name != NULL);
    for (size_t ti = 0; ti < sizeof k_types / sizeof k_types[0]; ti++) {
        T_CHECK(zk_gemmf_scalar()->gemm[k_types[ti]] != NULL);
        /* only SIMD slots are selected: on a CPU without one the row-by-row vec_dot is used */
        T_CHECK((s->gemm[k_types[ti]] != NULL) == (simd_table() != NULL));
    }
    T_CHECK(s == zk_gemmf_select());
    if (simd_table()) T_CHECKF(strcmp(s->name, "avx2") == 0, "selected %s on an AVX2 machine", s->name);
}

/* ---- SIMD vs scalar ------------------------------------------------------------------------------ */

/* One product of the SIMD table against the scalar one; returns the worst error relative to
 * sum |w*x| and counts failures in *bad (out-of-tolerance, NaN, or writes outside the outputs). */
static double check_one(const zk_gemmf_table *simd, zeta_type t, int64_t k, int n_rows, int n_tok, double tol, int *bad) {
    const size_t ws = (size_t)k * elem_size(t) + 3 * elem_size(t) + 4 * (rnd_u32() % 3);
    const size_t xs = (size_t)k + 1 + rnd_u32() % 9, ys = (size_t)n_rows + 1 + rnd_u32() % 5;
    uint8_t *w = make_rows(t, k, n_rows, ws);
    float *x = malloc(xs * (size_t)n_tok * sizeof(float));
    for (size_t i = 0; i < xs * (size_t)n_tok; i++) x[i] = rnd_unit() * (i % 97 == 0 ? 50.0f : 1.5f);
    const size_t ny = ys * (size_t)n_tok;
    float *ref = malloc(ny * sizeof(float)), *got = malloc(ny * sizeof(float));
    for (size_t i = 0; i < ny; i++) ref[i] = got[i] = f32_nan();
    zk_gemmf_scalar()->gemm[t](k, w, ws, n_rows, x, xs, n_tok, ref, ys);
    simd->gemm[t](k, w, ws, n_rows, x, xs, n_tok, got, ys);
    double worst = 0;
    for (int tk = 0; tk < n_tok; tk++) {
        const float *xt = x + (size_t)tk * xs;
        for (size_t r = 0; r < ys; r++) {
            const float g = got[(size_t)tk * ys + r], e = ref[(size_t)tk * ys + r];
            if (r >= (size_t)n_rows) { /* padding: must stay untouched */
                if (!isnan(g)) (*bad)++;
                continue;
            }
            const uint8_t *row = w + r * ws;
            double scale = 0;
            for (int64_t i = 0; i < k; i++) scale += fabs((double)w_at(t, row, i) * (double)xt[i]);
            const double err = fabs((double)g - (double)e) / (scale > 0 ? scale : 1);
            if (isnan(g) || isnan(e) || !(err <= tol)) {
                if (*bad < 5)
                    printf("    %s k=%lld rows=%d tok=%d: (r=%zu, t=%d) ref %.9g got %.9g rel err %.3g\n", zeta_type_name(t),
                           (long long)k, n_rows, n_tok, r, tk, (double)e, (double)g, err);
                (*bad)++;
            }
            if (err > worst) worst = err;
        }
    }
    free(w); free(x); free(ref); free(got);
    return worst;
}

static void check_type(zeta_type t) {
    const zk_gemmf_table *simd = simd_table();
    if (!simd) T_SKIP("no SIMD gemm_f table compiled in or supported by this CPU");
    const int64_t ks[] = {64, 172, 2048, 2051};
    const int counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 64};
    const int toks[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 33};
    double worst = 0;
    int bad = 0;
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
        for (size_t ri = 0; ri < sizeof counts / sizeof counts[0]; ri++)
            for (size_t ni = 0; ni < sizeof toks / sizeof toks[0]; ni++) {
                const double e = check_one(simd, t, ks[ki], counts[ri], toks[ni], 1e-5, &bad);
                if (e > worst) worst = e;
            }
    /* row blocking: many short rows in one block, and several blocks of long rows */
    double e = check_one(simd, t, 64, 200, 11, 1e-5, &bad);
    if (e > worst) worst = e;
    e = check_one(simd, t, 7, 53, 6, 1e-5, &bad);
    if (e > worst) worst = e;
    e = check_one(simd, t, 5000, 75, 5, 1e-5, &bad);
    if (e > worst) worst = e;
    T_CHECKF(bad == 0, "%s: %d outputs wrong", zeta_type_name(t), bad);
    printf("    %s %s: worst error %.2g of sum|w*x|\n", simd->name, zeta_type_name(t), worst);
}

static void test_gemm_f32(void) { check_type(ZETA_TYPE_F32); }
static void test_gemm_f16(void) { check_type(ZETA_TYPE_F16); }
static void test_gemm_bf16(void) { check_type(ZETA_TYPE_BF16); }

/* Each (row, token) is summed in the same order whatever the tile it falls in, so a SIMD table's
 * results are bit-identical however rows and tokens are split (one token at a time = decode,
 * all at once = prompt, any thread split of the rows). */
static void test_split_invariant(void) {
    const zk_gemmf_table *simd = simd_table();
    if (!simd) T_SKIP("no SIMD gemm_f table compiled in or supported by this CPU");
    for (size_t ti = 0; ti < sizeof k_types / sizeof k_types[0]; ti++) {
        const zeta_type t = k_types[ti];
        const int64_t k = 2051;
        const int n_rows = 61, n_tok = 11;
        const size_t ws = (size_t)k * elem_size(t), xs = (size_t)k, ys = (size_t)n_rows;
        uint8_t *w = make_rows(t, k, n_rows, ws);
        float *x = malloc(xs * n_tok * sizeof(float));
        for (size_t i = 0; i < xs * n_tok; i++) x[i] = rnd_unit();
        float *all = malloc(ys * n_tok * sizeof(float)), *part = malloc(ys * n_tok * sizeof(float));
        simd->gemm[t](k, w, ws, n_rows, x, xs, n_tok, all, ys);
        for (int tk = 0; tk < n_tok; tk++) /* token by token, rows in uneven pieces */
            for (int r0 = 0, step = 1; r0 < n_rows; r0 += step, step = step % 13 + 2) {
                const int nr = n_rows - r0 < step ? n_rows - r0 : step;
                simd->gemm[t](k, w + (size_t)r0 * ws, ws, nr, x + (size_t)tk * xs, xs, 1, part + (size_t)tk * ys + r0, ys);
            }
        T_CHECKF(memcmp(all, part, ys * n_tok * sizeof(float)) == 0, "%s: results depend on the split", zeta_type_name(t));
        free(w); free(x); free(all); free(part);
    }
}

/* empty products: nothing written; k = 0 gives zeros */
static void test_empty(void) {
    const zk_gemmf_table *tabs[2] = {zk_gemmf_scalar(), simd_table()};
    for (int ti = 0; ti < 2; ti++) {
        if (!tabs[ti]) continue;
        for (size_t yi = 0; yi < sizeof k_types / sizeof k_types[0]; yi++) {
            const zeta_type t = k_types[yi];
            float w[16] = {0}, x[16] = {1}, y[16];
            for (int i = 0; i < 16; i++) y[i] = f32_nan();
            tabs[ti]->gemm[t](8, w, 32, 0, x, 8, 2, y, 4);
            tabs[ti]->gemm[t](8, w, 32, 2, x, 8, 0, y, 4);
            int untouched = 0;
            for (int i = 0; i < 16; i++) untouched += isnan(y[i]);
            T_CHECKF(untouched == 16, "%s %s: wrote into an empty product", tabs[ti]->name, zeta_type_name(t));
            tabs[ti]->gemm[t](0, w, 32, 3, x, 8, 2, y, 4);
            T_CHECKF(y[0] == 0 && y[2] == 0 && y[4] == 0 && y[6] == 0 && isnan(y[3]) && isnan(y[8]),
                     "%s %s: k = 0 should give zeros", tabs[ti]->name, zeta_type_name(t));
        }
    }
}

int main(void) {
    T_RUN(test_tables);
    T_RUN(test_scalar_is_vec_dot);
    T_RUN(test_empty);
    T_RUN(test_gemm_f32);
    T_RUN(test_gemm_f16);
    T_RUN(test_gemm_bf16);
    T_RUN(test_split_invariant);
    return t_done();
}
