/* model.h — a loaded model: hyperparameters read from GGUF metadata via the architecture table,
 * every tensor bound by name and checked against them (shape and type), and the vocabulary.
 * Immutable after model_load(); shared by sessions and threads. */
#ifndef ZETA_MODEL_H
#define ZETA_MODEL_H

#include "gguf.h"
#include "tokenizer.h"

#define ZETA_MODEL_MAGIC 0x5A4D4F44u /* "ZMOD" */
#define ZETA_MAX_LAYERS 4096

typedef enum zeta_rope_type { ZETA_ROPE_NORM = 0, ZETA_ROPE_NEOX = 2 } zeta_rope_type;

/* Per-architecture facts (arch.c). Adding an architecture = adding a row. */
typedef struct zeta_arch {
    const char *name;          /* general.architecture */
    zeta_rope_type rope;
    bool qkv_bias;             /* attn_q/k/v.bias present (required) */
    bool qk_norm;              /* per-head attn_q_norm / attn_k_norm */
} zeta_arch;
const zeta_arch *arch_find(const char *name, size_t len);
/* Comma-separated list of supported architecture names, for messages. */
const char *arch_supported_list(void);

/* A 2-D (or 1-D) weight in the mapped file. Rows are ne1, each of ne0 elements. */
typedef struct zeta_weight {
    const char *name;
    zeta_type type;
    uint64_t ne0, ne1;
    uint64_t row_bytes;
    const void *data;
    const void *packed;        /* backend-prepared copy (CPU: 8-row interleaved groups) or NULL */
    const void *dev;           /* CUDA: the same bytes in device memory (models loaded for CUDA), or NULL */
} zeta_weight;

typedef struct zeta_layer {
    zeta_weight attn_norm, wq, wk, wv, wo;
    zeta_weight bq, bk, bv;            /* data == NULL when absent */
    zeta_weight q_norm, k_norm;        /* data == NULL when absent */
    zeta_weight ffn_norm, w_gate, w_up, w_down;
} zeta_layer;

typedef struct zeta_hparams {
    uint32_t n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv;
    uint32_t head_dim_k, head_dim_v, n_ff, n_rot;
    float norm_eps, rope_base, rope_freq_scale;
    int rope_scaling;          /* ZETA_ROPE_SCALING_NONE / _LINEAR / _YARN (zeta.h) */
    uint32_t n_ctx_orig;       /* YaRN: rope.scaling.original_context_length (default n_ctx_train) */
    float rope_attn_factor;    /* rope.scaling.attn_factor (default 1) */
} zeta_hparams;

struct zeta_model {
    uint32_t magic;
    gguf_file *g;
    zeta_vocab *vocab;
    const zeta_arch *arch;
    zeta_hparams hp;
    char *name;                        /* general.name or "" */
    zeta_weight tok_embd, output_norm, output;  /* output aliases tok_embd when tied */
    bool tied;
    const float *rope_freqs;           /* n_rot/2 factors or NULL */
    zeta_layer *layers;
    uint64_t n_params, weight_bytes;
    zeta_type main_type;
    void *packed_mem;                  /* owns every weight's `packed` copy */
    uint64_t packed_bytes;
    struct cuda_model *cuda;           /* CUDA backend: device, weights on it (src/cuda/); NULL = CPU */
    struct zs_model *sparse;           /* variational gating: calibration + transposed copies (sparse.h), or NULL */
};

zeta_status model_load(const char *path, bool use_mmap, struct zeta_model **out, zeta_error *err);
void model_free(struct zeta_model *m);
/* Dequantizes every tensor and checks that all values are finite (model_check.c): ZETA_ERR_FORMAT
 * naming the tensor, row and column of the first NaN or infinity. */
zeta_status model_check_tensors(const struct zeta_model *m, zeta_error *err);
/* bytes of K and V cache for n_ctx positions in the given types (row sizes as zeta_row_bytes) */
uint64_t model_kv_bytes(const struct zeta_model *m, uint32_t n_ctx, zeta_type type_k, zeta_type type_v);

#endif
