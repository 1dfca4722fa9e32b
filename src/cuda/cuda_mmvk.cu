/* cuda_mmvk.cu — one-token products of K-quant weights, launched by cuda_mmv (cuda_matmul.cu):
 * k_mmvk8 (q4_K / q5_K / q6_K / q2_K / q3_K / iq4_xs, activations rounded to Q8_K by k_quant_q8K, or
 * by the RMSNorm before, as the CPU rounds them; the default) and the older k_mmvk (q4_K / q6_K, f32
 * activations; ZETA_CUDA_MMVK8=0, and ZETA_CUDA_MMVK=0 too for k_mmv1). */
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

/* the 6-bit scale and min of sub-block j (0..7) of a q4_K / q5_K super-block from its 12 scale bytes
 * held as 3 words (j may differ between lanes: selects, not an indexed array, which would go to local
 * memory) */
__device__ __forceinline__ void k4_scale_min_w(const uint32_t (&sw)[3], int j, int &sc, int &m) {
    const auto byte = [&](int i) {
        const uint32_t w = (i >> 2) == 0 ? sw[0] : (i >> 2) == 1 ? sw[1] : sw[2];
        return (int)((w >> (8 * (i & 3))) & 0xffu);
    };
    if (j < 4) {
        sc = byte(j) & 63;
        m = byte(j + 4) & 63;
    } else {
        sc = (byte(j + 4) & 0x0f) | ((byte(j - 4) >> 6) << 4);
        m = (byte(j + 4) >> 4) | ((byte(j) >> 6) << 4);
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
        float part = 0.0f;
#pragma unroll
        for (int k = 0; k < 2; k++) { /* sub-block j = 2c + k: the low (k 0) or high (k 1) nibbles */
            const int j = 2 * c + k;
            int sc, m;
            k4_scale_min_w(sw, j, sc, m);
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

/* ---------------------------------------------------------------- 8-bit activations (Q8_K) */

/* x (K floats, K % 256 == 0) -> xq in the Q8_K layout of k_mmvk8: codes (K int8), then the sums of
 * each 16 codes (K / 16 int16), then the scale of each 256 (K / 256 floats). A warp per block of
 * 256, lane l its elements 8 l .. 8 l + 7. The CPU's quantize_row_q8_K_ref step for step: the
 * element of largest magnitude (the first of equals) is max, iscale = -127 / max, code =
 * min(127, nearest_int(iscale * x)) (the 1.5 * 2^23 addition, as quant_fit.h does it), d = 1 /
 * iscale; an all-zero block has d = 0 and zero codes. */
__global__ void k_quant_q8K(const float *x, int K, uint8_t *xq) {
    pdl_trigger(); /* the product that reads xq may start loading its weights */
    pdl_wait();    /* launched with PDL (cuda_pdl_chain): x is complete */
    const int b = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (b >= K / 256) return;
    const float4 *xp = (const float4 *)(x + 256 * b + 8 * lane);
    const float4 v0 = xp[0], v1 = xp[1];
    const float v[8] = {v0.x, v0.y, v0.z, v0.w, v1.x, v1.y, v1.z, v1.w};
    float amax = 0.0f, mx = 0.0f;
    int at = 0x7fffffff;
#pragma unroll
    for (int i = 0; i < 8; i++)
        if (fabsf(v[i]) > amax) {
            amax = fabsf(v[i]);
            mx = v[i];
            at = 8 * lane + i;
        }
    warp_absmax_first(amax, mx, at); /* the largest magnitude; of equals, the first */
    int8_t *codes = (int8_t *)xq + 256 * b;
    int16_t *bs = (int16_t *)(xq + K) + 16 * b;
    float *dd = (float *)(xq + K + K / 8);
    if (amax == 0.0f) {
        *(uint2 *)(codes + 8 * lane) = make_uint2(0u, 0u);
        if (lane < 16) bs[lane] = 0;
        if (lane == 0) dd[b] = 0.0f;
        return;
    }
    const float iscale = __fdiv_rn(-127.0f, mx);
    uint32_t w[2] = {0u, 0u};
    int s = 0;
#pragma unroll
    for (int i = 0; i < 8; i++) {
        const int n = (int)(__float_as_uint(__fadd_rn(__fmul_rn(iscale, v[i]), 12582912.0f)) & 0x007fffffu) - 0x00400000;
        const int q = n < 127 ? n : 127;
        s += (int8_t)(uint8_t)(q & 0xff);
        w[i >> 2] |= (uint32_t)(q & 0xff) << (8 * (i & 3));
    }
    *(uint2 *)(codes + 8 * lane) = make_uint2(w[0], w[1]);
    s += __shfl_xor_sync(0xffffffffu, s, 1); /* lanes 2 g, 2 g + 1: the 16 codes of group g */
    if (!(lane & 1)) bs[lane >> 1] = (int16_t)s;
    if (lane == 0) dd[b] = __fdiv_rn(1.0f, iscale);
}

/* One-token q4_K / q5_K / q6_K / q2_K / q3_K / iq4_xs products with 8-bit activations (k_mmvk8): the
 * CPU's vec_dot arithmetic (kernels_scalar_k.c, kernels_scalar_iqk.c) per super-block. Lane p of an
 * iteration takes quarter c = p % 4 of super-block p / 4 (64 elements) of each of the warp's MMV1_R
 * items: the integer sums of codes times activation codes (dp4a), times the sub-block scales, and
 * (q4_K / q5_K / q2_K) the mins times the activations' group sums; the four lanes of a super-block add
 * their integers (exact), then the super-block's float term is formed as the CPU forms it, (d * dx)
 * * sumi - (dmin * dx) * mins, or (d * dx) * sumi for q6_K / q3_K (q3_K's codes -4..3 as 0..7 minus 4
 * times the group sums). iq4_xs: each 32-block's term ((d dx) (ls - 32)) * sum(kvalues[q] y), the
 * codebook read by byte permutes, the four lanes' terms added by the first in block order. Only the
 * order in which the super-blocks' terms are added differs from the CPU. The first iteration's
 * weights are loaded before waiting for the kernels ahead (PDL). */
template <int T> struct mmvk8_w {
    static constexpr int NW = T == ZETA_TYPE_Q5_K ? 20 : T == ZETA_TYPE_Q3_K ? 19 : T == ZETA_TYPE_Q2_K || T == ZETA_TYPE_IQ4_XS ? 10 : 16;
    uint32_t w[NW];
    uint32_t d6; /* q6_K / q3_K: d */
};

template <int T> __device__ __forceinline__ void mmvk8_load(const uint8_t *row, int sb, int c, mmvk8_w<T> &r) {
    if constexpr (T == ZETA_TYPE_Q4_K || T == ZETA_TYPE_Q5_K) {
        constexpr int SB = T == ZETA_TYPE_Q4_K ? 144 : 176, QS = T == ZETA_TYPE_Q4_K ? 16 : 48;
        const uint8_t *b = row + (size_t)sb * SB;
        const uint4 h = *(const uint4 *)b, q0 = *(const uint4 *)(b + QS + 32 * c), q1 = *(const uint4 *)(b + QS + 16 + 32 * c);
        r.w[0] = h.x; r.w[1] = h.y; r.w[2] = h.z; r.w[3] = h.w;
        r.w[4] = q0.x; r.w[5] = q0.y; r.w[6] = q0.z; r.w[7] = q0.w;
        r.w[8] = q1.x; r.w[9] = q1.y; r.w[10] = q1.z; r.w[11] = q1.w;
        if (T == ZETA_TYPE_Q5_K) {
            const uint4 h0 = *(const uint4 *)(b + 16), h1 = *(const uint4 *)(b + 32);
            r.w[12] = h0.x; r.w[13] = h0.y; r.w[14] = h0.z; r.w[15] = h0.w;
            r.w[16] = h1.x; r.w[17] = h1.y; r.w[18] = h1.z; r.w[19] = h1.w;
        } else {
            r.w[12] = r.w[13] = r.w[14] = r.w[15] = 0u;
        }
        r.d6 = 0u;
    } else if constexpr (T == ZETA_TYPE_Q2_K) { /* 84 bytes: scales[16], qs[64], d, dmin; 4-byte aligned */
        const uint32_t *b = (const uint32_t *)(row + (size_t)sb * 84);
#pragma unroll
        for (int i = 0; i < 8; i++) r.w[i] = b[4 + 8 * (c >> 1) + i]; /* qs bytes 32 (c / 2) .. + 32 */
        r.w[8] = b[c];                                                /* scales 4 c .. 4 c + 3 */
        r.w[9] = b[20];                                               /* d, dmin */
        r.d6 = 0u;
    } else if constexpr (T == ZETA_TYPE_Q3_K) { /* 110 bytes: hmask[32], qs[64], scales[12], d; 2-byte aligned */
        const uint8_t *b = row + (size_t)sb * 110;
        uint32_t t[4];
        ld16_a2(b, t);
#pragma unroll
        for (int i = 0; i < 4; i++) r.w[i] = t[i];
        ld16_a2(b + 16, t);
#pragma unroll
        for (int i = 0; i < 4; i++) r.w[4 + i] = t[i];
        ld16_a2(b + 32 + 32 * (c >> 1), t);
#pragma unroll
        for (int i = 0; i < 4; i++) r.w[8 + i] = t[i];
        ld16_a2(b + 48 + 32 * (c >> 1), t);
#pragma unroll
        for (int i = 0; i < 4; i++) r.w[12 + i] = t[i];
        /* scales and d, bytes 96..109: the aligned words that hold them (none past the block's end
         * but the rest of the word holding d) */
        const uintptr_t a = (uintptr_t)(b + 96);
        const uint32_t *p = (const uint32_t *)(a & ~(uintptr_t)3);
        const uint32_t p0 = p[0], p1 = p[1], p2 = p[2], p3 = p[3];
        if ((a & 3) == 0) {
            r.w[16] = p0; r.w[17] = p1; r.w[18] = p2;
            r.d6 = p3 & 0xffffu;
        } else {
            r.w[16] = __funnelshift_r(p0, p1, 16);
            r.w[17] = __funnelshift_r(p1, p2, 16);
            r.w[18] = __funnelshift_r(p2, p3, 16);
            r.d6 = p3 >> 16;
        }
    } else if constexpr (T == ZETA_TYPE_IQ4_XS) { /* 136 bytes: d, scales_h, scales_l[4], qs[128]; 8-byte aligned */
        const uint2 *b = (const uint2 *)(row + (size_t)sb * 136);
        const uint2 h = b[0];
        r.w[0] = h.x; /* d, scales_h */
        r.w[1] = h.y; /* scales_l */
#pragma unroll
        for (int i = 0; i < 4; i++) { /* qs bytes 32 c .. 32 c + 31: the 32-blocks 2 c and 2 c + 1 */
            const uint2 q = b[1 + 4 * c + i];
            r.w[2 + 2 * i] = q.x;
            r.w[3 + 2 * i] = q.y;
        }
        r.d6 = 0u;
    } else { /* quarter c: half cc = c / 2 of 128 elements, l in [16 h, 16 h + 16), h = c % 2 */
        const uint8_t *b = row + (size_t)sb * 210;
        const int cc = c >> 1, h = c & 1;
        uint32_t a[4], bb[4], hh[4], sc[4];
        ld16_a2(b + 64 * cc + 16 * h, a);
        ld16_a2(b + 64 * cc + 32 + 16 * h, bb);
        ld16_a2(b + 128 + 32 * cc + 16 * h, hh);
        ld16_a2(b + 192, sc);
#pragma unroll
        for (int i = 0; i < 4; i++) { r.w[i] = a[i]; r.w[4 + i] = bb[i]; r.w[8 + i] = hh[i]; r.w[12 + i] = sc[i]; }
        r.d6 = *(const uint16_t *)(b + 208);
    }
}

/* the quarter's integer sums: *sumi (codes x activations, times the scales) and *mins (q4_K / q5_K:
 * the mins times the activations' sub-block sums); xw: the lane's 64 activation codes (q4_K / q5_K:
 * elements 64 c ..; q6_K: 16 of each of the 4 runs 32 apart), gs: the sums of its 16-element groups (q4_K / q5_K:
 * groups 4 c .. 4 c + 3; q6_K: one per run) */
template <int T>
__device__ __forceinline__ void mmvk8_dot(int c, const mmvk8_w<T> &r, const uint4 (&xw)[4], const int (&gs)[4], int *sumi, int *mins) {
    const auto xword = [&](int i) { const uint4 v = xw[i >> 2]; return (int)((i & 3) == 0 ? v.x : (i & 3) == 1 ? v.y : (i & 3) == 2 ? v.z : v.w); };
    if constexpr (T == ZETA_TYPE_Q4_K || T == ZETA_TYPE_Q5_K) {
        const uint32_t sw[3] = {r.w[1], r.w[2], r.w[3]}; /* the 12 scale bytes */
        int s = 0, m = 0;
#pragma unroll
        for (int k = 0; k < 2; k++) { /* sub-block j = 2 c + k: the low (k 0) or high (k 1) nibbles */
            int sc, mn;
            k4_scale_min_w(sw, 2 * c + k, sc, mn);
            int dot = 0;
#pragma unroll
            for (int i = 0; i < 8; i++) {
                uint32_t q = k ? (r.w[4 + i] >> 4) & 0x0f0f0f0fu : r.w[4 + i] & 0x0f0f0f0fu;
                if (T == ZETA_TYPE_Q5_K) q |= ((r.w[12 + i] >> (2 * c + k)) & 0x01010101u) << 4;
                dot = __dp4a((int)q, xword(8 * k + i), dot);
            }
            s += sc * dot;
            m += mn * (gs[2 * k] + gs[2 * k + 1]);
        }
        *sumi = s;
        *mins = m;
    } else if constexpr (T == ZETA_TYPE_Q2_K) {
        /* sub-block j = 4 c + k (elements 16 j ..): codes (qs[32 (c / 2) + 16 (k % 2) + l] >> sh) & 3,
         * sh = 2 ((j / 2) % 4); scale byte j: low nibble the scale, high nibble the min */
        int s = 0, m = 0;
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int sh = 2 * (2 * (c & 1) + (k >> 1));
            int dot = 0;
#pragma unroll
            for (int i = 0; i < 4; i++) dot = __dp4a((int)((r.w[4 * (k & 1) + i] >> sh) & 0x03030303u), xword(4 * k + i), dot);
            const int sc = (int)((r.w[8] >> (8 * k)) & 0xffu);
            s += (sc & 0xf) * dot;
            m += (sc >> 4) * gs[k];
        }
        *sumi = s;
        *mins = m;
    } else if constexpr (T == ZETA_TYPE_Q3_K) {
        /* sub-block j = 4 c + k: element m = 16 (k % 2) + l of the 32-element run, code
         * ((qs[32 (c / 2) + m] >> 2 kk) & 3) + 4 hmask bit (4 (c / 2) + kk) - 4, kk = (j / 2) % 4: the
         * unsigned 0..7 form times y, minus 4 times the group sum */
        const auto sbyte = [&](int i) {
            const uint32_t w = (i >> 2) == 0 ? r.w[16] : (i >> 2) == 1 ? r.w[17] : r.w[18];
            return (int)((w >> (8 * (i & 3))) & 0xffu);
        };
        int s = 0;
#pragma unroll
        for (int k = 0; k < 4; k++) {
            const int j = 4 * c + k, kk = 2 * (c & 1) + (k >> 1), hb = 4 * (c >> 1) + kk;
            int dot = 0;
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const uint32_t q = ((r.w[8 + 4 * (k & 1) + i] >> (2 * kk)) & 0x03030303u) |
                                   (((r.w[4 * (k & 1) + i] >> hb) & 0x01010101u) << 2);
                dot = __dp4a((int)q, xword(4 * k + i), dot);
            }
            const int lo = j < 8 ? sbyte(j) & 0xf : sbyte(j - 8) >> 4;
            const int hi = (sbyte(8 + (j & 3)) >> (2 * (j >> 2))) & 3;
            s += ((lo | (hi << 4)) - 32) * (dot - 4 * gs[k]);
        }
        *sumi = s;
        *mins = 0;
    } else {
        const int cc = c >> 1, h = c & 1;
        int s = 0;
#pragma unroll
        for (int g = 0; g < 4; g++) { /* elements 128 cc + 32 g + 16 h ..: group 8 cc + 2 g + h */
            int dot = 0;
#pragma unroll
            for (int i = 0; i < 4; i++) {
                const uint32_t lo = g & 1 ? r.w[4 + i] : r.w[i];
                const uint32_t q = ((g < 2 ? lo : lo >> 4) & 0x0f0f0f0fu) | (((r.w[8 + i] >> (2 * g)) & 0x03030303u) << 4);
                dot = __dp4a((int)q, xword(4 * g + i), dot);
            }
            const int j = 8 * cc + 2 * g + h;
            const int jw = j >> 2;
            const uint32_t w = jw == 0 ? r.w[12] : jw == 1 ? r.w[13] : jw == 2 ? r.w[14] : r.w[15];
            const int sc = (int)(int8_t)((w >> (8 * (j & 3))) & 0xffu);
            s += sc * (dot - 32 * gs[g]);
        }
        *sumi = s;
        *mins = 0;
    }
}

template <int T, int MODE> __global__ void __launch_bounds__(32 * MMV1_WARPS) k_mmvk8(cuda_mmv_job j, const uint8_t *xq) {
    if (j.trigger) pdl_trigger(); /* the kernel after this one may be launched (it waits for this one) */
    const int lane = threadIdx.x & 31, c = lane & 3;
    const int gw = blockIdx.x * MMV1_WARPS + (threadIdx.x >> 5);
    const uint8_t *wr[MMV1_R];
    int mat[MMV1_R], row[MMV1_R];
    bool ok[MMV1_R];
    mmv_items<MODE>(j, gw, wr, mat, row, ok);
    if (!ok[0]) return;
    const int nq = j.K / 64; /* quarters of super-blocks in a row; a multiple of 4 */
    const int8_t *codes = (const int8_t *)xq;
    const int16_t *bsums = (const int16_t *)(xq + j.K);
    const float *dxs = (const float *)(xq + j.K + j.K / 8);
    mmvk8_w<T> wa[MMV1_R];
    if (lane < nq)
#pragma unroll
        for (int r = 0; r < MMV1_R; r++) mmvk8_load<T>(wr[r], lane >> 2, c, wa[r]); /* not written by the kernels ahead */
    pdl_wait();
    float sum[MMV1_R];
#pragma unroll
    for (int r = 0; r < MMV1_R; r++) sum[r] = 0.0f;
    for (int base = 0; base < nq; base += 32) { /* every lane runs every iteration (the shuffles) */
        const int p = base + lane, sb = p >> 2;
        const bool in = p < nq;
        if (base && in) /* later iterations (rows over 2048 elements): loaded here, other warps hide the wait */
#pragma unroll
            for (int r = 0; r < MMV1_R; r++) mmvk8_load<T>(wr[r], sb, c, wa[r]);
        uint4 xw[4] = {};
        int gs[4] = {0, 0, 0, 0};
        float dx = 0.0f;
        if (in) {
            if (T == ZETA_TYPE_Q6_K) {
                const int cc = c >> 1, h = c & 1;
#pragma unroll
                for (int g = 0; g < 4; g++) xw[g] = *(const uint4 *)(codes + 256 * sb + 128 * cc + 32 * g + 16 * h);
                const uint4 b8 = *(const uint4 *)(bsums + 16 * sb + 8 * cc); /* groups 8 cc .. 8 cc + 7 */
                const uint32_t bw[4] = {b8.x, b8.y, b8.z, b8.w};
#pragma unroll
                for (int g = 0; g < 4; g++) gs[g] = (int)(int16_t)(h ? bw[g] >> 16 : bw[g] & 0xffffu);
            } else {
                const uint4 *xp = (const uint4 *)(codes + 256 * sb + 64 * c);
#pragma unroll
                for (int q = 0; q < 4; q++) xw[q] = xp[q];
                const uint2 b4 = *(const uint2 *)(bsums + 16 * sb + 4 * c); /* groups 4 c .. 4 c + 3 */
                gs[0] = (int)(int16_t)(b4.x & 0xffffu);
                gs[1] = (int)(int16_t)(b4.x >> 16);
                gs[2] = (int)(int16_t)(b4.y & 0xffffu);
                gs[3] = (int)(int16_t)(b4.y >> 16);
            }
            dx = dxs[sb];
        }
#pragma unroll
        for (int r = 0; r < MMV1_R; r++) {
            if constexpr (T == ZETA_TYPE_IQ4_XS) {
                /* per 32-block ib (2 c, 2 c + 1 here): ((d dx) (ls - 32)) * sum(kvalues[q] y), added to
                 * the row's sum in block order as the CPU adds them (the four lanes' terms gathered) */
                float f[2] = {0.0f, 0.0f};
                if (in) {
                    const float d4d8 = __fmul_rn(h2f((uint16_t)(wa[r].w[0] & 0xffffu)), dx);
                    const uint32_t sh = wa[r].w[0] >> 16, sl = (wa[r].w[1] >> (8 * c)) & 0xffu;
                    const auto xword = [&](int i) { const uint4 v = xw[i >> 2]; return (int)((i & 3) == 0 ? v.x : (i & 3) == 1 ? v.y : (i & 3) == 2 ? v.z : v.w); };
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        const int ib = 2 * c + e;
                        const int ls = (int)((sl >> (4 * e)) & 0xfu) | (int)(((sh >> (2 * ib)) & 3u) << 4);
                        int dot = 0;
#pragma unroll
                        for (int i = 0; i < 4; i++) {
                            int vl, vh;
                            iq4_lut8(wa[r].w[2 + 4 * e + i], vl, vh);
                            dot = __dp4a(vl, xword(8 * e + i), dot);
                            dot = __dp4a(vh, xword(8 * e + 4 + i), dot);
                        }
                        f[e] = __fmul_rn(__fmul_rn(d4d8, (float)(ls - 32)), (float)dot);
                    }
                }
                const int base_l = lane & ~3;
#pragma unroll
                for (int q = 0; q < 4; q++) {
                    const float f0 = __shfl_sync(0xffffffffu, f[0], base_l + q), f1 = __shfl_sync(0xffffffffu, f[1], base_l + q);
                    if (in && c == 0) {
                        sum[r] = __fadd_rn(sum[r], f0);
                        sum[r] = __fadd_rn(sum[r], f1);
                    }
                }
            } else {
                int si = 0, mi = 0;
                if (in) mmvk8_dot<T>(c, wa[r], xw, gs, &si, &mi);
                si += __shfl_xor_sync(0xffffffffu, si, 1);
                si += __shfl_xor_sync(0xffffffffu, si, 2);
                if (T != ZETA_TYPE_Q6_K && T != ZETA_TYPE_Q3_K) {
                    mi += __shfl_xor_sync(0xffffffffu, mi, 1);
                    mi += __shfl_xor_sync(0xffffffffu, mi, 2);
                }
                if (in && c == 0) {
                    if (T == ZETA_TYPE_Q6_K || T == ZETA_TYPE_Q3_K) {
                        sum[r] += __fmul_rn(__fmul_rn(h2f((uint16_t)wa[r].d6), dx), (float)si);
                    } else {
                        const uint32_t dw = T == ZETA_TYPE_Q2_K ? wa[r].w[9] : wa[r].w[0];
                        const float d = h2f((uint16_t)(dw & 0xffffu)), dmin = h2f((uint16_t)(dw >> 16));
                        sum[r] += __fsub_rn(__fmul_rn(__fmul_rn(d, dx), (float)si), __fmul_rn(__fmul_rn(dmin, dx), (float)mi));
                    }
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < MMV1_R; r++)
        for (int off = 16; off; off >>= 1) sum[r] += __shfl_xor_sync(0xffffffffu, sum[r], off);
    if (lane == 0) mmv_store<MODE>(j, sum, mat, row, ok);
}

bool cuda_mmvk8_type(int type) {
    return type == ZETA_TYPE_Q4_K || type == ZETA_TYPE_Q5_K || type == ZETA_TYPE_Q6_K || type == ZETA_TYPE_Q2_K || type == ZETA_TYPE_Q3_K ||
           type == ZETA_TYPE_IQ4_XS;
}

cudaError_t cuda_quant_q8K(cudaStream_t s, const float *x, int K, uint8_t *xq) {
    if (K % 256) return cudaErrorInvalidValue;
    k_quant_q8K<<<(unsigned)((K / 256 + 7) / 8), 256, 0, s>>>(x, K, xq);
    return cudaGetLastError();
}

bool cuda_mmvk8_on(void) {
    static int on = -1;
    return cuda_switch_on("ZETA_CUDA_MMVK8", &on);
}

cudaError_t cuda_mmvk8_launch(cudaStream_t s, const cuda_mmv_job *j, const float *x, uint8_t *xq, unsigned grid) {
    if (j->K % 256 || !xq) return cudaErrorInvalidValue;
    cudaError_t e = cudaSuccess;
    if (!j->xq_ready) /* else the norm before, or the product before on the same x, left it there */
        e = cuda_launch(cuda_pdl_chain(), k_quant_q8K, dim3((unsigned)((j->K / 256 + 7) / 8)), dim3(256), 0, s, x, j->K, xq);
    if (e != cudaSuccess) return e;
#define MMVK8_GO(T) mmv8_launch(s, j, xq, grid, k_mmvk8<T, CUDA_MMV_SWIGLU>, k_mmvk8<T, CUDA_MMV_PLAIN>)
    switch (j->type) {
    case ZETA_TYPE_Q4_K: return MMVK8_GO(ZETA_TYPE_Q4_K);
    case ZETA_TYPE_Q5_K: return MMVK8_GO(ZETA_TYPE_Q5_K);
    case ZETA_TYPE_Q6_K: return MMVK8_GO(ZETA_TYPE_Q6_K);
    case ZETA_TYPE_Q2_K: return MMVK8_GO(ZETA_TYPE_Q2_K);
    case ZETA_TYPE_Q3_K: return MMVK8_GO(ZETA_TYPE_Q3_K);
    case ZETA_TYPE_IQ4_XS: return MMVK8_GO(ZETA_TYPE_IQ4_XS);
    default: return cudaErrorInvalidValue;
    }
#undef MMVK8_GO
}
