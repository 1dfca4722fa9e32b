/* test_gguf.c — tests of the GGUF reader (src/gguf.c) and writer (src/gguf_write.c): real files,
 * v1 rejection, a table of malformed files made by patching or truncating a valid file from the
 * writer, round trips, typed getters and writer validation. Run from the repository root. */
#include "gguf.h"
#include "gguf_write.h"
#include "quant.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define OKW(call) do { zeta_error e_; zeta_status s_ = (call); T_CHECKF(s_ == ZETA_OK, "%s: %s", #call, e_.message); } while (0)
#define HAS(msg, frag) (strstr((msg), (frag)) != NULL)

/* ---------------------------------------------------------------- the synthetic base file */

enum { K_ARCH, K_PAD, K_U8, K_I8, K_U16, K_I16, K_U32, K_I32, K_F32, K_BOOL, K_U64, K_I64, K_F64,
       K_ARR_U32, K_ARR_BOOL, K_ARR_STR, K_ARR_I64, K_ARR_F32, K_STR, K_COUNT };
static const char *const k_keys[K_COUNT] = {
    "general.architecture", "test.pad", "test.u8", "test.i8", "test.u16", "test.i16", "test.u32", "test.i32",
    "test.f32", "test.bool", "test.u64", "test.i64", "test.f64", "test.arr_u32", "test.arr_bool", "test.arr_str",
    "test.arr_i64", "test.arr_f32", "test.str"};
enum { T_F32, T_Q4, T_F16, T_COUNT };
static const char *const k_tnames[T_COUNT] = {"t.f32", "t.q4_0", "t.f16"};
static const uint32_t k_tdims[T_COUNT] = {2, 1, 1};

static const uint32_t arr_u32[4] = {1, 2, 3, 4};
static const uint8_t arr_bool[3] = {1, 0, 1};
static const char *const arr_str[4] = {"a", "bc", "", "def"};
static const int64_t arr_i64[3] = {-1, 5, (int64_t)1 << 40};
static const float arr_f32[2] = {0.5f, -2.0f};
static const float data_f32[8] = {1, -2, 3.5f, 0, 1e-3f, -1e9f, 7, 8};
static const uint16_t data_f16[8] = {0x3c00, 0xc000, 0x3800, 0, 0x7bff, 0x8001, 0x4400, 0x4800};
static uint8_t data_q4[18];

enum { V_BASE, V_DUP_KEY, V_EMPTY_KEY, V_DUP_TENSOR, V_NAME64, V_NAME63, V_DIMS_OVF, V_DIMS_2_63, V_BYTES_OVF,
       V_ALIGN0, V_ALIGN3, V_ALIGN_I32, V_ALIGN_STR, V_ALIGN64, V_NO_TENSORS, V_EMPTY_ARRAYS, V_Q4_NE0 };

static void add_base_kvs(gguf_writer *w) {
    char pad[401];
    memset(pad, 'x', 400);
    pad[400] = 0;
    OKW(gguf_writer_add_string(w, k_keys[K_ARCH], "llama", &e_));
    OKW(gguf_writer_add_string(w, k_keys[K_PAD], pad, &e_));
    OKW(gguf_writer_add_u8(w, k_keys[K_U8], 200, &e_));
    OKW(gguf_writer_add_i8(w, k_keys[K_I8], -100, &e_));
    OKW(gguf_writer_add_u16(w, k_keys[K_U16], 60000, &e_));
    OKW(gguf_writer_add_i16(w, k_keys[K_I16], -30000, &e_));
    OKW(gguf_writer_add_u32(w, k_keys[K_U32], 4000000000u, &e_));
    OKW(gguf_writer_add_i32(w, k_keys[K_I32], -2000000000, &e_));
    OKW(gguf_writer_add_f32(w, k_keys[K_F32], 0.25f, &e_));
    OKW(gguf_writer_add_bool(w, k_keys[K_BOOL], true, &e_));
    OKW(gguf_writer_add_u64(w, k_keys[K_U64], ((uint64_t)1 << 40) + 7, &e_));
    OKW(gguf_writer_add_i64(w, k_keys[K_I64], -((int64_t)1 << 40), &e_));
    OKW(gguf_writer_add_f64(w, k_keys[K_F64], -1.5e300, &e_));
    OKW(gguf_writer_add_array(w, k_keys[K_ARR_U32], GGUF_UINT32, arr_u32, 4, &e_));
    OKW(gguf_writer_add_array(w, k_keys[K_ARR_BOOL], GGUF_BOOL, arr_bool, 3, &e_));
    OKW(gguf_writer_add_string_array(w, k_keys[K_ARR_STR], arr_str, 4, &e_));
    OKW(gguf_writer_add_array(w, k_keys[K_ARR_I64], GGUF_INT64, arr_i64, 3, &e_));
    OKW(gguf_writer_add_array(w, k_keys[K_ARR_F32], GGUF_FLOAT32, arr_f32, 2, &e_));
    OKW(gguf_writer_add_string(w, k_keys[K_STR], "hello, world", &e_));
}

static void add_base_tensors(gguf_writer *w) {
    for (int i = 0; i < 18; i++) data_q4[i] = (uint8_t)(i * 37 + 11);
    OKW(gguf_writer_add_tensor(w, k_tnames[T_F32], 2, (const uint64_t[]){4, 2}, ZETA_TYPE_F32, data_f32, 32, &e_));
    OKW(gguf_writer_add_tensor(w, k_tnames[T_Q4], 1, (const uint64_t[]){32}, ZETA_TYPE_Q4_0, data_q4, 18, &e_));
    OKW(gguf_writer_add_tensor(w, k_tnames[T_F16], 1, (const uint64_t[]){8}, ZETA_TYPE_F16, data_f16, 16, &e_));
}

/* Builds a variant of the base file in memory; the writer is kept for its layout hooks. */
static uint8_t *build(int v, gguf_writer **wout, size_t *size) {
    gguf_writer *w = NULL;
    uint8_t *buf = NULL;
    char name[80];
    OKW(gguf_writer_new(&w, &e_));
    if (!w) return NULL;
    bool valid = v == V_BASE || v == V_NAME63 || v == V_ALIGN64 || v == V_NO_TENSORS || v == V_EMPTY_ARRAYS;
    gguf_writer_set_raw(w, !valid);
    add_base_kvs(w);
    switch (v) {
    case V_DUP_KEY: OKW(gguf_writer_add_u8(w, "test.u8", 1, &e_)); break;
    case V_EMPTY_KEY: OKW(gguf_writer_add_u32(w, "", 1, &e_)); break;
    case V_ALIGN0: OKW(gguf_writer_set_alignment(w, 0, &e_)); break;
    case V_ALIGN3: OKW(gguf_writer_set_alignment(w, 3, &e_)); break;
    case V_ALIGN_I32: OKW(gguf_writer_add_i32(w, "general.alignment", 32, &e_)); break;
    case V_ALIGN_STR: OKW(gguf_writer_add_string(w, "general.alignment", "32", &e_)); break;
    case V_ALIGN64: OKW(gguf_writer_set_alignment(w, 64, &e_)); break;
    case V_EMPTY_ARRAYS:
        OKW(gguf_writer_add_array(w, "test.empty_u32", GGUF_UINT32, NULL, 0, &e_));
        OKW(gguf_writer_add_string_array(w, "test.empty_str", NULL, 0, &e_));
        break;
    default: break;
    }
    if (v != V_NO_TENSORS) add_base_tensors(w);
    const uint64_t one[1] = {8};
    switch (v) {
    case V_DUP_TENSOR: OKW(gguf_writer_add_tensor(w, "t.f32", 1, one, ZETA_TYPE_F32, NULL, 32, &e_)); break;
    case V_NAME64: case V_NAME63:
        memset(name, 'n', sizeof name);
        name[v == V_NAME64 ? 64 : 63] = 0;
        OKW(gguf_writer_add_tensor(w, name, 1, one, ZETA_TYPE_F32, NULL, 32, &e_));
        break;
    case V_DIMS_OVF:
        OKW(gguf_writer_add_tensor(w, "t.big", 2, (const uint64_t[]){1ull << 32, 1ull << 32}, ZETA_TYPE_F32, NULL, 32, &e_));
        break;
    case V_DIMS_2_63:
        OKW(gguf_writer_add_tensor(w, "t.big", 2, (const uint64_t[]){1ull << 62, 2}, ZETA_TYPE_I8, NULL, 32, &e_));
        break;
    case V_BYTES_OVF: OKW(gguf_writer_add_tensor(w, "t.big", 1, (const uint64_t[]){1ull << 62}, ZETA_TYPE_F32, NULL, 32, &e_)); break;
    case V_Q4_NE0: OKW(gguf_writer_add_tensor(w, "t.q4_16", 1, (const uint64_t[]){16}, ZETA_TYPE_Q4_0, NULL, 9, &e_)); break;
    default: break;
    }
    OKW(gguf_writer_write_memory(w, &buf, size, &e_));
    *wout = w;
    return buf;
}

/* ---------------------------------------------------------------- the malformed-file table */

enum { P_ABS, P_KEY, P_KTYPE, P_KVAL, P_TI, P_NDIMS, P_DIM, P_TTYPE, P_TOFF, P_DATA, P_END };
typedef struct row {
    const char *desc;
    int variant;
    int anchor, idx, sub; /* where: anchor of record idx (dimension sub for P_DIM) ... */
    int64_t delta;        /* ... plus delta bytes (P_ABS: delta is the position) */
    int width;            /* patch `width` little-endian bytes with value; 0 = no patch */
    uint64_t value;
    int truncate;         /* 1: cut the file at the position instead */
    zeta_status st;
    const char *frag;     /* expected message fragment (NULL for valid files) */
} row;

#define BIG (1ull << 40)
#define U64MAX UINT64_MAX
#define FMT ZETA_ERR_FORMAT
/* shorthands: patch (PT), truncate (TR), variant as is (VA) */
#define PT(d, a, i, s, dl, w, val, f) {d, V_BASE, a, i, s, dl, w, val, 0, FMT, f}
#define TR(d, a, i, s, dl, f) {d, V_BASE, a, i, s, dl, 0, 0, 1, FMT, f}
#define VA(d, v, st, f) {d, v, P_ABS, 0, 0, 0, 0, 0, 0, st, f}

static const row k_rows[] = {
    VA("valid base file", V_BASE, ZETA_OK, NULL),
    PT("bad magic GGML", P_ABS, 0, 0, 0, 4, 0x4c4d4747, "not a GGUF file: the magic is 'GGML'"),
    PT("zero magic", P_ABS, 0, 0, 0, 4, 0, "expected 'GGUF'"),
    TR("empty file", P_ABS, 0, 0, 0, "while reading the magic"),
    TR("truncated inside the magic", P_ABS, 0, 0, 2, "while reading the magic (needs 4 bytes, 2 left)"),
    PT("version 1", P_ABS, 0, 0, 4, 4, 1, "GGUF v1 is not supported; re-convert"),
    PT("version 0", P_ABS, 0, 0, 4, 4, 0, "unsupported GGUF version 0; expected 2 or 3"),
    PT("version 4", P_ABS, 0, 0, 4, 4, 4, "unsupported GGUF version 4; expected 2 or 3"),
    PT("version 0xffffffff", P_ABS, 0, 0, 4, 4, 0xffffffffu, "unsupported GGUF version 4294967295"),
    PT("big-endian version 3", P_ABS, 0, 0, 4, 4, 0x03000000, "big-endian GGUF file (the version field reads 0x03000000, version 3"),
    PT("big-endian version 2", P_ABS, 0, 0, 4, 4, 0x02000000, "only little-endian files are supported"),
    TR("truncated inside the version", P_ABS, 0, 0, 6, "while reading the version"),
    TR("truncated inside the tensor count", P_ABS, 0, 0, 12, "while reading the tensor count"),
    TR("truncated inside the key-value count", P_ABS, 0, 0, 20, "while reading the key-value count"),
    TR("truncated after the counts", P_ABS, 0, 0, 24, "key-value count 19 is impossible"),
    PT("huge key-value count", P_ABS, 0, 0, 16, 8, BIG, "key-value count 1099511627776 is impossible"),
    PT("key-value count 2^64-1", P_ABS, 0, 0, 16, 8, U64MAX, "key-value count 18446744073709551615 is impossible"),
    PT("huge tensor count", P_ABS, 0, 0, 8, 8, BIG, "tensor count 1099511627776 is impossible"),
    PT("tensor count 2^64-1", P_ABS, 0, 0, 8, 8, U64MAX, "tensor count 18446744073709551615 is impossible"),
    TR("truncated inside a key length", P_KEY, K_STR, 0, 3, "while reading the length of key 18"),
    TR("truncated inside a key", P_KEY, K_STR, 0, 11, "key 18 has length 8, but only 3 bytes are left"),
    TR("truncated inside a value type", P_KTYPE, K_STR, 0, 2, "while reading the value type of key 'test.str' (index 18)"),
    TR("truncated inside a u64 value", P_KVAL, K_U64, 0, 3, "while reading the u64 value of key 'test.u64' (index 10)"),
    TR("truncated inside a string length", P_KVAL, K_STR, 0, 5, "reading the length of the string value of key 'test.str'"),
    TR("truncated inside string bytes", P_KVAL, K_STR, 0, 12, "string value of key 'test.str' (index 18) has length 12, but only 4"),
    TR("truncated inside an array element type", P_KVAL, K_ARR_U32, 0, 2, "reading the array element type of key 'test.arr_u32'"),
    TR("truncated inside an array length", P_KVAL, K_ARR_U32, 0, 7, "reading the array length of key 'test.arr_u32'"),
    TR("truncated inside array data", P_KVAL, K_ARR_U32, 0, 18, "is an array of 4 u32 (16 bytes), but only 6 bytes are left"),
    TR("truncated inside a string array length", P_KVAL, K_ARR_STR, 0, 45, "reading the length of string 3 of array key 'test.arr_str'"),
    TR("truncated inside string array bytes", P_KVAL, K_ARR_STR, 0, 48, "string 3 of array key 'test.arr_str' (index 15) has length 3, but only 1"),
    TR("string array shorter than its count", P_KVAL, K_ARR_STR, 0, 30, "is an array of 4 strings, but only 18 bytes are left"),
    TR("truncated inside a tensor name length", P_TI, T_Q4, 0, 4, "reading the name length of tensor 1"),
    TR("truncated inside a tensor name", P_TI, T_Q4, 0, 10, "tensor 1 has name length 6, but only 2 bytes are left"),
    TR("truncated inside n_dims", P_NDIMS, T_Q4, 0, 1, "reading the dimension count of tensor 't.q4_0' (index 1)"),
    TR("truncated inside a dimension", P_DIM, T_F32, 1, 4, "reading dimension 1 of tensor 't.f32' (index 0)"),
    TR("truncated inside a tensor type", P_TTYPE, T_F16, 0, 2, "reading the type of tensor 't.f16' (index 2)"),
    TR("truncated inside a tensor offset", P_TOFF, T_F16, 0, 7, "reading the data offset of tensor 't.f16' (index 2)"),
    TR("truncated at the end of the header", P_TOFF, T_F16, 0, 8, "the data section would start at byte"),
    TR("truncated inside the data section", P_DATA, 0, 0, 40, "tensor 't.q4_0' (index 1) at data offset 32 with 18 bytes extends beyond the end"),
    TR("last tensor one byte short", P_DATA, 0, 0, 79, "tensor 't.f16' (index 2) at data offset 64 with 16 bytes extends beyond"),
    PT("huge key length", P_KEY, K_STR, 0, 0, 8, BIG, "key 18 has length 1099511627776, but only"),
    PT("key length 2^64-1", P_KEY, K_STR, 0, 0, 8, U64MAX, "key 18 has length 18446744073709551615"),
    VA("empty key", V_EMPTY_KEY, FMT, "key 19 is empty; keys must be non-empty"),
    PT("key containing NUL", P_KEY, K_U8, 0, 10, 1, 0, "key 'te\\x00t.u8' (index 2) contains a NUL byte"),
    VA("duplicate key", V_DUP_KEY, FMT, "duplicate key 'test.u8' (indexes 2 and 19)"),
    PT("value type 13", P_KTYPE, K_U8, 0, 0, 4, 13, "key 'test.u8' (index 2) has invalid value type 13; expected 0..12"),
    PT("value type 2^32-1", P_KTYPE, K_U8, 0, 0, 4, 0xffffffffu, "has invalid value type 4294967295"),
    PT("huge string length", P_KVAL, K_STR, 0, 0, 8, BIG, "key 'test.str' (index 18) has length 1099511627776, but only"),
    PT("string length 2^64-1", P_KVAL, K_ARCH, 0, 0, 8, U64MAX, "'general.architecture' (index 0) has length 18446744073709551615"),
    PT("nested array", P_KVAL, K_ARR_U32, 0, 0, 4, GGUF_ARRAY, "key 'test.arr_u32' (index 13) is a nested array"),
    PT("array element type 13", P_KVAL, K_ARR_U32, 0, 0, 4, 13, "has invalid array element type 13"),
    PT("array length overflows", P_KVAL, K_ARR_U32, 0, 4, 8, 1ull << 62, "elements of type u32 overflow a 64-bit size"),
    PT("i64 array length overflows", P_KVAL, K_ARR_I64, 0, 4, 8, (U64MAX >> 3) + 1, "of type i64 overflow"),
    PT("array length beyond the file", P_KVAL, K_ARR_U32, 0, 4, 8, BIG, "is an array of 1099511627776 u32 (4398046511104 bytes)"),
    PT("string array length beyond the file", P_KVAL, K_ARR_STR, 0, 4, 8, BIG, "is an array of 1099511627776 strings"),
    PT("string array element length huge", P_KVAL, K_ARR_STR, 0, 12, 8, BIG, "string 0 of array key 'test.arr_str' (index 15) has length 1099511627776"),
    PT("bool value 2", P_KVAL, K_BOOL, 0, 0, 1, 2, "key 'test.bool' (index 9) is a bool with value 2; expected 0 or 1"),
    PT("bool value 255", P_KVAL, K_BOOL, 0, 0, 1, 255, "with value 255"),
    PT("bool array element 2", P_KVAL, K_ARR_BOOL, 0, 13, 1, 2, "bool array element 1 has value 2; expected 0 or 1"),
    VA("duplicate tensor name", V_DUP_TENSOR, FMT, "duplicate tensor name 't.f32' (indexes 0 and 3)"),
    VA("tensor name of 64 bytes", V_NAME64, FMT, "(index 3) has a name of 64 bytes; the limit is 63"),
    VA("tensor name of 63 bytes is fine", V_NAME63, ZETA_OK, NULL),
    PT("tensor name containing NUL", P_TI, T_F16, 0, 9, 1, 0, "tensor name 't\\x00f16' (index 2) contains a NUL byte"),
    PT("huge tensor name length", P_TI, T_F16, 0, 0, 8, BIG, "tensor 2 has name length 1099511627776"),
    PT("n_dims 0", P_NDIMS, T_F32, 0, 0, 4, 0, "tensor 't.f32' (index 0) has 0 dimensions; expected 1..4"),
    PT("n_dims 5", P_NDIMS, T_F32, 0, 0, 4, 5, "has 5 dimensions; expected 1..4"),
    PT("n_dims 2^32-1", P_NDIMS, T_Q4, 0, 0, 4, 0xffffffffu, "has 4294967295 dimensions"),
    PT("dimension 0", P_DIM, T_F32, 0, 0, 8, 0, "tensor 't.f32' (index 0) has dimension 0 = 0; expected 1..2^63-1"),
    PT("dimension 2^63", P_DIM, T_F32, 1, 0, 8, 1ull << 63, "has dimension 1 = 9223372036854775808; expected"),
    PT("dimension 2^64-1", P_DIM, T_Q4, 0, 0, 8, U64MAX, "has dimension 0 = 18446744073709551615"),
    VA("dimension product overflows", V_DIMS_OVF, FMT, "shape [4294967296, 4294967296] whose element count overflows"),
    VA("dimension product is 2^63", V_DIMS_2_63, FMT, "whose element count overflows (must be below 2^63)"),
    VA("byte size overflows", V_BYTES_OVF, FMT, "of type f32 and shape [4611686018427387904] has a byte size that overflows"),
    PT("type id 4 (removed q4_2)", P_TTYPE, T_F32, 0, 0, 4, 4, "tensor 't.f32' (index 0) has unknown type id 4"),
    PT("type id 5 (removed q4_3)", P_TTYPE, T_F32, 0, 0, 4, 5, "has unknown type id 5"),
    PT("type id 31", P_TTYPE, T_F16, 0, 0, 4, 31, "has unknown type id 31"),
    PT("type id 40", P_TTYPE, T_F16, 0, 0, 4, 40, "has unknown type id 40"),
    PT("type id 99", P_TTYPE, T_F16, 0, 0, 4, 99, "has unknown type id 99"),
    PT("q4_0 row of 48", P_DIM, T_Q4, 0, 0, 8, 48, "tensor 't.q4_0' (index 1) is q4_0 with 48 columns (ne[0]); q4_0 needs a multiple of the block size 32"),
    VA("q4_0 row of 16", V_Q4_NE0, FMT, "is q4_0 with 16 columns"),
    PT("f32 tensor retyped q8_0", P_TTYPE, T_F32, 0, 0, 4, ZETA_TYPE_Q8_0, "is q8_0 with 4 columns"),
    PT("offset not aligned", P_TOFF, T_Q4, 0, 0, 8, 33, "tensor 't.q4_0' (index 1) has offset 33, not a multiple of the alignment 32"),
    PT("offset 1", P_TOFF, T_F32, 0, 0, 8, 1, "has offset 1, not a multiple of the alignment 32"),
    PT("offset beyond the file", P_TOFF, T_F16, 0, 0, 8, BIG, "at data offset 1099511627776 with 16 bytes extends beyond the end of the file (the data section holds 96 bytes)"),
    PT("offset + size overflows", P_TOFF, T_F16, 0, 0, 8, U64MAX - 31, "at data offset 18446744073709551584 with 16 bytes extends beyond"),
    PT("tensor at the same offset as another", P_TOFF, T_Q4, 0, 0, 8, 0, "tensor 't.q4_0' (index 1) at data offset 0 overlaps tensor 't.f32' (index 0) at [0, 32)"),
    PT("tensor overlapping another", P_TOFF, T_F16, 0, 0, 8, 32, "tensor 't.f16' (index 2) at data offset 32 overlaps tensor 't.q4_0' (index 1) at [32, 50)"),
    VA("alignment 0", V_ALIGN0, FMT, "key 'general.alignment' is 0; expected a non-zero power of two"),
    VA("alignment 3", V_ALIGN3, FMT, "key 'general.alignment' is 3; expected a non-zero power of two"),
    VA("alignment of type i32", V_ALIGN_I32, FMT, "key 'general.alignment' has type i32; expected u32"),
    VA("alignment of type string", V_ALIGN_STR, FMT, "key 'general.alignment' has type string; expected u32"),
    VA("alignment 64 is fine", V_ALIGN64, ZETA_OK, NULL),
    {"offset 32 with alignment 64", V_ALIGN64, P_TOFF, T_Q4, 0, 0, 8, 32, 0, FMT, "has offset 32, not a multiple of the alignment 64"},
    VA("no tensors is fine", V_NO_TENSORS, ZETA_OK, NULL),
    VA("empty arrays are fine", V_EMPTY_ARRAYS, ZETA_OK, NULL),
};

static uint64_t row_pos(const gguf_writer *w, const row *r, size_t size) {
    uint64_t p = 0, ti = 0, nd = 0;
    if (r->anchor >= P_TI && r->anchor <= P_TOFF) {
        ti = gguf_writer_tensor_pos(w, (size_t)r->idx);
        nd = ti + 8 + strlen(k_tnames[r->idx]);
    }
    switch (r->anchor) {
    case P_ABS: p = 0; break;
    case P_KEY: p = gguf_writer_kv_pos(w, (size_t)r->idx); break;
    case P_KTYPE: p = gguf_writer_kv_pos(w, (size_t)r->idx) + 8 + strlen(k_keys[r->idx]); break;
    case P_KVAL: p = gguf_writer_kv_pos(w, (size_t)r->idx) + 12 + strlen(k_keys[r->idx]); break;
    case P_TI: p = ti; break;
    case P_NDIMS: p = nd; break;
    case P_DIM: p = nd + 4 + 8 * (uint64_t)r->sub; break;
    case P_TTYPE: p = nd + 4 + 8 * (uint64_t)k_tdims[r->idx]; break;
    case P_TOFF: p = nd + 8 + 8 * (uint64_t)k_tdims[r->idx]; break;
    case P_DATA: p = gguf_writer_data_offset(w); break;
    case P_END: p = size; break;
    }
    return p + (uint64_t)r->delta;
}

static const row *g_row;

static void run_row(void) {
    const row *r = g_row;
    gguf_writer *w = NULL;
    size_t size = 0;
    uint8_t *buf = build(r->variant, &w, &size);
    if (!buf) { gguf_writer_free(w); T_CHECKF(0, "%s: could not build the file", r->desc); return; }
    uint64_t pos = row_pos(w, r, size);
    T_CHECKF(pos + (uint64_t)r->width <= size, "%s: position %llu outside the file of %zu bytes", r->desc,
             (unsigned long long)pos, size);
    if (pos + (uint64_t)r->width <= size) {
        if (r->truncate) size = (size_t)pos;
        for (int i = 0; i < r->width; i++) buf[pos + (uint64_t)i] = (uint8_t)(r->value >> (8 * i));
        gguf_file *g = (gguf_file *)1;
        zeta_error e = {0};
        zeta_status st = gguf_open_memory(buf, size, "m.gguf", &g, &e);
        T_CHECKF(st == r->st, "%s: status %d, expected %d (%s)", r->desc, st, r->st, e.message);
        if (r->st != ZETA_OK) {
            T_CHECKF(g == NULL, "%s: out not NULL on failure", r->desc);
            T_CHECKF(strncmp(e.message, "m.gguf: ", 8) == 0, "%s: message does not name the file: %s", r->desc, e.message);
            T_CHECKF(r->frag && HAS(e.message, r->frag), "%s: message '%s' lacks '%s'", r->desc, e.message, r->frag);
            T_CHECKF(!strchr(e.message, '\n'), "%s: message has a newline", r->desc);
        } else {
            T_CHECKF(g && gguf_find_tensor(g, "t.f32") == (r->variant == V_NO_TENSORS ? NULL : &g->tensors[0]), "%s", r->desc);
        }
        if (st == ZETA_OK) gguf_close(g);
    }
    free(buf);
    gguf_writer_free(w);
}

/* ---------------------------------------------------------------- real files */

static const char *first_existing(const char *const *paths) {
    for (; *paths; paths++)
        if (access(*paths, R_OK) == 0) return *paths;
    return NULL;
}

static gguf_file *open_ok(const char *path, bool mmap) {
    gguf_file *g = NULL;
    zeta_error e = {0};
    zeta_status st = gguf_open(path, mmap, &g, &e);
    T_CHECKF(st == ZETA_OK && g, "%s: %s", path, e.message);
    return g;
}

static uint64_t get_u(const gguf_file *g, const char *key) {
    uint64_t v = UINT64_MAX;
    zeta_error e;
    zeta_status st = gguf_get_uint(g, key, UINT64_MAX, &v, NULL, &e);
    T_CHECKF(st == ZETA_OK, "%s: %s", key, e.message);
    return v;
}

static bool str_is(const gguf_file *g, const char *key, const char *want) {
    gguf_str s = {0};
    zeta_error e;
    if (gguf_get_string(g, key, &s, NULL, &e) != ZETA_OK) return false;
    return s.n == strlen(want) && memcmp(s.s, want, s.n) == 0;
}

static void check_contiguous_end(const gguf_file *g) {
    uint64_t end = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        if (t->offset + t->n_bytes > end) end = t->offset + t->n_bytes;
    }
    T_CHECKF(g->data_offset + end == g->size, "data end %llu != size %llu", (unsigned long long)(g->data_offset + end),
             (unsigned long long)g->size);
}

static void gguf_real_stories260k(void) {
    static const char *const paths[] = {"tests/data/models/stories260K.gguf", "models/stories260K.gguf",
                                        "../shared/models/stories260K.gguf", NULL};
    const char *path = first_existing(paths);
    if (!path) T_SKIP("stories260K.gguf not found");
    gguf_file *g = open_ok(path, true);
    if (!g) return;
    T_CHECK(g->version == 3 && g->n_tensors == 48 && g->n_kv == 19 && g->alignment == 32);
    T_CHECK(g->data_offset == 14176 && g->size == 1185376 && g->mapping == 1);
    T_CHECK(str_is(g, "general.architecture", "llama") && str_is(g, "tokenizer.ggml.model", "llama"));
    T_CHECK(get_u(g, "llama.embedding_length") == 64 && get_u(g, "llama.block_count") == 5);
    T_CHECK(get_u(g, "llama.attention.head_count_kv") == 4 && get_u(g, "llama.feed_forward_length") == 172);
    T_CHECK(get_u(g, "tokenizer.ggml.seperator_token_id") == 4294967295u);
    zeta_error e;
    uint64_t v;
    T_CHECK(gguf_get_uint(g, "tokenizer.ggml.seperator_token_id", INT32_MAX, &v, NULL, &e) == ZETA_ERR_FORMAT &&
            HAS(e.message, "'tokenizer.ggml.seperator_token_id' is 4294967295; expected 0..2147483647"));
    float eps = 0;
    T_CHECK(gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &eps, NULL, &e) == ZETA_OK && eps == 1e-5f);
    const gguf_kv *tok = NULL, *scores = NULL, *types = NULL;
    T_CHECK(gguf_get_array(g, "tokenizer.ggml.tokens", GGUF_STRING, &tok, NULL, &e) == ZETA_OK && tok && tok->n == 512);
    if (tok) T_CHECK(tok->strs[1].n == 3 && memcmp(tok->strs[1].s, "<s>", 3) == 0);
    T_CHECK(gguf_get_array(g, "tokenizer.ggml.scores", GGUF_FLOAT32, &scores, NULL, &e) == ZETA_OK && scores->n == 512);
    T_CHECK(gguf_get_array(g, "tokenizer.ggml.token_type", GGUF_INT32, &types, NULL, &e) == ZETA_OK && types->n == 512);
    if (types) T_CHECK(gguf_array_i64(types, 0) == 2 && gguf_array_i64(types, 1) == 3 && gguf_array_i64(types, 3) == 6);
    const gguf_tensor *t = gguf_find_tensor(g, "blk.0.ffn_down.weight");
    T_CHECK(t && t->n_dims == 2 && t->ne[0] == 172 && t->ne[1] == 64 && t->ne[2] == 1 && t->type == ZETA_TYPE_F32);
    if (t) T_CHECK(t->offset == 355840 && t->n_bytes == 172 * 64 * 4 && t->data == g->base + 14176 + 355840);
    T_CHECK(strcmp(g->tensors[0].name, "token_embd.weight") == 0 && g->tensors[0].n_elements == 64 * 512);
    check_contiguous_end(g);
    /* the read (non-mmap) path sees the same bytes */
    gguf_file *h = open_ok(path, false);
    if (h && t) {
        const gguf_tensor *u = gguf_find_tensor(h, "blk.0.ffn_down.weight");
        T_CHECK(h->mapping == 0 && u && memcmp(u->data, t->data, t->n_bytes) == 0);
    }
    gguf_close(h);
    gguf_close(g);
}

static void gguf_real_llama2_tiny_random(void) {
    const char *path = "tests/data/models/llama-2-tiny-random.gguf";
    if (access(path, R_OK) != 0) T_SKIP("%s not found", path);
    gguf_file *g = open_ok(path, true);
    if (!g) return;
    T_CHECK(g->version == 3 && g->n_tensors == 12 && g->n_kv == 18 && g->data_offset == 724416);
    T_CHECK(str_is(g, "general.name", "LLaMA v2") && get_u(g, "general.file_type") == 1);
    T_CHECK(get_u(g, "llama.context_length") == 4096 && get_u(g, "llama.embedding_length") == 8);
    const gguf_kv *tok = gguf_find(g, "tokenizer.ggml.tokens");
    T_CHECK(tok && tok->type == GGUF_ARRAY && tok->arr_type == GGUF_STRING && tok->n == 32000);
    const gguf_tensor *t = gguf_find_tensor(g, "token_embd.weight");
    T_CHECK(t && t->type == ZETA_TYPE_F16 && t->ne[0] == 8 && t->ne[1] == 32000 && t->offset == 0 && t->n_bytes == 512000);
    t = gguf_find_tensor(g, "output.weight");
    T_CHECK(t && t->offset == 514144 && t == &g->tensors[11]);
    t = gguf_find_tensor(g, "blk.0.ffn_norm.weight");
    T_CHECK(t && t->type == ZETA_TYPE_F32 && t->n_dims == 1 && t->n_bytes == 32);
    T_CHECK(gguf_find_tensor(g, "blk.1.ffn_norm.weight") == NULL);
    check_contiguous_end(g);
    gguf_close(g);
}

static void gguf_real_gpt2_vocab(void) {
    const char *path = "tests/data/vocab/ggml-vocab-gpt-2.gguf";
    if (access(path, R_OK) != 0) T_SKIP("%s not found", path);
    gguf_file *g = open_ok(path, false);
    if (!g) return;
    T_CHECK(g->n_tensors == 0 && g->n_kv == 16 && g->data_offset == g->size && g->size == 1766807);
    T_CHECK(str_is(g, "tokenizer.ggml.model", "gpt2") && str_is(g, "tokenizer.ggml.pre", "gpt-2"));
    T_CHECK(get_u(g, "tokenizer.ggml.bos_token_id") == 50256 && get_u(g, "gpt2.context_length") == 1024);
    zeta_error e;
    const gguf_kv *tok = NULL, *merges = NULL;
    T_CHECK(gguf_get_array(g, "tokenizer.ggml.tokens", GGUF_STRING, &tok, NULL, &e) == ZETA_OK && tok->n == 50257);
    T_CHECK(gguf_get_array(g, "tokenizer.ggml.merges", GGUF_STRING, &merges, NULL, &e) == ZETA_OK && merges->n == 50000);
    if (merges) T_CHECK(merges->strs[0].n == 4 && memcmp(merges->strs[0].s, "\xc4\xa0 t", 4) == 0);
    if (tok) T_CHECK(tok->strs[0].n == 1 && tok->strs[0].s[0] == '!');
    gguf_close(g);
}

static void gguf_v1_rejected(void) {
    const char *path = "tests/data/models/tinyllamas-stories-260k-f32.gguf";
    if (access(path, R_OK) != 0) T_SKIP("%s not found", path);
    gguf_file *g = (gguf_file *)1;
    zeta_error e = {0};
    T_CHECK(gguf_open(path, true, &g, &e) == ZETA_ERR_FORMAT && g == NULL);
    T_CHECKF(HAS(e.message, "v1") && HAS(e.message, path) && HAS(e.message, "re-convert"), "%s", e.message);
}

static void gguf_open_errors(void) {
    gguf_file *g = (gguf_file *)1;
    zeta_error e = {0};
    const char *missing = "tests/data/models/no-such-model.gguf";
    T_CHECK(gguf_open(missing, true, &g, &e) == ZETA_ERR_IO && g == NULL && e.status == ZETA_ERR_IO);
    T_CHECKF(HAS(e.message, missing) && HAS(e.message, "No such file"), "%s", e.message);
    T_CHECK(gguf_open("tests", true, &g, &e) == ZETA_ERR_IO && HAS(e.message, "not a regular file"));
    char path[64];
    snprintf(path, sizeof path, "/tmp/zeta_test_gguf_empty_%d.gguf", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (f) fclose(f);
    T_CHECKF(gguf_open(path, true, &g, &e) == ZETA_ERR_FORMAT && HAS(e.message, "empty"), "%s", e.message);
    unlink(path);
    T_CHECK(gguf_open(NULL, true, &g, &e) == ZETA_ERR_INVALID_ARGUMENT);
    T_CHECK(gguf_open_memory(NULL, 5, "x", &g, &e) == ZETA_ERR_INVALID_ARGUMENT);
    gguf_close(NULL);
}

/* ---------------------------------------------------------------- round trips and getters */

static void gguf_roundtrip_values(void) {
    gguf_writer *w = NULL;
    size_t size = 0;
    uint8_t *buf = build(V_BASE, &w, &size);
    gguf_file *g = NULL;
    zeta_error e = {0};
    T_CHECKF(buf && gguf_open_memory(buf, size, NULL, &g, &e) == ZETA_OK, "%s", e.message);
    if (!g) { free(buf); gguf_writer_free(w); return; }
    T_CHECK(g->n_kv == K_COUNT && g->n_tensors == T_COUNT && g->version == 3 && g->mapping == -1);
    T_CHECK(strcmp(g->path, "<memory>") == 0 && g->data_offset == gguf_writer_data_offset(w) && g->data_offset % 32 == 0);
    for (int i = 0; i < K_COUNT; i++) T_CHECKF(strcmp(g->kv[i].key, k_keys[i]) == 0, "key %d", i);
    uint64_t u;
    float f;
    bool b, found = true;
    gguf_str s;
    char txt[64];
    T_CHECK(str_is(g, "general.architecture", "llama") && str_is(g, "test.str", "hello, world"));
    T_CHECK(get_u(g, "test.u8") == 200 && get_u(g, "test.u16") == 60000 && get_u(g, "test.u32") == 4000000000u);
    T_CHECK(get_u(g, "test.u64") == (1ull << 40) + 7);
    T_CHECK(gguf_array_i64(gguf_find(g, "test.i8"), 0) == -100 && gguf_array_i64(gguf_find(g, "test.i16"), 0) == -30000);
    T_CHECK(gguf_array_i64(gguf_find(g, "test.i32"), 0) == -2000000000 && gguf_array_i64(gguf_find(g, "test.i64"), 0) == -(1ll << 40));
    T_CHECK(gguf_array_f64(gguf_find(g, "test.f64"), 0) == -1.5e300);
    T_CHECK(gguf_get_float(g, "test.f32", &f, NULL, &e) == ZETA_OK && f == 0.25f);
    T_CHECK(gguf_get_float(g, "test.i16", &f, NULL, &e) == ZETA_OK && f == -30000.0f);
    T_CHECK(gguf_get_bool(g, "test.bool", &b, NULL, &e) == ZETA_OK && b);
    /* getter errors */
    T_CHECKF(gguf_get_uint(g, "test.i8", 1000, &u, NULL, &e) == ZETA_ERR_FORMAT && HAS(e.message, "'test.i8' is -100; expected 0..1000"), "%s", e.message);
    T_CHECK(gguf_get_uint(g, "test.u16", 100, &u, NULL, &e) == ZETA_ERR_FORMAT && HAS(e.message, "is 60000; expected 0..100"));
    T_CHECKF(gguf_get_uint(g, "test.str", 100, &u, NULL, &e) == ZETA_ERR_FORMAT && HAS(e.message, "'test.str' has type string; expected an unsigned integer"), "%s", e.message);
    T_CHECKF(gguf_get_float(g, "test.f64", &f, NULL, &e) == ZETA_ERR_FORMAT && HAS(e.message, "expected a finite"), "%s", e.message);
    T_CHECK(gguf_get_bool(g, "test.u8", &b, NULL, &e) == ZETA_ERR_FORMAT && HAS(e.message, "has type u8; expected bool"));
    T_CHECK(gguf_get_string(g, "test.arr_str", &s, NULL, &e) == ZETA_ERR_FORMAT && HAS(e.message, "is an array of string; expected string"));
    T_CHECK(gguf_get_uint(g, "no.such.key", 9, &u, &found, &e) == ZETA_OK && !found);
    T_CHECK(gguf_get_uint(g, "no.such.key", 9, &u, NULL, &e) == ZETA_ERR_FORMAT && HAS(e.message, "<memory>: missing key 'no.such.key'"));
    /* arrays */
    const gguf_kv *a = NULL;
    T_CHECK(gguf_get_array(g, "test.arr_u32", GGUF_UINT32, &a, NULL, &e) == ZETA_OK && a->n == 4 && gguf_array_i64(a, 3) == 4);
    T_CHECK(gguf_get_array(g, "test.arr_u32", GGUF_INT32, &a, NULL, &e) == ZETA_OK);
    T_CHECKF(gguf_get_array(g, "test.arr_i64", GGUF_INT32, &a, NULL, &e) == ZETA_ERR_FORMAT &&
             HAS(e.message, "'test.arr_i64' element 2 is 1099511627776, which does not fit in i32"), "%s", e.message);
    T_CHECK(gguf_get_array(g, "test.arr_i64", GGUF_UINT32, &a, NULL, &e) == ZETA_ERR_FORMAT && HAS(e.message, "element 0 is -1"));
    T_CHECK(gguf_get_array(g, "test.arr_i64", GGUF_INT64, &a, NULL, &e) == ZETA_OK && gguf_array_i64(a, 2) == 1ll << 40);
    T_CHECK(gguf_get_array(g, "test.arr_f32", GGUF_INT32, &a, NULL, &e) == ZETA_ERR_FORMAT && HAS(e.message, "is an array of f32; expected an array of i32"));
    T_CHECK(gguf_get_array(g, "test.arr_f32", GGUF_FLOAT32, &a, NULL, &e) == ZETA_OK && gguf_array_f64(a, 1) == -2.0);
    T_CHECK(gguf_get_array(g, "test.u8", GGUF_UINT8, &a, NULL, &e) == ZETA_ERR_FORMAT && HAS(e.message, "has type u8; expected an array of u8"));
    T_CHECK(gguf_get_array(g, "test.arr_bool", GGUF_BOOL, &a, NULL, &e) == ZETA_OK && a->n == 3 && a->data[0] == 1 && a->data[1] == 0);
    T_CHECK(gguf_get_array(g, "test.arr_str", GGUF_STRING, &a, NULL, &e) == ZETA_OK && a->n == 4);
    for (int i = 0; a && i < 4; i++) T_CHECK(a->strs[i].n == strlen(arr_str[i]) && memcmp(a->strs[i].s, arr_str[i], a->strs[i].n) == 0);
    /* text rendering */
    static const struct { const char *key, *text; } texts[] = {
        {"test.u8", "200"}, {"test.i8", "-100"}, {"test.f32", "0.25"}, {"test.bool", "true"}, {"test.u64", "1099511627783"},
        {"test.i64", "-1099511627776"}, {"test.f64", "-1.5e+300"}, {"test.arr_str", "[4 items]"}, {"test.str", "hello, world"}};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t n = gguf_kv_to_string(gguf_find(g, texts[i].key), txt, sizeof txt);
        T_CHECKF(n == strlen(texts[i].text) && strcmp(txt, texts[i].text) == 0, "%s -> '%s'", texts[i].key, txt);
    }
    T_CHECK(gguf_kv_to_string(gguf_find(g, "test.str"), txt, 6) == 12 && strcmp(txt, "hello") == 0);
    T_CHECK(gguf_kv_to_string(gguf_find(g, "test.u32"), NULL, 0) == 10);
    T_CHECK(strcmp(gguf_vtype_name(GGUF_FLOAT64), "f64") == 0 && strcmp(gguf_vtype_name((gguf_vtype)77), "invalid") == 0);
    /* tensors */
    const void *datas[T_COUNT] = {data_f32, data_q4, data_f16};
    const uint64_t bytes[T_COUNT] = {32, 18, 16};
    for (int i = 0; i < T_COUNT; i++) {
        const gguf_tensor *t = gguf_find_tensor(g, k_tnames[i]);
        T_CHECKF(t == &g->tensors[i] && t->n_dims == k_tdims[i] && t->n_bytes == bytes[i] && t->offset == gguf_writer_tensor_offset(w, (size_t)i) &&
                 memcmp(t->data, datas[i], bytes[i]) == 0, "tensor %d", i);
    }
    T_CHECK(g->tensors[0].ne[0] == 4 && g->tensors[0].ne[1] == 2 && g->tensors[0].ne[3] == 1 && g->tensors[0].n_elements == 8);
    T_CHECK(g->tensors[1].type == ZETA_TYPE_Q4_0 && g->tensors[1].n_elements == 32 && g->tensors[1].offset == 32);
    gguf_close(g);
    free(buf);
    gguf_writer_free(w);
}

/* Copies every key and tensor of g into a new writer and serialises it. */
static uint8_t *copy_file(const gguf_file *g, size_t *size) {
    gguf_writer *w = NULL;
    uint8_t *buf = NULL;
    OKW(gguf_writer_new(&w, &e_));
    if (!w) return NULL;
    for (uint64_t i = 0; i < g->n_kv; i++) OKW(gguf_writer_add_kv(w, &g->kv[i], &e_));
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        OKW(gguf_writer_add_tensor(w, t->name, t->n_dims, t->ne, t->type, t->data, t->n_bytes, &e_));
    }
    OKW(gguf_writer_write_memory(w, &buf, size, &e_));
    gguf_writer_free(w);
    return buf;
}

/* The writer reproduces files made by llama.cpp byte for byte (same layout rules). */
static void gguf_writer_reproduces_real_files(void) {
    static const char *const paths[] = {
        "tests/data/models/llama-2-tiny-random.gguf", "tests/data/models/stories260K-Q4_0.gguf",
        "tests/data/models/stories260K-Q8_0.gguf", "tests/data/models/stories260K-BF16.gguf",
        "tests/data/models/synth-qwen3-Q4_0.gguf", "tests/data/models/synth-llama3-Q8_0.gguf",
        "tests/data/models/zoo-Q2_K.gguf", "tests/data/models/zoo-Q3_K_S.gguf", "tests/data/models/zoo-Q6_K.gguf",
        "tests/data/models/zoo-IQ4_XS.gguf", "tests/data/models/zoo-Q5_1.gguf", "tests/data/vocab/ggml-vocab-gpt-2.gguf",
        "tests/data/vocab/ggml-vocab-llama-spm.gguf", NULL};
    int done = 0;
    for (int i = 0; paths[i]; i++) {
        if (access(paths[i], R_OK) != 0) continue;
        gguf_file *g = open_ok(paths[i], true);
        if (!g) continue;
        size_t size = 0;
        uint8_t *copy = copy_file(g, &size);
        /* files without tensors may lack the header padding; ours always has it */
        bool same = copy && size >= g->size && memcmp(copy, g->base, (size_t)g->size) == 0;
        for (size_t k = (size_t)g->size; same && k < size; k++) same = copy[k] == 0;
        T_CHECKF(same && size - g->size < g->alignment, "%s: copy differs (%zu vs %llu bytes)", paths[i], size, (unsigned long long)g->size);
        free(copy);
        gguf_close(g);
        done++;
    }
    if (!done) T_SKIP("no real files found");
}

static void gguf_writer_file_roundtrip(void) {
    gguf_writer *w = NULL;
    size_t size = 0;
    uint8_t *buf = build(V_ALIGN64, &w, &size);
    char path[64];
    snprintf(path, sizeof path, "/tmp/zeta_test_gguf_%d.gguf", (int)getpid());
    zeta_error e = {0};
    T_CHECKF(gguf_writer_write_file(w, path, &e) == ZETA_OK, "%s", e.message);
    size_t n = 0;
    char *disk = t_read_file(path, &n);
    T_CHECK(disk && buf && n == size && memcmp(disk, buf, size) == 0 && size == gguf_writer_file_size(w));
    for (int mm = 0; mm < 2; mm++) {
        gguf_file *g = open_ok(path, mm == 1);
        T_CHECK(g && g->alignment == 64 && g->data_offset % 64 == 0 && g->tensors[1].offset == 64 && get_u(g, "general.alignment") == 64);
        gguf_close(g);
    }
    T_CHECK(gguf_writer_write_file(w, "/nonexistent-dir/x.gguf", &e) == ZETA_ERR_IO && HAS(e.message, "/nonexistent-dir/x.gguf"));
    unlink(path);
    free(disk);
    free(buf);
    gguf_writer_free(w);
}

static void gguf_writer_validation(void) {
    gguf_writer *w = NULL;
    zeta_error e = {0};
    const uint64_t ne16[1] = {16}, ne32[1] = {32}, ne8[5] = {8, 1, 1, 1, 1};
    const uint8_t bad_bools[2] = {0, 2};
    OKW(gguf_writer_new(&w, &e_));
    if (!w) return;
    OKW(gguf_writer_add_u32(w, "a", 1, &e_));
    T_CHECK(gguf_writer_add_u32(w, "a", 2, &e) == ZETA_ERR_INVALID_ARGUMENT && HAS(e.message, "duplicate key 'a'"));
    T_CHECK(gguf_writer_add_u32(w, "", 2, &e) == ZETA_ERR_INVALID_ARGUMENT && HAS(e.message, "empty key"));
    T_CHECK(gguf_writer_set_alignment(w, 3, &e) == ZETA_ERR_INVALID_ARGUMENT && HAS(e.message, "alignment 3"));
    T_CHECK(gguf_writer_set_alignment(w, 0, &e) == ZETA_ERR_INVALID_ARGUMENT);
    T_CHECK(gguf_writer_add_i32(w, "general.alignment", 32, &e) == ZETA_ERR_INVALID_ARGUMENT);
    T_CHECK(gguf_writer_add_u32(w, "general.alignment", 48, &e) == ZETA_ERR_INVALID_ARGUMENT);
    T_CHECK(gguf_writer_add_array(w, "b", GGUF_BOOL, bad_bools, 2, &e) == ZETA_ERR_INVALID_ARGUMENT);
    T_CHECK(gguf_writer_add_array(w, "n", GGUF_ARRAY, bad_bools, 2, &e) == ZETA_ERR_INVALID_ARGUMENT);
    T_CHECK(gguf_writer_add_tensor(w, "q", 1, ne16, ZETA_TYPE_Q4_0, NULL, 9, &e) == ZETA_ERR_INVALID_ARGUMENT && HAS(e.message, "multiple of 32"));
    T_CHECK(gguf_writer_add_tensor(w, "q", 1, ne32, ZETA_TYPE_Q4_0, NULL, 20, &e) == ZETA_ERR_INVALID_ARGUMENT && HAS(e.message, "needs 18"));
    T_CHECK(gguf_writer_add_tensor(w, "q", 1, ne32, 4, NULL, 18, &e) == ZETA_ERR_INVALID_ARGUMENT && HAS(e.message, "unknown type 4"));
    T_CHECK(gguf_writer_add_tensor(w, "q", 5, ne8, ZETA_TYPE_F32, NULL, 32, &e) == ZETA_ERR_INVALID_ARGUMENT);
    T_CHECK(gguf_writer_add_tensor(w, "", 1, ne8, ZETA_TYPE_F32, NULL, 32, &e) == ZETA_ERR_INVALID_ARGUMENT);
    OKW(gguf_writer_add_tensor(w, "q", 1, ne32, ZETA_TYPE_Q4_0, NULL, 18, &e_));
    T_CHECK(gguf_writer_add_tensor(w, "q", 1, ne32, ZETA_TYPE_Q4_0, NULL, 18, &e) == ZETA_ERR_INVALID_ARGUMENT && HAS(e.message, "duplicate tensor"));
    OKW(gguf_writer_set_alignment(w, 16, &e_));
    uint8_t *buf = NULL;
    size_t size = 0;
    OKW(gguf_writer_write_memory(w, &buf, &size, &e_));
    gguf_file *g = NULL;
    T_CHECKF(gguf_open_memory(buf, size, "v.gguf", &g, &e) == ZETA_OK, "%s", e.message);
    T_CHECK(g && g->n_kv == 2 && g->alignment == 16 && g->n_tensors == 1 && g->data_offset % 16 == 0);
    gguf_close(g);
    free(buf);
    gguf_writer_free(w);
    gguf_writer_free(NULL);
}

/* Every prefix of a valid file fails cleanly until the last tensor's data is complete. */
static void gguf_truncate_every_byte(void) {
    gguf_writer *w = NULL;
    size_t size = 0;
    uint8_t *buf = build(V_BASE, &w, &size);
    if (!buf) { gguf_writer_free(w); return; }
    size_t need = (size_t)gguf_writer_data_offset(w) + 80;
    int bad = 0;
    for (size_t n = 0; n <= size; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact-size copy so ASan sees any over-read */
        memcpy(copy, buf, n);
        gguf_file *g = NULL;
        zeta_error e = {0};
        zeta_status st = gguf_open_memory(copy, n, "t.gguf", &g, &e);
        bool ok = n >= need ? st == ZETA_OK : (st == ZETA_ERR_FORMAT && g == NULL && strncmp(e.message, "t.gguf: ", 8) == 0);
        if (!ok && bad++ < 3) T_CHECKF(0, "prefix %zu: status %d: %s", n, st, e.message);
        gguf_close(g);
        free(copy);
    }
    free(buf);
    gguf_writer_free(w);
}

/* Flipping any single header byte never crashes and gives OK or FORMAT. */
static void gguf_flip_every_header_byte(void) {
    gguf_writer *w = NULL;
    size_t size = 0;
    uint8_t *buf = build(V_BASE, &w, &size);
    if (!buf) { gguf_writer_free(w); return; }
    size_t hdr = (size_t)gguf_writer_data_offset(w);
    static const uint8_t masks[3] = {0xff, 0x80, 0x01};
    for (size_t i = 0; i < hdr; i++) {
        for (int m = 0; m < 3; m++) {
            buf[i] ^= masks[m];
            gguf_file *g = NULL;
            zeta_error e = {0};
            zeta_status st = gguf_open_memory(buf, size, "f.gguf", &g, &e);
            if (st != ZETA_OK && st != ZETA_ERR_FORMAT) T_CHECKF(0, "byte %zu mask %02x: status %d: %s", i, masks[m], st, e.message);
            gguf_close(g);
            buf[i] ^= masks[m];
        }
    }
    free(buf);
    gguf_writer_free(w);
}

/* a file larger than physical memory (sparse: it costs no disk) is refused before the read
 * allocates, with the size needed; mmap'ing it is fine (then the header is what fails) */
static void gguf_too_big_for_memory_refused_up_front(void) {
    const uint64_t phys = zeta_physical_memory();
    if (!phys) T_SKIP("physical memory unknown");
    char path[] = "/tmp/zeta-test-huge-XXXXXX";
    int fd = mkstemp(path);
    T_CHECK(fd >= 0);
    if (fd < 0) return;
    static const char magic[] = "GGUF\x03\0\0\0";
    T_CHECK(write(fd, magic, 8) == 8);
    if (ftruncate(fd, (off_t)(phys + ((uint64_t)1 << 30))) != 0) {
        close(fd);
        unlink(path);
        T_SKIP("cannot make a sparse file of %llu MiB here", (unsigned long long)(phys >> 20) + 1024);
    }
    close(fd);
    gguf_file *g = NULL;
    zeta_error err;
    T_CHECK(gguf_open(path, false, &g, &err) == ZETA_ERR_OUT_OF_MEMORY && g == NULL);
    T_CHECKF(strstr(err.message, "MiB but this machine has") != NULL, "%s", err.message);
    unlink(path);
}

int main(void) {
    T_RUN(gguf_too_big_for_memory_refused_up_front);
    T_RUN(gguf_real_stories260k);
    T_RUN(gguf_real_llama2_tiny_random);
    T_RUN(gguf_real_gpt2_vocab);
    T_RUN(gguf_v1_rejected);
    T_RUN(gguf_open_errors);
    T_RUN(gguf_roundtrip_values);
    T_RUN(gguf_writer_reproduces_real_files);
    T_RUN(gguf_writer_file_roundtrip);
    T_RUN(gguf_writer_validation);
    T_RUN(gguf_truncate_every_byte);
    T_RUN(gguf_flip_every_header_byte);
    char name[160];
    for (size_t i = 0; i < sizeof k_rows / sizeof k_rows[0]; i++) {
        g_row = &k_rows[i];
        snprintf(name, sizeof name, "gguf_malformed: %s", k_rows[i].desc);
        t_run(name, run_row);
    }
    return t_done();
}
