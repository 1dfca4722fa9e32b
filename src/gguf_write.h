/* gguf_write.h — builds GGUF v3 files: metadata of every value type, tensors, alignment; writes
 * header + aligned data to memory or to a path. Used by `zeta quantize`, synthetic models and tests.
 *
 * Usage: gguf_writer_new, gguf_writer_add_* (keys in the order they should appear), then
 * gguf_writer_add_tensor (data is referenced, not copied: it must stay valid until written), then
 * gguf_writer_write_memory or gguf_writer_write_file. Layout follows ggml: the data section starts
 * at the header end rounded up to the alignment, each tensor starts at an aligned offset and is
 * followed by zero padding up to the next multiple of the alignment.
 *
 * Validation: by default the writer refuses what a reader would reject (empty or duplicate keys,
 * bad alignment, duplicate or over-long tensor names, bad shapes, unknown types, a size that does
 * not match the shape) with ZETA_ERR_INVALID_ARGUMENT. Raw mode (gguf_writer_set_raw) turns these
 * checks off so tests can produce deliberately malformed files; the layout hooks at the bottom
 * tell where each record landed so tests can patch bytes. */
#ifndef ZETA_GGUF_WRITE_H
#define ZETA_GGUF_WRITE_H

#include "gguf.h"

typedef struct gguf_writer gguf_writer;

zeta_status gguf_writer_new(gguf_writer **out, zeta_error *err);
void gguf_writer_free(gguf_writer *w);

/* Raw mode: skip validation (for tests). In raw mode a tensor's size is taken as given. */
void gguf_writer_set_raw(gguf_writer *w, bool raw);

/* Sets the data alignment (default 32) and adds or updates the u32 key general.alignment.
 * Must be a power of two outside raw mode; in raw mode 0 lays the data out unaligned. */
zeta_status gguf_writer_set_alignment(gguf_writer *w, uint32_t alignment, zeta_error *err);

zeta_status gguf_writer_add_u8(gguf_writer *w, const char *key, uint8_t v, zeta_error *err);
zeta_status gguf_writer_add_i8(gguf_writer *w, const char *key, int8_t v, zeta_error *err);
zeta_status gguf_writer_add_u16(gguf_writer *w, const char *key, uint16_t v, zeta_error *err);
zeta_status gguf_writer_add_i16(gguf_writer *w, const char *key, int16_t v, zeta_error *err);
zeta_status gguf_writer_add_u32(gguf_writer *w, const char *key, uint32_t v, zeta_error *err);
zeta_status gguf_writer_add_i32(gguf_writer *w, const char *key, int32_t v, zeta_error *err);
zeta_status gguf_writer_add_f32(gguf_writer *w, const char *key, float v, zeta_error *err);
zeta_status gguf_writer_add_bool(gguf_writer *w, const char *key, bool v, zeta_error *err);
zeta_status gguf_writer_add_u64(gguf_writer *w, const char *key, uint64_t v, zeta_error *err);
zeta_status gguf_writer_add_i64(gguf_writer *w, const char *key, int64_t v, zeta_error *err);
zeta_status gguf_writer_add_f64(gguf_writer *w, const char *key, double v, zeta_error *err);
zeta_status gguf_writer_add_string(gguf_writer *w, const char *key, const char *s, zeta_error *err);
zeta_status gguf_writer_add_string_n(gguf_writer *w, const char *key, const char *s, uint64_t n, zeta_error *err);
/* Array of n numbers or bools of type elem, in host memory layout (bool: one byte each, 0/1). */
zeta_status gguf_writer_add_array(gguf_writer *w, const char *key, gguf_vtype elem, const void *data, uint64_t n,
                                  zeta_error *err);
/* Array of n NUL-terminated strings / of n counted strings. */
zeta_status gguf_writer_add_string_array(gguf_writer *w, const char *key, const char *const *strs, uint64_t n,
                                         zeta_error *err);
zeta_status gguf_writer_add_strs(gguf_writer *w, const char *key, const gguf_str *strs, uint64_t n, zeta_error *err);
/* Copies a key-value pair read by gguf.c (any type) under its own key. */
zeta_status gguf_writer_add_kv(gguf_writer *w, const gguf_kv *kv, zeta_error *err);

/* Tensor of n_dims dims ne[0..n_dims) (ggml order, ne[0] = row length) and zeta_type `type`;
 * `size` bytes at `data` (NULL writes zeros). Outside raw mode size must equal the shape's size. */
zeta_status gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                                   const void *data, uint64_t size, zeta_error *err);

/* Serialises the whole file into a malloc'ed buffer (caller frees with free()). */
zeta_status gguf_writer_write_memory(gguf_writer *w, uint8_t **out, size_t *size, zeta_error *err);
/* Writes the file to path (created or truncated). */
zeta_status gguf_writer_write_file(gguf_writer *w, const char *path, zeta_error *err);

/* Layout hooks, valid after a successful write (UINT64_MAX for an index out of range):
 * byte position of key i's length field, of tensor info i's name length field, tensor i's offset
 * relative to the data section, the start of the data section, and the total file size. */
uint64_t gguf_writer_kv_pos(const gguf_writer *w, size_t i);
uint64_t gguf_writer_tensor_pos(const gguf_writer *w, size_t i);
uint64_t gguf_writer_tensor_offset(const gguf_writer *w, size_t i);
uint64_t gguf_writer_data_offset(const gguf_writer *w);
uint64_t gguf_writer_file_size(const gguf_writer *w);

#endif
