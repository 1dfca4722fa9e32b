/* gguf.c — GGUF v2/v3 reader: maps (or reads) a file, walks it with a bounds-checked cursor,
 * validates every header field, metadata value and tensor info, and offers typed getters. Every
 * size computed from file bytes uses the checked arithmetic of util.h. */
#include "gguf.h"
#include "quant.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAX_NAME 64           /* tensor names are shorter than this (ggml's GGML_MAX_NAME) */
#define GGUF_DEFAULT_ALIGNMENT 32
#define MIN_KV_BYTES 14            /* key length 8 + key >= 1 + value type 4 + value >= 1 */
#define MIN_TENSOR_BYTES 32        /* name length 8 + n_dims 4 + one dim 8 + type 4 + offset 8 */

static const uint8_t k_vsize[GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

typedef struct parser {
    gguf_file *g;
    uint64_t pos;
    zeta_error *err;
} parser;

/* ---- little-endian decoding ---- */
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* ---- messages ---- */

const char *gguf_quote(const char *s, uint64_t n, char *out, size_t cap) {
    size_t o = 0;
    out[o++] = '\'';
    for (uint64_t i = 0; i < n; i++) {
        if (o + 8 >= cap) { memcpy(out + o, "...", 3); o += 3; break; }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o++] = '\'';
    out[o] = '\0';
    return out;
}

static zeta_status failv(parser *P, zeta_status st, const char *fmt, va_list ap) {
    char msg[448];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return zeta_fail(P->err, st, "%s: %s", P->g->path, msg);
}

static zeta_status fail(parser *P, const char *fmt, ...) ZETA_PRINTF(2, 3);
static zeta_status fail(parser *P, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    zeta_status st = failv(P, ZETA_ERR_FORMAT, fmt, ap);
    va_end(ap);
    return st;
}

static zeta_status oom(parser *P, const char *what) {
    return zeta_fail(P->err, ZETA_ERR_OUT_OF_MEMORY, "%s: out of memory allocating %s", P->g->path, what);
}

/* "file truncated" message: `what` names the field being read. */
static zeta_status truncated(parser *P, uint64_t need, const char *fmt, ...) ZETA_PRINTF(3, 4);
static zeta_status truncated(parser *P, uint64_t need, const char *fmt, ...) {
    char what[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return fail(P, "file truncated at byte %" PRIu64 " while reading %s (needs %" PRIu64 " bytes, %" PRIu64
                " left)", P->pos, what, need, P->g->size - P->pos);
}

/* ---- cursor ---- */
static uint64_t left(const parser *P) { return P->g->size - P->pos; }

static bool take(parser *P, uint64_t n, const uint8_t **out) {
    if (n > left(P)) return false;
    *out = P->g->base + P->pos;
    P->pos += n;
    return true;
}

enum { RD_OK, RD_SHORT_LEN, RD_SHORT_DATA };
static int read_str(parser *P, gguf_str *s) {
    const uint8_t *q;
    if (!take(P, 8, &q)) return RD_SHORT_LEN;
    s->n = le64(q);
    if (s->n > left(P)) return RD_SHORT_DATA;
    s->s = (const char *)(P->g->base + P->pos);
    P->pos += s->n;
    return RD_OK;
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ---- duplicate detection by sorting (name, index) pairs ---- */
typedef struct name_ent { const char *s; uint64_t i; } name_ent;
static int cmp_name(const void *a, const void *b) {
    const name_ent *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Returns true (and the two indexes) if two of the n names in tmp are equal; sorts tmp. */
static bool find_duplicate(uint64_t n, name_ent *tmp, uint64_t *a, uint64_t *b) {
    if (n > 1) qsort(tmp, (size_t)n, sizeof *tmp, cmp_name);
    for (uint64_t i = 1; i < n; i++) {
        if (strcmp(tmp[i - 1].s, tmp[i].s) == 0) { *a = tmp[i - 1].i; *b = tmp[i].i; return true; }
    }
    return false;
}

typedef struct off_ent { uint64_t off; uint64_t i; } off_ent;
static int cmp_off(const void *a, const void *b) {
    const off_ent *x = a, *y = b;
    if (x->off != y->off) return x->off < y->off ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* ---- parsing ---- */

static zeta_status str_error(parser *P, int rc, uint64_t n, const char *what) {
    if (rc == RD_SHORT_LEN) return truncated(P, 8, "the length of %s", what);
    return fail(P, "%s has length %" PRIu64 ", but only %" PRIu64 " bytes are left in the file", what, n, left(P));
}

static zeta_status parse_value(parser *P, gguf_kv *kv, uint64_t idx) {
    const uint8_t *q;
    char what[256];
    const char *key = kv->key;
    if (!take(P, 4, &q)) return truncated(P, 4, "the value type of key '%s' (index %" PRIu64 ")", key, idx);
    uint32_t t = le32(q);
    if (t >= GGUF_VTYPE_COUNT)
        return fail(P, "key '%s' (index %" PRIu64 ") has invalid value type %" PRIu32 "; expected 0..12", key, idx, t);
    kv->type = (gguf_vtype)t;
    kv->arr_type = (gguf_vtype)t;
    kv->n = 1;
    if (t == GGUF_STRING) {
        int rc = read_str(P, &kv->str);
        if (rc != RD_OK) {
            snprintf(what, sizeof what, "the string value of key '%s' (index %" PRIu64 ")", key, idx);
            return str_error(P, rc, kv->str.n, what);
        }
        kv->data = (const uint8_t *)kv->str.s;
        return ZETA_OK;
    }
    if (t != GGUF_ARRAY) {
        if (!take(P, k_vsize[t], &q))
            return truncated(P, k_vsize[t], "the %s value of key '%s' (index %" PRIu64 ")", gguf_vtype_name(kv->type), key, idx);
        if (t == GGUF_BOOL && q[0] > 1)
            return fail(P, "key '%s' (index %" PRIu64 ") is a bool with value %u; expected 0 or 1", key, idx, q[0]);
        kv->data = q;
        return ZETA_OK;
    }
    /* array */
    if (!take(P, 4, &q)) return truncated(P, 4, "the array element type of key '%s' (index %" PRIu64 ")", key, idx);
    uint32_t et = le32(q);
    if (et == GGUF_ARRAY)
        return fail(P, "key '%s' (index %" PRIu64 ") is a nested array (array of arrays); nested arrays are not supported", key, idx);
    if (et >= GGUF_VTYPE_COUNT)
        return fail(P, "key '%s' (index %" PRIu64 ") has invalid array element type %" PRIu32 "; expected 0..8 or 10..12", key, idx, et);
    if (!take(P, 8, &q)) return truncated(P, 8, "the array length of key '%s' (index %" PRIu64 ")", key, idx);
    uint64_t n = le64(q);
    kv->arr_type = (gguf_vtype)et;
    kv->n = n;
    kv->data = P->g->base + P->pos;
    if (et == GGUF_STRING) {
        if (n > left(P) / 8)
            return fail(P, "key '%s' (index %" PRIu64 ") is an array of %" PRIu64 " strings, but only %" PRIu64
                        " bytes are left in the file (each string needs at least 8)", key, idx, n, left(P));
        if (n == 0) return ZETA_OK;
        kv->strs = zeta_calloc_array((size_t)n, sizeof *kv->strs);
        if (!kv->strs) return oom(P, "a string array");
        for (uint64_t i = 0; i < n; i++) {
            int rc = read_str(P, &kv->strs[i]);
            if (rc != RD_OK) {
                snprintf(what, sizeof what, "string %" PRIu64 " of array key '%s' (index %" PRIu64 ")", i, key, idx);
                return str_error(P, rc, kv->strs[i].n, what);
            }
        }
        return ZETA_OK;
    }
    uint64_t bytes;
    if (!zeta_mul_u64(n, k_vsize[et], &bytes))
        return fail(P, "key '%s' (index %" PRIu64 ") has array length %" PRIu64 "; %" PRIu64 " elements of type %s overflow a 64-bit size",
                    key, idx, n, n, gguf_vtype_name((gguf_vtype)et));
    if (bytes > left(P))
        return fail(P, "key '%s' (index %" PRIu64 ") is an array of %" PRIu64 " %s (%" PRIu64 " bytes), but only %" PRIu64
                    " bytes are left in the file", key, idx, n, gguf_vtype_name((gguf_vtype)et), bytes, left(P));
    if (et == GGUF_BOOL) {
        for (uint64_t i = 0; i < n; i++) {
            if (kv->data[i] > 1)
                return fail(P, "key '%s' (index %" PRIu64 ") bool array element %" PRIu64 " has value %u; expected 0 or 1",
                            key, idx, i, kv->data[i]);
        }
    }
    P->pos += bytes;
    return ZETA_OK;
}

static zeta_status parse_kvs(parser *P) {
    gguf_file *g = P->g;
    char qn[96];
    for (uint64_t i = 0; i < g->n_kv; i++) {
        gguf_kv *kv = &g->kv[i];
        gguf_str key = {0};
        int rc = read_str(P, &key);
        if (rc == RD_SHORT_LEN) return truncated(P, 8, "the length of key %" PRIu64, i);
        if (rc == RD_SHORT_DATA)
            return fail(P, "key %" PRIu64 " has length %" PRIu64 ", but only %" PRIu64 " bytes are left in the file", i, key.n, left(P));
        if (key.n == 0) return fail(P, "key %" PRIu64 " is empty; keys must be non-empty", i);
        if (memchr(key.s, 0, (size_t)key.n))
            return fail(P, "key %s (index %" PRIu64 ") contains a NUL byte", gguf_quote(key.s, key.n, qn, sizeof qn), i);
        kv->key = dup_n(key.s, (size_t)key.n);
        if (!kv->key) return oom(P, "a key");
        zeta_status st = parse_value(P, kv, i);
        if (st != ZETA_OK) return st;
    }
    if (g->n_kv > 1) {
        name_ent *tmp = zeta_malloc_array((size_t)g->n_kv, sizeof *tmp);
        if (!tmp) return oom(P, "the key index");
        uint64_t a, b;
        for (uint64_t i = 0; i < g->n_kv; i++) { tmp[i].s = g->kv[i].key; tmp[i].i = i; }
        bool dup = find_duplicate(g->n_kv, tmp, &a, &b);
        free(tmp);
        if (dup) return fail(P, "duplicate key '%s' (indexes %" PRIu64 " and %" PRIu64 ")", g->kv[a].key, a, b);
    }
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *al = gguf_find(g, "general.alignment");
    if (al) {
        if (al->type != GGUF_UINT32)
            return fail(P, "key 'general.alignment' has type %s; expected u32", gguf_vtype_name(al->type));
        uint32_t a = le32(al->data);
        if (a == 0 || (a & (a - 1)) != 0)
            return fail(P, "key 'general.alignment' is %" PRIu32 "; expected a non-zero power of two", a);
        g->alignment = a;
    }
    return ZETA_OK;
}

static void shape_str(const gguf_tensor *t, char *buf, size_t cap) {
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (uint32_t d = 0; d < t->n_dims && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%" PRIu64, d ? ", " : "", t->ne[d]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

static zeta_status parse_tensor_info(parser *P, gguf_tensor *t, uint64_t i) {
    const uint8_t *q;
    char qn[96], shape[128];
    gguf_str name = {0};
    int rc = read_str(P, &name);
    if (rc == RD_SHORT_LEN) return truncated(P, 8, "the name length of tensor %" PRIu64, i);
    if (rc == RD_SHORT_DATA)
        return fail(P, "tensor %" PRIu64 " has name length %" PRIu64 ", but only %" PRIu64 " bytes are left in the file", i, name.n, left(P));
    if (name.n >= GGUF_MAX_NAME)
        return fail(P, "tensor %s (index %" PRIu64 ") has a name of %" PRIu64 " bytes; the limit is %d",
                    gguf_quote(name.s, name.n, qn, sizeof qn), i, name.n, GGUF_MAX_NAME - 1);
    if (memchr(name.s, 0, (size_t)name.n))
        return fail(P, "tensor name %s (index %" PRIu64 ") contains a NUL byte", gguf_quote(name.s, name.n, qn, sizeof qn), i);
    t->name = dup_n(name.s, (size_t)name.n);
    if (!t->name) return oom(P, "a tensor name");
    const char *nm = t->name;

    if (!take(P, 4, &q)) return truncated(P, 4, "the dimension count of tensor '%s' (index %" PRIu64 ")", nm, i);
    uint32_t nd = le32(q);
    if (nd < 1 || nd > 4)
        return fail(P, "tensor '%s' (index %" PRIu64 ") has %" PRIu32 " dimensions; expected 1..4", nm, i, nd);
    t->n_dims = nd;
    for (uint32_t d = 0; d < 4; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
        if (!take(P, 8, &q)) return truncated(P, 8, "dimension %" PRIu32 " of tensor '%s' (index %" PRIu64 ")", d, nm, i);
        uint64_t v = le64(q);
        if (v == 0 || v > (uint64_t)INT64_MAX)
            return fail(P, "tensor '%s' (index %" PRIu64 ") has dimension %" PRIu32 " = %" PRIu64 "; expected 1..2^63-1", nm, i, d, v);
        t->ne[d] = v;
    }
    shape_str(t, shape, sizeof shape);
    uint64_t n_el = 1;
    for (uint32_t d = 0; d < nd; d++) {
        if (!zeta_mul_u64(n_el, t->ne[d], &n_el) || n_el > (uint64_t)INT64_MAX)
            return fail(P, "tensor '%s' (index %" PRIu64 ") has shape %s whose element count overflows (must be below 2^63)", nm, i, shape);
    }
    t->n_elements = n_el;

    if (!take(P, 4, &q)) return truncated(P, 4, "the type of tensor '%s' (index %" PRIu64 ")", nm, i);
    uint32_t type = le32(q);
    const zeta_type_traits *tr = zeta_type_get(type);
    if (!tr) return fail(P, "tensor '%s' (index %" PRIu64 ") has unknown type id %" PRIu32 "", nm, i, type);
    t->type = type;
    if (t->ne[0] % tr->block_size != 0)
        return fail(P, "tensor '%s' (index %" PRIu64 ") is %s with %" PRIu64 " columns (ne[0]); %s needs a multiple of the block size %" PRIu32,
                    nm, i, tr->name, t->ne[0], tr->name, tr->block_size);
    uint64_t row_bytes, bytes;
    if (!zeta_mul_u64(t->ne[0] / tr->block_size, tr->type_size, &row_bytes) ||
        !zeta_mul_u64(row_bytes, n_el / t->ne[0], &bytes))
        return fail(P, "tensor '%s' (index %" PRIu64 ") of type %s and shape %s has a byte size that overflows 64 bits", nm, i, tr->name, shape);
    t->n_bytes = bytes;

    if (!take(P, 8, &q)) return truncated(P, 8, "the data offset of tensor '%s' (index %" PRIu64 ")", nm, i);
    t->offset = le64(q);
    return ZETA_OK;
}

static zeta_status parse_tensors(parser *P) {
    gguf_file *g = P->g;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        zeta_status st = parse_tensor_info(P, &g->tensors[i], i);
        if (st != ZETA_OK) return st;
    }
    if (g->n_tensors > 1) {
        name_ent *tmp = zeta_malloc_array((size_t)g->n_tensors, sizeof *tmp);
        if (!tmp) return oom(P, "the tensor index");
        uint64_t a, b;
        for (uint64_t i = 0; i < g->n_tensors; i++) { tmp[i].s = g->tensors[i].name; tmp[i].i = i; }
        bool dup = find_duplicate(g->n_tensors, tmp, &a, &b);
        free(tmp);
        if (dup) return fail(P, "duplicate tensor name '%s' (indexes %" PRIu64 " and %" PRIu64 ")", g->tensors[a].name, a, b);
    }

    /* the data section starts at the end of the header, rounded up to the alignment */
    uint64_t al = g->alignment, end = P->pos, data;
    if (!zeta_add_u64(end, al - 1, &data))
        return fail(P, "the header end %" PRIu64 " cannot be aligned to %" PRIu64, end, al);
    data -= data % al;
    if (data > g->size) {
        if (g->n_tensors > 0)
            return fail(P, "the data section would start at byte %" PRIu64 " (header end %" PRIu64 " aligned to %" PRIu64
                        "), beyond the end of the file (%" PRIu64 " bytes)", data, end, al, g->size);
        data = g->size; /* no tensors: files without trailing padding are fine */
    }
    g->data_offset = data;
    uint64_t avail = g->size - data;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        if (t->offset % al != 0)
            return fail(P, "tensor '%s' (index %" PRIu64 ") has offset %" PRIu64 ", not a multiple of the alignment %" PRIu64,
                        t->name, i, t->offset, al);
        uint64_t end_off;
        if (!zeta_add_u64(t->offset, t->n_bytes, &end_off) || end_off > avail)
            return fail(P, "tensor '%s' (index %" PRIu64 ") at data offset %" PRIu64 " with %" PRIu64
                        " bytes extends beyond the end of the file (the data section holds %" PRIu64 " bytes)",
                        t->name, i, t->offset, t->n_bytes, avail);
        t->data = g->base + data + t->offset;
    }
    if (g->n_tensors > 1) {
        off_ent *ord = zeta_malloc_array((size_t)g->n_tensors, sizeof *ord);
        if (!ord) return oom(P, "the tensor offset index");
        for (uint64_t i = 0; i < g->n_tensors; i++) { ord[i].off = g->tensors[i].offset; ord[i].i = i; }
        qsort(ord, (size_t)g->n_tensors, sizeof *ord, cmp_off);
        for (uint64_t k = 1; k < g->n_tensors; k++) {
            const gguf_tensor *a = &g->tensors[ord[k - 1].i], *b = &g->tensors[ord[k].i];
            if (b->offset < a->offset + a->n_bytes) {
                uint64_t ia = ord[k - 1].i, ib = ord[k].i;
                free(ord);
                return fail(P, "tensor '%s' (index %" PRIu64 ") at data offset %" PRIu64 " overlaps tensor '%s' (index %" PRIu64
                            ") at [%" PRIu64 ", %" PRIu64 ")", b->name, ib, b->offset, a->name, ia, a->offset, a->offset + a->n_bytes);
            }
        }
        free(ord);
    }
    return ZETA_OK;
}

static zeta_status parse(parser *P) {
    gguf_file *g = P->g;
    const uint8_t *q;
    char qn[32];
    if (!take(P, 4, &q)) return truncated(P, 4, "the magic");
    if (memcmp(q, "GGUF", 4) != 0)
        return fail(P, "not a GGUF file: the magic is %s (bytes %02x %02x %02x %02x); expected 'GGUF'",
                    gguf_quote((const char *)q, 4, qn, sizeof qn), q[0], q[1], q[2], q[3]);
    if (!take(P, 4, &q)) return truncated(P, 4, "the version");
    uint32_t v = le32(q);
    if (v == 1) return fail(P, "GGUF v1 is not supported; re-convert the model with a current llama.cpp");
    /* big-endian only when the byte-swapped field is a real version (1..3); any other large value
     * is just an unsupported version */
    uint32_t sw = (v >> 24) | ((v >> 8) & 0xFF00u) | ((v << 8) & 0xFF0000u) | (v << 24);
    if (sw >= 1 && sw <= 3) {
        return fail(P, "big-endian GGUF file (the version field reads 0x%08" PRIx32 ", version %" PRIu32
                    " byte-swapped); only little-endian files are supported", v, sw);
    }
    if (v != 2 && v != 3) return fail(P, "unsupported GGUF version %" PRIu32 "; expected 2 or 3", v);
    g->version = v;
    if (!take(P, 8, &q)) return truncated(P, 8, "the tensor count");
    uint64_t nt = le64(q);
    if (!take(P, 8, &q)) return truncated(P, 8, "the key-value count");
    uint64_t nkv = le64(q);
    uint64_t rest = left(P), need_kv, need_t, need;
    if (nkv > rest / MIN_KV_BYTES)
        return fail(P, "key-value count %" PRIu64 " is impossible: the %" PRIu64 " bytes after the header hold at most %" PRIu64 " pairs",
                    nkv, rest, rest / MIN_KV_BYTES);
    if (nt > rest / MIN_TENSOR_BYTES)
        return fail(P, "tensor count %" PRIu64 " is impossible: the %" PRIu64 " bytes after the header hold at most %" PRIu64 " tensor infos",
                    nt, rest, rest / MIN_TENSOR_BYTES);
    need_kv = nkv * MIN_KV_BYTES;
    need_t = nt * MIN_TENSOR_BYTES;
    if (!zeta_add_u64(need_kv, need_t, &need) || need > rest)
        return fail(P, "key-value count %" PRIu64 " and tensor count %" PRIu64 " are impossible: they need at least %" PRIu64
                    " bytes, the file has %" PRIu64 " after the header", nkv, nt, need, rest);
    if (nkv > 0) {
        g->kv = zeta_calloc_array((size_t)nkv, sizeof *g->kv);
        if (!g->kv) return oom(P, "the key-value table");
    }
    g->n_kv = nkv;
    if (nt > 0) {
        g->tensors = zeta_calloc_array((size_t)nt, sizeof *g->tensors);
        if (!g->tensors) return oom(P, "the tensor table");
    }
    g->n_tensors = nt;
    zeta_status st = parse_kvs(P);
    if (st != ZETA_OK) return st;
    return parse_tensors(P);
}

static zeta_status finish_open(gguf_file *g, gguf_file **out, zeta_error *err) {
    parser P = {g, 0, err};
    zeta_status st = parse(&P);
    if (st != ZETA_OK) { gguf_close(g); return st; }
    *out = g;
    return zeta_ok(err);
}

static gguf_file *new_file(const char *name) {
    gguf_file *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->path = dup_n(name, strlen(name));
    if (!g->path) { free(g); return NULL; }
    return g;
}

zeta_status gguf_open_memory(const void *data, size_t size, const char *name, gguf_file **out, zeta_error *err) {
    if (!out) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf_open_memory: out is NULL");
    *out = NULL;
    if (!data && size > 0) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf_open_memory: data is NULL with size %zu", size);
    gguf_file *g = new_file(name ? name : "<memory>");
    if (!g) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "%s: out of memory", name ? name : "<memory>");
    g->base = data;
    g->size = size;
    g->mapping = -1;
    return finish_open(g, out, err);
}

zeta_status gguf_open(const char *path, bool use_mmap, gguf_file **out, zeta_error *err) {
    if (!out) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf_open: out is NULL");
    *out = NULL;
    if (!path) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf_open: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return zeta_fail(err, ZETA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return zeta_fail(err, ZETA_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) { close(fd); return zeta_fail(err, ZETA_ERR_IO, "%s: not a regular file", path); }
    if (sb.st_size <= 0) { close(fd); return zeta_fail(err, ZETA_ERR_FORMAT, "%s: file is empty; expected a GGUF file", path); }
    if ((uint64_t)sb.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "%s: file of %lld bytes does not fit in the address space", path, (long long)sb.st_size);
    }
    size_t size = (size_t)sb.st_size;
    gguf_file *g = new_file(path);
    if (!g) { close(fd); return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "%s: out of memory", path); }
    g->size = size;
    if (use_mmap) {
        void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            gguf_close(g);
            return zeta_fail(err, ZETA_ERR_IO, "%s: cannot mmap %zu bytes: %s", path, size, strerror(e));
        }
        g->base = m;
        g->mapping = 1;
    } else {
        const uint64_t phys = zeta_physical_memory();
        if (phys && size > phys) {
            close(fd);
            gguf_close(g);
            return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY,
                             "%s: reading the file into memory needs %zu MiB but this machine has %llu MiB (use mmap)", path,
                             size >> 20, (unsigned long long)(phys >> 20));
        }
        uint8_t *buf = malloc(size);
        if (!buf) {
            close(fd);
            gguf_close(g);
            return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes to read the file", path, size);
        }
        g->base = buf;
        g->mapping = 0;
        size_t got = 0;
        while (got < size) {
            ssize_t r = read(fd, buf + got, size - got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                int e = r < 0 ? errno : 0;
                close(fd);
                gguf_close(g);
                if (r < 0) return zeta_fail(err, ZETA_ERR_IO, "%s: read failed: %s", path, strerror(e));
                return zeta_fail(err, ZETA_ERR_IO, "%s: read only %zu of %zu bytes (file shrank?)", path, got, size);
            }
            got += (size_t)r;
        }
    }
    close(fd);
    return finish_open(g, out, err);
}

void gguf_close(gguf_file *g) {
    if (!g) return;
    for (uint64_t i = 0; g->kv && i < g->n_kv; i++) { free(g->kv[i].key); free(g->kv[i].strs); }
    free(g->kv);
    for (uint64_t i = 0; g->tensors && i < g->n_tensors; i++) free(g->tensors[i].name);
    free(g->tensors);
    if (g->mapping == 1 && g->base) munmap((void *)g->base, (size_t)g->size);
    else if (g->mapping == 0) free((void *)g->base);
    free(g->path);
    free(g);
}

/* ---- lookup and typed getters ---- */

const gguf_kv *gguf_find(const gguf_file *g, const char *key) {
    if (!g || !key) return NULL;
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return &g->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name) {
    if (!g || !name) return NULL;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}

const char *gguf_vtype_name(gguf_vtype t) {
    static const char *const names[GGUF_VTYPE_COUNT] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                                       "bool", "string", "array", "u64", "i64", "f64"};
    return (unsigned)t < GGUF_VTYPE_COUNT ? names[t] : "invalid";
}

static bool is_int_type(gguf_vtype t) {
    return t <= GGUF_INT32 || t == GGUF_UINT64 || t == GGUF_INT64;
}
static bool is_signed_type(gguf_vtype t) {
    return t == GGUF_INT8 || t == GGUF_INT16 || t == GGUF_INT32 || t == GGUF_INT64;
}
static gguf_vtype elem_type(const gguf_kv *kv) { return kv->type == GGUF_ARRAY ? kv->arr_type : kv->type; }

static uint64_t elem_u64(gguf_vtype t, const uint8_t *p) {
    switch (t) {
    case GGUF_UINT8: case GGUF_BOOL: return p[0];
    case GGUF_UINT16: return le16(p);
    case GGUF_UINT32: return le32(p);
    case GGUF_UINT64: return le64(p);
    default: return 0;
    }
}

int64_t gguf_array_i64(const gguf_kv *kv, uint64_t i) {
    gguf_vtype t = elem_type(kv);
    if (t >= GGUF_VTYPE_COUNT || t == GGUF_STRING || t == GGUF_ARRAY) return 0;
    const uint8_t *p = kv->data + i * k_vsize[t];
    switch (t) {
    case GGUF_INT8: return (int8_t)p[0];
    case GGUF_INT16: return (int16_t)le16(p);
    case GGUF_INT32: return (int32_t)le32(p);
    case GGUF_INT64: return (int64_t)le64(p);
    case GGUF_FLOAT32: case GGUF_FLOAT64: {
        double d = gguf_array_f64(kv, i);
        return (d >= -9.2e18 && d <= 9.2e18) ? (int64_t)d : 0;
    }
    default: return (int64_t)elem_u64(t, p);
    }
}

double gguf_array_f64(const gguf_kv *kv, uint64_t i) {
    gguf_vtype t = elem_type(kv);
    if (t >= GGUF_VTYPE_COUNT || t == GGUF_STRING || t == GGUF_ARRAY) return 0;
    const uint8_t *p = kv->data + i * k_vsize[t];
    if (t == GGUF_FLOAT32) { uint32_t u = le32(p); float f; memcpy(&f, &u, 4); return f; }
    if (t == GGUF_FLOAT64) { uint64_t u = le64(p); double d; memcpy(&d, &u, 8); return d; }
    if (t == GGUF_UINT64) return (double)le64(p);
    return (double)gguf_array_i64(kv, i);
}

/* Looks a key up; ZETA_OK with *kv NULL when it is absent and the caller allows that. */
static zeta_status lookup(const gguf_file *g, const char *key, bool *found, const gguf_kv **kv, zeta_error *err) {
    *kv = NULL;
    if (!g || !key) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf getter: file or key is NULL");
    *kv = gguf_find(g, key);
    if (found) *found = *kv != NULL;
    if (!*kv && !found) return zeta_fail(err, ZETA_ERR_FORMAT, "%s: missing key '%s'", g->path, key);
    return zeta_ok(err);
}

static zeta_status wrong_type(const gguf_file *g, const gguf_kv *kv, const char *expected, zeta_error *err) {
    if (kv->type == GGUF_ARRAY)
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: key '%s' is an array of %s; expected %s", g->path, kv->key,
                         gguf_vtype_name(kv->arr_type), expected);
    return zeta_fail(err, ZETA_ERR_FORMAT, "%s: key '%s' has type %s; expected %s", g->path, kv->key,
                     gguf_vtype_name(kv->type), expected);
}

zeta_status gguf_get_uint(const gguf_file *g, const char *key, uint64_t max, uint64_t *out, bool *found, zeta_error *err) {
    const gguf_kv *kv;
    zeta_status st = lookup(g, key, found, &kv, err);
    if (st != ZETA_OK || !kv) return st;
    if (!is_int_type(kv->type)) return wrong_type(g, kv, "an unsigned integer", err);
    if (is_signed_type(kv->type) && gguf_array_i64(kv, 0) < 0)
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: key '%s' is %" PRId64 "; expected 0..%" PRIu64, g->path, key,
                         gguf_array_i64(kv, 0), max);
    uint64_t v = is_signed_type(kv->type) ? (uint64_t)gguf_array_i64(kv, 0) : elem_u64(kv->type, kv->data);
    if (v > max) return zeta_fail(err, ZETA_ERR_FORMAT, "%s: key '%s' is %" PRIu64 "; expected 0..%" PRIu64, g->path, key, v, max);
    if (out) *out = v;
    return ZETA_OK;
}

zeta_status gguf_get_float(const gguf_file *g, const char *key, float *out, bool *found, zeta_error *err) {
    const gguf_kv *kv;
    zeta_status st = lookup(g, key, found, &kv, err);
    if (st != ZETA_OK || !kv) return st;
    if (kv->type != GGUF_FLOAT32 && kv->type != GGUF_FLOAT64 && !is_int_type(kv->type))
        return wrong_type(g, kv, "a number", err);
    double d = gguf_array_f64(kv, 0);
    float f = (float)d;
    if (!isfinite(f))
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: key '%s' is %g; expected a finite 32-bit float", g->path, key, d);
    if (out) *out = f;
    return ZETA_OK;
}

zeta_status gguf_get_bool(const gguf_file *g, const char *key, bool *out, bool *found, zeta_error *err) {
    const gguf_kv *kv;
    zeta_status st = lookup(g, key, found, &kv, err);
    if (st != ZETA_OK || !kv) return st;
    if (kv->type != GGUF_BOOL) return wrong_type(g, kv, "bool", err);
    if (out) *out = kv->data[0] != 0;
    return ZETA_OK;
}

zeta_status gguf_get_string(const gguf_file *g, const char *key, gguf_str *out, bool *found, zeta_error *err) {
    const gguf_kv *kv;
    zeta_status st = lookup(g, key, found, &kv, err);
    if (st != ZETA_OK || !kv) return st;
    if (kv->type != GGUF_STRING) return wrong_type(g, kv, "string", err);
    if (out) *out = kv->str;
    return ZETA_OK;
}

zeta_status gguf_get_array(const gguf_file *g, const char *key, gguf_vtype elem, const gguf_kv **out, bool *found, zeta_error *err) {
    const gguf_kv *kv;
    char expected[48];
    zeta_status st = lookup(g, key, found, &kv, err);
    if (st != ZETA_OK || !kv) return st;
    snprintf(expected, sizeof expected, "an array of %s", gguf_vtype_name(elem));
    if (kv->type != GGUF_ARRAY) return wrong_type(g, kv, expected, err);
    if (kv->arr_type != elem) {
        if (!((elem == GGUF_INT32 || elem == GGUF_UINT32) && is_int_type(kv->arr_type))) return wrong_type(g, kv, expected, err);
        bool sgn = is_signed_type(kv->arr_type);
        for (uint64_t i = 0; i < kv->n; i++) {
            int64_t s = gguf_array_i64(kv, i);
            uint64_t u = sgn ? 0 : elem_u64(kv->arr_type, kv->data + i * k_vsize[kv->arr_type]);
            bool fits = elem == GGUF_INT32 ? (sgn ? (s >= INT32_MIN && s <= INT32_MAX) : u <= (uint64_t)INT32_MAX)
                                           : (sgn ? (s >= 0 && s <= (int64_t)UINT32_MAX) : u <= UINT32_MAX);
            if (!fits) {
                char val[32];
                if (sgn) snprintf(val, sizeof val, "%" PRId64, s);
                else snprintf(val, sizeof val, "%" PRIu64, u);
                return zeta_fail(err, ZETA_ERR_FORMAT, "%s: key '%s' element %" PRIu64 " is %s, which does not fit in %s",
                                 g->path, key, i, val, gguf_vtype_name(elem));
            }
        }
    }
    if (out) *out = kv;
    return ZETA_OK;
}

/* Shortest "%g" text that reads back as the same value. */
static int fmt_float(char *buf, size_t cap, double v, bool single) {
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (single ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v) break;
    }
    return snprintf(buf, cap, "%s", tmp);
}

size_t gguf_kv_to_string(const gguf_kv *kv, char *buf, size_t cap) {
    char dummy[1];
    if (!buf || cap == 0) { buf = dummy; cap = 1; }
    if (!kv) { buf[0] = '\0'; return 0; }
    int n;
    switch (kv->type) {
    case GGUF_STRING: {
        size_t len = kv->str.n > SIZE_MAX - 1 ? SIZE_MAX - 1 : (size_t)kv->str.n;
        size_t c = len < cap - 1 ? len : cap - 1;
        if (c) memcpy(buf, kv->str.s, c);
        buf[c] = '\0';
        return len;
    }
    case GGUF_ARRAY: n = snprintf(buf, cap, "[%" PRIu64 " items]", kv->n); break;
    case GGUF_BOOL: n = snprintf(buf, cap, "%s", kv->data[0] ? "true" : "false"); break;
    case GGUF_FLOAT32: case GGUF_FLOAT64: n = fmt_float(buf, cap, gguf_array_f64(kv, 0), kv->type == GGUF_FLOAT32); break;
    case GGUF_UINT64: n = snprintf(buf, cap, "%" PRIu64, le64(kv->data)); break;
    default: n = snprintf(buf, cap, "%" PRId64, gguf_array_i64(kv, 0)); break;
    }
    return n < 0 ? 0 : (size_t)n;
}
