/* gemm.h — matrix products over weights repacked 8 rows at a time (interleaved so that one SIMD
 * lane holds one row), for prompt processing (many tokens) and decode alike. A packed group holds
 * 8 consecutive rows; its layout is defined here and produced by the zk_pack_* functions
 * (gemm_ref.c), so every ISA reads the same bytes. Results equal the row-by-row vec_dot results
 * up to float summation order; the scalar reference (gemm_ref.c) is the spec. */
#ifndef ZETA_GEMM_H
#define ZETA_GEMM_H

#include "../quant.h"
#include <stddef.h>
#include <stdint.h>

/* One Q4_0 block index of 8 rows. qs holds 4 vectors of 32 bytes; in vector j, byte r*4+e has
 * the nibble (0..15, i.e. the stored unsigned value) of element (2j)*4+e of row r in its low half
 * and of element (2j+1)*4+e in its high half. */
typedef struct { zeta_f16 d[8]; uint8_t qs[128]; } block_q4_0x8;
/* One Q8_0 block index of 8 rows: 8 vectors of 32 bytes; in vector g, byte r*4+e is element g*4+e
 * of row r. */
typedef struct { zeta_f16 d[8]; int8_t qs[256]; } block_q8_0x8;
/* One Q5_0 block index of 8 rows: qs as block_q4_0x8's (the low four bits of each code, the stored
 * unsigned value 0..31 being value + 16); qh bytes 4r..4r+3 = row r's qh as in the file (bit m,
 * little-endian, the 16 of element m). */
typedef struct { zeta_f16 d[8]; uint8_t qh[32]; uint8_t qs[128]; } block_q5_0x8;
/* Q4_1 / Q5_1 (activations: Q8_1 blocks): Q4_0's / Q5_0's qs (and qh) layout, the stored codes
 * 0..15 / 0..31 as they are, each row's f16 d and m. */
typedef struct { zeta_f16 d[8]; zeta_f16 m[8]; uint8_t qs[128]; } block_q4_1x8;
typedef struct { zeta_f16 d[8]; zeta_f16 m[8]; uint8_t qh[32]; uint8_t qs[128]; } block_q5_1x8;
_Static_assert(sizeof(block_q4_1x8) == 160, "block_q4_1x8 size");
_Static_assert(sizeof(block_q5_1x8) == 192, "block_q5_1x8 size");
_Static_assert(sizeof(block_q4_0x8) == 144, "block_q4_0x8 size");
_Static_assert(sizeof(block_q5_0x8) == 176, "block_q5_0x8 size");
_Static_assert(sizeof(block_q8_0x8) == 272, "block_q8_0x8 size");

/* F16 and BF16 (2-byte floats): per 16 elements of the row (k % 16 == 0), the 8 rows' 16 values
 * one after another (row r's elements at v[r][0..16)): 256 bytes a step, so a group is read as one
 * sequential stream (the row-major rows of a group would be 8 streams, which measured 11-22 GB/s
 * on one Zen 4 core against 26-30 for this layout). The values are the file's bits, moved. Only
 * the AVX-512 table packs them: an AVX2 gemm8 over this layout measured 0.77-0.9x the row-major
 * gemm_f.h driver in prompts (its f32 activations re-read for every 8 rows), so AVX2 keeps the
 * row-major weights (gemm_f.h). */
typedef struct { uint16_t v[8][16]; } block_f16x8;
_Static_assert(sizeof(block_f16x8) == 256, "block_f16x8 size");

/* Packs rows[0..8) (each nb blocks) into nb packed blocks. */
void zk_pack_q4_0x8(const block_q4_0 *const rows[8], int64_t nb, block_q4_0x8 *out);
void zk_pack_q8_0x8(const block_q8_0 *const rows[8], int64_t nb, block_q8_0x8 *out);
void zk_pack_q5_0x8(const block_q5_0 *const rows[8], int64_t nb, block_q5_0x8 *out);
void zk_pack_q4_1x8(const block_q4_1 *const rows[8], int64_t nb, block_q4_1x8 *out);
void zk_pack_q5_1x8(const block_q5_1 *const rows[8], int64_t nb, block_q5_1x8 *out);
/* Packs 8 rows of k 2-byte values (F16 or BF16, k % 16 == 0) into k / 16 blocks. */
void zk_pack_f16x8(const uint16_t *const rows[8], int64_t k, block_f16x8 *out);
/* Bytes of one packed 8-row group of a row of k elements; 0 if the type has no packed form (or,
 * for F16 / BF16, k is not a multiple of 16). */
size_t zk_packed_group_bytes(zeta_type type, int64_t k);

/* For one packed group w (k/32 packed blocks) and n_tok activation rows x (block_q8_0 rows, or
 * block_q8_1 rows for Q4_1 / Q5_1: zk_vec_dot_type of the weight type; x_stride bytes apart):
 * y[c * y_stride + r] = dot(row r, x row c), r < 8, c < n_tok.
 * xsum[c * (k/32) + b] = sum of the 32 quantized values of activation block b of row c (used by
 * Q4_0 and Q5_0, whose stored codes are value + 8 / value + 16). F16 / BF16 (k / 16 blocks): x holds f32 rows (as
 * their vec_dot does: zk_vec_dot_type is F32), each weight converted exactly to f32; xsum unused. */
typedef void (*zk_gemm8_fn)(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                            float *y, size_t y_stride);

typedef struct zk_gemm_table {
    const char *name;
    zk_gemm8_fn gemm8[ZETA_TYPE_COUNT];   /* by weight type: Q4_0, Q8_0, Q5_0, Q4_1, Q5_1, IQ4_NL, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS, F16, BF16 */
} zk_gemm_table;

const zk_gemm_table *zk_gemm_scalar(void);
const zk_gemm_table *zk_gemm_avx2(void);   /* NULL when not compiled in */
/* AVX512_VNNI (vpdpbusd on 256-bit vectors) for Q4_0 / Q8_0 / Q5_0 and the K-quants, AVX-512F for
 * F16 / BF16; NULL when not compiled in */
const zk_gemm_table *zk_gemm_avx512vnni(void);
/* AArch64 with the dot-product extension: every integer type the other tables pack (Q4_0, Q8_0, Q5_0,
 * Q4_1, Q5_1, IQ4_NL and the K-quants, kernels_neondot_gemm.c); NULL when not compiled in */
const zk_gemm_table *zk_gemm_neondot(void);
/* the best SIMD table for this CPU (computed once); slots without a SIMD kernel are NULL, and
 * weights of such types are not repacked */
const zk_gemm_table *zk_gemm_select(void);

#endif
