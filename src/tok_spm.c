/* tok_spm.c — SentencePiece-style BPE encoding (tokenizer.ggml.model = "llama"), llama.cpp's
 * algorithm: spaces become U+2581, the text is split into UTF-8 characters, and the adjacent pair
 * whose concatenation is the vocabulary token with the highest score is merged first (ties: the
 * leftmost pair), until no pair forms a token. Symbols that are not tokens are emitted as byte
 * tokens <0xXX>. A binary heap keeps this O(n log n). */
#include "tok_internal.h"
#include "unicode.h"

typedef struct spm_sym {
    uint32_t off, n;
    int32_t prev, next;
} spm_sym;

typedef struct spm_pair {
    float score;
    uint32_t left, right;
    uint32_t size;
} spm_pair;

/* heap order: higher score first, then the smaller left index */
static inline bool pair_before(const spm_pair *a, const spm_pair *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

typedef struct spm_work {
    const zeta_vocab *v;
    const char *s;
    spm_sym *sym;
    spm_pair *heap;
    size_t n_heap, cap_heap;
} spm_work;

static bool heap_reserve(spm_work *k, size_t n) {
    if (n <= k->cap_heap) return true;
    size_t cap = k->cap_heap ? k->cap_heap : 64;
    while (cap < n) cap *= 2;
    spm_pair *nv = realloc(k->heap, cap * sizeof *nv);
    if (!nv) return false;
    k->heap = nv;
    k->cap_heap = cap;
    return true;
}

static void sift_down(spm_work *k, size_t i, spm_pair x) {
    size_t n = k->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && pair_before(&k->heap[c + 1], &k->heap[c])) c++;
        if (!pair_before(&k->heap[c], &x)) break;
        k->heap[i] = k->heap[c];
        i = c;
    }
    k->heap[i] = x;
}

static bool heap_push(spm_work *k, spm_pair p) {
    if (!heap_reserve(k, k->n_heap + 1)) return false;
    size_t i = k->n_heap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_before(&p, &k->heap[parent])) break;
        k->heap[i] = k->heap[parent];
        i = parent;
    }
    k->heap[i] = p;
    return true;
}

static spm_pair heap_pop(spm_work *k) {
    spm_pair top = k->heap[0];
    spm_pair last = k->heap[--k->n_heap];
    if (k->n_heap) sift_down(k, 0, last);
    return top;
}

/* The pair (l, r) as a heap entry if their concatenation is a token. */
static bool make_pair(const spm_work *k, int32_t l, int32_t r, spm_pair *p) {
    if (l < 0 || r < 0) return false;
    uint32_t size = k->sym[l].n + k->sym[r].n;
    zeta_token t = vocab_lookup(k->v, k->s + k->sym[l].off, size);
    if (t < 0) return false;
    *p = (spm_pair){k->v->scores[t], (uint32_t)l, (uint32_t)r, size};
    return true;
}

static bool try_pair(spm_work *k, int32_t l, int32_t r) {
    spm_pair p;
    return !make_pair(k, l, r, &p) || heap_push(k, p);
}

/* Merges the symbols [a, b) (linked among themselves) and appends their tokens. */
static zeta_status merge_segment(spm_work *k, size_t a, size_t b, tok_vec *out) {
    const zeta_vocab *v = k->v;
    k->sym[a].prev = -1;
    k->sym[b - 1].next = -1;
    k->n_heap = 0;
    if (!heap_reserve(k, b - a)) return ZETA_ERR_OUT_OF_MEMORY;
    for (size_t i = a + 1; i < b; i++) { /* initial pairs, then heapify bottom-up */
        spm_pair p;
        if (make_pair(k, (int32_t)i - 1, (int32_t)i, &p)) k->heap[k->n_heap++] = p;
    }
    for (size_t i = k->n_heap / 2; i-- > 0;) sift_down(k, i, k->heap[i]);
    while (k->n_heap) {
        spm_pair p = heap_pop(k);
        spm_sym *l = &k->sym[p.left], *r = &k->sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) k->sym[r->next].prev = (int32_t)p.left;
        if (!try_pair(k, l->prev, (int32_t)p.left) || !try_pair(k, (int32_t)p.left, l->next))
            return ZETA_ERR_OUT_OF_MEMORY;
    }
    for (int32_t i = (int32_t)a; i >= 0; i = k->sym[i].next) {
        const spm_sym *y = &k->sym[i];
        zeta_token t = vocab_lookup(v, k->s + y->off, y->n);
        if (t >= 0) {
            if (!tok_vec_push(out, t)) return ZETA_ERR_OUT_OF_MEMORY;
            continue;
        }
        for (uint32_t j = 0; j < y->n; j++) {
            zeta_token bt = v->byte_tok[(uint8_t)k->s[y->off + j]];
            if (bt < 0) bt = v->unk;
            if (bt >= 0 && !tok_vec_push(out, bt)) return ZETA_ERR_OUT_OF_MEMORY;
        }
    }
    return ZETA_OK;
}

static inline bool is_ws_sym(const spm_work *k, size_t i) {
    return k->sym[i].n == 3 && memcmp(k->s + k->sym[i].off, "\xE2\x96\x81", 3) == 0;
}

zeta_status spm_encode(const zeta_vocab *v, const char *text, size_t len, bool space_prefix, tok_vec *out) {
    static const char ws[3] = {'\xE2', '\x96', '\x81'}; /* U+2581 */
    char *s = zeta_malloc_array(len + 1, 3); /* len <= 2^29: no overflow */
    spm_work k = {v, s, NULL, NULL, 0, 0};
    zeta_status st = ZETA_OK;
    if (!s) return ZETA_ERR_OUT_OF_MEMORY;
    size_t n = 0;
    if (space_prefix) { memcpy(s, ws, 3); n = 3; }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') { memcpy(s + n, ws, 3); n += 3; }
        else s[n++] = text[i];
    }
    if (n == 0) goto done;
    k.sym = zeta_malloc_array(n, sizeof *k.sym);
    if (!k.sym) { st = ZETA_ERR_OUT_OF_MEMORY; goto done; }
    size_t n_sym = 0;
    for (size_t off = 0; off < n;) {
        size_t l = uni_len_utf8((uint8_t)s[off]);
        if (l > n - off) l = n - off;
        spm_sym *y = &k.sym[n_sym];
        y->off = (uint32_t)off;
        y->n = (uint32_t)l;
        y->prev = (int32_t)n_sym - 1;
        off += l;
        y->next = off == n ? -1 : (int32_t)n_sym + 1;
        n_sym++;
    }
    /* When no token has U+2581 right after another character, no token can span a boundary
     * "x|\u2581" and the segments between such boundaries merge independently: same result, but
     * small heaps (this is what keeps long texts fast). */
    size_t a = 0;
    for (size_t i = 1; i <= n_sym && st == ZETA_OK; i++) {
        if (i < n_sym && !(v->spm_split_at_space && is_ws_sym(&k, i) && !is_ws_sym(&k, i - 1))) continue;
        st = merge_segment(&k, a, i, out);
        a = i;
    }
done:
    free(s);
    free(k.sym);
    free(k.heap);
    return st;
}
