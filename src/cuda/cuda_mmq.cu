/* cuda_mmq.cu — prompt products (many tokens) of q4_0 / q8_0 weights on the tensor cores, with the
 * CPU's arithmetic: the activations are rounded to 8 bits in blocks of 32 exactly as for the
 * one-token product (q8_store), each 32-element block of a row and a token is an exact integer
 * dot product (int8 MMA, mma.sync m16n8k32), and y += (float)isum * (dw * dx) per block, in block
 * order, as the CPU's kernels and k_mmvq do. Only the float summation order across blocks can
 * differ from the CPU (it does not here: one thread walks the blocks of its outputs in order).
 *
 * Two kernels: k_mmq5 (below; the default since bench/CUDA_NOTES.md v5) and v4's k_mmq (kept for
 * ZETA_CUDA_MMQ_TILE=1..3 and as the reference of ZETA_CUDA_MMQ_CHECK=1). Both: a thread block
 * computes BM rows x BN tokens in warps of 16 x 8 MMA tiles; the K loop goes 4 blocks of 32 (128
 * elements) a stage, two stages in shared memory filled by cp.async while the other is computed.
 * Token tiles vary fastest in the grid, so the thread blocks that read the same rows of W run
 * together and W comes from memory once.
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

#define MMQ_BIAS 0x4B400000 /* 1.5 * 2^23 as a float's bits */
#define MMQ_BIAS_F 12582912.0f

__device__ __forceinline__ void mma_s8(int (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%10,%10,%10};"
                 : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "r"(MMQ_BIAS));
}

/* The activations of a product, written by k_quant_mmq (n_tok tokens, nb = K / 32 blocks a token,
 * NT = n_tok rounded up to a multiple of 16):
 *   quants [n_tok][K] int8, then scales dx [nb][NT] f32 (q8_store's d), then offsets [nb][NT] f32
 *   (1.5 * 2^23 + 8 * the block's sum of quants: what q4_0's products subtract from the MMA result),
 *   then the scales again as f16 [n_tok][nb] (k_mmq5 with HP).
 * Block-major scales, the tokens of each group of 16 in the order mmq_pos gives: token 8 jb + 2 t + e
 * of a group at 4 t + 2 jb + e, so that one 16-byte load gives a thread (t) the scales of its
 * tokens 2t, 2t + 1 of two MMA column tiles (jb = 0, 1). */
__host__ __device__ inline int mmq_nt(int n_tok) { return (n_tok + 15) & ~15; }
__device__ __forceinline__ int mmq_pos(int tok) { return (tok & ~15) | (tok >> 1 & 3) << 2 | (tok >> 3 & 1) << 1 | (tok & 1); }
size_t cuda_mmq_xq_bytes(int K, int n_tok) {
    return (size_t)n_tok * K + (size_t)(K / 32) * mmq_nt(n_tok) * 8 + (size_t)n_tok * (K / 32) * 2;
}

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
                const int n = blk * BN + wn + 16 * (j >> 1) + 4 * t + 2 * (j & 1); /* mmq_pos's order */
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

/* ---------------------------------------------------------------- v5 kernel
 * The same arithmetic per output as k_mmq (the same floats), fewer instructions per MMA: fragments
 * by ldmatrix (q8_0 A: one x4 a block; q4_0 A: one x4 for two blocks; B: one x4 for two column
 * tiles), the activation scales and offsets of two column tiles in one 16-byte load (mmq_pos), the
 * row scales of a stage in one 8-byte load a row, the blocks of a stage unrolled in pairs with
 * their shared-memory addresses fixed at compile time. Warps of 16 MI rows x 8 NJ tokens, BM x BN
 * a thread block (mmq5_auto picks the shape), token tiles fastest in the grid (as k_mmq).
 *
 * Programmatic dependent launch: every k_mmq5 may be launched before the kernel ahead of it has
 * finished. It loads its first weights (never written by a kernel) at once, then waits (pdl_wait)
 * before it reads xq -- unless `chained`: the kernel ahead is a k_mmq5 reading the same xq (products
 * of one input, cuda_mmq with x NULL), which was complete before that kernel signalled (pdl_trigger
 * comes after its own wait). A chained product so overlaps the one ahead (the small k and v
 * products run beside q; up's first blocks fill gate's last wave); it waits before its stores, so
 * its completion implies the completion of every kernel ahead of it, and the kernels launched the
 * ordinary way after it see all the products' outputs. */
template <int T, int BM, int BN, int MI, int NJ, bool HP> struct mmq5_cfg {
    static constexpr int WM = 16 * MI, WN = 8 * NJ, WARPS_M = BM / WM, WARPS_N = BN / WN;
    static constexpr int THREADS = 32 * WARPS_M * WARPS_N;
    static constexpr bool Q4 = T == ZETA_TYPE_Q4_0;
    static constexpr int QB = Q4 ? 16 : 32;
    static constexpr int A_STRIDE = QB * MMQ_NBK + 16, B_STRIDE = 32 * MMQ_NBK + 16; /* conflict-free ldmatrix rows */
    /* per stage: A quants, A f16 scales [row][4], B quants, then B f32 scales [blk][BN] (mmq_pos's
     * order) or, HP, B f16 scales [tok][4], then q4_0's offsets [blk][BN] */
    static constexpr int A_OFF = 0, AS_OFF = A_OFF + BM * A_STRIDE, B_OFF = AS_OFF + BM * 8, DX_OFF = B_OFF + BN * B_STRIDE;
    static constexpr int CC_OFF = DX_OFF + (HP ? BN * 8 : MMQ_NBK * BN * 4), STAGE = CC_OFF + (Q4 ? MMQ_NBK * BN * 4 : 0);
    static constexpr int SMEM = 2 * STAGE;
    /* blocks an SM (the register cap): 32 x 32 warps fit 128 registers, 16 x 32 warps 80 (24 warps) */
    static constexpr int MINB = (MI == 1 ? 3 * 256 : 512) / THREADS;
    static_assert(NJ % 2 == 0 && WN % 16 == 0 && BM % WM == 0 && BN % WN == 0, "mmq5 tile");
};

__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], unsigned addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}
__device__ __forceinline__ void mma_s8p(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%10,%10,%10};"
        : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(MMQ_BIAS));
}
/* d = a b over k = 8 halves, f32 accumulation from zero */
__device__ __forceinline__ void mma_f16k8(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t b0) {
    asm("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%7,%7,%7};"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a0), "r"(a1), "r"(b0), "f"(0.0f));
}
__device__ __forceinline__ void cp16(unsigned dst, const void *src) { asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(src)); }
__device__ __forceinline__ void cp8(unsigned dst, const void *src) { asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" ::"r"(dst), "l"(src)); }

/* the cp.async chunks of a stage, N of them over THREADS threads */
template <int N, int THREADS> struct mmq5_chunks {
    static constexpr int PER = (N + THREADS - 1) / THREADS;
    static __device__ __forceinline__ bool has(int i) { return N % THREADS == 0 || (int)threadIdx.x + i * THREADS < N; }
};

/* HP (the scale products on the tensor cores): dw * dx of a 16 x 8 tile is one f16 MMA of k = 8,
 * A = the rows' f16 scales of the stage's 4 blocks (k = 0..3; k = 4..7 zero), B = the tokens' f16
 * scales of block blk in row k = blk and zeros elsewhere. Both scales are f16 values, so their
 * product (22 significant bits) is exact in f32: the same float as dw * dx (FMUL), summed with
 * exact zeros (finite weight scales) -- the same floats as without HP. */
template <int T, int BM, int BN, int MI, int NJ, bool HP>
__global__ void __launch_bounds__(mmq5_cfg<T, BM, BN, MI, NJ, HP>::THREADS, mmq5_cfg<T, BM, BN, MI, NJ, HP>::MINB)
k_mmq5(const uint8_t *W, int K, int rows, const uint8_t *xq, int n_tok, const float *bias, float *y, int chained) {
    using C = mmq5_cfg<T, BM, BN, MI, NJ, HP>;
    extern __shared__ __align__(16) uint8_t smem[];
    const unsigned sbase = (unsigned)__cvta_generic_to_shared(smem);
    const int nb = K / 32, NT = mmq_nt(n_tok), n_st = nb / MMQ_NBK;
    const uint8_t *Wq = W, *Wd = W + (size_t)C::QB * nb * rows;
    const float *dxs = (const float *)(xq + (size_t)n_tok * K), *ccs = dxs + (size_t)nb * NT;
    const __half *dxh = (const __half *)(ccs + (size_t)nb * NT);
    const int tok0 = blockIdx.x * BN, row0 = blockIdx.y * BM, tid = threadIdx.x;
    const int warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int wm = (warp % C::WARPS_M) * C::WM, wn = (warp / C::WARPS_M) * C::WN;

    /* the chunks this thread copies each stage: 32-bit source offsets at block 0 (a stage at block kb
     * adds kb times the block's step); destinations follow from tid */
    constexpr int ACH = C::QB * MMQ_NBK / 16;
    using CA = mmq5_chunks<BM * ACH, C::THREADS>;
    using CS = mmq5_chunks<BM, C::THREADS>;
    using CB = mmq5_chunks<BN * 8, C::THREADS>;
    using CX = mmq5_chunks<MMQ_NBK * BN / 4, C::THREADS>; /* f32 scales, q4_0 offsets: 4 tokens a chunk */
    using CH = mmq5_chunks<BN, C::THREADS>;               /* HP: f16 scales, a token's 4 blocks a chunk */
    uint32_t a_src[CA::PER], s_src[CS::PER], b_src[CB::PER], x_src[CX::PER], h_src[HP ? CH::PER : 1];
#pragma unroll
    for (int i = 0; i < CA::PER; i++) {
        const int c = tid + i * C::THREADS;
        a_src[i] = (uint32_t)min(row0 + c / ACH, rows - 1) * (uint32_t)(nb * C::QB) + 16 * (c % ACH);
    }
#pragma unroll
    for (int i = 0; i < CS::PER; i++) s_src[i] = (uint32_t)min(row0 + tid + i * C::THREADS, rows - 1) * (uint32_t)(nb * 2);
#pragma unroll
    for (int i = 0; i < CB::PER; i++) {
        const int c = tid + i * C::THREADS;
        b_src[i] = (uint32_t)min(tok0 + c / 8, n_tok - 1) * (uint32_t)K + 16 * (c % 8);
    }
#pragma unroll
    for (int i = 0; i < CX::PER; i++) {
        const int c = tid + i * C::THREADS;
        x_src[i] = (uint32_t)(c / (BN / 4)) * (uint32_t)NT + min(tok0 + 4 * (c % (BN / 4)), NT - 4);
    }
    if (HP) {
#pragma unroll
        for (int i = 0; i < CH::PER; i++) h_src[i] = (uint32_t)min(tok0 + tid + i * C::THREADS, n_tok - 1) * (uint32_t)nb;
    }
    auto load_w = [&](unsigned st, int kb) {
        const uint8_t *wq = Wq + (size_t)kb * C::QB, *wd = Wd + (size_t)kb * 2;
#pragma unroll
        for (int i = 0; i < CA::PER; i++) {
            const int c = tid + i * C::THREADS;
            if (CA::has(i)) cp16(st + C::A_OFF + (c / ACH) * C::A_STRIDE + 16 * (c % ACH), wq + a_src[i]);
        }
#pragma unroll
        for (int i = 0; i < CS::PER; i++)
            if (CS::has(i)) cp8(st + C::AS_OFF + 8 * (tid + i * C::THREADS), wd + s_src[i]);
    };
    auto load_x = [&](unsigned st, int kb) {
        const uint8_t *xb = xq + (size_t)kb * 32;
        const float *dx = dxs + (size_t)kb * NT, *cc = ccs + (size_t)kb * NT;
#pragma unroll
        for (int i = 0; i < CB::PER; i++) {
            const int c = tid + i * C::THREADS;
            if (CB::has(i)) cp16(st + C::B_OFF + (c / 8) * C::B_STRIDE + 16 * (c % 8), xb + b_src[i]);
        }
        if (!HP || C::Q4) {
#pragma unroll
            for (int i = 0; i < CX::PER; i++) {
                const int c = tid + i * C::THREADS, o = 4 * ((c / (BN / 4)) * BN + 4 * (c % (BN / 4)));
                if (CX::has(i)) {
                    if (!HP) cp16(st + C::DX_OFF + o, dx + x_src[i]);
                    if (C::Q4) cp16(st + C::CC_OFF + o, cc + x_src[i]);
                }
            }
        }
        if (HP) {
#pragma unroll
            for (int i = 0; i < CH::PER; i++)
                if (CH::has(i)) cp8(st + C::DX_OFF + 8 * (tid + i * C::THREADS), dxh + kb + h_src[i]);
        }
    };

    float acc[MI][NJ][4];
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NJ; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;

    load_w(sbase, 0);
    if (!chained) pdl_wait();
    pdl_trigger(); /* xq is complete: a chained product may start */
    load_x(sbase, 0);
    cp_commit();

    /* per lane: ldmatrix row addresses (A: rows lane % 8 + 8 (lane / 8 % 2), 16-byte half lane / 16;
     * B: tokens lane % 8 + 8 (lane / 16), 16-byte half lane / 8 % 2) */
    const unsigned a_lane = C::A_OFF + (wm + (lane & 7) + 8 * (lane >> 3 & 1)) * C::A_STRIDE + 16 * (lane >> 4);
    const unsigned b_lane = C::B_OFF + (wn + (lane & 7) + 8 * (lane >> 4)) * C::B_STRIDE + 16 * (lane >> 3 & 1);
    const int dx_lane = 4 * (wn + 4 * t);
    /* HP: the lane's B scale half of block blk: nonzero in lane t = blk / 2 only */
    const uint32_t hmask0 = t == 0 ? 0x0000ffffu : 0, hmask1 = t == 0 ? 0xffff0000u : 0;
    const uint32_t hmask2 = t == 1 ? 0x0000ffffu : 0, hmask3 = t == 1 ? 0xffff0000u : 0;

    for (int s = 0; s < n_st; s++) {
        if (s + 1 < n_st) {
            const unsigned nx = sbase + ((s + 1) & 1) * C::STAGE;
            load_w(nx, (s + 1) * MMQ_NBK);
            load_x(nx, (s + 1) * MMQ_NBK);
            cp_commit();
            cp_wait<1>();
        } else {
            cp_wait<0>();
        }
        __syncthreads();
        const unsigned st = sbase + (s & 1) * C::STAGE;
        const uint8_t *sp = smem + (s & 1) * C::STAGE;
        /* f16 row scales of the stage's 4 blocks, rows wm + 16 i + g + 8 h: HP as the A fragment
         * (halves 2t, 2t + 1 of the row, t < 2), else all 4 */
        uint32_t ah[MI][2];
        uint2 dwr[MI][2];
        uint2 dxw[HP ? NJ : 1]; /* HP: f16 scales of the stage's 4 blocks, token wn + 8 j + g */
#pragma unroll
        for (int i = 0; i < MI; i++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const uint8_t *p = sp + C::AS_OFF + 8 * (wm + 16 * i + 8 * h + g);
                if (HP) ah[i][h] = t < 2 ? *(const uint32_t *)(p + 4 * t) : 0u;
                else dwr[i][h] = *(const uint2 *)p;
            }
        if (HP) {
#pragma unroll
            for (int j = 0; j < NJ; j++) dxw[j] = *(const uint2 *)(sp + C::DX_OFF + 8 * (wn + 8 * j + g));
        }
#pragma unroll 1
        for (int hb = 0; hb < 2; hb++) { /* blocks 2 hb, 2 hb + 1 */
            uint32_t aq4[MI][4];
            if (C::Q4) {
#pragma unroll
                for (int i = 0; i < MI; i++) ldsm_x4(aq4[i], st + a_lane + 16 * i * C::A_STRIDE + 32 * hb);
            }
            uint32_t dwh[MI][2], dxh2[HP ? NJ : 1];
#pragma unroll
            for (int i = 0; i < MI; i++)
#pragma unroll
                for (int h = 0; h < 2; h++) dwh[i][h] = hb ? dwr[i][h].y : dwr[i][h].x;
            if (HP) {
#pragma unroll
                for (int j = 0; j < NJ; j++) dxh2[j] = hb ? dxw[j].y : dxw[j].x;
            }
#pragma unroll
            for (int bb = 0; bb < 2; bb++) {
                const int blk = 2 * hb + bb;
                uint32_t a[MI][4];
#pragma unroll
                for (int i = 0; i < MI; i++) {
                    if (C::Q4) { /* byte e of a block: element e (low nibble) and e + 16 (high nibble) */
                        const uint32_t w0 = aq4[i][2 * bb], w1 = aq4[i][2 * bb + 1];
                        a[i][0] = w0 & 0x0f0f0f0fu;
                        a[i][1] = w1 & 0x0f0f0f0fu;
                        a[i][2] = (w0 >> 4) & 0x0f0f0f0fu;
                        a[i][3] = (w1 >> 4) & 0x0f0f0f0fu;
                    } else {
                        ldsm_x4(a[i], st + a_lane + 16 * i * C::A_STRIDE + 32 * blk);
                    }
                }
                float dw[MI][2];
                if (!HP) {
#pragma unroll
                    for (int i = 0; i < MI; i++)
#pragma unroll
                        for (int h = 0; h < 2; h++)
                            dw[i][h] = __half2float(__ushort_as_half((unsigned short)(bb ? dwh[i][h] >> 16 : dwh[i][h] & 0xffff)));
                }
                const uint32_t hm = hb ? (bb ? hmask3 : hmask2) : (bb ? hmask1 : hmask0);
#pragma unroll
                for (int jp = 0; jp < NJ / 2; jp++) {
                    uint32_t b[4];
                    ldsm_x4(b, st + b_lane + 16 * jp * C::B_STRIDE + 32 * blk);
                    float4 d4 = make_float4(0.f, 0.f, 0.f, 0.f);
                    if (!HP) d4 = *(const float4 *)(sp + C::DX_OFF + 4 * blk * BN + dx_lane + 64 * jp);
                    float4 c4 = make_float4(MMQ_BIAS_F, MMQ_BIAS_F, MMQ_BIAS_F, MMQ_BIAS_F);
                    if (C::Q4) c4 = *(const float4 *)(sp + C::CC_OFF + 4 * blk * BN + dx_lane + 64 * jp);
#pragma unroll
                    for (int jb = 0; jb < 2; jb++) {
                        const int j = 2 * jp + jb;
                        const float dx0 = jb ? d4.z : d4.x, dx1 = jb ? d4.w : d4.y;
                        const float cc0 = jb ? c4.z : c4.x, cc1 = jb ? c4.w : c4.y;
#pragma unroll
                        for (int i = 0; i < MI; i++) {
                            int d[4];
                            mma_s8p(d, a[i], b[2 * jb], b[2 * jb + 1]);
                            float sc[4];
                            if (HP) {
                                mma_f16k8(sc, ah[i][0], ah[i][1], dxh2[j] & hm);
                            } else {
                                sc[0] = dw[i][0] * dx0;
                                sc[1] = dw[i][0] * dx1;
                                sc[2] = dw[i][1] * dx0;
                                sc[3] = dw[i][1] * dx1;
                            }
                            acc[i][j][0] = fmaf(__int_as_float(d[0]) - cc0, sc[0], acc[i][j][0]);
                            acc[i][j][1] = fmaf(__int_as_float(d[1]) - cc1, sc[1], acc[i][j][1]);
                            acc[i][j][2] = fmaf(__int_as_float(d[2]) - cc0, sc[2], acc[i][j][2]);
                            acc[i][j][3] = fmaf(__int_as_float(d[3]) - cc1, sc[3], acc[i][j][3]);
                        }
                    }
                }
            }
        }
        __syncthreads();
    }

    pdl_wait(); /* chained: the kernels ahead are complete before this one stores (and completes) */
    /* C fragment: d[0], d[1] = row g, tokens 2t, 2t + 1; d[2], d[3] = row g + 8 */
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int row = row0 + wm + 16 * i + g + 8 * h;
            if (row >= rows) continue;
            const float bv = bias ? bias[row] : 0.0f;
#pragma unroll
            for (int j = 0; j < NJ; j++)
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
    pdl_trigger(); /* the product that reads xq may start loading its weights (it waits before reading xq) */
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
        const int p = mmq_pos((int)tok);
        dxs[(size_t)blk * NT + p] = dh;
        dxs[(size_t)(nb + blk) * NT + p] = MMQ_BIAS_F + 8.0f * (float)sq; /* exact: |8 sq| <= 2^15 */
        ((__half *)(dxs + (size_t)2 * nb * NT))[tok * nb + blk] = __float2half_rn(dh); /* exact: dh is an f16 value */
    }
}

bool cuda_mmq_ok(const zeta_weight *w, int n_tok) {
    static int on = -1;
    return n_tok > 8 && (w->type == ZETA_TYPE_Q4_0 || w->type == ZETA_TYPE_Q8_0) && w->ne0 % 128 == 0 && w->ne1 > 0 &&
           cuda_switch_on("ZETA_CUDA_MMQ", &on);
}

/* the shared memory beyond the 48 KiB default, asked for once per kernel and device (sessions on
 * several threads: idempotent) */
template <class F> static cudaError_t mmq_smem_attr(F *kernel, int smem, unsigned long long *done) {
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return e;
    const unsigned long long bit = dev < 64 ? 1ull << dev : 0;
    if (!(__atomic_load_n(done, __ATOMIC_RELAXED) & bit)) {
        e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
        if (e != cudaSuccess) return e;
        __atomic_fetch_or(done, bit, __ATOMIC_RELAXED);
    }
    return cudaSuccess;
}

template <int T, int BM, int BN, int WMT>
static cudaError_t mmq_launch(cudaStream_t s, const zeta_weight *w, const float *bias, const uint8_t *xq, int n_tok, float *y) {
    using C = mmq_cfg<T, BM, BN, WMT>;
    static unsigned long long attr_done = 0;
    cudaError_t e = mmq_smem_attr(k_mmq<T, BM, BN, WMT>, C::SMEM, &attr_done);
    if (e != cudaSuccess) return e;
    const dim3 grid((unsigned)((n_tok + BN - 1) / BN), (unsigned)((w->ne1 + BM - 1) / BM));
    k_mmq<T, BM, BN, WMT><<<grid, C::THREADS, C::SMEM, s>>>((const uint8_t *)w->dev, (int)w->ne0, (int)w->ne1, xq, n_tok, bias, y);
    return cudaGetLastError();
}

template <int T, int BM, int BN, int MI, int NJ, bool HP>
static cudaError_t mmq5_launch(cudaStream_t s, const zeta_weight *w, const float *bias, const uint8_t *xq, int n_tok, float *y, bool pdl,
                               bool chained) {
    using C = mmq5_cfg<T, BM, BN, MI, NJ, HP>;
    static unsigned long long attr_done = 0;
    cudaError_t e = mmq_smem_attr(k_mmq5<T, BM, BN, MI, NJ, HP>, C::SMEM, &attr_done);
    if (e != cudaSuccess) return e;
    return cuda_launch(pdl, k_mmq5<T, BM, BN, MI, NJ, HP>, dim3((unsigned)((n_tok + BN - 1) / BN), (unsigned)((w->ne1 + BM - 1) / BM)),
                       dim3(C::THREADS), C::SMEM, s, (const uint8_t *)w->dev, (int)w->ne0, (int)w->ne1, xq, n_tok, bias, y,
                       (int)(pdl && chained));
}

/* tile shape, ZETA_CUDA_MMQ_TILE: v4's kernel: 1 (128 x 128, warps of 64 x 32), 2 (128 x 64, warps of
 * 32 x 32), 3 (64 x 64, warps of 32 x 32); v5's: a (64 x 64, warps of 32 x 32), b (128 x 64, 32 x 32),
 * f (64 x 64, 16 x 32), g (32 x 64, 16 x 32); unset: v5, chosen by shape. ZETA_CUDA_MMQ_HP=0|1: v5
 * with the scale products on the tensor cores */
static int mmq_tile(void) {
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("ZETA_CUDA_MMQ_TILE");
        v = e && ((*e >= '1' && *e <= '3') || *e == 'a' || *e == 'b' || *e == 'f' || *e == 'g') ? *e : 0;
    }
    return v;
}
static bool mmq_hp(void) {
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("ZETA_CUDA_MMQ_HP");
        v = e && *e == '1';
    }
    return v != 0;
}

static int mmq_n_sm(void) {
    static int n_sm[64];
    int dev = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return 132;
    if (!__atomic_load_n(&n_sm[dev], __ATOMIC_RELAXED)) {
        int v = 0;
        if (cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || v <= 0) v = 132;
        __atomic_store_n(&n_sm[dev], v, __ATOMIC_RELAXED);
    }
    return n_sm[dev];
}

/* v5's tile for a product of `rows` rows and n_tok tokens: 64 x 64 tiles of 32 x 32 warps ('a'), or,
 * when these are fewer than ZETA_CUDA_MMQ_SMALL (default 2) times the multiprocessors, the same tiles
 * of 16 x 32 warps ('f': twice the warps, for the small products of small models) */
static int mmq5_auto(int rows, int n_tok) {
    static int small = -1;
    if (small < 0) {
        const char *e = getenv("ZETA_CUDA_MMQ_SMALL");
        small = e && *e >= '0' && *e <= '9' ? atoi(e) : 2;
    }
    const long tiles = (long)((rows + 63) / 64) * ((n_tok + 63) / 64);
    return tiles < (long)small * mmq_n_sm() ? 'f' : 'a';
}

template <int T, bool HP>
static cudaError_t mmq5_dispatch(int tile, cudaStream_t s, const zeta_weight *w, const float *bias, const uint8_t *xq, int n_tok, float *y,
                                 bool pdl, bool chained) {
    switch (tile) {
    case 'b': return mmq5_launch<T, 128, 64, 2, 4, HP>(s, w, bias, xq, n_tok, y, pdl, chained);
    case 'f': return mmq5_launch<T, 64, 64, 1, 4, HP>(s, w, bias, xq, n_tok, y, pdl, chained);
    case 'g': return mmq5_launch<T, 32, 64, 1, 4, HP>(s, w, bias, xq, n_tok, y, pdl, chained);
    default: return mmq5_launch<T, 64, 64, 2, 4, HP>(s, w, bias, xq, n_tok, y, pdl, chained);
    }
}

template <int T>
static cudaError_t mmq_dispatch(cudaStream_t s, const zeta_weight *w, const float *bias, const uint8_t *xq, int n_tok, float *y, bool pdl,
                                bool chained) {
    int tile = mmq_tile();
    if (!tile) tile = mmq5_auto((int)w->ne1, n_tok);
    switch (tile) {
    case '1': return mmq_launch<T, 128, 128, 4>(s, w, bias, xq, n_tok, y);
    case '2': return mmq_launch<T, 128, 64, 2>(s, w, bias, xq, n_tok, y);
    case '3': return mmq_launch<T, 64, 64, 2>(s, w, bias, xq, n_tok, y);
    }
    return mmq_hp() ? mmq5_dispatch<T, true>(tile, s, w, bias, xq, n_tok, y, pdl, chained)
                    : mmq5_dispatch<T, false>(tile, s, w, bias, xq, n_tok, y, pdl, chained);
}

/* the last launch of this file on this thread: products of one input chain (see k_mmq5) only when
 * the kernel ahead of them in the stream is known to be a k_mmq5 reading the same xq */
enum { MMQ_LAST_OTHER = 0, MMQ_LAST_QUANT = 1, MMQ_LAST_V5 = 2 };
struct mmq_last {
    cudaStream_t s;
    const uint8_t *xq;
    const float *y;
    size_t ny;
    int K, n_tok, kind;
};
static thread_local mmq_last g_last;

static bool mmq_pdl_on(void) {
    static int on = -1, all = -1;
    return cuda_switch_on("ZETA_CUDA_MMQ_PDL", &on) && cuda_switch_on("ZETA_CUDA_PDL", &all);
}

/* ZETA_CUDA_MMQ_CHECK=1: every product is computed again by v4's kernel (tile 3) and the two
 * results compared bit for bit; the count of differing outputs is printed at exit (stderr) */
static unsigned long long g_chk_products, g_chk_outputs, g_chk_differ;
static void mmq_check_report(void) {
    fprintf(stderr, "zeta cuda mmq check: %llu products, %llu outputs, %llu differ from v4's kernel\n", g_chk_products, g_chk_outputs,
            g_chk_differ);
}
__global__ void k_mmq_cmp(const float *a, const float *b, size_t n, unsigned long long *cnt) {
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i < n && __float_as_uint(a[i]) != __float_as_uint(b[i])) atomicAdd(cnt, 1ull);
}
/* HP's premise, tested once in check mode: the f16 MMA of one nonzero term gives dw * dx exactly
 * (f32 product of the halves; +0 and -0 compare equal), subnormal halves included */
__device__ __forceinline__ unsigned short mmq_test_half(unsigned x) {
    unsigned e = x >> 10 & 31;
    if (x >> 20 & 1) e = 0; /* half of them subnormal (or zero) */
    if (e == 31) e = 30;
    return (unsigned short)((x >> 31) << 15 | e << 10 | (x & 1023));
}
__global__ void k_mmq_hp_test(unsigned long long *bad) {
    const int lane = threadIdx.x, g = lane >> 2, t = lane & 3;
    for (int it = 0; it < 4096; it++) {
        unsigned short v[24];
        for (int i = 0; i < 24; i++) {
            unsigned x = (unsigned)(it * 24 + i) * 2654435761u;
            x ^= x >> 15;
            x *= 2246822519u;
            x ^= x >> 13;
            v[i] = mmq_test_half(x);
        }
        float d[4];
        mma_f16k8(d, t == 0 ? v[g] : 0u, t == 0 ? v[g + 8] : 0u, t == 0 ? v[16 + g] : 0u);
        for (int e = 0; e < 4; e++) {
            const float ref = __half2float(__ushort_as_half(v[g + 8 * (e >> 1)])) * __half2float(__ushort_as_half(v[16 + 2 * t + (e & 1)]));
            if (!(d[e] == ref)) atomicAdd(bad, 1ull);
        }
    }
}

static cudaError_t mmq_check(cudaStream_t s, const zeta_weight *w, const float *bias, const uint8_t *xq, int n_tok, const float *y) {
    static thread_local float *ref;
    static thread_local size_t cap;
    static thread_local unsigned long long *cnt;
    static int registered;
    const size_t n = (size_t)n_tok * w->ne1;
    cudaError_t e = cudaStreamSynchronize(s);
    if (e != cudaSuccess) return e;
    if (n > cap) {
        cudaFree(ref);
        ref = NULL;
        cap = 0;
        if ((e = cudaMalloc(&ref, n * sizeof(float))) != cudaSuccess) return e;
        cap = n;
    }
    if (!cnt && (e = cudaMalloc(&cnt, sizeof *cnt)) != cudaSuccess) return e;
    static int hp_tested;
    if (mmq_hp() && !__atomic_exchange_n(&hp_tested, 1, __ATOMIC_RELAXED)) {
        unsigned long long h = 0;
        if ((e = cudaMemsetAsync(cnt, 0, sizeof *cnt, s)) != cudaSuccess) return e;
        k_mmq_hp_test<<<1, 32, 0, s>>>(cnt);
        if ((e = cudaMemcpyAsync(&h, cnt, sizeof h, cudaMemcpyDeviceToHost, s)) != cudaSuccess) return e;
        if ((e = cudaStreamSynchronize(s)) != cudaSuccess) return e;
        fprintf(stderr, "zeta cuda mmq check: HP self-test, %d products of f16 scales: %llu differ from f32 products\n", 4096 * 128, h);
    }
    e = w->type == ZETA_TYPE_Q4_0 ? mmq_launch<ZETA_TYPE_Q4_0, 64, 64, 2>(s, w, bias, xq, n_tok, ref)
                                  : mmq_launch<ZETA_TYPE_Q8_0, 64, 64, 2>(s, w, bias, xq, n_tok, ref);
    if (e != cudaSuccess) return e;
    if ((e = cudaMemsetAsync(cnt, 0, sizeof *cnt, s)) != cudaSuccess) return e;
    k_mmq_cmp<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(y, ref, n, cnt);
    unsigned long long h = 0;
    if ((e = cudaMemcpyAsync(&h, cnt, sizeof h, cudaMemcpyDeviceToHost, s)) != cudaSuccess) return e;
    if ((e = cudaStreamSynchronize(s)) != cudaSuccess) return e;
    if (!__atomic_exchange_n(&registered, 1, __ATOMIC_RELAXED)) atexit(mmq_check_report);
    __atomic_fetch_add(&g_chk_products, 1ull, __ATOMIC_RELAXED);
    __atomic_fetch_add(&g_chk_outputs, (unsigned long long)n, __ATOMIC_RELAXED);
    __atomic_fetch_add(&g_chk_differ, h, __ATOMIC_RELAXED);
    if (h) fprintf(stderr, "zeta cuda mmq check: %s (%lld x %lld, %d tokens): %llu outputs differ\n", w->name ? w->name : "?",
                   (long long)w->ne1, (long long)w->ne0, n_tok, h);
    return cudaSuccess;
}

cudaError_t cuda_mmq_quant(cudaStream_t s, const float *x, int K, int n_tok, uint8_t *xq) {
    const size_t blocks = (size_t)n_tok * (K / 32);
    k_quant_mmq<<<(unsigned)((blocks + 31) / 32), 256, 0, s>>>(x, K, n_tok, xq);
    g_last = {s, xq, NULL, 0, K, n_tok, MMQ_LAST_QUANT};
    return cudaGetLastError();
}

cudaError_t cuda_mmq(cudaStream_t s, const zeta_weight *w, const float *bias, const float *x, int n_tok, float *y, uint8_t *xq) {
    if (x) {
        cudaError_t e = cuda_mmq_quant(s, x, (int)w->ne0, n_tok, xq);
        if (e != cudaSuccess) return e;
    }
    static int chk = -1;
    if (chk < 0) {
        const char *e = getenv("ZETA_CUDA_MMQ_CHECK");
        chk = e && *e == '1';
    }
    const int K = (int)w->ne0, tile = mmq_tile();
    const size_t ny = (size_t)n_tok * w->ne1;
    const bool v5 = !(tile >= '1' && tile <= '3'), pdl = v5 && !chk && mmq_pdl_on();
    const bool chained = pdl && !x && g_last.kind == MMQ_LAST_V5 && g_last.s == s && g_last.xq == xq && g_last.K == K &&
                         g_last.n_tok == n_tok && (y + ny <= g_last.y || g_last.y + g_last.ny <= y);
    cudaError_t e = cudaErrorInvalidValue;
    if (w->type == ZETA_TYPE_Q4_0) e = mmq_dispatch<ZETA_TYPE_Q4_0>(s, w, bias, xq, n_tok, y, pdl, chained);
    if (w->type == ZETA_TYPE_Q8_0) e = mmq_dispatch<ZETA_TYPE_Q8_0>(s, w, bias, xq, n_tok, y, pdl, chained);
    g_last = {s, xq, y, ny, K, n_tok, e == cudaSuccess && v5 ? MMQ_LAST_V5 : MMQ_LAST_OTHER};
    if (e == cudaSuccess && chk) {
        e = mmq_check(s, w, bias, xq, n_tok, y);
        g_last.kind = MMQ_LAST_OTHER;
    }
    return e;
}
