#!/bin/sh
# session 34 call 4: k_smvg (stages shared by groups of warps) exactness and A/B; NM default
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
cp .devrun/*.sparsity $M/
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
( ./build-cuda/zeta synth --shape llama-2-7b --type q4_0 -o $M/llama-2-7b-q4_0.gguf > $R/synth.log 2>&1;
  ./build-cuda/zeta synth --shape tinyllama-1.1b --type q8_0 -o $M/tinyllama-1.1b-q8_0.gguf > $R/synth-q8_0.log 2>&1; echo ok > $M/.s7 ) &
OKV=""
for v in 1 11 12 13 14 15; do
  ZETA_CUDA_SMVB=$v timeout 40 ./build-cuda/tests/test_cuda_sparse > $R/test_sparse_$v.log 2>&1; rc=$?; echo "test_cuda_sparse SMVB=$v rc $rc [$(el) s]: $(tail -1 $R/test_sparse_$v.log)"
  [ $rc = 0 ] && [ $v != 1 ] && OKV="$OKV ZETA_CUDA_SMVB=$v"
  grep -E "^not ok|FAIL" $R/test_sparse_$v.log | head -3
done
while [ ! -f $M/.s7 ]; do sleep 2; done
echo "[$(el) s]"
OUT=$R/g ROUNDS=2 CTX=64 MODES="sparse" ENVS="$OKV" SPARSITY_FROM=.devrun SYNTH="q4_0:llama-2-7b q8_0:tinyllama-1.1b" \
  timeout 280 sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
grep -E "^round" $R/gating.txt; tail -14 $R/gating.txt
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R/g
