/* tokenizer.c — loading the vocabulary: reads the tokenizer.* metadata (tokens, scores, types,
 * merges, special token ids and flags, with llama.cpp's defaults and its fix-ups by token text),
 * builds the token and merge hash tables, and answers the accessors of tokenizer.h. Encoding and
 * decoding live in tok_text.c and the encoder files. */
#include "tok_internal.h"
#include "unicode.h"

#include <stddef.h>
#include <stdio.h>

/* --- small helpers --------------------------------------------------------------------------- */

bool tok_vec_push(tok_vec *a, zeta_token t) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        zeta_token *nv = realloc(a->v, cap * sizeof *nv);
        if (!nv) return false;
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = t;
    return true;
}

bool size_vec_push(size_vec *a, size_t x) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        size_t *nv = realloc(a->v, cap * sizeof *nv);
        if (!nv) return false;
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return true;
}

uint64_t tok_hash(const char *s, size_t n, uint64_t h) { /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static inline uint64_t pair_hash(const char *a, size_t na, const char *b, size_t nb) {
    uint64_t h = tok_hash(a, na, TOK_HASH_SEED);
    h ^= (uint64_t)na * 0x9E3779B97F4A7C15ull;
    return tok_hash(b, nb, h * 0x100000001b3ull);
}

zeta_token vocab_lookup(const zeta_vocab *v, const char *s, size_t n) {
    for (size_t i = tok_hash(s, n, TOK_HASH_SEED) & v->tok_ht_mask;; i = (i + 1) & v->tok_ht_mask) {
        uint32_t e = v->tok_ht[i];
        if (!e) return -1;
        zeta_token t = (zeta_token)(e - 1);
        if (v->tok_len[t] == n && memcmp(vocab_text(v, t), s, n) == 0) return t;
    }
}

int32_t vocab_merge_rank(const zeta_vocab *v, const char *a, size_t na, const char *b, size_t nb) {
    if (!v->m_ht) return -1;
    for (size_t i = pair_hash(a, na, b, nb) & v->m_ht_mask;; i = (i + 1) & v->m_ht_mask) {
        uint32_t e = v->m_ht[i];
        if (!e) return -1;
        uint32_t m = e - 1;
        const char *l = v->pool + v->m_off[m];
        if (v->m_llen[m] == na && v->m_rlen[m] == nb && memcmp(l, a, na) == 0 && memcmp(l + na, b, nb) == 0)
            return (int32_t)m;
    }
}

static size_t table_size(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap *= 2;
    return cap;
}

/* Integer at element i of an integer array kv (or the scalar itself); false if not an integer. */
static bool kv_int(const gguf_kv *kv, uint64_t i, int64_t *out) {
    gguf_vtype t = kv->type == GGUF_ARRAY ? kv->arr_type : kv->type;
    const uint8_t *p = kv->data;
    switch (t) {
    case GGUF_UINT8: *out = p[i]; return true;
    case GGUF_INT8: *out = (int8_t)p[i]; return true;
    case GGUF_UINT16: { uint16_t x; memcpy(&x, p + 2 * i, 2); *out = x; return true; }
    case GGUF_INT16: { int16_t x; memcpy(&x, p + 2 * i, 2); *out = x; return true; }
    case GGUF_UINT32: { uint32_t x; memcpy(&x, p + 4 * i, 4); *out = x; return true; }
    case GGUF_INT32: { int32_t x; memcpy(&x, p + 4 * i, 4); *out = x; return true; }
    case GGUF_UINT64: { uint64_t x; memcpy(&x, p + 8 * i, 8); *out = x > INT64_MAX ? INT64_MAX : (int64_t)x; return true; }
    case GGUF_INT64: { int64_t x; memcpy(&x, p + 8 * i, 8); *out = x; return true; }
    default: return false;
    }
}

static zeta_status get_flag(const gguf_file *g, const char *key, bool *val, zeta_error *err) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv) return ZETA_OK;
    if (kv->type != GGUF_BOOL)
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: key '%s' has type %s; expected bool", g->path, key,
                         gguf_vtype_name(kv->type));
    *val = kv->data[0] != 0;
    return ZETA_OK;
}

/* --- loading --------------------------------------------------------------------------------- */

static bool text_is(const zeta_vocab *v, zeta_token t, const char *s) {
    size_t n = strlen(s);
    return v->tok_len[t] == n && memcmp(vocab_text(v, t), s, n) == 0;
}

static zeta_token find_text(const zeta_vocab *v, const char *s) { return vocab_lookup(v, s, strlen(s)); }

static const char *const k_eot_texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    "<end_of_utterance>", NULL};
static const char *const k_eom_texts[] = {"<|eom_id|>", NULL};
static const char *const k_fim_pre_texts[] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
    "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>", "\xE2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL};
static const char *const k_fim_suf_texts[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
    "<\xEF\xBD\x9C" "fim\xE2\x96\x81hole\xEF\xBD\x9C>", "<SUF>", "\xE2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL};
static const char *const k_fim_mid_texts[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
    "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>", "\xE2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL};
static const char *const k_fim_pad_texts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL};
static const char *const k_fim_rep_texts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL};
static const char *const k_fim_sep_texts[] = {"<|file_sep|>", NULL};
static const char *const k_eog_texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>",
    "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]",
    "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>", "[e~[", NULL};
static const char *const k_user_defined_texts[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL};

/* The lowest id whose text is in list, marked control; -1 if none. */
static zeta_token detect(zeta_vocab *v, const char *const *list) {
    zeta_token best = -1;
    for (; *list; list++) {
        zeta_token t = find_text(v, *list);
        if (t >= 0 && (best < 0 || t < best)) best = t;
    }
    if (best >= 0) v->attr[best] |= TOK_ATTR_CONTROL;
    return best;
}

static int cmp_token(const void *a, const void *b) {
    zeta_token x = *(const zeta_token *)a, y = *(const zeta_token *)b;
    return (x > y) - (x < y);
}

static void eog_add(zeta_vocab *v, zeta_token t) {
    if (t < 0) return;
    for (uint32_t i = 0; i < v->n_eog; i++)
        if (v->eog[i] == t) return;
    v->eog[v->n_eog++] = t;
}

static void eog_remove(zeta_vocab *v, zeta_token t) {
    for (uint32_t i = 0; i < v->n_eog; i++)
        if (v->eog[i] == t) { v->eog[i] = v->eog[--v->n_eog]; return; }
}

static bool eog_has_text(const zeta_vocab *v, const char *s, zeta_token *which) {
    for (uint32_t i = 0; i < v->n_eog; i++)
        if (text_is(v, v->eog[i], s)) { if (which) *which = v->eog[i]; return true; }
    return false;
}

/* Special ids, EOG set and the attribute fix-ups llama.cpp applies by token text. */
static zeta_status load_specials(zeta_vocab *v, const gguf_file *g, zeta_error *err) {
    static const struct { const char *key; size_t field; } ids[] = {
        {"tokenizer.ggml.bos_token_id", offsetof(zeta_vocab, bos)},
        {"tokenizer.ggml.eos_token_id", offsetof(zeta_vocab, eos)},
        {"tokenizer.ggml.eot_token_id", offsetof(zeta_vocab, eot)},
        {"tokenizer.ggml.eom_token_id", offsetof(zeta_vocab, eom)},
        {"tokenizer.ggml.unknown_token_id", offsetof(zeta_vocab, unk)},
        {"tokenizer.ggml.seperator_token_id", offsetof(zeta_vocab, sep)},
        {"tokenizer.ggml.padding_token_id", offsetof(zeta_vocab, pad)},
        {"tokenizer.ggml.mask_token_id", offsetof(zeta_vocab, mask)},
        {"tokenizer.ggml.fim_pre_token_id", offsetof(zeta_vocab, fim_pre)},
        {"tokenizer.ggml.fim_suf_token_id", offsetof(zeta_vocab, fim_suf)},
        {"tokenizer.ggml.fim_mid_token_id", offsetof(zeta_vocab, fim_mid)},
        {"tokenizer.ggml.fim_pad_token_id", offsetof(zeta_vocab, fim_pad)},
        {"tokenizer.ggml.fim_rep_token_id", offsetof(zeta_vocab, fim_rep)},
        {"tokenizer.ggml.fim_sep_token_id", offsetof(zeta_vocab, fim_sep)},
        {"tokenizer.ggml.prefix_token_id", offsetof(zeta_vocab, fim_pre)},
        {"tokenizer.ggml.suffix_token_id", offsetof(zeta_vocab, fim_suf)},
        {"tokenizer.ggml.middle_token_id", offsetof(zeta_vocab, fim_mid)},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        zeta_token *id = (zeta_token *)((char *)v + ids[i].field);
        if (*id >= 0 && (uint32_t)*id >= v->n_tokens) *id = -1; /* default out of range */
        const gguf_kv *kv = gguf_find(g, ids[i].key);
        int64_t x;
        if (!kv) continue;
        if (kv->type == GGUF_ARRAY || !kv_int(kv, 0, &x))
            return zeta_fail(err, ZETA_ERR_FORMAT, "%s: key '%s' has type %s; expected an integer token id",
                             g->path, ids[i].key, gguf_vtype_name(kv->type));
        if (x >= 0 && x < (int64_t)v->n_tokens) *id = (zeta_token)x; /* else keep the default, as llama.cpp */
    }
    zeta_status st;
    if ((st = get_flag(g, "tokenizer.ggml.add_bos_token", &v->add_bos, err))) return st;
    if ((st = get_flag(g, "tokenizer.ggml.add_eos_token", &v->add_eos, err))) return st;
    if ((st = get_flag(g, "tokenizer.ggml.add_sep_token", &v->add_sep, err))) return st;
    if (v->add_bos && v->bos < 0)
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: tokenizer.ggml.add_bos_token is true but there is no BOS token", g->path);
    if (v->add_eos && v->eos < 0)
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: tokenizer.ggml.add_eos_token is true but there is no EOS token", g->path);
    if (v->add_sep && v->sep < 0)
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: tokenizer.ggml.add_sep_token is true but there is no separator "
                         "token", g->path);
    v->lowercase = true;
    if ((st = get_flag(g, "tokenizer.ggml.normalizer.lowercase", &v->lowercase, err))) return st;
    v->strip_accents = v->lowercase;
    if ((st = get_flag(g, "tokenizer.ggml.normalizer.strip_accents", &v->strip_accents, err))) return st;

    if (v->eot < 0) v->eot = detect(v, k_eot_texts);
    if (v->eom < 0) v->eom = detect(v, k_eom_texts);
    if (v->fim_pre < 0) v->fim_pre = detect(v, k_fim_pre_texts);
    if (v->fim_suf < 0) v->fim_suf = detect(v, k_fim_suf_texts);
    if (v->fim_mid < 0) v->fim_mid = detect(v, k_fim_mid_texts);
    if (v->fim_pad < 0) v->fim_pad = detect(v, k_fim_pad_texts);
    if (v->fim_rep < 0) v->fim_rep = detect(v, k_fim_rep_texts);
    if (v->fim_sep < 0) v->fim_sep = detect(v, k_fim_sep_texts);
    for (uint32_t t = 0; t < v->n_tokens; t++) {
        if ((v->attr[t] & TOK_ATTR_CONTROL) && v->tok_len[t] >= 6) {
            const char *s = vocab_text(v, (zeta_token)t);
            for (uint32_t j = 0; j + 6 <= v->tok_len[t]; j++)
                if (memcmp(s + j, "unused", 6) == 0) { v->attr[t] |= TOK_ATTR_UNUSED; break; }
        }
    }

    size_t n_eog_texts = sizeof k_eog_texts / sizeof k_eog_texts[0];
    v->eog = zeta_malloc_array(n_eog_texts + 6, sizeof *v->eog);
    if (!v->eog) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "%s: out of memory for the EOG token set", g->path);
    eog_add(v, v->fim_pad);
    eog_add(v, v->fim_rep);
    eog_add(v, v->fim_sep);
    for (const char *const *s = k_eog_texts; *s; s++) {
        zeta_token t = find_text(v, *s);
        if (t < 0) continue;
        eog_add(v, t);
        v->attr[t] |= TOK_ATTR_CONTROL;
    }
    for (const char *const *s = k_user_defined_texts; *s; s++) {
        zeta_token t = find_text(v, *s);
        if (t >= 0) v->attr[t] = TOK_ATTR_USER_DEFINED;
    }
    eog_add(v, v->eos);
    eog_add(v, v->eot);
    eog_add(v, v->eom);
    zeta_token end_id = -1, s_id = -1;
    if (eog_has_text(v, "<|end|>", &end_id) &&
        ((eog_has_text(v, "<|return|>", NULL) && eog_has_text(v, "<|call|>", NULL)) ||
         (eog_has_text(v, "<|calls|>", NULL) && eog_has_text(v, "<|flush|>", NULL)))) {
        eog_remove(v, end_id);
        v->attr[end_id] = TOK_ATTR_USER_DEFINED;
    }
    if (eog_has_text(v, "<|tool_response>", NULL) && eog_has_text(v, "</s>", &s_id)) {
        eog_remove(v, s_id);
        v->attr[s_id] = TOK_ATTR_NORMAL;
    }
    qsort(v->eog, v->n_eog, sizeof *v->eog, cmp_token);
    return ZETA_OK;
}

/* Merge sort of special tokens by text length, longest first; stable, so equal lengths keep
 * ascending ids (llama.cpp's std::sort leaves their order unspecified). */
static void sort_special(zeta_vocab *v, zeta_token *a, zeta_token *tmp, size_t n) {
    if (n < 2) return;
    size_t h = n / 2;
    sort_special(v, a, tmp, h);
    sort_special(v, a + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        /* stable: left wins ties (ids ascend within each half) */
        if (v->tok_len[a[j]] > v->tok_len[a[i]]) tmp[k++] = a[j++];
        else tmp[k++] = a[i++];
    }
    while (i < h) tmp[k++] = a[i++];
    while (j < n) tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
}

static zeta_status load_special_cache(zeta_vocab *v, const gguf_file *g, zeta_error *err) {
    uint32_t n = 0;
    const uint16_t mask = TOK_ATTR_CONTROL | TOK_ATTR_USER_DEFINED | TOK_ATTR_UNKNOWN;
    for (uint32_t t = 0; t < v->n_tokens; t++)
        if (v->attr[t] & mask) n++;
    v->n_special = n;
    if (!n) return ZETA_OK;
    v->special = zeta_malloc_array(n, sizeof *v->special);
    zeta_token *tmp = zeta_malloc_array(n, sizeof *tmp);
    if (!v->special || !tmp) {
        free(tmp);
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "%s: out of memory for %u special tokens", g->path, n);
    }
    n = 0;
    for (uint32_t t = 0; t < v->n_tokens; t++)
        if (v->attr[t] & mask) v->special[n++] = (zeta_token)t;
    sort_special(v, v->special, tmp, n);
    free(tmp);

    /* per-model strip attributes, by general.name / pre name (llama.cpp's list) */
    char name[64] = "";
    const gguf_kv *kv = gguf_find(g, "general.name");
    if (kv && kv->type == GGUF_STRING) {
        size_t len = kv->str.n < sizeof name - 1 ? (size_t)kv->str.n : sizeof name - 1;
        for (size_t i = 0; i < len; i++) {
            char c = kv->str.s[i];
            name[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        name[len] = 0;
    }
    zeta_token t;
    if (strstr(v->pre_name, "jina-v2-de") || strstr(v->pre_name, "jina-v2-es") || strstr(v->pre_name, "jina-v2-code")) {
        if ((t = find_text(v, "<mask>")) >= 0) v->attr[t] |= TOK_ATTR_LSTRIP;
    } else if (strstr(name, "phi-3") || strstr(name, "phi3")) {
        for (uint32_t i = 0; i < v->n_special; i++) v->attr[v->special[i]] |= TOK_ATTR_RSTRIP;
        if ((t = find_text(v, "</s>")) >= 0) v->attr[t] |= TOK_ATTR_RSTRIP;
        static const char *const off[] = {"<unk>", "<s>", "<|endoftext|>"};
        for (size_t i = 0; i < 3; i++)
            if ((t = find_text(v, off[i])) >= 0) v->attr[t] &= (uint16_t)~TOK_ATTR_RSTRIP;
    } else if (strstr(name, "modern-bert")) {
        if ((t = find_text(v, "[MASK]")) >= 0) v->attr[t] |= TOK_ATTR_LSTRIP;
    }
    return ZETA_OK;
}

/* Token texts, scores, types and the text -> id table. */
static zeta_status load_tokens(zeta_vocab *v, const gguf_file *g, const gguf_kv *toks, const gguf_kv *merges,
                               zeta_error *err) {
    const char *path = g->path;
    uint32_t n = v->n_tokens;
    size_t pool = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t len = toks->strs[i].n ? (size_t)toks->strs[i].n : 24;
        if (toks->strs[i].n > UINT32_MAX / 2 || !zeta_add_size(pool, len, &pool))
            return zeta_fail(err, ZETA_ERR_FORMAT, "%s: tokenizer.ggml.tokens[%u] is %llu bytes long", path, i,
                             (unsigned long long)toks->strs[i].n);
    }
    for (uint64_t i = 0; merges && i < merges->n; i++)
        if (merges->strs[i].n > UINT32_MAX / 2 || !zeta_add_size(pool, (size_t)merges->strs[i].n, &pool))
            return zeta_fail(err, ZETA_ERR_FORMAT, "%s: tokenizer.ggml.merges[%llu] is too long", path,
                             (unsigned long long)i);
    v->pool = malloc(pool + 1);
    v->tok_off = zeta_malloc_array(n, sizeof *v->tok_off);
    v->tok_len = zeta_malloc_array(n, sizeof *v->tok_len);
    v->scores = zeta_calloc_array(n, sizeof *v->scores);
    v->attr = zeta_malloc_array(n, sizeof *v->attr);
    size_t cap = table_size(n);
    v->tok_ht = zeta_calloc_array(cap, sizeof *v->tok_ht);
    v->tok_ht_mask = cap - 1;
    if (!v->pool || !v->tok_off || !v->tok_len || !v->scores || !v->attr || !v->tok_ht)
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "%s: out of memory for %u tokens", path, n);

    const gguf_kv *sc = gguf_find(g, "tokenizer.ggml.scores");
    if (sc && (sc->type != GGUF_ARRAY || (sc->arr_type != GGUF_FLOAT32 && sc->arr_type != GGUF_INT32) || sc->n < n))
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: tokenizer.ggml.scores must be an f32 or i32 array of at least %u "
                         "values (it is %s with %llu)", path, n, gguf_vtype_name(sc->type == GGUF_ARRAY ? sc->arr_type : sc->type),
                         (unsigned long long)sc->n);
    const gguf_kv *ty = gguf_find(g, "tokenizer.ggml.token_type");
    int64_t dummy;
    if (ty && (ty->type != GGUF_ARRAY || ty->n < n || !kv_int(ty, 0, &dummy)))
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: tokenizer.ggml.token_type must be an integer array of at least %u "
                         "values", path, n);

    size_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        v->tok_off[i] = off;
        if (toks->strs[i].n) {
            memcpy(v->pool + off, toks->strs[i].s, (size_t)toks->strs[i].n);
            v->tok_len[i] = (uint32_t)toks->strs[i].n;
        } else { /* llama.cpp renames empty tokens */
            v->tok_len[i] = (uint32_t)snprintf(v->pool + off, 25, "[EMPTY_%u]", i);
        }
        off += toks->strs[i].n ? (size_t)toks->strs[i].n : 24;
        if (v->tok_len[i] > v->max_token_len) v->max_token_len = v->tok_len[i];
        if (sc) {
            if (sc->arr_type == GGUF_FLOAT32) memcpy(&v->scores[i], sc->data + 4 * (size_t)i, 4);
            else { int32_t x; memcpy(&x, sc->data + 4 * (size_t)i, 4); v->scores[i] = (float)x; }
        }
        int64_t type = 1;
        if (ty) kv_int(ty, i, &type);
        switch (type) {
        case 1: v->attr[i] = TOK_ATTR_NORMAL; break;
        case 2: v->attr[i] = TOK_ATTR_UNKNOWN; break;
        case 3: v->attr[i] = TOK_ATTR_CONTROL; break;
        case 4: v->attr[i] = TOK_ATTR_USER_DEFINED; break;
        case 5: v->attr[i] = TOK_ATTR_UNUSED; break;
        case 6: v->attr[i] = TOK_ATTR_BYTE; break;
        default: v->attr[i] = 0; break;
        }
        const char *s = vocab_text(v, (zeta_token)i);
        size_t j = tok_hash(s, v->tok_len[i], TOK_HASH_SEED) & v->tok_ht_mask;
        for (; v->tok_ht[j]; j = (j + 1) & v->tok_ht_mask) {
            zeta_token o = (zeta_token)(v->tok_ht[j] - 1);
            if (v->tok_len[o] == v->tok_len[i] && memcmp(vocab_text(v, o), s, v->tok_len[i]) == 0)
            {
                char q[96];
                return zeta_fail(err, ZETA_ERR_FORMAT, "%s: duplicate token in tokenizer.ggml.tokens: %s has ids %d and %u",
                                 path, gguf_quote(s, v->tok_len[i], q, sizeof q), o, i);
            }
        }
        v->tok_ht[j] = i + 1;
    }

    if (!merges) return ZETA_OK;
    uint32_t nm = (uint32_t)merges->n;
    v->m_off = zeta_malloc_array(nm ? nm : 1, sizeof *v->m_off);
    v->m_llen = zeta_malloc_array(nm ? nm : 1, sizeof *v->m_llen);
    v->m_rlen = zeta_malloc_array(nm ? nm : 1, sizeof *v->m_rlen);
    cap = table_size(nm);
    v->m_ht = zeta_calloc_array(cap, sizeof *v->m_ht);
    v->m_ht_mask = cap - 1;
    if (!v->m_off || !v->m_llen || !v->m_rlen || !v->m_ht)
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "%s: out of memory for %u merges", path, nm);
    for (uint32_t i = 0; i < nm; i++) {
        const char *s = merges->strs[i].s;
        size_t len = (size_t)merges->strs[i].n;
        /* "left right": the first space at position >= 1 separates them; no space: ("", "") */
        const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
        size_t ll = sp ? (size_t)(sp - s) : 0, rl = sp ? len - ll - 1 : 0;
        v->m_off[i] = off;
        memcpy(v->pool + off, s, ll);
        if (sp) memcpy(v->pool + off + ll, sp + 1, rl);
        off += ll + rl;
        v->m_llen[i] = (uint32_t)ll;
        v->m_rlen[i] = (uint32_t)rl;
        const char *l = v->pool + v->m_off[i];
        size_t j = pair_hash(l, ll, l + ll, rl) & v->m_ht_mask;
        bool dup = false;
        for (; v->m_ht[j]; j = (j + 1) & v->m_ht_mask) {
            uint32_t o = v->m_ht[j] - 1;
            if (v->m_llen[o] == ll && v->m_rlen[o] == rl && memcmp(v->pool + v->m_off[o], l, ll + rl) == 0) {
                dup = true; /* the first rank wins */
                break;
            }
        }
        if (!dup) v->m_ht[j] = i + 1;
    }
    v->n_merges = nm;
    return ZETA_OK;
}

zeta_status vocab_load(const gguf_file *g, zeta_vocab **out, zeta_error *err) {
    if (!out) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "vocab_load: out is NULL");
    *out = NULL;
    if (!g) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "vocab_load: g is NULL");
    const char *path = g->path;
    zeta_status st = ZETA_OK;
    zeta_vocab *v = calloc(1, sizeof *v);
    if (!v) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "%s: out of memory for the vocabulary", path);

    const gguf_kv *kv = gguf_find(g, "tokenizer.ggml.model");
    if (!kv || kv->type != GGUF_STRING) {
        st = zeta_fail(err, ZETA_ERR_FORMAT, "%s: key 'tokenizer.ggml.model' is %s; expected a string", path,
                       kv ? gguf_vtype_name(kv->type) : "missing");
        goto fail;
    }
    static const struct { const char *name; int type; } models[] = {{"llama", VOCAB_SPM}, {"gpt2", VOCAB_BPE}, {"bert", VOCAB_WPM}};
    for (size_t i = 0; i < 3; i++)
        if (kv->str.n == strlen(models[i].name) && memcmp(kv->str.s, models[i].name, (size_t)kv->str.n) == 0) {
            v->type = models[i].type;
            strcpy(v->model_name, models[i].name);
        }
    if (!v->type) {
        char q[96];
        st = zeta_fail(err, ZETA_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model %s is not supported (expected llama, "
                       "gpt2 or bert)", path, gguf_quote(kv->str.s, kv->str.n, q, sizeof q));
        goto fail;
    }
    kv = gguf_find(g, "tokenizer.ggml.pre");
    if (kv && kv->type != GGUF_STRING) {
        st = zeta_fail(err, ZETA_ERR_FORMAT, "%s: key 'tokenizer.ggml.pre' has type %s; expected string", path,
                       gguf_vtype_name(kv->type));
        goto fail;
    }
    size_t pre_len = kv ? (size_t)kv->str.n : 7;
    v->pre_name = malloc(pre_len + 1);
    if (!v->pre_name) { st = zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "%s: out of memory", path); goto fail; }
    memcpy(v->pre_name, kv ? kv->str.s : "default", pre_len);
    v->pre_name[pre_len] = 0;
    for (size_t i = 0; i < pre_len; i++)
        if (!v->pre_name[i]) v->pre_name[i] = '?';

    const gguf_kv *toks = gguf_find(g, "tokenizer.ggml.tokens");
    if (!toks || toks->type != GGUF_ARRAY || toks->arr_type != GGUF_STRING || toks->n == 0 || toks->n > INT32_MAX - 1) {
        st = zeta_fail(err, ZETA_ERR_FORMAT, "%s: key 'tokenizer.ggml.tokens' must be a non-empty string array of at most "
                       "%d entries (it is %s)", path, INT32_MAX - 1, toks ? gguf_vtype_name(toks->type) : "missing");
        goto fail;
    }
    v->n_tokens = (uint32_t)toks->n;
    const gguf_kv *merges = NULL;
    if (v->type == VOCAB_BPE) {
        merges = gguf_find(g, "tokenizer.ggml.merges");
        if (!merges || merges->type != GGUF_ARRAY || merges->arr_type != GGUF_STRING || merges->n > INT32_MAX - 1) {
            st = zeta_fail(err, ZETA_ERR_FORMAT, "%s: key 'tokenizer.ggml.merges' must be a string array for a gpt2 "
                           "tokenizer (it is %s)", path, merges ? gguf_vtype_name(merges->type) : "missing");
            goto fail;
        }
    }
    if ((st = load_tokens(v, g, toks, merges, err))) goto fail;

    /* llama.cpp's defaults per tokenizer type */
    v->bos = v->eos = v->eot = v->eom = v->unk = v->sep = v->pad = v->mask = -1;
    v->fim_pre = v->fim_suf = v->fim_mid = v->fim_pad = v->fim_rep = v->fim_sep = -1;
    if (v->type == VOCAB_SPM) {
        v->bos = 1; v->eos = 2; v->unk = 0;
        v->add_space_prefix = true;
        v->add_bos = true;
    } else if (v->type == VOCAB_WPM) {
        v->bos = 101; v->unk = 100; v->sep = 102; v->pad = 0; v->mask = 103;
        v->add_bos = true;
        v->add_sep = true;
    } else {
        bool known, ignore_merges, add_bos;
        v->bos = 11; v->eos = 11;
        v->pre = pretok_from_name(v->pre_name, &known, &ignore_merges, &add_bos);
        v->ignore_merges = ignore_merges;
        v->add_bos = add_bos;
        if (!strcmp(v->pre_name, "jina-v1-en") || !strcmp(v->pre_name, "jina-v2-code") || !strcmp(v->pre_name, "roberta-bpe"))
            v->add_sep = true;
        if (!strcmp(v->pre_name, "glm4") || !strcmp(v->pre_name, "chatglm-bpe")) v->bos = -1;
    }
    if ((st = get_flag(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix, err))) goto fail;
    if ((st = load_specials(v, g, err))) goto fail;
    if ((st = load_special_cache(v, g, err))) goto fail;

    v->spm_split_at_space = true;
    for (uint32_t t = 0; t < v->n_tokens && v->spm_split_at_space; t++) {
        const char *s = vocab_text(v, (zeta_token)t);
        for (uint32_t j = 1; j + 3 <= v->tok_len[t]; j++)
            if (memcmp(s + j, "\xE2\x96\x81", 3) == 0 && (j < 3 || memcmp(s + j - 3, "\xE2\x96\x81", 3) != 0)) {
                v->spm_split_at_space = false;
                break;
            }
    }
    for (int b = 0; b < 256; b++) { /* SPM byte fallback: <0xXX>, else the byte itself */
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        char c = (char)b;
        v->byte_tok[b] = vocab_lookup(v, hex, 6);
        if (v->byte_tok[b] < 0) v->byte_tok[b] = vocab_lookup(v, &c, 1);
    }
    *out = v;
    return zeta_ok(err);
fail:
    vocab_free(v);
    return st;
}

void vocab_free(zeta_vocab *v) {
    if (!v) return;
    free(v->pre_name);
    free(v->pool);
    free(v->tok_off);
    free(v->tok_len);
    free(v->scores);
    free(v->attr);
    free(v->tok_ht);
    free(v->m_off);
    free(v->m_llen);
    free(v->m_rlen);
    free(v->m_ht);
    free(v->special);
    free(v->eog);
    free(v);
}

/* --- accessors ------------------------------------------------------------------------------- */

uint32_t vocab_n_tokens(const zeta_vocab *v) { return v ? v->n_tokens : 0; }
const char *vocab_model_name(const zeta_vocab *v) { return v ? v->model_name : ""; }
const char *vocab_pre_name(const zeta_vocab *v) { return v ? v->pre_name : ""; }
zeta_token vocab_bos(const zeta_vocab *v) { return v ? v->bos : -1; }
zeta_token vocab_eos(const zeta_vocab *v) { return v ? v->eos : -1; }
bool vocab_add_bos(const zeta_vocab *v) { return v && v->add_bos; }
bool vocab_add_eos(const zeta_vocab *v) { return v && v->add_eos; }

bool vocab_is_eog(const zeta_vocab *v, zeta_token t) {
    if (!v || t < 0) return false;
    return bsearch(&t, v->eog, v->n_eog, sizeof *v->eog, cmp_token) != NULL;
}

bool vocab_is_control(const zeta_vocab *v, zeta_token t) {
    return v && t >= 0 && (uint32_t)t < v->n_tokens && (v->attr[t] & TOK_ATTR_CONTROL);
}
