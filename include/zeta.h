/* zeta.h — the whole public API of ZetaLm, a C11 engine for GGUF language models.
 *
 * Objects:
 *   zeta_model    weights + tokenizer + metadata loaded from one GGUF file.
 *                 Immutable after zeta_model_load(); safe to share between threads and sessions.
 *   zeta_session  one conversation: KV cache, scratch buffers, sampler RNG, token history, thread pool.
 *                 Not thread-safe: use one session from one thread at a time. Different sessions
 *                 (even of the same model) may be used concurrently. zeta_session_cancel() is the
 *                 only function that may be called on a session from another thread.
 *
 * Errors: every function that can fail returns zeta_status. If `err` is non-NULL it receives the
 *   status and a one-line, human-readable message. The library never aborts or exits, and never
 *   prints unless a log callback is installed. On failure, out-parameters are set to NULL/0 and
 *   the handle is left as it was before the call.
 *
 * Ownership: the caller owns what it allocates; zeta owns what it returns as `const`. Returned
 *   strings and arrays stay valid until the owning handle is freed, or until the next call that
 *   says it invalidates them. Every *_free() accepts NULL.
 *
 * Size queries: functions that fill a caller buffer take `cap` (elements) and report the number
 *   needed in `*n_out`; with a too-small `cap` they return ZETA_ERR_BUFFER_TOO_SMALL and write
 *   nothing. Pass cap = 0 to learn the size. Text: zeta_model_meta counts the terminating NUL in
 *   *n_out; zeta_chat_apply reports the length without it (allocate *n_out + 1, as for snprintf);
 *   zeta_detokenize and zeta_token_piece write no NUL.
 */
#ifndef ZETA_H
#define ZETA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define ZETA_API
#elif defined(__GNUC__)
#define ZETA_API __attribute__((visibility("default")))
#else
#define ZETA_API
#endif

#define ZETA_VERSION_MAJOR 0
#define ZETA_VERSION_MINOR 1
#define ZETA_VERSION_PATCH 0
#define ZETA_VERSION_NUMBER (ZETA_VERSION_MAJOR * 10000 + ZETA_VERSION_MINOR * 100 + ZETA_VERSION_PATCH)
#define ZETA_VERSION_STRING "0.1.0"

/* Returns ZETA_VERSION_NUMBER of the library actually linked. */
ZETA_API uint32_t zeta_version(void);
ZETA_API const char *zeta_version_string(void);

/* ---------------------------------------------------------------------------------------------
 * Status and errors. Values are stable once released.
 */
typedef enum zeta_status {
    ZETA_OK = 0,
    ZETA_ERR_INVALID_ARGUMENT = 1, /* the message names the parameter, value and valid range */
    ZETA_ERR_IO = 2,               /* path + OS error text */
    ZETA_ERR_FORMAT = 3,           /* not GGUF, or malformed/inconsistent model */
    ZETA_ERR_UNSUPPORTED = 4,      /* valid but not supported here (arch, type, backend) */
    ZETA_ERR_OUT_OF_MEMORY = 5,
    ZETA_ERR_BUFFER_TOO_SMALL = 6, /* *n_out holds the required size */
    ZETA_ERR_CONTEXT_FULL = 7,     /* KV cache has no room; session unchanged */
    ZETA_ERR_CANCELLED = 8,        /* callback or zeta_session_cancel(); state is consistent */
    ZETA_ERR_BACKEND = 9,          /* device/driver failure, driver text included */
    ZETA_ERR_INTERNAL = 10         /* a bug in zeta; please report the message */
} zeta_status;

#define ZETA_ERROR_MESSAGE_MAX 512
typedef struct zeta_error {
    zeta_status status;
    char message[ZETA_ERROR_MESSAGE_MAX];
} zeta_error;

/* "ZETA_ERR_FORMAT" etc.; "ZETA_ERR_UNKNOWN" for values outside the enum. */
ZETA_API const char *zeta_status_name(zeta_status status);

/* ---------------------------------------------------------------------------------------------
 * Tensor / weight types: the GGUF (ggml) type ids.
 */
typedef enum zeta_type {
    ZETA_TYPE_F32 = 0,
    ZETA_TYPE_F16 = 1,
    ZETA_TYPE_Q4_0 = 2,
    ZETA_TYPE_Q4_1 = 3,
    ZETA_TYPE_Q5_0 = 6,
    ZETA_TYPE_Q5_1 = 7,
    ZETA_TYPE_Q8_0 = 8,
    ZETA_TYPE_Q8_1 = 9,
    ZETA_TYPE_Q2_K = 10,
    ZETA_TYPE_Q3_K = 11,
    ZETA_TYPE_Q4_K = 12,
    ZETA_TYPE_Q5_K = 13,
    ZETA_TYPE_Q6_K = 14,
    ZETA_TYPE_Q8_K = 15,
    ZETA_TYPE_IQ2_XXS = 16,
    ZETA_TYPE_IQ2_XS = 17,
    ZETA_TYPE_IQ3_XXS = 18,
    ZETA_TYPE_IQ1_S = 19,
    ZETA_TYPE_IQ4_NL = 20,
    ZETA_TYPE_IQ3_S = 21,
    ZETA_TYPE_IQ2_S = 22,
    ZETA_TYPE_IQ4_XS = 23,
    ZETA_TYPE_I8 = 24,
    ZETA_TYPE_I16 = 25,
    ZETA_TYPE_I32 = 26,
    ZETA_TYPE_I64 = 27,
    ZETA_TYPE_F64 = 28,
    ZETA_TYPE_IQ1_M = 29,
    ZETA_TYPE_BF16 = 30,
    ZETA_TYPE_TQ1_0 = 34,
    ZETA_TYPE_TQ2_0 = 35,
    ZETA_TYPE_MXFP4 = 39,
    ZETA_TYPE_COUNT = 40
} zeta_type;

/* "q4_0", "f16", ...; NULL for an id that is not a GGUF type. */
ZETA_API const char *zeta_type_name(zeta_type type);

typedef int32_t zeta_token;
typedef struct zeta_model zeta_model;
typedef struct zeta_session zeta_session;

/* ---------------------------------------------------------------------------------------------
 * Logging: the library prints nothing; install a callback to see what it would say.
 */
typedef enum zeta_log_level { ZETA_LOG_ERROR = 0, ZETA_LOG_WARN = 1, ZETA_LOG_INFO = 2, ZETA_LOG_DEBUG = 3 } zeta_log_level;
typedef void (*zeta_log_fn)(void *user, zeta_log_level level, const char *line);

typedef enum zeta_backend { ZETA_BACKEND_AUTO = 0, ZETA_BACKEND_CPU = 1, ZETA_BACKEND_CUDA = 2 } zeta_backend;

/* ---------------------------------------------------------------------------------------------
 * Models.
 */
typedef struct zeta_model_params {
    zeta_backend backend;     /* AUTO: CUDA if compiled in (make CUDA=1) and the device exists, else CPU.
                               * CUDA in a build without it: ZETA_ERR_UNSUPPORTED; no usable device:
                               * ZETA_ERR_BACKEND with the driver's text */
    int cuda_device;          /* default 0 */
    bool use_mmap;            /* default true; false reads the file into memory */
    zeta_log_fn log;          /* default NULL: silent */
    void *log_user;
    zeta_log_level log_level; /* default ZETA_LOG_WARN */
    bool (*on_progress)(void *user, float fraction); /* return false to stop: ZETA_ERR_CANCELLED */
    void *progress_user;
    /* default false: dequantize every tensor at load and refuse NaN or infinite values (weights or
     * block scales) with ZETA_ERR_FORMAT naming the tensor, row and column; reads the whole file */
    bool check_tensors;
    /* default NULL. A sparsity file written by zeta_calibrate for this model (checked by its
     * fingerprint): the load then also builds an input-channel-major Q8_0 / Q4_0 layout of every layer matrix
     * that the sparse decode pass of the variational / ultimate modes reads (zeta_model_info.sparse_bytes;
     * every matrix needs a multiple of 32 output rows; other types than Q8_0 / Q4_0 are requantized to
     * them; the CUDA backend needs a multiple of 64 rows, else ZETA_ERR_UNSUPPORTED naming the tensor).
     * docs/GATING.md */
    const char *sparsity_path;
} zeta_model_params;
ZETA_API zeta_model_params zeta_model_params_default(void);

ZETA_API zeta_status zeta_model_load(const char *path, const zeta_model_params *params, zeta_model **out,
                                     zeta_error *err);
ZETA_API void zeta_model_free(zeta_model *model);

typedef struct zeta_model_info {
    const char *arch;         /* "llama", "qwen2", "qwen3" */
    const char *name;         /* general.name or "" */
    uint64_t n_params;        /* elements of all tensors */
    uint64_t weight_bytes;    /* bytes of all tensor data */
    uint64_t file_bytes;
    double bits_per_weight;   /* 8 * weight_bytes / n_params */
    uint32_t n_vocab;
    uint32_t n_ctx_train;
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t head_dim;        /* key/value head size */
    uint32_t n_ff;
    uint32_t n_rot;
    float rope_freq_base;
    float rope_freq_scale;    /* 1 / linear scaling factor */
    float norm_eps;
    bool tied_embeddings;
    zeta_token bos, eos;      /* -1 when the vocabulary has none */
    const char *tokenizer;    /* "llama" (SentencePiece), "gpt2" (byte-level BPE), "bert" (WordPiece) */
    const char *pre;          /* tokenizer.ggml.pre or "default" */
    zeta_type main_type;      /* most common type among the 2-D weights */
    uint32_t n_tensors;
    uint64_t sparse_bytes;    /* memory of the sparse layout (0 without zeta_model_params.sparsity_path) */
} zeta_model_info;
ZETA_API zeta_status zeta_model_describe(const zeta_model *model, zeta_model_info *out, zeta_error *err);

/* Metadata value of `key` rendered as text (numbers in decimal, arrays as "[n items]"). */
ZETA_API zeta_status zeta_model_meta(const zeta_model *model, const char *key, char *buf, size_t cap,
                                     size_t *n_out, zeta_error *err);

typedef struct zeta_tensor_info {
    const char *name;
    zeta_type type;
    uint32_t n_dims;
    uint64_t ne[4];           /* ggml order: ne[0] is the row length */
    uint64_t n_bytes;
    uint64_t offset;          /* in the file */
} zeta_tensor_info;
ZETA_API zeta_status zeta_model_tensor(const zeta_model *model, uint32_t index, zeta_tensor_info *out,
                                       zeta_error *err);

/* Bytes of KV cache a session of n_ctx tokens would allocate with K and V both of kv_type (F32, F16,
 * Q8_0 or Q4_0); 0 for other types. */
ZETA_API uint64_t zeta_model_kv_bytes(const zeta_model *model, uint32_t n_ctx, zeta_type kv_type);

/* ---------------------------------------------------------------------------------------------
 * Tokenizer: part of the model, read-only, thread-safe.
 */
enum {
    ZETA_TOKENIZE_ADD_SPECIAL = 1u,   /* add BOS/EOS as the model's tokenizer says (add_bos_token ...) */
    ZETA_TOKENIZE_PARSE_SPECIAL = 2u  /* text like "<|endoftext|>" becomes the special token */
};
ZETA_API zeta_status zeta_tokenize(const zeta_model *model, const char *text, size_t len, unsigned flags,
                                   zeta_token *tokens, size_t cap, size_t *n_out, zeta_error *err);

enum {
    ZETA_DETOKENIZE_SPECIAL = 1u      /* render control tokens (BOS, EOS, ...) as their text */
};
/* Text of a token sequence. For SentencePiece vocabularies the space the tokenizer put in front
 * of the text is removed again, so detokenize(tokenize(text)) == text for text without special
 * tokens. Control tokens (BOS, EOS) render as nothing unless ZETA_DETOKENIZE_SPECIAL is given. */
ZETA_API zeta_status zeta_detokenize(const zeta_model *model, const zeta_token *tokens, size_t n,
                                     unsigned flags, char *buf, size_t cap, size_t *n_out, zeta_error *err);
/* The bytes one token contributes (may be a partial UTF-8 sequence). */
ZETA_API zeta_status zeta_token_piece(const zeta_model *model, zeta_token token, unsigned flags, char *buf,
                                      size_t cap, size_t *n_out, zeta_error *err);
ZETA_API zeta_token zeta_token_bos(const zeta_model *model);   /* -1 if none */
ZETA_API zeta_token zeta_token_eos(const zeta_model *model);   /* -1 if none */
ZETA_API bool zeta_token_is_eog(const zeta_model *model, zeta_token token); /* EOS, EOT, ... */
ZETA_API uint32_t zeta_n_vocab(const zeta_model *model);

/* ---------------------------------------------------------------------------------------------
 * Sessions.
 */
/* RoPE scaling types (GGUF rope.scaling.type; llama.cpp --rope-scaling). YaRN follows llama.cpp's
 * defaults: ext_factor 1, beta_fast 32, beta_slow 1, magnitude 1 + 0.1 ln(factor). */
typedef enum zeta_rope_scaling {
    ZETA_ROPE_SCALING_MODEL = 0,   /* whatever the model file says */
    ZETA_ROPE_SCALING_NONE = 1,
    ZETA_ROPE_SCALING_LINEAR = 2,
    ZETA_ROPE_SCALING_YARN = 3
} zeta_rope_scaling;

/* Decoding modes (variational gating, docs/GATING.md). Every mode but STANDARD needs a model loaded
 * with zeta_model_params.sparsity_path. Prompts are always evaluated densely. */
typedef enum zeta_mode {
    ZETA_MODE_STANDARD = 0,    /* every step dense */
    ZETA_MODE_VARIATIONAL = 1, /* per single-token step: the previous distribution's entropy below gate_entropy ->
                                * the sparse pass only, else the dense pass only; a sparse step whose own entropy
                                * is above fallback_entropy is recomputed densely (a counted fallback) */
    ZETA_MODE_ULTIMATE = 2,    /* zeta_generate drafts up to max_draft tokens with the sparse pass and verifies them
                                * with one batched dense pass: greedy, the output equals STANDARD's; sampling
                                * (temperature > 0), speculative rejection sampling, distributed as STANDARD's
                                * (single-token zeta_session_eval calls run dense) */
    ZETA_MODE_SPARSE = 3       /* every single-token step sparse, no gate (to measure the sparse pass) */
} zeta_mode;
/* "standard", "variational", "ultimate", "sparse"; "?" for a value outside the enum. */
ZETA_API const char *zeta_mode_name(zeta_mode mode);

typedef struct zeta_session_params {
    uint32_t n_ctx;           /* 0 = the model's training context, at most 4096 */
    int n_threads;            /* 0 = physical cores (CPU backend) */
    zeta_type kv_type;        /* K cache type: ZETA_TYPE_F16 (default), F32, Q8_0 or Q4_0 (the block types
                                 need a head size that is a multiple of 32); also V's, see kv_type_v */
    uint64_t seed;            /* sampler RNG seed (default 0x5eed) */
    uint32_t n_batch;         /* tokens per forward batch during prompt evaluation, default 512 */
    zeta_type kv_type_v;      /* V cache type; ZETA_TYPE_COUNT (the default) = the same as kv_type */
    /* RoPE scaling override (llama.cpp --rope-freq-scale; 1/factor of --rope-scale): positions
     * are multiplied by it, stretching the trained context by 1/rope_freq_scale. 0 = the model's. */
    float rope_freq_scale;
    zeta_rope_scaling rope_scaling;  /* ZETA_ROPE_SCALING_MODEL (default): the file's type */
    uint32_t yarn_orig_ctx;   /* YaRN: the original context; 0 = the file's (or its trained context) */
    zeta_mode mode;           /* default ZETA_MODE_STANDARD */
    /* target activation sparsity: one of the sparsity file's levels; default -1 = the level nearest 0.3;
     * 0 = no input dropped (the sparse steps use the dense kernels: standard mode's logits exactly) */
    float sparsity;
    float gate_entropy;       /* nats; default -1 = the file's calibrated value */
    float fallback_entropy;   /* nats; default -1 = the file's calibrated value */
    uint32_t max_draft;       /* ULTIMATE: drafted tokens per verification, default 4 (1..16) */
    /* A quantized K (V) cache whose head size is a multiple of 64 stores its rows rotated by a
     * Walsh-Hadamard transform, the queries (the attention output) rotated to match, as llama.cpp
     * does: the rotation spreads outliers over the block, so the rows quantize with less error.
     * true turns it off (llama.cpp: LLAMA_ATTN_ROT_DISABLE=1). Default false. */
    bool kv_no_rotate;
} zeta_session_params;
ZETA_API zeta_session_params zeta_session_params_default(void);

ZETA_API zeta_status zeta_session_new(const zeta_model *model, const zeta_session_params *params,
                                      zeta_session **out, zeta_error *err);
ZETA_API void zeta_session_free(zeta_session *session);

/* Evaluates tokens at the current position (batched). Afterwards zeta_session_logits() gives the
 * logits after the last token. All-or-nothing: on any error the session is as before the call. */
ZETA_API zeta_status zeta_session_eval(zeta_session *s, const zeta_token *tokens, size_t n, zeta_error *err);
/* The same, and writes the logits after every token into all_logits (n * n_vocab floats). */
ZETA_API zeta_status zeta_session_eval_all(zeta_session *s, const zeta_token *tokens, size_t n,
                                           float *all_logits, zeta_error *err);
/* Logits after the last evaluated token; valid until the next eval/rewind/free. NULL before any eval. */
ZETA_API const float *zeta_session_logits(const zeta_session *s, size_t *n_vocab);
ZETA_API size_t zeta_session_position(const zeta_session *s);
ZETA_API uint32_t zeta_session_n_ctx(const zeta_session *s);
/* Bytes of the session's KV cache (allocated at zeta_session_new for n_ctx positions). */
ZETA_API uint64_t zeta_session_kv_bytes(const zeta_session *s);
/* Keep the first n_keep tokens of the history, forget the rest (n_keep <= position). */
ZETA_API zeta_status zeta_session_rewind(zeta_session *s, size_t n_keep, zeta_error *err);
/* The tokens evaluated so far (position of them); valid until the next call on the session. */
ZETA_API const zeta_token *zeta_session_tokens(const zeta_session *s, size_t *n);
/* Any thread: makes the running (or next) eval/generate return ZETA_ERR_CANCELLED. */
ZETA_API void zeta_session_cancel(zeta_session *s);
/* Any thread: withdraws a zeta_session_cancel() that no eval/generate has consumed yet (a server
 * whose client left just as its generation ended clears the request before the next one). */
ZETA_API void zeta_session_cancel_clear(zeta_session *s);
/* Switches the session's decoding mode (zeta_session_params.mode) between calls, keeping its tokens,
 * cache and statistics and the sparsity level, entropy thresholds and max_draft it was created with
 * (a server's per-request mode). Every mode but STANDARD needs a model loaded with a sparsity file;
 * on an error the session keeps its mode. */
ZETA_API zeta_status zeta_session_set_mode(zeta_session *s, zeta_mode mode, zeta_error *err);
ZETA_API zeta_mode zeta_session_mode(const zeta_session *s); /* STANDARD for a NULL or dead handle */
/* Re-seeds the session's sampler RNG, as zeta_session_params.seed does at creation (a per-request
 * seed for reproducible sampling). */
ZETA_API void zeta_session_set_seed(zeta_session *s, uint64_t seed);
/* Context shift: forgets the n_discard tokens that follow the first n_keep and moves the later ones
 * back by n_discard positions; their cached keys are rotated to the new positions (RoPE), as
 * llama.cpp's context shift does. The logits after the last token are kept.
 * n_keep + n_discard <= position. */
ZETA_API zeta_status zeta_session_shift(zeta_session *s, size_t n_keep, size_t n_discard, zeta_error *err);
/* Length of the longest common prefix of the session's tokens and tokens[0..n). */
ZETA_API size_t zeta_session_common_prefix(const zeta_session *s, const zeta_token *tokens, size_t n);

/* Counters since zeta_session_new (never reset by rewind). */
typedef struct zeta_session_stats {
    uint64_t n_evaluated;     /* tokens run through the model (prompts and generated tokens) */
    uint64_t n_reused;        /* prompt tokens zeta_generate did not evaluate because the session held them */
    uint64_t n_shifted;       /* tokens dropped by context shifts */
    uint32_t n_shifts;        /* context shifts */
    uint32_t n_evals;         /* successful eval calls (a generated token is one) */
    /* decoding modes (docs/GATING.md); a "step" is a successful single-token evaluation */
    uint64_t n_steps;
    uint64_t n_sparse_steps;  /* steps that ran the sparse pass (fallbacks included; ULTIMATE: the drafts) */
    uint64_t n_dense_steps;   /* steps that ran only the dense pass; n_sparse_steps + n_dense_steps == n_steps */
    uint64_t n_fallbacks;     /* sparse steps recomputed densely (each also ran the dense pass once) */
    double energy_sum;        /* sum over sparse steps of the kept energy ratio (kept / total sum of squares of the
                               * thresholded inputs, averaged over a step's inputs) */
    double kept_sum[4];       /* sum over sparse steps of the kept input fraction: attn_in, attn_out, ffn_in, ffn_mid */
    uint64_t n_drafted;       /* ULTIMATE: tokens drafted by the sparse pass */
    uint64_t n_accepted;      /* ULTIMATE: drafted tokens the dense verification accepted */
    uint64_t n_verifies;      /* ULTIMATE: batched dense verification passes */
} zeta_session_stats;
ZETA_API void zeta_session_get_stats(const zeta_session *s, zeta_session_stats *out);

/* Saves the session's state — its tokens, the last logits, the sampler RNG and the KV cache of the
 * evaluated positions — to `path` (written to a temporary file next to it and renamed). The file
 * is for the same model and KV cache types, on a machine of the same byte order. */
ZETA_API zeta_status zeta_session_save(const zeta_session *s, const char *path, zeta_error *err);
/* Restores a file written by zeta_session_save into a session of the same model and KV cache types
 * whose context holds the saved tokens. The header, the file size and the tokens are checked and
 * the whole file is read before the session changes: on any error the session is as it was
 * (ZETA_ERR_FORMAT: not a session file, truncated, damaged; ZETA_ERR_INVALID_ARGUMENT: another
 * model or KV types; ZETA_ERR_CONTEXT_FULL: more tokens than the context; ZETA_ERR_IO). */
ZETA_API zeta_status zeta_session_load(zeta_session *s, const char *path, zeta_error *err);

/* ---------------------------------------------------------------------------------------------
 * Sampling. temperature 0 means greedy (argmax after penalties, ties to the lowest id); negative
 * values are rejected.
 */
typedef struct zeta_sampler_params {
    float temperature;        /* default 0.8 */
    int top_k;                /* default 40; <= 0 disables */
    float top_p;              /* default 0.95; 1 disables */
    float min_p;              /* default 0.05; 0 disables */
    float repeat_penalty;     /* default 1.0 (off) */
    int repeat_last_n;        /* default 64; tokens of history the penalties look at; -1 = all */
    float frequency_penalty;  /* default 0 */
    float presence_penalty;   /* default 0 */
} zeta_sampler_params;
ZETA_API zeta_sampler_params zeta_sampler_params_default(void);

/* Samples from the current logits with the session's RNG (seeded by zeta_session_params.seed). */
ZETA_API zeta_status zeta_session_sample(zeta_session *s, const zeta_sampler_params *p, zeta_token *out,
                                         zeta_error *err);

/* ---------------------------------------------------------------------------------------------
 * High-level streaming generation. `text` always holds complete UTF-8 characters (partial
 * multibyte tokens are buffered). Return true to continue, false to stop (status ZETA_OK,
 * finish reason ZETA_FINISH_STOPPED). The callback must not call functions on the same session.
 */
typedef bool (*zeta_on_text)(void *user, const char *text, size_t len);

typedef struct zeta_generate_params {
    zeta_sampler_params sampler;
    uint32_t max_tokens;      /* default 256; 0 = until EOS or the context is full */
    const char *const *stop;  /* stop strings (not included in the output) */
    size_t n_stop;
    zeta_on_text on_text;
    void *user;
    bool add_bos;             /* default true: add BOS (if the model uses one) when the session is empty */
    bool parse_special;       /* default false */
    /* default false: when the context is full, drop the older half of the tokens after the first
     * n_keep (zeta_session_shift) and go on; without it generation ends with ZETA_FINISH_CONTEXT_FULL
     * and a prompt that does not fit is refused with ZETA_ERR_CONTEXT_FULL */
    bool context_shift;
    uint32_t n_keep;          /* tokens a context shift keeps at the start (a leading BOS is always kept) */
    /* default false: `prompt` is the whole conversation so far (rendered the same way each turn): the
     * session keeps the longest prefix its tokens share with the prompt's and evaluates only the rest
     * (result.n_reused); BOS is added as for an empty session */
    bool reuse_prefix;
} zeta_generate_params;
ZETA_API zeta_generate_params zeta_generate_params_default(void);

typedef enum zeta_finish_reason {
    ZETA_FINISH_NONE = 0,
    ZETA_FINISH_EOS = 1,        /* the model produced an end-of-generation token */
    ZETA_FINISH_LENGTH = 2,     /* max_tokens reached */
    ZETA_FINISH_STOP_STRING = 3,
    ZETA_FINISH_STOPPED = 4,    /* the callback returned false */
    ZETA_FINISH_CONTEXT_FULL = 5
} zeta_finish_reason;

typedef struct zeta_generate_result {
    zeta_finish_reason finish;
    uint32_t n_prompt;        /* prompt tokens evaluated in this call */
    uint32_t n_generated;     /* tokens sampled */
    double prompt_ms;         /* wall time of prompt evaluation */
    double generate_ms;       /* wall time of the sampling loop */
    uint32_t n_reused;        /* prompt tokens already in the session (reuse_prefix) and not evaluated */
    uint32_t n_shifted;       /* tokens dropped by context shifts during this call */
} zeta_generate_result;

/* Continues the session: evaluates `prompt` after whatever the session holds, then samples.
 * Not all-or-nothing: generated tokens stay in the session when a later step fails or is cancelled
 * (result says how many); with reuse_prefix the tokens after the shared prefix are dropped before
 * the prompt is evaluated, and with context_shift a shift may happen first, so an error or cancel
 * during the prompt leaves the session holding the kept part (never anything inconsistent). */
ZETA_API zeta_status zeta_generate(zeta_session *s, const char *prompt, const zeta_generate_params *p,
                                   zeta_generate_result *result, zeta_error *err);

/* ---------------------------------------------------------------------------------------------
 * Chat templates. ZetaLm runs no Jinja: like llama.cpp, it recognises the common template families
 * from the text of a model's tokenizer.chat_template and renders them in C, byte for byte as
 * llama.cpp's llama_chat_apply_template does. The names are llama.cpp's own built-in names (those
 * of its --chat-template NAME), each rendering exactly what llama.cpp renders under that name.
 */
typedef struct zeta_chat_message {
    const char *role;         /* "system", "user" or "assistant" */
    const char *content;      /* UTF-8 */
} zeta_chat_message;

/* The template names zeta_chat_apply accepts, comma-separated: "chatml, llama2, llama2-sys,
 * llama2-sys-bos, llama2-sys-strip, llama3, llama4, mistral-v1, mistral-v3, mistral-v3-tekken,
 * mistral-v7, mistral-v7-tekken, gemma, phi3, phi4, zephyr, glmedge, falcon3, deepseek, deepseek2,
 * deepseek3, command-r, granite, granite-4.0, granite-4.1, exaone3, exaone4, openchat, vicuna,
 * vicuna-orca", all llama.cpp's names with llama.cpp's meaning. Note that llama2 is the [INST]
 * format without a <<SYS>> block (Llama 2 chat's own is llama2-sys-strip) and deepseek is DeepSeek
 * Coder's (DeepSeek V3 / R1 is deepseek3): ZetaLm's first versions used "llama2" for
 * llama2-sys-strip and "deepseek" for deepseek3. zeta_chat_apply and zeta_chat_end_of_turn also
 * take "mistral", ZetaLm's alias of mistral-v3, which is not listed. Roles: system, user,
 * assistant. */
ZETA_API const char *zeta_chat_templates(void);
/* The built-in template (one of zeta_chat_templates(), never the alias) a Jinja template text is
 * recognised as, by llama.cpp's detection rules in llama.cpp's order: llama.cpp's name whenever
 * llama.cpp detects one we render (a text equal to a name gives that name); NULL when llama.cpp
 * would use a template we do not render, or none, and for NULL text. */
ZETA_API const char *zeta_chat_template_detect(const char *tmpl);
/* zeta_chat_template_detect() of the model's tokenizer.chat_template; NULL when the model has no
 * template or one we do not render (zeta serve and the examples then use "chatml"). */
ZETA_API const char *zeta_model_chat_template(const zeta_model *model);
/* The text that ends an assistant turn in template `name` ("<|im_end|>" for chatml, "</s>" for the
 * llama2 and mistral ones, ...; for glmedge and falcon3, whose turns have no end marker, the
 * opening of the next user turn, "<|user|>"), for use as a stop string when the model's vocabulary
 * lacks it as a special token; NULL for an unknown name. */
ZETA_API const char *zeta_chat_end_of_turn(const char *name);
/* Renders `msgs` with template `name` into buf (NUL-terminated; *n_out = length without the NUL,
 * cap counts bytes including it). add_assistant ends the text with the opening of an assistant turn
 * so that the model writes the reply (the llama2 and mistral templates have none: their user turn
 * already ends with [/INST]). The text has no leading BOS (tokenize it with
 * ZETA_TOKENIZE_ADD_SPECIAL | ZETA_TOKENIZE_PARSE_SPECIAL). ZETA_ERR_INVALID_ARGUMENT: unknown
 * template name, NULL role/content, or a role the template cannot express. */
ZETA_API zeta_status zeta_chat_apply(const char *name, const zeta_chat_message *msgs, size_t n,
                                     bool add_assistant, char *buf, size_t cap, size_t *n_out, zeta_error *err);

/* ---------------------------------------------------------------------------------------------
 * Calibration for variational gating (docs/GATING.md): runs the dense model over a text and writes
 * the sparsity file that zeta_model_params.sparsity_path reads: per layer and matmul input
 * (attention input, attention output, MLP input, MLP middle) the |x| threshold below which the
 * given fraction of the values falls, for each target sparsity, plus the entropy gate's defaults.
 * Deterministic: the same model, text and parameters give the same file. CPU backend only.
 */
typedef struct zeta_calibrate_params {
    uint32_t n_ctx;           /* tokens per chunk (each evaluated from an empty cache), default 512 */
    uint32_t n_chunks;        /* default 0 = every whole chunk of the text */
    const float *sparsities;  /* target sparsities in (0, 1), ascending; default NULL = 0.25, 0.3, 0.4, 0.5, 0.6 */
    size_t n_sparsities;      /* at most 16 */
    int n_threads;            /* 0 = physical cores */
    float gate_quantile;      /* default 0.7: gate_entropy = this quantile of the dense next-token entropy */
    float fallback_quantile;  /* default 0.97: fallback_entropy = this quantile */
} zeta_calibrate_params;
ZETA_API zeta_calibrate_params zeta_calibrate_params_default(void);
/* Tokenizes `text` (BOS added as the model does), evaluates n_chunks chunks of n_ctx tokens and
 * writes the sparsity file to `out_path` (temporary file + rename). ZETA_ERR_INVALID_ARGUMENT: a text
 * shorter than one chunk, bad sparsities; ZETA_ERR_UNSUPPORTED: a model loaded for CUDA. */
ZETA_API zeta_status zeta_calibrate(const zeta_model *model, const char *text, size_t len,
                                    const zeta_calibrate_params *params, const char *out_path, zeta_error *err);

/* ---------------------------------------------------------------------------------------------
 * Synthetic models: random weights at the shapes of real models, for benchmarks without downloads.
 * The tokenizer is copied from a vocabulary GGUF (e.g. a llama.cpp ggml-vocab-*.gguf file) and
 * padded with unused control tokens up to the shape's vocabulary size. Every 2-D weight gets
 * `type`; norms are f32. Written to a temporary file and renamed, so a failure leaves no output.
 */
typedef struct zeta_synth_params {
    const char *shape;        /* one of zeta_synth_shapes(); default "tinyllama-1.1b" */
    zeta_type type;           /* default ZETA_TYPE_Q4_0 */
    uint64_t seed;            /* default 1 */
    const char *vocab_path;   /* required */
    bool (*on_progress)(void *user, float fraction); /* return false to stop */
    void *progress_user;
} zeta_synth_params;
ZETA_API zeta_synth_params zeta_synth_params_default(void);
/* "tinyllama-1.1b, llama-3.2-1b, qwen2.5-0.5b, llama-2-7b, llama-3-8b, tiny, tiny-hd128" (tiny: 2 layers of
 * 256, 4 heads of 64 over 2 KV heads; tiny-hd128: the same with 2 heads of 128 over 1; for tests) */
ZETA_API const char *zeta_synth_shapes(void);
ZETA_API zeta_status zeta_synth_model(const zeta_synth_params *p, const char *out_path, zeta_error *err);

/* ---------------------------------------------------------------------------------------------
 * Quantization: converts a GGUF model to another weight type the way llama.cpp's llama-quantize
 * does without an importance matrix — the same per-tensor mixes (Q4_K_M keeps some attn_v /
 * ffn_down layers and the output matrix at higher precision, ...), the same fallbacks for rows
 * that do not fit a type's block size, the same tensor order, metadata and alignment, and the
 * same bytes wherever the reference quantizer of a type is available.
 */
typedef struct zeta_quantize_tensor {
    uint32_t index;           /* position in the output file, 0-based */
    uint32_t n_tensors;
    const char *name;
    uint32_t n_dims;
    uint64_t ne[4];           /* ggml order, unused dims 1 */
    zeta_type from, to;       /* from == to: copied unchanged */
    uint64_t bytes_in, bytes_out;
    const char *note;         /* "" or a sentence: block-size fallback, --tensor-type override */
} zeta_quantize_tensor;

typedef struct zeta_quantize_params {
    int n_threads;            /* 0 = physical cores */
    bool pure;                /* every quantizable tensor gets the base type of TYPE (fallbacks still apply) */
    bool dry_run;             /* compute the plan and sizes only; `out` may be NULL, nothing is written */
    bool allow_requantize;    /* accept already-quantized inputs (dequantized, then quantized again: lossy) */
    const char *const *tensor_types; /* "REGEX=TYPE" overrides as llama-quantize --tensor-type (first match wins) */
    size_t n_tensor_types;
    bool (*on_progress)(void *user, float fraction); /* calling thread; return false to cancel */
    void *progress_user;
    /* called on the calling thread once per tensor, in output order, when it is written (or planned) */
    void (*on_tensor)(void *user, const zeta_quantize_tensor *t);
    void *tensor_user;
} zeta_quantize_params;
ZETA_API zeta_quantize_params zeta_quantize_params_default(void);

typedef struct zeta_quantize_result {
    uint32_t n_tensors;
    uint32_t n_converted;     /* tensors whose type changed */
    uint32_t n_fallback;      /* tensors that fell back to another type because of their row length */
    uint64_t n_elements;      /* weights in all tensors */
    uint64_t bytes_in;        /* tensor data of the input */
    uint64_t bytes_out;       /* tensor data of the output; bits per weight = 8 * bytes_out / n_elements */
    uint64_t file_bytes;      /* size of the output file (also computed in a dry run) */
    uint32_t file_type;       /* general.file_type written (llama.cpp's LLAMA_FTYPE_* value) */
} zeta_quantize_result;

/* The TYPE names zeta_quantize accepts, comma-separated ("Q4_0, Q4_1, ..., Q4_K_M, ..., F16, BF16, F32"). */
ZETA_API const char *zeta_quantize_types(void);

/* Quantizes `in` to `out` with TYPE `type_name` (case-insensitive, as llama-quantize's names).
 * The output is written to a temporary file next to `out` and renamed when complete; on any failure
 * or cancel no file is left behind. `in` and `out` must not be the same file (checked by device and
 * inode, so links are caught). ZETA_ERR_UNSUPPORTED names a tensor type whose quantizer ZetaLm does
 * not have yet. `params` and `result` may be NULL. */
ZETA_API zeta_status zeta_quantize(const char *in, const char *out, const char *type_name,
                                   const zeta_quantize_params *params, zeta_quantize_result *result, zeta_error *err);

/* ---------------------------------------------------------------------------------------------
 * System.
 */
/* Which CPU kernel set is in use: "avx512vnni", "avx512", "avxvnni", "avx2", "neondot", "neon" or "scalar". */
ZETA_API const char *zeta_cpu_kernels(void);
/* Physical cores as the library counts them (the n_threads default). */
ZETA_API int zeta_cpu_cores(void);

#ifdef __cplusplus
}
#endif
#endif /* ZETA_H */
