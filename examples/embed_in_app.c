/* embed_in_app.c — ZetaLm inside a multi-threaded application.
 *
 * One zeta_model is loaded once and shared (it is immutable after loading, so any number of
 * threads may use it). Two worker threads each own a zeta_session and generate at the same time.
 * The main thread cancels session A with zeta_session_cancel() (the one session function that may
 * be called from another thread) while A is generating, and then checks what the library
 * documents:
 *   - A's zeta_generate returns ZETA_ERR_CANCELLED with a message; the tokens it evaluated before
 *     the cancel stay in the session (position = before + prompt + generated);
 *   - B, generating concurrently on the same model, is not affected;
 *   - A is still usable: the next zeta_generate on it continues normally;
 *   - a cancel sent while a session is idle makes its next eval/generate return
 *     ZETA_ERR_CANCELLED at once (nothing evaluated), and the call after that runs normally.
 * Exit status 0 only if all of that held.
 *
 *   cc embed_in_app.c $(pkg-config --cflags --libs zeta) -pthread -o embed_in_app
 *   ./embed_in_app model.gguf
 *
 * A tiny model generates hundreds of tokens in milliseconds, so a cancel sent "after a while"
 * could arrive when A has already finished. To make the demonstration deterministic, A's text
 * callback pauses after GATE_PIECES pieces of text until the main thread has sent the cancel
 * (callbacks may block; they only must not call functions on their own session). */
#define _POSIX_C_SOURCE 200809L
#include <zeta.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define GATE_PIECES 16
#define TEXT_CAP 2048

typedef struct worker {
    const char *name;
    zeta_session *session;
    const char *prompt;
    zeta_generate_params gp;
    bool gated;                 /* pause in the callback until the main thread has cancelled */
    /* filled by the worker */
    zeta_status status;
    zeta_error err;
    zeta_generate_result res;
    size_t pos_before, pos_after;
    char text[TEXT_CAP];
    size_t text_len;
    int pieces;
} worker;

/* shared between A's callback and the main thread */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool a_at_gate, a_done, cancel_sent;

static bool on_text(void *user, const char *text, size_t len) {
    worker *w = user;
    size_t room = TEXT_CAP - 1 - w->text_len;
    size_t n = len < room ? len : room;
    memcpy(w->text + w->text_len, text, n);
    w->text_len += n;
    w->text[w->text_len] = '\0';
    if (++w->pieces == GATE_PIECES && w->gated) {
        pthread_mutex_lock(&mu);
        a_at_gate = true;
        pthread_cond_broadcast(&cv);
        while (!cancel_sent) pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
    }
    return true; /* keep going: the cancel, not the callback, must end the generation */
}

static void *run_worker(void *arg) {
    worker *w = arg;
    w->gp.on_text = on_text;
    w->gp.user = w;
    w->pos_before = zeta_session_position(w->session);
    w->status = zeta_generate(w->session, w->prompt, &w->gp, &w->res, &w->err);
    w->pos_after = zeta_session_position(w->session);
    if (w->gated) {
        pthread_mutex_lock(&mu);
        a_done = true;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static int failures;
static void check(bool ok, const char *what) {
    printf("  %s: %s\n", ok ? "yes" : "NO", what);
    if (!ok) failures++;
}

static const char *finish_name(zeta_finish_reason f) {
    switch (f) {
    case ZETA_FINISH_EOS: return "eos";
    case ZETA_FINISH_LENGTH: return "length";
    case ZETA_FINISH_STOP_STRING: return "stop string";
    case ZETA_FINISH_STOPPED: return "stopped";
    case ZETA_FINISH_CONTEXT_FULL: return "context full";
    case ZETA_FINISH_NONE: break;
    }
    return "none";
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]);
        return 2;
    }
    zeta_error err;
    zeta_model *model = NULL;
    zeta_session *sa = NULL, *sb = NULL;
    int rc = 1;

    if (zeta_model_load(argv[1], NULL, &model, &err) != ZETA_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], err.message);
        return 1;
    }
    /* one thread per session: the two sessions run side by side */
    zeta_session_params sp = zeta_session_params_default();
    sp.n_threads = 1;
    if (zeta_session_new(model, &sp, &sa, &err) != ZETA_OK || zeta_session_new(model, &sp, &sb, &err) != ZETA_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], err.message);
        goto out;
    }

    static worker a, b; /* static: zero-initialised and off the stack */
    a.name = "A";
    a.session = sa;
    a.prompt = "Once upon a time";
    a.gp = zeta_generate_params_default();
    a.gp.sampler.temperature = 0;   /* greedy: the same text every run */
    a.gp.max_tokens = 0;            /* no limit: only the cancel (or EOS / a full context) ends it */
    a.gated = true;
    b.name = "B";
    b.session = sb;
    b.prompt = "The little dog";
    b.gp = zeta_generate_params_default();
    b.gp.max_tokens = 200;

    printf("model %s shared by two sessions, one worker thread each\n", argv[1]);
    pthread_t ta, tb;
    if (pthread_create(&ta, NULL, run_worker, &a) != 0) {
        fprintf(stderr, "%s: cannot start a thread\n", argv[0]);
        goto out;
    }
    if (pthread_create(&tb, NULL, run_worker, &b) != 0) {
        fprintf(stderr, "%s: cannot start a thread\n", argv[0]);
        pthread_mutex_lock(&mu);
        cancel_sent = true; /* release A if it waits at the gate */
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
        zeta_session_cancel(sa);
        pthread_join(ta, NULL);
        goto out;
    }

    /* wait until A is generating, give it a short while more, then cancel it from this thread */
    pthread_mutex_lock(&mu);
    while (!a_at_gate && !a_done) pthread_cond_wait(&cv, &mu);
    bool reached = a_at_gate;
    pthread_mutex_unlock(&mu);
    if (reached) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        printf("main: A has streamed %d pieces of text; calling zeta_session_cancel(A)\n", GATE_PIECES);
    }
    zeta_session_cancel(sa);
    pthread_mutex_lock(&mu);
    cancel_sent = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    if (!reached) {
        /* A ended on its own before the cancel could be sent; the cancel now pending would make A's
         * next call return ZETA_ERR_CANCELLED, which is not what this run set out to show */
        printf("A finished (%s, finish %s) before it could be cancelled\n", zeta_status_name(a.status),
               finish_name(a.res.finish));
        goto out;
    }

    printf("A: %s \"%s\" after %u prompt + %u generated tokens; text: %.60s...\n", zeta_status_name(a.status),
           a.status == ZETA_OK ? "" : a.err.message, a.res.n_prompt, a.res.n_generated, a.text);
    check(a.status == ZETA_ERR_CANCELLED && a.err.status == ZETA_ERR_CANCELLED,
          "the cancelled session's zeta_generate returned ZETA_ERR_CANCELLED");
    check(a.res.n_generated >= GATE_PIECES && a.pos_after == a.pos_before + a.res.n_prompt + a.res.n_generated,
          "the tokens evaluated before the cancel stay in the session");
    printf("B: %s, %u generated tokens, finish %s; text: %.60s...\n", zeta_status_name(b.status), b.res.n_generated,
           finish_name(b.res.finish), b.text);
    check(b.status == ZETA_OK && b.res.n_generated > 0 &&
              (b.res.finish == ZETA_FINISH_LENGTH || b.res.finish == ZETA_FINISH_EOS),
          "the concurrent session on the same model finished normally");

    /* A is still usable: continue the same story */
    zeta_generate_params gp = zeta_generate_params_default();
    gp.max_tokens = 16;
    zeta_generate_result res;
    size_t pos = zeta_session_position(sa);
    zeta_status st = zeta_generate(sa, " Then", &gp, &res, &err);
    printf("A again: %s, %u prompt + %u generated tokens, finish %s%s%s\n", zeta_status_name(st), res.n_prompt,
           res.n_generated, finish_name(res.finish), st == ZETA_OK ? "" : ": ", st == ZETA_OK ? "" : err.message);
    check(st == ZETA_OK && zeta_session_position(sa) == pos + res.n_prompt + res.n_generated,
          "the cancelled session generates again afterwards");

    /* a cancel sent while idle applies to the next call, once */
    zeta_session_cancel(sa);
    pos = zeta_session_position(sa);
    st = zeta_generate(sa, " The end.", &gp, &res, &err);
    printf("A after an idle cancel: %s (%s), position %zu -> %zu\n", zeta_status_name(st),
           st == ZETA_OK ? "" : err.message, pos, zeta_session_position(sa));
    check(st == ZETA_ERR_CANCELLED && zeta_session_position(sa) == pos,
          "a cancel sent while idle cancels the next call before it evaluates anything");
    st = zeta_generate(sa, " The end.", &gp, &res, &err);
    if (st != ZETA_OK) printf("A: %s\n", err.message);
    check(st == ZETA_OK, "the call after that runs normally");

    zeta_session_stats stats;
    zeta_session_get_stats(sa, &stats);
    printf("A's counters: %llu tokens evaluated in %u evals\n", (unsigned long long)stats.n_evaluated, stats.n_evals);
    printf("%s\n", failures ? "some checks failed" : "everything behaved as documented");
    rc = failures ? 1 : 0;
out:
    zeta_session_free(sa);
    zeta_session_free(sb);
    zeta_model_free(model);
    return rc;
}
