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
#include <stdio.h>

/* the four matmul inputs of a layer that are thresholded */
enum { ZS_ATTN_IN = 0, ZS_ATTN_OUT = 1, ZS_FFN_IN = 2, ZS_FFN_MID = 3, ZS_N_KIND = 4 };
#define ZS_MAX_LEVELS 16
#define ZS_N_EQ 21 /* entropy quantiles recorded: 0.00, 0.05, ..., 1.00 */

extern const char *const zs_kind_names[ZS_N_KIND]; /* "attn_in", "attn_out", "ffn_in", "ffn_mid" */

/* W (n_out x n_in) stored by input channel: column i (W[:, i], n_out values) as n_out/32 Q8_0
 * blocks along the output dimension, at cols + i * col_bytes */
typedef struct zs_mat {
    uint32_t n_in, n_out;
    size_t col_bytes;
    const uint8_t *cols;
} zs_mat;

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

/* the kept inputs of one activation vector: |x_i| >= thr */
typedef struct zs_sel {
    uint32_t n, n_in;                /* kept, of n_in */
    uint32_t *idx;                   /* caller-allocated, n_in capacity */
    float *val;
    double ss_kept, ss_total;        /* sums of squares */
} zs_sel;

struct zeta_model;

/* FNV-style 64-bit hash of every tensor's bytes (the fingerprint) */
uint64_t zs_model_hash(const struct zeta_model *m);
/* parses a sidecar file and checks it against the model (shape and fingerprint) */
zeta_status zs_calib_read(const char *path, const struct zeta_model *m, zs_calib *out, zeta_error *err);
/* the same from an open stream (path names it in messages); closes f */
zeta_status zs_calib_read_stream(FILE *f, const char *path, const struct zeta_model *m, zs_calib *out, zeta_error *err);
zeta_status zs_calib_write(const char *path, const zs_calib *c, zeta_error *err);
void zs_calib_free(zs_calib *c);
/* index of the level equal to `sparsity` (within 1e-4); 0 picks the level nearest 0.5. -1: none */
int zs_calib_level(const zs_calib *c, float sparsity);

/* reads the file and builds the transposed Q8_0 copies of every layer matrix (m is still being
 * set up: called by zeta_model_load before the model is shared); refuses an n_out that is not a
 * multiple of 32 naming the tensor */
zeta_status zs_model_build(struct zeta_model *m, const char *path, zeta_error *err);
void zs_model_free(zs_model *z);

#endif
