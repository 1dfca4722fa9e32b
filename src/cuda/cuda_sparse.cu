/* cuda_sparse.cu — the sparse decode pass of variational gating on the GPU (docs/GATING.md): the
 * rounding of a thresholded input to 8 bits (dropped inputs rounded as 0, counted) and the one-token
 * products that read only the weight columns of kept inputs, from the input-channel-major native
 * layouts of sparse.h (the model's own Q8_0 / Q4_0 codes and scales, uploaded by cuda_model.cu).
 *
 * k_smv: a block of 8 warps owns a tile of 512 output rows of one matrix and a slice of the input
 * blocks; the S blocks of a tile (S <= 16) form a thread-block cluster. A warp walks its input
 * blocks b (every 8th of the slice): the 32 8-bit inputs of b (one a lane) give, by ballot, the kept
 * columns, listed in shared memory; the warp loads 8 (Q4_0) or 4 (Q8_0) of them at a time (lane l:
 * 16 rows of each column, 8 bytes of Q4_0 codes or 16 of Q8_0, so a column's 512 rows are one
 * contiguous load of the warp) while it computes the batch before (two buffers). Four columns'
 * bytes of a row are gathered by byte permutes into one word and multiplied with the four inputs by
 * one dp4a, so each row's block sum is the exact integer sum of the dense product over the kept
 * inputs (the dropped ones are 0 there too); per block, sum += (float)(isum - offset) * (d * dx) as
 * k_mmvq does. The warps' sums meet in shared memory (in warp order), then the cluster's blocks add
 * the S slices through distributed shared memory (in rank order, each block a 512 / S rows share)
 * and store with the epilogue (bias, residual). No atomics: the same input gives the same bits. */
#include "cuda/cuda_internal.cuh"
#include "cuda/cuda_smv.cuh"

#include <cooperative_groups.h>
#include <stdlib.h>

namespace cg = cooperative_groups;

#define SMV_WARPS 8
#define SMV_TILE 512  /* output rows of a tile: 32 lanes x 16 */
#define SMV_MAX_SPLIT 16 /* a cluster of 16 is non-portable: smv_launch falls back to 8 where refused */

__device__ __forceinline__ void prefetch_l2(const void *p) { asm volatile("prefetch.global.L2 [%0];" ::"l"(p)); }

/* Lane l of a warp: chunk c = l / 4 (64 rows) of the tile, part t = l % 4 of the chunk's bytes in
 * every column (sparse.h's byte orders, zs_q4_pos / zs_q8_pos), 16 rows, accumulator k of row
 * 64 c + smv_row(k):
 * - Q4_0, bytes 8t..8t+7 (two words): word w's low nibbles rows A + 4w + i, high nibbles rows
 *   A + 32 + 4w + i, A = 0, 16, 8, 24 for t = 0..3; accumulators 4w + i (low) and 8 + 4w + i (high);
 * - Q8_0, bytes 16t..16t+15 (four words): word w rows 16t + {0, 8, 4, 12}[w] + i, accumulator 4w + i. */
template <int FMT> struct smv_fmt {
    static constexpr int LB = FMT == ZS_FMT_Q4 ? 8 : 16;     /* bytes a lane reads of a column */
    static constexpr int NW = LB / 4;                        /* their words */
    static constexpr int BATCH = FMT == ZS_FMT_Q4 ? 8 : 4;   /* columns a warp loads at once (2 KiB) */
};
template <int FMT> __device__ __forceinline__ int smv_row(int t, int k) {
    if (FMT == ZS_FMT_Q4) {
        const int A = t == 0 ? 0 : t == 1 ? 16 : t == 2 ? 8 : 24;
        return k < 8 ? A + k : A + 32 + (k - 8);
    }
    const int w = k >> 2, off = w == 0 ? 0 : w == 1 ? 8 : w == 2 ? 4 : 12;
    return 16 * t + off + (k & 3);
}

template <int FMT> struct smv_batch {
    typedef smv_fmt<FMT> F;
    uint32_t wd[F::BATCH][F::NW];
    uint32_t qp[F::BATCH / 4]; /* the inputs of columns 4g..4g+3, one byte each */
    int b, ng;                 /* input block (-1: none left), groups of 4 columns used */
    bool first, last;          /* first / last batch of block b */
    uint4 s0, s1;              /* first: the scales of the lane's 16 rows (two runs of 8) */
    float dx;
    int off;
};

template <int FMT>
__global__ void __launch_bounds__(32 * SMV_WARPS, 2) k_smv(cuda_smv_job j, const uint8_t *xq, int S, int tiles0, int tiles1) {
    typedef smv_fmt<FMT> F;
    typedef smv_batch<FMT> batch;
    constexpr int LB = F::LB, NW = F::NW, BATCH = F::BATCH;
    const int lane = threadIdx.x & 31, wp = threadIdx.x >> 5;
    if (j.trigger) pdl_trigger(); /* the kernel after this one may be launched (it waits for this one) */
    const int rank = (int)(blockIdx.x % (unsigned)S);
    int tile = (int)(blockIdx.x / (unsigned)S), m = 0;
    if (tile >= tiles0) {
        tile -= tiles0;
        m = 1;
        if (tile >= tiles1) {
            tile -= tiles1;
            m = 2;
        }
    }
    const int rows = smv_pick(j.rows, m);
    const uint8_t *W = smv_pick(j.W, m);
    const int nb = j.K / 32;
    const int b0 = (int)((long long)nb * rank / S), b1 = (int)((long long)nb * (rank + 1) / S);
    const int c = lane >> 2, t = lane & 3;
    const int chunk_row = tile * SMV_TILE + 64 * c;
    const bool valid = chunk_row < rows; /* rows % 64 == 0: a chunk is all in or all out */
    /* the lane's two runs of 8 rows (scales in row order) */
    const int run0 = FMT == ZS_FMT_Q4 ? smv_row<FMT>(t, 0) : 16 * t, run1 = FMT == ZS_FMT_Q4 ? run0 + 32 : run0 + 8;
    const size_t cb = smv_pick(j.col_bytes, m), blk = smv_pick(j.blk_bytes, m);
    const size_t col_off = 2 * (size_t)rows + (size_t)tile * 32 * LB + (size_t)lane * LB;
    const int8_t *xc = (const int8_t *)xq;
    const float *xd = (const float *)(xq + j.K);
    const int *xs = (const int *)(xq + j.K + 4 * (size_t)nb);
    /* the kept columns of the block a warp fetches: column | input << 8, in column order */
    __shared__ uint32_t clist[SMV_WARPS][32];

    /* the scales do not depend on the kernels before: on their way to L2 before waiting */
    if (valid)
        for (int b = b0 + wp; b < b1; b += SMV_WARPS) {
            prefetch_l2(W + (size_t)b * blk + 2 * (size_t)(chunk_row + run0));
            prefetch_l2(W + (size_t)b * blk + 2 * (size_t)(chunk_row + run1));
        }
    pdl_wait();

    int sb = b0 + wp - SMV_WARPS; /* the block being fetched, its kept columns and the next of them */
    int cnt = 0, pos = 0;
    bool sfirst = false;
    /* the inputs of the next block, loaded a block ahead so that the ballot does not wait for them */
    int next_code = b0 + wp < b1 ? xc[32 * (b0 + wp) + lane] : 0;
    auto fetch = [&](batch &bt) {
        while (pos == cnt) {
            sb += SMV_WARPS;
            if (sb >= b1) {
                bt.b = -1;
                return;
            }
            const int code = next_code;
            next_code = sb + SMV_WARPS < b1 ? xc[32 * (sb + SMV_WARPS) + lane] : 0;
            const unsigned mask = __ballot_sync(0xffffffffu, code != 0);
            __syncwarp(); /* the previous block's list is read */
            if (code) clist[wp][__popc(mask & ((1u << lane) - 1u))] = (uint32_t)lane | ((uint32_t)code & 0xffu) << 8;
            __syncwarp();
            cnt = __popc(mask);
            pos = 0;
            sfirst = true;
        }
        bt.b = sb;
        bt.first = sfirst;
        const uint8_t *base = W + (size_t)sb * blk;
        if (sfirst) {
            const uint4 z = make_uint4(0u, 0u, 0u, 0u);
            bt.s0 = valid ? *(const uint4 *)(base + 2 * (size_t)(chunk_row + run0)) : z;
            bt.s1 = valid ? *(const uint4 *)(base + 2 * (size_t)(chunk_row + run1)) : z;
            bt.dx = xd[sb];
            bt.off = FMT == ZS_FMT_Q4 ? 8 * xs[sb] : 0;
        }
        sfirst = false;
        const uint8_t *cols = base + col_off;
        const int n = cnt - pos < BATCH ? cnt - pos : BATCH;
        uint32_t q[BATCH];
#pragma unroll
        for (int u = 0; u < BATCH; u++) {
            q[u] = 0;
#pragma unroll
            for (int k = 0; k < NW; k++) bt.wd[u][k] = 0;
            if (u < n) {
                const uint32_t e = clist[wp][pos + u];
                q[u] = e >> 8;
                if (valid) {
                    const uint8_t *p = cols + (size_t)(e & 31u) * cb;
                    if (NW == 2) {
                        const uint2 v = __ldcs((const uint2 *)p);
                        bt.wd[u][0] = v.x;
                        bt.wd[u][NW - 1] = v.y;
                    } else {
                        const uint4 v = __ldcs((const uint4 *)p);
                        bt.wd[u][0] = v.x;
                        bt.wd[u][1 % NW] = v.y;
                        bt.wd[u][2 % NW] = v.z;
                        bt.wd[u][3 % NW] = v.w;
                    }
                }
            }
        }
#pragma unroll
        for (int g = 0; g < BATCH / 4; g++) bt.qp[g] = q[4 * g] | q[4 * g + 1] << 8 | q[4 * g + 2] << 16 | q[4 * g + 3] << 24;
        bt.ng = (n + 3) / 4;
        pos += n;
        bt.last = pos == cnt;
    };

    float acc[16];
    int isum[16];
#pragma unroll
    for (int k = 0; k < 16; k++) {
        acc[k] = 0.0f;
        isum[k] = 0;
    }
    uint4 s0 = make_uint4(0u, 0u, 0u, 0u), s1 = s0;
    float dx = 0.0f;
    int off = 0;
    auto compute = [&](const batch &bt) {
        if (bt.first) {
#pragma unroll
            for (int k = 0; k < 16; k++) isum[k] = 0;
            s0 = bt.s0;
            s1 = bt.s1;
            dx = bt.dx;
            off = bt.off;
        }
#pragma unroll
        for (int g = 0; g < BATCH / 4; g++) {
            if (g < bt.ng) {
                uint32_t r[4];
#pragma unroll
                for (int w = 0; w < NW; w++) {
                    if (FMT == ZS_FMT_Q4) {
                        tr4(bt.wd[4 * g][w] & 0x0f0f0f0fu, bt.wd[4 * g + 1][w] & 0x0f0f0f0fu, bt.wd[4 * g + 2][w] & 0x0f0f0f0fu,
                            bt.wd[4 * g + 3][w] & 0x0f0f0f0fu, r);
#pragma unroll
                        for (int i = 0; i < 4; i++) isum[4 * w + i] = __dp4a((int)r[i], (int)bt.qp[g], isum[4 * w + i]);
                        tr4((bt.wd[4 * g][w] >> 4) & 0x0f0f0f0fu, (bt.wd[4 * g + 1][w] >> 4) & 0x0f0f0f0fu,
                            (bt.wd[4 * g + 2][w] >> 4) & 0x0f0f0f0fu, (bt.wd[4 * g + 3][w] >> 4) & 0x0f0f0f0fu, r);
#pragma unroll
                        for (int i = 0; i < 4; i++) isum[8 + 4 * w + i] = __dp4a((int)r[i], (int)bt.qp[g], isum[8 + 4 * w + i]);
                    } else {
                        tr4(bt.wd[4 * g][w], bt.wd[4 * g + 1][w], bt.wd[4 * g + 2][w], bt.wd[4 * g + 3][w], r);
#pragma unroll
                        for (int i = 0; i < 4; i++) isum[4 * w + i] = __dp4a((int)r[i], (int)bt.qp[g], isum[4 * w + i]);
                    }
                }
            }
        }
        if (bt.last) {
            const uint32_t sw[8] = {s0.x, s0.y, s0.z, s0.w, s1.x, s1.y, s1.z, s1.w};
#pragma unroll
            for (int k = 0; k < 16; k++) {
                /* the scale of accumulator k's row: its place in the two runs of 8 */
                const int rr = smv_row<FMT>(t, k) - run0;
                const int h = FMT == ZS_FMT_Q4 ? k : (rr < 8 ? rr : 8 + (rr - 8));
                const uint32_t v = sw[h >> 1];
                const float d = smv_h2f(h & 1 ? v >> 16 : v & 0xffffu);
                acc[k] += (float)(isum[k] - off) * (d * dx);
            }
        }
    };

    batch ba, bb;
    fetch(ba);
    while (ba.b >= 0) {
        fetch(bb);
        compute(ba);
        if (bb.b < 0) break;
        fetch(ba);
        compute(bb);
    }

    /* the warps' sums of each row, in warp order; then the slices of the cluster, in rank order */
    __shared__ float red[SMV_WARPS][SMV_TILE];
    __shared__ float part[SMV_TILE];
#pragma unroll
    for (int k = 0; k < 16; k++) red[wp][64 * c + smv_row<FMT>(t, k)] = acc[k];
    __syncthreads();
    for (int r = threadIdx.x; r < SMV_TILE; r += 32 * SMV_WARPS) {
        float v = 0.0f;
#pragma unroll
        for (int k = 0; k < SMV_WARPS; k++) v += red[k][r];
        part[r] = v;
    }
    const int per = SMV_TILE / S;
    auto store = [&](int r, float v) {
        const int R = tile * SMV_TILE + r;
        if (R < rows) {
            const float *bias = smv_pick(j.bias, m);
            v += bias ? bias[R] : 0.0f;
            smv_pick(j.y, m)[R] = v;
            if (j.res) j.res[R] += v;
        }
    };
    if (S > 1) {
        cg::cluster_group cl = cg::this_cluster();
        cl.sync();
        for (int i = threadIdx.x; i < per; i += 32 * SMV_WARPS) {
            const int r = rank * per + i;
            float v = 0.0f;
            for (int k = 0; k < S; k++) v += cl.map_shared_rank(part, k)[r];
            store(r, v);
        }
        cl.sync(); /* no block leaves while another reads its shared memory */
    } else {
        __syncthreads();
        for (int r = threadIdx.x; r < SMV_TILE; r += 32 * SMV_WARPS) store(r, part[r]);
    }
}

/* The blocks (cluster size) a tile's input blocks are split over: the smallest power of 2 that
 * gives the launch at least one block per multiprocessor (at most 16), so that a product is about
 * one wave; ZETA_CUDA_SMV_SPLIT=1|2|4|8|16 fixes it (A/B). Never fewer than a block per warp. */
static int smv_split(int nb, int tiles) {
    static int want = -1, n_sm = 0;
    if (want < 0) {
        const char *e = getenv("ZETA_CUDA_SMV_SPLIT");
        const int v = e ? atoi(e) : 0;
        want = v == 1 || v == 2 || v == 4 || v == 8 || v == 16 ? v : 0;
        int dev = 0;
        if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) n_sm = 132;
        cudaGetLastError();
    }
    int s = want;
    if (!s)
        for (s = 1; s < SMV_MAX_SPLIT && tiles * s < n_sm; s *= 2) {
        }
    while (s > 1 && nb < s * SMV_WARPS) s >>= 1;
    return s;
}



template <int FMT> static cudaError_t smv_launch(cudaStream_t s, const cuda_smv_job *j, const uint8_t *xq) {
    int tiles[3] = {0, 0, 0}, total = 0;
    for (int m = 0; m < j->n_mat; m++) total += tiles[m] = (j->rows[m] + SMV_TILE - 1) / SMV_TILE;
    int S = smv_split(j->K / 32, total);
    static int big_ok = -1; /* clusters of 16 allowed for this kernel */
    if (S > 8) {
        if (big_ok < 0) {
            big_ok = cudaFuncSetAttribute(k_smv<FMT>, cudaFuncAttributeNonPortableClusterSizeAllowed, 1) == cudaSuccess;
            cudaGetLastError();
        }
        if (!big_ok) S = 8;
    }
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3((unsigned)(S * total));
    cfg.blockDim = dim3(32 * SMV_WARPS);
    cfg.stream = s;
    cudaLaunchAttribute at[2];
    int na = 0;
    if (S > 1) {
        at[na].id = cudaLaunchAttributeClusterDimension;
        at[na].val.clusterDim.x = (unsigned)S;
        at[na].val.clusterDim.y = 1;
        at[na].val.clusterDim.z = 1;
        na++;
    }
    if (cuda_pdl_enabled()) {
        at[na].id = cudaLaunchAttributeProgrammaticStreamSerialization;
        at[na].val.programmaticStreamSerializationAllowed = 1;
        na++;
    }
    cfg.attrs = at;
    cfg.numAttrs = (unsigned)na;
    cudaError_t e = cudaLaunchKernelEx(&cfg, k_smv<FMT>, *j, xq, S, tiles[0], tiles[1]);
    if (e != cudaSuccess && S > 8) { /* a cluster of 16 refused here: 8 from now on */
        cudaGetLastError();
        big_ok = 0;
        S = 8;
        cfg.gridDim = dim3((unsigned)(S * total));
        at[0].val.clusterDim.x = (unsigned)S;
        e = cudaLaunchKernelEx(&cfg, k_smv<FMT>, *j, xq, S, tiles[0], tiles[1]);
    }
    return e;
}

bool cuda_smv_fmt_ok(int fmt) { return fmt == ZS_FMT_Q4 || fmt == ZS_FMT_Q8; }

cudaError_t cuda_smv(cudaStream_t s, const cuda_smv_job *j, const uint8_t *xq) {
    if (!cuda_smv_fmt_ok(j->fmt) || j->K <= 0 || j->K % 32 || j->n_mat < 1 || j->n_mat > 3 || (j->res && j->n_mat != 1) || !xq)
        return cudaErrorInvalidValue;
    for (int m = 0; m < j->n_mat; m++)
        if (j->rows[m] <= 0 || j->rows[m] % 64 || !j->W[m] || !j->y[m]) return cudaErrorInvalidValue;
    static int variant = -1; /* ZETA_CUDA_SMVB: 0 k_smv (register buffers), 1 (default) k_smvb, 2-5 its forced shapes */
    if (variant < 0) {
        const char *e = getenv("ZETA_CUDA_SMVB");
        variant = e && *e ? atoi(e) : 1;
    }
    if (variant != 0) return cuda_smvb(s, j, xq, variant);
    return j->fmt == ZS_FMT_Q4 ? smv_launch<ZS_FMT_Q4>(s, j, xq) : smv_launch<ZS_FMT_Q8>(s, j, xq);
}

/* ---------------------------------------------------------------- the thresholded rounding */

/* x -> xq, |x| < thr dropped, warp per block of 32; swiglu: x = silu(g) * u, also stored to out */
template <bool SWIGLU>
__global__ void k_quant_q8_sparse(const float *x, const float *u, int K, float *out, cuda_sparse_round sr, uint8_t *xq) {
    pdl_trigger(); /* the product that reads xq may start (it waits for this kernel) */
    pdl_wait();    /* launched with PDL (cuda_pdl_chain): x is complete */
    const int b = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (b >= K / 32) return;
    const int i = 32 * b + (threadIdx.x & 31);
    float v = x[i];
    if (SWIGLU) {
        v = silu_mul(v, u[i]);
        out[i] = v;
    }
    q8_store(v, xq, K, b, &sr);
}

cudaError_t cuda_quant_q8_sparse(cudaStream_t s, const float *x, int K, const cuda_sparse_round *sr, uint8_t *xq) {
    if (K % 32 || !sr || !sr->stat) return cudaErrorInvalidValue;
    return cuda_launch(cuda_pdl_chain(), k_quant_q8_sparse<false>, dim3((unsigned)((K / 32 + 7) / 8)), dim3(256), 0, s, x,
                       (const float *)NULL, K, (float *)NULL, *sr, xq);
}

cudaError_t cuda_swiglu_q8_sparse(cudaStream_t s, const float *g, const float *u, int K, float *out, const cuda_sparse_round *sr,
                                  uint8_t *xq) {
    if (K % 32 || !sr || !sr->stat) return cudaErrorInvalidValue;
    return cuda_launch(cuda_pdl_chain(), k_quant_q8_sparse<true>, dim3((unsigned)((K / 32 + 7) / 8)), dim3(256), 0, s, g, u, K, out,
                       *sr, xq);
}
