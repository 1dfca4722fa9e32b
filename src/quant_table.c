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

static const struct {
    to_float_fn to;
    from_float_fn from;
} k_conv[ZETA_TYPE_COUNT] = {
    [ZETA_TYPE_F32] = {f32_to_float, f32_from_float},
    [ZETA_TYPE_F16] = {f16_to_float, f16_from_float},
    [ZETA_TYPE_BF16] = {bf16_to_float, bf16_from_float},
    [ZETA_TYPE_Q8_0] = {q8_0_to, q8_0_from},
    [ZETA_TYPE_Q4_0] = {q4_0_to, q4_0_from},
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
