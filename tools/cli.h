/* cli.h — shared pieces of the zeta command-line tool: option parsing helpers, error exit, and
 * the subcommand entry points. The CLI uses only the public API in zeta.h. */
#ifndef ZETA_CLI_H
#define ZETA_CLI_H

#include "zeta.h"
#include <stdbool.h>
#include <stdio.h>

/* prints "zeta: <message>" to stderr and returns 1 (for `return die(...)`) */
int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* prints "zeta: <err.message>" and returns 1 */
int die_err(const zeta_error *err);

/* option value parsing: return false (after printing an error) when the value is bad */
bool arg_int(const char *opt, const char *val, long lo, long hi, long *out);
bool arg_float(const char *opt, const char *val, double lo, double hi, double *out);
/* "f16" / "f32" -> type */
bool arg_kv_type(const char *opt, const char *val, zeta_type *out);
bool arg_kv_rotate(const char *opt, const char *val, bool *no_rotate);
bool arg_rope_scale(const char *opt, const char *val, float *out);
bool arg_rope_scaling(const char *opt, const char *val, zeta_rope_scaling *out);
/* the value of option argv[*i] (advances *i); NULL after printing an error if missing */
const char *arg_value(int argc, char **argv, int *i);

/* reads a whole file (binary); NULL after printing an error */
char *read_file(const char *path, size_t *len);

/* "auto" / "cpu" / "cuda" -> backend */
bool arg_backend(const char *opt, const char *val, zeta_backend *out);

/* loads a model (load_model: backend AUTO), printing the error */
zeta_model *load_model(const char *path);
zeta_model *load_model_on(const char *path, zeta_backend backend);

/* the session and sampler options shared by run and chat (-c, -t, --temp, --top-k, --top-p, --min-p,
 * the penalties, --seed, the KV cache and RoPE options): 1 when (a, v) was one, 0 when not, -1 on a
 * bad value (error printed) */
int session_option(zeta_session_params *sp, zeta_sampler_params *smp, bool *seed_given, const char *a, const char *v);
#define SESSION_HELP \
    "  -c, --ctx-size N        context size (default: the model's, at most 4096)\n" \
    "  -t, --threads N         threads (default: physical cores)\n" \
    "  --backend B             auto (default: cuda when built in and a GPU is there), cpu or cuda\n" \
    "  --temp X                temperature (default 0.8; 0 = greedy)\n" \
    "  --top-k N               (default 40; 0 = off)\n" \
    "  --top-p X               (default 0.95; 1 = off)\n" \
    "  --min-p X               (default 0.05; 0 = off)\n" \
    "  --repeat-penalty X      (default 1.0 = off)\n" \
    "  --repeat-last-n N       tokens the penalties look at (default 64; -1 = all)\n" \
    "  --frequency-penalty X   (default 0)\n" \
    "  --presence-penalty X    (default 0)\n" \
    "  --seed N                RNG seed (default: from the clock)\n" \
    "  -ctk, --cache-type-k T  K cache type: f16 (default), f32, q8_0, q4_0 (also V, unless -ctv)\n" \
    "  -ctv, --cache-type-v T  V cache type (default: as K)\n" \
    "  --kv-rotate on|off      store a quantized K / V cache Hadamard-rotated (default on, as llama.cpp)\n" \
    "  --rope-scale N          RoPE linear scaling: stretch the trained context N times (also --rope-freq-scale 1/N)\n" \
    "  --rope-scaling T        none, linear or yarn (default: the model's)\n" \
    "  --yarn-orig-ctx N       YaRN: the original context (default: the model's)\n"

/* variational gating options shared by run, perplexity and bench (cli_gate.c) */
typedef struct gate_opts {
    const char *file;        /* --sparsity FILE */
    zeta_mode mode;          /* --mode */
    float level, gate, fallback; /* --level, --gate, --fallback (-1: the file's) */
    uint32_t draft;          /* --draft */
} gate_opts;
void gate_opts_init(gate_opts *g);
bool arg_mode(const char *opt, const char *val, zeta_mode *out);
/* 1: (a, v) was a gating option, 0: not one, -1: a bad value (error printed) */
int gate_option(gate_opts *g, const char *a, const char *v);
/* loads with the sparsity file (backend AUTO becomes CPU when there is one) */
zeta_model *load_model_gate(const char *path, zeta_backend backend, const gate_opts *g);
void gate_session_params(const gate_opts *g, zeta_session_params *sp);
void gate_print_stats(FILE *f, const zeta_session *s, zeta_mode mode);
#define GATE_HELP \
    "  --mode M                standard (default), variational, ultimate (draft + verify) or sparse (every step)\n" \
    "  --sparsity FILE         sparsity file from zeta calibrate (needed by every mode but standard)\n" \
    "  --level X               target sparsity: a level of the file (default: nearest 0.5; 0 = none dropped)\n" \
    "  --gate H, --fallback H  entropy thresholds in nats (default: the file's calibrated values)\n" \
    "  --draft N               ultimate: tokens drafted per verification (default 4)\n"

int cmd_calibrate(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
