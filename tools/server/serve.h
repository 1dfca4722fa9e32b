/* serve.h — `zeta serve`, the OpenAI-compatible HTTP server (tools/server/; built when
 * libmicrohttpd and jansson are found, see the Makefile).
 *
 *   serve_req.c    request bodies (JSON) -> serve_request, response and error bodies; no I/O, no
 *                  threads, so that it can be tested and fuzzed on its own
 *   serve_slots.c  the slots (one zeta_session and one worker thread each), the bounded queue,
 *                  prefix-affinity dispatch, cancellation and the counters behind /metrics
 *   serve_http.c   libmicrohttpd: routing, authentication, limits, server-sent events, disconnect
 *                  detection, the chat page, `zeta serve` itself
 */
#ifndef ZETA_SERVE_H
#define ZETA_SERVE_H

#include "zeta.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERVE_MAX_STOP 4 /* OpenAI's limit on stop strings */

/* An error answer: HTTP status and the OpenAI error object's fields. */
typedef struct serve_error {
    int status;            /* 400, 401, 404, 405, 413, 429, 500, 503 */
    const char *type;      /* "invalid_request_error", "authentication_error", ... */
    const char *code;      /* NULL or "context_length_exceeded", "model_not_found", ... */
    char param[64];        /* "" or the offending request field */
    char message[512];
} serve_error;

void serve_error_set(serve_error *e, int status, const char *type, const char *code, const char *param,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* {"error":{"message":..,"type":..,"param":..,"code":..}} (malloc'd; NULL when out of memory) */
char *serve_error_body(const serve_error *e);

/* A parsed /v1/completions or /v1/chat/completions request. */
typedef struct serve_request {
    bool chat;
    char *prompt;                  /* completions: the prompt */
    zeta_chat_message *msgs;       /* chat: messages (strings owned here) */
    size_t n_msgs;
    char *model;                   /* NULL when the request names none */
    bool stream, include_usage;
    bool has_max_tokens;
    uint32_t max_tokens;
    float temperature, top_p, frequency_penalty, presence_penalty;
    bool has_seed;
    uint64_t seed;
    char *stop[SERVE_MAX_STOP];
    size_t n_stop;
    bool has_mode;                 /* "mode": the decoding mode (zeta_mode_name's names); else --mode */
    zeta_mode mode;
} serve_request;

/* Parses a request body. Unknown fields are ignored (clients send many); fields we know are
 * checked for type and range. false: *e says why (400). */
bool serve_parse_request(const char *body, size_t len, bool chat, serve_request *out, serve_error *e);
void serve_request_free(serve_request *r);

/* Replaces bytes that are not valid UTF-8 by U+FFFD (JSON strings must be UTF-8). malloc'd. */
char *serve_utf8_clean(const char *s, size_t n, size_t *out_len);

/* Response bodies (malloc'd compact JSON, NULL when out of memory). `finish` is "stop", "length"
 * or NULL (a streamed chunk before the end). */
typedef struct serve_usage {
    uint32_t prompt_tokens, completion_tokens, cached_tokens;
    /* a request in a gated mode (variational, ultimate, sparse): its decoding counters, reported as
     * usage.zeta_gating (the session's counters over this request only) */
    bool gated;
    zeta_mode mode;
    uint64_t steps, sparse_steps, dense_steps, fallbacks, drafted, accepted, verifies;
    double energy_sum;
    double kept_sum[4];            /* zeta_session_stats.kept_sum: attn_in, attn_out, ffn_in, ffn_mid */
} serve_usage;
char *serve_json_completion(bool chat, const char *id, long created, const char *model, const char *text,
                            size_t len, const char *finish, const serve_usage *usage);
/* one SSE event "data: {...}\n\n": first (chat: the role), a text delta, the finish, the usage */
char *serve_sse_chunk(bool chat, const char *id, long created, const char *model, bool first, const char *text,
                      size_t len, const char *finish, const serve_usage *usage);
char *serve_json_models(const char *model, long created);

/* ---- slots and jobs (serve_slots.c) ---- */

typedef struct serve_job serve_job;

typedef struct serve_config {
    const char *model_path;
    const char *model_id;          /* basename of the file */
    int n_slots;                   /* --parallel */
    uint32_t n_ctx;                /* per slot */
    int n_threads;                 /* per slot */
    int queue_max;                 /* waiting requests beyond the busy slots; more get 429 */
    const char *chat_template;     /* the built-in template used for chat requests */
    zeta_type kv_type;
    bool kv_no_rotate;             /* --kv-rotate off */
    zeta_mode mode;                /* --mode (every mode but standard needs a model loaded with a sparsity file) */
} serve_config;

typedef struct serve_metrics {
    uint64_t requests_total, responses_2xx, responses_4xx, responses_5xx, rejected_429;
    uint64_t tokens_generated, prompt_tokens, prompt_tokens_reused;
    uint64_t cancelled;            /* generations cancelled because the client went away */
    double generate_seconds, prompt_seconds;
    double disconnect_release_ms_max;
    int slots_total, slots_busy, queue_depth;
    /* variational gating, summed over the slots' sessions (zeta_session_stats after each job) */
    uint64_t steps, sparse_steps, dense_steps, fallbacks, drafted, accepted, verifies;
    double energy_sum;
    double kept_sum[4];
} serve_metrics;

/* Starts the slots (sessions and worker threads). */
bool serve_slots_start(const serve_config *cfg, zeta_model *model, serve_error *e);
void serve_slots_stop(void);
const serve_config *serve_slots_config(void);
zeta_model *serve_slots_model(void);

/* Tokenizes and checks a request (the prompt must fit the context), renders chat messages with the
 * template, and queues it. NULL: *e says why (400 context_length_exceeded, 429 queue full, 503
 * stopping). The job holds one reference for the caller. */
serve_job *serve_submit(serve_request *req, serve_error *e);

/* Waits for text or the end, at most timeout_ms. Copies out the text produced since the last
 * call into *text (malloc'd, caller frees; *len 0 if none). Returns true when the job has
 * finished and all its text has been taken; then *finish, *usage and (on failure) *e are set. */
bool serve_job_wait(serve_job *j, int timeout_ms, char **text, size_t *len, const char **finish, serve_usage *usage,
                    serve_error *e, bool *failed);
/* The client went away: cancel the generation (if running or queued) and record when. */
void serve_job_abandon(serve_job *j);
void serve_job_unref(serve_job *j);
const serve_request *serve_job_request(const serve_job *j);

void serve_metrics_get(serve_metrics *m);
void serve_metrics_count_response(int status);

#endif
