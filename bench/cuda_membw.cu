/* cuda_membw.cu — device-to-device copy bandwidth (bytes read + written), the decode roofline's
 * denominator; then, for reference, a read-only kernel's bandwidth (what a decode step's weight
 * reads could reach at best). Built and run by bench/cuda_run.sh: nvcc -O2 -arch=sm_90 bench/cuda_membw.cu */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { printf("membw: %s: %s\n", #x, cudaGetErrorString(e)); return 1; } } while (0)

/* every 16-byte word of a read once (streaming loads, 4 in flight a thread); a nonzero word count
 * goes to out so the loads cannot be dropped */
__global__ void k_read(const uint4 *a, size_t n, unsigned *out) {
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    unsigned acc = 0;
    size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
    for (; i + 3 * stride < n; i += 4 * stride) {
        uint4 v[4];
#pragma unroll
        for (int k = 0; k < 4; k++) v[k] = __ldcs(a + i + k * stride);
#pragma unroll
        for (int k = 0; k < 4; k++) acc ^= v[k].x ^ v[k].y ^ v[k].z ^ v[k].w;
    }
    for (; i < n; i += stride) { const uint4 v = __ldcs(a + i); acc ^= v.x ^ v.y ^ v.z ^ v.w; }
    if (acc == 0x9e3779b9u) atomicAdd(out, 1u);
}

static int cmp(const void *a, const void *b) { float x = *(const float *)a, y = *(const float *)b; return (x > y) - (x < y); }

int main(void) {
    const size_t n = (size_t)2 << 30; /* 2 GiB each way */
    void *a, *b;
    CK(cudaMalloc(&a, n));
    CK(cudaMalloc(&b, n));
    CK(cudaMemset(a, 1, n));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    float ms[20];
    for (int i = 0; i < 23; i++) {
        CK(cudaEventRecord(e0));
        CK(cudaMemcpy(i & 1 ? a : b, i & 1 ? b : a, n, cudaMemcpyDeviceToDevice));
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        if (i >= 3) CK(cudaEventElapsedTime(&ms[i - 3], e0, e1));
    }
    qsort(ms, 20, sizeof ms[0], cmp);
    printf("membw: device-to-device copy of %.1f GiB: median %.3f ms = %.0f GB/s (read + write), min %.3f ms\n", (double)n / (1 << 30),
           ms[10], 2.0 * n / (ms[10] * 1e-3) / 1e9, ms[0]);
    unsigned *out;
    int dev = 0, n_sm = 0;
    CK(cudaMalloc(&out, sizeof *out));
    CK(cudaGetDevice(&dev));
    CK(cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, dev));
    for (int i = 0; i < 23; i++) {
        CK(cudaEventRecord(e0));
        k_read<<<n_sm * 8, 256>>>((const uint4 *)(i & 1 ? a : b), n / 16, out);
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        if (i >= 3) CK(cudaEventElapsedTime(&ms[i - 3], e0, e1));
    }
    CK(cudaGetLastError());
    qsort(ms, 20, sizeof ms[0], cmp);
    printf("membw: read-only kernel over %.1f GiB: median %.3f ms = %.0f GB/s (read), min %.3f ms\n", (double)n / (1 << 30), ms[10],
           n / (ms[10] * 1e-3) / 1e9, ms[0]);
    return 0;
}
