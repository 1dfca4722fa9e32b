/* sampler.c — turns one row of logits into a token: penalties, top-k, top-p, min-p, temperature
 * and a seeded random draw (xoshiro256** seeded through splitmix64), plus argmax and entropy.
 *
 * Semantics follow llama.cpp's sampler chain (penalties -> top-k -> top-p -> min-p -> temperature
 * -> dist), read from its source for the facts:
 *   repeat penalty  for each token that occurs in the penalty window: logit <= 0 is multiplied by
 *                   repeat_penalty, logit > 0 is divided by it; then
 *                   logit -= count * frequency_penalty + (count > 0) * presence_penalty.
 *   top-k           keep the k largest logits (k <= 0 or k >= n: no-op).
 *   top-p           softmax of the current logits (before temperature), sorted descending; keep
 *                   the shortest prefix whose cumulative probability is >= top_p (at least one).
 *   min-p           keep tokens whose probability is >= min_p * p_max, i.e. logit >= max + log(min_p).
 *   temperature     divide the logits of the survivors by it, then draw from their softmax.
 * temperature <= 0 is greedy: the argmax after penalties (truncation never removes the maximum),
 * ties to the lowest id, and the RNG is not advanced. Every other call draws exactly one number.
 *
 * Ordering is a total order (logit descending, then id ascending), so results do not depend on
 * the sort algorithm. Non-finite logits are sanitized when copied: NaN becomes -inf, +inf becomes
 * FLT_MAX. Probabilities are accumulated in double (llama.cpp uses float), which can only matter
 * when a cumulative sum lands within rounding of top_p.
 *
 * Cost for a 150k vocabulary: penalties are O(window); top-k is a bounded heap selection
 * (O(n log k), O(n) when most tokens lose to the heap's root) followed by sorting only the k
 * winners; with top-k disabled, top-p finds its cut with a histogram of probability mass over
 * logit buckets and sorts only the needed part of the one bucket the cut falls in; min-p is an
 * unsorted filter.
 * No allocation. */
#include "sampler.h"
#include "cpu/mathk.h"

#include <string.h>

#include "util.h"

#include <float.h>
#include <math.h>

/* ---------------------------------------------------------------------------------------------
 * RNG: xoshiro256** (Blackman & Vigna), state filled from the seed by splitmix64.
 */
static uint64_t splitmix64_next(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rng_seed(zeta_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64_next(&x);
    /* splitmix64 is a bijection of distinct counters, so the four words are never all zero */
}

uint64_t rng_next(zeta_rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl64(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

double rng_uniform(zeta_rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* ---------------------------------------------------------------------------------------------
 * Parameter checks.
 */
zeta_status sampler_check_params(const zeta_sampler_params *p, zeta_error *err) {
    if (!p) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "sampler params: pointer is NULL");
    if (!isfinite(p->temperature) || p->temperature < 0.0f)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                         "sampler params: temperature = %g; expected a finite value >= 0 (0 = greedy)",
                         (double)p->temperature);
    /* top_k: every value is valid (<= 0 disables, >= n_vocab keeps all) */
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                         "sampler params: top_p = %g; expected 0 < top_p <= 1 (1 disables)",
                         (double)p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                         "sampler params: min_p = %g; expected 0 <= min_p <= 1 (0 disables)",
                         (double)p->min_p);
    if (!isfinite(p->repeat_penalty) || !(p->repeat_penalty > 0.0f))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                         "sampler params: repeat_penalty = %g; expected a finite value > 0 (1 disables)",
                         (double)p->repeat_penalty);
    if (p->repeat_last_n < -1)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                         "sampler params: repeat_last_n = %d; expected >= -1 "
                         "(-1 = whole history, 0 disables)",
                         p->repeat_last_n);
    if (!isfinite(p->frequency_penalty))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                         "sampler params: frequency_penalty = %g; expected a finite value (0 disables)",
                         (double)p->frequency_penalty);
    if (!isfinite(p->presence_penalty))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                         "sampler params: presence_penalty = %g; expected a finite value (0 disables)",
                         (double)p->presence_penalty);
    return zeta_ok(err);
}

/* ---------------------------------------------------------------------------------------------
 * Candidate ordering and partial selection.
 */
static inline float sanitize(float x) {
    if (isnan(x)) return -INFINITY;
    if (x == INFINITY) return FLT_MAX;
    return x;
}

/* true if a ranks before b: larger logit first, lower id on ties */
static inline bool cand_before(const sampler_cand *a, const sampler_cand *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static inline void cand_swap(sampler_cand *a, sampler_cand *b) {
    sampler_cand t = *a;
    *a = *b;
    *b = t;
}

/* Heap over h[0..n) whose root is the candidate that ranks last. */
static void heap_sift_down(sampler_cand *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, worst = i;
        if (l < n && cand_before(&h[worst], &h[l])) worst = l;
        if (r < n && cand_before(&h[worst], &h[r])) worst = r;
        if (worst == i) return;
        cand_swap(&h[i], &h[worst]);
        i = worst;
    }
}

/* Moves the k best of c[0..n) into c[0..k), sorted best first (1 <= k <= n). The rest stay in
 * c[k..n) in unspecified order, all ranking after c[k-1]. */
static void select_top(sampler_cand *c, size_t n, size_t k) {
    for (size_t i = k / 2; i-- > 0;) heap_sift_down(c, k, i);
    for (size_t i = k; i < n; i++) {
        if (cand_before(&c[i], &c[0])) {
            cand_swap(&c[i], &c[0]);
            heap_sift_down(c, k, 0);
        }
    }
    for (size_t end = k; end-- > 1;) { /* heapsort: the worst goes to the back */
        cand_swap(&c[0], &c[end]);
        heap_sift_down(c, end, 0);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Stages.
 */

/* Applies repeat/frequency/presence penalties to scratch (which is still indexed by token id)
 * for the tokens of the last repeat_last_n history entries. Counting borrows the candidates' own
 * fields: while a token is being counted its p is 1 (a mark) and its id holds the count; both are
 * restored (p = 0, id = index) before returning. */
static void apply_penalties(const zeta_sampler_params *p, sampler_cand *c, int32_t n_vocab,
                            const zeta_token *history, size_t n_history) {
    if (p->repeat_last_n == 0 || !history || n_history == 0) return;
    if (p->repeat_penalty == 1.0f && p->frequency_penalty == 0.0f && p->presence_penalty == 0.0f) return;
    size_t window = n_history;
    if (p->repeat_last_n > 0 && (size_t)p->repeat_last_n < n_history) window = (size_t)p->repeat_last_n;
    const zeta_token *h = history + (n_history - window);

    for (size_t i = 0; i < window; i++) {
        zeta_token t = h[i];
        if (t < 0 || t >= n_vocab) continue;
        if (c[t].p == 0.0f) {
            c[t].p = 1.0f;
            c[t].id = 1;
        } else if (c[t].id < INT32_MAX) {
            c[t].id++;
        }
    }
    for (size_t i = 0; i < window; i++) {
        zeta_token t = h[i];
        if (t < 0 || t >= n_vocab || c[t].p == 0.0f) continue;
        float count = (float)c[t].id;
        float l = c[t].logit;
        l = l <= 0.0f ? l * p->repeat_penalty : l / p->repeat_penalty;
        l -= count * p->frequency_penalty + p->presence_penalty;
        c[t].logit = sanitize(l);
        c[t].p = 0.0f;
        c[t].id = t;
    }
}

/* Index of the best candidate in c[0..n) by the total order (first maximum in id order when c is
 * indexed by id). */
static size_t best_index(const sampler_cand *c, size_t n) {
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (cand_before(&c[i], &c[best])) best = i;
    return best;
}

/* Keeps the candidates with logit >= thr, in place (order not kept). Returns how many. */
static size_t filter_min_logit(sampler_cand *c, size_t n, float thr) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i].logit >= thr) c[m++] = c[i];
    return m;
}

/* top-p over c[0..n), already sorted best first: the shortest prefix with cumulative probability
 * >= top_p. Returns its length (n if rounding kept the sum below top_p, as llama.cpp does). */
static size_t top_p_sorted(const sampler_cand *c, size_t n, float max_l, float top_p) {
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += (double)expf(c[i].logit - max_l);
    const double target = (double)top_p * sum;
    double cum = 0.0;
    for (size_t i = 0; i < n; i++) {
        cum += (double)expf(c[i].logit - max_l);
        if (cum >= target) return i + 1;
    }
    return n;
}

/* Buckets of logit distance below the maximum for unsorted top-p: TOPP_BUCKETS buckets of equal
 * width over [0, TOPP_RANGE) and one catch-all for everything further down (a token more than 32
 * nats below the maximum has relative probability < 1.3e-14). bucket_of is monotone in the logit,
 * so "all buckets before B" is a prefix of the candidate order. */
#define TOPP_BUCKETS 512
#define TOPP_RANGE 32.0f

static inline int bucket_of(float logit, float max_l) {
    float d = max_l - logit;
    if (!(d < TOPP_RANGE)) return TOPP_BUCKETS; /* also -inf logits */
    int b = (int)(d * ((float)TOPP_BUCKETS / TOPP_RANGE));
    return b < TOPP_BUCKETS ? b : TOPP_BUCKETS - 1;
}

/* Moves the candidates of c[0..n) with pred bucket (b < bound, or b == bound) to the front. */
static size_t partition_buckets(sampler_cand *c, size_t n, float max_l, int bound, bool equal) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int b = bucket_of(c[i].logit, max_l);
        if (equal ? b == bound : b < bound) {
            if (i != m) cand_swap(&c[i], &c[m]);
            m++;
        }
    }
    return m;
}

/* top-p over unsorted c[0..n) without sorting the vocabulary: a histogram of probability mass by
 * logit bucket finds the bucket where the cumulative mass crosses top_p; only that bucket is
 * (partially) sorted. The kept set (moved to c[0..m), unsorted) is the same prefix of the
 * candidate order that top_p_sorted would keep. Returns m. */
static size_t top_p_unsorted(sampler_cand *c, size_t n, float max_l, float top_p) {
    double mass[TOPP_BUCKETS + 1] = {0};
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double w = (double)expf(c[i].logit - max_l);
        mass[bucket_of(c[i].logit, max_l)] += w;
        sum += w;
    }
    const double target = (double)top_p * sum;
    double cum = 0.0;
    int crossing = -1;
    for (int b = 0; b <= TOPP_BUCKETS; b++) {
        if (cum + mass[b] >= target) {
            crossing = b;
            break;
        }
        cum += mass[b];
    }
    if (crossing < 0) return n; /* rounding kept the sum below top_p: keep everything */
    size_t before = partition_buckets(c, n, max_l, crossing, false);
    size_t in_b = partition_buckets(c + before, n - before, max_l, crossing, true);
    if (in_b == 0) return before > 0 ? before : 1;
    /* sort the bucket progressively (64 best, then doubling) only as far as the cut needs */
    sampler_cand *b = c + before;
    size_t sorted_upto = 0;
    for (size_t j = 0; j < in_b; j++) {
        if (j == sorted_upto) {
            size_t chunk = sorted_upto < 64 ? 64 : sorted_upto;
            if (chunk > in_b - sorted_upto) chunk = in_b - sorted_upto;
            select_top(b + sorted_upto, in_b - sorted_upto, chunk);
            sorted_upto += chunk;
        }
        cum += (double)expf(b[j].logit - max_l);
        if (cum >= target) return before + j + 1;
    }
    return before + in_b;
}

/* Draws from softmax(c[0..n).logit / temperature). */
static zeta_token draw(sampler_cand *c, size_t n, float max_l, float temperature, zeta_rng *rng) {
    /* in double: 1 / temperature stays finite for every positive float, and 0 * it stays 0 */
    const double inv_t = 1.0 / (double)temperature;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        float x = (float)((double)(c[i].logit - max_l) * inv_t); /* <= 0; -inf when far below */
        c[i].p = expf(x); /* in [0, 1]; 1 at the maximum */
        sum += (double)c[i].p;
    }
    const double target = rng_uniform(rng) * sum;
    double run = 0.0;
    size_t last_nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].p <= 0.0f) continue;
        run += (double)c[i].p;
        last_nonzero = i;
        if (run > target) return c[i].id;
    }
    return c[last_nonzero].id;
}

/* the largest logit not NaN (SSE2's maxps returns its second operand when either is NaN; exact, so
 * any order gives the same) */
#if defined(__SSE2__)
#include <emmintrin.h>
static inline float ent_max(const float *x, int32_t n) {
    __m128 m0 = _mm_set1_ps(-INFINITY), m1 = m0;
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        m0 = _mm_max_ps(_mm_loadu_ps(x + i), m0);
        m1 = _mm_max_ps(_mm_loadu_ps(x + i + 4), m1);
    }
    float m[8];
    _mm_storeu_ps(m, m0);
    _mm_storeu_ps(m + 4, m1);
    float r = -INFINITY;
    for (int j = 0; j < 8; j++) r = m[j] > r ? m[j] : r;
    for (; i < n; i++) r = x[i] > r ? x[i] : r;
    return r;
}
#else
static inline float ent_max(const float *x, int32_t n) {
    float r = -INFINITY;
    for (int32_t i = 0; i < n; i++) r = x[i] > r ? x[i] : r;
    return r;
}
#endif

/* The argmax of the sanitized logits with ties to the lowest id, what best_index finds over fresh
 * candidates (NaN never wins, +inf counts as FLT_MAX, all -inf/NaN gives 0), without building
 * them: a vector maximum, then the first index holding it (~2.3 us for 32000 logits against ~55 us
 * through the candidates on the Zen 4 VM). */
static zeta_token greedy_first(const float *x, int32_t n) {
    float m = ent_max(x, n);
    if (m == -INFINITY) return 0;
    if (m == INFINITY) m = FLT_MAX; /* the first +inf or FLT_MAX */
    int32_t i = 0;
#if defined(__SSE2__)
    const __m128 vm = _mm_set1_ps(m);
    for (; i + 8 <= n; i += 8) {
        const int k = _mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(x + i), vm)) |
                      _mm_movemask_ps(_mm_cmpge_ps(_mm_loadu_ps(x + i + 4), vm)) << 4;
        if (k) return i + __builtin_ctz((unsigned)k);
    }
#endif
    for (; i < n; i++)
        if (x[i] >= m) return i;
    return 0; /* not reached: some element holds m */
}

/* The chain up to the draw: c[0..n_vocab) = the candidates with penalties applied; returns the
 * number of survivors of top-k / top-p / min-p at the front of c (0: greedy, the best at c[*top]) and
 * their maximum logit. */
static size_t sampler_chain(const zeta_sampler_params *p, const float *logits, int32_t n_vocab, const zeta_token *history,
                            size_t n_history, bool random, sampler_cand *c, size_t *top, float *max_out) {
    for (int32_t i = 0; i < n_vocab; i++) {
        c[i].id = i;
        c[i].logit = sanitize(logits[i]);
        c[i].p = 0.0f;
    }
    apply_penalties(p, c, n_vocab, history, n_history);

    size_t n = (size_t)n_vocab;
    *top = best_index(c, n);
    const float max_l = c[*top].logit;
    *max_out = max_l;
    if (!(p->temperature > 0.0f) || max_l == -INFINITY || !random) return 0;

    bool sorted = false;
    if (p->top_k > 0 && (size_t)p->top_k < n) {
        select_top(c, n, (size_t)p->top_k);
        n = (size_t)p->top_k;
        sorted = true;
    }

    if (p->top_p < 1.0f && n > 1)
        n = sorted ? top_p_sorted(c, n, max_l, p->top_p) : top_p_unsorted(c, n, max_l, p->top_p);
    /* min-p after top-p: both keep a prefix of the same order that contains the maximum, so
     * filtering the survivors gives the shorter of the two prefixes */
    if (p->min_p > 0.0f && n > 1) {
        const float thr = max_l + logf(p->min_p);
        if (sorted) {
            size_t m = 1; /* the maximum always passes */
            while (m < n && c[m].logit >= thr) m++;
            n = m;
        } else {
            n = filter_min_logit(c, n, thr);
        }
    }
    return n;
}

zeta_token sampler_sample(const zeta_sampler_params *p, const float *logits, int32_t n_vocab,
                          const zeta_token *history, size_t n_history, zeta_rng *rng, sampler_cand *scratch) {
    if (!p || !logits || n_vocab <= 0 || !scratch) return -1;
    const bool penalties = p->repeat_last_n != 0 && history && n_history > 0 &&
                           (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f);
    if ((!(p->temperature > 0.0f) || !rng) && !penalties) return greedy_first(logits, n_vocab);
    size_t top;
    float max_l;
    const size_t n = sampler_chain(p, logits, n_vocab, history, n_history, rng != NULL, scratch, &top, &max_l);
    if (n == 0) return scratch[top].id;
    return draw(scratch, n, max_l, p->temperature, rng);
}

int sampler_probs(const zeta_sampler_params *p, const float *logits, int32_t n_vocab, const zeta_token *history,
                  size_t n_history, sampler_cand *scratch, float *probs) {
    if (!p || !logits || n_vocab <= 0 || !scratch || !probs) return -1;
    size_t top;
    float max_l;
    const size_t n = sampler_chain(p, logits, n_vocab, history, n_history, true, scratch, &top, &max_l);
    memset(probs, 0, sizeof(float) * (size_t)n_vocab);
    if (n == 0) {
        probs[scratch[top].id] = 1.0f;
        return 0;
    }
    /* draw()'s weights, normalized */
    const double inv_t = 1.0 / (double)p->temperature;
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        scratch[i].p = expf((float)((double)(scratch[i].logit - max_l) * inv_t));
        sum += (double)scratch[i].p;
    }
    for (size_t i = 0; i < n; i++) probs[scratch[i].id] = (float)((double)scratch[i].p / sum);
    return 0;
}

bool sampler_spec_keep(float *p, const float *q, int32_t n, zeta_token d, zeta_rng *rng, zeta_token *out) {
    *out = d;
    if (rng_uniform(rng) * (double)q[d] < (double)p[d]) return true;
    float *r = p;
    bool any = false;
    for (int32_t i = 0; i < n; i++) {
        const float pi = p[i];
        r[i] = pi > q[i] ? pi - q[i] : 0.0f;
        any = any || r[i] > 0.0f;
    }
    *out = any ? sampler_draw_probs(r, n, rng) : -1;
    return false;
}

zeta_token sampler_draw_probs(const float *w, int32_t n, zeta_rng *rng) {
    double sum = 0.0;
    int32_t last = -1;
    for (int32_t i = 0; i < n; i++)
        if (w[i] > 0.0f) sum += (double)w[i], last = i;
    if (last < 0) return -1;
    const double target = rng_uniform(rng) * sum;
    double run = 0.0;
    for (int32_t i = 0; i <= last; i++) {
        if (!(w[i] > 0.0f)) continue;
        run += (double)w[i];
        if (run > target) return i;
    }
    return last;
}

zeta_token sampler_argmax(const float *logits, int32_t n_vocab) {
    if (!logits || n_vocab <= 0) return -1;
    return greedy_first(logits, n_vocab);
}

size_t sampler_history_len(const zeta_sampler_params *p, size_t n_tokens) {
    return p->repeat_last_n >= 0 && (size_t)p->repeat_last_n < n_tokens ? (size_t)p->repeat_last_n : n_tokens;
}

double sampler_entropy(const float *logits, int32_t n_vocab) {
    if (!logits || n_vocab <= 0) return 0.0;
    /* the largest sanitized logit (NaN never counts; +inf counts as FLT_MAX) */
    float max_l = ent_max(logits, n_vocab);
    if (max_l == -INFINITY) return 0.0;
    if (max_l == INFINITY) max_l = FLT_MAX;
    /* H = log S - (1/S) * sum e_i * d_i with d_i = l_i - max <= 0 and e_i = exp(d_i). The gate
     * computes this for every generated token (a GPU step takes 0.7-2 ms; libm's double exp over
     * 32000 logits took ~140-200 us on the Zen 4 VM, the AVX2 terms ~22 us): float terms in eight
     * lanes (element i of a chunk of 256 in lane i % 8, mathk.h's entropy8), each chunk's lanes added
     * in double, in a fixed order */
    const zk_entropy8_fn terms = zk_math_select()->entropy8; /* scalar, AVX2 or NEON: the same bits */
    double s = 0.0, sd = 0.0;
    for (int32_t c0 = 0; c0 < n_vocab; c0 += 256) {
        const int32_t c1 = n_vocab - c0 < 256 ? n_vocab : c0 + 256, n8 = (c1 - c0) / 8;
        float ls[8] = {0}, lsd[8] = {0};
        terms(logits + c0, n8, max_l, ls, lsd);
        const int32_t i = c0 + 8 * n8;
        if (i < c1) { /* the last few, the missing ones as -inf (which add nothing) */
            float l8[8];
            for (int j = 0; j < 8; j++) l8[j] = i + j < c1 ? logits[i + j] : -INFINITY;
            terms(l8, 1, max_l, ls, lsd);
        }
        for (int j = 0; j < 8; j++) {
            s += ls[j];
            sd += lsd[j];
        }
    }
    double h = log(s) - sd / s;
    return h > 0.0 ? h : 0.0;
}
