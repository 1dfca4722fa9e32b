/* synth.c — writes synthetic llama/qwen2 GGUF models with random weights at the shapes of real
 * models (TinyLlama-1.1B, Llama-3.2-1B, Qwen2.5-0.5B, Llama-2-7B, Llama-3-8B; and a tiny one for
 * tests), so anyone can
 * benchmark without downloads. The tokenizer is copied from a vocabulary GGUF (padded with unused
 * control tokens up to the shape's vocabulary size). Every 2-D weight has the requested type
 * (like llama-quantize --pure); norms are F32. The file is laid out with zeros first, then each
 * tensor is generated, quantized with the reference quantizer and written in place, so memory
 * stays at one tensor. */
#include "zeta.h"
#include "gguf.h"
#include "gguf_write.h"
#include "quant.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

typedef struct synth_shape {
    const char *name, *arch, *pretty;
    uint32_t n_embd, n_ff, n_layer, n_head, n_head_kv, n_vocab, n_ctx;
    float rope_base;
    bool tied;
} synth_shape;

static const synth_shape k_shapes[] = {
    {"tinyllama-1.1b", "llama", "TinyLlama-1.1B shape", 2048, 5632, 22, 32, 4, 32000, 2048, 10000.0f, false},
    {"llama-3.2-1b", "llama", "Llama-3.2-1B shape", 2048, 8192, 16, 32, 8, 128256, 8192, 500000.0f, true},
    {"qwen2.5-0.5b", "qwen2", "Qwen2.5-0.5B shape", 896, 4864, 24, 14, 2, 151936, 32768, 1000000.0f, true},
    {"llama-2-7b", "llama", "Llama-2-7B shape", 4096, 11008, 32, 32, 32, 32000, 4096, 10000.0f, false},
    {"llama-3-8b", "llama", "Llama-3-8B shape", 4096, 14336, 32, 32, 8, 128256, 8192, 500000.0f, false},
    {"tiny", "llama", "tiny test shape", 256, 512, 2, 4, 2, 32000, 1024, 10000.0f, false},
    {"tiny-hd128", "llama", "tiny test shape, head size 128", 256, 512, 2, 2, 1, 32000, 1024, 10000.0f, false},
    {"tiny-gqa8", "llama", "tiny test shape, 8 query heads a KV head", 512, 512, 2, 8, 1, 32000, 1024, 10000.0f, false},
    {"tiny-mha", "llama", "tiny test shape, as many KV heads as query heads", 256, 512, 2, 4, 4, 32000, 1024, 10000.0f, false},
    {"tiny-gqa3", "llama", "tiny test shape, 3 query heads a KV head", 384, 512, 2, 6, 2, 32000, 1024, 10000.0f, false},
};

const char *zeta_synth_shapes(void) { return "tinyllama-1.1b, llama-3.2-1b, qwen2.5-0.5b, llama-2-7b, llama-3-8b, tiny, tiny-hd128, tiny-gqa8, tiny-mha, tiny-gqa3"; }

zeta_synth_params zeta_synth_params_default(void) {
    zeta_synth_params p;
    memset(&p, 0, sizeof p);
    p.shape = "tinyllama-1.1b";
    p.type = ZETA_TYPE_Q4_0;
    p.seed = 1;
    return p;
}

/* ---------------------------------------------------------------- random weights */

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* approximately normal (sum of 4 uniforms), scaled */
static void fill_random(float *x, size_t n, float scale, float offset, uint64_t *rng) {
    for (size_t i = 0; i < n; i++) {
        uint64_t r = splitmix(rng);
        float s = (float)(r & 0xffff) + (float)((r >> 16) & 0xffff) + (float)((r >> 32) & 0xffff) + (float)(r >> 48);
        x[i] = offset + scale * (s / 65536.0f - 2.0f) * 1.7320508f;
    }
}

/* ---------------------------------------------------------------- tensor list */

typedef struct synth_tensor {
    char name[64];
    uint32_t n_dims;
    uint64_t ne[2];
    zeta_type type;
    float scale, offset;
} synth_tensor;

static void add_t(synth_tensor *t, size_t *n, const char *name, uint64_t ne0, uint64_t ne1, zeta_type type, float scale,
                  float offset) {
    synth_tensor *x = &t[(*n)++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->n_dims = ne1 ? 2 : 1;
    x->ne[0] = ne0;
    x->ne[1] = ne1 ? ne1 : 1;
    x->type = type;
    x->scale = scale;
    x->offset = offset;
}

static size_t plan(const synth_shape *s, zeta_type wt, synth_tensor *t) {
    size_t n = 0;
    uint64_t E = s->n_embd, hd = s->n_embd / s->n_head, Q = (uint64_t)s->n_head * hd, K = (uint64_t)s->n_head_kv * hd;
    float se = 1.0f / sqrtf((float)E), sf = 1.0f / sqrtf((float)s->n_ff);
    bool qwen = !strcmp(s->arch, "qwen2");
    add_t(t, &n, "token_embd.weight", E, s->n_vocab, wt, 1.0f, 0.0f);
    add_t(t, &n, "output_norm.weight", E, 0, ZETA_TYPE_F32, 0.1f, 1.0f);
    if (!s->tied) add_t(t, &n, "output.weight", E, s->n_vocab, wt, se, 0.0f);
    char nm[64];
    for (uint32_t l = 0; l < s->n_layer; l++) {
#define L(suffix, ne0, ne1, ty, sc, off) snprintf(nm, sizeof nm, "blk.%u.%s", l, suffix); add_t(t, &n, nm, ne0, ne1, ty, sc, off);
        L("attn_norm.weight", E, 0, ZETA_TYPE_F32, 0.1f, 1.0f);
        L("attn_q.weight", E, Q, wt, se, 0.0f);
        L("attn_k.weight", E, K, wt, se, 0.0f);
        L("attn_v.weight", E, K, wt, se, 0.0f);
        if (qwen) {
            L("attn_q.bias", Q, 0, ZETA_TYPE_F32, 0.1f, 0.0f);
            L("attn_k.bias", K, 0, ZETA_TYPE_F32, 0.1f, 0.0f);
            L("attn_v.bias", K, 0, ZETA_TYPE_F32, 0.1f, 0.0f);
        }
        L("attn_output.weight", Q, E, wt, 1.0f / sqrtf((float)Q), 0.0f);
        L("ffn_norm.weight", E, 0, ZETA_TYPE_F32, 0.1f, 1.0f);
        L("ffn_gate.weight", E, s->n_ff, wt, se, 0.0f);
        L("ffn_up.weight", E, s->n_ff, wt, se, 0.0f);
        L("ffn_down.weight", s->n_ff, E, wt, sf, 0.0f);
#undef L
    }
    return n;
}

/* ---------------------------------------------------------------- tokenizer */

static zeta_status copy_tokenizer(gguf_writer *w, const gguf_file *v, uint32_t n_vocab, gguf_str **pad_strs,
                                  char **pad_text, zeta_error *err) {
    const gguf_kv *toks = gguf_find(v, "tokenizer.ggml.tokens");
    if (!toks || toks->type != GGUF_ARRAY || toks->arr_type != GGUF_STRING)
        return zeta_fail(err, ZETA_ERR_FORMAT, "%s: no tokenizer.ggml.tokens string array", v->path);
    if (toks->n > n_vocab)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "%s: has %llu tokens, more than the shape's vocabulary of %u",
                         v->path, (unsigned long long)toks->n, n_vocab);
    uint64_t n0 = toks->n, n_pad = n_vocab - n0;
    zeta_status st;
    for (uint64_t i = 0; i < v->n_kv; i++) {
        const gguf_kv *kv = &v->kv[i];
        if (strncmp(kv->key, "tokenizer.", 10)) continue;
        bool per_token = !strcmp(kv->key, "tokenizer.ggml.tokens") || !strcmp(kv->key, "tokenizer.ggml.scores") ||
                         !strcmp(kv->key, "tokenizer.ggml.token_type");
        if (!per_token || n_pad == 0) {
            if ((st = gguf_writer_add_kv(w, kv, err))) return st;
            continue;
        }
        if (!strcmp(kv->key, "tokenizer.ggml.tokens")) {
            gguf_str *s = calloc(n_vocab, sizeof *s);
            char *txt = malloc((size_t)n_pad * 24);
            if (!s || !txt) { free(s); free(txt); return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory"); }
            *pad_strs = s;
            *pad_text = txt;
            for (uint64_t j = 0; j < n0; j++) s[j] = toks->strs[j];
            for (uint64_t j = 0; j < n_pad; j++) {
                char *p = txt + j * 24;
                int len = snprintf(p, 24, "<|zeta_pad_%llu|>", (unsigned long long)j);
                s[n0 + j].s = p;
                s[n0 + j].n = (uint64_t)len;
            }
            if ((st = gguf_writer_add_strs(w, kv->key, s, n_vocab, err))) return st;
        } else if (!strcmp(kv->key, "tokenizer.ggml.scores")) {
            float *sc = calloc(n_vocab, sizeof *sc);
            if (!sc) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory");
            for (uint64_t j = 0; j < kv->n && j < n0; j++) sc[j] = (float)gguf_array_f64(kv, j);
            st = gguf_writer_add_array(w, kv->key, GGUF_FLOAT32, sc, n_vocab, err);
            free(sc);
            if (st) return st;
        } else {
            int32_t *tt = calloc(n_vocab, sizeof *tt);
            if (!tt) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory");
            for (uint64_t j = 0; j < n_vocab; j++) tt[j] = j < kv->n && j < n0 ? (int32_t)gguf_array_i64(kv, j) : 3;
            st = gguf_writer_add_array(w, kv->key, GGUF_INT32, tt, n_vocab, err);
            free(tt);
            if (st) return st;
        }
    }
    return ZETA_OK;
}

/* ---------------------------------------------------------------- writer */

static zeta_status write_meta(gguf_writer *w, const synth_shape *s, zeta_type wt, zeta_error *err) {
    char k[96];
    zeta_status st;
    const char *a = s->arch;
#define KEY(suffix) (snprintf(k, sizeof k, "%s.%s", a, suffix), k)
    if ((st = gguf_writer_add_string(w, "general.architecture", a, err))) return st;
    char name[96];
    snprintf(name, sizeof name, "zeta synthetic %s (random weights)", s->pretty);
    if ((st = gguf_writer_add_string(w, "general.name", name, err))) return st;
    if ((st = gguf_writer_add_u32(w, "general.file_type", (uint32_t)wt, err))) return st;
    if ((st = gguf_writer_add_u32(w, KEY("context_length"), s->n_ctx, err))) return st;
    if ((st = gguf_writer_add_u32(w, KEY("embedding_length"), s->n_embd, err))) return st;
    if ((st = gguf_writer_add_u32(w, KEY("block_count"), s->n_layer, err))) return st;
    if ((st = gguf_writer_add_u32(w, KEY("feed_forward_length"), s->n_ff, err))) return st;
    if ((st = gguf_writer_add_u32(w, KEY("attention.head_count"), s->n_head, err))) return st;
    if ((st = gguf_writer_add_u32(w, KEY("attention.head_count_kv"), s->n_head_kv, err))) return st;
    if ((st = gguf_writer_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-5f, err))) return st;
    if ((st = gguf_writer_add_f32(w, KEY("rope.freq_base"), s->rope_base, err))) return st;
    if ((st = gguf_writer_add_u32(w, KEY("rope.dimension_count"), s->n_embd / s->n_head, err))) return st;
    if ((st = gguf_writer_add_u32(w, KEY("vocab_size"), s->n_vocab, err))) return st;
#undef KEY
    return ZETA_OK;
}

typedef struct qrows {
    zeta_type type;
    const float *f;
    uint8_t *q;
    uint64_t k, rb;
} qrows;

static bool qrows_run(void *ctx, size_t r0, size_t r1) {
    const qrows *j = ctx;
    for (size_t r = r0; r < r1; r++) zeta_quantize_row_ref(j->type, j->f + r * j->k, j->q + r * j->rb, (int64_t)j->k);
    return true;
}

/* rows [0, nr) of f (k floats each) quantized into q (rb bytes each), on up to n_threads threads
 * (zeta_par_for; one for under 64 K weights) */
static void quantize_rows(zeta_type type, const float *f, uint8_t *q, uint64_t nr, uint64_t k, uint64_t rb, int n_threads) {
    qrows j = {type, f, q, k, rb};
    zeta_par_for((size_t)nr, nr * k < 65536 ? 1 : n_threads, qrows_run, &j);
}

zeta_status zeta_synth_model(const zeta_synth_params *p, const char *out_path, zeta_error *err) {
    if (!p || !out_path) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_synth_model: params and out_path are required");
    const synth_shape *s = NULL;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++)
        if (p->shape && !strcmp(p->shape, k_shapes[i].name)) s = &k_shapes[i];
    if (!s)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "unknown shape '%s' (known: %s)", p->shape ? p->shape : "(null)",
                         zeta_synth_shapes());
    if (!p->vocab_path) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_synth_model: vocab_path is required");
    const zeta_type_traits *tt = zeta_type_get((uint32_t)p->type);
    if (!tt || !zeta_type_can_quantize(p->type) || !zeta_type_supported(p->type))
        return zeta_fail(err, ZETA_ERR_UNSUPPORTED, "zeta_synth_model: cannot write weights of type %s",
                         tt ? tt->name : "(invalid)");
    if (s->n_embd % tt->block_size || s->n_ff % tt->block_size)
        return zeta_fail(err, ZETA_ERR_UNSUPPORTED, "shape %s does not fit type %s (rows must be multiples of %u)", s->name,
                         tt->name, tt->block_size);

    gguf_file *v = NULL;
    gguf_writer *w = NULL;
    synth_tensor *t = NULL;
    gguf_str *pad_strs = NULL;
    char *pad_text = NULL;
    float *fbuf = NULL;
    void *qbuf = NULL;
    int fd = -1;
    bool created = false;
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out_path, (long)getpid()) >= (int)sizeof tmp)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_synth_model: output path too long");
    zeta_status st = gguf_open(p->vocab_path, true, &v, err);
    if (st) goto out;
    if ((st = gguf_writer_new(&w, err))) goto out;
    if ((st = write_meta(w, s, p->type, err))) goto out;
    if ((st = copy_tokenizer(w, v, s->n_vocab, &pad_strs, &pad_text, err))) goto out;
    t = calloc(8 + 16 * (size_t)s->n_layer, sizeof *t);
    if (!t) { st = zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory"); goto out; }
    size_t nt = plan(s, p->type, t);
    for (size_t i = 0; i < nt; i++) {
        uint64_t bytes = zeta_row_bytes(t[i].type, t[i].ne[0]) * t[i].ne[1];
        if ((st = gguf_writer_add_tensor(w, t[i].name, t[i].n_dims, t[i].ne, (uint32_t)t[i].type, NULL, bytes, err))) goto out;
    }
    created = true;
    if ((st = gguf_writer_write_file(w, tmp, err))) goto out;
    fd = open(tmp, O_WRONLY);
    if (fd < 0) { st = zeta_fail(err, ZETA_ERR_IO, "%s: %s", tmp, strerror(errno)); goto out; }
    /* rows are quantized on up to 16 threads (K-quants of the 7B shape took ~10 minutes on one);
     * each row alone, so the file's bytes do not depend on the count (ZETA_SYNTH_THREADS=N sets it) */
    int n_threads = zeta_cpu_cores();
    const char *te = getenv("ZETA_SYNTH_THREADS");
    if (te && atoi(te) > 0) n_threads = atoi(te);
    if (n_threads > 16) n_threads = 16;
    if (n_threads < 1) n_threads = 1;
    uint64_t rng = p->seed * 0x2545F4914F6CDD1Dull + 1;
    const uint64_t data = gguf_writer_data_offset(w);
    for (size_t i = 0; i < nt; i++) {
        const uint64_t k = t[i].ne[0], rows = t[i].ne[1], rb = zeta_row_bytes(t[i].type, k);
        const uint64_t chunk_rows = rows < 256 ? rows : 256;
        free(fbuf);
        free(qbuf);
        fbuf = malloc(chunk_rows * k * sizeof(float));
        qbuf = malloc(chunk_rows * rb);
        if (!fbuf || !qbuf) { st = zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory"); goto out; }
        uint64_t off = data + gguf_writer_tensor_offset(w, i);
        for (uint64_t r = 0; r < rows; r += chunk_rows) {
            uint64_t nr = rows - r < chunk_rows ? rows - r : chunk_rows;
            fill_random(fbuf, (size_t)(nr * k), t[i].scale, t[i].offset, &rng);
            quantize_rows(t[i].type, fbuf, (uint8_t *)qbuf, nr, k, rb, n_threads);
            size_t len = (size_t)(nr * rb);
            if (pwrite(fd, qbuf, len, (off_t)(off + r * rb)) != (ssize_t)len) {
                st = zeta_fail(err, ZETA_ERR_IO, "%s: write failed: %s", out_path, strerror(errno));
                goto out;
            }
        }
        if (p->on_progress && !p->on_progress(p->progress_user, (float)(i + 1) / (float)nt)) {
            st = zeta_fail(err, ZETA_ERR_CANCELLED, "writing %s cancelled", out_path);
            goto out;
        }
    }
    if (close(fd) != 0) { fd = -1; st = zeta_fail(err, ZETA_ERR_IO, "%s: %s", tmp, strerror(errno)); goto out; }
    fd = -1;
    if (rename(tmp, out_path) != 0) { st = zeta_fail(err, ZETA_ERR_IO, "renaming %s to %s: %s", tmp, out_path, strerror(errno)); goto out; }
    created = false;
    st = zeta_ok(err);
out:
    if (fd >= 0) close(fd);
    if (created) unlink(tmp);
    free(fbuf);
    free(qbuf);
    free(t);
    free(pad_strs);
    free(pad_text);
    gguf_writer_free(w);
    gguf_close(v);
    return st;
}
