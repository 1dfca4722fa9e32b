/* chat.c — an interactive multi-turn chat on stdin/stdout.
 *
 *   cc chat.c $(pkg-config --cflags --libs zeta) -o chat
 *   ./chat model.gguf [-n MAX_TOKENS] [--system TEXT] [-c CONTEXT]
 *
 * Each line read from stdin is a user message; `/quit` or end of input ends the chat. The program
 * keeps the conversation as a list of zeta_chat_message, renders all of it every turn with the
 * model's chat template (zeta_chat_apply) and passes the text to zeta_generate with reuse_prefix
 * set: the session keeps the tokens the new rendering shares with what it already holds, so only
 * the new user message (and the template's markup around it) is evaluated. The reply streams to
 * stdout; a one-line summary of each turn (tokens evaluated, reused, generated) goes to stderr.
 *
 * Uses only <zeta.h> and the C11 standard library. */
#include <zeta.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct text { /* a growing byte buffer, always NUL-terminated once allocated */
    char *p;
    size_t len, cap;
} text;

static bool text_append(text *t, const char *s, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1) cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) return false;
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
    return true;
}

/* one line of stdin without its line end; false at end of input (or out of memory) */
static bool read_line(text *line) {
    line->len = 0;
    int c;
    bool any = false;
    while ((c = getchar()) != EOF) {
        any = true;
        if (c == '\n') break;
        char ch = (char)c;
        if (!text_append(line, &ch, 1)) return false;
    }
    if (!any) return false;
    if (!text_append(line, "", 0)) return false; /* NUL-terminate an empty line too */
    if (line->len && line->p[line->len - 1] == '\r') line->p[--line->len] = '\0';
    return true;
}

static char *dup_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* the conversation: roles are string literals, contents are owned */
typedef struct chat {
    zeta_chat_message *msgs;
    size_t n, cap;
} chat;

static bool chat_add(chat *c, const char *role, const char *content) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        zeta_chat_message *m = realloc(c->msgs, cap * sizeof *m);
        if (!m) return false;
        c->msgs = m;
        c->cap = cap;
    }
    char *d = dup_string(content);
    if (!d) return false;
    c->msgs[c->n].role = role;
    c->msgs[c->n].content = d;
    c->n++;
    return true;
}

static void chat_remove(chat *c, size_t i, size_t count) {
    for (size_t k = i; k < i + count; k++) free((char *)c->msgs[k].content);
    memmove(c->msgs + i, c->msgs + i + count, (c->n - i - count) * sizeof *c->msgs);
    c->n -= count;
}

static bool on_text(void *user, const char *s, size_t len) {
    text *reply = user;
    fwrite(s, 1, len, stdout);
    fflush(stdout);
    return text_append(reply, s, len); /* out of memory: stop */
}

static const char *finish_name(zeta_finish_reason f) {
    switch (f) {
    case ZETA_FINISH_EOS: return "end of turn";
    case ZETA_FINISH_LENGTH: return "max tokens";
    case ZETA_FINISH_STOP_STRING: return "end of turn (stop string)";
    case ZETA_FINISH_STOPPED: return "stopped";
    case ZETA_FINISH_CONTEXT_FULL: return "context full";
    case ZETA_FINISH_NONE: break;
    }
    return "none";
}

/* renders the whole conversation, ending with the opening of the assistant's turn */
static zeta_status render(const char *tmpl, const chat *c, text *out, zeta_error *err) {
    size_t need = 0;
    for (;;) {
        zeta_status st = zeta_chat_apply(tmpl, c->msgs, c->n, true, out->p, out->cap, &need, err);
        if (st != ZETA_ERR_BUFFER_TOO_SMALL) return st;
        /* need is the length without the NUL; room for it too */
        size_t cap = need + 1 > 2 * out->cap ? need + 1 : 2 * out->cap;
        char *p = realloc(out->p, cap);
        if (!p) return ZETA_ERR_OUT_OF_MEMORY;
        out->p = p;
        out->cap = cap;
    }
}

static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s MODEL.gguf [-n MAX_TOKENS] [--system TEXT] [-c CONTEXT]\n"
                    "  reads one user message per line from stdin; /quit or end of input ends the chat\n"
                    "  -n  most tokens per reply (default 256; 0 = until the end of the turn)\n"
                    "  -c  context size in tokens (default 0: the model's, at most 4096)\n", argv0);
}

int main(int argc, char **argv) {
    const char *path = NULL, *system_prompt = NULL;
    long max_tokens = 256, n_ctx = 0;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-n") || !strcmp(argv[i], "-c")) && i + 1 < argc) {
            char *end;
            const char *opt = argv[i], *v = argv[++i];
            long x = strtol(v, &end, 10);
            if (!*v || *end || x < 0 || x > 1000000) {
                fprintf(stderr, "%s: %s: '%s' is not a number in 0..1000000\n", argv[0], opt, v);
                return 2;
            }
            *(opt[1] == 'n' ? &max_tokens : &n_ctx) = x;
        } else if (!strcmp(argv[i], "--system") && i + 1 < argc) {
            system_prompt = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(argv[0]);
            return 0;
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            usage(argv[0]);
            return 2;
        }
    }
    if (!path) {
        usage(argv[0]);
        return 2;
    }

    zeta_error err;
    zeta_model *model = NULL;
    zeta_session *session = NULL;
    chat conv = {0};
    text line = {0}, prompt = {0}, reply = {0};
    int rc = 1;

    if (zeta_model_load(path, NULL, &model, &err) != ZETA_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], err.message);
        goto out;
    }
    zeta_session_params sp = zeta_session_params_default();
    sp.n_ctx = (uint32_t)n_ctx;
    if (zeta_session_new(model, &sp, &session, &err) != ZETA_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], err.message);
        goto out;
    }
    const char *tmpl = zeta_model_chat_template(model);
    if (!tmpl) {
        fprintf(stderr, "%s: warning: the model has no chat template ZetaLm recognises; using chatml\n", argv[0]);
        tmpl = "chatml";
    }
    /* the template's end-of-turn text as a stop string: models whose vocabulary has it as an
     * end-of-generation token stop there anyway (ZETA_FINISH_EOS) */
    const char *eot = zeta_chat_end_of_turn(tmpl);
    fprintf(stderr, "%s: chat template %s; %u tokens of context; /quit to end\n", argv[0], tmpl,
            zeta_session_n_ctx(session));

    if (system_prompt && !chat_add(&conv, "system", system_prompt)) goto oom;
    const size_t first = conv.n; /* the first message that may be dropped when the context is full */

    zeta_generate_params gp = zeta_generate_params_default();
    gp.max_tokens = (uint32_t)max_tokens;
    gp.reuse_prefix = true;   /* evaluate only what the session does not hold yet */
    gp.parse_special = true;  /* the template's markup (<|im_start|> ...) becomes special tokens */
    gp.stop = eot ? &eot : NULL;
    gp.n_stop = eot ? 1 : 0;
    gp.on_text = on_text;
    gp.user = &reply;

    for (int turn = 1;;) {
        fputs("> ", stdout);
        fflush(stdout);
        if (!read_line(&line)) {
            if (ferror(stdin)) {
                fprintf(stderr, "%s: error reading stdin\n", argv[0]);
                goto out;
            }
            putchar('\n');
            break;
        }
        if (!strcmp(line.p, "/quit")) break;
        if (line.len == 0) continue;
        if (!chat_add(&conv, "user", line.p)) goto oom;

        zeta_generate_result res;
        zeta_status st;
        for (;;) {
            if ((st = render(tmpl, &conv, &prompt, &err)) != ZETA_OK) {
                if (st == ZETA_ERR_OUT_OF_MEMORY) goto oom;
                fprintf(stderr, "%s: %s\n", argv[0], err.message);
                goto out;
            }
            reply.len = 0;
            st = zeta_generate(session, prompt.p, &gp, &res, &err);
            /* the conversation no longer fits: forget the oldest exchange (keeping the system
             * message) and render again; the session re-evaluates what follows the changed part */
            if (st == ZETA_ERR_CONTEXT_FULL && conv.n - first >= 3) {
                fprintf(stderr, "%s: the conversation does not fit the context; dropping the oldest exchange\n", argv[0]);
                chat_remove(&conv, first, 2);
                continue;
            }
            break;
        }
        putchar('\n');
        fflush(stdout);
        if (st == ZETA_ERR_CONTEXT_FULL) {
            fprintf(stderr, "%s: %s; message not sent\n", argv[0], err.message);
            chat_remove(&conv, conv.n - 1, 1);
            continue;
        }
        if (st != ZETA_OK) {
            fprintf(stderr, "%s: %s\n", argv[0], err.message);
            goto out;
        }
        if (!chat_add(&conv, "assistant", reply.len ? reply.p : "")) goto oom;
        fprintf(stderr, "%s: turn %d: %u prompt tokens evaluated, %u reused, %u generated, finish: %s\n", argv[0], turn,
                res.n_prompt, res.n_reused, res.n_generated, finish_name(res.finish));
        turn++;
    }
    rc = 0;
    goto out;
oom:
    fprintf(stderr, "%s: out of memory\n", argv[0]);
out:
    for (size_t i = 0; i < conv.n; i++) free((char *)conv.msgs[i].content);
    free(conv.msgs);
    free(line.p);
    free(prompt.p);
    free(reply.p);
    zeta_session_free(session);
    zeta_model_free(model);
    return rc;
}
