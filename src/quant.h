/* quant.h — the type table and, per GGUF type, the on-disk block layout and the scalar reference
 * conversions (the spec every SIMD / GPU kernel is tested against). Dequantization is bit-exact
 * with ggml; quantization produces the same bytes as ggml's reference quantizers. */
#ifndef ZETA_QUANT_H
#define ZETA_QUANT_H

#include "zeta.h"
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct zeta_type_traits {
    const char *name;          /* "q4_0" */
    uint32_t block_size;       /* elements per block */
    uint32_t type_size;        /* bytes per block */
    bool is_quantized;
} zeta_type_traits;

/* NULL for ids that are not GGUF types. */
const zeta_type_traits *zeta_type_get(uint32_t type);
/* Bytes of a row of n elements (n must be a multiple of the block size). */
uint64_t zeta_row_bytes(zeta_type type, uint64_t n);

/* ---- half precision ---- */
typedef uint16_t zeta_f16;
typedef uint16_t zeta_bf16;

static inline float zeta_bits_to_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t zeta_f32_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

float zeta_f16_to_f32(zeta_f16 h);          /* exact */
zeta_f16 zeta_f32_to_f16(float f);          /* round to nearest even, as ggml (F16C semantics) */
static inline float zeta_bf16_to_f32(zeta_bf16 h) { return zeta_bits_to_f32((uint32_t)h << 16); }
zeta_bf16 zeta_f32_to_bf16(float f);        /* round to nearest even, NaN kept quiet, as ggml */

/* ---- blocks ---- */
#define QK4_0 32
typedef struct { zeta_f16 d; uint8_t qs[QK4_0 / 2]; } block_q4_0;
#define QK8_0 32
typedef struct { zeta_f16 d; int8_t qs[QK8_0]; } block_q8_0;
_Static_assert(sizeof(block_q4_0) == 18, "block_q4_0 size");
_Static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");

/* ---- scalar reference conversions (n = elements, a multiple of the block size) ---- */
void zeta_dequantize_row(zeta_type type, const void *src, float *dst, int64_t n); /* F32/F16/BF16/Q8_0/Q4_0 */
void dequantize_row_q4_0(const block_q4_0 *x, float *y, int64_t n);
void dequantize_row_q8_0(const block_q8_0 *x, float *y, int64_t n);
void quantize_row_q4_0_ref(const float *x, block_q4_0 *y, int64_t n);
void quantize_row_q8_0_ref(const float *x, block_q8_0 *y, int64_t n);
/* true if the CPU engine can use weights of this type today */
bool zeta_type_supported(zeta_type type);

#endif
