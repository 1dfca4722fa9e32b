/* cuda_mmq.cu — prompt products (many tokens) of q4_0 / q8_0 weights on the tensor cores, with the
 * CPU's arithmetic: the activations are rounded to 8 bits in blocks of 32 exactly as for the
 * one-token product (q8_store), each 32-element block of a row and a token is an exact integer
 * dot product (int8 MMA, mma.sync m16n8k32), and y += (float)isum * (dw * dx) per block, in block
 * order, as the CPU's kernels and k_mmvq do. Only the float summation order across blocks can
 * differ from the CPU (it does not here: one thread walks the blocks of its outputs in order).
 *
 * Tiling: a thread block computes 128 rows x 128 tokens; 8 warps, each 64 rows x 32 tokens (4 x 4
 * MMA tiles of 16 x 8). The K loop goes 4 blocks of 32 (128 elements) a stage, two stages in shared
 * memory filled by cp.async while the other is computed. Token tiles vary fastest in the grid, so
 * the thread blocks that read the same rows of W run together and W comes from memory once.
 *
 * Integer to float without the quarter-rate conversion: each MMA starts from the bit pattern of
 * 1.5 * 2^23, so its int32 result read as a float is exactly 1.5 * 2^23 + dot (|dot| < 2^22: at most
 * 32 * 127 * 128); one subtraction of an exact constant gives the dot. q4_0's nibbles go in
 * unsigned (0..15); the -8 comes back through the activation block's sum of quants, folded into
 * that constant: dot(n - 8, q) = dot(n, q) - 8 * sum(q). */
#include "cuda/cuda_internal.cuh"

#define MMQ_NBK 4 /* blocks of 32 per stage */

/* BM rows x BN tokens a thread block; each warp 16 WMT rows x 32 tokens */
template <int T, int BM, int BN, int WMT> struct mmq_cfg {
    static constexpr int WARPS_M = BM / (16 * WMT), WARPS = WARPS_M * (BN / 32), THREADS = 32 * WARPS;
    static constexpr bool Q4 = T == ZETA_TYPE_Q4_0;
    static constexpr int QB = Q4 ? 16 : 32;                 /* quant bytes per block */
    /* smem row strides padded by 16 bytes: the fragment loads (8 rows x 4 words) then hit 32
     * different banks, and every 16-byte cp.async destination stays aligned */
    static constexpr int A_STRIDE = QB * MMQ_NBK + 16;
    static constexpr int B_STRIDE = 32 * MMQ_NBK + 16;
    static constexpr int A_OFF = 0;
    static constexpr int AS_OFF = A_OFF + BM * A_STRIDE;         /* f16 row scales [row][blk] */
    static constexpr int B_OFF = AS_OFF + BM * MMQ_NBK * 2;
    static constexpr int BS_OFF = B_OFF + BN * B_STRIDE;         /* f32 token scales [blk][tok] */
    static constexpr int BC_OFF = BS_OFF + BN * MMQ_NBK * 4;     /* q4_0: f32 offsets [blk][tok] */
    static constexpr int STAGE = BC_OFF + (Q4 ? BN * MMQ_NBK * 4 : 0);
    static constexpr int SMEM = 2 * STAGE;
};

__device__ __forceinline__ void cp_async(void *dst, const void *src, int bytes) {
    const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
    if (bytes == 16) asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(d), "l"(src));
    else asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" ::"r"(d), "l"(src));
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;"); }
template <int N> __device__ __forceinline__ void cp_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(N)); }

#define MMQ_BIAS 0x4B400000 /* 1.5 * 2^23 as a float's bits */
#define MMQ_BIAS_F 12582912.0f

__device__ __forceinline__ void mma_s8(int (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%10,%10,%10};"
                 : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "r"(MMQ_BIAS));
}

/* The activations of a product, written by k_quant_mmq (n_tok tokens, nb = K / 32 blocks a token,
 * NT = n_tok rounded up to a multiple of 4):
 *   quants [n_tok][K] int8, then scales dx [nb][NT] f32 (q8_store's d), then offsets [nb][NT] f32
 *   (1.5 * 2^23 + 8 * the block's sum of quants: what q4_0's products subtract from the MMA result).
 * Block-major scales: the two tokens of an MMA output pair are adjacent (one 8-byte load). */
__host__ __device__ inline int mmq_nt(int n_tok) { return (n_tok + 3) & ~3; }
size_t cuda_mmq_xq_bytes(int K, int n_tok) { return (size_t)n_tok * K + (size_t)(K / 32) * mmq_nt(n_tok) * 8; }

/* one stage: blocks kb .. kb + 3 of the tile's rows (W, split layout) and tokens; rows and tokens
 * past the end repeat the last one, or (scales, 4 tokens a chunk) come from the last chunk; their
 * results are not stored */
template <int T, int BM, int BN, int WMT>
__device__ __forceinline__ void mmq_load(uint8_t *st, const uint8_t *Wq, const uint8_t *Wd, int nb, int row0, int rows,
                                         const uint8_t *xq, int K, int tok0, int n_tok, int kb) {
    using C = mmq_cfg<T, BM, BN, WMT>;
    const int tid = threadIdx.x;
    constexpr int ACH = C::QB * MMQ_NBK / 16; /* 16-byte chunks per row and stage */
#pragma unroll
    for (int c = tid; c < BM * ACH; c += C::THREADS) {
        const int r = c / ACH, p = c % ACH;
        const int row = min(row0 + r, rows - 1);
        cp_async(st + C::A_OFF + r * C::A_STRIDE + 16 * p, Wq + ((size_t)row * nb + kb) * C::QB + 16 * p, 16);
    }
#pragma unroll
    for (int c = tid; c < BN * 8; c += C::THREADS) {
        const int n = c / 8, p = c % 8;
        const int tok = min(tok0 + n, n_tok - 1);
        cp_async(st + C::B_OFF + n * C::B_STRIDE + 16 * p, xq + (size_t)tok * K + 32 * kb + 16 * p, 16);
    }
    for (int r = tid; r < BM; r += C::THREADS) {
        const int row = min(row0 + r, rows - 1);
        cp_async(st + C::AS_OFF + 8 * r, Wd + ((size_t)row * nb + kb) * 2, 8);
    }
    const int NT = mmq_nt(n_tok);
    const float *dxs = (const float *)(xq + (size_t)n_tok * K), *ccs = dxs + (size_t)nb * NT;
    for (int c = tid; c < MMQ_NBK * BN / 4; c += C::THREADS) {
        const int b = c / (BN / 4), n = 4 * (c % (BN / 4));
        const size_t src = (size_t)(kb + b) * NT + min(tok0 + n, NT - 4);
        cp_async(st + C::BS_OFF + 4 * (b * BN + n), dxs + src, 16);
        if (C::Q4) cp_async(st + C::BC_OFF + 4 * (b * BN + n), ccs + src, 16);
    }
}

template <int T, int BM, int BN, int WMT>
__global__ void __launch_bounds__(mmq_cfg<T, BM, BN, WMT>::THREADS, mmq_cfg<T, BM, BN, WMT>::THREADS == 256 ? 2 : 4)
k_mmq(const uint8_t *W, int K, int rows, const uint8_t *xq, int n_tok, const float *bias, float *y) {
    using C = mmq_cfg<T, BM, BN, WMT>;
    extern __shared__ __align__(16) uint8_t smem[];
    const int nb = K / 32;
    const uint8_t *Wq = W, *Wd = W + (size_t)C::QB * nb * rows;
    const int tok0 = blockIdx.x * BN, row0 = blockIdx.y * BM;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    const int wm = (warp % C::WARPS_M) * 16 * WMT, wn = (warp / C::WARPS_M) * 32;

    float acc[WMT][4][4];
#pragma unroll
    for (int i = 0; i < WMT; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;

    const int n_st = nb / MMQ_NBK;
    mmq_load<T, BM, BN, WMT>(smem, Wq, Wd, nb, row0, rows, xq, K, tok0, n_tok, 0);
    cp_commit();
    for (int s = 0; s < n_st; s++) {
        if (s + 1 < n_st) {
            mmq_load<T, BM, BN, WMT>(smem + ((s + 1) & 1) * C::STAGE, Wq, Wd, nb, row0, rows, xq, K, tok0, n_tok, (s + 1) * MMQ_NBK);
            cp_commit();
            cp_wait<1>();
        } else {
            cp_wait<0>();
        }
        __syncthreads();
        const uint8_t *st = smem + (s & 1) * C::STAGE;
#pragma unroll 1
        for (int blk = 0; blk < MMQ_NBK; blk++) {
            uint32_t b[4][2];
            float dx[4][2], cc[4][2];
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const uint8_t *bp = st + C::B_OFF + (wn + 8 * j + g) * C::B_STRIDE + 32 * blk + 4 * t;
                b[j][0] = *(const uint32_t *)bp;
                b[j][1] = *(const uint32_t *)(bp + 16);
                const int n = blk * BN + wn + 8 * j + 2 * t;
                const float2 d2 = *(const float2 *)(st + C::BS_OFF + 4 * n);
                dx[j][0] = d2.x;
                dx[j][1] = d2.y;
                if (C::Q4) {
                    const float2 c2 = *(const float2 *)(st + C::BC_OFF + 4 * n);
                    cc[j][0] = c2.x;
                    cc[j][1] = c2.y;
                } else {
                    cc[j][0] = cc[j][1] = MMQ_BIAS_F;
                }
            }
#pragma unroll
            for (int i = 0; i < WMT; i++) {
                const int r = wm + 16 * i + g;
                const uint8_t *ap = st + C::A_OFF + r * C::A_STRIDE + C::QB * blk + 4 * t;
                uint32_t a0, a1, a2, a3;
                if (C::Q4) { /* byte e of a block: element e (low nibble) and e + 16 (high nibble) */
                    const uint32_t w0 = *(const uint32_t *)ap, w1 = *(const uint32_t *)(ap + 8 * C::A_STRIDE);
                    a0 = w0 & 0x0f0f0f0fu;
                    a1 = w1 & 0x0f0f0f0fu;
                    a2 = (w0 >> 4) & 0x0f0f0f0fu;
                    a3 = (w1 >> 4) & 0x0f0f0f0fu;
                } else {
                    a0 = *(const uint32_t *)ap;
                    a2 = *(const uint32_t *)(ap + 16);
                    a1 = *(const uint32_t *)(ap + 8 * C::A_STRIDE);
                    a3 = *(const uint32_t *)(ap + 8 * C::A_STRIDE + 16);
                }
                const __half *ds = (const __half *)(st + C::AS_OFF);
                const float dw0 = __half2float(ds[r * MMQ_NBK + blk]), dw1 = __half2float(ds[(r + 8) * MMQ_NBK + blk]);
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    int d[4];
                    mma_s8(d, a0, a1, a2, a3, b[j][0], b[j][1]);
                    acc[i][j][0] = fmaf(__int_as_float(d[0]) - cc[j][0], dw0 * dx[j][0], acc[i][j][0]);
                    acc[i][j][1] = fmaf(__int_as_float(d[1]) - cc[j][1], dw0 * dx[j][1], acc[i][j][1]);
                    acc[i][j][2] = fmaf(__int_as_float(d[2]) - cc[j][0], dw1 * dx[j][0], acc[i][j][2]);
                    acc[i][j][3] = fmaf(__int_as_float(d[3]) - cc[j][1], dw1 * dx[j][1], acc[i][j][3]);
                }
            }
        }
        __syncthreads();
    }

    /* C fragment: d[0], d[1] = row g, tokens 2t, 2t + 1; d[2], d[3] = row g + 8 */
#pragma unroll
    for (int i = 0; i < WMT; i++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int row = row0 + wm + 16 * i + g + 8 * h;
            if (row >= rows) continue;
            const float bv = bias ? bias[row] : 0.0f;
#pragma unroll
            for (int j = 0; j < 4; j++)
#pragma unroll
                for (int e = 0; e < 2; e++) {
                    const int tok = tok0 + wn + 8 * j + 2 * t + e;
                    if (tok < n_tok) y[(size_t)tok * rows + row] = bias ? acc[i][j][2 * h + e] + bv : acc[i][j][2 * h + e];
                }
        }
}

/* x (n_tok rows of K floats) -> the layout above, rounded as q8_store rounds: 8 lanes a block of
 * 32, 4 elements (one 16-byte load, one 4-byte store) a lane */
__global__ void k_quant_mmq(const float *x, int K, int n_tok, uint8_t *xq) {
    const int nb = K / 32, NT = mmq_nt(n_tok), sub = threadIdx.x & 7;
    const size_t b = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 3;
    if (b >= (size_t)nb * n_tok) return; /* whole groups of 8 lanes leave together */
    const unsigned mask = __activemask();
    const size_t tok = b / nb;
    const int blk = (int)(b % nb);
    const float4 v = *(const float4 *)(x + tok * K + 32 * blk + 4 * sub);
    float amax = fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w)));
#pragma unroll
    for (int off = 4; off; off >>= 1) amax = fmaxf(amax, __shfl_xor_sync(mask, amax, off));
    float dh;
    const int q0 = q8_round_amax(v.x, amax, &dh), q1 = q8_round_amax(v.y, amax, &dh);
    const int q2 = q8_round_amax(v.z, amax, &dh), q3 = q8_round_amax(v.w, amax, &dh);
    *(uint32_t *)(xq + tok * K + 32 * blk + 4 * sub) =
        (uint32_t)(uint8_t)q0 | (uint32_t)(uint8_t)q1 << 8 | (uint32_t)(uint8_t)q2 << 16 | (uint32_t)(uint8_t)q3 << 24;
    int sq = q0 + q1 + q2 + q3;
#pragma unroll
    for (int off = 4; off; off >>= 1) sq += __shfl_xor_sync(mask, sq, off);
    if (sub == 0) {
        float *dxs = (float *)(xq + (size_t)n_tok * K);
        dxs[(size_t)blk * NT + tok] = dh;
        dxs[(size_t)(nb + blk) * NT + tok] = MMQ_BIAS_F + 8.0f * (float)sq; /* exact: |8 sq| <= 2^15 */
    }
}

bool cuda_mmq_ok(const zeta_weight *w, int n_tok) {
    static int on = -1;
    return n_tok > 8 && (w->type == ZETA_TYPE_Q4_0 || w->type == ZETA_TYPE_Q8_0) && w->ne0 % 128 == 0 && w->ne1 > 0 &&
           cuda_switch_on("ZETA_CUDA_MMQ", &on);
}

template <int T, int BM, int BN, int WMT>
static cudaError_t mmq_launch(cudaStream_t s, const zeta_weight *w, const float *bias, const uint8_t *xq, int n_tok, float *y) {
    using C = mmq_cfg<T, BM, BN, WMT>;
    /* the shared memory beyond the 48 KiB default, asked for once per instantiation and device */
    static unsigned long long attr_done = 0;
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return e;
    const unsigned long long bit = dev < 64 ? 1ull << dev : 0;
    if (!(__atomic_load_n(&attr_done, __ATOMIC_RELAXED) & bit)) { /* sessions on several threads: idempotent */
        e = cudaFuncSetAttribute(k_mmq<T, BM, BN, WMT>, cudaFuncAttributeMaxDynamicSharedMemorySize, C::SMEM);
        if (e != cudaSuccess) return e;
        __atomic_fetch_or(&attr_done, bit, __ATOMIC_RELAXED);
    }
    const dim3 grid((unsigned)((n_tok + BN - 1) / BN), (unsigned)((w->ne1 + BM - 1) / BM));
    k_mmq<T, BM, BN, WMT><<<grid, C::THREADS, C::SMEM, s>>>((const uint8_t *)w->dev, (int)w->ne0, (int)w->ne1, xq, n_tok, bias, y);
    return cudaGetLastError();
}

/* tile shape: ZETA_CUDA_MMQ_TILE=1 (128 x 128, warps of 64 x 32), 2 (128 x 64, warps of 32 x 32),
 * 3 (64 x 64, warps of 32 x 32) */
static int mmq_tile(void) {
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("ZETA_CUDA_MMQ_TILE");
        v = e && *e >= '1' && *e <= '3' ? *e - '0' : 3;
    }
    return v;
}

template <int T> static cudaError_t mmq_dispatch(cudaStream_t s, const zeta_weight *w, const float *bias, const uint8_t *xq, int n_tok, float *y) {
    switch (mmq_tile()) {
    case 1: return mmq_launch<T, 128, 128, 4>(s, w, bias, xq, n_tok, y);
    case 2: return mmq_launch<T, 128, 64, 2>(s, w, bias, xq, n_tok, y);
    default: return mmq_launch<T, 64, 64, 2>(s, w, bias, xq, n_tok, y);
    }
}

cudaError_t cuda_mmq_quant(cudaStream_t s, const float *x, int K, int n_tok, uint8_t *xq) {
    const size_t blocks = (size_t)n_tok * (K / 32);
    k_quant_mmq<<<(unsigned)((blocks + 31) / 32), 256, 0, s>>>(x, K, n_tok, xq);
    return cudaGetLastError();
}

cudaError_t cuda_mmq(cudaStream_t s, const zeta_weight *w, const float *bias, const float *x, int n_tok, float *y, uint8_t *xq) {
    if (x) {
        cudaError_t e = cuda_mmq_quant(s, x, (int)w->ne0, n_tok, xq);
        if (e != cudaSuccess) return e;
    }
    if (w->type == ZETA_TYPE_Q4_0) return mmq_dispatch<ZETA_TYPE_Q4_0>(s, w, bias, xq, n_tok, y);
    if (w->type == ZETA_TYPE_Q8_0) return mmq_dispatch<ZETA_TYPE_Q8_0>(s, w, bias, xq, n_tok, y);
    return cudaErrorInvalidValue;
}
