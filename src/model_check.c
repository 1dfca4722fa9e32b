/* model_check.c — the opt-in scan of every tensor's values (zeta_model_params.check_tensors,
 * `zeta info --check`): each row is dequantized with the type's reference dequantizer and every
 * value must be finite, so a NaN or infinite weight or block scale is found at load instead of
 * turning a generation into garbage. It reads the whole file once. */
#include "model.h"
#include "quant.h"

#include <math.h>
#include <stdlib.h>

zeta_status model_check_tensors(const struct zeta_model *m, zeta_error *err) {
    const gguf_file *g = m->g;
    float *row = NULL;
    uint64_t cap = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        const zeta_type type = (zeta_type)t->type;
        if (type == ZETA_TYPE_I8 || type == ZETA_TYPE_I16 || type == ZETA_TYPE_I32 || type == ZETA_TYPE_I64) continue;
        if (!zeta_type_supported(type)) continue; /* binding refuses the types that are used */
        const uint64_t ne0 = t->ne[0], rows = t->n_elements / ne0, row_bytes = t->n_bytes / rows;
        if (ne0 > cap) {
            float *r = realloc(row, ne0 * sizeof *r);
            if (!r) {
                free(row);
                return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory checking tensor '%s'", t->name);
            }
            row = r;
            cap = ne0;
        }
        for (uint64_t r = 0; r < rows; r++) {
            zeta_dequantize_row(type, (const uint8_t *)t->data + r * row_bytes, row, (int64_t)ne0);
            for (uint64_t c = 0; c < ne0; c++)
                if (!isfinite(row[c])) {
                    const float v = row[c];
                    free(row);
                    return zeta_fail(err, ZETA_ERR_FORMAT,
                                     "%s: tensor '%s' (%s) has a%s value at row %llu, column %llu (a corrupt weight or "
                                     "block scale)",
                                     g->path, t->name, zeta_type_name(type), isnan(v) ? " NaN" : "n infinite",
                                     (unsigned long long)r, (unsigned long long)c);
                }
        }
    }
    free(row);
    return ZETA_OK;
}
