/* cpu_backend.c — the CPU implementation of backend.h: matrix-vector/matrix products through the
 * selected kernel table (activations converted once per matmul, rows split across the session's
 * thread pool), RMSNorm, RoPE, SwiGLU, residual add; the KV cache and attention are in cpu_kv.c. */
#include "backend.h"
#include "cpu/kernels.h"
#include "cpu/kernels_sparse.h"
#include "cpu/cpu_kv.h"
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
    threadpool *pool;
    int n_threads;
    cpu_kv kv;
    uint8_t *act;            /* converted activations: max_batch * max_act_row bytes */
    size_t act_cap;
    int32_t *xsum;           /* per activation block: sum of its quantized values (packed Q4_0) */
    zk_sparse_gemv_fn sparse_gemv;
    zk_sparse_native_fn sparse_q8, sparse_q4;
    zk_swiglu_fn swiglu;     /* of the selected math set */
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
    const bool packed = w->packed && c->gk->gemm8[w->type];
    if (at == ZETA_TYPE_F32 && !packed && c->gf->gemm[w->type]) {
        j.gemmf = c->gf->gemm[w->type];
        pool_run(c->pool, mmf_worker, &j);
        return;
    }
    if (at != ZETA_TYPE_F32) {
        size_t stride = (size_t)zeta_row_bytes(at, w->ne0);
        cvt_job cj = {c->k->from_float[at], x, w->ne0, c->act, stride, n_tok,
                      packed && (w->type == ZETA_TYPE_Q4_0 || w->type == ZETA_TYPE_Q5_0 || w->type == ZETA_TYPE_IQ4_NL) ? c->xsum : NULL};
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

/* ---------------------------------------------------------------- sparse decode (variational gating) */

static void cpu_sparse_select(void *vctx, const float *x, uint32_t n, float thr, zs_sel *sel) {
    uint32_t k = 0;
    double kept = 0.0, total = 0.0;
    for (uint32_t i = 0; i < n; i++) { /* without a branch on the (unpredictable) keep: entry k is written every time, kept or not */
        const float v = x[i];
        const double sq = (double)v * (double)v;
        const bool keep = fabsf(v) >= thr;
        total += sq;
        sel->idx[k] = i;
        sel->val[k] = v;
        k += keep;
        uint64_t bits; /* sq or +0.0, by a mask (a conditional here compiles to a branch) */
        memcpy(&bits, &sq, sizeof bits);
        bits &= (uint64_t)0 - (uint64_t)keep;
        double add;
        memcpy(&add, &bits, sizeof add);
        kept += add;
    }
    sel->n = k;
    sel->n_in = n;
    sel->ss_kept = kept;
    sel->ss_total = total;
    zk_sparse_round_blocks(sel);
}

typedef struct sp_job {
    const zs_mat *w;
    const zeta_weight *bias;
    const zs_sel *sel;
    float *y;
    zk_sparse_gemv_fn fn;
} sp_job;

/* copy format: output blocks of 32 rows split statically between threads */
static void sp_worker(void *arg, int ith, int nth) {
    const sp_job *j = arg;
    const uint32_t nb = j->w->n_out / 32;
    const uint32_t b0 = (uint32_t)((uint64_t)nb * (uint64_t)ith / (uint64_t)nth);
    const uint32_t b1 = (uint32_t)((uint64_t)nb * (uint64_t)(ith + 1) / (uint64_t)nth);
    if (b0 == b1) return;
    j->fn(j->w->cols, j->w->col_bytes, j->sel->idx, j->sel->val, j->sel->n, b0, b1, j->y);
    if (j->bias && j->bias->data) {
        const float *b = j->bias->data;
        for (uint32_t o = b0 * 32; o < b1 * 32; o++) j->y[o] += b[o];
    }
}

/* native formats, the matrices that share a selection in one pool run */
typedef struct spn_job {
    int n;
    const zs_mat *w[ZS_MAX_SHARED];
    float *y[ZS_MAX_SHARED], *part[ZS_MAX_SHARED];
    zk_sparse_native_fn fn[ZS_MAX_SHARED];
    const zs_sel *sel;
} spn_job;

/* native formats: the input blocks in two fixed halves, each summed over all rows into its own
 * vector (y, part) and the two added afterwards, y = first + second, whatever the thread count (it
 * never changes a bit). With two threads each reads whole columns, runs twice as long as a split by
 * rows gives (1.1B shapes, A/B on the AMD EPYC VM: 1.0-1.5x faster). Work items per matrix: the two
 * halves times max(1, nth / 2) row ranges of 64-row chunks; thread t takes items t, t + nth, ... */
static void sp_native_worker(void *arg, int ith, int nth) {
    const spn_job *j = arg;
    const uint32_t parts = nth / 2 > 1 ? (uint32_t)nth / 2 : 1;
    for (int i = 0; i < j->n; i++) {
        const zs_mat *w = j->w[i];
        const uint32_t nb = w->n_in / 32, hb = nb / 2, nc = w->n_out / 64;
        for (uint32_t it = (uint32_t)ith; it < 2 * parts; it += (uint32_t)nth) {
            const uint32_t h = it % 2, r = it / 2;
            const uint32_t c0 = (uint32_t)((uint64_t)nc * r / parts), c1 = (uint32_t)((uint64_t)nc * (r + 1) / parts);
            if (c0 < c1) j->fn[i](w, j->sel, h ? hb : 0, h ? nb : hb, c0, c1, h ? j->part[i] : j->y[i]);
        }
    }
}

static void cpu_sparse_matmul(void *vctx, int n_w, const zs_mat *const *w, const zeta_weight *const *bias, const zs_sel *sel,
                              float *const *y) {
    cpu_ctx *c = vctx;
    spn_job nj = {.n = 0, .sel = sel};
    size_t used = 0;
    for (int i = 0; i < n_w; i++) {
        if (w[i]->fmt == ZS_FMT_COPY) {
            sp_job j = {w[i], bias[i], sel, y[i], c->sparse_gemv};
            pool_run(c->pool, sp_worker, &j);
            continue;
        }
        nj.w[nj.n] = w[i];
        nj.y[nj.n] = y[i];
        nj.part[nj.n] = sel->part + used;
        nj.fn[nj.n] = w[i]->fmt == ZS_FMT_Q8 ? c->sparse_q8 : c->sparse_q4;
        used += w[i]->n_out;
        nj.n++;
    }
    if (!nj.n) return;
    pool_run(c->pool, sp_native_worker, &nj);
    for (int i = 0, k = 0; i < n_w; i++) {
        if (w[i]->fmt == ZS_FMT_COPY) continue;
        const float *b = bias[i] && bias[i]->data ? bias[i]->data : NULL, *p = nj.part[k++];
        float *yi = y[i];
        for (uint32_t o = 0; o < w[i]->n_out; o++) yi[o] = yi[o] + p[o] + (b ? b[o] : 0.0f);
    }
}

const zeta_sparse_ops *cpu_sparse_ops(void) {
    static const zeta_sparse_ops ops = {cpu_sparse_select, cpu_sparse_matmul, NULL, NULL};
    return &ops;
}

/* ---------------------------------------------------------------- element-wise */

static void cpu_get_rows(void *vctx, const zeta_weight *w, const zeta_token *tokens, int n, float *out) {
    for (int t = 0; t < n; t++)
        zeta_dequantize_row(w->type, (const uint8_t *)w->data + (size_t)tokens[t] * w->row_bytes, out + (size_t)t * w->ne0,
                            (int64_t)w->ne0);
}

/* The element-wise ops of a prompt are split over the pool (by rows, or by ranges of 64 elements;
 * RoPE below by tokens); each element is computed as on one thread, so the thread count changes
 * no bit. One token's ops run on the calling thread: waking the pool would cost more than the work. */
#define EW_PARALLEL_MIN 32768 /* elements */

static void rmsnorm_rows(const float *x, const float *g, uint64_t n, float eps, int r0, int r1, float *out) {
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * n;
        float *o = out + (size_t)r * n;
        double sum = 0.0;
        for (uint64_t i = 0; i < n; i++) sum += (double)(xr[i] * xr[i]);
        const float mean = (float)(sum / (double)n);
        const float scale = 1.0f / sqrtf(mean + eps);
        for (uint64_t i = 0; i < n; i++) o[i] = (xr[i] * scale) * g[i];
    }
}

static void add_range(float *x, const float *y, size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; i++) x[i] += y[i];
}

typedef struct ew_job {
    enum { EW_RMSNORM, EW_SWIGLU, EW_ADD } op;
    zk_swiglu_fn swiglu;
    const float *a, *b, *g; /* rmsnorm: x, -, weight; swiglu: gate, up; add: -, y */
    float *out;             /* add: x */
    size_t n;               /* rmsnorm: row length; else elements */
    int n_rows;
    float eps;
} ew_job;

static void ew_worker(void *arg, int ith, int nth) {
    const ew_job *j = arg;
    if (j->op == EW_RMSNORM) {
        rmsnorm_rows(j->a, j->g, j->n, j->eps, (int)((int64_t)j->n_rows * ith / nth), (int)((int64_t)j->n_rows * (ith + 1) / nth), j->out);
        return;
    }
    const size_t blocks = (j->n + 63) / 64, b0 = blocks * (size_t)ith / (size_t)nth, b1 = blocks * (size_t)(ith + 1) / (size_t)nth;
    const size_t i0 = b0 * 64, i1 = b1 * 64 < j->n ? b1 * 64 : j->n;
    if (j->op == EW_SWIGLU) j->swiglu((int64_t)(i1 - i0), j->a + i0, j->b + i0, j->out + i0);
    else add_range(j->out, j->b, i0, i1);
}

static void cpu_rmsnorm(void *vctx, const float *x, const zeta_weight *w, float eps, int n_rows, float *out) {
    cpu_ctx *c = vctx;
    if (n_rows > 1 && (size_t)n_rows * w->ne0 >= EW_PARALLEL_MIN) {
        ew_job j = {EW_RMSNORM, NULL, x, NULL, w->data, out, w->ne0, n_rows, eps};
        pool_run(c->pool, ew_worker, &j);
        return;
    }
    rmsnorm_rows(x, w->data, w->ne0, eps, 0, n_rows, out);
}

static void cpu_swiglu(void *vctx, const float *gate, const float *up, size_t n, float *out) {
    cpu_ctx *c = vctx;
    if (n >= EW_PARALLEL_MIN) {
        ew_job j = {EW_SWIGLU, c->swiglu, gate, up, NULL, out, n, 0, 0.0f};
        pool_run(c->pool, ew_worker, &j);
        return;
    }
    c->swiglu((int64_t)n, gate, up, out);
}

static void cpu_add(void *vctx, float *x, const float *y, size_t n) {
    cpu_ctx *c = vctx;
    if (n >= EW_PARALLEL_MIN) {
        ew_job j = {EW_ADD, NULL, NULL, y, NULL, x, n, 0, 0.0f};
        pool_run(c->pool, ew_worker, &j);
        return;
    }
    add_range(x, y, 0, n);
}

/* theta_i = freq_scale * pos * base^(-2i/n_rot) / factor_i, computed as ggml does (running product). */
void cpu_rope_rows(float *x, int n_tok, int n_heads, int head_dim, int64_t pos0, int64_t step, const zeta_rope_params *rp) {
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
        float theta = (float)(pos0 + (int64_t)t * step);
        for (uint32_t i = 0; i < half; i++) {
            const float ff = rp->freq_factors ? rp->freq_factors[i] : 1.0f;
            const float extrap = theta / ff;
            float th = rp->freq_scale * extrap;
            if (rp->ext_factor != 0.0f) { /* YaRN, as ggml's rope_yarn: ramp over the correction dims */
                const float y = ((float)i - rp->corr_dims[0]) / fmaxf(0.001f, rp->corr_dims[1] - rp->corr_dims[0]);
                const float mix = (1.0f - fminf(1.0f, fmaxf(0.0f, y))) * rp->ext_factor;
                th = th * (1.0f - mix) + extrap * mix;
            }
            cache[2 * i] = cosf(th) * rp->mscale;
            cache[2 * i + 1] = sinf(th) * rp->mscale;
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

typedef struct rope_job {
    float *x;
    int n_tok, n_heads, head_dim;
    uint32_t pos0;
    const zeta_rope_params *rp;
} rope_job;

/* a range of tokens, each at its own position as in one call (the same angles, the same bits) */
static void rope_worker(void *arg, int ith, int nth) {
    const rope_job *j = arg;
    const int t0 = (int)((int64_t)j->n_tok * ith / nth), t1 = (int)((int64_t)j->n_tok * (ith + 1) / nth);
    if (t1 > t0)
        cpu_rope_rows(j->x + (size_t)t0 * (size_t)j->n_heads * (size_t)j->head_dim, t1 - t0, j->n_heads, j->head_dim,
                      (int64_t)j->pos0 + t0, 1, j->rp);
}

static void cpu_rope(void *vctx, float *x, int n_tok, int n_heads, int head_dim, uint32_t pos0, const zeta_rope_params *rp) {
    cpu_ctx *c = vctx;
    if (n_tok > 1 && (size_t)n_tok * (size_t)n_heads * (size_t)head_dim >= EW_PARALLEL_MIN) {
        rope_job j = {x, n_tok, n_heads, head_dim, pos0, rp};
        pool_run(c->pool, rope_worker, &j);
        return;
    }
    cpu_rope_rows(x, n_tok, n_heads, head_dim, pos0, 1, rp);
}

/* ---------------------------------------------------------------- attention and KV cache */

static void cpu_attention(void *vctx, int il, float *q, float *k, float *v, int n_tok, uint32_t pos0, float *out) {
    cpu_ctx *c = vctx;
    cpu_kv_attention(&c->kv, c->pool, il, q, k, v, n_tok, pos0, out);
}

static void cpu_kv_shift_op(void *vctx, uint32_t p0, uint32_t p1, int32_t delta, const zeta_rope_params *rp) {
    cpu_ctx *c = vctx;
    cpu_kv_shift(&c->kv, p0, p1, delta, rp);
}

static size_t cpu_kv_pos_bytes(void *vctx) {
    cpu_ctx *c = vctx;
    return c->kv.k_pos + c->kv.v_pos;
}

/* buffer layout: per layer, n positions of K, then n positions of V */
static void cpu_kv_read_op(void *vctx, uint32_t p0, uint32_t n, void *dst) {
    cpu_ctx *c = vctx;
    uint8_t *d = dst;
    for (uint32_t il = 0; il < c->kv.n_layer; il++) {
        cpu_kv_read(&c->kv, (int)il, 0, p0, n, d);
        d += (size_t)n * c->kv.k_pos;
        cpu_kv_read(&c->kv, (int)il, 1, p0, n, d);
        d += (size_t)n * c->kv.v_pos;
    }
}

static void cpu_kv_write_op(void *vctx, uint32_t p0, uint32_t n, const void *src) {
    cpu_ctx *c = vctx;
    const uint8_t *s = src;
    for (uint32_t il = 0; il < c->kv.n_layer; il++) {
        cpu_kv_write(&c->kv, (int)il, 0, p0, n, s);
        s += (size_t)n * c->kv.k_pos;
        cpu_kv_write(&c->kv, (int)il, 1, p0, n, s);
        s += (size_t)n * c->kv.v_pos;
    }
}

/* ---------------------------------------------------------------- lifetime */

static void cpu_free(void *vctx) {
    cpu_ctx *c = vctx;
    if (!c) return;
    cpu_kv_free(&c->kv);
    free(c->act);
    free(c->xsum);
    pool_free(c->pool);
    free(c);
}

/* buffers are host memory; ops run synchronously and cannot fail */
static float *cpu_buf_alloc(void *vctx, size_t n) { return zeta_malloc_array(n ? n : 1, sizeof(float)); }
static void cpu_buf_free(void *vctx, float *p) { free(p); }
static zeta_status cpu_read(void *vctx, const float *src, size_t n, float *dst, zeta_error *err) {
    if (n && dst != src) memcpy(dst, src, n * sizeof(float));
    return ZETA_OK;
}

static const zeta_backend_ops k_cpu_ops = {
    .name = "cpu", .host_buffers = true, .free = cpu_free,
    .buf_alloc = cpu_buf_alloc, .buf_free = cpu_buf_free, .read = cpu_read,
    .get_rows = cpu_get_rows, .rmsnorm = cpu_rmsnorm, .matmul = cpu_matmul, .rope = cpu_rope,
    .attention = cpu_attention, .swiglu = cpu_swiglu, .add = cpu_add,
    .kv_shift = cpu_kv_shift_op, .kv_pos_bytes = cpu_kv_pos_bytes, .kv_read = cpu_kv_read_op, .kv_write = cpu_kv_write_op,
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
    c->sparse_gemv = zk_sparse_gemv_select();
    c->sparse_q8 = zk_sparse_q8_select();
    c->sparse_q4 = zk_sparse_q4_select();
    c->swiglu = zk_math_select()->swiglu;
    c->n_threads = cfg->n_threads;
    zeta_status st = cpu_kv_init(&c->kv, hp, cfg->n_ctx, cfg->type_k, cfg->type_v, cfg->kv_rotate, cfg->n_threads, err);
    if (st != ZETA_OK) {
        free(c);
        return st;
    }
    uint64_t widest = hp->n_embd;
    if (hp->n_ff > widest) widest = hp->n_ff;
    if ((uint64_t)hp->n_head * hp->head_dim_v > widest) widest = (uint64_t)hp->n_head * hp->head_dim_v;
    /* the widest converted activation row: at most 4 bytes per element (f32) */
    c->act_cap = (size_t)widest * 4 * cfg->max_batch;
    c->act = malloc(c->act_cap);
    c->xsum = zeta_malloc_array((size_t)cfg->max_batch * (widest / 32 + 1), sizeof(int32_t));
    if (!c->act || !c->xsum) goto oom;
    c->pool = pool_new(cfg->n_threads);
    if (!c->pool) {
        cpu_free(c);
        return zeta_fail(err, ZETA_ERR_INTERNAL, "could not start %d threads", cfg->n_threads);
    }
    out->ops = &k_cpu_ops;
    out->ctx = c;
    return ZETA_OK;
oom:
    cpu_free(c);
    return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory allocating activation scratch for %u tokens", cfg->max_batch);
}
