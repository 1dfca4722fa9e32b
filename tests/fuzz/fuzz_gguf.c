/* fuzz_gguf.c — any bytes as a model file: zeta_model_load either accepts them or refuses with
 * ZETA_ERR_FORMAT / ZETA_ERR_UNSUPPORTED and a message (never a crash, hang or leak). An accepted
 * model is described, its tokenizer run, and a session of 8 positions evaluates one token. */
#define _GNU_SOURCE
#include "fuzz.h"
#include "zeta.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = memfd_create("fuzz.gguf", MFD_CLOEXEC);
    if (fd < 0) return 0;
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) { close(fd); return 0; }
        off += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    zeta_model_params mp = zeta_model_params_default();
    mp.use_mmap = size % 2 == 0; /* both readers */
    zeta_model *m = NULL;
    zeta_error err;
    memset(&err, 0, sizeof err);
    zeta_status st = zeta_model_load(path, &mp, &m, &err);
    if (st != ZETA_OK) {
        FUZZ_CHECK(m == NULL, "failed load returned a model");
        FUZZ_CHECK(st == ZETA_ERR_FORMAT || st == ZETA_ERR_UNSUPPORTED || st == ZETA_ERR_OUT_OF_MEMORY,
                   "status %s: %s", zeta_status_name(st), err.message);
        FUZZ_CHECK(err.message[0] != 0, "status %s without a message", zeta_status_name(st));
        close(fd);
        return 0;
    }
    zeta_model_info mi;
    FUZZ_CHECK(zeta_model_describe(m, &mi, &err) == ZETA_OK, "describe: %s", err.message);
    zeta_token toks[64];
    size_t n = 0;
    st = zeta_tokenize(m, "Hello world", 11, ZETA_TOKENIZE_ADD_SPECIAL, toks, 64, &n, &err);
    FUZZ_CHECK(st == ZETA_OK || st == ZETA_ERR_BUFFER_TOO_SMALL, "tokenize: %s", err.message);
    if (st == ZETA_OK && n > 0) {
        char text[256];
        size_t tl;
        zeta_detokenize(m, toks, n, 0, text, sizeof text, &tl, &err);
        zeta_session_params sp = zeta_session_params_default();
        sp.n_ctx = 8;
        sp.n_threads = 1;
        zeta_session *s = NULL;
        if (zeta_session_new(m, &sp, &s, &err) == ZETA_OK) {
            st = zeta_session_eval(s, toks, 1, &err);
            FUZZ_CHECK(st == ZETA_OK, "eval of one token: %s", err.message);
            zeta_session_free(s);
        }
    }
    zeta_model_free(m);
    close(fd);
    return 0;
}
