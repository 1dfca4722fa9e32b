/* cuda_fattn.cu — prompt attention on the tensor cores (flash-attention style), for head sizes 64 and
 * 128 (dk == dv): a thread block takes 64 query rows of one head, 16 per warp, and walks the cached
 * positions 64 at a time up to its last row's (causal), with an online softmax, so memory does not
 * grow with the square of the prompt.
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

#include <string.h>

#define FA_ROWS 64 /* query rows a block */
#define FA_KV 64   /* positions a tile */
#define FA_WARPS 4
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
 * 1), c2, c3 = (row g + 8, same cols). K is kept [position][d] in shared memory (a B fragment's
 * two k values are adjacent there), V transposed to [d][position] for the same reason. */
/* 8 codes of a quantized row (type t, elements d8 .. d8 + 7) as f16 values (q4_0: the code - 8) */
__device__ __forceinline__ uint4 fa_codes8(int t, const uint8_t *row, int d8) {
    uint2 b;
    int sh = 0;
    if (t == ZETA_TYPE_Q8_0) {
        b = *(const uint2 *)(row + d8);
    } else {
        const int blk = d8 / 32, j0 = d8 % 32;
        b = *(const uint2 *)(row + 16 * blk + j0 % 16);
        sh = j0 < 16 ? 0 : 4;
    }
    __half h[8];
#pragma unroll
    for (int e = 0; e < 8; e++) {
        const uint32_t by = ((e < 4 ? b.x : b.y) >> (8 * (e & 3))) & 0xffu;
        const int v = t == ZETA_TYPE_Q8_0 ? (int)(int8_t)by : (int)((by >> sh) & 15u) - 8;
        h[e] = __int2half_rn(v);
    }
    return *(const uint4 *)h;
}

template <int D, bool QK, bool QV>
__global__ void __launch_bounds__(32 * FA_WARPS)
k_fattn(const float *q, const uint8_t *Kb, const uint8_t *Vb, float *out, cuda_attn_args a, cuda_kvq f, float *part, int n_split) {
    constexpr int KS = D + 8, VS = FA_KV + 8; /* padded strides (halves): conflict-free fragment loads */
    constexpr int NB = D / 32;
    __shared__ __align__(16) __half sk[FA_KV * KS];
    __shared__ __align__(16) __half sv[D * VS];
    __shared__ float sdk[QK ? FA_KV * NB : 1], sdv[QV ? FA_KV * NB : 1]; /* the blocks' scales [position][block] */
    const __half *K = (const __half *)Kb, *V = (const __half *)Vb;
    const int cbk = kq_code_bytes(f.tk, D), cbv = kq_code_bytes(f.tv, D);
    const float vscale = f.tv == ZETA_TYPE_Q4_0 ? FA_VSCALE_Q4 : FA_VSCALE_Q8;
    const __half *Ks = (const __half *)(Kb + (size_t)f.n_ctx * a.n_head_kv * cbk), *Vs = (const __half *)(Vb + (size_t)f.n_ctx * a.n_head_kv * cbv);
    const int qt = gridDim.x - 1 - blockIdx.x; /* the longest rows first */
    const int h = blockIdx.y, hk = h / (a.n_head / a.n_head_kv);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int n_kv = (int)a.pos0 + a.n_tok;
    const size_t ks = (size_t)a.n_head_kv * D;
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
    for (int kv0 = kv_begin; kv0 < kv_end; kv0 += FA_KV) {
        __syncthreads(); /* the previous tile is no longer read */
        for (int c = threadIdx.x; c < FA_KV * (D / 8); c += 32 * FA_WARPS) {
            const int p = c / (D / 8), d8 = 8 * (c % (D / 8));
            uint4 kx = make_uint4(0, 0, 0, 0), vx = kx; /* positions past the cache's end: zeros (masked) */
            if (kv0 + p < n_kv) {
                const size_t row = (size_t)(kv0 + p) * a.n_head_kv + hk;
                if (QK) kx = fa_codes8(f.tk, Kb + row * cbk, d8);
                else kx = *(const uint4 *)(K + (size_t)(kv0 + p) * ks + (size_t)hk * D + d8);
                if (QV) vx = fa_codes8(f.tv, Vb + row * cbv, d8);
                else vx = *(const uint4 *)(V + (size_t)(kv0 + p) * ks + (size_t)hk * D + d8);
            }
            *(uint4 *)(sk + p * KS + d8) = kx;
            const __half *vh = (const __half *)&vx;
#pragma unroll
            for (int e = 0; e < 8; e++) sv[(d8 + e) * VS + p] = vh[e];
        }
        if (QK || QV)
            for (int c = threadIdx.x; c < FA_KV * NB; c += 32 * FA_WARPS) {
                const int p = c / NB, b = c % NB;
                const size_t row = (size_t)(kv0 + p) * a.n_head_kv + hk;
                if (QK) sdk[c] = kv0 + p < n_kv ? __half2float(Ks[row * NB + b]) : 0.0f;
                if (QV) sdv[c] = kv0 + p < n_kv ? __half2float(Vs[row * NB + b]) : 0.0f;
            }
        __syncthreads();
        if (kv0 > wlast) continue; /* past every row of this warp (warp-uniform: the MMAs need the whole warp) */

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
                s[n][e] = p <= lim0 ? s[n][e] * a.scale : -INFINITY;
                s[n][2 + e] = p <= lim1 ? s[n][2 + e] * a.scale : -INFINITY;
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
                    for (int j = 4 * b; j < 4 * b + 4; j++) {
                        const __half *vr = sv + (8 * j + g) * VS + 16 * kk + 2 * t;
                        const uint32_t b0 = *(const uint32_t *)vr, b1 = *(const uint32_t *)(vr + 8);
                        mma_f16(o[j], ph, b0, b1);
                        mma_f16(o[j], pl, b0, b1);
                    }
                }
                continue;
            }
            uint32_t ph[4], pl[4];
            split2(s[2 * kk][0], s[2 * kk][1], &ph[0], &pl[0]);
            split2(s[2 * kk][2], s[2 * kk][3], &ph[1], &pl[1]);
            split2(s[2 * kk + 1][0], s[2 * kk + 1][1], &ph[2], &pl[2]);
            split2(s[2 * kk + 1][2], s[2 * kk + 1][3], &ph[3], &pl[3]);
#pragma unroll
            for (int j = 0; j < D / 8; j++) {
                const __half *vr = sv + (8 * j + g) * VS + 16 * kk + 2 * t;
                const uint32_t b0 = *(const uint32_t *)vr, b1 = *(const uint32_t *)(vr + 8);
                mma_f16(o[j], ph, b0, b1);
                mma_f16(o[j], pl, b0, b1);
            }
        }
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

template <int D>
static void fattn_launch(cudaStream_t s, dim3 grid, const cuda_attn_args *a, const cuda_kvq *f, const void *K, const void *V, const float *q,
                         float *out, float *part) {
    const bool qk = kq_quant(f->tk), qv = kq_quant(f->tv);
    const uint8_t *Kb = (const uint8_t *)K, *Vb = (const uint8_t *)V;
    const int n = (int)grid.z;
    if (qk && qv) k_fattn<D, true, true><<<grid, 32 * FA_WARPS, 0, s>>>(q, Kb, Vb, out, *a, *f, part, n);
    else if (qk) k_fattn<D, true, false><<<grid, 32 * FA_WARPS, 0, s>>>(q, Kb, Vb, out, *a, *f, part, n);
    else if (qv) k_fattn<D, false, true><<<grid, 32 * FA_WARPS, 0, s>>>(q, Kb, Vb, out, *a, *f, part, n);
    else k_fattn<D, false, false><<<grid, 32 * FA_WARPS, 0, s>>>(q, Kb, Vb, out, *a, *f, part, n);
}

/* slices of the positions: with fewer than FA_BLOCKS_SM blocks a multiprocessor and long prefixes,
 * the positions are split (at least 8 tiles a slice) and the partials merged; part holds them */
#define FA_BLOCKS_SM 8
static int fattn_split(const cuda_attn_args *a, size_t part_floats, int n_sm) {
    static int on = -1;
    if (!cuda_switch_on("ZETA_CUDA_FATTN_SPLIT", &on)) return 1;
    const int blocks = (a->n_tok + FA_ROWS - 1) / FA_ROWS * a->n_head;
    const int tiles = ((int)a->pos0 + a->n_tok + FA_KV - 1) / FA_KV;
    int n = (FA_BLOCKS_SM * n_sm + blocks - 1) / blocks;
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
    if (a->dk == 64) fattn_launch<64>(s, grid, a, f, K, V, q, out, part);
    else if (a->dk == 128) fattn_launch<128>(s, grid, a, f, K, V, q, out, part);
    else return cudaErrorInvalidValue;
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess && n_split > 1) {
        cuda_sparse_round none;
        memset(&none, 0, sizeof none);
        e = cuda_kvq_merge(s, false, part, out, a->n_head, a->n_tok, a->dv, n_split, 0, NULL, none);
    }
    return e;
}
