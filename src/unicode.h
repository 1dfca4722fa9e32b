/* unicode.h — code points for the tokenizer: UTF-8 decoding the way llama.cpp does it (an invalid
 * byte becomes U+FFFD and decoding resumes at the next byte), UTF-8 encoding, and lookups in the
 * generated tables of src/unicode_data.c (category flags, White_Space, simple lowercase, first code
 * point of NFD). Pure functions over const tables. */
#ifndef ZETA_UNICODE_H
#define ZETA_UNICODE_H

#include <stddef.h>
#include <stdint.h>

/* Category flags (one of the first eight per code point) plus the White_Space bit. */
enum {
    UNI_UNDEFINED = 0x0001,   /* Cn, or beyond U+10FFFF */
    UNI_NUMBER = 0x0002,      /* \p{N} */
    UNI_LETTER = 0x0004,      /* \p{L} */
    UNI_SEPARATOR = 0x0008,   /* \p{Z} */
    UNI_MARK = 0x0010,        /* \p{M} */
    UNI_PUNCTUATION = 0x0020, /* \p{P} */
    UNI_SYMBOL = 0x0040,      /* \p{S} */
    UNI_CONTROL = 0x0080,     /* \p{C} other than Cn */
    UNI_CATEGORY_MASK = 0x00FF,
    UNI_WHITESPACE = 0x0100   /* White_Space property */
};

#define UNI_REPLACEMENT 0xFFFDu

/* Generated tables (src/unicode_data.c). */
extern const char uni_data_version[];
extern const uint32_t uni_flag_run_start[];
extern const uint16_t uni_flag_run_flags[];
extern const size_t uni_flag_run_count;
extern const uint32_t uni_lower_map[][2];
extern const size_t uni_lower_count;
extern const uint32_t uni_nfd_ranges[][3];
extern const size_t uni_nfd_count;

uint16_t uni_flags(uint32_t cp);
uint32_t uni_tolower(uint32_t cp);
uint32_t uni_nfd_first(uint32_t cp);  /* first code point of the NFD decomposition */

/* Byte length of a UTF-8 sequence judged by its first byte alone (continuation and invalid lead
 * bytes count 1), as llama.cpp's SPM/BPE symbol splitting does. */
static inline size_t uni_len_utf8(uint8_t first) {
    static const uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[first >> 4];
}

/* Decodes one code point at s[*pos] (pos < len) and advances *pos. Malformed input (bad lead byte,
 * missing continuation byte, value above U+10FFFF) yields U+FFFD and advances by one byte. */
uint32_t uni_decode(const char *s, size_t len, size_t *pos);

/* Encodes cp (<= U+10FFFF; larger values encode U+FFFD) into out[0..4); returns the byte count. */
size_t uni_encode(uint32_t cp, char out[4]);

#endif
