#!/bin/sh
# v17 call 5: the final code (k_smv removed; k_smvb's shape by format and K; the faster host entropy):
# tests, then sparse and variational against standard (2 rounds), then thin lanes forced on the 1.1B Q4_0.
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
cp .devrun/*.sparsity $M/
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
( ./build-cuda/zeta synth --shape llama-2-7b --type q4_0 -o $M/llama-2-7b-q4_0.gguf > $R/synth.log 2>&1; echo ok > $M/.s7 ) &
timeout 60 ./build-cuda/tests/test_cuda_sparse > $R/test_sparse.log 2>&1; echo "test_cuda_sparse rc $? [$(el) s]"; tail -1 $R/test_sparse.log
timeout 100 ./build-cuda/tests/test_cuda > $R/test_cuda.log 2>&1; echo "test_cuda rc $? [$(el) s]"; tail -1 $R/test_cuda.log
while [ ! -f $M/.s7 ]; do sleep 2; done
OUT=$R/g ROUNDS=2 CTX=64 MODES="sparse variational" SYNTH="q4_0:llama-2-7b q8_0:tinyllama-1.1b q4_0:tinyllama-1.1b" \
  timeout 200 sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
grep -E "^round" $R/gating.txt; tail -12 $R/gating.txt
for f in $R/g/*variational-r*.json; do echo "$(basename $f): $(grep -o '"sparse_ratio": [0-9.]*\|"fallback_rate": [0-9.]*' $f | tr '\n' ' ')"; done
OUT=$R/g5 ROUNDS=2 CTX=64 ENVS="ZETA_CUDA_SMVB=5 ZETA_CUDA_SMVB=2" SYNTH="q4_0:tinyllama-1.1b" timeout 60 sh bench/cuda_gating.sh > $R/gating5.txt 2>&1
echo "gating5 rc $? [$(el) s]"; tail -5 $R/gating5.txt
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R/g $R/g5
