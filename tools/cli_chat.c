/* cli_chat.c — `zeta chat`: an interactive multi-turn chat on the terminal (llama-cli's
 * conversation mode, `ollama run`). Each line of stdin is a user message (a line ending in '\'
 * continues on the next); the whole conversation is rendered with the chat template every turn and
 * generated with reuse_prefix, so the session evaluates only what the last turn added. When the
 * conversation no longer fits the context, the oldest turns are dropped (the system message stays).
 * Ctrl-C stops a reply (it is kept as far as it got); at the prompt, Ctrl-C or end of input ends the
 * chat. Commands: /quit, /clear, /mode MODE, /stats, /help. Uses only zeta.h. */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *chat_help =
    "usage: zeta chat -m MODEL [options]\n"
    "An interactive chat: each line you type is a message (end a line with \\ to go on on the next); the\n"
    "reply streams back. The model's chat template is used (--chat-template to choose one). Ctrl-C stops a\n"
    "reply; at the prompt, Ctrl-C, Ctrl-D or /quit ends the chat. Commands: /clear (forget the conversation),\n"
    "/mode MODE (decoding mode from now on), /stats (the session's counters), /help.\n"
    "  -m, --model FILE        GGUF model\n"
    "  --system TEXT           system message\n"
    "  --chat-template NAME    one of llama.cpp's template names (default: the model's, else chatml)\n"
    "  -n, --n-predict N       most tokens per reply (default 0 = until the end of the turn or the context)\n"
    SESSION_HELP
    GATE_HELP
    "  --stats                 after each reply, its tokens and speed on stderr\n";

static zeta_session *volatile g_session;   /* the session a reply is being generated on, for SIGINT */
static volatile sig_atomic_t g_interrupted; /* SIGINT while no reply was being generated */

static void on_sigint(int sig) {
    (void)sig;
    zeta_session *s = g_session;
    if (s) zeta_session_cancel(s); /* an atomic store */
    else g_interrupted = 1;
}

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static bool buf_add(buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

static bool on_text(void *user, const char *text, size_t len) {
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return buf_add(user, text, len);
}

/* one message from stdin: lines joined while they end in '\'; false at end of input or on an
 * interrupt. The line ends are not kept (a continued line's '\' becomes a newline). */
static bool read_message(buf *m, bool tty) {
    m->len = 0;
    if (!buf_add(m, "", 0)) return false;
    for (bool first = true;; first = false) {
        if (tty) fputs(first ? "> " : ". ", stderr);
        char *line = NULL;
        size_t cap = 0;
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0 || g_interrupted) {
            free(line);
            clearerr(stdin);
            return false;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        const bool more = n > 0 && line[n - 1] == '\\';
        bool ok = buf_add(m, line, (size_t)(more ? n - 1 : n)) && (!more || buf_add(m, "\n", 1));
        free(line);
        if (!ok) return false;
        if (!more) return true;
    }
}

typedef struct convo {
    zeta_chat_message *msg;
    size_t n, cap;
    bool has_system;
} convo;

static bool convo_add(convo *c, const char *role, const char *text) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        zeta_chat_message *p = realloc(c->msg, cap * sizeof *p);
        if (!p) return false;
        c->msg = p;
        c->cap = cap;
    }
    char *t = strdup(text);
    if (!t) return false;
    c->msg[c->n].role = role;
    c->msg[c->n].content = t;
    c->n++;
    return true;
}

/* drops the oldest exchange after the system message: the first message and, when it is a user
 * message, the assistant reply after it */
static void convo_drop_oldest(convo *c) {
    size_t at = c->has_system ? 1 : 0, k = 1;
    if (at + 1 < c->n && !strcmp(c->msg[at].role, "user") && !strcmp(c->msg[at + 1].role, "assistant")) k = 2;
    for (size_t i = at; i < at + k; i++) free((char *)c->msg[i].content);
    memmove(c->msg + at, c->msg + at + k, (c->n - at - k) * sizeof *c->msg);
    c->n -= k;
}

static void convo_clear(convo *c, size_t keep) {
    while (c->n > keep) free((char *)c->msg[--c->n].content);
}

/* the conversation rendered for the next reply (malloc'd), its token count in *n_tok */
static char *render(const zeta_model *m, const char *tmpl, const convo *c, size_t *n_tok, zeta_error *err) {
    size_t need = 0;
    const zeta_status st0 = zeta_chat_apply(tmpl, c->msg, c->n, true, NULL, 0, &need, err);
    if (st0 != ZETA_OK && st0 != ZETA_ERR_BUFFER_TOO_SMALL)
        return NULL;
    char *p = malloc(need + 1);
    if (!p || zeta_chat_apply(tmpl, c->msg, c->n, true, p, need + 1, &need, err) != ZETA_OK) {
        free(p);
        return NULL;
    }
    zeta_status st = zeta_tokenize(m, p, need, ZETA_TOKENIZE_ADD_SPECIAL | ZETA_TOKENIZE_PARSE_SPECIAL, NULL, 0, n_tok, err);
    if (st != ZETA_OK && st != ZETA_ERR_BUFFER_TOO_SMALL) {
        free(p);
        return NULL;
    }
    return p;
}

static int chat_loop(zeta_model *m, zeta_session *s, const char *tmpl, convo *c, zeta_generate_params gp, bool stats, bool has_sparsity) {
    const bool tty = isatty(0);
    const uint32_t n_ctx = zeta_session_n_ctx(s);
    const char *eot = zeta_chat_end_of_turn(tmpl);
    const char *stops[1] = {eot};
    gp.stop = stops;
    gp.n_stop = eot ? 1 : 0;
    gp.reuse_prefix = true;
    gp.parse_special = true;
    gp.on_text = on_text;
    buf msg = {0}, reply = {0};
    int rc = 0;
    while (read_message(&msg, tty)) {
        char *t = msg.p;
        if (!strcmp(t, "/quit") || !strcmp(t, "/exit")) break;
        if (!strcmp(t, "/help")) { fputs(chat_help, stderr); continue; }
        if (!strcmp(t, "/clear")) {
            convo_clear(c, c->has_system ? 1 : 0);
            zeta_error err;
            zeta_session_rewind(s, 0, &err);
            fprintf(stderr, "zeta: conversation cleared\n");
            continue;
        }
        if (!strncmp(t, "/mode", 5) && (t[5] == ' ' || !t[5])) {
            zeta_mode mode;
            zeta_error err;
            const char *name = t[5] ? t + 6 : "";
            if (!arg_mode("/mode", name, &mode)) continue;
            if (mode != ZETA_MODE_STANDARD && !has_sparsity)
                fprintf(stderr, "zeta: /mode %s needs a sparsity file: start zeta chat with --sparsity FILE (zeta calibrate writes one)\n",
                        zeta_mode_name(mode));
            else if (zeta_session_set_mode(s, mode, &err) != ZETA_OK) fprintf(stderr, "zeta: %s\n", err.message);
            else fprintf(stderr, "zeta: mode %s\n", zeta_mode_name(mode));
            continue;
        }
        if (!strcmp(t, "/stats")) { gate_print_stats(stderr, s, zeta_session_mode(s)); continue; }
        if (t[0] == '/' && t[1] != '/') {
            fprintf(stderr, "zeta: unknown command '%s' (/help lists them; start a message with // to send a '/')\n", t);
            continue;
        }
        if (t[0] == '/') t++; /* "//..." sends "/..." */
        if (!t[0]) continue;
        if (!convo_add(c, "user", t)) { rc = die("out of memory"); break; }
        /* the conversation must leave room for a reply: the oldest exchanges go first */
        zeta_error err;
        size_t n_tok = 0, dropped = 0;
        char *prompt = NULL;
        for (;;) {
            free(prompt);
            if (!(prompt = render(m, tmpl, c, &n_tok, &err))) break;
            const size_t room = gp.max_tokens ? gp.max_tokens : n_ctx / 4;
            if (n_tok + (room < n_ctx / 2 ? room : n_ctx / 2) <= n_ctx || c->n - (c->has_system ? 1 : 0) <= 1) break;
            convo_drop_oldest(c);
            dropped++;
        }
        if (!prompt) { fprintf(stderr, "zeta: %s\n", err.message); convo_clear(c, c->n - 1); continue; }
        if (dropped) fprintf(stderr, "zeta: the conversation outgrew the context: the %zu oldest message%s dropped\n", dropped,
                             dropped == 1 ? " was" : "s were");
        if (n_tok >= n_ctx) {
            fprintf(stderr, "zeta: the message needs %zu tokens but the context holds %u (-c to enlarge it)\n", n_tok, n_ctx);
            free(prompt);
            convo_clear(c, c->n - 1);
            continue;
        }
        reply.len = 0;
        buf_add(&reply, "", 0);
        gp.user = &reply;
        zeta_generate_result res;
        g_session = s;
        zeta_status st = zeta_generate(s, prompt, &gp, &res, &err);
        g_session = NULL;
        free(prompt);
        fputc('\n', stdout);
        fflush(stdout);
        if (st == ZETA_ERR_CANCELLED && (!reply.p || !reply.p[0])) {
            /* stopped before any text (during the prompt, say): no empty assistant turn; the
             * unanswered message leaves the conversation too, so the next one is not a second user
             * turn in a row */
            fprintf(stderr, "zeta: stopped before the reply began; that message was taken out of the conversation\n");
            convo_clear(c, c->n - 1);
            continue;
        }
        if (st == ZETA_ERR_CANCELLED) fprintf(stderr, "zeta: reply stopped\n");
        else if (st != ZETA_OK) { fprintf(stderr, "zeta: %s\n", err.message); convo_clear(c, c->n - 1); continue; }
        else if (res.finish == ZETA_FINISH_LENGTH && gp.max_tokens) fprintf(stderr, "zeta: reply cut at -n %u tokens\n", gp.max_tokens);
        else if (res.finish == ZETA_FINISH_CONTEXT_FULL) fprintf(stderr, "zeta: reply cut: the context is full\n");
        if (!convo_add(c, "assistant", reply.p ? reply.p : "")) { rc = die("out of memory"); break; }
        if (stats)
            fprintf(stderr, "zeta: %u prompt tokens evaluated (%u reused), %u generated in %.1f ms (%.2f tokens/s)\n", res.n_prompt,
                    res.n_reused, res.n_generated, res.generate_ms,
                    res.generate_ms > 0 ? res.n_generated * 1000.0 / res.generate_ms : 0.0);
    }
    if (tty) fputc('\n', stderr);
    free(msg.p);
    free(reply.p);
    return rc;
}

int cmd_chat(int argc, char **argv) {
    const char *model = NULL, *system = NULL, *tmpl = NULL;
    zeta_session_params sp = zeta_session_params_default();
    zeta_generate_params gp = zeta_generate_params_default();
    gp.max_tokens = 0;
    bool seed_given = false, stats = false;
    zeta_backend backend = ZETA_BACKEND_AUTO;
    gate_opts g;
    gate_opts_init(&g);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long l;
        int go, so;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(chat_help, stdout); return 0; }
        else if (!strcmp(a, "--stats")) stats = true;
        else if (!(v = arg_value(argc, argv, &i))) return 2;
        else if ((go = gate_option(&g, a, v)) != 0) { if (go < 0) return 2; }
        else if ((so = session_option(&sp, &gp.sampler, &seed_given, a, v)) != 0) { if (so < 0) return 2; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--system")) system = v;
        else if (!strcmp(a, "--chat-template")) tmpl = v;
        else if (!strcmp(a, "--backend")) { if (!arg_backend(a, v, &backend)) return 2; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { if (!arg_int(a, v, 0, 1 << 24, &l)) return 2; gp.max_tokens = (uint32_t)l; }
        else return die("chat: unknown option '%s' (see zeta chat --help)", a);
    }
    if (!model) return die("chat: -m MODEL is required (see zeta chat --help)");
    if (tmpl) {
        size_t need;
        zeta_error terr;
        const zeta_status st = zeta_chat_apply(tmpl, NULL, 0, true, NULL, 0, &need, &terr);
        if (st != ZETA_OK && st != ZETA_ERR_BUFFER_TOO_SMALL)
            return die("chat: --chat-template '%s' is not one of: %s", tmpl, zeta_chat_templates());
    }
    if (!seed_given) sp.seed = (uint64_t)time(NULL);
    zeta_model *m = load_model_gate(model, backend, &g);
    if (!m) return 1;
    if (!tmpl && !(tmpl = zeta_model_chat_template(m))) {
        fprintf(stderr, "zeta: the model has no chat template ZetaLm recognises; using chatml (--chat-template NAME to choose)\n");
        tmpl = "chatml";
    }
    zeta_session *s = NULL;
    zeta_error err;
    int rc = 0;
    convo c = {0};
    gate_session_params(&g, &sp);
    if (zeta_session_new(m, &sp, &s, &err) != ZETA_OK) { rc = die_err(&err); goto out; }
    if (system && *system) {
        if (!convo_add(&c, "system", system)) { rc = die("out of memory"); goto out; }
        c.has_system = true;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint; /* no SA_RESTART: Ctrl-C at the prompt ends getline */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    if (isatty(0))
        fprintf(stderr, "zeta: chatting with %s (template %s, mode %s); /help for commands, Ctrl-D to end\n", model, tmpl,
                zeta_mode_name(zeta_session_mode(s)));
    rc = chat_loop(m, s, tmpl, &c, gp, stats, g.file != NULL);
    signal(SIGINT, SIG_DFL);
    if (g.mode != ZETA_MODE_STANDARD && stats) gate_print_stats(stderr, s, zeta_session_mode(s));
out:
    convo_clear(&c, 0);
    free(c.msg);
    zeta_session_free(s);
    zeta_model_free(m);
    return rc;
}
