/* tok_wpm.c — WordPiece encoding (tokenizer.ggml.model = "bert"), llama.cpp's way: NFD (first code
 * point) and accent stripping when strip_accents, lower-casing when lowercase, split on White_Space,
 * drop controls, make every punctuation / ASCII symbol / CJK ideograph a word of its own; then each
 * word, prefixed with U+2581, is covered greedily by the longest vocabulary tokens. A word that
 * cannot be covered becomes the unknown token. */
#include "tok_internal.h"
#include "unicode.h"

static bool is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Greedy longest-match of "\u2581" + word; appends its tokens or the unknown token. */
static zeta_status wpm_word(const zeta_vocab *v, const char *w, size_t n, tok_vec *out) {
    size_t start = out->n;
    for (size_t i = 0; i < n; i++) {
        size_t j = n < i + v->max_token_len + 1 ? n : i + v->max_token_len + 1;
        bool match = false;
        for (; j > i; j--) {
            zeta_token t = vocab_lookup(v, w + i, j - i);
            if (t >= 0) {
                if (!tok_vec_push(out, t)) return ZETA_ERR_OUT_OF_MEMORY;
                match = true;
                i = j - 1;
                break;
            }
        }
        if (!match) { out->n = start; break; }
    }
    if (out->n == start && v->unk >= 0 && !tok_vec_push(out, v->unk)) return ZETA_ERR_OUT_OF_MEMORY;
    return ZETA_OK;
}

zeta_status wpm_encode(const zeta_vocab *v, const char *text, size_t len, tok_vec *out) {
    /* word buffer: "\u2581" + at most 4 bytes per input byte */
    char *w = zeta_malloc_array(len * 4 + 8, 1);
    if (!w) return ZETA_ERR_OUT_OF_MEMORY;
    zeta_status st = ZETA_OK;
    size_t n = 0;
    memcpy(w, "\xE2\x96\x81", 3);
#define FLUSH() do { if (n) { if ((st = wpm_word(v, w, 3 + n, out))) goto done; n = 0; } } while (0)
    for (size_t pos = 0; pos < len;) {
        uint32_t cp = uni_decode(text, len, &pos);
        if (v->strip_accents) cp = uni_nfd_first(cp);
        uint16_t f = uni_flags(cp);
        if (f & UNI_WHITESPACE) { FLUSH(); continue; }
        if (cp == 0 || cp == UNI_REPLACEMENT || (f & UNI_CONTROL)) continue;
        if (v->strip_accents && (f & UNI_MARK)) continue;
        char u8[4];
        size_t nb = uni_encode(v->lowercase ? uni_tolower(cp) : cp, u8);
        if ((f & UNI_PUNCTUATION) || (cp < 0x7F && (f & UNI_SYMBOL)) || is_chinese(cp)) {
            FLUSH();
            memcpy(w + 3, u8, nb);
            n = nb;
            FLUSH();
        } else {
            memcpy(w + 3 + n, u8, nb);
            n += nb;
        }
    }
    FLUSH();
#undef FLUSH
done:
    free(w);
    return st;
}
