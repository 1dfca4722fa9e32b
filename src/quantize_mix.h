/* quantize_mix.h — the per-tensor type plan of `zeta quantize`: the file types llama-quantize
 * offers (name, general.file_type id, base tensor type), the tensor order of its output, which
 * tensors it quantizes at all, the per-tensor mixes of llama.cpp's llama_tensor_get_type (output /
 * token embedding, attn_v / ffn_down layer rules, GQA rules), --tensor-type overrides and the
 * fallbacks for row lengths that are not a multiple of the type's block size. No tensor data is
 * touched here; quantize.c executes the plan. */
#ifndef ZETA_QUANTIZE_MIX_H
#define ZETA_QUANTIZE_MIX_H

#include "gguf.h"

typedef struct zq_ftype {
    const char *name;          /* "Q4_K_M" */
    uint32_t ftype;            /* llama.cpp's LLAMA_FTYPE_* value, written as general.file_type */
    zeta_type base;            /* the default tensor type of the mix */
} zq_ftype;

/* Case-insensitive lookup of a llama-quantize type name; NULL if unknown. */
const zq_ftype *zq_ftype_find(const char *name);
/* The valid names, comma-separated ("Q4_0, Q4_1, ..."). Static storage. */
const char *zq_ftype_names(void);

typedef struct zq_item {
    uint32_t src;              /* index of the tensor in the input file */
    uint32_t n_dims;           /* as written: trailing dimensions of size 1 dropped (ggml_n_dims) */
    zeta_type from, to;
    bool fallback;             /* the chosen type did not fit the row length */
    char note[200];            /* "" or a sentence: fallback, manual override */
} zq_item;

typedef struct zq_plan {
    zq_item *items;            /* in output order (llama.cpp's: by layer, then by name) */
    uint32_t n;
    uint32_t n_fallback;
} zq_plan;

/* Computes the plan for quantizing `g` to `ft`. overrides: n strings "REGEX=TYPE" (POSIX extended
 * regular expressions searched in the tensor name; the first match wins; like llama-quantize
 * --tensor-type, they apply only when the base type is quantized). */
zeta_status zq_plan_make(const gguf_file *g, const zq_ftype *ft, bool pure, const char *const *overrides,
                         size_t n_overrides, zq_plan *out, zeta_error *err);
void zq_plan_free(zq_plan *p);

#endif
