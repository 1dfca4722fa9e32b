/* cuda_matmul.cu — y = W x on the device, W in its GGUF block format (dequantized on the fly; the
 * CPU's dequantizers in quant*.c are the spec of each layout). One token (decode): k_mmv1, two rows
 * a warp sharing the activation chunk, block types staged through shared memory with 16-byte loads,
 * and fused epilogues (several matrices of one input, SwiGLU, residual add) used by the decode-step
 * replay in cuda_backend.cu. 2-8 tokens: one warp per output row dequantizing 32-element chunks for
 * all tokens. More tokens (prompts): slices of W dequantized to f32 in a scratch buffer, multiplied
 * by cuBLAS SGEMM (f32 arithmetic). Activations stay f32 throughout (the CPU rounds them to 8 bits
 * for integer weight types; see docs/ARCHITECTURE.md). */
#include "cuda/cuda_internal.cuh"

#include <cublas_v2.h>

bool cuda_type_ok(zeta_type t) {
    switch (t) {
    case ZETA_TYPE_F32: case ZETA_TYPE_F16: case ZETA_TYPE_BF16: case ZETA_TYPE_Q8_0: case ZETA_TYPE_Q4_0:
    case ZETA_TYPE_Q4_K: case ZETA_TYPE_Q6_K:
        return true;
    default:
        return false;
    }
}

extern "C" const char *cuda_supported_types(void) { return "f32, f16, bf16, q8_0, q4_0, q4_k, q6_k"; }

/* ---------------------------------------------------------------- dequantizers */

__device__ __forceinline__ float h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ float bf2f(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }

/* 2^23 + byte e of v, as a float (one byte permute instead of a quarter-rate int-to-float
 * conversion); subtracting 2^23 + offset then gives the byte minus offset exactly */
__device__ __forceinline__ float i2f_lo8(uint32_t v, int e) { return __uint_as_float(__byte_perm(v, 0x4b000000u, 0x7440 + e)); }

/* one element of a float row (f32 / f16 / bf16) */
template <int T> __device__ __forceinline__ float load1(const uint8_t *row, int i) {
    if (T == ZETA_TYPE_F32) return ((const float *)row)[i];
    if (T == ZETA_TYPE_F16) return h2f(((const uint16_t *)row)[i]);
    return bf2f(((const uint16_t *)row)[i]);
}

/* elements 32c .. 32c + 31 of a row */
template <int T> __device__ __forceinline__ void load32(const uint8_t *row, int c, float *w) {
    if (T == ZETA_TYPE_F32) {
        const float4 *p = (const float4 *)(row + (size_t)c * 128);
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const float4 v = p[j];
            w[4 * j] = v.x; w[4 * j + 1] = v.y; w[4 * j + 2] = v.z; w[4 * j + 3] = v.w;
        }
    } else if (T == ZETA_TYPE_F16 || T == ZETA_TYPE_BF16) {
        const uint4 *p = (const uint4 *)(row + (size_t)c * 64);
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const uint4 v = p[j];
            const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
            for (int k = 0; k < 4; k++) {
                const uint16_t lo = (uint16_t)(u[k] & 0xffffu), hi = (uint16_t)(u[k] >> 16);
                w[8 * j + 2 * k] = T == ZETA_TYPE_F16 ? h2f(lo) : bf2f(lo);
                w[8 * j + 2 * k + 1] = T == ZETA_TYPE_F16 ? h2f(hi) : bf2f(hi);
            }
        }
    } else if (T == ZETA_TYPE_Q4_0) { /* 18 bytes: f16 d, 16 bytes of nibbles (low: 0..15, high: 16..31) */
        const uint16_t *b = (const uint16_t *)(row + (size_t)c * 18);
        const float d = h2f(b[0]);
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const uint32_t v = (uint32_t)b[1 + 2 * j] | ((uint32_t)b[2 + 2 * j] << 16);
            const uint32_t lo = v & 0x0f0f0f0fu, hi = (v >> 4) & 0x0f0f0f0fu;
#pragma unroll
            for (int e = 0; e < 4; e++) {
                w[4 * j + e] = (i2f_lo8(lo, e) - 8388616.0f) * d;      /* (q - 8) * d, exactly as (float)(q - 8) * d */
                w[4 * j + e + 16] = (i2f_lo8(hi, e) - 8388616.0f) * d;
            }
        }
    } else if (T == ZETA_TYPE_Q8_0) { /* 34 bytes: f16 d, 32 int8 */
        const uint16_t *b = (const uint16_t *)(row + (size_t)c * 34);
        const float d = h2f(b[0]);
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const uint32_t v = ((uint32_t)b[1 + 2 * j] | ((uint32_t)b[2 + 2 * j] << 16)) ^ 0x80808080u; /* q + 128 */
#pragma unroll
            for (int e = 0; e < 4; e++) w[4 * j + e] = (i2f_lo8(v, e) - 8388736.0f) * d;
        }
    } else if (T == ZETA_TYPE_Q4_K) { /* 144 bytes per 256: d, dmin, 12 bytes of 6-bit scales/mins, 128 of nibbles */
        const uint8_t *b = row + (size_t)(c >> 3) * 144;
        const int j = c & 7, cc = j >> 1;
        const float d = h2f(((const uint16_t *)b)[0]), dmin = h2f(((const uint16_t *)b)[1]);
        const uint8_t *q = b + 4;
        int sc, m;
        if (j < 4) {
            sc = q[j] & 63;
            m = q[j + 4] & 63;
        } else {
            sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
            m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
        const float d1 = d * (float)sc, m1 = dmin * (float)m;
        const uint4 *qs = (const uint4 *)(b + 16 + 32 * cc);
        const int shift = (j & 1) * 4;
#pragma unroll
        for (int k = 0; k < 2; k++) {
            const uint4 v = qs[k];
            const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
            for (int e = 0; e < 16; e++) w[16 * k + e] = d1 * (float)((u[e >> 2] >> (8 * (e & 3) + shift)) & 15) - m1;
        }
    } else if (T == ZETA_TYPE_Q6_K) { /* 210 bytes per 256: ql[128], qh[64], int8 scales[16], f16 d */
        const uint8_t *b = row + (size_t)(c >> 3) * 210;
        const int j = c & 7, half = j >> 2, part = j & 3;
        const uint8_t *ql = b + 64 * half + (part & 1) * 32, *qh = b + 128 + 32 * half;
        const int8_t *sc = (const int8_t *)(b + 192) + 8 * half + 2 * part;
        const float d = h2f((uint16_t)(b[208] | (b[209] << 8)));
        const int lshift = (part >> 1) * 4, hshift = 2 * part;
        const float d0 = d * (float)sc[0], d1 = d * (float)sc[1];
#pragma unroll
        for (int l = 0; l < 32; l++) {
            const int q = ((ql[l] >> lshift) & 15) | (((qh[l] >> hshift) & 3) << 4);
            w[l] = (l < 16 ? d0 : d1) * (float)(q - 32);
        }
    }
}

/* ---------------------------------------------------------------- decode: matrix-vector */

#define MMV_WARPS 4

template <int T, int NT>
__global__ void k_mmv(const uint8_t *W, size_t row_bytes, int K, int rows, const float *x, const float *bias, float *y) {
    const int lane = threadIdx.x & 31;
    const int row = blockIdx.x * MMV_WARPS + (threadIdx.x >> 5);
    if (row >= rows) return;
    const uint8_t *wr = W + (size_t)row * row_bytes;
    float sum[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) sum[t] = 0.0f;
    if (K % 32 == 0) {
        for (int c = lane; c < K / 32; c += 32) {
            float w[32];
            load32<T>(wr, c, w);
#pragma unroll
            for (int t = 0; t < NT; t++) {
                const float4 *xv = (const float4 *)(x + (size_t)t * K + 32 * c);
                float s = 0.0f;
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    const float4 v = xv[j];
                    s += w[4 * j] * v.x + w[4 * j + 1] * v.y + w[4 * j + 2] * v.z + w[4 * j + 3] * v.w;
                }
                sum[t] += s;
            }
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
#define MMV1_WARPS 4
#define MMV1_R 2
#define MMV1_STAGE 1088 /* bytes of 32 chunks of the largest block type (q8_0: 32 x 34) */

/* bytes of n 32-element chunks from the start of a row (n a multiple of 8 for the K types) */
template <int T> __host__ __device__ constexpr size_t chunk_bytes(int n) {
    return T == ZETA_TYPE_Q4_0 ? (size_t)n * 18 : T == ZETA_TYPE_Q8_0 ? (size_t)n * 34 : T == ZETA_TYPE_Q4_K ? (size_t)n / 8 * 144
         : T == ZETA_TYPE_Q6_K ? (size_t)n / 8 * 210 : (size_t)n * 32 * (T == ZETA_TYPE_F32 ? 4 : 2);
}

/* element m of a 3-array in a kernel parameter, without run-time indexing (which would copy the
 * parameter to local memory) */
template <typename X> __device__ __forceinline__ X pick3(const X (&a)[3], int m) { return m == 0 ? a[0] : m == 1 ? a[1] : a[2]; }

__device__ __forceinline__ float silu_mul(float g, float u) { return __fmul_rn(__fdiv_rn(g, 1.0f + expf(-g)), u); }

template <int T, int MODE> __global__ void __launch_bounds__(32 * MMV1_WARPS) k_mmv1(cuda_mmv_job j, const float *x) {
    const int lane = threadIdx.x & 31;
    const int gw = blockIdx.x * MMV1_WARPS + (threadIdx.x >> 5);
    const uint8_t *wr[MMV1_R];
    int mat[MMV1_R], row[MMV1_R];
    bool ok[MMV1_R];
#pragma unroll
    for (int r = 0; r < MMV1_R; r++) {
        if (MODE == CUDA_MMV_SWIGLU) { /* item 0: gate row gw, item 1: up row gw */
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
    if (!ok[0]) return;
    float sum[MMV1_R];
#pragma unroll
    for (int r = 0; r < MMV1_R; r++) sum[r] = 0.0f;
    const int nch = j.K / 32;
    if (T == ZETA_TYPE_Q4_0 || T == ZETA_TYPE_Q8_0 || T == ZETA_TYPE_Q4_K || T == ZETA_TYPE_Q6_K) {
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
                    float s = 0.0f;
#pragma unroll
                    for (int q = 0; q < 8; q++) {
                        const float4 v = xv[q];
                        s += w[4 * q] * v.x + w[4 * q + 1] * v.y + w[4 * q + 2] * v.z + w[4 * q + 3] * v.w;
                    }
                    sum[r] += s;
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
        for (int r = 0; r < MMV1_R; r++) {
            float s = 0.0f;
#pragma unroll
            for (int q = 0; q < 8; q++) {
                const float4 v = xv[q];
                s += w[r][4 * q] * v.x + w[r][4 * q + 1] * v.y + w[r][4 * q + 2] * v.z + w[r][4 * q + 3] * v.w;
            }
            sum[r] += s;
        }
    }
#pragma unroll
    for (int r = 0; r < MMV1_R; r++)
        for (int off = 16; off; off >>= 1) sum[r] += __shfl_xor_sync(0xffffffffu, sum[r], off);
    if (lane != 0) return;
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

bool cuda_mmv_fusable(const zeta_weight *w) { return w->ne0 % 32 == 0 && cuda_type_ok(w->type); }

template <int T> static void mmv1_launch(cudaStream_t s, const cuda_mmv_job *j, const float *x) {
    int items = 0;
    for (int m = 0; m < j->n_mat; m++) items += j->rows[m];
    const int warps = j->mode == CUDA_MMV_SWIGLU ? j->rows[0] : (items + MMV1_R - 1) / MMV1_R;
    const unsigned grid = (unsigned)((warps + MMV1_WARPS - 1) / MMV1_WARPS);
    if (j->mode == CUDA_MMV_SWIGLU) k_mmv1<T, CUDA_MMV_SWIGLU><<<grid, 32 * MMV1_WARPS, 0, s>>>(*j, x);
    else k_mmv1<T, CUDA_MMV_PLAIN><<<grid, 32 * MMV1_WARPS, 0, s>>>(*j, x);
}

/* ---------------------------------------------------------------- prompts: dequantize + SGEMM */

/* rows x K of W -> f32, thread per 32-element chunk (or per element for ragged float rows) */
template <int T> __global__ void k_dequant(const uint8_t *W, size_t row_bytes, int K, int rows, float *out) {
    const size_t id = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (K % 32 == 0) {
        const size_t per_row = (size_t)K / 32;
        if (id >= per_row * rows) return;
        const size_t r = id / per_row, c = id % per_row;
        float w[32];
        load32<T>(W + r * row_bytes, (int)c, w);
        float4 *o = (float4 *)(out + r * K + 32 * c);
#pragma unroll
        for (int j = 0; j < 8; j++) o[j] = make_float4(w[4 * j], w[4 * j + 1], w[4 * j + 2], w[4 * j + 3]);
    } else if (T == ZETA_TYPE_F32 || T == ZETA_TYPE_F16 || T == ZETA_TYPE_BF16) {
        if (id >= (size_t)K * rows) return;
        const size_t r = id / K, i = id % K;
        out[id] = load1<T>(W + r * row_bytes, (int)i);
    }
}

template <int T> static void dequant_launch(cudaStream_t s, const uint8_t *W, size_t row_bytes, int K, int rows, float *out) {
    const size_t items = K % 32 == 0 ? (size_t)K / 32 * rows : (size_t)K * rows;
    k_dequant<T><<<(unsigned)((items + 255) / 256), 256, 0, s>>>(W, row_bytes, K, rows, out);
}

__global__ void k_add_bias(float *y, const float *bias, int rows, int n_tok) {
    const size_t id = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (id < (size_t)rows * n_tok) y[id] += bias[id % rows];
}

#define DISPATCH(T, CALL)                                                          \
    switch (T) {                                                                   \
    case ZETA_TYPE_F32: { const int TT = ZETA_TYPE_F32; CALL; } break;             \
    case ZETA_TYPE_F16: { const int TT = ZETA_TYPE_F16; CALL; } break;             \
    case ZETA_TYPE_BF16: { const int TT = ZETA_TYPE_BF16; CALL; } break;           \
    case ZETA_TYPE_Q8_0: { const int TT = ZETA_TYPE_Q8_0; CALL; } break;           \
    case ZETA_TYPE_Q4_0: { const int TT = ZETA_TYPE_Q4_0; CALL; } break;           \
    case ZETA_TYPE_Q4_K: { const int TT = ZETA_TYPE_Q4_K; CALL; } break;           \
    case ZETA_TYPE_Q6_K: { const int TT = ZETA_TYPE_Q6_K; CALL; } break;           \
    default: return cudaErrorInvalidValue;                                         \
    }

#define MMV_MAX_TOKENS 8

cudaError_t cuda_mmv(cudaStream_t s, const cuda_mmv_job *j, const float *x) {
    if (j->K % 32 || j->n_mat < 1 || j->n_mat > 3 || (j->mode == CUDA_MMV_SWIGLU && (j->n_mat != 2 || j->rows[0] != j->rows[1])) ||
        (j->res && j->n_mat != 1))
        return cudaErrorInvalidValue;
    DISPATCH(j->type, mmv1_launch<TT>(s, j, x));
    return cudaGetLastError();
}

cudaError_t cuda_matmul(cudaStream_t s, void *blas, const zeta_weight *w, const float *bias, const float *x, int n_tok,
                        float *y, float *scratch, size_t scratch_floats, int *blas_status) {
    *blas_status = 0;
    if (n_tok <= 0) return cudaSuccess;
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
        return cuda_mmv(s, &j, x);
    }
    if (n_tok <= MMV_MAX_TOKENS || !blas || !scratch) {
        DISPATCH(w->type, mmv_launch<TT>(s, w, bias, x, n_tok, y));
        return cudaGetLastError();
    }
    const int rows = (int)w->ne1, K = (int)w->ne0;
    const float one = 1.0f, zero = 0.0f;
    cublasHandle_t h = (cublasHandle_t)blas;
    if (w->type == ZETA_TYPE_F32) {
        cublasStatus_t st = cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, rows, n_tok, K, &one, (const float *)w->dev, K, x, K, &zero, y, rows);
        if (st != CUBLAS_STATUS_SUCCESS) { *blas_status = (int)st; return cudaSuccess; }
    } else {
        int slice = (int)(scratch_floats / (size_t)K);
        if (slice < 1) return cudaErrorInvalidValue;
        if (slice > rows) slice = rows;
        for (int r0 = 0; r0 < rows; r0 += slice) {
            const int nr = rows - r0 < slice ? rows - r0 : slice;
            const uint8_t *W = (const uint8_t *)w->dev + (size_t)r0 * w->row_bytes;
            DISPATCH(w->type, dequant_launch<TT>(s, W, w->row_bytes, K, nr, scratch));
            cudaError_t e = cudaGetLastError();
            if (e != cudaSuccess) return e;
            cublasStatus_t st = cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, nr, n_tok, K, &one, scratch, K, x, K, &zero, y + r0, rows);
            if (st != CUBLAS_STATUS_SUCCESS) { *blas_status = (int)st; return cudaSuccess; }
        }
    }
    if (bias) {
        const size_t n = (size_t)rows * n_tok;
        k_add_bias<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(y, bias, rows, n_tok);
    }
    return cudaGetLastError();
}
