/* cuda_runs.cu — how fast a GPU reads scattered runs of R contiguous bytes (R-aligned, at pseudo-random
 * places in a 4 GiB buffer, far over the L2), against a plain streaming read of the same number of
 * bytes. Each 32 MiB of what is read comes from its own 64 MiB region (as a product's matrix would
 * give the address translation), places hashed with power-of-two masks (two first versions, drawing
 * from all 4 GiB and then from the regions, both with a 64-bit modulo per load, read every run size at
 * ~2.1-2.3 TB/s: the modulo's instructions bound them, not the memory). The question behind it (bench/CUDA_NOTES.md v19): the sparse pass's products read, per kept
 * input column and tile of rows, a run of 256 bytes (Q4_0, 512 rows); if such runs read much slower
 * than a stream, no kernel shape on that layout reaches the dense products' rate, and the tile (the
 * run a block reads at once) must grow.
 *
 * Each lane loads 16 bytes, U loads in flight a lane before any is used; a warp covers 512 bytes an
 * instruction (512 / R runs, or R / 512 instructions a run). 1 GiB read per launch; GB/s from the
 * median of 7 timed launches after one warm-up; 4 and 8 blocks of 8 warps an SM.
 *
 * Build and run (GPU machine): nvcc -O3 -arch=sm_90 bench/cuda_runs.cu -o cuda_runs && ./cuda_runs */
#include <cuda_runtime.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <algorithm>
#include <string>
#include <vector>

#define CK(x)                                                                                   \
    do {                                                                                        \
        cudaError_t e_ = (x);                                                                   \
        if (e_ != cudaSuccess) {                                                                \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            exit(1);                                                                            \
        }                                                                                       \
    } while (0)

static const size_t BUF = 4ull << 30;  /* bytes allocated */
static const size_t READ = 1ull << 30; /* bytes read a launch */
#define SEG (32ull << 20)
#define BUF_D (4ull << 30)

__device__ __forceinline__ uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

/* unit u (512 bytes of what is read) -> its address: R == 0 the stream; else byte i of the stream is
 * byte i % R of run i / R, and a run's place is its index hashed */
template <int U>
__global__ void __launch_bounds__(256) k_runs(const uint4 *__restrict__ buf, uint64_t n_units, int R, uint64_t n_slots,
                                               uint32_t *sink) {
    const int lane = threadIdx.x & 31, lg = 31 - __clz(R | 1); /* R a power of 2 */
    const uint64_t warp = (blockIdx.x * (uint64_t)blockDim.x + threadIdx.x) >> 5, n_warps = (gridDim.x * (uint64_t)blockDim.x) >> 5;
    uint32_t acc = 0;
    for (uint64_t u0 = warp * U; u0 < n_units; u0 += n_warps * U) {
        uint4 v[U];
#pragma unroll
        for (int k = 0; k < U; k++) {
            const uint64_t u = u0 + k;
            const uint64_t byte = u * 512 + (uint64_t)lane * 16; /* of the logical stream */
            uint64_t addr;
            if (R == 0) {
                addr = byte; /* streaming */
            } else {
                /* each 32 MiB of the stream reads runs of its own 64 MiB region (a product's matrix
                 * of the 7B shape is 9-50 MB), the regions in order, none read twice in a launch */
                const uint64_t seg = byte / SEG, run = byte >> lg, in = byte & (uint64_t)(R - 1);
                addr = ((seg * 2 * SEG) & (BUF_D - 1)) + (mix(run) & (n_slots - 1)) * (uint64_t)R + in; /* powers of 2 */
            }
            v[k] = u < n_units ? buf[addr / 16] : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int k = 0; k < U; k++) acc ^= v[k].x ^ v[k].y ^ v[k].z ^ v[k].w;
    }
    if (acc == 0x12345678u) sink[0] = acc;
}

int main(int argc, char **argv) {
    int dev = 0, n_sm = 0;
    CK(cudaSetDevice(dev));
    CK(cudaDeviceGetAttribute(&n_sm, cudaDevAttrMultiProcessorCount, dev));
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, dev));
    printf("device: %s, %d SMs\n", p.name, n_sm);
    uint4 *buf;
    uint32_t *sink;
    CK(cudaMalloc(&buf, BUF));
    CK(cudaMalloc(&sink, 4));
    CK(cudaMemset(buf, 1, BUF));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    const uint64_t n_units = READ / 512;
    struct cfg {
        int R, blocks_per_sm;
    };
    std::vector<cfg> cfgs;
    for (int bps : {4, 8})
        for (int R : {0, 64, 128, 256, 512, 1024, 2048, 4096, 16384}) cfgs.push_back({R, bps});
    printf("%8s %6s %10s\n", "run B", "blk/SM", "GB/s");
    for (const cfg &c : cfgs) {
        const uint64_t n_slots = c.R ? 2 * SEG / (uint64_t)c.R : 0; /* runs of a region */
        const dim3 grid((unsigned)(n_sm * c.blocks_per_sm)), block(256);
        std::vector<float> ms;
        for (int it = 0; it < 8; it++) {
            CK(cudaEventRecord(e0));
            k_runs<8><<<grid, block>>>(buf, n_units, c.R, n_slots, sink);
            CK(cudaEventRecord(e1));
            CK(cudaEventSynchronize(e1));
            CK(cudaGetLastError());
            float t = 0;
            CK(cudaEventElapsedTime(&t, e0, e1));
            if (it) ms.push_back(t);
        }
        std::sort(ms.begin(), ms.end());
        const float med = ms[ms.size() / 2];
        printf("%8s %6d %10.0f\n", c.R ? std::to_string(c.R).c_str() : "stream", c.blocks_per_sm, READ / (med * 1e-3) / 1e9);
    }
    (void)argc;
    (void)argv;
    return 0;
}
