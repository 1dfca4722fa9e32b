/* cpu_kv.c — the CPU backend's KV cache (F32/F16/Q8_0/Q4_0, by position) and tiled online-softmax
 * attention over it; context shift (move + re-rotate keys) and raw copies for session state.
 * See cpu_kv.h for the layout. */
#include "cpu/cpu_kv.h"
#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool kv_type_ok(zeta_type t) {
    return t == ZETA_TYPE_F32 || t == ZETA_TYPE_F16 || t == ZETA_TYPE_Q8_0 || t == ZETA_TYPE_Q4_0;
}

zeta_status cpu_kv_check_types(const zeta_hparams *hp, zeta_type tk, zeta_type tv, zeta_error *err) {
    if (hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv || hp->n_head / hp->n_head_kv > 256)
        return zeta_fail(err, ZETA_ERR_UNSUPPORTED, "attention with %u query heads over %u KV heads is not supported", hp->n_head,
                         hp->n_head_kv);
    const zeta_type ts[2] = {tk, tv};
    const uint32_t dims[2] = {hp->head_dim_k, hp->head_dim_v};
    for (int i = 0; i < 2; i++) {
        const char *what = i ? "V" : "K";
        if (!kv_type_ok(ts[i])) {
            const char *tn = zeta_type_name(ts[i]);
            return zeta_fail(err, ZETA_ERR_UNSUPPORTED, "KV cache type %s for %s is not supported (supported: f32, f16, q8_0, q4_0)",
                             tn ? tn : "(invalid)", what);
        }
        const uint32_t bs = zeta_type_get(ts[i])->block_size;
        if (dims[i] % bs)
            return zeta_fail(err, ZETA_ERR_UNSUPPORTED,
                             "KV cache type %s for %s needs a head size that is a multiple of %u; this model's is %u (use f16 or f32)",
                             zeta_type_name(ts[i]), what, bs, dims[i]);
    }
    return ZETA_OK;
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

void cpu_kv_rotation(const zeta_hparams *hp, zeta_type tk, zeta_type tv, bool enabled, int *rk, int *rv) {
    *rk = *rv = 0;
    if (!enabled) return;
    const bool qk = tk == ZETA_TYPE_Q8_0 || tk == ZETA_TYPE_Q4_0, qv = tv == ZETA_TYPE_Q8_0 || tv == ZETA_TYPE_Q4_0;
    if (qk && hp->head_dim_k % 64 == 0) {
        int n = 64;
        while (hp->head_dim_k % (2u * (uint32_t)n) == 0) n *= 2;
        *rk = n;
    }
    if (qv && hp->head_dim_v % 64 == 0) *rv = 64;
}

void cpu_kv_fwht(float *x, size_t n_elems, int n) {
    const float scale = 1.0f / sqrtf((float)n);
    for (size_t b = 0; b + (size_t)n <= n_elems; b += (size_t)n) {
        float *y = x + b;
        for (int j = 0; j < n; j++) y[j] *= scale;
        for (int len = 1; len < n; len <<= 1)
            for (int i = 0; i < n; i += 2 * len)
                for (int j = i; j < i + len; j++) {
                    const float u = y[j], v = y[j + len];
                    y[j] = u + v;
                    y[j + len] = u - v;
                }
    }
}

zeta_status cpu_kv_init(cpu_kv *kv, const zeta_hparams *hp, uint32_t n_ctx, zeta_type tk, zeta_type tv, bool rotate, int n_threads,
                        zeta_error *err) {
    memset(kv, 0, sizeof *kv);
    zeta_status st = cpu_kv_check_types(hp, tk, tv, err);
    if (st != ZETA_OK) return st;
    kv->n_layer = hp->n_layer;
    kv->n_ctx = n_ctx;
    kv->n_head = hp->n_head;
    kv->n_head_kv = hp->n_head_kv;
    kv->dk = hp->head_dim_k;
    kv->dv = hp->head_dim_v;
    kv->tk = tk;
    kv->tv = tv;
    kv->qt = zk_vec_dot_type(tk);
    cpu_kv_rotation(hp, tk, tv, rotate, &kv->rot_k, &kv->rot_v);
    kv->k_head = (size_t)zeta_row_bytes(tk, kv->dk);
    kv->v_head = (size_t)zeta_row_bytes(tv, kv->dv);
    kv->k_pos = kv->k_head * kv->n_head_kv;
    kv->v_pos = kv->v_head * kv->n_head_kv;
    kv->q_head = (size_t)zeta_row_bytes(kv->qt, kv->dk);
    kv->kern = zk_select();
    kv->math = zk_math_select();
    kv->kv_score = kv->math->kv_score[tk]; /* NULL: the per-row loop over vec_dot (see mathk.h) */
    kv->kv_accum = kv->math->kv_accum[tv];
    kv->n_threads = n_threads;
    kv->max_chunks = 2 * n_threads;
    const size_t group = kv->n_head / kv->n_head_kv;
    /* per thread, decode: the group's converted queries | its scores for a tile | one V row in f32 |
     * its accumulators | m, l (independent of the context length) */
    kv->scratch_bytes = align64(group * kv->q_head) + align64(sizeof(float) * group * CPU_KV_DTILE) +
                        align64(sizeof(float) * kv->dv) + align64(sizeof(float) * group * kv->dv) + align64(sizeof(float) * 2 * group);
    kv->k = calloc(kv->n_layer, sizeof *kv->k);
    kv->v = calloc(kv->n_layer, sizeof *kv->v);
    kv->scratch = zeta_malloc_array((size_t)n_threads, kv->scratch_bytes + 64);
    /* chunk partials: up to 3 decoded tokens x max_chunks chunks x every query head */
    kv->part = zeta_malloc_array((size_t)3 * kv->max_chunks * kv->n_head, sizeof(float) * (kv->dv + 2));
    kv->rowbuf = zeta_malloc_array((size_t)kv->dk, sizeof(float));
    /* prompt path: R = qb * group query rows per block (about 128) */
    kv->qb = (int)(128 / group);
    if (kv->qb < 1) kv->qb = 1;
    if (kv->qb > 16) kv->qb = 16;
    {
        const size_t R = (size_t)kv->qb * group, T = CPU_KV_TILE;
        /* Q rows | K tile f32 | scores | accumulators | m, l */
        kv->block_bytes = align64(sizeof(float) * R * kv->dk) + align64(sizeof(float) * T * kv->dk) + align64(sizeof(float) * R * T) +
                          align64(sizeof(float) * R * kv->dv) + align64(sizeof(float) * 2 * R);
    }
    kv->block_scratch = zeta_malloc_array((size_t)n_threads, kv->block_bytes + 64);
    const zk_gemmf_table *gsel = zk_gemmf_select(), *gref = zk_gemmf_scalar();
    kv->gemm_f32 = gsel->gemm[ZETA_TYPE_F32] ? gsel->gemm[ZETA_TYPE_F32] : gref->gemm[ZETA_TYPE_F32];
    kv->prompt_kv_score = !gsel->gemm[ZETA_TYPE_F32] && kv->kv_score && (tk == ZETA_TYPE_F32 || tk == ZETA_TYPE_F16);
    if (!kv->k || !kv->v || !kv->scratch || !kv->part || !kv->rowbuf || !kv->block_scratch) goto oom;
    for (uint32_t i = 0; i < kv->n_layer; i++) {
        kv->k[i] = zeta_malloc_array(n_ctx, kv->k_pos);
        kv->v[i] = zeta_malloc_array(n_ctx, kv->v_pos);
        if (!kv->k[i] || !kv->v[i]) goto oom;
    }
    return ZETA_OK;
oom:;
    const uint64_t kv_pos_k = kv->k_pos, kv_pos_v = kv->v_pos;
    cpu_kv_free(kv);
    return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory allocating the KV cache (%llu MiB for %u tokens, K %s, V %s)",
                     (unsigned long long)((((uint64_t)n_ctx * hp->n_layer) * (kv_pos_k + kv_pos_v)) >> 20), n_ctx, zeta_type_name(tk),
                     zeta_type_name(tv));
}

void cpu_kv_free(cpu_kv *kv) {
    if (kv->k)
        for (uint32_t i = 0; i < kv->n_layer; i++) free(kv->k[i]);
    if (kv->v)
        for (uint32_t i = 0; i < kv->n_layer; i++) free(kv->v[i]);
    free(kv->k);
    free(kv->v);
    free(kv->scratch);
    free(kv->part);
    free(kv->rowbuf);
    free(kv->block_scratch);
    memset(kv, 0, sizeof *kv);
}

/* n_elems floats -> the cache type at dst */
static void store_row(const cpu_kv *kv, zeta_type t, uint8_t *dst, const float *src, size_t n_elems) {
    switch (t) {
    case ZETA_TYPE_F32: memcpy(dst, src, n_elems * sizeof(float)); break;
    case ZETA_TYPE_F16: {
        zeta_f16 *d = (zeta_f16 *)dst;
        for (size_t i = 0; i < n_elems; i++) d[i] = zeta_f32_to_f16(src[i]);
        break;
    }
    case ZETA_TYPE_Q8_0: kv->kern->from_float[ZETA_TYPE_Q8_0](src, dst, (int64_t)n_elems); break;
    default: quantize_row_q4_0_ref(src, (block_q4_0 *)dst, (int64_t)n_elems); break;
    }
}

/* n_tok rows of n_head_kv * d floats -> positions pos0.. of one layer's K (which 0) or V (1) */
static void store_rows(const cpu_kv *kv, int which, uint8_t *layer, uint32_t pos0, const float *src, int n_tok) {
    const zeta_type t = which ? kv->tv : kv->tk;
    const size_t d = which ? kv->dv : kv->dk, hb = which ? kv->v_head : kv->k_head;
    for (int i = 0; i < n_tok; i++)
        for (uint32_t h = 0; h < kv->n_head_kv; h++)
            store_row(kv, t, layer + ((size_t)h * kv->n_ctx + pos0 + (size_t)i) * hb, src + ((size_t)i * kv->n_head_kv + h) * d, d);
}

/* one head row of the cache type -> f32 */
static void load_row(const cpu_kv *kv, zeta_type t, const uint8_t *src, float *dst, int64_t n) {
    switch (t) {
    case ZETA_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case ZETA_TYPE_F16: kv->math->f16_to_f32(src, dst, n); break;
    case ZETA_TYPE_Q8_0: kv->math->q8_0_to_f32(src, dst, n); break;
    default: kv->math->q4_0_to_f32(src, dst, n); break;
    }
}

/* Merges one tile into a query row's running softmax: the softmax kernel took the tile's weights
 * relative to mt = max(running max, tile max), with sum lt. If the maximum grew, the accumulator
 * and the running sum are rescaled to it first, so afterwards acc += sum_i s[i] V[i] is right. */
static void online_merge(float *m, float *l, float *acc, int dv, float mt, float lt) {
    if (mt > *m) {
        if (*m != -INFINITY) {
            const float r = expf(*m - mt);
            for (int d = 0; d < dv; d++) acc[d] *= r;
            *l *= r;
        }
        *m = mt;
    }
    *l += lt;
}

typedef struct att_job {
    cpu_kv *kv;
    int il, n_tok, n_chunks;
    uint32_t pos0;
    const float *q;
    float *out;
} att_job;

/* The decode path: item = (token, chunk of positions, KV head); the cache is by head, so an item
 * streams its head's K and V rows. Per tile of positions: the group's scores (fused kernel, or
 * vec_dot per row and query), softmax merged into the running max / sum, then the V rows added
 * into the group's accumulators (fused kernel, or dequantize + axpy). */
static void att_worker(void *arg, int ith, int nth) {
    const att_job *j = arg;
    cpu_kv *kv = j->kv;
    const int group = (int)(kv->n_head / kv->n_head_kv), dk = (int)kv->dk, dv = (int)kv->dv, nkv = (int)kv->n_head_kv;
    const float scale = 1.0f / sqrtf((float)dk);
    uint8_t *sp = (uint8_t *)(((uintptr_t)(kv->scratch + (size_t)ith * (kv->scratch_bytes + 64)) + 63) & ~(uintptr_t)63);
    uint8_t *qq = sp;
    float *s = (float *)(sp += align64((size_t)group * kv->q_head));
    float *vt = (float *)(sp += align64(sizeof(float) * (size_t)group * CPU_KV_DTILE));
    float *acc = (float *)(sp += align64(sizeof(float) * (size_t)dv));
    float *mlf = (float *)(sp += align64(sizeof(float) * (size_t)group * dv));
    const zk_vec_dot_fn dot = kv->kern->vec_dot[kv->tk];
    const zk_softmax_fn softmax = kv->math->softmax;
    const zk_axpy_fn axpy = kv->math->axpy;
    const zk_kv_score_fn score = kv->kv_score;
    const zk_kv_accum_fn accum = kv->kv_accum;
    const int nc = j->n_chunks, total = j->n_tok * nc * nkv;
    float *m = mlf, *l = mlf + group;
    for (int idx = ith; idx < total; idx += nth) {
        const int kvh = idx % nkv, c = idx / nkv % nc, t = idx / nkv / nc;
        const int r0 = kvh * group; /* the group's first query head */
        const uint32_t n_kv = j->pos0 + (uint32_t)t + 1;
        const uint32_t b0 = (uint32_t)((uint64_t)n_kv * (uint64_t)c / (uint64_t)nc);
        const uint32_t b1 = (uint32_t)((uint64_t)n_kv * (uint64_t)(c + 1) / (uint64_t)nc);
        const float *qt = j->q + ((size_t)t * kv->n_head + (size_t)r0) * dk; /* query row r0 + g */
        if (kv->qt != ZETA_TYPE_F32)
            for (int g = 0; g < group; g++) kv->kern->from_float[kv->qt](qt + (size_t)g * dk, qq + (size_t)g * kv->q_head, dk);
        const uint8_t *qg = kv->qt == ZETA_TYPE_F32 ? (const uint8_t *)qt : qq; /* rows q_head bytes apart */
        for (int g = 0; g < group; g++) m[g] = -INFINITY, l[g] = 0.0f;
        memset(acc, 0, sizeof(float) * (size_t)group * dv);
        const uint8_t *K = kv->k[j->il] + (size_t)kvh * kv->n_ctx * kv->k_head;
        const uint8_t *V = kv->v[j->il] + (size_t)kvh * kv->n_ctx * kv->v_head;
        for (uint32_t p0 = b0; p0 < b1; p0 += CPU_KV_DTILE) {
            const int n = (int)(b1 - p0 < CPU_KV_DTILE ? b1 - p0 : CPU_KV_DTILE);
            const uint8_t *kr = K + (size_t)p0 * kv->k_head;
            if (score)
                score(dk, n, kr, kv->k_head, group, qg, kv->q_head, s, CPU_KV_DTILE);
            else
                for (int i = 0; i < n; i++, kr += kv->k_head)
                    for (int g = 0; g < group; g++) dot(dk, &s[g * CPU_KV_DTILE + i], kr, qg + (size_t)g * kv->q_head);
            for (int g = 0; g < group; g++) {
                float mt = m[g];
                const float lt = (float)softmax(s + g * CPU_KV_DTILE, n, scale, &mt);
                online_merge(&m[g], &l[g], acc + (size_t)g * dv, dv, mt, lt);
            }
            const uint8_t *vr = V + (size_t)p0 * kv->v_head;
            if (accum) {
                accum(dv, n, vr, kv->v_head, group, s, CPU_KV_DTILE, acc);
                continue;
            }
            for (int i = 0; i < n; i++, vr += kv->v_head) {
                const float *vf = (const float *)vr;
                if (kv->tv != ZETA_TYPE_F32) {
                    load_row(kv, kv->tv, vr, vt, dv);
                    vf = vt;
                }
                for (int g = 0; g < group; g++) axpy(dv, s[g * CPU_KV_DTILE + i], vf, acc + (size_t)g * dv);
            }
        }
        if (nc == 1) {
            for (int g = 0; g < group; g++) {
                float *o = j->out + ((size_t)t * kv->n_head + (size_t)(r0 + g)) * dv;
                const float inv = 1.0f / l[g];
                for (int d = 0; d < dv; d++) o[d] = acc[(size_t)g * dv + d] * inv;
            }
        } else {
            float *pp = kv->part + ((size_t)(t * nc + c) * kv->n_head + (size_t)r0) * (dv + 2);
            for (int g = 0; g < group; g++, pp += dv + 2) {
                pp[0] = m[g];
                pp[1] = l[g];
                memcpy(pp + 2, acc + (size_t)g * dv, sizeof(float) * (size_t)dv);
            }
        }
    }
}

/* The prompt path: item = (block of qb query tokens, KV head); its R = qb * group query rows are
 * processed together against each tile of positions. */
static void att_block_worker(void *arg, int ith, int nth) {
    const att_job *j = arg;
    cpu_kv *kv = j->kv;
    const int group = (int)(kv->n_head / kv->n_head_kv), dk = (int)kv->dk, dv = (int)kv->dv, T = CPU_KV_TILE;
    const float scale = 1.0f / sqrtf((float)dk);
    uint8_t *sp = (uint8_t *)(((uintptr_t)(kv->block_scratch + (size_t)ith * (kv->block_bytes + 64)) + 63) & ~(uintptr_t)63);
    const int qb = kv->qb, RMAX = qb * group;
    float *Q = (float *)sp;
    float *Kf = (float *)(sp += align64(sizeof(float) * (size_t)RMAX * dk));
    float *S = (float *)(sp += align64(sizeof(float) * (size_t)T * dk));
    float *acc = (float *)(sp += align64(sizeof(float) * (size_t)RMAX * T));
    float *mlf = (float *)(sp += align64(sizeof(float) * (size_t)RMAX * dv));
    float *m = mlf, *l = mlf + RMAX;
    const zk_softmax_fn softmax = kv->math->softmax;
    /* acc[r] += sum_i S[r][i] V_i: every row of the block against each V row, decoded once */
    const zk_kv_accum_fn accum = kv->kv_accum ? kv->kv_accum : zk_math_scalar()->kv_accum[kv->tv];
    const uint8_t *K = kv->k[j->il], *V = kv->v[j->il];
    const int n_blocks = (j->n_tok + qb - 1) / qb, total = n_blocks * (int)kv->n_head_kv;
    for (int idx = ith; idx < total; idx += nth) {
        const int kvh = idx % (int)kv->n_head_kv, b = idx / (int)kv->n_head_kv;
        const int t0 = b * qb, t1 = t0 + qb < j->n_tok ? t0 + qb : j->n_tok, R = (t1 - t0) * group;
        /* row r = (t - t0) * group + g */
        for (int t = t0; t < t1; t++)
            for (int g = 0; g < group; g++)
                memcpy(Q + ((size_t)(t - t0) * group + g) * dk, j->q + ((size_t)t * kv->n_head + (size_t)kvh * group + g) * dk,
                       sizeof(float) * (size_t)dk);
        if (kv->qt == ZETA_TYPE_Q8_0) {
            /* block K types score against the query rounded to q8_0, as the row path and ggml do:
             * quantize, then expand again (the block's bytes fit in the K tile buffer) */
            uint8_t *qq = (uint8_t *)Kf;
            for (int r = 0; r < R; r++) {
                kv->kern->from_float[ZETA_TYPE_Q8_0](Q + (size_t)r * dk, qq, dk);
                kv->math->q8_0_to_f32(qq, Q + (size_t)r * dk, dk);
            }
        }
        for (int r = 0; r < R; r++) m[r] = -INFINITY, l[r] = 0.0f;
        memset(acc, 0, sizeof(float) * (size_t)R * dv);
        const uint32_t end = j->pos0 + (uint32_t)t1; /* positions the last token sees */
        for (uint32_t p0 = 0; p0 < end; p0 += (uint32_t)T) {
            const int n = (int)(end - p0 < (uint32_t)T ? end - p0 : (uint32_t)T);
            /* S[r][i] = Q[r] . K[p0 + i] */
            const uint8_t *kt = K + ((size_t)kvh * kv->n_ctx + p0) * kv->k_head;
            if (kv->prompt_kv_score) {
                kv->kv_score(dk, n, kt, kv->k_head, R, Q, sizeof(float) * (size_t)dk, S, (size_t)T);
            } else if (kv->tk == ZETA_TYPE_F32) {
                kv->gemm_f32(dk, kt, kv->k_head, n, Q, (size_t)dk, R, S, (size_t)T);
            } else { /* the tile converted once (not once per group of query rows) */
                for (int i = 0; i < n; i++) load_row(kv, kv->tk, kt + (size_t)i * kv->k_head, Kf + (size_t)i * dk, dk);
                kv->gemm_f32(dk, Kf, sizeof(float) * (size_t)dk, n, Q, (size_t)dk, R, S, (size_t)T);
            }
            /* causal softmax per row, merged into the running max / sum */
            for (int r = 0; r < R; r++) {
                float *sr = S + (size_t)r * T;
                const uint32_t seen = j->pos0 + (uint32_t)(t0 + r / group) + 1; /* positions 0..seen-1 */
                const int nv = seen <= p0 ? 0 : (int)(seen - p0 < (uint32_t)n ? seen - p0 : (uint32_t)n);
                if (nv == 0) {
                    memset(sr, 0, sizeof(float) * (size_t)n);
                    continue;
                }
                float mt = m[r];
                const float lt = (float)softmax(sr, nv, scale, &mt);
                for (int i = nv; i < n; i++) sr[i] = 0.0f;
                online_merge(&m[r], &l[r], acc + (size_t)r * dv, dv, mt, lt);
            }
            accum(dv, n, V + ((size_t)kvh * kv->n_ctx + p0) * kv->v_head, kv->v_head, R, S, (size_t)T, acc);
        }
        for (int r = 0; r < R; r++) {
            const int t = t0 + r / group, g = r % group;
            float *o = j->out + ((size_t)t * kv->n_head + (size_t)kvh * group + g) * dv;
            const float inv = 1.0f / l[r];
            for (int d = 0; d < dv; d++) o[d] = acc[(size_t)r * dv + d] * inv;
        }
    }
}

/* chunk partials (m, l, acc) of every (token, query head) -> out */
static void merge_chunks(const att_job *j) {
    cpu_kv *kv = j->kv;
    const int dv = (int)kv->dv, nc = j->n_chunks, nh = (int)kv->n_head;
    for (int t = 0; t < j->n_tok; t++)
        for (int h = 0; h < nh; h++) {
            float M = -INFINITY;
            for (int c = 0; c < nc; c++) {
                const float *pp = kv->part + ((size_t)(t * nc + c) * nh + h) * (dv + 2);
                if (pp[1] > 0.0f && pp[0] > M) M = pp[0];
            }
            float *o = j->out + ((size_t)t * nh + h) * dv;
            memset(o, 0, sizeof(float) * (size_t)dv);
            double L = 0.0;
            for (int c = 0; c < nc; c++) {
                const float *pp = kv->part + ((size_t)(t * nc + c) * nh + h) * (dv + 2);
                if (!(pp[1] > 0.0f)) continue; /* empty chunk */
                const float w = expf(pp[0] - M);
                L += (double)pp[1] * w;
                for (int d = 0; d < dv; d++) o[d] += w * pp[2 + d];
            }
            const float inv = (float)(1.0 / L);
            for (int d = 0; d < dv; d++) o[d] *= inv;
        }
}

/* the decode path of cpu_kv_attention (1-3 tokens) */
static void decode(cpu_kv *kv, threadpool *pool, const att_job *jp) {
    att_job j = *jp;
    const uint32_t pos0 = j.pos0;
    const int n_tok = j.n_tok;
    const int nth = pool_size(pool), nkv = (int)kv->n_head_kv;
    const uint32_t n_kv = pos0 + 1; /* positions the first token sees */
    /* one KV head per item; the positions split into chunks only if that leaves threads idle */
    const int items = n_tok * nkv;
    if (items < 2 * nth) {
        int nc = (2 * nth + items - 1) / items;
        const int by_len = (int)(n_kv / CPU_KV_DTILE); /* at least a tile per chunk */
        if (nc > by_len) nc = by_len;
        if (nc > kv->max_chunks) nc = kv->max_chunks;
        if (nc > 1) j.n_chunks = nc;
    }
    pool_run(pool, att_worker, &j);
    if (j.n_chunks > 1) merge_chunks(&j);
}

typedef struct prep_job {
    cpu_kv *kv;
    int il, n_tok;
    uint32_t pos0;
    float *q, *k, *v;
} prep_job;

/* tokens [t0, t1): the rotation of their q / k / v rows (blocks never cross a row) and their K / V
 * rows into the cache; any split of the tokens gives the same bytes */
static void prep_tokens(const prep_job *j, int t0, int t1) {
    cpu_kv *kv = j->kv;
    const int n = t1 - t0;
    if (n <= 0) return;
    float *q = j->q + (size_t)t0 * kv->n_head * kv->dk, *k = j->k + (size_t)t0 * kv->n_head_kv * kv->dk;
    float *v = j->v + (size_t)t0 * kv->n_head_kv * kv->dv;
    if (kv->rot_k) {
        cpu_kv_fwht(q, (size_t)n * kv->n_head * kv->dk, kv->rot_k);
        cpu_kv_fwht(k, (size_t)n * kv->n_head_kv * kv->dk, kv->rot_k);
    }
    if (kv->rot_v) cpu_kv_fwht(v, (size_t)n * kv->n_head_kv * kv->dv, kv->rot_v);
    store_rows(kv, 0, kv->k[j->il], j->pos0 + (uint32_t)t0, k, n);
    store_rows(kv, 1, kv->v[j->il], j->pos0 + (uint32_t)t0, v, n);
}

static void prep_worker(void *arg, int ith, int nth) {
    const prep_job *j = arg;
    prep_tokens(j, (int)((int64_t)j->n_tok * ith / nth), (int)((int64_t)j->n_tok * (ith + 1) / nth));
}

void cpu_kv_attention(cpu_kv *kv, threadpool *pool, int il, float *q, float *k, float *v, int n_tok, uint32_t pos0, float *out) {
    prep_job pj = {kv, il, n_tok, pos0, q, k, v};
    att_job j = {kv, il, n_tok, 1, pos0, q, out};
    if (n_tok >= 4) {
        pool_run(pool, prep_worker, &pj);
        pool_run(pool, att_block_worker, &j);
    } else {
        prep_tokens(&pj, 0, n_tok);
        decode(kv, pool, &j);
    }
    if (kv->rot_v) cpu_kv_fwht(out, (size_t)n_tok * kv->n_head * kv->dv, kv->rot_v); /* back: H is its own inverse */
}

void cpu_kv_shift(cpu_kv *kv, uint32_t p0, uint32_t p1, int32_t delta, const zeta_rope_params *rpp) {
    /* the keys already carry the magnitude factor: rotate only (every angle is linear in the
     * position, also with YaRN, so rotating by delta moves a key to pos + delta) */
    zeta_rope_params r1 = *rpp;
    r1.mscale = 1.0f;
    const zeta_rope_params *rp = &r1;
    float *tmp = kv->rowbuf;
    for (uint32_t il = 0; il < kv->n_layer; il++)
        for (uint32_t h = 0; h < kv->n_head_kv; h++) {
            uint8_t *K = kv->k[il] + (size_t)h * kv->n_ctx * kv->k_head, *V = kv->v[il] + (size_t)h * kv->n_ctx * kv->v_head;
            for (uint32_t p = p0; p < p1; p++) {
                const uint32_t to = (uint32_t)((int64_t)p + delta);
                load_row(kv, kv->tk, K + (size_t)p * kv->k_head, tmp, (int64_t)kv->dk);
                if (kv->rot_k) cpu_kv_fwht(tmp, kv->dk, kv->rot_k);
                cpu_rope_rows(tmp, 1, 1, (int)kv->dk, delta, 0, rp);
                if (kv->rot_k) cpu_kv_fwht(tmp, kv->dk, kv->rot_k);
                store_row(kv, kv->tk, K + (size_t)to * kv->k_head, tmp, kv->dk);
            }
            /* to < p: moving down in order never overwrites a row not yet moved */
            memmove(V + (size_t)(p0 + delta) * kv->v_head, V + (size_t)p0 * kv->v_head, (size_t)(p1 - p0) * kv->v_head);
        }
}

/* The outside layout (session files) is by position, [n][n_head_kv][row]; the cache is by head. */
void cpu_kv_read(const cpu_kv *kv, int il, int which, uint32_t p0, uint32_t n, void *dst) {
    const size_t hb = which ? kv->v_head : kv->k_head, pb = hb * kv->n_head_kv;
    const uint8_t *L = which ? kv->v[il] : kv->k[il];
    for (uint32_t h = 0; h < kv->n_head_kv; h++)
        for (uint32_t p = 0; p < n; p++)
            memcpy((uint8_t *)dst + (size_t)p * pb + h * hb, L + ((size_t)h * kv->n_ctx + p0 + p) * hb, hb);
}

void cpu_kv_write(cpu_kv *kv, int il, int which, uint32_t p0, uint32_t n, const void *src) {
    const size_t hb = which ? kv->v_head : kv->k_head, pb = hb * kv->n_head_kv;
    uint8_t *L = which ? kv->v[il] : kv->k[il];
    for (uint32_t h = 0; h < kv->n_head_kv; h++)
        for (uint32_t p = 0; p < n; p++)
            memcpy(L + ((size_t)h * kv->n_ctx + p0 + p) * hb, (const uint8_t *)src + (size_t)p * pb + h * hb, hb);
}
