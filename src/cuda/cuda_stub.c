/* cuda_stub.c — the CUDA entry points of a build without CUDA (the default `make`): no device,
 * and every request for one says how to get it. */
#include "cuda/cuda_backend.h"
#include "util.h"

#include <stdio.h>

#define REBUILD "backend 'cuda' is not available in this build (rebuild with make CUDA=1)"

bool cuda_compiled(void) { return false; }

int cuda_device_count(char *why, size_t cap) {
    if (why && cap) snprintf(why, cap, "%s", REBUILD);
    return 0;
}

zeta_status cuda_model_init(struct zeta_model *m, int device, zeta_error *err) {
    return zeta_fail(err, ZETA_ERR_UNSUPPORTED, REBUILD);
}

void cuda_model_free(struct zeta_model *m) {}

zeta_status cuda_backend_new(const struct zeta_model *m, const zeta_backend_config *cfg, zeta_backend_inst *out,
                             zeta_error *err) {
    return zeta_fail(err, ZETA_ERR_UNSUPPORTED, REBUILD);
}

const char *cuda_supported_types(void) { return ""; }

const zeta_sparse_ops *cuda_sparse_ops(void) { return NULL; }

zeta_status cuda_buf_write(void *ctx, float *dst, const float *src, size_t n, zeta_error *err) {
    return zeta_fail(err, ZETA_ERR_UNSUPPORTED, REBUILD);
}

zeta_status cuda_weight_upload(const struct zeta_model *m, zeta_weight *w, zeta_error *err) {
    return zeta_fail(err, ZETA_ERR_UNSUPPORTED, REBUILD);
}

void cuda_weight_free(zeta_weight *w) {}

zeta_status cuda_bytes_upload(const struct zeta_model *m, const void *src, size_t n, void **dev, zeta_error *err) {
    *dev = NULL;
    return zeta_fail(err, ZETA_ERR_UNSUPPORTED, REBUILD);
}

void cuda_bytes_free(void *dev) {}

uint32_t cuda_smv_run(int fmt, uint32_t n_in, uint32_t rows0) { return 0; }

zeta_status cuda_test_rmsnorm_q8K(const float *x, const float *g, int n, float eps, float *out, uint8_t *fused, uint8_t *ref,
                                  zeta_error *err) {
    return zeta_fail(err, ZETA_ERR_UNSUPPORTED, REBUILD);
}

void cuda_set_exec_mode(void *ctx, int mode) {}

void cuda_exec_stats(void *ctx, long *captures, long *replays, long *eager, long *capture_failures) {
    if (captures) *captures = 0;
    if (replays) *replays = 0;
    if (eager) *eager = 0;
    if (capture_failures) *capture_failures = 0;
}
