/* cpu_pack.c — at model load, repacks every Q4_0 / Q8_0 / Q5_0 / Q4_1 / Q5_1 / IQ4_NL / Q2_K / Q3_K / Q4_K / Q5_K / Q6_K / IQ4_XS / F16 / BF16 weight matrix into the 8-row interleaved
 * layout of gemm.h (one allocation for all of them). Rows beyond the last full group of 8 stay in
 * the file's layout and go through the row-by-row kernels.
 *
 * Resident memory: the file's pages of a packed matrix are released after packing. The page cache
 * may hold the file in 2 MiB folios that a fault maps whole, so every later read of a small tensor
 * between two matrices (a norm vector, a bias) would map 2 MiB of the file again, per layer: that
 * was 88 MiB on the 1.1B shape. So the small tensors are copied into the same allocation first,
 * and the release is repeated once every matrix is packed (packing the next matrix maps the tail
 * of the one before). */
#include "backend.h"
#include "cpu/gemm.h"
#include "cpu/gemm_k.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t packed_bytes(const zeta_weight *w) {
    if (!w->data || w->ne1 < 8 || !zk_gemm_select()->gemm8[w->type]) return 0;
    size_t g = zk_packed_group_bytes(w->type, (int64_t)w->ne0);
    return g * (size_t)(w->ne1 / 8);
}

/* packs groups [g0, g1) of w (8 rows each) into dst (the matrix's packed copy) */
static void pack_groups(const zeta_weight *w, uint8_t *dst, uint64_t g0, uint64_t g1) {
    const zeta_type_traits *tt = zeta_type_get((uint32_t)w->type);
    const int64_t nb = (int64_t)w->ne0 / tt->block_size;
    const size_t gb = zk_packed_group_bytes(w->type, (int64_t)w->ne0);
    for (uint64_t g = g0; g < g1; g++) {
        const uint8_t *base = (const uint8_t *)w->data + g * 8 * w->row_bytes;
        void *out = dst + g * gb;
#define ROWS(T) const T *rows[8]; for (int r = 0; r < 8; r++) rows[r] = (const T *)(base + (size_t)r * w->row_bytes)
        switch (w->type) {
        case ZETA_TYPE_Q4_0: case ZETA_TYPE_IQ4_NL: { ROWS(block_q4_0); zk_pack_q4_0x8(rows, nb, out); break; } /* IQ4_NL: Q4_0's block shape */
        case ZETA_TYPE_Q8_0: { ROWS(block_q8_0); zk_pack_q8_0x8(rows, nb, out); break; }
        case ZETA_TYPE_Q5_0: { ROWS(block_q5_0); zk_pack_q5_0x8(rows, nb, out); break; }
        case ZETA_TYPE_Q4_1: { ROWS(block_q4_1); zk_pack_q4_1x8(rows, nb, out); break; }
        case ZETA_TYPE_Q5_1: { ROWS(block_q5_1); zk_pack_q5_1x8(rows, nb, out); break; }
        case ZETA_TYPE_Q4_K: { ROWS(block_q4_K); zk_pack_q4_Kx8(rows, nb, out); break; }
        case ZETA_TYPE_Q3_K: { ROWS(block_q3_K); zk_pack_q3_Kx8(rows, nb, out); break; }
        case ZETA_TYPE_Q2_K: { ROWS(block_q2_K); zk_pack_q2_Kx8(rows, nb, out); break; }
        case ZETA_TYPE_IQ4_XS: { ROWS(block_iq4_xs); zk_pack_iq4_xsx8(rows, nb, out); break; }
        case ZETA_TYPE_Q5_K: { ROWS(block_q5_K); zk_pack_q5_Kx8(rows, nb, out); break; }
        case ZETA_TYPE_Q6_K: { ROWS(block_q6_K); zk_pack_q6_Kx8(rows, nb, out); break; }
        case ZETA_TYPE_F16: case ZETA_TYPE_BF16: { ROWS(uint16_t); zk_pack_f16x8(rows, (int64_t)w->ne0, out); break; }
        default: return; /* packed_bytes() is 0 for other types */
        }
#undef ROWS
    }
}

/* The packed copy replaces a matrix whose rows all fall in groups of 8: its pages in the file
 * mapping are released (they were read once to pack them), so they do not count twice in the
 * resident memory. A later access would fault them in again from the file. The token embedding
 * stays: rows of it are gathered for every token. */
static void release_original(const struct zeta_model *m, const zeta_weight *w) {
    if (m->g->mapping != 1 || !w->packed || w->ne1 % 8 != 0 || w->data == m->tok_embd.data) return;
    const long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t a = (uintptr_t)w->data, b = a + (uintptr_t)(w->ne1 * w->row_bytes);
    a = (a + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    b &= ~((uintptr_t)page - 1);
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
}

/* The matrices the forward pass multiplies with, in order: calls f(w) for each with packed_bytes(w) > 0 and
 * returns the sum of their packed sizes */
static size_t each_matrix(struct zeta_model *m, void (*f)(void *ctx, zeta_weight *w, size_t off), void *ctx) {
    size_t total = 0;
    for (int64_t il = -1; il < (int64_t)m->hp.n_layer; il++) {
        zeta_weight *list[16];
        int n = 0;
        if (il < 0) list[n++] = &m->output;
        else {
            zeta_layer *L = &m->layers[il];
            list[n++] = &L->wq; list[n++] = &L->wk; list[n++] = &L->wv; list[n++] = &L->wo;
            list[n++] = &L->w_gate; list[n++] = &L->w_up; list[n++] = &L->w_down;
        }
        for (int i = 0; i < n; i++) {
            const size_t b = packed_bytes(list[i]);
            if (!b) continue;
            if (f) f(ctx, list[i], total);
            total += b;
        }
    }
    return total;
}

/* The packing runs on up to PACK_THREADS threads, in tasks of PACK_GROUPS 8-row groups; the thread
 * that finishes a matrix's last task releases its file pages. The packed bytes do not depend on the
 * thread count. */
#define PACK_THREADS 16
#define PACK_GROUPS 256

typedef struct {
    zeta_weight *w;
    uint8_t *dst;       /* the matrix's packed copy */
    uint64_t g0, g1;
    atomic_uint *left;  /* the matrix's tasks not done yet */
} pack_task;

typedef struct {
    const struct zeta_model *m;
    uint8_t *mem;
    pack_task *t;
    size_t n, cap;
    atomic_uint *left;
    size_t n_mat;
    atomic_size_t next;
    bool oom;
} pack_job;

static void add_tasks(void *ctx, zeta_weight *w, size_t off) {
    pack_job *j = ctx;
    const uint64_t groups = w->ne1 / 8;
    atomic_uint *left = &j->left[j->n_mat++];
    unsigned n = 0;
    w->packed = j->mem + off; /* nothing reads it before the load returns */
    for (uint64_t g = 0; g < groups; g += PACK_GROUPS, n++) {
        if (j->n == j->cap) {
            const size_t cap = j->cap ? 2 * j->cap : 256;
            pack_task *t = realloc(j->t, cap * sizeof *t);
            if (!t) { j->oom = true; return; }
            j->t = t;
            j->cap = cap;
        }
        j->t[j->n++] = (pack_task){w, j->mem + off, g, g + PACK_GROUPS < groups ? g + PACK_GROUPS : groups, left};
    }
    atomic_init(left, n);
}

static void count_matrix(void *ctx, zeta_weight *w, size_t off) {
    (void)w; (void)off;
    ++*(size_t *)ctx;
}

static void *pack_worker(void *arg) {
    pack_job *j = arg;
    for (size_t i; (i = atomic_fetch_add(&j->next, 1)) < j->n;) {
        const pack_task *t = &j->t[i];
        pack_groups(t->w, t->dst, t->g0, t->g1);
        if (atomic_fetch_sub(t->left, 1) == 1) release_original(j->m, t->w);
    }
    return NULL;
}

/* packs every matrix into mem (their packed_bytes, in each_matrix's order) */
static bool pack_all(struct zeta_model *m, uint8_t *mem) {
    size_t n_mat = 0;
    each_matrix(m, count_matrix, &n_mat);
    pack_job j = {.m = m, .mem = mem, .left = malloc((n_mat ? n_mat : 1) * sizeof(atomic_uint))};
    if (!j.left) return false;
    each_matrix(m, add_tasks, &j);
    if (j.oom) {
        free(j.t);
        free(j.left);
        return false;
    }
    atomic_init(&j.next, 0);
    int n_threads = zeta_cpu_cores();
    if (n_threads > PACK_THREADS) n_threads = PACK_THREADS;
    if ((size_t)n_threads > j.n) n_threads = (int)j.n;
    pthread_t th[PACK_THREADS];
    int started = 0;
    for (int i = 1; i < n_threads; i++, started++)
        if (pthread_create(&th[started], NULL, pack_worker, &j) != 0) break; /* fewer threads is still correct */
    pack_worker(&j);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    free(j.t);
    free(j.left);
    return true;
}

static void pack_serial(void *ctx, zeta_weight *w, size_t off) {
    uint8_t *dst = (uint8_t *)ctx + off;
    pack_groups(w, dst, 0, w->ne1 / 8);
    w->packed = dst;
}

static void release_matrix(void *ctx, zeta_weight *w, size_t off) {
    (void)off;
    release_original(ctx, w);
}

/* sizes (dst NULL) or copies the one-row tensors the layers read (norms, biases): returns the bytes */
static size_t copy_small(struct zeta_model *m, uint8_t *dst) {
    size_t total = 0;
    for (int64_t il = -1; il < (int64_t)m->hp.n_layer; il++) {
        zeta_weight *list[8];
        int n = 0;
        if (il < 0) list[n++] = &m->output_norm;
        else {
            zeta_layer *L = &m->layers[il];
            list[n++] = &L->attn_norm; list[n++] = &L->ffn_norm; list[n++] = &L->q_norm; list[n++] = &L->k_norm;
            list[n++] = &L->bq; list[n++] = &L->bk; list[n++] = &L->bv;
        }
        for (int i = 0; i < n; i++) {
            zeta_weight *w = list[i];
            if (!w->data || w->ne1 != 1) continue;
            const size_t b = ((size_t)w->row_bytes + 63) & ~(size_t)63;
            if (dst) {
                memcpy(dst + total, w->data, (size_t)w->row_bytes);
                w->data = dst + total;
            }
            total += b;
        }
    }
    return total;
}

zeta_status cpu_prepare_model(struct zeta_model *m, zeta_error *err) {
    const size_t packed = (each_matrix(m, NULL, NULL) + 63) & ~(size_t)63;
    if (packed == 0) return ZETA_OK; /* the whole model is read from the mapping anyway */
    const size_t small = m->g->mapping == 1 ? copy_small(m, NULL) : 0;
    const size_t total = packed + small;
    const uint64_t phys = zeta_physical_memory();
    if (phys && total > phys)
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "%s: repacking the weights for the CPU needs %zu MiB but this machine has %llu MiB",
                         m->g->path, total >> 20, (unsigned long long)(phys >> 20));
    uint8_t *mem = zeta_alloc_huge(total);
    if (!mem)
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "%s: out of memory repacking %zu MiB of weights", m->g->path,
                         total >> 20);
    if (small) copy_small(m, mem + packed);
    if (!pack_all(m, mem)) each_matrix(m, pack_serial, mem); /* no memory for the task list: one thread */
    each_matrix(m, release_matrix, (void *)m); /* again: packing a matrix maps the tail of the one before */
    m->packed_mem = mem;
    m->packed_bytes = total;

    return ZETA_OK;
}
