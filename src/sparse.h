/* sparse.h — the data of variational gating (docs/GATING.md): the calibration sidecar file
 * (per-layer, per-matmul-input magnitude thresholds for a few target sparsities and the entropy
 * gate's defaults, tied to one model by a fingerprint), the input-channel-major Q8_0 copies of the
 * layer matrices that the sparse decode pass multiplies with, and the selection of kept inputs.
 * Plain C structs (the CUDA sources include backend.h, which includes this). */
#ifndef ZETA_SPARSE_H
#define ZETA_SPARSE_H

#include "zeta.h"
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>

/* the four matmul inputs of a layer that are thresholded */
enum { ZS_ATTN_IN = 0, ZS_ATTN_OUT = 1, ZS_FFN_IN = 2, ZS_FFN_MID = 3, ZS_N_KIND = 4 };
#define ZS_MAX_LEVELS 16
#define ZS_N_EQ 21 /* entropy quantiles recorded: 0.00, 0.05, ..., 1.00 */

extern const char *const zs_kind_names[ZS_N_KIND]; /* "attn_in", "attn_out", "ffn_in", "ffn_mid" */

/* W (n_out x n_in) stored by input channel, in one of three formats:
 * - ZS_FMT_COPY (any weight type): column i (W[:, i], n_out values) as n_out/32 Q8_0 blocks along
 *   the output dimension, at cols + i * col_bytes (a requantized copy: not the model's exact values);
 * - ZS_FMT_Q8 / ZS_FMT_Q4 (Q8_0 / Q4_0 weights; n_out a multiple of 64): the model's own codes and
 *   scales, regrouped (also for other types requantized to Q8_0 or Q4_0 along their rows, on the
 *   CPU: then the codes are those of the requantization, not the model's exact values). Input block b (inputs 32b..32b+31, one Q8_0 / Q4_0 block of every row) is at
 *   cols + b * blk_bytes: first the n_out row scales d (f16, row order), then its 32 columns of
 *   col_bytes each (n_out bytes for Q8_0, n_out / 2 for Q4_0), each column in chunks of 64 rows whose
 *   byte order suits the AVX2 unpack instructions (zs_q8_pos / zs_q4_pos). W[o][32b + j] =
 *   d[o] * code(o, j) (Q8_0: signed code; Q4_0: nibble - 8), exactly the dense weight. */
enum { ZS_FMT_COPY = 0, ZS_FMT_Q8 = 1, ZS_FMT_Q4 = 2 };
typedef struct zs_mat {
    uint32_t n_in, n_out;
    int fmt;
    size_t col_bytes;
    size_t blk_bytes;                /* native formats: bytes of one input block (scales + 32 columns) */
    const uint8_t *cols;
    uint32_t gpu_run;                /* 0: the layout above; 128 / 256: tile-major (zs_tile_major), the GPU's */
} zs_mat;

/* native layouts: where row r (0..63) of a 64-row chunk is stored. Q8_0: byte zs_q8_pos(r) of the
 * chunk's 64 bytes. Q4_0: byte zs_q4_pos(r) of the chunk's 32 bytes, low nibble for r < 32, high
 * nibble for r >= 32. (Both swap two 8-row quarters of every 16 / 32 rows; their own inverses.) */
static inline uint32_t zs_q8_pos(uint32_t r) {
    const uint32_t q = r & 15u;
    return (r & ~15u) | (q >= 4 && q < 8 ? q + 4 : q >= 8 && q < 12 ? q - 4 : q);
}
static inline uint32_t zs_q4_pos(uint32_t r) {
    const uint32_t h = r & 31u;
    return h >= 8 && h < 16 ? h + 8 : h >= 16 && h < 24 ? h - 8 : h;
}

typedef struct zs_layer { zs_mat wq, wk, wv, wo, gate, up, down; } zs_layer;

/* the sidecar file (sparse.c documents the text format) */
typedef struct zs_calib {
    uint64_t hash;                   /* model fingerprint: hash of the tensor data */
    uint64_t file_bytes;
    uint32_t n_layer, n_embd, n_ff, n_vocab;
    uint32_t n_tokens, n_chunks, n_ctx; /* what calibration ran over (informational) */
    uint32_t n_levels;
    float levels[ZS_MAX_LEVELS];     /* target sparsities, ascending, in (0, 1) */
    float gate_entropy;              /* default: go sparse when the previous entropy is below (nats) */
    float fallback_entropy;          /* default: a sparse step whose own entropy is above falls back */
    float entropy_q[ZS_N_EQ];        /* entropy quantiles of the dense model over the calibration text */
    float *thr;                      /* [n_layer][ZS_N_KIND][n_levels] |x| thresholds */
} zs_calib;

/* a model's sparse data: the file and the transposed copies (one allocation) */
typedef struct zs_model {
    zs_calib cal;
    zs_layer *layers;                /* n_layer */
    uint8_t *mem;
    uint64_t bytes;                  /* extra memory of the copies */
} zs_model;

/* the kept inputs of one activation vector: |x_i| >= thr. When n_in is a multiple of 32, the kept
 * values are also rounded per input block b of 32 (block b's entries are idx/val[bstart[b] ..
 * bstart[b+1])) exactly as the dense path rounds a block to Q8_0 with the dropped entries zeroed:
 * d = largest kept |val| / 127, q8 = roundf(val / d), dx8 = d rounded to f16; sum8[b] = the sum of
 * the block's q8. */
typedef struct zs_sel {
    uint32_t n, n_in;                /* kept, of n_in */
    uint32_t *idx;                   /* caller-allocated, n_in capacity */
    float *val;
    double ss_kept, ss_total;        /* sums of squares */
    uint32_t *bstart;                /* n_in / 32 + 1 (capacity of the caller's allocation) */
    int8_t *q8;                      /* n_in */
    float *dx8;                      /* n_in / 32 */
    int32_t *sum8;                   /* n_in / 32 */
    bool blocked;                    /* the block fields are set (n_in % 32 == 0) */
    float *part;                     /* ZS_MAX_SHARED * n_in: scratch for the partial sums of the products
                                      * that share the selection (each n_out <= n_in) */
} zs_sel;
#define ZS_MAX_SHARED 3              /* matrices sharing one selection: q, k, v */

/* allocates the selection buffers for inputs, and products' outputs, of up to n entries; false when
 * out of memory */
bool zs_sel_alloc(zs_sel *s, uint32_t n);
void zs_sel_free(zs_sel *s);

struct zeta_weight;
/* one Q8_0 / Q4_0 matrix (w->ne1 % 64 == 0) in native format fmt (ZS_FMT_Q8 / ZS_FMT_Q4): the bytes
 * it takes (a multiple of 64), and its layout written to dst (64-byte aligned) with *out set */
uint64_t zs_native_bytes(int fmt, uint64_t n_in, uint64_t n_out);
void zs_native_build(const struct zeta_weight *w, int fmt, uint8_t *dst, zs_mat *out);
/* The GPU's order of a native layout (m's bytes at src, zs_native_bytes of them, rewritten to dst;
 * src != dst): the same input blocks, each with the same row scales first, but its column bytes
 * tile-major: the bytes [t run, t run + rb) of the 32 columns (rb = run, or what is left of a
 * column in the last tile) one after another, column j's at 2 n_out + 32 t run + j rb. A run of
 * consecutive kept columns of a tile is then one piece of memory (one copy for the GPU's copy
 * engine). run: a multiple of 16 that divides no more than col_bytes needs (128 or 256). */
void zs_tile_major(const zs_mat *m, const uint8_t *src, uint8_t *dst, uint32_t run);

struct zeta_model;

/* FNV-style 64-bit hash of every tensor's bytes (the fingerprint) */
uint64_t zs_model_hash(const struct zeta_model *m);
/* parses a sidecar file and checks it against the model (shape and fingerprint) */
zeta_status zs_calib_read(const char *path, const struct zeta_model *m, zs_calib *out, zeta_error *err);
/* the same from an open stream (path names it in messages); closes f */
zeta_status zs_calib_read_stream(FILE *f, const char *path, const struct zeta_model *m, zs_calib *out, zeta_error *err);
zeta_status zs_calib_write(const char *path, const zs_calib *c, zeta_error *err);
void zs_calib_free(zs_calib *c);
/* the default level: the sparsity whose perplexity cost stayed within 3 % on the 30M model in
 * variational mode (bench/RESULTS.md); 0.5 costs ~11 % there */
#define ZS_DEFAULT_LEVEL 0.3f
/* index of the level equal to `sparsity` (within 1e-4); 0 picks the level nearest ZS_DEFAULT_LEVEL. -1: none */
int zs_calib_level(const zs_calib *c, float sparsity);

/* reads the file and builds the sparse layout of every layer matrix (m is still being set up:
 * called by zeta_model_load before the model is shared): Q8_0 / Q4_0 matrices natively; other
 * types, with requant (and n_out a multiple of 64), requantized along their rows (as a Q8_0 / Q4_0
 * file would hold them: Q4_0 for types under 5.5 bits a weight, else Q8_0) and laid out as
 * ZS_FMT_Q8 / ZS_FMT_Q4, else as ZS_FMT_COPY (ZETA_SPARSE_REQUANT=0|1 overrides requant, =q8_0|q4_0
 * forces the format, ZETA_SPARSE_COPY=1 forces the copy for every matrix); refuses an n_out that is
 * not a multiple of 32 naming the tensor */
zeta_status zs_model_build(struct zeta_model *m, const char *path, bool requant, zeta_error *err);
void zs_model_free(zs_model *z);

#endif
