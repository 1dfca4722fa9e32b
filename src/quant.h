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

/* 32-element blocks with a minimum / fifth bit / non-linear codebook (quant_legacy.c) */
typedef struct { zeta_f16 d; zeta_f16 m; uint8_t qs[16]; } block_q4_1;
typedef struct { zeta_f16 d; uint8_t qh[4]; uint8_t qs[16]; } block_q5_0;
typedef struct { zeta_f16 d; zeta_f16 m; uint8_t qh[4]; uint8_t qs[16]; } block_q5_1;
typedef struct { zeta_f16 d; zeta_f16 s; int8_t qs[32]; } block_q8_1;    /* s = d * sum(qs) */
typedef struct { zeta_f16 d; uint8_t qs[16]; } block_iq4_nl;
_Static_assert(sizeof(block_q4_1) == 20, "block_q4_1 size");
_Static_assert(sizeof(block_q5_0) == 22, "block_q5_0 size");
_Static_assert(sizeof(block_q5_1) == 24, "block_q5_1 size");
_Static_assert(sizeof(block_q8_1) == 36, "block_q8_1 size");
_Static_assert(sizeof(block_iq4_nl) == 18, "block_iq4_nl size");

/* 256-element super-blocks (quant_k.c, quant_iq.c) */
#define QK_K 256
typedef struct { uint8_t scales[16]; uint8_t qs[64]; zeta_f16 d; zeta_f16 dmin; } block_q2_K;
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; zeta_f16 d; } block_q3_K;
typedef struct { zeta_f16 d; zeta_f16 dmin; uint8_t scales[12]; uint8_t qs[128]; } block_q4_K;
typedef struct { zeta_f16 d; zeta_f16 dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } block_q5_K;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; zeta_f16 d; } block_q6_K;
typedef struct { float d; int8_t qs[256]; int16_t bsums[16]; } block_q8_K;
typedef struct { zeta_f16 d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; } block_iq4_xs;
_Static_assert(sizeof(block_q2_K) == 84, "block_q2_K size");
_Static_assert(sizeof(block_q3_K) == 110, "block_q3_K size");
_Static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");
_Static_assert(sizeof(block_q5_K) == 176, "block_q5_K size");
_Static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");
_Static_assert(sizeof(block_q8_K) == 292, "block_q8_K size");
_Static_assert(sizeof(block_iq4_xs) == 136, "block_iq4_xs size");

/* ---- scalar reference conversions (n = elements, a multiple of the block size) ---- */
/* Dispatch by type (quant_table.c). zeta_dequantize_row does nothing for a type without a
 * dequantizer (callers check zeta_type_supported); zeta_quantize_row_ref returns false for a type
 * it cannot produce. */
void zeta_dequantize_row(zeta_type type, const void *src, float *dst, int64_t n);
bool zeta_quantize_row_ref(zeta_type type, const float *src, void *dst, int64_t n);
bool zeta_type_can_quantize(zeta_type type);
void dequantize_row_q4_0(const block_q4_0 *x, float *y, int64_t n);
void dequantize_row_q8_0(const block_q8_0 *x, float *y, int64_t n);
void quantize_row_q4_0_ref(const float *x, block_q4_0 *y, int64_t n);
void quantize_row_q8_0_ref(const float *x, block_q8_0 *y, int64_t n);
/* Per-type reference conversions of the other families (the spec; dequantize bit-exact with ggml,
 * quantize byte-exact with ggml's *_ref quantizers). n is a multiple of the block size. */
void dequantize_row_q4_1(const block_q4_1 *x, float *y, int64_t n);
void dequantize_row_q5_0(const block_q5_0 *x, float *y, int64_t n);
void dequantize_row_q5_1(const block_q5_1 *x, float *y, int64_t n);
void dequantize_row_iq4_nl(const block_iq4_nl *x, float *y, int64_t n);
void quantize_row_q4_1_ref(const float *x, block_q4_1 *y, int64_t n);
void quantize_row_q5_0_ref(const float *x, block_q5_0 *y, int64_t n);
void quantize_row_q5_1_ref(const float *x, block_q5_1 *y, int64_t n);
void quantize_row_q8_1_ref(const float *x, block_q8_1 *y, int64_t n);
void quantize_row_iq4_nl_ref(const float *x, block_iq4_nl *y, int64_t n);
void dequantize_row_q2_K(const block_q2_K *x, float *y, int64_t n);
void dequantize_row_q3_K(const block_q3_K *x, float *y, int64_t n);
void dequantize_row_q4_K(const block_q4_K *x, float *y, int64_t n);
void dequantize_row_q5_K(const block_q5_K *x, float *y, int64_t n);
void dequantize_row_q6_K(const block_q6_K *x, float *y, int64_t n);
void dequantize_row_q8_K(const block_q8_K *x, float *y, int64_t n);
void dequantize_row_iq4_xs(const block_iq4_xs *x, float *y, int64_t n);
void quantize_row_q2_K_ref(const float *x, block_q2_K *y, int64_t n);
void quantize_row_q3_K_ref(const float *x, block_q3_K *y, int64_t n);
void quantize_row_q4_K_ref(const float *x, block_q4_K *y, int64_t n);
void quantize_row_q5_K_ref(const float *x, block_q5_K *y, int64_t n);
void quantize_row_q6_K_ref(const float *x, block_q6_K *y, int64_t n);
void quantize_row_q8_K_ref(const float *x, block_q8_K *y, int64_t n);
void quantize_row_iq4_xs_ref(const float *x, block_iq4_xs *y, int64_t n);

/* true if the CPU engine can use weights of this type today */
bool zeta_type_supported(zeta_type type);

#endif
