#!/bin/sh
# v17 call 3: k_smvb with 8-row lanes (variants), RoPE folded in sparse steps, counters in 8 copies:
# tests, the sparse pass against standard mode, ncu of the 7B sparse step.
set -u
R=$OUT/r; mkdir -p $R
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
M=/tmp/zeta-cuda-models; mkdir -p $M
cp .devrun/llama-2-7b-q4_0.sparsity $M/
make CUDA=1 -j16 SERVER=0 > $R/build.log 2>&1; echo "build rc $? [$(el) s]"
grep -i -E "warning|error" $R/build.log | head
( ./build-cuda/zeta synth --shape llama-2-7b --type q4_0 -o $M/llama-2-7b-q4_0.gguf > $R/synth.log 2>&1; echo ok > $M/.s7 ) &
for v in 1 2 3 4; do
  ZETA_CUDA_SMVB=$v timeout 100 ./build-cuda/tests/test_cuda_sparse > $R/test_sparse-$v.log 2>&1; echo "test_cuda_sparse SMVB=$v rc $? [$(el) s]"; tail -1 $R/test_sparse-$v.log
  grep -E "FAIL|fail" $R/test_sparse-$v.log | head -5
done
grep -E "rms|graph|argmax|energy" $R/test_sparse-1.log | head -12
timeout 200 ./build-cuda/tests/test_cuda > $R/test_cuda.log 2>&1; echo "test_cuda rc $? [$(el) s]"; tail -1 $R/test_cuda.log
while [ ! -f $M/.s7 ]; do sleep 2; done
OUT=$R/g ROUNDS=2 CTX=64 ENVS="ZETA_CUDA_SMVB=2 ZETA_CUDA_SMVB=3 ZETA_CUDA_SMVB=4" SYNTH="q4_0:llama-2-7b q8_0:tinyllama-1.1b q4_0:tinyllama-1.1b" \
  timeout 330 sh bench/cuda_gating.sh > $R/gating.txt 2>&1
echo "gating rc $? [$(el) s]"
tail -16 $R/gating.txt
OUT=$R/ps SHAPES=llama-2-7b COUNT=400 SPARSE=1 timeout 100 sh bench/cuda_prof.sh > $R/prof-sparse.txt 2>&1; echo "sparse prof [$(el) s]"; cat $R/prof-sparse.txt
cp $M/*.sparsity $R/ 2>/dev/null
tar czf $OUT/r.tgz -C $OUT r && rm -rf $R/g $R/ps
