/* forward.h — one transformer forward pass over a batch of tokens, written once against the
 * backend interface for every architecture in arch.c and every weight type. */
#ifndef ZETA_FORWARD_H
#define ZETA_FORWARD_H

#include "backend.h"
#include <stdatomic.h>

/* activations, allocated by the backend (buf_alloc); logits only when the backend's buffers are
 * not host memory (cap * n_vocab floats, copied out with read()) */
typedef struct fwd_buffers {
    uint32_t cap;            /* tokens per call */
    float *x, *xn, *q, *k, *v, *att, *ga, *up, *logits;
    /* want_entropy (set by the session): a call that returns one row of logits also asks a backend
     * with the entropy op for their entropy; has_entropy: this call's `entropy` came from it */
    bool want_entropy, has_entropy;
    float entropy;
} fwd_buffers;

zeta_status fwd_buffers_init(fwd_buffers *b, const struct zeta_model *m, const zeta_backend_inst *be, uint32_t cap,
                             zeta_error *err);
/* before the backend instance is freed */
void fwd_buffers_free(fwd_buffers *b, const zeta_backend_inst *be);

/* Sparse-pass counters, accumulated by forward_batch over the thresholded matmul inputs. */
typedef struct fwd_sparse_stats {
    uint64_t kept[ZS_N_KIND], total[ZS_N_KIND]; /* inputs kept / seen, per input kind */
    double energy_sum;       /* sum of kept / total sums of squares, one term per thresholded input */
    uint64_t n_energy;
} fwd_sparse_stats;

/* Optional extras of one forward_batch call; NULL in normal runs (nothing else is done). */
typedef struct fwd_opts {
    /* calibration: sees every thresholded matmul input before it is used (host buffers only):
     * n_tok rows of `width` floats of input kind ZS_* of layer il */
    void (*observe)(void *user, uint32_t il, int kind, const float *x, int n_tok, uint32_t width);
    void *observe_user;
    /* the sparse pass, used when sparse != NULL and n == 1: the layer matmuls read only the
     * columns of their inputs with |x_i| >= thr[il * ZS_N_KIND + kind]; a threshold of 0 keeps
     * every input, so that input's matmuls stay dense (the exact dense kernels) */
    const zeta_sparse_ops *sops;
    const zs_layer *sparse;
    const float *thr;
    zs_sel *sel;             /* scratch: idx / val of the widest input */
    fwd_sparse_stats *stats; /* may be NULL */
} fwd_opts;

/* Evaluates tokens[0..n) at positions pos0.. (n <= b->cap, pos0 + n <= n_ctx checked by the caller).
 * logits: n_vocab floats for the last token, or n * n_vocab when all_logits; NULL skips the
 * output head (the KV cache is still filled). Returns
 * ZETA_ERR_CANCELLED (checked between layers) when *cancel becomes true, ZETA_ERR_BACKEND when a
 * device op failed. */
zeta_status forward_batch(const struct zeta_model *m, const zeta_rope_params *rp, zeta_backend_inst *be, fwd_buffers *b,
                          const zeta_token *tokens, uint32_t n, uint32_t pos0, float *logits, bool all_logits, atomic_bool *cancel,
                          const fwd_opts *opt, zeta_error *err);

/* RoPE parameters of the model's metadata (a session may override the frequency scale). */
/* scaling: ZETA_ROPE_SCALING_MODEL (the file's) or an override; freq_scale 0 = the file's factor;
 * orig_ctx 0 = the file's original context (YaRN). */
zeta_rope_params forward_rope_params(const struct zeta_model *m, int scaling, float freq_scale, uint32_t orig_ctx);

#endif
