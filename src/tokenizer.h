/* tokenizer.h — vocabularies read from GGUF metadata: SentencePiece-style (tokenizer.ggml.model =
 * "llama": scores, byte fallback), GPT-2-style byte-level BPE ("gpt2": merges, pre-tokenizer chosen
 * by tokenizer.ggml.pre) and WordPiece ("bert"). Encode, decode, special tokens. Matches
 * llama.cpp's tokenizer output id for id. Read-only after load: safe from many threads. */
#ifndef ZETA_TOKENIZER_H
#define ZETA_TOKENIZER_H

#include "gguf.h"

typedef struct zeta_vocab zeta_vocab;

/* Builds the vocabulary from g's tokenizer.* keys. Errors name the file and key. */
zeta_status vocab_load(const gguf_file *g, zeta_vocab **out, zeta_error *err);
void vocab_free(zeta_vocab *v);

uint32_t vocab_n_tokens(const zeta_vocab *v);
const char *vocab_model_name(const zeta_vocab *v);  /* "llama", "gpt2", "bert" */
const char *vocab_pre_name(const zeta_vocab *v);    /* tokenizer.ggml.pre, or "default" */
zeta_token vocab_bos(const zeta_vocab *v);          /* -1 if none */
zeta_token vocab_eos(const zeta_vocab *v);          /* -1 if none */
bool vocab_add_bos(const zeta_vocab *v);            /* add_bos_token, or the tokenizer's default */
bool vocab_add_eos(const zeta_vocab *v);
bool vocab_is_eog(const zeta_vocab *v, zeta_token t); /* EOS, EOT, EOM, ... */
bool vocab_is_control(const zeta_vocab *v, zeta_token t);

/* Tokenizes text[0..len) (any bytes; invalid UTF-8 never crashes). add_special: BOS/EOS per
 * vocab_add_bos/eos. parse_special: special-token text becomes the special token. Writes up to cap
 * tokens; *n_out = number needed; ZETA_ERR_BUFFER_TOO_SMALL when cap is too small. */
zeta_status vocab_tokenize(const zeta_vocab *v, const char *text, size_t len, bool add_special,
                           bool parse_special, zeta_token *out, size_t cap, size_t *n_out, zeta_error *err);

/* Bytes of one token as it appears in text (SPM "▁" -> ' ', byte tokens <0xXX> -> the byte, BPE
 * byte-level unmapping). Control tokens give "" unless `special`. Writes min(cap, needed) bytes,
 * returns needed. t must be < vocab_n_tokens (else returns 0). */
size_t vocab_token_piece(const zeta_vocab *v, zeta_token t, bool special, char *buf, size_t cap);

/* Text of a sequence: pieces concatenated; for SPM vocabularies with add_space_prefix the leading
 * space of the first piece is removed. */
zeta_status vocab_detokenize(const zeta_vocab *v, const zeta_token *tokens, size_t n, bool special,
                             char *buf, size_t cap, size_t *n_out, zeta_error *err);

#endif
