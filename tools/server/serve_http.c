/* serve_http.c — `zeta serve`: libmicrohttpd in thread-per-connection mode (each connection's
 * thread may block in our callbacks while its request is queued or generating), routing,
 * authentication, body limits, server-sent events, the chat page, /metrics, and disconnect
 * detection: while a connection's thread waits for text it looks at the socket every 20 ms, so a
 * client that leaves cancels its generation within about 20 ms, even during prompt evaluation. */
#include "cli.h"
#include "serve.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

extern const char serve_page_html[];
extern const unsigned long serve_page_len;

static struct {
    const char *api_key;
    size_t max_body;
    bool verbose;
    atomic_bool stopping;
    atomic_ullong next_id;
} S;

#define WAIT_MS 20

enum route { R_NONE, R_PAGE, R_HEALTH, R_MODELS, R_COMPLETIONS, R_CHAT, R_METRICS };

typedef struct conn_ctx {
    enum route route;
    char *body;
    size_t len, cap;
    bool too_big;
    double t0;
} conn_ctx;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool peer_closed(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return false;
    char b;
    ssize_t r = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* the methods a route takes, for the Allow header of a 405 (set before replying with one) */
static _Thread_local const char *allow_for;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype, char *body, size_t len,
                             bool take) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body, take ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (take) free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    if (status == 405 && allow_for) MHD_add_response_header(r, "Allow", allow_for);
    if (status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    serve_metrics_count_response((int)status);
    return ok;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, char *json) {
    if (!json) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":null}}";
        return reply(c, 500, "application/json", (char *)oom, sizeof oom - 1, false);
    }
    return reply(c, status, "application/json", json, strlen(json), true);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, const serve_error *e) {
    return reply_json(c, (unsigned)e->status, serve_error_body(e));
}

/* ---- streaming ---- */

typedef struct stream_ctx {
    serve_job *job;
    struct MHD_Connection *conn;
    bool chat, include_usage, started, ended, finished;
    char id[48];
    long created;
    char *stage;                   /* formatted bytes not yet handed to MHD */
    size_t stage_len, stage_off;
} stream_ctx;

static bool stage(stream_ctx *s, char *chunk) {
    if (!chunk) return false;
    free(s->stage);
    s->stage = chunk;
    s->stage_len = strlen(chunk);
    s->stage_off = 0;
    return true;
}

static bool stage_append(stream_ctx *s, char *chunk) {
    if (!chunk) return false;
    size_t n = strlen(chunk), have = s->stage_len - s->stage_off;
    char *b = malloc(have + n + 1);
    if (!b) {
        free(chunk);
        return false;
    }
    memcpy(b, s->stage ? s->stage + s->stage_off : "", have);
    memcpy(b + have, chunk, n + 1);
    free(chunk);
    free(s->stage);
    s->stage = b;
    s->stage_len = have + n;
    s->stage_off = 0;
    return true;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    stream_ctx *s = cls;
    const char *model = serve_slots_config()->model_id;
    for (;;) {
        if (s->stage_off < s->stage_len) {
            size_t n = s->stage_len - s->stage_off < max ? s->stage_len - s->stage_off : max;
            memcpy(buf, s->stage + s->stage_off, n);
            s->stage_off += n;
            return (ssize_t)n;
        }
        if (s->ended) return MHD_CONTENT_READER_END_OF_STREAM;
        if (!s->started) {
            s->started = true;
            if (s->chat && !stage(s, serve_sse_chunk(true, s->id, s->created, model, true, "", 0, NULL, NULL)))
                return MHD_CONTENT_READER_END_WITH_ERROR;
            continue;
        }
        char *text;
        size_t len;
        const char *finish = NULL;
        serve_usage usage = {0};
        serve_error e = {0};
        bool failed = false;
        bool end = serve_job_wait(s->job, WAIT_MS, &text, &len, &finish, &usage, &e, &failed);
        if (text) {
            bool ok = stage(s, serve_sse_chunk(s->chat, s->id, s->created, model, false, text, len, NULL, NULL));
            free(text);
            if (!ok) return MHD_CONTENT_READER_END_WITH_ERROR;
            continue;
        }
        if (end) {
            s->finished = true;
            s->ended = true;
            bool ok;
            if (failed) {
                char *body = serve_error_body(&e), *ev = NULL;
                if (body && (ev = malloc(strlen(body) + 9))) sprintf(ev, "data: %s\n\n", body);
                free(body);
                ok = stage(s, ev);
            } else {
                ok = stage(s, serve_sse_chunk(s->chat, s->id, s->created, model, false, "", 0, finish, NULL));
                if (ok && s->include_usage)
                    ok = stage_append(s, serve_sse_chunk(s->chat, s->id, s->created, model, false, NULL, 0, NULL, &usage));
            }
            if (ok) ok = stage_append(s, strdup("data: [DONE]\n\n"));
            if (!ok) return MHD_CONTENT_READER_END_WITH_ERROR;
            continue;
        }
        if (peer_closed(s->conn) || atomic_load(&S.stopping)) {
            serve_job_abandon(s->job);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
}

static void stream_free(void *cls) {
    stream_ctx *s = cls;
    if (!s->finished) serve_job_abandon(s->job); /* MHD gave up on the connection (write failed) */
    serve_job_unref(s->job);
    free(s->stage);
    free(s);
}

static void make_id(char *id, size_t cap, bool chat) {
    unsigned long long n = atomic_fetch_add(&S.next_id, 1);
    snprintf(id, cap, "%s-%llx%06llx", chat ? "chatcmpl" : "cmpl", (unsigned long long)time(NULL), n);
}

static enum MHD_Result handle_generate(struct MHD_Connection *c, conn_ctx *cc) {
    const bool chat = cc->route == R_CHAT;
    const serve_config *cfg = serve_slots_config();
    serve_request req;
    serve_error e;
    if (!serve_parse_request(cc->body ? cc->body : "", cc->len, chat, &req, &e)) return reply_error(c, &e);
    if (req.model) {
        size_t n = strlen(cfg->model_id);
        bool same = !strcmp(req.model, cfg->model_id) ||
                    (n > 5 && !strcmp(cfg->model_id + n - 5, ".gguf") && strlen(req.model) == n - 5 &&
                     !strncmp(req.model, cfg->model_id, n - 5));
        if (!same) {
            serve_error_set(&e, 404, "invalid_request_error", "model_not_found", "model",
                            "The model '%.200s' does not exist; this server serves '%s'", req.model, cfg->model_id);
            serve_request_free(&req);
            return reply_error(c, &e);
        }
    }
    const bool stream = req.stream, include_usage = req.include_usage;
    serve_job *job = serve_submit(&req, &e);
    serve_request_free(&req);
    if (!job) return reply_error(c, &e);
    char id[48];
    make_id(id, sizeof id, chat);
    const long created = (long)time(NULL);
    if (stream) {
        stream_ctx *s = calloc(1, sizeof *s);
        if (!s) {
            serve_job_abandon(job);
            serve_job_unref(job);
            return MHD_NO;
        }
        s->job = job;
        s->conn = c;
        s->chat = chat;
        s->include_usage = include_usage;
        s->created = created;
        memcpy(s->id, id, sizeof id);
        struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_reader, s, stream_free);
        if (!r) {
            stream_free(s);
            return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        MHD_add_response_header(r, "X-Accel-Buffering", "no");
        enum MHD_Result ok = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        serve_metrics_count_response(200);
        return ok;
    }
    /* non-streaming: collect the text here, watching the socket */
    char *all = NULL;
    size_t all_len = 0;
    double checked = now_ms();
    for (;;) {
        char *text;
        size_t len;
        const char *finish = NULL;
        serve_usage usage = {0};
        bool failed = false;
        bool end = serve_job_wait(job, WAIT_MS, &text, &len, &finish, &usage, &e, &failed);
        if (text) {
            char *b = realloc(all, all_len + len + 1);
            if (!b) {
                free(text);
                free(all);
                serve_job_abandon(job);
                serve_job_unref(job);
                serve_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
                return reply_error(c, &e);
            }
            all = b;
            memcpy(all + all_len, text, len);
            all_len += len;
            free(text);
            if (now_ms() - checked < WAIT_MS) continue;
        }
        if (end) {
            serve_job_unref(job);
            if (failed) {
                free(all);
                return reply_error(c, &e);
            }
            char *body = serve_json_completion(chat, id, created, cfg->model_id, all ? all : "", all_len, finish, &usage);
            free(all);
            return reply_json(c, 200, body);
        }
        checked = now_ms();
        if (peer_closed(c) || atomic_load(&S.stopping)) {
            serve_job_abandon(job);
            serve_job_unref(job);
            free(all);
            return MHD_NO; /* nobody to answer: close */
        }
    }
}

/* ---- small routes ---- */

static enum MHD_Result handle_metrics(struct MHD_Connection *c) {
    serve_metrics m;
    serve_metrics_get(&m);
    char *b = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&b, &n);
    if (!f) return MHD_NO;
    const double tps = m.generate_seconds > 0 ? (double)m.tokens_generated / m.generate_seconds : 0;
#define METRIC(name, type, help, fmt, v) \
    fprintf(f, "# HELP " name " " help "\n# TYPE " name " " type "\n" name " " fmt "\n", v)
    METRIC("zeta_requests_total", "counter", "HTTP responses sent (all routes)", "%llu", (unsigned long long)m.requests_total);
    fprintf(f, "# HELP zeta_responses_total HTTP responses by status class\n# TYPE zeta_responses_total counter\n"
               "zeta_responses_total{class=\"2xx\"} %llu\nzeta_responses_total{class=\"4xx\"} %llu\n"
               "zeta_responses_total{class=\"5xx\"} %llu\n",
            (unsigned long long)m.responses_2xx, (unsigned long long)m.responses_4xx, (unsigned long long)m.responses_5xx);
    METRIC("zeta_requests_rejected_total", "counter", "requests refused with 429 because the queue was full", "%llu",
           (unsigned long long)m.rejected_429);
    METRIC("zeta_requests_cancelled_total", "counter", "generations cancelled because the client went away", "%llu",
           (unsigned long long)m.cancelled);
    METRIC("zeta_tokens_generated_total", "counter", "tokens sampled", "%llu", (unsigned long long)m.tokens_generated);
    METRIC("zeta_prompt_tokens_total", "counter", "prompt tokens evaluated", "%llu", (unsigned long long)m.prompt_tokens);
    METRIC("zeta_prompt_tokens_reused_total", "counter", "prompt tokens taken from a slot's cache instead of evaluated",
           "%llu", (unsigned long long)m.prompt_tokens_reused);
    METRIC("zeta_generate_seconds_total", "counter", "time spent sampling and decoding", "%.6f", m.generate_seconds);
    METRIC("zeta_prompt_seconds_total", "counter", "time spent evaluating prompts", "%.6f", m.prompt_seconds);
    METRIC("zeta_tokens_per_second", "gauge", "tokens generated per second of decoding, over the server's life", "%.3f", tps);
    METRIC("zeta_slots_total", "gauge", "slots (concurrent generations)", "%d", m.slots_total);
    METRIC("zeta_slots_busy", "gauge", "slots generating now", "%d", m.slots_busy);
    METRIC("zeta_queue_depth", "gauge", "requests waiting for a slot", "%d", m.queue_depth);
    METRIC("zeta_disconnect_release_ms_max", "gauge",
           "largest time from noticing a client disconnect to its slot being free (ms)", "%.3f", m.disconnect_release_ms_max);
    METRIC("zeta_decode_steps_total", "counter", "single-token decoding steps of every mode", "%llu", (unsigned long long)m.steps);
    METRIC("zeta_sparse_steps_total", "counter", "steps that ran the sparse pass (variational gating)", "%llu",
           (unsigned long long)m.sparse_steps);
    METRIC("zeta_dense_steps_total", "counter", "steps that ran only the dense pass", "%llu", (unsigned long long)m.dense_steps);
    METRIC("zeta_fallbacks_total", "counter", "sparse steps recomputed densely", "%llu", (unsigned long long)m.fallbacks);
    METRIC("zeta_sparse_ratio", "gauge", "sparse steps / steps", "%.4f", m.steps ? (double)m.sparse_steps / (double)m.steps : 0.0);
    METRIC("zeta_fallback_rate", "gauge", "fallbacks / steps (as zeta_session_stats defines it)", "%.4f",
           m.steps ? (double)m.fallbacks / (double)m.steps : 0.0);
    METRIC("zeta_avg_energy_ratio", "gauge", "mean kept sum of squares / total over the sparse steps' inputs", "%.4f",
           m.sparse_steps ? m.energy_sum / (double)m.sparse_steps : 0.0);
    fprintf(f, "# HELP zeta_kept_fraction mean share of a thresholded input kept by the sparse steps (1 - achieved sparsity)\n"
               "# TYPE zeta_kept_fraction gauge\n");
    static const char *const kinds[4] = {"attn_in", "attn_out", "ffn_in", "ffn_mid"};
    for (int k = 0; k < 4; k++)
        fprintf(f, "zeta_kept_fraction{input=\"%s\"} %.4f\n", kinds[k], m.sparse_steps ? m.kept_sum[k] / (double)m.sparse_steps : 0.0);
    METRIC("zeta_draft_tokens_total", "counter", "tokens drafted by the sparse pass (ultimate)", "%llu", (unsigned long long)m.drafted);
    METRIC("zeta_draft_accepted_total", "counter", "drafted tokens accepted by the dense verification", "%llu",
           (unsigned long long)m.accepted);
    METRIC("zeta_draft_acceptance_rate", "gauge", "accepted / drafted", "%.4f", m.drafted ? (double)m.accepted / (double)m.drafted : 0.0);
#undef METRIC
    if (fclose(f) != 0) {
        free(b);
        return MHD_NO;
    }
    return reply(c, 200, "text/plain; version=0.0.4", b, n, true);
}

static enum route route_of(const char *url) {
    if (!strcmp(url, "/") || !strcmp(url, "/index.html")) return R_PAGE;
    if (!strcmp(url, "/health")) return R_HEALTH;
    if (!strcmp(url, "/v1/models")) return R_MODELS;
    if (!strcmp(url, "/v1/completions")) return R_COMPLETIONS;
    if (!strcmp(url, "/v1/chat/completions")) return R_CHAT;
    if (!strcmp(url, "/metrics")) return R_METRICS;
    return R_NONE;
}

static bool authorized(struct MHD_Connection *c) {
    if (!S.api_key) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7)) return false;
    h += 7;
    size_t n = strlen(S.api_key), m = strlen(h);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)S.api_key[i] ^ (unsigned char)(i < m ? h[i] : 0);
    return diff == 0;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    conn_ctx *cc = *con_cls;
    serve_error e;
    if (!cc) {
        if (!(cc = calloc(1, sizeof *cc))) return MHD_NO;
        *con_cls = cc;
        cc->t0 = now_ms();
        cc->route = route_of(url);
        const bool post = !strcmp(method, "POST"), get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
        if (cc->route == R_NONE) {
            serve_error_set(&e, 404, "invalid_request_error", "not_found", NULL, "no route %.16s %.200s", method, url);
            return reply_error(c, &e);
        }
        if (cc->route != R_PAGE && cc->route != R_HEALTH && !authorized(c)) {
            serve_error_set(&e, 401, "authentication_error", "invalid_api_key", NULL,
                            "a valid API key is required: send the header 'Authorization: Bearer KEY'");
            return reply_error(c, &e);
        }
        const bool wants_post = cc->route == R_COMPLETIONS || cc->route == R_CHAT;
        if (wants_post ? !post : !get) {
            allow_for = wants_post ? "POST" : "GET, HEAD";
            serve_error_set(&e, 405, "invalid_request_error", "method_not_allowed", NULL, "%.16s %s is not allowed; use %s",
                            method, url, wants_post ? "POST" : "GET");
            return reply_error(c, &e);
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > S.max_body) {
            serve_error_set(&e, 413, "invalid_request_error", "request_too_large", NULL,
                            "the body has %s bytes; the limit is %zu (zeta serve --max-body)", cl, S.max_body);
            return reply_error(c, &e);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cc->too_big) {
            if (cc->len + *upload_size > S.max_body) {
                cc->too_big = true;
                free(cc->body);
                cc->body = NULL;
                cc->len = 0;
            } else {
                if (cc->len + *upload_size + 1 > cc->cap) {
                    size_t cap = (cc->len + *upload_size + 1) * 2;
                    if (cap > S.max_body + 1) cap = S.max_body + 1;
                    char *b = realloc(cc->body, cap);
                    if (!b) return MHD_NO;
                    cc->body = b;
                    cc->cap = cap;
                }
                memcpy(cc->body + cc->len, upload, *upload_size);
                cc->len += *upload_size;
                cc->body[cc->len] = 0;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cc->too_big) {
        serve_error_set(&e, 413, "invalid_request_error", "request_too_large", NULL,
                        "the body is larger than the limit of %zu bytes (zeta serve --max-body)", S.max_body);
        return reply_error(c, &e);
    }
    switch (cc->route) {
    case R_PAGE: return reply(c, 200, "text/html; charset=utf-8", (char *)serve_page_html, serve_page_len, false);
    case R_HEALTH: return reply_json(c, 200, strdup("{\"status\":\"ok\"}"));
    case R_MODELS: return reply_json(c, 200, serve_json_models(serve_slots_config()->model_id, (long)time(NULL)));
    case R_METRICS: return handle_metrics(c);
    case R_COMPLETIONS:
    case R_CHAT: return handle_generate(c, cc);
    case R_NONE: break;
    }
    return MHD_NO;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    conn_ctx *cc = *con_cls;
    if (!cc) return;
    if (S.verbose) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
        fprintf(stderr, "zeta serve: route %d status %u %.1f ms%s\n", (int)cc->route, ci ? ci->http_status : 0,
                now_ms() - cc->t0, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
    }
    free(cc->body);
    free(cc);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    if (!S.verbose) return;
    fputs("zeta serve: libmicrohttpd: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* ---- the command ---- */

static const char *serve_help =
    "usage: zeta serve -m MODEL [options]\n"
    "An OpenAI-compatible HTTP server: GET /v1/models, POST /v1/completions, POST /v1/chat/completions\n"
    "(streaming with server-sent events or not), GET /health, GET /metrics (Prometheus), GET / (chat page).\n"
    "  -m, --model FILE        GGUF model\n"
    "      --host ADDR         address to bind (default 127.0.0.1; 0.0.0.0 or :: for every interface)\n"
    "      --port N            port (default 8080; 0 = any free port, printed when listening)\n"
    "  -np, --parallel N       slots: requests generated at once, one session each (default 1)\n"
    "      --queue N           requests that may wait for a slot; more get 429 (default 4 x parallel + 8)\n"
    "  -c, --ctx-size N        context per slot (default: the model's, at most 4096)\n"
    "  -t, --threads N         threads per slot (default: physical cores / parallel, at least 1)\n"
    "  -ctk, --cache-type-k T  KV cache type: f16 (default), f32, q8_0, q4_0\n"
    "  --kv-rotate on|off      store a quantized KV cache Hadamard-rotated (default on, as llama.cpp)\n"
    "      --api-key KEY       require 'Authorization: Bearer KEY' on every route but / and /health\n"
    "      --chat-template NAME  override the model's template: one of llama.cpp's names (chatml, llama2,\n"
    "                          llama2-sys, llama2-sys-bos, llama2-sys-strip, llama3, llama4, mistral-v1,\n"
    "                          mistral-v3, mistral-v3-tekken, mistral-v7, mistral-v7-tekken, gemma, phi3,\n"
    "                          phi4, zephyr, glmedge, falcon3, deepseek, deepseek2, deepseek3, command-r,\n"
    "                          granite, granite-4.0, granite-4.1, exaone3, exaone4, openchat, vicuna,\n"
    "                          vicuna-orca); without one and without a recognised template in the model,\n"
    "                          chatml is used (with a warning)\n"
    "      --max-body BYTES    largest request body (default 1048576); larger ones get 413\n"
    "      --backend B         auto (default: cuda when built in and a GPU is there), cpu or cuda\n"
    "      --mode MODE         standard (default), variational, ultimate or sparse (docs/GATING.md) for\n"
    "                          requests that name no \"mode\"; the last three need --sparsity\n"
    "      --sparsity FILE     the model's sparsity file (zeta calibrate), for the gated modes\n"
    "  -v, --verbose           one line per request on stderr\n"
    "When ready it prints 'zeta serve: listening on http://HOST:PORT' to stderr. SIGINT/SIGTERM stop it.\n";

int cmd_serve(int argc, char **argv) {
    const char *model_path = NULL, *host = "127.0.0.1", *tmpl = NULL;
    long port = 8080, parallel = 1, queue = -1, ctx = 0, threads = 0, max_body = 1 << 20;
    zeta_type kv = ZETA_TYPE_F16;
    bool kv_no_rotate = false;
    zeta_mode mode = ZETA_MODE_STANDARD;
    zeta_backend backend = ZETA_BACKEND_AUTO;
    const char *sparsity = NULL;
    S.api_key = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(serve_help, stdout);
            return 0;
        }
#define VAL() \
    if (!(v = arg_value(argc, argv, &i))) return 2
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VAL(); model_path = v; }
        else if (!strcmp(a, "--host")) { VAL(); host = v; }
        else if (!strcmp(a, "--port")) { VAL(); if (!arg_int(a, v, 0, 65535, &port)) return 2; }
        else if (!strcmp(a, "-np") || !strcmp(a, "--parallel")) { VAL(); if (!arg_int(a, v, 1, 256, &parallel)) return 2; }
        else if (!strcmp(a, "--queue")) { VAL(); if (!arg_int(a, v, 0, 100000, &queue)) return 2; }
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) { VAL(); if (!arg_int(a, v, 8, 1 << 24, &ctx)) return 2; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { VAL(); if (!arg_int(a, v, 1, 1024, &threads)) return 2; }
        else if (!strcmp(a, "-ctk") || !strcmp(a, "--cache-type-k")) { VAL(); if (!arg_kv_type(a, v, &kv)) return 2; }
        else if (!strcmp(a, "--kv-rotate")) { VAL(); if (!arg_kv_rotate(a, v, &kv_no_rotate)) return 2; }
        else if (!strcmp(a, "--api-key")) {
            VAL();
            if (!*v) return die("--api-key: the key is empty");
            S.api_key = v;
        } else if (!strcmp(a, "--chat-template")) {
            VAL();
            tmpl = v;
            if (!zeta_chat_end_of_turn(tmpl)) return die("--chat-template: unknown template '%s'; known: %s", v, zeta_chat_templates());
        } else if (!strcmp(a, "--max-body")) { VAL(); if (!arg_int(a, v, 1024, 1L << 30, &max_body)) return 2; }
        else if (!strcmp(a, "--mode")) {
            VAL();
            if (!arg_mode(a, v, &mode)) return 2;
        } else if (!strcmp(a, "--backend")) {
            VAL();
            if (!arg_backend(a, v, &backend)) return 2;
        } else if (!strcmp(a, "--sparsity")) { VAL(); sparsity = v; } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) S.verbose = true;
        else return die("serve: unknown option '%s' (zeta serve --help)", a);
#undef VAL
    }
    if (!model_path) return die("serve: no model; use -m FILE (zeta serve --help)");
    S.max_body = (size_t)max_body;

    /* resolve the address before loading anything */
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%ld", port);
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0) {
        hints.ai_flags = AI_PASSIVE;
        gai = getaddrinfo(host, portstr, &hints, &ai);
    }
    if (gai != 0) return die("--host %s: %s", host, gai_strerror(gai));

    gate_opts g;
    gate_opts_init(&g);
    g.mode = mode;
    g.file = sparsity;
    zeta_model *model = load_model_gate(model_path, backend, &g); /* prints why when it fails */
    if (!model) {
        freeaddrinfo(ai);
        return 1;
    }
    zeta_model_info mi;
    zeta_error err;
    zeta_model_describe(model, &mi, &err);
    if (!tmpl) {
        tmpl = zeta_model_chat_template(model);
        if (!tmpl) {
            fprintf(stderr, "zeta serve: warning: the model has no chat template ZetaLm recognises; chat requests use chatml "
                            "(--chat-template NAME to choose)\n");
            tmpl = "chatml";
        }
    }
    const char *base = strrchr(model_path, '/');
    serve_config cfg = {0};
    cfg.model_path = model_path;
    cfg.model_id = base ? base + 1 : model_path;
    cfg.n_slots = (int)parallel;
    cfg.n_ctx = ctx ? (uint32_t)ctx : (mi.n_ctx_train && mi.n_ctx_train < 4096 ? mi.n_ctx_train : 4096);
    int cores = zeta_cpu_cores();
    cfg.n_threads = threads ? (int)threads : (cores / (int)parallel > 1 ? cores / (int)parallel : 1);
    cfg.queue_max = queue >= 0 ? (int)queue : 4 * (int)parallel + 8;
    cfg.chat_template = tmpl;
    cfg.kv_type = kv;
    cfg.kv_no_rotate = kv_no_rotate;
    cfg.mode = mode;

    /* signals: handled by this thread with sigwait; every thread started from here inherits the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    serve_error se;
    if (!serve_slots_start(&cfg, model, &se)) {
        freeaddrinfo(ai);
        zeta_model_free(model);
        return die("serve: %s", se.message);
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handler, NULL, MHD_OPTION_SOCK_ADDR,
                                            ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_CONNECTION_TIMEOUT,
                                            (unsigned)120, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    char hostbuf[NI_MAXHOST] = "";
    getnameinfo(ai->ai_addr, ai->ai_addrlen, hostbuf, sizeof hostbuf, NULL, 0, NI_NUMERICHOST);
    const bool v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    if (!d) {
        serve_slots_stop();
        zeta_model_free(model);
        return die("serve: cannot listen on %s port %ld (in use, or not an address of this machine?)", host, port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = di ? di->port : (unsigned)port;
    fprintf(stderr, "zeta serve: %s, %d slot%s of %u tokens, %d thread%s each, chat template %s, mode %s, kernels %s\n",
            cfg.model_id, cfg.n_slots, cfg.n_slots == 1 ? "" : "s", cfg.n_ctx, cfg.n_threads, cfg.n_threads == 1 ? "" : "s",
            cfg.chat_template, zeta_mode_name(cfg.mode), zeta_cpu_kernels());
    fprintf(stderr, "zeta serve: listening on http://%s%s%s:%u\n", v6 ? "[" : "", hostbuf, v6 ? "]" : "", bound);
    fflush(stderr);

    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "zeta serve: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    atomic_store(&S.stopping, true); /* waiting connection threads see it within WAIT_MS and cancel their jobs */
    MHD_stop_daemon(d);
    serve_slots_stop();
    zeta_model_free(model);
    return 0;
}
