/* cuda_kvq.cu — attention over a KV cache that is not f16 / f16: K and V each in F16, Q8_0 or Q4_0
 * (cuda_kvq, layout in cuda_internal.cuh), with the CPU backend's numerics (cpu_kv.c):
 * - a quantized row is Hadamard-rotated first (cpu_kv_fwht's operations in its order: scale, then
 *   butterflies of span 1, 2, 4, ...), so the stored bytes equal the CPU's for the same floats;
 *   Q8_0 rows are rounded as the CPU's from_float (q8_round), Q4_0 rows as quantize_row_q4_0_ref;
 * - a quantized K is scored against the query rounded to q8_0: per block an exact integer dot
 *   product (dp4a) times d_k * d_q, summed over the blocks in order;
 * - V rows are dequantized (q * d) and accumulated with the softmax weights; the output row is
 *   rotated back (the Hadamard block is its own inverse after the scaling).
 * One kernel (k_attnq) serves decode and short batches: block = (query head, token, slice of
 * positions), lane j of warp w scores position base + w + 4 j, as k_attn_dec. Decode steps
 * (fuse_store) rotate, quantize and store the new row in the kernel and fold RoPE in as k_attn_dec
 * does (from 1024 positions on, cuda_attn_dec.cu's kernel takes them); batches first run k_kvq_prep
 * (rotate q in place, rotate and store k and v), and prompts of 16 tokens or more then run on the
 * tensor cores (cuda_fattn, which reads the codes) and rotate the rows back. */
#include "cuda/cuda_kvq.cuh"

#include <stdlib.h>
#include <string.h>

size_t cuda_kvq_layer_bytes(const cuda_kvq *f, int which, int n_head_kv, int d) {
    const int t = which ? f->tv : f->tk;
    const size_t rows = (size_t)f->n_ctx * n_head_kv;
    return rows * kq_code_bytes(t, d) + (kq_quant(t) ? rows * (d / 32) * sizeof(__half) : 0);
}

bool cuda_kvq_ok(int tk, int tv, int dk, int dv, char *why, size_t cap) {
    const int ts[2] = {tk, tv};
    for (int i = 0; i < 2; i++)
        if (ts[i] != ZETA_TYPE_F16 && !kq_quant(ts[i])) {
            snprintf(why, cap, "the CUDA backend keeps its KV cache in f16, q8_0 or q4_0 (asked for %s %s)", i ? "V" : "K",
                     zeta_type_name((zeta_type)ts[i]));
            return false;
        }
    if ((kq_quant(tk) || kq_quant(tv)) && !(dk == dv && (dk == 64 || dk == 128))) {
        snprintf(why, cap, "the CUDA backend's quantized KV cache needs head sizes of 64 or 128 for both K and V (this model's: %d, %d); use f16",
                 dk, dv);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- prompts: rotate and store */

/* grid (n_tok, rows / KQ_WARPS), a warp a row: row r of token t is query head r, else key head
 * r - n_head, else value head; queries are rotated in place (K quantized), and with round_q (the
 * tensor-core kernel follows) rounded to q8_0 and expanded again (codes * d), as the CPU's prompt
 * path does; keys and values rotated and stored at position pos0 + t. The row is held in registers
 * (lane i: elements i, i + 32, ...), rotated by kq_fwht_regs. */
template <int D, int TK, int TV>
__global__ void __launch_bounds__(32 * KQ_WARPS) k_kvq_prep(float *q, const float *k, const float *v, uint8_t *K, uint8_t *V,
                                                           cuda_attn_args a, cuda_kvq f, int round_q) {
    constexpr int E = D / 32;
    const int t = blockIdx.x, r = blockIdx.y * KQ_WARPS + (threadIdx.x >> 5), lane = threadIdx.x & 31, nh = a.n_head, nkv = a.n_head_kv;
    if (r >= nh + 2 * nkv) return;
    const float *src;
    int kind, h;
    if (r < nh) { kind = 0; h = r; src = q + ((size_t)t * nh + h) * D; }
    else if (r < nh + nkv) { kind = 1; h = r - nh; src = k + ((size_t)t * nkv + h) * D; }
    else { kind = 2; h = r - nh - nkv; src = v + ((size_t)t * nkv + h) * D; }
    const int rot = kind == 2 ? f.rot_v : f.rot_k;
    if (kind == 0 && !rot && !round_q) return;
    float x[E];
#pragma unroll
    for (int j = 0; j < E; j++) x[j] = src[32 * j + lane];
    if (rot) kq_fwht_regs<D>(x, rot);
    const size_t row = (size_t)(a.pos0 + t) * nkv + h;
#pragma unroll
    for (int j = 0; j < E; j++) {
        if (kind == 0) {
            if (round_q) {
                float dh;
                const int c = q8_round(x[j], &dh);
                x[j] = __fmul_rn((float)c, dh);
            }
            q[((size_t)t * nh + h) * D + 32 * j + lane] = x[j];
        } else if (kind == 1) {
            kq_store_block<TK>(x[j], j, K + row * kq_code_bytes(TK, D), (__half *)kq_scales<TK, D>(K, f.n_ctx, nkv) + row * (D / 32));
        } else {
            kq_store_block<TV>(x[j], j, V + row * kq_code_bytes(TV, D), (__half *)kq_scales<TV, D>(V, f.n_ctx, nkv) + row * (D / 32));
        }
    }
}

/* ---------------------------------------------------------------- attention */

/* q . K[p] for the lane's position: K row codes kc (scales ks), the query as floats sq (F16 K) or
 * rounded to q8_0 (sqq: codes as ints, sdq: scales, ssum: the blocks' sums of codes) */
template <int TK, int D>
__device__ __forceinline__ float kq_score(const uint8_t *kc, const __half *ks, const float *sq, const int *sqq, const float *sdq,
                                          const int *ssum) {
    float d = 0.0f;
    if constexpr (TK == ZETA_TYPE_F16) {
        uint4 u[D / 8];
#pragma unroll
        for (int c = 0; c < D / 8; c++) u[c] = ((const uint4 *)kc)[c];
#pragma unroll
        for (int c = 0; c < D / 8; c++) {
            const __half2 *h2 = (const __half2 *)&u[c];
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const float2 f = __half22float2(h2[e]);
                d += sq[8 * c + 2 * e] * f.x + sq[8 * c + 2 * e + 1] * f.y;
            }
        }
        return d;
    }
    constexpr int NB = D / 32, CB = kq_code_bytes(TK, D) / 16; /* blocks; 16-byte loads a row */
    uint4 u[CB];
#pragma unroll
    for (int c = 0; c < CB; c++) u[c] = ((const uint4 *)kc)[c];
    __half sc[NB];
#pragma unroll
    for (int b = 0; b < NB; b++) sc[b] = ks[b];
#pragma unroll
    for (int b = 0; b < NB; b++) {
        int s = 0;
        if (TK == ZETA_TYPE_Q8_0) {
            const uint32_t *w0 = (const uint32_t *)&u[2 * b], *w1 = (const uint32_t *)&u[2 * b + 1];
#pragma unroll
            for (int e = 0; e < 4; e++) s = __dp4a((int)w0[e], sqq[8 * b + e], s);
#pragma unroll
            for (int e = 0; e < 4; e++) s = __dp4a((int)w1[e], sqq[8 * b + 4 + e], s);
        } else {
            const uint32_t *w = (const uint32_t *)&u[b];
#pragma unroll
            for (int e = 0; e < 4; e++) s = __dp4a((int)(w[e] & 0x0f0f0f0fu), sqq[8 * b + e], s);
#pragma unroll
            for (int e = 0; e < 4; e++) s = __dp4a((int)((w[e] >> 4) & 0x0f0f0f0fu), sqq[8 * b + 4 + e], s);
            s -= 8 * ssum[b];
        }
        d += (float)s * (__half2float(sc[b]) * sdq[b]);
    }
    return d;
}

/* acc[0..E) += p * V[p][E lane ..] (dequantized) */
template <int TV, int D>
__device__ __forceinline__ void kq_accum(const uint8_t *vc, const __half *vs, int lane, float p, float *acc) {
    constexpr int E = D / 32;
    const int i0 = E * lane;
    if constexpr (TV == ZETA_TYPE_F16) {
        const __half *vr = (const __half *)vc + i0;
        __half2 v2[E / 2];
        if constexpr (E == 4) {
            const uint2 r2 = *(const uint2 *)vr;
            v2[0] = *(const __half2 *)&r2.x;
            v2[1] = *(const __half2 *)&r2.y;
        } else {
            const uint32_t r1 = *(const uint32_t *)vr;
            v2[0] = *(const __half2 *)&r1;
        }
#pragma unroll
        for (int e = 0; e < E / 2; e++) {
            const float2 f = __half22float2(v2[e]);
            acc[2 * e] += p * f.x;
            acc[2 * e + 1] += p * f.y;
        }
        return;
    }
    const int b = i0 / 32, j0 = i0 % 32;
    const float d = __half2float(vs[b]);
    uint32_t bytes;
    if (TV == ZETA_TYPE_Q8_0) bytes = E == 4 ? *(const uint32_t *)(vc + i0) : *(const uint16_t *)(vc + i0);
    else bytes = E == 4 ? *(const uint32_t *)(vc + 16 * b + j0 % 16) : *(const uint16_t *)(vc + 16 * b + j0 % 16);
#pragma unroll
    for (int e = 0; e < E; e++) {
        const uint32_t by = (bytes >> (8 * e)) & 0xffu;
        const int qv = TV == ZETA_TYPE_Q8_0 ? (int)(int8_t)by : (int)((j0 < 16 ? by : by >> 4) & 15u) - 8;
        acc[e] += p * __fmul_rn((float)qv, d);
    }
}

/* grid (n_head, n_tok, n_split): as k_attn_dec, for any number of tokens (token t sees positions
 * 0..pos0 + t). fused (decode, a.fuse_store): the kernel reads q, k, v unrotated (RoPE folded in
 * with rope), rotates and quantizes the new row and stores it (one block per KV head); else
 * k_kvq_prep ran first. */
template <int D, int TK, int TV>
__global__ void __launch_bounds__(32 * KQ_WARPS) k_attnq(const float *q, uint8_t *K, uint8_t *V, const float *knew, const float *vnew,
                                                        float *out, float *part, cuda_attn_args a, cuda_kvq f, int n_split,
                                                        cuda_rope_args ra, int rope, int pdl) {
    if (pdl) {
        pdl_trigger();
        pdl_wait();
    }
    constexpr int E = D / 32, KB = kq_code_bytes(TK, D), VB = kq_code_bytes(TV, D);
    constexpr bool QK = TK != ZETA_TYPE_F16;
    const int h = blockIdx.x, t = blockIdx.y, sp = blockIdx.z, grp = a.n_head / a.n_head_kv, hk = h / grp, nkv = a.n_head_kv;
    const bool fused = a.fuse_store;
    const uint32_t pos0 = a.pos_dev ? *a.pos_dev : a.pos0;
    const int n_kv = (int)pos0 + t + 1;
    const int chunk = (n_kv + n_split - 1) / n_split;
    const int p0 = sp * chunk, p1 = min(n_kv, p0 + chunk);
    const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5;
    __shared__ float sq[D], sk[D], sv[D], sacc[KQ_WARPS * D], sm[KQ_WARPS], sl[KQ_WARPS], sdq[D / 32];
    __shared__ int sqq[D / 4], ssum[D / 32];
    __shared__ __align__(16) uint8_t snk[KB];
    __shared__ __align__(16) uint8_t snv[VB];
    __shared__ __half snks[D / 32], snvs[D / 32];
    const __half *Ks = kq_scales<TK, D>(K, f.n_ctx, nkv), *Vs = kq_scales<TV, D>(V, f.n_ctx, nkv);
    for (int i = tid; i < D; i += blockDim.x) sq[i] = q[((size_t)t * a.n_head + h) * D + i];
    if (fused) {
        for (int i = tid; i < D; i += blockDim.x) {
            sk[i] = knew[(size_t)hk * D + i];
            sv[i] = vnew[(size_t)hk * D + i];
        }
        __syncthreads();
        if (rope && tid < ra.n_rot / 2) {
            float c, s;
            rope_cs(ra, tid, (float)pos0, &c, &s);
            rope_pair(sq, ra, tid, c, s);
            rope_pair(sk, ra, tid, c, s);
        }
        __syncthreads();
        if (w < 3) { /* warps 0, 1, 2: q, k, v rotated in registers; k and v rounded as the cache stores them */
            float *x = w == 0 ? sq : w == 1 ? sk : sv;
            const int n = w == 2 ? f.rot_v : f.rot_k;
            float r[E];
#pragma unroll
            for (int j = 0; j < E; j++) r[j] = x[32 * j + lane];
            if (n) kq_fwht_regs<D>(r, n);
#pragma unroll
            for (int j = 0; j < E; j++) {
                if (w == 0) x[32 * j + lane] = r[j];
                else if (w == 1) kq_store_block<TK>(r[j], j, snk, snks);
                else kq_store_block<TV>(r[j], j, snv, snvs);
            }
        }
        __syncthreads();
        if (h % grp == 0 && sp == 0) { /* the writer of this KV head */
            const size_t row = (size_t)pos0 * nkv + hk;
            for (int i = tid; i < KB; i += blockDim.x) K[row * KB + i] = snk[i];
            for (int i = tid; i < VB; i += blockDim.x) V[row * VB + i] = snv[i];
            if (QK && tid < D / 32) ((__half *)Ks)[row * (D / 32) + tid] = snks[tid];
            if (TV != ZETA_TYPE_F16 && tid < D / 32) ((__half *)Vs)[row * (D / 32) + tid] = snvs[tid];
        }
    }
    __syncthreads();
    if (QK) /* the query rounded to q8_0 (block b by warp b % KQ_WARPS) */
        for (int b = w; b < D / 32; b += KQ_WARPS) {
            float dh;
            const int c = q8_round(sq[32 * b + lane], &dh);
            ((int8_t *)sqq)[32 * b + lane] = (int8_t)c;
            int s = c;
#pragma unroll
            for (int off = 16; off; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
            if (lane == 0) { sdq[b] = dh; ssum[b] = s; }
        }
    __syncthreads();
    float m = -INFINITY, l = 0.0f, acc[E];
#pragma unroll
    for (int j = 0; j < E; j++) acc[j] = 0.0f;
    for (int base = p0; base < p1; base += 32 * KQ_WARPS) {
        if (base + w >= p1) break; /* warp-uniform */
        const int p = base + w + 4 * lane;
        float sc = -INFINITY;
        if (p < p1) {
            const bool fresh = fused && p == n_kv - 1;
            const size_t row = (size_t)p * nkv + hk;
            sc = kq_score<TK, D>(fresh ? snk : K + row * KB, fresh ? snks : Ks + row * (D / 32), sq, sqq, sdq, ssum) * a.scale;
        }
        float corr;
        const float pr = attn_tile_softmax(sc, p < p1, m, l, &corr);
#pragma unroll
        for (int j = 0; j < E; j++) acc[j] *= corr;
        const int nv = min(32, (p1 - base - w + 3) / 4);
#pragma unroll 4
        for (int jj = 0; jj < nv; jj++) {
            const float pj = __shfl_sync(0xffffffffu, pr, jj);
            const int pp = base + w + 4 * jj;
            const bool fresh = fused && pp == n_kv - 1;
            const size_t row = (size_t)pp * nkv + hk;
            kq_accum<TV, D>(fresh ? snv : V + row * VB, fresh ? snvs : Vs + row * (D / 32), lane, pj, acc);
        }
    }
#pragma unroll
    for (int j = 0; j < E; j++) sacc[w * D + E * lane + j] = acc[j];
    if (lane == 0) { sm[w] = m; sl[w] = l; }
    __syncthreads();
    float M = -INFINITY;
    for (int k2 = 0; k2 < KQ_WARPS; k2++) M = fmaxf(M, sm[k2]);
    float L = 0.0f, fw[KQ_WARPS];
    for (int k2 = 0; k2 < KQ_WARPS; k2++) {
        fw[k2] = sl[k2] > 0.0f ? expf(sm[k2] - M) : 0.0f;
        L += sl[k2] * fw[k2];
    }
    const size_t orow = (size_t)t * a.n_head + h;
    if (n_split > 1) {
        for (int i = tid; i < D; i += blockDim.x) {
            float A = 0.0f;
            for (int k2 = 0; k2 < KQ_WARPS; k2++) A += sacc[k2 * D + i] * fw[k2];
            part[(orow * n_split + sp) * (D + 2) + i] = A;
        }
        if (tid == 0) {
            part[(orow * n_split + sp) * (D + 2) + D] = M;
            part[(orow * n_split + sp) * (D + 2) + D + 1] = L;
        }
        return;
    }
    if (w) return;
    /* warp 0: the row in registers, rotated back, stored */
    float r[E];
#pragma unroll
    for (int j = 0; j < E; j++) {
        float A = 0.0f;
        for (int k2 = 0; k2 < KQ_WARPS; k2++) A += sacc[k2 * D + 32 * j + lane] * fw[k2];
        r[j] = A / L;
    }
    if (f.rot_v) kq_fwht_regs<D>(r, f.rot_v);
#pragma unroll
    for (int j = 0; j < E; j++) {
        out[orow * D + 32 * j + lane] = r[j];
        if (a.xq) q8_store(r[j], a.xq, a.n_head * D, (int)(orow * (D / 32) + j), a.xq_sparse.stat ? &a.xq_sparse : nullptr);
    }
}

/* merges the slices' partials, then rotates the row back: grid (n_head, n_tok), KM_THREADS threads.
 * The weights exp(m_s - M) of the slices are computed once (in parallel), L = sum l_s w_s by warp 0
 * (slices s = lane mod 32 per lane, the lanes then added by shuffles); each value's sum over the
 * slices is split over KM_THREADS / D groups of slices (loads independent, so in flight together),
 * the groups added in order; warp 0 rotates the row back in registers and stores it. */
#define KM_THREADS 256
#define KM_MAX_SPLIT 128
template <int D>
__global__ void __launch_bounds__(KM_THREADS) k_attnq_merge(const float *part, float *out, int n_head, int n_split, int rot_v,
                                                           uint8_t *xq, cuda_sparse_round sr, int pdl) {
    if (pdl) {
        pdl_trigger();
        pdl_wait();
    }
    constexpr int NG = KM_THREADS / D;
    __shared__ float fw[KM_MAX_SPLIT], lw[KM_MAX_SPLIT], acc[NG][D], sM[KM_THREADS / 32], sL;
    const int tid = threadIdx.x;
    const size_t row = (size_t)blockIdx.y * n_head + blockIdx.x;
    const float *pr = part + row * n_split * (D + 2);
    float m = -INFINITY;
    for (int s = tid; s < n_split; s += KM_THREADS) {
        const float ms = pr[s * (D + 2) + D], ls = pr[s * (D + 2) + D + 1];
        fw[s] = ms;
        lw[s] = ls;
        if (ls > 0.0f) m = fmaxf(m, ms);
    }
    for (int off = 16; off; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
    if ((tid & 31) == 0) sM[tid >> 5] = m;
    __syncthreads();
    float M = -INFINITY;
    for (int k = 0; k < KM_THREADS / 32; k++) M = fmaxf(M, sM[k]);
    for (int s = tid; s < n_split; s += KM_THREADS) fw[s] = lw[s] > 0.0f ? expf(fw[s] - M) : 0.0f;
    __syncthreads();
    if (tid < 32) { /* warp 0: the sum of the weights, lane by lane, then across the warp */
        float L = 0.0f;
        for (int s = tid; s < n_split; s += 32) L += lw[s] * fw[s];
#pragma unroll
        for (int off = 16; off; off >>= 1) L += __shfl_xor_sync(0xffffffffu, L, off);
        if (tid == 0) sL = L;
    }
    {
        const int d = tid % D, g = tid / D;
        float A = 0.0f;
#pragma unroll 8
        for (int s = g; s < n_split; s += NG) A += pr[s * (D + 2) + d] * fw[s];
        acc[g][d] = A;
    }
    __syncthreads();
    if (tid >= 32) return;
    /* warp 0: the row in registers (lane i: dims i, i + 32, ...), rotated back, stored */
    float v[D / 32];
#pragma unroll
    for (int j = 0; j < D / 32; j++) {
        float A = 0.0f;
#pragma unroll
        for (int g = 0; g < NG; g++) A += acc[g][32 * j + tid];
        v[j] = A / sL;
    }
    if (rot_v) kq_fwht_regs<D>(v, rot_v);
#pragma unroll
    for (int j = 0; j < D / 32; j++) {
        out[row * D + 32 * j + tid] = v[j];
        if (xq) q8_store(v[j], xq, n_head * D, (int)(row * (D / 32) + j), sr.stat ? &sr : nullptr);
    }
}

/* a warp per row of out (D values, n_rows): rotated back (blocks of rot), in registers */
template <int D> __global__ void __launch_bounds__(32 * KQ_WARPS) k_kvq_unrotate(float *out, int rot, int n_rows) {
    const int r = blockIdx.x * KQ_WARPS + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (r >= n_rows) return;
    float *o = out + (size_t)r * D, x[D / 32];
#pragma unroll
    for (int j = 0; j < D / 32; j++) x[j] = o[32 * j + lane];
    kq_fwht_regs<D>(x, rot);
#pragma unroll
    for (int j = 0; j < D / 32; j++) o[32 * j + lane] = x[j];
}

template <int D, int TK, int TV>
static cudaError_t attnq_launch(cudaStream_t s, const cuda_attn_args *a, uint8_t *K, uint8_t *V, const float *q, const float *k,
                                const float *v, float *out, float *part, size_t part_floats, int n_sm) {
    const cuda_kvq f = *a->kvq;
    const int n_split = cuda_attention_split(a, part_floats, n_sm);
    cudaError_t e = cudaSuccess;
    if (!a->fuse_store) {
        const bool fa = cuda_fattn_ok(a);
        k_kvq_prep<D, TK, TV><<<dim3(a->n_tok, (a->n_head + 2 * a->n_head_kv + KQ_WARPS - 1) / KQ_WARPS), 32 * KQ_WARPS, 0, s>>>((float *)q, k, v, K, V, *a, f,
                                                                                                     fa && TK != ZETA_TYPE_F16);
        if ((e = cudaGetLastError()) != cudaSuccess) return e;
        if (fa) { /* prompts on the tensor cores, then the rows rotated back */
            if ((e = cuda_fattn(s, a, K, V, q, out, part, part_floats, n_sm)) != cudaSuccess || !f.rot_v) return e;
            k_kvq_unrotate<D><<<(a->n_tok * a->n_head + KQ_WARPS - 1) / KQ_WARPS, 32 * KQ_WARPS, 0, s>>>(out, f.rot_v, a->n_tok * a->n_head);
            return cudaGetLastError();
        }
    }
    cuda_rope_args ra;
    if (a->rope) ra = *a->rope;
    else memset(&ra, 0, sizeof ra);
    const bool pdl = a->fuse_store && cuda_pdl_chain();
    e = cuda_launch(pdl, k_attnq<D, TK, TV>, dim3(a->n_head, a->n_tok, n_split), dim3(32 * KQ_WARPS), 0, s, q, K, V, k, v, out, part,
                    *a, f, n_split, ra, a->rope != NULL ? 1 : 0, pdl ? 1 : 0);
    if (e == cudaSuccess && n_split > 1) e = cuda_kvq_merge(s, pdl, part, out, a->n_head, a->n_tok, D, n_split, f.rot_v, a->xq, a->xq_sparse);
    return e;
}

cudaError_t cuda_kvq_merge(cudaStream_t s, bool pdl, const float *part, float *out, int n_head, int n_tok, int d, int n_split, int rot_v,
                           uint8_t *xq, cuda_sparse_round sr) {
    if (n_split > KM_MAX_SPLIT) return cudaErrorInvalidValue;
    const dim3 grid(n_head, n_tok), block(KM_THREADS);
    if (d == 64) return cuda_launch(pdl, k_attnq_merge<64>, grid, block, 0, s, part, out, n_head, n_split, rot_v, xq, sr, pdl ? 1 : 0);
    if (d == 128) return cuda_launch(pdl, k_attnq_merge<128>, grid, block, 0, s, part, out, n_head, n_split, rot_v, xq, sr, pdl ? 1 : 0);
    return cudaErrorInvalidValue;
}

template <int D, int TK>
static cudaError_t attnq_tv(cudaStream_t s, const cuda_attn_args *a, uint8_t *K, uint8_t *V, const float *q, const float *k,
                            const float *v, float *out, float *part, size_t part_floats, int n_sm) {
    switch (a->kvq->tv) {
    case ZETA_TYPE_F16: return attnq_launch<D, TK, ZETA_TYPE_F16>(s, a, K, V, q, k, v, out, part, part_floats, n_sm);
    case ZETA_TYPE_Q8_0: return attnq_launch<D, TK, ZETA_TYPE_Q8_0>(s, a, K, V, q, k, v, out, part, part_floats, n_sm);
    case ZETA_TYPE_Q4_0: return attnq_launch<D, TK, ZETA_TYPE_Q4_0>(s, a, K, V, q, k, v, out, part, part_floats, n_sm);
    default: return cudaErrorInvalidValue;
    }
}

template <int D>
static cudaError_t attnq_tk(cudaStream_t s, const cuda_attn_args *a, uint8_t *K, uint8_t *V, const float *q, const float *k,
                            const float *v, float *out, float *part, size_t part_floats, int n_sm) {
    switch (a->kvq->tk) {
    case ZETA_TYPE_F16: return attnq_tv<D, ZETA_TYPE_F16>(s, a, K, V, q, k, v, out, part, part_floats, n_sm);
    case ZETA_TYPE_Q8_0: return attnq_tv<D, ZETA_TYPE_Q8_0>(s, a, K, V, q, k, v, out, part, part_floats, n_sm);
    case ZETA_TYPE_Q4_0: return attnq_tv<D, ZETA_TYPE_Q4_0>(s, a, K, V, q, k, v, out, part, part_floats, n_sm);
    default: return cudaErrorInvalidValue;
    }
}

cudaError_t cuda_kvq_attention(cudaStream_t s, const cuda_attn_args *a, uint8_t *K, uint8_t *V, const float *q, const float *k,
                               const float *v, float *out, float *part, size_t part_floats, int n_sm) {
    if (a->dk != a->dv) return cudaErrorInvalidValue;
    if (a->rope && !(a->fuse_store && a->rope->n_rot >= 2 && a->rope->n_rot <= a->dk && a->rope->n_rot % 2 == 0))
        return cudaErrorInvalidValue;
    return a->dk == 64 ? attnq_tk<64>(s, a, K, V, q, k, v, out, part, part_floats, n_sm)
         : a->dk == 128 ? attnq_tk<128>(s, a, K, V, q, k, v, out, part, part_floats, n_sm)
                        : cudaErrorInvalidValue;
}

/* ---------------------------------------------------------------- context shift */

/* block per position p (moved to p + to - from): each KV head's key row dequantized, rotated back,
 * RoPE by delta, rotated and stored again (cpu_kv_shift's steps); V's bytes copied */
template <int D, int TK, int TV>
__global__ void __launch_bounds__(32 * KQ_WARPS) k_kvq_move(uint8_t *K, uint8_t *V, uint32_t from, uint32_t to, int nkv, float delta,
                                                           cuda_rope_args ra, cuda_kvq f) {
    __shared__ float x[D];
    constexpr int KB = kq_code_bytes(TK, D), VB = kq_code_bytes(TV, D);
    const __half *Ks = kq_scales<TK, D>(K, f.n_ctx, nkv), *Vs = kq_scales<TV, D>(V, f.n_ctx, nkv);
    const size_t ps = from + blockIdx.x, pd = to + blockIdx.x;
    for (int h = 0; h < nkv; h++) {
        const size_t rs = ps * nkv + h, rd = pd * nkv + h;
        kq_load_row<TK, D>(K + rs * KB, Ks + rs * (D / 32), x);
        __syncthreads();
        if (f.rot_k) kq_fwht(x, D, f.rot_k);
        for (int i = threadIdx.x; i < ra.n_rot / 2; i += blockDim.x) {
            float c, s;
            rope_cs(ra, i, delta, &c, &s);
            rope_pair(x, ra, i, c, s);
        }
        __syncthreads();
        if (f.rot_k) kq_fwht(x, D, f.rot_k);
        kq_store_row<TK, D>(x, K + rd * KB, (__half *)Ks + rd * (D / 32));
        for (int i = threadIdx.x; i < VB; i += blockDim.x) V[rd * VB + i] = V[rs * VB + i];
        if (TV != ZETA_TYPE_F16 && threadIdx.x < D / 32) ((__half *)Vs)[rd * (D / 32) + threadIdx.x] = Vs[rs * (D / 32) + threadIdx.x];
        __syncthreads();
    }
}

template <int D, int TK, int TV>
static void move_launch(cudaStream_t s, const cuda_kvq *f, uint8_t *K, uint8_t *V, uint32_t from, uint32_t to, uint32_t n_pos, int nkv,
                        int32_t delta, const cuda_rope_args *a) {
    k_kvq_move<D, TK, TV><<<n_pos, 32 * KQ_WARPS, 0, s>>>(K, V, from, to, nkv, (float)delta, *a, *f);
}

template <int D, int TK>
static bool move_tv(cudaStream_t s, const cuda_kvq *f, uint8_t *K, uint8_t *V, uint32_t from, uint32_t to, uint32_t n_pos, int nkv,
                    int32_t delta, const cuda_rope_args *a) {
    switch (f->tv) {
    case ZETA_TYPE_F16: move_launch<D, TK, ZETA_TYPE_F16>(s, f, K, V, from, to, n_pos, nkv, delta, a); return true;
    case ZETA_TYPE_Q8_0: move_launch<D, TK, ZETA_TYPE_Q8_0>(s, f, K, V, from, to, n_pos, nkv, delta, a); return true;
    case ZETA_TYPE_Q4_0: move_launch<D, TK, ZETA_TYPE_Q4_0>(s, f, K, V, from, to, n_pos, nkv, delta, a); return true;
    default: return false;
    }
}

template <int D>
static bool move_tk(cudaStream_t s, const cuda_kvq *f, uint8_t *K, uint8_t *V, uint32_t from, uint32_t to, uint32_t n_pos, int nkv,
                    int32_t delta, const cuda_rope_args *a) {
    switch (f->tk) {
    case ZETA_TYPE_F16: return move_tv<D, ZETA_TYPE_F16>(s, f, K, V, from, to, n_pos, nkv, delta, a);
    case ZETA_TYPE_Q8_0: return move_tv<D, ZETA_TYPE_Q8_0>(s, f, K, V, from, to, n_pos, nkv, delta, a);
    case ZETA_TYPE_Q4_0: return move_tv<D, ZETA_TYPE_Q4_0>(s, f, K, V, from, to, n_pos, nkv, delta, a);
    default: return false;
    }
}

cudaError_t cuda_kvq_move(cudaStream_t s, const cuda_kvq *f, uint8_t *K, uint8_t *V, uint32_t from, uint32_t to, uint32_t n_pos,
                          int n_head_kv, int d, int32_t delta, const cuda_rope_args *a) {
    if (!n_pos) return cudaSuccess;
    const bool ok = d == 64 ? move_tk<64>(s, f, K, V, from, to, n_pos, n_head_kv, delta, a)
                  : d == 128 ? move_tk<128>(s, f, K, V, from, to, n_pos, n_head_kv, delta, a) : false;
    return ok ? cudaGetLastError() : cudaErrorInvalidValue;
}

/* ---------------------------------------------------------------- session files */

cudaError_t cuda_kvq_copy(cudaStream_t s, const cuda_kvq *f, int which, uint8_t *layer, int n_head_kv, int d, uint32_t p0, uint32_t n,
                          uint8_t *host, bool to_host) {
    const int t = which ? f->tv : f->tk;
    const size_t rows = (size_t)n * n_head_kv, r0 = (size_t)p0 * n_head_kv, cb = (size_t)kq_code_bytes(t, d);
    cudaError_t e;
    if (!kq_quant(t)) {
        e = to_host ? cudaMemcpyAsync(host, layer + r0 * cb, rows * cb, cudaMemcpyDeviceToHost, s)
                    : cudaMemcpyAsync(layer + r0 * cb, host, rows * cb, cudaMemcpyHostToDevice, s);
        return e == cudaSuccess ? cudaStreamSynchronize(s) : e;
    }
    /* GGUF blocks: the f16 scale, then the block's codes (32 or 16 bytes) */
    const int nb = d / 32, bc = (int)cb / nb;
    const size_t sc_off = (size_t)f->n_ctx * n_head_kv * cb;
    uint8_t *codes = (uint8_t *)malloc(rows * cb);
    uint16_t *sc = (uint16_t *)malloc(rows * nb * sizeof(uint16_t));
    if (!codes || !sc) {
        free(codes);
        free(sc);
        return cudaErrorMemoryAllocation;
    }
    if (to_host) {
        e = cudaMemcpyAsync(codes, layer + r0 * cb, rows * cb, cudaMemcpyDeviceToHost, s);
        if (e == cudaSuccess) e = cudaMemcpyAsync(sc, layer + sc_off + r0 * nb * 2, rows * nb * 2, cudaMemcpyDeviceToHost, s);
        if (e == cudaSuccess) e = cudaStreamSynchronize(s);
        if (e == cudaSuccess)
            for (size_t i = 0; i < rows * nb; i++) {
                memcpy(host + i * (2 + bc), &sc[i], 2);
                memcpy(host + i * (2 + bc) + 2, codes + i * bc, (size_t)bc);
            }
    } else {
        for (size_t i = 0; i < rows * nb; i++) {
            memcpy(&sc[i], host + i * (2 + bc), 2);
            memcpy(codes + i * bc, host + i * (2 + bc) + 2, (size_t)bc);
        }
        e = cudaMemcpyAsync(layer + r0 * cb, codes, rows * cb, cudaMemcpyHostToDevice, s);
        if (e == cudaSuccess) e = cudaMemcpyAsync(layer + sc_off + r0 * nb * 2, sc, rows * nb * 2, cudaMemcpyHostToDevice, s);
        if (e == cudaSuccess) e = cudaStreamSynchronize(s);
    }
    free(codes);
    free(sc);
    return e;
}
