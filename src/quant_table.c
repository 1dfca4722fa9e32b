/* quant_table.c — per-type dispatch of the reference conversions: row dequantizers (to f32) and
 * the reference quantizers (from f32), as the type families in quant*.c provide them. */
#include "quant.h"

typedef void (*to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*from_float_fn)(const float *src, void *dst, int64_t n);

static void f32_to_float(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }
static void f16_to_float(const void *src, float *dst, int64_t n) {
    const zeta_f16 *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = zeta_f16_to_f32(h[i]);
}
static void bf16_to_float(const void *src, float *dst, int64_t n) {
    const zeta_bf16 *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = zeta_bf16_to_f32(h[i]);
}
static void f32_from_float(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }
static void f16_from_float(const float *src, void *dst, int64_t n) {
    zeta_f16 *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = zeta_f32_to_f16(src[i]);
}
static void bf16_from_float(const float *src, void *dst, int64_t n) {
    zeta_bf16 *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = zeta_f32_to_bf16(src[i]);
}

/* typed adapters: the family functions take block pointers */
#define ADAPT(t)                                                                                    \
    static void t##_to(const void *s, float *d, int64_t n) { dequantize_row_##t(s, d, n); }         \
    static void t##_from(const float *s, void *d, int64_t n) { quantize_row_##t##_ref(s, d, n); }
ADAPT(q8_0)
ADAPT(q4_0)
ADAPT(q4_1)
ADAPT(q5_0)
ADAPT(q5_1)
ADAPT(iq4_nl)
ADAPT(q2_K)
ADAPT(q3_K)
ADAPT(q4_K)
ADAPT(q5_K)
ADAPT(q6_K)
ADAPT(q8_K)
ADAPT(iq4_xs)
static void q8_1_from(const float *s, void *d, int64_t n) { quantize_row_q8_1_ref(s, d, n); }

static const struct {
    to_float_fn to;
    from_float_fn from;
} k_conv[ZETA_TYPE_COUNT] = {
    [ZETA_TYPE_F32] = {f32_to_float, f32_from_float},
    [ZETA_TYPE_F16] = {f16_to_float, f16_from_float},
    [ZETA_TYPE_BF16] = {bf16_to_float, bf16_from_float},
    [ZETA_TYPE_Q8_0] = {q8_0_to, q8_0_from},
    [ZETA_TYPE_Q4_0] = {q4_0_to, q4_0_from},
    [ZETA_TYPE_Q4_1] = {q4_1_to, q4_1_from},
    [ZETA_TYPE_Q5_0] = {q5_0_to, q5_0_from},
    [ZETA_TYPE_Q5_1] = {q5_1_to, q5_1_from},
    [ZETA_TYPE_Q8_1] = {NULL, q8_1_from},
    [ZETA_TYPE_IQ4_NL] = {iq4_nl_to, iq4_nl_from},
    [ZETA_TYPE_Q2_K] = {q2_K_to, q2_K_from},
    [ZETA_TYPE_Q3_K] = {q3_K_to, q3_K_from},
    [ZETA_TYPE_Q4_K] = {q4_K_to, q4_K_from},
    [ZETA_TYPE_Q5_K] = {q5_K_to, q5_K_from},
    [ZETA_TYPE_Q6_K] = {q6_K_to, q6_K_from},
    [ZETA_TYPE_Q8_K] = {q8_K_to, q8_K_from},
    [ZETA_TYPE_IQ4_XS] = {iq4_xs_to, iq4_xs_from},
};

void zeta_dequantize_row(zeta_type type, const void *src, float *dst, int64_t n) {
    if ((unsigned)type < ZETA_TYPE_COUNT && k_conv[type].to) k_conv[type].to(src, dst, n);
}

bool zeta_quantize_row_ref(zeta_type type, const float *src, void *dst, int64_t n) {
    if ((unsigned)type >= ZETA_TYPE_COUNT || !k_conv[type].from) return false;
    k_conv[type].from(src, dst, n);
    return true;
}

bool zeta_type_can_quantize(zeta_type type) { return (unsigned)type < ZETA_TYPE_COUNT && k_conv[type].from; }
