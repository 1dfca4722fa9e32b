/* test_sampler.c — tests of src/sampler.c: RNG determinism, greedy ties, top-k/top-p/min-p kept
 * sets, penalties against hand-computed logits, the sampled distribution against softmax
 * (chi-square), parameter validation and entropy. Every random test uses a fixed seed. */
#include "sampler.h"
#include "test.h"

#include <float.h>
#include <math.h>

#define MAXV 200000

static sampler_cand g_scratch[MAXV];
static float g_logits[MAXV];

static zeta_sampler_params params_plain(float temperature) {
    zeta_sampler_params p;
    memset(&p, 0, sizeof p);
    p.temperature = temperature;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    p.repeat_last_n = 64;
    p.frequency_penalty = 0.0f;
    p.presence_penalty = 0.0f;
    return p;
}

/* Draws n_draws tokens and counts them; returns false if a token is out of range. */
static int count_draws(const zeta_sampler_params *p, const float *logits, int32_t n_vocab,
                       const zeta_token *hist, size_t n_hist, uint64_t seed, int n_draws, int *counts) {
    zeta_rng rng;
    rng_seed(&rng, seed);
    memset(counts, 0, sizeof(int) * (size_t)n_vocab);
    for (int i = 0; i < n_draws; i++) {
        zeta_token t = sampler_sample(p, logits, n_vocab, hist, n_hist, &rng, g_scratch);
        if (t < 0 || t >= n_vocab) return 0;
        counts[t]++;
    }
    return 1;
}

/* Pearson chi-square of counts against softmax(logits / temperature). */
static double chi_square(const int *counts, const float *logits, int n, double temperature, int n_draws) {
    double mx = -INFINITY, s = 0.0, chi = 0.0;
    for (int i = 0; i < n; i++) if (logits[i] > mx) mx = logits[i];
    for (int i = 0; i < n; i++) s += exp((logits[i] - mx) / temperature);
    for (int i = 0; i < n; i++) {
        double e = n_draws * exp((logits[i] - mx) / temperature) / s;
        double d = counts[i] - e;
        chi += d * d / e;
    }
    return chi;
}

static void test_rng_deterministic_and_uniform(void) {
    zeta_rng a, b, c;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    rng_seed(&c, 43);
    int same_ab = 1, same_ac = 1;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = rng_next(&a), y = rng_next(&b), z = rng_next(&c);
        if (x != y) same_ab = 0;
        if (x != z) same_ac = 0;
    }
    T_CHECK(same_ab);
    T_CHECK(!same_ac);
    zeta_rng r;
    rng_seed(&r, 0); /* seed 0 must work too (splitmix64 never yields an all-zero state) */
    double sum = 0.0;
    int in_range = 1;
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        double u = rng_uniform(&r);
        if (!(u >= 0.0 && u < 1.0)) in_range = 0;
        sum += u;
    }
    T_CHECK(in_range);
    double mean = sum / n; /* sd of the mean = sqrt(1/12/n) ~ 0.0009 */
    T_CHECKF(fabs(mean - 0.5) < 0.005, "mean %f", mean);
}

static void test_greedy_ties_lowest(void) {
    const float l[] = {1.0f, 3.0f, 3.0f, 2.0f, -1.0f};
    T_CHECK(sampler_argmax(l, 5) == 1);
    zeta_sampler_params p = params_plain(0.0f);
    zeta_rng rng;
    rng_seed(&rng, 1);
    zeta_rng before = rng;
    T_CHECK(sampler_sample(&p, l, 5, NULL, 0, &rng, g_scratch) == 1);
    T_CHECK(memcmp(&before, &rng, sizeof rng) == 0); /* greedy does not consume randomness */
    const float all_same[] = {0.5f, 0.5f, 0.5f};
    T_CHECK(sampler_argmax(all_same, 3) == 0);
    T_CHECK(sampler_sample(&p, all_same, 3, NULL, 0, &rng, g_scratch) == 0);
    /* NaN never wins; +inf wins; all -inf gives the lowest id */
    const float odd[] = {NAN, 1.0f, INFINITY, 2.0f};
    T_CHECK(sampler_argmax(odd, 4) == 2);
    T_CHECK(sampler_sample(&p, odd, 4, NULL, 0, &rng, g_scratch) == 2);
    const float ninf[] = {-INFINITY, -INFINITY};
    T_CHECK(sampler_argmax(ninf, 2) == 0);
    zeta_sampler_params q = params_plain(1.0f);
    T_CHECK(sampler_sample(&q, ninf, 2, NULL, 0, &rng, g_scratch) == 0);
    T_CHECK(sampler_argmax(l, 0) == -1);
    /* a tiny positive temperature is (numerically) greedy, not NaN */
    zeta_sampler_params tiny = params_plain(1e-40f);
    const float no_tie[4] = {1.0f, 3.0f, 2.9999998f, -1.0f};
    for (int i = 0; i < 20; i++) T_CHECK(sampler_sample(&tiny, no_tie, 4, NULL, 0, &rng, g_scratch) == 1);
    const float close[3] = {0.0f, 1e-3f, -1e30f};
    tiny.temperature = 1e-30f;
    T_CHECK(sampler_sample(&tiny, close, 3, NULL, 0, &rng, g_scratch) == 1);
}

static void fill_random_logits(float *l, int n, uint64_t seed, float scale) {
    zeta_rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) l[i] = (float)((rng_uniform(&r) * 2.0 - 1.0) * scale);
}

/* llama.cpp-like defaults, spelled out (zeta_sampler_params_default lives in zeta.c). */
static zeta_sampler_params params_typical(void) {
    zeta_sampler_params p = params_plain(0.8f);
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.repeat_penalty = 1.1f;
    return p;
}

static void test_same_seed_same_sequence(void) {
    const int nv = 1000, len = 200;
    fill_random_logits(g_logits, nv, 7, 3.0f);
    const zeta_token hist[] = {1, 2, 3, 2};
    zeta_sampler_params ps[2] = {params_typical(), params_plain(1.0f)};
    for (int k = 0; k < 2; k++) {
        zeta_token a[200], b[200], c[200];
        zeta_rng ra, rb, rc;
        rng_seed(&ra, 1234);
        rng_seed(&rb, 1234);
        rng_seed(&rc, 1235);
        for (int i = 0; i < len; i++) {
            a[i] = sampler_sample(&ps[k], g_logits, nv, hist, 4, &ra, g_scratch);
            b[i] = sampler_sample(&ps[k], g_logits, nv, hist, 4, &rb, g_scratch);
            c[i] = sampler_sample(&ps[k], g_logits, nv, hist, 4, &rc, g_scratch);
        }
        T_CHECKF(memcmp(a, b, sizeof a) == 0, "params %d", k);
        T_CHECKF(memcmp(a, c, sizeof a) != 0, "params %d", k);
    }
}

static void test_top_k_1_is_greedy(void) {
    const int nv = 5000;
    zeta_sampler_params p = params_plain(1.5f);
    p.top_k = 1;
    zeta_rng rng;
    rng_seed(&rng, 99);
    for (uint64_t s = 0; s < 50; s++) {
        fill_random_logits(g_logits, nv, 100 + s, 2.0f);
        if (s % 5 == 0) { g_logits[17] = 10.0f; g_logits[3000] = 10.0f; } /* a tie: lowest id wins */
        zeta_token want = sampler_argmax(g_logits, nv);
        zeta_token got = sampler_sample(&p, g_logits, nv, NULL, 0, &rng, g_scratch);
        T_CHECKF(got == want, "seed %d: got %d want %d", (int)s, got, want);
    }
}

static void test_distribution_matches_softmax(void) {
    /* 7 degrees of freedom: chi-square > 30 has probability ~1e-4 for a correct sampler */
    const float l[8] = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, -1.0f, 0.25f, 1.5f};
    const int draws = 20000;
    int counts[8];
    const float temps[] = {1.0f, 0.5f, 2.0f};
    for (int k = 0; k < 3; k++) {
        zeta_sampler_params p = params_plain(temps[k]);
        T_CHECK(count_draws(&p, l, 8, NULL, 0, 2024 + (uint64_t)k, draws, counts));
        double chi = chi_square(counts, l, 8, temps[k], draws);
        T_CHECKF(chi < 30.0, "temperature %g: chi-square %f", (double)temps[k], chi);
    }
    /* top_k larger than the vocabulary and top_p = 1, min_p = 0 change nothing */
    zeta_sampler_params p = params_plain(1.0f);
    p.top_k = 100;
    T_CHECK(count_draws(&p, l, 8, NULL, 0, 77, draws, counts));
    double chi = chi_square(counts, l, 8, 1.0, draws);
    T_CHECKF(chi < 30.0, "chi-square %f", chi);
}

/* Logits log(probs) so hand computation is in probabilities. A very high temperature makes the
 * survivors nearly uniform so every kept token shows up among the draws. */
static void kept_set(const zeta_sampler_params *p, const float *l, int n, uint64_t seed, int *kept) {
    int counts[64];
    T_CHECK(count_draws(p, l, n, NULL, 0, seed, 4000, counts));
    for (int i = 0; i < n; i++) kept[i] = counts[i] > 0;
}

static void test_top_p_kept_sets(void) {
    /* ids in shuffled order; probabilities: id2 .5, id0 .3, id3 .15, id1 .05 */
    const float l[4] = {logf(0.3f), logf(0.05f), logf(0.5f), logf(0.15f)};
    struct { float top_p; int want[4]; } cases[] = {
        {0.4f, {0, 0, 1, 0}},   /* .5 >= .4 */
        {0.7f, {1, 0, 1, 0}},   /* .5 < .7, .8 >= .7 */
        {0.85f, {1, 0, 1, 1}},  /* .8 < .85, .95 >= .85 */
        {0.97f, {1, 1, 1, 1}},
        {1.0f, {1, 1, 1, 1}},
        {0.01f, {0, 0, 1, 0}},  /* at least one */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        zeta_sampler_params p = params_plain(1000.0f);
        p.top_p = cases[c].top_p;
        int kept[4];
        kept_set(&p, l, 4, 5 + c, kept);
        T_CHECKF(memcmp(kept, cases[c].want, sizeof kept) == 0, "top_p %g: kept %d%d%d%d",
                 (double)cases[c].top_p, kept[0], kept[1], kept[2], kept[3]);
        p.top_k = 3; /* the same through the sorted (post top-k) path, renormalised over 3 */
        kept_set(&p, l, 4, 50 + c, kept);
        int want3[4];
        memcpy(want3, cases[c].want, sizeof want3);
        want3[1] = 0; /* .05 is cut by top-k; over {.5,.3,.15}/.95 the sets stay the same here */
        T_CHECKF(memcmp(kept, want3, sizeof kept) == 0, "top_k 3, top_p %g: kept %d%d%d%d",
                 (double)cases[c].top_p, kept[0], kept[1], kept[2], kept[3]);
    }
}

static void test_top_p_large_vocab_ties(void) {
    /* 3000 equal logits: top-p 0.4999 keeps exactly 1500 (ties go to the lowest ids) */
    const int nv = 3000;
    for (int i = 0; i < nv; i++) g_logits[i] = 0.0f;
    zeta_sampler_params p = params_plain(1.0f);
    p.top_p = 0.4999f;
    zeta_rng rng;
    rng_seed(&rng, 11);
    int max_id = -1, bad = 0;
    for (int i = 0; i < 1000; i++) {
        zeta_token t = sampler_sample(&p, g_logits, nv, NULL, 0, &rng, g_scratch);
        if (t < 0 || t >= 1500) bad++;
        if (t > max_id) max_id = t;
    }
    T_CHECKF(bad == 0, "%d draws outside ids 0..1499", bad);
    T_CHECKF(max_id >= 1400, "max id %d", max_id); /* P(fail) ~ (14/15)^1000 */
}

/* The cut falls among 2000 equal logits (one histogram bucket): kept = the 10 top tokens and the
 * 20 lowest ids of the tied ones, both through the unsorted (top_k 0) and sorted (top_k) paths. */
static void test_top_p_cut_inside_tied_bucket(void) {
    const int nv = 4000;
    int want[4000];
    double s = 0.0;
    int top_ids[10];
    for (int i = 0; i < 10; i++) top_ids[i] = 37 + 397 * i;
    for (int i = 0; i < nv; i++) g_logits[i] = (i % 2 == 0) ? 0.0f : -3.0f; /* 2000 ties at 0 */
    for (int i = 0; i < 10; i++) g_logits[top_ids[i]] = 5.0f; /* odd ids */
    for (int i = 0; i < nv; i++) s += exp((double)g_logits[i]);
    memset(want, 0, sizeof want);
    for (int i = 0; i < 10; i++) want[top_ids[i]] = 1;
    for (int i = 0; i < 20; i++) want[2 * i] = 1;
    const float top_p = (float)((10.0 * exp(5.0) + 19.5) / s);
    for (int path = 0; path < 2; path++) {
        zeta_sampler_params p = params_plain(1e4f);
        p.top_p = top_p;
        p.top_k = path ? nv - 1 : 0;
        static int counts[4000];
        T_CHECK(count_draws(&p, g_logits, nv, NULL, 0, 900 + (uint64_t)path, 1000, counts));
        int wrong = 0;
        for (int i = 0; i < nv; i++) if ((counts[i] > 0) != want[i]) wrong++;
        T_CHECKF(wrong == 0, "path %d: %d tokens kept/dropped wrongly", path, wrong);
    }
}

static void test_min_p_kept_sets(void) {
    const float l[4] = {logf(0.3f), logf(0.05f), logf(0.5f), logf(0.15f)};
    struct { float min_p; int want[4]; } cases[] = {
        {0.25f, {1, 0, 1, 1}}, /* threshold .125 */
        {0.5f, {1, 0, 1, 0}},  /* threshold .25 */
        {0.7f, {0, 0, 1, 0}},  /* threshold .35 */
        {1.0f, {0, 0, 1, 0}},
        {0.05f, {1, 1, 1, 1}}, /* threshold .025 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int sorted = 0; sorted < 2; sorted++) {
            zeta_sampler_params p = params_plain(1000.0f);
            p.min_p = cases[c].min_p;
            p.top_k = sorted ? 3 : 0; /* 3: the sorted path; id1 (.05) is cut by top-k anyway */
            int kept[4], want[4];
            memcpy(want, cases[c].want, sizeof want);
            if (sorted) want[1] = 0;
            kept_set(&p, l, 4, 300 + c * 2 + (uint64_t)sorted, kept);
            T_CHECKF(memcmp(kept, want, sizeof kept) == 0, "min_p %g sorted %d: kept %d%d%d%d",
                     (double)cases[c].min_p, sorted, kept[0], kept[1], kept[2], kept[3]);
        }
    }
    /* min-p with top-p: the result is the smaller of the two prefixes */
    zeta_sampler_params p = params_plain(1000.0f);
    p.min_p = 0.25f; /* keeps ids 2, 0, 3 */
    p.top_p = 0.7f;  /* keeps ids 2, 0 */
    int kept[4];
    kept_set(&p, l, 4, 400, kept);
    T_CHECK(kept[0] && !kept[1] && kept[2] && !kept[3]);
    p.min_p = 0.5f;  /* keeps ids 2, 0 */
    p.top_p = 0.97f; /* keeps all */
    kept_set(&p, l, 4, 401, kept);
    T_CHECK(kept[0] && !kept[1] && kept[2] && !kept[3]);
}

static void test_penalties_hand_computed(void) {
    zeta_sampler_params p = params_plain(0.0f);
    zeta_rng rng;
    rng_seed(&rng, 3);
    /* repeat: positive logit divided: 3 / 2 = 1.5 < 2 */
    const float a[2] = {3.0f, 2.0f};
    const zeta_token h0[] = {0};
    p.repeat_penalty = 2.0f;
    T_CHECK(sampler_sample(&p, a, 2, h0, 1, &rng, g_scratch) == 1);
    p.repeat_penalty = 1.4f; /* 3 / 1.4 = 2.14 > 2 */
    T_CHECK(sampler_sample(&p, a, 2, h0, 1, &rng, g_scratch) == 0);
    /* negative logit multiplied: -1 * 2 = -2 < -1.5; -1 * 1.4 = -1.4 > -1.5 */
    const float b[2] = {-1.0f, -1.5f};
    p.repeat_penalty = 2.0f;
    T_CHECK(sampler_sample(&p, b, 2, h0, 1, &rng, g_scratch) == 1);
    p.repeat_penalty = 1.4f;
    T_CHECK(sampler_sample(&p, b, 2, h0, 1, &rng, g_scratch) == 0);
    /* repeat penalty applies once, regardless of the count */
    const zeta_token h000[] = {0, 0, 0};
    T_CHECK(sampler_sample(&p, a, 2, h000, 3, &rng, g_scratch) == 0);
    /* frequency: 3 - 3 * 0.3 = 2.1 > 2; 3 - 3 * 0.4 = 1.8 < 2 */
    p.repeat_penalty = 1.0f;
    p.frequency_penalty = 0.3f;
    T_CHECK(sampler_sample(&p, a, 2, h000, 3, &rng, g_scratch) == 0);
    p.frequency_penalty = 0.4f;
    T_CHECK(sampler_sample(&p, a, 2, h000, 3, &rng, g_scratch) == 1);
    /* presence: once, whatever the count: 3 - 0.9 = 2.1; 3 - 1.1 = 1.9 */
    p.frequency_penalty = 0.0f;
    p.presence_penalty = 0.9f;
    T_CHECK(sampler_sample(&p, a, 2, h000, 3, &rng, g_scratch) == 0);
    p.presence_penalty = 1.1f;
    T_CHECK(sampler_sample(&p, a, 2, h000, 3, &rng, g_scratch) == 1);
    /* window: history {0, 1, 1}; last 2 = {1, 1} does not include 0 */
    const zeta_token h011[] = {0, 1, 1};
    p.presence_penalty = 0.0f;
    p.repeat_penalty = 2.0f;
    p.repeat_last_n = 2;
    T_CHECK(sampler_sample(&p, a, 2, h011, 3, &rng, g_scratch) == 0); /* 3 vs 2 / 2 */
    p.repeat_last_n = 3;
    T_CHECK(sampler_sample(&p, a, 2, h011, 3, &rng, g_scratch) == 0); /* 1.5 vs 1 */
    const float a2[3] = {3.0f, 1.6f, -5.0f};
    T_CHECK(sampler_sample(&p, a2, 2, h0, 1, &rng, g_scratch) == 1); /* 1.5 vs 1.6 */
    p.repeat_last_n = 0; /* disabled */
    T_CHECK(sampler_sample(&p, a2, 2, h0, 1, &rng, g_scratch) == 0);
    p.repeat_last_n = -1; /* whole history, longer than 64 */
    zeta_token longh[100];
    for (int i = 0; i < 100; i++) longh[i] = 2;
    longh[0] = 0;
    T_CHECK(sampler_sample(&p, a2, 3, longh, 100, &rng, g_scratch) == 1);
    p.repeat_last_n = 99;
    T_CHECK(sampler_sample(&p, a2, 3, longh, 100, &rng, g_scratch) == 0);
    /* out-of-range history tokens are ignored */
    const zeta_token hbad[] = {-5, 2, 1000000, 0};
    p.repeat_last_n = -1;
    T_CHECK(sampler_sample(&p, a2, 2, hbad, 4, &rng, g_scratch) == 1);
}

static void test_penalties_distribution(void) {
    /* token 0 (count 2): 1 / 1.5 - 2 * 0.2 - 0.1 = 0.16667
     * token 2 (count 1): -0.5 * 1.5 - 0.2 - 0.1 = -1.05 */
    const float l[4] = {1.0f, 0.5f, -0.5f, 0.0f};
    const float want[4] = {1.0f / 1.5f - 0.4f - 0.1f, 0.5f, -0.75f - 0.3f, 0.0f};
    const zeta_token h[] = {0, 2, 0};
    zeta_sampler_params p = params_plain(1.0f);
    p.repeat_penalty = 1.5f;
    p.frequency_penalty = 0.2f;
    p.presence_penalty = 0.1f;
    int counts[4];
    const int draws = 20000;
    T_CHECK(count_draws(&p, l, 4, h, 3, 555, draws, counts));
    double chi = chi_square(counts, want, 4, 1.0, draws);
    T_CHECKF(chi < 25.0, "chi-square %f (3 dof)", chi);
    double chi_unpenalized = chi_square(counts, l, 4, 1.0, draws);
    T_CHECKF(chi_unpenalized > 100.0, "penalties had no visible effect: %f", chi_unpenalized);
}

static void test_large_vocab_typical(void) {
    /* 150k vocabulary with the usual chain: results land in the true top-40 */
    const int nv = 150000;
    fill_random_logits(g_logits, nv, 8, 8.0f);
    zeta_sampler_params p = params_typical();
    p.min_p = 0.0f;
    p.top_p = 1.0f;
    zeta_rng rng;
    rng_seed(&rng, 4);
    /* the 40th largest logit by counting */
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        zeta_token t = sampler_sample(&p, g_logits, nv, NULL, 0, &rng, g_scratch);
        if (t < 0 || t >= nv) { bad++; continue; }
        int above = 0;
        for (int j = 0; j < nv; j++) if (g_logits[j] > g_logits[t]) above++;
        if (above >= 40) bad++;
    }
    T_CHECKF(bad == 0, "%d samples outside the top 40", bad);
    /* no truncation except min-p (unsorted filter path), 150k: stays above the threshold */
    p = params_plain(1.0f);
    p.min_p = 0.5f;
    float mx = g_logits[sampler_argmax(g_logits, nv)];
    bad = 0;
    for (int i = 0; i < 200; i++) {
        zeta_token t = sampler_sample(&p, g_logits, nv, NULL, 0, &rng, g_scratch);
        if (t < 0 || t >= nv || g_logits[t] < mx + logf(0.5f)) bad++;
    }
    T_CHECKF(bad == 0, "%d samples below the min-p threshold", bad);
}

static void test_invalid_params(void) {
    struct { const char *field; zeta_sampler_params p; } cases[16];
    size_t n = 0;
    zeta_sampler_params base = params_typical();
#define BAD(f, v) do { cases[n].field = #f; cases[n].p = base; cases[n].p.f = (v); n++; } while (0)
    BAD(temperature, -0.5f);
    BAD(temperature, NAN);
    BAD(temperature, INFINITY);
    BAD(top_p, 0.0f);
    BAD(top_p, 1.5f);
    BAD(top_p, NAN);
    BAD(min_p, -0.1f);
    BAD(min_p, 1.01f);
    BAD(repeat_penalty, 0.0f);
    BAD(repeat_penalty, -1.0f);
    BAD(repeat_penalty, INFINITY);
    BAD(repeat_last_n, -2);
    BAD(frequency_penalty, NAN);
    BAD(presence_penalty, -INFINITY);
#undef BAD
    for (size_t i = 0; i < n; i++) {
        zeta_error err;
        memset(&err, 0, sizeof err);
        zeta_status st = sampler_check_params(&cases[i].p, &err);
        T_CHECKF(st == ZETA_ERR_INVALID_ARGUMENT, "case %zu (%s): status %d", i, cases[i].field, (int)st);
        T_CHECKF(err.status == ZETA_ERR_INVALID_ARGUMENT, "case %zu", i);
        T_CHECKF(strstr(err.message, cases[i].field) != NULL, "case %zu: message '%s'", i, err.message);
    }
    zeta_error err;
    T_CHECK(sampler_check_params(&base, &err) == ZETA_OK);
    T_CHECK(err.status == ZETA_OK && err.message[0] == 0);
    zeta_sampler_params edge = params_plain(0.0f); /* boundaries that are valid */
    edge.top_k = -3;
    edge.top_p = 1.0f;
    edge.min_p = 1.0f;
    edge.repeat_last_n = -1;
    edge.frequency_penalty = -2.0f;
    edge.presence_penalty = -2.0f;
    T_CHECK(sampler_check_params(&edge, NULL) == ZETA_OK);
    T_CHECK(sampler_check_params(NULL, NULL) == ZETA_ERR_INVALID_ARGUMENT);
    edge.repeat_last_n = -2;
    T_CHECK(sampler_check_params(&edge, NULL) == ZETA_ERR_INVALID_ARGUMENT); /* err may be NULL */
}

static void test_entropy(void) {
    float u[1000];
    for (int i = 0; i < 1000; i++) u[i] = 3.0f;
    T_CHECK(fabs(sampler_entropy(u, 1000) - log(1000.0)) < 1e-9);
    const float onehot[3] = {-INFINITY, 5.0f, -INFINITY};
    T_CHECK(sampler_entropy(onehot, 3) == 0.0);
    const float huge[2] = {1e30f, 1e30f}; /* no overflow */
    T_CHECK(fabs(sampler_entropy(huge, 2) - log(2.0)) < 1e-9);
    /* probabilities .5 .25 .25: H = 1.5 ln 2 */
    const float q[3] = {logf(0.5f), logf(0.25f), logf(0.25f)};
    T_CHECKF(fabs(sampler_entropy(q, 3) - 1.5 * log(2.0)) < 1e-6, "%f", sampler_entropy(q, 3));
    const float withnan[3] = {NAN, 0.0f, 0.0f};
    T_CHECK(fabs(sampler_entropy(withnan, 3) - log(2.0)) < 1e-9);
    const float allninf[2] = {-INFINITY, -INFINITY};
    T_CHECK(sampler_entropy(allninf, 2) == 0.0);
    const float withinf[3] = {INFINITY, INFINITY, 0.0f}; /* +inf counts as FLT_MAX: two equal, one far below */
    T_CHECK(fabs(sampler_entropy(withinf, 3) - log(2.0)) < 1e-9);
    /* against the double-precision formula (libm exp) on vocabulary-sized vectors of every length
     * mod 8 and 256, spreads from nearly uniform to peaked, with NaN / -inf entries */
    static float v[32007];
    uint64_t rng = 12345;
    double worst = 0.0;
    const int32_t ns[6] = {5, 255, 257, 1000, 32000, 32007};
    const float spread[4] = {0.5f, 4.0f, 20.0f, 200.0f};
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 4; b++) {
            const int32_t n = ns[a];
            float mx = -INFINITY;
            for (int32_t i = 0; i < n; i++) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                const uint32_t r = (uint32_t)(rng >> 33);
                v[i] = r % 97 == 0 ? NAN : r % 89 == 0 ? -INFINITY : spread[b] * ((float)(r & 0xffffff) / 16777216.0f - 0.5f);
                if (v[i] > mx) mx = v[i];
            }
            double S = 0.0, SD = 0.0;
            for (int32_t i = 0; i < n; i++) {
                if (isnan(v[i]) || v[i] == -INFINITY) continue;
                const double d = (double)v[i] - (double)mx, e = exp(d);
                S += e;
                SD += e * d;
            }
            const double want = log(S) - SD / S, got = sampler_entropy(v, n);
            const double err = fabs(got - want) / (want > 1.0 ? want : 1.0);
            if (err > worst) worst = err;
        }
    T_CHECKF(worst < 2e-6, "entropy: relative error %g against the double formula", worst);
}

/* speculative sampling: d drawn from q, kept or replaced by sampler_spec_keep: the emitted token
 * must be distributed as p (200k draws, several p/q pairs including q = 0 where p > 0 and p = 0
 * where q > 0); the bound 0.006 on the total variation is ~4 standard deviations of the sampling
 * noise, while keeping every draft (TV 0.45 .. 0.8 for these pairs) or redrawing a refused one from
 * p instead of max(0, p - q) (TV 0.11 .. 0.16) lands far outside it (both checked by breaking
 * sampler_spec_keep on purpose: 0.60 and 0.12 for pair 0). */
static void test_spec_keep_distribution(void) {
    const float P[3][4] = {{0.5f, 0.3f, 0.2f, 0.0f}, {0.25f, 0.25f, 0.25f, 0.25f}, {0.05f, 0.05f, 0.1f, 0.8f}};
    const float Q[3][4] = {{0.1f, 0.1f, 0.4f, 0.4f}, {0.7f, 0.1f, 0.1f, 0.1f}, {0.6f, 0.3f, 0.1f, 0.0f}};
    zeta_rng rng;
    rng_seed(&rng, 12345);
    for (int c = 0; c < 3; c++) {
        const int N = 200000;
        int hist[4] = {0, 0, 0, 0}, kept = 0;
        for (int i = 0; i < N; i++) {
            float p[4];
            memcpy(p, P[c], sizeof p);
            const zeta_token d = sampler_draw_probs(Q[c], 4, &rng);
            zeta_token out;
            kept += sampler_spec_keep(p, Q[c], 4, d, &rng, &out);
            T_CHECK(out >= 0 && out < 4);
            if (out >= 0 && out < 4) hist[out]++;
        }
        double tv = 0, acc = 0;
        for (int k = 0; k < 4; k++) {
            tv += fabs((double)hist[k] / N - P[c][k]) / 2;
            acc += fmin(P[c][k], Q[c][k]);
        }
        printf("    p/q pair %d: total variation from p %.4f, kept %.3f (expected %.3f)\n", c, tv, (double)kept / N, acc);
        T_CHECKF(tv < 0.006, "pair %d: the emitted tokens are %.4f from p", c, tv);
        T_CHECKF(fabs((double)kept / N - acc) < 0.006, "pair %d: kept %.4f, expected sum min(p, q) = %.4f", c, (double)kept / N, acc);
        T_CHECK(P[c][3] > 0 || hist[3] == 0); /* a token p excludes never comes out */
    }
}

/* the greedy fast path (no penalties: a vector maximum, then the first index holding it) against a
 * plain scan with the candidates' rules (NaN never wins, +inf counts as FLT_MAX, ties to the lowest id,
 * all -inf / NaN gives 0), over lengths that cover the vector loop's tails and values built to tie */
static zeta_token ref_greedy(const float *x, int32_t n) {
    int32_t best = 0;
    float bl = isnan(x[0]) ? -INFINITY : x[0] == INFINITY ? FLT_MAX : x[0];
    for (int32_t i = 1; i < n; i++) {
        const float l = isnan(x[i]) ? -INFINITY : x[i] == INFINITY ? FLT_MAX : x[i];
        if (l > bl) bl = l, best = i;
    }
    return best;
}

static void test_greedy_fast_path(void) {
    static float x[4099];
    const float special[] = {NAN, INFINITY, -INFINITY, FLT_MAX, 0.0f, -0.0f, 7.0f};
    zeta_sampler_params p = params_plain(0.0f);
    zeta_sampler_params pen = p; /* a penalty on: the candidates' path, which must agree */
    pen.repeat_penalty = 1.0f + 1e-6f;
    pen.repeat_last_n = 64;
    const zeta_token far_hist[1] = {4098}; /* a token the cases below never pick (small weight) */
    zeta_rng rng;
    rng_seed(&rng, 7);
    int bad = 0, n_cases = 0;
    const int32_t lens[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 257, 4099};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int32_t n = lens[li];
        for (int rep = 0; rep < 40; rep++) {
            for (int32_t i = 0; i < n; i++) x[i] = (float)(int)(rng_next(&rng) % 9) - 4.0f; /* many ties */
            const int n_sp = (int)(rng_next(&rng) % 4);
            for (int k = 0; k < n_sp; k++)
                x[rng_next(&rng) % (uint64_t)n] = special[rng_next(&rng) % (sizeof special / sizeof special[0])];
            if (rep == 0) for (int32_t i = 0; i < n; i++) x[i] = NAN;
            if (rep == 1) for (int32_t i = 0; i < n; i++) x[i] = -INFINITY;
            const zeta_token want = ref_greedy(x, n);
            const zeta_token a = sampler_argmax(x, n);
            const zeta_token b = sampler_sample(&p, x, n, NULL, 0, &rng, g_scratch);
            if (n == 4099) x[4098] = -5.0f; /* the penalized token is not a maximum */
            const zeta_token want2 = ref_greedy(x, n);
            const zeta_token c = sampler_sample(&pen, x, n, n == 4099 ? far_hist : NULL, n == 4099 ? 1 : 0, &rng, g_scratch);
            n_cases++;
            if (a != want || b != want || c != want2) {
                if (bad++ < 3) T_CHECKF(0, "n %d rep %d: argmax %d, greedy %d, with penalty %d; expected %d / %d", n, rep, a, b, c, want, want2);
            }
        }
    }
    T_CHECKF(bad == 0, "%d of %d cases differ", bad, n_cases);
}

int main(void) {
    (void)t_read_file;
    T_RUN(test_rng_deterministic_and_uniform);
    T_RUN(test_greedy_ties_lowest);
    T_RUN(test_greedy_fast_path);
    T_RUN(test_same_seed_same_sequence);
    T_RUN(test_top_k_1_is_greedy);
    T_RUN(test_distribution_matches_softmax);
    T_RUN(test_top_p_kept_sets);
    T_RUN(test_top_p_large_vocab_ties);
    T_RUN(test_top_p_cut_inside_tied_bucket);
    T_RUN(test_min_p_kept_sets);
    T_RUN(test_penalties_hand_computed);
    T_RUN(test_penalties_distribution);
    T_RUN(test_large_vocab_typical);
    T_RUN(test_invalid_params);
    T_RUN(test_entropy);
    T_RUN(test_spec_keep_distribution);
    return t_done();
}
