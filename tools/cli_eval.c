/* cli_eval.c — the measuring subcommands of the zeta CLI: `perplexity` (llama.cpp's protocol, so
 * numbers are comparable) and `logits` (per-position top-k logits, log-sum-exp and greedy steps as
 * JSON in the format of ../shared/goldens, for compare.py). Uses only zeta.h. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* log(sum(exp(logits))) in double */
static double logsumexp(const float *l, size_t n) {
    float mx = l[0];
    for (size_t i = 1; i < n; i++) if (l[i] > mx) mx = l[i];
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += exp((double)l[i] - (double)mx);
    return log(s) + (double)mx;
}

static zeta_token *tokenize_all(zeta_model *m, const char *text, size_t len, unsigned flags, size_t *n_out) {
    zeta_error err;
    size_t n = 0;
    zeta_status st = zeta_tokenize(m, text, len, flags, NULL, 0, &n, &err);
    if (st != ZETA_OK && st != ZETA_ERR_BUFFER_TOO_SMALL) { die_err(&err); return NULL; }
    zeta_token *t = malloc((n ? n : 1) * sizeof *t);
    if (!t) { die("out of memory"); return NULL; }
    if (zeta_tokenize(m, text, len, flags, t, n, &n, &err) != ZETA_OK) { free(t); die_err(&err); return NULL; }
    *n_out = n;
    return t;
}

/* ------------------------------------------------------------------ perplexity */

int cmd_perplexity(int argc, char **argv) {
    const char *model = NULL, *file = NULL;
    long n_ctx = 512, chunks = -1;
    zeta_session_params sp = zeta_session_params_default();
    zeta_backend backend = ZETA_BACKEND_AUTO;
    gate_opts g;
    gate_opts_init(&g);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long l;
        int go;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            puts("usage: zeta perplexity -m MODEL -f TEXT [-c N] [--chunks K] [-t N] [-ctk T] [-ctv T] [--kv-rotate on|off] [--rope-scale N] [--backend auto|cpu|cuda]\n"
                 "          [--mode variational|sparse|standard --sparsity FILE [--level X] [--gate H] [--fallback H]]\n"
                 "llama.cpp's method: the text is tokenized once (BOS first if the model adds one), cut into\n"
                 "non-overlapping chunks of N tokens (first token of each replaced by BOS), each evaluated from an\n"
                 "empty cache; the second half of each chunk is scored. With --sparsity FILE (any --mode but ultimate)\n"
                 "the first half and the first scored token are evaluated as one dense prompt and every later token\n"
                 "one by one in the mode, as generation would (--mode sparse --level 0: the same, all dense); the\n"
                 "mode's counters are printed. Last line:\n"
                 "Final estimate: PPL = <value> +/- <error>");
            return 0;
        } else if (!(v = arg_value(argc, argv, &i))) return 2;
        else if ((go = gate_option(&g, a, v)) != 0) { if (go < 0) return 2; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--backend")) { if (!arg_backend(a, v, &backend)) return 2; }
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) file = v;
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) { if (!arg_int(a, v, 8, 1 << 20, &n_ctx)) return 2; }
        else if (!strcmp(a, "--chunks")) { if (!arg_int(a, v, 1, 1 << 30, &chunks)) return 2; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { if (!arg_int(a, v, 1, 512, &l)) return 2; sp.n_threads = (int)l; }
        else if (!strcmp(a, "--cache-type-k") || !strcmp(a, "-ctk")) { if (!arg_kv_type(a, v, &sp.kv_type)) return 2; }
        else if (!strcmp(a, "--cache-type-v") || !strcmp(a, "-ctv")) { if (!arg_kv_type(a, v, &sp.kv_type_v)) return 2; }
        else if (!strcmp(a, "--kv-rotate")) { if (!arg_kv_rotate(a, v, &sp.kv_no_rotate)) return 2; }
        else if (!strcmp(a, "--rope-freq-scale") || !strcmp(a, "--rope-scale")) { if (!arg_rope_scale(a, v, &sp.rope_freq_scale)) return 2; }
        else if (!strcmp(a, "--rope-scaling")) { if (!arg_rope_scaling(a, v, &sp.rope_scaling)) return 2; }
        else if (!strcmp(a, "--yarn-orig-ctx")) { if (!arg_int(a, v, 1, 1 << 24, &l)) return 2; sp.yarn_orig_ctx = (uint32_t)l; }
        else return die("perplexity: unknown option '%s'", a);
    }
    if (!model || !file) return die("perplexity: need -m MODEL and -f TEXT");
    size_t len;
    char *text = read_file(file, &len);
    if (!text) return 1;
    if (g.mode == ZETA_MODE_ULTIMATE) { free(text); return die("perplexity: --mode ultimate only changes generation (it is exact); use standard"); }
    const bool stepwise = g.file != NULL;
    zeta_model *m = load_model_gate(model, backend, &g);
    if (!m) { free(text); return 1; }
    int rc = 0;
    zeta_session *s = NULL;
    float *logits = NULL;
    size_t n_tok = 0;
    zeta_token *toks = tokenize_all(m, text, len, ZETA_TOKENIZE_ADD_SPECIAL, &n_tok);
    zeta_error err;
    if (!toks) { rc = 1; goto out; }
    /* does the model add BOS? tokenizing "" with ADD_SPECIAL tells */
    size_t n_empty = 0;
    zeta_token bos_probe[4];
    zeta_tokenize(m, "", 0, ZETA_TOKENIZE_ADD_SPECIAL, bos_probe, 4, &n_empty, &err);
    const bool add_bos = n_empty > 0 && bos_probe[0] == zeta_token_bos(m);
    if (n_tok < 2 * (size_t)n_ctx) {
        rc = die("perplexity: the text has %zu tokens; a context of %ld needs at least %ld", n_tok, n_ctx, 2 * n_ctx);
        goto out;
    }
    size_t n_chunks = n_tok / (size_t)n_ctx;
    if (chunks > 0 && (size_t)chunks < n_chunks) n_chunks = (size_t)chunks;
    sp.n_ctx = (uint32_t)n_ctx;
    gate_session_params(&g, &sp);
    if (zeta_session_new(m, &sp, &s, &err) != ZETA_OK) { rc = die_err(&err); goto out; }
    const size_t nv = zeta_n_vocab(m);
    logits = malloc((size_t)n_ctx * nv * sizeof *logits);
    zeta_token *chunk = malloc((size_t)n_ctx * sizeof *chunk);
    if (!logits || !chunk) { free(chunk); rc = die("out of memory"); goto out; }
    fprintf(stderr, "perplexity: %zu tokens, %zu chunks of %ld, bos %s\n", n_tok, n_chunks, n_ctx, add_bos ? "yes" : "no");
    double nll = 0.0, nll2 = 0.0;
    size_t count = 0;
    const size_t first = (size_t)n_ctx / 2;
    for (size_t c = 0; c < n_chunks; c++) {
        memcpy(chunk, toks + c * (size_t)n_ctx, (size_t)n_ctx * sizeof *chunk);
        if (add_bos) chunk[0] = zeta_token_bos(m);
        bool ok = zeta_session_rewind(s, 0, &err) == ZETA_OK;
        if (ok && !stepwise) ok = zeta_session_eval_all(s, chunk, (size_t)n_ctx, logits, &err) == ZETA_OK;
        if (ok && stepwise) { /* a dense prompt up to the first scored position, then token by token in the mode */
            ok = zeta_session_eval(s, chunk, first + 1, &err) == ZETA_OK;
            for (size_t j = first; ok && j + 1 < (size_t)n_ctx; j++) {
                if (j > first) ok = zeta_session_eval(s, chunk + j, 1, &err) == ZETA_OK;
                if (ok) memcpy(logits + j * nv, zeta_session_logits(s, NULL), nv * sizeof *logits);
            }
        }
        if (!ok) {
            free(chunk);
            rc = die_err(&err);
            goto out;
        }
        for (size_t j = first; j + 1 < (size_t)n_ctx; j++) {
            const float *l = logits + j * nv;
            double v = logsumexp(l, nv) - (double)l[toks[c * (size_t)n_ctx + j + 1]];
            nll += v;
            nll2 += v * v;
            count++;
        }
        printf("[%zu]%.4f,", c + 1, exp(nll / (double)count));
        fflush(stdout);
    }
    free(chunk);
    double mean = nll / (double)count, mean2 = nll2 / (double)count;
    double ppl = exp(mean);
    double var = mean2 - mean * mean;
    double ppl_err = (var > 0 && count > 1) ? ppl * sqrt(var / (double)(count - 1)) : 0.0;
    if (stepwise) { fputc('\n', stdout); gate_print_stats(stdout, s, g.mode); }
    printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", ppl, ppl_err);
out:
    free(logits);
    free(toks);
    zeta_session_free(s);
    zeta_model_free(m);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------ logits */

static void json_string(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"') fputs("\\\"", f);
        else if (c == '\\') fputs("\\\\", f);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

typedef struct pair { int id; float v; } pair;
static int pair_cmp(const void *a, const void *b) {
    const pair *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? 1 : -1;
    return x->id - y->id;
}

/* {"pos": p, "logsumexp": x, "top": [[id, logit], ...]} with the k largest logits */
static void json_top(FILE *f, const float *l, size_t nv, int k, long pos, pair *scratch) {
    for (size_t i = 0; i < nv; i++) { scratch[i].id = (int)i; scratch[i].v = l[i]; }
    qsort(scratch, nv, sizeof *scratch, pair_cmp);
    if ((size_t)k > nv) k = (int)nv;
    fputc('{', f);
    if (pos >= 0) fprintf(f, "\"pos\": %ld, ", pos);
    fprintf(f, "\"logsumexp\": %.6f, \"top\": [", logsumexp(l, nv));
    for (int i = 0; i < k; i++) fprintf(f, "%s[%d, %.6f]", i ? ", " : "", scratch[i].id, (double)scratch[i].v);
    fputs("]}", f);
}

static int argmax(const float *l, size_t n) {
    size_t b = 0;
    for (size_t i = 1; i < n; i++) if (l[i] > l[b]) b = i;
    return (int)b;
}

int cmd_logits(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *outp = NULL;
    long k = 20, n_greedy = 32;
    bool add_bos = true;
    zeta_session_params sp = zeta_session_params_default();
    zeta_backend backend = ZETA_BACKEND_AUTO;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long l;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            puts("usage: zeta logits -m MODEL -f PROMPT_FILE [-k 20] [-n 32] [--no-bos] [-ctk T] [-ctv T] [--kv-rotate on|off] [--rope-scale N] [-t N] [--backend auto|cpu|cuda] -o OUT.json\n"
                 "Evaluates the prompt (BOS added if the model adds one) and writes, in the JSON format of the\n"
                 "goldens (compare.py), the top-k logits and log-sum-exp of every position and n greedy tokens.");
            return 0;
        } else if (!strcmp(a, "--no-bos")) add_bos = false;
        else if (!(v = arg_value(argc, argv, &i))) return 2;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--backend")) { if (!arg_backend(a, v, &backend)) return 2; }
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) file = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) outp = v;
        else if (!strcmp(a, "-k")) { if (!arg_int(a, v, 1, 1 << 20, &k)) return 2; }
        else if (!strcmp(a, "-n")) { if (!arg_int(a, v, 0, 1 << 16, &n_greedy)) return 2; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { if (!arg_int(a, v, 1, 512, &l)) return 2; sp.n_threads = (int)l; }
        else if (!strcmp(a, "--cache-type-k") || !strcmp(a, "-ctk")) { if (!arg_kv_type(a, v, &sp.kv_type)) return 2; }
        else if (!strcmp(a, "--cache-type-v") || !strcmp(a, "-ctv")) { if (!arg_kv_type(a, v, &sp.kv_type_v)) return 2; }
        else if (!strcmp(a, "--kv-rotate")) { if (!arg_kv_rotate(a, v, &sp.kv_no_rotate)) return 2; }
        else if (!strcmp(a, "--rope-freq-scale") || !strcmp(a, "--rope-scale")) { if (!arg_rope_scale(a, v, &sp.rope_freq_scale)) return 2; }
        else if (!strcmp(a, "--rope-scaling")) { if (!arg_rope_scaling(a, v, &sp.rope_scaling)) return 2; }
        else if (!strcmp(a, "--yarn-orig-ctx")) { if (!arg_int(a, v, 1, 1 << 24, &l)) return 2; sp.yarn_orig_ctx = (uint32_t)l; }
        else return die("logits: unknown option '%s'", a);
    }
    if (!model || !file || !outp) return die("logits: need -m MODEL, -f PROMPT_FILE and -o OUT.json");
    size_t len;
    char *text = read_file(file, &len);
    if (!text) return 1;
    zeta_model *m = load_model_on(model, backend);
    if (!m) { free(text); return 1; }
    int rc = 0;
    FILE *f = NULL;
    zeta_session *s = NULL;
    float *logits = NULL;
    pair *scratch = NULL;
    zeta_token *greedy = NULL;
    size_t n = 0;
    zeta_error err;
    zeta_token *toks = tokenize_all(m, text, len, add_bos ? ZETA_TOKENIZE_ADD_SPECIAL : 0, &n);
    if (!toks) { rc = 1; goto out; }
    if (n == 0) { rc = die("logits: the prompt has no tokens"); goto out; }
    size_t need = n + (size_t)n_greedy + 16;
    sp.n_ctx = (uint32_t)(need > 512 ? need : 512);
    if (zeta_session_new(m, &sp, &s, &err) != ZETA_OK) { rc = die_err(&err); goto out; }
    const size_t nv = zeta_n_vocab(m);
    logits = malloc(n * nv * sizeof *logits);
    scratch = malloc(nv * sizeof *scratch);
    greedy = malloc(((size_t)n_greedy + 1) * sizeof *greedy);
    if (!logits || !scratch || !greedy) { rc = die("out of memory"); goto out; }
    if (zeta_session_eval_all(s, toks, n, logits, &err) != ZETA_OK) { rc = die_err(&err); goto out; }
    f = fopen(outp, "w");
    if (!f) { rc = die("cannot write '%s'", outp); goto out; }
    zeta_model_info mi;
    zeta_model_describe(m, &mi, &err);
    fputs("{\n \"model\": ", f);
    const char *base = strrchr(model, '/');
    base = base ? base + 1 : model;
    json_string(f, base, strlen(base));
    fputs(",\n \"prompt\": ", f);
    json_string(f, text, len);
    const zeta_type tv = sp.kv_type_v == ZETA_TYPE_COUNT ? sp.kv_type : sp.kv_type_v;
    fprintf(f, ",\n \"add_bos\": %s,\n \"kv_type\": \"%s\",\n \"kv_type_v\": \"%s\",\n \"n_vocab\": %zu,\n",
            add_bos ? "true" : "false", zeta_type_name(sp.kv_type), zeta_type_name(tv), nv);
    fprintf(f, " \"settings\": {\"n_ctx\": %u, \"top_k\": %ld, \"n_greedy\": %ld},\n", sp.n_ctx, k, n_greedy);
    fprintf(f, " \"producer\": \"zeta %s logits (cpu kernels %s)\",\n \"tokens\": [", zeta_version_string(), zeta_cpu_kernels());
    for (size_t i = 0; i < n; i++) fprintf(f, "%s%d", i ? ", " : "", toks[i]);
    fputs("],\n \"positions\": [\n", f);
    for (size_t p = 0; p < n; p++) {
        fputs("  ", f);
        json_top(f, logits + p * nv, nv, (int)k, (long)p, scratch);
        fputs(p + 1 < n ? ",\n" : "\n", f);
    }
    fputs(" ],\n \"greedy\": {\"steps\": [\n", f);
    /* greedy: step i's logits choose token i; the chosen token is fed back */
    const float *cur = logits + (n - 1) * nv;
    long n_done = 0;
    for (long i = 0; i < n_greedy; i++) {
        int t = argmax(cur, nv);
        greedy[n_done++] = t;
        fputs(i ? ",\n  " : "  ", f);
        json_top(f, cur, nv, (int)k, -1, scratch);
        if (zeta_token_is_eog(m, t) || i + 1 == n_greedy) break;
        zeta_token tt = t;
        if (zeta_session_eval(s, &tt, 1, &err) != ZETA_OK) { rc = die_err(&err); goto out; }
        cur = zeta_session_logits(s, NULL);
    }
    fputs("\n ], \"tokens\": [", f);
    for (long i = 0; i < n_done; i++) fprintf(f, "%s%d", i ? ", " : "", greedy[i]);
    fputs("], \"text\": ", f);
    size_t tl = 0;
    zeta_detokenize(m, greedy, (size_t)n_done, 0, NULL, 0, &tl, &err);
    char *gt = malloc(tl + 1);
    if (gt && zeta_detokenize(m, greedy, (size_t)n_done, 0, gt, tl, &tl, &err) == ZETA_OK) json_string(f, gt, tl);
    else fputs("\"\"", f);
    free(gt);
    fputs("}\n}\n", f);
out:
    if (f && fclose(f) != 0 && rc == 0) rc = die("error writing '%s'", outp);
    free(greedy);
    free(scratch);
    free(logits);
    free(toks);
    zeta_session_free(s);
    zeta_model_free(m);
    free(text);
    return rc;
}
