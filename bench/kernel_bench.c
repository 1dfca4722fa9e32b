/* kernel_bench.c — micro-benchmark of the CPU matrix kernels, printed as Markdown tables:
 *   1. matrix-vector product (one activation row) over a k x rows weight matrix (default 4096 x 4096)
 *      for every weight type the kernel tables have and every ISA table this CPU runs (scalar, avx2,
 *      avxvnni, avx512, avx512vnni, neon, neondot); cells are GB/s of weight bytes streamed (median of several trials);
 *   2. the packed 8-row GEMM of src/cpu/gemm.h / gemm_k.h (Q4_0, Q8_0, Q5_0, IQ4_NL, Q4_1, Q5_1, F16, BF16, Q2_K..Q6_K,
 *      IQ4_XS: the
 *      types some SIMD table packs) for 1 and 16 tokens, in GOPS (2 * rows * k * tokens / s), next to the
 *      row-major path the engine has without packing: the row-by-row vec_dot of the selected table (the
 *      tiled gemm_f.h product for F16, BF16), and the AVX2 layering's vec_dot (what an AVX2-only CPU runs
 *      for a type its table does not pack).
 * Weights come from the scalar reference quantizers (zeta_quantize_row_ref) of random floats,
 * activations from the table's own from_float for zk_vec_dot_type(type). Every ISA's result is
 * checked against the scalar table's. With --big the matrix grows to at least -m MiB (more rows)
 * so it cannot sit in the caches. Not part of the library or the tests; build with bench/build.sh.
 *
 * Run:   build/kernel_bench [-t threads] [-k columns] [-r rows] [--big] [-m MiB] [-s seconds]
 *                           [--types q4_0,q8_0,...] [--isa scalar,avx2,...] [--no-gemm]
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "cpu/gemm.h"
#include "cpu/gemm_f.h"
#include "cpu/gemm_k.h"
#include "cpu/kernels.h"
#include "quant.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <time.h>

#define MAX_THREADS 256
#define N_TRIALS 5
#define UNIQUE_ROWS 64     /* distinct quantized rows, tiled over the matrix (quantizing 16M values per type is slow) */
#define CHECK_TOL 1e-2     /* max |y - y_scalar| / max |y_scalar| accepted */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ------------------------------------------------------------------ work split over threads */

/* One thread's share: rows [row0, row1) for vec_dot, packed groups [row0/8, row1/8) for gemm8. */
typedef struct job {
    zk_vec_dot_fn dot;
    zk_gemm8_fn gemm;
    zk_gemm_rows_fn gemmf;     /* row-major F16 / BF16 (x f32) */
    const uint8_t *w;          /* row-major rows, or packed groups */
    size_t row_bytes;          /* bytes of one row, or of one packed 8-row group */
    int64_t k, row0, row1, reps;
    const uint8_t *x;          /* n_tok activation rows, x_stride bytes apart */
    size_t x_stride;
    const int32_t *xsum;
    int n_tok;
    float *y;                  /* y[t * rows + r] */
    int64_t rows;
} job;

static void *run_job(void *arg) {
    const job *j = arg;
    for (int64_t rep = 0; rep < j->reps; rep++) {
        if (j->gemmf) {
            j->gemmf(j->k, j->w + (size_t)j->row0 * j->row_bytes, j->row_bytes, (int)(j->row1 - j->row0), (const float *)j->x,
                     j->x_stride / sizeof(float), j->n_tok, j->y + j->row0, (size_t)j->rows);
        } else if (j->gemm) {
            for (int64_t g = j->row0 / 8; g < j->row1 / 8; g++)
                j->gemm(j->k, j->w + (size_t)g * j->row_bytes, j->x, j->x_stride, j->xsum, j->n_tok, j->y + g * 8,
                        (size_t)j->rows);
        } else {
            for (int t = 0; t < j->n_tok; t++)
                for (int64_t i = j->row0; i < j->row1; i++)
                    j->dot(j->k, &j->y[(size_t)t * (size_t)j->rows + (size_t)i], j->w + (size_t)i * j->row_bytes,
                           j->x + (size_t)t * j->x_stride);
        }
    }
    return NULL;
}

/* Runs `reps` full passes on nt threads (rows split in multiples of 8); returns seconds. */
static double timed(job proto, int nt, int64_t reps) {
    pthread_t th[MAX_THREADS];
    job jobs[MAX_THREADS];
    const int64_t groups = proto.rows / 8;
    const double t0 = now_s();
    for (int t = 0; t < nt; t++) {
        jobs[t] = proto;
        jobs[t].reps = reps;
        jobs[t].row0 = groups * t / nt * 8;
        jobs[t].row1 = t == nt - 1 ? proto.rows : groups * (t + 1) / nt * 8;
        if (nt == 1) run_job(&jobs[t]);
        else if (pthread_create(&th[t], NULL, run_job, &jobs[t])) { fprintf(stderr, "pthread_create failed\n"); exit(1); }
    }
    if (nt > 1)
        for (int t = 0; t < nt; t++) pthread_join(th[t], NULL);
    return now_s() - t0;
}

/* One warm-up pass, reps calibrated so a trial lasts >= min_s / N_TRIALS, then the median of
 * N_TRIALS trials; returns seconds per pass. */
static double measure(job proto, int nt, double min_s) {
    timed(proto, nt, 1);
    int64_t reps = 1;
    double sec = timed(proto, nt, reps);
    while (sec < min_s / N_TRIALS && reps < (1 << 24)) {
        reps *= 2;
        sec = timed(proto, nt, reps);
    }
    double per[N_TRIALS];
    for (int i = 0; i < N_TRIALS; i++) per[i] = timed(proto, nt, reps) / (double)reps;
    qsort(per, N_TRIALS, sizeof per[0], cmp_double);
    return per[N_TRIALS / 2];
}

/* ------------------------------------------------------------------ data */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* roughly normal, sd 1 (sum of 4 uniforms) */
    float s = 0;
    for (int i = 0; i < 4; i++) {
        g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
        s += (float)(g_rng >> 40) / (float)(1 << 24) - 0.5f;
    }
    return s * 1.7320508f;
}

/* rows x k weights of type wt: UNIQUE_ROWS rows from the reference quantizer, tiled. NULL on failure. */
static uint8_t *make_weights(zeta_type wt, int64_t k, int64_t rows, size_t row_bytes) {
    uint8_t *w = malloc((size_t)rows * row_bytes);
    float *f = malloc((size_t)k * sizeof *f);
    if (!w || !f) { free(w); free(f); return NULL; }
    const int64_t uniq = rows < UNIQUE_ROWS ? rows : UNIQUE_ROWS;
    for (int64_t r = 0; r < uniq; r++) {
        for (int64_t i = 0; i < k; i++) f[i] = 0.02f * frand();
        if (!zeta_quantize_row_ref(wt, f, w + (size_t)r * row_bytes, k)) { free(w); free(f); return NULL; }
    }
    for (int64_t r = uniq; r < rows; r++) memcpy(w + (size_t)r * row_bytes, w + (size_t)(r % uniq) * row_bytes, row_bytes);
    free(f);
    return w;
}

static double max_rel_err(const float *y, const float *ref, size_t n) {
    double emax = 0, rmax = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i])) return INFINITY;
        double e = fabs((double)y[i] - (double)ref[i]), r = fabs((double)ref[i]);
        if (e > emax) emax = e;
        if (r > rmax) rmax = r;
    }
    return rmax > 0 ? emax / rmax : emax;
}

/* ------------------------------------------------------------------ ISA tables */

typedef struct isa {
    const char *name;
    const zk_kernels *raw;   /* the ISA's own slots */
    zk_kernels full;         /* layered as zk_select does: scalar < avx2 < avxvnni < avx512 < avx512vnni, scalar < neon < neondot */
} isa;

static void overlay(zk_kernels *dst, const zk_kernels *src) {
    for (int i = 0; i < ZETA_TYPE_COUNT; i++) {
        if (src->vec_dot[i]) dst->vec_dot[i] = src->vec_dot[i];
        if (src->from_float[i]) dst->from_float[i] = src->from_float[i];
    }
}

static bool in_list(const char *list, const char *name) {
    if (!list) return true;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncasecmp(p, name, n)) return true;
        if (!e) break;
        p = e + 1;
    }
    return false;
}

static int collect_isas(isa *out, const char *filter) {
    int n = 0;
    zk_kernels acc = *zk_scalar();
    const struct { const zk_kernels *t; bool ok; bool chain_reset; } c[] = {
        {zk_scalar(), true, true},
        {zk_avx2(), zk_avx2() && zk_cpu_has_avx2(), false},
        {zk_avxvnni(), zk_avxvnni() && zk_cpu_has_avxvnni(), false},
        {zk_avx512(), zk_avx512() && zk_cpu_has_avx512(), false},
        {zk_avx512vnni(), zk_avx512vnni() && zk_cpu_has_avx512vnni(), false},
        {zk_neon(), zk_neon() && zk_cpu_has_neon(), true},
        {zk_neondot(), zk_neondot() && zk_cpu_has_neondot(), false},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        if (!c[i].ok) continue;
        if (c[i].chain_reset) acc = *zk_scalar();
        overlay(&acc, c[i].t);
        if (!in_list(filter, c[i].t->name)) continue;
        out[n].name = c[i].t->name;
        out[n].raw = c[i].t;
        out[n].full = acc;
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------ main */

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s [-t threads] [-k columns] [-r rows] [--big] [-m MiB] [-s seconds] [--types LIST] [--isa LIST] [--no-gemm]\n"
            "  -k, -r    matrix shape (default 4096 x 4096)\n"
            "  --big     grow the row count so each matrix is at least -m MiB (default 512): bigger than the caches\n"
            "  -s        seconds of timed work per cell (default 1.0; median of %d trials)\n"
            "  --types   comma-separated weight types (default all the kernel tables have)\n"
            "  --isa     comma-separated tables (scalar, avx2, avxvnni, avx512, avx512vnni, neon, neondot; default all this CPU runs)\n",
            argv0, N_TRIALS);
}

int main(int argc, char **argv) {
    int nt = 1;
    int64_t k = 4096, rows_arg = 4096, big_mib = 512;
    bool big = false, do_gemm = true;
    double min_s = 1.0;
    const char *types_filter = NULL, *isa_filter = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--big")) { big = true; continue; }
        if (!strcmp(a, "--no-gemm")) { do_gemm = false; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(argv[0]); return 0; }
        if (!v) { usage(argv[0]); return 2; }
        if (!strcmp(a, "-t")) nt = atoi(v);
        else if (!strcmp(a, "-k")) k = atoll(v);
        else if (!strcmp(a, "-r")) rows_arg = atoll(v);
        else if (!strcmp(a, "-m")) { big_mib = atoll(v); big = true; }
        else if (!strcmp(a, "-s")) min_s = atof(v);
        else if (!strcmp(a, "--types")) types_filter = v;
        else if (!strcmp(a, "--isa")) isa_filter = v;
        else { usage(argv[0]); return 2; }
        i++;
    }
    if (nt < 1 || nt > MAX_THREADS || k < 256 || k % 256 || rows_arg < 8 || rows_arg % 8 || big_mib < 1 || !(min_s > 0)) {
        fprintf(stderr, "bad arguments: need 1 <= -t <= %d, -k a multiple of 256, -r a multiple of 8, -m >= 1, -s > 0\n",
                MAX_THREADS);
        return 2;
    }

    isa isas[8];
    const int n_isa = collect_isas(isas, isa_filter);
    if (!n_isa) { fprintf(stderr, "no kernel table matches --isa %s on this CPU\n", isa_filter); return 2; }
    zk_kernels scalar_full;
    zk_complete(zk_scalar(), &scalar_full);

    /* every weight type the scalar table has a dot product for, in a fixed reading order */
    static const zeta_type order[] = {ZETA_TYPE_F32,  ZETA_TYPE_F16,  ZETA_TYPE_BF16,  ZETA_TYPE_Q8_0, ZETA_TYPE_Q4_0,
                                      ZETA_TYPE_Q4_1, ZETA_TYPE_Q5_0, ZETA_TYPE_Q5_1,  ZETA_TYPE_Q2_K, ZETA_TYPE_Q3_K,
                                      ZETA_TYPE_Q4_K, ZETA_TYPE_Q5_K, ZETA_TYPE_Q6_K,  ZETA_TYPE_IQ4_NL, ZETA_TYPE_IQ4_XS};
    zeta_type types[ZETA_TYPE_COUNT];
    int n_types = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (scalar_full.vec_dot[order[i]] && in_list(types_filter, zeta_type_name(order[i]))) types[n_types++] = order[i];
    for (int t = 0; t < ZETA_TYPE_COUNT; t++) { /* slots added to the tables after this file was written */
        bool listed = false;
        for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) listed |= order[i] == (zeta_type)t;
        if (!listed && scalar_full.vec_dot[t] && in_list(types_filter, zeta_type_name((zeta_type)t))) types[n_types++] = (zeta_type)t;
    }
    if (!n_types) { fprintf(stderr, "no weight type matches --types %s\n", types_filter); return 2; }

    struct utsname un;
    uname(&un);
    printf("## Kernel microbenchmark\n\n");
    printf("zeta %s, selected kernels: %s, %s %s, %d thread(s), k = %lld columns, %s; median of %d trials, "
           "~%.2f s timed per cell\n\n",
           zeta_version_string(), zk_select()->name, un.sysname, un.machine, nt, (long long)k,
           big ? "rows grown per type to >= the -m size" : "rows fixed", N_TRIALS, min_s);

    /* ---- matrix-vector */
    printf("### Matrix-vector product, GB/s of weight bytes\n\n");
    printf("| type | matrix | MiB |");
    for (int i = 0; i < n_isa; i++) printf(" %s |", isas[i].name);
    printf("\n|---|---|---:|");
    for (int i = 0; i < n_isa; i++) printf("---:|");
    printf("\n");
    fflush(stdout);

    float *xf = malloc((size_t)k * 16 * sizeof *xf);
    if (!xf) { fprintf(stderr, "out of memory\n"); return 1; }
    for (int64_t i = 0; i < k * 16; i++) xf[i] = frand();
    char notes[4096] = "";
    size_t notes_len = 0;
    int failures = 0;

    for (int ti = 0; ti < n_types; ti++) {
        const zeta_type wt = types[ti], at = zk_vec_dot_type(wt);
        const size_t row_bytes = (size_t)zeta_row_bytes(wt, (uint64_t)k);
        int64_t rows = rows_arg;
        if (big) {
            int64_t want = (int64_t)(((uint64_t)big_mib << 20) / row_bytes);
            want = (want + 7) / 8 * 8;
            if (want > rows) rows = want;
        }
        uint8_t *w = make_weights(wt, k, rows, row_bytes);
        const size_t x_bytes = (size_t)zeta_row_bytes(at, (uint64_t)k);
        uint8_t *x = malloc(x_bytes);
        float *y = malloc((size_t)rows * sizeof *y), *yref = malloc((size_t)rows * sizeof *yref);
        if (!w || !x || !y || !yref) {
            fprintf(stderr, "%s: cannot make %lld x %lld weights (out of memory or no reference quantizer)\n", zeta_type_name(wt),
                    (long long)rows, (long long)k);
            free(w); free(x); free(y); free(yref);
            continue;
        }
        /* reference result: scalar table, scalar activation conversion */
        scalar_full.from_float[at](xf, x, k);
        job proto = {.dot = scalar_full.vec_dot[wt], .w = w, .row_bytes = row_bytes, .k = k, .x = x, .x_stride = x_bytes,
                     .n_tok = 1, .y = yref, .rows = rows};
        timed(proto, 1, 1);

        printf("| %s | %lld x %lld | %.1f |", zeta_type_name(wt), (long long)rows, (long long)k,
               (double)rows * (double)row_bytes / 1048576.0);
        fflush(stdout);
        for (int i = 0; i < n_isa; i++) {
            if (!isas[i].raw->vec_dot[wt]) { printf(" – |"); fflush(stdout); continue; } /* this ISA has no kernel of its own */
            isas[i].full.from_float[at](xf, x, k);
            proto.dot = isas[i].full.vec_dot[wt];
            proto.y = y;
            const double sec = measure(proto, nt, min_s);
            const double err = max_rel_err(y, yref, (size_t)rows);
            if (!(err <= CHECK_TOL)) {
                failures++;
                int o = snprintf(notes + notes_len, sizeof notes - notes_len, "- %s %s: max relative error vs scalar %.3g (> %g)\n",
                                 zeta_type_name(wt), isas[i].name, err, CHECK_TOL);
                if (o > 0 && notes_len + (size_t)o < sizeof notes) notes_len += (size_t)o;
            }
            printf(" %.2f%s |", (double)rows * (double)row_bytes / sec / 1e9, err <= CHECK_TOL ? "" : " (!)");
            fflush(stdout);
        }
        printf("\n");
        free(w); free(x); free(y); free(yref);
    }
    printf("\n– : the table has no kernel of its own for the type (the engine uses the next table down). "
           "Weights: %d distinct reference-quantized rows tiled over the matrix.\n", UNIQUE_ROWS);

    /* ---- packed 8-row GEMM */
    if (do_gemm) {
        const zk_gemm_table *gt[3] = {zk_gemm_scalar(), zk_cpu_has_avx2() ? zk_gemm_avx2() : NULL,
                                      zk_cpu_has_avx512vnni() ? zk_gemm_avx512vnni() : NULL};
        const zeta_type gtypes[] = {ZETA_TYPE_Q4_0, ZETA_TYPE_Q8_0, ZETA_TYPE_Q5_0, ZETA_TYPE_IQ4_NL, ZETA_TYPE_Q4_1,
                                    ZETA_TYPE_Q5_1, ZETA_TYPE_F16,  ZETA_TYPE_BF16, ZETA_TYPE_Q2_K,   ZETA_TYPE_Q3_K,
                                    ZETA_TYPE_Q4_K, ZETA_TYPE_Q5_K, ZETA_TYPE_Q6_K, ZETA_TYPE_IQ4_XS};
        /* the AVX2 layering's row-major vec_dot (what an AVX2-only CPU multiplies with unpacked weights) */
        isa ai[1];
        const zk_kernels *av2 = collect_isas(ai, "avx2") == 1 ? &ai[0].full : NULL;
        const zk_gemmf_table *gf = zk_gemmf_select();
        const int toks[2] = {1, 16};
        const zk_kernels *sel = zk_select();
        printf("\n### Packed 8-row GEMM (src/cpu/gemm.h), GOPS = 2 x rows x k x tokens / s\n\n");
        printf("| type | matrix | tokens | row-major: vec_dot (%s) or gemm_f (%s) |", sel->name, gf->name);
        if (av2) printf(" row-major vec_dot avx2 |");
        for (int g = 0; g < 3; g++) if (gt[g] && in_list(isa_filter, gt[g]->name)) printf(" gemm8 %s |", gt[g]->name);
        printf(" gemm8 GB/s (best) |\n|---|---|---:|---:|");
        if (av2) printf("---:|");
        for (int g = 0; g < 3; g++) if (gt[g] && in_list(isa_filter, gt[g]->name)) printf("---:|");
        printf("---:|\n");
        for (size_t gi = 0; gi < sizeof gtypes / sizeof gtypes[0]; gi++) {
            const zeta_type wt = gtypes[gi], at = zk_vec_dot_type(wt);
            const bool two = wt == ZETA_TYPE_F16 || wt == ZETA_TYPE_BF16; /* f32 activations */
            const bool kq = at == ZETA_TYPE_Q8_K;                            /* Q8_K activations */
            const bool sums = wt == ZETA_TYPE_Q4_0 || wt == ZETA_TYPE_Q5_0 || wt == ZETA_TYPE_IQ4_NL; /* Q8_0 block sums */
            if (kq && k % QK_K) continue;
            bool any = false;
            for (int g = 0; g < 3; g++) any = any || (gt[g] && gt[g]->gemm8[wt]);
            if (!any) continue;
            if (!in_list(types_filter, zeta_type_name(wt))) continue;
            if (two && !gf->gemm[wt]) continue;
            const size_t row_bytes = (size_t)zeta_row_bytes(wt, (uint64_t)k);
            int64_t rows = rows_arg;
            if (big) {
                int64_t want = (int64_t)(((uint64_t)big_mib << 20) / row_bytes);
                want = (want + 7) / 8 * 8;
                if (want > rows) rows = want;
            }
            const size_t gb = zk_packed_group_bytes(wt, k);
            const int64_t nb = k / 32;
            uint8_t *w = make_weights(wt, k, rows, row_bytes);
            uint8_t *packed = malloc((size_t)(rows / 8) * gb);
            const size_t x_stride = two ? (size_t)k * sizeof(float) : (size_t)zeta_row_bytes(at, (uint64_t)k);
            uint8_t *x = malloc(x_stride * 16);
            int32_t *xsum = malloc((size_t)nb * 16 * sizeof *xsum);
            float *y = malloc((size_t)rows * 16 * sizeof *y), *yref = malloc((size_t)rows * 16 * sizeof *yref);
            if (!w || !packed || !x || !xsum || !y || !yref) {
                fprintf(stderr, "%s: out of memory for the gemm benchmark\n", zeta_type_name(wt));
                free(w); free(packed); free(x); free(xsum); free(y); free(yref);
                continue;
            }
            for (int64_t g = 0; g < rows / 8; g++) {
                if (two) {
                    const uint16_t *r8[8];
                    for (int r = 0; r < 8; r++) r8[r] = (const uint16_t *)(w + (size_t)(g * 8 + r) * row_bytes);
                    zk_pack_f16x8(r8, k, (block_f16x8 *)(packed + (size_t)g * gb));
                } else if (kq) {
                    const void *r8[8];
                    for (int r = 0; r < 8; r++) r8[r] = w + (size_t)(g * 8 + r) * row_bytes;
                    void *out = packed + (size_t)g * gb;
                    const int64_t nbk = k / QK_K;
                    if (wt == ZETA_TYPE_Q2_K) zk_pack_q2_Kx8((const block_q2_K *const *)r8, nbk, out);
                    else if (wt == ZETA_TYPE_Q3_K) zk_pack_q3_Kx8((const block_q3_K *const *)r8, nbk, out);
                    else if (wt == ZETA_TYPE_Q4_K) zk_pack_q4_Kx8((const block_q4_K *const *)r8, nbk, out);
                    else if (wt == ZETA_TYPE_Q5_K) zk_pack_q5_Kx8((const block_q5_K *const *)r8, nbk, out);
                    else if (wt == ZETA_TYPE_Q6_K) zk_pack_q6_Kx8((const block_q6_K *const *)r8, nbk, out);
                    else zk_pack_iq4_xsx8((const block_iq4_xs *const *)r8, nbk, out);
                } else if (wt == ZETA_TYPE_Q4_0 || wt == ZETA_TYPE_IQ4_NL) { /* IQ4_NL: Q4_0's block shape */
                    const block_q4_0 *r8[8];
                    for (int r = 0; r < 8; r++) r8[r] = (const block_q4_0 *)(w + (size_t)(g * 8 + r) * row_bytes);
                    zk_pack_q4_0x8(r8, nb, (block_q4_0x8 *)(packed + (size_t)g * gb));
                } else if (wt == ZETA_TYPE_Q5_0 || wt == ZETA_TYPE_Q4_1 || wt == ZETA_TYPE_Q5_1) {
                    const void *r8[8];
                    for (int r = 0; r < 8; r++) r8[r] = w + (size_t)(g * 8 + r) * row_bytes;
                    void *out = packed + (size_t)g * gb;
                    if (wt == ZETA_TYPE_Q5_0) zk_pack_q5_0x8((const block_q5_0 *const *)r8, nb, out);
                    else if (wt == ZETA_TYPE_Q4_1) zk_pack_q4_1x8((const block_q4_1 *const *)r8, nb, out);
                    else zk_pack_q5_1x8((const block_q5_1 *const *)r8, nb, out);
                } else {
                    const block_q8_0 *r8[8];
                    for (int r = 0; r < 8; r++) r8[r] = (const block_q8_0 *)(w + (size_t)(g * 8 + r) * row_bytes);
                    zk_pack_q8_0x8(r8, nb, (block_q8_0x8 *)(packed + (size_t)g * gb));
                }
            }
            if (two) memcpy(x, xf, (size_t)k * 16 * sizeof(float));
            else if (!sums)
                for (int t = 0; t < 16; t++) sel->from_float[at](xf + (size_t)t * (size_t)k, x + (size_t)t * x_stride, k);
            else for (int t = 0; t < 16; t++) { /* activations as the backend makes them: selected from_float + block sums */
                block_q8_0 *q = (block_q8_0 *)(x + (size_t)t * x_stride);
                sel->from_float[ZETA_TYPE_Q8_0](xf + (size_t)t * (size_t)k, q, k);
                for (int64_t b = 0; b < nb; b++) {
                    int32_t s = 0;
                    for (int e = 0; e < 32; e++) s += q[b].qs[e];
                    xsum[(size_t)t * (size_t)nb + (size_t)b] = s;
                }
            }
            for (int ni = 0; ni < 2; ni++) {
                const int n_tok = toks[ni];
                const double ops = 2.0 * (double)rows * (double)k * n_tok;
                job vd = {.dot = sel->vec_dot[wt], .gemmf = two ? gf->gemm[wt] : NULL, .w = w, .row_bytes = row_bytes, .k = k,
                          .x = x, .x_stride = x_stride, .n_tok = n_tok, .y = yref, .rows = rows};
                const double sec_vd = measure(vd, nt, min_s);
                printf("| %s | %lld x %lld | %d | %.2f |", zeta_type_name(wt), (long long)rows, (long long)k, n_tok, ops / sec_vd / 1e9);
                if (av2) {
                    if (two || !av2->vec_dot[wt]) printf(" – |");
                    else {
                        job va = vd;
                        va.dot = av2->vec_dot[wt];
                        va.gemmf = NULL;
                        printf(" %.2f |", ops / measure(va, nt, min_s) / 1e9);
                    }
                }
                fflush(stdout);
                double best = 0;
                for (int g = 0; g < 3; g++) {
                    if (!gt[g] || !in_list(isa_filter, gt[g]->name)) continue;
                    if (!gt[g]->gemm8[wt]) { printf(" – |"); continue; }
                    job gj = {.gemm = gt[g]->gemm8[wt], .w = packed, .row_bytes = gb, .k = k, .x = x, .x_stride = x_stride,
                              .xsum = xsum, .n_tok = n_tok, .y = y, .rows = rows};
                    const double sec = measure(gj, nt, min_s);
                    const double err = max_rel_err(y, yref, (size_t)rows * (size_t)n_tok);
                    if (!(err <= CHECK_TOL)) {
                        failures++;
                        int o = snprintf(notes + notes_len, sizeof notes - notes_len,
                                         "- gemm8 %s %s x%d: max relative error vs vec_dot %.3g (> %g)\n", gt[g]->name,
                                         zeta_type_name(wt), n_tok, err, CHECK_TOL);
                        if (o > 0 && notes_len + (size_t)o < sizeof notes) notes_len += (size_t)o;
                    }
                    const double gbs = (double)(rows / 8) * (double)gb / sec / 1e9;
                    if (gbs > best) best = gbs;
                    printf(" %.2f%s |", ops / sec / 1e9, err <= CHECK_TOL ? "" : " (!)");
                    fflush(stdout);
                }
                printf(" %.2f |\n", best);
            }
            free(w); free(packed); free(x); free(xsum); free(y); free(yref);
        }
    }
    if (failures) printf("\nResult check FAILED (cells marked (!)):\n%s", notes);
    else printf("\nAll results within %g (max relative error) of the scalar reference.\n", CHECK_TOL);
    free(xf);
    return failures ? 1 : 0;
}
