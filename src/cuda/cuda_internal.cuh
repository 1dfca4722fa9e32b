/* cuda_internal.cuh — what the CUDA backend's .cu files share: the project's C headers (made
 * parseable as C++), the per-model and per-session state, and the kernel launchers. Launchers
 * enqueue on the given stream and return the launch error (cudaGetLastError). */
#ifndef ZETA_CUDA_INTERNAL_CUH
#define ZETA_CUDA_INTERNAL_CUH

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <stdint.h>

#define _Static_assert static_assert /* quant.h is C11 */
extern "C" {
#include "cuda/cuda_backend.h"
#include "quant.h"
#include "util.h"
}
#undef _Static_assert

/* per model: one allocation holding every uploaded weight */
struct cuda_model {
    int device;
    void *mem;
    size_t bytes;
    char name[256];     /* device name */
    int n_sm;
    void *sparse_mem;   /* the sparse layouts (m->sparse's zs_mat.cols point here), or NULL */
};

/* err <- the CUDA error e while doing `what` (out of memory: ZETA_ERR_OUT_OF_MEMORY, else
 * ZETA_ERR_BACKEND, with the driver's text); clears a non-sticky error */
zeta_status cuda_fail(zeta_error *err, cudaError_t e, const char *what);

/* RoPE arguments by value (frequency factors included: at most 512 of them) */
struct cuda_rope_args {
    int n_rot, neox, has_ff;
    float theta_scale, freq_scale, ext_factor, mscale, corr0, corr1;
    float ff[512];
};
cuda_rope_args cuda_rope_args_make(const zeta_rope_params *rp);

/* cos and sin of pair i at position pos, with the CPU's operations in the CPU's order (no fused
 * multiply-add: the _rn intrinsics keep nvcc from contracting) */
__device__ __forceinline__ void rope_cs(const cuda_rope_args &a, int i, float pos, float *c, float *s) {
    float theta = pos;
    for (int j = 0; j < i; j++) theta = __fmul_rn(theta, a.theta_scale);
    const float ff = a.has_ff ? a.ff[i] : 1.0f;
    const float extrap = __fdiv_rn(theta, ff);
    float th = __fmul_rn(a.freq_scale, extrap);
    if (a.ext_factor != 0.0f) {
        const float y = __fdiv_rn((float)i - a.corr0, fmaxf(0.001f, a.corr1 - a.corr0));
        const float mix = __fmul_rn(1.0f - fminf(1.0f, fmaxf(0.0f, y)), a.ext_factor);
        th = __fadd_rn(__fmul_rn(th, 1.0f - mix), __fmul_rn(extrap, mix));
    }
    *c = __fmul_rn(cosf(th), a.mscale);
    *s = __fmul_rn(sinf(th), a.mscale);
}

__device__ __forceinline__ void rope_pair(float *v, const cuda_rope_args &a, int i, float c, float s) {
    const int half = a.n_rot / 2;
    const int ia = a.neox ? i : 2 * i, ib = a.neox ? i + half : 2 * i + 1;
    const float x0 = v[ia], x1 = v[ib];
    v[ia] = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, s));
    v[ib] = __fadd_rn(__fmul_rn(x0, s), __fmul_rn(x1, c));
}

/* Programmatic dependent launch (sm_90): a kernel launched with programmatic stream serialization
 * may start before the one ahead of it in the stream has finished, once that one has called
 * pdl_trigger (or exited); it must call pdl_wait before touching anything the earlier kernels
 * write. Both are no-ops for kernels launched the ordinary way. */
__device__ __forceinline__ void pdl_trigger() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }
__device__ __forceinline__ void pdl_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }

/* cp.async of 16, 8 or 4 bytes (aligned so) from global to shared memory; groups committed and
 * waited for (all but the last N) */
__device__ __forceinline__ void cp_async(void *dst, const void *src, int bytes) {
    const unsigned d = (unsigned)__cvta_generic_to_shared(dst);
    if (bytes == 16) asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(d), "l"(src));
    else if (bytes == 8) asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" ::"r"(d), "l"(src));
    else asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(d), "l"(src));
}
__device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;"); }
template <int N> __device__ __forceinline__ void cp_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(N)); }

/* host -> device copy that is complete when it returns. cudaMemcpy from pageable memory returns
 * once the bytes are in the driver's staging buffer, before its DMA to dst has finished (CUDA
 * runtime API, "API synchronization behavior"), and the sessions' streams are non-blocking (no
 * implicit ordering with the legacy stream that copy ran in): a kernel launched right after could
 * read dst before the copy lands. Suspected cause of test_cuda_kv's one failure (2026-11-28: K / V
 * rows of one upload stale). Waiting for the legacy stream waits for that copy only. */
static inline cudaError_t cuda_h2d(void *dst, const void *src, size_t n) {
    cudaError_t e = cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice);
    return e == cudaSuccess ? cudaStreamSynchronize(0) : e;
}

/* ZETA_CUDA_PDL=0: no kernel is launched with programmatic stream serialization */
bool cuda_pdl_enabled(void);
/* the decode chain (ZETA_CUDA_PDL_CHAIN=0 turns it off; needs cuda_pdl_enabled): the one-token
 * products signal at their start and the kernels between them (RMSNorm + rounding, the rounding
 * kernel, k_attn_dec and its merge) are launched with PDL too, each signalling at once and waiting
 * (pdl_wait) before it reads anything; so the next kernels are launched, and a product's first
 * weights are in flight, while the kernels ahead of it still run. Each kernel waits for the one
 * before it, which waited for its own predecessor, so the order of the data is the stream's
 * (kernels launched the ordinary way, e.g. a separate RoPE, simply wait for everything before). */
bool cuda_pdl_chain(void);
/* launches kernel k with programmatic stream serialization when pdl, else as <<<>>> would */
template <typename... KArgs, typename... Args>
static inline cudaError_t cuda_launch(bool pdl, void (*k)(KArgs...), dim3 grid, dim3 block, size_t shm, cudaStream_t s,
                                      Args... args) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = shm;
    cfg.stream = s;
    cudaLaunchAttribute at[1];
    at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    at[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = at;
    cfg.numAttrs = pdl ? 1 : 0;
    return cudaLaunchKernelEx(&cfg, k, args...);
}

/* The CPU kernels' q8_0 rounding of an activation block of 32 (kernels_*.c from_float_q8_0, as
 * ggml's CPU backend does it): d = max|x| / 127 kept as f16 (returned as a float), q = x * (127 /
 * max|x|) rounded half to even, saturated to int8. q8_round: lane i of a warp holds element i. */
__device__ __forceinline__ int q8_round_amax(float v, float amax, float *dh) {
    *dh = __half2float(__float2half_rn(amax / 127.0f));
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    const float r = rintf(__fmul_rn(v, id));
    if (!(r >= -2147483648.0f && r < 2147483648.0f)) return -128;
    return r > 127.0f ? 127 : r < -128.0f ? -128 : (int)r;
}
__device__ __forceinline__ int q8_round(float v, float *dh) {
    float amax = fabsf(v);
#pragma unroll
    for (int off = 16; off; off >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
    return q8_round_amax(v, amax, dh);
}

/* Q8_K's pick of a block's scale element across a warp: each lane holds its candidate (amax = |mx|,
 * mx, its index at; amax 0 and at INT_MAX for none); afterwards every lane holds the largest magnitude
 * and, of equal ones, the one of the smallest index (quantize_row_q8_K_ref keeps the first) */
__device__ __forceinline__ void warp_absmax_first(float &amax, float &mx, int &at) {
#pragma unroll
    for (int off = 16; off; off >>= 1) {
        const float a2 = __shfl_xor_sync(0xffffffffu, amax, off), m2 = __shfl_xor_sync(0xffffffffu, mx, off);
        const int at2 = __shfl_xor_sync(0xffffffffu, at, off);
        if (a2 > amax || (a2 == amax && at2 < at)) {
            amax = a2;
            mx = m2;
            at = at2;
        }
    }
}

/* The sparse pass's rounding of an activation (variational gating), passed by value to the kernels
 * that round (stat NULL: the dense rounding): |x| < thr dropped; stat holds CUDA_SSTAT_REPL copies of
 * (kept count, kept and total sums of squares), block b of the input adding to copy b %
 * CUDA_SSTAT_REPL (fewer atomics on one address; the host adds the copies). */
#define CUDA_SSTAT_REPL 8
struct cuda_sparse_round {
    float thr;
    double *stat;
};

/* the q8_0 blocks of one vector: K int8 (block b at 32 b), then K / 32 floats (the blocks' f16
 * scales), then K / 32 ints (each block's sum of quants), then K / 32 floats (Q8_1's s: f16(max|x| /
 * 127 * the sum), what the CPU pairs with q4_1 / q5_1 weights); called by every lane of a warp for block b.
 * The sparse pass of variational gating (sr not NULL, the same for the whole warp): an element
 * with |v| < sr->thr is dropped (rounded as 0, so the block's scale comes from the kept ones, as the
 * CPU's selection rounds them) and the block's counters are added to its copy in sr->stat. */
__device__ __forceinline__ void q8_store(float v, uint8_t *xq, int K, int b, const cuda_sparse_round *sr = nullptr) {
    const int lane = threadIdx.x & 31;
    if (sr) {
        double *stat = sr->stat + 3 * (b % CUDA_SSTAT_REPL);
        const bool keep = fabsf(v) >= sr->thr;
        const unsigned kept = __ballot_sync(0xffffffffu, keep);
        float ss = __fmul_rn(v, v), sk = keep ? ss : 0.0f;
#pragma unroll
        for (int off = 16; off; off >>= 1) {
            ss += __shfl_xor_sync(0xffffffffu, ss, off);
            sk += __shfl_xor_sync(0xffffffffu, sk, off);
        }
        if (lane == 0) {
            atomicAdd(stat, (double)__popc(kept));
            atomicAdd(stat + 1, (double)sk);
            atomicAdd(stat + 2, (double)ss);
        }
        if (!keep) v = 0.0f;
    }
    float dh, amax = fabsf(v);
#pragma unroll
    for (int off = 16; off; off >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
    const int q = q8_round_amax(v, amax, &dh);
    xq[32 * b + lane] = (uint8_t)(int8_t)q;
    int sq = q;
#pragma unroll
    for (int off = 16; off; off >>= 1) sq += __shfl_xor_sync(0xffffffffu, sq, off);
    if (lane == 0) {
        ((float *)(xq + K))[b] = dh;
        ((int *)(xq + K + 4 * (size_t)(K / 32)))[b] = sq;
        ((float *)(xq + K + 8 * (size_t)(K / 32)))[b] = __half2float(__float2half_rn(__fmul_rn(amax / 127.0f, (float)sq)));
    }
}

/* silu(g) * u, the one formula of every SwiGLU kernel (so fused and unfused give the same floats) */
__device__ __forceinline__ float silu_mul(float g, float u) { return __fmul_rn(__fdiv_rn(g, 1.0f + expf(-g)), u); }

/* A/B switches: false when environment variable `name` is "0"; read once into *cache (start -1) */
bool cuda_switch_on(const char *name, int *cache);

/* true when the matrix kernels take this weight type */
bool cuda_type_ok(zeta_type t);

/* q4_0 and q8_0 weights live on the device in a split layout: all blocks' quants (16 or 32 bytes
 * each), then all blocks' f16 scales; cuda_weight_split turns n_blocks GGUF blocks at src (device
 * memory) into that layout at dst (same size, not overlapping src). */
bool cuda_type_split(int type);
/* q4_K / q5_K / q6_K: their one-token products also take x rounded to 8 bits in xq (Q8_K, k_mmvk8) */
bool cuda_mmvk8_type(int type);
/* whether those products use k_mmvk8 (ZETA_CUDA_MMVK8=0: the f32 kernels, for A/B) */
bool cuda_mmvk8_on(void);
/* q4_1 / q5_0 / q5_1 / iq4_nl: their one-token products take x rounded to Q8_0 blocks in xq too
 * (k_mmvb8, cuda_mmvb.cu; false for every type when ZETA_CUDA_MMVB=0) */
bool cuda_mmvb8_type(int type);
/* x (K floats, K % 32 == 0) rounded to Q8_0 blocks into xq (q8_store's layout; k_quant_q8, launched
 * in the PDL chain) */
cudaError_t cuda_quant_q8(cudaStream_t s, const float *x, int K, uint8_t *xq);
/* x (K floats, K % 256 == 0) rounded to Q8_K into xq, k_mmvk8's input (k_quant_q8K, a plain launch) */
cudaError_t cuda_quant_q8K(cudaStream_t s, const float *x, int K, uint8_t *xq);
cudaError_t cuda_weight_split(cudaStream_t s, int type, const uint8_t *src, uint8_t *dst, size_t n_blocks);

/* bytes of the 8-bit activation buffer (xq) that one-token products of width K use (q8_store's
 * layout, the largest; Q8_K's is K + K / 8 + K / 64) */
inline size_t cuda_xq_bytes(int K) { return (size_t)K + (size_t)K / 32 * 12; }

/* a session's scratch for cuda_matmul: deq, deq_floats: f32 space for a dequantized slice of W
 * (prompt path; NULL: the token-batch kernel); xq: at least cuda_xq_bytes(K) bytes (one-token q4_0 /
 * q8_0 products); xr, xr_floats: n_tok * K floats (q4_0 / q8_0 products of several tokens take x
 * rounded to 8 bits there, as the CPU's kernels do); xs, xs_floats: 2 n_tok K floats, x split into
 * a TF32 part and the rest for the tensor-core products (NULL: those products run in f32 SGEMM) */
struct cuda_mm_scratch {
    float *deq;
    size_t deq_floats;
    uint8_t *xq;
    float *xr;
    size_t xr_floats;
    float *xs;
    size_t xs_floats;
};

/* y[t] = W x[t] (+ bias), t < n_tok; W's bytes on the device (cuda_type_split's layout or GGUF's);
 * blas: a cublasHandle_t. A q4_0 / q8_0 product without the scratch it needs is
 * cudaErrorInvalidValue. */
cudaError_t cuda_matmul(cudaStream_t s, void *blas, const zeta_weight *w, const float *bias, const float *x, int n_tok,
                        float *y, const cuda_mm_scratch *sc, int *blas_status);

/* The rest of cuda_matmul's prompt products (cuda_gemm.cu): W dequantized in slices into sc->deq (which
 * must be there) and multiplied by cuBLAS (blas: a cublasHandle_t) on the tensor cores; x already rounded
 * to 8 bits where the type's CPU products round it (q4_0 / q8_0) */
cudaError_t cuda_gemm_prompt(cudaStream_t s, void *blas, const zeta_weight *w, const float *bias, const float *x, int n_tok,
                             float *y, const cuda_mm_scratch *sc, int *blas_status);

/* Prompts of q4_0 / q8_0 weights on the tensor cores (cuda_mmq.cu): when cuda_mmq_ok (more than 8
 * tokens, K % 128 == 0; ZETA_CUDA_MMQ=0 turns it off), y[t] = W x[t] (+ bias) with x rounded to 8
 * bits as the CPU's kernels round it (x NULL: already rounded into xq) and each block an exact
 * integer dot product; xq: n_tok *
 * cuda_mmq_xq_bytes(K, n_tok) bytes of scratch (at most 4 n_tok K). */
bool cuda_mmq_ok(const zeta_weight *w, int n_tok);
size_t cuda_mmq_xq_bytes(int K, int n_tok);
cudaError_t cuda_mmq(cudaStream_t s, const zeta_weight *w, const float *bias, const float *x, int n_tok, float *y, uint8_t *xq);
/* the rounding alone (cuda_mmq with x NULL then reuses xq: products of one input share it) */
cudaError_t cuda_mmq_quant(cudaStream_t s, const float *x, int K, int n_tok, uint8_t *xq);

/* Decode (one token) matrix-vector products with fused epilogues, one launch for up to 3 matrices
 * of one type and width K that read the same x (K % 32 == 0):
 *   CUDA_MMV_PLAIN:  y[m][r] = W[m] x (+ bias[m]); with res (one matrix): also res[r] += y[0][r]
 *   CUDA_MMV_SWIGLU: two matrices of equal rows: y[1][r] = W[1] x, y[0][r] = silu(W[0] x) * y[1][r]
 * Per row the arithmetic is the unfused product's (and res / silu the add / swiglu kernels'), so
 * fused and unfused results are the same floats. */
enum { CUDA_MMV_PLAIN = 0, CUDA_MMV_SWIGLU = 1 };
struct cuda_mmv_job {
    int type, K, n_mat, mode;
    int xq_ready;            /* xq already holds x rounded to 8 bits: q4_0 / q8_0 as Q8_0 blocks (cuda_rmsnorm_q8),
                              * q4_K / q5_K / q6_K as Q8_K (cuda_rmsnorm_q8K, or the product before on the same x) */
    size_t row_bytes;
    const uint8_t *W[3];
    const float *bias[3];
    float *y[3];
    int rows[3];
    float *res;
    int trigger;             /* pdl_trigger at the start (cuda_pdl_chain) */
    int run;                 /* the matrices' zs_mat.gpu_run (all the same): 256 runs 16-row lanes, 128 8-row ones */
};
bool cuda_mmv_fusable(const zeta_weight *w);
/* xq: cuda_xq_bytes(K) bytes of scratch, required for q4_0 / q8_0 (whose products take x rounded
 * to 8 bits in blocks of 32, as the CPU's kernels do) */
cudaError_t cuda_mmv(cudaStream_t s, const cuda_mmv_job *j, const float *x, uint8_t *xq);
/* the q4_0 / q8_0 part of cuda_mmv (cuda_mmvq.cu) */
cudaError_t cuda_mmvq(cudaStream_t s, const cuda_mmv_job *j, const float *x, uint8_t *xq);

/* The sparse pass of variational gating (cuda_sparse.cu). One-token products of up to 3 matrices
 * in one native sparse layout (sparse.h: fmt ZS_FMT_Q8 / ZS_FMT_Q4, rows % 64 == 0; W[m]: the
 * device copy of zs_mat.cols) that read the same 8-bit input xq (q8_store's layout, the dropped
 * inputs rounded as 0): y[m] = W[m] x (+ bias[m]); with res (one matrix) also res += y[0]. Only the
 * columns whose 8-bit input is not 0 are read. */
struct cuda_smv_job {
    int fmt, K, n_mat;
    size_t blk_bytes[3], col_bytes[3];
    const uint8_t *W[3];
    const float *bias[3];
    float *y[3];
    int rows[3];
    float *res;
    int trigger;             /* pdl_trigger at the start (cuda_pdl_chain) */
    int run;                 /* the matrices' zs_mat.gpu_run (all the same): 256 runs 16-row lanes, 128 8-row ones */
};
bool cuda_smv_fmt_ok(int fmt);
/* the kernel behind cuda_smv (cuda_smvb.cu: the kept columns copied to shared memory by the copy
 * engine), its shape of block by j->run; variant (ZETA_CUDA_SMVB): 1 the product, 6, 7 and 10
 * timing diagnostics with wrong results, 11 one copy a kept column (no runs merged; A/B) */
cudaError_t cuda_smvb(cudaStream_t s, const cuda_smv_job *j, const uint8_t *xq, int variant);
cudaError_t cuda_smv(cudaStream_t s, const cuda_smv_job *j, const uint8_t *xq);
/* x (K floats) -> xq, the sparse pass's rounding sr (q8_store); the swiglu form takes x = silu(g) *
 * u (cuda_swiglu's floats) and also stores it to out */
cudaError_t cuda_quant_q8_sparse(cudaStream_t s, const float *x, int K, const cuda_sparse_round *sr, uint8_t *xq);
cudaError_t cuda_swiglu_q8_sparse(cudaStream_t s, const float *g, const float *u, int K, float *out, const cuda_sparse_round *sr,
                                  uint8_t *xq);

cudaError_t cuda_rmsnorm(cudaStream_t s, const float *x, const float *g, int n, float eps, int n_rows, float *out);
/* one row (n % 32 == 0): out as cuda_rmsnorm's, and out rounded to 8 bits into xq as the one-token
 * q4_0 / q8_0 products take it (cuda_mmv with xq_ready); sr not NULL: the sparse pass's rounding */
cudaError_t cuda_rmsnorm_q8(cudaStream_t s, const float *x, const float *g, int n, float eps, float *out, uint8_t *xq,
                            const cuda_sparse_round *sr);
/* one row (n % 256 == 0): out as cuda_rmsnorm's, and out rounded to Q8_K into xq as the one-token
 * q4_K / q5_K / q6_K products take it (k_mmvk8, cuda_mmv with xq_ready) */
cudaError_t cuda_rmsnorm_q8K(cudaStream_t s, const float *x, const float *g, int n, float eps, float *out, uint8_t *xq);
/* pos_dev: when not NULL, the position of token 0 is read from device memory (CUDA graphs) and pos0
 * is ignored; x2 (n_heads2 heads, may be NULL) is rotated at the same positions in the same launch */
cudaError_t cuda_rope(cudaStream_t s, float *x, int n_tok, int n_heads, int head_dim, int64_t pos0, const cuda_rope_args *a);
cudaError_t cuda_rope2(cudaStream_t s, float *x, int n_heads, float *x2, int n_heads2, int n_tok, int head_dim, int64_t pos0,
                       const uint32_t *pos_dev, const cuda_rope_args *a);
cudaError_t cuda_swiglu(cudaStream_t s, const float *g, const float *u, size_t n, float *out);
cudaError_t cuda_add(cudaStream_t s, float *x, const float *y, size_t n);
/* *out = the Shannon entropy (nats) of softmax(x[0..n)) as sampler_entropy defines it (NaN never
 * counts, +inf as FLT_MAX), one block, the same bits every run */
cudaError_t cuda_entropy(cudaStream_t s, const float *x, int n, float *out);

/* one tile of the decode kernels' online softmax, for a warp whose lane holds score sc (-inf where
 * it has no position; valid: it has one): the running maximum m and sum l updated, *corr = the
 * factor the accumulators are scaled by; returns the lane's probability */
__device__ __forceinline__ float attn_tile_softmax(float sc, bool valid, float &m, float &l, float *corr) {
    float tm = sc;
    for (int off = 16; off; off >>= 1) tm = fmaxf(tm, __shfl_xor_sync(0xffffffffu, tm, off));
    const float mn = fmaxf(m, tm);
    const float pr = valid ? expf(sc - mn) : 0.0f;
    *corr = expf(m - mn);
    float ps = pr;
    for (int off = 16; off; off >>= 1) ps += __shfl_xor_sync(0xffffffffu, ps, off);
    l = l * *corr + ps;
    m = mn;
    return pr;
}

/* A KV cache other than f16 / f16 (cuda_kvq.cu): K and V each F16, Q8_0 or Q4_0, head sizes 64 or
 * 128 (dk == dv). One layer's K (likewise V) of type T: the codes of every position and head,
 * [n_ctx][n_head_kv][D] halves (F16), int8 (Q8_0) or D / 2 bytes (Q4_0: per block of 32, ggml's 16
 * bytes, element j in the low nibble of byte j, j + 16 in the high one), then (Q8_0, Q4_0) the
 * blocks' f16 scales, [n_ctx][n_head_kv][D / 32]. Quantized rows are Hadamard-rotated as the CPU
 * stores them (cpu_kv_rotation: rot_k / rot_v the block sizes, 0 = not rotated). */
struct cuda_kvq {
    int tk, tv;
    int rot_k, rot_v;
    uint32_t n_ctx;
};
/* bytes of one layer's K (which 0) or V (1) */
size_t cuda_kvq_layer_bytes(const cuda_kvq *f, int which, int n_head_kv, int d);
/* whether the quantized-cache kernels take these types and sizes (message in why otherwise) */
bool cuda_kvq_ok(int tk, int tv, int dk, int dv, char *why, size_t cap);

/* KV cache of one layer: [n_ctx][n_head_kv][d] halves for K and V (kvq NULL), else cuda_kvq's layout */
struct cuda_attn_args {
    int n_head, n_head_kv, dk, dv, n_tok;
    uint32_t pos0;
    float scale;
    /* decode (n_tok == 1) only: pos0 read from device memory (CUDA graphs) when not NULL */
    const uint32_t *pos_dev;
    /* decode only: the new k, v row is not stored by a separate kernel first; the blocks read it
     * from k / v (rounded to f16 as the cache holds it) and one block per KV head stores it */
    int fuse_store;
    /* decode only, dv % 32 == 0: the output (n_head * dv) is also rounded to 8 bits into xq for
     * the q4_0 / q8_0 product that reads it (NULL: not) */
    uint8_t *xq;
    /* decode only (NULL: none): RoPE of the query and of the new key, folded into the attention
     * kernel (the same float operations as cuda_rope2 at the same position), when it has a kernel
     * for the head size (cuda_attention_rope_ok); q and k are then left unrotated in memory */
    const cuda_rope_args *rope;
    /* decode only, with xq: the sparse pass's rounding of the output (stat NULL: dense) */
    cuda_sparse_round xq_sparse;
    /* the cache's types and layout; NULL: f16 K and V */
    const cuda_kvq *kvq;
};
/* whether cuda_attention folds the RoPE of a decode step in for these arguments (head sizes 64
 * and 128, dk == dv, n_rot <= dk; ZETA_CUDA_ATTN_DEC=0 turns the kernel off) */
bool cuda_attention_rope_ok(const cuda_attn_args *a, const cuda_rope_args *r);
/* the number of blocks attention splits the positions over (decode graphs key on it) */
int cuda_attention_split(const cuda_attn_args *a, size_t part_floats, int n_sm);
/* stores k, v (n_tok rows) at positions pos0.. then attention for every query row; part: split
 * partials, part_floats floats; n_sm: the device's multiprocessors */
cudaError_t cuda_attention(cudaStream_t s, const cuda_attn_args *a, void *K, void *V, const float *q, const float *k,
                           const float *v, float *out, float *part, size_t part_floats, int n_sm);
/* cuda_attention for a->kvq: the rows rotated (q too: in place, unless fused) and stored in the
 * cache's types, scores of a quantized K against the query rounded to q8_0 (as the CPU does), the
 * output rotated back */
cudaError_t cuda_kvq_attention(cudaStream_t s, const cuda_attn_args *a, uint8_t *K, uint8_t *V, const float *q, const float *k,
                               const float *v, float *out, float *part, size_t part_floats, int n_sm);
/* prompts (cuda_fattn.cu): attention on the tensor cores for head sizes 64 and 128, when
 * cuda_fattn_ok (at least 16 tokens; ZETA_CUDA_FATTN=0 turns it off); the rows are already stored
 * (a->kvq: in its types, q rotated and, for a quantized K, rounded to q8_0 and expanded in place) */
bool cuda_fattn_ok(const cuda_attn_args *a);
/* part (part_floats floats, NULL: none): scratch for splitting long prefixes over blocks
 * (ZETA_CUDA_FATTN_SPLIT=0 turns that off) */
cudaError_t cuda_fattn(cudaStream_t s, const cuda_attn_args *a, const void *K, const void *V, const float *q, float *out, float *part,
                       size_t part_floats, int n_sm);
/* rotates n_pos key rows (n_head_kv heads of dk) at src by delta positions (magnitude 1) and
 * stores them at dst; copies the V rows likewise (src and dst ranges must not overlap) */
cudaError_t cuda_kv_move(cudaStream_t s, __half *K, __half *V, uint32_t from, uint32_t to, uint32_t n_pos, int n_head_kv, int dk,
                         int dv, int32_t delta, const cuda_rope_args *a);
/* cuda_kv_move for a cuda_kvq cache (quantized keys: dequantized, rotated back, RoPE, rotated and
 * quantized again, as cpu_kv_shift) */
cudaError_t cuda_kvq_move(cudaStream_t s, const cuda_kvq *f, uint8_t *K, uint8_t *V, uint32_t from, uint32_t to, uint32_t n_pos,
                          int n_head_kv, int d, int32_t delta, const cuda_rope_args *a);
/* merges n_split partials (acc[d], m, l per row, as the decode kernels write them) of n_head * n_tok
 * rows of d values into out, rotating each row back (blocks of rot_v, 0 = none) and rounding it
 * into xq when not NULL (sr: the sparse pass's rounding) */
cudaError_t cuda_kvq_merge(cudaStream_t s, bool pdl, const float *part, float *out, int n_head, int n_tok, int d, int n_split, int rot_v,
                           uint8_t *xq, cuda_sparse_round sr);
/* decode attention with a KV head's query heads in one block (cuda_attn_dec.cu), for any cache type:
 * one token, dk == dv in {64, 128}, at most 16 query heads a KV head, from 1536 positions on (3072
 * with a quantized K or V; ZETA_CUDA_ATTN_GQA_MIN overrides; ZETA_CUDA_ATTN_GQA=0 turns it off); cuda_attn_gqa_split: its number of
 * slices (a power of two); cuda_attn_gqa: the step, storing the new row (a->kvq NULL: f16 cache) */
bool cuda_attn_gqa_ok(const cuda_attn_args *a);
int cuda_attn_gqa_split(const cuda_attn_args *a, size_t part_floats, int n_sm);
cudaError_t cuda_attn_gqa(cudaStream_t s, const cuda_attn_args *a, void *K, void *V, const float *q, const float *k, const float *v,
                          float *out, float *part, int n_split);
/* n positions from p0 of one layer's K (which 0) or V (1), between the device layout and the host's
 * (session files: by position, [n][n_head_kv][row in GGUF blocks]); synchronous on s */
cudaError_t cuda_kvq_copy(cudaStream_t s, const cuda_kvq *f, int which, uint8_t *layer, int n_head_kv, int d, uint32_t p0, uint32_t n,
                          uint8_t *host, bool to_host);

#endif
