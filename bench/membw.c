/* membw.c — streaming-read memory bandwidth test: sums a large array of 64-bit integers (default
 * 1 GiB) with plain C loops the compiler vectorizes (on x86-64 GCC/Clang also emit an AVX2 clone,
 * picked at run time), on 1 thread and on N threads (each thread sums its own slice, first-touched
 * by itself), best of several runs, two ways: one sequential stream per thread ("plain"), and the
 * thread's slice read as two halves at once with software prefetch 1 KiB ahead of each ("2
 * streams", the access pattern of the Q8_0 decode kernel, which read faster than "plain" on the
 * AMD EPYC VM). read_gbps is the better of the two: the fastest rate a simple read loop reaches.
 * The array is 2 MiB aligned with transparent huge pages asked for (madvise), as the engine's
 * packed weights are (on a Zen 4 VM, 2026-11-27, 4 KiB pages read slower than the decode
 * kernels' huge-page weights did).
 * Prints GB/s (1 GB = 1e9 bytes, as `zeta bench` does) as a Markdown table or JSON. The decode
 * GB/s of `zeta bench` is compared with this number. Not part of the library or the tests; build
 * with bench/build.sh.
 *
 * Run:   build/membw [-m MiB] [-t 1,2,...] [-r runs] [-o md|json]
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <pthread.h>
#include <sys/mman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 512

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__APPLE__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define MULTIVERSION __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef MULTIVERSION
#define MULTIVERSION
#endif

/* Sum of n 64-bit integers; four independent accumulators so the loop is load-bound. */
MULTIVERSION
static uint64_t sum_u64(const uint64_t *restrict a, size_t n) {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i];
        s1 += a[i + 1];
        s2 += a[i + 2];
        s3 += a[i + 3];
    }
    for (; i < n; i++) s0 += a[i];
    return s0 + s1 + s2 + s3;
}

/* The slice as two halves read at once, each with a software prefetch 1 KiB ahead. */
MULTIVERSION
static uint64_t sum_u64_2s(const uint64_t *restrict a, size_t n) {
    const size_t h = (n / 2) & ~(size_t)7;
    const uint64_t *b = a + h;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    for (size_t i = 0; i < h; i += 8) {
        __builtin_prefetch(a + i + 128);
        __builtin_prefetch(b + i + 128);
        s0 += a[i] + a[i + 4];
        s1 += a[i + 1] + a[i + 5];
        s2 += a[i + 2] + a[i + 6];
        s3 += a[i + 3] + a[i + 7];
        t0 += b[i] + b[i + 4];
        t1 += b[i + 1] + b[i + 5];
        t2 += b[i + 2] + b[i + 6];
        t3 += b[i + 3] + b[i + 7];
    }
    for (size_t i = 2 * h; i < n; i++) s0 += a[i];
    return s0 + s1 + s2 + s3 + t0 + t1 + t2 + t3;
}

typedef struct slice {
    uint64_t *a;
    size_t n;
    uint64_t sum;
    int init, streams;
} slice;

static void *work(void *arg) {
    slice *s = arg;
    if (s->init) {
        for (size_t i = 0; i < s->n; i++) s->a[i] = i * 0x9E3779B97F4A7C15ull;
    } else {
        s->sum = s->streams == 2 ? sum_u64_2s(s->a, s->n) : sum_u64(s->a, s->n);
    }
    return NULL;
}

/* One pass over the array on nt threads; returns seconds. */
static double pass(uint64_t *a, size_t n, int nt, int init, int streams, volatile uint64_t *sink) {
    pthread_t th[MAX_THREADS];
    slice sl[MAX_THREADS];
    const size_t per = (n / (size_t)nt) & ~(size_t)7;
    const double t0 = now_s();
    for (int t = 0; t < nt; t++) {
        sl[t] = (slice){a + (size_t)t * per, t == nt - 1 ? n - (size_t)t * per : per, 0, init, streams};
        if (nt == 1) work(&sl[t]);
        else if (pthread_create(&th[t], NULL, work, &sl[t])) { fprintf(stderr, "membw: pthread_create failed\n"); exit(1); }
    }
    if (nt > 1)
        for (int t = 0; t < nt; t++) pthread_join(th[t], NULL);
    const double sec = now_s() - t0;
    for (int t = 0; t < nt; t++) *sink += sl[t].sum;
    return sec;
}

int main(int argc, char **argv) {
    long mib = 1024, runs = 7;
    const char *fmt = "md", *tlist = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const int help = !strcmp(a, "-h") || !strcmp(a, "--help");
        if (help || !v) {
            fprintf(stderr, "usage: %s [-m MiB (1024)] [-t 1,N (default 1 and all online CPUs)] [-r runs (7)] [-o md|json]\n", argv[0]);
            return help ? 0 : 2;
        }
        if (!strcmp(a, "-m")) mib = atol(v);
        else if (!strcmp(a, "-t")) tlist = v;
        else if (!strcmp(a, "-r")) runs = atol(v);
        else if (!strcmp(a, "-o")) fmt = v;
        else { fprintf(stderr, "membw: unknown option '%s'\n", a); return 2; }
        i++;
    }
    if (mib < 16 || runs < 1 || (strcmp(fmt, "md") && strcmp(fmt, "json"))) { fprintf(stderr, "membw: bad arguments\n"); return 2; }

    int threads[64], n_thr = 0;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    if (ncpu > MAX_THREADS) ncpu = MAX_THREADS;
    if (tlist) {
        for (const char *p = tlist; *p && n_thr < 64;) {
            long t = strtol(p, (char **)&p, 10);
            if (t < 1 || t > MAX_THREADS) { fprintf(stderr, "membw: bad thread count in '%s'\n", tlist); return 2; }
            threads[n_thr++] = (int)t;
            if (*p == ',') p++;
            else if (*p) { fprintf(stderr, "membw: bad -t '%s'\n", tlist); return 2; }
        }
    } else {
        threads[n_thr++] = 1;
        if (ncpu > 1) threads[n_thr++] = (int)ncpu;
    }

    const size_t n = (size_t)mib * 1024 * 1024 / sizeof(uint64_t);
    uint64_t *a = NULL;
    /* 2 MiB aligned and, on Linux, transparent huge pages asked for: ZetaLm's packed weights are
     * allocated so, and on 4 KiB pages the walk's TLB misses cost a part of the rate */
    if (posix_memalign((void **)&a, (size_t)2 << 20, n * sizeof *a)) { fprintf(stderr, "membw: cannot allocate %ld MiB\n", mib); return 1; }
#ifdef MADV_HUGEPAGE
    madvise(a, n * sizeof *a, MADV_HUGEPAGE);
#endif
    volatile uint64_t sink = 0;
    int max_t = 1;
    for (int i = 0; i < n_thr; i++) if (threads[i] > max_t) max_t = threads[i];
    pass(a, n, max_t, 1, 1, &sink); /* first touch spread over the threads */

    double best[64][2]; /* [thread count][plain, 2 streams], the two interleaved run by run */
    for (int i = 0; i < n_thr; i++) {
        pass(a, n, threads[i], 0, 1, &sink); /* warm-up */
        best[i][0] = best[i][1] = 0;
        for (long r = 0; r < runs; r++)
            for (int m = 0; m < 2; m++) {
                double gbs = (double)n * sizeof *a / pass(a, n, threads[i], 0, m + 1, &sink) / 1e9;
                if (gbs > best[i][m]) best[i][m] = gbs;
            }
    }
#define BEST(i) (best[i][0] > best[i][1] ? best[i][0] : best[i][1])
    if (!strcmp(fmt, "json")) {
        printf("{\"array_mib\": %ld, \"runs\": %ld, \"online_cpus\": %ld, \"results\": [", mib, runs, ncpu);
        for (int i = 0; i < n_thr; i++)
            printf("%s{\"threads\": %d, \"read_gbps\": %.3f, \"plain_gbps\": %.3f, \"two_streams_gbps\": %.3f}", i ? ", " : "",
                   threads[i], BEST(i), best[i][0], best[i][1]);
        printf("]}\n");
    } else {
        printf("Streaming read of a %ld MiB array of 64-bit integers, best of %ld runs (1 GB = 1e9 bytes)\n\n", mib, runs);
        printf("| threads | read GB/s (best) | plain | 2 streams + prefetch |\n|---:|---:|---:|---:|\n");
        for (int i = 0; i < n_thr; i++) printf("| %d | %.2f | %.2f | %.2f |\n", threads[i], BEST(i), best[i][0], best[i][1]);
    }
    free(a);
    return 0;
}
