/* sparse_bench.c — the native sparse decode kernels alone (issue 5): the AVX2 and AVX-512 VNNI
 * versions of zk_sparse_q8 / zk_sparse_q4 (kernels_sparse.h) on the TinyLlama-1.1B FFN shapes
 * (5632 x 2048 and 2048 x 5632), random Q8_0 / Q4_0 weights in the native sparse layout, half of
 * the inputs kept (random positions; -k another fraction). One thread. Each call reads one of 12
 * (-n) copies of the layout in turn (12 x 6-12 MB: more than the L3 of the Zen 4 VM, which reads
 * ~110 GB/s up to 16 MB and ~30 past 128 MB, so the columns come from memory), or with -c the same copy
 * every time (cache-resident). Prints the best and the median time of 120 calls per kernel and the
 * bytes of kept columns read per second. Kernels this CPU lacks are skipped.
 *
 *   build/sparse_bench [-c] [-k KEPT_FRACTION] [-n COPIES] [-s N_OUTxN_IN]   (default 0.5 and 12
 *       copies; -s replaces the two 1.1B shapes by one of your own, -n sets the working set)
 *
 * Built by bench/build.sh (needs the library's internal headers). */
#include "cpu/kernels.h"
#include "cpu/kernels_sparse.h"
#include "model.h"
#include "quant.h"
#include "sparse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static unsigned g_seed = 1;
static float frand(void) {
    g_seed = g_seed * 1103515245u + 12345u;
    return (float)((g_seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

enum { MAX_COPIES = 256, CALLS = 120 };

static int cmp_d(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int cached = 0;
    float keep = 0.5f;
    uint32_t s_out = 0, s_in = 0;
    int COPIES = 12;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "-c")) cached = 1;
        else if (!strcmp(argv[a], "-k") && a + 1 < argc && atof(argv[a + 1]) > 0 && atof(argv[a + 1]) <= 1) keep = (float)atof(argv[++a]);
        else if (!strcmp(argv[a], "-n") && a + 1 < argc && atoi(argv[a + 1]) >= 2 && atoi(argv[a + 1]) <= MAX_COPIES) COPIES = atoi(argv[++a]);
        else if (!strcmp(argv[a], "-s") && a + 1 < argc && sscanf(argv[a + 1], "%ux%u", &s_out, &s_in) == 2 && s_out && s_out % 128 == 0 &&
                 s_in && s_in % 32 == 0 && (uint64_t)s_out * s_in <= ((uint64_t)1 << 28))
            a++;
        else {
            fprintf(stderr, "usage: %s [-c] [-k KEPT_FRACTION] [-n COPIES (2-256, default 12)] [-s N_OUTxN_IN (N_OUT a multiple of 128, N_IN of 32)]\n", argv[0]);
            return 2;
        }
    }
    for (int ti = 0; ti < 2; ti++)
        for (int shape = 0; shape < (s_out ? 1 : 2); shape++) {
            const zeta_type t = ti ? ZETA_TYPE_Q4_0 : ZETA_TYPE_Q8_0;
            const int fmt = ti ? ZS_FMT_Q4 : ZS_FMT_Q8;
            const uint32_t n_in = s_out ? s_in : shape ? 5632 : 2048, n_out = s_out ? s_out : shape ? 2048 : 5632;
            const uint64_t rb = (uint64_t)(n_in / 32) * (ti ? sizeof(block_q4_0) : sizeof(block_q8_0));
            uint8_t *data = malloc(rb * n_out);
            float *row = malloc(sizeof(float) * n_in), *y = malloc(sizeof(float) * n_out);
            if (!data || !row || !y) return 1;
            for (uint32_t o = 0; o < n_out; o++) {
                for (uint32_t i = 0; i < n_in; i++) row[i] = frand();
                zeta_quantize_row_ref(t, row, data + o * rb, n_in);
            }
            zeta_weight w = {.name = "w", .type = t, .ne0 = n_in, .ne1 = n_out, .row_bytes = rb, .data = data};
            const size_t huge = (size_t)2 << 20, al = ((size_t)zs_native_bytes(fmt, n_in, n_out) + huge - 1) & ~(huge - 1);
            uint8_t *mem = aligned_alloc(huge, al * COPIES);
            if (!mem) return 1;
            madvise(mem, al * COPIES, MADV_HUGEPAGE);
            static zs_mat m[MAX_COPIES];
            for (int c = 0; c < COPIES; c++) zs_native_build(&w, fmt, mem + c * al, &m[c]);
            zs_sel s;
            if (!zs_sel_alloc(&s, n_in)) return 1;
            uint32_t k = 0;
            for (uint32_t i = 0; i < n_in; i++) {
                const float v = frand();
                if (fabsf(v) >= 1.0f - keep) s.idx[k] = i, s.val[k++] = v; /* |v| is uniform in [0, 1) */
            }
            s.n = k;
            s.n_in = n_in;
            zk_sparse_round_blocks(&s);
            const char *names[2] = {"avx2", "avx512vnni"};
            zk_sparse_native_fn f[2] = {zk_cpu_has_avx2() ? (ti ? zk_sparse_q4_avx2() : zk_sparse_q8_avx2()) : NULL,
                                        zk_cpu_has_avx512vnni() ? (ti ? zk_sparse_q4_avx512vnni() : zk_sparse_q8_avx512vnni()) : NULL};
            static double times[2][CALLS];
            double best[2] = {1e30, 1e30}, med[2] = {0, 0};
            for (int r = 0; r < CALLS; r++)
                for (int v = 0; v < 2; v++) {
                    if (!f[v]) continue;
                    const double t0 = now_ms();
                    /* 2 r + v: the two kernels never read the copy the other just read (it would come
                     * from the L3), and a copy comes back only after COPIES - 1 other calls */
                    f[v](&m[cached ? 0 : (2 * r + v) % COPIES], &s, 0, n_in / 32, 0, n_out / 64, y);
                    times[v][r] = now_ms() - t0;
                    if (times[v][r] < best[v]) best[v] = times[v][r];
                }
            for (int v = 0; v < 2; v++) {
                qsort(times[v], CALLS, sizeof(double), cmp_d);
                med[v] = times[v][CALLS / 2];
            }
            const double bytes = (double)k * n_out * (ti ? 0.5 : 1.0);
            printf("%s %u x %u, %.2f kept%s:", zeta_type_name(t), n_out, n_in, (double)k / n_in, cached ? " (cached)" : "");
            for (int v = 0; v < 2; v++)
                if (f[v]) printf("  %s best %.3f ms (%.1f GB/s), median %.3f ms (%.1f GB/s)", names[v], best[v], bytes / best[v] / 1e6, med[v], bytes / med[v] / 1e6);
            printf("\n");
            zs_sel_free(&s);
            free(mem);
            free(data);
            free(row);
            free(y);
        }
    return 0;
}
