/* cpu_kv.h — the CPU backend's KV cache and the attention that reads it.
 *
 * Layout: per layer, K and V are stored by head, [n_head_kv][n_ctx][head_dim], each head's row in
 * the cache type (F32, F16, Q8_0 or Q4_0; chosen separately for K and V; the block types need
 * head_dim % 32 == 0), so attention over one head reads two contiguous streams that the hardware
 * prefetcher follows (stored by position, one head's rows were n_head_kv rows apart, and decode
 * attention over 16K positions took twice as long). cpu_kv_read / cpu_kv_write (session files)
 * still use the by-position order. Attention is tiled with an online softmax (flash-attention
 * style): per query row and KV head, positions are visited in tiles (CPU_KV_DTILE decoding,
 * CPU_KV_TILE for prompts); the query heads sharing a KV head (GQA group) are processed together so
 * every K/V row is read and dequantized once per group. Memory is O(tile), not O(context). Decode
 * takes one KV head per work item and splits the positions into chunks computed in parallel and
 * merged (flash-decoding) only when there are fewer items than twice the threads. Decode uses the
 * fused kernels of mathk.h (kv_score / kv_accum: one call per KV head and tile) where the CPU has
 * them, else vec_dot per position and query head, then dequantize + axpy. Prompts (4 tokens or
 * more) take blocks of query tokens x the group's heads at once: per tile, the K rows converted
 * once to f32, scores = Q K^T as a register-tiled product (gemm_f.h), and out += P V by the V
 * accumulation kernel of decode (kv_accum, every row of the block against each V row in turn). */
#ifndef ZETA_CPU_KV_H
#define ZETA_CPU_KV_H

#include "backend.h"
#include "cpu/kernels.h"
#include "cpu/gemm_f.h"
#include "cpu/mathk.h"
#include "cpu/threadpool.h"

#include <stdbool.h>

#define CPU_KV_TILE 128  /* positions per tile, prompt path */
#define CPU_KV_DTILE 256 /* positions per tile, decode (fewer softmax / merge calls per position) */

typedef struct cpu_kv {
    uint32_t n_layer, n_ctx, n_head, n_head_kv, dk, dv;
    zeta_type tk, tv;
    zeta_type qt;                  /* type the query is converted to for q . K (zk_vec_dot_type(tk)) */
    int rot_k, rot_v;              /* Walsh-Hadamard block size K / V rows are rotated by, 0 = none */
    size_t k_head, v_head;         /* bytes of one head's row at one position */
    size_t k_pos, v_pos;           /* bytes of one position (n_head_kv rows) */
    size_t q_head;                 /* bytes of one converted query head */
    uint8_t **k, **v;              /* per layer: n_ctx * k_pos (v_pos) bytes */
    const zk_kernels *kern;
    const zk_math *math;
    zk_kv_score_fn kv_score;       /* decode: fused kernels of math for tk / tv, or NULL (per-row loop) */
    zk_kv_accum_fn kv_accum;
    int n_threads, max_chunks;
    uint8_t *scratch;              /* n_threads * scratch_bytes */
    size_t scratch_bytes;
    float *part;                   /* decode chunk partials: 3 tokens * max_chunks * n_head * (dv + 2) */
    float *rowbuf;                 /* dk floats: one key row for the shift */
    int qb;                        /* query tokens per block in the prompt path */
    size_t block_bytes;            /* per-thread scratch of the prompt path */
    uint8_t *block_scratch;        /* n_threads * block_bytes */
    zk_gemm_rows_fn gemm_f32;
    /* prompt path, F32 / F16 K: the scores by kv_score (the decode path's kernel, every query row
     * of a block as one group) where there is no SIMD gemm_f32 (AArch64): the same sums as a
     * single-token step, so a batched pass (ULTIMATE's verification) scores as decoding does, and
     * faster than the scalar reference product */
    bool prompt_kv_score;
} cpu_kv;

/* Checks that the types are usable for this model (F32/F16/Q8_0/Q4_0; block types need a head
 * size that is a multiple of 32); the message names the problem. */
zeta_status cpu_kv_check_types(const zeta_hparams *hp, zeta_type tk, zeta_type tv, zeta_error *err);

/* Whether K and V are stored rotated, as llama.cpp does since its attention rotation: a quantized
 * type and a head size that is a multiple of 64. K (with the queries) in blocks of the largest
 * power of two >= 64 dividing the head size, V (and the attention output, rotated back) in blocks
 * of 64; each block x -> H x / sqrt(n), H the Sylvester-ordered Hadamard matrix (its own inverse
 * after the scaling). *rk, *rv = the block sizes, 0 = not rotated. */
void cpu_kv_rotation(const zeta_hparams *hp, zeta_type tk, zeta_type tv, bool enabled, int *rk, int *rv);
/* x[0..n_elems) in blocks of n (a power of two): each block -> H x / sqrt(n), computed as ggml's
 * fast Walsh-Hadamard transform (scale first, then butterflies of span 1, 2, 4, ...), so the bits
 * equal llama.cpp's */
void cpu_kv_fwht(float *x, size_t n_elems, int n);

zeta_status cpu_kv_init(cpu_kv *kv, const zeta_hparams *hp, uint32_t n_ctx, zeta_type tk, zeta_type tv, bool rotate, int n_threads,
                        zeta_error *err);
void cpu_kv_free(cpu_kv *kv);

/* Stores k, v of n_tok tokens (rows of n_head_kv * head_dim floats) at positions pos0.. of layer il,
 * then out[t] = causal softmax(q[t] . K / sqrt(dk)) V over positions 0..pos0+t. With rot_k / rot_v,
 * q and k / v are rotated in place first (and out back at the end). */
void cpu_kv_attention(cpu_kv *kv, threadpool *pool, int il, float *q, float *k, float *v, int n_tok, uint32_t pos0, float *out);

/* Moves positions [p0, p1) of every layer to p0 + delta (delta < 0, p0 + delta >= 0) and rotates
 * their keys by delta positions (RoPE is a rotation, so rope(pos) followed by rope(delta) is
 * rope(pos + delta)). Quantized keys are dequantized, rotated and quantized again (a rotated cache:
 * Hadamard back, RoPE, Hadamard forward). */
void cpu_kv_shift(cpu_kv *kv, uint32_t p0, uint32_t p1, int32_t delta, const zeta_rope_params *rp);

/* Copies n positions starting at p0 of layer il's K (which 0) or V (which 1) to / from dst / src
 * (n * k_pos or n * v_pos bytes, by position: [n][n_head_kv][row]). */
void cpu_kv_read(const cpu_kv *kv, int il, int which, uint32_t p0, uint32_t n, void *dst);
void cpu_kv_write(cpu_kv *kv, int il, int which, uint32_t p0, uint32_t n, const void *src);

/* RoPE of cpu_backend.c: rotates the first n_rot dims of each head of x[t] (n_heads heads of
 * head_dim) as if at position pos0 + t * step. */
void cpu_rope_rows(float *x, int n_tok, int n_heads, int head_dim, int64_t pos0, int64_t step, const zeta_rope_params *rp);

#endif
