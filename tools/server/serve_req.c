/* serve_req.c — request bodies -> serve_request, and the JSON the server answers with (jansson).
 * Follows the OpenAI API: unknown fields are ignored, known ones are type- and range-checked, and
 * every refusal names the field. */
#include "serve.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void serve_error_set(serve_error *e, int status, const char *type, const char *code, const char *param,
                     const char *fmt, ...) {
    e->status = status;
    e->type = type;
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

static char *dump(json_t *j) {
    if (!j) return NULL;
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* a JSON string of (possibly invalid) UTF-8 bytes */
static json_t *jstr(const char *s, size_t n) {
    size_t m;
    char *clean = serve_utf8_clean(s, n, &m);
    if (!clean) return NULL;
    json_t *j = json_stringn(clean, m);
    free(clean);
    return j;
}

char *serve_error_body(const serve_error *e) {
    json_t *err = json_object();
    if (!err) return NULL;
    json_object_set_new(err, "message", jstr(e->message, strlen(e->message)));
    json_object_set_new(err, "type", json_string(e->type ? e->type : "invalid_request_error"));
    json_object_set_new(err, "param", e->param[0] ? json_string(e->param) : json_null());
    json_object_set_new(err, "code", e->code ? json_string(e->code) : json_null());
    return dump(json_pack("{so}", "error", err));
}

char *serve_utf8_clean(const char *s, size_t n, size_t *out_len) {
    char *o = malloc(3 * n + 1), *w = o; /* each bad byte becomes 3 bytes at most */
    if (!o) return NULL;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p;
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = k > 0 && (size_t)(end - p) >= k && !(c == 0xC0 || c == 0xC1 || c > 0xF4);
        for (size_t i = 1; ok && i < k; i++) ok = (p[i] & 0xC0) == 0x80;
        if (ok && k == 3) { /* overlong and surrogates */
            if (c == 0xE0 && p[1] < 0xA0) ok = false;
            if (c == 0xED && p[1] >= 0xA0) ok = false;
        }
        if (ok && k == 4) {
            if (c == 0xF0 && p[1] < 0x90) ok = false;
            if (c == 0xF4 && p[1] >= 0x90) ok = false;
        }
        if (ok && k == 1 && c == 0) ok = false; /* NUL would cut C strings short */
        if (ok) {
            memcpy(w, p, k);
            w += k;
            p += k;
        } else {
            memcpy(w, "\xEF\xBF\xBD", 3);
            w += 3;
            p++;
        }
    }
    *w = 0;
    *out_len = (size_t)(w - o);
    return o;
}

/* ---- request parsing ---- */

static const char *json_type_word(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

static bool bad_type(serve_error *e, const char *field, const json_t *v, const char *want) {
    serve_error_set(e, 400, "invalid_request_error", "invalid_type", field, "'%s' must be %s, not %s", field, want,
                    json_type_word(v));
    return false;
}

/* optional number in [lo, hi]; absent or null leaves *out */
static bool get_number(json_t *root, const char *field, double lo, double hi, float *out, serve_error *e) {
    json_t *v = json_object_get(root, field);
    if (!v || json_is_null(v)) return true;
    if (!json_is_number(v)) return bad_type(e, field, v, "a number");
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) {
        serve_error_set(e, 400, "invalid_request_error", "invalid_value", field, "'%s' is %g; it must be between %g and %g",
                        field, x, lo, hi);
        return false;
    }
    *out = (float)x;
    return true;
}

static bool get_bool(json_t *root, const char *field, bool *out, serve_error *e) {
    json_t *v = json_object_get(root, field);
    if (!v || json_is_null(v)) return true;
    if (!json_is_boolean(v)) return bad_type(e, field, v, "a boolean");
    *out = json_is_true(v);
    return true;
}

/* text of a message's content: a string, or an array of {"type":"text","text":...} parts */
static char *content_text(json_t *c, size_t idx, serve_error *e) {
    char field[48];
    snprintf(field, sizeof field, "messages[%zu].content", idx);
    if (json_is_string(c)) return strndup(json_string_value(c), json_string_length(c));
    if (json_is_null(c)) return strdup("");
    if (!json_is_array(c)) {
        bad_type(e, field, c, "a string or an array of text parts");
        return NULL;
    }
    size_t total = 0, i;
    json_t *part;
    json_array_foreach(c, i, part) {
        json_t *ty = json_object_get(part, "type"), *tx = json_object_get(part, "text");
        if (!json_is_object(part) || !json_is_string(ty) || strcmp(json_string_value(ty), "text") || !json_is_string(tx)) {
            serve_error_set(e, 400, "invalid_request_error", "invalid_value", field,
                            "%s[%zu] is not a text part ({\"type\": \"text\", \"text\": ...}); only text is supported", field, i);
            return NULL;
        }
        total += json_string_length(tx);
    }
    char *s = malloc(total + 1), *w = s;
    if (!s) return NULL;
    json_array_foreach(c, i, part) {
        json_t *tx = json_object_get(part, "text");
        memcpy(w, json_string_value(tx), json_string_length(tx));
        w += json_string_length(tx);
    }
    *w = 0;
    return s;
}

static bool has_nul(const json_t *s) { return strlen(json_string_value(s)) != json_string_length(s); }

static bool parse_messages(json_t *root, serve_request *r, serve_error *e) {
    json_t *msgs = json_object_get(root, "messages");
    if (!msgs) {
        serve_error_set(e, 400, "invalid_request_error", "missing_required_parameter", "messages", "'messages' is required");
        return false;
    }
    if (!json_is_array(msgs)) return bad_type(e, "messages", msgs, "an array");
    size_t n = json_array_size(msgs);
    if (n == 0) {
        serve_error_set(e, 400, "invalid_request_error", "invalid_value", "messages", "'messages' is empty");
        return false;
    }
    r->msgs = calloc(n, sizeof *r->msgs);
    if (!r->msgs) return false;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(msgs, i);
        char field[48];
        snprintf(field, sizeof field, "messages[%zu]", i);
        if (!json_is_object(m)) return bad_type(e, field, m, "an object");
        json_t *role = json_object_get(m, "role");
        snprintf(field, sizeof field, "messages[%zu].role", i);
        if (!role) {
            serve_error_set(e, 400, "invalid_request_error", "missing_required_parameter", field, "'%s' is required", field);
            return false;
        }
        if (!json_is_string(role)) return bad_type(e, field, role, "a string");
        const char *rs = json_string_value(role);
        if (!strcmp(rs, "developer")) rs = "system"; /* OpenAI's newer name for the system role */
        if (strcmp(rs, "system") && strcmp(rs, "user") && strcmp(rs, "assistant")) {
            serve_error_set(e, 400, "invalid_request_error", "invalid_value", field,
                            "'%s' is \"%.40s\"; it must be \"system\", \"developer\", \"user\" or \"assistant\"", field, rs);
            return false;
        }
        r->msgs[i].role = strdup(rs);
        json_t *c = json_object_get(m, "content");
        snprintf(field, sizeof field, "messages[%zu].content", i);
        if (!c) {
            serve_error_set(e, 400, "invalid_request_error", "missing_required_parameter", field, "'%s' is required", field);
            r->n_msgs = i + 1;
            return false;
        }
        r->msgs[i].content = content_text(c, i, e);
        r->n_msgs = i + 1;
        if (!r->msgs[i].role || !r->msgs[i].content) {
            if (e->status == 0) serve_error_set(e, 500, "server_error", NULL, NULL, "out of memory");
            return false;
        }
        if (strlen(r->msgs[i].content) != (json_is_string(c) ? json_string_length(c) : strlen(r->msgs[i].content))) {
            serve_error_set(e, 400, "invalid_request_error", "invalid_value", field, "'%s' contains a NUL character", field);
            return false;
        }
    }
    return true;
}

static bool parse_prompt(json_t *root, serve_request *r, serve_error *e) {
    json_t *p = json_object_get(root, "prompt");
    if (!p) {
        serve_error_set(e, 400, "invalid_request_error", "missing_required_parameter", "prompt", "'prompt' is required");
        return false;
    }
    if (json_is_array(p)) {
        if (json_array_size(p) != 1 || !json_is_string(json_array_get(p, 0))) {
            serve_error_set(e, 400, "invalid_request_error", "invalid_value", "prompt",
                            "'prompt' must be a string or an array of exactly one string (batches and token arrays are not supported)");
            return false;
        }
        p = json_array_get(p, 0);
    }
    if (!json_is_string(p)) return bad_type(e, "prompt", p, "a string");
    if (has_nul(p)) {
        serve_error_set(e, 400, "invalid_request_error", "invalid_value", "prompt", "'prompt' contains a NUL character");
        return false;
    }
    r->prompt = strdup(json_string_value(p));
    return r->prompt != NULL;
}

static bool parse_stop(json_t *root, serve_request *r, serve_error *e) {
    json_t *s = json_object_get(root, "stop");
    if (!s || json_is_null(s)) return true;
    if (json_is_string(s)) {
        if (json_string_length(s) == 0) return true;
        r->stop[r->n_stop++] = strdup(json_string_value(s));
        return r->stop[0] != NULL;
    }
    if (!json_is_array(s)) return bad_type(e, "stop", s, "a string or an array of strings");
    if (json_array_size(s) > SERVE_MAX_STOP) {
        serve_error_set(e, 400, "invalid_request_error", "invalid_value", "stop", "'stop' has %zu strings; at most %d are allowed",
                        json_array_size(s), SERVE_MAX_STOP);
        return false;
    }
    size_t i;
    json_t *v;
    json_array_foreach(s, i, v) {
        if (!json_is_string(v)) {
            char field[32];
            snprintf(field, sizeof field, "stop[%zu]", i);
            return bad_type(e, field, v, "a string");
        }
        if (json_string_length(v) == 0) continue;
        if (!(r->stop[r->n_stop++] = strdup(json_string_value(v)))) return false;
    }
    return true;
}

bool serve_parse_request(const char *body, size_t len, bool chat, serve_request *r, serve_error *e) {
    memset(r, 0, sizeof *r);
    memset(e, 0, sizeof *e);
    r->chat = chat;
    r->temperature = 1.0f; /* OpenAI's defaults */
    r->top_p = 1.0f;
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        serve_error_set(e, 400, "invalid_request_error", "invalid_json", NULL,
                        "the body is not valid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
        return false;
    }
    bool ok = false;
    if (!json_is_object(root)) {
        serve_error_set(e, 400, "invalid_request_error", "invalid_type", NULL, "the body must be a JSON object, not %s",
                        json_type_word(root));
        goto out;
    }
    if (chat ? !parse_messages(root, r, e) : !parse_prompt(root, r, e)) goto out;
    json_t *v = json_object_get(root, "model");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) { bad_type(e, "model", v, "a string"); goto out; }
        if (!(r->model = strdup(json_string_value(v)))) goto out;
    }
    if (!get_bool(root, "stream", &r->stream, e)) goto out;
    v = json_object_get(root, "stream_options");
    if (v && !json_is_null(v)) {
        if (!json_is_object(v)) { bad_type(e, "stream_options", v, "an object"); goto out; }
        json_t *iu = json_object_get(v, "include_usage");
        if (iu && !json_is_null(iu)) {
            if (!json_is_boolean(iu)) { bad_type(e, "stream_options.include_usage", iu, "a boolean"); goto out; }
            r->include_usage = json_is_true(iu);
        }
    }
    /* max_completion_tokens is the newer name of max_tokens in chat requests */
    const char *mt_name = "max_tokens";
    v = json_object_get(root, "max_tokens");
    if ((!v || json_is_null(v)) && chat) {
        v = json_object_get(root, "max_completion_tokens");
        mt_name = "max_completion_tokens";
    }
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v)) { bad_type(e, mt_name, v, "an integer"); goto out; }
        json_int_t x = json_integer_value(v);
        if (x < 1 || x > 1000000000) {
            serve_error_set(e, 400, "invalid_request_error", "invalid_value", mt_name, "'%s' is %lld; it must be at least 1",
                            mt_name, (long long)x);
            goto out;
        }
        r->has_max_tokens = true;
        r->max_tokens = (uint32_t)x;
    }
    if (!get_number(root, "temperature", 0, 2, &r->temperature, e)) goto out;
    if (!get_number(root, "top_p", 0, 1, &r->top_p, e)) goto out;
    if (!get_number(root, "frequency_penalty", -2, 2, &r->frequency_penalty, e)) goto out;
    if (!get_number(root, "presence_penalty", -2, 2, &r->presence_penalty, e)) goto out;
    if (r->top_p == 0) r->top_p = 1e-6f; /* OpenAI accepts 0: keep only the most likely token */
    v = json_object_get(root, "seed");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v)) { bad_type(e, "seed", v, "an integer"); goto out; }
        r->has_seed = true;
        r->seed = (uint64_t)json_integer_value(v);
    }
    v = json_object_get(root, "n");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v)) { bad_type(e, "n", v, "an integer"); goto out; }
        if (json_integer_value(v) != 1) {
            serve_error_set(e, 400, "invalid_request_error", "invalid_value", "n", "'n' is %lld; only n = 1 is supported",
                            (long long)json_integer_value(v));
            goto out;
        }
    }
    if (!parse_stop(root, r, e)) goto out;
    v = json_object_get(root, "mode"); /* ZetaLm's own: the decoding mode of this request (docs/GATING.md) */
    if (v && !json_is_null(v)) {
        if (!json_is_string(v)) { bad_type(e, "mode", v, "a string"); goto out; }
        const char *name = json_string_value(v);
        for (int k = ZETA_MODE_STANDARD; k <= ZETA_MODE_SPARSE && !r->has_mode; k++)
            if (!strcmp(name, zeta_mode_name((zeta_mode)k))) {
                r->has_mode = true;
                r->mode = (zeta_mode)k;
            }
        if (!r->has_mode) {
            serve_error_set(e, 400, "invalid_request_error", "invalid_value", "mode",
                            "'mode' is '%.64s'; it must be one of standard, variational, ultimate, sparse", name);
            goto out;
        }
    }
    ok = true;
out:
    json_decref(root);
    if (!ok && e->status == 0) serve_error_set(e, 500, "server_error", NULL, NULL, "out of memory parsing the request");
    if (!ok) serve_request_free(r);
    return ok;
}

void serve_request_free(serve_request *r) {
    if (!r) return;
    free(r->prompt);
    for (size_t i = 0; i < r->n_msgs; i++) {
        free((char *)r->msgs[i].role);
        free((char *)r->msgs[i].content);
    }
    free(r->msgs);
    free(r->model);
    for (size_t i = 0; i < r->n_stop; i++) free(r->stop[i]);
    memset(r, 0, sizeof *r);
}

/* ---- responses ---- */

static json_t *usage_json(const serve_usage *u) {
    json_t *o = json_pack("{sIsIsIs{sI}}", "prompt_tokens", (json_int_t)u->prompt_tokens, "completion_tokens",
                          (json_int_t)u->completion_tokens, "total_tokens", (json_int_t)(u->prompt_tokens + u->completion_tokens),
                          "prompt_tokens_details", "cached_tokens", (json_int_t)u->cached_tokens);
    if (o && u->gated) { /* ZetaLm's own: the request's decoding counters (docs/SERVER.md) */
        const double steps = u->steps ? (double)u->steps : 1.0, sp = u->sparse_steps ? (double)u->sparse_steps : 1.0;
        json_t *gz = json_pack("{sssIsIsIsIsfsfsf}", "mode", zeta_mode_name(u->mode), "steps", (json_int_t)u->steps, "sparse_steps",
                               (json_int_t)u->sparse_steps, "dense_steps", (json_int_t)u->dense_steps, "fallbacks",
                               (json_int_t)u->fallbacks, "sparse_ratio", (double)u->sparse_steps / steps, "fallback_rate",
                               (double)u->fallbacks / steps, "avg_energy_ratio", u->sparse_steps ? u->energy_sum / sp : 0.0);
        if (gz && u->sparse_steps) { /* the achieved activation sparsity per input kind: mean kept share over the sparse steps */
            json_t *kept = json_pack("{sfsfsfsf}", "attn_in", u->kept_sum[0] / sp, "attn_out", u->kept_sum[1] / sp, "ffn_in",
                                     u->kept_sum[2] / sp, "ffn_mid", u->kept_sum[3] / sp);
            if (kept) json_object_set_new(gz, "kept", kept);
        }
        if (gz && u->mode == ZETA_MODE_ULTIMATE) {
            json_object_set_new(gz, "drafted", json_integer((json_int_t)u->drafted));
            json_object_set_new(gz, "accepted", json_integer((json_int_t)u->accepted));
            json_object_set_new(gz, "verifications", json_integer((json_int_t)u->verifies));
            json_object_set_new(gz, "acceptance_rate", json_real(u->drafted ? (double)u->accepted / (double)u->drafted : 0.0));
            json_object_set_new(gz, "mean_accepted", json_real(u->verifies ? (double)u->accepted / (double)u->verifies : 0.0));
        }
        if (gz) json_object_set_new(o, "zeta_gating", gz);
    }
    return o;
}

static json_t *envelope(bool chat, bool chunk, const char *id, long created, const char *model) {
    return json_pack("{sssssIss}", "id", id, "object",
                     chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion", "created",
                     (json_int_t)created, "model", model);
}

char *serve_json_completion(bool chat, const char *id, long created, const char *model, const char *text, size_t len,
                            const char *finish, const serve_usage *usage) {
    json_t *root = envelope(chat, false, id, created, model), *choice;
    if (!root) return NULL;
    if (chat)
        choice = json_pack("{sIs{ssso}soss?}", "index", (json_int_t)0, "message", "role", "assistant", "content",
                           jstr(text, len), "logprobs", json_null(), "finish_reason", finish);
    else
        choice = json_pack("{sIsososs?}", "index", (json_int_t)0, "text", jstr(text, len), "logprobs", json_null(),
                           "finish_reason", finish);
    json_object_set_new(root, "choices", json_pack("[o]", choice));
    json_object_set_new(root, "usage", usage_json(usage));
    return dump(root);
}

static char *sse(json_t *j) {
    char *s = dump(j);
    if (!s) return NULL;
    size_t n = strlen(s);
    char *o = malloc(n + 9);
    if (o) {
        memcpy(o, "data: ", 6);
        memcpy(o + 6, s, n);
        memcpy(o + 6 + n, "\n\n", 3);
    }
    free(s);
    return o;
}

char *serve_sse_chunk(bool chat, const char *id, long created, const char *model, bool first, const char *text, size_t len,
                      const char *finish, const serve_usage *usage) {
    json_t *root = envelope(chat, true, id, created, model);
    if (!root) return NULL;
    if (usage) {
        json_object_set_new(root, "choices", json_array());
        json_object_set_new(root, "usage", usage_json(usage));
        return sse(root);
    }
    json_t *choice;
    if (chat) {
        json_t *delta = json_object();
        if (first) json_object_set_new(delta, "role", json_string("assistant"));
        if (len || (first && !finish)) json_object_set_new(delta, "content", jstr(text, len));
        choice = json_pack("{sIsososs?}", "index", (json_int_t)0, "delta", delta, "logprobs", json_null(), "finish_reason", finish);
    } else {
        choice = json_pack("{sIsososs?}", "index", (json_int_t)0, "text", jstr(text, len), "logprobs", json_null(),
                           "finish_reason", finish);
    }
    json_object_set_new(root, "choices", json_pack("[o]", choice));
    if (!usage) json_object_set_new(root, "usage", json_null());
    return sse(root);
}

char *serve_json_models(const char *model, long created) {
    return dump(json_pack("{sss[{sssssIss}]}", "object", "list", "data", "id", model, "object", "model", "created",
                          (json_int_t)created, "owned_by", "zeta"));
}
