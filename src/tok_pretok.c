/* tok_pretok.c — the pre-tokenizers of byte-level BPE vocabularies (tokenizer.ggml.pre): split a
 * text, as code points, into the words that BPE merges run inside. Each family is the sequence of
 * regular expressions llama.cpp applies, each splitting every fragment of the previous one into its
 * matches and the text between them. The expressions are hand-written matchers over code points:
 *   - "custom" steps (GPT-2 and Llama-3 expressions) follow llama.cpp's own flag-based splitters
 *     (Unicode category flags from src/unicode_data.c, out-of-fragment positions have no flags);
 *   - the other steps emulate std::regex (ECMAScript: leftmost match, ordered alternatives, greedy
 *     quantifiers with backtracking) on llama.cpp's "collapsed" text, where every code point >= 0x80
 *     is replaced by one byte for its class (White_Space -> \v, N -> D1, L -> D2, P -> D3, M -> D4,
 *     S -> D5, anything else -> D0), or, for expressions without \p{..}, on the code points with
 *     non-ASCII White_Space replaced by \v. \s is the C locale's: \t \n \v \f \r and space. */
#include "tok_internal.h"
#include "unicode.h"

typedef struct ptext {
    const uint32_t *cp;
    const uint16_t *fl;
} ptext;

/* A matcher returns the length of the match starting exactly at p (0: no match); e = fragment end. */
typedef size_t (*match_fn)(const ptext *t, size_t p, size_t e);

enum { CL_OTHER = 0xD0, CL_NUMBER = 0xD1, CL_LETTER = 0xD2, CL_PUNCT = 0xD3, CL_MARK = 0xD4, CL_SYMBOL = 0xD5 };

/* Collapsed class of position i (see header comment). */
static inline uint32_t kc(const ptext *t, size_t i) {
    uint32_t c = t->cp[i];
    if (c < 0x80) return c;
    uint16_t f = t->fl[i];
    if (f & UNI_WHITESPACE) return 0x0B;
    switch (f & UNI_CATEGORY_MASK) {
    case UNI_NUMBER: return CL_NUMBER;
    case UNI_LETTER: return CL_LETTER;
    case UNI_PUNCTUATION: return CL_PUNCT;
    case UNI_MARK: return CL_MARK;
    case UNI_SYMBOL: return CL_SYMBOL;
    default: return CL_OTHER;
    }
}

/* Raw code point with non-ASCII White_Space as \v (llama.cpp's wide-regex input). */
static inline uint32_t rc(const ptext *t, size_t i) {
    uint32_t c = t->cp[i];
    return (c >= 0x80 && (t->fl[i] & UNI_WHITESPACE)) ? 0x0B : c;
}

static inline bool k_s(uint32_t c) { return c == ' ' || (c >= 9 && c <= 13); }
static inline bool k_nl(uint32_t c) { return c == '\r' || c == '\n'; }
static inline bool k_L(uint32_t c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == CL_LETTER; }
static inline bool k_N(uint32_t c) { return (c >= '0' && c <= '9') || c == CL_NUMBER; }
static inline bool k_M(uint32_t c) { return c == CL_MARK; }
/* \p{P} on the collapsed text: ASCII !-# %-* ,-/ :-; ?-@ [-] _ { } and D3. */
static inline bool k_P(uint32_t c) {
    return c == CL_PUNCT || (c >= 0x21 && c <= 0x23) || (c >= 0x25 && c <= 0x2A) || (c >= 0x2C && c <= 0x2F) ||
           c == 0x3A || c == 0x3B || c == 0x3F || c == 0x40 || (c >= 0x5B && c <= 0x5D) || c == 0x5F ||
           c == 0x7B || c == 0x7D;
}

/* --- llama.cpp's flag-based splitters ------------------------------------------------------- */

#define F_WLN (UNI_WHITESPACE | UNI_LETTER | UNI_NUMBER)

static inline uint16_t fl_at(const ptext *t, size_t i, size_t e) { return i < e ? t->fl[i] : 0; }

/* 's|'t|'re|'ve|'m|'ll|'d (lower-case only unless fold) at p; 0 if none. */
static size_t contraction(const ptext *t, size_t p, size_t e, bool fold) {
    if (t->cp[p] != '\'' || p + 1 >= e) return 0;
    uint32_t a = fold ? uni_tolower(t->cp[p + 1]) : t->cp[p + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (p + 2 >= e) return 0;
    uint32_t b = fold ? uni_tolower(t->cp[p + 2]) : t->cp[p + 2];
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* whitespace tail shared by the splitters: \s+(?!\S) then \s+ over a run of n >= 1 */
static inline size_t ws_tail(size_t p, size_t n, size_t e) { return (n > 1 && p + n < e) ? n - 1 : n; }

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t m_gpt2(const ptext *t, size_t p, size_t e) {
    size_t n = contraction(t, p, e, false);
    if (n) return n;
    bool sp = t->cp[p] == ' ';
    uint16_t f2 = sp ? fl_at(t, p + 1, e) : t->fl[p];
    size_t q = p + sp;
    if (f2 & UNI_LETTER) {
        while (q < e && (t->fl[q] & UNI_LETTER)) q++;
        return q - p;
    }
    if (f2 & UNI_NUMBER) {
        while (q < e && (t->fl[q] & UNI_NUMBER)) q++;
        return q - p;
    }
    if (!(f2 & F_WLN) && f2) {
        while (q < e && !(t->fl[q] & F_WLN)) q++;
        return q - p;
    }
    n = 0;
    while (p + n < e && (t->fl[p + n] & UNI_WHITESPACE)) n++;
    return n ? ws_tail(p, n, e) : 1;
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 * \s*[\r\n]+|\s+(?!\S)|\s+ */
static size_t m_llama3(const ptext *t, size_t p, size_t e) {
    size_t n = contraction(t, p, e, true);
    if (n) return n;
    uint32_t c = t->cp[p];
    uint16_t f = t->fl[p];
    if (!(c == '\r' || c == '\n' || (f & UNI_NUMBER)) && ((f & UNI_LETTER) || (fl_at(t, p + 1, e) & UNI_LETTER))) {
        size_t q = p + 1;
        while (q < e && (t->fl[q] & UNI_LETTER)) q++;
        return q - p;
    }
    if (f & UNI_NUMBER) {
        size_t q = p;
        while (q < e && (t->fl[q] & UNI_NUMBER) && q - p < 3) q++;
        return q - p;
    }
    bool sp = c == ' ';
    uint16_t f2 = sp ? fl_at(t, p + 1, e) : f;
    if (!(f2 & F_WLN) && f) {
        size_t q = p + sp;
        while (q < e && !(t->fl[q] & F_WLN)) q++;
        while (q < e && (t->cp[q] == '\r' || t->cp[q] == '\n')) q++;
        return q - p;
    }
    size_t last_nl = 0;
    n = 0;
    while (p + n < e && (t->fl[p + n] & UNI_WHITESPACE)) {
        if (t->cp[p + n] == '\r' || t->cp[p + n] == '\n') last_nl = n + 1;
        n++;
    }
    if (last_nl) return last_nl;
    return n ? ws_tail(p, n, e) : 1;
}

/* --- std::regex emulations on the collapsed text --------------------------------------------- */

/* (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]) on collapsed text (ASCII only) */
static size_t k_contraction(const ptext *t, size_t p, size_t e) {
    if (t->cp[p] != '\'' || p + 1 >= e) return 0;
    uint32_t a = t->cp[p + 1];
    a = (a >= 'A' && a <= 'Z') ? a + 32 : a;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (p + 2 >= e) return 0;
    uint32_t b = t->cp[p + 2];
    b = (b >= 'A' && b <= 'Z') ? b + 32 : b;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* \s*[\r\n]+|\s+(?!\S)|\s+ at p (collapsed); 0 if c[p] is not \s */
static size_t k_ws(const ptext *t, size_t p, size_t e) {
    size_t n = 0, last_nl = 0;
    while (p + n < e) {
        uint32_t c = kc(t, p + n);
        if (!k_s(c)) break;
        if (k_nl(c)) last_nl = n + 1;
        n++;
    }
    if (last_nl) return last_nl;
    return n ? ws_tail(p, n, e) : 0;
}

/* Qwen-2 family:
 * (?:'[sS]|...)|[^\r\n\p{L}\p{N}]?B+|\p{N}{1,maxdig}| ?[^\s\p{L}\p{N}X]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * B = \p{L} (or [\p{L}\p{M}] and X = \p{M} when lm); trail: whether [\r\n]* follows the symbols. */
static size_t k_qwen(const ptext *t, size_t p, size_t e, bool contractions, bool lm, size_t maxdig, bool trail) {
    size_t n = contractions ? k_contraction(t, p, e) : 0;
    if (n) return n;
    uint32_t c = kc(t, p);
    bool x = !(k_nl(c) || k_L(c) || k_N(c));
#define BODY(k) (k_L(k) || (lm && k_M(k)))
    if (x && p + 1 < e && BODY(kc(t, p + 1))) {
        size_t q = p + 2;
        while (q < e && BODY(kc(t, q))) q++;
        return q - p;
    }
    if (BODY(c)) {
        size_t q = p + 1;
        while (q < e && BODY(kc(t, q))) q++;
        return q - p;
    }
#undef BODY
    if (k_N(c)) {
        size_t q = p + 1;
        while (q < e && q - p < maxdig && k_N(kc(t, q))) q++;
        return q - p;
    }
#define SYM(k) (!(k_s(k) || k_L(k) || k_N(k) || (lm && k_M(k))))
    size_t q = 0;
    if (c == ' ' && p + 1 < e && SYM(kc(t, p + 1))) q = p + 2;
    else if (SYM(c)) q = p + 1;
    if (q) {
        while (q < e && SYM(kc(t, q))) q++;
        while (trail && q < e && k_nl(kc(t, q))) q++;
        return q - p;
    }
#undef SYM
    return k_ws(t, p, e);
}

static size_t m_qwen2(const ptext *t, size_t p, size_t e) { return k_qwen(t, p, e, true, false, 1, true); }
static size_t m_qwen35(const ptext *t, size_t p, size_t e) { return k_qwen(t, p, e, true, true, 1, true); }
static size_t m_seed_coder(const ptext *t, size_t p, size_t e) { return k_qwen(t, p, e, true, false, 1, false); }

/* GPT-4o family:
 * [^\r\n\p{L}\p{N}]?U*W+C?|[^\r\n\p{L}\p{N}]?U+W*C?|\p{N}{1,maxdig}| ?[^\s\p{L}\p{N}]+[\r\n/]*|
 * \s*[\r\n]+|\s+(?!\S)|\s+   with U = ((?=\p{L})[^a-z]), W = ((?=\p{L})[^A-Z]), C = contractions */
static inline bool k_U(uint32_t c) { return (c >= 'A' && c <= 'Z') || c == CL_LETTER; }
static inline bool k_W(uint32_t c) { return (c >= 'a' && c <= 'z') || c == CL_LETTER; }

static size_t k_gpt4o(const ptext *t, size_t p, size_t e, bool contractions, size_t maxdig) {
    uint32_t c = kc(t, p);
    size_t s0 = (!(k_nl(c) || k_L(c) || k_N(c)) && p + 1 < e) ? p + 1 : p;
    /* alternative 1: U* W+ (the U* run backtracks to the last position where W+ can start) */
    size_t u = s0;
    while (u < e && k_U(kc(t, u))) u++;
    size_t w = SIZE_MAX;
    if (u < e && k_W(kc(t, u))) w = u;
    else
        for (size_t j = u; j > s0; j--)
            if (kc(t, j - 1) == CL_LETTER) { w = j - 1; break; }
    size_t q = SIZE_MAX;
    if (w != SIZE_MAX) {
        q = w + 1;
        while (q < e && k_W(kc(t, q))) q++;
    } else if (u > s0) { /* alternative 2: U+ W* */
        q = u;
        while (q < e && k_W(kc(t, q))) q++;
    }
    if (q != SIZE_MAX) {
        if (contractions && q < e) q += k_contraction(t, q, e);
        return q - p;
    }
    if (k_N(c)) {
        q = p + 1;
        while (q < e && q - p < maxdig && k_N(kc(t, q))) q++;
        return q - p;
    }
#define SYM(k) (!(k_s(k) || k_L(k) || k_N(k)))
    q = 0;
    if (c == ' ' && p + 1 < e && SYM(kc(t, p + 1))) q = p + 2;
    else if (SYM(c)) q = p + 1;
    if (q) {
        while (q < e && SYM(kc(t, q))) q++;
        while (q < e && (k_nl(kc(t, q)) || kc(t, q) == '/')) q++;
        return q - p;
    }
#undef SYM
    return k_ws(t, p, e);
}

static size_t m_gpt4o(const ptext *t, size_t p, size_t e) { return k_gpt4o(t, p, e, true, 3); }
static size_t m_tekken(const ptext *t, size_t p, size_t e) { return k_gpt4o(t, p, e, false, 1); }

/* [\p{P}\$\+<=>\^~\|]+ (default) and the same with ` (falcon) */
static inline bool k_default_punct(uint32_t c) {
    return k_P(c) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' || c == '|';
}
static size_t m_default_punct(const ptext *t, size_t p, size_t e) {
    size_t q = p;
    while (q < e && k_default_punct(kc(t, q))) q++;
    return q - p;
}
static size_t m_falcon_punct(const ptext *t, size_t p, size_t e) {
    size_t q = p;
    while (q < e && (k_default_punct(kc(t, q)) || kc(t, q) == '`')) q++;
    return q - p;
}
static size_t m_num_run(const ptext *t, size_t p, size_t e) {   /* \p{N}+ */
    size_t q = p;
    while (q < e && k_N(kc(t, q))) q++;
    return q - p;
}
static size_t m_num_one(const ptext *t, size_t p, size_t e) { return k_N(kc(t, p)) ? 1 : 0; } /* \p{N} */
static size_t m_digit3(const ptext *t, size_t p, size_t e) {     /* [0-9][0-9][0-9] */
    if (p + 3 > e) return 0;
    for (size_t i = p; i < p + 3; i++)
        if (t->cp[i] < '0' || t->cp[i] > '9') return 0;
    return 3;
}
static size_t m_newline(const ptext *t, size_t p, size_t e) { return k_nl(t->cp[p]) ? 1 : 0; } /* [\r\n] */

/* \s?\p{L}+ and \s?\p{P}+ (deepseek-coder) */
static size_t m_ws_letters(const ptext *t, size_t p, size_t e) {
    size_t q = (k_s(kc(t, p)) && p + 1 < e && k_L(kc(t, p + 1))) ? p + 1 : p;
    if (!k_L(kc(t, q))) return 0;
    while (q < e && k_L(kc(t, q))) q++;
    return q - p;
}
static size_t m_ws_punct(const ptext *t, size_t p, size_t e) {
    size_t q = (k_s(kc(t, p)) && p + 1 < e && k_P(kc(t, p + 1))) ? p + 1 : p;
    if (!k_P(kc(t, q))) return 0;
    while (q < e && k_P(kc(t, q))) q++;
    return q - p;
}

/* --- expressions with literal code point classes (no \p{..}) ------------------------------ */

typedef struct cp_range { uint32_t lo, hi; } cp_range;

/* deepseek-llm's letter class: cased letters as listed in its tokenizer.json expression */
static const cp_range ds_letters[] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA}, {0x1BC, 0x1BF},
    {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377}, {0x37B, 0x37D}, {0x37F, 0x37F},
    {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C}, {0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481},
    {0x48A, 0x52F}, {0x531, 0x556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA},
    {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15},
    {0x1F18, 0x1F1D}, {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59},
    {0x1F5B, 0x1F5B}, {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB},
    {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102}, {0x2107, 0x2107},
    {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126},
    {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F},
    {0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4},
    {0x2CEB, 0x2CEE}, {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F},
    {0xA771, 0xA787}, {0xA78B, 0xA78E}, {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17},
    {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};
/* [!-/:-~！-／：-～‘-‟　-。] */
static const cp_range ds_punct[] = {
    {0x21, 0x2F}, {0x3A, 0x7E}, {0x2018, 0x201F}, {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E},
};
/* [一-龥ࠀ-一가-퟿] */
static const cp_range cjk[] = { {0x800, 0x9FA5}, {0xAC00, 0xD7FF} };
/* bloom's [^(\s|.,!?…。，、।۔،)] excluded code points (besides \s) */
static const cp_range bloom_excl[] = {
    {0x21, 0x21}, {0x28, 0x29}, {0x2C, 0x2C}, {0x2E, 0x2E}, {0x3F, 0x3F}, {0x7C, 0x7C}, {0x60C, 0x60C},
    {0x6D4, 0x6D4}, {0x964, 0x964}, {0x2026, 0x2026}, {0x3001, 0x3002}, {0xFF0C, 0xFF0C},
};

static bool in_ranges(const cp_range *r, size_t n, uint32_t c) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r[mid].hi < c) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && r[lo].lo <= c;
}
#define IN(tab, c) in_ranges(tab, sizeof tab / sizeof tab[0], c)

/* \s?[class]+ on raw code points */
static size_t ws_class_run(const ptext *t, size_t p, size_t e, const cp_range *r, size_t nr) {
    size_t q = (k_s(rc(t, p)) && p + 1 < e && in_ranges(r, nr, rc(t, p + 1))) ? p + 1 : p;
    if (!in_ranges(r, nr, rc(t, q))) return 0;
    while (q < e && in_ranges(r, nr, rc(t, q))) q++;
    return q - p;
}
static size_t m_ds_letters(const ptext *t, size_t p, size_t e) {
    return ws_class_run(t, p, e, ds_letters, sizeof ds_letters / sizeof ds_letters[0]);
}
static size_t m_ds_punct(const ptext *t, size_t p, size_t e) {
    return ws_class_run(t, p, e, ds_punct, sizeof ds_punct / sizeof ds_punct[0]);
}
static size_t m_cjk(const ptext *t, size_t p, size_t e) {
    size_t q = p;
    while (q < e && IN(cjk, rc(t, q))) q++;
    return q - p;
}
/*  ?[^(\s|.,!?…。，、।۔،)]+ */
static inline bool bloom_cls(uint32_t c) { return !k_s(c) && !IN(bloom_excl, c); }
static size_t m_bloom(const ptext *t, size_t p, size_t e) {
    size_t q = (rc(t, p) == ' ' && p + 1 < e && bloom_cls(rc(t, p + 1))) ? p + 1 : p;
    if (!bloom_cls(rc(t, q))) return 0;
    while (q < e && bloom_cls(rc(t, q))) q++;
    return q - p;
}
/* \s+$ : only the whitespace run that reaches the end of the fragment matches. Never called:
 * split_fragment recognizes this step and cuts the trailing run off directly (trying every start
 * position, as a regex search does, would be quadratic on long whitespace runs). */
static size_t m_trailing_ws(const ptext *t, size_t p, size_t e) { (void)t; (void)p; (void)e; return 0; }

/* --- driver ---------------------------------------------------------------------------------- */

/* Leftmost-first splitting of fragment [s, e) by matcher m (std::regex_iterator semantics:
 * matches and the text between them become fragments). */
static bool split_fragment(const ptext *t, size_t s, size_t e, match_fn m, size_vec *out) {
    if (m == m_trailing_ws) {
        size_t q = e;
        while (q > s && k_s(rc(t, q - 1))) q--;
        if (q > s && !size_vec_push(out, q - s)) return false;
        return q == e || size_vec_push(out, e - q);
    }
    size_t last = s, p = s;
    while (p < e) {
        size_t n = m(t, p, e);
        if (!n) { p++; continue; }
        if (n > e - p) n = e - p;
        if (p > last && !size_vec_push(out, p - last)) return false;
        if (!size_vec_push(out, n)) return false;
        p += n;
        last = p;
    }
    return last == e || size_vec_push(out, e - last);
}

pretok_type pretok_from_name(const char *name, bool *known, bool *ignore_merges, bool *add_bos) {
    static const struct { const char *name; pretok_type pre; bool ignore_merges, add_bos; } map[] = {
        {"default", PRE_DEFAULT, false, false},
        {"llama3", PRE_LLAMA3, true, true}, {"llama-v3", PRE_LLAMA3, true, true},
        {"llama-bpe", PRE_LLAMA3, true, true}, {"falcon3", PRE_LLAMA3, true, true},
        {"falcon-h1", PRE_LLAMA3, true, true}, {"pixtral", PRE_LLAMA3, true, true},
        {"midm-2.0", PRE_LLAMA3, true, true}, {"lfm2", PRE_LLAMA3, true, true},
        {"jina-v5-nano", PRE_LLAMA3, true, true},
        {"dbrx", PRE_LLAMA3, false, false}, {"smaug-bpe", PRE_LLAMA3, false, false},
        {"glm4", PRE_LLAMA3, false, false}, {"chatglm-bpe", PRE_LLAMA3, false, false},
        {"deepseek-llm", PRE_DEEPSEEK_LLM, false, false}, {"deepseek-coder", PRE_DEEPSEEK_CODER, false, false},
        {"falcon", PRE_FALCON, false, false},
        {"mpt", PRE_GPT2, false, false}, {"gpt-2", PRE_GPT2, false, false}, {"phi-2", PRE_GPT2, false, false},
        {"jina-es", PRE_GPT2, false, false}, {"jina-de", PRE_GPT2, false, false},
        {"gigachat", PRE_GPT2, false, false}, {"jina-v2-es", PRE_GPT2, false, false},
        {"jina-v2-de", PRE_GPT2, false, false}, {"a.x-4.0", PRE_GPT2, false, false},
        {"mellum", PRE_GPT2, false, false}, {"modern-bert", PRE_GPT2, false, false},
        {"jina-v1-en", PRE_GPT2, false, false}, {"jina-v2-code", PRE_GPT2, false, false},
        {"roberta-bpe", PRE_GPT2, false, false}, {"olmo", PRE_GPT2, false, false},
        {"jais", PRE_GPT2, false, false}, {"exaone4", PRE_GPT2, false, false},
        {"trillion", PRE_GPT2, false, false}, {"granite-docling", PRE_GPT2, false, false},
        {"starcoder", PRE_STARCODER, false, false}, {"refact", PRE_STARCODER, false, false},
        {"command-r", PRE_STARCODER, false, false}, {"smollm", PRE_STARCODER, false, false},
        {"codeshell", PRE_STARCODER, false, false}, {"exaone", PRE_STARCODER, false, false},
        {"minerva-7b", PRE_STARCODER, false, false}, {"mellum2", PRE_STARCODER, false, false},
        {"qwen2", PRE_QWEN2, false, false}, {"deepseek-r1-qwen", PRE_QWEN2, false, false},
        {"kormo", PRE_QWEN2, false, false}, {"f2llmv2", PRE_QWEN2, false, false},
        {"megrez", PRE_QWEN2, false, false}, {"stablelm2", PRE_QWEN2, false, false},
        {"hunyuan", PRE_QWEN2, false, false}, {"solar-open", PRE_QWEN2, false, false},
        {"grok-2", PRE_QWEN2, false, false}, {"qwen35", PRE_QWEN35, false, false},
        {"seed-coder", PRE_SEED_CODER, false, false},
        {"gpt-4o", PRE_GPT4O, false, false}, {"llama4", PRE_GPT4O, false, false},
        {"kanana2", PRE_GPT4O, false, false}, {"talkie", PRE_GPT4O, false, false},
        {"minimax-m2", PRE_GPT4O, false, false}, {"tekken", PRE_TEKKEN, true, true},
        {"poro-chat", PRE_BLOOM, false, false}, {"bloom", PRE_BLOOM, false, false},
        {"gpt3-finnish", PRE_BLOOM, false, false}, {"viking", PRE_VIKING, false, false},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(map[i].name, name) == 0) {
            *known = true;
            *ignore_merges = map[i].ignore_merges;
            *add_bos = map[i].add_bos;
            return map[i].pre;
        }
    }
    *known = false;
    *ignore_merges = false;
    *add_bos = false;
    return PRE_DEFAULT;
}

zeta_status pretok_split(pretok_type pre, const uint32_t *cps, const uint16_t *fl, size_t n, size_vec *words) {
    match_fn steps[8];
    size_t n_steps = 0;
    switch (pre) {
    case PRE_GPT2: steps[n_steps++] = m_gpt2; break;
    case PRE_LLAMA3: steps[n_steps++] = m_llama3; break;
    case PRE_QWEN2: steps[n_steps++] = m_qwen2; break;
    case PRE_QWEN35: steps[n_steps++] = m_qwen35; break;
    case PRE_SEED_CODER: steps[n_steps++] = m_seed_coder; break;
    case PRE_GPT4O: steps[n_steps++] = m_gpt4o; break;
    case PRE_TEKKEN: steps[n_steps++] = m_tekken; break;
    case PRE_FALCON:
        steps[n_steps++] = m_falcon_punct;
        steps[n_steps++] = m_gpt2;
        steps[n_steps++] = m_digit3;
        break;
    case PRE_STARCODER:
        steps[n_steps++] = m_num_one;
        steps[n_steps++] = m_gpt2;
        break;
    case PRE_DEEPSEEK_LLM:
        steps[n_steps++] = m_newline;
        steps[n_steps++] = m_ds_letters;
        steps[n_steps++] = m_ds_punct;
        steps[n_steps++] = m_trailing_ws;
        steps[n_steps++] = m_cjk;
        steps[n_steps++] = m_num_run;
        break;
    case PRE_DEEPSEEK_CODER:
        steps[n_steps++] = m_newline;
        steps[n_steps++] = m_ws_letters;
        steps[n_steps++] = m_ws_punct;
        steps[n_steps++] = m_cjk;
        steps[n_steps++] = m_num_one;
        break;
    case PRE_BLOOM: steps[n_steps++] = m_bloom; break;
    case PRE_VIKING:
        steps[n_steps++] = m_bloom;
        steps[n_steps++] = m_num_one;
        break;
    case PRE_DEFAULT:
    default:
        steps[n_steps++] = m_default_punct;
        steps[n_steps++] = m_gpt2;
        steps[n_steps++] = m_num_run;
        steps[n_steps++] = m_digit3;
        break;
    }
    ptext t = {cps, fl};
    size_vec a = {0}, b = {0};
    zeta_status st = ZETA_OK;
    if (n && !size_vec_push(&a, n)) st = ZETA_ERR_OUT_OF_MEMORY;
    for (size_t k = 0; k < n_steps && st == ZETA_OK; k++) {
        b.n = 0;
        size_t pos = 0;
        for (size_t i = 0; i < a.n; i++) {
            if (!split_fragment(&t, pos, pos + a.v[i], steps[k], &b)) { st = ZETA_ERR_OUT_OF_MEMORY; break; }
            pos += a.v[i];
        }
        size_vec tmp = a;
        a = b;
        b = tmp;
    }
    for (size_t i = 0; i < a.n && st == ZETA_OK; i++)
        if (!size_vec_push(words, a.v[i])) st = ZETA_ERR_OUT_OF_MEMORY;
    free(a.v);
    free(b.v);
    return st;
}
