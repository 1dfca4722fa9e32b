/* cuda_matmul.cu — y = W x on the device, W in its GGUF block format (dequantized on the fly; the
 * CPU's dequantizers in quant*.c are the spec of each layout), except q4_0 and q8_0, which the
 * upload splits into two arrays (all blocks' quants, 16-byte aligned, then all blocks' f16 scales;
 * cuda_weight_split) so that a block's quants are one or two 16-byte loads.
 *
 * One token (decode), with fused epilogues (several matrices of one input, SwiGLU, residual add)
 * used by the decode-step replay in cuda_exec.cu:
 *   - q4_0 / q8_0: k_mmvq (cuda_mmvq.cu), the activation rounded to 8 bits as the CPU rounds it
 *     for these types, dp4a per block.
 *   - q4_K / q5_K / q6_K / q2_K / q3_K / iq4_xs: k_mmvk8 (cuda_mmvk.cu), the activation rounded to Q8_K
 *     as the CPU rounds it, a lane a quarter super-block, dp4a sums per sub-block; ZETA_CUDA_MMVK8=0:
 *     k_mmvk (q4_K / q6_K, f32 activations staged in shared memory) or k_mmv1 (the others).
 *   - q4_1 / q5_0 / q5_1 / iq4_nl: k_mmvb8 (cuda_mmvb.cu), the activation rounded to Q8_0 blocks (and
 *     Q8_1's s) as the CPU rounds it, a lane a block, dp4a; ZETA_CUDA_MMVB=0: k_mmv1.
 *   - float types: k_mmv1, two rows a warp sharing the activation chunk, f32 activations.
 * 2-8 tokens: one warp per output row dequantizing 32-element chunks for all tokens. More tokens
 * (prompts): q4_0 / q8_0 with K % 128 == 0 on the int8 tensor cores (cuda_mmq.cu); the rest as
 * slices of W dequantized in a scratch buffer and multiplied by cuBLAS on the tensor cores
 * (cuda_gemm.cu: f16 or TF32 inputs by type, see its tc_mode). */
#include "cuda/cuda_internal.cuh"
#include "cuda/cuda_dequant.cuh"
#include "cuda/cuda_mmv.cuh"

#include <cublas_v2.h>

bool cuda_type_ok(zeta_type t) {
    switch (t) {
    case ZETA_TYPE_F32: case ZETA_TYPE_F16: case ZETA_TYPE_BF16: case ZETA_TYPE_Q8_0: case ZETA_TYPE_Q4_0:
    case ZETA_TYPE_Q4_K: case ZETA_TYPE_Q6_K: case ZETA_TYPE_Q4_1: case ZETA_TYPE_Q5_0: case ZETA_TYPE_Q5_1: case ZETA_TYPE_IQ4_NL:
    case ZETA_TYPE_Q2_K: case ZETA_TYPE_Q3_K: case ZETA_TYPE_Q5_K: case ZETA_TYPE_IQ4_XS:
        return true;
    default:
        return false;
    }
}

extern "C" const char *cuda_supported_types(void) {
    return "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs";
}


/* ---------------------------------------------------------------- decode: matrix-vector */
/* sum of w[i] * x[i] over a 32-element chunk (x as 8 float4), in the order every f32-activation
 * product uses, so the kernels that share it give the same floats per row */
__device__ __forceinline__ float dot32(const float *w, const float4 *x) {
    float s = 0.0f;
#pragma unroll
    for (int q = 0; q < 8; q++) {
        const float4 v = x[q];
        s += w[4 * q] * v.x + w[4 * q + 1] * v.y + w[4 * q + 2] * v.z + w[4 * q + 3] * v.w;
    }
    return s;
}


#define MMV_WARPS 4

template <int T, int NT>
__global__ void k_mmv(const uint8_t *W, size_t row_bytes, int K, int rows, const float *x, const float *bias, float *y) {
    const int lane = threadIdx.x & 31;
    const int row = blockIdx.x * MMV_WARPS + (threadIdx.x >> 5);
    if (row >= rows) return;
    const uint8_t *wr = W + (size_t)row * row_bytes; /* float types */
    float sum[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) sum[t] = 0.0f;
    if (K % 32 == 0) {
        for (int c = lane; c < K / 32; c += 32) {
            float w[32];
            wload32<T>(W, row_bytes, rows, K, row, c, w);
#pragma unroll
            for (int t = 0; t < NT; t++) sum[t] += dot32(w, (const float4 *)(x + (size_t)t * K + 32 * c));
        }
    } else if (T == ZETA_TYPE_F32 || T == ZETA_TYPE_F16 || T == ZETA_TYPE_BF16) { /* ragged float rows */
        for (int i = lane; i < K; i += 32) {
            const float wv = load1<T>(wr, i);
#pragma unroll
            for (int t = 0; t < NT; t++) sum[t] += wv * x[(size_t)t * K + i];
        }
    }
#pragma unroll
    for (int t = 0; t < NT; t++) {
        float s = sum[t];
        for (int off = 16; off; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
        if (lane == 0) y[(size_t)t * rows + row] = s + (bias ? bias[row] : 0.0f);
    }
}

template <int T>
static void mmv_launch(cudaStream_t s, const zeta_weight *w, const float *bias, const float *x, int n_tok, float *y) {
    const int rows = (int)w->ne1, K = (int)w->ne0;
    const dim3 grid((rows + MMV_WARPS - 1) / MMV_WARPS), block(32 * MMV_WARPS);
    const uint8_t *W = (const uint8_t *)w->dev;
    for (int t0 = 0; t0 < n_tok; t0 += 8) {
        const int nt = n_tok - t0 < 8 ? n_tok - t0 : 8;
        const float *xt = x + (size_t)t0 * K;
        float *yt = y + (size_t)t0 * rows;
        switch (nt) {
        case 1: k_mmv<T, 1><<<grid, block, 0, s>>>(W, w->row_bytes, K, rows, xt, bias, yt); break;
        case 2: k_mmv<T, 2><<<grid, block, 0, s>>>(W, w->row_bytes, K, rows, xt, bias, yt); break;
        case 3: k_mmv<T, 3><<<grid, block, 0, s>>>(W, w->row_bytes, K, rows, xt, bias, yt); break;
        case 4: k_mmv<T, 4><<<grid, block, 0, s>>>(W, w->row_bytes, K, rows, xt, bias, yt); break;
        case 5: k_mmv<T, 5><<<grid, block, 0, s>>>(W, w->row_bytes, K, rows, xt, bias, yt); break;
        case 6: k_mmv<T, 6><<<grid, block, 0, s>>>(W, w->row_bytes, K, rows, xt, bias, yt); break;
        case 7: k_mmv<T, 7><<<grid, block, 0, s>>>(W, w->row_bytes, K, rows, xt, bias, yt); break;
        default: k_mmv<T, 8><<<grid, block, 0, s>>>(W, w->row_bytes, K, rows, xt, bias, yt); break;
        }
    }
}

/* ---------------------------------------------------------------- decode: one token, fused */

/* Each warp takes MMV1_R items (output rows, possibly of different matrices of the job) and walks
 * their blocks together: lane c loads activation chunk c (eight 16-byte loads) once and multiplies
 * it with chunk c of every item's row (the items' weight loads are issued back to back, so several
 * blocks per lane are in flight). Per row, the sum is formed exactly as in k_mmv<T, 1>. */
/* staging bytes a row: 32 chunks of q6_K take 840; the 1088 of q8_0's chunks (q8_0 now takes
 * k_mmvq) is kept, the size every timing in bench/CUDA_NOTES.md ran with */
#define MMV1_STAGE 1088

/* bytes of n 32-element chunks from the start of a row (n a multiple of 8 for the K types; the
 * types k_mmv1 takes) */
template <int T> __host__ __device__ constexpr size_t chunk_bytes(int n) {
    return T == ZETA_TYPE_Q4_K ? (size_t)n / 8 * 144 : T == ZETA_TYPE_Q6_K ? (size_t)n / 8 * 210
         : (size_t)n * 32 * (T == ZETA_TYPE_F32 ? 4 : 2);
}



template <int T, int MODE> __global__ void __launch_bounds__(32 * MMV1_WARPS) k_mmv1(cuda_mmv_job j, const float *x) {
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
    const int nch = j.K / 32;
    if (T == ZETA_TYPE_Q4_K || T == ZETA_TYPE_Q6_K) {
        /* block types: the warp copies 32 chunks of each of its rows into shared memory with
         * coalesced 16-byte loads (all rows' loads issued first), then lane c dequantizes chunk c
         * from there (the blocks' 2-byte fields would otherwise be 9-17 scattered loads a block) */
        __shared__ __align__(16) uint8_t sbuf[MMV1_WARPS][MMV1_R][MMV1_STAGE];
        uint8_t(*buf)[MMV1_STAGE] = sbuf[threadIdx.x >> 5];
        /* 16-byte copies when every row and chunk group is 16-byte aligned; the next group's
         * loads are issued before the current group is computed (two groups in flight a warp) */
        const int tail = nch % 32 ? nch % 32 : 32;
        bool vec = chunk_bytes<T>(32) % 16 == 0 && chunk_bytes<T>(tail) % 16 == 0;
#pragma unroll
        for (int r = 0; r < MMV1_R; r++) vec = vec && ((uintptr_t)wr[r] & 15) == 0;
        uint4 tmp[MMV1_R][3];
        auto prefetch = [&](int c0) {
            const size_t off = chunk_bytes<T>(c0);
            const int nb = (int)chunk_bytes<T>(min(32, nch - c0));
#pragma unroll
            for (int r = 0; r < MMV1_R; r++)
#pragma unroll
                for (int k = 0; k < 3; k++) {
                    const int o = 16 * (lane + 32 * k);
                    if (o < nb) tmp[r][k] = *(const uint4 *)(wr[r] + off + o);
                }
        };
        if (vec) prefetch(0);
        for (int c0 = 0; c0 < nch; c0 += 32) {
            const int n = min(32, nch - c0);
            const size_t off = chunk_bytes<T>(c0);
            const int nb = (int)chunk_bytes<T>(n);
            if (vec) {
#pragma unroll
                for (int r = 0; r < MMV1_R; r++)
#pragma unroll
                    for (int k = 0; k < 3; k++) {
                        const int o = 16 * (lane + 32 * k);
                        if (o < nb) *(uint4 *)(&buf[r][o]) = tmp[r][k];
                    }
            } else { /* rows not 16-byte aligned: 2-byte copies (every block size is even) */
#pragma unroll
                for (int r = 0; r < MMV1_R; r++)
                    for (int o = 2 * lane; o < nb; o += 64) *(uint16_t *)(&buf[r][o]) = *(const uint16_t *)(wr[r] + off + o);
            }
            __syncwarp();
            if (vec && c0 + 32 < nch) prefetch(c0 + 32);
            if (lane < n) {
                const int c = c0 + lane;
                float4 xv[8];
                const float4 *xp = (const float4 *)(x + 32 * c);
#pragma unroll
                for (int q = 0; q < 8; q++) xv[q] = xp[q];
#pragma unroll
                for (int r = 0; r < MMV1_R; r++) {
                    float w[32];
                    load32<T>(buf[r], lane, w);
                    sum[r] += dot32(w, xv);
                }
            }
            __syncwarp();
        }
    } else
    for (int c = lane; c < j.K / 32; c += 32) {
        float4 xv[8];
        const float4 *xp = (const float4 *)(x + 32 * c);
#pragma unroll
        for (int q = 0; q < 8; q++) xv[q] = xp[q];
        float w[MMV1_R][32];
#pragma unroll
        for (int r = 0; r < MMV1_R; r++) load32<T>(wr[r], c, w[r]);
#pragma unroll
        for (int r = 0; r < MMV1_R; r++) sum[r] += dot32(w[r], xv);
    }
#pragma unroll
    for (int r = 0; r < MMV1_R; r++)
        for (int off = 16; off; off >>= 1) sum[r] += __shfl_xor_sync(0xffffffffu, sum[r], off);
    if (lane == 0) mmv_store<MODE>(j, sum, mat, row, ok);
}

bool cuda_mmv_fusable(const zeta_weight *w) { return w->ne0 % 32 == 0 && cuda_type_ok(w->type); }

template <int T> static cudaError_t mmv1_launch(cudaStream_t s, const cuda_mmv_job *j, const float *x, uint8_t *xq) {
    int items = 0;
    for (int m = 0; m < j->n_mat; m++) items += j->rows[m];
    const int warps = j->mode == CUDA_MMV_SWIGLU ? j->rows[0] : (items + MMV1_R - 1) / MMV1_R;
    const unsigned grid = (unsigned)((warps + MMV1_WARPS - 1) / MMV1_WARPS);
    static int mmvk = -1;
    if constexpr (T == ZETA_TYPE_Q4_1 || T == ZETA_TYPE_Q5_0 || T == ZETA_TYPE_Q5_1 || T == ZETA_TYPE_IQ4_NL) {
        if (xq && cuda_mmvb8_type(T)) return cuda_mmvb8_launch(s, j, x, xq, grid);
    }
    if constexpr (T == ZETA_TYPE_Q4_K || T == ZETA_TYPE_Q5_K || T == ZETA_TYPE_Q6_K || T == ZETA_TYPE_Q2_K || T == ZETA_TYPE_Q3_K ||
                  T == ZETA_TYPE_IQ4_XS) {
        if (xq && j->K % 256 == 0 && cuda_mmvk8_on()) return cuda_mmvk8_launch(s, j, x, xq, grid);
    }
    if constexpr (T == ZETA_TYPE_Q4_K || T == ZETA_TYPE_Q6_K) {
        if (cuda_switch_on("ZETA_CUDA_MMVK", &mmvk)) {
            cuda_mmvk_launch(s, j, x, grid);
            return cudaGetLastError();
        }
    }
    if (j->mode == CUDA_MMV_SWIGLU) k_mmv1<T, CUDA_MMV_SWIGLU><<<grid, 32 * MMV1_WARPS, 0, s>>>(*j, x);
    else k_mmv1<T, CUDA_MMV_PLAIN><<<grid, 32 * MMV1_WARPS, 0, s>>>(*j, x);
    return cudaGetLastError();
}

/* x -> xr: every block of 32 replaced by its q8_0 rounding (q * d, exact in f32), so that float
 * products with it equal the CPU's 8-bit products up to the order of the sums */
__global__ void k_round_q8(const float *x, float *xr, size_t n_blocks) {
    const size_t b = blockIdx.x * (size_t)(blockDim.x >> 5) + (threadIdx.x >> 5);
    if (b >= n_blocks) return;
    const int lane = threadIdx.x & 31;
    float dh;
    const int q = q8_round(x[32 * b + lane], &dh);
    xr[32 * b + lane] = (float)q * dh;
}

bool cuda_switch_on(const char *name, int *cache) {
    if (*cache < 0) {
        const char *e = getenv(name);
        *cache = !(e && !strcmp(e, "0"));
    }
    return *cache != 0;
}

/* ---------------------------------------------------------------- upload: the split layout */

template <int QB> __global__ void k_split(const uint8_t *src, uint8_t *dst, size_t n_blocks) {
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n_blocks) return;
    const uint8_t *b = src + (size_t)(QB + 2) * i; /* f16 d, then QB bytes of quants */
    uint8_t *q = dst + (size_t)QB * i;
    for (int k = 0; k < QB; k++) q[k] = b[2 + k];
    uint8_t *d = dst + (size_t)QB * n_blocks + 2 * i;
    d[0] = b[0];
    d[1] = b[1];
}

bool cuda_type_split(int type) { return type == ZETA_TYPE_Q4_0 || type == ZETA_TYPE_Q8_0; }

cudaError_t cuda_weight_split(cudaStream_t s, int type, const uint8_t *src, uint8_t *dst, size_t n_blocks) {
    const unsigned grid = (unsigned)((n_blocks + 255) / 256);
    if (type == ZETA_TYPE_Q4_0) k_split<16><<<grid, 256, 0, s>>>(src, dst, n_blocks);
    else if (type == ZETA_TYPE_Q8_0) k_split<32><<<grid, 256, 0, s>>>(src, dst, n_blocks);
    else return cudaErrorInvalidValue;
    return cudaGetLastError();
}

#define MMV_MAX_TOKENS 8

cudaError_t cuda_mmv(cudaStream_t s, const cuda_mmv_job *j, const float *x, uint8_t *xq) {
    if (j->K % 32 || j->n_mat < 1 || j->n_mat > 3 || (j->mode == CUDA_MMV_SWIGLU && (j->n_mat != 2 || j->rows[0] != j->rows[1])) ||
        (j->res && j->n_mat != 1) || (cuda_type_split(j->type) && !xq))
        return cudaErrorInvalidValue;
    cudaError_t e;
    switch (j->type) { /* k_mmv1 is not instantiated for the split types */
    case ZETA_TYPE_Q4_0: case ZETA_TYPE_Q8_0: e = cuda_mmvq(s, j, x, xq); break;
    case ZETA_TYPE_F32: e = mmv1_launch<ZETA_TYPE_F32>(s, j, x, xq); break;
    case ZETA_TYPE_F16: e = mmv1_launch<ZETA_TYPE_F16>(s, j, x, xq); break;
    case ZETA_TYPE_BF16: e = mmv1_launch<ZETA_TYPE_BF16>(s, j, x, xq); break;
    case ZETA_TYPE_Q4_K: e = mmv1_launch<ZETA_TYPE_Q4_K>(s, j, x, xq); break;
    case ZETA_TYPE_Q6_K: e = mmv1_launch<ZETA_TYPE_Q6_K>(s, j, x, xq); break;
    case ZETA_TYPE_Q4_1: e = mmv1_launch<ZETA_TYPE_Q4_1>(s, j, x, xq); break;
    case ZETA_TYPE_Q5_0: e = mmv1_launch<ZETA_TYPE_Q5_0>(s, j, x, xq); break;
    case ZETA_TYPE_Q5_1: e = mmv1_launch<ZETA_TYPE_Q5_1>(s, j, x, xq); break;
    case ZETA_TYPE_IQ4_NL: e = mmv1_launch<ZETA_TYPE_IQ4_NL>(s, j, x, xq); break;
    case ZETA_TYPE_Q2_K: e = mmv1_launch<ZETA_TYPE_Q2_K>(s, j, x, xq); break;
    case ZETA_TYPE_Q3_K: e = mmv1_launch<ZETA_TYPE_Q3_K>(s, j, x, xq); break;
    case ZETA_TYPE_Q5_K: e = mmv1_launch<ZETA_TYPE_Q5_K>(s, j, x, xq); break;
    case ZETA_TYPE_IQ4_XS: e = mmv1_launch<ZETA_TYPE_IQ4_XS>(s, j, x, xq); break;
    default: return cudaErrorInvalidValue;
    }
    return e != cudaSuccess ? e : cudaGetLastError();
}

cudaError_t cuda_matmul(cudaStream_t s, void *blas, const zeta_weight *w, const float *bias, const float *x, int n_tok,
                        float *y, const cuda_mm_scratch *sc, int *blas_status) {
    *blas_status = 0;
    if (n_tok <= 0) return cudaSuccess;
    const bool split = cuda_type_split(w->type);
    if (n_tok == 1 && cuda_mmv_fusable(w)) {
        cuda_mmv_job j;
        memset(&j, 0, sizeof j);
        j.type = (int)w->type;
        j.K = (int)w->ne0;
        j.n_mat = 1;
        j.mode = CUDA_MMV_PLAIN;
        j.row_bytes = w->row_bytes;
        j.W[0] = (const uint8_t *)w->dev;
        j.bias[0] = bias;
        j.y[0] = y;
        j.rows[0] = (int)w->ne1;
        return cuda_mmv(s, &j, x, sc->xq);
    }
    if (cuda_mmq_ok(w, n_tok)) { /* xr's n_tok * K floats hold n_tok 8-bit vectors */
        if (!sc->xr || sc->xr_floats * sizeof(float) < cuda_mmq_xq_bytes((int)w->ne0, n_tok)) return cudaErrorInvalidValue;
        return cuda_mmq(s, w, bias, x, n_tok, y, (uint8_t *)sc->xr);
    }
    if (split) { /* the CPU's products take x rounded to 8 bits: so do these */
        const size_t n = (size_t)n_tok * w->ne0;
        if (!sc->xr || sc->xr_floats < n) return cudaErrorInvalidValue;
        k_round_q8<<<(unsigned)((n / 32 + 7) / 8), 256, 0, s>>>(x, sc->xr, n / 32);
        x = sc->xr;
    }
    if (n_tok <= MMV_MAX_TOKENS || !blas || !sc->deq) {
        DISPATCH(w->type, mmv_launch<TT>(s, w, bias, x, n_tok, y));
        return cudaGetLastError();
    }
    return cuda_gemm_prompt(s, blas, w, bias, x, n_tok, y, sc, blas_status);
}
