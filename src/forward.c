/* forward.c — the transformer step, readable like the math:
 *   x = embed(tokens)
 *   per layer:  h = rmsnorm(x) ; q,k,v = Wq h (+bq), Wk h (+bk), Wv h (+bv)
 *               [qwen3: q,k = per-head rmsnorm] ; q,k = rope(q,k) ; a = attention(q, K, V)
 *               x += Wo a
 *               h = rmsnorm(x) ; x += Wdown (silu(Wgate h) * Wup h)
 *   logits = Wout rmsnorm(x)
 * Every operation goes through the backend table; nothing here knows the hardware.
 * The sparse pass (variational gating, docs/GATING.md) is the same step with the layer matmuls
 * replaced by products over the inputs above a calibrated magnitude threshold (one token only). */
#include "forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

zeta_status fwd_buffers_init(fwd_buffers *b, const struct zeta_model *m, const zeta_backend_inst *be, uint32_t cap,
                             zeta_error *err) {
    memset(b, 0, sizeof *b);
    const zeta_hparams *hp = &m->hp;
    size_t E = hp->n_embd, Q = (size_t)hp->n_head * hp->head_dim_k, K = (size_t)hp->n_head_kv * hp->head_dim_k;
    size_t V = (size_t)hp->n_head_kv * hp->head_dim_v, O = (size_t)hp->n_head * hp->head_dim_v, F = hp->n_ff;
    size_t wide = E > O ? E : O;
    void *c = be->ctx;
    float *(*alloc)(void *, size_t) = be->ops->buf_alloc;
    b->cap = cap;
    b->x = alloc(c, (size_t)cap * E);
    b->xn = alloc(c, (size_t)cap * wide);
    b->q = alloc(c, (size_t)cap * Q);
    b->k = alloc(c, (size_t)cap * K);
    b->v = alloc(c, (size_t)cap * V);
    b->att = alloc(c, (size_t)cap * O);
    b->ga = alloc(c, (size_t)cap * F);
    b->up = alloc(c, (size_t)cap * F);
    bool ok = b->x && b->xn && b->q && b->k && b->v && b->att && b->ga && b->up;
    if (ok && !be->ops->host_buffers) ok = (b->logits = alloc(c, (size_t)cap * hp->n_vocab)) != NULL;
    if (!ok) {
        fwd_buffers_free(b, be);
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of %s memory allocating activation buffers for %u tokens",
                         be->ops->name, cap);
    }
    return ZETA_OK;
}

void fwd_buffers_free(fwd_buffers *b, const zeta_backend_inst *be) {
    float *all[] = {b->x, b->xn, b->q, b->k, b->v, b->att, b->ga, b->up, b->logits};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]) be->ops->buf_free(be->ctx, all[i]);
    memset(b, 0, sizeof *b);
}

/* YaRN's correction range, as ggml_rope_yarn_corr_dims */
static float yarn_corr_dim(int n_dims, uint32_t n_ctx_orig, float n_rot, float base) {
    return (float)n_dims * logf((float)n_ctx_orig / (n_rot * 2.0f * 3.14159265358979323846f)) / (2.0f * logf(base));
}

zeta_rope_params forward_rope_params(const struct zeta_model *m, int scaling, float freq_scale, uint32_t orig_ctx) {
    const zeta_hparams *hp = &m->hp;
    zeta_rope_params rp = {hp->n_rot, m->arch->rope, hp->rope_base, hp->rope_freq_scale, m->rope_freqs, 0.0f, 1.0f, {0.0f, 0.0f}};
    if (scaling == ZETA_ROPE_SCALING_MODEL) scaling = hp->rope_scaling;
    if (freq_scale > 0.0f) rp.freq_scale = freq_scale;
    if (scaling == ZETA_ROPE_SCALING_NONE) rp.freq_scale = 1.0f;
    float attn = 1.0f;
    if (scaling == ZETA_ROPE_SCALING_YARN) {
        /* llama.cpp: ext_factor 1, beta_fast 32, beta_slow 1, attn_factor get_mscale(factor) cancelled
         * by ggml's own 1 + 0.1 ln(factor) */
        const float factor = 1.0f / rp.freq_scale;
        const uint32_t n_orig = orig_ctx ? orig_ctx : hp->n_ctx_orig;
        rp.ext_factor = 1.0f;
        attn = (factor <= 1.0f ? 1.0f : 0.1f * logf(factor) + 1.0f) / (1.0f + 0.1f * logf(factor));
        const float lo = floorf(yarn_corr_dim((int)hp->n_rot, n_orig, 32.0f, hp->rope_base));
        const float hi = ceilf(yarn_corr_dim((int)hp->n_rot, n_orig, 1.0f, hp->rope_base));
        rp.corr_dims[0] = lo > 0.0f ? lo : 0.0f;
        rp.corr_dims[1] = hi < (float)(hp->n_rot - 1) ? hi : (float)(hp->n_rot - 1);
        rp.mscale = attn * hp->rope_attn_factor * (1.0f + 0.1f * logf(1.0f / rp.freq_scale));
    } else {
        rp.mscale = attn * hp->rope_attn_factor;
    }
    return rp;
}

/* y[i] = W[i] x (+ bias[i]) for the n_w matrices that share input x (kind `kind` of layer il):
 * dense, or in the sparse pass over the kept inputs of x only */
static void project(const zeta_backend_inst *be, const fwd_opts *opt, uint32_t il, int kind, const float *x, int nt, int n_w,
                    const zeta_weight *const *w, const zeta_weight *const *bias, const zs_mat *const *sw, float *const *y) {
    if (opt && opt->observe) opt->observe(opt->observe_user, il, kind, x, nt, (uint32_t)w[0]->ne0);
    const float thr = opt && opt->sparse ? opt->thr[il * ZS_N_KIND + (uint32_t)kind] : 0.0f;
    if (thr <= 0.0f) {
        if (n_w > 1 && be->ops->matmul_shared) be->ops->matmul_shared(be->ctx, n_w, w, bias, x, nt, y);
        else
            for (int i = 0; i < n_w; i++) be->ops->matmul(be->ctx, w[i], bias[i], x, nt, y[i]);
        return;
    }
    if (opt->sops->project) { /* the backend counts (step_stats after the read) */
        opt->sops->project(be->ctx, il, kind, x, (uint32_t)w[0]->ne0, thr, n_w, sw, bias, y);
        return;
    }
    zs_sel *sel = opt->sel;
    opt->sops->select(be->ctx, x, (uint32_t)w[0]->ne0, thr, sel);
    opt->sops->matmul(be->ctx, n_w, sw, bias, sel, y);
    if (opt->stats) {
        opt->stats->kept[kind] += sel->n;
        opt->stats->total[kind] += sel->n_in;
        opt->stats->energy_sum += sel->ss_total > 0.0 ? sel->ss_kept / sel->ss_total : 1.0;
        opt->stats->n_energy++;
    }
}

zeta_status forward_batch(const struct zeta_model *m, const zeta_rope_params *rpp, zeta_backend_inst *be, fwd_buffers *b,
                          const zeta_token *tokens, uint32_t n, uint32_t pos0, float *logits, bool all_logits, atomic_bool *cancel,
                          const fwd_opts *opt, zeta_error *err) {
    const zeta_backend_ops *op = be->ops;
    void *c = be->ctx;
    const zeta_hparams *hp = &m->hp;
    const int nt = (int)n;
    const size_t E = hp->n_embd;
    const zeta_rope_params rp = *rpp;
    b->has_entropy = false;
    fwd_opts sopt;
    if (opt && opt->sparse && n != 1) { /* prompts and verification stay dense */
        sopt = *opt;
        sopt.sparse = NULL;
        opt = &sopt;
    }
    const zs_layer *SL = NULL;

    op->get_rows(c, &m->tok_embd, tokens, nt, b->x);
    for (uint32_t il = 0; il < hp->n_layer; il++) {
        const zeta_layer *L = &m->layers[il];
        /* attention block */
        if (opt && opt->sparse) SL = &opt->sparse[il];
        op->rmsnorm(c, b->x, &L->attn_norm, hp->norm_eps, nt, b->xn);
        {   /* q, k, v = Wq h (+bq), Wk h (+bk), Wv h (+bv) */
            const zeta_weight *w[3] = {&L->wq, &L->wk, &L->wv}, *bs[3] = {&L->bq, &L->bk, &L->bv};
            const zs_mat *sw[3] = {SL ? &SL->wq : NULL, SL ? &SL->wk : NULL, SL ? &SL->wv : NULL};
            float *y[3] = {b->q, b->k, b->v};
            project(be, opt, il, ZS_ATTN_IN, b->xn, nt, 3, w, bs, sw, y);
        }
        if (L->q_norm.data) {
            op->rmsnorm(c, b->q, &L->q_norm, hp->norm_eps, nt * (int)hp->n_head, b->q);
            op->rmsnorm(c, b->k, &L->k_norm, hp->norm_eps, nt * (int)hp->n_head_kv, b->k);
        }
        op->rope(c, b->q, nt, (int)hp->n_head, (int)hp->head_dim_k, pos0, &rp);
        op->rope(c, b->k, nt, (int)hp->n_head_kv, (int)hp->head_dim_k, pos0, &rp);
        op->attention(c, (int)il, b->q, b->k, b->v, nt, pos0, b->att);
        {   /* Wo a */
            const zeta_weight *w[1] = {&L->wo}, *bs[1] = {NULL};
            const zs_mat *sw[1] = {SL ? &SL->wo : NULL};
            float *y[1] = {b->xn};
            project(be, opt, il, ZS_ATTN_OUT, b->att, nt, 1, w, bs, sw, y);
        }
        op->add(c, b->x, b->xn, (size_t)nt * E);
        /* feed-forward block */
        op->rmsnorm(c, b->x, &L->ffn_norm, hp->norm_eps, nt, b->xn);
        {   /* Wdown (silu(Wgate h) * Wup h) */
            const zeta_weight *w[2] = {&L->w_gate, &L->w_up}, *bs[2] = {NULL, NULL}, *wd[1] = {&L->w_down};
            const zs_mat *sw[2] = {SL ? &SL->gate : NULL, SL ? &SL->up : NULL}, *sd[1] = {SL ? &SL->down : NULL};
            float *y[2] = {b->ga, b->up}, *yd[1] = {b->xn};
            project(be, opt, il, ZS_FFN_IN, b->xn, nt, 2, w, bs, sw, y);
            op->swiglu(c, b->ga, b->up, (size_t)nt * hp->n_ff, b->ga);
            project(be, opt, il, ZS_FFN_MID, b->ga, nt, 1, wd, bs, sd, yd);
        }
        op->add(c, b->x, b->xn, (size_t)nt * E);
        if (cancel && atomic_load_explicit(cancel, memory_order_relaxed)) {
            zeta_status st = op->read(c, NULL, 0, NULL, err); /* let the issued work finish first */
            return st != ZETA_OK ? st : zeta_fail(err, ZETA_ERR_CANCELLED, "evaluation cancelled");
        }
    }
    /* an earlier batch of a longer prompt: nobody reads its logits */
    if (!logits) return op->read(c, NULL, 0, NULL, err);
    const int first = all_logits ? 0 : nt - 1;
    const int rows = nt - first;
    float *out = op->host_buffers ? logits : b->logits;
    op->rmsnorm(c, b->x + (size_t)first * E, &m->output_norm, hp->norm_eps, rows, b->xn);
    op->matmul(c, &m->output, NULL, b->xn, rows, out);
    const bool ent = b->want_entropy && rows == 1 && op->entropy;
    if (ent) op->entropy(c, out, (int)hp->n_vocab, &b->entropy);
    const zeta_status st = op->read(c, out, (size_t)rows * hp->n_vocab, logits, err);
    b->has_entropy = ent && st == ZETA_OK;
    if (st == ZETA_OK && opt && opt->sparse && opt->stats && opt->sops->step_stats) {
        fwd_sparse_stats *fs = opt->stats;
        opt->sops->step_stats(c, fs->kept, fs->total, &fs->energy_sum, &fs->n_energy);
    }
    return st;
}
