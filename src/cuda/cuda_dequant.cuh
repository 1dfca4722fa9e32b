/* cuda_dequant.cuh — the device dequantizers of the matrix kernels (cuda_matmul.cu): 32 elements of a
 * row of every weight type in its device layout (load32 / wload32; q4_0 / q8_0 in the split layout,
 * load_split), one float element (load1). The CPU's dequantizers in quant*.c are the spec. */
#ifndef ZETA_CUDA_DEQUANT_CUH
#define ZETA_CUDA_DEQUANT_CUH

#include "cuda/cuda_mmv.cuh"

/* the 6-bit scale and min codes of sub-block j (0..7) from the 12 packed bytes q of a Q4_K / Q5_K
 * super-block (the CPU's scale_min_k4) */
__device__ __forceinline__ void k4_scale_min(const uint8_t *q, int j, int &sc, int &m) {
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

__device__ __forceinline__ float bf2f(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }


/* one element of a float row (f32 / f16 / bf16) */
template <int T> __device__ __forceinline__ float load1(const uint8_t *row, int i) {
    if (T == ZETA_TYPE_F32) return ((const float *)row)[i];
    if (T == ZETA_TYPE_F16) return h2f(((const uint16_t *)row)[i]);
    return bf2f(((const uint16_t *)row)[i]);
}

/* q4_0 / q8_0 in the split layout (cuda_weight_split): block i's quants at W + QB * i, its f16
 * scale at W + QB * n_blocks + 2 * i */
template <int T> __host__ __device__ constexpr bool split_type() { return T == ZETA_TYPE_Q4_0 || T == ZETA_TYPE_Q8_0; }
template <int T> __host__ __device__ constexpr int split_qb() { return T == ZETA_TYPE_Q4_0 ? 16 : 32; }

/* the 32 elements of split block i */
template <int T> __device__ __forceinline__ void load_split(const uint8_t *W, size_t n_blocks, size_t i, float *w) {
    const float d = h2f(((const uint16_t *)(W + (size_t)split_qb<T>() * n_blocks))[i]);
    const uint4 *q = (const uint4 *)(W + (size_t)split_qb<T>() * i);
    if (T == ZETA_TYPE_Q4_0) { /* 16 bytes of nibbles: low -> elements 0..15, high -> 16..31 */
        const uint4 v4 = q[0];
        const uint32_t u[4] = {v4.x, v4.y, v4.z, v4.w};
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const uint32_t lo = u[j] & 0x0f0f0f0fu, hi = (u[j] >> 4) & 0x0f0f0f0fu;
#pragma unroll
            for (int e = 0; e < 4; e++) {
                w[4 * j + e] = (i2f_lo8(lo, e) - 8388616.0f) * d;      /* (q - 8) * d, exactly as (float)(q - 8) * d */
                w[4 * j + e + 16] = (i2f_lo8(hi, e) - 8388616.0f) * d;
            }
        }
    } else { /* 32 int8 */
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const uint4 v4 = q[h];
            const uint32_t u[4] = {v4.x, v4.y, v4.z, v4.w};
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const uint32_t v = u[j] ^ 0x80808080u; /* q + 128 */
#pragma unroll
                for (int e = 0; e < 4; e++) w[16 * h + 4 * j + e] = (i2f_lo8(v, e) - 8388736.0f) * d;
            }
        }
    }
}

/* little-endian 16 / 32-bit fields at any byte address (blocks of 18, 20, 22, 84, 110 and 136 bytes) */
__device__ __forceinline__ uint32_t ldb16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
__device__ __forceinline__ uint32_t ldb32(const uint8_t *p) { return ldb16(p) | (ldb16(p + 2) << 16); }

/* ggml's kvalues_iq4nl (IQ4_NL / IQ4_XS codebook) */
__constant__ int8_t k_iq4nl_dev[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* the block types the generic kernels take by byte loads (the CPU's dequantizers in quant*.c are the
 * spec; each value one rounded product and, where the spec has it, one rounded sum or difference,
 * never fused) */
template <int T> __host__ __device__ constexpr bool byte_block_type() {
    return T == ZETA_TYPE_Q4_1 || T == ZETA_TYPE_Q5_0 || T == ZETA_TYPE_Q5_1 || T == ZETA_TYPE_IQ4_NL || T == ZETA_TYPE_Q2_K ||
           T == ZETA_TYPE_Q3_K || T == ZETA_TYPE_Q5_K || T == ZETA_TYPE_IQ4_XS;
}

/* elements 32c .. 32c + 31 of a row of a byte_block_type */
template <int T> __device__ __forceinline__ void load32_bytes(const uint8_t *row, int c, float *w) {
    if (T == ZETA_TYPE_Q4_1 || T == ZETA_TYPE_Q5_1) { /* d, m, (qh[4],) qs[16]: (q * d) + m */
        const uint8_t *b = row + (size_t)c * (T == ZETA_TYPE_Q4_1 ? 20 : 24);
        const float d = h2f((uint16_t)ldb16(b)), m = h2f((uint16_t)ldb16(b + 2));
        const uint32_t qh = T == ZETA_TYPE_Q5_1 ? ldb32(b + 4) : 0u;
        const uint8_t *qs = b + (T == ZETA_TYPE_Q4_1 ? 4 : 8);
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const uint32_t q0 = (qs[j] & 0x0fu) | (((qh >> j) & 1u) << 4), q1 = (qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4);
            w[j] = __fadd_rn(__fmul_rn((float)q0, d), m);
            w[j + 16] = __fadd_rn(__fmul_rn((float)q1, d), m);
        }
    } else if (T == ZETA_TYPE_Q5_0) { /* d, qh[4], qs[16]: (q - 16) * d */
        const uint8_t *b = row + (size_t)c * 22;
        const float d = h2f((uint16_t)ldb16(b));
        const uint32_t qh = ldb32(b + 2);
        const uint8_t *qs = b + 6;
#pragma unroll
        for (int j = 0; j < 16; j++) {
            const int q0 = (int)((qs[j] & 0x0fu) | (((qh >> j) & 1u) << 4)) - 16, q1 = (int)((qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4)) - 16;
            w[j] = __fmul_rn((float)q0, d);
            w[j + 16] = __fmul_rn((float)q1, d);
        }
    } else if (T == ZETA_TYPE_IQ4_NL || T == ZETA_TYPE_IQ4_XS) { /* d (times the sub-block's scale) * codebook value */
        const uint8_t *qs;
        float d;
        if (T == ZETA_TYPE_IQ4_NL) {
            const uint8_t *b = row + (size_t)c * 18;
            d = h2f((uint16_t)ldb16(b));
            qs = b + 2;
        } else { /* 136 bytes per 256: d, scales_h, scales_l[4], qs[128]; chunk c = sub-block ib */
            const uint8_t *b = row + (size_t)(c >> 3) * 136;
            const int ib = c & 7;
            const int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 0xf) | (((ldb16(b + 2) >> (2 * ib)) & 3) << 4);
            d = __fmul_rn(h2f((uint16_t)ldb16(b)), (float)(ls - 32));
            qs = b + 8 + 16 * ib;
        }
#pragma unroll
        for (int j = 0; j < 16; j++) {
            w[j] = __fmul_rn(d, (float)k_iq4nl_dev[qs[j] & 0xf]);
            w[j + 16] = __fmul_rn(d, (float)k_iq4nl_dev[qs[j] >> 4]);
        }
    } else if (T == ZETA_TYPE_Q5_K) { /* 176 bytes per 256: d, dmin, scales[12], qh[32], qs[128] */
        const uint8_t *b = row + (size_t)(c >> 3) * 176;
        const int j = c & 7, cc = j >> 1, shift = (j & 1) * 4;
        const float d = h2f((uint16_t)ldb16(b)), dmin = h2f((uint16_t)ldb16(b + 2));
        const uint8_t *q = b + 4;
        int sc, m;
        k4_scale_min(q, j, sc, m);
        const float d1 = __fmul_rn(d, (float)sc), m1 = __fmul_rn(dmin, (float)m);
        const uint8_t *qh = b + 16, *ql = b + 48 + 32 * cc;
#pragma unroll
        for (int l = 0; l < 32; l++) w[l] = __fsub_rn(__fmul_rn(d1, (float)(((ql[l] >> shift) & 0x0f) + ((qh[l] >> j) & 1 ? 16 : 0))), m1);
    } else if (T == ZETA_TYPE_Q2_K) { /* 84 bytes per 256: scales[16], qs[64], d, dmin; chunk c: elements 32 (c & 7) .. */
        const uint8_t *b = row + (size_t)(c >> 3) * 84;
        const int e0 = 32 * (c & 7), cc = e0 / 128, s = (e0 / 32) % 4;
        const float d = h2f((uint16_t)ldb16(b + 80)), dmin = h2f((uint16_t)ldb16(b + 82));
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const uint8_t sc = b[(e0 + 16 * h) / 16];
            const float dl = __fmul_rn(d, (float)(sc & 0xf)), ml = __fmul_rn(dmin, (float)(sc >> 4));
#pragma unroll
            for (int l = 16 * h; l < 16 * h + 16; l++) w[l] = __fsub_rn(__fmul_rn(dl, (float)((b[16 + 32 * cc + l] >> (2 * s)) & 3)), ml);
        }
    } else if (T == ZETA_TYPE_Q3_K) { /* 110 bytes per 256: hmask[32], qs[64], scales[12], d */
        const uint8_t *b = row + (size_t)(c >> 3) * 110;
        const int e0 = 32 * (c & 7), cc = e0 / 128, s = (e0 / 32) % 4;
        const float d = h2f((uint16_t)ldb16(b + 108));
        const uint8_t *scales = b + 96;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int jb = (e0 + 16 * h) / 16;
            const int lo = jb < 8 ? scales[jb] & 0xf : scales[jb - 8] >> 4, hi = (scales[8 + jb % 4] >> (2 * (jb / 4))) & 3;
            const float dl = __fmul_rn(d, (float)((lo | (hi << 4)) - 32));
#pragma unroll
            for (int l = 16 * h; l < 16 * h + 16; l++) {
                const int q = ((b[32 + 32 * cc + l] >> (2 * s)) & 3) - ((b[l] >> (4 * cc + s)) & 1 ? 0 : 4);
                w[l] = __fmul_rn(dl, (float)q);
            }
        }
    }
}

/* elements 32c .. 32c + 31 of a row (types other than the split ones) */
template <int T> __device__ __forceinline__ void load32(const uint8_t *row, int c, float *w) {
    if (byte_block_type<T>()) {
        load32_bytes<T>(row, c, w);
        return;
    }
    if (T == ZETA_TYPE_F32) {
        const float4 *p = (const float4 *)(row + (size_t)c * 128);
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const float4 v = p[j];
            w[4 * j] = v.x; w[4 * j + 1] = v.y; w[4 * j + 2] = v.z; w[4 * j + 3] = v.w;
        }
    } else if (T == ZETA_TYPE_F16 || T == ZETA_TYPE_BF16) {
        const uint4 *p = (const uint4 *)(row + (size_t)c * 64);
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const uint4 v = p[j];
            const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
            for (int k = 0; k < 4; k++) {
                const uint16_t lo = (uint16_t)(u[k] & 0xffffu), hi = (uint16_t)(u[k] >> 16);
                w[8 * j + 2 * k] = T == ZETA_TYPE_F16 ? h2f(lo) : bf2f(lo);
                w[8 * j + 2 * k + 1] = T == ZETA_TYPE_F16 ? h2f(hi) : bf2f(hi);
            }
        }
    } else if (T == ZETA_TYPE_Q4_K) { /* 144 bytes per 256: d, dmin, 12 bytes of 6-bit scales/mins, 128 of nibbles */
        const uint8_t *b = row + (size_t)(c >> 3) * 144;
        const int j = c & 7, cc = j >> 1;
        const float d = h2f(((const uint16_t *)b)[0]), dmin = h2f(((const uint16_t *)b)[1]);
        const uint8_t *q = b + 4;
        int sc, m;
        k4_scale_min(q, j, sc, m);
        const float d1 = d * (float)sc, m1 = dmin * (float)m;
        const uint4 *qs = (const uint4 *)(b + 16 + 32 * cc);
        const int shift = (j & 1) * 4;
#pragma unroll
        for (int k = 0; k < 2; k++) {
            const uint4 v = qs[k];
            const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
            for (int e = 0; e < 16; e++) w[16 * k + e] = d1 * (float)((u[e >> 2] >> (8 * (e & 3) + shift)) & 15) - m1;
        }
    } else if (T == ZETA_TYPE_Q6_K) { /* 210 bytes per 256: ql[128], qh[64], int8 scales[16], f16 d */
        const uint8_t *b = row + (size_t)(c >> 3) * 210;
        const int j = c & 7, half = j >> 2, part = j & 3;
        const uint8_t *ql = b + 64 * half + (part & 1) * 32, *qh = b + 128 + 32 * half;
        const int8_t *sc = (const int8_t *)(b + 192) + 8 * half + 2 * part;
        const float d = h2f((uint16_t)(b[208] | (b[209] << 8)));
        const int lshift = (part >> 1) * 4, hshift = 2 * part;
        const float d0 = d * (float)sc[0], d1 = d * (float)sc[1];
#pragma unroll
        for (int l = 0; l < 32; l++) {
            const int q = ((ql[l] >> lshift) & 15) | (((qh[l] >> hshift) & 3) << 4);
            w[l] = (l < 16 ? d0 : d1) * (float)(q - 32);
        }
    }
}

/* elements 32c .. 32c + 31 of row r of a matrix of `rows` rows (K % 32 == 0) in its device layout */
template <int T>
__device__ __forceinline__ void wload32(const uint8_t *W, size_t row_bytes, int rows, int K, int r, int c, float *w) {
    if (split_type<T>()) load_split<T>(W, (size_t)rows * (K / 32), (size_t)r * (K / 32) + c, w);
    else load32<T>(W + (size_t)r * row_bytes, c, w);
}

/* CALL with the compile-time type TT for a run-time weight type T (cudaErrorInvalidValue from the
 * enclosing function for a type no kernel takes) */
#define DISPATCH(T, CALL)                                                          \
    switch (T) {                                                                   \
    case ZETA_TYPE_F32: { const int TT = ZETA_TYPE_F32; CALL; } break;             \
    case ZETA_TYPE_F16: { const int TT = ZETA_TYPE_F16; CALL; } break;             \
    case ZETA_TYPE_BF16: { const int TT = ZETA_TYPE_BF16; CALL; } break;           \
    case ZETA_TYPE_Q8_0: { const int TT = ZETA_TYPE_Q8_0; CALL; } break;           \
    case ZETA_TYPE_Q4_0: { const int TT = ZETA_TYPE_Q4_0; CALL; } break;           \
    case ZETA_TYPE_Q4_K: { const int TT = ZETA_TYPE_Q4_K; CALL; } break;           \
    case ZETA_TYPE_Q6_K: { const int TT = ZETA_TYPE_Q6_K; CALL; } break;           \
    case ZETA_TYPE_Q4_1: { const int TT = ZETA_TYPE_Q4_1; CALL; } break;           \
    case ZETA_TYPE_Q5_0: { const int TT = ZETA_TYPE_Q5_0; CALL; } break;           \
    case ZETA_TYPE_Q5_1: { const int TT = ZETA_TYPE_Q5_1; CALL; } break;           \
    case ZETA_TYPE_IQ4_NL: { const int TT = ZETA_TYPE_IQ4_NL; CALL; } break;       \
    case ZETA_TYPE_Q2_K: { const int TT = ZETA_TYPE_Q2_K; CALL; } break;           \
    case ZETA_TYPE_Q3_K: { const int TT = ZETA_TYPE_Q3_K; CALL; } break;           \
    case ZETA_TYPE_Q5_K: { const int TT = ZETA_TYPE_Q5_K; CALL; } break;           \
    case ZETA_TYPE_IQ4_XS: { const int TT = ZETA_TYPE_IQ4_XS; CALL; } break;       \
    default: return cudaErrorInvalidValue;                                         \
    }

#endif
