/* sparse.c — the calibration sidecar file (read, checked against the model, written); the sparse
 * layout of the layer matrices is built in sparse_layout.c.
 *
 * File format (text, one record per line, numbers in C locale, floats with the fewest significant
 * digits (6..9) that read back exactly; written by zeta_calibrate, docs/GATING.md):
 *   zeta-sparsity 1
 *   model n_layer=8 n_embd=512 n_ff=1536 n_vocab=8192 file_bytes=67331680 hash=0123456789abcdef
 *   calibration n_tokens=4096 n_chunks=8 n_ctx=512
 *   levels 4 0.25 0.4 0.5 0.6
 *   gate 1.23 4.56                      (entropy thresholds in nats: gate, fallback)
 *   entropy e0 e5 ... e100              (21 quantiles of the dense next-token entropy)
 *   L 0 attn_in t1 t2 t3 t4             (per layer and input, one threshold per level)
 *   ... (n_layer x 4 lines, layers in order, inputs in the order attn_in attn_out ffn_in ffn_mid)
 *   end
 * hash: 64-bit FNV-1a over the tensor data section, 8 bytes at a time (zs_model_hash). */
#include "sparse.h"
#include "model.h"
#include "quant.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const zs_kind_names[ZS_N_KIND] = {"attn_in", "attn_out", "ffn_in", "ffn_mid"};

uint64_t zs_model_hash(const struct zeta_model *m) {
    const gguf_file *g = m->g;
    uint64_t h = 0xcbf29ce484222325ull;
    if (g->data_offset >= g->size) return h;
    const uint8_t *p = g->base + g->data_offset;
    uint64_t n = g->size - g->data_offset, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
    }
    for (; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h ^ n;
}

void zs_calib_free(zs_calib *c) {
    if (!c) return;
    free(c->thr);
    c->thr = NULL;
}

int zs_calib_level(const zs_calib *c, float sparsity) {
    int best = -1;
    float bd = 1e30f;
    for (uint32_t i = 0; i < c->n_levels; i++) {
        float d = fabsf(c->levels[i] - (sparsity > 0.0f ? sparsity : ZS_DEFAULT_LEVEL));
        if (sparsity > 0.0f && d > 1e-4f) continue;
        if (d < bd) { bd = d; best = (int)i; }
    }
    return best;
}

/* the shortest of %.6g .. %.9g that reads back as the same float */
static void put_float(FILE *f, float v) {
    char b[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, (double)v);
        if ((float)strtod(b, NULL) == v) break;
    }
    fprintf(f, " %s", b);
}

zeta_status zs_calib_write(const char *path, const zs_calib *c, zeta_error *err) {
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    if (!tmp) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory");
    snprintf(tmp, n + 16, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        zeta_status st = zeta_fail(err, ZETA_ERR_IO, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return st;
    }
    fprintf(f, "zeta-sparsity 1\n");
    fprintf(f, "model n_layer=%u n_embd=%u n_ff=%u n_vocab=%u file_bytes=%llu hash=%016llx\n", c->n_layer, c->n_embd, c->n_ff,
            c->n_vocab, (unsigned long long)c->file_bytes, (unsigned long long)c->hash);
    fprintf(f, "calibration n_tokens=%u n_chunks=%u n_ctx=%u\n", c->n_tokens, c->n_chunks, c->n_ctx);
    fprintf(f, "levels %u", c->n_levels);
    for (uint32_t i = 0; i < c->n_levels; i++) put_float(f, c->levels[i]);
    fprintf(f, "\ngate");
    put_float(f, c->gate_entropy);
    put_float(f, c->fallback_entropy);
    fprintf(f, "\nentropy");
    for (int i = 0; i < ZS_N_EQ; i++) put_float(f, c->entropy_q[i]);
    fputc('\n', f);
    for (uint32_t il = 0; il < c->n_layer; il++)
        for (int k = 0; k < ZS_N_KIND; k++) {
            fprintf(f, "L %u %s", il, zs_kind_names[k]);
            for (uint32_t i = 0; i < c->n_levels; i++) put_float(f, c->thr[((size_t)il * ZS_N_KIND + (size_t)k) * c->n_levels + i]);
            fputc('\n', f);
        }
    fprintf(f, "end\n");
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0) bad = true;
    zeta_status st = ZETA_OK;
    if (bad) st = zeta_fail(err, ZETA_ERR_IO, "%s: write failed", tmp);
    else if (rename(tmp, path) != 0) st = zeta_fail(err, ZETA_ERR_IO, "rename %s -> %s: %s", tmp, path, strerror(errno));
    if (st != ZETA_OK) remove(tmp);
    free(tmp);
    return st;
}

/* ------------------------------------------------------------------ reading (untrusted) */

typedef struct rd {
    FILE *f;
    const char *path;
    int line;
    char buf[8192];
    char *p;
} rd;

static bool rd_line(rd *r) {
    if (!fgets(r->buf, sizeof r->buf, r->f)) return false;
    r->line++;
    size_t n = strlen(r->buf);
    if (n && r->buf[n - 1] == '\n') r->buf[--n] = 0;
    r->p = r->buf;
    return true;
}

static bool rd_word(rd *r, const char *w) {
    while (*r->p == ' ') r->p++;
    size_t n = strlen(w);
    if (strncmp(r->p, w, n) != 0 || (r->p[n] != ' ' && r->p[n] != 0 && w[n - 1] != '=')) return false;
    r->p += n;
    return true;
}

static bool rd_u64(rd *r, uint64_t *out, int base) {
    while (*r->p == ' ') r->p++;
    if (*r->p < '0' || (*r->p > '9' && base == 10)) { if (base != 16 || !strchr("abcdefABCDEF", *r->p) || !*r->p) return false; }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(r->p, &end, base);
    if (errno || end == r->p || (*end != ' ' && *end != 0)) return false;
    *out = v;
    r->p = end;
    return true;
}

static bool rd_u32(rd *r, uint32_t *out) {
    uint64_t v;
    if (!rd_u64(r, &v, 10) || v > 0xffffffffu) return false;
    *out = (uint32_t)v;
    return true;
}

static bool rd_float(rd *r, float *out) {
    while (*r->p == ' ') r->p++;
    char *end;
    errno = 0;
    double v = strtod(r->p, &end);
    if (errno || end == r->p || (*end != ' ' && *end != 0) || !isfinite(v) || fabs(v) > 3e38) return false;
    *out = (float)v;
    r->p = end;
    return true;
}

static bool rd_end(rd *r) {
    while (*r->p == ' ') r->p++;
    return *r->p == 0;
}

zeta_status zs_calib_read(const char *path, const struct zeta_model *m, zs_calib *c, zeta_error *err) {
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "r");
    if (!f) return zeta_fail(err, ZETA_ERR_IO, "%s: %s", path, strerror(errno));
    return zs_calib_read_stream(f, path, m, c, err); /* closes f */
}

zeta_status zs_calib_read_stream(FILE *f, const char *path, const struct zeta_model *m, zs_calib *c, zeta_error *err) {
    memset(c, 0, sizeof *c);
    rd r = {0};
    r.path = path;
    r.f = f;
    zeta_status st = ZETA_OK;
    const char *what = "";
#define BAD(w) do { what = (w); goto bad; } while (0)
    if (!rd_line(&r) || !rd_word(&r, "zeta-sparsity") || !rd_word(&r, "1") || !rd_end(&r)) BAD("expected 'zeta-sparsity 1'");
    uint64_t hash, fb;
    if (!rd_line(&r) || !rd_word(&r, "model") || !rd_word(&r, "n_layer=") || !rd_u32(&r, &c->n_layer) ||
        !rd_word(&r, "n_embd=") || !rd_u32(&r, &c->n_embd) || !rd_word(&r, "n_ff=") || !rd_u32(&r, &c->n_ff) ||
        !rd_word(&r, "n_vocab=") || !rd_u32(&r, &c->n_vocab) || !rd_word(&r, "file_bytes=") || !rd_u64(&r, &fb, 10) ||
        !rd_word(&r, "hash=") || !rd_u64(&r, &hash, 16) || !rd_end(&r))
        BAD("expected 'model n_layer=.. n_embd=.. n_ff=.. n_vocab=.. file_bytes=.. hash=..'");
    c->hash = hash;
    c->file_bytes = fb;
    if (!rd_line(&r) || !rd_word(&r, "calibration") || !rd_word(&r, "n_tokens=") || !rd_u32(&r, &c->n_tokens) ||
        !rd_word(&r, "n_chunks=") || !rd_u32(&r, &c->n_chunks) || !rd_word(&r, "n_ctx=") || !rd_u32(&r, &c->n_ctx) || !rd_end(&r))
        BAD("expected 'calibration n_tokens=.. n_chunks=.. n_ctx=..'");
    if (!rd_line(&r) || !rd_word(&r, "levels") || !rd_u32(&r, &c->n_levels) || c->n_levels < 1 || c->n_levels > ZS_MAX_LEVELS)
        BAD("expected 'levels N ...' with N in 1..16");
    for (uint32_t i = 0; i < c->n_levels; i++)
        if (!rd_float(&r, &c->levels[i]) || !(c->levels[i] > 0.0f && c->levels[i] < 1.0f) || (i && c->levels[i] <= c->levels[i - 1]))
            BAD("levels must be ascending sparsities in (0, 1)");
    if (!rd_end(&r)) BAD("more levels than announced");
    if (!rd_line(&r) || !rd_word(&r, "gate") || !rd_float(&r, &c->gate_entropy) || !rd_float(&r, &c->fallback_entropy) ||
        !rd_end(&r) || c->gate_entropy < 0.0f || c->fallback_entropy < 0.0f)
        BAD("expected 'gate G F' with two entropies >= 0");
    if (!rd_line(&r) || !rd_word(&r, "entropy")) BAD("expected 'entropy' and 21 quantiles");
    for (int i = 0; i < ZS_N_EQ; i++)
        if (!rd_float(&r, &c->entropy_q[i]) || c->entropy_q[i] < 0.0f) BAD("expected 21 entropy quantiles >= 0");
    if (!rd_end(&r)) BAD("more than 21 entropy quantiles");
    if (m) {
        const zeta_hparams *hp = &m->hp;
        if (c->n_layer != hp->n_layer || c->n_embd != hp->n_embd || c->n_ff != hp->n_ff || c->n_vocab != hp->n_vocab) {
            fclose(r.f);
            return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                             "%s: calibrated for a model with n_layer %u, n_embd %u, n_ff %u, n_vocab %u; this model has %u, %u, %u, %u",
                             path, c->n_layer, c->n_embd, c->n_ff, c->n_vocab, hp->n_layer, hp->n_embd, hp->n_ff, hp->n_vocab);
        }
        uint64_t h = zs_model_hash(m);
        if (h != c->hash) {
            fclose(r.f);
            return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                             "%s: calibrated for another model (tensor data hash %016llx, this model's is %016llx)", path,
                             (unsigned long long)c->hash, (unsigned long long)h);
        }
    }
    if (c->n_layer == 0 || c->n_layer > ZETA_MAX_LAYERS) BAD("n_layer out of range");
    c->thr = zeta_malloc_array((size_t)c->n_layer * ZS_N_KIND * c->n_levels, sizeof(float));
    if (!c->thr) { fclose(r.f); return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory"); }
    for (uint32_t il = 0; il < c->n_layer; il++)
        for (int k = 0; k < ZS_N_KIND; k++) {
            uint32_t l;
            if (!rd_line(&r) || !rd_word(&r, "L") || !rd_u32(&r, &l) || l != il || !rd_word(&r, zs_kind_names[k]))
                BAD("expected the next 'L layer input ...' line (layers in order; attn_in attn_out ffn_in ffn_mid)");
            float *t = c->thr + ((size_t)il * ZS_N_KIND + (size_t)k) * c->n_levels;
            for (uint32_t i = 0; i < c->n_levels; i++)
                if (!rd_float(&r, &t[i]) || t[i] < 0.0f || (i && t[i] < t[i - 1]))
                    BAD("thresholds must be >= 0 and non-decreasing with the level");
            if (!rd_end(&r)) BAD("more thresholds than levels");
        }
    if (!rd_line(&r) || !rd_word(&r, "end") || !rd_end(&r)) BAD("expected 'end'");
    fclose(r.f);
    return zeta_ok(err);
bad:
    st = zeta_fail(err, ZETA_ERR_FORMAT, "%s:%d: not a ZetaLm sparsity file: %s", path, r.line, what);
    fclose(r.f);
    zs_calib_free(c);
    return st;
#undef BAD
}
