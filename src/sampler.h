/* sampler.h — turning logits into a token: repetition/frequency/presence penalties, top-k, top-p,
 * min-p, temperature, seeded RNG (xoshiro256**), and the entropy of a distribution. Pure functions
 * over caller-provided scratch; no allocation per token. */
#ifndef ZETA_SAMPLER_H
#define ZETA_SAMPLER_H

#include "zeta.h"

#include <stdbool.h>

typedef struct zeta_rng { uint64_t s[4]; } zeta_rng;
void rng_seed(zeta_rng *r, uint64_t seed);
uint64_t rng_next(zeta_rng *r);
double rng_uniform(zeta_rng *r); /* [0, 1) with 53 random bits */

typedef struct sampler_cand { zeta_token id; float logit; float p; } sampler_cand;

/* Checks ranges; ZETA_ERR_INVALID_ARGUMENT names the field, the value and the valid range. */
zeta_status sampler_check_params(const zeta_sampler_params *p, zeta_error *err);

/* Samples one token. logits: n_vocab values (not modified). history: the last tokens of the
 * context (penalties look at the last repeat_last_n of them). scratch: n_vocab candidates.
 * temperature <= 0: argmax (ties -> lowest id), penalties still applied. Order of the chain (as
 * llama.cpp's default): penalties, top-k, top-p, min-p, temperature, random draw. */
zeta_token sampler_sample(const zeta_sampler_params *p, const float *logits, int32_t n_vocab,
                          const zeta_token *history, size_t n_history, zeta_rng *rng, sampler_cand *scratch);

/* The distribution sampler_sample draws from (same chain, same weights), as probabilities over the
 * vocabulary: probs[n_vocab], zero outside the survivors of top-k / top-p / min-p; temperature <= 0:
 * one-hot at the argmax. Returns 0, or -1 for a NULL argument. (Speculative sampling, gate.c.) */
int sampler_probs(const zeta_sampler_params *p, const float *logits, int32_t n_vocab, const zeta_token *history,
                  size_t n_history, sampler_cand *scratch, float *probs);
/* A token drawn with probability w[i] / sum(w) (w >= 0, not necessarily normalized); -1 when all w
 * are 0 */
zeta_token sampler_draw_probs(const float *w, int32_t n, zeta_rng *rng);

/* Speculative sampling, one position: d was drawn from the draft distribution q; the target one is
 * p (both probabilities over n tokens, q[d] > 0). Keeps d with probability min(1, p[d] / q[d])
 * (returns true, *out = d); else overwrites p with max(0, p - q) and sets *out to a draw from it
 * (-1 when that is all zero, which only rounding can make happen), returning false. The emitted
 * token is then distributed as p. */
bool sampler_spec_keep(float *p, const float *q, int32_t n, zeta_token d, zeta_rng *rng, zeta_token *out);

/* how many of the n_tokens before the sampled position the penalties look at: the last
 * repeat_last_n (all when it is negative or larger) */
size_t sampler_history_len(const zeta_sampler_params *p, size_t n_tokens);

/* argmax with ties to the lowest id (NaN never wins, +inf counts as FLT_MAX); what sampler_sample
 * returns for temperature <= 0 without penalties, by the same code */
zeta_token sampler_argmax(const float *logits, int32_t n_vocab);
/* Shannon entropy (nats) of softmax(logits) */
double sampler_entropy(const float *logits, int32_t n_vocab);

#endif
