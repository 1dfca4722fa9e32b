/* cuda_mmvb.cu — one-token products of the 32-element block types kept in their GGUF layout (q4_1,
 * q5_0, q5_1, iq4_nl) with 8-bit activations, as the CPU computes them (kernels_scalar_legacy.c,
 * kernels_scalar_iqk.c): x rounded to Q8_0 blocks by q8_store (k_quant_q8, or the norm / attention
 * before), whose fourth array is Q8_1's s for q4_1 / q5_1. Per block an exact integer dot (dp4a) and
 * the CPU's float term:
 *   q4_1 / q5_1: (d_w * d_x) * sumi + m_w * s_x        q5_0: (d_w * d_x) * (sum(u * y) - 16 sum(y))
 *   iq4_nl:      (d_x * d_w) * sum(kvalues[q] * y)
 * Only the order in which the blocks' terms are added differs from the CPU (a lane a block of each of
 * the warp's MMV1_R rows per iteration, then a warp sum). The first iteration's weights are loaded
 * before waiting for the kernels ahead (PDL). Replaces k_mmv1 (byte loads, f32 activations) for these
 * types; ZETA_CUDA_MMVB=0 gives k_mmv1 back (A/B). */
#include "cuda/cuda_mmv.cuh"

template <int T> struct mmvb_fmt {
    static constexpr int NB = T == ZETA_TYPE_Q4_1 ? 20 : T == ZETA_TYPE_Q5_0 ? 22 : T == ZETA_TYPE_Q5_1 ? 24 : 18; /* block bytes */
    static constexpr int NW = (NB + 3) / 4;                                                                      /* words loaded */
};

/* the NW words of a block's bytes in block order (the last one's high half zero when NB % 4 == 2).
 * Blocks of q5_0 and iq4_nl are 2-byte aligned: the aligned words around them, shifted; no word read
 * holds none of the block's bytes (the word before is in the block or row before; row 0 starts
 * aligned) */
template <int T> __device__ __forceinline__ void mmvb_load(const uint8_t *p, uint32_t (&w)[mmvb_fmt<T>::NW]) {
    constexpr int NW = mmvb_fmt<T>::NW;
    if constexpr (mmvb_fmt<T>::NB % 4 == 0) {
        const uint32_t *r = (const uint32_t *)p;
#pragma unroll
        for (int i = 0; i < NW; i++) w[i] = r[i];
    } else {
        const uintptr_t a = (uintptr_t)p;
        const uint32_t *r = (const uint32_t *)(a & ~(uintptr_t)3);
        uint32_t t[NW];
#pragma unroll
        for (int i = 0; i < NW; i++) t[i] = r[i];
        if ((a & 3) == 0) {
#pragma unroll
            for (int i = 0; i < NW; i++) w[i] = t[i];
        } else {
#pragma unroll
            for (int i = 0; i < NW - 1; i++) w[i] = __funnelshift_r(t[i], t[i + 1], 16);
            w[NW - 1] = t[NW - 1] >> 16;
        }
    }
}

/* bits 4 i .. 4 i + 3 of qh as bit 4 of four bytes (the fifth bits of elements 4 i .. 4 i + 3) */
__device__ __forceinline__ uint32_t qh_bytes(uint32_t qh, int i) { return ((((qh >> (4 * i)) & 0xfu) * 0x00204081u) & 0x01010101u) << 4; }

/* the block's float term; lo / hi: the activation codes of elements 0..15 / 16..31 */
template <int T>
__device__ __forceinline__ float mmvb_term(const uint32_t (&w)[mmvb_fmt<T>::NW], uint4 lo, uint4 hi, float dx, int xs, float sx) {
    const uint32_t xl[4] = {lo.x, lo.y, lo.z, lo.w}, xh[4] = {hi.x, hi.y, hi.z, hi.w};
    uint32_t qs[4], qh = 0;
    float d, m = 0.0f;
    if constexpr (T == ZETA_TYPE_Q4_1) { /* d, m, qs[16] */
        d = h2f((uint16_t)(w[0] & 0xffffu));
        m = h2f((uint16_t)(w[0] >> 16));
#pragma unroll
        for (int i = 0; i < 4; i++) qs[i] = w[1 + i];
    } else if constexpr (T == ZETA_TYPE_Q5_1) { /* d, m, qh[4], qs[16] */
        d = h2f((uint16_t)(w[0] & 0xffffu));
        m = h2f((uint16_t)(w[0] >> 16));
        qh = w[1];
#pragma unroll
        for (int i = 0; i < 4; i++) qs[i] = w[2 + i];
    } else if constexpr (T == ZETA_TYPE_Q5_0) { /* d, qh[4], qs[16]: qs at byte 6 */
        d = h2f((uint16_t)(w[0] & 0xffffu));
        qh = (w[0] >> 16) | (w[1] << 16);
#pragma unroll
        for (int i = 0; i < 4; i++) qs[i] = __funnelshift_r(w[1 + i], w[2 + i], 16);
    } else { /* iq4_nl: d, qs[16] at byte 2 */
        d = h2f((uint16_t)(w[0] & 0xffffu));
#pragma unroll
        for (int i = 0; i < 4; i++) qs[i] = __funnelshift_r(w[i], w[1 + i], 16);
    }
    int dot = 0;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        uint32_t a = qs[i] & 0x0f0f0f0fu, b = (qs[i] >> 4) & 0x0f0f0f0fu;
        if constexpr (T == ZETA_TYPE_IQ4_NL) {
            int vl, vh;
            iq4_lut8(qs[i], vl, vh);
            dot = __dp4a(vl, (int)xl[i], dot);
            dot = __dp4a(vh, (int)xh[i], dot);
        } else {
            if constexpr (T == ZETA_TYPE_Q5_0 || T == ZETA_TYPE_Q5_1) {
                a |= qh_bytes(qh, i);
                b |= qh_bytes(qh, 4 + i);
            }
            dot = __dp4a((int)a, (int)xl[i], dot);
            dot = __dp4a((int)b, (int)xh[i], dot);
        }
    }
    if constexpr (T == ZETA_TYPE_Q4_1 || T == ZETA_TYPE_Q5_1) return __fadd_rn(__fmul_rn(__fmul_rn(d, dx), (float)dot), __fmul_rn(m, sx));
    if constexpr (T == ZETA_TYPE_Q5_0) return __fmul_rn(__fmul_rn(d, dx), (float)(dot - 16 * xs));
    return __fmul_rn(__fmul_rn(dx, d), (float)dot);
}

template <int T, int MODE> __global__ void __launch_bounds__(32 * MMV1_WARPS) k_mmvb8(cuda_mmv_job j, const uint8_t *xq) {
    constexpr int NB = mmvb_fmt<T>::NB, NW = mmvb_fmt<T>::NW;
    if (j.trigger) pdl_trigger(); /* the kernel after this one may be launched (it waits for this one) */
    const int lane = threadIdx.x & 31;
    const int gw = blockIdx.x * MMV1_WARPS + (threadIdx.x >> 5);
    const uint8_t *wr[MMV1_R];
    int mat[MMV1_R], row[MMV1_R];
    bool ok[MMV1_R];
    mmv_items<MODE>(j, gw, wr, mat, row, ok);
    if (!ok[0]) return;
    const int nb = j.K / 32;
    const uint4 *codes = (const uint4 *)xq;
    const float *xd = (const float *)(xq + j.K);
    const int *xsum = (const int *)(xq + j.K + 4 * (size_t)nb);
    const float *xs1 = (const float *)(xq + j.K + 8 * (size_t)nb);
    uint32_t wa[MMV1_R][NW];
    if (lane < nb)
#pragma unroll
        for (int r = 0; r < MMV1_R; r++) mmvb_load<T>(wr[r] + (size_t)NB * lane, wa[r]); /* not written by the kernels ahead */
    pdl_wait();
    float sum[MMV1_R];
#pragma unroll
    for (int r = 0; r < MMV1_R; r++) sum[r] = 0.0f;
    for (int b = lane; b < nb; b += 32) {
        if (b != lane) /* later iterations (rows over 1024 elements): loaded here, other warps hide the wait */
#pragma unroll
            for (int r = 0; r < MMV1_R; r++) mmvb_load<T>(wr[r] + (size_t)NB * b, wa[r]);
        const uint4 lo = codes[2 * b], hi = codes[2 * b + 1];
        const float dx = xd[b];
        const int xs = T == ZETA_TYPE_Q5_0 ? xsum[b] : 0;
        const float sx = T == ZETA_TYPE_Q4_1 || T == ZETA_TYPE_Q5_1 ? xs1[b] : 0.0f;
#pragma unroll
        for (int r = 0; r < MMV1_R; r++) sum[r] += mmvb_term<T>(wa[r], lo, hi, dx, xs, sx);
    }
#pragma unroll
    for (int r = 0; r < MMV1_R; r++)
        for (int off = 16; off; off >>= 1) sum[r] += __shfl_xor_sync(0xffffffffu, sum[r], off);
    if (lane == 0) mmv_store<MODE>(j, sum, mat, row, ok);
}

bool cuda_mmvb8_type(int type) {
    static int on = -1;
    return (type == ZETA_TYPE_Q4_1 || type == ZETA_TYPE_Q5_0 || type == ZETA_TYPE_Q5_1 || type == ZETA_TYPE_IQ4_NL) &&
           cuda_switch_on("ZETA_CUDA_MMVB", &on);
}

cudaError_t cuda_mmvb8_launch(cudaStream_t s, const cuda_mmv_job *j, const float *x, uint8_t *xq, unsigned grid) {
    if (j->K % 32 || !xq) return cudaErrorInvalidValue;
    cudaError_t e = cudaSuccess;
    if (!j->xq_ready) /* else the norm or attention before left x there, rounded */
        e = cuda_quant_q8(s, x, j->K, xq);
    if (e != cudaSuccess) return e;
#define MMVB8_GO(T) mmv8_launch(s, j, xq, grid, k_mmvb8<T, CUDA_MMV_SWIGLU>, k_mmvb8<T, CUDA_MMV_PLAIN>)
    switch (j->type) {
    case ZETA_TYPE_Q4_1: return MMVB8_GO(ZETA_TYPE_Q4_1);
    case ZETA_TYPE_Q5_0: return MMVB8_GO(ZETA_TYPE_Q5_0);
    case ZETA_TYPE_Q5_1: return MMVB8_GO(ZETA_TYPE_Q5_1);
    case ZETA_TYPE_IQ4_NL: return MMVB8_GO(ZETA_TYPE_IQ4_NL);
    default: return cudaErrorInvalidValue;
    }
#undef MMVB8_GO
}
