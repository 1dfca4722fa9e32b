/* test_gemm_k.c — tests of the packed 8-row Q2_K / Q3_K / Q4_K / Q5_K / Q6_K / IQ4_XS products (gemm_k.h): real tensors of the
 * zoo models and synthetic blocks (random bytes, extreme codes that reach the int16 limits) are
 * packed; the scalar gemm8 must equal the row-by-row scalar vec_dot (float-order tolerance), and
 * every SIMD gemm8 this CPU runs the scalar gemm8 (error relative to sum |w*x|), for several token
 * counts, NaN-prefilled outputs with padding that must stay untouched. */
#include "test.h"
#include "cpu/gemm_k.h"
#include "cpu/kernels.h"
#include "cpu/kernels_k.h"
#include "cpu/kernels_iqk.h"
#include "gguf.h"
#include "quant.h"

#include <math.h>
#include <stdint.h>

static uint64_t g_rng = 0x13198a2e03707344ull;
static uint32_t rnd_u32(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float rnd_unit(void) { return (float)(rnd_u32() & 0xffffff) / 16777216.0f * 2.0f - 1.0f; } /* [-1, 1) */
static float f32_nan(void) { return zeta_bits_to_f32(0x7fc00000u); }

static gguf_file *open_model(const char *name) {
    static const char *dirs[] = {"tests/data/models", "../shared/goldens/models", "../shared/models"};
    for (int i = 0; i < 3; i++) {
        char path[256];
        gguf_file *g = NULL;
        snprintf(path, sizeof path, "%s/%s", dirs[i], name);
        if (gguf_open(path, true, &g, NULL) == ZETA_OK) return g;
    }
    return NULL;
}

/* ---- the check of one 8-row group ------------------------------------------------------------ */

typedef struct {
    const char *name;
    zk_gemm8_fn fn;
} impl;

static int simd_impls(impl *out) {
    int n = 0;
#ifdef ZETA_HAVE_X86
    if (zk_cpu_has_avx2()) out[n++] = (impl){"avx2", NULL};
    if (zk_cpu_has_avx512vnni()) out[n++] = (impl){"avx512vnni", NULL};
#endif
    if (zk_cpu_has_neondot() && zk_gemm_neondot()) out[n++] = (impl){"neondot", NULL};
    return n;
}

static zk_gemm8_fn simd_fn(const char *name, zeta_type t) {
#ifdef ZETA_HAVE_X86
    if (!strcmp(name, "avx2"))
        return t == ZETA_TYPE_Q4_K ? zk_gemm8_q4_K_avx2 : t == ZETA_TYPE_Q5_K ? zk_gemm8_q5_K_avx2 : t == ZETA_TYPE_Q6_K ? zk_gemm8_q6_K_avx2
             : t == ZETA_TYPE_IQ4_XS ? zk_gemm8_iq4_xs_avx2 : t == ZETA_TYPE_Q2_K ? zk_gemm8_q2_K_avx2 : zk_gemm8_q3_K_avx2;
    if (!strcmp(name, "avx512vnni"))
        return t == ZETA_TYPE_Q4_K ? zk_gemm8_q4_K_avx512vnni : t == ZETA_TYPE_Q5_K ? zk_gemm8_q5_K_avx512vnni
             : t == ZETA_TYPE_Q3_K ? zk_gemm8_q3_K_avx512vnni : t == ZETA_TYPE_IQ4_XS ? zk_gemm8_iq4_xs_avx512vnni
             : t == ZETA_TYPE_Q2_K ? zk_gemm8_q2_K_avx512vnni
                                   : zk_gemm8_q6_K_avx512vnni;
#endif
    if (!strcmp(name, "neondot") && zk_gemm_neondot()) return zk_gemm_neondot()->gemm8[t]; /* NULL for the types it lacks */
    (void)name; (void)t;
    return NULL;
}

/* activation kinds: 0 random, 1 random with outliers, 2 all +127, 3 all -128, 4 alternating extremes */
static void make_activations(block_q8_K *x, int64_t nb, int kind) {
    float buf[QK_K];
    for (int64_t b = 0; b < nb; b++) {
        if (kind <= 1) {
            for (int i = 0; i < QK_K; i++) buf[i] = rnd_unit() * (kind && rnd_u32() % 17 == 0 ? 30.0f : 1.0f);
            quantize_row_q8_K_ref(buf, &x[b], QK_K);
            continue;
        }
        x[b].d = 0.01f * (float)(b + 1);
        for (int i = 0; i < QK_K; i++) x[b].qs[i] = (int8_t)(kind == 2 ? 127 : kind == 3 ? -128 : ((i / 4) & 1 ? 127 : -128));
        for (int j = 0; j < 16; j++) {
            int s = 0;
            for (int i = 0; i < 16; i++) s += x[b].qs[16 * j + i];
            x[b].bsums[j] = (int16_t)s;
        }
    }
}

static double abs_dot(zeta_type t, const void *row, const block_q8_K *x, int64_t k, float *wa, float *xa) {
    if (t == ZETA_TYPE_Q4_K) dequantize_row_q4_K(row, wa, k);
    else if (t == ZETA_TYPE_Q5_K) dequantize_row_q5_K(row, wa, k);
    else if (t == ZETA_TYPE_Q3_K) dequantize_row_q3_K(row, wa, k);
    else if (t == ZETA_TYPE_Q2_K) dequantize_row_q2_K(row, wa, k);
    else if (t == ZETA_TYPE_IQ4_XS) dequantize_row_iq4_xs(row, wa, k);
    else dequantize_row_q6_K(row, wa, k);
    dequantize_row_q8_K(x, xa, k);
    double s = 0;
    for (int64_t i = 0; i < k; i++) s += fabs((double)wa[i] * (double)xa[i]);
    return s;
}

typedef struct {
    double worst_ref;    /* scalar gemm8 vs row-by-row scalar vec_dot */
    double worst_simd;   /* SIMD gemm8 vs scalar gemm8 */
    int groups;
} stats;

#define YPAD 3

/* Packs rows[0..8) (k elements each), runs every token count and activation kind. */
static void check_group(zeta_type t, const uint8_t *const rows[8], int64_t k, int kinds, stats *st) {
    static const int n_toks[] = {1, 2, 3, 4, 5, 7, 8, 11, 16};
    const int64_t nb = k / QK_K;
    const size_t gb = zk_packed_group_bytes_k(t, k);
    T_CHECK(gb == 8 * (size_t)zeta_row_bytes(t, (uint64_t)k));
    void *packed = malloc(gb);
    if (t == ZETA_TYPE_Q4_K) zk_pack_q4_Kx8((const block_q4_K *const *)rows, nb, packed);
    else if (t == ZETA_TYPE_Q5_K) zk_pack_q5_Kx8((const block_q5_K *const *)rows, nb, packed);
    else if (t == ZETA_TYPE_Q3_K) zk_pack_q3_Kx8((const block_q3_K *const *)rows, nb, packed);
    else if (t == ZETA_TYPE_Q2_K) zk_pack_q2_Kx8((const block_q2_K *const *)rows, nb, packed);
    else if (t == ZETA_TYPE_IQ4_XS) zk_pack_iq4_xsx8((const block_iq4_xs *const *)rows, nb, packed);
    else zk_pack_q6_Kx8((const block_q6_K *const *)rows, nb, packed);
    const zk_gemm8_fn ref = t == ZETA_TYPE_Q4_K ? zk_gemm8_q4_K_ref : t == ZETA_TYPE_Q5_K ? zk_gemm8_q5_K_ref
                          : t == ZETA_TYPE_Q3_K ? zk_gemm8_q3_K_ref : t == ZETA_TYPE_IQ4_XS ? zk_gemm8_iq4_xs_ref
                          : t == ZETA_TYPE_Q2_K ? zk_gemm8_q2_K_ref : zk_gemm8_q6_K_ref;
    const zk_vec_dot_fn dot = t == ZETA_TYPE_Q4_K ? zk_vec_dot_q4_K_scalar : t == ZETA_TYPE_Q5_K ? zk_vec_dot_q5_K_scalar
                            : t == ZETA_TYPE_Q3_K ? zk_vec_dot_q3_K_scalar : t == ZETA_TYPE_IQ4_XS ? zk_vec_dot_iq4_xs_scalar
                            : t == ZETA_TYPE_Q2_K ? zk_vec_dot_q2_K_scalar : zk_vec_dot_q6_K_scalar;
    impl im[4];
    const int n_im = simd_impls(im);
    const int max_tok = 16;
    const size_t xs = (size_t)nb * sizeof(block_q8_K) + 8; /* a stride that is not the row size */
    uint8_t *x = malloc(xs * max_tok);
    const size_t ys = 8 + YPAD;
    float *yr = malloc(sizeof(float) * ys * max_tok), *yv = malloc(sizeof(float) * ys * max_tok), *y2 = malloc(sizeof(float) * ys * max_tok);
    float *wa = malloc(sizeof(float) * (size_t)k), *xa = malloc(sizeof(float) * (size_t)k);
    double *mag = malloc(sizeof(double) * 8 * max_tok);
    for (int kind = 0; kind < kinds; kind++)
        for (size_t ti = 0; ti < sizeof n_toks / sizeof n_toks[0]; ti++) {
            const int n = n_toks[ti];
            for (int c = 0; c < n; c++) make_activations((block_q8_K *)(x + (size_t)c * xs), nb, (kind + c) % kinds);
            for (size_t i = 0; i < ys * max_tok; i++) yr[i] = f32_nan();
            ref(k, packed, x, xs, NULL, n, yr, ys);
            for (int c = 0; c < n; c++) {
                const block_q8_K *xc = (const block_q8_K *)(x + (size_t)c * xs);
                for (int r = 0; r < 8; r++) {
                    float d = f32_nan();
                    dot(k, &d, rows[r], xc);
                    const double m = abs_dot(t, rows[r], xc, k, wa, xa);
                    mag[c * 8 + r] = m > 0 ? m : 1;
                    const float g = yr[(size_t)c * ys + r];
                    const double e = fabs((double)g - (double)d) / mag[c * 8 + r];
                    T_CHECKF(g == g && e <= 1e-6, "%s ref gemm8 n_tok %d kind %d tok %d row %d: %.9g vs vec_dot %.9g",
                             zeta_type_name(t), n, kind, c, r, (double)g, (double)d);
                    if (e > st->worst_ref) st->worst_ref = e;
                }
                for (int p = 0; p < YPAD; p++) T_CHECK(isnan(yr[(size_t)c * ys + 8 + p]));
            }
            /* AVX2 IQ4_XS multiplies by |w| and y * sign(w), exact for the activations the Q8_K quantizers
             * make ([-127, 127]); the synthetic all -128 kinds (3, 4) are outside that */
            const bool avx2_127 = t == ZETA_TYPE_IQ4_XS;
            for (int i = 0; i < n_im; i++) {
                const zk_gemm8_fn f = simd_fn(im[i].name, t);
                if (!f) continue;
                const bool only127 = avx2_127 && !strcmp(im[i].name, "avx2");
                for (size_t q = 0; q < ys * max_tok; q++) yv[q] = f32_nan();
                f(k, packed, x, xs, NULL, n, yv, ys);
                if (!strcmp(im[i].name, "avx512vnni") && simd_fn("avx2", t)) { /* its integer sums and float steps are AVX2's: the same bits */
                    simd_fn("avx2", t)(k, packed, x, xs, NULL, n, y2, ys);
                    bool same = true;
                    for (int c = 0; c < n; c++)
                        if (!(avx2_127 && (kind + c) % kinds >= 3))
                            same = same && memcmp(y2 + (size_t)c * ys, yv + (size_t)c * ys, 8 * sizeof(float)) == 0;
                    T_CHECKF(same, "avx512vnni %s n_tok %d kind %d: not the AVX2 kernel's bits", zeta_type_name(t), n, kind);
                }
                for (int c = 0; c < max_tok; c++)
                    for (int r = 0; r < 8 + YPAD; r++) {
                        const float g = yv[(size_t)c * ys + r];
                        if (c >= n || r >= 8) {
                            T_CHECKF(isnan(g), "%s %s n_tok %d: wrote outside the output (tok %d, lane %d)", im[i].name,
                                     zeta_type_name(t), n, c, r);
                            continue;
                        }
                        if (only127 && (kind + c) % kinds >= 3) continue;
                        const float want = yr[(size_t)c * ys + r];
                        const double e = fabs((double)g - (double)want) / mag[c * 8 + r];
                        T_CHECKF(g == g && e <= 1e-5, "%s %s n_tok %d kind %d tok %d row %d: %.9g vs ref %.9g (rel %.3g)",
                                 im[i].name, zeta_type_name(t), n, kind, c, r, (double)g, (double)want, e);
                        if (e > st->worst_simd) st->worst_simd = e;
                    }
            }
        }
    st->groups++;
    free(packed); free(x); free(yr); free(yv); free(y2); free(wa); free(xa); free(mag);
}

/* ---- real tensors ------------------------------------------------------------------------------ */

static int check_file(const char *file, zeta_type t, stats *st) {
    gguf_file *g = open_model(file);
    if (!g) return -1;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *tt = &g->tensors[i];
        if (tt->type != (uint32_t)t || tt->n_dims != 2 || tt->ne[1] < 8) continue;
        const uint64_t rb = zeta_row_bytes(t, tt->ne[0]), groups = tt->ne[1] / 8;
        /* the first, a middle and the last full group of each matrix */
        const uint64_t pick[3] = {0, groups / 2, groups - 1};
        for (int p = 0; p < 3; p++) {
            if (p && pick[p] == pick[p - 1]) continue;
            const uint8_t *rows[8];
            for (int r = 0; r < 8; r++) rows[r] = (const uint8_t *)tt->data + (pick[p] * 8 + (uint64_t)r) * rb;
            check_group(t, rows, (int64_t)tt->ne[0], 2, st);
        }
    }
    gguf_close(g);
    return st->groups;
}

static void report(const char *what, zeta_type t, const stats *st) {
    impl im[4];
    printf("    %s: %d groups; scalar gemm8 vs vec_dot worst %.2g", what, st->groups, st->worst_ref);
    const int n = simd_impls(im);
    int shown = 0;
    for (int i = 0; i < n; i++)
        if (simd_fn(im[i].name, t)) printf("%s%s", shown++ ? " / " : ", ", im[i].name);
    if (shown) printf(" vs scalar gemm8 worst %.2g", st->worst_simd);
    printf(" (of sum|w*x|)\n");
}

static void test_q4_K_zoo(void) {
    stats st = {0};
    if (check_file("zoo-Q4_K_S.gguf", ZETA_TYPE_Q4_K, &st) < 0) T_SKIP("zoo-Q4_K_S.gguf not found");
    T_CHECK(st.groups > 0);
    report("q4_K zoo", ZETA_TYPE_Q4_K, &st);
}

static void test_q3_K_zoo(void) {
    stats st = {0};
    if (check_file("zoo-Q3_K_S.gguf", ZETA_TYPE_Q3_K, &st) < 0) T_SKIP("zoo-Q3_K_S.gguf not found");
    T_CHECK(st.groups > 0);
    report("q3_K zoo", ZETA_TYPE_Q3_K, &st);
}

static void test_iq4_xs_zoo(void) {
    stats st = {0};
    if (check_file("zoo-IQ4_XS.gguf", ZETA_TYPE_IQ4_XS, &st) < 0) T_SKIP("zoo-IQ4_XS.gguf not found");
    T_CHECK(st.groups > 0);
    report("iq4_xs zoo", ZETA_TYPE_IQ4_XS, &st);
}

static void test_q5_K_zoo(void) {
    stats st = {0};
    if (check_file("zoo-Q5_K_S.gguf", ZETA_TYPE_Q5_K, &st) < 0) T_SKIP("zoo-Q5_K_S.gguf not found");
    T_CHECK(st.groups > 0);
    report("q5_K zoo", ZETA_TYPE_Q5_K, &st);
}

static void test_q6_K_zoo(void) {
    stats st = {0};
    if (check_file("zoo-Q6_K.gguf", ZETA_TYPE_Q6_K, &st) < 0) T_SKIP("zoo-Q6_K.gguf not found");
    T_CHECK(st.groups > 0);
    report("q6_K zoo", ZETA_TYPE_Q6_K, &st);
}

/* ---- synthetic blocks -------------------------------------------------------------------------- */

/* kind 0: random bytes and scales; kind 1: every code and scale at its maximum (Q6_K: row r's
 * scales alternate between -128 and 127), the int16 limits of the kernels. */
static void fill_synthetic(zeta_type t, uint8_t *row, int64_t nb, int kind, int r) {
    for (int64_t b = 0; b < nb; b++) {
        if (t == ZETA_TYPE_Q4_K) {
            block_q4_K *q = &((block_q4_K *)row)[b];
            for (int i = 0; i < 12; i++) q->scales[i] = kind ? 0xff : (uint8_t)rnd_u32();
            for (int i = 0; i < 128; i++) q->qs[i] = kind ? 0xff : (uint8_t)rnd_u32();
            q->d = zeta_f32_to_f16(kind ? 1.0f : 0.001f + 0.01f * (rnd_unit() + 1.0f));
            q->dmin = zeta_f32_to_f16(kind ? 0.5f : 0.001f + 0.01f * (rnd_unit() + 1.0f));
        } else if (t == ZETA_TYPE_Q3_K) { /* kind 1: every code 7 (value 3), scales alternating codes 0 and 63 by row */
            block_q3_K *q = &((block_q3_K *)row)[b];
            for (int i = 0; i < 12; i++) q->scales[i] = kind ? ((i + r) & 1 ? 0xff : 0x00) : (uint8_t)rnd_u32();
            for (int i = 0; i < 32; i++) q->hmask[i] = kind ? 0xff : (uint8_t)rnd_u32();
            for (int i = 0; i < 64; i++) q->qs[i] = kind ? 0xff : (uint8_t)rnd_u32();
            q->d = zeta_f32_to_f16(kind ? 1.0f : 0.001f + 0.01f * (rnd_unit() + 1.0f));
        } else if (t == ZETA_TYPE_Q2_K) { /* kind 1: every code 3, every scale and min code 15 */
            block_q2_K *q = &((block_q2_K *)row)[b];
            for (int i = 0; i < 16; i++) q->scales[i] = kind ? 0xff : (uint8_t)rnd_u32();
            for (int i = 0; i < 64; i++) q->qs[i] = kind ? 0xff : (uint8_t)rnd_u32();
            q->d = zeta_f32_to_f16(kind ? 1.0f : 0.001f + 0.01f * (rnd_unit() + 1.0f));
            q->dmin = zeta_f32_to_f16(kind ? 0.5f : 0.001f + 0.01f * (rnd_unit() + 1.0f));
        } else if (t == ZETA_TYPE_IQ4_XS) { /* kind 1: codebook ends (-127 / 113) by row, every scale code 63 */
            block_iq4_xs *q = &((block_iq4_xs *)row)[b];
            for (int i = 0; i < 4; i++) q->scales_l[i] = kind ? 0xff : (uint8_t)rnd_u32();
            q->scales_h = (uint16_t)(kind ? 0xffff : rnd_u32());
            for (int i = 0; i < 128; i++) q->qs[i] = kind ? (r & 1 ? 0x00 : 0xff) : (uint8_t)rnd_u32();
            q->d = zeta_f32_to_f16(kind ? 1.0f : 0.001f + 0.01f * (rnd_unit() + 1.0f));
        } else if (t == ZETA_TYPE_Q5_K) { /* kind 1: every code 31 and every scale / min 63 */
            block_q5_K *q = &((block_q5_K *)row)[b];
            for (int i = 0; i < 12; i++) q->scales[i] = kind ? 0xff : (uint8_t)rnd_u32();
            for (int i = 0; i < 32; i++) q->qh[i] = kind ? 0xff : (uint8_t)rnd_u32();
            for (int i = 0; i < 128; i++) q->qs[i] = kind ? 0xff : (uint8_t)rnd_u32();
            q->d = zeta_f32_to_f16(kind ? 1.0f : 0.001f + 0.01f * (rnd_unit() + 1.0f));
            q->dmin = zeta_f32_to_f16(kind ? 0.5f : 0.001f + 0.01f * (rnd_unit() + 1.0f));
        } else {
            block_q6_K *q = &((block_q6_K *)row)[b];
            for (int i = 0; i < 16; i++) q->scales[i] = (int8_t)(kind ? ((i + r) & 1 ? 127 : -128) : (int)(rnd_u32() & 0xff) - 128);
            for (int i = 0; i < 128; i++) q->ql[i] = kind ? 0xff : (uint8_t)rnd_u32();
            for (int i = 0; i < 64; i++) q->qh[i] = kind ? 0xff : (uint8_t)rnd_u32();
            q->d = zeta_f32_to_f16(kind ? 1.0f : 0.001f + 0.01f * (rnd_unit() + 1.0f));
        }
    }
}

static void check_synthetic(zeta_type t) {
    stats st = {0};
    static const int64_t ks[] = {256, 1024, 4096};
    for (int kind = 0; kind < 2; kind++)
        for (int ki = 0; ki < 3; ki++) {
            const int64_t k = ks[ki];
            const size_t rb = (size_t)zeta_row_bytes(t, (uint64_t)k);
            uint8_t *mem = malloc(rb * 8);
            const uint8_t *rows[8];
            for (int r = 0; r < 8; r++) {
                fill_synthetic(t, mem + (size_t)r * rb, k / QK_K, kind, r);
                rows[r] = mem + (size_t)r * rb;
            }
            check_group(t, rows, k, 5, &st);
            free(mem);
        }
    report(t == ZETA_TYPE_Q4_K ? "q4_K synthetic" : t == ZETA_TYPE_Q5_K ? "q5_K synthetic" : t == ZETA_TYPE_Q3_K ? "q3_K synthetic"
           : t == ZETA_TYPE_IQ4_XS ? "iq4_xs synthetic" : t == ZETA_TYPE_Q2_K ? "q2_K synthetic" : "q6_K synthetic", t, &st);
}

static void test_q4_K_synthetic(void) { check_synthetic(ZETA_TYPE_Q4_K); }
static void test_q3_K_synthetic(void) { check_synthetic(ZETA_TYPE_Q3_K); }
static void test_q2_K_synthetic(void) { check_synthetic(ZETA_TYPE_Q2_K); }

static void test_q2_K_zoo(void) {
    stats st = {0};
    if (check_file("zoo-Q2_K.gguf", ZETA_TYPE_Q2_K, &st) < 0) T_SKIP("zoo-Q2_K.gguf not found");
    T_CHECK(st.groups > 0);
    report("q2_K zoo", ZETA_TYPE_Q2_K, &st);
}
static void test_iq4_xs_synthetic(void) { check_synthetic(ZETA_TYPE_IQ4_XS); }
static void test_q5_K_synthetic(void) { check_synthetic(ZETA_TYPE_Q5_K); }
static void test_q6_K_synthetic(void) { check_synthetic(ZETA_TYPE_Q6_K); }

static void test_group_bytes(void) {
    T_CHECK(zk_packed_group_bytes_k(ZETA_TYPE_Q4_K, 2048) == 8 * 1152);
    T_CHECK(zk_packed_group_bytes_k(ZETA_TYPE_Q6_K, 5632) == 22 * 1680);
    T_CHECK(zk_packed_group_bytes_k(ZETA_TYPE_Q5_K, 2048) == 8 * 1408);
    T_CHECK(zk_packed_group_bytes_k(ZETA_TYPE_Q3_K, 2048) == 8 * 880);
    T_CHECK(zk_packed_group_bytes_k(ZETA_TYPE_Q2_K, 2048) == 8 * 672);
    T_CHECK(zk_packed_group_bytes_k(ZETA_TYPE_IQ4_XS, 2048) == 8 * 1088);
    T_CHECK(zk_packed_group_bytes_k(ZETA_TYPE_Q4_0, 2048) == 0);
}

int main(void) {
    T_RUN(test_group_bytes);
    T_RUN(test_q4_K_zoo);
    T_RUN(test_q3_K_zoo);
    T_RUN(test_iq4_xs_zoo);
    T_RUN(test_q5_K_zoo);
    T_RUN(test_q6_K_zoo);
    T_RUN(test_q4_K_synthetic);
    T_RUN(test_q3_K_synthetic);
    T_RUN(test_q2_K_zoo);
    T_RUN(test_q2_K_synthetic);
    T_RUN(test_iq4_xs_synthetic);
    T_RUN(test_q5_K_synthetic);
    T_RUN(test_q6_K_synthetic);
    return t_done();
}
