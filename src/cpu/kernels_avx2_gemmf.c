/* kernels_avx2_gemmf.c — AVX2 + FMA + F16C register-tiled products over row-major F32 / F16 / BF16
 * weights against f32 activations (the zk_gemm_rows_fn slots of gemm_f.h). Compiled with
 * -mavx2 -mfma -mf16c and only called after cpu_features.c has checked the CPU.
 *
 * A tile is M weight rows x N tokens with one 8-lane f32 accumulator per (row, token): per step of
 * 8 elements the smaller of the two operand sets is held in registers (f16 converted with vcvtph2ps,
 * bf16 widened and shifted) and each of the other is loaded once and FMA'd into M or N
 * accumulators. M * N <= 12 keeps accumulators, operands and a temporary within the 16 ymm
 * registers; fewer tokens get more rows so that there are always >= 6 independent FMA chains.
 * Elements past the last multiple of 8 are added in scalar f32 after the horizontal sum.
 * The driver walks row blocks sized so their weights stay in L2 (>= 24 rows, ~96 KiB), and within
 * a block token groups (outer) x row tiles (inner), so a token group's activations stay close
 * while the block's weight rows are reused from L2 by every group. The first token group, which
 * meets the block's weights cold from memory, uses tiles that also prefetch the next tile's rows
 * (more streams in flight); later groups skip the prefetches. k is not blocked: a tile runs over
 * the whole row, so each output is stored once (measured faster than k slices at k = 2048..5632). */
#include "cpu/gemm_f.h"

#include <immintrin.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))
/* complete unrolling of the constant-bound loops over a tile's rows and tokens */
#if defined(__clang__)
#define UNROLL _Pragma("unroll")
#else
#define UNROLL _Pragma("GCC unroll 8")
#endif

enum { WT_F32, WT_F16, WT_BF16 };

/* token group; rows per tile for a group of n tokens (M * N <= 12, M >= 3) */
#define TOK_MAX 4
static const int k_rows_for_tok[TOK_MAX + 1] = {0, 8, 6, 4, 3};

ALWAYS_INLINE __m256 load_w8(int wt, const uint8_t *row, int64_t i) {
    if (wt == WT_F32) return _mm256_loadu_ps((const float *)row + i);
    const __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + i));
    if (wt == WT_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

ALWAYS_INLINE float load_w1(int wt, const uint8_t *row, int64_t i) {
    if (wt == WT_F32) return ((const float *)row)[i];
    const uint16_t h = ((const uint16_t *)row)[i];
    if (wt == WT_F16) return _cvtsh_ss(h);
    return zeta_bf16_to_f32(h);
}

/* the cache line holding element i of a row */
ALWAYS_INLINE void prefetch_w(int wt, const uint8_t *row, int64_t i) {
    _mm_prefetch((const char *)row + i * (wt == WT_F32 ? 4 : 2), _MM_HINT_T0);
}

ALWAYS_INLINE float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* One M x N tile over all k elements: y[t * ys + r] for r < M, t < N. M, N are constants after
 * inlining; the loops below unroll completely and the accumulators live in registers. */
ALWAYS_INLINE void tile(int wt, int M, int N, int pf, int64_t k, const uint8_t *w, size_t ws, const float *x, size_t xs,
                        float *y, size_t ys) {
    __m256 acc[8][TOK_MAX];
UNROLL
    for (int r = 0; r < M; r++)
UNROLL
        for (int t = 0; t < N; t++) acc[r][t] = _mm256_setzero_ps();
    int64_t i = 0;
    if (M <= N) { /* weights in registers, activations streamed */
        for (; i + 8 <= k; i += 8) {
            __m256 wv[8];
UNROLL
            for (int r = 0; r < M; r++) wv[r] = load_w8(wt, w + (size_t)r * ws, i);
            if (pf) {
UNROLL
                for (int r = M; r < 2 * M; r++) prefetch_w(wt, w + (size_t)r * ws, i);
            }
UNROLL
            for (int t = 0; t < N; t++) {
                const __m256 xv = _mm256_loadu_ps(x + (size_t)t * xs + i);
UNROLL
                for (int r = 0; r < M; r++) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
            }
        }
    } else { /* activations in registers, weights streamed */
        for (; i + 8 <= k; i += 8) {
            __m256 xv[TOK_MAX];
UNROLL
            for (int t = 0; t < N; t++) xv[t] = _mm256_loadu_ps(x + (size_t)t * xs + i);
UNROLL
            for (int r = 0; r < M; r++) {
                const __m256 wv = load_w8(wt, w + (size_t)r * ws, i);
                if (pf) prefetch_w(wt, w + (size_t)(r + M) * ws, i);
UNROLL
                for (int t = 0; t < N; t++) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
            }
        }
    }
UNROLL
    for (int t = 0; t < N; t++) {
        const float *xt = x + (size_t)t * xs;
UNROLL
        for (int r = 0; r < M; r++) {
            float s = hsum256(acc[r][t]);
            for (int64_t j = i; j < k; j++) s += load_w1(wt, w + (size_t)r * ws, j) * xt[j];
            y[(size_t)t * ys + (size_t)r] = s;
        }
    }
}

typedef void (*tile_fn)(int64_t k, const uint8_t *w, size_t ws, const float *x, size_t xs, float *y, size_t ys);

typedef struct tile_set {
    tile_fn part[TOK_MAX + 1][9];       /* [tokens][rows] */
    tile_fn prefetching[TOK_MAX + 1];   /* [tokens], rows = k_rows_for_tok[tokens] */
} tile_set;

#define DEF_TILE(NAME, WT, M, N, PF)                                                                           \
    static void tile_##NAME##_##M##x##N##_##PF(int64_t k, const uint8_t *w, size_t ws, const float *x, size_t xs, \
                                               float *y, size_t ys) {                                          \
        tile(WT, M, N, PF, k, w, ws, x, xs, y, ys);                                                            \
    }
/* every (rows, tokens) shape the driver uses (rows <= k_rows_for_tok[tokens]), and the full shapes
 * again with prefetching of the next tile's rows */
#define DEF_TILES(NAME, WT)                                                                                    \
    DEF_TILE(NAME, WT, 1, 1, 0) DEF_TILE(NAME, WT, 2, 1, 0) DEF_TILE(NAME, WT, 3, 1, 0)                       \
    DEF_TILE(NAME, WT, 4, 1, 0) DEF_TILE(NAME, WT, 5, 1, 0) DEF_TILE(NAME, WT, 6, 1, 0)                       \
    DEF_TILE(NAME, WT, 7, 1, 0) DEF_TILE(NAME, WT, 8, 1, 0)                                                   \
    DEF_TILE(NAME, WT, 1, 2, 0) DEF_TILE(NAME, WT, 2, 2, 0) DEF_TILE(NAME, WT, 3, 2, 0)                       \
    DEF_TILE(NAME, WT, 4, 2, 0) DEF_TILE(NAME, WT, 5, 2, 0) DEF_TILE(NAME, WT, 6, 2, 0)                       \
    DEF_TILE(NAME, WT, 1, 3, 0) DEF_TILE(NAME, WT, 2, 3, 0) DEF_TILE(NAME, WT, 3, 3, 0)                       \
    DEF_TILE(NAME, WT, 4, 3, 0)                                                                               \
    DEF_TILE(NAME, WT, 1, 4, 0) DEF_TILE(NAME, WT, 2, 4, 0) DEF_TILE(NAME, WT, 3, 4, 0)                       \
    DEF_TILE(NAME, WT, 8, 1, 1) DEF_TILE(NAME, WT, 6, 2, 1) DEF_TILE(NAME, WT, 4, 3, 1)                       \
    DEF_TILE(NAME, WT, 3, 4, 1)                                                                               \
    static const tile_set k_tiles_##NAME = {                                                                   \
        .part = {{0},                                                                                          \
                 {0, tile_##NAME##_1x1_0, tile_##NAME##_2x1_0, tile_##NAME##_3x1_0, tile_##NAME##_4x1_0,       \
                  tile_##NAME##_5x1_0, tile_##NAME##_6x1_0, tile_##NAME##_7x1_0, tile_##NAME##_8x1_0},        \
                 {0, tile_##NAME##_1x2_0, tile_##NAME##_2x2_0, tile_##NAME##_3x2_0, tile_##NAME##_4x2_0,       \
                  tile_##NAME##_5x2_0, tile_##NAME##_6x2_0},                                                   \
                 {0, tile_##NAME##_1x3_0, tile_##NAME##_2x3_0, tile_##NAME##_3x3_0, tile_##NAME##_4x3_0},      \
                 {0, tile_##NAME##_1x4_0, tile_##NAME##_2x4_0, tile_##NAME##_3x4_0}},                          \
        .prefetching = {0, tile_##NAME##_8x1_1, tile_##NAME##_6x2_1, tile_##NAME##_4x3_1, tile_##NAME##_3x4_1}, \
    };

DEF_TILES(f32, WT_F32)
DEF_TILES(f16, WT_F16)
DEF_TILES(bf16, WT_BF16)

/* weight bytes of one row block (at least 24 rows: a multiple of every tile height) */
#define BLOCK_BYTES (96 * 1024)

static void drive(const tile_set *ts, size_t wsize, int64_t k, const void *w, size_t w_stride, int n_rows,
                  const float *x, size_t x_stride, int n_tok, float *y, size_t y_stride) {
    const uint8_t *W = w;
    const int64_t rb_fit = (int64_t)BLOCK_BYTES / ((k > 0 ? k : 1) * (int64_t)wsize) / 24 * 24;
    const int rb = rb_fit < 24 ? 24 : rb_fit > 240 ? 240 : (int)rb_fit;
    for (int r0 = 0; r0 < n_rows; r0 += rb) {
        const int r1 = n_rows - r0 < rb ? n_rows : r0 + rb;
        for (int t = 0; t < n_tok; t += TOK_MAX) {
            const int nt = n_tok - t < TOK_MAX ? n_tok - t : TOK_MAX;
            const int m = k_rows_for_tok[nt];
            const float *xt = x + (size_t)t * x_stride;
            float *yt = y + (size_t)t * y_stride;
            for (int r = r0; r < r1; r += m) {
                const int mr = r1 - r < m ? r1 - r : m;
                /* the first token group meets the block's weights cold: it fetches the next
                 * tile's rows while computing this one (only where those rows exist) */
                const tile_fn f = t == 0 && mr == m && r + 2 * m <= n_rows ? ts->prefetching[nt] : ts->part[nt][mr];
                f(k, W + (size_t)r * w_stride, w_stride, xt, x_stride, yt + r, y_stride);
            }
        }
    }
}

static void gemm_f32(int64_t k, const void *w, size_t w_stride, int n_rows, const float *x, size_t x_stride,
                     int n_tok, float *y, size_t y_stride) {
    drive(&k_tiles_f32, 4, k, w, w_stride, n_rows, x, x_stride, n_tok, y, y_stride);
}

static void gemm_f16(int64_t k, const void *w, size_t w_stride, int n_rows, const float *x, size_t x_stride,
                     int n_tok, float *y, size_t y_stride) {
    drive(&k_tiles_f16, 2, k, w, w_stride, n_rows, x, x_stride, n_tok, y, y_stride);
}

static void gemm_bf16(int64_t k, const void *w, size_t w_stride, int n_rows, const float *x, size_t x_stride,
                      int n_tok, float *y, size_t y_stride) {
    drive(&k_tiles_bf16, 2, k, w, w_stride, n_rows, x, x_stride, n_tok, y, y_stride);
}

static const zk_gemmf_table k_gemmf_avx2 = {
    .name = "avx2",
    .gemm = {[ZETA_TYPE_F32] = gemm_f32, [ZETA_TYPE_F16] = gemm_f16, [ZETA_TYPE_BF16] = gemm_bf16},
};

const zk_gemmf_table *zk_gemmf_avx2(void) { return &k_gemmf_avx2; }
