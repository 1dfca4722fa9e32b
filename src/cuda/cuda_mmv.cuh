/* cuda_mmv.cuh — what the one-token fused matrix-vector kernels share: k_mmv1 (cuda_matmul.cu) and
 * k_mmvk (cuda_mmvk.cu, q4_K / q6_K): the job's item mapping and epilogue, and two conversions. */
#ifndef ZETA_CUDA_MMV_CUH
#define ZETA_CUDA_MMV_CUH

#include "cuda/cuda_internal.cuh"

#include <cuda_fp16.h>

#define MMV1_WARPS 4
#define MMV1_R 2

__device__ __forceinline__ float h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }

/* 2^23 + byte e of v, as a float (one byte permute instead of a quarter-rate int-to-float
 * conversion); subtracting 2^23 + offset then gives the byte minus offset exactly */
__device__ __forceinline__ float i2f_lo8(uint32_t v, int e) { return __uint_as_float(__byte_perm(v, 0x4b000000u, 0x7440 + e)); }

/* The IQ4 codebook (ggml's kvalues_iq4nl: -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53,
 * 69, 89, 113) of the 8 codes in q (4 bytes of an iq4 block: low nibbles elements k .. k + 3, high
 * nibbles elements k + 16 .. k + 19): *lo / *hi the int8 values of the low / high nibbles. A byte
 * permute reads only the low 3 bits of each of its selector's low four nibbles, so q itself selects
 * from the first or second half of the table; a third permute picks the half by each code's bit 3. */
__device__ __forceinline__ void iq4_lut8(uint32_t q, int &lo, int &hi) {
    uint32_t r[2];
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const uint32_t s = q >> (16 * h); /* codes of bytes 2 h, 2 h + 1: low, high, low, high */
        const uint32_t a = __byte_perm(0xbfad9881u, 0xf6eaddcfu, s), b = __byte_perm(0x26190d01u, 0x71594535u, s);
        r[h] = __byte_perm(a, b, 0x3210u | ((s & 0x8888u) >> 1));
    }
    lo = (int)__byte_perm(r[0], r[1], 0x6420u);
    hi = (int)__byte_perm(r[0], r[1], 0x7531u);
}

/* element m of a 3-array in a kernel parameter, without run-time indexing (which would copy the
 * parameter to local memory) */
template <typename X> __device__ __forceinline__ X pick3(const X (&a)[3], int m) { return m == 0 ? a[0] : m == 1 ? a[1] : a[2]; }

/* the warp's MMV1_R items: SWIGLU: item 0 gate row gw, item 1 up row gw; else items gw * MMV1_R + r
 * across the job's matrices in order. wr: each item's row (the first matrix's for items past the end) */
template <int MODE>
__device__ __forceinline__ void mmv_items(const cuda_mmv_job &j, int gw, const uint8_t *(&wr)[MMV1_R], int (&mat)[MMV1_R], int (&row)[MMV1_R],
                                          bool (&ok)[MMV1_R]) {
#pragma unroll
    for (int r = 0; r < MMV1_R; r++) {
        if (MODE == CUDA_MMV_SWIGLU) {
            mat[r] = r;
            row[r] = gw;
            ok[r] = gw < j.rows[0];
        } else {
            int gi = gw * MMV1_R + r, m = 0;
            if (j.n_mat > 1 && gi >= j.rows[0]) { gi -= j.rows[0]; m = 1; }
            if (j.n_mat > 2 && m == 1 && gi >= j.rows[1]) { gi -= j.rows[1]; m = 2; }
            mat[r] = m;
            row[r] = gi;
            ok[r] = gi < pick3(j.rows, m);
        }
        wr[r] = ok[r] ? pick3(j.W, mat[r]) + (size_t)row[r] * j.row_bytes : j.W[0];
    }
}

/* a one-token product kernel of 8-bit activations (k_mmvk8, k_mmvb8) for the job's mode: swiglu /
 * plain, the kernel's two instances; grid blocks of MMV1_WARPS warps, launched in the PDL chain */
typedef void (*mmv8_kernel)(cuda_mmv_job, const uint8_t *);
static inline cudaError_t mmv8_launch(cudaStream_t s, const cuda_mmv_job *j, const uint8_t *xq, unsigned grid, mmv8_kernel swiglu,
                                      mmv8_kernel plain) {
    return cuda_launch(cuda_pdl_enabled(), j->mode == CUDA_MMV_SWIGLU ? swiglu : plain, dim3(grid), dim3(32 * MMV1_WARPS), 0, s, *j,
                       xq);
}

/* the items' sums (lane 0): + bias, then SWIGLU's silu(gate) * up, or the plain store and the
 * residual add */
template <int MODE>
__device__ __forceinline__ void mmv_store(const cuda_mmv_job &j, const float (&sum)[MMV1_R], const int (&mat)[MMV1_R], const int (&row)[MMV1_R],
                                          const bool (&ok)[MMV1_R]) {
    if (MODE == CUDA_MMV_SWIGLU) {
        const float g = sum[0] + (j.bias[0] ? j.bias[0][row[0]] : 0.0f), u = sum[1] + (j.bias[1] ? j.bias[1][row[1]] : 0.0f);
        j.y[1][row[1]] = u;
        j.y[0][row[0]] = silu_mul(g, u);
    } else {
#pragma unroll
        for (int r = 0; r < MMV1_R; r++) {
            if (!ok[r]) continue;
            const float *b = pick3(j.bias, mat[r]);
            const float v = sum[r] + (b ? b[row[r]] : 0.0f);
            pick3(j.y, mat[r])[row[r]] = v;
            if (j.res) j.res[row[r]] += v;
        }
    }
}

/* q4_K / q6_K one-token products (k_mmvk), the job as k_mmv1 takes it, grid blocks of MMV1_WARPS
 * warps (MMV1_R items a warp) */
void cuda_mmvk_launch(cudaStream_t s, const cuda_mmv_job *j, const float *x, unsigned grid);
/* q4_K / q5_K / q6_K one-token products with x rounded to Q8_K as the CPU rounds it (k_quant_q8K into
 * xq, then k_mmvk8; K % 256 == 0, xq at least cuda_xq_bytes(K)); ZETA_CUDA_MMVK8=0: the f32 kernels */
cudaError_t cuda_mmvk8_launch(cudaStream_t s, const cuda_mmv_job *j, const float *x, uint8_t *xq, unsigned grid);
/* q4_1 / q5_0 / q5_1 / iq4_nl one-token products with x rounded to Q8_0 blocks (k_quant_q8 into xq
 * unless xq_ready, then k_mmvb8; xq at least cuda_xq_bytes(K)) */
cudaError_t cuda_mmvb8_launch(cudaStream_t s, const cuda_mmv_job *j, const float *x, uint8_t *xq, unsigned grid);

#endif
