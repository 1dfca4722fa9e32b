/* zeta.c — the `zeta` command-line tool: dispatch to subcommands, and the run / info / tokenize
 * subcommands. Uses only zeta.h. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("zeta: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int die_err(const zeta_error *err) { return die("%s", err->message); }

bool arg_int(const char *opt, const char *val, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < lo || v > hi) {
        die("%s: '%s' is not an integer in %ld..%ld", opt, val, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool arg_float(const char *opt, const char *val, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || end == val || *end || !(v >= lo && v <= hi)) {
        die("%s: '%s' is not a number in %g..%g", opt, val, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool arg_kv_type(const char *opt, const char *val, zeta_type *out) {
    if (!strcmp(val, "f16")) *out = ZETA_TYPE_F16;
    else if (!strcmp(val, "f32")) *out = ZETA_TYPE_F32;
    else if (!strcmp(val, "q8_0")) *out = ZETA_TYPE_Q8_0;
    else if (!strcmp(val, "q4_0")) *out = ZETA_TYPE_Q4_0;
    else {
        die("%s: '%s' is not a supported KV cache type (f16, f32, q8_0, q4_0)", opt, val);
        return false;
    }
    return true;
}

/* --kv-rotate on|off: whether a quantized KV cache is stored Hadamard-rotated (the default, as llama.cpp) */
bool arg_kv_rotate(const char *opt, const char *val, bool *no_rotate) {
    if (!strcmp(val, "on")) *no_rotate = false;
    else if (!strcmp(val, "off")) *no_rotate = true;
    else {
        die("%s: '%s' is neither on nor off", opt, val);
        return false;
    }
    return true;
}

/* --rope-freq-scale X (0 < X <= 1) or --rope-scale N (N >= 1, X = 1/N), as llama.cpp */
bool arg_rope_scale(const char *opt, const char *val, float *out) {
    char *end;
    errno = 0;
    const double v = strtod(val, &end);
    const bool is_factor = !strcmp(opt, "--rope-scale");
    if (errno || end == val || *end || !(is_factor ? v >= 1.0 && v <= 1024.0 : v > 0.0 && v <= 1.0)) {
        die("%s: '%s' is not a number in %s", opt, val, is_factor ? "1..1024" : "(0, 1]");
        return false;
    }
    *out = (float)(is_factor ? 1.0 / v : v);
    return true;
}

bool arg_rope_scaling(const char *opt, const char *val, zeta_rope_scaling *out) {
    if (!strcmp(val, "none")) *out = ZETA_ROPE_SCALING_NONE;
    else if (!strcmp(val, "linear")) *out = ZETA_ROPE_SCALING_LINEAR;
    else if (!strcmp(val, "yarn")) *out = ZETA_ROPE_SCALING_YARN;
    else {
        die("%s: '%s' is not a RoPE scaling type (none, linear, yarn)", opt, val);
        return false;
    }
    return true;
}

const char *arg_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        die("option %s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        die("cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) { free(buf); buf = NULL; break; }
        buf = nb;
        cap *= 2;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        die("cannot read '%s'", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

bool arg_backend(const char *opt, const char *val, zeta_backend *out) {
    if (!strcmp(val, "auto")) *out = ZETA_BACKEND_AUTO;
    else if (!strcmp(val, "cpu")) *out = ZETA_BACKEND_CPU;
    else if (!strcmp(val, "cuda")) *out = ZETA_BACKEND_CUDA;
    else {
        die("%s: '%s' is not a backend (auto, cpu, cuda)", opt, val);
        return false;
    }
    return true;
}

zeta_model *load_model(const char *path) { return load_model_on(path, ZETA_BACKEND_AUTO); }

zeta_model *load_model_on(const char *path, zeta_backend backend) {
    zeta_model *m = NULL;
    zeta_error err;
    zeta_model_params mp = zeta_model_params_default();
    mp.backend = backend;
    if (zeta_model_load(path, &mp, &m, &err) != ZETA_OK) {
        die_err(&err);
        return NULL;
    }
    return m;
}

/* ------------------------------------------------------------------ run */

static bool on_text(void *user, const char *text, size_t len) {
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return true;
}

int session_option(zeta_session_params *sp, zeta_sampler_params *smp, bool *seed_given, const char *a, const char *v) {
    long l;
    double d;
    if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) { if (!arg_int(a, v, 0, 1 << 24, &l)) return -1; sp->n_ctx = (uint32_t)l; }
    else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { if (!arg_int(a, v, 1, 512, &l)) return -1; sp->n_threads = (int)l; }
    else if (!strcmp(a, "--temp")) { if (!arg_float(a, v, 0, 100, &d)) return -1; smp->temperature = (float)d; }
    else if (!strcmp(a, "--top-k")) { if (!arg_int(a, v, 0, 1 << 30, &l)) return -1; smp->top_k = (int)l; }
    else if (!strcmp(a, "--top-p")) { if (!arg_float(a, v, 0, 1, &d)) return -1; smp->top_p = (float)d; }
    else if (!strcmp(a, "--min-p")) { if (!arg_float(a, v, 0, 1, &d)) return -1; smp->min_p = (float)d; }
    else if (!strcmp(a, "--repeat-penalty")) { if (!arg_float(a, v, 0, 100, &d)) return -1; smp->repeat_penalty = (float)d; }
    else if (!strcmp(a, "--repeat-last-n")) { if (!arg_int(a, v, -1, 1 << 24, &l)) return -1; smp->repeat_last_n = (int)l; }
    else if (!strcmp(a, "--frequency-penalty")) { if (!arg_float(a, v, -100, 100, &d)) return -1; smp->frequency_penalty = (float)d; }
    else if (!strcmp(a, "--presence-penalty")) { if (!arg_float(a, v, -100, 100, &d)) return -1; smp->presence_penalty = (float)d; }
    else if (!strcmp(a, "--seed")) { if (!arg_int(a, v, 0, 0x7fffffffL, &l)) return -1; sp->seed = (uint64_t)l; *seed_given = true; }
    else if (!strcmp(a, "--cache-type-k") || !strcmp(a, "-ctk")) { if (!arg_kv_type(a, v, &sp->kv_type)) return -1; }
    else if (!strcmp(a, "--cache-type-v") || !strcmp(a, "-ctv")) { if (!arg_kv_type(a, v, &sp->kv_type_v)) return -1; }
    else if (!strcmp(a, "--kv-rotate")) { if (!arg_kv_rotate(a, v, &sp->kv_no_rotate)) return -1; }
    else if (!strcmp(a, "--rope-freq-scale") || !strcmp(a, "--rope-scale")) { if (!arg_rope_scale(a, v, &sp->rope_freq_scale)) return -1; }
    else if (!strcmp(a, "--rope-scaling")) { if (!arg_rope_scaling(a, v, &sp->rope_scaling)) return -1; }
    else if (!strcmp(a, "--yarn-orig-ctx")) { if (!arg_int(a, v, 1, 1 << 24, &l)) return -1; sp->yarn_orig_ctx = (uint32_t)l; }
    else return 0;
    return 1;
}

static const char *run_help =
    "usage: zeta run -m MODEL [-p PROMPT | -f FILE] [options]\n"
    "Generates text after the prompt and streams it to stdout; speeds go to stderr.\n"
    "  -m, --model FILE        GGUF model\n"
    "  -p, --prompt TEXT       prompt (default: empty, generation starts from BOS)\n"
    "  -f, --file FILE         read the prompt from FILE\n"
    "  -n, --n-predict N       tokens to generate (default 256; 0 = until EOS or the context is full)\n"
    SESSION_HELP
    "  --stop TEXT             stop when TEXT is generated (repeatable)\n"
    "  --context-shift         when the context is full, drop the older half of the tokens after --keep and go on\n"
    "  --keep N                tokens at the start a context shift keeps (default 0; BOS is always kept)\n"
    "  --prompt-cache FILE     load the session from FILE if it exists (its matching prompt prefix is not\n"
    "                          evaluated again) and save it there after the run\n"
    "  --no-bos                do not add BOS\n"
    "  --no-echo               do not print the prompt before the generated text\n"
    GATE_HELP
    "  --stats                 print the decoding mode's counters (sparse ratio, fallbacks, acceptance)\n";

int cmd_run(int argc, char **argv) {
    const char *model = NULL, *prompt = "", *file = NULL, *cache_path = NULL;
    zeta_session_params sp = zeta_session_params_default();
    zeta_generate_params gp = zeta_generate_params_default();
    const char *stops[16];
    size_t n_stop = 0;
    bool echo = true, seed_given = false, stats = false;
    zeta_backend backend = ZETA_BACKEND_AUTO;
    gate_opts g;
    gate_opts_init(&g);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long l;
        int go, so;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(run_help, stdout); return 0; }
        else if (!strcmp(a, "--stats")) stats = true;
        else if (!strcmp(a, "--no-bos")) gp.add_bos = false;
        else if (!strcmp(a, "--no-echo")) echo = false;
        else if (!strcmp(a, "--context-shift")) gp.context_shift = true;
        else if (!(v = arg_value(argc, argv, &i))) return 2;
        else if ((go = gate_option(&g, a, v)) != 0) { if (go < 0) return 2; }
        else if (!strcmp(a, "--keep")) { if (!arg_int(a, v, 0, 1 << 24, &l)) return 2; gp.n_keep = (uint32_t)l; }
        else if (!strcmp(a, "--prompt-cache")) cache_path = v;
        else if (!strcmp(a, "--backend")) { if (!arg_backend(a, v, &backend)) return 2; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) prompt = v;
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) file = v;
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { if (!arg_int(a, v, 0, 1 << 24, &l)) return 2; gp.max_tokens = (uint32_t)l; }
        else if ((so = session_option(&sp, &gp.sampler, &seed_given, a, v)) != 0) { if (so < 0) return 2; }
        else if (!strcmp(a, "--stop")) { if (n_stop == 16) return die("at most 16 --stop strings"); stops[n_stop++] = v; }
        else return die("run: unknown option '%s' (see zeta run --help)", a);
    }
    if (!model) return die("run: -m MODEL is required (see zeta run --help)");
    char *file_text = NULL;
    if (file) {
        size_t len;
        if (!(file_text = read_file(file, &len))) return 1;
        if (strlen(file_text) != len) { free(file_text); return die("run: prompt file '%s' contains a NUL byte", file); }
        prompt = file_text;
    }
    if (!seed_given) sp.seed = (uint64_t)time(NULL);
    gp.stop = stops;
    gp.n_stop = n_stop;
    gp.on_text = on_text;
    zeta_model *m = load_model_gate(model, backend, &g);
    if (!m) { free(file_text); return 1; }
    zeta_session *s = NULL;
    zeta_error err;
    int rc = 0;
    gate_session_params(&g, &sp);
    if (zeta_session_new(m, &sp, &s, &err) != ZETA_OK) { rc = die_err(&err); goto out; }
    if (cache_path) {
        /* a state saved by an earlier run: the prompt's prefix it shares is not evaluated again */
        if (access(cache_path, F_OK) == 0 && zeta_session_load(s, cache_path, &err) != ZETA_OK)
            fprintf(stderr, "zeta: warning: not using the prompt cache: %s\n", err.message);
        gp.reuse_prefix = true;
    }
    if (echo) { fputs(prompt, stdout); fflush(stdout); }
    zeta_generate_result res;
    if (zeta_generate(s, prompt, &gp, &res, &err) != ZETA_OK) { fputc('\n', stdout); rc = die_err(&err); goto out; }
    fputc('\n', stdout);
    if (cache_path && zeta_session_save(s, cache_path, &err) != ZETA_OK) rc = die_err(&err);
    if (res.n_reused || res.n_shifted)
        fprintf(stderr, "zeta: %u prompt tokens reused from the prompt cache, %u dropped by context shifts\n", res.n_reused,
                res.n_shifted);
    fprintf(stderr, "\nzeta: context %u tokens, KV cache %.1f MiB\n", zeta_session_n_ctx(s), (double)zeta_session_kv_bytes(s) / 1048576.0);
    fprintf(stderr, "zeta: prompt %u tokens in %.1f ms (%.2f tokens/s); generation %u tokens in %.1f ms (%.2f tokens/s)\n",
            res.n_prompt, res.prompt_ms, res.prompt_ms > 0 ? res.n_prompt * 1000.0 / res.prompt_ms : 0.0, res.n_generated,
            res.generate_ms, res.generate_ms > 0 ? res.n_generated * 1000.0 / res.generate_ms : 0.0);
    if (stats) gate_print_stats(stderr, s, g.mode);
out:
    zeta_session_free(s);
    zeta_model_free(m);
    free(file_text);
    return rc;
}

/* ------------------------------------------------------------------ info */

static void print_bytes(const char *label, uint64_t b) {
    printf("%-22s %llu bytes (%.2f MiB)\n", label, (unsigned long long)b, (double)b / (1024.0 * 1024.0));
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    bool tensors = false, check = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("usage: zeta info MODEL [--tensors] [--check]\nPrints the model's architecture, size, hyperparameters and KV cache size;\n"
                 "--tensors lists every tensor with type and shape; --check dequantizes every tensor and refuses\n"
                 "NaN or infinite weights and block scales (reads the whole file).");
            return 0;
        } else if (!strcmp(argv[i], "--tensors")) tensors = true;
        else if (!strcmp(argv[i], "--check")) check = true;
        else if (!strcmp(argv[i], "-m") && i + 1 < argc) path = argv[++i];
        else if (argv[i][0] == '-') return die("info: unknown option '%s'", argv[i]);
        else path = argv[i];
    }
    if (!path) return die("info: which model? (zeta info MODEL)");
    zeta_model *m = NULL;
    zeta_error lerr;
    zeta_model_params mp = zeta_model_params_default();
    mp.check_tensors = check;
    if (zeta_model_load(path, &mp, &m, &lerr) != ZETA_OK) return die_err(&lerr);
    zeta_model_info mi;
    zeta_error err;
    if (zeta_model_describe(m, &mi, &err) != ZETA_OK) { zeta_model_free(m); return die_err(&err); }
    printf("%-22s %s\n", "file", path);
    if (check) printf("%-22s %s\n", "check", "every tensor value is finite");
    printf("%-22s %s\n", "architecture", mi.arch);
    printf("%-22s %s\n", "name", mi.name);
    printf("%-22s %llu (%.2f M)\n", "parameters", (unsigned long long)mi.n_params, (double)mi.n_params / 1e6);
    print_bytes("file size", mi.file_bytes);
    print_bytes("weights", mi.weight_bytes);
    printf("%-22s %.3f\n", "bits per weight", mi.bits_per_weight);
    printf("%-22s %s\n", "main weight type", zeta_type_name(mi.main_type));
    printf("%-22s %u\n", "context (trained)", mi.n_ctx_train);
    printf("%-22s %u\n", "vocabulary", mi.n_vocab);
    printf("%-22s %s (pre: %s), bos %d, eos %d\n", "tokenizer", mi.tokenizer, mi.pre, mi.bos, mi.eos);
    printf("%-22s %u\n", "embedding", mi.n_embd);
    printf("%-22s %u\n", "layers", mi.n_layer);
    printf("%-22s %u (kv %u, head size %u)\n", "heads", mi.n_head, mi.n_head_kv, mi.head_dim);
    printf("%-22s %u\n", "feed-forward", mi.n_ff);
    printf("%-22s %u dims, base %g, scale %g\n", "rope", mi.n_rot, (double)mi.rope_freq_base, (double)mi.rope_freq_scale);
    printf("%-22s %g\n", "rms eps", (double)mi.norm_eps);
    printf("%-22s %s\n", "tied embeddings", mi.tied_embeddings ? "yes" : "no");
    print_bytes("KV cache f16 at full ctx", zeta_model_kv_bytes(m, mi.n_ctx_train, ZETA_TYPE_F16));
    print_bytes("KV cache f32 at full ctx", zeta_model_kv_bytes(m, mi.n_ctx_train, ZETA_TYPE_F32));
    if (mi.head_dim % 32 == 0) { /* the block types need whole blocks per head */
        print_bytes("KV cache q8_0 at full ctx", zeta_model_kv_bytes(m, mi.n_ctx_train, ZETA_TYPE_Q8_0));
        print_bytes("KV cache q4_0 at full ctx", zeta_model_kv_bytes(m, mi.n_ctx_train, ZETA_TYPE_Q4_0));
    }
    printf("%-22s %u\n", "tensors", mi.n_tensors);
    printf("%-22s %s\n", "cpu kernels", zeta_cpu_kernels());
    if (tensors) {
        for (uint32_t i = 0; i < mi.n_tensors; i++) {
            zeta_tensor_info ti;
            if (zeta_model_tensor(m, i, &ti, &err) != ZETA_OK) break;
            char shape[96];
            int o = snprintf(shape, sizeof shape, "[%llu", (unsigned long long)ti.ne[0]);
            for (uint32_t d = 1; d < ti.n_dims; d++) o += snprintf(shape + o, sizeof shape - (size_t)o, ", %llu", (unsigned long long)ti.ne[d]);
            snprintf(shape + o, sizeof shape - (size_t)o, "]");
            printf("  %-36s %-8s %-22s %10llu bytes\n", ti.name, zeta_type_name(ti.type), shape, (unsigned long long)ti.n_bytes);
        }
    }
    zeta_model_free(m);
    return 0;
}

/* ------------------------------------------------------------------ tokenize */

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL;
    unsigned flags = ZETA_TOKENIZE_ADD_SPECIAL;
    bool ids_only = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            puts("usage: zeta tokenize -m MODEL (-p TEXT | -f FILE) [--no-bos] [--parse-special] [--ids]\n"
                 "Prints one token per line (id and piece), or with --ids the ids as a list.");
            return 0;
        } else if (!strcmp(a, "--no-bos")) flags &= ~(unsigned)ZETA_TOKENIZE_ADD_SPECIAL;
        else if (!strcmp(a, "--parse-special")) flags |= ZETA_TOKENIZE_PARSE_SPECIAL;
        else if (!strcmp(a, "--ids")) ids_only = true;
        else if (!(v = arg_value(argc, argv, &i))) return 2;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) prompt = v;
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) file = v;
        else return die("tokenize: unknown option '%s'", a);
    }
    if (!model || (!prompt && !file)) return die("tokenize: need -m MODEL and -p TEXT or -f FILE");
    size_t len = prompt ? strlen(prompt) : 0;
    char *text = NULL;
    if (file && !(text = read_file(file, &len))) return 1;
    zeta_model *m = load_model(model);
    if (!m) { free(text); return 1; }
    zeta_error err;
    size_t n = 0;
    const char *src = text ? text : prompt;
    zeta_status st = zeta_tokenize(m, src, len, flags, NULL, 0, &n, &err);
    zeta_token *toks = malloc((n ? n : 1) * sizeof *toks);
    int rc = 0;
    if ((st != ZETA_OK && st != ZETA_ERR_BUFFER_TOO_SMALL) || !toks ||
        zeta_tokenize(m, src, len, flags, toks, n, &n, &err) != ZETA_OK) {
        rc = toks ? die_err(&err) : die("out of memory");
    } else if (ids_only) {
        putchar('[');
        for (size_t i = 0; i < n; i++) printf("%s%d", i ? ", " : "", toks[i]);
        puts("]");
    } else {
        for (size_t i = 0; i < n; i++) {
            char piece[512];
            size_t pn = 0;
            zeta_token_piece(m, toks[i], ZETA_DETOKENIZE_SPECIAL, piece, sizeof piece - 1, &pn, &err);
            if (pn >= sizeof piece) pn = 0;
            piece[pn] = 0;
            printf("%6d -> '%s'\n", toks[i], piece);
        }
    }
    free(toks);
    free(text);
    zeta_model_free(m);
    return rc;
}

/* ------------------------------------------------------------------ main */

#ifndef ZETA_HAVE_SERVER
/* the server needs libmicrohttpd and jansson; the Makefile leaves it out when they are missing */
int cmd_serve(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return die("serve: this zeta was built without the server; install libmicrohttpd-dev and libjansson-dev "
               "(Debian/Ubuntu) and rebuild with make");
}
#endif

static void usage(FILE *f) {
    fprintf(f,
            "zeta %s — run GGUF language models\n"
            "usage: zeta COMMAND [options]   (zeta COMMAND --help for each)\n"
            "  run          generate text from a prompt, streaming\n"
            "  chat         an interactive chat with the model's chat template\n"
            "  calibrate    write the sparsity file of variational gating\n"
            "  info         describe a model file\n"
            "  tokenize     show how a text is tokenized\n"
            "  perplexity   perplexity of a text (llama.cpp's method)\n"
            "  logits       dump logits as JSON in the goldens' format\n"
            "  quantize     convert a model to another weight type (as llama-quantize)\n"
            "  bench        measure prompt and generation speed (llama-bench style)\n"
            "  synth        write a random-weight model of a real model's shape\n"
            "  serve        OpenAI-compatible HTTP server with a chat page\n"
            "  version      print the version\n",
            zeta_version_string());
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return 2; }
    const char *c = argv[1];
    if (!strcmp(c, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(c, "chat")) return cmd_chat(argc - 1, argv + 1);
    if (!strcmp(c, "calibrate")) return cmd_calibrate(argc - 1, argv + 1);
    if (!strcmp(c, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(c, "tokenize")) return cmd_tokenize(argc - 1, argv + 1);
    if (!strcmp(c, "perplexity")) return cmd_perplexity(argc - 1, argv + 1);
    if (!strcmp(c, "logits")) return cmd_logits(argc - 1, argv + 1);
    if (!strcmp(c, "quantize")) return cmd_quantize(argc - 1, argv + 1);
    if (!strcmp(c, "bench")) return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(c, "synth")) return cmd_synth(argc - 1, argv + 1);
    if (!strcmp(c, "serve")) return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(c, "version") || !strcmp(c, "--version")) { printf("zeta %s (cpu kernels: %s)\n", zeta_version_string(), zeta_cpu_kernels()); return 0; }
    if (!strcmp(c, "-h") || !strcmp(c, "--help") || !strcmp(c, "help")) { usage(stdout); return 0; }
    usage(stderr);
    return die("unknown command '%s'", c) ? 2 : 2;
}
