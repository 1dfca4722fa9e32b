/* util.c — error reporting and allocation helpers shared by every module. */
#include "util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <time.h>

zeta_status zeta_fail(zeta_error *err, zeta_status status, const char *fmt, ...) {
    if (err) {
        err->status = status;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return status;
}

zeta_status zeta_ok(zeta_error *err) {
    if (err) {
        err->status = ZETA_OK;
        err->message[0] = '\0';
    }
    return ZETA_OK;
}

void *zeta_malloc_array(size_t n, size_t size) {
    size_t total;
    if (!zeta_mul_size(n, size, &total) || total == 0) return NULL;
    return malloc(total);
}

void *zeta_calloc_array(size_t n, size_t size) {
    if (n == 0 || size == 0) return NULL;
    return calloc(n, size);
}

uint64_t zeta_physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    return pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : 0;
}

void *zeta_alloc_huge(size_t bytes) {
    const size_t huge = (size_t)2 << 20;
    if (bytes == 0 || bytes > SIZE_MAX - huge) return NULL;
    const size_t alloc = (bytes + huge - 1) & ~(huge - 1);
    void *p = aligned_alloc(huge, alloc);
#ifdef MADV_HUGEPAGE
    if (p) (void)madvise(p, alloc, MADV_HUGEPAGE); /* advice only: 4 KiB pages where refused */
#endif
    return p;
}

double zeta_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

typedef struct range_job {
    zeta_range_fn fn;
    void *ctx;
    size_t i0, i1;
    bool ok;
} range_job;

static void *range_run(void *arg) {
    range_job *j = arg;
    j->ok = j->fn(j->ctx, j->i0, j->i1);
    return NULL;
}

bool zeta_par_for(size_t n, int n_threads, zeta_range_fn fn, void *ctx) {
    enum { MAXT = 16 };
    size_t nt = n_threads < 1 ? 1 : n_threads > MAXT ? MAXT : (size_t)n_threads;
    if (nt > n) nt = n;
    if (nt < 1) return true; /* nothing to do */
    range_job jobs[MAXT];
    pthread_t th[MAXT];
    bool started[MAXT] = {false};
    for (size_t i = 0; i < nt; i++) {
        jobs[i] = (range_job){fn, ctx, n * i / nt, n * (i + 1) / nt, false};
        if (i > 0) started[i] = pthread_create(&th[i], NULL, range_run, &jobs[i]) == 0;
    }
    range_run(&jobs[0]);
    bool ok = true;
    for (size_t i = 0; i < nt; i++) {
        if (i > 0 && started[i]) pthread_join(th[i], NULL);
        if (!jobs[i].ok) range_run(&jobs[i]);
        ok = ok && jobs[i].ok;
    }
    return ok;
}

