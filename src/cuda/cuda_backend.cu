/* cuda_backend.cu — the CUDA implementation of backend.h's sessions (devices and the weights'
 * upload at model load: cuda_model.cu): per session a stream, a cuBLAS handle, activation buffers,
 * scratch and a KV cache (f16, or cuda_kvq.cu's types). Ops return nothing, so the first failing CUDA or cuBLAS call is
 * kept (with the driver's text), later ops are skipped, and read() reports it as ZETA_ERR_BACKEND.
 * One-token steps (decode) are recorded between get_rows and read, then run with fused kernels as
 * a CUDA graph that is replayed while the recorded ops stay the same (see cuda_ctx.mode). The sparse
 * pass of variational gating (cuda_sparse_ops) records its products the same way. */
#include "cuda/cuda_internal.cuh"

#include <cublas_v2.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" void cpu_kv_rotation(const zeta_hparams *hp, zeta_type tk, zeta_type tv, bool enabled, int *rk, int *rv); /* cpu/cpu_kv.h */

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
};

/* one recorded op of a decode step; compared with memcmp (always zeroed before it is filled), so
 * it holds everything that shapes the launches except the position */
enum { REC_EMBED, REC_RMSNORM, REC_MATMUL, REC_ROPE, REC_ATTN, REC_SWIGLU, REC_ADD, REC_SMATMUL };
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

static cuda_rec *rec_new(cuda_ctx *c, int kind);
static void rec_flush(cuda_ctx *c);
static bool grow_x8(cuda_ctx *c, size_t K, size_t n_tok);
static void sparse_reset(cuda_ctx *c);
static void rec_run(cuda_ctx *c);
static bool ck(cuda_ctx *c, cudaError_t e, const char *what) {
    if (e == cudaSuccess) return true;
    if (!c->failed) {
        c->failed = true;
        c->fail_status = ZETA_ERR_BACKEND;
        snprintf(c->fail_msg, sizeof c->fail_msg, "CUDA: %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
    }
    cudaGetLastError();
    return false;
}

static uint8_t *kv_k(cuda_ctx *c, uint32_t il) { return c->kv + (size_t)il * (c->k_layer + c->v_layer); }
static uint8_t *kv_v(cuda_ctx *c, uint32_t il) { return kv_k(c, il) + c->k_layer; }
static const cuda_kvq *kv_fmt(const cuda_ctx *c) { return c->quant ? &c->kvq : NULL; }

static float *cu_buf_alloc(void *vctx, size_t n) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    void *p = NULL;
    if (cudaSetDevice(c->device) != cudaSuccess || cudaMalloc(&p, (n ? n : 1) * sizeof(float)) != cudaSuccess) {
        cudaGetLastError();
        return NULL;
    }
    return (float *)p;
}

static void cu_buf_free(void *vctx, float *p) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    cudaSetDevice(c->device);
    cudaFree(p);
}

static zeta_status cu_read(void *vctx, const float *src, size_t n, float *dst, zeta_error *err) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    if (c->recording) rec_run(c);
    if (!c->failed && ck(c, cudaSetDevice(c->device), "selecting the device") && n)
        ck(c, cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToHost, c->stream), "copying results to the host");
    if (!c->failed) ck(c, cudaStreamSynchronize(c->stream), "running the forward pass");
    if (c->failed) return zeta_fail(err, c->fail_status, "%s", c->fail_msg);
    return ZETA_OK;
}

extern "C" zeta_status cuda_buf_write(void *vctx, float *dst, const float *src, size_t n, zeta_error *err) {
    cudaError_t e = cudaSetDevice(((cuda_ctx *)vctx)->device);
    if (e == cudaSuccess) e = cuda_h2d(dst, src, n * sizeof(float));
    return e == cudaSuccess ? ZETA_OK : cuda_fail(err, e, "copying to the device");
}


/* ---------------------------------------------------------------- decode steps: records, fusion, graphs */

static cuda_rec *rec_new(cuda_ctx *c, int kind) {
    if (!c->recording) return NULL;
    if (c->n_rec == c->cap_rec) { /* more ops than a step of this model has: run them as they come */
        rec_flush(c);
        return NULL;
    }
    cuda_rec *r = &c->rec[c->n_rec++];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    return r;
}

static bool mm1(const cuda_rec *r) {
    if (r->kind != REC_MATMUL || r->n_rows != 1) return false;
    zeta_weight w;
    memset(&w, 0, sizeof w);
    w.type = (zeta_type)r->wtype;
    w.ne0 = r->ne0;
    return cuda_mmv_fusable(&w);
}

static void job_init(cuda_mmv_job *j, const cuda_rec *r, int mode) {
    memset(j, 0, sizeof *j);
    j->type = r->wtype;
    j->K = (int)r->ne0;
    j->mode = mode;
    j->row_bytes = r->row_bytes;
}
static void job_add(cuda_mmv_job *j, const cuda_rec *r) {
    j->W[j->n_mat] = (const uint8_t *)r->wdev;
    j->bias[j->n_mat] = r->bias;
    j->y[j->n_mat] = r->out;
    j->rows[j->n_mat] = (int)r->ne1;
    j->n_mat++;
}
static bool same_input(const cuda_rec *a, const cuda_rec *b) {
    return mm1(b) && b->a == a->a && b->wtype == a->wtype && b->ne0 == a->ne0 && b->row_bytes == a->row_bytes;
}
static bool disjoint(const float *a, size_t na, const float *b, size_t nb) { return a + na <= b || b + nb <= a; }

/* the one-token products that start at rec[i] and run as one launch: fills *j (its inputs, outputs
 * and fused epilogue) and returns how many recorded ops it consumes */
static int mm_group(const cuda_rec *rec, int i, int n, cuda_mmv_job *j) {
    const cuda_rec *r = &rec[i];
    const cuda_rec *r1 = i + 1 < n ? &rec[i + 1] : NULL, *r2 = i + 2 < n ? &rec[i + 2] : NULL;
    if (r1 && r2 && same_input(r, r1) && r->ne1 == r1->ne1 && r2->kind == REC_SWIGLU && r2->a == r->out && r2->b == r1->out &&
        r2->out == r->out && (uint64_t)r2->n == r->ne1 && disjoint(r->out, r->ne1, r1->out, r1->ne1)) {
        job_init(j, r, CUDA_MMV_SWIGLU);
        job_add(j, r);
        job_add(j, r1);
        return 3;
    }
    if (r1 && r1->kind == REC_ADD && r1->b == r->out && (uint64_t)r1->n == r->ne1 && disjoint(r1->out, r->ne1, r->a, r->ne0) &&
        disjoint(r1->out, r->ne1, r->out, r->ne1)) {
        job_init(j, r, CUDA_MMV_PLAIN);
        job_add(j, r);
        j->res = r1->out;
        return 2;
    }
    job_init(j, r, CUDA_MMV_PLAIN);
    job_add(j, r);
    int used = 1;
    /* the next matmuls of the same input join while no output feeds a later input */
    while (j->n_mat < 3 && i + used < n && same_input(r, &rec[i + used]) && disjoint(rec[i + used].out, rec[i + used].ne1, r->a, r->ne0)) {
        job_add(j, &rec[i + used]);
        used++;
    }
    return used;
}

/* whether the recorded op reads p (in-place ops read their output) */
static bool rec_reads(const cuda_rec *r, const float *p) {
    switch (r->kind) {
    case REC_RMSNORM: case REC_MATMUL: case REC_SMATMUL: return r->a == p;
    case REC_ROPE: return r->out == p;
    case REC_ATTN: case REC_SWIGLU: return r->a == p || r->b == p || r->c == p;
    case REC_ADD: return r->out == p || r->b == p;
    default: return false;
    }
}

/* whether no op of rec[k..n) reads p before one overwrites it (a flushed part of a step: unknown ops
 * follow, so never) */
static bool unread_after(const cuda_ctx *c, const cuda_rec *rec, int k, int n, const float *p) {
    for (; k < n; k++) {
        if (rec_reads(&rec[k], p)) return false;
        if (rec[k].out == p) return true;
    }
    return !c->partial;
}

/* ---------------------------------------------------------------- the sparse pass (variational gating) */

static size_t sstat_bytes(const cuda_ctx *c) { return (size_t)c->n_layer * ZS_N_KIND * 3 * sizeof(double); }
static double *sstat_of(cuda_ctx *c, const cuda_rec *r) { return c->sstat + 3 * ((size_t)r->il * ZS_N_KIND + (size_t)r->skind); }
static bool recs_sparse(const cuda_rec *rec, int n) {
    for (int i = 0; i < n; i++)
        if (rec[i].kind == REC_SMATMUL) return true;
    return false;
}

/* the rounding of a sparse record's input: its threshold and counters */
static cuda_sparse_round sparse_round(cuda_ctx *c, const cuda_rec *r) {
    cuda_sparse_round sr;
    memset(&sr, 0, sizeof sr);
    sr.thr = r->thr;
    sr.stat = sstat_of(c, r);
    return sr;
}

/* the products of one sparse record: x thresholded and rounded into xq unless a kernel before did
 * (xq_ready), then one launch per run of matrices of one layout format; res: the residual the one
 * matrix's output is also added to */
static cudaError_t sparse_exec(cuda_ctx *c, const cuda_rec *r, bool xq_ready, float *res) {
    cudaError_t e = cudaSuccess;
    if (!xq_ready) {
        const cuda_sparse_round sr = sparse_round(c, r);
        e = cuda_quant_q8_sparse(c->stream, r->a, r->n, &sr, c->mm.xq);
    }
    for (int i = 0; i < r->n_smat && e == cudaSuccess;) {
        cuda_smv_job j;
        memset(&j, 0, sizeof j);
        j.fmt = r->smat[i].fmt;
        j.K = r->n;
        j.res = res;
        j.trigger = cuda_pdl_chain();
        for (; i < r->n_smat && r->smat[i].fmt == j.fmt; i++) {
            const zs_mat *w = &r->smat[i];
            j.W[j.n_mat] = w->cols;
            j.blk_bytes[j.n_mat] = w->blk_bytes;
            j.col_bytes[j.n_mat] = w->col_bytes;
            j.bias[j.n_mat] = r->sbias[i];
            j.y[j.n_mat] = r->sout[i];
            j.rows[j.n_mat] = (int)w->n_out;
            j.n_mat++;
        }
        e = cuda_smv(c->stream, &j, c->mm.xq);
    }
    return e;
}

static void cu_sparse_project(void *vctx, uint32_t il, int kind, const float *x, uint32_t n_in, float thr, int n_w, const zs_mat *const *w,
                              const zeta_weight *const *bias, float *const *y) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    if (c->failed) return;
    if (!c->sstat || il >= c->n_layer || kind < 0 || kind >= ZS_N_KIND || n_w < 1 || n_w > 3 || n_in % 32) {
        ck(c, cudaErrorInvalidValue, "sparse product: bad arguments, or a model loaded without a sparsity file");
        return;
    }
    cuda_rec tmp, *r = c->recording ? rec_new(c, REC_SMATMUL) : NULL;
    if (!r) {
        r = &tmp;
        memset(r, 0, sizeof *r);
        r->kind = REC_SMATMUL;
    }
    r->a = x; r->n = (int)n_in; r->n_rows = 1; r->il = (int)il; r->skind = kind; r->thr = thr; r->n_smat = n_w;
    r->out = y[0];
    for (int i = 0; i < n_w; i++) {
        if (w[i]->n_in != n_in || !cuda_smv_fmt_ok(w[i]->fmt)) {
            ck(c, cudaErrorInvalidValue, "sparse product: a matrix without a native layout");
            return;
        }
        memcpy(&r->smat[i], w[i], sizeof r->smat[i]); /* padding too: records are compared with memcmp */
        r->sbias[i] = bias[i] && bias[i]->data ? (const float *)bias[i]->dev : NULL;
        r->sout[i] = y[i];
    }
    const size_t slot = (size_t)il * ZS_N_KIND + (size_t)kind;
    c->sused[slot] = 1;
    c->sn_in[slot] = n_in;
    if (r != &tmp) return;
    if (!grow_x8(c, n_in, 1)) return;
    ck(c, sparse_exec(c, r, false, NULL), "sparse product");
}

static void cu_sparse_stats(void *vctx, uint64_t *kept, uint64_t *total, double *energy_sum, uint64_t *n_energy) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    if (c->failed) return;
    if (!c->sstat_host_ok && !ck(c, cudaMemcpyAsync(c->sstat_host, c->sstat, sstat_bytes(c), cudaMemcpyDeviceToHost, c->stream),
                                 "reading the sparse counters"))
        return;
    if (!ck(c, cudaStreamSynchronize(c->stream), "reading the sparse counters")) return;
    for (size_t slot = 0; slot < (size_t)c->n_layer * ZS_N_KIND; slot++) {
        if (!c->sused[slot]) continue;
        const double *st = c->sstat_host + 3 * slot;
        kept[slot % ZS_N_KIND] += (uint64_t)st[0];
        total[slot % ZS_N_KIND] += c->sn_in[slot];
        *energy_sum += st[2] > 0.0 ? st[1] / st[2] : 1.0;
        (*n_energy)++;
    }
    sparse_reset(c);
}

/* whether one-token products of this weight type read x rounded to Q8_0 blocks in xq (q8_store's
 * layout): q4_0 / q8_0 (k_mmvq) and q4_1 / q5_0 / q5_1 / iq4_nl (k_mmvb8) */
static bool xq8_type(int type) { return cuda_type_split(type) || cuda_mmvb8_type(type); }

/* ZETA_CUDA_Q8K_FUSE=0: every q4_K / q5_K / q6_K product rounds its own input to Q8_K (A/B of the
 * norm's rounding and of the reuse by the next product on the same input) */
static bool cuda_fuse_q8k(void) {
    static int on = -1;
    return cuda_switch_on("ZETA_CUDA_Q8K_FUSE", &on);
}

/* ZETA_CUDA_ATTN_Q8=0: the attention does not round its output for the next product (A/B) */
static bool cuda_fuse_attn_q8(void) {
    static int on = -1;
    return cuda_switch_on("ZETA_CUDA_ATTN_Q8", &on);
}

/* enqueues the recorded ops [0, n) on the stream (eagerly, or into a graph being captured), fusing
 * neighbours: matmuls of one input -> one launch (q, k, v); gate, up, swiglu -> one launch; a
 * matmul whose output is then added to the residual -> the add in its store; the two ropes of a
 * layer -> one launch; the KV store into the attention kernel; a norm or attention whose output
 * feeds q4_0 / q8_0 products -> it also rounds the output to 8 bits for them. Returns the first
 * launch error. */
static cudaError_t rec_exec(cuda_ctx *c, const cuda_rec *rec, int n) {
    cudaError_t e = cudaMemcpyAsync(c->pos_dev, c->pos_host, sizeof(uint32_t), cudaMemcpyHostToDevice, c->stream);
    const bool sparse = recs_sparse(rec, n);
    /* the vector that c->mm.xq holds rounded to 8 bits for the next product (set by the norm or
     * the attention before it) */
    const float *xq_of = NULL;
    bool xq_k = false; /* xq holds xq_of as Q8_K (k_mmvk8's input), not as Q8_0 blocks */
    /* the RoPE of the attention's q and k, left to the attention kernel (cuda_attn_args.rope) */
    cuda_rope_args rope_fused;
    bool have_rope = false;
    for (int i = 0; i < n && e == cudaSuccess; i++) {
        const cuda_rec *r = &rec[i];
        /* xq's contents are offered to the op right after the one that left them, only */
        const float *xq_in = xq_of;
        const bool xq_in_k = xq_k;
        xq_of = NULL;
        xq_k = false;
        switch (r->kind) {
        case REC_EMBED:
            e = cudaMemcpyAsync(r->out, c->stage, (size_t)r->n * sizeof(float), cudaMemcpyHostToDevice, c->stream);
            break;
        case REC_RMSNORM: {
            /* a q4_0 / q8_0 product of the output next: the norm also rounds it to 8 bits for it */
            const cuda_rec *r1 = i + 1 < n ? &rec[i + 1] : NULL;
            if (r->n_rows == 1 && r1 && r1->kind == REC_SMATMUL && r1->a == r->out && r1->n == r->n) {
                const cuda_sparse_round sr = sparse_round(c, r1);
                e = cuda_rmsnorm_q8(c->stream, r->a, (const float *)r->wdev, r->n, r->eps, r->out, c->mm.xq, &sr);
                xq_of = r->out;
            } else if (r->n_rows == 1 && r1 && mm1(r1) && xq8_type(r1->wtype) && r1->a == r->out && r1->ne0 == (uint64_t)r->n) {
                e = cuda_rmsnorm_q8(c->stream, r->a, (const float *)r->wdev, r->n, r->eps, r->out, c->mm.xq, NULL);
                xq_of = r->out;
            } else if (r->n_rows == 1 && r1 && mm1(r1) && cuda_mmvk8_type(r1->wtype) && cuda_mmvk8_on() && cuda_fuse_q8k() &&
                       r1->a == r->out && r1->ne0 == (uint64_t)r->n && r->n % 256 == 0) {
                /* a q4_K / q5_K / q6_K product next: the norm rounds its output to Q8_K for it */
                e = cuda_rmsnorm_q8K(c->stream, r->a, (const float *)r->wdev, r->n, r->eps, r->out, c->mm.xq);
                xq_of = r->out;
                xq_k = true;
            } else {
                e = cuda_rmsnorm(c->stream, r->a, (const float *)r->wdev, r->n, r->eps, r->n_rows, r->out);
            }
            break;
        }
        case REC_MATMUL: {
            if (!mm1(r)) {
                zeta_weight w;
                memset(&w, 0, sizeof w);
                w.name = "matmul"; w.type = (zeta_type)r->wtype; w.ne0 = r->ne0; w.ne1 = r->ne1; w.row_bytes = r->row_bytes;
                w.dev = r->wdev;
                int bst = 0;
                e = cuda_matmul(c->stream, c->blas, &w, r->bias, r->a, r->n_rows, r->out, &c->mm, &bst);
                if (e == cudaSuccess && bst) e = cudaErrorUnknown;
                break;
            }
            cuda_mmv_job j;
            i += mm_group(rec, i, n, &j) - 1;
            const bool k8 = cuda_mmvk8_type(r->wtype) && cuda_mmvk8_on() && r->ne0 % 256 == 0, q8 = xq8_type(r->wtype);
            j.xq_ready = xq_in == r->a && xq_in_k == k8 && (k8 || q8);
            j.trigger = cuda_pdl_chain();
            e = cuda_mmv(c->stream, &j, r->a, c->mm.xq);
            if (((k8 && cuda_fuse_q8k()) || q8) && i + 1 < n && rec[i + 1].kind == REC_MATMUL) {
                /* xq now holds x rounded (Q8_K or Q8_0 blocks): a dense product of another type of the
                 * same layout on the same x next (v after q and k, say) takes it, unless this one's
                 * outputs overwrote x (never a sparse product: its rounding drops inputs) */
                bool keep = true;
                for (int m = 0; m < j.n_mat; m++)
                    if (!disjoint(j.y[m], (size_t)j.rows[m], r->a, (size_t)r->ne0)) keep = false;
                if (j.res && !disjoint(j.res, (size_t)j.rows[0], r->a, (size_t)r->ne0)) keep = false;
                if (keep) {
                    xq_of = r->a;
                    xq_k = k8;
                }
            }
            break;
        }
        case REC_ROPE: {
            const cuda_rope_args a = cuda_rope_args_make(&r->rp);
            const cuda_rec *r1 = i + 1 < n ? &rec[i + 1] : NULL, *r2 = i + 2 < n ? &rec[i + 2] : NULL;
            if (r1 && r2 && r1->kind == REC_ROPE && r2->kind == REC_ATTN && r->n_rows == 1 && r1->n_rows == 1 &&
                r->head_dim == (int)c->dk && r1->head_dim == (int)c->dk && r->n_heads == (int)c->n_head &&
                r1->n_heads == (int)c->n_head_kv && !memcmp(&r1->rp, &r->rp, sizeof r->rp) && r2->a == r->out && r2->b == r1->out &&
                unread_after(c, rec, i + 3, n, r->out) && unread_after(c, rec, i + 3, n, r1->out)) {
                /* q and k rotated by the attention kernel, which is their only reader: they stay
                 * unrotated in memory */
                const cuda_attn_args aa = {(int)c->n_head, (int)c->n_head_kv, (int)c->dk, (int)c->dv, 1, c->rec_pos0, 1.0f,
                                           c->pos_dev, 1, NULL, NULL, {}, kv_fmt(c)};
                if (cuda_attention_rope_ok(&aa, &a)) {
                    rope_fused = a;
                    have_rope = true;
                    i++;
                    break;
                }
            }
            if (r1 && r1->kind == REC_ROPE && r1->head_dim == r->head_dim && r1->n_rows == r->n_rows &&
                !memcmp(&r1->rp, &r->rp, sizeof r->rp) && r1->out != r->out) {
                e = cuda_rope2(c->stream, r->out, r->n_heads, r1->out, r1->n_heads, r->n_rows, r->head_dim, 0, c->pos_dev, &a);
                i++;
            } else {
                e = cuda_rope2(c->stream, r->out, r->n_heads, NULL, 0, r->n_rows, r->head_dim, 0, c->pos_dev, &a);
            }
            break;
        }
        case REC_ATTN: {
            cuda_attn_args a = {(int)c->n_head, (int)c->n_head_kv, (int)c->dk, (int)c->dv, 1, c->rec_pos0, 1.0f / sqrtf((float)c->dk),
                                c->pos_dev, 1, NULL, have_rope ? &rope_fused : NULL, {}, kv_fmt(c)};
            have_rope = false;
            /* the output projection next (q4_0 / q8_0): the attention rounds its output for it */
            const cuda_rec *r1 = i + 1 < n ? &rec[i + 1] : NULL;
            if (r1 && mm1(r1) && xq8_type(r1->wtype) && r1->a == r->out && r1->ne0 == (uint64_t)c->n_head * c->dv &&
                c->dv % 32 == 0 && cuda_fuse_attn_q8()) {
                a.xq = c->mm.xq;
                xq_of = r->out;
            } else if (r1 && r1->kind == REC_SMATMUL && r1->a == r->out && r1->n == (int)(c->n_head * c->dv) && c->dv % 32 == 0 &&
                       cuda_fuse_attn_q8()) {
                a.xq = c->mm.xq;
                a.xq_sparse = sparse_round(c, r1);
                xq_of = r->out;
            }
            e = cuda_attention(c->stream, &a, kv_k(c, (uint32_t)r->il), kv_v(c, (uint32_t)r->il), r->a, r->b, r->c, r->out, c->part,
                               c->part_floats, c->n_sm);
            break;
        }
        case REC_SWIGLU: {
            /* the sparse pass's product of the output next: one kernel also thresholds and rounds it */
            const cuda_rec *r1 = i + 1 < n ? &rec[i + 1] : NULL;
            if (r1 && r1->kind == REC_SMATMUL && r1->a == r->out && r1->n == r->n && r->n % 32 == 0) {
                const cuda_sparse_round sr = sparse_round(c, r1);
                e = cuda_swiglu_q8_sparse(c->stream, r->a, r->b, r->n, r->out, &sr, c->mm.xq);
                xq_of = r->out;
            } else {
                e = cuda_swiglu(c->stream, r->a, r->b, (size_t)r->n, r->out);
            }
            break;
        }
        case REC_ADD: e = cuda_add(c->stream, r->out, r->b, (size_t)r->n); break;
        case REC_SMATMUL: {
            /* its product then added to the residual: the add in the product's store */
            const cuda_rec *r1 = i + 1 < n ? &rec[i + 1] : NULL;
            float *res = NULL;
            if (r->n_smat == 1 && r1 && r1->kind == REC_ADD && r1->b == r->sout[0] && r1->n == (int)r->smat[0].n_out &&
                disjoint(r1->out, r->smat[0].n_out, r->a, (size_t)r->n) && disjoint(r1->out, r->smat[0].n_out, r->sout[0], r->smat[0].n_out)) {
                res = r1->out;
                i++;
            }
            e = sparse_exec(c, r, xq_in == r->a && !xq_in_k, res);
            break;
        }
        }
    }
    if (e == cudaSuccess && sparse && !c->partial)
        e = cudaMemcpyAsync(c->sstat_host, c->sstat, sstat_bytes(c), cudaMemcpyDeviceToHost, c->stream);
    return e;
}

/* the recorded step: replay the graph when the ops are the ones it was captured from, else
 * capture (graph mode) or run them eagerly */
static void rec_run(cuda_ctx *c) {
    c->recording = false;
    if (c->failed || !c->n_rec) return;
    *c->pos_host = c->rec_pos0 == UINT32_MAX ? 0 : c->rec_pos0;
    const bool sparse = recs_sparse(c->rec, c->n_rec);
    if (c->mode == CUDA_EXEC_GRAPH) {
        for (int g = 0; g < 2; g++)
            if (c->gexec[g] && c->n_grec[g] == c->n_rec && !memcmp(c->grec[g], c->rec, sizeof(cuda_rec) * (size_t)c->n_rec)) {
                c->glast = g;
                if (ck(c, cudaGraphLaunch(c->gexec[g], c->stream), "launching the decode graph")) c->n_replay++;
                c->sstat_host_ok = sparse;
                return;
            }
        const int slot = c->gexec[0] && c->gexec[1] ? 1 - c->glast : c->gexec[0] ? 1 : 0;
        if (c->gexec[slot]) {
            cudaGraphExecDestroy(c->gexec[slot]);
            c->gexec[slot] = NULL;
        }
        cudaGraph_t g = NULL;
        cudaError_t e = cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal);
        if (e == cudaSuccess) {
            const cudaError_t e1 = rec_exec(c, c->rec, c->n_rec);
            e = cudaStreamEndCapture(c->stream, &g);
            if (e1 != cudaSuccess) e = e1;
        }
        cudaGraphExec_t x = NULL;
        if (e == cudaSuccess) e = cudaGraphInstantiate(&x, g, 0);
        if (g) cudaGraphDestroy(g);
        if (e == cudaSuccess) {
            c->gexec[slot] = x;
            memcpy(c->grec[slot], c->rec, sizeof(cuda_rec) * (size_t)c->n_rec);
            c->n_grec[slot] = c->n_rec;
            c->glast = slot;
            c->n_capture++;
            if (ck(c, cudaGraphLaunch(c->gexec[slot], c->stream), "launching the decode graph")) c->n_replay++;
            c->sstat_host_ok = sparse;
            return;
        }
        /* no graph: run the step eagerly from now on */
        cudaGetLastError();
        c->n_capture_fail++;
        c->mode = CUDA_EXEC_RECORD;
    }
    c->n_eager++;
    if (ck(c, rec_exec(c, c->rec, c->n_rec), "running the decode step")) c->sstat_host_ok = sparse;
}

/* an op that cannot be recorded: the recorded ones run first, the rest of the step eagerly */
static void rec_flush(cuda_ctx *c) {
    if (!c->recording) return;
    c->recording = false;
    if (c->failed || !c->n_rec) return;
    *c->pos_host = c->rec_pos0 == UINT32_MAX ? 0 : c->rec_pos0;
    /* pos_host may still feed an earlier copy: wait for the stream first */
    if (!ck(c, cudaStreamSynchronize(c->stream), "waiting for the stream")) return;
    c->n_eager++;
    c->partial = true;
    ck(c, rec_exec(c, c->rec, c->n_rec), "running the decode step");
    c->partial = false;
}

/* clears the counters of the sparse pass for the next step */
static void sparse_reset(cuda_ctx *c) {
    bool any = false;
    for (size_t slot = 0; slot < (size_t)c->n_layer * ZS_N_KIND; slot++) any = any || c->sused[slot];
    if (!any) return;
    memset(c->sused, 0, (size_t)c->n_layer * ZS_N_KIND);
    c->sstat_host_ok = false;
    ck(c, cudaMemsetAsync(c->sstat, 0, sstat_bytes(c), c->stream), "clearing the sparse counters");
}

static const zeta_sparse_ops k_cuda_sparse_ops = {NULL, NULL, cu_sparse_project, cu_sparse_stats};

extern "C" const zeta_sparse_ops *cuda_sparse_ops(void) { return &k_cuda_sparse_ops; }

extern "C" void cuda_set_exec_mode(void *vctx, int mode) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    rec_flush(c);
    c->mode = mode;
}

extern "C" void cuda_exec_stats(void *vctx, long *captures, long *replays, long *eager, long *capture_failures) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    if (captures) *captures = c->n_capture;
    if (replays) *replays = c->n_replay;
    if (eager) *eager = c->n_eager;
    if (capture_failures) *capture_failures = c->n_capture_fail;
}

/* ---------------------------------------------------------------- ops */

/* token embeddings: rows looked up and dequantized in host memory (the table stays there), then
 * one upload */
static void cu_get_rows(void *vctx, const zeta_weight *w, const zeta_token *tokens, int n, float *out) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    if (c->failed || !ck(c, cudaSetDevice(c->device), "selecting the device")) return;
    const size_t need = (size_t)n * w->ne0;
    if (need > c->stage_floats) {
        ck(c, cudaErrorInvalidValue, "embedding a batch larger than the session's batch size");
        return;
    }
    /* the staging buffer may still feed the previous batch's upload */
    if (!ck(c, cudaStreamSynchronize(c->stream), "waiting for the previous batch")) return;
    for (int t = 0; t < n; t++)
        zeta_dequantize_row(w->type, (const uint8_t *)w->data + (size_t)tokens[t] * w->row_bytes, c->stage + (size_t)t * w->ne0,
                            (int64_t)w->ne0);
    c->recording = false;
    sparse_reset(c); /* a step whose counters nobody read (cancelled, or a dense step) leaves none behind */
    if (n == 1 && c->mode != CUDA_EXEC_DIRECT) {
        c->recording = true;
        c->n_rec = 0;
        c->rec_pos0 = UINT32_MAX; /* set by the first rope or attention */
        cuda_rec *r = rec_new(c, REC_EMBED);
        if (r) {
            r->out = out;
            r->n = (int)need;
            return;
        }
    }
    ck(c, cudaMemcpyAsync(out, c->stage, need * sizeof(float), cudaMemcpyHostToDevice, c->stream), "uploading embeddings");
}

static void cu_rmsnorm(void *vctx, const float *x, const zeta_weight *w, float eps, int n_rows, float *out) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    if (c->failed) return;
    if (c->recording) {
        cuda_rec *r = rec_new(c, REC_RMSNORM);
        if (r) {
            r->a = x; r->wdev = w->dev; r->n = (int)w->ne0; r->eps = eps; r->n_rows = n_rows; r->out = out;
            return;
        }
    }
    ck(c, cuda_rmsnorm(c->stream, x, (const float *)w->dev, (int)w->ne0, eps, n_rows, out), "rmsnorm");
}

/* the 8-bit activation buffers for a q4_0 / q8_0 product of n_tok x K (or a one-token q4_K / q5_K /
 * q6_K product, xq): the session's are sized for
 * its model; a wider or longer one (op tests) gets larger buffers once the stream is idle */
static bool grow_x8(cuda_ctx *c, size_t K, size_t n_tok) {
    const size_t need_q = cuda_xq_bytes((int)K), need_r = n_tok > 1 ? n_tok * K : 0;
    if (need_q <= c->xq_bytes && need_r <= c->mm.xr_floats) return true;
    if (!ck(c, cudaStreamSynchronize(c->stream), "matmul")) return false;
    if (need_q > c->xq_bytes) {
        cudaFree(c->mm.xq);
        c->mm.xq = NULL;
        c->xq_bytes = 0;
        if (!ck(c, cudaMalloc(&c->mm.xq, need_q), "allocating scratch")) return false;
        c->xq_bytes = need_q;
    }
    if (need_r > c->mm.xr_floats) {
        cudaFree(c->mm.xr);
        c->mm.xr = NULL;
        c->mm.xr_floats = 0;
        if (!ck(c, cudaMalloc(&c->mm.xr, need_r * sizeof(float)), "allocating scratch")) return false;
        c->mm.xr_floats = need_r;
    }
    return true;
}

static void cu_matmul(void *vctx, const zeta_weight *w, const zeta_weight *bias, const float *x, int n_tok, float *y) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    if (c->failed) return;
    if (c->recording) {
        cuda_rec *r = rec_new(c, REC_MATMUL);
        if (r) {
            r->a = x; r->wdev = w->dev; r->wtype = (int)w->type; r->ne0 = w->ne0; r->ne1 = w->ne1; r->row_bytes = w->row_bytes;
            r->bias = bias && bias->data ? (const float *)bias->dev : NULL;
            r->n_rows = n_tok; r->out = y;
            return;
        }
    }
    int bst = 0;
    const float *b = bias && bias->data ? (const float *)bias->dev : NULL;
    if ((cuda_type_split((int)w->type) || (n_tok == 1 && (cuda_mmvk8_type((int)w->type) || cuda_mmvb8_type((int)w->type)))) &&
        !grow_x8(c, (size_t)w->ne0, (size_t)n_tok))
        return;
    cudaError_t e = cuda_matmul(c->stream, c->blas, w, b, x, n_tok, y, &c->mm, &bst);
    if (!ck(c, e, w->name ? w->name : "matmul")) return;
    if (bst && !c->failed) {
        c->failed = true;
        c->fail_status = ZETA_ERR_BACKEND;
        snprintf(c->fail_msg, sizeof c->fail_msg, "cuBLAS: SGEMM for %s failed with status %d", w->name ? w->name : "?", bst);
    }
}

/* several matrices of one input: q4_0 / q8_0 prompt products (cuda_mmq) round x once for all of
 * them (ZETA_CUDA_SHARE_X8=0: once each, as separate matmul calls do); the same floats either way */
static void cu_matmul_shared(void *vctx, int n_w, const zeta_weight *const *w, const zeta_weight *const *bias, const float *x,
                             int n_tok, float *const *y) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    static int share = -1;
    int n_mmq = 0;
    for (int i = 0; i < n_w; i++) n_mmq += cuda_mmq_ok(w[i], n_tok);
    if (c->failed || c->recording || n_mmq < 2 || !cuda_switch_on("ZETA_CUDA_SHARE_X8", &share)) {
        for (int i = 0; i < n_w; i++) cu_matmul(vctx, w[i], bias[i], x, n_tok, y[i]);
        return;
    }
    const int K = (int)w[0]->ne0;
    if (!grow_x8(c, (size_t)K, (size_t)n_tok) || !ck(c, cuda_mmq_quant(c->stream, x, K, n_tok, (uint8_t *)c->mm.xr), "matmul"))
        return;
    for (int i = 0; i < n_w; i++) {
        const float *b = bias[i] && bias[i]->data ? (const float *)bias[i]->dev : NULL;
        if (cuda_mmq_ok(w[i], n_tok)) { /* the other products here do not touch xr: see cuda_matmul */
            if (!ck(c, cuda_mmq(c->stream, w[i], b, NULL, n_tok, y[i], (uint8_t *)c->mm.xr), w[i]->name ? w[i]->name : "matmul")) return;
        } else {
            cu_matmul(vctx, w[i], bias[i], x, n_tok, y[i]);
        }
    }
}

static void cu_rope(void *vctx, float *x, int n_tok, int n_heads, int head_dim, uint32_t pos0, const zeta_rope_params *rp) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    if (c->failed) return;
    if (c->recording && c->rec_pos0 != UINT32_MAX && c->rec_pos0 != pos0) rec_flush(c);
    if (c->recording) {
        cuda_rec *r = rec_new(c, REC_ROPE);
        if (r) {
            c->rec_pos0 = pos0;
            r->out = x; r->n_rows = n_tok; r->n_heads = n_heads; r->head_dim = head_dim; r->rp = *rp;
            return;
        }
    }
    const cuda_rope_args a = cuda_rope_args_make(rp);
    ck(c, cuda_rope(c->stream, x, n_tok, n_heads, head_dim, pos0, &a), "rope");
}

static void cu_attention(void *vctx, int il, float *q, float *k, float *v, int n_tok, uint32_t pos0, float *out) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    if (c->failed) return;
    cuda_attn_args a = {(int)c->n_head, (int)c->n_head_kv, (int)c->dk, (int)c->dv, n_tok, pos0, 1.0f / sqrtf((float)c->dk), NULL, 0, NULL, NULL, {},
                        kv_fmt(c)};
    if (c->recording && (n_tok != 1 || (c->rec_pos0 != UINT32_MAX && c->rec_pos0 != pos0))) rec_flush(c);
    if (c->recording) {
        cuda_rec *r = rec_new(c, REC_ATTN);
        if (r) {
            c->rec_pos0 = pos0;
            r->il = il; r->a = q; r->b = k; r->c = v; r->out = out;
            r->n_split = cuda_attention_split(&a, c->part_floats, c->n_sm);
            r->n = cuda_attn_gqa_ok(&a); /* the kernel: a graph is captured again when it changes */
            return;
        }
    }
    /* prompts: the dequantization scratch (free between products) holds the partials of long
     * prefixes split over blocks */
    float *part = c->part;
    size_t part_floats = c->part_floats;
    if (n_tok > 4 && c->mm.deq && c->mm.deq_floats > part_floats) {
        part = c->mm.deq;
        part_floats = c->mm.deq_floats;
    }
    ck(c, cuda_attention(c->stream, &a, kv_k(c, (uint32_t)il), kv_v(c, (uint32_t)il), q, k, v, out, part, part_floats, c->n_sm),
       "attention");
}

static void cu_swiglu(void *vctx, const float *gate, const float *up, size_t n, float *out) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    if (c->failed) return;
    if (c->recording) {
        cuda_rec *r = rec_new(c, REC_SWIGLU);
        if (r) {
            r->a = gate; r->b = up; r->n = (int)n; r->out = out;
            return;
        }
    }
    ck(c, cuda_swiglu(c->stream, gate, up, n, out), "swiglu");
}

static void cu_add(void *vctx, float *x, const float *y, size_t n) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    if (c->failed) return;
    if (c->recording) {
        cuda_rec *r = rec_new(c, REC_ADD);
        if (r) {
            r->out = x; r->b = y; r->n = (int)n;
            return;
        }
    }
    ck(c, cuda_add(c->stream, x, y, n), "add");
}

/* context shift: positions [p0, p1) move to p0 + delta in chunks of |delta| positions, so that no
 * chunk overwrites positions that a later chunk still reads (stream order) */
static void cu_kv_shift(void *vctx, uint32_t p0, uint32_t p1, int32_t delta, const zeta_rope_params *rp) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    rec_flush(c);
    if (c->failed || delta >= 0 || !ck(c, cudaSetDevice(c->device), "selecting the device")) return;
    zeta_rope_params r1 = *rp;
    r1.mscale = 1.0f; /* the keys already carry the magnitude */
    const cuda_rope_args a = cuda_rope_args_make(&r1);
    const uint32_t step = (uint32_t)(-(int64_t)delta);
    for (uint32_t il = 0; il < c->n_layer; il++)
        for (uint32_t p = p0; p < p1; p += step) {
            const uint32_t n = p1 - p < step ? p1 - p : step;
            const uint32_t to = (uint32_t)((int64_t)p + delta);
            const cudaError_t e = c->quant ? cuda_kvq_move(c->stream, &c->kvq, kv_k(c, il), kv_v(c, il), p, to, n, (int)c->n_head_kv, (int)c->dk,
                                                           delta, &a)
                                           : cuda_kv_move(c->stream, (__half *)kv_k(c, il), (__half *)kv_v(c, il), p, to, n,
                                                          (int)c->n_head_kv, (int)c->dk, (int)c->dv, delta, &a);
            if (!ck(c, e, "context shift")) return;
        }
}

/* bytes of one position's K (which 0) or V (1) rows in the CPU backend's (GGUF) layout */
static size_t kv_row_bytes(const cuda_ctx *c, int which) {
    const zeta_type t = c->quant ? (zeta_type)(which ? c->kvq.tv : c->kvq.tk) : ZETA_TYPE_F16;
    return (size_t)c->n_head_kv * zeta_row_bytes(t, which ? c->dv : c->dk);
}

static size_t cu_kv_pos_bytes(void *vctx) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    return kv_row_bytes(c, 0) + kv_row_bytes(c, 1);
}

/* the CPU backend's layout: per layer, n positions of K, then n of V */
static void cu_kv_copy(cuda_ctx *c, uint32_t p0, uint32_t n, uint8_t *host, bool to_host) {
    rec_flush(c);
    if (c->failed || !ck(c, cudaSetDevice(c->device), "selecting the device")) return;
    if (c->quant) {
        for (uint32_t il = 0; il < c->n_layer; il++)
            for (int which = 0; which < 2; which++) {
                uint8_t *L = which ? kv_v(c, il) : kv_k(c, il);
                if (!ck(c, cuda_kvq_copy(c->stream, &c->kvq, which, L, (int)c->n_head_kv, (int)c->dk, p0, n, host, to_host),
                        "copying the KV cache"))
                    return;
                host += n * kv_row_bytes(c, which);
            }
        return;
    }
    const size_t kb = (size_t)c->n_head_kv * c->dk * sizeof(__half), vb = (size_t)c->n_head_kv * c->dv * sizeof(__half);
    for (uint32_t il = 0; il < c->n_layer; il++) {
        uint8_t *K = kv_k(c, il) + (size_t)p0 * kb, *V = kv_v(c, il) + (size_t)p0 * vb;
        cudaError_t e1 = to_host ? cudaMemcpyAsync(host, K, n * kb, cudaMemcpyDeviceToHost, c->stream)
                                 : cudaMemcpyAsync(K, host, n * kb, cudaMemcpyHostToDevice, c->stream);
        host += n * kb;
        cudaError_t e2 = to_host ? cudaMemcpyAsync(host, V, n * vb, cudaMemcpyDeviceToHost, c->stream)
                                 : cudaMemcpyAsync(V, host, n * vb, cudaMemcpyHostToDevice, c->stream);
        host += n * vb;
        if (!ck(c, e1, "copying the KV cache") || !ck(c, e2, "copying the KV cache")) return;
    }
    ck(c, cudaStreamSynchronize(c->stream), "copying the KV cache");
}

static void cu_kv_read(void *vctx, uint32_t p0, uint32_t n, void *dst) { cu_kv_copy((cuda_ctx *)vctx, p0, n, (uint8_t *)dst, true); }
static void cu_kv_write(void *vctx, uint32_t p0, uint32_t n, const void *src) {
    cu_kv_copy((cuda_ctx *)vctx, p0, n, (uint8_t *)src, false);
}

/* ---------------------------------------------------------------- lifetime */

static void cu_free(void *vctx) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    if (!c) return;
    cudaSetDevice(c->device);
    if (c->stream) cudaStreamSynchronize(c->stream);
    if (c->blas) cublasDestroy(c->blas);
    cudaFree(c->kv);
    cudaFree(c->part);
    cudaFree(c->mm.deq);
    cudaFree(c->mm.xq);
    cudaFree(c->mm.xr);
    cudaFree(c->mm.xs);
    if (c->stage) cudaFreeHost(c->stage);
    if (c->pos_host) cudaFreeHost(c->pos_host);
    cudaFree(c->pos_dev);
    for (int g = 0; g < 2; g++) {
        if (c->gexec[g]) cudaGraphExecDestroy(c->gexec[g]);
        free(c->grec[g]);
    }
    free(c->rec);
    cudaFree(c->sstat);
    if (c->sstat_host) cudaFreeHost(c->sstat_host);
    free(c->sused);
    free(c->sn_in);
    if (c->stream) cudaStreamDestroy(c->stream);
    cudaGetLastError();
    free(c);
}

static const zeta_backend_ops k_cuda_ops = {
    /* name */ "cuda", /* host_buffers */ false, cu_free, cu_buf_alloc, cu_buf_free, cu_read,
    cu_get_rows, cu_rmsnorm, cu_matmul, cu_rope, cu_attention, cu_swiglu, cu_add,
    cu_kv_shift, cu_kv_pos_bytes, cu_kv_read, cu_kv_write, cu_matmul_shared,
};

#define SCRATCH_MAX_FLOATS ((size_t)16 << 20) /* 64 MiB of dequantized weights per SGEMM slice */

static zeta_status check_weight(const zeta_weight *w, zeta_error *err) {
    if (!w->data || cuda_type_ok(w->type)) return ZETA_OK;
    const char *tn = zeta_type_name(w->type);
    return zeta_fail(err, ZETA_ERR_UNSUPPORTED, "the CUDA backend cannot multiply tensor '%s' of type %s yet (CUDA types: %s)",
                     w->name ? w->name : "?", tn ? tn : "?", cuda_supported_types());
}

extern "C" zeta_status cuda_backend_new(const struct zeta_model *m, const zeta_backend_config *cfg, zeta_backend_inst *out,
                                        zeta_error *err) {
    const zeta_hparams *hp = &m->hp;
    if (!m->cuda) return zeta_fail(err, ZETA_ERR_INTERNAL, "cuda_backend_new: the model was not loaded for CUDA");
    {
        char why[200];
        if (!cuda_kvq_ok((int)cfg->type_k, (int)cfg->type_v, (int)hp->head_dim_k, (int)hp->head_dim_v, why, sizeof why))
            return zeta_fail(err, ZETA_ERR_UNSUPPORTED, "%s", why);
    }
    if (hp->head_dim_v > 256 || hp->n_rot / 2 > 512)
        return zeta_fail(err, ZETA_ERR_UNSUPPORTED, "the CUDA attention takes head sizes up to 256 (this model's V heads are %u)",
                         hp->head_dim_v);
    size_t max_w = 0, max_k = 32;
    bool has_split = cuda_type_split((int)m->output.type);
    /* a product that prompts run through cuBLAS (not the int8 tensor-core kernel) */
#define BLAS_W(w) (!(((w)->type == ZETA_TYPE_Q4_0 || (w)->type == ZETA_TYPE_Q8_0) && (w)->ne0 % 128 == 0))
    bool has_blas = BLAS_W(&m->output);
    for (uint32_t il = 0; il < hp->n_layer; il++) {
        const zeta_layer *L = &m->layers[il];
        const zeta_weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
            zeta_status st = check_weight(ws[i], err);
            if (st != ZETA_OK) return st;
            if (ws[i]->ne0 * ws[i]->ne1 > max_w) max_w = ws[i]->ne0 * ws[i]->ne1;
            if (ws[i]->ne0 > max_k) max_k = ws[i]->ne0;
            has_split = has_split || cuda_type_split((int)ws[i]->type);
            has_blas = has_blas || (ws[i]->data && BLAS_W(ws[i]));
        }
    }
#undef BLAS_W
    zeta_status st = check_weight(&m->output, err);
    if (st != ZETA_OK) return st;
    if (m->output.ne0 * m->output.ne1 > max_w) max_w = m->output.ne0 * m->output.ne1;
    if (m->output.ne0 > max_k) max_k = m->output.ne0;

    cuda_ctx *c = (cuda_ctx *)calloc(1, sizeof *c);
    if (!c) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory creating the CUDA backend");
    c->m = m;
    c->device = m->cuda->device;
    c->n_sm = m->cuda->n_sm;
    c->n_ctx = cfg->n_ctx;
    c->n_layer = hp->n_layer;
    c->n_head = hp->n_head;
    c->n_head_kv = hp->n_head_kv;
    c->dk = hp->head_dim_k;
    c->dv = hp->head_dim_v;
    c->quant = cfg->type_k != ZETA_TYPE_F16 || cfg->type_v != ZETA_TYPE_F16;
    if (c->quant) {
        c->kvq.tk = (int)cfg->type_k;
        c->kvq.tv = (int)cfg->type_v;
        cpu_kv_rotation(hp, cfg->type_k, cfg->type_v, cfg->kv_rotate, &c->kvq.rot_k, &c->kvq.rot_v);
        c->kvq.n_ctx = c->n_ctx;
        c->k_layer = (cuda_kvq_layer_bytes(&c->kvq, 0, (int)c->n_head_kv, (int)c->dk) + 255) & ~(size_t)255;
        c->v_layer = (cuda_kvq_layer_bytes(&c->kvq, 1, (int)c->n_head_kv, (int)c->dv) + 255) & ~(size_t)255;
    } else {
        c->k_layer = (size_t)c->n_ctx * c->n_head_kv * c->dk * sizeof(__half);
        c->v_layer = (size_t)c->n_ctx * c->n_head_kv * c->dv * sizeof(__half);
    }
    c->part_floats = (size_t)4 * c->n_head * 32 * (c->dv + 2); /* up to 4 tokens x 32 slices */
    c->mm.deq_floats = cfg->max_batch > 8 ? (max_w < SCRATCH_MAX_FLOATS ? max_w : SCRATCH_MAX_FLOATS) : 0;
    if (c->mm.deq_floats && c->mm.deq_floats < (size_t)hp->n_ff) c->mm.deq_floats = hp->n_ff; /* at least one row */
    c->mm.xr_floats = has_split && cfg->max_batch > 1 ? (size_t)cfg->max_batch * max_k : 0;
    c->mm.xs_floats = has_blas && c->mm.deq_floats ? (size_t)2 * cfg->max_batch * max_k : 0;
    c->stage_floats = (size_t)cfg->max_batch * hp->n_embd;
    c->xq_bytes = cuda_xq_bytes((int)max_k);
    cudaError_t e;
    const size_t kv_bytes = (c->k_layer + c->v_layer) * c->n_layer;
    if ((e = cudaSetDevice(c->device)) != cudaSuccess) { st = cuda_fail(err, e, "selecting the device"); goto fail; }
    if ((e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking)) != cudaSuccess) {
        st = cuda_fail(err, e, "creating a stream");
        goto fail;
    }
    if ((e = cudaMalloc(&c->kv, kv_bytes)) != cudaSuccess) {
        char what[160];
        snprintf(what, sizeof what, "allocating the KV cache (%.1f MiB for %u tokens)", (double)kv_bytes / 1048576.0, c->n_ctx);
        st = cuda_fail(err, e, what);
        goto fail;
    }
    if ((e = cudaMemset(c->kv, 0, kv_bytes)) != cudaSuccess) { st = cuda_fail(err, e, "clearing the KV cache"); goto fail; }
    if ((e = cudaMalloc(&c->part, c->part_floats * sizeof(float))) != cudaSuccess) { st = cuda_fail(err, e, "allocating scratch"); goto fail; }
    if (c->mm.deq_floats && (e = cudaMalloc(&c->mm.deq, c->mm.deq_floats * sizeof(float))) != cudaSuccess) {
        st = cuda_fail(err, e, "allocating scratch");
        goto fail;
    }
    if ((e = cudaMalloc(&c->mm.xq, c->xq_bytes)) != cudaSuccess) { st = cuda_fail(err, e, "allocating scratch"); goto fail; }
    if (c->mm.xr_floats && (e = cudaMalloc(&c->mm.xr, c->mm.xr_floats * sizeof(float))) != cudaSuccess) {
        st = cuda_fail(err, e, "allocating scratch");
        goto fail;
    }
    if (c->mm.xs_floats && (e = cudaMalloc(&c->mm.xs, c->mm.xs_floats * sizeof(float))) != cudaSuccess) {
        st = cuda_fail(err, e, "allocating scratch");
        goto fail;
    }
    if ((e = cudaMallocHost(&c->stage, c->stage_floats * sizeof(float))) != cudaSuccess) {
        st = cuda_fail(err, e, "allocating pinned host memory");
        goto fail;
    }
    if ((e = cudaMallocHost(&c->pos_host, sizeof(uint32_t))) != cudaSuccess) {
        st = cuda_fail(err, e, "allocating pinned host memory");
        goto fail;
    }
    if ((e = cudaMalloc(&c->pos_dev, sizeof(uint32_t))) != cudaSuccess) { st = cuda_fail(err, e, "allocating scratch"); goto fail; }
    c->cap_rec = 24 * (int)c->n_layer + 16;
    c->rec = (cuda_rec *)calloc((size_t)c->cap_rec, sizeof(cuda_rec));
    c->grec[0] = (cuda_rec *)calloc((size_t)c->cap_rec, sizeof(cuda_rec));
    c->grec[1] = (cuda_rec *)calloc((size_t)c->cap_rec, sizeof(cuda_rec));
    c->sused = (uint8_t *)calloc((size_t)c->n_layer * ZS_N_KIND, 1);
    c->sn_in = (uint32_t *)calloc((size_t)c->n_layer * ZS_N_KIND, sizeof(uint32_t));
    if (!c->rec || !c->grec[0] || !c->grec[1] || !c->sused || !c->sn_in) {
        st = zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory creating the CUDA backend");
        goto fail;
    }
    if (m->sparse) {
        if ((e = cudaMalloc(&c->sstat, sstat_bytes(c))) != cudaSuccess || (e = cudaMemset(c->sstat, 0, sstat_bytes(c))) != cudaSuccess) {
            st = cuda_fail(err, e, "allocating scratch");
            goto fail;
        }
        if ((e = cudaMallocHost(&c->sstat_host, sstat_bytes(c))) != cudaSuccess) {
            st = cuda_fail(err, e, "allocating pinned host memory");
            goto fail;
        }
    }
    {
        /* ZETA_CUDA_GRAPH=0: decode steps run eagerly (fused); =direct: op by op, as prompts */
        const char *g = getenv("ZETA_CUDA_GRAPH");
        c->mode = !g || !*g || !strcmp(g, "1") ? CUDA_EXEC_GRAPH : !strcmp(g, "direct") ? CUDA_EXEC_DIRECT : CUDA_EXEC_RECORD;
    }
    if (c->mm.deq_floats) {
        cublasStatus_t bs = cublasCreate(&c->blas);
        if (bs != CUBLAS_STATUS_SUCCESS) {
            c->blas = NULL;
            st = zeta_fail(err, ZETA_ERR_BACKEND, "cuBLAS: creating a handle failed with status %d", (int)bs);
            goto fail;
        }
        if ((bs = cublasSetStream(c->blas, c->stream)) != CUBLAS_STATUS_SUCCESS) {
            st = zeta_fail(err, ZETA_ERR_BACKEND, "cuBLAS: setting the stream failed with status %d", (int)bs);
            goto fail;
        }
    }
    out->ops = &k_cuda_ops;
    out->ctx = c;
    return ZETA_OK;
fail:
    cu_free(c);
    return st;
}
