/* textstream.h — the streaming text filter between token pieces and the user's callback: it only
 * releases complete UTF-8 characters, holds back text that could be the start of a stop string,
 * and reports when a stop string has appeared (the stop string and what follows are not released). */
#ifndef ZETA_TEXTSTREAM_H
#define ZETA_TEXTSTREAM_H

#include <stdbool.h>
#include <stddef.h>

typedef struct textstream {
    char *buf;          /* pending bytes not yet released */
    size_t len, cap;
    const char *const *stop;
    size_t n_stop;
    size_t max_stop;    /* longest stop string */
    bool stopped;
} textstream;

/* stop strings are borrowed and must outlive the stream; empty stop strings are ignored. */
bool textstream_init(textstream *ts, const char *const *stop, size_t n_stop);
void textstream_free(textstream *ts);

/* Appends bytes. Then *out and *out_len give the text that is now safe to release (complete UTF-8, not
 * part of a possible stop string); it points into the stream and is valid until the next call.
 * Returns false on allocation failure. After a stop string is seen, ts->stopped is true and
 * *out holds the text before it. */
bool textstream_push(textstream *ts, const char *bytes, size_t n, const char **out, size_t *out_len);

/* At the end of generation: releases what is held (an incomplete UTF-8 tail becomes U+FFFD). */
void textstream_flush(textstream *ts, const char **out, size_t *out_len);

/* Length of the longest prefix of s[0..n) that is whole UTF-8 characters (invalid bytes count as
 * complete one-byte characters so they never block the stream). */
size_t utf8_complete_prefix(const char *s, size_t n);

#endif
