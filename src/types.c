/* types.c — the GGUF type table: name, block size and bytes per block of every ggml type id. */
#include "quant.h"

static const zeta_type_traits k_types[ZETA_TYPE_COUNT] = {
    [ZETA_TYPE_F32] = {"f32", 1, 4, false},
    [ZETA_TYPE_F16] = {"f16", 1, 2, false},
    [ZETA_TYPE_Q4_0] = {"q4_0", 32, 18, true},
    [ZETA_TYPE_Q4_1] = {"q4_1", 32, 20, true},
    [ZETA_TYPE_Q5_0] = {"q5_0", 32, 22, true},
    [ZETA_TYPE_Q5_1] = {"q5_1", 32, 24, true},
    [ZETA_TYPE_Q8_0] = {"q8_0", 32, 34, true},
    [ZETA_TYPE_Q8_1] = {"q8_1", 32, 36, true},
    [ZETA_TYPE_Q2_K] = {"q2_K", 256, 84, true},
    [ZETA_TYPE_Q3_K] = {"q3_K", 256, 110, true},
    [ZETA_TYPE_Q4_K] = {"q4_K", 256, 144, true},
    [ZETA_TYPE_Q5_K] = {"q5_K", 256, 176, true},
    [ZETA_TYPE_Q6_K] = {"q6_K", 256, 210, true},
    [ZETA_TYPE_Q8_K] = {"q8_K", 256, 292, true},
    [ZETA_TYPE_IQ2_XXS] = {"iq2_xxs", 256, 66, true},
    [ZETA_TYPE_IQ2_XS] = {"iq2_xs", 256, 74, true},
    [ZETA_TYPE_IQ3_XXS] = {"iq3_xxs", 256, 98, true},
    [ZETA_TYPE_IQ1_S] = {"iq1_s", 256, 50, true},
    [ZETA_TYPE_IQ4_NL] = {"iq4_nl", 32, 18, true},
    [ZETA_TYPE_IQ3_S] = {"iq3_s", 256, 110, true},
    [ZETA_TYPE_IQ2_S] = {"iq2_s", 256, 82, true},
    [ZETA_TYPE_IQ4_XS] = {"iq4_xs", 256, 136, true},
    [ZETA_TYPE_I8] = {"i8", 1, 1, false},
    [ZETA_TYPE_I16] = {"i16", 1, 2, false},
    [ZETA_TYPE_I32] = {"i32", 1, 4, false},
    [ZETA_TYPE_I64] = {"i64", 1, 8, false},
    [ZETA_TYPE_F64] = {"f64", 1, 8, false},
    [ZETA_TYPE_IQ1_M] = {"iq1_m", 256, 56, true},
    [ZETA_TYPE_BF16] = {"bf16", 1, 2, false},
    [ZETA_TYPE_TQ1_0] = {"tq1_0", 256, 54, true},
    [ZETA_TYPE_TQ2_0] = {"tq2_0", 256, 66, true},
    [ZETA_TYPE_MXFP4] = {"mxfp4", 32, 17, true},
};

const zeta_type_traits *zeta_type_get(uint32_t type) {
    if (type >= ZETA_TYPE_COUNT || k_types[type].name == NULL) return NULL;
    return &k_types[type];
}

uint64_t zeta_row_bytes(zeta_type type, uint64_t n) {
    const zeta_type_traits *t = zeta_type_get((uint32_t)type);
    if (!t) return 0;
    return n / t->block_size * t->type_size;
}

const char *zeta_type_name(zeta_type type) {
    const zeta_type_traits *t = zeta_type_get((uint32_t)type);
    return t ? t->name : NULL;
}

bool zeta_type_supported(zeta_type type) {
    switch (type) {
    case ZETA_TYPE_F32: case ZETA_TYPE_F16: case ZETA_TYPE_BF16: case ZETA_TYPE_Q8_0: case ZETA_TYPE_Q4_0:
    case ZETA_TYPE_Q4_1: case ZETA_TYPE_Q5_0: case ZETA_TYPE_Q5_1: case ZETA_TYPE_IQ4_NL:
    case ZETA_TYPE_Q2_K: case ZETA_TYPE_Q3_K: case ZETA_TYPE_Q4_K: case ZETA_TYPE_Q5_K: case ZETA_TYPE_Q6_K:
    case ZETA_TYPE_IQ4_XS:
        return true;
    default:
        return false;
    }
}
