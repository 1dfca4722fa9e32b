#!/bin/sh
# End-to-end logits goldens: for every model and weight type, `zeta logits` on each public
# prompt must PASS ../shared/goldens/compare.py (copied to tests/data/goldens) against llama.cpp's
# golden (or its dequantized-weights twin, as compare.py allows). KV cache f32, like the goldens.
# The 30M model is read from ../shared when present, else a "skip" line is printed. ZETA_EXEC, if
# set, prefixes every zeta run (an emulator for a cross build).
BUILD=${BUILD:-build}
ZETA=$BUILD/zeta
G=tests/data/goldens
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

SHARED30=../shared/goldens/models/zeta-demo-30m-F16.gguf
MODELS30=$BUILD/models

model_path() {
    case "$1" in
        stories260K) echo models/stories260K.gguf ;;
        zeta-demo-30m-F16) echo $SHARED30 ;;
        zeta-demo-30m-*) echo $MODELS30/$1.gguf ;;
        *) echo tests/data/models/$1.gguf ;;
    esac
}

# The 30M model's quantized goldens refer to llama-quantize outputs that are not shipped; our own
# `zeta quantize` must reproduce them byte for byte (sha256 from the goldens README), then they are
# compared like the others. Made once per build directory.
make30() { # type sha256
    f=$MODELS30/zeta-demo-30m-$1.gguf
    [ -f "$SHARED30" ] || return 0
    if [ ! -f "$f" ]; then
        mkdir -p "$MODELS30"
        $ZETA_EXEC "$ZETA" quantize "$SHARED30" "$f" "$1" -t 2 >"$out/q.log" 2>&1 || { echo "FAIL - quantize 30M $1: $(tail -n 1 "$out/q.log")"; rm -f "$f"; return 0; }
    fi
    got=$(sha256sum "$f" | cut -d' ' -f1)
    if [ "$got" = "$2" ]; then echo "ok - zeta quantize 30M $1 is byte-identical to llama-quantize's file"
    else echo "FAIL - zeta quantize 30M $1: sha256 $got, llama.cpp's file has $2"; rm -f "$f"; fi
}
make30 Q8_0 6ba5b4684ca661e083fc2c90a20f589bc078eb5aabd0b0940e59e7359422a744
make30 Q4_0 5e50b3c1ac7e668cafc2483d8a4a643e62a67d5bceeea111d952bfe3ac07dc94
make30 Q4_K_M 6ed96d85843925ac3d1a44fa091a39373a3f8d558a3cdb2b6306e29c67f1f26a

# check NAMES... [ISA]: every golden of those models; with ISA, zeta runs under ZETA_CPU_ISA=ISA
check() {
    isa=$1
    shift
    for name in "$@"; do
        m=$(model_path "$name")
        for golden in "$G/logits/$name"/*.json; do
            case "$golden" in *.deq.json) continue ;; esac
            prompt=$(basename "$golden" .json)
            pf=$G/prompts/$prompt.txt
            label="golden $name/$prompt${isa:+ (ZETA_CPU_ISA=$isa)}"
            if [ ! -f "$m" ]; then echo "skip - $label: model $m not present"; continue; fi
            cand=$out/$name-$prompt.json
            if ! env ${isa:+ZETA_CPU_ISA=$isa} $ZETA_EXEC "$ZETA" logits -m "$m" -f "$pf" -k 64 -n 32 --cache-type-k f32 -t 2 -o "$cand" >"$out/log" 2>&1; then
                echo "FAIL - $label: zeta logits failed: $(tail -n 1 "$out/log")"; continue
            fi
            res=$(python3 "$G/compare.py" "$golden" "$cand" --quiet 2>&1 | tail -n 1)
            case "$res" in
                PASS*) echo "ok - $label" ;;
                *) echo "FAIL - $label: $res" ;;
            esac
        done
    done
}

check "" stories260K stories260K-F16 stories260K-BF16 stories260K-Q8_0 stories260K-Q4_0 \
    llama-2-tiny-random synth-llama3-F16 synth-llama3-Q8_0 synth-llama3-Q4_0 \
    synth-qwen2-F16 synth-qwen2-Q8_0 synth-qwen2-Q4_0 synth-qwen3-F16 synth-qwen3-Q8_0 synth-qwen3-Q4_0 \
    zoo-F32 zoo-F16 zoo-BF16 zoo-Q8_0 zoo-Q4_0 zoo-Q4_1 zoo-Q5_0 zoo-Q5_1 zoo-IQ4_NL \
    zoo-Q2_K zoo-Q3_K_S zoo-Q4_K_S zoo-Q5_K_S zoo-Q6_K zoo-IQ4_XS \
    zeta-demo-30m-F16 zeta-demo-30m-Q8_0 zeta-demo-30m-Q4_0 zeta-demo-30m-Q4_K_M
# On a CPU with AVX-512 the packed types run the AVX-512 kernels; run them again with the AVX2 ones
# (what an AVX2-only CPU runs), so that CI on either kind of machine checks both against llama.cpp.
if [ -z "${ZETA_EXEC:-}" ] && grep -q '^flags.* avx512_vnni' /proc/cpuinfo 2>/dev/null; then
    check avx2 zoo-Q8_0 zoo-Q4_0 zoo-Q4_1 zoo-Q5_0 zoo-Q5_1 zoo-IQ4_NL zoo-Q2_K zoo-Q3_K_S zoo-Q4_K_S zoo-Q5_K_S zoo-Q6_K zoo-IQ4_XS
else
    echo "skip - goldens with ZETA_CPU_ISA=avx2: this CPU has no AVX-512 VNNI (its own run above already used its kernels)"
fi
