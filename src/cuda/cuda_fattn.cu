/* cuda_fattn.cu — prompt attention on the tensor cores (flash-attention style), for head sizes 64 and
 * 128 (dk == dv): a thread block takes 64 query rows of one head, 16 per warp, and walks the cached
 * positions 64 at a time up to its last row's (causal), with an online softmax, so memory does not
 * grow with the square of the prompt. The next tile's rows are copied into shared memory (cp.async)
 * while the present one is computed.
 *
 * Precision: the cache holds K and V in f16 and the CPU's attention multiplies them by f32 queries
 * and f32 probabilities. The f16 MMA (m16n8k16, f32 accumulation) takes both operands in f16, so the
 * f32 operand is split into two halves, x = hi + lo (hi = f16(x), lo = f16(x - hi)), and each
 * product is two MMAs: the products of f16 values are exact, and what is lost is lo's rounding,
 * about 2^-22 of x. The scores are then scaled in f32 as the CPU does (scale * q.k), and the output
 * divided by the softmax sum at the end. Queries beyond f16's range (|q| > 65504) would overflow:
 * the cached keys have the same limit.
 *
 * Quantized caches (cuda_kvq: q8_0 / q4_0 K or V): the tiles hold the codes as f16 (exact) and the
 * blocks' scales as floats. The CPU multiplies the query rounded to q8_0 and expanded again (the
 * prep kernel, k_kvq_prep, leaves q so in memory) by the dequantized K (codes * d): here each
 * 32-wide block of the head is its own pair of MMAs, scaled by the key's d per column, and the
 * blocks are added. For V the probabilities are multiplied by the value's d per position before
 * the split (one product per 32-wide block of the output), so the codes stay exact. */
#include "cuda/cuda_kvq.cuh"

#include <stdlib.h>
#include <string.h>

#define FA_ROWS 64 /* query rows a block */
#define FA_KV 64   /* positions a tile */
#define FA_WARPS 4
/* blocks a multiprocessor the D = 64 kernels are compiled for (registers capped at 128 a thread) */
#ifndef FA_MINB64
#define FA_MINB64 4
#endif
/* quantized V: p * d is scaled by this into f16's normal range before the split (p <= 1, so the
 * scaled value overflows only where |d| > 65504 / scale: a q8_0 block of magnitude over 32500, a
 * q4_0 block over 16000, beyond what an f16 cache holds anyway) */
#define FA_VSCALE_Q8 256.0f
#define FA_VSCALE_Q4 32.0f

__device__ __forceinline__ void mma_f16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* (x, y) -> hi, lo halves with x = hi + lo up to lo's rounding */
__device__ __forceinline__ void split2(float x, float y, uint32_t *hi, uint32_t *lo) {
    const __half2 h = __floats2half2_rn(x, y);
    const float2 hf = __half22float2(h);
    const __half2 l = __floats2half2_rn(x - hf.x, y - hf.y);
    *hi = *(const uint32_t *)&h;
    *lo = *(const uint32_t *)&l;
}

/* grid (query tiles, n_head), FA_WARPS warps. MMA fragments (m16n8k16, g = lane / 4, t = lane % 4):
 * A a0 = (row g, k 2t..2t+1), a1 = (row g + 8, same k), a2 = (row g, k 2t + 8..), a3 = (row g + 8, k
 * 2t + 8..); B b0 = (k 2t..2t+1, col g), b1 = (k 2t + 8.., col g); C c0, c1 = (row g, cols 2t, 2t +
 * 1), c2, c3 = (row g + 8, same cols). K and V are kept [position][d] in shared memory: a B
 * fragment of K (two adjacent d) is one 32-bit load, one of V (two adjacent positions) comes from
 * ldmatrix.trans. */
/* 8 codes of a quantized row (type t, elements d8 .. d8 + 7) as f16 values (q4_0: the code - 8).
 * Each byte (q8_0: the code with its sign bit flipped, i.e. code + 128; q4_0: the nibble) becomes the
 * low mantissa byte of an f16 with exponent bits 0x64 (1024 + byte, exact), then 1024 + 128 (q8_0)
 * or 1024 + 8 (q4_0) is subtracted: the integer code, exact, two codes an instruction. */
__device__ __forceinline__ uint4 fa_codes8(int t, const uint8_t *row, int d8) {
    uint2 b;
    __half2 off;
    if (t == ZETA_TYPE_Q8_0) {
        b = *(const uint2 *)(row + d8);
        b.x ^= 0x80808080u;
        b.y ^= 0x80808080u;
        off = __halves2half2(__ushort_as_half(0x6480), __ushort_as_half(0x6480)); /* 1152 */
    } else {
        const int blk = d8 / 32, j0 = d8 % 32;
        b = *(const uint2 *)(row + 16 * blk + j0 % 16);
        const int sh = j0 < 16 ? 0 : 4;
        b.x = (b.x >> sh) & 0x0f0f0f0fu;
        b.y = (b.y >> sh) & 0x0f0f0f0fu;
        off = __halves2half2(__ushort_as_half(0x6408), __ushort_as_half(0x6408)); /* 1032 */
    }
    const uint32_t e = 0x64006400u; /* bytes 5 and 7 of the permute: the exponent bits */
    uint32_t r[4] = {__byte_perm(b.x, e, 0x7150), __byte_perm(b.x, e, 0x7352), __byte_perm(b.y, e, 0x7150), __byte_perm(b.y, e, 0x7352)};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const __half2 h = __hsub2(*(const __half2 *)&r[i], off);
        r[i] = *(const uint32_t *)&h;
    }
    return make_uint4(r[0], r[1], r[2], r[3]);
}

/* 16 bytes global -> shared, asynchronously; src_ok false: 16 zero bytes (src is not read) */
__device__ __forceinline__ void fa_cp16(unsigned dst, const void *src, bool src_ok) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(src_ok ? 16 : 0));
}
/* four 8 x 8 f16 matrices from shared memory, transposed: lane l gives the address of row l % 8 of
 * matrix l / 8 and receives, of matrix i, elements (rows 2 (l % 4), 2 (l % 4) + 1; column l / 4) in r[i] */
__device__ __forceinline__ void fa_ldsm_x4_t(uint32_t (&r)[4], unsigned addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

/* one tile of FA_KV positions for a warp's 16 rows: scores, online softmax, o += p v. sk / sv: the
 * tile's K and V [position][d]; sdk / sdv its block scales (quantized caches) */
template <int D, bool QK, bool QV>
__device__ __forceinline__ void fattn_tile(const __half *sk, const __half *sv, const float *sdk, const float *sdv, int kv0, int lim0, int lim1,
                                           float scale, float vscale, const uint32_t (&qh)[D / 16][4], const uint32_t (&ql)[D / 16][4],
                                           float (&o)[D / 8][4], float &m0, float &m1, float &l0, float &l1) {
    constexpr int KS = D + 8, NB = D / 32;
    const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    /* ldmatrix rows of V: lane l addresses position (l / 8 % 2) * 8 + l % 8 of a 16-position step,
     * columns 8 (l / 16) onwards of a pair of 8-column tiles */
    const unsigned vaddr = (unsigned)__cvta_generic_to_shared(sv + ((lane >> 3 & 1) * 8 + (lane & 7)) * KS + 8 * (lane >> 4));
    float s[FA_KV / 8][4];
#pragma unroll
    for (int n = 0; n < FA_KV / 8; n++) {
        s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
        const __half *kr = sk + (8 * n + g) * KS + 2 * t;
        if (QK) {
            /* per 32-wide block: the codes' products, then times d of the column's key */
#pragma unroll
            for (int b = 0; b < NB; b++) {
                float tb[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
                for (int kk = 2 * b; kk < 2 * b + 2; kk++) {
                    const uint32_t b0 = *(const uint32_t *)(kr + 16 * kk), b1 = *(const uint32_t *)(kr + 16 * kk + 8);
                    mma_f16(tb, qh[kk], b0, b1);
                    mma_f16(tb, ql[kk], b0, b1);
                }
                const float d0 = sdk[(8 * n + 2 * t) * NB + b], d1 = sdk[(8 * n + 2 * t + 1) * NB + b];
                s[n][0] += tb[0] * d0;
                s[n][1] += tb[1] * d1;
                s[n][2] += tb[2] * d0;
                s[n][3] += tb[3] * d1;
            }
        } else {
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                const uint32_t b0 = *(const uint32_t *)(kr + 16 * kk), b1 = *(const uint32_t *)(kr + 16 * kk + 8);
                mma_f16(s[n], qh[kk], b0, b1);
                mma_f16(s[n], ql[kk], b0, b1);
            }
        }
    }
    /* scale, causal mask, online softmax (rows g and g + 8; the 4 lanes of a row hold 2 columns
     * of each 8-column tile) */
    float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
    for (int n = 0; n < FA_KV / 8; n++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
            const int p = kv0 + 8 * n + 2 * t + e;
            s[n][e] = p <= lim0 ? s[n][e] * scale : -INFINITY;
            s[n][2 + e] = p <= lim1 ? s[n][2 + e] * scale : -INFINITY;
            mx0 = fmaxf(mx0, s[n][e]);
            mx1 = fmaxf(mx1, s[n][2 + e]);
        }
#pragma unroll
    for (int off = 1; off <= 2; off <<= 1) {
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, off));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, off));
    }
    const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
    /* a row with nothing visible yet keeps m = -inf: its probabilities are 0, not NaN */
    const float c0 = mn0 == -INFINITY ? 1.0f : expf(m0 - mn0), c1 = mn1 == -INFINITY ? 1.0f : expf(m1 - mn1);
    m0 = mn0;
    m1 = mn1;
    l0 *= c0;
    l1 *= c1;
#pragma unroll
    for (int j = 0; j < D / 8; j++) {
        o[j][0] *= c0; o[j][1] *= c0;
        o[j][2] *= c1; o[j][3] *= c1;
    }
#pragma unroll
    for (int n = 0; n < FA_KV / 8; n++)
#pragma unroll
        for (int e = 0; e < 2; e++) {
            s[n][e] = s[n][e] == -INFINITY ? 0.0f : expf(s[n][e] - m0);
            s[n][2 + e] = s[n][2 + e] == -INFINITY ? 0.0f : expf(s[n][2 + e] - m1);
            l0 += s[n][e];
            l1 += s[n][2 + e];
        }
    /* o += p v: the score tiles 2 kk, 2 kk + 1 are the A fragment of positions 16 kk .. 16 kk + 15 */
#pragma unroll
    for (int kk = 0; kk < FA_KV / 16; kk++) {
        if (QV) {
            /* per 32-wide block b of the output: p * d of the position's value for block b */
            const int pa = 16 * kk + 2 * t, pb = pa + 8;
#pragma unroll
            for (int b = 0; b < NB; b++) {
                /* times vscale: p * d is often below f16's normal range, where the split loses
                 * bits; the sums are divided by it at the end (a power of two: exact) */
                const float da0 = sdv[pa * NB + b] * vscale, da1 = sdv[(pa + 1) * NB + b] * vscale;
                const float db0 = sdv[pb * NB + b] * vscale, db1 = sdv[(pb + 1) * NB + b] * vscale;
                uint32_t ph[4], pl[4];
                split2(s[2 * kk][0] * da0, s[2 * kk][1] * da1, &ph[0], &pl[0]);
                split2(s[2 * kk][2] * da0, s[2 * kk][3] * da1, &ph[1], &pl[1]);
                split2(s[2 * kk + 1][0] * db0, s[2 * kk + 1][1] * db1, &ph[2], &pl[2]);
                split2(s[2 * kk + 1][2] * db0, s[2 * kk + 1][3] * db1, &ph[3], &pl[3]);
#pragma unroll
                for (int j = 4 * b; j < 4 * b + 4; j += 2) {
                    uint32_t vb[4]; /* B fragments (b0, b1) of output columns 8 j .. and 8 (j + 1) .. */
                    fa_ldsm_x4_t(vb, vaddr + (unsigned)(16 * kk * KS + 8 * j) * 2u);
                    mma_f16(o[j], ph, vb[0], vb[1]);
                    mma_f16(o[j], pl, vb[0], vb[1]);
                    mma_f16(o[j + 1], ph, vb[2], vb[3]);
                    mma_f16(o[j + 1], pl, vb[2], vb[3]);
                }
            }
            continue; /* the next 16 positions */
        }
        uint32_t ph[4], pl[4];
        split2(s[2 * kk][0], s[2 * kk][1], &ph[0], &pl[0]);
        split2(s[2 * kk][2], s[2 * kk][3], &ph[1], &pl[1]);
        split2(s[2 * kk + 1][0], s[2 * kk + 1][1], &ph[2], &pl[2]);
        split2(s[2 * kk + 1][2], s[2 * kk + 1][3], &ph[3], &pl[3]);
#pragma unroll
        for (int j = 0; j < D / 8; j += 2) {
            uint32_t vb[4];
            fa_ldsm_x4_t(vb, vaddr + (unsigned)(16 * kk * KS + 8 * j) * 2u);
            mma_f16(o[j], ph, vb[0], vb[1]);
            mma_f16(o[j], pl, vb[0], vb[1]);
            mma_f16(o[j + 1], ph, vb[2], vb[3]);
            mma_f16(o[j + 1], pl, vb[2], vb[3]);
        }
    }
}

/* shared memory of a block. The f16 tiles of K and V ([position][d], stride D + 8 halves) are read
 * by the MMAs; an f16 cache's rows are copied into them by cp.async, in two stages (one is computed
 * while the next is copied). A quantized operand's raw rows (codes, then the block scales) are
 * copied by cp.async into two raw stages instead and expanded into one f16 tile (codes as f16, the
 * scales as floats [position][block]) just before the tile is computed. */
template <int D> struct fa_raw {                          /* a raw stage of a quantized operand */
    static constexpr int NB = D / 32;
    static constexpr int RS = FA_KV * D;                     /* the codes (q8_0; q4_0 uses half), then the scales */
    static constexpr int BYTES = RS + FA_KV * NB * 2;        /* ... f16 scales [position][block] */
};
template <int D, bool QK, bool QV> struct fa_smem {
    static constexpr int KS = D + 8, NB = D / 32;
    static constexpr int TILE = FA_KV * KS * 2;              /* bytes of an f16 tile */
    static constexpr int KT = QK ? 1 : 2, VT = QV ? 1 : 2;   /* f16 tiles of K, V */
    static constexpr int RAW = fa_raw<D>::BYTES;
    static constexpr int OFF_V = KT * TILE, OFF_DK = OFF_V + VT * TILE, OFF_DV = OFF_DK + (QK ? FA_KV * NB * 4 : 0);
    static constexpr int OFF_RK = OFF_DV + (QV ? FA_KV * NB * 4 : 0), OFF_RV = OFF_RK + (QK ? 2 * RAW : 0);
    static constexpr size_t BYTES = OFF_RV + (QV ? 2 * RAW : 0);
};

/* 4 or 8 bytes global -> shared, asynchronously (src_ok false: zeros) */
__device__ __forceinline__ void fa_cp_small(unsigned dst, const void *src, int bytes, bool src_ok) {
    if (bytes == 8) asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;" ::"r"(dst), "l"(src), "r"(src_ok ? 8 : 0));
    else asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(dst), "l"(src), "r"(src_ok ? 4 : 0));
}

/* a quantized operand's raw rows of positions kv0 .. kv0 + FA_KV - 1 (row bytes cb, head hk) into
 * raw stage r; positions past n_kv as zeros (codes and scales 0: masked K, or V times p = 0) */
template <int D>
__device__ __forceinline__ void fa_raw_load(uint8_t *r, const uint8_t *codes, const __half *scales, int cb, int kv0, int n_kv, int nkv, int hk) {
    constexpr int NB = fa_raw<D>::NB, RS = fa_raw<D>::RS;
    const int n16 = cb / 16;
    for (int c = threadIdx.x; c < FA_KV * n16; c += 32 * FA_WARPS) {
        const int p = c / n16, o = 16 * (c % n16);
        const bool ok = kv0 + p < n_kv;
        const size_t row = (size_t)(ok ? kv0 + p : 0) * nkv + hk;
        fa_cp16((unsigned)__cvta_generic_to_shared(r + p * cb + o), codes + row * cb + o, ok);
    }
    for (int p = threadIdx.x; p < FA_KV; p += 32 * FA_WARPS) {
        const bool ok = kv0 + p < n_kv;
        const size_t row = (size_t)(ok ? kv0 + p : 0) * nkv + hk;
        fa_cp_small((unsigned)__cvta_generic_to_shared(r + RS + 2 * NB * p), scales + row * NB, 2 * NB, ok);
    }
}

/* raw stage r (type t, row bytes cb) expanded into the f16 tile and the float scales */
template <int D>
__device__ __forceinline__ void fa_raw_expand(__half *tile, float *sd, const uint8_t *r, int t, int cb) {
    constexpr int KS = D + 8, NB = fa_raw<D>::NB, RS = fa_raw<D>::RS;
    for (int c = threadIdx.x; c < FA_KV * (D / 8); c += 32 * FA_WARPS) {
        const int p = c / (D / 8), d8 = 8 * (c % (D / 8));
        *(uint4 *)(tile + p * KS + d8) = fa_codes8(t, r + p * cb, d8);
    }
    const __half *rs = (const __half *)(r + RS);
    for (int c = threadIdx.x; c < FA_KV * NB; c += 32 * FA_WARPS) sd[c] = __half2float(rs[c]);
}

template <int D, bool QK, bool QV>
__global__ void __launch_bounds__(32 * FA_WARPS, D == 64 ? FA_MINB64 : 2)
k_fattn(const float *q, const uint8_t *Kb, const uint8_t *Vb, float *out, cuda_attn_args a, cuda_kvq f, float *part, int n_split) {
    typedef fa_smem<D, QK, QV> SM;
    constexpr int KS = SM::KS, TILE = SM::TILE;
    extern __shared__ __align__(16) unsigned char fa_sh[];
    const __half *K = (const __half *)Kb, *V = (const __half *)Vb;
    const int cbk = kq_code_bytes(f.tk, D), cbv = kq_code_bytes(f.tv, D);
    const float vscale = f.tv == ZETA_TYPE_Q4_0 ? FA_VSCALE_Q4 : FA_VSCALE_Q8;
    const __half *Ks = (const __half *)(Kb + (size_t)f.n_ctx * a.n_head_kv * cbk), *Vs = (const __half *)(Vb + (size_t)f.n_ctx * a.n_head_kv * cbv);
    const int qt = gridDim.x - 1 - blockIdx.x; /* the longest rows first */
    const int h = blockIdx.y, hk = h / (a.n_head / a.n_head_kv);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int n_kv = (int)a.pos0 + a.n_tok;
    /* this warp's rows (clamped to the last token: rows past it repeat it and are not stored) */
    const int r0 = min(qt * FA_ROWS + 16 * warp + g, a.n_tok - 1), r1 = min(qt * FA_ROWS + 16 * warp + g + 8, a.n_tok - 1);
    const int lim0 = (int)a.pos0 + r0, lim1 = (int)a.pos0 + r1; /* last position each row sees */
    const int wlast = (int)a.pos0 + min(qt * FA_ROWS + 16 * warp + 15, a.n_tok - 1);

    uint32_t qh[D / 16][4], ql[D / 16][4];
    {
        const float *q0 = q + ((size_t)r0 * a.n_head + h) * D, *q1 = q + ((size_t)r1 * a.n_head + h) * D;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            const float2 x0 = *(const float2 *)(q0 + 16 * kk + 2 * t), x1 = *(const float2 *)(q1 + 16 * kk + 2 * t);
            const float2 x2 = *(const float2 *)(q0 + 16 * kk + 2 * t + 8), x3 = *(const float2 *)(q1 + 16 * kk + 2 * t + 8);
            split2(x0.x, x0.y, &qh[kk][0], &ql[kk][0]);
            split2(x1.x, x1.y, &qh[kk][1], &ql[kk][1]);
            split2(x2.x, x2.y, &qh[kk][2], &ql[kk][2]);
            split2(x3.x, x3.y, &qh[kk][3], &ql[kk][3]);
        }
    }
    float o[D / 8][4];
#pragma unroll
    for (int j = 0; j < D / 8; j++) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;

    const int last = (int)a.pos0 + min(qt * FA_ROWS + FA_ROWS - 1, a.n_tok - 1);
    /* slice sp of the positions 0..last (whole tiles); one slice: all of them */
    const int sp = blockIdx.z, n_tiles = last / FA_KV + 1, per = (n_tiles + n_split - 1) / n_split;
    const int kv_begin = sp * per * FA_KV, kv_end = min(last + 1, (sp + 1) * per * FA_KV);
    /* tile kv0 into stage st: f16 rows by cp.async into the f16 tiles (positions past the cache's
     * end as zeros: they are masked, and zeros keep 0 * v finite), quantized rows into raw stages */
    auto load = [&](int st, int kv0) {
        for (int c = threadIdx.x; c < FA_KV * (D / 8); c += 32 * FA_WARPS) {
            const int p = c / (D / 8), d8 = 8 * (c % (D / 8));
            const bool ok = kv0 + p < n_kv;
            const size_t row = (size_t)(ok ? kv0 + p : 0) * a.n_head_kv + hk;
            if (!QK) fa_cp16((unsigned)__cvta_generic_to_shared(fa_sh + st * TILE + 2 * (p * KS + d8)), K + row * D + d8, ok);
            if (!QV) fa_cp16((unsigned)__cvta_generic_to_shared(fa_sh + SM::OFF_V + st * TILE + 2 * (p * KS + d8)), V + row * D + d8, ok);
        }
        if (QK) fa_raw_load<D>(fa_sh + SM::OFF_RK + st * SM::RAW, Kb, Ks, cbk, kv0, n_kv, a.n_head_kv, hk);
        if (QV) fa_raw_load<D>(fa_sh + SM::OFF_RV + st * SM::RAW, Vb, Vs, cbv, kv0, n_kv, a.n_head_kv, hk);
        cp_commit();
    };
    if (kv_begin < kv_end) load(0, kv_begin);
    int st = 0;
    for (int kv0 = kv_begin; kv0 < kv_end; kv0 += FA_KV, st ^= 1) {
        /* the next tile on its way into the other stage (freed by the barrier at the end of the last
         * iteration) while this one is computed */
        if (kv0 + FA_KV < kv_end) {
            load(st ^ 1, kv0 + FA_KV);
            cp_wait<1>();
        } else {
            cp_wait<0>();
        }
        __syncthreads(); /* this tile is in shared memory for every warp */
        __half *tk = (__half *)(fa_sh + (QK ? 0 : st * TILE)), *tv = (__half *)(fa_sh + SM::OFF_V + (QV ? 0 : st * TILE));
        float *sdk = (float *)(fa_sh + SM::OFF_DK), *sdv = (float *)(fa_sh + SM::OFF_DV);
        if (QK || QV) { /* the single f16 tile of a quantized operand was last read before the last barrier */
            if (QK) fa_raw_expand<D>(tk, sdk, fa_sh + SM::OFF_RK + st * SM::RAW, f.tk, cbk);
            if (QV) fa_raw_expand<D>(tv, sdv, fa_sh + SM::OFF_RV + st * SM::RAW, f.tv, cbv);
            __syncthreads();
        }
        if (kv0 <= wlast) /* else past every row of this warp (warp-uniform: the MMAs need the whole warp) */
            fattn_tile<D, QK, QV>(tk, tv, sdk, sdv, kv0, lim0, lim1, a.scale, vscale, qh, ql, o, m0, m1, l0, l1);
        __syncthreads(); /* this stage is no longer read: the next iteration may refill it */
    }
#pragma unroll
    for (int off = 1; off <= 2; off <<= 1) {
        l0 += __shfl_xor_sync(0xffffffffu, l0, off);
        l1 += __shfl_xor_sync(0xffffffffu, l1, off);
    }
    if (QV) {
        l0 *= vscale;
        l1 *= vscale;
    }
    const int row0 = qt * FA_ROWS + 16 * warp + g, row1 = row0 + 8;
    if (n_split > 1) { /* partials for cuda_kvq_merge: the unnormalized sums, m, l ([row][slice][D + 2]) */
        float *p0 = part + (((size_t)row0 * a.n_head + h) * n_split + sp) * (D + 2);
        float *p1 = part + (((size_t)row1 * a.n_head + h) * n_split + sp) * (D + 2);
#pragma unroll
        for (int j = 0; j < D / 8; j++) {
            if (row0 < a.n_tok) *(float2 *)(p0 + 8 * j + 2 * t) = make_float2(o[j][0], o[j][1]);
            if (row1 < a.n_tok) *(float2 *)(p1 + 8 * j + 2 * t) = make_float2(o[j][2], o[j][3]);
        }
        if (t == 0) {
            if (row0 < a.n_tok) { p0[D] = m0; p0[D + 1] = l0; }
            if (row1 < a.n_tok) { p1[D] = m1; p1[D + 1] = l1; }
        }
        return;
    }
#pragma unroll
    for (int j = 0; j < D / 8; j++) {
        if (row0 < a.n_tok)
            *(float2 *)(out + ((size_t)row0 * a.n_head + h) * D + 8 * j + 2 * t) = make_float2(o[j][0] / l0, o[j][1] / l0);
        if (row1 < a.n_tok)
            *(float2 *)(out + ((size_t)row1 * a.n_head + h) * D + 8 * j + 2 * t) = make_float2(o[j][2] / l1, o[j][3] / l1);
    }
}

bool cuda_fattn_ok(const cuda_attn_args *a) {
    static int on = -1;
    return a->n_tok >= 16 && a->dk == a->dv && (a->dk == 64 || a->dk == 128) && !a->fuse_store && !a->pos_dev && !a->xq &&
           a->n_head % a->n_head_kv == 0 && cuda_switch_on("ZETA_CUDA_FATTN", &on);
}

template <int D, bool QK, bool QV>
static cudaError_t fattn_launch1(cudaStream_t s, dim3 grid, const cuda_attn_args *a, const cuda_kvq *f, const uint8_t *Kb, const uint8_t *Vb,
                                 const float *q, float *out, float *part) {
    /* the two stages need more than the 48 KB a block gets by default when D = 128 (a per-device
     * setting: asked at every launch, a host-side call of about a microsecond) */
    const cudaError_t e = cudaFuncSetAttribute(k_fattn<D, QK, QV>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)fa_smem<D, QK, QV>::BYTES);
    if (e != cudaSuccess) return e;
    k_fattn<D, QK, QV><<<grid, 32 * FA_WARPS, fa_smem<D, QK, QV>::BYTES, s>>>(q, Kb, Vb, out, *a, *f, part, (int)grid.z);
    return cudaGetLastError();
}

template <int D>
static cudaError_t fattn_launch(cudaStream_t s, dim3 grid, const cuda_attn_args *a, const cuda_kvq *f, const void *K, const void *V, const float *q,
                                float *out, float *part) {
    const bool qk = kq_quant(f->tk), qv = kq_quant(f->tv);
    const uint8_t *Kb = (const uint8_t *)K, *Vb = (const uint8_t *)V;
    if (qk && qv) return fattn_launch1<D, true, true>(s, grid, a, f, Kb, Vb, q, out, part);
    if (qk) return fattn_launch1<D, true, false>(s, grid, a, f, Kb, Vb, q, out, part);
    if (qv) return fattn_launch1<D, false, true>(s, grid, a, f, Kb, Vb, q, out, part);
    return fattn_launch1<D, false, false>(s, grid, a, f, Kb, Vb, q, out, part);
}

/* slices of the positions: with fewer than FA_BLOCKS_SM blocks a multiprocessor and long prefixes,
 * the positions are split (at least 8 tiles a slice) and the partials merged; part holds them */
#define FA_BLOCKS_SM 8
static int fattn_split(const cuda_attn_args *a, size_t part_floats, int n_sm) {
    static int on = -1;
    if (!cuda_switch_on("ZETA_CUDA_FATTN_SPLIT", &on)) return 1;
    static int per_sm = -1; /* ZETA_CUDA_FATTN_BLOCKS: blocks a multiprocessor to aim for (tuning) */
    if (per_sm < 0) {
        const char *e = getenv("ZETA_CUDA_FATTN_BLOCKS");
        per_sm = e && atoi(e) > 0 ? atoi(e) : FA_BLOCKS_SM;
    }
    const int blocks = (a->n_tok + FA_ROWS - 1) / FA_ROWS * a->n_head;
    const int tiles = ((int)a->pos0 + a->n_tok + FA_KV - 1) / FA_KV;
    int n = (per_sm * n_sm + blocks - 1) / blocks;
    if (n > tiles / 8) n = tiles / 8;
    if (n > 128) n = 128; /* cuda_kvq_merge's limit */
    while (n > 1 && (size_t)a->n_tok * a->n_head * n * (a->dv + 2) > part_floats) n--;
    return n < 1 ? 1 : n;
}

cudaError_t cuda_fattn(cudaStream_t s, const cuda_attn_args *a, const void *K, const void *V, const float *q, float *out, float *part,
                       size_t part_floats, int n_sm) {
    const int n_split = part ? fattn_split(a, part_floats, n_sm) : 1;
    const dim3 grid((unsigned)((a->n_tok + FA_ROWS - 1) / FA_ROWS), (unsigned)a->n_head, (unsigned)n_split);
    const cuda_kvq f16 = {ZETA_TYPE_F16, ZETA_TYPE_F16, 0, 0, 0};
    const cuda_kvq *f = a->kvq ? a->kvq : &f16;
    cudaError_t e;
    if (a->dk == 64) e = fattn_launch<64>(s, grid, a, f, K, V, q, out, part);
    else if (a->dk == 128) e = fattn_launch<128>(s, grid, a, f, K, V, q, out, part);
    else return cudaErrorInvalidValue;
    if (e == cudaSuccess && n_split > 1) {
        cuda_sparse_round none;
        memset(&none, 0, sizeof none);
        e = cuda_kvq_merge(s, false, part, out, a->n_head, a->n_tok, a->dv, n_split, 0, NULL, none);
    }
    return e;
}
