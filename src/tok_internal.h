/* tok_internal.h — the vocabulary structure shared by the tokenizer's files (tokenizer.c: loading
 * and lookups; tok_text.c: special-token splitting, tokenize/detokenize; tok_spm.c, tok_bpe.c,
 * tok_wpm.c: the three encoders; tok_pretok.c: the BPE pre-tokenizers) and the small growable
 * arrays they fill. Not part of any public API. */
#ifndef ZETA_TOK_INTERNAL_H
#define ZETA_TOK_INTERNAL_H

#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

enum { VOCAB_SPM = 1, VOCAB_BPE = 2, VOCAB_WPM = 3 };

/* Token attributes (bit set, llama.cpp's llama_token_attr values). */
enum {
    TOK_ATTR_UNKNOWN = 1 << 0,
    TOK_ATTR_UNUSED = 1 << 1,
    TOK_ATTR_NORMAL = 1 << 2,
    TOK_ATTR_CONTROL = 1 << 3,
    TOK_ATTR_USER_DEFINED = 1 << 4,
    TOK_ATTR_BYTE = 1 << 5,
    TOK_ATTR_LSTRIP = 1 << 7,
    TOK_ATTR_RSTRIP = 1 << 8
};

/* Pre-tokenizer families (each is one fixed sequence of split steps, see tok_pretok.c). */
typedef enum pretok_type {
    PRE_DEFAULT = 0,   /* llama.cpp's fallback for BPE vocabularies without a known pre */
    PRE_GPT2,          /* gpt-2, mpt, olmo, jais, phi-2, ... */
    PRE_LLAMA3,        /* llama3 / llama-bpe, dbrx, smaug-bpe, chatglm-bpe, ... */
    PRE_QWEN2,         /* qwen2, deepseek-r1-qwen, stablelm2, megrez, ... */
    PRE_QWEN35,        /* qwen35: qwen2 with \p{M} joining letters */
    PRE_FALCON,
    PRE_STARCODER,     /* starcoder, refact, command-r, smollm, codeshell, exaone, minerva */
    PRE_DEEPSEEK_LLM,
    PRE_DEEPSEEK_CODER,
    PRE_GPT4O,         /* gpt-4o, llama4, minimax-m2, kanana2 */
    PRE_TEKKEN,
    PRE_BLOOM,         /* bloom, poro-chat, gpt3-finnish */
    PRE_VIKING,
    PRE_SEED_CODER
} pretok_type;

typedef struct tok_vec {       /* growable array of token ids */
    zeta_token *v;
    size_t n, cap;
} tok_vec;

typedef struct size_vec {      /* growable array of sizes */
    size_t *v;
    size_t n, cap;
} size_vec;

bool tok_vec_push(tok_vec *a, zeta_token t);
bool size_vec_push(size_vec *a, size_t x);

struct zeta_vocab {
    int type;                       /* VOCAB_SPM / VOCAB_BPE / VOCAB_WPM */
    char model_name[16];            /* "llama", "gpt2", "bert" */
    char *pre_name;                 /* tokenizer.ggml.pre or "default" */
    pretok_type pre;
    uint32_t n_tokens;

    char *pool;                     /* all token texts, then all merge halves */
    size_t *tok_off;                /* text of token i: pool + tok_off[i], tok_len[i] bytes */
    uint32_t *tok_len;
    float *scores;
    uint16_t *attr;
    uint32_t max_token_len;

    uint32_t *tok_ht;               /* open addressing: id + 1, 0 = empty */
    size_t tok_ht_mask;

    uint32_t n_merges;
    size_t *m_off;                  /* merge i: left = pool + m_off[i] (m_llen bytes), right follows */
    uint32_t *m_llen, *m_rlen;
    uint32_t *m_ht;                 /* merge index + 1, 0 = empty */
    size_t m_ht_mask;

    zeta_token bos, eos, eot, eom, unk, sep, pad, mask;
    zeta_token fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    zeta_token byte_tok[256];       /* byte fallback token per byte, -1 if none */

    bool add_bos, add_eos, add_sep, add_space_prefix, ignore_merges;
    bool lowercase, strip_accents;  /* WordPiece normalizer */
    bool spm_split_at_space;        /* no token has U+2581 right after another character */

    zeta_token *special;            /* control / user-defined / unknown tokens, longest text first */
    uint32_t n_special;
    zeta_token *eog;                /* end-of-generation set, sorted */
    uint32_t n_eog;
};

static inline const char *vocab_text(const zeta_vocab *v, zeta_token t) { return v->pool + v->tok_off[t]; }

/* Token id of the exact byte string s[0..n), or -1. */
zeta_token vocab_lookup(const zeta_vocab *v, const char *s, size_t n);
/* Rank of the merge "a b", or -1. */
int32_t vocab_merge_rank(const zeta_vocab *v, const char *a, size_t na, const char *b, size_t nb);
uint64_t tok_hash(const char *s, size_t n, uint64_t h);
#define TOK_HASH_SEED 0xcbf29ce484222325ull

/* Encoders: append the tokens of one raw-text fragment. They never fail except on memory. */
zeta_status spm_encode(const zeta_vocab *v, const char *text, size_t len, bool space_prefix, tok_vec *out);
zeta_status bpe_encode(const zeta_vocab *v, const char *text, size_t len, tok_vec *out);
zeta_status wpm_encode(const zeta_vocab *v, const char *text, size_t len, tok_vec *out);

/* Splits the code points cps[0..n) (flags fl[i] = uni_flags(cps[i])) into pre-tokenizer words:
 * appends the length in code points of each word to *words. */
zeta_status pretok_split(pretok_type pre, const uint32_t *cps, const uint16_t *fl, size_t n, size_vec *words);
/* Maps a tokenizer.ggml.pre name to a family; *known = false (and PRE_DEFAULT) for unknown names.
 * Also reports the llama.cpp defaults that go with the name. */
pretok_type pretok_from_name(const char *name, bool *known, bool *ignore_merges, bool *add_bos);

#endif
