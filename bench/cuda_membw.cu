/* cuda_membw.cu — device-to-device copy bandwidth (bytes read + written), the decode roofline's
 * denominator. Built and run by bench/cuda_run.sh: nvcc -O2 -arch=sm_90 bench/cuda_membw.cu */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>

#define CK(x) do { cudaError_t e = (x); if (e != cudaSuccess) { printf("membw: %s: %s\n", #x, cudaGetErrorString(e)); return 1; } } while (0)

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
    return 0;
}
