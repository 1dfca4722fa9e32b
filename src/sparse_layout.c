/* sparse_layout.c — the input-channel-major layout of the layer matrices for the sparse decode pass
 * (formats in sparse.h): the model's own codes regrouped by input block for Q8_0 and Q4_0 weights,
 * a Q8_0 copy of the dequantized columns for every other type; and the selection buffers. */
#include "sparse.h"
#include "model.h"
#include "quant.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* The native format another type's matrix is requantized to: Q4_0 for types under 5.5 bits a
 * weight (Q2_K, Q3_K, Q4_K, Q4_1, IQ4_NL, IQ4_XS), where a Q8_0 copy (8.5 bits) would be larger than
 * the model's own matrix and the sparse pass would read nearly as many bytes as the dense one
 * (bench/RESULTS.md 20261129-0330-sparse-q4-requant); Q8_0 for the others (F32, F16, BF16, Q5_0,
 * Q5_1, Q5_K, Q6_K). forced (ZETA_SPARSE_REQUANT=q8_0|q4_0): that format for every such matrix. */
static int requant_fmt(zeta_type t, int forced) {
    if (forced) return forced;
    const zeta_type_traits *tt = zeta_type_get(t);
    return tt && tt->block_size && 8.0 * tt->type_size < 5.5 * tt->block_size ? ZS_FMT_Q4 : ZS_FMT_Q8;
}

/* the format a matrix gets; force_copy (ZETA_SPARSE_COPY=1, for A/B measurements) gives the copy;
 * requant: other types' matrices requantized along their rows (requant_fmt) and laid out as native
 * Q8_0 / Q4_0 (zs_model_build's argument, or ZETA_SPARSE_REQUANT=0|1|q8_0|q4_0) */
static int mat_fmt(const zeta_weight *w, bool force_copy, bool requant, int rq_forced) {
    if (force_copy) return ZS_FMT_COPY;
    if (w->ne1 % 64 == 0 && w->ne0 % 32 == 0) {
        if (w->type == ZETA_TYPE_Q8_0) return ZS_FMT_Q8;
        if (w->type == ZETA_TYPE_Q4_0) return ZS_FMT_Q4;
        if (requant) return requant_fmt(w->type, rq_forced);
    }
    return ZS_FMT_COPY;
}

/* whether a matrix of format fmt is a requantization (not the model's own codes) */
static bool is_requant(const zeta_weight *w, int fmt) {
    return (fmt == ZS_FMT_Q8 && w->type != ZETA_TYPE_Q8_0) || (fmt == ZS_FMT_Q4 && w->type != ZETA_TYPE_Q4_0);
}

static size_t fmt_col_bytes(int fmt, uint64_t n_out) {
    return fmt == ZS_FMT_Q8 ? (size_t)n_out : fmt == ZS_FMT_Q4 ? (size_t)n_out / 2 : (size_t)(n_out / 32) * sizeof(block_q8_0);
}

uint64_t zs_native_bytes(int fmt, uint64_t n_in, uint64_t n_out) {
    return ((n_in / 32) * (2 * n_out + 32 * (uint64_t)fmt_col_bytes(fmt, n_out)) + 63) & ~(uint64_t)63;
}

/* bytes of the whole matrix in its format, rounded up to 64 */
static uint64_t fmt_bytes(int fmt, const zeta_weight *w) {
    if (fmt != ZS_FMT_COPY) return zs_native_bytes(fmt, w->ne0, w->ne1);
    return (w->ne0 * fmt_col_bytes(fmt, w->ne1) + 63) & ~(uint64_t)63;
}

/* ---- the layout's building on every core: each piece of work writes its own bytes, so the layout
 * is the same for any number of threads (tests/test_sparse.c checks 1 against 3) */

/* up to 16 threads: the cores, or ZETA_SPARSE_THREADS=N (*forced: then also for small work) */
static int layout_threads(bool *forced) {
    int n = zeta_cpu_cores();
    const char *te = getenv("ZETA_SPARSE_THREADS");
    *forced = te && atoi(te) > 0;
    if (*forced) n = atoi(te);
    return n < 1 ? 1 : n > 16 ? 16 : n;
}

/* fn over [0, n) on layout_threads() threads (zeta_par_for); work: bytes touched a unit, so that
 * work under ~1 MiB a thread goes to fewer threads, unless ZETA_SPARSE_THREADS says how many */
static bool par_for(size_t n, size_t work, zeta_range_fn fn, void *ctx) {
    bool forced;
    size_t nt = (size_t)layout_threads(&forced);
    const size_t by_work = work ? (n * work) >> 20 : n;
    if (nt > by_work && !forced) nt = by_work;
    return zeta_par_for(n, nt < 1 ? 1 : (int)nt, fn, ctx);
}

static void build_copy(const zeta_weight *w, float *rows, float *tile, uint8_t *dst) {
    const uint32_t n_in = (uint32_t)w->ne0, n_out = (uint32_t)w->ne1;
    for (uint32_t o = 0; o < n_out; o++)
        zeta_dequantize_row(w->type, (const uint8_t *)w->data + (size_t)o * w->row_bytes, rows + (size_t)o * n_in, n_in);
    const size_t cb = fmt_col_bytes(ZS_FMT_COPY, n_out);
    enum { CH = 64 };
    for (uint32_t i0 = 0; i0 < n_in; i0 += CH) {
        const uint32_t ni = n_in - i0 < CH ? n_in - i0 : CH;
        for (uint32_t o = 0; o < n_out; o++) {
            const float *r = rows + (size_t)o * n_in + i0;
            for (uint32_t i = 0; i < ni; i++) tile[(size_t)i * n_out + o] = r[i];
        }
        for (uint32_t i = 0; i < ni; i++)
            quantize_row_q8_0_ref(tile + (size_t)i * n_out, (block_q8_0 *)(dst + (size_t)(i0 + i) * cb), n_out);
    }
}

/* Q8_0 / Q4_0: the row scales and codes of each input block, moved, not recomputed; input blocks
 * [b0, b1) */
typedef struct native_ctx {
    const zeta_weight *w;
    int fmt;
    uint8_t *dst;
    size_t cb, blk;
} native_ctx;

static bool native_blocks(void *vctx, size_t b0, size_t b1) {
    const native_ctx *c = vctx;
    const uint32_t n_out = (uint32_t)c->w->ne1;
    const size_t cb = c->cb;
    for (size_t b = b0; b < b1; b++) {
        uint8_t *base = c->dst + b * c->blk, *cols = base + 2 * (size_t)n_out;
        for (uint32_t o = 0; o < n_out; o++) {
            const uint8_t *row = (const uint8_t *)c->w->data + (size_t)o * c->w->row_bytes;
            const uint32_t r = o & 63u;
            if (c->fmt == ZS_FMT_Q8) {
                const block_q8_0 *x = (const block_q8_0 *)row + b;
                memcpy(base + 2 * (size_t)o, &x->d, 2);
                const size_t at = (o & ~63u) + zs_q8_pos(r);
                for (uint32_t j = 0; j < 32; j++) cols[j * cb + at] = (uint8_t)x->qs[j];
            } else {
                const block_q4_0 *x = (const block_q4_0 *)row + b;
                memcpy(base + 2 * (size_t)o, &x->d, 2);
                const size_t at = (o >> 6) * 32 + zs_q4_pos(r);
                for (uint32_t j = 0; j < 32; j++) {
                    const uint8_t code = j < 16 ? x->qs[j] & 15u : x->qs[j - 16] >> 4;
                    uint8_t *p = &cols[j * cb + at];
                    *p = r < 32 ? (uint8_t)((*p & 0xf0u) | code) : (uint8_t)((*p & 0x0fu) | (code << 4));
                }
            }
        }
    }
    return true;
}

void zs_native_build(const zeta_weight *w, int fmt, uint8_t *dst, zs_mat *out) {
    const uint32_t n_in = (uint32_t)w->ne0, n_out = (uint32_t)w->ne1;
    const size_t cb = fmt_col_bytes(fmt, n_out), blk = 2 * (size_t)n_out + 32 * cb;
    native_ctx c = {w, fmt, dst, cb, blk};
    par_for(n_in / 32, blk, native_blocks, &c); /* cannot fail: no allocation */
    out->n_in = n_in;
    out->n_out = n_out;
    out->fmt = fmt;
    out->col_bytes = cb;
    out->blk_bytes = blk;
    out->cols = dst;
    out->gpu_run = 0;
}

typedef struct tile_ctx {
    const zs_mat *m;
    const uint8_t *src;
    uint8_t *dst;
    uint32_t run;
} tile_ctx;

static bool tile_blocks(void *vctx, size_t b0, size_t b1) {
    const tile_ctx *c = vctx;
    const size_t cb = c->m->col_bytes, sc = 2 * (size_t)c->m->n_out, run = c->run;
    for (size_t b = b0; b < b1; b++) {
        const uint8_t *s = c->src + b * c->m->blk_bytes;
        uint8_t *d = c->dst + b * c->m->blk_bytes;
        memcpy(d, s, sc);
        for (size_t t0 = 0; t0 < cb; t0 += run) {
            const size_t rb = cb - t0 < run ? cb - t0 : run;
            for (size_t j = 0; j < 32; j++) memcpy(d + sc + 32 * t0 + j * rb, s + sc + j * cb + t0, rb);
        }
    }
    return true;
}

void zs_tile_major(const zs_mat *m, const uint8_t *src, uint8_t *dst, uint32_t run) {
    const size_t nb = m->n_in / 32;
    tile_ctx c = {m, src, dst, run};
    par_for(nb, m->blk_bytes, tile_blocks, &c);
    const uint64_t total = zs_native_bytes(m->fmt, m->n_in, m->n_out); /* the padding after the last block */
    if (total > nb * m->blk_bytes) memcpy(dst + nb * m->blk_bytes, src + nb * m->blk_bytes, (size_t)(total - nb * m->blk_bytes));
}

/* rows [r0, r1) of w dequantized and requantized to Q8_0 / Q4_0 blocks along its inputs (as
 * llama.cpp's quantizer would), rb bytes a row into buf */
typedef struct rq_ctx {
    const zeta_weight *w;
    bool q4;
    uint8_t *buf;
    size_t rb;
} rq_ctx;

static bool rq_rows(void *vctx, size_t r0, size_t r1) {
    const rq_ctx *c = vctx;
    const uint32_t n_in = (uint32_t)c->w->ne0;
    float *row = zeta_malloc_array(n_in, sizeof(float));
    if (!row) return false;
    for (size_t o = r0; o < r1; o++) {
        zeta_dequantize_row(c->w->type, (const uint8_t *)c->w->data + o * c->w->row_bytes, row, n_in);
        if (c->q4) quantize_row_q4_0_ref(row, (block_q4_0 *)(c->buf + o * c->rb), n_in);
        else quantize_row_q8_0_ref(row, (block_q8_0 *)(c->buf + o * c->rb), n_in);
    }
    free(row);
    return true;
}

/* a matrix of another type as native Q8_0 / Q4_0 (fmt): its rows requantized (each alone) into buf
 * (n_out rows of n_in / 32 blocks; room for Q8_0's), then regrouped like a Q8_0 / Q4_0 file's.
 * False: out of memory. */
static bool build_requant(const zeta_weight *w, int fmt, uint8_t *buf, uint8_t *dst, zs_mat *out) {
    const bool q4 = fmt == ZS_FMT_Q4;
    rq_ctx c = {w, q4, buf, (size_t)(w->ne0 / 32) * (q4 ? sizeof(block_q4_0) : sizeof(block_q8_0))};
    if (!par_for((size_t)w->ne1, (size_t)w->ne0 * 4, rq_rows, &c)) return false;
    zeta_weight t = *w;
    t.type = q4 ? ZETA_TYPE_Q4_0 : ZETA_TYPE_Q8_0;
    t.data = buf;
    t.row_bytes = c.rb;
    zs_native_build(&t, fmt, dst, out);
    return true;
}

void zs_model_free(zs_model *z) {
    if (!z) return;
    zs_calib_free(&z->cal);
    free(z->layers);
    free(z->mem);
    free(z);
}

zeta_status zs_model_build(struct zeta_model *m, const char *path, bool requant, zeta_error *err) {
    zs_model *z = calloc(1, sizeof *z);
    if (!z) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory");
    zeta_status st = zs_calib_read(path, m, &z->cal, err);
    if (st != ZETA_OK) { free(z); return st; }
    const uint32_t nl = m->hp.n_layer;
    const char *env = getenv("ZETA_SPARSE_COPY"), *env2 = getenv("ZETA_SPARSE_REQUANT");
    const bool force_copy = env && env[0] == '1';
    int rq_forced = 0;
    if (env2 && (!strcmp(env2, "0") || !strcmp(env2, "1"))) requant = env2[0] == '1';
    else if (env2 && (!strcmp(env2, "q8_0") || !strcmp(env2, "q4_0"))) {
        requant = true;
        rq_forced = env2[1] == '8' ? ZS_FMT_Q8 : ZS_FMT_Q4;
    }
    uint64_t total = 0, widest = 0, max_out = 0, widest_rq = 0;
    for (uint32_t il = 0; il < nl; il++) {
        const zeta_layer *L = &m->layers[il];
        const zeta_weight *ws[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (int i = 0; i < 7; i++) {
            if (ws[i]->ne1 % 32 != 0) {
                zs_model_free(z);
                return zeta_fail(err, ZETA_ERR_UNSUPPORTED,
                                 "sparse layout: tensor '%s' has %llu output rows; the input-channel-major Q8_0 copy needs a multiple of 32",
                                 ws[i]->name, (unsigned long long)ws[i]->ne1);
            }
            if (!zeta_type_supported(ws[i]->type)) {
                zs_model_free(z);
                return zeta_fail(err, ZETA_ERR_UNSUPPORTED, "sparse layout: tensor '%s' has type %s without a dequantizer",
                                 ws[i]->name, zeta_type_name(ws[i]->type));
            }
            const int fmt = mat_fmt(ws[i], force_copy, requant, rq_forced);
            total += fmt_bytes(fmt, ws[i]);
            if (fmt == ZS_FMT_COPY && ws[i]->ne0 * ws[i]->ne1 > widest) widest = ws[i]->ne0 * ws[i]->ne1;
            if (fmt == ZS_FMT_COPY && ws[i]->ne1 > max_out) max_out = ws[i]->ne1;
            if (is_requant(ws[i], fmt) && ws[i]->ne0 * ws[i]->ne1 > widest_rq) widest_rq = ws[i]->ne0 * ws[i]->ne1;
        }
    }
    const uint64_t phys = zeta_physical_memory();
    if (phys && total > phys) {
        zs_model_free(z);
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "sparse layout: needs %llu MiB but this machine has %llu MiB of memory",
                         (unsigned long long)(total >> 20), (unsigned long long)(phys >> 20));
    }
    z->layers = calloc(nl, sizeof *z->layers);
    /* in huge pages where the kernel offers them: the sparse kernels jump between columns, and
     * with 4 KiB pages nearly every jump is a TLB miss (a streaming read of half the columns of a
     * 1.1B-shape matrix: 5.8 -> 7.0 GB/s on one core of the AMD EPYC VM) */
    z->mem = total ? zeta_alloc_huge(total) : NULL;
    float *rows = widest ? zeta_malloc_array((size_t)widest, sizeof(float)) : NULL;
    float *tile = max_out ? zeta_malloc_array((size_t)64 * max_out, sizeof(float)) : NULL;
    block_q8_0 *rq = widest_rq ? zeta_malloc_array((size_t)(widest_rq / 32), sizeof(block_q8_0)) : NULL;
    if (!z->layers || !z->mem || (widest && !rows) || (max_out && !tile) || (widest_rq && !rq)) {
        free(rows);
        free(tile);
        free(rq);
        zs_model_free(z);
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory building the sparse layout (%llu MiB)",
                         (unsigned long long)(total >> 20));
    }
    uint64_t off = 0;
    for (uint32_t il = 0; il < nl; il++) {
        const zeta_layer *L = &m->layers[il];
        const zeta_weight *ws[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        zs_mat *ds[7] = {&z->layers[il].wq, &z->layers[il].wk, &z->layers[il].wv, &z->layers[il].wo,
                         &z->layers[il].gate, &z->layers[il].up, &z->layers[il].down};
        for (int i = 0; i < 7; i++) {
            const int fmt = mat_fmt(ws[i], force_copy, requant, rq_forced);
            if (is_requant(ws[i], fmt)) {
                if (!build_requant(ws[i], fmt, (uint8_t *)rq, z->mem + off, ds[i])) {
                    free(rows);
                    free(tile);
                    free(rq);
                    zs_model_free(z);
                    return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory requantizing '%s' for the sparse layout", ws[i]->name);
                }
            }
            else if (fmt != ZS_FMT_COPY) zs_native_build(ws[i], fmt, z->mem + off, ds[i]);
            else {
                build_copy(ws[i], rows, tile, z->mem + off);
                ds[i]->n_in = (uint32_t)ws[i]->ne0;
                ds[i]->n_out = (uint32_t)ws[i]->ne1;
                ds[i]->fmt = fmt;
                ds[i]->col_bytes = fmt_col_bytes(fmt, ws[i]->ne1);
                ds[i]->blk_bytes = 0;
                ds[i]->cols = z->mem + off;
            }
            off += fmt_bytes(fmt, ws[i]);
        }
    }
    free(rows);
    free(tile);
    free(rq);
    z->bytes = total;
    m->sparse = z;
    return zeta_ok(err);
}

bool zs_sel_alloc(zs_sel *s, uint32_t n_in) {
    memset(s, 0, sizeof *s);
    s->part = zeta_malloc_array((size_t)ZS_MAX_SHARED * n_in, sizeof(float));
    const size_t nb = n_in / 32 + 1;
    s->idx = zeta_malloc_array(n_in, sizeof(uint32_t));
    s->val = zeta_malloc_array(n_in, sizeof(float));
    s->q8 = zeta_malloc_array(n_in, sizeof(int8_t));
    s->bstart = zeta_malloc_array(nb, sizeof(uint32_t));
    s->dx8 = zeta_malloc_array(nb, sizeof(float));
    s->sum8 = zeta_malloc_array(nb, sizeof(int32_t));
    if (s->part && s->idx && s->val && s->q8 && s->bstart && s->dx8 && s->sum8) return true;
    zs_sel_free(s);
    return false;
}

void zs_sel_free(zs_sel *s) {
    free(s->idx);
    free(s->val);
    free(s->q8);
    free(s->bstart);
    free(s->dx8);
    free(s->sum8);
    free(s->part);
    memset(s, 0, sizeof *s);
}
