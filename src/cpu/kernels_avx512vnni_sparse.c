/* kernels_avx512vnni_sparse.c — the native Q8_0 / Q4_0 sparse decode kernels (kernels_sparse.h)
 * with AVX-512 VNNI. Input blocks outer, the thread's rows in steps of 64 (Q4_0: 128 while they
 * last, a column's whole cache line) inner, the block's kept columns innermost, four at a time: a
 * step's sums stay in registers over all the block's kept columns and then go through the epilogue
 * once. The lines PF_ROWS rows ahead of every kept column (and of the row scales) are prefetched,
 * the next block's first rows once the current block's run out. The four columns' bytes of a step
 * are interleaved by unpacks so that each int32 lane holds one row's four codes, then one vpdpbusd
 * adds the four products with the four inputs (broadcast) to that row's sum:
 *   Q8_0: the unsigned operand is code ^ 0x80 = code + 128, so the block's sum is off by
 *         128 * (sum of its kept inputs), taken off in the epilogue;
 *   Q4_0: the nibble (0..15) is the unsigned operand, and 8 * (sum of the inputs) comes off, as in
 *         the scalar spec.
 * The integer sums are exact and the epilogue is the scalar spec's (y += (d * dx) * (float)isum,
 * one fused multiply-add per block in block order), so every output has the scalar kernel's bits.
 * The unpacks leave a step's 64 sums in an order of their own; the epilogue puts them back in row
 * order with four 128-bit lane shuffles. Compiled with FLAGS_avx512 -mavx512vnni; selected only
 * after zk_cpu_has_avx512vnni(). */
#include "cpu/kernels.h"
#include "cpu/kernels_sparse.h"
#include "quant.h"

#include <immintrin.h>
#include <stdbool.h>
#include <string.h>


/* the kept columns of input block b, padded to a multiple of 4 with column 0 and an input of 0,
 * and per 4 columns their 4 int8 inputs as one int32 (for vpdpbusd's broadcast operand) */
typedef struct cols4v {
    uint32_t n;
    const uint8_t *c[32];
    int32_t x[8];
} cols4v;

static void make_cols(const zs_mat *w, const zs_sel *s, uint32_t b, cols4v *p) {
    const uint32_t k0 = s->bstart[b], k1 = s->bstart[b + 1];
    const uint8_t *cols = w->cols + (size_t)b * w->blk_bytes + 2 * (size_t)w->n_out;
    const uint32_t n = k1 - k0, n4 = (n + 3) & ~3u;
    for (uint32_t i = 0; i < n4; i += 4) {
        uint32_t xv = 0;
        for (uint32_t h = 0; h < 4; h++) {
            const uint32_t k = k0 + i + h;
            p->c[i + h] = k < k1 ? cols + (s->idx[k] - 32 * b) * w->col_bytes : cols;
            xv |= (uint32_t)(uint8_t)(k < k1 ? s->q8[k] : 0) << (8 * h);
        }
        p->x[i / 4] = (int32_t)xv;
    }
    p->n = n4;
}

static inline void pf(const uint8_t *p) { _mm_prefetch((const char *)p, _MM_HINT_T0); }

/* the 64 codes of a column's step as unsigned bytes in storage order: Q8_0 the 64 bytes ^ 0x80;
 * Q4_0 the 32 bytes' low nibbles, then their high nibbles */
static inline __m512i step_codes(bool q4, const uint8_t *p) {
    if (q4) {
        const __m256i raw = _mm256_loadu_si256((const __m256i *)p), m4 = _mm256_set1_epi8(15);
        return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(raw, m4)), _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4), 1);
    }
    return _mm512_xor_si512(_mm512_loadu_si512((const void *)p), _mm512_set1_epi8((char)0x80));
}

/* y[0..16) += (d * dx) * (float)(acc - off), d the 16 f16 row scales at `scales` */
static inline void epilogue16(float *y, const uint8_t *scales, float dx, __m512i acc, __m512i off) {
    const __m512 d = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)scales)), _mm512_set1_ps(dx));
    _mm512_storeu_ps(y, _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, off)), _mm512_loadu_ps(y)));
}

/* A step's sums as the unpacks leave them: V_k (acc + 16 k) lane L, dword i = storage position
 * p = 16 L + 4 k + i. Q8_0 (zs_q8_pos: in each 16 rows, positions 4-7 hold rows 8-11 and 8-11 rows
 * 4-7): rows 16 L .. 16 L + 15 are [V0.L, V2.L, V1.L, V3.L]. Q4_0 (low nibbles: rows 0-31, high:
 * 32-63; zs_q4_pos swaps positions 8-15 and 16-23 of each 32): rows 32 h .. 32 h + 15 are
 * [V0.L2h, V1.L2h, V0.L2h+1, V1.L2h+1], rows 32 h + 16 .. 32 h + 31 the same of V2, V3. */
static inline void epilogue_step(bool q4, float *y, const uint8_t *scales, float dx, const int32_t *acc, __m512i off) {
    const __m512i v0 = _mm512_load_si512((const void *)acc), v1 = _mm512_load_si512((const void *)(acc + 16));
    const __m512i v2 = _mm512_load_si512((const void *)(acc + 32)), v3 = _mm512_load_si512((const void *)(acc + 48));
    __m512i n[4];
    if (q4) {
        const __m512i i0 = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), i1 = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
        n[0] = _mm512_permutex2var_epi64(v0, i0, v1);
        n[1] = _mm512_permutex2var_epi64(v2, i0, v3);
        n[2] = _mm512_permutex2var_epi64(v0, i1, v1);
        n[3] = _mm512_permutex2var_epi64(v2, i1, v3);
    } else {
        const __m512i t0 = _mm512_shuffle_i64x2(v0, v2, _MM_SHUFFLE(1, 0, 1, 0)); /* V0.L0 V0.L1 V2.L0 V2.L1 */
        const __m512i t1 = _mm512_shuffle_i64x2(v0, v2, _MM_SHUFFLE(3, 2, 3, 2)); /* V0.L2 V0.L3 V2.L2 V2.L3 */
        const __m512i t2 = _mm512_shuffle_i64x2(v1, v3, _MM_SHUFFLE(1, 0, 1, 0));
        const __m512i t3 = _mm512_shuffle_i64x2(v1, v3, _MM_SHUFFLE(3, 2, 3, 2));
        n[0] = _mm512_shuffle_i64x2(t0, t2, _MM_SHUFFLE(2, 0, 2, 0)); /* V0.L0 V2.L0 V1.L0 V3.L0 */
        n[1] = _mm512_shuffle_i64x2(t0, t2, _MM_SHUFFLE(3, 1, 3, 1));
        n[2] = _mm512_shuffle_i64x2(t1, t3, _MM_SHUFFLE(2, 0, 2, 0));
        n[3] = _mm512_shuffle_i64x2(t1, t3, _MM_SHUFFLE(3, 1, 3, 1));
    }
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) epilogue16(y + 16 * q, scales + 32 * q, dx, n[q], off);
}

/* Q4_0, 128 rows a step (a column's 64 bytes: two 64-row chunks): acc + 16 k holds V_k of the low
 * nibbles (k < 4) and of the high nibbles (k >= 4), lane L = chunk L / 2, bytes 16 (L % 2) ..; rows
 * 64 c .. 64 c + 15 are [V0.L2c, V1.L2c, V0.L2c+1, V1.L2c+1] of the low ones (epilogue_step's
 * order, chunk by chunk), rows 64 c + 32 .. the same of the high ones */
static inline void epilogue_q4_128(float *y, const uint8_t *scales, float dx, const int32_t *acc, __m512i off) {
    const __m512i i0 = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), i1 = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
    __m512i v[8];
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) v[k] = _mm512_load_si512((const void *)(acc + 16 * k));
#pragma GCC unroll 2
    for (int c = 0; c < 2; c++) {
        const __m512i ix = c ? i1 : i0;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) { /* low nibbles: rows 0-31 of the chunk; high: 32-63 */
            const int r = 64 * c + 32 * h;
            epilogue16(y + r, scales + 2 * r, dx, _mm512_permutex2var_epi64(v[4 * h], ix, v[4 * h + 1]), off);
            epilogue16(y + r + 16, scales + 2 * r + 32, dx, _mm512_permutex2var_epi64(v[4 * h + 2], ix, v[4 * h + 3]), off);
        }
    }
}

/* the four columns' interleave of one step: V_k lane L dword i = the 4 columns' bytes at 16 L + 4 k + i */
static inline __attribute__((always_inline)) void interleave4(__m512i a, __m512i b, __m512i c, __m512i d, __m512i v[4]) {
    const __m512i ab0 = _mm512_unpacklo_epi8(a, b), ab1 = _mm512_unpackhi_epi8(a, b);
    const __m512i cd0 = _mm512_unpacklo_epi8(c, d), cd1 = _mm512_unpackhi_epi8(c, d);
    v[0] = _mm512_unpacklo_epi16(ab0, cd0);
    v[1] = _mm512_unpackhi_epi16(ab0, cd0);
    v[2] = _mm512_unpacklo_epi16(ab1, cd1);
    v[3] = _mm512_unpackhi_epi16(ab1, cd1);
}

/* prefetch distance: rows ahead of the step being computed (the next block's first rows once the
 * current block's run out) */
#define PF_ROWS 768

/* the lines of row r (column byte offset cb) of kept columns [g0, g1) of P, and of its row scales */
static inline __attribute__((always_inline)) void prefetch_row(bool q4, const cols4v *P, uint32_t g0, uint32_t g1, const uint8_t *scales,
                                                               size_t r) {
    const size_t cb = q4 ? r / 2 : r;
    for (uint32_t g = g0; g < g1; g++) pf(P->c[g] + cb);
    pf(scales + 2 * r);
    pf(scales + 2 * r + 64);
    if (q4) {
        pf(scales + 2 * r + 128);
        pf(scales + 2 * r + 192);
    }
}

/* A block's kept columns are walked in lockstep groups of at most MAX_STREAMS: past ~16 concurrent
 * column runs a core's reads slow down by a third (bench/sparse_pattern.c: 24 of 32 runs 15.5 GB/s,
 * 16 of 32 ~25). A block with more is walked in two groups, over row tiles of SPLIT_TILE rows: the
 * first group's sums wait in an L1 array, the second adds to them, then the epilogue (the integer
 * sums are the same numbers either way). */
#define MAX_STREAMS 16
#define SPLIT_TILE 2048

/* One walk of rows [t0, t1) over kept column groups [g0, g1) of P: the step sums start from part
 * (in) or 0, and go to part (out, raw) or through the epilogue. Prefetches run PF_ROWS rows ahead
 * within the block, and into the next block N (only when nxt). */
static inline __attribute__((always_inline)) void walk(bool q4, const cols4v *P, uint32_t g0, uint32_t g1, const uint8_t *scales, float dx,
                                                       __m512i off, size_t r0, size_t r1, size_t t0, size_t t1, const cols4v *N,
                                                       const uint8_t *nscales, bool nxt, int32_t *part, bool in, bool out, float *y) {
    _Alignas(64) int32_t acc[128];
    size_t o = t0;
    if (q4) /* 128 rows a step while they last: one 64-byte load per column */
        for (; o + 128 <= t1; o += 128) {
            const size_t t = o + PF_ROWS;
            if (t < r1) prefetch_row(true, P, g0, g1, scales, t);
            else if (nxt && N && r0 + (t - r1) < r1) prefetch_row(true, N, 0, N->n, nscales, r0 + (t - r1));
            const __m512i m4 = _mm512_set1_epi8(15);
            int32_t *pp = in || out ? part + (o - t0) : acc; /* part holds a tile (split walks only) */
            __m512i a8[8];
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) a8[k] = in ? _mm512_load_si512((const void *)(pp + 16 * k)) : _mm512_setzero_si512();
            const size_t ob = o / 2;
            for (uint32_t g = g0; g < g1; g += 4) {
                const __m512i xb = _mm512_set1_epi32(P->x[g / 4]);
                const __m512i ra = _mm512_loadu_si512((const void *)(P->c[g] + ob)), rb = _mm512_loadu_si512((const void *)(P->c[g + 1] + ob));
                const __m512i rc = _mm512_loadu_si512((const void *)(P->c[g + 2] + ob)), rd = _mm512_loadu_si512((const void *)(P->c[g + 3] + ob));
                __m512i v[8];
                interleave4(_mm512_and_si512(ra, m4), _mm512_and_si512(rb, m4), _mm512_and_si512(rc, m4), _mm512_and_si512(rd, m4), v);
                interleave4(_mm512_and_si512(_mm512_srli_epi16(ra, 4), m4), _mm512_and_si512(_mm512_srli_epi16(rb, 4), m4),
                            _mm512_and_si512(_mm512_srli_epi16(rc, 4), m4), _mm512_and_si512(_mm512_srli_epi16(rd, 4), m4), v + 4);
#pragma GCC unroll 8
                for (int k = 0; k < 8; k++) a8[k] = _mm512_dpbusd_epi32(a8[k], v[k], xb);
            }
            int32_t *dst = out ? pp : acc;
#pragma GCC unroll 8
            for (int k = 0; k < 8; k++) _mm512_store_si512((void *)(dst + 16 * k), a8[k]);
            if (!out) epilogue_q4_128(y + o, scales + 2 * o, dx, acc, off);
        }
    for (; o < t1; o += 64) {
        const size_t t = o + PF_ROWS;
        if (t < r1) prefetch_row(q4, P, g0, g1, scales, t);
        else if (nxt && N && r0 + (t - r1) < r1) prefetch_row(q4, N, 0, N->n, nscales, r0 + (t - r1));
        int32_t *pp = in || out ? part + (o - t0) : acc;
        __m512i a4[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) a4[k] = in ? _mm512_load_si512((const void *)(pp + 16 * k)) : _mm512_setzero_si512();
        const size_t ob = q4 ? o / 2 : o; /* byte offset in a column */
        for (uint32_t g = g0; g < g1; g += 4) {
            const __m512i xb = _mm512_set1_epi32(P->x[g / 4]);
            __m512i v[4];
            interleave4(step_codes(q4, P->c[g] + ob), step_codes(q4, P->c[g + 1] + ob), step_codes(q4, P->c[g + 2] + ob),
                        step_codes(q4, P->c[g + 3] + ob), v);
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) a4[k] = _mm512_dpbusd_epi32(a4[k], v[k], xb);
        }
        int32_t *dst = out ? pp : acc;
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) _mm512_store_si512((void *)(dst + 16 * k), a4[k]);
        if (!out) epilogue_step(q4, y + o, scales + 2 * o, dx, acc, off);
    }
}

/* Blocks outer, row steps inner, the block's kept columns innermost: a step's sums stay in
 * registers over all the block's columns (or its two groups, see MAX_STREAMS), then go through
 * the epilogue once (y += (d * dx) * isum, rows' blocks in order, as the scalar spec). */
static inline __attribute__((always_inline)) void native(bool q4, const zs_mat *w, const zs_sel *s, uint32_t b0, uint32_t nb, uint32_t c0,
                                                         uint32_t c1, float *y) {
    _Alignas(64) int32_t part[SPLIT_TILE];
    cols4v p[2];
    const size_t r0 = 64 * (size_t)c0, r1 = 64 * (size_t)c1;
    memset(y + r0, 0, (r1 - r0) * sizeof(float));
    uint32_t b = zk_sparse_next_block(s, b0 - 1, nb);
    if (b < nb) make_cols(w, s, b, &p[0]);
    for (int cur = 0; b < nb; cur ^= 1) {
        const uint32_t bn = zk_sparse_next_block(s, b, nb);
        if (bn < nb) make_cols(w, s, bn, &p[cur ^ 1]);
        const cols4v *P = &p[cur], *N = bn < nb ? &p[cur ^ 1] : NULL;
        const uint8_t *scales = w->cols + (size_t)b * w->blk_bytes, *nscales = N ? w->cols + (size_t)bn * w->blk_bytes : NULL;
        const float dx = s->dx8[b];
        const __m512i off = _mm512_set1_epi32((q4 ? 8 : 128) * s->sum8[b]);
        if (P->n <= MAX_STREAMS) {
            walk(q4, P, 0, P->n, scales, dx, off, r0, r1, r0, r1, N, nscales, true, part, false, false, y);
        } else {
            const uint32_t h = (P->n / 2 + 3) & ~3u; /* two groups of at most 16 (n <= 32) */
            for (size_t t0 = r0; t0 < r1; t0 += SPLIT_TILE) {
                const size_t t1 = t0 + SPLIT_TILE < r1 ? t0 + SPLIT_TILE : r1;
                walk(q4, P, 0, h, scales, dx, off, r0, r1, t0, t1, N, nscales, false, part, false, true, y);
                walk(q4, P, h, P->n, scales, dx, off, r0, r1, t0, t1, N, nscales, t1 == r1, part, true, false, y);
            }
        }
        b = bn;
    }
}

static void q8_avx512vnni(const zs_mat *w, const zs_sel *s, uint32_t b0, uint32_t nb, uint32_t c0, uint32_t c1, float *y) {
    native(false, w, s, b0, nb, c0, c1, y);
}
static void q4_avx512vnni(const zs_mat *w, const zs_sel *s, uint32_t b0, uint32_t nb, uint32_t c0, uint32_t c1, float *y) {
    native(true, w, s, b0, nb, c0, c1, y);
}

zk_sparse_native_fn zk_sparse_q8_avx512vnni(void) { return q8_avx512vnni; }
zk_sparse_native_fn zk_sparse_q4_avx512vnni(void) { return q4_avx512vnni; }
