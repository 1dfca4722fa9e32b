/* unicode.c — UTF-8 decoding/encoding and lookups in the generated Unicode tables
 * (src/unicode_data.c) for the tokenizer. */
#include "unicode.h"

uint16_t uni_flags(uint32_t cp) {
    if (cp >= 0x110000) return UNI_UNDEFINED;
    /* last run whose start <= cp */
    size_t lo = 0, hi = uni_flag_run_count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (uni_flag_run_start[mid] <= cp) lo = mid;
        else hi = mid;
    }
    return uni_flag_run_flags[lo];
}

uint32_t uni_tolower(uint32_t cp) {
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    size_t lo = 0, hi = uni_lower_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (uni_lower_map[mid][0] < cp) lo = mid + 1;
        else hi = mid;
    }
    return (lo < uni_lower_count && uni_lower_map[lo][0] == cp) ? uni_lower_map[lo][1] : cp;
}

uint32_t uni_nfd_first(uint32_t cp) {
    if (cp < 0xC0) return cp;
    size_t lo = 0, hi = uni_nfd_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (uni_nfd_ranges[mid][1] < cp) lo = mid + 1;
        else hi = mid;
    }
    return (lo < uni_nfd_count && uni_nfd_ranges[lo][0] <= cp) ? uni_nfd_ranges[lo][2] : cp;
}

uint32_t uni_decode(const char *s, size_t len, size_t *pos) {
    const uint8_t *u = (const uint8_t *)s + *pos;
    size_t left = len - *pos;
    uint32_t cp;
    size_t n;
    if (u[0] < 0x80) { *pos += 1; return u[0]; }
    if ((u[0] & 0xE0) == 0xC0) { n = 2; cp = u[0] & 0x1F; }
    else if ((u[0] & 0xF0) == 0xE0) { n = 3; cp = u[0] & 0x0F; }
    else if ((u[0] & 0xF8) == 0xF0) { n = 4; cp = u[0] & 0x07; }
    else { *pos += 1; return UNI_REPLACEMENT; }
    if (left < n) { *pos += 1; return UNI_REPLACEMENT; }
    for (size_t i = 1; i < n; i++) {
        if ((u[i] & 0xC0) != 0x80) { *pos += 1; return UNI_REPLACEMENT; }
        cp = (cp << 6) | (u[i] & 0x3F);
    }
    if (cp > 0x10FFFF) { *pos += 1; return UNI_REPLACEMENT; }
    *pos += n;
    return cp;
}

size_t uni_encode(uint32_t cp, char out[4]) {
    if (cp > 0x10FFFF) cp = UNI_REPLACEMENT;
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
