/* generate.c — zeta_generate: tokenize the prompt, evaluate it after what the session holds (or,
 * with reuse_prefix, only the part after the prefix the session already holds), then
 * sample -> evaluate -> stream complete UTF-8 text through the callback until EOS, a stop string,
 * max_tokens, a full context (or a context shift, when enabled), the callback's "stop" or a cancel.
 * In ZETA_MODE_ULTIMATE each round evaluates the sampled token with the drafts the dense pass
 * accepted after it (gate.c) and streams them one by one, as the standard loop would. */
#include "session.h"
#include "textstream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

zeta_generate_params zeta_generate_params_default(void) {
    zeta_generate_params p;
    memset(&p, 0, sizeof p);
    p.sampler = zeta_sampler_params_default();
    p.max_tokens = 256;
    p.add_bos = true;
    return p;
}

static bool emit(const zeta_generate_params *p, const char *text, size_t len) {
    if (!len || !p->on_text) return true;
    return p->on_text(p->user, text, len);
}

/* tokens a context shift keeps: n_keep, and at least a leading BOS */
static size_t keep_for_shift(const zeta_session *s, const zeta_generate_params *p) {
    size_t k = p->n_keep;
    const zeta_token bos = vocab_bos(s->model->vocab);
    if (k == 0 && s->n_tokens > 0 && bos >= 0 && s->tokens[0] == bos) k = 1;
    return k < s->n_tokens ? k : s->n_tokens;
}

/* drops the older half of the tokens after the kept ones (llama.cpp's n_discard = n_left / 2) */
static size_t shift_half(zeta_session *s, const zeta_generate_params *p) {
    const size_t keep = keep_for_shift(s, p), n_discard = (s->n_tokens - keep + 1) / 2;
    session_shift(s, keep, n_discard);
    return n_discard;
}

zeta_status zeta_generate(zeta_session *s, const char *prompt, const zeta_generate_params *params,
                          zeta_generate_result *result, zeta_error *err) {
    zeta_generate_result res;
    memset(&res, 0, sizeof res);
    if (result) *result = res;
    if (!session_ok(s)) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_generate: session is %s",
                                         s ? "not a live zeta_session (freed or wrong handle)" : "NULL");
    if (!prompt) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_generate: prompt is NULL (pass \"\" to continue)");
    zeta_generate_params def = zeta_generate_params_default();
    const zeta_generate_params *p = params ? params : &def;
    zeta_status st = sampler_check_params(&p->sampler, err);
    if (st != ZETA_OK) return st;
    if (p->n_stop && !p->stop) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_generate: stop is NULL with n_stop %zu", p->n_stop);
    for (size_t i = 0; i < p->n_stop; i++)
        if (!p->stop[i]) return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_generate: stop[%zu] is NULL", i);
    const zeta_model *m = s->model;

    /* prompt */
    unsigned flags = (p->add_bos && (s->n_tokens == 0 || p->reuse_prefix) ? ZETA_TOKENIZE_ADD_SPECIAL : 0) |
                     (p->parse_special ? ZETA_TOKENIZE_PARSE_SPECIAL : 0);
    /* a token covers at least one byte of text apart from BOS/EOS and a SentencePiece prefix space,
     * so len + 4 nearly always fits and the prompt is tokenized once; else once more at the size
     * the first pass reported */
    size_t len = strlen(prompt), n_prompt = 0, cap = len + 4;
    zeta_token *toks = malloc(cap * sizeof *toks);
    if (!toks) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory tokenizing a prompt of %zu bytes", len);
    st = zeta_tokenize(m, prompt, len, flags, toks, cap, &n_prompt, err);
    if (st == ZETA_ERR_BUFFER_TOO_SMALL) {
        zeta_token *bigger = realloc(toks, n_prompt * sizeof *toks);
        if (!bigger) { free(toks); return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory tokenizing a prompt of %zu bytes", len); }
        toks = bigger;
        st = zeta_tokenize(m, prompt, len, flags, toks, n_prompt, &n_prompt, err);
    }
    if (st != ZETA_OK) { free(toks); return st; }
    const zeta_token *eval_toks = toks;
    size_t n_eval = n_prompt, keep_from = s->n_tokens;
    if (p->reuse_prefix) {
        size_t common = zeta_session_common_prefix(s, toks, n_prompt);
        if (common == n_prompt && common > 0) common--; /* re-evaluate the last token: its logits are needed */
        /* the exact modes keep no entry a sparse pass wrote (a variational request before this one) */
        if ((s->mode == ZETA_MODE_STANDARD || s->mode == ZETA_MODE_ULTIMATE) && common > s->sparse_from) common = s->sparse_from;
        keep_from = common;
        eval_toks = toks + common;
        n_eval = n_prompt - common;
    }
    if (keep_from + n_eval > s->n_ctx) {
        /* a shift can make room only inside the history this call keeps */
        const size_t n_keep = keep_for_shift(s, p);
        if (!p->context_shift || p->reuse_prefix || n_keep + n_eval >= s->n_ctx) {
            free(toks);
            return zeta_fail(err, ZETA_ERR_CONTEXT_FULL,
                             "the prompt has %zu tokens; with the %zu already in the session it needs %zu, but the context holds %u%s",
                             n_eval, keep_from, keep_from + n_eval, s->n_ctx,
                             p->context_shift && !p->reuse_prefix ? " (even after a context shift)" : "");
        }
    }
    double t0 = zeta_now_ms();
    if (p->reuse_prefix && keep_from < s->n_tokens) {
        s->n_tokens = keep_from;
        s->has_logits = false;
        session_truncated(s);
    }
    while (s->n_tokens + n_eval > s->n_ctx) res.n_shifted += (uint32_t)shift_half(s, p);
    st = session_eval(s, eval_toks, n_eval, NULL, err);
    free(toks);
    if (st != ZETA_OK) return st;
    res.n_prompt = (uint32_t)n_eval;
    res.n_reused = (uint32_t)(n_prompt - n_eval);
    s->stats.n_reused += n_prompt - n_eval;
    res.prompt_ms = zeta_now_ms() - t0;
    if (!s->has_logits)
        return zeta_fail(err, ZETA_ERR_INVALID_ARGUMENT, "zeta_generate: the prompt is empty and the session holds no tokens");

    textstream ts;
    if (!textstream_init(&ts, p->stop, p->n_stop)) return zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory");
    double t1 = zeta_now_ms();
    char piece[256];
    const char *out;
    size_t out_len;
    res.finish = ZETA_FINISH_LENGTH;
    bool eos = false;
    zeta_token next = -1; /* ULTIMATE with sampling: the token drawn in place of a refused draft */
    while (!eos && (p->max_tokens == 0 || res.n_generated < p->max_tokens)) {
        zeta_token t = next;
        next = -1;
        if (t < 0 && (st = zeta_session_sample(s, &p->sampler, &t, err)) != ZETA_OK) goto done;
        if (vocab_is_eog(m->vocab, t)) { res.finish = ZETA_FINISH_EOS; break; }
        if (s->n_tokens >= s->n_ctx) {
            if (!p->context_shift || keep_for_shift(s, p) + 1 >= s->n_ctx) { res.finish = ZETA_FINISH_CONTEXT_FULL; break; }
            res.n_shifted += (uint32_t)shift_half(s, p);
        }
        /* ULTIMATE: t and the drafts the dense pass accepted after it, all evaluated; else t alone */
        zeta_token acc[17] = {t};
        size_t n_acc = 1;
        const uint64_t left = p->max_tokens ? (uint64_t)(p->max_tokens - res.n_generated) : UINT64_MAX;
        const uint64_t room = s->n_ctx - s->n_tokens;
        if (s->mode == ZETA_MODE_ULTIMATE && left >= 2 && room >= 2) {
            uint64_t k = s->max_draft;
            if (k > room - 1) k = room - 1;
            if (k > left - 1) k = left - 1;
            if ((st = session_ultimate_step(s, &p->sampler, t, (uint32_t)k, acc, &n_acc, &next, err)) != ZETA_OK) goto done;
        } else if ((st = session_eval(s, &t, 1, NULL, err)) != ZETA_OK) goto done;
        for (size_t i = 0; i < n_acc; i++) {
            t = acc[i];
            if (i > 0 && vocab_is_eog(m->vocab, t)) { /* as the standard loop: EOS is not evaluated */
                session_ultimate_keep(s, i);
                res.finish = ZETA_FINISH_EOS;
                eos = true;
                break;
            }
            res.n_generated++;
            size_t need = vocab_token_piece(m->vocab, t, false, piece, sizeof piece);
            const char *src = piece;
            char *big = NULL;
            if (need > sizeof piece) {
                big = malloc(need);
                if (!big) { st = zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory"); goto done; }
                vocab_token_piece(m->vocab, t, false, big, need);
                src = big;
            }
            bool ok = textstream_push(&ts, src, need, &out, &out_len);
            free(big);
            if (!ok) { st = zeta_fail(err, ZETA_ERR_OUT_OF_MEMORY, "out of memory"); goto done; }
            const bool go_on = emit(p, out, out_len);
            if ((!go_on || ts.stopped) && i + 1 < n_acc) session_ultimate_keep(s, i + 1);
            if (!go_on) { res.finish = ZETA_FINISH_STOPPED; goto finished; }
            if (ts.stopped) { res.finish = ZETA_FINISH_STOP_STRING; goto finished; }
        }
    }
    textstream_flush(&ts, &out, &out_len);
    if (!emit(p, out, out_len) && res.finish == ZETA_FINISH_LENGTH) res.finish = ZETA_FINISH_STOPPED;
finished:
    st = zeta_ok(err);
done:
    res.generate_ms = zeta_now_ms() - t1;
    textstream_free(&ts);
    if (result) *result = res;
    return st;
}
