/* test_cuda_model.c — whole models on the CUDA backend against the CPU backend: logits for every
 * weight type (prompt and decode, one token at a time where the products round to 8 bits), greedy
 * tokens, a context shift and a session file saved on the GPU and loaded on the CPU, and decode
 * steps replayed from a CUDA graph against the same steps run eagerly. Without CUDA compiled in, or
 * without a device, the cases print skip lines and the file exits 0. Models beyond stories260K come
 * from $ZETA_CUDA_MODELS, tests/data/models or ../shared/goldens/models (the first that has each
 * file). (Split from test_cuda.c, which keeps the ops.) */
#include "test.h"
#include "cuda_test_util.h"
#include "session.h"
#include "cuda/cuda_backend.h"
#include "quant.h"

#include <math.h>
#include <stdint.h>
#include <unistd.h>

#define STORIES "models/stories260K.gguf"

static bool g_device;              /* CUDA compiled in and a device present */
static char g_why[200];            /* why the device cases skip */
static zeta_model *g_mcpu, *g_mcu; /* stories260K on each backend */

/* ------------------------------------------------------------------ whole models */

/* run_models' variants: g_seq, the NP prompt tokens are evaluated one at a time (the one-token
 * products) and no ND steps follow; g_prompt_only, the rms is over the NP prompt positions only */
static bool g_seq, g_prompt_only;

/* logits of a 40-token prompt (every position) and 8 decode steps, through sessions of each model
 * fed the same tokens (the first one's greedy choices); max |difference| against the first (rms:
 * the root mean square of the differences, when not NULL) */
static double run_models(zeta_model **ms, int n_models, double *range, int *agree, double *rms) {
    zeta_session *ss[3] = {NULL, NULL, NULL};
    zeta_error err;
    double d = 0, sq = 0;
    size_t nsq = 0;
    zeta_session_params sp = zeta_session_params_default();
    sp.n_ctx = 256;
    sp.n_threads = 2;
    const size_t nv = zeta_n_vocab(ms[0]);
    enum { NP = 40, ND = 8 };
    float *l[3] = {NULL, NULL, NULL};
    for (int i = 0; i < n_models; i++) {
        if (zeta_session_new(ms[i], &sp, &ss[i], &err) != ZETA_OK) { T_CHECKF(0, "%s", err.message); goto out; }
        l[i] = malloc(NP * nv * 4);
    }
    zeta_token toks[NP];
    for (int i = 0; i < NP; i++) toks[i] = (zeta_token)((i * 7919 + 13) % (int)nv);
    toks[0] = zeta_token_bos(ms[0]) >= 0 ? zeta_token_bos(ms[0]) : 1;
    for (int i = 0; i < n_models; i++) {
        if (!g_seq) {
            T_CHECKF(zeta_session_eval_all(ss[i], toks, NP, l[i], &err) == ZETA_OK, "%s", err.message);
            continue;
        }
        for (int p = 0; p < NP; p++) {
            size_t n = 0;
            if (zeta_session_eval(ss[i], &toks[p], 1, &err) != ZETA_OK) { T_CHECKF(0, "%s", err.message); goto out; }
            const float *lg = zeta_session_logits(ss[i], &n);
            if (!lg || n < nv) { T_CHECKF(0, "no logits after token %d", p); goto out; }
            memcpy(l[i] + (size_t)p * nv, lg, nv * 4);
        }
    }
    *range = maxabs(l[0], NP * nv);
    *agree = 0;
    for (int i = 1; i < n_models; i++) {
        double dd = maxdiff(l[0], l[i], NP * nv);
        if (dd > d) d = dd;
        sqdiff(l[0], l[i], NP * nv, &sq, &nsq);
    }
    for (int i = 0; i < NP; i++) *agree += argmax(l[0] + i * nv, nv) == argmax(l[n_models - 1] + i * nv, nv);
    for (int step = 0; step < (g_seq ? 0 : ND); step++) {
        size_t n;
        zeta_token t = (zeta_token)argmax(zeta_session_logits(ss[0], &n), nv);
        for (int i = 0; i < n_models; i++) T_CHECKF(zeta_session_eval(ss[i], &t, 1, &err) == ZETA_OK, "%s", err.message);
        for (int i = 1; i < n_models; i++) {
            const float *a = zeta_session_logits(ss[0], &n), *b = zeta_session_logits(ss[i], &n);
            double dd = a && b ? maxdiff(a, b, nv) : INFINITY;
            if (dd > d) d = dd;
            if (a && b && !g_prompt_only) sqdiff(a, b, nv, &sq, &nsq);
        }
    }
out:
    for (int i = 0; i < n_models; i++) { zeta_session_free(ss[i]); free(l[i]); }
    if (rms) *rms = nsq ? sqrt(sq / (double)nsq) : INFINITY;
    return d;
}

static bool is_float_model(const char *path) {
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    return strstr(base, "F32") || strstr(base, "F16") || !strchr(base, '-'); /* stories260K.gguf is f32 */
}

/* true when every matrix of the model (the layers' and the output) has one of the n types t */
static bool model_types_in(const zeta_model *m, const zeta_type *t, int n) {
    for (uint32_t il = 0; il <= m->hp.n_layer; il++) {
        const zeta_weight *ws[7];
        int nw = 0;
        if (il == m->hp.n_layer) {
            ws[nw++] = &m->output;
        } else {
            const zeta_layer *L = &m->layers[il];
            const zeta_weight *lw[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
            for (size_t i = 0; i < sizeof lw / sizeof lw[0]; i++) ws[nw++] = lw[i];
        }
        for (int i = 0; i < nw; i++) {
            if (!ws[i]->data) continue;
            bool in = false;
            for (int k = 0; k < n; k++) in = in || ws[i]->type == t[k];
            if (!in) return false;
        }
    }
    return true;
}

/* true when every matrix of the model is q4_0, q8_0 or a float type: the CUDA backend then does the
 * CPU's arithmetic (activations rounded to q8_0 blocks for the integer products) */
static bool x8_model(const zeta_model *m) {
    const zeta_type t[] = {ZETA_TYPE_Q4_0, ZETA_TYPE_Q8_0, ZETA_TYPE_F32, ZETA_TYPE_F16, ZETA_TYPE_BF16};
    return model_types_in(m, t, 5);
}

/* true when every matrix of the model is q4_K, q5_K, q6_K, q2_K, q3_K or iq4_xs (and ZETA_CUDA_MMVK8 is
 * not 0), or every one q4_1, q5_0, q5_1 or iq4_nl (and ZETA_CUDA_MMVB is not 0): the CUDA backend's
 * one-token products then round the activations to 8 bits as the CPU does (k_mmvk8: Q8_K; k_mmvb8:
 * Q8_0 / Q8_1) */
static bool k8_model(const zeta_model *m) {
    const char *e = getenv("ZETA_CUDA_MMVK8"), *eb = getenv("ZETA_CUDA_MMVB");
    const zeta_type t[] = {ZETA_TYPE_Q4_K, ZETA_TYPE_Q5_K, ZETA_TYPE_Q6_K, ZETA_TYPE_Q2_K, ZETA_TYPE_Q3_K, ZETA_TYPE_IQ4_XS};
    const zeta_type b[] = {ZETA_TYPE_Q4_1, ZETA_TYPE_Q5_0, ZETA_TYPE_Q5_1, ZETA_TYPE_IQ4_NL};
    return (!(e && !strcmp(e, "0")) && model_types_in(m, t, 6)) || (!(eb && !strcmp(eb, "0")) && model_types_in(m, b, 4));
}

/* CUDA against the CPU on the same file.
 * - Float weights: both multiply f32 activations by the exact weights (sums in another order; f16
 *   KV cache in both): max difference <= 1e-3 of the logit range.
 * - q4_0 / q8_0 (x8_model): both round each product's activation to q8_0 blocks with the same
 *   rule (op-tested to 1e-8 given the same input). Rounding is discontinuous, though: a last-bit
 *   difference upstream (a norm or attention sum in another order) can move an activation across
 *   a rounding boundary by one quantum, and in a 64-wide model a few such flips weigh as much as
 *   the rounding of a whole vector (measured: CUDA - CPU rms 1e-7 of the rounding's effect on
 *   some files, 0.2-0.62 on others). So the check is relative to the effect of the rounding
 *   itself: the root-mean-square difference CUDA - CPU must be under 0.75 of (CPU on a dequantized
 *   f32 copy) - (CPU on the file), i.e. the GPU must be nearer the CPU's 8-bit arithmetic than
 *   f32 arithmetic is (a GPU still on f32 activations would give about 1, its arithmetic being the
 *   f32 copy's; a wrong layout far more); each product's arithmetic is held to 1e-5 by
 *   test_matmul_types.
 * - Other integer types (q4_K, q6_K; q4_1, q5_0, q5_1, iq4_nl, q2_K, q3_K, q5_K, iq4_xs): the CPU rounds
 *   activations to 8-bit blocks (Q8_K, Q8_0 or Q8_1); the GPU's prompt products keep f32 activations
 *   and run on the tensor cores (one TF32 GEMM on dequantized slices: 11 significant bits of w and x;
 *   three on split inputs, f32-class, with ZETA_CUDA_TC_ONE=0 for all but q4_K / q6_K). The check: the GPU's rms difference from the CPU on the
 *   f32 copy (f32 arithmetic) must be under half of the CPU's own (the CPU on the file against the
 *   CPU on the f32 copy), i.e. the GPU is nearer exact arithmetic than the CPU is (a wrong layout or
 *   scale would be far from both). The difference from the CPU on the file itself is printed. Their
 *   one-token products round x to 8 bits as the CPU does (k8_model: k_mmvk8 for the K-quants and
 *   iq4_xs, k_mmvb8 for q4_1 / q5_0 / q5_1 / iq4_nl), so that check covers the prompt positions only,
 *   and the prompt is run again one token at a time, held as q4_0 / q8_0 models are (rms from the CPU
 *   under 0.75 of the CPU's from f32 arithmetic). */
static void model_case(const char *path) {
    zeta_model *ms[3] = {NULL, NULL, NULL};
    zeta_error err;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char deq[] = "/tmp/zeta_cuda_deq_XXXXXX";
    bool have_deq = false, x8 = false;
    const bool flt = is_float_model(path);
    if (!flt) {
        int fd = mkstemp(deq);
        if (fd >= 0) close(fd);
        zeta_quantize_params qp = zeta_quantize_params_default();
        qp.pure = true;
        qp.allow_requantize = true;
        qp.n_threads = 2;
        if (fd < 0 || zeta_quantize(path, deq, "F32", &qp, NULL, &err) != ZETA_OK) {
            T_CHECKF(0, "%s: dequantizing to f32: %s", base, fd < 0 ? "mkstemp" : err.message);
            unlink(deq);
            return;
        }
        have_deq = true;
    }
    /* [0] CPU on the file, [1] CUDA, [2] CPU on the f32 copy (integer types) */
    if (load(path, ZETA_BACKEND_CPU, &ms[0], &err) != ZETA_OK || load(path, ZETA_BACKEND_CUDA, &ms[1], &err) != ZETA_OK ||
        (!flt && load(deq, ZETA_BACKEND_CPU, &ms[2], &err) != ZETA_OK)) {
        T_CHECKF(0, "%s: %s", base, err.message);
        goto out;
    }
    x8 = !flt && x8_model(ms[0]);
    double range = 0, range2 = 0, rms = 0, rms2 = 0;
    int agree = 0, agree2 = 0;
    if (flt) {
        const double d = run_models(ms, 2, &range, &agree, NULL);
        printf("    %-24s max |logit| %7.3f  CUDA vs CPU: max diff %.2e (%.1e of the range)  argmax agree %d/40\n", base, range, d,
               d / (range + 1e-30), agree);
        T_CHECKF(d <= 1e-3 * (range + 1.0), "%s: max diff %g, range %g", base, d, range);
    } else if (x8) {
        zeta_model *pair[2] = {ms[0], ms[2]};
        const double d = run_models(ms, 2, &range, &agree, &rms);
        const double d2 = run_models(pair, 2, &range2, &agree2, &rms2);
        printf("    %-24s max |logit| %7.3f  CUDA vs CPU: rms diff %.2e, max %.2e (%.1e of the range), argmax agree %d/40; "
               "f32 copy vs CPU: rms %.2e, max %.2e\n", base, range, rms, d, d / (range + 1e-30), agree, rms2, d2);
        T_CHECKF(rms <= 0.75 * rms2, "%s: rms difference from the CPU %g, not under 0.75 of the 8-bit rounding's effect %g", base,
                 rms, rms2);
    } else {
        zeta_model *pair[2] = {ms[2], ms[1]}, *cpus[2] = {ms[2], ms[0]};
        double range3 = 0, rms3 = 0;
        int agree3 = 0;
        const bool k8 = k8_model(ms[0]);
        g_prompt_only = k8; /* their decode steps take the 8-bit products: checked below */
        const double d = run_models(pair, 2, &range, &agree, &rms);
        const double d2 = run_models(ms, 2, &range2, &agree2, NULL);
        const double d3 = run_models(cpus, 2, &range3, &agree3, &rms3);
        g_prompt_only = false;
        printf("    %-24s max |logit| %7.3f  CUDA vs CPU (f32 copy): rms diff %.2e, max %.2e (%.1e of the range)  argmax agree %d/40\n",
               base, range, rms, d, d / (range + 1e-30), agree);
        printf("    %-24s %20s  CUDA vs CPU (8-bit activations): max diff %.2e (%.1e of the range)  argmax agree %d/40\n", "", "", d2,
               d2 / (range2 + 1e-30), agree2);
        printf("    %-24s %20s  CPU vs CPU (f32 copy): rms diff %.2e, max %.2e\n", "", "", rms3, d3);
        T_CHECKF(rms <= 0.5 * rms3, "%s: CUDA's rms difference from f32 arithmetic %g is not under half the CPU's own %g", base, rms,
                 rms3);
        if (k8) {
            /* the prompt again, one token at a time: every product the one-token kernel with
             * activations rounded to Q8_K, the CPU's arithmetic; held as q4_0 / q8_0 models are */
            zeta_model *pair8[2] = {ms[0], ms[2]};
            double r8 = 0, r8b = 0, rms8 = 0, rms8b = 0;
            int a8 = 0, a8b = 0;
            g_seq = true;
            const double e8 = run_models(ms, 2, &r8, &a8, &rms8);
            const double e8b = run_models(pair8, 2, &r8b, &a8b, &rms8b);
            g_seq = false;
            printf("    %-24s %20s  one token at a time, CUDA vs CPU: rms diff %.2e, max %.2e, argmax agree %d/40; f32 copy vs CPU: "
                   "rms %.2e, max %.2e\n", "", "", rms8, e8, a8, rms8b, e8b);
            T_CHECKF(rms8 <= 0.75 * rms8b, "%s: one-token products: rms difference from the CPU %g, not under 0.75 of the 8-bit "
                     "rounding's effect %g", base, rms8, rms8b);
        }
    }
out:
    for (int i = 0; i < 3; i++) zeta_model_free(ms[i]);
    if (have_deq) unlink(deq);
}

/* path of model `name` in $ZETA_CUDA_MODELS, tests/data/models or ../shared/goldens/models (the
 * first that has it); false when none does */
static bool find_model(const char *name, char *path, size_t cap) {
    const char *dirs[] = {getenv("ZETA_CUDA_MODELS"), "tests/data/models", "../shared/goldens/models"};
    for (int j = 0; j < 3; j++) {
        if (!dirs[j]) continue;
        snprintf(path, cap, "%s/%s", dirs[j], name);
        if (access(path, R_OK) == 0) return true;
    }
    return false;
}

static void test_model_logits(void) {
    if (!g_device) T_SKIP("%s", g_why);
    model_case(STORIES);
    const char *names[] = {"stories260K-F16.gguf", "stories260K-Q8_0.gguf", "stories260K-Q4_0.gguf", "zoo-F32.gguf", "zoo-F16.gguf",
                           "zoo-BF16.gguf", "zoo-Q8_0.gguf", "zoo-Q4_0.gguf", "zoo-Q4_K_S.gguf", "zoo-Q6_K.gguf",
                           "synth-llama3-Q4_0.gguf", "synth-qwen2-F16.gguf", "synth-qwen3-Q8_0.gguf", "zoo-Q4_1.gguf",
                           "zoo-Q5_0.gguf", "zoo-Q5_1.gguf", "zoo-IQ4_NL.gguf", "zoo-Q2_K.gguf", "zoo-Q3_K_S.gguf", "zoo-Q5_K_S.gguf",
                           "zoo-IQ4_XS.gguf"};
    int found = 0;
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (find_model(names[i], path, sizeof path)) {
            model_case(path);
            found++;
        }
    if (!found) printf("    (no other models: set ZETA_CUDA_MODELS or provide ../shared/goldens/models)\n");
}

/* 100 greedy tokens of stories260K (F32) from BOS: the same on both backends */
static void test_greedy_tokens(void) {
    if (!g_device) T_SKIP("%s", g_why);
    zeta_session_params sp = zeta_session_params_default();
    sp.n_ctx = 256;
    zeta_session *s[2] = {NULL, NULL};
    zeta_model *ms[2] = {g_mcpu, g_mcu};
    zeta_error err;
    int toks[2][101];
    for (int b = 0; b < 2; b++) {
        T_CHECKF(zeta_session_new(ms[b], &sp, &s[b], &err) == ZETA_OK, "%s", err.message);
        if (!s[b]) return;
        zeta_token t = 1;
        for (int i = 0; i <= 100; i++) {
            toks[b][i] = t;
            if (zeta_session_eval(s[b], &t, 1, &err) != ZETA_OK) { T_CHECKF(0, "%s", err.message); break; }
            t = (zeta_token)argmax(zeta_session_logits(s[b], NULL), zeta_n_vocab(ms[b]));
        }
    }
    int same = 0;
    while (same <= 100 && toks[0][same] == toks[1][same]) same++;
    T_CHECKF(same == 101, "first difference at token %d", same);
    zeta_session_free(s[0]);
    zeta_session_free(s[1]);
}

/* context shift and a session file written from the GPU and read on the CPU */
static void test_shift_and_state(void) {
    if (!g_device) T_SKIP("%s", g_why);
    zeta_session_params sp = zeta_session_params_default();
    sp.n_ctx = 128;
    zeta_session *sc = NULL, *sg = NULL, *sl = NULL;
    zeta_error err;
    T_CHECKF(zeta_session_new(g_mcpu, &sp, &sc, &err) == ZETA_OK, "%s", err.message);
    T_CHECKF(zeta_session_new(g_mcu, &sp, &sg, &err) == ZETA_OK, "%s", err.message);
    T_CHECKF(zeta_session_new(g_mcpu, &sp, &sl, &err) == ZETA_OK, "%s", err.message);
    if (!sc || !sg || !sl) goto out;
    zeta_token toks[60];
    for (int i = 0; i < 60; i++) toks[i] = (zeta_token)(1 + (i * 37) % 500);
    T_CHECK(zeta_session_eval(sc, toks, 60, &err) == ZETA_OK);
    T_CHECK(zeta_session_eval(sg, toks, 60, &err) == ZETA_OK);
    T_CHECK(zeta_session_shift(sc, 4, 25, &err) == ZETA_OK); /* 31 positions move back by 25: two chunks */
    T_CHECK(zeta_session_shift(sg, 4, 25, &err) == ZETA_OK);
    zeta_token t = 42;
    T_CHECK(zeta_session_eval(sc, &t, 1, &err) == ZETA_OK);
    T_CHECKF(zeta_session_eval(sg, &t, 1, &err) == ZETA_OK, "%s", err.message);
    const size_t n = zeta_n_vocab(g_mcpu);
    double d = maxdiff(zeta_session_logits(sc, NULL), zeta_session_logits(sg, NULL), n);
    T_CHECKF(d <= 1e-3 * (maxabs(zeta_session_logits(sc, NULL), n) + 1), "after a shift: max diff %g", d);
    char path[] = "/tmp/zeta_test_cuda_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    T_CHECKF(zeta_session_save(sg, path, &err) == ZETA_OK, "%s", err.message);
    T_CHECKF(zeta_session_load(sl, path, &err) == ZETA_OK, "%s", err.message);
    unlink(path);
    t = 7;
    T_CHECK(zeta_session_eval(sg, &t, 1, &err) == ZETA_OK);
    T_CHECK(zeta_session_eval(sl, &t, 1, &err) == ZETA_OK);
    d = maxdiff(zeta_session_logits(sg, NULL), zeta_session_logits(sl, NULL), n);
    T_CHECKF(d <= 1e-3 * (maxabs(zeta_session_logits(sl, NULL), n) + 1), "GPU state loaded on the CPU: max diff %g", d);
out:
    zeta_session_free(sc); zeta_session_free(sg); zeta_session_free(sl);
}


/* ------------------------------------------------------------------ decode graphs */

/* The same model decoded by three sessions: op by op (DIRECT), recorded and fused (RECORD) and
 * replayed from a CUDA graph (GRAPH): a prompt, then n_steps greedy steps (the GRAPH session's
 * choices fed to all), a context shift half way. RECORD and GRAPH launch the same kernels with the
 * same arguments, so their logits must be the same bits at every step; DIRECT differs only in the
 * fused epilogues (the same float operations: checked at 1e-5 of the logit range). The graph must
 * have been replayed at every step and recaptured only when the attention split changes. */
static void graph_case_x(zeta_model *m, const char *name, int n_steps, bool bit_exact) {
    zeta_session_params sp = zeta_session_params_default();
    sp.n_ctx = 512;
    sp.n_threads = 2;
    zeta_session *s[3] = {NULL, NULL, NULL};
    zeta_error err;
    const int modes[3] = {CUDA_EXEC_DIRECT, CUDA_EXEC_RECORD, CUDA_EXEC_GRAPH};
    for (int i = 0; i < 3; i++) {
        if (zeta_session_new(m, &sp, &s[i], &err) != ZETA_OK) { T_CHECKF(0, "%s: %s", name, err.message); goto out; }
        cuda_set_exec_mode(s[i]->be.ctx, modes[i]);
    }
    const size_t nv = zeta_n_vocab(m);
    zeta_token toks[20];
    for (int i = 0; i < 20; i++) toks[i] = (zeta_token)((i * 131 + 7) % (int)nv);
    toks[0] = zeta_token_bos(m) >= 0 ? zeta_token_bos(m) : 1;
    for (int i = 0; i < 3; i++) T_CHECKF(zeta_session_eval(s[i], toks, 20, &err) == ZETA_OK, "%s", err.message);
    int exact = 0, steps = 0;
    double worst_direct = 0, range = 0;
    zeta_token t = (zeta_token)argmax(zeta_session_logits(s[2], NULL), nv);
    for (int step = 0; step < n_steps; step++) {
        if (step == n_steps / 2)
            for (int i = 0; i < 3; i++) T_CHECKF(zeta_session_shift(s[i], 4, 25, &err) == ZETA_OK, "%s", err.message);
        bool ok = true;
        for (int i = 0; i < 3; i++) ok = ok && zeta_session_eval(s[i], &t, 1, &err) == ZETA_OK;
        if (!ok) { T_CHECKF(0, "%s step %d: %s", name, step, err.message); break; }
        const float *l[3];
        for (int i = 0; i < 3; i++) l[i] = zeta_session_logits(s[i], NULL);
        exact += memcmp(l[1], l[2], nv * sizeof(float)) == 0;
        const double d = maxdiff(l[0], l[2], nv), r = maxabs(l[0], nv);
        if (d > worst_direct) worst_direct = d;
        if (r > range) range = r;
        t = (zeta_token)argmax(l[2], nv);
        steps++;
    }
    long cap = 0, rep = 0, eager = 0, fail = 0, cap1 = 0, rep1 = 0, eager1 = 0;
    cuda_exec_stats(s[2]->be.ctx, &cap, &rep, &eager, &fail);
    cuda_exec_stats(s[1]->be.ctx, &cap1, &rep1, &eager1, NULL);
    printf("    %-24s %d steps: graph == record (bits) at %d; direct vs graph max diff %.2e (range %.2f); "
           "graph: %ld captures, %ld launches, %ld eager, %ld capture failures; record: %ld eager steps\n",
           name, steps, exact, worst_direct, range, cap, rep, eager, fail, eager1);
    T_CHECKF(exact == n_steps, "%s: graph and eager logits differ at %d of %d steps", name, n_steps - exact, n_steps);
    T_CHECKF(worst_direct <= 1e-5 * (range + 1.0), "%s: direct vs graph %g", name, worst_direct);
    T_CHECKF(!bit_exact || worst_direct == 0.0, "%s: direct vs graph %g, not the same bits", name, worst_direct);
    T_CHECKF(fail == 0 && eager == 0 && rep == n_steps && cap >= 1 && cap <= 8, "%s: captures %ld launches %ld eager %ld", name, cap,
             rep, eager);
    T_CHECKF(eager1 == n_steps && cap1 == 0, "%s: record session: eager %ld captures %ld", name, eager1, cap1);
out:
    for (int i = 0; i < 3; i++) zeta_session_free(s[i]);
}

static void graph_case(zeta_model *m, const char *name, int n_steps) { graph_case_x(m, name, n_steps, false); }

static void test_decode_graph(void) {
    if (!g_device) T_SKIP("%s", g_why);
    graph_case_x(g_mcu, "stories260K.gguf", 400, true); /* f32: every fused kernel the same floats (measured: equal) */
    /* the K-quant files: their norms round to Q8_K for the product next, and a product's Q8_K input
     * is reused by the next product of the same input (graph and record), while direct runs each op
     * alone (k_quant_q8K per product): held to 1e-5 of the logit range (measured: equal) */
    const char *names[] = {"zoo-Q4_0.gguf", "zoo-Q8_0.gguf", "synth-qwen2-F16.gguf", "zoo-Q4_K_S.gguf", "zoo-Q5_K_S.gguf",
                           "zoo-Q2_K.gguf", "zoo-Q3_K_S.gguf", "zoo-IQ4_XS.gguf", "zoo-Q4_1.gguf", "zoo-Q5_0.gguf", "zoo-IQ4_NL.gguf"};
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!find_model(names[i], path, sizeof path)) continue;
        zeta_model *m = NULL;
        zeta_error err;
        if (load(path, ZETA_BACKEND_CUDA, &m, &err) != ZETA_OK) { T_CHECKF(0, "%s: %s", path, err.message); continue; }
        /* q4_0 / q8_0: every fused kernel (the norms' and the attention's roundings for the product
         * next, SwiGLU and the residual add in the products' stores) writes the bytes the unfused
         * kernels write, so direct and graph logits are the same bits (measured on the H200,
         * 2026-11-28) */
        graph_case_x(m, names[i], 150, i < 2);
        zeta_model_free(m);
    }
    /* types mixed within a layer (q, k and v of three types, gate and up of two): each product its
     * own launch, the 8-bit rounding of the norm's output reused by the ones after (Q8_K for the
     * K-quants, Q8_0 blocks for the 32-element types) */
    const char *k_mix[] = {"attn_k=IQ4_XS", "attn_v=Q3_K", "ffn_up=Q2_K", "ffn_down=Q6_K", "output=Q6_K"};
    const char *b_mix[] = {"attn_k=Q5_1", "attn_v=IQ4_NL", "ffn_up=Q5_0", "ffn_down=Q8_0", "output=Q4_1"};
    for (int k = 0; k < 2; k++) {
        char mix[] = "/tmp/zeta_cuda_mix_XXXXXX";
        const int fdm = mkstemp(mix);
        if (fdm >= 0) close(fdm);
        if (find_model("zoo-F16.gguf", path, sizeof path) && fdm >= 0) {
            zeta_quantize_params qp = zeta_quantize_params_default();
            qp.pure = true;
            qp.tensor_types = k ? b_mix : k_mix;
            qp.n_tensor_types = 5;
            qp.n_threads = 2;
            zeta_error err;
            zeta_model *m = NULL;
            const char *what = k ? "zoo-F16 -> 32-block mix" : "zoo-F16 -> K-quant mix";
            if (zeta_quantize(path, mix, k ? "Q4_0" : "Q4_K", &qp, NULL, &err) != ZETA_OK || load(mix, ZETA_BACKEND_CUDA, &m, &err) != ZETA_OK)
                T_CHECKF(0, "%s: %s", what, err.message);
            else
                graph_case(m, what, 150);
            zeta_model_free(m);
        }
        if (fdm >= 0) unlink(mix);
    }
    /* head size 128 (the decode attention kernel's other size, RoPE folded in): zeta synth tiny-hd128 */
    char tmp[] = "/tmp/zeta_cuda_graph_XXXXXX";
    const int fd = mkstemp(tmp);
    if (fd >= 0) close(fd);
    zeta_synth_params p = zeta_synth_params_default();
    p.shape = "tiny-hd128";
    p.type = ZETA_TYPE_Q4_0;
    p.vocab_path = "tests/data/vocab/ggml-vocab-llama-spm.gguf";
    zeta_error err;
    zeta_model *m = NULL;
    if (fd < 0 || zeta_synth_model(&p, tmp, &err) != ZETA_OK || load(tmp, ZETA_BACKEND_CUDA, &m, &err) != ZETA_OK)
        T_CHECKF(0, "synth tiny-hd128: %s", fd < 0 ? "mkstemp" : err.message);
    else
        graph_case(m, "synth tiny-hd128 Q4_0", 150);
    zeta_model_free(m);
    if (fd >= 0) unlink(tmp);
}

int main(void) {
    g_device = cuda_test_device(g_why, sizeof g_why);
    zeta_error err;
    if (g_device && (load(STORIES, ZETA_BACKEND_CPU, &g_mcpu, &err) != ZETA_OK || load(STORIES, ZETA_BACKEND_CUDA, &g_mcu, &err) != ZETA_OK)) {
        printf("FAIL - cuda setup: %s\n", err.message);
        return 1;
    }
    T_RUN(test_model_logits);
    T_RUN(test_greedy_tokens);
    T_RUN(test_shift_and_state);
    T_RUN(test_decode_graph);
    zeta_model_free(g_mcpu);
    zeta_model_free(g_mcu);
    return t_done();
}
