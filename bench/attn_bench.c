/* attn_bench.c — decode attention alone, at a given depth: one token's attention over DEPTH cached
 * positions in every layer of a model shape (default TinyLlama-1.1B: 22 layers, 32 query heads, 4 KV
 * heads, head size 64), the KV cache filled with random rows of the chosen type. Prints the median
 * milliseconds per token (all layers) over the repetitions and the K/V bytes read per second.
 *
 *   build/attn_bench [-d DEPTH] [-t THREADS] [-r REPS] [-ctk TYPE] [-ctv TYPE] [-l LAYERS]
 *                    [-nh HEADS] [-nkv KV_HEADS] [-hd HEAD_DIM]
 *
 * Built by bench/build.sh (needs the library's internal headers). */
#include "cpu/cpu_kv.h"
#include "cpu/threadpool.h"
#include "quant.h"
#include "zeta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned g_seed = 7;
static float frand(void) {
    g_seed = g_seed * 1103515245u + 12345u;
    return (float)((g_seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static zeta_type parse_type(const char *s) {
    const zeta_type ts[4] = {ZETA_TYPE_F32, ZETA_TYPE_F16, ZETA_TYPE_Q8_0, ZETA_TYPE_Q4_0};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, zeta_type_name(ts[i]))) return ts[i];
    fprintf(stderr, "attn_bench: KV type '%s' is not one of f32, f16, q8_0, q4_0\n", s);
    exit(2);
}

int main(int argc, char **argv) {
    int depth = 16384, threads = 2, reps = 9;
    zeta_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.n_layer = 22, hp.n_head = 32, hp.n_head_kv = 4, hp.head_dim_k = 64, hp.head_dim_v = 64;
    zeta_type tk = ZETA_TYPE_Q8_0, tv = ZETA_TYPE_Q8_0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "attn_bench: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "-d")) depth = atoi(v);
        else if (!strcmp(a, "-t")) threads = atoi(v);
        else if (!strcmp(a, "-r")) reps = atoi(v);
        else if (!strcmp(a, "-ctk")) tk = parse_type(v);
        else if (!strcmp(a, "-ctv")) tv = parse_type(v);
        else if (!strcmp(a, "-l")) hp.n_layer = (uint32_t)atoi(v);
        else if (!strcmp(a, "-nh")) hp.n_head = (uint32_t)atoi(v);
        else if (!strcmp(a, "-nkv")) hp.n_head_kv = (uint32_t)atoi(v);
        else if (!strcmp(a, "-hd")) hp.head_dim_k = hp.head_dim_v = (uint32_t)atoi(v);
        else {
            fprintf(stderr, "attn_bench: unknown option %s\n", a);
            return 2;
        }
    }
    if (depth < 1 || threads < 1 || reps < 1 || hp.n_layer < 1) {
        fprintf(stderr, "attn_bench: depth, threads, reps and layers must be positive\n");
        return 2;
    }
    zeta_error err;
    cpu_kv kv;
    if (cpu_kv_init(&kv, &hp, (uint32_t)depth + 1, tk, tv, true, threads, &err) != ZETA_OK) {
        fprintf(stderr, "attn_bench: %s\n", err.message);
        return 1;
    }
    threadpool *pool = pool_new(threads);
    const size_t krow = (size_t)hp.n_head_kv * hp.head_dim_k, qrow = (size_t)hp.n_head * hp.head_dim_k;
    float *k = malloc(sizeof(float) * krow), *v = malloc(sizeof(float) * krow), *q = malloc(sizeof(float) * qrow);
    float *out = malloc(sizeof(float) * qrow);
    /* fill: CH random K/V positions quantized to the cache types, repeated over the depth */
    enum { CH = 256 };
    float *fk = malloc(sizeof(float) * krow * CH);
    uint8_t *bk = malloc(kv.k_pos * CH), *bv = malloc(kv.v_pos * CH);
    for (size_t i = 0; i < krow * CH; i++) fk[i] = frand();
    zeta_quantize_row_ref(tk, fk, bk, (int64_t)krow * CH);
    for (size_t i = 0; i < krow * CH; i++) fk[i] = frand();
    zeta_quantize_row_ref(tv, fk, bv, (int64_t)krow * CH);
    for (uint32_t il = 0; il < hp.n_layer; il++)
        for (int p0 = 0; p0 < depth; p0 += CH) {
            const int n = depth - p0 < CH ? depth - p0 : CH;
            cpu_kv_write(&kv, (int)il, 0, (uint32_t)p0, (uint32_t)n, bk);
            cpu_kv_write(&kv, (int)il, 1, (uint32_t)p0, (uint32_t)n, bv);
        }
    for (size_t i = 0; i < qrow; i++) q[i] = 2.0f * frand();
    for (size_t i = 0; i < krow; i++) k[i] = frand(), v[i] = frand();
    double *ms = malloc(sizeof(double) * (size_t)reps);
    for (int r = -1; r < reps; r++) { /* one warm-up */
        const double t0 = now_ms();
        for (uint32_t il = 0; il < hp.n_layer; il++) cpu_kv_attention(&kv, pool, (int)il, q, k, v, 1, (uint32_t)depth, out);
        if (r >= 0) ms[r] = now_ms() - t0;
    }
    qsort(ms, (size_t)reps, sizeof *ms, cmp_d);
    const double med = ms[reps / 2];
    const double bytes = (double)hp.n_layer * (depth + 1) * (double)(kv.k_pos + kv.v_pos);
    double cs = 0.0;
    for (size_t i = 0; i < qrow; i++) cs += out[i];
    printf("attn_bench: depth %d, %u layers, %u/%u heads, head %u, K %s V %s, %d threads: median %.3f ms/token "
           "(min %.3f, p10 %.3f, max %.3f, %d reps), %.0f ns per position and layer, K/V read %.2f GB/s (checksum %.6g)\n",
           depth, hp.n_layer, hp.n_head, hp.n_head_kv, hp.head_dim_k, zeta_type_name(tk), zeta_type_name(tv), threads, med, ms[0],
           ms[reps / 10], ms[reps - 1], reps, med * 1e6 / ((double)hp.n_layer * depth), bytes / (med * 1e6), cs);
    free(ms), free(fk), free(bk), free(bv), free(k), free(v), free(q), free(out);
    pool_free(pool);
    cpu_kv_free(&kv);
    return 0;
}
