#!/bin/sh
# bench/cuda_run.sh — run ON THE GPU MACHINE, from the repository root: builds with make CUDA=1,
# runs tests/test_cuda (op-by-op and whole-model checks against the CPU backend), measures the
# device-to-device copy bandwidth, writes TinyLlama-1.1B-shaped random models (Q4_0, Q8_0) with
# `zeta synth`, and times tg128 / pp512 on the GPU with `zeta bench --backend cuda`. Logs go to
# $OUT (or /tmp/cuda_run); a short table is printed last.
set -u
OUT=${OUT:-/tmp/cuda_run}
mkdir -p "$OUT"
JOBS=${JOBS:-16}
REPS=${REPS:-3}
echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader | tee "$OUT/device.txt"
echo "== build (make CUDA=1 -j$JOBS)"
if ! make CUDA=1 -j"$JOBS" > "$OUT/build.log" 2>&1; then tail -40 "$OUT/build.log"; exit 1; fi
grep -i "warning" "$OUT/build.log" | head -20
echo "== test_cuda"
./build-cuda/tests/test_cuda 2>&1 | tee "$OUT/test_cuda.log"
echo "== copy bandwidth"
nvcc -O2 -arch=sm_90 bench/cuda_membw.cu -o build-cuda/cuda_membw && ./build-cuda/cuda_membw | tee "$OUT/membw.txt"
echo "== synthetic models"
M=/tmp/zeta-cuda-models
mkdir -p $M
for t in q4_0 q8_0; do
    [ -f $M/tinyllama-$t.gguf ] || ./build-cuda/zeta synth --shape tinyllama-1.1b --type $t -o $M/tinyllama-$t.gguf > "$OUT/synth-$t.log" 2>&1 \
        || { cat "$OUT/synth-$t.log"; exit 1; }
done
ls -la $M
echo "== bench (GPU)"
./build-cuda/zeta bench --backend cuda -m models/stories260K.gguf -m $M/tinyllama-q4_0.gguf -m $M/tinyllama-q8_0.gguf \
    -p 512 -n 128 -r "$REPS" -o md 2>&1 | tee "$OUT/bench.md"
echo
echo "== summary"
grep -E '^(ok|FAIL|skip) - |^# ' "$OUT/test_cuda.log"
cat "$OUT/membw.txt"
cat "$OUT/bench.md"
