/* gate_steps.c — where a decode step's time goes, per mode and kind of step: times every
 * zeta_session_eval of a greedy generation (the forward pass, the logits' copy back and, in
 * variational mode, the gate's entropy) and every zeta_session_sample, classifies each step by the
 * session's counters (dense, sparse, fallback) and prints the medians; then times the host entropy
 * (sampler_entropy) of the last logits alone. Used to find what variational mode costs beyond the mix
 * of its two passes (bench/CUDA_NOTES.md v18).
 *
 *   build/gate_steps MODEL SPARSITY [backend cpu|cuda] [n_steps] [level]
 *
 * Built by bench/build.sh gate_steps (a CUDA build: see LIBS there). */
#include "sampler.h"
#include "zeta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static int cmp_d(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    if (n <= 0) return 0.0;
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL SPARSITY [cpu|cuda] [n_steps] [level]\n", argv[0]);
        return 2;
    }
    const int steps = argc > 4 ? atoi(argv[4]) : 128;
    const float level = argc > 5 ? (float)atof(argv[5]) : 0.5f;
    if (steps < 1 || steps > 100000) {
        fprintf(stderr, "n_steps: 1..100000\n");
        return 2;
    }
    zeta_error err;
    zeta_model_params mp = zeta_model_params_default();
    mp.sparsity_path = argv[2];
    mp.backend = argc > 3 && !strcmp(argv[3], "cpu") ? ZETA_BACKEND_CPU : ZETA_BACKEND_CUDA;
    zeta_model *m = NULL;
    if (zeta_model_load(argv[1], &mp, &m, &err) != ZETA_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    double *ev[3], *sa[3];
    for (int k = 0; k < 3; k++) {
        ev[k] = malloc(sizeof(double) * (size_t)steps);
        sa[k] = malloc(sizeof(double) * (size_t)steps);
    }
    const zeta_mode modes[3] = {ZETA_MODE_STANDARD, ZETA_MODE_SPARSE, ZETA_MODE_VARIATIONAL};
    const char *kinds[3] = {"dense", "sparse", "fallback"};
    printf("%-12s %-9s %6s %10s %10s\n", "mode", "step", "n", "eval_us", "sample_us");
    zeta_session *s = NULL;
    for (int mi = 0; mi < 3; mi++) {
        for (int rep = 0; rep < 2; rep++) { /* the first round warms up (graph captures) */
            zeta_session_params sp = zeta_session_params_default();
            sp.mode = modes[mi];
            sp.sparsity = level;
            sp.n_ctx = (uint32_t)steps + 16;
            if (s) zeta_session_free(s);
            s = NULL;
            if (zeta_session_new(m, &sp, &s, &err) != ZETA_OK) {
                fprintf(stderr, "%s\n", err.message);
                return 1;
            }
            zeta_token t = zeta_token_bos(m) >= 0 ? zeta_token_bos(m) : 1;
            zeta_sampler_params smp = zeta_sampler_params_default();
            smp.temperature = 0.0f;
            int n[3] = {0, 0, 0};
            zeta_session_stats a, b;
            for (int i = 0; i < steps; i++) {
                zeta_session_get_stats(s, &a);
                const double t0 = now_us();
                if (zeta_session_eval(s, &t, 1, &err) != ZETA_OK) {
                    fprintf(stderr, "%s\n", err.message);
                    return 1;
                }
                const double t1 = now_us();
                if (zeta_session_sample(s, &smp, &t, &err) != ZETA_OK) {
                    fprintf(stderr, "%s\n", err.message);
                    return 1;
                }
                const double t2 = now_us();
                zeta_session_get_stats(s, &b);
                const int k = b.n_fallbacks > a.n_fallbacks ? 2 : b.n_sparse_steps > a.n_sparse_steps ? 1 : 0;
                ev[k][n[k]] = t1 - t0;
                sa[k][n[k]] = t2 - t1;
                n[k]++;
            }
            if (rep == 0) continue;
            for (int k = 0; k < 3; k++)
                if (n[k]) printf("%-12s %-9s %6d %10.1f %10.1f\n", zeta_mode_name(modes[mi]), kinds[k], n[k], median(ev[k], n[k]), median(sa[k], n[k]));
        }
    }
    size_t nv = 0;
    const float *lg = zeta_session_logits(s, &nv);
    double h = 0.0, et[64];
    for (int r = 0; r < 64; r++) {
        const double t0 = now_us();
        h += sampler_entropy(lg, (int32_t)nv);
        et[r] = now_us() - t0;
    }
    printf("host entropy of %zu logits: %.1f us (median of 64; H = %.4f)\n", nv, median(et, 64), h / 64.0);
    zeta_session_free(s);
    zeta_model_free(m);
    for (int k = 0; k < 3; k++) free(ev[k]), free(sa[k]);
    return 0;
}
