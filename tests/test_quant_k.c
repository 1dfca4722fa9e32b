/* test_quant_k.c — tests of the K-quant family (quant_k.c, kernels_*_k.c): Q4_K / Q5_K / Q6_K
 * quantization byte-exact with llama-quantize on the zoo model and the 30M model's Q4_K_M mix
 * (sha256 from the shared quant-mix TSV), dequantize(quantize(x)) error bounds, every SIMD dot this
 * CPU runs against the scalar spec (NaN-poisoned outputs, error relative to sum |w*x|), exact
 * integer dots, and the Q8_K activation quantizer byte-identical across ISAs. */
#include "test.h"
#include "cpu/kernels.h"
#include "cpu/kernels_k.h"
#include "gguf.h"
#include "quant.h"

#include <math.h>
#include <stdint.h>

/* ---- helpers --------------------------------------------------------------------------------- */

static uint64_t g_rng = 0x243f6a8885a308d3ull;
static uint32_t rnd_u32(void) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float rnd_unit(void) { return (float)(rnd_u32() & 0xffffff) / 16777216.0f * 2.0f - 1.0f; } /* [-1, 1) */
static float rnd_gauss(void) { /* sum of uniforms: roughly normal, unit variance */
    float s = 0;
    for (int i = 0; i < 6; i++) s += rnd_unit();
    return s * 0.7071f;
}
static float f32_nan(void) { return zeta_bits_to_f32(0x7fc00000u); }

/* Opens <name> from tests/data/models or ../shared/goldens/models; NULL if absent. */
static gguf_file *open_model(const char *name) {
    static const char *dirs[] = {"tests/data/models", "../shared/goldens/models", "../shared/models"};
    for (int i = 0; i < 3; i++) {
        char path[256];
        gguf_file *g = NULL;
        snprintf(path, sizeof path, "%s/%s", dirs[i], name);
        if (gguf_open(path, true, &g, NULL) == ZETA_OK) return g;
    }
    return NULL;
}

static void quantize_ref(zeta_type t, const float *x, void *y, int64_t n) {
    switch (t) {
    case ZETA_TYPE_Q4_K: quantize_row_q4_K_ref(x, y, n); break;
    case ZETA_TYPE_Q5_K: quantize_row_q5_K_ref(x, y, n); break;
    case ZETA_TYPE_Q6_K: quantize_row_q6_K_ref(x, y, n); break;
    case ZETA_TYPE_Q8_K: quantize_row_q8_K_ref(x, y, n); break;
    default: break;
    }
}

static void dequantize(zeta_type t, const void *x, float *y, int64_t n) {
    switch (t) {
    case ZETA_TYPE_Q4_K: dequantize_row_q4_K(x, y, n); break;
    case ZETA_TYPE_Q5_K: dequantize_row_q5_K(x, y, n); break;
    case ZETA_TYPE_Q6_K: dequantize_row_q6_K(x, y, n); break;
    case ZETA_TYPE_Q8_K: dequantize_row_q8_K(x, y, n); break;
    default: break;
    }
}

static size_t row_bytes(zeta_type t, int64_t n) { return (size_t)zeta_row_bytes(t, (uint64_t)n); }

/* ---- sha256 (FIPS 180-4), for the quant-mix TSV ---------------------------------------------- */

typedef struct sha256 { uint32_t h[8]; uint8_t buf[64]; uint64_t len; size_t nbuf; } sha256;

static uint32_t ror32(uint32_t x, int r) { return (x >> r) | (x << (32 - r)); }

static void sha256_block(sha256 *c, const uint8_t *p) {
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    };
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        const uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        const uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3], e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
    for (int i = 0; i < 64; i++) {
        const uint32_t t1 = h + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
        const uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
        h = g; g = f; f = e; e = d + t1; d = cc; cc = b; b = a; a = t1 + t2;
    }
    c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d; c->h[4] += e; c->h[5] += f; c->h[6] += g; c->h[7] += h;
}

static void sha256_init(sha256 *c) {
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, h0, sizeof h0);
    c->len = 0;
    c->nbuf = 0;
}

static void sha256_update(sha256 *c, const void *data, size_t n) {
    const uint8_t *p = data;
    c->len += n;
    while (n > 0) {
        size_t take = 64 - c->nbuf < n ? 64 - c->nbuf : n;
        memcpy(c->buf + c->nbuf, p, take);
        c->nbuf += take; p += take; n -= take;
        if (c->nbuf == 64) { sha256_block(c, c->buf); c->nbuf = 0; }
    }
}

static void sha256_hex(sha256 *c, char out[65]) {
    const uint64_t bits = c->len * 8;
    uint8_t pad[72] = {0x80};
    const size_t npad = (c->nbuf < 56 ? 56 : 120) - c->nbuf;
    for (int i = 0; i < 8; i++) pad[npad + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(c, pad, npad + 8);
    for (int i = 0; i < 8; i++) snprintf(out + 8 * i, 9, "%08x", c->h[i]);
}

static void test_sha256(void) {
    static const struct { const char *msg; const char *hex; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        sha256 c;
        char hex[65];
        sha256_init(&c);
        sha256_update(&c, v[i].msg, strlen(v[i].msg));
        sha256_hex(&c, hex);
        T_CHECKF(strcmp(hex, v[i].hex) == 0, "sha256(\"%s\") = %s", v[i].msg, hex);
    }
}

/* ---- byte-exact quantization against llama-quantize ------------------------------------------ */

/* Quantizes every tensor that llama-quantize (--pure) made `qtype` in `qfile` from its F32 original
 * in zoo-F32.gguf and compares the bytes; returns the number of identical tensors, -1 if a file is
 * missing. */
static int check_zoo(const char *qfile, zeta_type qtype) {
    gguf_file *gf = open_model("zoo-F32.gguf"), *gq = open_model(qfile);
    if (!gf || !gq) {
        gguf_close(gf);
        gguf_close(gq);
        return -1;
    }
    int same = 0, total = 0;
    uint64_t blocks = 0, bad_blocks = 0;
    const size_t bsz = zeta_type_get(qtype)->type_size;
    for (uint64_t t = 0; t < gq->n_tensors; t++) {
        const gguf_tensor *q = &gq->tensors[t];
        if (q->type != (uint32_t)qtype) continue;
        total++;
        const gguf_tensor *f = gguf_find_tensor(gf, q->name);
        T_CHECKF(f && f->type == ZETA_TYPE_F32 && f->n_elements == q->n_elements, "%s: no F32 original", q->name);
        if (!f || f->type != ZETA_TYPE_F32 || f->n_elements != q->n_elements) continue;
        float *x = malloc(f->n_elements * sizeof(float)); /* the mapping may be unaligned for float */
        uint8_t *mine = malloc(q->n_bytes);
        memcpy(x, f->data, f->n_elements * sizeof(float));
        quantize_ref(qtype, x, mine, (int64_t)f->n_elements);
        const uint8_t *theirs = q->data;
        uint64_t nbad = 0, first = UINT64_MAX;
        for (uint64_t b = 0; b < q->n_bytes / bsz; b++) {
            if (memcmp(mine + b * bsz, theirs + b * bsz, bsz) != 0) {
                if (first == UINT64_MAX) first = b;
                nbad++;
            }
        }
        blocks += q->n_bytes / bsz;
        bad_blocks += nbad;
        T_CHECKF(nbad == 0, "%s %s: %llu of %llu blocks differ (first: block %llu)", qfile, q->name,
                 (unsigned long long)nbad, (unsigned long long)(q->n_bytes / bsz), (unsigned long long)first);
        same += nbad == 0;
        free(x);
        free(mine);
    }
    printf("    %s: %d of %d %s tensors byte-identical (%llu of %llu super-blocks)\n", qfile, same, total,
           zeta_type_name(qtype), (unsigned long long)(blocks - bad_blocks), (unsigned long long)blocks);
    T_CHECKF(total >= 8, "only %d %s tensors in %s", total, zeta_type_name(qtype), qfile);
    gguf_close(gf);
    gguf_close(gq);
    return same;
}

static void test_zoo_q4_K(void) { if (check_zoo("zoo-Q4_K_S.gguf", ZETA_TYPE_Q4_K) < 0) T_SKIP("zoo files not found"); }
static void test_zoo_q5_K(void) { if (check_zoo("zoo-Q5_K_S.gguf", ZETA_TYPE_Q5_K) < 0) T_SKIP("zoo files not found"); }
static void test_zoo_q6_K(void) { if (check_zoo("zoo-Q6_K.gguf", ZETA_TYPE_Q6_K) < 0) T_SKIP("zoo files not found"); }

/* zeta-demo-30m Q4_K_M: every tensor the shared TSV lists as Q4_K / Q6_K, quantized from the F16
 * source (converted to f32 first, as llama-quantize does), hashed and compared with the TSV. */
static void test_30m_q4_K_M(void) {
    size_t len = 0;
    char *tsv = t_read_file("../shared/goldens/quant-mixes/Q4_K_M.tsv", &len);
    gguf_file *g = tsv ? open_model("zeta-demo-30m-F16.gguf") : NULL;
    if (!tsv || !g) {
        free(tsv);
        gguf_close(g);
        T_SKIP("../shared/goldens (Q4_K_M.tsv, zeta-demo-30m-F16.gguf) not found");
    }
    int n_q4 = 0, n_q6 = 0, ok_q4 = 0, ok_q6 = 0;
    char *save = NULL;
    for (char *line = strtok_r(tsv, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[128], type[16], ne[64], hex[80];
        unsigned long long nbytes;
        if (sscanf(line, "%127s %15s %63s %llu %79s", name, type, ne, &nbytes, hex) != 5) continue;
        zeta_type qt;
        if (strcmp(type, "Q4_K") == 0) qt = ZETA_TYPE_Q4_K;
        else if (strcmp(type, "Q6_K") == 0) qt = ZETA_TYPE_Q6_K;
        else continue;
        const gguf_tensor *t = gguf_find_tensor(g, name);
        T_CHECKF(t && t->type == ZETA_TYPE_F16, "%s: no F16 source", name);
        if (!t || t->type != ZETA_TYPE_F16) continue;
        const int64_t n = (int64_t)t->n_elements;
        T_CHECKF(row_bytes(qt, n) == nbytes, "%s: %zu bytes, TSV says %llu", name, row_bytes(qt, n), nbytes);
        float *x = malloc((size_t)n * sizeof(float));
        uint8_t *q = malloc(row_bytes(qt, n));
        const uint8_t *src = t->data;
        for (int64_t i = 0; i < n; i++) x[i] = zeta_f16_to_f32((zeta_f16)(src[2 * i] | src[2 * i + 1] << 8));
        quantize_ref(qt, x, q, n);
        sha256 c;
        char mine[65];
        sha256_init(&c);
        sha256_update(&c, q, row_bytes(qt, n));
        sha256_hex(&c, mine);
        const bool same = strcmp(mine, hex) == 0;
        T_CHECKF(same, "%s (%s): sha256 %s, expected %s", name, type, mine, hex);
        if (qt == ZETA_TYPE_Q4_K) { n_q4++; ok_q4 += same; } else { n_q6++; ok_q6 += same; }
        free(x);
        free(q);
    }
    printf("    zeta-demo-30m Q4_K_M: q4_K %d/%d, q6_K %d/%d tensors match the TSV sha256\n", ok_q4, n_q4, ok_q6, n_q6);
    T_CHECK(n_q4 > 0 && n_q6 > 0);
    free(tsv);
    gguf_close(g);
}

/* ---- dequantize(quantize(x)) ----------------------------------------------------------------- */

/* Gaussian rows with outliers, and edge blocks: zeros, constant, tiny, denormal, all-positive. */
static void fill_weights(float *x, int64_t n, int kind) {
    for (int64_t i = 0; i < n; i++) {
        const int64_t blk = i / QK_K;
        switch (kind == 0 ? blk % 7 : kind) {
        case 1: x[i] = 0.0f; break;
        case 2: x[i] = 0.375f; break;
        case 3: x[i] = rnd_gauss() * 1e-20f; break;
        case 4: x[i] = rnd_unit() * 1e-40f; break;                    /* denormals */
        case 5: x[i] = 0.5f + fabsf(rnd_gauss()); break;               /* all positive: min > 0 */
        case 6: x[i] = (i % 97 == 3) ? 8.0f * rnd_gauss() : rnd_gauss() * 0.02f; break;
        default: x[i] = rnd_gauss() * 0.05f; break;
        }
    }
}

static double rel_rmse(const float *x, const float *y, int64_t n) {
    double e = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        e += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        s += (double)x[i] * x[i];
    }
    return s > 0 ? sqrt(e / s) : sqrt(e);
}

static void check_roundtrip(zeta_type t, double bound) {
    const int64_t n = QK_K * 64;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    void *q = malloc(row_bytes(t, n));
    /* typical rows */
    fill_weights(x, n, 7);
    quantize_ref(t, x, q, n);
    for (int64_t i = 0; i < n; i++) y[i] = f32_nan();
    dequantize(t, q, y, n);
    const double e = rel_rmse(x, y, n);
    printf("    %s: relative rms error %.4f on gaussian rows (bound %.3f)\n", zeta_type_name(t), e, bound);
    T_CHECKF(e <= bound, "%s rel rmse %g > %g", zeta_type_name(t), e, bound);
    /* edge blocks: exact zeros stay zero, constants and outliers stay close, nothing is NaN */
    for (int kind = 1; kind <= 6; kind++) {
        fill_weights(x, QK_K * 4, kind);
        quantize_ref(t, x, q, QK_K * 4);
        for (int64_t i = 0; i < QK_K * 4; i++) y[i] = f32_nan();
        dequantize(t, q, y, QK_K * 4);
        int nan = 0, nonzero = 0;
        for (int64_t i = 0; i < QK_K * 4; i++) { nan += y[i] != y[i]; nonzero += y[i] != 0.0f; }
        T_CHECKF(nan == 0, "%s kind %d: %d NaN after round trip", zeta_type_name(t), kind, nan);
        if (kind == 1) T_CHECKF(nonzero == 0, "%s: zero block dequantizes to %d non-zeros", zeta_type_name(t), nonzero);
        if (kind == 2 || kind == 5 || kind == 6) {
            const double ek = rel_rmse(x, y, QK_K * 4);
            T_CHECKF(ek <= 2 * bound, "%s kind %d: rel rmse %g", zeta_type_name(t), kind, ek);
        }
    }
    free(x); free(y); free(q);
}
static void test_roundtrip_q4_K(void) { check_roundtrip(ZETA_TYPE_Q4_K, 0.12); }
static void test_roundtrip_q5_K(void) { check_roundtrip(ZETA_TYPE_Q5_K, 0.06); }
static void test_roundtrip_q6_K(void) { check_roundtrip(ZETA_TYPE_Q6_K, 0.03); }

/* Q8_K: every element within d / 2 (+ float rounding), bsums = sums of the codes, d = -max / 127. */
static void test_roundtrip_q8_K(void) {
    const int64_t n = QK_K * 16;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    block_q8_K *q = malloc(row_bytes(ZETA_TYPE_Q8_K, n));
    fill_weights(x, n, 0);
    quantize_row_q8_K_ref(x, q, n);
    dequantize_row_q8_K(q, y, n);
    int bad = 0, bad_sums = 0;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const float d = fabsf(q[b].d);
        for (int j = 0; j < QK_K; j++) {
            const int64_t i = b * QK_K + j;
            bad += !(fabsf(x[i] - y[i]) <= d * 0.5f * 1.0001f + 1e-30f);
        }
        for (int j = 0; j < 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += q[b].qs[16 * j + l];
            bad_sums += s != q[b].bsums[j];
        }
    }
    T_CHECKF(bad == 0 && bad_sums == 0, "%d elements off by more than d/2, %d bsums wrong", bad, bad_sums);
    /* the first element of largest magnitude sets the sign: -127 for it */
    for (int j = 0; j < QK_K; j++) x[j] = j == 5 ? -2.0f : j == 9 ? 2.0f : 0.25f;
    quantize_row_q8_K_ref(x, q, QK_K);
    T_CHECK(q[0].qs[5] == -127 && q[0].qs[9] == 127 && q[0].d == 2.0f / 127.0f * 1.0f);
    T_CHECKF(q[0].qs[0] == 16, "0.25 -> %d", q[0].qs[0]); /* 15.875 -> 16 */
    for (int j = 0; j < QK_K; j++) x[j] = 0.0f;
    quantize_row_q8_K_ref(x, q, QK_K);
    T_CHECK(q[0].d == 0.0f && q[0].qs[100] == 0 && q[0].bsums[3] == 0);
    free(x); free(y); free(q);
}

/* ---- the ISAs -------------------------------------------------------------------------------- */

typedef struct isa {
    const char *name;
    bool ok;                   /* compiled in and supported by this CPU */
    const char *why;           /* if not */
    zk_vec_dot_fn dot[3];      /* q4_K, q5_K, q6_K */
    zk_from_float_fn q8;
} isa;

static int isas(isa *t) {
    int k = 0;
#if defined(ZETA_HAVE_X86)
    t[k++] = (isa){"avx2", zk_cpu_has_avx2(), "not supported by this CPU",
                   {zk_vec_dot_q4_K_avx2, zk_vec_dot_q5_K_avx2, zk_vec_dot_q6_K_avx2}, zk_from_float_q8_K_avx2};
    t[k++] = (isa){"avx512", zk_cpu_has_avx512(), "this CPU has no AVX-512 (F/BW/VL/DQ + OS ZMM state); its kernels are untested here",
                   {zk_vec_dot_q4_K_avx512, zk_vec_dot_q5_K_avx512, zk_vec_dot_q6_K_avx512}, zk_from_float_q8_K_avx512};
#endif
#if defined(ZETA_HAVE_NEON)
    t[k++] = (isa){"neon", true, "", {zk_vec_dot_q4_K_neon, zk_vec_dot_q5_K_neon, zk_vec_dot_q6_K_neon}, zk_from_float_q8_K_neon};
#endif
    return k;
}

static const zk_vec_dot_fn k_scalar_dot[3] = {zk_vec_dot_q4_K_scalar, zk_vec_dot_q5_K_scalar, zk_vec_dot_q6_K_scalar};
static const zeta_type k_wtypes[3] = {ZETA_TYPE_Q4_K, ZETA_TYPE_Q5_K, ZETA_TYPE_Q6_K};

static void test_isas_available(void) {
    isa t[4];
    const int nt = isas(t);
    int ran = 0;
    for (int k = 0; k < nt; k++) {
        if (t[k].ok) ran++;
        else printf("    skip %s: %s\n", t[k].name, t[k].why);
    }
    if (nt == 0) T_SKIP("no SIMD K-quant kernels compiled for this architecture");
    for (int k = 0; k < nt; k++)
        if (!t[k].ok && strcmp(t[k].name, "avx512") == 0) T_SKIP("AVX-512 K-quant kernels not run: %s", t[k].why);
    (void)ran;
}

/* Activations with edge blocks: ties at the largest magnitude, NaN-free extremes, zeros, tiny. */
static void fill_activations(float *x, int64_t n, int rep) {
    for (int64_t b = 0; b < n / QK_K; b++) {
        float *xb = x + b * QK_K;
        switch ((b + rep) % 8) {
        case 0: for (int j = 0; j < QK_K; j++) xb[j] = rnd_gauss(); break;
        case 1: for (int j = 0; j < QK_K; j++) xb[j] = 0.0f; break;
        case 2: for (int j = 0; j < QK_K; j++) xb[j] = (j % 3 == 1) ? -4.0f : (j % 3 == 2 ? 4.0f : rnd_unit()); break;
        case 3: for (int j = 0; j < QK_K; j++) xb[j] = (j % 5 == 0) ? 4.0f : (j == 7 ? -4.0f : rnd_unit()); break;
        case 4: for (int j = 0; j < QK_K; j++) xb[j] = rnd_unit() * 1e-38f; break;
        case 5: for (int j = 0; j < QK_K; j++) xb[j] = rnd_gauss() * 3e4f * (j == 200 ? 100.0f : 1.0f); break;
        case 6: for (int j = 0; j < QK_K; j++) xb[j] = (float)(j % 17) * 0.5f - 4.0f; break; /* .5 ties after scaling */
        default: for (int j = 0; j < QK_K; j++) xb[j] = -fabsf(rnd_gauss()) * (j < 128 ? 1.0f : -1.0f); break;
        }
    }
}

/* The Q8_K activation quantizer of every ISA gives the reference bytes, also for inf / NaN / -0. */
static void test_from_float_q8_K_identical(void) {
    isa t[4];
    const int nt = isas(t);
    const int64_t n = QK_K * 40;
    const size_t bytes = row_bytes(ZETA_TYPE_Q8_K, n);
    float *x = malloc(n * sizeof(float));
    uint8_t *ref = malloc(bytes), *got = malloc(bytes);
    int ran = 0;
    for (int k = 0; k < nt; k++) {
        if (!t[k].ok) continue;
        ran++;
        for (int rep = 0; rep < 8; rep++) {
            fill_activations(x, n, rep);
            if (rep == 5) { x[3] = INFINITY; x[QK_K + 9] = -INFINITY; x[2 * QK_K + 1] = f32_nan(); x[3 * QK_K] = -0.0f; }
            if (rep == 6) { for (int j = 0; j < QK_K; j++) x[j] = j == 17 ? f32_nan() : 0.0f; x[QK_K + 4] = zeta_bits_to_f32(0xffc00000u); }
            if (rep == 7) { for (int j = 0; j < QK_K; j++) x[j] = j == 255 ? -1e-45f : (j == 254 ? 1e-45f : 0.0f); }
            memset(ref, 0x5a, bytes);
            memset(got, 0xa5, bytes);
            zk_from_float_q8_K_scalar(x, ref, n);
            t[k].q8(x, got, n);
            const block_q8_K *r = (const block_q8_K *)ref, *g = (const block_q8_K *)got;
            int64_t first = -1;
            for (int64_t b = 0; b < n / QK_K && first < 0; b++) if (memcmp(&r[b], &g[b], sizeof r[b])) first = b;
            T_CHECKF(first < 0, "%s from_float q8_K differs from scalar (rep %d, first block %lld)", t[k].name, rep, (long long)first);
        }
    }
    free(x); free(ref); free(got);
    if (!ran) T_SKIP("no SIMD table supported by this CPU");
}

/* Weights of type k_wtypes[wi]: quantized from random rows (kind 0) or random bytes with
 * controlled scales (kind 1, every code and scale value reachable). */
static void *make_weights(int wi, int64_t n, int kind) {
    const zeta_type t = k_wtypes[wi];
    uint8_t *w = malloc(row_bytes(t, n));
    if (kind == 0) {
        float *f = malloc(n * sizeof(float));
        fill_weights(f, n, 0);
        quantize_ref(t, f, w, n);
        free(f);
        return w;
    }
    for (size_t i = 0; i < row_bytes(t, n); i++) w[i] = (uint8_t)rnd_u32();
    for (int64_t b = 0; b < n / QK_K; b++) {
        const zeta_f16 d = zeta_f32_to_f16(b % 3 == 0 ? 0.01f : (b % 3 == 1 ? 3e-5f : 1.5f));
        const zeta_f16 dm = zeta_f32_to_f16(b % 2 ? 0.02f : 0.0f);
        if (t == ZETA_TYPE_Q4_K) { ((block_q4_K *)w)[b].d = d; ((block_q4_K *)w)[b].dmin = dm; }
        if (t == ZETA_TYPE_Q5_K) { ((block_q5_K *)w)[b].d = d; ((block_q5_K *)w)[b].dmin = dm; }
        if (t == ZETA_TYPE_Q6_K) ((block_q6_K *)w)[b].d = d;
    }
    return w;
}

/* sum |w_i * x_i| in double from the dequantized operands. */
static double abs_dot(zeta_type wt, const void *w, const void *x, int64_t n) {
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    dequantize(wt, w, a, n);
    dequantize_row_q8_K(x, b, n);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += fabs((double)a[i] * (double)b[i]);
    free(a); free(b);
    return s;
}

static void check_vec_dot(int wi, double tol) {
    isa t[4];
    const int nt = isas(t);
    static const int64_t lengths[] = {256, 512, 768, 4096, 11008};
    int ran = 0;
    const zeta_type wt = k_wtypes[wi];
    /* the scalar dot agrees with the dequantized math */
    double worst_scalar = 0;
    for (int kind = 0; kind < 2; kind++) {
        const int64_t n = 4096;
        void *w = make_weights(wi, n, kind);
        float *xf = malloc(n * sizeof(float)), *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
        void *x = malloc(row_bytes(ZETA_TYPE_Q8_K, n));
        fill_activations(xf, n, kind);
        zk_from_float_q8_K_scalar(xf, x, n);
        dequantize(wt, w, a, n);
        dequantize_row_q8_K(x, b, n);
        double exact = 0;
        for (int64_t i = 0; i < n; i++) exact += (double)a[i] * b[i];
        float got = f32_nan();
        k_scalar_dot[wi](n, &got, w, x);
        const double e = fabs(got - exact) / abs_dot(wt, w, x, n);
        if (e > worst_scalar) worst_scalar = e;
        T_CHECKF(e <= 1e-5, "scalar %s kind %d: %.9g vs exact %.9g (rel %.3g)", zeta_type_name(wt), kind, (double)got, exact, e);
        free(w); free(xf); free(a); free(b); free(x);
    }
    for (int k = 0; k < nt; k++) {
        if (!t[k].ok) continue;
        ran++;
        double worst = 0;
        for (int li = 0; li < 5; li++) {
            for (int kind = 0; kind < 2; kind++) {
                const int64_t n = lengths[li];
                void *w = make_weights(wi, n, kind);
                float *xf = malloc(n * sizeof(float));
                void *x = malloc(row_bytes(ZETA_TYPE_Q8_K, n));
                fill_activations(xf, n, li + kind);
                zk_from_float_q8_K_scalar(xf, x, n);
                float ref = f32_nan(), got = f32_nan();
                k_scalar_dot[wi](n, &ref, w, x);
                t[k].dot[wi](n, &got, w, x);
                const double scale = abs_dot(wt, w, x, n);
                const double err = fabs((double)got - (double)ref) / (scale > 0 ? scale : 1);
                T_CHECKF(ref == ref && got == got, "%s %s n=%lld: NaN (ref %g got %g)", t[k].name, zeta_type_name(wt), (long long)n, (double)ref, (double)got);
                T_CHECKF(err <= tol, "%s %s n=%lld kind %d: ref %.9g got %.9g, rel err %.3g", t[k].name, zeta_type_name(wt), (long long)n, kind, (double)ref, (double)got, err);
                if (err > worst) worst = err;
                free(w); free(xf); free(x);
            }
        }
        printf("    %s %s: worst error %.2g of sum|w*x| (scalar vs exact: %.2g)\n", t[k].name, zeta_type_name(wt), worst, worst_scalar);
    }
    if (!ran) printf("    scalar %s vs exact: %.2g of sum|w*x|\n", zeta_type_name(wt), worst_scalar);
}
static void test_vec_dot_q4_K(void) { check_vec_dot(0, 1e-5); }
static void test_vec_dot_q5_K(void) { check_vec_dot(1, 1e-5); }
static void test_vec_dot_q6_K(void) { check_vec_dot(2, 1e-5); }

/* With d = dmin = 1 and activation scale 1, every super-block's value is an integer below 2^24, so
 * the sums are exact in f32 in any order: every ISA must give exactly the scalar value, which must
 * equal the integer dot of the dequantized codes. */
static void test_int_dots_exact(void) {
    isa t[4];
    const int nt = isas(t);
    const int64_t nbk = 8, n = nbk * QK_K;
    block_q8_K *x = malloc(nbk * sizeof *x);
    for (int64_t b = 0; b < nbk; b++) {
        x[b].d = 1.0f;
        for (int j = 0; j < QK_K; j++) x[b].qs[j] = (int8_t)((int)(rnd_u32() % 255) - 127);
        if (b == 1) for (int j = 0; j < QK_K; j++) x[b].qs[j] = (int8_t)(j & 1 ? 127 : -127);
        for (int j = 0; j < 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += x[b].qs[16 * j + l];
            x[b].bsums[j] = (int16_t)s;
        }
    }
    float *a = malloc(n * sizeof(float)), *yv = malloc(n * sizeof(float));
    dequantize_row_q8_K(x, yv, n);
    for (int wi = 0; wi < 3; wi++) {
        const zeta_type wt = k_wtypes[wi];
        uint8_t *w = malloc(row_bytes(wt, n));
        for (size_t i = 0; i < row_bytes(wt, n); i++) w[i] = (uint8_t)rnd_u32();
        for (int64_t b = 0; b < nbk; b++) {
            if (wt == ZETA_TYPE_Q4_K) { ((block_q4_K *)w)[b].d = 0x3c00; ((block_q4_K *)w)[b].dmin = 0x3c00; }
            if (wt == ZETA_TYPE_Q5_K) { ((block_q5_K *)w)[b].d = 0x3c00; ((block_q5_K *)w)[b].dmin = 0x3c00; }
            if (wt == ZETA_TYPE_Q6_K) ((block_q6_K *)w)[b].d = 0x3c00;
        }
        if (wt == ZETA_TYPE_Q6_K) { /* extreme codes and scales in the first super-block */
            block_q6_K *q6 = (block_q6_K *)w;
            memset(q6[0].ql, 0xff, sizeof q6[0].ql);
            memset(q6[0].qh, 0xff, sizeof q6[0].qh);
            for (int j = 0; j < 16; j++) q6[0].scales[j] = (int8_t)(j & 1 ? 127 : -128);
            memset(q6[1].ql, 0x00, sizeof q6[1].ql);
            memset(q6[1].qh, 0x00, sizeof q6[1].qh); /* code -32 everywhere */
        } else { /* all-63 scales / mins and all-15 (31) codes in the first super-block */
            uint8_t *blk = w;
            memset(blk + 4, 0xff, 12);
            memset(blk + 16, 0xff, row_bytes(wt, QK_K) - 16);
        }
        dequantize(wt, w, a, n);
        for (int64_t m = 1; m <= nbk; m++) {
            double exact = 0;
            for (int64_t i = 0; i < m * QK_K; i++) exact += (double)a[i] * yv[i];
            float ref = f32_nan();
            k_scalar_dot[wi](m * QK_K, &ref, w, x);
            T_CHECKF((double)ref == exact, "scalar %s %lld blocks: %.9g vs %.9g", zeta_type_name(wt), (long long)m, (double)ref, exact);
            for (int k = 0; k < nt; k++) {
                if (!t[k].ok) continue;
                float got = f32_nan();
                t[k].dot[wi](m * QK_K, &got, w, x);
                T_CHECKF(got == ref, "%s %s %lld blocks: %.9g vs scalar %.9g", t[k].name, zeta_type_name(wt), (long long)m, (double)got, (double)ref);
            }
        }
        free(w);
    }
    free(x); free(a); free(yv);
}

int main(void) {
    T_RUN(test_sha256);
    T_RUN(test_zoo_q4_K);
    T_RUN(test_zoo_q5_K);
    T_RUN(test_zoo_q6_K);
    T_RUN(test_30m_q4_K_M);
    T_RUN(test_roundtrip_q4_K);
    T_RUN(test_roundtrip_q5_K);
    T_RUN(test_roundtrip_q6_K);
    T_RUN(test_roundtrip_q8_K);
    T_RUN(test_isas_available);
    T_RUN(test_from_float_q8_K_identical);
    T_RUN(test_vec_dot_q4_K);
    T_RUN(test_vec_dot_q5_K);
    T_RUN(test_vec_dot_q6_K);
    T_RUN(test_int_dots_exact);
    return t_done();
}
