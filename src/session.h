/* session.h — the session object shared by zeta.c (step API) and generate.c (streaming loop):
 * backend instance with its KV cache, activation buffers, token history, logits, RNG. */
#ifndef ZETA_SESSION_H
#define ZETA_SESSION_H

#include "forward.h"
#include "sampler.h"
#include <stdatomic.h>
#include <stdint.h>

#define ZETA_SESSION_MAGIC 0x5A534553u /* "ZSES" */
#define ZETA_DEAD_MAGIC 0xDEADBEEFu

struct zeta_session {
    uint32_t magic;
    const struct zeta_model *model;
    zeta_backend_inst be;
    fwd_buffers buf;
    uint32_t n_ctx, n_batch;
    int n_threads;
    zeta_type type_k, type_v;
    uint32_t kv_rot;         /* bit 0: K rows stored rotated, bit 1: V rows (cpu_kv_rotation) */
    uint64_t kv_bytes;
    zeta_token *tokens;      /* history: n_ctx capacity */
    size_t n_tokens;
    float *logits;           /* n_vocab: after the last evaluated token */
    float *logits_tmp;       /* n_vocab: written by an eval, copied on success */
    bool has_logits;
    zeta_rng rng;
    sampler_cand *cands;     /* n_vocab */
    atomic_bool cancel;
    zeta_session_stats stats;
    zeta_rope_params rope;   /* the model's, with the session's frequency-scale override */
    /* decoding modes (gate.c, docs/GATING.md) */
    zeta_mode mode;
    zeta_session_params mode_params; /* the creation's mode settings (level, entropies, max_draft): zeta_session_set_mode */
    float gate_entropy, fallback_entropy;
    uint32_t max_draft;
    float *thr;              /* [n_layer][ZS_N_KIND]: the chosen level's thresholds (NULL in STANDARD) */
    fwd_opts sparse_opts;    /* the sparse pass's extras (sparse == NULL in STANDARD) */
    zs_sel sel;
    float entropy;           /* of `logits`, when entropy_ok (the backend's, or computed on demand by the gate) */
    bool entropy_ok;
    uint64_t n_pass_sparse, n_pass_dense1; /* single-token forward passes of each kind (tests) */
    float *verify_logits;    /* ULTIMATE: (max_draft + 1) x n_vocab, the last verification's rows */
    float *draft_probs;      /* ULTIMATE with sampling: the drafts' distributions, then the dense one (max_draft + 1) x n_vocab */
    size_t verify_pos0;      /* position of its first token */
    /* the first position whose KV entries a sparse pass wrote and no dense pass has rewritten
     * (SIZE_MAX: none). The exact modes (STANDARD, ULTIMATE) reuse a prefix only up to it. */
    size_t sparse_from;
};

bool session_ok(const struct zeta_session *s);
/* after the session dropped positions (n_tokens went down): sparse_from past the end is forgotten */
static inline void session_truncated(struct zeta_session *s) {
    if (s->sparse_from >= s->n_tokens) s->sparse_from = SIZE_MAX;
}
/* eval with optional all-logits output; all-or-nothing. Single-token evals follow the session's mode
 * (gate.c); session_eval_pass runs exactly one pass: dense, or sparse (n == 1). Both update the stats. */
zeta_status session_eval(struct zeta_session *s, const zeta_token *tokens, size_t n, float *all_logits, zeta_error *err);
zeta_status session_eval_pass(struct zeta_session *s, const zeta_token *tokens, size_t n, float *all_logits, bool sparse,
                              zeta_error *err);
/* one forward pass (zeta.c): no gating, no stats; opt NULL = dense */
zeta_status session_forward(struct zeta_session *s, const zeta_token *tokens, size_t n, float *all_logits, const fwd_opts *opt,
                            zeta_error *err);
/* sets up the session's mode from the params (zeta_session_new, zeta_session_set_mode: fn names the
 * caller in error messages) */
zeta_status session_mode_init(struct zeta_session *s, const zeta_session_params *p, const char *fn, zeta_error *err);
/* ZETA_MODE_ULTIMATE, one round: t (sampled from the dense logits) and up to k_max drafts of the
 * sparse pass after it are evaluated by one dense pass; out[0..*n_out) = t and the accepted drafts,
 * all in the session with dense KV entries, the logits those after the last. Greedy (temperature
 * 0): the accepted drafts are the prefix the dense argmax agrees with, and the next token is sampled
 * from the logits as usual (*next = -1). Sampling: speculative rejection sampling; when a draft is
 * refused, *next is the token drawn in its place (from max(0, p - q)), which the caller must take as
 * the next token instead of sampling; when all are kept, *next = -1. */
zeta_status session_ultimate_step(struct zeta_session *s, const zeta_sampler_params *sp, zeta_token t, uint32_t k_max,
                                  zeta_token *out, size_t *n_out, zeta_token *next, zeta_error *err);
/* after a round: keeps only out[0..n_keep) of it (n_keep >= 1), with the dense logits after the last */
void session_ultimate_keep(struct zeta_session *s, size_t n_keep);
/* zeta_session_shift without the argument checks */
void session_shift(struct zeta_session *s, size_t n_keep, size_t n_discard);

#endif
