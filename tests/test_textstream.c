/* test_textstream.c — tests of src/textstream.c: whole UTF-8 characters only, stop strings split
 * across pushes, held-back stop prefixes that turn out harmless, U+FFFD for incomplete tails and
 * invalid bytes, empty pushes, and a randomized split-invariance check. */
#include "textstream.h"
#include "test.h"

#include <stdbool.h>
#include <stdint.h>

/* Collects everything a stream releases. */
typedef struct sink {
    char text[4096];
    size_t len;
    int n_releases; /* non-empty releases */
} sink;

static void sink_add(sink *s, const char *p, size_t n) {
    if (n == 0) return;
    if (s->len + n < sizeof s->text) {
        memcpy(s->text + s->len, p, n);
        s->len += n;
        s->text[s->len] = 0;
    }
    s->n_releases++;
}

static bool push(textstream *ts, sink *s, const char *bytes, size_t n) {
    const char *out = NULL;
    size_t out_len = 99;
    bool ok = textstream_push(ts, bytes, n, &out, &out_len);
    if (ok) sink_add(s, out, out_len);
    return ok;
}

static bool push_str(textstream *ts, sink *s, const char *str) { return push(ts, s, str, strlen(str)); }

static void flush(textstream *ts, sink *s) {
    const char *out = NULL;
    size_t out_len = 99;
    textstream_flush(ts, &out, &out_len);
    sink_add(s, out, out_len);
}

static bool sink_is(const sink *s, const char *want) {
    return s->len == strlen(want) && memcmp(s->text, want, s->len) == 0;
}

static void test_emoji_split_in_four(void) {
    textstream ts;
    sink s = {{0}, 0, 0};
    T_CHECK(textstream_init(&ts, NULL, 0));
    const char emoji[] = "\xF0\x9F\x98\x80"; /* U+1F600 */
    for (int i = 0; i < 3; i++) {
        T_CHECK(push(&ts, &s, emoji + i, 1));
        T_CHECKF(s.len == 0, "released %zu bytes after byte %d", s.len, i);
    }
    T_CHECK(push(&ts, &s, emoji + 3, 1));
    T_CHECK(sink_is(&s, emoji));
    T_CHECK(s.n_releases == 1);
    /* text around it: "a" is released at once, the emoji only whole */
    sink s2 = {{0}, 0, 0};
    T_CHECK(push_str(&ts, &s2, "a\xF0\x9F"));
    T_CHECK(sink_is(&s2, "a"));
    T_CHECK(push_str(&ts, &s2, "\x98\x80" "b"));
    T_CHECK(sink_is(&s2, "a\xF0\x9F\x98\x80" "b"));
    flush(&ts, &s2);
    T_CHECK(sink_is(&s2, "a\xF0\x9F\x98\x80" "b"));
    textstream_free(&ts);
}

static void test_stop_split_across_pushes(void) {
    const char *stops[] = {"</s>"};
    textstream ts;
    sink s = {{0}, 0, 0};
    T_CHECK(textstream_init(&ts, stops, 1));
    T_CHECK(push_str(&ts, &s, "Hello <"));
    T_CHECK(sink_is(&s, "Hello "));
    T_CHECK(!ts.stopped);
    T_CHECK(push_str(&ts, &s, "/"));
    T_CHECK(push_str(&ts, &s, "s"));
    T_CHECK(sink_is(&s, "Hello "));
    T_CHECK(push_str(&ts, &s, ">tail that is never released"));
    T_CHECK(ts.stopped);
    T_CHECK(sink_is(&s, "Hello "));
    T_CHECK(push_str(&ts, &s, "more")); /* after a stop nothing more comes out */
    flush(&ts, &s);
    T_CHECK(sink_is(&s, "Hello "));
    textstream_free(&ts);

    /* the stop string inside one push, with text before it in the same push */
    T_CHECK(textstream_init(&ts, stops, 1));
    sink s2 = {{0}, 0, 0};
    T_CHECK(push_str(&ts, &s2, "abc"));
    T_CHECK(push_str(&ts, &s2, "def</s>ghi"));
    T_CHECK(ts.stopped);
    T_CHECK(sink_is(&s2, "abcdef"));
    textstream_free(&ts);
}

static void test_false_stop_prefix_released(void) {
    const char *stops[] = {"STOP"};
    textstream ts;
    sink s = {{0}, 0, 0};
    T_CHECK(textstream_init(&ts, stops, 1));
    T_CHECK(push_str(&ts, &s, "xST"));
    T_CHECK(sink_is(&s, "x"));
    T_CHECK(push_str(&ts, &s, "O"));
    T_CHECK(sink_is(&s, "x"));
    T_CHECK(push_str(&ts, &s, "P!"));
    T_CHECK(ts.stopped); /* this time it was one */
    T_CHECK(sink_is(&s, "x"));
    textstream_free(&ts);

    T_CHECK(textstream_init(&ts, stops, 1));
    sink s2 = {{0}, 0, 0};
    T_CHECK(push_str(&ts, &s2, "xSTO"));
    T_CHECK(push_str(&ts, &s2, "RM")); /* "STOR" is not a prefix of "STOP": all released */
    T_CHECK(sink_is(&s2, "xSTORM"));
    T_CHECK(!ts.stopped);
    /* overlapping: "SSTOP" — the first S is released once "SS" is not a prefix */
    T_CHECK(push_str(&ts, &s2, " S"));
    T_CHECK(sink_is(&s2, "xSTORM "));
    T_CHECK(push_str(&ts, &s2, "S"));
    T_CHECK(sink_is(&s2, "xSTORM S"));
    T_CHECK(push_str(&ts, &s2, "TOP"));
    T_CHECK(ts.stopped);
    T_CHECK(sink_is(&s2, "xSTORM S"));
    textstream_free(&ts);

    /* a prefix held at the end of generation is released by flush */
    T_CHECK(textstream_init(&ts, stops, 1));
    sink s3 = {{0}, 0, 0};
    T_CHECK(push_str(&ts, &s3, "end ST"));
    T_CHECK(sink_is(&s3, "end "));
    flush(&ts, &s3);
    T_CHECK(sink_is(&s3, "end ST"));
    T_CHECK(!ts.stopped);
    textstream_free(&ts);
}

static void test_multiple_stop_strings(void) {
    const char *stops[] = {"\n\nUser:", "", "<|im_end|>", "END"};
    textstream ts;
    T_CHECK(textstream_init(&ts, stops, 4));
    T_CHECK(ts.max_stop == strlen("<|im_end|>"));
    sink s = {{0}, 0, 0};
    T_CHECK(push_str(&ts, &s, "one\n"));
    T_CHECK(sink_is(&s, "one"));
    T_CHECK(push_str(&ts, &s, "\nUs"));
    T_CHECK(sink_is(&s, "one"));
    T_CHECK(push_str(&ts, &s, "ually <|im_"));
    T_CHECK(sink_is(&s, "one\n\nUsually "));
    T_CHECK(push_str(&ts, &s, "end|> END"));
    T_CHECK(ts.stopped);
    T_CHECK(sink_is(&s, "one\n\nUsually "));
    textstream_free(&ts);

    /* the stop that completes first wins ("bc" ends before "abcd"), as if fed byte by byte */
    const char *stops2[] = {"abcd", "bc"};
    T_CHECK(textstream_init(&ts, stops2, 2));
    sink s2 = {{0}, 0, 0};
    T_CHECK(push_str(&ts, &s2, "xa"));
    T_CHECK(push_str(&ts, &s2, "bcd"));
    T_CHECK(ts.stopped);
    T_CHECK(sink_is(&s2, "xa"));
    textstream_free(&ts);

    /* empty and NULL stop entries are ignored */
    const char *stops3[] = {"", NULL};
    T_CHECK(textstream_init(&ts, stops3, 2));
    sink s3 = {{0}, 0, 0};
    T_CHECK(push_str(&ts, &s3, "plain"));
    T_CHECK(sink_is(&s3, "plain"));
    T_CHECK(!ts.stopped);
    textstream_free(&ts);
}

static void test_flush_incomplete_gives_fffd(void) {
    textstream ts;
    sink s = {{0}, 0, 0};
    T_CHECK(textstream_init(&ts, NULL, 0));
    T_CHECK(push_str(&ts, &s, "ok\xE2\x82"));
    T_CHECK(sink_is(&s, "ok"));
    flush(&ts, &s);
    T_CHECK(sink_is(&s, "ok\xEF\xBF\xBD"));
    flush(&ts, &s); /* a second flush releases nothing */
    T_CHECK(sink_is(&s, "ok\xEF\xBF\xBD"));
    textstream_free(&ts);
}

static void test_invalid_bytes_never_block(void) {
    textstream ts;
    sink s = {{0}, 0, 0};
    T_CHECK(textstream_init(&ts, NULL, 0));
    /* stray continuation, 0xFF, a lead byte followed by ASCII, an overlong C0 80, a surrogate */
    T_CHECK(push_str(&ts, &s, "a\x80" "b\xFF" "c\xE2" "d\xC0\x80" "e\xED\xA0\x80" "f"));
    T_CHECK(sink_is(&s, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD" "d\xEF\xBF\xBD\xEF\xBF\xBD"
                        "e\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "f"));
    textstream_free(&ts);
    T_CHECK(utf8_complete_prefix("ab\xC3", 3) == 2);
    T_CHECK(utf8_complete_prefix("ab\xC3\xA9", 4) == 4);
    T_CHECK(utf8_complete_prefix("\x80\x80", 2) == 2);      /* invalid bytes are complete units */
    T_CHECK(utf8_complete_prefix("\xF0\x9F\x98", 3) == 0);  /* incomplete 4-byte sequence */
    T_CHECK(utf8_complete_prefix("\xF0\x41", 2) == 2);      /* broken lead: invalid + 'A' */
    T_CHECK(utf8_complete_prefix("\xF4\x90\x80\x80", 4) == 4); /* above U+10FFFF: 4 invalid bytes */
    T_CHECK(utf8_complete_prefix("", 0) == 0);
}

static void test_no_stop_strings(void) {
    textstream ts;
    sink s = {{0}, 0, 0};
    T_CHECK(textstream_init(&ts, NULL, 3)); /* NULL array with a count: no stops */
    T_CHECK(push_str(&ts, &s, "Hello, "));
    T_CHECK(sink_is(&s, "Hello, "));
    T_CHECK(push_str(&ts, &s, "w\xC3\xB6rld"));
    T_CHECK(sink_is(&s, "Hello, w\xC3\xB6rld"));
    T_CHECK(s.n_releases == 2);
    flush(&ts, &s);
    T_CHECK(s.n_releases == 2);
    T_CHECK(!ts.stopped);
    textstream_free(&ts);
}

static void test_empty_pushes(void) {
    const char *stops[] = {"##"};
    textstream ts;
    sink s = {{0}, 0, 0};
    T_CHECK(textstream_init(&ts, stops, 1));
    T_CHECK(push(&ts, &s, "", 0));
    T_CHECK(push(&ts, &s, NULL, 0));
    T_CHECK(s.len == 0 && s.n_releases == 0);
    T_CHECK(push_str(&ts, &s, "a#"));
    T_CHECK(push(&ts, &s, NULL, 0));
    T_CHECK(sink_is(&s, "a"));
    flush(&ts, &s);
    T_CHECK(sink_is(&s, "a#"));
    textstream_free(&ts);
    textstream_free(&ts); /* freeing twice (zeroed) and NULL are harmless */
    textstream_free(NULL);
    /* flush on a fresh stream */
    T_CHECK(textstream_init(&ts, stops, 1));
    sink s2 = {{0}, 0, 0};
    flush(&ts, &s2);
    T_CHECK(s2.len == 0);
    textstream_free(&ts);
}

/* Whatever the split of the input into pushes, the concatenated output is the same, and no
 * release ever ends inside a UTF-8 character. */
static void test_split_invariance(void) {
    const char *stops[] = {"<|end|>", "\xE2\x80\x94!", "abcd", "bc"}; /* 2nd: em dash + '!' */
    const char *inputs[] = {
        "caf\xC3\xA9 \xF0\x9F\x98\x80 <|en <|end <\xE2\x80\x94 done<|end|> hidden",
        "\xE2\x80\x94\xE2\x80\x94 x\xE2\x80\x94! hidden",
        "no stop here \xE4\xB8\xAD\xE6\x96\x87 <| <|end| \xE2\x80",
        "zzabcdzz",
        "abdab<|endabc",
    };
    const char *want[] = {
        "caf\xC3\xA9 \xF0\x9F\x98\x80 <|en <|end <\xE2\x80\x94 done",
        "\xE2\x80\x94\xE2\x80\x94 x",
        "no stop here \xE4\xB8\xAD\xE6\x96\x87 <| <|end| \xEF\xBF\xBD",
        "zza",
        "abdab<|enda",
    };
    uint64_t rng = 12345;
    int bad = 0, split_char = 0;
    for (size_t k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
        size_t n = strlen(inputs[k]);
        for (int trial = 0; trial < 200; trial++) {
            textstream ts;
            sink s = {{0}, 0, 0};
            if (!textstream_init(&ts, stops, 4)) { bad++; continue; }
            size_t i = 0;
            while (i < n) {
                rng = rng * 6364136223846793005ull + 1442695040888963407ull;
                size_t step = (size_t)(rng >> 60) % 5; /* 0..4 bytes, empty pushes included */
                if (step > n - i) step = n - i;
                const char *out;
                size_t out_len;
                if (!textstream_push(&ts, inputs[k] + i, step, &out, &out_len)) bad++;
                if (out_len && utf8_complete_prefix(out, out_len) != out_len) split_char++;
                sink_add(&s, out, out_len);
                i += step;
            }
            flush(&ts, &s);
            if (!sink_is(&s, want[k])) bad++;
            textstream_free(&ts);
        }
    }
    T_CHECKF(bad == 0, "%d splits gave a different output", bad);
    T_CHECKF(split_char == 0, "%d releases ended inside a character", split_char);
}

int main(void) {
    (void)t_read_file;
    T_RUN(test_emoji_split_in_four);
    T_RUN(test_stop_split_across_pushes);
    T_RUN(test_false_stop_prefix_released);
    T_RUN(test_multiple_stop_strings);
    T_RUN(test_flush_incomplete_gives_fffd);
    T_RUN(test_invalid_bytes_never_block);
    T_RUN(test_no_stop_strings);
    T_RUN(test_empty_pushes);
    T_RUN(test_split_invariance);
    return t_done();
}
