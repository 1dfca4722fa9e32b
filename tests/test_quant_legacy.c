/* test_quant_legacy.c — tests of the legacy block types Q4_1, Q5_0, Q5_1, Q8_1 (quant_legacy.c,
 * kernels_*_legacy.c): reference quantizers byte-exact with ggml on every 2-D tensor of the zoo
 * model, dequantize(quantize(x)) error bounds, every SIMD dot this CPU runs against the scalar spec
 * (NaN-poisoned outputs, error relative to the magnitude of the summed terms, exact integer cases),
 * and the Q8_1 activation quantizer byte-identical across ISAs. */
#include "test.h"
#include "cpu/kernels_legacy.h"
#include "gguf.h"
#include "quant.h"

#include <math.h>
#include <stdint.h>

/* ---- helpers --------------------------------------------------------------------------------- */

static uint64_t g_rng = 0x243f6a8885a308d3ull;
static uint32_t rnd_u32(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float rnd_unit(void) { return (float)(rnd_u32() & 0xffffff) / 16777216.0f * 2.0f - 1.0f; } /* [-1, 1) */
static float f32_nan(void) { return zeta_bits_to_f32(0x7fc00000u); }

/* Activations with edge cases by 32-block: random, zeros, constant, large, tiny, denormal, one
 * outlier, exact .5 ties after scaling, all negative, all positive with an offset. `big` is the
 * magnitude of the large block (Q8_1's s = d * sum(q) must stay within f16 range, < 65504). */
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
        default: for (int j = 0; j < 32; j++) xb[j] = (3.0f + rnd_unit()) * scale; break;
        }
    }
}

/* The legacy kernels of one ISA. */
typedef struct isa {
    const char *name;
    bool ok;            /* compiled in and supported by this CPU */
    const char *why;    /* reason when !ok */
    zk_vec_dot_fn dot_q4_1, dot_q5_0, dot_q5_1;
    zk_from_float_fn q8_1;
} isa;

static int simd_isas(isa *t) {
    int n = 0;
#ifdef ZETA_HAVE_X86
    t[n++] = (isa){"avx2", zk_cpu_has_avx2(), "this CPU has no AVX2+FMA+F16C",
                   zk_vec_dot_q4_1_avx2, zk_vec_dot_q5_0_avx2, zk_vec_dot_q5_1_avx2, zk_from_float_q8_1_avx2};
    t[n++] = (isa){"avx512", zk_cpu_has_avx512(), "this CPU has no AVX-512 (F/BW/VL/DQ + OS ZMM state); its kernels are untested here",
                   zk_vec_dot_q4_1_avx512, zk_vec_dot_q5_0_avx512, zk_vec_dot_q5_1_avx512, zk_from_float_q8_1_avx512};
#endif
#ifdef ZETA_HAVE_NEON
    t[n++] = (isa){"neon", true, "", zk_vec_dot_q4_1_neon, zk_vec_dot_q5_0_neon, zk_vec_dot_q5_1_neon, zk_from_float_q8_1_neon};
#endif
    return n;
}

/* Weight types of this family, with their converters. */
typedef struct wtype {
    zeta_type type;
    size_t block_bytes;
    void (*quantize)(const float *, void *, int64_t);
    void (*dequantize)(const void *, float *, int64_t);
} wtype;

static void q_q4_1(const float *x, void *y, int64_t n) { quantize_row_q4_1_ref(x, y, n); }
static void q_q5_0(const float *x, void *y, int64_t n) { quantize_row_q5_0_ref(x, y, n); }
static void q_q5_1(const float *x, void *y, int64_t n) { quantize_row_q5_1_ref(x, y, n); }
static void dq_q4_1(const void *x, float *y, int64_t n) { dequantize_row_q4_1(x, y, n); }
static void dq_q5_0(const void *x, float *y, int64_t n) { dequantize_row_q5_0(x, y, n); }
static void dq_q5_1(const void *x, float *y, int64_t n) { dequantize_row_q5_1(x, y, n); }

static const wtype k_q4_1 = {ZETA_TYPE_Q4_1, sizeof(block_q4_1), q_q4_1, dq_q4_1};
static const wtype k_q5_0 = {ZETA_TYPE_Q5_0, sizeof(block_q5_0), q_q5_0, dq_q5_0};
static const wtype k_q5_1 = {ZETA_TYPE_Q5_1, sizeof(block_q5_1), q_q5_1, dq_q5_1};

/* Opens <name> from tests/data/models, or ../shared/goldens/models or ../shared/models; NULL if absent. */
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

/* Largest |x - y| allowed in one block after a round trip through the type: half a step (a full
 * step for Q5_0, whose most negative code is clipped like Q4_0's) with the step and minimum
 * rounded to f16, plus the f16 rounding of the minimum. `deq` holds the dequantized block. */
static float round_trip_bound(zeta_type t, const void *blk) {
    float d, m = 0.0f, steps;
    if (t == ZETA_TYPE_Q4_1) { d = zeta_f16_to_f32(((const block_q4_1 *)blk)->d); m = zeta_f16_to_f32(((const block_q4_1 *)blk)->m); steps = 15; }
    else if (t == ZETA_TYPE_Q5_1) { d = zeta_f16_to_f32(((const block_q5_1 *)blk)->d); m = zeta_f16_to_f32(((const block_q5_1 *)blk)->m); steps = 31; }
    else { d = fabsf(zeta_f16_to_f32(((const block_q5_0 *)blk)->d)); steps = 16; }
    const float half = t == ZETA_TYPE_Q5_0 ? 1.0f : 0.5f;
    /* f16 keeps 11 significant bits: d and m are off by at most 2^-11 of themselves */
    return half * d + steps * fabsf(d) * 0x1p-11f + fabsf(m) * 0x1p-11f + 1e-30f + 1e-6f * fabsf(d);
}

/* ---- small known blocks ---------------------------------------------------------------------- */

static void test_known_blocks(void) {
    float x[32], y[32];
    int bad = 0;
    /* Q4_1: x = 3 * (j % 16) - 5: min -5, max 40, d = 3, codes j % 16, exact round trip */
    for (int j = 0; j < 32; j++) x[j] = 3.0f * (float)(j % 16) - 5.0f;
    block_q4_1 a;
    quantize_row_q4_1_ref(x, &a, 32);
    T_CHECK(a.d == zeta_f32_to_f16(3.0f) && a.m == zeta_f32_to_f16(-5.0f));
    for (int j = 0; j < 16; j++) bad += a.qs[j] != (uint8_t)(j | (j << 4));
    dequantize_row_q4_1(&a, y, 32);
    for (int j = 0; j < 32; j++) bad += y[j] != x[j];
    T_CHECKF(bad == 0, "q4_1: %d differences", bad);

    /* Q5_0: x = j - 16: the first largest magnitude is -16 -> d = 1, codes j, qh = 0xffff0000 */
    for (int j = 0; j < 32; j++) x[j] = (float)j - 16.0f;
    block_q5_0 b;
    quantize_row_q5_0_ref(x, &b, 32);
    bad = b.d != 0x3c00 || b.qh[0] != 0 || b.qh[1] != 0 || b.qh[2] != 0xff || b.qh[3] != 0xff;
    for (int j = 0; j < 16; j++) bad += b.qs[j] != (uint8_t)(j | (j << 4));
    dequantize_row_q5_0(&b, y, 32);
    for (int j = 0; j < 32; j++) bad += y[j] != x[j];
    T_CHECKF(bad == 0, "q5_0: %d differences", bad);
    /* the positive extreme is clipped to code 31 (like Q4_0) */
    for (int j = 0; j < 32; j++) x[j] = j == 3 ? 16.0f : 0.0f; /* max 16 -> d = -1: 16 * -1 + 16.5 -> 0 */
    quantize_row_q5_0_ref(x, &b, 32);
    dequantize_row_q5_0(&b, y, 32);
    T_CHECK(b.d == 0xbc00 && y[3] == 16.0f && y[0] == 0.0f);
    for (int j = 0; j < 32; j++) x[j] = j == 3 ? -16.0f : (j == 4 ? 16.0f : 0.0f); /* d = 1: 16 + 16.5 -> 31 */
    quantize_row_q5_0_ref(x, &b, 32);
    dequantize_row_q5_0(&b, y, 32);
    T_CHECK(y[3] == -16.0f && y[4] == 15.0f);

    /* Q5_1: x = 2j + 1: min 1, max 63, d = 2, codes j */
    for (int j = 0; j < 32; j++) x[j] = 2.0f * (float)j + 1.0f;
    block_q5_1 c;
    quantize_row_q5_1_ref(x, &c, 32);
    bad = c.d != zeta_f32_to_f16(2.0f) || c.m != 0x3c00 || c.qh[0] != 0 || c.qh[3] != 0xff;
    for (int j = 0; j < 16; j++) bad += c.qs[j] != (uint8_t)(j | (j << 4));
    dequantize_row_q5_1(&c, y, 32);
    for (int j = 0; j < 32; j++) bad += y[j] != x[j];
    T_CHECKF(bad == 0, "q5_1: %d differences", bad);

    /* constant blocks: d = 0, every code 0, the value is the minimum */
    for (int j = 0; j < 32; j++) x[j] = -2.5f;
    quantize_row_q4_1_ref(x, &a, 32);
    quantize_row_q5_1_ref(x, &c, 32);
    bad = a.d != 0 || c.d != 0 || a.m != zeta_f32_to_f16(-2.5f);
    for (int j = 0; j < 16; j++) bad += a.qs[j] != 0 || c.qs[j] != 0;
    bad += c.qh[0] | c.qh[1] | c.qh[2] | c.qh[3];
    T_CHECKF(bad == 0, "constant block: %d differences", bad);

    /* blocks so small that 1/d overflows: ggml (x86) writes every code 0 */
    for (int j = 0; j < 32; j++) x[j] = (j & 1 ? -1.0f : 1.0f) * (float)j * 1e-40f;
    quantize_row_q4_1_ref(x, &a, 32);
    quantize_row_q5_0_ref(x, &b, 32);
    quantize_row_q5_1_ref(x, &c, 32);
    bad = 0;
    for (int j = 0; j < 16; j++) bad += a.qs[j] != 0 || b.qs[j] != 0 || c.qs[j] != 0;
    bad += b.qh[0] | b.qh[1] | b.qh[2] | b.qh[3] | c.qh[0] | c.qh[1] | c.qh[2] | c.qh[3];
    T_CHECKF(bad == 0, "tiny block: %d nonzero codes", bad);

    /* Q8_1 reference: roundf (half away from zero), s = d * sum */
    for (int j = 0; j < 32; j++) x[j] = j == 0 ? 127.0f : (j == 1 ? 2.5f : -2.5f);
    block_q8_1 q;
    quantize_row_q8_1_ref(x, &q, 32);
    T_CHECK(q.d == 0x3c00 && q.qs[0] == 127 && q.qs[1] == 3 && q.qs[2] == -3);
    T_CHECK(q.s == zeta_f32_to_f16(127.0f + 3.0f - 3.0f * 30.0f));
}

/* ---- byte-exact with ggml -------------------------------------------------------------------- */

/* Quantizes every 2-D tensor of zoo-F32 with our reference quantizer and compares the bytes with
 * the same tensor of `qfile` (llama-quantize --pure); also checks that the dequantized file tensors
 * are finite and within the round-trip bound of the F32 source. */
static void check_zoo(const char *qfile, const wtype *wt) {
    gguf_file *gf = open_model("zoo-F32.gguf"), *gq = open_model(qfile);
    if (!gf || !gq) {
        gguf_close(gf);
        gguf_close(gq);
        T_SKIP("zoo-F32.gguf / %s not found", qfile);
    }
    int n_2d = 0, n_same = 0, n_other_type = 0, n_deq_ok = 0;
    double worst_rms = 0;
    for (uint64_t t = 0; t < gf->n_tensors; t++) {
        const gguf_tensor *f = &gf->tensors[t];
        if (f->n_dims != 2 || f->type != ZETA_TYPE_F32) continue;
        n_2d++;
        const gguf_tensor *q = gguf_find_tensor(gq, f->name);
        T_CHECKF(q && q->n_elements == f->n_elements, "%s: tensor %s missing or reshaped", qfile, f->name);
        if (!q || q->n_elements != f->n_elements) continue;
        if (q->type != (uint32_t)wt->type) {
            printf("    %s: %s is %s, not compared\n", qfile, f->name, zeta_type_name((zeta_type)q->type));
            n_other_type++;
            continue;
        }
        const int64_t n = (int64_t)f->n_elements, nb = n / 32;
        const size_t nbytes = (size_t)q->n_bytes;
        T_CHECK(nbytes == (size_t)nb * wt->block_bytes);
        float *src = malloc((size_t)n * sizeof(float)), *deq = malloc((size_t)n * sizeof(float));
        uint8_t *mine = malloc(nbytes);
        memcpy(src, f->data, (size_t)n * sizeof(float)); /* the mapping may be unaligned for float */
        wt->quantize(src, mine, n);
        size_t first = nbytes;
        for (size_t b = 0; b < nbytes; b++) if (mine[b] != ((const uint8_t *)q->data)[b]) { first = b; break; }
        T_CHECKF(first == nbytes, "%s %s: first differing byte %zu of %zu (block %zu)", qfile, f->name, first, nbytes,
                 first / wt->block_bytes);
        n_same += first == nbytes;

        /* the file's blocks, dequantized: finite and close to the source */
        memcpy(mine, q->data, nbytes);
        wt->dequantize(mine, deq, n);
        int64_t bad = 0;
        double se = 0, sx = 0;
        for (int64_t b = 0; b < nb; b++) {
            const float bound = round_trip_bound(wt->type, mine + b * wt->block_bytes);
            for (int j = 0; j < 32; j++) {
                const float v = deq[b * 32 + j], s = src[b * 32 + j];
                if (!isfinite(v) || fabsf(v - s) > bound) bad++;
                se += (double)(v - s) * (v - s);
                sx += (double)s * s;
            }
        }
        const double rms = sx > 0 ? sqrt(se / sx) : 0;
        if (rms > worst_rms) worst_rms = rms;
        T_CHECKF(bad == 0, "%s %s: %lld dequantized values non-finite or off by more than the bound", qfile, f->name,
                 (long long)bad);
        n_deq_ok += bad == 0;
        free(src); free(deq); free(mine);
    }
    printf("    %s: %d of %d 2-D tensors byte-identical to ggml's (%d of another type); dequantized: %d within "
           "bounds, worst relative rms error %.3f\n", qfile, n_same, n_2d, n_other_type, n_deq_ok, worst_rms);
    T_CHECKF(n_same >= 16 && n_same + n_other_type == n_2d, "%d of %d tensors checked", n_same, n_2d);
    T_CHECKF(worst_rms < (wt->type == ZETA_TYPE_Q4_1 ? 0.15 : wt->type == ZETA_TYPE_Q5_0 ? 0.12 : 0.08), "relative rms error %.3f", worst_rms);
    gguf_close(gf);
    gguf_close(gq);
}
static void test_q4_1_matches_ggml(void) { check_zoo("zoo-Q4_1.gguf", &k_q4_1); }
static void test_q5_0_matches_ggml(void) { check_zoo("zoo-Q5_0.gguf", &k_q5_0); }
static void test_q5_1_matches_ggml(void) { check_zoo("zoo-Q5_1.gguf", &k_q5_1); }

/* ---- round trips ----------------------------------------------------------------------------- */

static void check_round_trip(const wtype *wt) {
    const int64_t n = 32 * 2000;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    uint8_t *q = malloc((size_t)(n / 32) * wt->block_bytes);
    int64_t bad = 0, nonfinite = 0;
    for (int rep = 0; rep < 4; rep++) {
        const float scale = rep == 0 ? 1.0f : rep == 1 ? 1e-3f : rep == 2 ? 300.0f : 0.05f;
        fill_edge_floats(x, n, scale, 3e4f);
        if (rep == 3) for (int64_t i = 0; i < n; i++) x[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.3f; /* grid */
        wt->quantize(x, q, n);
        wt->dequantize(q, y, n);
        for (int64_t b = 0; b < n / 32; b++) {
            const float bound = round_trip_bound(wt->type, q + b * wt->block_bytes);
            for (int j = 0; j < 32; j++) {
                const int64_t i = b * 32 + j;
                nonfinite += !isfinite(y[i]);
                if (fabsf(y[i] - x[i]) > bound && bad++ < 3)
                    printf("    %s rep %d block %lld: x %.9g -> %.9g, bound %.3g\n", zeta_type_name(wt->type), rep,
                           (long long)b, (double)x[i], (double)y[i], (double)bound);
            }
        }
    }
    T_CHECKF(bad == 0 && nonfinite == 0, "%s: %lld values beyond the bound, %lld non-finite", zeta_type_name(wt->type),
             (long long)bad, (long long)nonfinite);
    free(x); free(y); free(q);
}
static void test_round_trip_q4_1(void) { check_round_trip(&k_q4_1); }
static void test_round_trip_q5_0(void) { check_round_trip(&k_q5_0); }
static void test_round_trip_q5_1(void) { check_round_trip(&k_q5_1); }

/* ---- the Q8_1 activation quantizer ----------------------------------------------------------- */

static void test_scalar_q8_1_activation_quantizer(void) {
    float x[64];
    for (int j = 0; j < 32; j++) x[j] = j == 0 ? 127.0f : (float)(j % 8) - 3.5f; /* ties: id = 1 */
    for (int j = 32; j < 64; j++) x[j] = 0.0f;
    block_q8_1 q[2];
    memset(q, 0x55, sizeof q);
    zk_from_float_q8_1_scalar(x, q, 64);
    static const int8_t want[8] = {-4, -2, -2, 0, 0, 2, 2, 4}; /* -3.5 -2.5 -1.5 -0.5 0.5 1.5 2.5 3.5 */
    int bad = 0, sum = 127;
    for (int j = 1; j < 32; j++) { bad += q[0].qs[j] != want[j % 8]; sum += want[j % 8]; }
    T_CHECKF(bad == 0, "%d ties not rounded to even", bad);
    T_CHECK(q[0].d == 0x3c00 && q[0].qs[0] == 127 && q[0].s == zeta_f32_to_f16((float)sum));
    T_CHECK(q[1].d == 0 && q[1].s == 0 && q[1].qs[0] == 0 && q[1].qs[31] == 0);
    /* on random data: |x - q*d| <= d/2 (with d's f16 rounding), s = f16(d * sum q) */
    const int64_t n = 32 * 500;
    float *r = malloc(n * sizeof(float));
    block_q8_1 *b = malloc(n / 32 * sizeof *b);
    fill_edge_floats(r, n, 2.0f, 3e4f);
    zk_from_float_q8_1_scalar(r, b, n);
    bad = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        float amax = 0;
        int s = 0;
        for (int j = 0; j < 32; j++) if (fabsf(r[i * 32 + j]) > amax) amax = fabsf(r[i * 32 + j]);
        for (int j = 0; j < 32; j++) s += b[i].qs[j];
        const float dq = zeta_f16_to_f32(b[i].d);
        if (!isfinite(127.0f / amax)) continue; /* amax < ~4e-37: id overflows, codes are INT32_MIN, as ggml's */
        if (b[i].s != zeta_f32_to_f16((amax / 127.0f) * (float)s) && bad++ < 3)
            printf("    block %lld: s 0x%04x, expected 0x%04x\n", (long long)i, b[i].s, zeta_f32_to_f16((amax / 127.0f) * (float)s));
        if (dq < 0x1p-14f) continue; /* d rounded to an f16 subnormal or zero: no relative bound */
        for (int j = 0; j < 32; j++)
            bad += fabsf((float)b[i].qs[j] * dq - r[i * 32 + j]) > 0.5f * dq + 127.0f * dq * 0x1p-11f;
    }
    T_CHECKF(bad == 0, "%d bad values", bad);
    free(r); free(b);
}

/* Every ISA's Q8_1 activation quantizer gives the scalar bytes, on edge data (incl. inf). */
static void test_from_float_q8_1_identical(void) {
    isa t[3];
    int nt = simd_isas(t), ran = 0;
    const int64_t n = 11008, nb = n / 32;
    float *x = malloc(n * sizeof(float));
    block_q8_1 *ref = malloc(nb * sizeof *ref), *got = malloc(nb * sizeof *got);
    for (int k = 0; k < nt; k++) {
        if (!t[k].ok) { printf("    skip %s: %s\n", t[k].name, t[k].why); continue; }
        ran++;
        for (int rep = 0; rep < 5; rep++) {
            fill_edge_floats(x, n, rep == 0 ? 1.0f : rep == 1 ? 1e-3f : rep == 2 ? 1e3f : 7.0f, 3e4f);
            if (rep == 3) { for (int j = 64; j < 96; j++) x[j] = (j == 70) ? -INFINITY : (j == 71 ? INFINITY : 1.0f); }
            if (rep == 4) { for (int j = 128; j < 160; j++) x[j] = (j == 130) ? INFINITY : 1.0f; } /* one inf */
            memset(ref, 0x5a, nb * sizeof *ref);
            memset(got, 0xa5, nb * sizeof *got);
            zk_from_float_q8_1_scalar(x, ref, n);
            t[k].q8_1(x, got, n);
            const bool same = memcmp(ref, got, nb * sizeof *ref) == 0;
            T_CHECKF(same, "%s from_float q8_1 differs from scalar (rep %d)", t[k].name, rep);
            if (!same) {
                for (int64_t b = 0; b < nb; b++) if (memcmp(&ref[b], &got[b], sizeof ref[b])) { printf("    first block %lld\n", (long long)b); break; }
            }
        }
    }
    free(x); free(ref); free(got);
    if (!ran) T_SKIP("no SIMD kernels supported by this CPU");
}

/* ---- dots ------------------------------------------------------------------------------------ */

/* A weight row of `wt` for n elements, with edge blocks: huge / tiny / negative scales, minimums of
 * both signs, all-zero and all-one codes and fifth bits. */
static void *make_weights(const wtype *wt, int64_t n) {
    const int64_t nb = n / 32;
    uint8_t *w = malloc((size_t)nb * wt->block_bytes);
    for (int64_t i = 0; i < nb; i++) {
        uint8_t *blk = w + i * wt->block_bytes;
        for (size_t k = 0; k < wt->block_bytes; k++) blk[k] = (uint8_t)rnd_u32();
        if (i % 3 == 0) memset(blk, (i % 2) ? 0xff : 0x00, wt->block_bytes);
        const float dv = i % 5 == 0 ? -1000.0f : i % 7 == 0 ? 3e-7f : 0.01f + (float)(i % 13) * 0.003f;
        const float mv = i % 4 == 0 ? -500.0f : i % 4 == 1 ? 0.0f : rnd_unit() * 0.5f;
        const zeta_f16 d = zeta_f32_to_f16(wt->type == ZETA_TYPE_Q5_0 ? dv : fabsf(dv));
        memcpy(blk, &d, 2); /* d is the first field of every legacy block */
        if (wt->type != ZETA_TYPE_Q5_0) {
            const zeta_f16 m = zeta_f32_to_f16(mv);
            memcpy(blk + 2, &m, 2); /* m follows d in Q4_1 / Q5_1 */
        }
    }
    return w;
}

/* The activation row of a weight type: Q8_1 for Q4_1 / Q5_1, Q8_0 for Q5_0 (scalar quantizers). */
static void *make_activations(const wtype *wt, const float *xf, int64_t n) {
    if (wt->type == ZETA_TYPE_Q5_0) {
        block_q8_0 *x = malloc((size_t)(n / 32) * sizeof *x);
        zk_scalar()->from_float[ZETA_TYPE_Q8_0](xf, x, n);
        return x;
    }
    block_q8_1 *x = malloc((size_t)(n / 32) * sizeof *x);
    zk_from_float_q8_1_scalar(xf, x, n);
    return x;
}

/* The magnitude of the terms a dot sums: per block |d_w d_x| sum |q_w q_x| (the signed codes for
 * Q5_0) plus |m_w s_x| — at least sum |w * x|, and what the f32 rounding is relative to. */
static double term_magnitude(const wtype *wt, const void *w, const void *x, int64_t n) {
    float *a = malloc(n * sizeof(float));
    double s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        const uint8_t *blk = (const uint8_t *)w + i * wt->block_bytes;
        zeta_f16 dw, mw = 0;
        memcpy(&dw, blk, 2);
        if (wt->type != ZETA_TYPE_Q5_0) memcpy(&mw, blk + 2, 2);
        /* codes q = (w - m) / d recovered exactly by dequantizing a copy with d = 1, m = 0 */
        uint8_t tmp[24];
        memcpy(tmp, blk, wt->block_bytes);
        const zeta_f16 one = 0x3c00, zero = 0;
        memcpy(tmp, &one, 2);
        if (wt->type != ZETA_TYPE_Q5_0) memcpy(tmp + 2, &zero, 2);
        wt->dequantize(tmp, a, 32);
        float dx, sx = 0;
        const int8_t *qx;
        if (wt->type == ZETA_TYPE_Q5_0) { const block_q8_0 *b = (const block_q8_0 *)x + i; dx = zeta_f16_to_f32(b->d); qx = b->qs; }
        else { const block_q8_1 *b = (const block_q8_1 *)x + i; dx = zeta_f16_to_f32(b->d); sx = zeta_f16_to_f32(b->s); qx = b->qs; }
        double t = 0;
        for (int j = 0; j < 32; j++) t += fabs((double)a[j] * qx[j]);
        s += fabs((double)zeta_f16_to_f32(dw) * dx) * t + fabs((double)zeta_f16_to_f32(mw) * sx);
    }
    free(a);
    return s;
}

static zk_vec_dot_fn dot_of(const isa *t, zeta_type ty) {
    return ty == ZETA_TYPE_Q4_1 ? t->dot_q4_1 : ty == ZETA_TYPE_Q5_0 ? t->dot_q5_0 : t->dot_q5_1;
}
static zk_vec_dot_fn scalar_dot(zeta_type ty) {
    return ty == ZETA_TYPE_Q4_1 ? zk_vec_dot_q4_1_scalar : ty == ZETA_TYPE_Q5_0 ? zk_vec_dot_q5_0_scalar : zk_vec_dot_q5_1_scalar;
}

/* The scalar dot agrees with dequantize-then-multiply in double, and every SIMD dot with the
 * scalar one, relative to the magnitude of the summed terms. */
static void check_vec_dot(const wtype *wt, double tol) {
    static const int64_t lengths[] = {32, 64, 96, 128, 160, 224, 256, 4096 + 32, 11008};
    isa t[3];
    const int nt = simd_isas(t);
    double worst[3] = {0, 0, 0}, worst_ref = 0;
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        const int64_t n = lengths[li];
        void *w = make_weights(wt, n);
        float *xf = malloc(n * sizeof(float)), *wf = malloc(n * sizeof(float)), *xd = malloc(n * sizeof(float));
        fill_edge_floats(xf, n, 1.5f, wt->type == ZETA_TYPE_Q5_0 ? 3e4f : 1e3f);
        void *x = make_activations(wt, xf, n);
        const double mag = term_magnitude(wt, w, x, n);
        float ref = f32_nan();
        scalar_dot(wt->type)(n, &ref, w, x);
        /* the scalar spec against dequantized operands (Q8_1: x = q * d; the kernel uses s = f16(d sum q)) */
        wt->dequantize(w, wf, n);
        if (wt->type == ZETA_TYPE_Q5_0) dequantize_row_q8_0(x, xd, n);
        else for (int64_t i = 0; i < n; i++) xd[i] = (float)((block_q8_1 *)x)[i / 32].qs[i % 32] * zeta_f16_to_f32(((block_q8_1 *)x)[i / 32].d);
        double exact = 0;
        for (int64_t i = 0; i < n; i++) exact += (double)wf[i] * xd[i];
        const double eref = fabs((double)ref - exact) / (mag > 0 ? mag : 1);
        if (eref > worst_ref) worst_ref = eref;
        T_CHECKF(eref < 2e-3, "scalar %s n=%lld: %.9g vs dequantized %.9g", zeta_type_name(wt->type), (long long)n, (double)ref, exact);
        for (int k = 0; k < nt; k++) {
            if (!t[k].ok) continue;
            float got = f32_nan();
            dot_of(&t[k], wt->type)(n, &got, w, x);
            const double err = fabs((double)got - (double)ref) / (mag > 0 ? mag : 1);
            T_CHECKF(ref == ref && got == got, "%s %s n=%lld: NaN output (ref %g got %g)", t[k].name,
                     zeta_type_name(wt->type), (long long)n, (double)ref, (double)got);
            T_CHECKF(err <= tol, "%s %s n=%lld: ref %.9g got %.9g, rel err %.3g > %.1g", t[k].name,
                     zeta_type_name(wt->type), (long long)n, (double)ref, (double)got, err, tol);
            if (err > worst[k]) worst[k] = err;
        }
        free(w); free(xf); free(wf); free(xd); free(x);
    }
    printf("    scalar %s vs dequantized operands: worst error %.2g\n", zeta_type_name(wt->type), worst_ref);
    int ran = 0;
    for (int k = 0; k < nt; k++) {
        if (!t[k].ok) { printf("    skip %s: %s\n", t[k].name, t[k].why); continue; }
        ran++;
        printf("    %s %s: worst error %.2g of the term magnitude\n", t[k].name, zeta_type_name(wt->type), worst[k]);
    }
    if (!ran) T_SKIP("no SIMD kernels supported by this CPU");
}
static void test_vec_dot_q4_1(void) { check_vec_dot(&k_q4_1, 1e-6); }
static void test_vec_dot_q5_0(void) { check_vec_dot(&k_q5_0, 1e-6); }
static void test_vec_dot_q5_1(void) { check_vec_dot(&k_q5_1, 1e-6); }

/* With d = m = 1 everywhere the block terms are integers summed exactly in f32: every ISA must give
 * exactly the scalar value, which is the true one, for every block count (tails included). */
static void test_int_dots_exact(void) {
    isa t[3];
    const int nt = simd_isas(t);
    const int64_t nb = 129;
    block_q4_1 *w41 = malloc(nb * sizeof *w41);
    block_q5_0 *w50 = malloc(nb * sizeof *w50);
    block_q5_1 *w51 = malloc(nb * sizeof *w51);
    block_q8_1 *x81 = malloc(nb * sizeof *x81);
    block_q8_0 *x80 = malloc(nb * sizeof *x80);
    for (int64_t i = 0; i < nb; i++) {
        w41[i].d = w41[i].m = w50[i].d = w51[i].d = w51[i].m = x81[i].d = x80[i].d = 0x3c00;
        x81[i].s = zeta_f32_to_f16((float)((int)(rnd_u32() % 41) - 20));
        for (int j = 0; j < 16; j++) { w41[i].qs[j] = (uint8_t)rnd_u32(); w50[i].qs[j] = (uint8_t)rnd_u32(); w51[i].qs[j] = (uint8_t)rnd_u32(); }
        for (int j = 0; j < 4; j++) { w50[i].qh[j] = (uint8_t)rnd_u32(); w51[i].qh[j] = (uint8_t)rnd_u32(); }
        for (int j = 0; j < 32; j++) x81[i].qs[j] = x80[i].qs[j] = (int8_t)((int)(rnd_u32() % 256) - 128);
        if (i % 5 == 0) for (int j = 0; j < 32; j++) x81[i].qs[j] = x80[i].qs[j] = (j & 1) ? -128 : 127;
    }
    int bad = 0;
    for (int64_t m = 1; m <= nb; m++) {
        int64_t e41 = 0, e50 = 0, e51 = 0;
        for (int64_t i = 0; i < m; i++) {
            uint32_t h50, h51;
            memcpy(&h50, w50[i].qh, 4);
            memcpy(&h51, w51[i].qh, 4);
            for (int j = 0; j < 32; j++) {
                const int nib41 = j < 16 ? (w41[i].qs[j] & 15) : (w41[i].qs[j - 16] >> 4);
                const int nib50 = j < 16 ? (w50[i].qs[j] & 15) : (w50[i].qs[j - 16] >> 4);
                const int nib51 = j < 16 ? (w51[i].qs[j] & 15) : (w51[i].qs[j - 16] >> 4);
                e41 += nib41 * x81[i].qs[j];
                e50 += (nib50 + (int)((h50 >> j) & 1) * 16 - 16) * x80[i].qs[j];
                e51 += (nib51 + (int)((h51 >> j) & 1) * 16) * x81[i].qs[j];
            }
            e41 += (int64_t)zeta_f16_to_f32(x81[i].s);
            e51 += (int64_t)zeta_f16_to_f32(x81[i].s);
        }
        float s41 = f32_nan(), s50 = f32_nan(), s51 = f32_nan();
        zk_vec_dot_q4_1_scalar(m * 32, &s41, w41, x81);
        zk_vec_dot_q5_0_scalar(m * 32, &s50, w50, x80);
        zk_vec_dot_q5_1_scalar(m * 32, &s51, w51, x81);
        if (s41 != (float)e41 || s50 != (float)e50 || s51 != (float)e51) {
            if (bad++ < 3) printf("    scalar %lld blocks: %g %g %g vs %lld %lld %lld\n", (long long)m, (double)s41, (double)s50,
                                  (double)s51, (long long)e41, (long long)e50, (long long)e51);
        }
        for (int k = 0; k < nt; k++) {
            if (!t[k].ok) continue;
            float g41 = f32_nan(), g50 = f32_nan(), g51 = f32_nan();
            t[k].dot_q4_1(m * 32, &g41, w41, x81);
            t[k].dot_q5_0(m * 32, &g50, w50, x80);
            t[k].dot_q5_1(m * 32, &g51, w51, x81);
            if ((g41 != s41 || g50 != s50 || g51 != s51) && bad++ < 6)
                printf("    %s %lld blocks: q4_1 %g vs %g, q5_0 %g vs %g, q5_1 %g vs %g\n", t[k].name, (long long)m,
                       (double)g41, (double)s41, (double)g50, (double)s50, (double)g51, (double)s51);
        }
    }
    T_CHECKF(bad == 0, "%d inexact integer dots", bad);
    free(w41); free(w50); free(w51); free(x81); free(x80);
}

static void test_avx512_available(void) {
#ifdef ZETA_HAVE_X86
    if (!zk_cpu_has_avx512()) T_SKIP("this CPU has no AVX-512 (F/BW/VL/DQ + OS ZMM state); its legacy kernels are untested here");
#else
    T_SKIP("AVX-512 kernels not compiled in (not x86-64)");
#endif
}

int main(void) {
    T_RUN(test_known_blocks);
    T_RUN(test_q4_1_matches_ggml);
    T_RUN(test_q5_0_matches_ggml);
    T_RUN(test_q5_1_matches_ggml);
    T_RUN(test_round_trip_q4_1);
    T_RUN(test_round_trip_q5_0);
    T_RUN(test_round_trip_q5_1);
    T_RUN(test_scalar_q8_1_activation_quantizer);
    T_RUN(test_avx512_available);
    T_RUN(test_from_float_q8_1_identical);
    T_RUN(test_vec_dot_q4_1);
    T_RUN(test_vec_dot_q5_0);
    T_RUN(test_vec_dot_q5_1);
    T_RUN(test_int_dots_exact);
    return t_done();
}
