/* test_tokenizer.c — the tokenizer against llama.cpp: the .inp/.out vectors of every vocabulary in
 * tests/data/vocab (add_special = false, parse_special = false, as llama.cpp's test-tokenizer-0),
 * the prompt tokens of the logit goldens (add_special = true, parse_special = false), round trips,
 * special tokens, unknown pre-tokenizer fallback, the pre-tokenizers without a vocabulary here (checked
 * against llama.cpp's expressions run by a regex engine), and robustness on random bytes and long input.
 * Run from the repository root. */
#include "test.h"
#include "tokenizer.h"
#include "tok_internal.h"
#include "unicode.h"

#include <dirent.h>
#include <stdint.h>
#include <time.h>

#define VOCAB_DIR "tests/data/vocab/"
#define GOLDEN_DIR "tests/data/goldens/logits/"
#define MODEL_DIR "tests/data/models/"

typedef struct loaded {
    gguf_file *g;
    zeta_vocab *v;
} loaded;

static bool load(const char *path, loaded *L) {
    zeta_error err;
    L->g = NULL;
    L->v = NULL;
    if (gguf_open(path, true, &L->g, &err) != ZETA_OK) {
        printf("    %s\n", err.message);
        return false;
    }
    if (vocab_load(L->g, &L->v, &err) != ZETA_OK) {
        printf("    %s\n", err.message);
        gguf_close(L->g);
        L->g = NULL;
        return false;
    }
    return true;
}

static void unload(loaded *L) {
    vocab_free(L->v);
    gguf_close(L->g);
}

static bool file_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* Tokenizes into a malloc'ed array (caller frees); NULL on error. */
static zeta_token *tokenize(const zeta_vocab *v, const char *s, size_t len, bool add_special, bool parse_special,
                            size_t *n) {
    zeta_error err;
    size_t need = 0;
    zeta_status st = vocab_tokenize(v, s, len, add_special, parse_special, NULL, 0, &need, &err);
    if (st != ZETA_OK && st != ZETA_ERR_BUFFER_TOO_SMALL) {
        printf("    tokenize failed: %s\n", err.message);
        return NULL;
    }
    zeta_token *t = malloc((need ? need : 1) * sizeof *t);
    if (!t) return NULL;
    st = vocab_tokenize(v, s, len, add_special, parse_special, t, need, n, &err);
    if (st != ZETA_OK) {
        printf("    tokenize failed: %s\n", err.message);
        free(t);
        return NULL;
    }
    return t;
}

static char *detokenize(const zeta_vocab *v, const zeta_token *t, size_t n, bool special, size_t *len) {
    zeta_error err;
    size_t need = 0;
    vocab_detokenize(v, t, n, special, NULL, 0, &need, &err);
    char *buf = malloc(need + 1);
    if (!buf) return NULL;
    if (vocab_detokenize(v, t, n, special, buf, need, len, &err) != ZETA_OK) {
        printf("    detokenize failed: %s\n", err.message);
        free(buf);
        return NULL;
    }
    buf[*len] = 0;
    return buf;
}

static void print_ids(const char *label, const zeta_token *t, size_t n) {
    printf("      %s (%zu):", label, n);
    for (size_t i = 0; i < n && i < 64; i++) printf(" %d", t[i]);
    printf("%s\n", n > 64 ? " ..." : "");
}

/* ---- .inp/.out vectors ---------------------------------------------------------------------- */

typedef struct vectors {
    char *inp;               /* file contents, split in place */
    char *outp;
    size_t n;
    const char *str[128];
    size_t len[128];
    const char *ids[128];    /* line of expected ids */
} vectors;

static bool read_vectors(const char *name, vectors *V) {
    char path[512];
    memset(V, 0, sizeof *V);
    snprintf(path, sizeof path, VOCAB_DIR "%s.inp", name);
    size_t inp_len;
    V->inp = t_read_file(path, &inp_len);
    snprintf(path, sizeof path, VOCAB_DIR "%s.out", name);
    V->outp = t_read_file(path, NULL);
    if (!V->inp || !V->outp) return false;
    static const char sep[] = "\n__ggml_vocab_test__\n";
    size_t seplen = sizeof sep - 1, pos = 0;
    while (pos < inp_len && V->n < 128) {
        char *next = strstr(V->inp + pos, sep);
        size_t end = next ? (size_t)(next - V->inp) : inp_len;
        V->str[V->n] = V->inp + pos;
        V->len[V->n] = end - pos;
        V->n++;
        if (!next) break;
        pos = end + seplen;
    }
    size_t k = 0;
    for (char *line = V->outp; line && *line && k < V->n; k++) {
        V->ids[k] = line;
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        line = nl ? nl + 1 : NULL;
    }
    for (; k < V->n; k++) V->ids[k] = "";
    return true;
}

static size_t parse_ids(const char *line, zeta_token *out, size_t cap) {
    size_t n = 0;
    char *end;
    for (;;) {
        long x = strtol(line, &end, 10);
        if (end == line || n == cap) break;
        out[n++] = (zeta_token)x;
        line = end;
    }
    return n;
}

static void check_vectors(const char *name) {
    char path[512];
    snprintf(path, sizeof path, VOCAB_DIR "%s", name);
    if (!file_exists(path)) T_SKIP("%s is not in the repository (only its vectors are)", name);
    vectors V;
    if (!read_vectors(name, &V)) {
        free(V.inp);
        free(V.outp);
        T_CHECKF(0, "cannot read the vectors of %s", name);
        return;
    }
    loaded L;
    if (!load(path, &L)) {
        free(V.inp);
        free(V.outp);
        T_CHECKF(0, "cannot load %s", name);
        return;
    }
    size_t pass = 0, first_fail = SIZE_MAX;
    zeta_token *expected = malloc(4096 * sizeof *expected);
    for (size_t i = 0; i < V.n; i++) {
        size_t ne = parse_ids(V.ids[i], expected, 4096), ng = 0;
        zeta_token *got = tokenize(L.v, V.str[i], V.len[i], false, false, &ng);
        bool ok = got && ng == ne && (ne == 0 || memcmp(got, expected, ne * sizeof *got) == 0);
        if (ok) pass++;
        else if (first_fail == SIZE_MAX) {
            first_fail = i;
            printf("    %s: string %zu '%.*s' mismatches\n", name, i, (int)(V.len[i] > 120 ? 120 : V.len[i]), V.str[i]);
            print_ids("expected", expected, ne);
            if (got) print_ids("got     ", got, ng);
        }
        free(got);
    }
    printf("    # %s: %zu/%zu strings match\n", name, pass, V.n);
    T_CHECKF(pass == V.n && V.n > 0, "%s: %zu of %zu strings tokenize as llama.cpp does", name, pass, V.n);
    free(expected);
    unload(&L);
    free(V.inp);
    free(V.outp);
}

#define VECTOR_CASE(fn, file) static void fn(void) { check_vectors(file); }
VECTOR_CASE(vectors_llama_spm, "ggml-vocab-llama-spm.gguf")
VECTOR_CASE(vectors_phi_3, "ggml-vocab-phi-3.gguf")
VECTOR_CASE(vectors_gpt_2, "ggml-vocab-gpt-2.gguf")
VECTOR_CASE(vectors_deepseek_coder, "ggml-vocab-deepseek-coder.gguf")
VECTOR_CASE(vectors_deepseek_llm, "ggml-vocab-deepseek-llm.gguf")
VECTOR_CASE(vectors_falcon, "ggml-vocab-falcon.gguf")
VECTOR_CASE(vectors_mpt, "ggml-vocab-mpt.gguf")
VECTOR_CASE(vectors_refact, "ggml-vocab-refact.gguf")
VECTOR_CASE(vectors_starcoder, "ggml-vocab-starcoder.gguf")
VECTOR_CASE(vectors_bert_bge, "ggml-vocab-bert-bge.gguf")
VECTOR_CASE(vectors_llama_bpe, "ggml-vocab-llama-bpe.gguf")
VECTOR_CASE(vectors_qwen2, "ggml-vocab-qwen2.gguf")
VECTOR_CASE(vectors_deepseek_r1_qwen, "ggml-vocab-deepseek-r1-qwen.gguf")
VECTOR_CASE(vectors_command_r, "ggml-vocab-command-r.gguf")
VECTOR_CASE(vectors_chameleon, "ggml-vocab-chameleon.gguf")
VECTOR_CASE(vectors_roberta_bpe, "ggml-vocab-roberta-bpe.gguf")

static const char *const k_vector_files[] = {
    "ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-deepseek-coder.gguf",
    "ggml-vocab-deepseek-llm.gguf", "ggml-vocab-falcon.gguf", "ggml-vocab-mpt.gguf", "ggml-vocab-refact.gguf",
    "ggml-vocab-starcoder.gguf", "ggml-vocab-bert-bge.gguf", "ggml-vocab-llama-bpe.gguf", "ggml-vocab-qwen2.gguf",
    "ggml-vocab-deepseek-r1-qwen.gguf", "ggml-vocab-command-r.gguf", "ggml-vocab-chameleon.gguf",
    "ggml-vocab-roberta-bpe.gguf", NULL};

/* Every .inp in the vocab folder has a case above. */
static void vectors_all_listed(void) {
    DIR *d = opendir(VOCAB_DIR);
    if (!d) T_SKIP("no %s", VOCAB_DIR);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".inp") != 0) continue;
        bool listed = false;
        for (const char *const *f = k_vector_files; *f; f++)
            if (strlen(*f) == n - 4 && strncmp(*f, e->d_name, n - 4) == 0) listed = true;
        T_CHECKF(listed, "%s has no test case", e->d_name);
    }
    closedir(d);
}

/* ---- goldens: prompt tokens ----------------------------------------------------------------- */

static void put_utf8(char **o, uint32_t cp) {
    char *p = *o;
    if (cp < 0x80) *p++ = (char)cp;
    else if (cp < 0x800) { *p++ = (char)(0xC0 | cp >> 6); *p++ = (char)(0x80 | (cp & 63)); }
    else if (cp < 0x10000) {
        *p++ = (char)(0xE0 | cp >> 12); *p++ = (char)(0x80 | ((cp >> 6) & 63)); *p++ = (char)(0x80 | (cp & 63));
    } else {
        *p++ = (char)(0xF0 | cp >> 18); *p++ = (char)(0x80 | ((cp >> 12) & 63));
        *p++ = (char)(0x80 | ((cp >> 6) & 63)); *p++ = (char)(0x80 | (cp & 63));
    }
    *o = p;
}

static uint32_t hex4(const char *s) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v = v * 16 + (uint32_t)(c >= '0' && c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
    }
    return v;
}

/* Position just after the value of top-level key `key` ("key": ...) in a JSON object, or NULL. */
static const char *json_find(const char *js, const char *key) {
    int depth = 0;
    size_t kl = strlen(key);
    for (const char *p = js; *p; p++) {
        if (*p == '"') {
            const char *s = p + 1;
            const char *q = s;
            while (*q && *q != '"') q += (*q == '\\' && q[1]) ? 2 : 1;
            if (!*q) return NULL;
            if (depth == 1 && (size_t)(q - s) == kl && strncmp(s, key, kl) == 0) {
                const char *c = q + 1;
                while (*c == ' ' || *c == '\n' || *c == '\t' || *c == '\r') c++;
                if (*c == ':') {
                    c++;
                    while (*c == ' ' || *c == '\n' || *c == '\t' || *c == '\r') c++;
                    return c;
                }
            }
            p = q;
        } else if (*p == '{' || *p == '[') depth++;
        else if (*p == '}' || *p == ']') depth--;
    }
    return NULL;
}

/* Decodes the JSON string at p (pointing at '"'); malloc'ed, length in *len. */
static char *json_string(const char *p, size_t *len) {
    if (*p != '"') return NULL;
    char *out = malloc(strlen(p) * 2 + 1), *o = out;
    if (!out) return NULL;
    for (p++; *p && *p != '"'; p++) {
        if (*p != '\\') { *o++ = *p; continue; }
        p++;
        switch (*p) {
        case 'n': *o++ = '\n'; break;
        case 't': *o++ = '\t'; break;
        case 'r': *o++ = '\r'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'u': {
            uint32_t cp = hex4(p + 1);
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p[1] == '\\' && p[2] == 'u') {
                uint32_t lo = hex4(p + 3);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            put_utf8(&o, cp);
            break;
        }
        default: *o++ = *p; break; /* \" \\ \/ */
        }
    }
    *len = (size_t)(o - out);
    *o = 0;
    return out;
}

static void golden_prompt_tokens(void) {
    DIR *d = opendir(GOLDEN_DIR);
    if (!d) T_SKIP("no %s", GOLDEN_DIR);
    size_t checked = 0, skipped = 0, matched = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char dir[512];
        snprintf(dir, sizeof dir, GOLDEN_DIR "%s", e->d_name);
        DIR *d2 = opendir(dir);
        if (!d2) continue;
        struct dirent *f;
        while ((f = readdir(d2))) {
            size_t n = strlen(f->d_name);
            if (n < 6 || strcmp(f->d_name + n - 5, ".json") != 0) continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, f->d_name);
            char *js = t_read_file(path, NULL);
            if (!js) continue;
            size_t plen = 0, mlen = 0;
            const char *pm = json_find(js, "model"), *pp = json_find(js, "prompt"), *pt = json_find(js, "tokens");
            char *model = pm ? json_string(pm, &mlen) : NULL;
            char *prompt = pp ? json_string(pp, &plen) : NULL;
            T_CHECKF(model && prompt && pt && *pt == '[', "%s: no model/prompt/tokens", path);
            char mpath[1024];
            snprintf(mpath, sizeof mpath, MODEL_DIR "%s", model ? model : "");
            if (!model || !prompt || !pt || !file_exists(mpath)) {
                skipped++;
                free(model);
                free(prompt);
                free(js);
                continue;
            }
            zeta_token expected[4096];
            size_t ne = 0;
            for (const char *q = pt + 1; *q && *q != ']' && ne < 4096;) {
                char *end;
                long x = strtol(q, &end, 10);
                if (end == q) { q++; continue; }
                expected[ne++] = (zeta_token)x;
                q = end;
            }
            loaded L;
            if (load(mpath, &L)) {
                size_t ng = 0;
                zeta_token *got = tokenize(L.v, prompt, plen, true, false, &ng);
                bool ok = got && ng == ne && memcmp(got, expected, ne * sizeof *got) == 0;
                T_CHECKF(ok, "%s: prompt tokens differ from llama.cpp's", path);
                if (!ok) {
                    print_ids("expected", expected, ne);
                    if (got) print_ids("got     ", got, ng);
                } else {
                    matched++;
                }
                /* and the prompt comes back from its tokens */
                if (got) {
                    size_t tl = 0;
                    char *text = detokenize(L.v, got, ng, false, &tl);
                    T_CHECKF(text && tl == plen && memcmp(text, prompt, plen) == 0, "%s: detokenize(tokenize(prompt)) "
                             "differs from the prompt", path);
                    free(text);
                }
                free(got);
                unload(&L);
                checked++;
            } else {
                T_CHECKF(0, "cannot load %s", mpath);
            }
            free(model);
            free(prompt);
            free(js);
        }
        closedir(d2);
    }
    closedir(d);
    printf("    # goldens: %zu prompt files checked (%zu match), %zu skipped (model file not in the repository)\n",
           checked, matched, skipped);
    T_CHECK(checked > 0);
}

/* ---- round trips ---------------------------------------------------------------------------- */

static void check_round_trip(const char *name, bool add_special) {
    char path[512];
    snprintf(path, sizeof path, VOCAB_DIR "%s", name);
    vectors V;
    if (!read_vectors(name, &V)) {
        free(V.inp);
        free(V.outp);
        T_CHECKF(0, "cannot read the vectors of %s", name);
        return;
    }
    loaded L;
    if (!load(path, &L)) {
        T_CHECKF(0, "cannot load %s", name);
        free(V.inp);
        free(V.outp);
        return;
    }
    size_t fails = 0;
    for (size_t i = 0; i < V.n; i++) {
        size_t n = 0, len = 0;
        zeta_token *t = tokenize(L.v, V.str[i], V.len[i], add_special, false, &n);
        char *s = t ? detokenize(L.v, t, n, false, &len) : NULL;
        if (!s || len != V.len[i] || memcmp(s, V.str[i], len) != 0) {
            if (!fails++) printf("    %s: string %zu '%.*s' came back as '%s'\n", name, i, (int)V.len[i], V.str[i], s ? s : "");
        }
        free(t);
        free(s);
    }
    T_CHECKF(fails == 0, "%s: %zu strings do not round-trip", name, fails);
    unload(&L);
    free(V.inp);
    free(V.outp);
}

static void round_trip_spm(void) {
    check_round_trip("ggml-vocab-llama-spm.gguf", false);
    check_round_trip("ggml-vocab-llama-spm.gguf", true);
    check_round_trip("ggml-vocab-phi-3.gguf", true);
}

static void round_trip_bpe(void) {
    static const char *const names[] = {"ggml-vocab-gpt-2.gguf", "ggml-vocab-deepseek-coder.gguf",
        "ggml-vocab-deepseek-llm.gguf", "ggml-vocab-falcon.gguf", "ggml-vocab-mpt.gguf", "ggml-vocab-refact.gguf",
        "ggml-vocab-starcoder.gguf"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        check_round_trip(names[i], false);
        check_round_trip(names[i], true);
    }
}

/* ---- special tokens, pieces, flags ---------------------------------------------------------- */

static void special_tokens(void) {
    loaded L;
    if (!file_exists(MODEL_DIR "synth-qwen2-F16.gguf")) T_SKIP("no synth-qwen2-F16.gguf");
    if (!load(MODEL_DIR "synth-qwen2-F16.gguf", &L)) { T_CHECK(0); return; }
    const zeta_vocab *v = L.v;
    T_CHECK(strcmp(vocab_model_name(v), "gpt2") == 0);
    T_CHECK(strcmp(vocab_pre_name(v), "qwen2") == 0);
    T_CHECK(!vocab_add_bos(v));
    const char *txt = "a<|endoftext|>b";
    size_t n1 = 0, n2 = 0;
    zeta_token *t1 = tokenize(v, txt, strlen(txt), false, true, &n1);
    zeta_token *t2 = tokenize(v, txt, strlen(txt), false, false, &n2);
    T_CHECK(t1 && t2);
    if (t1 && t2) {
        T_CHECKF(n1 == 3 && vocab_is_control(v, t1[1]) && vocab_is_eog(v, t1[1]), "parse_special: %zu tokens", n1);
        T_CHECKF(n2 > 3, "without parse_special the special text is plain text (%zu tokens)", n2);
        char piece[64];
        T_CHECK(vocab_token_piece(v, t1[1], false, piece, sizeof piece) == 0);
        size_t pn = vocab_token_piece(v, t1[1], true, piece, sizeof piece);
        T_CHECK(pn == 13 && memcmp(piece, "<|endoftext|>", 13) == 0);
        size_t len = 0;
        char *s = detokenize(v, t1, n1, true, &len);
        T_CHECK(s && strcmp(s, txt) == 0);
        free(s);
        s = detokenize(v, t1, n1, false, &len);
        T_CHECK(s && strcmp(s, "ab") == 0);
        free(s);
    }
    free(t1);
    free(t2);
    /* out-of-range pieces are empty; bad ids are rejected by detokenize */
    char buf[8];
    T_CHECK(vocab_token_piece(v, (zeta_token)vocab_n_tokens(v), true, buf, sizeof buf) == 0);
    T_CHECK(vocab_token_piece(v, -1, true, buf, sizeof buf) == 0);
    zeta_token bad = (zeta_token)vocab_n_tokens(v);
    size_t len = 0;
    zeta_error err;
    T_CHECK(vocab_detokenize(v, &bad, 1, false, buf, sizeof buf, &len, &err) == ZETA_ERR_INVALID_ARGUMENT);
    /* buffer too small: the size is reported */
    zeta_token one[1] = {-7};
    size_t n = 0;
    T_CHECK(vocab_tokenize(v, "hello world", 11, false, false, one, 1, &n, &err) == ZETA_ERR_BUFFER_TOO_SMALL && n >= 2);
    T_CHECK(one[0] == -7); /* nothing written */
    unload(&L);

    /* SPM: BOS added by default, EOS is end-of-generation, byte tokens render their byte */
    if (!load(VOCAB_DIR "ggml-vocab-llama-spm.gguf", &L)) { T_CHECK(0); return; }
    v = L.v;
    T_CHECK(vocab_add_bos(v) && !vocab_add_eos(v) && vocab_bos(v) == 1 && vocab_eos(v) == 2);
    T_CHECK(vocab_is_eog(v, 2) && !vocab_is_eog(v, 1) && vocab_is_control(v, 1));
    size_t nt = 0;
    zeta_token *t = tokenize(v, "Hello", 5, true, false, &nt);
    T_CHECK(t && nt == 2 && t[0] == 1 && t[1] == 15043);
    free(t);
    T_CHECK(vocab_token_piece(v, 3 + 0x41, false, buf, sizeof buf) == 1 && buf[0] == 'A'); /* <0x41> */
    T_CHECK(vocab_token_piece(v, 15043, false, buf, sizeof buf) == 6 && memcmp(buf, " Hello", 6) == 0);
    T_CHECK(vocab_token_piece(v, 15043, false, buf, 2) == 6 && memcmp(buf, " H", 2) == 0);
    unload(&L);
}

/* A copy of the gpt-2 vocabulary with tokenizer.ggml.pre renamed to something unknown still loads
 * and tokenizes like llama.cpp's default pre-tokenizer would. */
static void unknown_pre_falls_back(void) {
    size_t len = 0;
    char *data = t_read_file(VOCAB_DIR "ggml-vocab-gpt-2.gguf", &len);
    if (!data) T_SKIP("no gpt-2 vocab");
    const char key[] = "tokenizer.ggml.pre";
    char *k = NULL;
    for (size_t i = 0; i + sizeof key < len; i++)
        if (memcmp(data + i, key, sizeof key - 1) == 0) { k = data + i; break; }
    T_CHECK(k != NULL);
    if (k) {
        char *val = k + sizeof key - 1 + 4 + 8; /* type u32, length u64 */
        T_CHECK(memcmp(val, "gpt-2", 5) == 0);
        memcpy(val, "zzz-9", 5);
        gguf_file *g = NULL;
        zeta_vocab *v = NULL;
        zeta_error err;
        T_CHECK(gguf_open_memory(data, len, "patched-gpt-2", &g, &err) == ZETA_OK);
        if (g) {
            T_CHECKF(vocab_load(g, &v, &err) == ZETA_OK, "%s", err.message);
            if (v) {
                T_CHECK(strcmp(vocab_pre_name(v), "zzz-9") == 0);
                size_t n = 0;
                zeta_token *t = tokenize(v, "Hello world!!! 12345", 20, false, false, &n);
                T_CHECK(t && n > 0);
                size_t sl = 0;
                char *s = t ? detokenize(v, t, n, false, &sl) : NULL;
                T_CHECK(s && strcmp(s, "Hello world!!! 12345") == 0);
                free(s);
                free(t);
            }
            vocab_free(v);
            gguf_close(g);
        }
    }
    free(data);
}

/* ---- pre-tokenizers without a vocabulary file here ---------------------------------------- */

/* Word lengths (code points) from llama.cpp's expressions for each family, run with a backtracking
 * regex engine on llama.cpp's collapsed text (generated once with Python's re; 0 ends a list). */
static const struct pretok_case {
    pretok_type pre;
    const char *text;
    size_t words[48];
} k_pretok_cases[] = {
    {PRE_QWEN2,
     "HELLOworld \303\200\303\200\303\200 abcDEF they're THEY'RE 12345 \302\241\302\241hola!! \012"
     "\012  x",
     {10, 4, 7, 5, 3, 5, 3, 1, 1, 1, 1, 1, 1, 3, 4, 2, 3, 1, 2, 0}},
    {PRE_QWEN2,
     "\303\234n\303\257c\303\266d\303\251\314\201 caf\303\251  \011\302\240 na\303\257ve "
     "\344\270\255\346\226\207\352\260\200\353\202\230 \340\245\247\340\245\250\340\245\251 x"
     "\302\262+y\302\262 = z\342\200\246 'll\015\012\015\012",
     {7, 1, 5, 4, 6, 5, 1, 1, 1, 1, 2, 1, 2, 1, 2, 2, 1, 2, 2, 4, 0}},
    {PRE_QWEN2,
     "def f(a,b):\012    return a/b  # ok\077\012\012\012   end   ",
     {3, 2, 2, 2, 3, 3, 7, 2, 2, 1, 2, 3, 4, 2, 4, 3, 0}},
    {PRE_QWEN2,
     "I've been 'round: it's 42\302\260C \342\200\224 \342\200\234quoted\342\200\235, \343\200\214"
     "\346\227\245\346\234\254\350\252\236\343\200\215\343\200\201\343\200\202\357\274\201 A.B,C!D"
     "\077E",
     {1, 3, 5, 2, 5, 1, 3, 2, 1, 1, 1, 2, 2, 2, 6, 2, 2, 3, 4, 2, 2, 2, 2, 2, 0}},
    {PRE_QWEN35,
     "HELLOworld \303\200\303\200\303\200 abcDEF they're THEY'RE 12345 \302\241\302\241hola!! \012"
     "\012  x",
     {10, 4, 7, 5, 3, 5, 3, 1, 1, 1, 1, 1, 1, 3, 4, 2, 3, 1, 2, 0}},
    {PRE_QWEN35,
     "\303\234n\303\257c\303\266d\303\251\314\201 caf\303\251  \011\302\240 na\303\257ve "
     "\344\270\255\346\226\207\352\260\200\353\202\230 \340\245\247\340\245\250\340\245\251 x"
     "\302\262+y\302\262 = z\342\200\246 'll\015\012\015\012",
     {8, 5, 4, 6, 5, 1, 1, 1, 1, 2, 1, 2, 1, 2, 2, 1, 2, 2, 4, 0}},
    {PRE_QWEN35,
     "def f(a,b):\012    return a/b  # ok\077\012\012\012   end   ",
     {3, 2, 2, 2, 3, 3, 7, 2, 2, 1, 2, 3, 4, 2, 4, 3, 0}},
    {PRE_QWEN35,
     "I've been 'round: it's 42\302\260C \342\200\224 \342\200\234quoted\342\200\235, \343\200\214"
     "\346\227\245\346\234\254\350\252\236\343\200\215\343\200\201\343\200\202\357\274\201 A.B,C!D"
     "\077E",
     {1, 3, 5, 2, 5, 1, 3, 2, 1, 1, 1, 2, 2, 2, 6, 2, 2, 3, 4, 2, 2, 2, 2, 2, 0}},
    {PRE_SEED_CODER,
     "HELLOworld \303\200\303\200\303\200 abcDEF they're THEY'RE 12345 \302\241\302\241hola!! \012"
     "\012  x",
     {10, 4, 7, 5, 3, 5, 3, 1, 1, 1, 1, 1, 1, 3, 4, 2, 3, 1, 2, 0}},
    {PRE_SEED_CODER,
     "\303\234n\303\257c\303\266d\303\251\314\201 caf\303\251  \011\302\240 na\303\257ve "
     "\344\270\255\346\226\207\352\260\200\353\202\230 \340\245\247\340\245\250\340\245\251 x"
     "\302\262+y\302\262 = z\342\200\246 'll\015\012\015\012",
     {7, 1, 5, 4, 6, 5, 1, 1, 1, 1, 2, 1, 2, 1, 2, 2, 1, 2, 2, 4, 0}},
    {PRE_SEED_CODER,
     "def f(a,b):\012    return a/b  # ok\077\012\012\012   end   ",
     {3, 2, 2, 2, 2, 1, 3, 7, 2, 2, 1, 2, 3, 1, 3, 2, 4, 3, 0}},
    {PRE_SEED_CODER,
     "I've been 'round: it's 42\302\260C \342\200\224 \342\200\234quoted\342\200\235, \343\200\214"
     "\346\227\245\346\234\254\350\252\236\343\200\215\343\200\201\343\200\202\357\274\201 A.B,C!D"
     "\077E",
     {1, 3, 5, 2, 5, 1, 3, 2, 1, 1, 1, 2, 2, 2, 6, 2, 2, 3, 4, 2, 2, 2, 2, 2, 0}},
    {PRE_GPT4O,
     "HELLOworld \303\200\303\200\303\200 abcDEF they're THEY'RE 12345 \302\241\302\241hola!! \012"
     "\012  x",
     {10, 4, 4, 3, 8, 8, 1, 3, 2, 3, 4, 2, 3, 1, 2, 0}},
    {PRE_GPT4O,
     "\303\234n\303\257c\303\266d\303\251\314\201 caf\303\251  \011\302\240 na\303\257ve "
     "\344\270\255\346\226\207\352\260\200\353\202\230 \340\245\247\340\245\250\340\245\251 x"
     "\302\262+y\302\262 = z\342\200\246 'll\015\012\015\012",
     {7, 1, 5, 4, 6, 5, 1, 3, 2, 1, 2, 1, 2, 2, 1, 2, 2, 4, 0}},
    {PRE_GPT4O,
     "def f(a,b):\012    return a/b  # ok\077\012\012\012   end   ",
     {3, 2, 2, 2, 3, 3, 7, 2, 2, 1, 2, 3, 4, 2, 4, 3, 0}},
    {PRE_GPT4O,
     "I've been 'round: it's 42\302\260C \342\200\224 \342\200\234quoted\342\200\235, \343\200\214"
     "\346\227\245\346\234\254\350\252\236\343\200\215\343\200\201\343\200\202\357\274\201 A.B,C!D"
     "\077E",
     {4, 5, 2, 5, 1, 5, 1, 2, 2, 2, 2, 6, 2, 2, 3, 4, 2, 2, 2, 2, 2, 0}},
    {PRE_TEKKEN,
     "HELLOworld \303\200\303\200\303\200 abcDEF they're THEY'RE 12345 \302\241\302\241hola!! \012"
     "\012  x",
     {10, 4, 4, 3, 5, 3, 5, 3, 1, 1, 1, 1, 1, 1, 3, 4, 2, 3, 1, 2, 0}},
    {PRE_TEKKEN,
     "\303\234n\303\257c\303\266d\303\251\314\201 caf\303\251  \011\302\240 na\303\257ve "
     "\344\270\255\346\226\207\352\260\200\353\202\230 \340\245\247\340\245\250\340\245\251 x"
     "\302\262+y\302\262 = z\342\200\246 'll\015\012\015\012",
     {7, 1, 5, 4, 6, 5, 1, 1, 1, 1, 2, 1, 2, 1, 2, 2, 1, 2, 2, 4, 0}},
    {PRE_TEKKEN,
     "def f(a,b):\012    return a/b  # ok\077\012\012\012   end   ",
     {3, 2, 2, 2, 3, 3, 7, 2, 2, 1, 2, 3, 4, 2, 4, 3, 0}},
    {PRE_TEKKEN,
     "I've been 'round: it's 42\302\260C \342\200\224 \342\200\234quoted\342\200\235, \343\200\214"
     "\346\227\245\346\234\254\350\252\236\343\200\215\343\200\201\343\200\202\357\274\201 A.B,C!D"
     "\077E",
     {1, 3, 5, 2, 5, 1, 3, 2, 1, 1, 1, 2, 2, 2, 6, 2, 2, 3, 4, 2, 2, 2, 2, 2, 0}},
    {PRE_BLOOM,
     "HELLOworld \303\200\303\200\303\200 abcDEF they're THEY'RE 12345 \302\241\302\241hola!! \012"
     "\012  x",
     {10, 4, 7, 8, 8, 6, 7, 6, 2, 0}},
    {PRE_BLOOM,
     "\303\234n\303\257c\303\266d\303\251\314\201 caf\303\251  \011\302\240 na\303\257ve "
     "\344\270\255\346\226\207\352\260\200\353\202\230 \340\245\247\340\245\250\340\245\251 x"
     "\302\262+y\302\262 = z\342\200\246 'll\015\012\015\012",
     {8, 5, 4, 6, 5, 4, 6, 2, 2, 1, 4, 4, 0}},
    {PRE_BLOOM,
     "def f(a,b):\012    return a/b  # ok\077\012\012\012   end   ",
     {3, 2, 1, 1, 1, 1, 1, 1, 4, 7, 4, 1, 2, 3, 6, 4, 3, 0}},
    {PRE_BLOOM,
     "I've been 'round: it's 42\302\260C \342\200\224 \342\200\234quoted\342\200\235, \343\200\214"
     "\346\227\245\346\234\254\350\252\236\343\200\215\343\200\201\343\200\202\357\274\201 A.B,C!D"
     "\077E",
     {4, 5, 8, 5, 5, 2, 9, 1, 6, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0}},
    {PRE_VIKING,
     "HELLOworld \303\200\303\200\303\200 abcDEF they're THEY'RE 12345 \302\241\302\241hola!! \012"
     "\012  x",
     {10, 4, 7, 8, 8, 1, 1, 1, 1, 1, 1, 7, 6, 2, 0}},
    {PRE_VIKING,
     "\303\234n\303\257c\303\266d\303\251\314\201 caf\303\251  \011\302\240 na\303\257ve "
     "\344\270\255\346\226\207\352\260\200\353\202\230 \340\245\247\340\245\250\340\245\251 x"
     "\302\262+y\302\262 = z\342\200\246 'll\015\012\015\012",
     {8, 5, 4, 6, 5, 1, 1, 1, 1, 2, 1, 2, 1, 2, 2, 1, 4, 4, 0}},
    {PRE_VIKING,
     "def f(a,b):\012    return a/b  # ok\077\012\012\012   end   ",
     {3, 2, 1, 1, 1, 1, 1, 1, 4, 7, 4, 1, 2, 3, 6, 4, 3, 0}},
    {PRE_VIKING,
     "I've been 'round: it's 42\302\260C \342\200\224 \342\200\234quoted\342\200\235, \343\200\214"
     "\346\227\245\346\234\254\350\252\236\343\200\215\343\200\201\343\200\202\357\274\201 A.B,C!D"
     "\077E",
     {4, 5, 8, 5, 1, 1, 1, 2, 2, 9, 1, 6, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0}},
    {PRE_DEEPSEEK_CODER,
     "HELLOworld \303\200\303\200\303\200 abcDEF they're THEY'RE 12345 \302\241\302\241hola!! \012"
     "\012  x",
     {10, 4, 7, 5, 1, 2, 5, 1, 2, 1, 1, 1, 1, 1, 1, 3, 4, 2, 1, 1, 1, 1, 2, 0}},
    {PRE_DEEPSEEK_CODER,
     "\303\234n\303\257c\303\266d\303\251\314\201 caf\303\251  \011\302\240 na\303\257ve "
     "\344\270\255\346\226\207\352\260\200\353\202\230 \340\245\247\340\245\250\340\245\251 x"
     "\302\262+y\302\262 = z\342\200\246 'll\015\012\015\012",
     {7, 1, 5, 4, 6, 1, 4, 1, 1, 1, 1, 2, 1, 1, 1, 1, 2, 2, 1, 2, 2, 1, 1, 1, 1, 0}},
    {PRE_DEEPSEEK_CODER,
     "def f(a,b):\012    return a/b  # ok\077\012\012\012   end   ",
     {3, 2, 1, 1, 1, 1, 2, 1, 3, 7, 2, 1, 1, 1, 2, 3, 1, 1, 1, 1, 2, 4, 3, 0}},
    {PRE_DEEPSEEK_CODER,
     "I've been 'round: it's 42\302\260C \342\200\224 \342\200\234quoted\342\200\235, \343\200\214"
     "\346\227\245\346\234\254\350\252\236\343\200\215\343\200\201\343\200\202\357\274\201 A.B,C!D"
     "\077E",
     {1, 1, 2, 5, 2, 5, 1, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 6, 1, 1, 1, 1, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0}},
    {PRE_DEEPSEEK_LLM,
     "HELLOworld \303\200\303\200\303\200 abcDEF they're THEY'RE 12345 \302\241\302\241hola!! \012"
     "\012  x",
     {10, 4, 7, 5, 1, 2, 5, 1, 2, 1, 5, 3, 4, 2, 1, 1, 1, 1, 2, 0}},
    {PRE_DEEPSEEK_LLM,
     "\303\234n\303\257c\303\266d\303\251\314\201 caf\303\251  \011\302\240 na\303\257ve "
     "\344\270\255\346\226\207\352\260\200\353\202\230 \340\245\247\340\245\250\340\245\251 x"
     "\302\262+y\302\262 = z\342\200\246 'll\015\012\015\012",
     {1, 1, 1, 1, 1, 1, 1, 1, 4, 1, 4, 3, 1, 2, 1, 4, 1, 3, 2, 1, 1, 1, 1, 2, 2, 1, 2, 2, 1, 1, 1, 1, 0}},
    {PRE_DEEPSEEK_LLM,
     "def f(a,b):\012    return a/b  # ok\077\012\012\012   end   ",
     {3, 2, 1, 1, 1, 1, 2, 1, 3, 7, 2, 1, 1, 1, 2, 3, 1, 1, 1, 1, 2, 4, 3, 0}},
    {PRE_DEEPSEEK_LLM,
     "I've been 'round: it's 42\302\260C \342\200\224 \342\200\234quoted\342\200\235, \343\200\214"
     "\346\227\245\346\234\254\350\252\236\343\200\215\343\200\201\343\200\202\357\274\201 A.B,C!D"
     "\077E",
     {1, 1, 2, 5, 2, 5, 1, 3, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 6, 1, 1, 1, 5, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0}},
};

static void pretok_families(void) {
    for (size_t c = 0; c < sizeof k_pretok_cases / sizeof k_pretok_cases[0]; c++) {
        const struct pretok_case *pc = &k_pretok_cases[c];
        size_t len = strlen(pc->text), n = 0;
        uint32_t cps[512];
        uint16_t fl[512];
        for (size_t p = 0; p < len && n < 512; n++) {
            cps[n] = uni_decode(pc->text, len, &p);
            fl[n] = uni_flags(cps[n]);
        }
        size_vec w = {0};
        T_CHECK(pretok_split(pc->pre, cps, fl, n, &w) == ZETA_OK);
        size_t ne = 0;
        while (pc->words[ne]) ne++;
        bool ok = w.n == ne;
        for (size_t i = 0; ok && i < ne; i++) ok = w.v[i] == pc->words[i];
        T_CHECKF(ok, "case %zu (pre %d): %zu words, expected %zu", c, (int)pc->pre, w.n, ne);
        free(w.v);
    }
}

/* ---- robustness ----------------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static const char *const k_all_vocabs[] = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf",
    "ggml-vocab-baichuan.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-deepseek-coder.gguf",
    "ggml-vocab-deepseek-llm.gguf", "ggml-vocab-falcon.gguf", "ggml-vocab-mpt.gguf", "ggml-vocab-refact.gguf",
    "ggml-vocab-starcoder.gguf", "ggml-vocab-gpt-neox.gguf", "ggml-vocab-bert-bge.gguf", NULL};

static void random_bytes_never_crash(void) {
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    char text[512];
    size_t total = 0;
    for (const char *const *f = k_all_vocabs; *f; f++) {
        char path[512];
        snprintf(path, sizeof path, VOCAB_DIR "%s", *f);
        loaded L;
        if (!file_exists(path) || !load(path, &L)) continue;
        for (int it = 0; it < 300; it++) {
            size_t n = rng_next(&seed) % sizeof text;
            for (size_t i = 0; i < n; i++) {
                uint64_t r = rng_next(&seed);
                /* mix of raw bytes, ASCII and pieces of special tokens */
                text[i] = (r & 3) == 0 ? (char)(r >> 8) : (r & 3) == 1 ? "<|>/ sa\n\t0'"[(r >> 8) % 11] : (char)(0x80 + (r >> 8) % 64);
            }
            size_t nt = 0, nl = 0;
            zeta_token *t = tokenize(L.v, text, n, it & 1, it & 2, &nt);
            T_CHECK(t != NULL);
            for (size_t i = 0; t && i < nt; i++) T_CHECK(t[i] >= 0 && (uint32_t)t[i] < vocab_n_tokens(L.v));
            char *s = t ? detokenize(L.v, t, nt, it & 4, &nl) : NULL;
            free(s);
            free(t);
            total++;
        }
        unload(&L);
    }
    T_CHECK(total > 0);
}

/* ~1 MB inputs: ordinary text and degenerate runs must stay fast (no quadratic paths). */
static void long_inputs(void) {
    size_t base_len = 0;
    char *base = t_read_file("tests/data/tinystories-valid-first46.txt", &base_len);
    if (!base) T_SKIP("no tinystories text");
    size_t cap = 1 << 20;
    char *text = malloc(cap);
    size_t n = 0;
    while (n + base_len <= cap) { memcpy(text + n, base, base_len); n += base_len; }
    static const char *const names[] = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-bert-bge.gguf"};
    for (size_t k = 0; k < 3; k++) {
        char path[512];
        snprintf(path, sizeof path, VOCAB_DIR "%s", names[k]);
        loaded L;
        if (!load(path, &L)) { T_CHECK(0); continue; }
        for (int kind = 0; kind < 4; kind++) {
            size_t len = n;
            char *in = text;
            char *deg = NULL;
            if (kind) { /* 256 KB runs: a quadratic path would take minutes */
                len = cap / 4;
                deg = malloc(len);
                memset(deg, kind == 1 ? 'a' : kind == 2 ? ' ' : '7', len);
                in = deg;
            }
            clock_t c0 = clock();
            size_t nt = 0;
            zeta_token *t = tokenize(L.v, in, len, false, true, &nt);
            double sec = (double)(clock() - c0) / CLOCKS_PER_SEC;
            T_CHECK(t && (nt > 0 || (kind == 2 && k == 2))); /* WordPiece drops whitespace */
            printf("    # %s, %s: %zu bytes -> %zu tokens in %.2f s\n", names[k],
                   kind == 0 ? "text" : kind == 1 ? "'a' run" : kind == 2 ? "space run" : "digit run", len, nt, sec);
            if (kind == 0 && t && k < 2) {
                size_t sl = 0;
                char *s = detokenize(L.v, t, nt, true, &sl); /* the text holds <|endoftext|> */
                T_CHECK(s && sl == len && memcmp(s, in, len) == 0);
                free(s);
            }
            free(t);
            free(deg);
        }
        unload(&L);
    }
    free(text);
    free(base);
}

int main(void) {
    T_RUN(vectors_llama_spm);
    T_RUN(vectors_phi_3);
    T_RUN(vectors_gpt_2);
    T_RUN(vectors_deepseek_coder);
    T_RUN(vectors_deepseek_llm);
    T_RUN(vectors_falcon);
    T_RUN(vectors_mpt);
    T_RUN(vectors_refact);
    T_RUN(vectors_starcoder);
    T_RUN(vectors_bert_bge);
    T_RUN(vectors_llama_bpe);
    T_RUN(vectors_qwen2);
    T_RUN(vectors_deepseek_r1_qwen);
    T_RUN(vectors_command_r);
    T_RUN(vectors_chameleon);
    T_RUN(vectors_roberta_bpe);
    T_RUN(vectors_all_listed);
    T_RUN(golden_prompt_tokens);
    T_RUN(round_trip_spm);
    T_RUN(round_trip_bpe);
    T_RUN(special_tokens);
    T_RUN(unknown_pre_falls_back);
    T_RUN(pretok_families);
    T_RUN(random_bytes_never_crash);
    T_RUN(long_inputs);
    return t_done();
}
