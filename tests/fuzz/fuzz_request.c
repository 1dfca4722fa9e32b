/* fuzz_request.c — any bytes as the body of POST /v1/chat/completions or /v1/completions (the
 * first byte picks): zeta serve's parser accepts them or refuses with a 4xx and a message; the
 * answers built from what it accepted (and from the raw bytes as generated text) are valid JSON. */
#include "fuzz.h"
#include "serve.h"

#include <jansson.h>
#include <string.h>

static void check_json(char *s, const char *what) {
    FUZZ_CHECK(s != NULL, "%s: NULL", what);
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    FUZZ_CHECK(j != NULL, "%s is not JSON: %s", what, je.text);
    json_decref(j);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const bool chat = data[0] & 1;
    serve_request r;
    serve_error e;
    if (!serve_parse_request((const char *)data + 1, size - 1, chat, &r, &e)) {
        FUZZ_CHECK(e.status >= 400 && e.status < 600 && e.message[0], "refusal without status/message");
        check_json(serve_error_body(&e), "error body");
        return 0;
    }
    FUZZ_CHECK(chat ? r.n_msgs > 0 && r.msgs : r.prompt != NULL, "accepted without input");
    FUZZ_CHECK(r.n_stop <= SERVE_MAX_STOP, "too many stop strings");
    FUZZ_CHECK(r.temperature >= 0 && r.temperature <= 2 && r.top_p > 0 && r.top_p <= 1, "sampling out of range");
    FUZZ_CHECK(!r.has_mode || (r.mode >= ZETA_MODE_STANDARD && r.mode <= ZETA_MODE_SPARSE), "mode out of range");
    const char *text = chat ? r.msgs[0].content : r.prompt;
    serve_usage u = {.prompt_tokens = 1, .completion_tokens = 2};
    check_json(serve_json_completion(chat, "id", 1, "m", text, strlen(text), "stop", &u), "completion");
    /* with a gated mode's counters (the request's own mode, or ultimate's extra fields) */
    serve_usage ug = {.prompt_tokens = 1, .completion_tokens = 2, .gated = true, .mode = r.has_mode ? r.mode : ZETA_MODE_ULTIMATE,
                      .steps = 3, .sparse_steps = 2, .dense_steps = 1, .drafted = 4, .accepted = 3, .verifies = 1, .energy_sum = 1.5};
    check_json(serve_json_completion(chat, "id", 1, "m", text, strlen(text), "stop", &ug), "completion with gating counters");
    /* the raw bytes as if the model had generated them: must become valid JSON too */
    check_json(serve_json_completion(chat, "id", 1, "m", (const char *)data, size, "length", &u), "completion of raw bytes");
    char *ev = serve_sse_chunk(chat, "id", 1, "m", true, (const char *)data, size, NULL, NULL);
    FUZZ_CHECK(ev && !strncmp(ev, "data: ", 6) && strlen(ev) > 8 && !strcmp(ev + strlen(ev) - 2, "\n\n"), "SSE framing");
    ev[strlen(ev) - 2] = 0;
    check_json(strdup(ev + 6), "SSE chunk");
    free(ev);
    serve_request_free(&r);
    return 0;
}
