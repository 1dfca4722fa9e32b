/* chat.c — chat templates without Jinja: recognises the common template families from the text of
 * a model's tokenizer.chat_template and renders a conversation in them, byte for byte as llama.cpp's
 * llama_chat_apply_template() does (its built-in, non-Jinja path; checked against llama.cpp d32676d77
 * by tests/test_chat.c with the vectors in tests/data/chat/).
 *
 * Each ZetaLm name stands for exactly one of llama.cpp's template variants:
 *
 *   chatml   = llama.cpp "chatml"            Qwen 2/2.5/3, SmolLM3, OpenHermes, ...
 *   llama2   = llama.cpp "llama2-sys-strip"  Llama 2 chat: <<SYS>> block, every content trimmed
 *   llama3   = llama.cpp "llama3"            Llama 3.x instruct
 *   mistral  = llama.cpp "mistral-v3"        Mistral 7B Instruct v0.3, Mistral Large 2407: the system
 *                                            prompt goes inside the [INST] that is open, assistant
 *                                            replies are trimmed
 *   gemma    = llama.cpp "gemma"             Gemma 1/2: system text joins the next user turn
 *   phi3     = llama.cpp "phi3"              Phi-3 / Phi-3.5
 *   zephyr   = llama.cpp "zephyr"
 *   deepseek = llama.cpp "deepseek3"         DeepSeek V3 and the R1 distills (<｜User｜> / <｜Assistant｜>)
 *
 * Detection follows llama.cpp's llm_chat_detect_template() rule by rule and in the same order, so a
 * text that llama.cpp files under another family (or another variant of one of these families, e.g.
 * "mistral-v7", "llama2-sys-bos", "deepseek2", "glmedge") gives NULL here: whenever a name comes back,
 * zeta_chat_apply() with it renders exactly what llama_chat_apply_template() renders for that text.
 * A text equal to one of the names above, or to the llama.cpp name of its variant, gives that name.
 *
 * Rendering writes through a small sink that first only counts, so a too-small buffer is left
 * untouched; nothing is allocated. */
#include "model.h"
#include "util.h"

#include <string.h>

/* UTF-8 spelled out: U+FF5C FULLWIDTH VERTICAL LINE, U+2581 LOWER ONE EIGHTH BLOCK, and 用户 */
#define FW_BAR "\xef\xbd\x9c"
#define DS_USER "<" FW_BAR "User" FW_BAR ">"                                        /* <｜User｜> */
#define DS_ASSISTANT "<" FW_BAR "Assistant" FW_BAR ">"                              /* <｜Assistant｜> */
#define DS_EOS "<" FW_BAR "end\xe2\x96\x81of\xe2\x96\x81sentence" FW_BAR ">"    /* <｜end▁of▁sentence｜> */
#define MINICPM_USER "<\xe7\x94\xa8\xe6\x88\xb7>"                                   /* <用户> */

typedef enum chat_tmpl {
    TMPL_NONE = -1,
    TMPL_CHATML,
    TMPL_LLAMA2,
    TMPL_LLAMA3,
    TMPL_MISTRAL,
    TMPL_GEMMA,
    TMPL_PHI3,
    TMPL_ZEPHYR,
    TMPL_DEEPSEEK,
    TMPL_COUNT
} chat_tmpl;

static const struct {
    const char *name;      /* ZetaLm's name */
    const char *variant;   /* llama.cpp's name of the same rendering */
    const char *eot;       /* text that ends a turn */
} k_tmpl[TMPL_COUNT] = {
    [TMPL_CHATML] = {"chatml", "chatml", "<|im_end|>"},
    [TMPL_LLAMA2] = {"llama2", "llama2-sys-strip", "</s>"},
    [TMPL_LLAMA3] = {"llama3", "llama3", "<|eot_id|>"},
    [TMPL_MISTRAL] = {"mistral", "mistral-v3", "</s>"},
    [TMPL_GEMMA] = {"gemma", "gemma", "<end_of_turn>"},
    [TMPL_PHI3] = {"phi3", "phi3", "<|end|>"},
    [TMPL_ZEPHYR] = {"zephyr", "zephyr", "<|endoftext|>"},
    [TMPL_DEEPSEEK] = {"deepseek", "deepseek3", DS_EOS},
};

const char *zeta_chat_templates(void) { return "chatml, llama2, llama3, mistral, gemma, phi3, zephyr, deepseek"; }

static chat_tmpl tmpl_by_name(const char *name) {
    if (!name) return TMPL_NONE;
    for (int i = 0; i < TMPL_COUNT; i++)
        if (strcmp(name, k_tmpl[i].name) == 0) return (chat_tmpl)i;
    return TMPL_NONE;
}

/* ------------------------------------------------------------------ detection */

typedef struct text {
    const char *s;
    size_t n;
} text;

static bool has(text t, const char *needle) {
    size_t m = strlen(needle);
    if (m > t.n) return false;
    for (size_t i = 0; i + m <= t.n; i++)
        if (t.s[i] == needle[0] && memcmp(t.s + i, needle, m) == 0) return true;
    return false;
}

static bool equals(text t, const char *s) { return strlen(s) == t.n && memcmp(t.s, s, t.n) == 0; }

/* llama.cpp's heuristics, in its order, up to its last rule that can give one of our variants. */
static chat_tmpl detect_text(text t) {
    for (int i = 0; i < TMPL_COUNT; i++)
        if (equals(t, k_tmpl[i].name) || equals(t, k_tmpl[i].variant)) return (chat_tmpl)i;
    if (has(t, "<|im_start|>")) {
        if (has(t, "<|im_sep|>") || has(t, "<end_of_utterance>")) return TMPL_NONE; /* phi4, smolvlm */
        return TMPL_CHATML;
    }
    if ((t.n >= 7 && memcmp(t.s, "mistral", 7) == 0) || has(t, "[INST]")) {
        if (has(t, "[SYSTEM_PROMPT]")) return TMPL_NONE; /* mistral-v7 */
        if (has(t, "' [INST] ' + system_message") || has(t, "[AVAILABLE_TOOLS]")) {
            if (has(t, " [INST]") || has(t, "\"[INST]\"")) return TMPL_NONE; /* mistral-v1, -v3-tekken */
            return TMPL_MISTRAL;
        }
        /* llama2 variants: content.strip() decides first, then bos inside history, then <<SYS>> */
        return has(t, "content.strip()") ? TMPL_LLAMA2 : TMPL_NONE;
    }
    if (has(t, "<|assistant|>") && has(t, "<|end|>")) return TMPL_PHI3;
    if (has(t, "[gMASK]<sop>")) return TMPL_NONE;                                   /* chatglm4 */
    if (has(t, "<|assistant|>") && has(t, "<|user|>")) return TMPL_NONE;            /* exaone-moe, falcon3, glmedge */
    if (has(t, "<|{{ item['role'] }}|>") && has(t, "<|begin_of_image|>")) return TMPL_NONE; /* glmedge */
    if (has(t, "<|user|>") && has(t, "<|endoftext|>")) return TMPL_ZEPHYR;
    if (has(t, "bos_token + message['role']")) return TMPL_NONE;                    /* monarch */
    if (has(t, "<start_of_turn>")) return TMPL_GEMMA;
    if (has(t, "'\\n\\nAssistant: ' + eos_token")) return TMPL_NONE;                /* orion */
    if (has(t, "GPT4 Correct ")) return TMPL_NONE;                                  /* openchat */
    if (has(t, "USER: ") && has(t, "ASSISTANT: ")) return TMPL_NONE;                /* vicuna, vicuna-orca */
    if (has(t, "### Instruction:") && has(t, "<|EOT|>")) return TMPL_NONE;          /* deepseek (coder) */
    if (has(t, "<|START_OF_TURN_TOKEN|>") && has(t, "<|USER_TOKEN|>")) return TMPL_NONE; /* command-r */
    if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>")) return TMPL_LLAMA3;
    if (has(t, "[gMASK]sop")) return TMPL_NONE;                                     /* chatglm3 */
    if (has(t, MINICPM_USER)) return TMPL_NONE;                                     /* minicpm */
    if (has(t, "'Assistant: ' + message['content'] + eos_token")) return TMPL_NONE; /* deepseek2 */
    if (has(t, DS_ASSISTANT) && has(t, DS_USER) && has(t, DS_EOS)) return TMPL_DEEPSEEK;
    return TMPL_NONE; /* llama.cpp's later rules only give other families */
}

static const char *detect_name(text t) {
    chat_tmpl id = detect_text(t);
    return id == TMPL_NONE ? NULL : k_tmpl[id].name;
}

const char *zeta_chat_template_detect(const char *tmpl) {
    if (!tmpl) return NULL;
    return detect_name((text){tmpl, strlen(tmpl)});
}

const char *zeta_model_chat_template(const zeta_model *m) {
    if (!m || m->magic != ZETA_MODEL_MAGIC) return NULL;
    const gguf_kv *kv = gguf_find(m->g, "tokenizer.chat_template");
    if (!kv || kv->type != GGUF_STRING) return NULL;
    /* llama.cpp hands the value on as a C string: it ends at the first NUL byte */
    size_t n = 0;
    while (n < kv->str.n && kv->str.s[n] != '\0') n++;
    return detect_name((text){kv->str.s, n});
}

const char *zeta_chat_end_of_turn(const char *name) {
    chat_tmpl id = tmpl_by_name(name);
    return id == TMPL_NONE ? NULL : k_tmpl[id].eot;
}

/* ------------------------------------------------------------------ rendering */

/* Output sink: counts every byte; copies only when dst is set (the second pass, after the size is
 * known to fit). */
typedef struct sink {
    char *dst;
    size_t len;
    bool overflow;
} sink;

static void put_n(sink *o, const char *s, size_t n) {
    if (o->dst) memcpy(o->dst + o->len, s, n);
    if (!zeta_add_size(o->len, n, &o->len)) o->overflow = true;
}

static void put(sink *o, const char *s) { put_n(o, s, strlen(s)); }

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

/* Leading and trailing whitespace (C locale isspace) removed, as llama.cpp's trim(). */
static text trimmed(const char *s) {
    size_t a = 0, b = strlen(s);
    while (a < b && is_space(s[a])) a++;
    while (b > a && is_space(s[b - 1])) b--;
    return (text){s + a, b - a};
}

static void put_trimmed(sink *o, const char *s) {
    text t = trimmed(s);
    put_n(o, t.s, t.n);
}

typedef enum role { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT } role;

static role role_of(const zeta_chat_message *m) {
    return strcmp(m->role, "system") == 0 ? ROLE_SYSTEM : strcmp(m->role, "user") == 0 ? ROLE_USER : ROLE_ASSISTANT;
}

static void render(chat_tmpl id, const zeta_chat_message *msgs, size_t n, bool add_assistant, sink *o) {
    switch (id) {
    case TMPL_CHATML:
        for (size_t i = 0; i < n; i++) {
            put(o, "<|im_start|>");
            put(o, msgs[i].role);
            put(o, "\n");
            put(o, msgs[i].content);
            put(o, "<|im_end|>\n");
        }
        if (add_assistant) put(o, "<|im_start|>assistant\n");
        break;
    case TMPL_LLAMA2: { /* add_assistant changes nothing: a user turn already ends with [/INST] */
        bool inside_turn = true;
        put(o, "[INST] ");
        for (size_t i = 0; i < n; i++) {
            if (!inside_turn) {
                inside_turn = true;
                put(o, "[INST] ");
            }
            switch (role_of(&msgs[i])) {
            case ROLE_SYSTEM:
                put(o, "<<SYS>>\n");
                put_trimmed(o, msgs[i].content);
                put(o, "\n<</SYS>>\n\n");
                break;
            case ROLE_USER:
                put_trimmed(o, msgs[i].content);
                put(o, " [/INST]");
                break;
            case ROLE_ASSISTANT:
                put_trimmed(o, msgs[i].content);
                put(o, "</s>");
                inside_turn = false;
                break;
            }
        }
        break;
    }
    case TMPL_LLAMA3:
        for (size_t i = 0; i < n; i++) {
            put(o, "<|start_header_id|>");
            put(o, msgs[i].role);
            put(o, "<|end_header_id|>\n\n");
            put_trimmed(o, msgs[i].content);
            put(o, "<|eot_id|>");
        }
        if (add_assistant) put(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case TMPL_MISTRAL: { /* add_assistant changes nothing, as in llama.cpp */
        bool inside_turn = false;
        for (size_t i = 0; i < n; i++) {
            if (!inside_turn) {
                inside_turn = true;
                put(o, "[INST] ");
            }
            switch (role_of(&msgs[i])) {
            case ROLE_SYSTEM:
                put(o, msgs[i].content);
                put(o, "\n\n");
                break;
            case ROLE_USER:
                put(o, msgs[i].content);
                put(o, "[/INST]");
                break;
            case ROLE_ASSISTANT:
                put(o, " ");
                put_trimmed(o, msgs[i].content);
                put(o, "</s>");
                inside_turn = false;
                break;
            }
        }
        break;
    }
    case TMPL_GEMMA: {
        /* system texts (trimmed, joined without separator) wait for the next user turn */
        size_t pending_from = 0;
        for (size_t i = 0; i < n; i++) {
            role r = role_of(&msgs[i]);
            if (r == ROLE_SYSTEM) continue;
            put(o, r == ROLE_ASSISTANT ? "<start_of_turn>model\n" : "<start_of_turn>user\n");
            if (r == ROLE_USER) {
                size_t sys_len = 0;
                for (size_t j = pending_from; j < i; j++)
                    if (role_of(&msgs[j]) == ROLE_SYSTEM) sys_len += trimmed(msgs[j].content).n;
                if (sys_len > 0) {
                    for (size_t j = pending_from; j < i; j++)
                        if (role_of(&msgs[j]) == ROLE_SYSTEM) put_trimmed(o, msgs[j].content);
                    put(o, "\n\n");
                }
                pending_from = i + 1;
            }
            put_trimmed(o, msgs[i].content);
            put(o, "<end_of_turn>\n");
        }
        if (add_assistant) put(o, "<start_of_turn>model\n");
        break;
    }
    case TMPL_PHI3:
    case TMPL_ZEPHYR: /* the same but for the end of a turn */
        for (size_t i = 0; i < n; i++) {
            put(o, "<|");
            put(o, msgs[i].role);
            put(o, "|>\n");
            put(o, msgs[i].content);
            put(o, id == TMPL_PHI3 ? "<|end|>\n" : "<|endoftext|>\n");
        }
        if (add_assistant) put(o, "<|assistant|>\n");
        break;
    case TMPL_DEEPSEEK:
        for (size_t i = 0; i < n; i++) {
            switch (role_of(&msgs[i])) {
            case ROLE_SYSTEM:
                put(o, msgs[i].content);
                put(o, "\n\n");
                break;
            case ROLE_USER:
                put(o, DS_USER);
                put(o, msgs[i].content);
                break;
            case ROLE_ASSISTANT:
                put(o, DS_ASSISTANT);
                put(o, msgs[i].content);
                put(o, DS_EOS);
                break;
            }
        }
        if (add_assistant) put(o, DS_ASSISTANT);
        break;
    default: break;
    }
}

zeta_status zeta_chat_apply(const char *name, const zeta_chat_message *msgs, size_t n, bool add_assistant, char *buf,
                            size_t cap, size_t *n_out, zeta_error *err) {
    if (n_out) *n_out = 0;
    if (!name) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_chat_apply: name is NULL (one of %s)", zeta_chat_templates());
    chat_tmpl id = tmpl_by_name(name);
    if (id == TMPL_NONE)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_chat_apply: unknown template '%.64s' (one of %s)", name,
                         zeta_chat_templates());
    if (!msgs && n) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_chat_apply: msgs is NULL with n %zu", n);
    if (!buf && cap) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_chat_apply: buf is NULL with cap %zu", cap);
    for (size_t i = 0; i < n; i++) {
        const char *r = msgs[i].role;
        if (!r) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_chat_apply: msgs[%zu].role is NULL", i);
        if (!msgs[i].content) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_chat_apply: msgs[%zu].content is NULL", i);
        if (strcmp(r, "system") != 0 && strcmp(r, "user") != 0 && strcmp(r, "assistant") != 0)
            return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT,
                             "zeta_chat_apply: msgs[%zu].role '%.64s' is not one of system, user, assistant", i, r);
    }
    sink count = {NULL, 0, false};
    render(id, msgs, n, add_assistant, &count);
    if (count.overflow || count.len == SIZE_MAX)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_chat_apply: the rendered text does not fit in size_t");
    if (n_out) *n_out = count.len;
    if (cap < count.len + 1)
        return zeta_fail(err, ZETA_ERR_BUFFER_TOO_SMALL, "zeta_chat_apply: the text needs %zu bytes with its NUL, cap is %zu",
                         count.len + 1, cap);
    sink out = {buf, 0, false};
    render(id, msgs, n, add_assistant, &out);
    buf[out.len] = '\0';
    return zeta_ok(err);
}
