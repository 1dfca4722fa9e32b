/* test_kv.c — the KV cache and long-context machinery:
 *   - tiled online-softmax attention (cpu_kv.c) against a float64 attention over the same cached
 *     K/V, for every K/V type pair, prefill and decode, 1-3 threads (the decode split into chunks);
 *   - decode with the fused kernels (selected ISA and scalar reference) against the per-row path
 *     (vec_dot + axpy), GQA groups 1, 4, 8, short and long contexts (all KV heads per item);
 *   - context shift: logits after a shift equal those of a fresh session over the kept tokens;
 *   - zeta_generate with reuse_prefix evaluates only the new tokens (counters) and gives the same
 *     text as a fresh session; generation with context_shift runs past n_ctx;
 *   - session save/load round trip (bit-identical logits), and bad files refused with the session
 *     unchanged;
 *   - KV types a model cannot use are refused with a message; KV bytes as computed. */
#include "cpu/cpu_kv.h"
#include "cpu/mathk.h"
#include "gguf_write.h"
#include "quant.h"
#include "zeta.h"
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZOO "tests/data/models/zoo-F32.gguf"

static unsigned g_seed = 12345;
static float frand(void) {
    g_seed = g_seed * 1103515245u + 12345u;
    return (float)((g_seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* the whole cache of layer 0 (positions 0..n) -> f32 [n][n_head_kv][d] */
static void cached_all(const cpu_kv *kv, int which, uint32_t n, float *out) {
    const size_t pb = which ? kv->v_pos : kv->k_pos, hb = which ? kv->v_head : kv->k_head;
    const zeta_type t = which ? kv->tv : kv->tk;
    const int d = (int)(which ? kv->dv : kv->dk);
    uint8_t *buf = malloc(pb * n);
    cpu_kv_read(kv, 0, which, 0, n, buf);
    for (uint32_t p = 0; p < n; p++)
        for (uint32_t h = 0; h < kv->n_head_kv; h++)
            zeta_dequantize_row(t, buf + p * pb + h * hb, out + ((size_t)p * kv->n_head_kv + h) * d, d);
    free(buf);
}

/* the Sylvester Hadamard matrix of order n scaled by 1/sqrt(n), in double */
static void hadamard_matrix(int n, double *H) {
    H[0] = 1.0;
    for (int s = 1; s < n; s *= 2)
        for (int i = 0; i < s; i++)
            for (int j = 0; j < s; j++) {
                const double a = H[i * n + j];
                H[(i + s) * n + j] = a, H[i * n + j + s] = a, H[(i + s) * n + j + s] = -a;
            }
    for (int i = 0; i < n * n; i++) H[i] /= sqrt((double)n);
}

/* x (64 values) -> H x in double */
static void hadamard64(double *x) {
    static double H[64 * 64];
    static bool made;
    if (!made) hadamard_matrix(64, H), made = true;
    double y[64];
    for (int i = 0; i < 64; i++) {
        y[i] = 0;
        for (int j = 0; j < 64; j++) y[i] += H[i * 64 + j] * x[j];
    }
    memcpy(x, y, sizeof y);
}

static void attention_matches_float64(void) {
    const zeta_type types[4] = {ZETA_TYPE_F32, ZETA_TYPE_F16, ZETA_TYPE_Q8_0, ZETA_TYPE_Q4_0};
    zeta_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.n_layer = 1, hp.n_head = 8, hp.n_head_kv = 2, hp.head_dim_k = 64, hp.head_dim_v = 64;
    enum { NH = 8, NKV = 2, D = 64, NCTX = 700, MAXT = 300 };
    float *q = malloc(sizeof(float) * MAXT * NH * D), *k = malloc(sizeof(float) * MAXT * NKV * D);
    float *v = malloc(sizeof(float) * MAXT * NKV * D), *out = malloc(sizeof(float) * MAXT * NH * D);
    float *kf = malloc(sizeof(float) * NCTX * NKV * D), *vf = malloc(sizeof(float) * NCTX * NKV * D);
    double *sc = malloc(sizeof(double) * NCTX), ref[D];
    int runs = 0;
    const bool emulated = getenv("ZETA_EXEC") && *getenv("ZETA_EXEC");
    for (int rot = 0; rot < 2; rot++)
    for (int tk = 0; tk < 4; tk++)
        for (int tv = 0; tv < 4; tv++)
            for (int nth = 1; nth <= 3; nth += 2) {
                if (rot && tk < 2 && tv < 2) continue; /* f32 / f16 caches are never rotated */
                if (rot && nth == 3 && emulated) continue; /* minutes under qemu: one thread count there */
                cpu_kv kv;
                zeta_error err;
                if (cpu_kv_init(&kv, &hp, NCTX, types[tk], types[tv], rot, nth, &err) != ZETA_OK) {
                    T_CHECKF(0, "init: %s", err.message);
                    continue;
                }
                /* rotated: quantized types only; q and the cache are then rotated (q in place), and
                 * the reference's output is rotated back below */
                T_CHECK(kv.rot_k == (rot && tk >= 2 ? D : 0) && kv.rot_v == (rot && tv >= 2 ? 64 : 0));
                threadpool *pool = pool_new(nth);
                /* positions filled by a prefill of 300, a batch of 37, decodes (the last ones split into
                 * chunks when 3 threads share 2 KV heads), another batch of 300 */
                const int steps[][2] = {{0, 300}, {300, 37}, {337, 1}, {338, 1}, {339, 300}, {639, 1}};
                float worst = 0;
                for (size_t si = 0; si < sizeof steps / sizeof steps[0]; si++) {
                    const int pos0 = steps[si][0], n_tok = steps[si][1];
                    const float spread = si == 3 ? 8.0f : 1.0f; /* one step with large scores */
                    for (int i = 0; i < n_tok * NKV * D; i++) k[i] = frand(), v[i] = frand();
                    for (int i = 0; i < n_tok * NH * D; i++) q[i] = spread * frand(), out[i] = NAN;
                    cpu_kv_attention(&kv, pool, 0, q, k, v, n_tok, (uint32_t)pos0, out);
                    cached_all(&kv, 0, (uint32_t)(pos0 + n_tok), kf);
                    cached_all(&kv, 1, (uint32_t)(pos0 + n_tok), vf);
                    const int nq = n_tok < 6 ? n_tok : 6; /* the first 3 and last 3 queries of the step */
                    for (int qi = 0; qi < nq; qi++)
                        for (int h = 0; h < NH; h++) {
                            const int t = qi < nq / 2 ? qi : n_tok - nq + qi;
                            const int kvh = h / (NH / NKV), n_kv = pos0 + t + 1;
                            const float *qh = q + ((size_t)t * NH + h) * D;
                            double mx = -INFINITY, l = 0;
                            for (int p = 0; p < n_kv; p++) {
                                const float *kr = kf + ((size_t)p * NKV + kvh) * D;
                                double s = 0;
                                for (int i = 0; i < D; i++) s += (double)qh[i] * kr[i];
                                sc[p] = s / 8.0; /* sqrt(64) */
                                if (sc[p] > mx) mx = sc[p];
                            }
                            for (int i = 0; i < D; i++) ref[i] = 0;
                            for (int p = 0; p < n_kv; p++) {
                                const double w = exp(sc[p] - mx);
                                const float *vr = vf + ((size_t)p * NKV + kvh) * D;
                                l += w;
                                for (int i = 0; i < D; i++) ref[i] += w * vr[i];
                            }
                            if (kv.rot_v) hadamard64(ref);
                            const float *o = out + ((size_t)t * NH + h) * D;
                            /* block K types take the query quantized to q8_0 (as ggml): looser */
                            const double tol = (types[tk] == ZETA_TYPE_Q8_0 || types[tk] == ZETA_TYPE_Q4_0) ? 2e-2 : 1e-4;
                            for (int i = 0; i < D; i++) {
                                const float e = (float)(fabs(o[i] - ref[i] / l) / tol);
                                if (!(e <= worst)) worst = e;
                            }
                        }
                }
                T_CHECKF(worst <= 1.0f, "K %s V %s threads %d%s: error %g of the tolerance", zeta_type_name(types[tk]),
                         zeta_type_name(types[tv]), nth, rot ? " rotated" : "", (double)worst);
                runs++;
                pool_free(pool);
                cpu_kv_free(&kv);
            }
    T_CHECK(runs == (emulated ? 44 : 56));
    free(q), free(k), free(v), free(out), free(kf), free(vf), free(sc);
}

/* cpu_kv_fwht against the matrix (blocks of 64, 128, 256, two blocks at once), its own inverse; which
 * caches are rotated (cpu_kv_rotation: llama.cpp's rule) */
static void hadamard_rotation(void) {
    static double H[256 * 256];
    static float x[512], y[512];
    for (int n = 64; n <= 256; n *= 2) {
        hadamard_matrix(n, H);
        for (int i = 0; i < 2 * n; i++) x[i] = y[i] = frand() * (i % 17 == 3 ? 30.0f : 1.0f);
        cpu_kv_fwht(y, (size_t)2 * n, n);
        double worst = 0;
        for (int b = 0; b < 2; b++)
            for (int i = 0; i < n; i++) {
                double r = 0;
                for (int j = 0; j < n; j++) r += H[i * n + j] * x[b * n + j];
                const double e = fabs(y[b * n + i] - r);
                if (!(e <= worst)) worst = e;
            }
        T_CHECKF(worst < 1e-4, "n %d: %g from H x", n, worst);
        cpu_kv_fwht(y, (size_t)2 * n, n);
        worst = 0;
        for (int i = 0; i < 2 * n; i++) {
            const double e = fabs(y[i] - x[i]);
            if (!(e <= worst)) worst = e;
        }
        T_CHECKF(worst < 1e-4, "n %d: twice is %g from x", n, worst);
    }
    zeta_hparams hp;
    memset(&hp, 0, sizeof hp);
    int rk, rv;
    const struct { uint32_t dk, dv; zeta_type tk, tv; bool on; int rk, rv; } cases[] = {
        {64, 64, ZETA_TYPE_Q8_0, ZETA_TYPE_Q8_0, true, 64, 64},   {128, 128, ZETA_TYPE_Q4_0, ZETA_TYPE_Q8_0, true, 128, 64},
        {192, 192, ZETA_TYPE_Q8_0, ZETA_TYPE_Q4_0, true, 64, 64}, {256, 256, ZETA_TYPE_Q8_0, ZETA_TYPE_F16, true, 256, 0},
        {96, 96, ZETA_TYPE_Q8_0, ZETA_TYPE_Q8_0, true, 0, 0},     {64, 64, ZETA_TYPE_F16, ZETA_TYPE_Q4_0, true, 0, 64},
        {128, 128, ZETA_TYPE_Q8_0, ZETA_TYPE_Q8_0, false, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hp.head_dim_k = cases[i].dk, hp.head_dim_v = cases[i].dv;
        cpu_kv_rotation(&hp, cases[i].tk, cases[i].tv, cases[i].on, &rk, &rv);
        T_CHECKF(rk == cases[i].rk && rv == cases[i].rv, "case %zu: %d / %d, expected %d / %d", i, rk, rv, cases[i].rk, cases[i].rv);
    }
}

/* What the rotation is for: keys with a few large channels (as real models' are) lose less to
 * q4_0 rounding when rotated. Decode attention over 512 positions against the same attention over an
 * f32 cache: the rotated q4_0 cache's mean error is below the unrotated one's. */
static void rotation_reduces_q4_0_error(void) {
    zeta_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.n_layer = 1, hp.n_head = 8, hp.n_head_kv = 2, hp.head_dim_k = 64, hp.head_dim_v = 64;
    enum { NH = 8, NKV = 2, D = 64, N = 512 };
    float *k = malloc(sizeof(float) * N * NKV * D), *v = malloc(sizeof(float) * N * NKV * D);
    float *kk = malloc(sizeof(float) * N * NKV * D), *vv = malloc(sizeof(float) * N * NKV * D);
    float *q = malloc(sizeof(float) * N * NH * D), *qq = malloc(sizeof(float) * N * NH * D), *ob = malloc(sizeof(float) * N * NH * D);
    float o[3][NH * D];
    for (int i = 0; i < N * NKV * D; i++) {
        const int ch = i % D;
        k[i] = frand() * (ch == 5 || ch == 40 ? 12.0f : 1.0f); /* two outlier channels */
        v[i] = frand() * (ch == 17 ? 8.0f : 1.0f);
    }
    for (int i = 0; i < N * NH * D; i++) q[i] = 0.5f * frand();
    const zeta_type t[3] = {ZETA_TYPE_F32, ZETA_TYPE_Q4_0, ZETA_TYPE_Q4_0};
    for (int c = 0; c < 3; c++) {
        cpu_kv kv;
        zeta_error err;
        T_CHECK(cpu_kv_init(&kv, &hp, N, t[c], t[c], c == 2, 1, &err) == ZETA_OK);
        threadpool *pool = pool_new(1);
        /* q, k, v are rotated in place: work on copies */
        memcpy(kk, k, sizeof(float) * N * NKV * D), memcpy(vv, v, sizeof(float) * N * NKV * D), memcpy(qq, q, sizeof(float) * N * NH * D);
        cpu_kv_attention(&kv, pool, 0, qq, kk, vv, N - 1, 0, ob); /* the prompt path fills N - 1 positions */
        cpu_kv_attention(&kv, pool, 0, qq + (size_t)(N - 1) * NH * D, kk + (size_t)(N - 1) * NKV * D, vv + (size_t)(N - 1) * NKV * D, 1,
                         N - 1, o[c]); /* then one decode step */
        pool_free(pool);
        cpu_kv_free(&kv);
    }
    double e_plain = 0, e_rot = 0;
    for (int i = 0; i < NH * D; i++) e_plain += fabs(o[1][i] - o[0][i]), e_rot += fabs(o[2][i] - o[0][i]);
    T_CHECKF(e_rot < 0.8 * e_plain, "mean error rotated %g, unrotated %g", e_rot / (NH * D), e_plain / (NH * D));
    printf("# decode over q4_0 K/V with outlier channels: mean error %.3g rotated, %.3g unrotated\n", e_rot / (NH * D), e_plain / (NH * D));
    free(k), free(v), free(kk), free(vv), free(q), free(qq), free(ob);
}

/* The decode path three ways over the same cache: the selected fused kernels, the scalar fused
 * reference, and the per-row loop (vec_dot per position and query, dequantize + axpy). */
static void fused_decode_matches_per_row(void) {
    const zeta_type types[4] = {ZETA_TYPE_F32, ZETA_TYPE_F16, ZETA_TYPE_Q8_0, ZETA_TYPE_Q4_0};
    const int groups[3] = {1, 4, 8};
    enum { NKV = 2, D = 64, NCTX = 1100 };
    float *q = malloc(sizeof(float) * 3 * 8 * NKV * D), *k = malloc(sizeof(float) * NCTX * NKV * D);
    float *v = malloc(sizeof(float) * NCTX * NKV * D), *o[3];
    for (int i = 0; i < 3; i++) o[i] = malloc(sizeof(float) * 3 * 8 * NKV * D);
    int runs = 0;
    for (int gi = 0; gi < 3; gi++)
        for (int tk = 0; tk < 4; tk++)
            for (int tv = 0; tv < 4; tv++) {
                zeta_hparams hp;
                memset(&hp, 0, sizeof hp);
                hp.n_layer = 1, hp.n_head = (uint32_t)(groups[gi] * NKV), hp.n_head_kv = NKV, hp.head_dim_k = D, hp.head_dim_v = D;
                const int nh = groups[gi] * NKV, nth = 2;
                cpu_kv kv;
                zeta_error err;
                if (cpu_kv_init(&kv, &hp, NCTX, types[tk], types[tv], false, nth, &err) != ZETA_OK) {
                    T_CHECKF(0, "init: %s", err.message);
                    continue;
                }
                threadpool *pool = pool_new(nth);
                for (int i = 0; i < NCTX * NKV * D; i++) k[i] = frand(), v[i] = frand();
                /* the cache filled by a prefill; then decodes of 1 and 3 tokens at a short position (one
                 * KV head per item) and at long ones (all heads per item, chunks of odd lengths) */
                for (int i = 0; i < 3 * nh * D; i++) q[i] = frand();
                cpu_kv_attention(&kv, pool, 0, q, k, v, 1, 0, o[0]);
                cpu_kv_attention(&kv, pool, 0, q, k + NKV * D, v + NKV * D, 3, 1, o[0]);
                float *tmp = calloc((size_t)NCTX * nh * D, sizeof(float));
                cpu_kv_attention(&kv, pool, 0, tmp, k + 4 * NKV * D, v + 4 * NKV * D, NCTX - 8, 4, tmp);
                free(tmp);
                const zk_kv_score_fn fs = kv.kv_score;
                const zk_kv_accum_fn fa = kv.kv_accum;
                const int at[][2] = {{100, 1}, {NCTX - 4, 1}, {NCTX - 3, 3}, {777, 1}};
                float worst = 0;
                for (size_t ai = 0; ai < sizeof at / sizeof at[0]; ai++) {
                    const int pos = at[ai][0], n_tok = at[ai][1];
                    for (int i = 0; i < 3 * nh * D; i++) q[i] = (ai == 3 ? 6.0f : 1.0f) * frand();
                    for (int way = 0; way < 3; way++) {
                        kv.kv_score = way == 0 ? fs : way == 1 ? zk_math_scalar()->kv_score[types[tk]] : NULL;
                        kv.kv_accum = way == 0 ? fa : way == 1 ? zk_math_scalar()->kv_accum[types[tv]] : NULL;
                        for (int i = 0; i < n_tok * nh * D; i++) o[way][i] = NAN;
                        /* the same rows stored again: the cache is unchanged */
                        cpu_kv_attention(&kv, pool, 0, q, k + (size_t)pos * NKV * D, v + (size_t)pos * NKV * D, n_tok, (uint32_t)pos, o[way]);
                    }
                    for (int i = 0; i < n_tok * nh * D; i++)
                        for (int way = 0; way < 2; way++) {
                            const float e = fabsf(o[way][i] - o[2][i]) / 1e-5f;
                            if (!(e <= worst)) worst = e;
                        }
                }
                T_CHECKF(worst <= 1.0f, "group %d K %s V %s: fused and per-row decode differ by %g of 1e-5", groups[gi],
                         zeta_type_name(types[tk]), zeta_type_name(types[tv]), (double)worst);
                runs++;
                pool_free(pool);
                cpu_kv_free(&kv);
            }
    T_CHECK(runs == 48);
    free(q), free(k), free(v);
    for (int i = 0; i < 3; i++) free(o[i]);
}

/* ---- public API on the zoo model (2 layers, 4 heads over 2 KV heads of 64) ---- */

static zeta_model *load(const char *path) {
    zeta_model *m = NULL;
    zeta_error err;
    if (zeta_model_load(path, NULL, &m, &err) != ZETA_OK) {
        printf("    load %s: %s\n", path, err.message);
        return NULL;
    }
    return m;
}

static zeta_session *session(zeta_model *m, zeta_type tk, zeta_type tv, uint32_t n_ctx) {
    zeta_session_params sp = zeta_session_params_default();
    sp.n_threads = 2;
    sp.kv_type = tk;
    sp.kv_type_v = tv;
    sp.n_ctx = n_ctx;
    zeta_session *s = NULL;
    zeta_error err;
    if (zeta_session_new(m, &sp, &s, &err) != ZETA_OK) printf("    session: %s\n", err.message);
    return s;
}

static float max_diff(const float *a, const float *b, size_t n) {
    float w = 0;
    for (size_t i = 0; i < n; i++) {
        const float e = fabsf(a[i] - b[i]);
        if (!(e <= w)) w = e;
    }
    return w;
}

/* After a shift, a model of ONE layer gives exactly the logits of a fresh session over the kept
 * tokens (with more layers the kept tokens' deeper K/V still carry what they attended to before the
 * shift, as in llama.cpp, so there is no such identity). */
static void shift_equals_fresh_session(void) {
    zeta_model *m = load("tests/data/models/llama-2-tiny-random.gguf");
    if (!m) { T_CHECK(0); return; }
    const size_t nv = zeta_n_vocab(m);
    zeta_token toks[200];
    for (int i = 0; i < 200; i++) toks[i] = (zeta_token)(1 + (i * 7919) % (int)(nv - 1));
    const zeta_type types[2] = {ZETA_TYPE_F32, ZETA_TYPE_F16};
    const float tols[2] = {1e-4f, 2e-2f};
    for (int ti = 0; ti < 2; ti++) {
        zeta_session *a = session(m, types[ti], types[ti], 256), *b = session(m, types[ti], types[ti], 256);
        zeta_error err;
        T_CHECK(a && b);
        if (!a || !b) break;
        /* a: 150 tokens, then drop 60 after the first 4, then one more token */
        T_CHECK(zeta_session_eval(a, toks, 150, &err) == ZETA_OK);
        T_CHECK(zeta_session_shift(a, 4, 60, &err) == ZETA_OK);
        T_CHECK(zeta_session_position(a) == 90);
        size_t n;
        const zeta_token *held = zeta_session_tokens(a, &n);
        T_CHECK(n == 90 && held[3] == toks[3] && held[4] == toks[64] && held[89] == toks[149]);
        T_CHECK(zeta_session_eval(a, &toks[150], 1, &err) == ZETA_OK);
        /* b: the same 91 tokens evaluated fresh */
        zeta_token kept[91];
        memcpy(kept, toks, 4 * sizeof *kept);
        memcpy(kept + 4, toks + 64, 87 * sizeof *kept);
        T_CHECK(zeta_session_eval(b, kept, 91, &err) == ZETA_OK);
        size_t na, nb;
        const float *la = zeta_session_logits(a, &na), *lb = zeta_session_logits(b, &nb);
        T_CHECK(la && lb && na == nv && nb == nv);
        if (la && lb) {
            const float d = max_diff(la, lb, nv);
            T_CHECKF(d <= tols[ti], "KV %s: logits after a shift differ from a fresh session by %g (tolerance %g)",
                     zeta_type_name(types[ti]), (double)d, (double)tols[ti]);
        }
        zeta_session_stats st;
        zeta_session_get_stats(a, &st);
        T_CHECK(st.n_shifts == 1 && st.n_shifted == 60 && st.n_evaluated == 151);
        /* bad arguments */
        T_CHECK(zeta_session_shift(a, 50, 60, &err) == ZETA_ERR_INVALID_ARGUMENT && strstr(err.message, "holds 91"));
        zeta_session_free(a);
        zeta_session_free(b);
    }
    zeta_model_free(m);
}

/* The shift on every cache type: keys stored at position p and shifted by delta equal keys rotated
 * at p + delta (within the type's rounding); values move unchanged. */
static void shift_rotates_keys(void) {
    const zeta_type types[4] = {ZETA_TYPE_F32, ZETA_TYPE_F16, ZETA_TYPE_Q8_0, ZETA_TYPE_Q4_0};
    /* q4_0: a shifted key is rounded twice (stored, then stored again after the RoPE), each time to
     * half a step of up to a block's max / 8, and the RoPE in between mixes pairs of errors */
    const float tols[4] = {1e-5f, 2e-3f, 2e-2f, 3.5e-1f};
    zeta_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.n_layer = 2, hp.n_head = 4, hp.n_head_kv = 2, hp.head_dim_k = 64, hp.head_dim_v = 64;
    enum { N = 100, ROW = 2 * 64 };
    g_seed = 4242; /* its own data, whatever ran before */
    const zeta_rope_params rp = {64, ZETA_ROPE_NORM, 10000.0f, 1.0f, NULL, 0.0f, 1.0f, {0.0f, 0.0f}};
    float *raw = malloc(sizeof(float) * N * ROW), *roped = malloc(sizeof(float) * N * ROW), *want = malloc(sizeof(float) * ROW);
    float *got = malloc(sizeof(float) * ROW), *q = malloc(sizeof(float) * 4 * 64), *o = malloc(sizeof(float) * 4 * 64);
    float kk[ROW], vv[ROW];
    for (int rot = 0; rot < 2; rot++)
        for (int t = 0; t < 4; t++) {
            cpu_kv kv;
            zeta_error err;
            T_CHECK(cpu_kv_init(&kv, &hp, N, types[t], types[t], rot, 1, &err) == ZETA_OK);
            threadpool *pool = pool_new(1);
            for (int i = 0; i < N * ROW; i++) raw[i] = roped[i] = frand();
            cpu_rope_rows(roped, N, 2, 64, 0, 1, &rp);
            for (int il = 0; il < 2; il++)
                for (int p = 0; p < N; p++) {
                    /* q, k, v are rotated in place when the cache is */
                    for (int i = 0; i < 4 * 64; i++) q[i] = frand();
                    memcpy(kk, roped + p * ROW, sizeof kk), memcpy(vv, raw + p * ROW, sizeof vv);
                    cpu_kv_attention(&kv, pool, il, q, kk, vv, 1, (uint32_t)p, o);
                }
            cpu_kv_shift(&kv, 30, N, -20, &rp); /* positions 30..99 -> 10..79 */
            float worst = 0;
            uint8_t *buf = malloc(kv.k_pos > kv.v_pos ? kv.k_pos : kv.v_pos);
            for (int il = 0; il < 2; il++)
                for (int p = 10; p < 80; p++) {
                    /* K: the key RoPE'd at its new position (then Hadamard-rotated, if the cache is) */
                    memcpy(want, raw + (p + 20) * ROW, sizeof(float) * ROW);
                    cpu_rope_rows(want, 1, 2, 64, p, 0, &rp);
                    if (kv.rot_k) cpu_kv_fwht(want, ROW, kv.rot_k);
                    cpu_kv_read(&kv, il, 0, (uint32_t)p, 1, buf);
                    zeta_dequantize_row(types[t], buf, got, ROW);
                    for (int i = 0; i < ROW; i++) {
                        const float e = fabsf(got[i] - want[i]) / tols[t];
                        if (!(e <= worst)) worst = e;
                    }
                    /* V: moved as it was */
                    memcpy(want, raw + (p + 20) * ROW, sizeof(float) * ROW);
                    if (kv.rot_v) cpu_kv_fwht(want, ROW, kv.rot_v);
                    cpu_kv_read(&kv, il, 1, (uint32_t)p, 1, buf);
                    zeta_dequantize_row(types[t], buf, got, ROW);
                    for (int i = 0; i < ROW; i++) {
                        const float e = fabsf(got[i] - want[i]) / tols[t];
                        if (!(e <= worst)) worst = e;
                    }
                }
            free(buf);
            T_CHECKF(worst <= 1.0f, "%s%s: shifted keys/values off by %g of the tolerance", zeta_type_name(types[t]), rot ? " rotated" : "",
                     (double)worst);
            T_CHECK(kv.rot_k == (rot && t >= 2 ? 64 : 0));
            pool_free(pool);
            cpu_kv_free(&kv);
        }
    free(raw), free(roped), free(want), free(got), free(q), free(o);
}

typedef struct textbuf { char s[4096]; size_t n; } textbuf;
static bool collect(void *user, const char *text, size_t len) {
    textbuf *b = user;
    if (b->n + len < sizeof b->s) {
        memcpy(b->s + b->n, text, len);
        b->n += len;
        b->s[b->n] = 0;
    }
    return true;
}

static void reuse_prefix_evaluates_only_new_tokens(void) {
    zeta_model *m = load("models/stories260K.gguf");
    if (!m) { T_CHECK(0); return; }
    zeta_session *s = session(m, ZETA_TYPE_F32, ZETA_TYPE_F32, 512), *f = session(m, ZETA_TYPE_F32, ZETA_TYPE_F32, 512);
    zeta_generate_params gp = zeta_generate_params_default();
    gp.sampler.temperature = 0;
    gp.max_tokens = 12;
    gp.reuse_prefix = true;
    textbuf t1 = {{0}, 0}, t2 = {{0}, 0}, t3 = {{0}, 0};
    gp.on_text = collect;
    gp.user = &t1;
    zeta_generate_result r1, r2, r3;
    zeta_error err;
    const char *turn1 = "Once upon a time, there was a little girl named Lily.";
    T_CHECK(zeta_generate(s, turn1, &gp, &r1, &err) == ZETA_OK);
    T_CHECK(r1.n_reused == 0 && r1.n_prompt > 10);
    /* turn 2: the whole conversation again plus new text */
    char conv[8192];
    snprintf(conv, sizeof conv, "%s%s She went to the park.", turn1, t1.s);
    gp.user = &t2;
    T_CHECK(zeta_generate(s, conv, &gp, &r2, &err) == ZETA_OK);
    T_CHECKF(r2.n_reused >= r1.n_prompt && r2.n_prompt < 12,
             "turn 2 reused %u tokens and evaluated %u (turn 1's prompt had %u)", r2.n_reused, r2.n_prompt, r1.n_prompt);
    /* the same conversation in a fresh session gives the same continuation */
    gp.user = &t3;
    T_CHECK(zeta_generate(f, conv, &gp, &r3, &err) == ZETA_OK);
    T_CHECK(r3.n_reused == 0 && r3.n_prompt == r2.n_prompt + r2.n_reused);
    T_CHECKF(strcmp(t2.s, t3.s) == 0, "reused: '%s' fresh: '%s'", t2.s, t3.s);
    /* the identical prompt again: everything but the last token is reused */
    gp.user = NULL;
    gp.on_text = NULL;
    zeta_session_rewind(f, 0, &err);
    T_CHECK(zeta_generate(f, turn1, &gp, &r3, &err) == ZETA_OK);
    const uint32_t n1 = r3.n_prompt;
    zeta_session_rewind(f, n1, &err);
    T_CHECK(zeta_generate(f, turn1, &gp, &r3, &err) == ZETA_OK && r3.n_prompt == 1 && r3.n_reused == n1 - 1);
    zeta_session_stats st;
    zeta_session_get_stats(s, &st);
    T_CHECK(st.n_reused == r2.n_reused);
    zeta_session_free(s);
    zeta_session_free(f);
    zeta_model_free(m);
}

static void context_shift_generation(void) {
    zeta_model *m = load("models/stories260K.gguf");
    if (!m) { T_CHECK(0); return; }
    zeta_session *s = session(m, ZETA_TYPE_F16, ZETA_TYPE_F16, 64);
    zeta_generate_params gp = zeta_generate_params_default();
    gp.sampler.temperature = 0;
    gp.max_tokens = 300;
    zeta_generate_result r;
    zeta_error err;
    /* without the shift: stops at the context */
    T_CHECK(zeta_generate(s, "Once upon a time", &gp, &r, &err) == ZETA_OK);
    T_CHECKF(r.finish == ZETA_FINISH_CONTEXT_FULL || r.finish == ZETA_FINISH_EOS, "finish %d", (int)r.finish);
    T_CHECK(zeta_session_position(s) <= 64);
    /* with it: runs past n_ctx (unless the model ends the story) */
    zeta_session_rewind(s, 0, &err);
    gp.context_shift = true;
    gp.sampler.temperature = 0.8f;
    T_CHECK(zeta_generate(s, "Once upon a time", &gp, &r, &err) == ZETA_OK);
    T_CHECKF(r.finish == ZETA_FINISH_LENGTH || r.finish == ZETA_FINISH_EOS, "finish %d", (int)r.finish);
    if (r.finish == ZETA_FINISH_LENGTH) {
        T_CHECK(r.n_generated == 300 && r.n_shifted > 0);
        size_t n;
        const zeta_token *t = zeta_session_tokens(s, &n);
        T_CHECK(n <= 64 && t[0] == zeta_token_bos(m)); /* BOS kept */
    }
    /* a prompt longer than the context is refused even with the shift */
    char big[4000];
    for (int i = 0; i < 3999; i++) big[i] = "abc "[i % 4];
    big[3999] = 0;
    zeta_session_rewind(s, 0, &err);
    T_CHECK(zeta_generate(s, big, &gp, &r, &err) == ZETA_ERR_CONTEXT_FULL && strstr(err.message, "context holds 64"));
    zeta_session_free(s);
    zeta_model_free(m);
}

static void save_load_round_trip(void) {
    zeta_model *m = load(ZOO);
    if (!m) { T_CHECK(0); return; }
    const size_t nv = zeta_n_vocab(m);
    char path[256];
    snprintf(path, sizeof path, "/tmp/zeta-test-kv-%ld.state", (long)getpid());
    zeta_token toks[64];
    for (int i = 0; i < 64; i++) toks[i] = (zeta_token)(1 + i * 31 % (int)(nv - 1));
    zeta_session *a = session(m, ZETA_TYPE_Q8_0, ZETA_TYPE_F16, 128), *b = session(m, ZETA_TYPE_Q8_0, ZETA_TYPE_F16, 128);
    zeta_error err;
    T_CHECK(zeta_session_eval(a, toks, 60, &err) == ZETA_OK);
    T_CHECKF(zeta_session_save(a, path, &err) == ZETA_OK, "%s", err.message);
    T_CHECKF(zeta_session_load(b, path, &err) == ZETA_OK, "%s", err.message);
    size_t n1, n2;
    T_CHECK(zeta_session_position(b) == 60);
    T_CHECK(memcmp(zeta_session_logits(a, &n1), zeta_session_logits(b, &n2), nv * sizeof(float)) == 0);
    T_CHECK(zeta_session_eval(a, &toks[60], 4, &err) == ZETA_OK && zeta_session_eval(b, &toks[60], 4, &err) == ZETA_OK);
    T_CHECK(memcmp(zeta_session_logits(a, &n1), zeta_session_logits(b, &n2), nv * sizeof(float)) == 0);
    /* refused files leave the session as it was */
    zeta_session *c = session(m, ZETA_TYPE_F16, ZETA_TYPE_F16, 128), *small = session(m, ZETA_TYPE_Q8_0, ZETA_TYPE_F16, 32);
    T_CHECK(zeta_session_eval(c, toks, 5, &err) == ZETA_OK);
    T_CHECK(zeta_session_load(c, path, &err) == ZETA_ERR_INVALID_ARGUMENT && strstr(err.message, "KV cache"));
    T_CHECK(zeta_session_position(c) == 5);
    T_CHECK(zeta_session_load(small, path, &err) == ZETA_ERR_CONTEXT_FULL);
    {   /* keys rotated with another RoPE scaling are refused */
        zeta_session_params sp = zeta_session_params_default();
        sp.kv_type = ZETA_TYPE_Q8_0, sp.kv_type_v = ZETA_TYPE_F16, sp.n_ctx = 128, sp.rope_freq_scale = 0.5f;
        zeta_session *r = NULL;
        T_CHECK(zeta_session_new(m, &sp, &r, &err) == ZETA_OK);
        T_CHECK(zeta_session_load(r, path, &err) == ZETA_ERR_INVALID_ARGUMENT && strstr(err.message, "RoPE"));
        zeta_session_free(r);
    }
    {   /* a Hadamard-rotated cache (a's q8_0 K) is refused by a session that stores it unrotated; an
         * unrotated one saved as version 1 (before the rotation field, which took a zero pad at byte
         * 68 of the header; the version is at byte 8) still loads */
        zeta_session_params sp = zeta_session_params_default();
        sp.kv_type = ZETA_TYPE_Q8_0, sp.kv_type_v = ZETA_TYPE_F16, sp.n_ctx = 128, sp.kv_no_rotate = true;
        zeta_session *r = NULL, *u = NULL;
        T_CHECK(zeta_session_new(m, &sp, &r, &err) == ZETA_OK && zeta_session_new(m, &sp, &u, &err) == ZETA_OK);
        T_CHECK(zeta_session_load(r, path, &err) == ZETA_ERR_INVALID_ARGUMENT && strstr(err.message, "rotated"));
        T_CHECK(zeta_session_position(r) == 0);
        char p1[300];
        snprintf(p1, sizeof p1, "%s.v1", path);
        T_CHECK(zeta_session_eval(r, toks, 60, &err) == ZETA_OK && zeta_session_save(r, p1, &err) == ZETA_OK);
        /* a version 1 file: the version field 1 and no sparse-position field (version 3 writes it
         * after the 32 bytes of RNG state, which follow the 104-byte header, tokens and logits) */
        size_t n1 = 0;
        uint8_t *b1 = (uint8_t *)t_read_file(p1, &n1);
        uint32_t ver = 0, rotf = 1;
        const size_t at = 104 + 60 * sizeof(int32_t) + nv * sizeof(float) + 32;
        if (b1 && n1 > at + 8) {
            memcpy(&ver, b1 + 8, 4);
            memcpy(&rotf, b1 + 68, 4);
            T_CHECK(ver == 3 && rotf == 0);
            uint64_t sf = 0;
            memcpy(&sf, b1 + at, 8);
            T_CHECK(sf == UINT64_MAX); /* all dense */
            ver = 1;
            memcpy(b1 + 8, &ver, 4);
            memmove(b1 + at, b1 + at + 8, n1 - at - 8);
            FILE *f1 = fopen(p1, "wb");
            T_CHECK(f1 && fwrite(b1, 1, n1 - 8, f1) == n1 - 8);
            if (f1) fclose(f1);
        } else T_CHECK(0);
        free(b1);
        T_CHECKF(zeta_session_load(u, p1, &err) == ZETA_OK, "%s", err.message);
        size_t nr, nu;
        T_CHECK(zeta_session_position(u) == 60 &&
                memcmp(zeta_session_logits(r, &nr), zeta_session_logits(u, &nu), nv * sizeof(float)) == 0);
        remove(p1);
        zeta_session_free(r), zeta_session_free(u);
    }
    FILE *f = fopen(path, "r+b");
    if (f) {
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        T_CHECK(ftruncate(fileno(f), sz - 1) == 0);
        fclose(f);
    }
    T_CHECK(zeta_session_load(b, path, &err) == ZETA_ERR_FORMAT && strstr(err.message, "truncated"));
    T_CHECK(zeta_session_position(b) == 64);
    f = fopen(path, "wb");
    if (f) { fputs("not a session", f); fclose(f); }
    T_CHECK(zeta_session_load(b, path, &err) == ZETA_ERR_FORMAT);
    remove(path);
    T_CHECK(zeta_session_load(b, path, &err) == ZETA_ERR_IO && strstr(err.message, "cannot open"));
    T_CHECK(zeta_session_position(b) == 64);
    zeta_model *other = load("models/stories260K.gguf");
    if (other) {
        zeta_session *o = session(other, ZETA_TYPE_F16, ZETA_TYPE_F16, 64);
        T_CHECK(zeta_session_save(c, path, &err) == ZETA_OK);
        T_CHECK(zeta_session_load(o, path, &err) == ZETA_ERR_INVALID_ARGUMENT && strstr(err.message, "another model"));
        remove(path);
        zeta_session_free(o);
        zeta_model_free(other);
    }
    zeta_session_free(a), zeta_session_free(b), zeta_session_free(c), zeta_session_free(small);
    zeta_model_free(m);
}

static void kv_types_and_sizes(void) {
    zeta_model *st = load("models/stories260K.gguf"), *zoo = load(ZOO);
    if (!st || !zoo) { T_CHECK(0); return; }
    zeta_session_params sp = zeta_session_params_default();
    sp.kv_type = ZETA_TYPE_Q8_0;
    zeta_session *s = NULL;
    zeta_error err;
    T_CHECK(zeta_session_new(st, &sp, &s, &err) == ZETA_ERR_UNSUPPORTED && strstr(err.message, "multiple of 32") && !s);
    sp.kv_type = ZETA_TYPE_F16;
    sp.kv_type_v = ZETA_TYPE_Q6_K;
    T_CHECK(zeta_session_new(zoo, &sp, &s, &err) == ZETA_ERR_UNSUPPORTED && strstr(err.message, "for V") && !s);
    /* zoo: 2 layers, 2 KV heads of 64: q8_0 row of 64 = 2 blocks of 34 bytes, q4_0 = 2 of 18 */
    s = session(zoo, ZETA_TYPE_Q8_0, ZETA_TYPE_Q4_0, 1000);
    T_CHECK(s && zeta_session_kv_bytes(s) == 2ull * 1000 * 2 * (68 + 36));
    T_CHECK(zeta_model_kv_bytes(zoo, 1000, ZETA_TYPE_Q8_0) == 2ull * 1000 * 2 * (68 + 68));
    T_CHECK(zeta_model_kv_bytes(zoo, 1000, ZETA_TYPE_F16) == 2ull * 1000 * 2 * (128 + 128));
    T_CHECK(zeta_model_kv_bytes(zoo, 1000, ZETA_TYPE_Q6_K) == 0);
    zeta_session_free(s);
    zeta_model_free(st);
    zeta_model_free(zoo);
}

/* rope.scaling.type = "yarn" in the file gives the logits of the session override on the plain file
 * (the override path is checked against llama-perplexity in tests/test_perplexity.sh), and differs
 * from linear scaling. */
static void yarn_from_metadata(void) {
    gguf_file *g = NULL;
    zeta_error err;
    if (gguf_open(ZOO, true, &g, &err) != ZETA_OK) { T_CHECKF(0, "%s", err.message); return; }
    gguf_writer *w = NULL;
    T_CHECK(gguf_writer_new(&w, &err) == ZETA_OK);
    bool ok = true;
    for (uint64_t i = 0; i < g->n_kv && ok; i++)
        if (strcmp(g->kv[i].key, "general.alignment") != 0) ok = gguf_writer_add_kv(w, &g->kv[i], &err) == ZETA_OK;
    ok = ok && gguf_writer_add_string(w, "llama.rope.scaling.type", "yarn", &err) == ZETA_OK;
    ok = ok && gguf_writer_add_f32(w, "llama.rope.scaling.factor", 4.0f, &err) == ZETA_OK;
    ok = ok && gguf_writer_add_u32(w, "llama.rope.scaling.original_context_length", 2048, &err) == ZETA_OK;
    for (uint64_t i = 0; i < g->n_tensors && ok; i++) {
        const gguf_tensor *t = &g->tensors[i];
        ok = gguf_writer_add_tensor(w, t->name, t->n_dims, t->ne, t->type, t->data, t->n_bytes, &err) == ZETA_OK;
    }
    char path[128];
    snprintf(path, sizeof path, "/tmp/zeta-test-yarn-%ld.gguf", (long)getpid());
    ok = ok && gguf_writer_write_file(w, path, &err) == ZETA_OK;
    T_CHECKF(ok, "%s", err.message);
    gguf_writer_free(w);
    gguf_close(g);
    zeta_model *plain = load(ZOO), *yarn = ok ? load(path) : NULL;
    if (getenv("ZETA_KEEP_YARN")) printf("    kept %s\n", path); else remove(path);
    if (!plain || !yarn) { T_CHECK(0); zeta_model_free(plain); zeta_model_free(yarn); return; }
    zeta_token toks[300];
    for (int i = 0; i < 300; i++) toks[i] = (zeta_token)(1 + (i * 131) % 500);
    zeta_session_params sp = zeta_session_params_default();
    sp.n_threads = 2, sp.kv_type = ZETA_TYPE_F32, sp.n_ctx = 512;
    zeta_session *a = NULL, *b = NULL, *c = NULL;
    T_CHECK(zeta_session_new(yarn, &sp, &a, &err) == ZETA_OK);
    sp.rope_scaling = ZETA_ROPE_SCALING_YARN, sp.rope_freq_scale = 0.25f, sp.yarn_orig_ctx = 2048;
    T_CHECK(zeta_session_new(plain, &sp, &b, &err) == ZETA_OK);
    sp.rope_scaling = ZETA_ROPE_SCALING_LINEAR;
    T_CHECK(zeta_session_new(plain, &sp, &c, &err) == ZETA_OK);
    if (a && b && c) {
        T_CHECKF(zeta_session_eval(a, toks, 300, &err) == ZETA_OK, "%s", err.message);
        T_CHECKF(zeta_session_eval(b, toks, 300, &err) == ZETA_OK, "%s", err.message);
        T_CHECKF(zeta_session_eval(c, toks, 300, &err) == ZETA_OK, "%s", err.message);
        size_t n;
        const float *la = zeta_session_logits(a, &n), *lb = zeta_session_logits(b, &n), *lc = zeta_session_logits(c, &n);
        T_CHECK(memcmp(la, lb, n * sizeof(float)) == 0);
        T_CHECKF(max_diff(la, lc, n) > 1e-3f, "YaRN and linear scaling gave the same logits (%g)", (double)max_diff(la, lc, n));
    }
    sp.rope_scaling = (zeta_rope_scaling)7;
    zeta_session *d = NULL;
    T_CHECK(zeta_session_new(plain, &sp, &d, &err) == ZETA_ERR_INVALID_ARGUMENT && strstr(err.message, "rope_scaling"));
    zeta_session_free(a), zeta_session_free(b), zeta_session_free(c);
    zeta_model_free(plain), zeta_model_free(yarn);
}

/* resident set in KiB from /proc/self/statm, or -1 */
static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = -1;
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = -1;
    fclose(f);
    return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* 10,000 generated tokens (calls of 1,000) in a 128-token context with context shift on: the
 * session keeps going (many shifts), and the resident set after the first 2,000 tokens stays within
 * 1 % (no allocation grows with the tokens). The sanitizer build runs it under the leak checker. */
static void context_shift_10k_tokens_flat_memory(void) {
    zeta_model *m = load("models/stories260K.gguf");
    if (!m) { T_CHECK(0); return; }
    zeta_session *s = session(m, ZETA_TYPE_F16, ZETA_TYPE_F16, 128);
    zeta_generate_params gp = zeta_generate_params_default();
    gp.sampler.temperature = 1.0f;
    gp.context_shift = true;
    gp.n_keep = 4;
    zeta_error err;
    zeta_generate_result r;
    uint32_t total = 0, shifted = 0;
    long warm = -1;
    int calls = 0;
    const char *prompt = "Once upon a time";
    while (total < 10000 && calls < 2000) {
        gp.max_tokens = 1000 - total % 1000; /* calls of up to 1,000 tokens */
        if (zeta_generate(s, prompt, &gp, &r, &err) != ZETA_OK) { T_CHECKF(0, "%s", err.message); break; }
        prompt = "";                /* continue after an EOS */
        total += r.n_generated;
        shifted += r.n_shifted;
        calls++;
        if (total >= 2000 && warm < 0) warm = rss_kib(); /* after two calls: every buffer has been used */
        if (r.n_generated == 0) prompt = " The";
    }
    T_CHECKF(total >= 10000, "generated %u tokens in %d calls", total, calls);
    T_CHECK(zeta_session_position(s) <= 128 && shifted > 10000 - 128);
    const long end = rss_kib();
    if (getenv("ZETA_TEST_VERBOSE")) printf("    rss %ld -> %ld KiB, %u tokens, %u shifted, %d calls\n", warm, end, total, shifted, calls);
    if (warm > 0 && end > 0)
        T_CHECKF(end <= warm + warm / 100, "resident set grew from %ld KiB to %ld KiB over %u tokens", warm, end, total);
    zeta_session_stats st;
    zeta_session_get_stats(s, &st);
    T_CHECK(st.n_shifts > 100 && st.n_shifted == shifted);
    zeta_session_free(s);
    zeta_model_free(m);
}

int main(void) {
    T_RUN(attention_matches_float64);
    T_RUN(hadamard_rotation);
    T_RUN(rotation_reduces_q4_0_error);
    T_RUN(fused_decode_matches_per_row);
    T_RUN(shift_equals_fresh_session);
    T_RUN(shift_rotates_keys);
    T_RUN(reuse_prefix_evaluates_only_new_tokens);
    T_RUN(context_shift_generation);
    T_RUN(save_load_round_trip);
    T_RUN(kv_types_and_sizes);
    T_RUN(yarn_from_metadata);
    T_RUN(context_shift_10k_tokens_flat_memory);
    return t_done();
}
