/* cuda_smv.cuh — what the two sparse product kernels share (cuda_sparse.cu's k_smv, cuda_smvb.cu's
 * k_smvb): the byte transpose that turns four columns' bytes into one dp4a operand per row, and the
 * f16 scale decoder. */
#pragma once
#include <cuda_fp16.h>
#include <stdint.h>

__device__ __forceinline__ float smv_h2f(uint32_t h) { return __half2float(__ushort_as_half((unsigned short)h)); }

/* r[i] = byte i of a, b, c, d (a 4 x 4 byte transpose) */
__device__ __forceinline__ void tr4(uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t r[4]) {
    const uint32_t t0 = __byte_perm(a, b, 0x5140), t1 = __byte_perm(a, b, 0x7362);
    const uint32_t t2 = __byte_perm(c, d, 0x5140), t3 = __byte_perm(c, d, 0x7362);
    r[0] = __byte_perm(t0, t2, 0x5410);
    r[1] = __byte_perm(t0, t2, 0x7632);
    r[2] = __byte_perm(t1, t3, 0x5410);
    r[3] = __byte_perm(t1, t3, 0x7632);
}

/* a[m] of a job's three matrices */
template <typename X> __device__ __forceinline__ X smv_pick(const X (&a)[3], int m) { return m == 0 ? a[0] : m == 1 ? a[1] : a[2]; }
