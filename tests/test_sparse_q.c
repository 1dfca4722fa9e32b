/* test_sparse_q.c — the native Q8_0 / Q4_0 sparse layout and its kernels (sparse.h,
 * kernels_sparse.h). Random Q8_0 / Q4_0 matrices (codes over the whole range, -128 and the nibble
 * extremes included) are regrouped by zs_native_build; inputs are thresholded with patterns that
 * drop whole blocks, keep whole blocks (32 kept: the Q4_0 kernel's int16 sums are widened twice),
 * keep odd counts and single entries. The reference is computed from the ORIGINAL row-major blocks
 * (so the regrouping is checked too) with the kernels' stated arithmetic, and the scalar and the
 * selected SIMD kernel must equal it bit for bit, over the whole output and over a sub-range of
 * 64-row chunks (threads' slices) that must leave the rest of y untouched. The block rounding of
 * the inputs is checked against the dense path's Q8_0 quantizer, and the result against the plain
 * float product over the kept inputs. */
#include "test.h"
#include "backend.h"
#include "cpu/kernels.h"
#include "cpu/kernels_sparse.h"
#include "model.h"
#include "quant.h"
#include "sparse.h"
#include "zeta.h"

#include <math.h>
#include <stdint.h>

static uint64_t g_rng = 0x51f15e2b7a3c9d01ull;
static uint32_t rnd_u32(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float rnd_unit(void) { return (float)(rnd_u32() & 0xffffff) / 16777216.0f * 2.0f - 1.0f; } /* [-1, 1) */

static void fill(zeta_type t, uint8_t *data, uint64_t n_in, uint64_t n_out, uint64_t rb) {
    for (uint64_t o = 0; o < n_out; o++)
        for (uint64_t b = 0; b < n_in / 32; b++) {
            const zeta_f16 d = zeta_f32_to_f16(0.001f + 0.01f * (rnd_unit() + 1.0f));
            const int extreme = (int)(rnd_u32() % 8); /* 0: all minimum, 1: all maximum, else random */
            if (t == ZETA_TYPE_Q8_0) {
                block_q8_0 *q = (block_q8_0 *)(data + o * rb) + b;
                q->d = d;
                for (int i = 0; i < 32; i++) q->qs[i] = (int8_t)(extreme == 0 ? -128 : extreme == 1 ? 127 : (int)(rnd_u32() & 0xff) - 128);
            } else {
                block_q4_0 *q = (block_q4_0 *)(data + o * rb) + b;
                q->d = d;
                for (int i = 0; i < 16; i++) q->qs[i] = (uint8_t)(extreme == 0 ? 0x00 : extreme == 1 ? 0xff : rnd_u32() & 0xff);
            }
        }
}

/* code of row o, input i, from the original blocks */
static int code_of(zeta_type t, const uint8_t *data, uint64_t rb, uint32_t o, uint32_t i) {
    if (t == ZETA_TYPE_Q8_0) return ((const block_q8_0 *)(data + o * rb))[i / 32].qs[i % 32];
    const block_q4_0 *q = (const block_q4_0 *)(data + o * rb) + i / 32;
    const uint32_t j = i % 32;
    return j < 16 ? q->qs[j] & 15 : q->qs[j - 16] >> 4;
}

/* inputs whose kept set follows pattern p per block: 0 random half, 1 none, 2 all, 3 one, 4 odd */
static void make_x(float *x, uint32_t n_in, float *thr) {
    *thr = 0.5f;
    for (uint32_t b = 0; b < n_in / 32; b++) {
        const int p = (int)(b % 5);
        for (uint32_t j = 0; j < 32; j++) {
            float mag = 0.01f + 0.4f * (rnd_unit() + 1.0f) / 2.0f; /* dropped: below 0.5 */
            const bool keep = p == 0 ? (rnd_u32() & 1) : p == 1 ? false : p == 2 ? true : p == 3 ? j == 7 : j % 3 != 0;
            if (keep) mag = 0.5f + 3.0f * (rnd_unit() + 1.0f) / 2.0f;
            x[32 * b + j] = (rnd_u32() & 1) ? -mag : mag;
        }
    }
}

static void select_x(const float *x, uint32_t n, float thr, zs_sel *s) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
        if (fabsf(x[i]) >= thr) {
            s->idx[k] = i;
            s->val[k++] = x[i];
        }
    s->n = k;
    s->n_in = n;
    zk_sparse_round_blocks(s);
}

static void check_case(zeta_type t, uint32_t n_in, uint32_t n_out, double *worst_rel) {
    const int fmt = t == ZETA_TYPE_Q8_0 ? ZS_FMT_Q8 : ZS_FMT_Q4;
    const uint64_t rb = (uint64_t)(n_in / 32) * (t == ZETA_TYPE_Q8_0 ? sizeof(block_q8_0) : sizeof(block_q4_0));
    uint8_t *data = malloc(rb * n_out);
    fill(t, data, n_in, n_out, rb);
    zeta_weight w = {.name = "w", .type = t, .ne0 = n_in, .ne1 = n_out, .row_bytes = rb, .data = data};
    const uint64_t bytes = zs_native_bytes(fmt, n_in, n_out);
    uint8_t *mem = aligned_alloc(64, (size_t)bytes);
    zs_mat m;
    zs_native_build(&w, fmt, mem, &m);
    T_CHECK(m.fmt == fmt && m.n_in == n_in && m.n_out == n_out && bytes % 64 == 0);

    float *x = malloc(n_in * sizeof(float)), thr;
    make_x(x, n_in, &thr);
    zs_sel s;
    T_CHECK(zs_sel_alloc(&s, n_in));
    select_x(x, n_in, thr, &s);
    T_CHECK(s.blocked);

    /* the block rounding: q8 / dx8 as quantize_row_q8_0_ref rounds the block with dropped inputs zeroed */
    float blk[32];
    block_q8_0 ref8;
    bool round_ok = true;
    for (uint32_t b = 0; b < n_in / 32; b++) {
        for (uint32_t j = 0; j < 32; j++) blk[j] = fabsf(x[32 * b + j]) >= thr ? x[32 * b + j] : 0.0f;
        quantize_row_q8_0_ref(blk, &ref8, 32);
        int32_t sum = 0;
        for (uint32_t k = s.bstart[b]; k < s.bstart[b + 1]; k++) {
            round_ok &= s.idx[k] / 32 == b && s.q8[k] == ref8.qs[s.idx[k] % 32];
            sum += s.q8[k];
        }
        round_ok &= s.sum8[b] == sum && (s.bstart[b + 1] == s.bstart[b] || s.dx8[b] == zeta_f16_to_f32(ref8.d));
    }
    T_CHECK(round_ok);

    /* reference from the original blocks, over all input blocks and over the second half of them */
    const uint32_t nbk = n_in / 32, hb = nbk / 2;
    float *yr = malloc(n_out * sizeof(float)), *yh = malloc(n_out * sizeof(float)), *yv = malloc(n_out * sizeof(float));
    double *yf = malloc(n_out * sizeof(double)), *ya = malloc(n_out * sizeof(double));
    for (uint32_t o = 0; o < n_out; o++) {
        float acc = 0.0f, acc_h = 0.0f;
        double fl = 0.0, ab = 0.0;
        const uint8_t *row = data + o * rb;
        for (uint32_t b = 0; b < nbk; b++) {
            if (s.bstart[b] == s.bstart[b + 1]) continue;
            const zeta_f16 dh = t == ZETA_TYPE_Q8_0 ? ((const block_q8_0 *)row)[b].d : ((const block_q4_0 *)row)[b].d;
            const float d = zeta_f16_to_f32(dh);
            int32_t isum = 0;
            for (uint32_t k = s.bstart[b]; k < s.bstart[b + 1]; k++) {
                const int c = code_of(t, data, rb, o, s.idx[k]);
                isum += s.q8[k] * c;
                const double wv = (double)d * (t == ZETA_TYPE_Q8_0 ? c : c - 8);
                fl += wv * s.val[k];
                ab += fabs(wv * s.val[k]);
            }
            if (t == ZETA_TYPE_Q4_0) isum -= 8 * s.sum8[b];
            acc = fmaf(d * s.dx8[b], (float)isum, acc);
            if (b >= hb) acc_h = fmaf(d * s.dx8[b], (float)isum, acc_h);
        }
        yr[o] = acc;
        yh[o] = acc_h;
        yf[o] = fl;
        ya[o] = ab;
    }
    zk_sparse_native_fn scalar = t == ZETA_TYPE_Q8_0 ? zk_sparse_q8_scalar : zk_sparse_q4_scalar;
    zk_sparse_native_fn best = t == ZETA_TYPE_Q8_0 ? zk_sparse_q8_select() : zk_sparse_q4_select();
    const uint32_t nc = n_out / 64;
    /* the scalar spec, the AVX2 kernel where this CPU runs it (also when a wider one is selected),
     * and the selected one */
    zk_sparse_native_fn avx2 = zk_cpu_has_avx2() ? (t == ZETA_TYPE_Q8_0 ? zk_sparse_q8_avx2() : zk_sparse_q4_avx2()) : NULL;
    zk_sparse_native_fn fns[3] = {scalar, best, avx2 && avx2 != best ? avx2 : NULL};
    for (int f = 0; f < 3 && fns[f]; f++) {
        const char *name = f == 0 ? "scalar" : f == 1 ? "selected" : "avx2";
        for (uint32_t o = 0; o < n_out; o++) yv[o] = NAN;
        fns[f](&m, &s, 0, nbk, 0, nc, yv);
        T_CHECKF(memcmp(yv, yr, n_out * sizeof(float)) == 0, "%s %u x %u: %s kernel differs from the reference", zeta_type_name(t), n_out, n_in, name);
        for (uint32_t o = 0; o < n_out; o++) yv[o] = NAN;
        fns[f](&m, &s, hb, nbk, 0, nc, yv);
        T_CHECKF(memcmp(yv, yh, n_out * sizeof(float)) == 0, "%s %u x %u: %s kernel over input blocks %u..%u", zeta_type_name(t), n_out, n_in,
                 name, hb, nbk);
        /* a thread's slice: chunks [1, nc - 1) only, the rest stays NaN */
        if (nc >= 3) {
            for (uint32_t o = 0; o < n_out; o++) yv[o] = NAN;
            fns[f](&m, &s, 0, nbk, 1, nc - 1, yv);
            bool slice = true;
            for (uint32_t o = 0; o < n_out; o++)
                slice &= (o < 64 || o >= 64 * (nc - 1)) ? isnan(yv[o]) : yv[o] == yr[o];
            T_CHECKF(slice, "%s %u x %u: %s kernel on chunks 1..%u", zeta_type_name(t), n_out, n_in, name, nc - 1);
        }
    }
    /* against the float product over the kept inputs (rounding of the inputs only) */
    for (uint32_t o = 0; o < n_out; o++) {
        const double rel = fabs(yr[o] - yf[o]) / (ya[o] > 0 ? ya[o] : 1.0);
        if (rel > *worst_rel) *worst_rel = rel;
    }
    zs_sel_free(&s);
    free(x); free(yr); free(yh); free(yv); free(yf); free(ya);
    free(mem);
    free(data);
}

static void check_type(zeta_type t) {
    /* {n_in, n_out}; 4160 rows: two of the kernels' 4096-row tiles */
    static const uint32_t shapes[][2] = {{32, 64}, {160, 64}, {256, 192}, {512, 320}, {1024, 256}, {96, 4160}};
    double worst = 0.0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int rep = 0; rep < 3; rep++) check_case(t, shapes[i][0], shapes[i][1], &worst);
    printf("    %s: worst |kernel - float product| %.2g of sum |w x| (input rounding)\n", zeta_type_name(t), worst);
    /* the inputs are rounded to 8 bits per block, as the dense path rounds them */
    T_CHECKF(worst < 1e-2, "worst %g", worst);
}

static void test_q8_native(void) { check_type(ZETA_TYPE_Q8_0); }
static void test_q4_native(void) { check_type(ZETA_TYPE_Q4_0); }

/* ------------------------------------------------------------------ whole model */

static const zeta_token prompt[] = {1, 20, 33, 47, 58, 61, 70, 99};
static const zeta_token steps[] = {101, 5, 230, 77, 12, 400, 9, 64, 3, 250};

/* the prompt, then the steps one by one; logits after each step */
static bool run_steps(zeta_model *m, zeta_mode mode, float *out, zeta_session_stats *stats) {
    zeta_session_params sp = zeta_session_params_default();
    sp.n_ctx = 64;
    sp.n_threads = 2;
    sp.mode = mode;
    sp.sparsity = mode == ZETA_MODE_STANDARD ? -1.0f : 0.5f;
    zeta_session *s = NULL;
    zeta_error err;
    if (zeta_session_new(m, &sp, &s, &err) != ZETA_OK) { printf("    %s\n", err.message); return false; }
    bool ok = zeta_session_eval(s, prompt, 8, &err) == ZETA_OK;
    const size_t nv = zeta_n_vocab(m);
    for (size_t i = 0; ok && i < 10; i++) {
        ok = zeta_session_eval(s, &steps[i], 1, &err) == ZETA_OK;
        if (ok) memcpy(out + i * nv, zeta_session_logits(s, NULL), nv * sizeof(float));
    }
    if (stats) zeta_session_get_stats(s, stats);
    zeta_session_free(s);
    return ok;
}

/* a sparsity file for `model` whose thresholds keep every input: calibrated on a little text, then
 * every threshold replaced by 1e-30 */
static bool keep_all_file(const char *model, const char *path) {
    static char text[6000];
    size_t o = 0;
    for (int i = 0; o < sizeof text - 32; i++) o += (size_t)snprintf(text + o, sizeof text - o, "the %s cat sat on mat %d. ", i % 3 ? "red" : "big", i);
    zeta_model *m = NULL;
    zeta_error err;
    zeta_model_params mp = zeta_model_params_default();
    mp.backend = ZETA_BACKEND_CPU;
    if (zeta_model_load(model, &mp, &m, &err) != ZETA_OK) { printf("    %s\n", err.message); return false; }
    zeta_calibrate_params cp = zeta_calibrate_params_default();
    cp.n_ctx = 64;
    cp.n_chunks = 2;
    const bool ok = zeta_calibrate(m, text, strlen(text), &cp, path, &err) == ZETA_OK;
    zeta_model_free(m);
    if (!ok) { printf("    %s\n", err.message); return false; }
    size_t n;
    char *t = t_read_file(path, &n);
    FILE *f = t ? fopen(path, "w") : NULL;
    if (!f) { free(t); return false; }
    int n_levels = 0;
    for (char *p = t; *p;) {
        char *e = strchr(p, '\n');
        const size_t len = e ? (size_t)(e - p) : strlen(p);
        int il;
        char kind[16];
        if (!strncmp(p, "levels ", 7)) n_levels = atoi(p + 7);
        if (p[0] == 'L' && sscanf(p, "L %d %15s", &il, kind) == 2) {
            fprintf(f, "L %d %s", il, kind);
            for (int i = 0; i < n_levels; i++) fprintf(f, " 1e-30");
            fputc('\n', f);
        } else fprintf(f, "%.*s\n", (int)len, p);
        p += len + (e ? 1 : 0);
    }
    fclose(f);
    free(t);
    return true;
}

/* every input kept: the native kernels multiply the model's own weights with the inputs rounded as
 * the dense path rounds them, so the sparse pass gives the dense logits up to summation order (the
 * sparse and dense kernels add the blocks' products in different orders; a last-bit difference can
 * move an occasional 8-bit rounding of a later layer's input: on these zoo models the Q4_0 logits
 * came out identical, the Q8_0 ones 0.045 apart); the Q8_0 copy (ZETA_SPARSE_COPY=1, the format of
 * the other weight types) requantizes the weights and lands much further away */
static double max_diff_all_kept(const char *model, const char *file, bool copy, double *range) {
    if (copy) setenv("ZETA_SPARSE_COPY", "1", 1);
    zeta_model *m = NULL;
    zeta_error err;
    zeta_model_params mp = zeta_model_params_default();
    mp.backend = ZETA_BACKEND_CPU;
    mp.sparsity_path = file;
    const zeta_status st = zeta_model_load(model, &mp, &m, &err);
    unsetenv("ZETA_SPARSE_COPY");
    if (st != ZETA_OK) { printf("    %s\n", err.message); return 1e30; }
    const size_t nv = zeta_n_vocab(m);
    float *d = malloc(10 * nv * sizeof(float)), *s = malloc(10 * nv * sizeof(float));
    zeta_session_stats stats;
    double worst = 1e30;
    if (run_steps(m, ZETA_MODE_STANDARD, d, NULL) && run_steps(m, ZETA_MODE_SPARSE, s, &stats)) {
        worst = 0.0;
        double lo = 1e30, hi = -1e30;
        for (size_t i = 0; i < 10 * nv; i++) {
            worst = fmax(worst, fabs((double)d[i] - s[i]));
            lo = fmin(lo, d[i]);
            hi = fmax(hi, d[i]);
        }
        *range = hi - lo;
        /* inputs that are exactly 0 fall below 1e-30 too: no energy is lost */
        T_CHECKF(stats.n_sparse_steps == 10 && fabs(stats.energy_sum / 10.0 - 1.0) < 1e-12, "steps %llu sparse %llu energy %g",
                 (unsigned long long)stats.n_steps, (unsigned long long)stats.n_sparse_steps, stats.energy_sum);
    }
    free(d);
    free(s);
    zeta_model_free(m);
    return worst;
}

static void check_model(const char *model, const char *file, double tol) {
    if (!keep_all_file(model, file)) { T_CHECK(0); return; }
    double range = 0.0, range_c = 0.0;
    const double native = max_diff_all_kept(model, file, false, &range), copy = max_diff_all_kept(model, file, true, &range_c);
    printf("    %s, every input kept: max |dense - sparse| %.3g native, %.3g Q8_0 copy (logit range %.3g)\n", model, native, copy, range);
    T_CHECKF(native <= tol * range, "native %g > %g x range %g", native, tol, range);
    T_CHECKF(native < copy, "native %g, copy %g", native, copy);
    remove(file);
}

static void test_model_q4_0(void) { check_model("tests/data/models/zoo-Q4_0.gguf", "test_sparse_q4.sparsity", 1e-4); }
static void test_model_q8_0(void) { check_model("tests/data/models/zoo-Q8_0.gguf", "test_sparse_q8.sparsity", 1e-2); }

/* the block rounding on values that hit its edge cases: halfway values (roundf rounds them away from
 * zero), values a float step either side of them, signed zeros, tiny values; each block's largest
 * |value| 127, so the scale is 1 and q8 = roundf(value) exactly, checked both against roundf and
 * against quantize_row_q8_0_ref (the dense path's rounding) */
static void test_block_rounding(void) {
    static const float v[] = {0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 126.5f, -126.5f, 0.49999997f, -0.49999997f, 0.50000006f,
                              -0.50000006f, 2.4999998f, -2.4999998f, 3.5000002f, 0.0f, -0.0f, 1e-30f, -1e-30f, 63.5f, -63.5f, 99.49999f,
                              100.5f, -100.5f, 7.0f, -7.0f, 0.25f, -0.75f, 1e-7f, 42.5f, -42.5f};
    enum { NV = sizeof v / sizeof v[0], NB = 2 };
    float x[32 * NB];
    for (int b = 0; b < NB; b++) {
        x[32 * b] = b ? -127.0f : 127.0f;
        for (int j = 1; j < 32; j++) x[32 * b + j] = b ? -v[(j - 1 + 7) % NV] : v[(j - 1) % NV];
    }
    zs_sel s;
    T_CHECK(zs_sel_alloc(&s, 32 * NB));
    select_x(x, 32 * NB, 0.0f, &s); /* everything kept */
    T_CHECK(s.blocked && s.n == 32 * NB);
    bool ok = true;
    for (int b = 0; b < NB; b++) {
        block_q8_0 ref;
        quantize_row_q8_0_ref(x + 32 * b, &ref, 32);
        for (int j = 0; j < 32; j++) {
            const int k = 32 * b + j;
            const float r = roundf(x[k]);
            if (s.q8[k] != (int8_t)r || s.q8[k] != ref.qs[j]) {
                printf("    value %.9g: q8 %d, roundf %g, quantize_row_q8_0_ref %d\n", x[k], s.q8[k], r, ref.qs[j]);
                ok = false;
            }
        }
    }
    T_CHECK(ok);
    zs_sel_free(&s);
}

/* the CPU backend's selection (no branch on the keep since 2026-11-29) against a plain loop: the
 * kept indices and values in order, the kept and total sums of squares (same order: the same bits),
 * for thresholds that keep everything, about half, nothing, and values equal to the threshold */
static void test_backend_select(void) {
    enum { N = 1000 };
    float x[N];
    uint64_t r = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < N; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = ((float)(r >> 40) / (float)(1u << 24) - 0.5f) * 4.0f;
    }
    x[3] = 0.75f;
    x[4] = -0.75f; /* |x| == thr below: kept */
    x[5] = 0.0f;
    x[6] = -0.0f;
    const float thrs[] = {0.0f, 0.75f, 1.9f, 3.0f};
    const zeta_sparse_ops *ops = cpu_sparse_ops();
    zs_sel s;
    T_CHECK(zs_sel_alloc(&s, N));
    for (size_t t = 0; t < sizeof thrs / sizeof thrs[0]; t++) {
        ops->select(NULL, x, N, thrs[t], &s);
        uint32_t k = 0;
        double kept = 0.0, total = 0.0;
        bool same = true;
        for (uint32_t i = 0; i < N; i++) {
            const double sq = (double)x[i] * (double)x[i];
            total += sq;
            if (fabsf(x[i]) >= thrs[t]) {
                same &= k < s.n && s.idx[k] == i && s.val[k] == x[i];
                kept += sq;
                k++;
            }
        }
        T_CHECKF(same && s.n == k && s.n_in == N && s.ss_kept == kept && s.ss_total == total,
                 "thr %g: %u kept (want %u), sums %.17g / %.17g (want %.17g / %.17g)", thrs[t], s.n, k, s.ss_kept, s.ss_total, kept,
                 total);
    }
    zs_sel_free(&s);
}

/* the widest native kernels this CPU runs are the ones selected (so the comparisons above test them) */
static void test_native_selection(void) {
#ifdef ZETA_HAVE_X86
    if (zk_cpu_has_avx512vnni()) {
        T_CHECK(zk_sparse_q8_select() == zk_sparse_q8_avx512vnni() && zk_sparse_q4_select() == zk_sparse_q4_avx512vnni());
    } else if (zk_cpu_has_avx2()) {
        T_CHECK(zk_sparse_q8_select() == zk_sparse_q8_avx2() && zk_sparse_q4_select() == zk_sparse_q4_avx2());
    } else {
        T_SKIP("no AVX2 on this CPU");
    }
#else
    T_SKIP("x86-64 only");
#endif
}

/* zs_tile_major (the GPU's order): every scale and column byte of the native layout is where its
 * header says, for both formats, both runs, and shapes whose last tile is partial or whole */
static void test_tile_major(void) {
    static const uint32_t shapes[][2] = {{64, 320}, {96, 512}, {32, 64}, {64, 1088}};
    int checked = 0;
    for (int ti = 0; ti < 2; ti++)
        for (int si = 0; si < 4; si++)
            for (uint32_t run = 128; run <= 256; run *= 2) {
                const zeta_type t = ti ? ZETA_TYPE_Q4_0 : ZETA_TYPE_Q8_0;
                const int fmt = ti ? ZS_FMT_Q4 : ZS_FMT_Q8;
                const uint32_t n_in = shapes[si][0], n_out = shapes[si][1];
                const uint64_t rb = (uint64_t)(n_in / 32) * (ti ? sizeof(block_q4_0) : sizeof(block_q8_0));
                uint8_t *data = malloc(rb * n_out);
                fill(t, data, n_in, n_out, rb);
                zeta_weight w = {.name = "w", .type = t, .ne0 = n_in, .ne1 = n_out, .row_bytes = rb, .data = data};
                const uint64_t bytes = zs_native_bytes(fmt, n_in, n_out);
                uint8_t *a = aligned_alloc(64, (size_t)bytes), *b = aligned_alloc(64, (size_t)bytes);
                zs_mat m;
                zs_native_build(&w, fmt, a, &m);
                memset(b, 0xa5, (size_t)bytes);
                zs_tile_major(&m, a, b, run);
                const size_t sc = 2 * (size_t)n_out, cb = m.col_bytes;
                size_t bad = 0;
                for (uint32_t k = 0; k < n_in / 32; k++) {
                    const uint8_t *A = a + k * m.blk_bytes, *B = b + k * m.blk_bytes;
                    bad += memcmp(A, B, sc) != 0;
                    for (uint32_t j = 0; j < 32; j++)
                        for (size_t p = 0; p < cb; p++) {
                            const size_t t0 = p / run * run, len = cb - t0 < run ? cb - t0 : run;
                            bad += A[sc + j * cb + p] != B[sc + 32 * t0 + j * len + (p - t0)];
                        }
                }
                T_CHECKF(bad == 0, "%s %u x %u, run %u: %zu bytes misplaced", zeta_type_name(t), n_out, n_in, run, bad);
                checked++;
                free(a);
                free(b);
                free(data);
            }
    printf("    tile-major layouts: %d shapes checked byte by byte\n", checked);
}

int main(void) {
    printf("    selected kernels: %s\n", zk_sparse_q8_select() == zk_sparse_q8_scalar ? "scalar"
                                         : zk_sparse_q8_select() == zk_sparse_q8_avx512vnni() ? "avx512vnni" : "simd");
    T_RUN(test_native_selection);
    T_RUN(test_tile_major);
    T_RUN(test_block_rounding);
    T_RUN(test_backend_select);
    T_RUN(test_q8_native);
    T_RUN(test_q4_native);
    T_RUN(test_model_q4_0);
    T_RUN(test_model_q8_0);
    return t_done();
}
