/* test_cuda.c — the CUDA backend against the CPU backend and exact references: backend selection
 * and its errors, each op (RMSNorm, RoPE in both layouts with factors and YaRN, SwiGLU, add,
 * attention with GQA over several positions, short and split-long contexts, every matmul type for
 * decode and prompt batches), then whole models: logits CUDA vs CPU, greedy tokens, context shift
 * and a session file saved on the GPU and loaded on the CPU; decode steps replayed from a CUDA
 * graph against the same steps run eagerly (the sparse pass of variational gating is
 * test_cuda_sparse.c's). Without CUDA compiled in, or without a device, the device cases print skip lines and the file
 * exits 0. Models beyond stories260K come from $ZETA_CUDA_MODELS, tests/data/models or
 * ../shared/goldens/models (the first that has each file). */
#include "test.h"
#include "cuda_test_util.h"
#include "session.h"
#include "cuda/cuda_backend.h"
#include "quant.h"
#include "sparse.h"

#include <math.h>
#include <stdint.h>
#include <unistd.h>

#define STORIES "models/stories260K.gguf"

static bool g_device;          /* CUDA compiled in and a device present */
static char g_why[200];        /* why the device cases skip */
static zeta_model *g_mcpu, *g_mcu;   /* stories260K on each backend */
static zeta_session *g_scpu, *g_scu;


/* device buffer helpers on the CUDA session's backend */
static float *dalloc(size_t n) {
    float *p = g_scu->be.ops->buf_alloc(g_scu->be.ctx, n);
    if (p) { /* poison: NaN everywhere, so an unwritten output fails */
        float *nan = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) nan[i] = NAN;
        cuda_buf_write(g_scu->be.ctx, p, nan, n, NULL);
        free(nan);
    }
    return p;
}
static void dfree(float *p) { g_scu->be.ops->buf_free(g_scu->be.ctx, p); }
static void up(float *d, const float *h, size_t n) { cuda_buf_write(g_scu->be.ctx, d, h, n, NULL); }
static zeta_status down(float *h, const float *d, size_t n) {
    zeta_error err;
    zeta_status st = g_scu->be.ops->read(g_scu->be.ctx, d, n, h, &err);
    if (st != ZETA_OK) printf("    read: %s\n", err.message);
    return st;
}
#define CPU (&g_scpu->be)
#define CU (&g_scu->be)


/* ------------------------------------------------------------------ selection */

static void test_backend_selection(void) {
    zeta_model *m = NULL;
    zeta_error err;
    zeta_status st = load(STORIES, ZETA_BACKEND_CUDA, &m, &err);
    if (!cuda_compiled()) {
        T_CHECKF(st == ZETA_ERR_UNSUPPORTED && !m, "%s", zeta_status_name(st));
        T_CHECKF(strstr(err.message, "rebuild with make CUDA=1") != NULL, "%s", err.message);
    } else if (!g_device) {
        T_CHECKF(st == ZETA_ERR_BACKEND && !m, "%s", zeta_status_name(st));
        T_CHECKF(strstr(err.message, "CUDA") != NULL, "%s", err.message);
        printf("    no device: %s\n", err.message);
    } else {
        T_CHECKF(st == ZETA_OK, "%s", err.message);
        T_CHECK(m && m->cuda && m->layers[0].wq.dev);
    }
    zeta_model_free(m);
    /* AUTO always loads: CUDA when there is a device, else CPU */
    m = NULL;
    T_CHECKF(load(STORIES, ZETA_BACKEND_AUTO, &m, &err) == ZETA_OK, "%s", err.message);
    if (m) T_CHECK((m->cuda != NULL) == g_device);
    zeta_model_free(m);
    m = NULL;
    T_CHECKF(load(STORIES, ZETA_BACKEND_CPU, &m, &err) == ZETA_OK && m && !m->cuda, "%s", err.message);
    zeta_model_free(m);
}

static void test_cuda_session_refusals(void) {
    if (!g_device) T_SKIP("%s", g_why);
    zeta_session_params sp = zeta_session_params_default();
    sp.kv_type = ZETA_TYPE_Q8_0;
    sp.n_ctx = 64;
    zeta_session *s = NULL;
    zeta_error err;
    T_CHECK(zeta_session_new(g_mcu, &sp, &s, &err) == ZETA_ERR_UNSUPPORTED && !s);
    T_CHECKF(strstr(err.message, "f16") != NULL, "%s", err.message);
    /* every weight type the CPU loads has CUDA kernels since 2026-11-28, so no file can show the
     * refusal of an unsupported type any more (cuda_backend.cu keeps the check, naming the tensor
     * and its type); zoo-Q5_0, its example before, now opens a session */
    char path[512];
    const char *dirs[] = {getenv("ZETA_CUDA_MODELS"), "tests/data/models", "../shared/goldens/models"};
    bool found = false;
    for (int i = 0; i < 3 && !found; i++) {
        if (!dirs[i]) continue;
        snprintf(path, sizeof path, "%s/zoo-Q5_0.gguf", dirs[i]);
        found = access(path, R_OK) == 0;
    }
    if (!found) { printf("    (no zoo-Q5_0.gguf: not checked)\n"); return; }
    zeta_model *m = NULL;
    T_CHECKF(load(path, ZETA_BACKEND_CUDA, &m, &err) == ZETA_OK, "%s", err.message);
    if (!m) return;
    sp.kv_type = ZETA_TYPE_F16;
    T_CHECKF(zeta_session_new(m, &sp, &s, &err) == ZETA_OK && s, "zoo-Q5_0 on CUDA: %s", err.message);
    zeta_session_free(s);
    zeta_model_free(m);
}

/* ------------------------------------------------------------------ element-wise ops */

static void test_rmsnorm(void) {
    if (!g_device) T_SKIP("%s", g_why);
    const int n = 260, rows = 5;
    float *g = malloc(n * sizeof(float)), *x = malloc(rows * n * sizeof(float)), *ref = malloc(rows * n * sizeof(float)),
          *got = malloc(rows * n * sizeof(float));
    fill(g, n, 2.0f);
    fill(x, (size_t)rows * n, 3.0f);
    zeta_weight w = {.name = "g", .type = ZETA_TYPE_F32, .ne0 = n, .ne1 = 1, .row_bytes = n * 4, .data = g};
    zeta_error err;
    T_CHECKF(cuda_weight_upload(g_mcu, &w, &err) == ZETA_OK, "%s", err.message);
    CPU->ops->rmsnorm(CPU->ctx, x, &w, 1e-5f, rows, ref);
    float *dx = dalloc((size_t)rows * n);
    up(dx, x, (size_t)rows * n);
    CU->ops->rmsnorm(CU->ctx, dx, &w, 1e-5f, rows, dx); /* in place */
    T_CHECK(down(got, dx, (size_t)rows * n) == ZETA_OK);
    double d = maxdiff(ref, got, (size_t)rows * n);
    T_CHECKF(d <= 1e-6 * maxabs(ref, (size_t)rows * n), "max diff %g", d);
    dfree(dx);
    cuda_weight_free(&w);
    free(g); free(x); free(ref); free(got);
}

/* the norm that also rounds its output to Q8_K for the K-quant products next (decode steps): its xq
 * bytes equal the products' own rounding of the plain norm's output; a block with two elements of
 * the largest magnitude and opposite signs (the first decides the sign of the scale), an all-zero
 * block (d = 0, zero codes) and a block whose largest element is negative */
static void test_rmsnorm_q8K(void) {
    if (!g_device) T_SKIP("%s", g_why);
    const int n = 4096;
    float *x = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float)), *out = malloc(n * sizeof(float)),
          *ref = malloc(n * sizeof(float));
    uint8_t *fused = malloc(n + n / 4), *rq = malloc(n + n / 4);
    fill(x, n, 2.0f);
    fill(g, n, 1.5f);
    for (int i = 256; i < 512; i++) x[i] *= 0.25f;
    x[256 + 9] = 3.0f; /* block 1: +3 at 9 and -3 at 200 (same |out| when g is equal there) */
    x[256 + 200] = -3.0f;
    g[256 + 9] = g[256 + 200] = 1.0f;
    for (int i = 512; i < 768; i++) x[i] = 0.0f; /* block 2: all zero */
    x[768 + 17] = -4.0f; /* block 3: its largest is negative */
    g[768 + 17] = 1.0f;
    zeta_error err;
    T_CHECKF(cuda_test_rmsnorm_q8K(x, g, n, 1e-5f, out, fused, rq, &err) == ZETA_OK, "%s", err.message);
    zeta_weight w = {.name = "g", .type = ZETA_TYPE_F32, .ne0 = n, .ne1 = 1, .row_bytes = n * 4, .data = g};
    CPU->ops->rmsnorm(CPU->ctx, x, &w, 1e-5f, 1, ref);
    const double d = maxdiff(ref, out, n);
    T_CHECKF(d <= 1e-6 * maxabs(ref, n), "norm output: max diff %g from the CPU's", d);
    /* codes, then n / 16 group sums, then n / 256 scales: n + n / 8 + n / 64 bytes */
    const size_t nb = (size_t)n + n / 8 + n / 64;
    size_t bad = 0, first = nb;
    for (size_t i = 0; i < nb; i++)
        if (fused[i] != rq[i]) {
            bad++;
            if (first == nb) first = i;
        }
    float d1, d2, d3;
    memcpy(&d1, fused + n + n / 8 + 4, 4);
    memcpy(&d2, fused + n + n / 8 + 8, 4);
    memcpy(&d3, fused + n + n / 8 + 12, 4);
    printf("    rmsnorm + Q8_K rounding, n %d: %zu of %zu bytes differ from norm then k_quant_q8K; block scales 1-3: %g %g %g\n", n, bad,
           nb, d1, d2, d3);
    T_CHECKF(bad == 0, "%zu bytes differ, the first at %zu", bad, first);
    T_CHECKF(d1 < 0 && d2 == 0 && d3 > 0, "block scales %g %g %g (the first largest is +3: negative d; zero; -4: positive d)", d1, d2,
             d3);
    free(x); free(g); free(out); free(ref); free(fused); free(rq);
}

static void test_swiglu_add(void) {
    if (!g_device) T_SKIP("%s", g_why);
    const size_t n = 10007;
    float *a = malloc(n * 4), *b = malloc(n * 4), *ref = malloc(n * 4), *got = malloc(n * 4);
    fill(a, n, 8.0f);
    fill(b, n, 2.0f);
    float *da = dalloc(n), *db = dalloc(n);
    up(da, a, n);
    up(db, b, n);
    memcpy(ref, a, n * 4);
    CPU->ops->swiglu(CPU->ctx, ref, b, n, ref);
    CU->ops->swiglu(CU->ctx, da, db, n, da);
    T_CHECK(down(got, da, n) == ZETA_OK);
    double d = maxdiff(ref, got, n);
    T_CHECKF(d <= 1e-6 * maxabs(ref, n), "swiglu max diff %g", d);
    CPU->ops->add(CPU->ctx, ref, b, n);
    CU->ops->add(CU->ctx, da, db, n);
    T_CHECK(down(got, da, n) == ZETA_OK);
    d = maxdiff(ref, got, n);
    T_CHECKF(d <= 1e-6 * maxabs(ref, n), "add max diff %g", d);
    dfree(da); dfree(db);
    free(a); free(b); free(ref); free(got);
}

static void rope_case(zeta_rope_type mode, int n_rot, bool factors, bool yarn, uint32_t pos0) {
    const int n_tok = 4, heads = 3, hd = 64;
    const size_t n = (size_t)n_tok * heads * hd;
    float ff[32], *x = malloc(n * 4), *ref = malloc(n * 4), *got = malloc(n * 4);
    for (int i = 0; i < 32; i++) ff[i] = 1.0f + 0.25f * (float)i;
    fill(x, n, 1.0f);
    zeta_rope_params rp = {(uint32_t)n_rot, mode, 10000.0f, yarn ? 0.25f : 0.5f, factors ? ff : NULL, yarn ? 1.0f : 0.0f,
                           yarn ? 1.1386f : 1.0f, {yarn ? 3.0f : 0.0f, yarn ? 20.0f : 0.0f}};
    memcpy(ref, x, n * 4);
    CPU->ops->rope(CPU->ctx, ref, n_tok, heads, hd, pos0, &rp);
    float *dx = dalloc(n);
    up(dx, x, n);
    CU->ops->rope(CU->ctx, dx, n_tok, heads, hd, pos0, &rp);
    T_CHECK(down(got, dx, n) == ZETA_OK);
    double d = maxdiff(ref, got, n);
    /* the same float operations in the same order; only cosf / sinf differ (within 2 ulp) */
    T_CHECKF(d <= 2e-6 * maxabs(ref, n), "mode %d n_rot %d factors %d yarn %d pos %u: max diff %g", (int)mode, n_rot, factors, yarn,
             pos0, d);
    dfree(dx);
    free(x); free(ref); free(got);
}

static void test_rope(void) {
    if (!g_device) T_SKIP("%s", g_why);
    const zeta_rope_type modes[2] = {ZETA_ROPE_NORM, ZETA_ROPE_NEOX};
    for (int m = 0; m < 2; m++) {
        rope_case(modes[m], 64, false, false, 0);
        rope_case(modes[m], 64, false, false, 1000);
        rope_case(modes[m], 32, true, false, 77);
        rope_case(modes[m], 64, true, true, 3000);
    }
}

/* ------------------------------------------------------------------ matmul */

/* xs: the activations' amplitude (1 unless a case checks range: the f16 prompt products scale each
 * token into f16's range and back) */
static void matmul_case_x(zeta_type t, int K, int rows, int n_tok, bool with_bias, float xs) {
    const size_t nw = (size_t)K * rows;
    float *wf = malloc(nw * 4), *wd = malloc(nw * 4), *x = malloc((size_t)n_tok * K * 4), *b = malloc(rows * 4);
    float *got = malloc((size_t)n_tok * rows * 4), *cpu = malloc((size_t)n_tok * rows * 4);
    fill(wf, nw, 1.0f);
    fill(x, (size_t)n_tok * K, xs);
    fill(b, rows, 1.0f);
    const uint64_t rb = zeta_row_bytes(t, K);
    uint8_t *wq = malloc(rb * rows);
    for (int r = 0; r < rows; r++) {
        zeta_quantize_row_ref(t, wf + (size_t)r * K, wq + r * rb, K);
        zeta_dequantize_row(t, wq + r * rb, wd + (size_t)r * K, K);
    }
    zeta_weight w = {.name = "w", .type = t, .ne0 = K, .ne1 = rows, .row_bytes = rb, .data = wq};
    zeta_weight wb = {.name = "b", .type = ZETA_TYPE_F32, .ne0 = rows, .ne1 = 1, .row_bytes = rows * 4, .data = b};
    zeta_error err;
    T_CHECKF(cuda_weight_upload(g_mcu, &w, &err) == ZETA_OK, "%s", err.message);
    T_CHECKF(cuda_weight_upload(g_mcu, &wb, &err) == ZETA_OK, "%s", err.message);
    float *dx = dalloc((size_t)n_tok * K), *dy = dalloc((size_t)n_tok * rows);
    up(dx, x, (size_t)n_tok * K);
    CU->ops->matmul(CU->ctx, &w, with_bias ? &wb : NULL, dx, n_tok, dy);
    T_CHECK(down(got, dy, (size_t)n_tok * rows) == ZETA_OK);
    CPU->ops->matmul(CPU->ctx, &w, with_bias ? &wb : NULL, x, n_tok, cpu);
    /* reference: the dequantized weights (the CPU's spec) times the f32 activations, in double; error
     * bound relative to sum |w x| (f32 accumulation in another order). q4_0 / q8_0 products round
     * the activations to q8_0 blocks on both backends (the CPU kernels' rounding): they are held
     * to the same bound against the CPU backend's result, and their distance from the f32
     * reference is printed. */
    /* one token of q4_K / q5_K / q6_K / q2_K / q3_K / iq4_xs (k_mmvk8, unless ZETA_CUDA_MMVK8=0): x
     * rounded to Q8_K as the CPU rounds it; of q4_1 / q5_0 / q5_1 / iq4_nl (k_mmvb8, unless
     * ZETA_CUDA_MMVB=0): to Q8_0 (Q8_1 for q4_1 / q5_1) as the CPU rounds it; so held against the CPU
     * backend too */
    const char *e_k8 = getenv("ZETA_CUDA_MMVK8"), *e_b8 = getenv("ZETA_CUDA_MMVB");
    const bool x8 = t == ZETA_TYPE_Q4_0 || t == ZETA_TYPE_Q8_0 ||
                    (n_tok == 1 && K % 256 == 0 &&
                     (t == ZETA_TYPE_Q4_K || t == ZETA_TYPE_Q5_K || t == ZETA_TYPE_Q6_K || t == ZETA_TYPE_Q2_K || t == ZETA_TYPE_Q3_K ||
                      t == ZETA_TYPE_IQ4_XS) &&
                     !(e_k8 && strcmp(e_k8, "0") == 0)) ||
                    (n_tok == 1 && (t == ZETA_TYPE_Q4_1 || t == ZETA_TYPE_Q5_0 || t == ZETA_TYPE_Q5_1 || t == ZETA_TYPE_IQ4_NL) &&
                     !(e_b8 && strcmp(e_b8, "0") == 0));
    /* more than 8 tokens of the quantized types other than q4_0 / q8_0: one GEMM on the tensor cores
     * (unless ZETA_CUDA_TF32=0) with f16 inputs (TF32 with ZETA_CUDA_TC_H16=0), which keep 11
     * significant bits, so each term w x is within 2^-10 of itself and the sum within 2^-10 (9.8e-4)
     * of sum |w x|. The float types' cuBLAS products split their inputs into TF32 parts (f32-class:
     * held to 1e-5). */
    const char *e_tf32 = getenv("ZETA_CUDA_TF32"), *e_one = getenv("ZETA_CUDA_TC_ONE");
    const bool tf32 = n_tok > 8 && zeta_type_get(t)->is_quantized && t != ZETA_TYPE_Q4_0 && t != ZETA_TYPE_Q8_0 &&
                      !(e_tf32 && strcmp(e_tf32, "0") == 0) &&
                      (t == ZETA_TYPE_Q4_K || t == ZETA_TYPE_Q6_K || !(e_one && strcmp(e_one, "0") == 0));
    const double bound = tf32 ? 2.5e-3 : 1e-5;
    double worst = 0, worst_cpu = 0;
    for (int tk = 0; tk < n_tok; tk++)
        for (int r = 0; r < rows; r++) {
            double s = with_bias ? b[r] : 0.0, sa = 1e-30;
            for (int k = 0; k < K; k++) {
                s += (double)wd[(size_t)r * K + k] * x[(size_t)tk * K + k];
                sa += fabs((double)wd[(size_t)r * K + k] * x[(size_t)tk * K + k]);
            }
            const float g = got[(size_t)tk * rows + r], cp = cpu[(size_t)tk * rows + r];
            double e = fabs(g - (x8 ? cp : s)) / sa;
            if (!(e == e)) e = INFINITY;
            if (e > worst) worst = e;
            e = fabs(cp - s) / sa;
            if (e > worst_cpu) worst_cpu = e;
        }
    T_CHECKF(worst <= bound, "%s K %d rows %d n_tok %d x %g: relative error %g, bound %g (cpu backend vs f32: %g)", zeta_type_name(t),
             K, rows, n_tok, (double)xs, worst, bound, worst_cpu);
    if (!(worst <= bound))
        for (int r = 0; r < rows && r < 12; r++) printf("      row %d: cuda %.9g cpu %.9g\n", r, got[r], cpu[r]);
    if (n_tok == 1 || n_tok == 17 || n_tok == 200)
        printf("    %-5s K %4d n_tok %2d: cuda error %.1e (vs %s%s), cpu backend vs f32 (8-bit activations for integer types) %.1e\n",
               zeta_type_name(t), K, n_tok, worst, x8 ? "the cpu backend" : "f32", tf32 ? ", one tensor-core GEMM" : "", worst_cpu);
    dfree(dx); dfree(dy);
    cuda_weight_free(&w);
    cuda_weight_free(&wb);
    free(wf); free(wd); free(x); free(b); free(got); free(cpu); free(wq);
}

static void matmul_case(zeta_type t, int K, int rows, int n_tok, bool with_bias) { matmul_case_x(t, K, rows, n_tok, with_bias, 1.0f); }

static void test_matmul_types(void) {
    if (!g_device) T_SKIP("%s", g_why);
    const zeta_type types[] = {ZETA_TYPE_F32,  ZETA_TYPE_F16,  ZETA_TYPE_BF16, ZETA_TYPE_Q8_0, ZETA_TYPE_Q4_0,   ZETA_TYPE_Q4_K,
                               ZETA_TYPE_Q6_K, ZETA_TYPE_Q4_1, ZETA_TYPE_Q5_0, ZETA_TYPE_Q5_1, ZETA_TYPE_IQ4_NL, ZETA_TYPE_Q2_K,
                               ZETA_TYPE_Q3_K, ZETA_TYPE_Q5_K, ZETA_TYPE_IQ4_XS};
    const int toks[] = {1, 3, 8, 17};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        for (size_t j = 0; j < sizeof toks / sizeof toks[0]; j++) {
            matmul_case(types[i], 512, 67, toks[j], j == 1);
            if (toks[j] == 1) matmul_case(types[i], 256, 5, 1, true);
        }
    /* k_mmvk8 (q4_K / q5_K / q6_K decode): rows of more than 8 super-blocks (a lane takes a second
     * quarter), and q6_K rows of an odd number of super-blocks (rows 2-byte aligned only) */
    matmul_case(ZETA_TYPE_Q4_K, 2560, 33, 1, true);
    matmul_case(ZETA_TYPE_Q5_K, 2304, 9, 1, true);
    matmul_case(ZETA_TYPE_Q6_K, 2304, 33, 1, false);
    matmul_case(ZETA_TYPE_Q6_K, 768, 7, 1, true);
    /* q2_K (4-byte aligned rows), q3_K (2-byte aligned: odd numbers of 110-byte super-blocks) and
     * iq4_xs (its 32-block terms gathered in order): wide rows too */
    matmul_case(ZETA_TYPE_Q2_K, 2560, 33, 1, true);
    matmul_case(ZETA_TYPE_Q3_K, 2304, 9, 1, false);
    matmul_case(ZETA_TYPE_Q3_K, 768, 7, 1, true);
    matmul_case(ZETA_TYPE_IQ4_XS, 2304, 33, 1, true);
    /* k_mmvb8 (q4_1 / q5_0 / q5_1 / iq4_nl decode): rows of more than 32 blocks (a lane takes a second
     * one), and odd block counts (q5_0's 22-byte and iq4_nl's 18-byte blocks are 2-byte aligned) */
    matmul_case(ZETA_TYPE_Q4_1, 2080, 33, 1, true);
    matmul_case(ZETA_TYPE_Q5_0, 1120, 9, 1, true);
    matmul_case(ZETA_TYPE_Q5_1, 1056, 33, 1, false);
    matmul_case(ZETA_TYPE_IQ4_NL, 1120, 9, 1, true);
    /* q4_0 / q8_0 prompts on the tensor cores (cuda_mmq: K % 128 == 0, more than 8 tokens): partial
     * row and token tiles (tiles are 128 x 128), several K stages; K = 160 takes the SGEMM path */
    for (int q = 0; q < 2; q++) {
        const zeta_type t = q ? ZETA_TYPE_Q4_0 : ZETA_TYPE_Q8_0;
        matmul_case(t, 384, 300, 200, true);
        matmul_case(t, 1024, 129, 9, false);
        matmul_case(t, 128, 128, 128, false);
        matmul_case(t, 160, 40, 20, true);
    }
    /* prompts of activations far beyond f16's range (65504) and far below its normal range: each
     * token is scaled into f16's range by a power of two and the product scaled back */
    matmul_case_x(ZETA_TYPE_Q4_K, 512, 67, 17, true, 1e6f);
    matmul_case_x(ZETA_TYPE_Q5_0, 512, 67, 17, false, 1e-7f);
    /* f16 weights: x split into two f16 parts after the scale, f32-class (1e-5) */
    matmul_case_x(ZETA_TYPE_F16, 512, 67, 17, true, 1e6f);
    matmul_case_x(ZETA_TYPE_F16, 1024, 40, 33, false, 1e-7f);
    /* float rows whose width is not a multiple of 32 (stories260K's n_ff is 172) */
    matmul_case(ZETA_TYPE_F32, 172, 33, 1, false);
    matmul_case(ZETA_TYPE_F16, 100, 33, 17, true);
}

/* ------------------------------------------------------------------ attention */

/* the same q, k, v through both backends' attention at layer 1 (stories260K: 8 query heads over 4
 * KV heads, head size 8; test_attention_tensor_cores swaps in other models) */
static void attention_step(int n_tok, uint32_t pos0, double *worst) {
    const zeta_hparams *hp = &g_mcpu->hp;
    const size_t nq = (size_t)n_tok * hp->n_head * hp->head_dim_k, nk = (size_t)n_tok * hp->n_head_kv * hp->head_dim_k;
    const size_t nv = (size_t)n_tok * hp->n_head_kv * hp->head_dim_v, no = (size_t)n_tok * hp->n_head * hp->head_dim_v;
    float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nv * 4), *ref = malloc(no * 4), *got = malloc(no * 4);
    fill(q, nq, 2.0f);
    fill(k, nk, 2.0f);
    fill(v, nv, 1.0f);
    CPU->ops->attention(CPU->ctx, 1, q, k, v, n_tok, pos0, ref);
    float *dq = dalloc(nq), *dk = dalloc(nk), *dv = dalloc(nv), *dout = dalloc(no);
    up(dq, q, nq); up(dk, k, nk); up(dv, v, nv);
    CU->ops->attention(CU->ctx, 1, dq, dk, dv, n_tok, pos0, dout);
    T_CHECK(down(got, dout, no) == ZETA_OK);
    double d = maxdiff(ref, got, no);
    T_CHECKF(d <= 2e-5, "attention n_tok %d at %u: max diff %g", n_tok, pos0, d);
    if (d > *worst) *worst = d;
    dfree(dq); dfree(dk); dfree(dv); dfree(dout);
    free(q); free(k); free(v); free(ref); free(got);
}

static void test_attention(void) {
    if (!g_device) T_SKIP("%s", g_why);
    double worst = 0;
    attention_step(7, 0, &worst);     /* prompt from an empty cache */
    attention_step(1, 7, &worst);     /* decode */
    attention_step(2, 8, &worst);
    attention_step(300, 10, &worst);  /* a long prompt */
    attention_step(1, 310, &worst);   /* decode over 311 positions: split over blocks */
    attention_step(3, 311, &worst);   /* few tokens, split */
    printf("    attention (GQA 8/4): max diff %.2e over 6 steps\n", worst);
}

/* Prompt attention on the tensor cores (cuda_fattn: head sizes 64 and 128, 16 tokens or more):
 * synthetic 2-layer models of each head size (zeta synth tiny, tiny-hd128; GQA 2) stand in for
 * stories260K in attention_step, over tiles that start and end mid-block, a prompt continued at a
 * later position, and a decode step over what the prompts cached. */
static void test_attention_tensor_cores(void) {
    if (!g_device) T_SKIP("%s", g_why);
    const char *shapes[] = {"tiny", "tiny-hd128"};
    for (int i = 0; i < 2; i++) {
        char path[] = "/tmp/zeta_cuda_fa_XXXXXX";
        int fd = mkstemp(path);
        if (fd >= 0) close(fd);
        zeta_synth_params p = zeta_synth_params_default();
        p.shape = shapes[i];
        p.type = ZETA_TYPE_F16;
        p.vocab_path = "tests/data/vocab/ggml-vocab-llama-spm.gguf";
        zeta_error err;
        zeta_model *mc = NULL, *mg = NULL;
        zeta_session *sc = NULL, *sg = NULL;
        zeta_session_params sp = zeta_session_params_default();
        sp.n_ctx = 1024;
        sp.n_threads = 2;
        if (fd < 0 || zeta_synth_model(&p, path, &err) != ZETA_OK || load(path, ZETA_BACKEND_CPU, &mc, &err) != ZETA_OK ||
            load(path, ZETA_BACKEND_CUDA, &mg, &err) != ZETA_OK || zeta_session_new(mc, &sp, &sc, &err) != ZETA_OK ||
            zeta_session_new(mg, &sp, &sg, &err) != ZETA_OK) {
            T_CHECKF(0, "%s: %s", shapes[i], fd < 0 ? "mkstemp" : err.message);
        } else {
            zeta_model *om = g_mcpu;
            zeta_session *oc = g_scpu, *og = g_scu;
            g_mcpu = mc; g_scpu = sc; g_scu = sg; /* attention_step and the buffer helpers use these */
            double worst = 0;
            attention_step(100, 0, &worst);  /* two query tiles, the second partial */
            attention_step(64, 100, &worst); /* continued mid-tile */
            attention_step(17, 164, &worst);
            attention_step(300, 181, &worst);
            attention_step(1, 481, &worst);  /* decode over the cached prompts */
            g_mcpu = om; g_scpu = oc; g_scu = og;
            printf("    attention, head size %d (GQA %u/%u): max diff %.2e over 5 steps\n", (int)mc->hp.head_dim_k, mc->hp.n_head,
                   mc->hp.n_head_kv, worst);
        }
        zeta_session_free(sc); zeta_session_free(sg);
        zeta_model_free(mc); zeta_model_free(mg);
        unlink(path);
    }
}

/* ------------------------------------------------------------------ whole models */

/* run_models' variants: g_seq, the NP prompt tokens are evaluated one at a time (the one-token
 * products) and no ND steps follow; g_prompt_only, the rms is over the NP prompt positions only */
static bool g_seq, g_prompt_only;

/* logits of a 40-token prompt (every position) and 8 decode steps, through sessions of each model
 * fed the same tokens (the first one's greedy choices); max |difference| against the first (rms:
 * the root mean square of the differences, when not NULL) */
static double run_models(zeta_model **ms, int n_models, double *range, int *agree, double *rms) {
    zeta_session *ss[3] = {NULL, NULL, NULL};
    zeta_error err;
    double d = 0, sq = 0;
    size_t nsq = 0;
    zeta_session_params sp = zeta_session_params_default();
    sp.n_ctx = 256;
    sp.n_threads = 2;
    const size_t nv = zeta_n_vocab(ms[0]);
    enum { NP = 40, ND = 8 };
    float *l[3] = {NULL, NULL, NULL};
    for (int i = 0; i < n_models; i++) {
        if (zeta_session_new(ms[i], &sp, &ss[i], &err) != ZETA_OK) { T_CHECKF(0, "%s", err.message); goto out; }
        l[i] = malloc(NP * nv * 4);
    }
    zeta_token toks[NP];
    for (int i = 0; i < NP; i++) toks[i] = (zeta_token)((i * 7919 + 13) % (int)nv);
    toks[0] = zeta_token_bos(ms[0]) >= 0 ? zeta_token_bos(ms[0]) : 1;
    for (int i = 0; i < n_models; i++) {
        if (!g_seq) {
            T_CHECKF(zeta_session_eval_all(ss[i], toks, NP, l[i], &err) == ZETA_OK, "%s", err.message);
            continue;
        }
        for (int p = 0; p < NP; p++) {
            size_t n = 0;
            if (zeta_session_eval(ss[i], &toks[p], 1, &err) != ZETA_OK) { T_CHECKF(0, "%s", err.message); goto out; }
            const float *lg = zeta_session_logits(ss[i], &n);
            if (!lg || n < nv) { T_CHECKF(0, "no logits after token %d", p); goto out; }
            memcpy(l[i] + (size_t)p * nv, lg, nv * 4);
        }
    }
    *range = maxabs(l[0], NP * nv);
    *agree = 0;
    for (int i = 1; i < n_models; i++) {
        double dd = maxdiff(l[0], l[i], NP * nv);
        if (dd > d) d = dd;
        sqdiff(l[0], l[i], NP * nv, &sq, &nsq);
    }
    for (int i = 0; i < NP; i++) *agree += argmax(l[0] + i * nv, nv) == argmax(l[n_models - 1] + i * nv, nv);
    for (int step = 0; step < (g_seq ? 0 : ND); step++) {
        size_t n;
        zeta_token t = (zeta_token)argmax(zeta_session_logits(ss[0], &n), nv);
        for (int i = 0; i < n_models; i++) T_CHECKF(zeta_session_eval(ss[i], &t, 1, &err) == ZETA_OK, "%s", err.message);
        for (int i = 1; i < n_models; i++) {
            const float *a = zeta_session_logits(ss[0], &n), *b = zeta_session_logits(ss[i], &n);
            double dd = a && b ? maxdiff(a, b, nv) : INFINITY;
            if (dd > d) d = dd;
            if (a && b && !g_prompt_only) sqdiff(a, b, nv, &sq, &nsq);
        }
    }
out:
    for (int i = 0; i < n_models; i++) { zeta_session_free(ss[i]); free(l[i]); }
    if (rms) *rms = nsq ? sqrt(sq / (double)nsq) : INFINITY;
    return d;
}

static bool is_float_model(const char *path) {
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    return strstr(base, "F32") || strstr(base, "F16") || !strchr(base, '-'); /* stories260K.gguf is f32 */
}

/* true when every matrix of the model (the layers' and the output) has one of the n types t */
static bool model_types_in(const zeta_model *m, const zeta_type *t, int n) {
    for (uint32_t il = 0; il <= m->hp.n_layer; il++) {
        const zeta_weight *ws[7];
        int nw = 0;
        if (il == m->hp.n_layer) {
            ws[nw++] = &m->output;
        } else {
            const zeta_layer *L = &m->layers[il];
            const zeta_weight *lw[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
            for (size_t i = 0; i < sizeof lw / sizeof lw[0]; i++) ws[nw++] = lw[i];
        }
        for (int i = 0; i < nw; i++) {
            if (!ws[i]->data) continue;
            bool in = false;
            for (int k = 0; k < n; k++) in = in || ws[i]->type == t[k];
            if (!in) return false;
        }
    }
    return true;
}

/* true when every matrix of the model is q4_0, q8_0 or a float type: the CUDA backend then does the
 * CPU's arithmetic (activations rounded to q8_0 blocks for the integer products) */
static bool x8_model(const zeta_model *m) {
    const zeta_type t[] = {ZETA_TYPE_Q4_0, ZETA_TYPE_Q8_0, ZETA_TYPE_F32, ZETA_TYPE_F16, ZETA_TYPE_BF16};
    return model_types_in(m, t, 5);
}

/* true when every matrix of the model is q4_K, q5_K, q6_K, q2_K, q3_K or iq4_xs (and ZETA_CUDA_MMVK8 is
 * not 0), or every one q4_1, q5_0, q5_1 or iq4_nl (and ZETA_CUDA_MMVB is not 0): the CUDA backend's
 * one-token products then round the activations to 8 bits as the CPU does (k_mmvk8: Q8_K; k_mmvb8:
 * Q8_0 / Q8_1) */
static bool k8_model(const zeta_model *m) {
    const char *e = getenv("ZETA_CUDA_MMVK8"), *eb = getenv("ZETA_CUDA_MMVB");
    const zeta_type t[] = {ZETA_TYPE_Q4_K, ZETA_TYPE_Q5_K, ZETA_TYPE_Q6_K, ZETA_TYPE_Q2_K, ZETA_TYPE_Q3_K, ZETA_TYPE_IQ4_XS};
    const zeta_type b[] = {ZETA_TYPE_Q4_1, ZETA_TYPE_Q5_0, ZETA_TYPE_Q5_1, ZETA_TYPE_IQ4_NL};
    return (!(e && !strcmp(e, "0")) && model_types_in(m, t, 6)) || (!(eb && !strcmp(eb, "0")) && model_types_in(m, b, 4));
}

/* CUDA against the CPU on the same file.
 * - Float weights: both multiply f32 activations by the exact weights (sums in another order; f16
 *   KV cache in both): max difference <= 1e-3 of the logit range.
 * - q4_0 / q8_0 (x8_model): both round each product's activation to q8_0 blocks with the same
 *   rule (op-tested to 1e-8 given the same input). Rounding is discontinuous, though: a last-bit
 *   difference upstream (a norm or attention sum in another order) can move an activation across
 *   a rounding boundary by one quantum, and in a 64-wide model a few such flips weigh as much as
 *   the rounding of a whole vector (measured: CUDA - CPU rms 1e-7 of the rounding's effect on
 *   some files, 0.2-0.62 on others). So the check is relative to the effect of the rounding
 *   itself: the root-mean-square difference CUDA - CPU must be under 0.75 of (CPU on a dequantized
 *   f32 copy) - (CPU on the file), i.e. the GPU must be nearer the CPU's 8-bit arithmetic than
 *   f32 arithmetic is (a GPU still on f32 activations would give about 1, its arithmetic being the
 *   f32 copy's; a wrong layout far more); each product's arithmetic is held to 1e-5 by
 *   test_matmul_types.
 * - Other integer types (q4_K, q6_K; q4_1, q5_0, q5_1, iq4_nl, q2_K, q3_K, q5_K, iq4_xs): the CPU rounds
 *   activations to 8-bit blocks (Q8_K, Q8_0 or Q8_1); the GPU's prompt products keep f32 activations
 *   and run on the tensor cores (one TF32 GEMM on dequantized slices: 11 significant bits of w and x;
 *   three on split inputs, f32-class, with ZETA_CUDA_TC_ONE=0 for all but q4_K / q6_K). The check: the GPU's rms difference from the CPU on the
 *   f32 copy (f32 arithmetic) must be under half of the CPU's own (the CPU on the file against the
 *   CPU on the f32 copy), i.e. the GPU is nearer exact arithmetic than the CPU is (a wrong layout or
 *   scale would be far from both). The difference from the CPU on the file itself is printed. Their
 *   one-token products round x to 8 bits as the CPU does (k8_model: k_mmvk8 for the K-quants and
 *   iq4_xs, k_mmvb8 for q4_1 / q5_0 / q5_1 / iq4_nl), so that check covers the prompt positions only,
 *   and the prompt is run again one token at a time, held as q4_0 / q8_0 models are (rms from the CPU
 *   under 0.75 of the CPU's from f32 arithmetic). */
static void model_case(const char *path) {
    zeta_model *ms[3] = {NULL, NULL, NULL};
    zeta_error err;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char deq[] = "/tmp/zeta_cuda_deq_XXXXXX";
    bool have_deq = false, x8 = false;
    const bool flt = is_float_model(path);
    if (!flt) {
        int fd = mkstemp(deq);
        if (fd >= 0) close(fd);
        zeta_quantize_params qp = zeta_quantize_params_default();
        qp.pure = true;
        qp.allow_requantize = true;
        qp.n_threads = 2;
        if (fd < 0 || zeta_quantize(path, deq, "F32", &qp, NULL, &err) != ZETA_OK) {
            T_CHECKF(0, "%s: dequantizing to f32: %s", base, fd < 0 ? "mkstemp" : err.message);
            unlink(deq);
            return;
        }
        have_deq = true;
    }
    /* [0] CPU on the file, [1] CUDA, [2] CPU on the f32 copy (integer types) */
    if (load(path, ZETA_BACKEND_CPU, &ms[0], &err) != ZETA_OK || load(path, ZETA_BACKEND_CUDA, &ms[1], &err) != ZETA_OK ||
        (!flt && load(deq, ZETA_BACKEND_CPU, &ms[2], &err) != ZETA_OK)) {
        T_CHECKF(0, "%s: %s", base, err.message);
        goto out;
    }
    x8 = !flt && x8_model(ms[0]);
    double range = 0, range2 = 0, rms = 0, rms2 = 0;
    int agree = 0, agree2 = 0;
    if (flt) {
        const double d = run_models(ms, 2, &range, &agree, NULL);
        printf("    %-24s max |logit| %7.3f  CUDA vs CPU: max diff %.2e (%.1e of the range)  argmax agree %d/40\n", base, range, d,
               d / (range + 1e-30), agree);
        T_CHECKF(d <= 1e-3 * (range + 1.0), "%s: max diff %g, range %g", base, d, range);
    } else if (x8) {
        zeta_model *pair[2] = {ms[0], ms[2]};
        const double d = run_models(ms, 2, &range, &agree, &rms);
        const double d2 = run_models(pair, 2, &range2, &agree2, &rms2);
        printf("    %-24s max |logit| %7.3f  CUDA vs CPU: rms diff %.2e, max %.2e (%.1e of the range), argmax agree %d/40; "
               "f32 copy vs CPU: rms %.2e, max %.2e\n", base, range, rms, d, d / (range + 1e-30), agree, rms2, d2);
        T_CHECKF(rms <= 0.75 * rms2, "%s: rms difference from the CPU %g, not under 0.75 of the 8-bit rounding's effect %g", base,
                 rms, rms2);
    } else {
        zeta_model *pair[2] = {ms[2], ms[1]}, *cpus[2] = {ms[2], ms[0]};
        double range3 = 0, rms3 = 0;
        int agree3 = 0;
        const bool k8 = k8_model(ms[0]);
        g_prompt_only = k8; /* their decode steps take the 8-bit products: checked below */
        const double d = run_models(pair, 2, &range, &agree, &rms);
        const double d2 = run_models(ms, 2, &range2, &agree2, NULL);
        const double d3 = run_models(cpus, 2, &range3, &agree3, &rms3);
        g_prompt_only = false;
        printf("    %-24s max |logit| %7.3f  CUDA vs CPU (f32 copy): rms diff %.2e, max %.2e (%.1e of the range)  argmax agree %d/40\n",
               base, range, rms, d, d / (range + 1e-30), agree);
        printf("    %-24s %20s  CUDA vs CPU (8-bit activations): max diff %.2e (%.1e of the range)  argmax agree %d/40\n", "", "", d2,
               d2 / (range2 + 1e-30), agree2);
        printf("    %-24s %20s  CPU vs CPU (f32 copy): rms diff %.2e, max %.2e\n", "", "", rms3, d3);
        T_CHECKF(rms <= 0.5 * rms3, "%s: CUDA's rms difference from f32 arithmetic %g is not under half the CPU's own %g", base, rms,
                 rms3);
        if (k8) {
            /* the prompt again, one token at a time: every product the one-token kernel with
             * activations rounded to Q8_K, the CPU's arithmetic; held as q4_0 / q8_0 models are */
            zeta_model *pair8[2] = {ms[0], ms[2]};
            double r8 = 0, r8b = 0, rms8 = 0, rms8b = 0;
            int a8 = 0, a8b = 0;
            g_seq = true;
            const double e8 = run_models(ms, 2, &r8, &a8, &rms8);
            const double e8b = run_models(pair8, 2, &r8b, &a8b, &rms8b);
            g_seq = false;
            printf("    %-24s %20s  one token at a time, CUDA vs CPU: rms diff %.2e, max %.2e, argmax agree %d/40; f32 copy vs CPU: "
                   "rms %.2e, max %.2e\n", "", "", rms8, e8, a8, rms8b, e8b);
            T_CHECKF(rms8 <= 0.75 * rms8b, "%s: one-token products: rms difference from the CPU %g, not under 0.75 of the 8-bit "
                     "rounding's effect %g", base, rms8, rms8b);
        }
    }
out:
    for (int i = 0; i < 3; i++) zeta_model_free(ms[i]);
    if (have_deq) unlink(deq);
}

/* path of model `name` in $ZETA_CUDA_MODELS, tests/data/models or ../shared/goldens/models (the
 * first that has it); false when none does */
static bool find_model(const char *name, char *path, size_t cap) {
    const char *dirs[] = {getenv("ZETA_CUDA_MODELS"), "tests/data/models", "../shared/goldens/models"};
    for (int j = 0; j < 3; j++) {
        if (!dirs[j]) continue;
        snprintf(path, cap, "%s/%s", dirs[j], name);
        if (access(path, R_OK) == 0) return true;
    }
    return false;
}

static void test_model_logits(void) {
    if (!g_device) T_SKIP("%s", g_why);
    model_case(STORIES);
    const char *names[] = {"stories260K-F16.gguf", "stories260K-Q8_0.gguf", "stories260K-Q4_0.gguf", "zoo-F32.gguf", "zoo-F16.gguf",
                           "zoo-BF16.gguf", "zoo-Q8_0.gguf", "zoo-Q4_0.gguf", "zoo-Q4_K_S.gguf", "zoo-Q6_K.gguf",
                           "synth-llama3-Q4_0.gguf", "synth-qwen2-F16.gguf", "synth-qwen3-Q8_0.gguf", "zoo-Q4_1.gguf",
                           "zoo-Q5_0.gguf", "zoo-Q5_1.gguf", "zoo-IQ4_NL.gguf", "zoo-Q2_K.gguf", "zoo-Q3_K_S.gguf", "zoo-Q5_K_S.gguf",
                           "zoo-IQ4_XS.gguf"};
    int found = 0;
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (find_model(names[i], path, sizeof path)) {
            model_case(path);
            found++;
        }
    if (!found) printf("    (no other models: set ZETA_CUDA_MODELS or provide ../shared/goldens/models)\n");
}

/* 100 greedy tokens of stories260K (F32) from BOS: the same on both backends */
static void test_greedy_tokens(void) {
    if (!g_device) T_SKIP("%s", g_why);
    zeta_session_params sp = zeta_session_params_default();
    sp.n_ctx = 256;
    zeta_session *s[2] = {NULL, NULL};
    zeta_model *ms[2] = {g_mcpu, g_mcu};
    zeta_error err;
    int toks[2][101];
    for (int b = 0; b < 2; b++) {
        T_CHECKF(zeta_session_new(ms[b], &sp, &s[b], &err) == ZETA_OK, "%s", err.message);
        if (!s[b]) return;
        zeta_token t = 1;
        for (int i = 0; i <= 100; i++) {
            toks[b][i] = t;
            if (zeta_session_eval(s[b], &t, 1, &err) != ZETA_OK) { T_CHECKF(0, "%s", err.message); break; }
            t = (zeta_token)argmax(zeta_session_logits(s[b], NULL), zeta_n_vocab(ms[b]));
        }
    }
    int same = 0;
    while (same <= 100 && toks[0][same] == toks[1][same]) same++;
    T_CHECKF(same == 101, "first difference at token %d", same);
    zeta_session_free(s[0]);
    zeta_session_free(s[1]);
}

/* context shift and a session file written from the GPU and read on the CPU */
static void test_shift_and_state(void) {
    if (!g_device) T_SKIP("%s", g_why);
    zeta_session_params sp = zeta_session_params_default();
    sp.n_ctx = 128;
    zeta_session *sc = NULL, *sg = NULL, *sl = NULL;
    zeta_error err;
    T_CHECKF(zeta_session_new(g_mcpu, &sp, &sc, &err) == ZETA_OK, "%s", err.message);
    T_CHECKF(zeta_session_new(g_mcu, &sp, &sg, &err) == ZETA_OK, "%s", err.message);
    T_CHECKF(zeta_session_new(g_mcpu, &sp, &sl, &err) == ZETA_OK, "%s", err.message);
    if (!sc || !sg || !sl) goto out;
    zeta_token toks[60];
    for (int i = 0; i < 60; i++) toks[i] = (zeta_token)(1 + (i * 37) % 500);
    T_CHECK(zeta_session_eval(sc, toks, 60, &err) == ZETA_OK);
    T_CHECK(zeta_session_eval(sg, toks, 60, &err) == ZETA_OK);
    T_CHECK(zeta_session_shift(sc, 4, 25, &err) == ZETA_OK); /* 31 positions move back by 25: two chunks */
    T_CHECK(zeta_session_shift(sg, 4, 25, &err) == ZETA_OK);
    zeta_token t = 42;
    T_CHECK(zeta_session_eval(sc, &t, 1, &err) == ZETA_OK);
    T_CHECKF(zeta_session_eval(sg, &t, 1, &err) == ZETA_OK, "%s", err.message);
    const size_t n = zeta_n_vocab(g_mcpu);
    double d = maxdiff(zeta_session_logits(sc, NULL), zeta_session_logits(sg, NULL), n);
    T_CHECKF(d <= 1e-3 * (maxabs(zeta_session_logits(sc, NULL), n) + 1), "after a shift: max diff %g", d);
    char path[] = "/tmp/zeta_test_cuda_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    T_CHECKF(zeta_session_save(sg, path, &err) == ZETA_OK, "%s", err.message);
    T_CHECKF(zeta_session_load(sl, path, &err) == ZETA_OK, "%s", err.message);
    unlink(path);
    t = 7;
    T_CHECK(zeta_session_eval(sg, &t, 1, &err) == ZETA_OK);
    T_CHECK(zeta_session_eval(sl, &t, 1, &err) == ZETA_OK);
    d = maxdiff(zeta_session_logits(sg, NULL), zeta_session_logits(sl, NULL), n);
    T_CHECKF(d <= 1e-3 * (maxabs(zeta_session_logits(sl, NULL), n) + 1), "GPU state loaded on the CPU: max diff %g", d);
out:
    zeta_session_free(sc); zeta_session_free(sg); zeta_session_free(sl);
}


/* ------------------------------------------------------------------ decode graphs */

/* The same model decoded by three sessions: op by op (DIRECT), recorded and fused (RECORD) and
 * replayed from a CUDA graph (GRAPH): a prompt, then n_steps greedy steps (the GRAPH session's
 * choices fed to all), a context shift half way. RECORD and GRAPH launch the same kernels with the
 * same arguments, so their logits must be the same bits at every step; DIRECT differs only in the
 * fused epilogues (the same float operations: checked at 1e-5 of the logit range). The graph must
 * have been replayed at every step and recaptured only when the attention split changes. */
static void graph_case_x(zeta_model *m, const char *name, int n_steps, bool bit_exact) {
    zeta_session_params sp = zeta_session_params_default();
    sp.n_ctx = 512;
    sp.n_threads = 2;
    zeta_session *s[3] = {NULL, NULL, NULL};
    zeta_error err;
    const int modes[3] = {CUDA_EXEC_DIRECT, CUDA_EXEC_RECORD, CUDA_EXEC_GRAPH};
    for (int i = 0; i < 3; i++) {
        if (zeta_session_new(m, &sp, &s[i], &err) != ZETA_OK) { T_CHECKF(0, "%s: %s", name, err.message); goto out; }
        cuda_set_exec_mode(s[i]->be.ctx, modes[i]);
    }
    const size_t nv = zeta_n_vocab(m);
    zeta_token toks[20];
    for (int i = 0; i < 20; i++) toks[i] = (zeta_token)((i * 131 + 7) % (int)nv);
    toks[0] = zeta_token_bos(m) >= 0 ? zeta_token_bos(m) : 1;
    for (int i = 0; i < 3; i++) T_CHECKF(zeta_session_eval(s[i], toks, 20, &err) == ZETA_OK, "%s", err.message);
    int exact = 0, steps = 0;
    double worst_direct = 0, range = 0;
    zeta_token t = (zeta_token)argmax(zeta_session_logits(s[2], NULL), nv);
    for (int step = 0; step < n_steps; step++) {
        if (step == n_steps / 2)
            for (int i = 0; i < 3; i++) T_CHECKF(zeta_session_shift(s[i], 4, 25, &err) == ZETA_OK, "%s", err.message);
        bool ok = true;
        for (int i = 0; i < 3; i++) ok = ok && zeta_session_eval(s[i], &t, 1, &err) == ZETA_OK;
        if (!ok) { T_CHECKF(0, "%s step %d: %s", name, step, err.message); break; }
        const float *l[3];
        for (int i = 0; i < 3; i++) l[i] = zeta_session_logits(s[i], NULL);
        exact += memcmp(l[1], l[2], nv * sizeof(float)) == 0;
        const double d = maxdiff(l[0], l[2], nv), r = maxabs(l[0], nv);
        if (d > worst_direct) worst_direct = d;
        if (r > range) range = r;
        t = (zeta_token)argmax(l[2], nv);
        steps++;
    }
    long cap = 0, rep = 0, eager = 0, fail = 0, cap1 = 0, rep1 = 0, eager1 = 0;
    cuda_exec_stats(s[2]->be.ctx, &cap, &rep, &eager, &fail);
    cuda_exec_stats(s[1]->be.ctx, &cap1, &rep1, &eager1, NULL);
    printf("    %-24s %d steps: graph == record (bits) at %d; direct vs graph max diff %.2e (range %.2f); "
           "graph: %ld captures, %ld launches, %ld eager, %ld capture failures; record: %ld eager steps\n",
           name, steps, exact, worst_direct, range, cap, rep, eager, fail, eager1);
    T_CHECKF(exact == n_steps, "%s: graph and eager logits differ at %d of %d steps", name, n_steps - exact, n_steps);
    T_CHECKF(worst_direct <= 1e-5 * (range + 1.0), "%s: direct vs graph %g", name, worst_direct);
    T_CHECKF(!bit_exact || worst_direct == 0.0, "%s: direct vs graph %g, not the same bits", name, worst_direct);
    T_CHECKF(fail == 0 && eager == 0 && rep == n_steps && cap >= 1 && cap <= 8, "%s: captures %ld launches %ld eager %ld", name, cap,
             rep, eager);
    T_CHECKF(eager1 == n_steps && cap1 == 0, "%s: record session: eager %ld captures %ld", name, eager1, cap1);
out:
    for (int i = 0; i < 3; i++) zeta_session_free(s[i]);
}

static void graph_case(zeta_model *m, const char *name, int n_steps) { graph_case_x(m, name, n_steps, false); }

static void test_decode_graph(void) {
    if (!g_device) T_SKIP("%s", g_why);
    graph_case_x(g_mcu, "stories260K.gguf", 400, true); /* f32: every fused kernel the same floats (measured: equal) */
    /* the K-quant files: their norms round to Q8_K for the product next, and a product's Q8_K input
     * is reused by the next product of the same input (graph and record), while direct runs each op
     * alone (k_quant_q8K per product): held to 1e-5 of the logit range (measured: equal) */
    const char *names[] = {"zoo-Q4_0.gguf", "zoo-Q8_0.gguf", "synth-qwen2-F16.gguf", "zoo-Q4_K_S.gguf", "zoo-Q5_K_S.gguf",
                           "zoo-Q2_K.gguf", "zoo-Q3_K_S.gguf", "zoo-IQ4_XS.gguf", "zoo-Q4_1.gguf", "zoo-Q5_0.gguf", "zoo-IQ4_NL.gguf"};
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!find_model(names[i], path, sizeof path)) continue;
        zeta_model *m = NULL;
        zeta_error err;
        if (load(path, ZETA_BACKEND_CUDA, &m, &err) != ZETA_OK) { T_CHECKF(0, "%s: %s", path, err.message); continue; }
        /* q4_0 / q8_0: every fused kernel (the norms' and the attention's roundings for the product
         * next, SwiGLU and the residual add in the products' stores) writes the bytes the unfused
         * kernels write, so direct and graph logits are the same bits (measured on the H200,
         * 2026-11-28) */
        graph_case_x(m, names[i], 150, i < 2);
        zeta_model_free(m);
    }
    /* types mixed within a layer (q, k and v of three types, gate and up of two): each product its
     * own launch, the 8-bit rounding of the norm's output reused by the ones after (Q8_K for the
     * K-quants, Q8_0 blocks for the 32-element types) */
    const char *k_mix[] = {"attn_k=IQ4_XS", "attn_v=Q3_K", "ffn_up=Q2_K", "ffn_down=Q6_K", "output=Q6_K"};
    const char *b_mix[] = {"attn_k=Q5_1", "attn_v=IQ4_NL", "ffn_up=Q5_0", "ffn_down=Q8_0", "output=Q4_1"};
    for (int k = 0; k < 2; k++) {
        char mix[] = "/tmp/zeta_cuda_mix_XXXXXX";
        const int fdm = mkstemp(mix);
        if (fdm >= 0) close(fdm);
        if (find_model("zoo-F16.gguf", path, sizeof path) && fdm >= 0) {
            zeta_quantize_params qp = zeta_quantize_params_default();
            qp.pure = true;
            qp.tensor_types = k ? b_mix : k_mix;
            qp.n_tensor_types = 5;
            qp.n_threads = 2;
            zeta_error err;
            zeta_model *m = NULL;
            const char *what = k ? "zoo-F16 -> 32-block mix" : "zoo-F16 -> K-quant mix";
            if (zeta_quantize(path, mix, k ? "Q4_0" : "Q4_K", &qp, NULL, &err) != ZETA_OK || load(mix, ZETA_BACKEND_CUDA, &m, &err) != ZETA_OK)
                T_CHECKF(0, "%s: %s", what, err.message);
            else
                graph_case(m, what, 150);
            zeta_model_free(m);
        }
        if (fdm >= 0) unlink(mix);
    }
    /* head size 128 (the decode attention kernel's other size, RoPE folded in): zeta synth tiny-hd128 */
    char tmp[] = "/tmp/zeta_cuda_graph_XXXXXX";
    const int fd = mkstemp(tmp);
    if (fd >= 0) close(fd);
    zeta_synth_params p = zeta_synth_params_default();
    p.shape = "tiny-hd128";
    p.type = ZETA_TYPE_Q4_0;
    p.vocab_path = "tests/data/vocab/ggml-vocab-llama-spm.gguf";
    zeta_error err;
    zeta_model *m = NULL;
    if (fd < 0 || zeta_synth_model(&p, tmp, &err) != ZETA_OK || load(tmp, ZETA_BACKEND_CUDA, &m, &err) != ZETA_OK)
        T_CHECKF(0, "synth tiny-hd128: %s", fd < 0 ? "mkstemp" : err.message);
    else
        graph_case(m, "synth tiny-hd128 Q4_0", 150);
    zeta_model_free(m);
    if (fd >= 0) unlink(tmp);
}

int main(void) {
    g_device = cuda_test_device(g_why, sizeof g_why);
    zeta_error err;
    if (g_device) {
        zeta_session_params sp = zeta_session_params_default();
        sp.n_ctx = 2048;
        sp.n_threads = 2;
        if (load(STORIES, ZETA_BACKEND_CPU, &g_mcpu, &err) != ZETA_OK || load(STORIES, ZETA_BACKEND_CUDA, &g_mcu, &err) != ZETA_OK ||
            zeta_session_new(g_mcpu, &sp, &g_scpu, &err) != ZETA_OK || zeta_session_new(g_mcu, &sp, &g_scu, &err) != ZETA_OK) {
            printf("FAIL - cuda setup: %s\n", err.message);
            return 1;
        }
    }
    T_RUN(test_backend_selection);
    T_RUN(test_cuda_session_refusals);
    T_RUN(test_rmsnorm);
    T_RUN(test_rmsnorm_q8K);
    T_RUN(test_swiglu_add);
    T_RUN(test_rope);
    T_RUN(test_matmul_types);
    T_RUN(test_attention);
    T_RUN(test_attention_tensor_cores);
    T_RUN(test_model_logits);
    T_RUN(test_greedy_tokens);
    T_RUN(test_shift_and_state);
    T_RUN(test_decode_graph);
    zeta_session_free(g_scpu);
    zeta_session_free(g_scu);
    zeta_model_free(g_mcpu);
    zeta_model_free(g_mcu);
    return t_done();
}
