#!/bin/sh
# session 35 call 1: tile-major GPU layout + merged copies of kept-column runs: test_cuda_sparse, gating A/B (ZETA_CUDA_SMVB=11: a copy a column)
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
cp .devrun/*.sparsity $M/
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
( ./build-cuda/zeta synth --shape llama-2-7b --type q4_0 -o $M/llama-2-7b-q4_0.gguf > $R/synth.log 2>&1; echo ok > $M/.s7 ) &
timeout 60 ./build-cuda/tests/test_cuda_sparse > $R/test_sparse.log 2>&1; echo "test_cuda_sparse rc $? [$(el) s]: $(tail -1 $R/test_sparse.log)"
grep -E "^not ok|check failed" $R/test_sparse.log | head -5
grep -E "sparse q|steps" $R/test_sparse.log | head -30
for t in q8_0 q4_0; do ./build-cuda/zeta synth --shape tinyllama-1.1b --type $t -o $M/tinyllama-1.1b-$t.gguf > $R/synth-$t.log 2>&1; done
while [ ! -f $M/.s7 ]; do sleep 2; done
echo "[$(el) s]"
OUT=$R/g ROUNDS=2 CTX=64 MODES="sparse variational" ENVS="ZETA_CUDA_SMVB=11" SPARSITY_FROM=.devrun SYNTH="q4_0:llama-2-7b q8_0:tinyllama-1.1b q4_0:tinyllama-1.1b" \
  timeout 300 sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
grep -E "^round" $R/gating.txt; tail -12 $R/gating.txt
for f in $R/g/*variational-r*.json; do echo "$(basename $f): $(grep -o '"sparse_ratio": [0-9.]*\|"fallback_rate": [0-9.]*' $f | tr '\n' ' ')"; done
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R/g
