/* kernel_bench.c — micro-benchmark of the CPU vec_dot kernels: for every kernel table this CPU
 * runs (scalar, avx2, avx512) and every weight type, the weight bytes streamed per second by a
 * matrix-vector product over a 64 MB weight matrix (k = 4096 columns, as many rows as fit), so the
 * distance to the memory bandwidth is visible. Not part of the library or the tests.
 *
 * Build (from the repository root, on x86-64):
 *   make lib && cc -std=c11 -O2 -Iinclude -Isrc -pthread bench/kernel_bench.c build/libzeta.a -lm -o build/kernel_bench
 * Run:   build/kernel_bench [-t threads] [-k columns] [-m megabytes] [-s seconds]
 */
#include "cpu/kernels.h"
#include "quant.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct job {
    zk_vec_dot_fn dot;
    const uint8_t *w;
    size_t row_bytes;
    int64_t k, row0, row1, reps;
    const void *x;
    float *y;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    for (int64_t r = 0; r < j->reps; r++)
        for (int64_t i = j->row0; i < j->row1; i++) j->dot(j->k, &j->y[i], j->w + (size_t)i * j->row_bytes, j->x);
    return NULL;
}

/* Runs `reps` full passes over the matrix on `nt` threads; returns seconds. */
static double timed_passes(zk_vec_dot_fn dot, const uint8_t *w, size_t row_bytes, int64_t rows, int64_t k,
                           const void *x, float *y, int nt, int64_t reps) {
    pthread_t th[256];
    job jobs[256];
    const double t0 = now_s();
    for (int t = 0; t < nt; t++) {
        jobs[t] = (job){dot, w, row_bytes, k, rows * t / nt, rows * (t + 1) / nt, reps, x, y};
        pthread_create(&th[t], NULL, run_job, &jobs[t]);
    }
    for (int t = 0; t < nt; t++) pthread_join(th[t], NULL);
    return now_s() - t0;
}

int main(int argc, char **argv) {
    int nt = 1;
    int64_t k = 4096, mb = 64;
    double min_s = 0.5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-t")) nt = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-k")) k = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "-m")) mb = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "-s")) min_s = atof(argv[i + 1]);
        else { fprintf(stderr, "usage: %s [-t threads] [-k columns] [-m megabytes] [-s seconds]\n", argv[0]); return 2; }
    }
    if (nt < 1 || nt > 256 || k < 32 || k % 32 || mb < 1) { fprintf(stderr, "bad arguments\n"); return 2; }

    const zk_kernels *tables[3] = {zk_scalar(), NULL, NULL};
    if (zk_avx2() && zk_cpu_has_avx2()) tables[1] = zk_avx2();
    if (zk_avx512() && zk_cpu_has_avx512()) tables[2] = zk_avx512();
    static const zeta_type types[] = {ZETA_TYPE_F32, ZETA_TYPE_F16, ZETA_TYPE_BF16, ZETA_TYPE_Q8_0, ZETA_TYPE_Q4_0};

    printf("vec_dot over a %lld MB weight matrix, k = %lld, %d thread(s); GB/s of weight bytes (GFLOP/s in ())\n",
           (long long)mb, (long long)k, nt);
    printf("%-8s", "type");
    for (int t = 0; t < 3; t++) if (tables[t]) printf("  %22s", tables[t]->name);
    printf("\n");

    float *xf = malloc((size_t)k * sizeof(float));
    for (int64_t i = 0; i < k; i++) xf[i] = (float)((i * 7919) % 2001 - 1000) * 1e-3f;
    void *x = malloc((size_t)k * sizeof(float) + 64); /* large enough for F32 or Q8_0 */

    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const zeta_type wt = types[ti];
        const size_t row_bytes = (size_t)zeta_row_bytes(wt, (uint64_t)k);
        const int64_t rows = (int64_t)((size_t)mb * 1024 * 1024 / row_bytes);
        uint8_t *w = malloc((size_t)rows * row_bytes);
        float *y = malloc((size_t)rows * sizeof(float));
        for (size_t i = 0; i < (size_t)rows * row_bytes; i++) w[i] = (uint8_t)(i * 2654435761u >> 13);
        if (wt == ZETA_TYPE_F32 || wt == ZETA_TYPE_F16 || wt == ZETA_TYPE_BF16) { /* keep values finite */
            const size_t elt = wt == ZETA_TYPE_F32 ? 4 : 2;
            for (size_t i = 0; i < (size_t)rows * row_bytes; i += elt) w[i + elt - 1] &= 0x3f;
        } else { /* finite f16 scales */
            const size_t bsz = zeta_type_get(wt)->type_size;
            for (size_t i = 0; i < (size_t)rows * row_bytes; i += bsz) w[i + 1] &= 0x3b;
        }
        printf("%-8s", zeta_type_name(wt));
        for (int t = 0; t < 3; t++) {
            if (!tables[t]) continue;
            zk_kernels full;
            zk_complete(tables[t], &full);
            full.from_float[zk_vec_dot_type(wt)](xf, x, k);
            timed_passes(full.vec_dot[wt], w, row_bytes, rows, k, x, y, nt, 1); /* warm-up */
            int64_t reps = 1;
            double sec = timed_passes(full.vec_dot[wt], w, row_bytes, rows, k, x, y, nt, reps);
            while (sec < min_s && reps < (1 << 20)) {
                reps *= 2;
                sec = timed_passes(full.vec_dot[wt], w, row_bytes, rows, k, x, y, nt, reps);
            }
            const double gbs = (double)rows * (double)row_bytes * (double)reps / sec / 1e9;
            const double gflops = 2.0 * (double)rows * (double)k * (double)reps / sec / 1e9;
            printf("  %12.2f (%7.1f)", gbs, gflops);
        }
        printf("\n");
        free(w);
        free(y);
    }
    free(xf);
    free(x);
    return 0;
}
