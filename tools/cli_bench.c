/* cli_bench.c — `zeta bench` (our llama-bench: prompt-processing and generation speed, decode
 * latency percentiles, time to first token, load time, peak memory, effective GB/s; Markdown, JSON
 * or CSV) and `zeta synth` (synthetic models of real shapes for benchmarks). Uses only zeta.h. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double *sorted, size_t n, double q) {
    if (!n) return 0.0;
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    double f = pos - (double)i;
    return i + 1 < n ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

static void mean_sd(const double *x, size_t n, double *mean, double *sd) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    *mean = n ? s / (double)n : 0;
    for (size_t i = 0; i < n; i++) s2 += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(s2 / (double)(n - 1)) : 0;
}

typedef struct bench_result {
    const char *path;
    zeta_model_info mi;
    uint64_t bytes_per_token;   /* weight bytes one decode step reads */
    int threads;
    double load_ms;
    double pp_mean, pp_sd, tg_mean, tg_sd;   /* tokens/s */
    double p50, p95, p99;                    /* decode latency, ms */
    double ttft_ms;                          /* median prompt eval + first sample */
    long peak_rss_kb;
    int n_pp, n_tg, reps, depth;
    zeta_type type_k, type_v;                /* KV cache types */
    zeta_mode mode;                          /* decoding mode (--mode) */
    double sparse_ratio, fallback_rate;      /* of the tg steps (variational / sparse) */
    double acceptance, mean_accepted;        /* ultimate: accepted / drafted, accepted per verification */
} bench_result;

static uint64_t decode_bytes(const zeta_model *m, const zeta_model_info *mi) {
    uint64_t embd = 0;
    for (uint32_t i = 0; i < mi->n_tensors; i++) {
        zeta_tensor_info ti;
        zeta_error err;
        if (zeta_model_tensor(m, i, &ti, &err) == ZETA_OK && !strcmp(ti.name, "token_embd.weight")) embd = ti.n_bytes;
    }
    /* token_embd is only gathered (one row per token) unless it is also the output matrix */
    return mi->tied_embeddings ? mi->weight_bytes : mi->weight_bytes - embd;
}

/* per depth: its session and the measurements of its repetitions */
typedef struct depth_run {
    zeta_session *s;
    double *pp, *tg, *lat, *ttft;
    size_t n_lat;
} depth_run;

/* ULTIMATE's tg: its drafts come from the model's own predictions, so the steps are a greedy
 * generation (zeta_generate) after one random token, not evaluations of random tokens; after an
 * end-of-generation token another random token starts it again. Counts n_tg tokens: the random
 * ones evaluated and the generated ones. Latencies (when lat) are the gaps between the tokens'
 * text as a streaming client sees it: near 0 inside an accepted run of drafts. */
typedef struct tg_clock {
    depth_run *d;
    double last;
} tg_clock;

static bool tg_on_text(void *user, const char *text, size_t len) {
    tg_clock *c = user;
    const double t = now_ms();
    if (c->d) c->d->lat[c->d->n_lat++] = t - c->last;
    c->last = t;
    return true;
}

static zeta_status ultimate_tg(zeta_session *s, const zeta_token *toks, int n_tg, depth_run *lat, zeta_error *err) {
    tg_clock c = {lat, now_ms()};
    zeta_generate_params gp = zeta_generate_params_default();
    gp.sampler.temperature = 0;
    gp.add_bos = false;
    gp.on_text = tg_on_text;
    gp.user = &c;
    for (int done = 0, i = 0; done < n_tg;) {
        zeta_status st = zeta_session_eval(s, &toks[i++], 1, err);
        if (st != ZETA_OK) return st;
        tg_on_text(&c, NULL, 0);
        if (++done == n_tg) break;
        gp.max_tokens = (uint32_t)(n_tg - done);
        zeta_generate_result res;
        if ((st = zeta_generate(s, "", &gp, &res, err)) != ZETA_OK) return st;
        done += (int)res.n_generated;
        if (res.finish != ZETA_FINISH_EOS) break;
    }
    return ZETA_OK;
}

/* One model at nd depths: a session per depth, each filled once with its depth's tokens; then the
 * repetitions visit the depths in turn (rep 0 at every depth, rep 1 at every depth, ...), so a
 * slow spell of a shared machine falls on all depths alike and their ratios stay fair. */
static int run_one(const char *path, zeta_backend backend, int n_pp, int n_tg, int reps, const int *depths, int nd,
                   zeta_session_params sp, const gate_opts *g, bench_result *r) {
    double t0 = now_ms();
    zeta_model *m = load_model_gate(path, backend, g);
    if (!m) return 1;
    const double load_ms = now_ms() - t0;
    gate_session_params(g, &sp);
    zeta_error err;
    int max_depth = 0;
    for (int k = 0; k < nd; k++) max_depth = depths[k] > max_depth ? depths[k] : max_depth;
    const uint32_t nv = zeta_n_vocab(m);
    const size_t n_toks = (size_t)(n_pp > n_tg ? n_pp : n_tg) + 1;
    zeta_token *toks = malloc((n_toks > (size_t)max_depth ? n_toks : (size_t)max_depth) * sizeof *toks);
    depth_run *dr = calloc((size_t)nd, sizeof *dr);
    int rc = 0;
    if (!toks || !dr) { rc = die("out of memory"); goto out; }
    for (int k = 0; k < nd; k++) {
        bench_result *x = &r[k];
        memset(x, 0, sizeof *x);
        x->path = path;
        x->n_pp = n_pp;
        x->n_tg = n_tg;
        x->reps = reps;
        x->depth = depths[k];
        x->type_k = sp.kv_type;
        x->type_v = sp.kv_type_v == ZETA_TYPE_COUNT ? sp.kv_type : sp.kv_type_v;
        x->load_ms = load_ms;
        x->mode = g->mode;
        zeta_model_describe(m, &x->mi, &err);
        x->bytes_per_token = decode_bytes(m, &x->mi);
        zeta_session_params spk = sp;
        spk.n_ctx = (uint32_t)depths[k] + (uint32_t)(n_pp > n_tg ? n_pp : n_tg) + 16;
        /* the prompt in one batch up to llama-bench's default n_batch (2048), in batches of that beyond */
        spk.n_batch = n_pp > 0 ? (uint32_t)(n_pp < 2048 ? n_pp : 2048) : 512;
        if (zeta_session_new(m, &spk, &dr[k].s, &err) != ZETA_OK) { rc = die_err(&err); goto out; }
        x->threads = spk.n_threads ? spk.n_threads : zeta_cpu_cores();
        dr[k].pp = calloc((size_t)reps, sizeof(double));
        dr[k].tg = calloc((size_t)reps, sizeof(double));
        dr[k].lat = calloc((size_t)reps * (size_t)(n_tg > 0 ? n_tg : 1), sizeof(double));
        dr[k].ttft = calloc((size_t)reps, sizeof(double));
        if (!dr[k].pp || !dr[k].tg || !dr[k].lat || !dr[k].ttft) { rc = die("out of memory"); goto out; }
    }
    uint64_t rng = 12345;
    zeta_sampler_params greedy = zeta_sampler_params_default();
    greedy.temperature = 0;
    for (int i = 0; i < max_depth; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        toks[i] = (zeta_token)((rng >> 33) % nv);
    }
    for (int k = 0; k < nd; k++) /* the context every measurement at this depth starts from (llama-bench -d): evaluated once, kept */
        if (depths[k] > 0 && zeta_session_eval(dr[k].s, toks, (size_t)depths[k], &err) != ZETA_OK) { rc = die_err(&err); goto out; }
    for (int rep = -1; rep < reps; rep++) { /* rep -1: warm-up, not counted */
        for (int i = 0; i < (n_pp > n_tg ? n_pp : n_tg); i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            toks[i] = (zeta_token)((rng >> 33) % nv);
        }
        for (int k = 0; k < nd; k++) {
            zeta_session *s = dr[k].s;
            const size_t depth = (size_t)depths[k];
            if (n_pp > 0) {
                if (zeta_session_rewind(s, depth, &err) != ZETA_OK) { rc = die_err(&err); goto out; }
                double a = now_ms();
                if (zeta_session_eval(s, toks, (size_t)n_pp, &err) != ZETA_OK) { rc = die_err(&err); goto out; }
                zeta_token first;
                zeta_session_sample(s, &greedy, &first, &err);
                double b = now_ms();
                if (rep >= 0) { dr[k].pp[rep] = n_pp * 1000.0 / (b - a); dr[k].ttft[rep] = b - a; }
            }
            if (n_tg > 0) {
                if (zeta_session_rewind(s, depth, &err) != ZETA_OK) { rc = die_err(&err); goto out; }
                double a = now_ms();
                if (g->mode == ZETA_MODE_ULTIMATE) {
                    if (ultimate_tg(s, toks, n_tg, rep >= 0 ? &dr[k] : NULL, &err) != ZETA_OK) { rc = die_err(&err); goto out; }
                } else
                    for (int i = 0; i < n_tg; i++) {
                        double ta = now_ms();
                        if (zeta_session_eval(s, &toks[i], 1, &err) != ZETA_OK) { rc = die_err(&err); goto out; }
                        if (rep >= 0) dr[k].lat[dr[k].n_lat++] = now_ms() - ta;
                    }
                if (rep >= 0) dr[k].tg[rep] = n_tg * 1000.0 / (now_ms() - a);
            }
        }
        fprintf(stderr, ".");
    }
    fprintf(stderr, "\n");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    for (int k = 0; k < nd; k++) {
        bench_result *x = &r[k];
        mean_sd(dr[k].pp, (size_t)reps, &x->pp_mean, &x->pp_sd);
        mean_sd(dr[k].tg, (size_t)reps, &x->tg_mean, &x->tg_sd);
        qsort(dr[k].lat, dr[k].n_lat, sizeof(double), cmp_double);
        x->p50 = percentile(dr[k].lat, dr[k].n_lat, 0.50);
        x->p95 = percentile(dr[k].lat, dr[k].n_lat, 0.95);
        x->p99 = percentile(dr[k].lat, dr[k].n_lat, 0.99);
        qsort(dr[k].ttft, (size_t)reps, sizeof(double), cmp_double);
        x->ttft_ms = percentile(dr[k].ttft, (size_t)reps, 0.5);
        if (g->mode != ZETA_MODE_STANDARD) {
            zeta_session_stats gs;
            zeta_session_get_stats(dr[k].s, &gs);
            x->sparse_ratio = gs.n_steps ? (double)gs.n_sparse_steps / (double)gs.n_steps : 0.0;
            x->fallback_rate = gs.n_steps ? (double)gs.n_fallbacks / (double)gs.n_steps : 0.0;
            x->acceptance = gs.n_drafted ? (double)gs.n_accepted / (double)gs.n_drafted : 0.0;
            x->mean_accepted = gs.n_verifies ? (double)gs.n_accepted / (double)gs.n_verifies : 0.0;
            gate_print_stats(stderr, dr[k].s, g->mode);
        }
        x->peak_rss_kb = ru.ru_maxrss; /* the process: every depth's session and the model */
    }
out:
    if (dr)
        for (int k = 0; k < nd; k++) {
            free(dr[k].pp);
            free(dr[k].tg);
            free(dr[k].lat);
            free(dr[k].ttft);
            zeta_session_free(dr[k].s);
        }
    free(dr);
    free(toks);
    zeta_model_free(m);
    return rc;
}

static const char *base_name(const char *p) {
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

static void print_md(const bench_result *r, size_t n) {
    printf("| model | type | size MiB | params M | threads | test | t/s | GB/s |\n");
    printf("|---|---|---:|---:|---:|---|---:|---:|\n");
    for (size_t i = 0; i < n; i++) {
        const bench_result *x = &r[i];
        double mib = (double)x->mi.weight_bytes / 1048576.0, pm = (double)x->mi.n_params / 1e6;
        char at[48] = "";
        if (x->depth > 0) snprintf(at, sizeof at, " @ d%d", x->depth);
        if (x->n_pp > 0)
            printf("| %s | %s | %.1f | %.1f | %d | pp%d%s | %.2f ± %.2f | |\n", base_name(x->path), zeta_type_name(x->mi.main_type),
                   mib, pm, x->threads, x->n_pp, at, x->pp_mean, x->pp_sd);
        if (x->n_tg > 0)
            printf("| %s | %s | %.1f | %.1f | %d | tg%d%s | %.2f ± %.2f | %.2f |\n", base_name(x->path), zeta_type_name(x->mi.main_type),
                   mib, pm, x->threads, x->n_tg, at, x->tg_mean, x->tg_sd, (double)x->bytes_per_token * x->tg_mean / 1e9);
    }
    printf("\n| model | load ms | TTFT ms (pp%d) | decode p50 ms | p95 ms | p99 ms | peak RSS MiB |\n", r[0].n_pp);
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < n; i++) {
        char at[48] = "";
        if (r[i].depth > 0) snprintf(at, sizeof at, " @ d%d", r[i].depth);
        printf("| %s%s | %.1f | %.1f | %.2f | %.2f | %.2f | %.1f |\n", base_name(r[i].path), at, r[i].load_ms, r[i].ttft_ms, r[i].p50,
               r[i].p95, r[i].p99, (double)r[i].peak_rss_kb / 1024.0);
    }
    printf("\nkernels: %s; KV cache K/V %s/%s; reps: %d (+1 warm-up); GB/s = weight bytes read per decoded token x tg t/s\n",
           zeta_cpu_kernels(), zeta_type_name(r[0].type_k), zeta_type_name(r[0].type_v), r[0].reps);
    if (r[0].mode == ZETA_MODE_ULTIMATE)
        printf("mode: ultimate (tg: greedy generation after a random token; drafts accepted %.3f, %.2f per verification; decode "
               "percentiles are the gaps between streamed tokens; GB/s counts the dense bytes)\n",
               r[0].acceptance, r[0].mean_accepted);
    else if (r[0].mode != ZETA_MODE_STANDARD)
        printf("mode: %s (tg steps: sparse_ratio %.3f, fallback_rate %.3f; GB/s counts the dense bytes)\n", zeta_mode_name(r[0].mode),
               r[0].sparse_ratio, r[0].fallback_rate);
}

static void print_json(const bench_result *r, size_t n) {
    printf("[\n");
    for (size_t i = 0; i < n; i++) {
        const bench_result *x = &r[i];
        printf("  {\"model\": \"%s\", \"type\": \"%s\", \"weight_bytes\": %llu, \"n_params\": %llu, \"threads\": %d, \"kernels\": \"%s\", "
               "\"n_prompt\": %d, \"n_gen\": %d, \"reps\": %d, \"pp_tps\": %.4f, \"pp_tps_sd\": %.4f, \"tg_tps\": %.4f, \"tg_tps_sd\": %.4f, "
               "\"decode_ms_p50\": %.4f, \"decode_ms_p95\": %.4f, \"decode_ms_p99\": %.4f, \"ttft_ms\": %.3f, \"load_ms\": %.3f, "
               "\"peak_rss_kb\": %ld, \"bytes_per_token\": %llu, \"gbps\": %.4f, \"depth\": %d, \"kv_type_k\": \"%s\", \"kv_type_v\": \"%s\", "
               "\"mode\": \"%s\", \"sparse_ratio\": %.4f, \"fallback_rate\": %.4f, \"acceptance\": %.4f, \"mean_accepted\": %.4f}%s\n",
               base_name(x->path), zeta_type_name(x->mi.main_type), (unsigned long long)x->mi.weight_bytes,
               (unsigned long long)x->mi.n_params, x->threads, zeta_cpu_kernels(), x->n_pp, x->n_tg, x->reps, x->pp_mean, x->pp_sd,
               x->tg_mean, x->tg_sd, x->p50, x->p95, x->p99, x->ttft_ms, x->load_ms, x->peak_rss_kb,
               (unsigned long long)x->bytes_per_token, (double)x->bytes_per_token * x->tg_mean / 1e9, x->depth,
               zeta_type_name(x->type_k), zeta_type_name(x->type_v), zeta_mode_name(x->mode), x->sparse_ratio, x->fallback_rate,
               x->acceptance, x->mean_accepted, i + 1 < n ? "," : "");
    }
    printf("]\n");
}

static void print_csv(const bench_result *r, size_t n) {
    printf("model,type,weight_bytes,n_params,threads,n_prompt,n_gen,reps,pp_tps,pp_tps_sd,tg_tps,tg_tps_sd,decode_ms_p50,decode_ms_p95,"
           "decode_ms_p99,ttft_ms,load_ms,peak_rss_kb,gbps,depth,kv_type_k,kv_type_v\n");
    for (size_t i = 0; i < n; i++) {
        const bench_result *x = &r[i];
        printf("%s,%s,%llu,%llu,%d,%d,%d,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.3f,%.3f,%ld,%.4f,%d,%s,%s\n", base_name(x->path),
               zeta_type_name(x->mi.main_type), (unsigned long long)x->mi.weight_bytes, (unsigned long long)x->mi.n_params,
               x->threads, x->n_pp, x->n_tg, x->reps, x->pp_mean, x->pp_sd, x->tg_mean, x->tg_sd, x->p50, x->p95, x->p99,
               x->ttft_ms, x->load_ms, x->peak_rss_kb, (double)x->bytes_per_token * x->tg_mean / 1e9, x->depth,
               zeta_type_name(x->type_k), zeta_type_name(x->type_v));
    }
}

/* "-d 256,16384": up to 16 depths, each 0..2^20 */
static bool parse_depths(const char *v, int *depths, int *nd) {
    int n = 0;
    const char *p = v;
    for (;;) {
        char *end;
        errno = 0;
        const long d = strtol(p, &end, 10);
        if (end == p || errno || d < 0 || d > (1L << 20) || (*end && *end != ',')) {
            fprintf(stderr, "zeta: -d takes depths 0..%ld separated by commas, got '%s'\n", 1L << 20, v);
            return false;
        }
        if (n == 16) {
            fprintf(stderr, "zeta: -d takes at most 16 depths\n");
            return false;
        }
        depths[n++] = (int)d;
        if (!*end) break;
        p = end + 1;
    }
    *nd = n;
    return true;
}

int cmd_bench(int argc, char **argv) {
    const char *models[32];
    int n_models = 0;
    long n_pp = 512, n_tg = 128, reps = 5;
    int depths[16] = {0}, nd = 1;
    const char *fmt = "md";
    zeta_session_params sp = zeta_session_params_default();
    zeta_backend backend = ZETA_BACKEND_AUTO;
    gate_opts g;
    gate_opts_init(&g);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long l;
        int go;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            puts("usage: zeta bench -m MODEL [-m MODEL ...] [-p 512] [-n 128] [-t N] [-r 5] [-o md|json|csv] [-d DEPTH[,DEPTH...]] [-ctk T] [-ctv T] [--kv-rotate on|off] [--rope-scale N] [--backend auto|cpu|cuda]\n"
                 "Prompt processing (pp: -p random tokens, in batches of up to 2048 as llama-bench) and generation (tg: -n single-token steps)\n"
                 "speeds as mean ± sd over -r repetitions after one warm-up, decode latency percentiles, time to first\n"
                 "token, load time, peak resident memory and effective GB/s (weight bytes per decoded token x t/s).\n"
                 "-d DEPTH[,DEPTH...]: every measurement starts after DEPTH tokens already in the KV cache (llama-bench -d);\n"
                 "with several depths, one session per depth, filled once, and the repetitions alternate between them.\n"
                 "--mode variational|sparse --sparsity FILE [--level X] [--gate H] [--fallback H]: the tg steps in that\n"
                 "decoding mode (random tokens: the gate sees random-text entropies; sparse = every step sparse); the\n"
                 "mode's counters go to stderr. --mode ultimate [--draft K]: tg is a greedy generation (zeta_generate, drafts\n"
                 "verified by the dense pass) after one random token, -n tokens in all; its decode percentiles are the gaps\n"
                 "between streamed tokens, and the drafts' acceptance is reported.");
            return 0;
        } else if (!(v = arg_value(argc, argv, &i))) return 2;
        else if ((go = gate_option(&g, a, v)) != 0) { if (go < 0) return 2; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { if (n_models == 32) return die("bench: at most 32 models"); models[n_models++] = v; }
        else if (!strcmp(a, "-p")) { if (!arg_int(a, v, 0, 1 << 16, &n_pp)) return 2; }
        else if (!strcmp(a, "-n")) { if (!arg_int(a, v, 0, 1 << 16, &n_tg)) return 2; }
        else if (!strcmp(a, "-r")) { if (!arg_int(a, v, 1, 1000, &reps)) return 2; }
        else if (!strcmp(a, "--backend")) { if (!arg_backend(a, v, &backend)) return 2; }
        else if (!strcmp(a, "-d") || !strcmp(a, "--depth")) { if (!parse_depths(v, depths, &nd)) return 2; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { if (!arg_int(a, v, 1, 512, &l)) return 2; sp.n_threads = (int)l; }
        else if (!strcmp(a, "-o")) { if (strcmp(v, "md") && strcmp(v, "json") && strcmp(v, "csv")) return die("bench: -o takes md, json or csv"); fmt = v; }
        else if (!strcmp(a, "--cache-type-k") || !strcmp(a, "-ctk")) { if (!arg_kv_type(a, v, &sp.kv_type)) return 2; }
        else if (!strcmp(a, "--cache-type-v") || !strcmp(a, "-ctv")) { if (!arg_kv_type(a, v, &sp.kv_type_v)) return 2; }
        else if (!strcmp(a, "--kv-rotate")) { if (!arg_kv_rotate(a, v, &sp.kv_no_rotate)) return 2; }
        else if (!strcmp(a, "--rope-freq-scale") || !strcmp(a, "--rope-scale")) { if (!arg_rope_scale(a, v, &sp.rope_freq_scale)) return 2; }
        else if (!strcmp(a, "--rope-scaling")) { if (!arg_rope_scaling(a, v, &sp.rope_scaling)) return 2; }
        else if (!strcmp(a, "--yarn-orig-ctx")) { if (!arg_int(a, v, 1, 1 << 24, &l)) return 2; sp.yarn_orig_ctx = (uint32_t)l; }
        else return die("bench: unknown option '%s'", a);
    }
    if (!n_models) return die("bench: need -m MODEL");
    if (n_pp == 0 && n_tg == 0) return die("bench: -p and -n are both 0");
    bench_result *res = calloc((size_t)n_models * (size_t)nd, sizeof *res);
    if (!res) return die("out of memory");
    for (int i = 0; i < n_models; i++)
        if (run_one(models[i], backend, (int)n_pp, (int)n_tg, (int)reps, depths, nd, sp, &g, &res[(size_t)i * nd])) {
            free(res);
            return 1;
        }
    const size_t nr = (size_t)n_models * (size_t)nd;
    if (!strcmp(fmt, "json")) print_json(res, nr);
    else if (!strcmp(fmt, "csv")) print_csv(res, nr);
    else print_md(res, nr);
    free(res);
    return 0;
}

/* ------------------------------------------------------------------ synth */

/* a percentage on a terminal, rewritten in place when it changes; nothing when stderr is a file */
static bool synth_progress(void *user, float f) {
    int *last = user;
    int pct = (int)(f * 100.0f);
    if (!isatty(2) || pct == *last) return true;
    *last = pct;
    fprintf(stderr, "\rzeta synth: %3d%%", pct);
    if (pct >= 100) fputc('\n', stderr);
    return true;
}

int cmd_synth(int argc, char **argv) {
    zeta_synth_params p = zeta_synth_params_default();
    const char *out = NULL, *type = "q4_0";
    long seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: zeta synth --shape NAME [--type q4_0] [--vocab FILE] [--seed N] -o OUT.gguf\n"
                   "Writes a model with random weights at a real model's shape, loadable by llama.cpp too.\n"
                   "shapes: %s\n"
                   "--vocab: tokenizer source (default tests/data/vocab/ggml-vocab-llama-spm.gguf for 32000-token\n"
                   "shapes, else ggml-vocab-gpt-2.gguf, padded with unused control tokens).\n", zeta_synth_shapes());
            return 0;
        } else if (!(v = arg_value(argc, argv, &i))) return 2;
        else if (!strcmp(a, "--shape")) p.shape = v;
        else if (!strcmp(a, "--type")) type = v;
        else if (!strcmp(a, "--vocab")) p.vocab_path = v;
        else if (!strcmp(a, "--seed")) { if (!arg_int(a, v, 0, 0x7fffffffL, &seed)) return 2; }
        else if (!strcmp(a, "-o")) out = v;
        else return die("synth: unknown option '%s'", a);
    }
    if (!out) return die("synth: need -o OUT.gguf");
    p.seed = (uint64_t)seed;
    bool found = false;
    for (int t = 0; t < ZETA_TYPE_COUNT; t++) {
        const char *nm = zeta_type_name((zeta_type)t);
        if (nm && !strcasecmp(nm, type)) { p.type = (zeta_type)t; found = true; }
    }
    if (!found) return die("synth: unknown type '%s'", type);
    if (!p.vocab_path)
        p.vocab_path = (!strcmp(p.shape, "tinyllama-1.1b") || !strcmp(p.shape, "llama-2-7b") || !strncmp(p.shape, "tiny", 4))
                           ? "tests/data/vocab/ggml-vocab-llama-spm.gguf"
                           : "tests/data/vocab/ggml-vocab-gpt-2.gguf";
    int last_pct = -1;
    p.on_progress = synth_progress;
    p.progress_user = &last_pct;
    zeta_error err;
    if (zeta_synth_model(&p, out, &err) != ZETA_OK) return die_err(&err);
    fprintf(stderr, "zeta synth: wrote %s (%s, %s)\n", out, p.shape, zeta_type_name(p.type));
    return 0;
}
