#!/bin/sh
# session 33 call 1: tests on the untested commits + greedy fast path; gating; k_smvb timing diagnostics (6: no arithmetic, 7: no column copies)
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
( ./build-cuda/zeta synth --shape llama-2-7b --type q4_0 -o $M/llama-2-7b-q4_0.gguf > $R/synth.log 2>&1; echo ok > $M/.s7 ) &
timeout 60 ./build-cuda/tests/test_cuda_sparse > $R/test_sparse.log 2>&1; echo "test_cuda_sparse rc $? [$(el) s]"; tail -1 $R/test_sparse.log
timeout 100 ./build-cuda/tests/test_cuda > $R/test_cuda.log 2>&1; echo "test_cuda rc $? [$(el) s]"; tail -1 $R/test_cuda.log
grep -E "^not ok" $R/test_sparse.log $R/test_cuda.log | head
while [ ! -f $M/.s7 ]; do sleep 2; done
OUT=$R/g ROUNDS=2 CTX=64 MODES="sparse variational" SPARSITY_FROM=.devrun SYNTH="q4_0:llama-2-7b q8_0:tinyllama-1.1b q4_0:tinyllama-1.1b" \
  timeout 220 sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
tail -8 $R/gating.txt
for f in $R/g/*variational-r*.json; do echo "$(basename $f): $(grep -o '"sparse_ratio": [0-9.]*\|"fallback_rate": [0-9.]*' $f | tr '\n' ' ')"; done
OUT=$R/g6 ROUNDS=2 CTX=64 ENVS="ZETA_CUDA_SMVB=6 ZETA_CUDA_SMVB=7 ZETA_CUDA_SMV_SPLIT=16" SPARSITY_FROM=.devrun SYNTH="q4_0:llama-2-7b" timeout 120 sh bench/cuda_gating.sh > $R/gating6.txt 2>&1
echo "gating6 rc $? [$(el) s]"; tail -6 $R/gating6.txt
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R/g $R/g6
