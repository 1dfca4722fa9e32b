/* gemm_k.h — the packed 8-row layouts of Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS weights (for products with Q8_K
 * activations) and the declarations of their packing and gemm8 functions (gemm_k_ref.c: packing
 * and the scalar reference, the spec; kernels_avx2_gemmk.c: AVX2; kernels_neondot_gemm.c: AArch64 SDOT). A packed group holds 8
 * consecutive rows, interleaved 4 bytes per row so that one 32-bit lane of a 256-bit vector is one
 * row; a packed group of a row of k elements is k/256 packed blocks, with exactly the bytes of the
 * 8 source rows (the same memory traffic as the row-by-row kernels).
 *
 * Notation: "vector" = 32 bytes; "lane r" = bytes 4r..4r+3 of a vector = row r of the group.
 *
 * block_q4_Kx8 (1152 bytes = 8 x 144), one super-block index of 8 rows:
 *   d[r], dmin[r]   the row's f16 super-block scales
 *   scales          3 vectors: lane r of vector w = bytes 4w..4w+3 of row r's 12 packed scale /
 *                   min bytes (the block_q4_K 6-bit packing, unchanged)
 *   qs              32 vectors, vector 8c+g (c < 4, g < 8): lane r = row r's qs[32c+4g .. +3], so
 *                   byte e of the lane holds element 64c+4g+e (sub-block 2c) in its low nibble and
 *                   element 64c+32+4g+e (sub-block 2c+1) in its high nibble.
 * block_q5_Kx8 (1408 bytes = 8 x 176): block_q4_Kx8's fields, plus
 *   qh              8 vectors: lane r of vector g = row r's qh[4g .. 4g+3]; bit j of byte e of the
 *                   lane is the fifth bit (16) of element 32j+4g+e (sub-block j), whose low four bits
 *                   are where block_q4_Kx8 puts them.
 * block_q3_Kx8 (880 bytes = 8 x 110): the 3-bit codes u (0..7, value u - 4), the file's bits regrouped:
 *   d[r]            the row's f16 scale
 *   scales          3 vectors: lane r of vector w = row r's scale bytes 4w..4w+3 (block_q3_K's packing)
 *   qs              16 vectors, vector 8n+g (n < 2, g < 8): lane r = row r's qs[32n+4g .. +3]; bits
 *                   2i..2i+1 of byte e are the low two bits of element 128n+32i+4g+e
 *   hmask           8 vectors, lane r of vector g = row r's hmask[4g .. +3]; bit 4n+i of byte e is the
 *                   4 (the third bit) of element 128n+32i+4g+e
 *   (sub-block j = 16 elements: n = j / 8, i = (j / 2) % 4, g = 4 (j % 2) .. +3)
 * block_iq4_xsx8 (1088 bytes = 8 x 136): the file's bits regrouped:
 *   d[r], scales_h[r]   the row's f16 scale and its 16 high scale bits (2 a sub-block)
 *   scales_l            1 vector: lane r = row r's scales_l[0..3] (4 low bits a sub-block)
 *   qs                  32 vectors, vector 4ib+g (sub-block ib < 8, g < 4): lane r = row r's qs[16ib+4g .. +3];
 *                       byte e holds the IQ4 codebook index of element 32ib+4g+e (low nibble) and 32ib+16+4g+e
 * block_q2_Kx8 (672 bytes = 8 x 84): the 2-bit codes (0..3), the file's bits regrouped:
 *   d[r], dmin[r]   the row's f16 scales
 *   scales          4 vectors: lane r of vector w = row r's scales[4w .. 4w+3] (sub-block j's byte: scale
 *                   code in the low nibble, min code in the high)
 *   qs              16 vectors, as block_q3_Kx8's: vector 8n+g, lane r = row r's qs[32n+4g .. +3]; bits
 *                   2i..2i+1 of byte e are the code of element 128n+32i+4g+e
 * block_q6_Kx8 (1680 bytes = 8 x 210): the 6-bit codes u (0..63, value u - 32) regrouped so that
 * one AND yields three of every four code vectors:
 *   d[r]            the row's f16 scale
 *   scales          4 vectors: lane r of vector w = row r's int8 scales[4w .. 4w+3]
 *   q               48 vectors, 3 per 16-element sub-block j: in vector 3j+i (i < 3), byte 4r+e =
 *                   u(element 16j+4i+e) | (bits 2i..2i+1 of u(element 16j+12+e)) << 6
 *
 * gemm8 (zk_gemm8_fn of gemm.h, x = n_tok block_q8_K rows of k/256 blocks, x_stride bytes apart;
 * xsum is unused and may be NULL: Q8_K carries its bsums). y[c*y_stride + r] = dot(row r, x row c).
 * Integer sums per super-block are exact and equal the row-by-row vec_dot spec's
 * (kernels_scalar_k.c): Q4_K (and Q5_K, q its 5-bit code) sumi = sum_j sc_j * sum q*y, summ = sum_j m_j *
 * (bsums[2j]+bsums[2j+1]);
 * Q6_K sumi = sum_j sc_j * sum (u-32)*y; Q3_K sumi = sum_j sc_j * sum (u-4)*y (sc_j = 6-bit code - 32).
 * Float steps of the reference, per row, super-blocks in
 * order, acc starting at 0: Q4_K / Q5_K acc += d*dx*(float)sumi - dmin*dx*(float)summ; Q6_K
 * acc += d*dx*(float)sumi (left to right, as the vec_dot spec: the reference equals it exactly); Q3_K
 * acc += (d*dx)*(float)sumi; Q2_K (sumi = sum_j sc_j * sum q*y, summ = sum_j m_j * bsums[j]) acc += (dx*d)*(float)sumi -
 * (dx*dmin)*(float)summ, the vec_dot spec's steps (its SIMD kernels keep them: the spec's bits); IQ4_XS per sub-block, as its vec_dot: acc += ((d*dx)*(float)(ls-32)) *
 * (float)sum(kvalues[q]*y).
 * SIMD versions may fuse / reorder these float steps. */
#ifndef ZETA_GEMM_K_H
#define ZETA_GEMM_K_H

#include "cpu/gemm.h"

typedef struct {
    zeta_f16 d[8];
    zeta_f16 dmin[8];
    uint8_t scales[96];
    uint8_t qs[1024];
} block_q4_Kx8;

typedef struct {
    zeta_f16 d[8];
    zeta_f16 dmin[8];
    uint8_t scales[96];
    uint8_t qh[256];
    uint8_t qs[1024];
} block_q5_Kx8;

typedef struct {
    zeta_f16 d[8];
    uint8_t scales[96];
    uint8_t qs[512];
    uint8_t hmask[256];
} block_q3_Kx8;

typedef struct {
    zeta_f16 d[8];
    uint16_t scales_h[8];
    uint8_t scales_l[32];
    uint8_t qs[1024];
} block_iq4_xsx8;

typedef struct {
    zeta_f16 d[8];
    int8_t scales[128];
    uint8_t q[1536];
} block_q6_Kx8;

typedef struct {
    zeta_f16 d[8];
    zeta_f16 dmin[8];
    uint8_t scales[128];
    uint8_t qs[512];
} block_q2_Kx8;
_Static_assert(sizeof(block_q2_Kx8) == 8 * sizeof(block_q2_K), "block_q2_Kx8 size");

_Static_assert(sizeof(block_q4_Kx8) == 8 * sizeof(block_q4_K), "block_q4_Kx8 size");
_Static_assert(sizeof(block_q3_Kx8) == 8 * sizeof(block_q3_K), "block_q3_Kx8 size");
_Static_assert(sizeof(block_iq4_xsx8) == 8 * sizeof(block_iq4_xs), "block_iq4_xsx8 size");
_Static_assert(sizeof(block_q5_Kx8) == 8 * sizeof(block_q5_K), "block_q5_Kx8 size");
_Static_assert(sizeof(block_q6_Kx8) == 8 * sizeof(block_q6_K), "block_q6_Kx8 size");

/* Packs rows[0..8) (each nb = k/256 super-blocks) into nb packed blocks. */
/* ggml's kvalues_iq4nl: the IQ4_NL / IQ4_XS codebook (gemm_k_ref.c) */
extern const int8_t zk_iq4_values[16];

void zk_pack_q4_Kx8(const block_q4_K *const rows[8], int64_t nb, block_q4_Kx8 *out);
void zk_pack_q3_Kx8(const block_q3_K *const rows[8], int64_t nb, block_q3_Kx8 *out);
void zk_pack_iq4_xsx8(const block_iq4_xs *const rows[8], int64_t nb, block_iq4_xsx8 *out);
void zk_pack_q5_Kx8(const block_q5_K *const rows[8], int64_t nb, block_q5_Kx8 *out);
void zk_pack_q6_Kx8(const block_q6_K *const rows[8], int64_t nb, block_q6_Kx8 *out);
void zk_pack_q2_Kx8(const block_q2_K *const rows[8], int64_t nb, block_q2_Kx8 *out);
/* Bytes of one packed 8-row group of a row of k elements (k/256 packed blocks); 0 for other types. */
size_t zk_packed_group_bytes_k(zeta_type type, int64_t k);

void zk_gemm8_q4_K_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                       float *y, size_t y_stride);
void zk_gemm8_iq4_xs_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                         float *y, size_t y_stride);
void zk_gemm8_q3_K_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                       float *y, size_t y_stride);
void zk_gemm8_q5_K_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                       float *y, size_t y_stride);
void zk_gemm8_q6_K_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                       float *y, size_t y_stride);
void zk_gemm8_q2_K_ref(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                       float *y, size_t y_stride);
void zk_gemm8_q2_K_avx2(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                        float *y, size_t y_stride);
void zk_gemm8_q2_K_avx512vnni(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                              float *y, size_t y_stride);
/* x86-64 builds only (kernels_avx2_gemmk.c); call only where zk_cpu_has_avx2() */
void zk_gemm8_q4_K_avx2(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                        float *y, size_t y_stride);
void zk_gemm8_q6_K_avx2(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                        float *y, size_t y_stride);
void zk_gemm8_q5_K_avx2(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                        float *y, size_t y_stride);
void zk_gemm8_q3_K_avx2(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                        float *y, size_t y_stride);
void zk_gemm8_iq4_xs_avx2(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                          float *y, size_t y_stride);
/* kernels_avx512vnni_gemm.c; call only where the CPU has AVX512_VNNI and AVX512VL (the same bits as the AVX2 one) */
void zk_gemm8_q4_K_avx512vnni(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                              float *y, size_t y_stride);
void zk_gemm8_q6_K_avx512vnni(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                              float *y, size_t y_stride);
/* Q3_K, Q5_K, IQ4_XS: AVX-512 VNNI only (no AVX2 kernels: AVX2-only CPUs keep them row-major) */
void zk_gemm8_iq4_xs_avx512vnni(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                                float *y, size_t y_stride);
void zk_gemm8_q3_K_avx512vnni(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                              float *y, size_t y_stride);
void zk_gemm8_q5_K_avx512vnni(int64_t k, const void *w, const void *x, size_t x_stride, const int32_t *xsum, int n_tok,
                              float *y, size_t y_stride);

#endif
