/* serve_slots.c — N slots, each one zeta_session served by one worker thread, and a bounded FIFO
 * queue in front of them. A new request goes to the idle slot whose session shares the longest
 * prefix with the request's tokens (so a chat's next turn lands where its history is cached and
 * zeta_generate's reuse_prefix skips it); when every slot is busy it waits in the queue, and when
 * the queue is full it is refused (429). A client that leaves cancels its job: a queued job is
 * dropped, a running one is stopped through zeta_session_cancel and the text callback. */
#include "serve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct serve_job {
    serve_request req;
    char *prompt;                  /* the text given to zeta_generate (chat: rendered) */
    zeta_token *toks;              /* its tokens (for prefix affinity and usage) */
    size_t n_toks;
    pthread_mutex_t mu;            /* guards the fields below */
    pthread_cond_t cv;
    int refs;
    char *out;                     /* text produced and not yet taken */
    size_t out_len, out_cap;
    bool done, failed, oom;
    serve_error err;
    zeta_generate_result res;
    serve_usage gate;              /* the decoding mode's counters over this job (gated modes) */
    atomic_bool abandoned;         /* the client went away */
    double abandoned_at_ms;
    /* guarded by the slots' mutex */
    int slot;                      /* -1 while queued */
    bool running;
    serve_job *next;               /* queue link */
};

typedef struct slot {
    int index;
    zeta_session *session;
    zeta_session_stats seen;       /* the session's counters already added to the metrics */
    pthread_t thread;
    serve_job *job;                /* assigned, guarded by g.mu */
    pthread_cond_t cv;
} slot;

static struct {
    serve_config cfg;
    zeta_model *model;
    slot *slots;
    int n_started;
    pthread_mutex_t mu;            /* slots' jobs, the queue, metrics */
    serve_job *qhead, *qtail;
    int qlen;
    bool stopping;
    bool has_sparse;               /* the model was loaded with a sparsity file: every mode is available */
    serve_metrics m;
    uint64_t seed_counter;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

const serve_config *serve_slots_config(void) { return &g.cfg; }
zeta_model *serve_slots_model(void) { return g.model; }
const serve_request *serve_job_request(const serve_job *j) { return &j->req; }

void serve_metrics_get(serve_metrics *m) {
    pthread_mutex_lock(&g.mu);
    *m = g.m;
    m->slots_total = g.cfg.n_slots;
    m->queue_depth = g.qlen;
    int busy = 0;
    for (int i = 0; i < g.n_started; i++) busy += g.slots[i].job != NULL;
    m->slots_busy = busy;
    pthread_mutex_unlock(&g.mu);
}

void serve_metrics_count_response(int status) {
    pthread_mutex_lock(&g.mu);
    g.m.requests_total++;
    if (status < 300) g.m.responses_2xx++;
    else if (status < 500) g.m.responses_4xx++;
    else g.m.responses_5xx++;
    if (status == 429) g.m.rejected_429++;
    pthread_mutex_unlock(&g.mu);
}

static void job_free(serve_job *j) {
    serve_request_free(&j->req);
    free(j->prompt);
    free(j->toks);
    free(j->out);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
}

void serve_job_unref(serve_job *j) {
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    bool last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (last) job_free(j);
}

/* ---- the worker ---- */

static bool on_text(void *user, const char *text, size_t len) {
    serve_job *j = user;
    if (atomic_load(&j->abandoned)) return false;
    pthread_mutex_lock(&j->mu);
    if (j->out_len + len + 1 > j->out_cap) {
        size_t cap = (j->out_len + len + 1) * 2;
        char *b = realloc(j->out, cap);
        if (!b) {
            j->oom = true;
            pthread_mutex_unlock(&j->mu);
            return false;
        }
        j->out = b;
        j->out_cap = cap;
    }
    memcpy(j->out + j->out_len, text, len);
    j->out_len += len;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return true;
}

static void run_job(slot *sl, serve_job *j) {
    const serve_request *r = &j->req;
    zeta_generate_params gp = zeta_generate_params_default();
    gp.sampler.temperature = r->temperature;
    gp.sampler.top_p = r->top_p;
    gp.sampler.top_k = 0;   /* OpenAI sampling: temperature and top_p only */
    gp.sampler.min_p = 0;
    gp.sampler.frequency_penalty = r->frequency_penalty;
    gp.sampler.presence_penalty = r->presence_penalty;
    gp.sampler.repeat_last_n = -1;
    gp.max_tokens = r->has_max_tokens ? r->max_tokens : r->chat ? 0 : 16; /* OpenAI's defaults */
    const char *stops[SERVE_MAX_STOP + 1];
    size_t n_stop = 0;
    for (size_t i = 0; i < r->n_stop; i++) stops[n_stop++] = r->stop[i];
    if (r->chat) {
        const char *eot = zeta_chat_end_of_turn(g.cfg.chat_template);
        if (eot) stops[n_stop++] = eot;
    }
    gp.stop = stops;
    gp.n_stop = n_stop;
    gp.on_text = on_text;
    gp.user = j;
    gp.reuse_prefix = true;
    gp.parse_special = r->chat;
    uint64_t seed;
    if (r->has_seed) seed = r->seed;
    else {
        pthread_mutex_lock(&g.mu);
        seed = ++g.seed_counter ^ (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull;
        pthread_mutex_unlock(&g.mu);
    }
    zeta_session_set_seed(sl->session, seed);
    zeta_error err = {0};
    zeta_generate_result res;
    memset(&res, 0, sizeof res);
    /* the request's mode, or the server's (serve_submit refused gated modes without a sparsity file) */
    zeta_status st = zeta_session_set_mode(sl->session, r->has_mode ? r->mode : g.cfg.mode, &err);
    const bool mode_failed = st != ZETA_OK;
    if (!mode_failed) st = zeta_generate(sl->session, j->prompt, &gp, &res, &err);

    zeta_session_stats now;
    zeta_session_get_stats(sl->session, &now);
    serve_usage gate = {0};
    gate.mode = r->has_mode ? r->mode : g.cfg.mode;
    gate.gated = !mode_failed && gate.mode != ZETA_MODE_STANDARD;
    gate.steps = now.n_steps - sl->seen.n_steps;
    gate.sparse_steps = now.n_sparse_steps - sl->seen.n_sparse_steps;
    gate.dense_steps = now.n_dense_steps - sl->seen.n_dense_steps;
    gate.fallbacks = now.n_fallbacks - sl->seen.n_fallbacks;
    gate.drafted = now.n_drafted - sl->seen.n_drafted;
    gate.accepted = now.n_accepted - sl->seen.n_accepted;
    gate.verifies = now.n_verifies - sl->seen.n_verifies;
    gate.energy_sum = now.energy_sum - sl->seen.energy_sum;
    for (int k = 0; k < 4; k++) gate.kept_sum[k] = now.kept_sum[k] - sl->seen.kept_sum[k];
    pthread_mutex_lock(&g.mu);
    j->running = false;
    /* a cancel that arrived after the generation's last check must not hit the next job */
    if (atomic_load(&j->abandoned)) zeta_session_cancel_clear(sl->session);
    g.m.steps += gate.steps;
    g.m.sparse_steps += gate.sparse_steps;
    g.m.dense_steps += gate.dense_steps;
    g.m.fallbacks += gate.fallbacks;
    g.m.energy_sum += gate.energy_sum;
    for (int k = 0; k < 4; k++) g.m.kept_sum[k] += gate.kept_sum[k];
    g.m.drafted += gate.drafted;
    g.m.accepted += gate.accepted;
    g.m.verifies += gate.verifies;
    sl->seen = now;
    g.m.tokens_generated += res.n_generated;
    g.m.prompt_tokens += res.n_prompt;
    g.m.prompt_tokens_reused += res.n_reused;
    g.m.prompt_seconds += res.prompt_ms / 1e3;
    g.m.generate_seconds += res.generate_ms / 1e3;
    pthread_mutex_unlock(&g.mu);

    pthread_mutex_lock(&j->mu);
    j->res = res;
    j->gate = gate;
    if (j->oom) {
        j->failed = true;
        serve_error_set(&j->err, 500, "server_error", NULL, NULL, "out of memory buffering the generated text");
    } else if (mode_failed) {
        j->failed = true;
        serve_error_set(&j->err, st == ZETA_ERR_INVALID_ARGUMENT ? 400 : 500,
                        st == ZETA_ERR_INVALID_ARGUMENT ? "invalid_request_error" : "server_error", NULL, "mode", "%s", err.message);
    } else if (st != ZETA_OK && st != ZETA_ERR_CANCELLED) {
        j->failed = true;
        serve_error_set(&j->err, st == ZETA_ERR_CONTEXT_FULL ? 400 : 500,
                        st == ZETA_ERR_CONTEXT_FULL ? "invalid_request_error" : "server_error",
                        st == ZETA_ERR_CONTEXT_FULL ? "context_length_exceeded" : NULL, NULL, "%s", err.message);
    } else if (st == ZETA_ERR_CANCELLED) {
        j->failed = true;
        serve_error_set(&j->err, 499, "server_error", "cancelled", NULL, "the request was cancelled");
    }
    pthread_mutex_unlock(&j->mu);
}

/* g.mu held: the job leaves the queue / slot bookkeeping */
static void assign(slot *sl, serve_job *j) {
    sl->job = j;
    j->slot = sl->index;
    j->running = true;
    pthread_cond_signal(&sl->cv);
}

static void finish_job(serve_job *j) {
    pthread_mutex_lock(&j->mu);
    j->done = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    serve_job_unref(j);
}

static void *worker(void *arg) {
    slot *sl = arg;
    pthread_mutex_lock(&g.mu);
    for (;;) {
        while (!sl->job && !g.stopping) pthread_cond_wait(&sl->cv, &g.mu);
        if (!sl->job) break;
        serve_job *j = sl->job;
        pthread_mutex_unlock(&g.mu);
        if (!atomic_load(&j->abandoned)) run_job(sl, j);
        else {
            pthread_mutex_lock(&g.mu);
            j->running = false;
            zeta_session_cancel_clear(sl->session);
            pthread_mutex_unlock(&g.mu);
        }
        pthread_mutex_lock(&g.mu);
        sl->job = NULL;
        if (atomic_load(&j->abandoned)) {
            double dt = now_ms() - j->abandoned_at_ms;
            if (dt > g.m.disconnect_release_ms_max) g.m.disconnect_release_ms_max = dt;
        }
        /* the next waiting job (FIFO) takes this slot */
        while (g.qhead && !sl->job) {
            serve_job *n = g.qhead;
            g.qhead = n->next;
            if (!g.qhead) g.qtail = NULL;
            g.qlen--;
            n->next = NULL;
            assign(sl, n);
        }
        pthread_mutex_unlock(&g.mu);
        finish_job(j);
        pthread_mutex_lock(&g.mu);
    }
    pthread_mutex_unlock(&g.mu);
    return NULL;
}

bool serve_slots_start(const serve_config *cfg, zeta_model *model, serve_error *e) {
    g.cfg = *cfg;
    g.model = model;
    zeta_model_info mi;
    zeta_error ierr;
    g.has_sparse = zeta_model_describe(model, &mi, &ierr) == ZETA_OK && mi.sparse_bytes > 0;
    g.slots = calloc((size_t)cfg->n_slots, sizeof *g.slots);
    if (!g.slots) {
        serve_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
        return false;
    }
    for (int i = 0; i < cfg->n_slots; i++) {
        slot *sl = &g.slots[i];
        sl->index = i;
        zeta_session_params sp = zeta_session_params_default();
        sp.n_ctx = cfg->n_ctx;
        sp.n_threads = cfg->n_threads;
        sp.kv_type = cfg->kv_type;
        sp.kv_no_rotate = cfg->kv_no_rotate;
        sp.mode = cfg->mode;
        zeta_error err;
        if (zeta_session_new(model, &sp, &sl->session, &err) != ZETA_OK) {
            serve_error_set(e, 500, "server_error", NULL, NULL, "slot %d: %s", i, err.message);
            serve_slots_stop();
            return false;
        }
        pthread_cond_init(&sl->cv, NULL);
        if (pthread_create(&sl->thread, NULL, worker, sl) != 0) {
            zeta_session_free(sl->session);
            pthread_cond_destroy(&sl->cv);
            serve_error_set(e, 500, "server_error", NULL, NULL, "slot %d: cannot start a thread", i);
            serve_slots_stop();
            return false;
        }
        g.n_started = i + 1;
    }
    return true;
}

void serve_slots_stop(void) {
    pthread_mutex_lock(&g.mu);
    g.stopping = true;
    /* queued jobs end as cancelled; running ones are cancelled */
    for (serve_job *j = g.qhead; j;) {
        serve_job *n = j->next;
        pthread_mutex_lock(&j->mu);
        j->failed = true;
        serve_error_set(&j->err, 503, "server_error", "shutting_down", NULL, "the server is shutting down");
        pthread_mutex_unlock(&j->mu);
        pthread_mutex_unlock(&g.mu);
        finish_job(j);
        pthread_mutex_lock(&g.mu);
        j = n;
    }
    g.qhead = g.qtail = NULL;
    g.qlen = 0;
    for (int i = 0; i < g.n_started; i++) {
        if (g.slots[i].job && g.slots[i].job->running) {
            atomic_store(&g.slots[i].job->abandoned, true);
            zeta_session_cancel(g.slots[i].session);
        }
        pthread_cond_signal(&g.slots[i].cv);
    }
    pthread_mutex_unlock(&g.mu);
    for (int i = 0; i < g.n_started; i++) {
        pthread_join(g.slots[i].thread, NULL);
        zeta_session_free(g.slots[i].session);
        pthread_cond_destroy(&g.slots[i].cv);
    }
    free(g.slots);
    g.slots = NULL;
    g.n_started = 0;
}

/* ---- submitting ---- */

static bool render(serve_job *j, serve_error *e) {
    const serve_request *r = &j->req;
    if (!r->chat) return (j->prompt = strdup(r->prompt)) != NULL;
    size_t need = 0;
    zeta_error err;
    zeta_status st = zeta_chat_apply(g.cfg.chat_template, r->msgs, r->n_msgs, true, NULL, 0, &need, &err);
    if (st != ZETA_ERR_BUFFER_TOO_SMALL && st != ZETA_OK) {
        serve_error_set(e, 400, "invalid_request_error", "invalid_value", "messages", "%s", err.message);
        return false;
    }
    if (!(j->prompt = malloc(need + 1))) return false;
    if (zeta_chat_apply(g.cfg.chat_template, r->msgs, r->n_msgs, true, j->prompt, need + 1, &need, &err) != ZETA_OK) {
        serve_error_set(e, 400, "invalid_request_error", "invalid_value", "messages", "%s", err.message);
        return false;
    }
    return true;
}

static bool tokenize(serve_job *j, serve_error *e) {
    const unsigned flags = ZETA_TOKENIZE_ADD_SPECIAL | (j->req.chat ? ZETA_TOKENIZE_PARSE_SPECIAL : 0);
    size_t len = strlen(j->prompt), n = 0;
    zeta_error err;
    zeta_status st = zeta_tokenize(g.model, j->prompt, len, flags, NULL, 0, &n, &err);
    if (st != ZETA_OK && st != ZETA_ERR_BUFFER_TOO_SMALL) {
        serve_error_set(e, 400, "invalid_request_error", "invalid_value", j->req.chat ? "messages" : "prompt", "%s", err.message);
        return false;
    }
    if (!(j->toks = malloc((n ? n : 1) * sizeof *j->toks))) return false;
    if (zeta_tokenize(g.model, j->prompt, len, flags, j->toks, n, &n, &err) != ZETA_OK) {
        serve_error_set(e, 500, "server_error", NULL, NULL, "%s", err.message);
        return false;
    }
    j->n_toks = n;
    if (n >= g.cfg.n_ctx) {
        serve_error_set(e, 400, "invalid_request_error", "context_length_exceeded", j->req.chat ? "messages" : "prompt",
                        "This model's maximum context length is %u tokens. However, your %s resulted in %zu tokens "
                        "(one more is needed for the reply).",
                        g.cfg.n_ctx, j->req.chat ? "messages" : "prompt", n);
        return false;
    }
    return true;
}

serve_job *serve_submit(serve_request *req, serve_error *e) {
    serve_job *j = calloc(1, sizeof *j);
    if (!j) {
        serve_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
        return NULL;
    }
    j->req = *req;
    memset(req, 0, sizeof *req); /* the job owns the request now */
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->refs = 2; /* the caller and the slot */
    j->slot = -1;
    atomic_init(&j->abandoned, false);
    e->status = 0;
    if (j->req.has_mode && j->req.mode != ZETA_MODE_STANDARD && !g.has_sparse) {
        serve_error_set(e, 400, "invalid_request_error", "invalid_value", "mode",
                        "'mode' is '%s', but this server was started without --sparsity FILE (zeta calibrate writes one), "
                        "so only 'standard' is available", zeta_mode_name(j->req.mode));
        job_free(j);
        return NULL;
    }
    if (!render(j, e) || !tokenize(j, e)) {
        if (e->status == 0) serve_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
        job_free(j);
        return NULL;
    }
    pthread_mutex_lock(&g.mu);
    if (g.stopping) {
        pthread_mutex_unlock(&g.mu);
        serve_error_set(e, 503, "server_error", "shutting_down", NULL, "the server is shutting down");
        job_free(j);
        return NULL;
    }
    slot *best = NULL;
    size_t best_common = 0;
    for (int i = 0; i < g.n_started; i++) {
        slot *sl = &g.slots[i];
        if (sl->job) continue;
        size_t c = zeta_session_common_prefix(sl->session, j->toks, j->n_toks);
        if (!best || c > best_common) {
            best = sl;
            best_common = c;
        }
    }
    if (best) assign(best, j);
    else if (g.qlen < g.cfg.queue_max) {
        if (g.qtail) g.qtail->next = j;
        else g.qhead = j;
        g.qtail = j;
        g.qlen++;
    } else {
        pthread_mutex_unlock(&g.mu);
        serve_error_set(e, 429, "rate_limit_error", "queue_full", NULL,
                        "all %d slots are busy and %d requests are already waiting; try again later", g.cfg.n_slots,
                        g.cfg.queue_max);
        job_free(j);
        return NULL;
    }
    pthread_mutex_unlock(&g.mu);
    return j;
}

void serve_job_abandon(serve_job *j) {
    if (atomic_exchange(&j->abandoned, true)) return;
    pthread_mutex_lock(&g.mu);
    j->abandoned_at_ms = now_ms();
    if (j->slot < 0) { /* still queued: take it out; it never ran */
        serve_job **pp = &g.qhead, *prev = NULL;
        while (*pp && *pp != j) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        if (*pp) {
            *pp = j->next;
            if (g.qtail == j) g.qtail = prev;
            g.qlen--;
            g.m.cancelled++;
            pthread_mutex_unlock(&g.mu);
            pthread_mutex_lock(&j->mu);
            j->failed = true;
            serve_error_set(&j->err, 499, "server_error", "cancelled", NULL, "the request was cancelled");
            pthread_mutex_unlock(&j->mu);
            finish_job(j);
            return;
        }
    } else if (j->running) {
        g.m.cancelled++;
        zeta_session_cancel(g.slots[j->slot].session);
    }
    pthread_mutex_unlock(&g.mu);
}

bool serve_job_wait(serve_job *j, int timeout_ms, char **text, size_t *len, const char **finish, serve_usage *usage,
                    serve_error *e, bool *failed) {
    *text = NULL;
    *len = 0;
    pthread_mutex_lock(&j->mu);
    if (!j->out_len && !j->done && timeout_ms > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)timeout_ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        while (!j->out_len && !j->done)
            if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) == ETIMEDOUT) break;
    }
    if (j->out_len) {
        *text = j->out;
        *len = j->out_len;
        j->out = NULL;
        j->out_len = j->out_cap = 0;
    }
    bool end = j->done && !*text;
    if (end) {
        *failed = j->failed;
        if (j->failed) *e = j->err;
        *finish = j->res.finish == ZETA_FINISH_LENGTH || j->res.finish == ZETA_FINISH_CONTEXT_FULL ? "length" : "stop";
        *usage = j->gate;
        usage->completion_tokens = j->res.n_generated;
        usage->prompt_tokens = (uint32_t)j->n_toks;
        usage->cached_tokens = j->res.n_reused;
    }
    pthread_mutex_unlock(&j->mu);
    return end;
}
