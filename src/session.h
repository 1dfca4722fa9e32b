/* session.h — the session object shared by zeta.c (step API) and generate.c (streaming loop):
 * backend instance with its KV cache, activation buffers, token history, logits, RNG. */
#ifndef ZETA_SESSION_H
#define ZETA_SESSION_H

#include "forward.h"
#include "sampler.h"
#include <stdatomic.h>

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
};

bool session_ok(const struct zeta_session *s);
/* eval with optional all-logits output; all-or-nothing */
zeta_status session_eval(struct zeta_session *s, const zeta_token *tokens, size_t n, float *all_logits, zeta_error *err);
/* zeta_session_shift without the argument checks */
void session_shift(struct zeta_session *s, size_t n_keep, size_t n_discard);

#endif
