/* test_chat.c — tests of src/chat.c against llama.cpp's llama_chat_apply_template (commit d32676d77):
 * detection of real template texts, of every llama.cpp built-in name and of probes for the order of
 * its rules (tests/data/chat/detect.tsv), the rendering of every template for every conversation,
 * with and without the assistant opening (conversations.txt, expected.tsv), the alias "mistral",
 * size queries, bad arguments, zeta_model_chat_template on models with and without a template, and
 * the end-of-turn strings. tests/data/chat/README.md says how the reference data was made. */
#include "gguf_write.h"
#include "test.h"
#include "zeta.h"

#include <unistd.h>

#define DATA "tests/data/chat/"
#define MAX_CONVS 32
#define MAX_MSGS 32

#define DS_EOS "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>" /* <｜end▁of▁sentence｜> */

/* zeta_chat_templates() in its order, with each name's end of turn */
static const struct {
    const char *name, *eot;
} k_tmpl[] = {
    {"chatml", "<|im_end|>"},
    {"llama2", "</s>"},
    {"llama2-sys", "</s>"},
    {"llama2-sys-bos", "</s>"},
    {"llama2-sys-strip", "</s>"},
    {"llama3", "<|eot_id|>"},
    {"llama4", "<|eot|>"},
    {"mistral-v1", "</s>"},
    {"mistral-v3", "</s>"},
    {"mistral-v3-tekken", "</s>"},
    {"mistral-v7", "</s>"},
    {"mistral-v7-tekken", "</s>"},
    {"gemma", "<end_of_turn>"},
    {"phi3", "<|end|>"},
    {"phi4", "<|im_end|>"},
    {"zephyr", "<|endoftext|>"},
    {"glmedge", "<|user|>"},
    {"falcon3", "<|user|>"},
    {"deepseek", "<|EOT|>"},
    {"deepseek2", DS_EOS},
    {"deepseek3", DS_EOS},
    {"command-r", "<|END_OF_TURN_TOKEN|>"},
    {"granite", "<|end_of_text|>"},
    {"granite-4.0", "<|end_of_text|>"},
    {"granite-4.1", "<|end_of_text|>"},
    {"exaone3", "[|endofturn|]"},
    {"exaone4", "[|endofturn|]"},
    {"openchat", "<|end_of_turn|>"},
    {"vicuna", "</s>"},
    {"vicuna-orca", "</s>"},
};
#define N_TMPL ((int)(sizeof k_tmpl / sizeof k_tmpl[0]))

static int tmpl_index(const char *name) {
    for (int i = 0; i < N_TMPL; i++)
        if (strcmp(name, k_tmpl[i].name) == 0) return i;
    return -1;
}

/* Decodes the escapes of the data files (\n \t \r \\ \xHH) into a malloc'ed, NUL-terminated copy;
 * *len (if set) gets the length, which may count NUL bytes. */
static char *unescape(const char *s, size_t n, size_t *len) {
    char *o = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 == n) { o[k++] = s[i]; continue; }
        char c = s[++i];
        if (c == 'n') o[k++] = '\n';
        else if (c == 't') o[k++] = '\t';
        else if (c == 'r') o[k++] = '\r';
        else if (c == 'x' && i + 2 < n) {
            char hex[3] = {s[i + 1], s[i + 2], 0};
            o[k++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else o[k++] = c;
    }
    o[k] = 0;
    if (len) *len = k;
    return o;
}

/* Splits a line at tabs into at most max fields (in place); returns the count. */
static int split_tabs(char *line, char **f, int max) {
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == '\t') { *p = 0; f[n++] = p + 1; }
    return n;
}

/* Next line of *p (in place, without its '\n'); NULL at the end. */
static char *next_line(char **p) {
    if (!*p || !**p) return NULL;
    char *line = *p, *nl = strchr(line, '\n');
    if (nl) { *nl = 0; *p = nl + 1; } else *p = line + strlen(line);
    return line;
}

typedef struct conv {
    char name[64];
    zeta_chat_message msgs[MAX_MSGS];
    size_t n;
} conv;

static conv g_convs[MAX_CONVS];
static int g_n_convs;

static int load_convs(void) {
    if (g_n_convs) return 1;
    char *text = t_read_file(DATA "conversations.txt", NULL), *p = text, *line;
    if (!text) return 0;
    while ((line = next_line(&p))) {
        if (!*line || *line == '#') continue;
        if (strncmp(line, "conv ", 5) == 0) {
            if (g_n_convs == MAX_CONVS) break;
            snprintf(g_convs[g_n_convs++].name, sizeof g_convs[0].name, "%s", line + 5);
            continue;
        }
        char *f[2];
        conv *c = g_n_convs ? &g_convs[g_n_convs - 1] : NULL;
        if (split_tabs(line, f, 2) != 2 || !c || c->n == MAX_MSGS) { free(text); return 0; }
        c->msgs[c->n].role = unescape(f[0], strlen(f[0]), NULL);
        c->msgs[c->n].content = unescape(f[1], strlen(f[1]), NULL);
        c->n++;
    }
    free(text);
    return g_n_convs > 0;
}

static const conv *find_conv(const char *name) {
    for (int i = 0; i < g_n_convs; i++)
        if (strcmp(g_convs[i].name, name) == 0) return &g_convs[i];
    return NULL;
}

/* zeta_chat_apply into a malloc'ed buffer of the size it asks for; NULL on failure. */
static char *render(const char *name, const zeta_chat_message *msgs, size_t n, bool add, size_t *len) {
    zeta_error err;
    size_t need = 0;
    if (zeta_chat_apply(name, msgs, n, add, NULL, 0, &need, &err) != ZETA_ERR_BUFFER_TOO_SMALL) return NULL;
    char *buf = malloc(need + 1);
    size_t got = 0;
    if (zeta_chat_apply(name, msgs, n, add, buf, need + 1, &got, &err) != ZETA_OK || got != need || buf[need] != 0) {
        free(buf);
        return NULL;
    }
    if (len) *len = got;
    return buf;
}

static void names_and_end_of_turn(void) {
    /* the list is exactly ours, in order, comma-separated */
    char want[1024] = "";
    for (int i = 0; i < N_TMPL; i++) {
        if (i) strcat(want, ", ");
        strcat(want, k_tmpl[i].name);
    }
    T_CHECKF(strcmp(zeta_chat_templates(), want) == 0, "zeta_chat_templates() is '%s'", zeta_chat_templates());
    T_CHECK(zeta_chat_templates() == zeta_chat_templates());
    zeta_chat_message hi = {"user", "hi"};
    for (int i = 0; i < N_TMPL; i++) {
        const char *name = k_tmpl[i].name, *eot = zeta_chat_end_of_turn(name);
        T_CHECKF(eot && strcmp(eot, k_tmpl[i].eot) == 0, "%s: end of turn '%s'", name, eot ? eot : "(null)");
        T_CHECK(eot == zeta_chat_end_of_turn(name));
        size_t len = 0;
        char *s = render(name, &hi, 1, true, &len);
        T_CHECKF(s != NULL && len > 2, "%s", name);
        /* the end of turn follows an assistant's content, before the next user turn's */
        zeta_chat_message two[2] = {{"assistant", "@A@"}, {"user", "@B@"}};
        char *t = render(name, two, 2, false, NULL);
        const char *a = t ? strstr(t, "@A@") : NULL, *b = a ? strstr(a, "@B@") : NULL, *e = a ? strstr(a + 3, k_tmpl[i].eot) : NULL;
        T_CHECKF(a && b && e && e < b, "%s: '%s' has no '%s' between the turns", name, t ? t : "(null)", k_tmpl[i].eot);
        free(s);
        free(t);
    }
    /* ZetaLm's alias: mistral-v3's end of turn, not in the list */
    T_CHECK(zeta_chat_end_of_turn("mistral") && strcmp(zeta_chat_end_of_turn("mistral"), "</s>") == 0);
    T_CHECK(tmpl_index("mistral") < 0 && strstr(zeta_chat_templates(), ", mistral,") == NULL);
    T_CHECK(zeta_chat_end_of_turn(NULL) == NULL);
    T_CHECK(zeta_chat_end_of_turn("") == NULL);
    T_CHECK(zeta_chat_end_of_turn("ChatML") == NULL);
    T_CHECK(zeta_chat_end_of_turn("monarch") == NULL);   /* llama.cpp's, not rendered here */
    T_CHECK(zeta_chat_end_of_turn("mistral-v3 ") == NULL);
    T_CHECK(zeta_chat_end_of_turn("Mistral") == NULL);
}

/* Every row of detect.tsv: a template file or an (escaped) text, and the name ZetaLm must give. */
static void detect_reference(void) {
    char *text = t_read_file(DATA "detect.tsv", NULL), *p = text, *line;
    if (!text) { T_CHECKF(0, "cannot read " DATA "detect.tsv"); return; }
    int rows = 0, files = 0, by_file[N_TMPL] = {0}, by_probe[N_TMPL] = {0};
    while ((line = next_line(&p))) {
        if (!*line || *line == '#') continue;
        char *f[4];
        if (split_tabs(line, f, 4) != 4) { T_CHECKF(0, "bad row '%s'", line); continue; }
        const char *want = strcmp(f[3], "-") == 0 ? NULL : f[3];
        int k = want ? tmpl_index(want) : -1;
        T_CHECKF(!want || k >= 0, "detect.tsv wants '%s', not one of ours", want);
        /* the data's own consistency: ours is llama.cpp's name whenever we render that template */
        T_CHECKF(want ? strcmp(want, f[2]) == 0 : tmpl_index(f[2]) < 0, "row '%s': llama.cpp %s, want %s", f[1], f[2], f[3]);
        char *tmpl;
        if (strcmp(f[0], "file") == 0) {
            char path[512];
            snprintf(path, sizeof path, DATA "templates/%s", f[1]);
            tmpl = t_read_file(path, NULL);
            if (!tmpl) { T_CHECKF(0, "cannot read %s", path); continue; }
            files++;
            if (k >= 0) by_file[k]++;
        } else {
            tmpl = unescape(f[1], strlen(f[1]), NULL);
            if (k >= 0 && strcmp(tmpl, want) != 0) by_probe[k]++; /* a probe, not the name itself */
        }
        const char *got = zeta_chat_template_detect(tmpl);
        T_CHECKF(want ? got && strcmp(got, want) == 0 : got == NULL, "%s '%s' (llama.cpp: %s): got %s, want %s", f[0], f[1], f[2],
                 got ? got : "NULL", want ? want : "NULL");
        free(tmpl);
        rows++;
    }
    free(text);
    T_CHECKF(rows >= 200 && files >= 50, "%d rows, %d template files", rows, files);
    /* every template is reached by llama.cpp's rules from something other than its name, except
     * mistral-v7-tekken, which llama.cpp only ever takes by name */
    for (int i = 0; i < N_TMPL; i++)
        if (strcmp(k_tmpl[i].name, "mistral-v7-tekken") != 0)
            T_CHECKF(by_file[i] + by_probe[i] > 0, "nothing in detect.tsv is detected as %s", k_tmpl[i].name);
    /* the families' real templates: a file for each of these */
    static const char *const with_file[] = {"chatml", "llama2", "llama2-sys-bos", "llama2-sys-strip", "llama3", "mistral-v1",
                                            "mistral-v3", "mistral-v3-tekken", "mistral-v7", "gemma", "phi3", "phi4", "zephyr",
                                            "glmedge", "deepseek", "deepseek2", "deepseek3", "command-r", "granite",
                                            "granite-4.0", "granite-4.1", "openchat", "vicuna", "vicuna-orca"};
    for (size_t i = 0; i < sizeof with_file / sizeof with_file[0]; i++)
        T_CHECKF(by_file[tmpl_index(with_file[i])] > 0, "no template file detected as %s", with_file[i]);
}

static void detect_null_empty_unknown(void) {
    T_CHECK(zeta_chat_template_detect(NULL) == NULL);
    T_CHECK(zeta_chat_template_detect("") == NULL);
    T_CHECK(zeta_chat_template_detect("{{ messages }}") == NULL);
    T_CHECK(zeta_chat_template_detect("INVALID TEMPLATE") == NULL);
    T_CHECK(zeta_chat_template_detect("monarch") == NULL); /* llama.cpp's name of a template not rendered here */
    /* the names come back as the library's own strings */
    for (int i = 0; i < N_TMPL; i++) {
        const char *got = zeta_chat_template_detect(k_tmpl[i].name);
        T_CHECKF(got && strcmp(got, k_tmpl[i].name) == 0, "%s", k_tmpl[i].name);
        T_CHECK(got == zeta_chat_template_detect(k_tmpl[i].name));
    }
    /* the alias is not a detection result: llama.cpp reads the text "mistral" as llama2 */
    const char *got = zeta_chat_template_detect("mistral");
    T_CHECKF(got && strcmp(got, "llama2") == 0, "got %s", got ? got : "NULL");
}

/* Renders and compares one case; returns whether ZetaLm's text is llama.cpp's. */
static bool same_rendering(const char *name, const conv *c, bool add, const char *want, size_t want_len) {
    size_t got_len = 0;
    char *got = render(name, c->msgs, c->n, add, &got_len);
    bool same = got && got_len == want_len && memcmp(got, want, want_len) == 0;
    if (!same)
        T_CHECKF(0, "%s / %s / add_assistant %d:\n      want '%s'\n      got  '%s'", name, c->name, add, want,
                 got ? got : "(error)");
    free(got);
    return same;
}

/* Every row of expected.tsv: template, conversation, llama.cpp's text without the assistant
 * opening, and what add_assistant appends to it. The alias "mistral" must give mistral-v3's. */
static void render_reference(void) {
    if (!load_convs()) { T_CHECKF(0, "cannot read " DATA "conversations.txt"); return; }
    char *text = t_read_file(DATA "expected.tsv", NULL), *p = text, *line;
    if (!text) { T_CHECKF(0, "cannot read " DATA "expected.tsv"); return; }
    int rows = 0, bad = 0, per_name[N_TMPL] = {0};
    while ((line = next_line(&p))) {
        if (!*line || *line == '#') continue;
        char *f[4];
        int nf = split_tabs(line, f, 4);
        if (nf < 2) { T_CHECKF(0, "bad row '%s'", line); continue; }
        for (; nf < 4; nf++) f[nf] = f[1] + strlen(f[1]); /* empty last fields whose tabs an editor stripped */
        const conv *c = find_conv(f[1]);
        int k = tmpl_index(f[0]);
        if (!c || k < 0) { T_CHECKF(0, "unknown conversation '%s' or template '%s'", f[1], f[0]); continue; }
        per_name[k]++;
        size_t len0, len_open;
        char *want0 = unescape(f[2], strlen(f[2]), &len0), *open = unescape(f[3], strlen(f[3]), &len_open);
        char *want1 = malloc(len0 + len_open + 1);
        memcpy(want1, want0, len0);
        memcpy(want1 + len0, open, len_open + 1);
        for (int add = 0; add < 2 && bad < 5; add++) {
            const char *want = add ? want1 : want0;
            size_t want_len = add ? len0 + len_open : len0;
            bad += !same_rendering(f[0], c, add, want, want_len);
            if (k == tmpl_index("mistral-v3")) bad += !same_rendering("mistral", c, add, want, want_len);
        }
        rows++;
        free(want0);
        free(open);
        free(want1);
    }
    free(text);
    T_CHECKF(bad == 0, "renderings differ (the first 5 shown)");
    for (int i = 0; i < N_TMPL; i++)
        T_CHECKF(per_name[i] == g_n_convs, "%s: %d rows for %d conversations", k_tmpl[i].name, per_name[i], g_n_convs);
    T_CHECKF(rows == N_TMPL * g_n_convs && g_n_convs >= 11, "%d rows for %d conversations", rows, g_n_convs);
}

static void size_query(void) {
    if (!load_convs()) { T_CHECKF(0, "cannot read " DATA "conversations.txt"); return; }
    const conv *c = find_conv("unicode");
    T_CHECK(c != NULL);
    if (!c) return;
    for (int i = 0; i < N_TMPL; i++) {
        zeta_error err;
        size_t len = 0, n_out = 12345;
        T_CHECK(zeta_chat_apply(k_tmpl[i].name, c->msgs, c->n, true, NULL, 0, &len, &err) == ZETA_ERR_BUFFER_TOO_SMALL);
        T_CHECK(err.status == ZETA_ERR_BUFFER_TOO_SMALL && strstr(err.message, "cap"));
        T_CHECK(len > 0);
        char *buf = malloc(len + 8);
        /* cap == len: no room for the NUL, nothing written */
        memset(buf, 0x5A, len + 8);
        T_CHECK(zeta_chat_apply(k_tmpl[i].name, c->msgs, c->n, true, buf, len, &n_out, &err) == ZETA_ERR_BUFFER_TOO_SMALL);
        T_CHECK(n_out == len);
        bool untouched = true;
        for (size_t k = 0; k < len + 8; k++) untouched &= buf[k] == 0x5A;
        T_CHECKF(untouched, "%s: a too-small buffer was written", k_tmpl[i].name);
        /* cap == len + 1: fits exactly, the NUL lands in the last byte and nothing beyond */
        T_CHECK(zeta_chat_apply(k_tmpl[i].name, c->msgs, c->n, true, buf, len + 1, &n_out, &err) == ZETA_OK);
        T_CHECK(err.status == ZETA_OK && err.message[0] == 0);
        T_CHECK(n_out == len && buf[len] == 0 && strlen(buf) == len);
        for (size_t k = len + 1; k < len + 8; k++) T_CHECK(buf[k] == 0x5A);
        /* n_out and err may be NULL */
        T_CHECK(zeta_chat_apply(k_tmpl[i].name, c->msgs, c->n, true, buf, len + 8, NULL, NULL) == ZETA_OK);
        T_CHECK(zeta_chat_apply(k_tmpl[i].name, c->msgs, c->n, true, buf, 1, NULL, NULL) == ZETA_ERR_BUFFER_TOO_SMALL);
        free(buf);
    }
    /* an empty conversation: msgs may be NULL */
    char buf[64];
    size_t n_out = 0;
    T_CHECK(zeta_chat_apply("chatml", NULL, 0, true, buf, sizeof buf, &n_out, NULL) == ZETA_OK);
    T_CHECK(strcmp(buf, "<|im_start|>assistant\n") == 0 && n_out == 22);
    T_CHECK(zeta_chat_apply("chatml", NULL, 0, false, buf, sizeof buf, &n_out, NULL) == ZETA_OK);
    T_CHECK(buf[0] == 0 && n_out == 0);
    T_CHECK(zeta_chat_apply("chatml", NULL, 0, false, buf, 1, &n_out, NULL) == ZETA_OK && buf[0] == 0);
}

/* Calls zeta_chat_apply expecting ZETA_ERR_INVALID_ARGUMENT with `needle` in the message. */
static void expect_invalid(const char *name, const zeta_chat_message *msgs, size_t n, char *buf, size_t cap, const char *needle,
                           int line) {
    zeta_error err;
    size_t n_out = 777;
    memset(&err, 0, sizeof err);
    zeta_status st = zeta_chat_apply(name, msgs, n, true, buf, cap, &n_out, &err);
    T_CHECKF(st == ZETA_ERR_INVALID_ARGUMENT && err.status == st, "line %d: status %s", line, zeta_status_name(st));
    T_CHECKF(strstr(err.message, needle) != NULL, "line %d: message '%s' lacks '%s'", line, err.message, needle);
    T_CHECKF(n_out == 0, "line %d: n_out %zu", line, n_out);
    T_CHECK(zeta_chat_apply(name, msgs, n, true, buf, cap, NULL, NULL) == ZETA_ERR_INVALID_ARGUMENT);
}

static void bad_arguments(void) {
    char buf[256];
    memset(buf, 0x5A, sizeof buf);
    zeta_chat_message ok[2] = {{"system", "s"}, {"user", "u"}};
    expect_invalid("monarch", ok, 2, buf, sizeof buf, "unknown template 'monarch'", __LINE__); /* llama.cpp's, not ours */
    expect_invalid("ChatML", ok, 2, buf, sizeof buf, "'ChatML'", __LINE__);
    expect_invalid("Mistral-v3", ok, 2, buf, sizeof buf, "'Mistral-v3'", __LINE__);
    expect_invalid("mistral-v3 ", ok, 2, buf, sizeof buf, "'mistral-v3 '", __LINE__);
    expect_invalid("<|im_start|>", ok, 2, buf, sizeof buf, "unknown template '<|im_start|>'", __LINE__); /* a name, not a text */
    expect_invalid("Vicuna", ok, 2, buf, sizeof buf, "(one of chatml, llama2, llama2-sys, ", __LINE__);
    expect_invalid("", ok, 2, buf, sizeof buf, "unknown template ''", __LINE__);
    expect_invalid(NULL, ok, 2, buf, sizeof buf, "name is NULL", __LINE__);
    expect_invalid("chatml", NULL, 2, buf, sizeof buf, "msgs is NULL", __LINE__);
    expect_invalid("chatml", ok, 2, NULL, 10, "buf is NULL", __LINE__);
    for (int i = 0; i <= N_TMPL; i++) {
        const char *name = i < N_TMPL ? name : "mistral";
        zeta_chat_message m[3] = {{"system", "s"}, {"user", "u"}, {"assistant", "a"}};
        m[1].role = NULL;
        expect_invalid(name, m, 3, buf, sizeof buf, "msgs[1].role is NULL", __LINE__);
        m[1].role = "user", m[2].content = NULL;
        expect_invalid(name, m, 3, buf, sizeof buf, "msgs[2].content is NULL", __LINE__);
        m[2].content = "a", m[0].role = "tool";
        expect_invalid(name, m, 3, buf, sizeof buf, "msgs[0].role 'tool' is not one of system, user, assistant", __LINE__);
        m[0].role = "User";
        expect_invalid(name, m, 3, buf, sizeof buf, "'User'", __LINE__);
        m[0].role = "";
        expect_invalid(name, m, 3, buf, sizeof buf, "msgs[0].role ''", __LINE__);
    }
    bool untouched = true;
    for (size_t k = 0; k < sizeof buf; k++) untouched &= buf[k] == 0x5A;
    T_CHECKF(untouched, "a failed call wrote into buf");
}

/* A copy of `src` with tokenizer.chat_template set (as a string of n bytes, or as a u32 when
 * as_u32), written to a temporary file; returns the loaded model or NULL. */
static zeta_model *with_template(const char *src, const char *tmpl, size_t n, bool as_u32) {
    gguf_file *g = NULL;
    zeta_error err;
    if (gguf_open(src, true, &g, &err) != ZETA_OK) { T_CHECKF(0, "%s", err.message); return NULL; }
    gguf_writer *w = NULL;
    bool ok = gguf_writer_new(&w, &err) == ZETA_OK;
    for (uint64_t i = 0; i < g->n_kv && ok; i++)
        if (strcmp(g->kv[i].key, "general.alignment") != 0 && strcmp(g->kv[i].key, "tokenizer.chat_template") != 0)
            ok = gguf_writer_add_kv(w, &g->kv[i], &err) == ZETA_OK;
    if (ok && as_u32) ok = gguf_writer_add_u32(w, "tokenizer.chat_template", 7, &err) == ZETA_OK;
    else if (ok) ok = gguf_writer_add_string_n(w, "tokenizer.chat_template", tmpl, n, &err) == ZETA_OK;
    for (uint64_t i = 0; i < g->n_tensors && ok; i++) {
        const gguf_tensor *t = &g->tensors[i];
        ok = gguf_writer_add_tensor(w, t->name, t->n_dims, t->ne, t->type, t->data, t->n_bytes, &err) == ZETA_OK;
    }
    static int serial;
    char path[128];
    snprintf(path, sizeof path, "/tmp/zeta-test-chat-%ld-%d.gguf", (long)getpid(), serial++);
    ok = ok && gguf_writer_write_file(w, path, &err) == ZETA_OK;
    T_CHECKF(ok, "%s", err.message);
    gguf_writer_free(w);
    gguf_close(g);
    zeta_model *m = NULL;
    if (ok && zeta_model_load(path, NULL, &m, &err) != ZETA_OK) T_CHECKF(0, "%s", err.message);
    remove(path);
    return m;
}

static void model_chat_template(void) {
    static const char *const paths[] = {"models/stories260K.gguf", "tests/data/models/stories260K-F16.gguf",
                                        "../shared/models/stories260K.gguf", NULL};
    const char *path = NULL;
    for (int i = 0; paths[i] && !path; i++)
        if (access(paths[i], R_OK) == 0) path = paths[i];
    if (!path) T_SKIP("stories260K.gguf not found");
    T_CHECK(zeta_model_chat_template(NULL) == NULL);
    zeta_model *m = NULL;
    zeta_error err;
    T_CHECKF(zeta_model_load(path, NULL, &m, &err) == ZETA_OK, "%s", err.message);
    T_CHECK(m && zeta_model_chat_template(m) == NULL); /* stories260K has no template */
    zeta_model_free(m);

    /* real templates of popular models, as llama.cpp names them (NULL: one we do not render) */
    static const struct {
        const char *file, *want;
    } cases[] = {
        {"lcpp-models-Qwen-Qwen2.5-7B-Instruct.jinja", "chatml"},
        {"hf-HuggingFaceH4-zephyr-7b-beta.jinja", "glmedge"}, /* also TinyLlama-1.1B-Chat's text */
        {"hf-meta-llama-Llama-2-7b-chat-hf.jinja", "llama2-sys-strip"},
        {"lcpp-test-mistralai-Mistral-7B-Instruct-v0.2.jinja", "llama2"},
        {"lcpp-models-mistralai-Mistral-Nemo-Instruct-2407.jinja", "mistral-v3-tekken"},
        {"lcpp-models-Mistral-Small-3.2-24B-Instruct-2506.jinja", "mistral-v7"},
        {"lcpp-test-DeepSeek-V2.jinja", "deepseek2"},
        {"lcpp-test-phi-4.jinja", "phi4"},
        {"lcpp-test-mlabonne-AlphaMonarch-7B.jinja", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char fpath[512];
        snprintf(fpath, sizeof fpath, DATA "templates/%s", cases[i].file);
        char *tmpl = t_read_file(fpath, NULL);
        T_CHECKF(tmpl != NULL, "cannot read %s", fpath);
        if (!tmpl) continue;
        m = with_template(path, tmpl, strlen(tmpl), false);
        const char *got = m ? zeta_model_chat_template(m) : NULL;
        T_CHECKF(m && (cases[i].want ? got && strcmp(got, cases[i].want) == 0 : got == NULL), "%s: got %s, want %s", cases[i].file,
                 got ? got : "NULL", cases[i].want ? cases[i].want : "NULL");
        zeta_model_free(m);
        free(tmpl);
    }
    /* the value ends at its first NUL, as the C string llama.cpp passes on */
    static const char nul[] = "<|start_header_id|><|end_header_id|>\0<|im_start|>";
    m = with_template(path, nul, sizeof nul - 1, false);
    const char *got = m ? zeta_model_chat_template(m) : NULL;
    T_CHECKF(got && strcmp(got, "llama3") == 0, "got %s", got ? got : "NULL");
    zeta_model_free(m);
    m = with_template(path, "{{ messages }}", 14, false); /* unrecognised */
    T_CHECK(m && zeta_model_chat_template(m) == NULL);
    zeta_model_free(m);
    m = with_template(path, "", 0, false); /* empty */
    T_CHECK(m && zeta_model_chat_template(m) == NULL);
    zeta_model_free(m);
    m = with_template(path, NULL, 0, true); /* not a string */
    T_CHECK(m && zeta_model_chat_template(m) == NULL);
    zeta_model_free(m);
}

int main(void) {
    T_RUN(names_and_end_of_turn);
    T_RUN(detect_reference);
    T_RUN(detect_null_empty_unknown);
    T_RUN(render_reference);
    T_RUN(size_query);
    T_RUN(bad_arguments);
    T_RUN(model_chat_template);
    for (int i = 0; i < g_n_convs; i++)
        for (size_t k = 0; k < g_convs[i].n; k++) {
            free((char *)g_convs[i].msgs[k].role);
            free((char *)g_convs[i].msgs[k].content);
        }
    return t_done();
}
