/* test_gemm_f8.c — tests of the packed 8-row F16 / BF16 products (gemm.h, block_f16x8): the layout
 * (zk_pack_f16x8 puts element 16 b + e of row r at block b, v[r][e]; no packed form when k is not a
 * multiple of 16), the scalar gemm8 against the row-by-row scalar vec_dot, and every SIMD table this
 * CPU runs that has the slot against the scalar gemm8 (error relative to sum |w*x|), for token counts
 * that use the 3-, 2- and 1-token tiles, an activation stride that is not the row size, and
 * NaN-prefilled outputs with padding that must stay untouched; and that the SIMD results do not
 * depend on the token count (decode and prompt give the same bits). Weights include subnormal, signed
 * zero and large values. */
#include "test.h"
#include "cpu/gemm.h"
#include "cpu/kernels.h"
#include "quant.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static uint64_t g_rng = 0x51f15e3c0ffee123ull;
static uint32_t rnd_u32(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float rnd_unit(void) { return (float)(rnd_u32() & 0xffffff) / 16777216.0f * 2.0f - 1.0f; } /* [-1, 1) */
static float f32_nan(void) { return zeta_bits_to_f32(0x7fc00000u); }

static float to_f32(zeta_type t, uint16_t h) { return t == ZETA_TYPE_BF16 ? zeta_bf16_to_f32(h) : zeta_f16_to_f32(h); }

/* a random weight; one in 16 a special value: subnormal, -0, +-65504 (f16's largest finite; bf16
 * 65280: its own largest, 3.4e38, would overflow the sums to inf) */
static uint16_t rnd_weight(zeta_type t) {
    const uint32_t s = rnd_u32() % 16;
    if (t == ZETA_TYPE_F16) {
        switch (s) {
        case 0: return (uint16_t)(0x0001 + rnd_u32() % 0x3ff); /* subnormal */
        case 1: return 0x8000;                                 /* -0 */
        case 2: return 0x7bff;                                 /* 65504 */
        case 3: return 0xfbff;
        default: return zeta_f32_to_f16(rnd_unit() * 2.0f);
        }
    }
    switch (s) {
    case 0: return (uint16_t)(0x0001 + rnd_u32() % 0x7f); /* subnormal */
    case 1: return 0x8000;
    case 2: return 0x477f;                                /* 65280 */
    case 3: return 0xc77f;
    default: return (uint16_t)(zeta_f32_to_bits(rnd_unit() * 2.0f) >> 16);
    }
}

#define YPAD 3
#define MAX_TOK 16

static int simd_tables(const zk_gemm_table *tab[2]) {
    int n = 0;
    if (zk_cpu_has_avx2() && zk_gemm_avx2()) tab[n++] = zk_gemm_avx2();
    if (zk_cpu_has_avx512vnni() && zk_gemm_avx512vnni()) tab[n++] = zk_gemm_avx512vnni();
    return n;
}

static void test_layout(void) {
    T_CHECK(zk_packed_group_bytes(ZETA_TYPE_F16, 48) == 48 * 16);
    T_CHECK(zk_packed_group_bytes(ZETA_TYPE_BF16, 4096) == 4096 * 16);
    T_CHECK(zk_packed_group_bytes(ZETA_TYPE_F16, 40) == 0); /* not a multiple of 16: stays row-major */
    T_CHECK(zk_packed_group_bytes(ZETA_TYPE_F32, 64) == 0);
    const int64_t k = 48;
    uint16_t mem[8][48];
    const uint16_t *rows[8];
    for (int r = 0; r < 8; r++) {
        for (int i = 0; i < k; i++) mem[r][i] = (uint16_t)(r * 1000 + i);
        rows[r] = mem[r];
    }
    block_f16x8 out[3];
    zk_pack_f16x8(rows, k, out);
    int bad = 0;
    for (int b = 0; b < 3; b++)
        for (int r = 0; r < 8; r++)
            for (int e = 0; e < 16; e++) bad += out[b].v[r][e] != mem[r][16 * b + e];
    T_CHECKF(bad == 0, "%d values out of place", bad);
    /* the packed group is the file's bits, moved: 8 rows x k values, nothing else */
    T_CHECK(sizeof out == 8 * (size_t)k * 2);
}

static void check_group(zeta_type t, int64_t k, double *worst_ref, double worst_simd[2], int *n_simd) {
    static const int n_toks[] = {1, 2, 3, 4, 5, 6, 7, 9, 11, 16};
    const size_t gb = zk_packed_group_bytes(t, k);
    T_CHECK(gb == 8 * (size_t)k * 2);
    uint16_t *mem = malloc(8 * (size_t)k * 2);
    const uint16_t *rows[8];
    for (int r = 0; r < 8; r++) {
        for (int64_t i = 0; i < k; i++) mem[(size_t)r * k + i] = rnd_weight(t);
        rows[r] = mem + (size_t)r * k;
    }
    block_f16x8 *packed = malloc(gb);
    zk_pack_f16x8(rows, k, packed);
    const size_t xs = (size_t)k * sizeof(float) + 12; /* a stride that is not the row size */
    uint8_t *x = malloc(xs * MAX_TOK);
    const size_t ys = 8 + YPAD;
    float *yr = malloc(sizeof(float) * ys * MAX_TOK), *yv = malloc(sizeof(float) * ys * MAX_TOK);
    double mag[8 * MAX_TOK];
    const zk_gemm8_fn ref = zk_gemm_scalar()->gemm8[t];
    const zk_vec_dot_fn dot = zk_scalar()->vec_dot[t];
    T_CHECK(ref && dot && zk_vec_dot_type(t) == ZETA_TYPE_F32);
    const zk_gemm_table *tab[2];
    const int n_tab = simd_tables(tab);
    for (size_t ti = 0; ti < sizeof n_toks / sizeof n_toks[0]; ti++) {
        const int n = n_toks[ti];
        for (int c = 0; c < n; c++) {
            float *xc = (float *)(x + (size_t)c * xs);
            for (int64_t i = 0; i < k; i++) xc[i] = rnd_unit() * (rnd_u32() % 23 == 0 ? 40.0f : 1.0f);
        }
        for (size_t i = 0; i < ys * MAX_TOK; i++) yr[i] = f32_nan();
        ref(k, packed, x, xs, NULL, n, yr, ys);
        for (int c = 0; c < n; c++) {
            const float *xc = (const float *)(x + (size_t)c * xs);
            for (int r = 0; r < 8; r++) {
                float d = f32_nan();
                dot(k, &d, rows[r], xc);
                double m = 0;
                for (int64_t i = 0; i < k; i++) m += fabs((double)to_f32(t, rows[r][i]) * (double)xc[i]);
                mag[c * 8 + r] = m > 0 ? m : 1;
                const float g = yr[(size_t)c * ys + r];
                const double e = fabs((double)g - (double)d) / mag[c * 8 + r];
                T_CHECKF(g == g && e <= 1e-6, "%s ref gemm8 k %lld n_tok %d tok %d row %d: %.9g vs vec_dot %.9g", zeta_type_name(t),
                         (long long)k, n, c, r, (double)g, (double)d);
                if (e > *worst_ref) *worst_ref = e;
            }
            for (int p = 0; p < YPAD; p++) T_CHECK(isnan(yr[(size_t)c * ys + 8 + p]));
        }
        for (int ti2 = 0; ti2 < n_tab; ti2++) {
            const zk_gemm8_fn simd = tab[ti2]->gemm8[t];
            if (!simd) continue;
            n_simd[ti2]++;
            for (size_t q = 0; q < ys * MAX_TOK; q++) yv[q] = f32_nan();
            simd(k, packed, x, xs, NULL, n, yv, ys);
            for (int c = 0; c < MAX_TOK; c++)
                for (int r = 0; r < 8 + YPAD; r++) {
                    const float g = yv[(size_t)c * ys + r];
                    if (c >= n || r >= 8) {
                        T_CHECKF(isnan(g), "%s %s n_tok %d: wrote outside the output (tok %d, lane %d)", tab[ti2]->name,
                                 zeta_type_name(t), n, c, r);
                        continue;
                    }
                    const float want = yr[(size_t)c * ys + r];
                    const double e = fabs((double)g - (double)want) / mag[c * 8 + r];
                    T_CHECKF(g == g && e <= 1e-5, "%s %s k %lld n_tok %d tok %d row %d: %.9g vs ref %.9g (rel %.3g)", tab[ti2]->name,
                             zeta_type_name(t), (long long)k, n, c, r, (double)g, (double)want, e);
                    if (e > worst_simd[ti2]) worst_simd[ti2] = e;
                }
            /* each (row, token) summed in the same order whatever the token count: one token at a
             * time (decode) gives the bits of all at once (a prompt, ULTIMATE's verification) */
            float one[8];
            int diff = 0;
            for (int c = 0; c < n; c++) {
                simd(k, packed, x + (size_t)c * xs, xs, NULL, 1, one, 8);
                diff += memcmp(one, yv + (size_t)c * ys, sizeof one) != 0;
            }
            T_CHECKF(diff == 0, "%s %s k %lld n_tok %d: %d tokens differ from their one-token product", tab[ti2]->name, zeta_type_name(t),
                     (long long)k, n, diff);
        }
    }
    free(mem); free(packed); free(x); free(yr); free(yv);
}

static void check_type(zeta_type t) {
    static const int64_t ks[] = {16, 48, 512, 2064};
    double worst_ref = 0, worst_simd[2] = {0, 0};
    int n_simd[2] = {0, 0};
    for (int rep = 0; rep < 3; rep++)
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) check_group(t, ks[ki], &worst_ref, worst_simd, n_simd);
    printf("    %s: scalar gemm8 vs vec_dot worst %.2g", zeta_type_name(t), worst_ref);
    const zk_gemm_table *tab[2];
    const int n_tab = simd_tables(tab);
    for (int i = 0; i < n_tab; i++)
        if (n_simd[i]) printf(", %s vs scalar gemm8 worst %.2g (%d cases)", tab[i]->name, worst_simd[i], n_simd[i]);
    printf(" (of sum|w*x|)\n");
}

static void test_f16(void) { check_type(ZETA_TYPE_F16); }
static void test_bf16(void) { check_type(ZETA_TYPE_BF16); }

/* which tables pack these types: the selected one decides whether the engine repacks at load */
static void test_selection(void) {
    const zk_gemm_table *sel = zk_gemm_select();
    const bool packs = sel->gemm8[ZETA_TYPE_F16] != NULL;
    printf("    selected gemm table %s: F16 / BF16 weights %s\n", sel->name, packs ? "packed (block_f16x8)" : "row-major (gemm_f.h)");
    T_CHECK(packs == (sel->gemm8[ZETA_TYPE_BF16] != NULL));
    if (zk_gemm_avx2()) T_CHECK(zk_gemm_avx2()->gemm8[ZETA_TYPE_F16] == NULL); /* see gemm.h: AVX2 keeps row-major */
}

int main(void) {
    T_RUN(test_layout);
    T_RUN(test_f16);
    T_RUN(test_bf16);
    T_RUN(test_selection);
    return t_done();
}
