/* cuda_kernels.cu — the CUDA backend's element-wise kernels and attention: RMSNorm, RoPE (normal
 * and NeoX, frequency factors, YaRN, as cpu_rope_rows computes the angles), SwiGLU, residual add,
 * the f16 KV cache store and context-shift move, and attention with an online softmax whose long
 * decodes are split over blocks and merged (flash-decoding); one-token attention scores a position
 * per lane and can store the new K/V row itself, and RoPE and attention can read the position from
 * device memory (decode steps replayed as CUDA graphs, cuda_exec.cu). */
#include "cuda/cuda_internal.cuh"

#include <float.h>
#include <math.h>

static inline unsigned cdiv(size_t a, size_t b) { return (unsigned)((a + b - 1) / b); }

/* ---------------------------------------------------------------- RMSNorm */

/* one block per row; squares summed in double like the CPU reference */
/* RMSNorm, sum of squares in double (as the CPU). Block (g, row), 256 threads: every block of a
 * row sums the whole row in the same order (thread t: elements t, t + 256, ... in sequence, then the
 * warps' shuffles, then the 8 warp sums in order), so all agree on the scale, and block g writes
 * slices g, g + G, ... of 256 outputs. One row (decode) is spread over n / 256 blocks; a batch of
 * rows takes one block a row. Q8: the output is also rounded to q8_0 blocks into xq (n % 32 == 0;
 * warp w of a slice holds its block w). */
#define RMS_THREADS 256

/* the RMSNorm scale 1 / sqrt(mean(x^2) + eps) of a row, computed by a block of RMS_THREADS threads
 * in one fixed order (every block of a row gets the same bits); the thread's own element `mine` (-1:
 * none) is kept in *xm on the way */
__device__ __forceinline__ float rms_scale(const float *xr, int n, float eps, int mine, float *xm) {
    const int tid = threadIdx.x;
    double s = 0.0;
#pragma unroll 8
    for (int i = tid; i < n; i += RMS_THREADS) {
        const float v = xr[i];
        if (i == mine) *xm = v;
        s += (double)__fmul_rn(v, v);
    }
    for (int off = 16; off; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
    __shared__ double part[RMS_THREADS / 32];
    if ((tid & 31) == 0) part[tid >> 5] = s;
    __syncthreads();
    double tot = 0.0;
#pragma unroll
    for (int w = 0; w < RMS_THREADS / 32; w++) tot += part[w];
    const float mean = (float)(tot / (double)n);
    return 1.0f / sqrtf(mean + eps);
}

template <bool Q8>
__global__ void k_rmsnorm(const float *x, const float *g, int n, float eps, float *out, uint8_t *xq, cuda_sparse_round sr, int keep) {
    const int tid = threadIdx.x;
    /* keep (one row, one output a thread: gridDim.x * RMS_THREADS >= n): the thread's output
     * element is kept from the sum's pass, and its weight loaded before the wait */
    const int mine = keep ? (int)(blockIdx.x * RMS_THREADS) + tid : -1;
    const float gm = mine >= 0 && mine < n ? g[mine] : 0.0f;
    float xm = 0.0f;
    if (Q8) {
        pdl_trigger(); /* the product that reads xq may start loading its weights */
        pdl_wait();    /* launched with PDL (cuda_pdl_chain): x is complete */
    }
    const float *xr = x + (size_t)blockIdx.y * n;
    float *o = out + (size_t)blockIdx.y * n;
    const float scale = rms_scale(xr, n, eps, mine, &xm);
    for (int i = blockIdx.x * RMS_THREADS + tid; i - tid < n; i += gridDim.x * RMS_THREADS) {
        if (i >= n) continue; /* Q8: n % 32 == 0, so whole warps skip together */
        const float v = keep ? __fmul_rn(__fmul_rn(xm, scale), gm) : __fmul_rn(__fmul_rn(xr[i], scale), g[i]);
        o[i] = v;
        if (Q8) q8_store(v, xq, n, i / 32, sr.stat ? &sr : nullptr);
    }
}

cudaError_t cuda_rmsnorm_q8(cudaStream_t s, const float *x, const float *g, int n, float eps, float *out, uint8_t *xq,
                            const cuda_sparse_round *sr) {
    if (n % 32) return cudaErrorInvalidValue;
    cuda_sparse_round r;
    if (sr) r = *sr;
    else memset(&r, 0, sizeof r);
    static int keep = -1; /* ZETA_CUDA_RMS_KEEP=0: each output element loaded again (A/B) */
    cuda_switch_on("ZETA_CUDA_RMS_KEEP", &keep);
    return cuda_launch(cuda_pdl_chain(), k_rmsnorm<true>, dim3((n + RMS_THREADS - 1) / RMS_THREADS, 1), dim3(RMS_THREADS), 0, s, x, g, n,
                       eps, out, xq, r, keep);
}

/* RMSNorm of one row whose output also goes to xq rounded to Q8_K (k_quant_q8K's layout and
 * arithmetic: the q4_K / q5_K / q6_K products next read it, cuda_mmvk8_launch with xq_ready). n %
 * 256 == 0 and a block of 256 threads a super-block, thread t its element 256 b + t: the sum of
 * squares as k_rmsnorm's (every block the whole row in the same order, so the same scale), then the
 * block's element of largest magnitude (the first of equals: the same element k_quant_q8K picks),
 * iscale = -127 / max, code = min(127, nearest_int(iscale * v)), the 16-code group sums, d = 1 / iscale. */
__global__ void k_rmsnorm_q8K(const float *x, const float *g, int n, float eps, float *out, uint8_t *xq) {
    const int tid = threadIdx.x, lane = tid & 31, i = (int)blockIdx.x * RMS_THREADS + tid;
    const float gm = g[i];
    pdl_trigger(); /* the product that reads xq may start loading its weights */
    pdl_wait();    /* launched with PDL (cuda_pdl_chain): x is complete */
    float xm = 0.0f;
    const float scale = rms_scale(x, n, eps, i, &xm); /* k_rmsnorm's steps: the same scale */
    __shared__ float wa[RMS_THREADS / 32], wm[RMS_THREADS / 32];
    const float v = __fmul_rn(__fmul_rn(xm, scale), gm);
    out[i] = v;
    float amax = 0.0f, mx = 0.0f; /* as k_quant_q8K starts: a NaN is never the largest */
    int at = 0x7fffffff;
    if (fabsf(v) > amax) {
        amax = fabsf(v);
        mx = v;
        at = tid;
    }
    warp_absmax_first(amax, mx, at); /* the largest magnitude; of equals, the first */
    if (lane == 0) {
        wa[tid >> 5] = amax;
        wm[tid >> 5] = mx;
    }
    __syncthreads();
    amax = wa[0];
    mx = wm[0];
#pragma unroll
    for (int w = 1; w < RMS_THREADS / 32; w++) /* warps in index order: a later one only if strictly larger */
        if (wa[w] > amax) {
            amax = wa[w];
            mx = wm[w];
        }
    const int b = (int)blockIdx.x;
    int8_t *codes = (int8_t *)xq + (size_t)RMS_THREADS * b;
    int16_t *bs = (int16_t *)(xq + n) + 16 * b;
    float *dd = (float *)(xq + n + n / 8);
    if (amax == 0.0f) {
        codes[tid] = 0;
        if (tid < 16) bs[tid] = 0;
        if (tid == 0) dd[b] = 0.0f;
        return;
    }
    const float iscale = __fdiv_rn(-127.0f, mx);
    const int nq = (int)(__float_as_uint(__fadd_rn(__fmul_rn(iscale, v), 12582912.0f)) & 0x007fffffu) - 0x00400000;
    const int q = nq < 127 ? nq : 127;
    codes[tid] = (int8_t)q;
    int gs = q;
#pragma unroll
    for (int off = 1; off < 16; off <<= 1) gs += __shfl_xor_sync(0xffffffffu, gs, off);
    if ((tid & 15) == 0) bs[tid >> 4] = (int16_t)gs;
    if (tid == 0) dd[b] = __fdiv_rn(1.0f, iscale);
}

cudaError_t cuda_rmsnorm_q8K(cudaStream_t s, const float *x, const float *g, int n, float eps, float *out, uint8_t *xq) {
    if (n % 256) return cudaErrorInvalidValue;
    return cuda_launch(cuda_pdl_chain(), k_rmsnorm_q8K, dim3(n / RMS_THREADS), dim3(RMS_THREADS), 0, s, x, g, n, eps, out, xq);
}

/* for tests (cuda_backend.h): one row through k_rmsnorm_q8K, and the same row through k_rmsnorm then
 * k_quant_q8K (what each product did before), on the default stream in memory of its own */
extern "C" zeta_status cuda_test_rmsnorm_q8K(const float *x, const float *g, int n, float eps, float *out, uint8_t *fused, uint8_t *ref,
                                             zeta_error *err) {
    float *dx = NULL, *dg = NULL, *dout = NULL, *dout2 = NULL;
    uint8_t *dq = NULL, *dq2 = NULL;
    const size_t nq = cuda_xq_bytes(n);
    cudaError_t e = cudaSuccess;
    const char *what = "allocating";
    if ((e = cudaMalloc(&dx, n * sizeof(float))) != cudaSuccess || (e = cudaMalloc(&dg, n * sizeof(float))) != cudaSuccess ||
        (e = cudaMalloc(&dout, n * sizeof(float))) != cudaSuccess || (e = cudaMalloc(&dout2, n * sizeof(float))) != cudaSuccess ||
        (e = cudaMalloc(&dq, nq)) != cudaSuccess || (e = cudaMalloc(&dq2, nq)) != cudaSuccess)
        goto done;
    what = "running";
    if ((e = cudaMemcpy(dx, x, n * sizeof(float), cudaMemcpyHostToDevice)) != cudaSuccess ||
        (e = cudaMemcpy(dg, g, n * sizeof(float), cudaMemcpyHostToDevice)) != cudaSuccess || (e = cudaMemset(dq, 0xa5, nq)) != cudaSuccess ||
        (e = cudaMemset(dq2, 0x5a, nq)) != cudaSuccess || (e = cuda_rmsnorm_q8K(0, dx, dg, n, eps, dout, dq)) != cudaSuccess ||
        (e = cuda_rmsnorm(0, dx, dg, n, eps, 1, dout2)) != cudaSuccess || (e = cuda_quant_q8K(0, dout2, n, dq2)) != cudaSuccess ||
        (e = cudaDeviceSynchronize()) != cudaSuccess || (e = cudaMemcpy(out, dout, n * sizeof(float), cudaMemcpyDeviceToHost)) != cudaSuccess ||
        (e = cudaMemcpy(fused, dq, (size_t)n + n / 8 + n / 64, cudaMemcpyDeviceToHost)) != cudaSuccess ||
        (e = cudaMemcpy(ref, dq2, (size_t)n + n / 8 + n / 64, cudaMemcpyDeviceToHost)) != cudaSuccess)
        goto done;
done:
    cudaFree(dx); cudaFree(dg); cudaFree(dout); cudaFree(dout2); cudaFree(dq); cudaFree(dq2);
    if (e != cudaSuccess) return cuda_fail(err, e, what);
    return ZETA_OK;
}

cudaError_t cuda_rmsnorm(cudaStream_t s, const float *x, const float *g, int n, float eps, int n_rows, float *out) {
    if (n_rows <= 0) return cudaSuccess;
    const unsigned gx = n_rows == 1 ? (unsigned)((n + RMS_THREADS - 1) / RMS_THREADS) : 1;
    cuda_sparse_round none;
    memset(&none, 0, sizeof none);
    k_rmsnorm<false><<<dim3(gx, n_rows), RMS_THREADS, 0, s>>>(x, g, n, eps, out, NULL, none, 0);
    return cudaGetLastError();
}

/* ---------------------------------------------------------------- RoPE */

cuda_rope_args cuda_rope_args_make(const zeta_rope_params *rp) {
    cuda_rope_args a;
    memset(&a, 0, sizeof a);
    a.n_rot = (int)rp->n_rot;
    a.neox = rp->mode == ZETA_ROPE_NEOX;
    a.theta_scale = powf(rp->base, -2.0f / (float)rp->n_rot); /* host powf: the CPU's value */
    a.freq_scale = rp->freq_scale;
    a.ext_factor = rp->ext_factor;
    a.mscale = rp->mscale;
    a.corr0 = rp->corr_dims[0];
    a.corr1 = rp->corr_dims[1];
    if (rp->freq_factors && rp->n_rot / 2 <= 512) {
        a.has_ff = 1;
        memcpy(a.ff, rp->freq_factors, sizeof(float) * (rp->n_rot / 2));
    }
    return a;
}

/* block per (token, head of x then of x2), thread per rotated pair (the angle is recomputed per
 * head: the same float operations, so the same values, with all heads in parallel) */
__global__ void k_rope(float *x, int n_heads, float *x2, int n_heads2, int head_dim, int64_t pos0, const uint32_t *pos_dev,
                       cuda_rope_args a) {
    const int t = blockIdx.x, h = blockIdx.y, i = threadIdx.x;
    if (i >= a.n_rot / 2) return;
    const int64_t p0 = pos_dev ? (int64_t)*pos_dev : pos0;
    float c, s;
    rope_cs(a, i, (float)(p0 + t), &c, &s);
    if (h < n_heads) rope_pair(x + ((size_t)t * n_heads + h) * head_dim, a, i, c, s);
    else rope_pair(x2 + ((size_t)t * n_heads2 + (h - n_heads)) * head_dim, a, i, c, s);
}

cudaError_t cuda_rope2(cudaStream_t s, float *x, int n_heads, float *x2, int n_heads2, int n_tok, int head_dim, int64_t pos0,
                       const uint32_t *pos_dev, const cuda_rope_args *a) {
    if (n_tok <= 0 || a->n_rot < 2) return cudaSuccess;
    if (!x2) n_heads2 = 0;
    k_rope<<<dim3(n_tok, n_heads + n_heads2), (a->n_rot / 2 + 31) / 32 * 32, 0, s>>>(x, n_heads, x2, n_heads2, head_dim, pos0, pos_dev, *a);
    return cudaGetLastError();
}

cudaError_t cuda_rope(cudaStream_t s, float *x, int n_tok, int n_heads, int head_dim, int64_t pos0, const cuda_rope_args *a) {
    return cuda_rope2(s, x, n_heads, NULL, 0, n_tok, head_dim, pos0, NULL, a);
}

/* ---------------------------------------------------------------- SwiGLU, add */

__global__ void k_swiglu(const float *g, const float *u, size_t n, float *out) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const float v = g[i];
        out[i] = silu_mul(v, u[i]);
    }
}

__global__ void k_add(float *x, const float *y, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) x[i] += y[i];
}

static unsigned grid_for(size_t n) {
    unsigned b = cdiv(n, 256);
    return b < 1 ? 1 : b > 65535 ? 65535 : b;
}

cudaError_t cuda_swiglu(cudaStream_t s, const float *g, const float *u, size_t n, float *out) {
    if (!n) return cudaSuccess;
    k_swiglu<<<grid_for(n), 256, 0, s>>>(g, u, n, out);
    return cudaGetLastError();
}

cudaError_t cuda_add(cudaStream_t s, float *x, const float *y, size_t n) {
    if (!n) return cudaSuccess;
    k_add<<<grid_for(n), 256, 0, s>>>(x, y, n);
    return cudaGetLastError();
}

/* ---------------------------------------------------------------- the logits' entropy */

/* H = log S - (1/S) sum e_i d_i, d_i = l_i - max (NaN skipped, +inf as FLT_MAX, d clamped at -128
 * where expf is already 0, so -inf adds nothing), e_i = exp(d_i): each thread's terms in float in
 * index order, the block's 1024 partial sums added in double in a fixed tree. */
#define ENT_THREADS 1024
__global__ void __launch_bounds__(ENT_THREADS) k_entropy(const float *x, int n, float *out) {
    __shared__ float wm[ENT_THREADS / 32];
    __shared__ double ws[ENT_THREADS / 32], wsd[ENT_THREADS / 32];
    const int t = threadIdx.x, lane = t & 31, w = t >> 5;
    float m = -INFINITY;
    for (int i = t; i < n; i += ENT_THREADS) {
        const float v = x[i];
        if (v > m) m = v; /* NaN never compares greater */
    }
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    if (lane == 0) wm[w] = m;
    __syncthreads();
    m = wm[0];
    for (int k = 1; k < ENT_THREADS / 32; k++) m = fmaxf(m, wm[k]);
    if (m == -INFINITY) { /* no finite logit or all -inf */
        if (t == 0) *out = 0.0f;
        return;
    }
    if (m == INFINITY) m = FLT_MAX;
    float s = 0.0f, sd = 0.0f;
    for (int i = t; i < n; i += ENT_THREADS) {
        float v = x[i];
        if (v != v) continue;
        if (v == INFINITY) v = FLT_MAX;
        const float d = fmaxf(v - m, -128.0f);
        const float e = expf(d);
        s += e;
        sd += e * d;
    }
    double S = s, SD = sd;
    for (int o = 16; o > 0; o >>= 1) {
        S += __shfl_xor_sync(0xffffffffu, S, o);
        SD += __shfl_xor_sync(0xffffffffu, SD, o);
    }
    if (lane == 0) ws[w] = S, wsd[w] = SD;
    __syncthreads();
    if (t == 0) {
        S = 0.0;
        SD = 0.0;
        for (int k = 0; k < ENT_THREADS / 32; k++) S += ws[k], SD += wsd[k];
        const double h = log(S) - SD / S;
        *out = h > 0.0 ? (float)h : 0.0f;
    }
}

cudaError_t cuda_entropy(cudaStream_t s, const float *x, int n, float *out) {
    if (n <= 0) return cudaErrorInvalidValue;
    k_entropy<<<1, ENT_THREADS, 0, s>>>(x, n, out);
    return cudaGetLastError();
}

/* ---------------------------------------------------------------- KV cache */

/* f32 rows -> f16 cache rows (round to nearest even, as zeta_f32_to_f16) */
__global__ void k_store_f16(const float *src, __half *dst, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2half_rn(src[i]);
}

/* block per position: rotate its keys by delta (angles of position delta, step 0) and move K, V */
__global__ void k_kv_move(const __half *Ks, __half *Kd, const __half *Vs, __half *Vd, int n_head_kv, int dk, int dv, float delta,
                          cuda_rope_args a) {
    const size_t p = blockIdx.x;
    const __half *ks = Ks + p * n_head_kv * dk;
    __half *kd = Kd + p * n_head_kv * dk;
    extern __shared__ float row[]; /* n_head_kv * dk */
    for (int i = threadIdx.x; i < n_head_kv * dk; i += blockDim.x) row[i] = __half2float(ks[i]);
    __syncthreads();
    const int half = a.n_rot / 2;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        float c, s;
        rope_cs(a, i, delta, &c, &s);
        for (int h = 0; h < n_head_kv; h++) rope_pair(row + (size_t)h * dk, a, i, c, s);
    }
    __syncthreads();
    for (int i = threadIdx.x; i < n_head_kv * dk; i += blockDim.x) kd[i] = __float2half_rn(row[i]);
    for (int i = threadIdx.x; i < n_head_kv * dv; i += blockDim.x) Vd[p * n_head_kv * dv + i] = Vs[p * n_head_kv * dv + i];
}

cudaError_t cuda_kv_move(cudaStream_t s, __half *K, __half *V, uint32_t from, uint32_t to, uint32_t n_pos, int n_head_kv, int dk,
                         int dv, int32_t delta, const cuda_rope_args *a) {
    if (!n_pos) return cudaSuccess;
    const size_t kr = (size_t)n_head_kv * dk, vr = (size_t)n_head_kv * dv;
    k_kv_move<<<n_pos, 128, sizeof(float) * kr, s>>>(K + from * kr, K + to * kr, V + from * vr, V + to * vr, n_head_kv, dk, dv,
                                                     (float)delta, *a);
    return cudaGetLastError();
}

/* ---------------------------------------------------------------- attention */

#define ATT_WARPS 4
#define ATT_MAX_DV 256 /* 8 accumulators per lane */
#define ATT_MAX_SPLIT 32

/* the end of a block of the attention kernels, after each warp stored its accumulators (warp k's
 * value i at sacc[k * dv + i]) and its m, l (sm[k], sl[k]) and a barrier: the warps merged, then the
 * normalized output row (and its 8-bit rounding into a.xq) with one slice, else the slice's
 * partials (acc, m, l) */
__device__ __forceinline__ void attn_block_out(const float *sacc, const float *sm, const float *sl, int dv, size_t row, int n_split,
                                               int sp, const cuda_attn_args &a, float *out, float *part) {
    float M = -INFINITY;
    for (int k = 0; k < ATT_WARPS; k++) M = fmaxf(M, sm[k]);
    float L = 0.0f, f[ATT_WARPS];
    for (int k = 0; k < ATT_WARPS; k++) {
        f[k] = sl[k] > 0.0f ? expf(sm[k] - M) : 0.0f;
        L += sl[k] * f[k];
    }
    for (int i = threadIdx.x; i < dv; i += blockDim.x) {
        float A = 0.0f;
        for (int k = 0; k < ATT_WARPS; k++) A += sacc[k * dv + i] * f[k];
        if (n_split == 1) {
            out[row * dv + i] = A / L;
            if (a.xq) /* dv % 32 == 0: warp-uniform */
                q8_store(A / L, a.xq, a.n_head * dv, (int)((row * dv + i) / 32), a.xq_sparse.stat ? &a.xq_sparse : nullptr);
        } else {
            part[(row * n_split + sp) * (dv + 2) + i] = A;
        }
    }
    if (n_split > 1 && threadIdx.x == 0) {
        part[(row * n_split + sp) * (dv + 2) + dv] = M;
        part[(row * n_split + sp) * (dv + 2) + dv + 1] = L;
    }
}

/* grid (n_head, n_tok, n_split): block = one query head of one token over one slice of its
 * positions 0..pos0+t. Each warp walks every ATT_WARPS-th position of the slice: q . k reduced
 * across the warp, online softmax (running max m, sum l), acc += p v with dv/32 values per lane;
 * then the warps are merged. One slice: the normalized output; several: (acc, m, l) partials. */
template <bool DEC>
__global__ void k_attn(const float *q, __half *K, __half *V, const float *knew, const float *vnew, float *out, float *part,
                       cuda_attn_args a, int n_split) {
    if (a.xq) pdl_trigger(); /* the product that reads xq may start loading its weights */
    const int h = blockIdx.x, t = blockIdx.y, sp = blockIdx.z;
    const int hk = h / (a.n_head / a.n_head_kv);
    const uint32_t pos0 = a.pos_dev ? *a.pos_dev : a.pos0;
    const int n_kv = (int)pos0 + t + 1;
    const int chunk = (n_kv + n_split - 1) / n_split;
    const int p0 = sp * chunk, p1 = min(n_kv, p0 + chunk);
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    extern __shared__ float sh[]; /* q: dk | per warp acc: ATT_WARPS * dv | m, l: 2 * ATT_WARPS | fused: new k, v (halves) */
    float *sq = sh, *sacc = sh + a.dk, *sm = sacc + ATT_WARPS * a.dv, *sl = sm + ATT_WARPS;
    __half *snk = (__half *)(sl + ATT_WARPS), *snv = snk + a.dk;
    const float *qr = q + ((size_t)t * a.n_head + h) * a.dk;
    for (int i = threadIdx.x; i < a.dk; i += blockDim.x) sq[i] = qr[i];
    const size_t ks = (size_t)a.n_head_kv * a.dk, vs = (size_t)a.n_head_kv * a.dv;
    if (a.fuse_store) { /* decode: the new position's row, as the cache will hold it */
        const bool writer = h % (a.n_head / a.n_head_kv) == 0 && sp == 0;
        for (int i = threadIdx.x; i < a.dk; i += blockDim.x) {
            snk[i] = __float2half_rn(knew[(size_t)hk * a.dk + i]);
            if (writer) K[(size_t)pos0 * ks + (size_t)hk * a.dk + i] = snk[i];
        }
        for (int i = threadIdx.x; i < a.dv; i += blockDim.x) {
            snv[i] = __float2half_rn(vnew[(size_t)hk * a.dv + i]);
            if (writer) V[(size_t)pos0 * vs + (size_t)hk * a.dv + i] = snv[i];
        }
    }
    __syncthreads();
    float m = -INFINITY, l = 0.0f, acc[ATT_MAX_DV / 32];
#pragma unroll
    for (int j = 0; j < ATT_MAX_DV / 32; j++) acc[j] = 0.0f;
    if (DEC) {
        /* decode (one query row, dk % 8 == 0): the block walks tiles of 128 positions; in each, lane
         * j of warp w scores position base + w + 4 j (16-byte K loads; the warps share short
         * contexts), one online-softmax update per tile, then the warp's V rows are accumulated with
         * the probabilities broadcast from their lanes */
        for (int base = p0; base < p1; base += 32 * ATT_WARPS) {
            if (base + w >= p1) break; /* warp-uniform: no position of this tile for this warp */
            const int p = base + w + 4 * lane;
            float sc = -INFINITY;
            if (p < p1) {
                const bool fresh = a.fuse_store && p == n_kv - 1;
                const __half *kr = fresh ? snk : K + (size_t)p * ks + (size_t)hk * a.dk;
                float d = 0.0f;
                for (int i = 0; i < a.dk; i += 8) {
                    const uint4 u = *(const uint4 *)(kr + i);
                    const __half2 *h2 = (const __half2 *)&u;
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const float2 f = __half22float2(h2[e]);
                        d += sq[i + 2 * e] * f.x + sq[i + 2 * e + 1] * f.y;
                    }
                }
                sc = d * a.scale;
            }
            float corr;
            const float pr = attn_tile_softmax(sc, p < p1, m, l, &corr);
#pragma unroll
            for (int j = 0; j < ATT_MAX_DV / 32; j++) acc[j] *= corr;
            /* this warp's valid positions of the tile are base + w + 4 jj, jj < nv */
            const int nv = min(32, (p1 - base - w + 3) / 4);
#pragma unroll 4
            for (int jj = 0; jj < nv; jj++) {
                const float pj = __shfl_sync(0xffffffffu, pr, jj);
                const int pp = base + w + 4 * jj;
                const __half *vr = a.fuse_store && pp == n_kv - 1 ? snv : V + (size_t)pp * vs + (size_t)hk * a.dv;
#pragma unroll
                for (int j = 0; j < ATT_MAX_DV / 32; j++) {
                    const int i = lane + 32 * j;
                    if (i < a.dv) acc[j] += pj * __half2float(vr[i]);
                }
            }
        }
    } else
    for (int p = p0 + w; p < p1; p += ATT_WARPS) {
        const bool fresh = a.fuse_store && p == n_kv - 1;
        const __half *kr = fresh ? snk : K + (size_t)p * ks + (size_t)hk * a.dk;
        float d = 0.0f;
        for (int i = lane; i < a.dk; i += 32) d += sq[i] * __half2float(kr[i]);
        for (int off = 16; off; off >>= 1) d += __shfl_xor_sync(0xffffffffu, d, off);
        const float sc = d * a.scale;
        const float mn = fmaxf(m, sc);
        const float corr = expf(m - mn), pr = expf(sc - mn);
        l = l * corr + pr;
        const __half *vr = fresh ? snv : V + (size_t)p * vs + (size_t)hk * a.dv;
#pragma unroll
        for (int j = 0; j < ATT_MAX_DV / 32; j++) {
            const int i = lane + 32 * j;
            if (i < a.dv) acc[j] = acc[j] * corr + pr * __half2float(vr[i]);
        }
        m = mn;
    }
#pragma unroll
    for (int j = 0; j < ATT_MAX_DV / 32; j++) {
        const int i = lane + 32 * j;
        if (i < a.dv) sacc[w * a.dv + i] = acc[j];
    }
    if (lane == 0) { sm[w] = m; sl[w] = l; }
    __syncthreads();
    attn_block_out(sacc, sm, sl, a.dv, (size_t)t * a.n_head + h, n_split, sp, a, out, part);
}

/* Decode attention for head size D (64 or 128; dk == dv == D), the KV store fused (a.fuse_store),
 * as k_attn<true> computes it with the head size a constant, so that a lane's D / 8 K loads are all
 * issued before the first is used. With rope: the query and the new key are rotated here first,
 * pair i by thread i with rope_cs / rope_pair at the step's position (k_rope's operations, so the
 * same floats); the rotated key is what the cache stores. Launched with PDL in the decode chain
 * (cuda_pdl_chain): it signals, then waits for the product that wrote q, k and v. */
template <int D>
__global__ void __launch_bounds__(32 * ATT_WARPS) k_attn_dec(const float *q, __half *K, __half *V, const float *knew, const float *vnew,
                                                             float *out, float *part, cuda_attn_args a, int n_split, cuda_rope_args ra,
                                                             int rope, int pre) {
    pdl_trigger();
    constexpr int E = D / 32; /* V elements per lane: E * lane .. E * lane + E - 1 */
    const int h = blockIdx.x, sp = blockIdx.z, grp = a.n_head / a.n_head_kv, hk = h / grp;
    /* pos_dev was written before the step's first kernel: readable before the wait */
    const uint32_t pos0 = a.pos_dev ? *a.pos_dev : a.pos0;
    const int n_kv = (int)pos0 + 1;
    const int chunk = (n_kv + n_split - 1) / n_split;
    const int p0 = sp * chunk, p1 = min(n_kv, p0 + chunk);
    const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5;
    __shared__ float sq[D], sk[D], sacc[ATT_WARPS * D], sm[ATT_WARPS], sl[ATT_WARPS];
    __shared__ __align__(16) __half snk[D];
    __shared__ __align__(16) __half snv[D];
    __shared__ __align__(16) __half sv0[32 * ATT_WARPS * D]; /* the first tile's cached V rows, each lane's own E halves */
    const size_t ks = (size_t)a.n_head_kv * D;
    /* The cached rows (positions < pos0) were stored by earlier steps, so the first tile's K rows
     * (to registers) and V rows (cp.async, to sv0) are loaded before waiting for the product that
     * wrote q, k and v: they arrive while it finishes. */
    uint4 u0[D / 8];
    if (pre) {
        const int p = p0 + w + 4 * lane;
        if (p < p1 && p != n_kv - 1) {
            const uint4 *kr = (const uint4 *)(K + (size_t)p * ks + (size_t)hk * D);
#pragma unroll
            for (int c = 0; c < D / 8; c++) u0[c] = kr[c];
        }
        for (int jj = 0; jj < 32; jj++) {
            const int pp = p0 + w + 4 * jj;
            if (pp >= p1 || pp == n_kv - 1) break; /* the new row is the last position */
            cp_async(&sv0[(w + 4 * jj) * D + E * lane], V + (size_t)pp * ks + (size_t)hk * D + E * lane, 2 * E);
        }
        cp_commit();
    }
    pdl_wait();
    for (int i = tid; i < D; i += blockDim.x) {
        sq[i] = q[(size_t)h * D + i];
        sk[i] = knew[(size_t)hk * D + i];
        snv[i] = __float2half_rn(vnew[(size_t)hk * D + i]);
    }
    if (rope) {
        __syncthreads();
        if (tid < ra.n_rot / 2) {
            float c, s;
            rope_cs(ra, tid, (float)pos0, &c, &s);
            rope_pair(sq, ra, tid, c, s);
            rope_pair(sk, ra, tid, c, s);
        }
    }
    __syncthreads();
    const bool writer = h % grp == 0 && sp == 0;
    for (int i = tid; i < D; i += blockDim.x) {
        snk[i] = __float2half_rn(sk[i]);
        if (writer) {
            K[(size_t)pos0 * ks + (size_t)hk * D + i] = snk[i];
            V[(size_t)pos0 * ks + (size_t)hk * D + i] = snv[i];
        }
    }
    __syncthreads();
    float m = -INFINITY, l = 0.0f, acc[E];
#pragma unroll
    for (int j = 0; j < E; j++) acc[j] = 0.0f;
    for (int base = p0; base < p1; base += 32 * ATT_WARPS) {
        if (base + w >= p1) break; /* warp-uniform */
        const int p = base + w + 4 * lane;
        float sc = -INFINITY;
        if (p < p1) {
            const __half *kr = p == n_kv - 1 ? snk : K + (size_t)p * ks + (size_t)hk * D;
            uint4 u[D / 8];
            if (pre && base == p0 && p != n_kv - 1) {
#pragma unroll
                for (int c = 0; c < D / 8; c++) u[c] = u0[c];
            } else {
#pragma unroll
                for (int c = 0; c < D / 8; c++) u[c] = ((const uint4 *)kr)[c];
            }
            float d = 0.0f;
#pragma unroll
            for (int c = 0; c < D / 8; c++) {
                const __half2 *h2 = (const __half2 *)&u[c];
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const float2 f = __half22float2(h2[e]);
                    d += sq[8 * c + 2 * e] * f.x + sq[8 * c + 2 * e + 1] * f.y;
                }
            }
            sc = d * a.scale;
        }
        float corr;
        const float pr = attn_tile_softmax(sc, p < p1, m, l, &corr);
#pragma unroll
        for (int j = 0; j < E; j++) acc[j] *= corr;
        const int nv = min(32, (p1 - base - w + 3) / 4);
        if (pre && base == p0) cp_wait<0>(); /* sv0 holds this lane's part of the tile's rows */
#pragma unroll 4
        for (int jj = 0; jj < nv; jj++) {
            const float pj = __shfl_sync(0xffffffffu, pr, jj);
            const int pp = base + w + 4 * jj;
            const __half *vr = pp == n_kv - 1 ? snv + E * lane
                               : pre && base == p0 ? sv0 + (w + 4 * jj) * D + E * lane
                                              : V + (size_t)pp * ks + (size_t)hk * D + E * lane;
            __half2 v2[E / 2];
            if constexpr (E == 4) {
                const uint2 r2 = *(const uint2 *)vr;
                v2[0] = *(const __half2 *)&r2.x;
                v2[1] = *(const __half2 *)&r2.y;
            } else {
                const uint32_t r1 = *(const uint32_t *)vr;
                v2[0] = *(const __half2 *)&r1;
            }
#pragma unroll
            for (int e = 0; e < E / 2; e++) {
                const float2 f = __half22float2(v2[e]);
                acc[2 * e] += pj * f.x;
                acc[2 * e + 1] += pj * f.y;
            }
        }
    }
#pragma unroll
    for (int j = 0; j < E; j++) sacc[w * D + E * lane + j] = acc[j];
    if (lane == 0) { sm[w] = m; sl[w] = l; }
    __syncthreads();
    attn_block_out(sacc, sm, sl, D, (size_t)h, n_split, sp, a, out, part);
}

static bool attn_dec_on(void) {
    static int on = -1;
    return cuda_switch_on("ZETA_CUDA_ATTN_DEC", &on);
}

/* the k_attn_dec case: one token, positions from the device and the store fused (decode graphs),
 * head sizes 64 / 128 */
static bool attn_dec_ok(const cuda_attn_args *a) {
    return a->n_tok == 1 && a->fuse_store && a->dk == a->dv && (a->dk == 64 || a->dk == 128) && attn_dec_on();
}

bool cuda_attention_rope_ok(const cuda_attn_args *a, const cuda_rope_args *r) {
    /* k_attnq (a quantized cache) folds RoPE in for every decode step it takes */
    const bool dec = a->n_tok == 1 && a->fuse_store && (a->kvq || attn_dec_ok(a) || cuda_attn_gqa_ok(a));
    return dec && r->n_rot >= 2 && r->n_rot <= a->dk && r->n_rot % 2 == 0;
}

/* merges the slices' partials: grid (n_head, n_tok), thread per output value */
__global__ void k_attn_merge(const float *part, float *out, int n_head, int dv, int n_split, uint8_t *xq, cuda_sparse_round sr) {
    pdl_trigger();
    pdl_wait(); /* launched with PDL (cuda_pdl_chain): the partials are complete */
    const size_t row = (size_t)blockIdx.y * n_head + blockIdx.x;
    const float *pr = part + row * n_split * (dv + 2);
    float M = -INFINITY;
    for (int s = 0; s < n_split; s++)
        if (pr[s * (dv + 2) + dv + 1] > 0.0f) M = fmaxf(M, pr[s * (dv + 2) + dv]);
    for (int i = threadIdx.x; i < dv; i += blockDim.x) {
        float A = 0.0f, L = 0.0f;
        for (int s = 0; s < n_split; s++) {
            const float *ps = pr + s * (dv + 2);
            if (!(ps[dv + 1] > 0.0f)) continue;
            const float f = expf(ps[dv] - M);
            A += ps[i] * f;
            L += ps[dv + 1] * f;
        }
        out[row * dv + i] = A / L;
        if (xq) q8_store(A / L, xq, n_head * dv, (int)((row * dv + i) / 32), sr.stat ? &sr : nullptr);
    }
}

int cuda_attention_split(const cuda_attn_args *a, size_t part_floats, int n_sm) {
    if (cuda_attn_gqa_ok(a)) return cuda_attn_gqa_split(a, part_floats, n_sm); /* also when not fused: the same key for a graph */
    /* split long contexts when there are too few (token, head) blocks to fill the device */
    int n_split = 1;
    const int items = a->n_head * a->n_tok, n_kv = (int)a->pos0 + 1;
    const int min_chunk = a->n_tok == 1 && a->dk % 8 == 0 ? 32 : 64; /* the decode kernel's tiles are 32 positions */
    while (n_split < ATT_MAX_SPLIT && items * n_split < 2 * n_sm && n_kv / (2 * n_split) >= min_chunk &&
           (size_t)items * 2 * n_split * (a->dv + 2) <= part_floats)
        n_split *= 2;
    return n_split;
}

cudaError_t cuda_attention(cudaStream_t s, const cuda_attn_args *a, void *Kp, void *Vp, const float *q, const float *k,
                           const float *v, float *out, float *part, size_t part_floats, int n_sm) {
    __half *K = (__half *)Kp, *V = (__half *)Vp;
    if (a->n_tok <= 0) return cudaSuccess;
    if (a->dv > ATT_MAX_DV) return cudaErrorInvalidValue; /* refused at session creation */
    if ((a->fuse_store || a->pos_dev || a->xq) && a->n_tok != 1) return cudaErrorInvalidValue;
    if (a->xq && a->dv % 32) return cudaErrorInvalidValue;
    if (a->rope && !cuda_attention_rope_ok(a, a->rope)) return cudaErrorInvalidValue; /* only k_attn_dec folds RoPE in */
    if (cuda_attn_gqa_ok(a)) /* it stores the new row itself (fused or not) */
        return cuda_attn_gqa(s, a, Kp, Vp, q, k, v, out, part, cuda_attention_split(a, part_floats, n_sm));
    if (a->kvq) return cuda_kvq_attention(s, a, (uint8_t *)Kp, (uint8_t *)Vp, q, k, v, out, part, part_floats, n_sm);
    const size_t kr = (size_t)a->n_head_kv * a->dk, vr = (size_t)a->n_head_kv * a->dv;
    if (!a->fuse_store) {
        k_store_f16<<<grid_for(kr * a->n_tok), 256, 0, s>>>(k, K + (size_t)a->pos0 * kr, kr * a->n_tok);
        k_store_f16<<<grid_for(vr * a->n_tok), 256, 0, s>>>(v, V + (size_t)a->pos0 * vr, vr * a->n_tok);
    }
    if (cuda_fattn_ok(a)) return cuda_fattn(s, a, K, V, q, out, part, part_floats, n_sm);
    /* with pos_dev, a->pos0 is the host's value of the same position (it picks the split) */
    const int n_split = cuda_attention_split(a, part_floats, n_sm);
    if (attn_dec_ok(a)) {
        const bool pdl = cuda_pdl_chain();
        cuda_rope_args ra;
        if (a->rope) ra = *a->rope;
        else memset(&ra, 0, sizeof ra);
        const int rope = a->rope != NULL;
        const dim3 grid(a->n_head, 1, n_split), block(32 * ATT_WARPS);
        static int pre = -1;
        cuda_switch_on("ZETA_CUDA_ATTN_PRE", &pre);
        cudaError_t e = a->dk == 64 ? cuda_launch(pdl, k_attn_dec<64>, grid, block, 0, s, q, K, V, k, v, out, part, *a, n_split, ra, rope, pre)
                                    : cuda_launch(pdl, k_attn_dec<128>, grid, block, 0, s, q, K, V, k, v, out, part, *a, n_split, ra, rope, pre);
        if (e == cudaSuccess && n_split > 1)
            e = cuda_launch(pdl, k_attn_merge, dim3(a->n_head, 1), dim3(a->dv < 256 ? 128 : 256), 0, s, (const float *)part, out,
                            a->n_head, a->dv, n_split, a->xq, a->xq_sparse);
        return e;
    }
    const size_t shm = sizeof(float) * ((size_t)a->dk + ATT_WARPS * (size_t)a->dv + 2 * ATT_WARPS) +
                       (a->fuse_store ? sizeof(__half) * ((size_t)a->dk + a->dv) : 0);
    if (a->n_tok == 1 && a->dk % 8 == 0)
        k_attn<true><<<dim3(a->n_head, a->n_tok, n_split), 32 * ATT_WARPS, shm, s>>>(q, K, V, k, v, out, part, *a, n_split);
    else
        k_attn<false><<<dim3(a->n_head, a->n_tok, n_split), 32 * ATT_WARPS, shm, s>>>(q, K, V, k, v, out, part, *a, n_split);
    if (n_split > 1)
        k_attn_merge<<<dim3(a->n_head, a->n_tok), a->dv < 256 ? 128 : 256, 0, s>>>(part, out, a->n_head, a->dv, n_split, a->xq, a->xq_sparse);
    return cudaGetLastError();
}
