/* fuzz_tokenizer.c — any bytes as text for three real vocabularies (SentencePiece, byte-level BPE,
 * WordPiece; the first byte picks one and the flags): tokenizing never crashes, gives valid ids,
 * the size query agrees with the real call, and for SentencePiece and BPE detokenize(tokenize(s))
 * == s whenever s is valid UTF-8 without NUL and special tokens are not parsed; for SentencePiece
 * also without U+2581 (its space marker: a literal "▁" in the text becomes a space, as in
 * llama.cpp and SentencePiece itself). */
#define _GNU_SOURCE /* memmem */
#include "fuzz.h"
#include "gguf.h"
#include "tokenizer.h"

#include <string.h>

static const char *const k_vocabs[3] = {"models/stories260K.gguf", "tests/data/vocab/ggml-vocab-gpt-2.gguf",
                                        "tests/data/vocab/ggml-vocab-bert-bge.gguf"};
static gguf_file *g[3];
static zeta_vocab *v[3];

static bool utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n || c == 0 || c == 0xC0 || c == 0xC1 || c > 0xF4) return false;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return false;
        if (k == 3 && ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0))) return false;
        if (k == 4 && ((c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] >= 0x90))) return false;
        i += k;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const unsigned which = data[0] % 3, add_special = (data[0] >> 2) & 1, parse_special = (data[0] >> 3) & 1;
    const char *text = (const char *)data + 1;
    const size_t len = size - 1;
    zeta_error err;
    if (!v[which]) {
        if (gguf_open(k_vocabs[which], true, &g[which], &err) != ZETA_OK || vocab_load(g[which], &v[which], &err) != ZETA_OK) {
            fprintf(stderr, "fuzz_tokenizer: cannot load %s (run from the repository root after make data): %s\n",
                    k_vocabs[which], err.message);
            abort();
        }
    }
    const zeta_vocab *V = v[which];
    size_t need = 0;
    zeta_status st = vocab_tokenize(V, text, len, add_special, parse_special, NULL, 0, &need, &err);
    FUZZ_CHECK(st == ZETA_OK || st == ZETA_ERR_BUFFER_TOO_SMALL, "size query: %s", err.message);
    zeta_token *toks = malloc((need ? need : 1) * sizeof *toks);
    if (!toks) return 0;
    size_t n = 0;
    st = vocab_tokenize(V, text, len, add_special, parse_special, toks, need, &n, &err);
    FUZZ_CHECK(st == ZETA_OK && n == need, "tokenize: %s (n %zu, size query %zu)", err.message, n, need);
    const uint32_t nv = vocab_n_tokens(V);
    for (size_t i = 0; i < n; i++) FUZZ_CHECK(toks[i] >= 0 && (uint32_t)toks[i] < nv, "token %d out of range", toks[i]);
    size_t tl = 0;
    st = vocab_detokenize(V, toks, n, false, NULL, 0, &tl, &err);
    FUZZ_CHECK(st == ZETA_OK || st == ZETA_ERR_BUFFER_TOO_SMALL, "detokenize size: %s", err.message);
    char *back = malloc(tl + 1);
    if (back) {
        st = vocab_detokenize(V, toks, n, false, back, tl + 1, &tl, &err);
        FUZZ_CHECK(st == ZETA_OK, "detokenize: %s", err.message);
        const bool marker = len >= 3 && memmem(text, len, "\xe2\x96\x81", 3) != NULL;
        if (which < 2 && !add_special && !parse_special && utf8_valid(data + 1, len) && !(which == 0 && marker))
            FUZZ_CHECK(tl == len && !memcmp(back, text, len), "round trip changed the text (%zu bytes -> %zu)", len, tl);
        free(back);
    }
    free(toks);
    return 0;
}
