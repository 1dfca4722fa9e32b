/* cuda_sparse.cu — the sparse decode pass of variational gating on the GPU (docs/GATING.md): the
 * rounding of a thresholded input to 8 bits (dropped inputs rounded as 0, counted), and the entry
 * of the one-token products that read only the weight columns of kept inputs (k_smvb,
 * cuda_smvb.cu), from the input-channel-major native layouts of sparse.h (the model's own Q8_0 /
 * Q4_0 codes and scales, uploaded by cuda_model.cu). The first product kernel, k_smv (register
 * buffers, 0.84x standard mode on the 7B shape against k_smvb's 0.97x; bench/CUDA_NOTES.md v7,
 * v17), is removed. */
#include "cuda/cuda_internal.cuh"

#include <stdio.h>
#include <stdlib.h>

bool cuda_smv_fmt_ok(int fmt) { return fmt == ZS_FMT_Q4 || fmt == ZS_FMT_Q8; }

cudaError_t cuda_smv(cudaStream_t s, const cuda_smv_job *j, const uint8_t *xq) {
    if (!cuda_smv_fmt_ok(j->fmt) || j->K <= 0 || j->K % 32 || j->n_mat < 1 || j->n_mat > 3 || (j->res && j->n_mat != 1) || !xq ||
        (j->run != 128 && j->run != 256)) /* run 0: a layout not in the GPU's order */
        return cudaErrorInvalidValue;
    for (int m = 0; m < j->n_mat; m++)
        if (j->rows[m] <= 0 || j->rows[m] % 64 || !j->W[m] || !j->y[m]) return cudaErrorInvalidValue;
    /* ZETA_CUDA_SMVB=6, 7, 10: a timing diagnostic; 11: one copy a kept column (A/B); otherwise the product (read once, thread-safe) */
    static const int variant = [] {
        const char *e = getenv("ZETA_CUDA_SMVB");
        const int v = e && *e ? atoi(e) : 1;
        if (v == 6 || v == 7 || v == 10)
            fprintf(stderr, "zeta: ZETA_CUDA_SMVB=%d is a timing diagnostic: the sparse products' results are wrong\n", v);
        return v;
    }();
    return cuda_smvb(s, j, xq, variant);
}

/* ---------------------------------------------------------------- the thresholded rounding */

/* x -> xq, |x| < thr dropped, warp per block of 32; swiglu: x = silu(g) * u, also stored to out */
template <bool SWIGLU>
__global__ void k_quant_q8_sparse(const float *x, const float *u, int K, float *out, cuda_sparse_round sr, uint8_t *xq) {
    pdl_trigger(); /* the product that reads xq may start (it waits for this kernel) */
    pdl_wait();    /* launched with PDL (cuda_pdl_chain): x is complete */
    const int b = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (b >= K / 32) return;
    const int i = 32 * b + (threadIdx.x & 31);
    float v = x[i];
    if (SWIGLU) {
        v = silu_mul(v, u[i]);
        out[i] = v;
    }
    q8_store(v, xq, K, b, &sr);
}

cudaError_t cuda_quant_q8_sparse(cudaStream_t s, const float *x, int K, const cuda_sparse_round *sr, uint8_t *xq) {
    if (K % 32 || !sr || !sr->stat) return cudaErrorInvalidValue;
    return cuda_launch(cuda_pdl_chain(), k_quant_q8_sparse<false>, dim3((unsigned)((K / 32 + 7) / 8)), dim3(256), 0, s, x,
                       (const float *)NULL, K, (float *)NULL, *sr, xq);
}

cudaError_t cuda_swiglu_q8_sparse(cudaStream_t s, const float *g, const float *u, int K, float *out, const cuda_sparse_round *sr,
                                  uint8_t *xq) {
    if (K % 32 || !sr || !sr->stat) return cudaErrorInvalidValue;
    return cuda_launch(cuda_pdl_chain(), k_quant_q8_sparse<true>, dim3((unsigned)((K / 32 + 7) / 8)), dim3(256), 0, s, g, u, K, out,
                       *sr, xq);
}
