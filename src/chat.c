/* chat.c — chat templates without Jinja: recognises template families from the text of a model's
 * tokenizer.chat_template and renders a conversation in them, byte for byte as llama.cpp's
 * llama_chat_apply_template() does (its built-in, non-Jinja path; checked against llama.cpp d32676d77
 * by tests/test_chat.c with the vectors in tests/data/chat/).
 *
 * The names are llama.cpp's own built-in template names (those of `--chat-template NAME`), and each
 * renders exactly what llama.cpp renders under that name:
 *
 *   chatml                     Qwen 2/2.5/3, SmolLM3, OpenHermes, ...
 *   llama2                     [INST] without <<SYS>> (Mistral 7B Instruct v0.1/v0.2's old template)
 *   llama2-sys                 <<SYS>> block
 *   llama2-sys-bos             <<SYS>> block, <s> before each later [INST]
 *   llama2-sys-strip           <<SYS>> block, contents trimmed (Llama 2 chat)
 *   llama3, llama4             Llama 3.x / Llama 4 instruct
 *   mistral-v1                 " [INST] ... [/INST]" (Mistral 7B v0.1 official)
 *   mistral-v3                 Mistral 7B v0.3, Mistral Large 2407 (assistant replies trimmed)
 *   mistral-v3-tekken          Mistral Nemo
 *   mistral-v7                 Mistral Large 2411, Mistral Small 3.x, Devstral ([SYSTEM_PROMPT])
 *   mistral-v7-tekken          mistral-v7 without the spaces (only by name: llama.cpp never detects it)
 *   gemma                      Gemma 1/2: system text joins the next user turn
 *   phi3, phi4                 Phi-3 / 3.5; Phi-4 (<|im_sep|>)
 *   zephyr                     <|user|> ... <|endoftext|>
 *   glmedge                    GLM-Edge; also what llama.cpp detects TinyLlama-Chat and zephyr-7b-beta as
 *   falcon3                    Falcon 3
 *   deepseek                   DeepSeek Coder (### Instruction: / ### Response:)
 *   deepseek2                  DeepSeek LLM / V2 (User: / Assistant:)
 *   deepseek3                  DeepSeek V3 / R1 and the R1 distills (<｜User｜> / <｜Assistant｜>)
 *   command-r                  Cohere Command R / R+
 *   granite, granite-4.0, granite-4.1   IBM Granite 3.x / 4.0 / 4.1 (the same text for these roles)
 *   exaone3, exaone4           EXAONE 3 / 4 (the same text for these roles)
 *   openchat                   OpenChat 3.5
 *   vicuna, vicuna-orca        Vicuna 1.1; the Orca-Vicuna variant with "SYSTEM: "
 *
 * "mistral" is ZetaLm's own alias of mistral-v3 (this file's first version used it); detection
 * never returns it (llama.cpp reads the text "mistral" as llama2, and so do we).
 *
 * Detection follows llama.cpp's llm_chat_detect_template() rule by rule and in the same order, so a
 * text that llama.cpp files under a template we do not render (monarch, minicpm, chatglm4, ...)
 * gives NULL here, and whenever a name comes back, zeta_chat_apply() with it renders exactly what
 * llama_chat_apply_template() renders for that text. A text equal to one of llama.cpp's built-in
 * names gives that name when we render it and NULL otherwise, as llama.cpp takes such a text as the
 * name.
 *
 * Rendering writes through a small sink that first only counts, so a too-small buffer is left
 * untouched; nothing is allocated. */
#include "model.h"
#include "util.h"

#include <string.h>

/* UTF-8 spelled out: U+FF5C FULLWIDTH VERTICAL LINE, U+2581 LOWER ONE EIGHTH BLOCK, 用户 and Ассистент */
#define FW_BAR "\xef\xbd\x9c"
#define DS_USER "<" FW_BAR "User" FW_BAR ">"                                        /* <｜User｜> */
#define DS_ASSISTANT "<" FW_BAR "Assistant" FW_BAR ">"                              /* <｜Assistant｜> */
#define DS_EOS "<" FW_BAR "end\xe2\x96\x81of\xe2\x96\x81sentence" FW_BAR ">"    /* <｜end▁of▁sentence｜> */
#define MINICPM_USER "<\xe7\x94\xa8\xe6\x88\xb7>"                                   /* <用户> */
#define YANDEX_ASSISTANT " \xd0\x90\xd1\x81\xd1\x81\xd0\xb8\xd1\x81\xd1\x82\xd0\xb5\xd0\xbd\xd1\x82:" /* " Ассистент:" */

/* X(id, llama.cpp's name, the text that ends an assistant turn), in the order of
 * zeta_chat_templates(). The end of turn is the marker the rendering puts after an assistant's
 * content; for the formats without one (glmedge: nothing, falcon3: "\n") it is the opening of the
 * next user turn, which is what a model that runs on would write next. */
#define CHAT_TEMPLATES(X)                                  \
    X(CHATML, "chatml", "<|im_end|>")                      \
    X(LLAMA2, "llama2", "</s>")                            \
    X(LLAMA2_SYS, "llama2-sys", "</s>")                    \
    X(LLAMA2_SYS_BOS, "llama2-sys-bos", "</s>")            \
    X(LLAMA2_SYS_STRIP, "llama2-sys-strip", "</s>")        \
    X(LLAMA3, "llama3", "<|eot_id|>")                      \
    X(LLAMA4, "llama4", "<|eot|>")                         \
    X(MISTRAL_V1, "mistral-v1", "</s>")                    \
    X(MISTRAL_V3, "mistral-v3", "</s>")                    \
    X(MISTRAL_V3_TEKKEN, "mistral-v3-tekken", "</s>")      \
    X(MISTRAL_V7, "mistral-v7", "</s>")                    \
    X(MISTRAL_V7_TEKKEN, "mistral-v7-tekken", "</s>")      \
    X(GEMMA, "gemma", "<end_of_turn>")                     \
    X(PHI3, "phi3", "<|end|>")                             \
    X(PHI4, "phi4", "<|im_end|>")                          \
    X(ZEPHYR, "zephyr", "<|endoftext|>")                   \
    X(GLMEDGE, "glmedge", "<|user|>")                      \
    X(FALCON3, "falcon3", "<|user|>")                      \
    X(DEEPSEEK, "deepseek", "<|EOT|>")                     \
    X(DEEPSEEK2, "deepseek2", DS_EOS)                      \
    X(DEEPSEEK3, "deepseek3", DS_EOS)                      \
    X(COMMAND_R, "command-r", "<|END_OF_TURN_TOKEN|>")     \
    X(GRANITE, "granite", "<|end_of_text|>")               \
    X(GRANITE_4_0, "granite-4.0", "<|end_of_text|>")       \
    X(GRANITE_4_1, "granite-4.1", "<|end_of_text|>")       \
    X(EXAONE3, "exaone3", "[|endofturn|]")                 \
    X(EXAONE4, "exaone4", "[|endofturn|]")                 \
    X(OPENCHAT, "openchat", "<|end_of_turn|>")             \
    X(VICUNA, "vicuna", "</s>")                            \
    X(VICUNA_ORCA, "vicuna-orca", "</s>")

#define TMPL_ENUM(id, name, eot) TMPL_##id,
#define TMPL_ENTRY(id, name, eot) {name, eot},
#define TMPL_LIST(id, name, eot) ", " name

typedef enum chat_tmpl { TMPL_NONE = -1, CHAT_TEMPLATES(TMPL_ENUM) TMPL_COUNT } chat_tmpl;

static const struct {
    const char *name; /* llama.cpp's name */
    const char *eot;  /* text that ends an assistant turn */
} k_tmpl[TMPL_COUNT] = {CHAT_TEMPLATES(TMPL_ENTRY)};

static const char k_list[] = CHAT_TEMPLATES(TMPL_LIST);

const char *zeta_chat_templates(void) { return k_list + 2; /* past the first ", " */ }

/* The name zeta_chat_apply and zeta_chat_end_of_turn take: one of ours, or ZetaLm's alias. */
static chat_tmpl tmpl_by_name(const char *name) {
    if (!name) return TMPL_NONE;
    for (int i = 0; i < TMPL_COUNT; i++)
        if (strcmp(name, k_tmpl[i].name) == 0) return (chat_tmpl)i;
    if (strcmp(name, "mistral") == 0) return TMPL_MISTRAL_V3;
    return TMPL_NONE;
}

/* ------------------------------------------------------------------ detection */

/* Every built-in name of llama.cpp d32676d77 (llama_chat_builtin_templates): a template text equal
 * to one is taken as that name before any rule runs. */
static const char *const k_llama_cpp_names[] = {
    "bailing", "bailing-think", "bailing2", "chatglm3", "chatglm4", "chatml", "command-r", "deepseek", "deepseek-ocr",
    "deepseek2", "deepseek3", "exaone-moe", "exaone3", "exaone4", "falcon3", "gemma", "gigachat", "glmedge", "gpt-oss",
    "granite", "granite-4.0", "granite-4.1", "grok-2", "hunyuan-dense", "hunyuan-moe", "hunyuan-vl", "kimi-k2", "llama2",
    "llama2-sys", "llama2-sys-bos", "llama2-sys-strip", "llama3", "llama4", "megrez", "minicpm", "mistral-v1", "mistral-v3",
    "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken", "monarch", "openchat", "orion", "pangu-embedded", "phi3",
    "phi4", "rwkv-world", "seed_oss", "smolvlm", "solar-open", "vicuna", "vicuna-orca", "yandex", "zephyr",
};

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

/* llama.cpp's llm_chat_detect_template(), rule by rule in its order, up to its last rule that can
 * give a template we render; the templates we do not render give TMPL_NONE (named in comments). */
static chat_tmpl detect_text(text t) {
    for (size_t i = 0; i < sizeof k_llama_cpp_names / sizeof k_llama_cpp_names[0]; i++)
        if (equals(t, k_llama_cpp_names[i])) {
            for (int k = 0; k < TMPL_COUNT; k++)
                if (equals(t, k_tmpl[k].name)) return (chat_tmpl)k;
            return TMPL_NONE;
        }
    if (has(t, "<|im_start|>")) {
        if (has(t, "<|im_sep|>")) return TMPL_PHI4;
        if (has(t, "<end_of_utterance>")) return TMPL_NONE; /* smolvlm */
        return TMPL_CHATML;
    }
    if ((t.n >= 7 && memcmp(t.s, "mistral", 7) == 0) || has(t, "[INST]")) {
        if (has(t, "[SYSTEM_PROMPT]")) return TMPL_MISTRAL_V7;
        if (has(t, "' [INST] ' + system_message") || has(t, "[AVAILABLE_TOOLS]")) {
            if (has(t, " [INST]")) return TMPL_MISTRAL_V1;
            if (has(t, "\"[INST]\"")) return TMPL_MISTRAL_V3_TEKKEN;
            return TMPL_MISTRAL_V3;
        }
        if (has(t, "content.strip()")) return TMPL_LLAMA2_SYS_STRIP;
        if (has(t, "bos_token + '[INST]")) return TMPL_LLAMA2_SYS_BOS;
        if (has(t, "<<SYS>>")) return TMPL_LLAMA2_SYS;
        return TMPL_LLAMA2;
    }
    if (has(t, "<|assistant|>") && has(t, "<|end|>")) return TMPL_PHI3;
    if (has(t, "[gMASK]<sop>")) return TMPL_NONE; /* chatglm4 */
    if (has(t, "<|assistant|>") && has(t, "<|user|>")) {
        if (has(t, "<|tool_declare|>")) return TMPL_NONE; /* exaone-moe */
        return has(t, "</s>") ? TMPL_FALCON3 : TMPL_GLMEDGE;
    }
    if (has(t, "<|{{ item['role'] }}|>") && has(t, "<|begin_of_image|>")) return TMPL_GLMEDGE;
    if (has(t, "<|user|>") && has(t, "<|endoftext|>")) return TMPL_ZEPHYR;
    if (has(t, "bos_token + message['role']")) return TMPL_NONE; /* monarch */
    if (has(t, "<start_of_turn>")) return TMPL_GEMMA;
    if (has(t, "'\\n\\nAssistant: ' + eos_token")) return TMPL_NONE; /* orion */
    if (has(t, "GPT4 Correct ")) return TMPL_OPENCHAT;
    if (has(t, "USER: ") && has(t, "ASSISTANT: ")) return has(t, "SYSTEM: ") ? TMPL_VICUNA_ORCA : TMPL_VICUNA;
    if (has(t, "### Instruction:") && has(t, "<|EOT|>")) return TMPL_DEEPSEEK;
    if (has(t, "<|START_OF_TURN_TOKEN|>") && has(t, "<|USER_TOKEN|>")) return TMPL_COMMAND_R;
    if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>")) return TMPL_LLAMA3;
    if (has(t, "[gMASK]sop")) return TMPL_NONE;   /* chatglm3 */
    if (has(t, MINICPM_USER)) return TMPL_NONE; /* minicpm */
    if (has(t, "'Assistant: ' + message['content'] + eos_token")) return TMPL_DEEPSEEK2;
    if (has(t, DS_ASSISTANT) && has(t, DS_USER) && has(t, DS_EOS)) return TMPL_DEEPSEEK3;
    if (has(t, "[|system|]") && has(t, "[|assistant|]") && has(t, "[|endofturn|]"))
        return has(t, "[|tool|]") ? TMPL_EXAONE4 : TMPL_EXAONE3;
    if (has(t, "rwkv-world") || has(t, "{{- 'User: ' + message['content']|trim + '\\n\\n' -}}"))
        return TMPL_NONE;                                   /* rwkv-world */
    if (has(t, "<|start_of_role|>")) {
        if (has(t, "<tool_call>") || has(t, "<tools>"))
            return has(t, "g4_default_system_message") ? TMPL_GRANITE_4_0 : TMPL_GRANITE_4_1;
        return TMPL_GRANITE;
    }
    if (has(t, "message['role'] + additional_special_tokens[0] + message['content'] + additional_special_tokens[1]"))
        return TMPL_NONE;                                   /* gigachat */
    if (has(t, "<|role_start|>")) return TMPL_NONE;         /* megrez */
    if (has(t, YANDEX_ASSISTANT)) return TMPL_NONE;         /* yandex */
    if (has(t, "<role>ASSISTANT</role>")) {
        if (has(t, "'HUMAN'")) return TMPL_NONE;            /* bailing */
        if (has(t, "\"HUMAN\"") && has(t, "<think>")) return TMPL_NONE; /* bailing-think */
        if (has(t, "<role>HUMAN</role>") && has(t, "<|role_end|>")) return TMPL_NONE; /* bailing2 */
    }
    if (has(t, "<|header_start|>") && has(t, "<|header_end|>")) return TMPL_LLAMA4;
    return TMPL_NONE; /* llama.cpp's later rules only give templates we do not render */
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

/* content, trimmed or not */
static void put_content(sink *o, const char *s, bool trim) {
    if (trim) put_trimmed(o, s);
    else put(o, s);
}

typedef enum role { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT } role;

static role role_of(const zeta_chat_message *m) {
    return strcmp(m->role, "system") == 0 ? ROLE_SYSTEM : strcmp(m->role, "user") == 0 ? ROLE_USER : ROLE_ASSISTANT;
}

/* PREFIX role MIDDLE content SUFFIX for every message, then `opening` with add_assistant: the
 * shape of chatml, phi3, phi4, zephyr, falcon3, glmedge, granite, llama3 and llama4 */
static void render_tagged(const zeta_chat_message *msgs, size_t n, bool add_assistant, const char *prefix,
                          const char *middle, const char *suffix, bool trim, const char *opening, sink *o) {
    for (size_t i = 0; i < n; i++) {
        put(o, prefix);
        put(o, msgs[i].role);
        put(o, middle);
        put_content(o, msgs[i].content, trim);
        put(o, suffix);
    }
    if (add_assistant) put(o, opening);
}

/* one fixed prefix and suffix per role (content trimmed or not), then `opening` with
 * add_assistant: deepseek, deepseek2, deepseek3, command-r, exaone, openchat, vicuna */
static void render_by_role(const zeta_chat_message *msgs, size_t n, bool add_assistant, const char *const pre[3],
                           const char *const post[3], bool trim, const char *opening, sink *o) {
    for (size_t i = 0; i < n; i++) {
        role r = role_of(&msgs[i]);
        put(o, pre[r]);
        put_content(o, msgs[i].content, trim);
        put(o, post[r]);
    }
    if (add_assistant) put(o, opening);
}

#define ROLES(system, user, assistant) ((const char *const[3]){system, user, assistant})

/* llama2, llama2-sys, llama2-sys-bos, llama2-sys-strip; add_assistant changes nothing (a user turn
 * already ends with [/INST]) */
static void render_llama2(chat_tmpl id, const zeta_chat_message *msgs, size_t n, sink *o) {
    const bool sys_block = id != TMPL_LLAMA2, bos = id == TMPL_LLAMA2_SYS_BOS, strip = id == TMPL_LLAMA2_SYS_STRIP;
    bool inside_turn = true;
    put(o, "[INST] ");
    for (size_t i = 0; i < n; i++) {
        if (!inside_turn) {
            inside_turn = true;
            put(o, bos ? "<s>[INST] " : "[INST] ");
        }
        switch (role_of(&msgs[i])) {
        case ROLE_SYSTEM:
            if (sys_block) put(o, "<<SYS>>\n");
            put_content(o, msgs[i].content, strip);
            put(o, sys_block ? "\n<</SYS>>\n\n" : "\n");
            break;
        case ROLE_USER:
            put_content(o, msgs[i].content, strip);
            put(o, " [/INST]");
            break;
        case ROLE_ASSISTANT:
            put_content(o, msgs[i].content, strip);
            put(o, "</s>");
            inside_turn = false;
            break;
        }
    }
}

/* mistral-v1, -v3, -v3-tekken; add_assistant changes nothing */
static void render_mistral(chat_tmpl id, const zeta_chat_message *msgs, size_t n, sink *o) {
    const char *lead = id == TMPL_MISTRAL_V1 ? " " : "", *trail = id == TMPL_MISTRAL_V3_TEKKEN ? "" : " ";
    bool inside_turn = false;
    for (size_t i = 0; i < n; i++) {
        if (!inside_turn) {
            inside_turn = true;
            put(o, lead);
            put(o, "[INST]");
            put(o, trail);
        }
        switch (role_of(&msgs[i])) {
        case ROLE_SYSTEM:
            put(o, msgs[i].content);
            put(o, "\n\n");
            break;
        case ROLE_USER:
            put(o, msgs[i].content);
            put(o, lead);
            put(o, "[/INST]");
            break;
        case ROLE_ASSISTANT:
            put(o, trail);
            put_content(o, msgs[i].content, id == TMPL_MISTRAL_V3);
            put(o, "</s>");
            inside_turn = false;
            break;
        }
    }
}

/* gemma: system texts (trimmed, joined without separator) wait for the next user turn */
static void render_gemma(const zeta_chat_message *msgs, size_t n, bool add_assistant, sink *o) {
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
}

static void render(chat_tmpl id, const zeta_chat_message *msgs, size_t n, bool add, sink *o) {
    switch (id) {
    case TMPL_CHATML: render_tagged(msgs, n, add, "<|im_start|>", "\n", "<|im_end|>\n", false, "<|im_start|>assistant\n", o); break;
    case TMPL_LLAMA2:
    case TMPL_LLAMA2_SYS:
    case TMPL_LLAMA2_SYS_BOS:
    case TMPL_LLAMA2_SYS_STRIP: render_llama2(id, msgs, n, o); break;
    case TMPL_LLAMA3:
        render_tagged(msgs, n, add, "<|start_header_id|>", "<|end_header_id|>\n\n", "<|eot_id|>", true,
                      "<|start_header_id|>assistant<|end_header_id|>\n\n", o);
        break;
    case TMPL_LLAMA4:
        render_tagged(msgs, n, add, "<|header_start|>", "<|header_end|>\n\n", "<|eot|>", true,
                      "<|header_start|>assistant<|header_end|>\n\n", o);
        break;
    case TMPL_MISTRAL_V1:
    case TMPL_MISTRAL_V3:
    case TMPL_MISTRAL_V3_TEKKEN: render_mistral(id, msgs, n, o); break;
    case TMPL_MISTRAL_V7: /* add_assistant changes nothing */
        render_by_role(msgs, n, false, ROLES("[SYSTEM_PROMPT] ", "[INST] ", " "), ROLES("[/SYSTEM_PROMPT]", "[/INST]", "</s>"),
                       false, "", o);
        break;
    case TMPL_MISTRAL_V7_TEKKEN:
        render_by_role(msgs, n, false, ROLES("[SYSTEM_PROMPT]", "[INST]", ""), ROLES("[/SYSTEM_PROMPT]", "[/INST]", "</s>"),
                       false, "", o);
        break;
    case TMPL_GEMMA: render_gemma(msgs, n, add, o); break;
    case TMPL_PHI3: render_tagged(msgs, n, add, "<|", "|>\n", "<|end|>\n", false, "<|assistant|>\n", o); break;
    case TMPL_PHI4:
        render_tagged(msgs, n, add, "<|im_start|>", "<|im_sep|>", "<|im_end|>", false, "<|im_start|>assistant<|im_sep|>", o);
        break;
    case TMPL_ZEPHYR: render_tagged(msgs, n, add, "<|", "|>\n", "<|endoftext|>\n", false, "<|assistant|>\n", o); break;
    case TMPL_GLMEDGE: render_tagged(msgs, n, add, "<|", "|>\n", "", false, "<|assistant|>", o); break;
    case TMPL_FALCON3: render_tagged(msgs, n, add, "<|", "|>\n", "\n", false, "<|assistant|>\n", o); break;
    case TMPL_DEEPSEEK:
        render_by_role(msgs, n, add, ROLES("", "### Instruction:\n", "### Response:\n"), ROLES("", "\n", "\n<|EOT|>\n"), false,
                       "### Response:\n", o);
        break;
    case TMPL_DEEPSEEK2:
        render_by_role(msgs, n, add, ROLES("", "User: ", "Assistant: "), ROLES("\n\n", "\n\n", DS_EOS), false, "Assistant:", o);
        break;
    case TMPL_DEEPSEEK3:
        render_by_role(msgs, n, add, ROLES("", DS_USER, DS_ASSISTANT), ROLES("\n\n", "", DS_EOS), false, DS_ASSISTANT, o);
        break;
    case TMPL_COMMAND_R:
        render_by_role(msgs, n, add,
                       ROLES("<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>", "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>",
                             "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"),
                       ROLES("<|END_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>", "<|END_OF_TURN_TOKEN|>"), true,
                       "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>", o);
        break;
    case TMPL_GRANITE: /* the 4.x variants differ only for the role assistant_tool_call */
    case TMPL_GRANITE_4_0:
    case TMPL_GRANITE_4_1:
        render_tagged(msgs, n, add, "<|start_of_role|>", "<|end_of_role|>", "<|end_of_text|>\n", false,
                      "<|start_of_role|>assistant<|end_of_role|>", o);
        break;
    case TMPL_EXAONE3: /* exaone4 differs only for the role tool */
    case TMPL_EXAONE4:
        render_by_role(msgs, n, add, ROLES("[|system|]", "[|user|]", "[|assistant|]"),
                       ROLES("[|endofturn|]\n", "\n", "[|endofturn|]\n"), true, "[|assistant|]", o);
        break;
    case TMPL_OPENCHAT:
        render_by_role(msgs, n, add, ROLES("", "GPT4 Correct User: ", "GPT4 Correct Assistant: "),
                       ROLES("<|end_of_turn|>", "<|end_of_turn|>", "<|end_of_turn|>"), false, "GPT4 Correct Assistant:", o);
        break;
    case TMPL_VICUNA:
        render_by_role(msgs, n, add, ROLES("", "USER: ", "ASSISTANT: "), ROLES("\n\n", "\n", "</s>\n"), false, "ASSISTANT:", o);
        break;
    case TMPL_VICUNA_ORCA:
        render_by_role(msgs, n, add, ROLES("SYSTEM: ", "USER: ", "ASSISTANT: "), ROLES("\n", "\n", "</s>\n"), false,
                       "ASSISTANT:", o);
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
