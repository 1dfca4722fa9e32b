/* test_chat.c — tests of src/chat.c against llama.cpp's llama_chat_apply_template (commit d32676d77):
 * detection of real template texts and of probes for the order of its rules (tests/data/chat/
 * detect.tsv), the rendering of every template for every conversation, with and without the
 * assistant opening (conversations.txt, expected.tsv), size queries, bad arguments,
 * zeta_model_chat_template on models with and without a template, and the end-of-turn strings.
 * tests/data/chat/README.md says how the reference data was made. */
#include "gguf_write.h"
#include "test.h"
#include "zeta.h"

#include <unistd.h>

#define DATA "tests/data/chat/"
#define MAX_CONVS 32
#define MAX_MSGS 32

static const char *const k_names[8] = {"chatml", "llama2", "llama3", "mistral", "gemma", "phi3", "zephyr", "deepseek"};
static const char *const k_eot[8] = {"<|im_end|>", "</s>", "<|eot_id|>", "</s>", "<end_of_turn>", "<|end|>", "<|endoftext|>",
                                     "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"};

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
    T_CHECK(strcmp(zeta_chat_templates(), "chatml, llama2, llama3, mistral, gemma, phi3, zephyr, deepseek") == 0);
    zeta_chat_message hi = {"user", "hi"};
    for (int i = 0; i < 8; i++) {
        const char *eot = zeta_chat_end_of_turn(k_names[i]);
        T_CHECKF(eot && strcmp(eot, k_eot[i]) == 0, "%s: end of turn '%s'", k_names[i], eot ? eot : "(null)");
        size_t len = 0;
        char *s = render(k_names[i], &hi, 1, true, &len);
        T_CHECKF(s != NULL, "%s", k_names[i]);
        /* every template's text for a user turn ends its previous assistant turns with the end of turn */
        zeta_chat_message two[2] = {{"assistant", "x"}, {"user", "y"}};
        char *t = render(k_names[i], two, 2, false, NULL);
        T_CHECKF(t && strstr(t, k_eot[i]), "%s: '%s' has no '%s'", k_names[i], t ? t : "(null)", k_eot[i]);
        free(s);
        free(t);
    }
    T_CHECK(zeta_chat_end_of_turn(NULL) == NULL);
    T_CHECK(zeta_chat_end_of_turn("") == NULL);
    T_CHECK(zeta_chat_end_of_turn("ChatML") == NULL);
    T_CHECK(zeta_chat_end_of_turn("mistral-v3") == NULL);
    T_CHECK(zeta_chat_end_of_turn("vicuna") == NULL);
}

/* Every row of detect.tsv: a template file or an (escaped) text, and the name ZetaLm must give. */
static void detect_reference(void) {
    char *text = t_read_file(DATA "detect.tsv", NULL), *p = text, *line;
    if (!text) { T_CHECKF(0, "cannot read " DATA "detect.tsv"); return; }
    int rows = 0, files = 0, found[8] = {0};
    while ((line = next_line(&p))) {
        if (!*line || *line == '#') continue;
        char *f[4];
        if (split_tabs(line, f, 4) != 4) { T_CHECKF(0, "bad row '%s'", line); continue; }
        const char *want = strcmp(f[3], "-") == 0 ? NULL : f[3];
        char *tmpl;
        if (strcmp(f[0], "file") == 0) {
            char path[512];
            snprintf(path, sizeof path, DATA "templates/%s", f[1]);
            tmpl = t_read_file(path, NULL);
            if (!tmpl) { T_CHECKF(0, "cannot read %s", path); continue; }
            files++;
            for (int i = 0; i < 8; i++)
                if (want && strcmp(want, k_names[i]) == 0) found[i]++;
        } else {
            tmpl = unescape(f[1], strlen(f[1]), NULL);
        }
        const char *got = zeta_chat_template_detect(tmpl);
        T_CHECKF(want ? got && strcmp(got, want) == 0 : got == NULL, "%s '%s' (llama.cpp: %s): got %s, want %s", f[0], f[1], f[2],
                 got ? got : "NULL", want ? want : "NULL");
        free(tmpl);
        rows++;
    }
    free(text);
    T_CHECKF(rows >= 150 && files >= 50, "%d rows, %d template files", rows, files);
    for (int i = 0; i < 8; i++) T_CHECKF(found[i] > 0, "no template file detected as %s", k_names[i]);
}

static void detect_null_empty_unknown(void) {
    T_CHECK(zeta_chat_template_detect(NULL) == NULL);
    T_CHECK(zeta_chat_template_detect("") == NULL);
    T_CHECK(zeta_chat_template_detect("{{ messages }}") == NULL);
    T_CHECK(zeta_chat_template_detect("INVALID TEMPLATE") == NULL);
    /* the names come back as the library's own strings */
    for (int i = 0; i < 8; i++) {
        const char *got = zeta_chat_template_detect(k_names[i]);
        T_CHECKF(got && strcmp(got, k_names[i]) == 0, "%s", k_names[i]);
        T_CHECK(got == zeta_chat_template_detect(k_names[i]));
    }
}

/* Every row of expected.tsv: template, conversation, add_assistant, llama.cpp's text. */
static void render_reference(void) {
    if (!load_convs()) { T_CHECKF(0, "cannot read " DATA "conversations.txt"); return; }
    char *text = t_read_file(DATA "expected.tsv", NULL), *p = text, *line;
    if (!text) { T_CHECKF(0, "cannot read " DATA "expected.tsv"); return; }
    int rows = 0, bad = 0;
    while ((line = next_line(&p))) {
        if (!*line || *line == '#') continue;
        char *f[4];
        if (split_tabs(line, f, 4) != 4) { T_CHECKF(0, "bad row '%s'", line); continue; }
        const conv *c = find_conv(f[1]);
        if (!c) { T_CHECKF(0, "unknown conversation '%s'", f[1]); continue; }
        size_t want_len, got_len = 0;
        char *want = unescape(f[3], strlen(f[3]), &want_len);
        char *got = render(f[0], c->msgs, c->n, f[2][0] == '1', &got_len);
        bool same = got && got_len == want_len && memcmp(got, want, want_len) == 0;
        if (!same && bad++ < 5)
            T_CHECKF(0, "%s / %s / add_assistant %s:\n      want '%s'\n      got  '%s'", f[0], f[1], f[2], want, got ? got : "(error)");
        rows++;
        free(want);
        free(got);
    }
    free(text);
    T_CHECKF(bad == 0, "%d of %d renderings differ", bad, rows);
    T_CHECKF(rows == 8 * g_n_convs * 2, "%d rows for %d conversations", rows, g_n_convs);
}

static void size_query(void) {
    if (!load_convs()) { T_CHECKF(0, "cannot read " DATA "conversations.txt"); return; }
    const conv *c = find_conv("unicode");
    T_CHECK(c != NULL);
    if (!c) return;
    for (int i = 0; i < 8; i++) {
        zeta_error err;
        size_t len = 0, n_out = 12345;
        T_CHECK(zeta_chat_apply(k_names[i], c->msgs, c->n, true, NULL, 0, &len, &err) == ZETA_ERR_BUFFER_TOO_SMALL);
        T_CHECK(err.status == ZETA_ERR_BUFFER_TOO_SMALL && strstr(err.message, "cap"));
        T_CHECK(len > 0);
        char *buf = malloc(len + 8);
        /* cap == len: no room for the NUL, nothing written */
        memset(buf, 0x5A, len + 8);
        T_CHECK(zeta_chat_apply(k_names[i], c->msgs, c->n, true, buf, len, &n_out, &err) == ZETA_ERR_BUFFER_TOO_SMALL);
        T_CHECK(n_out == len);
        bool untouched = true;
        for (size_t k = 0; k < len + 8; k++) untouched &= buf[k] == 0x5A;
        T_CHECKF(untouched, "%s: a too-small buffer was written", k_names[i]);
        /* cap == len + 1: fits exactly, the NUL lands in the last byte and nothing beyond */
        T_CHECK(zeta_chat_apply(k_names[i], c->msgs, c->n, true, buf, len + 1, &n_out, &err) == ZETA_OK);
        T_CHECK(err.status == ZETA_OK && err.message[0] == 0);
        T_CHECK(n_out == len && buf[len] == 0 && strlen(buf) == len);
        for (size_t k = len + 1; k < len + 8; k++) T_CHECK(buf[k] == 0x5A);
        /* n_out and err may be NULL */
        T_CHECK(zeta_chat_apply(k_names[i], c->msgs, c->n, true, buf, len + 8, NULL, NULL) == ZETA_OK);
        T_CHECK(zeta_chat_apply(k_names[i], c->msgs, c->n, true, buf, 1, NULL, NULL) == ZETA_ERR_BUFFER_TOO_SMALL);
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
    expect_invalid("vicuna", ok, 2, buf, sizeof buf, "unknown template 'vicuna'", __LINE__);
    expect_invalid("ChatML", ok, 2, buf, sizeof buf, "'ChatML'", __LINE__);
    expect_invalid("mistral-v3", ok, 2, buf, sizeof buf, "'mistral-v3'", __LINE__);
    expect_invalid("", ok, 2, buf, sizeof buf, "unknown template ''", __LINE__);
    expect_invalid(NULL, ok, 2, buf, sizeof buf, "name is NULL", __LINE__);
    expect_invalid("chatml", NULL, 2, buf, sizeof buf, "msgs is NULL", __LINE__);
    expect_invalid("chatml", ok, 2, NULL, 10, "buf is NULL", __LINE__);
    for (int i = 0; i < 8; i++) {
        zeta_chat_message m[3] = {{"system", "s"}, {"user", "u"}, {"assistant", "a"}};
        m[1].role = NULL;
        expect_invalid(k_names[i], m, 3, buf, sizeof buf, "msgs[1].role is NULL", __LINE__);
        m[1].role = "user", m[2].content = NULL;
        expect_invalid(k_names[i], m, 3, buf, sizeof buf, "msgs[2].content is NULL", __LINE__);
        m[2].content = "a", m[0].role = "tool";
        expect_invalid(k_names[i], m, 3, buf, sizeof buf, "msgs[0].role 'tool' is not one of system, user, assistant", __LINE__);
        m[0].role = "User";
        expect_invalid(k_names[i], m, 3, buf, sizeof buf, "'User'", __LINE__);
        m[0].role = "";
        expect_invalid(k_names[i], m, 3, buf, sizeof buf, "msgs[0].role ''", __LINE__);
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

    char *qwen = t_read_file(DATA "templates/lcpp-models-Qwen-Qwen2.5-7B-Instruct.jinja", NULL);
    T_CHECK(qwen != NULL);
    if (qwen) {
        m = with_template(path, qwen, strlen(qwen), false);
        const char *got = m ? zeta_model_chat_template(m) : NULL;
        T_CHECKF(got && strcmp(got, "chatml") == 0, "got %s", got ? got : "NULL");
        zeta_model_free(m);
        free(qwen);
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
