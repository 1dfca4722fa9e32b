/* test_quantize.c — tests of zeta_quantize (src/quantize.c, src/quantize_mix.c) against
 * llama.cpp's llama-quantize: per-tensor plans (dry runs) equal to the quant-mixes TSVs, output
 * bytes equal to llama.cpp's files (whole file and every tensor), logits of the output equal to
 * those of llama.cpp's file, and the safety rules (never the input as output, no file left behind
 * after a failure or cancel, clear errors). Types whose reference quantizer is not in the table yet
 * are skipped and start passing when it lands. Run from the repository root. */
#include "zeta.h"
#include "gguf.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MODELS "tests/data/models/"
#define MIXES "tests/data/quant-mixes/"
#define DEMO30M "../shared/goldens/models/zeta-demo-30m-F16.gguf"
#define STORIES "../shared/models/stories260K.gguf"
#define ZOO MODELS "zoo-F32.gguf"

static char g_dir[64];          /* scratch directory of this run */

static bool exists(const char *p) { struct stat st; return stat(p, &st) == 0; }

/* entries of a directory other than . and .. */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void scratch(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", g_dir, name); }

/* ---------------------------------------------------------------- sha256 (FIPS 180-4) */

typedef struct sha256 { uint32_t h[8]; uint8_t buf[64]; uint64_t len; size_t n; } sha256;
static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
    0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
    0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
    0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
#define ROR(x, n) ((x) >> (n) | (x) << (32 - (n)))
static void sha_block(sha256 *s, const uint8_t *p) {
    uint32_t w[64], a[8];
    for (int i = 0; i < 16; i++) w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(a, s->h, sizeof a);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = a[7] + (ROR(a[4], 6) ^ ROR(a[4], 11) ^ ROR(a[4], 25)) + ((a[4] & a[5]) ^ (~a[4] & a[6])) + K256[i] + w[i];
        uint32_t t2 = (ROR(a[0], 2) ^ ROR(a[0], 13) ^ ROR(a[0], 22)) + ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]));
        memmove(a + 1, a, 7 * sizeof a[0]);
        a[4] += t1;
        a[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) s->h[i] += a[i];
}
static void sha_hex(const void *data, size_t n, char out[65]) {
    sha256 s = {{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}, {0}, 0, 0};
    const uint8_t *p = data;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) sha_block(&s, p + i);
    uint8_t tail[128] = {0};
    size_t r = n - i, tn = r + 9 <= 64 ? 64 : 128;
    memcpy(tail, p + i, r);
    tail[r] = 0x80;
    uint64_t bits = (uint64_t)n * 8;
    for (int k = 0; k < 8; k++) tail[tn - 1 - k] = (uint8_t)(bits >> (8 * k));
    sha_block(&s, tail);
    if (tn == 128) sha_block(&s, tail + 64);
    for (int k = 0; k < 8; k++) snprintf(out + 8 * k, 9, "%08x", s.h[k]);
}

/* ---------------------------------------------------------------- TSV and plans */

typedef struct row { char name[64], type[16]; unsigned long long n_bytes; char sha[65]; } row;

/* rows of a quant-mixes TSV (header skipped); NULL if unreadable */
static row *read_tsv(const char *path, size_t *n) {
    char *text = t_read_file(path, NULL);
    if (!text) return NULL;
    size_t cap = 1;
    for (char *c = text; *c; c++) cap += *c == '\n';
    row *r = calloc(cap, sizeof *r);
    *n = 0;
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    for (line = line ? strtok_r(NULL, "\n", &save) : NULL; line && r; line = strtok_r(NULL, "\n", &save)) {
        char shape[64];
        if (sscanf(line, "%63s %15s %63s %llu %64s", r[*n].name, r[*n].type, shape, &r[*n].n_bytes, r[*n].sha) == 5) (*n)++;
    }
    free(text);
    return r;
}

typedef struct plan { row *r; size_t n, cap; } plan;

static void collect(void *user, const zeta_quantize_tensor *t) {
    plan *p = user;
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->r = realloc(p->r, p->cap * sizeof *p->r);
    }
    row *r = &p->r[p->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", t->name);
    snprintf(r->type, sizeof r->type, "%s", zeta_type_name(t->to));
    r->n_bytes = t->bytes_out;
}

/* Dry-runs `src` to `type` and compares the plan (order, names, types, sizes) with the TSV. */
static void check_plan(const char *src, const char *type, bool pure, const char *override, const char *tsv) {
    size_t n_want = 0;
    row *want = read_tsv(tsv, &n_want);
    T_CHECKF(want && n_want > 0, "cannot read %s", tsv);
    if (!want) return;
    plan got = {0};
    zeta_quantize_params qp = zeta_quantize_params_default();
    qp.dry_run = true;
    qp.pure = pure;
    qp.tensor_types = &override;
    qp.n_tensor_types = override ? 1 : 0;
    qp.on_tensor = collect;
    qp.tensor_user = &got;
    zeta_error err;
    zeta_status st = zeta_quantize(src, NULL, type, &qp, NULL, &err);
    T_CHECKF(st == ZETA_OK, "%s %s: %s", src, type, err.message);
    T_CHECKF(got.n == n_want, "%s %s: %zu tensors planned, %s has %zu", src, type, got.n, tsv, n_want);
    int bad = 0;
    for (size_t i = 0; i < got.n && i < n_want; i++) {
        bool ok = !strcmp(got.r[i].name, want[i].name) && !strcasecmp(got.r[i].type, want[i].type) &&
                  got.r[i].n_bytes == want[i].n_bytes;
        if (!ok && bad++ < 5)
            T_CHECKF(ok, "%s %s%s row %zu: planned %s %s %llu bytes, llama.cpp %s %s %llu bytes", src, type, pure ? " --pure" : "",
                     i, got.r[i].name, got.r[i].type, got.r[i].n_bytes, want[i].name, want[i].type, want[i].n_bytes);
    }
    free(got.r);
    free(want);
}

static const char *const k_types[] = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L",
                                      "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS", "F16", "BF16"};

static void test_plan_zoo_pure_every_type(void) {
    for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++) {
        /* --pure makes the _M / _L mixes the same file as their _S sibling */
        char base[16], tsv[128];
        snprintf(base, sizeof base, "%s", k_types[i]);
        size_t l = strlen(base);
        if (l > 2 && base[l - 2] == '_' && (base[l - 1] == 'M' || base[l - 1] == 'L')) base[l - 1] = 'S';
        snprintf(tsv, sizeof tsv, MIXES "zoo-pure-%s.tsv", base);
        check_plan(ZOO, k_types[i], true, NULL, tsv);
    }
}

static void test_plan_demo30m_mixes(void) {
    if (!exists(DEMO30M)) T_SKIP("%s not present", DEMO30M);
    static const char *const t[] = {"Q4_K_M", "Q5_K_M", "Q3_K_M", "Q6_K", "Q8_0", "Q4_0"};
    for (size_t i = 0; i < 6; i++) {
        char tsv[128];
        snprintf(tsv, sizeof tsv, MIXES "%s.tsv", t[i]);
        check_plan(DEMO30M, t[i], false, NULL, tsv);
    }
}

static void test_plan_stories_mixes(void) {
    if (!exists(STORIES)) T_SKIP("%s not present", STORIES);
    check_plan(STORIES, "F16", false, NULL, MIXES "stories260K-F16.tsv");
    check_plan(STORIES, "BF16", false, NULL, MIXES "stories260K-BF16.tsv");
    check_plan(STORIES, "Q8_0", false, "ffn_down=f16", MIXES "stories260K-Q8_0.tsv");
    check_plan(STORIES, "Q4_0", false, "ffn_down=f16", MIXES "stories260K-Q4_0.tsv");
}

/* The synth F32 sources are not shipped; the plan depends only on names and shapes, so the F16
 * files stand in for them (their data would differ, their types and sizes do not). */
static void test_plan_synth_mixes_from_f16(void) {
    static const char *const arch[] = {"llama3", "qwen2", "qwen3"}, *const t[] = {"F16", "Q8_0", "Q4_0"};
    for (int a = 0; a < 3; a++)
        for (int k = 0; k < 3; k++) {
            char src[128], tsv[128];
            snprintf(src, sizeof src, MODELS "synth-%s-F16.gguf", arch[a]);
            snprintf(tsv, sizeof tsv, MIXES "synth-%s-%s.tsv", arch[a], t[k]);
            check_plan(src, t[k], false, NULL, tsv);
        }
}

/* ---------------------------------------------------------------- real quantization */

/* Every tensor of `ours` equals the same-named tensor of `ref` (type, shape, bytes) and sits at the
 * same index; returns false (after reporting) otherwise. */
static bool same_tensors(const char *ours, const char *ref) {
    gguf_file *a = NULL, *b = NULL;
    zeta_error err;
    bool ok = gguf_open(ours, false, &a, &err) == ZETA_OK;
    T_CHECKF(ok, "%s", err.message);
    ok = ok && gguf_open(ref, false, &b, &err) == ZETA_OK;
    T_CHECKF(a == NULL || b != NULL, "%s", err.message);
    if (ok) {
        T_CHECKF(a->n_tensors == b->n_tensors, "%s has %llu tensors, %s %llu", ours, (unsigned long long)a->n_tensors, ref,
                 (unsigned long long)b->n_tensors);
        for (uint64_t i = 0; i < b->n_tensors && i < a->n_tensors; i++) {
            const gguf_tensor *r = &b->tensors[i], *o = &a->tensors[i];
            bool same = !strcmp(o->name, r->name) && o->type == r->type && o->n_bytes == r->n_bytes &&
                        !memcmp(o->ne, r->ne, sizeof o->ne) && !memcmp(o->data, r->data, (size_t)r->n_bytes);
            T_CHECKF(same, "%s: tensor %llu '%s' (%s) differs from %s's '%s' (%s)", ours, (unsigned long long)i, o->name,
                     zeta_type_name((zeta_type)o->type), ref, r->name, zeta_type_name((zeta_type)r->type));
            ok = ok && same;
        }
    }
    gguf_close(a);
    gguf_close(b);
    return ok;
}

static bool same_file(const char *x, const char *y) {
    size_t nx = 0, ny = 0;
    char *a = t_read_file(x, &nx), *b = t_read_file(y, &ny);
    bool same = a && b && nx == ny && !memcmp(a, b, nx);
    free(a);
    free(b);
    return same;
}

/* Quantizes; returns 1 done, 0 unsupported type (skip), -1 failed (reported). */
static int quantize(const char *in, const char *out, const char *type, bool pure, const char *override, int threads) {
    zeta_quantize_params qp = zeta_quantize_params_default();
    qp.pure = pure;
    qp.n_threads = threads;
    qp.tensor_types = &override;
    qp.n_tensor_types = override ? 1 : 0;
    zeta_error err;
    zeta_quantize_result r;
    zeta_status st = zeta_quantize(in, out, type, &qp, &r, &err);
    if (st == ZETA_ERR_UNSUPPORTED && strstr(err.message, "quantizer")) {
        T_CHECKF(!exists(out), "%s exists after a refused quantization", out);
        return 0;
    }
    T_CHECKF(st == ZETA_OK, "%s -> %s: %s", in, type, err.message);
    if (st != ZETA_OK) return -1;
    struct stat sb;
    T_CHECKF(stat(out, &sb) == 0 && (uint64_t)sb.st_size == r.file_bytes, "%s: size differs from result.file_bytes %llu", out,
             (unsigned long long)r.file_bytes);
    return 1;
}

/* zoo-F32 --pure to TYPE: the file llama.cpp made, byte for byte (with 3 threads) */
static void zoo_case(const char *type) {
    char out[128], ref[128];
    scratch(out, sizeof out, "zoo.gguf");
    snprintf(ref, sizeof ref, MODELS "zoo-%s.gguf", type);
    int rc = quantize(ZOO, out, type, true, NULL, 3);
    if (rc == 0) T_SKIP("no reference quantizer for %s yet", type);
    if (rc < 0) return;
    if (same_tensors(out, ref)) T_CHECKF(same_file(out, ref), "%s: tensors equal but the file differs from %s", out, ref);
    unlink(out);
}
#define ZOO_CASE(T) static void test_zoo_pure_##T##_bytes(void) { zoo_case(#T); }
ZOO_CASE(Q8_0) ZOO_CASE(Q4_0) ZOO_CASE(F16) ZOO_CASE(BF16) ZOO_CASE(Q4_1) ZOO_CASE(Q5_0) ZOO_CASE(Q5_1) ZOO_CASE(IQ4_NL)
ZOO_CASE(Q2_K) ZOO_CASE(Q3_K_S) ZOO_CASE(Q4_K_S) ZOO_CASE(Q5_K_S) ZOO_CASE(Q6_K) ZOO_CASE(IQ4_XS)

static void test_stories_bytes(void) {
    if (!exists(STORIES)) T_SKIP("%s not present", STORIES);
    static const char *const t[] = {"F16", "BF16", "Q8_0", "Q4_0"};
    for (int i = 0; i < 4; i++) {
        char out[128], ref[128];
        scratch(out, sizeof out, "stories.gguf");
        snprintf(ref, sizeof ref, MODELS "stories260K-%s.gguf", t[i]);
        if (quantize(STORIES, out, t[i], false, i >= 2 ? "ffn_down=f16" : NULL, 0) == 1)
            T_CHECKF(same_file(out, ref), "%s differs from %s", out, ref);
        unlink(out);
    }
}

/* zeta-demo-30m from F16: every tensor's sha256 equals the TSV's (the F16 -> f32 -> TYPE path) */
static void demo_case(const char *type) {
    if (!exists(DEMO30M)) T_SKIP("%s not present", DEMO30M);
    char out[128], tsv[128];
    scratch(out, sizeof out, "demo.gguf");
    snprintf(tsv, sizeof tsv, MIXES "%s.tsv", type);
    int rc = quantize(DEMO30M, out, type, false, NULL, 0);
    if (rc == 0) T_SKIP("a quantizer of the %s mix is not in the table yet", type);
    if (rc < 0) return;
    size_t n = 0;
    row *want = read_tsv(tsv, &n);
    gguf_file *g = NULL;
    zeta_error err;
    T_CHECKF(want && gguf_open(out, false, &g, &err) == ZETA_OK, "%s / %s unreadable", tsv, out);
    if (g && want) {
        T_CHECK(g->n_tensors == n);
        int bad = 0;
        for (size_t i = 0; i < n && i < g->n_tensors; i++) {
            char sha[65];
            sha_hex(g->tensors[i].data, (size_t)g->tensors[i].n_bytes, sha);
            bool ok = !strcmp(g->tensors[i].name, want[i].name) && !strcmp(sha, want[i].sha);
            if (!ok && bad++ < 5) T_CHECKF(ok, "%s: tensor '%s' differs from llama.cpp's", type, g->tensors[i].name);
        }
    }
    gguf_close(g);
    free(want);
    if (!strcmp(type, "Q4_K_M")) { /* the whole file: sha256 of zeta-demo-30m-Q4_K_M.gguf in the goldens README */
        size_t n_file = 0;
        char *bytes = t_read_file(out, &n_file), sha[65] = "";
        if (bytes) sha_hex(bytes, n_file, sha);
        T_CHECKF(!strcmp(sha, "6ed96d85843925ac3d1a44fa091a39373a3f8d558a3cdb2b6306e29c67f1f26a"),
                 "zeta-demo-30m Q4_K_M file sha256 %s differs from llama.cpp's", sha);
        free(bytes);
    }
    unlink(out);
}
/* (the other mixes' plans are checked above and their quantizers by the zoo; these three keep the
 * suite fast while covering the F16 source path and the shipped Q4_K_M golden file) */
#define DEMO_CASE(T) static void test_demo30m_##T##_sha256(void) { demo_case(#T); }
DEMO_CASE(Q8_0) DEMO_CASE(Q4_0) DEMO_CASE(Q4_K_M)

/* logits of a few tokens after the last one */
static float *logits_of(const char *path, size_t *n_vocab) {
    zeta_model *m = NULL;
    zeta_session *s = NULL;
    zeta_error err;
    float *copy = NULL;
    if (zeta_model_load(path, NULL, &m, &err) != ZETA_OK) {
        printf("    %s: %s\n", path, err.message);
        return NULL;
    }
    zeta_session_params sp = zeta_session_params_default();
    sp.n_threads = 2;
    sp.kv_type = ZETA_TYPE_F32;
    sp.n_ctx = 64;
    static const zeta_token toks[] = {1, 403, 407, 300, 12, 99, 500, 2, 77, 256};
    if (zeta_session_new(m, &sp, &s, &err) == ZETA_OK && zeta_session_eval(s, toks, 10, &err) == ZETA_OK) {
        const float *l = zeta_session_logits(s, n_vocab);
        copy = l ? malloc(*n_vocab * sizeof *copy) : NULL;
        if (copy) memcpy(copy, l, *n_vocab * sizeof *copy);
    } else {
        printf("    %s: %s\n", path, err.message);
    }
    zeta_session_free(s);
    zeta_model_free(m);
    return copy;
}

static void test_output_logits_equal_llama_cpp_file(void) {
    static const char *const t[] = {"Q8_0", "Q4_0", "F16", "BF16"};
    int done = 0;
    for (int i = 0; i < 4; i++) {
        char out[128], ref[128];
        scratch(out, sizeof out, "logits.gguf");
        snprintf(ref, sizeof ref, MODELS "zoo-%s.gguf", t[i]);
        if (quantize(ZOO, out, t[i], true, NULL, 0) != 1) continue;
        size_t na = 0, nb = 0;
        float *a = logits_of(out, &na), *b = logits_of(ref, &nb);
        if (a && b) {
            T_CHECKF(na == nb && !memcmp(a, b, na * sizeof *a), "%s: logits differ from %s", t[i], ref);
            done++;
        }
        free(a);
        free(b);
        unlink(out);
    }
    if (!done) T_SKIP("no quantized zoo file loads in the engine");
}

/* ---------------------------------------------------------------- safety and errors */

static void test_refuses_input_as_output(void) {
    char dir[128], in[160], link_[160], hard[160], dotted[200];
    scratch(dir, sizeof dir, "same");
    T_CHECK(mkdir(dir, 0700) == 0);
    snprintf(in, sizeof in, "%s/in.gguf", dir);
    snprintf(link_, sizeof link_, "%s/link.gguf", dir);
    snprintf(hard, sizeof hard, "%s/hard.gguf", dir);
    snprintf(dotted, sizeof dotted, "%s/./../same/in.gguf", dir);
    size_t n = 0;
    char *orig = t_read_file(ZOO, &n);
    FILE *f = fopen(in, "wb");
    T_CHECK(orig && f && fwrite(orig, 1, n, f) == n);
    if (f) fclose(f);
    T_CHECK(symlink("in.gguf", link_) == 0);
    T_CHECK(link(in, hard) == 0);
    const char *outs[] = {in, link_, hard, dotted};
    for (int i = 0; i < 4; i++) {
        zeta_error err;
        zeta_status st = zeta_quantize(in, outs[i], "Q8_0", NULL, NULL, &err);
        T_CHECKF(st == ZETA_ERR_INVALID_ARGUMENT && strstr(err.message, "input"), "out %s: %d %s", outs[i], st, err.message);
    }
    T_CHECKF(same_file(in, ZOO), "the input was modified");
    T_CHECKF(count_entries(dir) == 3, "%d files in %s; expected the input and its two links", count_entries(dir), dir);
    unlink(link_);
    unlink(hard);
    unlink(in);
    rmdir(dir);
    free(orig);
}

static void test_errors_name_the_problem(void) {
    char out[128];
    scratch(out, sizeof out, "err.gguf");
    zeta_error err;
    zeta_status st = zeta_quantize(ZOO, out, "Q4_X", NULL, NULL, &err);
    T_CHECKF(st == ZETA_ERR_INVALID_ARGUMENT && strstr(err.message, "Q4_X") && strstr(err.message, "Q4_K_M") &&
             strstr(err.message, "IQ4_XS"), "%s", err.message);
    st = zeta_quantize(ZOO, out, "q8_0", NULL, NULL, &err); /* case-insensitive */
    T_CHECKF(st == ZETA_OK, "%s", err.message);
    unlink(out);
    st = zeta_quantize(MODELS "no-such-model.gguf", out, "Q8_0", NULL, NULL, &err);
    T_CHECKF(st == ZETA_ERR_IO && strstr(err.message, "no-such-model.gguf"), "%s", err.message);
    st = zeta_quantize(NULL, out, "Q8_0", NULL, NULL, &err);
    T_CHECK(st == ZETA_ERR_INVALID_ARGUMENT);
    zeta_quantize_params qp = zeta_quantize_params_default();
    qp.n_threads = -1;
    T_CHECK(zeta_quantize(ZOO, out, "Q8_0", &qp, NULL, &err) == ZETA_ERR_INVALID_ARGUMENT);
    const char *bad_override = "ffn_down=q9_9";
    qp = zeta_quantize_params_default();
    qp.tensor_types = &bad_override;
    qp.n_tensor_types = 1;
    st = zeta_quantize(ZOO, out, "Q8_0", &qp, NULL, &err);
    T_CHECKF(st == ZETA_ERR_INVALID_ARGUMENT && strstr(err.message, "q9_9"), "%s", err.message);
    /* the output is a directory */
    st = zeta_quantize(ZOO, g_dir, "Q8_0", NULL, NULL, &err);
    T_CHECKF(st == ZETA_ERR_INVALID_ARGUMENT && strstr(err.message, "directory"), "%s", err.message);
    /* Q4_0 has no fallback for stories260K's 172-column ffn_down (llama.cpp fails there too) */
    if (exists(STORIES)) {
        st = zeta_quantize(STORIES, out, "Q4_0", NULL, NULL, &err);
        T_CHECKF(st == ZETA_ERR_UNSUPPORTED && strstr(err.message, "172") && strstr(err.message, "ffn_down"), "%s", err.message);
    }
    T_CHECKF(count_entries(g_dir) == 0, "%d files left in %s", count_entries(g_dir), g_dir);
}

static void test_unwritable_output_dir(void) {
    char out[160], file[128];
    zeta_error err;
    scratch(out, sizeof out, "missing-dir/out.gguf");
    zeta_status st = zeta_quantize(ZOO, out, "Q8_0", NULL, NULL, &err);
    T_CHECKF(st == ZETA_ERR_IO && strstr(err.message, "missing-dir"), "%d %s", st, err.message);
    scratch(file, sizeof file, "plain-file");
    FILE *f = fopen(file, "wb");
    if (f) fclose(f);
    snprintf(out, sizeof out, "%s/out.gguf", file);
    st = zeta_quantize(ZOO, out, "Q8_0", NULL, NULL, &err);
    T_CHECKF(st == ZETA_ERR_IO, "%d %s", st, err.message);
    unlink(file);
    if (geteuid() != 0) { /* root writes anywhere */
        char dir[128];
        scratch(dir, sizeof dir, "ro");
        T_CHECK(mkdir(dir, 0500) == 0);
        snprintf(out, sizeof out, "%s/out.gguf", dir);
        st = zeta_quantize(ZOO, out, "Q8_0", NULL, NULL, &err);
        T_CHECKF(st == ZETA_ERR_IO, "%d %s", st, err.message);
        T_CHECK(count_entries(dir) == 0);
        rmdir(dir);
    }
    T_CHECKF(count_entries(g_dir) == 0, "%d files left in %s", count_entries(g_dir), g_dir);
}

static bool cancel_at_half(void *user, float fraction) {
    (*(int *)user)++;
    return fraction < 0.5f;
}

static void test_cancel_leaves_no_file(void) {
    char out[128];
    scratch(out, sizeof out, "cancel.gguf");
    int calls = 0;
    zeta_quantize_params qp = zeta_quantize_params_default();
    qp.pure = true;
    qp.on_progress = cancel_at_half;
    qp.progress_user = &calls;
    zeta_error err;
    zeta_status st = zeta_quantize(ZOO, out, "Q8_0", &qp, NULL, &err);
    T_CHECKF(st == ZETA_ERR_CANCELLED && calls > 0, "%d %s", st, err.message);
    T_CHECKF(count_entries(g_dir) == 0, "%d files left in %s after cancel", count_entries(g_dir), g_dir);
    /* an existing output survives a cancelled run unchanged */
    FILE *f = fopen(out, "wb");
    if (f) { fputs("old", f); fclose(f); }
    calls = 0;
    st = zeta_quantize(ZOO, out, "Q8_0", &qp, NULL, &err);
    size_t n = 0;
    char *text = t_read_file(out, &n);
    T_CHECKF(st == ZETA_ERR_CANCELLED && text && n == 3 && !memcmp(text, "old", 3), "the old output was touched");
    free(text);
    unlink(out);
    T_CHECK(count_entries(g_dir) == 0);
}

static void test_requantize_needs_permission(void) {
    char out[128];
    scratch(out, sizeof out, "requant.gguf");
    zeta_error err;
    zeta_status st = zeta_quantize(MODELS "zoo-Q8_0.gguf", out, "Q4_0", NULL, NULL, &err);
    T_CHECKF(st == ZETA_ERR_INVALID_ARGUMENT && strstr(err.message, "allow-requantize"), "%s", err.message);
    T_CHECK(!exists(out));
    zeta_quantize_params qp = zeta_quantize_params_default();
    qp.allow_requantize = true;
    qp.pure = true;
    st = zeta_quantize(MODELS "zoo-Q8_0.gguf", out, "Q4_0", &qp, NULL, &err);
    T_CHECKF(st == ZETA_OK, "%s", err.message);
    zeta_model *m = NULL;
    T_CHECKF(st != ZETA_OK || zeta_model_load(out, NULL, &m, &err) == ZETA_OK, "%s", err.message);
    zeta_model_free(m);
    unlink(out);
}

static void test_thread_count_does_not_change_bytes(void) {
    char a[128], b[128];
    scratch(a, sizeof a, "t1.gguf");
    scratch(b, sizeof b, "t7.gguf");
    if (quantize(ZOO, a, "Q4_0", false, NULL, 1) == 1 && quantize(ZOO, b, "Q4_0", false, NULL, 7) == 1)
        T_CHECK(same_file(a, b));
    unlink(a);
    unlink(b);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/zeta-test-quantize-XXXXXX");
    if (!mkdtemp(g_dir)) {
        printf("FAIL - cannot create a scratch directory: %s\n", strerror(errno));
        return 1;
    }
    T_RUN(test_plan_zoo_pure_every_type);
    T_RUN(test_plan_demo30m_mixes);
    T_RUN(test_plan_stories_mixes);
    T_RUN(test_plan_synth_mixes_from_f16);
    T_RUN(test_zoo_pure_Q8_0_bytes);
    T_RUN(test_zoo_pure_Q4_0_bytes);
    T_RUN(test_zoo_pure_F16_bytes);
    T_RUN(test_zoo_pure_BF16_bytes);
    T_RUN(test_zoo_pure_Q4_1_bytes);
    T_RUN(test_zoo_pure_Q5_0_bytes);
    T_RUN(test_zoo_pure_Q5_1_bytes);
    T_RUN(test_zoo_pure_IQ4_NL_bytes);
    T_RUN(test_zoo_pure_Q2_K_bytes);
    T_RUN(test_zoo_pure_Q3_K_S_bytes);
    T_RUN(test_zoo_pure_Q4_K_S_bytes);
    T_RUN(test_zoo_pure_Q5_K_S_bytes);
    T_RUN(test_zoo_pure_Q6_K_bytes);
    T_RUN(test_zoo_pure_IQ4_XS_bytes);
    T_RUN(test_stories_bytes);
    T_RUN(test_demo30m_Q8_0_sha256);
    T_RUN(test_demo30m_Q4_0_sha256);
    T_RUN(test_demo30m_Q4_K_M_sha256);
    T_RUN(test_refuses_input_as_output);
    T_RUN(test_errors_name_the_problem);
    T_RUN(test_unwritable_output_dir);
    T_RUN(test_cancel_leaves_no_file);
    T_RUN(test_requantize_needs_permission);
    T_RUN(test_thread_count_does_not_change_bytes);
    T_RUN(test_output_logits_equal_llama_cpp_file);
    rmdir(g_dir);
    return t_done();
}
