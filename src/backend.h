/* backend.h — the operations forward.c needs, behind a table of function pointers, so the forward
 * pass is written once for every backend (CPU, and CUDA with make CUDA=1). Buffers are float arrays
 * allocated by the backend (buf_alloc: host memory on the CPU backend, device memory on CUDA); the
 * ops may run asynchronously and read() is where results reach the host and errors are reported.
 * Activations are row-major: token t's vector of width n starts at x + t * n. A backend instance
 * belongs to one session (KV cache, scratch, threads / stream). */
#ifndef ZETA_BACKEND_H
#define ZETA_BACKEND_H

#include "model.h"
#include "sparse.h"

/* theta_i(pos) = pos * base^(-2i/n_rot) / freq_factors[i]; rotated by freq_scale * theta (linear),
 * or YaRN's per-dimension mix of freq_scale * theta and theta (ext_factor != 0, ramp between
 * corr_dims); cos and sin are multiplied by mscale (YaRN's magnitude correction, 1 otherwise). */
typedef struct zeta_rope_params {
    uint32_t n_rot;
    zeta_rope_type mode;
    float base, freq_scale;
    const float *freq_factors;   /* n_rot/2 or NULL */
    float ext_factor, mscale;
    float corr_dims[2];
} zeta_rope_params;

typedef struct zeta_backend_ops zeta_backend_ops;
typedef struct zeta_backend_inst {
    const zeta_backend_ops *ops;
    void *ctx;
} zeta_backend_inst;

struct zeta_backend_ops {
    const char *name;
    /* true when buffers are plain host memory: forward_batch then writes the logits straight into
     * the caller's array (no copy) */
    bool host_buffers;
    void (*free)(void *ctx);
    /* activation buffers of n floats (NULL when out of memory), freed before the instance */
    float *(*buf_alloc)(void *ctx, size_t n);
    void (*buf_free)(void *ctx, float *p);
    /* waits for the ops issued so far and copies n floats of buffer src to host memory dst (n may
     * be 0, src and dst NULL: only wait). Returns the first error of any op since the last read
     * (ops return nothing; a device backend keeps its first failure, with the driver's text, and
     * skips later work until it is reported here as ZETA_ERR_BACKEND). */
    zeta_status (*read)(void *ctx, const float *src, size_t n, float *dst, zeta_error *err);
    /* out[t] = row tokens[t] of w, as f32 (tokens in host memory) */
    void (*get_rows)(void *ctx, const zeta_weight *w, const zeta_token *tokens, int n, float *out);
    /* out[t] = x[t] / rms(x[t]) * w   (rows of w->ne0; out may equal x) */
    void (*rmsnorm)(void *ctx, const float *x, const zeta_weight *w, float eps, int n_rows, float *out);
    /* y[t] = W x[t] (+ bias if bias && bias->data), for t < n_tok; x rows of w->ne0, y rows of w->ne1 */
    void (*matmul)(void *ctx, const zeta_weight *w, const zeta_weight *bias, const float *x, int n_tok, float *y);
    /* rotates the first n_rot dims of each head of x[t] (n_heads heads of head_dim) at position pos0 + t */
    void (*rope)(void *ctx, float *x, int n_tok, int n_heads, int head_dim, uint32_t pos0, const zeta_rope_params *rp);
    /* appends k, v of n_tok tokens at positions pos0.. to layer il's cache, then
     * out[t] = causal softmax(q[t] . K / sqrt(head_dim)) V over positions 0..pos0+t; the backend may
     * overwrite q, k and v (host buffers) */
    void (*attention)(void *ctx, int il, float *q, float *k, float *v, int n_tok, uint32_t pos0, float *out);
    /* out = silu(gate) * up, n elements (out may equal gate) */
    void (*swiglu)(void *ctx, const float *gate, const float *up, size_t n, float *out);
    /* x += y, n elements */
    void (*add)(void *ctx, float *x, const float *y, size_t n);
    /* KV cache: moves positions [p0, p1) of every layer to p0 + delta (delta < 0) and re-rotates
     * the keys by delta (context shift) */
    void (*kv_shift)(void *ctx, uint32_t p0, uint32_t p1, int32_t delta, const zeta_rope_params *rp);
    /* raw bytes of one position of one layer's K and V together, and copies of n positions of all
     * layers to / from a buffer of n * n_layer * kv_pos_bytes bytes (session state files) */
    size_t (*kv_pos_bytes)(void *ctx);
    void (*kv_read)(void *ctx, uint32_t p0, uint32_t n, void *dst);
    void (*kv_write)(void *ctx, uint32_t p0, uint32_t n, const void *src);
    /* optional (NULL: matmul per matrix): y[i] = W[i] x (+ bias[i]) for n_w matrices of one width
     * that read the same x, the same results as n_w matmul calls (a backend may prepare x once) */
    void (*matmul_shared)(void *ctx, int n_w, const zeta_weight *const *w, const zeta_weight *const *bias, const float *x,
                          int n_tok, float *const *y);
    /* optional (NULL: the session computes it on the host from the logits): the Shannon entropy
     * (nats) of softmax(x), x n floats of a backend buffer (the logits row just computed), written
     * to *host by the next read when that succeeds (a device backend computes it where the logits
     * are, so the gate of variational mode does not scan them on the host) */
    void (*entropy)(void *ctx, const float *x, int n, float *host);
};

typedef struct zeta_backend_config {
    int n_threads;
    uint32_t n_ctx;
    zeta_type type_k, type_v; /* KV cache types: F32, F16, Q8_0, Q4_0 */
    bool kv_rotate;           /* rotate quantized K / V rows (see cpu_kv_rotation) */
    uint32_t max_batch;     /* largest n_tok of one call */
} zeta_backend_config;

/* The sparse decode ops of variational gating (one token; host buffers). Kept outside
 * zeta_backend_ops so the table's layout is unchanged for backends without them (CUDA): a backend
 * that has them returns them from its own getter (CPU: cpu_sparse_ops). */
typedef struct zeta_sparse_ops {
    /* sel = the inputs of x (n floats) with |x_i| >= thr, in order, with the sums of squares of the
     * kept and of all inputs (sel->idx / val hold n entries) */
    void (*select)(void *ctx, const float *x, uint32_t n, float thr, zs_sel *sel);
    /* y[i] = W[i]_sel x_sel (+ bias[i]) for the n_w (<= ZS_MAX_SHARED) matrices that share the
     * selection: only the columns named by sel are read */
    void (*matmul)(void *ctx, int n_w, const zs_mat *const *w, const zeta_weight *const *bias, const zs_sel *sel, float *const *y);
    /* A backend that keeps the selection on the device (CUDA) sets project and step_stats instead
     * of select and matmul (those are then NULL): project is the same product, y[i] = W[i]_sel
     * x_sel (+ bias[i]) with x's kept inputs |x_i| >= thr, for input kind `kind` of layer il (x and
     * y are backend buffers); its counters are only known after the step: step_stats, called once
     * after the step's read, adds each thresholded input's kept count, width and kept / total sum
     * of squares (energy: one term per input) to the arrays, as forward_batch does for select. */
    void (*project)(void *ctx, uint32_t il, int kind, const float *x, uint32_t n_in, float thr, int n_w, const zs_mat *const *w,
                    const zeta_weight *const *bias, float *const *y);
    void (*step_stats)(void *ctx, uint64_t *kept, uint64_t *total, double *energy_sum, uint64_t *n_energy);
} zeta_sparse_ops;
const zeta_sparse_ops *cpu_sparse_ops(void);

/* Prepares the model's weights for the CPU backend (repacks Q4_0/Q8_0 matrices into 8-row
 * interleaved groups). Called once at load, before the model is shared. */
zeta_status cpu_prepare_model(struct zeta_model *m, zeta_error *err);

zeta_status cpu_backend_new(const struct zeta_model *m, const zeta_backend_config *cfg, zeta_backend_inst *out,
                            zeta_error *err);

#endif
