#!/bin/sh
# session 34 call 3: cheaper Q4_0 arithmetic (SMVB=8, exactness + speed), copy-engine diagnostics (6 copies alone, 10 merged copies alone, 7 / 9 arithmetic alone)
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
cp .devrun/*.sparsity $M/
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
( ./build-cuda/zeta synth --shape llama-2-7b --type q4_0 -o $M/llama-2-7b-q4_0.gguf > $R/synth.log 2>&1;
  ./build-cuda/zeta synth --shape tinyllama-1.1b --type q4_0 -o $M/tinyllama-1.1b-q4_0.gguf > $R/synth-q4_0.log 2>&1; echo ok > $M/.s7 ) &
for v in 8 11; do
  ZETA_CUDA_SMVB=$v timeout 60 ./build-cuda/tests/test_cuda_sparse > $R/test_sparse_$v.log 2>&1; echo "test_cuda_sparse SMVB=$v rc $? [$(el) s]: $(tail -1 $R/test_sparse_$v.log)"
  grep -E "^not ok|max error" $R/test_sparse_$v.log | head -3
done
while [ ! -f $M/.s7 ]; do sleep 2; done
echo "[$(el) s]"
OUT=$R/g ROUNDS=2 CTX=64 MODES="sparse" ENVS="ZETA_CUDA_SMVB=8 ZETA_CUDA_SMVB=6 ZETA_CUDA_SMVB=10 ZETA_CUDA_SMVB=7 ZETA_CUDA_SMVB=9" SPARSITY_FROM=.devrun SYNTH="q4_0:llama-2-7b q4_0:tinyllama-1.1b" \
  timeout 300 sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
grep -E "^round" $R/gating.txt; tail -9 $R/gating.txt
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R/g
