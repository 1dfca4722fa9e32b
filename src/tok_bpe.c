/* tok_bpe.c — byte-level BPE encoding (tokenizer.ggml.model = "gpt2"): pre-tokenize the fragment
 * into words (tok_pretok.c), map each word's UTF-8 bytes through GPT-2's byte-to-unicode table,
 * then merge adjacent symbols by merge rank (lowest rank first, ties to the leftmost pair) with a
 * binary heap, as llama.cpp does. Symbols left without a token fall back to single-byte tokens. */
#include "tok_internal.h"
#include "unicode.h"

/* GPT-2 byte-to-unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to
 * U+0100.. in byte order. */
static uint32_t byte_to_cp(uint8_t b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return b;
    if (b <= 0x20) return 0x100u + b;
    if (b <= 0xA0) return 0x100u + 33 + (uint32_t)(b - 0x7F);
    return 0x100u + 33 + 34; /* 0xAD */
}

typedef struct bpe_sym {
    uint32_t off, n;
    int32_t prev, next;
} bpe_sym;

typedef struct bpe_pair {
    int32_t rank;
    uint32_t left, right;
    uint32_t lsz, rsz;
} bpe_pair;

typedef struct bpe_heap {
    bpe_pair *v;
    size_t n, cap;
} bpe_heap;

static inline bool pair_before(const bpe_pair *a, const bpe_pair *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static bool heap_push(bpe_heap *h, bpe_pair p) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        bpe_pair *nv = realloc(h->v, cap * sizeof *nv);
        if (!nv) return false;
        h->v = nv;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_before(&p, &h->v[parent])) break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = p;
    return true;
}

static bpe_pair heap_pop(bpe_heap *h) {
    bpe_pair top = h->v[0];
    bpe_pair last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && pair_before(&h->v[c + 1], &h->v[c])) c++;
        if (!pair_before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}

typedef struct bpe_work {
    char *w;              /* byte-encoded word */
    size_t w_cap;
    bpe_sym *sym;
    size_t sym_cap;
    bpe_heap heap;
} bpe_work;

static bool add_pair(const zeta_vocab *v, bpe_work *k, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return true;
    const bpe_sym *a = &k->sym[l], *b = &k->sym[r];
    int32_t rank = vocab_merge_rank(v, k->w + a->off, a->n, k->w + b->off, b->n);
    if (rank < 0) return true;
    bpe_pair p = {rank, (uint32_t)l, (uint32_t)r, a->n, b->n};
    return heap_push(&k->heap, p);
}

/* Merges and emits one byte-encoded word k->w[0..wn). */
static zeta_status bpe_word(const zeta_vocab *v, bpe_work *k, size_t wn, tok_vec *out) {
    if (v->ignore_merges) {
        zeta_token t = vocab_lookup(v, k->w, wn);
        if (t >= 0) return tok_vec_push(out, t) ? ZETA_OK : ZETA_ERR_OUT_OF_MEMORY;
    }
    if (wn > k->sym_cap) {
        bpe_sym *ns = realloc(k->sym, wn * sizeof *ns);
        if (!ns) return ZETA_ERR_OUT_OF_MEMORY;
        k->sym = ns;
        k->sym_cap = wn;
    }
    size_t n_sym = 0;
    for (size_t off = 0; off < wn;) {
        size_t len = uni_len_utf8((uint8_t)k->w[off]);
        if (len > wn - off) len = wn - off;
        bpe_sym *s = &k->sym[n_sym];
        s->off = (uint32_t)off;
        s->n = (uint32_t)len;
        s->prev = (int32_t)n_sym - 1;
        off += len;
        s->next = off == wn ? -1 : (int32_t)n_sym + 1;
        n_sym++;
    }
    k->heap.n = 0;
    for (size_t i = 1; i < n_sym; i++)
        if (!add_pair(v, k, (int32_t)i - 1, (int32_t)i)) return ZETA_ERR_OUT_OF_MEMORY;
    while (k->heap.n) {
        bpe_pair p = heap_pop(&k->heap);
        bpe_sym *l = &k->sym[p.left], *r = &k->sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n != p.lsz || r->n != p.rsz) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) k->sym[r->next].prev = (int32_t)p.left;
        if (!add_pair(v, k, l->prev, (int32_t)p.left) || !add_pair(v, k, (int32_t)p.left, l->next))
            return ZETA_ERR_OUT_OF_MEMORY;
    }
    for (int32_t i = n_sym ? 0 : -1; i >= 0; i = k->sym[i].next) {
        const bpe_sym *s = &k->sym[i];
        zeta_token t = vocab_lookup(v, k->w + s->off, s->n);
        if (t >= 0) {
            if (!tok_vec_push(out, t)) return ZETA_ERR_OUT_OF_MEMORY;
            continue;
        }
        for (uint32_t j = 0; j < s->n; j++) { /* single-byte strings, as llama.cpp tries */
            zeta_token b = vocab_lookup(v, k->w + s->off + j, 1);
            if (b >= 0 && !tok_vec_push(out, b)) return ZETA_ERR_OUT_OF_MEMORY;
        }
    }
    return ZETA_OK;
}

zeta_status bpe_encode(const zeta_vocab *v, const char *text, size_t len, tok_vec *out) {
    if (len == 0) return ZETA_OK;
    zeta_status st = ZETA_OK;
    uint32_t *cps = zeta_malloc_array(len, sizeof *cps);
    uint16_t *fl = zeta_malloc_array(len, sizeof *fl);
    size_vec words = {0};
    bpe_work k = {0};
    if (!cps || !fl) { st = ZETA_ERR_OUT_OF_MEMORY; goto done; }
    size_t n = 0;
    for (size_t pos = 0; pos < len;) {
        cps[n] = uni_decode(text, len, &pos);
        fl[n] = uni_flags(cps[n]);
        n++;
    }
    if ((st = pretok_split(v->pre, cps, fl, n, &words))) goto done;
    size_t start = 0;
    for (size_t i = 0; i < words.n; i++) {
        size_t wl = words.v[i];
        size_t need; /* <= 4 UTF-8 bytes per code point, <= 2 per mapped byte */
        if (!zeta_mul_size(wl, 8, &need)) { st = ZETA_ERR_OUT_OF_MEMORY; goto done; }
        if (need > k.w_cap) {
            char *nw = realloc(k.w, need);
            if (!nw) { st = ZETA_ERR_OUT_OF_MEMORY; goto done; }
            k.w = nw;
            k.w_cap = need;
        }
        size_t wn = 0;
        for (size_t j = start; j < start + wl; j++) {
            char u8[4];
            size_t nb = uni_encode(cps[j], u8);
            for (size_t b = 0; b < nb; b++) wn += uni_encode(byte_to_cp((uint8_t)u8[b]), k.w + wn);
        }
        start += wl;
        if ((st = bpe_word(v, &k, wn, out))) goto done;
    }
done:
    free(cps);
    free(fl);
    free(words.v);
    free(k.w);
    free(k.sym);
    free(k.heap.v);
    return st;
}
