/* test_quant_iqk.c — tests of Q2_K, Q3_K, IQ4_NL and IQ4_XS: the reference quantizers against the
 * bytes llama-quantize wrote (zoo-*.gguf), dequantization by hand-built blocks, the error of
 * dequantize(quantize(x)), and every SIMD dot-product kernel this CPU supports against the scalar
 * spec (NaN-poisoned outputs, error relative to sum |w * x|, edge values, exact integer cases). */
#include "test.h"
#include "cpu/kernels.h"
#include "cpu/kernels_iqk.h"
#include "gguf.h"
#include "quant.h"

#include <math.h>
#include <stdint.h>

/* ---- helpers --------------------------------------------------------------------------------- */

static uint64_t g_rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd_u32(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float rnd_unit(void) { return (float)(rnd_u32() & 0xffffff) / 16777216.0f * 2.0f - 1.0f; } /* [-1, 1) */
/* Heavy-tailed: a uniform times a log-uniform magnitude over ~3 decades. */
static float rnd_heavy(void) { return rnd_unit() * expf(-3.0f * (float)(rnd_u32() % 1000) / 1000.0f * 2.3f); }
static float f32_nan(void) { return zeta_bits_to_f32(0x7fc00000u); }

/* Floats by 32-block with edge cases: zeros, all-equal, huge, tiny, denormal, one outlier, ties,
 * all negative, heavy-tailed. */
static void fill_edge_floats(float *x, int64_t n, float scale) {
    for (int64_t b = 0; b < n / 32; b++) {
        float *xb = x + b * 32;
        switch (b % 10) {
        case 0: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * scale; break;
        case 1: for (int j = 0; j < 32; j++) xb[j] = 0.0f; break;
        case 2: for (int j = 0; j < 32; j++) xb[j] = 0.75f * scale; break;
        case 3: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * 3e4f; break;
        case 4: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * 1e-30f; break;
        case 5: for (int j = 0; j < 32; j++) xb[j] = (j & 1 ? -1.0f : 1.0f) * (float)j * 1e-39f; break;
        case 6: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * (j == 5 ? 100.0f : 0.01f) * scale; break;
        case 7: for (int j = 0; j < 32; j++) xb[j] = (j == 0) ? 127.0f : (float)(j % 16) - 7.5f; break;
        case 8: for (int j = 0; j < 32; j++) xb[j] = -fabsf(rnd_unit()) * scale; break;
        default: for (int j = 0; j < 32; j++) xb[j] = rnd_heavy() * scale; break;
        }
    }
}

typedef void (*quant_fn)(const float *x, void *y, int64_t n);
typedef void (*dequant_fn)(const void *x, float *y, int64_t n);

static void q_q2_K(const float *x, void *y, int64_t n) { quantize_row_q2_K_ref(x, y, n); }
static void q_q3_K(const float *x, void *y, int64_t n) { quantize_row_q3_K_ref(x, y, n); }
static void q_iq4_nl(const float *x, void *y, int64_t n) { quantize_row_iq4_nl_ref(x, y, n); }
static void q_iq4_xs(const float *x, void *y, int64_t n) { quantize_row_iq4_xs_ref(x, y, n); }
static void dq_q2_K(const void *x, float *y, int64_t n) { dequantize_row_q2_K(x, y, n); }
static void dq_q3_K(const void *x, float *y, int64_t n) { dequantize_row_q3_K(x, y, n); }
static void dq_iq4_nl(const void *x, float *y, int64_t n) { dequantize_row_iq4_nl(x, y, n); }
static void dq_iq4_xs(const void *x, float *y, int64_t n) { dequantize_row_iq4_xs(x, y, n); }

typedef struct qtype {
    const char *name;
    zeta_type type;
    int block;          /* elements per block */
    size_t bytes;       /* bytes per block */
    quant_fn quant;
    dequant_fn dequant;
    const char *file;   /* zoo file with tensors of this type */
    double max_rel_rmse; /* bound of rms(dequant(quant(x)) - x) / rms(x) on heavy-tailed data */
} qtype;

static const qtype k_types[] = {
    {"q2_K", ZETA_TYPE_Q2_K, 256, sizeof(block_q2_K), q_q2_K, dq_q2_K, "zoo-Q2_K.gguf", 0.45},
    {"q3_K", ZETA_TYPE_Q3_K, 256, sizeof(block_q3_K), q_q3_K, dq_q3_K, "zoo-Q3_K_S.gguf", 0.22},
    {"iq4_nl", ZETA_TYPE_IQ4_NL, 32, sizeof(block_iq4_nl), q_iq4_nl, dq_iq4_nl, "zoo-IQ4_NL.gguf", 0.12},
    {"iq4_xs", ZETA_TYPE_IQ4_XS, 256, sizeof(block_iq4_xs), q_iq4_xs, dq_iq4_xs, "zoo-IQ4_XS.gguf", 0.12},
};
#define N_TYPES (int)(sizeof k_types / sizeof k_types[0])

/* ---- byte-exact quantization ----------------------------------------------------------------- */

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

/* Quantizes every tensor of type t in t->file from its F32 original in zoo-F32.gguf and compares
 * the bytes; false if the files are missing. */
static bool check_file(const qtype *t) {
    gguf_file *gf = open_model("zoo-F32.gguf"), *gq = open_model(t->file);
    if (!gf || !gq) {
        gguf_close(gf);
        gguf_close(gq);
        return false;
    }
    int n_checked = 0, n_same = 0;
    for (uint64_t k = 0; k < gq->n_tensors; k++) {
        const gguf_tensor *q = &gq->tensors[k];
        if (q->type != (uint32_t)t->type) continue;
        const gguf_tensor *f = gguf_find_tensor(gf, q->name);
        T_CHECKF(f && f->type == ZETA_TYPE_F32 && f->n_elements == q->n_elements, "%s: no F32 original", q->name);
        if (!f || f->type != ZETA_TYPE_F32 || f->n_elements != q->n_elements) continue;
        const size_t nbytes = (size_t)q->n_bytes;
        uint8_t *mine = malloc(nbytes);
        float *floats = malloc(f->n_elements * sizeof(float)); /* the mapping may be unaligned for float */
        memcpy(floats, f->data, f->n_elements * sizeof(float));
        memset(mine, 0xa5, nbytes);
        t->quant(floats, mine, (int64_t)f->n_elements);
        const uint8_t *want = q->data;
        size_t first = nbytes, n_diff_blocks = 0;
        for (size_t b = 0; b < nbytes; b += t->bytes) {
            if (memcmp(mine + b, want + b, t->bytes) == 0) continue;
            if (first == nbytes) {
                first = b;
                while (mine[first] == want[first]) first++;
            }
            n_diff_blocks++;
        }
        T_CHECKF(first == nbytes, "%s %s: %zu of %zu blocks differ, first differing byte %zu", t->file, q->name,
                 n_diff_blocks, nbytes / t->bytes, first);
        n_checked++;
        n_same += first == nbytes;
        free(mine);
        free(floats);
    }
    printf("    %s: %d of %d %s tensors byte-identical to llama-quantize's\n", t->file, n_same, n_checked, t->name);
    T_CHECKF(n_checked >= 16, "only %d %s tensors checked", n_checked, t->name);
    gguf_close(gf);
    gguf_close(gq);
    return true;
}

static void test_quantize_matches_ggml(void) {
    int found = 0;
    for (int i = 0; i < N_TYPES; i++) found += check_file(&k_types[i]);
    if (!found) T_SKIP("zoo model files not found");
    T_CHECKF(found == N_TYPES, "only %d of %d zoo files found", found, N_TYPES);
}

/* ---- dequantization of hand-built blocks ----------------------------------------------------- */

static const int8_t k_iq4[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

static void test_dequantize_layouts(void) {
    float y[256];
    /* Q2_K: element e = 128c + 32s + l has code (qs[32c + l] >> 2s) & 3, sub-block e / 16 */
    block_q2_K q2;
    for (int j = 0; j < 16; j++) q2.scales[j] = (uint8_t)((j % 16) | ((15 - j) << 4));
    for (int j = 0; j < 64; j++) q2.qs[j] = (uint8_t)(j * 37 + 11);
    q2.d = zeta_f32_to_f16(0.5f);
    q2.dmin = zeta_f32_to_f16(0.25f);
    dequantize_row_q2_K(&q2, y, 256);
    int bad = 0;
    for (int e = 0; e < 256; e++) {
        const int c = e / 128, s = (e % 128) / 32, l = e % 32, j = e / 16;
        const int q = (q2.qs[32 * c + l] >> (2 * s)) & 3;
        const float want = 0.5f * (float)(j % 16) * (float)q - 0.25f * (float)(15 - j);
        bad += y[e] != want;
    }
    T_CHECKF(bad == 0, "q2_K: %d elements differ", bad);

    /* Q3_K: scale codes 0..63 packed; high bit of e in hmask[e % 32] bit e / 32 (set: q, clear: q - 4) */
    block_q3_K q3;
    memset(&q3, 0, sizeof q3);
    int codes[16];
    for (int j = 0; j < 16; j++) {
        codes[j] = (j * 23 + 5) % 64;
        if (j < 8) q3.scales[j] |= (uint8_t)(codes[j] & 0xf);
        else q3.scales[j - 8] |= (uint8_t)((codes[j] & 0xf) << 4);
        q3.scales[8 + j % 4] |= (uint8_t)((codes[j] >> 4) << (2 * (j / 4)));
    }
    for (int j = 0; j < 64; j++) q3.qs[j] = (uint8_t)(j * 53 + 7);
    for (int j = 0; j < 32; j++) q3.hmask[j] = (uint8_t)(j * 97 + 3);
    q3.d = zeta_f32_to_f16(0.125f);
    dequantize_row_q3_K(&q3, y, 256);
    bad = 0;
    for (int e = 0; e < 256; e++) {
        const int c = e / 128, s = (e % 128) / 32, l = e % 32;
        const int q = ((q3.qs[32 * c + l] >> (2 * s)) & 3) - ((q3.hmask[l] >> (e / 32)) & 1 ? 0 : 4);
        bad += y[e] != 0.125f * (float)(codes[e / 16] - 32) * (float)q;
    }
    T_CHECKF(bad == 0, "q3_K: %d elements differ", bad);

    /* IQ4_NL / IQ4_XS: qs[j] = element j (low nibble), j + 16 (high nibble); XS 6-bit block scales */
    block_iq4_nl nl;
    nl.d = zeta_f32_to_f16(-0.0625f);
    for (int j = 0; j < 16; j++) nl.qs[j] = (uint8_t)(j | ((15 - j) << 4));
    dequantize_row_iq4_nl(&nl, y, 32);
    bad = 0;
    for (int j = 0; j < 16; j++) bad += y[j] != -0.0625f * k_iq4[j] || y[j + 16] != -0.0625f * k_iq4[15 - j];
    T_CHECKF(bad == 0, "iq4_nl: %d elements differ", bad);

    block_iq4_xs xs;
    xs.d = zeta_f32_to_f16(0.5f);
    int ls[8] = {0, 63, 32, 31, 1, 40, 17, 50};
    xs.scales_h = 0;
    for (int ib = 0; ib < 8; ib++) {
        if (ib % 2 == 0) xs.scales_l[ib / 2] = (uint8_t)(ls[ib] & 0xf);
        else xs.scales_l[ib / 2] |= (uint8_t)((ls[ib] & 0xf) << 4);
        xs.scales_h |= (uint16_t)((ls[ib] >> 4) << (2 * ib));
    }
    for (int j = 0; j < 128; j++) xs.qs[j] = (uint8_t)(j * 29 + 1);
    dequantize_row_iq4_xs(&xs, y, 256);
    bad = 0;
    for (int e = 0; e < 256; e++) {
        const int ib = e / 32, j = e % 32;
        const int code = j < 16 ? xs.qs[16 * ib + j] & 0xf : xs.qs[16 * ib + j - 16] >> 4;
        bad += y[e] != (0.5f * (float)(ls[ib] - 32)) * (float)k_iq4[code];
    }
    T_CHECKF(bad == 0, "iq4_xs: %d elements differ", bad);
}

/* ---- dequantize(quantize(x)) ----------------------------------------------------------------- */

static void test_roundtrip_error(void) {
    const int64_t n = 256 * 64;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    uint8_t *q = malloc((size_t)n); /* >= bytes of every type */
    for (int i = 0; i < N_TYPES; i++) {
        const qtype *t = &k_types[i];
        for (int64_t j = 0; j < n; j++) x[j] = rnd_heavy() * 0.02f;
        t->quant(x, q, n);
        t->dequant(q, y, n);
        double e2 = 0, x2 = 0;
        int nonfinite = 0;
        for (int64_t j = 0; j < n; j++) {
            e2 += ((double)y[j] - x[j]) * ((double)y[j] - x[j]);
            x2 += (double)x[j] * x[j];
            nonfinite += !isfinite(y[j]);
        }
        const double rel = sqrt(e2 / x2);
        printf("    %s: rms error %.4f of rms(x)\n", t->name, rel);
        T_CHECKF(rel <= t->max_rel_rmse && nonfinite == 0, "%s: relative rms error %.4f > %.2f (%d non-finite)",
                 t->name, rel, t->max_rel_rmse, nonfinite);
        /* zero input gives zero output; edge data gives finite output */
        memset(x, 0, n * sizeof(float));
        t->quant(x, q, n);
        t->dequant(q, y, n);
        int bad = 0;
        for (int64_t j = 0; j < n; j++) bad += y[j] != 0.0f;
        T_CHECKF(bad == 0, "%s: %d nonzero outputs for zero input", t->name, bad);
        fill_edge_floats(x, n, 1.0f);
        t->quant(x, q, n);
        t->dequant(q, y, n);
        bad = 0;
        for (int64_t j = 0; j < n; j++) bad += !isfinite(y[j]);
        T_CHECKF(bad == 0, "%s: %d non-finite outputs on edge data", t->name, bad);
        /* an all-equal block is reproduced to f16 precision */
        for (int64_t j = 0; j < n; j++) x[j] = 0.3f;
        t->quant(x, q, n);
        t->dequant(q, y, n);
        double worst = 0;
        for (int64_t j = 0; j < n; j++) {
            const double e = fabs((double)y[j] - 0.3);
            if (e > worst) worst = e;
        }
        T_CHECKF(worst < 0.3 * 0.1, "%s: constant 0.3 comes back with error %g", t->name, worst);
    }
    free(x); free(y); free(q);
}

/* ---- SIMD kernels against the scalar spec ---------------------------------------------------- */

typedef struct kset { const char *name; bool ok; const char *why; zk_vec_dot_fn fn[4]; } kset;

/* The SIMD sets this build and CPU can run (order of k_types). */
static int simd_sets(kset *k) {
    int n = 0;
#ifdef ZETA_HAVE_X86
    k[n++] = (kset){"avx2", zk_cpu_has_avx2(), "not supported by this CPU",
                    {zk_vec_dot_q2_K_avx2, zk_vec_dot_q3_K_avx2, zk_vec_dot_iq4_nl_avx2, zk_vec_dot_iq4_xs_avx2}};
    k[n++] = (kset){"avx512", zk_cpu_has_avx512(), "this CPU has no AVX-512 (F/BW/VL/DQ + OS ZMM state)",
                    {zk_vec_dot_q2_K_avx512, zk_vec_dot_q3_K_avx512, zk_vec_dot_iq4_nl_avx512, zk_vec_dot_iq4_xs_avx512}};
#endif
#ifdef ZETA_HAVE_NEON
    k[n++] = (kset){"neon", true, "", {zk_vec_dot_q2_K_neon, zk_vec_dot_q3_K_neon, zk_vec_dot_iq4_nl_neon, zk_vec_dot_iq4_xs_neon}};
#endif
    return n;
}
static const zk_vec_dot_fn k_scalar_fns[4] = {zk_vec_dot_q2_K_scalar, zk_vec_dot_q3_K_scalar, zk_vec_dot_iq4_nl_scalar,
                                              zk_vec_dot_iq4_xs_scalar};

/* Weights of n elements: mode 0 quantized edge floats, mode 1 random bytes with sane f16 scales,
 * mode 2 random bytes with extreme scales (1000, 3e-7, negative). */
static void *make_weights(const qtype *t, int64_t n, int mode) {
    const int64_t nb = n / t->block;
    uint8_t *w = malloc((size_t)nb * t->bytes);
    if (mode == 0) {
        float *f = malloc(n * sizeof(float));
        fill_edge_floats(f, n, 2.0f);
        t->quant(f, w, n);
        free(f);
        return w;
    }
    for (size_t j = 0; j < (size_t)nb * t->bytes; j++) w[j] = (uint8_t)rnd_u32();
    for (int64_t i = 0; i < nb; i++) {
        uint8_t *blk = w + i * t->bytes;
        const float d = mode == 1 ? 0.01f + (float)(i % 13) * 0.003f : (i % 3 == 0 ? 1000.0f : i % 3 == 1 ? 3e-7f : -0.5f);
        const zeta_f16 h = zeta_f32_to_f16(d), h2 = zeta_f32_to_f16(d * 0.5f);
        switch (t->type) {
        case ZETA_TYPE_Q2_K: ((block_q2_K *)blk)->d = h; ((block_q2_K *)blk)->dmin = h2; break;
        case ZETA_TYPE_Q3_K: ((block_q3_K *)blk)->d = h; break;
        case ZETA_TYPE_IQ4_NL: ((block_iq4_nl *)blk)->d = h; break;
        default: ((block_iq4_xs *)blk)->d = h; break;
        }
    }
    return w;
}

/* Activations of the type's dot partner: mode 0 from edge floats, mode 1 random codes in -127..127
 * (Q8_K bsums consistent), mode 2 all codes +-127 (largest partial sums). */
static void *make_acts(const qtype *t, int64_t n, int mode) {
    const bool k = t->type != ZETA_TYPE_IQ4_NL;
    void *x = malloc(k ? (size_t)(n / 256) * sizeof(block_q8_K) : (size_t)(n / 32) * sizeof(block_q8_0));
    if (mode == 0) {
        float *f = malloc(n * sizeof(float));
        fill_edge_floats(f, n, 1.5f);
        if (k) quantize_row_q8_K_ref(f, x, n);
        else zk_scalar()->from_float[ZETA_TYPE_Q8_0](f, x, n);
        free(f);
        return x;
    }
    for (int64_t i = 0; i < n / (k ? 256 : 32); i++) {
        int8_t *qs = k ? ((block_q8_K *)x)[i].qs : ((block_q8_0 *)x)[i].qs;
        for (int j = 0; j < (k ? 256 : 32); j++)
            qs[j] = (int8_t)(mode == 1 ? (int)(rnd_u32() % 255) - 127 : ((j + i) % 3 ? 127 : -127));
        if (k) {
            block_q8_K *b = &((block_q8_K *)x)[i];
            b->d = 0.001f * (float)(1 + i % 7);
            for (int j = 0; j < 16; j++) {
                int s = 0;
                for (int l = 0; l < 16; l++) s += b->qs[16 * j + l];
                b->bsums[j] = (int16_t)s;
            }
        } else {
            ((block_q8_0 *)x)[i].d = zeta_f32_to_f16(0.001f * (float)(1 + i % 7));
        }
    }
    return x;
}

/* sum |w_i * x_i| in double from the dequantized operands. */
static double abs_dot(const qtype *t, const void *w, const void *x, int64_t n) {
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    t->dequant(w, a, n);
    if (t->type == ZETA_TYPE_IQ4_NL) dequantize_row_q8_0(x, b, n);
    else dequantize_row_q8_K(x, b, n);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += fabs((double)a[i] * (double)b[i]);
    free(a); free(b);
    return s;
}

static void check_kernels(int ti, double tol) {
    const qtype *t = &k_types[ti];
    kset k[3];
    const int nk = simd_sets(k);
    int ran = 0;
    static const int64_t lengths[] = {32, 64, 96, 256, 512, 768, 4096, 4096 + 32, 11008};
    for (int s = 0; s < nk; s++) {
        if (!k[s].ok) { printf("    skip %s: %s\n", k[s].name, k[s].why); continue; }
        ran++;
        double worst = 0;
        for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
            const int64_t n = lengths[li];
            if (n % t->block) continue;
            for (int mode = 0; mode < 9; mode++) {
                void *w = make_weights(t, n, mode % 3), *x = make_acts(t, n, mode / 3);
                float ref = f32_nan(), got = f32_nan();
                k_scalar_fns[ti](n, &ref, w, x);
                k[s].fn[ti](n, &got, w, x);
                const double scale = abs_dot(t, w, x, n);
                const double err = fabs((double)got - (double)ref) / (scale > 0 ? scale : 1);
                T_CHECKF(ref == ref && got == got, "%s %s n=%lld mode %d: NaN output (ref %g got %g)", k[s].name,
                         t->name, (long long)n, mode, (double)ref, (double)got);
                T_CHECKF(err <= tol, "%s %s n=%lld mode %d: ref %.9g got %.9g, rel err %.3g > %.1g", k[s].name,
                         t->name, (long long)n, mode, (double)ref, (double)got, err, tol);
                if (err > worst) worst = err;
                free(w); free(x);
            }
        }
        printf("    %s %s: worst error %.2g of sum|w*x|\n", k[s].name, t->name, worst);
    }
    if (!ran) T_SKIP("no SIMD kernel set supported here");
}
static void test_vec_dot_q2_K(void) { check_kernels(0, 1e-6); }
static void test_vec_dot_q3_K(void) { check_kernels(1, 1e-6); }
static void test_vec_dot_iq4_nl(void) { check_kernels(2, 1e-6); }
static void test_vec_dot_iq4_xs(void) { check_kernels(3, 1e-6); }

/* The scalar spec against a float64 sum over the dequantized operands. */
static void test_scalar_vs_dequantized(void) {
    for (int ti = 0; ti < N_TYPES; ti++) {
        const qtype *t = &k_types[ti];
        const int64_t n = 4096;
        for (int mode = 0; mode < 3; mode++) {
            void *w = make_weights(t, n, mode), *x = make_acts(t, n, mode);
            float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
            t->dequant(w, a, n);
            if (t->type == ZETA_TYPE_IQ4_NL) dequantize_row_q8_0(x, b, n);
            else dequantize_row_q8_K(x, b, n);
            double exact = 0, scale = 0;
            for (int64_t i = 0; i < n; i++) {
                exact += (double)a[i] * b[i];
                scale += fabs((double)a[i] * b[i]);
            }
            float got = f32_nan();
            k_scalar_fns[ti](n, &got, w, x);
            const double err = fabs((double)got - exact) / (scale > 0 ? scale : 1);
            T_CHECKF(err <= 1e-5, "%s mode %d: scalar %.9g vs float64 %.9g (rel err %.3g)", t->name, mode,
                     (double)got, exact, err);
            free(w); free(x); free(a); free(b);
        }
    }
}

/* Scales 1.0 everywhere: results are small integers, exact in every ISA. */
static void test_int_dots_exact(void) {
    kset k[3];
    const int nk = simd_sets(k);
    int ran = 0;
    for (int ti = 0; ti < N_TYPES; ti++) {
        const qtype *t = &k_types[ti];
        const int64_t n = 4096;
        uint8_t *w = make_weights(t, n, 1);
        for (int64_t i = 0; i < n / t->block; i++) {
            uint8_t *blk = w + i * t->bytes;
            switch (t->type) {
            case ZETA_TYPE_Q2_K: ((block_q2_K *)blk)->d = 0x3c00; ((block_q2_K *)blk)->dmin = 0x3c00; break;
            case ZETA_TYPE_Q3_K: ((block_q3_K *)blk)->d = 0x3c00; break;
            case ZETA_TYPE_IQ4_NL: ((block_iq4_nl *)blk)->d = 0x3c00; break;
            default: ((block_iq4_xs *)blk)->d = 0x3c00; break;
            }
        }
        uint8_t *x = make_acts(t, n, 1);
        for (int64_t i = 0; i < n / (t->type == ZETA_TYPE_IQ4_NL ? 32 : 256); i++) {
            if (t->type == ZETA_TYPE_IQ4_NL) ((block_q8_0 *)x)[i].d = 0x3c00;
            else ((block_q8_K *)x)[i].d = 1.0f;
        }
        for (int s = 0; s < nk; s++) {
            if (!k[s].ok) continue;
            ran++;
            for (int64_t m = t->block; m <= n; m += t->block * (m < 8 * t->block ? 1 : 5)) {
                float g = f32_nan(), r = f32_nan();
                k[s].fn[ti](m, &g, w, x);
                k_scalar_fns[ti](m, &r, w, x);
                T_CHECKF(g == r, "%s %s n=%lld: %.9g vs scalar %.9g", k[s].name, t->name, (long long)m, (double)g,
                         (double)r);
            }
        }
        free(w); free(x);
    }
    if (!ran) T_SKIP("no SIMD kernel set supported here");
}

static void test_avx512_available(void) {
#ifdef ZETA_HAVE_X86
    if (!zk_cpu_has_avx512()) T_SKIP("this CPU has no AVX-512 (F/BW/VL/DQ + OS ZMM state); its iqk kernels are untested here");
#else
    T_SKIP("not an x86-64 build");
#endif
}

int main(void) {
    T_RUN(test_quantize_matches_ggml);
    T_RUN(test_dequantize_layouts);
    T_RUN(test_roundtrip_error);
    T_RUN(test_scalar_vs_dequantized);
    T_RUN(test_avx512_available);
    T_RUN(test_vec_dot_q2_K);
    T_RUN(test_vec_dot_q3_K);
    T_RUN(test_vec_dot_iq4_nl);
    T_RUN(test_vec_dot_iq4_xs);
    T_RUN(test_int_dots_exact);
    return t_done();
}
