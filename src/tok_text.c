/* tok_text.c — text <-> tokens over a loaded vocabulary: cuts the text at special-token matches
 * (llama.cpp's partitioning: each special token in turn, longest first, splits every remaining text
 * fragment at all its occurrences), encodes the text fragments with the vocabulary's encoder, adds
 * BOS/EOS; and renders tokens back to bytes (pieces) and whole sequences. */
#include "tok_internal.h"
#include "unicode.h"

/* Longest text accepted: keeps every internal offset (U+2581-escaped SPM text, byte-encoded BPE
 * words) well inside 32 bits. */
#define MAX_TEXT_LEN ((size_t)1 << 29)

typedef struct frag {
    zeta_token tok;   /* >= 0: a special token; -1: text[off, off + len) */
    size_t off, len;
} frag;

typedef struct frag_vec {
    frag *v;
    size_t n, cap;
} frag_vec;

static bool frag_push(frag_vec *a, zeta_token tok, size_t off, size_t len) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        frag *nv = realloc(a->v, cap * sizeof *nv);
        if (!nv) return false;
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = (frag){tok, off, len};
    return true;
}

static inline bool c_isspace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* First occurrence of needle (n >= 1 bytes) in hay[from, to), or SIZE_MAX. */
static size_t find(const char *hay, size_t from, size_t to, const char *needle, size_t n) {
    while (from + n <= to) {
        const char *p = memchr(hay + from, needle[0], to - n + 1 - from);
        if (!p) return SIZE_MAX;
        size_t at = (size_t)(p - hay);
        if (memcmp(p, needle, n) == 0) return at;
        from = at + 1;
    }
    return SIZE_MAX;
}

/* Splits the text fragments of *a at every occurrence of special token t into *b. */
static bool split_at_token(const zeta_vocab *v, const char *text, zeta_token t, const frag_vec *a, frag_vec *b) {
    const char *s = vocab_text(v, t);
    size_t n = v->tok_len[t];
    b->n = 0;
    for (size_t i = 0; i < a->n; i++) {
        frag f = a->v[i];
        if (f.tok >= 0) {
            if (!frag_push(b, f.tok, 0, 0)) return false;
            continue;
        }
        size_t cur = f.off, end = f.off + f.len;
        for (;;) {
            size_t m = find(text, cur, end, s, n);
            if (m == SIZE_MAX) break;
            size_t left = m;
            if (v->attr[t] & TOK_ATTR_LSTRIP)
                while (left > cur && c_isspace(text[left - 1])) left--;
            if (left > cur && !frag_push(b, -1, cur, left - cur)) return false;
            if (!frag_push(b, t, 0, 0)) return false;
            cur = m + n;
            if (v->attr[t] & TOK_ATTR_RSTRIP)
                while (cur < end && c_isspace(text[cur])) cur++;
        }
        if (cur < end && !frag_push(b, -1, cur, end - cur)) return false;
    }
    return true;
}

zeta_status vocab_tokenize(const zeta_vocab *v, const char *text, size_t len, bool add_special, bool parse_special,
                           zeta_token *out, size_t cap, size_t *n_out, zeta_error *err) {
    if (n_out) *n_out = 0;
    if (!v || !n_out || (!text && len) || (!out && cap))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "vocab_tokenize: %s is NULL",
                         !v ? "vocab" : !n_out ? "n_out" : (!text && len) ? "text" : "tokens (with cap > 0)");
    if (len > MAX_TEXT_LEN)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "tokenize: text of %zu bytes exceeds the limit of %zu bytes",
                         len, MAX_TEXT_LEN);
    frag_vec fa = {0}, fb = {0};
    tok_vec toks = {0};
    zeta_status st = ZETA_OK;
    if (len && !frag_push(&fa, -1, 0, len)) goto oom;
    for (uint32_t i = 0; i < v->n_special && fa.n; i++) {
        zeta_token t = v->special[i];
        if (!parse_special && (v->attr[t] & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN))) continue;
        if (v->tok_len[t] > len) continue;
        if (!split_at_token(v, text, t, &fa, &fb)) goto oom;
        frag_vec tmp = fa;
        fa = fb;
        fb = tmp;
    }

    if (add_special && v->add_bos && v->bos >= 0 && !tok_vec_push(&toks, v->bos)) goto oom;
    bool prev_special = true; /* SPM: a space is put before the text and after every special token */
    for (size_t i = 0; i < fa.n; i++) {
        const frag *f = &fa.v[i];
        if (f->tok >= 0) {
            if (!tok_vec_push(&toks, f->tok)) goto oom;
            prev_special = true;
            continue;
        }
        switch (v->type) {
        case VOCAB_SPM: st = spm_encode(v, text + f->off, f->len, v->add_space_prefix && prev_special, &toks); break;
        case VOCAB_BPE: st = bpe_encode(v, text + f->off, f->len, &toks); break;
        default: st = wpm_encode(v, text + f->off, f->len, &toks); break;
        }
        if (st) goto oom;
        prev_special = false;
    }
    if (add_special) {
        if (v->type == VOCAB_WPM) {
            if (v->sep >= 0 && !tok_vec_push(&toks, v->sep)) goto oom;
        } else if (v->add_eos && v->eos >= 0 && !tok_vec_push(&toks, v->eos)) {
            goto oom;
        }
    }
    *n_out = toks.n;
    if (toks.n > cap) {
        st = zeta_fail(err, ZETA_ERR_BUFFER_TOO_SMALL, "tokenize: %zu tokens do not fit in a buffer of %zu", toks.n, cap);
    } else {
        if (toks.n) memcpy(out, toks.v, toks.n * sizeof *out);
        st = zeta_ok(err);
    }
    free(fa.v);
    free(fb.v);
    free(toks.v);
    return st;
oom:
    free(fa.v);
    free(fb.v);
    free(toks.v);
    *n_out = 0;
    return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "tokenize: out of memory for a text of %zu bytes", len);
}

/* --- decoding -------------------------------------------------------------------------------- */

typedef struct sink {
    char *buf;
    size_t cap, n;
    bool strip;   /* drop a leading space from the first bytes put (SPM space prefix) */
} sink;

static void put(sink *k, const char *s, size_t n) {
    if (k->strip && n) {
        k->strip = false;
        if (s[0] == ' ') { s++; n--; }
    }
    if (k->n < k->cap) {
        size_t m = k->cap - k->n < n ? k->cap - k->n : n;
        memcpy(k->buf + k->n, s, m);
    }
    k->n += n;
}

/* Code point of GPT-2's byte-to-unicode map back to the byte, or -1. */
static int cp_to_byte(uint32_t cp) {
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF)) return (int)cp;
    if (cp >= 0x100 && cp <= 0x120) return (int)(cp - 0x100);
    if (cp >= 0x121 && cp <= 0x142) return (int)(cp - 0x121 + 0x7F);
    if (cp == 0x143) return 0xAD;
    return -1;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void piece(const zeta_vocab *v, zeta_token t, bool special, sink *k) {
    uint16_t a = v->attr[t];
    const char *s = vocab_text(v, t);
    size_t n = v->tok_len[t];
    if (!special && (a & (TOK_ATTR_UNKNOWN | TOK_ATTR_CONTROL))) return;
    if (a & (TOK_ATTR_UNKNOWN | TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED)) {
        put(k, s, n);
    } else if (a & TOK_ATTR_NORMAL) {
        if (v->type == VOCAB_BPE) {
            for (size_t pos = 0; pos < n;) {
                size_t at = pos;
                int b = cp_to_byte(uni_decode(s, n, &pos));
                if (b >= 0) {
                    char c = (char)b;
                    put(k, &c, 1);
                } else { /* as llama.cpp renders a character outside the byte map */
                    static const char hx[] = "0123456789abcdef";
                    put(k, "[UNK_BYTE_0x", 12);
                    for (size_t j = at; j < pos; j++) {
                        char h[2] = {hx[(uint8_t)s[j] >> 4], hx[(uint8_t)s[j] & 15]};
                        put(k, h, 2);
                    }
                    put(k, s, n);
                    put(k, "]", 1);
                }
            }
        } else {
            for (size_t i = 0; i < n;) {
                if (i + 3 <= n && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
                    put(k, " ", 1);
                    i += 3;
                } else {
                    put(k, s + i, 1);
                    i++;
                }
            }
        }
    } else if ((a & TOK_ATTR_BYTE) && n >= 5) {
        int hi = hexval(s[3]), lo = hexval(s[4]);
        if (hi >= 0 && lo >= 0) {
            char c = (char)(hi * 16 + lo);
            put(k, &c, 1);
        }
    }
}

size_t vocab_token_piece(const zeta_vocab *v, zeta_token t, bool special, char *buf, size_t cap) {
    if (!v || t < 0 || (uint32_t)t >= v->n_tokens) return 0;
    sink k = {buf, buf ? cap : 0, 0, false};
    piece(v, t, special, &k);
    return k.n;
}

zeta_status vocab_detokenize(const zeta_vocab *v, const zeta_token *tokens, size_t n, bool special, char *buf,
                             size_t cap, size_t *n_out, zeta_error *err) {
    if (n_out) *n_out = 0;
    if (!v || !n_out || (!tokens && n) || (!buf && cap))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "vocab_detokenize: %s is NULL",
                         !v ? "vocab" : !n_out ? "n_out" : (!tokens && n) ? "tokens" : "buf (with cap > 0)");
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= v->n_tokens)
            return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "detokenize: token %d at index %zu is outside the "
                             "vocabulary of %u tokens", tokens[i], i, v->n_tokens);
    /* first pass: size; second pass: bytes (nothing is written when it does not fit) */
    for (int pass = 0; pass < 2; pass++) {
        sink k = {buf, pass ? cap : 0, 0, v->add_space_prefix};
        for (size_t i = 0; i < n; i++) piece(v, tokens[i], special, &k);
        if (!pass) {
            *n_out = k.n;
            if (k.n > cap)
                return zeta_fail(err, ZETA_ERR_BUFFER_TOO_SMALL, "detokenize: %zu bytes do not fit in a buffer of %zu",
                                 k.n, cap);
            if (k.n == 0) break;
        }
    }
    return zeta_ok(err);
}
