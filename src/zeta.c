/* zeta.c — the public entry points of zeta.h except generation: argument and handle checks, then
 * delegation to model.c, tokenizer.c, forward.c and sampler.c. */
#include "session.h"
#include "backend.h"
#include "cpu/kernels.h"
#include "cpu/cpu_kv.h"
#include "cuda/cuda_backend.h"
#include "quant.h"
#include "sparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ version, status */

uint32_t zeta_version(void) { return ZETA_VERSION_NUMBER; }
const char *zeta_version_string(void) { return ZETA_VERSION_STRING; }

const char *zeta_status_name(zeta_status status) {
    switch (status) {
    case ZETA_OK: return "ZETA_OK";
    case ZETA_ERR_INVALID_ARGUMENT: return "ZETA_ERR_INVALID_ARGUMENT";
    case ZETA_ERR_IO: return "ZETA_ERR_IO";
    case ZETA_ERR_FORMAT: return "ZETA_ERR_FORMAT";
    case ZETA_ERR_UNSUPPORTED: return "ZETA_ERR_UNSUPPORTED";
    case ZETA_ERR_OUT_OF_MEMORY: return "ZETA_ERR_OUT_OF_MEMORY";
    case ZETA_ERR_BUFFER_TOO_SMALL: return "ZETA_ERR_BUFFER_TOO_SMALL";
    case ZETA_ERR_CONTEXT_FULL: return "ZETA_ERR_CONTEXT_FULL";
    case ZETA_ERR_CANCELLED: return "ZETA_ERR_CANCELLED";
    case ZETA_ERR_BACKEND: return "ZETA_ERR_BACKEND";
    case ZETA_ERR_INTERNAL: return "ZETA_ERR_INTERNAL";
    }
    return "ZETA_ERR_UNKNOWN";
}

const char *zeta_cpu_kernels(void) { return zk_select()->name; }

int zeta_cpu_cores(void) {
    /* physical cores: distinct (package, core) pairs in sysfs; else online logical CPUs */
    long n_online = sysconf(_SC_NPROCESSORS_ONLN);
    if (n_online < 1) n_online = 1;
    int n_phys = 0;
    unsigned seen[1024][2];
    for (long cpu = 0; cpu < n_online && cpu < 1024; cpu++) {
        char path[128];
        unsigned ids[2];
        const char *names[2] = {"physical_package_id", "core_id"};
        bool ok = true;
        for (int k = 0; k < 2 && ok; k++) {
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/%s", cpu, names[k]);
            FILE *f = fopen(path, "r");
            if (!f || fscanf(f, "%u", &ids[k]) != 1) ok = false;
            if (f) fclose(f);
        }
        if (!ok) return (int)n_online;
        bool dup = false;
        for (int i = 0; i < n_phys; i++)
            if (seen[i][0] == ids[0] && seen[i][1] == ids[1]) dup = true;
        if (!dup) { seen[n_phys][0] = ids[0]; seen[n_phys][1] = ids[1]; n_phys++; }
    }
    return n_phys > 0 ? n_phys : (int)n_online;
}

/* ------------------------------------------------------------------ models */

static bool model_ok(const zeta_model *m) { return m && m->magic == ZETA_MODEL_MAGIC; }

#define CHECK_MODEL(m)                                                                                        \
    do {                                                                                                      \
        if (!(m)) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "%s: model is NULL", __func__);            \
        if (!model_ok(m))                                                                                     \
            return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "%s: model is not a live zeta_model (freed or wrong handle)", \
                             __func__);                                                                       \
    } while (0)

zeta_model_params zeta_model_params_default(void) {
    zeta_model_params p;
    memset(&p, 0, sizeof p);
    p.backend = ZETA_BACKEND_AUTO;
    p.use_mmap = true;
    p.log_level = ZETA_LOG_WARN;
    return p;
}

zeta_status zeta_model_load(const char *path, const zeta_model_params *params, zeta_model **out, zeta_error *err) {
    if (!out) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_model_load: out is NULL");
    *out = NULL;
    if (!path) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_model_load: path is NULL");
    zeta_model_params def = zeta_model_params_default();
    if (!params) params = &def;
    if (params->backend != ZETA_BACKEND_AUTO && params->backend != ZETA_BACKEND_CPU && params->backend != ZETA_BACKEND_CUDA)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_model_load: backend %d is not a zeta_backend value",
                         (int)params->backend);
    /* CUDA when asked for (an error if this build or machine has none), or for AUTO when compiled
     * in and the device exists */
    bool use_cuda = false;
    if (params->backend == ZETA_BACKEND_CUDA && !cuda_compiled())
        return zeta_fail(err, ZETA_ERR_UNSUPPORTED, "backend 'cuda' is not available in this build (rebuild with make CUDA=1)");
    if (params->backend != ZETA_BACKEND_CPU && cuda_compiled()) {
        if (params->cuda_device < 0)
            return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_model_load: cuda_device %d is negative", params->cuda_device);
        char why[256] = "";
        const int n_dev = cuda_device_count(why, sizeof why);
        if (params->backend == ZETA_BACKEND_CUDA && n_dev == 0)
            return zeta_fail(err, ZETA_ERR_BACKEND, "backend 'cuda': no usable CUDA device: %s", why);
        if (params->backend == ZETA_BACKEND_CUDA && params->cuda_device >= n_dev)
            return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_model_load: cuda_device %d out of range (this machine has %d)",
                             params->cuda_device, n_dev);
        use_cuda = params->cuda_device < n_dev;
    }
    if (params->on_progress && !params->on_progress(params->progress_user, 0.0f))
        return zeta_fail(err, ZETA_ERR_CANCELLED, "loading %s cancelled by the progress callback", path);
    zeta_status st = model_load(path, params->use_mmap, out, err);
    if (st != ZETA_OK) return st;
    if (params->check_tensors && (st = model_check_tensors(*out, err)) != ZETA_OK) {
        model_free(*out);
        *out = NULL;
        return st;
    }
    if (params->sparsity_path) {
        /* before cpu_prepare_model: packing releases the original pages this reads */
        /* other types than Q8_0 / Q4_0 requantized to native Q8_0 / Q4_0 (the GPU runs them as it runs a model's
         * own codes; CUDA: uploaded by cuda_model_init) */
        st = zs_model_build(*out, params->sparsity_path, true, err);
        if (st != ZETA_OK) {
            model_free(*out);
            *out = NULL;
            return st;
        }
    }
    if ((st = use_cuda ? cuda_model_init(*out, params->cuda_device, err) : cpu_prepare_model(*out, err)) != ZETA_OK) {
        model_free(*out);
        *out = NULL;
        return st;
    }
    if (params->log && params->log_level >= ZETA_LOG_INFO) {
        char line[256];
        snprintf(line, sizeof line, "loaded %s: %s, %u layers, %llu parameters, %s", path, (*out)->arch->name,
                 (*out)->hp.n_layer, (unsigned long long)(*out)->n_params, use_cuda ? "backend cuda" : zeta_cpu_kernels());
        params->log(params->log_user, ZETA_LOG_INFO, line);
    }
    if (params->on_progress && !params->on_progress(params->progress_user, 1.0f)) {
        cuda_model_free(*out);
        model_free(*out);
        *out = NULL;
        return zeta_fail(err, ZETA_ERR_CANCELLED, "loading %s cancelled by the progress callback", path);
    }
    return zeta_ok(err);
}

void zeta_model_free(zeta_model *model) {
    if (!model || model->magic != ZETA_MODEL_MAGIC) return;
    cuda_model_free(model);
    model_free(model);
}

zeta_status zeta_model_describe(const zeta_model *m, zeta_model_info *out, zeta_error *err) {
    if (!out) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_model_describe: out is NULL");
    memset(out, 0, sizeof *out);
    CHECK_MODEL(m);
    const zeta_hparams *hp = &m->hp;
    out->arch = m->arch->name;
    out->name = m->name;
    out->n_params = m->n_params;
    out->weight_bytes = m->weight_bytes;
    out->file_bytes = m->g->size;
    out->bits_per_weight = m->n_params ? 8.0 * (double)m->weight_bytes / (double)m->n_params : 0.0;
    out->n_vocab = hp->n_vocab;
    out->n_ctx_train = hp->n_ctx_train;
    out->n_embd = hp->n_embd;
    out->n_layer = hp->n_layer;
    out->n_head = hp->n_head;
    out->n_head_kv = hp->n_head_kv;
    out->head_dim = hp->head_dim_k;
    out->n_ff = hp->n_ff;
    out->n_rot = hp->n_rot;
    out->rope_freq_base = hp->rope_base;
    out->rope_freq_scale = hp->rope_freq_scale;
    out->norm_eps = hp->norm_eps;
    out->tied_embeddings = m->tied;
    out->bos = vocab_bos(m->vocab);
    out->eos = vocab_eos(m->vocab);
    out->tokenizer = vocab_model_name(m->vocab);
    out->pre = vocab_pre_name(m->vocab);
    out->main_type = m->main_type;
    out->n_tensors = (uint32_t)m->g->n_tensors;
    out->sparse_bytes = m->sparse ? m->sparse->bytes : 0;
    return zeta_ok(err);
}

zeta_status zeta_model_meta(const zeta_model *m, const char *key, char *buf, size_t cap, size_t *n_out, zeta_error *err) {
    if (n_out) *n_out = 0;
    CHECK_MODEL(m);
    if (!key) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_model_meta: key is NULL");
    if (!buf && cap) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_model_meta: buf is NULL with cap %zu", cap);
    const gguf_kv *kv = gguf_find(m->g, key);
    if (!kv) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_model_meta: the model has no key '%s'", key);
    size_t need = gguf_kv_to_string(kv, NULL, 0) + 1; /* with the NUL */
    if (n_out) *n_out = need;
    if (cap < need)
        return zeta_fail(err, ZETA_ERR_BUFFER_TOO_SMALL, "zeta_model_meta: value of '%s' needs %zu bytes, cap is %zu", key,
                         need, cap);
    gguf_kv_to_string(kv, buf, cap);
    return zeta_ok(err);
}

zeta_status zeta_model_tensor(const zeta_model *m, uint32_t index, zeta_tensor_info *out, zeta_error *err) {
    if (!out) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_model_tensor: out is NULL");
    memset(out, 0, sizeof *out);
    CHECK_MODEL(m);
    if (index >= m->g->n_tensors)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_model_tensor: index %u out of range (the model has %llu tensors)",
                         index, (unsigned long long)m->g->n_tensors);
    const gguf_tensor *t = &m->g->tensors[index];
    out->name = t->name;
    out->type = (zeta_type)t->type;
    out->n_dims = t->n_dims;
    for (int i = 0; i < 4; i++) out->ne[i] = t->ne[i];
    out->n_bytes = t->n_bytes;
    out->offset = m->g->data_offset + t->offset;
    return zeta_ok(err);
}

uint64_t zeta_model_kv_bytes(const zeta_model *m, uint32_t n_ctx, zeta_type kv_type) {
    if (!model_ok(m)) return 0;
    if (kv_type != ZETA_TYPE_F32 && kv_type != ZETA_TYPE_F16 && kv_type != ZETA_TYPE_Q8_0 && kv_type != ZETA_TYPE_Q4_0) return 0;
    return model_kv_bytes(m, n_ctx, kv_type, kv_type);
}

/* ------------------------------------------------------------------ tokenizer */

zeta_status zeta_tokenize(const zeta_model *m, const char *text, size_t len, unsigned flags, zeta_token *tokens, size_t cap,
                          size_t *n_out, zeta_error *err) {
    if (n_out) *n_out = 0;
    CHECK_MODEL(m);
    if (!text && len) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_tokenize: text is NULL with len %zu", len);
    if (!tokens && cap) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_tokenize: tokens is NULL with cap %zu", cap);
    if (flags & ~(unsigned)(ZETA_TOKENIZE_ADD_SPECIAL | ZETA_TOKENIZE_PARSE_SPECIAL))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_tokenize: unknown flags 0x%x", flags);
    size_t n = 0;
    zeta_status st = vocab_tokenize(m->vocab, text ? text : "", len, flags & ZETA_TOKENIZE_ADD_SPECIAL,
                                    flags & ZETA_TOKENIZE_PARSE_SPECIAL, tokens, cap, &n, err);
    if (n_out) *n_out = n;
    if (st != ZETA_OK) return st;
    return zeta_ok(err);
}

static zeta_status check_tokens(const zeta_model *m, const zeta_token *tokens, size_t n, const char *fn, zeta_error *err) {
    uint32_t nv = m->hp.n_vocab;
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= nv)
            return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "%s: tokens[%zu] = %d is out of range (n_vocab %u)", fn, i,
                             (int)tokens[i], nv);
    return ZETA_OK;
}

zeta_status zeta_detokenize(const zeta_model *m, const zeta_token *tokens, size_t n, unsigned flags, char *buf, size_t cap,
                            size_t *n_out, zeta_error *err) {
    if (n_out) *n_out = 0;
    CHECK_MODEL(m);
    if (!tokens && n) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_detokenize: tokens is NULL with n %zu", n);
    if (!buf && cap) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_detokenize: buf is NULL with cap %zu", cap);
    zeta_status st = check_tokens(m, tokens, n, "zeta_detokenize", err);
    if (st != ZETA_OK) return st;
    st = vocab_detokenize(m->vocab, tokens, n, flags & ZETA_DETOKENIZE_SPECIAL, buf, cap, n_out, err);
    if (st != ZETA_OK) return st;
    return zeta_ok(err);
}

zeta_status zeta_token_piece(const zeta_model *m, zeta_token token, unsigned flags, char *buf, size_t cap, size_t *n_out,
                             zeta_error *err) {
    if (n_out) *n_out = 0;
    CHECK_MODEL(m);
    if (!buf && cap) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_token_piece: buf is NULL with cap %zu", cap);
    zeta_status st = check_tokens(m, &token, 1, "zeta_token_piece", err);
    if (st != ZETA_OK) return st;
    size_t need = vocab_token_piece(m->vocab, token, flags & ZETA_DETOKENIZE_SPECIAL, NULL, 0);
    if (n_out) *n_out = need;
    if (cap < need)
        return zeta_fail(err, ZETA_ERR_BUFFER_TOO_SMALL, "zeta_token_piece: token %d needs %zu bytes, cap is %zu", (int)token,
                         need, cap);
    vocab_token_piece(m->vocab, token, flags & ZETA_DETOKENIZE_SPECIAL, buf, cap);
    return zeta_ok(err);
}

zeta_token zeta_token_bos(const zeta_model *m) { return model_ok(m) ? vocab_bos(m->vocab) : -1; }
zeta_token zeta_token_eos(const zeta_model *m) { return model_ok(m) ? vocab_eos(m->vocab) : -1; }
bool zeta_token_is_eog(const zeta_model *m, zeta_token t) {
    return model_ok(m) && t >= 0 && (uint32_t)t < m->hp.n_vocab && vocab_is_eog(m->vocab, t);
}
uint32_t zeta_n_vocab(const zeta_model *m) { return model_ok(m) ? m->hp.n_vocab : 0; }

/* ------------------------------------------------------------------ sessions */

bool session_ok(const zeta_session *s) { return s && s->magic == ZETA_SESSION_MAGIC; }

#define CHECK_SESSION(s)                                                                                      \
    do {                                                                                                      \
        if (!(s)) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "%s: session is NULL", __func__);          \
        if (!session_ok(s))                                                                                   \
            return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "%s: session is not a live zeta_session (freed or wrong handle)", \
                             __func__);                                                                       \
    } while (0)

zeta_session_params zeta_session_params_default(void) {
    zeta_session_params p;
    memset(&p, 0, sizeof p);
    p.n_ctx = 0;
    p.n_threads = 0;
    p.kv_type = ZETA_TYPE_F16;
    p.kv_type_v = ZETA_TYPE_COUNT;
    p.seed = 0x5eed;
    p.n_batch = 512;
    p.mode = ZETA_MODE_STANDARD;
    p.sparsity = -1.0f;
    p.gate_entropy = -1.0f;
    p.fallback_entropy = -1.0f;
    p.max_draft = 4;
    return p;
}

#define ZETA_DEFAULT_MAX_CTX 4096u
#define ZETA_MAX_THREADS 512

zeta_status zeta_session_new(const zeta_model *m, const zeta_session_params *params, zeta_session **out, zeta_error *err) {
    if (!out) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_new: out is NULL");
    *out = NULL;
    CHECK_MODEL(m);
    zeta_session_params p = params ? *params : zeta_session_params_default();
    const zeta_type type_k = p.kv_type, type_v = p.kv_type_v == ZETA_TYPE_COUNT ? p.kv_type : p.kv_type_v;
    zeta_error kerr;
    zeta_status st = cpu_kv_check_types(&m->hp, type_k, type_v, &kerr);
    if (st != ZETA_OK) return zeta_fail(err, st, "zeta_session_new: %s", kerr.message);
    if (p.n_threads < 0 || p.n_threads > ZETA_MAX_THREADS)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_new: n_threads %d out of range (0..%d)", p.n_threads,
                         ZETA_MAX_THREADS);
    if (p.n_ctx > (1u << 24))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_new: n_ctx %u out of range (0..%u)", p.n_ctx, 1u << 24);
    if (p.rope_scaling < ZETA_ROPE_SCALING_MODEL || p.rope_scaling > ZETA_ROPE_SCALING_YARN)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_new: rope_scaling %d is not one of ZETA_ROPE_SCALING_*",
                         (int)p.rope_scaling);
    if (p.yarn_orig_ctx > (1u << 24))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_new: yarn_orig_ctx %u out of range (0..%u)", p.yarn_orig_ctx, 1u << 24);
    if (!(p.rope_freq_scale >= 0.0f && p.rope_freq_scale <= 1.0f))
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_new: rope_freq_scale %g out of range (0 = the model's, or 0..1]",
                         (double)p.rope_freq_scale);
    if (p.n_batch == 0 || p.n_batch > 8192)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_new: n_batch %u out of range (1..8192)", p.n_batch);
    uint32_t n_ctx = p.n_ctx ? p.n_ctx : (m->hp.n_ctx_train < ZETA_DEFAULT_MAX_CTX ? m->hp.n_ctx_train : ZETA_DEFAULT_MAX_CTX);
    int n_threads = p.n_threads ? p.n_threads : zeta_cpu_cores();
    uint32_t n_batch = p.n_batch < n_ctx ? p.n_batch : n_ctx;

    /* refuse before allocating what cannot fit */
    uint64_t kv_bytes = model_kv_bytes(m, n_ctx, type_k, type_v);
    const uint64_t phys = zeta_physical_memory();
    if (phys && kv_bytes > phys)
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY,
                         "zeta_session_new: a KV cache of %u tokens needs %llu MiB but this machine has %llu MiB of memory",
                         n_ctx, (unsigned long long)(kv_bytes >> 20), (unsigned long long)(phys >> 20));

    zeta_session *s = calloc(1, sizeof *s);
    if (!s) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory creating a session");
    s->model = m;
    s->n_ctx = n_ctx;
    s->n_batch = n_batch;
    s->n_threads = n_threads;
    s->type_k = type_k;
    s->type_v = type_v;
    {
        int rk, rv;
        cpu_kv_rotation(&m->hp, type_k, type_v, !p.kv_no_rotate, &rk, &rv);
        s->kv_rot = (rk ? 1u : 0u) | (rv ? 2u : 0u);
    }
    s->kv_bytes = kv_bytes;
    s->rope = forward_rope_params(m, p.rope_scaling, p.rope_freq_scale, p.yarn_orig_ctx);
    atomic_init(&s->cancel, false);
    rng_seed(&s->rng, p.seed);
    zeta_backend_config cfg = {n_threads, n_ctx, type_k, type_v, !p.kv_no_rotate, n_batch};
    if ((st = m->cuda ? cuda_backend_new(m, &cfg, &s->be, err) : cpu_backend_new(m, &cfg, &s->be, err)) != ZETA_OK) {
        free(s);
        return st;
    }
    if ((st = fwd_buffers_init(&s->buf, m, &s->be, n_batch, err)) != ZETA_OK) goto fail;
    s->mode_params = p;
    s->sparse_from = SIZE_MAX;
    if ((st = session_mode_init(s, &p, "zeta_session_new", err)) != ZETA_OK) goto fail;
    s->tokens = zeta_malloc_array(n_ctx, sizeof *s->tokens);
    s->logits = zeta_malloc_array(m->hp.n_vocab, sizeof(float));
    s->logits_tmp = zeta_malloc_array(m->hp.n_vocab, sizeof(float));
    s->cands = zeta_malloc_array(m->hp.n_vocab, sizeof *s->cands);
    if (!s->tokens || !s->logits || !s->logits_tmp || !s->cands) {
        st = zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory creating a session of %u tokens", n_ctx);
        goto fail;
    }
    s->magic = ZETA_SESSION_MAGIC;
    *out = s;
    return zeta_ok(err);
fail:
    s->magic = ZETA_SESSION_MAGIC;
    zeta_session_free(s);
    return st;
}

void zeta_session_free(zeta_session *s) {
    if (!session_ok(s)) return;
    s->magic = ZETA_DEAD_MAGIC;
    if (s->be.ops) {
        fwd_buffers_free(&s->buf, &s->be);
        s->be.ops->free(s->be.ctx);
    }
    free(s->tokens);
    free(s->logits);
    free(s->logits_tmp);
    free(s->cands);
    free(s->thr);
    free(s->verify_logits);
    free(s->draft_probs);
    zs_sel_free(&s->sel);
    free(s);
}

/* one forward pass over the tokens (batched), all-or-nothing; opt: NULL (dense) or the sparse pass */
zeta_status session_forward(zeta_session *s, const zeta_token *tokens, size_t n, float *all_logits, const fwd_opts *opt,
                            zeta_error *err) {
    const struct zeta_model *m = s->model;
    if (atomic_exchange(&s->cancel, false)) return zeta_fail(err, ZETA_ERR_CANCELLED, "evaluation cancelled");
    if (n == 0) return zeta_ok(err);
    zeta_status st = check_tokens(m, tokens, n, "zeta_session_eval", err);
    if (st != ZETA_OK) return st;
    if (n > s->n_ctx || s->n_tokens + n > s->n_ctx)
        return zeta_fail(err, ZETA_ERR_CONTEXT_FULL,
                         "evaluating %zu tokens at position %zu needs %zu positions; the context holds %u", n, s->n_tokens,
                         s->n_tokens + n, s->n_ctx);
    const size_t nv = m->hp.n_vocab;
    /* the gated modes read the entropy of every step's logits: the backend's when it has the op */
    s->buf.want_entropy = s->mode == ZETA_MODE_VARIATIONAL || s->mode == ZETA_MODE_ULTIMATE;
    for (size_t done = 0; done < n;) {
        uint32_t nb = (uint32_t)(n - done < s->n_batch ? n - done : s->n_batch);
        const bool last = done + nb == n;
        float *out = all_logits ? all_logits + done * nv : last ? s->logits_tmp : NULL;
        st = forward_batch(m, &s->rope, &s->be, &s->buf, tokens + done, nb, (uint32_t)(s->n_tokens + done), out, all_logits != NULL,
                           &s->cancel, opt, err);
        if (st != ZETA_OK) {
            if (st == ZETA_ERR_CANCELLED) atomic_store(&s->cancel, false);
            return st;
        }
        done += nb;
    }
    memcpy(s->logits, all_logits ? all_logits + (n - 1) * nv : s->logits_tmp, nv * sizeof(float));
    memcpy(s->tokens + s->n_tokens, tokens, n * sizeof *tokens);
    /* positions from here on now hold this pass's entries: dense ones replace any sparse ones */
    if (opt && opt->sparse) {
        if (s->n_tokens < s->sparse_from) s->sparse_from = s->n_tokens;
    } else if (s->sparse_from >= s->n_tokens) {
        s->sparse_from = SIZE_MAX;
    }
    s->n_tokens += n;
    s->has_logits = true;
    s->entropy_ok = s->buf.has_entropy && !all_logits;
    s->entropy = s->buf.entropy;
    return zeta_ok(err);
}

zeta_status zeta_session_eval(zeta_session *s, const zeta_token *tokens, size_t n, zeta_error *err) {
    CHECK_SESSION(s);
    if (!tokens && n) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_eval: tokens is NULL with n %zu", n);
    return session_eval(s, tokens, n, NULL, err);
}

zeta_status zeta_session_eval_all(zeta_session *s, const zeta_token *tokens, size_t n, float *all_logits, zeta_error *err) {
    CHECK_SESSION(s);
    if (!tokens && n) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_eval_all: tokens is NULL with n %zu", n);
    if (!all_logits) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_eval_all: all_logits is NULL");
    return session_eval(s, tokens, n, all_logits, err);
}

const float *zeta_session_logits(const zeta_session *s, size_t *n_vocab) {
    if (n_vocab) *n_vocab = 0;
    if (!session_ok(s) || !s->has_logits) return NULL;
    if (n_vocab) *n_vocab = s->model->hp.n_vocab;
    return s->logits;
}

size_t zeta_session_position(const zeta_session *s) { return session_ok(s) ? s->n_tokens : 0; }
uint32_t zeta_session_n_ctx(const zeta_session *s) { return session_ok(s) ? s->n_ctx : 0; }
uint64_t zeta_session_kv_bytes(const zeta_session *s) { return session_ok(s) ? s->kv_bytes : 0; }

const zeta_token *zeta_session_tokens(const zeta_session *s, size_t *n) {
    if (n) *n = session_ok(s) ? s->n_tokens : 0;
    return session_ok(s) ? s->tokens : NULL;
}

zeta_status zeta_session_rewind(zeta_session *s, size_t n_keep, zeta_error *err) {
    CHECK_SESSION(s);
    if (n_keep > s->n_tokens)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_rewind: n_keep %zu is past the position %zu", n_keep,
                         s->n_tokens);
    if (n_keep < s->n_tokens) {
        s->n_tokens = n_keep;
        s->has_logits = false; /* the logits belonged to a token that is gone */
        session_truncated(s);
    }
    return zeta_ok(err);
}

void zeta_session_cancel(zeta_session *s) {
    if (session_ok(s)) atomic_store(&s->cancel, true);
}

void zeta_session_cancel_clear(zeta_session *s) {
    if (session_ok(s)) atomic_store(&s->cancel, false);
}

void zeta_session_set_seed(zeta_session *s, uint64_t seed) {
    if (session_ok(s)) rng_seed(&s->rng, seed);
}

void session_shift(zeta_session *s, size_t n_keep, size_t n_discard) {
    if (n_discard == 0) return;
    s->be.ops->kv_shift(s->be.ctx, (uint32_t)(n_keep + n_discard), (uint32_t)s->n_tokens, -(int32_t)n_discard, &s->rope);
    memmove(s->tokens + n_keep, s->tokens + n_keep + n_discard, (s->n_tokens - n_keep - n_discard) * sizeof *s->tokens);
    s->n_tokens -= n_discard;
    /* sparse entries after the hole move with it; one inside it says nothing of those after: n_keep */
    if (s->sparse_from != SIZE_MAX && s->sparse_from >= n_keep)
        s->sparse_from = s->sparse_from >= n_keep + n_discard ? s->sparse_from - n_discard : n_keep;
    session_truncated(s);
    s->stats.n_shifted += n_discard;
    s->stats.n_shifts++;
}

zeta_status zeta_session_shift(zeta_session *s, size_t n_keep, size_t n_discard, zeta_error *err) {
    CHECK_SESSION(s);
    if (n_keep > s->n_tokens || n_discard > s->n_tokens - n_keep)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                         "zeta_session_shift: keeping %zu and discarding %zu tokens needs %zu, but the session holds %zu", n_keep,
                         n_discard, n_keep + n_discard, s->n_tokens);
    if (n_keep + n_discard == s->n_tokens) { /* nothing after the hole: a rewind */
        if (n_discard) s->has_logits = false;
        s->n_tokens = n_keep;
        session_truncated(s);
        return zeta_ok(err);
    }
    session_shift(s, n_keep, n_discard);
    return zeta_ok(err);
}

size_t zeta_session_common_prefix(const zeta_session *s, const zeta_token *tokens, size_t n) {
    if (!session_ok(s) || !tokens) return 0;
    size_t i = 0;
    while (i < n && i < s->n_tokens && s->tokens[i] == tokens[i]) i++;
    return i;
}

void zeta_session_get_stats(const zeta_session *s, zeta_session_stats *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (session_ok(s)) *out = s->stats;
}

/* ------------------------------------------------------------------ sampling */

zeta_sampler_params zeta_sampler_params_default(void) {
    zeta_sampler_params p;
    memset(&p, 0, sizeof p);
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.repeat_penalty = 1.0f;
    p.repeat_last_n = 64;
    return p;
}

zeta_status zeta_session_sample(zeta_session *s, const zeta_sampler_params *p, zeta_token *out, zeta_error *err) {
    if (!out) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_sample: out is NULL");
    *out = -1;
    CHECK_SESSION(s);
    zeta_sampler_params def = zeta_sampler_params_default();
    if (!p) p = &def;
    zeta_status st = sampler_check_params(p, err);
    if (st != ZETA_OK) return st;
    if (!s->has_logits)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_sample: no logits yet (evaluate at least one token first)");
    const size_t hist = sampler_history_len(p, s->n_tokens);
    *out = sampler_sample(p, s->logits, (int32_t)s->model->hp.n_vocab, s->tokens + s->n_tokens - hist, hist, &s->rng,
                          s->cands);
    return zeta_ok(err);
}
