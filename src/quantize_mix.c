/* quantize_mix.c — the per-tensor type plan of `zeta quantize`, following llama.cpp's
 * llama-quantize (src/llama-quant.cpp, no importance matrix): the file type table, the output
 * tensor order, which tensors are quantized, the per-tensor mix rules, --tensor-type overrides and
 * the block-size fallbacks. Written from the facts of llama.cpp's behaviour, not from its code. */
#include "quantize_mix.h"
#include "quant.h"

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* llama.cpp's LLAMA_FTYPE_* values */
enum {
    FT_ALL_F32 = 0, FT_F16 = 1, FT_Q4_0 = 2, FT_Q4_1 = 3, FT_Q8_0 = 7, FT_Q5_0 = 8, FT_Q5_1 = 9, FT_Q2_K = 10,
    FT_Q3_K_S = 11, FT_Q3_K_M = 12, FT_Q3_K_L = 13, FT_Q4_K_S = 14, FT_Q4_K_M = 15, FT_Q5_K_S = 16, FT_Q5_K_M = 17,
    FT_Q6_K = 18, FT_IQ4_NL = 25, FT_IQ4_XS = 30, FT_BF16 = 32
};

static const zq_ftype k_ftypes[] = {
    {"Q4_0", FT_Q4_0, ZETA_TYPE_Q4_0},       {"Q4_1", FT_Q4_1, ZETA_TYPE_Q4_1},
    {"Q5_0", FT_Q5_0, ZETA_TYPE_Q5_0},       {"Q5_1", FT_Q5_1, ZETA_TYPE_Q5_1},
    {"Q8_0", FT_Q8_0, ZETA_TYPE_Q8_0},       {"Q2_K", FT_Q2_K, ZETA_TYPE_Q2_K},
    {"Q3_K_S", FT_Q3_K_S, ZETA_TYPE_Q3_K},   {"Q3_K_M", FT_Q3_K_M, ZETA_TYPE_Q3_K},
    {"Q3_K_L", FT_Q3_K_L, ZETA_TYPE_Q3_K},   {"Q4_K_S", FT_Q4_K_S, ZETA_TYPE_Q4_K},
    {"Q4_K_M", FT_Q4_K_M, ZETA_TYPE_Q4_K},   {"Q5_K_S", FT_Q5_K_S, ZETA_TYPE_Q5_K},
    {"Q5_K_M", FT_Q5_K_M, ZETA_TYPE_Q5_K},   {"Q6_K", FT_Q6_K, ZETA_TYPE_Q6_K},
    {"IQ4_NL", FT_IQ4_NL, ZETA_TYPE_IQ4_NL}, {"IQ4_XS", FT_IQ4_XS, ZETA_TYPE_IQ4_XS},
    {"F16", FT_F16, ZETA_TYPE_F16},          {"BF16", FT_BF16, ZETA_TYPE_BF16},
    {"F32", FT_ALL_F32, ZETA_TYPE_F32},
};
#define N_FTYPES (sizeof k_ftypes / sizeof k_ftypes[0])

/* llama-quantize's short aliases */
static const struct { const char *alias, *name; } k_aliases[] = {{"Q3_K", "Q3_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q5_K", "Q5_K_M"}};

static bool ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return *a == *b;
}

const zq_ftype *zq_ftype_find(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof k_aliases / sizeof k_aliases[0]; i++)
        if (ieq(name, k_aliases[i].alias)) name = k_aliases[i].name;
    for (size_t i = 0; i < N_FTYPES; i++)
        if (ieq(name, k_ftypes[i].name)) return &k_ftypes[i];
    return NULL;
}

const char *zq_ftype_names(void) {
    return "Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, "
           "IQ4_NL, IQ4_XS, F16, BF16, F32";
}

/* ------------------------------------------------------------------ model facts */

typedef struct model_facts {
    char arch[64];
    bool falcon;
    bool is_70b;               /* llama.cpp's LLM_TYPE_70B: llama, 80 layers, GQA */
    int n_layer;
    int n_gqa;                 /* n_head / n_head_kv of layer 0 */
    int n_expert;
    bool tied;                 /* no output.weight: token_embd doubles as the output matrix */
} model_facts;

/* Integer key (scalar, or first element of a per-layer array); *out untouched if absent. */
static zeta_status get_int(const gguf_file *g, const char *key, int *out, zeta_error *err) {
    const gguf_kv *kv = gguf_find(g, key);
    if (!kv) return ZETA_OK;
    if (kv->type == GGUF_ARRAY && kv->n > 0 && kv->arr_type != GGUF_STRING && kv->arr_type != GGUF_ARRAY &&
        kv->arr_type != GGUF_FLOAT32 && kv->arr_type != GGUF_FLOAT64 && kv->arr_type != GGUF_BOOL) {
        int64_t v = gguf_array_i64(kv, 0);
        if (v < 0 || v > 1000000)
            return zeta_fail(err, ZETA_ERR_FORMAT, "%s: %s[0] is %" PRId64 "; expected 0..1000000", g->path, key, v);
        *out = (int)v;
        return ZETA_OK;
    }
    uint64_t v = 0;
    zeta_status st = gguf_get_uint(g, key, 1000000, &v, NULL, err);
    if (st == ZETA_OK) *out = (int)v;
    return st;
}

/* the layer number of "blk.N...." names as llama.cpp reads it (sscanf "blk.%d."), else -1 */
static int layer_of(const char *name) {
    if (strncmp(name, "blk.", 4) != 0) return -1;
    const char *p = name + 4;
    bool neg = *p == '-';
    if (*p == '-' || *p == '+') p++;
    if (!isdigit((unsigned char)*p)) return -1;
    long v = 0;
    for (; isdigit((unsigned char)*p); p++) v = v < INT_MAX / 10 ? v * 10 + (*p - '0') : INT_MAX;
    return (int)(neg ? -v : v);
}

static zeta_status read_facts(const gguf_file *g, model_facts *m, zeta_error *err) {
    memset(m, 0, sizeof *m);
    gguf_str a;
    bool found = false;
    zeta_status st = gguf_get_string(g, "general.architecture", &a, &found, err);
    if (st != ZETA_OK) return st;
    if (!found) return zeta_fail(err, ZETA_ERR_FORMAT, "%s: key general.architecture is missing; is this a model file?", g->path);
    if (a.n == 0 || a.n >= sizeof m->arch || memchr(a.s, 0, a.n))
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: general.architecture has %" PRIu64 " bytes; expected 1..%zu", g->path, a.n,
                         sizeof m->arch - 1);
    memcpy(m->arch, a.s, a.n);
    m->arch[a.n] = 0;
    m->falcon = !strcmp(m->arch, "falcon");

    char key[128];
    int n_head = 0, n_head_kv = 0;
    m->n_layer = -1;
    snprintf(key, sizeof key, "%s.block_count", m->arch);
    if ((st = get_int(g, key, &m->n_layer, err))) return st;
    snprintf(key, sizeof key, "%s.attention.head_count", m->arch);
    if ((st = get_int(g, key, &n_head, err))) return st;
    n_head_kv = n_head;
    snprintf(key, sizeof key, "%s.attention.head_count_kv", m->arch);
    if ((st = get_int(g, key, &n_head_kv, err))) return st;
    snprintf(key, sizeof key, "%s.expert_count", m->arch);
    if ((st = get_int(g, key, &m->n_expert, err))) return st;
    m->n_gqa = n_head_kv > 0 ? n_head / n_head_kv : 0;

    m->tied = true;
    int max_layer = -1;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        if (!strcmp(g->tensors[i].name, "output.weight")) m->tied = false;
        int l = layer_of(g->tensors[i].name);
        if (l > max_layer) max_layer = l;
    }
    if (m->n_layer < 0) m->n_layer = max_layer + 1; /* no block_count key: count the blocks */
    m->is_70b = !strcmp(m->arch, "llama") && m->n_layer == 80 && n_head != n_head_kv;
    return ZETA_OK;
}

/* ------------------------------------------------------------------ which tensors, in which order */

static int cmp_order(const void *pa, const void *pb, const gguf_file *g) {
    const char *a = g->tensors[*(const uint32_t *)pa].name, *b = g->tensors[*(const uint32_t *)pb].name;
    int la = layer_of(a), lb = layer_of(b);
    if (la != lb) return la < lb ? -1 : 1;
    return strcmp(a, b);
}

/* qsort has no context argument in C11: sort with a small merge sort instead */
static void sort_order(uint32_t *idx, uint32_t *tmp, uint32_t n, const gguf_file *g) {
    if (n < 2) return;
    uint32_t h = n / 2;
    sort_order(idx, tmp, h, g);
    sort_order(idx + h, tmp, n - h, g);
    uint32_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = cmp_order(&idx[j], &idx[i], g) < 0 ? idx[j++] : idx[i++];
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

static bool has(const char *name, const char *part) { return strstr(name, part) != NULL; }

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* ggml_n_dims: the number of dimensions up to the last one that is not 1 */
static uint32_t eff_dims(const gguf_tensor *t) {
    uint32_t d = 4;
    while (d > 1 && t->ne[d - 1] == 1) d--;
    return d;
}

/* the tensors llama-quantize will change the type of at all */
static bool allows_quantization(const gguf_tensor *t) {
    if (eff_dims(t) < 2) return false;
    const char *n = t->name;
    static const char *const never[] = {
        "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
        "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
        "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight",
        "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight",
        "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd",
        "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook",
        "mm.a.code_embd"};
    if (!ends_with(n, "weight")) return false;
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        if (has(n, never[i])) return false;
    return strcmp(n, "position_embd.weight") != 0 && strcmp(n, "token_types.weight") != 0;
}

/* ------------------------------------------------------------------ the mix rules */

typedef enum cat { C_TOKEN_EMBD, C_ATTN_Q, C_ATTN_V, C_ATTN_K, C_ATTN_QKV, C_ATTN_KV_B, C_ATTN_OUT, C_FFN_UP,
                   C_FFN_GATE, C_FFN_DOWN, C_OUTPUT, C_OTHER } cat;

static cat category(const char *n) {
    if (!strcmp(n, "output.weight")) return C_OUTPUT;
    if (!strcmp(n, "token_embd.weight") || !strcmp(n, "per_layer_token_embd.weight")) return C_TOKEN_EMBD;
    if (has(n, "attn_qkv.weight")) return C_ATTN_QKV;
    if (has(n, "attn_kv_b.weight")) return C_ATTN_KV_B;
    if (has(n, "attn_v.weight")) return C_ATTN_V;
    if (has(n, "attn_k.weight")) return C_ATTN_K;
    if (has(n, "attn_q.weight")) return C_ATTN_Q;
    if (has(n, "attn_output.weight")) return C_ATTN_OUT;
    if (has(n, "ffn_up")) return C_FFN_UP;
    if (has(n, "ffn_gate")) return C_FFN_GATE;
    if (has(n, "ffn_down")) return C_FFN_DOWN;
    return C_OTHER;
}

static bool is_attn_v(cat c) { return c == C_ATTN_V || c == C_ATTN_QKV || c == C_ATTN_KV_B; }

typedef struct mix_state {
    const model_facts *m;
    uint32_t ft;
    int n_attn_v, i_attn_v, i_ffn_down, i_ffn_gate, i_ffn_up;
} mix_state;

/* the layers that get more bits in the *_M mixes: first and last eighth, and every third between */
static bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* The layer of a per-layer tensor: a running counter, or (with experts, whose tensors are not in
 * layer order) the number in its name. */
static zeta_status layer_index(const mix_state *s, int counter, const char *name, int *layer, zeta_error *err) {
    *layer = counter;
    if (s->m->n_expert > 1) {
        *layer = layer_of(name);
        if (*layer < 0 || *layer >= s->m->n_layer)
            return zeta_fail(err, ZETA_ERR_FORMAT, "tensor '%s': cannot tell its layer (0..%d) from the name", name,
                             s->m->n_layer - 1);
    }
    return ZETA_OK;
}

static zeta_status mix_type(mix_state *s, const gguf_tensor *t, cat c, zeta_type *type, zeta_error *err) {
    const model_facts *m = s->m;
    const uint32_t ft = s->ft;
    zeta_type ty = *type;
    const int n_layer = m->n_layer;
    int il = 0;
    zeta_status st;
    if (c == C_OUTPUT || (m->tied && c == C_TOKEN_EMBD)) {
        const zeta_type_traits *tr = zeta_type_get(ty);
        if (m->falcon || t->ne[0] % tr->block_size) ty = ZETA_TYPE_Q8_0;
        else if (ty != ZETA_TYPE_Q8_0) ty = ZETA_TYPE_Q6_K;
    } else if (c == C_TOKEN_EMBD) {
        /* only the IQ1/IQ2/IQ3 and ternary mixes change it */
    } else if (is_attn_v(c)) {
        if (ft == FT_Q2_K) ty = m->n_gqa >= 4 ? ZETA_TYPE_Q4_K : ZETA_TYPE_Q3_K;
        else if (ft == FT_Q3_K_M) ty = s->i_attn_v < 2 ? ZETA_TYPE_Q5_K : ZETA_TYPE_Q4_K;
        else if (ft == FT_Q3_K_L) ty = ZETA_TYPE_Q5_K;
        else if ((ft == FT_IQ4_NL || ft == FT_IQ4_XS) && m->n_gqa >= 4) ty = ZETA_TYPE_Q5_K;
        else if ((ft == FT_Q4_K_M || ft == FT_Q5_K_M) && more_bits(s->i_attn_v, s->n_attn_v)) ty = ZETA_TYPE_Q6_K;
        else if (ft == FT_Q4_K_S && s->i_attn_v < 4) ty = ZETA_TYPE_Q5_K;
        if (m->is_70b && (ty == ZETA_TYPE_Q3_K || ty == ZETA_TYPE_Q4_K)) ty = ZETA_TYPE_Q5_K;
        if (m->n_expert == 8) ty = ZETA_TYPE_Q8_0;
        s->i_attn_v++;
    } else if (c == C_ATTN_K) {
        if (m->n_expert == 8) ty = ZETA_TYPE_Q8_0;
    } else if (c == C_FFN_DOWN) {
        if ((st = layer_index(s, s->i_ffn_down, t->name, &il, err))) return st;
        if (ft == FT_Q2_K) ty = ZETA_TYPE_Q3_K;
        else if (ft == FT_Q3_K_M)
            ty = il < n_layer / 16 ? ZETA_TYPE_Q5_K : !m->falcon || more_bits(il, n_layer) ? ZETA_TYPE_Q4_K : ZETA_TYPE_Q3_K;
        else if (ft == FT_Q3_K_L) ty = m->falcon ? ZETA_TYPE_Q4_K : ZETA_TYPE_Q5_K;
        else if (ft == FT_Q4_K_M) {
            if (m->falcon)
                ty = il < n_layer / 16 ? ZETA_TYPE_Q6_K : more_bits(il, n_layer) ? ZETA_TYPE_Q5_K : ZETA_TYPE_Q4_K;
            else if (more_bits(il, n_layer)) ty = ZETA_TYPE_Q6_K;
        } else if (il < n_layer / 8 && (ft == FT_IQ4_NL || ft == FT_IQ4_XS)) ty = ZETA_TYPE_Q5_K; /* no imatrix */
        else if (ft == FT_Q5_K_M && more_bits(il, n_layer)) ty = ZETA_TYPE_Q6_K;
        else if (ft == FT_Q4_K_S && !m->falcon && il < n_layer / 8) ty = ZETA_TYPE_Q5_K;
        s->i_ffn_down++;
    } else if (c == C_ATTN_OUT) {
        if (!m->falcon) {
            if (m->n_expert == 8) {
                if (ft == FT_Q2_K || ft == FT_Q3_K_S || ft == FT_Q3_K_M || ft == FT_IQ4_NL || ft == FT_Q4_K_S ||
                    ft == FT_Q4_K_M || ft == FT_IQ4_XS)
                    ty = ZETA_TYPE_Q5_K;
            } else if (ft == FT_Q2_K) ty = ZETA_TYPE_Q3_K;
            else if (ft == FT_Q3_K_M) ty = ZETA_TYPE_Q4_K;
            else if (ft == FT_Q3_K_L) ty = ZETA_TYPE_Q5_K;
        } else if (ft == FT_Q3_K_L) ty = ZETA_TYPE_Q4_K;
    } else if (c == C_ATTN_QKV) {
        if (ft == FT_Q3_K_M || ft == FT_Q3_K_L) ty = ZETA_TYPE_Q4_K;
        else if (ft == FT_Q4_K_M) ty = ZETA_TYPE_Q5_K;
        else if (ft == FT_Q5_K_M) ty = ZETA_TYPE_Q6_K;
    } else if (c == C_FFN_GATE) {
        if ((st = layer_index(s, s->i_ffn_gate, t->name, &il, err))) return st;
        s->i_ffn_gate++; /* only the IQ3_XS mix uses it */
    } else if (c == C_FFN_UP) {
        if ((st = layer_index(s, s->i_ffn_up, t->name, &il, err))) return st;
        s->i_ffn_up++;
    }
    *type = ty;
    return ZETA_OK;
}

/* A type whose block does not divide the row length falls back to a related 32-block type, and
 * to f16 when even that does not fit. */
static zeta_status fallback(const char *path, const gguf_tensor *t, zq_item *it, zeta_error *err) {
    const zeta_type_traits *tr = zeta_type_get(it->to);
    if (t->ne[0] % tr->block_size == 0) return ZETA_OK;
    zeta_type fb;
    switch (it->to) {
    case ZETA_TYPE_IQ1_S: case ZETA_TYPE_IQ1_M: case ZETA_TYPE_IQ2_XXS: case ZETA_TYPE_IQ2_XS: case ZETA_TYPE_IQ2_S:
    case ZETA_TYPE_IQ3_XXS: case ZETA_TYPE_IQ3_S: case ZETA_TYPE_IQ4_XS: fb = ZETA_TYPE_IQ4_NL; break;
    case ZETA_TYPE_Q2_K: case ZETA_TYPE_Q3_K: case ZETA_TYPE_TQ1_0: case ZETA_TYPE_TQ2_0: fb = ZETA_TYPE_Q4_0; break;
    case ZETA_TYPE_Q4_K: fb = ZETA_TYPE_Q5_0; break;
    case ZETA_TYPE_Q5_K: fb = ZETA_TYPE_Q5_1; break;
    case ZETA_TYPE_Q6_K: fb = ZETA_TYPE_Q8_0; break;
    default:
        return zeta_fail(err, ZETA_ERR_UNSUPPORTED,
                         "%s: tensor '%s' has %" PRIu64 " columns; %s needs a multiple of %u and has no fallback type",
                         path, t->name, t->ne[0], tr->name, tr->block_size);
    }
    const zeta_type_traits *fr = zeta_type_get(fb);
    int o = snprintf(it->note, sizeof it->note, "%" PRIu64 " columns are not a multiple of %u (%s): ", t->ne[0],
                     tr->block_size, tr->name);
    if (t->ne[0] % fr->block_size) {
        snprintf(it->note + o, sizeof it->note - (size_t)o, "%s does not fit either, using f16", fr->name);
        fb = ZETA_TYPE_F16;
    } else {
        snprintf(it->note + o, sizeof it->note - (size_t)o, "falling back to %s", fr->name);
    }
    it->to = fb;
    it->fallback = true;
    return ZETA_OK;
}

/* ------------------------------------------------------------------ overrides */

typedef struct override {
    regex_t re;
    zeta_type type;
    const char *text;
} override;

static zeta_status parse_overrides(const char *const *ov, size_t n, override *out, size_t *n_compiled, zeta_error *err) {
    *n_compiled = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = ov[i], *eq = s ? strrchr(s, '=') : NULL;
        if (!eq || eq == s || !eq[1])
            return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "tensor type override '%s': expected PATTERN=TYPE, e.g. ffn_down=q8_0",
                             s ? s : "(null)");
        zeta_type ty = ZETA_TYPE_COUNT;
        for (int k = 0; k < ZETA_TYPE_COUNT; k++) {
            const char *tn = zeta_type_name((zeta_type)k);
            if (tn && ieq(tn, eq + 1)) ty = (zeta_type)k;
        }
        if (ty == ZETA_TYPE_COUNT || (ty != ZETA_TYPE_F32 && ty != ZETA_TYPE_F16 && ty != ZETA_TYPE_BF16 && !zeta_type_get(ty)->is_quantized))
            return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                             "tensor type override '%s': '%s' is not a tensor type (f32, f16, bf16, q8_0, q4_K, ...)", s, eq + 1);
        size_t len = (size_t)(eq - s);
        char *pat = malloc(len + 1);
        if (!pat) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory");
        memcpy(pat, s, len);
        pat[len] = 0;
        int rc = regcomp(&out[i].re, pat, REG_EXTENDED | REG_NOSUB);
        free(pat);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &out[i].re, msg, sizeof msg);
            return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "tensor type override '%s': bad pattern: %s", s, msg);
        }
        out[i].type = ty;
        out[i].text = s;
        (*n_compiled)++;
    }
    return ZETA_OK;
}

/* ------------------------------------------------------------------ the plan */

zeta_status zq_plan_make(const gguf_file *g, const zq_ftype *ft, bool pure, const char *const *overrides,
                         size_t n_overrides, zq_plan *out, zeta_error *err) {
    memset(out, 0, sizeof *out);
    if (!g || !ft || (n_overrides && !overrides)) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zq_plan_make: NULL argument");
    if (g->n_tensors == 0) return zeta_fail(err, ZETA_ERR_FORMAT, "%s: the file has no tensors", g->path);
    if (g->n_tensors > UINT32_MAX / 2) return zeta_fail(err, ZETA_ERR_FORMAT, "%s: too many tensors", g->path);
    model_facts m;
    zeta_status st = read_facts(g, &m, err);
    if (st != ZETA_OK) return st;

    uint32_t n = (uint32_t)g->n_tensors;
    uint32_t *order = zeta_malloc_array(n, sizeof *order), *tmp = zeta_malloc_array(n, sizeof *tmp);
    zq_item *items = zeta_calloc_array(n, sizeof *items);
    override *ov = n_overrides ? zeta_calloc_array(n_overrides, sizeof *ov) : NULL;
    size_t n_ov = 0;
    if (!order || !tmp || !items || (n_overrides && !ov)) {
        st = zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory planning %" PRIu32 " tensors", n);
        goto out;
    }
    if ((st = parse_overrides(overrides, n_overrides, ov, &n_ov, err))) goto out;
    for (uint32_t i = 0; i < n; i++) order[i] = i;
    sort_order(order, tmp, n, g);

    mix_state s = {.m = &m, .ft = ft->ftype};
    for (uint32_t i = 0; i < n; i++)
        if (is_attn_v(category(g->tensors[i].name))) s.n_attn_v++;

    const bool quantized_base = zeta_type_get(ft->base)->is_quantized;
    for (uint32_t k = 0; k < n; k++) {
        const gguf_tensor *t = &g->tensors[order[k]];
        zq_item *it = &items[k];
        it->src = order[k];
        it->n_dims = eff_dims(t);
        it->from = it->to = (zeta_type)t->type;
        if (!allows_quantization(t)) continue;
        it->to = ft->base;
        if (!quantized_base) continue; /* F16 / BF16 / F32: no mixes, no overrides, no fallbacks */
        bool manual = false;
        for (size_t r = 0; r < n_ov && !manual; r++) {
            if (regexec(&ov[r].re, t->name, 0, NULL, 0) == 0) {
                manual = true;
                if (ov[r].type != it->to) {
                    snprintf(it->note, sizeof it->note, "override '%s': %s instead of %s", ov[r].text,
                             zeta_type_name(ov[r].type), zeta_type_name(it->to));
                    it->to = ov[r].type;
                }
            }
        }
        if (!manual && !pure && (st = mix_type(&s, t, category(t->name), &it->to, err))) goto out;
        if ((st = fallback(g->path, t, it, err))) goto out;
        if (it->fallback) out->n_fallback++;
    }
    out->items = items;
    out->n = n;
    items = NULL;
    st = zeta_ok(err);
out:
    for (size_t r = 0; r < n_ov; r++) regfree(&ov[r].re);
    free(ov);
    free(order);
    free(tmp);
    free(items);
    return st;
}

void zq_plan_free(zq_plan *p) {
    if (!p) return;
    free(p->items);
    p->items = NULL;
    p->n = 0;
}
