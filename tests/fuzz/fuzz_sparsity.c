/* fuzz_sparsity.c — any bytes as a variational-gating sparsity file (the sidecar `zeta calibrate`
 * writes, docs/GATING.md), read without a model (the shape and fingerprint checks against a model
 * come after parsing and are covered by tests/test_sparse.c). Properties: a refusal is
 * ZETA_ERR_FORMAT with a one-line message naming the file; an accepted file has 1..16 ascending
 * levels in (0, 1), 1..ZETA_MAX_LAYERS layers, thresholds >= 0 and non-decreasing with the level,
 * zs_calib_level finds each level, and writing it back and reading that gives the same values. */
#define _GNU_SOURCE /* fmemopen */
#include "fuzz.h"
#include "sparse.h"
#include "model.h"

#include <string.h>
#include <unistd.h>

static bool same_calib(const zs_calib *a, const zs_calib *b) {
    if (a->hash != b->hash || a->file_bytes != b->file_bytes || a->n_layer != b->n_layer || a->n_embd != b->n_embd ||
        a->n_ff != b->n_ff || a->n_vocab != b->n_vocab || a->n_tokens != b->n_tokens || a->n_chunks != b->n_chunks ||
        a->n_ctx != b->n_ctx || a->n_levels != b->n_levels || a->gate_entropy != b->gate_entropy ||
        a->fallback_entropy != b->fallback_entropy)
        return false;
    if (memcmp(a->levels, b->levels, sizeof(float) * a->n_levels) || memcmp(a->entropy_q, b->entropy_q, sizeof a->entropy_q))
        return false;
    return !memcmp(a->thr, b->thr, sizeof(float) * (size_t)a->n_layer * ZS_N_KIND * a->n_levels);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0; /* fmemopen refuses an empty buffer */
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f) return 0;
    zs_calib c;
    zeta_error err;
    const zeta_status st = zs_calib_read_stream(f, "fuzz.sparsity", NULL, &c, &err);
    if (st != ZETA_OK) {
        FUZZ_CHECK(st == ZETA_ERR_FORMAT || st == ZETA_ERR_OUT_OF_MEMORY, "status %d: %s", (int)st, err.message);
        FUZZ_CHECK(strstr(err.message, "fuzz.sparsity") && !strchr(err.message, '\n'), "message '%s'", err.message);
        return 0;
    }
    FUZZ_CHECK(c.n_levels >= 1 && c.n_levels <= ZS_MAX_LEVELS, "n_levels %u", c.n_levels);
    FUZZ_CHECK(c.n_layer >= 1 && c.n_layer <= ZETA_MAX_LAYERS && c.thr, "n_layer %u", c.n_layer);
    for (uint32_t i = 0; i < c.n_levels; i++) {
        FUZZ_CHECK(c.levels[i] > 0.0f && c.levels[i] < 1.0f && (i == 0 || c.levels[i] > c.levels[i - 1]), "level %u", i);
        FUZZ_CHECK(zs_calib_level(&c, c.levels[i]) >= 0, "level %g not found", (double)c.levels[i]);
    }
    const int l0 = zs_calib_level(&c, 0.0f);
    FUZZ_CHECK(l0 >= 0 && l0 < (int)c.n_levels, "default level %d", l0);
    for (size_t r = 0; r < (size_t)c.n_layer * ZS_N_KIND; r++)
        for (uint32_t i = 0; i < c.n_levels; i++) {
            const float t = c.thr[r * c.n_levels + i];
            FUZZ_CHECK(t >= 0.0f && (i == 0 || t >= c.thr[r * c.n_levels + i - 1]), "threshold row %zu level %u", r, i);
        }
    char path[64];
    snprintf(path, sizeof path, "/tmp/zeta_fuzz_sparsity_%ld", (long)getpid());
    FUZZ_CHECK(zs_calib_write(path, &c, &err) == ZETA_OK, "write back: %s", err.message);
    zs_calib c2;
    FUZZ_CHECK(zs_calib_read(path, NULL, &c2, &err) == ZETA_OK, "read back: %s", err.message);
    unlink(path);
    FUZZ_CHECK(same_calib(&c, &c2), "the written file reads back different");
    zs_calib_free(&c2);
    zs_calib_free(&c);
    return 0;
}
