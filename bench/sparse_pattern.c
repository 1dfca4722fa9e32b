/* sparse_pattern.c — how fast one core reads the sparse pass's access pattern with no arithmetic:
 * the native sparse layout's input blocks (32 column runs of RUN bytes each, one after another),
 * K of the 32 columns per block kept (random, in address order), read 64 bytes at a time either
 * in lockstep over the kept columns (the AVX-512 VNNI kernel's walk: row step outer, kept columns
 * inner) or one column run after another; optionally with a software prefetch PF bytes ahead in
 * each run. `rows` reads the same bytes laid out row-tile-major instead (each 64-row step's 32
 * column lines side by side, 2 KB, the kept ones read in address order: one stream with holes).
 * 768 blocks (64 random selections repeated), best of 12 passes, GB/s of kept bytes.
 * An upper bound for the sparse kernels of issue 5 (docs/GATING.md).
 *
 *   cc -O2 -mavx512f bench/sparse_pattern.c -o build/sparse_pattern
 *   build/sparse_pattern RUN K lockstep|column|rows [PF]      e.g. 5632 16 lockstep */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s RUN K lockstep|column [PF]\n", argv[0]);
        return 2;
    }
    const size_t run = (size_t)atol(argv[1]);
    const int k = atoi(argv[2]), lockstep = !strcmp(argv[3], "lockstep"), rows = !strcmp(argv[3], "rows"),
              pfd = argc > 4 ? atoi(argv[4]) : 0;
    if (run < 64 || run % 64 || k < 1 || k > 32 || (!lockstep && !rows && strcmp(argv[3], "column"))) {
        fprintf(stderr, "%s: RUN a multiple of 64, K in 1..32, lockstep, column or rows\n", argv[0]);
        return 2;
    }
    const size_t n_blk = 768, blk = 32 * run, total = n_blk * blk;
    uint8_t *m = aligned_alloc(1 << 21, total);
    if (!m) return 1;
    madvise(m, total, MADV_HUGEPAGE);
    memset(m, 1, total);
    int sel[64][32];
    srand(1);
    for (int b = 0; b < 64; b++) {
        int p[32];
        for (int i = 0; i < 32; i++) p[i] = i;
        for (int i = 31; i > 0; i--) {
            const int j = rand() % (i + 1), t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        for (int i = 0; i < k; i++) sel[b][i] = p[i];
        for (int i = 0; i < k; i++) /* address order, as the kept columns are walked */
            for (int j = i + 1; j < k; j++)
                if (sel[b][j] < sel[b][i]) {
                    const int t = sel[b][i];
                    sel[b][i] = sel[b][j];
                    sel[b][j] = t;
                }
    }
    __m512i acc = _mm512_setzero_si512();
    double best = 1e9;
    for (int rep = 0; rep < 12; rep++) {
        const double t0 = now();
        for (size_t b = 0; b < n_blk; b++) {
            const uint8_t *B = m + b * blk;
            const int *s = sel[b % 64];
            if (rows) /* step o's 32 lines at B + 32 o, column c's at + 64 c */
                for (size_t o = 0; o < run; o += 64) {
                    const uint8_t *T = B + 32 * o;
                    if (pfd)
                        for (int i = 0; i < k; i++) _mm_prefetch((const char *)T + s[i] * 64 + 32 * (size_t)pfd, _MM_HINT_T0);
                    for (int i = 0; i < k; i++) acc = _mm512_add_epi32(acc, _mm512_loadu_si512(T + s[i] * 64));
                }
            else if (lockstep)
                for (size_t o = 0; o < run; o += 64) {
                    if (pfd)
                        for (int i = 0; i < k; i++) _mm_prefetch((const char *)B + s[i] * run + o + pfd, _MM_HINT_T0);
                    for (int i = 0; i < k; i++) acc = _mm512_add_epi32(acc, _mm512_loadu_si512(B + s[i] * run + o));
                }
            else
                for (int i = 0; i < k; i++) {
                    const uint8_t *c = B + s[i] * run;
                    for (size_t o = 0; o < run; o += 64) {
                        if (pfd) _mm_prefetch((const char *)c + o + pfd, _MM_HINT_T0);
                        acc = _mm512_add_epi32(acc, _mm512_loadu_si512(c + o));
                    }
                }
        }
        const double t = now() - t0;
        if (t < best) best = t;
    }
    int out[16];
    _mm512_storeu_si512(out, acc);
    printf("run %zu, %d of 32 kept, %s, prefetch %d: %.1f GB/s%s\n", run, k, argv[3], pfd,
           (double)n_blk * k * run / best / 1e9, out[0] == 12345 ? " " : "");
    free(m);
    return 0;
}
