/* session_io.c — zeta_session_save / zeta_session_load: a session's tokens, last logits, sampler
 * RNG and the KV cache of its evaluated positions in one file.
 *
 * File layout (native byte order, checked by the byte-order mark):
 *   header   struct state_header below (magic "ZETASES\0", version, byte-order mark, model and
 *            KV-cache facts that must match, n_tokens, has_logits); version 2 added kv_rot in what
 *            version 1 wrote as a zero pad, so version 1 files read as caches stored unrotated
 *   tokens   n_tokens int32
 *   logits   n_vocab float32, only when has_logits
 *   rng      4 uint64
 *   sparse   (version 3) uint64: the first position whose KV entries a sparse pass wrote, UINT64_MAX
 *            for none (session.h sparse_from; versions 1 and 2 read as all dense)
 *   kv       n_tokens * n_layer * kv_pos_bytes bytes (backend layout: per layer, K then V)
 * The reader checks the header against the session and the file size against the header before it
 * changes anything. */
#define _FILE_OFFSET_BITS 64
#include "session.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAGIC "ZETASES"
#define STATE_VERSION 3u /* 3: the first sparse-written position after the RNG state */
#define STATE_BOM 0x01020304u

typedef struct state_header {
    char magic[8];
    uint32_t version, bom;
    uint32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim_k, head_dim_v;
    uint32_t type_k, type_v, has_logits;
    float rope_freq_scale, rope_ext_factor, rope_mscale; /* the keys were rotated with these */
    uint32_t kv_rot;                   /* bit 0: K rows Hadamard-rotated, bit 1: V rows (version 1: 0) */
    uint64_t n_params, weight_bytes;   /* the model (a cheap fingerprint) */
    uint64_t kv_pos_bytes;             /* one position, all layers, K and V */
    uint64_t n_tokens;
} state_header;

/* the file format: kv_rot is where version 1 wrote a zero pad */
_Static_assert(offsetof(state_header, version) == 8 && offsetof(state_header, kv_rot) == 68, "session file header layout");

static void fill_header(const zeta_session *s, state_header *h) {
    const struct zeta_model *m = s->model;
    memset(h, 0, sizeof *h);
    memcpy(h->magic, STATE_MAGIC, 8);
    h->version = STATE_VERSION;
    h->bom = STATE_BOM;
    h->n_vocab = m->hp.n_vocab;
    h->n_embd = m->hp.n_embd;
    h->n_layer = m->hp.n_layer;
    h->n_head = m->hp.n_head;
    h->n_head_kv = m->hp.n_head_kv;
    h->head_dim_k = m->hp.head_dim_k;
    h->head_dim_v = m->hp.head_dim_v;
    h->type_k = (uint32_t)s->type_k;
    h->type_v = (uint32_t)s->type_v;
    h->has_logits = s->has_logits;
    h->rope_freq_scale = s->rope.freq_scale;
    h->rope_ext_factor = s->rope.ext_factor;
    h->rope_mscale = s->rope.mscale;
    h->kv_rot = s->kv_rot;
    h->n_params = m->n_params;
    h->weight_bytes = m->weight_bytes;
    h->kv_pos_bytes = (uint64_t)s->be.ops->kv_pos_bytes(s->be.ctx) * m->hp.n_layer;
    h->n_tokens = s->n_tokens;
}

static uint64_t payload_bytes(const state_header *h) {
    return h->n_tokens * sizeof(int32_t) + (h->has_logits ? (uint64_t)h->n_vocab * sizeof(float) : 0) + sizeof(zeta_rng) +
           (h->version >= 3u ? sizeof(uint64_t) : 0) + h->n_tokens * h->kv_pos_bytes;
}

zeta_status zeta_session_save(const zeta_session *s, const char *path, zeta_error *err) {
    if (!session_ok(s)) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_save: session is not a live zeta_session");
    if (!path || !*path) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_save: path is empty");
    state_header h;
    fill_header(s, &h);
    const size_t kv_bytes = (size_t)(h.n_tokens * h.kv_pos_bytes);
    void *kv = kv_bytes ? malloc(kv_bytes) : NULL;
    if (kv_bytes && !kv)
        return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "zeta_session_save: out of memory copying %zu bytes of KV cache", kv_bytes);
    if (kv) s->be.ops->kv_read(s->be.ctx, 0, (uint32_t)s->n_tokens, kv);
    const size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) { free(kv); return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory"); }
    snprintf(tmp, plen + 16, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        zeta_status st = zeta_fail(err, ZETA_ERR_IO, "zeta_session_save: cannot create '%s': %s", tmp, strerror(errno));
        free(tmp);
        free(kv);
        return st;
    }
    bool ok = fwrite(&h, sizeof h, 1, f) == 1;
    if (ok && h.n_tokens) ok = fwrite(s->tokens, sizeof(zeta_token), (size_t)h.n_tokens, f) == h.n_tokens;
    if (ok && h.has_logits) ok = fwrite(s->logits, sizeof(float), h.n_vocab, f) == h.n_vocab;
    if (ok) ok = fwrite(&s->rng, sizeof s->rng, 1, f) == 1;
    const uint64_t sparse_from = s->sparse_from == SIZE_MAX ? UINT64_MAX : (uint64_t)s->sparse_from;
    if (ok) ok = fwrite(&sparse_from, sizeof sparse_from, 1, f) == 1;
    if (ok && kv_bytes) ok = fwrite(kv, 1, kv_bytes, f) == kv_bytes;
    const int saved_errno = errno;
    if (fclose(f) != 0) ok = false;
    free(kv);
    if (!ok || rename(tmp, path) != 0) {
        const int e = ok ? errno : saved_errno;
        remove(tmp);
        zeta_status st = zeta_fail(err, ZETA_ERR_IO, "zeta_session_save: writing '%s' failed: %s", path, strerror(e));
        free(tmp);
        return st;
    }
    free(tmp);
    return zeta_ok(err);
}

zeta_status zeta_session_load(zeta_session *s, const char *path, zeta_error *err) {
    if (!session_ok(s)) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_load: session is not a live zeta_session");
    if (!path || !*path) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_load: path is empty");
    FILE *f = fopen(path, "rb");
    if (!f) return zeta_fail(err, ZETA_ERR_IO, "zeta_session_load: cannot open '%s': %s", path, strerror(errno));
    state_header h, want;
    zeta_status st = ZETA_OK;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || fread(&h, sizeof h, 1, f) != 1) {
        st = zeta_fail(err, ZETA_ERR_FORMAT, "zeta_session_load: '%s' is too short for a session file", path);
        goto out;
    }
    fill_header(s, &want);
    if (memcmp(h.magic, STATE_MAGIC, 8) != 0) {
        st = zeta_fail(err, ZETA_ERR_FORMAT, "zeta_session_load: '%s' is not a zeta session file", path);
        goto out;
    }
    if (h.bom != STATE_BOM) {
        st = zeta_fail(err, ZETA_ERR_FORMAT, "zeta_session_load: '%s' was written on a machine of the other byte order", path);
        goto out;
    }
    if (h.version < 1u || h.version > STATE_VERSION) {
        st = zeta_fail(err, ZETA_ERR_FORMAT, "zeta_session_load: '%s' has version %u; this library reads versions 1 to %u", path, h.version,
                       STATE_VERSION);
        goto out;
    }
    if (h.n_vocab != want.n_vocab || h.n_embd != want.n_embd || h.n_layer != want.n_layer || h.n_head != want.n_head ||
        h.n_head_kv != want.n_head_kv || h.head_dim_k != want.head_dim_k || h.head_dim_v != want.head_dim_v ||
        h.n_params != want.n_params || h.weight_bytes != want.weight_bytes) {
        st = zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_load: '%s' was saved with another model", path);
        goto out;
    }
    if (h.type_k != want.type_k || h.type_v != want.type_v || h.kv_pos_bytes != want.kv_pos_bytes) {
        const char *a = zeta_type_name((zeta_type)h.type_k), *b = zeta_type_name((zeta_type)h.type_v);
        st = zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_session_load: '%s' has a KV cache of K %s / V %s; this session's is %s / %s",
                       path, a ? a : "?", b ? b : "?", zeta_type_name(s->type_k), zeta_type_name(s->type_v));
        goto out;
    }
    if (h.kv_rot != want.kv_rot) {
        st = zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                       "zeta_session_load: '%s' stores its KV cache %s; this session stores it %s (kv_no_rotate differs)", path,
                       h.kv_rot ? "Hadamard-rotated" : "unrotated", want.kv_rot ? "rotated" : "unrotated");
        goto out;
    }
    if (h.rope_freq_scale != want.rope_freq_scale || h.rope_ext_factor != want.rope_ext_factor || h.rope_mscale != want.rope_mscale) {
        st = zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                       "zeta_session_load: '%s' was saved with RoPE scaling (freq scale %g%s); this session uses freq scale %g%s", path,
                       (double)h.rope_freq_scale, h.rope_ext_factor != 0.0f ? ", YaRN" : "", (double)want.rope_freq_scale,
                       want.rope_ext_factor != 0.0f ? ", YaRN" : "");
        goto out;
    }
    if (h.has_logits > 1 || h.n_tokens > s->n_ctx) {
        st = zeta_fail(err, h.n_tokens > s->n_ctx ? ZETA_ERR_CONTEXT_FULL : ZETA_ERR_FORMAT,
                       "zeta_session_load: '%s' holds %llu tokens; this session's context holds %u", path,
                       (unsigned long long)h.n_tokens, s->n_ctx);
        goto out;
    }
    if ((uint64_t)sb.st_size != sizeof h + payload_bytes(&h)) {
        st = zeta_fail(err, ZETA_ERR_FORMAT, "zeta_session_load: '%s' has %lld bytes; its header says %llu (truncated or damaged)", path,
                       (long long)sb.st_size, (unsigned long long)(sizeof h + payload_bytes(&h)));
        goto out;
    }
    /* tokens and logits first into scratch, checked; then the KV cache in place */
    zeta_token *toks = h.n_tokens ? malloc((size_t)h.n_tokens * sizeof *toks) : NULL;
    void *kv = h.n_tokens ? malloc((size_t)(h.n_tokens * h.kv_pos_bytes)) : NULL;
    if (h.n_tokens && (!toks || !kv)) {
        free(toks);
        free(kv);
        st = zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "zeta_session_load: out of memory reading '%s'", path);
        goto out;
    }
    zeta_rng rng;
    bool ok = !h.n_tokens || fread(toks, sizeof *toks, (size_t)h.n_tokens, f) == h.n_tokens;
    for (uint64_t i = 0; ok && i < h.n_tokens; i++)
        if (toks[i] < 0 || (uint32_t)toks[i] >= h.n_vocab) {
            const int bad = (int)toks[i];
            free(toks);
            free(kv);
            st = zeta_fail(err, ZETA_ERR_FORMAT, "zeta_session_load: '%s': token %llu is %d, outside the vocabulary", path,
                           (unsigned long long)i, bad);
            goto out;
        }
    if (ok && h.has_logits) ok = fread(s->logits_tmp, sizeof(float), h.n_vocab, f) == h.n_vocab;
    if (ok) ok = fread(&rng, sizeof rng, 1, f) == 1;
    uint64_t sparse_from = UINT64_MAX; /* versions 1 and 2 did not record it: taken as dense */
    if (ok && h.version >= 3u) ok = fread(&sparse_from, sizeof sparse_from, 1, f) == 1;
    if (ok && h.n_tokens) ok = fread(kv, 1, (size_t)(h.n_tokens * h.kv_pos_bytes), f) == h.n_tokens * h.kv_pos_bytes;
    if (!ok) {
        free(toks);
        free(kv);
        st = zeta_fail(err, ZETA_ERR_IO, "zeta_session_load: reading '%s' failed; the session is unchanged", path);
        goto out;
    }
    if (h.n_tokens) s->be.ops->kv_write(s->be.ctx, 0, (uint32_t)h.n_tokens, kv);
    if (h.n_tokens) memcpy(s->tokens, toks, (size_t)h.n_tokens * sizeof *toks);
    if (h.has_logits) memcpy(s->logits, s->logits_tmp, (size_t)h.n_vocab * sizeof(float));
    s->n_tokens = (size_t)h.n_tokens;
    s->sparse_from = sparse_from < h.n_tokens ? (size_t)sparse_from : SIZE_MAX;
    s->has_logits = h.has_logits != 0;
    s->entropy_ok = false;
    s->rng = rng;
    free(toks);
    free(kv);
    st = zeta_ok(err);
out:
    fclose(f);
    return st;
}
