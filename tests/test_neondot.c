/* test_neondot.c — the AArch64 dot-product-extension (SDOT) kernels of kernels_neondot.h against the
 * scalar spec, for every integer weight family they cover (Q4_1, Q5_0, Q5_1, Q2_K..Q6_K, IQ4_NL,
 * IQ4_XS): random and edge blocks (extreme / negative / subnormal scales, all-zero and all-ones
 * bytes, codes of the largest magnitude, activations of +-127 and -128) at several lengths, outputs
 * pre-filled with NaN, error relative to the magnitude of the summed terms; exact integer dots with
 * unit scales; and the neondot table's wiring (the selection falls back to the plain NEON table on a
 * CPU without dotprod). Non-AArch64 builds print skip lines. */
#include "test.h"
#include "cpu/kernels.h"
#include "cpu/kernels_iqk.h"
#include "cpu/kernels_k.h"
#include "cpu/kernels_legacy.h"
#include "cpu/kernels_neondot.h"
#include "quant.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* ---- helpers --------------------------------------------------------------------------------- */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd_u32(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float rnd_unit(void) { return (float)(rnd_u32() & 0xffffff) / 16777216.0f * 2.0f - 1.0f; } /* [-1, 1) */
static float rnd_heavy(void) { return rnd_unit() * expf(-3.0f * (float)(rnd_u32() % 1000) / 1000.0f * 2.3f); }
static float f32_nan(void) { return zeta_bits_to_f32(0x7fc00000u); }

/* Floats by 32-block with edge cases: random, zeros, constant, large (`big`), tiny, denormal, one
 * outlier, .5 ties after scaling, all negative, heavy-tailed. */
static void fill_edge_floats(float *x, int64_t n, float scale, float big) {
    for (int64_t b = 0; b < n / 32; b++) {
        float *xb = x + b * 32;
        switch (b % 10) {
        case 0: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * scale; break;
        case 1: for (int j = 0; j < 32; j++) xb[j] = 0.0f; break;
        case 2: for (int j = 0; j < 32; j++) xb[j] = 0.75f * scale; break;
        case 3: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * big; break;
        case 4: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * 1e-30f; break;
        case 5: for (int j = 0; j < 32; j++) xb[j] = (j & 1 ? -1.0f : 1.0f) * (float)j * 1e-39f; break;
        case 6: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * (j == 5 ? 100.0f : 0.01f) * scale; break;
        case 7: for (int j = 0; j < 32; j++) xb[j] = (j == 0) ? 127.0f : (float)(j % 16) - 7.5f; break;
        case 8: for (int j = 0; j < 32; j++) xb[j] = -fabsf(rnd_unit()) * scale; break;
        default: for (int j = 0; j < 32; j++) xb[j] = rnd_heavy() * scale; break;
        }
    }
}

/* ---- the weight types ------------------------------------------------------------------------ */

static void q_q4_1(const float *x, void *y, int64_t n) { quantize_row_q4_1_ref(x, y, n); }
static void q_q5_0(const float *x, void *y, int64_t n) { quantize_row_q5_0_ref(x, y, n); }
static void q_q5_1(const float *x, void *y, int64_t n) { quantize_row_q5_1_ref(x, y, n); }
static void q_q2_K(const float *x, void *y, int64_t n) { quantize_row_q2_K_ref(x, y, n); }
static void q_q3_K(const float *x, void *y, int64_t n) { quantize_row_q3_K_ref(x, y, n); }
static void q_q4_K(const float *x, void *y, int64_t n) { quantize_row_q4_K_ref(x, y, n); }
static void q_q5_K(const float *x, void *y, int64_t n) { quantize_row_q5_K_ref(x, y, n); }
static void q_q6_K(const float *x, void *y, int64_t n) { quantize_row_q6_K_ref(x, y, n); }
static void q_iq4_nl(const float *x, void *y, int64_t n) { quantize_row_iq4_nl_ref(x, y, n); }
static void q_iq4_xs(const float *x, void *y, int64_t n) { quantize_row_iq4_xs_ref(x, y, n); }
static void dq_q4_1(const void *x, float *y, int64_t n) { dequantize_row_q4_1(x, y, n); }
static void dq_q5_0(const void *x, float *y, int64_t n) { dequantize_row_q5_0(x, y, n); }
static void dq_q5_1(const void *x, float *y, int64_t n) { dequantize_row_q5_1(x, y, n); }
static void dq_q2_K(const void *x, float *y, int64_t n) { dequantize_row_q2_K(x, y, n); }
static void dq_q3_K(const void *x, float *y, int64_t n) { dequantize_row_q3_K(x, y, n); }
static void dq_q4_K(const void *x, float *y, int64_t n) { dequantize_row_q4_K(x, y, n); }
static void dq_q5_K(const void *x, float *y, int64_t n) { dequantize_row_q5_K(x, y, n); }
static void dq_q6_K(const void *x, float *y, int64_t n) { dequantize_row_q6_K(x, y, n); }
static void dq_iq4_nl(const void *x, float *y, int64_t n) { dequantize_row_iq4_nl(x, y, n); }
static void dq_iq4_xs(const void *x, float *y, int64_t n) { dequantize_row_iq4_xs(x, y, n); }

typedef struct wtype {
    const char *name;
    zeta_type type;
    zeta_type act;              /* Q8_0, Q8_1 or Q8_K (zk_vec_dot_type) */
    int block;                  /* elements per block (= per activation block) */
    size_t bytes;               /* bytes per block */
    int d_off, min_off;         /* f16 d and dmin / m in the block; min_off < 0: none */
    void (*quant)(const float *, void *, int64_t);
    void (*dequant)(const void *, float *, int64_t);
    zk_vec_dot_fn scalar;
    double tol;                 /* as the family's own test: legacy and iqk 1e-6, K 1e-5 */
    int exact_b;                /* activation codes in [-b, b] keep every exact-test sum below 2^24 */
} wtype;

static const wtype k_types[] = {
    {"q4_1", ZETA_TYPE_Q4_1, ZETA_TYPE_Q8_1, 32, sizeof(block_q4_1), offsetof(block_q4_1, d), offsetof(block_q4_1, m),
     q_q4_1, dq_q4_1, zk_vec_dot_q4_1_scalar, 1e-6, 64},
    {"q5_0", ZETA_TYPE_Q5_0, ZETA_TYPE_Q8_0, 32, sizeof(block_q5_0), offsetof(block_q5_0, d), -1,
     q_q5_0, dq_q5_0, zk_vec_dot_q5_0_scalar, 1e-6, 127},
    {"q5_1", ZETA_TYPE_Q5_1, ZETA_TYPE_Q8_1, 32, sizeof(block_q5_1), offsetof(block_q5_1, d), offsetof(block_q5_1, m),
     q_q5_1, dq_q5_1, zk_vec_dot_q5_1_scalar, 1e-6, 64},
    {"q2_K", ZETA_TYPE_Q2_K, ZETA_TYPE_Q8_K, 256, sizeof(block_q2_K), offsetof(block_q2_K, d), offsetof(block_q2_K, dmin),
     q_q2_K, dq_q2_K, zk_vec_dot_q2_K_scalar, 1e-6, 127},
    {"q3_K", ZETA_TYPE_Q3_K, ZETA_TYPE_Q8_K, 256, sizeof(block_q3_K), offsetof(block_q3_K, d), -1,
     q_q3_K, dq_q3_K, zk_vec_dot_q3_K_scalar, 1e-6, 63},
    {"q4_K", ZETA_TYPE_Q4_K, ZETA_TYPE_Q8_K, 256, sizeof(block_q4_K), offsetof(block_q4_K, d), offsetof(block_q4_K, dmin),
     q_q4_K, dq_q4_K, zk_vec_dot_q4_K_scalar, 1e-5, 8},
    {"q5_K", ZETA_TYPE_Q5_K, ZETA_TYPE_Q8_K, 256, sizeof(block_q5_K), offsetof(block_q5_K, d), offsetof(block_q5_K, dmin),
     q_q5_K, dq_q5_K, zk_vec_dot_q5_K_scalar, 1e-5, 4},
    {"q6_K", ZETA_TYPE_Q6_K, ZETA_TYPE_Q8_K, 256, sizeof(block_q6_K), offsetof(block_q6_K, d), -1,
     q_q6_K, dq_q6_K, zk_vec_dot_q6_K_scalar, 1e-5, 2},
    {"iq4_nl", ZETA_TYPE_IQ4_NL, ZETA_TYPE_Q8_0, 32, sizeof(block_iq4_nl), offsetof(block_iq4_nl, d), -1,
     q_iq4_nl, dq_iq4_nl, zk_vec_dot_iq4_nl_scalar, 1e-6, 31},
    {"iq4_xs", ZETA_TYPE_IQ4_XS, ZETA_TYPE_Q8_K, 256, sizeof(block_iq4_xs), offsetof(block_iq4_xs, d), -1,
     q_iq4_xs, dq_iq4_xs, zk_vec_dot_iq4_xs_scalar, 1e-6, 2},
};
#define N_TYPES (int)(sizeof k_types / sizeof k_types[0])

/* The SDOT kernel of a weight type; NULL where they are not compiled (not AArch64). */
static zk_vec_dot_fn neondot_fn(zeta_type t) {
#ifdef ZETA_HAVE_NEON
    switch (t) {
    case ZETA_TYPE_Q4_1: return zk_vec_dot_q4_1_neondot;
    case ZETA_TYPE_Q5_0: return zk_vec_dot_q5_0_neondot;
    case ZETA_TYPE_Q5_1: return zk_vec_dot_q5_1_neondot;
    case ZETA_TYPE_Q2_K: return zk_vec_dot_q2_K_neondot;
    case ZETA_TYPE_Q3_K: return zk_vec_dot_q3_K_neondot;
    case ZETA_TYPE_Q4_K: return zk_vec_dot_q4_K_neondot;
    case ZETA_TYPE_Q5_K: return zk_vec_dot_q5_K_neondot;
    case ZETA_TYPE_Q6_K: return zk_vec_dot_q6_K_neondot;
    case ZETA_TYPE_IQ4_NL: return zk_vec_dot_iq4_nl_neondot;
    case ZETA_TYPE_IQ4_XS: return zk_vec_dot_iq4_xs_neondot;
    default: return NULL;
    }
#else
    (void)t;
    return NULL;
#endif
}

/* Why the SDOT kernels cannot run here; NULL if they can. */
static const char *not_runnable(void) {
#ifdef ZETA_HAVE_NEON
    if (!zk_cpu_has_neondot()) return "this CPU has no dot-product extension (FEAT_DotProd / HWCAP_ASIMDDP); the SDOT kernels are untested here";
    return NULL;
#else
    return "not an AArch64 build (the SDOT kernels are not compiled)";
#endif
}

/* ---- blocks ---------------------------------------------------------------------------------- */

static size_t act_bytes(const wtype *t) {
    return t->act == ZETA_TYPE_Q8_K ? sizeof(block_q8_K) : t->act == ZETA_TYPE_Q8_1 ? sizeof(block_q8_1) : sizeof(block_q8_0);
}
static void set_f16(void *blk, int off, float v) { const zeta_f16 h = zeta_f32_to_f16(v); memcpy((uint8_t *)blk + off, &h, 2); }
static float get_f16(const void *blk, int off) { zeta_f16 h; memcpy(&h, (const uint8_t *)blk + off, 2); return zeta_f16_to_f32(h); }

/* Makes the scale fields of activation block i consistent with its codes: d as given; Q8_1's
 * s = f16(d * sum q); Q8_K's bsums. */
static void act_finish(const wtype *t, void *x, int64_t i, float d) {
    if (t->act == ZETA_TYPE_Q8_K) {
        block_q8_K *b = (block_q8_K *)x + i;
        b->d = d;
        for (int j = 0; j < 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += b->qs[16 * j + l];
            b->bsums[j] = (int16_t)s;
        }
    } else if (t->act == ZETA_TYPE_Q8_1) {
        block_q8_1 *b = (block_q8_1 *)x + i;
        int s = 0;
        for (int j = 0; j < 32; j++) s += b->qs[j];
        b->d = zeta_f32_to_f16(d);
        b->s = zeta_f32_to_f16(zeta_f16_to_f32(b->d) * (float)s);
    } else {
        ((block_q8_0 *)x)[i].d = zeta_f32_to_f16(d);
    }
}
static int8_t *act_codes(const wtype *t, void *x, int64_t i) {
    return t->act == ZETA_TYPE_Q8_K ? ((block_q8_K *)x)[i].qs : t->act == ZETA_TYPE_Q8_1 ? ((block_q8_1 *)x)[i].qs : ((block_q8_0 *)x)[i].qs;
}
static float act_scale(const wtype *t, const void *x, int64_t i) {
    if (t->act == ZETA_TYPE_Q8_K) return ((const block_q8_K *)x)[i].d;
    return t->act == ZETA_TYPE_Q8_1 ? zeta_f16_to_f32(((const block_q8_1 *)x)[i].d) : zeta_f16_to_f32(((const block_q8_0 *)x)[i].d);
}

/* Weights of n elements. mode 0: quantized edge floats; 1: random bytes, sane scales; 2: random
 * bytes with every third block all 0x00 or all 0xff (largest codes and scales), extreme scales
 * (65504, 1000, 3e-7, a subnormal, negative) and minimums of both signs. */
static void *make_weights(const wtype *t, int64_t n, int mode) {
    const int64_t nb = n / t->block;
    uint8_t *w = malloc((size_t)nb * t->bytes);
    if (mode == 0) {
        float *f = malloc(n * sizeof(float));
        fill_edge_floats(f, n, 2.0f, 3e4f);
        t->quant(f, w, n);
        free(f);
        return w;
    }
    for (size_t j = 0; j < (size_t)nb * t->bytes; j++) w[j] = (uint8_t)rnd_u32();
    static const float k_extreme[6] = {1000.0f, 3e-7f, -0.5f, 65504.0f, 6e-8f, -1000.0f};
    for (int64_t i = 0; i < nb; i++) {
        uint8_t *blk = w + i * t->bytes;
        if (mode == 2 && i % 3 == 0) memset(blk, (i / 3) % 2 ? 0xff : 0x00, t->bytes);
        const float d = mode == 1 ? 0.01f + (float)(i % 13) * 0.003f : k_extreme[i % 6];
        set_f16(blk, t->d_off, d);
        if (t->min_off >= 0) set_f16(blk, t->min_off, mode == 1 ? 0.02f * rnd_unit() : (i % 4 == 0 ? -500.0f : i % 4 == 1 ? 0.0f : 3.0f));
    }
    return w;
}

/* Activations of the type's partner. mode 0: the scalar quantizer of edge floats; 1: random codes in
 * -128..127; 2: codes of the largest magnitude only (127, -127, -128). */
static void *make_acts(const wtype *t, int64_t n, int mode) {
    const int64_t nb = n / t->block;
    void *x = malloc((size_t)nb * act_bytes(t));
    if (mode == 0) {
        float *f = malloc(n * sizeof(float));
        fill_edge_floats(f, n, 1.5f, t->act == ZETA_TYPE_Q8_1 ? 1e3f : 3e4f); /* Q8_1's s stays in f16 range */
        if (t->act == ZETA_TYPE_Q8_K) quantize_row_q8_K_ref(f, x, n);
        else if (t->act == ZETA_TYPE_Q8_1) zk_from_float_q8_1_scalar(f, x, n);
        else zk_scalar()->from_float[ZETA_TYPE_Q8_0](f, x, n);
        free(f);
        return x;
    }
    for (int64_t i = 0; i < nb; i++) {
        int8_t *qs = act_codes(t, x, i);
        for (int j = 0; j < t->block; j++) {
            const int r = (int)(rnd_u32() % 3);
            qs[j] = (int8_t)(mode == 1 ? (int)(rnd_u32() % 256) - 128 : r == 0 ? 127 : r == 1 ? -127 : -128);
        }
        act_finish(t, x, i, 0.001f * (float)(1 + i % 7));
    }
    return x;
}

/* The magnitude of the terms a dot sums, in double: per block sum_e |d_w A_e x_e| + |dmin_w B_e x_e|,
 * A the codes times the sub-block scales (the block dequantized with d = 1, dmin = 0), B the
 * minimums (dequantized with d = 0, dmin = 1), x the dequantized activations. At least sum |w x|,
 * and what the f32 rounding of every kernel is relative to. */
static double term_magnitude(const wtype *t, const void *w, const void *x, int64_t n) {
    const int64_t nb = n / t->block;
    uint8_t tmp[256];
    float a[256], b[256];
    double s = 0;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *blk = (const uint8_t *)w + i * t->bytes;
        const int8_t *qx = act_codes(t, (void *)x, i);
        const double dx = act_scale(t, x, i), dw = get_f16(blk, t->d_off);
        memcpy(tmp, blk, t->bytes);
        set_f16(tmp, t->d_off, 1.0f);
        if (t->min_off >= 0) set_f16(tmp, t->min_off, 0.0f);
        t->dequant(tmp, a, t->block);
        for (int e = 0; e < t->block; e++) s += fabs(dw * a[e] * dx * qx[e]);
        if (t->min_off < 0) continue;
        const double dm = get_f16(blk, t->min_off);
        set_f16(tmp, t->d_off, 0.0f);
        set_f16(tmp, t->min_off, 1.0f);
        t->dequant(tmp, b, t->block);
        for (int e = 0; e < t->block; e++) s += fabs(dm * b[e] * dx * qx[e]);
    }
    return s;
}

/* ---- SDOT kernels against the scalar spec ---------------------------------------------------- */

static void check_kernel(const wtype *t) {
    const char *why = not_runnable();
    if (why) T_SKIP("%s", why);
    const zk_vec_dot_fn fn = neondot_fn(t->type);
    static const int64_t lengths[] = {32, 64, 96, 128, 160, 224, 256, 512, 768, 4096 + 32, 4096 + 256, 11008};
    double worst = 0;
    int runs = 0, same = 0;
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        const int64_t n = lengths[li];
        if (n % t->block) continue;
        for (int mode = 0; mode < 9; mode++) {
            void *w = make_weights(t, n, mode % 3), *x = make_acts(t, n, mode / 3);
            float ref = f32_nan(), got = f32_nan();
            t->scalar(n, &ref, w, x);
            fn(n, &got, w, x);
            const double mag = term_magnitude(t, w, x, n);
            const double err = fabs((double)got - (double)ref) / (mag > 0 ? mag : 1);
            T_CHECKF(ref == ref && got == got, "%s n=%lld mode %d: NaN output (ref %g got %g)", t->name, (long long)n, mode,
                     (double)ref, (double)got);
            T_CHECKF(err <= t->tol, "%s n=%lld mode %d: ref %.9g got %.9g, rel err %.3g > %.0e", t->name, (long long)n, mode,
                     (double)ref, (double)got, err, t->tol);
            if (err > worst) worst = err;
            runs++;
            same += zeta_f32_to_bits(got) == zeta_f32_to_bits(ref);
            free(w); free(x);
        }
    }
    printf("    neondot %s: worst error %.2g of the term magnitude; %d of %d results bit-identical to scalar\n", t->name,
           worst, same, runs);
}
static void test_vec_dot_q4_1(void) { check_kernel(&k_types[0]); }
static void test_vec_dot_q5_0(void) { check_kernel(&k_types[1]); }
static void test_vec_dot_q5_1(void) { check_kernel(&k_types[2]); }
static void test_vec_dot_q2_K(void) { check_kernel(&k_types[3]); }
static void test_vec_dot_q3_K(void) { check_kernel(&k_types[4]); }
static void test_vec_dot_q4_K(void) { check_kernel(&k_types[5]); }
static void test_vec_dot_q5_K(void) { check_kernel(&k_types[6]); }
static void test_vec_dot_q6_K(void) { check_kernel(&k_types[7]); }
static void test_vec_dot_iq4_nl(void) { check_kernel(&k_types[8]); }
static void test_vec_dot_iq4_xs(void) { check_kernel(&k_types[9]); }

/* Unit scales (d = dmin = m = 1, activation d = 1) and activation codes in [-b, b]: every term and
 * partial sum is an integer below 2^24, so f32 sums are exact in any order. Scalar and SDOT must both
 * equal the float64 dot of the dequantized operands, for every block count (tails included). The
 * first blocks are all 0xff / all 0x00 bytes (largest codes and scales), one activation block is
 * +-b alternating. */
static void test_int_dots_exact(void) {
    const char *why = not_runnable();
    if (why) T_SKIP("%s", why);
    int bad = 0;
    for (int ti = 0; ti < N_TYPES; ti++) {
        const wtype *t = &k_types[ti];
        const zk_vec_dot_fn fn = neondot_fn(t->type);
        const int64_t nb = t->block == 32 ? 129 : 8, n = nb * t->block;
        uint8_t *w = malloc((size_t)nb * t->bytes);
        void *x = malloc((size_t)nb * act_bytes(t));
        for (size_t j = 0; j < (size_t)nb * t->bytes; j++) w[j] = (uint8_t)rnd_u32();
        memset(w, 0xff, t->bytes);
        memset(w + t->bytes, 0x00, t->bytes);
        for (int64_t i = 0; i < nb; i++) {
            set_f16(w + i * t->bytes, t->d_off, 1.0f);
            if (t->min_off >= 0) set_f16(w + i * t->bytes, t->min_off, 1.0f);
            int8_t *qs = act_codes(t, x, i);
            for (int j = 0; j < t->block; j++)
                qs[j] = (int8_t)(i == 2 ? (j & 1 ? -t->exact_b : t->exact_b) : (int)(rnd_u32() % (2u * t->exact_b + 1)) - t->exact_b);
            act_finish(t, x, i, 1.0f);
        }
        float *wf = malloc(n * sizeof(float));
        t->dequant(w, wf, n);
        for (int64_t m = 1; m <= nb; m++) {
            double exact = 0;
            for (int64_t i = 0; i < m; i++) {
                const int8_t *qs = act_codes(t, x, i);
                for (int j = 0; j < t->block; j++) {
                    /* Q8_1: the min term is m * s (s = f16(sum q), exact for |sum q| <= 2048) */
                    const double wv = t->act == ZETA_TYPE_Q8_1 ? wf[i * t->block + j] - 1.0 : wf[i * t->block + j];
                    exact += wv * qs[j];
                }
                if (t->act == ZETA_TYPE_Q8_1) exact += zeta_f16_to_f32(((block_q8_1 *)x)[i].s);
            }
            float ref = f32_nan(), got = f32_nan();
            t->scalar(m * t->block, &ref, w, x);
            fn(m * t->block, &got, w, x);
            if (((double)ref != exact || got != ref) && bad++ < 8)
                printf("    %s %lld blocks: neondot %.9g, scalar %.9g, exact %.1f\n", t->name, (long long)m, (double)got,
                       (double)ref, exact);
        }
        free(w); free(x); free(wf);
    }
    T_CHECKF(bad == 0, "%d inexact integer dots", bad);
}

/* ---- the table ------------------------------------------------------------------------------- */

/* zk_neondot() holds every SDOT kernel; the selected table uses them when the CPU has dotprod and the
 * plain NEON ones otherwise (plain NEON also fills every slot neondot leaves empty). */
static void test_table(void) {
#ifdef ZETA_HAVE_NEON
    const zk_kernels *nd = zk_neondot(), *ne = zk_neon(), *sel = zk_select();
    T_CHECK(nd && ne && sel);
    if (!nd || !ne || !sel) return;
    const bool dot = zk_cpu_has_neondot();
    for (int ti = 0; ti < N_TYPES; ti++) {
        const zeta_type ty = k_types[ti].type;
        T_CHECKF(nd->vec_dot[ty] == neondot_fn(ty), "neondot table slot %s", k_types[ti].name);
        T_CHECKF(ne->vec_dot[ty] != NULL, "neon table has no %s dot", k_types[ti].name);
        T_CHECKF(zk_vec_dot_type(ty) == k_types[ti].act, "%s: activation type %d", k_types[ti].name, (int)zk_vec_dot_type(ty));
        T_CHECKF(sel->vec_dot[ty] == (dot ? nd->vec_dot[ty] : ne->vec_dot[ty]), "selected %s dot is not the %s one",
                 k_types[ti].name, dot ? "neondot" : "neon");
    }
    for (int ty = 0; ty < ZETA_TYPE_COUNT; ty++)
        T_CHECKF(nd->from_float[ty] == NULL, "neondot fills from_float[%d]; the plain NEON quantizers are meant", ty);
    T_CHECK(sel->from_float[ZETA_TYPE_Q8_K] == ne->from_float[ZETA_TYPE_Q8_K]);
    printf("    dotprod %s: selected table '%s'\n", dot ? "yes" : "no", sel->name);
#else
    T_SKIP("not an AArch64 build (no NEON tables)");
#endif
}

int main(void) {
    T_RUN(test_table);
    T_RUN(test_vec_dot_q4_1);
    T_RUN(test_vec_dot_q5_0);
    T_RUN(test_vec_dot_q5_1);
    T_RUN(test_vec_dot_q2_K);
    T_RUN(test_vec_dot_q3_K);
    T_RUN(test_vec_dot_q4_K);
    T_RUN(test_vec_dot_q5_K);
    T_RUN(test_vec_dot_q6_K);
    T_RUN(test_vec_dot_iq4_nl);
    T_RUN(test_vec_dot_iq4_xs);
    T_RUN(test_int_dots_exact);
    return t_done();
}
