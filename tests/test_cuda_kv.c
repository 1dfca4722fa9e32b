/* test_cuda_kv.c — the CUDA backend's quantized KV caches (K and V each f16, q8_0 or q4_0; Hadamard
 * rotation on and off) against the CPU backend with the same cache types, on random-weight models
 * of head sizes 64 and 128 with 1, 2, 3 and 8 query heads a KV head (zeta synth tiny, tiny-hd128,
 * tiny-gqa8, tiny-mha, tiny-gqa3, whose groups of 3 the decode kernel pads to 4; f16 weights, so
 * that both backends do the same float arithmetic up to summation order), at positions below and above 512, where decode steps change kernels here (the
 * per-query-head kernels, then cuda_attn_dec.cu's, which also takes f16 caches; ZETA_CUDA_ATTN_GQA_MIN
 * is set to 512 for this test):
 * - the attention op: the same q, k, v through both backends over prompts, decode steps and long
 *   (split) contexts: outputs within 2e-5, and the cache's bytes (rotated, quantized rows) equal to
 *   the CPU's, byte for byte;
 * - whole models: logits of a prompt, decode steps replayed from CUDA graphs (RoPE, rotation and
 *   quantization of the new row inside the attention kernel), a context shift and more steps, then
 *   the GPU's session file loaded into a CPU session;
 * - decode graphs: graph == record (bits) and op by op within 1e-5 of the range;
 * - refusals: types and head sizes the kernels lack, with messages that name them.
 * Without CUDA compiled in, or without a device, the cases print skip lines. */
#include "test.h"
#include "cuda_test_util.h"
#include "session.h"
#include "cuda/cuda_backend.h"

#include <math.h>
#include <stdint.h>
#include <unistd.h>

static bool g_device;
static char g_why[200];
#define N_MODELS 5
static char g_path[N_MODELS][64];
static const char *g_shape[N_MODELS] = {"tiny", "tiny-hd128", "tiny-gqa8", "tiny-mha", "tiny-gqa3"};


typedef struct { zeta_type k, v; bool no_rot; const char *name; } kv_case;
static const kv_case k_cases[] = {
    {ZETA_TYPE_Q8_0, ZETA_TYPE_Q8_0, false, "q8_0/q8_0"},
    {ZETA_TYPE_Q4_0, ZETA_TYPE_Q4_0, false, "q4_0/q4_0"},
    {ZETA_TYPE_Q8_0, ZETA_TYPE_F16, false, "q8_0/f16"},
    {ZETA_TYPE_F16, ZETA_TYPE_Q4_0, false, "f16/q4_0"},
    {ZETA_TYPE_Q8_0, ZETA_TYPE_Q4_0, true, "q8_0/q4_0 unrotated"},
    {ZETA_TYPE_F16, ZETA_TYPE_F16, false, "f16/f16"},
};
#define N_CASES (sizeof k_cases / sizeof k_cases[0])

static zeta_session *session(zeta_model *m, const kv_case *c, uint32_t n_ctx, zeta_error *err) {
    zeta_session_params sp = zeta_session_params_default();
    sp.n_ctx = n_ctx;
    sp.n_threads = 2;
    sp.kv_type = c->k;
    sp.kv_type_v = c->v;
    sp.kv_no_rotate = c->no_rot;
    zeta_session *s = NULL;
    return zeta_session_new(m, &sp, &s, err) == ZETA_OK ? s : NULL;
}

/* ------------------------------------------------------------------ refusals */

static void test_refusals(void) {
    if (!g_device) T_SKIP("%s", g_why);
    zeta_error err;
    zeta_model *m = NULL;
    T_CHECKF(load("models/stories260K.gguf", ZETA_BACKEND_CUDA, &m, &err) == ZETA_OK, "%s", err.message);
    const kv_case q8 = {ZETA_TYPE_Q8_0, ZETA_TYPE_Q8_0, false, ""}, f32 = {ZETA_TYPE_F32, ZETA_TYPE_F16, false, ""};
    zeta_session *s = m ? session(m, &q8, 64, &err) : NULL;
    T_CHECKF(m && !s && strstr(err.message, "head size") && strstr(err.message, " 8 "), "head size 8: %s", err.message);
    zeta_session_free(s);
    zeta_model_free(m);
    m = NULL;
    T_CHECKF(load(g_path[0], ZETA_BACKEND_CUDA, &m, &err) == ZETA_OK, "%s", err.message);
    s = m ? session(m, &f32, 64, &err) : NULL;
    T_CHECKF(m && !s && strstr(err.message, "f32") && strstr(err.message, "q8_0"), "f32 K: %s", err.message);
    zeta_session_free(s);
    zeta_model_free(m);
}

/* ------------------------------------------------------------------ the attention op */

/* q, k, v of n_tok tokens through both backends' attention at layer 1 from position pos0 (the CPU
 * rotates its inputs in place, so the device gets them first) */
static double attention_step(zeta_session *sc, zeta_session *sg, int n_tok, uint32_t pos0) {
    const zeta_hparams *hp = &sc->model->hp;
    const size_t nq = (size_t)n_tok * hp->n_head * hp->head_dim_k, nk = (size_t)n_tok * hp->n_head_kv * hp->head_dim_k;
    const size_t nv = (size_t)n_tok * hp->n_head_kv * hp->head_dim_v, no = (size_t)n_tok * hp->n_head * hp->head_dim_v;
    float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nv * 4), *ref = malloc(no * 4), *got = malloc(no * 4);
    fill(q, nq, 2.0f);
    fill(k, nk, 2.0f);
    fill(v, nv, 1.0f);
    const zeta_backend_inst *G = &sg->be, *C = &sc->be;
    float *dq = G->ops->buf_alloc(G->ctx, nq), *dk = G->ops->buf_alloc(G->ctx, nk), *dv = G->ops->buf_alloc(G->ctx, nv);
    float *dout = G->ops->buf_alloc(G->ctx, no);
    double d = INFINITY;
    zeta_error err;
    if (dq && dk && dv && dout && cuda_buf_write(G->ctx, dq, q, nq, &err) == ZETA_OK && cuda_buf_write(G->ctx, dk, k, nk, &err) == ZETA_OK &&
        cuda_buf_write(G->ctx, dv, v, nv, &err) == ZETA_OK) {
        G->ops->attention(G->ctx, 1, dq, dk, dv, n_tok, pos0, dout);
        C->ops->attention(C->ctx, 1, q, k, v, n_tok, pos0, ref);
        if (G->ops->read(G->ctx, dout, no, got, &err) == ZETA_OK) d = maxdiff(ref, got, no);
        else printf("    read: %s\n", err.message);
    }
    G->ops->buf_free(G->ctx, dq); G->ops->buf_free(G->ctx, dk); G->ops->buf_free(G->ctx, dv); G->ops->buf_free(G->ctx, dout);
    free(q); free(k); free(v); free(ref); free(got);
    return d;
}

/* layer 1's K and V bytes of positions [0, n) in both sessions (session-file layout): equal? */
static bool cache_bytes_equal(zeta_session *sc, zeta_session *sg, uint32_t n, size_t *n_bytes) {
    const size_t pb = sc->be.ops->kv_pos_bytes(sc->be.ctx);
    T_CHECKF(pb == sg->be.ops->kv_pos_bytes(sg->be.ctx), "bytes a position: CPU %zu, CUDA %zu", pb,
             sg->be.ops->kv_pos_bytes(sg->be.ctx));
    const uint32_t nl = sc->model->hp.n_layer;
    uint8_t *a = malloc((size_t)n * nl * pb), *b = malloc((size_t)n * nl * pb);
    sc->be.ops->kv_read(sc->be.ctx, 0, n, a);
    sg->be.ops->kv_read(sg->be.ctx, 0, n, b);
    *n_bytes = (size_t)n * pb;
    const bool eq = memcmp(a + (size_t)n * pb, b + (size_t)n * pb, (size_t)n * pb) == 0; /* layer 1 */
    free(a); free(b);
    return eq;
}

static void test_attention(void) {
    if (!g_device) T_SKIP("%s", g_why);
    for (int mi = 0; mi < N_MODELS; mi++) {
        zeta_error err;
        zeta_model *mc = NULL, *mg = NULL;
        if (load(g_path[mi], ZETA_BACKEND_CPU, &mc, &err) != ZETA_OK || load(g_path[mi], ZETA_BACKEND_CUDA, &mg, &err) != ZETA_OK) {
            T_CHECKF(0, "%s: %s", g_shape[mi], err.message);
            zeta_model_free(mc);
            continue;
        }
        for (size_t ci = 0; ci < N_CASES; ci++) {
            const kv_case *c = &k_cases[ci];
            zeta_session *sc = session(mc, c, 1024, &err), *sg = sc ? session(mg, c, 1024, &err) : NULL;
            if (!sc || !sg) {
                T_CHECKF(0, "%s %s: %s", g_shape[mi], c->name, err.message);
                zeta_session_free(sc);
                continue;
            }
            /* prompts from an empty cache and continued mid-tile, decode steps, a long prompt, decode
             * over 468 positions (split over blocks), then past 512 positions (the KV-head kernel,
             * one slice at 601, four at 902), and a prompt over 1005 positions (the tensor-core
             * kernel's positions split over two blocks) */
            const int steps[][2] = {{100, 0}, {64, 100}, {1, 164}, {2, 165}, {300, 167}, {1, 467}, {3, 468},
                                    {129, 471}, {1, 600}, {300, 601}, {1, 901}, {103, 902}, {16, 1005}};
            double worst = 0;
            for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
                const double d = attention_step(sc, sg, steps[i][0], (uint32_t)steps[i][1]);
                T_CHECKF(d <= 2e-5, "%s %s: attention n_tok %d at %d: max diff %g", g_shape[mi], c->name, steps[i][0], steps[i][1], d);
                if (d > worst) worst = d;
            }
            size_t nb = 0;
            const bool eq = cache_bytes_equal(sc, sg, 1021, &nb);
            T_CHECKF(eq, "%s %s: the GPU's cache bytes differ from the CPU's", g_shape[mi], c->name);
            printf("    %-10s %-20s attention max diff %.2e over 13 steps; cache bytes (%zu a layer) %s\n", g_shape[mi], c->name, worst, nb,
                   eq ? "equal" : "DIFFER");
            zeta_session_free(sc);
            zeta_session_free(sg);
        }
        zeta_model_free(mc);
        zeta_model_free(mg);
    }
}

/* ------------------------------------------------------------------ whole models */

/* CPU and GPU sessions with cache types c (and a CPU session with an f16 cache, for scale): a
 * 490-token prompt, 30 greedy steps (the GPU's choices fed to all: past position 512), a shift back
 * by 25 (below 512 again), 10 more steps; then the GPU's session file loaded into a CPU session and
 * one more step on both */
static void model_case(zeta_model *mc, zeta_model *mg, const char *shape, const kv_case *c) {
    zeta_error err;
    const kv_case f16 = {ZETA_TYPE_F16, ZETA_TYPE_F16, false, "f16"};
    zeta_session *sc = session(mc, c, 1024, &err), *sg = sc ? session(mg, c, 1024, &err) : NULL;
    zeta_session *sf = sg ? session(mc, &f16, 1024, &err) : NULL, *sl = sf ? session(mc, c, 1024, &err) : NULL;
    if (!sl) {
        T_CHECKF(0, "%s %s: %s", shape, c->name, err.message);
        goto out;
    }
    const size_t nv = zeta_n_vocab(mc);
    enum { NP = 490 };
    zeta_token toks[NP];
    for (int i = 0; i < NP; i++) toks[i] = (zeta_token)(1 + (i * 7919 + 13) % (int)(nv - 1));
    double dq = 0, rq = 0, df = 0, range = 0;
    int agree = 0, steps = 0;
    bool ok = zeta_session_eval(sc, toks, NP, &err) == ZETA_OK && zeta_session_eval(sg, toks, NP, &err) == ZETA_OK &&
              zeta_session_eval(sf, toks, NP, &err) == ZETA_OK;
    for (int step = 0; ok && step <= 40; step++) {
        const float *lc = zeta_session_logits(sc, NULL), *lg = zeta_session_logits(sg, NULL), *lf = zeta_session_logits(sf, NULL);
        const double d = maxdiff(lc, lg, nv), d2 = maxdiff(lc, lf, nv), r = maxabs(lc, nv);
        if (d > dq) dq = d;
        if (d2 > df) df = d2;
        if (r > range) range = r;
        for (size_t i = 0; i < nv; i++) rq += ((double)lc[i] - lg[i]) * ((double)lc[i] - lg[i]);
        const zeta_token t = (zeta_token)argmax(lg, nv);
        agree += t == argmax(lc, nv);
        steps++;
        if (step == 30)
            ok = zeta_session_shift(sc, 4, 25, &err) == ZETA_OK && zeta_session_shift(sg, 4, 25, &err) == ZETA_OK &&
                 zeta_session_shift(sf, 4, 25, &err) == ZETA_OK;
        if (step < 40 && ok)
            ok = zeta_session_eval(sc, &t, 1, &err) == ZETA_OK && zeta_session_eval(sg, &t, 1, &err) == ZETA_OK &&
                 zeta_session_eval(sf, &t, 1, &err) == ZETA_OK;
    }
    T_CHECKF(ok, "%s %s: %s", shape, c->name, err.message);
    const double rms = sqrt(rq / ((double)steps * nv));
    /* the same cache types: the difference is summation order (and a rare rounding flip of a cache
     * value); against the f16 cache it is the quantization itself */
    printf("    %-10s %-20s %d positions: CUDA vs CPU max diff %.2e (rms %.1e, range %.2f), argmax agree %d/%d; CPU f16-cache vs CPU: "
           "max diff %.2e\n", shape, c->name, steps, dq, rms, range, agree, steps, df);
    T_CHECKF(dq <= 1e-3 * (range + 1.0), "%s %s: CUDA vs CPU max diff %g (range %g)", shape, c->name, dq, range);
    T_CHECKF(dq <= 0.25 * df || df == 0.0, "%s %s: CUDA vs CPU %g is not well under the quantization's effect %g", shape, c->name, dq, df);
    /* the GPU's state on the CPU */
    char path[] = "/tmp/zeta_test_cuda_kv_XXXXXX";
    const int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    T_CHECKF(fd >= 0 && zeta_session_save(sg, path, &err) == ZETA_OK, "%s", fd < 0 ? "mkstemp" : err.message);
    T_CHECKF(zeta_session_load(sl, path, &err) == ZETA_OK, "%s", err.message);
    unlink(path);
    const zeta_token t = 7;
    T_CHECK(zeta_session_eval(sg, &t, 1, &err) == ZETA_OK && zeta_session_eval(sl, &t, 1, &err) == ZETA_OK);
    const double d = maxdiff(zeta_session_logits(sg, NULL), zeta_session_logits(sl, NULL), nv);
    T_CHECKF(d <= 1e-3 * (range + 1.0), "%s %s: GPU state loaded on the CPU: max diff %g", shape, c->name, d);
out:
    zeta_session_free(sc); zeta_session_free(sg); zeta_session_free(sf); zeta_session_free(sl);
}

static void test_models(void) {
    if (!g_device) T_SKIP("%s", g_why);
    for (int mi = 0; mi < N_MODELS; mi++) {
        zeta_error err;
        zeta_model *mc = NULL, *mg = NULL;
        if (load(g_path[mi], ZETA_BACKEND_CPU, &mc, &err) != ZETA_OK || load(g_path[mi], ZETA_BACKEND_CUDA, &mg, &err) != ZETA_OK)
            T_CHECKF(0, "%s: %s", g_shape[mi], err.message);
        else
            for (size_t ci = 0; ci < N_CASES; ci++) model_case(mc, mg, g_shape[mi], &k_cases[ci]);
        zeta_model_free(mc);
        zeta_model_free(mg);
    }
}

/* ------------------------------------------------------------------ decode graphs */

/* three GPU sessions, op by op / recorded / graph: a 490-token prompt, 60 steps (past position
 * 512, where the attention kernel changes), a shift back by 15 half way */
static void graph_case(zeta_model *m, const char *shape, const kv_case *c) {
    zeta_session *s[3] = {NULL, NULL, NULL};
    zeta_error err;
    const int modes[3] = {CUDA_EXEC_DIRECT, CUDA_EXEC_RECORD, CUDA_EXEC_GRAPH};
    for (int i = 0; i < 3; i++) {
        if (!(s[i] = session(m, c, 1024, &err))) { T_CHECKF(0, "%s %s: %s", shape, c->name, err.message); goto out; }
        cuda_set_exec_mode(s[i]->be.ctx, modes[i]);
    }
    const size_t nv = zeta_n_vocab(m);
    zeta_token toks[490];
    for (int i = 0; i < 490; i++) toks[i] = (zeta_token)(1 + (i * 131 + 7) % (int)(nv - 1));
    for (int i = 0; i < 3; i++) T_CHECKF(zeta_session_eval(s[i], toks, 490, &err) == ZETA_OK, "%s", err.message);
    enum { N = 60 };
    int exact = 0;
    double worst = 0, range = 0;
    zeta_token t = (zeta_token)argmax(zeta_session_logits(s[2], NULL), nv);
    for (int step = 0; step < N; step++) {
        bool ok = true;
        if (step == N / 2)
            for (int i = 0; i < 3; i++) ok = ok && zeta_session_shift(s[i], 4, 15, &err) == ZETA_OK;
        for (int i = 2; i >= 0; i--) ok = ok && zeta_session_eval(s[i], &t, 1, &err) == ZETA_OK; /* graph first */
        if (!ok) { T_CHECKF(0, "%s %s step %d: %s", shape, c->name, step, err.message); break; }
        const float *l[3];
        for (int i = 0; i < 3; i++) l[i] = zeta_session_logits(s[i], NULL);
        exact += memcmp(l[1], l[2], nv * sizeof(float)) == 0;
        const double d = maxdiff(l[0], l[2], nv), r = maxabs(l[0], nv);
        if (d > worst) worst = d;
        if (r > range) range = r;
        t = (zeta_token)argmax(l[2], nv);
    }
    long cap = 0, rep = 0, eager = 0, fail = 0;
    cuda_exec_stats(s[2]->be.ctx, &cap, &rep, &eager, &fail);
    printf("    %-10s %-20s %d steps: graph == record (bits) at %d; direct vs graph max diff %.2e (range %.2f); %ld captures, %ld "
           "launches\n", shape, c->name, N, exact, worst, range, cap, rep);
    T_CHECKF(exact == N, "%s %s: graph and record logits differ at %d of %d steps", shape, c->name, N - exact, N);
    T_CHECKF(worst <= 1e-5 * (range + 1.0), "%s %s: direct vs graph %g", shape, c->name, worst);
    T_CHECKF(fail == 0 && eager == 0 && rep == N && cap >= 1, "%s %s: captures %ld launches %ld eager %ld", shape, c->name, cap, rep, eager);
out:
    for (int i = 0; i < 3; i++) zeta_session_free(s[i]);
}

static void test_graphs(void) {
    if (!g_device) T_SKIP("%s", g_why);
    const size_t cases[] = {0, 1, N_CASES - 1}; /* q8_0, q4_0, f16 */
    for (int mi = 0; mi < N_MODELS; mi++) {
        zeta_error err;
        zeta_model *m = NULL;
        if (load(g_path[mi], ZETA_BACKEND_CUDA, &m, &err) != ZETA_OK) T_CHECKF(0, "%s: %s", g_shape[mi], err.message);
        else
            for (size_t ci = 0; ci < 3; ci++) graph_case(m, g_shape[mi], &k_cases[cases[ci]]);
        zeta_model_free(m);
    }
}

int main(void) {
    t_rng = 0x2545F4914F6CDD1Dull; /* this file's inputs (the seed it always had) */
    /* decode steps change kernels at 512 positions here (1536 / 3072 by default), so that short
     * sequences cover both */
    setenv("ZETA_CUDA_ATTN_GQA_MIN", "512", 1);
    g_device = cuda_test_device(g_why, sizeof g_why);
    if (g_device)
        for (int i = 0; i < N_MODELS; i++) {
            snprintf(g_path[i], sizeof g_path[i], "/tmp/zeta_cuda_kv_XXXXXX");
            const int fd = mkstemp(g_path[i]);
            if (fd >= 0) close(fd);
            zeta_synth_params p = zeta_synth_params_default();
            p.shape = g_shape[i];
            p.type = ZETA_TYPE_F16;
            p.vocab_path = "tests/data/vocab/ggml-vocab-llama-spm.gguf";
            zeta_error err;
            if (fd < 0 || zeta_synth_model(&p, g_path[i], &err) != ZETA_OK) {
                printf("FAIL - synth %s: %s\n", g_shape[i], fd < 0 ? "mkstemp" : err.message);
                return 1;
            }
        }
    T_RUN(test_refusals);
    /* first: the graph session's first decode step is then the process's first launch of each
     * k_attn_gqa instantiation, inside a capture (its shared-memory attribute is set there) */
    T_RUN(test_graphs);
    T_RUN(test_attention);
    T_RUN(test_models);
    if (g_device)
        for (int i = 0; i < N_MODELS; i++) unlink(g_path[i]);
    return t_done();
}
