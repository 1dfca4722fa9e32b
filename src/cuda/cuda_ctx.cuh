/* cuda_ctx.cuh — what cuda_backend.cu (the session's ops, lifetime) and cuda_exec.cu (decode steps
 * recorded, fused and replayed as CUDA graphs; the sparse pass) share: a CUDA session's state, a
 * recorded op, and the helpers both use. Private to src/cuda. */
#ifndef ZETA_CUDA_CTX_CUH
#define ZETA_CUDA_CTX_CUH

#include "cuda/cuda_internal.cuh"

#include <cublas_v2.h>
#include <stdio.h>

/* ---------------------------------------------------------------- session state */

struct cuda_ctx {
    const struct zeta_model *m;
    int device, n_sm;
    cudaStream_t stream;
    cublasHandle_t blas;
    /* the first failure, kept until the instance is freed */
    bool failed;
    zeta_status fail_status;
    char fail_msg[400];
    /* KV cache: per layer K then V, k_layer and v_layer bytes (f16: n_ctx * n_head_kv * (dk | dv)
     * halves; kvq: cuda_kvq's layout, each part aligned to 256 bytes) */
    uint32_t n_ctx, n_layer, n_head, n_head_kv, dk, dv;
    uint8_t *kv;
    size_t k_layer, v_layer;
    cuda_kvq kvq;            /* its types (used when quant) */
    bool quant;              /* a type other than f16 */
    float *part;             /* attention split partials */
    size_t part_floats;
    /* matmul scratch: dequantized weight slices (prompt path), x rounded to 8 bits for q4_0 / q8_0
     * products (xq: one token as int8 blocks, xq_bytes bytes; xr: several tokens as floats) */
    cuda_mm_scratch mm;
    size_t xq_bytes;
    float *stage;            /* pinned host: embeddings of one batch */
    size_t stage_floats;
    /* decode steps (one token): the ops between get_rows and read are recorded (cuda_rec), then
     * run at read() with fusions, as one CUDA graph replayed while the recorded sequence stays the
     * same (the position comes from pos_dev, which the graph's first node copies from pos_host) */
    int mode;                /* CUDA_EXEC_DIRECT / _RECORD / _GRAPH */
    bool recording;
    struct cuda_rec *rec;    /* this step's ops */
    int n_rec, cap_rec;
    uint32_t rec_pos0;
    bool partial;            /* rec_exec runs a flushed part of a step: unrecorded ops follow */
    uint32_t *pos_host, *pos_dev;
    /* the graphs of the last two different steps (a dense and a sparse step of variational gating
     * alternate): slot g was captured from grec[g] (n_grec[g] ops); glast: the slot used last */
    cudaGraphExec_t gexec[2];
    struct cuda_rec *grec[2];
    int n_grec[2], glast;
    long n_capture, n_replay, n_eager, n_capture_fail;
    /* the sparse pass's counters (cuda_sparse_ops): per layer and input kind, the kept count and the
     * kept and total sums of squares, summed on the device (sstat), copied to pinned sstat_host at
     * the end of a recorded step (sstat_host_ok) or read at step_stats; sused / sn_in: the inputs
     * thresholded in this step and their widths */
    double *sstat, *sstat_host;
    bool sstat_host_ok;
    uint8_t *sused;
    uint32_t *sn_in;
    /* the logits' entropy (cu_entropy): ent_dev on the device, copied to pinned ent_host by the next
     * read and handed to ent_dst (NULL: none asked) */
    float *ent_dev, *ent_host, *ent_dst;
};

/* one recorded op of a decode step; compared with memcmp (always zeroed before it is filled), so
 * it holds everything that shapes the launches except the position */
enum { REC_EMBED, REC_RMSNORM, REC_MATMUL, REC_ROPE, REC_ATTN, REC_SWIGLU, REC_ADD, REC_SMATMUL, REC_ENTROPY };
struct cuda_rec {
    int kind;
    int n_rows, n, n_heads, head_dim, il, n_split;
    float eps;
    const float *a, *b, *c;  /* inputs */
    float *out;
    const void *wdev;        /* matmul: W; rmsnorm: g */
    const float *bias;
    int wtype;
    uint64_t ne0, ne1, row_bytes;
    zeta_rope_params rp;
    /* REC_SMATMUL (the sparse pass): input a (n wide) thresholded at thr, kind skind of layer il;
     * smat[0..n_smat) its matrices (device layouts), sbias, sout */
    float thr;
    int skind, n_smat;
    zs_mat smat[3];
    const float *sbias[3];
    float *sout[3];
};

/* cuda_exec.cu: a new recorded op (zeroed) of kind `kind`; the recorded ops run before an op that
 * cannot be recorded (the rest of the step eagerly); the recorded step run (graph replay, capture or
 * eagerly); the sparse pass's counters cleared for the next step */
cuda_rec *rec_new(cuda_ctx *c, int kind);
void rec_flush(cuda_ctx *c);
void rec_run(cuda_ctx *c);
void sparse_reset(cuda_ctx *c);
/* cuda_backend.cu: the 8-bit activation buffers grown for K-wide products of n_tok tokens */
bool grow_x8(cuda_ctx *c, size_t K, size_t n_tok);

/* bytes of the sparse pass's device counters (cuda_ctx.sstat) */
static inline size_t sstat_bytes(const cuda_ctx *c) { return (size_t)c->n_layer * ZS_N_KIND * CUDA_SSTAT_REPL * 3 * sizeof(double); }

/* keeps the first failure (with the driver's text); false when e is an error */
static inline bool ck(cuda_ctx *c, cudaError_t e, const char *what) {
    if (e == cudaSuccess) return true;
    if (!c->failed) {
        c->failed = true;
        c->fail_status = ZETA_ERR_BACKEND;
        snprintf(c->fail_msg, sizeof c->fail_msg, "CUDA: %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
    }
    cudaGetLastError();
    return false;
}

/* the KV cache of layer il: K, then V */
static inline uint8_t *kv_k(cuda_ctx *c, uint32_t il) { return c->kv + (size_t)il * (c->k_layer + c->v_layer); }
static inline uint8_t *kv_v(cuda_ctx *c, uint32_t il) { return kv_k(c, il) + c->k_layer; }
static inline const cuda_kvq *kv_fmt(const cuda_ctx *c) { return c->quant ? &c->kvq : NULL; }

#endif
