/* test_pack.c — what loading a model for the CPU leaves resident (cpu_pack.c). A model whose
 * matrices are repacked at load (synthetic "tiny" shape, Q8_0 and Q4_0) is loaded from an mmap:
 *   - every layer matrix has its packed copy;
 *   - the one-row tensors (norms) are read from copies outside the file mapping, with the file's
 *     bytes, so evaluating never maps the file around them again;
 *   - after load and after evaluating a prompt and a few decode steps, no file page lying wholly
 *     inside a packed matrix is mapped (/proc/self/pagemap's present bit), so those bytes do not
 *     count twice in the resident memory.
 * Why: a fault on the file maps its neighbours too (64 KiB of fault-around, or a whole 2 MiB folio
 * where the page cache holds the file in those), so reading a norm between two released matrices
 * mapped up to 2 MiB of them again, per norm (88 MiB on the 1.1B shape). The copies are checked
 * directly; the residency check fails if the matrices' pages are not released. On this tiny model
 * the 2 MiB case is not reproduced (bench/RESULTS.md has the 1.1B numbers). */
#include "test.h"
#include "cpu/gemm.h"
#include "gguf.h"
#include "model.h"
#include "zeta.h"

#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#define VOCAB "tests/data/vocab/ggml-vocab-llama-spm.gguf"

/* pages wholly inside [p, p + n) that are mapped (present), or -1 if pagemap cannot be read */
static long present_pages(int pm, const void *p, uint64_t n) {
    const long page = sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)p + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    const uintptr_t b = ((uintptr_t)p + n) & ~((uintptr_t)page - 1);
    long count = 0;
    for (; a < b; a += (uintptr_t)page) {
        uint64_t e;
        if (pread(pm, &e, sizeof e, (off_t)(a / (uintptr_t)page * sizeof e)) != (ssize_t)sizeof e) return -1;
        count += (long)(e >> 63);
    }
    return count;
}

static bool in_mapping(const gguf_file *g, const void *p) {
    return (const uint8_t *)p >= g->base && (const uint8_t *)p < g->base + g->size;
}

/* the packed matrices' pages that are mapped, summed; -1 if pagemap cannot be read */
static long mapped_matrix_pages(const zeta_model *m, int pm, int *n_matrices) {
    long total = 0;
    *n_matrices = 0;
    for (uint32_t il = 0; il < m->hp.n_layer; il++) {
        const zeta_layer *L = &m->layers[il];
        const zeta_weight *w[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
            if (!w[i]->packed) continue;
            const long c = present_pages(pm, w[i]->data, w[i]->ne1 * w[i]->row_bytes);
            if (c < 0) return -1;
            total += c;
            (*n_matrices)++;
        }
    }
    return total;
}

static void check_type(zeta_type type) {
    /* only CPUs with a packed product for the type repack (AArch64 reads the file's layout) */
    if (!zk_gemm_select()->gemm8[type]) T_SKIP("this CPU has no packed %s product: nothing is repacked", zeta_type_name(type));
    char path[] = "/tmp/zeta_pack_XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) T_SKIP("mkstemp failed");
    close(fd);
    zeta_synth_params sp = zeta_synth_params_default();
    sp.shape = "tiny";
    sp.type = type;
    sp.vocab_path = VOCAB;
    zeta_error err;
    zeta_model *m = NULL;
    zeta_session *s = NULL;
    zeta_model_params mp = zeta_model_params_default();
    mp.backend = ZETA_BACKEND_CPU;
    if (zeta_synth_model(&sp, path, &err) != ZETA_OK || zeta_model_load(path, &mp, &m, &err) != ZETA_OK) {
        T_CHECKF(0, "%s", err.message);
        remove(path);
        return;
    }
    const gguf_file *g = m->g;
    T_CHECKF(g->mapping == 1, "the model was not mapped (mapping %d)", g->mapping);

    /* every layer matrix packed; the norms outside the mapping, with the file's bytes */
    int n_norms = 0;
    for (uint32_t il = 0; il < m->hp.n_layer; il++) {
        const zeta_layer *L = &m->layers[il];
        const zeta_weight *mats[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) T_CHECKF(mats[i]->packed != NULL, "layer %u: %s not packed", il, mats[i]->name);
        const zeta_weight *norms[] = {&L->attn_norm, &L->ffn_norm};
        for (size_t i = 0; i < 2; i++) {
            T_CHECKF(!in_mapping(g, norms[i]->data), "layer %u: %s is read from the file mapping", il, norms[i]->name);
            n_norms++;
        }
    }
    T_CHECKF(!in_mapping(g, m->output_norm.data), "output_norm is read from the file mapping");

    const int pm = open("/proc/self/pagemap", O_RDONLY);
    if (pm < 0) printf("    /proc/self/pagemap cannot be read: the residency checks are skipped\n");
    else {
        int n_mat = 0;
        long mapped = mapped_matrix_pages(m, pm, &n_mat);
        T_CHECKF(n_mat == 7 * (int)m->hp.n_layer, "%d packed matrices", n_mat);
        T_CHECKF(mapped == 0, "after load: %ld pages of packed matrices are mapped", mapped);

        zeta_session_params ssp = zeta_session_params_default();
        ssp.n_ctx = 64;
        ssp.n_threads = 2;
        zeta_token toks[24];
        for (int i = 0; i < 24; i++) toks[i] = (zeta_token)(1 + 97 * i % 3000);
        if (zeta_session_new(m, &ssp, &s, &err) != ZETA_OK || zeta_session_eval(s, toks, 16, &err) != ZETA_OK) T_CHECKF(0, "%s", err.message);
        else {
            for (int i = 16; i < 24; i++)
                if (zeta_session_eval(s, &toks[i], 1, &err) != ZETA_OK) T_CHECKF(0, "%s", err.message);
            mapped = mapped_matrix_pages(m, pm, &n_mat);
            T_CHECKF(mapped == 0, "after evaluating 24 tokens: %ld pages of packed matrices are mapped", mapped);
        }
        printf("    %s: %d packed matrices (%ld of their file pages mapped at the end), %d norm copies\n", zeta_type_name(type), n_mat,
               mapped, n_norms);
        close(pm);
    }
    /* the copies hold the file's bytes (read last: this maps the file around them) */
    for (uint32_t il = 0; il < m->hp.n_layer; il++) {
        const zeta_layer *L = &m->layers[il];
        const zeta_weight *norms[] = {&L->attn_norm, &L->ffn_norm};
        for (size_t i = 0; i < 2; i++) {
            const gguf_tensor *t = gguf_find_tensor(g, norms[i]->name);
            T_CHECKF(t && t->n_bytes == norms[i]->row_bytes && memcmp(t->data, norms[i]->data, t->n_bytes) == 0,
                     "layer %u: %s differs from the file", il, norms[i]->name);
        }
    }
    zeta_session_free(s);
    zeta_model_free(m);
    remove(path);
}

static void test_q8_0(void) { check_type(ZETA_TYPE_Q8_0); }
static void test_q4_0(void) { check_type(ZETA_TYPE_Q4_0); }

int main(void) {
    T_RUN(test_q8_0);
    T_RUN(test_q4_0);
    return t_done();
}
