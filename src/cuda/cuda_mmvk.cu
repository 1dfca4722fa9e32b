/* cuda_mmvk.cu — one-token products of q4_K / q6_K weights (k_mmvk), f32 activations; launched by
 * cuda_mmv (cuda_matmul.cu) for those types unless ZETA_CUDA_MMVK=0. */
#include "cuda/cuda_mmv.cuh"

/* Q4_K / Q6_K decode (k_mmvk), f32 activations. Lane p of an iteration takes quarter p % 4 of
 * super-block p / 4 (64 elements), holds those 64 activations in registers (with the two Q4_K
 * sub-blocks' sums) and multiplies them with the same quarter of each of the warp's MMV1_R items:
 * per sub-block the codes times the activations (four partial sums), times the scale the
 * dequantizer uses (q4_K: d * sc, minus dmin * m times the activations' sum; q6_K: d * sc). Loads:
 * 48 bytes a row and lane, the items' loads issued before any is used. Per row the sum is formed
 * the same way whatever the job (graph == direct bits). A block first stages the activations in
 * shared memory (K <= MMVK_SH_K; ZETA_CUDA_MMVK_SH=0: read from global memory): lanes 64 elements
 * apart otherwise made each 16-byte activation load touch 32 cache lines, ~7x the weight bytes in
 * L2 traffic. H200, 1.1B-shape Q4_K_M, tg128: k_mmv1 580-590 t/s, this kernel reading x from
 * global memory 681-691, staged 800-816 (bench/CUDA_NOTES.md v10). ZETA_CUDA_MMVK=0: k_mmv1.
 * Tried and slower: a 4-byte word of codes a lane, so that the warp's loads of codes and
 * activations are contiguous runs (681 -> 500 t/s: the scale decoding per 8 elements then cost
 * more than the scattered loads did); 8-warp blocks sharing one staged copy (767 against 820). */

/* 16 bytes from a 2-byte aligned address (Q6_K super-blocks are 210 bytes apart): the 4-byte
 * words around it, shifted (the word before p is inside this row or the one before: row 0's first
 * super-block is aligned) */
__device__ __forceinline__ void ld16_a2(const uint8_t *p, uint32_t (&w)[4]) {
    const uintptr_t a = (uintptr_t)p;
    if ((a & 3) == 0) {
        const uint32_t *r = (const uint32_t *)p;
#pragma unroll
        for (int i = 0; i < 4; i++) w[i] = r[i];
    } else {
        const uint32_t *r = (const uint32_t *)(a - 2);
        uint32_t t[5];
#pragma unroll
        for (int i = 0; i < 5; i++) t[i] = r[i];
#pragma unroll
        for (int i = 0; i < 4; i++) w[i] = __funnelshift_r(t[i], t[i + 1], 16);
    }
}

/* byte e of v (a code < 128) minus `off`, exactly, as a float */
__device__ __forceinline__ float code_f(uint32_t v, int e, float off) { return i2f_lo8(v, e) - (8388608.0f + off); }

/* 4 codes (bytes of v, minus off) times 4 activations, into 4 separate sums */
__device__ __forceinline__ void mmvk_fma4(uint32_t v, float off, float4 xq, float (&a)[4]) {
    a[0] += code_f(v, 0, off) * xq.x;
    a[1] += code_f(v, 1, off) * xq.y;
    a[2] += code_f(v, 2, off) * xq.z;
    a[3] += code_f(v, 3, off) * xq.w;
}

/* one lane's words of one row's quarter: q4_K: the 16-byte header, 32 bytes of nibbles; q6_K: the
 * 16 ql bytes of the low group, the 16 of the high group, the 16 qh bytes */
struct mmvk_row { uint32_t w[12]; };

template <int T> __device__ __forceinline__ void mmvk_load(const uint8_t *row, int sb, int c, mmvk_row &r) {
    if (T == ZETA_TYPE_Q4_K) {
        const uint8_t *b = row + (size_t)sb * 144;
        const uint4 h = *(const uint4 *)b, q0 = *(const uint4 *)(b + 16 + 32 * c), q1 = *(const uint4 *)(b + 32 + 32 * c);
        r.w[0] = h.x; r.w[1] = h.y; r.w[2] = h.z; r.w[3] = h.w;
        r.w[4] = q0.x; r.w[5] = q0.y; r.w[6] = q0.z; r.w[7] = q0.w;
        r.w[8] = q1.x; r.w[9] = q1.y; r.w[10] = q1.z; r.w[11] = q1.w;
    } else { /* quarter c: half cc = c / 2 of 128 elements, l in [16 h, 16 h + 16), h = c % 2 */
        const uint8_t *b = row + (size_t)sb * 210;
        const int cc = c >> 1, h = c & 1;
        uint32_t a[4], bb[4], hh[4];
        ld16_a2(b + 64 * cc + 16 * h, a);
        ld16_a2(b + 64 * cc + 32 + 16 * h, bb);
        ld16_a2(b + 128 + 32 * cc + 16 * h, hh);
#pragma unroll
        for (int i = 0; i < 4; i++) { r.w[i] = a[i]; r.w[4 + i] = bb[i]; r.w[8 + i] = hh[i]; }
    }
}

/* the row's quarter times the lane's 64 activations xv (groups of 16: q4_K 16 g .. in a row; q6_K
 * 32 g apart), with the q4_K sub-block sums xs */
template <int T>
__device__ __forceinline__ float mmvk_dot(const uint8_t *row, int sb, int c, const mmvk_row &r, const float4 (&xv)[16], const float (&xs)[2]) {
    if (T == ZETA_TYPE_Q4_K) {
        const float d = h2f((uint16_t)(r.w[0] & 0xffffu)), dmin = h2f((uint16_t)(r.w[0] >> 16));
        const uint32_t sw[3] = {r.w[1], r.w[2], r.w[3]}; /* the 12 scale bytes */
        const auto byte = [&](int i) { return (int)((sw[i >> 2] >> (8 * (i & 3))) & 0xffu); };
        float part = 0.0f;
#pragma unroll
        for (int k = 0; k < 2; k++) { /* sub-block j = 2c + k: the low (k 0) or high (k 1) nibbles */
            const int j = 2 * c + k;
            int sc, m;
            if (j < 4) {
                sc = byte(j) & 63;
                m = byte(j + 4) & 63;
            } else {
                sc = (byte(j + 4) & 0x0f) | ((byte(j - 4) >> 6) << 4);
                m = (byte(j + 4) >> 4) | ((byte(j) >> 6) << 4);
            }
            float a[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
            for (int i = 0; i < 8; i++) mmvk_fma4(k ? (r.w[4 + i] >> 4) & 0x0f0f0f0fu : r.w[4 + i] & 0x0f0f0f0fu, 0.0f, xv[8 * k + i], a);
            const float d1 = d * (float)sc, m1 = dmin * (float)m;
            part += d1 * ((a[0] + a[1]) + (a[2] + a[3])) - m1 * xs[k];
        }
        return part;
    } else {
        const uint8_t *b = row + (size_t)sb * 210;
        const int cc = c >> 1, h = c & 1;
        const float d = h2f((uint16_t)(b[208] | (b[209] << 8)));
        const int8_t *scp = (const int8_t *)(b + 192) + 8 * cc + h;
        float part = 0.0f;
#pragma unroll
        for (int g = 0; g < 4; g++) { /* elements 128 cc + 32 g + l: scale 8 cc + 2 g + h */
            float a[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const uint32_t lo = g & 1 ? r.w[4 + i] : r.w[i];
                const uint32_t q = ((g < 2 ? lo : lo >> 4) & 0x0f0f0f0fu) | (((r.w[8 + i] >> (2 * g)) & 0x03030303u) << 4);
                mmvk_fma4(q, 32.0f, xv[4 * g + i], a);
            }
            part += d * (float)scp[2 * g] * ((a[0] + a[1]) + (a[2] + a[3]));
        }
        return part;
    }
}

/* activations staged in shared memory (SH) when K <= MMVK_SH_K: element i at i + 4 (i / 64), so
 * the 8 lanes of a 16-byte load phase (quarters 64 elements apart) fall in distinct banks */
#define MMVK_SH_K 11264
__device__ __forceinline__ int mmvk_skew(int i) { return i + 4 * (i >> 6); }

template <int T, int MODE, bool SH> __global__ void __launch_bounds__(32 * MMV1_WARPS) k_mmvk(cuda_mmv_job j, const float *x) {
    __shared__ __align__(16) float xsh[SH ? MMVK_SH_K + MMVK_SH_K / 16 : 4];
    if (SH) {
        for (int i = 4 * threadIdx.x; i < j.K; i += 4 * blockDim.x) *(float4 *)(xsh + mmvk_skew(i)) = *(const float4 *)(x + i);
        __syncthreads();
    }
    const int lane = threadIdx.x & 31;
    const int gw = blockIdx.x * MMV1_WARPS + (threadIdx.x >> 5);
    const uint8_t *wr[MMV1_R];
    int mat[MMV1_R], row[MMV1_R];
    bool ok[MMV1_R];
    mmv_items<MODE>(j, gw, wr, mat, row, ok);
    if (!ok[0]) return;
    float sum[MMV1_R];
#pragma unroll
    for (int r = 0; r < MMV1_R; r++) sum[r] = 0.0f;
    const int nq = j.K / 64; /* quarters of super-blocks in a row */
    for (int p = lane; p < nq; p += 32) {
        const int sb = p >> 2, c = p & 3;
        mmvk_row w[MMV1_R];
#pragma unroll
        for (int r = 0; r < MMV1_R; r++) mmvk_load<T>(wr[r], sb, c, w[r]);
        float4 xv[16];
        float xs[2] = {0.0f, 0.0f};
#pragma unroll
        for (int g = 0; g < 4; g++) {
            const int i0 = T == ZETA_TYPE_Q4_K ? 256 * sb + 64 * c + 16 * g : 256 * sb + 128 * (c >> 1) + 32 * g + 16 * (c & 1);
            const float4 *xp = (const float4 *)(SH ? xsh + mmvk_skew(i0) : x + i0); /* 16 in one 64-run: one skew */
#pragma unroll
            for (int q = 0; q < 4; q++) xv[4 * g + q] = xp[q];
        }
        if (T == ZETA_TYPE_Q4_K) { /* the sub-blocks' sums of x, for the mins */
#pragma unroll
            for (int k = 0; k < 2; k++) {
                float a[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
                for (int i = 0; i < 8; i++) {
                    const float4 v = xv[8 * k + i];
                    a[0] += v.x; a[1] += v.y; a[2] += v.z; a[3] += v.w;
                }
                xs[k] = (a[0] + a[1]) + (a[2] + a[3]);
            }
        }
#pragma unroll
        for (int r = 0; r < MMV1_R; r++) sum[r] += mmvk_dot<T>(wr[r], sb, c, w[r], xv, xs);
    }
#pragma unroll
    for (int r = 0; r < MMV1_R; r++)
        for (int off = 16; off; off >>= 1) sum[r] += __shfl_xor_sync(0xffffffffu, sum[r], off);
    if (lane == 0) mmv_store<MODE>(j, sum, mat, row, ok);
}

void cuda_mmvk_launch(cudaStream_t s, const cuda_mmv_job *j, const float *x, unsigned grid) {
    static int sh = -1;
    const bool staged = j->K <= MMVK_SH_K && cuda_switch_on("ZETA_CUDA_MMVK_SH", &sh);
#define MMVK_GO(T)                                                                                                    \
    do {                                                                                                              \
        if (staged) {                                                                                                 \
            if (j->mode == CUDA_MMV_SWIGLU) k_mmvk<T, CUDA_MMV_SWIGLU, true><<<grid, 32 * MMV1_WARPS, 0, s>>>(*j, x); \
            else k_mmvk<T, CUDA_MMV_PLAIN, true><<<grid, 32 * MMV1_WARPS, 0, s>>>(*j, x);                             \
        } else {                                                                                                      \
            if (j->mode == CUDA_MMV_SWIGLU) k_mmvk<T, CUDA_MMV_SWIGLU, false><<<grid, 32 * MMV1_WARPS, 0, s>>>(*j, x); \
            else k_mmvk<T, CUDA_MMV_PLAIN, false><<<grid, 32 * MMV1_WARPS, 0, s>>>(*j, x);                             \
        }                                                                                                             \
    } while (0)
    if (j->type == ZETA_TYPE_Q4_K) MMVK_GO(ZETA_TYPE_Q4_K);
    else MMVK_GO(ZETA_TYPE_Q6_K);
#undef MMVK_GO
}
