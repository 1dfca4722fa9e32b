/* cuda_exec.cu — a CUDA session's decode steps: the ops between get_rows and read are recorded
 * (cuda_rec), then run with fusions (several products of one input in one launch, SwiGLU and the
 * residual add in the products' stores, RoPE and the KV store in the attention, the 8-bit rounding
 * of a product's input in the norm or attention before it), as a CUDA graph captured once and
 * replayed while the recorded ops stay the same; and the sparse pass of variational gating
 * (cuda_sparse_ops), whose products are recorded the same way. */
#include "cuda/cuda_ctx.cuh"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- decode steps: records, fusion, graphs */

cuda_rec *rec_new(cuda_ctx *c, int kind) {
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
    case REC_ENTROPY: return r->a == p;
    default: return false;
    }
}

/* whether the recorded op overwrites p (a sparse product's outputs are its sout) */
static bool rec_writes(const cuda_rec *r, const float *p) {
    if (r->kind == REC_SMATMUL) {
        for (int i = 0; i < r->n_smat; i++)
            if (r->sout[i] == p) return true;
        return false;
    }
    return r->out == p;
}

/* whether no op of rec[k..n) reads p before one overwrites it (a flushed part of a step: unknown ops
 * follow, so never) */
static bool unread_after(const cuda_ctx *c, const cuda_rec *rec, int k, int n, const float *p) {
    for (; k < n; k++) {
        if (rec_reads(&rec[k], p)) return false;
        if (rec_writes(&rec[k], p)) return true;
    }
    return !c->partial;
}

/* ---------------------------------------------------------------- the sparse pass (variational gating) */

static double *sstat_of(cuda_ctx *c, const cuda_rec *r) { return c->sstat + 3 * CUDA_SSTAT_REPL * ((size_t)r->il * ZS_N_KIND + (size_t)r->skind); }
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
        j.run = (int)r->smat[i].gpu_run;
        for (; i < r->n_smat && r->smat[i].fmt == j.fmt; i++) {
            const zs_mat *w = &r->smat[i];
            if ((int)w->gpu_run != j.run) return cudaErrorInvalidValue; /* one shape of block a launch */
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
        const double *sc = c->sstat_host + 3 * CUDA_SSTAT_REPL * slot;
        double st[3] = {0.0, 0.0, 0.0};
        for (int k = 0; k < CUDA_SSTAT_REPL; k++)
            for (int i = 0; i < 3; i++) st[i] += sc[3 * k + i];
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
        case REC_ENTROPY: e = cuda_entropy(c->stream, r->a, r->n, r->out); break;
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
void rec_run(cuda_ctx *c) {
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
void rec_flush(cuda_ctx *c) {
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
void sparse_reset(cuda_ctx *c) {
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

