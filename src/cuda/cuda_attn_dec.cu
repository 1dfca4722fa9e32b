/* cuda_attn_dec.cu — decode attention (one token, the decode graphs' fused step) for every cache
 * type (f16, q8_0, q4_0 for K and V; cuda_kvq's layout) with the query heads of a KV head together:
 * block = (KV head, slice of positions), so each K / V row is read once for its G query heads (the
 * per-query-head kernels read it G times, and at 16K positions were a third of llama.cpp's speed).
 * Per tile of AD_TP positions, staged in shared memory by cp.async while the previous tile is
 * computed (two stages):
 * - scores: thread (position p, half hh of the head) dots its half of K[p] with the G queries (f32
 *   for an f16 K; for a quantized K the queries rounded to q8_0, an exact integer dot per block, as
 *   the CPU), the halves summed, times the scale;
 * - softmax: warp w updates heads w, w + 4, ...: running max and sum, the tile's probabilities P,
 *   the factor the accumulators are rescaled by;
 * - values: warp w accumulates positions w, w + 4, ... for every head (lane: D / 32 dims per head).
 * The warps' sums are added in a fixed order; one slice writes the normalized rows (rotated back
 * for a rotated V, rounded to 8 bits for the next product when asked), several write partials for
 * cuda_kvq_merge. The new row (RoPE folded in, rotated and rounded as the cache stores it) is
 * computed by every block and stored by slice 0's; the setup (RoPE, rotation, rounding) is per warp,
 * a warp taking whole rows, with the rotation in registers (kq_fwht_regs). Decode steps run op by op (no graph) take it too,
 * with q and k rotated by the RoPE kernel before, so that both ways do the same float operations. */
#include "cuda/cuda_kvq.cuh"

#include <stdlib.h>
#include <string.h>

#define AD_TP 64
#define AD_TX 8 /* a slice's last tile may hold AD_TX more positions (so 2 AD_TP + 1 take two tiles, not three) */
#define AD_TC (AD_TP + AD_TX)
#define AD_WARPS 4
#define AD_THREADS (32 * AD_WARPS)
#define AD_BLOCKS_SM 4 /* slices sized for about this many blocks a multiprocessor (ZETA_CUDA_ATTN_GQA_BLOCKS) */
#define AD_MIN_TILES 1 /* tiles a slice at least (ZETA_CUDA_ATTN_GQA_TILES) */

/* shared memory offsets in bytes (the same on host and device) */
struct ad_layout {
    int cbk, cbv, krs, vrs, ksc, vsc;       /* code bytes a row, tile row strides, scale bytes a row */
    int k_off, ks_off, v_off, vs_off, stage; /* within a stage */
    int sq, sqq, sdq, ssum, s2, p, m, l, c, fk, fks, fv, fvs, x, red, total;
};

__host__ __device__ inline int ad_al(int n) { return (n + 15) & ~15; }

__host__ __device__ inline ad_layout ad_make(int D, int GM, int tk, int tv) {
    ad_layout L;
    L.cbk = kq_code_bytes(tk, D);
    L.cbv = kq_code_bytes(tv, D);
    L.krs = L.cbk + 16; /* an odd number of 16-byte units: the score phase's rows fall in distinct banks */
    L.vrs = L.cbv + 16;
    L.ksc = kq_quant(tk) ? D / 32 * 2 : 0;
    L.vsc = kq_quant(tv) ? D / 32 * 2 : 0;
    int o = 0;
    L.k_off = o; o += ad_al(AD_TC * L.krs);
    L.ks_off = o; o += ad_al(AD_TC * L.ksc);
    L.v_off = o; o += ad_al(AD_TC * L.vrs);
    L.vs_off = o; o += ad_al(AD_TC * L.vsc);
    L.stage = o;
    o = 2 * L.stage;
    L.sq = o; o += ad_al(4 * GM * D);
    L.sqq = o; o += ad_al(GM * D);
    L.sdq = o; o += ad_al(4 * GM * (D / 32));
    L.ssum = o; o += ad_al(4 * GM * (D / 32));
    L.s2 = o; o += ad_al(4 * 2 * GM * AD_TC);
    L.p = o; o += ad_al(4 * GM * AD_TC);
    L.m = o; o += ad_al(4 * GM);
    L.l = o; o += ad_al(4 * GM);
    L.c = o; o += ad_al(4 * GM);
    L.fk = o; o += ad_al(L.cbk);
    L.fks = o; o += ad_al(D / 32 * 2);
    L.fv = o; o += ad_al(L.cbv);
    L.fvs = o; o += ad_al(D / 32 * 2);
    L.x = o; o += ad_al(4 * (GM > 2 ? GM : 2) * D);
    /* the warps' sums after the loop: in the stages when they fit */
    const int red = 4 * AD_WARPS * GM * D;
    if (red <= 2 * L.stage) L.red = 0;
    else { L.red = o; o += ad_al(red); }
    L.total = o;
    return L;
}

/* a row held by a warp (lane i: v[j] = x[32 j + i]) -> codes and scales of type t (known at run time) */
template <int D> __device__ __forceinline__ void ad_store_regs(int t, const float (&v)[D / 32], uint8_t *codes, __half *scales) {
#pragma unroll
    for (int j = 0; j < D / 32; j++) {
        if (t == ZETA_TYPE_Q8_0) kq_store_block<ZETA_TYPE_Q8_0>(v[j], j, codes, scales);
        else if (t == ZETA_TYPE_Q4_0) kq_store_block<ZETA_TYPE_Q4_0>(v[j], j, codes, scales);
        else kq_store_block<ZETA_TYPE_F16>(v[j], j, codes, scales);
    }
}

/* the values of one tile: warp w takes positions w, w + AD_WARPS, ...; lane: dims E lane .. E lane
 * + E - 1 of every head; acc[g] += P[p][g] V[p] */
template <int D, int GM, int TV>
__device__ __forceinline__ void ad_values(const uint8_t *st, const ad_layout &L, const float *P, float (&acc)[GM][D / 32], int nv) {
    constexpr int E = D / 32;
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
#pragma unroll 4
    for (int i = 0; i < AD_TC / AD_WARPS; i++) {
        const int p = w + AD_WARPS * i;
        if (p >= nv) continue;
        float pg[GM];
        if constexpr (GM >= 4) {
#pragma unroll
            for (int g4 = 0; g4 < GM / 4; g4++) {
                const float4 v4 = ((const float4 *)(P + p * GM))[g4];
                pg[4 * g4] = v4.x;
                pg[4 * g4 + 1] = v4.y;
                pg[4 * g4 + 2] = v4.z;
                pg[4 * g4 + 3] = v4.w;
            }
        } else {
#pragma unroll
            for (int g = 0; g < GM; g++) pg[g] = P[p * GM + g];
        }
        float v[E];
        const uint8_t *vr = st + L.v_off + p * L.vrs;
        if constexpr (TV == ZETA_TYPE_F16) {
            const __half *hv = (const __half *)vr + E * lane;
#pragma unroll
            for (int e = 0; e < E; e += 2) {
                const float2 f2 = __half22float2(*(const __half2 *)(hv + e));
                v[e] = f2.x;
                v[e + 1] = f2.y;
            }
        } else {
            const int i0 = E * lane, b = i0 / 32, j0 = i0 % 32;
            const float d = __half2float(((const __half *)(st + L.vs_off + p * L.vsc))[b]);
            uint32_t by;
            if constexpr (TV == ZETA_TYPE_Q8_0) by = E == 4 ? *(const uint32_t *)(vr + i0) : *(const uint16_t *)(vr + i0);
            else by = E == 4 ? *(const uint32_t *)(vr + 16 * b + j0 % 16) : *(const uint16_t *)(vr + 16 * b + j0 % 16);
#pragma unroll
            for (int e = 0; e < E; e++) {
                const uint32_t b8 = (by >> (8 * e)) & 0xffu;
                const int qv8 = TV == ZETA_TYPE_Q8_0 ? (int)(int8_t)b8 : (int)((j0 < 16 ? b8 : b8 >> 4) & 15u) - 8;
                v[e] = __fmul_rn((float)qv8, d);
            }
        }
#pragma unroll
        for (int g = 0; g < GM; g++)
#pragma unroll
            for (int e = 0; e < E; e++) acc[g][e] += pg[g] * v[e];
    }
}

template <int D, int GM>
__global__ void __launch_bounds__(AD_THREADS) k_attn_gqa(const float *q, uint8_t *K, uint8_t *V, const float *knew, const float *vnew,
                                                        float *out, float *part, cuda_attn_args a, cuda_kvq f, int n_split,
                                                        cuda_rope_args ra, int rope, int pdl) {
    if (pdl) {
        pdl_trigger();
        pdl_wait();
    }
    constexpr int E = D / 32, NB = D / 32;
    extern __shared__ __align__(16) uint8_t sm[];
    const ad_layout L = ad_make(D, GM, f.tk, f.tv);
    const int hk = blockIdx.x, sp = blockIdx.y, nkv = a.n_head_kv, G = a.n_head / nkv;
    const int tid = threadIdx.x, lane = tid & 31, w = tid >> 5;
    const uint32_t pos0 = a.pos_dev ? *a.pos_dev : a.pos0;
    const int n_kv = (int)pos0 + 1, chunk = (n_kv + n_split - 1) / n_split;
    const int p0 = sp * chunk, p1 = min(n_kv, p0 + chunk);
    const bool qk = kq_quant(f.tk), qv = kq_quant(f.tv);
    float *sq = (float *)(sm + L.sq), *sdq = (float *)(sm + L.sdq), *s2 = (float *)(sm + L.s2), *P = (float *)(sm + L.p);
    float *sm_m = (float *)(sm + L.m), *sm_l = (float *)(sm + L.l), *sm_c = (float *)(sm + L.c), *x = (float *)(sm + L.x);
    int8_t *sqq = (int8_t *)(sm + L.sqq);
    int *ssum = (int *)(sm + L.ssum);
    uint8_t *fk = sm + L.fk, *fv = sm + L.fv;
    __half *fks = (__half *)(sm + L.fks), *fvs = (__half *)(sm + L.fvs);
    const __half *Ks = (const __half *)(K + (size_t)f.n_ctx * nkv * L.cbk), *Vs = (const __half *)(V + (size_t)f.n_ctx * nkv * L.cbv);

    /* the tiles: positions [pb, pb + nv) staged in stage (tile & 1) */
    const int len = p1 - p0, n_tiles = len <= 0 ? 0 : len <= AD_TC ? 1 : (len - AD_TX + AD_TP - 1) / AD_TP;
    /* 16-byte chunks a row: powers of two (2 .. 16), so chunk c is row c >> lk, piece c & (ck - 1) */
    const int lk = __ffs(L.cbk / 16) - 1, lv = __ffs(L.cbv / 16) - 1, krow = nkv * L.cbk, vrow = nkv * L.cbv;
    auto issue = [&](int t) {
        uint8_t *st = sm + (t & 1) * L.stage;
        const int pb = p0 + t * AD_TP, nv = t == n_tiles - 1 ? p1 - pb : AD_TP, rn = n_kv - 1 - pb; /* rn: the new row's */
        const uint8_t *Kt = K + ((size_t)pb * nkv + hk) * L.cbk, *Vt = V + ((size_t)pb * nkv + hk) * L.cbv;
        for (int c = tid; c < nv << lk; c += AD_THREADS) {
            const int r = c >> lk, j = c & ((1 << lk) - 1);
            if (r != rn) cp_async(st + L.k_off + r * L.krs + 16 * j, Kt + r * krow + 16 * j, 16);
        }
        for (int c = tid; c < nv << lv; c += AD_THREADS) {
            const int r = c >> lv, j = c & ((1 << lv) - 1);
            if (r != rn) cp_async(st + L.v_off + r * L.vrs + 16 * j, Vt + r * vrow + 16 * j, 16);
        }
        if (qk || qv) {
            const __half *Kst = Ks + ((size_t)pb * nkv + hk) * NB, *Vst = Vs + ((size_t)pb * nkv + hk) * NB;
            for (int r = tid; r < nv; r += AD_THREADS) {
                if (r == rn) continue;
                if (qk) cp_async(st + L.ks_off + r * L.ksc, Kst + r * nkv * NB, L.ksc);
                if (qv) cp_async(st + L.vs_off + r * L.vsc, Vst + r * nkv * NB, L.vsc);
            }
        }
        cp_commit();
    };
    if (n_tiles > 0) issue(0); /* the first tile's loads overlap what follows */

    /* the group's queries (zero rows from G to GM: every loop below runs over GM heads, with no
     * test), the new key and value; each lane's RoPE angles */
    for (int i = tid; i < GM * D; i += AD_THREADS) sq[i] = i < G * D ? q[(size_t)hk * G * D + i] : 0.0f;
    float *sk = x, *sv = x + D;
    for (int i = tid; i < D; i += AD_THREADS) {
        sk[i] = knew[(size_t)hk * D + i];
        sv[i] = vnew[(size_t)hk * D + i];
    }
    constexpr int NJ = D / 64; /* pairs a lane: j = lane + 32 k < n_rot / 2 <= D / 2 */
    const int half = rope ? ra.n_rot / 2 : 0;
    float rc[NJ] = {}, rs[NJ] = {};
#pragma unroll
    for (int k = 0; k < NJ; k++)
        if (lane + 32 * k < half) rope_cs(ra, lane + 32 * k, (float)pos0, &rc[k], &rs[k]);
    __syncthreads();
    /* row r by warp r % AD_WARPS (queries 0 .. GM - 1, the key GM, the value GM + 1): RoPE, the
     * rotation in registers, then the queries rounded to q8_0 (for a quantized K) and the key and
     * value rounded as the cache stores them */
    for (int r = w; r < GM + 2; r += AD_WARPS) {
        float *xr = r < GM ? sq + r * D : r == GM ? sk : sv;
        if (r <= GM && half) {
#pragma unroll
            for (int k = 0; k < NJ; k++)
                if (lane + 32 * k < half) rope_pair(xr, ra, lane + 32 * k, rc[k], rs[k]);
            __syncwarp();
        }
        float v[E];
#pragma unroll
        for (int j = 0; j < E; j++) v[j] = xr[32 * j + lane];
        const int n = r <= GM ? f.rot_k : f.rot_v;
        if (n) kq_fwht_regs<D>(v, n);
        if (r < GM) {
#pragma unroll
            for (int j = 0; j < E; j++) {
                xr[32 * j + lane] = v[j];
                if (qk) {
                    float dh;
                    const int cq = q8_round(v[j], &dh);
                    sqq[r * D + 32 * j + lane] = (int8_t)cq;
                    int sum = cq;
#pragma unroll
                    for (int off = 16; off; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
                    if (lane == 0) {
                        sdq[r * NB + j] = dh;
                        ssum[r * NB + j] = sum;
                    }
                }
            }
        } else {
            ad_store_regs<D>(r == GM ? f.tk : f.tv, v, r == GM ? fk : fv, r == GM ? fks : fvs);
        }
    }
    if (tid < GM) { sm_m[tid] = -INFINITY; sm_l[tid] = 0.0f; }
    __syncthreads();
    if (sp == 0) { /* slice 0 stores the new row */
        const size_t row = (size_t)pos0 * nkv + hk;
        for (int i = tid; i < L.cbk; i += AD_THREADS) K[row * L.cbk + i] = fk[i];
        for (int i = tid; i < L.cbv; i += AD_THREADS) V[row * L.cbv + i] = fv[i];
        if (qk && tid < NB) ((__half *)Ks)[row * NB + tid] = fks[tid];
        if (qv && tid < NB) ((__half *)Vs)[row * NB + tid] = fvs[tid];
    }

    float acc[GM][E];
#pragma unroll
    for (int g = 0; g < GM; g++)
#pragma unroll
        for (int e = 0; e < E; e++) acc[g][e] = 0.0f;
    for (int t = 0; t < n_tiles; t++) {
        if (t + 1 < n_tiles) issue(t + 1);
        else cp_commit();
        cp_wait<1>();
        uint8_t *st = sm + (t & 1) * L.stage;
        const int pb = p0 + t * AD_TP, nv = t == n_tiles - 1 ? p1 - pb : AD_TP;
        if (n_kv - 1 >= pb && n_kv - 1 < pb + nv) { /* the new row, from the block's own copy */
            const int r = n_kv - 1 - pb;
            for (int i = tid; i < L.cbk; i += AD_THREADS) st[L.k_off + r * L.krs + i] = fk[i];
            for (int i = tid; i < L.cbv; i += AD_THREADS) st[L.v_off + r * L.vrs + i] = fv[i];
            if (qk && tid < NB) ((__half *)(st + L.ks_off + r * L.ksc))[tid] = fks[tid];
            if (qv && tid < NB) ((__half *)(st + L.vs_off + r * L.vsc))[tid] = fvs[tid];
        }
        __syncthreads();
        /* scores: thread (p, hh), half hh of the head's dims, every query head (positions past AD_TP
         * in a second round, by threads 0 .. 2 AD_TX - 1) */
        for (int round = 0; round < 2; round++) {
            int p, hh;
            if (round == 0) {
                p = tid % AD_TP;
                hh = tid / AD_TP;
            } else {
                if (nv <= AD_TP || tid >= 2 * AD_TX) break;
                p = AD_TP + tid % AD_TX;
                hh = tid / AD_TX;
            }
            if (p < nv) {
                const uint8_t *kr = st + L.k_off + p * L.krs;
                float s[GM];
#pragma unroll
                for (int g = 0; g < GM; g++) s[g] = 0.0f;
                if (f.tk == ZETA_TYPE_F16) {
#pragma unroll
                    for (int c = 0; c < D / 16; c++) {
                        const uint4 u = ((const uint4 *)(kr + hh * D))[c];
                        const __half2 *h2 = (const __half2 *)&u;
                        float kf[8];
#pragma unroll
                        for (int e = 0; e < 4; e++) {
                            const float2 v2 = __half22float2(h2[e]);
                            kf[2 * e] = v2.x;
                            kf[2 * e + 1] = v2.y;
                        }
#pragma unroll
                        for (int g = 0; g < GM; g++) {
                            const float4 *qv4 = (const float4 *)(sq + g * D + hh * (D / 2) + 8 * c);
                            const float4 qa = qv4[0], qb = qv4[1];
                            s[g] += qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3] + qb.x * kf[4] + qb.y * kf[5] +
                                    qb.z * kf[6] + qb.w * kf[7];
                        }
                    }
                } else {
                    const __half *ksr = (const __half *)(st + L.ks_off + p * L.ksc);
#pragma unroll
                    for (int bb = 0; bb < NB / 2; bb++) {
                        const int b = hh * (NB / 2) + bb;
                        const float dk = __half2float(ksr[b]);
                        uint4 lo, hi;
                        if (f.tk == ZETA_TYPE_Q8_0) {
                            lo = ((const uint4 *)(kr + 32 * b))[0];
                            hi = ((const uint4 *)(kr + 32 * b))[1];
                        } else {
                            const uint4 u = *(const uint4 *)(kr + 16 * b);
                            lo = make_uint4(u.x & 0x0f0f0f0fu, u.y & 0x0f0f0f0fu, u.z & 0x0f0f0f0fu, u.w & 0x0f0f0f0fu);
                            hi = make_uint4((u.x >> 4) & 0x0f0f0f0fu, (u.y >> 4) & 0x0f0f0f0fu, (u.z >> 4) & 0x0f0f0f0fu,
                                            (u.w >> 4) & 0x0f0f0f0fu);
                        }
#pragma unroll
                        for (int g = 0; g < GM; g++) {
                            const int4 qa = ((const int4 *)(sqq + g * D + 32 * b))[0], qb = ((const int4 *)(sqq + g * D + 32 * b))[1];
                            int is = __dp4a((int)lo.x, qa.x, 0);
                            is = __dp4a((int)lo.y, qa.y, is);
                            is = __dp4a((int)lo.z, qa.z, is);
                            is = __dp4a((int)lo.w, qa.w, is);
                            is = __dp4a((int)hi.x, qb.x, is);
                            is = __dp4a((int)hi.y, qb.y, is);
                            is = __dp4a((int)hi.z, qb.z, is);
                            is = __dp4a((int)hi.w, qb.w, is);
                            if (f.tk == ZETA_TYPE_Q4_0) is -= 8 * ssum[g * NB + b];
                            s[g] += (float)is * (dk * sdq[g * NB + b]);
                        }
                    }
                }
#pragma unroll
                for (int g = 0; g < GM; g++) s2[(hh * GM + g) * AD_TC + p] = s[g];
            }
        }
        __syncthreads();
        /* softmax: warp w, heads w, w + 4, ... (together, for independent chains); lane: positions
         * lane, lane + 32 */
        {
            constexpr int HW = (GM + AD_WARPS - 1) / AD_WARPS;
            const int pa = lane, pc = lane + 32, pe = lane + 64; /* pe: the positions past AD_TP */
            float sa[HW], sc[HW], se[HW], tm[HW];
#pragma unroll
            for (int k = 0; k < HW; k++) {
                const int g = w + AD_WARPS * k;
                if (g >= GM) break;
                sa[k] = pa < nv ? (s2[g * AD_TC + pa] + s2[(GM + g) * AD_TC + pa]) * a.scale : -INFINITY;
                sc[k] = pc < nv ? (s2[g * AD_TC + pc] + s2[(GM + g) * AD_TC + pc]) * a.scale : -INFINITY;
                se[k] = pe < nv ? (s2[g * AD_TC + pe] + s2[(GM + g) * AD_TC + pe]) * a.scale : -INFINITY;
                tm[k] = fmaxf(fmaxf(sa[k], sc[k]), se[k]);
            }
#pragma unroll
            for (int off = 16; off; off >>= 1)
#pragma unroll
                for (int k = 0; k < HW; k++)
                    if (w + AD_WARPS * k < GM) tm[k] = fmaxf(tm[k], __shfl_xor_sync(0xffffffffu, tm[k], off));
            float mo[HW], mn[HW], ps[HW];
#pragma unroll
            for (int k = 0; k < HW; k++) {
                const int g = w + AD_WARPS * k;
                if (g >= GM) break;
                mo[k] = sm_m[g];
                mn[k] = fmaxf(mo[k], tm[k]);
                const float ea = pa < nv ? expf(sa[k] - mn[k]) : 0.0f, ec = pc < nv ? expf(sc[k] - mn[k]) : 0.0f;
                const float ee = pe < nv ? expf(se[k] - mn[k]) : 0.0f;
                P[pa * GM + g] = ea;
                P[pc * GM + g] = ec;
                if (pe < AD_TC) P[pe * GM + g] = ee;
                ps[k] = ea + ec + ee;
            }
#pragma unroll
            for (int off = 16; off; off >>= 1)
#pragma unroll
                for (int k = 0; k < HW; k++)
                    if (w + AD_WARPS * k < GM) ps[k] += __shfl_xor_sync(0xffffffffu, ps[k], off);
            __syncwarp(); /* every lane has read sm_m */
            if (lane == 0)
#pragma unroll
                for (int k = 0; k < HW; k++) {
                    const int g = w + AD_WARPS * k;
                    if (g >= GM) break;
                    const float corr = expf(mo[k] - mn[k]);
                    sm_m[g] = mn[k];
                    sm_l[g] = sm_l[g] * corr + ps[k];
                    sm_c[g] = corr;
                }
        }
        __syncthreads();
        /* values */
#pragma unroll
        for (int g = 0; g < GM; g++) {
            const float cg = sm_c[g];
#pragma unroll
            for (int e = 0; e < E; e++) acc[g][e] *= cg;
        }
        if (f.tv == ZETA_TYPE_Q8_0) ad_values<D, GM, ZETA_TYPE_Q8_0>(st, L, P, acc, nv);
        else if (f.tv == ZETA_TYPE_Q4_0) ad_values<D, GM, ZETA_TYPE_Q4_0>(st, L, P, acc, nv);
        else ad_values<D, GM, ZETA_TYPE_F16>(st, L, P, acc, nv);
        __syncthreads();
    }
    cp_wait<0>();
    /* the warps' sums (all used the same running maxima), in warp order */
    float *red = (float *)(sm + L.red);
#pragma unroll
    for (int g = 0; g < GM; g++) {
        if (g >= G) break;
#pragma unroll
        for (int e = 0; e < E; e++) red[(w * GM + g) * D + E * lane + e] = acc[g][e];
    }
    __syncthreads();
    for (int i = tid; i < G * D; i += AD_THREADS) {
        const int g = i / D, d = i % D;
        float A = 0.0f;
#pragma unroll
        for (int k = 0; k < AD_WARPS; k++) A += red[(k * GM + g) * D + d];
        if (n_split == 1) {
            x[i] = A / sm_l[g];
        } else {
            float *pp = part + ((size_t)(hk * G + g) * n_split + sp) * (D + 2);
            pp[d] = A;
            if (d == 0) {
                pp[D] = sm_m[g];
                pp[D + 1] = sm_l[g];
            }
        }
    }
    if (n_split > 1) return;
    __syncthreads();
    if (f.rot_v) kq_fwht(x, G * D, f.rot_v);
    for (int i = tid; i < G * D; i += AD_THREADS) { /* warp-uniform: G * D % 32 == 0 */
        out[(size_t)hk * G * D + i] = x[i];
        if (a.xq) q8_store(x[i], a.xq, a.n_head * D, (int)(((size_t)hk * G * D + i) / 32), a.xq_sparse.stat ? &a.xq_sparse : nullptr);
    }
}

static bool gqa_on(void) {
    static int on = -1;
    return cuda_switch_on("ZETA_CUDA_ATTN_GQA", &on);
}

/* positions from which the kernel is used: below, the per-query-head kernels (more blocks, a
 * shorter chain of dependent steps) are faster or no slower. Measured on an H200 (1.1B shape, tg128,
 * bench/RESULTS.md 2026-11-27 21:06 and 21:25): with an f16 cache this kernel was faster at 256
 * positions (1158 against 1142 t/s) and far faster at 1024 (1131 against 951); from position 0 the
 * two were equal within noise (1259, 1279 against 1245, 1259 in one call, 1266, 1274 against 1271,
 * 1274 in the next). With q8_0 it was slower at 256 (1126 against 1227), faster at 1024 (1108
 * against 1081). ZETA_CUDA_ATTN_GQA_MIN overrides both. */
#define AD_MIN_POS_F16 256
#define AD_MIN_POS_Q 1024
static int gqa_min(const cuda_attn_args *a) {
    static int v = -2;
    if (v == -2) {
        const char *e = getenv("ZETA_CUDA_ATTN_GQA_MIN");
        v = e && *e ? (atoi(e) > 0 ? atoi(e) : 0) : -1;
    }
    if (v >= 0) return v;
    return a->kvq && (kq_quant(a->kvq->tk) || kq_quant(a->kvq->tv)) ? AD_MIN_POS_Q : AD_MIN_POS_F16;
}

bool cuda_attn_gqa_ok(const cuda_attn_args *a) {
    return a->n_tok == 1 && a->dk == a->dv && (a->dk == 64 || a->dk == 128) && a->n_head % a->n_head_kv == 0 &&
           a->n_head / a->n_head_kv <= 16 && (!a->rope || a->rope->n_rot <= a->dk) && (int64_t)a->pos0 + 1 >= gqa_min(a) &&
           gqa_on();
}

int cuda_attn_gqa_split(const cuda_attn_args *a, size_t part_floats, int n_sm) {
    const int n_kv = (int)a->pos0 + 1;
    static int per_sm = -1, min_tiles = -1;
    if (per_sm < 0) {
        const char *e = getenv("ZETA_CUDA_ATTN_GQA_BLOCKS"), *t = getenv("ZETA_CUDA_ATTN_GQA_TILES");
        per_sm = e && atoi(e) > 0 ? atoi(e) : AD_BLOCKS_SM;
        min_tiles = t && atoi(t) > 0 ? atoi(t) : AD_MIN_TILES;
    }
    int want = (per_sm * n_sm + a->n_head_kv - 1) / a->n_head_kv;
    const int by_len = n_kv / (min_tiles * AD_TP); /* at least this many tiles a slice */
    if (want > by_len) want = by_len;
    if (want > 128) want = 128; /* cuda_kvq_merge's limit */
    while (want > 1 && (size_t)a->n_head * want * (a->dv + 2) > part_floats) want--;
    int n = 1;
    while (2 * n <= want) n *= 2; /* powers of two: a decode graph is recaptured only when this changes */
    return n;
}

template <int D, int GM>
static cudaError_t gqa_launch(cudaStream_t s, const cuda_attn_args *a, const cuda_kvq *f, uint8_t *K, uint8_t *V, const float *q,
                              const float *k, const float *v, float *out, float *part, int n_split) {
    const ad_layout L = ad_make(D, GM, f->tk, f->tv);
    static int max_set = 0; /* per instantiation: the largest dynamic shared memory allowed so far */
    if (L.total > 48 * 1024 && L.total > max_set) {
        /* the first launch may come while a decode graph is being captured: the attribute is set
         * with this thread's capture mode relaxed, as for any call that is not a stream operation */
        cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
        cudaThreadExchangeStreamCaptureMode(&mode);
        const cudaError_t e = cudaFuncSetAttribute(k_attn_gqa<D, GM>, cudaFuncAttributeMaxDynamicSharedMemorySize, L.total);
        cudaThreadExchangeStreamCaptureMode(&mode);
        if (e != cudaSuccess) return e;
        max_set = L.total;
    }
    cuda_rope_args ra;
    if (a->rope) ra = *a->rope;
    else memset(&ra, 0, sizeof ra);
    const bool pdl = cuda_pdl_chain();
    cudaError_t e = cuda_launch(pdl, k_attn_gqa<D, GM>, dim3(a->n_head_kv, n_split), dim3(AD_THREADS), (size_t)L.total, s, q, K, V, k,
                                v, out, part, *a, *f, n_split, ra, a->rope ? 1 : 0, pdl ? 1 : 0);
    if (e == cudaSuccess && n_split > 1)
        e = cuda_kvq_merge(s, pdl, part, out, a->n_head, 1, D, n_split, f->rot_v, a->xq, a->xq_sparse);
    return e;
}

template <int D>
static cudaError_t gqa_g(cudaStream_t s, const cuda_attn_args *a, const cuda_kvq *f, uint8_t *K, uint8_t *V, const float *q,
                         const float *k, const float *v, float *out, float *part, int n_split) {
    const int G = a->n_head / a->n_head_kv;
    if (G <= 1) return gqa_launch<D, 1>(s, a, f, K, V, q, k, v, out, part, n_split);
    if (G <= 2) return gqa_launch<D, 2>(s, a, f, K, V, q, k, v, out, part, n_split);
    if (G <= 4) return gqa_launch<D, 4>(s, a, f, K, V, q, k, v, out, part, n_split);
    if (G <= 8) return gqa_launch<D, 8>(s, a, f, K, V, q, k, v, out, part, n_split);
    return gqa_launch<D, 16>(s, a, f, K, V, q, k, v, out, part, n_split);
}

cudaError_t cuda_attn_gqa(cudaStream_t s, const cuda_attn_args *a, void *K, void *V, const float *q, const float *k, const float *v,
                          float *out, float *part, int n_split) {
    if (!cuda_attn_gqa_ok(a) || n_split < 1) return cudaErrorInvalidValue;
    cuda_kvq f16 = {ZETA_TYPE_F16, ZETA_TYPE_F16, 0, 0, 0}; /* an f16 cache: no scales, so n_ctx is not needed */
    const cuda_kvq *f = a->kvq ? a->kvq : &f16;
    return a->dk == 64 ? gqa_g<64>(s, a, f, (uint8_t *)K, (uint8_t *)V, q, k, v, out, part, n_split)
                       : gqa_g<128>(s, a, f, (uint8_t *)K, (uint8_t *)V, q, k, v, out, part, n_split);
}
