/* test.h — the tiny test harness every tests/test_*.c uses. A test case is a function run with
 * T_RUN(fn); checks inside it record failures without stopping the case. Each case prints one
 * line: "ok - name", "FAIL - name" or "skip - name: reason"; tests/run.sh counts them. */
#ifndef ZETA_TEST_H
#define ZETA_TEST_H

#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int t_passed, t_failed, t_skipped;
static int t_case_failed, t_case_skipped;
static char t_skip_reason[256];

static void t_report(const char *file, int line, const char *expr, const char *fmt, ...) {
    t_case_failed = 1;
    printf("    %s:%d: check failed: %s", file, line, expr);
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        printf(" -- ");
        vprintf(fmt, ap);
        va_end(ap);
    }
    printf("\n");
    fflush(stdout);
}

#define T_CHECK(cond) do { if (!(cond)) t_report(__FILE__, __LINE__, #cond, ""); } while (0)
#define T_CHECKF(cond, ...) do { if (!(cond)) t_report(__FILE__, __LINE__, #cond, __VA_ARGS__); } while (0)
#define T_SKIP(...) do { t_case_skipped = 1; snprintf(t_skip_reason, sizeof t_skip_reason, __VA_ARGS__); return; } while (0)

static void t_run(const char *name, void (*fn)(void)) {
    t_case_failed = 0;
    t_case_skipped = 0;
    fn();
    if (t_case_failed) { t_failed++; printf("FAIL - %s\n", name); }
    else if (t_case_skipped) { t_skipped++; printf("skip - %s: %s\n", name, t_skip_reason); }
    else { t_passed++; printf("ok - %s\n", name); }
    fflush(stdout);
}
#define T_RUN(fn) t_run(#fn, fn)

static int t_done(void) {
    printf("# %d passed, %d failed, %d skipped\n", t_passed, t_failed, t_skipped);
    return t_failed ? 1 : 0;
}

/* Reads a whole file; NULL if it cannot. Caller frees. */
__attribute__((unused)) static char *t_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf) { fclose(f); return NULL; }
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[got] = 0;
    if (len) *len = got;
    return buf;
}

#endif
