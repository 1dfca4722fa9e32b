/* cuda_mmvq.cu — the one-token products of q4_0 / q8_0 weights (k_mmvq) and the rounding of their
 * activation to 8 bits (k_quant_q8), in a module of their own: the 7B decode step ran 3.5 % slower
 * (H200, 2026-11-28) from the commit that added the generic kernels of eight more types to the
 * module these kernels were in, with their machine code unchanged (cuobjdump: the same SASS), a
 * placement effect; see bench/CUDA_NOTES.md v16.
 *
 * The activation is first rounded to 8 bits in blocks of 32 exactly as the CPU rounds it for these
 * types (ggml's q8_0: d = max|x| / 127, q = roundf(x / d), d kept as f16), then each block is an
 * integer dot product (dp4a) scaled by the two block scales, as the CPU's kernels compute it. Two
 * rows a warp, several blocks per lane loaded before use. */
#include "cuda/cuda_internal.cuh"
#include "cuda/cuda_mmv.cuh"

#include <stdlib.h>
#include <string.h>

/* x (K floats, K % 32 == 0) -> xq (q8_store's layout), warp per block */
__global__ void k_quant_q8(const float *x, int K, uint8_t *xq) {
    pdl_trigger(); /* the product that reads xq may start loading its weights */
    pdl_wait();    /* launched with PDL (cuda_pdl_chain): x is complete */
    const int b = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (b >= K / 32) return;
    q8_store(x[32 * b + (threadIdx.x & 31)], xq, K, b);
}

/* integer dot product of a split q4_0 / q8_0 block with an activation block (lo: elements 0..15,
 * hi: 16..31); q4_0's nibbles are unsigned (the -8 is applied by the caller through the block's
 * sum of activation quants) */
template <int T> __device__ __forceinline__ int dot_blk(const uint4 *w, uint4 lo, uint4 hi) {
    int s = 0;
    if (T == ZETA_TYPE_Q4_0) {
        const uint4 q = w[0];
        s = __dp4a((int)(q.x & 0x0f0f0f0fu), (int)lo.x, s);
        s = __dp4a((int)(q.y & 0x0f0f0f0fu), (int)lo.y, s);
        s = __dp4a((int)(q.z & 0x0f0f0f0fu), (int)lo.z, s);
        s = __dp4a((int)(q.w & 0x0f0f0f0fu), (int)lo.w, s);
        s = __dp4a((int)((q.x >> 4) & 0x0f0f0f0fu), (int)hi.x, s);
        s = __dp4a((int)((q.y >> 4) & 0x0f0f0f0fu), (int)hi.y, s);
        s = __dp4a((int)((q.z >> 4) & 0x0f0f0f0fu), (int)hi.z, s);
        s = __dp4a((int)((q.w >> 4) & 0x0f0f0f0fu), (int)hi.w, s);
    } else {
        const uint4 a = w[0], b = w[1];
        s = __dp4a((int)a.x, (int)lo.x, s);
        s = __dp4a((int)a.y, (int)lo.y, s);
        s = __dp4a((int)a.z, (int)lo.z, s);
        s = __dp4a((int)a.w, (int)lo.w, s);
        s = __dp4a((int)b.x, (int)hi.x, s);
        s = __dp4a((int)b.y, (int)hi.y, s);
        s = __dp4a((int)b.z, (int)hi.z, s);
        s = __dp4a((int)b.w, (int)hi.w, s);
    }
    return s;
}

/* Items: PLAIN, two consecutive rows of the job's matrices taken in order (the two may belong to
 * different matrices; the last item may have one); SWIGLU, row i of the gate and of the up matrix.
 * The NR = 2 rows of an item share the activation loads. Warp w takes items w, w + W, w + 2 W, ...
 * (W warps in the grid, about as many as fit on the device at once) and walks each in chunks: lane
 * l loads blocks l, l + 32, ... (U of them, 16-byte loads) of both rows. The next chunk's loads (of
 * this item or the next) are issued before the current chunk is computed, so a warp always has
 * loads in flight; per block, sum += (float)isum * (dw * dx), then a warp reduction per row. */
#define MMVQ_WARPS 4

template <int T, int MODE> struct mmvq_shape {
    static constexpr int NR = 2;
    static constexpr int QB = T == ZETA_TYPE_Q4_0 ? 16 : 32, QV = QB / 16; /* split_qb (cuda_dequant.cuh, not included here) */
    static constexpr int U = T == ZETA_TYPE_Q4_0 ? 2 : 1;
};

template <int T, int MODE> __global__ void __launch_bounds__(32 * MMVQ_WARPS, 6) k_mmvq(cuda_mmv_job j, const uint8_t *xq, int n_items) {
    typedef mmvq_shape<T, MODE> S;
    constexpr int NR = S::NR, QB = S::QB, QV = S::QV, U = S::U;
    const int lane = threadIdx.x & 31, nb = j.K / 32, nch = (nb + 32 * U - 1) / (32 * U);
    const int W = gridDim.x * MMVQ_WARPS;
    if (j.trigger) pdl_trigger(); /* the kernel after this one may be launched (it waits for this one) */
    int it = blockIdx.x * MMVQ_WARPS + (threadIdx.x >> 5);
    if (it >= n_items) return;
    const uint4 *xa = (const uint4 *)xq;
    const float *xd = (const float *)(xq + j.K);
    const int *xs = (const int *)(xq + j.K + 4 * (size_t)nb);
    /* row r of item i: its matrix m and row gi; false past the end (PLAIN's last item) */
    auto where = [&](int i, int r, int &m, int &gi) -> bool {
        m = MODE == CUDA_MMV_SWIGLU ? r : 0;
        gi = MODE == CUDA_MMV_SWIGLU ? i : NR * i + r;
        if (MODE != CUDA_MMV_SWIGLU) {
            if (j.n_mat > 1 && gi >= j.rows[0]) { gi -= j.rows[0]; m = 1; }
            if (j.n_mat > 2 && m == 1 && gi >= j.rows[1]) { gi -= j.rows[1]; m = 2; }
        }
        return gi < pick3(j.rows, m);
    };
    /* the rows of an item: quants and scales of each */
    struct rows_t {
        const uint4 *q[NR];
        const uint16_t *d[NR];
        int item;
    };
    auto locate = [&](int i, rows_t &p) {
        p.item = i;
#pragma unroll
        for (int r = 0; r < NR; r++) {
            int m, gi;
            if (!where(i, r, m, gi)) gi = 0; /* a second row past the end: loads row 0 (in bounds), never stored */
            const uint8_t *Wm = pick3(j.W, m);
            p.q[r] = (const uint4 *)(Wm + (size_t)QB * gi * nb);
            p.d[r] = (const uint16_t *)(Wm + (size_t)QB * pick3(j.rows, m) * nb) + (size_t)gi * nb;
        }
    };
    typedef uint4 qbuf_t[NR][U][QV];
    typedef uint16_t dbuf_t[NR][U];
    auto load = [&](qbuf_t &q, dbuf_t &d, const rows_t &p, int c) {
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int b = 32 * (U * c + u) + lane;
            if (b < nb) {
#pragma unroll
                for (int r = 0; r < NR; r++) {
#pragma unroll
                    for (int v = 0; v < QV; v++) q[r][u][v] = __ldcs(p.q[r] + (size_t)QV * b + v);
                    d[r][u] = __ldcs(p.d[r] + b);
                }
            }
        }
    };
    float sum[NR];
#pragma unroll
    for (int r = 0; r < NR; r++) sum[r] = 0.0f;
    auto finish = [&](const rows_t &p) {
#pragma unroll
        for (int r = 0; r < NR; r++)
            for (int off = 16; off; off >>= 1) sum[r] += __shfl_xor_sync(0xffffffffu, sum[r], off);
        if (lane == 0) {
            if (MODE == CUDA_MMV_SWIGLU) {
                const int row = p.item;
                const float g = sum[0] + (j.bias[0] ? j.bias[0][row] : 0.0f), u = sum[1] + (j.bias[1] ? j.bias[1][row] : 0.0f);
                j.y[1][row] = u;
                j.y[0][row] = silu_mul(g, u);
            } else {
#pragma unroll
                for (int r = 0; r < NR; r++) {
                    int m, gi;
                    if (!where(p.item, r, m, gi)) continue;
                    const float *bias = pick3(j.bias, m);
                    const float v = sum[r] + (bias ? bias[gi] : 0.0f);
                    pick3(j.y, m)[gi] = v;
                    if (j.res) j.res[gi] += v;
                }
            }
        }
#pragma unroll
        for (int r = 0; r < NR; r++) sum[r] = 0.0f;
    };
    qbuf_t qa, qb;
    dbuf_t da, db;
    rows_t pa, pb;
    int c = 0;
    locate(it, pa);
    load(qa, da, pa, 0); /* the weights do not depend on the kernels before: loaded before waiting for them */
    pdl_wait();
    /* one chunk: prefetch the next (into the other buffers), compute this one; false at the end */
    auto step = [&](qbuf_t &q, dbuf_t &d, rows_t &p, qbuf_t &q2, dbuf_t &d2, rows_t &p2) -> bool {
        int it2 = it, c2 = c + 1;
        p2 = p;
        if (c2 == nch) {
            c2 = 0;
            it2 = it + W;
            if (it2 < n_items) locate(it2, p2);
        }
        const bool more = it2 < n_items;
        if (more) load(q2, d2, p2, c2);
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int b = 32 * (U * c + u) + lane;
            if (b >= nb) break;
            const uint4 lo = xa[2 * b], hi = xa[2 * b + 1];
            const float dx = xd[b];
            const int off = T == ZETA_TYPE_Q4_0 ? 8 * xs[b] : 0;
#pragma unroll
            for (int r = 0; r < NR; r++) sum[r] += (float)(dot_blk<T>(q[r][u], lo, hi) - off) * (h2f(d[r][u]) * dx);
        }
        if (c == nch - 1) finish(p);
        it = it2;
        c = c2;
        return more;
    };
    while (step(qa, da, pa, qb, db, pb) && step(qb, db, pb, qa, da, pa)) {
    }
}

/* ZETA_CUDA_PDL=0 turns programmatic dependent launch off (for A/B timings) */
bool cuda_pdl_enabled(void) {
    static int on = -1;
    return cuda_switch_on("ZETA_CUDA_PDL", &on);
}

bool cuda_pdl_chain(void) {
    static int on = -1;
    return cuda_pdl_enabled() && cuda_switch_on("ZETA_CUDA_PDL_CHAIN", &on);
}

/* k_mmvq launched with programmatic stream serialization: its blocks may start while the kernel
 * before it runs (that kernel calls pdl_trigger first), load their first weights, then wait */
template <int T, int MODE>
static cudaError_t mmvq_pdl(cudaStream_t s, int n_items, const cuda_mmv_job *j, const uint8_t *xq) {
    /* W: the warps that fit on the device at once (ZETA_CUDA_MMVQ_GRID=items: a warp per item) */
    static int fit = -1;
    unsigned grid = (unsigned)((n_items + MMVQ_WARPS - 1) / MMVQ_WARPS);
    if (fit < 0) {
        const char *e = getenv("ZETA_CUDA_MMVQ_GRID");
        int dev = 0, n_sm = 0, per_sm = 0;
        if (e && !strcmp(e, "items")) fit = 0;
        else if (cudaGetDevice(&dev) == cudaSuccess && cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess &&
                 cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k_mmvq<T, MODE>, 32 * MMVQ_WARPS, 0) == cudaSuccess)
            fit = n_sm * per_sm;
        else
            fit = 0;
        cudaGetLastError();
    }
    if (fit > 0 && grid > (unsigned)fit) grid = (unsigned)fit;
    return cuda_launch(cuda_pdl_enabled(), k_mmvq<T, MODE>, dim3(grid), dim3(32 * MMVQ_WARPS), 0, s, *j, xq, n_items);
}

cudaError_t cuda_quant_q8(cudaStream_t s, const float *x, int K, uint8_t *xq) {
    return cuda_launch(cuda_pdl_chain(), k_quant_q8, dim3((unsigned)((K / 32 + 7) / 8)), dim3(256), 0, s, x, K, xq);
}

template <int T> static cudaError_t mmvq_launch(cudaStream_t s, const cuda_mmv_job *j, const float *x, uint8_t *xq) {
    if (!j->xq_ready) {
        const cudaError_t e = cuda_quant_q8(s, x, j->K, xq);
        if (e != cudaSuccess) return e;
    }
    int items = 0;
    for (int m = 0; m < j->n_mat; m++) items += j->rows[m];
    return j->mode == CUDA_MMV_SWIGLU ? mmvq_pdl<T, CUDA_MMV_SWIGLU>(s, j->rows[0], j, xq)
                                      : mmvq_pdl<T, CUDA_MMV_PLAIN>(s, (items + 1) / 2, j, xq);
}

cudaError_t cuda_mmvq(cudaStream_t s, const cuda_mmv_job *j, const float *x, uint8_t *xq) {
    if (j->type == ZETA_TYPE_Q4_0) return mmvq_launch<ZETA_TYPE_Q4_0>(s, j, x, xq);
    if (j->type == ZETA_TYPE_Q8_0) return mmvq_launch<ZETA_TYPE_Q8_0>(s, j, x, xq);
    return cudaErrorInvalidValue;
}
