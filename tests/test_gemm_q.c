/* test_gemm_q.c — tests of the packed 8-row Q4_0 / Q8_0 / Q5_0 / IQ4_NL / Q4_1 / Q5_1 products (gemm.h): synthetic rows
 * (random codes, and every code at an extreme: Q8_0 -128 and 127, Q4_0 / IQ4_NL / Q4_1 nibbles 0 and 15, Q5_0 / Q5_1 codes
 * 0 and 31; Q4_1 / Q5_1 against Q8_1 activations, mins of both signs) are packed; the
 * scalar gemm8 must equal the row-by-row scalar vec_dot (float-order tolerance), and the gemm8 the
 * engine selects for this CPU must match the scalar gemm8 (error relative to sum |w*x|), for token
 * counts that use the 4-token tiles and the 1-token tail, odd and even block counts, an activation
 * stride that is not the row size, NaN-prefilled outputs with padding that must stay untouched. */
#include "test.h"
#include "cpu/gemm.h"
#include "cpu/kernels.h"
#include "quant.h"

#include <math.h>
#include <stdint.h>

static uint64_t g_rng = 0x9d2c5680a5f3b7e1ull;
static uint32_t rnd_u32(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float rnd_unit(void) { return (float)(rnd_u32() & 0xffffff) / 16777216.0f * 2.0f - 1.0f; } /* [-1, 1) */
static float f32_nan(void) { return zeta_bits_to_f32(0x7fc00000u); }

/* weight kinds: 0 random codes (Q8_0: the full int8 range, -128 included, which ggml never writes
 * but a file may hold), 1 every code at its minimum, 2 at its maximum, 3 both (Q8_0: alternating
 * -128 and 127; Q4_0: nibbles 0 in the first half of each block, 15 in the second) */
static void fill_row(zeta_type t, void *row, int64_t nb, int kind) {
    for (int64_t b = 0; b < nb; b++) {
        const zeta_f16 d = zeta_f32_to_f16(0.001f + 0.01f * (rnd_unit() + 1.0f));
        if (t == ZETA_TYPE_Q8_0) {
            block_q8_0 *q = &((block_q8_0 *)row)[b];
            q->d = d;
            for (int i = 0; i < 32; i++)
                q->qs[i] = (int8_t)(kind == 0 ? (int)(rnd_u32() & 0xff) - 128 : kind == 1 ? -128 : kind == 2 ? 127 : i & 1 ? 127 : -128);
        } else if (t == ZETA_TYPE_Q4_1 || t == ZETA_TYPE_Q5_1) { /* Q4_0's / Q5_0's codes, a min of either sign */
            const zeta_f16 m = zeta_f32_to_f16(0.05f * rnd_unit());
            uint8_t *q = t == ZETA_TYPE_Q4_1 ? ((block_q4_1 *)row)[b].qs : ((block_q5_1 *)row)[b].qs;
            if (t == ZETA_TYPE_Q4_1) {
                ((block_q4_1 *)row)[b].d = d;
                ((block_q4_1 *)row)[b].m = m;
            } else {
                block_q5_1 *q5 = &((block_q5_1 *)row)[b];
                q5->d = d;
                q5->m = m;
                for (int i = 0; i < 4; i++) q5->qh[i] = (uint8_t)(kind == 0 ? rnd_u32() & 0xff : kind == 1 ? 0x00 : kind == 2 ? 0xff : i < 2 ? 0x00 : 0xff);
            }
            for (int i = 0; i < 16; i++) q[i] = (uint8_t)(kind == 0 ? rnd_u32() & 0xff : kind == 1 ? 0x00 : kind == 2 ? 0xff : 0xf0);
        } else if (t == ZETA_TYPE_Q5_0) { /* kind 3: codes 0 in the first half of each block, 31 in the second */
            block_q5_0 *q = &((block_q5_0 *)row)[b];
            q->d = d;
            for (int i = 0; i < 16; i++) q->qs[i] = (uint8_t)(kind == 0 ? rnd_u32() & 0xff : kind == 1 ? 0x00 : kind == 2 ? 0xff : 0xf0);
            for (int i = 0; i < 4; i++) q->qh[i] = (uint8_t)(kind == 0 ? rnd_u32() & 0xff : kind == 1 ? 0x00 : kind == 2 ? 0xff : i < 2 ? 0x00 : 0xff);
        } else {
            block_q4_0 *q = &((block_q4_0 *)row)[b];
            q->d = d;
            for (int i = 0; i < 16; i++)
                q->qs[i] = (uint8_t)(kind == 0 ? rnd_u32() & 0xff : kind == 1 ? 0x00 : kind == 2 ? 0xff : 0xf0);
        }
    }
}

/* activation kinds: 0 the selected quantizer on random floats, 1 the same with outliers, 2 all +127,
 * 3 all -127, 4 alternating +-127. Never -128: the quantizer's codes are round(x * 127 / amax), and
 * the SIMD kernels negate activation codes (the sign trick), which -128 would not survive. */
/* the activation type of weight type t (Q8_1 for Q4_1 / Q5_1, else Q8_0): block b's codes, d (and s) */
static bool q81(zeta_type t) { return t == ZETA_TYPE_Q4_1 || t == ZETA_TYPE_Q5_1; }
static int8_t *xcodes(zeta_type t, void *x, int64_t b) { return q81(t) ? ((block_q8_1 *)x)[b].qs : ((block_q8_0 *)x)[b].qs; }
static float xscale(zeta_type t, const void *x, int64_t b) {
    return zeta_f16_to_f32(q81(t) ? ((const block_q8_1 *)x)[b].d : ((const block_q8_0 *)x)[b].d);
}

static void make_activations(zeta_type t, void *x, int64_t nb, int kind, int32_t *xsum) {
    const zeta_type at = q81(t) ? ZETA_TYPE_Q8_1 : ZETA_TYPE_Q8_0;
    const size_t bb = (size_t)zeta_row_bytes(at, 32);
    if (kind <= 1) {
        float buf[32];
        for (int64_t b = 0; b < nb; b++) {
            for (int i = 0; i < 32; i++) buf[i] = rnd_unit() * (kind && rnd_u32() % 17 == 0 ? 30.0f : 1.0f);
            zk_select()->from_float[at](buf, (uint8_t *)x + (size_t)b * bb, 32);
        }
    } else {
        for (int64_t b = 0; b < nb; b++) {
            const zeta_f16 d = zeta_f32_to_f16(0.01f * (float)(b % 7 + 1));
            int8_t *q = xcodes(t, x, b);
            int32_t s = 0;
            for (int i = 0; i < 32; i++) s += q[i] = (int8_t)(kind == 2 ? 127 : kind == 3 ? -127 : (i & 1 ? 127 : -127));
            if (q81(t)) {
                ((block_q8_1 *)x)[b].d = d;
                ((block_q8_1 *)x)[b].s = zeta_f32_to_f16(zeta_f16_to_f32(d) * (float)s);
            } else {
                ((block_q8_0 *)x)[b].d = d;
            }
        }
    }
    for (int64_t b = 0; b < nb; b++) {
        int32_t s = 0;
        const int8_t *q = xcodes(t, x, b);
        for (int i = 0; i < 32; i++) {
            T_CHECK(q[i] != -128);
            s += q[i];
        }
        xsum[b] = s;
    }
}

static double abs_dot(zeta_type t, const void *row, const void *x, int64_t k, float *wa, float *xa) {
    if (t == ZETA_TYPE_Q8_0) dequantize_row_q8_0(row, wa, k);
    else if (t == ZETA_TYPE_Q5_0) dequantize_row_q5_0(row, wa, k);
    else if (t == ZETA_TYPE_IQ4_NL) dequantize_row_iq4_nl(row, wa, k);
    else if (t == ZETA_TYPE_Q4_1) dequantize_row_q4_1(row, wa, k);
    else if (t == ZETA_TYPE_Q5_1) dequantize_row_q5_1(row, wa, k);
    else dequantize_row_q4_0(row, wa, k);
    for (int64_t i = 0; i < k; i++) xa[i] = xscale(t, x, i / 32) * (float)xcodes(t, (void *)x, i / 32)[i % 32];
    double s = 0;
    for (int64_t i = 0; i < k; i++) s += fabs((double)wa[i] * (double)xa[i]);
    return s;
}

#define YPAD 3
#define MAX_TOK 16

/* the SIMD tables this CPU runs (each is checked against the scalar spec, the selected one too) */
static int simd_tables(const zk_gemm_table *tab[2]) {
    int n = 0;
    if (zk_cpu_has_avx2() && zk_gemm_avx2()) tab[n++] = zk_gemm_avx2();
    if (zk_cpu_has_avx512vnni() && zk_gemm_avx512vnni()) tab[n++] = zk_gemm_avx512vnni();
    if (zk_cpu_has_neondot() && zk_gemm_neondot()) tab[n++] = zk_gemm_neondot();
    return n;
}

/* Packs rows[0..8) (k elements each) and checks every token count and activation kind. */
static void check_group(zeta_type t, const uint8_t *const rows[8], int64_t k, double *worst_ref, double worst_simd[2]) {
    static const int n_toks[] = {1, 2, 3, 4, 5, 7, 8, 11, 16};
    const int64_t nb = k / 32;
    const size_t gb = zk_packed_group_bytes(t, k);
    T_CHECK(gb == 8 * (size_t)zeta_row_bytes(t, (uint64_t)k));
    void *packed = malloc(gb);
    if (t == ZETA_TYPE_Q8_0) zk_pack_q8_0x8((const block_q8_0 *const *)rows, nb, packed);
    else if (t == ZETA_TYPE_Q5_0) zk_pack_q5_0x8((const block_q5_0 *const *)rows, nb, packed);
    else if (t == ZETA_TYPE_Q4_1) zk_pack_q4_1x8((const block_q4_1 *const *)rows, nb, packed);
    else if (t == ZETA_TYPE_Q5_1) zk_pack_q5_1x8((const block_q5_1 *const *)rows, nb, packed);
    else zk_pack_q4_0x8((const block_q4_0 *const *)rows, nb, packed); /* Q4_0, IQ4_NL (the same block shape) */
    const zk_gemm8_fn ref = zk_gemm_scalar()->gemm8[t];
    const zk_gemm_table *tab[2];
    const int n_tab = simd_tables(tab);
    const zk_vec_dot_fn dot = zk_scalar()->vec_dot[t];
    const size_t xs = (size_t)zeta_row_bytes(q81(t) ? ZETA_TYPE_Q8_1 : ZETA_TYPE_Q8_0, (uint64_t)k) + 6; /* not the row size */
    uint8_t *x = malloc(xs * MAX_TOK);
    int32_t *xsum = malloc(sizeof(int32_t) * (size_t)nb * MAX_TOK);
    const size_t ys = 8 + YPAD;
    float *yr = malloc(sizeof(float) * ys * MAX_TOK), *yv = malloc(sizeof(float) * ys * MAX_TOK);
    float *wa = malloc(sizeof(float) * (size_t)k), *xa = malloc(sizeof(float) * (size_t)k);
    double mag[8 * MAX_TOK];
    for (int kind = 0; kind < 5; kind++)
        for (size_t ti = 0; ti < sizeof n_toks / sizeof n_toks[0]; ti++) {
            const int n = n_toks[ti];
            for (int c = 0; c < n; c++)
                make_activations(t, x + (size_t)c * xs, nb, (kind + c) % 5, xsum + (size_t)c * (size_t)nb);
            for (size_t i = 0; i < ys * MAX_TOK; i++) yr[i] = f32_nan();
            ref(k, packed, x, xs, xsum, n, yr, ys);
            for (int c = 0; c < n; c++) {
                const void *xc = x + (size_t)c * xs;
                for (int r = 0; r < 8; r++) {
                    float d = f32_nan();
                    dot(k, &d, rows[r], xc);
                    const double m = abs_dot(t, rows[r], xc, k, wa, xa);
                    mag[c * 8 + r] = m > 0 ? m : 1;
                    const float g = yr[(size_t)c * ys + r];
                    const double e = fabs((double)g - (double)d) / mag[c * 8 + r];
                    T_CHECKF(g == g && e <= 1e-6, "%s ref gemm8 k %lld n_tok %d kind %d tok %d row %d: %.9g vs vec_dot %.9g",
                             zeta_type_name(t), (long long)k, n, kind, c, r, (double)g, (double)d);
                    if (e > *worst_ref) *worst_ref = e;
                }
                for (int p = 0; p < YPAD; p++) T_CHECK(isnan(yr[(size_t)c * ys + 8 + p]));
            }
            for (int ti2 = 0; ti2 < n_tab; ti2++) {
                const zk_gemm8_fn simd = tab[ti2]->gemm8[t];
                if (!simd) continue;
                for (size_t q = 0; q < ys * MAX_TOK; q++) yv[q] = f32_nan();
                simd(k, packed, x, xs, xsum, n, yv, ys);
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
                        T_CHECKF(g == g && e <= 1e-5, "%s %s k %lld n_tok %d kind %d tok %d row %d: %.9g vs ref %.9g (rel %.3g)",
                                 tab[ti2]->name, zeta_type_name(t), (long long)k, n, kind, c, r, (double)g, (double)want, e);
                        if (e > worst_simd[ti2]) worst_simd[ti2] = e;
                    }
            }
        }
    free(packed); free(x); free(xsum); free(yr); free(yv); free(wa); free(xa);
}

static void check_type(zeta_type t) {
    /* 1, 2, 3, 9 and 129 blocks: the 1-token tile walks the blocks as two halves, odd counts leave one over */
    static const int64_t ks[] = {32, 64, 96, 288, 4128};
    double worst_ref = 0, worst_simd[2] = {0, 0};
    int groups = 0;
    for (int ki = 0; ki < 5; ki++) {
        const int64_t k = ks[ki];
        const size_t rb = (size_t)zeta_row_bytes(t, (uint64_t)k);
        uint8_t *mem = malloc(rb * 8);
        for (int kind = 0; kind < 4; kind++) {
            const uint8_t *rows[8];
            for (int r = 0; r < 8; r++) {
                /* kinds 1..3 on some rows only, so each lane of a packed vector sees something else */
                fill_row(t, mem + (size_t)r * rb, k / 32, (r & 1) ? kind : 0);
                rows[r] = mem + (size_t)r * rb;
            }
            check_group(t, rows, k, &worst_ref, worst_simd);
            groups++;
        }
        free(mem);
    }
    printf("    %s: %d groups; scalar gemm8 vs vec_dot worst %.2g", zeta_type_name(t), groups, worst_ref);
    const zk_gemm_table *tab[2];
    const int n_tab = simd_tables(tab);
    for (int i = 0; i < n_tab; i++)
        if (tab[i]->gemm8[t]) printf(", %s vs scalar gemm8 worst %.2g", tab[i]->name, worst_simd[i]);
    printf(" (of sum|w*x|)\n");
}

static void test_q8_0(void) { check_type(ZETA_TYPE_Q8_0); }
static void test_q4_0(void) { check_type(ZETA_TYPE_Q4_0); }
static void test_q5_0(void) { check_type(ZETA_TYPE_Q5_0); }
static void test_iq4_nl(void) { check_type(ZETA_TYPE_IQ4_NL); }
static void test_q4_1(void) { check_type(ZETA_TYPE_Q4_1); }
static void test_q5_1(void) { check_type(ZETA_TYPE_Q5_1); }

int main(void) {
    T_RUN(test_q8_0);
    T_RUN(test_q4_0);
    T_RUN(test_q5_0);
    T_RUN(test_iq4_nl);
    T_RUN(test_q4_1);
    T_RUN(test_q5_1);
    return t_done();
}
