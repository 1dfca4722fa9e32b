#!/bin/sh
# The zeta CLI end to end: exit codes and "zeta: " error lines on bad input, --help of every
# command, `zeta synth` (tiny shape) -> `zeta info` -> `zeta bench` (JSON fields) -> `zeta quantize`
# -> `zeta run`, with a deterministic seed.
BUILD=${BUILD:-build}
ZETA="$ZETA_EXEC $BUILD/zeta"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

case_() { # label expected-rc expected-stderr-fragment command...
    label=$1 want=$2 frag=$3
    shift 3
    "$@" >"$out/o" 2>"$out/e"
    rc=$?
    if [ "$rc" -ne "$want" ]; then echo "FAIL - cli $label: exit $rc, expected $want: $(tail -n 1 "$out/e")"; return; fi
    if [ -n "$frag" ] && ! grep -qF -- "$frag" "$out/e" "$out/o"; then echo "FAIL - cli $label: output lacks '$frag': $(tail -n 1 "$out/e")"; return; fi
    echo "ok - cli $label"
}

case_ "no command" 2 "usage" $ZETA
case_ "unknown command" 2 "zeta: unknown command 'frobnicate'" $ZETA frobnicate
for c in run calibrate info tokenize perplexity logits quantize bench synth; do
    case_ "$c --help" 0 "usage: zeta $c" $ZETA $c --help
done
case_ "run without a model" 1 "zeta: run: -m MODEL is required" $ZETA run -p hi
case_ "run with a missing model" 1 "zeta: " $ZETA run -m "$out/nope.gguf"
case_ "run with a bad number" 2 "zeta: --temp: 'abc' is not a number" $ZETA run -m models/stories260K.gguf --temp abc
case_ "info of a v1 file" 1 "v1" $ZETA info tests/data/models/tinyllamas-stories-260k-f32.gguf
case_ "info of a text file" 1 "zeta: " $ZETA info README.md
case_ "synth of an unknown shape" 1 "unknown shape 'huge'" $ZETA synth --shape huge -o "$out/x.gguf"
[ -e "$out/x.gguf" ] && echo "FAIL - cli synth left a file after failing" || echo "ok - cli synth leaves nothing after failing"

case_ "synth tiny q8_0" 0 "" $ZETA synth --shape tiny --type q8_0 --seed 5 -o "$out/tiny.gguf"
# rows are quantized on several threads: the bytes must not depend on how many
ZETA_SYNTH_THREADS=1 $ZETA synth --shape tiny --type q4_K --seed 7 -o "$out/t1.gguf" > /dev/null 2>&1
ZETA_SYNTH_THREADS=3 $ZETA synth --shape tiny --type q4_K --seed 7 -o "$out/t3.gguf" > /dev/null 2>&1
if [ -s "$out/t1.gguf" ] && cmp -s "$out/t1.gguf" "$out/t3.gguf"; then echo "ok - cli synth: 1 and 3 threads write the same bytes"
else echo "FAIL - cli synth: 1 and 3 threads wrote different files"; fi
rm -f "$out/t1.gguf" "$out/t3.gguf"
case_ "info tiny" 0 "tiny test shape" $ZETA info "$out/tiny.gguf" --tensors
case_ "bench tiny json" 0 "" $ZETA bench -m "$out/tiny.gguf" -p 16 -n 4 -r 1 -t 2 -o json
if python3 -c "import json,sys; d=json.load(open('$out/o'))[0]; assert d['n_prompt']==16 and d['n_gen']==4 and d['pp_tps']>0 and d['tg_tps']>0 and d['peak_rss_kb']>0 and d['decode_ms_p99']>=d['decode_ms_p50']>0" 2>"$out/pe"; then
    echo "ok - cli bench json fields"
else echo "FAIL - cli bench json fields: $(tail -n 1 "$out/pe")"; fi
case_ "bench tiny csv" 0 "pp_tps" $ZETA bench -m "$out/tiny.gguf" -p 8 -n 2 -r 1 -o csv
# ZETA_CPU_ISA caps the kernel tables (here: none beyond the scalar reference); the run still works
case_ "bench with ZETA_CPU_ISA=scalar" 0 "kernels: scalar" env ZETA_CPU_ISA=scalar $ZETA bench -m "$out/tiny.gguf" -p 8 -n 2 -r 1
case_ "quantize tiny to q4_0" 0 "" $ZETA quantize "$out/tiny.gguf" "$out/tiny-q4.gguf" Q4_0 --allow-requantize
case_ "run tiny" 0 "generation" $ZETA run -m "$out/tiny-q4.gguf" -p "Hello" -n 8 --seed 1 --temp 0
cp "$out/o" "$out/run1"
$ZETA run -m "$out/tiny-q4.gguf" -p "Hello" -n 8 --seed 1 --temp 0 >"$out/run2" 2>/dev/null
cmp -s "$out/run1" "$out/run2" && echo "ok - cli greedy run is reproducible" || echo "FAIL - cli greedy runs differ"

# long-context options: quantized KV, depth in bench, prompt cache (second run reuses the prefix and
# prints the same text), context shift past -c
case_ "run tiny q8_0/q4_0 KV" 0 "generation" $ZETA run -m "$out/tiny-q4.gguf" -p "Hello" -n 8 --temp 0 -ctk q8_0 -ctv q4_0
case_ "bench at depth" 0 "tg4 @ d40" $ZETA bench -m "$out/tiny.gguf" -p 8 -n 4 -r 1 -d 40 -ctk q8_0
case_ "bench at two depths" 0 "" $ZETA bench -m "$out/tiny.gguf" -p 0 -n 4 -r 2 -d 0,40 -o csv
if [ "$(grep -c '^tiny.gguf,' "$out/o")" = 2 ] && grep -q ',40,q8_0\|,40,f16' "$out/o"; then echo "ok - cli bench at two depths: a row per depth"; else echo "FAIL - cli bench at two depths: $(cat "$out/o")"; fi
case_ "bench with a bad depth list" 2 "-d takes depths" $ZETA bench -m "$out/tiny.gguf" -d 5,
case_ "bad KV type" 2 "not a supported KV cache type" $ZETA run -m "$out/tiny-q4.gguf" -ctk q6_k
case_ "run q8_0 KV unrotated" 0 "generation" $ZETA run -m "$out/tiny-q4.gguf" -p "Hello" -n 4 --temp 0 -ctk q8_0 --kv-rotate off
case_ "bad --kv-rotate" 2 "neither on nor off" $ZETA perplexity -m "$out/tiny-q4.gguf" -f README.md --kv-rotate yes
case_ "prompt cache, first run" 0 "" $ZETA run -m models/stories260K.gguf -p "Once upon a time there was" -n 12 --temp 0 --no-echo --prompt-cache "$out/pc"
cp "$out/o" "$out/pc1"
case_ "prompt cache, second run" 0 "prompt tokens reused from the prompt cache" $ZETA run -m models/stories260K.gguf -p "Once upon a time there was" -n 12 --temp 0 --no-echo --prompt-cache "$out/pc"
cmp -s "$out/o" "$out/pc1" && echo "ok - cli prompt cache gives the same text" || echo "FAIL - cli prompt cache changed the text"
case_ "prompt cache of another model" 0 "not using the prompt cache" $ZETA run -m "$out/tiny-q4.gguf" -p "Hello" -n 2 --prompt-cache "$out/pc"
case_ "context full without shift" 0 "generation 6 tokens" $ZETA run -m models/stories260K.gguf -p "Once" -c 8 -n 100 --temp 0
case_ "context shift" 0 "dropped by context shifts" $ZETA run -m models/stories260K.gguf -p "Once" -c 16 -n 100 --temp 0.7 --seed 3 --context-shift

# variational gating (docs/GATING.md): calibrate the tiny model, then the modes in run and bench
case_ "calibrate tiny" 0 "wrote" $ZETA calibrate -m "$out/tiny.gguf" -f README.md -c 32 --chunks 2 -o "$out/tiny.sparsity"
case_ "run --mode without --sparsity" 1 "needs --sparsity FILE" $ZETA run -m "$out/tiny.gguf" --mode variational -n 2
case_ "run --mode variational --stats" 0 "sparse_ratio" $ZETA run -m "$out/tiny.gguf" --sparsity "$out/tiny.sparsity" --mode variational --stats -p hi -n 8 --temp 0
case_ "run --mode ultimate --stats" 0 "mode ultimate" $ZETA run -m "$out/tiny.gguf" --sparsity "$out/tiny.sparsity" --mode ultimate --stats -p hi -n 8 --temp 0
case_ "run --level not in the file" 1 "is not a level of the sparsity file" $ZETA run -m "$out/tiny.gguf" --sparsity "$out/tiny.sparsity" --mode sparse --level 0.35 -n 2
case_ "bench --mode sparse json" 0 "" $ZETA bench -m "$out/tiny.gguf" --sparsity "$out/tiny.sparsity" --mode sparse -p 0 -n 4 -r 1 -o json
if python3 -c "import json; d=json.load(open('$out/o'))[0]; assert d['mode']=='sparse' and d['sparse_ratio']==1.0 and d['tg_tps']>0" 2>"$out/pe"; then
    echo "ok - cli bench --mode json fields"
else echo "FAIL - cli bench --mode json fields: $(tail -n 1 "$out/pe")"; fi

case_ "bench --mode ultimate json" 0 "" $ZETA bench -m "$out/tiny.gguf" --sparsity "$out/tiny.sparsity" --mode ultimate -p 0 -n 16 -r 1 -o json
if python3 -c "import json; d=json.load(open('$out/o'))[0]; assert d['mode']=='ultimate' and d['tg_tps']>0 and 0<=d['acceptance']<=1 and d['mean_accepted']>=0, d" 2>"$out/pe" &&
    grep -q "verifications, [1-9][0-9]* drafted" "$out/e"; then
    echo "ok - cli bench --mode ultimate: generation with drafts, acceptance in the json"
else echo "FAIL - cli bench --mode ultimate: $(tail -n 1 "$out/pe") $(grep ultimate "$out/e")"; fi

# zeta chat: the reply is zeta run's on the same conversation rendered by the template (chatml: the
# shipped model has none), later turns reuse the session's prefix, /clear starts again, the oldest
# turns go when the context is full, commands and a request for a gated mode without a file
S=models/stories260K.gguf
p=$(printf '<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nX'); p=${p%X}
want=$($ZETA run -m $S -p "$p" --stop '<|im_end|>' -n 24 --temp 0 --no-echo 2>/dev/null)
got=$(printf 'Hello\n' | $ZETA chat -m $S -n 24 --temp 0 2>"$out/e")
[ -n "$want" ] && [ "$got" = "$want" ] && echo "ok - cli chat: the reply equals zeta run's on the chatml rendering" ||
    echo "FAIL - cli chat: '$got' against zeta run's '$want' ($(tail -n 1 "$out/e"))"
printf 'Hello\nAnd then?\n/clear\nHello\n/quit\nnot read\n' | $ZETA chat -m $S -n 24 --temp 0 --stats >"$out/o" 2>"$out/e"
reused=$(grep 'tokens evaluated' "$out/e" | sed -n '2s/.*evaluated (\([0-9]*\) reused).*/\1/p')
first=$(grep 'tokens evaluated' "$out/e" | sed -n '1s/.*evaluated (\([0-9]*\) reused).*/\1/p')
[ "$first" = 0 ] && [ "${reused:-0}" -gt 0 ] && echo "ok - cli chat: the second turn reuses $reused tokens of the first" ||
    echo "FAIL - cli chat: reuse '$first' then '$reused': $(cat "$out/e")"
n_replies=$(grep -c 'tokens evaluated' "$out/e")
third=$(tail -c $(( ${#want} + 1 )) "$out/o")
[ "$n_replies" = 3 ] && grep -q 'conversation cleared' "$out/e" && [ "$third" = "$want" ] &&
    echo "ok - cli chat: /clear starts the conversation again (the same reply), /quit ends it" ||
    echo "FAIL - cli chat /clear: $n_replies replies, last '$third'"
printf 'Tell me a story\nMore\nMore please\nAnd more\n' | $ZETA chat -m $S -n 40 -c 128 --temp 0 >"$out/o" 2>"$out/e"
[ $? = 0 ] && grep -q 'oldest messages* w' "$out/e" && [ "$(grep -c 'reply cut at -n' "$out/e")" = 4 ] &&
    echo "ok - cli chat: older turns are dropped when the context is full, every turn answered" ||
    echo "FAIL - cli chat, small context: $(cat "$out/e")"
printf '/mode ultimate\n/frobnicate\n//x\n' | $ZETA chat -m $S -n 4 --temp 0 >"$out/o" 2>"$out/e"
[ $? = 0 ] && grep -q 'needs a sparsity file' "$out/e" && grep -q "unknown command '/frobnicate'" "$out/e" &&
    [ "$(grep -c 'reply cut at -n' "$out/e")" = 1 ] && echo "ok - cli chat: commands, and /mode without --sparsity refused" ||
    echo "FAIL - cli chat commands: $(cat "$out/e")"
case_ "chat with an unknown template" 1 "is not one of" $ZETA chat -m $S --chat-template nope
case_ "chat without a model" 1 "-m MODEL is required" $ZETA chat
std=$(printf 'a b\n' | $ZETA chat -m "$out/tiny.gguf" -n 12 --temp 0 2>/dev/null)
printf '/mode ultimate\na b\n/stats\n' | $ZETA chat -m "$out/tiny.gguf" --sparsity "$out/tiny.sparsity" -n 12 --temp 0 >"$out/o" 2>"$out/e"
[ "$(cat "$out/o")" = "$std" ] && grep -q 'zeta: mode ultimate$' "$out/e" && grep -q 'verifications' "$out/e" &&
    echo "ok - cli chat: /mode ultimate gives standard's reply, with verifications" ||
    echo "FAIL - cli chat /mode ultimate: '$(cat "$out/o")' vs '$std': $(cat "$out/e")"

# --check: a NaN block scale is found at load (and without --check the model loads)
python3 - "$out/nan.gguf" <<'PY'
import struct, sys
b = bytearray(open("tests/fuzz/corpus/gguf/tiny-q8_0.gguf", "rb").read())
b[len(b) - 34:len(b) - 32] = struct.pack("<H", 0x7e00)  # the last q8_0 block's f16 scale: NaN
open(sys.argv[1], "wb").write(b)
PY
case_ "info --check of a clean model" 0 "every tensor value is finite" $ZETA info --check models/stories260K.gguf
case_ "info --check of a NaN scale" 1 "'blk.0.ffn_down.weight' (q8_0) has a NaN value at row 31" $ZETA info --check "$out/nan.gguf"
case_ "info without --check loads it" 0 "fuzz-seed" $ZETA info "$out/nan.gguf"

# a context whose KV cache cannot fit in this machine's memory is refused before allocating, with
# the size needed (tiny shape, f32 K and V: 2 KiB a token, 16M tokens = 32 GiB)
mem_kb=$(sed -n 's/^MemTotal:[[:space:]]*\([0-9]*\).*/\1/p' /proc/meminfo 2>/dev/null)
if [ -n "$mem_kb" ] && [ "$mem_kb" -lt 33000000 ]; then
    case_ "context too big for memory" 1 "needs 32768 MiB but this machine has" $ZETA run -m "$out/tiny.gguf" -c 16777216 -ctk f32 -ctv f32 -p hi -n 1
else echo "skip - cli context too big for memory: this machine has ${mem_kb:-?} KiB, more than the 32 GiB case"; fi
