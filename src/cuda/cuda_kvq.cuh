/* cuda_kvq.cuh — device helpers of the quantized KV caches (cuda_kvq.cu, cuda_attn_dec.cu): the
 * cache layout (cuda_internal.cuh's cuda_kvq), the Hadamard rotation and the rounding of a row as the
 * CPU stores it (cpu_kv.c). */
#ifndef ZETA_CUDA_KVQ_CUH
#define ZETA_CUDA_KVQ_CUH

#include "cuda/cuda_internal.cuh"

#define KQ_WARPS 4

/* bytes of one head's codes at one position */
__host__ __device__ constexpr int kq_code_bytes(int t, int d) { return t == ZETA_TYPE_F16 ? 2 * d : t == ZETA_TYPE_Q8_0 ? d : d / 2; }
__host__ __device__ inline bool kq_quant(int t) { return t == ZETA_TYPE_Q8_0 || t == ZETA_TYPE_Q4_0; }

/* the scales of a layer whose codes start at base */
template <int T, int D> __device__ __forceinline__ const __half *kq_scales(const uint8_t *base, uint32_t n_ctx, int nkv) {
    return (const __half *)(base + (size_t)n_ctx * nkv * kq_code_bytes(T, D));
}

/* x[0..len) in shared memory (len a multiple of n) -> blocks of n rotated (cpu_kv_fwht's operations
 * in its order); every thread of the block calls it */
__device__ inline void kq_fwht(float *x, int len_all, int n) {
    const float scale = __fdiv_rn(1.0f, __fsqrt_rn((float)n));
    for (int i = threadIdx.x; i < len_all; i += blockDim.x) x[i] = __fmul_rn(x[i], scale);
    __syncthreads();
    for (int len = 1; len < n; len <<= 1) {
        for (int k = threadIdx.x; k < len_all / 2; k += blockDim.x) {
            const int j = k / len * 2 * len + k % len;
            const float u = x[j], v = x[j + len];
            x[j] = __fadd_rn(u, v);
            x[j + len] = __fsub_rn(u, v);
        }
        __syncthreads();
    }
}

/* quant.c's q4_code: MIN(15, (int8_t)v) with x86's conversion (out of range: 0) */
__device__ __forceinline__ int kq_q4_code(float v) {
    if (!(v >= -2147483648.0f && v < 2147483648.0f)) return 0;
    const int q = (int)(int8_t)(uint8_t)((uint32_t)(int32_t)v & 0xffu);
    return q < 15 ? q : 15;
}

/* block b of a row (lane i of the warp holds element 32 b + i, rotated already) -> its codes (and
 * scale) in type T, as the CPU rounds them; every lane of the warp calls it */
template <int T> __device__ __forceinline__ void kq_store_block(float v, int b, uint8_t *codes, __half *scales) {
    const int lane = threadIdx.x & 31;
    if constexpr (T == ZETA_TYPE_F16) {
        ((__half *)codes)[32 * b + lane] = __float2half_rn(v);
    } else if constexpr (T == ZETA_TYPE_Q8_0) {
        float dh;
        const int q = q8_round(v, &dh);
        codes[32 * b + lane] = (uint8_t)(int8_t)q;
        if (lane == 0) scales[b] = __float2half_rn(dh);
    } else {
        /* the first element of largest magnitude (NaN never is), as quantize_row_q4_0_ref */
        float a = fabsf(v) > 0.0f ? fabsf(v) : -1.0f;
        int at = lane;
#pragma unroll
        for (int off = 16; off; off >>= 1) {
            const float a2 = __shfl_xor_sync(0xffffffffu, a, off);
            const int at2 = __shfl_xor_sync(0xffffffffu, at, off);
            if (a2 > a || (a2 == a && at2 < at)) { a = a2; at = at2; }
        }
        const float vmax = __shfl_sync(0xffffffffu, v, at);
        const float mx = a > 0.0f ? vmax : 0.0f;
        const float d = __fdiv_rn(mx, -8.0f);
        const float id = d != 0.0f ? __fdiv_rn(1.0f, d) : 0.0f;
        const int c = kq_q4_code(__fadd_rn(__fmul_rn(v, id), 8.5f));
        const int c1 = __shfl_down_sync(0xffffffffu, c, 16);
        if (lane < 16) codes[16 * b + lane] = (uint8_t)(c | (c1 << 4));
        if (lane == 0) scales[b] = __float2half_rn(d);
    }
}

/* row x[0..D) (shared memory, rotated already) -> one head's codes (and scales) in type T; every
 * thread of the block calls it (a block of whole warps; warp w takes blocks w, w + the warps, ...) */
template <int T, int D> __device__ inline void kq_store_row(const float *x, uint8_t *codes, __half *scales) {
    const int lane = threadIdx.x & 31;
    for (int b = threadIdx.x >> 5; b < D / 32; b += blockDim.x >> 5) kq_store_block<T>(x[32 * b + lane], b, codes, scales);
}

/* kq_fwht for one row of D held by a warp in registers (lane i: v[j] = x[32 j + i]): the same
 * operations in the same order, with shuffles instead of shared memory and barriers */
template <int D> __device__ __forceinline__ void kq_fwht_regs(float (&v)[D / 32], int n) {
    const int lane = threadIdx.x & 31;
    const float scale = __fdiv_rn(1.0f, __fsqrt_rn((float)n));
#pragma unroll
    for (int j = 0; j < D / 32; j++) v[j] = __fmul_rn(v[j], scale);
#pragma unroll
    for (int len = 1; len < 32; len <<= 1) {
        if (len >= n) break;
#pragma unroll
        for (int j = 0; j < D / 32; j++) { /* (u, w) -> (u + w, u - w), u the lower index */
            const float o = __shfl_xor_sync(0xffffffffu, v[j], len);
            v[j] = (lane & len) ? __fsub_rn(o, v[j]) : __fadd_rn(v[j], o);
        }
    }
#pragma unroll
    for (int st = 1; st < D / 32; st <<= 1) { /* spans of 32 st: within the lane */
        if (32 * st >= n) break;
#pragma unroll
        for (int j = 0; j < D / 32; j++)
            if (!(j & st)) {
                const float u = v[j], w = v[j + st];
                v[j] = __fadd_rn(u, w);
                v[j + st] = __fsub_rn(u, w);
            }
    }
}

/* one head's row of type T (codes, scales) -> floats x[0..D) (q * d, as the CPU's dequantization) */
template <int T, int D> __device__ inline void kq_load_row(const uint8_t *codes, const __half *scales, float *x) {
    for (int i = threadIdx.x; i < D; i += blockDim.x) {
        if (T == ZETA_TYPE_F16) x[i] = __half2float(((const __half *)codes)[i]);
        else if (T == ZETA_TYPE_Q8_0) x[i] = __fmul_rn((float)(int8_t)codes[i], __half2float(scales[i / 32]));
        else {
            const int b = i / 32, j = i % 32;
            const int q = j < 16 ? (codes[16 * b + j] & 15) : (codes[16 * b + j - 16] >> 4);
            x[i] = __fmul_rn((float)(q - 8), __half2float(scales[b]));
        }
    }
}


#endif
