/* cuda_model.cu — the CUDA backend's device and model side: whether CUDA is compiled in and how many
 * devices the driver reports, and at model load one device allocation holding every weight the
 * device reads (q4_0 / q8_0 rearranged into the split layout of cuda_matmul.cu); single weights
 * uploaded and freed for the op tests. Sessions (streams, buffers, KV cache, the ops) are in
 * cuda_backend.cu. */
#include "cuda/cuda_internal.cuh"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" bool cuda_compiled(void) { return true; }

extern "C" int cuda_device_count(char *why, size_t cap) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        if (why && cap) snprintf(why, cap, "%s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
        cudaGetLastError();
        return 0;
    }
    if (n == 0 && why && cap) snprintf(why, cap, "the driver reports no CUDA device");
    return n;
}

zeta_status cuda_fail(zeta_error *err, cudaError_t e, const char *what) {
    cudaGetLastError(); /* clear a non-sticky error */
    return zeta_fail(err, e == cudaErrorMemoryAllocation ? ZETA_ERR_OUT_OF_MEMORY : ZETA_ERR_BACKEND, "CUDA: %s: %s (%s)", what,
                     cudaGetErrorString(e), cudaGetErrorName(e));
}

/* ---------------------------------------------------------------- weights (per model) */

/* every weight the device reads: matrices (not the token embedding), norms, biases */
static int model_weights(struct zeta_model *m, zeta_weight **list) {
    int n = 0;
    for (uint32_t il = 0; il < m->hp.n_layer; il++) {
        zeta_layer *L = &m->layers[il];
        zeta_weight *ws[] = {&L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo, &L->bq, &L->bk, &L->bv, &L->q_norm,
                             &L->k_norm, &L->ffn_norm, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++)
            if (ws[i]->data) {
                if (list) list[n] = ws[i];
                n++;
            }
    }
    if (list) { list[n] = &m->output_norm; list[n + 1] = &m->output; }
    return n + 2;
}

static size_t align256(size_t n) { return (n + 255) & ~(size_t)255; }

/* copies a weight's bytes to d: as they are, or (q4_0 / q8_0) through tmp (tmp_bytes of device
 * memory, at least the weight's size) into the split layout */
static cudaError_t upload_weight(const zeta_weight *w, uint8_t *d, uint8_t *tmp, size_t tmp_bytes) {
    const size_t b = w->row_bytes * w->ne1;
    if (!cuda_type_split((int)w->type)) return cuda_h2d(d, w->data, b);
    if (!tmp || tmp_bytes < b) return cudaErrorInvalidValue;
    cudaError_t e = cuda_h2d(tmp, w->data, b);
    if (e == cudaSuccess) e = cuda_weight_split(0, (int)w->type, tmp, d, (size_t)(w->ne0 / 32) * w->ne1);
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    return e;
}

/* the sparse layouts of variational gating (built in host memory by zs_model_build): copied to the
 * device once, their zs_mat.cols pointed there, the host copy freed. The GPU's sparse kernels take
 * the Q8_0 / Q4_0 layouts (the model's own codes, or other types requantized to them); a matrix that
 * got the Q8_0 copy along the outputs (rows not a multiple of 64) is refused by name. */
static zeta_status upload_sparse(struct zeta_model *m, cuda_model *cm, zeta_error *err) {
    zs_model *z = m->sparse;
    size_t widest = 0; /* the largest layout: the scratch of the reordering below */
    for (uint32_t il = 0; il < m->hp.n_layer; il++) {
        const zeta_layer *L = &m->layers[il];
        const zeta_weight *ws[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        const zs_layer *S = &z->layers[il];
        const zs_mat *ds[7] = {&S->wq, &S->wk, &S->wv, &S->wo, &S->gate, &S->up, &S->down};
        for (int i = 0; i < 7; i++) {
            if (!cuda_smv_fmt_ok(ds[i]->fmt))
                return zeta_fail(err, ZETA_ERR_UNSUPPORTED,
                                 "sparse pass on CUDA: tensor '%s' (%s, %llu rows) has no Q8_0 / Q4_0 sparse layout; the GPU's sparse "
                                 "kernels take the model's own Q8_0 / Q4_0 codes or other types requantized to them, which needs rows "
                                 "a multiple of 64 (load with backend cpu for this model)",
                                 ws[i]->name ? ws[i]->name : "?", zeta_type_name(ws[i]->type), (unsigned long long)ws[i]->ne1);
            const size_t b = (size_t)zs_native_bytes(ds[i]->fmt, ds[i]->n_in, ds[i]->n_out);
            if (b > widest) widest = b;
        }
    }
    if (!z->bytes || !z->mem) return ZETA_OK;
    /* the GPU's tile-major order (zs_tile_major), with the run of the shape of block each product
     * runs (its first matrix decides: q for q, k, v; gate for gate, up) */
    uint8_t *tmp = (uint8_t *)malloc(widest ? widest : 1);
    if (!tmp) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory reordering the sparse layouts");
    for (uint32_t il = 0; il < m->hp.n_layer; il++) {
        zs_layer *S = &z->layers[il];
        zs_mat *ds[7] = {&S->wq, &S->wk, &S->wv, &S->wo, &S->gate, &S->up, &S->down};
        const zs_mat *first[7] = {&S->wq, &S->wq, &S->wq, &S->wo, &S->gate, &S->gate, &S->down};
        for (int i = 0; i < 7; i++) {
            const uint32_t run = cuda_smv_run(first[i]->fmt, first[i]->n_in, first[i]->n_out);
            uint8_t *at = z->mem + (ds[i]->cols - z->mem);
            zs_tile_major(ds[i], at, tmp, run);
            memcpy(at, tmp, (size_t)zs_native_bytes(ds[i]->fmt, ds[i]->n_in, ds[i]->n_out));
            ds[i]->gpu_run = run;
        }
    }
    free(tmp);
    cudaError_t e = cudaMalloc(&cm->sparse_mem, z->bytes);
    if (e != cudaSuccess) {
        cm->sparse_mem = NULL;
        char what[128];
        snprintf(what, sizeof what, "allocating %.1f MiB for the sparse layouts", (double)z->bytes / 1048576.0);
        return cuda_fail(err, e, what);
    }
    if ((e = cuda_h2d(cm->sparse_mem, z->mem, z->bytes)) != cudaSuccess)
        return cuda_fail(err, e, "uploading the sparse layouts");
    for (uint32_t il = 0; il < m->hp.n_layer; il++) {
        zs_layer *S = &z->layers[il];
        zs_mat *ds[7] = {&S->wq, &S->wk, &S->wv, &S->wo, &S->gate, &S->up, &S->down};
        for (int i = 0; i < 7; i++) ds[i]->cols = (const uint8_t *)cm->sparse_mem + (ds[i]->cols - z->mem);
    }
    free(z->mem);
    z->mem = NULL;
    return ZETA_OK;
}

extern "C" zeta_status cuda_model_init(struct zeta_model *m, int device, zeta_error *err) {
    cuda_model *cm = (cuda_model *)calloc(1, sizeof *cm);
    const int nw = model_weights(m, NULL);
    zeta_weight **list = (zeta_weight **)calloc((size_t)nw, sizeof *list);
    if (!cm || !list) {
        free(cm);
        free(list);
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory preparing the CUDA weights");
    }
    model_weights(m, list);
    cm->device = device;
    zeta_status st = ZETA_OK;
    cudaError_t e;
    cudaDeviceProp prop;
    size_t total = 0;
    for (int i = 0; i < nw; i++) total += align256(list[i]->row_bytes * list[i]->ne1);
    if ((e = cudaSetDevice(device)) != cudaSuccess) { st = cuda_fail(err, e, "selecting the device"); goto out; }
    if ((e = cudaGetDeviceProperties(&prop, device)) != cudaSuccess) { st = cuda_fail(err, e, "reading the device's properties"); goto out; }
    snprintf(cm->name, sizeof cm->name, "%s", prop.name);
    cm->n_sm = prop.multiProcessorCount;
    if ((e = cudaMalloc(&cm->mem, total)) != cudaSuccess) {
        char what[128];
        snprintf(what, sizeof what, "allocating %.1f MiB for the weights", (double)total / 1048576.0);
        st = cuda_fail(err, e, what);
        goto out;
    }
    cm->bytes = total;
    {
        size_t off = 0, tmp_bytes = 0;
        uint8_t *tmp = NULL;
        for (int i = 0; i < nw; i++)
            if (cuda_type_split((int)list[i]->type) && list[i]->row_bytes * list[i]->ne1 > tmp_bytes)
                tmp_bytes = list[i]->row_bytes * list[i]->ne1;
        if (tmp_bytes && (e = cudaMalloc(&tmp, tmp_bytes)) != cudaSuccess) {
            st = cuda_fail(err, e, "allocating an upload buffer");
            goto out;
        }
        for (int i = 0; i < nw; i++) {
            const size_t b = list[i]->row_bytes * list[i]->ne1;
            uint8_t *d = (uint8_t *)cm->mem + off;
            if ((e = upload_weight(list[i], d, tmp, tmp_bytes)) != cudaSuccess) {
                st = cuda_fail(err, e, "uploading the weights");
                break;
            }
            list[i]->dev = d;
            off += align256(b);
        }
        cudaFree(tmp);
    }
    if (st == ZETA_OK && m->sparse) st = upload_sparse(m, cm, err);
out:
    free(list);
    if (st != ZETA_OK) {
        m->cuda = cm; /* so that cuda_model_free clears what was set */
        cuda_model_free(m);
        return st;
    }
    m->cuda = cm;
    return ZETA_OK;
}

extern "C" void cuda_model_free(struct zeta_model *m) {
    if (!m || !m->cuda) return;
    const int nw = model_weights(m, NULL);
    zeta_weight **list = (zeta_weight **)calloc((size_t)nw, sizeof *list);
    if (list) {
        model_weights(m, list);
        for (int i = 0; i < nw; i++) list[i]->dev = NULL;
        free(list);
    }
    cudaSetDevice(m->cuda->device);
    if (m->cuda->mem) cudaFree(m->cuda->mem);
    if (m->cuda->sparse_mem) cudaFree(m->cuda->sparse_mem);
    free(m->cuda);
    m->cuda = NULL;
}

extern "C" zeta_status cuda_weight_upload(const struct zeta_model *m, zeta_weight *w, zeta_error *err) {
    void *d = NULL;
    const size_t b = w->row_bytes * w->ne1;
    cudaError_t e;
    if (!m->cuda) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "the model is not loaded for CUDA");
    if ((e = cudaSetDevice(m->cuda->device)) != cudaSuccess) return cuda_fail(err, e, "selecting the device");
    if ((e = cudaMalloc(&d, align256(b))) != cudaSuccess) return cuda_fail(err, e, "allocating a weight");
    void *tmp = NULL;
    if (cuda_type_split((int)w->type) && (e = cudaMalloc(&tmp, b)) != cudaSuccess) {
        cudaFree(d);
        return cuda_fail(err, e, "allocating an upload buffer");
    }
    e = upload_weight(w, (uint8_t *)d, (uint8_t *)tmp, tmp ? b : 0);
    cudaFree(tmp);
    if (e != cudaSuccess) {
        cudaFree(d);
        return cuda_fail(err, e, "uploading a weight");
    }
    w->dev = d;
    return ZETA_OK;
}

extern "C" void cuda_weight_free(zeta_weight *w) {
    if (w->dev) cudaFree((void *)w->dev);
    w->dev = NULL;
}

extern "C" zeta_status cuda_bytes_upload(const struct zeta_model *m, const void *src, size_t n, void **dev, zeta_error *err) {
    *dev = NULL;
    if (!m->cuda) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "the model is not loaded for CUDA");
    cudaError_t e = cudaSetDevice(m->cuda->device);
    if (e == cudaSuccess) e = cudaMalloc(dev, n ? n : 1);
    if (e == cudaSuccess) e = cuda_h2d(*dev, src, n);
    if (e != cudaSuccess) {
        if (*dev) cudaFree(*dev);
        *dev = NULL;
        return cuda_fail(err, e, "uploading test data");
    }
    return ZETA_OK;
}

extern "C" void cuda_bytes_free(void *dev) {
    if (dev) cudaFree(dev);
}
