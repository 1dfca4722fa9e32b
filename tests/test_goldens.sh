#!/bin/sh
# End-to-end logits goldens: for every model of the core issue's types, `zeta logits` on each public
# prompt must PASS ../shared/goldens/compare.py (copied to tests/data/goldens) against llama.cpp's
# golden (or its dequantized-weights twin, as compare.py allows). KV cache f32, like the goldens.
# The 30M model is read from ../shared when present, else a "skip" line is printed. ZETA_EXEC, if
# set, prefixes every zeta run (an emulator for a cross build).
BUILD=${BUILD:-build}
ZETA=$BUILD/zeta
G=tests/data/goldens
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

model_path() {
    case "$1" in
        stories260K) echo models/stories260K.gguf ;;
        zeta-demo-30m-*) echo ../shared/goldens/models/$1.gguf ;;
        *) echo tests/data/models/$1.gguf ;;
    esac
}

for name in stories260K stories260K-F16 stories260K-BF16 stories260K-Q8_0 stories260K-Q4_0 \
            llama-2-tiny-random synth-llama3-F16 synth-llama3-Q8_0 synth-llama3-Q4_0 \
            synth-qwen2-F16 synth-qwen2-Q8_0 synth-qwen2-Q4_0 synth-qwen3-F16 synth-qwen3-Q8_0 synth-qwen3-Q4_0 \
            zoo-F32 zoo-F16 zoo-BF16 zoo-Q8_0 zoo-Q4_0 zeta-demo-30m-F16; do
    m=$(model_path "$name")
    for golden in "$G/logits/$name"/*.json; do
        case "$golden" in *.deq.json) continue ;; esac
        prompt=$(basename "$golden" .json)
        case "$name" in zeta-demo-30m-*) pf=$G/prompts/$prompt.txt ;; *) pf=$G/prompts/$prompt.txt ;; esac
        label="golden $name/$prompt"
        if [ ! -f "$m" ]; then echo "skip - $label: model $m not present"; continue; fi
        cand=$out/$name-$prompt.json
        if ! $ZETA_EXEC "$ZETA" logits -m "$m" -f "$pf" -k 64 -n 32 --cache-type-k f32 -t 2 -o "$cand" >"$out/log" 2>&1; then
            echo "FAIL - $label: zeta logits failed: $(tail -n 1 "$out/log")"; continue
        fi
        res=$(python3 "$G/compare.py" "$golden" "$cand" --quiet 2>&1 | tail -n 1)
        case "$res" in
            PASS*) echo "ok - $label" ;;
            *) echo "FAIL - $label: $res" ;;
        esac
    done
done
