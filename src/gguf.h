/* gguf.h — GGUF v2/v3 reader over a bounds-checked cursor. Maps (or reads) a file, validates
 * every header field, metadata value and tensor info, and exposes them read-only. It knows
 * nothing of models or transformers; model.c interprets the keys and tensors.
 *
 * Validation (each failure is ZETA_ERR_FORMAT, message names the file, the key or tensor, the bad
 * value and what was expected): magic, version (v1 rejected; big-endian files recognised and
 * rejected), tensor and key counts against the file size, string lengths, value types, array
 * element types and lengths, nested arrays, duplicate keys, duplicate tensor names, tensor name
 * length, n_dims <= 4, dims >= 1 and their product (overflow-checked, < 2^63), type ids (unknown id
 * -> FORMAT), row length a multiple of the type's block size, general.alignment (u32, power of
 * two), tensor offsets aligned and inside the file, tensors not overlapping. */
#ifndef ZETA_GGUF_H
#define ZETA_GGUF_H

#include "util.h"

typedef enum gguf_vtype {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3, GGUF_UINT32 = 4, GGUF_INT32 = 5,
    GGUF_FLOAT32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_UINT64 = 10, GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12, GGUF_VTYPE_COUNT = 13
} gguf_vtype;

/* A string inside the file: not NUL-terminated, may contain any bytes. */
typedef struct gguf_str {
    const char *s;
    uint64_t n;
} gguf_str;

typedef struct gguf_kv {
    char *key;                 /* NUL-terminated copy (keys containing NUL bytes are rejected) */
    gguf_vtype type;
    gguf_vtype arr_type;       /* element type when type == GGUF_ARRAY */
    uint64_t n;                /* array length; 1 for scalars */
    const uint8_t *data;       /* scalar value or first array element, little-endian, unaligned */
    gguf_str str;              /* type == GGUF_STRING */
    gguf_str *strs;            /* type == GGUF_ARRAY && arr_type == GGUF_STRING: n strings */
} gguf_kv;

typedef struct gguf_tensor {
    char *name;                /* NUL-terminated copy, < 64 bytes */
    uint32_t n_dims;
    uint64_t ne[4];            /* unused dims are 1 */
    uint32_t type;             /* zeta_type */
    uint64_t offset;           /* relative to the data section */
    uint64_t n_elements;
    uint64_t n_bytes;
    const void *data;          /* inside the mapping */
} gguf_tensor;

typedef struct gguf_file {
    char *path;                /* as given (or the name passed to gguf_open_memory) */
    const uint8_t *base;       /* whole file */
    uint64_t size;
    uint32_t version;
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    gguf_tensor *tensors;
    uint32_t alignment;
    uint64_t data_offset;      /* start of the tensor data section */
    int mapping;               /* 1 mmap, 0 malloc copy, -1 caller memory */
} gguf_file;

/* Opens and validates a file (mmap when use_mmap, else read into memory). */
zeta_status gguf_open(const char *path, bool use_mmap, gguf_file **out, zeta_error *err);
/* Validates a caller-owned buffer (must outlive the gguf_file); `name` is used in messages. */
zeta_status gguf_open_memory(const void *data, size_t size, const char *name, gguf_file **out, zeta_error *err);
void gguf_close(gguf_file *g);

/* s[0..n) quoted for a one-line message: printable ASCII as is, other bytes (newlines, NUL, UTF-8)
 * as \xNN, shortened with "..." to fit cap (cap >= 16). Returns out. */
const char *gguf_quote(const char *s, uint64_t n, char *out, size_t cap);

const gguf_kv *gguf_find(const gguf_file *g, const char *key);        /* NULL if absent */
const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name);

/* Typed getters. Absent key: *found = false (if found != NULL) and ZETA_OK, *out untouched; if
 * found == NULL an absent key is ZETA_ERR_FORMAT ("missing key"). Wrong type or out-of-range value:
 * ZETA_ERR_FORMAT naming the file, key, actual type/value and what was expected. */
zeta_status gguf_get_uint(const gguf_file *g, const char *key, uint64_t max, uint64_t *out, bool *found, zeta_error *err); /* any integer type, 0..max */
zeta_status gguf_get_float(const gguf_file *g, const char *key, float *out, bool *found, zeta_error *err); /* f32/f64/integer; finite */
zeta_status gguf_get_bool(const gguf_file *g, const char *key, bool *out, bool *found, zeta_error *err);
zeta_status gguf_get_string(const gguf_file *g, const char *key, gguf_str *out, bool *found, zeta_error *err);
/* Array of the given element type (any integer type is accepted for an integer request when
 * elem == GGUF_INT32 or GGUF_UINT32 and values fit; use gguf_array_i64 to read them). */
zeta_status gguf_get_array(const gguf_file *g, const char *key, gguf_vtype elem, const gguf_kv **out, bool *found, zeta_error *err);

/* Element i of a numeric array as int64 / double (no bounds check: i < kv->n is the caller's job). */
int64_t gguf_array_i64(const gguf_kv *kv, uint64_t i);
double gguf_array_f64(const gguf_kv *kv, uint64_t i);

const char *gguf_vtype_name(gguf_vtype t);
/* Renders a value as text ("[n items]" for arrays) into buf; returns the length it needed. */
size_t gguf_kv_to_string(const gguf_kv *kv, char *buf, size_t cap);

#endif
