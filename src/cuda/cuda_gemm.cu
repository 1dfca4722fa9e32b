/* cuda_gemm.cu — the CUDA backend's products of more than MMV_MAX_TOKENS tokens that are not q4_0 /
 * q8_0 int8 tensor-core products (cuda_mmq.cu): slices of W dequantized into the session's scratch and
 * multiplied by cuBLAS on the tensor cores, in the mode tc_mode picks per weight type (one f16 GEMM
 * for the quantized types, two f16 GEMMs on the stored weights for f16, three bf16 GEMMs on the stored
 * weights for bf16, TF32 splits for f32 and
 * the q4_0 / q8_0 rows that miss the int8 kernel, f32 SGEMM with ZETA_CUDA_TF32=0). Moved out of
 * cuda_matmul.cu, which keeps the one-token and few-token products and the dispatch. */
#include "cuda/cuda_internal.cuh"
#include "cuda/cuda_dequant.cuh"

#include <cublas_v2.h>
#include <cuda_bf16.h>

/* ---------------------------------------------------------------- prompts: dequantize + SGEMM */

/* rows r0 .. r0 + nr - 1 of W (rows x K) -> f32, thread per 32-element chunk (or per element for
 * ragged float rows) */
template <int T> __global__ void k_dequant(const uint8_t *W, size_t row_bytes, int K, int rows, int r0, int nr, float *out) {
    const size_t id = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (K % 32 == 0) {
        const size_t per_row = (size_t)K / 32;
        if (id >= per_row * nr) return;
        const size_t r = id / per_row, c = id % per_row;
        float w[32];
        wload32<T>(W, row_bytes, rows, K, r0 + (int)r, (int)c, w);
        float4 *o = (float4 *)(out + r * K + 32 * c);
#pragma unroll
        for (int j = 0; j < 8; j++) o[j] = make_float4(w[4 * j], w[4 * j + 1], w[4 * j + 2], w[4 * j + 3]);
    } else if (T == ZETA_TYPE_F32 || T == ZETA_TYPE_F16 || T == ZETA_TYPE_BF16) {
        if (id >= (size_t)K * nr) return;
        const size_t r = id / K, i = id % K;
        out[id] = load1<T>(W + (r0 + r) * row_bytes, (int)i);
    }
}

template <int T>
static void dequant_launch(cudaStream_t s, const uint8_t *W, size_t row_bytes, int K, int rows, int r0, int nr, float *out) {
    const size_t items = K % 32 == 0 ? (size_t)K / 32 * nr : (size_t)K * nr;
    k_dequant<T><<<(unsigned)((items + 255) / 256), 256, 0, s>>>(W, row_bytes, K, rows, r0, nr, out);
}

/* rows r0 .. r0 + nr - 1 of W (rows x K, K % 32 == 0) -> f16 (round to nearest), thread per 32-element
 * chunk: the same values as k_dequant's, rounded to 11 significant bits (TC_H16) */
template <int T> __global__ void k_dequant_h(const uint8_t *W, size_t row_bytes, int K, int rows, int r0, int nr, __half *out) {
    const size_t id = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    const size_t per_row = (size_t)K / 32;
    if (id >= per_row * nr) return;
    const size_t r = id / per_row, c = id % per_row;
    float w[32];
    wload32<T>(W, row_bytes, rows, K, r0 + (int)r, (int)c, w);
    uint4 *o = (uint4 *)(out + r * K + 32 * c);
#pragma unroll
    for (int j = 0; j < 4; j++) {
        uint4 v;
        __half2 h;
        h = __floats2half2_rn(w[8 * j + 0], w[8 * j + 1]); v.x = *(uint32_t *)&h;
        h = __floats2half2_rn(w[8 * j + 2], w[8 * j + 3]); v.y = *(uint32_t *)&h;
        h = __floats2half2_rn(w[8 * j + 4], w[8 * j + 5]); v.z = *(uint32_t *)&h;
        h = __floats2half2_rn(w[8 * j + 6], w[8 * j + 7]); v.w = *(uint32_t *)&h;
        o[j] = v;
    }
}

template <int T>
static void dequant_h_launch(cudaStream_t s, const uint8_t *W, size_t row_bytes, int K, int rows, int r0, int nr, __half *out) {
    const size_t items = (size_t)K / 32 * nr;
    k_dequant_h<T><<<(unsigned)((items + 255) / 256), 256, 0, s>>>(W, row_bytes, K, rows, r0, nr, out);
}

/* the power-of-two scale 2^(14 - e) of token row xr (K floats) that brings its largest |x| (< 2^e)
 * under 2^14, so that no activation overflows f16's range (65504) and small ones keep their
 * significant bits; thread 0 writes *inv = 2^(e - 14), which undoes it on the product exactly. Called
 * by every thread of the block (a barrier inside). */
__device__ __forceinline__ float token_scale_f16(const float *xr, int K, float *inv) {
    float m = 0.0f;
    for (int i = threadIdx.x; i < K; i += blockDim.x) m = fmaxf(m, fabsf(xr[i]));
    for (int off = 16; off; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
    __shared__ float wm[32];
    if ((threadIdx.x & 31) == 0) wm[threadIdx.x >> 5] = m;
    __syncthreads();
    m = 0.0f;
    for (int w = 0; w < (int)(blockDim.x >> 5); w++) m = fmaxf(m, wm[w]);
    int e = 0;
    if (m > 0.0f && isfinite(m)) frexpf(m, &e); /* m < 2^e, e <= 128 */
    e = e < -100 ? -100 : e > 127 ? 127 : e;   /* the scale and its inverse stay normal floats */
    if (threadIdx.x == 0) *inv = ldexpf(1.0f, e - 14);
    return ldexpf(1.0f, 14 - e);
}

/* x (n_tok rows of K floats; block t: token t) -> f16 after token_scale_f16's scale (TC_H16) */
__global__ void k_x_f16(const float *x, int K, __half *xh, float *inv) {
    const float *xr = x + (size_t)blockIdx.x * K;
    __half *o = xh + (size_t)blockIdx.x * K;
    const float sc = token_scale_f16(xr, K, inv + blockIdx.x);
    for (int i = threadIdx.x; i < K; i += blockDim.x) o[i] = __float2half_rn(xr[i] * sc);
}

/* x -> hi + lo in f16 after the same scale: hi = f16(x s), lo = f16(x s - hi) (the difference exact in
 * f32), so hi + lo holds x s to ~22 significant bits, as a TF32 split does (TC_X16: f16 weights times
 * both, two GEMMs) */
__global__ void k_x_f16_split(const float *x, int K, __half *xh, __half *xl, float *inv) {
    const float *xr = x + (size_t)blockIdx.x * K;
    __half *oh = xh + (size_t)blockIdx.x * K, *ol = xl + (size_t)blockIdx.x * K;
    const float sc = token_scale_f16(xr, K, inv + blockIdx.x);
    for (int i = threadIdx.x; i < K; i += blockDim.x) {
        const float v = xr[i] * sc;
        const __half h = __float2half_rn(v);
        oh[i] = h;
        ol[i] = __float2half_rn(v - __half2float(h));
    }
}

/* x -> P bf16 parts (P = 2 or 3) x = p0 + p1 (+ p2): each the remainder so far rounded to bf16 (8
 * significant bits; each remainder exact in f32), so three parts hold all of f32's 24 bits and two
 * hold 16. bf16 has f32's exponent range: no scaling. Part q of element i at xb[q nx + i]. */
__global__ void k_x_bf16_split(const float *x, size_t nx, int P, __nv_bfloat16 *xb) {
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= nx) return;
    float v = x[i];
    for (int q = 0; q < P; q++) {
        const __nv_bfloat16 h = __float2bfloat16_rn(v);
        xb[q * nx + i] = h;
        v -= __bfloat162float(h);
    }
}

/* y (rows x n_tok, a token's rows contiguous) times the token's inv, plus bias */
__global__ void k_unscale_bias(float *y, const float *inv, const float *bias, int rows, int n_tok) {
    const size_t id = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (id >= (size_t)rows * n_tok) return;
    const float v = y[id] * inv[id / rows];
    y[id] = bias ? v + bias[id % rows] : v;
}

__global__ void k_add_bias(float *y, const float *bias, int rows, int n_tok) {
    const size_t id = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (id < (size_t)rows * n_tok) y[id] += bias[id % rows];
}

/* ---------------------------------------------------------------- prompts on the tensor cores: TF32 */

/* v -> hi (v rounded to TF32: 11 significant bits, low 13 bits zero) and lo = v - hi (exact in f32;
 * |lo| <= 2^-11 |v|). hi may be v itself (in place). */
__global__ void k_tf32_split(const float *v, float *hi, float *lo, size_t n) {
    const size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float x = v[i];
    uint32_t h;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(h) : "f"(x));
    hi[i] = __uint_as_float(h);
    lo[i] = x - __uint_as_float(h);
}

static cudaError_t tf32_split(cudaStream_t s, const float *v, float *hi, float *lo, size_t n) {
    k_tf32_split<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(v, hi, lo, n);
    return cudaGetLastError();
}

/* How a cuBLAS product runs (ZETA_CUDA_TF32=0: TC_F32 for every type):
 * - TC_F32: f32 SGEMM on the CUDA cores.
 * - TC_H16 (the quantized types other than q4_0 / q8_0, since 2026-11-28; ZETA_CUDA_TC_H16=0: TC_ONE
 *   for them): the dequantized weights rounded to f16 (k_dequant_h) and x rounded to f16 after a
 *   power-of-two scale per token (k_x_f16, undone exactly by k_unscale_bias), one GEMM with f32
 *   sums. f16 keeps 11 significant bits as TF32 does, so the bound is TC_ONE's; it halves the bytes
 *   of the dequantized slices and runs the tensor cores at twice TF32's rate. Weights beyond f16's
 *   range (|w| > 65504: none in any real model) would overflow to inf, not checked here
 *   (ZETA_CUDA_TC_H16=0 runs such a file with TC_ONE).
 * - TC_ONE: one TF32 GEMM (inputs read with 11 significant bits, sums in f32): each term w x within
 *   2^-10 of itself, the result within 2^-10 of sum |w x| (tests/test_cuda holds it to 2.5e-3).
 *   For the quantized types other than q4_0 / q8_0 (the K-quants, q4_1, q5_0, q5_1, iq4_nl, iq4_xs),
 *   whose CPU products round x to 8-bit blocks (Q8_K, Q8_0, Q8_1): that rounding is farther from f32
 *   than this, so the one GEMM keeps them nearer the f32 result than the CPU's own arithmetic (before
 *   2026-11-28 only q4_K / q6_K took it and the rest TC_XW: three GEMMs, ~3x the time).
 * - TC_X16 (f16 weights, since 2026-11-28 17:00; ZETA_CUDA_X16=0: TC_X): x scaled per token into f16's
 *   range and split into f16 hi + lo (k_x_f16_split), the weights as stored (no dequantized slices),
 *   two f16 GEMMs with f32 sums: f32-class as TC_X, at twice the tensor rate and a quarter of the bytes.
 * - TC_XB16 (bf16 weights, since 2026-11-29; ZETA_CUDA_B16=0: TC_X, =2: two parts): x split into three
 *   bf16 parts (k_x_bf16_split: 24 significant bits, f32's), the weights as stored, three bf16 GEMMs
 *   with f32 sums, the smallest part's first: f32-class as TC_X, without the dequantized f32 slices.
 * - TC_X: x split into hi + lo (k_tf32_split), W hi + W lo: two GEMMs. For f16 / bf16 weights, which
 *   TF32 holds exactly: the result is f32-class (each term within ~2^-21).
 * - TC_XW: W split as well, three GEMMs (W hi x hi + W hi x lo + W lo x hi; the dropped W lo x lo is
 *   under 2^-22 of a term): f32 and the q4_0 / q8_0 products that miss the int8 kernel (K not a
 *   multiple of 128), held to the CPU's result at 1e-5. */
enum { TC_F32, TC_ONE, TC_H16, TC_X16, TC_XB16, TC_X, TC_XW };

static int tc_mode(int type) {
    static int on = -1;
    if (!cuda_switch_on("ZETA_CUDA_TF32", &on)) return TC_F32;
    static int one = -1; /* ZETA_CUDA_TC_ONE=0: TC_XW for all but q4_K / q6_K, as before (A/B) */
    static int h16 = -1; /* ZETA_CUDA_TC_H16=0: TC_ONE (one TF32 GEMM) instead (A/B) */
    switch (type) {
    case ZETA_TYPE_F32: case ZETA_TYPE_Q4_0: case ZETA_TYPE_Q8_0: return TC_XW;
    case ZETA_TYPE_F16: {
        static int x16 = -1; /* ZETA_CUDA_X16=0: TC_X, as before (A/B) */
        return cuda_switch_on("ZETA_CUDA_X16", &x16) ? TC_X16 : TC_X;
    }
    case ZETA_TYPE_BF16: {
        static int b16 = -1; /* ZETA_CUDA_B16=0: TC_X, as before (A/B) */
        return cuda_switch_on("ZETA_CUDA_B16", &b16) ? TC_XB16 : TC_X;
    }
    case ZETA_TYPE_Q4_K: case ZETA_TYPE_Q6_K: return cuda_switch_on("ZETA_CUDA_TC_H16", &h16) ? TC_H16 : TC_ONE;
    default:
        if (!cuda_switch_on("ZETA_CUDA_TC_ONE", &one)) return TC_XW;
        return cuda_switch_on("ZETA_CUDA_TC_H16", &h16) ? TC_H16 : TC_ONE;
    }
}

static cublasStatus_t gemm(cublasHandle_t h, cublasComputeType_t ct, int nr, int n_tok, int K, const float *W, const float *x,
                           float beta, float *y, int ldy) {
    const float one = 1.0f;
    return cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, nr, n_tok, K, &one, W, CUDA_R_32F, K, x, CUDA_R_32F, K, &beta, y, CUDA_R_32F,
                        ldy, ct, CUBLAS_GEMM_DEFAULT);
}

/* y (ldy a token) = W (nr x K, row-major f32; W_lo: its TF32 remainder or NULL) times x (hi, lo: K x
 * n_tok; lo NULL: x alone) */
static cublasStatus_t gemm_tc(cublasHandle_t h, int mode, int nr, int n_tok, int K, const float *W, const float *W_lo, const float *x,
                              const float *x_lo, float *y, int ldy) {
    const cublasComputeType_t ct = mode == TC_F32 ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_TF32;
    cublasStatus_t st = gemm(h, ct, nr, n_tok, K, W, x, 0.0f, y, ldy);
    if (st == CUBLAS_STATUS_SUCCESS && x_lo) st = gemm(h, ct, nr, n_tok, K, W, x_lo, 1.0f, y, ldy);
    if (st == CUBLAS_STATUS_SUCCESS && W_lo) st = gemm(h, ct, nr, n_tok, K, W_lo, x, 1.0f, y, ldy);
    return st;
}

cudaError_t cuda_gemm_prompt(cudaStream_t s, void *blas, const zeta_weight *w, const float *bias, const float *x, int n_tok,
                             float *y, const cuda_mm_scratch *sc, int *blas_status) {
    float *scratch = sc->deq;
    const size_t scratch_floats = sc->deq_floats;
    const int rows = (int)w->ne1, K = (int)w->ne0;
    cublasHandle_t h = (cublasHandle_t)blas;
    int mode = tc_mode((int)w->type);
    const size_t nx = (size_t)n_tok * K;
    if (mode == TC_XB16 && (!sc->xs || sc->xs_floats < 2 * nx || K % 8 || w->row_bytes != (size_t)K * 2)) mode = TC_X;
    if (mode >= TC_X && (!sc->xs || sc->xs_floats < 2 * nx)) mode = TC_F32; /* no room to split x: exact f32 */
    if (mode == TC_H16 && (!sc->xs || sc->xs_floats < nx / 2 + 64 + (size_t)n_tok || K % 32)) mode = TC_ONE;
    if (mode == TC_X16 && (!sc->xs || sc->xs_floats < nx + 64 + (size_t)n_tok || K % 8 || w->row_bytes != (size_t)K * 2)) mode = TC_X;
    if (mode == TC_XB16) {
        /* xs: the parts of x (nx bf16 each); ZETA_CUDA_B16=2: two parts (16 bits, A/B) */
        static const int parts = [] {
            const char *e = getenv("ZETA_CUDA_B16");
            return e && !strcmp(e, "2") ? 2 : 3;
        }();
        __nv_bfloat16 *xb = (__nv_bfloat16 *)sc->xs;
        k_x_bf16_split<<<(unsigned)((nx + 255) / 256), 256, 0, s>>>(x, nx, parts, xb);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) return e;
        const float one = 1.0f, zero = 0.0f;
        const __nv_bfloat16 *W = (const __nv_bfloat16 *)w->dev;
        cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
        for (int q = parts - 1; q >= 0 && st == CUBLAS_STATUS_SUCCESS; q--)
            st = cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, rows, n_tok, K, &one, W, CUDA_R_16BF, K, xb + (size_t)q * nx, CUDA_R_16BF, K,
                              q == parts - 1 ? &zero : &one, y, CUDA_R_32F, rows, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        if (st != CUBLAS_STATUS_SUCCESS) { *blas_status = (int)st; return cudaSuccess; }
        if (bias) {
            const size_t n = (size_t)rows * n_tok;
            k_add_bias<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(y, bias, rows, n_tok);
        }
        return cudaGetLastError();
    }
    if (mode == TC_X16) {
        /* xs: hi (nx halves), lo (nx halves), then the tokens' inverse scales at a 256-byte boundary */
        __half *xh = (__half *)sc->xs, *xl = xh + nx;
        float *inv = sc->xs + (nx + 63) / 64 * 64;
        k_x_f16_split<<<(unsigned)n_tok, 256, 0, s>>>(x, K, xh, xl, inv);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) return e;
        const float one = 1.0f, zero = 0.0f;
        const __half *W = (const __half *)w->dev;
        cublasStatus_t st = cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, rows, n_tok, K, &one, W, CUDA_R_16F, K, xh, CUDA_R_16F, K, &zero,
                                         y, CUDA_R_32F, rows, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        if (st == CUBLAS_STATUS_SUCCESS)
            st = cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, rows, n_tok, K, &one, W, CUDA_R_16F, K, xl, CUDA_R_16F, K, &one, y, CUDA_R_32F,
                              rows, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        if (st != CUBLAS_STATUS_SUCCESS) { *blas_status = (int)st; return cudaSuccess; }
        const size_t n = (size_t)rows * n_tok;
        k_unscale_bias<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(y, inv, bias, rows, n_tok);
        return cudaGetLastError();
    }
    if (mode == TC_H16) {
        /* xs: x in f16 (nx halves), then the tokens' inverse scales at a 256-byte boundary */
        __half *xh = (__half *)sc->xs;
        float *inv = sc->xs + (nx / 2 + 63) / 64 * 64;
        k_x_f16<<<(unsigned)n_tok, 256, 0, s>>>(x, K, xh, inv);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) return e;
        __half *wh = (__half *)scratch;
        int slice = (int)(2 * scratch_floats / (size_t)K);
        if (slice < 1) return cudaErrorInvalidValue;
        if (slice > rows) slice = rows;
        const float one = 1.0f, zero = 0.0f;
        for (int r0 = 0; r0 < rows; r0 += slice) {
            const int nr = rows - r0 < slice ? rows - r0 : slice;
            DISPATCH(w->type, dequant_h_launch<TT>(s, (const uint8_t *)w->dev, w->row_bytes, K, rows, r0, nr, wh));
            if ((e = cudaGetLastError()) != cudaSuccess) return e;
            cublasStatus_t st = cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, nr, n_tok, K, &one, wh, CUDA_R_16F, K, xh, CUDA_R_16F, K, &zero,
                                             y + r0, CUDA_R_32F, rows, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            if (st != CUBLAS_STATUS_SUCCESS) { *blas_status = (int)st; return cudaSuccess; }
        }
        const size_t n = (size_t)rows * n_tok;
        k_unscale_bias<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(y, inv, bias, rows, n_tok);
        return cudaGetLastError();
    }
    const float *x_lo = NULL;
    if (mode >= TC_X) {
        cudaError_t e = tf32_split(s, x, sc->xs, sc->xs + nx, nx);
        if (e != cudaSuccess) return e;
        x = sc->xs;
        x_lo = sc->xs + nx;
    }
    if (w->type == ZETA_TYPE_F32 && mode != TC_XW) {
        cublasStatus_t st = gemm_tc(h, mode, rows, n_tok, K, (const float *)w->dev, NULL, x, x_lo, y, rows);
        if (st != CUBLAS_STATUS_SUCCESS) { *blas_status = (int)st; return cudaSuccess; }
    } else {
        /* a slice of rows dequantized into the scratch (TC_XW: its TF32 part there, the rest after it) */
        const int parts = mode == TC_XW ? 2 : 1;
        int slice = (int)(scratch_floats / ((size_t)K * parts));
        if (slice < 1) return cudaErrorInvalidValue;
        if (slice > rows) slice = rows;
        for (int r0 = 0; r0 < rows; r0 += slice) {
            const int nr = rows - r0 < slice ? rows - r0 : slice;
            DISPATCH(w->type, dequant_launch<TT>(s, (const uint8_t *)w->dev, w->row_bytes, K, rows, r0, nr, scratch));
            cudaError_t e = cudaGetLastError();
            if (e != cudaSuccess) return e;
            float *W_lo = NULL;
            if (mode == TC_XW) {
                W_lo = scratch + (size_t)nr * K;
                if ((e = tf32_split(s, scratch, scratch, W_lo, (size_t)nr * K)) != cudaSuccess) return e;
            }
            cublasStatus_t st = gemm_tc(h, mode, nr, n_tok, K, scratch, W_lo, x, x_lo, y + r0, rows);
            if (st != CUBLAS_STATUS_SUCCESS) { *blas_status = (int)st; return cudaSuccess; }
        }
    }
    if (bias) {
        const size_t n = (size_t)rows * n_tok;
        k_add_bias<<<(unsigned)((n + 255) / 256), 256, 0, s>>>(y, bias, rows, n_tok);
    }
    return cudaGetLastError();
}
