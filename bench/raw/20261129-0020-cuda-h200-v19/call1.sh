#!/bin/sh
# session 34 call 1: the pending GPU tests (test_cuda split), k_smvr (register loads, many warps) exactness and A/B
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
cp .devrun/*.sparsity $M/
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
( ./build-cuda/zeta synth --shape llama-2-7b --type q4_0 -o $M/llama-2-7b-q4_0.gguf > $R/synth.log 2>&1;
  for t in q8_0 q4_0; do ./build-cuda/zeta synth --shape tinyllama-1.1b --type $t -o $M/tinyllama-1.1b-$t.gguf > $R/synth-$t.log 2>&1; done; echo ok > $M/.s7 ) &
for t in test_cuda_sparse test_cuda test_cuda_model test_cuda_kv; do
  timeout 120 ./build-cuda/tests/$t > $R/$t.log 2>&1; echo "$t rc $? [$(el) s]: $(tail -1 $R/$t.log)"
  grep -E "^not ok" $R/$t.log | head -5
done
for v in 12 13 14 15 16; do
  ZETA_CUDA_SMVB=$v timeout 60 ./build-cuda/tests/test_cuda_sparse > $R/test_sparse_$v.log 2>&1; echo "test_cuda_sparse SMVB=$v rc $? [$(el) s]: $(tail -1 $R/test_sparse_$v.log)"
  grep -E "^not ok" $R/test_sparse_$v.log | head -5
done
while [ ! -f $M/.s7 ]; do sleep 2; done
echo "[$(el) s]"
OUT=$R/g ROUNDS=2 CTX=64 MODES="sparse" ENVS="ZETA_CUDA_SMVB=12 ZETA_CUDA_SMVB=13 ZETA_CUDA_SMVB=14 ZETA_CUDA_SMVB=15 ZETA_CUDA_SMVB=16" SPARSITY_FROM=.devrun SYNTH="q4_0:llama-2-7b q8_0:tinyllama-1.1b q4_0:tinyllama-1.1b" \
  timeout 330 sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
grep -E "^round" $R/gating.txt; tail -12 $R/gating.txt
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R/g
