/* cuda_backend.cu — the CUDA implementation of backend.h's sessions (devices and the weights'
 * upload at model load: cuda_model.cu): per session a stream, a cuBLAS handle, activation buffers,
 * scratch and a KV cache (f16, or cuda_kvq.cu's types). Ops return nothing, so the first failing CUDA or cuBLAS call is
 * kept (with the driver's text), later ops are skipped, and read() reports it as ZETA_ERR_BACKEND.
 * One-token steps (decode) are recorded between get_rows and read, then run with fused kernels as
 * a CUDA graph that is replayed while the recorded ops stay the same (cuda_exec.cu, see
 * cuda_ctx.mode). The sparse pass of variational gating (cuda_sparse_ops, also cuda_exec.cu)
 * records its products the same way. The session state both files use: cuda_ctx.cuh. */
#include "cuda/cuda_ctx.cuh"

#include <cublas_v2.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" void cpu_kv_rotation(const zeta_hparams *hp, zeta_type tk, zeta_type tv, bool enabled, int *rk, int *rv); /* cpu/cpu_kv.h */

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
    float *ent_dst = c->ent_dst;
    c->ent_dst = NULL;
    if (ent_dst && !c->failed)
        ck(c, cudaMemcpyAsync(c->ent_host, c->ent_dev, sizeof(float), cudaMemcpyDeviceToHost, c->stream), "copying the entropy to the host");
    if (!c->failed) ck(c, cudaStreamSynchronize(c->stream), "running the forward pass");
    if (c->failed) return zeta_fail(err, c->fail_status, "%s", c->fail_msg);
    if (ent_dst) *ent_dst = *c->ent_host;
    return ZETA_OK;
}

/* the logits' entropy, into ent_dev (recorded: a decode step's last op), delivered by the next read */
static void cu_entropy(void *vctx, const float *x, int n, float *host) {
    cuda_ctx *c = (cuda_ctx *)vctx;
    if (c->failed || n <= 0) return;
    c->ent_dst = host;
    if (c->recording) {
        cuda_rec *r = rec_new(c, REC_ENTROPY);
        if (r) {
            r->a = x; r->out = c->ent_dev; r->n = n;
            return;
        }
    }
    ck(c, cuda_entropy(c->stream, x, n, c->ent_dev), "entropy");
}

extern "C" zeta_status cuda_buf_write(void *vctx, float *dst, const float *src, size_t n, zeta_error *err) {
    cudaError_t e = cudaSetDevice(((cuda_ctx *)vctx)->device);
    if (e == cudaSuccess) e = cuda_h2d(dst, src, n * sizeof(float));
    return e == cudaSuccess ? ZETA_OK : cuda_fail(err, e, "copying to the device");
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
bool grow_x8(cuda_ctx *c, size_t K, size_t n_tok) {
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
    cudaFree(c->ent_dev);
    if (c->ent_host) cudaFreeHost(c->ent_host);
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
    cu_kv_shift, cu_kv_pos_bytes, cu_kv_read, cu_kv_write, cu_matmul_shared, cu_entropy,
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
    if ((e = cudaMalloc(&c->ent_dev, sizeof(float))) != cudaSuccess) { st = cuda_fail(err, e, "allocating scratch"); goto fail; }
    if ((e = cudaMallocHost(&c->ent_host, sizeof(float))) != cudaSuccess) {
        st = cuda_fail(err, e, "allocating pinned host memory");
        goto fail;
    }
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
