#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/). Run from the
repository root: python3 tests/fuzz/make_seeds.py. The GGUF seeds are a tiny valid llama model
(1 layer, n_embd 32, a 12-token SentencePiece vocabulary, f32/f16/q8_0 weights) and variants of it;
the others are short texts and request bodies. Deterministic: the same files every time.
The gguf/malformed-*.gguf seeds (one per corruption class) come from tests/test_malformed.c:
ZETA_WRITE_MALFORMED=tests/fuzz/corpus/gguf ./build/tests/test_malformed"""
import json, os, struct

OUT = "tests/fuzz/corpus"

def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b

def kv(key, vtype, val):
    out = gstr(key) + struct.pack("<I", vtype)
    if vtype == 4: out += struct.pack("<I", val)        # uint32
    elif vtype == 6: out += struct.pack("<f", val)      # float32
    elif vtype == 8: out += gstr(val)                   # string
    elif vtype == 9:                                    # array: (elem type, values)
        et, vals = val
        out += struct.pack("<IQ", et, len(vals))
        for v in vals:
            out += gstr(v) if et == 8 else struct.pack({4: "<I", 5: "<i", 6: "<f"}[et], v)
    return out

def f16(x):
    return struct.pack("<e", x)

def q8_0(vals):  # one block per 32 values: f16 scale + 32 int8
    out = b""
    for i in range(0, len(vals), 32):
        blk = vals[i:i + 32]
        amax = max(abs(v) for v in blk) or 1.0
        d = amax / 127
        out += f16(d) + bytes((round(v / d) & 0xFF) for v in blk)
    return out

def model(wtype=0, n_embd=32, n_ff=64, n_vocab=12, tweak=None):
    tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in (0x20, 0x0A)] + ["▁", "▁a", "b", "c", "▁the", "e", "s"]
    tokens = tokens[:n_vocab]
    kvs = [kv("general.architecture", 8, "llama"), kv("general.name", 8, "fuzz-seed"),
           kv("llama.context_length", 4, 64), kv("llama.embedding_length", 4, n_embd),
           kv("llama.block_count", 4, 1), kv("llama.feed_forward_length", 4, n_ff),
           kv("llama.attention.head_count", 4, 2), kv("llama.attention.head_count_kv", 4, 1),
           kv("llama.attention.layer_norm_rms_epsilon", 6, 1e-5),
           kv("tokenizer.ggml.model", 8, "llama"), kv("tokenizer.ggml.tokens", 9, (8, tokens)),
           kv("tokenizer.ggml.scores", 9, (6, [-float(i) for i in range(len(tokens))])),
           kv("tokenizer.ggml.token_type", 9, (5, [2, 3, 3, 6, 6] + [1] * (len(tokens) - 5))),
           kv("tokenizer.ggml.bos_token_id", 4, 1), kv("tokenizer.ggml.eos_token_id", 4, 2)]
    if tweak == "chat_template":
        kvs.append(kv("tokenizer.chat_template", 8, "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"))
    def w(n):  # deterministic small weights
        return [((i * 37 % 17) - 8) / 64.0 for i in range(n)]
    tensors = []  # name, dims, type, bytes
    def mat(name, ne0, ne1):
        vals = w(ne0 * ne1)
        if wtype == 1: tensors.append((name, [ne0, ne1], 1, b"".join(f16(v) for v in vals)))
        elif wtype == 8: tensors.append((name, [ne0, ne1], 8, q8_0(vals)))
        else: tensors.append((name, [ne0, ne1], 0, struct.pack("<%df" % len(vals), *vals)))
    def vec(name, n):
        tensors.append((name, [n], 0, struct.pack("<%df" % n, *([1.0] * n))))
    head = n_embd // 2
    mat("token_embd.weight", n_embd, len(tokens))
    vec("output_norm.weight", n_embd)
    vec("blk.0.attn_norm.weight", n_embd)
    mat("blk.0.attn_q.weight", n_embd, n_embd)
    mat("blk.0.attn_k.weight", n_embd, head)
    mat("blk.0.attn_v.weight", n_embd, head)
    mat("blk.0.attn_output.weight", n_embd, n_embd)
    vec("blk.0.ffn_norm.weight", n_embd)
    mat("blk.0.ffn_gate.weight", n_embd, n_ff)
    mat("blk.0.ffn_up.weight", n_embd, n_ff)
    mat("blk.0.ffn_down.weight", n_ff, n_embd)
    align = 32
    infos, data = b"", b""
    for name, dims, t, raw in tensors:
        pad = (-len(data)) % align
        data += b"\0" * pad
        infos += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        infos += struct.pack("<IQ", t, len(data))
        data += raw
    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs) + infos
    header += b"\0" * ((-len(header)) % align)
    return header + data

def write(target, name, blob):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(blob)

m = model()
write("gguf", "tiny-f32.gguf", m)
write("gguf", "tiny-f16.gguf", model(wtype=1))
write("gguf", "tiny-q8_0.gguf", model(wtype=8))
write("gguf", "tiny-chat-template.gguf", model(tweak="chat_template"))
write("gguf", "header-only.gguf", m[:24])
write("gguf", "truncated-half.gguf", m[:len(m) // 2])
write("gguf", "version-1.gguf", b"GGUF" + struct.pack("<I", 1) + m[8:200])
write("gguf", "empty", b"")

# tokenizer: first byte = vocabulary (0 SPM, 1 BPE, 2 WPM) | add_special << 2 | parse_special << 3
texts = ["Hello world", "  leading spaces and trailing  ", "naïve café — 東京 🎉", "line\nbreaks\r\n\ttabs",
         "<s>special</s> <|endoftext|>", "[CLS] Mixed CASE and 123,456.78", "\xff\xfe invalid", "a" * 300]
for i, t in enumerate(texts):
    for sel in (0, 1, 2, 4, 8 | 1):
        write("tokenizer", "t%02d-%02d" % (i, sel), bytes([sel]) + t.encode("utf-8", "surrogateescape"))

# request: first byte = 1 chat, 0 completion
reqs = [(1, {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8}),
        (1, {"model": "m", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
             "stream": True, "stream_options": {"include_usage": True}, "temperature": 0.7, "top_p": 0.9,
             "seed": 3, "stop": ["\n", "END"], "n": 1}),
        (1, {"messages": [{"role": "user", "content": [{"type": "text", "text": "parts"}]}]}),
        (1, {"messages": [{"role": "developer", "content": None}, {"role": "assistant", "content": "ok"}]}),
        (0, {"prompt": "Once upon a time", "max_tokens": 16, "stop": "."}),
        (0, {"prompt": ["one string"], "frequency_penalty": -1.5, "presence_penalty": 2}),
        (0, {"prompt": "x", "max_tokens": "8"}),
        (1, {"messages": []})]
for i, (chat, body) in enumerate(reqs):
    write("request", "r%02d" % i, bytes([chat]) + json.dumps(body).encode())
write("request", "r-bad-json", b"\x01{\"messages\": [")
write("request", "r-dup-keys", b"\x00{\"prompt\":\"a\",\"prompt\":\"b\"}")

# chat: first byte = template index (low 7 bits, modulo the count of NAMES) | add_assistant << 7;
# then messages split at 0x1E, each starting with a role byte (1 system, 2 user, 3 assistant, 0/4
# unknown -> refused). NAMES: zeta_chat_templates() in its order, then the alias "mistral".
NAMES = ["chatml", "llama2", "llama2-sys", "llama2-sys-bos", "llama2-sys-strip", "llama3", "llama4", "mistral-v1",
         "mistral-v3", "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken", "gemma", "phi3", "phi4", "zephyr", "glmedge",
         "falcon3", "deepseek", "deepseek2", "deepseek3", "command-r", "granite", "granite-4.0", "granite-4.1", "exaone3",
         "exaone4", "openchat", "vicuna", "vicuna-orca", "mistral"]
def sel(name, add=False):
    return bytes([NAMES.index(name) | (0x80 if add else 0)])
chats = [sel("chatml") + b"\x01You are helpful.\x1e\x02Hi there\x1e\x03Hello!\x1e\x02How are you?",
         sel("llama2-sys-strip", True) + b"\x01sys\x1e\x02user text",
         sel("llama3") + b"{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>{% endfor %}",
         sel("mistral-v3", True) + b"\x02[INST] hi\x1e\x03  reply  \x1e\x02again",
         sel("gemma") + b"\x01sys\x1e\x01sys2\x1e\x02<start_of_turn>user",
         sel("phi3") + "\x02naïve 東京 🎉\x1e\x03ok".encode(),
         sel("zephyr", True) + b"<|user|>x<|endoftext|>",
         sel("deepseek3") + "\x02<｜User｜>\x1e\x04tool says hi".encode(),
         sel("chatml") + b"<|im_start|>system"]
for i, c in enumerate(chats):
    write("chat", "c%02d" % i, c)
# every name once, on a conversation with each role and surrounding whitespace
for i, name in enumerate(NAMES):
    write("chat", "n-" + name, sel(name, i % 2 == 1) + b"\x01 sys \x1e\x02 hi\n\x1e\x03\t reply \x1e\x02again\x1e\x01late")
