/* cpu_pack.c — at model load, repacks every Q4_0 / Q8_0 / Q4_K / Q6_K weight matrix into the 8-row interleaved
 * layout of gemm.h (one allocation for all of them). Rows beyond the last full group of 8 stay in
 * the file's layout and go through the row-by-row kernels. */
#include "backend.h"
#include "cpu/gemm.h"
#include "cpu/gemm_k.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static size_t packed_bytes(const zeta_weight *w) {
    if (!w->data || w->ne1 < 8 || !zk_gemm_select()->gemm8[w->type]) return 0;
    size_t g = zk_packed_group_bytes(w->type, (int64_t)w->ne0);
    return g * (size_t)(w->ne1 / 8);
}

static void pack(zeta_weight *w, uint8_t *dst) {
    const zeta_type_traits *tt = zeta_type_get((uint32_t)w->type);
    const int64_t nb = (int64_t)w->ne0 / tt->block_size;
    const size_t gb = zk_packed_group_bytes(w->type, (int64_t)w->ne0);
    for (uint64_t g = 0; g < w->ne1 / 8; g++) {
        const uint8_t *base = (const uint8_t *)w->data + g * 8 * w->row_bytes;
        void *out = dst + g * gb;
#define ROWS(T) const T *rows[8]; for (int r = 0; r < 8; r++) rows[r] = (const T *)(base + (size_t)r * w->row_bytes)
        switch (w->type) {
        case ZETA_TYPE_Q4_0: { ROWS(block_q4_0); zk_pack_q4_0x8(rows, nb, out); break; }
        case ZETA_TYPE_Q8_0: { ROWS(block_q8_0); zk_pack_q8_0x8(rows, nb, out); break; }
        case ZETA_TYPE_Q4_K: { ROWS(block_q4_K); zk_pack_q4_Kx8(rows, nb, out); break; }
        case ZETA_TYPE_Q6_K: { ROWS(block_q6_K); zk_pack_q6_Kx8(rows, nb, out); break; }
        default: return; /* packed_bytes() is 0 for other types */
        }
#undef ROWS
    }
    w->packed = dst;
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

/* sizes (dst NULL) or packs, then releases, every matrix the forward pass multiplies with */
static size_t visit(struct zeta_model *m, uint8_t *dst) {
    zeta_weight *list[16];
    size_t total = 0;
    for (int64_t il = -1; il < (int64_t)m->hp.n_layer; il++) {
        int n = 0;
        if (il < 0) list[n++] = &m->output;
        else {
            zeta_layer *L = &m->layers[il];
            list[n++] = &L->wq; list[n++] = &L->wk; list[n++] = &L->wv; list[n++] = &L->wo;
            list[n++] = &L->w_gate; list[n++] = &L->w_up; list[n++] = &L->w_down;
        }
        for (int i = 0; i < n; i++) {
            size_t b = packed_bytes(list[i]);
            if (!b) continue;
            if (dst) {
                pack(list[i], dst + total);
                release_original(m, list[i]);
            }
            total += b;
        }
    }
    return total;
}

zeta_status cpu_prepare_model(struct zeta_model *m, zeta_error *err) {
    size_t total = visit(m, NULL);
    if (!total) return ZETA_OK;
    const uint64_t phys = zeta_physical_memory();
    if (phys && total > phys)
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "%s: repacking the weights for the CPU needs %zu MiB but this machine has %llu MiB",
                         m->g->path, total >> 20, (unsigned long long)(phys >> 20));
    uint8_t *mem = malloc(total);
    if (!mem)
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "%s: out of memory repacking %zu MiB of weights", m->g->path,
                         total >> 20);
    visit(m, mem);
    m->packed_mem = mem;
    m->packed_bytes = total;

    return ZETA_OK;
}
