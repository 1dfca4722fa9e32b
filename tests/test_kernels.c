/* test_kernels.c — tests of the scalar reference conversions (quant.c) and of every CPU kernel
 * table this machine can run against the scalar table (the spec): f16/bf16 rounding, ggml
 * byte-exact quantization of real tensors, NaN-poisoned outputs, errors relative to sum |w*x|,
 * and byte-identical Q8_0 activation quantization across ISAs. */
#include "test.h"
#include "cpu/kernels.h"
#include "gguf.h"
#include "quant.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>

#if defined(ZETA_HAVE_X86) && defined(__GNUC__)
#include <immintrin.h>
/* The hardware conversions (F16C), to compare our software ones with, bit for bit. */
__attribute__((target("f16c"))) static uint16_t hw_f32_to_f16(float f) { return (uint16_t)_cvtss_sh(f, 0); }
__attribute__((target("f16c"))) static float hw_f16_to_f32(uint16_t h) { return _cvtsh_ss(h); }
#define HAVE_HW_F16 1
#endif

/* ---- helpers --------------------------------------------------------------------------------- */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd_u32(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float rnd_unit(void) { return (float)(rnd_u32() & 0xffffff) / 16777216.0f * 2.0f - 1.0f; } /* [-1, 1) */

static float f32_nan(void) { return zeta_bits_to_f32(0x7fc00000u); }

/* Random activations with edge cases by 32-block: zeros, an all-equal block, huge, tiny,
 * denormal, mixed magnitudes, values giving exact .5 ties after scaling. */
static void fill_edge_floats(float *x, int64_t n, float scale) {
    for (int64_t b = 0; b < n / 32; b++) {
        float *xb = x + b * 32;
        switch (b % 9) {
        case 0: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * scale; break;
        case 1: for (int j = 0; j < 32; j++) xb[j] = 0.0f; break;
        case 2: for (int j = 0; j < 32; j++) xb[j] = 0.75f * scale; break;
        case 3: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * 3e4f; break;
        case 4: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * 1e-30f; break;
        case 5: for (int j = 0; j < 32; j++) xb[j] = (j & 1 ? -1.0f : 1.0f) * (float)j * 1e-39f; break; /* denormal */
        case 6: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * (j == 5 ? 100.0f : 0.01f) * scale; break;
        case 7: for (int j = 0; j < 32; j++) xb[j] = (j == 0) ? 127.0f : (float)(j % 16) - 7.5f; break; /* ties */
        default: for (int j = 0; j < 32; j++) xb[j] = -fabsf(rnd_unit()) * scale; break;
        }
    }
    for (int64_t i = n / 32 * 32; i < n; i++) x[i] = rnd_unit() * scale;
}

typedef struct table { const char *name; const zk_kernels *raw; bool ok; } table;

/* The SIMD tables this CPU can run (raw, before completion), and why others are skipped. Tables
 * of another architecture are not compiled in and are left out. */
#define MAX_TABLES 6
static int simd_tables(table *t) {
    int n = 0;
    if (zk_avx2()) t[n++] = (table){"avx2", zk_avx2(), zk_cpu_has_avx2()};
    if (zk_avxvnni()) t[n++] = (table){"avxvnni", zk_avxvnni(), zk_cpu_has_avxvnni()};
    if (zk_avx512()) t[n++] = (table){"avx512", zk_avx512(), zk_cpu_has_avx512()};
    if (zk_avx512vnni()) t[n++] = (table){"avx512vnni", zk_avx512vnni(), zk_cpu_has_avx512vnni()};
    if (zk_neon()) t[n++] = (table){"neon", zk_neon(), zk_cpu_has_neon()};
    if (zk_neondot()) t[n++] = (table){"neondot", zk_neondot(), zk_cpu_has_neondot()};
    return n;
}

static const int64_t k_lengths[] = {32, 64, 256, 4096 + 32, 11008};
#define N_LENGTHS (int)(sizeof k_lengths / sizeof k_lengths[0])

/* ---- f16 / bf16 ------------------------------------------------------------------------------ */

static void test_f16_exhaustive(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = zeta_f16_to_f32((zeta_f16)h);
        const bool is_nan = ((h & 0x7c00) == 0x7c00) && (h & 0x3ff);
        if (is_nan) {
            if (f == f) bad++;
            if (zeta_f32_to_f16(f) != (h | 0x200)) bad++; /* quieted, payload kept */
        } else if (zeta_f32_to_f16(f) != h) {
            bad++;
        }
#ifdef HAVE_HW_F16
        if (zk_cpu_has_avx2() && zeta_f32_to_bits(f) != zeta_f32_to_bits(hw_f16_to_f32((uint16_t)h))) bad++;
#endif
    }
    T_CHECKF(bad == 0, "%d f16 values did not round-trip", bad);
    /* the scalar F16 dot's own (inlined) conversion agrees: w * 1.0 for every f16 w */
    const float one = 1.0f;
    bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const zeta_f16 w = (zeta_f16)h;
        float s = 0.0f;
        zk_scalar()->vec_dot[ZETA_TYPE_F16](1, &s, &w, &one);
        const float f = zeta_f16_to_f32(w);
        bad += (f == f) ? zeta_f32_to_bits(s) != zeta_f32_to_bits(f + 0.0f) : s == s;
    }
    T_CHECKF(bad == 0, "%d f16 values converted differently by the scalar F16 dot", bad);
    T_CHECK(zeta_f16_to_f32(0x3c00) == 1.0f);
    T_CHECK(zeta_f16_to_f32(0x0001) == 0x1p-24f);
    T_CHECK(zeta_f16_to_f32(0x7bff) == 65504.0f);
    T_CHECK(zeta_f32_to_bits(zeta_f16_to_f32(0x8000)) == 0x80000000u);
}

/* Every SIMD F16 dot converts every non-NaN f16 exactly (w = {h, 0, ...}, x = {1, 0, ...}, long
 * enough for the vector loop). */
static void test_f16_simd_conversion(void) {
    table t[MAX_TABLES];
    int nt = simd_tables(t), ran = 0;
    zeta_f16 w[16] = {0};
    float x[16] = {1.0f};
    for (int k = 0; k < nt; k++) {
        if (!t[k].ok || !t[k].raw->vec_dot[ZETA_TYPE_F16]) continue;
        ran++;
        int bad = 0;
        for (uint32_t h = 0; h < 65536; h++) {
            const float f = zeta_f16_to_f32((zeta_f16)h);
            if (f != f) continue;
            w[0] = (zeta_f16)h;
            float s = f32_nan();
            t[k].raw->vec_dot[ZETA_TYPE_F16](16, &s, w, x);
            bad += zeta_f32_to_bits(s) != zeta_f32_to_bits(f + 0.0f);
        }
        T_CHECKF(bad == 0, "%s: %d f16 values converted differently", t[k].name, bad);
    }
    if (!ran) T_SKIP("no SIMD table supported by this CPU");
}

static void test_f32_to_f16_rounding(void) {
    static const struct { float f; uint16_t h; } cases[] = {
        {1.0f, 0x3c00}, {-2.0f, 0xc000}, {0.0f, 0x0000}, {-0.0f, 0x8000},
        {1.0f + 0x1p-11f, 0x3c00},            /* halfway, even below */
        {1.0f + 3 * 0x1p-11f, 0x3c02},        /* halfway, even above */
        {1.0f + 0x1p-11f + 0x1p-20f, 0x3c01}, /* just above halfway */
        {65504.0f, 0x7bff}, {65519.99f, 0x7bff}, {65520.0f, 0x7c00}, {1e10f, 0x7c00}, {-1e10f, 0xfc00},
        {INFINITY, 0x7c00}, {-INFINITY, 0xfc00},
        {0x1p-24f, 0x0001}, {0x1p-25f, 0x0000}, {0x1p-25f * 1.0000001f, 0x0001}, {-0x1p-25f, 0x8000},
        {3 * 0x1p-25f, 0x0002},               /* 1.5 units -> 2 (even) */
        {5 * 0x1p-25f, 0x0002},               /* 2.5 units -> 2 (even) */
        {0x1p-14f, 0x0400}, {0x1p-14f - 0x1p-25f, 0x0400}, /* top subnormal rounds up into normal */
        {1023.5f * 0x1p-24f, 0x0400}, {1022.5f * 0x1p-24f, 0x03fe},
        {1e-30f, 0x0000}, {1e-45f, 0x0000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const uint16_t h = zeta_f32_to_f16(cases[i].f);
        T_CHECKF(h == cases[i].h, "f32 %a -> f16 0x%04x, expected 0x%04x", (double)cases[i].f, h, cases[i].h);
    }
    T_CHECK(zeta_f32_to_f16(f32_nan()) == 0x7e00);
    T_CHECK(zeta_f32_to_f16(zeta_bits_to_f32(0xff800001u)) == 0xfe00);
#ifdef HAVE_HW_F16
    if (!zk_cpu_has_avx2()) return;
    int bad = 0;
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = rnd_u32() ^ (rnd_u32() << 16);
        if (i & 1) u = (u & 0x87ffffffu) | 0x30000000u; /* bias towards the f16 range */
        const float f = zeta_bits_to_f32(u);
        if (zeta_f32_to_f16(f) != hw_f32_to_f16(f) && bad++ < 5)
            printf("    f32 0x%08x: ours 0x%04x, F16C 0x%04x\n", u, zeta_f32_to_f16(f), hw_f32_to_f16(f));
    }
    T_CHECKF(bad == 0, "%d of 2e6 random f32 differ from F16C", bad);
#endif
}

static void test_bf16_rounding(void) {
    static const struct { uint32_t f; uint16_t h; } cases[] = {
        {0x3f800000u, 0x3f80}, {0x3f808000u, 0x3f80}, /* halfway, even below */
        {0x3f818000u, 0x3f82},                        /* halfway, even above */
        {0x3f808001u, 0x3f81}, {0x3f807fffu, 0x3f80},
        {0x7f7fffffu, 0x7f80},                        /* FLT_MAX rounds to inf */
        {0x7f800000u, 0x7f80}, {0xff800000u, 0xff80},
        {0x7f800001u, 0x7fc0}, {0xff800001u, 0xffc0}, {0x7fc00000u, 0x7fc0}, {0x7f810000u, 0x7fc1}, /* NaN quiet */
        {0x00008000u, 0x0000}, {0x00018000u, 0x0002}, {0x00008001u, 0x0001}, /* subnormals rounded */
        {0x80000000u, 0x8000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const uint16_t h = zeta_f32_to_bf16(zeta_bits_to_f32(cases[i].f));
        T_CHECKF(h == cases[i].h, "f32 0x%08x -> bf16 0x%04x, expected 0x%04x", cases[i].f, h, cases[i].h);
    }
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7f80) == 0x7f80 && (h & 0x7f)) continue; /* NaN */
        if (zeta_f32_to_bf16(zeta_bf16_to_f32((zeta_bf16)h)) != h) { T_CHECKF(0, "bf16 0x%04x", h); break; }
    }
}

/* ---- reference quantizers -------------------------------------------------------------------- */

static void test_quantize_ref_small(void) {
    float x[64], y[64];
    for (int j = 0; j < 32; j++) x[j] = (float)j - 16.0f;  /* max |v| = 16 at v = -16: d = 2 */
    for (int j = 32; j < 64; j++) x[j] = 0.0f;
    block_q4_0 q4[2];
    quantize_row_q4_0_ref(x, q4, 64);
    T_CHECK(q4[0].d == zeta_f32_to_f16(2.0f));
    T_CHECK((q4[0].qs[0] & 0xf) == 0);        /* -16 / 2 + 8 = 0 */
    T_CHECK((q4[0].qs[15] >> 4) == 15);       /* 15 / 2 + 8.5 = 16 -> capped at 15 */
    T_CHECK(q4[1].d == 0x8000 && q4[1].qs[3] == 0x88); /* 0 / -8 = -0, as in ggml */
    dequantize_row_q4_0(q4, y, 64);
    T_CHECK(y[0] == -16.0f && y[31] == 14.0f && y[40] == 0.0f);

    block_q8_0 q8[2];
    quantize_row_q8_0_ref(x, q8, 64);
    T_CHECK(q8[0].d == zeta_f32_to_f16(16.0f / 127.0f));
    T_CHECK(q8[0].qs[0] == -127 && q8[0].qs[16] == 0 && q8[1].d == 0 && q8[1].qs[7] == 0);
    dequantize_row_q8_0(q8, y, 64);
    const float d = zeta_f16_to_f32(q8[0].d);
    int bad = 0;
    for (int j = 0; j < 32; j++) bad += fabsf(y[j] - x[j]) > d * 0.5f + 1e-6f;
    T_CHECK(bad == 0);
    /* the ref uses roundf (half away from zero): amax 127 -> id = 1, 2.5 -> 3, -2.5 -> -3 */
    for (int j = 0; j < 32; j++) x[j] = j == 0 ? 127.0f : (j == 1 ? 2.5f : -2.5f);
    quantize_row_q8_0_ref(x, q8, 32);
    T_CHECK(q8[0].qs[1] == 3 && q8[0].qs[2] == -3);

    /* blocks so small that 1/d overflows: ggml (x86) writes d = 0 and all codes 0 */
    for (int j = 0; j < 32; j++) x[j] = (j & 1 ? -1.0f : 1.0f) * (float)j * 1e-40f;
    quantize_row_q4_0_ref(x, q4, 32);
    quantize_row_q8_0_ref(x, q8, 32);
    bad = (q4[0].d & 0x7fff) != 0 || q8[0].d != 0;
    for (int j = 0; j < 16; j++) bad += q4[0].qs[j] != 0;
    for (int j = 0; j < 32; j++) bad += q8[0].qs[j] != 0;
    T_CHECKF(bad == 0, "tiny block: %d differences", bad);

    /* dispatch */
    uint16_t h[4] = {0x3c00, 0xc000, 0x3f80, 0xbf80};
    zeta_dequantize_row(ZETA_TYPE_F16, h, y, 2);
    T_CHECK(y[0] == 1.0f && y[1] == -2.0f);
    zeta_dequantize_row(ZETA_TYPE_BF16, h + 2, y, 2);
    T_CHECK(y[0] == 1.0f && y[1] == -1.0f);
    zeta_dequantize_row(ZETA_TYPE_Q8_0, q8, y, 32);
    T_CHECK(y[0] == 127.0f * zeta_f16_to_f32(q8[0].d));
}

/* Opens <name> from tests/data/models, or ../shared/goldens/models or ../shared/models; NULL if absent. */
static gguf_file *open_model(const char *name) {
    static const char *dirs[] = {"tests/data/models", "../shared/goldens/models", "../shared/models"};
    for (int i = 0; i < 3; i++) {
        char path[256];
        gguf_file *g = NULL;
        snprintf(path, sizeof path, "%s/%s", dirs[i], name);
        if (gguf_open(path, true, &g, NULL) == ZETA_OK) return g;
    }
    return NULL;
}

/* Quantizes every tensor that llama-quantize made `qtype` in `qfile` from its F32 original in `src`
 * and compares the bytes. */
static bool check_quantized(const char *src, const char *qfile, zeta_type qtype, int min_tensors) {
    gguf_file *gf = open_model(src), *gq = open_model(qfile);
    if (!gf || !gq) {
        gguf_close(gf);
        gguf_close(gq);
        printf("    %s / %s not found\n", src, qfile);
        return false;
    }
    int n_checked = 0;
    for (uint64_t t = 0; t < gq->n_tensors; t++) {
        const gguf_tensor *q = &gq->tensors[t];
        if (q->type != (uint32_t)qtype) continue;
        const gguf_tensor *f = gguf_find_tensor(gf, q->name);
        T_CHECKF(f && f->type == ZETA_TYPE_F32 && f->n_elements == q->n_elements, "%s: no F32 original", q->name);
        if (!f || f->type != ZETA_TYPE_F32 || f->n_elements != q->n_elements) continue;
        const size_t nbytes = (size_t)q->n_bytes;
        uint8_t *mine = malloc(nbytes);
        float *floats = malloc(f->n_elements * sizeof(float)); /* the mapping may be unaligned for float */
        memcpy(floats, f->data, f->n_elements * sizeof(float));
        if (qtype == ZETA_TYPE_Q4_0) quantize_row_q4_0_ref(floats, (block_q4_0 *)mine, (int64_t)f->n_elements);
        else quantize_row_q8_0_ref(floats, (block_q8_0 *)mine, (int64_t)f->n_elements);
        size_t first = nbytes;
        for (size_t b = 0; b < nbytes; b++) if (mine[b] != ((const uint8_t *)q->data)[b]) { first = b; break; }
        T_CHECKF(first == nbytes, "%s %s: first differing byte %zu of %zu", qfile, q->name, first, nbytes);
        n_checked += first == nbytes;
        free(mine);
        free(floats);
    }
    printf("    %s: %d tensors byte-identical to ggml's\n", qfile, n_checked);
    T_CHECKF(n_checked >= min_tensors, "only %d %s tensors checked", n_checked, zeta_type_name(qtype));
    gguf_close(gf);
    gguf_close(gq);
    return true;
}
static void test_quantize_q4_0_matches_ggml(void) {
    check_quantized("stories260K.gguf", "stories260K-Q4_0.gguf", ZETA_TYPE_Q4_0, 1); /* optional extra */
    if (!check_quantized("zoo-F32.gguf", "zoo-Q4_0.gguf", ZETA_TYPE_Q4_0, 16)) T_SKIP("zoo model files not found");
}
static void test_quantize_q8_0_matches_ggml(void) {
    check_quantized("stories260K.gguf", "stories260K-Q8_0.gguf", ZETA_TYPE_Q8_0, 1); /* optional extra */
    if (!check_quantized("zoo-F32.gguf", "zoo-Q8_0.gguf", ZETA_TYPE_Q8_0, 16)) T_SKIP("zoo model files not found");
}

/* ---- kernel tables --------------------------------------------------------------------------- */

static void test_tables(void) {
    const zk_kernels *s = zk_scalar();
    static const zeta_type types[] = {ZETA_TYPE_F32, ZETA_TYPE_F16, ZETA_TYPE_BF16, ZETA_TYPE_Q8_0, ZETA_TYPE_Q4_0};
    for (int i = 0; i < 5; i++) {
        T_CHECKF(s->vec_dot[types[i]] != NULL, "scalar vec_dot[%d]", types[i]);
        T_CHECK(s->from_float[zk_vec_dot_type(types[i])] != NULL);
    }
    T_CHECK(zk_vec_dot_type(ZETA_TYPE_F16) == ZETA_TYPE_F32 && zk_vec_dot_type(ZETA_TYPE_Q4_0) == ZETA_TYPE_Q8_0);
    const zk_kernels *sel = zk_select();
    T_CHECK(sel == zk_select());
    /* the last table overlaid: scalar < avx2 < avxvnni < avx512 < avx512vnni, scalar < neon < neondot */
    const char *want = zk_cpu_has_avx512vnni() && zk_avx512vnni() ? "avx512vnni" : zk_cpu_has_avx512() && zk_avx512() ? "avx512"
                     : zk_cpu_has_avxvnni() && zk_avxvnni() ? "avxvnni" : zk_cpu_has_avx2() && zk_avx2() ? "avx2"
                     : zk_cpu_has_neondot() && zk_neondot() ? "neondot" : zk_cpu_has_neon() && zk_neon() ? "neon"
                     : "scalar";
    T_CHECKF(strcmp(sel->name, want) == 0, "selected %s, expected %s", sel->name, want);
    for (int i = 0; i < ZETA_TYPE_COUNT; i++) {
        T_CHECK(!s->vec_dot[i] || sel->vec_dot[i]);
        T_CHECK(!s->from_float[i] || sel->from_float[i]);
    }
    zk_kernels c;
    zk_complete(zk_avx2(), &c);
    for (int i = 0; i < ZETA_TYPE_COUNT; i++) T_CHECK(!s->vec_dot[i] || c.vec_dot[i]);
    if (zk_neondot() && zk_cpu_has_neondot()) /* neondot fills only the integer dots; neon lies under it */
        T_CHECK(sel->vec_dot[ZETA_TYPE_F16] == zk_neon()->vec_dot[ZETA_TYPE_F16] &&
                sel->vec_dot[ZETA_TYPE_Q4_0] == zk_neondot()->vec_dot[ZETA_TYPE_Q4_0]);
    if (zk_avx512vnni() && zk_cpu_has_avx512vnni()) /* likewise avx512vnni over avx512 */
        T_CHECK(sel->vec_dot[ZETA_TYPE_F16] == zk_avx512()->vec_dot[ZETA_TYPE_F16] &&
                sel->vec_dot[ZETA_TYPE_Q4_0] == zk_avx512vnni()->vec_dot[ZETA_TYPE_Q4_0]);
    else if (zk_avxvnni() && zk_cpu_has_avxvnni() && !zk_cpu_has_avx512()) /* and avxvnni over avx2 */
        T_CHECK(sel->vec_dot[ZETA_TYPE_F16] == zk_avx2()->vec_dot[ZETA_TYPE_F16] &&
                sel->vec_dot[ZETA_TYPE_Q4_0] == zk_avxvnni()->vec_dot[ZETA_TYPE_Q4_0]);
    printf("    cpu: avx2 %s, avxvnni %s, avx512 %s, avx512vnni %s, neon %s, neondot %s; selected table: %s\n",
           zk_cpu_has_avx2() ? "yes" : "no", zk_cpu_has_avxvnni() ? "yes" : "no", zk_cpu_has_avx512() ? "yes" : "no",
           zk_cpu_has_avx512vnni() ? "yes" : "no", zk_cpu_has_neon() ? "yes" : "no", zk_cpu_has_neondot() ? "yes" : "no",
           sel->name);
}

static void *select_thread(void *arg) { *(const zk_kernels **)arg = zk_select(); return NULL; }
static void test_select_threads(void) {
    pthread_t th[8];
    const zk_kernels *got[8];
    for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, select_thread, &got[i]);
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 8; i++) T_CHECK(got[i] == zk_select());
}

static void test_scalar_q8_activation_quantizer(void) {
    /* the activation quantizer rounds half to even (AVX2 semantics), unlike the weight ref */
    float x[64];
    for (int j = 0; j < 32; j++) x[j] = j == 0 ? 127.0f : (float)(j % 8) - 3.5f; /* ties: id = 1 */
    for (int j = 32; j < 64; j++) x[j] = 0.0f;
    block_q8_0 q[2];
    memset(q, 0x55, sizeof q);
    zk_scalar()->from_float[ZETA_TYPE_Q8_0](x, q, 64);
    static const int8_t want[8] = {-4, -2, -2, 0, 0, 2, 2, 4}; /* -3.5 -2.5 -1.5 -0.5 0.5 1.5 2.5 3.5 */
    int bad = 0;
    for (int j = 1; j < 32; j++) bad += q[0].qs[j] != want[j % 8];
    T_CHECKF(bad == 0, "%d ties not rounded to even", bad);
    T_CHECK(q[0].d == zeta_f32_to_f16(1.0f) && q[0].qs[0] == 127);
    T_CHECK(q[1].d == 0 && q[1].qs[0] == 0 && q[1].qs[31] == 0);
}

/* Every ISA's Q8_0 activation quantizer gives the scalar bytes, on edge data (incl. inf). */
static void test_from_float_q8_0_identical(void) {
    table t[MAX_TABLES];
    int nt = simd_tables(t), ran = 0;
    const int64_t n = 11008;
    float *x = malloc(n * sizeof(float));
    block_q8_0 *ref = malloc(n / 32 * sizeof(block_q8_0)), *got = malloc(n / 32 * sizeof(block_q8_0));
    for (int k = 0; k < nt; k++) {
        if (!t[k].ok) { printf("    skip %s: %s\n", t[k].name, t[k].raw ? "not supported by this CPU" : "not compiled in"); continue; }
        if (!t[k].raw->from_float[ZETA_TYPE_Q8_0]) continue; /* slot filled by a lower table */
        ran++;
        for (int rep = 0; rep < 4; rep++) {
            fill_edge_floats(x, n, rep == 0 ? 1.0f : rep == 1 ? 1e-3f : rep == 2 ? 1e3f : 7.0f);
            if (rep == 3) { for (int j = 64; j < 96; j++) x[j] = (j == 70) ? -INFINITY : (j == 71 ? INFINITY : 1.0f); }
            memset(ref, 0x5a, n / 32 * sizeof(block_q8_0));
            memset(got, 0xa5, n / 32 * sizeof(block_q8_0));
            zk_scalar()->from_float[ZETA_TYPE_Q8_0](x, ref, n);
            t[k].raw->from_float[ZETA_TYPE_Q8_0](x, got, n);
            const bool same = memcmp(ref, got, n / 32 * sizeof(block_q8_0)) == 0;
            T_CHECKF(same, "%s from_float q8_0 differs from scalar (rep %d)", t[k].name, rep);
            if (!same) {
                for (int64_t b = 0; b < n / 32; b++) if (memcmp(&ref[b], &got[b], sizeof ref[b])) { printf("    first block %lld\n", (long long)b); break; }
            }
        }
    }
    free(x); free(ref); free(got);
    if (!ran) T_SKIP("no SIMD table supported by this CPU");
}

/* Weights of `type` for n elements, with edge values. */
static void *make_weights(zeta_type type, int64_t n) {
    const size_t bytes = (size_t)zeta_row_bytes(type, n);
    uint8_t *w = malloc(bytes);
    float *f = malloc(n * sizeof(float));
    fill_edge_floats(f, n, 2.0f);
    switch (type) {
    case ZETA_TYPE_F32: memcpy(w, f, bytes); break;
    case ZETA_TYPE_F16: for (int64_t i = 0; i < n; i++) ((uint16_t *)w)[i] = zeta_f32_to_f16(f[i]); break;
    case ZETA_TYPE_BF16: for (int64_t i = 0; i < n; i++) ((uint16_t *)w)[i] = zeta_f32_to_bf16(f[i]); break;
    case ZETA_TYPE_Q8_0: {
        block_q8_0 *b = (block_q8_0 *)w;
        for (int64_t i = 0; i < n / 32; i++) {
            b[i].d = zeta_f32_to_f16(i % 5 == 0 ? 1000.0f : i % 7 == 0 ? 3e-7f : 0.01f + (float)(i % 13) * 0.003f);
            for (int j = 0; j < 32; j++) b[i].qs[j] = (int8_t)(i % 3 == 0 ? (j & 1 ? 127 : -127) : (int)(rnd_u32() % 255) - 127);
        }
        break;
    }
    case ZETA_TYPE_Q4_0: {
        block_q4_0 *b = (block_q4_0 *)w;
        for (int64_t i = 0; i < n / 32; i++) {
            b[i].d = zeta_f32_to_f16(i % 5 == 0 ? -1000.0f : i % 7 == 0 ? 3e-7f : 0.01f + (float)(i % 13) * 0.003f);
            for (int j = 0; j < 16; j++) b[i].qs[j] = (uint8_t)(i % 3 == 0 ? (j & 1 ? 0x00 : 0xff) : rnd_u32());
        }
        break;
    }
    default: break;
    }
    free(f);
    return w;
}

/* sum |w_i * x_i| in double, from the exact f32 values of both operands. */
static double abs_dot(zeta_type wt, const void *w, zeta_type xt, const void *x, int64_t n) {
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    zeta_dequantize_row(wt, w, a, n);
    zeta_dequantize_row(xt, x, b, n);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += fabs((double)a[i] * (double)b[i]);
    free(a); free(b);
    return s;
}

static void check_vec_dot(zeta_type wt, double tol) {
    table t[MAX_TABLES];
    int nt = simd_tables(t), ran = 0;
    static const int64_t odd_lengths[] = {1, 7, 15, 33, 100};
    const zeta_type xt = zk_vec_dot_type(wt);
    for (int k = 0; k < nt; k++) {
        if (!t[k].ok) { printf("    skip %s: %s\n", t[k].name, t[k].raw ? "not supported by this CPU" : "not compiled in"); continue; }
        if (!t[k].raw->vec_dot[wt]) continue;
        ran++;
        double worst = 0;
        for (int li = 0; li < N_LENGTHS + 5; li++) {
            const int64_t n = li < N_LENGTHS ? k_lengths[li] : odd_lengths[li - N_LENGTHS];
            if (n % zeta_type_get(wt)->block_size) continue;
            void *w = make_weights(wt, n);
            float *xf = malloc(n * sizeof(float));
            fill_edge_floats(xf, n, 1.5f);
            void *x = malloc((size_t)zeta_row_bytes(xt, n));
            zk_scalar()->from_float[xt](xf, x, n);
            float ref = f32_nan(), got = f32_nan();
            zk_scalar()->vec_dot[wt](n, &ref, w, x);
            t[k].raw->vec_dot[wt](n, &got, w, x);
            const double scale = abs_dot(wt, w, xt, x, n);
            const double err = fabs((double)got - (double)ref) / (scale > 0 ? scale : 1);
            T_CHECKF(ref == ref && got == got, "%s %s n=%lld: NaN output (ref %g got %g)", t[k].name,
                     zeta_type_name(wt), (long long)n, (double)ref, (double)got);
            T_CHECKF(err <= tol, "%s %s n=%lld: ref %.9g got %.9g, rel err %.3g > %.1g", t[k].name,
                     zeta_type_name(wt), (long long)n, (double)ref, (double)got, err, tol);
            if (err > worst) worst = err;
            free(w); free(xf); free(x);
        }
        printf("    %s %s: worst error %.2g of sum|w*x|\n", t[k].name, zeta_type_name(wt), worst);
    }
    if (!ran) T_SKIP("no SIMD table supported by this CPU");
}
static void test_vec_dot_f32(void) { check_vec_dot(ZETA_TYPE_F32, 1e-5); }
static void test_vec_dot_f16(void) { check_vec_dot(ZETA_TYPE_F16, 1e-5); }
static void test_vec_dot_bf16(void) { check_vec_dot(ZETA_TYPE_BF16, 1e-5); }
static void test_vec_dot_q8_0(void) { check_vec_dot(ZETA_TYPE_Q8_0, 1e-6); }
static void test_vec_dot_q4_0(void) { check_vec_dot(ZETA_TYPE_Q4_0, 1e-6); }

/* With every scale 1.0 the block dots are small integers summed exactly in f32: every ISA must give
 * exactly the scalar (and the true) value. */
static void test_int_dots_exact(void) {
    table t[MAX_TABLES];
    int nt = simd_tables(t), ran = 0;
    const int64_t n = 4096 + 32, nb = n / 32;
    block_q8_0 *w8 = malloc(nb * sizeof *w8), *x8 = malloc(nb * sizeof *x8);
    block_q4_0 *w4 = malloc(nb * sizeof *w4);
    int64_t exact8 = 0, exact4 = 0;
    for (int64_t i = 0; i < nb; i++) {
        w8[i].d = x8[i].d = w4[i].d = 0x3c00;
        for (int j = 0; j < 32; j++) {
            w8[i].qs[j] = (int8_t)((int)(rnd_u32() % 255) - 127);
            x8[i].qs[j] = (int8_t)((int)(rnd_u32() % 255) - 127);
        }
        for (int j = 0; j < 16; j++) w4[i].qs[j] = (uint8_t)rnd_u32();
        for (int j = 0; j < 32; j++) {
            exact8 += w8[i].qs[j] * x8[i].qs[j];
            const int q = j < 16 ? (w4[i].qs[j] & 15) : (w4[i].qs[j - 16] >> 4);
            exact4 += (q - 8) * x8[i].qs[j];
        }
    }
    float r8 = f32_nan(), r4 = f32_nan();
    zk_scalar()->vec_dot[ZETA_TYPE_Q8_0](n, &r8, w8, x8);
    zk_scalar()->vec_dot[ZETA_TYPE_Q4_0](n, &r4, w4, x8);
    T_CHECKF(r8 == (float)exact8 && r4 == (float)exact4, "scalar %g %g vs %lld %lld", (double)r8, (double)r4,
             (long long)exact8, (long long)exact4);
    for (int k = 0; k < nt; k++) {
        if (!t[k].ok || !t[k].raw->vec_dot[ZETA_TYPE_Q8_0] || !t[k].raw->vec_dot[ZETA_TYPE_Q4_0]) continue;
        ran++;
        for (int64_t m = 1; m <= nb; m += (m < 8 ? 1 : 37)) { /* odd block counts exercise the tails */
            float g8 = f32_nan(), g4 = f32_nan(), s8 = f32_nan(), s4 = f32_nan();
            t[k].raw->vec_dot[ZETA_TYPE_Q8_0](m * 32, &g8, w8, x8);
            t[k].raw->vec_dot[ZETA_TYPE_Q4_0](m * 32, &g4, w4, x8);
            zk_scalar()->vec_dot[ZETA_TYPE_Q8_0](m * 32, &s8, w8, x8);
            zk_scalar()->vec_dot[ZETA_TYPE_Q4_0](m * 32, &s4, w4, x8);
            T_CHECKF(g8 == s8 && g4 == s4, "%s %lld blocks: q8 %g vs %g, q4 %g vs %g", t[k].name, (long long)m,
                     (double)g8, (double)s8, (double)g4, (double)s4);
        }
    }
    free(w8); free(x8); free(w4);
    if (!ran) T_SKIP("no SIMD table supported by this CPU");
}

static void test_avx512_available(void) {
    if (!zk_avx512()) T_SKIP("AVX-512 table not compiled in (not x86-64)");
    if (!zk_cpu_has_avx512()) T_SKIP("this CPU has no AVX-512 (F/BW/VL/DQ + OS ZMM state); its kernels are untested here");
}

int main(void) {
    T_RUN(test_f16_exhaustive);
    T_RUN(test_f16_simd_conversion);
    T_RUN(test_f32_to_f16_rounding);
    T_RUN(test_bf16_rounding);
    T_RUN(test_quantize_ref_small);
    T_RUN(test_quantize_q4_0_matches_ggml);
    T_RUN(test_quantize_q8_0_matches_ggml);
    T_RUN(test_tables);
    T_RUN(test_select_threads);
    T_RUN(test_scalar_q8_activation_quantizer);
    T_RUN(test_avx512_available);
    T_RUN(test_from_float_q8_0_identical);
    T_RUN(test_vec_dot_f32);
    T_RUN(test_vec_dot_f16);
    T_RUN(test_vec_dot_bf16);
    T_RUN(test_vec_dot_q8_0);
    T_RUN(test_vec_dot_q4_0);
    T_RUN(test_int_dots_exact);
    return t_done();
}
