/* gguf_write.c — GGUF v3 writer: collects metadata and tensor descriptions, lays them out as ggml
 * does (aligned data section, aligned tensor offsets, zero padding) and serialises the file to
 * memory or to a path. Validates what readers would reject unless raw mode is on (tests). */
#include "gguf_write.h"
#include "quant.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAME 64
#define MAX_RAW_DIMS 8

static const uint8_t k_vsize[GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

typedef struct wkv {
    char *key;
    size_t key_len;
    uint32_t type;
    uint8_t *val;          /* serialised value: everything after the value type field */
    size_t val_len;
    uint64_t pos;
} wkv;

typedef struct wtensor {
    char *name;
    size_t name_len;
    uint32_t n_dims;
    uint64_t ne[MAX_RAW_DIMS];
    uint32_t type;
    const void *data;
    uint64_t size;
    uint64_t offset;
    uint64_t pos;
} wtensor;

struct gguf_writer {
    bool raw;
    uint32_t alignment;
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    bool laid_out;
    uint64_t data_offset, total;
};

static void put_le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static bool host_le(void) {
    const uint16_t x = 1;
    uint8_t b;
    memcpy(&b, &x, 1);
    return b == 1;
}

static zeta_status bad(zeta_error *err, const char *fmt, const char *what) {
    return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, fmt, what);
}

/* Returns p with room for n + 1 elements (possibly moved), or NULL (p untouched) on failure. */
static void *grow(void *p, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return p;
    size_t nc = *cap ? *cap * 2 : 16;
    if (nc <= n) return NULL;
    void *q = zeta_malloc_array(nc, elem);
    if (!q) return NULL;
    if (p) memcpy(q, p, n * elem);
    free(p);
    *cap = nc;
    return q;
}

zeta_status gguf_writer_new(gguf_writer **out, zeta_error *err) {
    if (!out) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf_writer_new: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "gguf_writer_new: out of memory");
    (*out)->alignment = 32;
    return zeta_ok(err);
}

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) { free(w->kv[i].key); free(w->kv[i].val); }
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

void gguf_writer_set_raw(gguf_writer *w, bool raw) {
    if (w) w->raw = raw;
}

static wkv *find_kv(gguf_writer *w, const char *key) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) return &w->kv[i];
    return NULL;
}

/* Takes ownership of val (freed on failure). */
static zeta_status add_value(gguf_writer *w, const char *key, uint32_t type, uint8_t *val, size_t val_len, zeta_error *err) {
    zeta_status st = ZETA_OK;
    if (!w || !key) { free(val); return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: writer or key is NULL"); }
    if (!w->raw) {
        if (!key[0]) st = zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: empty key");
        else if (find_kv(w, key)) st = bad(err, "gguf writer: duplicate key '%s'", key);
        else if (strcmp(key, "general.alignment") == 0) {
            uint32_t a = type == GGUF_UINT32 ? (uint32_t)(val[0] | val[1] << 8 | val[2] << 16 | (uint32_t)val[3] << 24) : 0;
            if (type != GGUF_UINT32 || a == 0 || (a & (a - 1)))
                st = bad(err, "gguf writer: key '%s' must be a u32 power of two (use gguf_writer_set_alignment)", key);
            else w->alignment = a;
        }
    }
    if (st != ZETA_OK) { free(val); return st; }
    size_t kl = strlen(key);
    char *k = malloc(kl + 1);
    wkv *arr = k ? grow(w->kv, &w->cap_kv, w->n_kv, sizeof *w->kv) : NULL;
    if (!arr) {
        free(k);
        free(val);
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "gguf writer: out of memory adding key '%s'", key);
    }
    w->kv = arr;
    memcpy(k, key, kl + 1);
    w->kv[w->n_kv++] = (wkv){k, kl, type, val, val_len, 0};
    w->laid_out = false;
    return ZETA_OK;
}

static zeta_status add_scalar(gguf_writer *w, const char *key, uint32_t type, uint64_t bits, zeta_error *err) {
    uint8_t *v = malloc(8);
    if (!v) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    put_le(v, bits, k_vsize[type]);
    return add_value(w, key, type, v, k_vsize[type], err);
}

zeta_status gguf_writer_set_alignment(gguf_writer *w, uint32_t alignment, zeta_error *err) {
    if (!w) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: writer is NULL");
    if (!w->raw && (alignment == 0 || (alignment & (alignment - 1))))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: alignment %" PRIu32 " is not a power of two", alignment);
    wkv *kv = find_kv(w, "general.alignment");
    if (kv && kv->type == GGUF_UINT32) {
        put_le(kv->val, alignment, 4);
    } else if (!kv) {
        bool raw = w->raw;
        w->raw = true; /* already validated */
        zeta_status st = add_scalar(w, "general.alignment", GGUF_UINT32, alignment, err);
        w->raw = raw;
        if (st != ZETA_OK) return st;
    } else if (!w->raw) {
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: key 'general.alignment' exists with another type");
    }
    w->alignment = alignment;
    w->laid_out = false;
    return zeta_ok(err);
}

zeta_status gguf_writer_add_u8(gguf_writer *w, const char *key, uint8_t v, zeta_error *err) { return add_scalar(w, key, GGUF_UINT8, v, err); }
zeta_status gguf_writer_add_i8(gguf_writer *w, const char *key, int8_t v, zeta_error *err) { return add_scalar(w, key, GGUF_INT8, (uint64_t)(int64_t)v, err); }
zeta_status gguf_writer_add_u16(gguf_writer *w, const char *key, uint16_t v, zeta_error *err) { return add_scalar(w, key, GGUF_UINT16, v, err); }
zeta_status gguf_writer_add_i16(gguf_writer *w, const char *key, int16_t v, zeta_error *err) { return add_scalar(w, key, GGUF_INT16, (uint64_t)(int64_t)v, err); }
zeta_status gguf_writer_add_u32(gguf_writer *w, const char *key, uint32_t v, zeta_error *err) { return add_scalar(w, key, GGUF_UINT32, v, err); }
zeta_status gguf_writer_add_i32(gguf_writer *w, const char *key, int32_t v, zeta_error *err) { return add_scalar(w, key, GGUF_INT32, (uint64_t)(int64_t)v, err); }
zeta_status gguf_writer_add_bool(gguf_writer *w, const char *key, bool v, zeta_error *err) { return add_scalar(w, key, GGUF_BOOL, v ? 1 : 0, err); }
zeta_status gguf_writer_add_u64(gguf_writer *w, const char *key, uint64_t v, zeta_error *err) { return add_scalar(w, key, GGUF_UINT64, v, err); }
zeta_status gguf_writer_add_i64(gguf_writer *w, const char *key, int64_t v, zeta_error *err) { return add_scalar(w, key, GGUF_INT64, (uint64_t)v, err); }
zeta_status gguf_writer_add_f32(gguf_writer *w, const char *key, float v, zeta_error *err) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return add_scalar(w, key, GGUF_FLOAT32, u, err);
}
zeta_status gguf_writer_add_f64(gguf_writer *w, const char *key, double v, zeta_error *err) {
    uint64_t u;
    memcpy(&u, &v, 8);
    return add_scalar(w, key, GGUF_FLOAT64, u, err);
}

zeta_status gguf_writer_add_string_n(gguf_writer *w, const char *key, const char *s, uint64_t n, zeta_error *err) {
    size_t len;
    if (!s && n) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: string for key '%s' is NULL", key ? key : "");
    if (n > SIZE_MAX - 8) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "gguf writer: string too long");
    len = (size_t)n + 8;
    uint8_t *v = malloc(len);
    if (!v) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    put_le(v, n, 8);
    if (n) memcpy(v + 8, s, (size_t)n);
    return add_value(w, key, GGUF_STRING, v, len, err);
}

zeta_status gguf_writer_add_string(gguf_writer *w, const char *key, const char *s, zeta_error *err) {
    return gguf_writer_add_string_n(w, key, s, s ? strlen(s) : 0, err);
}

/* Array whose elements are already serialised (little-endian) when `le` is true. */
static zeta_status add_num_array(gguf_writer *w, const char *key, gguf_vtype elem, const void *data, uint64_t n, bool le,
                                 zeta_error *err) {
    bool known = (unsigned)elem < GGUF_VTYPE_COUNT && elem != GGUF_STRING && elem != GGUF_ARRAY;
    if (w && !w->raw && !known)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: key '%s': array element type %d is not a number type",
                         key ? key : "", (int)elem);
    size_t es = known ? k_vsize[elem] : 0, bytes, len;
    if (n > SIZE_MAX || !zeta_mul_size((size_t)n, es, &bytes) || !zeta_add_size(bytes, 12, &len))
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "gguf writer: array of %" PRIu64 " elements is too large", n);
    if (bytes && !data) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: array data for key '%s' is NULL", key ? key : "");
    if (elem == GGUF_BOOL && w && !w->raw) {
        for (size_t i = 0; i < bytes; i++)
            if (((const uint8_t *)data)[i] > 1) return bad(err, "gguf writer: bool array '%s' holds a value other than 0/1", key ? key : "");
    }
    uint8_t *v = malloc(len);
    if (!v) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    put_le(v, (uint32_t)elem, 4);
    put_le(v + 4, n, 8);
    if (le || host_le() || es <= 1) {
        if (bytes) memcpy(v + 12, data, bytes);
    } else {
        for (size_t i = 0; i < bytes; i += es)
            for (size_t b = 0; b < es; b++) v[12 + i + b] = ((const uint8_t *)data)[i + es - 1 - b];
    }
    return add_value(w, key, GGUF_ARRAY, v, len, err);
}

zeta_status gguf_writer_add_array(gguf_writer *w, const char *key, gguf_vtype elem, const void *data, uint64_t n,
                                  zeta_error *err) {
    return add_num_array(w, key, elem, data, n, false, err);
}

/* Either strs (NUL-terminated) or counted is given. */
static zeta_status add_str_array(gguf_writer *w, const char *key, const char *const *strs, const gguf_str *counted,
                                 uint64_t n, zeta_error *err) {
    size_t len = 12;
    if (n > SIZE_MAX / 8) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "gguf writer: string array too large");
    if (n && !strs && !counted) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: string array '%s' is NULL", key ? key : "");
    for (uint64_t i = 0; i < n; i++) {
        uint64_t sl = strs ? (strs[i] ? strlen(strs[i]) : 0) : counted[i].n;
        if (sl > SIZE_MAX || !zeta_add_size(len, 8, &len) || !zeta_add_size(len, (size_t)sl, &len))
            return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "gguf writer: string array too large");
    }
    uint8_t *v = malloc(len);
    if (!v) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    put_le(v, GGUF_STRING, 4);
    put_le(v + 4, n, 8);
    size_t o = 12;
    for (uint64_t i = 0; i < n; i++) {
        const char *s = strs ? strs[i] : counted[i].s;
        size_t sl = strs ? (s ? strlen(s) : 0) : (size_t)counted[i].n;
        put_le(v + o, sl, 8);
        if (sl) memcpy(v + o + 8, s, sl);
        o += 8 + sl;
    }
    return add_value(w, key, GGUF_ARRAY, v, len, err);
}

zeta_status gguf_writer_add_string_array(gguf_writer *w, const char *key, const char *const *strs, uint64_t n,
                                         zeta_error *err) {
    return add_str_array(w, key, strs, NULL, n, err);
}

zeta_status gguf_writer_add_strs(gguf_writer *w, const char *key, const gguf_str *strs, uint64_t n, zeta_error *err) {
    return add_str_array(w, key, NULL, strs, n, err);
}

zeta_status gguf_writer_add_kv(gguf_writer *w, const gguf_kv *kv, zeta_error *err) {
    if (!kv) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: kv is NULL");
    if (kv->type == GGUF_STRING) return gguf_writer_add_string_n(w, kv->key, kv->str.s, kv->str.n, err);
    if (kv->type == GGUF_ARRAY) {
        if (kv->arr_type == GGUF_STRING) return add_str_array(w, kv->key, NULL, kv->strs, kv->n, err);
        return add_num_array(w, kv->key, kv->arr_type, kv->data, kv->n, true, err);
    }
    if ((unsigned)kv->type >= GGUF_VTYPE_COUNT) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: invalid kv type");
    uint64_t bits = 0;
    for (int i = k_vsize[kv->type] - 1; i >= 0; i--) bits = bits << 8 | kv->data[i];
    return add_scalar(w, kv->key, kv->type, bits, err);
}

static zeta_status check_tensor(const gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                                uint64_t size, zeta_error *err) {
    size_t nl = strlen(name);
    if (nl == 0 || nl >= MAX_NAME)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: tensor name '%s' has %zu bytes; expected 1..%d", name, nl, MAX_NAME - 1);
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0) return bad(err, "gguf writer: duplicate tensor name '%s'", name);
    if (n_dims < 1 || n_dims > 4)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: tensor '%s' has %" PRIu32 " dims; expected 1..4", name, n_dims);
    const zeta_type_traits *tr = zeta_type_get(type);
    if (!tr) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: tensor '%s' has unknown type %" PRIu32, name, type);
    uint64_t n = 1, bytes;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] == 0 || ne[d] > (uint64_t)INT64_MAX || !zeta_mul_u64(n, ne[d], &n) || n > (uint64_t)INT64_MAX)
            return bad(err, "gguf writer: tensor '%s' has a dimension that is 0 or too large", name);
    }
    if (ne[0] % tr->block_size)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: tensor '%s' is %s with %" PRIu64 " columns; need a multiple of %" PRIu32,
                         name, tr->name, ne[0], tr->block_size);
    if (!zeta_mul_u64(n / tr->block_size, tr->type_size, &bytes))
        return bad(err, "gguf writer: tensor '%s' is too large", name);
    if (bytes != size)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: tensor '%s' has %" PRIu64 " bytes of data; its shape needs %" PRIu64,
                         name, size, bytes);
    return ZETA_OK;
}

zeta_status gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                                   const void *data, uint64_t size, zeta_error *err) {
    if (!w || !name || (!ne && n_dims))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: writer, name or ne is NULL");
    if (n_dims > MAX_RAW_DIMS)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: tensor '%s' has %" PRIu32 " dims; at most %d even in raw mode",
                         name, n_dims, MAX_RAW_DIMS);
    if (!w->raw) {
        zeta_status st = check_tensor(w, name, n_dims, ne, type, size, err);
        if (st != ZETA_OK) return st;
    }
    size_t nl = strlen(name);
    char *nm = malloc(nl + 1);
    wtensor *arr = nm ? grow(w->t, &w->cap_t, w->n_t, sizeof *w->t) : NULL;
    if (!arr) {
        free(nm);
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "gguf writer: out of memory adding tensor '%s'", name);
    }
    w->t = arr;
    memcpy(nm, name, nl + 1);
    wtensor *t = &w->t[w->n_t++];
    memset(t, 0, sizeof *t);
    t->name = nm;
    t->name_len = nl;
    t->n_dims = n_dims;
    for (uint32_t d = 0; d < n_dims; d++) t->ne[d] = ne[d];
    t->type = type;
    t->data = data;
    t->size = size;
    w->laid_out = false;
    return zeta_ok(err);
}

static bool align_up(uint64_t x, uint64_t a, uint64_t *out) {
    if (a <= 1) { *out = x; return true; }
    if (!zeta_add_u64(x, a - 1, out)) return false;
    *out -= *out % a;
    return true;
}

static zeta_status layout(gguf_writer *w, zeta_error *err) {
    uint64_t pos = 24, a = w->alignment, cur = 0;
    bool ok = true;
    for (size_t i = 0; i < w->n_kv && ok; i++) {
        w->kv[i].pos = pos;
        ok = zeta_add_u64(pos, 12 + (uint64_t)w->kv[i].key_len, &pos) && zeta_add_u64(pos, w->kv[i].val_len, &pos);
    }
    for (size_t i = 0; i < w->n_t && ok; i++) {
        w->t[i].pos = pos;
        ok = zeta_add_u64(pos, 8 + (uint64_t)w->t[i].name_len + 4 + 8 * (uint64_t)w->t[i].n_dims + 12, &pos);
    }
    ok = ok && align_up(pos, a, &w->data_offset);
    for (size_t i = 0; i < w->n_t && ok; i++) {
        w->t[i].offset = cur;
        ok = zeta_add_u64(cur, w->t[i].size, &cur) && align_up(cur, a, &cur);
    }
    ok = ok && zeta_add_u64(w->data_offset, cur, &w->total);
    if (!ok) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: file size overflows 64 bits");
    w->laid_out = true;
    return ZETA_OK;
}

/* Writes the header (and its zero padding) into buf[0..data_offset), which is zeroed. */
static void put_header(const gguf_writer *w, uint8_t *buf) {
    memcpy(buf, "GGUF", 4);
    put_le(buf + 4, 3, 4);
    put_le(buf + 8, w->n_t, 8);
    put_le(buf + 16, w->n_kv, 8);
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *kv = &w->kv[i];
        uint8_t *p = buf + kv->pos;
        put_le(p, kv->key_len, 8);
        memcpy(p + 8, kv->key, kv->key_len);
        put_le(p + 8 + kv->key_len, kv->type, 4);
        memcpy(p + 12 + kv->key_len, kv->val, kv->val_len);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        uint8_t *p = buf + t->pos;
        put_le(p, t->name_len, 8);
        memcpy(p + 8, t->name, t->name_len);
        p += 8 + t->name_len;
        put_le(p, t->n_dims, 4);
        p += 4;
        for (uint32_t d = 0; d < t->n_dims; d++, p += 8) put_le(p, t->ne[d], 8);
        put_le(p, t->type, 4);
        put_le(p + 4, t->offset, 8);
    }
}

zeta_status gguf_writer_write_memory(gguf_writer *w, uint8_t **out, size_t *size, zeta_error *err) {
    if (!w || !out || !size) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: NULL argument");
    *out = NULL;
    *size = 0;
    zeta_status st = layout(w, err);
    if (st != ZETA_OK) return st;
    if (w->total > SIZE_MAX)
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "gguf writer: file of %" PRIu64 " bytes does not fit in memory", w->total);
    uint8_t *buf = calloc(1, (size_t)w->total);
    if (!buf) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "gguf writer: cannot allocate %" PRIu64 " bytes", w->total);
    put_header(w, buf);
    for (size_t i = 0; i < w->n_t; i++)
        if (w->t[i].data && w->t[i].size) memcpy(buf + w->data_offset + w->t[i].offset, w->t[i].data, (size_t)w->t[i].size);
    *out = buf;
    *size = (size_t)w->total;
    return zeta_ok(err);
}

static bool write_zeros(FILE *f, uint64_t n) {
    static const uint8_t zeros[4096];
    while (n) {
        size_t c = n < sizeof zeros ? (size_t)n : sizeof zeros;
        if (fwrite(zeros, 1, c, f) != c) return false;
        n -= c;
    }
    return true;
}

zeta_status gguf_writer_write_file(gguf_writer *w, const char *path, zeta_error *err) {
    if (!w || !path) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "gguf writer: NULL argument");
    zeta_status st = layout(w, err);
    if (st != ZETA_OK) return st;
    if (w->data_offset > SIZE_MAX) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "gguf writer: header too large");
    uint8_t *hdr = calloc(1, w->data_offset ? (size_t)w->data_offset : 1);
    if (!hdr) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "gguf writer: cannot allocate the header");
    put_header(w, hdr);
    FILE *f = fopen(path, "wb");
    if (!f) {
        int e = errno;
        free(hdr);
        return zeta_fail(err, ZETA_ERR_IO, "%s: cannot create: %s", path, strerror(e));
    }
    bool ok = fwrite(hdr, 1, (size_t)w->data_offset, f) == (size_t)w->data_offset;
    free(hdr);
    uint64_t at = 0;
    for (size_t i = 0; i < w->n_t && ok; i++) {
        const wtensor *t = &w->t[i];
        ok = write_zeros(f, t->offset - at);
        if (ok && t->data) ok = t->size <= SIZE_MAX && fwrite(t->data, 1, (size_t)t->size, f) == (size_t)t->size;
        else if (ok) ok = write_zeros(f, t->size);
        at = t->offset + t->size;
    }
    if (ok) ok = write_zeros(f, w->total - w->data_offset - at);
    int e = errno;
    if (fclose(f) != 0 && ok) { ok = false; e = errno; }
    if (!ok) return zeta_fail(err, ZETA_ERR_IO, "%s: write failed: %s", path, strerror(e));
    return zeta_ok(err);
}

uint64_t gguf_writer_kv_pos(const gguf_writer *w, size_t i) {
    return w && w->laid_out && i < w->n_kv ? w->kv[i].pos : UINT64_MAX;
}
uint64_t gguf_writer_tensor_pos(const gguf_writer *w, size_t i) {
    return w && w->laid_out && i < w->n_t ? w->t[i].pos : UINT64_MAX;
}
uint64_t gguf_writer_tensor_offset(const gguf_writer *w, size_t i) {
    return w && w->laid_out && i < w->n_t ? w->t[i].offset : UINT64_MAX;
}
uint64_t gguf_writer_data_offset(const gguf_writer *w) { return w && w->laid_out ? w->data_offset : UINT64_MAX; }
uint64_t gguf_writer_file_size(const gguf_writer *w) { return w && w->laid_out ? w->total : UINT64_MAX; }
