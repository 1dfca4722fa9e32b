#!/bin/sh
# session 35 call 3: a split over two clusters of 16 (the 7B's Wo / Wdown: 256 blocks instead of 128): test_cuda_sparse, gating A/B (ZETA_CUDA_SMV_SPLIT=16: one cluster)
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
grep -E "sparse q|steps" $R/test_sparse.log | head -14
ZETA_CUDA_SMV_SPLIT=16 timeout 60 ./build-cuda/tests/test_cuda_sparse > $R/test_sparse16.log 2>&1; echo "test_cuda_sparse SPLIT=16 rc $?: $(tail -1 $R/test_sparse16.log)"
timeout 200 ./build-cuda/tests/test_cuda > $R/test_cuda.log 2>&1; echo "test_cuda rc $? [$(el) s]: $(tail -1 $R/test_cuda.log)"
while [ ! -f $M/.s7 ]; do sleep 2; done
echo "[$(el) s]"
OUT=$R/g ROUNDS=3 CTX=64 MODES="sparse variational" ENVS="ZETA_CUDA_SMV_SPLIT=16" SPARSITY_FROM=.devrun SYNTH="q4_0:llama-2-7b" \
  timeout 200 sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
grep -E "^round" $R/gating.txt; tail -5 $R/gating.txt
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R/g
