/* calibrate.c — zeta_calibrate: runs the dense model over a text and writes the sparsity file of
 * variational gating (format in sparse.c). Per layer and matmul input kind, |x| values go into a
 * histogram whose bins are the top 16 bits of the float (sign dropped: 8 exponent bits, 7 mantissa
 * bits, so a bin spans under 0.8 % of its value); the threshold of sparsity q is the value below
 * which a fraction q of the entries fall, interpolated inside its bin. The next-token entropy of
 * every scored position gives the gate's defaults. Everything is integer counting in a fixed order,
 * so the same inputs give the same file. */
#include "session.h"
#include "sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_BINS 32768u

typedef struct calib_acc {
    uint32_t n_layer;
    uint64_t *hist;          /* [n_layer][ZS_N_KIND][N_BINS] */
    uint64_t *count;         /* [n_layer][ZS_N_KIND] */
} calib_acc;

static void observe(void *user, uint32_t il, int kind, const float *x, int n_tok, uint32_t width) {
    calib_acc *a = user;
    uint64_t *h = a->hist + ((size_t)il * ZS_N_KIND + (size_t)kind) * N_BINS;
    const size_t n = (size_t)n_tok * width;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &x[i], 4);
        h[(b & 0x7fffffffu) >> 16]++;
    }
    a->count[(size_t)il * ZS_N_KIND + (size_t)kind] += n;
}

/* the |x| below which a fraction q of the histogram's entries fall */
static float hist_quantile(const uint64_t *h, uint64_t total, double q) {
    const double target = q * (double)total;
    double cum = 0.0;
    for (uint32_t b = 0; b < N_BINS; b++) {
        if (!h[b]) continue;
        if (cum + (double)h[b] >= target) {
            double frac = (target - cum) / (double)h[b];
            uint32_t bits = (b << 16) + (uint32_t)(frac * 65535.0);
            float v;
            memcpy(&v, &bits, 4);
            return isfinite(v) ? v : 3e38f;
        }
        cum += (double)h[b];
    }
    return 0.0f;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

zeta_calibrate_params zeta_calibrate_params_default(void) {
    zeta_calibrate_params p;
    memset(&p, 0, sizeof p);
    p.n_ctx = 512;
    p.gate_quantile = 0.7f;
    p.fallback_quantile = 0.97f;
    return p;
}

zeta_status zeta_calibrate(const zeta_model *m, const char *text, size_t len, const zeta_calibrate_params *params,
                           const char *out_path, zeta_error *err) {
    if (!m || m->magic != ZETA_MODEL_MAGIC) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_calibrate: model is NULL or not a live zeta_model");
    if (!text && len) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_calibrate: text is NULL with len %zu", len);
    if (!out_path) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_calibrate: out_path is NULL");
    if (m->cuda) return zeta_fail(err, ZETA_ERR_UNSUPPORTED, "zeta_calibrate: runs on the CPU backend only (load the model with backend cpu)");
    zeta_calibrate_params p = params ? *params : zeta_calibrate_params_default();
    static const float def_levels[5] = {0.25f, 0.3f, 0.4f, 0.5f, 0.6f};
    const float *levels = p.sparsities ? p.sparsities : def_levels;
    const size_t n_levels = p.sparsities ? p.n_sparsities : 5;
    if (n_levels < 1 || n_levels > ZS_MAX_LEVELS)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_calibrate: %zu sparsities (1..%d)", n_levels, ZS_MAX_LEVELS);
    for (size_t i = 0; i < n_levels; i++)
        if (!(levels[i] > 0.0f && levels[i] < 1.0f) || (i && levels[i] <= levels[i - 1]))
            return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_calibrate: sparsities must be ascending in (0, 1) (got %g at %zu)",
                             (double)levels[i], i);
    if (!(p.gate_quantile > 0.0f && p.gate_quantile < 1.0f) || !(p.fallback_quantile > 0.0f && p.fallback_quantile < 1.0f))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_calibrate: gate_quantile and fallback_quantile must be in (0, 1)");
    if (p.n_ctx < 16 || p.n_ctx > 8192)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_calibrate: n_ctx %u out of range (16..8192)", p.n_ctx);

    size_t n_tok = 0;
    zeta_status st = zeta_tokenize(m, text ? text : "", len, ZETA_TOKENIZE_ADD_SPECIAL, NULL, 0, &n_tok, err);
    if (st != ZETA_OK && st != ZETA_ERR_BUFFER_TOO_SMALL) return st;
    if (n_tok < p.n_ctx)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_calibrate: the text has %zu tokens; one chunk needs %u", n_tok, p.n_ctx);
    size_t n_chunks = n_tok / p.n_ctx;
    if (p.n_chunks && p.n_chunks < n_chunks) n_chunks = p.n_chunks;

    const zeta_hparams *hp = &m->hp;
    const size_t nv = hp->n_vocab, n_hist = (size_t)hp->n_layer * ZS_N_KIND;
    const size_t skip = p.n_ctx / 8; /* the first positions of a chunk have almost no context: no entropy from them */
    calib_acc acc = {hp->n_layer, NULL, NULL};
    zeta_token *toks = zeta_malloc_array(n_tok, sizeof *toks);
    acc.hist = zeta_calloc_array(n_hist * N_BINS, sizeof(uint64_t));
    acc.count = zeta_calloc_array(n_hist, sizeof(uint64_t));
    float *logits = zeta_malloc_array((size_t)p.n_ctx * nv, sizeof(float));
    float *ent = zeta_malloc_array(n_chunks * (p.n_ctx - skip), sizeof(float));
    zs_calib c;
    memset(&c, 0, sizeof c);
    c.thr = zeta_malloc_array(n_hist * n_levels, sizeof(float));
    zeta_session *s = NULL;
    if (!toks || !acc.hist || !acc.count || !logits || !ent || !c.thr) {
        st = zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory for calibration");
        goto out;
    }
    if ((st = zeta_tokenize(m, text ? text : "", len, ZETA_TOKENIZE_ADD_SPECIAL, toks, n_tok, &n_tok, err)) != ZETA_OK) goto out;
    zeta_session_params sp = zeta_session_params_default();
    sp.n_ctx = p.n_ctx;
    sp.n_batch = p.n_ctx;
    sp.n_threads = p.n_threads;
    if ((st = zeta_session_new(m, &sp, &s, err)) != ZETA_OK) goto out;
    const fwd_opts opt = {observe, &acc, NULL, NULL, NULL, NULL, NULL};
    const zeta_token bos = vocab_bos(m->vocab);
    size_t n_ent = 0;
    for (size_t ch = 0; ch < n_chunks; ch++) {
        zeta_token *chunk = toks + ch * p.n_ctx;
        if (bos >= 0 && toks[0] == bos) chunk[0] = bos; /* each chunk starts as the text does */
        st = forward_batch(m, &s->rope, &s->be, &s->buf, chunk, p.n_ctx, 0, logits, true, &s->cancel, &opt, err);
        if (st != ZETA_OK) goto out;
        for (size_t j = skip; j < p.n_ctx; j++) ent[n_ent++] = (float)sampler_entropy(logits + j * nv, (int32_t)nv);
    }
    for (size_t h = 0; h < n_hist; h++)
        for (size_t i = 0; i < n_levels; i++) c.thr[h * n_levels + i] = hist_quantile(acc.hist + h * N_BINS, acc.count[h], levels[i]);
    qsort(ent, n_ent, sizeof *ent, cmp_float);
    for (int i = 0; i < ZS_N_EQ; i++) {
        size_t k = (size_t)((double)i / (ZS_N_EQ - 1) * (double)(n_ent - 1) + 0.5);
        c.entropy_q[i] = ent[k];
    }
    c.gate_entropy = ent[(size_t)((double)p.gate_quantile * (double)(n_ent - 1) + 0.5)];
    c.fallback_entropy = ent[(size_t)((double)p.fallback_quantile * (double)(n_ent - 1) + 0.5)];
    c.hash = zs_model_hash(m);
    c.file_bytes = m->g->size;
    c.n_layer = hp->n_layer;
    c.n_embd = hp->n_embd;
    c.n_ff = hp->n_ff;
    c.n_vocab = hp->n_vocab;
    c.n_tokens = (uint32_t)(n_chunks * p.n_ctx);
    c.n_chunks = (uint32_t)n_chunks;
    c.n_ctx = p.n_ctx;
    c.n_levels = (uint32_t)n_levels;
    for (size_t i = 0; i < n_levels; i++) c.levels[i] = levels[i];
    st = zs_calib_write(out_path, &c, err);
out:
    zeta_session_free(s);
    free(toks);
    free(acc.hist);
    free(acc.count);
    free(logits);
    free(ent);
    free(c.thr);
    if (st == ZETA_OK) return zeta_ok(err);
    return st;
}
