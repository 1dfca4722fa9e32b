/* textstream.c — the streaming text filter between token pieces and the user's callback: releases
 * only complete UTF-8 characters, holds back a tail that could still become a stop string, and
 * stops (releasing only the text before it) when a stop string appears.
 *
 * Output is always valid UTF-8: a byte that cannot start or continue a well-formed UTF-8
 * character (stray continuation bytes, C0/C1/F5..FF, overlong or surrogate forms, a lead byte
 * followed by a non-continuation) counts as a complete one-byte character so it never blocks the
 * stream, and is released as U+FFFD (EF BF BD). An incomplete sequence at the very end is held
 * until more bytes arrive, and becomes one U+FFFD at flush (or at a stop string). Stop strings
 * are matched on the raw bytes, before any replacement. When several stop strings occur, the one
 * that completes first wins, so the output never depends on how the bytes were split into pushes.
 *
 * Memory: ts->buf[0..len) holds the pending bytes. The text released by a call is written just
 * after them (cap is kept >= 4 * len + 4, enough for every byte to become 3 and one extra U+FFFD),
 * then the pending bytes move to the front. The next push overwrites that area, which is why the
 * released text is valid only until the next call. flush never allocates. */
#include "textstream.h"

#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char k_replacement[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

/* Examines the UTF-8 unit starting at s[0] (n >= 1 bytes available). Returns its length in bytes
 * (1 for an invalid byte, with *valid = false), or 0 if it is a valid but incomplete prefix that
 * runs to the end of s. */
static size_t utf8_unit(const unsigned char *s, size_t n, bool *valid) {
    unsigned char b = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    *valid = true;
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) need = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
        need = 3;
        if (b == 0xE0) lo = 0xA0;      /* no overlong forms */
        else if (b == 0xED) hi = 0x9F; /* no surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 4;
        if (b == 0xF0) lo = 0x90;      /* no overlong forms */
        else if (b == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *valid = false;
        return 1;
    }
    for (size_t i = 1; i < need; i++) {
        if (i >= n) return 0;
        unsigned char c = s[i];
        bool ok = i == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
        if (!ok) {
            *valid = false;
            return 1;
        }
    }
    return need;
}

size_t utf8_complete_prefix(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        bool valid;
        size_t k = utf8_unit(u + i, n - i, &valid);
        if (k == 0) break;
        i += k;
    }
    return i;
}

/* Copies src[0..n) to dst with invalid bytes replaced by U+FFFD; an incomplete sequence at the end
 * becomes one U+FFFD. dst needs room for 3 * n + 3 bytes. Returns the bytes written. */
static size_t utf8_sanitize(const char *src, size_t n, char *dst) {
    const unsigned char *u = (const unsigned char *)src;
    size_t i = 0, o = 0;
    while (i < n) {
        bool valid;
        size_t k = utf8_unit(u + i, n - i, &valid);
        if (k == 0) { /* incomplete tail */
            memcpy(dst + o, k_replacement, 3);
            o += 3;
            break;
        }
        if (valid) {
            memcpy(dst + o, src + i, k);
            o += k;
        } else {
            memcpy(dst + o, k_replacement, 3);
            o += 3;
        }
        i += k;
    }
    return o;
}

bool textstream_init(textstream *ts, const char *const *stop, size_t n_stop) {
    if (!ts) return false;
    memset(ts, 0, sizeof *ts);
    if (!stop) n_stop = 0;
    ts->stop = stop;
    ts->n_stop = n_stop;
    for (size_t i = 0; i < n_stop; i++) {
        size_t l = stop[i] ? strlen(stop[i]) : 0;
        if (l > ts->max_stop) ts->max_stop = l;
    }
    return true;
}

void textstream_free(textstream *ts) {
    if (!ts) return;
    free(ts->buf);
    memset(ts, 0, sizeof *ts);
}

/* Start of the stop string that completes first in s[0..n) (smallest end; on a tie the longer,
 * earlier-starting one), or n if there is none. Choosing by end rather than by start makes the
 * result independent of how the text was split into pushes: it is what a byte-by-byte scan sees. */
static size_t find_stop(const textstream *ts, const char *s, size_t n) {
    size_t best_start = n, best_end = SIZE_MAX;
    for (size_t k = 0; k < ts->n_stop; k++) {
        const char *st = ts->stop[k];
        size_t l = st ? strlen(st) : 0;
        if (l == 0 || l > n) continue;
        for (size_t j = 0; j + l <= n && j + l <= best_end; j++) {
            if (s[j] == st[0] && memcmp(s + j, st, l) == 0) {
                if (j + l < best_end || j < best_start) {
                    best_end = j + l;
                    best_start = j;
                }
                break;
            }
        }
    }
    return best_start;
}

/* Earliest j such that s[j..n) is a proper prefix of some stop string (so it might still become
 * one), or n if there is none. Assumes find_stop found nothing. */
static size_t find_stop_prefix(const textstream *ts, const char *s, size_t n) {
    if (ts->max_stop < 2) return n;
    size_t j = n > ts->max_stop - 1 ? n - (ts->max_stop - 1) : 0;
    for (; j < n; j++) {
        size_t tail = n - j;
        for (size_t k = 0; k < ts->n_stop; k++) {
            const char *st = ts->stop[k];
            if (!st) continue;
            if (strlen(st) > tail && memcmp(s + j, st, tail) == 0) return j;
        }
    }
    return n;
}

/* Makes cap >= 4 * len + 4 for a pending length of len. */
static bool reserve(textstream *ts, size_t len) {
    size_t need;
    if (!zeta_mul_size(len, 4, &need) || !zeta_add_size(need, 4, &need)) return false;
    if (ts->cap >= need) return true;
    size_t cap = ts->cap ? ts->cap : 64;
    while (cap < need) {
        if (!zeta_mul_size(cap, 2, &cap)) {
            cap = need;
            break;
        }
    }
    char *b = realloc(ts->buf, cap);
    if (!b) return false;
    ts->buf = b;
    ts->cap = cap;
    return true;
}

/* Releases buf[0..r) (sanitized, with an incomplete tail as U+FFFD) into the area after the
 * pending bytes and keeps buf[keep_from..len) pending. */
static void release(textstream *ts, size_t r, size_t keep_from, const char **out, size_t *out_len) {
    char *dst = ts->buf + ts->len;
    size_t o = utf8_sanitize(ts->buf, r, dst);
    size_t rest = ts->len - keep_from;
    memmove(ts->buf, ts->buf + keep_from, rest);
    ts->len = rest;
    *out = dst;
    *out_len = o;
}

bool textstream_push(textstream *ts, const char *bytes, size_t n, const char **out, size_t *out_len) {
    const char *dummy_out;
    size_t dummy_len;
    if (!out) out = &dummy_out;
    if (!out_len) out_len = &dummy_len;
    *out = "";
    *out_len = 0;
    if (!ts) return false;
    if (ts->stopped) return true;
    if (!bytes) n = 0;

    size_t total;
    if (!zeta_add_size(ts->len, n, &total) || !reserve(ts, total)) return false;
    if (n) memcpy(ts->buf + ts->len, bytes, n);
    ts->len = total;

    size_t stop_at = find_stop(ts, ts->buf, ts->len);
    if (stop_at < ts->len) {
        ts->stopped = true;
        release(ts, stop_at, ts->len, out, out_len); /* nothing stays pending */
        return true;
    }
    size_t hold = find_stop_prefix(ts, ts->buf, ts->len);
    size_t r = utf8_complete_prefix(ts->buf, hold);
    release(ts, r, r, out, out_len);
    return true;
}

void textstream_flush(textstream *ts, const char **out, size_t *out_len) {
    const char *dummy_out;
    size_t dummy_len;
    if (!out) out = &dummy_out;
    if (!out_len) out_len = &dummy_len;
    *out = "";
    *out_len = 0;
    if (!ts || ts->stopped || ts->len == 0) {
        if (ts) ts->len = 0;
        return;
    }
    release(ts, ts->len, ts->len, out, out_len);
}
