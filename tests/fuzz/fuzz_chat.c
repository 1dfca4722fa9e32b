/* fuzz_chat.c — any bytes as a conversation and as a template text: the first byte picks the
 * template (its low 7 bits modulo the count, over every name of zeta_chat_templates() and then the
 * alias "mistral") and add_assistant (its high bit); the rest is split at 0x1E bytes into messages
 * whose first byte picks the role (an unknown role must be refused, not rendered). Properties:
 * detection never crashes and returns a listed name or NULL; every listed name has an end of turn;
 * the size query and the real call agree, the output is NUL-terminated, a too-small buffer is left
 * untouched. */
#include "fuzz.h"
#include "zeta.h"

#include <string.h>

#define MAX_NAMES 120
static const char *const k_roles[4] = {"system", "user", "assistant", "tool"};
static char g_list[2048];
static const char *g_names[MAX_NAMES + 1];
static int g_n_names;

/* zeta_chat_templates() split at ", " into g_names, then the alias; once. */
static void load_names(void) {
    if (g_n_names) return;
    snprintf(g_list, sizeof g_list, "%s", zeta_chat_templates());
    for (char *p = g_list; *p && g_n_names < MAX_NAMES;) {
        g_names[g_n_names++] = p;
        char *sep = strstr(p, ", ");
        if (!sep) break;
        *sep = 0;
        p = sep + 2;
    }
    g_names[g_n_names++] = "mistral";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char *all = malloc(size);
    if (!all) return 0;
    memcpy(all, data + 1, size - 1);
    all[size - 1] = 0;
    load_names();
    const char *det = zeta_chat_template_detect(all);
    if (det) {
        bool known = false;
        for (int i = 0; i < g_n_names - 1; i++) known |= !strcmp(det, g_names[i]); /* never the alias */
        FUZZ_CHECK(known, "detect returned '%s'", det);
        FUZZ_CHECK(zeta_chat_end_of_turn(det) != NULL, "no end of turn for '%s'", det);
    }
    /* messages: split the bytes after the first at 0x1E */
    zeta_chat_message msgs[64];
    size_t n = 0;
    bool unknown_role = false;
    char *p = all, *end = all + (size - 1);
    while (p < end && n < 64) {
        char *q = memchr(p, 0x1E, (size_t)(end - p));
        if (!q) q = end;
        *q = 0;
        const unsigned r = (unsigned char)p[0] % 4;
        msgs[n].role = k_roles[r];
        msgs[n].content = p[0] ? p + 1 : p;
        unknown_role |= r == 3;
        n++;
        p = q + 1;
    }
    const char *name = g_names[(data[0] & 0x7F) % g_n_names];
    const bool add = data[0] & 0x80;
    size_t need = 0;
    zeta_error err;
    zeta_status st = zeta_chat_apply(name, msgs, n, add, NULL, 0, &need, &err);
    if (unknown_role) FUZZ_CHECK(st == ZETA_ERR_INVALID_ARGUMENT, "role 'tool' accepted by %s", name);
    if (st == ZETA_ERR_INVALID_ARGUMENT) FUZZ_CHECK(err.message[0] != 0, "refusal without a message");
    if (st == ZETA_ERR_BUFFER_TOO_SMALL || st == ZETA_OK) {
        char *buf = malloc(need + 1);
        if (buf) {
            if (need > 0) { /* one byte short: refused, untouched */
                memset(buf, 'x', need + 1);
                size_t m = 0;
                FUZZ_CHECK(zeta_chat_apply(name, msgs, n, add, buf, need, &m, &err) == ZETA_ERR_BUFFER_TOO_SMALL && m == need,
                           "cap %zu of %zu was not refused", need, need + 1);
                for (size_t i = 0; i <= need; i++) FUZZ_CHECK(buf[i] == 'x', "too-small buffer written at %zu", i);
            }
            size_t m = 0;
            st = zeta_chat_apply(name, msgs, n, add, buf, need + 1, &m, &err);
            FUZZ_CHECK(st == ZETA_OK && m == need && buf[need] == 0, "real call: %s (%zu vs %zu)", zeta_status_name(st), m, need);
            free(buf);
        }
    }
    free(all);
    return 0;
}
