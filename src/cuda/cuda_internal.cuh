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

/* Decode (one token) matrix-vector products with fused epilogues, one launch for up to 3 matrices
 * of one type and width K that read the same x (K % 32 == 0):
 *   CUDA_MMV_PLAIN:  y[m][r] = W[m] x (+ bias[m]); with res (one matrix): also res[r] += y[0][r]
 *   CUDA_MMV_SWIGLU: two matrices of equal rows: y[1][r] = W[1] x, y[0][r] = silu(W[0] x) * y[1][r]
 * Per row the arithmetic is the plain kernel's (and res / silu the add / swiglu kernels'), so fused
 * and unfused results are the same floats. */
enum { CUDA_MMV_PLAIN = 0, CUDA_MMV_SWIGLU = 1 };
struct cuda_mmv_job {
    int type, K, n_mat, mode;
    size_t row_bytes;
    const uint8_t *W[3];
    const float *bias[3];
    float *y[3];
    int rows[3];
    float *res;
};
bool cuda_mmv_fusable(const zeta_weight *w);
cudaError_t cuda_mmv(cudaStream_t s, const cuda_mmv_job *j, const float *x);

cudaError_t cuda_rmsnorm(cudaStream_t s, const float *x, const float *g, int n, float eps, int n_rows, float *out);
/* pos_dev: when not NULL, the position of token 0 is read from device memory (CUDA graphs) and pos0
 * is ignored; x2 (n_heads2 heads, may be NULL) is rotated at the same positions in the same launch */
cudaError_t cuda_rope(cudaStream_t s, float *x, int n_tok, int n_heads, int head_dim, int64_t pos0, const cuda_rope_args *a);
cudaError_t cuda_rope2(cudaStream_t s, float *x, int n_heads, float *x2, int n_heads2, int n_tok, int head_dim, int64_t pos0,
                       const uint32_t *pos_dev, const cuda_rope_args *a);
cudaError_t cuda_swiglu(cudaStream_t s, const float *g, const float *u, size_t n, float *out);
cudaError_t cuda_add(cudaStream_t s, float *x, const float *y, size_t n);

/* KV cache of one layer: [n_ctx][n_head_kv][d] halves for K and V */
struct cuda_attn_args {
    int n_head, n_head_kv, dk, dv, n_tok;
    uint32_t pos0;
    float scale;
    /* decode (n_tok == 1) only: pos0 read from device memory (CUDA graphs) when not NULL */
    const uint32_t *pos_dev;
    /* decode only: the new k, v row is not stored by a separate kernel first; the blocks read it
     * from k / v (rounded to f16 as the cache holds it) and one block per KV head stores it */
    int fuse_store;
};
/* the number of blocks attention splits the positions over (decode graphs key on it) */
int cuda_attention_split(const cuda_attn_args *a, size_t part_floats, int n_sm);
/* stores k, v (n_tok rows) at positions pos0.. then attention for every query row; part: split
 * partials, part_floats floats; n_sm: the device's multiprocessors */
cudaError_t cuda_attention(cudaStream_t s, const cuda_attn_args *a, __half *K, __half *V, const float *q, const float *k,
                           const float *v, float *out, float *part, size_t part_floats, int n_sm);
/* rotates n_pos key rows (n_head_kv heads of dk) at src by delta positions (magnitude 1) and
 * stores them at dst; copies the V rows likewise (src and dst ranges must not overlap) */
cudaError_t cuda_kv_move(cudaStream_t s, __half *K, __half *V, uint32_t from, uint32_t to, uint32_t n_pos, int n_head_kv, int dk,
                         int dv, int32_t delta, const cuda_rope_args *a);

#endif
