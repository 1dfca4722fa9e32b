/* cli_gate.c — variational gating in the zeta CLI: `zeta calibrate` (writes the sparsity file)
 * and the options run / perplexity / bench share (--mode, --sparsity FILE, --level, --gate,
 * --fallback, --draft) with the --stats report. Uses only zeta.h. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

void gate_opts_init(gate_opts *g) {
    memset(g, 0, sizeof *g);
    g->mode = ZETA_MODE_STANDARD;
    g->level = -1.0f;
    g->gate = -1.0f;
    g->fallback = -1.0f;
    g->draft = 4;
}

bool arg_mode(const char *opt, const char *val, zeta_mode *out) {
    if (!strcmp(val, "standard")) *out = ZETA_MODE_STANDARD;
    else if (!strcmp(val, "variational")) *out = ZETA_MODE_VARIATIONAL;
    else if (!strcmp(val, "ultimate")) *out = ZETA_MODE_ULTIMATE;
    else if (!strcmp(val, "sparse")) *out = ZETA_MODE_SPARSE;
    else {
        die("%s: '%s' is not a mode (standard, variational, ultimate, sparse)", opt, val);
        return false;
    }
    return true;
}

int gate_option(gate_opts *g, const char *a, const char *v) {
    double d;
    long l;
    if (!strcmp(a, "--mode")) return arg_mode(a, v, &g->mode) ? 1 : -1;
    if (!strcmp(a, "--sparsity")) { g->file = v; return 1; }
    if (!strcmp(a, "--level")) { if (!arg_float(a, v, 0, 0.999, &d)) return -1; g->level = (float)d; return 1; }
    if (!strcmp(a, "--gate")) { if (!arg_float(a, v, 0, 1000, &d)) return -1; g->gate = (float)d; return 1; }
    if (!strcmp(a, "--fallback")) { if (!arg_float(a, v, 0, 1000, &d)) return -1; g->fallback = (float)d; return 1; }
    if (!strcmp(a, "--draft")) { if (!arg_int(a, v, 1, 16, &l)) return -1; g->draft = (uint32_t)l; return 1; }
    return 0;
}

zeta_model *load_model_gate(const char *path, zeta_backend backend, const gate_opts *g) {
    if (g->mode != ZETA_MODE_STANDARD && !g->file) {
        die("--mode %s needs --sparsity FILE (write one with zeta calibrate)", zeta_mode_name(g->mode));
        return NULL;
    }
    zeta_model *m = NULL;
    zeta_error err;
    zeta_model_params mp = zeta_model_params_default();
    mp.backend = backend;
    mp.sparsity_path = g->file;
    zeta_status st = zeta_model_load(path, &mp, &m, &err);
    if (st == ZETA_ERR_UNSUPPORTED && g->file && backend == ZETA_BACKEND_AUTO) {
        /* auto picked CUDA, whose sparse pass needs layer matrices of a multiple of 64 rows: the CPU's
         * takes multiples of 32 (its Q8_0 copy along the outputs) */
        fprintf(stderr, "zeta: %s; running on the CPU\n", err.message);
        mp.backend = ZETA_BACKEND_CPU;
        st = zeta_model_load(path, &mp, &m, &err);
    }
    if (st != ZETA_OK) {
        die_err(&err);
        return NULL;
    }
    if (g->file) {
        zeta_model_info mi;
        if (zeta_model_describe(m, &mi, &err) == ZETA_OK)
            fprintf(stderr, "zeta: sparse layout from %s: %.1f MiB extra\n", g->file, (double)mi.sparse_bytes / 1048576.0);
    }
    return m;
}

void gate_session_params(const gate_opts *g, zeta_session_params *sp) {
    sp->mode = g->mode;
    sp->sparsity = g->level;
    sp->gate_entropy = g->gate;
    sp->fallback_entropy = g->fallback;
    sp->max_draft = g->draft;
}

void gate_print_stats(FILE *f, const zeta_session *s, zeta_mode mode) {
    zeta_session_stats st;
    zeta_session_get_stats(s, &st);
    const double steps = st.n_steps ? (double)st.n_steps : 1.0, sp = st.n_sparse_steps ? (double)st.n_sparse_steps : 1.0;
    fprintf(f, "zeta: mode %s: %llu steps, %llu sparse (sparse_ratio %.3f), %llu dense, %llu fallbacks (fallback_rate %.3f)\n",
            zeta_mode_name(mode), (unsigned long long)st.n_steps, (unsigned long long)st.n_sparse_steps, (double)st.n_sparse_steps / steps,
            (unsigned long long)st.n_dense_steps, (unsigned long long)st.n_fallbacks, (double)st.n_fallbacks / steps);
    if (st.n_sparse_steps)
        fprintf(f, "zeta: sparse steps: avg_energy_ratio %.4f, kept attn_in %.3f attn_out %.3f ffn_in %.3f ffn_mid %.3f\n",
                st.energy_sum / sp, st.kept_sum[0] / sp, st.kept_sum[1] / sp, st.kept_sum[2] / sp, st.kept_sum[3] / sp);
    if (st.n_verifies)
        fprintf(f, "zeta: ultimate: %llu verifications, %llu drafted, %llu accepted (acceptance %.3f, mean accepted %.2f per verification)\n",
                (unsigned long long)st.n_verifies, (unsigned long long)st.n_drafted, (unsigned long long)st.n_accepted,
                st.n_drafted ? (double)st.n_accepted / (double)st.n_drafted : 0.0, (double)st.n_accepted / (double)st.n_verifies);
}

/* ------------------------------------------------------------------ calibrate */

int cmd_calibrate(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *out = NULL;
    zeta_calibrate_params cp = zeta_calibrate_params_default();
    float levels[16];
    size_t n_levels = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long l;
        double d;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            puts("usage: zeta calibrate -m MODEL -f TEXT -o FILE [-c N] [--chunks K] [--sparsity 0.25,0.3,0.4,0.5,0.6] [-t N]\n"
                 "          [--gate-quantile 0.7] [--fallback-quantile 0.97]\n"
                 "Runs the model densely over chunks of N tokens of TEXT (default 512; all whole chunks, or the first K)\n"
                 "and writes the sparsity file of variational gating (docs/GATING.md): per layer and matmul input, the\n"
                 "|x| threshold of each target sparsity, and the entropy gate's defaults (quantiles of the next-token\n"
                 "entropy). Use it with zeta run / perplexity / bench --sparsity FILE --mode variational.");
            return 0;
        } else if (!(v = arg_value(argc, argv, &i))) return 2;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) file = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) { if (!arg_int(a, v, 16, 8192, &l)) return 2; cp.n_ctx = (uint32_t)l; }
        else if (!strcmp(a, "--chunks")) { if (!arg_int(a, v, 1, 1 << 30, &l)) return 2; cp.n_chunks = (uint32_t)l; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { if (!arg_int(a, v, 1, 512, &l)) return 2; cp.n_threads = (int)l; }
        else if (!strcmp(a, "--gate-quantile")) { if (!arg_float(a, v, 0.001, 0.999, &d)) return 2; cp.gate_quantile = (float)d; }
        else if (!strcmp(a, "--fallback-quantile")) { if (!arg_float(a, v, 0.001, 0.999, &d)) return 2; cp.fallback_quantile = (float)d; }
        else if (!strcmp(a, "--sparsity")) {
            char buf[512];
            snprintf(buf, sizeof buf, "%s", v);
            n_levels = 0;
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                if (n_levels == 16) return die("--sparsity: at most 16 levels");
                if (!arg_float(a, tok, 0.001, 0.999, &d)) return 2;
                levels[n_levels++] = (float)d;
            }
        } else return die("calibrate: unknown option '%s' (see zeta calibrate --help)", a);
    }
    if (!model || !file || !out) return die("calibrate: need -m MODEL, -f TEXT and -o FILE");
    if (n_levels) { cp.sparsities = levels; cp.n_sparsities = n_levels; }
    size_t len;
    char *text = read_file(file, &len);
    if (!text) return 1;
    zeta_model *m = load_model_on(model, ZETA_BACKEND_CPU);
    if (!m) { free(text); return 1; }
    zeta_error err;
    int rc = 0;
    if (zeta_calibrate(m, text, len, &cp, out, &err) != ZETA_OK) rc = die_err(&err);
    else fprintf(stderr, "zeta: wrote %s\n", out);
    zeta_model_free(m);
    free(text);
    return rc;
}
