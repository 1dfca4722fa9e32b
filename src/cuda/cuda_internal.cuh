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
};

/* RoPE arguments by value (frequency factors included: at most 512 of them) */
struct cuda_rope_args {
    int n_rot, neox, has_ff;
    float theta_scale, freq_scale, ext_factor, mscale, corr0, corr1;
    float ff[512];
};
cuda_rope_args cuda_rope_args_make(const zeta_rope_params *rp);

/* true when the matrix kernels take this weight type */
bool cuda_type_ok(zeta_type t);

/* y[t] = W x[t] (+ bias), t < n_tok; W's bytes on the device in its GGUF type. scratch: f32
 * space for a dequantized slice of W (prompt path), scratch_floats floats; blas: a cublasHandle_t. */
cudaError_t cuda_matmul(cudaStream_t s, void *blas, const zeta_weight *w, const float *bias, const float *x, int n_tok,
                        float *y, float *scratch, size_t scratch_floats, int *blas_status);

cudaError_t cuda_rmsnorm(cudaStream_t s, const float *x, const float *g, int n, float eps, int n_rows, float *out);
cudaError_t cuda_rope(cudaStream_t s, float *x, int n_tok, int n_heads, int head_dim, int64_t pos0, const cuda_rope_args *a);
cudaError_t cuda_swiglu(cudaStream_t s, const float *g, const float *u, size_t n, float *out);
cudaError_t cuda_add(cudaStream_t s, float *x, const float *y, size_t n);

/* KV cache of one layer: [n_ctx][n_head_kv][d] halves for K and V */
struct cuda_attn_args {
    int n_head, n_head_kv, dk, dv, n_tok;
    uint32_t pos0;
    float scale;
};
/* stores k, v (n_tok rows) at positions pos0.. then attention for every query row; part: split
 * partials, part_floats floats; n_sm: the device's multiprocessors */
cudaError_t cuda_attention(cudaStream_t s, const cuda_attn_args *a, __half *K, __half *V, const float *q, const float *k,
                           const float *v, float *out, float *part, size_t part_floats, int n_sm);
/* rotates n_pos key rows (n_head_kv heads of dk) at src by delta positions (magnitude 1) and
 * stores them at dst; copies the V rows likewise (src and dst ranges must not overlap) */
cudaError_t cuda_kv_move(cudaStream_t s, __half *K, __half *V, uint32_t from, uint32_t to, uint32_t n_pos, int n_head_kv, int dk,
                         int dv, int32_t delta, const cuda_rope_args *a);

#endif
