/* cli_quantize.c — the `zeta quantize` subcommand: argument parsing, the per-tensor plan of a dry
 * run, a progress bar on a terminal (one line per tensor otherwise), fallback notes and the final
 * size and bits per weight. Uses only zeta.h. */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_OVERRIDES 64

static const char *quantize_help =
    "usage: zeta quantize [options] IN.gguf OUT.gguf TYPE [THREADS]\n"
    "       zeta quantize --dry-run [options] IN.gguf [OUT.gguf] TYPE\n"
    "Converts a model to TYPE as llama.cpp's llama-quantize does (no importance matrix): the same\n"
    "per-tensor mixes, fallbacks, tensor order and metadata. The output is written to a temporary file\n"
    "next to OUT.gguf and renamed when complete; the input is never overwritten.\n"
    "  --pure                 every quantizable tensor gets TYPE's base type (no mixes; fallbacks still apply)\n"
    "  -t, --threads N        threads (default: physical cores)\n"
    "  --dry-run              print the per-tensor plan and the sizes; write nothing\n"
    "  --allow-requantize     accept an already-quantized input (dequantized and quantized again: lossy)\n"
    "  --tensor-type RE=T     tensors whose name matches the regular expression RE get type T, e.g.\n"
    "                         ffn_down=f16 (repeatable; first match wins; only for quantized TYPEs)\n"
    "TYPE (case-insensitive): %s\n";

typedef struct ui {
    bool tty;
    bool dry;
    int last_pct;
    float frac;            /* last fraction reported */
    char current[96];
} ui;

static void shape_text(const zeta_quantize_tensor *t, char *buf, size_t cap) {
    int o = snprintf(buf, cap, "[%llu", (unsigned long long)t->ne[0]);
    for (uint32_t d = 1; d < t->n_dims && o > 0 && (size_t)o < cap; d++)
        o += snprintf(buf + o, cap - (size_t)o, ", %llu", (unsigned long long)t->ne[d]);
    if (o > 0 && (size_t)o < cap) snprintf(buf + o, cap - (size_t)o, "]");
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

static void draw_bar(ui *u, float fraction) {
    int pct = (int)(fraction * 100.0f + 0.5f);
    if (pct < 0) pct = 0;
    if (pct > 100) pct = 100;
    const int width = 30, fill = pct * width / 100;
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : ' ';
    bar[width] = 0;
    fprintf(stderr, "\r\033[K[%s] %3d%%  %s", bar, pct, u->current);
    fflush(stderr);
    u->last_pct = pct;
}

/* Ctrl-C / kill / hang-up: the next progress report cancels, so the library removes its temporary file */
static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

static bool on_progress(void *user, float fraction) {
    ui *u = user;
    if (g_stop) return false;
    int pct = (int)(fraction * 100.0f + 0.5f);
    u->frac = fraction;
    if (u->tty && pct != u->last_pct) draw_bar(u, fraction);
    return true;
}

static void on_tensor(void *user, const zeta_quantize_tensor *t) {
    ui *u = user;
    char shape[96];
    shape_text(t, shape, sizeof shape);
    const char *from = zeta_type_name(t->from), *to = zeta_type_name(t->to);
    if (u->dry) {
        if (t->index == 0) printf("%-36s %-20s %-7s    %-7s %14s\n", "tensor", "shape", "from", "to", "size");
        printf("%-36s %-20s %-7s -> %-7s %10.3f MiB%s%s\n", t->name, shape, from, to, mib(t->bytes_out), *t->note ? "  " : "",
               t->note);
        return;
    }
    if (u->tty) {
        snprintf(u->current, sizeof u->current, "%s", t->name);
        if (*t->note) fprintf(stderr, "\r\033[Kzeta: %s: %s\n", t->name, t->note);
        draw_bar(u, u->frac);
        return;
    }
    fprintf(stderr, "[%4u/%4u] %-36s %-20s %-7s -> %-7s %9.3f MiB -> %9.3f MiB%s%s\n", t->index + 1, t->n_tensors, t->name,
            shape, from, to, mib(t->bytes_in), mib(t->bytes_out), *t->note ? "  " : "", t->note);
}

int cmd_quantize(int argc, char **argv) {
    zeta_quantize_params qp = zeta_quantize_params_default();
    const char *pos[4], *overrides[MAX_OVERRIDES];
    int n_pos = 0;
    size_t n_over = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long l;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { printf(quantize_help, zeta_quantize_types()); return 0; }
        else if (!strcmp(a, "--pure")) qp.pure = true;
        else if (!strcmp(a, "--dry-run")) qp.dry_run = true;
        else if (!strcmp(a, "--allow-requantize")) qp.allow_requantize = true;
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads") || !strcmp(a, "--tensor-type")) {
            if (!(v = arg_value(argc, argv, &i))) return 2;
            if (!strcmp(a, "--tensor-type")) {
                if (n_over == MAX_OVERRIDES) return die("quantize: at most %d --tensor-type options", MAX_OVERRIDES);
                overrides[n_over++] = v;
            } else {
                if (!arg_int(a, v, 1, 512, &l)) return 2;
                qp.n_threads = (int)l;
            }
        } else if (a[0] == '-' && a[1]) return die("quantize: unknown option '%s' (see zeta quantize --help)", a);
        else if (n_pos == 4) return die("quantize: too many arguments (see zeta quantize --help)");
        else pos[n_pos++] = a;
    }
    const char *in = NULL, *out = NULL, *type = NULL;
    if (n_pos == 2 && qp.dry_run) { in = pos[0]; type = pos[1]; }
    else if (n_pos == 3 || n_pos == 4) { in = pos[0]; out = pos[1]; type = pos[2]; }
    else return die("quantize: expected IN.gguf OUT.gguf TYPE (see zeta quantize --help)");
    long l;
    if (n_pos == 4) {
        if (!arg_int("THREADS", pos[3], 1, 512, &l)) return 2;
        qp.n_threads = (int)l;
    }
    qp.tensor_types = overrides;
    qp.n_tensor_types = n_over;

    ui u = {.tty = isatty(fileno(stderr)) != 0, .dry = qp.dry_run, .last_pct = -1};
    qp.on_progress = on_progress;
    qp.progress_user = &u;
    qp.on_tensor = on_tensor;
    qp.tensor_user = &u;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    zeta_quantize_result r;
    zeta_error err;
    zeta_status st = zeta_quantize(in, out, type, &qp, &r, &err);
    if (u.tty && !qp.dry_run && u.last_pct >= 0) fputs("\r\033[K", stderr);
    if (st != ZETA_OK) return die_err(&err);

    double bpw_in = r.n_elements ? 8.0 * (double)r.bytes_in / (double)r.n_elements : 0.0;
    double bpw_out = r.n_elements ? 8.0 * (double)r.bytes_out / (double)r.n_elements : 0.0;
    FILE *f = qp.dry_run ? stdout : stderr;
    fprintf(f, "%s%s: %u tensors, %u converted%s", qp.dry_run ? "" : "zeta: ", qp.dry_run ? "plan" : out, r.n_tensors,
            r.n_converted, r.n_fallback ? "" : "\n");
    if (r.n_fallback) fprintf(f, ", %u with a fallback type because of their row length\n", r.n_fallback);
    fprintf(f, "%sweights %.2f MiB (%.2f bits per weight) -> %.2f MiB (%.2f bits per weight); file %.2f MiB (%llu bytes)%s\n",
            qp.dry_run ? "" : "zeta: ", mib(r.bytes_in), bpw_in, mib(r.bytes_out), bpw_out, mib(r.file_bytes),
            (unsigned long long)r.file_bytes, qp.dry_run ? " if written" : "");
    return 0;
}
