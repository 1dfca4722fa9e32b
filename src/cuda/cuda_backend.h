/* cuda_backend.h — the CUDA backend's entry points, callable from C (zeta.c, tests). Built from
 * the .cu files of src/cuda with `make CUDA=1`; a build without CUDA links cuda_stub.c instead, whose
 * functions report that CUDA is not compiled in. A model loaded for CUDA has its weights on one
 * device (uploaded once at load, in their GGUF block formats, shared by all its sessions); each
 * session's backend instance owns a stream, its activation buffers and an f16 KV cache there. */
#ifndef ZETA_CUDA_BACKEND_H
#define ZETA_CUDA_BACKEND_H

#include "backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* true in a build with the CUDA backend */
bool cuda_compiled(void);
/* number of CUDA devices; 0 with the driver's text in why (when why is not NULL) when there is
 * none or the driver failed */
int cuda_device_count(char *why, size_t cap);
/* Uploads the weights the forward pass reads on the device (every matrix except the token
 * embedding, which stays in host memory and is looked up there; norms; biases) to `device` and
 * sets their `dev` pointers; m->cuda owns the device memory. ZETA_ERR_BACKEND with the driver's
 * text on failure (nothing is left allocated). */
zeta_status cuda_model_init(struct zeta_model *m, int device, zeta_error *err);
/* frees what cuda_model_init allocated (no-op for a CPU model) */
void cuda_model_free(struct zeta_model *m);
/* A backend instance for one session of a model loaded for CUDA. ZETA_ERR_UNSUPPORTED names the
 * first tensor whose type the CUDA kernels cannot multiply, or a KV cache type other than f16. */
zeta_status cuda_backend_new(const struct zeta_model *m, const zeta_backend_config *cfg, zeta_backend_inst *out,
                             zeta_error *err);
/* The sparse pass of variational gating on the device (project / step_stats; NULL in a build
 * without CUDA). A model loaded for CUDA with a sparsity file has its native Q8_0 / Q4_0 sparse
 * layouts on the device (cuda_model_init refuses other layouts by tensor name). */
const zeta_sparse_ops *cuda_sparse_ops(void);
/* the weight types the CUDA matrix kernels take, for messages: "f32, f16, ..." */
const char *cuda_supported_types(void);

/* For tests: copies n host floats into a buffer of the instance (synchronous); uploads one
 * standalone weight to the model's device (sets w->dev) and frees it again. */
zeta_status cuda_buf_write(void *ctx, float *dst, const float *src, size_t n, zeta_error *err);
zeta_status cuda_weight_upload(const struct zeta_model *m, zeta_weight *w, zeta_error *err);
void cuda_weight_free(zeta_weight *w);
/* the run (zs_mat.gpu_run) of the tile-major order (zs_tile_major) the GPU's sparse products take
 * for a product of format fmt with n_in inputs whose first matrix has rows0 rows (the shape of
 * block they run: 256 for 16-row lanes, 128 for 8-row ones); cuda_model_init lays the uploaded
 * layouts out so, and a test uploading its own must too. 0 in a build without CUDA. */
uint32_t cuda_smv_run(int fmt, uint32_t n_in, uint32_t rows0);
/* For tests: n bytes copied to new device memory of the model's device (*dev), and freed */
zeta_status cuda_bytes_upload(const struct zeta_model *m, const void *src, size_t n, void **dev, zeta_error *err);
void cuda_bytes_free(void *dev);

/* For tests: one row of n floats (n % 256 == 0) through the RMSNorm that also rounds its output to
 * Q8_K (out: the norm; fused: the Q8_K bytes, n + n / 8 + n / 64 of them) and through the plain
 * RMSNorm then the products' own Q8_K rounding (ref: its bytes); memory of its own on the current
 * device */
zeta_status cuda_test_rmsnorm_q8K(const float *x, const float *g, int n, float eps, float *out, uint8_t *fused, uint8_t *ref,
                                  zeta_error *err);

/* How a session's one-token steps (decode) run: DIRECT, op by op as issued; RECORD, recorded
 * between the embedding lookup and the read, then run with fused kernels; GRAPH (the default),
 * recorded, captured once into a CUDA graph and replayed while the recorded ops stay the same
 * (position-dependent values come from device memory). The environment variable ZETA_CUDA_GRAPH
 * picks a new session's mode: unset or 1 = GRAPH, 0 = RECORD, direct = DIRECT. For tests and
 * benchmarks: the mode of one backend instance, and its counters. */
enum { CUDA_EXEC_DIRECT = 0, CUDA_EXEC_RECORD = 1, CUDA_EXEC_GRAPH = 2 };
void cuda_set_exec_mode(void *ctx, int mode);
void cuda_exec_stats(void *ctx, long *captures, long *replays, long *eager, long *capture_failures);

#ifdef __cplusplus
}
#endif

#endif
