/* model.c — binds a validated GGUF file to a transformer: reads the hyperparameters named by the
 * architecture, checks their ranges, and binds every tensor by name with its expected shape and an
 * allowed type. Anything inconsistent is ZETA_ERR_FORMAT naming the key or tensor; anything valid
 * but not computable here (architecture, weight type, rope scaling) is ZETA_ERR_UNSUPPORTED. */
#include "model.h"
#include "sparse.h"
#include "quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct binder {
    const gguf_file *g;
    zeta_error *err;
    uint64_t bound;  /* count of tensors bound, for information */
    const gguf_tensor **by_name; /* the file's tensors sorted by name (binding is then O(log n) a tensor,
                                  * not O(n): a file of many layers cannot make loading quadratic) */
} binder;

static int cmp_tensor_name(const void *x, const void *y) {
    return strcmp((*(const gguf_tensor *const *)x)->name, (*(const gguf_tensor *const *)y)->name);
}

static const gguf_tensor *find_tensor(const binder *b, const char *name) {
    gguf_tensor key = {.name = (char *)name};
    const gguf_tensor *kp = &key;
    const gguf_tensor *const *r = bsearch(&kp, b->by_name, (size_t)b->g->n_tensors, sizeof *b->by_name, cmp_tensor_name);
    return r ? *r : NULL;
}

static zeta_status get_u32(const gguf_file *g, const char *arch, const char *suffix, uint32_t lo, uint32_t hi,
                           bool required, uint32_t def, uint32_t *out, zeta_error *err) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint64_t v = def;
    bool found = false;
    const gguf_kv *kv = gguf_find(g, key);
    /* llama.cpp reads these three per layer (an array: valid, not supported here); an array for any
     * other key is the wrong type (gguf_get_uint says so) */
    bool per_layer = !strcmp(suffix, "feed_forward_length") || !strcmp(suffix, "attention.head_count") ||
                     !strcmp(suffix, "attention.head_count_kv");
    if (kv && kv->type == GGUF_ARRAY && per_layer)
        return zeta_fail(err, ZETA_ERR_UNSUPPORTED, "%s: key '%s' is a per-layer array; only a single value is supported",
                         g->path, key);
    zeta_status st = gguf_get_uint(g, key, UINT32_MAX, &v, &found, err);
    if (st != ZETA_OK) return st;
    if (!found) {
        if (required) return zeta_fail(err, ZETA_ERR_FORMAT, "%s: missing key '%s'", g->path, key);
        v = def;
    }
    if (v < lo || v > hi)
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: key '%s' is %llu; expected %u..%u", g->path, key,
                         (unsigned long long)v, lo, hi);
    *out = (uint32_t)v;
    return ZETA_OK;
}

static zeta_status get_f32(const gguf_file *g, const char *arch, const char *suffix, float lo, float hi, bool required,
                           float def, float *out, zeta_error *err) {
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    float v = def;
    bool found = false;
    zeta_status st = gguf_get_float(g, key, &v, &found, err);
    if (st != ZETA_OK) return st;
    if (!found) {
        if (required) return zeta_fail(err, ZETA_ERR_FORMAT, "%s: missing key '%s'", g->path, key);
        v = def;
    }
    if (!(v >= lo && v <= hi))
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: key '%s' is %g; expected %g..%g", g->path, key, (double)v,
                         (double)lo, (double)hi);
    *out = v;
    return ZETA_OK;
}

static const char *supported_types_text(void) { return "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K, iq4_nl, iq4_xs"; }

/* Binds tensor `name` with shape [ne0] (ne1 == 0) or [ne0, ne1]. matrix: any supported weight type;
 * else F32 only. Absent optional tensors leave w->data NULL. */
static zeta_status bind(binder *b, const char *name, uint64_t ne0, uint64_t ne1, bool matrix, bool required,
                        zeta_weight *w) {
    memset(w, 0, sizeof *w);
    const gguf_tensor *t = b->g->n_tensors ? find_tensor(b, name) : NULL;
    if (!t) {
        if (!required) return ZETA_OK;
        return zeta_fail(b->err, ZETA_ERR_FORMAT, "%s: missing tensor '%s'", b->g->path, name);
    }
    uint32_t want_dims = ne1 ? 2 : 1;
    bool shape_ok = t->ne[0] == ne0 && (ne1 ? t->ne[1] == ne1 : t->ne[1] == 1) && t->ne[2] == 1 && t->ne[3] == 1;
    if (!shape_ok) {
        if (ne1)
            return zeta_fail(b->err, ZETA_ERR_FORMAT,
                             "%s: tensor '%s' has shape [%llu, %llu, %llu, %llu]; expected [%llu, %llu] from the hyperparameters",
                             b->g->path, name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                             (unsigned long long)t->ne[2], (unsigned long long)t->ne[3], (unsigned long long)ne0,
                             (unsigned long long)ne1);
        return zeta_fail(b->err, ZETA_ERR_FORMAT,
                         "%s: tensor '%s' has shape [%llu, %llu, %llu, %llu]; expected [%llu] from the hyperparameters",
                         b->g->path, name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                         (unsigned long long)t->ne[2], (unsigned long long)t->ne[3], (unsigned long long)ne0);
    }
    (void)want_dims;
    zeta_type ty = (zeta_type)t->type;
    const char *tn = zeta_type_name(ty);
    if (matrix) {
        if (!zeta_type_supported(ty))
            return zeta_fail(b->err, ZETA_ERR_UNSUPPORTED,
                             "%s: tensor '%s' has type %s, which ZetaLm cannot compute yet (supported: %s)", b->g->path,
                             name, tn ? tn : "?", supported_types_text());
    } else if (ty != ZETA_TYPE_F32) {
        return zeta_fail(b->err, ZETA_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s; norms, biases and factors must be f32",
                         b->g->path, name, tn ? tn : "?");
    }
    w->name = t->name;
    w->type = ty;
    w->ne0 = t->ne[0];
    w->ne1 = ne1 ? t->ne[1] : 1;
    w->row_bytes = zeta_row_bytes(ty, t->ne[0]);
    w->data = t->data;
    b->bound++;
    return ZETA_OK;
}

static zeta_status read_hparams(struct zeta_model *m, const char *a, zeta_error *err) {
    const gguf_file *g = m->g;
    zeta_hparams *hp = &m->hp;
    zeta_status st;
    uint32_t n_expert = 0;
    if ((st = get_u32(g, a, "expert_count", 0, UINT32_MAX, false, 0, &n_expert, err))) return st;
    if (n_expert > 0)
        return zeta_fail(err, ZETA_ERR_UNSUPPORTED, "%s: mixture-of-experts models (key '%s.expert_count' is %u) are not supported yet",
                         g->path, a, n_expert);
    if ((st = get_u32(g, a, "embedding_length", 1, 1u << 20, true, 0, &hp->n_embd, err))) return st;
    if ((st = get_u32(g, a, "block_count", 1, ZETA_MAX_LAYERS, true, 0, &hp->n_layer, err))) return st;
    if ((st = get_u32(g, a, "context_length", 1, 1u << 24, false, 2048, &hp->n_ctx_train, err))) return st;
    if ((st = get_u32(g, a, "feed_forward_length", 1, 1u << 22, true, 0, &hp->n_ff, err))) return st;
    if ((st = get_u32(g, a, "attention.head_count", 1, 1u << 14, true, 0, &hp->n_head, err))) return st;
    if ((st = get_u32(g, a, "attention.head_count_kv", 1, hp->n_head, false, hp->n_head, &hp->n_head_kv, err))) return st;
    if (hp->n_head % hp->n_head_kv)
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: attention.head_count %u is not a multiple of head_count_kv %u",
                         g->path, hp->n_head, hp->n_head_kv);
    uint32_t def_hd = hp->n_embd / hp->n_head;
    char kl[160], vl[160];
    snprintf(kl, sizeof kl, "%s.attention.key_length", a);
    snprintf(vl, sizeof vl, "%s.attention.value_length", a);
    if (def_hd == 0 && (!gguf_find(g, kl) || !gguf_find(g, vl)))
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: head size is 0 (embedding_length %u, head_count %u) and '%s' or '%s' is not given",
                         g->path, hp->n_embd, hp->n_head, kl, vl);
    if ((st = get_u32(g, a, "attention.key_length", 1, 1u << 16, false, def_hd, &hp->head_dim_k, err))) return st;
    if ((st = get_u32(g, a, "attention.value_length", 1, 1u << 16, false, def_hd, &hp->head_dim_v, err))) return st;
    if ((st = get_u32(g, a, "rope.dimension_count", 2, hp->head_dim_k, false, hp->head_dim_k, &hp->n_rot, err))) return st;
    if (hp->n_rot % 2)
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: key '%s.rope.dimension_count' is %u; expected an even number",
                         g->path, a, hp->n_rot);
    if ((st = get_f32(g, a, "attention.layer_norm_rms_epsilon", 0.0f, 1.0f, true, 1e-5f, &hp->norm_eps, err))) return st;
    if ((st = get_f32(g, a, "rope.freq_base", 1.0f, 1e12f, false, 10000.0f, &hp->rope_base, err))) return st;

    /* rope scaling: none / linear / yarn, with rope.scaling.factor (llama.cpp's reading) */
    char key[160];
    snprintf(key, sizeof key, "%s.rope.scaling.type", a);
    gguf_str stype = {0};
    bool found = false;
    if ((st = gguf_get_string(g, key, &stype, &found, err))) return st;
    float factor = 1.0f;
    bool linear = true;
    hp->rope_scaling = ZETA_ROPE_SCALING_LINEAR;
    if (found) {
        if (stype.n == 4 && !memcmp(stype.s, "none", 4)) linear = false, hp->rope_scaling = ZETA_ROPE_SCALING_NONE;
        else if (stype.n == 6 && !memcmp(stype.s, "linear", 6)) linear = true;
        else if (stype.n == 4 && !memcmp(stype.s, "yarn", 4)) linear = true, hp->rope_scaling = ZETA_ROPE_SCALING_YARN;
        else {
            char q[48];
            return zeta_fail(err, ZETA_ERR_UNSUPPORTED, "%s: rope scaling %s (key '%s') is not supported yet (supported: none, linear, yarn)",
                             g->path, gguf_quote(stype.s, stype.n, q, sizeof q), key);
        }
    }
    if ((st = get_u32(g, a, "rope.scaling.original_context_length", 1, 1u << 24, false, hp->n_ctx_train, &hp->n_ctx_orig, err)))
        return st;
    if ((st = get_f32(g, a, "rope.scaling.attn_factor", 0.0f, 100.0f, false, 1.0f, &hp->rope_attn_factor, err))) return st;
    float log_mul = 0.0f;
    if ((st = get_f32(g, a, "rope.scaling.yarn_log_multiplier", -100.0f, 100.0f, false, 0.0f, &log_mul, err))) return st;
    if (log_mul != 0.0f)
        return zeta_fail(err, ZETA_ERR_UNSUPPORTED, "%s: key '%s.rope.scaling.yarn_log_multiplier' (DeepSeek-style YaRN) is not supported yet",
                         g->path, a);
    if (linear) {
        if ((st = get_f32(g, a, "rope.scaling.factor", 0.0f, 1024.0f, false, 0.0f, &factor, err))) return st;
        if (factor == 0.0f && (st = get_f32(g, a, "rope.scale_linear", 0.0f, 1024.0f, false, 0.0f, &factor, err))) return st;
        if (factor == 0.0f) factor = 1.0f;
    }
    hp->rope_freq_scale = linear ? 1.0f / factor : 1.0f;
    return ZETA_OK;
}

static zeta_status bind_layer(binder *b, struct zeta_model *m, uint32_t il) {
    const zeta_hparams *hp = &m->hp;
    zeta_layer *L = &m->layers[il];
    uint64_t E = hp->n_embd, Q = (uint64_t)hp->n_head * hp->head_dim_k, K = (uint64_t)hp->n_head_kv * hp->head_dim_k;
    uint64_t V = (uint64_t)hp->n_head_kv * hp->head_dim_v, O = (uint64_t)hp->n_head * hp->head_dim_v;
    char n[96];
    zeta_status st;
#define BIND(field, suffix, ne0, ne1, mat, req)                                 \
    snprintf(n, sizeof n, "blk.%u.%s", il, suffix);                             \
    if ((st = bind(b, n, ne0, ne1, mat, req, &L->field)) != ZETA_OK) return st;
    BIND(attn_norm, "attn_norm.weight", E, 0, false, true);
    BIND(wq, "attn_q.weight", E, Q, true, true);
    BIND(wk, "attn_k.weight", E, K, true, true);
    BIND(wv, "attn_v.weight", E, V, true, true);
    BIND(wo, "attn_output.weight", O, E, true, true);
    BIND(bq, "attn_q.bias", Q, 0, false, m->arch->qkv_bias);
    BIND(bk, "attn_k.bias", K, 0, false, m->arch->qkv_bias);
    BIND(bv, "attn_v.bias", V, 0, false, m->arch->qkv_bias);
    BIND(q_norm, "attn_q_norm.weight", hp->head_dim_k, 0, false, m->arch->qk_norm);
    BIND(k_norm, "attn_k_norm.weight", hp->head_dim_k, 0, false, m->arch->qk_norm);
    BIND(ffn_norm, "ffn_norm.weight", E, 0, false, true);
    BIND(w_gate, "ffn_gate.weight", E, hp->n_ff, true, true);
    BIND(w_up, "ffn_up.weight", E, hp->n_ff, true, true);
    BIND(w_down, "ffn_down.weight", hp->n_ff, E, true, true);
#undef BIND
    return ZETA_OK;
}

/* Other tensors are ignored, but one named for a layer the file does not have ("blk.N." with N >=
 * block_count) means block_count and the tensors disagree. */
static zeta_status check_layer_names(const gguf_file *g, const char *a, uint32_t n_layer, zeta_error *err) {
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const char *nm = g->tensors[i].name, *p = nm + 4;
        if (strncmp(nm, "blk.", 4) != 0 || *p < '0' || *p > '9') continue;
        uint64_t il = 0;
        for (; *p >= '0' && *p <= '9'; p++) il = il > (UINT64_MAX - 9) / 10 ? UINT64_MAX : il * 10 + (uint64_t)(*p - '0');
        if (*p == '.' && il >= n_layer)
            return zeta_fail(err, ZETA_ERR_FORMAT, "%s: tensor '%s' belongs to layer %llu, but %s.block_count is %u", g->path, nm,
                             (unsigned long long)il, a, n_layer);
    }
    return ZETA_OK;
}

static void compute_totals(struct zeta_model *m) {
    uint64_t per_type[ZETA_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < m->g->n_tensors; i++) {
        const gguf_tensor *t = &m->g->tensors[i];
        m->n_params += t->n_elements;
        m->weight_bytes += t->n_bytes;
        if (t->n_dims >= 2 && t->type < ZETA_TYPE_COUNT) per_type[t->type] += t->n_elements;
    }
    m->main_type = ZETA_TYPE_F32;
    uint64_t best = 0;
    for (int t = 0; t < ZETA_TYPE_COUNT; t++)
        if (per_type[t] > best) { best = per_type[t]; m->main_type = (zeta_type)t; }
}

zeta_status model_load(const char *path, bool use_mmap, struct zeta_model **out, zeta_error *err) {
    *out = NULL;
    binder b = {NULL, err, 0, NULL};
    struct zeta_model *m = calloc(1, sizeof *m);
    if (!m) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory loading %s", path);
    zeta_status st = gguf_open(path, use_mmap, &m->g, err);
    if (st != ZETA_OK) goto fail;
    const gguf_file *g = m->g;

    gguf_str arch = {0};
    if ((st = gguf_get_string(g, "general.architecture", &arch, NULL, err))) goto fail;
    if (arch.n == 0) { st = zeta_fail(err, ZETA_ERR_FORMAT, "%s: key 'general.architecture' is empty", path); goto fail; }
    m->arch = arch_find(arch.s, arch.n);
    if (!m->arch) {
        char q[80];
        st = zeta_fail(err, ZETA_ERR_UNSUPPORTED, "%s: architecture %s is not supported (supported: %s)", path,
                       gguf_quote(arch.s, arch.n, q, sizeof q), arch_supported_list());
        goto fail;
    }
    const char *a = m->arch->name;
    gguf_str name = {0};
    bool has_name = false;
    if ((st = gguf_get_string(g, "general.name", &name, &has_name, err))) goto fail;
    m->name = calloc(1, has_name ? name.n + 1 : 1);
    if (!m->name) { st = zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory loading %s", path); goto fail; }
    if (has_name) memcpy(m->name, name.s, name.n);

    if ((st = read_hparams(m, a, err))) goto fail;
    if ((st = vocab_load(g, &m->vocab, err))) goto fail;

    b.g = g;
    if (g->n_tensors) {
        b.by_name = zeta_malloc_array((size_t)g->n_tensors, sizeof *b.by_name);
        if (!b.by_name) { st = zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory loading %s", path); goto fail; }
        for (uint64_t i = 0; i < g->n_tensors; i++) b.by_name[i] = &g->tensors[i];
        qsort(b.by_name, (size_t)g->n_tensors, sizeof *b.by_name, cmp_tensor_name);
    }
    zeta_hparams *hp = &m->hp;
    const gguf_tensor *te = gguf_find_tensor(g, "token_embd.weight");
    if (!te) { st = zeta_fail(err, ZETA_ERR_FORMAT, "%s: missing tensor 'token_embd.weight'", path); goto fail; }
    hp->n_vocab = (uint32_t)(te->ne[1] > UINT32_MAX ? 0 : te->ne[1]);
    if (hp->n_vocab != vocab_n_tokens(m->vocab)) {
        st = zeta_fail(err, ZETA_ERR_FORMAT, "%s: tensor 'token_embd.weight' has %llu rows but the vocabulary has %u tokens",
                       path, (unsigned long long)te->ne[1], vocab_n_tokens(m->vocab));
        goto fail;
    }
    if ((st = bind(&b, "token_embd.weight", hp->n_embd, hp->n_vocab, true, true, &m->tok_embd))) goto fail;
    if ((st = bind(&b, "output_norm.weight", hp->n_embd, 0, false, true, &m->output_norm))) goto fail;
    if ((st = bind(&b, "output.weight", hp->n_embd, hp->n_vocab, true, false, &m->output))) goto fail;
    if (!m->output.data) { m->output = m->tok_embd; m->tied = true; }
    zeta_weight rf;
    if ((st = bind(&b, "rope_freqs.weight", hp->n_rot / 2, 0, false, false, &rf))) goto fail;
    m->rope_freqs = rf.data;
    m->layers = calloc(hp->n_layer, sizeof *m->layers);
    if (!m->layers) { st = zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory loading %s", path); goto fail; }
    for (uint32_t il = 0; il < hp->n_layer; il++)
        if ((st = bind_layer(&b, m, il))) goto fail;
    if ((st = check_layer_names(g, a, hp->n_layer, err))) goto fail;
    free(b.by_name);
    compute_totals(m);
    m->magic = ZETA_MODEL_MAGIC;
    *out = m;
    return ZETA_OK;
fail:
    free(b.by_name);
    model_free(m);
    return st;
}

void model_free(struct zeta_model *m) {
    if (!m) return;
    m->magic = 0;
    vocab_free(m->vocab);
    gguf_close(m->g);
    free(m->layers);
    free(m->name);
    free(m->packed_mem);
    zs_model_free(m->sparse);
    free(m);
}

uint64_t model_kv_bytes(const struct zeta_model *m, uint32_t n_ctx, zeta_type type_k, zeta_type type_v) {
    const zeta_hparams *hp = &m->hp;
    uint64_t per_pos = (uint64_t)hp->n_head_kv * (zeta_row_bytes(type_k, hp->head_dim_k) + zeta_row_bytes(type_v, hp->head_dim_v));
    return per_pos * n_ctx * hp->n_layer;
}
