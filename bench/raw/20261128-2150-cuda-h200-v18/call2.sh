#!/bin/sh
# session 33 call 2: where variational mode's time goes (bench/gate_steps.c); k_smvb 2 warps x 6 stages (ZETA_CUDA_SMVB=8)
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
cp .devrun/*.sparsity $M/
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
CH=$(dirname $(dirname $(command -v nvcc)))
BUILD=build-cuda NO_MAKE=1 LIBS="-L$CH/lib64 -Wl,-rpath,$CH/lib64 -lcublas -lcudart -lstdc++" sh bench/build.sh gate_steps > $R/build_gs.log 2>&1; echo "gate_steps build rc $?"
( ./build-cuda/zeta synth --shape llama-2-7b --type q4_0 -o $M/llama-2-7b-q4_0.gguf > $R/synth.log 2>&1; echo ok > $M/.s7 ) &
for t in q8_0 q4_0; do ./build-cuda/zeta synth --shape tinyllama-1.1b --type $t -o $M/tinyllama-1.1b-$t.gguf > $R/synth-$t.log 2>&1; done
for t in q8_0 q4_0; do echo "== tinyllama-1.1b-$t"; timeout 60 ./build-cuda/gate_steps $M/tinyllama-1.1b-$t.gguf $M/tinyllama-1.1b-$t.sparsity cuda 128 0.5 2>&1 | grep -v "^zeta:"; done
while [ ! -f $M/.s7 ]; do sleep 2; done
echo "== llama-2-7b-q4_0 [$(el) s]"; timeout 90 ./build-cuda/gate_steps $M/llama-2-7b-q4_0.gguf $M/llama-2-7b-q4_0.sparsity cuda 128 0.5 2>&1 | grep -v "^zeta:"
echo "[$(el) s]"
OUT=$R/g ROUNDS=2 CTX=64 MODES="sparse" ENVS="ZETA_CUDA_SMVB=8" SPARSITY_FROM=.devrun SYNTH="q4_0:llama-2-7b q8_0:tinyllama-1.1b q4_0:tinyllama-1.1b" \
  timeout 250 sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
grep -E "^round" $R/gating.txt; tail -6 $R/gating.txt
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R/g
