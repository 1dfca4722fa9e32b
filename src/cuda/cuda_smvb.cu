/* cuda_smvb.cu — the sparse products (cuda_smv's job) with the kept columns brought into shared
 * memory by the copy engine (cp.async.bulk, sm_90), so that a warp has several input blocks' worth
 * of columns in flight without holding them in registers (the first kernel, k_smv, was bound by the
 * 2 KiB its register buffers could have in flight per warp; bench/CUDA_NOTES.md v7 and v17).
 *
 * k_smvb<FMT, RPL, W, R, DBG>: a block of W warps owns a tile of 32 RPL output rows (RPL rows a lane: a
 * lane reads 4 or 8 bytes of every column) and a slice of the input blocks; the S blocks of a tile
 * form a cluster. Warp w takes the slice's input blocks w, w + W, ..., each into one of its R stages
 * in shared memory (the tile's row scales, then the kept columns' runs in column order, and the kept
 * columns' 8-bit inputs as a byte list). Lane 0 fills the scales (before griddepcontrol.wait: the
 * weights do not depend on the kernels before) and announces the stage's bytes on its mbarrier; the
 * layout is tile-major on the GPU (zs_tile_major: a tile's runs of the 32 columns side by side), so
 * consecutive kept columns are consecutive bytes, and lane j copies the run of kept columns that
 * starts at column j (one copy for them all; ~8 copies a block at 50 % kept instead of ~16). The
 * warp waits for a stage, multiplies (four columns' bytes of a row transposed into one word, one
 * dp4a with their four inputs; the block's exact integer sum scaled once), then refills the stage
 * with its block R places on. The warps' sums meet in shared
 * memory in warp order and the cluster's slices in rank order: the same input gives the same bits. */
#include "cuda/cuda_internal.cuh"

#include <atomic>
#include <cooperative_groups.h>
#include <stdlib.h>

namespace cg = cooperative_groups;

#define SMB_MAX_SPLIT 16 /* a cluster of 16 is non-portable: smvb_launch falls back to 8 where refused */

__device__ __forceinline__ float smv_h2f(uint32_t h) { return __half2float(__ushort_as_half((unsigned short)h)); }

/* c + the sum of the four products of a's bytes (unsigned) and b's (signed) */
__device__ __forceinline__ int dp4a_us(uint32_t a, int b, int c) {
    int d;
    asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}

/* r[i] = byte i of a, b, c, d (a 4 x 4 byte transpose) */
__device__ __forceinline__ void tr4(uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t r[4]) {
    const uint32_t t0 = __byte_perm(a, b, 0x5140), t1 = __byte_perm(a, b, 0x7362);
    const uint32_t t2 = __byte_perm(c, d, 0x5140), t3 = __byte_perm(c, d, 0x7362);
    r[0] = __byte_perm(t0, t2, 0x5410);
    r[1] = __byte_perm(t0, t2, 0x7632);
    r[2] = __byte_perm(t1, t3, 0x5410);
    r[3] = __byte_perm(t1, t3, 0x7632);
}

/* a[m] of a job's three matrices */
template <typename X> __device__ __forceinline__ X smv_pick(const X (&a)[3], int m) { return m == 0 ? a[0] : m == 1 ? a[1] : a[2]; }

/* RPL rows a lane (its accumulators), LB bytes of every column a lane reads (4 or 8), a tile of
 * 32 RPL rows, a column's run of the tile 32 LB bytes, a stage the tile's scales and up to 32 runs */
template <int FMT, int RPL> struct smb_fmt {
    static constexpr int LB = FMT == ZS_FMT_Q4 ? RPL / 2 : RPL;
    static constexpr int NW = LB / 4;
    static constexpr int TILE = 32 * RPL;
    static constexpr int RUN = 32 * LB;
    static constexpr int STAGE = 2 * TILE + 32 * RUN;
    static_assert(LB == 4 || LB == 8, "a lane reads one or two words of a column");
};

/* the row (within the tile) of lane l's accumulator k. sparse.h's byte orders: the bytes of a
 * column come in chunks of 64 rows (Q4_0: 32 bytes, byte p the rows zs_q4_pos(p) in its low nibble
 * and zs_q4_pos(p) + 32 in its high one; Q8_0: 64 bytes, byte p row zs_q8_pos(p)); a lane reads LB
 * bytes of one chunk. Byte i of word w: accumulator 4w + i (Q4_0: low nibble; the high one
 * 4 NW + 4w + i). Accumulators 4g..4g+3 are four consecutive rows. */
template <int FMT, int RPL> __device__ __forceinline__ int smb_row(int lane, int k) {
    typedef smb_fmt<FMT, RPL> F;
    constexpr int LPC = 64 / RPL; /* lanes a chunk */
    const int hi = FMT == ZS_FMT_Q4 && k >= 4 * F::NW;
    const int kk = hi ? k - 4 * F::NW : k;
    const int p = (lane % LPC) * F::LB + kk; /* byte of the chunk */
    int r;
    if (FMT == ZS_FMT_Q4) {
        const int h = p & 31;
        r = (h >= 8 && h < 16 ? h + 8 : h >= 16 && h < 24 ? h - 8 : h) + 32 * hi;
    } else {
        const int q = p & 15;
        r = (p & ~15) | (q >= 4 && q < 8 ? q + 4 : q >= 8 && q < 12 ? q - 4 : q);
    }
    return 64 * (lane / LPC) + r;
}

__device__ __forceinline__ uint32_t smb_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }
__device__ __forceinline__ void mbar_init(uint64_t *b) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(smb_addr(b)) : "memory");
}
__device__ __forceinline__ void mbar_expect(uint64_t *b, uint32_t bytes) {
    asm volatile("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;" ::"r"(smb_addr(b)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive_expect(uint64_t *b, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smb_addr(b)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint64_t *b, uint32_t parity) {
    uint32_t done = 0;
    while (!done)
        asm volatile("{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}"
                     : "=r"(done)
                     : "r"(smb_addr(b)), "r"(parity)
                     : "memory");
}
/* bytes (a multiple of 16, both addresses 16-byte aligned) from global to this block's shared memory */
__device__ __forceinline__ void bulk_copy(void *dst, const void *src, uint32_t bytes, uint64_t *b) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(smb_addr(dst)),
                 "l"(src), "r"(bytes), "r"(smb_addr(b))
                 : "memory");
}

/* shared memory of a block: the stages, their mbarriers, their input lists (32 bytes each) */
template <int FMT, int RPL, int W, int R> constexpr size_t smb_smem() { return (size_t)W * R * (smb_fmt<FMT, RPL>::STAGE + 8 + 32); }

/* where a block of a launch works: its matrix m, tile and slice [b0, b1) of the input blocks; a
 * warp's input blocks are b0 + wp, b0 + wp + W, ... (nk of them) */
struct smb_where {
    int rank, tile, m, rows, nb, b0, nk;
    const uint8_t *Wm;
    size_t blk, tile_off; /* tile_off: where the tile's runs start after an input block's scales (tile-major) */
    uint32_t sc_bytes, run_bytes;
    bool valid;
};
template <int FMT, int RPL, int W>
__device__ __forceinline__ smb_where smb_locate(const cuda_smv_job &j, int S, int tiles0, int tiles1, int lane, int wp) {
    typedef smb_fmt<FMT, RPL> F;
    smb_where w;
    w.rank = (int)(blockIdx.x % (unsigned)S);
    w.tile = (int)(blockIdx.x / (unsigned)S);
    w.m = 0;
    if (w.tile >= tiles0) {
        w.tile -= tiles0;
        w.m = 1;
        if (w.tile >= tiles1) {
            w.tile -= tiles1;
            w.m = 2;
        }
    }
    w.rows = smv_pick(j.rows, w.m);
    w.Wm = smv_pick(j.W, w.m);
    w.blk = smv_pick(j.blk_bytes, w.m);
    w.tile_off = 2 * (size_t)w.rows + (size_t)w.tile * 32 * F::RUN;
    w.nb = j.K / 32;
    w.b0 = (int)((long long)w.nb * w.rank / S);
    const int b1 = (int)((long long)w.nb * (w.rank + 1) / S);
    const int vrows = w.rows - w.tile * F::TILE < F::TILE ? w.rows - w.tile * F::TILE : F::TILE; /* a multiple of 64 */
    w.sc_bytes = 2u * (uint32_t)vrows;
    w.run_bytes = (uint32_t)vrows / RPL * F::LB;
    w.valid = 64 * (lane / (64 / RPL)) < vrows;
    w.nk = wp < b1 - w.b0 ? (b1 - w.b0 - wp + W - 1) / W : 0;
    return w;
}

/* acc += one staged input block (or part of one): n kept columns (runs of RUN bytes from st + 2 TILE,
 * their 8-bit inputs in list[0..32), 0 past n), the block's exact integer sums scaled once by the
 * rows' scales (st) and dx, less the Q4_0 offset off */
template <int FMT, int RPL>
__device__ __forceinline__ void smb_block(float (&acc)[RPL], const uint8_t *st, const uint8_t *list, int n, float dx, int off, int lane) {
    typedef smb_fmt<FMT, RPL> F;
    constexpr int TILE = F::TILE, RUN = F::RUN, NW = F::NW;
    const uint8_t *cols = st + 2 * TILE + F::LB * lane;
    int isum[RPL];
#pragma unroll
    for (int q = 0; q < RPL; q++) isum[q] = 0;
    const int ng = (n + 3) >> 2;
#pragma unroll 2
    for (int g = 0; g < ng; g++) {
        const uint32_t qp = *(const uint32_t *)(list + 4 * g);
        uint32_t wd[4][NW];
#pragma unroll
        for (int u = 0; u < 4; u++) {
            const uint8_t *c = cols + (size_t)(4 * g + u) * RUN;
            if (NW == 2) {
                const uint2 v = *(const uint2 *)c;
                wd[u][0] = v.x;
                wd[u][NW - 1] = v.y;
            } else {
                wd[u][0] = *(const uint32_t *)c;
            }
        }
#pragma unroll
        for (int w = 0; w < NW; w++) {
            uint32_t r[4];
            tr4(wd[0][w], wd[1][w], wd[2][w], wd[3][w], r); /* r[i]: byte i of the four columns */
#pragma unroll
            for (int i = 0; i < 4; i++) {
                if (FMT == ZS_FMT_Q4) {
                    /* the whole bytes (lo + 16 hi) and their high nibbles alone (16 hi): 3 instructions
                     * where masking out both nibbles took 5 (bench/CUDA_NOTES.md v19) */
                    isum[4 * w + i] = dp4a_us(r[i], (int)qp, isum[4 * w + i]);
                    isum[4 * NW + 4 * w + i] = dp4a_us(r[i] & 0xf0f0f0f0u, (int)qp, isum[4 * NW + 4 * w + i]);
                } else {
                    isum[4 * w + i] = __dp4a((int)r[i], (int)qp, isum[4 * w + i]);
                }
            }
        }
    }
    if (FMT == ZS_FMT_Q4)
#pragma unroll
        for (int q = 0; q < RPL / 2; q++) { /* low nibbles: whole - 16 hi; high: (16 hi) / 16, a multiple of 16: exact */
            isum[q] -= isum[RPL / 2 + q];
            isum[RPL / 2 + q] >>= 4;
        }
#pragma unroll
    for (int g = 0; g < RPL / 4; g++) { /* four consecutive rows: their scales in one load */
        const uint2 v = *(const uint2 *)(st + 2 * smb_row<FMT, RPL>(lane, 4 * g));
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const uint32_t h = i < 2 ? v.x : v.y;
            acc[4 * g + i] += (float)(isum[4 * g + i] - off) * (smv_h2f(i & 1 ? h >> 16 : h & 0xffffu) * dx);
        }
    }
}

/* the warps' sums of each row, in warp order; then the slices of the cluster, in rank order (the
 * block's shared memory is reused: every stage must be consumed) */
template <int FMT, int RPL, int W>
__device__ __forceinline__ void smb_finish(const cuda_smv_job &j, const smb_where &w, const float (&acc)[RPL], uint8_t *smem, int S,
                                           int lane, int wp) {
    constexpr int TILE = smb_fmt<FMT, RPL>::TILE;
    __syncthreads();
    float *red = (float *)smem, *part = red + (size_t)W * TILE;
    if (w.valid)
#pragma unroll
        for (int k = 0; k < RPL; k++) red[wp * TILE + smb_row<FMT, RPL>(lane, k)] = acc[k];
    __syncthreads();
    for (int r = threadIdx.x; r < TILE; r += 32 * W) {
        float v = 0.0f;
#pragma unroll
        for (int k = 0; k < W; k++) v += red[k * TILE + r];
        part[r] = v;
    }
    auto store = [&](int r, float v) {
        const int Rw = w.tile * TILE + r;
        if (Rw < w.rows) {
            const float *bias = smv_pick(j.bias, w.m);
            v += bias ? bias[Rw] : 0.0f;
            smv_pick(j.y, w.m)[Rw] = v;
            if (j.res) j.res[Rw] += v;
        }
    };
    if (S > 1) {
        cg::cluster_group cl = cg::this_cluster();
        cl.sync();
        const int per = TILE / S;
        for (int i = threadIdx.x; i < per; i += 32 * W) {
            const int r = w.rank * per + i;
            float v = 0.0f;
            for (int k = 0; k < S; k++) v += cl.map_shared_rank(part, k)[r];
            store(r, v);
        }
        cl.sync(); /* no block leaves while another reads its shared memory */
    } else {
        __syncthreads();
        for (int r = threadIdx.x; r < TILE; r += 32 * W) store(r, part[r]);
    }
}

/* DBG (timing diagnostics only, wrong results; ZETA_CUDA_SMVB=6 / 7 / 10): 1 skips the arithmetic (the
 * copies and waits alone), 2 skips the columns' copies (the arithmetic on stale shared memory), 3 skips
 * the arithmetic and copies a stage's column bytes in one copy from one place (the copy engine's cost
 * per copy: the same bytes in 1 copy instead of one a run of kept columns). DBG 4 (ZETA_CUDA_SMVB=11):
 * the product, one copy a kept column instead of one a run of consecutive kept columns (A/B). */
template <int FMT, int RPL, int W, int R, int DBG>
__global__ void __launch_bounds__(32 * W) k_smvb(cuda_smv_job j, const uint8_t *xq, int S, int tiles0, int tiles1) {
    typedef smb_fmt<FMT, RPL> F;
    constexpr int TILE = F::TILE, STAGE = F::STAGE, RUN = F::RUN;
    extern __shared__ __align__(128) uint8_t smem[];
    const int lane = threadIdx.x & 31, wp = threadIdx.x >> 5;
    if (j.trigger) pdl_trigger();
    const smb_where w = smb_locate<FMT, RPL, W>(j, S, tiles0, tiles1, lane, wp);
    const int nk = w.nk;
    uint8_t *stage = smem + (size_t)wp * R * STAGE;
    uint64_t *bar = (uint64_t *)(smem + (size_t)W * R * STAGE) + wp * R;
    uint8_t *list = smem + (size_t)W * R * (STAGE + 8) + (size_t)wp * R * 32;
    const int8_t *xc = (const int8_t *)xq;
    const float *xd = (const float *)(xq + j.K);
    const int *xs = (const int *)(xq + j.K + 4 * (size_t)w.nb);
    auto blk_of = [&](int k) { return w.b0 + wp + W * k; };

    if (lane == 0) {
#pragma unroll
        for (int s = 0; s < R; s++) mbar_init(bar + s);
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    }
    __syncwarp();
    /* the scales of the first R blocks: weights only, so before the wait */
    if (lane == 0)
#pragma unroll
        for (int s = 0; s < R; s++)
            if (s < nk) {
                mbar_expect(bar + s, w.sc_bytes);
                bulk_copy(stage + (size_t)s * STAGE, w.Wm + (size_t)blk_of(s) * w.blk + 2 * (size_t)w.tile * TILE, w.sc_bytes, bar + s);
            }
    pdl_wait();

    int ncode[R], n[R];
    float dx[R];
    int off[R];
    uint32_t par = 0; /* bit s: the phase of stage s's next completion */
    /* stage s gets block k: its kept columns (and its scales unless already on their way) */
    auto fill = [&](int s, int k, int code, bool scales) {
        const int b = blk_of(k);
        const unsigned mask = __ballot_sync(0xffffffffu, code != 0);
        const int cnt = __popc(mask);
        uint8_t *st = stage + (size_t)s * STAGE;
        if (lane == 0) {
            mbar_arrive_expect(bar + s, (DBG == 2 ? 0u : (uint32_t)cnt * w.run_bytes) + (scales ? w.sc_bytes : 0u));
            if (scales) bulk_copy(st, w.Wm + (size_t)b * w.blk + 2 * (size_t)w.tile * TILE, w.sc_bytes, bar + s);
        }
        /* the tile's runs of block b, tile-major (zs_tile_major): column c's at runs + c run_bytes */
        const uint8_t *runs = w.Wm + (size_t)b * w.blk + w.tile_off;
        const int slot = __popc(mask & ((1u << lane) - 1u)); /* its place among the kept columns */
        if (DBG == 3) { /* the tile's first cnt runs: inside the block */
            if (lane == 0 && cnt) bulk_copy(st + 2 * TILE, runs, (uint32_t)cnt * w.run_bytes, bar + s);
        } else if (code && DBG != 2) {
            /* a run of consecutive kept columns is one piece of memory and lands in consecutive
             * slots: the lane of its first column copies it whole. A partial tile (run_bytes < RUN:
             * its slots are RUN apart) copies column by column. */
            if (DBG == 4 || w.run_bytes != (uint32_t)RUN) {
                bulk_copy(st + 2 * TILE + (size_t)slot * RUN, runs + (size_t)lane * w.run_bytes, w.run_bytes, bar + s);
            } else if (lane == 0 || !((mask >> (lane - 1)) & 1u)) {
                const int f = __ffs(~(mask >> lane)); /* 0 only when every column is kept */
                const uint32_t len = f ? (uint32_t)f - 1u : 32u;
                bulk_copy(st + 2 * TILE + (size_t)slot * RUN, runs + (size_t)lane * RUN, len * (uint32_t)RUN, bar + s);
            }
        }
        /* the inputs of the kept columns in their order, 0 past the last */
        if (code) list[s * 32 + slot] = (uint8_t)code;
        if (lane >= cnt) list[s * 32 + lane] = 0;
        n[s] = cnt;
        dx[s] = xd[b];
        off[s] = FMT == ZS_FMT_Q4 ? 8 * xs[b] : 0;
    };
#pragma unroll
    for (int s = 0; s < R; s++) ncode[s] = s < nk ? xc[32 * blk_of(s) + lane] : 0;
#pragma unroll
    for (int s = 0; s < R; s++)
        if (s < nk) {
            const int code = ncode[s];
            ncode[s] = s + R < nk ? xc[32 * blk_of(s + R) + lane] : 0;
            fill(s, s, code, false);
        }

    float acc[RPL];
#pragma unroll
    for (int k = 0; k < RPL; k++) acc[k] = 0.0f;
    for (int k0 = 0; k0 < nk; k0 += R) {
#pragma unroll
        for (int s = 0; s < R; s++) {
            const int k = k0 + s;
            if (k >= nk) break;
            mbar_wait(bar + s, (par >> s) & 1u);
            par ^= 1u << s;
            __syncwarp(); /* the list written by other lanes */
            smb_block<FMT, RPL>(acc, stage + (size_t)s * STAGE, list + s * 32, DBG == 1 || DBG == 3 ? 0 : n[s], dx[s], off[s], lane);
            __syncwarp(); /* every lane has read the stage */
            if (k + R < nk) {
                const int code = ncode[s];
                ncode[s] = k + 2 * R < nk ? xc[32 * blk_of(k + 2 * R) + lane] : 0;
                fill(s, k + R, code, true);
            }
        }
    }
    smb_finish<FMT, RPL, W>(j, w, acc, smem, S, lane, wp);
}

/* ZETA_CUDA_SMV_SPLIT=1|2|4|8|16 fixes the split (A/B); 0: by the launch's size */
static int smvb_split_env(void) {
    const char *e = getenv("ZETA_CUDA_SMV_SPLIT");
    const int v = e ? atoi(e) : 0;
    return v == 1 || v == 2 || v == 4 || v == 8 || v == 16 ? v : 0;
}

#define SMB_MAX_DEV 16
/* what a configuration's launch needs to know of a device, found once per device (sessions on
 * several threads may launch at once: atomics; a device's dynamic shared memory attribute is set
 * before its occupancy is published) */
struct smvb_dev_info {
    std::atomic<int> occ, n_sm, big; /* occ 0: not known yet; big (clusters of 16): 0 not asked, 1 allowed, 2 refused */
};

typedef void (*smv_kernel)(cuda_smv_job, const uint8_t *, int, int, int);

/* one configuration (W warps, R stages a warp): its kernel, its shared memory, blocks an SM */
template <int FMT, int RPL, int W, int R, int DBG = 0>
static cudaError_t smvb_launch(cudaStream_t s, const cuda_smv_job *j, const uint8_t *xq) {
    typedef smb_fmt<FMT, RPL> F;
    static_assert((size_t)(W + 1) * F::TILE * 4 <= (size_t)W * R * F::STAGE, "the reduction reuses the stages, not the mbarriers");
    if (j->run != F::RUN) return cudaErrorInvalidValue; /* the layout is in another shape's order */
    const smv_kernel kern = k_smvb<FMT, RPL, W, R, DBG>;
    constexpr size_t shm = smb_smem<FMT, RPL, W, R>();
    static smvb_dev_info info[SMB_MAX_DEV] = {};
    static const int want = smvb_split_env();
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return e;
    smvb_dev_info scratch = {}; /* a device past the table: asked every launch */
    smvb_dev_info &d = dev >= 0 && dev < SMB_MAX_DEV ? info[dev] : scratch;
    int occ = d.occ.load(std::memory_order_acquire), n_sm = d.n_sm.load(std::memory_order_relaxed);
    if (occ < 1) {
        /* the first launch may come while a decode graph is being captured: these calls are not
         * stream operations, made with this thread's capture mode relaxed (as k_attn_gqa's) */
        cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
        cudaThreadExchangeStreamCaptureMode(&mode);
        if ((e = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shm)) == cudaSuccess &&
            (e = cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, dev)) == cudaSuccess)
            e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, kern, 32 * W, shm);
        cudaThreadExchangeStreamCaptureMode(&mode);
        if (e != cudaSuccess) return e;
        if (occ < 1 || n_sm < 1) return cudaErrorInvalidConfiguration;
        d.n_sm.store(n_sm, std::memory_order_relaxed);
        d.occ.store(occ, std::memory_order_release);
    }
    int tiles[3] = {0, 0, 0}, total = 0;
    for (int m = 0; m < j->n_mat; m++) total += tiles[m] = (j->rows[m] + F::TILE - 1) / F::TILE;
    /* the largest split (a power of 2, at most 16) whose blocks are all resident at once, every
     * warp with an input block */
    int S = want;
    if (!S)
        for (S = 1; S < SMB_MAX_SPLIT && total * S * 2 <= n_sm * occ; S *= 2) {
        }
    while (S > 1 && j->K / 32 < S * W) S >>= 1;
    if (S > 8) {
        int big = d.big.load(std::memory_order_acquire);
        if (big == 0) {
            cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
            cudaThreadExchangeStreamCaptureMode(&mode);
            big = cudaFuncSetAttribute(kern, cudaFuncAttributeNonPortableClusterSizeAllowed, 1) == cudaSuccess ? 1 : 2;
            cudaThreadExchangeStreamCaptureMode(&mode);
            cudaGetLastError();
            d.big.store(big, std::memory_order_release);
        }
        if (big != 1) S = 8;
    }
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3((unsigned)(S * total));
    cfg.blockDim = dim3(32 * W);
    cfg.dynamicSmemBytes = shm;
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
    e = cudaLaunchKernelEx(&cfg, kern, *j, xq, S, tiles[0], tiles[1]);
    if (e != cudaSuccess && S > 8) { /* a cluster of 16 refused here: 8 from now on */
        cudaGetLastError();
        d.big.store(2, std::memory_order_release);
        S = 8;
        cfg.gridDim = dim3((unsigned)(S * total));
        at[0].val.clusterDim.x = (unsigned)S;
        e = cudaLaunchKernelEx(&cfg, kern, *j, xq, S, tiles[0], tiles[1]);
    }
    return e;
}

/* The shape of block, by the layout's run (j->run, from cuda_smv_run at upload): "fat" lanes (run 256:
 * Q4_0 16 rows, Q8_0 8; 8 bytes of a column; 4 warps x 3 stages, two blocks an SM), except for Q4_0
 * products with fewer than 4096 inputs or rows, which take "thin" ones (run 128: 8 rows, 4 bytes; 8 warps
 * x 3 stages: 256-row tiles, twice the tiles, a warp's few input blocks spread over more warps). Measured
 * on an H200 (bench/CUDA_NOTES.md v17), every shape forced in the same call: the 7B shape (Q4_0, every
 * product K >= 4096 and >= 4096 rows) 0.97-0.99x standard mode fat against 0.84x thin, and each of its
 * products faster fat under ncu; the 1.1B shape (K = 2048 but Wdown's 5632; Wo and Wdown 2048 rows) Q4_0
 * 0.82x thin against 0.78x fat and 0.76x with Wdown fat, Q8_0 0.92x fat against 0.82x thin. Since the
 * layout is laid out for one shape (v20), the shape is no longer forced by ZETA_CUDA_SMVB (its 2-5 were
 * those A/B switches). ZETA_CUDA_SMVB=6 / 7 / 10: k_smvb's DBG 1 / 2 / 3 (timing diagnostics: wrong
 * results); 11: DBG 4 (a copy a kept column). Measured and removed (bench/CUDA_NOTES.md v18): fat lanes
 * with 2 warps x 6 stages, thin ones with 8 x 2 or 4 x 3, the column groups unrolled 4 times, and k_smvu
 * (stages of 16 / 20 kept columns, a block with more split over two, blocks without a kept column
 * skipped); v19: k_smvr (no stages: the kept columns loaded into registers by 8-16 warps a block, 16-24
 * warps an SM; 0.80-0.90x k_smvb) and k_smvg (stages shared by groups of warps: 2 or 4 tiles a copy and /
 * or 2 warps a tile; 0.65-0.94x k_smvb); all slower or no faster. */
extern "C" uint32_t cuda_smv_run(int fmt, uint32_t n_in, uint32_t rows0) {
    return fmt == ZS_FMT_Q4 && !(n_in >= 4096 && rows0 >= 4096) ? 128u : 256u;
}

template <int FMT, int RPL, int W, int R>
static cudaError_t smvb_variant(cudaStream_t s, const cuda_smv_job *j, const uint8_t *xq, int variant) {
    if (variant == 6) return smvb_launch<FMT, RPL, W, R, 1>(s, j, xq);
    if (variant == 7) return smvb_launch<FMT, RPL, W, R, 2>(s, j, xq);
    if (variant == 10) return smvb_launch<FMT, RPL, W, R, 3>(s, j, xq);
    if (variant == 11) return smvb_launch<FMT, RPL, W, R, 4>(s, j, xq);
    return smvb_launch<FMT, RPL, W, R>(s, j, xq);
}

cudaError_t cuda_smvb(cudaStream_t s, const cuda_smv_job *j, const uint8_t *xq, int variant) {
    const bool fat = j->run == 256;
    if (j->fmt == ZS_FMT_Q4) return fat ? smvb_variant<ZS_FMT_Q4, 16, 4, 3>(s, j, xq, variant) : smvb_variant<ZS_FMT_Q4, 8, 8, 3>(s, j, xq, variant);
    return fat ? smvb_variant<ZS_FMT_Q8, 8, 4, 3>(s, j, xq, variant) : smvb_variant<ZS_FMT_Q8, 4, 8, 3>(s, j, xq, variant);
}
