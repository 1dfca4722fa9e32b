/* gate.c — variational gating on a session (docs/GATING.md): the decoding modes chosen at
 * zeta_session_new, the entropy gate of single-token steps with its counted dense fallback
 * (VARIATIONAL), every step sparse (SPARSE), and ULTIMATE's draft-then-verify round. A step never
 * runs both passes except a counted fallback; prompts and verification are always dense. */
#include "session.h"
#include "sparse.h"
#include "cuda/cuda_backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *zeta_mode_name(zeta_mode m) {
    switch (m) {
    case ZETA_MODE_STANDARD: return "standard";
    case ZETA_MODE_VARIATIONAL: return "variational";
    case ZETA_MODE_ULTIMATE: return "ultimate";
    case ZETA_MODE_SPARSE: return "sparse";
    }
    return "?";
}

zeta_status session_mode_init(zeta_session *s, const zeta_session_params *p, const char *fn, zeta_error *err) {
    const struct zeta_model *m = s->model;
    if ((int)p->mode < ZETA_MODE_STANDARD || (int)p->mode > ZETA_MODE_SPARSE)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "%s: mode %d is not one of ZETA_MODE_*", fn, (int)p->mode);
    if (p->max_draft < 1 || p->max_draft > 16)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "%s: max_draft %u out of range (1..16)", fn, p->max_draft);
    s->mode = p->mode;
    s->max_draft = p->max_draft;
    if (p->mode == ZETA_MODE_STANDARD) return ZETA_OK;
    const zs_model *z = m->sparse;
    if (!z)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                         "%s: mode %s needs a model loaded with zeta_model_params.sparsity_path (a file written by zeta_calibrate)",
                         fn, zeta_mode_name(p->mode));
    const zs_calib *c = &z->cal;
    int lv = -1;
    if (p->sparsity != 0.0f) {
        lv = zs_calib_level(c, p->sparsity < 0.0f ? 0.0f : p->sparsity);
        if (lv < 0) {
            char list[256] = "";
            size_t o = 0;
            for (uint32_t i = 0; i < c->n_levels && o < sizeof list - 16; i++)
                o += (size_t)snprintf(list + o, sizeof list - o, "%s%g", i ? ", " : "", (double)c->levels[i]);
            return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                             "%s: sparsity %g is not a level of the sparsity file (it has %s; 0 = none dropped)",
                             fn, (double)p->sparsity, list);
        }
    }
    if (!isfinite(p->gate_entropy) || !isfinite(p->fallback_entropy))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "%s: gate_entropy / fallback_entropy must be finite", fn);
    s->gate_entropy = p->gate_entropy < 0.0f ? c->gate_entropy : p->gate_entropy;
    s->fallback_entropy = p->fallback_entropy < 0.0f ? c->fallback_entropy : p->fallback_entropy;
    const zeta_hparams *hp = &m->hp;
    uint32_t widest = hp->n_embd > hp->n_ff ? hp->n_embd : hp->n_ff;
    if (hp->n_head * hp->head_dim_v > widest) widest = hp->n_head * hp->head_dim_v;
    if (hp->n_head * hp->head_dim_k > widest) widest = hp->n_head * hp->head_dim_k; /* q's rows (the partial sums' scratch) */
    s->thr = zeta_calloc_array((size_t)hp->n_layer * ZS_N_KIND, sizeof(float));
    const bool sel_ok = zs_sel_alloc(&s->sel, widest);
    if (p->mode == ZETA_MODE_ULTIMATE) {
        s->verify_logits = zeta_malloc_array((size_t)(p->max_draft + 1) * hp->n_vocab, sizeof(float));
        s->draft_probs = zeta_malloc_array((size_t)(p->max_draft + 1) * hp->n_vocab, sizeof(float));
    }
    if (!s->thr || !sel_ok || (p->mode == ZETA_MODE_ULTIMATE && (!s->verify_logits || !s->draft_probs)))
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory setting up mode %s", zeta_mode_name(p->mode));
    if (lv >= 0)
        for (size_t i = 0; i < (size_t)hp->n_layer * ZS_N_KIND; i++) s->thr[i] = c->thr[i * c->n_levels + (size_t)lv];
    memset(&s->sparse_opts, 0, sizeof s->sparse_opts);
    s->sparse_opts.sops = m->cuda ? cuda_sparse_ops() : cpu_sparse_ops();
    if (!s->sparse_opts.sops) return zeta_fail(err, ZETA_ERR_INTERNAL, "this backend has no sparse pass");
    s->sparse_opts.sparse = z->layers;
    s->sparse_opts.thr = s->thr;
    s->sparse_opts.sel = &s->sel;
    return ZETA_OK;
}

/* what session_mode_init sets up, kept aside while zeta_session_set_mode tries another mode */
typedef struct mode_state {
    zeta_mode mode;
    uint32_t max_draft;
    float gate_entropy, fallback_entropy;
    float *thr, *verify_logits, *draft_probs;
    zs_sel sel;
    fwd_opts sparse_opts;
} mode_state;

static void mode_take(zeta_session *s, mode_state *m) { /* moves the session's mode state into *m */
    *m = (mode_state){s->mode, s->max_draft, s->gate_entropy, s->fallback_entropy, s->thr, s->verify_logits, s->draft_probs,
                      s->sel, s->sparse_opts};
    s->thr = s->verify_logits = s->draft_probs = NULL;
    memset(&s->sel, 0, sizeof s->sel);
    memset(&s->sparse_opts, 0, sizeof s->sparse_opts);
}

static void mode_put(zeta_session *s, const mode_state *m) { /* the reverse of mode_take */
    s->mode = m->mode;
    s->max_draft = m->max_draft;
    s->gate_entropy = m->gate_entropy;
    s->fallback_entropy = m->fallback_entropy;
    s->thr = m->thr;
    s->verify_logits = m->verify_logits;
    s->draft_probs = m->draft_probs;
    s->sel = m->sel;
    s->sparse_opts = m->sparse_opts;
    if (s->sparse_opts.sel) s->sparse_opts.sel = &s->sel; /* it pointed at the session's own (moved) selection */
}

static void mode_free(mode_state *m) {
    free(m->thr);
    free(m->verify_logits);
    free(m->draft_probs);
    zs_sel_free(&m->sel);
}

zeta_mode zeta_session_mode(const zeta_session *s) { return session_ok(s) ? s->mode : ZETA_MODE_STANDARD; }

zeta_status zeta_session_set_mode(zeta_session *s, zeta_mode mode, zeta_error *err) {
    if (!session_ok(s))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_set_mode: session is %s",
                         s ? "not a live zeta_session (freed or wrong handle)" : "NULL");
    if (mode == s->mode) return zeta_ok(err);
    zeta_session_params p = s->mode_params;
    p.mode = mode;
    mode_state old, fresh;
    mode_take(s, &old);
    zeta_status st = session_mode_init(s, &p, "zeta_session_set_mode", err);
    if (st != ZETA_OK) {
        /* the session keeps the mode it had */
        mode_take(s, &fresh);
        mode_free(&fresh);
        mode_put(s, &old);
        return st;
    }
    mode_free(&old);
    s->mode_params.mode = mode;
    return zeta_ok(err);
}

static float logits_entropy(zeta_session *s) {
    if (!s->entropy_ok) {
        s->entropy = (float)sampler_entropy(s->logits, (int32_t)s->model->hp.n_vocab);
        s->entropy_ok = true;
    }
    return s->entropy;
}

zeta_status session_eval_pass(zeta_session *s, const zeta_token *tokens, size_t n, float *all_logits, bool sparse, zeta_error *err) {
    fwd_sparse_stats fs;
    fwd_opts o;
    const fwd_opts *opt = NULL;
    if (sparse) {
        if (n != 1 || !s->sparse_opts.sparse) return zeta_fail(err, ZETA_ERR_INTERNAL, "sparse pass without a sparse setup or of %zu tokens", n);
        memset(&fs, 0, sizeof fs);
        o = s->sparse_opts;
        o.stats = &fs;
        opt = &o;
    }
    zeta_status st = session_forward(s, tokens, n, all_logits, opt, err);
    if (st != ZETA_OK) return st;
    s->stats.n_evaluated += n;
    s->stats.n_evals++;
    if (n != 1) return ZETA_OK;
    s->stats.n_steps++;
    if (!sparse) {
        s->stats.n_dense_steps++;
        s->n_pass_dense1++;
        return ZETA_OK;
    }
    s->stats.n_sparse_steps++;
    s->n_pass_sparse++;
    s->stats.energy_sum += fs.n_energy ? fs.energy_sum / (double)fs.n_energy : 1.0;
    for (int k = 0; k < ZS_N_KIND; k++) s->stats.kept_sum[k] += fs.total[k] ? (double)fs.kept[k] / (double)fs.total[k] : 1.0;
    return ZETA_OK;
}

zeta_status session_eval(zeta_session *s, const zeta_token *tokens, size_t n, float *all_logits, zeta_error *err) {
    if (n != 1 || (s->mode != ZETA_MODE_VARIATIONAL && s->mode != ZETA_MODE_SPARSE))
        return session_eval_pass(s, tokens, n, all_logits, false, err);
    /* the gate: the entropy of the distribution the token was drawn from (no extra pass) */
    const bool sparse = s->mode == ZETA_MODE_SPARSE || (s->has_logits && logits_entropy(s) < s->gate_entropy);
    zeta_status st = session_eval_pass(s, tokens, 1, all_logits, sparse, err);
    if (st != ZETA_OK || !sparse || s->mode == ZETA_MODE_SPARSE || logits_entropy(s) <= s->fallback_entropy) return st;
    /* fallback: the sparse step's own distribution is uncertain; recompute the token densely at the
     * same position (its KV entries are overwritten) */
    s->n_tokens--;
    st = session_forward(s, tokens, 1, all_logits, NULL, err);
    if (st != ZETA_OK) {
        /* keep the sparse step's result (its logits and token are still in place); a cancel stays
         * pending for the next call */
        s->n_tokens++;
        if (st == ZETA_ERR_CANCELLED) atomic_store(&s->cancel, true);
        return zeta_ok(err);
    }
    s->stats.n_fallbacks++;
    s->n_pass_dense1++;
    return ZETA_OK;
}

/* ------------------------------------------------------------------ ULTIMATE */

/* the token sampler_sample picks from `logits` with the history the session holds before position end */
static zeta_token sample_at(zeta_session *s, const zeta_sampler_params *sp, const float *logits, size_t end) {
    const size_t hist = sampler_history_len(sp, end);
    return sampler_sample(sp, logits, (int32_t)s->model->hp.n_vocab, s->tokens + end - hist, hist, &s->rng, s->cands);
}

/* the distribution sample_at draws from, into probs (n_vocab floats) */
static void probs_at(zeta_session *s, const zeta_sampler_params *sp, const float *logits, size_t end, float *probs) {
    const size_t hist = sampler_history_len(sp, end);
    sampler_probs(sp, logits, (int32_t)s->model->hp.n_vocab, s->tokens + end - hist, hist, s->cands, probs);
}

zeta_status session_ultimate_step(zeta_session *s, const zeta_sampler_params *sp, zeta_token t, uint32_t k_max, zeta_token *out,
                                  size_t *n_out, zeta_token *next, zeta_error *err) {
    *n_out = 0;
    *next = -1;
    const size_t pos0 = s->n_tokens, nv = s->model->hp.n_vocab;
    const bool sampling = sp->temperature > 0.0f;
    zeta_token draft[17];
    if (k_max > s->max_draft) k_max = s->max_draft;
    draft[0] = t;
    uint32_t n_d = 0;
    zeta_status st = ZETA_OK;
    /* drafts: the sparse pass, token by token, until k_max, an end-of-generation token, or an
     * uncertain draft distribution. Sampling: draft i is drawn from its distribution q_i, kept for
     * the verification */
    while (n_d < k_max) {
        if ((st = session_eval_pass(s, &draft[n_d], 1, NULL, true, err)) != ZETA_OK) break;
        zeta_token d;
        if (sampling) {
            float *q = s->draft_probs + (size_t)n_d * nv;
            probs_at(s, sp, s->logits, s->n_tokens, q);
            d = sampler_draw_probs(q, (int32_t)nv, &s->rng);
        } else {
            d = sample_at(s, sp, s->logits, s->n_tokens);
        }
        draft[++n_d] = d;
        if (vocab_is_eog(s->model->vocab, d) || logits_entropy(s) > s->gate_entropy) break;
    }
    s->stats.n_drafted += n_d;
    /* drop the drafts' sparse KV entries; one dense pass over t and the drafts overwrites them */
    s->n_tokens = pos0;
    s->has_logits = false;
    session_truncated(s);
    if (st != ZETA_OK) return st; /* cancelled or failed: the session is at pos0 without logits (as after a rewind) */
    if ((st = session_eval_pass(s, draft, n_d + 1, s->verify_logits, false, err)) != ZETA_OK) return st;
    s->stats.n_verifies++;
    s->verify_pos0 = pos0;
    uint32_t acc = 0;
    if (!sampling) {
        /* greedy: accept the longest prefix of drafts the dense pass agrees with */
        while (acc < n_d && sample_at(s, sp, s->verify_logits + (size_t)acc * nv, pos0 + acc + 1) == draft[acc + 1]) acc++;
    } else {
        /* speculative sampling: draft d ~ q is kept with probability min(1, p(d) / q(d)) under the
         * dense distribution p at its position; the first one refused is replaced by a draw from
         * max(0, p - q) (normalized), which makes every emitted token distributed as p. When all
         * are kept, the next token comes from the dense logits as usual. */
        float *pd = s->draft_probs + (size_t)s->max_draft * nv; /* row max_draft: scratch for p */
        for (; acc < n_d; acc++) {
            const float *q = s->draft_probs + (size_t)acc * nv;
            probs_at(s, sp, s->verify_logits + (size_t)acc * nv, pos0 + acc + 1, pd);
            if (sampler_spec_keep(pd, q, (int32_t)nv, draft[acc + 1], &s->rng, next)) continue;
            if (*next < 0) { /* p <= q everywhere: only rounding; draw from p itself */
                probs_at(s, sp, s->verify_logits + (size_t)acc * nv, pos0 + acc + 1, pd);
                *next = sampler_draw_probs(pd, (int32_t)nv, &s->rng);
            }
            break;
        }
    }
    s->stats.n_accepted += acc;
    memcpy(out, draft, (acc + 1) * sizeof *out);
    *n_out = acc + 1;
    session_ultimate_keep(s, acc + 1);
    return ZETA_OK;
}

void session_ultimate_keep(zeta_session *s, size_t n_keep) {
    const size_t nv = s->model->hp.n_vocab;
    s->n_tokens = s->verify_pos0 + n_keep;
    session_truncated(s);
    memcpy(s->logits, s->verify_logits + (n_keep - 1) * nv, nv * sizeof(float));
    s->has_logits = true;
    s->entropy_ok = false;
}
