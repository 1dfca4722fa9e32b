/* simple.c — the smallest complete ZetaLm program: load a model, stream a continuation of a prompt
 * to stdout, print a one-line summary to stderr.
 *
 *   cc simple.c $(pkg-config --cflags --libs zeta) -o simple
 *   ./simple model.gguf "Once upon a time"
 *
 * Uses only <zeta.h> and the C11 standard library. Every call that can fail is checked; the
 * message printed is the library's own one-line sentence (zeta_error.message). */
#include <zeta.h>

#include <stdio.h>
#include <stdlib.h>

/* Receives complete UTF-8 only (the library buffers partial multibyte tokens). Returning false
 * stops generation (zeta_generate then returns ZETA_OK with finish ZETA_FINISH_STOPPED). */
static bool on_text(void *user, const char *text, size_t len) {
    (void)user;
    if (fwrite(text, 1, len, stdout) != len) return false; /* stdout closed: stop */
    fflush(stdout);
    return true;
}

static const char *finish_name(zeta_finish_reason f) {
    switch (f) {
    case ZETA_FINISH_EOS: return "end of text";
    case ZETA_FINISH_LENGTH: return "max tokens";
    case ZETA_FINISH_STOP_STRING: return "stop string";
    case ZETA_FINISH_STOPPED: return "stopped by the callback";
    case ZETA_FINISH_CONTEXT_FULL: return "context full";
    case ZETA_FINISH_NONE: break;
    }
    return "none";
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s MODEL.gguf [PROMPT [MAX_TOKENS]]\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    const char *prompt = argc > 2 ? argv[2] : "Once upon a time";
    long max_tokens = 128;
    if (argc > 3) {
        char *end;
        max_tokens = strtol(argv[3], &end, 10);
        if (*argv[3] == '\0' || *end != '\0' || max_tokens < 0 || max_tokens > 1000000) {
            fprintf(stderr, "%s: MAX_TOKENS '%s' is not a number in 0..1000000\n", argv[0], argv[3]);
            return 2;
        }
    }

    /* the header and the library must agree on the major version */
    if (zeta_version() / 10000 != ZETA_VERSION_MAJOR) {
        fprintf(stderr, "%s: built against zeta %s but linked with %s\n", argv[0], ZETA_VERSION_STRING,
                zeta_version_string());
        return 1;
    }

    zeta_error err;
    zeta_model *model = NULL;
    zeta_session *session = NULL;
    int rc = 1;

    if (zeta_model_load(path, NULL, &model, &err) != ZETA_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], err.message);
        goto out;
    }
    if (zeta_session_new(model, NULL, &session, &err) != ZETA_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], err.message);
        goto out;
    }

    zeta_generate_params gp = zeta_generate_params_default();
    gp.max_tokens = (uint32_t)max_tokens;
    gp.on_text = on_text;

    zeta_generate_result res;
    fputs(prompt, stdout);
    zeta_status st = zeta_generate(session, prompt, &gp, &res, &err);
    putchar('\n');
    fflush(stdout);
    if (st != ZETA_OK) {
        fprintf(stderr, "%s: %s (%s)\n", argv[0], err.message, zeta_status_name(st));
        goto out;
    }
    const double ms = res.prompt_ms + res.generate_ms;
    fprintf(stderr, "%s: %u prompt + %u generated tokens in %.1f ms (%.1f tokens/s generating), finish: %s\n",
            argv[0], res.n_prompt, res.n_generated, ms,
            res.generate_ms > 0 ? 1000.0 * res.n_generated / res.generate_ms : 0.0, finish_name(res.finish));
    rc = 0;
out:
    zeta_session_free(session); /* both accept NULL */
    zeta_model_free(model);
    return rc;
}
