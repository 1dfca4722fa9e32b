/* cpu_backend.c — the CPU implementation of backend.h: matrix-vector/matrix products through the
 * selected kernel table (activations converted once per matmul, rows split across the session's
 * thread pool), RMSNorm, RoPE, SwiGLU, residual add, and causal attention over the session's KV
 * cache (f32 or f16). */
#include "backend.h"
#include "cpu/kernels.h"
#include "cpu/gemm.h"
#include "cpu/gemm_f.h"
#include "cpu/mathk.h"
#include "cpu/threadpool.h"
#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cpu_ctx {
    const struct zeta_model *m;
    const zk_kernels *k;
    const zk_gemm_table *gk;
    const zk_gemmf_table *gf;
    zk_softmax_fn softmax;
    threadpool *pool;
    int n_threads;
    uint32_t n_ctx;
    zeta_type kv_type;
    size_t kv_elem;          /* bytes per K/V element */
    size_t k_row, v_row;     /* elements per position: n_head_kv * head_dim */
    uint8_t **kcache, **vcache; /* per layer: n_ctx * k_row (resp. v_row) elements */
    uint8_t *act;            /* converted activations: max_batch * max_act_row bytes */
    size_t act_cap;
    int32_t *xsum;           /* per activation block: sum of its quantized values (packed Q4_0) */
    float *att_scratch;      /* n_threads * n_ctx floats */
} cpu_ctx;

/* ---------------------------------------------------------------- matmul */

typedef struct mm_job {
    const zeta_weight *w, *bias;
    const uint8_t *x;        /* converted activations */
    size_t x_stride;         /* bytes between token rows */
    int n_tok;
    float *y;
    zk_vec_dot_fn dot;
    zk_gemm_rows_fn gemmf;   /* f32/f16/bf16 weights: tiled product over a row range */
} mm_job;

#define MM_ROW_BLOCK 16

static void mm_worker(void *arg, int ith, int nth) {
    const mm_job *j = arg;
    const uint64_t rows = j->w->ne1, k = j->w->ne0;
    const uint64_t r0 = rows * (uint64_t)ith / (uint64_t)nth, r1 = rows * (uint64_t)(ith + 1) / (uint64_t)nth;
    const uint8_t *W = j->w->data;
    const float *b = j->bias && j->bias->data ? j->bias->data : NULL;
    for (uint64_t rb = r0; rb < r1; rb += MM_ROW_BLOCK) {
        uint64_t re = rb + MM_ROW_BLOCK < r1 ? rb + MM_ROW_BLOCK : r1;
        for (int t = 0; t < j->n_tok; t++) {
            const uint8_t *xr = j->x + (size_t)t * j->x_stride;
            float *yr = j->y + (size_t)t * rows;
            for (uint64_t r = rb; r < re; r++) {
                j->dot((int64_t)k, &yr[r], W + r * j->w->row_bytes, xr);
                if (b) yr[r] += b[r];
            }
        }
    }
}

/* f32/f16/bf16 weights: one tiled call per thread over its rows and all tokens (the kernel does
 * its own cache blocking) */
static void mmf_worker(void *arg, int ith, int nth) {
    const mm_job *j = arg;
    const uint64_t rows = j->w->ne1, k = j->w->ne0;
    const uint64_t r0 = rows * (uint64_t)ith / (uint64_t)nth, r1 = rows * (uint64_t)(ith + 1) / (uint64_t)nth;
    j->gemmf((int64_t)k, (const uint8_t *)j->w->data + r0 * j->w->row_bytes, j->w->row_bytes, (int)(r1 - r0),
             (const float *)j->x, j->x_stride / sizeof(float), j->n_tok, j->y + r0, (size_t)rows);
    if (j->bias && j->bias->data) {
        const float *b = j->bias->data;
        for (int t = 0; t < j->n_tok; t++)
            for (uint64_t r = r0; r < r1; r++) j->y[(size_t)t * rows + r] += b[r];
    }
}

typedef struct cvt_job {
    zk_from_float_fn from;
    const float *x;
    uint64_t k;
    uint8_t *out;
    size_t out_stride;
    int n_tok;
    int32_t *xsum;           /* NULL, or n_tok * k/32 block sums of the Q8_0 output */
} cvt_job;

static void cvt_worker(void *arg, int ith, int nth) {
    const cvt_job *j = arg;
    const uint64_t nb = j->k / 32;
    for (int t = ith; t < j->n_tok; t += nth) {
        uint8_t *o = j->out + (size_t)t * j->out_stride;
        j->from(j->x + (size_t)t * j->k, o, (int64_t)j->k);
        if (!j->xsum) continue;
        const block_q8_0 *q = (const block_q8_0 *)o;
        for (uint64_t b = 0; b < nb; b++) {
            int32_t s = 0;
            for (int e = 0; e < 32; e++) s += q[b].qs[e];
            j->xsum[(size_t)t * nb + b] = s;
        }
    }
}

typedef struct gemm_job {
    const zeta_weight *w, *bias;
    const uint8_t *x;
    size_t x_stride;
    const int32_t *xsum;
    int n_tok;
    float *y;
    zk_gemm8_fn gemm;
    zk_vec_dot_fn dot;
} gemm_job;

#define GEMM_TOKEN_TILE 64

/* packed 8-row groups split between threads; token tiles outermost so a tile's activations stay
 * in cache while the thread's weights stream past; rows after the last group go row by row */
static void gemm_worker(void *arg, int ith, int nth) {
    const gemm_job *j = arg;
    const uint64_t rows = j->w->ne1, k = j->w->ne0, groups = rows / 8, nb = k / 32;
    const uint64_t g0 = groups * (uint64_t)ith / (uint64_t)nth, g1 = groups * (uint64_t)(ith + 1) / (uint64_t)nth;
    const size_t gb = zk_packed_group_bytes(j->w->type, (int64_t)k);
    const uint8_t *P = j->w->packed;
    for (int t0 = 0; t0 < j->n_tok; t0 += GEMM_TOKEN_TILE) {
        const int nt = j->n_tok - t0 < GEMM_TOKEN_TILE ? j->n_tok - t0 : GEMM_TOKEN_TILE;
        const uint8_t *x = j->x + (size_t)t0 * j->x_stride;
        const int32_t *xs = j->xsum ? j->xsum + (size_t)t0 * nb : NULL;
        for (uint64_t g = g0; g < g1; g++) j->gemm((int64_t)k, P + g * gb, x, j->x_stride, xs, nt, j->y + (size_t)t0 * rows + g * 8, rows);
    }
    uint64_t r_end = g1 * 8;
    if (ith == nth - 1) {
        for (int t = 0; t < j->n_tok; t++)
            for (uint64_t r = groups * 8; r < rows; r++)
                j->dot((int64_t)k, &j->y[(size_t)t * rows + r], (const uint8_t *)j->w->data + r * j->w->row_bytes,
                       j->x + (size_t)t * j->x_stride);
        r_end = rows;
    }
    if (j->bias && j->bias->data) {
        const float *b = j->bias->data;
        for (int t = 0; t < j->n_tok; t++)
            for (uint64_t r = g0 * 8; r < r_end; r++) j->y[(size_t)t * rows + r] += b[r];
    }
}

static void cpu_matmul(void *vctx, const zeta_weight *w, const zeta_weight *bias, const float *x, int n_tok, float *y) {
    cpu_ctx *c = vctx;
    zeta_type at = zk_vec_dot_type(w->type);
    mm_job j = {w, bias, (const uint8_t *)x, (size_t)w->ne0 * sizeof(float), n_tok, y, c->k->vec_dot[w->type], NULL};
    if (at == ZETA_TYPE_F32 && c->gf->gemm[w->type]) {
        j.gemmf = c->gf->gemm[w->type];
        pool_run(c->pool, mmf_worker, &j);
        return;
    }
    const bool packed = w->packed && c->gk->gemm8[w->type];
    if (at != ZETA_TYPE_F32) {
        size_t stride = (size_t)zeta_row_bytes(at, w->ne0);
        cvt_job cj = {c->k->from_float[at], x, w->ne0, c->act, stride, n_tok,
                      packed && w->type == ZETA_TYPE_Q4_0 ? c->xsum : NULL};
        if (n_tok > 1) pool_run(c->pool, cvt_worker, &cj);
        else cvt_worker(&cj, 0, 1);
        j.x = c->act;
        j.x_stride = stride;
    }
    if (packed) {
        gemm_job gj = {w, bias, j.x, j.x_stride, c->xsum, n_tok, y, c->gk->gemm8[w->type], j.dot};
        pool_run(c->pool, gemm_worker, &gj);
        return;
    }
    pool_run(c->pool, mm_worker, &j);
}

/* ---------------------------------------------------------------- element-wise */

static void cpu_get_rows(void *vctx, const zeta_weight *w, const zeta_token *tokens, int n, float *out) {
    for (int t = 0; t < n; t++)
        zeta_dequantize_row(w->type, (const uint8_t *)w->data + (size_t)tokens[t] * w->row_bytes, out + (size_t)t * w->ne0,
                            (int64_t)w->ne0);
}

static void cpu_rmsnorm(void *vctx, const float *x, const zeta_weight *w, float eps, int n_rows, float *out) {
    const uint64_t n = w->ne0;
    const float *g = w->data;
    for (int r = 0; r < n_rows; r++) {
        const float *xr = x + (size_t)r * n;
        float *o = out + (size_t)r * n;
        double sum = 0.0;
        for (uint64_t i = 0; i < n; i++) sum += (double)(xr[i] * xr[i]);
        const float mean = (float)(sum / (double)n);
        const float scale = 1.0f / sqrtf(mean + eps);
        for (uint64_t i = 0; i < n; i++) o[i] = (xr[i] * scale) * g[i];
    }
}

static void cpu_swiglu(void *vctx, const float *gate, const float *up, size_t n, float *out) {
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = (g / (1.0f + expf(-g))) * up[i];
    }
}

static void cpu_add(void *vctx, float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

/* theta_i = freq_scale * pos * base^(-2i/n_rot) / factor_i, computed as ggml does (running product). */
static void cpu_rope(void *vctx, float *x, int n_tok, int n_heads, int head_dim, uint32_t pos0, const zeta_rope_params *rp) {
    const uint32_t half = rp->n_rot / 2;
    float cs[2 * 512];
    float *cache = cs;
    float *heap = NULL;
    if (half > 512) {
        heap = malloc(sizeof(float) * 2 * half);
        if (!heap) return; /* cannot happen for real models: n_rot <= head_dim <= 1024 checked at load */
        cache = heap;
    }
    const float theta_scale = powf(rp->base, -2.0f / (float)rp->n_rot);
    for (int t = 0; t < n_tok; t++) {
        float theta = (float)(pos0 + (uint32_t)t);
        for (uint32_t i = 0; i < half; i++) {
            float ff = rp->freq_factors ? rp->freq_factors[i] : 1.0f;
            float th = rp->freq_scale * (theta / ff);
            cache[2 * i] = cosf(th);
            cache[2 * i + 1] = sinf(th);
            theta *= theta_scale;
        }
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * head_dim;
            for (uint32_t i = 0; i < half; i++) {
                uint32_t a = rp->mode == ZETA_ROPE_NEOX ? i : 2 * i;
                uint32_t b = rp->mode == ZETA_ROPE_NEOX ? i + half : 2 * i + 1;
                float c = cache[2 * i], s = cache[2 * i + 1];
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * c - x1 * s;
                v[b] = x0 * s + x1 * c;
            }
        }
    }
    free(heap);
}

/* ---------------------------------------------------------------- attention */

typedef struct att_job {
    cpu_ctx *c;
    int il;
    const float *q;
    int n_tok;
    uint32_t pos0;
    float *out;
} att_job;

/* K is stored by position ([n_ctx][n_head_kv * head_dim]); V transposed, by head dimension
 * ([n_head_kv * head_dim][n_ctx]), so both products are contiguous dot products:
 * scores[p] = q . K[p] and out[d] = softmax . V^T[d]. */
static void att_worker(void *arg, int ith, int nth) {
    const att_job *j = arg;
    cpu_ctx *c = j->c;
    const zeta_hparams *hp = &c->m->hp;
    const int n_head = (int)hp->n_head, group = (int)(hp->n_head / hp->n_head_kv);
    const int dk = (int)hp->head_dim_k, dv = (int)hp->head_dim_v;
    const float scale = 1.0f / sqrtf((float)dk);
    float *sc = c->att_scratch + (size_t)ith * c->n_ctx;
    const uint8_t *K = c->kcache[j->il], *V = c->vcache[j->il];
    const zk_vec_dot_fn dot = c->k->vec_dot[c->kv_type];
    const size_t es = c->kv_elem;
    const int total = j->n_tok * n_head;
    for (int idx = ith; idx < total; idx += nth) {
        const int t = idx / n_head, h = idx % n_head, kvh = h / group;
        const float *q = j->q + (size_t)t * n_head * dk + (size_t)h * dk;
        const uint32_t n_kv = j->pos0 + (uint32_t)t + 1;
        for (uint32_t p = 0; p < n_kv; p++) dot(dk, &sc[p], K + ((size_t)p * c->k_row + (size_t)kvh * dk) * es, q);
        const float inv = (float)(1.0 / c->softmax(sc, (int)n_kv, scale));
        for (uint32_t p = 0; p < n_kv; p++) sc[p] *= inv;
        float *o = j->out + (size_t)t * n_head * dv + (size_t)h * dv;
        for (int d = 0; d < dv; d++) dot(n_kv, &o[d], V + ((size_t)(kvh * dv + d) * c->n_ctx) * es, sc);
    }
}

static void kv_store(cpu_ctx *c, uint8_t *dst, const float *src, size_t n) {
    if (c->kv_type == ZETA_TYPE_F16) {
        zeta_f16 *d = (zeta_f16 *)dst;
        for (size_t i = 0; i < n; i++) d[i] = zeta_f32_to_f16(src[i]);
    } else {
        memcpy(dst, src, n * sizeof(float));
    }
}

/* V of n_tok tokens into the transposed cache: element (token t, row i) at i * n_ctx + pos0 + t */
static void kv_store_transposed(cpu_ctx *c, uint8_t *dst, const float *src, int n_tok, uint32_t pos0) {
    for (size_t i = 0; i < c->v_row; i++)
        for (int t = 0; t < n_tok; t++) {
            size_t at = i * c->n_ctx + pos0 + (size_t)t;
            float v = src[(size_t)t * c->v_row + i];
            if (c->kv_type == ZETA_TYPE_F16) ((zeta_f16 *)dst)[at] = zeta_f32_to_f16(v);
            else ((float *)dst)[at] = v;
        }
}

static void cpu_attention(void *vctx, int il, const float *q, const float *k, const float *v, int n_tok, uint32_t pos0,
                          float *out) {
    cpu_ctx *c = vctx;
    kv_store(c, c->kcache[il] + (size_t)pos0 * c->k_row * c->kv_elem, k, (size_t)n_tok * c->k_row);
    kv_store_transposed(c, c->vcache[il], v, n_tok, pos0);
    att_job j = {c, il, q, n_tok, pos0, out};
    pool_run(c->pool, att_worker, &j);
}

/* ---------------------------------------------------------------- lifetime */

static void cpu_free(void *vctx) {
    cpu_ctx *c = vctx;
    if (!c) return;
    if (c->kcache)
        for (uint32_t i = 0; i < c->m->hp.n_layer; i++) free(c->kcache[i]);
    if (c->vcache)
        for (uint32_t i = 0; i < c->m->hp.n_layer; i++) free(c->vcache[i]);
    free(c->kcache);
    free(c->vcache);
    free(c->act);
    free(c->xsum);
    free(c->att_scratch);
    pool_free(c->pool);
    free(c);
}

static const zeta_backend_ops k_cpu_ops = {
    "cpu", cpu_free, cpu_get_rows, cpu_rmsnorm, cpu_matmul, cpu_rope, cpu_attention, cpu_swiglu, cpu_add,
};

zeta_status cpu_backend_new(const struct zeta_model *m, const zeta_backend_config *cfg, zeta_backend_inst *out,
                            zeta_error *err) {
    const zeta_hparams *hp = &m->hp;
    cpu_ctx *c = calloc(1, sizeof *c);
    if (!c) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory creating the CPU backend");
    c->m = m;
    c->k = zk_select();
    c->gk = zk_gemm_select();
    c->gf = zk_gemmf_select();
    c->softmax = zk_softmax_select();
    c->n_threads = cfg->n_threads;
    c->n_ctx = cfg->n_ctx;
    c->kv_type = cfg->kv_type;
    c->kv_elem = cfg->kv_type == ZETA_TYPE_F16 ? 2 : 4;
    c->k_row = (size_t)hp->n_head_kv * hp->head_dim_k;
    c->v_row = (size_t)hp->n_head_kv * hp->head_dim_v;
    c->kcache = calloc(hp->n_layer, sizeof *c->kcache);
    c->vcache = calloc(hp->n_layer, sizeof *c->vcache);
    if (!c->kcache || !c->vcache) goto oom;
    for (uint32_t i = 0; i < hp->n_layer; i++) {
        c->kcache[i] = zeta_malloc_array((size_t)cfg->n_ctx * c->k_row, c->kv_elem);
        c->vcache[i] = zeta_malloc_array((size_t)cfg->n_ctx * c->v_row, c->kv_elem);
        if (!c->kcache[i] || !c->vcache[i]) goto oom;
    }
    uint64_t widest = hp->n_embd;
    if (hp->n_ff > widest) widest = hp->n_ff;
    if ((uint64_t)hp->n_head * hp->head_dim_v > widest) widest = (uint64_t)hp->n_head * hp->head_dim_v;
    /* the widest converted activation row: at most 4 bytes per element (f32) */
    c->act_cap = (size_t)widest * 4 * cfg->max_batch;
    c->act = malloc(c->act_cap);
    c->xsum = zeta_malloc_array((size_t)cfg->max_batch * (widest / 32 + 1), sizeof(int32_t));
    c->att_scratch = zeta_malloc_array((size_t)cfg->n_threads * cfg->n_ctx, sizeof(float));
    if (!c->act || !c->xsum || !c->att_scratch) goto oom;
    c->pool = pool_new(cfg->n_threads);
    if (!c->pool) {
        cpu_free(c);
        return zeta_fail(err, ZETA_ERR_INTERNAL, "could not start %d threads", cfg->n_threads);
    }
    out->ops = &k_cpu_ops;
    out->ctx = c;
    return ZETA_OK;
oom:
    {
        uint64_t kvb = model_kv_bytes(m, cfg->n_ctx, (uint32_t)c->kv_elem);
        cpu_free(c);
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory allocating the KV cache (%llu MiB for %u tokens) and scratch",
                         (unsigned long long)(kvb >> 20), cfg->n_ctx);
    }
}
