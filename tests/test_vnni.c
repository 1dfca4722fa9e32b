/* test_vnni.c — tests of the x86 VNNI kernel tables (kernels_avx512vnni*.c, kernels_avxvnni.c;
 * kernels_vnni.h): which slots they fill, run-time selection, and every integer dot against the
 * scalar spec: NaN-prefilled outputs, error relative to sum |w*x| on several lengths (odd block
 * counts for the tails, 256, 4096 + 256, 11008) with edge weights (extreme and zero scales, all-max
 * and all-min codes) and edge activations (-128 / 127 extremes, all -128, zero blocks), and
 * bit-identical results where every sum is an exact integer in f32. A table the CPU cannot run is
 * skipped with the reason (test_*_available name it).
 *
 * The AVX-VNNI table is compiled a second time here with AVX2 emulations of its only two VNNI
 * instructions (vpdpbusd, vpdpwssd), as the table "avxvnni-emul": everything else in that file runs
 * for real, so its logic is checked on every AVX2 CPU (GCC only: it needs #pragma GCC target). */
#include "test.h"
#include "cpu/kernels.h"
#include "quant.h"

#include <math.h>
#include <stdint.h>

/* ---- the AVX-VNNI table with emulated VNNI instructions -------------------------------------- */

#if defined(ZETA_HAVE_X86) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
/* vpdpbusd: acc + in each int32 lane the sum of the 4 products (unsigned byte of u) * (signed byte
 * of s). The even and odd bytes widened to int16 and multiplied by madd: exact (|u * s| < 2^15). */
static inline __m256i emu_dpbusd(__m256i acc, __m256i u, __m256i s) {
    const __m256i u_even = _mm256_and_si256(u, _mm256_set1_epi16(0x00ff)), u_odd = _mm256_srli_epi16(u, 8);
    const __m256i s_even = _mm256_srai_epi16(_mm256_slli_epi16(s, 8), 8), s_odd = _mm256_srai_epi16(s, 8);
    return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(u_even, s_even), _mm256_madd_epi16(u_odd, s_odd)));
}
/* vpdpwssd: acc + in each int32 lane the sum of the 2 products of the int16 halves = madd. */
static inline __m256i emu_dpwssd(__m256i acc, __m256i a, __m256i b) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)); }
/* For test_emulation: out = emu_dpbusd(acc, u, s), emu_dpwssd(acc, a, b) on arrays. */
static void emu_dpbusd_arrays(int32_t out[8], const int32_t acc[8], const uint8_t u[32], const int8_t s[32]) {
    _mm256_storeu_si256((__m256i *)out, emu_dpbusd(_mm256_loadu_si256((const __m256i *)acc), _mm256_loadu_si256((const __m256i *)u),
                                                   _mm256_loadu_si256((const __m256i *)s)));
}
static void emu_dpwssd_arrays(int32_t out[8], const int32_t acc[8], const int16_t a[16], const int16_t b[16]) {
    _mm256_storeu_si256((__m256i *)out, emu_dpwssd(_mm256_loadu_si256((const __m256i *)acc), _mm256_loadu_si256((const __m256i *)a),
                                                   _mm256_loadu_si256((const __m256i *)b)));
}
#undef _mm256_dpbusd_avx_epi32
#undef _mm256_dpwssd_avx_epi32
#define _mm256_dpbusd_avx_epi32 emu_dpbusd
#define _mm256_dpwssd_avx_epi32 emu_dpwssd
#define zk_avxvnni zk_avxvnni_emul
const zk_kernels *zk_avxvnni_emul(void);
#include "cpu/kernels_avxvnni.c"
#undef zk_avxvnni
#undef _mm256_dpbusd_avx_epi32
#undef _mm256_dpwssd_avx_epi32
#pragma GCC pop_options
#define HAVE_EMUL 1
#endif

/* ---- helpers --------------------------------------------------------------------------------- */

static uint64_t g_rng = 0x3c6ef372fe94f82bull;
static uint32_t rnd_u32(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float rnd_unit(void) { return (float)(rnd_u32() & 0xffffff) / 16777216.0f * 2.0f - 1.0f; } /* [-1, 1) */
static float f32_nan(void) { return zeta_bits_to_f32(0x7fc00000u); }

/* The weight types the VNNI tables fill. */
static const zeta_type k_types[] = {ZETA_TYPE_Q8_0, ZETA_TYPE_Q4_0, ZETA_TYPE_Q4_1, ZETA_TYPE_Q5_0, ZETA_TYPE_Q5_1,
                                    ZETA_TYPE_IQ4_NL, ZETA_TYPE_Q2_K, ZETA_TYPE_Q3_K, ZETA_TYPE_Q4_K, ZETA_TYPE_Q5_K,
                                    ZETA_TYPE_Q6_K, ZETA_TYPE_IQ4_XS};
#define N_TYPES (int)(sizeof k_types / sizeof k_types[0])

typedef struct vt { const char *name; const zk_kernels *t; bool ok; const char *why; } vt;
#define MAX_VT 3

/* The VNNI tables of this build, whether this CPU runs them, and why not. */
static int vnni_tables(vt *v) {
    int n = 0;
    v[n++] = (vt){"avx512vnni", zk_avx512vnni(), zk_avx512vnni() && zk_cpu_has_avx512vnni(),
                  zk_avx512vnni() ? "this CPU has no AVX512_VNNI with AVX-512 F/BW/VL/DQ and OS ZMM state" : "not compiled in (not x86-64)"};
    v[n++] = (vt){"avxvnni", zk_avxvnni(), zk_avxvnni() && zk_cpu_has_avxvnni(),
                  zk_avxvnni() ? "this CPU has no AVX-VNNI (CPUID.(7,1):EAX[4]) with AVX2 and OS YMM state" : "not compiled in (not x86-64)"};
#ifdef HAVE_EMUL
    v[n++] = (vt){"avxvnni-emul", zk_avxvnni_emul(), zk_cpu_has_avx2(), "this CPU has no AVX2 (the emulation needs it)"};
#endif
    return n;
}

static int64_t block_of(zeta_type t) { return zeta_type_get(t)->block_size; }
static size_t bytes_of(zeta_type t) { return zeta_type_get(t)->type_size; }

/* Sets a weight block's f16 scale fields: d, and the min / dmin (m) where the type has one. */
static void set_scales(zeta_type t, uint8_t *blk, float d, float m) {
    const zeta_f16 hd = zeta_f32_to_f16(d), hm = zeta_f32_to_f16(m);
    switch (t) {
    case ZETA_TYPE_Q8_0: ((block_q8_0 *)blk)->d = hd; break;
    case ZETA_TYPE_Q4_0: ((block_q4_0 *)blk)->d = hd; break;
    case ZETA_TYPE_Q4_1: ((block_q4_1 *)blk)->d = hd; ((block_q4_1 *)blk)->m = hm; break;
    case ZETA_TYPE_Q5_0: ((block_q5_0 *)blk)->d = hd; break;
    case ZETA_TYPE_Q5_1: ((block_q5_1 *)blk)->d = hd; ((block_q5_1 *)blk)->m = hm; break;
    case ZETA_TYPE_IQ4_NL: ((block_iq4_nl *)blk)->d = hd; break;
    case ZETA_TYPE_Q2_K: ((block_q2_K *)blk)->d = hd; ((block_q2_K *)blk)->dmin = hm; break;
    case ZETA_TYPE_Q3_K: ((block_q3_K *)blk)->d = hd; break;
    case ZETA_TYPE_Q4_K: ((block_q4_K *)blk)->d = hd; ((block_q4_K *)blk)->dmin = hm; break;
    case ZETA_TYPE_Q5_K: ((block_q5_K *)blk)->d = hd; ((block_q5_K *)blk)->dmin = hm; break;
    case ZETA_TYPE_Q6_K: ((block_q6_K *)blk)->d = hd; break;
    case ZETA_TYPE_IQ4_XS: ((block_iq4_xs *)blk)->d = hd; break;
    default: break;
    }
}

/* Sets every code byte of a weight block (not the scale bytes) to v: 0xff gives the largest codes
 * (nibbles 15, high bits set), 0x00 the smallest (Q4_0 -8, Q5_0 -16, IQ4 -127, Q3_K -4, Q6_K -32). */
static void set_codes(zeta_type t, uint8_t *blk, uint8_t v) {
    switch (t) {
    case ZETA_TYPE_Q8_0: memset(((block_q8_0 *)blk)->qs, v, 32); break;
    case ZETA_TYPE_Q4_0: memset(((block_q4_0 *)blk)->qs, v, 16); break;
    case ZETA_TYPE_Q4_1: memset(((block_q4_1 *)blk)->qs, v, 16); break;
    case ZETA_TYPE_Q5_0: memset(((block_q5_0 *)blk)->qs, v, 16); memset(((block_q5_0 *)blk)->qh, v, 4); break;
    case ZETA_TYPE_Q5_1: memset(((block_q5_1 *)blk)->qs, v, 16); memset(((block_q5_1 *)blk)->qh, v, 4); break;
    case ZETA_TYPE_IQ4_NL: memset(((block_iq4_nl *)blk)->qs, v, 16); break;
    case ZETA_TYPE_Q2_K: memset(((block_q2_K *)blk)->qs, v, 64); break;
    case ZETA_TYPE_Q3_K: memset(((block_q3_K *)blk)->qs, v, 64); memset(((block_q3_K *)blk)->hmask, v, 32); break;
    case ZETA_TYPE_Q4_K: memset(((block_q4_K *)blk)->qs, v, 128); break;
    case ZETA_TYPE_Q5_K: memset(((block_q5_K *)blk)->qs, v, 128); memset(((block_q5_K *)blk)->qh, v, 32); break;
    case ZETA_TYPE_Q6_K: memset(((block_q6_K *)blk)->ql, v, 128); memset(((block_q6_K *)blk)->qh, v, 64); break;
    case ZETA_TYPE_IQ4_XS: memset(((block_iq4_xs *)blk)->qs, v, 128); break;
    default: break;
    }
}

/* Floats with edge blocks of 32: random, zeros, constant, huge, tiny, denormal, one outlier, ties. */
static void fill_edge_floats(float *x, int64_t n, float scale) {
    for (int64_t b = 0; b < n / 32; b++) {
        float *xb = x + b * 32;
        switch (b % 9) {
        case 0: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * scale; break;
        case 1: for (int j = 0; j < 32; j++) xb[j] = 0.0f; break;
        case 2: for (int j = 0; j < 32; j++) xb[j] = 0.75f * scale; break;
        case 3: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * 3e4f; break;
        case 4: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * 1e-30f; break;
        case 5: for (int j = 0; j < 32; j++) xb[j] = (j & 1 ? -1.0f : 1.0f) * (float)j * 1e-39f; break;
        case 6: for (int j = 0; j < 32; j++) xb[j] = rnd_unit() * (j == 5 ? 100.0f : 0.01f) * scale; break;
        case 7: for (int j = 0; j < 32; j++) xb[j] = (j == 0) ? 127.0f : (float)(j % 16) - 7.5f; break;
        default: for (int j = 0; j < 32; j++) xb[j] = -fabsf(rnd_unit()) * scale; break;
        }
    }
}

enum { W_MODES = 6, X_MODES = 5 };

/* Weights of type t for n elements. unit: every d (and m / dmin) 1.0, random bytes otherwise.
 * Modes: 0 quantized edge floats; 1 random bytes, ordinary scales; 2 random bytes, extreme scales
 * (1000, 3e-7, negative, zero); 3 largest codes (Q8_0: -128 / 127); 4 smallest codes (Q8_0: all
 * -128); 5 every byte 0xff (largest sub-block scales and mins too; Q8_0: all 127). */
static uint8_t *make_weights(zeta_type t, int64_t n, int mode, bool unit) {
    const int64_t nb = n / block_of(t);
    const size_t bs = bytes_of(t);
    uint8_t *w = malloc((size_t)nb * bs);
    if (mode == 0 && !unit) {
        float *f = malloc((size_t)n * sizeof(float));
        fill_edge_floats(f, n, 2.0f);
        zeta_quantize_row_ref(t, f, w, n);
        free(f);
        return w;
    }
    for (size_t j = 0; j < (size_t)nb * bs; j++) w[j] = (uint8_t)rnd_u32();
    for (int64_t i = 0; i < nb; i++) {
        uint8_t *blk = w + (size_t)i * bs;
        if (mode == 5) memset(blk, 0xff, bs);
        if (t == ZETA_TYPE_Q8_0 && mode >= 3) {
            int8_t *q = ((block_q8_0 *)blk)->qs;
            for (int j = 0; j < 32; j++) q[j] = (int8_t)(mode == 3 ? (j & 1 ? 127 : -128) : mode == 4 ? -128 : 127);
        } else if (mode == 3 || mode == 4) {
            set_codes(t, blk, mode == 3 ? 0xff : 0x00);
        }
        float d = 0.01f + (float)(i % 13) * 0.003f;
        if (mode == 2) d = i % 4 == 0 ? 1000.0f : i % 4 == 1 ? 3e-7f : i % 4 == 2 ? -0.5f : 0.0f;
        if (unit) d = 1.0f;
        set_scales(t, blk, d, unit ? 1.0f : d * 0.5f);
    }
    return w;
}

/* Activations of type xt (Q8_0, Q8_1 or Q8_K) for n elements; the d, s and bsums fields always
 * consistent with the codes. unit: d = 1. Modes: 0 the scalar quantizer on edge floats; 1 random
 * codes -128..127; 2 only 127 and -128; 3 all -128; 4 every other block zero, the rest random. */
static void *make_acts(zeta_type xt, int64_t n, int mode, bool unit) {
    const int64_t bsz = xt == ZETA_TYPE_Q8_K ? QK_K : 32, nb = n / bsz;
    const size_t bs = bytes_of(xt);
    uint8_t *x = malloc((size_t)nb * bs);
    if (mode == 0 && !unit) {
        float *f = malloc((size_t)n * sizeof(float));
        fill_edge_floats(f, n, 1.5f);
        if (xt == ZETA_TYPE_Q8_1) /* s = d * sum(q) is an f16: keep it finite (|x| up to 3e4 would overflow it) */
            for (int64_t j = 0; j < n; j++) f[j] = fabsf(f[j]) > 100.0f ? f[j] * 1e-3f : f[j];
        zk_scalar()->from_float[xt](f, x, n);
        free(f);
        return x;
    }
    for (int64_t i = 0; i < nb; i++) {
        uint8_t *blk = x + (size_t)i * bs;
        int8_t *q = xt == ZETA_TYPE_Q8_K ? ((block_q8_K *)blk)->qs : xt == ZETA_TYPE_Q8_1 ? ((block_q8_1 *)blk)->qs : ((block_q8_0 *)blk)->qs;
        int sum = 0;
        for (int j = 0; j < bsz; j++) {
            int v = (int)(rnd_u32() & 0xff) - 128;
            if (mode == 2) v = (j + i) % 3 ? 127 : -128;
            if (mode == 3) v = -128;
            if (mode == 4 && (i & 1)) v = 0;
            q[j] = (int8_t)v;
            sum += v;
        }
        const float d = unit ? 1.0f : 0.001f * (float)(1 + i % 7);
        if (xt == ZETA_TYPE_Q8_K) {
            block_q8_K *b = (block_q8_K *)blk;
            b->d = d;
            for (int j = 0; j < 16; j++) {
                int s = 0;
                for (int l = 0; l < 16; l++) s += b->qs[16 * j + l];
                b->bsums[j] = (int16_t)s;
            }
        } else if (xt == ZETA_TYPE_Q8_1) {
            ((block_q8_1 *)blk)->d = zeta_f32_to_f16(d);
            ((block_q8_1 *)blk)->s = zeta_f32_to_f16(zeta_f16_to_f32(zeta_f32_to_f16(d)) * (float)sum);
        } else {
            ((block_q8_0 *)blk)->d = zeta_f32_to_f16(d);
        }
    }
    return x;
}

/* The activations as floats (d * q). */
static void acts_to_float(zeta_type xt, const void *x, float *y, int64_t n) {
    if (xt == ZETA_TYPE_Q8_K) { dequantize_row_q8_K(x, y, n); return; }
    for (int64_t i = 0; i < n / 32; i++) {
        const int8_t *q = xt == ZETA_TYPE_Q8_1 ? ((const block_q8_1 *)x)[i].qs : ((const block_q8_0 *)x)[i].qs;
        const float d = zeta_f16_to_f32(xt == ZETA_TYPE_Q8_1 ? ((const block_q8_1 *)x)[i].d : ((const block_q8_0 *)x)[i].d);
        for (int j = 0; j < 32; j++) y[32 * i + j] = d * (float)q[j];
    }
}

/* sum |w_i * x_i| in double from the exact f32 values of both operands. */
static double abs_dot(zeta_type wt, const void *w, zeta_type xt, const void *x, int64_t n) {
    float *a = malloc((size_t)n * sizeof(float)), *b = malloc((size_t)n * sizeof(float));
    zeta_dequantize_row(wt, w, a, n);
    acts_to_float(xt, x, b, n);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += fabs((double)a[i] * (double)b[i]);
    free(a); free(b);
    return s;
}

/* ---- tables and selection -------------------------------------------------------------------- */

static void test_avx512vnni_available(void) {
    if (!zk_avx512vnni()) T_SKIP("AVX-512 VNNI table not compiled in (not x86-64)");
    if (!zk_cpu_has_avx512vnni()) T_SKIP("this CPU has no AVX512_VNNI (with AVX-512 F/BW/VL/DQ and OS ZMM state); its kernels are untested here");
}

static void test_avxvnni_available(void) {
    if (!zk_avxvnni()) T_SKIP("AVX-VNNI table not compiled in (not x86-64)");
    if (!zk_cpu_has_avxvnni()) T_SKIP("this CPU has no AVX-VNNI; its kernels ran here only with emulated VNNI instructions (avxvnni-emul)");
}

/* Each VNNI table fills exactly the integer dot slots of k_types (float dots and quantizers stay
 * with the tables below it). */
static void test_table_slots(void) {
    const zk_kernels *t[2] = {zk_avx512vnni(), zk_avxvnni()};
    const char *names[2] = {"avx512vnni", "avxvnni"};
    int seen = 0;
    for (int k = 0; k < 2; k++) {
        if (!t[k]) continue;
        seen++;
        T_CHECKF(strcmp(t[k]->name, names[k]) == 0, "table name %s, expected %s", t[k]->name, names[k]);
        int filled = 0;
        for (int i = 0; i < ZETA_TYPE_COUNT; i++) {
            T_CHECKF(!t[k]->from_float[i], "%s fills from_float[%s]", names[k], zeta_type_name((zeta_type)i));
            if (t[k]->vec_dot[i]) filled++;
        }
        for (int i = 0; i < N_TYPES; i++) T_CHECKF(t[k]->vec_dot[k_types[i]] != NULL, "%s lacks vec_dot[%s]", names[k], zeta_type_name(k_types[i]));
        T_CHECKF(filled == N_TYPES, "%s fills %d vec_dot slots, expected %d", names[k], filled, N_TYPES);
    }
    if (!seen) T_SKIP("no VNNI table compiled in (not x86-64)");
}

/* zk_select: avx2 < avxvnni < avx512 < avx512vnni, the VNNI tables on top of the float slots. */
static void test_selection(void) {
    const zk_kernels *sel = zk_select();
    printf("    cpu: avx2 %s, avxvnni %s, avx512 %s, avx512vnni %s; selected table: %s\n", zk_cpu_has_avx2() ? "yes" : "no",
           zk_cpu_has_avxvnni() ? "yes" : "no", zk_cpu_has_avx512() ? "yes" : "no", zk_cpu_has_avx512vnni() ? "yes" : "no",
           sel->name);
    T_CHECK(!zk_cpu_has_avx512vnni() || zk_cpu_has_avx512());
    T_CHECK(!zk_cpu_has_avxvnni() || zk_cpu_has_avx2());
    if (!zk_avx512vnni() && !zk_avxvnni()) T_SKIP("no VNNI table compiled in (not x86-64)");
    const zk_kernels *ints = zk_cpu_has_avx512vnni() ? zk_avx512vnni() : zk_cpu_has_avx512() ? zk_avx512()
                           : zk_cpu_has_avxvnni() ? zk_avxvnni() : zk_cpu_has_avx2() ? zk_avx2() : zk_scalar();
    const zk_kernels *floats = zk_cpu_has_avx512() ? zk_avx512() : zk_cpu_has_avx2() ? zk_avx2() : zk_scalar();
    for (int i = 0; i < N_TYPES; i++)
        T_CHECKF(sel->vec_dot[k_types[i]] == ints->vec_dot[k_types[i]], "vec_dot[%s] is not %s's", zeta_type_name(k_types[i]), ints->name);
    T_CHECKF(sel->vec_dot[ZETA_TYPE_F16] == floats->vec_dot[ZETA_TYPE_F16], "vec_dot[f16] is not %s's", floats->name);
    T_CHECKF(sel->from_float[ZETA_TYPE_Q8_K] == floats->from_float[ZETA_TYPE_Q8_K], "from_float[q8_K] is not %s's", floats->name);
    const char *want = zk_cpu_has_avx512vnni() ? "avx512vnni" : zk_cpu_has_avx512() ? "avx512" : zk_cpu_has_avxvnni() ? "avxvnni"
                     : zk_cpu_has_avx2() ? "avx2" : "scalar";
    T_CHECKF(strcmp(sel->name, want) == 0, "selected %s, expected %s", sel->name, want);
}

/* ---- dots against the scalar spec ------------------------------------------------------------ */

/* Every mode pair of weights x activations on every length, each VNNI table against the scalar
 * dot: NaN-prefilled output, error <= tol of sum |w*x|. */
static void check_type(zeta_type wt, double tol) {
    vt v[MAX_VT];
    const int nv = vnni_tables(v);
    const zeta_type xt = zk_vec_dot_type(wt);
    static const int64_t lengths[] = {32, 96, 160, 224, 256, 768, 4096 + 256, 11008};
    double worst[MAX_VT] = {0};
    int ran = 0;
    for (int k = 0; k < nv; k++) {
        if (v[k].ok) ran++;
        else printf("    skip %s: %s\n", v[k].name, v[k].why);
    }
    if (!ran) T_SKIP("no VNNI table runs on this CPU");
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        const int64_t n = lengths[li];
        if (n % block_of(wt)) continue;
        for (int wm = 0; wm < W_MODES; wm++) {
            for (int xm = 0; xm < X_MODES; xm++) {
                uint8_t *w = make_weights(wt, n, wm, false);
                void *x = make_acts(xt, n, xm, false);
                float ref = f32_nan();
                zk_scalar()->vec_dot[wt](n, &ref, w, x);
                const double scale = abs_dot(wt, w, xt, x, n);
                for (int k = 0; k < nv; k++) {
                    if (!v[k].ok) continue;
                    float got = f32_nan();
                    v[k].t->vec_dot[wt](n, &got, w, x);
                    const double err = fabs((double)got - (double)ref) / (scale > 0 ? scale : 1);
                    T_CHECKF(ref == ref && got == got, "%s %s n=%lld w%d x%d: NaN output (ref %g got %g)", v[k].name,
                             zeta_type_name(wt), (long long)n, wm, xm, (double)ref, (double)got);
                    T_CHECKF(err <= tol, "%s %s n=%lld w%d x%d: ref %.9g got %.9g, rel err %.3g > %.1g", v[k].name,
                             zeta_type_name(wt), (long long)n, wm, xm, (double)ref, (double)got, err, tol);
                    if (err > worst[k]) worst[k] = err;
                }
                free(w); free(x);
            }
        }
    }
    for (int k = 0; k < nv; k++)
        if (v[k].ok) printf("    %s %s: worst error %.2g of sum|w*x|\n", v[k].name, zeta_type_name(wt), worst[k]);
}

static void test_vec_dot_q8_0(void) { check_type(ZETA_TYPE_Q8_0, 1e-5); }
static void test_vec_dot_q4_0(void) { check_type(ZETA_TYPE_Q4_0, 1e-5); }
static void test_vec_dot_q4_1(void) { check_type(ZETA_TYPE_Q4_1, 1e-5); }
static void test_vec_dot_q5_0(void) { check_type(ZETA_TYPE_Q5_0, 1e-5); }
static void test_vec_dot_q5_1(void) { check_type(ZETA_TYPE_Q5_1, 1e-5); }
static void test_vec_dot_iq4_nl(void) { check_type(ZETA_TYPE_IQ4_NL, 1e-5); }
static void test_vec_dot_q2_K(void) { check_type(ZETA_TYPE_Q2_K, 1e-5); }
static void test_vec_dot_q3_K(void) { check_type(ZETA_TYPE_Q3_K, 1e-5); }
static void test_vec_dot_q4_K(void) { check_type(ZETA_TYPE_Q4_K, 1e-5); }
static void test_vec_dot_q5_K(void) { check_type(ZETA_TYPE_Q5_K, 1e-5); }
static void test_vec_dot_q6_K(void) { check_type(ZETA_TYPE_Q6_K, 1e-5); }
static void test_vec_dot_iq4_xs(void) { check_type(ZETA_TYPE_IQ4_XS, 1e-5); }

/* With every scale 1.0 and random codes (activations over the whole int8 range, -128 included),
 * every block's value is an integer and all sums stay far below 2^24, so they are exact in f32 in
 * any order: every table must give exactly the scalar value, for every block count (the tails). */
static void test_int_dots_exact(void) {
    vt v[MAX_VT];
    const int nv = vnni_tables(v);
    int ran = 0;
    for (int k = 0; k < nv; k++) ran += v[k].ok;
    if (!ran) T_SKIP("no VNNI table runs on this CPU");
    for (int ti = 0; ti < N_TYPES; ti++) {
        const zeta_type wt = k_types[ti], xt = zk_vec_dot_type(wt);
        const int64_t bsz = block_of(wt), max_blocks = bsz == 32 ? 128 : 4;
        for (int rep = 0; rep < 3; rep++) {
            uint8_t *w = make_weights(wt, max_blocks * bsz, rep == 2 ? 4 : 1, true);
            void *x = make_acts(xt, max_blocks * bsz, rep == 1 ? 4 : 1, true);
            for (int64_t m = 1; m <= max_blocks; m += m < 9 ? 1 : 17) {
                float ref = f32_nan();
                zk_scalar()->vec_dot[wt](m * bsz, &ref, w, x);
                for (int k = 0; k < nv; k++) {
                    if (!v[k].ok) continue;
                    float got = f32_nan();
                    v[k].t->vec_dot[wt](m * bsz, &got, w, x);
                    T_CHECKF(got == ref, "%s %s %lld blocks (rep %d): %.9g vs scalar %.9g", v[k].name, zeta_type_name(wt),
                             (long long)m, rep, (double)got, (double)ref);
                }
            }
            free(w); free(x);
        }
    }
}

/* The emulation itself, against the instructions' definitions: vpdpbusd on every (unsigned,
 * signed) byte pair, vpdpwssd on int32 partials times (scale, 0) pairs as the kernels use it. */
static void test_emulation(void) {
#ifdef HAVE_EMUL
    if (!zk_cpu_has_avx2()) T_SKIP("this CPU has no AVX2 (the emulation needs it)");
    int bad = 0;
    for (int u = 0; u < 256; u++) {
        for (int sv = -128; sv < 128; sv++) {
            uint8_t ub[32];
            int8_t sb[32];
            int32_t acc[8], out[8];
            for (int j = 0; j < 32; j++) { /* byte 0 of every lane is the pair under test */
                ub[j] = (uint8_t)(j % 4 == 0 ? (uint32_t)u : rnd_u32());
                sb[j] = (int8_t)(j % 4 == 0 ? sv : (int)(rnd_u32() & 0xff) - 128);
            }
            for (int l = 0; l < 8; l++) acc[l] = (int32_t)(rnd_u32() % 2000001u) - 1000000;
            emu_dpbusd_arrays(out, acc, ub, sb);
            for (int l = 0; l < 8; l++) {
                int32_t want = acc[l];
                for (int b = 0; b < 4; b++) want += (int32_t)ub[4 * l + b] * (int32_t)sb[4 * l + b];
                bad += out[l] != want;
            }
        }
    }
    T_CHECKF(bad == 0, "%d emulated vpdpbusd lanes wrong", bad);
    bad = 0;
    for (int rep = 0; rep < 4096; rep++) { /* int16 pair sums (|p| <= 2 * 63 * 128) or int32 partials
                                            * (|p| <= 32256, upper half sign) times int16 scales */
        int16_t a[16], b[16];
        int32_t acc[8], out[8];
        for (int l = 0; l < 8; l++) {
            if (rep & 1) {
                const int32_t p = (int32_t)(rnd_u32() % 64513u) - 32256;
                memcpy(&a[2 * l], &p, 4);
                b[2 * l] = (int16_t)((int)(rnd_u32() & 0xff) - 128);
                b[2 * l + 1] = 0;
            } else {
                a[2 * l] = (int16_t)((int)(rnd_u32() % 32257u) - 16128);
                a[2 * l + 1] = (int16_t)((int)(rnd_u32() % 32257u) - 16128);
                b[2 * l] = b[2 * l + 1] = (int16_t)((int)(rnd_u32() & 0xff) - 128);
            }
            acc[l] = (int32_t)(rnd_u32() % 2000001u) - 1000000;
        }
        emu_dpwssd_arrays(out, acc, a, b);
        for (int l = 0; l < 8; l++) bad += out[l] != acc[l] + a[2 * l] * b[2 * l] + a[2 * l + 1] * b[2 * l + 1];
    }
    T_CHECKF(bad == 0, "%d emulated vpdpwssd lanes wrong", bad);
#else
    T_SKIP("the emulated AVX-VNNI table needs GCC on x86-64");
#endif
}

int main(void) {
    T_RUN(test_avx512vnni_available);
    T_RUN(test_avxvnni_available);
    T_RUN(test_table_slots);
    T_RUN(test_selection);
    T_RUN(test_emulation);
    T_RUN(test_vec_dot_q8_0);
    T_RUN(test_vec_dot_q4_0);
    T_RUN(test_vec_dot_q4_1);
    T_RUN(test_vec_dot_q5_0);
    T_RUN(test_vec_dot_q5_1);
    T_RUN(test_vec_dot_iq4_nl);
    T_RUN(test_vec_dot_q2_K);
    T_RUN(test_vec_dot_q3_K);
    T_RUN(test_vec_dot_q4_K);
    T_RUN(test_vec_dot_q5_K);
    T_RUN(test_vec_dot_q6_K);
    T_RUN(test_vec_dot_iq4_xs);
    T_RUN(test_int_dots_exact);
    return t_done();
}
