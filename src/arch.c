/* arch.c — the architecture table: which GGUF architectures ZetaLm runs and how they differ
 * (rope layout, q/k/v biases, per-head q/k norm). Keys and tensor names are shared (model.c). */
#include "model.h"
#include <string.h>

static const zeta_arch k_archs[] = {
    {"llama", ZETA_ROPE_NORM, false, false},
    {"qwen2", ZETA_ROPE_NEOX, true, false},
    {"qwen3", ZETA_ROPE_NEOX, false, true},
};

const zeta_arch *arch_find(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof k_archs / sizeof k_archs[0]; i++)
        if (strlen(k_archs[i].name) == len && memcmp(k_archs[i].name, name, len) == 0) return &k_archs[i];
    return NULL;
}

const char *arch_supported_list(void) { return "llama, qwen2, qwen3"; }
