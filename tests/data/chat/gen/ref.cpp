// Reference generator for ZetaLm's chat-template tests. Links llama.cpp's libllama.a.
//   ref detect FILE...                 -> "basename<TAB>llama.cpp template name" per file
//   ref render CONVS NAME...           -> "NAME<TAB>conv<TAB>text<TAB>opening" lines (escaped): text is
//                                         llama_chat_apply_template(NAME) with add_ass false, and
//                                         text + opening is what it renders with add_ass true (checked)
//   ref detect-str FILE                -> for each line (escaped text): "line<TAB>llama.cpp template name"
//   ref names                          -> llama.cpp's built-in template names, one a line
//   ref same FILE VARIANT CONVS        -> checks llama_chat_apply_template(text) == (variant) on all convs
#include "llama.h"
#include "llama-chat.h"
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

static std::string slurp(const char *p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss; ss << f.rdbuf(); return ss.str();
}
static std::string unescape(const std::string &s) {
    std::string o;
    for (size_t i = 0; i < s.size(); i++) {
        if (s[i] != '\\' || i + 1 == s.size()) { o += s[i]; continue; }
        char c = s[++i];
        if (c == 'n') o += '\n'; else if (c == 't') o += '\t'; else if (c == 'r') o += '\r';
        else if (c == '\\') o += '\\';
        else if (c == 'x') { o += (char)strtol(s.substr(i + 1, 2).c_str(), nullptr, 16); i += 2; }
        else { fprintf(stderr, "bad escape\n"); exit(1); }
    }
    return o;
}
static std::string escape(const std::string &s) {
    std::string o; char b[8];
    for (unsigned char c : s) {
        if (c == '\\') o += "\\\\"; else if (c == '\n') o += "\\n"; else if (c == '\t') o += "\\t";
        else if (c == '\r') o += "\\r";
        else if (c < 0x20 || c == 0x7f) { snprintf(b, sizeof b, "\\x%02x", c); o += b; }
        else o += (char)c;
    }
    if (!o.empty() && o.back() == ' ') o.replace(o.size() - 1, 1, "\\x20"); // survives trailing-space stripping
    return o;
}
struct conv { std::string name; std::vector<std::pair<std::string, std::string>> msgs; };
static std::vector<conv> read_convs(const char *path) {
    std::vector<conv> cs; std::istringstream in(slurp(path)); std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        if (line.rfind("conv ", 0) == 0) { cs.push_back({line.substr(5), {}}); continue; }
        size_t t = line.find('\t');
        if (t == std::string::npos || cs.empty()) { fprintf(stderr, "bad line: %s\n", line.c_str()); exit(1); }
        cs.back().msgs.push_back({line.substr(0, t), unescape(line.substr(t + 1))});
    }
    return cs;
}
static std::string apply(const std::string &tmpl, const conv &c, bool add) {
    std::vector<llama_chat_message> m;
    for (auto &p : c.msgs) m.push_back({p.first.c_str(), p.second.c_str()});
    int32_t n = llama_chat_apply_template(tmpl.c_str(), m.data(), m.size(), add, nullptr, 0);
    if (n < 0) return "<ERROR>";
    std::vector<char> buf(n + 1);
    llama_chat_apply_template(tmpl.c_str(), m.data(), m.size(), add, buf.data(), (int32_t)buf.size());
    return std::string(buf.data(), n);
}
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    std::string mode = argv[1];
    std::vector<const char *> names(128);
    int32_t nn = llama_chat_builtin_templates(names.data(), names.size());
    std::map<int, std::string> rev;
    for (int i = 0; i < nn; i++) rev[(int)llm_chat_detect_template(names[i])] = names[i];
    auto detect = [&](std::string t) {
        t = std::string(t.c_str()); // as llama_chat_apply_template sees a C string
        int e = (int)llm_chat_detect_template(t);
        return e == (int)LLM_CHAT_TEMPLATE_UNKNOWN ? std::string("unknown") : rev.count(e) ? rev[e] : "enum#" + std::to_string(e);
    };
    if (mode == "names") {
        for (int i = 0; i < nn; i++) printf("%s\n", names[i]);
    } else if (mode == "detect") {
        for (int i = 2; i < argc; i++) {
            const char *b = strrchr(argv[i], '/');
            printf("%s\t%s\n", b ? b + 1 : argv[i], detect(slurp(argv[i])).c_str());
        }
    } else if (mode == "detect-str") {
        std::istringstream in(slurp(argv[2])); std::string line;
        while (std::getline(in, line)) printf("%s\t%s\n", line.c_str(), detect(unescape(line)).c_str());
    } else if (mode == "render") {
        auto cs = read_convs(argv[2]);
        for (int i = 3; i < argc; i++)
            for (auto &c : cs) {
                std::string text = apply(argv[i], c, false), with = apply(argv[i], c, true);
                if (text == "<ERROR>" || with.compare(0, text.size(), text) != 0) {
                    fprintf(stderr, "%s / %s: add_ass does not just append\n", argv[i], c.name.c_str());
                    return 1;
                }
                printf("%s\t%s\t%s\t%s\n", argv[i], c.name.c_str(), escape(text).c_str(), escape(with.substr(text.size())).c_str());
            }
    } else if (mode == "same") {
        auto cs = read_convs(argv[4]);
        std::string t = slurp(argv[2]);
        int bad = 0;
        for (auto &c : cs)
            for (int add = 0; add < 2; add++)
                if (apply(t, c, add) != apply(argv[3], c, add)) { printf("DIFF %s %s %d\n", argv[2], c.name.c_str(), add); bad = 1; }
        return bad;
    }
    return 0;
}
